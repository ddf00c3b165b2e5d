/* WebSocket URL parsing: ws://host[:port][/path][?query] and wss://.
 * Strict on purpose: what it accepts goes into a request line and a Host
 * header, so anything that could smuggle bytes into them is refused. */
#include "net/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tether.h"

/* Printable ASCII other than space; everything else must be
 * percent-encoded by the caller. */
static int tt_url_chars_ok(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '#') return 0;
    }
    return 1;
}

static int tt_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static char *tt_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* 1..65535 from s[0..n), digits only. Returns the port or -1. */
static int tt_parse_port(const char *s, size_t n) {
    if (n == 0 || n > 5) return -1;
    int port = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

int tt_url_authority(const char *a, size_t n, int default_port, const char **host, size_t *host_len,
                     int *port, int *v6) {
    const char *end = a + n;
    const char *p;
    *v6 = a < end && *a == '[';
    if (*v6) {
        const char *close = memchr(a, ']', n);
        if (!close) return TETHER_E_INVAL;
        char lit[INET6_ADDRSTRLEN];
        struct in6_addr addr;
        size_t len = (size_t)(close - a - 1);
        if (len == 0 || len >= sizeof lit) return TETHER_E_INVAL;
        memcpy(lit, a + 1, len);
        lit[len] = '\0';
        if (inet_pton(AF_INET6, lit, &addr) != 1) return TETHER_E_INVAL;
        *host = a + 1;
        *host_len = len;
        p = close + 1;
    } else {
        for (p = a; p < end && *p != ':'; p++)
            if (!tt_host_char(*p)) return TETHER_E_INVAL;
        *host = a;
        *host_len = (size_t)(p - a);
        if (*host_len == 0) return TETHER_E_INVAL;
    }
    if (p == end) {
        *port = default_port;
        return 0;
    }
    if (*p != ':') return TETHER_E_INVAL; /* junk after ']' */
    *port = tt_parse_port(p + 1, (size_t)(end - p - 1));
    return *port < 0 ? TETHER_E_INVAL : 0;
}

/* Host header value: [v6] bracketed, ":port" only when not the default. */
static char *tt_make_hostport(const char *host, size_t len, int v6, int port, int default_port) {
    size_t cap = len + 2 + 1 + 5 + 1;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t n = 0;
    if (v6) s[n++] = '[';
    memcpy(s + n, host, len);
    n += len;
    if (v6) s[n++] = ']';
    s[n] = '\0';
    if (port != default_port) {
        char digits[8];
        int d = 0;
        for (int p = port; p > 0; p /= 10)
            digits[d++] = (char)('0' + p % 10);
        s[n++] = ':';
        while (d > 0)
            s[n++] = digits[--d];
        s[n] = '\0';
    }
    return s;
}

/* Request target: the path and query as given, "/" prepended when the URL
 * has only a query or nothing at all. */
static char *tt_make_target(const char *rest) {
    if (*rest == '/') return strdup(rest);
    size_t len = strlen(rest);
    char *s = malloc(len + 2);
    if (!s) return NULL;
    s[0] = '/';
    memcpy(s + 1, rest, len + 1);
    return s;
}

int tt_url_parse(const char *url, tt_url *u) {
    if (!u) return TETHER_E_INVAL;
    memset(u, 0, sizeof *u);
    if (!url || !tt_url_chars_ok(url)) return TETHER_E_INVAL;

    const char *a;
    if (strncasecmp(url, "ws://", 5) == 0) {
        a = url + 5;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        a = url + 6;
        u->secure = 1;
    } else {
        return TETHER_E_INVAL;
    }
    size_t alen = strcspn(a, "/?");
    if (memchr(a, '@', alen)) return TETHER_E_INVAL; /* userinfo */

    int default_port = u->secure ? 443 : 80;
    const char *host;
    size_t host_len;
    int v6;
    int rc = tt_url_authority(a, alen, default_port, &host, &host_len, &u->port, &v6);
    if (rc < 0) return rc;

    u->host = tt_strndup(host, host_len);
    u->hostport = tt_make_hostport(host, host_len, v6, u->port, default_port);
    u->target = tt_make_target(a + alen);
    if (!u->host || !u->hostport || !u->target) {
        tt_url_free(u);
        return TETHER_E_NOMEM;
    }
    return 0;
}

void tt_url_free(tt_url *u) {
    if (!u) return;
    free(u->host);
    free(u->hostport);
    free(u->target);
    memset(u, 0, sizeof *u);
}
