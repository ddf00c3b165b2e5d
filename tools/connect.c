/*
 * connect.c - `tether connect`: a client that turns stdin lines into
 * messages and prints received messages, or echoes them back (--echo).
 *
 * It drives tether from its own poll(2) loop, the way a program with an
 * existing event loop would: it watches tether_ctx_fd() next to stdin,
 * honours tether_ctx_timeout() and calls tether_ctx_service(ctx, 0). That
 * keeps reading stdin from ever blocking the connection.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: tether connect URL [options]\n"
    "       tether URL [options]      (the same, for a ws:// or wss:// URL)\n"
    "\n"
    "Connects to URL (ws:// or wss://host[:port][/path][?query]). Each line of stdin, without\n"
    "its newline, is sent as one text message; each message received is written to\n"
    "stdout followed by a newline. At the end of stdin the client waits for a reply to\n"
    "each line sent (at most --wait), then closes the connection (1000, or\n"
    "--close-code). 'closed CODE REASON' goes to stderr at the end.\n"
    "Exit status: 0 after a clean close, 1 if the connection or handshake failed\n"
    "or ended uncleanly, 2 for a bad command line, 130 if interrupted twice.\n"
    "\n"
    "  -b, --binary         send lines as binary messages\n"
    "  -e, --echo           ignore stdin; send every message back until the peer closes\n"
    "  --show-binary FORMAT how to print received binary messages: raw (the bytes, then\n"
    "                       a newline; the default), hex or base64 (one line each)\n"
    "  --wait SECONDS       at the end of stdin, wait at most this long for as many\n"
    "                       messages as lines were sent before closing (default 2;\n"
    "                       0: close at once)\n"
    "  --close-code CODE    the close code sent at the end of stdin or on Ctrl-C\n"
    "                       (default 1000; 1000-1003, 1007-1014 or 3000-4999)\n"
    "  --close-reason TEXT  the reason sent with it (UTF-8, at most 123 bytes)\n"
    "  --ping-interval SECONDS  ping the server after this long without hearing from it\n"
    "                       (default 0: never); one that does not answer within 20 s\n"
    "                       is dropped (1011)\n"
    "  --protocol NAME      offer a sub-protocol (repeatable, in order of preference)\n"
    "  -H, --header 'N: V'  add a request header (repeatable)\n"
    "  --origin ORIGIN      send this Origin header\n"
    "  --http2              wss://: prefer HTTP/2 (RFC 8441) when the server offers it,\n"
    "                       else HTTP/1.1\n"
    "  --proxy URL          connect through this proxy: http://[user:pass@]host[:port]\n"
    "                       (HTTP CONNECT), socks5:// or socks5h:// (the proxy resolves\n"
    "                       the name); the port defaults to 1080\n"
    "  --proxy-from-env     take the proxy from https_proxy, http_proxy, all_proxy and\n"
    "                       no_proxy, as curl does\n"
    "  --reconnect          when the connection fails or is lost (not a refusal, not\n"
    "                       a close by us or a 1000 from the server), connect again\n"
    "                       after 1 s, doubling up to 30 s, +20% jitter\n"
    "  --reconnect-delay FIRST[,MAX]  seconds for the first delay and the cap\n"
    "  --reconnect-tries N  give up after N attempts in a row (default 0: never)\n"
    "  --stats              print the connection's figures at the end: time to resolve,\n"
    "                       connect, pass the proxy, TLS and the handshake; ping round\n"
    "                       trips; messages and bytes each way, on the wire too\n"
    "  --max-message BYTES  largest message received, and longest stdin line\n"
    "                       (default 16M; K, M, G suffixes)\n"
    "  -v, --verbose        report the connection, its sub-protocol, TLS version and\n"
    "                       extensions, and each ping and pong received, on stderr\n"
    "  --log-level LEVEL    library log on stderr: none, error (default), warn (default\n"
    "                       with -v), notice, info, debug\n"
    "  -h, --help           this help\n"
    "\n";

/* The rest of the help (C11 guarantees string literals of 4095 bytes). */
static const char usage_more[] =
    "TLS (wss://): the server's certificate must chain to a trusted CA (the system's,\n"
    "or --ca/--ca-dir) and name the URL's host (or --server-name); files are PEM.\n"
    "  --ca FILE            trust these CAs instead of the system's\n"
    "  --ca-dir DIR         trust the CAs in this OpenSSL hashed directory\n"
    "  --cert FILE          client certificate, for servers that ask for one\n"
    "  --key FILE           its private key (default: in the --cert file)\n"
    "  --server-name NAME   send NAME as SNI and check the certificate against it\n"
    "  --allow-selfsigned   accept a certificate no trusted CA signed\n"
    "  --skip-hostname-check  accept a certificate for another name\n"
    "  --allow-expired      accept an expired or not yet valid certificate\n"
    "  --insecure           no verification at all (tests only)\n"
    "\n"
    "Compression (permessage-deflate, RFC 7692); each option implies --deflate:\n"
    "  --deflate            offer permessage-deflate\n"
    "  --deflate-no-context-takeover server|client|both\n"
    "                       ask the server to reset its compressor after every message\n"
    "                       (server) and/or announce that we reset ours (client)\n"
    "  --deflate-window-bits SERVER[,CLIENT]\n"
    "                       ask for server_max_window_bits=SERVER and offer\n"
    "                       client_max_window_bits=CLIENT, 9..15 each (0: leave it out)\n"
    "  --deflate-level N    zlib level of our compressor, 0..9 (default 6)\n"
    "  --deflate-mem-level N  zlib memLevel of our compressor, 1..9 (default 8)\n"
    "  --deflate-threshold BYTES  send shorter messages uncompressed (default 64)\n";

