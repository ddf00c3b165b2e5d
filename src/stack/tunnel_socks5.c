/* SOCKS5 (RFC 1928) with username/password authentication (RFC 1929):
 * the greeting offers "no authentication", and username/password when the
 * proxy URL has credentials; then CONNECT to the server by address, or by
 * name for the proxy to resolve (socks5h://). A refusal is reported with
 * the proxy's reply code and its meaning. */
#include "stack/tunnel_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "tether.h"

enum { TT_S5_METHOD, TT_S5_AUTH, TT_S5_REPLY };

int tt_socks5_start(tt_tunnel_hs *h, tt_outbuf *out) {
    /* version 5; methods: 0 (none), and 2 (username/password) if we can */
    static const uint8_t plain[] = {5, 1, 0}, auth[] = {5, 2, 0, 2};
    h->state = TT_S5_METHOD;
    return h->proxy->user ? tt_outbuf_append(out, auth, sizeof auth)
                          : tt_outbuf_append(out, plain, sizeof plain);
}

static int tt_socks5_fail(tt_tunnel_hs *h, const char *what) {
    snprintf(h->why, sizeof h->why, "SOCKS5 proxy: %s", what);
    return TETHER_E_PROXY;
}

/* RFC 1929: version 1, then the name and the password, each with a
 * length byte (tt_proxy_parse keeps each under 256 bytes). */
static int tt_socks5_auth(tt_tunnel_hs *h, tt_outbuf *out) {
    const char *user = h->proxy->user, *pass = h->proxy->pass ? h->proxy->pass : "";
    uint8_t msg[3 + 255 + 255];
    size_t ul = strlen(user), pl = strlen(pass), n = 0;
    msg[n++] = 1;
    msg[n++] = (uint8_t)ul;
    memcpy(msg + n, user, ul);
    n += ul;
    msg[n++] = (uint8_t)pl;
    memcpy(msg + n, pass, pl);
    n += pl;
    int rc = tt_outbuf_append(out, msg, n);
    memset(msg, 0, sizeof msg);
    h->state = TT_S5_AUTH;
    return rc;
}

/* CONNECT: an IPv4 or IPv6 address as such, anything else as a name. */
static int tt_socks5_connect(tt_tunnel_hs *h, tt_outbuf *out) {
    uint8_t msg[4 + 1 + 255 + 2];
    size_t n = 0;
    msg[n++] = 5;
    msg[n++] = 1; /* CONNECT */
    msg[n++] = 0;
    if (inet_pton(AF_INET, h->host, msg + n + 1) == 1) {
        msg[n] = 1;
        n += 1 + 4;
    } else if (inet_pton(AF_INET6, h->host, msg + n + 1) == 1) {
        msg[n] = 4;
        n += 1 + 16;
    } else {
        size_t hl = strlen(h->host);
        if (hl > 255) return tt_socks5_fail(h, "host name over 255 bytes");
        msg[n++] = 3;
        msg[n++] = (uint8_t)hl;
        memcpy(msg + n, h->host, hl);
        n += hl;
    }
    msg[n++] = (uint8_t)(h->port >> 8);
    msg[n++] = (uint8_t)h->port;
    h->state = TT_S5_REPLY;
    return tt_outbuf_append(out, msg, n);
}

static int tt_socks5_method(tt_tunnel_hs *h, const uint8_t *in, tt_outbuf *out) {
    if (in[0] != 5) return tt_socks5_fail(h, "not a SOCKS5 server");
    if (in[1] == 0) return tt_socks5_connect(h, out);
    if (in[1] == 2 && h->proxy->user) return tt_socks5_auth(h, out);
    return tt_socks5_fail(h, h->proxy->user ? "no acceptable authentication method"
                                            : "it asks for a username and password");
}

static const char *tt_socks5_reply_text(int rep) {
    static const char *const text[] = {"succeeded",
                                       "general SOCKS server failure",
                                       "connection not allowed by ruleset",
                                       "network unreachable",
                                       "host unreachable",
                                       "connection refused",
                                       "TTL expired",
                                       "command not supported",
                                       "address type not supported"};
    return rep >= 0 && rep < (int)(sizeof text / sizeof *text) ? text[rep] : "unknown reply";
}

/* The CONNECT reply: version, reply code, reserved, then the bound
 * address (its length by type) and port. 0 while incomplete. */
static size_t tt_socks5_reply_len(const uint8_t *in, size_t len) {
    if (len < 5) return 0;
    size_t need = in[3] == 1 ? 4 + 4 + 2 : in[3] == 4 ? 4 + 16 + 2 : 4 + 1 + (size_t)in[4] + 2;
    return len >= need ? need : 0;
}

static int tt_socks5_reply(tt_tunnel_hs *h, const uint8_t *in, size_t len, size_t *used) {
    if (in[0] != 5) return tt_socks5_fail(h, "not a SOCKS5 reply");
    if (in[1] != 0) {
        char what[96];
        snprintf(what, sizeof what, "%s (reply %d)", tt_socks5_reply_text(in[1]), in[1]);
        return tt_socks5_fail(h, what);
    }
    if (in[3] != 1 && in[3] != 3 && in[3] != 4) return tt_socks5_fail(h, "bad address type");
    size_t n = tt_socks5_reply_len(in, len);
    if (!n) return TETHER_E_AGAIN;
    *used += n;
    return 0;
}

int tt_socks5_input(tt_tunnel_hs *h, const uint8_t *in, size_t len, size_t *used, tt_outbuf *out) {
    *used = 0;
    for (;;) {
        size_t need = h->state == TT_S5_REPLY ? 4 : 2;
        if (len < need) return TETHER_E_AGAIN;
        if (h->state == TT_S5_REPLY) return tt_socks5_reply(h, in, len, used);
        int rc = 0;
        if (h->state == TT_S5_METHOD) {
            rc = tt_socks5_method(h, in, out);
        } else if (in[0] != 1 || in[1] != 0) {
            rc = tt_socks5_fail(h, "username/password refused");
        } else {
            rc = tt_socks5_connect(h, out);
        }
        if (rc) return rc;
        in += 2, len -= 2, *used += 2;
    }
}
