/* Growable string; see strbuf.h. */
#include "proto/strbuf.h"

#include "tether.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tt_strbuf_reserve(tt_strbuf *b, size_t extra) {
    if (b->failed) return 0;
    if (extra >= (size_t)-1 - b->len) goto fail;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) goto fail;
    b->p = p;
    b->cap = cap;
    return 1;
fail:
    b->failed = 1;
    return 0;
}

void tt_strbuf_add(tt_strbuf *b, const char *s, size_t n) {
    if (!tt_strbuf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void tt_strbuf_adds(tt_strbuf *b, const char *s) {
    tt_strbuf_add(b, s, strlen(s));
}

void tt_strbuf_addu(tt_strbuf *b, unsigned long v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lu", v);
    tt_strbuf_add(b, tmp, (size_t)n);
}

void tt_strbuf_add_field(tt_strbuf *b, const char *name, const char *value) {
    tt_strbuf_adds(b, name);
    tt_strbuf_add(b, ": ", 2);
    tt_strbuf_adds(b, value);
    tt_strbuf_add(b, "\r\n", 2);
}

int tt_strbuf_status(const tt_strbuf *b) {
    return b->failed ? TETHER_E_NOMEM : 0;
}

const char *tt_strbuf_str(const tt_strbuf *b) {
    return b->p ? b->p : "";
}

void tt_strbuf_truncate(tt_strbuf *b, size_t n) {
    if (n < b->len) b->len = n;
    b->failed = 0;
    if (b->p) b->p[b->len] = '\0';
}

void tt_strbuf_reset(tt_strbuf *b) {
    tt_strbuf_truncate(b, 0);
}

void tt_strbuf_free(tt_strbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
