/* Proxies without a socket: proxy URLs, the environment as curl reads it,
 * and the tunnel layer's two handshakes (HTTP CONNECT, SOCKS5) fed the
 * proxy's answers byte by byte, checked byte for byte. The real proxies
 * (tinyproxy, microsocks) are in tests/interop/test_proxy.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/net.h"
#include "stack/tunnel.h"
#include "tether.h"

static void test_parse(void **state) {
    (void)state;
    tt_proxy p;
    assert_int_equal(tt_proxy_parse("http://proxy.example:3128", &p), 0);
    assert_int_equal(p.kind, TT_PROXY_HTTP);
    assert_string_equal(p.host, "proxy.example");
    assert_int_equal(p.port, 3128);
    assert_null(p.user);
    tt_proxy_free(&p);
    /* no scheme: http, port 1080 as curl; credentials percent-decoded */
    assert_int_equal(tt_proxy_parse("u%40x:p%3Aw@10.0.0.1/", &p), 0);
    assert_int_equal(p.kind, TT_PROXY_HTTP);
    assert_int_equal(p.port, 1080);
    assert_string_equal(p.user, "u@x");
    assert_string_equal(p.pass, "p:w");
    tt_proxy_free(&p);
    assert_int_equal(tt_proxy_parse("SOCKS5H://[::1]:9050", &p), 0);
    assert_int_equal(p.kind, TT_PROXY_SOCKS5H);
    assert_string_equal(p.host, "::1");
    tt_proxy_free(&p);
    assert_int_equal(tt_proxy_parse("socks5://user@h", &p), 0);
    assert_int_equal(p.kind, TT_PROXY_SOCKS5);
    assert_string_equal(p.user, "user");
    assert_null(p.pass);
    tt_proxy_free(&p);
    static const char *bad[] = {
        "",           "http://",      "http://h:0",    "http://h:99999", "http://h/x",
        "http://h p", "http://u%4@h", "http://u%00@h", "http://[::1",    "http://h:12a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tt_proxy_parse(bad[i], &p) != TETHER_E_INVAL) fail_msg("accepted %s", bad[i]);
    /* RFC 1929 carries each credential in one length byte: 255 at most */
    char url[600];
    snprintf(url, sizeof url, "socks5h://%0255d:pw@h", 0);
    assert_int_equal(tt_proxy_parse(url, &p), 0);
    tt_proxy_free(&p);
    snprintf(url, sizeof url, "socks5h://%0256d:pw@h", 0);
    assert_int_equal(tt_proxy_parse(url, &p), TETHER_E_INVAL);
    snprintf(url, sizeof url, "socks5h://u:%0256d@h", 0);
    assert_int_equal(tt_proxy_parse(url, &p), TETHER_E_INVAL);
    assert_int_equal(tt_proxy_parse("https://h", &p), TETHER_E_UNSUPPORTED);
    assert_int_equal(tt_proxy_parse("socks4://h", &p), TETHER_E_UNSUPPORTED);
    assert_int_equal(tt_proxy_parse(NULL, &p), TETHER_E_INVAL);
}

