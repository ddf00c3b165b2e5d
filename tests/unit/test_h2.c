/* The HTTP/2 layer (src/stack/h2*.c) against nghttp2's own client session,
 * in memory: what a stream reads as HTTP/1.1, what the client receives for
 * the HTTP/1.1 response written to it, flow control, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "stack/h2.h"
#include "tether.h"

/* What the client saw on its one stream of interest. */
typedef struct seen {
    char head[2048]; /* "name: value\n" lines, :status first */
    uint8_t body[1 << 18];
    size_t body_len;
    int ended;        /* END_STREAM from the server */
    int closed;       /* the stream closed */
    uint32_t rst;     /* ... with this code */
    int connect_prot; /* SETTINGS_ENABLE_CONNECT_PROTOCOL seen */
} seen;

typedef struct pair {
    tt_h2 *srv;
    nghttp2_session *cli;
    seen s;
    const uint8_t *upload; /* the request body the client sends */
    size_t upload_len, upload_off;
    int upload_end;
} pair;

static int cli_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *n, size_t nl,
                      const uint8_t *v, size_t vl, uint8_t flags, void *ud) {
    (void)ng, (void)f, (void)flags;
    pair *p = ud;
    size_t at = strlen(p->s.head);
    snprintf(p->s.head + at, sizeof p->s.head - at, "%.*s: %.*s\n", (int)nl, n, (int)vl, v);
    return 0;
}

static int cli_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                    void *ud) {
    (void)ng, (void)flags, (void)id;
    pair *p = ud;
    if (p->s.body_len + n <= sizeof p->s.body) memcpy(p->s.body + p->s.body_len, d, n);
    p->s.body_len += n;
    return 0;
}

static int cli_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
    (void)ng;
    pair *p = ud;
    if (f->hd.stream_id && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS))
        p->s.ended = 1;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
        for (size_t i = 0; i < f->settings.niv; i++)
            if (f->settings.iv[i].settings_id == NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL)
                p->s.connect_prot = (int)f->settings.iv[i].value;
    return 0;
}

static int cli_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
    (void)ng, (void)id;
    pair *p = ud;
    p->s.closed = 1;
    p->s.rst = code;
    return 0;
}

static ssize_t cli_upload(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                          uint32_t *flags, nghttp2_data_source *src, void *ud) {
    (void)ng, (void)id, (void)src;
    pair *p = ud;
    size_t n = p->upload_len - p->upload_off;
    if (n > len) n = len;
    if (n > 4000) n = 4000; /* several DATA frames */
    if (n) memcpy(buf, p->upload + p->upload_off, n);
    p->upload_off += n;
    if (p->upload_off == p->upload_len && p->upload_end) *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!n && !p->upload_end) return NGHTTP2_ERR_DEFERRED;
    return (ssize_t)n;
}

