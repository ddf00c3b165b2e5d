/* The buffer pool: a free list threaded through the idle buffers, so it
 * costs no memory of its own. */
#include "ws/bufpool.h"

#include <stdint.h>
#include <stdlib.h>

void *tt_bufpool_get(tt_bufpool *p) {
    void *b = p->head;
    if (!b) return malloc(TT_BUFPOOL_SIZE);
    p->head = *(void **)b;
    p->n--;
    return b;
}

void tt_bufpool_put(tt_bufpool *p, void *buf) {
    if (p->n >= TT_BUFPOOL_MAX) {
        free(buf);
        return;
    }
    *(void **)buf = p->head;
    p->head = buf;
    p->n++;
}

/* Sizes are rounded up to this, so one buffer serves a range of needs. */
#define TT_BUFPOOL_BIG_STEP (64u * 1024u)

void *tt_bufpool_get_big(tt_bufpool *p, size_t need, size_t *cap) {
    size_t best = TT_BUFPOOL_BIG_SLOTS;
    for (size_t i = 0; i < TT_BUFPOOL_BIG_SLOTS; i++)
        if (p->big[i] && p->big_cap[i] >= need &&
            (best == TT_BUFPOOL_BIG_SLOTS || p->big_cap[i] < p->big_cap[best]))
            best = i;
    if (best < TT_BUFPOOL_BIG_SLOTS) {
        void *b = p->big[best];
        *cap = p->big_cap[best];
        p->big[best] = NULL;
        p->big_bytes -= *cap;
        return b;
    }
    if (need > SIZE_MAX - TT_BUFPOOL_BIG_STEP) return NULL;
    size_t size = (need + TT_BUFPOOL_BIG_STEP - 1) / TT_BUFPOOL_BIG_STEP * TT_BUFPOOL_BIG_STEP;
    void *b = malloc(size);
    if (b) *cap = size;
    return b;
}

void tt_bufpool_put_big(tt_bufpool *p, void *buf, size_t cap) {
    if (!buf) return;
    if (cap <= TT_BUFPOOL_BIG_BYTES - p->big_bytes)
        for (size_t i = 0; i < TT_BUFPOOL_BIG_SLOTS; i++)
            if (!p->big[i]) {
                p->big[i] = buf;
                p->big_cap[i] = cap;
                p->big_bytes += cap;
                return;
            }
    free(buf);
}

void tt_bufpool_give(tt_bufpool *p, void *buf, size_t cap) {
    if (p && cap == TT_BUFPOOL_SIZE)
        tt_bufpool_put(p, buf);
    else if (p && cap > TT_BUFPOOL_SIZE)
        tt_bufpool_put_big(p, buf, cap);
    else
        free(buf);
}

void tt_bufpool_clear(tt_bufpool *p) {
    for (size_t i = 0; i < TT_BUFPOOL_BIG_SLOTS; i++) {
        free(p->big[i]);
        p->big[i] = NULL;
    }
    p->big_bytes = 0;
    while (p->head) {
        void *b = p->head;
        p->head = *(void **)b;
        free(b);
    }
    p->n = 0;
}
