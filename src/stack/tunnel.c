/* The proxy tunnel layer (stack/tunnel.h): runs the dialect's handshake
 * (tunnel_http.c, tunnel_socks5.c) on its first step and as the proxy's
 * answers arrive, then passes bytes through. Bytes are copied once each
 * way: the stack hands a layer its input and takes its output by copy. */
#include "stack/tunnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/tunnel_int.h"
#include "tether.h"

typedef struct tt_tunnel {
    tt_layer base;
    tt_proxy proxy;
    char *host;
    tt_tunnel_hs hs;
    tt_outbuf in, out; /* from the proxy, not read yet; for the proxy */
    int started, open, error;
} tt_tunnel;

static int tt_tunnel_feed(tt_layer *l, const uint8_t *buf, size_t len) {
    return tt_outbuf_append(&((tt_tunnel *)l)->in, buf, len);
}

static int tt_tunnel_input(tt_tunnel *t, const uint8_t *in, size_t len, size_t *used) {
    return t->proxy.kind == TT_PROXY_HTTP ? tt_http_tunnel_input(&t->hs, in, len, used, &t->out)
                                          : tt_socks5_input(&t->hs, in, len, used, &t->out);
}

static int tt_tunnel_step(tt_layer *l) {
    tt_tunnel *t = (tt_tunnel *)l;
    if (t->open) return 0;
    if (t->error) return t->error;
    int rc = 0;
    if (!t->started) {
        t->started = 1;
        rc = t->proxy.kind == TT_PROXY_HTTP ? tt_http_tunnel_start(&t->hs, &t->out)
                                            : tt_socks5_start(&t->hs, &t->out);
        if (rc) return t->error = rc;
    }
    size_t len, used = 0;
    const uint8_t *in = tt_outbuf_front(&t->in, &len);
    rc = tt_tunnel_input(t, in ? in : (const uint8_t *)"", in ? len : 0, &used);
    tt_outbuf_consume(&t->in, used);
    if (rc == TETHER_E_AGAIN) return rc;
    if (rc) return t->error = rc;
    t->open = 1;
    return 0;
}

static ssize_t tt_tunnel_read(tt_layer *l, uint8_t *buf, size_t cap) {
    size_t n = tt_outbuf_take(&((tt_tunnel *)l)->in, buf, cap);
    return n ? (ssize_t)n : TETHER_E_AGAIN;
}

static ssize_t tt_tunnel_write(tt_layer *l, const uint8_t *buf, size_t len) {
    int rc = tt_outbuf_append(&((tt_tunnel *)l)->out, buf, len);
    return rc ? rc : (ssize_t)len;
}

static size_t tt_tunnel_take(tt_layer *l, uint8_t *buf, size_t cap) {
    return tt_outbuf_take(&((tt_tunnel *)l)->out, buf, cap);
}

static size_t tt_tunnel_pending(const tt_layer *l) {
    return tt_outbuf_len(&((const tt_tunnel *)l)->out);
}

static void tt_tunnel_shutdown(tt_layer *l) {
    (void)l; /* a tunnel ends with its TCP connection */
}

static const char *tt_tunnel_error_text(const tt_layer *l) {
    const tt_tunnel *t = (const tt_tunnel *)l;
    return t->hs.why[0] ? t->hs.why : NULL;
}

static const char *tt_tunnel_describe(const tt_layer *l, char *buf, size_t cap) {
    const tt_tunnel *t = (const tt_tunnel *)l;
    snprintf(buf, cap, "via %s proxy %s:%d", t->proxy.kind == TT_PROXY_HTTP ? "HTTP" : "SOCKS5",
             t->proxy.host, t->proxy.port);
    return buf;
}

static void tt_tunnel_free(tt_layer *l) {
    tt_tunnel *t = (tt_tunnel *)l;
    tt_proxy_free(&t->proxy);
    free(t->host);
    tt_outbuf_free(&t->in);
    tt_outbuf_free(&t->out);
    free(t);
}

static const tt_layer_ops tt_tunnel_ops = {
    .name = "proxy",
    .feed = tt_tunnel_feed,
    .step = tt_tunnel_step,
    .read = tt_tunnel_read,
    .write = tt_tunnel_write,
    .take = tt_tunnel_take,
    .pending = tt_tunnel_pending,
    .shutdown = tt_tunnel_shutdown,
    .error_text = tt_tunnel_error_text,
    .describe = tt_tunnel_describe,
    .free = tt_tunnel_free,
};

tt_layer *tt_tunnel_new(const tt_proxy *proxy, const char *host, int port) {
    tt_tunnel *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->base.ops = &tt_tunnel_ops;
    if (!(t->host = strdup(host)) || tt_proxy_copy(&t->proxy, proxy) != 0) {
        tt_tunnel_free(&t->base);
        return NULL;
    }
    t->hs.proxy = &t->proxy;
    t->hs.host = t->host;
    t->hs.port = port;
    return &t->base;
}
