/* The client role: resolve the host, connect to its addresses (IPv6 and
 * IPv4 raced, happy_eyeballs.c) under one timeout, send the upgrade
 * request and read the answer. A refusal reports its HTTP status and
 * headers through the connection. */
#include "api/api.h"
#include "stack/h2_client.h"
#include "stack/tunnel.h"

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tt_client_hs_setup(tether_conn *c) {
    const tether_opts *o = c->opts;
    c->chs = tether_client_hs_new(c->cl->url.hostport, c->cl->url.target);
    if (!c->chs) return TETHER_E_NOMEM;
    int rc = tether_client_hs_set_max_header_bytes(c->chs, o->max_header_bytes);
    if (!rc) rc = tether_client_hs_set_max_headers(c->chs, o->max_headers);
    if (!rc && o->origin) rc = tether_client_hs_set_origin(c->chs, o->origin);
    for (size_t i = 0; i < o->nprotocols && !rc; i++)
        rc = tether_client_hs_add_protocol(c->chs, o->protocols[i]);
    for (size_t i = 0; i < o->nheaders && !rc; i++)
        rc = tether_client_hs_add_header(c->chs, o->hdr_names[i], o->hdr_values[i]);
    if (!rc) rc = tt_deflate_client_offer(c);
    return rc;
}

static void tt_client_connected(tether_conn *c);

/* The race of connect attempts ended: connected, or every address failed. */
static void tt_client_race_done(tether_conn *c, int fd, const char *why) {
    char text[160]; /* why lives in the race, freed here */
    snprintf(text, sizeof text, "%s", why ? why : "");
    c->os_error = fd < 0 ? errno : 0;
    tt_race_free(c->cl->race);
    c->cl->race = NULL;
    c->ctx->now = tt_now_ms();
    if (fd < 0) {
        tt_conn_lost(c, TETHER_E_CONNECT, text[0] ? text : NULL);
        return;
    }
    c->io.fd = fd;
    tt_stats_mark(c, TT_STATS_CONNECTED);
    if (tt_loop_add(c->ctx->loop, &c->io, TT_IO_READ) != 0) {
        close(fd);
        c->io.fd = -1;
        tt_conn_lost(c, TETHER_E_NOMEM, NULL);
        return;
    }
    tt_client_connected(c);
}

/* Connects to the addresses of c->cl->addrs; 0, or an error with why set. */
static int tt_client_connect(tether_conn *c, char *why, size_t cap) {
    c->phase = TT_PH_CONNECTING;
    int rc = tt_race_start(c, c->cl->addrs, tt_client_race_done, &c->cl->race, why, cap);
    if (rc) c->os_error = errno;
    return rc;
}

static void tt_client_resolved(void *arg, struct addrinfo *res, int err, int gai) {
    tether_conn *c = arg;
    char why[160] = "";
    c->cl->resolve = NULL;
    c->ctx->now = tt_now_ms();
    if (!res) { /* "no such host (nohost.invalid)" */
        int none = gai == EAI_NONAME || gai == EAI_NODATA;
        snprintf(why, sizeof why, "%s (%s)", none ? "no such host" : gai_strerror(gai),
                 c->cl->proxy ? c->cl->proxy->host : c->cl->url.host);
        why[0] = (char)tolower((unsigned char)why[0]);
        tt_conn_lost(c, err ? err : TETHER_E_DNS, why);
        return;
    }
    c->cl->addrs = res;
    tt_stats_mark(c, TT_STATS_RESOLVED);
    int rc = tt_client_connect(c, why, sizeof why);
    if (rc) tt_conn_lost(c, rc, why[0] ? why : NULL);
}

/* The layers under the WebSocket, bottom first: the proxy tunnel, TLS. */
static int tt_client_layers(tether_conn *c) {
    if (c->cl->proxy) {
        const char *host = c->cl->target_addr ? c->cl->target_addr : c->cl->url.host;
        tt_layer *l = tt_tunnel_new(c->cl->proxy, host, c->cl->url.port);
        if (!l) return TETHER_E_NOMEM;
        int rc = tt_conn_push_layer(c, l);
        if (rc) return rc;
    }
    return c->cl->url.secure ? tt_conn_tls_client(c) : 0;
}

/* Resolves what to connect to: the server, or its proxy. */
static int tt_client_dial(tether_conn *c) {
    /* the clock starts here, not in tether_connect(): loading a CA file
     * for TLS is not resolving (a SOCKS5 name resolved here started it) */
    if (!c->cl->target_addr) tt_stats_mark(c, TT_STATS_START);
    const char *host = c->cl->proxy ? c->cl->proxy->host : c->cl->url.host;
    int port = c->cl->proxy ? c->cl->proxy->port : c->cl->url.port;
    return tt_resolve_start(c->ctx->loop, host, port, tt_client_resolved, c, &c->cl->resolve);
}

/* socks5:// (not socks5h://) resolves the server's name here and gives
 * the proxy its address, as curl does: the first address, as text. */
