/* The context: owns the loop, the connections (by id, so other threads
 * can name them safely), and the rounds of work. A round: process input
 * that was waiting on a released event, write out what was queued, wait
 * for readiness or a timer, then the same again, and finally free the
 * connections that ended in it. */
#include "api/api.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

tether_ctx *tether_ctx_new(void) {
    tether_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->loop = tt_loop_new();
    ctx->send_budget = TETHER_DEFAULT_SEND_BUDGET;
    ctx->rbuf = malloc(TT_RBUF_SIZE);
    if (!ctx->loop || !ctx->rbuf) {
        tt_loop_free(ctx->loop);
        free(ctx->rbuf);
        free(ctx);
        return NULL;
    }
    atomic_init(&ctx->stop, 0);
    atomic_init(&ctx->wake_req, 0);
    ctx->now = tt_now_ms();
    return ctx;
}

void tether_ctx_free(tether_ctx *ctx) {
    if (!ctx) return;
    tt_events_free_all(ctx);
    for (size_t i = 0; i < ctx->nslots; i++) {
        tether_conn *c = ctx->slots[i];
        ctx->slots[i] = NULL; /* work posted from threads must not find it */
        if (c) tt_conn_free(c);
    }
    while (ctx->listeners)
        tether_listener_close(ctx->listeners);
    tt_app_timers_free(ctx);
    tt_loop_free(ctx->loop); /* runs posted work, which finds no connection */
    free(ctx->slots);
    free(ctx->gens);
    free(ctx->free_slots);
    free(ctx->rbuf);
    free(ctx->stack_scratch);
    tt_pmd_shared_free(ctx->pmd_shared); /* after the connections that borrow from it */
    tt_bufpool_clear(&ctx->bufpool);     /* ... and this too */
    tt_tls_ctx_unref(ctx->tls_client);
    tt_tls_opts_free(&ctx->tls_client_opts);
    free(ctx);
}

int tether_ctx_set_send_budget(tether_ctx *ctx, size_t bytes) {
    if (!ctx) return TETHER_E_INVAL;
    ctx->send_budget = bytes;
    return 0;
}

size_t tether_ctx_buffered(const tether_ctx *ctx) {
    return ctx ? ctx->queued : 0;
}

int tether_ctx_set_callback(tether_ctx *ctx, tether_event_cb cb, void *user) {
    if (!ctx) return TETHER_E_INVAL;
    if (ctx->q_head && !cb) return TETHER_E_STATE;
    ctx->cb = cb;
    ctx->cb_user = user;
    return 0;
}

/* Writes the connections with output waiting: the round's, or the sends
 * cork held (each as an uncorked send would have been written). */
static void tt_ctx_flush_held(tether_ctx *ctx) {
    tt_wire_batch_flush(ctx);
    while (ctx->dirty) {
        tether_conn *c = ctx->dirty;
        ctx->dirty = c->next_dirty;
        c->dirty = 0;
        tt_conn_flush(c);
    }
}

static void tt_ctx_run_lists(tether_ctx *ctx) {
    while (ctx->runnable) {
        tether_conn *c = ctx->runnable;
        ctx->runnable = c->next_runnable;
        c->runnable = 0;
        tt_conn_resume(c);
    }
    tt_ctx_flush_held(ctx);
}

/* Frees the connections that ended in the round (conn_life.c buries them:
 * inside a round something may still point at them). */
void tt_ctx_free_grave(tether_ctx *ctx) {
    while (ctx->grave) {
        tether_conn *c = ctx->grave;
        ctx->grave = c->next_grave;
        tt_ctx_remove_conn(ctx, c);
        tt_conn_free(c);
    }
}

/* ---- rounds -------------------------------------------------------------- */

static tether_event *tt_queue_pop(tether_ctx *ctx);

/* Callback mode: events queued outside a round go out first in the next. */
static void tt_ctx_dispatch_queued(tether_ctx *ctx) {
    tether_event *ev;
    while (ctx->cb && (ev = tt_queue_pop(ctx)) != NULL) {
        ctx->cb(ctx, ev, ctx->cb_user);
        tether_event_release(ev);
    }
}

static int tt_ctx_round(tether_ctx *ctx, int timeout_ms) {
    ctx->in_service++;
    ctx->now = tt_now_ms();
    tt_ctx_dispatch_queued(ctx);
    tt_ctx_run_lists(ctx);
    if (ctx->q_head || ctx->runnable || atomic_load(&ctx->stop)) timeout_ms = 0;
    int n = tt_loop_poll(ctx->loop, timeout_ms);
    ctx->now = tt_now_ms();
    /* The loop is also woken by tether_ctx_stop() and by the library itself
     * (work queued outside a round); only tether_ctx_wake() means a WAKE
     * event, so it is flagged apart. Without this, stopping from a callback
     * produced a WAKE on the next round, whose callback stopped again... */
    tt_loop_take_wake(ctx->loop);
    if (atomic_exchange(&ctx->wake_req, 0)) tt_emit(tt_event_new(ctx, TETHER_EV_WAKE, NULL));
    tt_ctx_run_lists(ctx);
    ctx->in_service--;
    if (!ctx->in_service) tt_ctx_free_grave(ctx);
    return n;
}

