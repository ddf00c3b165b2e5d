/* permessage-deflate (RFC 7692) on the connection state machine: client and
 * server tt_ws pairs over every combination of context takeover and a
 * range of window sizes, text and binary, small and large, checked on the
 * wire with an independent zlib inflater held to the negotiated window; the
 * RFC's example frames byte for byte; the send threshold; fragmented sends
 * and receives with control frames between the pieces; streaming delivery;
 * the limits (deflate bomb, the exact cap, incompressible data at the cap);
 * corrupt data, bad UTF-8 inside compressed text, RSV1 where it is not
 * allowed; the send limit counted in compressed bytes; and the zlib memory
 * an idle connection keeps. */
#include "ws_harness.h"
#include "proto/deflate_int.h"

#include <zlib.h>

enum { CL = 0, SV = 1 };

static const uint8_t hello_z[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
static const uint8_t pmd_tail[] = {0x00, 0x00, 0xff, 0xff};

/* ---- Negotiation ----------------------------------------------------------- */

typedef struct pmd_pair {
    tether_pmd *p[2]; /* [CL], [SV] */
} pmd_pair;

/* The client asks for the server's parameters, the server imposes the
 * client's: both end up in force exactly as given (bits 15: no limit). */
static pmd_pair negotiate(int snct, int cnct, int sbits, int cbits) {
    pmd_pair n = {{tether_pmd_new(TETHER_ROLE_CLIENT), tether_pmd_new(TETHER_ROLE_SERVER)}};
    char offer[256], resp[256];
    size_t len;
    assert_non_null(n.p[CL]);
    assert_non_null(n.p[SV]);
    assert_int_equal(tether_pmd_set_server_no_context_takeover(n.p[CL], snct), 0);
    assert_int_equal(tether_pmd_set_server_max_window_bits(n.p[CL], sbits), 0);
    assert_int_equal(tether_pmd_set_client_no_context_takeover(n.p[SV], cnct), 0);
    assert_int_equal(tether_pmd_set_client_max_window_bits(n.p[SV], cbits), 0);
    assert_int_equal(tether_pmd_offer(n.p[CL], offer, sizeof offer, &len), 0);
    assert_int_equal(tether_pmd_negotiate(n.p[SV], offer, resp, sizeof resp, &len), 1);
    assert_int_equal(tether_pmd_accept(n.p[CL], resp), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tether_pmd_enabled(n.p[i]), 1);
        assert_int_equal(tether_pmd_server_no_context_takeover(n.p[i]), snct);
        assert_int_equal(tether_pmd_client_no_context_takeover(n.p[i]), cnct);
        assert_int_equal(tether_pmd_server_max_window_bits(n.p[i]), sbits);
        assert_int_equal(tether_pmd_client_max_window_bits(n.p[i]), cbits);
    }
    return n;
}

static int side_of(tether_role r) {
    return r == TETHER_ROLE_CLIENT ? CL : SV;
}

/* ---- A client and a server connection ------------------------------------ */

typedef struct dpair {
    tt_ws_cfg cfg[2];
    tt_ws conn[2];
    evlog log[2];       /* events each connection produced */
    peer seen[2];       /* frames each connection sent */
    tether_pmd *pmd[2]; /* owned by conn[i]; kept for inspection */
    int nct[2];         /* whether conn[i]'s own compressor drops its context */
} dpair;

static void dp_setup(dpair *d) {
    memset(d, 0, sizeof *d);
    tt_ws_cfg_defaults(&d->cfg[CL]);
    tt_ws_cfg_defaults(&d->cfg[SV]);
}

/* Starts both connections, with deflate negotiated as given (deflate 0:
 * not at all). Change d->cfg before. */
static void dp_start(dpair *d, int deflate, int snct, int cnct, int sbits, int cbits,
                     size_t threshold) {
    static const tether_role roles[2] = {TETHER_ROLE_CLIENT, TETHER_ROLE_SERVER};
    pmd_pair n = {{NULL, NULL}};
    if (deflate) n = negotiate(snct, cnct, sbits, cbits);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tt_ws_init(&d->conn[i], roles[i], &d->cfg[i], 0, 0), 0);
        peer_init(&d->seen[i], roles[i]);
        assert_int_equal(tether_parser_set_rsv_allowed(d->seen[i].p, TETHER_RSV1), 0);
        if (deflate) assert_int_equal(tt_ws_set_deflate(&d->conn[i], n.p[i], threshold), 0);
        d->pmd[i] = n.p[i];
    }
    d->nct[CL] = cnct;
    d->nct[SV] = snct;
}

static void dp_free(dpair *d) {
    for (int i = 0; i < 2; i++) {
        tt_ws_cleanup(&d->conn[i]);
        peer_free(&d->seen[i]);
        log_free(&d->log[i]);
    }
}

/* Moves what conn[from] queued to the other connection, fed in pieces of
 * chunk bytes (0: at once). The frames are recorded in seen[from] (after
 * the ones already there) and the receiver's events in log[to]. */
static void dp_flush(dpair *d, int from, size_t chunk) {
    tt_ws *c = &d->conn[from];
    size_t n = tt_outbuf_len(&c->out);
    uint8_t *copy = xmalloc(n);
    if (n) memcpy(copy, c->out.buf + c->out.head, n);
    peer_read(&d->seen[from], c); /* consumes c->out */
    feed_chunks(&d->conn[1 - from], copy, n, chunk, &d->log[1 - from]);
    free(copy);
}

/* Forgets the frames and events recorded so far. */
static void dp_forget(dpair *d) {
    for (int i = 0; i < 2; i++) {
        peer_forget(&d->seen[i]);
        log_clear(&d->log[i]);
    }
}

/* ---- An independent inflater ------------------------------------------------ */

/* zlib held to exactly the negotiated window: a sender that used a bigger
 * one makes it fail ("invalid distance too far back"). */
typedef struct zdec {
    z_stream z;
    int bits, nct, ready;
} zdec;

static void zdec_init(zdec *d, int bits, int nct) {
    memset(d, 0, sizeof *d);
    d->bits = bits;
    d->nct = nct;
}

static void zdec_end(zdec *d) {
    if (d->ready) inflateEnd(&d->z);
    d->ready = 0;
}

static void zdec_feed(zdec *d, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *got) {
    d->z.next_in = (Bytef *)(uintptr_t)in;
    d->z.avail_in = (uInt)n;
    for (int guard = 0; guard < 100000; guard++) {
        d->z.next_out = out + *got;
        d->z.avail_out = (uInt)(cap - *got);
        int zrc = inflate(&d->z, Z_SYNC_FLUSH);
        assert_true(zrc == Z_OK || zrc == Z_BUF_ERROR);
        *got = cap - d->z.avail_out;
        if (d->z.avail_in == 0 && d->z.avail_out > 0) return;
        assert_true(*got < cap); /* the message is larger than expected */
    }
    fail();
}

/* Inflates one message made of the payloads of frames f[0..nf), appending
 * the tail the sender removed; returns its size. */
static size_t zdec_msg(zdec *d, const out_frame *f, int nf, uint8_t *out, size_t cap) {
    size_t got = 0;
    if (!d->ready) {
        assert_int_equal(inflateInit2(&d->z, -d->bits), Z_OK);
        d->ready = 1;
    }
    for (int i = 0; i < nf; i++)
        zdec_feed(d, f[i].data, f[i].len, out, cap, &got);
    zdec_feed(d, pmd_tail, sizeof pmd_tail, out, cap, &got);
    if (d->nct) zdec_end(d);
    return got;
}

/* ---- Messages ---------------------------------------------------------------- */

/* Valid UTF-8 of exactly n bytes, compressible (words over a small
 * vocabulary, some 2- and 3-byte characters). */
static void fill_text(uint8_t *p, size_t n, unsigned seed) {
    static const char *const words[] = {"h\xC3\xA9llo ", "w\xC3\xB6rld ", "\xE2\x82\xAC ",
                                        "tether ",       "deflate ",      "\xC3\xA0 "};
    size_t i = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (i < n) {
        x = x * 1103515245u + 12345u;
        const char *w = words[(x >> 16) % 6];
        size_t wl = strlen(w);
        if (wl > n - i) w = "x", wl = 1;
        memcpy(p + i, w, wl);
        i += wl;
    }
}

/* Binary from a small alphabet: compresses to about half. */
static void fill_bin(uint8_t *p, size_t n, unsigned seed) {
    uint32_t x = seed * 40503u + 7;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(0x80 | ((x >> 16) & 0x0f));
    }
}

