/* tether_mask() against a byte-at-a-time reference: every alignment of
 * source and destination, every key offset, short and long lengths, in
 * place and out of place. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

static void ref_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t k[4],
                     uint64_t off) {
    for (size_t i = 0; i < len; i++)
        dst[i] = (uint8_t)(src[i] ^ k[(off + i) % 4]);
}

static void fill(uint8_t *buf, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

/* Masks len bytes at src alignment sa into dst alignment da (or in place)
 * and compares with the reference, also checking no byte around the
 * destination was touched. */
static void check_one(size_t sa, size_t da, size_t len, uint64_t off, int in_place) {
    size_t cap = len + 48;
    uint8_t *src = malloc(cap), *dst = malloc(cap), *want = malloc(cap);
    assert_non_null(src);
    assert_non_null(dst);
    assert_non_null(want);
    fill(src, cap, (unsigned)(len + sa));
    memset(dst, 0xAB, cap);
    if (in_place) {
        memcpy(dst, src, cap);
        memcpy(want, src, cap);
        ref_mask(want + da, src + da, len, key, off);
        assert_int_equal(tether_mask(dst + da, dst + da, len, key, off), 0);
    } else {
        memcpy(want, dst, cap);
        ref_mask(want + da, src + sa, len, key, off);
        assert_int_equal(tether_mask(dst + da, src + sa, len, key, off), 0);
    }
    assert_memory_equal(dst, want, cap);
    free(src);
    free(dst);
    free(want);
}

static void test_all_alignments_short(void **state) {
    (void)state;
    for (size_t len = 0; len <= 100; len++)
        for (size_t a = 0; a < 16; a++)
            for (uint64_t off = 0; off < 4; off++) {
                check_one(a, a, len, off, 1);
                check_one(a, (a * 7 + 3) % 16, len, off, 0);
            }
}

static void test_all_alignments_large(void **state) {
    (void)state;
    static const size_t lens[] = {255, 256, 257, 1000, 4095, 4096, 65537};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t a = 0; a < 16; a++)
            for (size_t b = 0; b < 16; b += 5)
                for (uint64_t off = 0; off < 4; off++) {
                    check_one(a, b, lens[i], off, 0);
                    check_one(a, a, lens[i], off, 1);
                }
}

/* The offset only matters modulo 4, even when it is huge. */
static void test_large_offsets(void **state) {
    (void)state;
    uint8_t a[37], b[37];
    fill(a, sizeof a, 9);
    for (uint64_t off = 0; off < 8; off++) {
        uint64_t big = UINT64_MAX - 7 + off;
        assert_int_equal(tether_mask(b, a, sizeof a, key, big), 0);
        uint8_t want[37];
        ref_mask(want, a, sizeof a, key, big % 4);
        assert_memory_equal(b, want, sizeof a);
    }
}

/* Masking in pieces with carried offsets equals masking all at once. */
static void test_pieces(void **state) {
    (void)state;
    uint8_t whole[300], parts[300];
    fill(whole, sizeof whole, 3);
    memcpy(parts, whole, sizeof parts);
    tether_mask(whole, whole, sizeof whole, key, 0);
    size_t pos = 0, step = 1;
    while (pos < sizeof parts) {
        size_t n = step < sizeof parts - pos ? step : sizeof parts - pos;
        assert_int_equal(tether_mask(parts + pos, parts + pos, n, key, pos), 0);
        pos += n;
        step = step * 3 % 17 + 1;
    }
    assert_memory_equal(whole, parts, sizeof whole);
}

/* Masking twice gives the input back; RFC 6455 5.7's "Hello" example. */
static void test_involution_and_rfc(void **state) {
    (void)state;
    uint8_t buf[5] = {'H', 'e', 'l', 'l', 'o'};
    static const uint8_t masked[5] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(tether_mask(buf, buf, 5, key, 0), 0);
    assert_memory_equal(buf, masked, 5);
    assert_int_equal(tether_mask(buf, buf, 5, key, 0), 0);
    assert_memory_equal(buf, "Hello", 5);
}

static void test_bad_args(void **state) {
    (void)state;
    uint8_t b[4] = {0};
    assert_int_equal(tether_mask(b, b, 4, NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tether_mask(NULL, b, 4, key, 0), TETHER_E_INVAL);
    assert_int_equal(tether_mask(b, NULL, 4, key, 0), TETHER_E_INVAL);
    /* Nothing to do is fine, even with no buffers. */
    assert_int_equal(tether_mask(NULL, NULL, 0, key, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_alignments_short), cmocka_unit_test(test_all_alignments_large),
        cmocka_unit_test(test_large_offsets),        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_involution_and_rfc),   cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