/* Neither may be called from inside a round (a callback): the round's
 * lists and the loop's dispatch are not re-entrant, and a nested
 * tether_ctx_run() would block inside the outer round. */
int tether_ctx_service(tether_ctx *ctx, int timeout_ms) {
    if (!ctx) return TETHER_E_INVAL;
    if (ctx->in_service) return TETHER_E_STATE;
    return tt_ctx_round(ctx, timeout_ms);
}

int tether_ctx_run(tether_ctx *ctx) {
    if (!ctx) return TETHER_E_INVAL;
    if (!ctx->cb || ctx->running || ctx->in_service) return TETHER_E_STATE;
    ctx->running = 1;
    int rc = 0;
    while (!atomic_exchange(&ctx->stop, 0) && rc >= 0)
        rc = tt_ctx_round(ctx, -1);
    ctx->running = 0;
    return rc < 0 ? rc : 0;
}

int tether_ctx_stop(tether_ctx *ctx) {
    if (!ctx) return TETHER_E_INVAL;
    atomic_store(&ctx->stop, 1);
    return tt_loop_wake(ctx->loop);
}

int tether_ctx_wake(tether_ctx *ctx) {
    if (!ctx) return TETHER_E_INVAL;
    atomic_store(&ctx->wake_req, 1); /* before the eventfd write the round will see */
    return tt_loop_wake(ctx->loop);
}

int tether_ctx_fd(const tether_ctx *ctx) {
    return ctx ? tt_loop_fd(ctx->loop) : TETHER_E_INVAL;
}

int tether_ctx_set_cork(tether_ctx *ctx, int on) {
    if (!ctx || (on != 0 && on != 1)) return TETHER_E_INVAL;
    ctx->corked = on;
    if (!on && !ctx->in_service) tt_ctx_flush_held(ctx);
    return 0;
}

int tether_ctx_set_event_copy(tether_ctx *ctx, size_t max) {
    if (!ctx) return TETHER_E_INVAL;
    ctx->event_copy = max;
    return 0;
}

int tether_ctx_flush(tether_ctx *ctx) {
    if (!ctx) return TETHER_E_INVAL;
    if (ctx->in_service) return TETHER_E_STATE;
    tt_ctx_flush_held(ctx);
    return 0;
}

int tether_ctx_timeout(const tether_ctx *ctx) {
    if (!ctx) return TETHER_E_INVAL;
    if (ctx->q_head || ctx->runnable || ctx->dirty) return 0;
    return tt_loop_next_timeout(ctx->loop);
}

static tether_event *tt_queue_pop(tether_ctx *ctx) {
    tether_event *ev = ctx->q_head;
    if (!ev) return NULL;
    ctx->q_head = ev->next;
    if (!ctx->q_head) ctx->q_tail = NULL;
    ev->next = NULL;
    return ev;
}

int tether_next_event(tether_ctx *ctx, int timeout_ms, tether_event **out) {
    if (!ctx || !out) return TETHER_E_INVAL;
    *out = NULL;
    if (ctx->cb || ctx->in_service) return TETHER_E_STATE;
    uint64_t deadline = timeout_ms > 0 ? tt_now_ms() + (uint64_t)timeout_ms : 0;
    for (;;) {
        if ((*out = tt_queue_pop(ctx)) != NULL) return 0;
        if (atomic_exchange(&ctx->stop, 0)) return TETHER_E_AGAIN;
        int wait = -1;
        if (timeout_ms == 0)
            wait = 0;
        else if (deadline) {
            uint64_t now = tt_now_ms();
            wait = now >= deadline ? 0 : (int)(deadline - now);
        }
        int rc = tt_ctx_round(ctx, wait);
        if (rc < 0) return rc;
        if (!ctx->q_head && wait == 0) return TETHER_E_AGAIN;
    }
}

int tether_next_events(tether_ctx *ctx, int timeout_ms, tether_event **out, size_t max) {
    if (!ctx || !out || max == 0) return TETHER_E_INVAL;
    if (max > INT_MAX) max = INT_MAX;
    size_t n = 0;
    while (n < max) {
        int rc = tether_next_event(ctx, n ? 0 : timeout_ms, &out[n]);
        if (rc == TETHER_E_AGAIN) break;
        if (rc < 0) return n ? (int)n : rc;
        n++;
    }
    return (int)n;
}
