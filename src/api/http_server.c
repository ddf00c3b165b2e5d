/* Plain HTTP requests on a WebSocket listener (tether_opts_set_http): one
 * request at a time per connection. The head was read by the server role
 * (server.c); here its body is decoded into HTTP_BODY events, the
 * application's response is queued on the handshake queue (hs_out, which
 * the wire writes before anything else), and once both are done the
 * connection either waits for its next request or closes.
 *
 * Input after the head is kept in c->pending and handed out as slices of
 * it, so an event's data stays put while the event is held; the next
 * request's bytes (pipelining) stay there until this one is answered. */
#include "api/api.h"
#include "proto/request.h"
#include "proto/http_body.h"
#include "proto/http_response.h"
#include "proto/hs_common.h"
#include "proto/server_hs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Where the response is: not started, its body being written by the
 * application, a file on the wire as its body, or complete. */
enum { TT_HTTP_WAIT, TT_HTTP_STREAM, TT_HTTP_FILE, TT_HTTP_DONE };

/* Response body framing beyond a length: chunked, or (HTTP/1.0, which
 * knows no chunks) ended by closing the connection; or no body at all
 * (HEAD, 204, 304), where what the application writes is dropped. */
#define TT_HTTP_CHUNKED (-1)
#define TT_HTTP_UNTIL_CLOSE (-2)
#define TT_HTTP_NO_BODY (-3)

struct tt_http {
    tt_http_body body;
    int body_done;    /* the request body was read whole */
    int head_only;    /* HEAD: the response has no body */
    int http10;       /* the request was HTTP/1.0 */
    int keep_alive;   /* another request may follow on this connection */
    int state;        /* TT_HTTP_* */
    int64_t out_left; /* the response's body bytes still owed, or TT_HTTP_* */
    int held;         /* an HTTP or HTTP_BODY event is out */
    int pumping;      /* inside tt_http_pump(): a release only clears held */
    size_t consume;   /* pending bytes the last event's slice used */
    tt_strbuf headers;
};

tether_server_hs *tt_server_hs_with_limits(const tether_opts *o) {
    tether_server_hs *h = tether_server_hs_new();
    if (!h) return NULL;
    tether_server_hs_set_max_header_bytes(h, o->max_header_bytes);
    tether_server_hs_set_max_headers(h, o->max_headers);
    return h;
}

void tt_http_free(tether_conn *c) {
    if (!c->http) return;
    tt_strbuf_free(&c->http->headers);
    free(c->http);
    c->http = NULL;
}

/* Reading stops while an event is out, and once the body is in (the next
 * request waits in the kernel until this one is answered). */
static void tt_http_set_reading(tether_conn *c) {
    const struct tt_http *h = c->http;
    c->paused = h->held || h->body_done;
    tt_conn_after_send(c); /* updates the socket's interest */
}

/* Ends the connection after what is queued has gone: CLOSED says how. A
 * file still being sent is dropped (the peer sees its body cut short). */
static void tt_http_end(tether_conn *c, int err, const char *why) {
    tt_file_body_free(c);
    tether_event *ev = tt_conn_closed_event(c, err, why);
    if (ev && !err) {
        ev->code = TETHER_CLOSE_NORMAL;
        ev->clean = 1;
    }
    tt_conn_linger(c);
    tt_emit(ev);
}

void tt_http_refuse(tether_conn *c, int err, int status) {
    const char *resp;
    size_t len;
    /* a request head, or a request whose answer has not started */
    int answering = c->phase != TT_PH_HTTP || c->http->state == TT_HTTP_WAIT;
    if (answering && status && tether_server_hs_reject(c->shs, status, NULL, &resp, &len) == 0)
        tt_outbuf_append(&c->hs_out, resp, len);
    if (c->http) c->http->state = TT_HTTP_DONE;
    tt_http_end(c, err, NULL);
}

/* A request we answer ourselves (a body too large or badly framed, out of
 * memory): the head's limit was passed before, so too big is the body. */
static void tt_http_fail(tether_conn *c, int err) {
    tt_http_refuse(c, err, err == TETHER_E_HS_TOO_BIG ? 413 : tether_error_http_status(err));
}

/* Both the response and the request body are done: the next request, or
 * the end. Bytes of the next request may already wait in c->pending. */
