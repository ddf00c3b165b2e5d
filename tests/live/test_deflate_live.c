/* permessage-deflate on live connections through the public API: what the
 * options negotiate (our client and server, and raw peers that make the
 * offers and answers real clients and servers make), messages in both
 * directions, and the limits: a deflate bomb closes with 1009. */
#include "live_util.h"

static tether_opts *deflate_opts(void) {
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_deflate(o, 1), 0);
    return o;
}

/* Our client and server, each side's options, and what comes of them. */
typedef struct combo {
    int server_nct, client_nct, server_bits, client_bits; /* -1: leave default */
    const char *expected;                                 /* NULL: declined */
} combo;

static const combo combos[] = {
    {-1, -1, -1, -1, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"},
    {1, 0, -1, -1,
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; "
     "client_max_window_bits=12"},
    {0, 1, -1, -1,
     "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; "
     "client_max_window_bits=12"},
    {1, 1, 15, 15, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
    {0, 0, 9, 10, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10"},
    {0, 0, 15, 15, "permessage-deflate"},
};

static void set_side(tether_opts *o, const combo *k) {
    if (k->server_nct >= 0)
        assert_int_equal(
            tether_opts_set_deflate_no_context_takeover(o, k->server_nct, k->client_nct), 0);
    if (k->server_bits >= 0)
        assert_int_equal(tether_opts_set_deflate_window_bits(o, k->server_bits, k->client_bits), 0);
}

static uint8_t *text(size_t len, unsigned seed) {
    static const char *words[] = {"tether ", "deflate ", "window ", "context ", "frame "};
    uint8_t *p = malloc(len + 1);
    assert_non_null(p);
    for (size_t i = 0; i < len;) {
        const char *w = words[(i / 7 + seed) % 5];
        for (; *w && i < len; w++)
            p[i++] = (uint8_t)*w;
    }
    return p;
}

static void test_combinations(void **state) {
    for (size_t i = 0; i < sizeof combos / sizeof *combos; i++) {
        const combo *k = &combos[i];
        world w;
        w_init(&w, MODE(state));
        w.echo = 1;
        tether_opts *so = deflate_opts(), *co = deflate_opts();
        set_side(so, k);
        set_side(co, k);
        w_listen(&w, "127.0.0.1", so);
        side *c = w_connect(&w, "/", co);
        UNTIL(&w, 3000, c->open);
        const char *x = tether_conn_extensions(c->c);
        if (!x || strcmp(x, k->expected) != 0)
            fail_msg("combo %zu: negotiated '%s', expected '%s'", i, x ? x : "(none)", k->expected);
        side *s = w_server(&w, 0);
        UNTIL(&w, 3000, s && s->open);
        assert_string_equal(tether_conn_extensions(s->c), k->expected);
        static const size_t sizes[] = {0, 10, 63, 64, 1000, 70000, 1u << 20};
        for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++) {
            uint8_t *m = text(sizes[j], (unsigned)j);
            int before = c->msgs;
            assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, m, sizes[j]), 0);
            UNTIL(&w, 10000, c->msgs == before + 1);
            assert_int_equal(c->last_len, sizes[j]);
            if (sizes[j]) assert_memory_equal(c->last, m, sizes[j]);
            free(m);
        }
        tether_conn_close(c->c, 1000, NULL);
        UNTIL(&w, 3000, c->closed);
        assert_int_equal(c->code, 1000);
        tether_opts_free(so);
        tether_opts_free(co);
        w_free(&w);
    }
}

/* Deflate on one side only: nothing is negotiated, messages flow plain. */
static void test_one_sided(void **state) {
    for (int server_on = 0; server_on < 2; server_on++) {
        world w;
        w_init(&w, MODE(state));
        w.echo = 1;
        tether_opts *on = deflate_opts();
        w_listen(&w, "127.0.0.1", server_on ? on : NULL);
        side *c = w_connect(&w, "/", server_on ? NULL : on);
        UNTIL(&w, 3000, c->open);
        assert_null(tether_conn_extensions(c->c));
        assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "plain", 5), 0);
        UNTIL(&w, 3000, c->msgs == 1);
        tether_opts_free(on);
        w_free(&w);
    }
}

/* ---- raw peers --------------------------------------------------------------- */

/* Sends an upgrade request with this extensions offer to our server and
 * returns the response head (NUL-terminated, in buf). */
static void raw_upgrade(world *w, int fd, const char *offer, char *buf, size_t cap) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n",
                     offer);
    assert_int_equal(raw_write(fd, req, (size_t)n), 0);
    size_t got = 0;
    uint64_t end = lu_now_ms() + 3000;
    while (!strstr(buf, "\r\n\r\n")) {
        assert_true(lu_now_ms() < end);
        w_step(w, 10);
        ssize_t k = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
        if (k > 0) got += (size_t)k;
        buf[got] = 0;
    }
}

/* What browsers send ("client_max_window_bits" without a value) and what
 * some clients send (no parameter at all): a server with default options
 * accepts both, limiting the client's window only when it may. */