/* Bytes read from stdin at a time. */
#define READ_CHUNK 65536u

/* --show-binary: how a received binary message is written to stdout. */
enum show_binary { SHOW_RAW, SHOW_HEX, SHOW_BASE64 };

/* How the session ends: the close frame we send and how long we wait for
 * replies first (--close-code, --close-reason, --wait). */
struct ending {
    int code;           /* validated by tether_close_build() */
    const char *reason; /* never NULL */
    uint64_t wait_ns;   /* at the end of input */
};

/* --reconnect: the library's retry policy (exponential backoff). */
struct retry {
    int on;
    unsigned first_ms, max_ms, tries;
};

struct connect_args {
    const char *url;
    int binary, echo, verbose, http2, proxy_env;
    const char *proxy;
    enum show_binary show_binary;
    unsigned ping_ms; /* keepalive; 0: none */
    struct ending ending;
    struct retry retry;
    int stats;
    struct cli_conn_opts conn;
};

/* stdin bytes not yet sent: [start, len) of data; no '\n' in
 * [start, scanned), so a long line is not searched again on every read. */
struct linebuf {
    char *data;
    size_t len, cap, start, scanned;
};

struct client {
    tether_ctx *ctx;
    tether_conn *conn;    /* NULL once its CLOSED event is done */
    tether_opcode opcode; /* for stdin lines */
    int echo, verbose;
    int opened, closed; /* OPEN seen, CLOSED seen */
    int up;             /* open now (not waiting to reconnect) */
    int stats;          /* --stats */
    int paused;         /* a send met backpressure: wait for DRAIN */
    int drained;        /* DRAIN came during this service call */
    int input_done;     /* no more stdin: close when the buffer is sent */
    int close_sent;     /* tether_conn_close() called */
    int output_failed;  /* stdout is gone */
    int failed;         /* exit 1 whatever the close says */
    int exit_code;
    uint64_t max_line;
    struct linebuf in;
    enum show_binary show_binary;
    struct ending ending;
    int waiting;         /* input is over; waiting for replies */
    uint64_t wait_until; /* cli_now_ns() at which we close anyway */
    uint64_t lines_sent; /* messages sent from stdin */
    uint64_t replies;    /* messages received since the first of them */
};

/* ---- Signals ------------------------------------------------------------
 * The first SIGINT/SIGTERM closes the connection properly; a second one
 * quits at once. The handler only counts and wakes the loop: poll() then
 * returns (EINTR, or the context's fd turns readable). */
static tether_ctx *volatile g_ctx;
static volatile sig_atomic_t g_interrupts;

static void on_signal(int sig) {
    (void)sig;
    g_interrupts = g_interrupts + 1;
    if (g_ctx) tether_ctx_wake(g_ctx);
}

static void set_signals(tether_ctx *ctx, int on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on ? on_signal : SIG_DFL;
    if (on) g_ctx = ctx;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!on) g_ctx = NULL;
    /* A closed stdout must give EPIPE, not kill us before the close. */
    signal(SIGPIPE, SIG_IGN);
}

/* ---- Closing ----------------------------------------------------------- */

static void start_close(struct client *cl, int code, const char *reason) {
    cl->input_done = 1;
    cl->in.start = cl->in.scanned = cl->in.len; /* drop unsent input */
    if (cl->conn && !cl->close_sent) tether_conn_close(cl->conn, code, reason);
    cl->close_sent = 1;
}

static const char *error_text(const tether_conn *c, int err) {
    const char *text = tether_conn_error_text(c);
    return text ? text : tether_strerror(err);
}

static int contains(const char *s, const char *word) {
    size_t n = strlen(word);
    for (; *s; s++)
        if (!strncasecmp(s, word, n)) return 1;
    return 0;
}

/* Which option would accept a certificate refused for this reason. */
static const char *verify_hint(const char *why) {
    if (contains(why, "expired") || contains(why, "not yet valid"))
        return "--allow-expired accepts it";
    if (contains(why, "hostname") || contains(why, "IP address mismatch"))
        return "--server-name NAME checks another name, --skip-hostname-check accepts it";
    if (contains(why, "self-signed") || contains(why, "self signed") || contains(why, "issuer"))
        return "--ca FILE trusts its CA, --allow-selfsigned accepts it";
    return NULL;
}

/* Why a connection failed before it opened. A TLS failure is named as one
 * (the library's text says why: OpenSSL's reason). */
