/* Client opening handshake: reading the server's response (RFC 6455 section
 * 4.1, the client's checks in the order the RFC lists them). */
#include "proto/client_hs.h"

#include "proto/ext_header.h"
#include "proto/http_token.h"

#include <string.h>

/* Upgrade must be exactly "websocket" (any case), not a list containing it:
 * RFC 6455 4.1 says to fail on anything else. */
static int tt_client_check_upgrade(const tt_http_head *r) {
    const char *up = tt_http_head_get(r, "Upgrade");
    if (!up || !tt_http_eq_nocase(up, strlen(up), "websocket")) return TETHER_E_HS_UPGRADE;
    if (!tt_http_list_has(tt_http_head_get(r, "Connection"), "upgrade")) return TETHER_E_HS_UPGRADE;
    return 0;
}

static int tt_client_name_offered(void *ctx, const char *name, const tt_ext_param *params,
                                  size_t nparams) {
    const tt_strbuf *names = ctx;
    (void)params;
    (void)nparams;
    for (size_t off = 0; off < names->len; off += strlen(names->p + off) + 1) {
        const char *offered = names->p + off;
        if (tt_http_eq_nocase(offered, strlen(offered), name)) return 0;
    }
    return TETHER_E_HS_EXTENSION;
}

/* Every extension in the response must have been offered; whether its
 * parameters are acceptable is the extension's own business
 * (tether_pmd_accept() for permessage-deflate). */
static int tt_client_check_extensions(const tether_client_hs *h) {
    const char *ext = tt_http_head_get(&h->resp, "Sec-WebSocket-Extensions");
    if (!ext) return 0;
    int rc = tt_ext_parse(ext, strlen(ext), tt_client_name_offered, (void *)&h->ext_names);
    return rc ? TETHER_E_HS_EXTENSION : 0;
}

/* One token, among those offered (compared exactly); none at all is fine. */
static int tt_client_check_protocol(const tether_client_hs *h) {
    const char *proto = tt_http_head_get(&h->resp, "Sec-WebSocket-Protocol");
    if (!proto) return 0;
    size_t n = strlen(proto);
    if (!tt_http_is_token(proto, n) || !tt_http_list_has_exact(h->protocols.p, proto, n))
        return TETHER_E_HS_PROTOCOL;
    return 0;
}

/* Only an HTTP/1.1 101 upgrades. A refusal is reported as HS_STATUS from any
 * HTTP/1.x server (a proxy may well answer in HTTP/1.0), so that the
 * application sees its status and headers. */
static int tt_client_check(const tether_client_hs *h) {
    const tt_http_head *r = &h->resp;
    if (r->major != 1) return TETHER_E_HS_MALFORMED;
    if (r->status != 101) return TETHER_E_HS_STATUS;
    if (r->minor != 1) return TETHER_E_HS_MALFORMED;
    int rc = tt_client_check_upgrade(r);
    if (rc) return rc;
    const char *accept = tt_http_head_get(r, "Sec-WebSocket-Accept");
    if (!accept || strcmp(accept, h->accept) != 0) return TETHER_E_HS_ACCEPT;
    rc = tt_client_check_extensions(h);
    return rc ? rc : tt_client_check_protocol(h);
}

int tether_client_hs_parse(tether_client_hs *h, const uint8_t *buf, size_t len, size_t *consumed) {
    if (consumed) *consumed = 0;
    if (!h || !consumed || (!buf && len)) return TETHER_E_INVAL;
    if (!h->built) return TETHER_E_STATE;
    if (h->done) return h->result;
    int rc = tt_http_head_feed(&h->resp, buf, len, consumed);
    if (rc == TETHER_E_AGAIN) return rc;
    if (rc == 0) rc = tt_client_check(h);
    h->done = 1;
    h->result = rc;
    return rc;
}

int tether_client_hs_status(const tether_client_hs *h) {
    return h ? tt_http_head_status(&h->resp) : 0;
}

const char *tether_client_hs_reason(const tether_client_hs *h) {
    return h ? tt_http_head_reason(&h->resp) : NULL;
}

const char *tether_client_hs_header(const tether_client_hs *h, const char *name) {
    return h && name ? tt_http_head_get(&h->resp, name) : NULL;
}

size_t tether_client_hs_header_count(const tether_client_hs *h) {
    return h ? tt_http_head_count(&h->resp) : 0;
}

int tether_client_hs_header_at(const tether_client_hs *h, size_t i, const char **name,
                               const char **value) {
    if (!h) return TETHER_E_INVAL;
    return tt_http_head_at(&h->resp, i, name, value);
}

/* Only for an accepted upgrade: a refused response's headers are not a
 * negotiation result. */
const char *tether_client_hs_protocol(const tether_client_hs *h) {
    if (!h || !h->done || h->result != 0) return NULL;
    return tt_http_head_get(&h->resp, "Sec-WebSocket-Protocol");
}

const char *tether_client_hs_extensions(const tether_client_hs *h) {
    if (!h || !h->done || h->result != 0) return NULL;
    return tt_http_head_get(&h->resp, "Sec-WebSocket-Extensions");
}
