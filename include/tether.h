/*
 * tether.h - the one public header of tether, a WebSocket library (RFC 6455,
 * RFC 7692 permessage-deflate) for clients and servers.
 *
 * This part of the API is the sans-I/O protocol layer: frame parser and
 * writer, masking, UTF-8 validation, close frames, the opening handshake and
 * permessage-deflate. It does no I/O at all: you bring the bytes, it tells you
 * what they mean and builds the bytes to send. With it alone you can build a
 * complete WebSocket endpoint over any transport (see examples/).
 *
 * Conventions used throughout:
 * - Every type you hold is opaque; objects are created by *_new() and freed
 *   by the matching *_free(), which accepts NULL.
 * - Functions that can fail return 0 (or a non-negative count/event) on
 *   success and a negative TETHER_E_* code on failure; tether_strerror()
 *   names a code. A bad argument (NULL where an object is required, a value
 *   out of range) returns TETHER_E_INVAL; it never crashes.
 * - Threads: an object belongs to the thread using it; distinct objects may be
 *   used from distinct threads at once. Pure functions (masking, UTF-8,
 *   key/accept, close payload helpers, strerror) are safe from any thread.
 * - Pointers returned by an object stay valid until the object is freed or
 *   the documented next call on it, whichever comes first.
 */
#ifndef TETHER_H
#define TETHER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(TETHER_NO_VISIBILITY)
#define TETHER_API __attribute__((visibility("default")))
#else
#define TETHER_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

/* The version of the headers you compile against: TETHER_VERSION_MAJOR,
 * TETHER_VERSION_MINOR, TETHER_VERSION_PATCH (integers) and
 * TETHER_VERSION_STRING ("MAJOR.MINOR.PATCH"). They are generated from the
 * build's project version into tether_version.h, which is installed next to
 * this header. A program built against MAJOR.MINOR runs with any library of
 * the same MAJOR and a MINOR at least as high (README, "Versions and ABI"). */
#include "tether_version.h"

/* The version of the library actually loaded at run time, "MAJOR.MINOR.PATCH";
 * a static string, never freed. */
TETHER_API const char *tether_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

enum tether_error {
    TETHER_OK = 0,
    /* Local errors: bad use of the API or resource exhaustion. */
    TETHER_E_INVAL = -1,         /* an argument is invalid (NULL, out of range) */
    TETHER_E_NOMEM = -2,         /* memory allocation failed */
    TETHER_E_AGAIN = -3,         /* more input is needed before this can complete */
    TETHER_E_NOSPC = -4,         /* the output buffer is too small */
    TETHER_E_STATE = -5,         /* the call is not valid in the object's state */
    TETHER_E_RANDOM = -6,        /* the system CSPRNG failed */
    TETHER_E_ZLIB = -7,          /* zlib failed internally (not the peer's fault) */
    TETHER_E_IO = -8,            /* a socket read or write failed */
    TETHER_E_CONNECT = -9,       /* the TCP connection could not be made */
    TETHER_E_DNS = -10,          /* the host name could not be resolved */
    TETHER_E_TIMEOUT = -11,      /* a connect, handshake, close or idle timeout */
    TETHER_E_BACKPRESSURE = -12, /* the send queue is at its limit */
    TETHER_E_CLOSED = -13,       /* the peer closed the TCP connection */
    TETHER_E_TLS = -14,          /* TLS handshake or record failure (text: OpenSSL's reason) */
    TETHER_E_TLS_VERIFY = -15,   /* the peer's certificate was refused (text says why) */
    TETHER_E_TLS_CONFIG = -16,   /* a certificate, key or CA could not be loaded */
    TETHER_E_UNSUPPORTED = -17,  /* this build lacks the feature (see tether_features()) */
    TETHER_E_NOFILE = -18,       /* out of file descriptors (EMFILE, ENFILE) */
    TETHER_E_HTTP2 = -19, /* the peer broke HTTP/2 (text: nghttp2's reason), or reset the stream */
    TETHER_E_PROXY = -20, /* the proxy refused the tunnel (text: its status line or SOCKS reply) */

    /* Protocol errors: the peer broke RFC 6455 / RFC 7692. Each maps to the
     * close code a compliant endpoint sends (tether_error_close_code()). */
    TETHER_E_RSV = -100,                /* RSV bit not allowed here (1002) */
    TETHER_E_OPCODE = -101,             /* reserved opcode (1002) */
    TETHER_E_MASK = -102,               /* masking wrong for the role (1002) */
    TETHER_E_LENGTH = -103,             /* 64-bit length MSB set, or not minimal (1002) */
    TETHER_E_CONTROL_LENGTH = -104,     /* control frame payload > 125 (1002) */
    TETHER_E_CONTROL_FRAGMENTED = -105, /* control frame without FIN (1002) */
    TETHER_E_CONTINUATION = -106,       /* continuation with no message started (1002) */
    TETHER_E_FRAGMENT = -107,           /* new data frame inside a fragmented message (1002) */
    TETHER_E_FRAME_TOO_BIG = -108,      /* frame longer than the configured limit (1009) */
    TETHER_E_MESSAGE_TOO_BIG = -109,    /* message or inflated size over the limit (1009) */
    TETHER_E_UTF8 = -110,               /* invalid UTF-8 in text or close reason (1007) */
    TETHER_E_CLOSE_CODE = -111,         /* close code not allowed (1002) */
    TETHER_E_CLOSE_PAYLOAD = -112,      /* close payload of 1 byte, or reason too long (1002) */
    TETHER_E_INFLATE = -113,            /* compressed payload is not valid deflate data (1007) */

    /* Handshake errors. On the server, tether_error_http_status() gives the
     * status to answer with; on the client they explain a refused upgrade. */
    TETHER_E_HS_MALFORMED = -200,   /* not a valid HTTP/1.1 message (400) */
    TETHER_E_HS_TOO_BIG = -201,     /* header bytes or count over the limit (431) */
    TETHER_E_HS_METHOD = -202,      /* request is not GET, or not HTTP/1.1 (405 / 400) */
    TETHER_E_HS_UPGRADE = -203,     /* Upgrade: websocket / Connection: Upgrade missing (400) */
    TETHER_E_HS_VERSION = -204,     /* Sec-WebSocket-Version is not 13 (426) */
    TETHER_E_HS_KEY = -205,         /* Sec-WebSocket-Key missing or not 16 bytes base64 (400) */
    TETHER_E_HS_STATUS = -206,      /* client: the response status is not 101 */
    TETHER_E_HS_ACCEPT = -207,      /* client: Sec-WebSocket-Accept does not match */
    TETHER_E_HS_PROTOCOL = -208,    /* client: server chose a sub-protocol not offered */
    TETHER_E_HS_EXTENSION = -209,   /* extension header malformed, not offered, or bad params */
    TETHER_E_HS_HTTP_VERSION = -210 /* request line names HTTP/2 or another major (505) */
};

/* A short English description of an error code ("invalid UTF-8", ...).
 * Static string, never NULL, never freed; unknown codes give "unknown error". */
TETHER_API const char *tether_strerror(int code);

/* The close code to send when a protocol error is detected: 1002, 1007 or
 * 1009 for the TETHER_E_* protocol errors above, 1011 for local failures
 * while processing received data (NOMEM, ZLIB), 0 for codes that are not
 * about received data. */
TETHER_API int tether_error_close_code(int code);

/* The HTTP status a server should answer a failed handshake with (400, 405,
 * 426, 431), or 0 if the code is not a server-side handshake error. */
TETHER_API int tether_error_http_status(int code);

/* ------------------------------------------------------------------------ */
/* Roles, opcodes, close codes                                              */
/* ------------------------------------------------------------------------ */

typedef enum tether_role {
    TETHER_ROLE_CLIENT = 0, /* masks what it sends; expects unmasked input */
    TETHER_ROLE_SERVER = 1  /* sends unmasked; requires masked input */
} tether_role;

typedef enum tether_opcode {
    TETHER_OP_CONTINUATION = 0x0,
    TETHER_OP_TEXT = 0x1,
    TETHER_OP_BINARY = 0x2,
    TETHER_OP_CLOSE = 0x8,
    TETHER_OP_PING = 0x9,
    TETHER_OP_PONG = 0xA
} tether_opcode;

/* RSV bits as they stand in the first header byte, shifted down: RSV1 = 4. */
#define TETHER_RSV1 4u
#define TETHER_RSV2 2u
#define TETHER_RSV3 1u

/* Close status codes (RFC 6455 section 7.4 and the IANA registry). */
#define TETHER_CLOSE_NORMAL 1000
#define TETHER_CLOSE_GOING_AWAY 1001
#define TETHER_CLOSE_PROTOCOL_ERROR 1002
#define TETHER_CLOSE_UNSUPPORTED_DATA 1003
#define TETHER_CLOSE_NO_STATUS 1005 /* never on the wire: "no code was sent" */
#define TETHER_CLOSE_ABNORMAL 1006  /* never on the wire: "no close frame" */
#define TETHER_CLOSE_INVALID_PAYLOAD 1007
#define TETHER_CLOSE_POLICY_VIOLATION 1008
#define TETHER_CLOSE_MESSAGE_TOO_BIG 1009
#define TETHER_CLOSE_MANDATORY_EXTENSION 1010
#define TETHER_CLOSE_INTERNAL_ERROR 1011
#define TETHER_CLOSE_SERVICE_RESTART 1012
#define TETHER_CLOSE_TRY_AGAIN_LATER 1013
#define TETHER_CLOSE_BAD_GATEWAY 1014
#define TETHER_CLOSE_TLS_HANDSHAKE 1015 /* never on the wire */

/* Largest payload of a control frame, and so of a close reason (125 - 2). */
#define TETHER_MAX_CONTROL_PAYLOAD 125
#define TETHER_MAX_CLOSE_REASON 123

/* ------------------------------------------------------------------------ */
/* Randomness and masking                                                   */
/* ------------------------------------------------------------------------ */

/* Fills buf with len bytes from the system CSPRNG (getrandom(2)).
 * Returns 0, TETHER_E_INVAL (buf NULL with len > 0) or TETHER_E_RANDOM. */
TETHER_API int tether_random_bytes(void *buf, size_t len);

/* XORs len bytes of src with the 4-byte masking key into dst, starting at
 * position `offset` of the key stream (the number of payload bytes already
 * masked with this key, so a payload can be masked in pieces). dst may equal
 * src (in place) or not overlap it at all; any alignment and length work.
 * Masking and unmasking are the same operation. Returns 0 or TETHER_E_INVAL. */
TETHER_API int tether_mask(void *dst, const void *src, size_t len, const uint8_t key[4],
                           uint64_t offset);

/* ------------------------------------------------------------------------ */
/* UTF-8 validation                                                         */
/* ------------------------------------------------------------------------ */

/* Incremental, fail-fast, strict UTF-8 validation: overlong forms,
 * surrogates (U+D800..U+DFFF) and anything above U+10FFFF are rejected, and
 * the error comes at the first byte that makes the sequence impossible, not
 * at the end. The state is a plain integer you own: start it at
 * TETHER_UTF8_INIT and carry it across fragments and reads. */
#define TETHER_UTF8_INIT 0u

/* Validates len more bytes. Returns 0 if everything so far can still be (or
 * is) valid UTF-8, TETHER_E_UTF8 as soon as it cannot; once failed, the state
 * stays failed. TETHER_E_INVAL if state is NULL or s is NULL with len > 0. */
