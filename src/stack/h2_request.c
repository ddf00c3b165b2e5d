/* A stream's request as HTTP/1.1 bytes (h2.h): the HEADERS become a head,
 * the DATA its body. nghttp2 has already checked the request (pseudo-header
 * fields, field names and values, connection-specific fields, content-length
 * against the DATA), so what is written here is well-formed; the server's
 * HTTP/1.1 parser then applies tether's own rules and limits to it. */
#include "stack/h2_int.h"

#include "tether.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int tt_h2_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
    tt_h2 *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    tt_h2_stream *s = calloc(1, sizeof *s);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    s->h2 = h;
    s->id = f->hd.stream_id;
    s->next = h->streams;
    h->streams = s;
    h->nstreams++;
    nghttp2_session_set_stream_user_data(ng, s->id, s);
    return 0;
}

static int tt_h2_keep(char **slot, const uint8_t *v, size_t n) {
    if (*slot) return -1; /* nghttp2 refuses repeats; be sure */
    *slot = strndup((const char *)v, n);
    return *slot ? 0 : -1;
}

static int tt_h2_pseudo(tt_h2_stream *s, const char *name, const uint8_t *v, size_t n) {
    if (strcmp(name, ":method") == 0) return tt_h2_keep(&s->method, v, n);
    if (strcmp(name, ":path") == 0) return tt_h2_keep(&s->path, v, n);
    if (strcmp(name, ":authority") == 0) return tt_h2_keep(&s->authority, v, n);
    if (strcmp(name, ":protocol") == 0) return tt_h2_keep(&s->protocol, v, n);
    return 0; /* :scheme says nothing the head needs */
}

/* A field of the request, as an HTTP/1.1 line; what has no meaning in
 * HTTP/1.1 or is made here (Host, the WebSocket key) is left out. */
static void tt_h2_field(tt_h2_stream *s, const char *name, const uint8_t *v, size_t n) {
    if (strcmp(name, "cookie") == 0) {
        if (s->cookie.len) tt_strbuf_adds(&s->cookie, "; ");
        tt_strbuf_add(&s->cookie, (const char *)v, n);
        return;
    }
    if (strcmp(name, "host") == 0) {
        if (!s->authority) tt_h2_keep(&s->authority, v, n);
        return;
    }
    if (strcmp(name, "te") == 0 || strcmp(name, "sec-websocket-key") == 0) return;
    if (strcmp(name, "content-length") == 0) s->has_length = 1;
    tt_strbuf_adds(&s->fields, name);
    tt_strbuf_adds(&s->fields, ": ");
    tt_strbuf_add(&s->fields, (const char *)v, n);
    tt_strbuf_adds(&s->fields, "\r\n");
}

int tt_h2_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                    void *ud) {
    (void)flags;
    (void)ud;
    tt_h2_stream *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!s || s->head_done) return 0; /* trailer fields are dropped */
    /* nghttp2 refuses these already; a head must never be split by one */
    if (memchr(value, '\r', valuelen) || memchr(value, '\n', valuelen) ||
        memchr(value, '\0', valuelen) || memchr(name, '\0', namelen))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    char nm[64];
    if (name[0] == ':') {
        if (namelen >= sizeof nm) return 0;
        memcpy(nm, name, namelen);
        nm[namelen] = 0;
        return tt_h2_pseudo(s, nm, value, valuelen) ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
    }
    if (s->fields.len + s->cookie.len + namelen + valuelen + 4 > s->h2->cfg.max_header_bytes) {
        s->too_big = 1; /* answered with 431 at the end of the head */
        return 0;
    }
    char *n = strndup((const char *)name, namelen);
    if (!n) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    tt_h2_field(s, n, value, valuelen);
    free(n);
    return 0;
}

/* ---- the head ---------------------------------------------------------------------- */

/* RFC 8441 4: a WebSocket opened by extended CONNECT reads as an HTTP/1.1
 * upgrade. Its key is never used (the 101's Accept is dropped on the way
 * back), but the parser wants a well-formed one. */
static void tt_h2_tunnel_head(tt_h2_stream *s, tt_strbuf *b) {
    tt_strbuf_adds(b, "GET ");
    tt_strbuf_adds(b, s->path);
    tt_strbuf_adds(b, " HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n");
    s->tunnel = 1;
}

/* Anything else: the method and target as they came, one request on the
 * "connection", a body chunked unless a length was given. */
static void tt_h2_plain_head(tt_h2_stream *s, tt_strbuf *b, int ended) {
    tt_strbuf_adds(b, s->method);
    tt_strbuf_adds(b, " ");
    tt_strbuf_adds(b, s->path);
    tt_strbuf_adds(b, " HTTP/1.1\r\nConnection: close\r\n");
    if (!s->has_length && !ended) {
        tt_strbuf_adds(b, "Transfer-Encoding: chunked\r\n");
        s->in_chunked = 1;
    }
    s->head_request = strcmp(s->method, "HEAD") == 0;
}

