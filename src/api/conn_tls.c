/* TLS under a connection: the transport between the socket and the
 * WebSocket layers. Reads turn ciphertext into plaintext in the context's
 * read buffer; flushes encrypt the connection's output queue and write the
 * ciphertext. The TLS handshake runs first, within the handshake timeout,
 * and its failures end the connection with OpenSSL's reason. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* Ciphertext is moved in chunks of this size through a per-context
 * scratch buffer; at most TT_TLS_BACKLOG bytes of it wait per connection,
 * the rest of the output stays plaintext in the WebSocket queue (so the
 * send limit and DRAIN keep their meaning). */
#define TT_TLS_CHUNK (64u * 1024u)
#define TT_TLS_BACKLOG (256u * 1024u)

static uint8_t *tt_tls_scratch(tether_ctx *ctx) {
    if (!ctx->tls_scratch) ctx->tls_scratch = malloc(TT_TLS_CHUNK);
    return ctx->tls_scratch;
}

static ssize_t tt_write1(int fd, const uint8_t *buf, size_t len) {
    struct iovec iov = {(void *)buf, len};
    return tt_sock_writev(fd, &iov, 1);
}

/* ---- setup --------------------------------------------------------------- */

/* Client contexts are cached per tether_ctx for the last CA/certificate
 * set, so a reconnecting client does not reload the CA store each time. */
static int tt_tls_client_ctx(tether_conn *c, tt_tls_ctx **out, char *err, size_t errlen) {
    tether_ctx *ctx = c->ctx;
    const tt_tls_opts *o = &c->opts->tls;
    if (ctx->tls_client && tt_tls_opts_same_ctx(&ctx->tls_client_opts, o)) {
        *out = tt_tls_ctx_ref(ctx->tls_client);
        return 0;
    }
    int rc = tt_tls_ctx_client(o, out, err, errlen);
    if (rc) return rc;
    tt_tls_opts key;
    if (tt_tls_opts_copy(&key, o) == 0) {
        tt_tls_ctx_unref(ctx->tls_client);
        tt_tls_opts_free(&ctx->tls_client_opts);
        ctx->tls_client = tt_tls_ctx_ref(*out);
        ctx->tls_client_opts = key;
    }
    return 0;
}

int tt_conn_tls_client(tether_conn *c) {
    char err[256] = "";
    tt_tls_ctx *t = NULL;
    int rc = tt_tls_client_ctx(c, &t, err, sizeof err);
    if (rc) {
        tt_log(TETHER_LOG_WARN, "%s", err);
        return rc;
    }
    const char *name = c->opts->tls.server_name ? c->opts->tls.server_name : c->url.host;
    c->tls = tt_tls_new_client(t, name, c->opts->tls.flags);
    tt_tls_ctx_unref(t); /* the session holds the SSL_CTX itself */
    return c->tls ? 0 : TETHER_E_NOMEM;
}

int tt_conn_tls_server(tether_conn *c, tt_tls_ctx *t) {
    c->tls = tt_tls_new_server(t);
    return c->tls ? 0 : TETHER_E_NOMEM;
}

/* ---- reading -------------------------------------------------------------- */

/* Ends a connection over a TLS failure, in whatever phase it is. */
void tt_conn_tls_failed(tether_conn *c, int err) {
    const char *text = tt_tls_error_text(c->tls);
    tt_log(TETHER_LOG_WARN, "conn %llu: %s", (unsigned long long)c->id,
           text ? text : tether_strerror(err));
    if (c->phase >= TT_PH_OPEN) {
        tt_ws_ev ev;
        int report = c->phase == TT_PH_OPEN && tt_ws_abort(&c->ws, err, &ev);
        c->phase = TT_PH_LINGER;
        if (report && text) {
            ev.reason = text;
            ev.reason_len = strlen(text);
        }
        if (report) tt_emit_ws(c, &ev);
        tt_conn_shut(c);
        return;
    }
    tt_conn_fail_early(c, err, text);
}

/* Advances the TLS handshake; 0 when done, AGAIN, or an error. */
static int tt_conn_tls_step(tether_conn *c) {
    if (tt_tls_established(c->tls)) return 0;
    int rc = tt_tls_handshake(c->tls);
    if (rc == 0 && tt_log_on(TETHER_LOG_INFO))
        tt_log(TETHER_LOG_INFO, "conn %llu: %s %s", (unsigned long long)c->id,
               tt_tls_version(c->tls), tt_tls_cipher(c->tls));
    return rc;
}

/* Fills the read buffer with plaintext: what the session already holds,
 * then at most one socket read's worth. */