TETHER_API int tether_utf8_feed(uint32_t *state, const void *s, size_t len);

/* Checks the end of the text: 0 if the state is at a character boundary,
 * TETHER_E_UTF8 if a sequence was cut short or the state had failed. */
TETHER_API int tether_utf8_finish(uint32_t state);

/* One-shot: 0 if s[0..len) is complete valid UTF-8, else TETHER_E_UTF8
 * (TETHER_E_INVAL for NULL with len > 0). */
TETHER_API int tether_utf8_validate(const void *s, size_t len);

/* ------------------------------------------------------------------------ */
/* Close frames                                                             */
/* ------------------------------------------------------------------------ */

/* 1 if an endpoint may send `code` in a close frame (1000-1003, 1007-1014,
 * 3000-4999), else 0. */
TETHER_API int tether_close_code_sendable(int code);

/* 1 if a received close frame carrying `code` is acceptable; the same set as
 * sendable (1004-1006, 1015, 1016-2999 and >= 5000 are protocol errors). */
TETHER_API int tether_close_code_valid(int code);

/* Builds a close payload (code in network order + reason) into out.
 * code 0 means "no code": an empty payload (reason must then be empty).
 * The reason must be valid UTF-8 of at most TETHER_MAX_CLOSE_REASON bytes.
 * Writes the size to *written. Errors: TETHER_E_INVAL, TETHER_E_CLOSE_CODE
 * (code not sendable), TETHER_E_CLOSE_PAYLOAD (reason too long, or a reason
 * with no code), TETHER_E_UTF8, TETHER_E_NOSPC. */
TETHER_API int tether_close_build(int code, const char *reason, size_t reason_len, uint8_t *out,
                                  size_t cap, size_t *written);

/* Parses a received close payload. An empty payload gives *code = 1005
 * (TETHER_CLOSE_NO_STATUS) and an empty reason. *reason points into payload
 * (not NUL-terminated). Errors: TETHER_E_CLOSE_PAYLOAD (1 byte),
 * TETHER_E_CLOSE_CODE (code not valid), TETHER_E_UTF8 (reason), TETHER_E_INVAL. */
TETHER_API int tether_close_parse(const uint8_t *payload, size_t len, int *code,
                                  const char **reason, size_t *reason_len);

/* ------------------------------------------------------------------------ */
/* Frame writer                                                             */
/* ------------------------------------------------------------------------ */

/* Largest possible frame header: 2 + 8 (length) + 4 (mask). */
#define TETHER_MAX_FRAME_HEADER 14

/* Size of the header for a payload of `len` bytes, masked or not (2..14). */
TETHER_API size_t tether_frame_header_size(uint64_t len, int masked);

/* Writes a frame header into out (cap >= tether_frame_header_size()), with the
 * minimal length encoding. mask_key NULL means unmasked; otherwise the key is
 * written and the caller masks the payload with tether_mask(). The header is
 * checked like a received one: opcode defined, rsv <= 7, control frames with
 * fin and at most 125 bytes. Returns the header size (> 0), or TETHER_E_INVAL,
 * TETHER_E_OPCODE, TETHER_E_CONTROL_LENGTH, TETHER_E_CONTROL_FRAGMENTED,
 * TETHER_E_NOSPC. Use this with writev to send a payload without copying it. */
TETHER_API int tether_frame_write_header(uint8_t *out, size_t cap, tether_opcode opcode, int fin,
                                         unsigned rsv, uint64_t len, const uint8_t *mask_key);

/* Writes a whole frame (header + payload) into out. A client frame is masked
 * with a fresh key from the CSPRNG for every call; a server frame is not.
 * Needs cap >= tether_frame_header_size(len, role == CLIENT) + len. Writes the
 * frame size to *written. Errors as tether_frame_write_header() plus
 * TETHER_E_RANDOM. payload may be NULL when len is 0. */
TETHER_API int tether_frame_write(tether_role role, tether_opcode opcode, int fin, unsigned rsv,
                                  const void *payload, size_t len, uint8_t *out, size_t cap,
                                  size_t *written);

/* ------------------------------------------------------------------------ */
/* Frame parser                                                             */
/* ------------------------------------------------------------------------ */

/* An incremental frame parser for one direction of one connection. It
 * accepts input split anywhere (one byte at a time works), unmasks payloads
 * in place in your buffer and hands out slices of it: nothing is copied,
 * except control-frame payloads split across calls, which it gathers (at most
 * 125 bytes) so that a control payload always arrives as one slice.
 *
 * It enforces, per its role: masking (a server requires masked frames, a
 * client refuses them), reserved opcodes, RSV bits (none unless allowed by
 * tether_parser_set_rsv_allowed(), and then only on the first frame of a data
 * message), the 64-bit length MSB and minimal length encoding, control-frame
 * rules, the frame length limit, message sequencing (continuation only inside
 * a fragmented message, no new data message inside one), close payloads
 * (code and UTF-8 reason), and by default UTF-8 of text messages across
 * fragments -- except messages with RSV1 set (compressed), whose text the
 * caller validates after inflating. After an error the parser stays failed
 * and returns the same error until tether_parser_reset(). */
typedef struct tether_parser tether_parser;

/* Events returned by tether_parser_next(). */
typedef enum tether_parse_event {
    TETHER_PARSE_NEED_MORE = 0,   /* all input consumed; feed more */
    TETHER_PARSE_FRAME_START = 1, /* a header is complete: query it below */
    TETHER_PARSE_PAYLOAD = 2,     /* *data / *data_len: the next payload slice */
    TETHER_PARSE_FRAME_END = 3    /* the current frame's payload is complete */
} tether_parse_event;

/* Default frame length limit: 16 MiB. */
#define TETHER_DEFAULT_MAX_FRAME (16u * 1024u * 1024u)

/* Creates a parser for frames received by `role`. NULL on bad role or no
 * memory. Free with tether_parser_free(). */
TETHER_API tether_parser *tether_parser_new(tether_role role);
TETHER_API void tether_parser_free(tether_parser *p);

/* Back to the state of a fresh parser (settings kept, error cleared). */
TETHER_API int tether_parser_reset(tether_parser *p);

/* Frames longer than max bytes fail with TETHER_E_FRAME_TOO_BIG as soon as
 * their header is read. Default TETHER_DEFAULT_MAX_FRAME; max 0 is invalid. */
TETHER_API int tether_parser_set_max_frame(tether_parser *p, uint64_t max);

/* RSV bits a negotiated extension allows on the first frame of a data
 * message (TETHER_RSV1 for permessage-deflate). Default 0. */
TETHER_API int tether_parser_set_rsv_allowed(tether_parser *p, unsigned rsv);

/* Whether to validate UTF-8 of uncompressed text messages (default 1). */
TETHER_API int tether_parser_set_utf8_check(tether_parser *p, int on);

/* Parses from buf[0..len). Sets *consumed to the bytes used (always; the
 * caller passes the rest, buf + *consumed, on the next call, together with
 * any new bytes). Returns a tether_parse_event (>= 0) or a negative error.
 * On TETHER_PARSE_PAYLOAD, *data and *data_len give the slice: it points into
 * buf (already unmasked there) or into the parser (a gathered control
 * payload) and is valid until the next call that touches that memory.
 * buf is modified: payload bytes are unmasked in place. data and data_len
 * may be NULL only if the caller does not want payloads. */
TETHER_API int tether_parser_next(tether_parser *p, uint8_t *buf, size_t len, size_t *consumed,
                                  const uint8_t **data, size_t *data_len);

/* About the current frame, valid from TETHER_PARSE_FRAME_START until the next
 * frame starts. Each returns -1 (or 0 for the unsigned ones) with no frame. */
TETHER_API int tether_parser_opcode(const tether_parser *p); /* tether_opcode */
TETHER_API int tether_parser_fin(const tether_parser *p);
TETHER_API unsigned tether_parser_rsv(const tether_parser *p);
TETHER_API int tether_parser_masked(const tether_parser *p);
TETHER_API uint64_t tether_parser_frame_length(const tether_parser *p);
/* Payload bytes of the current frame not handed out yet. */
TETHER_API uint64_t tether_parser_remaining(const tether_parser *p);
/* The opcode of the data message the current frame belongs to (TEXT or
 * BINARY for data frames, continuation included; the frame's own opcode for
 * control frames), and whether that message had RSV1 set on its first frame. */
TETHER_API int tether_parser_message_opcode(const tether_parser *p);
TETHER_API int tether_parser_message_compressed(const tether_parser *p);
/* After a close frame's FRAME_END: its code (1005 if none) and reason. */
TETHER_API int tether_parser_close_code(const tether_parser *p);
TETHER_API const char *tether_parser_close_reason(const tether_parser *p, size_t *len);
/* Why the parser failed, in words ("RSV2 set with no extension
 * negotiated"), or NULL if it has not. Static string. */
TETHER_API const char *tether_parser_error_text(const tether_parser *p);

/* ------------------------------------------------------------------------ */
/* Opening handshake                                                        */
/* ------------------------------------------------------------------------ */

/* Default limits on a handshake message's head (request or response). */
#define TETHER_DEFAULT_MAX_HEADER_BYTES (16u * 1024u)
#define TETHER_DEFAULT_MAX_HEADERS 100u

/* Length of a Sec-WebSocket-Key (base64 of 16 bytes) and of an Accept. */
#define TETHER_KEY_LEN 24
#define TETHER_ACCEPT_LEN 28

/* Writes a fresh random Sec-WebSocket-Key, NUL-terminated, into out
 * (TETHER_KEY_LEN + 1 bytes). Returns 0, TETHER_E_INVAL or TETHER_E_RANDOM. */
TETHER_API int tether_handshake_key(char out[TETHER_KEY_LEN + 1]);

/* Computes Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), NUL-terminated,
 * into out (TETHER_ACCEPT_LEN + 1 bytes). The key is used as given (the caller
 * trims it). Returns 0 or TETHER_E_INVAL. */
TETHER_API int tether_handshake_accept_key(const char *key, size_t key_len,
                                           char out[TETHER_ACCEPT_LEN + 1]);

/* --- Client side ---------------------------------------------------------
 * Build the upgrade request, then feed the response:
 *   h = tether_client_hs_new("example.com:8080", "/chat?x=1");
 *   tether_client_hs_add_protocol(h, "chat");
 *   tether_client_hs_request(h, &req, &req_len);     -> send these bytes
 *   tether_client_hs_parse(h, buf, n, &used);        -> 0 when accepted
 * Bytes after the response head (buf + used) are the first frames. */
typedef struct tether_client_hs tether_client_hs;

/* host: the Host header value (host, or host:port when not the default;
 * IPv6 literals in brackets). path: request target starting with '/',
 * query included. Both are copied. NULL on bad argument or no memory. */
TETHER_API tether_client_hs *tether_client_hs_new(const char *host, const char *path);
TETHER_API void tether_client_hs_free(tether_client_hs *h);

/* Settings, all before tether_client_hs_request(); strings are copied.
 * Names and values are checked: header names must be HTTP tokens, values
 * must not contain CR, LF or NUL (TETHER_E_INVAL). The headers tether
 * manages itself (Host, Upgrade, Connection, Sec-WebSocket-*) are refused by
 * add_header with TETHER_E_INVAL: use the dedicated setters. */
TETHER_API int tether_client_hs_set_origin(tether_client_hs *h, const char *origin);
TETHER_API int tether_client_hs_add_protocol(tether_client_hs *h, const char *protocol);
/* An extension offer as it stands in Sec-WebSocket-Extensions, e.g. the
 * output of tether_pmd_offer(). Offers are sent in the order added. */
