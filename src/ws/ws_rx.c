/* Receiving: parser events become whole messages (reassembled up to the
 * message limit) or, in streaming mode, fragments as they arrive; control
 * frames are answered here (pong, close) and reported.
 *
 * A message that arrives as one frame wholly inside the caller's buffer is
 * handed out as a slice of that buffer, with no copy, unless the caller
 * asked for copies (poll mode, where the buffer is reused before the event
 * is released).
 *
 * A compressed message (RSV1, permessage-deflate) is inflated piece by piece
 * as its payload arrives, never held compressed: the inflater writes
 * straight into the message buffer, so a message costs one buffer of its
 * size however it is split (when streaming, each piece goes out as a
 * fragment from the inflater's buffer, which is trimmed after each). Its
 * text is validated after inflation. */
#include "ws/ws_int.h"
#include "proto/deflate.h"
#include "proto/parser.h"

#include <stdlib.h>
#include <string.h>

/* Grows the message buffer to cap: a big one from the loop's pool (no
 * fresh pages per big message), a small one by realloc. */
static int tt_msg_grow(tt_ws *c, size_t cap) {
    if (c->out.pool && cap > TT_BUFPOOL_SIZE) {
        uint8_t *m = tt_bufpool_get_big(c->out.pool, cap, &cap);
        if (!m) return TETHER_E_NOMEM;
        size_t len = c->msg_len;
        if (len) memcpy(m, c->msg, len);
        tt_msg_release(c); /* (which forgets the length) */
        c->msg = m;
        c->msg_cap = cap;
        c->msg_len = len;
        return 0;
    }
    uint8_t *m = realloc(c->msg, cap);
    if (!m) return TETHER_E_NOMEM;
    c->msg = m;
    c->msg_cap = cap;
    return 0;
}

static int tt_msg_append(tt_ws *c, const uint8_t *data, size_t len) {
    if (len > c->msg_cap - c->msg_len) {
        size_t cap = c->msg_cap ? c->msg_cap : 1024;
        while (cap - c->msg_len < len)
            cap *= 2;
        int rc = tt_msg_grow(c, cap);
        if (rc) return rc;
    }
    /* (input read into the room tt_ws_rx_room gave is in place already) */
    if (len && data != c->msg + c->msg_len) memcpy(c->msg + c->msg_len, data, len);
    c->msg_len += len;
    return 0;
}

uint8_t *tt_ws_rx_room(tt_ws *c, size_t *max) {
    if (c->state == TT_WS_CLOSED || c->cfg->streaming || !c->rx_in_message || c->rx_compressed)
        return NULL;
    uint64_t left = tt_parser_data_left(c->parser);
    if (left < TT_WS_ROOM_MIN || left > SIZE_MAX - c->msg_len) return NULL;
    if (left > c->msg_cap - c->msg_len && tt_msg_grow(c, c->msg_len + (size_t)left) != 0)
        return NULL; /* no memory for it: the usual path will say so */
    *max = (size_t)left;
    return c->msg + c->msg_len;
}

static void tt_msg_begin(tt_ws *c, int op) {
    c->msg_opcode = op;
    c->msg_total = 0;
    c->msg_len = 0;
    c->single = NULL;
    c->fin_sent_up = 0;
    c->rx_compressed = !!tether_parser_message_compressed(c->parser);
    c->rx_inflated_end = 0;
    c->rx_utf8 = TETHER_UTF8_INIT;
    c->rx_in_message = 1;
    c->msg_started = c->last_rx; /* the caller noted the arrival time */
}

/* A compressed frame: its wire size counts against the message's allowance
 * for compressed data; the real limit is on the inflated size, checked as
 * the inflater produces it (per frame when streaming). */
static int tt_on_deflated_start(tt_ws *c, uint64_t flen, tt_ws_ev *ev) {
    if (!c->cfg->streaming && flen > tt_ws_wire_cap(c->cfg->max_message) - c->msg_total)
        return tt_ws_fail(c, TETHER_E_MESSAGE_TOO_BIG, NULL, ev);
    c->msg_total += flen;
    if (c->cfg->streaming) tt_pmd_restart_count(c->pmd);
    return 0;
}

static int tt_on_data_start(tt_ws *c, int op, tt_ws_ev *ev) {
    if (op != TETHER_OP_CONTINUATION) tt_msg_begin(c, op);
    uint64_t flen = tether_parser_frame_length(c->parser);
    if (c->rx_compressed) return tt_on_deflated_start(c, flen, ev);
    /* With deflate on, the parser lets frames past max_message for the sake
     * of compressed ones (tt_ws_set_deflate): hold plain ones to it. */
    if (c->pmd && !c->cfg->max_frame && flen > c->cfg->max_message)
        return tt_ws_fail(c, TETHER_E_FRAME_TOO_BIG, NULL, ev);
    /* Refuse an oversized message as soon as a header announces it. */
    if (!c->cfg->streaming && flen > c->cfg->max_message - c->msg_total)
        return tt_ws_fail(c, TETHER_E_MESSAGE_TOO_BIG, NULL, ev);
    c->msg_total += flen;
    return 0;
}

