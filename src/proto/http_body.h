/* Internal: an incremental decoder for an HTTP/1.1 request body (RFC 9112
 * sections 6 and 7.1): a length given by Content-Length, or the chunked
 * transfer coding, whose chunk extensions and trailer fields are read and
 * dropped. Input may be split anywhere; the payload is handed out as
 * slices of the input, never copied.
 *
 * Limits: the payload may not pass max_body bytes (TETHER_E_HS_TOO_BIG, a
 * 413), and a chunk-size line or the trailer section may not pass
 * TT_HTTP_BODY_MAX_LINE / TT_HTTP_BODY_MAX_TRAILER bytes (malformed).
 * Errors are sticky. */
#ifndef TT_HTTP_BODY_H
#define TT_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>

#define TT_HTTP_BODY_MAX_LINE 1024
#define TT_HTTP_BODY_MAX_TRAILER 8192

typedef struct tt_http_body {
    int chunked;
    int state; /* internal */
    int error;
    uint64_t remaining; /* bytes left in the body (length) or the chunk */
    uint64_t total;     /* payload handed out so far */
    uint64_t max_body;
    size_t line;    /* bytes of the current size or trailer line */
    size_t trailer; /* bytes of the trailer section */
} tt_http_body;

/* A body of `length` bytes (0: none at all). */
void tt_http_body_length(tt_http_body *b, uint64_t length, uint64_t max_body);
void tt_http_body_chunked(tt_http_body *b, uint64_t max_body);

/* Reads from in[0..len): *used gets the bytes consumed. Returns 1 with a
 * payload slice in *data and *dlen (a part of in), 0 when the body is
 * complete (then always), TETHER_E_AGAIN when all input was used and
 * more is needed, or an error: TETHER_E_HS_MALFORMED, TETHER_E_HS_TOO_BIG. */
int tt_http_body_next(tt_http_body *b, const uint8_t *in, size_t len, size_t *used,
                      const uint8_t **data, size_t *dlen);

/* Parses a Content-Length value: digits only, no sign or list (RFC 9110
 * 8.6; a list of equal values is refused too: one sender, one length).
 * 0 with *out set, or TETHER_E_HS_MALFORMED. */
int tt_http_parse_length(const char *s, uint64_t *out);

#endif