TETHER_API int tether_client_hs_add_extension(tether_client_hs *h, const char *offer);
TETHER_API int tether_client_hs_add_header(tether_client_hs *h, const char *name,
                                           const char *value);
TETHER_API int tether_client_hs_set_max_header_bytes(tether_client_hs *h, size_t max);
TETHER_API int tether_client_hs_set_max_headers(tether_client_hs *h, size_t max);

/* Builds the request (with a fresh key) and returns it in *out / *len; the
 * bytes belong to h and stay valid until it is freed. Calling it again
 * returns the same request. Errors: TETHER_E_INVAL, TETHER_E_NOMEM,
 * TETHER_E_RANDOM. */
TETHER_API int tether_client_hs_request(tether_client_hs *h, const char **out, size_t *len);

/* Feeds response bytes. *consumed is set to the bytes used; the response head
 * is consumed whole when complete, and nothing after it. Returns:
 *   0                     101 with a valid Upgrade, Connection and Accept,
 *                         a sub-protocol that was offered (or none) and
 *                         extensions that were offered;
 *   TETHER_E_AGAIN        head incomplete: call again with more bytes (the
 *                         parser keeps what it consumed);
 *   TETHER_E_HS_STATUS    a complete non-101 response: see status/headers;
 *   TETHER_E_HS_ACCEPT, TETHER_E_HS_UPGRADE, TETHER_E_HS_PROTOCOL,
 *   TETHER_E_HS_EXTENSION, TETHER_E_HS_MALFORMED, TETHER_E_HS_TOO_BIG.
 * Call tether_client_hs_request() first (else TETHER_E_STATE). */
TETHER_API int tether_client_hs_parse(tether_client_hs *h, const uint8_t *buf, size_t len,
                                      size_t *consumed);

/* After a complete response (accepted or not): its status code and reason
 * phrase, and its headers. Lookups are case-insensitive; a header that
 * appears several times is returned as one value joined with ", ". The
 * strings belong to h. Before a complete response: status 0, NULL. */
TETHER_API int tether_client_hs_status(const tether_client_hs *h);
TETHER_API const char *tether_client_hs_reason(const tether_client_hs *h);
TETHER_API const char *tether_client_hs_header(const tether_client_hs *h, const char *name);
TETHER_API size_t tether_client_hs_header_count(const tether_client_hs *h);
/* The i-th header as received (0-based); TETHER_E_INVAL past the end. */
TETHER_API int tether_client_hs_header_at(const tether_client_hs *h, size_t i, const char **name,
                                          const char **value);
/* The sub-protocol the server chose, or NULL; the accepted extensions header
 * value, or NULL (pass it to tether_pmd_accept()). */
TETHER_API const char *tether_client_hs_protocol(const tether_client_hs *h);
TETHER_API const char *tether_client_hs_extensions(const tether_client_hs *h);

/* --- Server side ---------------------------------------------------------
 * Feed the request, inspect it, then build the answer:
 *   h = tether_server_hs_new();
 *   rc = tether_server_hs_parse(h, buf, n, &used);   -> 0: a valid upgrade
 *   tether_server_hs_select_protocol(h, "chat");
 *   tether_server_hs_accept(h, &resp, &resp_len);    -> send these bytes
 * or, when rc is an error or the application refuses:
 *   tether_server_hs_reject(h, tether_error_http_status(rc), NULL, ...);  */
typedef struct tether_server_hs tether_server_hs;

/* A server-side handshake, freed with tether_server_hs_free(). NULL when out
 * of memory. */
TETHER_API tether_server_hs *tether_server_hs_new(void);
TETHER_API void tether_server_hs_free(tether_server_hs *h);
/* Limits on the request head, as for the client (defaults
 * TETHER_DEFAULT_MAX_HEADER_BYTES and TETHER_DEFAULT_MAX_HEADERS); set them
 * before feeding the request. */
TETHER_API int tether_server_hs_set_max_header_bytes(tether_server_hs *h, size_t max);
TETHER_API int tether_server_hs_set_max_headers(tether_server_hs *h, size_t max);

/* Feeds request bytes; *consumed as for the client. Returns 0 for a complete,
 * valid WebSocket upgrade (GET, HTTP/1.1, Host, Upgrade: websocket,
 * Connection containing Upgrade, Sec-WebSocket-Version: 13, a key of 16
 * bytes in base64, no body), TETHER_E_AGAIN for an incomplete head, or
 * TETHER_E_HS_MALFORMED / _TOO_BIG / _METHOD / _UPGRADE / _VERSION / _KEY /
 * _HTTP_VERSION. Strict, so that no proxy in front can read the request
 * differently: a Transfer-Encoding or a Content-Length other than 0, a
 * Host that is not a valid host[:port], and an absolute-form target whose
 * authority is not Host are all TETHER_E_HS_MALFORMED (400); an HTTP major
 * version other than 1 is TETHER_E_HS_HTTP_VERSION (505).
 * After an error that left a complete head the request accessors still
 * work, so the application can log it or serve plain HTTP instead. */
TETHER_API int tether_server_hs_parse(tether_server_hs *h, const uint8_t *buf, size_t len,
                                      size_t *consumed);

/* The request: method, target (path with query), path alone, query alone
 * (NULL if none), headers (case-insensitive lookup; repeated headers joined
 * with ", "), Origin (NULL if none). Strings belong to h. */
TETHER_API const char *tether_server_hs_method(const tether_server_hs *h);
TETHER_API const char *tether_server_hs_target(const tether_server_hs *h);
TETHER_API const char *tether_server_hs_path(const tether_server_hs *h);
TETHER_API const char *tether_server_hs_query(const tether_server_hs *h);
TETHER_API const char *tether_server_hs_header(const tether_server_hs *h, const char *name);
TETHER_API size_t tether_server_hs_header_count(const tether_server_hs *h);
TETHER_API int tether_server_hs_header_at(const tether_server_hs *h, size_t i, const char **name,
                                          const char **value);
TETHER_API const char *tether_server_hs_origin(const tether_server_hs *h);
/* Offered sub-protocols in the client's order of preference. */
TETHER_API size_t tether_server_hs_protocol_count(const tether_server_hs *h);
TETHER_API const char *tether_server_hs_protocol_at(const tether_server_hs *h, size_t i);
/* The raw Sec-WebSocket-Extensions value (NULL if none): pass it to
 * tether_pmd_negotiate(). */
TETHER_API const char *tether_server_hs_extensions(const tether_server_hs *h);

/* Chooses one of the offered sub-protocols (TETHER_E_INVAL if it was not
 * offered). */
TETHER_API int tether_server_hs_select_protocol(tether_server_hs *h, const char *protocol);
/* The accepted extensions value for the response (e.g. from
 * tether_pmd_negotiate()). */
TETHER_API int tether_server_hs_set_extensions(tether_server_hs *h, const char *value);
/* An extra header for the response (accept or reject); checked like the
 * client's add_header. A reject's Content-Type may be set so (default
 * text/plain; charset=utf-8); Content-Length and Transfer-Encoding are
 * tether's (TETHER_E_INVAL). */
TETHER_API int tether_server_hs_add_header(tether_server_hs *h, const char *name,
                                           const char *value);

/* Builds the 101 Switching Protocols response. Needs a successful parse
 * (else TETHER_E_STATE). The bytes belong to h, valid until it is freed. */
TETHER_API int tether_server_hs_accept(tether_server_hs *h, const char **out, size_t *len);

/* Builds an error response with `status` (100 < status < 600, not 101), a
 * plain-text body (NULL: the status's reason phrase), Connection: close, and
 * Sec-WebSocket-Version: 13 when the status is 426. Works after any parse
 * result, or none. The bytes belong to h. */
TETHER_API int tether_server_hs_reject(tether_server_hs *h, int status, const char *body,
                                       const char **out, size_t *len);

/* ------------------------------------------------------------------------ */
/* permessage-deflate (RFC 7692)                                            */
/* ------------------------------------------------------------------------ */

/* One connection's permessage-deflate: your preferences, then the
 * negotiation (tether_pmd_offer + tether_pmd_accept on a client,
 * tether_pmd_negotiate on a server), then compressing what you send and
 * decompressing what you receive. Window bits 8 are not used for our own
 * compressor (zlib cannot produce an 8-bit window); an offer or response
 * that requires it is declined (server) or refused (client). */
typedef struct tether_pmd tether_pmd;

/* Default cap on one message's decompressed size: 16 MiB. */
#define TETHER_DEFAULT_MAX_DECOMPRESSED (16u * 1024u * 1024u)

/* Creates the permessage-deflate state for one connection of `role`. NULL on
 * bad role or no memory. Free with tether_pmd_free(). */
TETHER_API tether_pmd *tether_pmd_new(tether_role role);
TETHER_API void tether_pmd_free(tether_pmd *pmd);

/* Preferences (before negotiation; TETHER_E_STATE after). The "server_*"
 * and "client_*" names are the RFC's parameters, whatever our role:
 * - no_context_takeover: ask for (client) or impose (server) a reset of that
 *   side's compression context after each message;
 * - max_window_bits: 9..15 limits that side's LZ77 window (15: no limit).
 * A client always offers client_max_window_bits, so that a server may limit
 * our window. Defaults: no flags, 15 bits. */
TETHER_API int tether_pmd_set_server_no_context_takeover(tether_pmd *pmd, int on);
TETHER_API int tether_pmd_set_client_no_context_takeover(tether_pmd *pmd, int on);
TETHER_API int tether_pmd_set_server_max_window_bits(tether_pmd *pmd, int bits);
TETHER_API int tether_pmd_set_client_max_window_bits(tether_pmd *pmd, int bits);
/* zlib compression level 0..9 (default 6) and memLevel 1..9 (default 8). */
TETHER_API int tether_pmd_set_level(tether_pmd *pmd, int level);
TETHER_API int tether_pmd_set_mem_level(tether_pmd *pmd, int mem_level);
/* Cap on one received message's decompressed size, any time (0 invalid). */
TETHER_API int tether_pmd_set_max_decompressed(tether_pmd *pmd, uint64_t max);

/* Client: writes the offer (a Sec-WebSocket-Extensions value) into out,
 * NUL-terminated; *len excludes the NUL. TETHER_E_NOSPC if it does not fit. */
TETHER_API int tether_pmd_offer(const tether_pmd *pmd, char *out, size_t cap, size_t *len);

/* Client: checks the server's Sec-WebSocket-Extensions value (NULL: the
 * server declined, which is fine: returns 0 and tether_pmd_enabled() stays
 * 0) and sets the parameters in force. TETHER_E_HS_EXTENSION for anything
 * the RFC says to fail on: unknown extension or parameter, a parameter twice,
 * a bad value, client_max_window_bits we did not offer, a window we cannot
 * honour. */
TETHER_API int tether_pmd_accept(tether_pmd *pmd, const char *response);

/* Server: reads the client's offers (the whole Sec-WebSocket-Extensions
 * value, several offers and other extensions allowed), accepts the first
 * permessage-deflate offer it can honour within its preferences and writes
 * the response value into out (NUL-terminated, *len without it). Returns 1
 * if accepted, 0 if no offer is acceptable (send no extension), or
 * TETHER_E_HS_EXTENSION if the header is malformed, TETHER_E_NOSPC. */
