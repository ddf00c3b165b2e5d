/* Events: pooled (no allocation per message once warm), handed to the
 * callback at once in callback mode or queued in poll mode, and released
 * either way through tether_event_release(), which is where holding an
 * event ends: a paused connection resumes, a REQUEST decision applies, a
 * finished connection may be freed. The CLOSED events of connections that
 * end outside the WebSocket are made here too. */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tether_event *tt_event_new(tether_ctx *ctx, int type, tether_conn *c) {
    tether_event *ev = ctx->free_events;
    if (ev)
        ctx->free_events = ev->next;
    else if (!(ev = malloc(sizeof *ev)))
        return NULL;
    memset(ev, 0, offsetof(tether_event, reason));
    ev->reason[0] = 0;
    ev->next = NULL;
    ev->ctx = ctx;
    ev->type = type;
    ev->conn = c;
    if (c) c->held++;
    return ev;
}

/* A plain HTTP connection's usual end: the client left between requests,
 * or sent none within the keep-alive time. */
static int tt_event_http_end(const tether_event *ev) {
    return ev->conn->http && (ev->error == TETHER_E_CLOSED || ev->error == TETHER_E_TIMEOUT);
}

/* A server's refusal the application decided on (tether_conn_reject()) is
 * no failure of the library's: it is told at INFO. */
static int tt_event_deliberate(const tether_event *ev) {
    const tether_conn *c = ev->conn;
    return c->role == TETHER_ROLE_SERVER && c->decided < 0 && ev->error == TETHER_E_HS_STATUS;
}

/* Lifecycle lines: opens and clean closes are notices, failures warnings. */
static void tt_event_log(const tether_event *ev) {
    if (ev->type == TETHER_EV_RETRY && tt_log_on(TETHER_LOG_NOTICE)) {
        tt_log(TETHER_LOG_NOTICE, "conn %llu: client lost (%d %s), connecting again in %u ms",
               (unsigned long long)ev->conn->id, ev->code, ev->reason, ev->retry_ms);
        return;
    }
    if (ev->type != TETHER_EV_OPEN && ev->type != TETHER_EV_CLOSED) return;
    int failed = ev->type == TETHER_EV_CLOSED && ev->error && !tt_event_http_end(ev);
    int level = !failed                   ? TETHER_LOG_NOTICE
                : tt_event_deliberate(ev) ? TETHER_LOG_INFO
                                          : TETHER_LOG_WARN;
    if (!tt_log_on(level)) return;
    const tether_conn *c = ev->conn;
    const char *role = c->role == TETHER_ROLE_SERVER ? "server" : "client";
    if (ev->type == TETHER_EV_OPEN) {
        const char *x = c->extensions;
        tt_log(level, "conn %llu: %s open%s%s%s", (unsigned long long)c->id, role,
               tt_conn_tls(c) ? " over TLS" : "", x ? ", " : "", x ? x : "");
    } else {
        tt_log(level, "conn %llu: %s closed %d%s%s%s", (unsigned long long)c->id, role, ev->code,
               ev->reason_len ? " \"" : "", ev->reason, ev->reason_len ? "\"" : "");
    }
}

void tt_emit(tether_event *ev) {
    if (!ev) return; /* out of memory: the event is lost, the state is not */
    tether_ctx *ctx = ev->ctx;
    tt_event_log(ev);
    if (ctx->cb && ctx->in_service) {
        ctx->cb(ctx, ev, ctx->cb_user);
        tether_event_release(ev);
        return;
    }
    /* Poll mode, or an event caused by a call the user made outside a
     * round: queue it (the next round dispatches it in callback mode). */
    tt_emit_later(ev);
}

void tt_emit_later(tether_event *ev) {
    if (!ev) return;
    tether_ctx *ctx = ev->ctx;
    if (ctx->q_tail)
        ctx->q_tail->next = ev;
    else
        ctx->q_head = ev;
    ctx->q_tail = ev;
    if (ctx->cb) tt_loop_wake(ctx->loop); /* the next round dispatches it */
}

void tt_emit_simple(tether_conn *c, int type) {
    tt_emit(tt_event_new(c->ctx, type, c));
}

