/*
 * bench.c - `tether bench`: a load generator for an echo server.
 *
 * N connections each keep `depth` messages in flight; every echo is timed
 * against its send time and answered with the next message. The hot path
 * (one echo) allocates nothing: send times live in a per-connection ring
 * of `depth` slots, latencies in a fixed histogram, and every message is
 * sent from one shared buffer (the payload, or the corpus file).
 *
 * Wire bytes (for compression ratios) are read from the kernel's TCP_INFO
 * counters of this process's own sockets, found through /proc/self/fd, at
 * the start and end of the measured time: the API does not expose sockets,
 * and the kernel's count is the truth about what crossed the connection
 * (WebSocket frames, and TLS records on wss://; not TCP/IP headers).
 */
#include <dirent.h>
#include <getopt.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
    "  --corpus FILE        send the lines of FILE (UTF-8, one message per line,\n"
    "                       empty lines skipped) in turn instead of --size bytes;\n"
    "                       each connection starts at a different line\n"
    "\n"
    "  --ca FILE            wss://: trust the CAs in this PEM file (default: the\n"
    "                       system's store)\n"
    "  --insecure           wss://: do not verify the server's certificate\n"
    "  --deflate            offer permessage-deflate (the run fails if it is refused);\n"
    "                       each option below implies it\n"
    "  --deflate-window-bits SERVER[,CLIENT]\n"
    "                       ask for LZ77 windows of 9..15 bits (0: no limit) for the\n"
    "                       server's and our compressor (CLIENT defaults to 0); the\n"
    "                       library's default is 12,12\n"
    "  --deflate-no-context-takeover server|client|both\n"
    "                       ask for the compressor to be reset after every message\n"
    "  --deflate-level N    zlib level 0..9 of our own compressor (default 6)\n"
    "  --deflate-mem-level N  zlib memLevel 1..9 of our own compressor (library's\n"
    "                       default: 5)\n"
    "\n"
    "  --json               print the results as one JSON object on one line\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 if every connection opened and lasted, 1 otherwise.\n";

struct bench_args {
    const char *url, *corpus, *ca;
    uint64_t connections, size, depth;
    double duration, warmup;
    int binary, json, insecure;
    int deflate, nct_server, nct_client;
    int wbits_server, wbits_client; /* 0: no limit; -1: the library's default */
    int deflate_level, mem_level;   /* -1: the library's default */
    int size_set;
};

/* One message to send: a piece of the payload or corpus buffer. */
struct bmsg {
    const uint8_t *data;
    size_t len;
};

enum phase { CONNECTING, WARMUP, MEASURE, CLOSING, DONE };

struct bconn {
    tether_conn *conn; /* NULL after CLOSED */
    uint64_t *ring;    /* send times (ns) of the messages in flight, oldest at head */
    unsigned head, inflight;
    size_t next; /* the message to send next (index into bench.msgs) */
    int open;
};

struct bench {
    const struct bench_args *a;
    tether_ctx *ctx;
    tether_opcode opcode;
    unsigned depth;
    uint8_t *payload; /* the --size payload, or the whole corpus file */
    struct bmsg *msgs;
    size_t nmsgs, max_len;
    struct bconn *conns;
    uint64_t *rings;
    enum phase phase;
    uint64_t deadline; /* ns; end of the current phase */
    /* Connection counts. */
    size_t opened, failed, closed, open_now, closed_early, open_at_start;
    /* Measured while phase == MEASURE. */
    uint64_t messages, bytes, send_errors, bad_echoes;
    uint64_t t0, t1;
    /* TCP bytes received and sent by our sockets at t0 and t1 (see top). */
    uint64_t wire_rx0, wire_tx0, wire_rx1, wire_tx1;
    int wire_ok;
    /* What the first connection negotiated, for the report. */
    char tls_version[32], tls_cipher[64], extensions[160];
    struct rusage ru0, ru1;
    struct cli_hist hist;
    char first_error[200];
};

/* ---- Events (the hot path) --------------------------------------------- */

