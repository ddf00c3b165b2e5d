/* The WebSocket engine (src/ws), receiving and sending, for both
 * roles: whole messages (text, binary, empty, fragmented with a ping in the
 * middle, many in one buffer), the same input split anywhere, zero copy vs
 * copies, streaming delivery, and sends: UTF-8, streamed sends, masking,
 * state errors, backpressure and the drain report. Closing, protocol errors
 * and timers are in test_ws_close.c. */
#include "ws_harness.h"

/* ---- Whole messages ---------------------------------------------------- */

static void test_text_and_binary(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    const size_t big = 70000; /* 64-bit length on the wire */
    uint8_t *bin = xmalloc(big);
    for (size_t i = 0; i < big; i++)
        bin[i] = (uint8_t)(i * 7 + 3);
    const char *utf = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"; /* é € U+1F600 */
    wire w = {0};
    w_text(&w, f.role, utf);
    w_frame(&w, f.role, TETHER_OP_BINARY, 1, bin, 200); /* 16-bit length */
    w_frame(&w, f.role, TETHER_OP_BINARY, 1, bin, big);

    for (size_t chunk = 0; chunk <= 3; chunk++) {
        fx_restart(&f, 0, 0);
        feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
        assert_int_equal(f.log.n, 3);
        assert_int_equal(f.log.e[0].type, TT_WS_EV_MESSAGE);
        assert_int_equal(f.log.e[0].opcode, TETHER_OP_TEXT);
        assert_int_equal(f.log.e[0].fin, 1);
        assert_ev_data(&f.log.e[0], utf, strlen(utf));
        assert_int_equal(f.log.e[1].type, TT_WS_EV_MESSAGE);
        assert_int_equal(f.log.e[1].opcode, TETHER_OP_BINARY);
        assert_ev_data(&f.log.e[1], bin, 200);
        assert_int_equal(f.log.e[2].opcode, TETHER_OP_BINARY);
        assert_ev_data(&f.log.e[2], bin, big);
        assert_int_equal(f.c.state, TT_WS_OPEN);
        assert_int_equal(tt_outbuf_len(&f.c.out), 0); /* nothing to answer */
        /* a delivered big message does not keep its buffer */
        assert_null(f.c.msg);
    }
    w_free(&w);
    free(bin);
    fx_free(&f);
}

static void test_empty_messages(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_TEXT, 1, NULL, 0);
    w_frame(&w, f.role, TETHER_OP_BINARY, 1, NULL, 0);
    /* empty fragments make an empty message too */
    w_frame(&w, f.role, TETHER_OP_TEXT, 0, NULL, 0);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 0, NULL, 0);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, NULL, 0);
    w_frame(&w, f.role, TETHER_OP_PING, 1, NULL, 0);
    for (int copy = 0; copy <= 1; copy++) {
        for (size_t chunk = 0; chunk <= 1; chunk++) {
            fx_restart(&f, copy, 0);
            feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
            assert_int_equal(f.log.n, 4);
            int ops[3] = {TETHER_OP_TEXT, TETHER_OP_BINARY, TETHER_OP_TEXT};
            for (int i = 0; i < 3; i++) {
                assert_int_equal(f.log.e[i].type, TT_WS_EV_MESSAGE);
                assert_int_equal(f.log.e[i].opcode, ops[i]);
                assert_int_equal(f.log.e[i].len, 0);
            }
            assert_int_equal(f.log.e[3].type, TT_WS_EV_PING);
            assert_int_equal(f.log.e[3].len, 0);
            peer_read(&f.pr, &f.c);
            assert_int_equal(f.pr.n, 1);
            assert_out_frame(&f.pr.f[0], TETHER_OP_PONG, 1, NULL, 0);
        }
    }
    w_free(&w);
    fx_free(&f);
}

/* "Hello, world" in three frames with a ping and a pong between them. */
static void build_fragmented(wire *w, tether_role role) {
    w_frame(w, role, TETHER_OP_TEXT, 0, "Hel", 3);
    w_frame(w, role, TETHER_OP_PING, 1, "p1", 2);
    w_frame(w, role, TETHER_OP_CONTINUATION, 0, "lo, ", 4);
    w_frame(w, role, TETHER_OP_PONG, 1, "unsolicited", 11);
    w_frame(w, role, TETHER_OP_CONTINUATION, 1, "world", 5);
    w_text(w, role, "next");
}

static void check_fragmented(fx *f) {
    assert_int_equal(f->log.n, 4);
    assert_int_equal(f->log.e[0].type, TT_WS_EV_PING);
    assert_ev_data(&f->log.e[0], "p1", 2);
    assert_int_equal(f->log.e[1].type, TT_WS_EV_PONG);
    assert_ev_data(&f->log.e[1], "unsolicited", 11);
    assert_int_equal(f->log.e[2].type, TT_WS_EV_MESSAGE);
    assert_int_equal(f->log.e[2].opcode, TETHER_OP_TEXT);
    assert_ev_data(&f->log.e[2], "Hello, world", 12);
    assert_int_equal(f->log.e[3].type, TT_WS_EV_MESSAGE);
    assert_ev_data(&f->log.e[3], "next", 4);
    /* the ping was answered with its payload, the pong not at all */
    peer_read(&f->pr, &f->c);
    assert_int_equal(f->pr.n, 1);
    assert_out_frame(&f->pr.f[0], TETHER_OP_PONG, 1, "p1", 2);
    assert_int_equal(f->pr.f[0].masked, f->role == TETHER_ROLE_CLIENT);
}

