/* The WebSocket engine (src/ws), how it ends, for both roles:
 * every protocol error fails the connection with its own error and close
 * code and a close frame that says why; the closing handshake from either
 * side; the close timeout; an aborted stream; keepalive pings, the dead
 * peer and idle timeouts, and the deadlines the caller's timer follows. */
#include "ws_harness.h"

/* ---- Protocol errors ------------------------------------------------------- */

typedef struct perr_case {
    const char *name;
    void (*build)(wire *w, tether_role conn);
    int error, code;
    uint64_t max_message, max_frame; /* 0: default */
    int streaming;
    int header_only; /* the bad frame is a bare header: fails before its payload */
} perr_case;

static void b_mask(wire *w, tether_role r) {
    w_raw(w, 0x81, r == TETHER_ROLE_CLIENT, "hi", 2); /* the wrong way for the role */
}
static void b_opcode3(wire *w, tether_role r) {
    w_rawp(w, r, 0x83, "x", 1);
}
static void b_opcodeB(wire *w, tether_role r) {
    w_rawp(w, r, 0x8B, NULL, 0);
}
static void b_rsv1(wire *w, tether_role r) {
    w_rawp(w, r, 0xC1, "x", 1);
}
static void b_rsv2(wire *w, tether_role r) {
    w_rawp(w, r, 0xA2, "x", 1);
}
static void b_rsv3(wire *w, tether_role r) {
    w_rawp(w, r, 0x91, "x", 1);
}
static void b_rsv_ping(wire *w, tether_role r) {
    w_rawp(w, r, 0xC9, NULL, 0);
}
static void b_rsv_cont(wire *w, tether_role r) {
    w_frame(w, r, TETHER_OP_TEXT, 0, "a", 1);
    w_rawp(w, r, 0xC0, "b", 1);
}
static void b_control_long(wire *w, tether_role r) {
    uint8_t p[126] = {0};
    w_rawp(w, r, 0x89, p, sizeof p);
}
static void b_control_fragmented(wire *w, tether_role r) {
    w_rawp(w, r, 0x09, "p", 1);
}
static void b_close_fragmented(wire *w, tether_role r) {
    w_rawp(w, r, 0x08, "\x03\xE8", 2);
}
static void b_continuation(wire *w, tether_role r) {
    w_frame(w, r, TETHER_OP_CONTINUATION, 1, "x", 1);
}
static void b_new_inside(wire *w, tether_role r) {
    w_frame(w, r, TETHER_OP_TEXT, 0, "a", 1);
    w_frame(w, r, TETHER_OP_PING, 1, "ok", 2);  /* fine in between... */
    w_frame(w, r, TETHER_OP_BINARY, 1, "b", 1); /* ...a new message is not */
}
static void b_close_1005(wire *w, tether_role r) {
    w_close(w, r, 1005, "");
}
static void b_close_999(wire *w, tether_role r) {
    w_close(w, r, 999, "x");
}
static void b_close_1016(wire *w, tether_role r) {
    w_close(w, r, 1016, "");
}
static void b_close_5000(wire *w, tether_role r) {
    w_close(w, r, 5000, "");
}
static void b_close_one_byte(wire *w, tether_role r) {
    w_rawp(w, r, 0x88, "\x03", 1);
}
static void b_close_bad_reason(wire *w, tether_role r) {
    w_rawp(w, r, 0x88, "\x03\xE8ok\xC0\xAF", 6);
}
static void b_text_utf8(wire *w, tether_role r) {
    w_frame(w, r, TETHER_OP_TEXT, 1, "ab\xFF", 3);
}
static void b_text_utf8_fragments(wire *w, tether_role r) {
    w_frame(w, r, TETHER_OP_TEXT, 0, "\xE2\x82", 2);
    w_frame(w, r, TETHER_OP_CONTINUATION, 1, "\x28", 1);
}
static void b_text_utf8_cut(wire *w, tether_role r) {
    w_frame(w, r, TETHER_OP_TEXT, 0, "ok \xE2", 4);
    w_frame(w, r, TETHER_OP_CONTINUATION, 1, "\x82", 1);
}
static void b_text_surrogate(wire *w, tether_role r) {
    w_frame(w, r, TETHER_OP_TEXT, 1, "\xED\xA0\x80", 3);
}
static void b_length_nonminimal(wire *w, tether_role r) {
    uint8_t h[2 + 2 + 4] = {0x82, 126, 0, 5, 0, 0, 0, 0};
    size_t n = 4;
    if (r == TETHER_ROLE_SERVER) {
        h[1] |= 0x80;
        n = 8;
    }
    w_bytes(w, h, n);
    w_bytes(w, "12345", 5);
}
/* max_message 100 (max_frame 1000): the header of 101 bytes is enough */
static void b_big_message(wire *w, tether_role r) {
    w_header(w, r, TETHER_OP_TEXT, 1, 101);
}
/* max_message 100, frames allowed to 100: the sum is too big */
static void b_big_fragments(wire *w, tether_role r) {
    uint8_t p[60];
    memset(p, 'm', sizeof p);
    w_frame(w, r, TETHER_OP_BINARY, 0, p, sizeof p);
    w_frame(w, r, TETHER_OP_PING, 1, NULL, 0);
    w_header(w, r, TETHER_OP_CONTINUATION, 1, 41);
}
/* max_frame 50 */
static void b_big_frame(wire *w, tether_role r) {
    w_header(w, r, TETHER_OP_BINARY, 1, 51);
}
/* a 64-bit length far over any limit */
static void b_huge_frame(wire *w, tether_role r) {
    w_header(w, r, TETHER_OP_BINARY, 1, (uint64_t)1 << 40);
}

