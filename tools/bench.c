/*
 * bench.c - `tether bench`: a load generator for an echo server (the
 * command line is bench_cli.c's, the report bench_report.c's).
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
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "bench.h"

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

/* ---- Setup -------------------------------------------------------------- */

/* The options the command line asked for (as serve and connect build
 * theirs), made big enough that `depth` of the largest messages always
 * fit. NULL: a message was printed. */
static tether_opts *make_opts(const struct bench_args *a, size_t max_len) {
    tether_opts *o = cli_make_opts(&a->conn, a->verbose);
    uint64_t queued = a->depth * ((uint64_t)max_len + TETHER_MAX_FRAME_HEADER);
    if (!o) return NULL;
    if (max_len > CLI_DEFAULT_MAX_MESSAGE && max_len > a->conn.max_message) {
        tether_opts_set_max_message(o, max_len);
        tether_opts_set_max_frame(o, max_len);
    }
    if (queued > 32u * 1024u * 1024u) tether_opts_set_send_limit(o, (size_t)(queued * 2));
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
    if (!opts) return CLI_EXIT_FAIL; /* cli_make_opts said why */
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < b->a->connections; i++) {
        rc = tether_connect(b->ctx, b->a->url, opts, &b->conns[i].conn);
        if (rc == 0) tether_conn_set_user(b->conns[i].conn, &b->conns[i]);
    }
    tether_opts_free(opts);
    if (rc == TETHER_E_INVAL) return cli_usage_error("bench", "invalid URL '%s'", b->a->url);
    if (rc < 0) {
        cli_report_start_error("bench", rc);
        return CLI_EXIT_FAIL;
    }
    return 0;
}

int bench_run(const struct bench_args *a) {
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
        rc = run_phases(b) == 0 ? bench_report(b) : CLI_EXIT_FAIL;
    }
    tether_ctx_free(b->ctx);
    free(b->payload);
    free(b->msgs);
    free(b->conns);
    free(b->rings);
    free(b);
    return rc;
}
