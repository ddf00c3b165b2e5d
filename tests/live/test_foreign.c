/* The foreign-loop contract, driven by a strict hand-written poll(2) loop:
 * it watches tether_ctx_fd() of a server context and a client context,
 * honours tether_ctx_timeout(), and calls tether_ctx_service(ctx, 0) only
 * when that context's fd is readable or its timeout has come. In poll mode
 * it drains tether_next_event(ctx, 0, ...) after each service until
 * TETHER_E_AGAIN. */
#include "live_util.h"

#include "certs_util.h"

#include <poll.h>

typedef struct fl {
    tether_ctx *ctx[2]; /* 0: server, 1: client */
    int poll_mode;
    tether_conn *client, *server;
    int client_open, server_open, client_closed, server_closed;
    int client_code, server_code, client_error, client_clean, server_clean;
    int echoes, rounds;
    size_t msg_len;
    uint8_t *msg;
    int services, pings;
} fl;

static void fl_handle(fl *f, tether_event *ev) {
    tether_conn *c = tether_event_conn(ev);
    size_t len;
    const uint8_t *d = tether_event_data(ev, &len);
    switch (tether_event_type_of(ev)) {
    case TETHER_EV_REQUEST:
        f->server = c;
        break;
    case TETHER_EV_OPEN:
        if (!f->poll_mode) { /* no re-entering from a callback */
            tether_ctx *ctx = c == f->client ? f->ctx[1] : f->ctx[0];
            assert_int_equal(tether_ctx_service(ctx, 0), TETHER_E_STATE);
            assert_int_equal(tether_ctx_run(ctx), TETHER_E_STATE);
            assert_int_equal(tether_next_event(ctx, 0, &(tether_event *){NULL}), TETHER_E_STATE);
        }
        if (c == f->client) {
            f->client_open = 1;
            if (f->rounds)
                assert_int_equal(tether_conn_send(c, TETHER_OP_BINARY, f->msg, f->msg_len), 0);
        } else {
            f->server_open = 1;
        }
        break;
    case TETHER_EV_MESSAGE:
        if (c == f->server) {
            assert_int_equal(tether_conn_send(c, (tether_opcode)tether_event_opcode(ev), d, len),
                             0);
        } else {
            assert_int_equal(len, f->msg_len);
            assert_memory_equal(d, f->msg, len);
            if (++f->echoes < f->rounds)
                assert_int_equal(tether_conn_send(c, TETHER_OP_BINARY, f->msg, f->msg_len), 0);
            else
                assert_int_equal(tether_conn_close(c, 1000, "enough"), 0);
        }
        break;
    case TETHER_EV_PING:
        f->pings++;
        break;
    case TETHER_EV_CLOSED:
        if (c == f->client) {
            f->client_closed++;
            f->client_code = tether_event_close_code(ev);
            f->client_error = tether_event_error(ev);
            f->client_clean = tether_event_clean(ev);
        } else {
            f->server_closed++;
            f->server_code = tether_event_close_code(ev);
            f->server_clean = tether_event_clean(ev);
        }
        break;
    default:
        break;
    }
}

static void fl_cb(tether_ctx *ctx, tether_event *ev, void *user) {
    (void)ctx;
    fl_handle(user, ev);
}

/* One turn of the foreign loop, waiting at most cap_ms. */
static void fl_turn(fl *f, int cap_ms) {
    struct pollfd p[2];
    int t[2], wait = cap_ms;
    for (int i = 0; i < 2; i++) {
        p[i].fd = tether_ctx_fd(f->ctx[i]);
        p[i].events = POLLIN;
        p[i].revents = 0;
        assert_true(p[i].fd >= 0);
        t[i] = tether_ctx_timeout(f->ctx[i]);
        if (t[i] >= 0 && t[i] < wait) wait = t[i];
    }
    uint64_t t0 = lu_now_ms();
    int n = poll(p, 2, wait);
    assert_true(n >= 0);
    uint64_t waited = lu_now_ms() - t0;
    for (int i = 0; i < 2; i++) {
        int due = t[i] >= 0 && waited >= (uint64_t)t[i];
        if (!(p[i].revents & POLLIN) && !due) continue; /* strict: nothing fired */
        int rc = tether_ctx_service(f->ctx[i], 0);
        assert_true(rc >= 0);
        f->services++;
        if (!f->poll_mode) continue;
        tether_event *ev;
        while ((rc = tether_next_event(f->ctx[i], 0, &ev)) == 0) {
            fl_handle(f, ev);
            tether_event_release(ev);
        }
        assert_int_equal(rc, TETHER_E_AGAIN);
    }
}