/* Answers a request no reader sees (400, 405, 431, 501) with an empty body. */
static int tt_h2_respond_status(tt_h2 *h, int32_t id, int status) {
    char text[4];
    snprintf(text, sizeof text, "%d", status);
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)text, 7, 3, NGHTTP2_NV_FLAG_NONE},
                       {(uint8_t *)"content-length", (uint8_t *)"0", 14, 1, NGHTTP2_NV_FLAG_NONE}};
    tt_h2_stream *s = nghttp2_session_get_stream_user_data(h->ng, id);
    if (s) {
        s->out_state = TT_H2_OUT_DONE;
        s->submitted = 1;
        s->in_eof = 1; /* its DATA is dropped */
    }
    return nghttp2_submit_response(h->ng, id, nv, 2, NULL) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

/* 0, or the status to answer a request no reader will see. */
static int tt_h2_head(tt_h2_stream *s, int ended) {
    tt_strbuf b = {0};
    if (s->too_big) return 431;
    if (s->method && !s->protocol && strcmp(s->method, "CONNECT") == 0)
        return 405; /* a tunnel to a host: tether is not a proxy */
    if (!s->method || !s->path) return 400;
    if (s->protocol) {
        if (strcmp(s->method, "CONNECT") != 0 || strcasecmp(s->protocol, "websocket") != 0)
            return 501;
        tt_h2_tunnel_head(s, &b);
    } else {
        tt_h2_plain_head(s, &b, ended);
    }
    if (s->authority) {
        tt_strbuf_adds(&b, "Host: ");
        tt_strbuf_adds(&b, s->authority);
        tt_strbuf_adds(&b, "\r\n");
    }
    if (s->fields.len) tt_strbuf_add(&b, s->fields.p, s->fields.len);
    if (s->cookie.len) tt_strbuf_add_field(&b, "Cookie", tt_strbuf_str(&s->cookie));
    tt_strbuf_adds(&b, "\r\n");
    int rc = tt_strbuf_status(&b);
    if (rc) {
        tt_strbuf_free(&b);
        return 500;
    }
    if (b.len > s->h2->cfg.max_header_bytes + 256) { /* 256: what this file adds */
        tt_strbuf_free(&b);
        return 431;
    }
    rc = tt_outbuf_append(&s->in, b.p, b.len);
    tt_strbuf_free(&b);
    return rc ? 500 : 0;
}

/* END_STREAM: the request's body (if any) is complete. */
static void tt_h2_request_end(tt_h2_stream *s) {
    if (s->in_eof) return;
    if (s->in_chunked && tt_outbuf_append(&s->in, "0\r\n\r\n", 5)) return;
    s->in_eof = 1;
    tt_h2_mark(s, TT_H2_READABLE);
}

static int tt_h2_on_headers(tt_h2 *h, tt_h2_stream *s, const nghttp2_frame *f) {
    int ended = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (s->head_done) { /* trailers */
        if (ended) tt_h2_request_end(s);
        return 0;
    }
    s->head_done = 1;
    int status = tt_h2_head(s, ended);
    tt_h2_request_free(s); /* the head is in `in` now */
    if (status) return tt_h2_respond_status(h, s->id, status);
    if (ended) tt_h2_request_end(s);
    tt_h2_mark(s, TT_H2_NEW);
    return 0;
}

int tt_h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
    tt_h2_stream *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!s) return 0;
    if (f->hd.type == NGHTTP2_HEADERS) return tt_h2_on_headers(ud, s, f);
    if (f->hd.type == NGHTTP2_DATA && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) tt_h2_request_end(s);
    return 0;
}

int tt_h2_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                  void *ud) {
    (void)flags;
    (void)ud;
    tt_h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s || !s->head_done || s->in_eof) { /* nobody will read it */
        nghttp2_session_consume(ng, id, len);
        return 0;
    }
    int rc = 0;
    if (s->in_chunked) {
        char size[24];
        int k = snprintf(size, sizeof size, "%zx\r\n", len);
        rc = tt_outbuf_append(&s->in, size, (size_t)k);
        if (!rc) rc = tt_outbuf_append(&s->in, data, len);
        if (!rc) rc = tt_outbuf_append(&s->in, "\r\n", 2);
    } else {
        rc = tt_outbuf_append(&s->in, data, len);
    }
    if (rc) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->unconsumed += len;
    tt_h2_mark(s, TT_H2_READABLE);
    return 0;
}
