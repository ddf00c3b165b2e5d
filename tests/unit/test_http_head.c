/* The internal HTTP/1.1 head parser and token-list helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/http_head.h"
#include "proto/http_token.h"
#include "tether.h"

static const char request[] = "GET /chat?x=1 HTTP/1.1\r\n"
                              "Host: server.example.com\r\n"
                              "upgrade: websocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "X-Multi: a\r\n"
                              "Empty:\r\n"
                              "x-multi:  b \t\r\n"
                              "\r\n";

/* Feeds s in one go; returns the feed result, with *used. */
static int feed_all(tt_http_head *h, const char *s, size_t n, size_t *used) {
    return tt_http_head_feed(h, (const uint8_t *)s, n, used);
}

static int parse_one(tt_http_kind kind, const char *s) {
    tt_http_head h;
    size_t used;
    tt_http_head_init(&h, kind);
    int rc = feed_all(&h, s, strlen(s), &used);
    tt_http_head_release(&h);
    return rc;
}

static void check_request(const tt_http_head *h) {
    const char *name, *value;
    assert_true(tt_http_head_done(h));
    assert_string_equal(tt_http_head_method(h), "GET");
    assert_string_equal(tt_http_head_target(h), "/chat?x=1");
    assert_null(tt_http_head_reason(h));
    assert_int_equal(h->major, 1);
    assert_int_equal(h->minor, 1);
    assert_int_equal(tt_http_head_count(h), 6);
    assert_int_equal(tt_http_head_at(h, 1, &name, &value), 0);
    assert_string_equal(name, "upgrade");
    assert_string_equal(value, "websocket");
    assert_int_equal(tt_http_head_at(h, 4, &name, &value), 0);
    assert_string_equal(value, "");
    assert_int_equal(tt_http_head_at(h, 5, &name, &value), 0);
    assert_string_equal(name, "x-multi");
    assert_string_equal(value, "b");
    assert_int_equal(tt_http_head_at(h, 6, &name, &value), TETHER_E_INVAL);
    assert_string_equal(tt_http_head_get(h, "HOST"), "server.example.com");
    assert_string_equal(tt_http_head_get(h, "Upgrade"), "websocket");
    assert_string_equal(tt_http_head_get(h, "X-MULTI"), "a, b");
    assert_string_equal(tt_http_head_get(h, "empty"), "");
    assert_null(tt_http_head_get(h, "Missing"));
    assert_null(tt_http_head_get(h, "Hos"));
    assert_int_equal(tt_http_head_occurrences(h, "x-multi"), 2);
    assert_int_equal(tt_http_head_occurrences(h, "host"), 1);
}

static void test_request(void **state) {
    (void)state;
    tt_http_head h;
    size_t used;
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_null(tt_http_head_method(&h));
    assert_null(tt_http_head_get(&h, "Host"));
    assert_int_equal(tt_http_head_count(&h), 0);
    assert_int_equal(feed_all(&h, request, strlen(request), &used), 0);
    assert_int_equal(used, strlen(request));
    check_request(&h);
    /* Complete: further input is not ours. */
    assert_int_equal(feed_all(&h, "abc", 3, &used), 0);
    assert_int_equal(used, 0);
    tt_http_head_release(&h);
}

/* Every split into two pieces, then one byte at a time. */
static void test_request_split_everywhere(void **state) {
    (void)state;
    size_t n = strlen(request);
    for (size_t k = 0; k <= n; k++) {
        tt_http_head h;
        size_t used;
        tt_http_head_init(&h, TT_HTTP_REQUEST);
        int rc = feed_all(&h, request, k, &used);
        assert_int_equal(rc, k == n ? 0 : TETHER_E_AGAIN);
        assert_int_equal(used, k);
        if (k < n) {
            assert_int_equal(feed_all(&h, request + k, n - k, &used), 0);
            assert_int_equal(used, n - k);
        }
        check_request(&h);
        tt_http_head_release(&h);
    }
    tt_http_head h;
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    for (size_t i = 0; i < n; i++) {
        size_t used;
        assert_int_equal(feed_all(&h, request + i, 1, &used), i + 1 == n ? 0 : TETHER_E_AGAIN);
        assert_int_equal(used, 1);
    }
    check_request(&h);
    tt_http_head_release(&h);
}

