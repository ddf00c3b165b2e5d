/* HTTP token and list helpers; see http_token.h. */
#include "proto/http_token.h"

#include <string.h>

int tt_http_is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int tt_http_is_token(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!tt_http_is_tchar((unsigned char)s[i])) return 0;
    return 1;
}

int tt_http_is_value_char(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

int tt_http_value_ok(const char *s) {
    for (; *s; s++)
        if (!tt_http_is_value_char((unsigned char)*s)) return 0;
    return 1;
}

static unsigned char tt_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

int tt_http_eq_nocase(const char *a, size_t an, const char *b) {
    size_t i = 0;
    for (; i < an; i++) {
        if (b[i] == '\0' || tt_lower((unsigned char)a[i]) != tt_lower((unsigned char)b[i]))
            return 0;
    }
    return b[i] == '\0';
}

static int tt_is_ows(char c) {
    return c == ' ' || c == '\t';
}

int tt_http_list_next(const char **cur, const char **elem, size_t *elem_len) {
    const char *p = *cur;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *next = *end ? end + 1 : end;
        while (p < end && tt_is_ows(*p))
            p++;
        while (end > p && tt_is_ows(end[-1]))
            end--;
        if (end > p) {
            *elem = p;
            *elem_len = (size_t)(end - p);
            *cur = next;
            return 1;
        }
        p = next;
    }
    *cur = p;
    return 0;
}

int tt_http_list_has(const char *list, const char *token) {
    const char *e;
    size_t n;
    if (!list) return 0;
    while (tt_http_list_next(&list, &e, &n))
        if (tt_http_eq_nocase(e, n, token)) return 1;
    return 0;
}

int tt_http_list_has_exact(const char *list, const char *s, size_t n) {
    const char *e;
    size_t en;
    if (!list) return 0;
    while (tt_http_list_next(&list, &e, &en))
        if (en == n && memcmp(e, s, n) == 0) return 1;
    return 0;
}