TETHER_API int tether_pmd_negotiate(tether_pmd *pmd, const char *offers, char *out, size_t cap,
                                    size_t *len);

/* After negotiation: 1 if permessage-deflate is in force, and the parameters
 * in force (window bits 15 when unlimited). */
TETHER_API int tether_pmd_enabled(const tether_pmd *pmd);
TETHER_API int tether_pmd_server_no_context_takeover(const tether_pmd *pmd);
TETHER_API int tether_pmd_client_no_context_takeover(const tether_pmd *pmd);
TETHER_API int tether_pmd_server_max_window_bits(const tether_pmd *pmd);
TETHER_API int tether_pmd_client_max_window_bits(const tether_pmd *pmd);

/* Compresses the next piece of an outgoing message. fin = 1 for the last
 * piece: the trailing 00 00 ff ff is removed and, without context takeover
 * on our side, the context is reset. Pieces of one message go in separate
 * frames (set RSV1 on the first only). *out / *out_len: compressed bytes,
 * owned by pmd, valid until its next compress call. A whole empty message
 * compresses to the single byte 0x00. Errors: TETHER_E_STATE (not
 * negotiated), TETHER_E_INVAL, TETHER_E_NOMEM, TETHER_E_ZLIB. */
TETHER_API int tether_pmd_compress(tether_pmd *pmd, const void *in, size_t len, int fin,
                                   const uint8_t **out, size_t *out_len);

/* Decompresses the next piece of a received compressed message (the payload
 * of each of its frames in turn); fin = 1 for the last, which appends the
 * 00 00 ff ff the sender removed. *out / *out_len: the bytes this piece
 * produced, owned by pmd, valid until its next decompress call. A message
 * whose total decompressed size would exceed the cap fails with
 * TETHER_E_MESSAGE_TOO_BIG before more than the cap is produced (a deflate
 * bomb is never inflated into memory); corrupt data fails with
 * TETHER_E_INFLATE. After an error, call tether_pmd_reset_inflate() before
 * using it for another message. */
TETHER_API int tether_pmd_decompress(tether_pmd *pmd, const void *in, size_t len, int fin,
                                     const uint8_t **out, size_t *out_len);

/* Drops the receive context (after an error, or to abandon a message). */
TETHER_API int tether_pmd_reset_inflate(tether_pmd *pmd);

/* ======================================================================== */
/* The WebSocket engine (tether_ws)                                         */
/* ======================================================================== */
/*
 * One WebSocket connection after its opening handshake, without I/O: the
 * engine the live connections below run on, for programs that bring their
 * own sockets, loops or transports. You feed it the bytes you receive and
 * the time; it gives you events (whole messages or fragments, pings, pongs,
 * the end) and the bytes to send. It answers pings, runs the closing
 * handshake with its timeout, sends keepalive pings and drops a silent
 * peer, enforces every limit of the options, validates UTF-8, and fails the
 * connection with the right close code on any protocol error. With a
 * negotiated tether_pmd it compresses and inflates (RFC 7692).
 *
 * A loop over it, for any transport:
 *   receive bytes        -> tether_ws_receive(ws, buf, n, now)
 *   the stream ended     -> tether_ws_receive_eof(ws)
 *   then, every time     -> while (tether_ws_next_event(ws, &ev) == 1) handle ev
 *                           write tether_ws_output(ws, &len), then
 *                           tether_ws_output_sent(ws, written)
 *                           wake at tether_ws_deadline(ws): tether_ws_on_time(ws, now)
 *   after the CLOSED event, once the output is written: close the transport
 *   (a server at once; a client that closed cleanly may first wait a moment
 *   for the server to close, RFC 6455 7.1.1).
 * examples/ws_endpoint.h is that loop over a blocking socket.
 *
 * Time: now_ms is any millisecond clock of yours that does not go backwards
 * (CLOCK_MONOTONIC); deadlines are in the same clock.
 * Threads: a tether_ws belongs to one thread at a time.
 * Memory: it owns the input you gave it and not yet turned into events, the
 * message being reassembled (up to max_message), and the output you have
 * not taken (sends fail with TETHER_E_BACKPRESSURE past the send limit).
 * Stable, like the rest of this header (README, "Versions and ABI"): its
 * shape was fixed once the live connections, examples/ws_endpoint.h,
 * Python's tether.sansio and Perl's Tether::Connection all ran on it. */

typedef struct tether_ws tether_ws;
typedef struct tether_opts tether_opts; /* options: see "Options" below */

/* An event of the engine. The pointers stay valid until the next call of
 * tether_ws_next_event(), tether_ws_receive() or tether_ws_free() on the
 * same engine. Fields not named for a type are 0. */
typedef struct tether_ws_event {
    int type;            /* a tether_event_type: MESSAGE, FRAGMENT, PING, PONG,
                          * DRAIN or CLOSED (the last event; none follows) */
    int opcode;          /* MESSAGE, FRAGMENT: TETHER_OP_TEXT or TETHER_OP_BINARY */
    int fin;             /* FRAGMENT: 1 on the last piece of the message */
    const uint8_t *data; /* MESSAGE, FRAGMENT, PING, PONG: the payload; */
    size_t len;          /* CLOSED: the reason (UTF-8, not NUL-terminated) */
    int code;            /* CLOSED: the close code (the peer's, ours when we failed
                          * the connection, 1006 when the stream just ended) */
    int clean;           /* CLOSED: the closing handshake completed */
    int error;           /* CLOSED: the TETHER_E_* that ended it; 0 if clean */
    long reserved[4];    /* for later fields; the struct never shrinks */
} tether_ws_event;

/* Engine states. */
#define TETHER_WS_OPEN 0    /* data flows both ways */
#define TETHER_WS_CLOSING 1 /* we sent a close frame and wait for the peer's */
#define TETHER_WS_CLOSED 2  /* over: the CLOSED event is due or was given */

/* Makes an engine for a connection of this role whose handshake is done.
 * opts (NULL: defaults) gives the limits, timeouts, keepalive, streaming,
 * UTF-8 check, send limit, drain mark and deflate threshold; they are
 * copied. now_ms starts the clock. Returns NULL when out of memory or role
 * is not a tether_role. Free with tether_ws_free(). */
TETHER_API tether_ws *tether_ws_new(tether_role role, const tether_opts *opts, uint64_t now_ms);
TETHER_API void tether_ws_free(tether_ws *ws);

/* Turns permessage-deflate on with a tether_pmd of the same role whose
 * negotiation succeeded (tether_pmd_enabled() == 1), before any frame
 * flows. On success the engine owns pmd (freed with it); on error it stays
 * yours. Errors: TETHER_E_INVAL (wrong role, not negotiated, already on),
 * TETHER_E_STATE (a frame went already). */
TETHER_API int tether_ws_set_deflate(tether_ws *ws, tether_pmd *pmd);

/* Received bytes, in order, at time now_ms: copied into the engine, turned
 * into events by tether_ws_next_event(). Bytes after the end are ignored.
 * Errors: TETHER_E_INVAL (ws NULL, data NULL with len > 0), TETHER_E_NOMEM. */
TETHER_API int tether_ws_receive(tether_ws *ws, const void *data, size_t len, uint64_t now_ms);
/* The transport's stream ended (a clean EOF as much as a reset): unless the
 * connection is over already, a CLOSED event follows with 1006 and
 * TETHER_E_CLOSED, after the events of the input still held. */
TETHER_API int tether_ws_receive_eof(tether_ws *ws);

/* Takes the next event: returns 1 with *ev filled, 0 when there is none
 * until more input or time arrives, or TETHER_E_INVAL. Processing happens
 * here, one event at a time, so not taking events is read backpressure:
 * input you keep feeding is held until you do. */
TETHER_API int tether_ws_next_event(tether_ws *ws, tether_ws_event *ev);

/* The bytes to send, in order: returns a pointer to the first *len of them
 * (NULL and 0 when there are none), valid until the next call that may
 * queue or take output. Write what you can, then report it with
 * tether_ws_output_sent(ws, n) (n <= *len; TETHER_E_INVAL otherwise). A
 * DRAIN event follows when the output falls to the drain mark after having
 * been over it. */
TETHER_API const uint8_t *tether_ws_output(tether_ws *ws, size_t *len);
TETHER_API int tether_ws_output_sent(tether_ws *ws, size_t n);
/* Bytes queued for sending and not yet reported sent. */
TETHER_API size_t tether_ws_buffered(const tether_ws *ws);

/* Sending, as for live connections (tether_conn_send and the ones after
 * it): a whole message, a piece of a streamed one, a ping, the start of the
 * closing handshake (its timeout runs from now_ms). The frames are queued
 * as output. Errors: TETHER_E_STATE (closing or closed; another streamed
 * message in progress), TETHER_E_BACKPRESSURE, TETHER_E_UTF8,
 * TETHER_E_INVAL, TETHER_E_NOMEM, TETHER_E_CLOSE_CODE (close). */
TETHER_API int tether_ws_send(tether_ws *ws, tether_opcode opcode, const void *data, size_t len);
TETHER_API int tether_ws_send_fragment(tether_ws *ws, tether_opcode opcode, const void *data,
                                       size_t len, int fin);
TETHER_API int tether_ws_ping(tether_ws *ws, const void *data, size_t len);
TETHER_API int tether_ws_close(tether_ws *ws, int code, const char *reason, uint64_t now_ms);

/* Time: the next moment tether_ws_on_time() has something to do (0: none),
 * in the caller's clock; and the call itself, which may queue a keepalive
 * ping or end the connection (a CLOSED event: 1011 keepalive timeout, 1001
 * idle timeout, 1008 message timeout, 1006 close timeout). Calling it early
 * does nothing. Returns 0 or TETHER_E_INVAL. */
TETHER_API uint64_t tether_ws_deadline(const tether_ws *ws);
TETHER_API int tether_ws_on_time(tether_ws *ws, uint64_t now_ms);

/* TETHER_WS_OPEN, _CLOSING or _CLOSED (TETHER_E_INVAL for NULL). */
TETHER_API int tether_ws_state(const tether_ws *ws);

/* ======================================================================== */
/* Live connections                                                         */
/* ======================================================================== */
/*
 * Everything below runs real connections: a context (tether_ctx) owns a set
 * of connections and listeners and the loop that drives them.
 *
 * Receiving, two ways over one engine:
 * - callback mode (tether_ctx_set_callback): the loop calls your function
 *   with each event; the event and its data are valid until it returns;
 * - poll mode (the default): tether_next_event() returns the next event,
 *   which stays valid until you pass it to tether_event_release().
 * While a connection's data event (MESSAGE, FRAGMENT) is held, that
 * connection reads no further: holding an event is backpressure, and the
 * event's data is never overwritten under you. Other connections go on.
 * (tether_ctx_set_event_copy() lets small payloads be copied instead.)
 *
 * Running, three ways:
 * - tether's own loop: tether_ctx_run() (epoll), or tether_next_event();
 * - a libuv loop you own: tether_uv.h;
 * - any other loop: watch tether_ctx_fd() for reading, honour
 *   tether_ctx_timeout(), and call tether_ctx_service(ctx, 0) when either
 *   fires (asyncio, AnyEvent, IO::Async, GLib all fit).
 *
 * Threads: a context and everything in it belong to the thread that runs
 * it. The exceptions, safe from any thread: tether_ctx_wake(),
 * tether_ctx_stop(), tether_ctx_post_send(), tether_ctx_post_close(). They
 * name a connection by its id (tether_conn_id()), which, unlike a pointer,
 * stays safe after the connection is gone: work posted for a connection
 * that no longer exists is dropped.
 *
 * Lifetime: a tether_conn pointer is valid from tether_connect() or the
 * REQUEST event until its CLOSED event is released (poll mode) or its
 * callback returns. Every client connection, and every server connection
 * that produced a REQUEST (accepted or rejected), ends with exactly one
 * CLOSED event; a request that was not a valid upgrade (answered with 400,
 * 426...) produces no event at all. tether_ctx_free() produces none.
 *
 * Re-entrancy: events are dispatched only from tether_ctx_run(),
 * tether_ctx_service() and tether_next_event(), never from inside
 * tether_conn_send(), tether_conn_close(), tether_connect() and the other
 * calls you make; what those cause is reported on the next round.
 */

