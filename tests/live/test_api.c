/* The public live-connection API end to end over loopback: our client and
 * our server on one context, in callback mode (tether_ctx_run stopped from
 * a callback) and in poll mode (tether_next_event), plus raw TCP peers
 * built on the sans-I/O API for what our own endpoints never do (go
 * silent, break the protocol). */
#include "live_util.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

static void check_clean(world *w) {
    assert_int_equal(w->stray, 0);
    for (size_t i = 0; i < w->nsides; i++)
        assert_true(w->sides[i].closed <= 1);
}

/* Both ends of one connection, open. */
static void open_pair(world *w, side **cl, side **sv, const char *path, const tether_opts *o) {
    side *c = w_connect(w, path, o);
    int n = 0;
    for (size_t i = 0; i < w->nsides; i++)
        n += w->sides[i].server;
    UNTIL(w, 3000, c->open && w_server(w, n) && w_server(w, n)->open);
    *cl = c;
    *sv = w_server(w, n);
}

/* Sends from one side and waits for the echo on it. */
static void echo_round(world *w, side *c, side *s, int op, const void *data, size_t len) {
    int before = c->msgs, sbefore = s->msgs;
    int rc = tether_conn_send(c->c, (tether_opcode)op, data, len);
    if (rc) fail_msg("send %zu bytes: %s", len, tether_strerror(rc));
    UNTIL(w, 10000, c->msgs == before + 1);
    assert_int_equal(s->msgs, sbefore + 1);
    assert_int_equal(c->last_op, op);
    assert_int_equal(s->last_op, op);
    assert_int_equal(c->last_len, len);
    assert_int_equal(s->last_len, len);
    if (len) {
        assert_memory_equal(c->last, data, len);
        assert_memory_equal(s->last, data, len);
    }
}

/* ---- messages, ping, closing handshake from the client --------------------- */

static void test_messages(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/echo", NULL);
    assert_true(c->id != 0 && s->id != 0 && c->id != s->id);
    assert_int_equal(tether_conn_id(c->c), c->id);
    assert_int_equal(tether_conn_http_status(c->c), 101);

    echo_round(&w, c, s, TETHER_OP_TEXT, "hello", 5);
    static const char utf8[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80";
    echo_round(&w, c, s, TETHER_OP_TEXT, utf8, sizeof utf8 - 1);
    static const uint8_t bin[] = {0, 1, 2, 0xff, 0x80, 0};
    echo_round(&w, c, s, TETHER_OP_BINARY, bin, sizeof bin);
    echo_round(&w, c, s, TETHER_OP_TEXT, "", 0);
    echo_round(&w, c, s, TETHER_OP_BINARY, NULL, 0);
    uint8_t *big = lu_pattern(1u << 20, 1);
    echo_round(&w, c, s, TETHER_OP_BINARY, big, 1u << 20);
    free(big);
    big = lu_pattern(TETHER_DEFAULT_MAX_MESSAGE, 2); /* exactly the default limit */
    echo_round(&w, c, s, TETHER_OP_BINARY, big, TETHER_DEFAULT_MAX_MESSAGE);
    free(big);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "\xff", 1), TETHER_E_UTF8);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_PING, "x", 1), TETHER_E_INVAL);

    /* ping -> PONG with the payload, and the other side sees PING */
    assert_int_equal(tether_conn_ping(c->c, "abc", 3), 0);
    UNTIL(&w, 3000, c->pongs == 1);
    assert_int_equal(s->pings, 1);
    assert_int_equal(c->ctl_len, 3);
    assert_memory_equal(c->ctl, "abc", 3);
    assert_int_equal(tether_conn_ping(s->c, NULL, 0), 0);
    UNTIL(&w, 3000, s->pongs == 1);
    assert_int_equal(c->pings, 1);
    assert_int_equal(s->ctl_len, 0);

    /* closing handshake started by the client */
    assert_int_equal(tether_conn_close(c->c, 1000, "bye"), 0);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "late", 4), TETHER_E_STATE);
    assert_int_equal(tether_conn_close(c->c, 1000, "again"), TETHER_E_STATE);
    UNTIL(&w, 3000, c->closed && s->closed);
    assert_int_equal(s->code, 1000);
    assert_string_equal(s->reason, "bye");
    assert_int_equal(s->clean, 1);
    assert_int_equal(s->error, 0);
    assert_int_equal(c->code, 1000);
    assert_int_equal(c->clean, 1);
    assert_int_equal(c->error, 0);
    w_pump(&w, 50);
    check_clean(&w);
    w_free(&w);
}

/* ---- the server closes ----------------------------------------------------- */

static void test_server_close(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    assert_int_equal(tether_conn_close(s->c, 4000, "server bye"), 0);
    UNTIL(&w, 3000, c->closed && s->closed);
    assert_int_equal(c->code, 4000);
    assert_string_equal(c->reason, "server bye");
    assert_int_equal(c->clean, 1);
    assert_int_equal(c->error, 0);
    assert_int_equal(s->code, 4000);
    assert_int_equal(s->clean, 1);
    assert_int_equal(s->error, 0);

    /* no code at all: 1005 on the other side */
    open_pair(&w, &c, &s, "/", NULL);
    assert_int_equal(tether_conn_close(c->c, 0, NULL), 0);
    UNTIL(&w, 3000, c->closed && s->closed);
    assert_int_equal(s->code, TETHER_CLOSE_NO_STATUS);
    assert_int_equal(s->clean, 1);
    assert_int_equal(c->clean, 1);
    /* bad close arguments are refused, the connection stays open */
    open_pair(&w, &c, &s, "/", NULL);
    assert_int_equal(tether_conn_close(c->c, 1005, NULL), TETHER_E_CLOSE_CODE);
    echo_round(&w, c, s, TETHER_OP_TEXT, "still", 5);
    check_clean(&w);
    w_free(&w);
}

/* ---- fragmented sends, whole and streaming receipt -------------------------- */

static void test_fragments(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    tether_opts *so = tether_opts_new();
    assert_int_equal(tether_opts_set_streaming(so, 1), 0);
    tether_listener *sl;
    assert_int_equal(tether_listen(w.ctx, "127.0.0.1", 0, so, &sl), 0);
    tether_opts_free(so);

    /* whole: the pieces come as one MESSAGE */
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "Hel", 3, 0), 0);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_BINARY, "x", 1, 0), TETHER_E_STATE);
    assert_int_equal(tether_conn_ping(c->c, "mid", 3), 0); /* control frames may interleave */
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "lo w", 4, 0), 0);
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "\xc3", 1, 0), 0);
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "\xa9!", 2, 1), 0);
    UNTIL(&w, 3000, s->msgs == 1 && c->pongs == 1);
    assert_int_equal(s->last_op, TETHER_OP_TEXT);
    assert_int_equal(s->last_len, 10);
    assert_memory_equal(s->last, "Hello w\xc3\xa9!", 10);
    assert_int_equal(s->pings, 1);
    /* a text message that is not UTF-8 as a whole is refused at fin */
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "\xc3", 1, 0), 0);
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "", 0, 1), TETHER_E_UTF8);
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "\xa9", 1, 1), 0);
    uint8_t *big = lu_pattern(300000, 3);
    for (size_t off = 0; off < 300000; off += 100000)
        assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_BINARY, big + off, 100000,
                                                   off + 100000 == 300000),
                         0);
    UNTIL(&w, 3000, s->msgs == 3);
    assert_int_equal(s->last_op, TETHER_OP_BINARY);
    assert_int_equal(s->last_len, 300000);
    assert_memory_equal(s->last, big, 300000);

    /* streaming: FRAGMENT events, fin on the last, nothing whole */
    side *c2 = w_connect_port(&w, tether_listener_port(sl), "/stream", NULL);
    UNTIL(&w, 3000, c2->open && w_server(&w, 1) && w_server(&w, 1)->open);
    side *s2 = w_server(&w, 1);
    for (size_t off = 0; off < 300000; off += 100000)
        assert_int_equal(tether_conn_send_fragment(c2->c, TETHER_OP_BINARY, big + off, 100000,
                                                   off + 100000 == 300000),
                         0);
    UNTIL(&w, 3000, s2->frag_fins == 1);
    assert_int_equal(s2->msgs, 0);
    assert_true(s2->frags >= 3);
    assert_int_equal(s2->frag_order_bad, 0);
    assert_int_equal(s2->frag_op, TETHER_OP_BINARY);
    assert_int_equal(s2->acc_len, 300000);
    assert_memory_equal(s2->acc, big, 300000);
    /* a whole message to a streaming receiver comes as fragment(s) too */
    s2->acc_len = 0;
    s2->frag_fins = 0;
    s2->frags = 0;
    assert_int_equal(tether_conn_send(c2->c, TETHER_OP_TEXT, "whole", 5), 0);
    UNTIL(&w, 3000, s2->frag_fins == 1);
    assert_int_equal(s2->frag_op, TETHER_OP_TEXT);
    assert_int_equal(s2->acc_len, 5);
    assert_memory_equal(s2->acc, "whole", 5);
    assert_int_equal(s2->msgs, 0);
    free(big);
    tether_listener_close(sl);
    check_clean(&w);
    w_free(&w);
}

/* ---- the REQUEST event: inspect, choose a protocol, add a header ------------ */

static void request_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    if (tether_event_type_of(ev) != TETHER_EV_REQUEST) return;
    tether_conn *c = s->c;
    assert_string_equal(tether_conn_path(c), "/chat/room");
    assert_string_equal(tether_conn_query(c), "x=1&y=2");
    assert_string_equal(tether_conn_header(c, "X-Test"), "abc");
    assert_string_equal(tether_conn_header(c, "x-test"), "abc");
    assert_string_equal(tether_conn_header(c, "Origin"), "http://origin.example");
    assert_null(tether_conn_header(c, "X-Missing"));
    assert_string_equal(tether_conn_header(c, "Sec-WebSocket-Protocol"), "p1, p2");
    /* listed in the order sent: the client's own header among them */
    size_t nh = tether_conn_header_count(c), seen = 0;
    assert_true(nh >= 6);
    for (size_t i = 0; i < nh; i++) {
        const char *name = NULL, *value = NULL;
        assert_int_equal(tether_conn_header_at(c, i, &name, &value), 0);
        if (strcmp(name, "X-Test") == 0 && strcmp(value, "abc") == 0) seen++;
    }
    assert_int_equal(seen, 1);
    const char *n0, *v0;
    assert_int_equal(tether_conn_header_at(c, nh, &n0, &v0), TETHER_E_INVAL);
    assert_int_equal(tether_conn_header_at(NULL, 0, &n0, &v0), TETHER_E_INVAL);
    assert_int_equal(tether_conn_header_count(NULL), 0);
    const char *peer = tether_conn_peer(c);
    assert_non_null(peer);
    assert_true(strncmp(peer, "127.0.0.1:", 10) == 0);
    assert_true(atoi(peer + 10) > 0);
    assert_null(tether_conn_protocol(c));
    assert_int_equal(tether_conn_send(c, TETHER_OP_TEXT, "early", 5), TETHER_E_STATE);
    assert_int_equal(tether_conn_accept(c, "zzz"), TETHER_E_INVAL); /* not offered */
    assert_int_equal(tether_conn_add_header(c, "X-Server", "yes"), 0);
    assert_int_equal(tether_conn_add_header(c, "Bad Name", "v"), TETHER_E_INVAL);
    assert_int_equal(tether_conn_accept(c, "p2"), 0);
    assert_int_equal(tether_conn_accept(c, "p1"), TETHER_E_STATE);
    assert_int_equal(tether_conn_reject(c, 403, NULL), TETHER_E_STATE);
}

