/* URLs, loopback sockets and name resolution. Only loopback addresses are
 * used and every wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tether.h"
#include "net/net.h"

/* ---- URLs */

typedef struct url_case {
    const char *url;
    int secure;
    const char *host;
    int port;
    const char *hostport;
    const char *target;
} url_case;

static void test_url_good(void **state) {
    (void)state;
    static const url_case cases[] = {
        {"ws://example.com", 0, "example.com", 80, "example.com", "/"},
        {"ws://example.com/", 0, "example.com", 80, "example.com", "/"},
        {"wss://example.com", 1, "example.com", 443, "example.com", "/"},
        {"WS://Example.COM/Chat", 0, "Example.COM", 80, "Example.COM", "/Chat"},
        {"ws://example.com:8080/chat", 0, "example.com", 8080, "example.com:8080", "/chat"},
        {"ws://example.com:80/x", 0, "example.com", 80, "example.com", "/x"},
        {"wss://example.com:443/x", 1, "example.com", 443, "example.com", "/x"},
        {"wss://example.com:80/x", 1, "example.com", 80, "example.com:80", "/x"},
        {"ws://example.com?x=1", 0, "example.com", 80, "example.com", "/?x=1"},
        {"ws://h/a/b?c=d&e=f", 0, "h", 80, "h", "/a/b?c=d&e=f"},
        {"ws://127.0.0.1:9001/echo", 0, "127.0.0.1", 9001, "127.0.0.1:9001", "/echo"},
        {"ws://[::1]:9000/a?b=c", 0, "::1", 9000, "[::1]:9000", "/a?b=c"},
        {"wss://[2001:db8::1]/", 1, "2001:db8::1", 443, "[2001:db8::1]", "/"},
        {"ws://[::ffff:127.0.0.1]", 0, "::ffff:127.0.0.1", 80, "[::ffff:127.0.0.1]", "/"},
        {"ws://my-host.local_x:65535", 0, "my-host.local_x", 65535, "my-host.local_x:65535", "/"},
        {"ws://h:1/%20", 0, "h", 1, "h:1", "/%20"},
        {"ws://h:0080", 0, "h", 80, "h", "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const url_case *c = &cases[i];
        tt_url u;
        int rc = tt_url_parse(c->url, &u);
        if (rc != 0) fail_msg("rejected %s", c->url);
        assert_int_equal(u.secure, c->secure);
        assert_string_equal(u.host, c->host);
        assert_int_equal(u.port, c->port);
        assert_string_equal(u.hostport, c->hostport);
        assert_string_equal(u.target, c->target);
        tt_url_free(&u);
        assert_null(u.host);
        tt_url_free(&u); /* twice is harmless */
    }
}

static void test_url_bad(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "example.com",
        "http://example.com/",
        "ws:/example.com",
        "ws://",
        "ws:///path",
        "ws://:80/",
        "ws://example.com:/",
        "ws://example.com:0/",
        "ws://example.com:65536/",
        "ws://example.com:99999/",
        "ws://example.com:-1/",
        "ws://example.com:8a/",
        "ws://example.com:+80/",
        "ws://example.com:80:81/",
        "ws://user@example.com/",
        "ws://user:pw@example.com/",
        "ws://example.com/#frag",
        "ws://example.com#frag",
        "ws://exa mple.com/",
        "ws://example.com/a b",
        "ws://example.com/a\tb",
        "ws://example.com/\r\nX-Evil: 1",
        "ws://example.com/\x7f",
        "ws://example.com/\xc3\xa9",
        "ws://[::1/",
        "ws://::1]/",
        "ws://[::1]x/",
        "ws://[]/",
        "ws://[not-v6]/",
        "ws://[fe80::1%25eth0]/",
        "ws://[::1]:/",
        "ws://ex%41mple.com/",
        "ws://a[b]/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tt_url u;
        int rc = tt_url_parse(bad[i], &u);
        if (rc != TETHER_E_INVAL) fail_msg("accepted or odd rc %d: %s", rc, bad[i]);
        assert_null(u.host); /* nothing to free on failure */
    }
    tt_url u;
    assert_int_equal(tt_url_parse(NULL, &u), TETHER_E_INVAL);
    assert_int_equal(tt_url_parse("ws://h/", NULL), TETHER_E_INVAL);
}

/* ---- Sockets */

