/* The public I/O-free engine, tether_ws: two engines wired to each other in
 * memory (one's output is the other's input, in chunks of any size), and
 * frames written by the public frame writer for what a conforming engine
 * never sends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"

/* Moves everything a's output holds into b, chunk bytes at a time. */
static void pipe_to(tether_ws *a, tether_ws *b, size_t chunk, uint64_t now) {
    size_t len;
    const uint8_t *out;
    while ((out = tether_ws_output(a, &len)) != NULL) {
        size_t n = len < chunk ? len : chunk;
        assert_int_equal(tether_ws_receive(b, out, n, now), 0);
        assert_int_equal(tether_ws_output_sent(a, n), 0);
    }
}

static int next(tether_ws *ws, tether_ws_event *ev) {
    int r = tether_ws_next_event(ws, ev);
    assert_true(r == 0 || r == 1);
    return r;
}

/* The next event must be of this type. */
static void expect(tether_ws *ws, tether_ws_event *ev, int type) {
    assert_int_equal(next(ws, ev), 1);
    if (ev->type != type)
        print_error("event %d (code %d, error %d: %.*s), expected %d\n", ev->type, ev->code,
                    ev->error, (int)ev->len, (const char *)ev->data, type);
    assert_int_equal(ev->type, type);
}

static void pair(tether_ws **client, tether_ws **server, const tether_opts *o) {
    *client = tether_ws_new(TETHER_ROLE_CLIENT, o, 0);
    *server = tether_ws_new(TETHER_ROLE_SERVER, o, 0);
    assert_non_null(*client);
    assert_non_null(*server);
}

static void test_echo_any_chunking(void **state) {
    (void)state;
    static const size_t chunks[] = {1, 2, 3, 7, 64, 100000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        tether_ws *c, *s;
        tether_ws_event ev;
        pair(&c, &s, NULL);
        assert_int_equal(tether_ws_send(c, TETHER_OP_TEXT, "hello", 5), 0);
        uint8_t big[70000];
        memset(big, 0xA5, sizeof big);
        assert_int_equal(tether_ws_send(c, TETHER_OP_BINARY, big, sizeof big), 0);
        pipe_to(c, s, chunks[k], 1);
        expect(s, &ev, TETHER_EV_MESSAGE);
        assert_int_equal(ev.opcode, TETHER_OP_TEXT);
        assert_int_equal(ev.fin, 1);
        assert_memory_equal(ev.data, "hello", 5);
        assert_int_equal(ev.len, 5);
        assert_int_equal(tether_ws_send(s, TETHER_OP_TEXT, ev.data, ev.len), 0);
        expect(s, &ev, TETHER_EV_MESSAGE);
        assert_int_equal(ev.len, sizeof big);
        assert_memory_equal(ev.data, big, sizeof big);
        assert_int_equal(next(s, &ev), 0);
        pipe_to(s, c, chunks[k], 2);
        expect(c, &ev, TETHER_EV_DRAIN); /* its 70 KB went over the 64 KiB mark, and out */
        expect(c, &ev, TETHER_EV_MESSAGE);
        assert_memory_equal(ev.data, "hello", 5);
        assert_int_equal(next(c, &ev), 0);
        tether_ws_free(c);
        tether_ws_free(s);
    }
}