/* Incompressible bytes. */
static void fill_random(uint8_t *p, size_t n, unsigned seed) {
    uint32_t x = seed * 69069u + 3;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 23);
    }
}

/* Compresses a message as the sender `tx` would, into a fresh buffer. */
static uint8_t *compress_with(tether_pmd *tx, const void *msg, size_t n, size_t *zn) {
    const uint8_t *z;
    assert_int_equal(tether_pmd_compress(tx, msg, n, 1, &z, zn), 0);
    uint8_t *copy = xmalloc(*zn);
    memcpy(copy, z, *zn);
    return copy;
}

/* One negotiated pmd for a connection in role r (the peer's is in *peer_pmd,
 * NULL to free it). */
static tether_pmd *pmd_for(tether_role r, int snct, int cnct, tether_pmd **peer_pmd) {
    pmd_pair n = negotiate(snct, cnct, 15, 15);
    int me = side_of(r);
    if (peer_pmd)
        *peer_pmd = n.p[1 - me];
    else
        tether_pmd_free(n.p[1 - me]);
    return n.p[me];
}

/* ---- Every combination -------------------------------------------------------- */

/* conn[from] sends msg twice; each time the other side receives it whole,
 * the wire holds one RSV1 frame that an independent inflater with the
 * negotiated window decodes, and the zlib state kept follows the context
 * takeover parameters. The second copy is byte-identical without takeover
 * and, for a small message, shorter with it. */
static void exchange(dpair *d, int from, int op, const uint8_t *msg, size_t n, size_t chunk,
                     zdec *z) {
    int to = 1 - from;
    uint8_t *first = NULL, *out = xmalloc(n + 1);
    size_t first_len = 0;
    for (int rep = 0; rep < 2; rep++) {
        dp_forget(d);
        assert_int_equal(tt_ws_send(&d->conn[from], (tether_opcode)op, msg, n), 0);
        dp_flush(d, from, chunk);
        assert_int_equal(d->seen[from].n, 1);
        const out_frame *f = &d->seen[from].f[0];
        assert_int_equal(f->op, op);
        assert_int_equal(f->fin, 1);
        assert_int_equal(f->rsv, TETHER_RSV1);
        assert_int_equal(zdec_msg(z, f, 1, out, n + 1), n);
        if (n) assert_memory_equal(out, msg, n);
        assert_int_equal(d->log[to].n, 1);
        assert_int_equal(d->log[to].e[0].type, TT_WS_EV_MESSAGE);
        assert_int_equal(d->log[to].e[0].opcode, op);
        assert_ev_data(&d->log[to].e[0], msg, n);
        assert_int_equal(d->pmd[from]->def_ready, !d->nct[from]);
        assert_int_equal(d->pmd[to]->inf_ready, !d->nct[from]);
        if (rep == 0) {
            first_len = f->len;
            first = xmalloc(first_len);
            memcpy(first, f->data, first_len);
        } else if (d->nct[from]) {
            assert_int_equal(f->len, first_len);
            assert_memory_equal(f->data, first, first_len);
        } else if (n <= 1000) {
            assert_true(f->len < first_len);
        }
    }
    free(first);
    free(out);
}

static void test_matrix(void **state) {
    (void)state;
    static const int bits[][2] = {{9, 9}, {12, 12}, {15, 15}, {9, 15}, {15, 12}, {12, 9}};
    static const size_t sizes[] = {100, 100000};
    const size_t big = 100000;
    uint8_t *msg = xmalloc(big);
    int combo = 0;
    for (int snct = 0; snct <= 1; snct++)
        for (int cnct = 0; cnct <= 1; cnct++)
            for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++, combo++) {
                dpair d;
                dp_setup(&d);
                dp_start(&d, 1, snct, cnct, bits[b][0], bits[b][1], 0);
                zdec z[2];
                zdec_init(&z[CL], bits[b][1], cnct); /* decodes what the client sends */
                zdec_init(&z[SV], bits[b][0], snct);
                for (int op = TETHER_OP_TEXT; op <= TETHER_OP_BINARY; op++)
                    for (size_t s = 0; s < 2; s++) {
                        size_t n = sizes[s];
                        size_t chunk = n > 1000 ? 0 : (size_t)(combo % 3) * 2; /* 0, 2, 4 */
                        if (op == TETHER_OP_TEXT)
                            fill_text(msg, n, (unsigned)(combo + s));
                        else
                            fill_bin(msg, n, (unsigned)(combo + s));
                        exchange(&d, CL, op, msg, n, chunk, &z[CL]);
                        exchange(&d, SV, op, msg, n, chunk, &z[SV]);
                    }
                /* Incompressible data goes through too (stored blocks). */
                fill_random(msg, big, (unsigned)combo);
                exchange(&d, CL, TETHER_OP_BINARY, msg, big, 0, &z[CL]);
                exchange(&d, SV, TETHER_OP_BINARY, msg, big, 0, &z[SV]);
                zdec_end(&z[CL]);
                zdec_end(&z[SV]);
                dp_free(&d);
            }
    assert_int_equal(combo, 24);
    free(msg);
}

/* ---- RFC 7692 section 7.2.3, byte for byte --------------------------------------- */