static void test_bytes_after_head_left(void **state) {
    (void)state;
    char buf[512];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s\x81\x05hello", request);
    tt_http_head h;
    size_t used;
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(feed_all(&h, buf, n, &used), 0);
    assert_int_equal(used, strlen(request));
    tt_http_head_release(&h);
    /* Split so the head ends inside the second piece. */
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(feed_all(&h, buf, 10, &used), TETHER_E_AGAIN);
    assert_int_equal(feed_all(&h, buf + 10, n - 10, &used), 0);
    assert_int_equal(used, strlen(request) - 10);
    tt_http_head_release(&h);
}

static void test_response(void **state) {
    (void)state;
    tt_http_head h;
    size_t used;
    const char *r = "HTTP/1.1 403 Forbidden Here\r\nX-Why: because\r\n\r\n";
    tt_http_head_init(&h, TT_HTTP_RESPONSE);
    assert_int_equal(tt_http_head_status(&h), 0);
    assert_int_equal(feed_all(&h, r, strlen(r), &used), 0);
    assert_int_equal(tt_http_head_status(&h), 403);
    assert_string_equal(tt_http_head_reason(&h), "Forbidden Here");
    assert_null(tt_http_head_method(&h));
    assert_null(tt_http_head_target(&h));
    assert_string_equal(tt_http_head_get(&h, "x-why"), "because");
    tt_http_head_release(&h);

    /* No reason phrase, with or without its space. */
    const char *bare[] = {"HTTP/1.1 101\r\n\r\n", "HTTP/1.1 101 \r\n\r\n"};
    for (size_t i = 0; i < 2; i++) {
        tt_http_head_init(&h, TT_HTTP_RESPONSE);
        assert_int_equal(feed_all(&h, bare[i], strlen(bare[i]), &used), 0);
        assert_int_equal(tt_http_head_status(&h), 101);
        assert_string_equal(tt_http_head_reason(&h), "");
        assert_int_equal(tt_http_head_count(&h), 0);
        tt_http_head_release(&h);
    }
}

static void test_malformed(void **state) {
    (void)state;
    static const char *const bad_requests[] = {
        "GET / HTTP/1.1\nHost: a\r\n\r\n",                 /* bare LF ends the start line */
        "GET / HTTP/1.1\r\nHost: a\n\r\n",                 /* bare LF ends a field */
        "GET / HTTP/1.1\r\nHost: a\r\n\n",                 /* bare LF ends the head */
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",            /* bare CR */
        "GET / HTTP/1.1\r\nHost: a\r\n continued\r\n\r\n", /* obs-fold */
        "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",             /* leading white space */
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",              /* space before the colon */
        "GET / HTTP/1.1\r\n: a\r\n\r\n",                   /* empty name */
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",                /* no colon */
        "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",              /* name not a token */
        "GET / HTTP/1.1\r\nX: a\x01-b\r\n\r\n",            /* control byte */
        "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",              /* DEL */
        "\r\nGET / HTTP/1.1\r\n\r\n",                      /* empty line first */
        "G(T / HTTP/1.1\r\n\r\n",                          /* method not a token */
        "GET  / HTTP/1.1\r\n\r\n",                         /* double space */
        "GET / HTTP/1.1 \r\n\r\n",                         /* trailing space */
        "GET /\x01 HTTP/1.1\r\n\r\n",                      /* control byte in target */
        "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",                  /* raw non-ASCII in target */
        "GET / HTTP/1.10\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET / HTTP/1\r\n\r\n",
        "GET / HTTP/a.1\r\n\r\n",
        "GET /\r\n\r\n",
        "GET\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        if (parse_one(TT_HTTP_REQUEST, bad_requests[i]) != TETHER_E_HS_MALFORMED)
            fail_msg("request %zu accepted: %s", i, bad_requests[i]);
    }
    /* A NUL in a value (strlen would stop there, so give the length). */
    static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    tt_http_head h;
    size_t used;
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(feed_all(&h, nul, sizeof nul - 1, &used), TETHER_E_HS_MALFORMED);
    /* Errors are sticky. */
    assert_int_equal(feed_all(&h, "\r\n", 2, &used), TETHER_E_HS_MALFORMED);
    assert_false(tt_http_head_done(&h));
    tt_http_head_release(&h);

    static const char *const bad_responses[] = {
        "HTTP/1.1 1011 X\r\n\r\n",    "HTTP/1.1 10 X\r\n\r\n",
        "HTTP/1.1 099 X\r\n\r\n",     "HTTP/1.1  101 X\r\n\r\n",
        "HTTP/1.1 101X\r\n\r\n",      "HTTP/1.1 1a1 X\r\n\r\n",
        "HTTP/1.1 101 A\x01\r\n\r\n", "HTTP/1.1\r\n\r\n",
        "ICY 200 OK\r\n\r\n",         "HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad_responses / sizeof bad_responses[0]; i++) {
        if (parse_one(TT_HTTP_RESPONSE, bad_responses[i]) != TETHER_E_HS_MALFORMED)
            fail_msg("response %zu accepted: %s", i, bad_responses[i]);
    }
}

