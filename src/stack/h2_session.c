/* An HTTP/2 server session (h2.h): nghttp2 fed from memory and read from
 * memory, its streams, and the list of streams whose reader has something
 * to hear about. */
#include "stack/h2_int.h"

#include "tether.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char tt_h2_magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int tt_h2_preface(const uint8_t *buf, size_t len) {
    size_t n = sizeof tt_h2_magic - 1;
    size_t k = len < n ? len : n;
    if (memcmp(buf, tt_h2_magic, k) != 0) return 0;
    return len >= n ? 1 : -1;
}

/* ---- streams and what to report about them ------------------------------------ */

tt_h2_stream *tt_h2_next(tt_h2 *h, unsigned *what) {
    tt_h2_stream *s = h->ready_head;
    if (!s) return NULL;
    h->ready_head = s->next_ready;
    if (!h->ready_head) h->ready_tail = NULL;
    *what = s->ready;
    s->ready = 0;
    return s;
}

/* ---- nghttp2's callbacks -------------------------------------------------------- */

static int tt_h2_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
    (void)ud;
    tt_h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s) return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    s->closed = 1;
    s->reset = code;
    /* DATA the reader will never take goes back to the connection's window */
    if (s->unconsumed) nghttp2_session_consume_connection(ng, s->unconsumed);
    s->unconsumed = 0;
    if (code && !s->error[0])
        snprintf(s->error, sizeof s->error, "HTTP/2 stream %d reset (%s)", (int)id,
                 nghttp2_http2_strerror(code));
    if (!s->user) {
        tt_h2_stream_free(s);
        return 0;
    }
    tt_h2_mark(s, TT_H2_READABLE | TT_H2_WRITABLE);
    return 0;
}

/* nghttp2 explains the connection errors it answers with GOAWAY itself. */
static int tt_h2_on_error(nghttp2_session *ng, int code, const char *msg, size_t len, void *ud) {
    (void)ng;
    (void)code;
    tt_h2 *h = ud;
    if (!h->error[0]) snprintf(h->error, sizeof h->error, "HTTP/2: %.*s", (int)len, msg);
    return 0;
}

static tt_h2 *tt_h2_fail(tt_h2 *h) {
    if (h->ng) nghttp2_session_del(h->ng);
    free(h);
    return NULL;
}

static int tt_h2_callbacks(tt_h2 *h) {
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb)) return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, tt_h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, tt_h2_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, tt_h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, tt_h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, tt_h2_on_close);
    nghttp2_session_callbacks_set_error_callback2(cb, tt_h2_on_error);
    nghttp2_option *opt;
    int rc = nghttp2_option_new(&opt);
    if (!rc) {
        /* window updates follow the reader, so a slow one bounds memory */
        nghttp2_option_set_no_auto_window_update(opt, 1);
        nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
        rc = nghttp2_session_server_new2(&h->ng, cb, h, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    return rc;
}

tt_h2 *tt_h2_server_new(const tt_h2_cfg *cfg, void *owner) {
    tt_h2 *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->cfg = *cfg;
    h->owner = owner;
    if (tt_h2_callbacks(h)) return tt_h2_fail(h);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg->max_header_bytes},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}, /* RFC 8441 */
    };
    if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) ||
        nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)cfg->conn_window))
        return tt_h2_fail(h);
    return h;
}

void tt_h2_free(tt_h2 *h, void (*orphaned)(void *user)) {
    if (!h) return;
    while (h->streams) {
        tt_h2_stream *s = h->streams;
        h->streams = s->next;
        if (s->user) orphaned(s->user); /* it forgets s: its next read fails */
        s->h2 = NULL;                   /* already out of the list */
        tt_h2_stream_free(s);
    }
    nghttp2_session_del(h->ng);
    free(h);
}

int tt_h2_has_ready(const tt_h2 *h) {
    return h->ready_head != NULL;
}

void *tt_h2_owner(const tt_h2 *h) {
    return h->owner;
}

static int tt_h2_session_error(tt_h2 *h, int rc) {
    if (rc == NGHTTP2_ERR_NOMEM) return TETHER_E_NOMEM;
    h->failed = 1;
    if (!h->error[0]) snprintf(h->error, sizeof h->error, "HTTP/2: %s", nghttp2_strerror(rc));
    return TETHER_E_HTTP2;
}

int tt_h2_feed(tt_h2 *h, const uint8_t *buf, size_t len) {
    if (h->failed) return TETHER_E_HTTP2;
    ssize_t n = nghttp2_session_mem_recv(h->ng, buf, len);
    return n < 0 ? tt_h2_session_error(h, (int)n) : 0;
}

