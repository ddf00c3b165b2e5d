/* Internal: a small growable byte string for building handshake messages and
 * keeping settings. Failure is sticky: after an allocation fails every append
 * is a no-op and tt_strbuf_status() reports TETHER_E_NOMEM, so builders can
 * append a whole message and check once at the end. The content is always
 * NUL-terminated once anything was appended. */
#ifndef TT_STRBUF_H
#define TT_STRBUF_H

#include <stddef.h>

typedef struct tt_strbuf {
    char *p;
    size_t len;
    size_t cap;
    int failed;
} tt_strbuf;

#define TT_STRBUF_INIT                                                                             \
    { NULL, 0, 0, 0 }

void tt_strbuf_add(tt_strbuf *b, const char *s, size_t n);
void tt_strbuf_adds(tt_strbuf *b, const char *s);
/* Appends the decimal form of v. */
void tt_strbuf_addu(tt_strbuf *b, unsigned long v);
/* Appends "name: value\r\n". */
void tt_strbuf_add_field(tt_strbuf *b, const char *name, const char *value);
/* 0, or TETHER_E_NOMEM if an append failed. */
int tt_strbuf_status(const tt_strbuf *b);
/* The content ("" when empty, never NULL). */
const char *tt_strbuf_str(const tt_strbuf *b);
/* Back to the first n bytes, forgetting a failure: undoes a partial append. */
void tt_strbuf_truncate(tt_strbuf *b, size_t n);
void tt_strbuf_reset(tt_strbuf *b);
void tt_strbuf_free(tt_strbuf *b);

#endif