static void test_fragmented_with_ping(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    wire w = {0};
    build_fragmented(&w, f.role);
    for (int copy = 0; copy <= 1; copy++) {
        for (size_t chunk = 0; chunk <= 4; chunk++) {
            fx_restart(&f, copy, 0);
            feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
            check_fragmented(&f);
        }
    }
    w_free(&w);
    fx_free(&f);
}

static void test_fragmented_split_everywhere(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    wire w = {0};
    build_fragmented(&w, f.role);
    for (size_t k = 0; k <= w.len; k++) {
        fx_restart(&f, (int)(k & 1), 0);
        feed_split(&f.c, w.b, w.len, k, &f.log);
        check_fragmented(&f);
    }
    w_free(&w);
    fx_free(&f);
}

/* The whole-frame path (tt_parser_whole_frame) against the general one:
 * each wire below, fed whole (the path may take its frames) and one byte at
 * a time (it never can), gives the same events, failures included. The
 * cases sit on its edges: lengths 0/125/126/65535, a 16-bit length under
 * 126, RSV1, reserved and control opcodes, a missing or unexpected mask,
 * bad and cut UTF-8, the message limit exactly and one byte over, a frame
 * after a fragment, and a 64-bit length. */
static void whole_case(fx *f, int which, wire *w) {
    static uint8_t big[70001];
    memset(big, 'a', sizeof big);
    tether_role r = f->role;
    int server = r == TETHER_ROLE_SERVER;
    /* cases 0-4: plain frames of the path's edge lengths (4: 64-bit length) */
    static const struct {
        int op;
        size_t len;
    } plain[] = {{TETHER_OP_BINARY, 0},
                 {TETHER_OP_TEXT, 125},
                 {TETHER_OP_TEXT, 126},
                 {TETHER_OP_BINARY, 65535},
                 {TETHER_OP_BINARY, 65536}};
    if (which < 5) {
        w_frame(w, r, plain[which].op, 1, big, plain[which].len);
        return;
    }
    switch (which) {
    case 5:
        w_text(w, r, "hello");
        break;
    case 6: { /* 16-bit length under 126: refused */
        uint8_t d[8] = {0x82, (uint8_t)((server ? 0x80 : 0) | 126), 0, 5, 1, 2, 3, 4};
        w_bytes(w, d, server ? 8 : 4);
        w_bytes(w, "abcde", 5);
        break;
    }
    case 7:
        w_rawp(w, r, 0x80 | 0x40 | TETHER_OP_TEXT, "rsv1", 4);
        break;
    case 8:
        w_rawp(w, r, 0x80 | 0x3, "op3", 3);
        break;
    case 9:
        w_raw(w, 0x81, !server, "mask", 4);
        break; /* the wrong masking */
    case 10:
        w_rawp(w, r, 0x81, "bad \xC3\x28 utf8", strlen("bad \xC3\x28 utf8"));
        break;
    case 11:
        w_rawp(w, r, 0x81, "cut \xE2\x82", 6);
        break;
    case 12:
        w_frame(w, r, TETHER_OP_TEXT, 1, big, f->cfg.max_message);
        break;
    case 13:
        w_frame(w, r, TETHER_OP_TEXT, 1, big, f->cfg.max_message + 1);
        break;
    case 14: /* a data frame inside a fragmented message */
        w_frame(w, r, TETHER_OP_TEXT, 0, "frag", 4);
        w_text(w, r, "inside");
        break;
    default: /* several in a row, with a ping between */
        w_text(w, r, "one");
        w_frame(w, r, TETHER_OP_PING, 1, "p", 1);
        w_frame(w, r, TETHER_OP_BINARY, 1, big, 300);
        w_text(w, r, "\xC3\xA9t\xC3\xA9");
        break;
    }
}

static void test_whole_frame_path(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    for (int which = 0; which <= 15; which++)
        for (int copy = 0; copy <= 1; copy++) {
            /* the limit's edge in cases 12 and 13; room for 65,535 elsewhere */
            f.cfg.max_message = which == 12 || which == 13 ? 1000 : 70000;
            wire w = {0};
            whole_case(&f, which, &w);
            fx_restart(&f, copy, 0);
            feed_wire(&f.c, &w, &f.log);
            evlog whole = f.log;
            memset(&f.log, 0, sizeof f.log);
            fx_restart(&f, copy, 0);
            feed_chunks(&f.c, w.b, w.len, 1, &f.log);
            assert_logs_equal(&whole, &f.log);
            log_free(&whole);
            w_free(&w);
        }
    fx_free(&f);
}

/* Feeds src as a connection on plain TCP reads it: `chunk` bytes a read,
 * but while the engine offers room for the rest of a big frame
 * (tt_ws_rx_room), that read goes there, at most what the room takes.
 * Returns how many reads went into the room. */
