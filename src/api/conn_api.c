/* The public functions on a connection. Sends go through the WebSocket
 * state machine's queue; tt_conn_after_send decides when they hit the
 * socket (now, or at the end of the current round). */
#include "api/api.h"
#include "proto/request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int tt_conn_sendable(const tether_conn *c) {
    if (!c) return TETHER_E_INVAL;
    return c->phase == TT_PH_OPEN ? 0 : TETHER_E_STATE;
}

int tt_conn_within_budget(const tether_conn *c, size_t len) {
    const tether_ctx *ctx = c->ctx;
    if (!ctx->send_budget) return 0;
    return len <= ctx->send_budget && ctx->queued <= ctx->send_budget - len ? 0
                                                                            : TETHER_E_BACKPRESSURE;
}

/* A whole message; its text is scanned for UTF-8 if check_utf8. */
static int tt_conn_send_message(tether_conn *c, tether_opcode opcode, const void *data, size_t len,
                                int check_utf8) {
    int rc = tt_conn_sendable(c);
    if (!rc) rc = tt_conn_within_budget(c, len);
    if (!rc) rc = tt_ws_send_checked(&c->ws, opcode, data, len, check_utf8);
    if (!rc) {
        c->stats.msgs_out++;
        c->stats.payload_out += len;
        tt_conn_after_data(c);
    }
    return rc;
}

int tether_conn_send(tether_conn *c, tether_opcode opcode, const void *data, size_t len) {
    return tt_conn_send_message(c, opcode, data, len, opcode == TETHER_OP_TEXT);
}

int tether_conn_forward(tether_conn *c, const tether_event *ev) {
    if (!ev || ev->type != TETHER_EV_MESSAGE) return TETHER_E_INVAL;
    tether_opcode op = (tether_opcode)ev->opcode;
    return tt_conn_send_message(c, op, ev->data, ev->len, op == TETHER_OP_TEXT && !ev->utf8_ok);
}

int tether_conn_send_fragment(tether_conn *c, tether_opcode opcode, const void *data, size_t len,
                              int fin) {
    int rc = tt_conn_sendable(c);
    if (!rc) rc = tt_conn_within_budget(c, len);
    if (!rc) rc = tt_ws_send_fragment(&c->ws, opcode, data, len, fin);
    if (!rc) {
        c->stats.msgs_out += fin != 0;
        c->stats.payload_out += len;
        tt_conn_after_data(c);
    }
    return rc;
}

int tether_conn_ping(tether_conn *c, const void *data, size_t len) {
    int rc = tt_conn_sendable(c);
    if (!rc) rc = tt_ws_ping(&c->ws, data, len);
    if (!rc) tt_stats_ping_sent(c);
    if (!rc) tt_conn_after_send(c);
    return rc;
}

/* A client that has not opened yet is abandoned at once: CLOSED (1006,
 * "cancelled") follows in the next round. */
static int tt_conn_cancel(tether_conn *c) {
    static const char why[] = "cancelled before the connection opened";
    tether_event *ev = tt_conn_closed_event(c, 0, why);
    tt_conn_shut(c);
    tt_emit_later(ev);
    return 0;
}

int tether_conn_close(tether_conn *c, int code, const char *reason) {
    if (c && c->role == TETHER_ROLE_CLIENT) c->user_closed = 1; /* never to be retried */
    if (c && c->role == TETHER_ROLE_CLIENT && c->phase < TT_PH_OPEN) return tt_conn_cancel(c);
    /* an HTTP connection, serving a request or waiting for the next */
    if (c && c->http && (c->phase == TT_PH_HTTP || c->phase == TT_PH_HS_SERVER))
        return tt_http_close(c);
    int rc = tt_conn_sendable(c);
    if (!rc) rc = tt_ws_close(&c->ws, code, reason, tt_now_ms());
    if (!rc) tt_conn_after_send(c); /* also arms the close timeout */
    return rc;
}

int tether_conn_pause_reading(tether_conn *c, int on) {
    if (!c || (on != 0 && on != 1)) return TETHER_E_INVAL;
    if (c->user_paused == on) return 0;
    c->user_paused = on;
    if (!on)
        tt_conn_wake(c); /* input may be waiting in c->pending */
    else if (c->phase != TT_PH_DEAD)
        tt_conn_set_interest(c, c->io.events & ~TT_IO_READ);
    return 0;
}

size_t tether_conn_buffered(const tether_conn *c) {
    return c ? tt_conn_owed(c) : 0;
}

