/*
 * bench.c - `tether bench`: a load generator for an echo server.
 *
 * N connections each keep `depth` messages in flight; every echo is timed
 * against its send time and answered with the next message. The hot path
 * (one echo) allocates nothing: send times live in a per-connection ring
 * of `depth` slots, latencies in a fixed histogram, and every message is
 * sent from one shared payload buffer.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "cli.h"

static const char usage[] =
    "usage: tether bench URL [options]\n"
    "\n"
    "Opens connections to an echo server (e.g. 'tether serve'), keeps messages in\n"
    "flight on each, and reports throughput, round-trip latency and this process's\n"
    "own CPU time (to show whether the load generator is the bottleneck).\n"
    "\n"
    "  -c, --connections N  connections (default 100)\n"
    "  -s, --size BYTES     message size (default 32; K, M, G suffixes)\n"
    "  -d, --depth N        messages in flight per connection (default 1; 0 holds\n"
    "                       the connections open and idle, to measure memory)\n"
    "  -t, --duration SECS  measured time (default 10; fractions allowed)\n"
    "  -w, --warmup SECS    load before measuring, not counted (default 1)\n"
    "  -b, --binary         binary messages (default: text)\n"
    "  --json               print the results as one JSON object on one line\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 if every connection opened and lasted, 1 otherwise.\n";

struct bench_args {
    const char *url;
    uint64_t connections, size, depth;
    double duration, warmup;
    int binary, json;
};

enum phase { CONNECTING, WARMUP, MEASURE, CLOSING, DONE };

struct bconn {
    tether_conn *conn; /* NULL after CLOSED */
    uint64_t *ring;    /* send times (ns) of the messages in flight, oldest at head */
    unsigned head, inflight;
    int open;
};

struct bench {
    const struct bench_args *a;
    tether_ctx *ctx;
    tether_opcode opcode;
    unsigned depth;
    uint8_t *payload;
    struct bconn *conns;
    uint64_t *rings;
    enum phase phase;
    uint64_t deadline; /* ns; end of the current phase */
    /* Connection counts. */
    size_t opened, failed, closed, open_now, closed_early, open_at_start;
    /* Measured while phase == MEASURE. */
    uint64_t messages, send_errors, bad_echoes;
    uint64_t t0, t1;
    struct rusage ru0, ru1;
    struct cli_hist hist;
    char first_error[200];
};

/* ---- Events (the hot path) --------------------------------------------- */

static void send_one(struct bench *b, struct bconn *bc, uint64_t now) {
    if (b->phase >= CLOSING) return;
    int rc = tether_conn_send(bc->conn, b->opcode, b->payload, (size_t)b->a->size);
    if (rc < 0) {
        b->send_errors++;
        return;
    }
    unsigned slot = bc->head + bc->inflight;
    bc->ring[slot >= b->depth ? slot - b->depth : slot] = now;
    bc->inflight++;
}

static void on_open(struct bench *b, struct bconn *bc) {
    bc->open = 1;
    b->opened++;
    b->open_now++;
    for (unsigned i = 0; i < b->depth; i++)
        send_one(b, bc, cli_now_ns());
}

static void on_message(struct bench *b, struct bconn *bc, const tether_event *ev) {
    uint64_t now = cli_now_ns();
    size_t len = 0;
    tether_event_data(ev, &len);
    if (bc->inflight == 0 || len != b->a->size) {
        b->bad_echoes++; /* not an echo of ours: do not let it skew the timings */
        if (bc->inflight == 0) return;
    }
    uint64_t sent = bc->ring[bc->head];
    bc->head = bc->head + 1 == b->depth ? 0 : bc->head + 1;
    bc->inflight--;
    if (b->phase == MEASURE) {
        cli_hist_record(&b->hist, (now - sent) / 1000u);
        b->messages++;
    }
    send_one(b, bc, now);
}

/* Keeps the first failure's explanation for the summary. */
static void note_error(struct bench *b, tether_conn *c, const tether_event *ev) {
    int err = tether_event_error(ev);
    const char *text = tether_conn_error_text(c);
    if (b->first_error[0]) return;
    if (err == TETHER_E_HS_STATUS)
        snprintf(b->first_error, sizeof b->first_error, "handshake failed: HTTP %d",
                 tether_conn_http_status(c));
    else if (err != 0)
        snprintf(b->first_error, sizeof b->first_error, "%s", text ? text : tether_strerror(err));
    else
        snprintf(b->first_error, sizeof b->first_error, "closed by the server (%d)",
                 tether_event_close_code(ev));
}

