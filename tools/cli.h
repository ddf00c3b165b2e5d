/*
 * cli.h - shared pieces of the `tether` command-line tool: exit codes, the
 * subcommands, option parsing helpers and a latency histogram.
 *
 * The tool uses only the public API (tether.h), like any user would.
 */
#ifndef TETHER_CLI_H
#define TETHER_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <tether.h>

/* Exit codes shared by all subcommands. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* the connection or the server failed */
#define CLI_EXIT_USAGE 2 /* bad command line */

/* The library's default message limit (tether_opts_set_max_message); the
 * client also uses it to bound one stdin line. */
#define CLI_DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)

/* Subcommands: argv[0] is the subcommand's name; return the exit code. */
int cli_serve(int argc, char **argv);
int cli_connect(int argc, char **argv);
int cli_bench(int argc, char **argv);

/* ---- Options shared by serve and connect ------------------------------ */

struct cli_header {
    char *name, *value;
};

/* serve --sni NAME=CERT[,KEY]: owned copies. */
struct cli_sni {
    char *name, *cert, *key; /* key NULL: the key is in cert */
};

/* Codes of the long options without a short form that serve and connect
 * share (getopt_long values); CLI_SHARED_LONG_OPTS lists them. A command
 * numbers its own long-only options from CLI_OPT_LOCAL. */
enum {
    CLI_OPT_CA = 256,
    CLI_OPT_CERT,
    CLI_OPT_KEY,
    CLI_OPT_DEFLATE,
    CLI_OPT_DEFLATE_NCT,
    CLI_OPT_DEFLATE_WBITS,
    CLI_OPT_DEFLATE_LEVEL,
    CLI_OPT_DEFLATE_MEM,
    CLI_OPT_DEFLATE_THRESHOLD,
    CLI_OPT_LOG_LEVEL,
    CLI_OPT_LOCAL = 512
};