static const perr_case perr_cases[] = {
    {"masking", b_mask, TETHER_E_MASK, 1002, 0, 0, 0, 0},
    {"opcode 3", b_opcode3, TETHER_E_OPCODE, 1002, 0, 0, 0, 0},
    {"opcode B", b_opcodeB, TETHER_E_OPCODE, 1002, 0, 0, 0, 0},
    {"rsv1", b_rsv1, TETHER_E_RSV, 1002, 0, 0, 0, 0},
    {"rsv2", b_rsv2, TETHER_E_RSV, 1002, 0, 0, 0, 0},
    {"rsv3", b_rsv3, TETHER_E_RSV, 1002, 0, 0, 0, 0},
    {"rsv on ping", b_rsv_ping, TETHER_E_RSV, 1002, 0, 0, 0, 0},
    {"rsv on continuation", b_rsv_cont, TETHER_E_RSV, 1002, 0, 0, 0, 0},
    {"control > 125", b_control_long, TETHER_E_CONTROL_LENGTH, 1002, 0, 0, 0, 0},
    {"fragmented ping", b_control_fragmented, TETHER_E_CONTROL_FRAGMENTED, 1002, 0, 0, 0, 0},
    {"fragmented close", b_close_fragmented, TETHER_E_CONTROL_FRAGMENTED, 1002, 0, 0, 0, 0},
    {"continuation", b_continuation, TETHER_E_CONTINUATION, 1002, 0, 0, 0, 0},
    {"new inside", b_new_inside, TETHER_E_FRAGMENT, 1002, 0, 0, 0, 0},
    {"close 1005", b_close_1005, TETHER_E_CLOSE_CODE, 1002, 0, 0, 0, 0},
    {"close 999", b_close_999, TETHER_E_CLOSE_CODE, 1002, 0, 0, 0, 0},
    {"close 1016", b_close_1016, TETHER_E_CLOSE_CODE, 1002, 0, 0, 0, 0},
    {"close 5000", b_close_5000, TETHER_E_CLOSE_CODE, 1002, 0, 0, 0, 0},
    {"close 1 byte", b_close_one_byte, TETHER_E_CLOSE_PAYLOAD, 1002, 0, 0, 0, 0},
    {"close reason", b_close_bad_reason, TETHER_E_UTF8, 1007, 0, 0, 0, 0},
    {"text utf8", b_text_utf8, TETHER_E_UTF8, 1007, 0, 0, 0, 0},
    {"text utf8 fragments", b_text_utf8_fragments, TETHER_E_UTF8, 1007, 0, 0, 0, 0},
    {"text utf8 cut", b_text_utf8_cut, TETHER_E_UTF8, 1007, 0, 0, 0, 0},
    {"text surrogate", b_text_surrogate, TETHER_E_UTF8, 1007, 0, 0, 0, 0},
    {"text utf8 streaming", b_text_utf8_fragments, TETHER_E_UTF8, 1007, 0, 0, 1, 0},
    {"length", b_length_nonminimal, TETHER_E_LENGTH, 1002, 0, 0, 0, 0},
    {"message", b_big_message, TETHER_E_MESSAGE_TOO_BIG, 1009, 100, 1000, 0, 1},
    {"fragments", b_big_fragments, TETHER_E_MESSAGE_TOO_BIG, 1009, 100, 0, 0, 1},
    {"frame", b_big_frame, TETHER_E_FRAME_TOO_BIG, 1009, 1000, 50, 0, 1},
    {"frame streaming", b_big_frame, TETHER_E_FRAME_TOO_BIG, 1009, 1000, 50, 1, 1},
    {"frame default", b_huge_frame, TETHER_E_FRAME_TOO_BIG, 1009, 0, 0, 0, 1},
    {"frame from message", b_big_frame, TETHER_E_FRAME_TOO_BIG, 1009, 50, 0, 0, 1},
};

