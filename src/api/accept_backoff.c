/* After a failed accept() (the process or the system out of descriptors,
 * the kernel out of memory) the listener stays readable: retrying at once
 * would spin at 100% CPU while new clients wait in the backlog. Accepting
 * pauses this long, or until a connection closes (conn_life.c gives a
 * descriptor back), whichever comes first. */
#include "api/api.h"

#define TT_ACCEPT_BACKOFF_MS 100

void tt_listener_pause(tether_listener *l, int err) {
    if (!l->warned)
        tt_log(TETHER_LOG_WARN, "listener on port %d: accept failed (%s); pausing for %d ms",
               l->port, tether_strerror(err), TT_ACCEPT_BACKOFF_MS);
    l->warned = 1; /* once per episode: a spinning log is a busy loop too */
    if (!l->paused) l->ctx->paused_listeners++;
    l->paused = 1;
    tt_loop_mod(l->ctx->loop, &l->io, 0);
    tt_timer_start(l->ctx->loop, &l->backoff, TT_ACCEPT_BACKOFF_MS);
}

static void tt_listener_resume(tether_listener *l) {
    if (!l->paused) return;
    l->paused = 0;
    l->ctx->paused_listeners--;
    tt_timer_stop(l->ctx->loop, &l->backoff);
    tt_loop_mod(l->ctx->loop, &l->io, TT_IO_READ);
}

void tt_listeners_resume(tether_ctx *ctx) {
    for (tether_listener *l = ctx->listeners; l; l = l->next)
        tt_listener_resume(l);
}

void tt_listener_on_backoff(tt_timer *t) {
    tt_listener_resume((tether_listener *)((char *)t - offsetof(tether_listener, backoff)));
}
