/* tether_ws: the public face of the WebSocket engine (src/ws) for programs
 * that do their own I/O. The live connections drive tt_ws straight from the
 * context's read buffer; this adds what a caller without one needs: an
 * input buffer it owns, events taken one at a time, and the ends of the
 * connection that come from outside the parser (the stream's end, a timer)
 * held until they are taken. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

struct tether_ws {
    tt_ws ws;
    tt_ws_cfg cfg;
    size_t threshold; /* deflate: smallest message sent compressed */
    uint8_t *in;      /* received, not yet turned into events: in[off .. len) */
    size_t in_off, in_len, in_cap;
    tt_ws_ev_type last; /* the event handed out last, done with at the next call */
    int flowing;        /* a frame went either way: too late for deflate */
    int eof;            /* the stream ended: CLOSED once the input is used up */
    int drain_due;
    int end_due; /* a CLOSED made by the clock waits in `end` */
    tt_ws_ev end;
    int ended;                                /* CLOSED was handed out */
    char reason[TETHER_MAX_CLOSE_REASON + 1]; /* ... and its reason, kept */
};

tether_ws *tether_ws_new(tether_role role, const tether_opts *opts, uint64_t now_ms) {
    if (role != TETHER_ROLE_CLIENT && role != TETHER_ROLE_SERVER) return NULL;
    tether_ws *w = calloc(1, sizeof *w);
    tether_opts *defaults = opts ? NULL : tether_opts_new();
    const tether_opts *o = opts ? opts : defaults;
    if (!w || !o) goto fail;
    w->cfg = o->cfg;
    w->threshold = o->deflate.threshold;
    /* The data of an event may point into w->in: it stays put until the
     * next call that takes input or an event, as documented. */
    if (tt_ws_init(&w->ws, role, &w->cfg, 0, now_ms) != 0) goto fail;
    tether_opts_free(defaults);
    return w;
fail:
    tether_opts_free(defaults);
    if (w) tt_ws_cleanup(&w->ws);
    free(w);
    return NULL;
}

void tether_ws_free(tether_ws *ws) {
    if (!ws) return;
    tt_ws_cleanup(&ws->ws);
    free(ws->in);
    free(ws);
}

int tether_ws_set_deflate(tether_ws *ws, tether_pmd *pmd) {
    if (!ws || !pmd) return TETHER_E_INVAL;
    if (ws->flowing) return TETHER_E_STATE;
    return tt_ws_set_deflate(&ws->ws, pmd, ws->threshold);
}

/* Makes room for len more input bytes, first dropping what was used. */
static int tt_ws_in_room(tether_ws *ws, size_t len) {
    if (ws->in_off) {
        memmove(ws->in, ws->in + ws->in_off, ws->in_len - ws->in_off);
        ws->in_len -= ws->in_off;
        ws->in_off = 0;
    }
    if (len <= ws->in_cap - ws->in_len) return 0;
    if (len > SIZE_MAX / 2 - ws->in_len) return TETHER_E_NOMEM;
    size_t cap = ws->in_cap ? ws->in_cap : 4096;
    while (cap < ws->in_len + len)
        cap *= 2;
    uint8_t *p = realloc(ws->in, cap);
    if (!p) return TETHER_E_NOMEM;
    ws->in = p;
    ws->in_cap = cap;
    return 0;
}

int tether_ws_receive(tether_ws *ws, const void *data, size_t len, uint64_t now_ms) {
    if (!ws || (!data && len)) return TETHER_E_INVAL;
    if (len == 0 || ws->eof || ws->ws.state == TT_WS_CLOSED) return 0;
    int rc = tt_ws_in_room(ws, len);
    if (rc) return rc;
    memcpy(ws->in + ws->in_len, data, len);
    ws->in_len += len;
    ws->flowing = 1;
    tt_ws_note_rx(&ws->ws, now_ms);
    return 0;
}

int tether_ws_receive_eof(tether_ws *ws) {
    if (!ws) return TETHER_E_INVAL;
    ws->eof = 1;
    return 0;
}

static int tt_ws_hand_out(tether_ws *ws, const tt_ws_ev *e, tether_ws_event *ev) {
    ev->type = tt_ws_ev_public_type(e->type);
    ws->last = e->type;
    if (e->type == TT_WS_EV_CLOSE) {
        ws->ended = 1;
        memcpy(ws->reason, e->reason, e->reason_len); /* e may be the caller's local */
        ws->reason[e->reason_len] = 0;
        ev->data = (const uint8_t *)ws->reason;
        ev->len = e->reason_len;
        ev->code = e->code;
        ev->clean = e->clean;
        ev->error = e->error;
        return 1;
    }
    ev->data = e->data;
    ev->len = e->len;
    if (e->type == TT_WS_EV_MESSAGE || e->type == TT_WS_EV_FRAGMENT) {
        ev->opcode = e->opcode;
        ev->fin = e->type == TT_WS_EV_FRAGMENT ? e->fin : 1;
    }
    return 1;
}