static void on_closed(struct bench *b, struct bconn *bc, const tether_event *ev) {
    if (!bc->open) {
        b->failed++;
        note_error(b, bc->conn, ev);
    } else if (b->phase < CLOSING) {
        b->closed_early++;
        note_error(b, bc->conn, ev);
    }
    if (bc->open) b->open_now--;
    bc->open = 0;
    bc->conn = NULL;
    b->closed++;
}

static void on_event(tether_ctx *ctx, tether_event *ev, void *user) {
    struct bench *b = user;
    tether_conn *c = tether_event_conn(ev);
    struct bconn *bc = c ? tether_conn_user(c) : NULL;
    (void)ctx;
    if (!bc) return;
    switch (tether_event_type_of(ev)) {
    case TETHER_EV_OPEN:
        on_open(b, bc);
        break;
    case TETHER_EV_MESSAGE:
        on_message(b, bc, ev);
        break;
    case TETHER_EV_CLOSED:
        on_closed(b, bc, ev);
        break;
    default:
        break;
    }
}

/* ---- Phases ------------------------------------------------------------- */

static void start_measure(struct bench *b, uint64_t now) {
    b->phase = MEASURE;
    b->t0 = now;
    b->deadline = now + (uint64_t)(b->a->duration * 1e9);
    b->open_at_start = b->open_now;
    getrusage(RUSAGE_SELF, &b->ru0);
}

static void start_closing(struct bench *b, uint64_t now) {
    if (b->phase == MEASURE) {
        b->t1 = now;
        getrusage(RUSAGE_SELF, &b->ru1);
    }
    b->phase = CLOSING;
    /* Past the library's close timeout (5 s), every CLOSED has come. */
    b->deadline = now + 6000000000u;
    for (uint64_t i = 0; i < b->a->connections; i++)
        if (b->conns[i].open) tether_conn_close(b->conns[i].conn, TETHER_CLOSE_NORMAL, "");
}

/* Moves to the next phase when the current one is over. Returns 1 if the
 * phase changed (the next may be over at once, e.g. a warm-up of 0). */
static int advance(struct bench *b, uint64_t now) {
    size_t n = (size_t)b->a->connections;
    switch (b->phase) {
    case CONNECTING:
        if (b->opened + b->failed < n) return 0;
        b->phase = b->opened ? WARMUP : DONE;
        b->deadline = now + (uint64_t)(b->a->warmup * 1e9);
        return 1;
    case WARMUP:
    case MEASURE:
        if (b->open_now > 0 && now < b->deadline) return 0;
        if (b->open_now == 0 || b->phase == MEASURE)
            start_closing(b, now);
        else
            start_measure(b, now);
        return 1;
    case CLOSING:
        if (b->closed < n && now < b->deadline) return 0;
        b->phase = DONE;
        return 1;
    case DONE:
        return 0;
    }
    return 0;
}

/* Milliseconds to wait for events: until the phase's deadline, rounded up
 * so as not to spin, and at most a second. */
static int wait_ms(const struct bench *b, uint64_t now) {
    if (b->phase == CONNECTING) return 1000;
    if (now >= b->deadline) return 0;
    uint64_t ms = (b->deadline - now + 999999u) / 1000000u;
    return ms > 1000 ? 1000 : (int)ms;
}

static int run_phases(struct bench *b) {
    while (b->phase != DONE) {
        int rc = tether_ctx_service(b->ctx, wait_ms(b, cli_now_ns()));
        if (rc < 0) {
            fprintf(stderr, "tether bench: %s\n", tether_strerror(rc));
            return -1;
        }
        while (advance(b, cli_now_ns()))
            ;
    }
    return 0;
}

/* ---- Results ----------------------------------------------------------- */

