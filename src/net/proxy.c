/* Proxy URLs and the environment variables that name them, read as curl
 * reads them, so a user's existing proxy settings work unchanged. */
#include "net/net.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tether.h"

/* curl's default port for every kind of proxy. */
#define TT_PROXY_DEFAULT_PORT 1080

static int tt_hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* s[0..n) percent-decoded into a new string; NULL on a bad escape, a NUL
 * byte or no memory (*nomem tells which). */
static char *tt_pct_decode(const char *s, size_t n, int *nomem) {
    char *d = malloc(n + 1);
    if (!d) {
        *nomem = 1;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? tt_hex((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? tt_hex((unsigned char)s[i + 2]) : -1;
            if (lo < 0 || (c = hi * 16 + lo) == 0) {
                free(d);
                return NULL;
            }
            i += 2;
        }
        d[k++] = (char)c;
    }
    d[k] = '\0';
    return d;
}

static int tt_proxy_scheme(const char *url, tt_proxy *p, const char **rest) {
    static const struct {
        const char *prefix;
        tt_proxy_kind kind;
    } schemes[] = {{"http://", TT_PROXY_HTTP},
                   {"socks5://", TT_PROXY_SOCKS5},
                   {"socks5h://", TT_PROXY_SOCKS5H}};
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            p->kind = schemes[i].kind;
            *rest = url + n;
            return 0;
        }
    }
    if (strstr(url, "://")) return TETHER_E_UNSUPPORTED; /* https://, socks4:// ... */
    p->kind = TT_PROXY_HTTP;
    *rest = url;
    return 0;
}

/* user[:password] from u[0..n). */
static int tt_proxy_userinfo(const char *u, size_t n, tt_proxy *p) {
    const char *colon = memchr(u, ':', n);
    size_t ulen = colon ? (size_t)(colon - u) : n;
    int nomem = 0;
    p->user = tt_pct_decode(u, ulen, &nomem);
    if (p->user && colon) p->pass = tt_pct_decode(colon + 1, n - ulen - 1, &nomem);
    if (!p->user || (colon && !p->pass)) return nomem ? TETHER_E_NOMEM : TETHER_E_INVAL;
    /* SOCKS5 carries each in one length byte (RFC 1929) */
    return strlen(p->user) > 255 || (p->pass && strlen(p->pass) > 255) ? TETHER_E_INVAL : 0;
}

static int tt_proxy_parse_rest(const char *a, tt_proxy *p) {
    for (const char *c = a; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) return TETHER_E_INVAL;
    size_t n = strcspn(a, "/");
    if (a[n] == '/' && a[n + 1] != '\0') return TETHER_E_INVAL; /* a path means nothing here */
    const char *at = NULL;
    for (const char *c = a; c < a + n; c++)
        if (*c == '@') at = c;
    if (at) {
        int rc = tt_proxy_userinfo(a, (size_t)(at - a), p);
        if (rc) return rc;
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *host;
    size_t hlen;
    int v6;
    int rc = tt_url_authority(a, n, TT_PROXY_DEFAULT_PORT, &host, &hlen, &p->port, &v6);
    if (rc) return rc;
    if (!(p->host = malloc(hlen + 1))) return TETHER_E_NOMEM;
    memcpy(p->host, host, hlen);
    p->host[hlen] = '\0';
    return 0;
}

int tt_proxy_parse(const char *url, tt_proxy *p) {
    if (!p) return TETHER_E_INVAL;
    memset(p, 0, sizeof *p);
    if (!url || !*url) return TETHER_E_INVAL;
    const char *rest;
    int rc = tt_proxy_scheme(url, p, &rest);
    if (!rc) rc = tt_proxy_parse_rest(rest, p);
    if (rc) tt_proxy_free(p);
    return rc;
}

void tt_proxy_free(tt_proxy *p) {
    if (!p) return;
    free(p->host);
    free(p->user);
    if (p->pass) memset(p->pass, 0, strlen(p->pass));
    free(p->pass);
    memset(p, 0, sizeof *p);
}

/* strdup(s), NULL staying NULL; *nomem set when it could not be made. */
static char *tt_dup_or_null(const char *s, int *nomem) {
    char *d = s ? strdup(s) : NULL;
    if (s && !d) *nomem = 1;
    return d;
}

int tt_proxy_copy(tt_proxy *dst, const tt_proxy *src) {
    int nomem = 0;
    *dst = (tt_proxy){.kind = src->kind, .port = src->port};
    dst->host = tt_dup_or_null(src->host, &nomem);
    dst->user = tt_dup_or_null(src->user, &nomem);
    dst->pass = tt_dup_or_null(src->pass, &nomem);
    if (!nomem) return 0;
    tt_proxy_free(dst);
    return TETHER_E_NOMEM;
}

static const char *tt_env2(const char *lower, const char *upper) {
    const char *v = getenv(lower);
    if ((!v || !*v) && upper) v = getenv(upper);
    return v && *v ? v : NULL;
}

/* Whether one no_proxy entry e[0..n) covers host. */
static int tt_no_proxy_entry(const char *e, size_t n, const char *host) {
    while (n && isspace((unsigned char)*e))
        e++, n--;
    while (n && isspace((unsigned char)e[n - 1]))
        n--;
    if (n == 1 && *e == '*') return 1;
    if (n && *e == '.') e++, n--; /* ".example.com" means example.com and below */
    if (n >= 2 && e[0] == '[' && e[n - 1] == ']') e++, n -= 2;
    size_t h = strlen(host);
    if (!n || n > h || strncasecmp(host + h - n, e, n) != 0) return 0;
    return h == n || host[h - n - 1] == '.';
}

static int tt_no_proxy(const char *host) {
    const char *list = tt_env2("no_proxy", "NO_PROXY");
    for (const char *e = list; e && *e;) {
        size_t n = strcspn(e, ",");
        if (tt_no_proxy_entry(e, n, host)) return 1;
        e += n + (e[n] == ',');
    }
    return 0;
}

const char *tt_proxy_from_env(int secure, const char *host) {
    if (!host || tt_no_proxy(host)) return NULL;
    /* curl reads http_proxy in lower case only: HTTP_PROXY can be set by a
     * CGI request's "Proxy:" header (httpoxy) */
    const char *v = secure ? tt_env2("https_proxy", "HTTPS_PROXY") : tt_env2("http_proxy", NULL);
    return v ? v : tt_env2("all_proxy", "ALL_PROXY");
}
