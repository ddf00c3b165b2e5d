/* The output queue: own bytes in a buffer that grows geometrically,
 * compacts instead of growing when the written front leaves room, and lets
 * go of big buffers when empty; shared frames in a small ring beside it,
 * each placed after the own bytes queued before it. Without shared frames
 * every call is the plain buffer's. */
#include "ws/outbuf.h"

#include <stdlib.h>
#include <string.h>

/* Lets go of the buffer: back to the pool if it came from there. */
static void tt_outbuf_release(tt_outbuf *b) {
    tt_bufpool_give(b->pool, b->buf, b->cap);
    b->buf = NULL;
    b->cap = 0;
}

static int tt_outbuf_grow(tt_outbuf *b, size_t need) {
    if (!b->cap && b->pool && need <= TT_BUFPOOL_SIZE) {
        if (!(b->buf = tt_bufpool_get(b->pool))) return -1;
        b->cap = TT_BUFPOOL_SIZE;
        return 0;
    }
    /* The first block fits the need (a handshake response, a small frame):
     * a connection that only did its handshake stays small. */
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    if (b->pool && cap > TT_BUFPOOL_SIZE) { /* big: from the pool's idle ones */
        uint8_t *nb = tt_bufpool_get_big(b->pool, cap, &cap);
        if (!nb) return -1;
        if (b->tail) memcpy(nb, b->buf, b->tail);
        if (b->buf) tt_outbuf_release(b);
        b->buf = nb;
        b->cap = cap;
        return 0;
    }
    uint8_t *nb = realloc(b->buf, cap);
    if (!nb) return -1;
    b->buf = nb;
    b->cap = cap;
    return 0;
}

uint8_t *tt_outbuf_reserve(tt_outbuf *b, size_t n) {
    size_t len = tt_outbuf_own(b);
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

/* How many shared frames are queued. */
static size_t tt_outbuf_nrefs(const tt_outbuf *b) {
    return b->ring ? b->ring->nrefs : 0;
}

void tt_outbuf_commit(tt_outbuf *b, size_t n) {
    b->tail += n;
    if (tt_outbuf_nrefs(b)) b->ring->own_after += n;
}

int tt_outbuf_append(tt_outbuf *b, const void *data, size_t len) {
    if (!len) return 0;
    uint8_t *p = tt_outbuf_reserve(b, len);
    if (!p) return TETHER_E_NOMEM;
    memcpy(p, data, len);
    tt_outbuf_commit(b, len);
    return 0;
}

/* The i-th queued shared frame (i < nrefs). */
static tt_outref *tt_outbuf_ref(const tt_outbuf *b, size_t i) {
    return &b->ring->refs[(b->ring->first + i) % b->ring->refcap];
}

/* Doubles the ring (4 to start), unrolling it to start at 0. */
static int tt_outbuf_grow_refs(tt_outbuf *b) {
    tt_outring *old = b->ring;
    size_t cap = old ? 2 * old->refcap : 4;
    if (cap > (SIZE_MAX - sizeof *old) / sizeof(tt_outref)) return -1;
    tt_outring *r = malloc(sizeof *r + cap * sizeof(tt_outref));
    if (!r) return -1;
    *r = old ? *old : (tt_outring){0};
    for (size_t i = 0; i < r->nrefs; i++)
        r->refs[i] = *tt_outbuf_ref(b, i);
    r->refcap = cap;
    r->first = 0;
    free(old);
    b->ring = r;
    return 0;
}

int tt_outbuf_push_shared(tt_outbuf *b, tt_shared_frame *f) {
    size_t n = tt_outbuf_nrefs(b);
    if ((!b->ring || n == b->ring->refcap) && tt_outbuf_grow_refs(b) != 0) return TETHER_E_NOMEM;
    tt_outring *r = b->ring;
    size_t gap = n ? r->own_after : tt_outbuf_own(b);
    r->refs[(r->first + n) % r->refcap] = (tt_outref){f, gap};
    r->nrefs++;
    b->ref_bytes += f->len;
    r->own_after = 0;
    tt_shared_frame_ref(f);
    return 0;
}

/* Own bytes that go before the first shared frame. */
static size_t tt_outbuf_own_first(const tt_outbuf *b) {
    return tt_outbuf_nrefs(b) ? tt_outbuf_ref(b, 0)->gap : tt_outbuf_own(b);
}

const uint8_t *tt_outbuf_front(const tt_outbuf *b, size_t *len) {
    size_t own = tt_outbuf_own_first(b);
    if (own) {
        *len = own;
        return b->buf + b->head;
    }
    if (!tt_outbuf_nrefs(b)) {
        *len = 0;
        return NULL;
    }
    const tt_shared_frame *f = tt_outbuf_ref(b, 0)->f;
    *len = f->len - b->ring->ref_off;
    return f->bytes + b->ring->ref_off;
}

int tt_outbuf_pieces(const tt_outbuf *b, struct iovec *iov, int max) {
    int k = 0;
    size_t n = tt_outbuf_nrefs(b);
    size_t own = b->head, skip = n ? b->ring->ref_off : 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        size_t gap = i < n ? tt_outbuf_ref(b, i)->gap : b->tail - own;
        if (gap) iov[k++] = (struct iovec){b->buf + own, gap};
        own += gap;
        if (i == n || k == max) break;
        const tt_shared_frame *f = tt_outbuf_ref(b, i)->f;
        iov[k++] = (struct iovec){(void *)(f->bytes + skip), f->len - skip};
        skip = 0;
    }
    return k;
}