/* Runs one case fed in pieces of `chunk` (0: whole; SIZE_MAX: split at k).
 * The input is: a good message, the case's bytes, then a good message that
 * must be ignored. */
static void run_perr(tether_role role, const perr_case *pc, size_t chunk, size_t k) {
    fx f;
    fx_setup(&f, role);
    if (pc->max_message) f.cfg.max_message = pc->max_message;
    if (pc->max_frame) f.cfg.max_frame = pc->max_frame;
    f.cfg.streaming = pc->streaming;
    fx_start(&f, 0, 0);
    wire w = {0};
    w_text(&w, role, "before");
    size_t bad_at = w.len;
    pc->build(&w, role);
    size_t bad_end = w.len;
    w_text(&w, role, "after");
    w_close(&w, role, 1000, "");

    if (chunk == SIZE_MAX)
        feed_split(&f.c, w.b, w.len, k, &f.log);
    else
        feed_chunks(&f.c, w.b, w.len, chunk, &f.log);

    /* the good message, whatever came between (pings, fragments), the end */
    assert_true(f.log.n >= 2);
    const ev_rec *first = &f.log.e[0];
    if (pc->streaming) {
        assert_int_equal(first->type, TT_WS_EV_FRAGMENT);
    } else {
        assert_int_equal(first->type, TT_WS_EV_MESSAGE);
        assert_ev_data(first, "before", 6);
    }
    const ev_rec *e = &f.log.e[f.log.n - 1];
    for (int i = 1; i < f.log.n - 1; i++)
        assert_int_not_equal(f.log.e[i].type, TT_WS_EV_CLOSE);
    if (e->error != pc->error) print_error("case %s: error %d\n", pc->name, e->error);
    assert_close_ev(e, pc->code, 0, pc->error);
    assert_true(e->reason_len > 0);
    assert_int_equal(tether_error_close_code(pc->error), pc->code);
    /* it failed within the bad bytes: a header that announces too much
     * fails before its payload, or the frames after it would be taken for
     * that payload and no CLOSE would come at all */
    assert_true(e->at >= bad_at && e->at <= bad_end);
    assert_int_equal(f.c.state, TT_WS_CLOSED);
    assert_int_equal(f.c.close_code, pc->code);

    /* our close frame: the code and why; it is the last frame we sent */
    peer_read(&f.pr, &f.c);
    assert_true(f.pr.n >= 1);
    const out_frame *cf = &f.pr.f[f.pr.n - 1];
    assert_int_equal(cf->op, TETHER_OP_CLOSE);
    assert_int_equal(cf->close_code, pc->code);
    assert_true(cf->reason_len > 0);
    assert_int_equal(cf->reason_len, e->reason_len);
    assert_memory_equal(cf->reason, e->reason, e->reason_len);
    for (int i = 0; i < f.pr.n - 1; i++)
        assert_int_equal(f.pr.f[i].op, TETHER_OP_PONG);

    /* a header that announces too much needs nothing after it to fail */
    if (pc->header_only && chunk == 0) {
        fx g;
        fx_setup(&g, role);
        g.cfg = f.cfg;
        fx_start(&g, 0, 0);
        feed_chunks(&g.c, w.b, bad_end, 0, &g.log);
        assert_true(g.log.n >= 2);
        assert_close_ev(&g.log.e[g.log.n - 1], pc->code, 0, pc->error);
        fx_free(&g);
    }

    /* after the end: input ignored, nothing sent, no timers, no abort */
    log_clear(&f.log);
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 0);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_close(&f.c, 1000, NULL, 0), TETHER_E_STATE);
    tt_ws_ev ev;
    assert_int_equal(tt_ws_deadline(&f.c), 0);
    assert_int_equal(tt_ws_on_timer(&f.c, 1000000, &ev), 0);
    assert_int_equal(tt_ws_abort(&f.c, TETHER_E_CLOSED, &ev), 0);
    w_free(&w);
    fx_free(&f);
}

static void test_protocol_errors(void **state) {
    for (size_t i = 0; i < sizeof perr_cases / sizeof perr_cases[0]; i++) {
        run_perr(ROLE(state), &perr_cases[i], 0, 0);
        run_perr(ROLE(state), &perr_cases[i], 1, 0);
        run_perr(ROLE(state), &perr_cases[i], 3, 0);
    }
}

static void test_protocol_errors_split_everywhere(void **state) {
    /* a few cases, at every split point of their input */
    static const int pick[] = {0, 12, 17, 20, 26};
    for (size_t i = 0; i < sizeof pick / sizeof pick[0]; i++) {
        const perr_case *pc = &perr_cases[pick[i]];
        wire w = {0};
        w_text(&w, ROLE(state), "before");
        pc->build(&w, ROLE(state));
        w_text(&w, ROLE(state), "after");
        w_close(&w, ROLE(state), 1000, "");
        for (size_t k = 0; k <= w.len; k++)
            run_perr(ROLE(state), pc, SIZE_MAX, k);
        w_free(&w);
    }
}

