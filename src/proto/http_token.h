/* Internal: HTTP token and list helpers (RFC 9110 section 5.6) shared by the
 * head parser and the handshake code. All comparisons are ASCII-only on
 * purpose: HTTP names are ASCII, and the C library's strcasecmp() follows
 * the locale. */
#ifndef TT_HTTP_TOKEN_H
#define TT_HTTP_TOKEN_H

#include <stddef.h>

/* 1 if c may appear in a token (tchar), else 0. */
int tt_http_is_tchar(unsigned char c);

/* 1 if s[0..n) is a non-empty token. */
int tt_http_is_token(const char *s, size_t n);

/* 1 if c may appear inside a received field value (HTAB, SP, VCHAR,
 * obs-text); NUL, CR, LF, other controls and DEL may not. */
int tt_http_is_value_char(unsigned char c);

/* 1 if the NUL-terminated s is a header value we are willing to send:
 * only value characters (so no CR, LF or other control bytes). */
int tt_http_value_ok(const char *s);

/* ASCII case-insensitive equality of a[0..an) and the NUL-terminated b. */
int tt_http_eq_nocase(const char *a, size_t an, const char *b);

/* Walks a comma-separated list: finds the next non-empty element at or after
 * *cur, trims optional white space around it, sets *elem / *elem_len and
 * moves *cur past it. Returns 1 for an element, 0 at the end. Empty elements
 * (",,") are skipped, as RFC 9110 section 5.6.1 asks of recipients. */
int tt_http_list_next(const char **cur, const char **elem, size_t *elem_len);

/* 1 if the list contains `token` as a whole element, ASCII
 * case-insensitively (Connection: keep-alive, Upgrade). list may be NULL. */
int tt_http_list_has(const char *list, const char *token);

/* 1 if the list contains exactly `s` as an element (case-sensitive, as
 * sub-protocol names are compared). list may be NULL. */
int tt_http_list_has_exact(const char *list, const char *s, size_t n);

/* 1 if s[0..n) is a valid Host value (RFC 9110 section 7.2: uri-host
 * [ ":" port ], the host a reg-name, an IPv4 address or an IP literal in
 * brackets). Empty is not valid. */
int tt_http_host_valid(const char *s, size_t n);

#endif
