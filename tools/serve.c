/*
 * serve.c - `tether serve`: an echo server (or, with --broadcast, a relay
 * to every client) in callback mode on tether's own loop.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char usage[] =
    "usage: tether serve [options]\n"
    "\n"
    "An echo server: every message comes back to its sender, text as text and\n"
    "binary as binary. Prints 'listening on HOST:PORT' once it accepts\n"
    "connections; SIGINT or SIGTERM closes every connection (1001) and exits 0.\n"
    "\n"
    "  --host HOST          address to listen on (default 127.0.0.1; '::' for all IPv6)\n"
    "  --port PORT          port (default 0: any free port, see the printed line)\n"
    "  --path /PATH         accept only this request path; others get HTTP 404\n"
    "  --protocol NAME      a supported sub-protocol (repeatable; the first one the\n"
    "                       client offers is chosen)\n"
    "  --broadcast          send every message to every connected client instead\n"
    "  --static DIR         answer plain HTTP requests (GET, HEAD) with the files in DIR\n"
    "                       on the same port: index.html for a directory, types by\n"
    "                       extension, ETag and Last-Modified; nothing outside DIR\n"
    "                       (no '..', no symbolic links); WebSockets on any path as before\n"
    "  --no-http2           HTTP/1.1 only (by default HTTP/2 is served too: h2 by ALPN\n"
    "                       on TLS, h2c by prior knowledge, WebSockets over HTTP/2)\n"
    "  --max-message BYTES  largest message accepted (default 16M; K, M, G suffixes)\n"
    "  --idle-timeout SEC   close (1001) a connection silent this long (default 120; 0: never)\n"
    "  --ping-interval SEC  ping a connection silent this long (default 20; 0: never)\n"
    "  --ping-timeout SEC   drop (1011) one that does not answer in time (default 20)\n"
    "  --message-timeout SEC  fail (1008) a message not received whole in time\n"
    "                       (default 120; 0: no limit)\n"
    "  --send-budget BYTES  what all clients together may have queued (default 1G;\n"
    "                       0: no cap); a client a message cannot be queued for, over\n"
    "                       this or its own 64M limit, is closed (1013)\n"
    "  -v, --verbose        log connections on stderr (with TLS version and extensions)\n"
    "  --log-level LEVEL    library log on stderr: none, error (default), warn (default\n"
    "                       with -v), notice, info, debug\n"
    "  -h, --help           this help\n"
    "\n"
    "TLS (wss://): all files PEM\n"
    "  --cert FILE          certificate chain, leaf first; turns TLS on\n"
    "  --key FILE           its private key (default: in the --cert file)\n"
    "  --sni NAME=CERT[,KEY]  serve CERT to clients asking for NAME by SNI ('*.example.com'\n"
    "                       matches one label; repeatable); others get --cert\n"
    "  --ca FILE            CAs that client certificates must chain to\n"
    "  --verify-client      ask clients for a certificate; verify it if one is sent\n"
    "  --require-client-cert  refuse clients without a valid certificate\n"
    "\n"
    "Compression (permessage-deflate, RFC 7692); each option implies --deflate:\n"
    "  --deflate            accept clients' offers of permessage-deflate\n"
    "  --deflate-no-context-takeover server|client|both\n"
    "                       impose resetting the compressor after every message\n"
    "  --deflate-window-bits SERVER[,CLIENT]\n"
    "                       limit the LZ77 windows to 9..15 bits (0: no limit; CLIENT\n"
    "                       defaults to 0 and is imposed only on clients that offer it)\n"
    "  --deflate-level N    zlib level of our compressor, 0..9 (default 6)\n"
    "  --deflate-mem-level N  zlib memLevel of our compressor, 1..9 (default 8)\n"
    "  --deflate-threshold BYTES  send shorter messages uncompressed (default 64)\n";

struct serve_args {
    const char *host, *path, *static_dir;
    int port, broadcast, verbose, no_http2;
    /* in ms; what a server facing the Internet should have (uWebSockets
     * closes after 120 s idle; websockets pings every 20 s, 20 s to answer) */
    unsigned idle_ms, ping_ms, ping_timeout_ms, message_ms;
    uint64_t send_budget;
    struct cli_conn_opts conn;
};

/* One accepted connection, from its REQUEST to its CLOSED event. */
struct peer {
    tether_conn *conn;
    int open; /* OPEN seen: messages may be sent to it */
    struct peer *prev, *next;
};

