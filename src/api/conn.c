/* A new live connection, wired to the loop: its socket's readiness and its
 * timer come here, and go to the role's handshake until the WebSocket
 * opens, then to the generic path (conn_io.c). */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

static void tt_conn_io_cb(tt_io *io, unsigned ready) {
    tether_conn *c = (tether_conn *)((char *)io - offsetof(tether_conn, io));
    if (c->phase < TT_PH_OPEN)
        c->cls->on_handshake_io(c, ready);
    else if (c->phase != TT_PH_DEAD)
        tt_conn_on_io(c, ready);
}

static void tt_conn_timer_cb(tt_timer *t) {
    tt_conn_on_timer((tether_conn *)((char *)t - offsetof(tether_conn, timer)));
}

tether_conn *tt_conn_new(tether_ctx *ctx, const tt_conn_class *cls, tether_opts *opts,
                         const char *peer) {
    size_t n = peer ? strlen(peer) + 1 : 1;
    tether_conn *c = calloc(1, sizeof *c + n);
    if (!c) return NULL;
    if (peer) memcpy(c->peer, peer, n);
    c->ctx = ctx;
    c->cls = cls;
    c->role = cls->role;
    c->opts = opts;
    c->io.fd = -1;
    c->io.cb = tt_conn_io_cb;
    tt_timer_init(&c->timer, tt_conn_timer_cb);
    if (tt_ws_init(&c->ws, c->role, &opts->cfg, ctx->cb == NULL, ctx->now) != 0 ||
        tt_ctx_add_conn(ctx, c) != 0) {
        tt_ws_cleanup(&c->ws);
        free(c);
        return NULL;
    }
    c->hs_out.pool = &ctx->bufpool;
    tt_conn_hook_ws(c);
    tt_stats_mark(c, TT_STATS_START); /* a server's: the accept */
    return c;
}