static void send_one(struct bench *b, struct bconn *bc, uint64_t now) {
    if (b->phase >= CLOSING) return;
    const struct bmsg *m = &b->msgs[bc->next];
    int rc = tether_conn_send(bc->conn, b->opcode, m->data, m->len);
    if (rc < 0) {
        b->send_errors++;
        return;
    }
    bc->next = bc->next + 1 == b->nmsgs ? 0 : bc->next + 1;
    unsigned slot = bc->head + bc->inflight;
    bc->ring[slot >= b->depth ? slot - b->depth : slot] = now;
    bc->inflight++;
}

/* Copies s (or "" for NULL) into dst, truncated to fit. */
static void keep_string(char *dst, size_t cap, const char *s) {
    snprintf(dst, cap, "%s", s ? s : "");
}

static void on_open(struct bench *b, struct bconn *bc) {
    if (b->opened == 0) {
        keep_string(b->tls_version, sizeof b->tls_version, tether_conn_tls_version(bc->conn));
        keep_string(b->tls_cipher, sizeof b->tls_cipher, tether_conn_tls_cipher(bc->conn));
        keep_string(b->extensions, sizeof b->extensions, tether_conn_extensions(bc->conn));
    }
    bc->open = 1;
    b->opened++;
    b->open_now++;
    for (unsigned i = 0; i < b->depth; i++)
        send_one(b, bc, cli_now_ns());
}

/* The length of the oldest message in flight on bc: messages go out in
 * order, so it is `inflight` places before the next one. */
static size_t expected_len(const struct bench *b, const struct bconn *bc) {
    size_t back = bc->inflight % b->nmsgs;
    size_t i = bc->next >= back ? bc->next - back : bc->next + b->nmsgs - back;
    return b->msgs[i].len;
}

static void on_message(struct bench *b, struct bconn *bc, const tether_event *ev) {
    uint64_t now = cli_now_ns();
    size_t len = 0;
    tether_event_data(ev, &len);
    if (bc->inflight == 0 || len != expected_len(b, bc)) {
        b->bad_echoes++; /* not an echo of ours: do not let it skew the timings */
        if (bc->inflight == 0) return;
    }
    uint64_t sent = bc->ring[bc->head];
    bc->head = bc->head + 1 == b->depth ? 0 : bc->head + 1;
    bc->inflight--;
    if (b->phase == MEASURE) {
        cli_hist_record(&b->hist, (now - sent) / 1000u);
        b->messages++;
        b->bytes += len;
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

/* ---- Wire bytes --------------------------------------------------------- */

/* Sums the kernel's byte counters over this process's TCP sockets (every
 * one of them is a connection of ours). Returns 0, or -1 when they cannot
 * be read (no /proc, or a kernel older than 4.19). */
static int wire_bytes(uint64_t *rx, uint64_t *tx) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int ok = 0;
    *rx = *tx = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        int fd = atoi(e->d_name);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d)) continue;
        memset(&ti, 0, sizeof ti);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) continue; /* not TCP */
        if (len < offsetof(struct tcp_info, tcpi_bytes_sent) + sizeof ti.tcpi_bytes_sent) {
            ok = -1;
            break;
        }
        *rx += ti.tcpi_bytes_received;
        *tx += ti.tcpi_bytes_sent;
    }
    closedir(d);
    return ok;
}

/* ---- Phases ------------------------------------------------------------- */

static void start_measure(struct bench *b, uint64_t now) {
    b->phase = MEASURE;
    b->t0 = now;
    b->deadline = now + (uint64_t)(b->a->duration * 1e9);
    b->open_at_start = b->open_now;
    b->wire_ok = wire_bytes(&b->wire_rx0, &b->wire_tx0) == 0;
    getrusage(RUSAGE_SELF, &b->ru0);
}

