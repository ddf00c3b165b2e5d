/* Incremental HTTP/1.1 message head parser; see http_head.h for the rules.
 *
 * Bytes are copied into the buffer a line at a time (memchr for the LF) and
 * each line is checked and cut up in place as soon as it is complete: names,
 * values and start-line parts are NUL-terminated where their delimiters were,
 * so no string is copied. When the head is complete, repeated fields get one
 * joined value appended after the head, for lookups. */
#include "proto/http_head.h"

#include "proto/http_token.h"
#include "tether.h"

#include <stdlib.h>
#include <string.h>

enum { TT_HEAD_START, TT_HEAD_FIELDS, TT_HEAD_DONE, TT_HEAD_FAILED };

/* First allocation; small enough for an idle object, big enough that a
 * typical handshake head (300-600 bytes) needs no growth. */
#define TT_HEAD_INITIAL_CAP 1024
#define TT_HEAD_INITIAL_FIELDS 16

void tt_http_head_init(tt_http_head *h, tt_http_kind kind) {
    memset(h, 0, sizeof *h);
    h->kind = kind;
    h->state = TT_HEAD_START;
    h->max_bytes = TETHER_DEFAULT_MAX_HEADER_BYTES;
    h->max_fields = TETHER_DEFAULT_MAX_HEADERS;
}

void tt_http_head_release(tt_http_head *h) {
    free(h->buf);
    free(h->fields);
    tt_http_head_init(h, h->kind);
}

static int tt_head_set_limit(tt_http_head *h, size_t *limit, size_t max) {
    if (max == 0 || max > TT_HTTP_MAX_LIMIT) return TETHER_E_INVAL;
    if (tt_http_head_started(h)) return TETHER_E_STATE;
    *limit = max;
    return 0;
}

int tt_http_head_set_max_bytes(tt_http_head *h, size_t max) {
    return tt_head_set_limit(h, &h->max_bytes, max);
}

int tt_http_head_set_max_fields(tt_http_head *h, size_t max) {
    return tt_head_set_limit(h, &h->max_fields, max);
}

int tt_http_head_started(const tt_http_head *h) {
    return h->len > 0 || h->state != TT_HEAD_START;
}

int tt_http_head_done(const tt_http_head *h) {
    return h->head_len > 0;
}

/* Makes room for `need` bytes in all. Callers bound `need`: the head by
 * max_bytes, derived strings by the size of the head they derive from. */
static int tt_head_reserve(tt_http_head *h, size_t need) {
    if (need <= h->cap) return 0;
    if (need > (size_t)UINT32_MAX) return TETHER_E_NOMEM;
    size_t cap = h->cap ? h->cap : TT_HEAD_INITIAL_CAP;
    while (cap < need)
        cap = cap > (size_t)UINT32_MAX / 2 ? need : cap * 2;
    /* While receiving the head, never hold more than the limit allows. */
    if (need <= h->max_bytes && cap > h->max_bytes) cap = h->max_bytes;
    char *p = realloc(h->buf, cap);
    if (!p) return TETHER_E_NOMEM;
    h->buf = p;
    h->cap = cap;
    return 0;
}

static int tt_head_fail(tt_http_head *h, int err) {
    h->state = TT_HEAD_FAILED;
    h->error = err;
    return err;
}

/* "HTTP/" DIGIT "." DIGIT, case-sensitive as RFC 9112 section 2.3 says. */
static int tt_head_version(tt_http_head *h, const char *s, size_t n) {
    if (n != 8 || memcmp(s, "HTTP/", 5) != 0) return TETHER_E_HS_MALFORMED;
    if (s[5] < '0' || s[5] > '9' || s[6] != '.' || s[7] < '0' || s[7] > '9')
        return TETHER_E_HS_MALFORMED;
    h->major = s[5] - '0';
    h->minor = s[7] - '0';
    return 0;
}

/* method SP request-target SP HTTP-version; single spaces only. The target
 * is checked for visible ASCII here; its form is the caller's business. */
static int tt_head_request_line(tt_http_head *h, size_t start, size_t end) {
    char *line = h->buf + start;
    size_t n = end - start;
    char *sp1 = memchr(line, ' ', n);
    if (!sp1 || !tt_http_is_token(line, (size_t)(sp1 - line))) return TETHER_E_HS_MALFORMED;
    char *target = sp1 + 1;
    char *sp2 = memchr(target, ' ', n - (size_t)(target - line));
    if (!sp2 || sp2 == target) return TETHER_E_HS_MALFORMED;
    for (char *p = target; p < sp2; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) return TETHER_E_HS_MALFORMED;
    int rc = tt_head_version(h, sp2 + 1, n - (size_t)(sp2 + 1 - line));
    if (rc) return rc;
    *sp1 = '\0';
    *sp2 = '\0';
    line[n] = '\0';
    h->method = (uint32_t)start;
    h->target = (uint32_t)(target - h->buf);
    return 0;
}

/* HTTP-version SP 3DIGIT [SP reason-phrase]. The reason phrase is optional
 * with its space too: some servers send "HTTP/1.1 101" and RFC 9112 tells
 * clients to ignore the phrase anyway. */
