/* libFuzzer target for the public engine, tether_ws: the input is a program
 * of calls an application and a peer could make in any order.
 *
 * Byte 0: role, streaming, deflate, tight limits. Then each step is one
 * opcode byte and its operands: raw received bytes, a frame the peer
 * writes (well formed, so the fuzzer reaches deep states), sends of every
 * kind, a close, time passing, output taken in pieces, the stream's end.
 * After every step the events are drained and checked: types in range,
 * data where there is length, messages within the limit and valid UTF-8
 * when text, nothing after CLOSED, output never over what was reported. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tether.h"
#include "fuzz_check.h"

typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static unsigned take(cursor *c) {
    if (!c->n) return 0;
    c->n--;
    return *c->p++;
}

/* Up to max bytes of the input as a slice. */
static const uint8_t *take_bytes(cursor *c, size_t max, size_t *len) {
    size_t n = max < c->n ? max : c->n;
    const uint8_t *p = c->p;
    c->p += n;
    c->n -= n;
    *len = n;
    return p;
}

static tether_pmd *negotiated(tether_role role) {
    tether_pmd *p = tether_pmd_new(role);
    char ext[160];
    size_t len;
    CHECK(p != NULL);
    if (role == TETHER_ROLE_SERVER)
        CHECK(tether_pmd_negotiate(p, "permessage-deflate; client_max_window_bits", ext, sizeof ext,
                                   &len) == 1);
    else
        CHECK(tether_pmd_accept(p, "permessage-deflate") == 0);
    return p;
}

typedef struct run {
    tether_ws *ws;
    uint64_t max_message;
    int ended;
} run;

static void drain_events(run *r) {
    tether_ws_event ev;
    for (int i = 0; i < 256; i++) {
        int got = tether_ws_next_event(r->ws, &ev);
        CHECK(got == 0 || got == 1);
        if (!got) return;
        CHECK(!r->ended);
        CHECK(ev.len == 0 || ev.data != NULL);
        switch (ev.type) {
        case TETHER_EV_MESSAGE:
            CHECK(ev.len <= r->max_message);
            if (ev.opcode == TETHER_OP_TEXT) CHECK(tether_utf8_validate(ev.data, ev.len) == 0);
            CHECK(ev.opcode == TETHER_OP_TEXT || ev.opcode == TETHER_OP_BINARY);
            break;
        case TETHER_EV_FRAGMENT:
            CHECK(ev.opcode == TETHER_OP_TEXT || ev.opcode == TETHER_OP_BINARY);
            break;
        case TETHER_EV_PING:
        case TETHER_EV_PONG:
            CHECK(ev.len <= TETHER_MAX_CONTROL_PAYLOAD);
            break;
        case TETHER_EV_DRAIN:
            break;
        case TETHER_EV_CLOSED:
            CHECK(ev.len <= TETHER_MAX_CLOSE_REASON);
            CHECK(tether_ws_state(r->ws) == TETHER_WS_CLOSED);
            r->ended = 1;
            break;
        default:
            CHECK(!"unknown event type");
        }
    }
}

/* The peer's frame: opcode, fin, rsv and payload from the input. */
static void peer_frame(run *r, tether_role peer, cursor *c, uint64_t now) {
    unsigned b = take(c);
    size_t len;
    const uint8_t *payload = take_bytes(c, take(c) * 4u, &len);
    static uint8_t frame[TETHER_MAX_FRAME_HEADER + 1024];
    size_t n;
    int op = (int)(b & 0x0F), fin = (b >> 4) & 1;
    unsigned rsv = (b >> 5) & 1 ? TETHER_RSV1 : 0;
    if (tether_frame_write(peer, (tether_opcode)op, fin, rsv, payload, len, frame, sizeof frame,
                           &n) == 0)
        CHECK(tether_ws_receive(r->ws, frame, n, now) == 0);
}