static void test_request(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w.hook = request_hook;
    w_listen(&w, "127.0.0.1", NULL);
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_add_protocol(o, "p1"), 0);
    assert_int_equal(tether_opts_add_protocol(o, "p2"), 0);
    assert_int_equal(tether_opts_add_protocol(o, "bad proto"), TETHER_E_INVAL);
    assert_int_equal(tether_opts_add_header(o, "X-Test", "abc"), 0);
    assert_int_equal(tether_opts_add_header(o, "X-Bad", "a\r\nb"), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_origin(o, "http://origin.example"), 0);
    side *c, *s;
    open_pair(&w, &c, &s, "/chat/room?x=1&y=2", o);
    tether_opts_free(o); /* copied at connect */
    assert_int_equal(s->requests, 1);
    assert_string_equal(c->proto, "p2");
    assert_string_equal(s->proto, "p2");
    assert_string_equal(tether_conn_protocol(c->c), "p2");
    assert_string_equal(tether_conn_header(c->c, "X-Server"), "yes");
    int found = 0; /* the response's headers, listed */
    for (size_t i = 0; i < tether_conn_header_count(c->c); i++) {
        const char *name = NULL, *value = NULL;
        assert_int_equal(tether_conn_header_at(c->c, i, &name, &value), 0);
        found += strcmp(name, "X-Server") == 0 && strcmp(value, "yes") == 0;
        found += strcasecmp(name, "Upgrade") == 0 && strcasecmp(value, "websocket") == 0;
    }
    assert_int_equal(found, 2);
    assert_int_equal(tether_conn_http_status(c->c), 101);
    assert_string_equal(tether_conn_path(s->c), "/chat/room");
    echo_round(&w, c, s, TETHER_OP_TEXT, "hi", 2);
    check_clean(&w);
    w_free(&w);
}

/* Both ends' addresses, as each side sees them: the client's own is the
 * server's peer and the other way round; bad arguments are refused. */
static void test_addresses(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    char cl[TETHER_ADDRESS_MAX], cp[TETHER_ADDRESS_MAX], sl[TETHER_ADDRESS_MAX],
        sp[TETHER_ADDRESS_MAX], want[TETHER_ADDRESS_MAX];
    assert_true(tether_conn_address(c->c, TETHER_ADDRESS_LOCAL, cl, sizeof cl) > 0);
    assert_true(tether_conn_address(c->c, TETHER_ADDRESS_PEER, cp, sizeof cp) > 0);
    assert_true(tether_conn_address(s->c, TETHER_ADDRESS_LOCAL, sl, sizeof sl) > 0);
    int n = tether_conn_address(s->c, TETHER_ADDRESS_PEER, sp, sizeof sp);
    assert_int_equal(n, (int)strlen(sp));
    snprintf(want, sizeof want, "127.0.0.1:%d", w.port);
    assert_string_equal(cp, want);
    assert_string_equal(sl, want);
    assert_string_equal(sp, cl); /* the server's peer is the client's own end */
    assert_string_equal(sp, tether_conn_peer(s->c));
    assert_true(strncmp(cl, "127.0.0.1:", 10) == 0 && atoi(cl + 10) > 0);
    assert_int_equal(tether_conn_address(NULL, 0, cl, sizeof cl), TETHER_E_INVAL);
    assert_int_equal(tether_conn_address(c->c, 2, cl, sizeof cl), TETHER_E_INVAL);
    assert_int_equal(tether_conn_address(c->c, 0, NULL, sizeof cl), TETHER_E_INVAL);
    assert_int_equal(tether_conn_address(c->c, 0, cl, TETHER_ADDRESS_MAX - 1), TETHER_E_INVAL);
    check_clean(&w);
    w_free(&w);
}

/* Application timers: a one-shot fires once, a repeating one until it
 * stops itself from its callback, a stopped one never; a timer's callback
 * sends on a connection; timers left running go with the context. */
typedef struct timer_run {
    int once, every, never;
    side *to;
    tether_timer *every_t;
} timer_run;

static void on_once(tether_timer *t, void *user) {
    (void)t;
    timer_run *r = user;
    r->once++;
    assert_int_equal(tether_conn_send(r->to->c, TETHER_OP_TEXT, "tick", 4), 0);
}

static void on_every(tether_timer *t, void *user) {
    timer_run *r = user;
    assert_ptr_equal(t, r->every_t);
    if (++r->every == 3) assert_int_equal(tether_timer_stop(t), 0); /* freed on return */
}

static void on_never(tether_timer *t, void *user) {
    (void)t;
    ((timer_run *)user)->never++;
}

static void test_app_timers(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    timer_run r;
    memset(&r, 0, sizeof r);
    r.to = s;
    tether_timer *once, *never, *left, *bad = (tether_timer *)&r;
    assert_int_equal(tether_timer_start(NULL, 1, 0, on_once, &r, &bad), TETHER_E_INVAL);
    assert_null(bad);
    assert_int_equal(tether_timer_start(w.ctx, 1, 0, NULL, &r, &once), TETHER_E_INVAL);
    assert_int_equal(tether_timer_start(w.ctx, 1, 0, on_once, &r, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_timer_stop(NULL), TETHER_E_INVAL);

    uint64_t t0 = lu_now_ms();
    assert_int_equal(tether_timer_start(w.ctx, 30, 0, on_once, &r, &once), 0);
    assert_int_equal(tether_timer_start(w.ctx, 10, 10, on_every, &r, &r.every_t), 0);
    assert_int_equal(tether_timer_start(w.ctx, 20, 0, on_never, &r, &never), 0);
    assert_int_equal(tether_timer_start(w.ctx, 60000, 0, on_never, &r, &left), 0);
    assert_int_equal(tether_timer_stop(never), 0);
    assert_true(tether_ctx_timeout(w.ctx) <= 10);
    UNTIL(&w, 5000, c->msgs == 1 && r.every == 3);
    assert_true(lu_now_ms() - t0 >= 30); /* not before its time */
    assert_string_equal(c->seq, "tick|");
    w_pump(&w, 100); /* the one-shot and the stopped repeat stay quiet */
    assert_int_equal(r.once, 1);
    assert_int_equal(r.every, 3);
    assert_int_equal(r.never, 0);
    assert_int_equal(tether_timer_stop(once), 0); /* a fired one-shot is freed by stop */
    check_clean(&w);
    w_free(&w); /* and `left` with the context (ASan: no leak) */
}

/* ---- rejection --------------------------------------------------------------- */

static void reject_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    if (tether_event_type_of(ev) == TETHER_EV_REQUEST)
        assert_int_equal(tether_conn_reject(s->c, 403, "go away"), 0);
}

static void test_reject(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.hook = reject_hook;
    w_listen(&w, "127.0.0.1", NULL);
    side *c = w_connect(&w, "/private", NULL);
    UNTIL(&w, 3000, c->closed && w_server(&w, 0) && w_server(&w, 0)->closed);
    side *s = w_server(&w, 0);
    assert_int_equal(c->open, 0);
    assert_int_equal(s->open, 0);
    assert_int_equal(c->error, TETHER_E_HS_STATUS);
    assert_int_equal(c->status, 403);
    assert_int_equal(c->code, TETHER_CLOSE_ABNORMAL);
    assert_int_equal(c->clean, 0);
    assert_int_equal(s->error, TETHER_E_HS_STATUS);
    w_pump(&w, 50);
    check_clean(&w);
    w_free(&w);
}

/* ---- limits and listener options ------------------------------------------- */

/* A request head over the server's byte or field limit is answered with
 * 431 and never reaches the application. */
static void test_header_limits(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = tether_opts_new();
    assert_int_equal(tether_opts_set_max_header_bytes(so, 512), 0);
    assert_int_equal(tether_opts_set_max_headers(so, 12), 0);
    w_listen(&w, "127.0.0.1", so);
    tether_opts_free(so);
    char big[700];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    tether_opts *bytes = tether_opts_new(), *count = tether_opts_new(), *fine = tether_opts_new();
    assert_int_equal(tether_opts_add_header(bytes, "X-Big", big), 0);
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "X-H%d", i);
        assert_int_equal(tether_opts_add_header(count, name, "1"), 0);
    }
    assert_int_equal(tether_opts_add_header(fine, "X-Small", "ok"), 0);
    side *c1 = w_connect(&w, "/", bytes), *c2 = w_connect(&w, "/", count);
    side *c3 = w_connect(&w, "/", fine);
    tether_opts_free(bytes);
    tether_opts_free(count);
    tether_opts_free(fine);
    UNTIL(&w, 3000, c1->closed && c2->closed && c3->open);
    assert_int_equal(c1->status, 431);
    assert_int_equal(c2->status, 431);
    assert_int_equal(c1->error, TETHER_E_HS_STATUS);
    assert_non_null(w_server(&w, 0)); /* only the request within the limits */
    assert_null(w_server(&w, 1));
    w_free(&w);
}

/* SO_REUSEPORT: a second listener on the same port works only when both
 * ask for it. */
static void test_reuseport(void **state) {
    (void)state;
    tether_ctx *ctx = tether_ctx_new();
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_reuseport(o, 1), 0);
    tether_listener *a, *b, *c;
    assert_int_equal(tether_listen(ctx, "127.0.0.1", 0, o, &a), 0);
    int port = tether_listener_port(a);
    /* its descriptor: the socket bound to that port, with SO_REUSEPORT */
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    int fd = tether_listener_fd(a), on = 0;
    socklen_t onlen = sizeof on;
    assert_true(fd >= 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
    assert_int_equal(ntohs(sa.sin_port), port);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &onlen), 0);
    assert_true(on);
    assert_int_equal(tether_listener_fd(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_listen(ctx, "127.0.0.1", port, o, &b), 0);
    assert_true(tether_listen(ctx, "127.0.0.1", port, NULL, &c) < 0);
    tether_listener_close(b);
    tether_listener_close(a);
    tether_opts_free(o);
    tether_ctx_free(ctx);
}