static void test_rfc_hello_on_the_wire(void **state) {
    (void)state;
    static const uint8_t frame[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t second[] = {0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    for (int nct = 0; nct <= 1; nct++) {
        dpair d;
        dp_setup(&d);
        dp_start(&d, 1, nct, nct, 15, 15, 0);
        for (int i = 0; i < 2 + nct; i++) { /* (a third with takeover differs again) */
            /* A server frame is not masked: the queue holds exactly it. */
            assert_int_equal(tt_ws_send(&d.conn[SV], TETHER_OP_TEXT, "Hello", 5), 0);
            const uint8_t *want = nct || i == 0 ? frame : second;
            size_t wn = nct || i == 0 ? sizeof frame : sizeof second;
            assert_int_equal(tt_outbuf_len(&d.conn[SV].out), wn);
            assert_memory_equal(d.conn[SV].out.buf + d.conn[SV].out.head, want, wn);
            /* A client frame is the same, masked: c1 87 (or 85) + key. */
            assert_int_equal(tt_ws_send(&d.conn[CL], TETHER_OP_TEXT, "Hello", 5), 0);
            const uint8_t *h = d.conn[CL].out.buf + d.conn[CL].out.head;
            assert_int_equal(tt_outbuf_len(&d.conn[CL].out), wn + 4);
            assert_int_equal(h[0], 0xc1);
            assert_int_equal(h[1], 0x80 | (wn - 2));
            dp_forget(&d);
            dp_flush(&d, SV, 1);
            dp_flush(&d, CL, 1);
            for (int side = 0; side < 2; side++) {
                const out_frame *f = &d.seen[side].f[0];
                assert_int_equal(d.seen[side].n, 1);
                assert_int_equal(f->masked, side == CL);
                assert_int_equal(f->rsv, TETHER_RSV1);
                assert_int_equal(f->len, wn - 2);
                assert_memory_equal(f->data, want + 2, wn - 2);
                assert_int_equal(d.log[1 - side].n, 1);
                assert_ev_data(&d.log[1 - side].e[0], "Hello", 5);
            }
        }
        dp_free(&d);
    }
}

/* The RFC's received forms: one frame, two fragments (7.2.3.1), stored
 * (7.2.3.3), two blocks (7.2.3.4), BFINAL set (7.2.3.5), in either role
 * (masked for a server), whole and a byte at a time. */
static void test_rfc_received_forms(void **state) {
    static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                     0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t two[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                  0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t bfinal[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    fx f;
    fx_setup(&f, ROLE(state));
    fx_start(&f, 0, 0);
    wire w = {0};
    w_rawp(&w, f.role, 0xc1, hello_z, sizeof hello_z);
    w_rawp(&w, f.role, 0x41, hello_z, 3); /* RSV1 on the first fragment only */
    w_rawp(&w, f.role, 0x80, hello_z + 3, 4);
    w_rawp(&w, f.role, 0xc1, stored, sizeof stored);
    w_rawp(&w, f.role, 0xc1, two, sizeof two);
    w_rawp(&w, f.role, 0xc1, bfinal, sizeof bfinal);
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        for (int copy = 0; copy <= 1; copy++) {
            fx_restart(&f, copy, 0);
            assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(f.role, 0, 0, NULL), 0), 0);
            feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
            assert_int_equal(f.log.n, 5);
            for (int i = 0; i < 5; i++) {
                assert_int_equal(f.log.e[i].type, TT_WS_EV_MESSAGE);
                assert_int_equal(f.log.e[i].opcode, TETHER_OP_TEXT);
                assert_ev_data(&f.log.e[i], "Hello", 5);
                assert_false(f.log.e[i].in_input); /* inflated: the connection's memory */
            }
            assert_int_equal(f.c.state, TT_WS_OPEN);
            assert_int_equal(tt_outbuf_len(&f.c.out), 0);
        }
    }
    w_free(&w);
    fx_free(&f);
}

/* Empty messages: sent as the single byte 0x00, received as that or as no
 * payload at all. */
static void test_empty(void **state) {
    (void)state;
    dpair d;
    dp_setup(&d);
    dp_start(&d, 1, 0, 0, 15, 15, 0);
    assert_int_equal(tt_ws_send(&d.conn[SV], TETHER_OP_BINARY, NULL, 0), 0);
    static const uint8_t empty[] = {0xc2, 0x01, 0x00};
    assert_int_equal(tt_outbuf_len(&d.conn[SV].out), 3);
    assert_memory_equal(d.conn[SV].out.buf + d.conn[SV].out.head, empty, 3);
    dp_flush(&d, SV, 0);
    assert_int_equal(d.log[CL].n, 1);
    assert_int_equal(d.log[CL].e[0].type, TT_WS_EV_MESSAGE);
    assert_int_equal(d.log[CL].e[0].opcode, TETHER_OP_BINARY);
    assert_int_equal(d.log[CL].e[0].len, 0);
    /* No payload at all, and an empty compressed fragmented message. */
    wire w = {0};
    w_rawp(&w, TETHER_ROLE_CLIENT, 0xc1, NULL, 0);
    w_rawp(&w, TETHER_ROLE_CLIENT, 0x41, NULL, 0);
    w_rawp(&w, TETHER_ROLE_CLIENT, 0x80, empty + 2, 1);
    log_clear(&d.log[CL]);
    feed_wire(&d.conn[CL], &w, &d.log[CL]);
    assert_int_equal(d.log[CL].n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(d.log[CL].e[i].type, TT_WS_EV_MESSAGE);
        assert_int_equal(d.log[CL].e[i].opcode, TETHER_OP_TEXT);
        assert_int_equal(d.log[CL].e[i].len, 0);
    }
    /* The context goes on after them. */
    dp_forget(&d);
    assert_int_equal(tt_ws_send(&d.conn[SV], TETHER_OP_TEXT, "Hello", 5), 0);
    dp_flush(&d, SV, 0);
    assert_ev_data(&d.log[CL].e[0], "Hello", 5);
    w_free(&w);
    dp_free(&d);
}

/* A message whose last frame is empty (the compressed data all came
 * before): the inflater still ends the message there, so the next one
 * starts afresh under the cap and a stream without takeover is let go of. */
static void test_empty_last_frame(void **state) {
    tether_role role = ROLE(state);
    uint8_t msg[60];
    fill_text(msg, sizeof msg, 12);
    for (int streaming = 0; streaming <= 1; streaming++) {
        tether_pmd *tx;
        tether_pmd_free(pmd_for(role, 1, 1, &tx));
        wire w = {0};
        for (int i = 0; i < 3; i++) {
            const uint8_t *z;
            size_t zn;
            assert_int_equal(tether_pmd_compress(tx, msg, sizeof msg, 1, &z, &zn), 0);
            w_rawp(&w, role, 0x41, z, zn);
            w_rawp(&w, role, 0x80, NULL, 0);
        }
        fx f;
        fx_setup(&f, role);
        f.cfg.max_message = 100;
        f.cfg.streaming = streaming;
        fx_start(&f, 0, 0);
        assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 1, 1, NULL), 0), 0);
        feed_wire(&f.c, &w, &f.log);
        assert_int_equal(f.log.n, streaming ? 6 : 3);
        for (int i = 0; i < 3; i++) {
            if (streaming) {
                assert_ev_data(&f.log.e[2 * i], msg, sizeof msg);
                assert_int_equal(f.log.e[2 * i + 1].fin, 1);
                assert_int_equal(f.log.e[2 * i + 1].len, 0);
            } else {
                assert_int_equal(f.log.e[i].type, TT_WS_EV_MESSAGE);
                assert_ev_data(&f.log.e[i], msg, sizeof msg);
            }
        }
        assert_int_equal(f.c.pmd->inf_ready, 0);
        fx_free(&f);
        w_free(&w);
        tether_pmd_free(tx);
    }
}

/* ---- The threshold --------------------------------------------------------------- */

static void test_threshold(void **state) {
    (void)state;
    dpair d;
    dp_setup(&d);
    dp_start(&d, 1, 0, 0, 15, 15, 10);
    uint8_t msg[64];
    fill_text(msg, sizeof msg, 1);
    for (int side = 0; side < 2; side++) {
        dp_forget(&d);
        assert_int_equal(tt_ws_send(&d.conn[side], TETHER_OP_TEXT, msg, 9), 0);
        assert_int_equal(tt_ws_send(&d.conn[side], TETHER_OP_TEXT, msg, 10), 0);
        assert_int_equal(tt_ws_send(&d.conn[side], TETHER_OP_BINARY, msg, 0), 0);
        /* In pieces: a whole message in one piece follows the threshold;
         * one that has more pieces to come is compressed. */
        assert_int_equal(tt_ws_send_fragment(&d.conn[side], TETHER_OP_TEXT, msg, 9, 1), 0);
        assert_int_equal(tt_ws_send_fragment(&d.conn[side], TETHER_OP_TEXT, msg, 10, 1), 0);
        assert_int_equal(tt_ws_send_fragment(&d.conn[side], TETHER_OP_TEXT, msg, 1, 0), 0);
        assert_int_equal(tt_ws_send_fragment(&d.conn[side], TETHER_OP_TEXT, msg + 1, 2, 1), 0);
        dp_flush(&d, side, 0);
        const peer *s = &d.seen[side];
        assert_int_equal(s->n, 7);
        static const unsigned want_rsv[7] = {0, TETHER_RSV1, 0, 0, TETHER_RSV1, TETHER_RSV1, 0};
        for (int i = 0; i < 7; i++)
            assert_int_equal(s->f[i].rsv, want_rsv[i]);
        assert_out_frame(&s->f[0], TETHER_OP_TEXT, 1, msg, 9); /* plain on the wire */
        assert_out_frame(&s->f[2], TETHER_OP_BINARY, 1, NULL, 0);
        assert_out_frame(&s->f[3], TETHER_OP_TEXT, 1, msg, 9);
        assert_int_equal(s->f[5].op, TETHER_OP_TEXT);
        assert_int_equal(s->f[6].op, TETHER_OP_CONTINUATION);
        const evlog *l = &d.log[1 - side];
        assert_int_equal(l->n, 6);
        static const size_t want_len[6] = {9, 10, 0, 9, 10, 3};
        for (int i = 0; i < 6; i++) {
            assert_int_equal(l->e[i].type, TT_WS_EV_MESSAGE);
            assert_ev_data(&l->e[i], msg, want_len[i]);
        }
    }
    dp_free(&d);
}

/* ---- Fragmented messages ---------------------------------------------------------- */

/* Sent in pieces, with a ping and a pong between them: RSV1 on the first
 * frame only, each piece its own frame, control frames plain; the peer
 * gets the control events and then the whole message, and an independent
 * inflater reads the frames as one message. */
