/* Server opening handshake (RFC 6455 sections 1.3, 4.2). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"
#include "hs_edit.h"
#include "proto/request.h"
#include "proto/server_hs.h"

/* The sample request of RFC 6455 section 1.2 (with its key from 1.3). */
static const char rfc_request[] = "GET /chat HTTP/1.1\r\n"
                                  "Host: server.example.com\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Origin: http://example.com\r\n"
                                  "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

static const char rfc_response[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                   "Sec-WebSocket-Protocol: chat\r\n"
                                   "\r\n";

static int parse_str(tether_server_hs *h, const char *s, size_t *used) {
    return tether_server_hs_parse(h, (const uint8_t *)s, strlen(s), used);
}

/* Parses a whole request with a fresh object; returns the result and, if
 * hp is given, the object. */
static int parse_request(const char *s, tether_server_hs **hp) {
    tether_server_hs *h = tether_server_hs_new();
    size_t used;
    assert_non_null(h);
    int rc = parse_str(h, s, &used);
    if (hp)
        *hp = h;
    else
        tether_server_hs_free(h);
    return rc;
}

static void check_rfc_request(const tether_server_hs *h) {
    assert_string_equal(tether_server_hs_method(h), "GET");
    assert_string_equal(tether_server_hs_target(h), "/chat");
    assert_string_equal(tether_server_hs_path(h), "/chat");
    assert_null(tether_server_hs_query(h));
    assert_string_equal(tether_server_hs_header(h, "host"), "server.example.com");
    assert_string_equal(tether_server_hs_origin(h), "http://example.com");
    assert_int_equal(tether_server_hs_header_count(h), 7);
    assert_int_equal(tether_server_hs_protocol_count(h), 2);
    assert_string_equal(tether_server_hs_protocol_at(h, 0), "chat");
    assert_string_equal(tether_server_hs_protocol_at(h, 1), "superchat");
    assert_null(tether_server_hs_protocol_at(h, 2));
    assert_null(tether_server_hs_extensions(h));
    const char *name, *value;
    assert_int_equal(tether_server_hs_header_at(h, 3, &name, &value), 0);
    /* As received, whatever its case. */
    assert_int_equal(strlen(name), strlen("Sec-WebSocket-Key"));
    for (size_t i = 0; name[i]; i++)
        assert_int_equal(name[i] | 0x20, "sec-websocket-key"[i] | 0x20);
    assert_string_equal(value, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(tether_server_hs_header_at(h, 7, &name, &value), TETHER_E_INVAL);
}

static void test_rfc_sample(void **state) {
    (void)state;
    tether_server_hs *h;
    const char *out, *again;
    size_t len, len2;
    assert_int_equal(parse_request(rfc_request, &h), 0);
    check_rfc_request(h);
    assert_int_equal(tether_server_hs_select_protocol(h, "chat"), 0);
    assert_int_equal(tether_server_hs_accept(h, &out, &len), 0);
    assert_int_equal(len, strlen(rfc_response));
    assert_memory_equal(out, rfc_response, len);
    /* One answer per handshake: accept again gives the same bytes, the rest
     * is refused. */
    assert_int_equal(tether_server_hs_accept(h, &again, &len2), 0);
    assert_ptr_equal(again, out);
    assert_int_equal(len2, len);
    assert_int_equal(tether_server_hs_reject(h, 400, NULL, &out, &len), TETHER_E_STATE);
    assert_int_equal(tether_server_hs_select_protocol(h, "superchat"), TETHER_E_STATE);
    assert_int_equal(tether_server_hs_add_header(h, "X-A", "b"), TETHER_E_STATE);
    assert_int_equal(tether_server_hs_set_extensions(h, NULL), TETHER_E_STATE);
    /* Parsing again after the end consumes nothing and repeats the result. */
    size_t used = 99;
    assert_int_equal(parse_str(h, "GET", &used), 0);
    assert_int_equal(used, 0);
    tether_server_hs_free(h);
}

static void test_split_everywhere(void **state) {
    (void)state;
    size_t n = strlen(rfc_request), used;
    for (size_t k = 0; k <= n; k++) {
        tether_server_hs *h = tether_server_hs_new();
        const uint8_t *b = (const uint8_t *)rfc_request;
        assert_int_equal(tether_server_hs_parse(h, b, k, &used), k == n ? 0 : TETHER_E_AGAIN);
        assert_int_equal(used, k);
        if (k < n) {
            assert_null(tether_server_hs_method(h));
            assert_int_equal(tether_server_hs_parse(h, b + k, n - k, &used), 0);
            assert_int_equal(used, n - k);
        }
        check_rfc_request(h);
        tether_server_hs_free(h);
    }
    tether_server_hs *h = tether_server_hs_new();
    for (size_t i = 0; i < n; i++) {
        int rc = tether_server_hs_parse(h, (const uint8_t *)rfc_request + i, 1, &used);
        assert_int_equal(rc, i + 1 == n ? 0 : TETHER_E_AGAIN);
        assert_int_equal(used, 1);
    }
    check_rfc_request(h);
    tether_server_hs_free(h);
}

static void test_bytes_after_head(void **state) {
    (void)state;
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s\x81\x85\x01\x02\x03\x04xxxxx", rfc_request);
    tether_server_hs *h = tether_server_hs_new();
    size_t used;
    assert_int_equal(tether_server_hs_parse(h, (const uint8_t *)buf, n, &used), 0);
    assert_int_equal(used, strlen(rfc_request));
    tether_server_hs_free(h);
}

/* A GET may say it has no body; that is no smuggling risk. */
static void test_zero_content_length(void **state) {
    (void)state;
    char *s = hs_edit(rfc_request, NULL, "Content-Length: 0");
    tether_server_hs *h;
    assert_int_equal(parse_request(s, &h), 0);
    tether_server_hs_free(h);
    free(s);
}

/* Changes the case of every header name (the part before ':'). */
static void recase_names(char *s, int upper) {
    for (char *line = strstr(s, "\r\n") + 2; *line != '\r'; line = strstr(line, "\r\n") + 2)
        for (char *p = line; *p != ':'; p++)
            *p = (char)(upper ? (*p >= 'a' && *p <= 'z' ? *p - 32 : *p)
                              : (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p));
}

static void test_header_case_and_lists(void **state) {
    (void)state;
    char buf[1024];
    for (int upper = 0; upper < 2; upper++) {
        tether_server_hs *h;
        strcpy(buf, rfc_request);
        recase_names(buf, upper);
        assert_int_equal(parse_request(buf, &h), 0);
        check_rfc_request(h);
        tether_server_hs_free(h);
    }
    /* Token lists, any case, repeated headers joined. */
    const char *r = "GET /chat HTTP/1.1\r\n"
                    "Host: a\r\n"
                    "Upgrade: h2c, WebSocket\r\n"
                    "Connection: keep-alive, Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Protocol: a\r\n"
                    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                    "sec-websocket-protocol: b, c\r\n"
                    "Sec-WebSocket-Extensions: x-other; p=1\r\n"
                    "\r\n";
    tether_server_hs *h;
    assert_int_equal(parse_request(r, &h), 0);
    assert_int_equal(tether_server_hs_protocol_count(h), 3);
    assert_string_equal(tether_server_hs_protocol_at(h, 2), "c");
    assert_string_equal(tether_server_hs_header(h, "sec-websocket-protocol"), "a, b, c");
    assert_string_equal(tether_server_hs_extensions(h), "permessage-deflate, x-other; p=1");
    assert_string_equal(tether_server_hs_header(h, "connection"), "keep-alive, Upgrade");
    assert_null(tether_server_hs_origin(h));
    tether_server_hs_free(h);
    r = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Connection: keep-alive\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    assert_int_equal(parse_request(r, NULL), 0);
}

static void test_targets(void **state) {
    (void)state;
    static const struct {
        const char *target, *host, *path, *query;
    } cases[] = {
        {"/chat?x=1&y=2", "a", "/chat", "x=1&y=2"},
        {"/chat?", "a", "/chat", ""},
        {"/", "a", "/", NULL},
        {"/a/b/", "a", "/a/b/", NULL},
        {"ws://host:80/p/q?z", "host:80", "/p/q", "z"},
        {"HTTP://host", "HOST", "/", NULL},
        {"https://host?q=1", "host", "/", "q=1"},
        {"ws://[::1]:9/", "[::1]:9", "/", NULL},
        /* Host syntax: IP literal, IPv4, reg-name with pct-encoding, empty port */
        {"/", "[::1]:8080", "/", NULL},
        {"/", "127.0.0.1:9000", "/", NULL},
        {"/", "xn--bcher-kva.example", "/", NULL},
        {"/", "a%20b", "/", NULL},
        {"/", "a:", "/", NULL},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tether_server_hs *h;
        snprintf(buf, sizeof buf,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 cases[i].target, cases[i].host);
        int rc = parse_request(buf, &h);
        if (rc != 0) fail_msg("case %zu: rc %d", i, rc);
        assert_string_equal(tether_server_hs_target(h), cases[i].target);
        assert_string_equal(tether_server_hs_path(h), cases[i].path);
        if (cases[i].query)
            assert_string_equal(tether_server_hs_query(h), cases[i].query);
        else
            assert_null(tether_server_hs_query(h));
        tether_server_hs_free(h);
    }
}

static char *edit_request(const char *line, const char *with) {
    return hs_edit(rfc_request, line, with);
}

static void test_rejections(void **state) {
    (void)state;
    static const struct {
        const char *line, *with;
        int rc, status;
    } cases[] = {
        {"GET /chat HTTP/1.1", "POST /chat HTTP/1.1", TETHER_E_HS_METHOD, 405},
        {"GET /chat HTTP/1.1", "get /chat HTTP/1.1", TETHER_E_HS_METHOD, 405},
        {"GET /chat HTTP/1.1", "GET /chat HTTP/1.0", TETHER_E_HS_METHOD, 405},
        {"GET /chat HTTP/1.1", "GET /chat HTTP/0.9", TETHER_E_HS_HTTP_VERSION, 505},
        {"GET /chat HTTP/1.1", "GET /chat HTTP/2.0", TETHER_E_HS_HTTP_VERSION, 505},
        {"GET /chat HTTP/1.1", "GET /chat HTTP/9.9", TETHER_E_HS_HTTP_VERSION, 505},
        /* request smuggling: a body a proxy and we would delimit differently */
        {NULL, "Transfer-Encoding: chunked", TETHER_E_HS_MALFORMED, 400},
        {NULL, "Transfer-Encoding: identity", TETHER_E_HS_MALFORMED, 400},
        {NULL, "Content-Length: 5", TETHER_E_HS_MALFORMED, 400},
        {NULL, "Content-Length: 00", TETHER_E_HS_MALFORMED, 400},
        {NULL, "Content-Length: x", TETHER_E_HS_MALFORMED, 400},
        /* absolute form naming another host than Host, or with userinfo */
        {"GET /chat HTTP/1.1", "GET ws://evil.example/chat HTTP/1.1", TETHER_E_HS_MALFORMED, 400},
        {"GET /chat HTTP/1.1", "GET ws://server.example.com:81/chat HTTP/1.1",
         TETHER_E_HS_MALFORMED, 400},
        {"GET /chat HTTP/1.1", "GET ws://u@server.example.com/chat HTTP/1.1", TETHER_E_HS_MALFORMED,
         400},
        {"GET /chat HTTP/1.1", "GET http:///chat HTTP/1.1", TETHER_E_HS_MALFORMED, 400},
        /* invalid Host values */
        {"Host:", "Host: a b", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host: a:b", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host: a:80:80", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host: [::1", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host: []", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host: a/b", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host: a%2", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host: u@a", TETHER_E_HS_MALFORMED, 400},
        {"GET /chat HTTP/1.1", "GET chat HTTP/1.1", TETHER_E_HS_MALFORMED, 400},
        {"GET /chat HTTP/1.1", "GET * HTTP/1.1", TETHER_E_HS_MALFORMED, 400},
        {"GET /chat HTTP/1.1", "GET /chat#frag HTTP/1.1", TETHER_E_HS_MALFORMED, 400},
        {"GET /chat HTTP/1.1", "GET ftp://a/chat HTTP/1.1", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "", TETHER_E_HS_MALFORMED, 400},
        {"Host:", "Host:", TETHER_E_HS_MALFORMED, 400},
        {NULL, "host: other.example.com", TETHER_E_HS_MALFORMED, 400},
        {"Upgrade:", "", TETHER_E_HS_UPGRADE, 400},
        {"Upgrade:", "Upgrade: h2c", TETHER_E_HS_UPGRADE, 400},
        {"Upgrade:", "Upgrade: websockets", TETHER_E_HS_UPGRADE, 400},
        {"Connection:", "", TETHER_E_HS_UPGRADE, 400},
        {"Connection:", "Connection: keep-alive", TETHER_E_HS_UPGRADE, 400},
        {"Connection:", "Connection: upgraded", TETHER_E_HS_UPGRADE, 400},
        {"Sec-WebSocket-Version:", "", TETHER_E_HS_VERSION, 426},
        {"Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8", TETHER_E_HS_VERSION, 426},
        {"Sec-WebSocket-Version:", "Sec-WebSocket-Version: 13, 8", TETHER_E_HS_VERSION, 426},
        {NULL, "Sec-WebSocket-Version: 13", TETHER_E_HS_VERSION, 426},
        {"Sec-WebSocket-Key:", "", TETHER_E_HS_KEY, 400},
        {"Sec-WebSocket-Key:", "Sec-WebSocket-Key:", TETHER_E_HS_KEY, 400},
        {"Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j", TETHER_E_HS_KEY, 400},
        {"Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ", TETHER_E_HS_KEY, 400},
        /* 17 bytes */
        {"Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZTE=", TETHER_E_HS_KEY, 400},
        {"Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==", TETHER_E_HS_KEY, 400},
        /* Non-zero padding bits, and padding in the wrong place. */
        {"Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==", TETHER_E_HS_KEY, 400},
        {"Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=A", TETHER_E_HS_KEY, 400},
        {NULL, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", TETHER_E_HS_KEY, 400},
        {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: chat, super chat",
         TETHER_E_HS_MALFORMED, 400},
        {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: chat, a/b", TETHER_E_HS_MALFORMED,
         400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = edit_request(cases[i].line, cases[i].with);
        tether_server_hs *h;
        int rc = parse_request(s, &h);
        if (rc != cases[i].rc) fail_msg("case %zu: rc %d, want %d:\n%s", i, rc, cases[i].rc, s);
        assert_int_equal(tether_error_http_status(rc), cases[i].status);
        /* The head was complete: the request can still be inspected. */
        assert_non_null(tether_server_hs_method(h));
        assert_non_null(tether_server_hs_path(h));
        assert_true(tether_server_hs_header_count(h) > 0);
        const char *out;
        size_t len;
        assert_int_equal(tether_server_hs_accept(h, &out, &len), TETHER_E_STATE);
        assert_int_equal(tether_server_hs_reject(h, tether_error_http_status(rc), NULL, &out, &len),
                         0);
        char status_line[32];
        snprintf(status_line, sizeof status_line, "HTTP/1.1 %d ", cases[i].status);
        assert_memory_equal(out, status_line, strlen(status_line));
        if (cases[i].status == 426)
            assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
        else
            assert_null(strstr(out, "Sec-WebSocket-Version"));
        tether_server_hs_free(h);
        free(s);
    }
}

static void test_malformed(void **state) {
    (void)state;
    static const char *const cases[] = {
        "GET /chat HTTP/1.1\nHost: a\n\n", "GET /chat HTTP/1.1\r\nHost: a\r\n  folded\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost : a\r\n\r\n",
        "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03\r\n\r\n", /* TLS to a plain port */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tether_server_hs *h;
        int rc = parse_request(cases[i], &h);
        assert_int_equal(rc, TETHER_E_HS_MALFORMED);
        assert_int_equal(tether_error_http_status(rc), 400);
        /* No complete head: nothing to inspect, but a reject still works. */
        assert_null(tether_server_hs_method(h));
        assert_null(tether_server_hs_path(h));
        assert_int_equal(tether_server_hs_header_count(h), 0);
        assert_int_equal(tether_server_hs_protocol_count(h), 0);
        const char *out;
        size_t len;
        assert_int_equal(tether_server_hs_reject(h, 400, NULL, &out, &len), 0);
        tether_server_hs_free(h);
    }
}

static int parse_limited(const char *s, size_t max_bytes, size_t max_headers) {
    tether_server_hs *h = tether_server_hs_new();
    size_t used;
    assert_int_equal(tether_server_hs_set_max_header_bytes(h, max_bytes), 0);
    assert_int_equal(tether_server_hs_set_max_headers(h, max_headers), 0);
    int rc = parse_str(h, s, &used);
    tether_server_hs_free(h);
    return rc;
}

static void test_limits(void **state) {
    (void)state;
    size_t n = strlen(rfc_request);
    assert_int_equal(parse_limited(rfc_request, n, 7), 0);
    assert_int_equal(parse_limited(rfc_request, n - 1, 7), TETHER_E_HS_TOO_BIG);
    assert_int_equal(parse_limited(rfc_request, n, 6), TETHER_E_HS_TOO_BIG);
    assert_int_equal(tether_error_http_status(TETHER_E_HS_TOO_BIG), 431);
    /* The defaults, one over. */
    char *big = malloc(TETHER_DEFAULT_MAX_HEADER_BYTES + 100);
    char *s = edit_request(NULL, "X-Pad: ");
    size_t at = strlen(s) - 4; /* where the padding goes: before "\r\n\r\n" */
    memcpy(big, s, at);
    size_t pad = TETHER_DEFAULT_MAX_HEADER_BYTES - strlen(s);
    memset(big + at, 'p', pad);
    strcpy(big + at + pad, "\r\n\r\n");
    assert_int_equal(strlen(big), TETHER_DEFAULT_MAX_HEADER_BYTES);
    assert_int_equal(parse_request(big, NULL), 0);
    memset(big + at, 'p', pad + 1);
    strcpy(big + at + pad + 1, "\r\n\r\n");
    assert_int_equal(parse_request(big, NULL), TETHER_E_HS_TOO_BIG);
    free(s);
    /* 100 header fields pass, 101 do not. */
    strcpy(big, rfc_request);
    at = strlen(big) - 2;
    for (int i = 7; i < 100; i++)
        at += (size_t)sprintf(big + at, "X-%d: v\r\n", i);
    strcpy(big + at, "\r\n");
    assert_int_equal(parse_request(big, NULL), 0);
    strcpy(big + at, "X-One-More: v\r\n\r\n");
    assert_int_equal(parse_request(big, NULL), TETHER_E_HS_TOO_BIG);
    free(big);

    tether_server_hs *h = tether_server_hs_new();
    size_t used;
    assert_int_equal(tether_server_hs_set_max_header_bytes(h, 0), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_set_max_headers(h, 0), TETHER_E_INVAL);
    assert_int_equal(parse_str(h, "GET / HT", &used), TETHER_E_AGAIN);
    assert_int_equal(tether_server_hs_set_max_header_bytes(h, 100), TETHER_E_STATE);
    tether_server_hs_free(h);
}

static void test_accept_options(void **state) {
    (void)state;
    tether_server_hs *h;
    const char *out;
    size_t len;
    assert_int_equal(parse_request(rfc_request, &h), 0);
    assert_int_equal(tether_server_hs_select_protocol(h, "other"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_select_protocol(h, "Chat"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_select_protocol(h, "chat"), 0);
    assert_int_equal(tether_server_hs_select_protocol(h, "superchat"), 0);
    assert_int_equal(tether_server_hs_set_extensions(h, "permessage-deflate; x=\"1"),
                     TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_set_extensions(h, "a\r\nb"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_set_extensions(h, "x-old"), 0);
    assert_int_equal(tether_server_hs_set_extensions(h, NULL), 0);
    assert_int_equal(
        tether_server_hs_set_extensions(h, "permessage-deflate; server_no_context_takeover"), 0);
    assert_int_equal(tether_server_hs_add_header(h, "Set-Cookie", "a=b"), 0);
    static const char *const refused[] = {"Upgrade",
                                          "connection",
                                          "Sec-WebSocket-Accept",
                                          "SEC-WEBSOCKET-PROTOCOL",
                                          "Content-Length",
                                          "Transfer-Encoding",
                                          "a b",
                                          "",
                                          "X:"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_int_equal(tether_server_hs_add_header(h, refused[i], "v"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_add_header(h, "X-A", "a\r\nX-Evil: 1"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_add_header(h, "X-A", "a\nb"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_accept(h, &out, &len), 0);
    static const char want[] =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Protocol: superchat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"
        "Set-Cookie: a=b\r\n"
        "\r\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    tether_server_hs_free(h);

    /* No protocol chosen (or the choice withdrawn): no header. */
    assert_int_equal(parse_request(rfc_request, &h), 0);
    assert_int_equal(tether_server_hs_select_protocol(h, "chat"), 0);
    assert_int_equal(tether_server_hs_select_protocol(h, NULL), 0);
    assert_int_equal(tether_server_hs_accept(h, &out, &len), 0);
    assert_null(strstr(out, "Sec-WebSocket-Protocol"));
    tether_server_hs_free(h);
}

static void test_reject(void **state) {
    (void)state;
    tether_server_hs *h = tether_server_hs_new();
    const char *out;
    size_t len;
    for (int bad = 0; bad < 5; bad++) {
        static const int statuses[] = {0, 100, 101, 600, -400};
        assert_int_equal(tether_server_hs_reject(h, statuses[bad], NULL, &out, &len),
                         TETHER_E_INVAL);
    }
    /* Before any parse. */
    assert_int_equal(tether_server_hs_reject(h, 426, NULL, &out, &len), 0);
    static const char want426[] = "HTTP/1.1 426 Upgrade Required\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 16\r\n"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "Upgrade Required";
    assert_int_equal(len, strlen(want426));
    assert_memory_equal(out, want426, len);
    assert_int_equal(tether_server_hs_reject(h, 400, NULL, &out, &len), TETHER_E_STATE);
    tether_server_hs_free(h);

    h = tether_server_hs_new();
    assert_int_equal(tether_server_hs_add_header(h, "WWW-Authenticate", "Basic realm=\"x\""), 0);
    assert_int_equal(tether_server_hs_reject(h, 401, "who are you?\n", &out, &len), 0);
    static const char want401[] = "HTTP/1.1 401 Unauthorized\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 13\r\n"
                                  "Connection: close\r\n"
                                  "WWW-Authenticate: Basic realm=\"x\"\r\n"
                                  "\r\n"
                                  "who are you?\n";
    assert_int_equal(len, strlen(want401));
    assert_memory_equal(out, want401, len);
    tether_server_hs_free(h);

    /* the application's Content-Type replaces ours; the framing stays ours */
    h = tether_server_hs_new();
    assert_int_equal(tether_server_hs_add_header(h, "content-type", "application/json"), 0);
    assert_int_equal(tether_server_hs_add_header(h, "Content-Length", "1"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_add_header(h, "Transfer-Encoding", "chunked"),
                     TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_reject(h, 403, "{}", &out, &len), 0);
    static const char want403[] = "HTTP/1.1 403 Forbidden\r\n"
                                  "Content-Length: 2\r\n"
                                  "Connection: close\r\n"
                                  "content-type: application/json\r\n"
                                  "\r\n"
                                  "{}";
    assert_int_equal(len, strlen(want403));
    assert_memory_equal(out, want403, len);
    tether_server_hs_free(h);

    h = tether_server_hs_new();
    assert_int_equal(tether_server_hs_reject(h, 405, "", &out, &len), 0);
    assert_non_null(strstr(out, "\r\nAllow: GET\r\n"));
    assert_non_null(strstr(out, "\r\nContent-Length: 0\r\n"));
    tether_server_hs_free(h);
    h = tether_server_hs_new();
    assert_int_equal(tether_server_hs_reject(h, 599, NULL, &out, &len), 0);
    assert_memory_equal(out, "HTTP/1.1 599 Server Error\r\n", 27);
    tether_server_hs_free(h);
}

static void test_state_errors(void **state) {
    (void)state;
    tether_server_hs *h = tether_server_hs_new();
    const char *out;
    size_t len, used;
    assert_int_equal(tether_server_hs_accept(h, &out, &len), TETHER_E_STATE);
    assert_int_equal(tether_server_hs_select_protocol(h, "chat"), TETHER_E_STATE);
    assert_int_equal(parse_str(h, "GET /chat HTTP/1.1\r\n", &used), TETHER_E_AGAIN);
    assert_int_equal(tether_server_hs_accept(h, &out, &len), TETHER_E_STATE);
    assert_null(tether_server_hs_target(h));
    tether_server_hs_free(h);
}

static void test_null_arguments(void **state) {
    (void)state;
    tether_server_hs *h = tether_server_hs_new();
    const char *out, *name, *value;
    size_t len, used = 7;
    const uint8_t b = 'G';
    tether_server_hs_free(NULL);
    assert_int_equal(tether_server_hs_set_max_header_bytes(NULL, 10), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_set_max_headers(NULL, 10), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_parse(NULL, &b, 1, &used), TETHER_E_INVAL);
    assert_int_equal(used, 0);
    assert_int_equal(tether_server_hs_parse(h, NULL, 1, &used), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_parse(h, &b, 1, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_parse(h, NULL, 0, &used), TETHER_E_AGAIN);
    assert_null(tether_server_hs_method(NULL));
    assert_null(tether_server_hs_target(NULL));
    assert_null(tether_server_hs_path(NULL));
    assert_null(tether_server_hs_query(NULL));
    assert_null(tether_server_hs_header(NULL, "Host"));
    assert_null(tether_server_hs_header(h, NULL));
    assert_int_equal(tether_server_hs_header_count(NULL), 0);
    assert_int_equal(tether_server_hs_header_at(NULL, 0, &name, &value), TETHER_E_INVAL);
    assert_null(tether_server_hs_origin(NULL));
    assert_int_equal(tether_server_hs_protocol_count(NULL), 0);
    assert_null(tether_server_hs_protocol_at(NULL, 0));
    assert_null(tether_server_hs_extensions(NULL));
    assert_int_equal(tether_server_hs_select_protocol(NULL, "a"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_set_extensions(NULL, "a"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_add_header(NULL, "a", "b"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_add_header(h, NULL, "b"), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_add_header(h, "a", NULL), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_accept(NULL, &out, &len), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_accept(h, NULL, &len), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_accept(h, &out, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_reject(NULL, 400, NULL, &out, &len), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_reject(h, 400, NULL, NULL, &len), TETHER_E_INVAL);
    assert_int_equal(tether_server_hs_reject(h, 400, NULL, &out, NULL), TETHER_E_INVAL);
    tether_server_hs_free(h);
}

/* After the api layer compacts an accepted handshake (to keep idle
 * connections small), every request accessor still answers the same, and a
 * second answer is refused. */
static void test_compact_keeps_request(void **state) {
    (void)state;
    tether_server_hs *h;
    const char *out;
    size_t len;
    assert_int_equal(parse_request(rfc_request, &h), 0);
    assert_int_equal(tether_server_hs_select_protocol(h, "chat"), 0);
    assert_int_equal(tether_server_hs_accept(h, &out, &len), 0);
    tt_server_hs_compact(h);
    check_rfc_request(h);
    assert_string_equal(tether_server_hs_path(h), "/chat");
    assert_string_equal(tether_server_hs_header(h, "origin"), "http://example.com");
    assert_int_equal(tether_server_hs_accept(h, &out, &len), TETHER_E_STATE);
    assert_int_equal(tether_server_hs_reject(h, 400, NULL, &out, &len), TETHER_E_STATE);
    tether_server_hs_free(h);
}

/* The frozen request answers every lookup as the handshake did: each field
 * in order, names in any case, repeated fields joined, path, query and
 * method; out of range and NULL are refused. */
static void test_freeze_matches_handshake(void **state) {
    (void)state;
    static const char req[] = "GET /room/7?user=ann&x=%20 HTTP/1.1\r\n"
                              "Host: h.example\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "X-Tag: one\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "x-tag: two\r\n"
                              "Empty:\r\n"
                              "\r\n";
    tether_server_hs *h;
    const char *out;
    size_t len;
    assert_int_equal(parse_request(req, &h), 0);
    assert_int_equal(tether_server_hs_accept(h, &out, &len), 0);
    tt_request *r = tt_server_hs_freeze(h);
    assert_non_null(r);
    assert_string_equal(tt_request_method(r), "GET");
    assert_string_equal(tt_request_path(r), tether_server_hs_path(h));
    assert_string_equal(tt_request_query(r), "user=ann&x=%20");
    size_t n = tether_server_hs_header_count(h);
    assert_int_equal(tt_request_header_count(r), n);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        const char *hn, *hv, *rn, *rv;
        assert_int_equal(tether_server_hs_header_at(h, i, &hn, &hv), 0);
        assert_int_equal(tt_request_header_at(r, i, &rn, &rv), 0);
        assert_string_equal(rn, hn);
        assert_string_equal(rv, hv);
        assert_string_equal(tt_request_header(r, rn), tether_server_hs_header(h, hn));
    }
    assert_string_equal(tt_request_header(r, "X-TAG"), "one, two");
    assert_string_equal(tt_request_header(r, "empty"), "");
    assert_null(tt_request_header(r, "Origin"));
    assert_null(tt_request_header(r, NULL));
    assert_int_equal(tt_request_header_at(r, n, &out, &out), TETHER_E_INVAL);
    /* the block stands alone: the handshake may go first */
    tether_server_hs_free(h);
    assert_string_equal(tt_request_header(r, "host"), "h.example");
    free(r);
    assert_null(tt_request_path(NULL));
    assert_int_equal(tt_request_header_count(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freeze_matches_handshake),
        cmocka_unit_test(test_compact_keeps_request),
        cmocka_unit_test(test_rfc_sample),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_bytes_after_head),
        cmocka_unit_test(test_zero_content_length),
        cmocka_unit_test(test_header_case_and_lists),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_accept_options),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_state_errors),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
