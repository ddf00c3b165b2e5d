/* Private to the server_hs files of src/proto: the server handshake
 * object, shared by server_hs.c (parsing and validating the request),
 * server_hs_query.c (accessors) and server_hs_response.c (the answer).
 * Other layers use proto/server_hs.h. */
#ifndef TT_SERVER_HS_INT_H
#define TT_SERVER_HS_INT_H

#include "proto/server_hs.h"

#include "proto/http_head.h"
#include "proto/strbuf.h"
#include "tether.h"

/* COMPACTED: the response was built, handed out and dropped; another
 * accept or reject is refused (TETHER_E_STATE). */
enum { TT_SERVER_NO_RESPONSE, TT_SERVER_ACCEPTED, TT_SERVER_REJECTED, TT_SERVER_COMPACTED };

struct tether_server_hs {
    tt_http_head req;
    int done;           /* the head is complete or parsing failed */
    int result;         /* the parse result once done */
    uint32_t path;      /* offset in req of the path, once the head is complete */
    uint32_t query;     /* offset in req of the query; 0 if none */
    uint32_t protocols; /* offset in req of the offered protocols, each NUL-ended */
    size_t nprotocols;
    size_t selected; /* 1 + index of the chosen protocol; 0 for none */
    tt_strbuf extensions;
    tt_strbuf extra; /* extra "Name: value\r\n" lines for the response */
    tt_strbuf response;
    int response_kind; /* TT_SERVER_* */
};

/* server_hs.c: whether an absolute-form target's authority is host (1
 * for a target in another form). */
int tt_server_authority_ok(const char *t, const char *host);

#endif
