/* `tether bench`'s command line: its own options, then the ones serve
 * and connect share (--ca, --deflate*, --protocol, --log-level...) through
 * the one parser in tools/args.c, so the three agree on every range. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

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
    "  --protocol NAME      offer a sub-protocol (repeatable)\n"
    "  --max-message BYTES  largest message received (default 16M, or --size)\n"
    "  -v, --verbose        library warnings on stderr\n"
    "  --log-level LEVEL    library log on stderr: none, error (default), warn,\n"
    "                       notice, info, debug\n"
    "\n"
    "TLS (wss://), as tether connect:\n"
    "  --ca FILE            trust the CAs in this PEM file (default: the system's)\n"
    "  --cert FILE, --key FILE  client certificate and its key\n"
    "  --insecure           do not verify the server's certificate\n"
    "\n"
    "Compression (permessage-deflate, RFC 7692), as tether connect; each option\n"
    "implies --deflate, and the run fails if the server refuses it:\n"
    "  --deflate            offer permessage-deflate\n"
    "  --deflate-no-context-takeover server|client|both\n"
    "                       ask for the compressor to be reset after every message\n"
    "  --deflate-window-bits SERVER[,CLIENT]\n"
    "                       ask for server_max_window_bits=SERVER and offer\n"
    "                       client_max_window_bits=CLIENT, 9..15 each (0: leave it out)\n"
    "  --deflate-level N    zlib level of our compressor, 0..9 (default 6)\n"
    "  --deflate-mem-level N  zlib memLevel of our compressor, 1..9 (default 8)\n"
    "  --deflate-threshold BYTES  send shorter messages uncompressed (default 64)\n"
    "\n"
    "  --json               print the results as one JSON object on one line\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 if every connection opened and lasted, 1 otherwise.\n";

enum { OPT_CORPUS = CLI_OPT_LOCAL, OPT_INSECURE, OPT_JSON };

static const struct option long_opts[] = {
    {"connections", required_argument, NULL, 'c'},
    {"size", required_argument, NULL, 's'},
    {"depth", required_argument, NULL, 'd'},
    {"duration", required_argument, NULL, 't'},
    {"warmup", required_argument, NULL, 'w'},
    {"binary", no_argument, NULL, 'b'},
    {"corpus", required_argument, NULL, OPT_CORPUS},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"verbose", no_argument, NULL, 'v'},
    CLI_SHARED_LONG_OPTS,
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
    case OPT_CORPUS:
        a->corpus = arg;
        break;
    case OPT_INSECURE:
        a->conn.tls_flags |= TETHER_TLS_INSECURE;
        break;
    case OPT_JSON:
        a->json = 1;
        break;
    default:
        return cli_take_shared_option("bench", usage, &a->conn, &a->verbose, opt, arg);
    }
    return bad ? CLI_EXIT_USAGE : 0;
}

/* Returns -1 to go on, or the exit code (0 after --help). */
static int parse_args(int argc, char **argv, struct bench_args *a) {
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:s:d:t:w:bhvr:m:", long_opts, NULL)) != -1)
        if ((rc = take_option(a, opt, optarg)) != 0) return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind >= argc) return cli_usage_error("bench", "missing URL");
    a->url = argv[optind++];
    if (optind < argc) return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_check_shared_options("bench", &a->conn)) >= 0) return rc;
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
                           .conn = CLI_CONN_OPTS_INIT};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) rc = bench_run(&a);
    cli_conn_opts_free(&a.conn);
    return rc;
}
