/*
 * tether_uv.h - run a tether context on a libuv loop you own.
 *
 * Header-only: every function here is static inline, so libtether itself
 * never links libuv and its ABI does not depend on libuv's. Include it
 * after (or instead of) <uv.h> and link your program with libuv.
 *
 * It is the foreign-loop contract of tether.h spelled out for libuv:
 * - a uv_poll_t watches tether_ctx_fd() for UV_READABLE;
 * - a uv_timer_t fires when tether_ctx_timeout() says timed work is due,
 *   and a uv_idle_t stands in for it while the timeout is 0 (work left
 *   over: serviced on every loop turn, I/O still polled in between);
 * - any of them calls tether_ctx_service(ctx, 0), after which the timer is
 *   re-armed for the new tether_ctx_timeout();
 * - a uv_prepare_t re-arms the timer before each time libuv blocks, so a
 *   timeout that changed outside a service (tether_connect(),
 *   tether_conn_close() called from your own uv callbacks) is honoured too.
 *
 *   tether_uv tu;
 *   tether_ctx *ctx = tether_ctx_new();
 *   tether_ctx_set_callback(ctx, on_event, NULL);
 *   tether_uv_start(&tu, uv_default_loop(), ctx);
 *   ...connect, listen...
 *   uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 *   ...and from a callback, when done:
 *   tether_uv_stop(&tu, on_closed);   -> on_closed frees ctx, or later
 *
 * Callback mode is the natural fit: events are dispatched from inside the
 * service. In poll mode, give tether_uv_set_after_service() a function that
 * drains tether_next_event(ctx, 0, &ev) until TETHER_E_AGAIN; events left
 * queued keep tether_ctx_timeout() at 0, and so the loop busy.
 *
 * Threads: a tether_uv, its uv loop and its context are used from the
 * loop's thread only, like every libuv handle. Other threads reach the
 * context through tether's thread-safe calls (tether_ctx_post_send(),
 * tether_ctx_wake()...), whose wake-up makes tether_ctx_fd() readable and
 * so reaches the loop through the uv_poll_t.
 */
#ifndef TETHER_UV_H
#define TETHER_UV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "tether.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tether_uv tether_uv;

/* Called after every tether_ctx_service() the glue makes (poll mode: drain
 * events here). */
typedef void (*tether_uv_after_cb)(tether_uv *h);

/* The glue's state: embed it in your own structure or allocate it; it must
 * stay at the same address from tether_uv_start() until the close callback
 * of tether_uv_stop() has run. Fields are for the glue, except `data`,
 * which is yours. */
struct tether_uv {
    uv_poll_t poll;       /* watches tether_ctx_fd() */
    uv_timer_t timer;     /* tether_ctx_timeout() > 0 */
    uv_idle_t idle;       /* tether_ctx_timeout() == 0: service on every loop turn */
    uv_prepare_t prepare; /* re-arms the timer before libuv blocks */
    tether_ctx *ctx;
    tether_uv_after_cb after;
    uv_close_cb close_cb;
    int closing;     /* handles still to be closed by tether_uv_stop() */
    int started;     /* between start and stop */
    int last_error;  /* last negative result of tether_ctx_service(), or 0 */
    long long armed; /* the timeout the timer was last armed with (-1: off) */
    void *data;      /* yours: the glue never touches it */
};

/* Internal: the handles' callbacks and the arming they share. */
static inline void tether_uv__on_timer(uv_timer_t *t);
static inline void tether_uv__on_idle(uv_idle_t *i);

static inline void tether_uv__arm(tether_uv *h) {
    int t = tether_ctx_timeout(h->ctx);
    /* Work ready now: an idle handle, not a 0 ms timer. A timer re-armed
     * with 0 from its own callback runs again in the same timer phase
     * (libuv < 1.45), and the loop would spin there without ever polling
     * for I/O. An active idle handle makes libuv poll without blocking. */
    if (t == 0) {
        uv_idle_start(&h->idle, tether_uv__on_idle); /* no-op when active */
        return;
    }
    uv_idle_stop(&h->idle);
    if (t < 0) {
        if (h->armed >= 0) uv_timer_stop(&h->timer);
        h->armed = -1;
        return;
    }
    /* Leave a timer alone that is already due no later: uv_timer_start() on
     * every loop turn would be wasted work, and one that fires early just
     * services and re-arms. */
    if (h->armed >= 0 && uv_timer_get_due_in(&h->timer) <= (uint64_t)t) return;
    h->armed = t;
    uv_timer_start(&h->timer, tether_uv__on_timer, (uint64_t)t, 0);
}

static inline void tether_uv__service(tether_uv *h) {
    if (!h->started) return;
    int rc = tether_ctx_service(h->ctx, 0);
    if (rc < 0) h->last_error = rc;
    if (h->after && h->started) h->after(h);
    if (h->started) tether_uv__arm(h); /* tether_uv_stop() may have run meanwhile */
}