static void test_client_masks_server_does_not(void **state) {
    (void)state;
    tether_ws *c, *s;
    pair(&c, &s, NULL);
    size_t len;
    assert_int_equal(tether_ws_send(c, TETHER_OP_TEXT, "x", 1), 0);
    assert_int_equal(tether_ws_send(s, TETHER_OP_TEXT, "x", 1), 0);
    assert_true(tether_ws_output(c, &len)[1] & 0x80);
    assert_int_equal(len, 2 + 4 + 1);
    assert_false(tether_ws_output(s, &len)[1] & 0x80);
    assert_int_equal(len, 2 + 1);
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_ping_answered(void **state) {
    (void)state;
    tether_ws *c, *s;
    tether_ws_event ev;
    pair(&c, &s, NULL);
    assert_int_equal(tether_ws_ping(c, "abc", 3), 0);
    pipe_to(c, s, 1, 1);
    expect(s, &ev, TETHER_EV_PING);
    assert_int_equal(ev.len, 3);
    assert_memory_equal(ev.data, "abc", 3);
    pipe_to(s, c, 1, 1); /* the pong was queued by the engine itself */
    expect(c, &ev, TETHER_EV_PONG);
    assert_memory_equal(ev.data, "abc", 3);
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_closing_handshake(void **state) {
    (void)state;
    tether_ws *c, *s;
    tether_ws_event ev;
    pair(&c, &s, NULL);
    assert_int_equal(tether_ws_close(c, 4000, "bye", 10), 0);
    assert_int_equal(tether_ws_state(c), TETHER_WS_CLOSING);
    assert_int_equal(tether_ws_send(c, TETHER_OP_TEXT, "late", 4), TETHER_E_STATE);
    pipe_to(c, s, 3, 11);
    expect(s, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, 4000);
    assert_int_equal(ev.len, 3);
    assert_memory_equal(ev.data, "bye", 3);
    assert_true(ev.clean);
    assert_int_equal(ev.error, 0);
    assert_int_equal(tether_ws_state(s), TETHER_WS_CLOSED);
    assert_int_equal(next(s, &ev), 0); /* nothing after CLOSED */
    pipe_to(s, c, 3, 12);              /* the server echoed the close */
    expect(c, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, 4000);
    assert_true(ev.clean);
    assert_int_equal(tether_ws_state(c), TETHER_WS_CLOSED);
    assert_int_equal(tether_ws_deadline(c), 0);
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_close_timeout(void **state) {
    (void)state;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_close_timeout(o, 500), 0);
    tether_ws *c = tether_ws_new(TETHER_ROLE_CLIENT, o, 0);
    tether_opts_free(o);
    tether_ws_event ev;
    assert_int_equal(tether_ws_close(c, 1000, NULL, 100), 0);
    assert_int_equal(tether_ws_deadline(c), 600);
    assert_int_equal(tether_ws_on_time(c, 599), 0);
    assert_int_equal(next(c, &ev), 0);
    assert_int_equal(tether_ws_on_time(c, 600), 0);
    expect(c, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, TETHER_CLOSE_ABNORMAL);
    assert_int_equal(ev.error, TETHER_E_TIMEOUT);
    assert_false(ev.clean);
    tether_ws_free(c);
}

/* A protocol error fails the connection with its code and reason, after
 * what was queued before it. */
static void test_protocol_error_after_echo(void **state) {
    (void)state;
    tether_ws *s = tether_ws_new(TETHER_ROLE_SERVER, NULL, 0);
    tether_ws_event ev;
    uint8_t wire[64];
    size_t n, m;
    assert_int_equal(tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_TEXT, 1, 0, "Hi", 2, wire,
                                        sizeof wire, &n),
                     0);
    assert_int_equal(tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_TEXT, 1, TETHER_RSV3, "x", 1,
                                        wire + n, sizeof wire - n, &m),
                     0);
    assert_int_equal(tether_ws_receive(s, wire, n + m, 1), 0);
    expect(s, &ev, TETHER_EV_MESSAGE);
    assert_int_equal(tether_ws_send(s, TETHER_OP_TEXT, ev.data, ev.len), 0);
    expect(s, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, TETHER_CLOSE_PROTOCOL_ERROR);
    assert_int_equal(ev.error, TETHER_E_RSV);
    assert_false(ev.clean);
    /* The output: the echo, then a close frame with 1002. */
    tether_ws *c = tether_ws_new(TETHER_ROLE_CLIENT, NULL, 0);
    pipe_to(s, c, 5, 2);
    expect(c, &ev, TETHER_EV_MESSAGE);
    assert_memory_equal(ev.data, "Hi", 2);
    expect(c, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, TETHER_CLOSE_PROTOCOL_ERROR);
    /* Input after the end means nothing. */
    assert_int_equal(tether_ws_receive(s, wire, n, 3), 0);
    assert_int_equal(next(s, &ev), 0);
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_eof_after_held_input(void **state) {
    (void)state;
    tether_ws *c, *s;
    tether_ws_event ev;
    pair(&c, &s, NULL);
    assert_int_equal(tether_ws_send(c, TETHER_OP_TEXT, "one", 3), 0);
    assert_int_equal(tether_ws_send_fragment(c, TETHER_OP_TEXT, "half", 4, 0), 0);
    pipe_to(c, s, 1000, 1);
    assert_int_equal(tether_ws_receive_eof(s), 0);
    expect(s, &ev, TETHER_EV_MESSAGE); /* held input first */
    expect(s, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, TETHER_CLOSE_ABNORMAL);
    assert_int_equal(ev.error, TETHER_E_CLOSED);
    assert_int_equal(next(s, &ev), 0);
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_keepalive(void **state) {
    (void)state;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_ping_interval(o, 1000), 0);
    assert_int_equal(tether_opts_set_ping_timeout(o, 500), 0);
    tether_ws *c, *s;
    tether_ws_event ev;
    pair(&c, &s, o);
    tether_opts_free(o);
    assert_int_equal(tether_ws_deadline(s), 1000);
    assert_int_equal(tether_ws_on_time(s, 1000), 0);
    assert_int_equal(next(s, &ev), 0);
    pipe_to(s, c, 100, 1000); /* the ping, which the client answers */
    expect(c, &ev, TETHER_EV_PING);
    pipe_to(c, s, 100, 1100);
    expect(s, &ev, TETHER_EV_PONG);
    assert_int_equal(tether_ws_deadline(s), 2100); /* quiet since 1100 */
    /* Now the client stays silent. */
    assert_int_equal(tether_ws_on_time(s, 2100), 0);
    assert_int_equal(tether_ws_deadline(s), 2600);
    assert_int_equal(tether_ws_on_time(s, 2600), 0);
    expect(s, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, TETHER_CLOSE_INTERNAL_ERROR);
    assert_int_equal(ev.error, TETHER_E_TIMEOUT);
    assert_int_equal(ev.len, strlen("keepalive timeout"));
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_backpressure_and_drain(void **state) {
    (void)state;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_send_limit(o, 10000), 0);
    assert_int_equal(tether_opts_set_drain_mark(o, 1000), 0);
    tether_ws *s = tether_ws_new(TETHER_ROLE_SERVER, o, 0);
    tether_opts_free(o);
    tether_ws_event ev;
    uint8_t piece[3000] = {0};
    int sent = 0;
    while (tether_ws_send(s, TETHER_OP_BINARY, piece, sizeof piece) == 0)
        sent++;
    assert_int_equal(sent, 3);
    assert_int_equal(tether_ws_send(s, TETHER_OP_BINARY, piece, sizeof piece),
                     TETHER_E_BACKPRESSURE);
    size_t len;
    tether_ws_output(s, &len);
    assert_int_equal(len, tether_ws_buffered(s));
    assert_int_equal(tether_ws_output_sent(s, len + 1), TETHER_E_INVAL);
    assert_int_equal(tether_ws_output_sent(s, len - 1001), 0);
    assert_int_equal(next(s, &ev), 0); /* 1001 left: over the mark */
    assert_int_equal(tether_ws_output_sent(s, 1), 0);
    expect(s, &ev, TETHER_EV_DRAIN);
    assert_int_equal(next(s, &ev), 0);
    tether_ws_free(s);
}

static void test_streaming_with_ping_between(void **state) {
    (void)state;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_streaming(o, 1), 0);
    tether_ws *c, *s;
    tether_ws_event ev;
    pair(&c, &s, o);
    tether_opts_free(o);
    assert_int_equal(tether_ws_send_fragment(c, TETHER_OP_TEXT, "ab", 2, 0), 0);
    assert_int_equal(tether_ws_send(c, TETHER_OP_TEXT, "no", 2), TETHER_E_STATE);
    assert_int_equal(tether_ws_ping(c, NULL, 0), 0);
    assert_int_equal(tether_ws_send_fragment(c, TETHER_OP_TEXT, "cd", 2, 1), 0);
    pipe_to(c, s, 1, 1);
    expect(s, &ev, TETHER_EV_FRAGMENT);
    assert_int_equal(ev.opcode, TETHER_OP_TEXT);
    assert_int_equal(ev.fin, 0);
    assert_memory_equal(ev.data, "ab", 2);
    expect(s, &ev, TETHER_EV_PING);
    assert_int_equal(ev.len, 0);
    expect(s, &ev, TETHER_EV_FRAGMENT);
    assert_int_equal(ev.fin, 1);
    assert_memory_equal(ev.data, "cd", 2);
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_message_limit(void **state) {
    (void)state;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_max_message(o, 100), 0);
    tether_ws *c = tether_ws_new(TETHER_ROLE_CLIENT, NULL, 0);
    tether_ws *s = tether_ws_new(TETHER_ROLE_SERVER, o, 0);
    tether_opts_free(o);
    tether_ws_event ev;
    uint8_t big[101] = {0};
    assert_int_equal(tether_ws_send(c, TETHER_OP_BINARY, big, sizeof big), 0);
    pipe_to(c, s, 7, 1);
    expect(s, &ev, TETHER_EV_CLOSED);
    assert_int_equal(ev.code, TETHER_CLOSE_MESSAGE_TOO_BIG);
    tether_ws_free(c);
    tether_ws_free(s);
}