static void pair_open(pair *p, size_t max_header) {
    memset(p, 0, sizeof *p);
    tt_h2_cfg cfg = {.max_streams = 8,
                     .stream_window = 65536,
                     .conn_window = 1 << 20,
                     .max_header_bytes = max_header};
    p->srv = tt_h2_server_new(&cfg, p);
    assert_non_null(p->srv);
    nghttp2_session_callbacks *cb;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_header_callback(cb, cli_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cli_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cli_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_close);
    assert_int_equal(nghttp2_session_client_new(&p->cli, cb, p), 0);
    nghttp2_session_callbacks_del(cb);
    assert_int_equal(nghttp2_submit_settings(p->cli, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void orphaned(void *user) {
    (void)user;
}

static void pair_close(pair *p) {
    nghttp2_session_del(p->cli);
    tt_h2_free(p->srv, orphaned);
}

/* Moves bytes both ways until neither side has any. */
static void pump(pair *p) {
    for (int i = 0; i < 1000; i++) {
        const uint8_t *d;
        ssize_t n, moved = 0;
        while ((n = nghttp2_session_mem_send(p->cli, &d)) > 0) {
            assert_int_equal(tt_h2_feed(p->srv, d, (size_t)n), 0);
            moved += n;
        }
        while ((n = tt_h2_output(p->srv, &d)) > 0) {
            assert_true(nghttp2_session_mem_recv(p->cli, d, (size_t)n) == n);
            moved += n;
        }
        if (!moved) return;
    }
    fail_msg("pump: no end");
}

/* The next stream the server reports as new (news of streams already
 * attached is skipped). */
static tt_h2_stream *new_stream(pair *p) {
    unsigned what = 0;
    tt_h2_stream *s;
    while ((s = tt_h2_next(p->srv, &what)) != NULL && !(what & TT_H2_NEW))
        continue;
    assert_non_null(s);
    tt_h2_stream_attach(s, p);
    return s;
}

/* Everything the stream reads now, NUL-terminated. */
static size_t read_all(tt_h2_stream *s, char *buf, size_t cap, int *eof) {
    size_t off = 0;
    *eof = 0;
    for (;;) {
        ssize_t n = tt_h2_stream_read(s, (uint8_t *)buf + off, cap - 1 - off);
        if (n == 0) *eof = 1;
        if (n <= 0) break;
        off += (size_t)n;
    }
    buf[off] = 0;
    return off;
}

static int32_t request(pair *p, const nghttp2_nv *nv, size_t n, int body) {
    nghttp2_data_provider dp = {.read_callback = cli_upload};
    int32_t id = nghttp2_submit_request(p->cli, NULL, nv, n, body ? &dp : NULL, NULL);
    assert_true(id > 0);
    pump(p);
    return id;
}

#define NV(n, v)                                                                                   \
    { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, 0 }

static void write_all(pair *p, tt_h2_stream *s, const char *text) {
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = tt_h2_stream_write(s, (const uint8_t *)text + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    pump(p);
}

static void test_get_reads_as_http1(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 16384);
    pump(&p);
    assert_int_equal(p.s.connect_prot, 1); /* RFC 8441 3 */
    nghttp2_nv nv[] = {NV(":method", "GET"),  NV(":scheme", "https"), NV(":authority", "a.test"),
                       NV(":path", "/p?q=1"), NV("cookie", "a=1"),    NV("user-agent", "t"),
                       NV("cookie", "b=2")};
    request(&p, nv, 7, 0);
    tt_h2_stream *s = new_stream(&p);
    char in[4096];
    int eof;
    read_all(s, in, sizeof in, &eof);
    assert_string_equal(in, "GET /p?q=1 HTTP/1.1\r\nConnection: close\r\nHost: a.test\r\n"
                            "user-agent: t\r\nCookie: a=1; b=2\r\n\r\n");
    assert_true(eof);
    write_all(&p, s,
              "HTTP/1.1 200 OK\r\nDate: x\r\nContent-Type: text/plain\r\n"
              "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
    assert_string_equal(p.s.head, ":status: 200\ndate: x\ncontent-type: text/plain\n"
                                  "content-length: 5\n");
    assert_int_equal(p.s.body_len, 5);
    assert_memory_equal(p.s.body, "hello", 5);
    assert_true(p.s.ended);
    assert_true(p.s.closed);
    assert_int_equal(p.s.rst, 0);
    tt_h2_stream_release(s);
    pair_close(&p);
}

static void test_body_without_length_is_chunked(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 16384);
    p.upload = (const uint8_t *)"0123456789";
    p.upload_len = 10;
    p.upload_end = 1;
    nghttp2_nv nv[] = {NV(":method", "POST"), NV(":scheme", "http"), NV(":path", "/u"),
                       NV(":authority", "h")};
    request(&p, nv, 4, 1);
    tt_h2_stream *s = new_stream(&p);
    char in[4096];
    int eof;
    read_all(s, in, sizeof in, &eof);
    assert_string_equal(in, "POST /u HTTP/1.1\r\nConnection: close\r\n"
                            "Transfer-Encoding: chunked\r\nHost: h\r\n\r\na\r\n0123456789\r\n"
                            "0\r\n\r\n");
    assert_true(eof);
    /* a chunked response is decoded into DATA */
    write_all(&p, s,
              "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
              "2\r\nde\r\n0\r\n\r\n");
    assert_string_equal(p.s.head, ":status: 201\n");
    assert_int_equal(p.s.body_len, 5);
    assert_memory_equal(p.s.body, "abcde", 5);
    assert_true(p.s.ended);
    tt_h2_stream_release(s);
    pair_close(&p);
}

static void test_extended_connect_is_a_websocket(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 16384);
    pump(&p);
    nghttp2_nv nv[] = {NV(":method", "CONNECT"),
                       NV(":protocol", "websocket"),
                       NV(":scheme", "https"),
                       NV(":path", "/chat"),
                       NV(":authority", "h"),
                       NV("sec-websocket-version", "13"),
                       NV("sec-websocket-protocol", "a")};
    p.upload_end = 0;
    request(&p, nv, 7, 1);
    tt_h2_stream *s = new_stream(&p);
    char in[4096];
    int eof;
    read_all(s, in, sizeof in, &eof);
    assert_string_equal(in, "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nHost: h\r\n"
                            "sec-websocket-version: 13\r\nsec-websocket-protocol: a\r\n\r\n");
    assert_false(eof);
    write_all(&p, s,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Accept: xyz\r\n"
              "Sec-WebSocket-Protocol: a\r\n\r\n\x81\x02hi");
    /* RFC 8441 5: 200, no Accept, no Upgrade; the frames are DATA */
    assert_string_equal(p.s.head, ":status: 200\nsec-websocket-protocol: a\n");
    assert_int_equal(p.s.body_len, 4);
    assert_false(p.s.ended);
    tt_h2_stream_shutdown(s); /* our side ends: END_STREAM */
    pump(&p);
    assert_true(p.s.ended);
    tt_h2_stream_release(s);
    pump(&p);
    pair_close(&p);
}

/* Status for a request that never reaches a reader. */
static int refused_status(const nghttp2_nv *nv, size_t n, size_t max_header) {
    pair p;
    pair_open(&p, max_header);
    pump(&p);
    request(&p, nv, n, 0);
    unsigned what;
    assert_null(tt_h2_next(p.srv, &what));
    int status = atoi(p.s.head + strlen(":status: "));
    assert_true(p.s.ended);
    pair_close(&p);
    return status;
}

static void test_refusals(void **state) {
    (void)state;
    nghttp2_nv other[] = {NV(":method", "CONNECT"), NV(":protocol", "chat"), NV(":scheme", "http"),
                          NV(":path", "/"), NV(":authority", "h")};
    assert_int_equal(refused_status(other, 5, 16384), 501);
    nghttp2_nv tunnel[] = {NV(":method", "CONNECT"), NV(":authority", "example.com:443")};
    assert_int_equal(refused_status(tunnel, 2, 16384), 405);
    nghttp2_nv big[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                        NV(":authority", "h"), NV("x-big", "0123456789012345678901234567890123")};
    assert_int_equal(refused_status(big, 5, 32), 431);
}

static void test_head_has_no_data(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 16384);
    nghttp2_nv nv[] = {NV(":method", "HEAD"), NV(":scheme", "http"), NV(":path", "/"),
                       NV(":authority", "h")};
    request(&p, nv, 4, 0);
    tt_h2_stream *s = new_stream(&p);
    char in[4096];
    int eof;
    read_all(s, in, sizeof in, &eof);
    write_all(&p, s, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    assert_string_equal(p.s.head, ":status: 200\ncontent-length: 1000\n");
    assert_int_equal(p.s.body_len, 0);
    assert_true(p.s.ended);
    tt_h2_stream_release(s);
    pair_close(&p);
}

/* The window opens only as the reader takes bytes: a reader that does not
 * read holds at most its window. */
static void test_flow_control_follows_the_reader(void **state) {
    (void)state;
    static uint8_t up[300000];
    for (size_t i = 0; i < sizeof up; i++)
        up[i] = (uint8_t)(i * 7);
    pair p;
    pair_open(&p, 16384);
    pump(&p);
    p.upload = up;
    p.upload_len = sizeof up;
    p.upload_end = 1;
    nghttp2_nv nv[] = {NV(":method", "PUT"), NV(":scheme", "http"), NV(":path", "/"),
                       NV(":authority", "h"), NV("content-length", "300000")};
    request(&p, nv, 5, 1);
    tt_h2_stream *s = new_stream(&p);
    assert_true(p.upload_off <= 65536); /* the stream's window, unread */
    static uint8_t got[sizeof up + 4096];
    size_t off = 0;
    int ends = 0;
    for (int i = 0; i < 1000 && !ends; i++) {
        ssize_t n = tt_h2_stream_read(s, got + off, sizeof got - off);
        if (n == 0) ends = 1;
        if (n > 0) off += (size_t)n;
        pump(&p);
    }
    assert_true(ends);
    const char *body = memmem(got, off, "\r\n\r\n", 4);
    assert_non_null(body);
    body += 4;
    assert_int_equal(off - (size_t)(body - (const char *)got), sizeof up);
    assert_memory_equal(body, up, sizeof up);
    /* released before any response: the client hears CANCEL */
    tt_h2_stream_release(s);
    pump(&p);
    assert_true(p.s.closed);
    assert_int_equal(p.s.rst, NGHTTP2_CANCEL);
    pair_close(&p);
}

/* SETTINGS_MAX_CONCURRENT_STREAMS (8 here) is enforced: the ninth
 * request at once is refused, and a stream that ends makes room. */
static void test_stream_limit(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 16384);
    nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                       NV(":authority", "h")};
    tt_h2_stream *s[8];
    /* all nine at once, before the client has heard the server's limit */
    for (int i = 0; i < 9; i++)
        assert_true(nghttp2_submit_request(p.cli, NULL, nv, 4, NULL, NULL) > 0);
    pump(&p);
    for (int i = 0; i < 8; i++)
        s[i] = new_stream(&p);
    unsigned what;
    while (tt_h2_next(p.srv, &what))
        assert_false(what & TT_H2_NEW); /* the ninth never came */
    assert_true(p.s.closed);
    assert_int_equal(p.s.rst, NGHTTP2_REFUSED_STREAM);
    assert_int_equal(tt_h2_streams(p.srv), 8);
    write_all(&p, s[0], "HTTP/1.1 204 No Content\r\n\r\n");
    tt_h2_stream_release(s[0]);
    assert_int_equal(tt_h2_streams(p.srv), 7);
    request(&p, nv, 4, 0);
    tt_h2_stream *again = new_stream(&p);
    tt_h2_stream_release(again);
    for (int i = 1; i < 8; i++)
        tt_h2_stream_release(s[i]);
    pump(&p);
    pair_close(&p);
}

