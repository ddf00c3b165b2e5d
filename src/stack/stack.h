/* A connection's transport stack: the layers between the socket and the
 * WebSocket, bottom first, composed without I/O. The caller (src/api)
 * moves bytes between the socket and the bottom of the stack (feed,
 * wire) and between the top and the WebSocket (read, write). An empty
 * stack is a plain TCP connection, which the caller serves directly: the
 * plain path pays nothing for layers it does not use. */
#ifndef TT_STACK_H
#define TT_STACK_H

#include "stack/layer.h"
#include "ws/outbuf.h"

#define TT_STACK_MAX 4

/* Bytes move between layers through a scratch buffer of this size, which
 * the caller lends (one per thread: idle connections own none). At most
 * TT_STACK_BACKLOG bytes wait inside the stack for the socket: the rest of
 * the output stays plaintext in the WebSocket queue, where the send limit
 * and DRAIN see it. */
#define TT_STACK_CHUNK (64u * 1024u)
#define TT_STACK_BACKLOG (256u * 1024u)

typedef struct tt_stack {
    tt_layer *layer[TT_STACK_MAX]; /* bottom first */
    int n;
    int open;       /* how many layers, from the bottom, are open */
    int said_bye;   /* tt_stack_shutdown() ran */
    int failed;     /* which layer failed, + 1 (0: none) */
    int error;      /* ... and with what: every later call returns it */
    tt_outbuf wire; /* taken from the bottom layer, not taken by the socket */
    size_t lent;    /* bytes handed out in the caller's scratch */
    uint8_t *lent_at;
    int lent_front; /* ... or handed out where the bottom layer keeps them */
} tt_stack;

/* Puts l on top; the stack owns it from then on. Returns 0 or
 * TETHER_E_INVAL (full, or frames already flowed). */
int tt_stack_push(tt_stack *s, tt_layer *l);
void tt_stack_free(tt_stack *s);
static inline int tt_stack_empty(const tt_stack *s) {
    return s->n == 0;
}
/* The top layer named name (its ops->name), or NULL. */
tt_layer *tt_stack_find(const tt_stack *s, const char *name);

/* Every layer has finished its handshake: plaintext flows. */
int tt_stack_is_open(const tt_stack *s);
/* Runs the handshakes that can make progress, bottom up: 0 once all are
 * done, TETHER_E_AGAIN while one waits for input, or an error. */
int tt_stack_step(tt_stack *s);

/* Bytes from the socket; scratch is TT_STACK_CHUNK bytes. Returns 0 or an
 * error (a failed handshake, a bad record). */
int tt_stack_feed(tt_stack *s, const uint8_t *buf, size_t len, uint8_t *scratch);
/* The same without a copy, when the bottom layer can (NULL: it cannot, or
 * no memory, or the stack failed: use tt_stack_feed): room for len bytes
 * the socket reads into, then tt_stack_fed() with how many came, which
 * goes on as tt_stack_feed. */
uint8_t *tt_stack_feed_space(tt_stack *s, size_t len);
int tt_stack_fed(tt_stack *s, size_t n, uint8_t *scratch);
/* Plaintext for the WebSocket: as tt_layer_ops.read. */
ssize_t tt_stack_read(tt_stack *s, uint8_t *buf, size_t cap, uint8_t *scratch);
/* Plaintext from the WebSocket: takes as much as the backlog allows (0
 * when it is full or the stack is not open yet), or fails. */
ssize_t tt_stack_write(tt_stack *s, const uint8_t *buf, size_t len);

/* Bytes for the socket: what an earlier write left, else what the layers
 * have now, moved down into scratch; *len 0: nothing. After a failure it
 * still gives what the bottom layer had made (the alert saying why).
 * Returns 0 or an error moving bytes down. After a 0, always follow with tt_stack_wire_sent() and
 * the count the socket took: the stack keeps the rest. */
int tt_stack_wire(tt_stack *s, const uint8_t **out, size_t *len, uint8_t *scratch);
void tt_stack_wire_sent(tt_stack *s, size_t n);
/* Every byte the stack still owes the socket: the wire buffer and what
 * the layers hold. The WebSocket counts it as buffered. */
size_t tt_stack_owed(const tt_stack *s);

/* The orderly end: each layer, top first, says goodbye (TLS: close_notify
 * if established; a failed handshake's alert is already queued). Once, and
 * not after the socket took part of a record (the stream is cut
 * mid-record anyway). Returns 1 when there may be goodbye bytes to write
 * now (tt_stack_wire), else 0. */
int tt_stack_shutdown(tt_stack *s);
/* Why the stack failed, from the layer that did (NULL if none can say). */
const char *tt_stack_error_text(const tt_stack *s);
/* Logs-friendly description of the open layers ("TLSv1.3 ..."), or "". */
const char *tt_stack_describe(const tt_stack *s, char *buf, size_t cap);

#endif
