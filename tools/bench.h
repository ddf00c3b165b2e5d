/* `tether bench`'s pieces: bench.c runs the load, bench_report.c says
 * what it measured, bench_cli.c reads the command line (with the options
 * serve and connect share, tools/args.c). */
#ifndef TETHER_TOOLS_BENCH_H
#define TETHER_TOOLS_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "cli.h"

struct bench_args {
    const char *url, *corpus;
    uint64_t connections, size, depth;
    double duration, warmup;
    int binary, json, verbose;
    int size_set;
    struct cli_conn_opts conn; /* TLS, deflate, protocols, log level: as serve and connect */
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

/* Runs the benchmark a describes; returns the exit code. */
int bench_run(const struct bench_args *a);
/* Prints what b measured (text or JSON); returns the exit code. */
int bench_report(const struct bench *b);

#endif
