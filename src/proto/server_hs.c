/* Server opening handshake: reading and validating the client's request
 * (RFC 6455 section 4.2.1). */
#include "proto/server_hs_int.h"

#include "proto/http_token.h"

#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

tether_server_hs *tether_server_hs_new(void) {
    tether_server_hs *h = calloc(1, sizeof *h);
    if (h) tt_http_head_init(&h->req, TT_HTTP_REQUEST);
    return h;
}

void tether_server_hs_free(tether_server_hs *h) {
    if (!h) return;
    tt_http_head_release(&h->req);
    tt_strbuf_free(&h->extensions);
    tt_strbuf_free(&h->extra);
    tt_strbuf_free(&h->response);
    free(h);
}

int tether_server_hs_set_max_header_bytes(tether_server_hs *h, size_t max) {
    if (!h) return TETHER_E_INVAL;
    return tt_http_head_set_max_bytes(&h->req, max);
}

int tether_server_hs_set_max_headers(tether_server_hs *h, size_t max) {
    if (!h) return TETHER_E_INVAL;
    return tt_http_head_set_max_fields(&h->req, max);
}

/* Length of an absolute-form target's "scheme://" for the schemes a
 * WebSocket request may name (RFC 6455 4.2.1 allows an absolute HTTP/HTTPS
 * URI; ws/wss are accepted too), else 0. */
static size_t tt_server_scheme_len(const char *t) {
    static const char *const schemes[] = {"http://", "https://", "ws://", "wss://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (strlen(t) >= n && tt_http_eq_nocase(t, n, schemes[i])) return n;
    }
    return 0;
}

/* Derives the path (without the query) and the query. In absolute form the
 * path starts after the authority, and is "/" when empty. */
static int tt_server_split_target(tether_server_hs *h) {
    const char *t = tt_http_head_target(&h->req);
    size_t scheme = tt_server_scheme_len(t);
    const char *path = t, *q = strchr(t, '?');
    if (scheme) path = t + scheme + strcspn(t + scheme, "/?");
    size_t n = (size_t)((q ? q : t + strlen(t)) - path);
    if (q) h->query = (uint32_t)(q + 1 - h->req.buf);
    if (n == 0) return tt_http_head_store(&h->req, "/", 1, &h->path);
    return tt_http_head_store(&h->req, path, n, &h->path);
}

/* Copies each offered sub-protocol out of the (possibly joined) header.
 * TETHER_E_HS_MALFORMED if one is not a token, as RFC 6455 4.1 requires. */
static int tt_server_split_protocols(tether_server_hs *h) {
    const char *cur = tt_http_head_get(&h->req, "Sec-WebSocket-Protocol"), *e;
    size_t n, count = 0;
    if (!cur) return 0;
    while (tt_http_list_next(&cur, &e, &n)) {
        if (!tt_http_is_token(e, n)) return TETHER_E_HS_MALFORMED;
        /* Storing may move the buffer: keep the cursor as an offset. */
        size_t cur_off = (size_t)(cur - h->req.buf);
        uint32_t off;
        int rc = tt_http_head_store(&h->req, e, n, &off);
        if (rc) return rc;
        if (count++ == 0) h->protocols = off;
        cur = h->req.buf + cur_off;
    }
    h->nprotocols = count;
    return 0;
}

/* RFC 6455 4.2.1 item 5: the key must decode to exactly 16 bytes. Decoding
 * and re-encoding with OpenSSL and comparing also refuses stray characters,
 * missing padding and non-zero padding bits. */
static int tt_server_key_ok(const char *key) {
    unsigned char raw[24];
    char again[TETHER_KEY_LEN + 1];
    if (strlen(key) != TETHER_KEY_LEN) return 0;
    if (EVP_DecodeBlock(raw, (const unsigned char *)key, TETHER_KEY_LEN) != 18) return 0;
    EVP_EncodeBlock((unsigned char *)again, raw, 16);
    return memcmp(again, key, TETHER_KEY_LEN) == 0;
}

/* In absolute form the target's authority is the request's host (RFC 9112
 * section 3.2.2); one that differs from Host names some other server, and
 * a proxy in front of us would have routed it by the other one. */
