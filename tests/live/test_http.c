/* Plain HTTP on a WebSocket listener (tether_opts_set_http): requests as
 * events, bodies in pieces, whole and streamed responses, keep-alive and
 * pipelining, the limits, bad requests answered without the application,
 * and WebSocket upgrades on the same port. The client is a raw socket,
 * so every byte on the wire is checked. */
#include "live_util.h"

/* ---- a raw HTTP client ------------------------------------------------------ */

typedef struct rx {
    char buf[65536];
    size_t len;
    int eof;
} rx;

/* Reads what has arrived, without blocking. */
static int rx_poll(rx *r, int fd) {
    for (;;) {
        ssize_t n = recv(fd, r->buf + r->len, sizeof r->buf - 1 - r->len, MSG_DONTWAIT);
        if (n > 0) {
            r->len += (size_t)n;
            r->buf[r->len] = 0;
            continue;
        }
        if (n == 0) r->eof = 1;
        return r->eof;
    }
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static tether_opts *http_opts(void) {
    tether_opts *o = tether_opts_new();
    assert_non_null(o);
    assert_int_equal(tether_opts_set_http(o, 1), 0);
    return o;
}

static void http_world(world *w, int mode, tether_opts *o, lu_hook hook) {
    w_init(w, mode);
    w->hook = hook;
    w_listen(w, "127.0.0.1", o);
    tether_opts_free(o);
}

/* Answers every request when its body is complete: "<method> <path> <n>"
 * with n the body bytes seen so far on this connection. */
static void answer_at_fin(world *w, tether_event *ev, side *s) {
    (void)w;
    int type = tether_event_type_of(ev);
    if (!s || (type != TETHER_EV_HTTP && type != TETHER_EV_HTTP_BODY) || !tether_event_fin(ev))
        return;
    char body[256];
    snprintf(body, sizeof body, "%s %s %zu", tether_conn_method(s->c), tether_conn_path(s->c),
             s->acc_len);
    assert_int_equal(tether_conn_add_header(s->c, "X-Test", "yes"), 0);
    assert_int_equal(tether_conn_add_header(s->c, "Content-Length", "1"), TETHER_E_INVAL);
    assert_int_equal(tether_conn_respond(s->c, 200, "text/plain", body, strlen(body)), 0);
    assert_int_equal(tether_conn_respond(s->c, 200, NULL, NULL, 0), TETHER_E_STATE);
}

/* Three pipelined requests, one of them HEAD, on one connection: three
 * events on one tether_conn, three responses in order. */
static void test_keep_alive_pipelined(void **state) {
    world w;
    http_world(&w, MODE(state), http_opts(), answer_at_fin);
    int fd = raw_connect(w.port);
    assert_true(fd >= 0);
    const char req[] = "GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                       "HEAD /b HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /c HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(raw_write(fd, req, sizeof req - 1), 0);
    rx r = {0};
    UNTIL(&w, 5000, (rx_poll(&r, fd), strstr(r.buf, "GET /c 0")));
    assert_int_equal(count(r.buf, "HTTP/1.1 200 OK\r\n"), 3);
    assert_int_equal(count(r.buf, "X-Test: yes\r\n"), 3);
    assert_non_null(strstr(r.buf, "Content-Length: 8\r\n\r\nGET /a 0HTTP/1.1 200"));
    /* HEAD: the length GET would have, no body */
    assert_non_null(strstr(r.buf, "Content-Length: 9\r\n\r\nHTTP/1.1 200"));
    assert_null(strstr(r.buf, "Connection: close"));
    assert_int_equal(w.nsides, 1);
    assert_int_equal(w.sides[0].http, 3);
    assert_int_equal(w.sides[0].closed, 0);
    close(fd);
    UNTIL(&w, 5000, w.sides[0].closed == 1);
    assert_int_equal(w.sides[0].error, TETHER_E_CLOSED);
    w_free(&w);
}

/* Bodies: a Content-Length one written in two pieces, and a chunked one
 * with an extension and a trailer; both delivered whole, in pieces. */
static void test_bodies(void **state) {
    world w;
    http_world(&w, MODE(state), http_opts(), answer_at_fin);
    int fd = raw_connect(w.port);
    const char a[] = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello";
    assert_int_equal(raw_write(fd, a, sizeof a - 1), 0);
    w_pump(&w, 50);
    assert_int_equal(raw_write(fd, "world", 5), 0);
    rx r = {0};
    UNTIL(&w, 5000, (rx_poll(&r, fd), strstr(r.buf, "POST /up 10")));
    const char b[] = "PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer: 1\r\n\r\n";
    assert_int_equal(raw_write(fd, b, sizeof b - 1), 0);
    UNTIL(&w, 5000, (rx_poll(&r, fd), strstr(r.buf, "PUT /c 17")));
    assert_int_equal(w.sides[0].acc_len, 17);
    assert_memory_equal(w.sides[0].acc, "helloworldabcdefg", 17);
    assert_int_equal(w.sides[0].frag_fins, 2);
    /* a bad request after good ones is refused on the same connection,
     * which the application hears end */
    const char bad[] = "GET / HTTP/1.1\r\n\r\n";
    assert_int_equal(raw_write(fd, bad, sizeof bad - 1), 0);
    UNTIL(&w, 5000, (rx_poll(&r, fd), strstr(r.buf, "HTTP/1.1 400 ")) && w.sides[0].closed);
    assert_int_equal(w.sides[0].error, TETHER_E_HS_MALFORMED);
    close(fd);
    w_free(&w);
}

/* Streams a chunked response of three pieces when the request arrives,
 * after checking what cannot be done. */
static void stream_answer(world *w, tether_event *ev, side *s) {
    (void)w;
    if (!s || tether_event_type_of(ev) != TETHER_EV_HTTP) return;
    tether_conn *c = s->c;
    assert_int_equal(tether_conn_respond_write(c, "x", 1), TETHER_E_STATE);
    assert_int_equal(tether_conn_respond_start(c, 99, NULL, -1), TETHER_E_INVAL);
    assert_int_equal(tether_conn_respond_start(c, 200, "text/plain", -1), 0);
    assert_int_equal(tether_conn_respond_start(c, 200, NULL, -1), TETHER_E_STATE);
    assert_int_equal(tether_conn_respond_write(c, "one,", 4), 0);
    assert_int_equal(tether_conn_respond_write(c, "", 0), 0);
    assert_int_equal(tether_conn_respond_write(c, "two,", 4), 0);
    assert_int_equal(tether_conn_respond_write(c, "three", 5), 0);
    assert_int_equal(tether_conn_respond_end(c), 0);
    assert_int_equal(tether_conn_respond_end(c), TETHER_E_STATE);
}

static void test_streamed_response(void **state) {
    world w;
    http_world(&w, MODE(state), http_opts(), stream_answer);
    int fd = raw_connect(w.port);
    const char q[] = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    rx r = {0};
    UNTIL(&w, 5000, rx_poll(&r, fd));
    assert_non_null(strstr(r.buf, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                  "4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"));
    /* the client asked to close: CLOSED follows, clean */
    UNTIL(&w, 5000, w.sides[0].closed == 1);
    assert_int_equal(w.sides[0].error, 0);
    assert_int_equal(w.sides[0].clean, 1);
    /* HEAD: the same calls succeed, and no body goes out */
    fd = raw_connect(w.port);
    const char head[] = "HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_write(fd, head, sizeof head - 1), 0);
    rx rh = {0};
    UNTIL(&w, 5000, rx_poll(&rh, fd));
    assert_non_null(strstr(rh.buf, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
    assert_null(strstr(rh.buf, "one,"));
    close(fd);
    /* HTTP/1.0 knows no chunks: the body ends with the connection */
    fd = raw_connect(w.port);
    const char q10[] = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(raw_write(fd, q10, sizeof q10 - 1), 0);
    rx r10 = {0};
    UNTIL(&w, 5000, rx_poll(&r10, fd));
    assert_null(strstr(r10.buf, "chunked"));
    assert_non_null(strstr(r10.buf, "Connection: close\r\n\r\none,two,three"));
    close(fd);
    w_free(&w);
}

/* Requests tether answers itself: the application sees none of them. */
static void test_bad_requests(void **state) {
    static const struct {
        const char *req, *status;
    } cases[] = {
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         "400"},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", "400"},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 1\r\n\r\n", "400"},
        {"GET http://elsewhere/ HTTP/1.1\r\nHost: t\r\n\r\n", "400"},
        {"GET / HTTP/1.1\r\n\r\n", "400"},
        {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", "505"},
        {"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", "400"},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", "413"},
    };
    world w;
    tether_opts *o = http_opts();
    assert_int_equal(tether_opts_set_max_body(o, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_max_body(o, 1000), 0);
    http_world(&w, MODE(state), o, answer_at_fin);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = raw_connect(w.port);
        assert_int_equal(raw_write(fd, cases[i].req, strlen(cases[i].req)), 0);
        rx r = {0};
        UNTIL(&w, 5000, rx_poll(&r, fd));
        char want[32];
        snprintf(want, sizeof want, "HTTP/1.1 %s ", cases[i].status);
        if (strncmp(r.buf, want, strlen(want)) != 0)
            fail_msg("case %zu: got %.40s, want %s", i, r.buf, want);
        close(fd);
    }
    assert_int_equal(w.nsides, 0);
    w_free(&w);
}

/* A body that goes wrong after the request was delivered: the status goes
 * out (if no response started) and the connection ends with CLOSED. */
static void test_body_errors(void **state) {
    world w;
    tether_opts *o = http_opts();
    assert_int_equal(tether_opts_set_max_body(o, 8), 0);
    http_world(&w, MODE(state), o, answer_at_fin);
    int fd = raw_connect(w.port);
    const char q[] = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    rx r = {0};
    UNTIL(&w, 5000, rx_poll(&r, fd));
    assert_non_null(strstr(r.buf, "HTTP/1.1 413 "));
    UNTIL(&w, 5000, w.nsides == 1 && w.sides[0].closed);
    assert_int_equal(w.sides[0].error, TETHER_E_HS_TOO_BIG);
    close(fd);
    fd = raw_connect(w.port);
    const char bad[] = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert_int_equal(raw_write(fd, bad, sizeof bad - 1), 0);
    rx r2 = {0};
    UNTIL(&w, 5000, rx_poll(&r2, fd));
    assert_non_null(strstr(r2.buf, "HTTP/1.1 400 "));
    UNTIL(&w, 5000, w.nsides == 2 && w.sides[1].closed);
    assert_int_equal(w.sides[1].error, TETHER_E_HS_MALFORMED);
    close(fd);
    w_free(&w);
}

/* The answer can come later than the event (no hook answers here);
 * meanwhile the next request waits. Expect: 100-continue gets its interim
 * response. */
static void test_deferred_answer(void **state) {
    world w;
    http_world(&w, MODE(state), http_opts(), NULL);
    int fd = raw_connect(w.port);
    const char q[] =
        "PUT /d HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    rx r = {0};
    UNTIL(&w, 5000, (rx_poll(&r, fd), strstr(r.buf, "HTTP/1.1 100 Continue\r\n\r\n")));
    assert_int_equal(raw_write(fd, "ok", 2), 0);
    UNTIL(&w, 5000, w.nsides == 1 && w.sides[0].frag_fins == 1);
    w_pump(&w, 50);
    assert_string_equal(r.buf, "HTTP/1.1 100 Continue\r\n\r\n"); /* nothing else yet */
    assert_int_equal(tether_conn_respond(w.sides[0].c, 204, NULL, NULL, 0), 0);
    UNTIL(&w, 5000, (rx_poll(&r, fd), strstr(r.buf, "204 No Content")));
    assert_null(strstr(r.buf, "Content-Length"));
    /* the application closes a kept-alive connection between requests */
    assert_int_equal(tether_conn_close(w.sides[0].c, 1000, NULL), 0);
    UNTIL(&w, 5000, w.sides[0].closed && (rx_poll(&r, fd), r.eof));
    close(fd);
    w_free(&w);
}

/* A kept-alive connection that sends nothing more is closed at the
 * keep-alive timeout (200 ms here; the wait allows 10 s). */
static void test_keepalive_timeout(void **state) {
    world w;
    tether_opts *o = http_opts();
    assert_int_equal(tether_opts_set_keepalive_timeout(o, 200), 0);
    http_world(&w, MODE(state), o, answer_at_fin);
    int fd = raw_connect(w.port);
    const char q[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    rx r = {0};
    UNTIL(&w, 10000, w.nsides == 1 && w.sides[0].closed);
    assert_int_equal(w.sides[0].error, TETHER_E_TIMEOUT);
    UNTIL(&w, 5000, rx_poll(&r, fd));
    assert_non_null(strstr(r.buf, "GET / 0"));
    close(fd);
    w_free(&w);
}

/* Keep-alive off: every answer says "Connection: close" and the
 * connection ends cleanly after it; the options refuse bad values. */
static void test_no_keepalive(void **state) {
    world w;
    tether_opts *o = http_opts();
    assert_int_equal(tether_opts_set_http(o, 2), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_http(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_keepalive_timeout(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_keepalive_timeout(o, 0), 0);
    http_world(&w, MODE(state), o, answer_at_fin);
    int fd = raw_connect(w.port);
    const char q[] = "GET /k HTTP/1.1\r\nHost: t\r\n\r\nGET /never HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    rx r = {0};
    UNTIL(&w, 5000, rx_poll(&r, fd) && w.nsides == 1 && w.sides[0].closed);
    assert_non_null(strstr(r.buf, "Connection: close\r\n\r\nGET /k 0"));
    assert_null(strstr(r.buf, "/never"));
    assert_int_equal(w.sides[0].http, 1);
    assert_int_equal(w.sides[0].error, 0);
    assert_int_equal(w.sides[0].clean, 1);
    close(fd);
    w_free(&w);
}

/* WebSocket upgrades still work next to plain requests; without the
 * option a plain GET is refused as before. */
static void test_upgrade_beside(void **state) {
    world w;
    http_world(&w, MODE(state), http_opts(), answer_at_fin);
    w.echo = 1;
    side *c = w_connect(&w, "/ws", NULL);
    UNTIL(&w, 5000, c->open);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "hi", 2), 0);
    UNTIL(&w, 5000, c->msgs == 1);
    assert_null(tether_conn_method(c->c));
    w_free(&w);
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    int fd = raw_connect(w.port);
    const char q[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    rx r = {0};
    UNTIL(&w, 5000, rx_poll(&r, fd));
    assert_non_null(strstr(r.buf, "HTTP/1.1 400 "));
    assert_int_equal(w.nsides, 0);
    close(fd);
    w_free(&w);
}

/* A streamed body much larger than the send limit: write until
 * BACKPRESSURE, go on at each DRAIN. */
#define STREAM_TOTAL (12u << 20)
#define STREAM_PIECE (200u * 1024u)

static void stream_on_drain(world *w, tether_event *ev, side *s) {
    if (!s) return;
    int type = tether_event_type_of(ev);
    size_t *sent = w->arg;
    /* in poll mode a DRAIN may be queued while this hook is still
     * writing; it can arrive after the end */
    if (*sent == STREAM_TOTAL + 1) return;
    if (type == TETHER_EV_HTTP)
        assert_int_equal(tether_conn_respond_start(s->c, 200, NULL, STREAM_TOTAL), 0);
    else if (type != TETHER_EV_DRAIN)
        return;
    static uint8_t piece[STREAM_PIECE];
    while (*sent < STREAM_TOTAL) {
        size_t n = STREAM_TOTAL - *sent < STREAM_PIECE ? STREAM_TOTAL - *sent : STREAM_PIECE;
        memset(piece, (int)(*sent / STREAM_PIECE) & 0xff, n);
        int rc = tether_conn_respond_write(s->c, piece, n);
        if (rc == TETHER_E_BACKPRESSURE) return;
        assert_int_equal(rc, 0);
        *sent += n;
        /* what is queued never goes past the limit by more than a write */
        assert_true(tether_conn_buffered(s->c) <= (1u << 20) + STREAM_PIECE);
    }
    assert_int_equal(tether_conn_respond_end(s->c), 0);
    *sent = STREAM_TOTAL + 1;
}

static void test_streamed_drain(void **state) {
    world w;
    tether_opts *o = http_opts();
    assert_int_equal(tether_opts_set_send_limit(o, 1u << 20), 0);
    assert_int_equal(tether_opts_set_drain_mark(o, 64u << 10), 0);
    http_world(&w, MODE(state), o, stream_on_drain);
    size_t sent = 0, got = 0, head = 0;
    w.arg = &sent;
    int fd = raw_connect(w.port);
    const char q[] = "GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    static char buf[1 << 16];
    int eof = 0, bad = 0;
    uint64_t end = lu_now_ms() + 20000;
    while (!eof && lu_now_ms() < end) {
        w_step(&w, 5);
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) {
                eof = n == 0;
                break;
            }
            size_t i = 0;
            if (!head) { /* the head arrives in the first read */
                char *e = memmem(buf, (size_t)n, "\r\n\r\n", 4);
                assert_non_null(e);
                head = (size_t)(e + 4 - buf);
                i = head;
            }
            for (; i < (size_t)n; i++, got++)
                bad += (uint8_t)buf[i] != (uint8_t)((got / STREAM_PIECE) & 0xff);
        }
    }
    close(fd);
    assert_true(eof);
    assert_int_equal(got, STREAM_TOTAL);
    assert_int_equal(sent, STREAM_TOTAL + 1);
    assert_int_equal(bad, 0);
    side *s = &w.sides[0];
    assert_true(s->drains >= 1);
    w_free(&w);
}

/* The upgrade hook answers with any response: a challenge, a redirect, a
 * JSON body with its type. */
static void refuse_upgrades(world *w, tether_event *ev, side *s) {
    (void)w;
    if (!s || tether_event_type_of(ev) != TETHER_EV_REQUEST) return;
    const char *path = tether_conn_path(s->c);
    if (strcmp(path, "/login") == 0) {
        assert_int_equal(tether_conn_add_header(s->c, "WWW-Authenticate", "Bearer realm=\"t\""), 0);
        assert_int_equal(tether_conn_reject(s->c, 401, "token needed\n"), 0);
    } else if (strcmp(path, "/old") == 0) {
        assert_int_equal(tether_conn_add_header(s->c, "Location", "/new"), 0);
        assert_int_equal(tether_conn_reject(s->c, 307, ""), 0);
    } else {
        assert_int_equal(tether_conn_add_header(s->c, "Content-Type", "application/json"), 0);
        assert_int_equal(tether_conn_add_header(s->c, "Content-Length", "9"), TETHER_E_INVAL);
        assert_int_equal(tether_conn_reject(s->c, 429, "{\"retry\":5}"), 0);
    }
}

static void test_upgrade_refused_any_response(void **state) {
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"/login", "HTTP/1.1 401 Unauthorized\r\n"},
        {"/old", "HTTP/1.1 307 Temporary Redirect\r\n"},
        {"/busy", "HTTP/1.1 429 Too Many Requests\r\n"},
    };
    static const char *const heads[] = {
        "\r\nWWW-Authenticate: Bearer realm=\"t\"\r\n",
        "\r\nLocation: /new\r\n",
        ("\r\nContent-Length: 11\r\nConnection: close\r\n"
         "Content-Type: application/json\r\n\r\n{\"retry\":5}"),
    };
    world w;
    http_world(&w, MODE(state), http_opts(), refuse_upgrades);
    for (size_t i = 0; i < 3; i++) {
        int fd = raw_connect(w.port);
        char q[512];
        int n = snprintf(q, sizeof q,
                         "GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                         cases[i].path);
        assert_int_equal(raw_write(fd, q, (size_t)n), 0);
        rx r = {0};
        UNTIL(&w, 5000, rx_poll(&r, fd));
        close(fd);
        assert_true(strncmp(r.buf, cases[i].want, strlen(cases[i].want)) == 0);
        assert_non_null(strstr(r.buf, heads[i]));
        assert_int_equal(count(r.buf, "Content-Type:") + count(r.buf, "content-type:"), 1);
    }
    w_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_keep_alive_pipelined), BOTH(test_bodies),
        BOTH(test_streamed_response),    BOTH(test_bad_requests),
        BOTH(test_body_errors),          BOTH(test_deferred_answer),
        BOTH(test_keepalive_timeout),    BOTH(test_no_keepalive),
        BOTH(test_upgrade_beside),       BOTH(test_upgrade_refused_any_response),
        BOTH(test_streamed_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