static void test_values(void **state) {
    (void)state;
    tt_http_head h;
    size_t used;
    const char *r = "GET / HTTP/1.1\r\nA: \t x  y \t\r\nB: caf\xc3\xa9\r\nC:\t\r\n\r\n";
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(feed_all(&h, r, strlen(r), &used), 0);
    assert_string_equal(tt_http_head_get(&h, "a"), "x  y");
    assert_string_equal(tt_http_head_get(&h, "b"), "caf\xc3\xa9"); /* obs-text kept */
    assert_string_equal(tt_http_head_get(&h, "c"), "");
    tt_http_head_release(&h);

    /* A name that is a prefix of another is a different field (found by the
     * fuzzer: joining once compared only the prefix). */
    r = "GET / HTTP/1.1\r\nIn: 1\r\nInx: 2\r\nin: 3\r\nINX: 4\r\nI: 5\r\n\r\n";
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(feed_all(&h, r, strlen(r), &used), 0);
    assert_string_equal(tt_http_head_get(&h, "in"), "1, 3");
    assert_string_equal(tt_http_head_get(&h, "inx"), "2, 4");
    assert_string_equal(tt_http_head_get(&h, "i"), "5");
    assert_int_equal(tt_http_head_occurrences(&h, "in"), 2);
    tt_http_head_release(&h);
}

/* Builds a request head of exactly `total` bytes and `fields` fields. */
static char *make_head(size_t total, size_t fields) {
    char *s = malloc(total + 1);
    assert_non_null(s);
    size_t n = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");
    for (size_t i = 0; i + 1 < fields; i++)
        n += (size_t)sprintf(s + n, "F%zu: v\r\n", i);
    /* The last field pads the head to the size wanted. */
    size_t pad = total - n - strlen("X: \r\n\r\n");
    n += (size_t)sprintf(s + n, "X: ");
    memset(s + n, 'p', pad);
    n += pad;
    n += (size_t)sprintf(s + n, "\r\n\r\n");
    assert_int_equal(n, total);
    return s;
}

static int parse_limited(const char *s, size_t max_bytes, size_t max_fields, int bytewise) {
    tt_http_head h;
    size_t used, n = strlen(s);
    int rc = TETHER_E_AGAIN;
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(tt_http_head_set_max_bytes(&h, max_bytes), 0);
    assert_int_equal(tt_http_head_set_max_fields(&h, max_fields), 0);
    if (!bytewise) rc = feed_all(&h, s, n, &used);
    for (size_t i = 0; bytewise && i < n && rc == TETHER_E_AGAIN; i++)
        rc = feed_all(&h, s + i, 1, &used);
    if (rc == 0) assert_int_equal(h.head_len, n);
    tt_http_head_release(&h);
    return rc;
}

static void test_limits(void **state) {
    (void)state;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        char *s = make_head(300, 5);
        assert_int_equal(parse_limited(s, 300, 5, bytewise), 0);
        assert_int_equal(parse_limited(s, 299, 5, bytewise), TETHER_E_HS_TOO_BIG);
        assert_int_equal(parse_limited(s, 300, 4, bytewise), TETHER_E_HS_TOO_BIG);
        assert_int_equal(parse_limited(s, 1000, 100, bytewise), 0);
        free(s);
    }
    /* The defaults: 16 KiB and 100 fields. */
    char *s = make_head(TETHER_DEFAULT_MAX_HEADER_BYTES, TETHER_DEFAULT_MAX_HEADERS);
    assert_int_equal(parse_one(TT_HTTP_REQUEST, s), 0);
    free(s);
    s = make_head(TETHER_DEFAULT_MAX_HEADER_BYTES + 1, 2);
    assert_int_equal(parse_one(TT_HTTP_REQUEST, s), TETHER_E_HS_TOO_BIG);
    free(s);
    s = make_head(4000, TETHER_DEFAULT_MAX_HEADERS + 1);
    assert_int_equal(parse_one(TT_HTTP_REQUEST, s), TETHER_E_HS_TOO_BIG);
    free(s);
    /* An endless line fails at the limit, not at its end. */
    tt_http_head h;
    size_t used;
    char junk[64];
    memset(junk, 'a', sizeof junk);
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(tt_http_head_set_max_bytes(&h, 100), 0);
    assert_int_equal(feed_all(&h, junk, 64, &used), TETHER_E_AGAIN);
    assert_int_equal(feed_all(&h, junk, 36, &used), TETHER_E_AGAIN);
    assert_int_equal(feed_all(&h, junk, 1, &used), TETHER_E_HS_TOO_BIG);
    assert_true(h.cap <= 100);
    tt_http_head_release(&h);
}