ssize_t tt_h2_output(tt_h2 *h, const uint8_t **out) {
    ssize_t n = nghttp2_session_mem_send(h->ng, out);
    return n < 0 ? tt_h2_session_error(h, (int)n) : n;
}

int tt_h2_wants_write(const tt_h2 *h) {
    return nghttp2_session_want_write(h->ng);
}

int tt_h2_finished(const tt_h2 *h) {
    return !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng);
}

size_t tt_h2_streams(const tt_h2 *h) {
    return h->nstreams;
}

void tt_h2_goaway(tt_h2 *h) {
    nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
}

const char *tt_h2_error_text(const tt_h2 *h) {
    return h->error[0] ? h->error : NULL;
}

/* ---- a stream's reader ------------------------------------------------------------- */

void tt_h2_stream_attach(tt_h2_stream *s, void *user) {
    s->user = user;
    if (s->in.tail > s->in.head || s->in_eof) tt_h2_mark(s, TT_H2_READABLE);
}

void *tt_h2_stream_user(const tt_h2_stream *s) {
    return s->user;
}

void *tt_h2_stream_owner(const tt_h2_stream *s) {
    return s->h2 ? s->h2->owner : NULL;
}

int32_t tt_h2_stream_id(const tt_h2_stream *s) {
    return s->id;
}

void tt_h2_stream_refuse(tt_h2_stream *s) {
    if (s->h2 && !s->closed)
        nghttp2_submit_rst_stream(s->h2->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM);
}

int tt_h2_stream_readable(const tt_h2_stream *s) {
    return tt_outbuf_len(&s->in) > 0 || s->in_eof || s->closed;
}

ssize_t tt_h2_stream_read(tt_h2_stream *s, uint8_t *buf, size_t cap) {
    size_t have = tt_outbuf_len(&s->in);
    if (s->closed && (s->reset || !s->h2)) return TETHER_E_HTTP2; /* reset, or no session */
    if (!have) return s->in_eof || s->closed ? 0 : TETHER_E_AGAIN;
    size_t n = tt_outbuf_take(&s->in, buf, cap);
    /* The window opens by what the reader took: framing bytes (chunk
     * sizes) are few, and whatever is left goes back once `in` is empty. */
    size_t give = n < s->unconsumed && tt_outbuf_len(&s->in) ? n : s->unconsumed;
    if (give && s->h2 && !s->closed) nghttp2_session_consume(s->h2->ng, s->id, give);
    s->unconsumed -= give;
    return (ssize_t)n;
}

ssize_t tt_h2_stream_write(tt_h2_stream *s, const uint8_t *buf, size_t len) {
    if (!s->h2 || s->closed) return TETHER_E_HTTP2;
    if (tt_outbuf_len(&s->out) + tt_outbuf_len(&s->raw) >= TT_H2_STREAM_BACKLOG) {
        s->blocked = 1;
        return 0;
    }
    size_t room = TT_H2_STREAM_BACKLOG - tt_outbuf_len(&s->out) - tt_outbuf_len(&s->raw);
    ssize_t n = tt_h2_translate(s, buf, len < room ? len : room);
    if (n > 0 && s->deferred && tt_outbuf_len(&s->out)) {
        s->deferred = 0;
        nghttp2_session_resume_data(s->h2->ng, s->id);
    }
    return n;
}

void tt_h2_stream_shutdown(tt_h2_stream *s) {
    if (!s->h2 || s->closed || s->out_end) return;
    s->out_end = 1;
    if (s->submitted && s->deferred) {
        s->deferred = 0;
        nghttp2_session_resume_data(s->h2->ng, s->id);
    } else if (!s->submitted) {
        /* our side ends before any response: nothing valid can follow */
        nghttp2_submit_rst_stream(s->h2->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    }
}

void tt_h2_stream_release(tt_h2_stream *s) {
    tt_h2_unmark(s);
    s->user = NULL;
    if (s->closed) {
        tt_h2_stream_free(s);
        return;
    }
    if (s->unconsumed) nghttp2_session_consume(s->h2->ng, s->id, s->unconsumed);
    s->unconsumed = 0;
    /* A complete response whose request still comes: RFC 9113 8.1 lets us
     * stop it with NO_ERROR. Anything else was cut short. */
    int done = s->out_state == TT_H2_OUT_DONE || (s->out_end && !tt_outbuf_len(&s->out));
    if (done && s->in_eof) return; /* nghttp2 closes it once END_STREAM went */
    nghttp2_submit_rst_stream(s->h2->ng, NGHTTP2_FLAG_NONE, s->id,
                              done ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
}

const char *tt_h2_stream_error_text(const tt_h2_stream *s) {
    return s->error[0] ? s->error : NULL;
}
