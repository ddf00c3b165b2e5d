/* The transport stack (src/stack) without sockets: a client stack and a
 * server stack with real TLS layers, their wire bytes carried between them
 * in memory. One layer (wss) and two (TLS inside TLS, as through an HTTPS
 * proxy) both reach the open state, carry data both ways in order, hold at
 * most the backlog, end with close_notify, and explain a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certs_util.h"
#include "stack/stack.h"
#include "stack/tls_layer.h"

static uint8_t scratch[TT_STACK_CHUNK];

typedef struct pair {
    tt_stack client, server;
    tt_tls_ctx *cctx, *sctx;
} pair;

static tt_tls_ctx *server_ctx(const char *cert) {
    char pem[64], key[64], err[256];
    snprintf(pem, sizeof pem, "%s.pem", cert);
    snprintf(key, sizeof key, "%s.key", cert);
    tt_tls_opts o = {0};
    o.cert = (char *)cu_path(pem);
    o.key = (char *)cu_path(key);
    tt_tls_ctx *t = NULL;
    assert_int_equal(tt_tls_ctx_server(&o, &t, err, sizeof err), 0);
    return t;
}

static tt_tls_ctx *client_ctx(void) {
    char err[256];
    tt_tls_opts o = {0};
    o.ca_file = (char *)cu_path("ca.pem");
    tt_tls_ctx *t = NULL;
    assert_int_equal(tt_tls_ctx_client(&o, &t, err, sizeof err), 0);
    return t;
}

/* depth TLS layers on each side; the server shows cert. */
static void pair_init(pair *p, int depth, const char *cert) {
    memset(p, 0, sizeof *p);
    p->cctx = client_ctx();
    p->sctx = server_ctx(cert);
    for (int i = 0; i < depth; i++) {
        tt_layer *c = tt_tls_layer_new(tt_tls_new_client(p->cctx, "localhost", 0));
        tt_layer *s = tt_tls_layer_new(tt_tls_new_server(p->sctx));
        assert_non_null(c);
        assert_non_null(s);
        assert_int_equal(tt_stack_push(&p->client, c), 0);
        assert_int_equal(tt_stack_push(&p->server, s), 0);
    }
}

static void pair_free(pair *p) {
    tt_stack_free(&p->client);
    tt_stack_free(&p->server);
    tt_tls_ctx_unref(p->cctx);
    tt_tls_ctx_unref(p->sctx);
}

/* Carries what one stack has for the wire to the other; at most max bytes
 * per call, as a socket may take less than offered. Returns the bytes
 * moved, or the receiver's error. */
static long carry(tt_stack *from, tt_stack *to, size_t max) {
    static uint8_t wire_copy[TT_STACK_CHUNK];
    size_t len;
    const uint8_t *w;
    int rc = tt_stack_wire(from, &w, &len, scratch);
    if (rc) return rc;
    size_t n = len < max ? len : max;
    if (n) memcpy(wire_copy, w, n);
    tt_stack_wire_sent(from, n);
    if (!n) return 0;
    rc = tt_stack_feed(to, wire_copy, n, scratch);
    return rc ? rc : (long)n;
}

/* Steps both sides and carries bytes until neither moves any (bounded). */
static int pump(pair *p, size_t max) {
    for (int round = 0; round < 100000; round++) {
        int rc = tt_stack_step(&p->client);
        if (rc && rc != TETHER_E_AGAIN) return rc;
        long a = carry(&p->client, &p->server, max);
        if (a < 0) return (int)a;
        long b = carry(&p->server, &p->client, max);
        if (b < 0) return (int)b;
        if (!a && !b) return 0;
    }
    return TETHER_E_TIMEOUT;
}

/* Reads what one side has for the application, appending to out. */
static size_t drain(tt_stack *s, uint8_t *out, size_t cap) {
    size_t got = 0;
    ssize_t r;
    while (got < cap && (r = tt_stack_read(s, out + got, cap - got, scratch)) > 0)
        got += (size_t)r;
    return got;
}

static void open_and_talk(int depth) {
    pair p;
    pair_init(&p, depth, "server");
    assert_int_equal(tt_stack_write(&p.client, (const uint8_t *)"x", 1), 0); /* not open */
    assert_int_equal(pump(&p, SIZE_MAX), 0);
    assert_true(tt_stack_is_open(&p.client));
    assert_true(tt_stack_is_open(&p.server));
    char d[256];
    assert_non_null(strstr(tt_stack_describe(&p.client, d, sizeof d), "TLS"));

    assert_int_equal(tt_stack_write(&p.client, (const uint8_t *)"hello", 5), 5);
    assert_int_equal(pump(&p, SIZE_MAX), 0);
    uint8_t got[16];
    assert_int_equal(drain(&p.server, got, sizeof got), 5);
    assert_memory_equal(got, "hello", 5);
    assert_int_equal(tt_stack_read(&p.server, got, sizeof got, scratch), TETHER_E_AGAIN);
    pair_free(&p);
}

static void test_open_and_talk(void **state) {
    (void)state;
    open_and_talk(1);
}

static void test_tls_inside_tls(void **state) {
    (void)state;
    open_and_talk(2);
}

/* 2 MB from the server in whatever pieces the backlog allows, the wire
 * carrying 1000 bytes at a time: the stack never holds more than the
 * backlog (plus one write), and every byte arrives in order. */