static void test_fragmented_send(void **state) {
    (void)state;
    const size_t n = 30000;
    uint8_t *msg = xmalloc(n), *out = xmalloc(n + 1);
    fill_text(msg, n, 7);
    for (int nct = 0; nct <= 1; nct++) {
        dpair d;
        dp_setup(&d);
        dp_start(&d, 1, nct, nct, 12, 12, 0);
        zdec z[2];
        zdec_init(&z[CL], 12, nct);
        zdec_init(&z[SV], 12, nct);
        for (int round = 0; round < 3; round++)
            for (int side = 0; side < 2; side++) {
                tt_ws *c = &d.conn[side];
                static const size_t cuts[] = {0, 1, 5000, 5003, 20000, 30000};
                dp_forget(&d);
                for (int k = 0; k + 1 < 6; k++) {
                    size_t a = cuts[k], b = cuts[k + 1];
                    assert_int_equal(tt_ws_send_fragment(c, TETHER_OP_TEXT, msg + a, b - a, b == n),
                                     0);
                    if (k == 0)
                        assert_int_equal(tt_ws_send(c, TETHER_OP_TEXT, "x", 1), TETHER_E_STATE);
                    if (k == 2) assert_int_equal(tt_ws_ping(c, "pi", 2), 0);
                }
                dp_flush(&d, side, round == 1 ? 7 : 0);
                const peer *s = &d.seen[side];
                assert_int_equal(s->n, 6);
                assert_out_frame(&s->f[3], TETHER_OP_PING, 1, "pi", 2);
                assert_int_equal(s->f[3].rsv, 0);
                out_frame data[5];
                for (int i = 0, j = 0; i < 6; i++) {
                    if (i == 3) continue;
                    assert_int_equal(s->f[i].op, j ? TETHER_OP_CONTINUATION : TETHER_OP_TEXT);
                    assert_int_equal(s->f[i].rsv, j ? 0 : TETHER_RSV1);
                    assert_int_equal(s->f[i].fin, j == 4);
                    data[j++] = s->f[i];
                }
                assert_int_equal(zdec_msg(&z[side], data, 5, out, n + 1), n);
                assert_memory_equal(out, msg, n);
                const evlog *l = &d.log[1 - side];
                assert_int_equal(l->n, 2);
                assert_int_equal(l->e[0].type, TT_WS_EV_PING);
                assert_int_equal(l->e[1].type, TT_WS_EV_MESSAGE);
                assert_ev_data(&l->e[1], msg, n);
                /* The receiver answered the ping, plainly. */
                peer_read(&d.seen[1 - side], &d.conn[1 - side]);
                assert_int_equal(d.seen[1 - side].n, 1);
                assert_out_frame(&d.seen[1 - side].f[0], TETHER_OP_PONG, 1, "pi", 2);
                assert_int_equal(d.seen[1 - side].f[0].rsv, 0);
                assert_int_equal(d.pmd[side]->def_ready, !nct);
            }
        zdec_end(&z[CL]);
        zdec_end(&z[SV]);
        dp_free(&d);
    }
    free(msg);
    free(out);
}

/* A compressed message received as many frames, one of them empty, with a
 * ping and a pong between, fed whole and a byte at a time. */
static void test_fragmented_receive(void **state) {
    tether_role role = ROLE(state);
    const size_t n = 5000;
    uint8_t *msg = xmalloc(n);
    fill_text(msg, n, 3);
    tether_pmd *tx;
    tether_pmd_free(pmd_for(role, 0, 0, &tx));
    wire w = {0};
    /* The peer compresses in pieces, as its own tt_ws would. */
    static const size_t cuts[] = {0, 100, 100, 2500, 5000};
    for (int k = 0; k + 1 < 5; k++) {
        const uint8_t *z;
        size_t zn, a = cuts[k], b = cuts[k + 1];
        assert_int_equal(tether_pmd_compress(tx, msg + a, b - a, b == n, &z, &zn), 0);
        uint8_t b0 = (uint8_t)((b == n ? 0x80 : 0) | (k ? 0x00 : 0x41));
        w_rawp(&w, role, b0, z, zn);
        if (k == 1) w_frame(&w, role, TETHER_OP_PING, 1, "p", 1);
        if (k == 2) w_frame(&w, role, TETHER_OP_PONG, 1, "q", 1);
    }
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        fx f;
        fx_setup(&f, role);
        fx_start(&f, 0, 0);
        assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 0, 0, NULL), 0), 0);
        feed_chunks(&f.c, w.b, w.len, chunk, &f.log);
        assert_int_equal(f.log.n, 3);
        assert_int_equal(f.log.e[0].type, TT_WS_EV_PING);
        assert_int_equal(f.log.e[1].type, TT_WS_EV_PONG);
        assert_int_equal(f.log.e[2].type, TT_WS_EV_MESSAGE);
        assert_int_equal(f.log.e[2].opcode, TETHER_OP_TEXT);
        assert_ev_data(&f.log.e[2], msg, n);
        peer_read(&f.pr, &f.c);
        assert_int_equal(f.pr.n, 1);
        assert_out_frame(&f.pr.f[0], TETHER_OP_PONG, 1, "p", 1);
        fx_free(&f);
    }
    tether_pmd_free(tx);
    w_free(&w);
    free(msg);
}

/* ---- Streaming ---------------------------------------------------------------------- */

/* Streaming mode: inflated as the bytes come, handed out as fragments (only
 * the last with fin, none empty before it), in the connection's memory. */
static void test_streaming(void **state) {
    (void)state;
    const size_t n = 300000;
    uint8_t *msg = xmalloc(n), *got = xmalloc(n);
    fill_bin(msg, n, 5);
    for (int copy = 0; copy <= 1; copy++) {
        dpair d;
        dp_setup(&d);
        d.cfg[SV].streaming = 1;
        dp_start(&d, 1, 0, 0, 15, 15, 0);
        d.conn[SV].copy_data = copy;
        for (int round = 0; round < 3; round++) {
            /* The last round comes a byte at a time: many bytes then give
             * no output, and no empty fragment is reported for them. */
            size_t len = round == 2 ? 3000 : n;
            dp_forget(&d);
            assert_int_equal(tt_ws_send(&d.conn[CL], TETHER_OP_BINARY, msg, len), 0);
            dp_flush(&d, CL, round == 2 ? 1 : 4096);
            const evlog *l = &d.log[SV];
            assert_true(l->n > 10); /* the compressed frame came in many reads */
            for (int i = 0; i + 1 < l->n; i++)
                assert_true(l->e[i].len > 0);
            for (int i = 0; i < l->n; i++)
                assert_false(l->e[i].in_input);
            assert_int_equal(gather_fragments(l, 0, l->n, got, n), len);
            assert_memory_equal(got, msg, len);
            assert_int_equal(l->e[0].opcode, TETHER_OP_BINARY);
        }
        /* In pieces, text, with a ping between. */
        dp_forget(&d);
        fill_text(msg, 20000, 9);
        assert_int_equal(tt_ws_send_fragment(&d.conn[CL], TETHER_OP_TEXT, msg, 10000, 0), 0);
        assert_int_equal(tt_ws_ping(&d.conn[CL], NULL, 0), 0);
        assert_int_equal(tt_ws_send_fragment(&d.conn[CL], TETHER_OP_TEXT, msg + 10000, 10000, 1),
                         0);
        dp_flush(&d, CL, 0);
        const evlog *l = &d.log[SV];
        assert_int_equal(l->n, 3);
        assert_int_equal(l->e[0].type, TT_WS_EV_FRAGMENT);
        assert_int_equal(l->e[1].type, TT_WS_EV_PING);
        assert_int_equal(l->e[2].type, TT_WS_EV_FRAGMENT);
        assert_int_equal(l->e[0].fin, 0);
        assert_int_equal(l->e[2].fin, 1);
        assert_int_equal(l->e[2].opcode, TETHER_OP_TEXT);
        assert_int_equal(l->e[0].len + l->e[2].len, 20000);
        assert_memory_equal(l->e[0].data, msg, l->e[0].len);
        assert_memory_equal(l->e[2].data, msg + l->e[0].len, l->e[2].len);
        dp_free(&d);
    }
    free(msg);
    free(got);
}

/* Streaming has no message limit, but each frame's inflated output is held
 * to the frame limit, as a plain frame's length is. */
static void test_streaming_limits(void **state) {
    tether_role role = ROLE(state);
    uint8_t msg[2002];
    fill_bin(msg, sizeof msg, 2);
    for (int over = 0; over <= 1; over++) {
        tether_pmd *tx;
        tether_pmd *rx = pmd_for(role, 0, 0, &tx);
        wire w = {0};
        size_t piece = over ? 1001 : 1000;
        for (int k = 0; k < 2; k++) {
            const uint8_t *z;
            size_t zn;
            assert_int_equal(tether_pmd_compress(tx, msg + k * piece, piece, k == 1, &z, &zn), 0);
            w_rawp(&w, role, (uint8_t)(k ? 0x80 : 0x42), z, zn);
        }
        fx f;
        fx_setup(&f, role);
        f.cfg.streaming = 1;
        f.cfg.max_message = 1000;
        fx_start(&f, 0, 0);
        assert_int_equal(tt_ws_set_deflate(&f.c, rx, 0), 0);
        feed_wire(&f.c, &w, &f.log);
        if (!over) {
            assert_int_equal(f.log.n, 2);
            assert_int_equal(f.log.e[0].type, TT_WS_EV_FRAGMENT);
            assert_ev_data(&f.log.e[0], msg, 1000);
            assert_int_equal(f.log.e[1].type, TT_WS_EV_FRAGMENT);
            assert_int_equal(f.log.e[1].fin, 1);
            assert_ev_data(&f.log.e[1], msg + 1000, 1000);
        } else {
            assert_int_equal(f.log.n, 1);
            assert_close_ev(&f.log.e[0], TETHER_CLOSE_MESSAGE_TOO_BIG, 0, TETHER_E_MESSAGE_TOO_BIG);
            assert_true(f.c.pmd->inf_out.cap <= 1000);
        }
        fx_free(&f);
        tether_pmd_free(tx);
        w_free(&w);
    }
}