/* Negotiates permessage-deflate between two tether_pmd and hands them over. */
static void deflate_pair(tether_ws *c, tether_ws *s) {
    tether_pmd *cp = tether_pmd_new(TETHER_ROLE_CLIENT), *sp = tether_pmd_new(TETHER_ROLE_SERVER);
    char offer[256], answer[256];
    size_t n;
    assert_int_equal(tether_pmd_offer(cp, offer, sizeof offer, &n), 0);
    assert_int_equal(tether_pmd_negotiate(sp, offer, answer, sizeof answer, &n), 1);
    assert_int_equal(tether_pmd_accept(cp, answer), 0);
    assert_int_equal(tether_ws_set_deflate(c, sp), TETHER_E_INVAL); /* wrong role */
    assert_int_equal(tether_ws_set_deflate(c, cp), 0);
    assert_int_equal(tether_ws_set_deflate(s, sp), 0);
}

static void test_deflate(void **state) {
    (void)state;
    tether_ws *c, *s;
    tether_ws_event ev;
    pair(&c, &s, NULL);
    deflate_pair(c, s);
    char text[4000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 7);
    assert_int_equal(tether_ws_send(c, TETHER_OP_TEXT, text, sizeof text), 0);
    size_t wire;
    const uint8_t *out = tether_ws_output(c, &wire);
    assert_true(out[0] & 0x40); /* RSV1: compressed */
    assert_true(wire < sizeof text / 4);
    pipe_to(c, s, 13, 1);
    expect(s, &ev, TETHER_EV_MESSAGE);
    assert_int_equal(ev.len, sizeof text);
    assert_memory_equal(ev.data, text, sizeof text);
    tether_ws_free(c);
    tether_ws_free(s);
}

