/* The server role: an accepted connection reads the upgrade request under
 * a handshake timeout, and hands it to the application as a REQUEST event
 * (path, query, headers, peer). The decision (accept with a sub-protocol
 * and extra headers, or reject with a status) takes effect when the event
 * is released, so callback and poll mode behave the same. A request that is
 * not a valid upgrade is answered with the status tether names for it and
 * never reaches the application. */
#include "api/api.h"
#include "proto/server_hs.h"
#include "stack/h2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A request that is not a valid upgrade: answer with its status, close.
 * The application hears of it only on a connection that served it plain
 * HTTP requests before (CLOSED). */
static void tt_server_refuse(tether_conn *c, int err) {
    int status = tether_error_http_status(err);
    tt_log(TETHER_LOG_INFO, "refused a request from %s: %s (HTTP %d)", c->peer,
           tether_strerror(err), status);
    tt_http_refuse(c, err, status);
}

/* A complete head that is not an upgrade, on a listener that serves plain
 * HTTP: 0 if it is a valid request (then it is being served), else the
 * error to refuse it with. */
static int tt_server_plain(tether_conn *c, int rc, const uint8_t *rest, size_t rest_len) {
    uint64_t length;
    int chunked;
    if (!c->opts->http || rc == TETHER_E_NOMEM) return rc;
    int plain = tt_server_hs_plain(c->shs, &length, &chunked);
    if (plain) return plain;
    tt_http_begin(c, rest, rest_len, length, chunked);
    return 0;
}

/* Feeds request bytes to the head parser: on a complete valid upgrade
 * request the REQUEST event goes out (what follows it waits in pending). */
static void tt_server_take_head(tether_conn *c, const uint8_t *buf, size_t n) {
    size_t used = 0;
    int rc = tether_server_hs_parse(c->shs, buf, n, &used);
    if (rc == TETHER_E_AGAIN) return;
    if (rc != 0) {
        rc = tt_server_plain(c, rc, buf + used, n - used);
        if (rc) tt_server_refuse(c, rc);
        return;
    }
    tt_conn_keep_input(c, buf + used, n - used); /* early frames wait */
    c->phase = TT_PH_REQUEST;
    c->silent = 0;
    tt_conn_set_interest(c, 0);
    tt_emit_simple(c, TETHER_EV_REQUEST);
}

static const tt_h2_opener tt_server_opener;

/* 1 if the connection speaks HTTP/2 (ALPN chose h2, or a cleartext one
 * opens with the client preface), 0 if not, -1 if a preface may be
 * starting. Only the first request can: c->http is made by the first. */
static int tt_server_is_h2(tether_conn *c, const uint8_t *buf, size_t n) {
    if (!c->opts->http2 || c->http || c->h2s) return 0; /* a stream already is HTTP/2 */
    tt_tls *tls = tt_conn_tls(c);
    if (tls) return tt_tls_alpn_is(tls, "h2");
    return tt_h2_preface(buf, n);
}

/* The first bytes of a request, or of an HTTP/2 connection. */
static void tt_server_input(tether_conn *c, const uint8_t *buf, size_t n) {
    int h2 = tt_server_is_h2(c, buf, n);
    if (h2 > 0)
        tt_h2_carrier_start(c, buf, n, &tt_server_opener);
    else if (h2 < 0)
        tt_conn_keep_input(c, buf, n); /* more of the preface, or not */
    else
        tt_server_take_head(c, buf, n);
}

static void tt_server_resume(tether_conn *c);

static void tt_server_on_handshake_io(tether_conn *c, unsigned ready) {
    if (c->phase == TT_PH_HTTP) {
        tt_http_on_io(c, ready);
        return;
    }
    if (ready & TT_IO_WRITE) tt_conn_flush(c);
    if (c->phase != TT_PH_HS_SERVER || !(ready & (TT_IO_READ | TT_IO_ERROR))) return;
    uint8_t *rbuf = c->ctx->rbuf;
    ssize_t n = tt_wire_read(c);
    if (n == TETHER_E_AGAIN) return;
    if (n <= 0) { /* silent: the application never saw it (TLS failures are logged) */
        tt_conn_lost(c, n == 0 ? TETHER_E_CLOSED : (int)n, NULL);
        return;
    }
    if (c->pending_len) { /* the start of a preface came before */
        tt_conn_keep_input(c, rbuf, (size_t)n);
        tt_server_resume(c);
        return;
    }
    tt_server_input(c, rbuf, (size_t)n);
}

/* Input kept before the head was read: a pipelined plain HTTP request
 * after the one just served, or the rest of a request body. */
static void tt_server_resume(tether_conn *c) {
    if (c->phase == TT_PH_HTTP) {
        tt_http_resume(c);
    } else if (c->phase == TT_PH_HS_SERVER && c->pending_len) {
        /* the parser copies what it uses: pending can be let go of */
        uint8_t *buf = c->pending;
        size_t n = c->pending_len;
        c->pending = NULL;
        c->pending_len = c->pending_cap = 0;
        tt_server_input(c, buf, n);
        free(buf);
    }
}

/* ---- the decision -------------------------------------------------------- */

int tether_conn_accept(tether_conn *c, const char *protocol) {
    if (!c) return TETHER_E_INVAL;
    if (c->phase != TT_PH_REQUEST || c->decided) return TETHER_E_STATE;
    if (protocol) {
        int rc = tether_server_hs_select_protocol(c->shs, protocol);
        if (rc) return rc;
        if (!(c->chosen_protocol = strdup(protocol))) return TETHER_E_NOMEM;
    }
    c->decided = 1;
    return 0;
}