/* tether_opts is declared with the engine above. */
typedef struct tether_ctx tether_ctx;
typedef struct tether_conn tether_conn;
typedef struct tether_listener tether_listener;
typedef struct tether_event tether_event;

/* ---- Options ------------------------------------------------------------
 * One options object configures a client connection (tether_connect) or a
 * listener's connections (tether_listen); it is copied at that call, so it
 * may be freed or changed afterwards. Times are in milliseconds; 0 turns a
 * timeout off. */
TETHER_API tether_opts *tether_opts_new(void);
TETHER_API void tether_opts_free(tether_opts *o);

/* Largest message delivered whole (default 16 MiB): a longer one closes the
 * connection with 1009. In streaming mode it bounds nothing but frames. */
TETHER_API int tether_opts_set_max_message(tether_opts *o, uint64_t max);
/* Default message limit. */
#define TETHER_DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)
/* Default time a received message may take from its first frame to its
 * last, in ms (tether_opts_set_message_timeout). */
#define TETHER_DEFAULT_MESSAGE_TIMEOUT 120000u
/* Largest frame accepted (1009 past it); by default the message limit. */
TETHER_API int tether_opts_set_max_frame(tether_opts *o, uint64_t max);
/* Streaming: deliver each received data frame as a FRAGMENT event as it
 * arrives (with tether_event_fin() on the last) instead of whole MESSAGE
 * events. Default 0. */
TETHER_API int tether_opts_set_streaming(tether_opts *o, int on);
/* Time allowed for TCP connect (client, default 10000), the opening
 * handshake (default 10000), the closing handshake (default 5000; it cannot
 * be turned off: TETHER_E_INVAL for 0), and silence before the connection
 * is dropped (default 0: never). */
TETHER_API int tether_opts_set_connect_timeout(tether_opts *o, unsigned ms);
TETHER_API int tether_opts_set_handshake_timeout(tether_opts *o, unsigned ms);
TETHER_API int tether_opts_set_close_timeout(tether_opts *o, unsigned ms);
TETHER_API int tether_opts_set_idle_timeout(tether_opts *o, unsigned ms);
/* Time a received data message may take from the start of its first frame
 * to the end of its last (default TETHER_DEFAULT_MESSAGE_TIMEOUT, 2
 * minutes; 0: no limit). Past it the connection fails with 1008 "message
 * timeout" and CLOSED reports TETHER_E_TIMEOUT: a peer cannot make the
 * connection hold a partial message, up to max_message, for ever. The time
 * runs while reading is paused too; raise it for slow, large uploads. */
TETHER_API int tether_opts_set_message_timeout(tether_opts *o, unsigned ms);
/* Keepalive: a ping every interval ms of silence (default 0: none); a peer
 * that does not answer within timeout ms (default 20000) is dropped, and
 * CLOSED reports 1011 "keepalive timeout". */
TETHER_API int tether_opts_set_ping_interval(tether_opts *o, unsigned ms);
TETHER_API int tether_opts_set_ping_timeout(tether_opts *o, unsigned ms);
/* Backpressure: sends fail with TETHER_E_BACKPRESSURE once this many bytes
 * wait to be written (default 64 MiB), and a DRAIN event comes when the
 * queue falls to drain_mark bytes or below after having been above it
 * (default 64 KiB). Both count what tether_conn_buffered() counts. */
TETHER_API int tether_opts_set_send_limit(tether_opts *o, size_t max);
TETHER_API int tether_opts_set_drain_mark(tether_opts *o, size_t mark);
/* Sub-protocols: a client offers them in this order; a server accepts the
 * first the client offers that is in this list, unless the REQUEST handler
 * chooses. */
TETHER_API int tether_opts_add_protocol(tether_opts *o, const char *protocol);
/* Extra headers: on a client's request, or on a server's 101 response. */
TETHER_API int tether_opts_add_header(tether_opts *o, const char *name, const char *value);
/* The Origin header a client sends (none by default). */
TETHER_API int tether_opts_set_origin(tether_opts *o, const char *origin);
/* Handshake head limits (defaults as the sans-I/O layer's). */
TETHER_API int tether_opts_set_max_header_bytes(tether_opts *o, size_t max);
TETHER_API int tether_opts_set_max_headers(tether_opts *o, size_t max);
/* Listeners: plain HTTP requests reach the application as HTTP events
 * (default 0: they are refused with 400). See "Plain HTTP" below. */
TETHER_API int tether_opts_set_http(tether_opts *o, int on);
/* Listeners: HTTP/2 (RFC 9113) on the same port (default 1): chosen by
 * ALPN ("h2") on TLS, by the client's connection preface on cleartext
 * (prior knowledge); HTTP/1.1 goes on working beside it. Each HTTP/2
 * stream is a connection of its own to the application, with the same
 * events as on HTTP/1.1: a WebSocket opened with extended CONNECT (RFC
 * 8441, announced with SETTINGS_ENABLE_CONNECT_PROTOCOL) is a REQUEST
 * then a WebSocket, a plain request an HTTP event (with
 * tether_opts_set_http). 0: ALPN offers only http/1.1 and a preface is
 * refused like any bad request. */
TETHER_API int tether_opts_set_http2(tether_opts *o, int on);
/* Clients (wss:// URLs; default 0): prefer HTTP/2. TLS offers h2 and
 * http/1.1 by ALPN; when the server takes h2 and announces RFC 8441's
 * extended CONNECT, the WebSocket is a stream of an HTTP/2 connection (the
 * handshake is CONNECT with :protocol websocket, answered with 200; the
 * events and options are the same). A server that takes http/1.1 gets
 * the usual upgrade; one that takes h2 without extended CONNECT is tried
 * again over a new HTTP/1.1 connection. tether_conn_http2_stream() says
 * which it was. Cleartext ws:// always uses HTTP/1.1 (there is no ALPN to
 * ask with). */
TETHER_API int tether_opts_set_prefer_http2(tether_opts *o, int on);
/* Clients: connect through a proxy, given as a URL (default: none):
 *   http://[user:password@]host[:port]     HTTP CONNECT, Basic credentials
 *   socks5://[user:password@]host[:port]   SOCKS5, the name resolved here
 *   socks5h://[user:password@]host[:port]  SOCKS5, the proxy resolves it
 * The port defaults to 1080 and a URL without a scheme is http://, as in
 * curl; user and password are percent-decoded. The tunnel is a layer
 * under TLS, so wss:// through a proxy is end-to-end TLS to the server.
 * A proxy that refuses fails the connection with TETHER_E_PROXY, and
 * tether_conn_error_text() gives its answer ("HTTP 407 Proxy
 * Authentication Required from the proxy", "SOCKS5 proxy: connection
 * refused (reply 5)"). NULL or "" removes the proxy. TETHER_E_INVAL for a
 * malformed URL, TETHER_E_UNSUPPORTED for another scheme (https://,
 * socks4://). Overrides tether_opts_set_proxy_from_env(). */
TETHER_API int tether_opts_set_proxy(tether_opts *o, const char *url);
/* Clients (default 0): when no proxy is set, take it from the
 * environment at each tether_connect(), as curl does: https_proxy or
 * HTTPS_PROXY for wss://, http_proxy (lower case only) for ws://, else
 * all_proxy or ALL_PROXY; no proxy for hosts that no_proxy or NO_PROXY
 * lists (comma-separated names, ".domain" or "domain" for it and its
 * subdomains, addresses, or "*" for all). A malformed variable makes
 * tether_connect() fail with TETHER_E_INVAL. */
TETHER_API int tether_opts_set_proxy_from_env(tether_opts *o, int on);
/* Clients: reconnect when the connection fails or is lost (default: never),
 * as libwebsockets' lws_retry_bo_t describes it. Instead of CLOSED the
 * connection says RETRY (tether_event_retry_delay()) and connects again
 * after that delay, with a new handshake, the same tether_conn and user
 * pointer; OPEN follows again on success. What is retried, as Python
 * websockets' connect() does: failures to connect, resolve, or complete
 * TLS or HTTP/2, timeouts, a connection lost without a closing handshake,
 * an HTTP 5xx answer, and a server that closes with 1001 (going away),
 * 1011, 1012 (restart), 1013 (try again later) or 1014. Never retried: a
 * close the application asked for (tether_conn_close() also ends a wait),
 * a 1000 from the server, HTTP 4xx, a proxy's refusal, TLS verification,
 * protocol and negotiation failures.
 * backoff: attempt n waits first_ms * 2^(n-1), at most max_ms (0: first_ms
 * always); steps: attempt n waits steps_ms[n-1], the last one repeating (the
 * table is copied; at most 1024 entries). Each delay gets up to jitter_pct
 * percent (0..100) more, at random. max_tries: attempts in a row before
 * giving up with CLOSED (0: no limit); an OPEN starts the count again.
 * first_ms 0 turns retrying off. TETHER_E_INVAL for max_ms < first_ms, no
 * steps or jitter over 100. */
TETHER_API int tether_opts_set_retry_backoff(tether_opts *o, unsigned first_ms, unsigned max_ms,
                                             unsigned jitter_pct, unsigned max_tries);
TETHER_API int tether_opts_set_retry_steps(tether_opts *o, const unsigned *steps_ms, size_t n,
                                           unsigned jitter_pct, unsigned max_tries);
/* Default largest HTTP request body (tether_opts_set_max_body). */
#define TETHER_DEFAULT_MAX_BODY (1024u * 1024u)
/* HTTP: the largest request body accepted (413 past it; default
 * TETHER_DEFAULT_MAX_BODY, at least 1), and how long a kept-alive
 * connection waits for its next request (ms, default 5000; 0: not at
 * all, every response closes). The time to send a request's head is the
 * handshake timeout. */
TETHER_API int tether_opts_set_max_body(tether_opts *o, size_t bytes);
TETHER_API int tether_opts_set_keepalive_timeout(tether_opts *o, unsigned ms);
/* Listeners: SO_REUSEPORT, so several processes can share one port. */
TETHER_API int tether_opts_set_reuseport(tether_opts *o, int on);
/* UTF-8 validation of received text (default 1). */
TETHER_API int tether_opts_set_utf8_check(tether_opts *o, int on);

/* ---- TLS options ----------------------------------------------------------
 * TLS 1.2 and 1.3 only, through OpenSSL. A client uses TLS for wss:// URLs;
 * a listener uses TLS when a certificate is set. Files are PEM; they are
 * read when tether_connect() / tether_listen() is called, and a file that
 * cannot be loaded makes that call fail with TETHER_E_TLS_CONFIG.
 *
 * A client verifies the server's chain against the CA file/directory given,
 * or the system's store when none is, and checks the host name of the URL
 * (or the one set with tether_opts_set_tls_server_name()), which it also
 * sends as SNI. A refused certificate ends the connection with
 * TETHER_E_TLS_VERIFY and tether_conn_error_text() says why (OpenSSL's
 * reason: "certificate has expired", "self-signed certificate", "hostname
 * mismatch"...). */