int tether_ws_next_event(tether_ws *ws, tether_ws_event *ev) {
    static uint8_t none[1]; /* input to parse when there is none: frame ends */
    if (!ws || !ev) return TETHER_E_INVAL;
    memset(ev, 0, sizeof *ev);
    if (ws->last != TT_WS_EV_NONE) tt_ws_event_done(&ws->ws, ws->last);
    ws->last = TT_WS_EV_NONE;
    if (ws->ended) return 0;
    if (ws->drain_due) {
        ws->drain_due = 0;
        ev->type = TETHER_EV_DRAIN;
        return 1;
    }
    if (ws->end_due) return tt_ws_hand_out(ws, &ws->end, ev);
    tt_ws_ev e;
    size_t used = 0;
    uint8_t *at = ws->in ? ws->in + ws->in_off : none;
    int r = tt_ws_input(&ws->ws, at, ws->in_len - ws->in_off, &used, &e);
    ws->in_off += used;
    if (r) return tt_ws_hand_out(ws, &e, ev);
    if (ws->eof && tt_ws_abort(&ws->ws, TETHER_E_CLOSED, &e)) return tt_ws_hand_out(ws, &e, ev);
    return 0;
}

const uint8_t *tether_ws_output(tether_ws *ws, size_t *len) {
    size_t n = 0;
    const uint8_t *p = ws ? tt_ws_output(&ws->ws, &n) : NULL;
    if (len) *len = n;
    return p;
}

int tether_ws_output_sent(tether_ws *ws, size_t n) {
    size_t queued = 0;
    if (ws) tt_ws_output(&ws->ws, &queued);
    if (!ws || n > queued) return TETHER_E_INVAL;
    tt_ws_output_sent(&ws->ws, n);
    if (tt_ws_take_drain(&ws->ws) && !ws->ended) ws->drain_due = 1;
    return 0;
}

size_t tether_ws_buffered(const tether_ws *ws) {
    return ws ? tt_ws_buffered(&ws->ws) : 0;
}

/* A send queued a frame: deflate can no longer be switched on. */
static int tt_ws_sent(tether_ws *ws, int rc) {
    if (rc == 0) ws->flowing = 1;
    return rc;
}

int tether_ws_send(tether_ws *ws, tether_opcode opcode, const void *data, size_t len) {
    if (!ws) return TETHER_E_INVAL;
    return tt_ws_sent(ws, tt_ws_send(&ws->ws, opcode, data, len));
}

int tether_ws_send_fragment(tether_ws *ws, tether_opcode opcode, const void *data, size_t len,
                            int fin) {
    if (!ws) return TETHER_E_INVAL;
    return tt_ws_sent(ws, tt_ws_send_fragment(&ws->ws, opcode, data, len, fin));
}

int tether_ws_ping(tether_ws *ws, const void *data, size_t len) {
    if (!ws) return TETHER_E_INVAL;
    return tt_ws_sent(ws, tt_ws_ping(&ws->ws, data, len));
}

int tether_ws_close(tether_ws *ws, int code, const char *reason, uint64_t now_ms) {
    if (!ws) return TETHER_E_INVAL;
    return tt_ws_sent(ws, tt_ws_close(&ws->ws, code, reason, now_ms));
}

uint64_t tether_ws_deadline(const tether_ws *ws) {
    return ws && !ws->end_due ? tt_ws_deadline(&ws->ws) : 0;
}

int tether_ws_on_time(tether_ws *ws, uint64_t now_ms) {
    if (!ws) return TETHER_E_INVAL;
    if (ws->end_due || ws->ended) return 0;
    if (tt_ws_on_timer(&ws->ws, now_ms, &ws->end)) ws->end_due = 1;
    return 0;
}

int tether_ws_state(const tether_ws *ws) {
    if (!ws) return TETHER_E_INVAL;
    switch (ws->ws.state) {
    case TT_WS_OPEN:
        return TETHER_WS_OPEN;
    case TT_WS_CLOSING:
        return TETHER_WS_CLOSING;
    default:
        return TETHER_WS_CLOSED;
    }
}