int tt_server_authority_ok(const char *t, const char *host) {
    size_t scheme = tt_server_scheme_len(t);
    if (!scheme) return 1;
    const char *a = t + scheme;
    size_t n = strcspn(a, "/?");
    if (memchr(a, '@', n)) return 0; /* userinfo is deprecated and refused */
    return tt_http_host_valid(a, n) && tt_http_eq_nocase(a, n, host);
}

/* A body would be read as WebSocket frames by us and as a body by any
 * proxy in front, a request-smuggling vector: refuse any Transfer-Encoding
 * and any Content-Length but 0 (RFC 9112 section 6.3). */
static int tt_server_no_body(const tt_http_head *r) {
    if (tt_http_head_get(r, "Transfer-Encoding")) return 0;
    const char *cl = tt_http_head_get(r, "Content-Length");
    return !cl || strcmp(cl, "0") == 0;
}

/* The request line and Host: HTTP/1.1 or higher minor version (505 for
 * another major one), GET, a target in origin form or absolute form
 * without a fragment whose authority is Host, exactly one valid Host (RFC
 * 9112 section 3.2 demands 400 for a missing, repeated or invalid one),
 * and no body. */
static int tt_server_check_http(const tether_server_hs *h) {
    const tt_http_head *r = &h->req;
    const char *t = tt_http_head_target(r);
    if (r->major != 1) return TETHER_E_HS_HTTP_VERSION;
    if (r->minor < 1) return TETHER_E_HS_METHOD;
    if (strcmp(tt_http_head_method(r), "GET") != 0) return TETHER_E_HS_METHOD;
    if ((t[0] != '/' && !tt_server_scheme_len(t)) || strchr(t, '#')) return TETHER_E_HS_MALFORMED;
    const char *host = tt_http_head_get(r, "Host");
    if (!host || tt_http_head_occurrences(r, "Host") != 1) return TETHER_E_HS_MALFORMED;
    if (!tt_http_host_valid(host, strlen(host))) return TETHER_E_HS_MALFORMED;
    if (!tt_server_authority_ok(t, host)) return TETHER_E_HS_MALFORMED;
    if (!tt_server_no_body(r)) return TETHER_E_HS_MALFORMED;
    return 0;
}

static int tt_server_check_ws(const tether_server_hs *h) {
    const tt_http_head *r = &h->req;
    if (!tt_http_list_has(tt_http_head_get(r, "Upgrade"), "websocket")) return TETHER_E_HS_UPGRADE;
    if (!tt_http_list_has(tt_http_head_get(r, "Connection"), "upgrade")) return TETHER_E_HS_UPGRADE;
    const char *version = tt_http_head_get(r, "Sec-WebSocket-Version");
    if (!version || strcmp(version, "13") != 0) return TETHER_E_HS_VERSION;
    const char *key = tt_http_head_get(r, "Sec-WebSocket-Key");
    if (!key || !tt_server_key_ok(key)) return TETHER_E_HS_KEY;
    return 0;
}

/* The head is complete: derive what the accessors hand out (even when the
 * request is then refused), then validate. */
static int tt_server_complete(tether_server_hs *h) {
    int rc = tt_server_split_target(h);
    if (rc) return rc;
    int protocols_rc = tt_server_split_protocols(h);
    if (protocols_rc == TETHER_E_NOMEM) return protocols_rc;
    rc = tt_server_check_http(h);
    if (!rc) rc = tt_server_check_ws(h);
    return rc ? rc : protocols_rc;
}

int tether_server_hs_parse(tether_server_hs *h, const uint8_t *buf, size_t len, size_t *consumed) {
    if (consumed) *consumed = 0;
    if (!h || !consumed || (!buf && len)) return TETHER_E_INVAL;
    if (h->done) return h->result;
    int rc = tt_http_head_feed(&h->req, buf, len, consumed);
    if (rc == TETHER_E_AGAIN) return rc;
    if (rc == 0) rc = tt_server_complete(h);
    h->done = 1;
    h->result = rc;
    return rc;
}