/* Relaxations of a client's checks, off unless asked (like libwebsockets'
 * LCCSCF_ flags). For tests and private networks only. */
#define TETHER_TLS_ALLOW_SELFSIGNED 1u    /* accept a chain no trusted CA signed */
#define TETHER_TLS_SKIP_HOSTNAME_CHECK 2u /* accept a certificate for another name */
#define TETHER_TLS_ALLOW_EXPIRED 4u       /* accept expired or not-yet-valid certificates */
#define TETHER_TLS_INSECURE 8u            /* no verification at all */

/* Trusted CAs: a PEM file and/or an OpenSSL hashed directory (either may be
 * NULL). Default: the system's store. On a listener: the CAs that client
 * certificates must chain to. */
TETHER_API int tether_opts_set_tls_ca(tether_opts *o, const char *ca_file, const char *ca_dir);
/* Our certificate chain (leaf first) and private key. On a listener it is
 * the server's certificate, and turns TLS on; on a client it is the client
 * certificate offered when the server asks. key_file NULL: the key is in
 * cert_file. */
TETHER_API int tether_opts_set_tls_cert(tether_opts *o, const char *cert_file,
                                        const char *key_file);
/* Listener: an extra certificate served to clients whose SNI is
 * server_name (exact, case-insensitive; "*.example.com" matches one
 * label). Clients with no SNI, or another name, get the main certificate. */
TETHER_API int tether_opts_add_tls_sni_cert(tether_opts *o, const char *server_name,
                                            const char *cert_file, const char *key_file);
/* Listener: client certificates. 0 (default) does not ask for one;
 * 1 asks and verifies one if sent; 2 requires a valid one. */
TETHER_API int tether_opts_set_tls_verify_client(tether_opts *o, int mode);
/* Client: TETHER_TLS_* relaxations (default 0). */
TETHER_API int tether_opts_set_tls_flags(tether_opts *o, unsigned flags);
/* Client: the name sent as SNI and checked against the certificate,
 * instead of the URL's host (useful when connecting to an address). */
TETHER_API int tether_opts_set_tls_server_name(tether_opts *o, const char *name);

/* ---- Compression (permessage-deflate, RFC 7692) --------------------------
 * Off by default (see the README for the memory it costs per connection).
 * On, a client offers it and a server accepts an offer; both sides' choices
 * below are negotiated as RFC 7692 says. Received messages are inflated up
 * to the message limit (tether_opts_set_max_message): a message that
 * inflates past it closes the connection with 1009. */
TETHER_API int tether_opts_set_deflate(tether_opts *o, int on);
/* Drop the LZ77 context after every message, for the server's messages
 * and/or the client's: less memory held between messages, worse ratio.
 * A client asks for server_no_context_takeover and announces
 * client_no_context_takeover; a server imposes both. Default 0, 0. */
TETHER_API int tether_opts_set_deflate_no_context_takeover(tether_opts *o, int server, int client);
/* LZ77 window of the server's and the client's compressor, 9..15 bits, or
 * 0 for no limit (15; zlib cannot compress with the 8 the RFC allows). Set
 * here, they are demands: a client asks for server_max_window_bits and
 * offers client_max_window_bits; a server limits both, and declines an
 * offer that does not let it limit the client's window. Not set, the
 * default is 12 bits for our own compressor, and a server limits the
 * client's window to 12 only where the offer allows it (a browser's does),
 * else accepts 15: 4 KiB windows cost a compressing connection about half
 * the memory of 32 KiB ones (README). */
TETHER_API int tether_opts_set_deflate_window_bits(tether_opts *o, int server_bits,
                                                   int client_bits);
/* zlib compression level 0..9 (default 6) and memLevel 1..9 (default 5):
 * both shape only our own compressor. */
TETHER_API int tether_opts_set_deflate_level(tether_opts *o, int level);
TETHER_API int tether_opts_set_deflate_mem_level(tether_opts *o, int mem_level);
/* Messages shorter than this many bytes are sent uncompressed (default
 * 64): deflate makes tiny messages longer and costs more CPU than it
 * saves. */
TETHER_API int tether_opts_set_deflate_threshold(tether_opts *o, size_t bytes);

/* ---- Context and loop -------------------------------------------------- */

/* A new context in poll mode with its own epoll loop. NULL on failure. */
TETHER_API tether_ctx *tether_ctx_new(void);
/* Closes every connection and listener at once (no closing handshake) and
 * frees the context. Not from inside a callback. */
TETHER_API void tether_ctx_free(tether_ctx *ctx);

/* Default cap on the bytes all of a context's connections may have queued
 * together (tether_ctx_set_send_budget). */
#define TETHER_DEFAULT_SEND_BUDGET (1024u * 1024u * 1024u)

/* A cap on the bytes all connections of ctx may hold to send together
 * (what tether_conn_buffered() counts, summed, except that a frame shared
 * by a tether_broadcast() counts once), on top of each
 * connection's send limit: default TETHER_DEFAULT_SEND_BUDGET (1 GiB), 0
 * for none. A data send that would pass it fails with
 * TETHER_E_BACKPRESSURE, as one over the connection's own limit does;
 * pings, pongs and close frames always go. The policy is the caller's:
 * `tether serve` closes the receiver with 1013 "try again later". So a
 * broadcast to stalled clients cannot take all the memory there is. Loop
 * thread only. Errors: TETHER_E_INVAL. */
TETHER_API int tether_ctx_set_send_budget(tether_ctx *ctx, size_t bytes);
/* Bytes all connections of ctx hold to send now, a broadcast's shared
 * frame counted once: what the send budget caps (0 for NULL). */
TETHER_API size_t tether_ctx_buffered(const tether_ctx *ctx);

typedef void (*tether_event_cb)(tether_ctx *ctx, tether_event *ev, void *user);
/* Callback mode: every event goes to cb. NULL returns to poll mode. */
TETHER_API int tether_ctx_set_callback(tether_ctx *ctx, tether_event_cb cb, void *user);

/* Own loop: runs until tether_ctx_stop(). Returns 0, or a negative error
 * (TETHER_E_STATE when called in poll mode or re-entered). */
TETHER_API int tether_ctx_run(tether_ctx *ctx);
/* Makes tether_ctx_run() return, and a blocked tether_next_event() return
 * TETHER_E_AGAIN; a stop requested while neither runs makes the next one
 * return at once (so a signal just before tether_ctx_run() is not lost).
 * Thread-safe and async-signal-safe. */
TETHER_API int tether_ctx_stop(tether_ctx *ctx);
/* Interrupts a blocked wait and produces a WAKE event (both modes).
 * Thread-safe and async-signal-safe. */
TETHER_API int tether_ctx_wake(tether_ctx *ctx);

/* Sends made outside a round (from your own code between polls, as a
 * binding's coroutines do) are written at once, one system call each. With
 * cork on, they are held instead and written together: by the next round
 * (tether_ctx_service(), tether_next_event(s), tether_ctx_run()) or by
 * tether_ctx_flush(); meanwhile tether_ctx_timeout() says 0, so a foreign
 * loop that follows it writes them in its next iteration, one write per
 * connection for all the messages sent since. Sends from inside a round
 * (callbacks) are batched this way always. A frame of 8 KiB or more with
 * nothing queued before it still goes at once (it is a write of its own
 * anyway). Turning cork off writes what is held. Loop thread only.
 * Errors: TETHER_E_INVAL. */
TETHER_API int tether_ctx_set_cork(tether_ctx *ctx, int on);
/* Writes what cork held (see above); what the sockets do not take waits
 * for them as usual. Returns 0, TETHER_E_INVAL, or TETHER_E_STATE from
 * inside a callback (the round writes it at its end anyway). */
TETHER_API int tether_ctx_flush(tether_ctx *ctx);
/* Poll mode: data events (MESSAGE, FRAGMENT) whose payload is at most max
 * bytes carry their own copy of it, and holding them does not stop their
 * connection: it reads on (until it holds 64 events), so one round hands
 * out every message its input holds instead of one per connection per
 * release. For a binding that copies each payload into objects of its own
 * anyway, a memcpy buys fewer rounds, system calls and wake-ups per
 * message. Bigger payloads are handed out in place and pause their
 * connection until released, as without copies. 0 (the default): none
 * copied. Takes effect for events made after the call; no effect in
 * callback mode. Loop thread only. Errors: TETHER_E_INVAL (NULL ctx). */
TETHER_API int tether_ctx_set_event_copy(tether_ctx *ctx, size_t max);

typedef struct tether_timer tether_timer;
typedef void (*tether_timer_cb)(tether_timer *t, void *user);
/* Timers on the context's loop, for the application's own periodic work
 * (a heartbeat, a flush, a deadline) without a thread of its own: cb runs
 * on the loop thread after_ms milliseconds from now, then every every_ms
 * (0: once; a one-shot timer stays allocated until stopped or the context
 * is freed). It runs inside a round, as an event callback does, in both
 * modes (in poll mode: inside tether_next_event(s) or
 * tether_ctx_service()): it may send on, close or post to any connection
 * of the context (its sends are written when the round ends), start and
 * stop timers, itself included (tether_timer_stop() from its own callback
 * frees it once the callback returns); it may not run or free the context.
 * Loop thread only (from another thread, tether_ctx_post_*() or
 * tether_ctx_wake()). tether_ctx_timeout() counts timers, so foreign loops
 * wake for them. Returns 0 with *out set, TETHER_E_INVAL (NULL ctx, cb or
 * out) or TETHER_E_NOMEM. */
TETHER_API int tether_timer_start(tether_ctx *ctx, unsigned after_ms, unsigned every_ms,
                                  tether_timer_cb cb, void *user, tether_timer **out);
/* Stops and frees t (it will not run again). 0, or TETHER_E_INVAL for NULL. */
TETHER_API int tether_timer_stop(tether_timer *t);

/* Foreign loop: a file descriptor that becomes readable when the context
 * has work, and the milliseconds until it has timed work (-1: none). */
TETHER_API int tether_ctx_fd(const tether_ctx *ctx);
TETHER_API int tether_ctx_timeout(const tether_ctx *ctx);
/* Does the work that is ready, waiting at most timeout_ms for some (0: do
 * not wait, which is what a foreign loop wants; -1: until something
 * happens). In callback mode events are dispatched; in poll mode they are
 * queued for tether_next_event(). Work left over keeps tether_ctx_timeout()
 * at 0 and the fd readable, so a foreign loop never stalls. Returns a count
 * of what was handled (>= 0), or a negative error (TETHER_E_STATE when
 * called from inside a callback). */
TETHER_API int tether_ctx_service(tether_ctx *ctx, int timeout_ms);

/* Poll mode: waits up to timeout_ms (-1: forever, 0: not at all) for the
 * next event. Returns 0 with *ev set, TETHER_E_AGAIN on timeout or stop,
 * TETHER_E_STATE in callback mode. Release every event you get. */
TETHER_API int tether_next_event(tether_ctx *ctx, int timeout_ms, tether_event **ev);
/* Poll mode, in batches (one call where a binding would make many): up to
 * max events into out[], the first waited for as tether_next_event() does,
 * then those already due, without waiting. Returns how many (0 when none
 * came in time, or on stop), or a negative error (TETHER_E_INVAL,
 * TETHER_E_STATE as tether_next_event()). Release every event you get;
 * events taken in one batch may be released in any order. */
