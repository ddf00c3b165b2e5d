/* Plain HTTP requests on the WebSocket port: a request that does not ask
 * for an upgrade is checked as RFC 9112 demands of any request, and its
 * body framing decided, so that it and a proxy in front of us agree on
 * where it ends (RFC 9112 section 6.3). */
#include "proto/server_hs_int.h"

#include "proto/http_body.h"
#include "proto/http_token.h"

#include <string.h>

/* Origin form, absolute form (its authority must be Host's: see
 * server_hs.c) or, for OPTIONS, asterisk form; never a fragment. */
static int tt_plain_target_ok(const tt_http_head *r) {
    const char *t = tt_http_head_target(r);
    if (strchr(t, '#')) return 0;
    if (t[0] == '/') return 1;
    if (strcmp(t, "*") == 0) return strcmp(tt_http_head_method(r), "OPTIONS") == 0;
    return strstr(t, "://") != NULL;
}

/* HTTP/1.1 requires exactly one valid Host, naming the absolute-form
 * target's authority; HTTP/1.0 may omit it (but not with such a target). */
static int tt_plain_host_ok(const tt_http_head *r) {
    const char *host = tt_http_head_get(r, "Host");
    if (!host) return r->minor == 0 && !strstr(tt_http_head_target(r), "://");
    return tt_http_head_occurrences(r, "Host") == 1 && tt_http_host_valid(host, strlen(host)) &&
           tt_server_authority_ok(tt_http_head_target(r), host);
}

static int tt_plain_framing(const tt_http_head *r, uint64_t *length, int *chunked) {
    const char *te = tt_http_head_get(r, "Transfer-Encoding");
    const char *cl = tt_http_head_get(r, "Content-Length");
    *length = 0;
    *chunked = 0;
    if (te) {
        /* chunked alone: any other coding we cannot decode, and a length
         * beside it, or chunking in HTTP/1.0, is how smuggling starts */
        if (cl || r->minor == 0 || !tt_http_eq_nocase(te, strlen(te), "chunked"))
            return TETHER_E_HS_MALFORMED;
        *chunked = 1;
        return 0;
    }
    return cl ? tt_http_parse_length(cl, length) : 0;
}

int tt_server_hs_plain(const tether_server_hs *h, uint64_t *length, int *chunked) {
    const tt_http_head *r = &h->req;
    if (!h->done || !tt_http_head_done(r)) return h->done ? h->result : TETHER_E_STATE;
    if (tt_http_list_has(tt_http_head_get(r, "Upgrade"), "websocket")) return h->result;
    if (r->major != 1) return TETHER_E_HS_HTTP_VERSION;
    if (!tt_plain_target_ok(r) || !tt_plain_host_ok(r)) return TETHER_E_HS_MALFORMED;
    return tt_plain_framing(r, length, chunked);
}

const char *tt_server_hs_method(const tether_server_hs *h) {
    return tt_http_head_done(&h->req) ? tt_http_head_method(&h->req) : NULL;
}

int tt_server_hs_keep_alive(const tether_server_hs *h) {
    const char *conn = tt_http_head_get(&h->req, "Connection");
    if (h->req.minor == 0) return tt_http_list_has(conn, "keep-alive");
    return !tt_http_list_has(conn, "close");
}

int tt_server_hs_minor(const tether_server_hs *h) {
    return h->req.minor;
}