/* A client with a retry policy says RETRY instead of CLOSED when the end is
 * one worth another attempt; its socket still closes, but the connection
 * lives on and connects again (client.c). */
static void tt_event_maybe_retry(tether_event *ev, tether_conn *c) {
    c->retrying = 0;
    int ms = c->cls->retry_delay ? c->cls->retry_delay(c, ev) : -1;
    if (ms < 0) return;
    ev->type = TETHER_EV_RETRY;
    ev->retry_ms = (unsigned)ms;
    ev->retry_attempt = c->cl ? c->cl->retries : 0;
    c->retrying = 1;
    c->closed_out = 0; /* a CLOSED is still to come, some day */
}

static void tt_event_set_close(tether_event *ev, tether_conn *c, const tt_ws_ev *w) {
    ev->code = w->code;
    ev->clean = w->clean;
    ev->error = w->error;
    ev->reason_len =
        w->reason_len < TETHER_MAX_CLOSE_REASON ? w->reason_len : TETHER_MAX_CLOSE_REASON;
    memcpy(ev->reason, w->reason, ev->reason_len);
    ev->reason[ev->reason_len] = 0;
    c->closed_out = 1;
    if (w->error && !c->error) {
        c->error = w->error;
        tt_conn_set_error_text(c, ev->reason);
    }
    tt_event_maybe_retry(ev, c);
}

/* Poll mode with copies on (tether_ctx_set_event_copy): a payload small
 * enough goes into the event (a control payload's room when it fits), the
 * engine is done with its own at once, as when a callback returns, and the
 * connection reads on - up to TT_EVENT_COPY_HELD events held, then it
 * pauses as without copies. Returns 0 when the event keeps pointing into
 * the connection's buffers instead. */
#define TT_EVENT_COPY_HELD 64
static int tt_event_copy(tether_event *ev, tether_conn *c, const tt_ws_ev *w) {
    if (!c->ctx->event_copy || w->len > c->ctx->event_copy || c->held > TT_EVENT_COPY_HELD)
        return 0;
    uint8_t *p = ev->ctl;
    if (w->len > sizeof ev->ctl && !(p = malloc(w->len))) return 0;
    if (w->len) memcpy(p, w->data, w->len);
    ev->data = p;
    ev->copied = 1;
    tt_ws_event_done(&c->ws, w->type);
    return 1;
}

static void tt_event_free_copy(tether_event *ev) {
    if (ev->copied && ev->data != ev->ctl) free((void *)ev->data);
    ev->copied = 0;
}

/* Turns a WebSocket event into a public one. Data events pause the
 * connection while held in poll mode (their data lives in the connection),
 * unless copied (above); control payloads are copied into the event. */
tether_event *tt_event_from_ws(tether_conn *c, const tt_ws_ev *w) {
    tether_event *ev = tt_event_new(c->ctx, tt_ws_ev_public_type(w->type), c);
    if (!ev) return NULL;
    ev->opcode = w->opcode;
    ev->fin = w->fin;
    ev->data = w->data;
    ev->len = w->len;
    if (w->type == TT_WS_EV_MESSAGE || w->type == TT_WS_EV_FRAGMENT) {
        c->stats.msgs_in += w->type == TT_WS_EV_MESSAGE || w->fin;
        c->stats.payload_in += w->len;
        /* ws_rx.c refused text that was not UTF-8, unless told not to look */
        ev->utf8_ok = w->opcode == TETHER_OP_TEXT && c->opts->cfg.utf8_check;
    }
    if (w->type == TT_WS_EV_PONG) tt_stats_pong(c);
    if (w->type == TT_WS_EV_PING || w->type == TT_WS_EV_PONG) {
        memcpy(ev->ctl, w->data, w->len);
        ev->data = ev->ctl;
    } else if (w->type == TT_WS_EV_CLOSE) {
        tt_event_set_close(ev, c, w);
        ev->data = NULL;
        ev->len = 0;
    } else if (!c->ctx->cb && !tt_event_copy(ev, c, w)) {
        c->paused = 1;
    }
    return ev;
}

void tt_emit_ws(tether_conn *c, const tt_ws_ev *w) {
    tt_emit(tt_event_from_ws(c, w));
}