static int wait_fd(int fd, short events, int ms) {
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

static int local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int connect_to(int family, const char *ip, int port) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
        len = sizeof *a;
    }
    return tt_sock_connect((struct sockaddr *)&ss, len);
}

/* Accepts one pending connection, waiting up to 2 s for it. */
static int accept_one(int lfd, char *peer, size_t cap) {
    assert_true(wait_fd(lfd, POLLIN, 2000) & POLLIN);
    return tt_sock_accept(lfd, peer, cap);
}

/* Connects to listener port through ip, accepts, checks the peer text and
 * moves bytes both ways. */
static void round_trip(int lfd, int port, int family, const char *ip, const char *peer_fmt) {
    char peer[64];
    assert_int_equal(tt_sock_accept(lfd, peer, sizeof peer), TETHER_E_AGAIN);
    int c = connect_to(family, ip, port);
    assert_true(c >= 0);
    assert_true(wait_fd(c, POLLOUT, 2000) & POLLOUT);
    assert_int_equal(tt_sock_connect_result(c), 0);
    int s = accept_one(lfd, peer, sizeof peer);
    assert_true(s >= 0);
    char want[64];
    snprintf(want, sizeof want, peer_fmt, local_port(c));
    assert_string_equal(peer, want);

    char buf[64];
    assert_int_equal(tt_sock_read(s, buf, sizeof buf), TETHER_E_AGAIN);
    struct iovec iov[3] = {{"hel", 3}, {"", 0}, {"lo, world", 9}};
    assert_int_equal(tt_sock_writev(c, iov, 3), 12);
    assert_true(wait_fd(s, POLLIN, 2000) & POLLIN);
    assert_int_equal(tt_sock_read(s, buf, sizeof buf), 12);
    assert_memory_equal(buf, "hello, world", 12);
    struct iovec back = {"ok", 2};
    assert_int_equal(tt_sock_writev(s, &back, 1), 2);
    assert_true(wait_fd(c, POLLIN, 2000) & POLLIN);
    assert_int_equal(tt_sock_read(c, buf, sizeof buf), 2);
    close(c);
    assert_true(wait_fd(s, POLLIN, 2000) & POLLIN);
    assert_int_equal(tt_sock_read(s, buf, sizeof buf), 0); /* orderly EOF */
    close(s);
}

