/* One message to many connections, its frame built once. A server that
 * relays a message to N clients would otherwise copy it N times, and N
 * clients that stop reading would hold N copies until they are closed. */
#include "api/api.h"

/* Queues the shared frame on c, building it for the first receiver that
 * can take it. The frame's bytes count once against the context's budget,
 * from when it is built until the last queue lets go of it. */
static int tt_broadcast_shared(tether_conn *c, tt_shared_frame **f, tether_opcode op,
                               const void *data, size_t len) {
    if (!*f) {
        int rc = tt_conn_within_budget(c, tether_frame_header_size(len, 0) + len);
        if (rc) return rc;
        *f = tt_shared_frame_new(op, data, len, &c->ctx->queued);
        if (!*f) return TETHER_E_NOMEM;
    }
    return tt_ws_send_shared(&c->ws, *f, len);
}

/* A receiver that needs its own copy: a client, or compression. The text
 * was checked once for all receivers. */
static int tt_broadcast_copy(tether_conn *c, tether_opcode op, const void *data, size_t len) {
    int rc = tt_conn_within_budget(c, len);
    return rc ? rc : tt_ws_send_checked(&c->ws, op, data, len, 0);
}

static int tt_broadcast_one(tether_conn *c, const tether_ctx *ctx, tt_shared_frame **f,
                            tether_opcode op, const void *data, size_t len) {
    int rc = c && c->ctx == ctx ? tt_conn_sendable(c) : TETHER_E_INVAL;
    if (rc) return rc;
    if (tt_ws_can_share(&c->ws, len))
        rc = tt_broadcast_shared(c, f, op, data, len);
    else
        rc = tt_broadcast_copy(c, op, data, len);
    if (rc) return rc;
    c->stats.msgs_out++;
    c->stats.payload_out += len;
    tt_conn_after_data(c);
    return 0;
}

/* tether_broadcast(), its text scanned for UTF-8 once if check_utf8. */
static int tt_broadcast(tether_conn *const *conns, size_t n, tether_opcode op, const void *data,
                        size_t len, int *results, int check_utf8) {
    if ((!conns && n) || (!data && len) || (op != TETHER_OP_TEXT && op != TETHER_OP_BINARY))
        return TETHER_E_INVAL;
    if (check_utf8 && tether_utf8_validate(data, len) != 0) return TETHER_E_UTF8;
    const tether_ctx *ctx = n && conns[0] ? conns[0]->ctx : NULL;
    tt_shared_frame *f = NULL;
    int queued = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = tt_broadcast_one(conns[i], ctx, &f, op, data, len);
        if (results) results[i] = rc;
        queued += rc == 0;
    }
    tt_shared_frame_unref(f); /* ours: the queues hold theirs */
    return queued;
}

int tether_broadcast(tether_conn *const *conns, size_t n, tether_opcode op, const void *data,
                     size_t len, int *results) {
    return tt_broadcast(conns, n, op, data, len, results, op == TETHER_OP_TEXT);
}

int tether_broadcast_forward(tether_conn *const *conns, size_t n, const tether_event *ev,
                             int *results) {
    if (!ev || ev->type != TETHER_EV_MESSAGE) return TETHER_E_INVAL;
    tether_opcode op = (tether_opcode)ev->opcode;
    return tt_broadcast(conns, n, op, ev->data, ev->len, results,
                        op == TETHER_OP_TEXT && !ev->utf8_ok);
}
