/* A client's WebSocket over HTTP/2 (RFC 8441) as a layer of its stack,
 * above TLS. A client has one stream per connection, so here HTTP/2 is a
 * one-in, one-out layer: the client role above writes its HTTP/1.1 upgrade
 * request and reads an HTTP/1.1 answer, as it always does, and this layer
 * turns the request into an extended CONNECT and the server's 200 into the
 * 101 the role checks (with the Sec-WebSocket-Accept its key asks for:
 * RFC 8441 drops both, the stream itself is the proof). Frames are DATA.
 *
 * Whether HTTP/2 is used at all is TLS's ALPN to say: once TLS is up, a
 * server that did not choose "h2" makes this layer a pass-through, and the
 * connection is HTTP/1.1 as if the layer were not there. A server that
 * chose h2 but does not announce SETTINGS_ENABLE_CONNECT_PROTOCOL cannot
 * carry a WebSocket: the layer fails with tt_h2_client_refused() true, and
 * the role tries again over HTTP/1.1. */
#include "stack/h2_client.h"

#include "stack/tls_layer.h"
#include "tether.h"
#include "ws/outbuf.h"

#include <ctype.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_H2C_BACKLOG (64u * 1024u)
#define TT_H2C_MAX_HEAD (64u * 1024u)

enum { TT_H2C_UNDECIDED, TT_H2C_PLAIN, TT_H2C_H2 };

typedef struct tt_h2c {
    tt_layer base;
    tt_layer *tls; /* the TLS layer below, for its ALPN */
    int mode;
    nghttp2_session *ng;
    int32_t id;     /* the stream, once the request went */
    int settings;   /* the server's SETTINGS came */
    int refused;    /* ... without extended CONNECT */
    int ended;      /* the server's END_STREAM */
    uint32_t reset; /* RST_STREAM's code */
    int deferred;   /* nghttp2 waits for `out` */
    int out_end;    /* our END_STREAM after `out` */
    char accept[TETHER_ACCEPT_LEN + 1];
    tt_outbuf raw;   /* the request's head, until whole */
    tt_outbuf in;    /* bytes for the role: the answer's head, then frames */
    tt_outbuf out;   /* bytes from the role: DATA (or, plain, the wire) */
    tt_outbuf wire;  /* nghttp2's frames not taken yet */
    char head[2048]; /* the answer's fields, as HTTP/1.1 lines */
    size_t head_len;
    char error[128];
} tt_h2c;

static tt_h2c *tt_self(tt_layer *l) {
    return (tt_h2c *)l;
}

static int tt_h2c_fail(tt_h2c *h, const char *why) {
    if (!h->error[0]) snprintf(h->error, sizeof h->error, "%s", why);
    return TETHER_E_HTTP2;
}

/* ---- the answer ------------------------------------------------------------------- */

static int tt_h2c_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                            size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud) {
    (void)ng, (void)f, (void)flags;
    tt_h2c *h = ud;
    int n;
    if (nl == 7 && memcmp(name, ":status", 7) == 0)
        n = snprintf(h->head + h->head_len, sizeof h->head - h->head_len, "@%.*s\r\n", (int)vl,
                     value);
    else
        n = snprintf(h->head + h->head_len, sizeof h->head - h->head_len, "%.*s: %.*s\r\n", (int)nl,
                     name, (int)vl, value);
    if (n < 0 || (size_t)n >= sizeof h->head - h->head_len) return NGHTTP2_ERR_CALLBACK_FAILURE;
    h->head_len += (size_t)n;
    return 0;
}

/* The answer's HEADERS, as the HTTP/1.1 head the client role reads: a 200
 * is the 101 of RFC 6455, with the accept its key expects. */