static void step(run *r, tether_role peer, cursor *c, uint64_t *now) {
    size_t len, out_len;
    const uint8_t *bytes;
    unsigned op = take(c);
    switch (op % 11) {
    case 0: /* raw bytes from the peer */
        bytes = take_bytes(c, take(c), &len);
        CHECK(tether_ws_receive(r->ws, bytes, len, *now) == 0);
        break;
    case 1:
        peer_frame(r, peer, c, *now);
        break;
    case 2:
    case 3:
        bytes = take_bytes(c, take(c), &len);
        tether_ws_send(r->ws, op & 16 ? TETHER_OP_BINARY : TETHER_OP_TEXT, bytes, len);
        break;
    case 4:
        bytes = take_bytes(c, take(c), &len);
        tether_ws_send_fragment(r->ws, op & 16 ? TETHER_OP_BINARY : TETHER_OP_TEXT, bytes, len,
                                (op >> 5) & 1);
        break;
    case 5:
        bytes = take_bytes(c, take(c) & 0x7F, &len);
        tether_ws_ping(r->ws, bytes, len);
        break;
    case 6: {
        int code = (int)(take(c) << 8 | take(c));
        tether_ws_close(r->ws, code, op & 16 ? "bye" : NULL, *now);
        break;
    }
    case 7:
        *now += take(c) * 50u;
        CHECK(tether_ws_on_time(r->ws, *now) == 0);
        break;
    case 8: { /* the socket takes a part of the output */
        tether_ws_output(r->ws, &out_len);
        CHECK(out_len == tether_ws_buffered(r->ws));
        size_t part = out_len * take(c) / 255;
        CHECK(tether_ws_output_sent(r->ws, part) == 0);
        CHECK(tether_ws_output_sent(r->ws, out_len - part + 1) == TETHER_E_INVAL);
        break;
    }
    case 9: {
        uint64_t d = tether_ws_deadline(r->ws);
        if (d) *now = d > *now ? d : *now;
        CHECK(tether_ws_on_time(r->ws, *now) == 0);
        break;
    }
    default:
        if (op & 16) CHECK(tether_ws_receive_eof(r->ws) == 0);
        break;
    }
    drain_events(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    cursor c = {data + 1, size - 1};
    tether_role role = data[0] & 1 ? TETHER_ROLE_SERVER : TETHER_ROLE_CLIENT;
    tether_role peer = role == TETHER_ROLE_SERVER ? TETHER_ROLE_CLIENT : TETHER_ROLE_SERVER;
    tether_opts *o = tether_opts_new();
    CHECK(o != NULL);
    run r = {NULL, TETHER_DEFAULT_MAX_MESSAGE, 0};
    if (data[0] & 2) CHECK(tether_opts_set_streaming(o, 1) == 0);
    if (data[0] & 8) { /* tight limits: every one of them is reached */
        r.max_message = 300;
        CHECK(tether_opts_set_max_message(o, r.max_message) == 0);
        CHECK(tether_opts_set_send_limit(o, 2000) == 0);
        CHECK(tether_opts_set_drain_mark(o, 100) == 0);
        CHECK(tether_opts_set_ping_interval(o, 1000) == 0);
        CHECK(tether_opts_set_ping_timeout(o, 500) == 0);
        CHECK(tether_opts_set_idle_timeout(o, 5000) == 0);
        CHECK(tether_opts_set_message_timeout(o, 3000) == 0);
    }
    r.ws = tether_ws_new(role, o, 0);
    tether_opts_free(o);
    CHECK(r.ws != NULL);
    if (data[0] & 4) {
        tether_pmd *p = negotiated(role);
        CHECK(tether_ws_set_deflate(r.ws, p) == 0);
    }
    uint64_t now = 0;
    for (int i = 0; i < 4096 && c.n; i++)
        step(&r, peer, &c, &now);
    CHECK(tether_ws_receive_eof(r.ws) == 0);
    for (int i = 0; i < 256 && !r.ended; i++) /* 256 x 256 events: more than 64 KiB makes */
        drain_events(&r);
    CHECK(r.ended); /* the end of the stream always ends the connection */
    tether_ws_free(r.ws);
    return 0;
}
