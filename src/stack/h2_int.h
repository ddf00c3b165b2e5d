/* Private to src/stack/h2*.c: the session and stream objects. */
#ifndef TT_STACK_H2_INT_H
#define TT_STACK_H2_INT_H

#include "stack/h2.h"
#include "proto/http_body.h"
#include "proto/strbuf.h"
#include "ws/outbuf.h"

#include <nghttp2/nghttp2.h>

/* Where the response written to a stream is (h2_response.c). */
enum {
    TT_H2_OUT_HEAD,    /* reading a head (a 1xx may come before the final one) */
    TT_H2_OUT_LENGTH,  /* a body of out_left bytes */
    TT_H2_OUT_CHUNKED, /* a chunked body, decoded */
    TT_H2_OUT_TUNNEL,  /* a WebSocket: bytes until our side ends */
    TT_H2_OUT_DONE     /* the response is complete (or bodiless) */
};

struct tt_h2_stream {
    tt_h2 *h2; /* NULL: orphaned (the session is gone) */
    int32_t id;
    void *user;
    tt_h2_stream *next;       /* every stream of the session */
    tt_h2_stream *next_ready; /* the session's list of streams to report */
    unsigned ready;           /* TT_H2_* not reported yet */

    /* The request (h2_request.c). */
    tt_strbuf fields; /* "Name: value\r\n" lines */
    tt_strbuf cookie; /* cookie fields, joined with "; " (RFC 9113 8.2.3) */
    char *method, *path, *authority, *protocol;
    int too_big;       /* the fields passed max_header_bytes: 431 */
    int has_length;    /* a content-length field gives the body's size */
    int head_done;     /* the head went into `in`: later fields are trailers */
    int in_chunked;    /* DATA goes into `in` chunk-encoded */
    int in_eof;        /* END_STREAM came (and, if chunked, the last chunk) */
    int head_request;  /* HEAD: the response has no body */
    int tunnel;        /* extended CONNECT */
    tt_outbuf in;      /* the HTTP/1.1 bytes for the reader */
    size_t unconsumed; /* DATA bytes received, not yet given back to the window */

    /* The response (h2_response.c). */
    int out_state;
    tt_outbuf raw; /* written bytes not translated yet (a partial head) */
    tt_outbuf out; /* DATA payload for nghttp2 */
    uint64_t out_left;
    tt_http_body dechunk;
    int submitted; /* the final HEADERS went to nghttp2 */
    int deferred;  /* nghttp2 waits for out: resume it when bytes come */
    int out_end;   /* no more payload: END_STREAM after out */
    int blocked;   /* a write found the backlog full: WRITABLE when it drains */

    int closed;     /* nghttp2 closed the stream */
    uint32_t reset; /* ... with this error code (0: cleanly) */
    char error[96];
};

struct tt_h2 {
    nghttp2_session *ng;
    void *owner;
    tt_h2_cfg cfg;
    tt_h2_stream *streams;
    tt_h2_stream *ready_head, *ready_tail;
    size_t nstreams;
    int failed;
    char error[128];
};

/* h2_stream.c (the lowest: the others call it, it calls none of them) */
/* Notes news for the stream's reader (TT_H2_*); the owner asks tt_h2_next(). */
void tt_h2_mark(tt_h2_stream *s, unsigned what);
void tt_h2_unmark(tt_h2_stream *s);
/* Takes s out of its session's list (it stays allocated). */
void tt_h2_unlink(tt_h2_stream *s);
/* Frees a stream nobody reads and nghttp2 has closed. */
void tt_h2_stream_free(tt_h2_stream *s);
/* Frees what the request's head was built from. */
void tt_h2_request_free(tt_h2_stream *s);

/* h2_request.c: nghttp2's receive callbacks, as the request's HTTP/1.1 view. */
int tt_h2_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud);
int tt_h2_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud);
int tt_h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud);
int tt_h2_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                  void *ud);

/* h2_response.c: response bytes written to s, translated; how many taken. */
ssize_t tt_h2_translate(tt_h2_stream *s, const uint8_t *buf, size_t len);

#endif