struct server {
    tether_ctx *ctx;
    tether_listener *listener;
    const char *path, *static_dir;
    int broadcast, verbose, shutting_down;
    struct peer *peers;    /* every accepted connection not yet CLOSED */
    tether_conn **targets; /* a broadcast's receivers, and their results */
    int *results;
    size_t cap;
};

/* ---- Signals ------------------------------------------------------------
 * The handler only calls tether_ctx_stop(), which is thread- and
 * async-signal-safe (it wakes the loop); the rest happens after
 * tether_ctx_run() returns. */
static tether_ctx *volatile g_ctx;
static volatile sig_atomic_t g_signals;

static void on_signal(int sig) {
    (void)sig;
    g_signals = g_signals + 1;
    if (g_ctx) tether_ctx_stop(g_ctx);
}

static void set_signals(tether_ctx *ctx) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_signal;
    g_ctx = ctx;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* The library sends with MSG_NOSIGNAL; this covers our own stdout. */
    signal(SIGPIPE, SIG_IGN);
}

/* Blocks the signals before the context goes, so that a late one (possibly
 * on another thread) cannot reach a freed context. */
static void block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    g_ctx = NULL;
}

/* ---- Connections ------------------------------------------------------- */

static struct peer *track(struct server *s, tether_conn *c) {
    struct peer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->conn = c;
    p->next = s->peers;
    if (s->peers) s->peers->prev = p;
    s->peers = p;
    tether_conn_set_user(c, p);
    return p;
}

static void untrack(struct server *s, struct peer *p) {
    if (p->prev)
        p->prev->next = p->next;
    else
        s->peers = p->next;
    if (p->next) p->next->prev = p->prev;
    tether_conn_set_user(p->conn, NULL);
    free(p);
}

/* For log lines: the peer's address, never NULL. */
static const char *peer_name(const tether_conn *c) {
    const char *peer = tether_conn_peer(c);
    return peer ? peer : "?";
}

static void on_request(struct server *s, tether_conn *c) {
    const char *path = tether_conn_path(c);
    if (s->path && (!path || strcmp(path, s->path) != 0)) {
        if (s->verbose) fprintf(stderr, "reject %s %s: 404\n", peer_name(c), path ? path : "");
        tether_conn_reject(c, 404, "no WebSocket endpoint at this path\n");
    } else if (s->shutting_down) {
        tether_conn_reject(c, 503, "shutting down\n");
    } else if (!track(s, c)) {
        tether_conn_reject(c, 503, NULL);
    }
    /* Otherwise returning accepts, with the sub-protocol the options pick. */
}

/* How the connection came: "HTTP/1.1", or "HTTP/2 stream N" (many share
 * one TCP connection, and so the peer address). */
static const char *transport(const tether_conn *c, char *buf, size_t cap) {
    int id = tether_conn_http2_stream(c);
    if (id <= 0) return "HTTP/1.1";
    snprintf(buf, cap, "HTTP/2 stream %d", id);
    return buf;
}

/* "open PEER PATH via TRANSPORT [protocol P] [tls VERSION CIPHER]
 * [extensions E]": the extensions go last, as their value has spaces. */
static void log_open(const tether_conn *c) {
    const char *proto = tether_conn_protocol(c), *path = tether_conn_path(c);
    const char *tls = tether_conn_tls_version(c), *cipher = tether_conn_tls_cipher(c);
    const char *ext = tether_conn_extensions(c);
    char via[32];
    fprintf(stderr, "open %s %s via %s", peer_name(c), path ? path : "",
            transport(c, via, sizeof via));
    if (proto) fprintf(stderr, " protocol %s", proto);
    if (tls) fprintf(stderr, " tls %s %s", tls, cipher ? cipher : "?");
    if (ext) fprintf(stderr, " extensions %s", ext);
    fputc('\n', stderr);
}