static void clear_env(void) {
    static const char *vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                 "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

static void test_env(void **state) {
    (void)state;
    clear_env();
    assert_null(tt_proxy_from_env(0, "h"));
    setenv("HTTP_PROXY", "http://upper", 1); /* never read: httpoxy */
    assert_null(tt_proxy_from_env(0, "h"));
    setenv("http_proxy", "http://plain", 1);
    setenv("HTTPS_PROXY", "http://secure", 1);
    assert_string_equal(tt_proxy_from_env(0, "h"), "http://plain");
    assert_string_equal(tt_proxy_from_env(1, "h"), "http://secure");
    setenv("https_proxy", "http://lower", 1); /* lower case first */
    assert_string_equal(tt_proxy_from_env(1, "h"), "http://lower");
    clear_env();
    setenv("ALL_PROXY", "socks5h://all", 1);
    assert_string_equal(tt_proxy_from_env(1, "h"), "socks5h://all");
    assert_string_equal(tt_proxy_from_env(0, "h"), "socks5h://all");
    /* no_proxy: names, domains with or without the dot, addresses, "*" */
    setenv("no_proxy", " example.com ,.local.test,127.0.0.1,[::1]", 1);
    assert_null(tt_proxy_from_env(0, "example.com"));
    assert_null(tt_proxy_from_env(0, "www.EXAMPLE.com"));
    assert_non_null(tt_proxy_from_env(0, "badexample.com"));
    assert_null(tt_proxy_from_env(0, "a.local.test"));
    assert_null(tt_proxy_from_env(0, "local.test"));
    assert_null(tt_proxy_from_env(0, "127.0.0.1"));
    assert_null(tt_proxy_from_env(0, "::1"));
    assert_non_null(tt_proxy_from_env(0, "127.0.0.2"));
    setenv("NO_PROXY", "*", 1);
    unsetenv("no_proxy");
    assert_null(tt_proxy_from_env(0, "anything"));
    clear_env();
}

/* ---- the tunnel layer, with the proxy's answers scripted -------------- */

static tt_layer *tunnel(const char *url, const char *host, int port) {
    tt_proxy p;
    assert_int_equal(tt_proxy_parse(url, &p), 0);
    tt_layer *l = tt_tunnel_new(&p, host, port);
    tt_proxy_free(&p); /* the layer has its own copy */
    assert_non_null(l);
    return l;
}

/* Everything the layer has for the proxy. */
static size_t take_all(tt_layer *l, uint8_t *buf, size_t cap) {
    size_t n = l->ops->take(l, buf, cap);
    assert_int_equal(l->ops->pending(l), 0);
    return n;
}

/* Feeds the answer one byte at a time: AGAIN until the last, then rc. */
static int feed_slowly(tt_layer *l, const void *answer, size_t len) {
    const uint8_t *a = answer;
    for (size_t i = 0; i + 1 < len; i++) {
        assert_int_equal(l->ops->feed(l, a + i, 1), 0);
        int rc = l->ops->step(l);
        if (rc != TETHER_E_AGAIN) return rc;
    }
    assert_int_equal(l->ops->feed(l, a + len - 1, 1), 0);
    return l->ops->step(l);
}

static void test_http_connect(void **state) {
    (void)state;
    tt_layer *l = tunnel("http://Aladdin:open%20sesame@proxy", "server.example", 443);
    assert_int_equal(l->ops->step(l), TETHER_E_AGAIN);
    uint8_t out[1024];
    size_t n = take_all(l, out, sizeof out);
    static const char want[] = "CONNECT server.example:443 HTTP/1.1\r\n"
                               "Host: server.example:443\r\n"
                               "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);
    /* the head, then bytes that are already the server's */
    static const char answer[] = "HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nSERVER";
    assert_int_equal(feed_slowly(l, answer, sizeof answer - 1 - 6), 0);
    assert_int_equal(l->ops->feed(l, (const uint8_t *)"SERVER", 6), 0);
    uint8_t in[16];
    assert_int_equal(l->ops->read(l, in, sizeof in), 6);
    assert_memory_equal(in, "SERVER", 6);
    assert_int_equal(l->ops->write(l, (const uint8_t *)"hello", 5), 5);
    assert_int_equal(take_all(l, out, sizeof out), 5);
    char d[128];
    assert_string_equal(l->ops->describe(l, d, sizeof d), "via HTTP proxy proxy:1080");
    l->ops->free(l);

    /* an IPv6 server is bracketed */
    l = tunnel("http://p:1", "::1", 8080);
    assert_int_equal(l->ops->step(l), TETHER_E_AGAIN);
    n = take_all(l, out, sizeof out);
    assert_true(n > 30 && memcmp(out, "CONNECT [::1]:8080 HTTP/1.1\r\n", 29) == 0);
    l->ops->free(l);
}

static void test_http_refused(void **state) {
    (void)state;
    static const struct {
        const char *answer, *why;
    } cases[] = {
        {"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
         "HTTP 407 Proxy Authentication Required from the proxy"},
        {"HTTP/1.0 403 Forbidden\r\n\r\n", "HTTP 403 Forbidden from the proxy"},
        {"HTTP/1.1 502\r\n\r\n", "HTTP 502  from the proxy"},
        {"SSH-2.0-OpenSSH\r\n\r\n", "the proxy did not answer in HTTP/1.x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tt_layer *l = tunnel("http://p", "s", 80);
        assert_int_equal(l->ops->step(l), TETHER_E_AGAIN);
        assert_int_equal(feed_slowly(l, cases[i].answer, strlen(cases[i].answer)), TETHER_E_PROXY);
        assert_string_equal(l->ops->error_text(l), cases[i].why);
        assert_int_equal(l->ops->step(l), TETHER_E_PROXY); /* for good */
        l->ops->free(l);
    }
    /* an endless head is cut at 16 KiB */
    tt_layer *l = tunnel("http://p", "s", 80);
    assert_int_equal(l->ops->step(l), TETHER_E_AGAIN);
    static char junk[20000];
    memset(junk, 'a', sizeof junk);
    memcpy(junk, "HTTP/1.1 200 OK\r\n", 17);
    assert_int_equal(l->ops->feed(l, (const uint8_t *)junk, sizeof junk), 0);
    assert_int_equal(l->ops->step(l), TETHER_E_PROXY);
    assert_string_equal(l->ops->error_text(l), "the proxy's answer is over 16384 bytes");
    l->ops->free(l);
}

static void test_socks5_plain(void **state) {
    (void)state;
    tt_layer *l = tunnel("socks5h://p", "server.example", 8080);
    assert_int_equal(l->ops->step(l), TETHER_E_AGAIN);
    uint8_t out[600];
    assert_int_equal(take_all(l, out, sizeof out), 3);
    assert_memory_equal(out, "\x05\x01\x00", 3);
    assert_int_equal(feed_slowly(l, "\x05\x00", 2), TETHER_E_AGAIN);
    size_t n = take_all(l, out, sizeof out);
    static const uint8_t req[] = "\x05\x01\x00\x03\x0eserver.example\x1f\x90";
    assert_int_equal(n, sizeof req - 1);
    assert_memory_equal(out, req, n);
    /* the reply with a bound IPv6 address, then the server's bytes */
    static const uint8_t reply[] = "\x05\x00\x00\x04"
                                   "0123456789abcdef\x00\x50";
    assert_int_equal(feed_slowly(l, reply, sizeof reply - 1), 0);
    assert_int_equal(l->ops->read(l, out, sizeof out), TETHER_E_AGAIN);
    l->ops->free(l);

    /* addresses go as addresses */
    l = tunnel("socks5://p", "127.0.0.1", 80);
    assert_int_equal(l->ops->step(l), TETHER_E_AGAIN);
    take_all(l, out, sizeof out);
    assert_int_equal(feed_slowly(l, "\x05\x00", 2), TETHER_E_AGAIN);
    assert_int_equal(take_all(l, out, sizeof out), 10);
    assert_memory_equal(out, "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50", 10);
    /* a domain-typed reply and extra bytes in the same read */
    static const uint8_t r2[] = "\x05\x00\x00\x03\x03"
                                "abc\x00\x50"
                                "XY";
    assert_int_equal(l->ops->feed(l, r2, sizeof r2 - 1), 0);
    assert_int_equal(l->ops->step(l), 0);
    assert_int_equal(l->ops->read(l, out, sizeof out), 2);
    assert_memory_equal(out, "XY", 2);
    l->ops->free(l);
}

static void test_socks5_auth(void **state) {
    (void)state;
    tt_layer *l = tunnel("socks5h://bob:s3cret@p", "s", 1);
    assert_int_equal(l->ops->step(l), TETHER_E_AGAIN);
    uint8_t out[600];
    assert_int_equal(take_all(l, out, sizeof out), 4);
    assert_memory_equal(out, "\x05\x02\x00\x02", 4);
    assert_int_equal(feed_slowly(l, "\x05\x02", 2), TETHER_E_AGAIN);
    assert_int_equal(take_all(l, out, sizeof out), 12);
    assert_memory_equal(out,
                        "\x01\x03"
                        "bob\x06s3cret",
                        12);
    assert_int_equal(feed_slowly(l, "\x01\x00", 2), TETHER_E_AGAIN);
    assert_int_equal(take_all(l, out, sizeof out), 8);
    assert_int_equal(feed_slowly(l, "\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10), 0);
    l->ops->free(l);

    l = tunnel("socks5h://bob:wrong@p", "s", 1);
    l->ops->step(l);
    assert_int_equal(feed_slowly(l, "\x05\x02\x01\x01", 4), TETHER_E_PROXY);
    assert_string_equal(l->ops->error_text(l), "SOCKS5 proxy: username/password refused");
    l->ops->free(l);

    l = tunnel("socks5h://p", "s", 1); /* the proxy wants credentials we lack */
    l->ops->step(l);
    assert_int_equal(feed_slowly(l, "\x05\xff", 2), TETHER_E_PROXY);
    assert_string_equal(l->ops->error_text(l), "SOCKS5 proxy: it asks for a username and password");
    l->ops->free(l);
}

static void test_socks5_refused(void **state) {
    (void)state;
    static const struct {
        uint8_t rep;
        const char *why;
    } cases[] = {{1, "SOCKS5 proxy: general SOCKS server failure (reply 1)"},
                 {2, "SOCKS5 proxy: connection not allowed by ruleset (reply 2)"},
                 {4, "SOCKS5 proxy: host unreachable (reply 4)"},
                 {5, "SOCKS5 proxy: connection refused (reply 5)"},
                 {9, "SOCKS5 proxy: unknown reply (reply 9)"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tt_layer *l = tunnel("socks5h://p", "s", 1);
        l->ops->step(l);
        uint8_t answer[] = {5, 0, 5, cases[i].rep, 0, 1, 0, 0, 0, 0, 0, 0};
        assert_int_equal(feed_slowly(l, answer, sizeof answer), TETHER_E_PROXY);
        assert_string_equal(l->ops->error_text(l), cases[i].why);
        l->ops->free(l);
    }
    /* a name SOCKS5 cannot carry (one length byte) */
    char name[300];
    memset(name, 'a', 256);
    name[256] = 0;
    tt_layer *l = tunnel("socks5h://p", name, 1);
    l->ops->step(l);
    assert_int_equal(feed_slowly(l, "\x05\x00", 2), TETHER_E_PROXY);
    assert_string_equal(l->ops->error_text(l), "SOCKS5 proxy: host name over 255 bytes");
    l->ops->free(l);
    l = tunnel("socks5h://p", "s", 1);
    l->ops->step(l);
    assert_int_equal(feed_slowly(l, "HT", 2), TETHER_E_PROXY);
    assert_string_equal(l->ops->error_text(l), "SOCKS5 proxy: not a SOCKS5 server");
    l->ops->free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),          cmocka_unit_test(test_env),
        cmocka_unit_test(test_http_connect),   cmocka_unit_test(test_http_refused),
        cmocka_unit_test(test_socks5_plain),   cmocka_unit_test(test_socks5_auth),
        cmocka_unit_test(test_socks5_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