static void tt_http_next(tether_conn *c) {
    struct tt_http *h = c->http;
    unsigned keep = c->opts->keepalive_timeout;
    if (!h->keep_alive || !keep) {
        tt_http_end(c, 0, "HTTP exchange done");
        return;
    }
    tether_server_hs *next = tt_server_hs_with_limits(c->opts);
    if (!next) {
        tt_http_end(c, TETHER_E_NOMEM, NULL);
        return;
    }
    tether_server_hs_free(c->shs);
    c->shs = next;
    tt_strbuf_reset(&h->headers);
    c->phase = TT_PH_HS_SERVER;
    c->paused = 0;
    c->deadline = tt_now_ms() + keep;
    tt_conn_arm_timer(c);
    if (c->pending_len) tt_conn_wake(c); /* a pipelined request */
    tt_conn_after_send(c);
}

static void tt_http_emit(tether_conn *c, int type, const uint8_t *data, size_t len, int fin) {
    tether_event *ev = tt_event_new(c->ctx, type, c);
    if (!ev) {
        tt_http_fail(c, TETHER_E_NOMEM);
        return;
    }
    ev->data = data;
    ev->len = len;
    ev->fin = fin;
    c->http->held = 1;
    tt_emit(ev);
}

/* Hands out the body in the pending input, one event at a time. */
static void tt_http_pump(tether_conn *c) {
    struct tt_http *h = c->http;
    if (h->pumping) return;
    h->pumping = 1;
    while (c->phase == TT_PH_HTTP && !h->held) {
        if (h->consume) {
            tt_conn_keep_input(c, c->pending + h->consume, c->pending_len - h->consume);
            h->consume = 0;
        }
        if (h->body_done) break;
        const uint8_t *d = NULL;
        size_t used = 0, dl = 0;
        int rc = tt_http_body_next(&h->body, c->pending, c->pending_len, &used, &d, &dl);
        h->consume = used;
        if (rc == 1) {
            /* a length body knows its end with its last byte; a chunked
             * one only after the last chunk: then an empty fin piece */
            int fin = !h->body.chunked && h->body.remaining == 0;
            h->body_done = fin;
            tt_http_emit(c, TETHER_EV_HTTP_BODY, d, dl, fin);
        } else if (rc == 0) { /* only a chunked body ends apart from its data */
            h->body_done = 1;
            tt_http_emit(c, TETHER_EV_HTTP_BODY, NULL, 0, 1);
        } else if (rc == TETHER_E_AGAIN) {
            if (h->consume) continue; /* framing bytes: drop them, then wait */
            break;
        } else {
            h->pumping = 0;
            tt_http_fail(c, rc);
            return;
        }
    }
    h->pumping = 0;
    if (c->phase != TT_PH_HTTP) return;
    if (!h->held && h->body_done && h->state == TT_HTTP_DONE)
        tt_http_next(c);
    else
        tt_http_set_reading(c);
}

/* ---- the request ----------------------------------------------------------- */

static int tt_http_prepare(tether_conn *c, uint64_t length, int chunked) {
    if (!c->http && !(c->http = calloc(1, sizeof *c->http))) return TETHER_E_NOMEM;
    struct tt_http *h = c->http;
    tt_strbuf keep = h->headers;
    memset(h, 0, sizeof *h);
    h->headers = keep;
    if (chunked)
        tt_http_body_chunked(&h->body, c->opts->max_body);
    else
        tt_http_body_length(&h->body, length, c->opts->max_body);
    if (h->body.error) return h->body.error; /* a Content-Length over the limit */
    const char *method = tt_server_hs_method(c->shs);
    h->head_only = strcmp(method, "HEAD") == 0;
    h->http10 = tt_server_hs_minor(c->shs) == 0;
    h->keep_alive = tt_server_hs_keep_alive(c->shs);
    h->body_done = !chunked && length == 0;
    return 0;
}

/* 100 Continue for a client that waits for it before sending its body
 * (RFC 9110 10.1.1), sent as soon as we are ready to read that body. */
static void tt_http_continue(tether_conn *c) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    const char *expect = tether_server_hs_header(c->shs, "Expect");
    if (!expect || strcasecmp(expect, "100-continue") != 0 || c->http->body_done) return;
    tt_outbuf_append(&c->hs_out, cont, sizeof cont - 1);
}

void tt_http_begin(tether_conn *c, const uint8_t *rest, size_t rest_len, uint64_t length,
                   int chunked) {
    int rc = tt_http_prepare(c, length, chunked);
    if (!c->http) {
        tt_conn_lost(c, rc, NULL);
        return;
    }
    c->phase = TT_PH_HTTP;
    c->deadline = 0; /* the application answers in its own time */
    tt_conn_arm_timer(c);
    tt_conn_keep_input(c, rest, rest_len);
    if (rc) {
        tt_http_fail(c, rc);
        return;
    }
    c->silent = 0;
    tt_http_continue(c);
    tt_http_emit(c, TETHER_EV_HTTP, NULL, 0, c->http->body_done);
    if (c->phase == TT_PH_HTTP) tt_http_set_reading(c);
}