int tether_conn_reject(tether_conn *c, int status, const char *body) {
    if (!c || status < 200 || status > 599) return TETHER_E_INVAL;
    if (c->phase != TT_PH_REQUEST || c->decided) return TETHER_E_STATE;
    if (body && !(c->reject_body = strdup(body))) return TETHER_E_NOMEM;
    c->reject_status = status;
    c->decided = -1;
    return 0;
}

int tether_conn_add_header(tether_conn *c, const char *name, const char *value) {
    if (!c) return TETHER_E_INVAL;
    if (c->phase == TT_PH_HTTP) return tt_http_add_header(c, name, value);
    if (c->phase != TT_PH_REQUEST) return TETHER_E_STATE;
    return tether_server_hs_add_header(c->shs, name, value);
}

/* The first protocol the client offers that the options list. */
static void tt_server_auto_protocol(tether_conn *c) {
    const tether_opts *o = c->opts;
    size_t n = tether_server_hs_protocol_count(c->shs);
    for (size_t i = 0; i < n; i++) {
        const char *p = tether_server_hs_protocol_at(c->shs, i);
        for (size_t k = 0; k < o->nprotocols; k++)
            if (strcmp(p, o->protocols[k]) == 0) {
                if (tether_server_hs_select_protocol(c->shs, p) == 0)
                    c->chosen_protocol = strdup(p);
                return;
            }
    }
}

static int tt_server_queue_response(tether_conn *c) {
    const char *resp;
    size_t len;
    const tether_opts *o = c->opts;
    int rc = 0;
    if (!c->chosen_protocol) tt_server_auto_protocol(c);
    if (c->decided >= 0) rc = tt_deflate_server_negotiate(c);
    for (size_t i = 0; i < o->nheaders && !rc; i++)
        rc = tether_server_hs_add_header(c->shs, o->hdr_names[i], o->hdr_values[i]);
    if (!rc)
        rc = c->decided < 0
                 ? tether_server_hs_reject(c->shs, c->reject_status, c->reject_body, &resp, &len)
                 : tether_server_hs_accept(c->shs, &resp, &len);
    if (!rc) rc = tt_outbuf_append(&c->hs_out, resp, len);
    if (rc) return rc;
    /* An accepted connection keeps only its request, in one block; a
     * refused one (about to close) or one short of memory keeps the
     * handshake, fitted. */
    if (c->decided >= 0 && (c->req = tt_server_hs_freeze(c->shs))) {
        tether_server_hs_free(c->shs);
        c->shs = NULL;
    } else {
        tt_server_hs_compact(c->shs);
    }
    return 0;
}

/* The REQUEST event was released: the decision takes effect. */
static void tt_server_released(tether_conn *c, int type) {
    tt_http_released(c, type);
    if (type != TETHER_EV_REQUEST || c->phase != TT_PH_REQUEST) return;
    int rc = tt_server_queue_response(c);
    if (rc || c->decided < 0) {
        char text[48];
        snprintf(text, sizeof text, "rejected with HTTP %d", rc ? 500 : c->reject_status);
        tether_event *ev = tt_conn_closed_event(c, rc ? rc : TETHER_E_HS_STATUS, text);
        tt_conn_linger(c); /* the refusal goes out, then the socket closes */
        tt_emit(ev);
        return;
    }
    tt_conn_open(c, NULL, 0);
}

static const tt_conn_class tt_server_class = {
    .role = TETHER_ROLE_SERVER,
    .on_handshake_io = tt_server_on_handshake_io,
    .released = tt_server_released,
    .resume = tt_server_resume,
    .file_sent = tt_http_file_sent,
    .cleanup = tt_http_free,
};

/* An HTTP/2 request stream: a server connection like an accepted one,
 * reading its request from the stream (its "socket" reads). */
static tether_conn *tt_server_stream(tether_conn *carrier) {
    tether_ctx *ctx = carrier->ctx;
    tether_conn *c = tt_conn_new(ctx, &tt_server_class, tt_opts_ref(carrier->opts), carrier->peer);
    if (!c) {
        tt_opts_unref(carrier->opts);
        return NULL;
    }
    c->silent = 1; /* until the REQUEST or HTTP event */
    if (!(c->shs = tt_server_hs_with_limits(c->opts))) {
        tt_conn_shut(c);
        return NULL;
    }
    c->phase = TT_PH_HS_SERVER;
    c->io.events = TT_IO_READ;
    unsigned t = c->opts->handshake_timeout;
    c->deadline = t ? ctx->now + t : 0;
    tt_conn_arm_timer(c);
    return c;
}

static const tt_h2_opener tt_server_opener = {tt_server_stream};

void tt_server_accept(tether_listener *l, int fd, const char *peer) {
    tether_ctx *ctx = l->ctx;
    tether_conn *c = tt_conn_new(ctx, &tt_server_class, tt_opts_ref(l->opts), peer);
    if (!c || !(c->shs = tt_server_hs_with_limits(l->opts)) ||
        (l->tls && tt_conn_tls_server(c, l->tls))) {
        if (c) {
            c->silent = 1;
            tt_conn_shut(c);
        } else {
            tt_opts_unref(l->opts);
        }
        close(fd);
        return;
    }
    c->silent = 1; /* until the REQUEST event */
    c->phase = TT_PH_HS_SERVER;
    c->io.fd = fd;
    if (tt_loop_add(ctx->loop, &c->io, TT_IO_READ) != 0) {
        close(fd);
        c->io.fd = -1;
        tt_conn_shut(c);
        return;
    }
    unsigned t = l->opts->handshake_timeout;
    c->deadline = t ? ctx->now + t : 0;
    tt_conn_arm_timer(c);
}
