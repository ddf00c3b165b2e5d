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

/* unreserved / pct-encoded / sub-delims (RFC 3986 reg-name); '%' is checked
 * for its two hex digits by the caller. */
static int tt_http_is_regname_char(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL;
}

static int tt_http_is_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The host part: "[" IPv6 / IPvFuture "]" or a reg-name (which covers
 * IPv4 addresses). Returns its length, or 0 if it is not valid. */
static size_t tt_http_host_part(const char *s, size_t n) {
    size_t i = 0;
    if (n > 0 && s[0] == '[') {
        for (i = 1; i < n && s[i] != ']'; i++)
            if (!tt_http_is_hex((unsigned char)s[i]) && !strchr(":.vV", s[i])) return 0;
        return i < n && i > 1 ? i + 1 : 0;
    }
    while (i < n && s[i] != ':') {
        if (s[i] == '%') {
            if (i + 2 >= n || !tt_http_is_hex((unsigned char)s[i + 1]) ||
                !tt_http_is_hex((unsigned char)s[i + 2]))
                return 0;
            i += 3;
        } else if (tt_http_is_regname_char((unsigned char)s[i])) {
            i++;
        } else {
            return 0;
        }
    }
    return i;
}

int tt_http_host_valid(const char *s, size_t n) {
    size_t h = tt_http_host_part(s, n);
    if (h == 0) return 0;
    if (h == n) return 1;
    if (s[h] != ':') return 0;
    for (size_t i = h + 1; i < n; i++) /* port = *DIGIT: may be empty */
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}
