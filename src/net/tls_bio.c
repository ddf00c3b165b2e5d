/* The BIO a TLS session moves its ciphertext through (tls_int.h).
 *
 * OpenSSL's memory BIO zeroes every byte it grows by (BUF_MEM_grow_clean)
 * and can only be emptied by copying out: with 64 KiB messages that was
 * 4% of a wss server's time in memset and 4% in the copy out. Here the
 * queues grow without zeroing, and the outgoing one is written to the
 * socket from where OpenSSL put the records. */
#include "net/tls_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"

/* A queue that empties keeps a buffer up to this size for the next round
 * (a busy connection allocates nothing per message) and lets a bigger one
 * go. */
#define TT_TLS_QUEUE_KEEP (128u * 1024u)

/* Lets go of the buffer: back to the pool if there is one. */
static void tt_tls_queue_release(tt_tls_queue *q) {
    tt_bufpool_give(q->pool, q->buf, q->cap);
    q->buf = NULL;
    q->head = q->tail = q->cap = 0;
}

/* A buffer of at least cap bytes holding what q holds, at the same
 * offsets. Returns 0 or -1 (no memory: q unchanged). */
static int tt_tls_queue_grow(tt_tls_queue *q, size_t cap) {
    if (!q->pool) {
        uint8_t *p = realloc(q->buf, cap);
        if (!p) return -1;
        q->buf = p;
        q->cap = cap;
        return 0;
    }
    uint8_t *p =
        cap <= TT_BUFPOOL_SIZE ? tt_bufpool_get(q->pool) : tt_bufpool_get_big(q->pool, cap, &cap);
    if (!p) return -1;
    if (cap < TT_BUFPOOL_SIZE) cap = TT_BUFPOOL_SIZE; /* a small one is always that size */
    size_t head = q->head, tail = q->tail;
    if (tail) memcpy(p, q->buf, tail);
    if (q->buf) tt_tls_queue_release(q);
    q->buf = p;
    q->cap = cap;
    q->head = head;
    q->tail = tail;
    return 0;
}

uint8_t *tt_tls_queue_space(tt_tls_queue *q, size_t len, int grow) {
    if (q->cap - q->tail < len && q->head > 0) { /* room at the front: use it */
        memmove(q->buf, q->buf + q->head, q->tail - q->head);
        q->tail -= q->head;
        q->head = 0;
    }
    if (q->cap - q->tail < len) {
        if (!grow || len > SIZE_MAX - q->tail) return NULL;
        size_t need = q->tail + len, cap = q->cap ? q->cap : 4096;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (tt_tls_queue_grow(q, cap) != 0) return NULL;
    }
    return q->buf + q->tail;
}

int tt_tls_queue_put(tt_tls_queue *q, const uint8_t *buf, size_t len) {
    if (!len) return 0;
    uint8_t *p = tt_tls_queue_space(q, len, 1);
    if (!p) return TETHER_E_NOMEM;
    memcpy(p, buf, len);
    q->tail += len;
    return 0;
}

const uint8_t *tt_tls_queue_front(const tt_tls_queue *q, size_t *len) {
    *len = q->tail - q->head;
    return *len ? q->buf + q->head : NULL;
}

void tt_tls_queue_consume(tt_tls_queue *q, size_t n) {
    q->head += n;
    if (q->head < q->tail) return;
    q->head = q->tail = 0;
    if (q->pool || q->cap > TT_TLS_QUEUE_KEEP) tt_tls_queue_release(q);
}

size_t tt_tls_queue_take(tt_tls_queue *q, uint8_t *buf, size_t cap) {
    size_t n = tt_tls_queue_len(q) < cap ? tt_tls_queue_len(q) : cap;
    if (n) memcpy(buf, q->buf + q->head, n);
    tt_tls_queue_consume(q, n);
    return n;
}

void tt_tls_queue_free(tt_tls_queue *q) {
    if (q->buf) tt_tls_queue_release(q);
}

/* ---- the BIO ---------------------------------------------------------------- */

static int tt_bio_read(BIO *b, char *out, int len) {
    tt_tls_wire *w = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t n = len > 0 ? tt_tls_queue_take(&w->in, (uint8_t *)out, (size_t)len) : 0;
    if (n) return (int)n;
    BIO_set_retry_read(b); /* empty: more will come, not the end */
    return -1;
}

static int tt_bio_write(BIO *b, const char *in, int len) {
    tt_tls_wire *w = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    return tt_tls_queue_put(&w->out, (const uint8_t *)in, (size_t)len) ? -1 : len;
}

static long tt_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)num;
    (void)ptr;
    tt_tls_wire *w = BIO_get_data(b);
    size_t n;
    switch (cmd) {
    case BIO_CTRL_FLUSH: /* the caller's loop writes `out` when it can */
        return 1;
    case BIO_CTRL_PENDING:
        n = tt_tls_queue_len(&w->in);
        return n > LONG_MAX ? LONG_MAX : (long)n;
    case BIO_CTRL_WPENDING:
        n = tt_tls_queue_len(&w->out);
        return n > LONG_MAX ? LONG_MAX : (long)n;
    default:
        return 0;
    }
}

static int tt_bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *tt_bio_method;
static pthread_once_t tt_bio_once = PTHREAD_ONCE_INIT;

/* Made once per process and kept: OpenSSL wants the method to outlive
 * every BIO made from it. */
static void tt_bio_method_init(void) {
    int index = BIO_get_new_index();
    BIO_METHOD *m = index > 0 ? BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "tether wire") : NULL;
    if (!m) return;
    if (!BIO_meth_set_read(m, tt_bio_read) || !BIO_meth_set_write(m, tt_bio_write) ||
        !BIO_meth_set_ctrl(m, tt_bio_ctrl) || !BIO_meth_set_create(m, tt_bio_create)) {
        BIO_meth_free(m);
        return;
    }
    tt_bio_method = m;
}

BIO *tt_tls_bio_new(tt_tls_wire *w) {
    if (pthread_once(&tt_bio_once, tt_bio_method_init) != 0 || !tt_bio_method) return NULL;
    BIO *b = BIO_new(tt_bio_method);
    if (b) BIO_set_data(b, w);
    return b;
}
