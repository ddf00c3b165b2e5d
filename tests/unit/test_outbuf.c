/* The output queue with shared frames between its own bytes: order kept
 * across pieces, writes that end anywhere, references and the held-bytes
 * counter returned when the last queue lets go. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ws/outbuf.h"

static void put_own(tt_outbuf *b, const char *s) {
    size_t n = strlen(s);
    uint8_t *p = tt_outbuf_reserve(b, n);
    assert_non_null(p);
    memcpy(p, s, n);
    tt_outbuf_commit(b, n);
}

/* Everything queued, in order, as a writev would send it. */
static size_t drain_pieces(const tt_outbuf *b, uint8_t *out) {
    struct iovec iov[16];
    int k = tt_outbuf_pieces(b, iov, 16);
    size_t n = 0;
    for (int i = 0; i < k; i++) {
        memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    return n;
}

/* Writes the queue out `step` bytes at a time through tt_outbuf_front. */
static size_t drain_front(tt_outbuf *b, uint8_t *out, size_t step) {
    size_t n = 0, len;
    const uint8_t *p;
    while ((p = tt_outbuf_front(b, &len)) != NULL) {
        size_t k = len < step ? len : step;
        memcpy(out + n, p, k);
        n += k;
        tt_outbuf_consume(b, k);
    }
    return n;
}

static void test_interleaved_order(void **state) {
    (void)state;
    size_t held = 0;
    tt_shared_frame *f = tt_shared_frame_new(TETHER_OP_TEXT, "shared", 6, &held);
    assert_non_null(f);
    assert_int_equal(f->len, 8); /* 2-byte header, unmasked */
    assert_int_equal(held, 8);
    assert_int_equal(f->bytes[0], 0x81);
    assert_int_equal(f->bytes[1], 6);
    for (size_t step = 1; step <= 9; step++) {
        tt_outbuf b = {0};
        put_own(&b, "ab");
        assert_int_equal(tt_outbuf_push_shared(&b, f), 0);
        assert_int_equal(tt_outbuf_push_shared(&b, f), 0); /* twice, back to back */
        put_own(&b, "cd");
        assert_int_equal(tt_outbuf_push_shared(&b, f), 0);
        assert_int_equal(f->refs, 4);
        assert_int_equal(tt_outbuf_len(&b), 2 + 8 + 8 + 2 + 8);
        assert_int_equal(tt_outbuf_own(&b), 4);
        uint8_t want[64], got[64];
        size_t n = 0;
        memcpy(want + n, "ab", 2), n += 2;
        memcpy(want + n, f->bytes, 8), n += 8;
        memcpy(want + n, f->bytes, 8), n += 8;
        memcpy(want + n, "cd", 2), n += 2;
        memcpy(want + n, f->bytes, 8), n += 8;
        assert_int_equal(drain_pieces(&b, got), n);
        assert_memory_equal(got, want, n);
        assert_int_equal(drain_front(&b, got, step), n);
        assert_memory_equal(got, want, n);
        assert_int_equal(tt_outbuf_len(&b), 0);
        assert_int_equal(f->refs, 1);
        tt_outbuf_free(&b);
    }
    tt_shared_frame_unref(f);
    assert_int_equal(held, 0);
}

/* A write that ends inside a shared frame resumes there; the ring of
 * references grows past its first size and wraps. */
static void test_partial_and_wrap(void **state) {
    (void)state;
    size_t held = 0;
    tt_shared_frame *f = tt_shared_frame_new(TETHER_OP_BINARY, "0123456789", 10, &held);
    assert_non_null(f);
    tt_outbuf b = {0};
    uint8_t got[4096];
    size_t total = 0;
    for (int round = 0; round < 40; round++) {
        put_own(&b, "x");
        assert_int_equal(tt_outbuf_push_shared(&b, f), 0);
        if (round % 3 == 0) { /* let some go: the ring wraps */
            size_t len;
            tt_outbuf_front(&b, &len);
            tt_outbuf_consume(&b, 1 + 5); /* "x" and half a frame */
            total += 6;
            const uint8_t *p = tt_outbuf_front(&b, &len);
            assert_int_equal(len, 12 - 5);
            assert_memory_equal(p, f->bytes + 5, len);
            tt_outbuf_consume(&b, len);
            total += len;
        }
    }
    size_t left = tt_outbuf_len(&b);
    assert_int_equal(left, 40 * 13 - total);
    assert_int_equal(drain_front(&b, got, 1000), left);
    for (size_t i = 0; i < left; i += 13) {
        assert_int_equal(got[i], 'x');
        assert_memory_equal(got + i + 1, f->bytes, 12);
    }
    assert_int_equal(f->refs, 1);
    assert_null(b.ring); /* the grown ring went with the backlog */
    tt_outbuf_free(&b);
    tt_shared_frame_unref(f);
    assert_int_equal(held, 0);
}

/* Freeing a queue lets go of the frames still in it. */
static void test_free_releases(void **state) {
    (void)state;
    size_t held = 0;
    tt_shared_frame *f = tt_shared_frame_new(TETHER_OP_BINARY, "z", 1, &held);
    tt_outbuf a = {0}, b = {0};
    assert_int_equal(tt_outbuf_push_shared(&a, f), 0);
    assert_int_equal(tt_outbuf_push_shared(&b, f), 0);
    tt_shared_frame_unref(f); /* the maker lets go first */
    assert_int_equal(held, 3);
    tt_outbuf_free(&a);
    assert_int_equal(held, 3);
    tt_outbuf_consume(&b, 3);
    assert_int_equal(held, 0); /* written: the last reference went */
    tt_outbuf_free(&b);
}

/* With a pool, an empty queue holds no buffer: it goes back to the pool
 * and the next bytes take it again; growing past the pool's size trades
 * the small buffer for a big one, which goes back to the pool's big ones
 * once empty and is taken again by the next big need; tt_outbuf_free gives
 * back and keeps the pool. */
static void test_pool(void **state) {
    (void)state;
    tt_bufpool pool = {0};
    tt_outbuf b = {.pool = &pool};
    put_own(&b, "hello");
    assert_int_equal(b.cap, TT_BUFPOOL_SIZE);
    uint8_t *first = b.buf;
    uint8_t out[2 * TT_BUFPOOL_SIZE];
    assert_int_equal(drain_front(&b, out, 2), 5);
    assert_null(b.buf);
    assert_int_equal(pool.n, 1);
    put_own(&b, "again");
    assert_ptr_equal(b.buf, first); /* the same buffer, from the pool */
    assert_int_equal(pool.n, 0);
    /* grown past the pool's size: the small buffer back, a big one taken */
    uint8_t *p = tt_outbuf_reserve(&b, TT_BUFPOOL_SIZE);
    assert_non_null(p);
    memset(p, 'x', TT_BUFPOOL_SIZE);
    tt_outbuf_commit(&b, TT_BUFPOOL_SIZE);
    assert_true(b.cap > TT_BUFPOOL_SIZE);
    assert_int_equal(pool.n, 1);
    uint8_t *big = b.buf;
    size_t big_cap = b.cap;
    assert_int_equal(drain_front(&b, out, 1000), TT_BUFPOOL_SIZE + 5);
    assert_memory_equal(out, "again", 5);
    assert_null(b.buf);
    assert_int_equal(pool.big_bytes, big_cap); /* kept among the big ones */
    p = tt_outbuf_reserve(&b, TT_BUFPOOL_SIZE + 1);
    assert_ptr_equal(p, big); /* and taken again */
    assert_int_equal(pool.big_bytes, 0);
    tt_outbuf_commit(&b, 1);
    assert_int_equal(drain_front(&b, out, 1000), 1);
    assert_int_equal(pool.n, 1);
    assert_int_equal(pool.big_bytes, big_cap);
    /* freed with bytes in it: the buffer goes back, the pool stays */
    put_own(&b, "left");
    tt_outbuf_free(&b);
    assert_int_equal(pool.n, 1);
    assert_ptr_equal(b.pool, &pool);
    /* the pool keeps at most TT_BUFPOOL_MAX buffers */
    void *bufs[TT_BUFPOOL_MAX + 2];
    for (size_t i = 0; i < TT_BUFPOOL_MAX + 2; i++)
        assert_non_null(bufs[i] = tt_bufpool_get(&pool));
    for (size_t i = 0; i < TT_BUFPOOL_MAX + 2; i++)
        tt_bufpool_put(&pool, bufs[i]);
    assert_int_equal(pool.n, TT_BUFPOOL_MAX);
    tt_bufpool_clear(&pool);
    assert_int_equal(pool.n, 0);
    assert_null(pool.head);
    assert_int_equal(pool.big_bytes, 0);
}

/* The pool's big buffers: the smallest that fits is handed out; at most
 * TT_BUFPOOL_BIG_SLOTS are kept, and at most TT_BUFPOOL_BIG_BYTES in all:
 * the rest is freed (ASan would see a leak or a double free). */
static void test_pool_big_limits(void **state) {
    (void)state;
    tt_bufpool pool = {0};
    size_t cap = 0, cap2 = 0;
    void *a = tt_bufpool_get_big(&pool, 100000, &cap);
    void *b = tt_bufpool_get_big(&pool, 300000, &cap2);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(cap >= 100000 && cap2 >= 300000);
    tt_bufpool_give(&pool, b, cap2);
    tt_bufpool_give(&pool, a, cap);
    size_t got;
    assert_ptr_equal(tt_bufpool_get_big(&pool, 90000, &got), a); /* the smaller one fits */
    assert_int_equal(got, cap);
    tt_bufpool_give(&pool, a, cap);
    /* more buffers than slots: only TT_BUFPOOL_BIG_SLOTS stay */
    tt_bufpool_clear(&pool);
    void *many[TT_BUFPOOL_BIG_SLOTS + 2];
    size_t caps[TT_BUFPOOL_BIG_SLOTS + 2];
    for (size_t i = 0; i < TT_BUFPOOL_BIG_SLOTS + 2; i++)
        assert_non_null(many[i] = tt_bufpool_get_big(&pool, 8192, &caps[i]));
    for (size_t i = 0; i < TT_BUFPOOL_BIG_SLOTS + 2; i++)
        tt_bufpool_give(&pool, many[i], caps[i]);
    assert_int_equal(pool.big_bytes, TT_BUFPOOL_BIG_SLOTS * caps[0]);
    tt_bufpool_clear(&pool);
    /* more bytes than the budget: the one past it is freed */
    void *huge = tt_bufpool_get_big(&pool, TT_BUFPOOL_BIG_BYTES - 65536, &cap);
    void *more = tt_bufpool_get_big(&pool, 131072, &cap2);
    tt_bufpool_give(&pool, huge, cap);
    tt_bufpool_give(&pool, more, cap2);
    assert_int_equal(pool.big_bytes, cap);
    tt_bufpool_clear(&pool);
    assert_int_equal(pool.big_bytes, 0);
}

static void test_bad_frames(void **state) {
    (void)state;
    assert_null(tt_shared_frame_new(TETHER_OP_PING, "p", 1, NULL));
    assert_null(tt_shared_frame_new(TETHER_OP_CONTINUATION, "p", 1, NULL));
    tt_shared_frame *f = tt_shared_frame_new(TETHER_OP_BINARY, NULL, 0, NULL);
    assert_non_null(f);
    assert_int_equal(f->len, 2);
    tt_shared_frame_unref(f);
    tt_shared_frame_unref(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleaved_order), cmocka_unit_test(test_partial_and_wrap),
        cmocka_unit_test(test_free_releases),     cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_big_limits),   cmocka_unit_test(test_bad_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