/* Own bytes were written: empty, the buffer goes back to its start, or
 * away (to the pool, or a big one). */
static void tt_outbuf_consume_own(tt_outbuf *b, size_t n) {
    b->head += n;
    if (tt_outbuf_nrefs(b)) tt_outbuf_ref(b, 0)->gap -= n;
    if (b->head < b->tail) return;
    b->head = b->tail = 0;
    if (b->cap && (b->pool || b->cap > TT_OUTBUF_KEEP)) tt_outbuf_release(b);
}

/* Bytes of the first shared frame were written; all of it lets it go. */
static void tt_outbuf_consume_shared(tt_outbuf *b, size_t n) {
    tt_outring *ring = b->ring;
    tt_outref *r = tt_outbuf_ref(b, 0);
    ring->ref_off += n;
    b->ref_bytes -= n;
    if (ring->ref_off < r->f->len) return;
    tt_shared_frame_unref(r->f);
    ring->ref_off = 0;
    ring->first = (ring->first + 1) % ring->refcap;
    if (--ring->nrefs) return;
    ring->own_after = 0;
    if (ring->refcap > TT_OUTBUF_KEEP_REFS) { /* a backlog is over: so is its ring */
        free(ring);
        b->ring = NULL;
    }
}

void tt_outbuf_consume(tt_outbuf *b, size_t n) {
    if (!tt_outbuf_nrefs(b)) { /* the common case: own bytes only */
        tt_outbuf_consume_own(b, n < tt_outbuf_own(b) ? n : tt_outbuf_own(b));
        return;
    }
    while (n && tt_outbuf_nrefs(b)) {
        size_t own = tt_outbuf_own_first(b);
        size_t piece = own ? own : tt_outbuf_ref(b, 0)->f->len - b->ring->ref_off;
        size_t k = n < piece ? n : piece;
        if (own)
            tt_outbuf_consume_own(b, k);
        else
            tt_outbuf_consume_shared(b, k);
        n -= k;
    }
    if (n) tt_outbuf_consume_own(b, n < tt_outbuf_own(b) ? n : tt_outbuf_own(b));
}

void tt_outbuf_free(tt_outbuf *b) {
    for (size_t i = 0; i < tt_outbuf_nrefs(b); i++)
        tt_shared_frame_unref(tt_outbuf_ref(b, i)->f);
    free(b->ring);
    if (b->buf) tt_outbuf_release(b);
    tt_bufpool *pool = b->pool;
    memset(b, 0, sizeof *b);
    b->pool = pool;
}

size_t tt_outbuf_take(tt_outbuf *b, void *out, size_t cap) {
    size_t n = tt_outbuf_own(b) < cap ? tt_outbuf_own(b) : cap;
    if (!n) return 0;
    memcpy(out, b->buf + b->head, n);
    tt_outbuf_consume(b, n);
    return n;
}
