/* Client opening handshake: settings and the upgrade request (RFC 6455
 * section 4.1). The response side is in client_hs_response.c. */
#include "proto/client_hs.h"

#include "proto/ext_header.h"
#include "proto/hs_common.h"
#include "proto/http_token.h"

#include <stdlib.h>
#include <string.h>

static char *tt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* RFC 6455 section 3: the resource name is "/" path [ "?" query ]; fragments
 * are not allowed in WebSocket URIs. */
static int tt_client_path_ok(const char *path) {
    return path[0] == '/' && tt_hs_visible_ascii(path) && !strchr(path, '#');
}

tether_client_hs *tether_client_hs_new(const char *host, const char *path) {
    if (!host || !path || !tt_hs_visible_ascii(host) || !tt_client_path_ok(path)) return NULL;
    tether_client_hs *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    tt_http_head_init(&h->resp, TT_HTTP_RESPONSE);
    h->host = tt_strdup(host);
    h->path = tt_strdup(path);
    if (!h->host || !h->path) {
        tether_client_hs_free(h);
        return NULL;
    }
    return h;
}

void tether_client_hs_free(tether_client_hs *h) {
    if (!h) return;
    free(h->host);
    free(h->path);
    free(h->origin);
    tt_strbuf_free(&h->protocols);
    tt_strbuf_free(&h->extensions);
    tt_strbuf_free(&h->ext_names);
    tt_strbuf_free(&h->extra);
    tt_strbuf_free(&h->request);
    tt_http_head_release(&h->resp);
    free(h);
}

/* Common guard of the settings: an object, and no request built yet. */
static int tt_client_settable(const tether_client_hs *h) {
    if (!h) return TETHER_E_INVAL;
    return h->built ? TETHER_E_STATE : 0;
}

int tether_client_hs_set_origin(tether_client_hs *h, const char *origin) {
    int rc = tt_client_settable(h);
    if (rc) return rc;
    if (!origin || !*origin || !tt_http_value_ok(origin)) return TETHER_E_INVAL;
    char *copy = tt_strdup(origin);
    if (!copy) return TETHER_E_NOMEM;
    free(h->origin);
    h->origin = copy;
    return 0;
}

/* RFC 6455 section 4.1: sub-protocols are tokens and must be unique. */
int tether_client_hs_add_protocol(tether_client_hs *h, const char *protocol) {
    int rc = tt_client_settable(h);
    if (rc) return rc;
    if (!protocol || !tt_http_is_token(protocol, strlen(protocol))) return TETHER_E_INVAL;
    if (tt_http_list_has_exact(h->protocols.p, protocol, strlen(protocol))) return TETHER_E_INVAL;
    tt_strbuf next = TT_STRBUF_INIT;
    if (h->protocols.len) {
        tt_strbuf_add(&next, h->protocols.p, h->protocols.len);
        tt_strbuf_add(&next, ", ", 2);
    }
    tt_strbuf_adds(&next, protocol);
    rc = tt_strbuf_status(&next);
    if (rc) {
        tt_strbuf_free(&next);
        return rc;
    }
    tt_strbuf_free(&h->protocols);
    h->protocols = next;
    return 0;
}

static int tt_client_collect_name(void *ctx, const char *name, const tt_ext_param *params,
                                  size_t nparams) {
    (void)params;
    (void)nparams;
    tt_strbuf_add(ctx, name, strlen(name) + 1);
    return 0;
}

/* Keeps the offer as sent, plus the names it offers, so that the response
 * can be checked against them without re-parsing our own offers. */
int tether_client_hs_add_extension(tether_client_hs *h, const char *offer) {
    int rc = tt_client_settable(h);
    if (rc) return rc;
    if (!offer || !tt_http_value_ok(offer)) return TETHER_E_INVAL;
    tt_strbuf names = TT_STRBUF_INIT;
    rc = tt_ext_parse(offer, strlen(offer), tt_client_collect_name, &names);
    if (rc == 0 && names.len == 0) rc = TETHER_E_INVAL; /* nothing offered */
    if (rc == 0) rc = tt_strbuf_status(&names);
    if (rc == 0) {
        size_t before = h->extensions.len, names_before = h->ext_names.len;
        if (before) tt_strbuf_add(&h->extensions, ", ", 2);
        tt_strbuf_adds(&h->extensions, offer);
        tt_strbuf_add(&h->ext_names, names.p, names.len);
        if (tt_strbuf_status(&h->extensions) || tt_strbuf_status(&h->ext_names)) {
            tt_strbuf_truncate(&h->extensions, before);
            tt_strbuf_truncate(&h->ext_names, names_before);
            rc = TETHER_E_NOMEM;
        }
    } else if (rc != TETHER_E_NOMEM) {
        rc = TETHER_E_INVAL;
    }
    tt_strbuf_free(&names);
    return rc;
}

int tether_client_hs_add_header(tether_client_hs *h, const char *name, const char *value) {
    static const char *const managed[] = {"host", NULL};
    int rc = tt_client_settable(h);
    if (rc) return rc;
    return tt_hs_add_extra_header(&h->extra, name, value, managed);
}

int tether_client_hs_set_max_header_bytes(tether_client_hs *h, size_t max) {
    if (!h) return TETHER_E_INVAL;
    return tt_http_head_set_max_bytes(&h->resp, max);
}

int tether_client_hs_set_max_headers(tether_client_hs *h, size_t max) {
    if (!h) return TETHER_E_INVAL;
    return tt_http_head_set_max_fields(&h->resp, max);
}

int tt_client_hs_set_key(tether_client_hs *h, const char *key) {
    int rc = tt_client_settable(h);
    if (rc) return rc;
    if (!key || strlen(key) != TETHER_KEY_LEN) return TETHER_E_INVAL;
    memcpy(h->key, key, TETHER_KEY_LEN + 1);
    h->key_fixed = 1;
    return 0;
}

static void tt_client_write_request(tether_client_hs *h, tt_strbuf *b) {
    tt_strbuf_add(b, "GET ", 4);
    tt_strbuf_adds(b, h->path);
    tt_strbuf_adds(b, " HTTP/1.1\r\n");
    tt_strbuf_add_field(b, "Host", h->host);
    tt_strbuf_adds(b, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    tt_strbuf_add_field(b, "Sec-WebSocket-Key", h->key);
    tt_strbuf_adds(b, "Sec-WebSocket-Version: 13\r\n");
    if (h->origin) tt_strbuf_add_field(b, "Origin", h->origin);
    if (h->protocols.len) tt_strbuf_add_field(b, "Sec-WebSocket-Protocol", h->protocols.p);
    if (h->extensions.len) tt_strbuf_add_field(b, "Sec-WebSocket-Extensions", h->extensions.p);
    tt_strbuf_add(b, tt_strbuf_str(&h->extra), h->extra.len);
    tt_strbuf_add(b, "\r\n", 2);
}

int tether_client_hs_request(tether_client_hs *h, const char **out, size_t *len) {
    if (!h || !out || !len) return TETHER_E_INVAL;
    if (!h->built) {
        int rc = h->key_fixed ? 0 : tether_handshake_key(h->key);
        if (!rc) rc = tether_handshake_accept_key(h->key, TETHER_KEY_LEN, h->accept);
        if (rc) return rc;
        tt_strbuf_reset(&h->request);
        tt_client_write_request(h, &h->request);
        rc = tt_strbuf_status(&h->request);
        if (rc) return rc;
        h->built = 1;
    }
    *out = h->request.p;
    *len = h->request.len;
    return 0;
}