static int tt_h2c_answer(tt_h2c *h) {
    char status[4] = "";
    if (h->head[0] != '@' || h->head_len < 6) return -1;
    memcpy(status, h->head + 1, 3);
    const char *fields = strstr(h->head, "\r\n") + 2;
    if (status[0] == '1') { /* an interim answer: the final one follows */
        h->head_len = 0;
        h->head[0] = 0;
        return 0;
    }
    char first[256];
    if (strcmp(status, "200") == 0)
        snprintf(first, sizeof first,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                 h->accept);
    else
        snprintf(first, sizeof first, "HTTP/1.1 %s HTTP/2\r\n", status);
    int rc = tt_outbuf_append(&h->in, first, strlen(first));
    if (!rc) rc = tt_outbuf_append(&h->in, fields, strlen(fields));
    if (!rc) rc = tt_outbuf_append(&h->in, "\r\n", 2);
    return rc ? -1 : 0;
}

static int tt_h2c_on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
    tt_h2c *h = ud;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
        h->settings = 1;
        h->refused =
            !nghttp2_session_get_remote_settings(ng, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL);
    }
    if (f->hd.stream_id != h->id || !h->id) return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat != NGHTTP2_HCAT_HEADERS && tt_h2c_answer(h))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        h->ended = 1;
    return 0;
}

static int tt_h2c_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                          size_t len, void *ud) {
    (void)flags;
    tt_h2c *h = ud;
    nghttp2_session_consume(ng, id, len);
    if (id != h->id) return 0;
    return tt_outbuf_append(&h->in, data, len) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int tt_h2c_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
    (void)ng;
    tt_h2c *h = ud;
    if (id != h->id) return 0;
    h->ended = 1;
    h->reset = code;
    if (code)
        snprintf(h->error, sizeof h->error, "HTTP/2 stream reset by the server (%s)",
                 nghttp2_http2_strerror(code));
    return 0;
}

/* ---- the request --------------------------------------------------------------------- */

static ssize_t tt_h2c_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                           uint32_t *flags, nghttp2_data_source *src, void *ud) {
    (void)ng, (void)id, (void)src;
    tt_h2c *h = ud;
    size_t n = tt_outbuf_take(&h->out, buf, len);
    if (!tt_outbuf_len(&h->out) && h->out_end) *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (n || h->out_end) return (ssize_t)n;
    h->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
}

static int tt_h2c_dropped(const char *name) {
    static const char *const drop[] = {
        "host",       "upgrade",           "connection", "sec-websocket-key",
        "keep-alive", "transfer-encoding", NULL};
    for (int i = 0; drop[i]; i++)
        if (strcmp(name, drop[i]) == 0) return 1;
    return 0;
}

/* The role's upgrade request (text, NUL-terminated, changed in place) as
 * an extended CONNECT. */
static int tt_h2c_submit(tt_h2c *h, char *text) {
    nghttp2_nv nv[64];
    size_t n = 0;
    char *eol = strstr(text, "\r\n"), *sp1 = strchr(text, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!eol || !sp2 || sp2 > eol) return tt_h2c_fail(h, "not an upgrade request");
    *sp2 = 0;
    const char *path = sp1 + 1, *authority = NULL;
#define TT_NV(k, v) (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), 0}
    nv[n++] = TT_NV(":method", "CONNECT");
    nv[n++] = TT_NV(":protocol", "websocket");
    nv[n++] = TT_NV(":scheme", "https");
    nv[n++] = TT_NV(":path", path);
    size_t at_authority = n++;
    for (char *line = eol + 2, *next; *line && n < 64; line = next + 2) {
        if (!(next = strstr(line, "\r\n"))) break;
        *next = 0;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        for (char *p = line; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (strcmp(line, "host") == 0) authority = v;
        if (strcmp(line, "sec-websocket-key") == 0 &&
            tether_handshake_accept_key(v, strlen(v), h->accept) != 0)
            return tt_h2c_fail(h, "bad Sec-WebSocket-Key");
        if (!tt_h2c_dropped(line)) nv[n++] = TT_NV(line, v);
    }
    if (!authority) return tt_h2c_fail(h, "no Host in the request");
    nv[at_authority] = TT_NV(":authority", authority);
#undef TT_NV
    nghttp2_data_provider dp = {.read_callback = tt_h2c_body};
    h->id = nghttp2_submit_request(h->ng, NULL, nv, n, &dp, NULL);
    return h->id > 0 ? 0 : TETHER_E_NOMEM;
}

/* Request bytes until the head is whole; 0 or an error. */
static int tt_h2c_take_head(tt_h2c *h, const uint8_t *buf, size_t len) {
    if (tt_outbuf_append(&h->raw, buf, len)) return TETHER_E_NOMEM;
    const uint8_t *p = h->raw.buf + h->raw.head;
    size_t n = tt_outbuf_len(&h->raw);
    const uint8_t *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) return n > TT_H2C_MAX_HEAD ? tt_h2c_fail(h, "request head too long") : 0;
    size_t head = (size_t)(end - p) + 2;
    char *text = strndup((const char *)p, head);
    if (!text) return TETHER_E_NOMEM;
    int rc = tt_h2c_submit(h, text);
    free(text);
    /* what follows the head (frames written early) is DATA */
    if (!rc && n > head + 2) rc = tt_outbuf_append(&h->out, end + 4, n - head - 2);
    tt_outbuf_free(&h->raw);
    return rc;
}

