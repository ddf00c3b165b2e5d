/* Server opening handshake: what the application may ask about the request.
 * Everything is NULL / 0 until a complete head was received. */
#include "proto/server_hs_int.h"

#include <string.h>

static const tt_http_head *tt_server_head(const tether_server_hs *h) {
    return h && tt_http_head_done(&h->req) ? &h->req : NULL;
}

const char *tether_server_hs_method(const tether_server_hs *h) {
    const tt_http_head *r = tt_server_head(h);
    return r ? tt_http_head_method(r) : NULL;
}

const char *tether_server_hs_target(const tether_server_hs *h) {
    const tt_http_head *r = tt_server_head(h);
    return r ? tt_http_head_target(r) : NULL;
}

const char *tether_server_hs_path(const tether_server_hs *h) {
    const tt_http_head *r = tt_server_head(h);
    /* The path is derived when the head completes; a head whose derivation
     * failed for want of memory has none. */
    return r && h->path ? tt_http_head_str(r, h->path) : NULL;
}

const char *tether_server_hs_query(const tether_server_hs *h) {
    const tt_http_head *r = tt_server_head(h);
    return r && h->query ? tt_http_head_str(r, h->query) : NULL;
}

const char *tether_server_hs_header(const tether_server_hs *h, const char *name) {
    const tt_http_head *r = tt_server_head(h);
    return r && name ? tt_http_head_get(r, name) : NULL;
}

size_t tether_server_hs_header_count(const tether_server_hs *h) {
    const tt_http_head *r = tt_server_head(h);
    return r ? tt_http_head_count(r) : 0;
}

int tether_server_hs_header_at(const tether_server_hs *h, size_t i, const char **name,
                               const char **value) {
    if (!h) return TETHER_E_INVAL;
    return tt_http_head_at(&h->req, i, name, value);
}

const char *tether_server_hs_origin(const tether_server_hs *h) {
    return tether_server_hs_header(h, "Origin");
}

size_t tether_server_hs_protocol_count(const tether_server_hs *h) {
    return tt_server_head(h) ? h->nprotocols : 0;
}

const char *tt_server_hs_protocol(const tether_server_hs *h, size_t i) {
    uint32_t off = h->protocols;
    for (; i > 0; i--)
        off += (uint32_t)strlen(tt_http_head_str(&h->req, off)) + 1;
    return tt_http_head_str(&h->req, off);
}

const char *tether_server_hs_protocol_at(const tether_server_hs *h, size_t i) {
    if (i >= tether_server_hs_protocol_count(h)) return NULL;
    return tt_server_hs_protocol(h, i);
}

const char *tether_server_hs_extensions(const tether_server_hs *h) {
    return tether_server_hs_header(h, "Sec-WebSocket-Extensions");
}