static int have_ipv6_loopback(void) {
    int bound = 0;
    int fd = tt_sock_listen("::1", 0, 0, 1, &bound);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

static void test_ipv4_round_trip(void **state) {
    (void)state;
    int port = -1;
    int lfd = tt_sock_listen("127.0.0.1", 0, 0, 16, &port);
    assert_true(lfd >= 0);
    assert_true(port > 0 && port <= 65535);
    assert_int_equal(port, local_port(lfd));
    round_trip(lfd, port, AF_INET, "127.0.0.1", "127.0.0.1:%d");
    close(lfd);
}

static void test_ipv6_round_trip(void **state) {
    (void)state;
    if (!have_ipv6_loopback()) skip();
    int port = -1;
    int lfd = tt_sock_listen("::1", 0, 0, 16, &port);
    assert_true(lfd >= 0);
    round_trip(lfd, port, AF_INET6, "::1", "[::1]:%d");
    close(lfd);
}

/* host NULL / "" / "::" listen on every address, IPv4 and IPv6 alike. */
static void test_dual_stack_listen(void **state) {
    (void)state;
    if (!have_ipv6_loopback()) skip();
    const char *hosts[] = {NULL, "", "::"};
    for (int i = 0; i < 3; i++) {
        int port = -1;
        int lfd = tt_sock_listen(hosts[i], 0, 0, 16, &port);
        assert_true(lfd >= 0);
        round_trip(lfd, port, AF_INET, "127.0.0.1", "127.0.0.1:%d"); /* unmapped */
        round_trip(lfd, port, AF_INET6, "::1", "[::1]:%d");
        close(lfd);
    }
}

/* A port nobody listens on: bind one, note it, close it. */
static int closed_port(void) {
    int port = -1;
    int lfd = tt_sock_listen("127.0.0.1", 0, 0, 1, &port);
    assert_true(lfd >= 0);
    close(lfd);
    return port;
}

static void test_connect_refused(void **state) {
    (void)state;
    int c = connect_to(AF_INET, "127.0.0.1", closed_port());
    if (c < 0) {
        assert_int_equal(c, TETHER_E_CONNECT); /* refused synchronously */
        return;
    }
    assert_true(wait_fd(c, POLLOUT, 2000) != 0);
    assert_int_equal(tt_sock_connect_result(c), TETHER_E_CONNECT);
    close(c);
}

static void test_write_to_vanished_peer(void **state) {
    (void)state;
    int port = -1;
    int lfd = tt_sock_listen("127.0.0.1", 0, 0, 4, &port);
    int c = connect_to(AF_INET, "127.0.0.1", port);
    assert_true(c >= 0);
    int s = accept_one(lfd, NULL, 0);
    assert_true(s >= 0);
    close(s);
    /* Writing on: first a reset, then EPIPE. Either way an error code, and
     * the process is not killed by SIGPIPE. */
    char block[4096] = {0};
    struct iovec iov = {block, sizeof block};
    ssize_t rc = 0;
    for (int i = 0; i < 100 && rc >= 0; i++) {
        rc = tt_sock_writev(c, &iov, 1);
        if (rc >= 0) wait_fd(c, POLLIN, 10);
    }
    assert_int_equal(rc, TETHER_E_IO);
    close(c);
    close(lfd);
}

static void test_reuseport(void **state) {
    (void)state;
    int port = -1, port2 = -1;
    int a = tt_sock_listen("127.0.0.1", 0, 1, 4, &port);
    assert_true(a >= 0);
    int b = tt_sock_listen("127.0.0.1", port, 1, 4, &port2);
    assert_true(b >= 0);
    assert_int_equal(port2, port);
    /* Without SO_REUSEPORT the port is busy. */
    int c = tt_sock_listen("127.0.0.1", port, 0, 4, NULL);
    assert_true(c < 0);
    close(a);
    close(b);
}

static void test_sock_bad_args(void **state) {
    (void)state;
    assert_int_equal(tt_sock_listen("127.0.0.1", -1, 0, 4, NULL), TETHER_E_INVAL);
    assert_int_equal(tt_sock_listen("127.0.0.1", 65536, 0, 4, NULL), TETHER_E_INVAL);
    assert_int_equal(tt_sock_listen("nonexistent.invalid", 0, 0, 4, NULL), TETHER_E_DNS);
    assert_int_equal(tt_sock_connect(NULL, 0), TETHER_E_INVAL);
    char buf[4];
    assert_int_equal(tt_sock_read(0, buf, 0), TETHER_E_INVAL);
    assert_int_equal(tt_sock_writev(1, NULL, 1), TETHER_E_INVAL);
}

/* ---- Resolution */

typedef struct res_result {
    int called;
    int err;
    int v4, v6;
    int port;
    int inside_start; /* set while tt_resolve_start runs */
    int called_inside;
} res_result;

static void res_cb(void *arg, struct addrinfo *res, int err, int gai) {
    res_result *r = arg;
    r->called++;
    r->err = err;
    assert_true(err ? gai != 0 : gai == 0); /* a failure says getaddrinfo's why */
    if (r->inside_start) r->called_inside = 1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        assert_int_equal(ai->ai_socktype, SOCK_STREAM);
        if (ai->ai_family == AF_INET) {
            r->v4++;
            r->port = ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port);
        } else if (ai->ai_family == AF_INET6) {
            r->v6++;
            r->port = ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
        }
    }
    if (res) freeaddrinfo(res);
}

static void resolve_wait(tt_loop *loop, const char *host, int port, res_result *r) {
    memset(r, 0, sizeof *r);
    r->inside_start = 1;
    assert_int_equal(tt_resolve_start(loop, host, port, res_cb, r, NULL), 0);
    r->inside_start = 0;
    assert_int_equal(r->called, 0);
    uint64_t t0 = tt_now_ms();
    while (!r->called && tt_now_ms() - t0 < 15000)
        assert_true(tt_loop_poll(loop, 100) >= 0);
    assert_int_equal(r->called, 1);
    assert_false(r->called_inside);
}

static void test_resolve_numeric(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    res_result r;
    resolve_wait(loop, "127.0.0.1", 8080, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.v4, 1);
    assert_int_equal(r.v6, 0);
    assert_int_equal(r.port, 8080);
    resolve_wait(loop, "::1", 443, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.v4, 0);
    assert_int_equal(r.v6, 1);
    assert_int_equal(r.port, 443);
    tt_loop_free(loop);
    assert_int_equal(tt_resolve_threads(), 0); /* numeric: no thread */
}

