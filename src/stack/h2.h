/* The HTTP/2 layer of a server connection (RFC 9113, with RFC 8441's
 * extended CONNECT), without I/O. It is a layer that multiplexes: one
 * byte stream below (the socket, or TLS), many streams above. The
 * protocol machinery (framing, HPACK, flow control, the state machines,
 * the checks on what peers send) is nghttp2's; this file's job is the
 * view each stream gives the connection above it.
 *
 * That view is HTTP/1.1: a stream reads as one HTTP/1.1 request (a head
 * made from the HEADERS, then the DATA, chunk-encoded when no
 * Content-Length gives its size) and takes one HTTP/1.1 response, which is
 * turned into HEADERS and DATA. A WebSocket asked for by extended CONNECT
 * (`:protocol: websocket`) reads as an HTTP/1.1 upgrade request, and the
 * 101 that accepts it becomes the 200 RFC 8441 asks for; after it, bytes
 * flow both ways as DATA, and the end of our side is END_STREAM. So the
 * server role above (its request parser, its limits, plain HTTP, the
 * WebSocket and permessage-deflate) serves HTTP/2 streams unchanged.
 *
 * Memory: a stream's input is bounded by its flow-control window (window
 * updates go out as the stream's reader takes the bytes, not as they
 * arrive), its output by TT_H2_STREAM_BACKLOG. */
#ifndef TT_STACK_H2_H
#define TT_STACK_H2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tt_h2 tt_h2;
typedef struct tt_h2_stream tt_h2_stream;

/* A stream takes at most this many response bytes ahead of what nghttp2
 * has sent; the rest stays with the connection above (its send limit and
 * DRAIN see it). */
#define TT_H2_STREAM_BACKLOG (64u * 1024u)

typedef struct tt_h2_cfg {
    unsigned max_streams;    /* SETTINGS_MAX_CONCURRENT_STREAMS */
    uint32_t stream_window;  /* SETTINGS_INITIAL_WINDOW_SIZE */
    uint32_t conn_window;    /* the connection's receive window */
    size_t max_header_bytes; /* SETTINGS_MAX_HEADER_LIST_SIZE, and the translated head */
} tt_h2_cfg;

/* What happened to a stream since the owner last asked (tt_h2_next). */
enum {
    TT_H2_NEW = 1,      /* a request's head is complete: attach a reader */
    TT_H2_READABLE = 2, /* input, the end of input, or the stream's end */
    TT_H2_WRITABLE = 4  /* room for more output */
};

/* A server session; owner is what tt_h2_owner() gives back. NULL: out of
 * memory. The server's SETTINGS are queued at once. */
tt_h2 *tt_h2_server_new(const tt_h2_cfg *cfg, void *owner);
/* Frees the session and its streams; each stream's reader is told first
 * (orphaned(user)), and must forget its stream. */
void tt_h2_free(tt_h2 *h, void (*orphaned)(void *user));
void *tt_h2_owner(const tt_h2 *h);

/* Bytes from below. Returns 0 or TETHER_E_PROTOCOL (a connection error:
 * a GOAWAY saying why is queued; tt_h2_error_text()) or TETHER_E_NOMEM. */
int tt_h2_feed(tt_h2 *h, const uint8_t *buf, size_t len);
/* The next bytes for below (valid until the next call), 0 when none now,
 * or an error. */
ssize_t tt_h2_output(tt_h2 *h, const uint8_t **out);
/* nghttp2 has frames to send (not counting DATA waiting for output). */
int tt_h2_wants_write(const tt_h2 *h);
/* Both sides are done (GOAWAY sent or received, no stream left). */
int tt_h2_finished(const tt_h2 *h);
/* How many streams are open (the idle timeout runs only at 0). */
size_t tt_h2_streams(const tt_h2 *h);
/* Says GOAWAY (NO_ERROR): no new stream; those open finish. */
void tt_h2_goaway(tt_h2 *h);
const char *tt_h2_error_text(const tt_h2 *h);

/* Some stream has something to report. */
int tt_h2_has_ready(const tt_h2 *h);
/* The next stream something happened to, and what (TT_H2_*), or NULL. */
tt_h2_stream *tt_h2_next(tt_h2 *h, unsigned *what);

/* ---- one stream, as an HTTP/1.1 connection --------------------------------- */

/* Gives a new stream (TT_H2_NEW) its reader; user is what
 * tt_h2_stream_user() gives back. */
void tt_h2_stream_attach(tt_h2_stream *s, void *user);
void *tt_h2_stream_user(const tt_h2_stream *s);
/* The session's owner. */
void *tt_h2_stream_owner(const tt_h2_stream *s);
int32_t tt_h2_stream_id(const tt_h2_stream *s);
/* Refuses a new stream (RST_STREAM REFUSED_STREAM) and frees it. */
void tt_h2_stream_refuse(tt_h2_stream *s);

/* Request bytes: > 0, 0 at the end of the stream's input, TETHER_E_AGAIN
 * when there are none now, or TETHER_E_CLOSED when the stream was reset
 * or the session is gone (tt_h2_stream_error_text() says which). */
ssize_t tt_h2_stream_read(tt_h2_stream *s, uint8_t *buf, size_t cap);
/* Input (or its end) waits to be read. */
int tt_h2_stream_readable(const tt_h2_stream *s);
/* Response bytes: how many it took (0 when its backlog is full: a
 * TT_H2_WRITABLE follows), or TETHER_E_CLOSED, TETHER_E_PROTOCOL (bytes
 * that are not a response), TETHER_E_NOMEM. */
ssize_t tt_h2_stream_write(tt_h2_stream *s, const uint8_t *buf, size_t len);
/* Bytes taken by write() and not yet handed to nghttp2's frames. */
size_t tt_h2_stream_owed(const tt_h2_stream *s);
/* The end of our side (a tunnel's END_STREAM once its bytes went). */
void tt_h2_stream_shutdown(tt_h2_stream *s);
/* The reader is gone: the stream ends (RST_STREAM if it is still open:
 * CANCEL, or NO_ERROR after a complete response) and is freed. */
void tt_h2_stream_release(tt_h2_stream *s);
const char *tt_h2_stream_error_text(const tt_h2_stream *s);

/* The client connection preface (RFC 9113 3.4): 1 if buf starts with it,
 * 0 if it cannot, -1 if buf is a proper prefix of it. */
int tt_h2_preface(const uint8_t *buf, size_t len);

#endif
