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

/* ---- reconnecting (tether_opts_set_retry_*) ------------------------------ */

static struct { int n, attempt[16], delay[16], code[16], error[16], clean[16]; } retried;

static void retry_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    (void)s;
    if (tether_event_type_of(ev) != TETHER_EV_RETRY) return;
    assert_true(retried.n < 16);
    int i = retried.n++;
    retried.attempt[i] = tether_event_retry_attempt(ev);
    retried.delay[i] = tether_event_retry_delay(ev);
    retried.code[i] = tether_event_close_code(ev);
    retried.error[i] = tether_event_error(ev);
    retried.clean[i] = tether_event_clean(ev);
}

static int refusing_port(int *fd) {
    *fd = bound(AF_INET, 0);
    assert_true(*fd >= 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    getsockname(*fd, (struct sockaddr *)&a, &al);
    return ntohs(a.sin_port);
}

/* Sends text from side a and waits for its echo. */
static void echo_once(world *w, side *a, const char *text) {
    int before = a->msgs;
    assert_int_equal(tether_conn_send(a->c, TETHER_OP_TEXT, text, strlen(text)), 0);
    UNTIL(w, 5000, a->msgs > before);
    assert_int_equal(a->last_len, strlen(text));
    assert_memory_equal(a->last, text, a->last_len);
}

/* Nobody listens yet: RETRY after each refusal, with the table's delays;
 * then a server comes and the same connection opens. */
static void test_retry_until_server(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w.hook = retry_hook;
    memset(&retried, 0, sizeof retried);
    int hole, port = refusing_port(&hole);
    tether_opts *o = tether_opts_new();
    static const unsigned steps[] = {50, 100};
    assert_int_equal(tether_opts_set_retry_steps(o, steps, 2, 0, 0), 0);
    side *c = w_connect_port(&w, port, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 5000, retried.n >= 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(retried.attempt[i], i + 1);
        assert_int_equal(retried.delay[i], i == 0 ? 50 : 100); /* the last step repeats */
        assert_int_equal(retried.error[i], TETHER_E_CONNECT);
        assert_int_equal(retried.code[i], TETHER_CLOSE_ABNORMAL);
    }
    assert_int_equal(c->closed, 0);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
    close(hole);
    assert_int_equal(tether_listen(w.ctx, "127.0.0.1", port, NULL, &w.l), 0);
    UNTIL(&w, 5000, c->open == 1);
    echo_once(&w, c, "back");
    assert_int_equal(tether_conn_close(c->c, 1000, NULL), 0);
    UNTIL(&w, 5000, c->closed);
    assert_int_equal(c->code, 1000);
    w_free(&w);
}

/* An open connection the server ends with 1012 (restart) connects again;
 * one it ends with 1000 does not. */
static void test_retry_after_restart(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w.hook = retry_hook;
    memset(&retried, 0, sizeof retried);
    w_listen(&w, "127.0.0.1", NULL);
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_retry_backoff(o, 20, 400, 50, 0), 0);
    side *c = w_connect(&w, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 5000, c->open == 1 && w_server(&w, 0) && w_server(&w, 0)->open);
    echo_once(&w, c, "first");
    assert_int_equal(tether_conn_close(w_server(&w, 0)->c, 1012, "restarting"), 0);
    UNTIL(&w, 5000, c->open == 2 && w_server(&w, 1) && w_server(&w, 1)->open);
    assert_int_equal(retried.n, 1);
    assert_int_equal(retried.code[0], 1012);
    assert_int_equal(retried.clean[0], 1);
    assert_int_equal(retried.error[0], 0);
    assert_true(retried.delay[0] >= 20 && retried.delay[0] <= 30); /* 20 ms + up to 50% */
    echo_once(&w, c, "second");
    assert_int_equal(tether_conn_close(w_server(&w, 1)->c, 1000, "done"), 0);
    UNTIL(&w, 5000, c->closed);
    assert_int_equal(c->code, 1000);
    assert_int_equal(retried.n, 1);
    w_free(&w);
}

/* A client of w to port with a backoff policy (no jitter), its RETRY
 * events recorded in retried. */
