/* A connection's life in the api layer: creation, the end before the
 * WebSocket opened, lingering to flush and close TCP after it, and the
 * free, which waits until both the socket is closed and the user has
 * released the CLOSED event (so a pointer the user holds stays valid until
 * then). */
#include "api/api.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

tether_conn *tt_conn_new(tether_ctx *ctx, tether_role role, tether_opts *opts) {
    tether_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ctx = ctx;
    c->role = role;
    c->opts = opts;
    c->io.fd = -1;
    c->io.cb = tt_conn_io_cb;
    tt_timer_init(&c->timer, tt_conn_timer_cb);
    if (tt_ws_init(&c->ws, role, &opts->cfg, ctx->cb == NULL, ctx->now) != 0 ||
        tt_ctx_add_conn(ctx, c) != 0) {
        tt_ws_cleanup(&c->ws);
        free(c);
        return NULL;
    }
    return c;
}

static void tt_conn_close_fd(tether_conn *c) {
    if (c->io.fd < 0) return;
    tt_conn_tls_goodbye(c);
    tt_loop_del(c->ctx->loop, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    if (c->ctx->paused_listeners) tt_listeners_resume(c->ctx);
}

/* Frees everything; the caller has taken c out of the context's table. */
void tt_conn_free(tether_conn *c) {
    c->ctx->queued -= c->accounted;
    tt_conn_close_fd(c);
    tt_timer_stop(c->ctx->loop, &c->timer);
    if (c->resolve) tt_resolve_cancel(c->resolve);
    if (c->addrs) freeaddrinfo(c->addrs);
    tt_url_free(&c->url);
    tether_client_hs_free(c->chs);
    tether_server_hs_free(c->shs);
    tt_ws_cleanup(&c->ws);
    tt_tls_free(c->tls);
    tt_outbuf_free(&c->tls_out);
    free(c->extensions);
    tether_pmd_free(c->pmd);
    tt_opts_unref(c->opts);
    free(c->pending);
    free(c->reject_body);
    free(c->chosen_protocol);
    free(c);
}

void tt_conn_maybe_free(tether_conn *c) {
    if (c->phase != TT_PH_DEAD || c->held > 0) return;
    if (!c->silent && !c->user_done) return;
    /* Inside a round, or while a list still points at c, the round's end
     * frees it; otherwise nothing else can reach it now. */
    if (c->ctx->in_service || c->runnable || c->dirty) {
        tt_ctx_bury(c);
        return;
    }
    tt_ctx_remove_conn(c->ctx, c);
    tt_conn_free(c);
}

void tt_conn_shut(tether_conn *c) {
    if (c->resolve) { /* a dead connection must not be handed addresses */
        tt_resolve_cancel(c->resolve);
        c->resolve = NULL;
    }
    tt_conn_close_fd(c);
    tt_timer_stop(c->ctx->loop, &c->timer);
    c->phase = TT_PH_DEAD;
    tt_conn_account(c); /* a dead connection owes nothing: give back its budget */
    tt_conn_maybe_free(c);
}

/* The CLOSED event for a connection that ends outside the WebSocket
 * state machine (1006 with the error), or NULL if nobody is to be told. */
tether_event *tt_conn_closed_event(tether_conn *c, int err, const char *text) {
    c->error = err;
    snprintf(c->error_text, sizeof c->error_text, "%s", text ? text : tether_strerror(err));
    if (c->silent || c->closed_out) return NULL;
    c->closed_out = 1;
    tether_event *ev = tt_event_new(c->ctx, TETHER_EV_CLOSED, c);
    if (!ev) return NULL;
    size_t n = strlen(c->error_text);
    ev->code = TETHER_CLOSE_ABNORMAL;
    ev->error = err;
    ev->reason_len = n > TETHER_MAX_CLOSE_REASON ? TETHER_MAX_CLOSE_REASON : n;
    memcpy(ev->reason, c->error_text, ev->reason_len);
    ev->reason[ev->reason_len] = 0;
    return ev;
}

/* Ends a connection whose WebSocket never opened. The socket goes first;
 * the event (which holds c) follows. */
void tt_conn_fail_early(tether_conn *c, int err, const char *text) {
    tether_event *ev = tt_conn_closed_event(c, err, text);
    tt_conn_shut(c);
    tt_emit(ev);
}

/* After the WebSocket ended: write out what is queued (the close frame),
 * then close. A server closes the TCP connection first (RFC 6455 7.1.1); a
 * client waits for the server to, up to the close timeout. */
void tt_conn_linger(tether_conn *c) {
    if (c->phase == TT_PH_DEAD || c->phase == TT_PH_LINGER) return;
    c->phase = TT_PH_LINGER;
    unsigned t = c->opts->cfg.close_timeout ? c->opts->cfg.close_timeout : 5000;
    c->deadline = c->ctx->now + t;
    tt_conn_after_send(c); /* the close frame goes out, then the socket closes */
}

/* One timer per connection, armed for its earliest deadline. Activity does
 * not re-arm it: when it fires early it re-arms for the new deadline. */
void tt_conn_arm_timer(tether_conn *c) {
    uint64_t d = c->deadline;
    if (c->phase == TT_PH_OPEN) {
        uint64_t w = tt_ws_deadline(&c->ws);
        if (w && (!d || w < d)) d = w;
    }
    if (!d) {
        tt_timer_stop(c->ctx->loop, &c->timer);
        return;
    }
    if (tt_timer_armed(&c->timer) && c->timer.deadline <= d) return;
    /* Not ctx->now: outside a round it may be long past (a close called
     * after seconds of quiet would wait those seconds more). */
    uint64_t now = tt_now_ms();
    tt_timer_start(c->ctx->loop, &c->timer, d > now ? d - now : 0);
}
