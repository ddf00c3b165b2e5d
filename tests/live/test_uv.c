/* tether_uv.h: a client and a server on one uv_loop_t, in callback mode
 * and in poll mode (events drained after each service), then stopped and
 * the loop closed cleanly. A watchdog timer and alarm() bound every run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tether.h"
#include "tether_uv.h"

#include "certs_util.h"

typedef struct uvt {
    uv_loop_t loop;
    uv_timer_t watchdog, kick;
    tether_uv tu;
    tether_ctx *ctx;
    tether_listener *l;
    tether_conn *client, *server;
    int client_open, server_open, echoes, client_closed, server_closed, stopped, timed_out;
    int client_code, client_error, server_code;
    int rounds; /* messages to echo before closing */
    int close_from_timer;
    char last[64];
    char extensions[128]; /* the client's, at OPEN */
} uvt;

static const char *const msg = "hello uv";

static void on_stopped(uv_handle_t *h) {
    uvt *t = ((tether_uv *)((char *)h - offsetof(tether_uv, poll)))->data;
    t->stopped = 1;
}

static void finish(uvt *t) {
    if (!t->client_closed || !t->server_closed) return;
    if (t->tu.started) assert_int_equal(tether_uv_stop(&t->tu, on_stopped), 0);
    uv_close((uv_handle_t *)&t->watchdog, NULL);
    if (!uv_is_closing((uv_handle_t *)&t->kick)) uv_close((uv_handle_t *)&t->kick, NULL);
}

/* From a libuv callback, outside any tether service: the close timeout it
 * arms must still be honoured (the glue re-arms before libuv blocks). */
static void on_kick(uv_timer_t *k) {
    uvt *t = k->data;
    assert_int_equal(tether_conn_close(t->client, 1000, "from uv"), 0);
}

static void handle(tether_ctx *ctx, tether_event *ev, uvt *t) {
    (void)ctx;
    tether_conn *c = tether_event_conn(ev);
    size_t len;
    const uint8_t *d = tether_event_data(ev, &len);
    switch (tether_event_type_of(ev)) {
    case TETHER_EV_REQUEST:
        t->server = c;
        break;
    case TETHER_EV_OPEN:
        if (c == t->client) {
            t->client_open = 1;
            const char *x = tether_conn_extensions(c);
            snprintf(t->extensions, sizeof t->extensions, "%s", x ? x : "");
            assert_int_equal(tether_conn_send(c, TETHER_OP_TEXT, msg, strlen(msg)), 0);
        } else {
            t->server_open = 1;
        }
        break;
    case TETHER_EV_MESSAGE:
        if (c == t->server) {
            assert_int_equal(tether_conn_send(c, TETHER_OP_TEXT, d, len), 0);
            if (t->close_from_timer && t->echoes + 1 >= t->rounds)
                tether_conn_pause_reading(c, 1); /* will never answer the close */
        } else {
            assert_true(len < sizeof t->last);
            memcpy(t->last, d, len);
            t->last[len] = 0;
            t->echoes++;
            if (t->echoes < t->rounds)
                assert_int_equal(tether_conn_send(c, TETHER_OP_TEXT, msg, strlen(msg)), 0);
            else if (t->close_from_timer)
                uv_timer_start(&t->kick, on_kick, 10, 0);
            else
                assert_int_equal(tether_conn_close(c, 1000, "done"), 0);
        }
        break;
    case TETHER_EV_CLOSED:
        if (c == t->client) {
            t->client_closed = 1;
            t->client_code = tether_event_close_code(ev);
            t->client_error = tether_event_error(ev);
            if (t->close_from_timer) tether_conn_pause_reading(t->server, 0); /* sees the end */
        } else {
            t->server_closed = 1;
            t->server_code = tether_event_close_code(ev);
        }
        finish(t);
        break;
    default:
        break;
    }
}

static void on_event(tether_ctx *ctx, tether_event *ev, void *user) {
    handle(ctx, ev, user);
}

/* Poll mode: drain what the service queued. */
static void after_service(tether_uv *h) {
    uvt *t = h->data;
    tether_event *ev;
    while (t->tu.started || t->tu.closing) {
        int rc = tether_next_event(h->ctx, 0, &ev);
        if (rc == TETHER_E_AGAIN) break;
        assert_int_equal(rc, 0);
        handle(h->ctx, ev, t);
        tether_event_release(ev);
    }
}

static void on_watchdog(uv_timer_t *w) {
    uvt *t = w->data;
    t->timed_out = 1;
    uv_stop(&t->loop);
}