static side *retrying_client(world *w, int port, unsigned first_ms, unsigned max_ms,
                             unsigned tries) {
    w->hook = retry_hook;
    memset(&retried, 0, sizeof retried);
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_retry_backoff(o, first_ms, max_ms, 0, tries), 0);
    side *c = w_connect_port(w, port, "/", o);
    tether_opts_free(o);
    return c;
}

/* max_tries: two attempts in a row, then CLOSED with the last reason. */
static void test_retry_gives_up(void **state) {
    world w;
    w_init(&w, MODE(state));
    int hole, port = refusing_port(&hole);
    uint64_t t0 = lu_now_ms();
    side *c = retrying_client(&w, port, 30, 0, 2);
    UNTIL(&w, 5000, c->closed);
    assert_true(lu_now_ms() - t0 >= 60);
    assert_int_equal(retried.n, 2);
    assert_int_equal(retried.delay[1], 30); /* max 0: the first delay always */
    assert_int_equal(c->error, TETHER_E_CONNECT);
    char want[64];
    snprintf(want, sizeof want, "connection refused (127.0.0.1:%d)", port);
    assert_string_equal(c->error_text, want);
    close(hole);
    w_free(&w);
}

static int reject_status;

static void reject_hook(world *w, tether_event *ev, side *s) {
    retry_hook(w, ev, s);
    if (tether_event_type_of(ev) == TETHER_EV_REQUEST)
        assert_int_equal(tether_conn_reject(s->c, reject_status, NULL), 0);
}

/* HTTP 503 is retried, 403 is not. */
static void test_retry_statuses(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.hook = reject_hook;
    w_listen(&w, "127.0.0.1", NULL);
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_retry_backoff(o, 10, 10, 0, 1), 0);
    memset(&retried, 0, sizeof retried);
    reject_status = 503;
    side *c = w_connect(&w, "/", o);
    UNTIL(&w, 5000, c->closed);
    assert_int_equal(retried.n, 1);
    assert_int_equal(retried.error[0], TETHER_E_HS_STATUS);
    assert_int_equal(c->status, 503);
    memset(&retried, 0, sizeof retried);
    reject_status = 403;
    c = w_connect(&w, "/", o);
    UNTIL(&w, 5000, c->closed);
    assert_int_equal(retried.n, 0);
    assert_int_equal(c->status, 403);
    tether_opts_free(o);
    w_free(&w);
}

/* Closing a connection that waits to retry ends it: CLOSED, nothing after. */
static void test_retry_close_while_waiting(void **state) {
    world w;
    w_init(&w, MODE(state));
    int hole, port = refusing_port(&hole);
    side *c = retrying_client(&w, port, 60000, 0, 0);
    UNTIL(&w, 5000, retried.n == 1);
    assert_int_equal(tether_conn_close(c->c, 1000, NULL), 0);
    UNTIL(&w, 5000, c->closed);
    assert_int_equal(c->code, TETHER_CLOSE_ABNORMAL);
    w_pump(&w, 100);
    assert_int_equal(retried.n, 1);
    close(hole);
    w_free(&w);
}

