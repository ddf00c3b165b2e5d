/*
 * lws_echo - a WebSocket echo server on libwebsockets, written the way the
 * library's documentation asks (whole messages reassembled from fragments,
 * writes with LWS_PRE headroom from the WRITEABLE callback, one message per
 * callback), for benchmarking tether side by side with it.
 *
 *   lws_echo [--port N]     prints "listening on 127.0.0.1:PORT"
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

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
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
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) return 1;
    printf("listening on 127.0.0.1:%d\n", info.port);
    fflush(stdout);
    while (!interrupted && lws_service(ctx, 0) >= 0) {
    }
    lws_context_destroy(ctx);
    return 0;
}
