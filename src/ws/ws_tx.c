/* Sending: every send frames its payload straight into the output queue
 * (one copy, masked on the way for a client) and never blocks. The queue
 * has a cap past which sends fail, so a slow peer cannot make us grow
 * without bound, and a mark under which the caller hears "drained".
 *
 * With permessage-deflate, data messages are compressed into the codec's
 * buffer and framed from there with RSV1 on their first frame; the queue
 * and its limit count the compressed bytes, which are what goes out. */
#include "proto/mask_key.h"
#include "proto/deflate.h"
#include "ws/ws_int.h"

#include <string.h>

/* A big unmasked frame with nothing queued before it goes to the direct
 * writer first, header and payload in one write, and only what the socket
 * did not take is copied into the queue: an echo of a big message copies
 * nothing (as the queue's own buffer would be allocated, faulted in and
 * freed again for each). Returns 0 or TETHER_E_NOMEM. */
static int tt_ws_put_direct(tt_ws *c, tether_opcode op, int fin, unsigned rsv, const void *data,
                            size_t len) {
    uint8_t h[TETHER_MAX_FRAME_HEADER];
    size_t hlen = tether_frame_header_size(len, 0);
    int rc = tether_frame_write_header(h, hlen, op, fin, rsv, len, NULL);
    if (rc < 0) return rc;
    struct iovec iov[2] = {{h, hlen}, {(void *)data, len}};
    size_t n = c->direct(c, iov, 2);
    if (n >= hlen + len) return 0;
    rc = 0;
    if (n < hlen) rc = tt_outbuf_append(&c->out, h + n, hlen - n);
    size_t from = n > hlen ? n - hlen : 0;
    if (rc == 0) rc = tt_outbuf_append(&c->out, (const uint8_t *)data + from, len - from);
    return rc;
}

/* Frames the direct writer holds go before anything queued after them. */
static void tt_ws_release_held(tt_ws *c) {
    if (c->direct_held) c->direct(c, NULL, 0);
}

/* After queueing: above the drain mark, the caller hears DRAIN once below. */
static void tt_ws_note_mark(tt_ws *c) {
    if (tt_ws_buffered(c) > c->cfg->drain_mark) c->above_mark = 1;
}

/* Appends one frame. Client payloads are copied and masked in one pass. */
static int tt_ws_put_frame(tt_ws *c, tether_opcode op, int fin, unsigned rsv, const void *data,
                           size_t len) {
    int masked = c->role == TETHER_ROLE_CLIENT;
    if (c->direct && !masked && len >= TT_WS_DIRECT_MIN && !tt_outbuf_len(&c->out)) {
        int rc = tt_ws_put_direct(c, op, fin, rsv, data, len);
        if (rc == 0) tt_ws_note_mark(c);
        return rc;
    }
    tt_ws_release_held(c);
    size_t hlen = tether_frame_header_size(len, masked);
    uint8_t *p = tt_outbuf_reserve(&c->out, hlen + len);
    if (!p) return TETHER_E_NOMEM;
    uint8_t key[4];
    if (masked && tt_mask_key(key) != 0) return TETHER_E_RANDOM;
    int rc = tether_frame_write_header(p, hlen, op, fin, rsv, len, masked ? key : NULL);
    if (rc < 0) return rc;
    if (len && masked)
        tether_mask(p + hlen, data, len, key, 0);
    else if (len)
        memcpy(p + hlen, data, len);
    tt_outbuf_commit(&c->out, hlen + len);
    tt_ws_note_mark(c);
    return 0;
}

/* Whether len more payload bytes fit under the send limit. */
static int tt_ws_fits(const tt_ws *c, size_t len) {
    return len <= c->cfg->send_limit && tt_ws_buffered(c) <= c->cfg->send_limit - len;
}

/* Before building a data frame of len bytes. A compressed one's size is
 * known only once compressed, and is at least 1 byte unless empty: that is
 * what is checked first (its exact size is checked after compression). */
