/* The end of a connection's life: closing the socket, and the free, which
 * waits until both the socket is closed and the user has released the
 * CLOSED event (so a pointer the user holds stays valid until then); its
 * one timer; what it adds to the context's buffered bytes. */
#include "api/api.h"
#include "proto/request.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tt_conn_close_fd(tether_conn *c) {
    tt_wire_batch_forget(c); /* frames held for a socket that goes */
    if (c->io.fd < 0) return;
    tt_wire_goodbye(c);
    tt_loop_del(c->ctx->loop, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    if (c->ctx->paused_listeners) tt_listeners_resume(c->ctx);
}

/* What one session of a connection holds (one TCP connection's handshake,
 * layers, WebSocket and input), freed at its end and when a client starts
 * over; each pointer left NULL. */
static void tt_conn_free_session(tether_conn *c) {
    if (c->cl && c->cl->addrs) freeaddrinfo(c->cl->addrs);
    if (c->cl) c->cl->addrs = NULL;
    tether_client_hs_free(c->chs);
    c->chs = NULL;
    tether_pmd_free(c->pmd);
    c->pmd = NULL;
    free(c->extensions);
    c->extensions = NULL;
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_cap = 0;
    if (c->stack) tt_stack_free(c->stack);
    free(c->stack);
    c->stack = NULL;
    tt_ws_cleanup(&c->ws);
}

void tt_conn_free(tether_conn *c) {
    c->ctx->queued -= c->accounted;
    tt_wire_detach(c);
    tt_conn_close_fd(c);
    tt_timer_stop(c->ctx->loop, &c->timer);
    tether_server_hs_free(c->shs);
    free(c->req);
    if (c->cls->cleanup) c->cls->cleanup(c);
    tt_conn_free_session(c);
    if (c->cl) { /* after the role's cleanup and the session, which use it */
        if (c->cl->resolve) tt_resolve_cancel(c->cl->resolve);
        tt_race_free(c->cl->race);
        tt_url_free(&c->cl->url);
        free(c->cl);
    }
    tt_outbuf_free(&c->hs_out);
    tt_file_body_free(c);
    tt_opts_unref(c->opts);
    free(c->reject_body);
    free(c->chosen_protocol);
    free(c->error_text);
    free(c);
}

void tt_conn_hook_ws(tether_conn *c) {
    c->ws.direct = tt_wire_direct;
    c->ws.out.pool = &c->ctx->bufpool;
}

void tt_conn_set_error_text(tether_conn *c, const char *text) {
    size_t n = strlen(text);
    if (n > TT_ERROR_TEXT_MAX) n = TT_ERROR_TEXT_MAX;
    /* (a copy first: text may be the old one) */
    char *t = malloc(n + 1);
    if (t) {
        memcpy(t, text, n);
        t[n] = 0;
    }
    free(c->error_text);
    c->error_text = t;
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
    if (c->cl && c->cl->resolve) { /* a dead connection must not be handed addresses */
        tt_resolve_cancel(c->cl->resolve);
        c->cl->resolve = NULL;
    }
    if (c->cl) {
        tt_race_free(c->cl->race); /* its pending attempts close with it */
        c->cl->race = NULL;
    }
    tt_wire_detach(c); /* an HTTP/2 stream or session ends with it */
    tt_conn_close_fd(c);
    tt_file_body_free(c); /* its descriptor too, while the user holds c */
    tt_timer_stop(c->ctx->loop, &c->timer);
    if (c->retrying) { /* RETRY was said: the role connects again later */
        c->cls->retry(c);
        return;
    }
    c->phase = TT_PH_DEAD;
    tt_conn_account(c); /* a dead connection owes nothing: give back its budget */
    tt_conn_maybe_free(c);
}

int tt_conn_reset(tether_conn *c) {
    tt_conn_free_session(c);
    tt_outbuf_consume(&c->hs_out, tt_outbuf_len(&c->hs_out));
    int rc = tt_ws_init(&c->ws, c->role, &c->opts->cfg, c->ctx->cb == NULL, c->ctx->now);
    tt_conn_hook_ws(c);
    c->io.events = 0;
    c->h2_id = c->h2_fallback = 0;
    c->paused = c->read_parked = c->fin_sent = c->closed_out = c->retrying = 0;
    c->error = c->os_error = 0;
    free(c->error_text);
    c->error_text = NULL;
    c->deadline = 0;
    tt_conn_account(c);
    return rc;
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

void tt_conn_account(tether_conn *c) {
    size_t now = c->phase == TT_PH_DEAD ? 0 : tt_ws_held(&c->ws) + tt_outbuf_len(&c->hs_out);
    c->ctx->queued = c->ctx->queued - c->accounted + now;
    c->accounted = now;
}
