/* Options: typed setters over an opaque object, copied (deeply) when a
 * connection or listener is made, then shared read-only by reference. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

static void tt_opts_defaults(tether_opts *o) {
    tt_ws_cfg_defaults(&o->cfg);
    o->connect_timeout = 10000;
    o->handshake_timeout = 10000;
    o->max_header_bytes = TETHER_DEFAULT_MAX_HEADER_BYTES;
    o->max_headers = TETHER_DEFAULT_MAX_HEADERS;
    o->max_body = TETHER_DEFAULT_MAX_BODY;
    o->keepalive_timeout = 5000;
    o->http2 = 1;
    tt_deflate_opts_defaults(&o->deflate);
    o->refs = 1;
}

tether_opts *tether_opts_new(void) {
    tether_opts *o = calloc(1, sizeof *o);
    if (o) tt_opts_defaults(o);
    return o;
}

static void tt_strv_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void tether_opts_free(tether_opts *o) {
    if (!o) return;
    tt_strv_free(o->protocols, o->nprotocols);
    tt_strv_free(o->hdr_names, o->nheaders);
    tt_strv_free(o->hdr_values, o->nheaders);
    free(o->origin);
    free(o->proxy);
    free(o->retry_steps);
    tt_tls_opts_free(&o->tls);
    free(o);
}

tether_opts *tt_opts_ref(tether_opts *o) {
    o->refs++;
    return o;
}

void tt_opts_unref(tether_opts *o) {
    if (o && --o->refs == 0) tether_opts_free(o);
}

/* Appends a copy of s to a string vector. */
static int tt_strv_push(char ***v, size_t n, const char *s) {
    char *dup = strdup(s);
    char **nv = dup ? realloc(*v, (n + 1) * sizeof **v) : NULL;
    if (!nv) {
        free(dup);
        return TETHER_E_NOMEM;
    }
    nv[n] = dup;
    *v = nv;
    return 0;
}

tether_opts *tt_opts_copy(const tether_opts *src) {
    tether_opts *o = tether_opts_new();
    if (!o || !src) return o;
    *o = *src;
    o->refs = 1;
    o->protocols = o->hdr_names = o->hdr_values = NULL;
    o->nprotocols = o->nheaders = 0;
    o->origin = o->proxy = NULL;
    o->retry_steps = NULL;
    o->nretry_steps = 0;
    int rc = tt_tls_opts_copy(&o->tls, &src->tls);
    for (size_t i = 0; i < src->nprotocols && !rc; i++, o->nprotocols++)
        rc = tt_strv_push(&o->protocols, i, src->protocols[i]);
    for (size_t i = 0; i < src->nheaders && !rc; i++) {
        rc = tt_strv_push(&o->hdr_names, i, src->hdr_names[i]);
        if (!rc) rc = tt_strv_push(&o->hdr_values, i, src->hdr_values[i]);
        if (!rc) o->nheaders++;
    }
    if (!rc && src->origin && !(o->origin = strdup(src->origin))) rc = TETHER_E_NOMEM;
    if (!rc && src->proxy && !(o->proxy = strdup(src->proxy))) rc = TETHER_E_NOMEM;
    if (!rc && src->nretry_steps)
        rc = tether_opts_set_retry_steps(o, src->retry_steps, src->nretry_steps, src->retry_jitter,
                                         src->retry_tries);
    if (rc) {
        tether_opts_free(o);
        return NULL;
    }
    return o;
}

#define TT_OPT_SETTER(name, type, field, check)                                                    \
    int tether_opts_set_##name(tether_opts *o, type v) {                                           \
        if (!o || !(check)) return TETHER_E_INVAL;                                                 \
        o->field = v;                                                                              \
        return 0;                                                                                  \
    }