/* Connect timeout: a listener whose accept queue is full drops further
 * SYNs on Linux, so the TCP connect hangs until our timeout ends it. */
static void test_connect_timeout(void **state) {
    world w;
    w_init(&w, MODE(state));
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 0), 0);
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    w.port = ntohs(a.sin_port);
    int fill[4];
    for (int i = 0; i < 4; i++) { /* fill the queue; later ones may hang, that is fine */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_connect_timeout(o, 300), 0);
    uint64_t t0 = lu_now_ms();
    side *c = w_connect(&w, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 3000, c->closed);
    uint64_t dt = lu_now_ms() - t0;
    assert_int_equal(c->open, 0);
    assert_int_equal(c->error, TETHER_E_TIMEOUT);
    assert_true(dt >= 250 && dt < 2000);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
    w_free(&w);
}

/* ---- the automatic sub-protocol choice ---------------------------------------- */

static void test_auto_protocol(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = tether_opts_new();
    assert_int_equal(tether_opts_add_protocol(so, "b"), 0);
    assert_int_equal(tether_opts_add_protocol(so, "c"), 0);
    w_listen(&w, "127.0.0.1", so);
    tether_opts_free(so);

    tether_opts *o = tether_opts_new();
    tether_opts_add_protocol(o, "a");
    tether_opts_add_protocol(o, "c");
    tether_opts_add_protocol(o, "b");
    side *c, *s;
    open_pair(&w, &c, &s, "/", o); /* the client's order decides: c */
    assert_string_equal(c->proto, "c");
    assert_string_equal(s->proto, "c");
    tether_opts_free(o);

    o = tether_opts_new();
    tether_opts_add_protocol(o, "x");
    open_pair(&w, &c, &s, "/", o); /* nothing in common: none */
    assert_string_equal(c->proto, "");
    assert_null(tether_conn_protocol(c->c));
    assert_null(tether_conn_protocol(s->c));
    tether_opts_free(o);

    open_pair(&w, &c, &s, "/", NULL); /* none offered */
    assert_null(tether_conn_protocol(c->c));
    check_clean(&w);
    w_free(&w);
}

/* ---- bad URLs, refused connections, names -------------------------------------- */

static void test_bad_url(void **state) {
    (void)state;
    tether_ctx *ctx = tether_ctx_new();
    static const char *bad[] = {
        "http://127.0.0.1/", "ws://",        "ws://:80/", "ws://h:99999/", "ws://h:0/",
        "127.0.0.1:80",      "ws://h/#frag", "ws://u@h/", "ws://[::1/",    ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tether_conn *c = (tether_conn *)1;
        int rc = tether_connect(ctx, bad[i], NULL, &c);
        if (rc != TETHER_E_INVAL) fail_msg("%s: %d", bad[i], rc);
        assert_null(c);
    }
    tether_conn *c;
    assert_int_equal(tether_connect(ctx, NULL, NULL, &c), TETHER_E_INVAL);
    assert_int_equal(tether_connect(NULL, "ws://h/", NULL, &c), TETHER_E_INVAL);
    assert_int_equal(tether_connect(ctx, "ws://h/", NULL, NULL), TETHER_E_INVAL);
    tether_event *ev;
    assert_int_equal(tether_next_event(ctx, 20, &ev), TETHER_E_AGAIN); /* no events from them */
    assert_null(ev);
    /* the context's mode rules */
    assert_int_equal(tether_ctx_run(ctx), TETHER_E_STATE); /* poll mode */
    tether_ctx_free(ctx);
}

static void test_connect_refused(void **state) {
    world w;
    w_init(&w, MODE(state));
    /* A port bound but not listening refuses connections, and nobody else
     * can take it while we hold it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    w.port = ntohs(a.sin_port);
    side *c = w_connect(&w, "/", NULL);
    UNTIL(&w, 3000, c->closed);
    assert_int_equal(c->open, 0);
    assert_int_equal(c->error, TETHER_E_CONNECT);
    assert_int_equal(c->code, TETHER_CLOSE_ABNORMAL);
    assert_true(c->error_text[0] != 0);
    close(fd);
    check_clean(&w);
    w_free(&w);
}

/* tether_conn_close() on a client that has not opened abandons it: one
 * CLOSED (1006, not clean), no OPEN, and the pending resolution or connect
 * never touches the dead connection. */
static void test_cancel_before_open(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, NULL, NULL);
    side *c = w_connect(&w, "/", NULL);
    assert_int_equal(tether_conn_close(c->c, TETHER_CLOSE_NORMAL, NULL), 0);
    assert_int_equal(c->closed, 0); /* reported in the next round, not from inside the call */
    UNTIL(&w, 3000, c->closed);
    w_pump(&w, 100);
    assert_int_equal(c->open, 0);
    assert_int_equal(c->closed, 1);
    assert_int_equal(c->code, TETHER_CLOSE_ABNORMAL);
    assert_int_equal(c->clean, 0);
    check_clean(&w);
    w_free(&w);
}

static void test_names(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    char url[128];
    /* localhost may resolve to ::1 first, refused here: the next address */
    snprintf(url, sizeof url, "ws://localhost:%d/name", w.port);
    side *c = w_connect_url(&w, url, NULL);
    UNTIL(&w, 3000, c->open && w_server(&w, 0) && w_server(&w, 0)->open);
    side *s = w_server(&w, 0);
    echo_round(&w, c, s, TETHER_OP_TEXT, "by name", 7);

    tether_listener *l6;
    if (tether_listen(w.ctx, "::1", 0, NULL, &l6) != 0) {
        printf("# no IPv6 loopback: [::1] part skipped\n");
    } else {
        snprintf(url, sizeof url, "ws://[::1]:%d/v6?q=1", tether_listener_port(l6));
        side *c6 = w_connect_url(&w, url, NULL);
        UNTIL(&w, 3000, c6->open && w_server(&w, 1) && w_server(&w, 1)->open);
        side *s6 = w_server(&w, 1);
        assert_true(strncmp(tether_conn_peer(s6->c), "[::1]:", 6) == 0);
        assert_string_equal(tether_conn_path(s6->c), "/v6");
        char host[64];
        snprintf(host, sizeof host, "[::1]:%d", tether_listener_port(l6));
        assert_string_equal(tether_conn_header(s6->c, "Host"), host);
        echo_round(&w, c6, s6, TETHER_OP_BINARY, "v6", 2);
        tether_listener_close(l6);
    }
    check_clean(&w);
    w_free(&w);
}

/* ---- handshake timeouts --------------------------------------------------------- */

