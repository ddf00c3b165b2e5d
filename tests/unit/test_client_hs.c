/* Client opening handshake (RFC 6455 sections 1.3, 4.1), and a full round
 * trip with the server side. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/client_hs.h"
#include "tether.h"
#include "hs_edit.h"

static const char rfc_key[] = "dGhlIHNhbXBsZSBub25jZQ==";

static const char rfc_request[] = "GET /chat HTTP/1.1\r\n"
                                  "Host: server.example.com\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "Origin: http://example.com\r\n"
                                  "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                  "\r\n";

static const char rfc_response[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                   "Sec-WebSocket-Protocol: chat\r\n"
                                   "\r\n";

/* The RFC's client, with its fixed key, request built. */
static tether_client_hs *rfc_client(void) {
    tether_client_hs *h = tether_client_hs_new("server.example.com", "/chat");
    const char *req;
    size_t len;
    assert_non_null(h);
    assert_int_equal(tt_client_hs_set_key(h, rfc_key), 0);
    assert_int_equal(tether_client_hs_set_origin(h, "http://example.com"), 0);
    assert_int_equal(tether_client_hs_add_protocol(h, "chat"), 0);
    assert_int_equal(tether_client_hs_add_protocol(h, "superchat"), 0);
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    return h;
}

static int parse_str(tether_client_hs *h, const char *s, size_t *used) {
    return tether_client_hs_parse(h, (const uint8_t *)s, strlen(s), used);
}

/* The RFC client fed `response` in one go; the object is returned in *hp or
 * freed. */
static int rfc_parse(const char *response, tether_client_hs **hp) {
    tether_client_hs *h = rfc_client();
    size_t used;
    int rc = parse_str(h, response, &used);
    if (rc != TETHER_E_AGAIN && rc != TETHER_E_HS_MALFORMED && rc != TETHER_E_HS_TOO_BIG)
        assert_int_equal(used, strlen(response));
    if (hp)
        *hp = h;
    else
        tether_client_hs_free(h);
    return rc;
}

static void test_rfc_request(void **state) {
    (void)state;
    tether_client_hs *h = rfc_client();
    const char *req, *again;
    size_t len, len2;
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    assert_int_equal(len, strlen(rfc_request));
    assert_memory_equal(req, rfc_request, len);
    /* The same request again, and the settings are frozen. */
    assert_int_equal(tether_client_hs_request(h, &again, &len2), 0);
    assert_ptr_equal(again, req);
    assert_int_equal(len2, len);
    assert_int_equal(tether_client_hs_add_protocol(h, "x"), TETHER_E_STATE);
    assert_int_equal(tether_client_hs_set_origin(h, "x"), TETHER_E_STATE);
    assert_int_equal(tether_client_hs_add_extension(h, "x"), TETHER_E_STATE);
    assert_int_equal(tether_client_hs_add_header(h, "X-A", "b"), TETHER_E_STATE);
    assert_int_equal(tt_client_hs_set_key(h, rfc_key), TETHER_E_STATE);
    tether_client_hs_free(h);
}

static void test_request_contents(void **state) {
    (void)state;
    tether_client_hs *h = tether_client_hs_new("[::1]:8080", "/a/b?x=1&y=%20");
    const char *req;
    size_t len;
    assert_int_equal(tether_client_hs_add_header(h, "Authorization", "Bearer abc"), 0);
    assert_int_equal(tether_client_hs_add_header(h, "X-Empty", ""), 0);
    assert_int_equal(tether_client_hs_set_origin(h, "https://app.example"), 0);
    assert_int_equal(
        tether_client_hs_add_extension(h, "permessage-deflate; client_max_window_bits"), 0);
    assert_int_equal(tether_client_hs_add_extension(h, "x-foo, x-bar; a=\"b c\""), 0);
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    assert_int_equal(strlen(req), len);
    assert_memory_equal(req, "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: [::1]:8080\r\n", 47);
    assert_non_null(strstr(req, "\r\nAuthorization: Bearer abc\r\n"));
    assert_non_null(strstr(req, "\r\nX-Empty: \r\n"));
    assert_non_null(strstr(req, "\r\nOrigin: https://app.example\r\n"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Extensions: permessage-deflate; "
                                "client_max_window_bits, x-foo, x-bar; a=\"b c\"\r\n"));
    assert_null(strstr(req, "Sec-WebSocket-Protocol"));
    assert_memory_equal(req + len - 4, "\r\n\r\n", 4);
    /* A fresh random key: 24 characters, different each time. */
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    assert_non_null(k);
    k += strlen("Sec-WebSocket-Key: ");
    assert_memory_equal(k + TETHER_KEY_LEN, "\r\n", 2);
    tether_client_hs *h2 = tether_client_hs_new("a", "/");
    const char *req2;
    assert_int_equal(tether_client_hs_request(h2, &req2, &len), 0);
    const char *k2 = strstr(req2, "Sec-WebSocket-Key: ") + strlen("Sec-WebSocket-Key: ");
    assert_memory_not_equal(k, k2, TETHER_KEY_LEN);
    tether_client_hs_free(h2);
    tether_client_hs_free(h);
}