static void test_limit_settings(void **state) {
    (void)state;
    tt_http_head h;
    size_t used;
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(tt_http_head_set_max_bytes(&h, 0), TETHER_E_INVAL);
    assert_int_equal(tt_http_head_set_max_fields(&h, 0), TETHER_E_INVAL);
    assert_int_equal(tt_http_head_set_max_bytes(&h, (size_t)TT_HTTP_MAX_LIMIT + 1), TETHER_E_INVAL);
    assert_int_equal(feed_all(&h, "GET", 3, &used), TETHER_E_AGAIN);
    assert_int_equal(tt_http_head_set_max_bytes(&h, 100), TETHER_E_STATE);
    assert_int_equal(tt_http_head_set_max_fields(&h, 10), TETHER_E_STATE);
    tt_http_head_release(&h);
}

static void test_store(void **state) {
    (void)state;
    tt_http_head h;
    size_t used;
    uint32_t a, b;
    tt_http_head_init(&h, TT_HTTP_REQUEST);
    assert_int_equal(feed_all(&h, request, strlen(request), &used), 0);
    /* Storing a piece of our own buffer survives the buffer moving. */
    const char *target = tt_http_head_target(&h);
    assert_int_equal(tt_http_head_store(&h, target, 5, &a), 0);
    char big[3000];
    memset(big, 'z', sizeof big);
    assert_int_equal(tt_http_head_store(&h, big, sizeof big, &b), 0);
    assert_string_equal(tt_http_head_str(&h, a), "/chat");
    assert_int_equal(strlen(tt_http_head_str(&h, b)), sizeof big);
    check_request(&h);
    tt_http_head_release(&h);
}

static void test_lists(void **state) {
    (void)state;
    assert_true(tt_http_list_has("keep-alive, Upgrade", "upgrade"));
    assert_true(tt_http_list_has("Upgrade", "upgrade"));
    assert_true(tt_http_list_has(" ,, UPGRADE\t,", "upgrade"));
    assert_false(tt_http_list_has("upgrades, keep-alive", "upgrade"));
    assert_false(tt_http_list_has("up grade", "upgrade"));
    assert_false(tt_http_list_has("", "upgrade"));
    assert_false(tt_http_list_has(NULL, "upgrade"));
    assert_true(tt_http_list_has_exact("chat, superchat", "superchat", 9));
    assert_false(tt_http_list_has_exact("chat, superchat", "Chat", 4));
    assert_false(tt_http_list_has_exact(NULL, "chat", 4));

    const char *cur = " a ,, b\t, c d ,", *e;
    size_t n;
    assert_true(tt_http_list_next(&cur, &e, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(e, "a", 1);
    assert_true(tt_http_list_next(&cur, &e, &n));
    assert_memory_equal(e, "b", 1);
    assert_true(tt_http_list_next(&cur, &e, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(e, "c d", 3);
    assert_false(tt_http_list_next(&cur, &e, &n));

    assert_true(tt_http_is_token("permessage-deflate", 18));
    assert_false(tt_http_is_token("a b", 3));
    assert_false(tt_http_is_token("", 0));
    assert_true(tt_http_value_ok("text\twith tab \x80"));
    assert_false(tt_http_value_ok("a\r\nb"));
    assert_false(tt_http_value_ok("a\nb"));
    assert_true(tt_http_eq_nocase("WebSocket", 9, "websocket"));
    assert_false(tt_http_eq_nocase("WebSocket", 8, "websocket"));
    assert_false(tt_http_eq_nocase("WebSockets", 10, "websocket"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_request_split_everywhere),
        cmocka_unit_test(test_bytes_after_head_left),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_limit_settings),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