static int feed_with_room(tt_ws *c, const uint8_t *src, size_t len, size_t chunk, evlog *l) {
    uint8_t *buf = xmalloc(chunk);
    size_t off = 0;
    int rooms = 0;
    while (off < len) {
        size_t max = 0;
        uint8_t *room = tt_ws_rx_room(c, &max);
        size_t n = len - off < chunk ? len - off : chunk;
        if (room) {
            assert_true(max >= TT_WS_ROOM_MIN);
            if (n > max) n = max;
            rooms++;
        }
        uint8_t *dst = room ? room : buf;
        memcpy(dst, src + off, n);
        feed_buf(c, dst, n, dst, n, 0, l);
        off += n;
    }
    free(buf);
    return rooms;
}

/* Big frames read straight into the message buffer give the same events
 * as the same bytes fed from a read buffer: text validated across reads
 * (a character split between them, a bad byte deep in a big frame), a
 * message in fragments, binary, with the loop's pool of big buffers and
 * without, copying or not; and no room is offered for a short rest or
 * when streaming. */
static void test_rx_room(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    const size_t big = 300000;
    uint8_t *text = xmalloc(big + 1), *bin = xmalloc(big);
    for (size_t i = 0; i < big; i += 3) { /* "é" and ASCII, so characters straddle reads */
        text[i] = 0xC3;
        text[i + 1] = 0xA9;
        text[i + 2] = (uint8_t)('a' + i % 26);
    }
    for (size_t i = 0; i < big; i++)
        bin[i] = (uint8_t)(i * 13 + 1);
    tt_bufpool pool = {0};
    for (int bad = 0; bad <= 1; bad++)
        for (int pooled = 0; pooled <= 1; pooled++)
            for (int copy = 0; copy <= 1; copy++) {
                wire w = {0};
                w_frame(&w, f.role, TETHER_OP_TEXT, 0, text, big / 2);
                w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, text + big / 2, big / 2);
                w_frame(&w, f.role, TETHER_OP_BINARY, 1, bin, big);
                if (bad) text[big - 2] = 0xFF; /* a bad byte near the end of the next */
                w_frame(&w, f.role, TETHER_OP_TEXT, 1, text, big);
                text[big - 2] = 0xA9;
                fx_restart(&f, copy, 0);
                feed_chunks(&f.c, w.b, w.len, 65536, &f.log);
                evlog plain = f.log;
                memset(&f.log, 0, sizeof f.log);
                fx_restart(&f, copy, 0);
                f.c.out.pool = pooled ? &pool : NULL;
                assert_true(feed_with_room(&f.c, w.b, w.len, 65536, &f.log) > 0);
                assert_logs_equal(&plain, &f.log);
                /* with the pool, no big buffer is kept between messages */
                if (pooled && !bad) assert_null(f.c.msg);
                assert_int_equal(f.log.n, 3);
                assert_int_equal(f.log.e[2].type, bad ? TT_WS_EV_CLOSE : TT_WS_EV_MESSAGE);
                if (bad) assert_int_equal(f.log.e[2].code, TETHER_CLOSE_INVALID_PAYLOAD);
                log_free(&plain);
                w_free(&w);
            }
    /* a 5,000-byte message in two frames, pooled: its buffer (64 KiB from
     * the pool) goes back once delivered, not kept by the connection */
    fx_restart(&f, 0, 0);
    f.c.out.pool = &pool;
    wire small = {0};
    w_frame(&small, f.role, TETHER_OP_BINARY, 0, bin, 2500);
    w_frame(&small, f.role, TETHER_OP_CONTINUATION, 1, bin + 2500, 2500);
    feed_wire(&f.c, &small, &f.log);
    assert_int_equal(f.log.e[f.log.n - 1].len, 5000);
    assert_null(f.c.msg);
    w_free(&small);
    /* no room: a short rest, streaming */
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_BINARY, 1, bin, TT_WS_ROOM_MIN + 100);
    fx_restart(&f, 0, 0);
    size_t max;
    uint8_t *cut = xmalloc(w.len);
    size_t head = w.len - TT_WS_ROOM_MIN - 100; /* the header alone */
    memcpy(cut, w.b, head + 200);
    feed_buf(&f.c, cut, head + 200, cut, head + 200, 0, &f.log);
    assert_null(tt_ws_rx_room(&f.c, &max)); /* TT_WS_ROOM_MIN - 100 left */
    f.cfg.streaming = 1;
    fx_restart(&f, 0, 0);
    memcpy(cut, w.b, head + 1);
    feed_buf(&f.c, cut, head + 1, cut, head + 1, 0, &f.log);
    assert_null(tt_ws_rx_room(&f.c, &max));
    f.cfg.streaming = 0;
    free(cut);
    w_free(&w);
    tt_bufpool_clear(&pool);
    free(text);
    free(bin);
    fx_free(&f);
}