#define FL_UNTIL(f, ms, expr)                                                                      \
    do {                                                                                           \
        uint64_t end_ = lu_now_ms() + (ms);                                                        \
        while (!(expr)) {                                                                          \
            if (lu_now_ms() >= end_) fail_msg("timed out waiting for %s", #expr);                  \
            fl_turn((f), 50);                                                                      \
        }                                                                                          \
    } while (0)

static void fl_init(fl *f, int poll_mode) {
    memset(f, 0, sizeof *f);
    alarm(20);
    f->poll_mode = poll_mode;
    for (int i = 0; i < 2; i++) {
        f->ctx[i] = tether_ctx_new();
        assert_non_null(f->ctx[i]);
        if (!poll_mode) assert_int_equal(tether_ctx_set_callback(f->ctx[i], fl_cb, f), 0);
    }
}

static void fl_free(fl *f) {
    tether_ctx_free(f->ctx[0]);
    tether_ctx_free(f->ctx[1]);
    free(f->msg);
    alarm(0);
}

/* secure: wss:// with permessage-deflate, through the same loop. */
static void echo_opts(int poll_mode, int rounds, size_t len, int secure) {
    fl f;
    fl_init(&f, poll_mode);
    f.rounds = rounds;
    f.msg_len = len;
    f.msg = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        f.msg[i] = (uint8_t)(i * 7 + 3);
    tether_listener *l;
    tether_opts *so = secure ? cu_server_opts(1) : NULL, *co = secure ? cu_client_opts(1) : NULL;
    assert_int_equal(tether_listen(f.ctx[0], "127.0.0.1", 0, so, &l), 0);
    char url[64];
    snprintf(url, sizeof url, "%s://localhost:%d/foreign", secure ? "wss" : "ws",
             tether_listener_port(l));
    assert_int_equal(tether_connect(f.ctx[1], url, co, &f.client), 0);
    tether_opts_free(so);
    tether_opts_free(co);
    FL_UNTIL(&f, 10000, f.client_open);
    if (secure) {
        assert_non_null(tether_conn_tls_version(f.client));
        const char *x = tether_conn_extensions(f.client);
        assert_non_null(x);
        assert_non_null(strstr(x, "permessage-deflate"));
    }
    FL_UNTIL(&f, 10000, f.client_closed && f.server_closed);
    assert_true(f.client_open && f.server_open);
    assert_int_equal(f.echoes, rounds);
    assert_int_equal(f.client_closed, 1);
    assert_int_equal(f.server_closed, 1);
    assert_int_equal(f.client_code, 1000);
    assert_int_equal(f.server_code, 1000);
    assert_true(f.client_clean && f.server_clean);
    /* quiet now: nothing is due, and a bounded wait services nothing */
    int before = f.services;
    for (int i = 0; i < 3; i++)
        fl_turn(&f, 20);
    assert_true(f.services - before <= 2); /* at most the last linger bits */
    fl_free(&f);
}

static void echo(int poll_mode, int rounds, size_t len) {
    echo_opts(poll_mode, rounds, len, 0);
}

static void test_foreign_tls_deflate(void **state) {
    (void)state;
    for (int poll_mode = 0; poll_mode < 2; poll_mode++) {
        echo_opts(poll_mode, 100, 1000, 1);
        echo_opts(poll_mode, 3, 1u << 20, 1);
    }
}

static void test_foreign_callback(void **state) {
    (void)state;
    echo(0, 1, 5);
    echo(0, 100, 1000);
    echo(0, 3, 1u << 20);
}

static void test_foreign_poll(void **state) {
    (void)state;
    echo(1, 1, 5);
    echo(1, 100, 1000);
    echo(1, 3, 1u << 20);
}

/* Timers reach the foreign loop only through tether_ctx_timeout(): a
 * handshake that never completes must time out. */
static void timeout_case(int poll_mode) {
    fl f;
    fl_init(&f, poll_mode);
    int port;
    int lfd = raw_listen(&port);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    tether_opts *o = tether_opts_new();
    tether_opts_set_handshake_timeout(o, 150);
    assert_int_equal(tether_connect(f.ctx[1], url, o, &f.client), 0);
    tether_opts_free(o);
    uint64_t t0 = lu_now_ms();
    FL_UNTIL(&f, 3000, f.client_closed);
    assert_true(lu_now_ms() - t0 >= 120);
    assert_int_equal(f.client_error, TETHER_E_TIMEOUT);
    assert_int_equal(f.client_open, 0);
    close(lfd);
    fl_free(&f);
}

static void test_foreign_timeout(void **state) {
    (void)state;
    timeout_case(0);
    timeout_case(1);
}

/* Keepalive pings go out on the foreign loop's timeouts alone. */
static void test_foreign_keepalive(void **state) {
    (void)state;
    fl f;
    fl_init(&f, 1);
    tether_opts *so = tether_opts_new();
    tether_opts_set_ping_interval(so, 30);
    tether_listener *l;
    assert_int_equal(tether_listen(f.ctx[0], "127.0.0.1", 0, so, &l), 0);
    tether_opts_free(so);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", tether_listener_port(l));
    assert_int_equal(tether_connect(f.ctx[1], url, NULL, &f.client), 0);
    FL_UNTIL(&f, 3000, f.client_open && f.server_open);
    uint64_t end = lu_now_ms() + 300;
    while (lu_now_ms() < end)
        fl_turn(&f, 50);
    assert_int_equal(f.client_closed + f.server_closed, 0);
    assert_true(f.pings >= 3);
    fl_free(&f);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foreign_callback),    cmocka_unit_test(test_foreign_poll),
        cmocka_unit_test(test_foreign_tls_deflate), cmocka_unit_test(test_foreign_timeout),
        cmocka_unit_test(test_foreign_keepalive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