static void report_failure(const tether_conn *c, int err) {
    const char *why = error_text(c, err), *hint;
    int tls = err == TETHER_E_TLS || err == TETHER_E_TLS_VERIFY;
    if (err == TETHER_E_HS_STATUS) {
        fprintf(stderr, "handshake failed: HTTP %d\n", tether_conn_http_status(c));
        return;
    }
    fprintf(stderr, "connection failed: %s%s\n", tls && strncmp(why, "TLS", 3) ? "TLS: " : "", why);
    if (err == TETHER_E_TLS_VERIFY && (hint = verify_hint(why)) != NULL)
        fprintf(stderr, "(%s)\n", hint);
}

/* --reconnect: the connection failed or was lost; the library tries again
 * after the delay, with the same tether_conn. */
static void on_retry(struct client *cl, const tether_conn *c, const tether_event *ev) {
    int err = tether_event_error(ev);
    size_t rlen = 0;
    const char *reason = tether_event_close_reason(ev, &rlen);
    fflush(stdout);
    int was_up = cl->up;
    cl->up = 0;
    cl->paused = 0;
    if (err)
        fprintf(stderr, "%s: %s\n", was_up ? "connection lost" : "connection failed",
                error_text(c, err));
    else
        fprintf(stderr, "closed by the server: %d%s%.*s\n", tether_event_close_code(ev),
                rlen ? " " : "", (int)rlen, reason);
    fprintf(stderr, "reconnecting in %.3g s (attempt %d)\n", tether_event_retry_delay(ev) / 1000.0,
            tether_event_retry_attempt(ev));
}

/* --stats: the connection's figures, in ms, before the closing line. */
static void print_stats(const tether_conn *c) {
    tether_stats s;
    if (tether_conn_stats(c, &s, sizeof s) != 0) return;
    fprintf(stderr,
            "stats: resolve %.3f ms, connect %.3f ms, proxy %.3f ms, tls %.3f ms, "
            "handshake %.3f ms\n",
            s.resolve_us / 1e3, s.connect_us / 1e3, s.proxy_us / 1e3, s.tls_us / 1e3,
            s.handshake_us / 1e3);
    if (s.rtt_samples)
        fprintf(stderr, "stats: rtt %.3f ms (min %.3f, max %.3f, %llu pings)\n", s.rtt_us / 1e3,
                s.rtt_min_us / 1e3, s.rtt_max_us / 1e3, (unsigned long long)s.rtt_samples);
    else
        fputs("stats: rtt - (no ping answered)\n", stderr);
    fprintf(stderr,
            "stats: sent %llu messages, %llu bytes (%llu on the wire); received %llu "
            "messages, %llu bytes (%llu on the wire); reconnects %llu\n",
            (unsigned long long)s.messages_out, (unsigned long long)s.payload_out,
            (unsigned long long)s.wire_out, (unsigned long long)s.messages_in,
            (unsigned long long)s.payload_in, (unsigned long long)s.wire_in,
            (unsigned long long)s.reconnects);
}

static void on_closed(struct client *cl, tether_conn *c, const tether_event *ev) {
    int err = tether_event_error(ev);
    fflush(stdout); /* the messages before the verdict, also when both go to one terminal */
    int was_up = cl->up;
    cl->up = 0;
    if (cl->stats) print_stats(c);
    size_t rlen = 0;
    const char *reason = tether_event_close_reason(ev, &rlen);
    if (!was_up)
        report_failure(c, err);
    else if (err == TETHER_E_TLS)
        fprintf(stderr, "connection error: TLS: %s\n", error_text(c, err));
    else if (err != 0)
        fprintf(stderr, "connection error: %s\n", error_text(c, err));
    fprintf(stderr, "closed %d%s%.*s\n", tether_event_close_code(ev), rlen ? " " : "", (int)rlen,
            reason ? reason : "");
    cl->exit_code =
        cl->opened && tether_event_clean(ev) && !cl->failed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    cl->closed = 1;
    cl->conn = NULL; /* invalid once this callback returns */
}

/* ---- Binary output (--show-binary) --------------------------------------
 * hex and base64 keep one message on one line whatever its bytes, for
 * scripts and terminals. Both encode through a stack buffer so that a
 * large message costs a few fwrite() calls, not one per byte. */

static int write_hex(const uint8_t *data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    char buf[4096];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        buf[n++] = digits[data[i] >> 4];
        buf[n++] = digits[data[i] & 15];
        if (n == sizeof buf || i + 1 == len) {
            if (fwrite(buf, 1, n, stdout) != n) return -1;
            n = 0;
        }
    }
    return 0;
}

/* RFC 4648 base64, padded: 3 bytes become 4 characters. */
static void base64_quad(const uint8_t *p, size_t left, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t v = (uint32_t)p[0] << 16;
    if (left > 1) v |= (uint32_t)p[1] << 8;
    if (left > 2) v |= p[2];
    out[0] = abc[v >> 18 & 63];
    out[1] = abc[v >> 12 & 63];
    out[2] = left > 1 ? abc[v >> 6 & 63] : '=';
    out[3] = left > 2 ? abc[v & 63] : '=';
}