/* A stream takes at most TT_H2_STREAM_BACKLOG bytes ahead of nghttp2's
 * frames (write() says 0 past it), and says WRITABLE once they went. */
static void test_stream_backlog(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 16384);
    nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/"),
                       NV(":authority", "h")};
    request(&p, nv, 4, 0);
    tt_h2_stream *s = new_stream(&p);
    enum { BODY = 200000 };
    static uint8_t body[BODY];
    for (size_t i = 0; i < BODY; i++)
        body[i] = (uint8_t)(i * 13);
    write_all(&p, s, "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n");
    size_t off = 0, rounds = 0, fulls = 0;
    while (off < BODY && rounds++ < 100) {
        ssize_t n;
        while (off < BODY && (n = tt_h2_stream_write(s, body + off, 1000)) > 0)
            off += (size_t)n;
        assert_true(tt_h2_stream_owed(s) <= TT_H2_STREAM_BACKLOG);
        if (off < BODY) { /* full: the backlog, not the body, is what it took */
            fulls++;
            assert_int_equal(tt_h2_stream_owed(s), TT_H2_STREAM_BACKLOG);
            pump(&p);
            unsigned what = 0;
            assert_ptr_equal(tt_h2_next(p.srv, &what), s);
            assert_true(what & TT_H2_WRITABLE);
        }
    }
    pump(&p);
    assert_true(fulls >= 2); /* 200,000 bytes through a 64 KiB backlog */
    assert_int_equal(p.s.body_len, BODY);
    assert_memory_equal(p.s.body, body, BODY);
    assert_true(p.s.ended);
    tt_h2_stream_release(s);
    pair_close(&p);
}

