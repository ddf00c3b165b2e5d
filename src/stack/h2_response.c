/* A stream's response from HTTP/1.1 bytes (h2.h): the head becomes
 * HEADERS (connection-specific fields dropped, RFC 9113 8.2.2; a
 * WebSocket's 101 becomes RFC 8441's 200), the body DATA (chunks decoded;
 * END_STREAM where the length or the last chunk ends it). The bytes come
 * from tether's own HTTP/1.1 writer, but are checked all the same: what is
 * not a response fails the stream, never the session. */
#include "stack/h2_int.h"

#include "tether.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A head longer than this is not one tether wrote. */
#define TT_H2_MAX_HEAD (64u * 1024u)
#define TT_H2_MAX_FIELDS 128

static void tt_h2_kick(tt_h2_stream *s);

/* ---- DATA for nghttp2 ---------------------------------------------------------------- */

static ssize_t tt_h2_read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                               uint32_t *flags, nghttp2_data_source *src, void *ud) {
    (void)ng;
    (void)id;
    (void)ud;
    tt_h2_stream *s = src->ptr;
    size_t have = tt_outbuf_len(&s->out);
    size_t n = have < length ? have : length;
    if (n) {
        memcpy(buf, s->out.buf + s->out.head, n);
        tt_outbuf_consume(&s->out, n);
    }
    if (s->blocked && tt_h2_stream_owed(s) < TT_H2_STREAM_BACKLOG) {
        s->blocked = 0;
        tt_h2_mark(s, TT_H2_WRITABLE);
    }
    if (tt_outbuf_len(&s->out)) return (ssize_t)n;
    if (s->out_state == TT_H2_OUT_DONE || s->out_end) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n) return (ssize_t)n;
    s->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
}

static void tt_h2_kick(tt_h2_stream *s) {
    int more = tt_outbuf_len(&s->out) || s->out_state == TT_H2_OUT_DONE || s->out_end;
    if (s->deferred && more && s->h2) {
        s->deferred = 0;
        nghttp2_session_resume_data(s->h2->ng, s->id);
    }
}

/* ---- the head ---------------------------------------------------------------------- */

typedef struct tt_h2_head {
    int status;
    int chunked, has_length;
    uint64_t length;
    nghttp2_nv nv[TT_H2_MAX_FIELDS + 1];
    size_t n;
    char status_text[4];
} tt_h2_head;

static int tt_h2_dropped(const char *name, int status) {
    static const char *const conn[] = {"connection",        "keep-alive", "proxy-connection",
                                       "transfer-encoding", "upgrade",    NULL};
    for (int i = 0; conn[i]; i++)
        if (strcmp(name, conn[i]) == 0) return 1;
    return status == 101 && strcmp(name, "sec-websocket-accept") == 0;
}

/* One "Name: value" line (NUL-terminated, in place): 0 or -1. */
static int tt_h2_head_field(tt_h2_head *hd, char *line) {
    char *colon = strchr(line, ':');
    if (!colon || colon == line) return -1;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        v[--vl] = 0;
    for (char *p = line; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(line, "transfer-encoding") == 0 && strcasestr(v, "chunked")) hd->chunked = 1;
    if (strcmp(line, "content-length") == 0) {
        char *end;
        hd->length = strtoull(v, &end, 10);
        if (*end || !*v) return -1;
        hd->has_length = 1;
    }
    if (tt_h2_dropped(line, hd->status)) return 0;
    if (hd->n > TT_H2_MAX_FIELDS) return -1;
    hd->nv[hd->n++] =
        (nghttp2_nv){(uint8_t *)line, (uint8_t *)v, strlen(line), vl, NGHTTP2_NV_FLAG_NONE};
    return 0;
}

/* Parses head (its bytes up to, not including, the empty line; changed in
 * place) into hd. Returns 0 or -1. */
static int tt_h2_parse_head(tt_h2_head *hd, char *head, int tunnel) {
    char *line = head, *next;
    if (strlen(line) < 12 || strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[9]) ||
        !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) || line[8] != ' ')
        return -1;
    hd->status = atoi(line + 9);
    if (hd->status < 100 || hd->status > 599) return -1;
    int shown = hd->status == 101 && tunnel ? 200 : hd->status;
    snprintf(hd->status_text, sizeof hd->status_text, "%d", shown);
    hd->nv[0] =
        (nghttp2_nv){(uint8_t *)":status", (uint8_t *)hd->status_text, 7, 3, NGHTTP2_NV_FLAG_NONE};
    hd->n = 1;
    for (line = strstr(head, "\r\n"); line; line = next) {
        line += 2;
        next = strstr(line, "\r\n");
        if (next) *next = 0;
        if (*line && tt_h2_head_field(hd, line)) return -1;
    }
    return 0;
}

