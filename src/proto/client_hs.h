/* Internal: the client handshake object, shared by client_hs.c (settings and
 * the request) and client_hs_response.c (the response). */
#ifndef TT_CLIENT_HS_H
#define TT_CLIENT_HS_H

#include "proto/http_head.h"
#include "proto/strbuf.h"
#include "tether.h"

struct tether_client_hs {
    char *host;
    char *path;
    char *origin;
    tt_strbuf protocols;  /* offered sub-protocols, "a, b" as sent */
    tt_strbuf extensions; /* extension offers joined with ", " as sent */
    tt_strbuf ext_names;  /* names of the offered extensions, each NUL-ended */
    tt_strbuf extra;      /* extra "Name: value\r\n" lines */
    tt_strbuf request;
    char key[TETHER_KEY_LEN + 1];
    char accept[TETHER_ACCEPT_LEN + 1];
    int key_fixed; /* the key came from tt_client_hs_set_key() */
    int built;     /* the request exists: settings are frozen */
    int done;      /* the response head is complete or parsing failed */
    int result;    /* the parse result once done */
    tt_http_head resp;
};

/* For tests and fuzzing only: makes the next request use `key` (24
 * characters) instead of a random one, so that a canned response can carry
 * the matching accept. TETHER_E_INVAL, or TETHER_E_STATE once built. */
int tt_client_hs_set_key(tether_client_hs *h, const char *key);

#endif
