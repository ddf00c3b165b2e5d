/* Internal: a connection's output queue. Its own bytes are one contiguous
 * buffer: frames are appended (header and payload, masked on the way in
 * for a client) and written out from the front, many frames per write, so
 * one write(2) carries every frame queued in a loop round. Between them
 * the queue may hold shared frames (a broadcast's, built once for all its
 * receivers), which it points at instead of copying. */
#ifndef TT_OUTBUF_H
#define TT_OUTBUF_H

#include "ws/bufpool.h"
#include "ws/shared_frame.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A shared frame in the queue, after `gap` own bytes that precede it
 * (counted from the previous shared frame, or from the front). */
typedef struct tt_outref {
    tt_shared_frame *f;
    size_t gap;
} tt_outref;

/* The shared frames of a queue, a ring of refs[first .. first + nrefs)
 * modulo refcap: made when the first one is queued, so a connection that
 * never receives a broadcast carries one pointer for them. */
typedef struct tt_outring {
    size_t first, nrefs, refcap;
    size_t ref_off;   /* bytes of the first shared frame already written */
    size_t own_after; /* own bytes queued after the last shared frame */
    tt_outref refs[];
} tt_outring;

typedef struct tt_outbuf {
    uint8_t *buf;
    size_t head, tail, cap; /* own pending bytes are buf[head .. tail) */
    size_t ref_bytes;       /* bytes of shared frames still to write */
    tt_outring *ring;       /* NULL: no shared frame queued yet */
    /* Where its buffer comes from and goes back to once empty (NULL: its
     * own, kept while small). tt_outbuf_free keeps this. */
    tt_bufpool *pool;
} tt_outbuf;

/* Without a pool, buffers larger than this are freed once empty, so an
 * idle connection does not keep the memory of its largest message; with
 * one, every buffer is let go of once empty. */
#define TT_OUTBUF_KEEP (16u * 1024u)

/* A ring of shared frames longer than this is freed once empty; a small
 * one stays (64 bytes), so a broadcast receiver allocates nothing per round. */
#define TT_OUTBUF_KEEP_REFS 16u

/* Every byte still to write, own and shared. */
static inline size_t tt_outbuf_len(const tt_outbuf *b) {
    return b->tail - b->head + b->ref_bytes;
}

/* The own bytes only: the memory this queue alone holds. */
static inline size_t tt_outbuf_own(const tt_outbuf *b) {
    return b->tail - b->head;
}

/* Space for n more own bytes at the end: returns where to write them, or
 * NULL (no memory). Follow with tt_outbuf_commit(b, n). */
uint8_t *tt_outbuf_reserve(tt_outbuf *b, size_t n);
void tt_outbuf_commit(tt_outbuf *b, size_t n);
/* Copies len own bytes to the end: 0 or TETHER_E_NOMEM. */
int tt_outbuf_append(tt_outbuf *b, const void *data, size_t len);
/* Appends a shared frame, taking a reference. 0 or TETHER_E_NOMEM. */
int tt_outbuf_push_shared(tt_outbuf *b, tt_shared_frame *f);
/* Copies at most cap bytes from the front of a buffer of own bytes only
 * (no shared frames) into out and consumes them; returns how many. The
 * byte queues between layers use it. */
size_t tt_outbuf_take(tt_outbuf *b, void *out, size_t cap);
/* The first contiguous piece to write (NULL and 0 when empty). */
const uint8_t *tt_outbuf_front(const tt_outbuf *b, size_t *len);
/* Up to max pieces in order, for one writev(2); returns how many. */
int tt_outbuf_pieces(const tt_outbuf *b, struct iovec *iov, int max);
/* n bytes at the front were written (they may span pieces). */
void tt_outbuf_consume(tt_outbuf *b, size_t n);
void tt_outbuf_free(tt_outbuf *b);

#endif