/* A protocol error while we wait for the peer's close: the connection
 * fails without a second close frame. */
static void test_protocol_error_while_closing(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    assert_int_equal(tt_ws_close(&f.c, 1000, "bye", 0), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    wire w = {0};
    w_text(&w, f.role, "late");
    b_text_utf8(&w, f.role);
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 2);
    assert_int_equal(f.log.e[0].type, TT_WS_EV_MESSAGE);
    assert_close_ev(&f.log.e[1], 1007, 0, TETHER_E_UTF8);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(f.c.state, TT_WS_CLOSED);
    w_free(&w);
    fx_free(&f);
}

/* ---- Closing handshake ------------------------------------------------------- */

static void test_peer_close(void **state) {
    static const struct {
        int code;
        const char *reason;
    } cases[] = {{1000, "bye"}, {1001, ""}, {4000, "custom"}, {3999, "\xC3\xA9t\xC3\xA9"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t chunk = 0; chunk <= 1; chunk++) {
            fx f;
            fx_setup(&f, ROLE(state));
            fx_start(&f, 0, 0);
            wire w = {0};
            w_text(&w, f.role, "last words");
            w_close(&w, f.role, cases[i].code, cases[i].reason);
            w_text(&w, f.role, "ignored");
            feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
            assert_int_equal(f.log.n, 2);
            assert_ev_data(&f.log.e[0], "last words", 10);
            const ev_rec *e = &f.log.e[1];
            assert_close_ev(e, cases[i].code, 1, 0);
            assert_int_equal(e->reason_len, strlen(cases[i].reason));
            assert_memory_equal(e->reason, cases[i].reason, e->reason_len);
            assert_int_equal(f.c.state, TT_WS_CLOSED);
            /* we echo the code */
            peer_read(&f.pr, &f.c);
            assert_int_equal(f.pr.n, 1);
            assert_int_equal(f.pr.f[0].op, TETHER_OP_CLOSE);
            assert_int_equal(f.pr.f[0].close_code, cases[i].code);
            assert_int_equal(f.pr.f[0].masked, f.role == TETHER_ROLE_CLIENT);
            assert_int_equal(tt_ws_deadline(&f.c), 0);
            w_free(&w);
            fx_free(&f);
        }
    }
}

static void test_peer_close_empty(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 1, 0);
    wire w = {0};
    w_close(&w, f.role, -1, NULL);
    for (size_t k = 0; k <= w.len; k++) {
        fx_restart(&f, 1, 0);
        feed_split(&f.c, w.b, w.len, k, &f.log);
        assert_int_equal(f.log.n, 1);
        assert_close_ev(&f.log.e[0], TETHER_CLOSE_NO_STATUS, 1, 0);
        assert_int_equal(f.log.e[0].reason_len, 0);
        /* an empty close gets an empty close */
        assert_int_equal(tt_outbuf_len(&f.c.out),
                         tether_frame_header_size(0, f.role == TETHER_ROLE_CLIENT));
        peer_read(&f.pr, &f.c);
        assert_int_equal(f.pr.n, 1);
        assert_out_frame(&f.pr.f[0], TETHER_OP_CLOSE, 1, NULL, 0);
        assert_int_equal(f.pr.f[0].close_code, TETHER_CLOSE_NO_STATUS);
    }
    w_free(&w);
    fx_free(&f);
}

/* A close frame in the middle of a fragmented message still ends it. */
static void test_peer_close_mid_message(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_TEXT, 0, "half", 4);
    w_close(&w, f.role, 1001, "going");
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 1);
    assert_close_ev(&f.log.e[0], 1001, 1, 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    assert_int_equal(f.pr.f[0].close_code, 1001);
    w_free(&w);
    fx_free(&f);
}

