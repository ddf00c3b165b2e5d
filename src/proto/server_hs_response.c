/* Server opening handshake: the answer, 101 Switching Protocols (RFC 6455
 * section 4.2.2) or an HTTP error. A handshake gets one answer: once built it
 * is final, so the pointer handed out stays valid until the object is freed. */
#include "proto/server_hs_int.h"

#include "proto/ext_header.h"
#include "proto/hs_common.h"
#include "proto/http_response.h"
#include "proto/http_token.h"
#include "proto/request.h"

#include <string.h>

static int tt_server_answerable(const tether_server_hs *h) {
    if (!h) return TETHER_E_INVAL;
    return h->response_kind != TT_SERVER_NO_RESPONSE ? TETHER_E_STATE : 0;
}

int tether_server_hs_select_protocol(tether_server_hs *h, const char *protocol) {
    int rc = tt_server_answerable(h);
    if (rc) return rc;
    if (!h->done) return TETHER_E_STATE;
    if (!protocol) {
        h->selected = 0;
        return 0;
    }
    for (size_t i = 0; i < tether_server_hs_protocol_count(h); i++) {
        if (strcmp(tt_server_hs_protocol(h, i), protocol) == 0) {
            h->selected = i + 1;
            return 0;
        }
    }
    return TETHER_E_INVAL;
}

/* The value must be a well-formed extension list: it goes on the wire as is
 * and the client will parse it. NULL or "" means none. */
int tether_server_hs_set_extensions(tether_server_hs *h, const char *value) {
    int rc = tt_server_answerable(h);
    if (rc) return rc;
    size_t n = value ? strlen(value) : 0;
    if (n && (!tt_http_value_ok(value) || tt_ext_parse(value, n, NULL, NULL) != 0))
        return TETHER_E_INVAL;
    tt_strbuf_reset(&h->extensions);
    if (n) tt_strbuf_add(&h->extensions, value, n);
    rc = tt_strbuf_status(&h->extensions);
    if (rc) tt_strbuf_reset(&h->extensions);
    return rc;
}

/* Besides the WebSocket headers, the framing headers of a reject are ours:
 * a second Content-Length would make the response ambiguous. Its
 * Content-Type is the application's to choose. */
int tether_server_hs_add_header(tether_server_hs *h, const char *name, const char *value) {
    static const char *const managed[] = {"content-length", "transfer-encoding", NULL};
    int rc = tt_server_answerable(h);
    if (rc) return rc;
    return tt_hs_add_extra_header(&h->extra, name, value, managed);
}

static int tt_server_finish(tether_server_hs *h, int kind, const char **out, size_t *len) {
    int rc = tt_strbuf_status(&h->response);
    if (rc) {
        tt_strbuf_reset(&h->response);
        return rc;
    }
    h->response_kind = kind;
    *out = h->response.p;
    *len = h->response.len;
    return 0;
}

int tether_server_hs_accept(tether_server_hs *h, const char **out, size_t *len) {
    char accept[TETHER_ACCEPT_LEN + 1];
    if (!h || !out || !len) return TETHER_E_INVAL;
    if (h->response_kind == TT_SERVER_ACCEPTED)
        return tt_server_finish(h, h->response_kind, out, len);
    if (h->response_kind != TT_SERVER_NO_RESPONSE || !h->done || h->result != 0)
        return TETHER_E_STATE;
    const char *key = tt_http_head_get(&h->req, "Sec-WebSocket-Key");
    int rc = tether_handshake_accept_key(key, strlen(key), accept);
    if (rc) return rc;
    tt_strbuf *b = &h->response;
    tt_strbuf_adds(b, "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    tt_strbuf_add_field(b, "Sec-WebSocket-Accept", accept);
    if (h->selected)
        tt_strbuf_add_field(b, "Sec-WebSocket-Protocol", tt_server_hs_protocol(h, h->selected - 1));
    if (h->extensions.len) tt_strbuf_add_field(b, "Sec-WebSocket-Extensions", h->extensions.p);
    tt_strbuf_add(b, tt_strbuf_str(&h->extra), h->extra.len);
    tt_strbuf_add(b, "\r\n", 2);
    return tt_server_finish(h, TT_SERVER_ACCEPTED, out, len);
}

int tether_server_hs_reject(tether_server_hs *h, int status, const char *body, const char **out,
                            size_t *len) {
    if (!h || !out || !len || status <= 100 || status >= 600 || status == 101)
        return TETHER_E_INVAL;
    int rc = tt_server_answerable(h);
    if (rc) return rc;
    const char *phrase = tt_http_reason(status);
    if (!body) body = phrase;
    tt_strbuf *b = &h->response;
    tt_strbuf_adds(b, "HTTP/1.1 ");
    tt_strbuf_addu(b, (unsigned long)status);
    tt_strbuf_add(b, " ", 1);
    tt_strbuf_adds(b, phrase);
    tt_strbuf_add(b, "\r\n", 2);
    /* RFC 6455 4.4: tell the client which version we speak; RFC 9110
     * 15.5.6: a 405 lists the allowed methods. */
    if (status == 426) tt_strbuf_adds(b, "Sec-WebSocket-Version: 13\r\n");
    if (status == 405) tt_strbuf_adds(b, "Allow: GET\r\n");
    if (!tt_hs_extra_has(&h->extra, "content-type"))
        tt_strbuf_adds(b, "Content-Type: text/plain; charset=utf-8\r\n");
    tt_strbuf_adds(b, "Content-Length: ");
    tt_strbuf_addu(b, (unsigned long)strlen(body));
    tt_strbuf_adds(b, "\r\nConnection: close\r\n");
    tt_strbuf_add(b, tt_strbuf_str(&h->extra), h->extra.len);
    tt_strbuf_add(b, "\r\n", 2);
    tt_strbuf_adds(b, body);
    return tt_server_finish(h, TT_SERVER_REJECTED, out, len);
}

/* Once the response has been copied out (the api layer queues it), a
 * server connection only needs the request for its accessors: drop the
 * response and the settings that built it, and fit the request's buffers
 * to their contents. An idle connection then holds a few hundred bytes of
 * handshake instead of several kilobytes. */
tt_request *tt_server_hs_freeze(const tether_server_hs *h) {
    return tt_request_freeze(&h->req, h->path, h->query);
}

void tt_server_hs_compact(tether_server_hs *h) {
    tt_strbuf_free(&h->response);
    tt_strbuf_free(&h->extra);
    h->response_kind = TT_SERVER_COMPACTED;
    tt_http_head_compact(&h->req);
}