void tt_http_released(tether_conn *c, int type) {
    if ((type != TETHER_EV_HTTP && type != TETHER_EV_HTTP_BODY) || !c->http) return;
    c->http->held = 0;
    if (c->phase == TT_PH_HTTP) tt_http_pump(c);
}

void tt_http_on_io(tether_conn *c, unsigned ready) {
    if (ready & TT_IO_WRITE) tt_conn_flush(c);
    if (c->phase != TT_PH_HTTP || !(ready & (TT_IO_READ | TT_IO_ERROR)) || c->paused) return;
    ssize_t n = tt_wire_read(c);
    if (n == TETHER_E_AGAIN) return;
    if (n <= 0) {
        tt_conn_lost(c, n == 0 ? TETHER_E_CLOSED : (int)n, NULL);
        return;
    }
    tt_conn_keep_input(c, c->ctx->rbuf, (size_t)n);
    tt_http_pump(c);
}

void tt_http_resume(tether_conn *c) {
    if (c->phase == TT_PH_HTTP && c->http && !c->http->held) tt_http_pump(c);
}

int tt_http_close(tether_conn *c) {
    tt_http_end(c, 0, "closed by the application");
    return 0;
}

/* ---- the response ------------------------------------------------------------- */

static struct tt_http *tt_http_answering(const tether_conn *c, int state) {
    if (!c || c->phase != TT_PH_HTTP || !c->http) return NULL;
    return c->http->state == state ? c->http : NULL;
}

int tt_http_add_header(tether_conn *c, const char *name, const char *value) {
    static const char *const managed[] = {"content-length", "transfer-encoding", "connection",
                                          NULL};
    if (!tt_http_answering(c, TT_HTTP_WAIT)) return TETHER_E_STATE;
    return tt_hs_add_extra_header(&c->http->headers, name, value, managed);
}

/* Queues the head. length: the body's, TT_HTTP_CHUNKED, or for HTTP/1.0
 * a chunked body turns into one the closing connection ends. */
static int tt_http_queue_head(tether_conn *c, int status, const char *type, int64_t length) {
    struct tt_http *h = c->http;
    if (status < 200 || status > 599) return TETHER_E_INVAL;
    int rc = type ? tt_http_add_header(c, "Content-Type", type) : 0;
    if (rc) return rc;
    if (length == TT_HTTP_CHUNKED && h->http10 && !h->head_only) {
        length = TT_HTTP_UNTIL_CLOSE;
        h->keep_alive = 0;
    }
    if (!c->opts->keepalive_timeout) h->keep_alive = 0;
    if (h->keep_alive && h->http10) tt_strbuf_adds(&h->headers, "Connection: keep-alive\r\n");
    tt_strbuf b = {0};
    tt_http_response_head(&b, status, &h->headers, length, !h->keep_alive, time(NULL));
    rc = tt_strbuf_status(&b);
    if (!rc) rc = tt_outbuf_append(&c->hs_out, b.p, b.len);
    tt_strbuf_free(&b);
    if (rc) return rc;
    int bodiless = h->head_only || tt_http_status_bodiless(status);
    h->out_left = bodiless ? TT_HTTP_NO_BODY : length;
    return 0;
}

/* The response is complete: on with the body, or the next request. */
static void tt_http_answered(tether_conn *c) {
    c->http->state = TT_HTTP_DONE;
    tt_conn_after_send(c);
    if (c->phase == TT_PH_HTTP && !c->http->held) tt_http_pump(c);
}

int tether_conn_respond(tether_conn *c, int status, const char *content_type, const void *body,
                        size_t len) {
    struct tt_http *h = tt_http_answering(c, TT_HTTP_WAIT);
    if (!c || (!body && len)) return TETHER_E_INVAL;
    if (!h) return TETHER_E_STATE;
    int rc = tt_http_queue_head(c, status, content_type, (int64_t)len);
    if (!rc && h->out_left != TT_HTTP_NO_BODY) rc = tt_outbuf_append(&c->hs_out, body, len);
    if (rc) return rc;
    tt_http_answered(c);
    return 0;
}

int tether_conn_respond_start(tether_conn *c, int status, const char *content_type,
                              int64_t length) {
    struct tt_http *h = tt_http_answering(c, TT_HTTP_WAIT);
    if (!c || length < -1) return TETHER_E_INVAL;
    if (!h) return TETHER_E_STATE;
    int rc = tt_http_queue_head(c, status, content_type, length);
    if (rc) return rc;
    h->state = TT_HTTP_STREAM;
    tt_conn_after_send(c);
    return 0;
}

