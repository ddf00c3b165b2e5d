/* The byte queues behind a TLS session's BIO (net/tls_bio.c): order kept
 * across puts, takes and partial consumes; room at the front reused before
 * growing; no room promised without growing unless it is there; and the
 * BIO itself: an empty input is "retry", never the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/tls_int.h"
#include "tether.h"

static void fill(uint8_t *b, size_t n, size_t from) {
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((from + i) * 7u + 3u);
}

static void test_order_across_puts_and_takes(void **state) {
    (void)state;
    tt_tls_queue q = {0};
    static uint8_t in[100000], out[100000];
    fill(in, sizeof in, 0);
    size_t put = 0, got = 0, step = 1;
    while (got < sizeof in) {
        size_t n = put < sizeof in ? (step * 977) % 9000 + 1 : 0;
        if (n > sizeof in - put) n = sizeof in - put;
        assert_int_equal(tt_tls_queue_put(&q, in + put, n), 0);
        put += n;
        got += tt_tls_queue_take(&q, out + got, (step * 613) % 7000 + 1);
        assert_int_equal(tt_tls_queue_len(&q), put - got);
        step++;
    }
    assert_memory_equal(in, out, sizeof in);
    size_t len;
    assert_null(tt_tls_queue_front(&q, &len));
    assert_int_equal(len, 0);
    tt_tls_queue_free(&q);
}

static void test_space_without_growing(void **state) {
    (void)state;
    tt_tls_queue q = {0};
    uint8_t b[3000];
    fill(b, sizeof b, 0);
    assert_null(tt_tls_queue_space(&q, 16, 0)); /* no buffer: no room */
    assert_int_equal(tt_tls_queue_put(&q, b, sizeof b), 0);
    size_t cap = q.cap;
    assert_true(cap >= sizeof b);
    tt_tls_queue_consume(&q, 2000); /* 1000 left at the back */
    /* room made by moving what is left to the front, without growing */
    uint8_t *p = tt_tls_queue_space(&q, cap - 1000, 0);
    assert_non_null(p);
    assert_int_equal(q.cap, cap);
    assert_int_equal(q.head, 0);
    assert_memory_equal(q.buf, b + 2000, 1000);
    memset(p, 0xEE, 10);
    q.tail += 10;
    assert_int_equal(tt_tls_queue_len(&q), 1010);
    assert_null(tt_tls_queue_space(&q, cap, 0));
    assert_non_null(tt_tls_queue_space(&q, cap, 1));
    assert_true(q.cap >= 1010 + cap);
    size_t len;
    const uint8_t *f = tt_tls_queue_front(&q, &len);
    assert_int_equal(len, 1010);
    assert_memory_equal(f, b + 2000, 1000);
    tt_tls_queue_free(&q);
}

static void test_bio_retry_and_pending(void **state) {
    (void)state;
    tt_tls_wire w = {0};
    BIO *b = tt_tls_bio_new(&w);
    assert_non_null(b);
    char buf[8];
    assert_int_equal(BIO_read(b, buf, sizeof buf), -1);
    assert_true(BIO_should_retry(b) && BIO_should_read(b));
    assert_int_equal(BIO_write(b, "record", 6), 6);
    assert_int_equal(BIO_ctrl_wpending(b), 6);
    assert_int_equal(BIO_flush(b), 1);
    assert_int_equal(tt_tls_queue_put(&w.in, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(BIO_ctrl_pending(b), 3);
    assert_int_equal(BIO_read(b, buf, 2), 2);
    assert_memory_equal(buf, "ab", 2);
    assert_int_equal(BIO_read(b, buf, sizeof buf), 1);
    assert_false(BIO_should_retry(b));
    BIO_free(b);
    size_t len;
    assert_memory_equal(tt_tls_queue_front(&w.out, &len), "record", 6);
    tt_tls_queue_free(&w.in);
    tt_tls_queue_free(&w.out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_across_puts_and_takes),
        cmocka_unit_test(test_space_without_growing),
        cmocka_unit_test(test_bio_retry_and_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
