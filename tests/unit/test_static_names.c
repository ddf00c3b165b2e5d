/* What a static file server reads from a request and writes back: request
 * paths made into names under a directory (nothing may leave it), HTTP
 * dates in their three forms, and media types by extension. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/content_type.h"
#include "proto/http_date.h"
#include "proto/url_path.h"
#include "tether.h"

static void expect_name(const char *path, const char *name, int dir) {
    char out[64];
    int d = -1, n = tt_url_path_decode(path, out, sizeof out, &d);
    if (n < 0) fail_msg("%s: error %d", path, n);
    assert_string_equal(out, name);
    assert_int_equal(n, (int)strlen(name));
    assert_int_equal(d, dir);
}

static void test_path_names(void **state) {
    (void)state;
    expect_name("/", "", 1);
    expect_name("/a.txt", "a.txt", 0);
    expect_name("/a/b/", "a/b", 1);
    expect_name("//a///b", "a/b", 0);
    expect_name("/a?x=/../y", "a", 0); /* the query is not the path */
    expect_name("/%41%62c", "Abc", 0);
    expect_name("/a%20b", "a b", 0);
    expect_name("/...", "...", 0); /* only exactly "." and ".." are special */
    expect_name("/.hidden/..x", ".hidden/..x", 0);
    expect_name("/a%3Fb", "a?b", 0);
}

static void test_path_refused(void **state) {
    (void)state;
    static const char *bad[] = {
        "",     "a",    "/..",      "/../x", "/a/../b",   "/a/..",  "/.",
        "/./a", "/%2e", "/%2E%2e/", "/.%2e", "/a%2fb",    "/a%2Fb", "/a%00b",
        "/%",   "/%4",  "/%g0",     "/%0g",  "/a/%2e%2e", "/%2e/a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[64];
        int d;
        int rc = tt_url_path_decode(bad[i], out, sizeof out, &d);
        if (rc != TETHER_E_INVAL) fail_msg("'%s' gave %d", bad[i], rc);
    }
    char out[8];
    int d;
    assert_int_equal(tt_url_path_decode(NULL, out, sizeof out, &d), TETHER_E_INVAL);
    assert_int_equal(tt_url_path_decode("/abcdefgh", out, sizeof out, &d), TETHER_E_NOSPC);
    assert_int_equal(tt_url_path_decode("/abc/defg", out, sizeof out, &d), TETHER_E_NOSPC);
    assert_int_equal(tt_url_path_decode("/abc/def", out, sizeof out, &d), 7);
}

static void test_dates(void **state) {
    (void)state;
    char s[TT_HTTP_DATE_SIZE];
    tt_http_date_format(784111777, s);
    assert_string_equal(s, "Sun, 06 Nov 1994 08:49:37 GMT");
    time_t t = 0;
    assert_int_equal(tt_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    t = 0;
    assert_int_equal(tt_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    t = 0;
    assert_int_equal(tt_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(tt_http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 0);
    /* two-digit years below 70 are in this century */
    assert_int_equal(tt_http_date_parse("Monday, 01-Jan-30 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 1893456000);
    static const char *bad[] = {
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT", /* November has 30 days */
        "Fri, 31 Dec 9999 23:59:60 GMT", /* past the last day a date can name */
        "Sun, 06 Nov 1994 24:49:37 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "Sun, 06 Nov 1994 -8:49:37 GMT",
        "Sun Nov  6 08:49:37 1994 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tt_http_date_parse(bad[i], &t) == 0) fail_msg("'%s' was read", bad[i]);
    assert_int_equal(tt_http_date_parse(NULL, &t), TETHER_E_INVAL);
}

static void test_types(void **state) {
    (void)state;
    assert_string_equal(tt_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(tt_content_type("a/b/app.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(tt_content_type("x.tar.gz"), "application/gzip");
    assert_string_equal(tt_content_type("logo.svg"), "image/svg+xml");
    assert_string_equal(tt_content_type("f.wasm"), "application/wasm");
    assert_string_equal(tt_content_type("README"), "application/octet-stream");
    assert_string_equal(tt_content_type(".html"), "application/octet-stream");
    assert_string_equal(tt_content_type("dir.html/file"), "application/octet-stream");
    assert_string_equal(tt_content_type("a.unknown"), "application/octet-stream");
    assert_string_equal(tt_content_type(NULL), "application/octet-stream");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_names),
        cmocka_unit_test(test_path_refused),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