static void test_server_accepts_real_offers(void **state) {
    static const struct {
        const char *offer, *answer;
    } cases[] = {
        {"permessage-deflate; client_max_window_bits",
         "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; "
         "client_max_window_bits=12\r\n"},
        {"permessage-deflate", "Sec-WebSocket-Extensions: permessage-deflate; "
                               "server_max_window_bits=12\r\n"},
        {"x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10",
         "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        world w;
        w_init(&w, MODE(state));
        tether_opts *so = deflate_opts();
        w_listen(&w, "127.0.0.1", so);
        int fd = raw_connect(w.port);
        char head[2048] = "";
        raw_upgrade(&w, fd, cases[i].offer, head, sizeof head);
        if (!strstr(head, cases[i].answer))
            fail_msg("offer '%s': response\n%s", cases[i].offer, head);
        close(fd);
        tether_opts_free(so);
        w_free(&w);
    }
}

/* With windows set explicitly, a server that cannot limit the client's
 * window declines rather than accepting more than it was told to. */
static void test_server_explicit_window_declines(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = deflate_opts();
    assert_int_equal(tether_opts_set_deflate_window_bits(so, 12, 12), 0);
    w_listen(&w, "127.0.0.1", so);
    int fd = raw_connect(w.port);
    char head[2048] = "";
    raw_upgrade(&w, fd, "permessage-deflate", head, sizeof head);
    assert_non_null(strstr(head, "101 Switching Protocols"));
    assert_null(strstr(head, "Sec-WebSocket-Extensions"));
    close(fd);
    tether_opts_free(so);
    w_free(&w);
}

/* A server that answers our default offer with a bare "permessage-deflate"
 * (as some do): accepted, and its compressed frames are inflated. */
static void test_client_bare_answer(void **state) {
    world w;
    w_init(&w, MODE(state));
    int port;
    int lfd = raw_listen(&port);
    tether_opts *co = deflate_opts();
    side *c = w_connect_port(&w, port, "/", co);
    w_pump(&w, 100);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    char req[2048] = "";
    size_t got = 0;
    while (!strstr(req, "\r\n\r\n")) {
        w_step(&w, 10);
        ssize_t k = recv(fd, req + got, sizeof req - 1 - got, MSG_DONTWAIT);
        if (k > 0) got += (size_t)k;
        req[got] = 0;
    }
    assert_non_null(strstr(req, "Sec-WebSocket-Extensions: permessage-deflate"));
    assert_null(strstr(req, "server_max_window_bits")); /* the default asks nothing of us */
    tether_server_hs *h = tether_server_hs_new();
    size_t used;
    assert_int_equal(tether_server_hs_parse(h, (const uint8_t *)req, got, &used), 0);
    assert_int_equal(tether_server_hs_set_extensions(h, "permessage-deflate"), 0);
    const char *resp;
    size_t rlen;
    assert_int_equal(tether_server_hs_accept(h, &resp, &rlen), 0);
    assert_int_equal(raw_write(fd, resp, rlen), 0);
    /* RFC 7692 7.2.3.1: "Hello" compressed, as a server frame with RSV1. */
    static const uint8_t hello[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    assert_int_equal(raw_write(fd, hello, sizeof hello), 0);
    UNTIL(&w, 3000, c->msgs == 1);
    assert_string_equal(tether_conn_extensions(c->c), "permessage-deflate");
    assert_int_equal(c->last_len, 5);
    assert_memory_equal(c->last, "Hello", 5);
    tether_server_hs_free(h);
    close(fd);
    close(lfd);
    tether_opts_free(co);
    w_free(&w);
}

/* A message that inflates past the limit closes with 1009, on both the
 * event and the wire, and is never inflated whole. */
static void test_bomb(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = deflate_opts();
    assert_int_equal(tether_opts_set_max_message(so, 64 * 1024), 0);
    w_listen(&w, "127.0.0.1", so);
    int fd = raw_connect(w.port);
    char head[2048] = "";
    raw_upgrade(&w, fd, "permessage-deflate; client_max_window_bits", head, sizeof head);
    assert_non_null(strstr(head, "permessage-deflate"));
    /* 16 MiB of zeros compresses to about 16 KB. */
    tether_pmd *pmd = tether_pmd_new(TETHER_ROLE_CLIENT);
    assert_int_equal(tether_pmd_accept(pmd, "permessage-deflate; client_max_window_bits=12"), 0);
    size_t big = 16u << 20;
    uint8_t *zeros = calloc(1, big);
    const uint8_t *z;
    size_t zlen;
    assert_int_equal(tether_pmd_compress(pmd, zeros, big, 1, &z, &zlen), 0);
    assert_true(zlen < 64 * 1024);
    uint8_t *frame = malloc(zlen + TETHER_MAX_FRAME_HEADER);
    size_t flen;
    assert_int_equal(tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_BINARY, 1, TETHER_RSV1, z,
                                        zlen, frame, zlen + TETHER_MAX_FRAME_HEADER, &flen),
                     0);
    assert_int_equal(raw_write(fd, frame, flen), 0);
    side *s = w_server(&w, 0);
    UNTIL(&w, 5000, s && s->closed);
    assert_int_equal(s->code, TETHER_CLOSE_MESSAGE_TOO_BIG);
    assert_int_equal(s->msgs, 0);
    uint8_t buf[64];
    ssize_t n = recv(fd, buf, sizeof buf, 0); /* the close frame: 88 len 03 f1 ... */
    assert_true(n >= 4);
    assert_int_equal(buf[0], 0x88);
    assert_int_equal(buf[2] << 8 | buf[3], 1009);
    free(frame);
    free(zeros);
    tether_pmd_free(pmd);
    close(fd);
    tether_opts_free(so);
    w_free(&w);
}

static void test_option_shapes(void **state) {
    (void)state;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_deflate(o, 2), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_deflate_window_bits(o, 8, 12), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_deflate_window_bits(o, 12, 16), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_deflate_no_context_takeover(o, 2, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_deflate_level(o, 10), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_deflate_mem_level(o, 0), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_deflate_threshold(NULL, 1), TETHER_E_INVAL);
    assert_true(tether_features() & TETHER_FEATURE_DEFLATE);
    tether_opts_free(o);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        BOTH(test_combinations),
        BOTH(test_one_sided),
        BOTH(test_server_accepts_real_offers),
        BOTH(test_server_explicit_window_declines),
        BOTH(test_client_bare_answer),
        BOTH(test_bomb),
        cmocka_unit_test(test_option_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