static int tt_ws_can_send_data(const tt_ws *c, size_t len, int deflate) {
    if (c->state != TT_WS_OPEN) return TETHER_E_STATE;
    if (deflate && len > 1) len = 1;
    return tt_ws_fits(c, len) ? 0 : TETHER_E_BACKPRESSURE;
}

/* Compresses one piece and queues its frame. If the frame cannot be queued,
 * the compressor's context holds data the peer will never see: dropping it
 * keeps the stream decodable (tt_pmd_drop_deflate), and the caller may send
 * the piece again. The output buffer is let go of once copied out if big
 * (or always without context takeover: see TT_WS_PMD_KEEP). */
static int tt_ws_put_deflated(tt_ws *c, tether_opcode op, int fin, unsigned rsv, const void *data,
                              size_t len) {
    const uint8_t *z;
    size_t zlen;
    int rc = tether_pmd_compress(c->pmd, data, len, fin, &z, &zlen);
    if (rc == 0 && !tt_ws_fits(c, zlen)) rc = TETHER_E_BACKPRESSURE;
    if (rc == 0) rc = tt_ws_put_frame(c, op, fin, rsv, z, zlen);
    if (rc != 0) tt_pmd_drop_deflate(c->pmd);
    tt_pmd_trim_deflate(c->pmd, tt_pmd_no_takeover(c->pmd, 1) ? 0 : TT_WS_PMD_KEEP);
    return rc;
}

int tt_ws_send(tt_ws *c, tether_opcode op, const void *data, size_t len) {
    return tt_ws_send_checked(c, op, data, len, op == TETHER_OP_TEXT);
}

int tt_ws_send_checked(tt_ws *c, tether_opcode op, const void *data, size_t len, int check_utf8) {
    if (!c || (!data && len) || (op != TETHER_OP_TEXT && op != TETHER_OP_BINARY))
        return TETHER_E_INVAL;
    int deflate = c->pmd && len >= c->deflate_threshold;
    int rc = tt_ws_can_send_data(c, len, deflate);
    if (rc) return rc;
    if (c->tx_frag_opcode) return TETHER_E_STATE; /* a streamed message is open */
    if (check_utf8 && tether_utf8_validate(data, len) != 0) return TETHER_E_UTF8;
    if (deflate) return tt_ws_put_deflated(c, op, 1, TETHER_RSV1, data, len);
    return tt_ws_put_frame(c, op, 1, 0, data, len);
}

/* Whether the message a piece belongs to is compressed: decided at its
 * first piece (see tt_ws_set_deflate), kept for the rest. */
static int tt_ws_piece_deflated(const tt_ws *c, size_t len, int fin) {
    if (c->tx_frag_opcode) return c->tx_compressed;
    return c->pmd && (!fin || len >= c->deflate_threshold);
}

int tt_ws_send_fragment(tt_ws *c, tether_opcode op, const void *data, size_t len, int fin) {
    if (!c || (!data && len) || (op != TETHER_OP_TEXT && op != TETHER_OP_BINARY))
        return TETHER_E_INVAL;
    int deflate = tt_ws_piece_deflated(c, len, fin);
    int rc = tt_ws_can_send_data(c, len, deflate);
    if (rc) return rc;
    if (c->tx_frag_opcode && c->tx_frag_opcode != (int)op) return TETHER_E_STATE;
    uint32_t st = c->tx_frag_opcode ? c->tx_utf8 : TETHER_UTF8_INIT;
    if (op == TETHER_OP_TEXT &&
        (tether_utf8_feed(&st, data, len) != 0 || (fin && tether_utf8_finish(st) != 0)))
        return TETHER_E_UTF8;
    int first = !c->tx_frag_opcode;
    tether_opcode frame_op = first ? op : TETHER_OP_CONTINUATION;
    if (deflate)
        rc = tt_ws_put_deflated(c, frame_op, fin, first ? TETHER_RSV1 : 0, data, len);
    else
        rc = tt_ws_put_frame(c, frame_op, fin, 0, data, len);
    if (rc) return rc;
    /* Only a queued piece moves the message on (UTF-8 state included). */
    c->tx_utf8 = st;
    c->tx_frag_opcode = fin ? 0 : (int)op;
    c->tx_compressed = !fin && deflate;
    return 0;
}

