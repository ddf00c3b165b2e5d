/* Internal: an incremental parser for one HTTP/1.1 message head (a request
 * line or a status line, then header fields, up to the empty line).
 *
 * Input may be split anywhere. The parser copies the head into one buffer it
 * owns, grown geometrically up to the byte limit (no allocation per header),
 * and consumes nothing after the empty line: those bytes belong to the caller
 * (for a WebSocket they are the first frames).
 *
 * Syntax is strict (RFC 9112), because a lenient parser in front of another
 * parser is how request smuggling happens:
 * - lines end in CRLF; a bare LF or a bare CR is malformed. RFC 9112 lets a
 *   recipient accept a bare LF, but every WebSocket implementation sends
 *   CRLF, and two parsers that disagree on line ends disagree on where
 *   headers stop;
 * - no empty lines before the start line, no obs-fold continuation lines, no
 *   white space between a field name and its colon;
 * - methods and field names are tokens; field values contain no NUL, CR, LF,
 *   other control bytes or DEL (obs-text bytes >= 0x80 are allowed);
 *   optional white space around a value is trimmed;
 * - the version is exactly "HTTP/" DIGIT "." DIGIT.
 * Errors: TETHER_E_HS_MALFORMED, TETHER_E_HS_TOO_BIG (head longer than
 * max_bytes including its final CRLF CRLF, or more than max_fields fields),
 * TETHER_E_NOMEM. Errors are sticky.
 *
 * Strings returned point into the buffer, NUL-terminated, and stay valid
 * until tt_http_head_release(). */
#ifndef TT_HTTP_HEAD_H
#define TT_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

typedef enum tt_http_kind { TT_HTTP_REQUEST, TT_HTTP_RESPONSE } tt_http_kind;

/* Largest byte limit accepted: offsets into the buffer are 32-bit. */
#define TT_HTTP_MAX_LIMIT (1u << 30)

typedef struct tt_http_field {
    uint32_t name;   /* offset of the name */
    uint32_t value;  /* offset of this line's value */
    uint32_t lookup; /* offset of the value lookups return (joined if repeated) */
} tt_http_field;

typedef struct tt_http_head {
    char *buf;
    size_t len; /* bytes in buf: the head so far, then derived strings */
    size_t cap;
    size_t line_start; /* offset of the line being received */
    size_t head_len;   /* length of the complete head, 0 before */
    size_t max_bytes;
    size_t max_fields;
    tt_http_field *fields;
    size_t nfields;
    size_t fields_cap;
    tt_http_kind kind;
    int state; /* internal: start line, fields, done, failed */
    int error;
    int major, minor; /* HTTP version */
    int status;       /* response status code */
    uint32_t method;  /* request: offset of the method */
    uint32_t target;  /* request: offset of the request target */
    uint32_t reason;  /* response: offset of the reason phrase */
} tt_http_head;

void tt_http_head_init(tt_http_head *h, tt_http_kind kind);
void tt_http_head_release(tt_http_head *h);
/* Fits the buffers to their contents (after the head is complete). */
void tt_http_head_compact(tt_http_head *h);

/* Limits: 1..TT_HTTP_MAX_LIMIT, before any byte is fed (TETHER_E_STATE after,
 * TETHER_E_INVAL out of range). */
int tt_http_head_set_max_bytes(tt_http_head *h, size_t max);
int tt_http_head_set_max_fields(tt_http_head *h, size_t max);

/* Feeds bytes; *consumed gets the bytes used. Returns 0 when the head is
 * complete (then and later: consumed 0), TETHER_E_AGAIN when more is needed
 * (all of buf was used), or an error. */
int tt_http_head_feed(tt_http_head *h, const uint8_t *buf, size_t len, size_t *consumed);

/* 1 once a complete head was parsed, even if the caller then rejected it. */
int tt_http_head_done(const tt_http_head *h);
/* 1 once any byte was fed. */
int tt_http_head_started(const tt_http_head *h);

/* The start line (NULL / 0 before the head is complete or for the other
 * kind). */
const char *tt_http_head_method(const tt_http_head *h);
const char *tt_http_head_target(const tt_http_head *h);
const char *tt_http_head_reason(const tt_http_head *h);
int tt_http_head_status(const tt_http_head *h);

/* Fields in order of arrival, as received; 0 / TETHER_E_INVAL before done. */
size_t tt_http_head_count(const tt_http_head *h);
int tt_http_head_at(const tt_http_head *h, size_t i, const char **name, const char **value);
/* Case-insensitive lookup; a repeated field's values joined with ", ".
 * NULL if absent or before done. */
const char *tt_http_head_get(const tt_http_head *h, const char *name);
/* How many field lines carry this name. */
size_t tt_http_head_occurrences(const tt_http_head *h, const char *name);

/* Stores a derived string (s[0..n) plus a NUL) after the head and returns its
 * offset in *off; read it back with tt_http_head_str(). Only while the caller
 * has not handed out pointers yet: the buffer may move. TETHER_E_NOMEM. */
int tt_http_head_store(tt_http_head *h, const char *s, size_t n, uint32_t *off);
const char *tt_http_head_str(const tt_http_head *h, uint32_t off);

#endif