static int tt_head_status_line(tt_http_head *h, size_t start, size_t end) {
    char *line = h->buf + start;
    size_t n = end - start;
    if (n < 12 || line[8] != ' ') return TETHER_E_HS_MALFORMED;
    int rc = tt_head_version(h, line, 8);
    if (rc) return rc;
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9') return TETHER_E_HS_MALFORMED;
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100) return TETHER_E_HS_MALFORMED;
    size_t reason = 12;
    if (n > 12) {
        if (line[12] != ' ') return TETHER_E_HS_MALFORMED;
        reason = 13;
    }
    for (size_t i = reason; i < n; i++)
        if (!tt_http_is_value_char((unsigned char)line[i])) return TETHER_E_HS_MALFORMED;
    line[n] = '\0';
    h->status = status;
    h->reason = (uint32_t)(start + reason);
    return 0;
}

static int tt_head_add_field(tt_http_head *h, size_t name, size_t value) {
    if (h->nfields >= h->max_fields) return TETHER_E_HS_TOO_BIG;
    if (h->nfields == h->fields_cap) {
        size_t cap = h->fields_cap ? h->fields_cap * 2 : TT_HEAD_INITIAL_FIELDS;
        if (cap > h->max_fields) cap = h->max_fields;
        tt_http_field *f = realloc(h->fields, cap * sizeof *f);
        if (!f) return TETHER_E_NOMEM;
        h->fields = f;
        h->fields_cap = cap;
    }
    tt_http_field *f = &h->fields[h->nfields++];
    f->name = (uint32_t)name;
    f->value = (uint32_t)value;
    f->lookup = (uint32_t)value;
    return 0;
}

static int tt_is_ows(char c) {
    return c == ' ' || c == '\t';
}

/* field-name ":" OWS field-value OWS. A line starting with white space is
 * obs-fold (or space before the first field), both refused. */
static int tt_head_field_line(tt_http_head *h, size_t start, size_t end) {
    char *b = h->buf;
    size_t colon = start;
    while (colon < end && tt_http_is_tchar((unsigned char)b[colon]))
        colon++;
    if (colon == start || colon == end || b[colon] != ':') return TETHER_E_HS_MALFORMED;
    size_t v = colon + 1, vend = end;
    while (v < vend && tt_is_ows(b[v]))
        v++;
    while (vend > v && tt_is_ows(b[vend - 1]))
        vend--;
    for (size_t i = v; i < vend; i++)
        if (!tt_http_is_value_char((unsigned char)b[i])) return TETHER_E_HS_MALFORMED;
    int rc = tt_head_add_field(h, start, v);
    if (rc) return rc;
    b[colon] = '\0';
    b[vend] = '\0';
    return 0;
}

/* 1 if field i is called `name` (ASCII case-insensitively). */
static int tt_head_name_is(const tt_http_head *h, size_t i, const char *name) {
    const char *f = h->buf + h->fields[i].name;
    return tt_http_eq_nocase(f, strlen(f), name);
}

static size_t tt_head_joined_len(const tt_http_head *h, size_t i, size_t *count) {
    const char *name = h->buf + h->fields[i].name;
    size_t total = strlen(h->buf + h->fields[i].value);
    *count = 1;
    for (size_t j = i + 1; j < h->nfields; j++) {
        if (tt_head_name_is(h, j, name)) {
            total += 2 + strlen(h->buf + h->fields[j].value);
            (*count)++;
        }
    }
    return total;
}

/* Appends "v1, v2, ..." for field i and every later field with its name.
 * Space was reserved by the caller, so the buffer does not move. */
static void tt_head_join(tt_http_head *h, size_t i) {
    const char *name = h->buf + h->fields[i].name;
    char *out = h->buf + h->len;
    h->fields[i].lookup = (uint32_t)h->len;
    for (size_t j = i; j < h->nfields; j++) {
        if (!tt_head_name_is(h, j, name)) continue;
        if (j != i) {
            memcpy(out, ", ", 2);
            out += 2;
        }
        const char *v = h->buf + h->fields[j].value;
        size_t n = strlen(v);
        memcpy(out, v, n);
        out += n;
    }
    *out++ = '\0';
    h->len = (size_t)(out - h->buf);
}

static int tt_head_is_first(const tt_http_head *h, size_t i) {
    const char *name = h->buf + h->fields[i].name;
    for (size_t j = 0; j < i; j++)
        if (tt_head_name_is(h, j, name)) return 0;
    return 1;
}

/* The head is complete: join repeated fields. Quadratic in the field count,
 * which the limit keeps small (100 by default). */
static int tt_head_finish(tt_http_head *h) {
    h->head_len = h->len;
    h->state = TT_HEAD_DONE;
    for (size_t i = 0; i < h->nfields; i++) {
        size_t count;
        if (!tt_head_is_first(h, i)) continue;
        size_t n = tt_head_joined_len(h, i, &count);
        if (count == 1) continue;
        int rc = tt_head_reserve(h, h->len + n + 1);
        if (rc) return tt_head_fail(h, rc);
        tt_head_join(h, i);
    }
    return 0;
}

