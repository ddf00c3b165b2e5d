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

/* Big buffers (a 64 KiB or 1 MiB message being assembled or queued, TLS
 * records waiting for the socket) are kept too, a few and at most
 * TT_BUFPOOL_BIG_BYTES in all: allocating one per message costs fresh
 * pages (malloc maps blocks this big from the system and gives them back),
 * whose faults were 13% of a wss server's time at 1 MiB. */
#define TT_BUFPOOL_BIG_SLOTS 16u
#define TT_BUFPOOL_BIG_BYTES (8u * 1024u * 1024u)

typedef struct tt_bufpool {
    void *head; /* free buffers, linked through their first bytes */
    size_t n;
    void *big[TT_BUFPOOL_BIG_SLOTS]; /* idle big buffers (NULL: empty slot) */
    size_t big_cap[TT_BUFPOOL_BIG_SLOTS];
    size_t big_bytes; /* their sizes added up */
} tt_bufpool;

/* A buffer of TT_BUFPOOL_SIZE bytes, or NULL (no memory). */
void *tt_bufpool_get(tt_bufpool *p);
/* Gives back a buffer of TT_BUFPOOL_SIZE bytes from tt_bufpool_get. */
void tt_bufpool_put(tt_bufpool *p, void *buf);
/* A buffer of at least need bytes (its size in *cap), from the idle big
 * ones if one fits, else newly allocated; NULL: no memory. Any buffer from
 * the pool is a plain malloc block: realloc() and free() work on it. */
void *tt_bufpool_get_big(tt_bufpool *p, size_t need, size_t *cap);
/* Gives back a buffer of cap bytes (any size from malloc): kept if there
 * is room among the idle big ones, else freed. */
void tt_bufpool_put_big(tt_bufpool *p, void *buf, size_t cap);
/* Gives back any buffer of cap bytes from malloc: to the small ones if it
 * is their size, to the big ones if bigger, else (or without a pool, p
 * NULL) freed. */
void tt_bufpool_give(tt_bufpool *p, void *buf, size_t cap);
/* Frees every idle buffer (the context's end). */
void tt_bufpool_clear(tt_bufpool *p);

#endif
