/* The client's way to a server: happy eyeballs (RFC 8305) over "localhost",
 * which resolves to ::1 and 127.0.0.1, with one of the two refusing or a
 * black hole; the connect timeout over the whole race; the OS's reasons.
 * Proxies are tested against real proxy servers in tests/interop. */
#include "live_util.h"

#include <netdb.h>
#include <poll.h>

/* The family localhost resolves to first, as the library asks for it (0:
 * localhost has only one family here: the race cannot be tested). */
static int first_family(int port, int *second) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_protocol = IPPROTO_TCP,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(NULL, service, &hints, &res) != 0) return 0;
    int first = res->ai_family;
    *second = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (ai->ai_family != first) *second = ai->ai_family;
    freeaddrinfo(res);
    return *second ? first : 0;
}

static socklen_t loopback(int family, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons((uint16_t)port);
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons((uint16_t)port);
    return sizeof *a;
}

/* A socket bound to the loopback address of family on port (not
 * listening: connections to it are refused), or -1. */
static int bound(int family, int port) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t len = loopback(family, port, &ss);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

/* Makes the bound socket fd a black hole: listening with a backlog of 0
 * that is full, so the kernel drops every new SYN and connects to it hang.
 * fillers[] get the connections that fill it. 0, or -1 if the kernel here
 * does not behave so (the test is then skipped). */
static int black_hole(int fd, int family, int port, int fillers[8]) {
    if (listen(fd, 0) != 0) return -1;
    struct sockaddr_storage ss;
    socklen_t len = loopback(family, port, &ss);
    for (int i = 0; i < 8; i++) {
        fillers[i] = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connect(fillers[i], (struct sockaddr *)&ss, len) == 0) continue;
        struct pollfd p = {.fd = fillers[i], .events = POLLOUT};
        if (poll(&p, 1, 300) == 0) return 0; /* this one hangs: the queue is full */
    }
    return -1;
}

static void close_all(int *fds, int n) {
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
}

/* A tether listener on localhost's second family, and the same port bound
 * on its first; false if IPv6 or the port is missing here. */
static int two_families(world *w, int *first, int *hole) {
    int second;
    for (int tries = 0; tries < 20; tries++) {
        tether_listener *l;
        assert_int_equal(tether_listen(w->ctx, "localhost", 0, NULL, &l), 0);
        int port = tether_listener_port(l);
        tether_listener_close(l);
        if (!(*first = first_family(port, &second))) return 0;
        const char *host = second == AF_INET6 ? "::1" : "127.0.0.1";
        if (tether_listen(w->ctx, host, port, NULL, &w->l) != 0) continue;
        if ((*hole = bound(*first, port)) >= 0) {
            w->port = port;
            return 1;
        }
        tether_listener_close(w->l);
        w->l = NULL;
    }
    return 0;
}

/* localhost's first address refuses: the second one opens. */
static void test_first_refuses(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    int first, hole;
    if (!two_families(&w, &first, &hole)) {
        printf("# localhost has one family here: skipped\n");
        w_free(&w);
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "ws://localhost:%d/", w.port);
    side *c = w_connect_url(&w, url, NULL);
    UNTIL(&w, 5000, c->open || c->closed);
    assert_int_equal(c->open, 1);
    close(hole);
    w_free(&w);
}

/* localhost's first address is a black hole: RFC 8305 starts the second
 * 250 ms later, which opens long before the 30 s connect timeout. */
static void test_first_hangs(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    int first, hole, fillers[8];
    memset(fillers, -1, sizeof fillers);
    if (!two_families(&w, &first, &hole) || black_hole(hole, first, w.port, fillers) != 0) {
        printf("# no two-family localhost or no black hole here: skipped\n");
        if (w.l) close(hole);
        close_all(fillers, 8);
        w_free(&w);
        return;
    }
    tether_opts *o = tether_opts_new();
    tether_opts_set_connect_timeout(o, 30000);
    char url[64];
    snprintf(url, sizeof url, "ws://localhost:%d/", w.port);
    uint64_t t0 = lu_now_ms();
    side *c = w_connect_url(&w, url, o);
    tether_opts_free(o);
    UNTIL(&w, 10000, c->open || c->closed);
    uint64_t took = lu_now_ms() - t0;
    assert_int_equal(c->open, 1);
    assert_true(took >= 250); /* the stagger: the second address waited */
    assert_true(took < 10000);
    close_all(fillers, 8);
    close(hole);
    w_free(&w);
}

/* The connect timeout covers the whole race: one black hole only. */
static void test_timeout_whole(void **state) {
    world w;
    w_init(&w, MODE(state));
    int fillers[8];
    memset(fillers, -1, sizeof fillers);
    int hole = bound(AF_INET, 0);
    assert_true(hole >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    getsockname(hole, (struct sockaddr *)&a, &al);
    int port = ntohs(a.sin_port);
    if (black_hole(hole, AF_INET, port, fillers) != 0) {
        printf("# no black hole here: skipped\n");
        close_all(fillers, 8);
        close(hole);
        w_free(&w);
        return;
    }
    tether_opts *o = tether_opts_new();
    tether_opts_set_connect_timeout(o, 400);
    side *c = w_connect_port(&w, port, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 10000, c->closed);
    assert_int_equal(c->open, 0);
    assert_int_equal(c->error, TETHER_E_TIMEOUT);
    close_all(fillers, 8);
    close(hole);
    w_free(&w);
}

/* Every address refuses: the OS's reason, with the address, and errno. */
static void test_all_refuse(void **state) {
    world w;
    w_init(&w, MODE(state));
    int hole = bound(AF_INET, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    getsockname(hole, (struct sockaddr *)&a, &al);
    side *c = w_connect_port(&w, ntohs(a.sin_port), "/", NULL);
    UNTIL(&w, 5000, c->closed);
    assert_int_equal(c->error, TETHER_E_CONNECT);
    char want[64];
    snprintf(want, sizeof want, "connection refused (127.0.0.1:%d)", ntohs(a.sin_port));
    assert_string_equal(c->error_text, want);
    close(hole);
    w_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_first_refuses),
        BOTH(test_first_hangs),
        BOTH(test_timeout_whole),
        BOTH(test_all_refuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