static int write_base64(const uint8_t *data, size_t len) {
    char buf[4096];
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        base64_quad(data + i, len - i, buf + n);
        n += 4;
        if (n == sizeof buf || i + 3 >= len) {
            if (fwrite(buf, 1, n, stdout) != n) return -1;
            n = 0;
        }
    }
    return 0;
}

static int write_bytes(const uint8_t *data, size_t len) {
    return len && fwrite(data, 1, len, stdout) != len ? -1 : 0;
}

/* ---- Received messages ------------------------------------------------- */

static void print_message(struct client *cl, int opcode, const uint8_t *data, size_t len) {
    int rc;
    if (cl->output_failed) return;
    /* stdio batches the writes; the loop flushes after each service call.
     * A slow stdout blocks us, which is the backpressure we want: the
     * socket then fills and the peer slows down. */
    if (opcode != TETHER_OP_BINARY || cl->show_binary == SHOW_RAW)
        rc = write_bytes(data, len);
    else if (cl->show_binary == SHOW_HEX)
        rc = write_hex(data, len);
    else
        rc = write_base64(data, len);
    if (rc != 0 || putchar('\n') == EOF) cl->output_failed = 1;
}

/* Counts what may answer the lines sent (see finish_input()): messages
 * before the first line cannot, a server's greeting for one. */
static void count_reply(struct client *cl) {
    if (cl->lines_sent > 0) cl->replies++;
}

static void echo_message(struct client *cl, tether_conn *c, int opcode, const uint8_t *data,
                         size_t len) {
    int rc = tether_conn_send(c, (tether_opcode)opcode, data, len);
    /* Callback mode cannot stop reading, so a peer that sends faster than
     * it reads would make our queue grow without bound: give up on it. */
    if (rc == TETHER_E_BACKPRESSURE) {
        fprintf(stderr, "tether connect: send queue full\n");
        cl->failed = 1;
        start_close(cl, TETHER_CLOSE_TRY_AGAIN_LATER, "send queue full");
    }
}

/* -v: "connected[, protocol P]", "via HTTP/1.1" or "via HTTP/2 stream N",
 * then "tls VERSION CIPHER" on TLS, then "extensions E" or "extensions
 * none". */
static void log_open(const tether_conn *c) {
    const char *proto = tether_conn_protocol(c), *ext = tether_conn_extensions(c);
    const char *tls = tether_conn_tls_version(c), *cipher = tether_conn_tls_cipher(c);
    int stream = tether_conn_http2_stream(c);
    fprintf(stderr, "connected%s%s\n", proto ? ", protocol " : "", proto ? proto : "");
    if (stream > 0)
        fprintf(stderr, "via HTTP/2 stream %d\n", stream);
    else
        fprintf(stderr, "via HTTP/1.1\n");
    if (tls) fprintf(stderr, "tls %s %s\n", tls, cipher ? cipher : "?");
    fprintf(stderr, "extensions %s\n", ext ? ext : "none");
}

static void on_event(tether_ctx *ctx, tether_event *ev, void *user) {
    struct client *cl = user;
    tether_conn *c = tether_event_conn(ev);
    size_t len = 0;
    const uint8_t *data;
    (void)ctx;
    switch (tether_event_type_of(ev)) {
    case TETHER_EV_OPEN:
        if (cl->opened) fputs("reconnected\n", stderr);
        cl->opened = cl->up = 1;
        cl->conn = c;
        if (cl->verbose) log_open(c);
        break;
    case TETHER_EV_RETRY:
        on_retry(cl, c, ev);
        break;
    case TETHER_EV_MESSAGE:
        data = tether_event_data(ev, &len);
        count_reply(cl);
        if (cl->echo)
            echo_message(cl, c, tether_event_opcode(ev), data, len);
        else
            print_message(cl, tether_event_opcode(ev), data, len);
        break;
    case TETHER_EV_PING:
    case TETHER_EV_PONG:
        /* Shows --ping-interval at work, and a server's keepalive. */
        if (cl->verbose)
            fputs(tether_event_type_of(ev) == TETHER_EV_PING ? "received ping\n"
                                                             : "received pong\n",
                  stderr);
        break;
    case TETHER_EV_DRAIN:
        cl->paused = 0;
        cl->drained = 1;
        break;
    case TETHER_EV_CLOSED:
        on_closed(cl, c, ev);
        break;
    default:
        break; /* WAKE */
    }
}

/* ---- The end of input: waiting for replies (--wait), then closing -------
 * Closing as soon as stdin ends would race the replies: a server that
 * answers after a delay (it queries something, or it is simply on another
 * continent) gets our close first, and the answers are lost. So we wait
 * until as many messages came back as lines went out, which is what an
 * echo or request-response server gives, or until --wait passes. */

static int all_answered(const struct client *cl) {
    return cl->replies >= cl->lines_sent;
}

