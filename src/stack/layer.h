/* One layer of a connection's transport stack (docs/ARCHITECTURE.md,
 * "The transport stack"): socket, then PROXY protocol, proxy tunnel, TLS,
 * HTTP/2 as they come, then the WebSocket. A layer does no I/O: it takes
 * bytes from the layer below (feed) and from the layer above (write), and
 * gives bytes up (read) and down (take). What it has to say happens through
 * the return values: step() reports its own handshake done (0), read()
 * the end of the stream (0), any call a failure (an error code, explained
 * by error_text()); pending() > 0 means it wants to write. */
#ifndef TT_STACK_LAYER_H
#define TT_STACK_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tt_layer tt_layer;

typedef struct tt_layer_ops {
    const char *name;
    /* Bytes from below; the layer keeps what it cannot use yet. Returns 0
     * or TETHER_E_NOMEM. */
    int (*feed)(tt_layer *l, const uint8_t *buf, size_t len);
    /* Optional (NULL: feed only): room for len bytes from below, for the
     * bottom layer's socket to read into (NULL: no memory), and how many
     * came there (n <= len). */
    uint8_t *(*feed_space)(tt_layer *l, size_t len);
    void (*fed)(tt_layer *l, size_t n);
    /* Advances the layer's own handshake, if it has one: 0 once the layer
     * passes bytes both ways, TETHER_E_AGAIN while it waits for input, or
     * an error. Called only once every layer below has returned 0. */
    int (*step)(tt_layer *l);
    /* Bytes for the layer above: a count > 0, 0 at the orderly end of the
     * stream, TETHER_E_AGAIN when there are none now, or an error. */
    ssize_t (*read)(tt_layer *l, uint8_t *buf, size_t cap);
    /* Bytes from the layer above, once step() returned 0: how many it took
     * (all of them, unless it failed), or an error. */
    ssize_t (*write)(tt_layer *l, const uint8_t *buf, size_t len);
    /* Bytes for the layer below: copies at most cap into buf, returns how
     * many; pending() says how many there are. */
    size_t (*take)(tt_layer *l, uint8_t *buf, size_t cap);
    size_t (*pending)(const tt_layer *l);
    /* Optional (NULL: take only): the same bytes where they lie, for the
     * bottom layer's to go to the socket without a copy (NULL: none), and
     * dropping the first n of them once written. */
    const uint8_t *(*front)(const tt_layer *l, size_t *len);
    void (*consume)(tt_layer *l, size_t n);
    /* Starts the orderly end (TLS: close_notify); its bytes come by take(). */
    void (*shutdown)(tt_layer *l);
    /* Why the last call failed (NULL if the layer cannot say). */
    const char *(*error_text)(const tt_layer *l);
    /* One line for logs once open ("TLSv1.3 TLS_AES_128_GCM_SHA256"). */
    const char *(*describe)(const tt_layer *l, char *buf, size_t cap);
    void (*free)(tt_layer *l);
} tt_layer_ops;

/* Every layer starts with this; its own state follows. */
struct tt_layer {
    const tt_layer_ops *ops;
};

#endif
