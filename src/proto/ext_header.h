/* Internal: a tokenizer for Sec-WebSocket-Extensions values (RFC 6455
 * section 9.1 grammar), shared by the handshake (which checks that a server
 * accepted only offered extensions) and permessage-deflate negotiation. */
#ifndef TT_EXT_HEADER_H
#define TT_EXT_HEADER_H

#include <stddef.h>

/* One extension parameter. value is NULL when the parameter has no value;
 * a quoted-string value is given unquoted and unescaped. Strings are
 * NUL-terminated and valid only during the visitor call. */
typedef struct tt_ext_param {
    const char *name;
    const char *value;
} tt_ext_param;

/* Called once per extension (in header order) with its name and parameters.
 * Return 0 to continue; any other value stops parsing and is returned by
 * tt_ext_parse(). */
typedef int (*tt_ext_visit)(void *ctx, const char *name, const tt_ext_param *params,
                            size_t nparams);

/* Most parameters one extension may carry; more is a malformed header. */
#define TT_EXT_MAX_PARAMS 16

/* Parses header[0..len): extension *( "," extension ), each
 * token *( ";" token [ "=" (token | quoted-string) ] ), with optional white
 * space around separators; empty list elements (",,") are tolerated as
 * RFC 7230 section 7 asks. Returns 0, the visitor's non-zero value, or
 * TETHER_E_HS_EXTENSION for a malformed header. */
int tt_ext_parse(const char *header, size_t len, tt_ext_visit visit, void *ctx);

#endif