static void finish_input(struct client *cl) {
    uint64_t now = cli_now_ns();
    if (!cl->waiting) {
        cl->waiting = 1;
        cl->wait_until = now + cl->ending.wait_ns;
    }
    if (!all_answered(cl) && now < cl->wait_until) return; /* wait_ready() wakes us in time */
    if (!all_answered(cl) && cl->verbose && cl->ending.wait_ns > 0)
        fprintf(stderr, "closing: %llu of %llu messages unanswered after %g s\n",
                (unsigned long long)(cl->lines_sent - cl->replies),
                (unsigned long long)cl->lines_sent, (double)cl->ending.wait_ns / 1e9);
    start_close(cl, cl->ending.code, cl->ending.reason);
}

/* The context's own timeout, or sooner when the wait for replies ends:
 * at once if the last reply came during this service call. */
static int poll_timeout(const struct client *cl) {
    int ms = tether_ctx_timeout(cl->ctx);
    if (!cl->waiting || cl->close_sent) return ms;
    if (all_answered(cl)) return 0; /* the next pump_input() closes */
    uint64_t now = cli_now_ns();
    uint64_t left = cl->wait_until > now ? (cl->wait_until - now + 999999u) / 1000000u : 0;
    return ms < 0 || left < (uint64_t)ms ? (int)left : ms;
}

/* ---- stdin ------------------------------------------------------------- */

/* Makes room for READ_CHUNK more bytes, moving pending bytes to the front
 * first so that the buffer only grows for a line that needs it. */
static int reserve(struct linebuf *b) {
    if (b->cap - b->len >= READ_CHUNK) return 0;
    if (b->start > 0) {
        memmove(b->data, b->data + b->start, b->len - b->start);
        b->len -= b->start, b->scanned -= b->start, b->start = 0;
        if (b->cap - b->len >= READ_CHUNK) return 0;
    }
    size_t cap = b->cap ? b->cap * 2 : READ_CHUNK;
    while (cap - b->len < READ_CHUNK)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p, b->cap = cap;
    return 0;
}

static void read_stdin(struct client *cl) {
    struct linebuf *b = &cl->in;
    if (reserve(b) != 0) {
        fprintf(stderr, "tether connect: out of memory\n");
        cl->failed = 1;
        start_close(cl, TETHER_CLOSE_INTERNAL_ERROR, "");
        return;
    }
    ssize_t n = read(STDIN_FILENO, b->data + b->len, b->cap - b->len);
    if (n > 0) {
        b->len += (size_t)n;
    } else if (n == 0) {
        cl->input_done = 1;
    } else if (errno != EINTR && errno != EAGAIN) {
        perror("tether connect: stdin");
        cl->input_done = 1;
    }
}

/* The end (exclusive) of the next line to send, or -1 if none is complete:
 * a line ends at '\n', or at the end of input for a last unterminated one. */
static long next_line_end(struct client *cl) {
    struct linebuf *b = &cl->in;
    const char *nl = NULL;
    if (b->scanned < b->len) nl = memchr(b->data + b->scanned, '\n', b->len - b->scanned);
    if (nl) return (long)(nl - b->data);
    b->scanned = b->len;
    return cl->input_done && b->start < b->len ? (long)b->len : -1;
}

/* Returns 0 to go on with the next line, -1 to stop sending for now. */
static int send_line(struct client *cl, size_t end) {
    struct linebuf *b = &cl->in;
    int rc = tether_conn_send(cl->conn, cl->opcode, b->data + b->start, end - b->start);
    if (rc == TETHER_E_BACKPRESSURE) {
        cl->paused = 1; /* the line stays; DRAIN resumes from it */
        b->scanned = end;
        return -1;
    }
    b->start = b->scanned = end < b->len ? end + 1 : end;
    if (rc == 0) cl->lines_sent++;
    if (rc == TETHER_E_UTF8) {
        fprintf(stderr, "tether connect: skipped a line that is not UTF-8 (see --binary)\n");
    } else if (rc == TETHER_E_STATE) {
        start_close(cl, 0, ""); /* closing already: the rest has nowhere to go */
        return -1;
    } else if (rc < 0) {
        fprintf(stderr, "tether connect: send: %s\n", tether_strerror(rc));
    }
    return 0;
}

/* Sends the complete lines buffered; closes after the last one. */
static void pump_input(struct client *cl) {
    struct linebuf *b = &cl->in;
    long end;
    if (!cl->up || cl->echo || !cl->conn || cl->close_sent) return;
    while (!cl->paused && (end = next_line_end(cl)) >= 0)
        if (send_line(cl, (size_t)end) != 0) break;
    if (cl->close_sent || cl->paused) return;
    if (b->len - b->start > cl->max_line) {
        fprintf(stderr, "tether connect: a line is longer than --max-message (%llu bytes)\n",
                (unsigned long long)cl->max_line);
        cl->failed = 1;
        start_close(cl, TETHER_CLOSE_MESSAGE_TOO_BIG, "line too long");
    } else if (cl->input_done && b->start == b->len) {
        finish_input(cl);
    }
}