static ssize_t tt_conn_read_tls(tether_conn *c) {
    uint8_t *buf = c->ctx->rbuf;
    size_t off = 0;
    int socket_read = 0;
    for (;;) {
        ssize_t r = TETHER_E_AGAIN;
        if (tt_tls_established(c->tls)) r = tt_tls_read(c->tls, buf + off, TT_RBUF_SIZE - off);
        if (r > 0) {
            off += (size_t)r;
            if (off == TT_RBUF_SIZE) break;
            continue;
        }
        if (r != TETHER_E_AGAIN || socket_read) return off ? (ssize_t)off : r;
        uint8_t *cipher = tt_tls_scratch(c->ctx);
        if (!cipher) return TETHER_E_NOMEM;
        ssize_t n = tt_sock_read(c->io.fd, cipher, TT_TLS_CHUNK);
        socket_read = 1;
        if (n <= 0) return off ? (ssize_t)off : n;
        if (tt_tls_feed(c->tls, cipher, (size_t)n) != 0) return TETHER_E_NOMEM;
        int was_established = tt_tls_established(c->tls);
        int hs = tt_conn_tls_step(c);
        /* While the handshake runs, a flush is due even with no record to
         * send: when it ends, plaintext queued before it (a client's
         * request) can go, and with TLS 1.2 the client's last flight
         * precedes the server's Finished. Records are tt_conn_read's. */
        if (!was_established) tt_ctx_mark_dirty(c);
        if (hs != 0) return hs;
    }
    tt_ctx_mark_runnable(c); /* the buffer filled up: more may be inside */
    return (ssize_t)off;
}

ssize_t tt_conn_read(tether_conn *c) {
    if (!c->tls) return tt_sock_read(c->io.fd, c->ctx->rbuf, TT_RBUF_SIZE);
    ssize_t n = tt_conn_read_tls(c);
    if (tt_tls_out_pending(c->tls)) { /* alerts, tickets, key updates */
        tt_ws_set_owed_below(&c->ws, tt_conn_tls_owed(c));
        tt_ctx_mark_dirty(c);
    }
    return n;
}

/* ---- writing -------------------------------------------------------------- */

/* Writes out held-back ciphertext, then what the session has. Returns 1
 * when everything went, 0 when the socket is full, or an error. */
static int tt_conn_write_cipher(tether_conn *c) {
    tt_outbuf *held = &c->tls_out;
    while (tt_outbuf_len(held) > 0) {
        ssize_t n = tt_write1(c->io.fd, held->buf + held->head, tt_outbuf_len(held));
        if (n == TETHER_E_AGAIN) return 0;
        if (n < 0) return (int)n;
        tt_outbuf_consume(held, (size_t)n);
    }
    uint8_t *chunk = tt_tls_scratch(c->ctx);
    if (!chunk) return TETHER_E_NOMEM;
    size_t k;
    while ((k = tt_tls_take_out(c->tls, chunk, TT_TLS_CHUNK)) > 0) {
        ssize_t n = tt_write1(c->io.fd, chunk, k);
        if (n == TETHER_E_AGAIN) n = 0;
        if (n < 0) return (int)n;
        if ((size_t)n < k) { /* keep the rest for when the socket drains */
            uint8_t *p = tt_outbuf_reserve(held, k - (size_t)n);
            if (!p) return TETHER_E_NOMEM;
            memcpy(p, chunk + n, k - (size_t)n);
            tt_outbuf_commit(held, k - (size_t)n);
            return 0;
        }
    }
    return 1;
}

/* Encrypts queued plaintext while the ciphertext backlog is small. */
static int tt_conn_encrypt(tether_conn *c) {
    tt_outbuf *out = &c->ws.out;
    while (tt_outbuf_len(out) > 0 &&
           tt_outbuf_len(&c->tls_out) + tt_tls_out_pending(c->tls) < TT_TLS_BACKLOG) {
        size_t len = tt_outbuf_len(out);
        if (len > TT_TLS_CHUNK) len = TT_TLS_CHUNK;
        ssize_t n = tt_tls_write(c->tls, out->buf + out->head, len);
        if (n < 0) return (int)n;
        tt_outbuf_consume(out, (size_t)n);
    }
    return 0;
}

/* Returns 0, or an error after which the connection must fail. */
int tt_conn_flush_tls(tether_conn *c) {
    int rc = tt_conn_tls_step(c);
    if (rc != 0 && rc != TETHER_E_AGAIN) return rc;
    for (;;) {
        if (tt_tls_established(c->tls) && (rc = tt_conn_encrypt(c)) != 0) return rc;
        rc = tt_conn_write_cipher(c);
        if (rc <= 0) return rc; /* socket full, or failed */
        if (!tt_tls_established(c->tls) || tt_outbuf_len(&c->ws.out) == 0) return 0;
    }
}

size_t tt_conn_tls_owed(const tether_conn *c) {
    return c->tls ? tt_outbuf_len(&c->tls_out) + tt_tls_out_pending(c->tls) : 0;
}

/* Whether anything waits for the socket to become writable. */
int tt_conn_tls_wants_write(const tether_conn *c) {
    if (tt_outbuf_len(&c->tls_out) > 0 || tt_tls_out_pending(c->tls) > 0) return 1;
    return tt_tls_established(c->tls) && tt_outbuf_len(&c->ws.out) > 0;
}

/* Before the socket closes: what the session still has to say, if the
 * socket takes it now: a close_notify, or the alert that explains a failed
 * handshake ("certificate required", "unknown ca") to the peer. */
void tt_conn_tls_goodbye(tether_conn *c) {
    if (!c->tls || c->io.fd < 0 || c->bye_said) return;
    if (tt_outbuf_len(&c->tls_out) > 0) return; /* the stream is cut mid-record anyway */
    c->bye_said = 1;
    if (tt_tls_established(c->tls)) tt_tls_shutdown(c->tls);
    tt_conn_write_cipher(c);
}