static void test_retry_bad_arguments(void **state) {
    (void)state;
    tether_opts *o = tether_opts_new();
    static const unsigned steps[] = {1};
    assert_int_equal(tether_opts_set_retry_backoff(NULL, 1, 1, 0, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_retry_backoff(o, 100, 50, 0, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_retry_backoff(o, 100, 200, 101, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_retry_steps(o, NULL, 1, 0, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_retry_steps(o, steps, 0, 0, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_retry_steps(o, steps, 1, 0, 0), 0);
    static unsigned many[1025]; /* the table's limit: 1024 steps */
    assert_int_equal(tether_opts_set_retry_steps(o, many, 1024, 0, 0), 0);
    assert_int_equal(tether_opts_set_retry_steps(o, many, 1025, 0, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_retry_backoff(o, 0, 0, 0, 0), 0); /* off again */
    tether_opts_free(o);
    assert_int_equal(tether_event_retry_delay(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_event_retry_attempt(NULL), TETHER_E_INVAL);
}

/* ---- statistics ------------------------------------------------------------ */

static tether_stats stats_of(const side *s) {
    tether_stats st;
    assert_int_equal(tether_conn_stats(s->c, &st, sizeof st), 0);
    return st;
}

/* The opening's steps, a ping's round trip, and bytes and messages each
 * way: compressed on the wire, whole for the application. */
static void test_stats(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    tether_opts *o = tether_opts_new();
    tether_opts_set_deflate(o, 1);
    w_listen(&w, "127.0.0.1", o);
    side *c = w_connect(&w, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 5000, c->open && w_server(&w, 0) && w_server(&w, 0)->open);
    side *s = w_server(&w, 0);
    tether_stats cs = stats_of(c), ss = stats_of(s);
    assert_true(cs.connect_us > 0 && cs.handshake_us > 0);
    assert_int_equal(cs.tls_us, 0);
    assert_int_equal(cs.proxy_us, 0);
    assert_true(ss.handshake_us > 0);
    assert_int_equal(ss.resolve_us + ss.connect_us, 0); /* a server resolves nothing */
    uint8_t big[20000];
    memset(big, 'a', sizeof big);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_BINARY, big, sizeof big), 0);
    UNTIL(&w, 5000, c->msgs == 1);
    assert_int_equal(tether_conn_ping(c->c, "rtt", 3), 0);
    UNTIL(&w, 5000, c->pongs == 1);
    cs = stats_of(c);
    ss = stats_of(s);
    assert_int_equal(cs.messages_out, 1);
    assert_int_equal(cs.messages_in, 1);
    assert_int_equal(cs.payload_out, sizeof big);
    assert_int_equal(cs.payload_in, sizeof big);
    assert_int_equal(ss.messages_in, 1);
    assert_int_equal(ss.payload_out, sizeof big);
    assert_true(cs.wire_out < 2000);           /* 20000 'a' deflate to little */
    assert_true(cs.wire_out > 200);            /* the request and the frames */
    assert_true(cs.wire_in > 129);             /* the 101 and the frames */
    assert_int_equal(cs.wire_out, ss.wire_in); /* one TCP stream, counted on both ends */
    assert_int_equal(cs.rtt_samples, 1);
    assert_true(cs.rtt_us > 0 && cs.rtt_min_us == cs.rtt_us && cs.rtt_max_us == cs.rtt_us);
    assert_int_equal(ss.rtt_samples, 0); /* it answered, it did not ask */
    /* an older caller's smaller struct: only what it knows is written */
    tether_stats part;
    memset(&part, 0xee, sizeof part);
    assert_int_equal(tether_conn_stats(c->c, &part, offsetof(tether_stats, rtt_us)), 0);
    assert_int_equal(part.handshake_us, cs.handshake_us);
    assert_true(part.rtt_us == 0xeeeeeeeeeeeeeeeeull);
    assert_int_equal(tether_conn_stats(c->c, &part, 0), TETHER_E_INVAL);
    assert_int_equal(tether_conn_stats(NULL, &part, sizeof part), TETHER_E_INVAL);
    assert_int_equal(tether_conn_stats(c->c, NULL, sizeof part), TETHER_E_INVAL);
    w_free(&w);
}

/* Counters run across reconnections, which are counted. */
static void test_stats_reconnects(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_retry_backoff(o, 10, 10, 0, 0), 0);
    side *c = w_connect(&w, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 5000, c->open == 1 && w_server(&w, 0) && w_server(&w, 0)->open);
    echo_once(&w, c, "one");
    assert_int_equal(tether_conn_close(w_server(&w, 0)->c, 1001, NULL), 0);
    UNTIL(&w, 5000, c->open == 2);
    echo_once(&w, c, "two");
    tether_stats st = stats_of(c);
    assert_int_equal(st.reconnects, 1);
    assert_int_equal(st.messages_out, 2);
    assert_int_equal(st.messages_in, 2);
    assert_true(st.handshake_us > 0);
    w_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_first_refuses),
        BOTH(test_first_hangs),
        BOTH(test_timeout_whole),
        BOTH(test_all_refuse),
        BOTH(test_retry_until_server),
        BOTH(test_retry_after_restart),
        BOTH(test_retry_gives_up),
        BOTH(test_retry_statuses),
        BOTH(test_retry_close_while_waiting),
        cmocka_unit_test(test_retry_bad_arguments),
        BOTH(test_stats),
        BOTH(test_stats_reconnects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
