/* TLS as a layer: the session already works on memory buffers (net/tls.c),
 * so the layer only maps the interface onto it. Its handshake is the TLS
 * handshake; its end is close_notify. */
#include "stack/tls_layer.h"

#include <stdio.h>
#include <stdlib.h>

#include "tether.h"

typedef struct tt_tls_layer {
    tt_layer base;
    tt_tls *tls;
} tt_tls_layer;

static tt_tls *tt_session(const tt_layer *l) {
    return ((const tt_tls_layer *)l)->tls;
}

static int tt_tls_layer_feed(tt_layer *l, const uint8_t *buf, size_t len) {
    return tt_tls_feed(tt_session(l), buf, len);
}

static uint8_t *tt_tls_layer_feed_space(tt_layer *l, size_t len) {
    return tt_tls_feed_space(tt_session(l), len);
}

static void tt_tls_layer_fed(tt_layer *l, size_t n) {
    tt_tls_fed(tt_session(l), n);
}

static int tt_tls_layer_step(tt_layer *l) {
    tt_tls *t = tt_session(l);
    return tt_tls_established(t) ? 0 : tt_tls_handshake(t);
}

static ssize_t tt_tls_layer_read(tt_layer *l, uint8_t *buf, size_t cap) {
    return tt_tls_read(tt_session(l), buf, cap);
}

static ssize_t tt_tls_layer_write(tt_layer *l, const uint8_t *buf, size_t len) {
    return tt_tls_write(tt_session(l), buf, len);
}

static size_t tt_tls_layer_take(tt_layer *l, uint8_t *buf, size_t cap) {
    return tt_tls_take_out(tt_session(l), buf, cap);
}

static size_t tt_tls_layer_pending(const tt_layer *l) {
    return tt_tls_out_pending(tt_session(l));
}

static const uint8_t *tt_tls_layer_front(const tt_layer *l, size_t *len) {
    return tt_tls_out_front(tt_session(l), len);
}

static void tt_tls_layer_consume(tt_layer *l, size_t n) {
    tt_tls_out_consume(tt_session(l), n);
}

/* Only an established session says close_notify; a failed handshake's
 * alert ("unknown ca") is already waiting in its output. */
static void tt_tls_layer_shutdown(tt_layer *l) {
    if (tt_tls_established(tt_session(l))) tt_tls_shutdown(tt_session(l));
}

static const char *tt_tls_layer_error_text(const tt_layer *l) {
    return tt_tls_error_text(tt_session(l));
}

static const char *tt_tls_layer_describe(const tt_layer *l, char *buf, size_t cap) {
    snprintf(buf, cap, "%s %s", tt_tls_version(tt_session(l)), tt_tls_cipher(tt_session(l)));
    return buf;
}

static void tt_tls_layer_free(tt_layer *l) {
    tt_tls_free(tt_session(l));
    free(l);
}

static const tt_layer_ops tt_tls_layer_ops = {
    .name = "tls",
    .feed = tt_tls_layer_feed,
    .feed_space = tt_tls_layer_feed_space,
    .fed = tt_tls_layer_fed,
    .step = tt_tls_layer_step,
    .read = tt_tls_layer_read,
    .write = tt_tls_layer_write,
    .take = tt_tls_layer_take,
    .pending = tt_tls_layer_pending,
    .front = tt_tls_layer_front,
    .consume = tt_tls_layer_consume,
    .shutdown = tt_tls_layer_shutdown,
    .error_text = tt_tls_layer_error_text,
    .describe = tt_tls_layer_describe,
    .free = tt_tls_layer_free,
};

tt_layer *tt_tls_layer_new(tt_tls *session) {
    tt_tls_layer *t = session ? malloc(sizeof *t) : NULL;
    if (!t) {
        tt_tls_free(session);
        return NULL;
    }
    t->base.ops = &tt_tls_layer_ops;
    t->tls = session;
    return &t->base;
}

tt_tls *tt_tls_layer_session(tt_layer *l) {
    return l && l->ops == &tt_tls_layer_ops ? tt_session(l) : NULL;
}