static double tv_seconds(struct timeval a, struct timeval b) {
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

struct results {
    double secs, msgs_per_s, mb_per_s, cpu_user, cpu_sys, cpu_pct, mean_us;
    uint64_t p50, p90, p99, max;
};

static void compute(const struct bench *b, struct results *r) {
    r->secs = (double)(b->t1 - b->t0) / 1e9;
    if (r->secs <= 0) r->secs = 1e-9;
    r->msgs_per_s = (double)b->messages / r->secs;
    r->mb_per_s = (double)b->messages * (double)b->a->size / r->secs / 1e6;
    r->cpu_user = tv_seconds(b->ru0.ru_utime, b->ru1.ru_utime);
    r->cpu_sys = tv_seconds(b->ru0.ru_stime, b->ru1.ru_stime);
    r->cpu_pct = (r->cpu_user + r->cpu_sys) / r->secs * 100.0;
    r->mean_us = b->hist.count ? (double)b->hist.sum / (double)b->hist.count : 0.0;
    r->p50 = cli_hist_percentile(&b->hist, 50);
    r->p90 = cli_hist_percentile(&b->hist, 90);
    r->p99 = cli_hist_percentile(&b->hist, 99);
    r->max = b->hist.max;
}

static void print_text(const struct bench *b, const struct results *r) {
    const struct bench_args *a = b->a;
    printf("connections  %llu (%zu open when measuring began)\n",
           (unsigned long long)a->connections, b->open_at_start);
    printf("size         %llu bytes, %s\n", (unsigned long long)a->size,
           a->binary ? "binary" : "text");
    printf("depth        %llu\n", (unsigned long long)a->depth);
    printf("duration     %.2f s (after %.2f s of warm-up)\n", r->secs, a->warmup);
    printf("messages     %llu (%.0f messages/s)\n", (unsigned long long)b->messages, r->msgs_per_s);
    printf("throughput   %.2f MB/s of payload echoed\n", r->mb_per_s);
    printf("latency us   p50 %llu  p90 %llu  p99 %llu  max %llu  mean %.1f\n",
           (unsigned long long)r->p50, (unsigned long long)r->p90, (unsigned long long)r->p99,
           (unsigned long long)r->max, r->mean_us);
    printf("bench cpu    user %.2f s  sys %.2f s  (%.0f%% of one core)\n", r->cpu_user, r->cpu_sys,
           r->cpu_pct);
    printf("errors       %zu failed to connect, %zu closed early, %llu send errors, "
           "%llu bad echoes\n",
           b->failed, b->closed_early, (unsigned long long)b->send_errors,
           (unsigned long long)b->bad_echoes);
}

static void print_json(const struct bench *b, const struct results *r) {
    const struct bench_args *a = b->a;
    printf("{\"connections\":%llu,\"open\":%zu,\"size\":%llu,\"depth\":%llu,\"binary\":%s,"
           "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"messages\":%llu,\"messages_per_s\":%.1f,"
           "\"mb_per_s\":%.3f,",
           (unsigned long long)a->connections, b->open_at_start, (unsigned long long)a->size,
           (unsigned long long)a->depth, a->binary ? "true" : "false", r->secs, a->warmup,
           (unsigned long long)b->messages, r->msgs_per_s, r->mb_per_s);
    printf("\"latency_p50_us\":%llu,\"latency_p90_us\":%llu,\"latency_p99_us\":%llu,"
           "\"latency_max_us\":%llu,\"latency_mean_us\":%.1f,",
           (unsigned long long)r->p50, (unsigned long long)r->p90, (unsigned long long)r->p99,
           (unsigned long long)r->max, r->mean_us);
    printf("\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_percent\":%.1f,"
           "\"failed\":%zu,\"closed_early\":%zu,\"send_errors\":%llu,\"bad_echoes\":%llu}\n",
           r->cpu_user, r->cpu_sys, r->cpu_pct, b->failed, b->closed_early,
           (unsigned long long)b->send_errors, (unsigned long long)b->bad_echoes);
}

static int report(const struct bench *b) {
    if (b->opened == 0) {
        fprintf(stderr, "tether bench: no connection opened: %s\n", b->first_error);
        return CLI_EXIT_FAIL;
    }
    if (b->t1 == 0) { /* every connection closed during the warm-up */
        fprintf(stderr, "tether bench: all connections closed before measuring: %s\n",
                b->first_error);
        return CLI_EXIT_FAIL;
    }
    struct results r;
    compute(b, &r);
    if (b->a->json)
        print_json(b, &r);
    else
        print_text(b, &r);
    fflush(stdout);
    if (b->failed || b->closed_early) {
        fprintf(stderr, "tether bench: first error: %s\n", b->first_error);
        return CLI_EXIT_FAIL;
    }
    return b->messages ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ---- Setup -------------------------------------------------------------- */

/* Each connection is a file descriptor: raise the soft limit as far as
 * needed (and allowed) rather than fail at the 1025th connection. */
static void raise_fd_limit(uint64_t connections) {
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Options so that `depth` messages of `size` bytes always fit. */
static tether_opts *make_opts(const struct bench_args *a) {
    tether_opts *o = tether_opts_new();
    uint64_t queued = a->depth * (a->size + TETHER_MAX_FRAME_HEADER);
    if (!o) return NULL;
    if (a->size > CLI_DEFAULT_MAX_MESSAGE) {
        tether_opts_set_max_message(o, a->size);
        tether_opts_set_max_frame(o, a->size);
    }
    if (queued > 32u * 1024u * 1024u) tether_opts_set_send_limit(o, (size_t)(queued * 2));
    return o;
}

static int alloc_bench(struct bench *b) {
    size_t n = (size_t)b->a->connections;
    b->payload = malloc(b->a->size ? (size_t)b->a->size : 1);
    b->conns = calloc(n, sizeof *b->conns);
    b->rings = calloc(n * b->depth + 1, sizeof *b->rings); /* depth 0: idle */
    if (!b->payload || !b->conns || !b->rings) return -1;
    /* Text must be UTF-8: plain ASCII letters serve both kinds. */
    for (uint64_t i = 0; i < b->a->size; i++)
        b->payload[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < n; i++)
        b->conns[i].ring = b->rings + i * b->depth;
    return 0;
}

static int open_connections(struct bench *b) {
    tether_opts *opts = make_opts(b->a);
    int rc = opts ? 0 : TETHER_E_NOMEM;
    for (uint64_t i = 0; rc == 0 && i < b->a->connections; i++) {
        rc = tether_connect(b->ctx, b->a->url, opts, &b->conns[i].conn);
        if (rc == 0) tether_conn_set_user(b->conns[i].conn, &b->conns[i]);
    }
    tether_opts_free(opts);
    if (rc == TETHER_E_INVAL) return cli_usage_error("bench", "invalid URL '%s'", b->a->url);
    if (rc < 0) {
        fprintf(stderr, "tether bench: connect: %s\n", tether_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static int run_bench(const struct bench_args *a) {
    struct bench *b = calloc(1, sizeof *b); /* the histogram is too big for a stack */
    int rc = CLI_EXIT_FAIL;
    if (!b) return rc;
    b->a = a;
    b->depth = (unsigned)a->depth;
    b->opcode = a->binary ? TETHER_OP_BINARY : TETHER_OP_TEXT;
    raise_fd_limit(a->connections);
    if (alloc_bench(b) != 0 || !(b->ctx = tether_ctx_new()) ||
        tether_ctx_set_callback(b->ctx, on_event, b) != 0) {
        fprintf(stderr, "tether bench: out of memory\n");
    } else if ((rc = open_connections(b)) == 0) {
        rc = run_phases(b) == 0 ? report(b) : CLI_EXIT_FAIL;
    }
    tether_ctx_free(b->ctx);
    free(b->payload);
    free(b->conns);
    free(b->rings);
    free(b);
    return rc;
}

/* ---- Command line ------------------------------------------------------ */

static const struct option long_opts[] = {
    {"connections", required_argument, NULL, 'c'},
    {"size", required_argument, NULL, 's'},
    {"depth", required_argument, NULL, 'd'},
    {"duration", required_argument, NULL, 't'},
    {"warmup", required_argument, NULL, 'w'},
    {"binary", no_argument, NULL, 'b'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Handles one option; returns 0, -1 after --help, or an exit code. */
static int take_option(struct bench_args *a, int opt, const char *arg) {
    int bad = 0;
    switch (opt) {
    case 'c':
        bad = cli_parse_uint("--connections", arg, 1, 1000000, &a->connections);
        break;
    case 's':
        bad = cli_parse_bytes("--size", arg, 0, 1024u * 1024u * 1024u, &a->size);
        break;
    case 'd':
        bad = cli_parse_uint("--depth", arg, 0, 4096, &a->depth);
        break;
    case 't':
        bad = cli_parse_seconds("--duration", arg, 0.001, 86400, &a->duration);
        break;
    case 'w':
        bad = cli_parse_seconds("--warmup", arg, 0, 3600, &a->warmup);
        break;
    case 'b':
        a->binary = 1;
        break;
    case 'j':
        a->json = 1;
        break;
    case 'h':
        fputs(usage, stdout);
        return -1;
    default:
        fputs("Try 'tether bench --help'.\n", stderr);
        return CLI_EXIT_USAGE;
    }
    return bad ? CLI_EXIT_USAGE : 0;
}

/* Returns -1 to go on, or the exit code (0 after --help). */
static int parse_args(int argc, char **argv, struct bench_args *a) {
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:s:d:t:w:bh", long_opts, NULL)) != -1)
        if ((rc = take_option(a, opt, optarg)) != 0) return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind >= argc) return cli_usage_error("bench", "missing URL");
    a->url = argv[optind++];
    if (optind < argc) return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
    if ((uint64_t)(a->connections * a->depth) > 16u * 1024u * 1024u)
        return cli_usage_error("bench", "--connections times --depth is over 16M");
    return -1;
}

int cli_bench(int argc, char **argv) {
    struct bench_args a = {.connections = 100, .size = 32, .depth = 1, .duration = 10, .warmup = 1};
    int rc = parse_args(argc, argv, &a);
    return rc < 0 ? run_bench(&a) : rc;
}
