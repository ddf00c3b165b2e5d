/* Internal: the server handshake as the api layer uses it, on top of the
 * public tether_server_hs_* functions. */
#ifndef TT_SERVER_HS_H
#define TT_SERVER_HS_H

#include <stddef.h>

#include "tether.h"

/* Frees what the response needed once it has been copied out; the request
 * accessors keep working. For the api layer's accepted connections. */
void tt_server_hs_compact(tether_server_hs *h);

/* The i-th offered protocol (i < nprotocols). */
const char *tt_server_hs_protocol(const tether_server_hs *h, size_t i);

#endif