static void test_settings_validation(void **state) {
    (void)state;
    assert_null(tether_client_hs_new(NULL, "/"));
    assert_null(tether_client_hs_new("a", NULL));
    assert_null(tether_client_hs_new("", "/"));
    assert_null(tether_client_hs_new("a b", "/"));
    assert_null(tether_client_hs_new("a\r\nX: y", "/"));
    assert_null(tether_client_hs_new("a", "chat"));
    assert_null(tether_client_hs_new("a", ""));
    assert_null(tether_client_hs_new("a", "/a b"));
    assert_null(tether_client_hs_new("a", "/a#frag"));
    assert_null(tether_client_hs_new("a", "/a\r\n"));
    tether_client_hs *h = tether_client_hs_new("a", "/");
    static const char *const refused[] = {"Host",
                                          "upgrade",
                                          "Connection",
                                          "Sec-WebSocket-Key",
                                          "sec-websocket-version",
                                          "Sec-WebSocket-Protocol",
                                          "Sec-WebSocket-Extensions",
                                          "a b",
                                          "",
                                          "X:",
                                          "X\r\n"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_int_equal(tether_client_hs_add_header(h, refused[i], "v"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_header(h, "X-A", "a\r\nX-Evil: 1"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_header(h, "X-A", "a\rb"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_header(h, "X-A", "a\nb"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_set_origin(h, "a\nb"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_set_origin(h, ""), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_protocol(h, ""), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_protocol(h, "a b"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_protocol(h, "a,b"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_protocol(h, "chat"), 0);
    assert_int_equal(tether_client_hs_add_protocol(h, "chat"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_extension(h, ""), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_extension(h, "a; b=\"c"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_extension(h, "a b"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_extension(h, "a\r\nX: y"), TETHER_E_INVAL);
    assert_int_equal(tt_client_hs_set_key(h, "short"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_set_max_header_bytes(h, 0), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_set_max_headers(h, 0), TETHER_E_INVAL);
    /* Refused settings left nothing behind. */
    const char *req;
    size_t len;
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    assert_null(strstr(req, "Evil"));
    assert_null(strstr(req, "Extensions"));
    assert_non_null(strstr(req, "\r\nSec-WebSocket-Protocol: chat\r\n"));
    tether_client_hs_free(h);
}

static void check_rfc_response(const tether_client_hs *h) {
    assert_int_equal(tether_client_hs_status(h), 101);
    assert_string_equal(tether_client_hs_reason(h), "Switching Protocols");
    assert_string_equal(tether_client_hs_protocol(h), "chat");
    assert_null(tether_client_hs_extensions(h));
    assert_int_equal(tether_client_hs_header_count(h), 4);
    assert_string_equal(tether_client_hs_header(h, "sec-websocket-accept"),
                        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_rfc_response(void **state) {
    (void)state;
    tether_client_hs *h;
    assert_int_equal(rfc_parse(rfc_response, &h), 0);
    check_rfc_response(h);
    size_t used = 5;
    assert_int_equal(parse_str(h, "more", &used), 0);
    assert_int_equal(used, 0);
    tether_client_hs_free(h);
}

static void test_split_everywhere(void **state) {
    (void)state;
    size_t n = strlen(rfc_response), used;
    const uint8_t *b = (const uint8_t *)rfc_response;
    for (size_t k = 0; k <= n; k++) {
        tether_client_hs *h = rfc_client();
        assert_int_equal(tether_client_hs_parse(h, b, k, &used), k == n ? 0 : TETHER_E_AGAIN);
        assert_int_equal(used, k);
        if (k < n) {
            assert_int_equal(tether_client_hs_status(h), 0);
            assert_null(tether_client_hs_reason(h));
            assert_null(tether_client_hs_protocol(h));
            assert_int_equal(tether_client_hs_parse(h, b + k, n - k, &used), 0);
            assert_int_equal(used, n - k);
        }
        check_rfc_response(h);
        tether_client_hs_free(h);
    }
    tether_client_hs *h = rfc_client();
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tether_client_hs_parse(h, b + i, 1, &used),
                         i + 1 == n ? 0 : TETHER_E_AGAIN);
        assert_int_equal(used, 1);
    }
    check_rfc_response(h);
    tether_client_hs_free(h);
}

/* The server's first frame may arrive in the same read as the response. */
static void test_frames_after_head(void **state) {
    (void)state;
    char buf[512];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s\x81\x02hi", rfc_response), used;
    tether_client_hs *h = rfc_client();
    assert_int_equal(tether_client_hs_parse(h, (const uint8_t *)buf, n, &used), 0);
    assert_int_equal(used, strlen(rfc_response));
    assert_memory_equal(buf + used, "\x81\x02hi", 4);
    tether_client_hs_free(h);
}

static void test_header_case_and_lists(void **state) {
    (void)state;
    const char *r = "HTTP/1.1 101 OK\r\n"
                    "UPGRADE: WebSocket\r\n"
                    "connection: keep-alive, upgrade\r\n"
                    "sec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n"
                    "X-Trace: 1\r\n"
                    "x-trace: 2\r\n"
                    "\r\n";
    tether_client_hs *h;
    assert_int_equal(rfc_parse(r, &h), 0);
    assert_null(tether_client_hs_protocol(h));
    assert_string_equal(tether_client_hs_header(h, "X-TRACE"), "1, 2");
    const char *name, *value;
    assert_int_equal(tether_client_hs_header_at(h, 4, &name, &value), 0);
    assert_string_equal(name, "x-trace");
    assert_string_equal(value, "2");
    assert_int_equal(tether_client_hs_header_at(h, 5, &name, &value), TETHER_E_INVAL);
    tether_client_hs_free(h);
}

static void test_refused_status(void **state) {
    (void)state;
    tether_client_hs *h;
    const char *r = "HTTP/1.1 403 Forbidden\r\n"
                    "Content-Type: text/plain\r\n"
                    "Content-Length: 9\r\n"
                    "X-Reason: origin not allowed\r\n"
                    "\r\n"
                    "Forbidden";
    size_t used;
    h = rfc_client();
    assert_int_equal(parse_str(h, r, &used), TETHER_E_HS_STATUS);
    assert_int_equal(used, strlen(r) - 9); /* the body is left to the caller */
    assert_int_equal(tether_client_hs_status(h), 403);
    assert_string_equal(tether_client_hs_reason(h), "Forbidden");
    assert_string_equal(tether_client_hs_header(h, "x-reason"), "origin not allowed");
    assert_int_equal(tether_client_hs_header_count(h), 3);
    assert_null(tether_client_hs_protocol(h));
    assert_null(tether_client_hs_extensions(h));
    /* The result sticks. */
    assert_int_equal(parse_str(h, "x", &used), TETHER_E_HS_STATUS);
    assert_int_equal(used, 0);
    tether_client_hs_free(h);

    r = "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13, 8\r\n\r\n";
    assert_int_equal(rfc_parse(r, &h), TETHER_E_HS_STATUS);
    assert_int_equal(tether_client_hs_status(h), 426);
    assert_string_equal(tether_client_hs_header(h, "Sec-WebSocket-Version"), "13, 8");
    tether_client_hs_free(h);

    /* A proxy answering in HTTP/1.0 is still a refusal with a status. */
    assert_int_equal(rfc_parse("HTTP/1.0 502 Bad Gateway\r\n\r\n", &h), TETHER_E_HS_STATUS);
    assert_int_equal(tether_client_hs_status(h), 502);
    tether_client_hs_free(h);
    assert_int_equal(rfc_parse("HTTP/1.1 200 OK\r\n\r\n", NULL), TETHER_E_HS_STATUS);
    assert_int_equal(tether_error_http_status(TETHER_E_HS_STATUS), 0);
}

static char *edit_response(const char *line, const char *with) {
    return hs_edit(rfc_response, line, with);
}

static void test_rejections(void **state) {
    (void)state;
    static const struct {
        const char *line, *with;
        int rc;
    } cases[] = {
        {"HTTP/1.1", "HTTP/1.0 101 Switching Protocols", TETHER_E_HS_MALFORMED},
        {"HTTP/1.1", "HTTP/2.0 101 Switching Protocols", TETHER_E_HS_MALFORMED},
        {"HTTP/1.1", "HTTP/1.1 101 Switching\x01", TETHER_E_HS_MALFORMED},
        {"Upgrade:", "", TETHER_E_HS_UPGRADE},
        {"Upgrade:", "Upgrade: websocket2", TETHER_E_HS_UPGRADE},
        {"Upgrade:", "Upgrade: h2c, websocket", TETHER_E_HS_UPGRADE},
        {"Connection:", "", TETHER_E_HS_UPGRADE},
        {"Connection:", "Connection: keep-alive", TETHER_E_HS_UPGRADE},
        {"Sec-WebSocket-Accept:", "", TETHER_E_HS_ACCEPT},
        {"Sec-WebSocket-Accept:", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo",
         TETHER_E_HS_ACCEPT},
        {"Sec-WebSocket-Accept:", "Sec-WebSocket-Accept: S3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
         TETHER_E_HS_ACCEPT},
        {NULL, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", TETHER_E_HS_ACCEPT},
        {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: other", TETHER_E_HS_PROTOCOL},
        {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: Chat", TETHER_E_HS_PROTOCOL},
        {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol: chat, superchat",
         TETHER_E_HS_PROTOCOL},
        {"Sec-WebSocket-Protocol:", "Sec-WebSocket-Protocol:", TETHER_E_HS_PROTOCOL},
        {NULL, "Sec-WebSocket-Protocol: chat", TETHER_E_HS_PROTOCOL},
        {NULL, "Sec-WebSocket-Extensions: permessage-deflate", TETHER_E_HS_EXTENSION},
        {"HTTP/1.1", "HTTP/1.1 101 Switching Protocols\r\nX: a\n", TETHER_E_HS_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = edit_response(cases[i].line, cases[i].with);
        tether_client_hs *h;
        int rc = rfc_parse(s, &h);
        if (rc != cases[i].rc) fail_msg("case %zu: rc %d, want %d:\n%s", i, rc, cases[i].rc, s);
        assert_null(tether_client_hs_protocol(h));
        assert_null(tether_client_hs_extensions(h));
        tether_client_hs_free(h);
        free(s);
    }
}

/* A client that offered no protocol and one extension. */
static int parse_with_offers(const char *response, tether_client_hs **hp) {
    tether_client_hs *h = tether_client_hs_new("a", "/");
    const char *req;
    size_t len, used;
    assert_int_equal(tt_client_hs_set_key(h, rfc_key), 0);
    assert_int_equal(tether_client_hs_add_extension(
                         h, "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame"),
                     0);
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    int rc = parse_str(h, response, &used);
    if (hp)
        *hp = h;
    else
        tether_client_hs_free(h);
    return rc;
}

static void test_extensions(void **state) {
    (void)state;
    char buf[512];
    const char *head =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    static const struct {
        const char *ext;
        int rc;
    } cases[] = {
        {"permessage-deflate", 0},
        {"PerMessage-Deflate; server_no_context_takeover; client_max_window_bits=10", 0},
        {"x-webkit-deflate-frame, permessage-deflate", 0},
        {"", 0},
        {"permessage-foo", TETHER_E_HS_EXTENSION},
        {"permessage-deflate, x-other", TETHER_E_HS_EXTENSION},
        {"permessage-deflate; a=\"b", TETHER_E_HS_EXTENSION},
        {"permessage-deflate;", TETHER_E_HS_EXTENSION},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tether_client_hs *h;
        snprintf(buf, sizeof buf, "%sSec-WebSocket-Extensions: %s\r\n\r\n", head, cases[i].ext);
        int rc = parse_with_offers(buf, &h);
        if (rc != cases[i].rc) fail_msg("case %zu: rc %d for \"%s\"", i, rc, cases[i].ext);
        if (rc == 0) assert_string_equal(tether_client_hs_extensions(h), cases[i].ext);
        tether_client_hs_free(h);
    }
    /* A protocol chosen when none was offered. */
    snprintf(buf, sizeof buf, "%sSec-WebSocket-Protocol: chat\r\n\r\n", head);
    assert_int_equal(parse_with_offers(buf, NULL), TETHER_E_HS_PROTOCOL);
    snprintf(buf, sizeof buf, "%s\r\n", head);
    assert_int_equal(parse_with_offers(buf, NULL), 0);
}

static int parse_limited(const char *s, size_t max_bytes, size_t max_headers) {
    tether_client_hs *h = tether_client_hs_new("a", "/");
    const char *req;
    size_t len, used;
    assert_int_equal(tt_client_hs_set_key(h, rfc_key), 0);
    assert_int_equal(tether_client_hs_add_protocol(h, "chat"), 0);
    assert_int_equal(tether_client_hs_set_max_header_bytes(h, max_bytes), 0);
    assert_int_equal(tether_client_hs_set_max_headers(h, max_headers), 0);
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    int rc = parse_str(h, s, &used);
    tether_client_hs_free(h);
    return rc;
}

static void test_limits(void **state) {
    (void)state;
    size_t n = strlen(rfc_response);
    assert_int_equal(parse_limited(rfc_response, n, 4), 0);
    assert_int_equal(parse_limited(rfc_response, n - 1, 4), TETHER_E_HS_TOO_BIG);
    assert_int_equal(parse_limited(rfc_response, n, 3), TETHER_E_HS_TOO_BIG);
    /* Limits are set before the response starts. */
    tether_client_hs *h = rfc_client();
    size_t used;
    assert_int_equal(parse_str(h, "HTTP/1.1", &used), TETHER_E_AGAIN);
    assert_int_equal(tether_client_hs_set_max_header_bytes(h, 100), TETHER_E_STATE);
    assert_int_equal(tether_client_hs_set_max_headers(h, 10), TETHER_E_STATE);
    tether_client_hs_free(h);
}

static void test_state_and_null(void **state) {
    (void)state;
    tether_client_hs *h = tether_client_hs_new("a", "/");
    const char *req, *name, *value;
    size_t len, used = 3;
    const uint8_t b = 'H';
    assert_int_equal(tether_client_hs_parse(h, &b, 1, &used), TETHER_E_STATE);
    assert_int_equal(used, 0);
    tether_client_hs_free(NULL);
    assert_int_equal(tether_client_hs_set_origin(NULL, "a"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_set_origin(h, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_protocol(NULL, "a"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_protocol(h, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_extension(NULL, "a"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_extension(h, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_header(NULL, "a", "b"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_header(h, NULL, "b"), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_add_header(h, "a", NULL), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_set_max_header_bytes(NULL, 10), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_set_max_headers(NULL, 10), TETHER_E_INVAL);
    assert_int_equal(tt_client_hs_set_key(NULL, rfc_key), TETHER_E_INVAL);
    assert_int_equal(tt_client_hs_set_key(h, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_request(NULL, &req, &len), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_request(h, NULL, &len), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_request(h, &req, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    assert_int_equal(tether_client_hs_parse(NULL, &b, 1, &used), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_parse(h, NULL, 1, &used), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_parse(h, &b, 1, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_parse(h, NULL, 0, &used), TETHER_E_AGAIN);
    assert_int_equal(tether_client_hs_status(NULL), 0);
    assert_null(tether_client_hs_reason(NULL));
    assert_null(tether_client_hs_header(NULL, "a"));
    assert_null(tether_client_hs_header(h, NULL));
    assert_int_equal(tether_client_hs_header_count(NULL), 0);
    assert_int_equal(tether_client_hs_header_at(NULL, 0, &name, &value), TETHER_E_INVAL);
    assert_int_equal(tether_client_hs_header_at(h, 0, &name, &value), TETHER_E_INVAL);
    assert_null(tether_client_hs_protocol(NULL));
    assert_null(tether_client_hs_extensions(NULL));
    tether_client_hs_free(h);
}

/* A client's request parsed by the server, the server's answer parsed by the
 * client: protocol and extensions agreed, frames after each head untouched. */
static void test_round_trip(void **state) {
    (void)state;
    tether_client_hs *c = tether_client_hs_new("example.com:8080", "/room/7?user=ann");
    tether_server_hs *s = tether_server_hs_new();
    const char *req, *resp;
    size_t req_len, resp_len, used;
    assert_int_equal(tether_client_hs_set_origin(c, "https://example.com"), 0);
    assert_int_equal(tether_client_hs_add_protocol(c, "v2.chat"), 0);
    assert_int_equal(tether_client_hs_add_protocol(c, "v1.chat"), 0);
    assert_int_equal(
        tether_client_hs_add_extension(c, "permessage-deflate; client_max_window_bits"), 0);
    assert_int_equal(tether_client_hs_add_header(c, "Cookie", "id=42"), 0);
    assert_int_equal(tether_client_hs_request(c, &req, &req_len), 0);

    assert_int_equal(tether_server_hs_parse(s, (const uint8_t *)req, req_len, &used), 0);
    assert_int_equal(used, req_len);
    assert_string_equal(tether_server_hs_path(s), "/room/7");
    assert_string_equal(tether_server_hs_query(s), "user=ann");
    assert_string_equal(tether_server_hs_header(s, "host"), "example.com:8080");
    assert_string_equal(tether_server_hs_origin(s), "https://example.com");
    assert_string_equal(tether_server_hs_header(s, "cookie"), "id=42");
    assert_string_equal(tether_server_hs_extensions(s),
                        "permessage-deflate; client_max_window_bits");
    assert_int_equal(tether_server_hs_protocol_count(s), 2);
    assert_string_equal(tether_server_hs_protocol_at(s, 0), "v2.chat");
    assert_int_equal(tether_server_hs_select_protocol(s, "v1.chat"), 0);
    assert_int_equal(
        tether_server_hs_set_extensions(s, "permessage-deflate; client_max_window_bits=12"), 0);
    assert_int_equal(tether_server_hs_add_header(s, "Set-Cookie", "seen=1"), 0);
    assert_int_equal(tether_server_hs_accept(s, &resp, &resp_len), 0);

    char buf[1024];
    memcpy(buf, resp, resp_len);
    memcpy(buf + resp_len, "\x81\x00", 2);
    assert_int_equal(tether_client_hs_parse(c, (const uint8_t *)buf, resp_len + 2, &used), 0);
    assert_int_equal(used, resp_len);
    assert_string_equal(tether_client_hs_protocol(c), "v1.chat");
    assert_string_equal(tether_client_hs_extensions(c),
                        "permessage-deflate; client_max_window_bits=12");
    assert_string_equal(tether_client_hs_header(c, "set-cookie"), "seen=1");
    tether_server_hs_free(s);
    tether_client_hs_free(c);

    /* And a refusal travels back as HS_STATUS. */
    c = tether_client_hs_new("a", "/");
    s = tether_server_hs_new();
    assert_int_equal(tether_client_hs_request(c, &req, &req_len), 0);
    assert_int_equal(tether_server_hs_parse(s, (const uint8_t *)req, req_len, &used), 0);
    assert_int_equal(tether_server_hs_reject(s, 403, "go away", &resp, &resp_len), 0);
    assert_int_equal(tether_client_hs_parse(c, (const uint8_t *)resp, resp_len, &used),
                     TETHER_E_HS_STATUS);
    assert_int_equal(used, resp_len - strlen("go away"));
    assert_int_equal(tether_client_hs_status(c), 403);
    assert_string_equal(tether_client_hs_header(c, "content-length"), "7");
    tether_server_hs_free(s);
    tether_client_hs_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_request),
        cmocka_unit_test(test_request_contents),
        cmocka_unit_test(test_settings_validation),
        cmocka_unit_test(test_rfc_response),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_frames_after_head),
        cmocka_unit_test(test_header_case_and_lists),
        cmocka_unit_test(test_refused_status),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_state_and_null),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