static void tt_client_target_resolved(void *arg, struct addrinfo *res, int err, int gai) {
    tether_conn *c = arg;
    char addr[64];
    c->cl->resolve = NULL;
    c->ctx->now = tt_now_ms();
    if (!res || getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof addr, NULL, 0,
                            NI_NUMERICHOST) != 0) {
        if (res) freeaddrinfo(res);
        tt_client_resolved(c, NULL, err ? err : TETHER_E_DNS, res ? EAI_FAIL : gai);
        return;
    }
    freeaddrinfo(res);
    int rc = (c->cl->target_addr = strdup(addr)) ? 0 : TETHER_E_NOMEM;
    if (!rc) rc = tt_client_layers(c);
    if (!rc) rc = tt_client_dial(c);
    if (rc) tt_conn_lost(c, rc, NULL);
}

static int tt_client_is_address(const char *host) {
    uint8_t buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The proxy the options or the environment name (parsed once), or none. */
static int tt_client_find_proxy(tether_conn *c) {
    const tether_opts *o = c->opts;
    const char *url = o->proxy;
    if (!url && o->proxy_env) url = tt_proxy_from_env(c->cl->url.secure, c->cl->url.host);
    if (!url) return 0;
    if (!(c->cl->proxy = malloc(sizeof *c->cl->proxy))) return TETHER_E_NOMEM;
    int rc = tt_proxy_parse(url, c->cl->proxy);
    if (rc) {
        tt_log(TETHER_LOG_WARN, "bad proxy URL: %s", tether_strerror(rc));
        free(c->cl->proxy);
        c->cl->proxy = NULL;
    }
    return rc;
}

/* The connection's proxy, if any, then its layers and the first lookup. */
static int tt_client_start(tether_conn *c) {
    int rc = tt_client_find_proxy(c);
    if (rc) return rc;
    if (c->cl->proxy && c->cl->proxy->kind == TT_PROXY_SOCKS5 &&
        !tt_client_is_address(c->cl->url.host)) {
        tt_stats_mark(c, TT_STATS_START);
        return tt_resolve_start(c->ctx->loop, c->cl->url.host, c->cl->url.port,
                                tt_client_target_resolved, c, &c->cl->resolve);
    }
    rc = tt_client_layers(c);
    return rc ? rc : tt_client_dial(c);
}

/* What a start made: the proxy and the server's address. */
static void tt_client_cleanup(tether_conn *c) {
    if (c->cl->proxy) tt_proxy_free(c->cl->proxy);
    free(c->cl->proxy);
    free(c->cl->target_addr);
    c->cl->proxy = NULL;
    c->cl->target_addr = NULL;
}

static void tt_client_on_handshake_io(tether_conn *c, unsigned ready);

/* Starts over on a new connection, as tether_connect() did the first time
 * (the name resolved again, the connect timeout anew); http1_only: no
 * HTTP/2 offered this time. 0, or an error (c is then to be lost). */
static int tt_client_start_over(tether_conn *c, int http1_only) {
    tt_client_cleanup(c); /* the proxy is looked for again: the environment may change */
    c->ctx->now = tt_now_ms();
    int rc = tt_conn_reset(c); /* closes nothing: the socket is already closed */
    c->h2_fallback = !!http1_only;
    c->phase = TT_PH_RESOLVING;
    unsigned t = c->opts->connect_timeout;
    c->deadline = t ? c->ctx->now + t : 0;
    if (!rc) rc = tt_client_hs_setup(c);
    if (!rc) rc = tt_client_start(c);
    if (!rc) tt_conn_arm_timer(c);
    return rc;
}

/* The server took h2 but announced no extended CONNECT, so the WebSocket
 * cannot go over HTTP/2: once, start over on a new connection offering
 * only HTTP/1.1. */
static int tt_client_over_http1(tether_conn *c, int err) {
    (void)err;
    if (c->phase != TT_PH_HS_CLIENT || c->h2_fallback ||
        !tt_h2_client_refused(tt_conn_layer(c, "h2")))
        return 0;
    tt_log(TETHER_LOG_INFO, "conn %llu: %s: again over HTTP/1.1", (unsigned long long)c->id,
           tt_wire_error_text(c));
    tt_loop_del(c->ctx->loop, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    return tt_client_start_over(c, 1) == 0;
}

/* ---- reconnecting (the policy: retry.c) ---------------------------------- */

static int tt_client_retry_delay(tether_conn *c, const tether_event *ev) {
    if (c->user_closed || c->silent) return -1;
    int status = c->chs ? tether_client_hs_status(c->chs) : 0;
    if (!tt_retry_wanted(ev->error, ev->code, status)) return -1;
    if (!tt_retry_allowed(c->opts, c->cl->retries + 1)) return -1;
    c->cl->retries++;
    if (!c->cl->retry_seed) c->cl->retry_seed = (uint32_t)(tt_now_ms() * 2654435761u ^ c->id);
    c->cl->retry_wait = tt_retry_delay(c->opts, c->cl->retries, &c->cl->retry_seed);
    return (int)c->cl->retry_wait;
}

/* The socket of a connection that said RETRY is closed: wait the delay,
 * then, once the application holds none of its events (a held message
 * points into the state that starts over), connect again. */
static void tt_client_retry(tether_conn *c) {
    uint64_t now = tt_now_ms();
    if (c->phase != TT_PH_RETRY) {
        c->phase = TT_PH_RETRY;
        c->deadline = now + c->cl->retry_wait;
        tt_conn_arm_timer(c);
        return;
    }
    if (now < c->deadline) {
        tt_conn_arm_timer(c);
        return;
    }
    if (c->held) return;
    tt_log(TETHER_LOG_INFO, "conn %llu: connecting again (attempt %u)", (unsigned long long)c->id,
           c->cl->retries);
    int rc = tt_client_start_over(c, 0);
    if (rc) tt_conn_lost(c, rc, NULL);
}

static const tt_conn_class tt_client_class = {
    .role = TETHER_ROLE_CLIENT,
    .on_handshake_io = tt_client_on_handshake_io,
    .released = NULL,
    .before_loss = tt_client_over_http1,
    .cleanup = tt_client_cleanup,
    .retry_delay = tt_client_retry_delay,
    .retry = tt_client_retry,
};

int tether_connect(tether_ctx *ctx, const char *url, const tether_opts *opts, tether_conn **out) {
    if (!ctx || !url || !out) return TETHER_E_INVAL;
    *out = NULL;
    tt_url u;
    int rc = tt_url_parse(url, &u);
    if (rc != 0) return rc;
    tether_opts *o = tt_opts_copy(opts);
    tt_client_part *cl = o ? calloc(1, sizeof *cl) : NULL;
    tether_conn *c = cl ? tt_conn_new(ctx, &tt_client_class, o, NULL) : NULL;
    if (!c) {
        free(cl);
        tt_url_free(&u);
        tt_opts_unref(o);
        return TETHER_E_NOMEM;
    }
    c->cl = cl;
    c->cl->url = u;
    c->phase = TT_PH_RESOLVING;
    ctx->now = tt_now_ms();
    if (o->connect_timeout) c->deadline = ctx->now + o->connect_timeout;
    rc = tt_client_hs_setup(c);
    if (!rc) rc = tt_client_start(c);
    if (rc) {
        c->silent = 1;
        tt_conn_shut(c);
        return rc;
    }
    tt_conn_arm_timer(c);
    *out = c;
    return 0;
}

/* TCP is up: queue the request, and give the handshake its own timeout. */
static void tt_client_connected(tether_conn *c) {
    const char *req;
    size_t len;
    int rc = tether_client_hs_request(c->chs, &req, &len);
    if (!rc) rc = tt_outbuf_append(&c->hs_out, req, len);
    if (rc) {
        tt_conn_lost(c, rc, NULL);
        return;
    }
    c->phase = TT_PH_HS_CLIENT;
    c->deadline = c->opts->handshake_timeout ? c->ctx->now + c->opts->handshake_timeout : 0;
    tt_conn_arm_timer(c);
    tt_conn_flush(c);
}

/* Reads the response; on 101 the WebSocket opens with the bytes after it. */
static void tt_client_on_response(tether_conn *c) {
    uint8_t *rbuf = c->ctx->rbuf;
    ssize_t n = tt_wire_read(c);
    if (n == TETHER_E_AGAIN) return;
    if (n <= 0) {
        tt_conn_lost(c, n == 0 ? TETHER_E_CLOSED : (int)n, NULL);
        return;
    }
    size_t used = 0;
    int rc = tether_client_hs_parse(c->chs, rbuf, (size_t)n, &used);
    if (rc == TETHER_E_AGAIN) return;
    if (rc == TETHER_E_HS_STATUS) {
        char text[160];
        snprintf(text, sizeof text, "HTTP %d %s from the server", tether_client_hs_status(c->chs),
                 tether_client_hs_reason(c->chs));
        tt_conn_lost(c, rc, text);
        return;
    }
    if (rc == 0) rc = tt_deflate_client_accept(c);
    if (rc != 0) {
        tt_conn_lost(c, rc, NULL);
        return;
    }
    c->h2_id = tt_h2_client_stream(tt_conn_layer(c, "h2"));
    c->cl->retries = 0; /* open: a later loss starts the policy from its first delay */
    tt_conn_open(c, rbuf + used, (size_t)n - used);
}

static void tt_client_on_handshake_io(tether_conn *c, unsigned ready) {
    if (c->phase != TT_PH_HS_CLIENT) return;
    if (ready & TT_IO_WRITE) tt_conn_flush(c);
    if (c->phase == TT_PH_HS_CLIENT && (ready & (TT_IO_READ | TT_IO_ERROR)))
        tt_client_on_response(c);
}
