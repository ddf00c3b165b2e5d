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

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_forward_echo),
        BOTH(test_broadcast_forward),
        BOTH(test_forward_unchecked_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