/* A streaming piece of the message. Slices of the input are copied when the
 * caller asked for copies; inflated data (owned) lives in the connection
 * already. */
static int tt_emit_fragment(tt_ws *c, const uint8_t *data, size_t len, int fin, int owned,
                            tt_ws_ev *ev) {
    if (c->copy_data && !owned) {
        c->msg_len = 0;
        if (tt_msg_append(c, data, len) != 0) return tt_ws_fail(c, TETHER_E_NOMEM, NULL, ev);
        data = c->msg;
    }
    tt_ws_ev_clear(ev);
    ev->type = TT_WS_EV_FRAGMENT;
    ev->opcode = c->msg_opcode;
    ev->fin = fin;
    ev->data = data ? data : (const uint8_t *)"";
    ev->len = len;
    c->fin_sent_up = !!fin;
    return 1;
}

/* Inflated text is validated here, the parser having skipped it. */
static int tt_check_inflated_text(tt_ws *c, const uint8_t *p, size_t n, int fin) {
    if (c->msg_opcode != TETHER_OP_TEXT || !c->cfg->utf8_check) return 0;
    if (tether_utf8_feed(&c->rx_utf8, p, n) != 0) return TETHER_E_UTF8;
    return fin ? tether_utf8_finish(c->rx_utf8) : 0;
}

/* Inflates the next piece of a compressed message (fin: the last, which
 * may be empty) and passes the output on. An error of the inflater is the
 * peer's (1009 over the cap, 1007 corrupt) unless it is our memory. */
static int tt_inflate_piece(tt_ws *c, const uint8_t *data, size_t len, int fin, tt_ws_ev *ev) {
    const uint8_t *out;
    size_t n, before = c->msg_len;
    int rc;
    if (c->cfg->streaming) {
        rc = tether_pmd_decompress(c->pmd, data, len, fin, &out, &n);
    } else {
        rc = tt_pmd_decompress_append(c->pmd, data, len, fin, &c->msg, &c->msg_cap, &c->msg_len);
        n = c->msg_len - before;
        out = n ? c->msg + before : (const uint8_t *)""; /* msg may be NULL if empty */
    }
    if (rc == 0) rc = tt_check_inflated_text(c, out, n, fin);
    if (rc != 0) return tt_ws_fail(c, rc, NULL, ev);
    c->rx_inflated_end = !!fin;
    if (c->cfg->streaming) return n || fin ? tt_emit_fragment(c, out, n, fin, 1, ev) : 0;
    return 0;
}

static int tt_on_data_payload(tt_ws *c, const uint8_t *data, size_t len, tt_ws_ev *ev) {
    int last = tether_parser_fin(c->parser) && tether_parser_remaining(c->parser) == 0;
    if (c->rx_compressed) return tt_inflate_piece(c, data, len, last, ev);
    if (c->cfg->streaming) return tt_emit_fragment(c, data, len, last, 0, ev);
    if (last && c->msg_len == 0 && !c->single && !c->copy_data &&
        tether_parser_opcode(c->parser) != TETHER_OP_CONTINUATION &&
        len == tether_parser_frame_length(c->parser)) {
        c->single = data; /* the whole message is this slice: no copy */
        c->single_len = len;
        return 0;
    }
    if (tt_msg_append(c, data, len) != 0) return tt_ws_fail(c, TETHER_E_NOMEM, NULL, ev);
    return 0;
}

static int tt_on_data_end(tt_ws *c, tt_ws_ev *ev) {
    if (!tether_parser_fin(c->parser)) return 0;
    c->rx_in_message = 0;
    /* A last frame with no payload: the inflater still has to finish. */
    if (c->rx_compressed && !c->rx_inflated_end) {
        int rc = tt_inflate_piece(c, NULL, 0, 1, ev);
        if (rc != 0) return rc;
    }
    if (c->cfg->streaming) return c->fin_sent_up ? 0 : tt_emit_fragment(c, NULL, 0, 1, 0, ev);
    tt_ws_ev_clear(ev);
    ev->type = TT_WS_EV_MESSAGE;
    ev->opcode = c->msg_opcode;
    ev->fin = 1;
    ev->data = c->single ? c->single : c->msg ? c->msg : (const uint8_t *)"";
    ev->len = c->single ? c->single_len : c->msg_len;
    c->single = NULL;
    return 1;
}