static void test_many_messages_one_buffer(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    enum { N = 300 };
    wire w = {0};
    uint8_t payload[400];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i * 37) % sizeof payload;
        if (i % 7 == 3) {
            w_frame(&w, f.role, TETHER_OP_PING, 1, payload, n % 126);
        } else if (i % 5 == 1) { /* two fragments */
            w_frame(&w, f.role, TETHER_OP_BINARY, 0, payload, n / 2);
            w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, payload + n / 2, n - n / 2);
        } else {
            w_frame(&w, f.role, TETHER_OP_TEXT, 1, payload, n);
        }
    }
    for (size_t chunk = 0; chunk <= 1000; chunk += 333) {
        fx_restart(&f, 0, 0);
        feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
        assert_int_equal(f.log.n, N);
        int pings = 0;
        for (int i = 0; i < N; i++) {
            size_t n = (size_t)(i * 37) % sizeof payload;
            const ev_rec *e = &f.log.e[i];
            if (i % 7 == 3) {
                assert_int_equal(e->type, TT_WS_EV_PING);
                assert_ev_data(e, payload, n % 126);
                pings++;
            } else {
                assert_int_equal(e->type, TT_WS_EV_MESSAGE);
                assert_int_equal(e->opcode, i % 5 == 1 ? TETHER_OP_BINARY : TETHER_OP_TEXT);
                assert_ev_data(e, payload, n);
            }
        }
        peer_read(&f.pr, &f.c);
        assert_int_equal(f.pr.n, pings);
        for (int i = 0; i < f.pr.n; i++)
            assert_int_equal(f.pr.f[i].op, TETHER_OP_PONG);
    }
    w_free(&w);
    fx_free(&f);
}

/* ---- Zero copy ---------------------------------------------------------- */

static void test_zero_copy(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    wire w = {0};
    w_text(&w, f.role, "single frame");
    w_frame(&w, f.role, TETHER_OP_BINARY, 0, "two ", 4);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, "frames", 6);
    w_text(&w, f.role, "again");

    /* copy_data = 0: a whole single frame is a slice of the input;
     * a fragmented message is assembled elsewhere */
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 3);
    assert_ev_data(&f.log.e[0], "single frame", 12);
    assert_true(f.log.e[0].in_input);
    assert_ev_data(&f.log.e[1], "two frames", 10);
    assert_false(f.log.e[1].in_input);
    assert_ev_data(&f.log.e[2], "again", 5);
    assert_true(f.log.e[2].in_input);

    /* copy_data = 1: never a slice of the input */
    fx_restart(&f, 1, 0);
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 3);
    for (int i = 0; i < 3; i++)
        assert_false(f.log.e[i].in_input);
    assert_ev_data(&f.log.e[0], "single frame", 12);
    assert_ev_data(&f.log.e[1], "two frames", 10);
    assert_ev_data(&f.log.e[2], "again", 5);

    /* a frame whose payload is cut between two inputs is copied */
    fx_restart(&f, 0, 0);
    feed_split(&f.c, w.b, w.len, tether_frame_header_size(12, f.role == TETHER_ROLE_SERVER) + 3,
               &f.log);
    assert_int_equal(f.log.n, 3);
    assert_false(f.log.e[0].in_input);
    assert_ev_data(&f.log.e[0], "single frame", 12);
    assert_true(f.log.e[2].in_input);
    w_free(&w);
    fx_free(&f);
}

/* The reassembly buffer of a big message goes once it was delivered;
 * a small one stays for the next message. */
static void test_event_done_frees_big_buffers(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    size_t big = 100000;
    uint8_t *p = xmalloc(big);
    memset(p, 'x', big);
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_BINARY, 0, p, big / 2);
    w_frame(&w, f.role, TETHER_OP_PING, 1, "mid", 3);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, p + big / 2, big - big / 2);
    w_frame(&w, f.role, TETHER_OP_BINARY, 0, "a", 1);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, "b", 1);
    feed_wire(&f.c, &w, &f.log); /* feed_buf calls tt_ws_event_done after each */
    assert_int_equal(f.log.n, 3);
    assert_int_equal(f.log.e[0].type, TT_WS_EV_PING);
    assert_ev_data(&f.log.e[1], p, big);
    assert_ev_data(&f.log.e[2], "ab", 2);
    assert_non_null(f.c.msg);
    assert_true(f.c.msg_cap <= 64u * 1024u);
    free(p);
    w_free(&w);
    fx_free(&f);
}

/* ---- Streaming ----------------------------------------------------------- */

