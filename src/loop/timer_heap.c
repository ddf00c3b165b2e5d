/* Timers: one binary min-heap of tt_timer pointers per loop, ordered by
 * (deadline, arming sequence). Each timer keeps its heap position, so
 * stopping or re-arming is O(log n) with no search. */
#include "loop/loop_int.h"

#include <limits.h>
#include <stdlib.h>

#include "tether.h"

#define TT_HEAP_MIN_CAP 16

static int tt_timer_before(const tt_timer *a, const tt_timer *b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void tt_heap_place(tt_loop *loop, size_t i, tt_timer *t) {
    loop->heap[i] = t;
    t->heap_index = i;
}

static void tt_sift_up(tt_loop *loop, size_t i) {
    tt_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!tt_timer_before(t, loop->heap[parent])) break;
        tt_heap_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    tt_heap_place(loop, i, t);
}

static void tt_sift_down(tt_loop *loop, size_t i) {
    tt_timer *t = loop->heap[i];
    size_t n = loop->heap_len;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && tt_timer_before(loop->heap[child + 1], loop->heap[child])) child++;
        if (!tt_timer_before(loop->heap[child], t)) break;
        tt_heap_place(loop, i, loop->heap[child]);
        i = child;
    }
    tt_heap_place(loop, i, t);
}

/* Restores heap order around i after its key changed either way. */
static void tt_heap_fix(tt_loop *loop, size_t i) {
    if (i > 0 && tt_timer_before(loop->heap[i], loop->heap[(i - 1) / 2]))
        tt_sift_up(loop, i);
    else
        tt_sift_down(loop, i);
}

static int tt_heap_reserve(tt_loop *loop) {
    if (loop->heap_len < loop->heap_cap) return 0;
    size_t cap = loop->heap_cap ? loop->heap_cap * 2 : TT_HEAP_MIN_CAP;
    if (cap > SIZE_MAX / sizeof *loop->heap) return TETHER_E_NOMEM;
    tt_timer **heap = realloc(loop->heap, cap * sizeof *heap);
    if (!heap) return TETHER_E_NOMEM;
    loop->heap = heap;
    loop->heap_cap = cap;
    return 0;
}

static void tt_heap_remove(tt_loop *loop, tt_timer *t) {
    size_t i = t->heap_index;
    tt_timer *last = loop->heap[--loop->heap_len];
    t->heap_index = SIZE_MAX;
    if (last == t) return;
    tt_heap_place(loop, i, last);
    tt_heap_fix(loop, i);
}

void tt_timer_init(tt_timer *t, tt_timer_cb cb) {
    t->deadline = 0;
    t->heap_index = SIZE_MAX;
    t->cb = cb;
    t->seq = 0;
}

int tt_timer_start(tt_loop *loop, tt_timer *t, uint64_t ms) {
    if (!loop || !t || !t->cb) return TETHER_E_INVAL;
    uint64_t now = tt_now_ms();
    t->deadline = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
    t->seq = loop->timer_seq++;
    if (t->heap_index != SIZE_MAX) {
        tt_heap_fix(loop, t->heap_index);
        return 0;
    }
    int rc = tt_heap_reserve(loop);
    if (rc < 0) return rc;
    tt_heap_place(loop, loop->heap_len++, t);
    tt_sift_up(loop, t->heap_index);
    return 0;
}

void tt_timer_stop(tt_loop *loop, tt_timer *t) {
    if (!loop || !t || t->heap_index == SIZE_MAX) return;
    tt_heap_remove(loop, t);
}

int tt_timer_armed(const tt_timer *t) {
    return t && t->heap_index != SIZE_MAX;
}

int tt_loop_next_timeout(const tt_loop *loop) {
    if (!loop || loop->heap_len == 0) return -1;
    uint64_t deadline = loop->heap[0]->deadline;
    uint64_t now = tt_now_ms();
    if (deadline <= now) return 0;
    return deadline - now > (uint64_t)INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* Fires the timers due now that were armed before this call. Timers armed
 * during it have seq >= first_new and, by heap order, can only reach the
 * top once every older due timer has fired, so the loop stops there: a
 * callback re-arming with 0 ms cannot keep this running forever. */
int tt_timers_run(tt_loop *loop) {
    uint64_t now = tt_now_ms();
    uint64_t first_new = loop->timer_seq;
    int ran = 0;
    while (loop->heap_len > 0) {
        tt_timer *t = loop->heap[0];
        if (t->deadline > now || t->seq >= first_new) break;
        tt_heap_remove(loop, t);
        t->cb(t); /* disarmed first, so cb may re-arm or free t */
        ran++;
    }
    return ran;
}

/* Disarms whatever is left so tt_timer_armed stays truthful, then frees
 * the heap. */
void tt_timers_release(tt_loop *loop) {
    for (size_t i = 0; i < loop->heap_len; i++)
        loop->heap[i]->heap_index = SIZE_MAX;
    free(loop->heap);
    loop->heap = NULL;
    loop->heap_len = loop->heap_cap = 0;
}