static void test_deflate_too_late(void **state) {
    (void)state;
    tether_ws *s = tether_ws_new(TETHER_ROLE_SERVER, NULL, 0);
    tether_pmd *sp = tether_pmd_new(TETHER_ROLE_SERVER);
    char answer[256];
    size_t n;
    assert_int_equal(tether_pmd_negotiate(sp, "permessage-deflate", answer, sizeof answer, &n), 1);
    assert_int_equal(tether_ws_send(s, TETHER_OP_TEXT, "x", 1), 0);
    assert_int_equal(tether_ws_set_deflate(s, sp), TETHER_E_STATE);
    tether_pmd_free(sp); /* still ours */
    tether_ws_free(s);
}

static void test_bad_arguments(void **state) {
    (void)state;
    tether_ws_event ev;
    size_t len = 99;
    assert_null(tether_ws_new((tether_role)7, NULL, 0));
    tether_ws_free(NULL);
    assert_int_equal(tether_ws_receive(NULL, "x", 1, 0), TETHER_E_INVAL);
    assert_int_equal(tether_ws_receive_eof(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_ws_next_event(NULL, &ev), TETHER_E_INVAL);
    assert_null(tether_ws_output(NULL, &len));
    assert_int_equal(len, 0);
    assert_int_equal(tether_ws_output_sent(NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tether_ws_buffered(NULL), 0);
    assert_int_equal(tether_ws_send(NULL, TETHER_OP_TEXT, "x", 1), TETHER_E_INVAL);
    assert_int_equal(tether_ws_send_fragment(NULL, TETHER_OP_TEXT, "x", 1, 1), TETHER_E_INVAL);
    assert_int_equal(tether_ws_ping(NULL, NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tether_ws_close(NULL, 1000, NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tether_ws_deadline(NULL), 0);
    assert_int_equal(tether_ws_on_time(NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tether_ws_state(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_ws_set_deflate(NULL, NULL), TETHER_E_INVAL);
    tether_ws *s = tether_ws_new(TETHER_ROLE_SERVER, NULL, 0);
    assert_int_equal(tether_ws_next_event(s, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_ws_receive(s, NULL, 1, 0), TETHER_E_INVAL);
    assert_int_equal(tether_ws_receive(s, NULL, 0, 0), 0);
    assert_int_equal(tether_ws_send(s, TETHER_OP_TEXT, "\xff", 1), TETHER_E_UTF8);
    assert_int_equal(tether_ws_send(s, (tether_opcode)3, "x", 1), TETHER_E_INVAL);
    assert_int_equal(tether_ws_ping(s, NULL, 126), TETHER_E_INVAL);
    assert_int_equal(tether_ws_close(s, 1005, NULL, 0), TETHER_E_CLOSE_CODE);
    assert_int_equal(tether_ws_set_deflate(s, NULL), TETHER_E_INVAL);
    assert_null(tether_ws_output(s, NULL));
    tether_ws_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_any_chunking),
        cmocka_unit_test(test_client_masks_server_does_not),
        cmocka_unit_test(test_ping_answered),
        cmocka_unit_test(test_closing_handshake),
        cmocka_unit_test(test_close_timeout),
        cmocka_unit_test(test_protocol_error_after_echo),
        cmocka_unit_test(test_eof_after_held_input),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_backpressure_and_drain),
        cmocka_unit_test(test_streaming_with_ping_between),
        cmocka_unit_test(test_message_limit),
        cmocka_unit_test(test_deflate),
        cmocka_unit_test(test_deflate_too_late),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
