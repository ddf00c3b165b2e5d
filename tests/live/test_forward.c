/* Forwarding a received message (tether_conn_forward,
 * tether_broadcast_forward): sent on as it came, opcode and payload, its
 * text not scanned again when the connection it came from checked it, and
 * scanned when that connection did not (a peer's invalid UTF-8 is then
 * refused on the way out, never relayed). */
#include "live_util.h"

static struct {
    int rc[8], n;
    int broadcast; /* forward through every open server connection, not back */
} fwd;

static void forward_hook(world *w, tether_event *ev, side *s) {
    if (!s->server || tether_event_type_of(ev) != TETHER_EV_MESSAGE) return;
    if (fwd.broadcast) {
        tether_conn *to[4];
        size_t n = 0;
        for (size_t i = 0; i < w->nsides && n < 4; i++)
            if (w->sides[i].server && w->sides[i].open) to[n++] = w->sides[i].c;
        int results[4];
        fwd.rc[fwd.n++] = tether_broadcast_forward(to, n, ev, results);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(results[i], 0);
        return;
    }
    fwd.rc[fwd.n++] = tether_conn_forward(s->c, ev);
}

static void test_forward_echo(void **state) {
    world w;
    w_init(&w, MODE(state));
    memset(&fwd, 0, sizeof fwd);
    w.hook = forward_hook;
    w_listen(&w, "127.0.0.1", NULL);
    side *c = w_connect(&w, "/", NULL);
    UNTIL(&w, 5000, c->open);
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "h\xc3\xa9llo", 6), 0);
    UNTIL(&w, 5000, c->msgs == 1);
    assert_int_equal(c->last_op, TETHER_OP_TEXT);
    assert_int_equal(c->last_len, 6);
    assert_memory_equal(c->last, "h\xc3\xa9llo", 6);
    static const uint8_t bin[] = {0, 0xff, 0xc3};
    assert_int_equal(tether_conn_send(c->c, TETHER_OP_BINARY, bin, sizeof bin), 0);
    UNTIL(&w, 5000, c->msgs == 2);
    assert_int_equal(c->last_op, TETHER_OP_BINARY);
    assert_memory_equal(c->last, bin, sizeof bin);
    assert_int_equal(fwd.n, 2);
    assert_int_equal(fwd.rc[0], 0);
    assert_int_equal(fwd.rc[1], 0);
    /* only whole messages */
    assert_int_equal(tether_conn_forward(c->c, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_broadcast_forward(&c->c, 1, NULL, NULL), TETHER_E_INVAL);
    w_free(&w);
}

static void test_broadcast_forward(void **state) {
    world w;
    w_init(&w, MODE(state));
    memset(&fwd, 0, sizeof fwd);
    fwd.broadcast = 1;
    w.hook = forward_hook;
    w_listen(&w, "127.0.0.1", NULL);
    side *a = w_connect(&w, "/", NULL), *b = w_connect(&w, "/", NULL);
    UNTIL(&w, 5000, a->open && b->open && w_server(&w, 1) && w_server(&w, 1)->open);
    assert_int_equal(tether_conn_send(a->c, TETHER_OP_TEXT, "to all", 6), 0);
    UNTIL(&w, 5000, a->msgs == 1 && b->msgs == 1);
    assert_memory_equal(b->last, "to all", 6);
    assert_int_equal(fwd.rc[0], 2); /* queued for both */
    w_free(&w);
}

/* A server that does not check UTF-8 (tether_opts_set_utf8_check 0) gets
 * invalid text from a raw peer: forwarding it is refused, not relayed. */
static void test_forward_unchecked_text(void **state) {
    world w;
    w_init(&w, MODE(state));
    memset(&fwd, 0, sizeof fwd);
    w.hook = forward_hook;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_utf8_check(o, 0), 0);
    w_listen(&w, "127.0.0.1", o);
    tether_opts_free(o);
    int fd = raw_connect(w.port);
    assert_true(fd >= 0);
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_int_equal(raw_write(fd, req, sizeof req - 1), 0);
    UNTIL(&w, 5000, w_server(&w, 0) && w_server(&w, 0)->open);
    /* a masked text frame (mask 0) whose payload is not UTF-8 */
    static const uint8_t frame[] = {0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28};
    assert_int_equal(raw_write(fd, frame, sizeof frame), 0);
    UNTIL(&w, 5000, fwd.n == 1);
    assert_int_equal(fwd.rc[0], TETHER_E_UTF8);
    assert_int_equal(w_server(&w, 0)->msgs, 1); /* received: nobody checked it */
    close(fd);
    w_free(&w);
}

