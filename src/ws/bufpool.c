/* The buffer pool: a free list threaded through the idle buffers, so it
 * costs no memory of its own. */
#include "ws/bufpool.h"

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

void tt_bufpool_clear(tt_bufpool *p) {
    while (p->head) {
        void *b = p->head;
        p->head = *(void **)b;
        free(b);
    }
    p->n = 0;
}