/* A chunk: its size in hex, CRLF, the data, CRLF. */
static int tt_http_queue_chunk(tether_conn *c, const void *data, size_t len) {
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len);
    int rc = tt_outbuf_append(&c->hs_out, size, (size_t)n);
    if (!rc) rc = tt_outbuf_append(&c->hs_out, data, len);
    if (!rc) rc = tt_outbuf_append(&c->hs_out, "\r\n", 2);
    return rc;
}

int tether_conn_respond_write(tether_conn *c, const void *data, size_t len) {
    struct tt_http *h = tt_http_answering(c, TT_HTTP_STREAM);
    if (!c || (!data && len)) return TETHER_E_INVAL;
    if (!h) return TETHER_E_STATE;
    if (h->out_left == TT_HTTP_NO_BODY || !len) return 0;
    if (h->out_left >= 0 && (uint64_t)len > (uint64_t)h->out_left) return TETHER_E_INVAL;
    if (tt_conn_owed(c) > c->opts->cfg.send_limit) {
        c->http_above_mark = 1; /* DRAIN says when to go on */
        return TETHER_E_BACKPRESSURE;
    }
    int rc = h->out_left == TT_HTTP_CHUNKED ? tt_http_queue_chunk(c, data, len)
                                            : tt_outbuf_append(&c->hs_out, data, len);
    if (rc) return rc;
    if (h->out_left > 0) h->out_left -= (int64_t)len;
    if (tt_conn_owed(c) > c->opts->cfg.drain_mark) c->http_above_mark = 1;
    tt_conn_after_send(c);
    return 0;
}

int tether_conn_respond_end(tether_conn *c) {
    struct tt_http *h = tt_http_answering(c, TT_HTTP_STREAM);
    if (!c) return TETHER_E_INVAL;
    if (!h || h->out_left > 0) return TETHER_E_STATE;
    c->http_above_mark = 0; /* nothing more to write: no DRAIN to wait for */
    if (h->out_left == TT_HTTP_CHUNKED) {
        int rc = tt_outbuf_append(&c->hs_out, "0\r\n\r\n", 5);
        if (rc) return rc;
    }
    tt_http_answered(c);
    return 0;
}

/* The file body's length: the rest of the file from offset when length is
 * -1, and never past its end. */
static int tt_http_file_length(const struct stat *st, int64_t offset, int64_t *length) {
    if (!S_ISREG(st->st_mode) || offset > st->st_size) return TETHER_E_INVAL;
    if (*length == -1) *length = st->st_size - offset;
    return *length <= st->st_size - offset ? 0 : TETHER_E_INVAL;
}

int tether_conn_respond_file(tether_conn *c, int status, const char *content_type, int fd,
                             int64_t offset, int64_t length) {
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) != 0) return TETHER_E_IO;
    return tt_http_respond_file(c, status, content_type, fd, &st, offset, length);
}

int tt_http_respond_file(tether_conn *c, int status, const char *content_type, int fd,
                         const struct stat *st, int64_t offset, int64_t length) {
    struct tt_http *h = tt_http_answering(c, TT_HTTP_WAIT);
    if (!c || fd < 0 || offset < 0 || length < -1) return TETHER_E_INVAL;
    if (!h) return TETHER_E_STATE;
    int rc = tt_http_file_length(st, offset, &length);
    if (rc) return rc;
    int body = length > 0 && !h->head_only && !tt_http_status_bodiless(status);
    if (body && (rc = tt_file_body_start(c, fd, (uint64_t)offset, (uint64_t)length)) != 0)
        return rc;
    if ((rc = tt_http_queue_head(c, status, content_type, length)) != 0) {
        if (body) tt_file_body_forget(c); /* fd stays the caller's */
        return rc;
    }
    if (!body) {
        close(fd);
        tt_http_answered(c);
        return 0;
    }
    h->state = TT_HTTP_FILE;
    tt_conn_after_send(c);
    return 0;
}

/* Called from the flush that wrote the file's last byte, which returns at
 * once: whatever follows (the next request, or the end) flushes again. */
void tt_http_file_sent(tether_conn *c) {
    if (c->phase == TT_PH_HTTP && c->http && c->http->state == TT_HTTP_FILE)
        tt_http_answered(c);
    else
        tt_conn_after_send(c);
}

const char *tether_conn_method(const tether_conn *c) {
    if (c && c->req) return tt_request_method(c->req);
    return c && c->shs ? tt_server_hs_method(c->shs) : NULL;
}
