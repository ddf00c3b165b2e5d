/* A client's WebSocket over HTTP/2 (RFC 8441) as a layer above TLS
 * (h2_client.c): HTTP/2 when ALPN chose h2, a pass-through otherwise. */
#ifndef TT_STACK_H2_CLIENT_H
#define TT_STACK_H2_CLIENT_H

#include "stack/layer.h"

/* A layer for the stack above tls (the TLS layer, whose ALPN decides).
 * NULL: out of memory. */
tt_layer *tt_h2_client_layer_new(tt_layer *tls);
/* The server chose h2 but cannot carry a WebSocket over it (no
 * SETTINGS_ENABLE_CONNECT_PROTOCOL): try again over HTTP/1.1. */
int tt_h2_client_refused(const tt_layer *l);
/* The stream the WebSocket is on, or 0 (HTTP/1.1, or not yet). */
int tt_h2_client_stream(const tt_layer *l);

#endif
