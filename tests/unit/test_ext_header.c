/* Sec-WebSocket-Extensions tokenizer: valid lists rendered back to a
 * canonical form, quoted-string unescaping, white space, empty elements,
 * limits, malformed input, and the visitor's early stop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"
#include "proto/ext_header.h"

/* Renders what the visitor saw as "name[;p[=v]]..|name..." so a whole parse
 * can be compared with one string. */
struct render {
    char text[2048];
    size_t calls;
    size_t stop_at; /* return 42 from this call (1-based), 0: never */
};

static int visit_render(void *ctx, const char *name, const tt_ext_param *params, size_t n) {
    struct render *r = ctx;
    size_t len = strlen(r->text);
    len += (size_t)snprintf(r->text + len, sizeof r->text - len, "%s%s", r->calls ? "|" : "", name);
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(r->text + len, sizeof r->text - len, ";%s", params[i].name);
        if (params[i].value != NULL)
            len += (size_t)snprintf(r->text + len, sizeof r->text - len, "=<%s>", params[i].value);
    }
    r->calls++;
    return r->calls == r->stop_at ? 42 : 0;
}

static int parse(const char *header, struct render *r) {
    memset(r, 0, sizeof *r);
    return tt_ext_parse(header, strlen(header), visit_render, r);
}

static void expect(const char *header, const char *rendered) {
    struct render r;
    int rc = parse(header, &r);
    if (rc != 0) fail_msg("rc %d for \"%s\"", rc, header);
    assert_string_equal(r.text, rendered);
}

static void expect_malformed(const char *header) {
    struct render r;
    int rc = parse(header, &r);
    if (rc != TETHER_E_HS_EXTENSION) fail_msg("rc %d for \"%s\"", rc, header);
    /* The visitor is never called for a malformed header. */
    assert_int_equal(r.calls, 0);
}

static void test_simple(void **state) {
    (void)state;
    expect("permessage-deflate", "permessage-deflate");
    expect("permessage-deflate; client_max_window_bits",
           "permessage-deflate;client_max_window_bits");
    expect("permessage-deflate; server_max_window_bits=10; client_max_window_bits",
           "permessage-deflate;server_max_window_bits=<10>;client_max_window_bits");
    expect("a, b; x=1, c", "a|b;x=<1>|c");
    expect("foo;bar;baz=qux", "foo;bar;baz=<qux>");
}

static void test_whitespace(void **state) {
    (void)state;
    expect("  a  ;  x  =  1  ,\t b\t;y\t", "a;x=<1>|b;y");
    expect("a;x= \"v\" ", "a;x=<v>");
}

static void test_empty_elements(void **state) {
    (void)state;
    expect("", "");
    expect("   ", "");
    expect(",", "");
    expect(", ,\t,", "");
    expect(",a,,b,", "a|b");
    expect("a , , b", "a|b");
}

static void test_quoted(void **state) {
    (void)state;
    expect("a; x=\"10\"", "a;x=<10>");
    expect("a; x=\"\"", "a;x=<>");
    expect("a; x=\"a b,c;d=e\"", "a;x=<a b,c;d=e>");
    expect("a; x=\"\\1\\0\"", "a;x=<10>");
    expect("a; x=\"q\\\"q\\\\\"", "a;x=<q\"q\\>");
    expect("a; x=\"\xc3\xa9\"", "a;x=<\xc3\xa9>"); /* obs-text */
}

static void test_malformed(void **state) {
    (void)state;
    static const char *bad[] = {
        ";",
        "a;",
        "a; ;",
        "a;=1",
        "a;x=",
        "a;x= ",
        "a;x=;y",
        "a;x=1=2",
        "a b",
        "a;x y",
        "a;x=1 2",
        "a;x=\"unterminated",
        "a;x=\"ends in backslash\\",
        "a;x=\"ctl\x01\"",
        "a;x=\"del\x7f\"",
        "a;x=\"tab ok\"junk",
        "a;x=(1)",
        "a/b",
        "\"a\"",
        "a;\"x\"=1",
        "a,b;",
        "a;x=@",
        "a;x=1,b c",
        "\xc3\xa9",
        "a\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_malformed(bad[i]);
}

static void test_embedded_nul(void **state) {
    (void)state;
    struct render r;
    memset(&r, 0, sizeof r);
    assert_int_equal(tt_ext_parse("a\0b", 3, visit_render, &r), TETHER_E_HS_EXTENSION);
    assert_int_equal(tt_ext_parse("a;x=\"\0\"", 7, visit_render, &r), TETHER_E_HS_EXTENSION);
    /* len bounds the input: a NUL after it is never read. */
    assert_int_equal(tt_ext_parse("ab;x\0", 4, visit_render, &r), 0);
    assert_string_equal(r.text, "ab;x");
}

static void test_param_limit(void **state) {
    (void)state;
    char header[512] = "a";
    for (int i = 0; i < TT_EXT_MAX_PARAMS; i++)
        snprintf(header + strlen(header), sizeof header - strlen(header), ";p%d", i);
    struct render r;
    assert_int_equal(parse(header, &r), 0);
    assert_int_equal(r.calls, 1);
    strcat(header, ";one_too_many");
    expect_malformed(header);
    /* The limit is per extension, not per header. */
    char two[1024];
    snprintf(two, sizeof two, "%s, %s", header + 0, "b;x");
    expect_malformed(two);
}

static void test_long_values(void **state) {
    (void)state;
    char header[4096];
    /* A value that fits in the scratch space... */
    memset(header, 0, sizeof header);
    strcpy(header, "a;x=");
    memset(header + 4, 'v', 900);
    struct render r;
    assert_int_equal(parse(header, &r), 0);
    /* ...and one that does not: refused, not truncated. */
    memset(header + 4, 'v', 3000);
    expect_malformed(header);
    strcpy(header, "a;x=\"");
    memset(header + 5, 'q', 3000);
    strcat(header, "\"");
    expect_malformed(header);
}

static void test_visitor_stop(void **state) {
    (void)state;
    struct render r;
    memset(&r, 0, sizeof r);
    r.stop_at = 2;
    const char *h = "a, b, c";
    assert_int_equal(tt_ext_parse(h, strlen(h), visit_render, &r), 42);
    assert_int_equal(r.calls, 2);
    assert_string_equal(r.text, "a|b");
    /* Even when the visitor would stop early, a malformed tail is found
     * first: the whole header is checked before any visit. */
    memset(&r, 0, sizeof r);
    r.stop_at = 1;
    h = "a, b c";
    assert_int_equal(tt_ext_parse(h, strlen(h), visit_render, &r), TETHER_E_HS_EXTENSION);
    assert_int_equal(r.calls, 0);
}

static void test_null_args(void **state) {
    (void)state;
    assert_int_equal(tt_ext_parse(NULL, 0, NULL, NULL), 0);
    assert_int_equal(tt_ext_parse(NULL, 5, NULL, NULL), TETHER_E_HS_EXTENSION);
    assert_int_equal(tt_ext_parse("a;b", 3, NULL, NULL), 0);
    assert_int_equal(tt_ext_parse("a;", 2, NULL, NULL), TETHER_E_HS_EXTENSION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),         cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_empty_elements), cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_malformed),      cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_param_limit),    cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_visitor_stop),   cmocka_unit_test(test_null_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
