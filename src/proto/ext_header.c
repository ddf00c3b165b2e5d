/* Sec-WebSocket-Extensions tokenizer (RFC 6455 section 9.1).
 *
 * The header is read twice: a first pass checks the whole syntax without
 * calling the visitor, so that a visitor never acts on part of a header that
 * later turns out to be malformed; the second pass calls it. Names and values
 * are copied, NUL-terminated and unescaped, into a fixed scratch buffer per
 * extension, so parsing never allocates. */
#include "proto/ext_header.h"

#include "tether.h"

#include <string.h>

/* Room for one extension's name and all its parameter names and values with
 * their NULs. Real offers use well under 200 bytes; longer is refused. */
#define TT_EXT_SCRATCH 1024

typedef struct tt_ext_scan {
    const char *p;
    const char *end;
    char buf[TT_EXT_SCRATCH];
    size_t used;
    tt_ext_param params[TT_EXT_MAX_PARAMS];
    size_t nparams;
} tt_ext_scan;

/* tchar from RFC 7230 section 3.2.6. */
static int tt_is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* qdtext and the octet after a backslash (RFC 7230 section 3.2.6):
 * HTAB, SP, visible ASCII and obs-text; never controls or DEL. */
static int tt_is_qchar(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static void tt_skip_ows(tt_ext_scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t'))
        s->p++;
}

/* Appends one byte to the scratch buffer; -1 when it is full. */
static int tt_put(tt_ext_scan *s, char c) {
    if (s->used >= sizeof(s->buf)) return -1;
    s->buf[s->used++] = c;
    return 0;
}

/* Copies a token into the scratch buffer; sets *out to its start. */
static int tt_token(tt_ext_scan *s, const char **out) {
    size_t start = s->used;
    const char *from = s->p;
    while (s->p < s->end && tt_is_tchar((unsigned char)*s->p)) {
        if (tt_put(s, *s->p++) != 0) return -1;
    }
    if (s->p == from || tt_put(s, '\0') != 0) return -1;
    *out = s->buf + start;
    return 0;
}

/* Copies a quoted-string, without its quotes and with each quoted-pair
 * reduced to the octet it escapes. The opening quote is at s->p. */
static int tt_quoted(tt_ext_scan *s, const char **out) {
    size_t start = s->used;
    s->p++;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' && ++s->p == s->end) return -1;
        if (!tt_is_qchar((unsigned char)*s->p)) return -1;
        if (tt_put(s, *s->p++) != 0) return -1;
    }
    if (s->p == s->end || tt_put(s, '\0') != 0) return -1;
    s->p++; /* closing quote */
    *out = s->buf + start;
    return 0;
}

/* One ";" param [ "=" value ], with s->p just after the ';'. */
static int tt_param(tt_ext_scan *s) {
    tt_ext_param *param;
    if (s->nparams == TT_EXT_MAX_PARAMS) return -1;
    param = &s->params[s->nparams++];
    param->value = NULL;
    tt_skip_ows(s);
    if (tt_token(s, &param->name) != 0) return -1;
    tt_skip_ows(s);
    if (s->p == s->end || *s->p != '=') return 0;
    s->p++;
    tt_skip_ows(s);
    if (s->p < s->end && *s->p == '"') return tt_quoted(s, &param->value);
    return tt_token(s, &param->value);
}

/* One extension: name *( ";" param ), ending at ',' or the end of input. */
static int tt_extension(tt_ext_scan *s, const char **name) {
    s->used = 0;
    s->nparams = 0;
    if (tt_token(s, name) != 0) return -1;
    for (;;) {
        tt_skip_ows(s);
        if (s->p == s->end || *s->p == ',') return 0;
        if (*s->p != ';') return -1;
        s->p++;
        if (tt_param(s) != 0) return -1;
    }
}

/* Walks the list; calls visit (if not NULL) once per extension. */
static int tt_walk(tt_ext_scan *s, tt_ext_visit visit, void *ctx) {
    for (;;) {
        const char *name;
        int rc;
        tt_skip_ows(s);
        if (s->p == s->end) return 0;
        if (*s->p == ',') { /* empty list element */
            s->p++;
            continue;
        }
        if (tt_extension(s, &name) != 0) return TETHER_E_HS_EXTENSION;
        if (s->p < s->end) s->p++; /* the ',' that ended it */
        if (visit != NULL && (rc = visit(ctx, name, s->params, s->nparams)) != 0) return rc;
    }
}

int tt_ext_parse(const char *header, size_t len, tt_ext_visit visit, void *ctx) {
    tt_ext_scan s;
    int rc;
    if (len == 0) return 0; /* also keeps NULL + 0 out of the arithmetic */
    if (header == NULL) return TETHER_E_HS_EXTENSION;
    s.p = header;
    s.end = header + len;
    if ((rc = tt_walk(&s, NULL, NULL)) != 0) return rc;
    if (visit == NULL) return 0;
    s.p = header;
    return tt_walk(&s, visit, ctx);
}
