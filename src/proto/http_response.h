/* Internal: the head of an HTTP/1.1 response to a plain request (RFC 9112
 * section 4, RFC 9110 section 6.6.1 for Date). */
#ifndef TT_HTTP_RESPONSE_H
#define TT_HTTP_RESPONSE_H

#include "proto/strbuf.h"

#include <stdint.h>
#include <time.h>

/* The reason phrase tether sends with a status (its class's name for a
 * status it has no phrase for). */
const char *tt_http_reason(int status);

/* Whether a response with this status carries no content at all (1xx,
 * 204, 304: RFC 9110 sections 15.2, 15.3.5, 15.4.5). */
int tt_http_status_bodiless(int status);

/* Appends the head: status line, Date (now), the extra header lines
 * ("Name: value\r\n" each, already checked), the framing (Content-Length
 * when length >= 0, Transfer-Encoding: chunked for -1, none for -2 (the
 * body ends with the connection) or a bodiless status) and Connection:
 * close when close, then the empty line. */
void tt_http_response_head(tt_strbuf *b, int status, const tt_strbuf *extra, int64_t length,
                           int close, time_t now);

#endif
