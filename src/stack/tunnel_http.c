/* HTTP CONNECT (RFC 9110 section 9.3.6): "CONNECT host:port HTTP/1.1",
 * with Basic credentials (RFC 7617) when the proxy URL has them; any 2xx
 * answer opens the tunnel, anything else is the proxy's refusal, reported
 * with its status line ("HTTP 407 Proxy Authentication Required from the
 * proxy"). */
#include "stack/tunnel_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"

/* The proxy's answer head may not be longer than this. */
#define TT_TUNNEL_MAX_HEAD 16384u

/* "Proxy-Authorization: Basic base64(user:pass)\r\n" into out. */
static int tt_http_tunnel_auth(const tt_proxy *p, tt_outbuf *out) {
    const char *pass = p->pass ? p->pass : "";
    size_t n = strlen(p->user) + 1 + strlen(pass);
    char *plain = malloc(n + 1);
    char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    int rc = TETHER_E_NOMEM;
    if (plain && b64) {
        snprintf(plain, n + 1, "%s:%s", p->user, pass);
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)n);
        rc = tt_outbuf_append(out, "Proxy-Authorization: Basic ", 27);
        if (!rc) rc = tt_outbuf_append(out, b64, strlen(b64));
        if (!rc) rc = tt_outbuf_append(out, "\r\n", 2);
        memset(plain, 0, n);
    }
    free(plain);
    free(b64);
    return rc;
}

int tt_http_tunnel_start(tt_tunnel_hs *h, tt_outbuf *out) {
    char authority[300];
    int v6 = strchr(h->host, ':') != NULL;
    int n = snprintf(authority, sizeof authority, "%s%s%s:%d", v6 ? "[" : "", h->host,
                     v6 ? "]" : "", h->port);
    if (n < 0 || (size_t)n >= sizeof authority) return TETHER_E_INVAL;
    char line[700];
    n = snprintf(line, sizeof line, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", authority, authority);
    int rc = tt_outbuf_append(out, line, (size_t)n);
    if (!rc && h->proxy->user) rc = tt_http_tunnel_auth(h->proxy, out);
    if (!rc) rc = tt_outbuf_append(out, "\r\n", 2);
    return rc;
}

/* The end of the head in in[0..len), or 0 while it is incomplete. */
static size_t tt_http_head_end(const uint8_t *in, size_t len) {
    const uint8_t *blank = memmem(in, len, "\r\n\r\n", 4);
    return blank ? (size_t)(blank - in) + 4 : 0;
}

/* "HTTP/1.1 200 Connection established": the status, or -1. The reason is
 * copied (printable bytes only) into reason. */
static int tt_http_status(const uint8_t *in, size_t len, char *reason, size_t cap) {
    if (len < 12 || memcmp(in, "HTTP/1.", 7) != 0 || in[8] != ' ') return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (in[i] < '0' || in[i] > '9') return -1;
        status = status * 10 + (in[i] - '0');
    }
    size_t k = 0, i = 12;
    if (i < len && in[i] == ' ') i++;
    for (; i < len && in[i] != '\r' && k + 1 < cap; i++)
        if (in[i] >= 0x20 && in[i] < 0x7f) reason[k++] = (char)in[i];
    reason[k] = '\0';
    return status >= 100 ? status : -1;
}

int tt_http_tunnel_input(tt_tunnel_hs *h, const uint8_t *in, size_t len, size_t *used,
                         tt_outbuf *out) {
    (void)out;
    *used = 0;
    size_t end = tt_http_head_end(in, len);
    if (!end) {
        if (len < TT_TUNNEL_MAX_HEAD) return TETHER_E_AGAIN;
        snprintf(h->why, sizeof h->why, "the proxy's answer is over %u bytes", TT_TUNNEL_MAX_HEAD);
        return TETHER_E_PROXY;
    }
    char reason[96];
    int status = tt_http_status(in, end, reason, sizeof reason);
    if (status < 0) {
        snprintf(h->why, sizeof h->why, "the proxy did not answer in HTTP/1.x");
        return TETHER_E_PROXY;
    }
    if (status < 200 || status > 299) {
        snprintf(h->why, sizeof h->why, "HTTP %d %s from the proxy", status, reason);
        return TETHER_E_PROXY;
    }
    *used = end;
    return 0;
}