TETHER_API int tether_next_events(tether_ctx *ctx, int timeout_ms, tether_event **out, size_t max);
TETHER_API void tether_event_release(tether_event *ev);

/* ---- Events -------------------------------------------------------------- */

typedef enum tether_event_type {
    TETHER_EV_WAKE = 1,  /* tether_ctx_wake() was called (both modes) */
    TETHER_EV_REQUEST,   /* server: an upgrade request awaits your decision */
    TETHER_EV_OPEN,      /* the handshake is done; sending is possible */
    TETHER_EV_MESSAGE,   /* a whole message: opcode TEXT or BINARY, data */
    TETHER_EV_FRAGMENT,  /* streaming: a piece of a message; fin on the last */
    TETHER_EV_PING,      /* a ping arrived (already answered) */
    TETHER_EV_PONG,      /* a pong arrived */
    TETHER_EV_DRAIN,     /* the send queue fell to the drain mark */
    TETHER_EV_CLOSED,    /* the connection is over: code, reason, error */
    TETHER_EV_HTTP,      /* server: a plain HTTP request (tether_opts_set_http) */
    TETHER_EV_HTTP_BODY, /* a piece of its body; fin on the last */
    TETHER_EV_RETRY      /* client: lost, connecting again later (retry policy) */
} tether_event_type;

/* The event's type (a tether_event_type). */
TETHER_API int tether_event_type_of(const tether_event *ev);
/* The connection (NULL for WAKE). */
TETHER_API tether_conn *tether_event_conn(const tether_event *ev);
/* MESSAGE/FRAGMENT/PING/PONG data; valid while the event is held. */
TETHER_API const uint8_t *tether_event_data(const tether_event *ev, size_t *len);
/* TEXT or BINARY for MESSAGE and FRAGMENT. */
TETHER_API int tether_event_opcode(const tether_event *ev);
/* FRAGMENT: 1 on the last piece of the message. HTTP: 1 when the request
 * has no body (no HTTP_BODY event follows); HTTP_BODY: 1 on the last piece. */
TETHER_API int tether_event_fin(const tether_event *ev);
/* CLOSED: the close code (the peer's, ours if we failed the connection,
 * 1006 when no close frame was exchanged), the reason, whether the closing
 * handshake completed, and the error that ended it (0 for a clean close;
 * e.g. TETHER_E_HS_STATUS with tether_conn_http_status(), or a protocol
 * error code whose text tether_conn_error_text() gives). */
TETHER_API int tether_event_close_code(const tether_event *ev);
TETHER_API const char *tether_event_close_reason(const tether_event *ev, size_t *len);
TETHER_API int tether_event_clean(const tether_event *ev);
TETHER_API int tether_event_error(const tether_event *ev);
/* RETRY (a client with a retry policy, tether_opts_set_retry_backoff()):
 * the connection ended as CLOSED would have said (the close code, reason,
 * clean flag and error above are set the same way), and connects again in
 * tether_event_retry_delay() ms; this is attempt number
 * tether_event_retry_attempt() since it was last open (1: the first
 * retry). The tether_conn stays valid: OPEN comes again when a new
 * connection is made, or another RETRY, or CLOSED once the policy gives
 * up. Sends fail with TETHER_E_STATE until OPEN. Other events:
 * TETHER_E_INVAL. */
TETHER_API int tether_event_retry_delay(const tether_event *ev);
TETHER_API int tether_event_retry_attempt(const tether_event *ev);

/* ---- Statistics ------------------------------------------------------------ */

/* A connection's figures (tether_conn_stats()). Durations of the opening in
 * microseconds, 0 when the step did not happen (a server resolves nothing,
 * a cleartext connection has no TLS) or has not ended yet: */
typedef struct tether_stats {
    uint64_t resolve_us;   /* client: resolving the host name (or the proxy's) */
    uint64_t connect_us;   /* client: TCP connect, every happy-eyeballs attempt */
    uint64_t proxy_us;     /* client: the proxy's CONNECT or SOCKS5 handshake */
    uint64_t tls_us;       /* the TLS handshake */
    uint64_t handshake_us; /* the WebSocket handshake: request to 101 (or 200) */
    /* Round trips of our pings (keepalive or tether_conn_ping()) to their
     * pongs, in microseconds: the last, least and most, and how many: */
    uint64_t rtt_us, rtt_min_us, rtt_max_us, rtt_samples;
    /* Bytes on the wire each way: frames after compression, with TLS and
     * the proxy's bytes (an HTTP/2 stream: its own DATA): */
    uint64_t wire_in, wire_out;
    /* Whole messages each way, and their payload bytes as the application
     * sees them (before compression, after decompression): */
    uint64_t messages_in, messages_out, payload_in, payload_out;
    uint64_t reconnects; /* client: times a retry policy opened it again */
} tether_stats;

/* Copies c's statistics into out, at most size bytes of them: pass
 * sizeof(tether_stats), so a program built against this header keeps
 * working with a later library that appends fields. Counters run from the
 * start, across reconnections; the durations are those of the latest
 * opening. Always kept (no build option). Loop thread, or while the
 * context is not running. Errors: TETHER_E_INVAL (NULL, size 0). */
TETHER_API int tether_conn_stats(const tether_conn *c, tether_stats *out, size_t size);

/* ---- Clients ------------------------------------------------------------- */

/* Starts a connection to url ("ws://host[:port][/path][?query]" or wss://,
 * IPv6 literals in brackets); opts may be NULL. Name resolution tries every
 * address in turn. The result arrives as OPEN or CLOSED. Errors now:
 * TETHER_E_INVAL (bad URL or arguments), TETHER_E_NOMEM,
 * TETHER_E_TLS_CONFIG (a CA or client certificate could not be loaded;
 * tether_strerror() names it, the log says which file),
 * TETHER_E_UNSUPPORTED (wss:// in a build without TLS). */
TETHER_API int tether_connect(tether_ctx *ctx, const char *url, const tether_opts *opts,
                              tether_conn **out);

/* ---- Servers ------------------------------------------------------------- */

/* Listens on host ("127.0.0.1", "::1", "0.0.0.0", "::", or a name) and
 * port (0: any free port; see tether_listener_port()). opts (may be NULL)
 * apply to every accepted connection; with a TLS certificate set, the
 * listener speaks only TLS. Errors: TETHER_E_INVAL, TETHER_E_NOMEM,
 * TETHER_E_IO (bind/listen failed: errno says why, e.g. EADDRINUSE),
 * TETHER_E_NOFILE, TETHER_E_TLS_CONFIG.
 * When accepting fails later (out of descriptors or memory), the listener
 * logs it once (WARN) and pauses for 100 ms or until a connection closes,
 * whichever is first; waiting clients stay in the kernel's backlog. */
TETHER_API int tether_listen(tether_ctx *ctx, const char *host, int port, const tether_opts *opts,
                             tether_listener **out);
/* The port the listener is bound to (the one chosen when port 0 was asked). */
TETHER_API int tether_listener_port(const tether_listener *l);
/* The listening socket's descriptor, for reading its options or address
 * (getsockname) or handing a duplicate to a language's socket object; it
 * stays the listener's: do not close it or accept on it. TETHER_E_INVAL
 * for NULL. */
TETHER_API int tether_listener_fd(const tether_listener *l);
/* Stops accepting; existing connections go on. Frees l. */
TETHER_API void tether_listener_close(tether_listener *l);

/* During a REQUEST event (tether_conn_set_user() works then too): accept (choosing a sub-protocol,
 * or NULL for the automatic choice) or reject with an HTTP status and optional body. With neither,
 * releasing the event (or returning from the callback) accepts. A rejection is any HTTP
 * response: headers added with tether_conn_add_header() go with it, e.g. a 401 with
 * WWW-Authenticate, a 302 or 307 with Location, or a Content-Type for the body (the default is
 * text/plain; charset=utf-8). */
TETHER_API int tether_conn_accept(tether_conn *c, const char *protocol);
TETHER_API int tether_conn_reject(tether_conn *c, int status, const char *body);
/* An extra header for our handshake response (during REQUEST), or for
 * the response to a plain HTTP request (before tether_conn_respond() or
 * _respond_start(); Content-Length, Transfer-Encoding and Connection are
 * tether's, TETHER_E_INVAL). */
TETHER_API int tether_conn_add_header(tether_conn *c, const char *name, const char *value);

/* ---- Plain HTTP on the WebSocket port -------------------------------------
 * With tether_opts_set_http(opts, 1) on a listener, a request that does not
 * ask for a WebSocket upgrade becomes an HTTP event instead of a refusal:
 * the method (tether_conn_method()), path, query and headers are the
 * connection's, as for REQUEST. Its body, if any, follows as HTTP_BODY
 * events (fin on the last; the body limit answers 413 and ends the
 * connection). Answer with tether_conn_respond(), or start a response
 * and stream its body; the answer may come later than the event, from any
 * of your callbacks (loop thread). When both the response and the request
 * body are done, the connection waits for the next request (HTTP/1.1
 * keep-alive, pipelined requests one after another, each a new HTTP event
 * on the same tether_conn) or closes (the client asked for "Connection:
 * close", or HTTP/1.0). Holding an HTTP or HTTP_BODY event (poll mode)
 * stops reading, as for messages. The connection ends with a CLOSED event
 * like any other (error TETHER_E_CLOSED when the client closed it between
 * requests, TETHER_E_TIMEOUT when it sent no new request within the
 * keep-alive time). Bad requests get their 4xx and never reach you. */

/* The request's method ("GET", "POST", ...), NULL when c has none. */
TETHER_API const char *tether_conn_method(const tether_conn *c);
/* Answers the current request whole: status (200..599), content_type (NULL
 * for none), body copied (len bytes; ignored for HEAD, 204 and 304, which
 * carry none). Errors: TETHER_E_INVAL, TETHER_E_STATE (no HTTP request to
 * answer, or already answered), TETHER_E_NOMEM. */
TETHER_API int tether_conn_respond(tether_conn *c, int status, const char *content_type,
                                   const void *body, size_t len);
/* Starts a streamed response: length >= 0 is its exact body size
 * (Content-Length), -1 sends it chunked. Then tether_conn_respond_write()
 * pieces (copied; TETHER_E_BACKPRESSURE once the send limit is passed:
 * wait for the DRAIN event, which comes when what is queued falls to the
 * drain mark, as for messages) and tether_conn_respond_end(), which
 * fails with TETHER_E_STATE if fewer than length bytes were written (a
 * write past length is TETHER_E_INVAL). */
TETHER_API int tether_conn_respond_start(tether_conn *c, int status, const char *content_type,
                                         int64_t length);
TETHER_API int tether_conn_respond_write(tether_conn *c, const void *data, size_t len);
TETHER_API int tether_conn_respond_end(tether_conn *c);
/* Answers the current request with bytes of a file: length bytes of fd
 * from offset (length -1: up to the end of the file), which must be a
 * regular file; Content-Length is that length. The file is never read
 * into memory: a plain connection sends it with sendfile(2), a TLS one
 * reads it in pieces as the socket takes them. On success fd belongs to
 * tether (closed once sent, or when the connection ends; HEAD, 204 and
 * 304 close it at once); on error it stays yours. A file that shrinks
 * while being sent ends the connection. Errors: TETHER_E_INVAL (fd < 0,
 * not a regular file, offset or length past its end), TETHER_E_STATE,
 * TETHER_E_IO (fstat failed: errno says why), TETHER_E_NOMEM. */