static int raw_eof_now(int fd) {
    uint8_t b[512];
    ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* The context-wide send budget: once the connections together owe their
 * peers that much, data sends to any of them fail, and succeed again once
 * the backlog is written. Whatever the kernel's buffers absorb first, the
 * queue then grows until the budget stops it. */
static void test_send_budget(void **state) {
    world w;
    w_init(&w, MODE(state));
    assert_int_equal(tether_ctx_buffered(w.ctx), 0);
    assert_int_equal(tether_ctx_buffered(NULL), 0);
    assert_int_equal(tether_ctx_set_send_budget(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_set_send_budget(w.ctx, 1u << 20), 0);
    w_listen(&w, "127.0.0.1", NULL);
    side *a = w_connect(&w, "/", NULL), *b = w_connect(&w, "/", NULL);
    UNTIL(&w, 5000, a->open && b->open && w_server(&w, 1) && w_server(&w, 1)->open);
    /* which client each server side talks to does not matter */
    side *sa = w_server(&w, 0), *sb = w_server(&w, 1);
    assert_int_equal(tether_conn_pause_reading(a->c, 1), 0);
    assert_int_equal(tether_conn_pause_reading(b->c, 1), 0);
    uint8_t *chunk = lu_pattern(64 * 1024, 3);
    int rc = 0, sent = 0;
    for (int i = 0; i < 4000 && rc == 0; i++) { /* the kernel takes megabytes at most */
        rc = tether_conn_send(sa->c, TETHER_OP_BINARY, chunk, 64 * 1024);
        sent += rc == 0;
        if (i % 8 == 0) w_pump(&w, 1);
    }
    assert_int_equal(rc, TETHER_E_BACKPRESSURE);
    size_t queued = tether_ctx_buffered(w.ctx);
    assert_true(queued <= 1u << 20);
    assert_true(queued > (1u << 20) - 2 * (64 * 1024 + 14));
    assert_true(tether_conn_buffered(sa->c) <= queued);
    /* the budget is shared: the other connection is refused too, but a
     * ping (a control frame) still goes */
    assert_int_equal(tether_conn_send(sb->c, TETHER_OP_BINARY, chunk, 64 * 1024),
                     TETHER_E_BACKPRESSURE);
    assert_int_equal(tether_conn_ping(sb->c, "p", 1), 0);
    /* the backlog goes out: room again, and nothing was lost */
    assert_int_equal(tether_conn_pause_reading(a->c, 0), 0);
    assert_int_equal(tether_conn_pause_reading(b->c, 0), 0);
    UNTIL(&w, 10000, a->msgs + b->msgs == sent);
    UNTIL(&w, 10000, tether_ctx_buffered(w.ctx) == 0);
    assert_int_equal(tether_conn_send(sb->c, TETHER_OP_BINARY, chunk, 64 * 1024), 0);
    UNTIL(&w, 10000, a->msgs + b->msgs == sent + 1);
    free(chunk);
    w_free(&w);
}

/* A broadcast's frame is built once: two clients that stop reading hold
 * one copy of 20 MiB of broadcasts between them, not two, and the
 * context's budget counts it once. Order with a connection's own sends
 * is kept, every receiver gets everything once it reads, and the shared
 * memory is given back when the last queue has written it. */
static void test_broadcast(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *a = w_connect(&w, "/", NULL), *b = w_connect(&w, "/", NULL);
    UNTIL(&w, 5000, a->open && b->open && w_server(&w, 1) && w_server(&w, 1)->open);
    side *sa = w_server(&w, 0), *sb = w_server(&w, 1);
    tether_conn *both[2] = {sa->c, sb->c};
    /* bad calls: nothing is sent */
    assert_int_equal(tether_broadcast(NULL, 1, TETHER_OP_TEXT, "x", 1, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_broadcast(both, 2, TETHER_OP_PING, "x", 1, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_broadcast(both, 2, TETHER_OP_TEXT, NULL, 1, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_broadcast(both, 2, TETHER_OP_TEXT, "\xff", 1, NULL), TETHER_E_UTF8);
    assert_int_equal(tether_broadcast(both, 0, TETHER_OP_TEXT, "x", 1, NULL), 0);
    /* order with the connections' own sends */
    for (int i = 0; i < 4; i++) {
        char m[8], o[8];
        snprintf(m, sizeof m, "m%d", i);
        snprintf(o, sizeof o, "o%d", i);
        assert_int_equal(tether_broadcast(both, 2, TETHER_OP_TEXT, m, 2, NULL), 2);
        assert_int_equal(tether_conn_send(sa->c, TETHER_OP_TEXT, o, 2), 0);
    }
    UNTIL(&w, 5000, a->msgs + b->msgs == 12);
    const char *with = "m0|o0|m1|o1|m2|o2|m3|o3|", *without = "m0|m1|m2|m3|";
    side *to_sa = a->msgs == 8 ? a : b, *to_sb = a->msgs == 8 ? b : a;
    assert_string_equal(to_sa->seq, with);
    assert_string_equal(to_sb->seq, without);
    /* both stop reading: what the kernel does not absorb (a few MiB each)
     * waits in the queues, shared */
    assert_int_equal(tether_conn_pause_reading(a->c, 1), 0);
    assert_int_equal(tether_conn_pause_reading(b->c, 1), 0);
    enum { BIG = 256 * 1024, COUNT = 80 };
    uint8_t *chunk = lu_pattern(BIG, 9);
    for (int i = 0; i < COUNT; i++) {
        int results[2] = {-99, -99};
        assert_int_equal(tether_broadcast(both, 2, TETHER_OP_BINARY, chunk, BIG, results), 2);
        assert_int_equal(results[0], 0);
        assert_int_equal(results[1], 0);
        if (i % 8 == 0) w_pump(&w, 1);
    }
    size_t qa = tether_conn_buffered(sa->c), qb = tether_conn_buffered(sb->c);
    size_t held = tether_ctx_buffered(w.ctx), most = qa > qb ? qa : qb;
    /* a frame is held whole until every queue has written all of it */
    assert_true(held <= most + BIG + 64 * 1024);
    assert_true(qa + qb >= held + (8u << 20));
    /* a client connection masks its own copy; a NULL has a result of its
     * own and stops nobody */
    tether_conn *mixed[3] = {sa->c, a->c, NULL};
    int results[3];
    assert_int_equal(tether_broadcast(mixed, 3, TETHER_OP_TEXT, "up", 2, results), 2);
    assert_int_equal(results[0], 0);
    assert_int_equal(results[1], 0);
    assert_int_equal(results[2], TETHER_E_INVAL);
    side *from_a = a->msgs == 8 ? sa : sb;
    UNTIL(&w, 5000, from_a->msgs == 1 && from_a->last_len == 2);
    /* they read again: everything arrives, and the memory goes back */
    assert_int_equal(tether_conn_pause_reading(a->c, 0), 0);
    assert_int_equal(tether_conn_pause_reading(b->c, 0), 0);
    UNTIL(&w, 20000, to_sa->msgs == 8 + COUNT + 1 && to_sb->msgs == 4 + COUNT);
    assert_int_equal(to_sb->last_len, BIG);
    assert_memory_equal(to_sb->last, chunk, BIG);
    assert_string_equal(to_sa->seq, "m0|o0|m1|o1|m2|o2|m3|o3|up|");
    UNTIL(&w, 10000, tether_ctx_buffered(w.ctx) == 0);
    /* a connection that is closing gets nothing */
    assert_int_equal(tether_conn_close(sb->c, 1000, NULL), 0);
    assert_int_equal(tether_broadcast(both, 2, TETHER_OP_TEXT, "late", 4, results), 1);
    assert_int_equal(results[1], TETHER_E_STATE);
    /* freeing the context with shared frames still queued frees them */
    assert_int_equal(tether_conn_pause_reading(to_sa->c, 1), 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(tether_broadcast(both, 1, TETHER_OP_BINARY, chunk, BIG, NULL), 1);
    assert_true(tether_ctx_buffered(w.ctx) > 0);
    free(chunk);
    w_free(&w);
}

/* A message a client starts and never finishes: the server's message
 * timeout (300 ms here; the wait allows 10 s) fails it with 1008, seen by
 * both sides. Nothing else is going on, so only the message's own
 * deadline can wake the server (a busy peer is test_ws_close's case). */
static void test_message_timeout(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = tether_opts_new();
    assert_int_equal(tether_opts_set_message_timeout(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_message_timeout(so, 300), 0);
    w_listen(&w, "127.0.0.1", so);
    side *c = w_connect(&w, "/", NULL);
    UNTIL(&w, 5000, c->open);
    assert_int_equal(tether_conn_send_fragment(c->c, TETHER_OP_TEXT, "half", 4, 0), 0);
    UNTIL(&w, 10000, c->closed);
    assert_int_equal(c->code, TETHER_CLOSE_POLICY_VIOLATION);
    assert_string_equal(c->reason, "message timeout");
    side *s = w_server(&w, 0);
    UNTIL(&w, 5000, s->closed);
    assert_int_equal(s->error, TETHER_E_TIMEOUT);
    tether_opts_free(so);
    w_free(&w);
}

/* CPU time this process has used, all threads, in ms. */
static uint64_t process_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int accept_warnings;
static void count_accept_warnings(int level, const char *line, void *user) {
    (void)user;
    /* the OS's reason, EMFILE, kept as TETHER_E_NOFILE's text */
    if (level == TETHER_LOG_WARN && strstr(line, "accept failed (out of file descriptors)"))
        accept_warnings++;
}

/* Out of descriptors, a listener backs off instead of spinning on
 * accept(): while clients wait it uses a small share of the CPU, says so
 * once in the log, and serves them once descriptors come free. Timing: CPU
 * over 2 s of waiting must stay under a quarter of that (the busy loop
 * this replaces took a whole core), and the clients get 10 s to open. */
static void test_accept_out_of_fds(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    enum { N = 8 };
    int cl[N];
    for (int i = 0; i < N; i++)
        assert_true((cl[i] = raw_connect(w.port)) >= 0); /* into the backlog */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(lowest_free >= 0);
    close(lowest_free);
    low = old;
    low.rlim_cur = (rlim_t)lowest_free; /* no descriptor left */
    accept_warnings = 0;
    tether_set_log_level(TETHER_LOG_WARN);
    tether_set_log_callback(count_accept_warnings, NULL);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    uint64_t cpu = process_cpu_ms(), wall = lu_now_ms();
    w_pump(&w, 2000);
    cpu = process_cpu_ms() - cpu;
    wall = lu_now_ms() - wall;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (cpu * 4 > wall)
        fail_msg("%llu ms of CPU in %llu ms", (unsigned long long)cpu, (unsigned long long)wall);
    assert_int_equal(accept_warnings, 1);
    assert_null(w_server(&w, 0));
    /* Descriptors are back: every waiting client is served. */
    tether_client_hs *h = tether_client_hs_new("127.0.0.1", "/");
    const char *req;
    size_t req_len;
    assert_int_equal(tether_client_hs_request(h, &req, &req_len), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(raw_write(cl[i], req, req_len), 0);
    tether_client_hs_free(h);
    int opened = 0;
    uint64_t end = lu_now_ms() + 10000;
    while (opened < N && lu_now_ms() < end) {
        w_step(&w, 20);
        opened = 0;
        for (int i = 0; i < N; i++)
            opened += w_server(&w, i) && w_server(&w, i)->open;
    }
    assert_int_equal(opened, N);
    tether_set_log_callback(NULL, NULL);
    tether_set_log_level(TETHER_LOG_NONE);
    for (int i = 0; i < N; i++)
        close(cl[i]);
    w_free(&w);
}

static void test_server_handshake_timeout(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_handshake_timeout(o, 200), 0);
    w_listen(&w, "127.0.0.1", o);
    tether_opts_free(o);
    int silent = raw_connect(w.port);
    int partial = raw_connect(w.port);
    assert_true(silent >= 0 && partial >= 0);
    static const char part[] = "GET / HTTP/1.1\r\nHost: x\r\n";
    assert_int_equal(raw_write(partial, part, sizeof part - 1), 0);
    uint64_t t0 = lu_now_ms();
    UNTIL(&w, 3000, raw_eof_now(silent));
    uint64_t dt = lu_now_ms() - t0;
    UNTIL(&w, 1000, raw_eof_now(partial));
    assert_true(dt >= 150);
    assert_int_equal(w.events, 0); /* dropped without a word */
    /* a request that is no upgrade gets its status and no event either */
    int junk = raw_connect(w.port);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(raw_write(junk, req, sizeof req - 1), 0);
    char resp[256] = {0};
    raw_timeouts(junk, 3000);
    uint64_t end = lu_now_ms() + 3000;
    ssize_t n = 0;
    while (n <= 0 && lu_now_ms() < end) {
        w_step(&w, 20);
        n = recv(junk, resp, sizeof resp - 1, MSG_DONTWAIT);
    }
    assert_true(n > 12);
    assert_true(strncmp(resp, "HTTP/1.1 400", 12) == 0);
    assert_int_equal(w.events, 0);
    close(silent);
    close(partial);
    close(junk);
    w_free(&w);
}

static void test_client_handshake_timeout(void **state) {
    world w;
    w_init(&w, MODE(state));
    int lfd = raw_listen(&w.port); /* the kernel accepts; nobody answers */
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_handshake_timeout(o, 200), 0);
    uint64_t t0 = lu_now_ms();
    side *c = w_connect(&w, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 3000, c->closed);
    assert_true(lu_now_ms() - t0 >= 150);
    assert_int_equal(c->open, 0);
    assert_int_equal(c->error, TETHER_E_TIMEOUT);
    assert_int_equal(c->code, TETHER_CLOSE_ABNORMAL);
    close(lfd);
    check_clean(&w);
    w_free(&w);
}

/* A close called after a long quiet spell outside any round: the close
 * timeout counts from the call, not from the last round. */
static void test_close_after_quiet(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_close_timeout(o, 300), 0);
    side *c, *s;
    open_pair(&w, &c, &s, "/quiet", o);
    assert_int_equal(tether_conn_pause_reading(s->c, 1), 0); /* never answers the close */
    w_pump(&w, 50);
    usleep(1500 * 1000); /* nobody runs the context */
    uint64_t t0 = lu_now_ms();
    assert_int_equal(tether_conn_close(c->c, 1000, "quiet"), 0);
    UNTIL(&w, 3000, c->closed);
    uint64_t took = lu_now_ms() - t0;
    if (took > 1000) fail_msg("close timeout of 300 ms took %llu ms", (unsigned long long)took);
    assert_int_equal(c->error, TETHER_E_TIMEOUT);
    tether_opts_free(o);
    w_free(&w);
}

/* ---- idle timeout ------------------------------------------------------------------ */

static void test_idle_timeout(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_idle_timeout(o, 300), 0);
    w_listen(&w, "127.0.0.1", o);
    tether_opts_free(o);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    uint64_t t0 = lu_now_ms();
    /* activity keeps it alive */
    for (int i = 0; i < 4; i++) {
        w_pump(&w, 100);
        assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "tick", 4), 0);
    }
    assert_int_equal(s->closed, 0);
    t0 = lu_now_ms();
    UNTIL(&w, 3000, c->closed && s->closed);
    assert_true(lu_now_ms() - t0 >= 250);
    assert_int_equal(c->code, TETHER_CLOSE_GOING_AWAY);
    assert_string_equal(c->reason, "idle timeout");
    assert_int_equal(s->code, TETHER_CLOSE_GOING_AWAY);
    assert_int_equal(s->error, TETHER_E_TIMEOUT);
    check_clean(&w);
    w_free(&w);
}

/* ---- raw peers on threads ------------------------------------------------------------ */

typedef struct rawpeer {
    pthread_t th;
    int port, lfd;
    const uint8_t *bad; /* bytes to send after the handshake */
    size_t bad_len;
    atomic_int go;   /* main -> peer: read now */
    atomic_int done; /* peer -> main */
    int hs_ok;
    raw_frame frames[16];
    int nframes;
    int eof;
} rawpeer;

/* Collects frames until a close frame, then waits for EOF. */
static void rawpeer_collect(rawpeer *p, raw_rd *r) {
    while (p->nframes < 16) {
        raw_frame *f = &p->frames[p->nframes];
        if (raw_next_frame(r, f) != 0) break;
        p->nframes++;
        if (f->op == TETHER_OP_CLOSE) {
            p->eof = raw_wait_eof(r->fd, 3000);
            break;
        }
    }
}

/* A client that breaks the protocol once the handshake is done. */
static void *bad_client_main(void *arg) {
    rawpeer *p = arg;
    raw_rd r;
    int fd = raw_connect(p->port);
    raw_rd_init(&r, fd, TETHER_ROLE_CLIENT);
    p->hs_ok = fd >= 0 && raw_client_handshake(fd, p->port, "/bad", &r) == 0;
    if (p->hs_ok && raw_write(fd, p->bad, p->bad_len) == 0) rawpeer_collect(p, &r);
    raw_rd_free(&r);
    if (fd >= 0) close(fd);
    atomic_store(&p->done, 1);
    return NULL;
}

/* A server that answers the handshake, sends p->bad, then (after go) reads. */
static void *raw_server_main(void *arg) {
    rawpeer *p = arg;
    raw_rd r;
    int fd = accept(p->lfd, NULL, NULL);
    raw_rd_init(&r, fd, TETHER_ROLE_SERVER);
    raw_timeouts(fd, 5000);
    p->hs_ok = fd >= 0 && raw_server_handshake(fd, &r) == 0;
    if (p->hs_ok && p->bad_len) raw_write(fd, p->bad, p->bad_len);
    while (p->hs_ok && !atomic_load(&p->go))
        usleep(2000);
    if (p->hs_ok) rawpeer_collect(p, &r);
    raw_rd_free(&r);
    if (fd >= 0) close(fd);
    atomic_store(&p->done, 1);
    return NULL;
}

/* A masked client frame with any header bits, built by hand. */
static size_t client_frame(uint8_t *out, int b0, const void *payload, size_t len) {
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    size_t h = 0;
    out[h++] = (uint8_t)b0;
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    }
    memcpy(out + h, key, 4);
    h += 4;
    tether_mask(out + h, payload, len, key, 0);
    return h + len;
}

typedef struct bad_case {
    const char *name;
    int code;
    int err, err2; /* either is right */
} bad_case;

static void run_bad_client(const bad_case *bc, const uint8_t *bytes, size_t len,
                           const tether_opts *so) {
    world w;
    w_init(&w, MODE_POLL);
    w_listen(&w, "127.0.0.1", so);
    rawpeer p;
    memset(&p, 0, sizeof p);
    p.port = w.port;
    p.bad = bytes;
    p.bad_len = len;
    assert_int_equal(pthread_create(&p.th, NULL, bad_client_main, &p), 0);
    UNTIL(&w, 5000, atomic_load(&p.done) && w_server(&w, 0) && w_server(&w, 0)->closed);
    pthread_join(p.th, NULL);
    side *s = w_server(&w, 0);
    if (!p.hs_ok) fail_msg("%s: handshake failed", bc->name);
    if (s->code != bc->code || (s->error != bc->err && s->error != bc->err2))
        fail_msg("%s: CLOSED code %d error %d (%s)", bc->name, s->code, s->error, s->reason);
    assert_int_equal(s->clean, 0);
    assert_true(s->reason[0] != 0);
    assert_true(s->error_text[0] != 0);
    /* the peer heard the same code in a close frame, then the socket closed */
    assert_true(p.nframes >= 1);
    raw_frame *f = &p.frames[p.nframes - 1];
    if (f->op != TETHER_OP_CLOSE || f->code != bc->code)
        fail_msg("%s: peer got op %d code %d", bc->name, f->op, f->code);
    assert_true(p.eof);
    check_clean(&w);
    w_free(&w);
}

static void test_protocol_errors(void **state) {
    (void)state;
    uint8_t buf[4096];
    size_t n;
    uint8_t key[4] = {1, 2, 3, 4};

    /* unmasked frame to a server */
    int h = tether_frame_write_header(buf, sizeof buf, TETHER_OP_TEXT, 1, 0, 2, NULL);
    assert_true(h > 0);
    memcpy(buf + h, "hi", 2);
    bad_case unmasked = {"unmasked", 1002, TETHER_E_MASK, TETHER_E_MASK};
    run_bad_client(&unmasked, buf, (size_t)h + 2, NULL);

    /* RSV1 with no extension */
    h = tether_frame_write_header(buf, sizeof buf, TETHER_OP_TEXT, 1, TETHER_RSV1, 2, key);
    assert_true(h > 0);
    tether_mask(buf + h, "hi", 2, key, 0);
    bad_case rsv = {"rsv1", 1002, TETHER_E_RSV, TETHER_E_RSV};
    run_bad_client(&rsv, buf, (size_t)h + 2, NULL);

    /* reserved opcode 0x3 (the writer refuses it: by hand) */
    n = client_frame(buf, 0x80 | 0x3, "x", 1);
    bad_case opc = {"opcode", 1002, TETHER_E_OPCODE, TETHER_E_OPCODE};
    run_bad_client(&opc, buf, n, NULL);

    /* control frame of 126 bytes */
    uint8_t zeros[126] = {0};
    n = client_frame(buf, 0x80 | TETHER_OP_PING, zeros, sizeof zeros);
    bad_case ctl = {"ping126", 1002, TETHER_E_CONTROL_LENGTH, TETHER_E_CONTROL_LENGTH};
    run_bad_client(&ctl, buf, n, NULL);

    /* invalid UTF-8 text */
    n = client_frame(buf, 0x80 | TETHER_OP_TEXT, "ok \xc3\x28", 5);
    bad_case utf = {"utf8", 1007, TETHER_E_UTF8, TETHER_E_UTF8};
    run_bad_client(&utf, buf, n, NULL);

    /* close with a code that may not be sent */
    n = client_frame(buf, 0x80 | TETHER_OP_CLOSE, "\x03\xed", 2); /* 1005 */
    bad_case cc = {"close1005", 1002, TETHER_E_CLOSE_CODE, TETHER_E_CLOSE_CODE};
    run_bad_client(&cc, buf, n, NULL);

    /* continuation with no message */
    n = client_frame(buf, 0x80 | TETHER_OP_CONTINUATION, "x", 1);
    bad_case cont = {"continuation", 1002, TETHER_E_CONTINUATION, TETHER_E_CONTINUATION};
    run_bad_client(&cont, buf, n, NULL);

    /* too big: one frame over the message limit, and a message whose frames
     * are each under it */
    tether_opts *so = tether_opts_new();
    assert_int_equal(tether_opts_set_max_message(so, 1000), 0);
    uint8_t *payload = lu_pattern(1200, 4);
    n = client_frame(buf, 0x80 | TETHER_OP_BINARY, payload, 1200);
    bad_case big = {"frame>max", 1009, TETHER_E_MESSAGE_TOO_BIG, TETHER_E_FRAME_TOO_BIG};
    run_bad_client(&big, buf, n, so);
    n = client_frame(buf, TETHER_OP_BINARY, payload, 600);
    n += client_frame(buf + n, 0x80 | TETHER_OP_CONTINUATION, payload + 600, 600);
    bad_case big2 = {"message>max", 1009, TETHER_E_MESSAGE_TOO_BIG, TETHER_E_MESSAGE_TOO_BIG};
    run_bad_client(&big2, buf, n, so);
    /* a frame over max_frame, inside a generous message limit */
    assert_int_equal(tether_opts_set_max_message(so, 10000), 0);
    assert_int_equal(tether_opts_set_max_frame(so, 500), 0);
    n = client_frame(buf, 0x80 | TETHER_OP_BINARY, payload, 600);
    bad_case fbig = {"frame>max_frame", 1009, TETHER_E_FRAME_TOO_BIG, TETHER_E_FRAME_TOO_BIG};
    run_bad_client(&fbig, buf, n, so);
    free(payload);
    tether_opts_free(so);
}

/* Our client refuses a masked frame from a server. */
static void test_client_protocol_error(void **state) {
    (void)state;
    world w;
    w_init(&w, MODE_CB);
    rawpeer p;
    memset(&p, 0, sizeof p);
    p.lfd = raw_listen(&w.port);
    uint8_t buf[64];
    size_t n = client_frame(buf, 0x80 | TETHER_OP_TEXT, "hi", 2); /* masked: wrong here */
    p.bad = buf;
    p.bad_len = n;
    assert_int_equal(pthread_create(&p.th, NULL, raw_server_main, &p), 0);
    side *c = w_connect(&w, "/", NULL);
    UNTIL(&w, 5000, c->closed);
    atomic_store(&p.go, 1);
    UNTIL(&w, 5000, atomic_load(&p.done));
    pthread_join(p.th, NULL);
    assert_true(p.hs_ok);
    assert_int_equal(c->open, 1);
    assert_int_equal(c->code, 1002);
    assert_int_equal(c->error, TETHER_E_MASK);
    assert_true(p.nframes >= 1);
    assert_int_equal(p.frames[p.nframes - 1].op, TETHER_OP_CLOSE);
    assert_int_equal(p.frames[p.nframes - 1].code, 1002);
    close(p.lfd);
    check_clean(&w);
    w_free(&w);
}

/* ---- pipelining: frames in the same packets as the handshake ----------------- */

/* A client that sends its first frame right behind the request. */
static void *pipelined_client_main(void *arg) {
    rawpeer *p = arg;
    raw_rd r;
    int fd = raw_connect(p->port);
    raw_rd_init(&r, fd, TETHER_ROLE_CLIENT);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", p->port);
    tether_client_hs *h = tether_client_hs_new(host, "/early");
    const char *req;
    size_t req_len;
    uint8_t buf[1024];
    if (fd >= 0 && h && tether_client_hs_request(h, &req, &req_len) == 0) {
        memcpy(buf, req, req_len);
        size_t n = req_len + client_frame(buf + req_len, 0x80 | TETHER_OP_TEXT, "early", 5);
        n += client_frame(buf + n, 0x80 | TETHER_OP_PING, "pp", 2);
        if (raw_write(fd, buf, n) == 0) {
            /* the response, split anywhere from the frames after it */
            for (;;) {
                uint8_t b[4096];
                ssize_t k = recv(fd, b, sizeof b, 0);
                if (k <= 0) break;
                size_t used = 0;
                int rc = tether_client_hs_parse(h, b, (size_t)k, &used);
                if (rc == TETHER_E_AGAIN) continue;
                p->hs_ok = rc == 0;
                if (rc == 0) raw_rd_feed(&r, b + used, (size_t)k - used);
                break;
            }
            /* pong and echo, in either order */
            while (p->hs_ok && p->nframes < 2 && raw_next_frame(&r, &p->frames[p->nframes]) == 0)
                p->nframes++;
        }
    }
    tether_client_hs_free(h);
    raw_rd_free(&r);
    if (fd >= 0) close(fd);
    atomic_store(&p->done, 1);
    return NULL;
}

static void test_pipelined_client(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    rawpeer p;
    memset(&p, 0, sizeof p);
    p.port = w.port;
    assert_int_equal(pthread_create(&p.th, NULL, pipelined_client_main, &p), 0);
    UNTIL(&w, 5000, atomic_load(&p.done));
    pthread_join(p.th, NULL);
    assert_true(p.hs_ok);
    side *s = w_server(&w, 0);
    assert_non_null(s);
    assert_int_equal(s->open, 1);
    assert_int_equal(s->msgs, 1);
    assert_int_equal(s->pings, 1);
    assert_int_equal(p.nframes, 2);
    int text = p.frames[0].op == TETHER_OP_TEXT ? 0 : 1;
    assert_int_equal(p.frames[text].op, TETHER_OP_TEXT);
    assert_int_equal(p.frames[text].len, 5);
    assert_memory_equal(p.frames[text].data, "early", 5);
    assert_int_equal(p.frames[1 - text].op, TETHER_OP_PONG);
    UNTIL(&w, 3000, s->closed);
    assert_int_equal(s->code, TETHER_CLOSE_ABNORMAL); /* the raw peer just hung up */
    check_clean(&w);
    w_free(&w);
}

/* A server whose response comes in two pieces, the second followed by
 * frames in the same write. */
static void *split_server_main(void *arg) {
    rawpeer *p = arg;
    int fd = accept(p->lfd, NULL, NULL);
    tether_server_hs *h = tether_server_hs_new();
    raw_timeouts(fd, 5000);
    for (;;) {
        uint8_t b[4096];
        ssize_t k = fd >= 0 ? recv(fd, b, sizeof b, 0) : -1;
        if (k <= 0) break;
        size_t used = 0;
        int rc = tether_server_hs_parse(h, b, (size_t)k, &used);
        if (rc == TETHER_E_AGAIN) continue;
        const char *resp;
        size_t len;
        if (rc != 0 || tether_server_hs_accept(h, &resp, &len) != 0) break;
        uint8_t out[1024];
        size_t w = 0;
        int hl = tether_frame_write_header(out, sizeof out, TETHER_OP_TEXT, 1, 0, 5, NULL);
        memcpy(out + hl, "first", 5);
        w = (size_t)hl + 5;
        hl = tether_frame_write_header(out + w, sizeof out - w, TETHER_OP_PING, 1, 0, 0, NULL);
        w += (size_t)hl;
        p->hs_ok = raw_write(fd, resp, 10) == 0;
        usleep(50000);
        p->hs_ok =
            p->hs_ok && raw_write(fd, resp + 10, len - 10) == 0 && raw_write(fd, out, w) == 0;
        break;
    }
    tether_server_hs_free(h);
    while (!atomic_load(&p->go))
        usleep(2000);
    if (fd >= 0) close(fd);
    atomic_store(&p->done, 1);
    return NULL;
}

static void test_pipelined_server(void **state) {
    world w;
    w_init(&w, MODE(state));
    rawpeer p;
    memset(&p, 0, sizeof p);
    p.lfd = raw_listen(&w.port);
    assert_int_equal(pthread_create(&p.th, NULL, split_server_main, &p), 0);
    side *c = w_connect(&w, "/", NULL);
    UNTIL(&w, 5000, c->msgs == 1 && c->pings == 1);
    assert_int_equal(c->open, 1);
    assert_int_equal(c->last_len, 5);
    assert_memory_equal(c->last, "first", 5);
    atomic_store(&p.go, 1);
    UNTIL(&w, 5000, c->closed && atomic_load(&p.done));
    pthread_join(p.th, NULL);
    assert_true(p.hs_ok);
    close(p.lfd);
    check_clean(&w);
    w_free(&w);
}

/* An unresolvable name ends in CLOSED with TETHER_E_DNS. */
static void test_dns_failure(void **state) {
    world w;
    w_init(&w, MODE(state));
    side *c = w_connect_url(&w, "ws://no-such-host.invalid:9/", NULL);
    UNTIL(&w, 15000, c->closed);
    assert_int_equal(c->open, 0);
    assert_int_equal(c->error, TETHER_E_DNS);
    check_clean(&w);
    w_free(&w);
}

/* ---- keepalive against a peer that goes silent ------------------------------------- */

static void test_keepalive(void **state) {
    world w;
    w_init(&w, MODE(state));
    rawpeer p;
    memset(&p, 0, sizeof p);
    p.lfd = raw_listen(&w.port);
    assert_int_equal(pthread_create(&p.th, NULL, raw_server_main, &p), 0);
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_ping_interval(o, 100), 0);
    assert_int_equal(tether_opts_set_ping_timeout(o, 200), 0);
    side *c = w_connect(&w, "/", o);
    tether_opts_free(o);
    UNTIL(&w, 3000, c->open);
    uint64_t t0 = lu_now_ms();
    UNTIL(&w, 3000, c->closed);
    uint64_t dt = lu_now_ms() - t0;
    assert_true(dt >= 250);
    assert_int_equal(c->code, TETHER_CLOSE_INTERNAL_ERROR);
    assert_string_equal(c->reason, "keepalive timeout");
    assert_int_equal(c->error, TETHER_E_TIMEOUT);
    assert_int_equal(c->clean, 0);
    atomic_store(&p.go, 1);
    UNTIL(&w, 5000, atomic_load(&p.done));
    pthread_join(p.th, NULL);
    assert_true(p.hs_ok);
    /* the silent peer had been pinged, then got a close frame with 1011 */
    assert_true(p.nframes >= 2);
    assert_int_equal(p.frames[0].op, TETHER_OP_PING);
    assert_int_equal(p.frames[p.nframes - 1].op, TETHER_OP_CLOSE);
    assert_int_equal(p.frames[p.nframes - 1].code, 1011);
    close(p.lfd);

    /* A live peer answers the pings and keeps the connection. The timeout
     * is long on purpose: after each pong the next ping must come after
     * ping_interval of silence, not when the answered ping's timeout would
     * have run out (that gave one ping in 400 ms instead of about seven). */
    tether_opts *ko = tether_opts_new();
    tether_opts_set_ping_interval(ko, 50);
    tether_opts_set_ping_timeout(ko, 2000);
    w_listen(&w, "127.0.0.1", ko);
    tether_opts_free(ko);
    side *c2, *s2;
    open_pair(&w, &c2, &s2, "/", NULL);
    w_pump(&w, 400);
    assert_int_equal(s2->closed, 0);
    assert_true(c2->pings >= 4);
    check_clean(&w);
    w_free(&w);
}

