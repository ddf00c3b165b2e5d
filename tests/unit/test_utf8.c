/* UTF-8 validation: every sequence boundary, overlongs, surrogates, the
 * U+10FFFF ceiling, truncation, fail-fast position, and incremental feeding
 * compared with an independent reference decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"

/* Reference: decode by the definition (code point ranges), not by tables.
 * Returns 1 if valid and complete. */
static int ref_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t need;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            need = 1, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            need = 2, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            need = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + need >= n) return 0; /* truncated */
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += need + 1;
    }
    return 1;
}

static int tether_valid(const uint8_t *s, size_t n) {
    return tether_utf8_validate(s, n) == 0;
}

/* Index of the first byte at which byte-at-a-time feeding fails, or -1. */
static long fail_index(const char *s, size_t n) {
    uint32_t st = TETHER_UTF8_INIT;
    for (size_t i = 0; i < n; i++)
        if (tether_utf8_feed(&st, s + i, 1) != 0) return (long)i;
    return -1;
}

static void test_boundaries(void **state) {
    (void)state;
    static const char *valid[] = {
        "",
        "\x00",
        "\x7F",
        "\xC2\x80",
        "\xDF\xBF",
        "\xE0\xA0\x80",
        "\xED\x9F\xBF",
        "\xEE\x80\x80",
        "\xEF\xBF\xBF",
        "\xF0\x90\x80\x80",
        "\xF4\x8F\xBF\xBF",
        "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5" /* kosme */,
    };
    size_t lens[] = {0, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 11};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        assert_int_equal(tether_utf8_validate(valid[i], lens[i]), 0);
}

struct bad_case {
    const char *s;
    size_t len;
    long fail_at; /* -1: only the end (truncation) fails */
};

static void test_invalid_fail_fast(void **state) {
    (void)state;
    static const struct bad_case bad[] = {
        {"\x80", 1, 0}, /* lone continuation */
        {"\xBF", 1, 0},
        {"\xC0\x80", 2, 0},     /* overlong NUL */
        {"\xC1\xBF", 2, 0},     /* overlong 2-byte */
        {"\xE0\x80\x80", 3, 1}, /* overlong 3-byte */
        {"\xE0\x9F\xBF", 3, 1},
        {"\xF0\x80\x80\x80", 4, 1}, /* overlong 4-byte */
        {"\xF0\x8F\xBF\xBF", 4, 1},
        {"\xED\xA0\x80", 3, 1},     /* U+D800 */
        {"\xED\xBF\xBF", 3, 1},     /* U+DFFF */
        {"\xF4\x90\x80\x80", 4, 1}, /* U+110000 */
        {"\xF5\x80\x80\x80", 4, 0},
        {"\xFE", 1, 0},
        {"\xFF", 1, 0},
        {"\xC2\x41", 2, 1}, /* lead then ASCII */
        {"\xE1\x80\x41", 3, 2},
        {"\xF1\x80\x80\xC2", 4, 3},
        {"abc\xC2", 4, -1}, /* truncated */
        {"\xE1\x80", 2, -1},
        {"\xF0\x90\x80", 3, -1},
        {"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80"
         "edited",
         20, 12},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tether_utf8_validate(bad[i].s, bad[i].len), TETHER_E_UTF8);
        assert_int_equal(fail_index(bad[i].s, bad[i].len), bad[i].fail_at);
    }
}

static void test_truncation_finish(void **state) {
    (void)state;
    const char *four = "\xF0\x9F\x98\x80"; /* U+1F600 */
    for (size_t cut = 1; cut < 4; cut++) {
        uint32_t st = TETHER_UTF8_INIT;
        assert_int_equal(tether_utf8_feed(&st, four, cut), 0);
        assert_int_equal(tether_utf8_finish(st), TETHER_E_UTF8);
        assert_int_equal(tether_utf8_feed(&st, four + cut, 4 - cut), 0);
        assert_int_equal(tether_utf8_finish(st), 0);
    }
}

static void test_sticky_failure(void **state) {
    (void)state;
    uint32_t st = TETHER_UTF8_INIT;
    assert_int_equal(tether_utf8_feed(&st, "\xC0", 1), TETHER_E_UTF8);
    assert_int_equal(tether_utf8_feed(&st, "a", 1), TETHER_E_UTF8);
    assert_int_equal(tether_utf8_finish(st), TETHER_E_UTF8);
    uint32_t garbage = 0xdeadbeef;
    assert_int_equal(tether_utf8_feed(&garbage, "a", 1), TETHER_E_UTF8);
}

/* Every 1-, 2- and 3-byte string, and every 4-byte string with a lead in
 * E0..F7 and a sampled tail, agrees with the reference decoder. */