/* ---- The loop ---------------------------------------------------------- */

static int want_stdin(const struct client *cl) {
    return cl->up && !cl->echo && !cl->paused && !cl->input_done && !cl->close_sent;
}

/* Waits for the context's fd, stdin (when we want input) or the
 * context's next timer, then reads what stdin has. */
static void wait_ready(struct client *cl) {
    struct pollfd fds[2] = {
        {.fd = tether_ctx_fd(cl->ctx), .events = POLLIN},
        {.fd = STDIN_FILENO, .events = POLLIN},
    };
    nfds_t n = want_stdin(cl) ? 2 : 1;
    if (poll(fds, n, poll_timeout(cl)) <= 0) return; /* timer, or EINTR */
    if (n == 2 && fds[1].revents) read_stdin(cl);    /* POLLHUP too: read sees EOF */
}

static void flush_output(struct client *cl) {
    if (!cl->output_failed && fflush(stdout) != 0) cl->output_failed = 1;
    if (cl->output_failed && !cl->close_sent) {
        perror("tether connect: stdout");
        start_close(cl, TETHER_CLOSE_GOING_AWAY, "");
    }
}

/* Returns -1 to quit at once. */
static int check_interrupts(struct client *cl, sig_atomic_t *seen) {
    if (g_interrupts == *seen) return 0;
    *seen = g_interrupts;
    if (*seen >= 2 || !cl->up) return -1;
    start_close(cl, cl->ending.code, cl->ending.reason);
    return 0;
}

static int run_loop(struct client *cl) {
    sig_atomic_t seen = 0;
    for (;;) {
        pump_input(cl);
        cl->drained = 0;
        int rc = tether_ctx_service(cl->ctx, 0);
        flush_output(cl);
        if (rc < 0) {
            fprintf(stderr, "tether connect: %s\n", tether_strerror(rc));
            return CLI_EXIT_FAIL;
        }
        if (cl->closed) return cl->exit_code;
        if (check_interrupts(cl, &seen) != 0) {
            fprintf(stderr, "interrupted\n");
            return 130;
        }
        if (cl->drained) continue; /* send what waited before sleeping */
        wait_ready(cl);
    }
}

/* The options only connect has, on top of the shared ones. */
static tether_opts *make_opts(const struct connect_args *a) {
    tether_opts *opts = cli_make_opts(&a->conn, a->verbose);
    int rc = opts && a->proxy ? tether_opts_set_proxy(opts, a->proxy) : 0;
    if (opts &&
        (rc || tether_opts_set_prefer_http2(opts, a->http2) != 0 ||
         tether_opts_set_proxy_from_env(opts, a->proxy_env) != 0 ||
         (a->ping_ms && tether_opts_set_ping_interval(opts, a->ping_ms) != 0) ||
         (a->retry.on && tether_opts_set_retry_backoff(opts, a->retry.first_ms, a->retry.max_ms, 20,
                                                       a->retry.tries) != 0))) {
        tether_opts_free(opts);
        opts = NULL;
    }
    return opts;
}

static int run_client(const struct connect_args *a) {
    struct client cl = {.echo = a->echo,
                        .verbose = a->verbose,
                        .show_binary = a->show_binary,
                        .ending = a->ending,
                        .stats = a->stats};
    cl.opcode = a->binary ? TETHER_OP_BINARY : TETHER_OP_TEXT;
    cl.max_line = a->conn.max_message ? a->conn.max_message : CLI_DEFAULT_MAX_MESSAGE;
    tether_opts *opts = make_opts(a);
    if (!opts) return CLI_EXIT_FAIL;
    int rc = TETHER_E_NOMEM;
    if ((cl.ctx = tether_ctx_new()) != NULL) rc = tether_ctx_set_callback(cl.ctx, on_event, &cl);
    if (rc == 0) rc = tether_connect(cl.ctx, a->url, opts, &cl.conn);
    tether_opts_free(opts);
    if (rc == 0) {
        set_signals(cl.ctx, 1);
        rc = run_loop(&cl);
        set_signals(cl.ctx, 0);
    } else if (rc == TETHER_E_INVAL) {
        rc = cli_usage_error("connect", "invalid URL '%s'", a->url);
    } else {
        cli_report_start_error("connect", rc);
        rc = CLI_EXIT_FAIL;
    }
    tether_ctx_free(cl.ctx);
    free(cl.in.data);
    return rc;
}

/* ---- Command line ------------------------------------------------------ */

enum {
    OPT_CA_DIR = CLI_OPT_LOCAL,
    OPT_SERVER_NAME,
    OPT_INSECURE,
    OPT_ALLOW_SELFSIGNED,
    OPT_SKIP_HOSTNAME_CHECK,
    OPT_ALLOW_EXPIRED,
    OPT_HTTP2,
    OPT_SHOW_BINARY,
    OPT_WAIT,
    OPT_CLOSE_CODE,
    OPT_CLOSE_REASON,
    OPT_PING_INTERVAL,
    OPT_PROXY,
    OPT_PROXY_ENV,
    OPT_RECONNECT,
    OPT_RECONNECT_DELAY,
    OPT_RECONNECT_TRIES,
    OPT_STATS
};

