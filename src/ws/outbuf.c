/* The output queue: grows geometrically, compacts instead of growing when
 * the written front leaves room, and lets go of big buffers when empty. */
#include "ws/outbuf.h"

#include <stdlib.h>
#include <string.h>

static int tt_outbuf_grow(tt_outbuf *b, size_t need) {
    /* The first block fits the need (a handshake response, a small frame):
     * a connection that only did its handshake stays small. */
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    uint8_t *nb = realloc(b->buf, cap);
    if (!nb) return -1;
    b->buf = nb;
    b->cap = cap;
    return 0;
}

uint8_t *tt_outbuf_reserve(tt_outbuf *b, size_t n) {
    size_t len = tt_outbuf_len(b);
    if (n > SIZE_MAX - len) return NULL;
    if (b->cap - b->tail >= n) return b->buf + b->tail;
    if (b->head > 0) { /* compact: moving the pending bytes is cheaper than growing */
        memmove(b->buf, b->buf + b->head, len);
        b->head = 0;
        b->tail = len;
        if (b->cap - b->tail >= n) return b->buf + b->tail;
    }
    if (tt_outbuf_grow(b, len + n) != 0) return NULL;
    return b->buf + b->tail;
}

void tt_outbuf_commit(tt_outbuf *b, size_t n) {
    b->tail += n;
}

void tt_outbuf_consume(tt_outbuf *b, size_t n) {
    b->head += n;
    if (b->head < b->tail) return;
    b->head = b->tail = 0;
    if (b->cap > TT_OUTBUF_KEEP) tt_outbuf_free(b);
}

void tt_outbuf_free(tt_outbuf *b) {
    free(b->buf);
    b->buf = NULL;
    b->head = b->tail = b->cap = 0;
}
