/* A server connection that speaks HTTP/2: it carries an nghttp2 session
 * (stack/h2.h) over its socket and TLS, and never reaches the application
 * itself. Each request stream becomes a server connection of its own,
 * made by the role (server.c) and wired to its stream instead of a socket
 * (conn_wire.c): from there on it is served as an HTTP/1.1 connection
 * with one request, or a WebSocket (RFC 8441). This file moves the
 * session's news to them: a new request, input, room to write. */
#include "api/api.h"
#include "stack/h2.h"

/* A stream's input waits for a round of its own; room to write, for the
 * round's end. */
static void tt_h2c_dispatch(tether_conn *c) {
    const tt_h2_opener *open = c->user;
    unsigned what;
    tt_h2_stream *s;
    while ((s = tt_h2_next(c->h2, &what)) != NULL) {
        tether_conn *k = tt_h2_stream_user(s);
        if (what & TT_H2_NEW) {
            if (!(k = open->stream(c))) {
                tt_h2_stream_refuse(s);
                continue;
            }
            k->h2s = s;
            k->h2_id = (int)tt_h2_stream_id(s);
            tt_h2_stream_attach(s, k);
            tt_ctx_mark_runnable(k);
            continue;
        }
        if (!k) continue;
        if (what & TT_H2_READABLE) tt_ctx_mark_runnable(k);
        if (what & TT_H2_WRITABLE) tt_ctx_mark_dirty(k);
    }
    /* idle: no stream open, the keep-alive timeout runs */
    unsigned keep = c->opts->keepalive_timeout ? c->opts->keepalive_timeout : 5000;
    c->deadline = tt_h2_streams(c->h2) ? 0 : c->ctx->now + keep;
    tt_conn_arm_timer(c);
}

/* The session is over (both sides said GOAWAY, or it failed): what it
 * queued (a GOAWAY saying why) goes out, then the socket closes. */
static void tt_h2c_check_end(tether_conn *c) {
    if (c->phase != TT_PH_H2 || !tt_h2_finished(c->h2)) return;
    const char *why = tt_h2_error_text(c->h2);
    if (why) tt_log(TETHER_LOG_INFO, "conn %llu: %s", (unsigned long long)c->id, why);
    tt_conn_linger(c);
}

static void tt_h2c_feed(tether_conn *c, const uint8_t *buf, size_t n) {
    int rc = tt_h2_feed(c->h2, buf, n);
    tt_h2c_dispatch(c);
    if (rc) { /* not HTTP/2 at all (a bad preface), or out of memory */
        tt_log(TETHER_LOG_INFO, "conn %llu: %s", (unsigned long long)c->id,
               tt_wire_error_text(c) ? tt_wire_error_text(c) : tether_strerror(rc));
        tt_conn_lost(c, rc, NULL);
        return;
    }
    tt_ctx_mark_dirty(c); /* SETTINGS acks, window updates, answers */
    tt_h2c_check_end(c);
}

static void tt_h2c_on_io(tether_conn *c, unsigned ready) {
    if (ready & TT_IO_WRITE) tt_conn_flush(c);
    if (c->phase != TT_PH_H2 || !(ready & (TT_IO_READ | TT_IO_ERROR))) return;
    ssize_t n = tt_wire_read(c);
    if (n == TETHER_E_AGAIN) return;
    if (n <= 0) { /* silent: the streams hear of it */
        tt_conn_lost(c, n == 0 ? TETHER_E_CLOSED : (int)n, NULL);
        return;
    }
    tt_h2c_feed(c, c->ctx->rbuf, (size_t)n);
}

/* Sending made room in streams or ended some: tell them. */
static void tt_h2c_resume(tether_conn *c) {
    if (c->phase != TT_PH_H2) return;
    tt_h2c_dispatch(c);
    tt_h2c_check_end(c);
    tt_ctx_mark_dirty(c);
}

/* The keep-alive timeout of a connection with no stream open: GOAWAY
 * (NO_ERROR) first, so a client that was about to send a request knows it
 * was not taken (RFC 9113 6.8), then the lingering close. */
static int tt_h2c_before_loss(tether_conn *c, int err) {
    if (err != TETHER_E_TIMEOUT || c->phase != TT_PH_H2) return 0;
    tt_log(TETHER_LOG_DEBUG, "conn %llu: HTTP/2 idle: GOAWAY", (unsigned long long)c->id);
    tt_h2_goaway(c->h2);
    c->deadline = 0;
    tt_conn_linger(c);
    return 1;
}

static const tt_conn_class tt_h2c_class = {
    .role = TETHER_ROLE_SERVER,
    .on_handshake_io = tt_h2c_on_io,
    .resume = tt_h2c_resume,
    .before_loss = tt_h2c_before_loss,
};

/* Streams: 100 at a time (RFC 9113 6.5.2 advises no fewer), each with a
 * 256 KiB window, 1 MiB for the whole connection. */
void tt_h2_carrier_start(tether_conn *c, const uint8_t *buf, size_t n, const tt_h2_opener *open) {
    tt_h2_cfg cfg = {.max_streams = 100,
                     .stream_window = 256u * 1024u,
                     .conn_window = 1024u * 1024u,
                     .max_header_bytes = c->opts->max_header_bytes};
    if (!(c->h2 = tt_h2_server_new(&cfg, c))) {
        tt_conn_lost(c, TETHER_E_NOMEM, NULL);
        return;
    }
    c->cls = &tt_h2c_class;
    c->user = (void *)open;
    c->phase = TT_PH_H2;
    tt_log(TETHER_LOG_DEBUG, "conn %llu: HTTP/2", (unsigned long long)c->id);
    tt_h2c_feed(c, buf, n);
}