TT_OPT_SETTER(max_message, uint64_t, cfg.max_message, v > 0)
TT_OPT_SETTER(max_frame, uint64_t, cfg.max_frame, v > 0)
TT_OPT_SETTER(streaming, int, cfg.streaming, v == 0 || v == 1)
TT_OPT_SETTER(utf8_check, int, cfg.utf8_check, v == 0 || v == 1)
TT_OPT_SETTER(connect_timeout, unsigned, connect_timeout, 1)
TT_OPT_SETTER(proxy_from_env, int, proxy_env, v == 0 || v == 1)
TT_OPT_SETTER(handshake_timeout, unsigned, handshake_timeout, 1)
TT_OPT_SETTER(close_timeout, unsigned, cfg.close_timeout, v > 0) /* 0 would wait forever */
TT_OPT_SETTER(idle_timeout, unsigned, cfg.idle_timeout, 1)
TT_OPT_SETTER(ping_interval, unsigned, cfg.ping_interval, 1)
TT_OPT_SETTER(ping_timeout, unsigned, cfg.ping_timeout, v > 0)
TT_OPT_SETTER(message_timeout, unsigned, cfg.message_timeout, 1)
TT_OPT_SETTER(send_limit, size_t, cfg.send_limit, v > 0)
TT_OPT_SETTER(drain_mark, size_t, cfg.drain_mark, 1)
TT_OPT_SETTER(max_header_bytes, size_t, max_header_bytes, v >= 256)
TT_OPT_SETTER(max_headers, size_t, max_headers, v >= 4)
TT_OPT_SETTER(reuseport, int, reuseport, v == 0 || v == 1)
TT_OPT_SETTER(http, int, http, v == 0 || v == 1)
TT_OPT_SETTER(http2, int, http2, v == 0 || v == 1)
TT_OPT_SETTER(prefer_http2, int, prefer_http2, v == 0 || v == 1)
TT_OPT_SETTER(max_body, size_t, max_body, v > 0)
TT_OPT_SETTER(keepalive_timeout, unsigned, keepalive_timeout, 1)

/* HTTP token characters (RFC 7230 3.2.6), for protocol and header names. */
static int tt_is_token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s <= 32 || *s >= 127 || strchr("()<>@,;:\\\"/[]?={}", *s)) return 0;
    return 1;
}

int tether_opts_add_protocol(tether_opts *o, const char *protocol) {
    if (!o || !protocol || !tt_is_token(protocol)) return TETHER_E_INVAL;
    int rc = tt_strv_push(&o->protocols, o->nprotocols, protocol);
    if (rc == 0) o->nprotocols++;
    return rc;
}

int tether_opts_add_header(tether_opts *o, const char *name, const char *value) {
    if (!o || !name || !value || !tt_is_token(name) || strpbrk(value, "\r\n"))
        return TETHER_E_INVAL;
    int rc = tt_strv_push(&o->hdr_names, o->nheaders, name);
    if (rc) return rc;
    rc = tt_strv_push(&o->hdr_values, o->nheaders, value);
    if (rc) {
        free(o->hdr_names[o->nheaders]);
        return rc;
    }
    o->nheaders++;
    return 0;
}

int tether_opts_set_proxy(tether_opts *o, const char *url) {
    if (!o) return TETHER_E_INVAL;
    char *dup = NULL;
    if (url && *url) {
        tt_proxy p;
        int rc = tt_proxy_parse(url, &p); /* refused now rather than at connect */
        tt_proxy_free(&p);
        if (rc) return rc;
        if (!(dup = strdup(url))) return TETHER_E_NOMEM;
    }
    free(o->proxy);
    o->proxy = dup;
    return 0;
}

int tether_opts_set_retry_backoff(tether_opts *o, unsigned first_ms, unsigned max_ms,
                                  unsigned jitter_pct, unsigned max_tries) {
    if (!o || (first_ms && max_ms && max_ms < first_ms) || jitter_pct > 100) return TETHER_E_INVAL;
    free(o->retry_steps);
    o->retry_steps = NULL;
    o->nretry_steps = 0;
    o->retry_base = first_ms;
    o->retry_max = max_ms ? max_ms : first_ms;
    o->retry_jitter = jitter_pct;
    o->retry_tries = max_tries;
    return 0;
}

int tether_opts_set_retry_steps(tether_opts *o, const unsigned *steps_ms, size_t n,
                                unsigned jitter_pct, unsigned max_tries) {
    if (!o || !steps_ms || !n || n > 1024 || jitter_pct > 100) return TETHER_E_INVAL;
    unsigned *copy = malloc(n * sizeof *copy);
    if (!copy) return TETHER_E_NOMEM;
    memcpy(copy, steps_ms, n * sizeof *copy);
    free(o->retry_steps);
    o->retry_steps = copy;
    o->nretry_steps = n;
    o->retry_base = o->retry_max = 0;
    o->retry_jitter = jitter_pct;
    o->retry_tries = max_tries;
    return 0;
}

int tether_opts_set_origin(tether_opts *o, const char *origin) {
    if (!o || !origin || strpbrk(origin, "\r\n")) return TETHER_E_INVAL;
    char *dup = strdup(origin);
    if (!dup) return TETHER_E_NOMEM;
    free(o->origin);
    o->origin = dup;
    return 0;
}
