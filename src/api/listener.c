/* Listeners: a listening socket (with its TLS context when it has a
 * certificate) that accepts connections in bounded batches and hands each
 * to the server role (server.c). */
#include "api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static void tt_listener_on_io(tt_io *io, unsigned ready);

/* A listener with a certificate speaks TLS: its OpenSSL context is made
 * once, here, and shared by its connections. */
static int tt_listener_tls(tether_listener *l) {
    if (!l->opts->tls.cert) return 0;
    char err[256] = "";
    int rc = tt_tls_ctx_server(&l->opts->tls, &l->tls, err, sizeof err);
    if (rc) tt_log(TETHER_LOG_ERROR, "listener: %s", err);
    if (!rc) tt_tls_ctx_alpn(l->tls, l->opts->http2);
    return rc;
}

int tether_listen(tether_ctx *ctx, const char *host, int port, const tether_opts *opts,
                  tether_listener **out) {
    if (!ctx || !out || port < 0 || port > 65535) return TETHER_E_INVAL;
    *out = NULL;
    tether_listener *l = calloc(1, sizeof *l);
    if (!l || !(l->opts = tt_opts_copy(opts))) {
        free(l);
        return TETHER_E_NOMEM;
    }
    int fd = tt_listener_tls(l);
    if (fd == 0) fd = tt_sock_listen(host, port, l->opts->reuseport, 1024, &l->port);
    if (fd < 0) {
        int saved = errno; /* why bind or listen failed, for the caller */
        tt_tls_ctx_unref(l->tls);
        tt_opts_unref(l->opts);
        free(l);
        errno = saved;
        return fd;
    }
    l->ctx = ctx;
    l->io.fd = fd;
    l->io.cb = tt_listener_on_io;
    tt_timer_init(&l->backoff, tt_listener_on_backoff);
    int rc = tt_loop_add(ctx->loop, &l->io, TT_IO_READ);
    if (rc) {
        close(fd);
        tt_tls_ctx_unref(l->tls);
        tt_opts_unref(l->opts);
        free(l);
        return rc;
    }
    l->next = ctx->listeners;
    ctx->listeners = l;
    *out = l;
    return 0;
}

int tether_listener_port(const tether_listener *l) {
    return l ? l->port : TETHER_E_INVAL;
}

int tether_listener_fd(const tether_listener *l) {
    return l ? l->io.fd : TETHER_E_INVAL;
}

void tether_listener_close(tether_listener *l) {
    if (!l) return;
    tether_listener **pp = &l->ctx->listeners;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp) *pp = l->next;
    if (l->paused) l->ctx->paused_listeners--;
    tt_timer_stop(l->ctx->loop, &l->backoff);
    tt_loop_del(l->ctx->loop, &l->io);
    close(l->io.fd);
    tt_tls_ctx_unref(l->tls);
    tt_opts_unref(l->opts);
    free(l);
}

/* Accepts what is pending, a bounded batch per round so one busy listener
 * cannot starve established connections. */
static void tt_listener_on_io(tt_io *io, unsigned ready) {
    tether_listener *l = (tether_listener *)((char *)io - offsetof(tether_listener, io));
    (void)ready;
    l->ctx->now = tt_now_ms();
    for (int i = 0; i < 64; i++) {
        char peer[64];
        int fd = tt_sock_accept(l->io.fd, peer, sizeof peer);
        if (fd == TETHER_E_AGAIN) break;
        if (fd < 0) {
            tt_listener_pause(l, fd);
            break;
        }
        l->warned = 0;
        tt_server_accept(l, fd, peer);
    }
}