static void bulk(int depth) {
    enum { TOTAL = 2 * 1024 * 1024 };
    pair p;
    pair_init(&p, depth, "server");
    assert_int_equal(pump(&p, SIZE_MAX), 0);
    uint8_t *src = malloc(TOTAL), *dst = malloc(TOTAL);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < TOTAL; i++)
        src[i] = (uint8_t)(i * 7 + i / 251);
    size_t sent = 0, got = 0;
    for (int round = 0; round < 1000000 && got < TOTAL; round++) {
        ssize_t n = tt_stack_write(&p.server, src + sent, TOTAL - sent);
        assert_true(n >= 0);
        sent += (size_t)n;
        /* the cap holds, with a small allowance for each layer's records */
        assert_true(tt_stack_owed(&p.server) <= TT_STACK_BACKLOG + TT_STACK_CHUNK + 4096u * depth);
        long m = carry(&p.server, &p.client, 1000);
        assert_true(m >= 0);
        got += drain(&p.client, dst + got, TOTAL - got);
        long back = carry(&p.client, &p.server, SIZE_MAX); /* tickets, acks */
        assert_true(back >= 0);
    }
    assert_int_equal(got, TOTAL);
    assert_memory_equal(src, dst, TOTAL);
    assert_int_equal(tt_stack_owed(&p.server), 0);
    free(src);
    free(dst);
    pair_free(&p);
}

static void test_backlog_and_order(void **state) {
    (void)state;
    bulk(1);
}

static void test_backlog_and_order_two_layers(void **state) {
    (void)state;
    bulk(2);
}

/* The orderly end: close_notify reads as the end of the stream; the side
 * that said goodbye takes no more plaintext. */
static void test_shutdown(void **state) {
    (void)state;
    pair p;
    pair_init(&p, 1, "server");
    assert_int_equal(pump(&p, SIZE_MAX), 0);
    assert_int_equal(tt_stack_shutdown(&p.client), 1);
    assert_int_equal(tt_stack_shutdown(&p.client), 0); /* once */
    assert_int_equal(tt_stack_write(&p.client, (const uint8_t *)"late", 4), 0);
    assert_int_equal(pump(&p, SIZE_MAX), 0);
    uint8_t buf[8];
    assert_int_equal(tt_stack_read(&p.server, buf, sizeof buf, scratch), 0);
    pair_free(&p);
}

/* A certificate the client does not trust: the handshake fails on the
 * client, which says why; the stack refuses input after that. */
static void test_failure_explained(void **state) {
    (void)state;
    pair p;
    pair_init(&p, 1, "untrusted");
    int rc = pump(&p, SIZE_MAX);
    assert_int_equal(rc, TETHER_E_TLS_VERIFY);
    const char *why = tt_stack_error_text(&p.client);
    assert_non_null(why);
    assert_non_null(strstr(why, "unable to get local issuer certificate"));
    assert_false(tt_stack_is_open(&p.client));
    /* the failure sticks: every later call reports it */
    assert_int_equal(tt_stack_feed(&p.client, (const uint8_t *)"x", 1, scratch),
                     TETHER_E_TLS_VERIFY);
    assert_int_equal(tt_stack_step(&p.client), TETHER_E_TLS_VERIFY);
    assert_int_equal(tt_stack_write(&p.client, (const uint8_t *)"x", 1), TETHER_E_TLS_VERIFY);
    /* ... but the alert saying why still goes to the peer, which fails
     * with the client's reason */
    const uint8_t *w;
    size_t len;
    assert_int_equal(tt_stack_wire(&p.client, &w, &len, scratch), 0);
    assert_true(len > 0);
    tt_stack_wire_sent(&p.client, 0);
    assert_true(carry(&p.client, &p.server, SIZE_MAX) < 0);
    assert_non_null(strstr(tt_stack_error_text(&p.server), "unknown ca"));
    pair_free(&p);
}

/* Layers go on before anything flows, and at most TT_STACK_MAX of them. */
static void test_push_limits(void **state) {
    (void)state;
    pair p;
    pair_init(&p, TT_STACK_MAX, "server");
    tt_tls_ctx *t = client_ctx();
    tt_layer *extra = tt_tls_layer_new(tt_tls_new_client(t, "localhost", 0));
    assert_int_equal(tt_stack_push(&p.client, extra), TETHER_E_INVAL);
    extra->ops->free(extra);
    assert_int_equal(tt_stack_push(&p.client, NULL), TETHER_E_INVAL);
    pair_free(&p);

    pair_init(&p, 1, "server");
    assert_int_equal(pump(&p, SIZE_MAX), 0);
    extra = tt_tls_layer_new(tt_tls_new_client(t, "localhost", 0));
    assert_int_equal(tt_stack_push(&p.client, extra), TETHER_E_INVAL); /* already open */
    extra->ops->free(extra);
    assert_null(tt_stack_find(&p.client, "proxy"));
    assert_non_null(tt_tls_layer_session(tt_stack_find(&p.client, "tls")));
    tt_tls_ctx_unref(t);
    pair_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_talk),
        cmocka_unit_test(test_tls_inside_tls),
        cmocka_unit_test(test_backlog_and_order),
        cmocka_unit_test(test_backlog_and_order_two_layers),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_failure_explained),
        cmocka_unit_test(test_push_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