/* ---- backpressure and drain ---------------------------------------------------------- */

static void test_backpressure(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = tether_opts_new();
    assert_int_equal(tether_opts_set_send_limit(so, 256 * 1024), 0);
    assert_int_equal(tether_opts_set_drain_mark(so, 64 * 1024), 0);
    w_listen(&w, "127.0.0.1", so);
    tether_opts_free(so);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    /* the client stops reading: kernel buffers, then our queue, fill up */
    assert_int_equal(tether_conn_pause_reading(c->c, 1), 0);
    uint8_t *chunk = lu_pattern(32 * 1024, 5);
    int sent = 0, rc = 0;
    for (int i = 0; i < 20000; i++) {
        rc = tether_conn_send(s->c, TETHER_OP_BINARY, chunk, 32 * 1024);
        if (rc) break;
        sent++;
    }
    assert_int_equal(rc, TETHER_E_BACKPRESSURE);
    assert_true(tether_conn_buffered(s->c) > 64 * 1024);
    assert_true(tether_conn_buffered(s->c) <= 256 * 1024);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_BINARY, chunk, 300 * 1024),
                     TETHER_E_BACKPRESSURE);             /* bigger than the limit */
    assert_int_equal(tether_conn_ping(s->c, "p", 1), 0); /* control frames still queue */
    w_pump(&w, 100);
    assert_int_equal(s->drains, 0);
    assert_int_equal(c->msgs, 0);
    /* the peer reads again: DRAIN, and every message arrives */
    assert_int_equal(tether_conn_pause_reading(c->c, 0), 0);
    UNTIL(&w, 10000, s->drains == 1);
    assert_true(tether_conn_buffered(s->c) <= 64 * 1024);
    UNTIL(&w, 10000, c->msgs == sent);
    assert_int_equal(c->last_len, 32 * 1024);
    assert_memory_equal(c->last, chunk, 32 * 1024);
    assert_int_equal(s->drains, 1);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_BINARY, chunk, 32 * 1024), 0);
    UNTIL(&w, 3000, c->msgs == sent + 1);
    free(chunk);
    check_clean(&w);
    w_free(&w);
}

