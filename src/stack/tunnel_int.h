/* The handshakes of the proxy tunnel (stack/tunnel.c), one file each:
 * tunnel_http.c (HTTP CONNECT) and tunnel_socks5.c (SOCKS5). Each writes
 * its requests into out and reads the proxy's answers from in[0..len):
 * 0 once the tunnel is open, with *used the bytes that were the
 * handshake's (the rest belong to the server); TETHER_E_AGAIN while it
 * needs more (*used bytes are consumed meanwhile); TETHER_E_PROXY with
 * why set when the proxy refused or spoke nonsense; TETHER_E_NOMEM. */
#ifndef TT_STACK_TUNNEL_INT_H
#define TT_STACK_TUNNEL_INT_H

#include "net/net.h"
#include "ws/outbuf.h"

typedef struct tt_tunnel_hs {
    const tt_proxy *proxy;
    const char *host; /* the server: a name, or an address as text */
    int port;
    int state; /* the dialect's own */
    char why[192];
} tt_tunnel_hs;

int tt_http_tunnel_start(tt_tunnel_hs *h, tt_outbuf *out);
int tt_http_tunnel_input(tt_tunnel_hs *h, const uint8_t *in, size_t len, size_t *used,
                         tt_outbuf *out);

int tt_socks5_start(tt_tunnel_hs *h, tt_outbuf *out);
int tt_socks5_input(tt_tunnel_hs *h, const uint8_t *in, size_t len, size_t *used, tt_outbuf *out);

#endif