static void test_bad_preface_fails_the_session(void **state) {
    (void)state;
    assert_int_equal(tt_h2_preface((const uint8_t *)"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24), 1);
    assert_int_equal(tt_h2_preface((const uint8_t *)"PRI * HT", 8), -1);
    assert_int_equal(tt_h2_preface((const uint8_t *)"GET / HTTP/1.1\r\n", 16), 0);
    tt_h2_cfg cfg = {8, 65536, 65536, 16384};
    tt_h2 *h = tt_h2_server_new(&cfg, NULL);
    assert_non_null(h);
    /* not the preface at all: refused at once */
    assert_int_equal(tt_h2_feed(h, (const uint8_t *)"PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n", 24),
                     TETHER_E_HTTP2);
    assert_non_null(tt_h2_error_text(h));
    tt_h2_free(h, orphaned);
    /* a first frame that is not SETTINGS: GOAWAY, and the session ends */
    h = tt_h2_server_new(&cfg, NULL);
    static const uint8_t bad[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\4\x09\0\0\0\0\0garb";
    assert_int_equal(tt_h2_feed(h, bad, sizeof bad - 1), 0);
    const uint8_t *out;
    while (tt_h2_output(h, &out) > 0)
        continue;
    assert_true(tt_h2_finished(h));
    assert_non_null(tt_h2_error_text(h));
    tt_h2_free(h, orphaned);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_reads_as_http1),
        cmocka_unit_test(test_body_without_length_is_chunked),
        cmocka_unit_test(test_extended_connect_is_a_websocket),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_head_has_no_data),
        cmocka_unit_test(test_flow_control_follows_the_reader),
        cmocka_unit_test(test_stream_limit),
        cmocka_unit_test(test_stream_backlog),
        cmocka_unit_test(test_bad_preface_fails_the_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