/* ---- pausing reads ---------------------------------------------------------------------- */

static void test_pause_reading(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    assert_int_equal(tether_conn_pause_reading(c->c, 2), TETHER_E_INVAL);
    assert_int_equal(tether_conn_pause_reading(c->c, 1), 0);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m1", 2), 0);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m2", 2), 0);
    w_pump(&w, 100);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m3", 2), 0);
    w_pump(&w, 100);
    assert_int_equal(c->msgs, 0);
    assert_int_equal(tether_conn_pause_reading(c->c, 0), 0);
    UNTIL(&w, 3000, c->msgs == 3);
    assert_string_equal(c->seq, "m1|m2|m3|");

    /* paused in the middle of a burst that was already read: the rest waits */
    assert_int_equal(tether_conn_pause_reading(s->c, 1), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "x", 1), 0);
    w_pump(&w, 100);
    assert_int_equal(s->msgs, 0);
    assert_int_equal(tether_conn_pause_reading(s->c, 0), 0);
    UNTIL(&w, 3000, s->msgs == 5);
    check_clean(&w);
    w_free(&w);
}

/* Pausing from inside the event: the messages after it wait. */
static void pause_in_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    if (tether_event_type_of(ev) == TETHER_EV_MESSAGE && !s->server && s->msgs == 1)
        assert_int_equal(tether_conn_pause_reading(s->c, 1), 0);
}

