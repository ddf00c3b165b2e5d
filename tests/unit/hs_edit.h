/* Shared by the handshake tests: a copy of an HTTP head with one line
 * changed, to build each malformed variant from one valid message. */
#ifndef HS_EDIT_H
#define HS_EDIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* head with the line starting with `line` replaced by `with` (removed when
 * ""), or `with` added before the empty line when line is NULL. The caller
 * frees the result. */
static inline char *hs_edit(const char *head, const char *line, const char *with) {
    size_t cap = strlen(head) + strlen(with) + 3;
    char *s = malloc(cap);
    assert_non_null(s);
    if (!line) {
        size_t n = strlen(head) - 2;
        memcpy(s, head, n);
        snprintf(s + n, cap - n, "%s\r\n\r\n", with);
        return s;
    }
    const char *at = strstr(head, line);
    assert_non_null(at);
    const char *end = strstr(at, "\r\n") + 2;
    size_t n = (size_t)(at - head);
    memcpy(s, head, n);
    s[n] = '\0';
    if (*with) snprintf(s + n, cap - n, "%s\r\n", with);
    strcat(s, end);
    return s;
}

#endif