static void test_streaming(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.streaming = 1;
    f.cfg.max_message = 8; /* bounds frames only when streaming */
    f.cfg.max_frame = 64;
    fx_start(&f, 0, 0);
    uint8_t big[40];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_TEXT, 0, "ab", 2);
    w_frame(&w, f.role, TETHER_OP_PING, 1, "pp", 2);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 0, "cd", 2);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, NULL, 0); /* empty final frame */
    w_frame(&w, f.role, TETHER_OP_BINARY, 1, big, sizeof big);
    w_frame(&w, f.role, TETHER_OP_TEXT, 1, NULL, 0);

    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 6);
    assert_int_equal(f.log.e[0].type, TT_WS_EV_FRAGMENT);
    assert_int_equal(f.log.e[0].opcode, TETHER_OP_TEXT);
    assert_int_equal(f.log.e[0].fin, 0);
    assert_ev_data(&f.log.e[0], "ab", 2);
    assert_true(f.log.e[0].in_input);
    assert_int_equal(f.log.e[1].type, TT_WS_EV_PING);
    assert_int_equal(f.log.e[2].type, TT_WS_EV_FRAGMENT);
    assert_int_equal(f.log.e[2].opcode, TETHER_OP_TEXT); /* the message's, not 0 */
    assert_int_equal(f.log.e[2].fin, 0);
    assert_ev_data(&f.log.e[2], "cd", 2);
    assert_int_equal(f.log.e[3].type, TT_WS_EV_FRAGMENT);
    assert_int_equal(f.log.e[3].fin, 1);
    assert_int_equal(f.log.e[3].len, 0);
    assert_int_equal(f.log.e[4].opcode, TETHER_OP_BINARY);
    assert_int_equal(f.log.e[4].fin, 1);
    assert_ev_data(&f.log.e[4], big, sizeof big); /* over max_message: fine */
    assert_int_equal(f.log.e[5].type, TT_WS_EV_FRAGMENT);
    assert_int_equal(f.log.e[5].opcode, TETHER_OP_TEXT);
    assert_int_equal(f.log.e[5].fin, 1);
    assert_int_equal(f.log.e[5].len, 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    assert_out_frame(&f.pr.f[0], TETHER_OP_PONG, 1, "pp", 2);

    /* one byte at a time, copies: every payload byte is a fragment, fin only
     * on the last of each message */
    fx_restart(&f, 1, 0);
    feed_chunks(&f.c, w.b, w.len, 1, &f.log);
    uint8_t got[64];
    int i = 0;
    assert_int_equal(f.log.e[0].type, TT_WS_EV_FRAGMENT);
    assert_int_equal(f.log.e[0].fin, 0);
    assert_int_equal(f.log.e[1].fin, 0);
    assert_ev_data(&f.log.e[1], "b", 1);
    assert_int_equal(f.log.e[2].type, TT_WS_EV_PING);
    assert_int_equal(gather_fragments(&f.log, 3, 6, got, sizeof got), 2);
    assert_memory_equal(got, "cd", 2);
    i = 6;
    assert_int_equal(gather_fragments(&f.log, i, i + (int)sizeof big, got, sizeof got), sizeof big);
    assert_memory_equal(got, big, sizeof big);
    i += (int)sizeof big;
    assert_int_equal(f.log.n, i + 1);
    assert_int_equal(f.log.e[i].fin, 1);
    for (int k = 0; k < f.log.n; k++)
        assert_false(f.log.e[k].in_input);
    w_free(&w);
    fx_free(&f);
}

static void test_streaming_split_everywhere(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.streaming = 1;
    fx_start(&f, 0, 0);
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_BINARY, 0, "0123", 4);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, "4567", 4);
    w_text(&w, f.role, "xyz");
    for (size_t k = 0; k <= w.len; k++) {
        fx_restart(&f, 0, 0);
        feed_split(&f.c, w.b, w.len, k, &f.log);
        /* the message is whole again, fin on its last piece only */
        int last = 0;
        while (!f.log.e[last].fin)
            last++;
        uint8_t got[16];
        assert_int_equal(gather_fragments(&f.log, 0, last + 1, got, sizeof got), 8);
        assert_memory_equal(got, "01234567", 8);
        assert_int_equal(f.log.e[0].opcode, TETHER_OP_BINARY);
        assert_int_equal(gather_fragments(&f.log, last + 1, f.log.n, got, sizeof got), 3);
        assert_memory_equal(got, "xyz", 3);
        assert_int_equal(f.log.e[last + 1].opcode, TETHER_OP_TEXT);
    }
    w_free(&w);
    fx_free(&f);
}

/* Streaming: empty non-final frames deliver nothing; the message's opcode
 * and fin still come right. */
static void test_streaming_empty_pieces(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.streaming = 1;
    fx_start(&f, 0, 0);
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_BINARY, 0, NULL, 0);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 0, NULL, 0);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, "x", 1);
    w_frame(&w, f.role, TETHER_OP_TEXT, 0, NULL, 0);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, NULL, 0);
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        fx_restart(&f, (int)chunk, 0);
        feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
        assert_int_equal(f.log.n, 2);
        assert_int_equal(f.log.e[0].type, TT_WS_EV_FRAGMENT);
        assert_int_equal(f.log.e[0].opcode, TETHER_OP_BINARY);
        assert_int_equal(f.log.e[0].fin, 1);
        assert_ev_data(&f.log.e[0], "x", 1);
        assert_int_equal(f.log.e[1].opcode, TETHER_OP_TEXT);
        assert_int_equal(f.log.e[1].fin, 1);
        assert_int_equal(f.log.e[1].len, 0);
    }
    w_free(&w);
    fx_free(&f);
}

/* utf8_check = 0: text is not validated (a close reason still is). */
static void test_utf8_check_off(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.utf8_check = 0;
    fx_start(&f, 0, 0);
    wire w = {0};
    w_frame(&w, f.role, TETHER_OP_TEXT, 1, "a\xFF", 2);
    w_frame(&w, f.role, TETHER_OP_TEXT, 0, "\xE2", 1);
    w_frame(&w, f.role, TETHER_OP_CONTINUATION, 1, NULL, 0);
    w_rawp(&w, f.role, 0x88, "\x03\xE8\xFF", 3);
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 3);
    assert_ev_data(&f.log.e[0], "a\xFF", 2);
    assert_ev_data(&f.log.e[1], "\xE2", 1);
    assert_close_ev(&f.log.e[2], 1007, 0, TETHER_E_UTF8);
    w_free(&w);
    fx_free(&f);
}

/* ---- Sending -------------------------------------------------------------- */

