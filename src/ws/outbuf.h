/* Internal: a connection's output queue, one contiguous byte buffer.
 * Frames are appended (header and payload, masked on the way in for a
 * client) and written out from the front, many frames per write. Keeping it
 * contiguous lets one write(2) carry every frame queued in a loop round. */
#ifndef TT_OUTBUF_H
#define TT_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_outbuf {
    uint8_t *buf;
    size_t head, tail, cap; /* pending bytes are buf[head .. tail) */
} tt_outbuf;

/* Buffers larger than this are freed once empty, so an idle connection
 * does not keep the memory of its largest message. */
#define TT_OUTBUF_KEEP (16u * 1024u)

static inline size_t tt_outbuf_len(const tt_outbuf *b) {
    return b->tail - b->head;
}

/* Space for n more bytes at the end: returns where to write them, or NULL
 * (no memory). Follow with tt_outbuf_commit(b, n). */
uint8_t *tt_outbuf_reserve(tt_outbuf *b, size_t n);
void tt_outbuf_commit(tt_outbuf *b, size_t n);
/* n bytes at the front were written. */
void tt_outbuf_consume(tt_outbuf *b, size_t n);
void tt_outbuf_free(tt_outbuf *b);

#endif
