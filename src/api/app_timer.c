/* Timers for applications on a context's loop (tether_timer_start): the
 * loop's own timers, with a callback of the user's, repeated when asked.
 * Each is on its context's list, so tether_ctx_free() frees the ones the
 * application left running. */
#include "api/api.h"

#include <stdlib.h>

struct tether_timer {
    tt_timer t; /* first: the loop hands back a pointer to it */
    tether_ctx *ctx;
    tether_timer_cb cb;
    void *user;
    unsigned every_ms;
    unsigned firing : 1;  /* inside its callback */
    unsigned stopped : 1; /* stopped from its callback: freed when it returns */
    tether_timer *prev, *next;
};

static void tt_app_timer_free(tether_timer *at) {
    tether_ctx *ctx = at->ctx;
    tt_timer_stop(ctx->loop, &at->t);
    if (at->prev)
        at->prev->next = at->next;
    else
        ctx->timers = at->next;
    if (at->next) at->next->prev = at->prev;
    free(at);
}

static void tt_app_timer_fire(tt_timer *t) {
    tether_timer *at = (tether_timer *)t;
    at->firing = 1;
    at->cb(at, at->user);
    at->firing = 0;
    if (at->stopped) {
        tt_app_timer_free(at);
        return;
    }
    if (at->every_ms) tt_timer_start(at->ctx->loop, &at->t, at->every_ms);
}

int tether_timer_start(tether_ctx *ctx, unsigned after_ms, unsigned every_ms, tether_timer_cb cb,
                       void *user, tether_timer **out) {
    if (out) *out = NULL;
    if (!ctx || !cb || !out) return TETHER_E_INVAL;
    tether_timer *at = calloc(1, sizeof *at);
    if (!at) return TETHER_E_NOMEM;
    tt_timer_init(&at->t, tt_app_timer_fire);
    at->ctx = ctx;
    at->cb = cb;
    at->user = user;
    at->every_ms = every_ms;
    if (tt_timer_start(ctx->loop, &at->t, after_ms) < 0) {
        free(at);
        return TETHER_E_NOMEM;
    }
    at->next = ctx->timers;
    if (at->next) at->next->prev = at;
    ctx->timers = at;
    tt_loop_wake(ctx->loop); /* a loop asleep in epoll_wait sees the new deadline */
    *out = at;
    return 0;
}

int tether_timer_stop(tether_timer *at) {
    if (!at) return TETHER_E_INVAL;
    if (at->firing) { /* its own callback: free it once that returns */
        at->stopped = 1;
        return 0;
    }
    tt_app_timer_free(at);
    return 0;
}

void tt_app_timers_free(tether_ctx *ctx) {
    while (ctx->timers)
        tt_app_timer_free(ctx->timers);
}
