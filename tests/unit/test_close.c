/* Close codes and close payloads (RFC 6455 5.5.1, 7.4). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"

static void test_code_sets(void **state) {
    (void)state;
    for (int c = -1; c < 6000; c++) {
        int expect =
            (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        assert_int_equal(tether_close_code_sendable(c), expect);
        assert_int_equal(tether_close_code_valid(c), expect);
    }
    /* The ones never allowed on the wire, by name. */
    assert_false(tether_close_code_valid(TETHER_CLOSE_NO_STATUS));
    assert_false(tether_close_code_valid(TETHER_CLOSE_ABNORMAL));
    assert_false(tether_close_code_valid(TETHER_CLOSE_TLS_HANDSHAKE));
    assert_false(tether_close_code_valid(1004));
    assert_false(tether_close_code_valid(1016));
    assert_false(tether_close_code_valid(2999));
    assert_false(tether_close_code_valid(65535));
}

static void test_build_and_parse_round_trip(void **state) {
    (void)state;
    uint8_t buf[TETHER_MAX_CONTROL_PAYLOAD];
    size_t n;
    assert_int_equal(tether_close_build(1000, "bye", 3, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(buf,
                        "\x03\xe8"
                        "bye",
                        5);
    int code;
    const char *reason;
    size_t rlen;
    assert_int_equal(tether_close_parse(buf, n, &code, &reason, &rlen), 0);
    assert_int_equal(code, 1000);
    assert_int_equal(rlen, 3);
    assert_memory_equal(reason, "bye", 3);

    /* A reason of exactly 123 bytes fits; 124 does not. */
    char r[124];
    memset(r, 'r', sizeof r);
    assert_int_equal(tether_close_build(4000, r, 123, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 125);
    assert_int_equal(tether_close_parse(buf, n, &code, &reason, &rlen), 0);
    assert_int_equal(code, 4000);
    assert_int_equal(tether_close_build(4000, r, 124, buf, sizeof buf, &n), TETHER_E_CLOSE_PAYLOAD);
}

static void test_build_errors(void **state) {
    (void)state;
    uint8_t buf[16];
    size_t n;
    assert_int_equal(tether_close_build(0, NULL, 0, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tether_close_build(0, "x", 1, buf, sizeof buf, &n), TETHER_E_CLOSE_PAYLOAD);
    assert_int_equal(tether_close_build(1005, NULL, 0, buf, sizeof buf, &n), TETHER_E_CLOSE_CODE);
    assert_int_equal(tether_close_build(1006, NULL, 0, buf, sizeof buf, &n), TETHER_E_CLOSE_CODE);
    assert_int_equal(tether_close_build(999, NULL, 0, buf, sizeof buf, &n), TETHER_E_CLOSE_CODE);
    assert_int_equal(tether_close_build(1000, "\xC0\x80", 2, buf, sizeof buf, &n), TETHER_E_UTF8);
    assert_int_equal(tether_close_build(1000, "0123456789abcdef", 16, buf, sizeof buf, &n),
                     TETHER_E_NOSPC);
    assert_int_equal(tether_close_build(1000, NULL, 3, buf, sizeof buf, &n), TETHER_E_INVAL);
    assert_int_equal(tether_close_build(1000, NULL, 0, buf, sizeof buf, NULL), TETHER_E_INVAL);
}

static void test_parse_errors(void **state) {
    (void)state;
    int code;
    const char *reason;
    size_t rlen;
    assert_int_equal(tether_close_parse((const uint8_t *)"", 0, &code, &reason, &rlen), 0);
    assert_int_equal(code, TETHER_CLOSE_NO_STATUS);
    assert_int_equal(rlen, 0);
    assert_int_equal(tether_close_parse((const uint8_t *)"\x03", 1, &code, &reason, &rlen),
                     TETHER_E_CLOSE_PAYLOAD);
    assert_int_equal(tether_close_parse((const uint8_t *)"\x03\xed", 2, &code, &reason, &rlen),
                     TETHER_E_CLOSE_CODE); /* 1005 */
    assert_int_equal(tether_close_parse((const uint8_t *)"\x00\x00", 2, &code, &reason, &rlen),
                     TETHER_E_CLOSE_CODE);
    assert_int_equal(tether_close_parse((const uint8_t *)"\x03\xe8\xff", 3, &code, &reason, &rlen),
                     TETHER_E_UTF8);
    assert_int_equal(tether_close_parse(NULL, 2, &code, &reason, &rlen), TETHER_E_INVAL);
    assert_int_equal(tether_close_parse((const uint8_t *)"\x03\xe8", 2, NULL, &reason, &rlen),
                     TETHER_E_INVAL);
}

static void test_error_mapping(void **state) {
    (void)state;
    assert_int_equal(tether_error_close_code(TETHER_E_UTF8), 1007);
    assert_int_equal(tether_error_close_code(TETHER_E_MASK), 1002);
    assert_int_equal(tether_error_close_code(TETHER_E_MESSAGE_TOO_BIG), 1009);
    assert_int_equal(tether_error_close_code(TETHER_E_FRAME_TOO_BIG), 1009);
    assert_int_equal(tether_error_close_code(TETHER_E_INVAL), 0);
    assert_int_equal(tether_error_http_status(TETHER_E_HS_VERSION), 426);
    assert_int_equal(tether_error_http_status(TETHER_E_HS_TOO_BIG), 431);
    assert_int_equal(tether_error_http_status(TETHER_E_UTF8), 0);
    assert_string_equal(tether_strerror(TETHER_E_UTF8), "invalid UTF-8");
    assert_string_equal(tether_strerror(12345), "unknown error");
    assert_string_equal(tether_version(), TETHER_VERSION_STRING);
    /* Every code of enum tether_error has a name of its own (not the
     * fallback, not another code's), and every protocol error (-100s) maps
     * to the close code a compliant endpoint sends. */
    static const int codes[] = {
        TETHER_OK,
        TETHER_E_INVAL,
        TETHER_E_NOMEM,
        TETHER_E_AGAIN,
        TETHER_E_NOSPC,
        TETHER_E_STATE,
        TETHER_E_RANDOM,
        TETHER_E_ZLIB,
        TETHER_E_IO,
        TETHER_E_CONNECT,
        TETHER_E_DNS,
        TETHER_E_TIMEOUT,
        TETHER_E_BACKPRESSURE,
        TETHER_E_CLOSED,
        TETHER_E_RSV,
        TETHER_E_OPCODE,
        TETHER_E_MASK,
        TETHER_E_LENGTH,
        TETHER_E_CONTROL_LENGTH,
        TETHER_E_CONTROL_FRAGMENTED,
        TETHER_E_CONTINUATION,
        TETHER_E_FRAGMENT,
        TETHER_E_FRAME_TOO_BIG,
        TETHER_E_MESSAGE_TOO_BIG,
        TETHER_E_UTF8,
        TETHER_E_CLOSE_CODE,
        TETHER_E_CLOSE_PAYLOAD,
        TETHER_E_INFLATE,
        TETHER_E_HS_MALFORMED,
        TETHER_E_HS_TOO_BIG,
        TETHER_E_HS_METHOD,
        TETHER_E_HS_UPGRADE,
        TETHER_E_HS_VERSION,
        TETHER_E_HS_KEY,
        TETHER_E_HS_STATUS,
        TETHER_E_HS_ACCEPT,
        TETHER_E_HS_PROTOCOL,
        TETHER_E_HS_EXTENSION,
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(tether_strerror(codes[i]), "unknown error");
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(tether_strerror(codes[i]), tether_strerror(codes[k]));
        if (codes[i] <= -100 && codes[i] > -200) assert_true(tether_error_close_code(codes[i]) > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_sets),     cmocka_unit_test(test_build_and_parse_round_trip),
        cmocka_unit_test(test_build_errors),  cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_error_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