static void on_open(struct server *s, tether_conn *c) {
    struct peer *p = tether_conn_user(c);
    if (!p && !(p = track(s, c))) {
        tether_conn_close(c, TETHER_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    p->open = 1;
    if (s->verbose) log_open(c);
    /* It finished its handshake after we began to shut down. */
    if (s->shutting_down) tether_conn_close(c, TETHER_CLOSE_GOING_AWAY, "server shutting down");
}

/* Sends, or closes a client the message cannot be queued for (its own
 * queue or the server's budget is full): in callback mode we cannot stop
 * reading its messages, so one that never reads would make us queue
 * without bound. */
static void shed_if_full(tether_conn *c, int rc) {
    if (rc == TETHER_E_BACKPRESSURE) {
        fprintf(stderr, "%s: send queue full, closing\n", peer_name(c));
        tether_conn_close(c, TETHER_CLOSE_TRY_AGAIN_LATER, "send queue full");
    }
    /* TETHER_E_STATE: it is closing; the message has nowhere to go. */
}

/* Every open client gets the message; the library builds its frame once,
 * so stalled clients share one copy of it, and checks its text no more:
 * it did on receipt. */
static void broadcast(struct server *s, const tether_event *ev) {
    size_t n = 0;
    for (struct peer *p = s->peers; p; p = p->next)
        n += p->open;
    if (n > s->cap) {
        tether_conn **t = realloc(s->targets, n * sizeof *t);
        int *r = t ? realloc(s->results, n * sizeof *r) : NULL;
        if (t) s->targets = t;
        if (r) s->results = r;
        if (!t || !r) return; /* out of memory: this message is lost */
        s->cap = n;
    }
    n = 0;
    for (struct peer *p = s->peers; p; p = p->next)
        if (p->open) s->targets[n++] = p->conn;
    tether_broadcast_forward(s->targets, n, ev, s->results);
    for (size_t i = 0; i < n; i++)
        shed_if_full(s->targets[i], s->results[i]);
}

/* Echo or relay the message as it came (tether_conn_forward: its text was
 * checked for UTF-8 on receipt, not again on the way out). */
static void on_message(struct server *s, tether_conn *c, const tether_event *ev) {
    if (s->broadcast)
        broadcast(s, ev);
    else
        shed_if_full(c, tether_conn_forward(c, ev));
}

/* The user pointer of a connection that served plain HTTP (a WebSocket
 * connection's is its struct peer). */
static char http_conn;

/* A plain HTTP request (--static): a file, or the error the library picks. */
static void on_http(struct server *s, tether_conn *c) {
    tether_conn_set_user(c, &http_conn);
    const char *method = tether_conn_method(c), *path = tether_conn_path(c);
    int rc = tether_conn_serve_static(c, s->static_dir, NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot answer %s: %s\n", peer_name(c), path ? path : "",
                tether_strerror(rc));
        tether_conn_close(c, 0, NULL);
    } else if (s->verbose) {
        char via[32];
        fprintf(stderr, "http %s %s %s via %s\n", peer_name(c), method ? method : "?",
                path ? path : "", transport(c, via, sizeof via));
    }
}

static void on_closed(struct server *s, tether_conn *c, const tether_event *ev) {
    struct peer *p = tether_conn_user(c);
    if (p == (void *)&http_conn) {
        /* the client left, or sent no new request in time: normal ends */
        int err = tether_event_error(ev);
        if (s->verbose && err != 0 && err != TETHER_E_CLOSED && err != TETHER_E_TIMEOUT)
            fprintf(stderr, "failed %s: %s\n", peer_name(c), tether_strerror(err));
        return;
    }
    if (!p) {
        /* Rejected during REQUEST, or failed before it (a TLS handshake
         * with a client whose certificate was refused, say). */
        int err = tether_event_error(ev);
        const char *text = tether_conn_error_text(c);
        if (s->verbose && err != 0 && err != TETHER_E_HS_STATUS)
            fprintf(stderr, "failed %s: %s\n", peer_name(c), text ? text : tether_strerror(err));
        return;
    }
    if (s->verbose) {
        size_t rlen = 0;
        const char *reason = tether_event_close_reason(ev, &rlen);
        fprintf(stderr, "closed %s %d %.*s\n", peer_name(c), tether_event_close_code(ev), (int)rlen,
                reason ? reason : "");
    }
    untrack(s, p);
    if (s->shutting_down && !s->peers) tether_ctx_stop(s->ctx);
}

static void on_event(tether_ctx *ctx, tether_event *ev, void *user) {
    struct server *s = user;
    tether_conn *c = tether_event_conn(ev);
    (void)ctx;
    switch (tether_event_type_of(ev)) {
    case TETHER_EV_REQUEST:
        on_request(s, c);
        break;
    case TETHER_EV_OPEN:
        on_open(s, c);
        break;
    case TETHER_EV_MESSAGE:
        on_message(s, c, ev);
        break;
    case TETHER_EV_HTTP:
        on_http(s, c);
        break;
    case TETHER_EV_CLOSED:
        on_closed(s, c, ev);
        break;
    default:
        break; /* pings are answered by the library; no streaming here */
    }
}

/* ---- Running ----------------------------------------------------------- */

/* Stops accepting and starts the closing handshake with every client. */
static void begin_shutdown(struct server *s) {
    s->shutting_down = 1;
    if (s->listener) tether_listener_close(s->listener);
    s->listener = NULL;
    for (struct peer *p = s->peers, *next; p; p = next) {
        next = p->next;
        if (p->open) tether_conn_close(p->conn, TETHER_CLOSE_GOING_AWAY, "server shutting down");
    }
}

/* Runs until a signal, then until the clients have closed (each within the
 * close timeout) or a second signal. */
static int serve_until_signal(struct server *s) {
    int rc = tether_ctx_run(s->ctx);
    if (rc == 0 && g_signals) {
        begin_shutdown(s);
        if (s->peers && g_signals < 2) rc = tether_ctx_run(s->ctx);
    }
    if (rc < 0) {
        fprintf(stderr, "tether serve: %s\n", tether_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static void print_listening(const char *host, int port) {
    /* An IPv6 address goes in brackets, as in a URL. */
    const char *fmt = strchr(host, ':') ? "listening on [%s]:%d\n" : "listening on %s:%d\n";
    printf(fmt, host, port);
    fflush(stdout);
}

/* The time limits of every connection. */
static int set_time_limits(tether_opts *o, const struct serve_args *a) {
    int rc = tether_opts_set_idle_timeout(o, a->idle_ms);
    if (rc == 0) rc = tether_opts_set_ping_interval(o, a->ping_ms);
    if (rc == 0) rc = tether_opts_set_ping_timeout(o, a->ping_timeout_ms);
    if (rc == 0) rc = tether_opts_set_message_timeout(o, a->message_ms);
    return rc;
}

static int start(struct server *s, const struct serve_args *a) {
    tether_opts *opts = cli_make_opts(&a->conn, a->verbose);
    if (!opts) return -1;
    if (set_time_limits(opts, a) != 0 || (a->static_dir && tether_opts_set_http(opts, 1) != 0) ||
        tether_opts_set_http2(opts, !a->no_http2) != 0) {
        tether_opts_free(opts);
        return -1;
    }
    /* Every connection is a descriptor: take all the system allows. */
    cli_raise_fd_limit(UINT64_MAX);
    s->ctx = tether_ctx_new();
    int rc = s->ctx ? tether_ctx_set_callback(s->ctx, on_event, s) : TETHER_E_NOMEM;
    if (rc == 0) rc = tether_ctx_set_send_budget(s->ctx, (size_t)a->send_budget);
    if (rc == 0) rc = tether_listen(s->ctx, a->host, a->port, opts, &s->listener);
    int why = errno; /* the OS's reason when listening failed */
    tether_opts_free(opts);
    if (rc < 0) {
        if (rc == TETHER_E_TLS_CONFIG || rc == TETHER_E_UNSUPPORTED)
            cli_report_start_error("serve", rc);
        else if (rc == TETHER_E_IO && why) /* "address already in use (127.0.0.1:8080)" */
            fprintf(stderr, "tether serve: %c%s (%s:%d)\n", tolower((unsigned char)*strerror(why)),
                    strerror(why) + 1, a->host, a->port);
        else
            fprintf(stderr, "tether serve: cannot listen on %s port %d: %s\n", a->host, a->port,
                    tether_strerror(rc));
        return -1;
    }
    return 0;
}

static int run_server(const struct serve_args *a) {
    struct server s = {.path = a->path,
                       .static_dir = a->static_dir,
                       .broadcast = a->broadcast,
                       .verbose = a->verbose};
    int rc = CLI_EXIT_FAIL;
    if (start(&s, a) == 0) {
        set_signals(s.ctx);
        print_listening(a->host, tether_listener_port(s.listener));
        rc = serve_until_signal(&s);
        block_signals();
    }
    tether_ctx_free(s.ctx); /* drops whatever is left, listener included */
    while (s.peers) {
        struct peer *next = s.peers->next;
        free(s.peers);
        s.peers = next;
    }
    free(s.targets);
    free(s.results);
    return rc;
}

/* ---- Command line ------------------------------------------------------ */

enum {
    OPT_SNI = CLI_OPT_LOCAL,
    OPT_VERIFY_CLIENT,
    OPT_REQUIRE_CLIENT_CERT,
    OPT_IDLE_TIMEOUT,
    OPT_PING_INTERVAL,
    OPT_PING_TIMEOUT,
    OPT_MESSAGE_TIMEOUT,
    OPT_SEND_BUDGET,
    OPT_STATIC,
    OPT_NO_HTTP2
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"path", required_argument, NULL, 'P'},
    {"broadcast", no_argument, NULL, 'b'},
    {"sni", required_argument, NULL, OPT_SNI},
    {"verify-client", no_argument, NULL, OPT_VERIFY_CLIENT},
    {"require-client-cert", no_argument, NULL, OPT_REQUIRE_CLIENT_CERT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
    {"ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT},
    {"message-timeout", required_argument, NULL, OPT_MESSAGE_TIMEOUT},
    {"send-budget", required_argument, NULL, OPT_SEND_BUDGET},
    {"static", required_argument, NULL, OPT_STATIC},
    {"no-http2", no_argument, NULL, OPT_NO_HTTP2},
    CLI_SHARED_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

/* A duration option in seconds into *ms; min_s is the least allowed. */
static int take_seconds(const char *name, const char *arg, double min_s, unsigned *ms) {
    double sec;
    if (cli_parse_seconds(name, arg, min_s, 86400.0 * 7, &sec) != 0) return CLI_EXIT_USAGE;
    *ms = (unsigned)(sec * 1000.0 + 0.5);
    if (min_s > 0 && *ms == 0) *ms = 1;
    return 0;
}

/* --static DIR: a directory we can open now (the library opens it again
 * for each request, so later changes to its files are served). */
static int take_static_dir(struct serve_args *a, const char *arg) {
    struct stat st;
    if (stat(arg, &st) != 0)
        return cli_usage_error("serve", "--static %s: %s", arg, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return cli_usage_error("serve", "--static %s: not a directory", arg);
    a->static_dir = arg;
    return 0;
}

/* Handles one option; returns 0, or an exit code. */
static int take_option(struct serve_args *a, int opt, const char *arg) {
    uint64_t v;
    switch (opt) {
    case OPT_IDLE_TIMEOUT:
        return take_seconds("--idle-timeout", arg, 0, &a->idle_ms);
    case OPT_PING_INTERVAL:
        return take_seconds("--ping-interval", arg, 0, &a->ping_ms);
    case OPT_PING_TIMEOUT:
        return take_seconds("--ping-timeout", arg, 0.001, &a->ping_timeout_ms);
    case OPT_MESSAGE_TIMEOUT:
        return take_seconds("--message-timeout", arg, 0, &a->message_ms);
    case OPT_SEND_BUDGET:
        return cli_parse_bytes("--send-budget", arg, 0, SIZE_MAX, &a->send_budget) == 0
                   ? 0
                   : CLI_EXIT_USAGE;
    case 'H':
        a->host = arg;
        return 0;
    case 'p':
        if (cli_parse_uint("--port", arg, 0, 65535, &v) != 0) return CLI_EXIT_USAGE;
        a->port = (int)v;
        return 0;
    case 'P':
        if (arg[0] != '/') return cli_usage_error("serve", "--path must start with '/'");
        a->path = arg;
        return 0;
    case 'b':
        a->broadcast = 1;
        return 0;
    case OPT_STATIC:
        return take_static_dir(a, arg);
    case OPT_NO_HTTP2:
        a->no_http2 = 1;
        return 0;
    case OPT_SNI:
        return cli_add_sni(&a->conn, arg) == 0 ? 0 : CLI_EXIT_USAGE;
    case OPT_VERIFY_CLIENT:
        if (a->conn.verify_client < 1) a->conn.verify_client = 1;
        return 0;
    case OPT_REQUIRE_CLIENT_CERT:
        a->conn.verify_client = 2;
        return 0;
    default:
        return cli_take_shared_option("serve", usage, &a->conn, &a->verbose, opt, arg);
    }
}

/* Returns -1 to go on, or the exit code (0 after --help). */
static int parse_args(int argc, char **argv, struct serve_args *a) {
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hv", long_opts, NULL)) != -1)
        if ((rc = take_option(a, opt, optarg)) != 0) return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind < argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_check_shared_options("serve", &a->conn)) >= 0) return rc;
    if (!a->conn.cert) {
        if (a->conn.nsni) return cli_usage_error("serve", "--sni needs --cert");
        if (a->conn.verify_client)
            return cli_usage_error("serve",
                                   "--verify-client and --require-client-cert need --cert");
        if (a->conn.ca_file) return cli_usage_error("serve", "--ca needs --cert");
    }
    return -1;
}

int cli_serve(int argc, char **argv) {
    struct serve_args a = {.host = "127.0.0.1",
                           .conn = CLI_CONN_OPTS_INIT,
                           .idle_ms = 120000,
                           .ping_ms = 20000,
                           .ping_timeout_ms = 20000,
                           .message_ms = 120000,
                           .send_budget = TETHER_DEFAULT_SEND_BUDGET};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) rc = run_server(&a);
    cli_conn_opts_free(&a.conn);
    return rc;
}