#define CLI_SHARED_LONG_OPTS                                                                       \
    {"protocol", required_argument, NULL, 'r'}, {"max-message", required_argument, NULL, 'm'},     \
        {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},                     \
        {"ca", required_argument, NULL, CLI_OPT_CA},                                               \
        {"cert", required_argument, NULL, CLI_OPT_CERT},                                           \
        {"key", required_argument, NULL, CLI_OPT_KEY},                                             \
        {"deflate", no_argument, NULL, CLI_OPT_DEFLATE},                                           \
        {"deflate-no-context-takeover", required_argument, NULL, CLI_OPT_DEFLATE_NCT},             \
        {"deflate-window-bits", required_argument, NULL, CLI_OPT_DEFLATE_WBITS},                   \
        {"deflate-level", required_argument, NULL, CLI_OPT_DEFLATE_LEVEL},                         \
        {"deflate-mem-level", required_argument, NULL, CLI_OPT_DEFLATE_MEM},                       \
        {"deflate-threshold", required_argument, NULL, CLI_OPT_DEFLATE_THRESHOLD}, {               \
        "log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL                                    \
    }

/* What the connection options on the command line say. Zero-initialise
 * with CLI_CONN_OPTS_INIT; cli_conn_opts_free() releases it. */
struct cli_conn_opts {
    const char **protocols; /* point into argv */
    size_t nprotocols;
    struct cli_header *headers; /* owned copies */
    size_t nheaders;
    const char *origin;
    uint64_t max_message; /* 0: the library's default */

    /* TLS (paths point into argv) */
    const char *ca_file, *ca_dir, *cert, *key, *server_name;
    struct cli_sni *sni;
    size_t nsni;
    int verify_client;  /* serve: 0 no, 1 ask, 2 require */
    unsigned tls_flags; /* connect: TETHER_TLS_* */

    /* permessage-deflate: any --deflate* option turns it on */
    int deflate;
    int nct_server, nct_client;     /* no context takeover */
    int wbits_set;                  /* --deflate-window-bits given */
    int wbits_server, wbits_client; /* 0: no limit */
    int level, mem_level;           /* -1: the library's default */
    int64_t threshold;              /* -1: the library's default */

    int log_level; /* -1: the tool's default (error; warn with -v) */
};

#define CLI_CONN_OPTS_INIT                                                                         \
    { .level = -1, .mem_level = -1, .threshold = -1, .log_level = -1 }

int cli_add_protocol(struct cli_conn_opts *o, const char *name);
/* Parses "Name: value" (spaces around the value are dropped). */
int cli_add_header(struct cli_conn_opts *o, const char *line);
/* Parses NAME=CERT[,KEY] (serve --sni). */
int cli_add_sni(struct cli_conn_opts *o, const char *spec);
void cli_conn_opts_free(struct cli_conn_opts *o);
/* A new tether_opts holding o's settings, or NULL (message printed). Also
 * sets the library's log level (process-wide) and log callback. */
tether_opts *cli_make_opts(const struct cli_conn_opts *o, int verbose);
/* Prints why tether_connect() / tether_listen() refused to start (rc < 0)
 * on stderr, after "tether CMD: ". */
void cli_report_start_error(const char *cmd, int rc);
/* Whether o asks for anything only a TLS connection uses. */
int cli_has_tls_opts(const struct cli_conn_opts *o);

/* ---- Parsing helpers: print "tether: ..." and return -1 on bad input -- */

/* An integer in [min, max]. */
int cli_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A byte count with an optional K, M or G suffix (powers of 1024). */
int cli_parse_bytes(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Seconds, fractions allowed, in [min, max]. */
int cli_parse_seconds(const char *opt, const char *s, double min, double max, double *out);
/* The same, in whole milliseconds (the library's unit); max must fit. */
int cli_parse_ms(const char *opt, const char *s, double min, double max, unsigned *ms);

/* The options serve and connect share: -r/--protocol, -m/--max-message,
 * -v, -h, --ca, --cert, --key, --deflate*, --log-level, and the answer to
 * an unknown option. Each command handles its own options first and passes
 * the rest here. Returns 0 to go on, -1 after --help, or an exit code. */
int cli_take_shared_option(const char *cmd, const char *usage, struct cli_conn_opts *conn,
                           int *verbose, int opt, const char *arg);

/* Checks that go across the shared options (--key needs --cert). Returns
 * -1 when they are fine, else an exit code (message printed). */
int cli_check_shared_options(const char *cmd, const struct cli_conn_opts *o);

/* Each connection is a file descriptor: raises the soft RLIMIT_NOFILE to
 * `want`, or to the hard limit if that is lower, rather than fail at the
 * 1025th connection. Never lowers it. */
void cli_raise_fd_limit(uint64_t want);

/* Prints "tether <cmd>: <message>" and a pointer to --help on stderr;
 * returns CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Monotonic clock in nanoseconds. */
uint64_t cli_now_ns(void);

/* ---- Latency histogram (hist.c) ---------------------------------------
 * Log-linear buckets over microseconds: exact below 64 us, then 32 buckets
 * per power of two (at most ~3% relative error) up to 2^64 us. Fixed size,
 * so recording never allocates. */
#define CLI_HIST_SUB_BITS 5
#define CLI_HIST_EXACT (2u << CLI_HIST_SUB_BITS) /* 64 */
#define CLI_HIST_BUCKETS                                                                           \
    (CLI_HIST_EXACT + (64u - CLI_HIST_SUB_BITS - 1u) * (1u << CLI_HIST_SUB_BITS))

struct cli_hist {
    uint64_t count, sum, max;
    uint64_t buckets[CLI_HIST_BUCKETS];
};

void cli_hist_reset(struct cli_hist *h);
void cli_hist_record(struct cli_hist *h, uint64_t us);
/* The value at percentile p (0 < p <= 100): the top of the bucket holding
 * it, never above the largest value recorded. 0 when empty. */
uint64_t cli_hist_percentile(const struct cli_hist *h, double p);

#endif /* TETHER_CLI_H */