/* ---- Limits ------------------------------------------------------------------------- */

/* The cap is on the inflated size: exactly max_message passes, one byte
 * more fails with 1009, in one frame or several. */
static void test_cap_exact(void **state) {
    (void)state;
    const size_t max = 50000;
    uint8_t *msg = xmalloc(max + 1);
    fill_text(msg, max + 1, 4);
    for (int over = 0; over <= 1; over++)
        for (int pieces = 0; pieces <= 1; pieces++) {
            dpair d;
            dp_setup(&d);
            d.cfg[SV].max_message = max;
            dp_start(&d, 1, 0, 0, 15, 15, 0);
            size_t n = max + (size_t)over;
            if (pieces) {
                assert_int_equal(tt_ws_send_fragment(&d.conn[CL], TETHER_OP_TEXT, msg, 30000, 0),
                                 0);
                assert_int_equal(
                    tt_ws_send_fragment(&d.conn[CL], TETHER_OP_TEXT, msg + 30000, n - 30000, 1), 0);
            } else {
                assert_int_equal(tt_ws_send(&d.conn[CL], TETHER_OP_TEXT, msg, n), 0);
            }
            dp_flush(&d, CL, 0);
            const evlog *l = &d.log[SV];
            assert_int_equal(l->n, 1);
            if (!over) {
                assert_int_equal(l->e[0].type, TT_WS_EV_MESSAGE);
                assert_ev_data(&l->e[0], msg, max);
            } else {
                assert_close_ev(&l->e[0], TETHER_CLOSE_MESSAGE_TOO_BIG, 0,
                                TETHER_E_MESSAGE_TOO_BIG);
                peer_read(&d.seen[SV], &d.conn[SV]);
                assert_int_equal(d.seen[SV].n, 1);
                assert_int_equal(d.seen[SV].f[0].close_code, TETHER_CLOSE_MESSAGE_TOO_BIG);
                assert_int_equal(d.seen[SV].f[0].rsv, 0);
            }
            dp_free(&d);
        }
    free(msg);
}

/* A deflate bomb (16 MiB of zeros in about 16 KiB) closes with 1009 and is
 * never inflated past the cap. */
static void test_bomb(void **state) {
    tether_role role = ROLE(state);
    const size_t big = 16u << 20, max = 256u << 10;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    tether_pmd *tx;
    tether_pmd *rx = pmd_for(role, 0, 0, &tx);
    size_t zn;
    uint8_t *z = compress_with(tx, zeros, big, &zn);
    free(zeros);
    assert_true(zn < big / 500);
    for (int frames = 1; frames <= 3; frames += 2) {
        wire w = {0};
        if (frames == 1) {
            w_rawp(&w, role, 0xc2, z, zn);
        } else { /* the same split in three frames */
            size_t a = zn / 3;
            w_rawp(&w, role, 0x42, z, a);
            w_rawp(&w, role, 0x00, z + a, a);
            w_rawp(&w, role, 0x80, z + 2 * a, zn - 2 * a);
        }
        fx f;
        fx_setup(&f, role);
        f.cfg.max_message = max;
        fx_start(&f, 0, 0);
        tether_pmd *r = frames == 1 ? rx : pmd_for(role, 0, 0, NULL);
        assert_int_equal(tt_ws_set_deflate(&f.c, r, 0), 0);
        feed_chunks(&f.c, w.b, w.len, 8192, &f.log);
        assert_int_equal(f.log.n, 1);
        assert_close_ev(&f.log.e[0], TETHER_CLOSE_MESSAGE_TOO_BIG, 0, TETHER_E_MESSAGE_TOO_BIG);
        assert_true(f.c.pmd->inf_out.cap <= max);
        assert_true(f.c.msg_cap <= 2 * max);
        peer_read(&f.pr, &f.c);
        assert_int_equal(f.pr.n, 1);
        assert_int_equal(f.pr.f[0].close_code, TETHER_CLOSE_MESSAGE_TOO_BIG);
        fx_free(&f);
        w_free(&w);
    }
    free(z);
    tether_pmd_free(tx);
}

/* The first fragment of a compressed message that will never be finished
 * (15 KiB that inflates to 15 MiB): the connection holds one buffer of the
 * inflated size, not that and an inflater buffer as big. Streaming, it
 * holds neither once the piece was delivered. */
static void test_unfinished_held_once(void **state) {
    tether_role role = ROLE(state);
    const size_t big = 15u << 20;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    for (int streaming = 0; streaming <= 1; streaming++) {
        tether_pmd *tx;
        tether_pmd *rx = pmd_for(role, 0, 0, &tx);
        const uint8_t *z;
        size_t zn;
        assert_int_equal(tether_pmd_compress(tx, zeros, big, 0, &z, &zn), 0);
        assert_true(zn < 20u << 10);
        wire w = {0};
        w_rawp(&w, role, 0x42, z, zn); /* binary, RSV1, not FIN */
        fx f;
        fx_setup(&f, role);
        f.cfg.streaming = streaming;
        fx_start(&f, 0, 0);
        assert_int_equal(tt_ws_set_deflate(&f.c, rx, 0), 0);
        feed_chunks(&f.c, w.b, w.len, 4096, &f.log);
        if (streaming) {
            size_t got = 0;
            for (int i = 0; i < f.log.n; i++)
                got += f.log.e[i].len;
            assert_int_equal(got, big);
            assert_true(f.c.pmd->inf_out.cap <= 16u << 10);
            assert_true(f.c.msg_cap <= 64u << 10);
        } else {
            assert_int_equal(f.log.n, 0);
            assert_int_equal(f.c.msg_len, big);
            assert_true(f.c.msg_cap <= 16u << 20);
            assert_null(f.c.pmd->inf_out.data);
        }
        fx_free(&f);
        w_free(&w);
        tether_pmd_free(tx);
    }
    free(zeros);
}

/* Incompressible data exactly at max_message is a little longer compressed
 * than max_message: it is accepted (the limit is on what the application
 * receives), while a plain frame one byte over still fails. */
static void test_wire_slack(void **state) {
    tether_role role = ROLE(state);
    const size_t max = 10000;
    uint8_t msg[10001];
    fill_random(msg, sizeof msg, 8);
    for (int streaming = 0; streaming <= 1; streaming++) {
        tether_pmd *tx;
        tether_pmd *rx = pmd_for(role, 0, 0, &tx);
        size_t zn;
        uint8_t *z = compress_with(tx, msg, max, &zn);
        assert_true(zn > max);
        wire w = {0};
        w_rawp(&w, role, 0xc2, z, zn);
        w_frame(&w, role, TETHER_OP_BINARY, 1, msg, max + 1);
        fx f;
        fx_setup(&f, role);
        f.cfg.max_message = max;
        f.cfg.streaming = streaming;
        fx_start(&f, 0, 0);
        assert_int_equal(tt_ws_set_deflate(&f.c, rx, 0), 0);
        feed_wire(&f.c, &w, &f.log);
        assert_int_equal(f.log.n, 2);
        assert_int_equal(f.log.e[0].type, streaming ? TT_WS_EV_FRAGMENT : TT_WS_EV_MESSAGE);
        assert_ev_data(&f.log.e[0], msg, max);
        assert_close_ev(&f.log.e[1], TETHER_CLOSE_MESSAGE_TOO_BIG, 0, TETHER_E_FRAME_TOO_BIG);
        fx_free(&f);
        free(z);
        tether_pmd_free(tx);
        w_free(&w);
    }
}

/* ---- Bad data ------------------------------------------------------------------------ */