static const struct option long_opts[] = {
    {"binary", no_argument, NULL, 'b'},
    {"echo", no_argument, NULL, 'e'},
    {"header", required_argument, NULL, 'H'},
    {"origin", required_argument, NULL, 'o'},
    {"ca-dir", required_argument, NULL, OPT_CA_DIR},
    {"server-name", required_argument, NULL, OPT_SERVER_NAME},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"allow-selfsigned", no_argument, NULL, OPT_ALLOW_SELFSIGNED},
    {"skip-hostname-check", no_argument, NULL, OPT_SKIP_HOSTNAME_CHECK},
    {"allow-expired", no_argument, NULL, OPT_ALLOW_EXPIRED},
    {"http2", no_argument, NULL, OPT_HTTP2},
    {"show-binary", required_argument, NULL, OPT_SHOW_BINARY},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"close-code", required_argument, NULL, OPT_CLOSE_CODE},
    {"close-reason", required_argument, NULL, OPT_CLOSE_REASON},
    {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"proxy-from-env", no_argument, NULL, OPT_PROXY_ENV},
    {"reconnect", no_argument, NULL, OPT_RECONNECT},
    {"reconnect-delay", required_argument, NULL, OPT_RECONNECT_DELAY},
    {"reconnect-tries", required_argument, NULL, OPT_RECONNECT_TRIES},
    {"stats", no_argument, NULL, OPT_STATS},
    CLI_SHARED_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

/* Longest --wait and --ping-interval: a week, as serve's time limits. */
#define MAX_SECONDS (86400.0 * 7)

/* Checked here, so a bad URL is a usage error (2), not a failed connection. */
static int take_proxy(struct connect_args *a, const char *arg) {
    tether_opts *t = tether_opts_new();
    int rc = t ? tether_opts_set_proxy(t, arg) : TETHER_E_NOMEM;
    tether_opts_free(t);
    if (rc == TETHER_E_NOMEM) return CLI_EXIT_FAIL;
    if (rc)
        return cli_usage_error("connect", "--proxy '%s': %s", arg,
                               rc == TETHER_E_UNSUPPORTED
                                   ? "only http://, socks5:// and socks5h:// proxies"
                                   : "not a proxy URL");
    a->proxy = arg;
    return 0;
}

static int take_show_binary(struct connect_args *a, const char *arg) {
    static const char *const names[] = {"raw", "hex", "base64"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(arg, names[i])) {
            a->show_binary = (enum show_binary)i;
            return 0;
        }
    return cli_usage_error("connect", "--show-binary '%s': expected raw, hex or base64", arg);
}

/* Only codes an endpoint may send (RFC 6455 7.4): 1004-1006 and 1015 are
 * reserved or mean "nothing was sent", 1016-2999 are for future use. */
static int take_close_code(struct connect_args *a, const char *arg) {
    uint64_t v;
    if (cli_parse_uint("--close-code", arg, 0, 65535, &v) != 0) return CLI_EXIT_USAGE;
    if (!tether_close_code_valid((int)v))
        return cli_usage_error("connect",
                               "--close-code %s: not a code a client may send (use 1000-1003, "
                               "1007-1014 or 3000-4999)",
                               arg);
    a->ending.code = (int)v;
    return 0;
}

/* Checked once every option is in, with the library's own rules: the
 * reason must fit a close frame and be UTF-8. */
static int check_close_reason(const struct ending *e) {
    uint8_t frame[2 + TETHER_MAX_CLOSE_REASON];
    size_t n, len = strlen(e->reason);
    int rc = tether_close_build(e->code, e->reason, len, frame, sizeof frame, &n);
    if (rc == TETHER_E_UTF8) return cli_usage_error("connect", "--close-reason: not valid UTF-8");
    if (rc < 0)
        return cli_usage_error("connect", "--close-reason: %zu bytes, at most %d fit a close frame",
                               len, TETHER_MAX_CLOSE_REASON);
    return -1;
}

/* The options that say how the session ends and is kept alive. */
static int take_ending_option(struct connect_args *a, int opt, const char *arg) {
    double sec;
    switch (opt) {
    case OPT_WAIT:
        if (cli_parse_seconds("--wait", arg, 0, MAX_SECONDS, &sec) != 0) return CLI_EXIT_USAGE;
        a->ending.wait_ns = (uint64_t)(sec * 1e9);
        return 0;
    case OPT_CLOSE_CODE:
        return take_close_code(a, arg);
    case OPT_CLOSE_REASON:
        a->ending.reason = arg;
        return 0;
    default: /* OPT_PING_INTERVAL */
        return cli_parse_ms("--ping-interval", arg, 0, MAX_SECONDS, &a->ping_ms) == 0
                   ? 0
                   : CLI_EXIT_USAGE;
    }
}