static void test_resolve_localhost(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    res_result r;
    resolve_wait(loop, "localhost", 9000, &r);
    assert_int_equal(r.err, 0);
    assert_true(r.v4 >= 1);
    if (have_ipv6_loopback()) assert_true(r.v6 >= 1);
    assert_int_equal(r.port, 9000);
    resolve_wait(loop, "LocalHost", 1, &r);
    assert_true(r.v4 >= 1);
    tt_loop_free(loop);
}

static void wait_no_resolver_threads(void) {
    uint64_t t0 = tt_now_ms();
    while (tt_resolve_threads() > 0 && tt_now_ms() - t0 < 15000) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(tt_resolve_threads(), 0);
}

static void test_resolve_invalid_name(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    res_result r;
    resolve_wait(loop, "nonexistent.invalid", 80, &r);
    assert_int_equal(r.err, TETHER_E_DNS);
    assert_int_equal(r.v4 + r.v6, 0);
    wait_no_resolver_threads();
    tt_loop_free(loop);
}

static void test_resolve_cancel(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    const char *hosts[] = {"127.0.0.1", "localhost", "nonexistent.invalid"};
    for (int i = 0; i < 3; i++) {
        res_result r = {0};
        tt_resolve *h = NULL;
        assert_int_equal(tt_resolve_start(loop, hosts[i], 80, res_cb, &r, &h), 0);
        assert_non_null(h);
        tt_resolve_cancel(h);
        wait_no_resolver_threads();
        for (int k = 0; k < 5; k++)
            assert_true(tt_loop_poll(loop, 20) >= 0);
        assert_int_equal(r.called, 0);
    }
    /* Cancelled while the thread runs and the loop freed before the job
     * would run: nothing leaks, nothing is called. */
    res_result r = {0};
    tt_resolve *h = NULL;
    assert_int_equal(tt_resolve_start(loop, "nonexistent.invalid", 80, res_cb, &r, &h), 0);
    tt_resolve_cancel(h);
    tt_loop_free(loop);
    wait_no_resolver_threads();
    assert_int_equal(r.called, 0);
}

/* Many threaded resolves cancelled at random points against their threads
 * finishing: the race the refcount and mutex exist for. */
static void test_resolve_cancel_race(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    enum { N = 8 };
    res_result r[N];
    tt_resolve *h[N];
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++)
        assert_int_equal(tt_resolve_start(loop, "nonexistent.invalid", 80, res_cb, &r[i], &h[i]),
                         0);
    for (int i = 0; i < N; i += 2) {
        tt_resolve_cancel(h[i]);
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
    wait_no_resolver_threads();
    for (int k = 0; k < 5; k++)
        assert_true(tt_loop_poll(loop, 20) >= 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(r[i].called, i % 2 ? 1 : 0);
    tt_loop_free(loop);
}

static void test_resolve_bad_args(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    res_result r;
    tt_resolve *h = (tt_resolve *)&r;
    assert_int_equal(tt_resolve_start(loop, "", 80, res_cb, &r, &h), TETHER_E_INVAL);
    assert_null(h);
    assert_int_equal(tt_resolve_start(loop, NULL, 80, res_cb, &r, NULL), TETHER_E_INVAL);
    assert_int_equal(tt_resolve_start(loop, "h", 70000, res_cb, &r, NULL), TETHER_E_INVAL);
    assert_int_equal(tt_resolve_start(loop, "h", 80, NULL, &r, NULL), TETHER_E_INVAL);
    assert_int_equal(tt_resolve_start(NULL, "h", 80, res_cb, &r, NULL), TETHER_E_INVAL);
    tt_resolve_cancel(NULL);
    tt_loop_free(loop);
}

int main(void) {
    alarm(90);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_ipv4_round_trip),
        cmocka_unit_test(test_ipv6_round_trip),
        cmocka_unit_test(test_dual_stack_listen),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_write_to_vanished_peer),
        cmocka_unit_test(test_reuseport),
        cmocka_unit_test(test_sock_bad_args),
        cmocka_unit_test(test_resolve_numeric),
        cmocka_unit_test(test_resolve_localhost),
        cmocka_unit_test(test_resolve_invalid_name),
        cmocka_unit_test(test_resolve_cancel),
        cmocka_unit_test(test_resolve_cancel_race),
        cmocka_unit_test(test_resolve_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