static void expect_close(tether_role role, const wire *w, int utf8_check, int code, int err) {
    fx f;
    fx_setup(&f, role);
    f.cfg.utf8_check = utf8_check;
    for (int streaming = 0; streaming <= 1; streaming++) {
        if (streaming) fx_free(&f);
        f.cfg.streaming = streaming;
        fx_start(&f, 0, 0);
        assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 0, 0, NULL), 0), 0);
        feed_wire(&f.c, w, &f.log);
        assert_true(f.log.n >= 1);
        assert_close_ev(&f.log.e[f.log.n - 1], code, 0, err);
        for (int i = 0; i + 1 < f.log.n; i++) /* nothing but partial text before */
            assert_int_equal(f.log.e[i].type, TT_WS_EV_FRAGMENT);
        peer_read(&f.pr, &f.c);
        assert_int_equal(f.pr.n, 1);
        assert_int_equal(f.pr.f[0].close_code, code);
        assert_int_equal(f.c.state, TT_WS_CLOSED);
    }
    fx_free(&f);
}

static void test_corrupt(void **state) {
    tether_role role = ROLE(state);
    static const uint8_t reserved_block[] = {0xff, 0xff, 0xff};
    static const uint8_t far_back[] = {0xf2, 0x00, 0x11, 0x00, 0x00}; /* 7.2.3.2, first */
    static const uint8_t cut[] = {0xf2, 0x48};                        /* a block that never ends */
    const struct {
        const uint8_t *d;
        size_t n;
    } v[] = {{reserved_block, 3}, {far_back, 5}, {cut, 2}};
    for (size_t i = 0; i < 3; i++) {
        wire w = {0};
        w_rawp(&w, role, 0xc2, v[i].d, v[i].n);
        expect_close(role, &w, 1, TETHER_CLOSE_INVALID_PAYLOAD, TETHER_E_INFLATE);
        w_free(&w);
    }
}

/* Text is validated after inflation, whole or in pieces, streaming or not;
 * binary is not, nor text with the check off. */
static void test_bad_utf8(void **state) {
    tether_role role = ROLE(state);
    static const char *const bad[] = {"ab\xff", "ok \xE2\x82", "\xC0\xAF", "\xED\xA0\x80"};
    for (size_t i = 0; i < 4; i++) {
        tether_pmd *tx;
        tether_pmd_free(pmd_for(role, 1, 1, &tx));
        size_t zn, n = strlen(bad[i]);
        uint8_t *z = compress_with(tx, bad[i], n, &zn);
        wire w = {0};
        w_rawp(&w, role, 0xc1, z, zn);
        expect_close(role, &w, 1, TETHER_CLOSE_INVALID_PAYLOAD, TETHER_E_UTF8);
        /* Not an error as binary, or with the check off. */
        for (int k = 0; k < 2; k++) {
            w_free(&w);
            w_rawp(&w, role, k ? 0xc1 : 0xc2, z, zn);
            fx f;
            fx_setup(&f, role);
            f.cfg.utf8_check = k ? 0 : 1;
            fx_start(&f, 0, 0);
            assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 1, 1, NULL), 0), 0);
            feed_wire(&f.c, &w, &f.log);
            assert_int_equal(f.log.n, 1);
            assert_int_equal(f.log.e[0].type, TT_WS_EV_MESSAGE);
            assert_ev_data(&f.log.e[0], bad[i], n);
            fx_free(&f);
        }
        w_free(&w);
        free(z);
        tether_pmd_free(tx);
    }
    /* A character split across two frames is fine; bad bytes in the second
     * piece of a long text fail after the first was delivered (streaming). */
    tether_pmd *tx;
    tether_pmd_free(pmd_for(role, 0, 0, &tx));
    wire w = {0};
    const uint8_t *z;
    size_t zn;
    assert_int_equal(tether_pmd_compress(tx, "caf\xC3", 4, 0, &z, &zn), 0);
    w_rawp(&w, role, 0x41, z, zn);
    assert_int_equal(tether_pmd_compress(tx, "\xA9!", 2, 1, &z, &zn), 0);
    w_rawp(&w, role, 0x80, z, zn);
    assert_int_equal(tether_pmd_compress(tx, "fine", 4, 0, &z, &zn), 0);
    w_rawp(&w, role, 0x41, z, zn);
    assert_int_equal(tether_pmd_compress(tx, "\xF8", 1, 1, &z, &zn), 0);
    w_rawp(&w, role, 0x80, z, zn);
    fx f;
    fx_setup(&f, role);
    f.cfg.streaming = 1;
    fx_start(&f, 0, 0);
    assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 0, 0, NULL), 0), 0);
    feed_wire(&f.c, &w, &f.log);
    assert_int_equal(f.log.n, 4);
    assert_ev_data(&f.log.e[0], "caf\xC3", 4);
    assert_ev_data(&f.log.e[1], "\xA9!", 2);
    assert_int_equal(f.log.e[1].fin, 1);
    assert_ev_data(&f.log.e[2], "fine", 4);
    assert_close_ev(&f.log.e[3], TETHER_CLOSE_INVALID_PAYLOAD, 0, TETHER_E_UTF8);
    fx_free(&f);
    w_free(&w);
    tether_pmd_free(tx);
}

/* RSV1 on a control frame, on a continuation, or with no deflate in force,
 * and RSV2/RSV3 at all: 1002. */
static void test_rsv_refused(void **state) {
    tether_role role = ROLE(state);
    static const uint8_t close_payload[] = {0x03, 0xe8};
    for (int deflate = 0; deflate <= 1; deflate++)
        for (int k = 0; k < 6; k++) {
            wire w = {0};
            switch (k) {
            case 0: /* a compressed message: only deflate allows it */
                w_rawp(&w, role, 0xc1, hello_z, sizeof hello_z);
                break;
            case 1:
                w_rawp(&w, role, 0xc9, "x", 1); /* ping */
                break;
            case 2:
                w_rawp(&w, role, 0xc8, close_payload, 2);
                break;
            case 3: /* a continuation of a compressed message */
                w_rawp(&w, role, 0x41, hello_z, 3);
                w_rawp(&w, role, 0xc0, hello_z + 3, 4);
                break;
            case 4: /* a continuation of a plain message */
                w_rawp(&w, role, 0x01, "He", 2);
                w_rawp(&w, role, 0xc0, "llo", 3);
                break;
            default:
                w_rawp(&w, role, 0xa1, "x", 1); /* RSV2 */
                w_rawp(&w, role, 0x91, "x", 1); /* RSV3 (never reached) */
                break;
            }
            fx f;
            fx_setup(&f, role);
            fx_start(&f, 0, 0);
            if (deflate) assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 0, 0, NULL), 0), 0);
            feed_wire(&f.c, &w, &f.log);
            if (deflate && k == 0) {
                assert_int_equal(f.log.n, 1);
                assert_ev_data(&f.log.e[0], "Hello", 5);
            } else {
                assert_int_equal(f.log.n, 1);
                assert_close_ev(&f.log.e[0], TETHER_CLOSE_PROTOCOL_ERROR, 0, TETHER_E_RSV);
                peer_read(&f.pr, &f.c);
                assert_int_equal(f.pr.f[f.pr.n - 1].close_code, TETHER_CLOSE_PROTOCOL_ERROR);
            }
            fx_free(&f);
            w_free(&w);
        }
}

/* ---- Sending: limits and failures -------------------------------------------------- */

/* The send limit counts compressed bytes: a message far bigger than the
 * limit goes if it compresses under it; one that does not is refused, and
 * the compressor then forgets it, so what follows still decodes, also in
 * the middle of a message in pieces. */