static void test_send_whole(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    int client = f.role == TETHER_ROLE_CLIENT;
    uint8_t big[300];
    memset(big, 0, sizeof big); /* zeros show the mask on the wire */
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "h\xC3\xA9", 3), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, big, sizeof big), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, NULL, 0), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, "\xFF", 1), 0);
    assert_int_equal(tt_ws_ping(&f.c, "pi", 2), 0);
    /* on the wire, a client's payload is masked */
    size_t hlen = tether_frame_header_size(3, client);
    int differs = memcmp(f.c.out.buf + f.c.out.head + hlen, "h\xC3\xA9", 3) != 0;
    assert_int_equal(differs, client); /* a zero key prefix is ~2^-24 */
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 5);
    assert_out_frame(&f.pr.f[0], TETHER_OP_TEXT, 1, "h\xC3\xA9", 3);
    assert_out_frame(&f.pr.f[1], TETHER_OP_BINARY, 1, big, sizeof big);
    assert_out_frame(&f.pr.f[2], TETHER_OP_TEXT, 1, NULL, 0);
    assert_out_frame(&f.pr.f[3], TETHER_OP_BINARY, 1, "\xFF", 1);
    assert_out_frame(&f.pr.f[4], TETHER_OP_PING, 1, "pi", 2);
    for (int i = 0; i < f.pr.n; i++)
        assert_int_equal(f.pr.f[i].masked, client);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    fx_free(&f);
}

static void test_client_keys_differ(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    enum { N = 16 };
    for (int i = 0; i < N; i++)
        assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, "same", 4), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, N);
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        assert_out_frame(&f.pr.f[i], TETHER_OP_BINARY, 1, "same", 4);
        assert_int_equal(f.pr.f[i].masked, f.role == TETHER_ROLE_CLIENT);
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= memcmp(f.pr.f[i].key, f.pr.f[j].key, 4) == 0;
        distinct += !seen;
    }
    if (f.role == TETHER_ROLE_CLIENT)
        assert_true(distinct >= N - 1); /* a fresh key per frame (a repeat is ~2^-27) */
    fx_free(&f);
}

static void test_send_invalid(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    uint8_t ctl[TETHER_MAX_CONTROL_PAYLOAD + 1] = {0};
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "a\xFF", 2), TETHER_E_UTF8);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "\xE2\x82", 2), TETHER_E_UTF8);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "\xED\xA0\x80", 3), TETHER_E_UTF8);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_PING, "x", 1), TETHER_E_INVAL);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_CONTINUATION, "x", 1), TETHER_E_INVAL);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tt_ws_send(NULL, TETHER_OP_BINARY, "x", 1), TETHER_E_INVAL);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_CLOSE, "x", 1, 1), TETHER_E_INVAL);
    assert_int_equal(tt_ws_ping(&f.c, ctl, sizeof ctl), TETHER_E_INVAL);
    assert_int_equal(tt_ws_ping(&f.c, NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0); /* nothing queued by any */
    assert_int_equal(tt_ws_ping(&f.c, ctl, sizeof ctl - 1), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, "a\xFF", 2), 0); /* binary: any bytes */
    assert_int_equal(f.c.state, TT_WS_OPEN);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 2);
    fx_free(&f);
}

static void test_send_fragments(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    /* "hé€" with é and € split across pieces */
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "h\xC3", 2, 0), 0);
    /* while the message is open: no whole send, no other opcode... */
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, "x", 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, "x", 1, 1), TETHER_E_STATE);
    /* ...but control frames may go between the pieces */
    assert_int_equal(tt_ws_ping(&f.c, "c", 1), 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "\xA9\xE2", 2, 0), 0);
    /* a bad piece is refused and changes nothing */
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "\x41", 1, 0), TETHER_E_UTF8);
    /* a last piece that leaves a character cut is refused */
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "\x82", 1, 1), TETHER_E_UTF8);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "\x82", 1, 0), 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "\xAC", 1, 1), 0);
    /* the message is over: whole sends work again */
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "ok", 2), 0);
    /* a streamed binary message, empty final piece; a new stream's UTF-8
     * state starts afresh */
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, "\xFF\xFE", 2, 0), 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "a", 1, 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, NULL, 0, 1), 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "\xC3", 1, 0), 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "\xA9", 1, 1), 0);
    /* a one-piece stream is a plain frame */
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "z", 1, 1), 0);

    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 11);
    assert_out_frame(&f.pr.f[0], TETHER_OP_TEXT, 0, "h\xC3", 2);
    assert_out_frame(&f.pr.f[1], TETHER_OP_PING, 1, "c", 1);
    assert_out_frame(&f.pr.f[2], TETHER_OP_CONTINUATION, 0, "\xA9\xE2", 2);
    assert_out_frame(&f.pr.f[3], TETHER_OP_CONTINUATION, 0, "\x82", 1);
    assert_out_frame(&f.pr.f[4], TETHER_OP_CONTINUATION, 1, "\xAC", 1);
    assert_out_frame(&f.pr.f[5], TETHER_OP_TEXT, 1, "ok", 2);
    assert_out_frame(&f.pr.f[6], TETHER_OP_BINARY, 0, "\xFF\xFE", 2);
    assert_out_frame(&f.pr.f[7], TETHER_OP_CONTINUATION, 1, NULL, 0);
    assert_out_frame(&f.pr.f[8], TETHER_OP_TEXT, 0, "\xC3", 1);
    assert_out_frame(&f.pr.f[9], TETHER_OP_CONTINUATION, 1, "\xA9", 1);
    assert_out_frame(&f.pr.f[10], TETHER_OP_TEXT, 1, "z", 1);
    for (int i = 0; i < f.pr.n; i++)
        assert_int_equal(f.pr.f[i].masked, f.role == TETHER_ROLE_CLIENT);
    fx_free(&f);
}