/* Submits the parsed head; sets where the body is. 0 or an error. */
static int tt_h2_submit_head(tt_h2_stream *s, tt_h2_head *hd) {
    nghttp2_session *ng = s->h2->ng;
    if (hd->status < 200 && hd->status != 101) /* 100 Continue: a final head follows */
        return nghttp2_submit_headers(ng, NGHTTP2_FLAG_NONE, s->id, NULL, hd->nv, hd->n, NULL)
                   ? TETHER_E_NOMEM
                   : 0;
    if (hd->status == 101 && !s->tunnel) return TETHER_E_HTTP2;
    int bodiless = hd->status == 101 ? 0
                                     : s->head_request || hd->status == 204 || hd->status == 304 ||
                                           (hd->has_length && !hd->chunked && hd->length == 0);
    if (hd->status == 101 || (!hd->chunked && !hd->has_length)) {
        s->out_state = TT_H2_OUT_TUNNEL; /* until our side ends */
    } else if (bodiless) {
        s->out_state = TT_H2_OUT_DONE;
    } else if (hd->chunked) {
        s->out_state = TT_H2_OUT_CHUNKED;
        tt_http_body_chunked(&s->dechunk, UINT64_MAX);
    } else {
        s->out_state = TT_H2_OUT_LENGTH;
        s->out_left = hd->length;
    }
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = tt_h2_read_body};
    s->submitted = 1;
    int rc = nghttp2_submit_response(ng, s->id, hd->nv, hd->n, bodiless ? NULL : &dp);
    return rc ? TETHER_E_NOMEM : 0;
}

/* The head is complete in raw (ending at end): submit it, keep what follows. */
static int tt_h2_take_head(tt_h2_stream *s, size_t head_len) {
    size_t total = tt_outbuf_len(&s->raw);
    char *text = malloc(head_len + 1);
    if (!text) return TETHER_E_NOMEM;
    memcpy(text, s->raw.buf + s->raw.head, head_len);
    text[head_len] = 0;
    tt_h2_head hd;
    memset(&hd, 0, sizeof hd);
    int rc = tt_h2_parse_head(&hd, text, s->tunnel) ? TETHER_E_HTTP2 : tt_h2_submit_head(s, &hd);
    free(text);
    tt_outbuf_consume(&s->raw, head_len + 4 > total ? total : head_len + 4);
    return rc;
}

/* ---- the body ---------------------------------------------------------------------- */

/* Body bytes in the current state: how many were used. */
static ssize_t tt_h2_body(tt_h2_stream *s, const uint8_t *buf, size_t len) {
    if (s->out_state == TT_H2_OUT_DONE) return (ssize_t)len; /* nothing may follow */
    if (s->out_state == TT_H2_OUT_TUNNEL)
        return tt_outbuf_append(&s->out, buf, len) ? TETHER_E_NOMEM : (ssize_t)len;
    if (s->out_state == TT_H2_OUT_LENGTH) {
        size_t n = (uint64_t)len < s->out_left ? len : (size_t)s->out_left;
        if (tt_outbuf_append(&s->out, buf, n)) return TETHER_E_NOMEM;
        s->out_left -= n;
        if (!s->out_left) s->out_state = TT_H2_OUT_DONE;
        return (ssize_t)len;
    }
    size_t off = 0;
    while (off < len || s->out_state == TT_H2_OUT_CHUNKED) {
        size_t used = 0, dl = 0;
        const uint8_t *d = NULL;
        int rc = tt_http_body_next(&s->dechunk, buf + off, len - off, &used, &d, &dl);
        off += used;
        if (rc == 1 && tt_outbuf_append(&s->out, d, dl)) return TETHER_E_NOMEM;
        if (rc == 0) s->out_state = TT_H2_OUT_DONE;
        if (rc == 0 || rc == TETHER_E_AGAIN) break;
        if (rc < 0) return TETHER_E_HTTP2;
    }
    return (ssize_t)len;
}

/* Where the head ends in raw (the length before its empty line), or 0. */
static size_t tt_h2_head_end(const tt_outbuf *raw) {
    const uint8_t *p = raw->buf + raw->head;
    size_t n = raw->tail - raw->head;
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') return i;
    return 0;
}

ssize_t tt_h2_translate(tt_h2_stream *s, const uint8_t *buf, size_t len) {
    if (s->out_state != TT_H2_OUT_HEAD) {
        ssize_t n = tt_h2_body(s, buf, len);
        tt_h2_kick(s);
        return n;
    }
    if (tt_outbuf_append(&s->raw, buf, len)) return TETHER_E_NOMEM;
    size_t end;
    while (s->out_state == TT_H2_OUT_HEAD && (end = tt_h2_head_end(&s->raw)) != 0) {
        int rc = tt_h2_take_head(s, end);
        if (rc) return rc;
    }
    if (s->out_state == TT_H2_OUT_HEAD) {
        if (tt_outbuf_len(&s->raw) > TT_H2_MAX_HEAD) return TETHER_E_HTTP2;
        return (ssize_t)len;
    }
    /* the body's first bytes came with the head */
    size_t rest = tt_outbuf_len(&s->raw);
    if (rest) {
        ssize_t n = tt_h2_body(s, s->raw.buf + s->raw.head, rest);
        tt_outbuf_consume(&s->raw, rest);
        if (n < 0) return n;
    }
    tt_outbuf_free(&s->raw);
    tt_h2_kick(s);
    return (ssize_t)len;
}