/* --reconnect, --reconnect-delay FIRST[,MAX], --reconnect-tries N. */
static int take_retry_option(struct connect_args *a, int opt, const char *arg) {
    struct retry *r = &a->retry;
    r->on = 1;
    if (opt == OPT_RECONNECT) return 0;
    if (opt == OPT_RECONNECT_TRIES) {
        uint64_t n;
        if (cli_parse_uint("--reconnect-tries", arg, 0, 1000000, &n) != 0) return CLI_EXIT_USAGE;
        r->tries = (unsigned)n;
        return 0;
    }
    char first[64];
    const char *comma = strchr(arg, ',');
    size_t n = comma ? (size_t)(comma - arg) : strlen(arg);
    if (n >= sizeof first) return cli_usage_error("connect", "--reconnect-delay '%s'", arg);
    memcpy(first, arg, n);
    first[n] = 0;
    if (cli_parse_ms("--reconnect-delay", first, 0.001, 3600, &r->first_ms) != 0 ||
        (comma && cli_parse_ms("--reconnect-delay", comma + 1, 0.001, 3600, &r->max_ms) != 0))
        return CLI_EXIT_USAGE;
    if (!comma) r->max_ms = r->first_ms * 30 > 30000 ? r->first_ms * 30 : 30000;
    if (r->max_ms < r->first_ms)
        return cli_usage_error("connect", "--reconnect-delay %s: the cap is below the first delay",
                               arg);
    return 0;
}

/* Handles one option; returns 0, -1 after --help, or an exit code. */
static int take_option(struct connect_args *a, int opt, const char *arg) {
    switch (opt) {
    case OPT_SHOW_BINARY:
        return take_show_binary(a, arg);
    case OPT_RECONNECT:
    case OPT_RECONNECT_DELAY:
    case OPT_RECONNECT_TRIES:
        return take_retry_option(a, opt, arg);
    case OPT_STATS:
        a->stats = 1;
        return 0;
    case OPT_WAIT:
    case OPT_CLOSE_CODE:
    case OPT_CLOSE_REASON:
    case OPT_PING_INTERVAL:
        return take_ending_option(a, opt, arg);
    case 'b':
        a->binary = 1;
        return 0;
    case 'e':
        a->echo = 1;
        return 0;
    case 'H':
        return cli_add_header(&a->conn, arg) == 0 ? 0 : CLI_EXIT_USAGE;
    case 'o':
        a->conn.origin = arg;
        return 0;
    case OPT_CA_DIR:
        a->conn.ca_dir = arg;
        return 0;
    case OPT_SERVER_NAME:
        a->conn.server_name = arg;
        return 0;
    case OPT_INSECURE:
        a->conn.tls_flags |= TETHER_TLS_INSECURE;
        return 0;
    case OPT_ALLOW_SELFSIGNED:
        a->conn.tls_flags |= TETHER_TLS_ALLOW_SELFSIGNED;
        return 0;
    case OPT_SKIP_HOSTNAME_CHECK:
        a->conn.tls_flags |= TETHER_TLS_SKIP_HOSTNAME_CHECK;
        return 0;
    case OPT_ALLOW_EXPIRED:
        a->conn.tls_flags |= TETHER_TLS_ALLOW_EXPIRED;
        return 0;
    case OPT_HTTP2:
        a->http2 = 1;
        return 0;
    case OPT_PROXY:
        return take_proxy(a, arg);
    case OPT_PROXY_ENV:
        a->proxy_env = 1;
        return 0;
    case 'h':
        fputs(usage, stdout);
        fputs(usage_more, stdout);
        return -1;
    default:
        return cli_take_shared_option("connect", usage, &a->conn, &a->verbose, opt, arg);
    }
}

/* Returns -1 to go on, or the exit code (0 after --help). */
static int parse_args(int argc, char **argv, struct connect_args *a) {
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "beH:vh", long_opts, NULL)) != -1)
        if ((rc = take_option(a, opt, optarg)) != 0) return rc < 0 ? CLI_EXIT_OK : rc;
    if (optind >= argc) return cli_usage_error("connect", "missing URL");
    a->url = argv[optind++];
    if (optind < argc) return cli_usage_error("connect", "unexpected argument '%s'", argv[optind]);
    if ((rc = cli_check_shared_options("connect", &a->conn)) >= 0) return rc;
    if ((rc = check_close_reason(&a->ending)) >= 0) return rc;
    if (!strncasecmp(a->url, "ws://", 5) && cli_has_tls_opts(&a->conn))
        fprintf(stderr, "tether connect: warning: TLS options have no effect on a ws:// URL\n");
    return -1;
}

int cli_connect(int argc, char **argv) {
    struct connect_args a = {
        .conn = CLI_CONN_OPTS_INIT,
        /* wscat waits 2 s for the answers to --execute; so do we, but stop
         * as soon as they are in */
        .ending = {.code = TETHER_CLOSE_NORMAL, .reason = "", .wait_ns = 2000000000u},
        .retry = {.first_ms = 1000, .max_ms = 30000},
    };
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) rc = run_client(&a);
    cli_conn_opts_free(&a.conn);
    return rc;
}