static void test_sends_after_close(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, "a", 1, 0), 0);
    assert_int_equal(tt_ws_close(&f.c, 1000, "bye", 10), 0);
    assert_int_equal(f.c.state, TT_WS_CLOSING);
    size_t queued = tt_outbuf_len(&f.c.out);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, "b", 1, 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_ping(&f.c, "p", 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_close(&f.c, 1000, NULL, 10), TETHER_E_STATE);
    assert_int_equal(tt_outbuf_len(&f.c.out), queued);

    /* and once it is over */
    wire w = {0};
    w_close(&w, f.role, 1000, "");
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.c.state, TT_WS_CLOSED);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_TEXT, "x", 1, 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_ping(&f.c, "p", 1), TETHER_E_STATE);
    assert_int_equal(tt_ws_close(&f.c, 1000, NULL, 10), TETHER_E_STATE);
    assert_int_equal(tt_outbuf_len(&f.c.out), queued);
    w_free(&w);
    fx_free(&f);
}

/* ---- Backpressure and drain ------------------------------------------------ */

static void test_backpressure(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.send_limit = 100;
    fx_start(&f, 0, 0);
    uint8_t buf[200];
    memset(buf, 'b', sizeof buf);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 101), TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, buf, 101, 1),
                     TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_outbuf_len(&f.c.out), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 60), 0);
    size_t queued = tt_outbuf_len(&f.c.out);
    assert_true(queued >= 60);
    /* past the limit: refused, nothing queued, nothing changed */
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 50), TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, buf, 50), TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, buf, 50, 0),
                     TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_outbuf_len(&f.c.out), queued);
    assert_int_equal(f.c.tx_frag_opcode, 0);
    /* written out: room again */
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 1);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 50), 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, buf, 10, 0), 0);
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, buf, 60, 1),
                     TETHER_E_BACKPRESSURE);
    assert_int_equal(f.c.tx_frag_opcode, TETHER_OP_BINARY); /* the stream is still open */
    assert_int_equal(tt_ws_send_fragment(&f.c, TETHER_OP_BINARY, buf, 10, 1), 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 4);
    assert_out_frame(&f.pr.f[1], TETHER_OP_BINARY, 1, buf, 50);
    assert_out_frame(&f.pr.f[2], TETHER_OP_BINARY, 0, buf, 10);
    assert_out_frame(&f.pr.f[3], TETHER_OP_CONTINUATION, 1, buf, 10);
    fx_free(&f);
}

/* The direct writer (a plain socket in a connection): a big frame goes to
 * it when nothing is queued, and only what it did not take is queued, in
 * order; small frames, and big ones behind queued bytes, are queued. */
static uint8_t direct_got[64 * 1024];
static size_t direct_len, direct_take, direct_calls;

static size_t direct_writer(tt_ws *c, const struct iovec *iov, int n) {
    (void)c;
    direct_calls++;
    size_t took = 0;
    for (int i = 0; i < n && took < direct_take; i++) {
        size_t k = iov[i].iov_len < direct_take - took ? iov[i].iov_len : direct_take - took;
        memcpy(direct_got + direct_len, iov[i].iov_base, k);
        direct_len += k;
        took += k;
    }
    return took;
}

/* The bytes the writer took followed by the queue parse as exactly one
 * binary frame of `msg`. */
static void assert_direct_frame(tt_ws *c, const uint8_t *msg, size_t len) {
    size_t q = tt_outbuf_len(&c->out);
    assert_true(direct_len + q <= sizeof direct_got);
    if (q) {
        memcpy(direct_got + direct_len, c->out.buf + c->out.head, q);
        tt_outbuf_consume(&c->out, q);
    }
    tt_outbuf_append(&c->out, direct_got, direct_len + q);
    peer pr;
    peer_init(&pr, TETHER_ROLE_SERVER);
    peer_read(&pr, c);
    assert_int_equal(pr.n, 1);
    assert_out_frame(&pr.f[0], TETHER_OP_BINARY, 1, msg, len);
    peer_free(&pr);
    direct_len = 0;
}

