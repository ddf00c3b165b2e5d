/* Internal: the server handshake as the api layer uses it, on top of the
 * public tether_server_hs_* functions. */
#ifndef TT_SERVER_HS_H
#define TT_SERVER_HS_H

#include <stddef.h>
#include <stdint.h>

#include "tether.h"

/* Frees what the response needed once it has been copied out; the request
 * accessors keep working. For the api layer's accepted connections. */
void tt_server_hs_compact(tether_server_hs *h);

/* The complete request frozen into one block (request.h) for a connection
 * that needs nothing else of h once its response is out; NULL: no memory,
 * or the head is not complete. */
struct tt_request *tt_server_hs_freeze(const tether_server_hs *h);

/* A plain HTTP request (for a server that answers them): once parsing
 * is done, 0 if the head was complete, asked for no WebSocket upgrade and
 * is a valid HTTP/1.x request (RFC 9112: version, target, Host, body
 * framing); then *length is its body's length and *chunked whether it is
 * chunked. Else the error to answer with: the parse's own for a broken
 * head or a failed upgrade, TETHER_E_HS_HTTP_VERSION (505),
 * TETHER_E_HS_MALFORMED (400: bad target or Host, Transfer-Encoding
 * other than chunked, with Content-Length, or in HTTP/1.0, a bad
 * Content-Length). */
int tt_server_hs_plain(const tether_server_hs *h, uint64_t *length, int *chunked);
/* The request's method, and whether the connection may serve another
 * request after it (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only
 * with "Connection: keep-alive"). */
const char *tt_server_hs_method(const tether_server_hs *h);
int tt_server_hs_keep_alive(const tether_server_hs *h);
/* The minor version of the request's HTTP/1.x. */
int tt_server_hs_minor(const tether_server_hs *h);

/* The i-th offered protocol (i < nprotocols). */
const char *tt_server_hs_protocol(const tether_server_hs *h, size_t i);

#endif