static int tt_on_control_end(tt_ws *c, tt_ws_ev *ev) {
    int op = tether_parser_opcode(c->parser);
    if (op == TETHER_OP_CLOSE) return tt_ws_on_close_frame(c, ev);
    if (op == TETHER_OP_PING && tt_ws_pong(c, c->ctl, c->ctl_len) == TETHER_E_NOMEM)
        return tt_ws_fail(c, TETHER_E_NOMEM, NULL, ev);
    tt_ws_ev_clear(ev);
    ev->type = op == TETHER_OP_PING ? TT_WS_EV_PING : TT_WS_EV_PONG;
    ev->data = c->ctl ? c->ctl : (const uint8_t *)""; /* never NULL, even empty */
    ev->len = c->ctl_len;
    return 1;
}

static int tt_on_parse(tt_ws *c, int pe, const uint8_t *data, size_t len, tt_ws_ev *ev) {
    int op = tether_parser_opcode(c->parser);
    int control = op >= TETHER_OP_CLOSE;
    switch (pe) {
    case TETHER_PARSE_FRAME_START:
        c->ctl = NULL;
        c->ctl_len = 0;
        return control ? 0 : tt_on_data_start(c, op, ev);
    case TETHER_PARSE_PAYLOAD:
        if (!control) return tt_on_data_payload(c, data, len, ev);
        c->ctl = data; /* the parser hands a control payload out whole, once */
        c->ctl_len = len;
        return 0;
    case TETHER_PARSE_FRAME_END:
        return control ? tt_on_control_end(c, ev) : tt_on_data_end(c, ev);
    default:
        return 0;
    }
}

/* A whole small message in one frame, taken by the parser in one step
 * (tt_parser_whole_frame) and handed out as the general path would: the
 * same state afterwards, the same event. Not when streaming (fragments),
 * and not past the message limit (the general path says why). */
static int tt_ws_whole(tt_ws *c, uint8_t *buf, size_t len, size_t *used, tt_ws_ev *ev) {
    tt_whole_frame f;
    if (c->cfg->streaming || c->rx_in_message) return 0;
    if (!tt_parser_whole_frame(c->parser, buf, len, c->cfg->max_message, &f)) return 0;
    *used = f.used;
    tt_msg_begin(c, (int)f.opcode);
    c->rx_in_message = 0;
    const uint8_t *data = f.data;
    if (c->copy_data) {
        if (tt_msg_append(c, f.data, f.len) != 0) return tt_ws_fail(c, TETHER_E_NOMEM, NULL, ev);
        data = c->msg ? c->msg : (const uint8_t *)"";
    }
    tt_ws_ev_clear(ev);
    ev->type = TT_WS_EV_MESSAGE;
    ev->opcode = (int)f.opcode;
    ev->fin = 1;
    ev->data = data;
    ev->len = f.len;
    return 1;
}

int tt_ws_input(tt_ws *c, uint8_t *buf, size_t len, size_t *consumed, tt_ws_ev *ev) {
    *consumed = 0;
    if (c->state == TT_WS_CLOSED) { /* after the end, bytes mean nothing */
        *consumed = len;
        return 0;
    }
    size_t whole = 0;
    int r = tt_ws_whole(c, buf, len, &whole, ev);
    *consumed = whole;
    if (r) return r;
    for (;;) { /* until the parser asks for more: FRAME_END can use no bytes */
        const uint8_t *data = NULL;
        size_t used = 0, dlen = 0;
        int pe =
            tether_parser_next(c->parser, buf + *consumed, len - *consumed, &used, &data, &dlen);
        *consumed += used;
        if (pe < 0) return tt_ws_fail(c, pe, tether_parser_error_text(c->parser), ev);
        if (pe == TETHER_PARSE_NEED_MORE) break;
        int rc = tt_on_parse(c, pe, data, dlen, ev);
        if (rc != 0) return rc;
    }
    return 0;
}

void tt_ws_event_done(tt_ws *c, tt_ws_ev_type type) {
    /* Only a delivered message may drop the message buffer: other events (a
     * ping between fragments) come while a message is being assembled. A
     * streamed piece is done with once delivered: the inflater's buffer
     * need not hold a piece's size while the peer takes its time with the
     * next. Up to the TT_WS_*_KEEP sizes, buffers are kept for the next,
     * except without context takeover, where a connection holds no
     * compression memory between messages. */
    int no_takeover = c->pmd && tt_pmd_no_takeover(c->pmd, 0);
    if (type == TT_WS_EV_FRAGMENT && c->pmd)
        tt_pmd_trim_inflate(c->pmd, c->fin_sent_up && no_takeover ? 0 : TT_WS_PMD_KEEP);
    if (type != TT_WS_EV_MESSAGE) return;
    /* With the loop's pool, a big buffer goes back to it (taken again for
     * the next big message): pool sizes start at 64 KiB, which an idle
     * connection should not keep for one 5 KiB message. */
    size_t keep = c->out.pool ? TT_BUFPOOL_SIZE : TT_WS_MSG_KEEP;
    if (c->msg_cap <= keep && !(no_takeover && c->rx_compressed)) return;
    tt_msg_release(c);
}