static void test_local_close(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.close_timeout = 3000;
    fx_start(&f, 0, 100);
    assert_int_equal(tt_ws_close(&f.c, 1000, "done", 500), 0);
    assert_int_equal(f.c.state, TT_WS_CLOSING);
    assert_int_equal(tt_ws_deadline(&f.c), 3500);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    assert_int_equal(f.pr.f[0].op, TETHER_OP_CLOSE);
    assert_int_equal(f.pr.f[0].close_code, 1000);
    assert_int_equal(f.pr.f[0].reason_len, 4);
    assert_memory_equal(f.pr.f[0].reason, "done", 4);
    assert_int_equal(f.pr.f[0].masked, f.role == TETHER_ROLE_CLIENT);

    /* data still arrives while closing; a ping is reported but not
     * answered after our close frame */
    wire w = {0};
    w_text(&w, f.role, "in flight");
    w_frame(&w, f.role, TETHER_OP_BINARY, 0, "fr", 2);
    w_frame(&w, f.role, TETHER_OP_PING, 1, "pp", 2);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, "ag", 2);
    feed_chunks(&f.c, w.b, w.len, 1, &f.log);
    assert_int_equal(f.log.n, 3);
    assert_ev_data(&f.log.e[0], "in flight", 9);
    assert_int_equal(f.log.e[1].type, TT_WS_EV_PING);
    assert_int_equal(f.log.e[2].type, TT_WS_EV_MESSAGE);
    assert_int_equal(f.log.e[2].opcode, TETHER_OP_BINARY);
    assert_ev_data(&f.log.e[2], "frag", 4);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(f.c.state, TT_WS_CLOSING);

    /* the peer's reply ends it cleanly; no second close frame */
    log_clear(&f.log);
    w_free(&w);
    w_close(&w, f.role, 1000, "ack");
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 1);
    assert_close_ev(&f.log.e[0], 1000, 1, 0);
    assert_int_equal(f.log.e[0].reason_len, 3);
    assert_memory_equal(f.log.e[0].reason, "ack", 3);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(f.c.state, TT_WS_CLOSED);
    assert_int_equal(tt_ws_deadline(&f.c), 0);
    tt_ws_ev ev;
    assert_int_equal(tt_ws_on_timer(&f.c, 10000, &ev), 0);
    w_free(&w);
    fx_free(&f);
}

static void test_local_close_arguments(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    char longr[TETHER_MAX_CLOSE_REASON + 2];
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = 0;
    assert_int_equal(tt_ws_close(NULL, 1000, NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tt_ws_close(&f.c, 1005, NULL, 0), TETHER_E_CLOSE_CODE);
    assert_int_equal(tt_ws_close(&f.c, 1006, NULL, 0), TETHER_E_CLOSE_CODE);
    assert_int_equal(tt_ws_close(&f.c, 999, NULL, 0), TETHER_E_CLOSE_CODE);
    assert_int_equal(tt_ws_close(&f.c, 1000, longr, 0), TETHER_E_CLOSE_PAYLOAD);
    assert_int_equal(tt_ws_close(&f.c, 0, "why", 0), TETHER_E_CLOSE_PAYLOAD);
    assert_int_equal(tt_ws_close(&f.c, 1000, "\xFF", 0), TETHER_E_UTF8);
    /* none of them changed anything */
    assert_int_equal(f.c.state, TT_WS_OPEN);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "still open", 10), 0);
    /* the longest reason fits; code 0 sends an empty close */
    longr[TETHER_MAX_CLOSE_REASON] = 0;
    assert_int_equal(tt_ws_close(&f.c, 4999, longr, 0), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 2);
    assert_int_equal(f.pr.f[1].close_code, 4999);
    assert_int_equal(f.pr.f[1].reason_len, TETHER_MAX_CLOSE_REASON);

    fx_restart(&f, 0, 0);
    assert_int_equal(tt_ws_close(&f.c, 0, NULL, 0), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    assert_out_frame(&f.pr.f[0], TETHER_OP_CLOSE, 1, NULL, 0);
    fx_free(&f);
}

static void test_close_timeout(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.close_timeout = 300;
    fx_start(&f, 0, 1000);
    tt_ws_ev ev;
    assert_int_equal(tt_ws_close(&f.c, 1001, NULL, 1000), 0);
    assert_int_equal(tt_ws_deadline(&f.c), 1300);
    assert_int_equal(tt_ws_on_timer(&f.c, 1299, &ev), 0);
    assert_int_equal(f.c.state, TT_WS_CLOSING);
    /* bytes from the peer do not extend it */
    f.c.last_rx = 1200;
    assert_int_equal(tt_ws_deadline(&f.c), 1300);
    assert_int_equal(tt_ws_on_timer(&f.c, 1300, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_CLOSE);
    assert_int_equal(ev.code, TETHER_CLOSE_ABNORMAL);
    assert_int_equal(ev.clean, 0);
    assert_int_equal(ev.error, TETHER_E_TIMEOUT);
    assert_true(ev.reason_len > 0);
    assert_int_equal(f.c.state, TT_WS_CLOSED);
    assert_int_equal(tt_ws_deadline(&f.c), 0);
    assert_int_equal(tt_ws_on_timer(&f.c, 5000, &ev), 0);
    assert_int_equal(tt_ws_abort(&f.c, TETHER_E_CLOSED, &ev), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1); /* only the close we started with */

    /* a late reply is ignored */
    wire w = {0};
    w_close(&w, f.role, 1001, "");
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 0);
    w_free(&w);
    fx_free(&f);
}