int tt_ws_can_share(const tt_ws *c, size_t payload_len) {
    return c->role == TETHER_ROLE_SERVER && !(c->pmd && payload_len >= c->deflate_threshold);
}

int tt_ws_send_shared(tt_ws *c, tt_shared_frame *f, size_t payload_len) {
    if (!c || !f || !tt_ws_can_share(c, payload_len)) return TETHER_E_INVAL;
    if (c->state != TT_WS_OPEN || c->tx_frag_opcode) return TETHER_E_STATE;
    if (!tt_ws_fits(c, f->len)) return TETHER_E_BACKPRESSURE;
    tt_ws_release_held(c);
    int rc = tt_outbuf_push_shared(&c->out, f);
    if (rc == 0) tt_ws_note_mark(c);
    return rc;
}

int tt_ws_ping(tt_ws *c, const void *data, size_t len) {
    if (!c || (!data && len) || len > TETHER_MAX_CONTROL_PAYLOAD) return TETHER_E_INVAL;
    if (c->state != TT_WS_OPEN) return TETHER_E_STATE;
    return tt_ws_put_frame(c, TETHER_OP_PING, 1, 0, data, len);
}

/* The pong answering a ping; not after our close frame (RFC 6455 5.5.1:
 * nothing follows it). */
int tt_ws_pong(tt_ws *c, const void *data, size_t len) {
    if (c->close_sent) return 0;
    /* A peer that floods pings and never reads must not grow the queue
     * without bound: past the send limit pongs are dropped, which RFC 6455
     * 5.5.3 allows (only the latest ping needs an answer). */
    if (tt_outbuf_len(&c->out) > c->cfg->send_limit) return 0;
    return tt_ws_put_frame(c, TETHER_OP_PONG, 1, 0, data, len);
}

/* Queues our close frame (once). code 0 sends an empty payload. */
int tt_ws_put_close(tt_ws *c, int code, const char *reason, size_t reason_len) {
    uint8_t payload[TETHER_MAX_CONTROL_PAYLOAD];
    size_t n;
    if (c->close_sent) return 0;
    int rc = tether_close_build(code, reason, reason_len, payload, sizeof payload, &n);
    if (rc != 0) return rc;
    rc = tt_ws_put_frame(c, TETHER_OP_CLOSE, 1, 0, payload, n);
    if (rc == 0) c->close_sent = 1;
    return rc;
}

int tt_ws_take_drain(tt_ws *c) {
    if (!c->above_mark || tt_ws_buffered(c) > c->cfg->drain_mark) return 0;
    c->above_mark = 0;
    return 1;
}

size_t tt_ws_buffered(const tt_ws *c) {
    return tt_outbuf_len(&c->out) + c->owed_below;
}

void tt_ws_set_owed_below(tt_ws *c, size_t n) {
    c->owed_below = n;
}

size_t tt_ws_held(const tt_ws *c) {
    return tt_outbuf_own(&c->out) + c->owed_below;
}

const uint8_t *tt_ws_output(const tt_ws *c, size_t *len) {
    return tt_outbuf_front(&c->out, len);
}

int tt_ws_output_pieces(const tt_ws *c, struct iovec *iov, int max) {
    return tt_outbuf_pieces(&c->out, iov, max);
}

void tt_ws_output_sent(tt_ws *c, size_t n) {
    tt_outbuf_consume(&c->out, n);
}

void tt_ws_output_drop(tt_ws *c) {
    tt_outbuf_consume(&c->out, tt_outbuf_len(&c->out));
}

void tt_ws_set_copy_data(tt_ws *c, int copy) {
    c->copy_data = !!copy;
}