static inline void tether_uv__on_poll(uv_poll_t *p, int status, int events) {
    (void)status; /* an error on the epoll fd: servicing is still right */
    (void)events;
    tether_uv__service((tether_uv *)p->data);
}

static inline void tether_uv__on_timer(uv_timer_t *t) {
    tether_uv *h = (tether_uv *)t->data;
    h->armed = -1; /* one-shot: it fired */
    tether_uv__service(h);
}

static inline void tether_uv__on_idle(uv_idle_t *i) {
    tether_uv__service((tether_uv *)i->data);
}

static inline void tether_uv__on_prepare(uv_prepare_t *p) {
    tether_uv *h = (tether_uv *)p->data;
    if (h->started) tether_uv__arm(h);
}

/* Starts driving ctx from loop. ctx is not owned: it must outlive the glue
 * (free it only after tether_uv_stop(), e.g. in its close callback), and
 * must not also be run with tether_ctx_run() meanwhile. h is initialized
 * here (any previous content is overwritten, except `data`). Loop thread
 * only. Work already waiting (a tether_connect() made before) is serviced
 * on the loop's next turn.
 * Returns 0, TETHER_E_INVAL (a NULL argument, or ctx without an fd), or
 * TETHER_E_IO when libuv refuses to watch the fd (the handles made so far
 * are closed, with no callback, by the loop's next turn; h must stay valid
 * until then). */
static inline int tether_uv_start(tether_uv *h, uv_loop_t *loop, tether_ctx *ctx) {
    if (!h || !loop || !ctx) return TETHER_E_INVAL;
    int fd = tether_ctx_fd(ctx);
    if (fd < 0) return TETHER_E_INVAL;
    void *data = h->data;
    memset(h, 0, sizeof *h);
    h->data = data;
    h->ctx = ctx;
    h->armed = -1;
    if (uv_poll_init(loop, &h->poll, fd) != 0) return TETHER_E_IO;
    h->poll.data = h;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    uv_idle_init(loop, &h->idle);
    h->idle.data = h;
    uv_prepare_init(loop, &h->prepare);
    h->prepare.data = h;
    if (uv_poll_start(&h->poll, UV_READABLE, tether_uv__on_poll) != 0) {
        uv_close((uv_handle_t *)&h->poll, NULL);
        uv_close((uv_handle_t *)&h->timer, NULL);
        uv_close((uv_handle_t *)&h->idle, NULL);
        uv_close((uv_handle_t *)&h->prepare, NULL);
        return TETHER_E_IO;
    }
    uv_prepare_start(&h->prepare, tether_uv__on_prepare);
    uv_idle_start(&h->idle, tether_uv__on_idle);
    h->started = 1;
    return 0;
}

/* Sets (or clears, with NULL) the function called after each service.
 * Loop thread only. Returns 0 or TETHER_E_INVAL. */
static inline int tether_uv_set_after_service(tether_uv *h, tether_uv_after_cb cb) {
    if (!h) return TETHER_E_INVAL;
    h->after = cb;
    return 0;
}

/* The last error tether_ctx_service() returned through this glue (0 if
 * none); the glue goes on regardless, as the contract asks. */
static inline int tether_uv_last_error(const tether_uv *h) {
    return h ? h->last_error : TETHER_E_INVAL;
}

static inline void tether_uv__on_close(uv_handle_t *handle) {
    tether_uv *h = (tether_uv *)handle->data;
    if (--h->closing == 0 && h->close_cb) h->close_cb((uv_handle_t *)&h->poll);
}

/* Stops driving the context and closes the glue's libuv handles; the
 * context itself is untouched (its connections stay as they are; service
 * it some other way or free it). cb (may be NULL) is called once, from the
 * loop, when all handles are closed, with (uv_handle_t *)&h->poll: from
 * then on h may be freed or reused, and the loop can be closed
 * (uv_loop_close()) once nothing else is on it. Safe from any callback on
 * the loop thread, including a tether event callback running inside the
 * glue's own service. Returns 0, or TETHER_E_STATE when not started (cb
 * is then not called), TETHER_E_INVAL for NULL. */
static inline int tether_uv_stop(tether_uv *h, uv_close_cb cb) {
    if (!h) return TETHER_E_INVAL;
    if (!h->started) return TETHER_E_STATE;
    h->started = 0;
    h->close_cb = cb;
    h->closing = 4;
    uv_close((uv_handle_t *)&h->poll, tether_uv__on_close); /* closing also stops */
    uv_close((uv_handle_t *)&h->timer, tether_uv__on_close);
    uv_close((uv_handle_t *)&h->idle, tether_uv__on_close);
    uv_close((uv_handle_t *)&h->prepare, tether_uv__on_close);
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* TETHER_UV_H */
