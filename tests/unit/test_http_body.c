/* Request bodies: Content-Length countdown and the chunked coding, fed
 * whole and one byte at a time; limits and malformed framing; response
 * heads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/http_body.h"
#include "proto/http_response.h"
#include "tether.h"

/* Runs input through b in steps of `step` bytes; collects the payload.
 * Returns the final result (0 complete, AGAIN, or an error) and sets *used
 * to the bytes consumed in all. */
static int run(tt_http_body *b, const char *in, size_t step, char *out, size_t *outlen,
               size_t *used) {
    size_t len = strlen(in), off = 0;
    *outlen = 0;
    int rc = TETHER_E_AGAIN;
    while (off <= len) {
        size_t n = len - off < step ? len - off : step, u;
        const uint8_t *d;
        size_t dl;
        rc = tt_http_body_next(b, (const uint8_t *)in + off, n, &u, &d, &dl);
        off += u;
        if (rc == 1) {
            memcpy(out + *outlen, d, dl);
            *outlen += dl;
            continue;
        }
        if (rc != TETHER_E_AGAIN || off == len) break;
    }
    *used = off;
    return rc;
}

static void test_chunked(void **state) {
    (void)state;
    const char *in = "5\r\nhello\r\n1;ext=1\r\n \r\n6 ; x\r\nworld!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    for (size_t step = 1; step <= strlen(in); step++) {
        tt_http_body b;
        tt_http_body_chunked(&b, 1000);
        char out[64];
        size_t outlen, used;
        assert_int_equal(run(&b, in, step, out, &outlen, &used), 0);
        assert_int_equal(outlen, 12);
        assert_memory_equal(out, "hello world!", 12);
        assert_int_equal(used, strlen(in) - 4); /* the next request is not ours */
    }
}

static void test_length(void **state) {
    (void)state;
    tt_http_body b;
    char out[64];
    size_t outlen, used;
    tt_http_body_length(&b, 5, 100);
    assert_int_equal(run(&b, "abcdefg", 2, out, &outlen, &used), 0);
    assert_int_equal(outlen, 5);
    assert_int_equal(used, 5);
    tt_http_body_length(&b, 0, 100);
    assert_int_equal(run(&b, "x", 1, out, &outlen, &used), 0);
    assert_int_equal(used, 0);
    tt_http_body_length(&b, 101, 100);
    assert_int_equal(run(&b, "x", 1, out, &outlen, &used), TETHER_E_HS_TOO_BIG);
    tt_http_body_length(&b, 10, 100);
    assert_int_equal(run(&b, "abc", 1, out, &outlen, &used), TETHER_E_AGAIN);
    assert_int_equal(outlen, 3);
}

static void test_chunked_bad(void **state) {
    (void)state;
    static const char *const bad[] = {
        "\r\n",                   /* no size */
        "g\r\n",                  /* not hex */
        "5\nhello\r\n",           /* bare LF */
        "5\r\nhelloX\r\n",        /* data longer than its size */
        "1 x\r\n",                /* white space not before a ';' */
        "10000000000000000\r\n",  /* overflows 64 bits */
        "0\r\nBad\nline\r\n\r\n", /* bare LF in a trailer */
        "1;\x01\r\n",             /* accepted: extensions are skipped ... */
    };
    for (size_t i = 0; i + 1 < sizeof bad / sizeof bad[0]; i++) {
        tt_http_body b;
        tt_http_body_chunked(&b, 1u << 20);
        char out[64];
        size_t outlen, used;
        assert_int_equal(run(&b, bad[i], 1, out, &outlen, &used), TETHER_E_HS_MALFORMED);
        /* sticky */
        const uint8_t *d;
        size_t dl;
        assert_int_equal(tt_http_body_next(&b, (const uint8_t *)"0", 1, &used, &d, &dl),
                         TETHER_E_HS_MALFORMED);
    }
    /* the limit counts every chunk's declared size */
    tt_http_body b;
    tt_http_body_chunked(&b, 8);
    char out[64];
    size_t outlen, used;
    assert_int_equal(run(&b, "5\r\nhello\r\n4\r\n", 3, out, &outlen, &used), TETHER_E_HS_TOO_BIG);
    /* a long size line and an endless trailer are refused */
    char *line = malloc(2 * TT_HTTP_BODY_MAX_TRAILER + 64);
    memset(line, '0', TT_HTTP_BODY_MAX_LINE + 8);
    strcpy(line + TT_HTTP_BODY_MAX_LINE + 8, "\r\n");
    tt_http_body_chunked(&b, 100);
    assert_int_equal(run(&b, line, 4096, out, &outlen, &used), TETHER_E_HS_MALFORMED);
    strcpy(line, "0\r\n");
    for (size_t n = 3; n < 2 * TT_HTTP_BODY_MAX_TRAILER; n += 5)
        memcpy(line + n, "a:b\r\n", 6);
    tt_http_body_chunked(&b, 100);
    assert_int_equal(run(&b, line, 4096, out, &outlen, &used), TETHER_E_HS_MALFORMED);
    free(line);
}

static void test_content_length_values(void **state) {
    (void)state;
    uint64_t v;
    assert_int_equal(tt_http_parse_length("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(tt_http_parse_length("12345", &v), 0);
    assert_int_equal(v, 12345);
    assert_int_equal(tt_http_parse_length("", &v), TETHER_E_HS_MALFORMED);
    assert_int_equal(tt_http_parse_length("+1", &v), TETHER_E_HS_MALFORMED);
    assert_int_equal(tt_http_parse_length("1, 1", &v), TETHER_E_HS_MALFORMED);
    assert_int_equal(tt_http_parse_length("99999999999999999999", &v), TETHER_E_HS_MALFORMED);
}

static void test_response_head(void **state) {
    (void)state;
    tt_strbuf b = {0}, extra = {0};
    tt_strbuf_adds(&extra, "Content-Type: text/plain\r\n");
    tt_http_response_head(&b, 200, &extra, 5, 0, 784111777); /* 1994-11-06 08:49:37 */
    assert_string_equal(tt_strbuf_str(&b), "HTTP/1.1 200 OK\r\n"
                                           "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                                           "Content-Type: text/plain\r\n"
                                           "Content-Length: 5\r\n\r\n");
    tt_strbuf_reset(&b);
    tt_http_response_head(&b, 404, NULL, -1, 1, 0);
    assert_non_null(strstr(tt_strbuf_str(&b), "404 Not Found\r\n"));
    assert_non_null(
        strstr(tt_strbuf_str(&b), "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
    tt_strbuf_reset(&b);
    tt_http_response_head(&b, 204, NULL, 0, 0, 0);
    assert_null(strstr(tt_strbuf_str(&b), "Content-Length"));
    assert_string_equal(tt_http_reason(599), "Server Error");
    tt_strbuf_free(&b);
    tt_strbuf_free(&extra);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked),       cmocka_unit_test(test_length),
        cmocka_unit_test(test_chunked_bad),   cmocka_unit_test(test_content_length_values),
        cmocka_unit_test(test_response_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