TETHER_API int tether_conn_respond_file(tether_conn *c, int status, const char *content_type,
                                        int fd, int64_t offset, int64_t length);
/* Serves the current request from the files under the directory root, as
 * a web server's document root does; path is the request path to look up
 * (starting with '/'; NULL: the request's own, tether_conn_path()), so a
 * mount point's prefix can be cut off first. It always answers:
 *   - GET and HEAD only (405 with Allow otherwise);
 *   - the file with a Content-Type by its extension (application/
 *     octet-stream when unknown), an ETag and Last-Modified; 304 when
 *     If-None-Match names the ETag or, without it, when If-Modified-Since
 *     is not older than the file;
 *   - a directory: its index.html (404 without one: no listings); named
 *     without its final '/', a 301 to the name with it;
 *   - 404 for what does not exist, is not a regular file or lies behind a
 *     symbolic link (none is followed below root); 403 when the file may
 *     not be read; 400 for a path with "." or ".." segments, escaped '/'
 *     or NUL, or a bad escape: nothing outside root can be named.
 * The body goes out as with tether_conn_respond_file(). Returns 0 once
 * the answer is queued, or TETHER_E_INVAL (c or root NULL),
 * TETHER_E_STATE (no HTTP request to answer), TETHER_E_NOMEM. Loop thread;
 * it opens files there, so a root on a slow disk stalls the loop. */
TETHER_API int tether_conn_serve_static(tether_conn *c, const char *root, const char *path);

/* ---- Connections --------------------------------------------------------- */

/* Sends a whole message (TEXT must be valid UTF-8: TETHER_E_UTF8). The data
 * is copied; the call never blocks. Errors: TETHER_E_STATE (not open, or
 * closing), TETHER_E_BACKPRESSURE (send limit reached), TETHER_E_INVAL. */
TETHER_API int tether_conn_send(tether_conn *c, tether_opcode opcode, const void *data, size_t len);
/* Sends one whole message to n connections of one context (the loop thread
 * only), building its frame once: every server connection that would send
 * it uncompressed queues a reference to that one frame, so a message
 * broadcast to many stalled clients is held once, and the context's send
 * budget counts it once. A client connection (it masks each frame with its
 * own key) or one that compresses the message gets its own copy, as with
 * tether_conn_send(). Text must be valid UTF-8 (checked once).
 *
 * Never blocks, and one receiver's failure does not stop the others: if
 * results is not NULL, results[i] is set to 0 or the error of conns[i]
 * as tether_conn_send() gives it (TETHER_E_STATE: not open; _BACKPRESSURE:
 * its send limit or the context's budget is reached; TETHER_E_NOMEM;
 * TETHER_E_INVAL: NULL, or of another context than conns[0]). What to do
 * with those is the caller's policy (skip them, as websockets' broadcast()
 * does, or close them: `tether serve --broadcast` closes them with 1013).
 * Returns how many connections queued the message, or before trying any:
 * TETHER_E_INVAL (conns NULL with n > 0, a bad opcode, data NULL with
 * len > 0) or TETHER_E_UTF8. */
TETHER_API int tether_broadcast(tether_conn *const *conns, size_t n, tether_opcode opcode,
                                const void *data, size_t len, int *results);
/* Forwarding: the message of a MESSAGE event (not yet released) sent on as
 * it came, same opcode and payload, to c (tether_conn_forward) or to n
 * connections (tether_broadcast_forward, as tether_broadcast). Its text is
 * not scanned for UTF-8 again when the connection it came from checked it
 * (tether_opts_set_utf8_check, on by default): an echo or relay server
 * validates each message once instead of twice. Errors as
 * tether_conn_send() and tether_broadcast(); TETHER_E_INVAL when ev is not
 * a MESSAGE event (a FRAGMENT is not a whole message). */
TETHER_API int tether_conn_forward(tether_conn *c, const tether_event *ev);
TETHER_API int tether_broadcast_forward(tether_conn *const *conns, size_t n, const tether_event *ev,
                                        int *results);
/* Streaming send of a message of unknown total length: call with the
 * message's opcode (TEXT or BINARY) for every piece, fin = 1 on the last.
 * No other message may be sent until fin (TETHER_E_STATE); control frames
 * may. Text pieces may split characters; the whole must be UTF-8. */
TETHER_API int tether_conn_send_fragment(tether_conn *c, tether_opcode opcode, const void *data,
                                         size_t len, int fin);
/* Sends a ping carrying len bytes (at most TETHER_MAX_CONTROL_PAYLOAD, else
 * TETHER_E_INVAL); the answer arrives as a PONG event. TETHER_E_STATE when
 * the connection is not open. */
TETHER_API int tether_conn_ping(tether_conn *c, const void *data, size_t len);
/* Starts the closing handshake with code (0: none) and reason; CLOSED
 * follows when the peer answers, or after the close timeout. */
TETHER_API int tether_conn_close(tether_conn *c, int code, const char *reason);

/* Read backpressure, in either mode: while paused (on = 1) no more is read
 * from this connection and no data events come; on = 0 resumes. Control
 * frames already read are still answered. */
TETHER_API int tether_conn_pause_reading(tether_conn *c, int on);

/* Bytes the connection still owes the peer and has not yet written to the
 * socket: queued frames, and over TLS also the ciphertext made from them
 * (at most 256 KiB; the rest waits as plaintext). */
TETHER_API size_t tether_conn_buffered(const tether_conn *c);
/* The connection's id within its context, for tether_ctx_post_send() and
 * tether_ctx_post_close(): never 0, and not given to a later connection
 * (an id comes back only after 2^32 connections have used its slot). */
TETHER_API uint64_t tether_conn_id(const tether_conn *c);
/* A pointer of yours kept with the connection (NULL until set). */
TETHER_API void tether_conn_set_user(tether_conn *c, void *user);
TETHER_API void *tether_conn_user(const tether_conn *c);

/* The handshake, as seen by this connection. On a server: the request's
 * path, query (NULL if none), headers and the peer's address "ip:port"
 * ("[ip]:port" for IPv6). On a client: the response's status (101, or the
 * refusal's) and headers. The chosen sub-protocol (NULL if none). Strings
 * belong to the connection. */
TETHER_API const char *tether_conn_path(const tether_conn *c);
TETHER_API const char *tether_conn_query(const tether_conn *c);
TETHER_API const char *tether_conn_header(const tether_conn *c, const char *name);
/* The same headers, listed in the order they came (a server: the
 * request's; a client: the response's, once it came): how many, and the
 * i-th as received (TETHER_E_INVAL past the end or for NULL). Valid for as
 * long as the connection is. */
TETHER_API size_t tether_conn_header_count(const tether_conn *c);
TETHER_API int tether_conn_header_at(const tether_conn *c, size_t i, const char **name,
                                     const char **value);
TETHER_API const char *tether_conn_peer(const tether_conn *c);
#define TETHER_ADDRESS_MAX 64
#define TETHER_ADDRESS_PEER 0
#define TETHER_ADDRESS_LOCAL 1
/* The connection's addresses as text, "ip:port" or "[ip]:port", into buf
 * (len >= TETHER_ADDRESS_MAX, NUL-terminated): TETHER_ADDRESS_PEER, the
 * other end (a server's: as tether_conn_peer()), or TETHER_ADDRESS_LOCAL,
 * this end. Returns the text's length, or TETHER_E_INVAL (NULL, a short
 * buffer, another which), TETHER_E_STATE (no socket of its own: not
 * connected yet, ended, or an HTTP/2 stream), TETHER_E_IO (the system
 * call failed: errno says why). Loop thread only. */
TETHER_API int tether_conn_address(const tether_conn *c, int which, char *buf, size_t len);
/* The HTTP/2 stream this connection is (its id, odd, > 0: on a server
 * the peer address is then the HTTP/2 connection's, shared by its
 * streams), or 0 for a connection of its own (HTTP/1.1), or
 * TETHER_E_INVAL. */
TETHER_API int tether_conn_http2_stream(const tether_conn *c);
TETHER_API int tether_conn_http_status(const tether_conn *c);
TETHER_API const char *tether_conn_protocol(const tether_conn *c);
/* Why the connection failed, in words, or NULL. */
TETHER_API const char *tether_conn_error_text(const tether_conn *c);
/* The operating system's reason (an errno value, e.g. ECONNREFUSED) when
 * the connection failed because a system call did (connecting: its last
 * address's), else 0. */
TETHER_API int tether_conn_os_error(const tether_conn *c);
/* The negotiated Sec-WebSocket-Extensions value (e.g.
 * "permessage-deflate; client_max_window_bits=12"), or NULL when none is in
 * force. Belongs to the connection. */
TETHER_API const char *tether_conn_extensions(const tether_conn *c);
/* TLS in use: the protocol ("TLSv1.3") and cipher suite names, or NULL on
 * a cleartext connection or before the TLS handshake is done. Static
 * strings from OpenSSL. */
TETHER_API const char *tether_conn_tls_version(const tether_conn *c);
TETHER_API const char *tether_conn_tls_cipher(const tether_conn *c);

/* ---- Features and logging ---------------------------------------------- */

#define TETHER_FEATURE_TLS 1u     /* wss:// and TLS listeners */
#define TETHER_FEATURE_DEFLATE 2u /* permessage-deflate */
/* The TETHER_FEATURE_* bits this build of the library has. */
TETHER_API unsigned tether_features(void);

#define TETHER_LOG_NONE 0
#define TETHER_LOG_ERROR 1  /* failures of the library or the system */
#define TETHER_LOG_WARN 2   /* connections that failed: TLS, protocol, timeouts */
#define TETHER_LOG_NOTICE 3 /* connections opened and closed */
#define TETHER_LOG_INFO 4   /* TLS handshakes, refused requests, upgrades you rejected */
#define TETHER_LOG_DEBUG 5  /* all of the above; kept for frame-level tracing */
/* Receives each log line at or under the level: level, a NUL-terminated
 * line without newline (valid only during the call), and your pointer. It
 * is called on the thread running the context the line is about, so it
 * may run on several threads at once if you run several contexts. */
typedef void (*tether_log_cb)(int level, const char *line, void *user);
/* Process-wide: the most verbose level reported (default TETHER_LOG_NONE:
 * the library writes nothing unless asked) and where lines go (NULL:
 * stderr). Set them before starting contexts on other threads. Returns 0,
 * or TETHER_E_INVAL for a level outside NONE..DEBUG. */
TETHER_API int tether_set_log_level(int level);
TETHER_API void tether_set_log_callback(tether_log_cb cb, void *user);

/* ---- From other threads -------------------------------------------------- */

/* Queue a send or a close for the connection with this id and wake the
 * loop; the data is copied. Returns 0 when queued (the send itself may
 * still fail later, e.g. if the connection is gone, silently),
 * TETHER_E_NOMEM, TETHER_E_INVAL. */
TETHER_API int tether_ctx_post_send(tether_ctx *ctx, uint64_t conn_id, tether_opcode opcode,
                                    const void *data, size_t len);
TETHER_API int tether_ctx_post_close(tether_ctx *ctx, uint64_t conn_id, int code,
                                     const char *reason);

#ifdef __cplusplus
}
#endif

#endif /* TETHER_H */