uint64_t tether_conn_id(const tether_conn *c) {
    return c ? c->id : 0;
}

void tether_conn_set_user(tether_conn *c, void *user) {
    if (c) c->user = user;
}

void *tether_conn_user(const tether_conn *c) {
    return c ? c->user : NULL;
}

const char *tether_conn_path(const tether_conn *c) {
    if (!c) return NULL;
    if (c->req) return tt_request_path(c->req);
    if (c->shs) return tether_server_hs_path(c->shs);
    return c->cl ? c->cl->url.target : NULL;
}

const char *tether_conn_query(const tether_conn *c) {
    if (!c) return NULL;
    if (c->req) return tt_request_query(c->req);
    if (c->shs) return tether_server_hs_query(c->shs);
    const char *q = c->cl && c->cl->url.target ? strchr(c->cl->url.target, '?') : NULL;
    return q ? q + 1 : NULL;
}

const char *tether_conn_header(const tether_conn *c, const char *name) {
    if (!c || !name) return NULL;
    if (c->req) return tt_request_header(c->req, name);
    if (c->shs) return tether_server_hs_header(c->shs, name);
    return c->chs ? tether_client_hs_header(c->chs, name) : NULL;
}

size_t tether_conn_header_count(const tether_conn *c) {
    if (!c) return 0;
    if (c->req) return tt_request_header_count(c->req);
    if (c->shs) return tether_server_hs_header_count(c->shs);
    return c->chs ? tether_client_hs_header_count(c->chs) : 0;
}

int tether_conn_header_at(const tether_conn *c, size_t i, const char **name, const char **value) {
    if (!c) return TETHER_E_INVAL;
    if (c->req) return tt_request_header_at(c->req, i, name, value);
    if (c->shs) return tether_server_hs_header_at(c->shs, i, name, value);
    return c->chs ? tether_client_hs_header_at(c->chs, i, name, value) : TETHER_E_INVAL;
}

const char *tether_conn_peer(const tether_conn *c) {
    return c && c->peer[0] ? c->peer : NULL;
}

int tether_conn_address(const tether_conn *c, int which, char *buf, size_t len) {
    if (!c || !buf || len < TETHER_ADDRESS_MAX) return TETHER_E_INVAL;
    if (which != TETHER_ADDRESS_PEER && which != TETHER_ADDRESS_LOCAL) return TETHER_E_INVAL;
    if (which == TETHER_ADDRESS_PEER && c->peer[0]) { /* a server's: known since accept */
        snprintf(buf, len, "%s", c->peer);
        return (int)strlen(buf);
    }
    if (c->io.fd < 0 || c->h2_id || c->phase == TT_PH_DEAD) return TETHER_E_STATE;
    int rc = tt_sock_name_text(c->io.fd, which == TETHER_ADDRESS_LOCAL, buf, len);
    if (rc < 0) {
        errno = -rc;
        return rc == -ENOTCONN ? TETHER_E_STATE : TETHER_E_IO;
    }
    return (int)strlen(buf);
}

int tether_conn_http2_stream(const tether_conn *c) {
    return c ? c->h2_id : TETHER_E_INVAL;
}

int tether_conn_http_status(const tether_conn *c) {
    if (!c) return TETHER_E_INVAL;
    return c->chs ? tether_client_hs_status(c->chs) : 0;
}

const char *tether_conn_protocol(const tether_conn *c) {
    if (!c) return NULL;
    if (c->chs) return c->phase >= TT_PH_OPEN ? tether_client_hs_protocol(c->chs) : NULL;
    return c->chosen_protocol;
}

const char *tether_conn_error_text(const tether_conn *c) {
    if (!c || !c->error) return NULL;
    return c->error_text ? c->error_text : tether_strerror(c->error); /* (no memory for it) */
}

int tether_conn_os_error(const tether_conn *c) {
    return c ? c->os_error : 0;
}

const char *tether_conn_extensions(const tether_conn *c) {
    return c ? c->extensions : NULL;
}

const char *tether_conn_tls_version(const tether_conn *c) {
    tt_tls *t = c ? tt_conn_tls(c) : NULL;
    return t && tt_tls_established(t) ? tt_tls_version(t) : NULL;
}

const char *tether_conn_tls_cipher(const tether_conn *c) {
    tt_tls *t = c ? tt_conn_tls(c) : NULL;
    return t && tt_tls_established(t) ? tt_tls_cipher(t) : NULL;
}