static void test_direct_writer(void **state) {
    (void)state;
    fx f;
    fx_setup(&f, TETHER_ROLE_SERVER);
    fx_start(&f, 0, 0);
    f.c.direct = direct_writer;
    size_t len = TT_WS_DIRECT_MIN + 1000;
    uint8_t *msg = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 7);
    /* all of it, part of the header, the header and part of the payload,
     * nothing at all */
    static const size_t takes[] = {SIZE_MAX, 1, 4, 4 + 100, 0};
    for (size_t t = 0; t < sizeof takes / sizeof takes[0]; t++) {
        direct_take = takes[t];
        direct_calls = 0;
        assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, msg, len), 0);
        assert_int_equal(direct_calls, 1);
        assert_int_equal(tt_outbuf_len(&f.c.out), takes[t] == SIZE_MAX ? 0 : len + 4 - takes[t]);
        assert_direct_frame(&f.c, msg, len);
    }
    /* below the size, or behind queued bytes: queued, the writer not called */
    direct_take = SIZE_MAX;
    direct_calls = 0;
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, msg, TT_WS_DIRECT_MIN - 1), 0);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, msg, len), 0);
    assert_int_equal(direct_calls, 0);
    peer_read(&f.pr, &f.c);
    assert_int_equal(f.pr.n, 2);
    assert_out_frame(&f.pr.f[1], TETHER_OP_BINARY, 1, msg, len);
    fx_free(&f);
    /* a client masks every payload into the queue: never direct */
    fx_setup(&f, TETHER_ROLE_CLIENT);
    fx_start(&f, 0, 0);
    f.c.direct = direct_writer;
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, msg, len), 0);
    assert_int_equal(direct_calls, 0);
    peer_read(&f.pr, &f.c);
    assert_out_frame(&f.pr.f[0], TETHER_OP_BINARY, 1, msg, len);
    free(msg);
    fx_free(&f);
}

static void test_drain(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.drain_mark = 100;
    fx_start(&f, 0, 0);
    uint8_t buf[150];
    memset(buf, 'd', sizeof buf);
    /* never above the mark: no drain */
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 50), 0);
    assert_int_equal(tt_ws_take_drain(&f.c), 0);
    tt_outbuf_consume(&f.c.out, tt_outbuf_len(&f.c.out));
    assert_int_equal(tt_ws_take_drain(&f.c), 0);

    /* above it, then written down to it */
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 150), 0);
    size_t n = tt_outbuf_len(&f.c.out);
    assert_true(n > 100);
    assert_int_equal(tt_ws_take_drain(&f.c), 0);
    tt_outbuf_consume(&f.c.out, n - 101); /* 101 left: still above */
    assert_int_equal(tt_ws_take_drain(&f.c), 0);
    tt_outbuf_consume(&f.c.out, 1); /* exactly the mark */
    assert_int_equal(tt_ws_take_drain(&f.c), 1);
    assert_int_equal(tt_ws_take_drain(&f.c), 0); /* once */
    tt_outbuf_consume(&f.c.out, tt_outbuf_len(&f.c.out));
    assert_int_equal(tt_ws_take_drain(&f.c), 0);

    /* pongs count too */
    wire w = {0};
    for (int i = 0; i < 4; i++)
        w_frame(&w, f.role, TETHER_OP_PING, 1, buf, 40);
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 4);
    assert_true(tt_outbuf_len(&f.c.out) > 100);
    tt_outbuf_consume(&f.c.out, tt_outbuf_len(&f.c.out));
    assert_int_equal(tt_ws_take_drain(&f.c), 1);
    assert_int_equal(tt_ws_take_drain(&f.c), 0);
    w_free(&w);
    fx_free(&f);
}

/* Bytes a lower layer (TLS) still owes the peer count against the send
 * limit and hold back DRAIN, as queued frames do. */
static void test_owed_below(void **state) {
    fx f;
    fx_setup(&f, ROLE(state));
    f.cfg.send_limit = 200;
    f.cfg.drain_mark = 100;
    fx_start(&f, 0, 0);
    uint8_t buf[150];
    memset(buf, 'o', sizeof buf);
    tt_ws_set_owed_below(&f.c, 120);
    assert_int_equal(tt_ws_buffered(&f.c), 120);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 90), TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_ws_send(&f.c, TETHER_OP_BINARY, buf, 20), 0);
    assert_true(tt_ws_buffered(&f.c) > 140);
    /* the frames went down to the lower layer, which still holds them */
    tt_ws_set_owed_below(&f.c, tt_ws_buffered(&f.c));
    tt_outbuf_consume(&f.c.out, tt_outbuf_len(&f.c.out));
    assert_int_equal(tt_ws_take_drain(&f.c), 0);
    tt_ws_set_owed_below(&f.c, 101);
    assert_int_equal(tt_ws_take_drain(&f.c), 0);
    tt_ws_set_owed_below(&f.c, 100);
    assert_int_equal(tt_ws_take_drain(&f.c), 1);
    assert_int_equal(tt_ws_take_drain(&f.c), 0);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        ROLE_TEST(test_text_and_binary),
        ROLE_TEST(test_empty_messages),
        ROLE_TEST(test_fragmented_with_ping),
        ROLE_TEST(test_fragmented_split_everywhere),
        ROLE_TEST(test_whole_frame_path),
        ROLE_TEST(test_many_messages_one_buffer),
        ROLE_TEST(test_zero_copy),
        ROLE_TEST(test_event_done_frees_big_buffers),
        ROLE_TEST(test_streaming),
        ROLE_TEST(test_streaming_split_everywhere),
        ROLE_TEST(test_streaming_empty_pieces),
        ROLE_TEST(test_utf8_check_off),
        ROLE_TEST(test_send_whole),
        ROLE_TEST(test_client_keys_differ),
        ROLE_TEST(test_send_invalid),
        ROLE_TEST(test_send_fragments),
        ROLE_TEST(test_sends_after_close),
        ROLE_TEST(test_backpressure),
        ROLE_TEST(test_drain),
        cmocka_unit_test(test_direct_writer),
        ROLE_TEST(test_owed_below),
        ROLE_TEST(test_rx_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