static void test_send_limit(void **state) {
    (void)state;
    const size_t big = 200000;
    uint8_t *zeros = calloc(1, big), *noise = xmalloc(3000), *out = xmalloc(big + 1);
    assert_non_null(zeros);
    fill_random(noise, 3000, 1);
    dpair d;
    dp_setup(&d);
    d.cfg[CL].send_limit = 2000;
    d.cfg[CL].drain_mark = 100;
    dp_start(&d, 1, 0, 0, 15, 15, 0);
    tt_ws *c = &d.conn[CL];
    zdec z;
    zdec_init(&z, 15, 0);
    assert_int_equal(tt_ws_send(c, TETHER_OP_BINARY, zeros, big), 0);
    size_t queued = tt_outbuf_len(&c->out);
    assert_true(queued < 1000);
    assert_int_equal(tt_ws_take_drain(c), 0); /* above the mark: no drain yet */
    /* Refused: 2500 random bytes cannot fit in what is left. */
    assert_int_equal(tt_ws_send(c, TETHER_OP_BINARY, noise, 2500), TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_outbuf_len(&c->out), queued);
    assert_int_equal(c->pmd->def_ready, 0); /* the context that saw them is gone */
    /* A small one fits, compressed afresh. */
    assert_int_equal(tt_ws_send(c, TETHER_OP_BINARY, noise, 100), 0);
    dp_flush(&d, CL, 0);
    assert_int_equal(tt_ws_take_drain(c), 1);
    assert_int_equal(d.log[SV].n, 2);
    assert_ev_data(&d.log[SV].e[0], zeros, big);
    assert_ev_data(&d.log[SV].e[1], noise, 100);
    assert_int_equal(zdec_msg(&z, &d.seen[CL].f[0], 1, out, big + 1), big);
    assert_int_equal(zdec_msg(&z, &d.seen[CL].f[1], 1, out, big + 1), 100);
    assert_memory_equal(out, noise, 100);

    /* In pieces: the second piece is refused, then sent again. */
    dp_forget(&d);
    assert_int_equal(tt_ws_send_fragment(c, TETHER_OP_BINARY, noise, 1500, 0), 0);
    assert_int_equal(tt_ws_send_fragment(c, TETHER_OP_BINARY, noise + 1500, 1500, 1),
                     TETHER_E_BACKPRESSURE);
    assert_int_equal(tt_ws_send(c, TETHER_OP_BINARY, "x", 1), TETHER_E_STATE);
    dp_flush(&d, CL, 0);
    assert_int_equal(tt_ws_send_fragment(c, TETHER_OP_BINARY, noise + 1500, 1500, 1), 0);
    dp_flush(&d, CL, 0);
    assert_int_equal(d.seen[CL].n, 2);
    assert_int_equal(d.seen[CL].f[0].rsv, TETHER_RSV1);
    assert_int_equal(d.seen[CL].f[1].rsv, 0);
    assert_int_equal(d.seen[CL].f[1].op, TETHER_OP_CONTINUATION);
    assert_int_equal(zdec_msg(&z, d.seen[CL].f, 2, out, big + 1), 3000);
    assert_memory_equal(out, noise, 3000);
    assert_int_equal(d.log[SV].n, 1);
    assert_ev_data(&d.log[SV].e[0], noise, 3000);
    /* And the context goes on. */
    dp_forget(&d);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tt_ws_send(c, TETHER_OP_TEXT, "again", 5), 0);
    dp_flush(&d, CL, 0);
    assert_int_equal(d.log[SV].n, 3);
    for (int i = 0; i < 3; i++)
        assert_ev_data(&d.log[SV].e[i], "again", 5);
    zdec_end(&z);
    dp_free(&d);
    free(zeros);
    free(noise);
    free(out);
}

/* Sends keep their other checks: state, UTF-8 (before compressing, so the
 * context never sees a refused message), control frames plain. */
static void test_send_checks(void **state) {
    (void)state;
    dpair d;
    dp_setup(&d);
    dp_start(&d, 1, 0, 0, 15, 15, 0);
    tt_ws *c = &d.conn[SV];
    assert_int_equal(tt_ws_send(c, TETHER_OP_TEXT, "bad \xff", 5), TETHER_E_UTF8);
    assert_int_equal(c->pmd->def_ready, 0);
    assert_int_equal(tt_ws_send_fragment(c, TETHER_OP_TEXT, "ok \xE2", 4, 0), 0);
    assert_int_equal(tt_ws_send_fragment(c, TETHER_OP_TEXT, "\x82", 1, 1), TETHER_E_UTF8);
    assert_int_equal(tt_ws_send_fragment(c, TETHER_OP_TEXT, "\x82\xAC", 2, 1), 0);
    assert_int_equal(tt_ws_send(c, TETHER_OP_TEXT, "Hello", 5), 0);
    assert_int_equal(tt_ws_close(c, TETHER_CLOSE_NORMAL, "bye", 0), 0);
    assert_int_equal(tt_ws_send(c, TETHER_OP_TEXT, "late", 4), TETHER_E_STATE);
    dp_flush(&d, SV, 0);
    assert_int_equal(d.seen[SV].n, 4);
    assert_int_equal(d.seen[SV].f[3].op, TETHER_OP_CLOSE);
    assert_int_equal(d.seen[SV].f[3].rsv, 0);
    assert_int_equal(d.seen[SV].f[3].close_code, TETHER_CLOSE_NORMAL);
    assert_int_equal(d.log[CL].n, 3);
    assert_ev_data(&d.log[CL].e[0], "ok \xE2\x82\xAC", 6);
    assert_ev_data(&d.log[CL].e[1], "Hello", 5);
    assert_int_equal(d.log[CL].e[2].type, TT_WS_EV_CLOSE);
    dp_free(&d);
}

/* ---- Zero copy and memory --------------------------------------------------------------- */

/* Plain messages on a deflate connection still come as slices of the input;
 * a compressed one is inflated straight into the message buffer and handed
 * out from there, with no further copy. */