static void test_exhaustive_against_reference(void **state) {
    (void)state;
    uint8_t b[4];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (uint8_t)x;
        assert_int_equal(tether_valid(b, 1), ref_valid(b, 1));
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (uint8_t)y;
            assert_int_equal(tether_valid(b, 2), ref_valid(b, 2));
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (uint8_t)z;
                if (tether_valid(b, 3) != ref_valid(b, 3)) fail_msg("%02x %02x %02x", x, y, z);
            }
        }
    }
    for (unsigned x = 0xE0; x < 0xF8; x++)
        for (unsigned y = 0x70; y < 0xD0; y++)
            for (unsigned z = 0x70; z < 0xD0; z += 7)
                for (unsigned w = 0x70; w < 0xD0; w += 5) {
                    b[0] = (uint8_t)x, b[1] = (uint8_t)y, b[2] = (uint8_t)z, b[3] = (uint8_t)w;
                    if (tether_valid(b, 4) != ref_valid(b, 4))
                        fail_msg("%02x %02x %02x %02x", x, y, z, w);
                }
}

/* Random text (mostly valid, some corrupted) fed in random pieces gives the
 * same verdict as one call and as the reference. */
static void test_incremental_random(void **state) {
    (void)state;
    static const char *pieces[] = {"a",
                                   "hello ",
                                   "\xC3\xA9",
                                   "\xE2\x82\xAC",
                                   "\xF0\x9F\x98\x80",
                                   "\xED\x9F\xBF",
                                   "0123456789abcdef"};
    uint8_t buf[512];
    srand(1234);
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        while (n < sizeof buf - 16) {
            const char *p = pieces[rand() % 7];
            size_t l = strlen(p);
            memcpy(buf + n, p, l);
            n += l;
            if (rand() % 8 == 0) break;
        }
        if (iter % 3 == 0 && n) buf[rand() % n] = (uint8_t)rand();
        int expect = ref_valid(buf, n);
        assert_int_equal(tether_valid(buf, n), expect);
        uint32_t st = TETHER_UTF8_INIT;
        int rc = 0;
        for (size_t off = 0; off < n && rc == 0;) {
            size_t k = 1 + (size_t)rand() % 13;
            if (k > n - off) k = n - off;
            rc = tether_utf8_feed(&st, buf + off, k);
            off += k;
        }
        if (rc == 0) rc = tether_utf8_finish(st);
        assert_int_equal(rc == 0, expect);
    }
}

static void test_long_ascii_any_alignment(void **state) {
    (void)state;
    char buf[300];
    memset(buf, 'x', sizeof buf);
    for (size_t off = 0; off < 16; off++) {
        assert_int_equal(tether_utf8_validate(buf + off, sizeof buf - off), 0);
        buf[off + 100] = (char)0x80;
        assert_int_equal(fail_index(buf + off, sizeof buf - off), 100);
        assert_int_equal(tether_utf8_validate(buf + off, sizeof buf - off), TETHER_E_UTF8);
        buf[off + 100] = 'x';
    }
}

/* One non-ASCII sequence at every position of a long ASCII run: the
 * 64-byte and 8-byte skips must stop before it wherever it falls. */
static void test_non_ascii_every_position(void **state) {
    (void)state;
    char buf[300];
    for (size_t pos = 0; pos + 2 <= sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = (char)0xC3; /* U+00E9, valid */
        buf[pos + 1] = (char)0xA9;
        assert_int_equal(tether_utf8_validate(buf, sizeof buf), 0);
        buf[pos] = (char)0xA9; /* a lone continuation byte fails on itself */
        uint32_t st = TETHER_UTF8_INIT;
        assert_int_equal(tether_utf8_feed(&st, buf, pos), 0);
        st = TETHER_UTF8_INIT;
        assert_int_equal(tether_utf8_feed(&st, buf, pos + 1), TETHER_E_UTF8);
        assert_int_equal(tether_utf8_validate(buf, sizeof buf), TETHER_E_UTF8);
    }
}

static void test_bad_arguments(void **state) {
    (void)state;
    uint32_t st = 0;
    assert_int_equal(tether_utf8_feed(NULL, "a", 1), TETHER_E_INVAL);
    assert_int_equal(tether_utf8_feed(&st, NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_utf8_feed(&st, NULL, 0), 0);
    assert_int_equal(tether_utf8_validate(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_utf8_validate(NULL, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_invalid_fail_fast),
        cmocka_unit_test(test_truncation_finish),
        cmocka_unit_test(test_sticky_failure),
        cmocka_unit_test(test_exhaustive_against_reference),
        cmocka_unit_test(test_incremental_random),
        cmocka_unit_test(test_long_ascii_any_alignment),
        cmocka_unit_test(test_non_ascii_every_position),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