/* A callback-mode echo server holds big frames echoed from the read buffer
 * and writes them together; a peer with a tiny receive window that reads
 * nothing for a while makes those writes stop part way. Every frame must
 * still arrive whole and in order once it reads. The peer is a raw socket
 * (SO_RCVBUF 4 KiB) driven without blocking, the loop pumped between. */
#define ECHO_N 400
#define ECHO_SIZE(i) (8200u + (unsigned)(i) % 37u * 101u)

/* Masked binary frame i (key 0: the payload as is) into out; its length. */
static size_t echo_frame(int i, uint8_t *out) {
    uint8_t *p = lu_pattern(ECHO_SIZE(i), (unsigned)i);
    size_t n = ECHO_SIZE(i);
    out[0] = 0x82;
    out[1] = 0x80 | 126;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memset(out + 4, 0, 4);
    memcpy(out + 8, p, n);
    free(p);
    return 8 + n;
}

static void test_held_frames_partial_write(void **state) {
    (void)state;
    world w;
    w_init(&w, MODE_CB);
    w.echo = 1;
    w_listen(&w, "127.0.0.1", NULL);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_int_equal(raw_write(fd, req, sizeof req - 1), 0);
    UNTIL(&w, 5000, w_server(&w, 0) && w_server(&w, 0)->open);
    side *s = w_server(&w, 0);
    /* send every frame without blocking, pumping the server after each so
     * that its reads hold whole frames (held, not written one by one) */
    uint8_t *frame = malloc(8 + 16384);
    assert_non_null(frame);
    for (int i = 0; i < ECHO_N; i++) {
        size_t len = echo_frame(i, frame), off = 0;
        for (int guard = 0; off < len; guard++) {
            assert_true(guard < 100000);
            ssize_t k = send(fd, frame + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (k > 0)
                off += (size_t)k;
            else
                w_pump(&w, 1);
        }
        w_pump(&w, 1);
    }
    UNTIL(&w, 10000, s->msgs == ECHO_N);
    /* now read: the 101 response, then the echoes, in order */
    tether_parser *p = tether_parser_new(TETHER_ROLE_CLIENT);
    tether_parser_set_max_frame(p, 1u << 20);
    uint8_t *buf = malloc(1u << 16);
    assert_non_null(buf);
    size_t have = 0, head = 0, got = 0, at = 0;
    int frames = 0, bad = 0;
    uint8_t *want = NULL;
    for (int guard = 0; frames < ECHO_N; guard++) {
        assert_true(guard < 1000000);
        ssize_t k = recv(fd, buf + have, (1u << 16) - have, MSG_DONTWAIT);
        if (k <= 0) {
            assert_true(k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            w_pump(&w, 1);
            continue;
        }
        have += (size_t)k;
        size_t off = 0;
        if (!head) { /* skip the response head */
            const uint8_t *e = memmem(buf, have, "\r\n\r\n", 4);
            if (!e) continue;
            head = 1;
            off = (size_t)(e + 4 - buf);
        }
        for (;;) {
            size_t used = 0, dl = 0;
            const uint8_t *d = NULL;
            int pe = tether_parser_next(p, buf + off, have - off, &used, &d, &dl);
            off += used;
            assert_true(pe >= 0);
            if (pe == TETHER_PARSE_NEED_MORE) break;
            if (pe == TETHER_PARSE_FRAME_START) {
                want = lu_pattern(ECHO_SIZE(frames), (unsigned)frames);
                at = 0;
                bad |= tether_parser_frame_length(p) != ECHO_SIZE(frames);
            } else if (pe == TETHER_PARSE_PAYLOAD) {
                bad |= at + dl > ECHO_SIZE(frames) || memcmp(d, want + at, dl) != 0;
                at += dl;
                got += dl;
            } else if (pe == TETHER_PARSE_FRAME_END) {
                free(want);
                want = NULL;
                frames++;
            }
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    assert_int_equal(bad, 0);
    assert_true(got > 0);
    free(want);
    free(buf);
    free(frame);
    tether_parser_free(p);
    close(fd);
    w_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_forward_echo),
        BOTH(test_broadcast_forward),
        BOTH(test_forward_unchecked_text),
        cmocka_unit_test(test_held_frames_partial_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
