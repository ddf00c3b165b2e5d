/* A proxy tunnel as a layer of the transport stack, at the bottom, under
 * TLS for wss://: its handshake asks an HTTP proxy for a CONNECT tunnel,
 * or a SOCKS5 proxy for a connection, to the server; once the proxy agreed
 * it passes bytes both ways untouched. A refusal fails the layer with
 * TETHER_E_PROXY and error_text() says why, as the proxy said it. */
#ifndef TT_STACK_TUNNEL_H
#define TT_STACK_TUNNEL_H

#include "net/net.h"
#include "stack/layer.h"

/* A tunnel through proxy to host:port (host: a name, or an address as
 * text; for TT_PROXY_SOCKS5 it must be an address, the caller resolves
 * names). The layer keeps copies of what it needs. NULL when out of
 * memory. */
tt_layer *tt_tunnel_new(const tt_proxy *proxy, const char *host, int port);

#endif