tether_event *tt_conn_closed_event(tether_conn *c, int err, const char *text) {
    c->error = err;
    if (!text) text = tether_strerror(err);
    tt_conn_set_error_text(c, text);
    if (c->silent || c->closed_out) return NULL;
    c->closed_out = 1;
    tether_event *ev = tt_event_new(c->ctx, TETHER_EV_CLOSED, c);
    if (!ev) return NULL;
    size_t n = strlen(text);
    ev->code = TETHER_CLOSE_ABNORMAL;
    ev->error = err;
    ev->reason_len = n > TETHER_MAX_CLOSE_REASON ? TETHER_MAX_CLOSE_REASON : n;
    memcpy(ev->reason, text, ev->reason_len);
    ev->reason[ev->reason_len] = 0;
    tt_event_maybe_retry(ev, c);
    return ev;
}

/* What releasing an event means for its connection; what it means for
 * the role (a REQUEST's decision) is the role's. */
static void tt_event_release_conn(tether_event *ev, tether_conn *c) {
    c->held--;
    if (c->cls->released) c->cls->released(c, ev->type);
    if (c->phase == TT_PH_RETRY && !c->held) c->cls->retry(c); /* a wait may be over */
    switch (ev->type) {
    case TETHER_EV_MESSAGE:
    case TETHER_EV_FRAGMENT:
        if (ev->copied) { /* the engine was done with its payload when it was made */
            tt_event_free_copy(ev);
            break;
        }
        tt_ws_event_done(&c->ws,
                         ev->type == TETHER_EV_MESSAGE ? TT_WS_EV_MESSAGE : TT_WS_EV_FRAGMENT);
        if (c->paused) {
            c->paused = c->read_parked = 0;
            tt_conn_wake(c);
        }
        break;
    case TETHER_EV_CLOSED:
        c->user_done = 1;
        break;
    default:
        break;
    }
    tt_conn_maybe_free(c);
}

void tether_event_release(tether_event *ev) {
    if (!ev) return;
    tether_ctx *ctx = ev->ctx;
    if (ev->conn) tt_event_release_conn(ev, ev->conn);
    ev->next = ctx->free_events;
    ctx->free_events = ev;
}

void tt_events_free_all(tether_ctx *ctx) {
    tether_event *ev;
    while ((ev = ctx->q_head) != NULL) {
        ctx->q_head = ev->next;
        tt_event_free_copy(ev);
        free(ev);
    }
    ctx->q_tail = NULL;
    while ((ev = ctx->free_events) != NULL) {
        ctx->free_events = ev->next;
        free(ev);
    }
}

/* ---- accessors ----------------------------------------------------------- */

int tether_event_type_of(const tether_event *ev) {
    return ev ? ev->type : TETHER_E_INVAL;
}

tether_conn *tether_event_conn(const tether_event *ev) {
    return ev ? ev->conn : NULL;
}

const uint8_t *tether_event_data(const tether_event *ev, size_t *len) {
    if (len) *len = ev ? ev->len : 0;
    return ev && ev->data ? ev->data : (const uint8_t *)"";
}

int tether_event_opcode(const tether_event *ev) {
    return ev ? ev->opcode : TETHER_E_INVAL;
}

int tether_event_fin(const tether_event *ev) {
    return ev ? ev->fin : TETHER_E_INVAL;
}

int tether_event_close_code(const tether_event *ev) {
    return ev ? ev->code : TETHER_E_INVAL;
}

const char *tether_event_close_reason(const tether_event *ev, size_t *len) {
    if (len) *len = ev ? ev->reason_len : 0;
    return ev ? ev->reason : "";
}

int tether_event_retry_delay(const tether_event *ev) {
    return ev && ev->type == TETHER_EV_RETRY ? (int)ev->retry_ms : TETHER_E_INVAL;
}

int tether_event_retry_attempt(const tether_event *ev) {
    return ev && ev->type == TETHER_EV_RETRY ? (int)ev->retry_attempt : TETHER_E_INVAL;
}

int tether_event_clean(const tether_event *ev) {
    return ev ? ev->clean : 0;
}

int tether_event_error(const tether_event *ev) {
    return ev ? ev->error : TETHER_E_INVAL;
}
