/* Internal: the request an accepted WebSocket was opened by, frozen into
 * one block once the handshake is over.
 *
 * An open connection answers header lookups for its whole life, but needs
 * nothing else of the handshake: the parser's state, its limits, the
 * offered protocols and extensions and the response all go. What stays is
 * one allocation: a few offsets, the fields' table and the head's bytes
 * (request line and fields, NUL-terminated strings), so an idle
 * connection's request costs its own size and one malloc header.
 * Immutable once made: any thread may read it while the connection lives. */
#ifndef TT_REQUEST_H
#define TT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "proto/http_head.h"

typedef struct tt_request tt_request;

/* A frozen copy of the complete head h, whose path and query (offsets into
 * h's buffer, 0: none) were derived by the handshake. NULL: no memory, or
 * h is not complete. Free with free(). */
tt_request *tt_request_freeze(const tt_http_head *h, uint32_t path, uint32_t query);

/* What the handshake's accessors gave for the same request (NULL: none). */
const char *tt_request_method(const tt_request *r);
const char *tt_request_path(const tt_request *r);
const char *tt_request_query(const tt_request *r);
/* The value of the first field named name (any case), repeated fields
 * joined by ", " as the handshake joined them. */
const char *tt_request_header(const tt_request *r, const char *name);
size_t tt_request_header_count(const tt_request *r);
/* TETHER_E_INVAL when i is out of range. */
int tt_request_header_at(const tt_request *r, size_t i, const char **name, const char **value);

#endif
