/*
 * lws_echo - a WebSocket echo server on libwebsockets, written the way the
 * library's documentation asks (whole messages reassembled from fragments,
 * writes with LWS_PRE headroom from the WRITEABLE callback, one message per
 * callback), for benchmarking tether side by side with it.
 *
 *   lws_echo [--port N] [--cert FILE --key FILE] [--deflate [--deflate-level N]]
 *
 * prints "listening on 127.0.0.1:PORT". With --cert and --key it speaks only
 * TLS (libwebsockets' OpenSSL backend). With --deflate it accepts
 * permessage-deflate (libwebsockets' own extension, as its documentation
 * shows), compressing at zlib level N (libwebsockets' default is 1).
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct msg {
    struct msg *next;
    size_t len;
    int binary;
    unsigned char buf[]; /* LWS_PRE headroom, then the payload */
};

struct session {
    struct msg *head, *tail; /* messages waiting to be echoed */
    unsigned char *rx;       /* the message being reassembled */
    size_t rx_len, rx_cap;
};

static volatile int interrupted;
static int deflate_on;
static const char *deflate_level; /* NULL: libwebsockets' default */

/* permessage-deflate options for one connection, set when it opens: its
 * (de)compressors start with the first message, so they are in time. They
 * fail harmlessly when the client did not negotiate the extension.
 *
 * The level is the one asked for (libwebsockets' default is 1, zlib's 6).
 * The inflate and deflate buffers go from libwebsockets' default of 1 KiB
 * (2^10) to 64 KiB, the protocol's rx buffer: with 1 KiB, libwebsockets
 * 4.1.6 hands a message that inflates past 1 KiB over in pieces across
 * several turns of its loop, and when other connections read in between,
 * the pieces are corrupted (close 1007, or zlib's "invalid distance too far
 * back"): seen here with two connections and the bench corpus. */
static void set_deflate_options(struct lws *wsi) {
    if (deflate_level)
        lws_set_extension_option(wsi, "permessage-deflate", "compression_level", deflate_level);
    lws_set_extension_option(wsi, "permessage-deflate", "rx_buf_size", "16");
    lws_set_extension_option(wsi, "permessage-deflate", "tx_buf_size", "16");
}

static int rx_append(struct session *s, const void *in, size_t len) {
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 4096;
        while (cap < s->rx_len + len)
            cap *= 2;
        unsigned char *n = realloc(s->rx, cap);
        if (!n) return -1;
        s->rx = n;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    return 0;
}

static int queue_message(struct session *s, int binary) {
    struct msg *m = malloc(sizeof *m + LWS_PRE + s->rx_len);
    if (!m) return -1;
    m->next = NULL;
    m->len = s->rx_len;
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, s->rx, s->rx_len);
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    s->rx_len = 0;
    return 0;
}

static int write_one(struct lws *wsi, struct session *s) {
    struct msg *m = s->head;
    if (!m) return 0;
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (n < (int)m->len) return -1;
    s->head = m->next;
    if (!s->head) s->tail = NULL;
    free(m);
    if (s->head) lws_callback_on_writable(wsi);
    return 0;
}

static void free_session(struct session *s) {
    while (s->head) {
        struct msg *m = s->head;
        s->head = m->next;
        free(m);
    }
    free(s->rx);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof *s);
        if (deflate_on) set_deflate_options(wsi);
        break;
    case LWS_CALLBACK_RECEIVE:
        if (rx_append(s, in, len) != 0) return -1;
        if (lws_is_final_fragment(wsi)) {
            if (queue_message(s, lws_frame_is_binary(wsi)) != 0) return -1;
            lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return write_one(wsi, s);
    case LWS_CALLBACK_CLOSED:
        free_session(s);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"echo", callback, sizeof(struct session), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* permessage-deflate; the third field is what a client would offer, and a
 * server does not use it. */
static const struct lws_extension extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL},
};

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

int main(int argc, char **argv) {
    int port = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--deflate")) {
            deflate_on = 1;
            continue;
        }
        if (!next) {
            fprintf(stderr, "lws_echo: bad arguments\n");
            return 2;
        }
        if (!strcmp(argv[i], "--port"))
            port = atoi(next);
        else if (!strcmp(argv[i], "--cert"))
            cert = next;
        else if (!strcmp(argv[i], "--key"))
            key = next;
        else if (!strcmp(argv[i], "--deflate-level"))
            deflate_level = next;
        else {
            fprintf(stderr, "lws_echo: unknown option %s\n", argv[i]);
            return 2;
        }
        i++;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port ? port : 7681;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.fd_limit_per_thread = 20000;
    if (cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cert;
        info.ssl_private_key_filepath = key;
    }
    if (deflate_on) info.extensions = extensions;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) return 1;
    printf("listening on 127.0.0.1:%d\n", info.port);
    fflush(stdout);
    while (!interrupted && lws_service(ctx, 0) >= 0) {
    }
    lws_context_destroy(ctx);
    return 0;
}