/* ---- the layer ---------------------------------------------------------------------- */

static int tt_h2c_start(tt_h2c *h) {
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb)) return TETHER_E_NOMEM;
    nghttp2_session_callbacks_set_on_header_callback(cb, tt_h2c_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, tt_h2c_on_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, tt_h2c_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, tt_h2c_on_close);
    nghttp2_option *opt;
    int rc = nghttp2_option_new(&opt);
    if (!rc) {
        nghttp2_option_set_no_auto_window_update(opt, 1);
        rc = nghttp2_session_client_new2(&h->ng, cb, h, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 256u * 1024u}};
    if (!rc) rc = nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, 2);
    return rc ? TETHER_E_NOMEM : 0;
}

static int tt_h2c_step(tt_layer *l) {
    tt_h2c *h = tt_self(l);
    if (h->mode == TT_H2C_UNDECIDED) {
        tt_tls *tls = tt_tls_layer_session(h->tls);
        h->mode = tls && tt_tls_alpn_is(tls, "h2") ? TT_H2C_H2 : TT_H2C_PLAIN;
        if (h->mode == TT_H2C_H2 && tt_h2c_start(h)) return TETHER_E_NOMEM;
    }
    if (h->mode == TT_H2C_PLAIN) return 0;
    if (!h->settings) return TETHER_E_AGAIN;
    if (h->refused)
        return tt_h2c_fail(h, "the server speaks HTTP/2 but not WebSockets over it (RFC 8441)");
    return 0;
}

static int tt_h2c_feed(tt_layer *l, const uint8_t *buf, size_t len) {
    tt_h2c *h = tt_self(l);
    if (h->mode == TT_H2C_UNDECIDED) tt_h2c_step(l);
    if (h->mode != TT_H2C_H2) return tt_outbuf_append(&h->in, buf, len);
    ssize_t n = nghttp2_session_mem_recv(h->ng, buf, len);
    if (n >= 0) return 0;
    snprintf(h->error, sizeof h->error, "HTTP/2: %s", nghttp2_strerror((int)n));
    return TETHER_E_HTTP2;
}

static ssize_t tt_h2c_read(tt_layer *l, uint8_t *buf, size_t cap) {
    tt_h2c *h = tt_self(l);
    size_t have = tt_outbuf_len(&h->in);
    if (!have) {
        if (h->reset) return TETHER_E_HTTP2;
        return h->ended ? 0 : TETHER_E_AGAIN;
    }
    return (ssize_t)tt_outbuf_take(&h->in, buf, cap);
}