static void test_abort(void **state) {
    tt_ws_ev ev;
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    /* the peer vanished mid-message */
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_TEXT, 0, "part", 4);
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 0);
    assert_int_equal(tt_ws_abort(&f.c, TETHER_E_CLOSED, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_CLOSE);
    assert_int_equal(ev.code, TETHER_CLOSE_ABNORMAL);
    assert_int_equal(ev.clean, 0);
    assert_int_equal(ev.error, TETHER_E_CLOSED);
    assert_true(ev.reason_len > 0);
    assert_int_equal(f.c.state, TT_WS_CLOSED);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);             /* nobody to tell */
    assert_int_equal(tt_ws_abort(&f.c, TETHER_E_IO, &ev), 0); /* once */
    assert_int_equal(tt_ws_deadline(&f.c), 0);

    /* while closing, with an I/O error */
    fx_restart(&f, 0, 0);
    assert_int_equal(tt_ws_close(&f.c, 1000, NULL, 0), 0);
    assert_int_equal(tt_ws_abort(&f.c, TETHER_E_IO, &ev), 1);
    assert_int_equal(ev.code, TETHER_CLOSE_ABNORMAL);
    assert_int_equal(ev.error, TETHER_E_IO);
    assert_int_equal(ev.clean, 0);

    /* after a clean close: nothing */
    fx_restart(&f, 0, 0);
    w_free(&w);
    w_close(&w, f.role, 1000, "");
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(tt_ws_abort(&f.c, TETHER_E_CLOSED, &ev), 0);
    w_free(&w);
    fx_free(&f);
}

/* ---- Keepalive and timeouts ---------------------------------------------------- */

static void test_no_timers(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 1000);
    tt_ws_ev ev;
    assert_int_equal(tt_ws_deadline(&f.c), 0);
    assert_int_equal(tt_ws_on_timer(&f.c, 1000000000, &ev), 0);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(f.c.state, TT_WS_OPEN);
    fx_free(&f);
}

