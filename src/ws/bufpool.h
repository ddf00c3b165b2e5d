/* Internal: a loop's pool of output buffers. A connection takes one when
 * it has bytes to send and gives it back once they are written, so an idle
 * connection holds no buffer, and a busy one does not pay malloc, free and
 * fresh page faults for each round. One pool per context: not thread-safe,
 * as nothing else on a context is. */
#ifndef TT_BUFPOOL_H
#define TT_BUFPOOL_H

#include <stddef.h>

/* The one size the pool keeps: most rounds' frames fit (a bigger need grows
 * the buffer out of the pool, and it is freed once empty). */
#define TT_BUFPOOL_SIZE (4u * 1024u)

/* At most this many idle buffers are kept (256 KiB): the rest are freed. */
#define TT_BUFPOOL_MAX 64u

typedef struct tt_bufpool {
    void *head; /* free buffers, linked through their first bytes */
    size_t n;
} tt_bufpool;

/* A buffer of TT_BUFPOOL_SIZE bytes, or NULL (no memory). */
void *tt_bufpool_get(tt_bufpool *p);
/* Gives back a buffer of TT_BUFPOOL_SIZE bytes from tt_bufpool_get. */
void tt_bufpool_put(tt_bufpool *p, void *buf);
/* Frees every idle buffer (the context's end). */
void tt_bufpool_clear(tt_bufpool *p);

#endif
