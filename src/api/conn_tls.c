/* TLS for a connection: the session, made from the listener's context or
 * from a client context built from the options (and cached), goes on the
 * connection's transport stack as a layer (stack/tls_layer.c); conn_wire.c
 * moves the bytes. */
#include "api/api.h"
#include "stack/h2.h"
#include "stack/h2_client.h"
#include "stack/tls_layer.h"

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
    const char *name = c->opts->tls.server_name ? c->opts->tls.server_name : c->cl->url.host;
    tt_tls *session = tt_tls_new_client(t, name, c->opts->tls.flags);
    tt_tls_ctx_unref(t); /* the session holds the SSL_CTX itself */
    if (session) tt_tls_set_pool(session, &c->ctx->bufpool);
    tt_layer *l = tt_tls_layer_new(session);
    if (!l) return TETHER_E_NOMEM;
    if ((rc = tt_conn_push_layer(c, l)) != 0) return rc;
    if (!c->opts->prefer_http2 || c->h2_fallback) return 0;
    /* HTTP/2 if the server takes it, decided by ALPN once TLS is up */
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    if ((rc = tt_tls_offer_alpn(session, alpn, sizeof alpn - 1)) != 0) return rc;
    tt_layer *h2 = tt_h2_client_layer_new(l);
    return h2 ? tt_conn_push_layer(c, h2) : TETHER_E_NOMEM;
}

int tt_conn_tls_server(tether_conn *c, tt_tls_ctx *t) {
    tt_tls *session = tt_tls_new_server(t);
    if (session) tt_tls_set_pool(session, &c->ctx->bufpool);
    tt_layer *l = tt_tls_layer_new(session);
    return l ? tt_conn_push_layer(c, l) : TETHER_E_NOMEM;
}

tt_tls *tt_conn_tls(const tether_conn *c) {
    if (c->h2s) { /* an HTTP/2 stream: its connection's session */
        const tether_conn *carrier = tt_h2_stream_owner(c->h2s);
        return carrier ? tt_conn_tls(carrier) : NULL;
    }
    return tt_tls_layer_session(tt_conn_layer(c, "tls"));
}