/* A complete line buf[line_start..len) ending in LF. */
static int tt_head_line(tt_http_head *h) {
    size_t start = h->line_start;
    h->line_start = h->len;
    if (h->len - start < 2 || h->buf[h->len - 2] != '\r') return TETHER_E_HS_MALFORMED;
    size_t end = h->len - 2;
    if (h->state == TT_HEAD_START) {
        if (end == start) return TETHER_E_HS_MALFORMED;
        h->state = TT_HEAD_FIELDS;
        return h->kind == TT_HTTP_REQUEST ? tt_head_request_line(h, start, end)
                                          : tt_head_status_line(h, start, end);
    }
    if (end == start) return tt_head_finish(h);
    return tt_head_field_line(h, start, end);
}

int tt_http_head_feed(tt_http_head *h, const uint8_t *buf, size_t len, size_t *consumed) {
    size_t used = 0;
    *consumed = 0;
    if (h->state == TT_HEAD_DONE) return 0;
    if (h->state == TT_HEAD_FAILED) return h->error;
    while (used < len) {
        const uint8_t *lf = memchr(buf + used, '\n', len - used);
        size_t n = lf ? (size_t)(lf - (buf + used)) + 1 : len - used;
        if (n > h->max_bytes - h->len) return tt_head_fail(h, TETHER_E_HS_TOO_BIG);
        int rc = tt_head_reserve(h, h->len + n);
        if (rc) return tt_head_fail(h, rc);
        memcpy(h->buf + h->len, buf + used, n);
        h->len += n;
        used += n;
        *consumed = used;
        if (!lf) break;
        rc = tt_head_line(h);
        if (rc) return tt_head_fail(h, rc);
        if (h->state == TT_HEAD_DONE) return 0;
    }
    return TETHER_E_AGAIN;
}

const char *tt_http_head_method(const tt_http_head *h) {
    return tt_http_head_done(h) && h->kind == TT_HTTP_REQUEST ? h->buf + h->method : NULL;
}

const char *tt_http_head_target(const tt_http_head *h) {
    return tt_http_head_done(h) && h->kind == TT_HTTP_REQUEST ? h->buf + h->target : NULL;
}

const char *tt_http_head_reason(const tt_http_head *h) {
    return tt_http_head_done(h) && h->kind == TT_HTTP_RESPONSE ? h->buf + h->reason : NULL;
}

int tt_http_head_status(const tt_http_head *h) {
    return tt_http_head_done(h) && h->kind == TT_HTTP_RESPONSE ? h->status : 0;
}

size_t tt_http_head_count(const tt_http_head *h) {
    return tt_http_head_done(h) ? h->nfields : 0;
}

int tt_http_head_at(const tt_http_head *h, size_t i, const char **name, const char **value) {
    if (i >= tt_http_head_count(h)) return TETHER_E_INVAL;
    if (name) *name = h->buf + h->fields[i].name;
    if (value) *value = h->buf + h->fields[i].value;
    return 0;
}

const char *tt_http_head_get(const tt_http_head *h, const char *name) {
    size_t n = tt_http_head_count(h);
    for (size_t i = 0; i < n; i++) {
        if (tt_head_name_is(h, i, name)) return h->buf + h->fields[i].lookup;
    }
    return NULL;
}

size_t tt_http_head_occurrences(const tt_http_head *h, const char *name) {
    size_t n = tt_http_head_count(h), count = 0;
    for (size_t i = 0; i < n; i++) {
        count += (size_t)tt_head_name_is(h, i, name);
    }
    return count;
}

int tt_http_head_store(tt_http_head *h, const char *s, size_t n, uint32_t *off) {
    /* s may point into our own buffer, which reserve may move. */
    int inside = h->buf && s >= h->buf && s < h->buf + h->cap;
    size_t src = inside ? (size_t)(s - h->buf) : 0;
    int rc = tt_head_reserve(h, h->len + n + 1);
    if (rc) return rc;
    if (inside) s = h->buf + src;
    memmove(h->buf + h->len, s, n);
    h->buf[h->len + n] = '\0';
    *off = (uint32_t)h->len;
    h->len += n + 1;
    return 0;
}

const char *tt_http_head_str(const tt_http_head *h, uint32_t off) {
    return h->buf + off;
}

/* Everything refers to the buffers by offset, so fitting them to their
 * contents moves nothing that matters. A failed shrink keeps the old,
 * larger block, which is still correct. */
void tt_http_head_compact(tt_http_head *h) {
    if (h->len && h->len < h->cap) {
        char *p = realloc(h->buf, h->len);
        if (p) {
            h->buf = p;
            h->cap = h->len;
        }
    }
    if (h->nfields && h->nfields < h->fields_cap) {
        tt_http_field *f = realloc(h->fields, h->nfields * sizeof *f);
        if (f) {
            h->fields = f;
            h->fields_cap = h->nfields;
        }
    }
}