static void start_closing(struct bench *b, uint64_t now) {
    if (b->phase == MEASURE) {
        b->t1 = now;
        getrusage(RUSAGE_SELF, &b->ru1);
        if (b->wire_ok) b->wire_ok = wire_bytes(&b->wire_rx1, &b->wire_tx1) == 0;
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
    double wire_ratio; /* bytes received / payload bytes echoed; < 0: unknown */
    uint64_t p50, p90, p99, max;
};

static void compute(const struct bench *b, struct results *r) {
    r->secs = (double)(b->t1 - b->t0) / 1e9;
    if (r->secs <= 0) r->secs = 1e-9;
    r->msgs_per_s = (double)b->messages / r->secs;
    r->mb_per_s = (double)b->bytes / r->secs / 1e6;
    r->wire_ratio = -1;
    /* A connection that closed during the measurement took its counts with
     * it: then the totals say nothing. */
    if (b->wire_ok && b->bytes && !b->closed_early && b->wire_rx1 >= b->wire_rx0 &&
        b->wire_tx1 >= b->wire_tx0)
        r->wire_ratio = (double)(b->wire_rx1 - b->wire_rx0) / (double)b->bytes;
    r->cpu_user = tv_seconds(b->ru0.ru_utime, b->ru1.ru_utime);
    r->cpu_sys = tv_seconds(b->ru0.ru_stime, b->ru1.ru_stime);
    r->cpu_pct = (r->cpu_user + r->cpu_sys) / r->secs * 100.0;
    r->mean_us = b->hist.count ? (double)b->hist.sum / (double)b->hist.count : 0.0;
    r->p50 = cli_hist_percentile(&b->hist, 50);
    r->p90 = cli_hist_percentile(&b->hist, 90);
    r->p99 = cli_hist_percentile(&b->hist, 99);
    r->max = b->hist.max;
}

/* The mean message size: --size, or the corpus's. */
static double mean_size(const struct bench *b) {
    if (!b->a->corpus) return (double)b->a->size;
    double total = 0;
    for (size_t i = 0; i < b->nmsgs; i++)
        total += (double)b->msgs[i].len;
    return total / (double)b->nmsgs;
}

static void print_text(const struct bench *b, const struct results *r) {
    const struct bench_args *a = b->a;
    printf("connections  %llu (%zu open when measuring began)\n",
           (unsigned long long)a->connections, b->open_at_start);
    if (a->corpus)
        printf("corpus       %s: %zu messages, %.1f bytes on average, %s\n", a->corpus, b->nmsgs,
               mean_size(b), a->binary ? "binary" : "text");
    else
        printf("size         %llu bytes, %s\n", (unsigned long long)a->size,
               a->binary ? "binary" : "text");
    printf("depth        %llu\n", (unsigned long long)a->depth);
    if (b->tls_version[0]) printf("tls          %s %s\n", b->tls_version, b->tls_cipher);
    if (a->deflate)
        printf("extensions   %s\n", b->extensions[0] ? b->extensions : "(none negotiated)");
    printf("duration     %.2f s (after %.2f s of warm-up)\n", r->secs, a->warmup);
    printf("messages     %llu (%.0f messages/s)\n", (unsigned long long)b->messages, r->msgs_per_s);
    printf("throughput   %.2f MB/s of payload echoed\n", r->mb_per_s);
    if (r->wire_ratio >= 0)
        printf("wire         %llu bytes received, %llu sent (received / payload: %.4f)\n",
               (unsigned long long)(b->wire_rx1 - b->wire_rx0),
               (unsigned long long)(b->wire_tx1 - b->wire_tx0), r->wire_ratio);
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

/* Prints "key":"value", for strings that need no escaping (names from
 * OpenSSL and extension headers; a corpus path is printed as given). */
static void json_string(const char *key, const char *value) {
    printf("\"%s\":\"", key);
    for (const char *p = value; *p; p++)
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            putchar(*p);
    printf("\",");
}

static void print_json(const struct bench *b, const struct results *r) {
    const struct bench_args *a = b->a;
    printf("{\"connections\":%llu,\"open\":%zu,", (unsigned long long)a->connections,
           b->open_at_start);
    if (a->corpus) /* the mean size */
        printf("\"size\":%.1f,", mean_size(b));
    else
        printf("\"size\":%llu,", (unsigned long long)a->size);
    printf("\"depth\":%llu,\"binary\":%s,"
           "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"messages\":%llu,\"messages_per_s\":%.1f,"
           "\"mb_per_s\":%.3f,\"payload_bytes\":%llu,",
           (unsigned long long)a->depth, a->binary ? "true" : "false", r->secs, a->warmup,
           (unsigned long long)b->messages, r->msgs_per_s, r->mb_per_s,
           (unsigned long long)b->bytes);
    if (r->wire_ratio >= 0)
        printf("\"wire_rx_bytes\":%llu,\"wire_tx_bytes\":%llu,\"wire_ratio\":%.5f,",
               (unsigned long long)(b->wire_rx1 - b->wire_rx0),
               (unsigned long long)(b->wire_tx1 - b->wire_tx0), r->wire_ratio);
    if (a->corpus) {
        json_string("corpus", a->corpus);
        printf("\"corpus_messages\":%zu,", b->nmsgs);
    }
    json_string("tls_version", b->tls_version);
    json_string("tls_cipher", b->tls_cipher);
    json_string("extensions", b->extensions);
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
    if (b->a->deflate && !strstr(b->extensions, "permessage-deflate")) {
        fprintf(stderr, "tether bench: the server did not accept permessage-deflate\n");
        return CLI_EXIT_FAIL;
    }
    return b->messages ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ---- Setup -------------------------------------------------------------- */

/* Options so that `depth` of the largest messages always fit, and the TLS
 * and compression settings asked for. NULL: out of memory. */
static tether_opts *make_opts(const struct bench_args *a, size_t max_len) {
    tether_opts *o = tether_opts_new();
    uint64_t queued = a->depth * ((uint64_t)max_len + TETHER_MAX_FRAME_HEADER);
    int rc = 0;
    if (!o) return NULL;
    if (max_len > CLI_DEFAULT_MAX_MESSAGE) {
        tether_opts_set_max_message(o, max_len);
        tether_opts_set_max_frame(o, max_len);
    }
    if (queued > 32u * 1024u * 1024u) tether_opts_set_send_limit(o, (size_t)(queued * 2));
    if (a->ca) rc = tether_opts_set_tls_ca(o, a->ca, NULL);
    if (rc == 0 && a->insecure) rc = tether_opts_set_tls_flags(o, TETHER_TLS_INSECURE);
    if (rc == 0 && a->deflate) rc = tether_opts_set_deflate(o, 1);
    if (rc == 0 && a->wbits_server >= 0)
        rc = tether_opts_set_deflate_window_bits(o, a->wbits_server, a->wbits_client);
    if (rc == 0 && (a->nct_server || a->nct_client))
        rc = tether_opts_set_deflate_no_context_takeover(o, a->nct_server, a->nct_client);
    if (rc == 0 && a->deflate_level >= 0) rc = tether_opts_set_deflate_level(o, a->deflate_level);
    if (rc == 0 && a->mem_level >= 0) rc = tether_opts_set_deflate_mem_level(o, a->mem_level);
    if (rc != 0) {
        tether_opts_free(o);
        return NULL;
    }
    return o;
}

/* Reads the corpus file into b->payload and makes one message of each
 * non-empty line (without its newline). Returns 0, -1 when out of memory,
 * or -2 after explaining what is wrong with the file. */
static int load_corpus(struct bench *b) {
    const char *path = b->a->corpus;
    FILE *f = fopen(path, "rb");
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "tether bench: cannot read %s\n", path);
        if (f) fclose(f);
        return -2;
    }
    b->payload = malloc((size_t)size + 1);
    size_t got = b->payload ? fread(b->payload, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!b->payload) return -1;
    if (got != (size_t)size) {
        fprintf(stderr, "tether bench: cannot read %s\n", path);
        return -2;
    }
    size_t lines = 1;
    for (size_t i = 0; i < got; i++)
        lines += b->payload[i] == '\n';
    if (!(b->msgs = calloc(lines, sizeof *b->msgs))) return -1;
    for (size_t start = 0, i = 0; i <= got; i++) {
        if (i < got && b->payload[i] != '\n') continue;
        size_t len = i - start;
        if (len && b->payload[start + len - 1] == '\r') len--;
        if (len) {
            b->msgs[b->nmsgs].data = b->payload + start;
            b->msgs[b->nmsgs++].len = len;
            if (len > b->max_len) b->max_len = len;
        }
        start = i + 1;
    }
    if (b->nmsgs == 0) {
        fprintf(stderr, "tether bench: %s has no messages (non-empty lines)\n", path);
        return -2;
    }
    if (!b->a->binary && tether_utf8_validate(b->payload, got) != 0) {
        fprintf(stderr, "tether bench: %s is not UTF-8: use --binary\n", path);
        return -2;
    }
    return 0;
}

/* One message of --size bytes. Text must be UTF-8: plain ASCII letters
 * serve both kinds. */
static int make_payload(struct bench *b) {
    b->payload = malloc(b->a->size ? (size_t)b->a->size : 1);
    b->msgs = calloc(1, sizeof *b->msgs);
    if (!b->payload || !b->msgs) return -1;
    for (uint64_t i = 0; i < b->a->size; i++)
        b->payload[i] = (uint8_t)('a' + i % 26);
    b->msgs[0].data = b->payload;
    b->msgs[0].len = b->max_len = (size_t)b->a->size;
    b->nmsgs = 1;
    return 0;
}

/* Returns 0, -1 when out of memory, or -2 after a message. */
static int alloc_bench(struct bench *b) {
    size_t n = (size_t)b->a->connections;
    int rc = b->a->corpus ? load_corpus(b) : make_payload(b);
    if (rc != 0) return rc;
    b->conns = calloc(n, sizeof *b->conns);
    b->rings = calloc(n * b->depth + 1, sizeof *b->rings); /* depth 0: idle */
    if (!b->conns || !b->rings) return -1;
    for (size_t i = 0; i < n; i++) {
        b->conns[i].ring = b->rings + i * b->depth;
        /* Spread over the corpus, so that connections do not all send the
         * same message at the same time. */
        b->conns[i].next = (size_t)((double)i / (double)n * (double)b->nmsgs);
    }
    return 0;
}

static int open_connections(struct bench *b) {
    tether_opts *opts = make_opts(b->a, b->max_len);
    int rc = opts ? 0 : TETHER_E_NOMEM;
    for (uint64_t i = 0; rc == 0 && i < b->a->connections; i++) {
        rc = tether_connect(b->ctx, b->a->url, opts, &b->conns[i].conn);
        if (rc == 0) tether_conn_set_user(b->conns[i].conn, &b->conns[i]);
    }
    tether_opts_free(opts);
    if (rc == TETHER_E_INVAL) return cli_usage_error("bench", "invalid URL '%s'", b->a->url);
    if (rc == TETHER_E_TLS_CONFIG && b->a->ca) {
        fprintf(stderr, "tether bench: cannot load the CA file %s\n", b->a->ca);
        return CLI_EXIT_FAIL;
    }
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
    cli_raise_fd_limit(a->connections + 64);
    int arc = alloc_bench(b);
    if (arc != 0) {
        if (arc == -1) fprintf(stderr, "tether bench: out of memory\n");
    } else if (!(b->ctx = tether_ctx_new()) || tether_ctx_set_callback(b->ctx, on_event, b) != 0) {
        fprintf(stderr, "tether bench: out of memory\n");
    } else if ((rc = open_connections(b)) == 0) {
        rc = run_phases(b) == 0 ? report(b) : CLI_EXIT_FAIL;
    }
    tether_ctx_free(b->ctx);
    free(b->payload);
    free(b->msgs);
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
    {"corpus", required_argument, NULL, 'C'},
    {"ca", required_argument, NULL, 'A'},
    {"insecure", no_argument, NULL, 'k'},
    {"deflate", no_argument, NULL, 'D'},
    {"deflate-window-bits", required_argument, NULL, 'W'},
    {"deflate-no-context-takeover", required_argument, NULL, 'N'},
    {"deflate-level", required_argument, NULL, 'L'},
    {"deflate-mem-level", required_argument, NULL, 'M'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* --deflate-window-bits SERVER[,CLIENT]: each 0 or 9..15. */
static int parse_window_bits(struct bench_args *a, const char *arg) {
    char server[8];
    const char *comma = strchr(arg, ',');
    size_t n = comma ? (size_t)(comma - arg) : strlen(arg);
    uint64_t sv = 0, cv = 0;
    if (n == 0 || n >= sizeof server)
        return cli_parse_uint("--deflate-window-bits", arg, 0, 15, &sv);
    memcpy(server, arg, n);
    server[n] = '\0';
    if (cli_parse_uint("--deflate-window-bits", server, 0, 15, &sv) != 0 ||
        (comma && cli_parse_uint("--deflate-window-bits", comma + 1, 0, 15, &cv) != 0))
        return -1;
    if ((sv && sv < 9) || (cv && cv < 9)) {
        fprintf(stderr, "tether: --deflate-window-bits %s: each must be 0 or 9..15\n", arg);
        return -1;
    }
    a->wbits_server = (int)sv;
    a->wbits_client = (int)cv;
    return 0;
}

/* --deflate-no-context-takeover server|client|both */
static int parse_nct(struct bench_args *a, const char *arg) {
    int both = !strcmp(arg, "both");
    if (!both && strcmp(arg, "server") != 0 && strcmp(arg, "client") != 0) {
        fprintf(stderr,
                "tether: --deflate-no-context-takeover %s: must be server, client or both\n", arg);
        return -1;
    }
    a->nct_server = both || !strcmp(arg, "server");
    a->nct_client = both || !strcmp(arg, "client");
    return 0;
}

/* Handles one option; returns 0, -1 after --help, or an exit code. */
static int take_option(struct bench_args *a, int opt, const char *arg) {
    int bad = 0;
    switch (opt) {
    case 'c':
        bad = cli_parse_uint("--connections", arg, 1, 1000000, &a->connections);
        break;
    case 's':
        bad = cli_parse_bytes("--size", arg, 0, 1024u * 1024u * 1024u, &a->size);
        a->size_set = 1;
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
    case 'C':
        a->corpus = arg;
        break;
    case 'A':
        a->ca = arg;
        break;
    case 'k':
        a->insecure = 1;
        break;
    case 'D':
        a->deflate = 1;
        break;
    case 'W':
        bad = parse_window_bits(a, arg);
        a->deflate = 1;
        break;
    case 'N':
        bad = parse_nct(a, arg);
        a->deflate = 1;
        break;
    case 'L': {
        uint64_t v = 0;
        bad = cli_parse_uint("--deflate-level", arg, 0, 9, &v);
        a->deflate_level = (int)v;
        a->deflate = 1;
        break;
    }
    case 'M': {
        uint64_t v = 0;
        bad = cli_parse_uint("--deflate-mem-level", arg, 1, 9, &v);
        a->mem_level = (int)v;
        a->deflate = 1;
        break;
    }
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
    if (a->corpus && a->size_set)
        return cli_usage_error("bench", "--size and --corpus cannot go together");
    return -1;
}

int cli_bench(int argc, char **argv) {
    struct bench_args a = {.connections = 100,
                           .size = 32,
                           .depth = 1,
                           .duration = 10,
                           .warmup = 1,
                           .wbits_server = -1,
                           .wbits_client = -1,
                           .deflate_level = -1,
                           .mem_level = -1};
    int rc = parse_args(argc, argv, &a);
    return rc < 0 ? run_bench(&a) : rc;
}