static void test_zero_copy_kept(void **state) {
    tether_role role = ROLE(state);
    fx f;
    fx_setup(&f, role);
    fx_start(&f, 0, 0);
    assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 0, 0, NULL), 0), 0);
    wire w = {0};
    w_text(&w, role, "plain");
    w_rawp(&w, role, 0xc1, hello_z, sizeof hello_z);
    uint8_t *buf = xmalloc(w.len);
    memcpy(buf, w.b, w.len);
    size_t used;
    tt_ws_ev ev;
    assert_int_equal(tt_ws_input(&f.c, buf, w.len, &used, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_MESSAGE);
    assert_true(ev.data >= buf && ev.data + ev.len <= buf + w.len);
    assert_int_equal(tt_ws_input(&f.c, buf + used, w.len - used, &used, &ev), 1);
    assert_int_equal(ev.len, 5);
    assert_ptr_equal(ev.data, f.c.msg);
    assert_null(f.c.pmd->inf_out.data); /* no second buffer */
    /* Copies asked for (poll mode), streaming: inflated data is already
     * the connection's own, and is not copied again. */
    f.cfg.streaming = 1;
    fx_restart(&f, 1, 0);
    assert_int_equal(tt_ws_set_deflate(&f.c, pmd_for(role, 0, 0, NULL), 0), 0);
    memcpy(buf, w.b, w.len);
    assert_int_equal(tt_ws_input(&f.c, buf, w.len, &used, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_FRAGMENT);
    assert_ptr_equal(ev.data, f.c.msg); /* a plain slice is copied */
    assert_int_equal(tt_ws_input(&f.c, buf + used, w.len - used, &used, &ev), 1);
    assert_int_equal(ev.type, TT_WS_EV_FRAGMENT);
    assert_int_equal(ev.fin, 1);
    assert_int_equal(ev.len, 5);
    assert_ptr_equal(ev.data, f.c.pmd->inf_out.data);
    free(buf);
    w_free(&w);
    fx_free(&f);
}

/* What an idle connection keeps after one message each way: a side with
 * context takeover keeps its zlib stream and small buffers, reused (no
 * allocation per message once warm); a side without keeps neither; no side
 * keeps a big message's buffers. Messages are inflated into the message
 * buffer, so the inflater's own buffer stays unused. */
static void test_memory(void **state) {
    (void)state;
    const size_t big = 1u << 20;
    uint8_t *msg = xmalloc(big);
    fill_random(msg, big, 6);
    for (int snct = 0; snct <= 1; snct++)
        for (int cnct = 0; cnct <= 1; cnct++) {
            dpair d;
            dp_setup(&d);
            dp_start(&d, 1, snct, cnct, 15, 15, 0);
            for (int side = 0; side < 2; side++) {
                assert_int_equal(tt_ws_send(&d.conn[side], TETHER_OP_TEXT, "hi hi hi", 8), 0);
                dp_flush(&d, side, 0);
            }
            for (int side = 0; side < 2; side++) {
                const tether_pmd *p = d.pmd[side];
                assert_int_equal(p->def_ready, !d.nct[side]);
                assert_int_equal(p->inf_ready, !d.nct[1 - side]);
                assert_true(p->def_out.cap <= 1024);
                assert_true(d.conn[side].msg_cap <= 1024);
                assert_int_equal(p->def_out.data == NULL, d.nct[side]);
                assert_null(p->inf_out.data);
                assert_int_equal(d.conn[side].msg == NULL, d.nct[1 - side]);
            }
            /* Warm: the same traffic reuses the same buffers. */
            const uint8_t *def = d.pmd[SV]->def_out.data, *inf = d.conn[CL].msg;
            for (int i = 0; i < 20; i++) {
                assert_int_equal(tt_ws_send(&d.conn[SV], TETHER_OP_TEXT, "hi hi hi", 8), 0);
                dp_flush(&d, SV, 0);
            }
            assert_ptr_equal(def, d.pmd[SV]->def_out.data);
            assert_ptr_equal(inf, d.conn[CL].msg);
            /* 16 KiB still stays (with takeover), 16 KiB + 1 does not; the
             * message buffer stays up to 64 KiB, as for plain messages. */
            for (size_t n = 16000; n <= 17000; n += 1000) {
                assert_int_equal(tt_ws_send(&d.conn[SV], TETHER_OP_BINARY, msg, n), 0);
                dp_flush(&d, SV, 0);
                int kept = n < 16384 && !snct;
                assert_int_equal(d.pmd[SV]->def_out.data != NULL, kept);
                assert_int_equal(d.conn[CL].msg != NULL, !snct);
            }
            /* A big message's buffers do not stay. */
            assert_int_equal(tt_ws_send(&d.conn[SV], TETHER_OP_BINARY, msg, big), 0);
            assert_null(d.pmd[SV]->def_out.data);
            dp_flush(&d, SV, 0);
            assert_int_equal(d.log[CL].e[d.log[CL].n - 1].len, big);
            assert_null(d.pmd[CL]->inf_out.data);
            assert_null(d.conn[CL].msg);
            assert_int_equal(d.pmd[SV]->def_ready, !snct);
            assert_int_equal(d.pmd[CL]->inf_ready, !snct);
            dp_free(&d);
        }
    free(msg);
}

/* In streaming mode the inflater's buffer is let go of after the last
 * fragment of a big message, not before. */
static void test_memory_streaming(void **state) {
    (void)state;
    const size_t big = 1u << 20;
    uint8_t *msg = xmalloc(big);
    fill_random(msg, big, 6);
    dpair d;
    dp_setup(&d);
    d.cfg[CL].streaming = 1;
    dp_start(&d, 1, 0, 0, 15, 15, 0);
    assert_int_equal(tt_ws_send(&d.conn[SV], TETHER_OP_BINARY, msg, big), 0);
    dp_flush(&d, SV, 0);
    assert_int_equal(d.log[CL].n, 1);
    assert_int_equal(d.log[CL].e[0].fin, 1);
    assert_ev_data(&d.log[CL].e[0], msg, big);
    assert_null(d.pmd[CL]->inf_out.data);
    dp_free(&d);
    free(msg);
}

/* ---- Window 8 and the interface ------------------------------------------------------------ */

/* A server allowed only 8 bits (what a client may ask for) deflates with
 * 9 if it uses zlib (which refuses 8 for raw deflate): a tether client
 * inflates that, with and without takeover. */
static void test_window_8_peer(void **state) {
    (void)state;
    const size_t n = 4000;
    uint8_t *msg = xmalloc(n), *z = xmalloc(2 * n);
    fill_text(msg, n, 11);
    for (int nct = 0; nct <= 1; nct++) {
        tether_pmd *p = tether_pmd_new(TETHER_ROLE_CLIENT);
        assert_int_equal(tether_pmd_accept(p, nct ? "permessage-deflate; server_max_window_bits=8; "
                                                    "server_no_context_takeover"
                                                  : "permessage-deflate; server_max_window_bits=8"),
                         0);
        assert_int_equal(tether_pmd_server_max_window_bits(p), 8);
        fx f;
        fx_setup(&f, TETHER_ROLE_CLIENT);
        fx_start(&f, 0, 0);
        assert_int_equal(tt_ws_set_deflate(&f.c, p, 0), 0);
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -9, 8, Z_DEFAULT_STRATEGY), Z_OK);
        wire w = {0};
        for (int i = 0; i < 3; i++) {
            zs.next_in = msg;
            zs.avail_in = (uInt)n;
            zs.next_out = z;
            zs.avail_out = (uInt)(2 * n);
            assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
            size_t zn = 2 * n - zs.avail_out - 4;
            w_rawp(&w, TETHER_ROLE_CLIENT, 0xc1, z, zn);
            if (nct) assert_int_equal(deflateReset(&zs), Z_OK);
        }
        deflateEnd(&zs);
        feed_chunks(&f.c, w.b, w.len, 100, &f.log);
        assert_int_equal(f.log.n, 3);
        for (int i = 0; i < 3; i++)
            assert_ev_data(&f.log.e[i], msg, n);
        assert_int_equal(f.c.pmd->inf_ready, !nct);
        /* Our own side is not limited: a plain 15-bit stream. */
        assert_int_equal(tt_ws_send(&f.c, TETHER_OP_TEXT, msg, n), 0);
        tether_parser_set_rsv_allowed(f.pr.p, TETHER_RSV1);
        peer_read(&f.pr, &f.c);
        zdec zd;
        zdec_init(&zd, 15, 0);
        uint8_t *out = xmalloc(n + 1);
        assert_int_equal(zdec_msg(&zd, &f.pr.f[0], 1, out, n + 1), n);
        assert_memory_equal(out, msg, n);
        zdec_end(&zd);
        free(out);
        w_free(&w);
        fx_free(&f);
    }
    free(msg);
    free(z);
}

static void test_set_deflate_args(void **state) {
    tether_role role = ROLE(state);
    fx f;
    fx_setup(&f, role);
    fx_start(&f, 0, 0);
    tether_pmd *other;
    tether_pmd *mine = pmd_for(role, 0, 0, &other);
    tether_pmd *fresh = tether_pmd_new(role);
    assert_int_equal(tt_ws_set_deflate(NULL, mine, 0), TETHER_E_INVAL);
    assert_int_equal(tt_ws_set_deflate(&f.c, NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tt_ws_set_deflate(&f.c, fresh, 0), TETHER_E_INVAL); /* not negotiated */
    assert_int_equal(tt_ws_set_deflate(&f.c, other, 0), TETHER_E_INVAL); /* other role */
    assert_null(f.c.pmd);
    /* A declined negotiation leaves it off too. */
    tether_pmd *declined = tether_pmd_new(TETHER_ROLE_CLIENT);
    assert_int_equal(tether_pmd_accept(declined, NULL), 0);
    if (role == TETHER_ROLE_CLIENT)
        assert_int_equal(tt_ws_set_deflate(&f.c, declined, 0), TETHER_E_INVAL);
    assert_int_equal(tt_ws_set_deflate(&f.c, mine, 0), 0);
    assert_ptr_equal(f.c.pmd, mine);
    assert_int_equal(tt_ws_set_deflate(&f.c, other, 0), TETHER_E_INVAL); /* once */
    /* The cap follows the connection's limit. */
    assert_int_equal(mine->max_decompressed, f.cfg.max_message);
    tether_pmd_free(declined);
    tether_pmd_free(fresh);
    tether_pmd_free(other);
    fx_free(&f); /* frees mine */
}

/* Without deflate nothing changes: no RSV1 on what we send. */
static void test_off(void **state) {
    (void)state;
    dpair d;
    dp_setup(&d);
    dp_start(&d, 0, 0, 0, 15, 15, 0);
    assert_int_equal(tt_ws_send(&d.conn[CL], TETHER_OP_TEXT, "Hello", 5), 0);
    assert_int_equal(tt_ws_send_fragment(&d.conn[CL], TETHER_OP_TEXT, "He", 2, 0), 0);
    assert_int_equal(tt_ws_send_fragment(&d.conn[CL], TETHER_OP_TEXT, "llo", 3, 1), 0);
    dp_flush(&d, CL, 0);
    assert_int_equal(d.seen[CL].n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(d.seen[CL].f[i].rsv, 0);
    assert_out_frame(&d.seen[CL].f[0], TETHER_OP_TEXT, 1, "Hello", 5);
    assert_int_equal(d.log[SV].n, 2);
    assert_ev_data(&d.log[SV].e[1], "Hello", 5);
    dp_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_rfc_hello_on_the_wire),
        ROLE_TEST(test_rfc_received_forms),
        cmocka_unit_test(test_empty),
        ROLE_TEST(test_empty_last_frame),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_fragmented_send),
        ROLE_TEST(test_fragmented_receive),
        cmocka_unit_test(test_streaming),
        ROLE_TEST(test_streaming_limits),
        cmocka_unit_test(test_cap_exact),
        ROLE_TEST(test_bomb),
        ROLE_TEST(test_unfinished_held_once),
        ROLE_TEST(test_wire_slack),
        ROLE_TEST(test_corrupt),
        ROLE_TEST(test_bad_utf8),
        ROLE_TEST(test_rsv_refused),
        cmocka_unit_test(test_send_limit),
        cmocka_unit_test(test_send_checks),
        ROLE_TEST(test_zero_copy_kept),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_memory_streaming),
        cmocka_unit_test(test_window_8_peer),
        ROLE_TEST(test_set_deflate_args),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