static void test_keepalive_dead_peer(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.ping_interval = 1000;
    f.cfg.ping_timeout = 500;
    fx_start(&f, 0, 10000);
    tt_ws_ev ev;
    assert_int_equal(tt_ws_deadline(&f.c), 11000);
    assert_int_equal(tt_ws_on_timer(&f.c, 10999, &ev), 0);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    /* silence: a ping */
    assert_int_equal(tt_ws_on_timer(&f.c, 11000, &ev), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    assert_int_equal(f.pr.f[0].op, TETHER_OP_PING);
    assert_int_equal(f.pr.f[0].masked, f.role == TETHER_ROLE_CLIENT);
    assert_int_equal(tt_ws_deadline(&f.c), 11500);
    /* not another before the answer is due */
    assert_int_equal(tt_ws_on_timer(&f.c, 11499, &ev), 0);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    /* no answer: dead */
    assert_int_equal(tt_ws_on_timer(&f.c, 11500, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_CLOSE);
    assert_int_equal(ev.code, TETHER_CLOSE_INTERNAL_ERROR);
    assert_int_equal(ev.clean, 0);
    assert_int_equal(ev.error, TETHER_E_TIMEOUT);
    assert_int_equal(ev.reason_len, strlen("keepalive timeout"));
    assert_memory_equal(ev.reason, "keepalive timeout", ev.reason_len);
    assert_int_equal(f.c.state, TT_WS_CLOSED);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 2);
    assert_int_equal(f.pr.f[1].op, TETHER_OP_CLOSE);
    assert_int_equal(f.pr.f[1].close_code, 1011);
    assert_int_equal(f.pr.f[1].reason_len, strlen("keepalive timeout"));
    assert_memory_equal(f.pr.f[1].reason, "keepalive timeout", f.pr.f[1].reason_len);
    assert_int_equal(tt_ws_deadline(&f.c), 0);
    fx_free(&f);
}

/* What the api layer does with received bytes: note the time, then feed. */
static void rx_at(fx *f, uint64_t now, const wire *w) {
    f->c.last_rx = now;
    feed_wire(&f->c, w, &f->log);
}

static void test_keepalive_alive_peer(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.ping_interval = 1000;
    f.cfg.ping_timeout = 500;
    fx_start(&f, 0, 0);
    tt_ws_ev ev;
    wire pong = {0}, half = {0}, data = {0};
    assert_int_equal(tt_ws_on_timer(&f.c, 1000, &ev), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    assert_int_equal(f.pr.f[0].op, TETHER_OP_PING);
    /* the pong answers it */
    w_frame(&pong, f.role, TETHER_OP_PONG, 1, f.pr.f[0].data, f.pr.f[0].len);
    rx_at(&f, 1200, &pong);
    assert_int_equal(f.log.n, 1);
    assert_int_equal(f.log.e[0].type, TT_WS_EV_PONG);
    assert_int_equal(tt_ws_on_timer(&f.c, 1500, &ev), 0);
    assert_int_equal(f.c.state, TT_WS_OPEN);
    assert_int_equal(tt_ws_deadline(&f.c), 2200); /* silence counts from the pong */
    assert_int_equal(tt_ws_on_timer(&f.c, 2199, &ev), 0);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(tt_ws_on_timer(&f.c, 2200, &ev), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 2);
    assert_int_equal(f.pr.f[1].op, TETHER_OP_PING);
    assert_int_equal(tt_ws_deadline(&f.c), 2700);

    /* any byte proves the peer alive: here the first byte of a frame */
    w_frame(&half, f.role, TETHER_OP_TEXT, 1, "hi", 2);
    size_t n = half.len;
    half.len = 1;
    rx_at(&f, 2600, &half);
    assert_int_equal(tt_ws_on_timer(&f.c, 2700, &ev), 0);
    assert_int_equal(f.c.state, TT_WS_OPEN);
    assert_int_equal(tt_ws_deadline(&f.c), 3600);
    /* ...and data keeps the pings away */
    memmove(half.b, half.b + 1, n - 1);
    half.len = n - 1;
    rx_at(&f, 3500, &half);
    assert_int_equal(f.log.n, 2);
    assert_ev_data(&f.log.e[1], "hi", 2);
    w_text(&data, f.role, "more");
    rx_at(&f, 4400, &data);
    assert_int_equal(tt_ws_on_timer(&f.c, 4500, &ev), 0);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(tt_ws_deadline(&f.c), 5400);
    assert_int_equal(tt_ws_on_timer(&f.c, 5400, &ev), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 3);
    assert_int_equal(f.pr.f[2].op, TETHER_OP_PING);
    w_free(&pong);
    w_free(&half);
    w_free(&data);
    fx_free(&f);
}

/* A message must arrive whole within message_timeout of its first byte,
 * however busy the peer keeps the connection meanwhile: else 1008. */
static void test_message_timeout(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.message_timeout = 4000;
    fx_start(&f, 0, 100);
    tt_ws_ev ev;
    assert_int_equal(tt_ws_deadline(&f.c), 0); /* no message under way */
    wire w = {0};
    w_text(&w, f.role, "whole");
    rx_at(&f, 500, &w);
    assert_int_equal(tt_ws_deadline(&f.c), 0);
    w_free(&w);
    /* a fragmented message: its time counts from the first fragment */
    w_frame(&w, f.role, TETHER_OP_TEXT, 0, "par", 3);
    rx_at(&f, 1000, &w);
    assert_int_equal(tt_ws_deadline(&f.c), 5000);
    w_free(&w);
    w_frame(&w, f.role, TETHER_OP_PING, 1, "p", 1);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 0, "ti", 2);
    rx_at(&f, 3000, &w);
    assert_int_equal(tt_ws_deadline(&f.c), 5000);
    assert_int_equal(tt_ws_on_timer(&f.c, 4999, &ev), 0);
    assert_int_equal(tt_ws_on_timer(&f.c, 5000, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_CLOSE);
    assert_int_equal(ev.code, TETHER_CLOSE_POLICY_VIOLATION);
    assert_int_equal(ev.error, TETHER_E_TIMEOUT);
    assert_int_equal(ev.reason_len, strlen("message timeout"));
    assert_memory_equal(ev.reason, "message timeout", ev.reason_len);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.f[f.pr.n - 1].op, TETHER_OP_CLOSE);
    assert_int_equal(f.pr.f[f.pr.n - 1].close_code, 1008);
    w_free(&w);
    fx_free(&f);

    /* one frame whose payload trickles in counts the same */
    fx_setup(&f, ROLE(state));
    f.cfg.message_timeout = 4000;
    fx_start(&f, 0, 100);
    w_frame(&w, f.role, TETHER_OP_BINARY, 1, "0123456789", 10);
    w.len -= 4;
    rx_at(&f, 200, &w);
    assert_int_equal(tt_ws_deadline(&f.c), 4200);
    assert_int_equal(tt_ws_on_timer(&f.c, 4200, &ev), 1);
    assert_int_equal(ev.code, TETHER_CLOSE_POLICY_VIOLATION);
    w_free(&w);
    fx_free(&f);
}

static void test_idle_timeout(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.idle_timeout = 3000;
    fx_start(&f, 0, 100);
    tt_ws_ev ev;
    wire w = {0};
    w_text(&w, f.role, "tick");
    assert_int_equal(tt_ws_deadline(&f.c), 3100);
    assert_int_equal(tt_ws_on_timer(&f.c, 3099, &ev), 0);
    rx_at(&f, 2000, &w);
    assert_int_equal(tt_ws_deadline(&f.c), 5000);
    assert_int_equal(tt_ws_on_timer(&f.c, 3100, &ev), 0);
    /* our own sends do not count */
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "out", 3), 0);
    assert_int_equal(tt_ws_deadline(&f.c), 5000);
    assert_int_equal(tt_ws_on_timer(&f.c, 5000, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_CLOSE);
    assert_int_equal(ev.code, TETHER_CLOSE_GOING_AWAY);
    assert_int_equal(ev.clean, 0);
    assert_int_equal(ev.error, TETHER_E_TIMEOUT);
    assert_int_equal(ev.reason_len, strlen("idle timeout"));
    assert_memory_equal(ev.reason, "idle timeout", ev.reason_len);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 2);
    assert_int_equal(f.pr.f[1].op, TETHER_OP_CLOSE);
    assert_int_equal(f.pr.f[1].close_code, 1001);
    assert_memory_equal(f.pr.f[1].reason, "idle timeout", f.pr.f[1].reason_len);
    assert_int_equal(tt_ws_deadline(&f.c), 0);
    w_free(&w);
    fx_free(&f);
}