static void test_pause_in_event(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    w.hook = pause_in_hook;
    for (int i = 1; i <= 4; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, m, 2), 0);
    }
    UNTIL(&w, 3000, c->msgs >= 1);
    w_pump(&w, 150);
    assert_int_equal(c->msgs, 1);
    w.hook = NULL;
    assert_int_equal(tether_conn_pause_reading(c->c, 0), 0);
    UNTIL(&w, 3000, c->msgs == 4);
    assert_string_equal(c->seq, "m1|m2|m3|m4|");
    check_clean(&w);
    w_free(&w);
}

/* ---- poll mode: holding a data event ------------------------------------------------- */

static void hold_hook(world *w, tether_event *ev, side *s) {
    if (tether_event_type_of(ev) == TETHER_EV_MESSAGE && s == w->arg && s->msgs == 1 &&
        s->arg == NULL) {
        w->keep = 1;
        s->arg = ev;
    }
}

/* An echo of a burst of big and small messages with pings among them, to a
 * client that does not read until the server has echoed them all: the
 * server's held big frames (written together per read) partly go, the
 * rest is queued before the frames and pongs that follow, and the client
 * gets every message in order. */
static size_t burst_size(int i) {
    /* just over the direct writer's 8 KiB, so a read holds many whole ones:
     * about 14 MB in all */
    return i >= 1900 && i % 3 == 0 ? 10 : 8192 + (size_t)(i % 50) * 97;
}

static void burst_hook(world *w, tether_event *ev, side *s) {
    if (s->server || tether_event_type_of(ev) != TETHER_EV_MESSAGE) return;
    int i = s->msgs - 1;
    size_t len;
    const uint8_t *d = tether_event_data(ev, &len);
    uint8_t *want = lu_pattern(burst_size(i), (unsigned)i);
    if (len != burst_size(i) || memcmp(d, want, len) != 0) w->arg = (void *)1;
    free(want);
}

static void test_echo_burst(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    w.hook = burst_hook;
    w.arg = NULL;
    assert_int_equal(tether_conn_pause_reading(c->c, 1), 0);
    const int n = 2000;
    for (int i = 0; i < n; i++) {
        uint8_t *p = lu_pattern(burst_size(i), (unsigned)i);
        assert_int_equal(tether_conn_send(c->c, TETHER_OP_BINARY, p, burst_size(i)), 0);
        free(p);
        if (i % 97 == 3) assert_int_equal(tether_conn_ping(c->c, "p", 1), 0);
        if (i % 100 == 99) w_pump(&w, 1);
    }
    /* (socket buffers hold a few MB, so the server's writes stopped part
     * way: what is left waits in its queue, in order) */
    UNTIL(&w, 10000, s->msgs == n);
    assert_int_equal(tether_conn_pause_reading(c->c, 0), 0);
    UNTIL(&w, 10000, c->msgs == n);
    assert_null(w.arg);
    w.hook = NULL;
    check_clean(&w);
    w_free(&w);
}

/* Cork: sends made outside a round wait (the context says it has work:
 * timeout 0) until tether_ctx_flush(), the next round or cork off, then go
 * in order; uncorked, each is written at once; flush from inside a
 * callback is refused. */
static void flush_hook(world *w, tether_event *ev, side *s) {
    (void)s;
    if (tether_event_type_of(ev) == TETHER_EV_MESSAGE)
        w->arg = (void *)(intptr_t)(tether_ctx_flush(w->ctx) + 1000);
}

static void test_cork(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    assert_int_equal(tether_ctx_set_cork(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_set_cork(w.ctx, 2), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_flush(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_set_cork(w.ctx, 1), 0);
    char m[8];
    for (int i = 1; i <= 3; i++) {
        snprintf(m, sizeof m, "m%d", i);
        assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, m, 2), 0);
        assert_int_equal(tether_conn_buffered(s->c), (size_t)i * 4); /* held: frames of 4 bytes */
    }
    assert_int_equal(tether_ctx_timeout(w.ctx), 0);
    assert_int_equal(tether_ctx_flush(w.ctx), 0);
    assert_int_equal(tether_conn_buffered(s->c), 0);
    UNTIL(&w, 3000, c->msgs == 3);
    /* held, then written by the next round */
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m4", 2), 0);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m5", 2), 0);
    assert_int_equal(tether_conn_buffered(s->c), 8);
    UNTIL(&w, 3000, c->msgs == 5);
    /* held, then written when cork goes off */
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m6", 2), 0);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m7", 2), 0);
    assert_int_equal(tether_conn_buffered(s->c), 8);
    assert_int_equal(tether_ctx_set_cork(w.ctx, 0), 0);
    assert_int_equal(tether_conn_buffered(s->c), 0);
    UNTIL(&w, 3000, c->msgs == 7);
    assert_string_equal(c->seq, "m1|m2|m3|m4|m5|m6|m7|");
    /* and uncorked, every send is written at once, as before */
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m8", 2), 0);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, "m9", 2), 0);
    assert_int_equal(tether_conn_buffered(s->c), 0);
    /* flush from an event: refused inside a callback, fine in poll mode */
    w.hook = flush_hook;
    UNTIL(&w, 3000, c->msgs == 9);
    assert_int_equal((intptr_t)w.arg - 1000, MODE(state) == MODE_POLL ? 0 : TETHER_E_STATE);
    w.hook = NULL;
    check_clean(&w);
    w_free(&w);
}

static void test_poll_hold(void **state) {
    (void)state;
    world w;
    w_init(&w, MODE_POLL);
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s, *c2, *s2;
    open_pair(&w, &c, &s, "/", NULL);
    open_pair(&w, &c2, &s2, "/", NULL);
    w.hook = hold_hook;
    w.arg = c;
    w.echo = 0;
    uint8_t *big = lu_pattern(100000, 6);
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_BINARY, big, 100000), 0);
    for (int i = 2; i <= 5; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, m, 2), 0);
    }
    UNTIL(&w, 3000, c->arg != NULL);
    /* while held: no more from c, but the other connection goes on */
    w.echo = 1;
    echo_round(&w, c2, s2, TETHER_OP_TEXT, "other", 5);
    w_pump(&w, 100);
    assert_int_equal(c->msgs, 1);
    tether_event *held = c->arg;
    size_t len;
    const uint8_t *d = tether_event_data(held, &len);
    assert_int_equal(len, 100000);
    assert_memory_equal(d, big, 100000); /* never overwritten under us */
    assert_int_equal(tether_event_opcode(held), TETHER_OP_BINARY);
    assert_ptr_equal(tether_event_conn(held), c->c);
    assert_int_equal(w.nheld, 1);
    tether_event_release(held);
    w.nheld = 0;
    UNTIL(&w, 3000, c->msgs == 5);
    assert_string_equal(c->seq, "m2|m3|m4|m5|");
    free(big);
    check_clean(&w);
    w_free(&w);
}

/* Event copies (poll mode): small payloads are copied into their events, so
 * a connection reads on while they are held (a burst comes whole without a
 * release) and each copy stays intact; a payload over the limit is handed
 * out in place and pauses its connection, as do more than 64 held events. */
typedef struct held_run {
    tether_event *ev[128];
    int n;
} held_run;

/* One step of the world: c's MESSAGE events are kept in r, the rest
 * recorded and released. */
static void step_holding(world *w, side *c, held_run *r, int ms) {
    tether_event *evs[8];
    int n = tether_next_events(w->ctx, ms, evs, 8);
    for (int i = 0; i < n; i++) {
        if (tether_event_type_of(evs[i]) == TETHER_EV_MESSAGE &&
            tether_event_conn(evs[i]) == c->c) {
            assert_true(r->n < 128);
            r->ev[r->n++] = evs[i];
        } else {
            lu_record(w, evs[i]);
            tether_event_release(evs[i]);
        }
    }
}

static void pump_holding(world *w, side *c, held_run *r, int ms, int until) {
    uint64_t end = lu_now_ms() + (uint64_t)ms;
    while (lu_now_ms() < end && r->n < until)
        step_holding(w, c, r, 20);
}

static void assert_text(tether_event *ev, const char *want) {
    size_t len;
    const uint8_t *d = tether_event_data(ev, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
}

static void release_run(held_run *r) {
    for (int i = 0; i < r->n; i++)
        tether_event_release(r->ev[i]);
    r->n = 0;
}

static void test_event_copy(void **state) {
    (void)state;
    world w;
    w_init(&w, MODE_POLL);
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    assert_int_equal(tether_ctx_set_event_copy(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_set_event_copy(w.ctx, 1000), 0);
    assert_int_equal(tether_ctx_set_cork(w.ctx, 1), 0); /* one write: one read */
    uint8_t *mid = lu_pattern(600, 5), *big = lu_pattern(2000, 7);
    char m[16];
    for (int i = 0; i < 40; i++) {
        snprintf(m, sizeof m, "m%d", i);
        if (i == 20) /* past a control payload's room: a copy of its own */
            assert_int_equal(tether_conn_send(s->c, TETHER_OP_BINARY, mid, 600), 0);
        else
            assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, m, strlen(m)), 0);
    }
    assert_int_equal(tether_conn_send(s->c, TETHER_OP_BINARY, big, 2000), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "a%d", i);
        assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, m, 2), 0);
    }
    assert_int_equal(tether_ctx_flush(w.ctx), 0);
    static held_run r;
    r.n = 0;
    pump_holding(&w, c, &r, 3000, 41);
    assert_int_equal(r.n, 41); /* all held, none released */
    pump_holding(&w, c, &r, 150, 44);
    assert_int_equal(r.n, 41); /* behind the one over the limit, held in place */
    size_t len;
    for (int i = 0; i < 40; i++) {
        snprintf(m, sizeof m, "m%d", i);
        if (i != 20) {
            assert_text(r.ev[i], m);
            continue;
        }
        const uint8_t *d = tether_event_data(r.ev[i], &len);
        assert_int_equal(len, 600);
        assert_memory_equal(d, mid, 600);
    }
    const uint8_t *d = tether_event_data(r.ev[40], &len);
    assert_int_equal(len, 2000);
    assert_memory_equal(d, big, 2000);
    tether_event_release(r.ev[40]); /* the last taken */
    r.n = 40;
    pump_holding(&w, c, &r, 3000, 43);
    assert_int_equal(r.n, 43);
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m, "a%d", i);
        assert_text(r.ev[40 + i], m);
    }
    assert_text(r.ev[0], "m0"); /* copies outlive the rounds since */
    release_run(&r);

    /* at most 64 held: the 65th is handed out in place and pauses */
    for (int i = 0; i < 100; i++) {
        snprintf(m, sizeof m, "c%d", i);
        assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, m, strlen(m)), 0);
    }
    assert_int_equal(tether_ctx_flush(w.ctx), 0);
    pump_holding(&w, c, &r, 3000, 65);
    pump_holding(&w, c, &r, 150, 66);
    assert_int_equal(r.n, 65);
    for (int i = 0; i < 65; i++) {
        snprintf(m, sizeof m, "c%d", i);
        assert_text(r.ev[i], m);
    }
    release_run(&r);
    pump_holding(&w, c, &r, 3000, 35);
    assert_int_equal(r.n, 35);
    for (int i = 0; i < 35; i++) {
        snprintf(m, sizeof m, "c%d", 65 + i);
        assert_text(r.ev[i], m);
    }
    release_run(&r);
    free(mid);
    free(big);
    check_clean(&w);
    w_free(&w);
}