static ssize_t tt_h2c_write(tt_layer *l, const uint8_t *buf, size_t len) {
    tt_h2c *h = tt_self(l);
    if (tt_outbuf_len(&h->out) >= TT_H2C_BACKLOG) return 0;
    if (h->mode == TT_H2C_H2 && !h->id) {
        int rc = tt_h2c_take_head(h, buf, len);
        return rc ? rc : (ssize_t)len;
    }
    if (h->mode == TT_H2C_H2 && h->ended) return TETHER_E_HTTP2;
    if (tt_outbuf_append(&h->out, buf, len)) return TETHER_E_NOMEM;
    if (h->deferred && h->ng) {
        h->deferred = 0;
        nghttp2_session_resume_data(h->ng, h->id);
    }
    return (ssize_t)len;
}

/* HTTP/2: nghttp2's frames, gathered in `wire` so take() can be partial. */
static void tt_h2c_gather(tt_h2c *h) {
    while (h->ng && tt_outbuf_len(&h->wire) < TT_H2C_BACKLOG) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(h->ng, &p);
        if (n <= 0 || tt_outbuf_append(&h->wire, p, (size_t)n)) return;
    }
}

static size_t tt_h2c_take(tt_layer *l, uint8_t *buf, size_t cap) {
    tt_h2c *h = tt_self(l);
    tt_outbuf *from = h->mode == TT_H2C_H2 ? &h->wire : &h->out;
    if (h->mode == TT_H2C_H2) tt_h2c_gather(h);
    return tt_outbuf_take(from, buf, cap);
}

static size_t tt_h2c_pending(const tt_layer *l) {
    const tt_h2c *h = (const tt_h2c *)l;
    if (h->mode != TT_H2C_H2) return tt_outbuf_len(&h->out);
    return tt_outbuf_len(&h->wire) + (size_t)(nghttp2_session_want_write(h->ng) != 0);
}

static void tt_h2c_shutdown(tt_layer *l) {
    tt_h2c *h = tt_self(l);
    if (h->mode != TT_H2C_H2 || !h->id || h->out_end) return;
    h->out_end = 1;
    if (h->deferred) {
        h->deferred = 0;
        nghttp2_session_resume_data(h->ng, h->id);
    }
}

static const char *tt_h2c_error_text(const tt_layer *l) {
    const tt_h2c *h = (const tt_h2c *)l;
    return h->error[0] ? h->error : NULL;
}

static const char *tt_h2c_describe(const tt_layer *l, char *buf, size_t cap) {
    const tt_h2c *h = (const tt_h2c *)l;
    if (h->mode == TT_H2C_H2 && h->id)
        snprintf(buf, cap, "HTTP/2 stream %d", (int)h->id);
    else if (h->mode == TT_H2C_H2)
        snprintf(buf, cap, "HTTP/2");
    else
        snprintf(buf, cap, "HTTP/1.1");
    return buf;
}

static void tt_h2c_free(tt_layer *l) {
    tt_h2c *h = tt_self(l);
    if (h->ng) nghttp2_session_del(h->ng);
    tt_outbuf_free(&h->raw);
    tt_outbuf_free(&h->in);
    tt_outbuf_free(&h->out);
    tt_outbuf_free(&h->wire);
    free(h);
}

static const tt_layer_ops tt_h2c_ops = {
    .name = "h2",
    .feed = tt_h2c_feed,
    .step = tt_h2c_step,
    .read = tt_h2c_read,
    .write = tt_h2c_write,
    .take = tt_h2c_take,
    .pending = tt_h2c_pending,
    .shutdown = tt_h2c_shutdown,
    .error_text = tt_h2c_error_text,
    .describe = tt_h2c_describe,
    .free = tt_h2c_free,
};

tt_layer *tt_h2_client_layer_new(tt_layer *tls) {
    tt_h2c *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->base.ops = &tt_h2c_ops;
    h->tls = tls;
    return &h->base;
}

int tt_h2_client_refused(const tt_layer *l) {
    return l && l->ops == &tt_h2c_ops && ((const tt_h2c *)l)->refused;
}

int tt_h2_client_stream(const tt_layer *l) {
    return l && l->ops == &tt_h2c_ops && ((const tt_h2c *)l)->mode == TT_H2C_H2
               ? (int)((const tt_h2c *)l)->id
               : 0;
}