/* The deadline is the earliest of what is armed, and never one that
 * tt_ws_on_timer() leaves in the past: a caller's timer re-armed to a
 * past deadline would fire again at once, forever. */
static void test_deadlines(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.idle_timeout = 5000;
    f.cfg.ping_interval = 2000;
    f.cfg.ping_timeout = 4000;
    f.cfg.close_timeout = 10000;
    fx_start(&f, 0, 0);
    tt_ws_ev ev;
    assert_int_equal(tt_ws_deadline(&f.c), 2000);
    assert_int_equal(tt_ws_on_timer(&f.c, 2000, &ev), 0); /* ping */
    assert_int_equal(tt_ws_deadline(&f.c), 5000);         /* idle before the pong is due */
    f.c.last_rx = 3000;
    assert_int_equal(tt_ws_deadline(&f.c), 6000);         /* pong due, then idle */
    assert_int_equal(tt_ws_on_timer(&f.c, 6000, &ev), 0); /* answered: no death */
    assert_int_equal(tt_ws_deadline(&f.c), 8000);         /* the idle timeout */
    assert_int_equal(tt_ws_on_timer(&f.c, 8000, &ev), 1);
    assert_int_equal(ev.code, TETHER_CLOSE_GOING_AWAY);

    /* closing with keepalive on: the ping interval passes during the
     * closing handshake; the connection sends no ping then, so the deadline
     * must move past it rather than stay where it was */
    fx_restart(&f, 0, 0);
    assert_int_equal(tt_ws_close(&f.c, 1000, NULL, 500), 0);
    assert_int_equal(tt_ws_deadline(&f.c) <= 10500, 1);
    for (uint64_t now = 500, rounds = 0; f.c.state != TT_WS_CLOSED; rounds++) {
        uint64_t d = tt_ws_deadline(&f.c);
        assert_true(d > 0);
        assert_true(d >= now);
        assert_true(rounds < 10); /* no timer that fires without progress */
        now = d;
        int r = tt_ws_on_timer(&f.c, now, &ev);
        if (r) {
            assert_int_equal(ev.code, TETHER_CLOSE_ABNORMAL);
            assert_int_equal(now, 10500);
        } else {
            assert_true(tt_ws_deadline(&f.c) > now);
        }
    }
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1); /* the close, no ping after it */

    /* a ping outstanding when we close: the dead-peer timeout still holds */
    fx_restart(&f, 0, 0);
    assert_int_equal(tt_ws_on_timer(&f.c, 2000, &ev), 0);
    assert_int_equal(tt_ws_close(&f.c, 1000, NULL, 2500), 0);
    assert_int_equal(tt_ws_deadline(&f.c), 6000);
    assert_int_equal(tt_ws_on_timer(&f.c, 6000, &ev), 1);
    assert_int_equal(ev.code, TETHER_CLOSE_INTERNAL_ERROR);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        ROLE_TEST(test_protocol_errors),
        ROLE_TEST(test_protocol_errors_split_everywhere),
        ROLE_TEST(test_protocol_error_while_closing),
        ROLE_TEST(test_peer_close),
        ROLE_TEST(test_peer_close_empty),
        ROLE_TEST(test_peer_close_mid_message),
        ROLE_TEST(test_local_close),
        ROLE_TEST(test_local_close_arguments),
        ROLE_TEST(test_close_timeout),
        ROLE_TEST(test_abort),
        ROLE_TEST(test_no_timers),
        ROLE_TEST(test_keepalive_dead_peer),
        ROLE_TEST(test_keepalive_alive_peer),
        ROLE_TEST(test_idle_timeout),
        ROLE_TEST(test_message_timeout),
        ROLE_TEST(test_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