/* secure: wss:// with permessage-deflate. */
static void run_opts(int poll_mode, int rounds, int close_from_timer, int secure) {
    alarm(20);
    uvt t;
    memset(&t, 0, sizeof t);
    t.rounds = rounds;
    t.close_from_timer = close_from_timer;
    assert_int_equal(uv_loop_init(&t.loop), 0);
    t.ctx = tether_ctx_new();
    assert_non_null(t.ctx);
    if (!poll_mode) assert_int_equal(tether_ctx_set_callback(t.ctx, on_event, &t), 0);
    tether_opts *so = secure ? cu_server_opts(1) : NULL;
    assert_int_equal(tether_listen(t.ctx, "127.0.0.1", 0, so, &t.l), 0);
    tether_opts_free(so);
    char url[64];
    snprintf(url, sizeof url, "%s://localhost:%d/uv", secure ? "wss" : "ws",
             tether_listener_port(t.l));
    tether_opts *o = secure ? cu_client_opts(1) : tether_opts_new();
    tether_opts_set_close_timeout(o, 200);
    assert_int_equal(tether_connect(t.ctx, url, o, &t.client), 0); /* before start: fine */
    tether_opts_free(o);

    t.tu.data = &t;
    assert_int_equal(tether_uv_start(&t.tu, &t.loop, t.ctx), 0);
    assert_ptr_equal(t.tu.data, &t);
    if (poll_mode) tether_uv_set_after_service(&t.tu, after_service);
    uv_timer_init(&t.loop, &t.watchdog);
    t.watchdog.data = &t;
    uv_timer_start(&t.watchdog, on_watchdog, 10000, 0);
    uv_timer_init(&t.loop, &t.kick);
    t.kick.data = &t;

    uv_run(&t.loop, UV_RUN_DEFAULT);
    assert_false(t.timed_out);
    assert_true(t.client_open && t.server_open);
    assert_int_equal(t.echoes, rounds);
    assert_string_equal(t.last, msg);
    assert_true(t.stopped);
    assert_int_equal(tether_uv_last_error(&t.tu), 0);
    if (close_from_timer) {
        assert_int_equal(t.client_code, TETHER_CLOSE_ABNORMAL);
        assert_int_equal(t.client_error, TETHER_E_TIMEOUT);
    } else {
        assert_int_equal(t.client_code, 1000);
        assert_int_equal(t.server_code, 1000);
    }
    assert_int_equal(tether_uv_stop(&t.tu, NULL), TETHER_E_STATE);
    assert_int_equal(uv_loop_close(&t.loop), 0); /* nothing left on the loop */
    if (secure) assert_non_null(strstr(t.extensions, "permessage-deflate"));
    tether_ctx_free(t.ctx);
    alarm(0);
}

static void run(int poll_mode, int rounds, int close_from_timer) {
    run_opts(poll_mode, rounds, close_from_timer, 0);
}

static void test_uv_tls_deflate(void **state) {
    (void)state;
    run_opts(0, 50, 0, 1);
    run_opts(1, 50, 0, 1);
}

static void test_uv_callback(void **state) {
    (void)state;
    run(0, 1, 0);
    run(0, 50, 0);
}

static void test_uv_poll(void **state) {
    (void)state;
    run(1, 1, 0);
    run(1, 50, 0);
}

static void test_uv_timer_rearm(void **state) {
    (void)state;
    run(0, 1, 1);
    run(1, 1, 1);
}

/* Wrong use is refused without touching the loop. */
static void test_uv_args(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    tether_uv tu;
    memset(&tu, 0, sizeof tu);
    tether_ctx *ctx = tether_ctx_new();
    assert_int_equal(tether_uv_start(NULL, &loop, ctx), TETHER_E_INVAL);
    assert_int_equal(tether_uv_start(&tu, NULL, ctx), TETHER_E_INVAL);
    assert_int_equal(tether_uv_start(&tu, &loop, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_uv_stop(&tu, NULL), TETHER_E_STATE);
    assert_int_equal(tether_uv_stop(NULL, NULL), TETHER_E_INVAL);
    /* start then stop at once, with a wake in between */
    assert_int_equal(tether_uv_start(&tu, &loop, ctx), 0);
    tether_ctx_wake(ctx);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(tether_uv_stop(&tu, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    tether_ctx_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uv_callback),    cmocka_unit_test(test_uv_poll),
        cmocka_unit_test(test_uv_tls_deflate), cmocka_unit_test(test_uv_timer_rearm),
        cmocka_unit_test(test_uv_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