/* Events held while the connection closes: the pointer stays valid until
 * the CLOSED event is released. */
static void hold_closed_hook(world *w, tether_event *ev, side *s) {
    if (tether_event_type_of(ev) == TETHER_EV_CLOSED && !s->server) w->keep = 1;
}

static void test_poll_hold_closed(void **state) {
    (void)state;
    world w;
    w_init(&w, MODE_POLL);
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    w.hook = hold_closed_hook;
    assert_int_equal(tether_conn_close(s->c, 1001, "going"), 0);
    UNTIL(&w, 3000, c->closed && s->closed);
    w_pump(&w, 50);
    assert_int_equal(w.nheld, 1);
    /* still valid: accessors work, sends are refused */
    assert_int_equal(tether_conn_id(c->c), c->id);
    assert_ptr_equal(tether_conn_user(c->c), c);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
    assert_int_equal(tether_conn_close(c->c, 1000, NULL), TETHER_E_STATE);
    tether_event_release(w.held[0]);
    w.nheld = 0;
    w_pump(&w, 20);
    check_clean(&w);
    w_free(&w);
}

/* ---- switching from callback to poll mode with connections open ------------ */

static void test_mode_switch(void **state) {
    (void)state;
    world w;
    w_init(&w, MODE_CB);
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    side *c1, *s1, *c2, *s2;
    open_pair(&w, &c1, &s1, "/", NULL);
    open_pair(&w, &c2, &s2, "/", NULL);
    echo_round(&w, c1, s1, TETHER_OP_TEXT, "cb", 2);
    w.echo = 0;
    /* to poll mode: the connections made in callback mode must now copy
     * what a held event points at */
    assert_int_equal(tether_ctx_set_callback(w.ctx, NULL, NULL), 0);
    w.mode = MODE_POLL;
    w.hook = hold_hook;
    w.arg = c1;
    c1->msgs = 0;
    uint8_t *a = lu_pattern(1000, 7), *b = lu_pattern(1000, 8);
    assert_int_equal(tether_conn_send(s1->c, TETHER_OP_BINARY, a, 1000), 0);
    UNTIL(&w, 3000, c1->arg != NULL);
    assert_int_equal(tether_conn_send(c2->c, TETHER_OP_BINARY, b, 1000), 0);
    UNTIL(&w, 3000, s2->msgs == 1);
    assert_memory_equal(s2->last, b, 1000);
    size_t len;
    const uint8_t *d = tether_event_data(c1->arg, &len);
    assert_int_equal(len, 1000);
    assert_memory_equal(d, a, 1000); /* not overwritten by the other read */
    tether_event_release(c1->arg);
    w.nheld = 0;
    free(a);
    free(b);
    check_clean(&w);
    w_free(&w);
}

/* ---- the client leaves while its REQUEST is held (poll mode) --------------- */

static void hold_request_hook(world *w, tether_event *ev, side *s) {
    (void)s;
    if (tether_event_type_of(ev) == TETHER_EV_REQUEST) w->keep = 1;
}

static void leave_during_request(int reject) {
    world w;
    w_init(&w, MODE_POLL);
    w.hook = hold_request_hook;
    w_listen(&w, "127.0.0.1", NULL);
    int fd = raw_connect(w.port);
    assert_true(fd >= 0);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", w.port);
    tether_client_hs *h = tether_client_hs_new(host, "/gone");
    const char *req;
    size_t len;
    assert_int_equal(tether_client_hs_request(h, &req, &len), 0);
    assert_int_equal(raw_write(fd, req, len), 0);
    tether_client_hs_free(h);
    UNTIL(&w, 3000, w.nheld == 1);
    close(fd); /* gone before the decision */
    w_pump(&w, 50);
    side *s = w_server(&w, 0);
    assert_int_equal(s->closed, 0); /* nothing while the REQUEST is held */
    if (reject) assert_int_equal(tether_conn_reject(s->c, 503, NULL), 0);
    w.hook = NULL;
    tether_event_release(w.held[0]);
    w.nheld = 0;
    UNTIL(&w, 3000, s->closed);
    assert_int_equal(s->open, reject ? 0 : 1);
    w_pump(&w, 50);
    assert_int_equal(s->closed, 1);
    check_clean(&w);
    w_free(&w);
}

static void test_leave_during_request(void **state) {
    (void)state;
    leave_during_request(0);
    leave_during_request(1);
}

/* ---- many connections ---------------------------------------------------------------------- */

static void many_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    if (tether_event_type_of(ev) == TETHER_EV_OPEN && !s->server) {
        char m[32];
        int n = snprintf(m, sizeof m, "conn-%llu", (unsigned long long)s->id);
        assert_int_equal(tether_conn_send(s->c, TETHER_OP_TEXT, m, (size_t)n), 0);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define MANY 1000

static void test_many(void **state) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * MANY + 64 && rl.rlim_max >= 2 * MANY + 64) {
        rl.rlim_cur = 2 * MANY + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 2 * MANY + 64) {
        printf("# fd limit %llu too low: skipped\n", (unsigned long long)rl.rlim_cur);
        return;
    }
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    w.hook = many_hook;
    w_listen(&w, "127.0.0.1", NULL);
    side *cl[MANY];
    for (int i = 0; i < MANY; i++)
        cl[i] = w_connect(&w, "/many", NULL);
    int done = 0;
    uint64_t end = lu_now_ms() + 15000;
    while (done < MANY && lu_now_ms() < end) {
        w_step(&w, 20);
        done = 0;
        for (int i = 0; i < MANY; i++)
            done += cl[i]->msgs == 1;
    }
    assert_int_equal(done, MANY);
    for (int i = 0; i < MANY; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "conn-%llu", (unsigned long long)cl[i]->id);
        assert_int_equal(cl[i]->last_len, (size_t)n);
        assert_memory_equal(cl[i]->last, m, (size_t)n);
        assert_int_equal(cl[i]->closed, 0);
    }
    /* every id is distinct, across clients and servers */
    uint64_t *ids = malloc(w.nsides * sizeof *ids);
    for (size_t i = 0; i < w.nsides; i++)
        ids[i] = w.sides[i].id;
    qsort(ids, w.nsides, sizeof *ids, cmp_u64);
    assert_int_equal(w.nsides, 2 * MANY);
    for (size_t i = 1; i < w.nsides; i++)
        assert_true(ids[i] != ids[i - 1] && ids[i] != 0);
    free(ids);
    /* half close, half are freed with the context */
    for (int i = 0; i < MANY / 2; i++)
        assert_int_equal(tether_conn_close(cl[i]->c, 1000, NULL), 0);
    int closed = 0;
    end = lu_now_ms() + 10000;
    while (closed < MANY && lu_now_ms() < end) {
        w_step(&w, 20);
        closed = 0;
        for (size_t i = 0; i < w.nsides; i++)
            closed += w.sides[i].closed;
    }
    assert_int_equal(closed, MANY);
    check_clean(&w);
    w_free(&w);
}

/* ---- ids of connections that are gone ------------------------------------------------------ */

static void test_ids_reused_slots(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s, "/", NULL);
    uint64_t old = c->id;
    tether_conn_close(c->c, 1000, NULL);
    UNTIL(&w, 3000, c->closed && s->closed);
    w_pump(&w, 50);
    side *c2, *s2;
    open_pair(&w, &c2, &s2, "/", NULL);
    assert_true(c2->id != old && s2->id != old && c2->id != s->id);
    /* posting to the old id: nothing happens to the new connections */
    assert_int_equal(tether_ctx_post_send(w.ctx, old, TETHER_OP_TEXT, "ghost", 5), 0);
    assert_int_equal(tether_ctx_post_close(w.ctx, old, 1000, NULL), 0);
    w_pump(&w, 100);
    assert_int_equal(s2->msgs, 0);
    assert_int_equal(c2->closed, 0);
    check_clean(&w);
    w_free(&w);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        BOTH(test_messages),
        BOTH(test_server_close),
        BOTH(test_fragments),
        BOTH(test_request),
        BOTH(test_reject),
        BOTH(test_auto_protocol),
        cmocka_unit_test(test_bad_url),
        BOTH(test_connect_refused),
        BOTH(test_cancel_before_open),
        BOTH(test_header_limits),
        cmocka_unit_test(test_reuseport),
        BOTH(test_connect_timeout),
        BOTH(test_names),
        BOTH(test_accept_out_of_fds),
        BOTH(test_send_budget),
        BOTH(test_cork),
        BOTH(test_addresses),
        BOTH(test_app_timers),
        BOTH(test_echo_burst),
        BOTH(test_broadcast),
        BOTH(test_message_timeout),
        BOTH(test_server_handshake_timeout),
        BOTH(test_client_handshake_timeout),
        BOTH(test_idle_timeout),
        BOTH(test_close_after_quiet),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_client_protocol_error),
        BOTH(test_pipelined_client),
        BOTH(test_pipelined_server),
        BOTH(test_dns_failure),
        BOTH(test_keepalive),
        BOTH(test_backpressure),
        BOTH(test_pause_reading),
        BOTH(test_pause_in_event),
        cmocka_unit_test(test_poll_hold),
        cmocka_unit_test(test_event_copy),
        cmocka_unit_test(test_poll_hold_closed),
        cmocka_unit_test(test_mode_switch),
        cmocka_unit_test(test_leave_during_request),
        BOTH(test_many),
        BOTH(test_ids_reused_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
