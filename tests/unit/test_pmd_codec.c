/* permessage-deflate compression and decompression: the worked examples of
 * RFC 7692 section 7.2.3 as fixed vectors, round trips for every window size
 * with and without context takeover, multi-piece messages, the
 * decompressed-size cap (exactly at, one over, a deflate bomb), corrupt data
 * and recovery, buffer reuse, lazy zlib state, zlib state let go of without
 * context takeover, the connection layer's hooks (dropping the compressor,
 * the per-frame count, trimming buffers), and bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "tether.h"
#include "proto/deflate_int.h"

/* A negotiated client/server pair. */
struct pair {
    tether_pmd *c;
    tether_pmd *s;
};

/* Negotiates with the client asking for the given parameters and the
 * server accepting them (bits: 15 = no limit). */
static struct pair pair_new(int snct, int cnct, int sbits, int cbits) {
    struct pair p = {tether_pmd_new(TETHER_ROLE_CLIENT), tether_pmd_new(TETHER_ROLE_SERVER)};
    char offer[256], resp[256];
    size_t len;
    assert_int_equal(tether_pmd_set_server_no_context_takeover(p.c, snct), 0);
    assert_int_equal(tether_pmd_set_client_no_context_takeover(p.s, cnct), 0);
    assert_int_equal(tether_pmd_set_server_max_window_bits(p.c, sbits), 0);
    assert_int_equal(tether_pmd_set_client_max_window_bits(p.s, cbits), 0);
    assert_int_equal(tether_pmd_offer(p.c, offer, sizeof offer, &len), 0);
    assert_int_equal(tether_pmd_negotiate(p.s, offer, resp, sizeof resp, &len), 1);
    assert_int_equal(tether_pmd_accept(p.c, resp), 0);
    assert_int_equal(tether_pmd_server_no_context_takeover(p.c), snct);
    assert_int_equal(tether_pmd_client_no_context_takeover(p.c), cnct);
    assert_int_equal(tether_pmd_server_max_window_bits(p.c), sbits);
    assert_int_equal(tether_pmd_client_max_window_bits(p.c), cbits);
    return p;
}

static void pair_free(struct pair *p) {
    tether_pmd_free(p->c);
    tether_pmd_free(p->s);
}

static void expect_bytes(const uint8_t *got, size_t n, const uint8_t *want, size_t wn) {
    if (n != wn || memcmp(got, want, n) != 0) {
        char msg[512] = "";
        for (size_t i = 0; i < n && i < 64; i++)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%02x ", got[i]);
        fail_msg("got %zu bytes: %s(want %zu)", n, msg, wn);
    }
}

/* Decompresses a message given as pieces; the output is gathered in out
 * (cap bytes). Returns the first error, or the total size. */
static long inflate_pieces(tether_pmd *p, const uint8_t *const *pieces, const size_t *lens,
                           size_t n, uint8_t *out, size_t cap) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *o;
        size_t ol;
        int rc = tether_pmd_decompress(p, pieces[i], lens[i], i + 1 == n, &o, &ol);
        if (rc != 0) return rc;
        assert_true(total + ol <= cap);
        memcpy(out + total, o, ol);
        total += ol;
    }
    return (long)total;
}

static long inflate_one(tether_pmd *p, const uint8_t *in, size_t len, uint8_t *out, size_t cap) {
    const uint8_t *pieces[] = {in};
    size_t lens[] = {len};
    return inflate_pieces(p, pieces, lens, 1, out, cap);
}

/* --- RFC 7692 section 7.2.3 -------------------------------------------- */

static const uint8_t hello_c[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};

static void test_rfc_hello(void **state) {
    (void)state;
    struct pair p = pair_new(0, 0, 15, 15);
    const uint8_t *o;
    size_t n;
    uint8_t out[64];
    /* 7.2.3.1: compress as one frame, both directions. */
    assert_int_equal(tether_pmd_compress(p.s, "Hello", 5, 1, &o, &n), 0);
    expect_bytes(o, n, hello_c, sizeof hello_c);
    assert_int_equal(tether_pmd_compress(p.c, "Hello", 5, 1, &o, &n), 0);
    expect_bytes(o, n, hello_c, sizeof hello_c);
    assert_int_equal(inflate_one(p.c, hello_c, sizeof hello_c, out, sizeof out), 5);
    assert_memory_equal(out, "Hello", 5);
    /* 7.2.3.1 fragmented: 0xf2 0x48 0xcd | 0xc9 0xc9 0x07 0x00. */
    const uint8_t *pieces[] = {hello_c, hello_c + 3};
    size_t lens[] = {3, 4};
    assert_int_equal(inflate_pieces(p.c, pieces, lens, 2, out, sizeof out), 5);
    assert_memory_equal(out, "Hello", 5);
    /* Byte by byte works too. */
    const uint8_t *bytes[7];
    size_t ones[7];
    for (int i = 0; i < 7; i++)
        bytes[i] = hello_c + i, ones[i] = 1;
    assert_int_equal(inflate_pieces(p.c, bytes, ones, 7, out, sizeof out), 5);
    assert_memory_equal(out, "Hello", 5);
    pair_free(&p);
}

/* 7.2.3.2: with context takeover the second "Hello" is a back reference. */
static void test_rfc_context_takeover(void **state) {
    (void)state;
    static const uint8_t second[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    struct pair p = pair_new(0, 0, 15, 15);
    const uint8_t *o;
    size_t n;
    uint8_t out[64];
    assert_int_equal(tether_pmd_compress(p.s, "Hello", 5, 1, &o, &n), 0);
    expect_bytes(o, n, hello_c, sizeof hello_c);
    assert_int_equal(tether_pmd_compress(p.s, "Hello", 5, 1, &o, &n), 0);
    expect_bytes(o, n, second, sizeof second);
    assert_int_equal(inflate_one(p.c, hello_c, sizeof hello_c, out, sizeof out), 5);
    assert_int_equal(inflate_one(p.c, second, sizeof second, out, sizeof out), 5);
    assert_memory_equal(out, "Hello", 5);
    pair_free(&p);

    /* Without takeover both messages come out in the first form. */
    p = pair_new(1, 1, 15, 15);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tether_pmd_compress(p.s, "Hello", 5, 1, &o, &n), 0);
        expect_bytes(o, n, hello_c, sizeof hello_c);
        assert_int_equal(tether_pmd_compress(p.c, "Hello", 5, 1, &o, &n), 0);
        expect_bytes(o, n, hello_c, sizeof hello_c);
        assert_int_equal(inflate_one(p.c, hello_c, sizeof hello_c, out, sizeof out), 5);
        assert_int_equal(inflate_one(p.s, hello_c, sizeof hello_c, out, sizeof out), 5);
    }
    pair_free(&p);
}

/* 7.2.3.3 (no compression), 7.2.3.4 (two blocks), 7.2.3.5 (BFINAL set). */
static void test_rfc_block_forms(void **state) {
    (void)state;
    static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                     0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t two[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                  0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t bfinal[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    static const struct {
        const uint8_t *d;
        size_t n;
    } v[] = {{stored, sizeof stored}, {two, sizeof two}, {bfinal, sizeof bfinal}};
    struct pair p = pair_new(0, 0, 15, 15);
    uint8_t out[64];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(inflate_one(p.c, v[i].d, v[i].n, out, sizeof out), 5);
            assert_memory_equal(out, "Hello", 5);
            /* Split at every point as two frames. */
            for (size_t k = 0; k <= v[i].n; k++) {
                const uint8_t *pieces[] = {v[i].d, v[i].d + k};
                size_t lens[] = {k, v[i].n - k};
                assert_int_equal(inflate_pieces(p.s, pieces, lens, 2, out, sizeof out), 5);
                assert_memory_equal(out, "Hello", 5);
            }
        }
    }
    pair_free(&p);
}

static void test_empty_message(void **state) {
    (void)state;
    static const uint8_t zero[] = {0x00};
    for (int nct = 0; nct < 2; nct++) {
        struct pair p = pair_new(nct, nct, 15, 15);
        const uint8_t *o;
        size_t n;
        uint8_t out[64];
        for (int i = 0; i < 3; i++) {
            assert_int_equal(tether_pmd_compress(p.s, NULL, 0, 1, &o, &n), 0);
            expect_bytes(o, n, zero, 1);
            assert_int_equal(inflate_one(p.c, o, n, out, sizeof out), 0);
            /* Between non-empty messages too. */
            assert_int_equal(tether_pmd_compress(p.s, "Hello", 5, 1, &o, &n), 0);
            assert_int_equal(inflate_one(p.c, o, n, out, sizeof out), 5);
        }
        /* An empty last piece after data ends the message correctly. */
        uint8_t msg[64];
        size_t ml = 0;
        assert_int_equal(tether_pmd_compress(p.s, "Hel", 3, 0, &o, &n), 0);
        memcpy(msg, o, n), ml = n;
        assert_int_equal(tether_pmd_compress(p.s, "", 0, 1, &o, &n), 0);
        expect_bytes(o, n, zero, 1);
        memcpy(msg + ml, o, n), ml += n;
        assert_int_equal(inflate_one(p.c, msg, ml, out, sizeof out), 3);
        assert_memory_equal(out, "Hel", 3);
        /* A payload of no bytes at all is taken as an empty message. */
        assert_int_equal(inflate_one(p.c, NULL, 0, out, sizeof out), 0);
        assert_int_equal(tether_pmd_compress(p.s, "Hello", 5, 1, &o, &n), 0);
        assert_int_equal(inflate_one(p.c, o, n, out, sizeof out), 5);
        pair_free(&p);
    }
}

/* --- Round trips ------------------------------------------------------- */

static uint32_t rng = 12345;
static uint32_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Text-like data: words from a small vocabulary, some random bytes. */
static void fill(uint8_t *buf, size_t n, int noisy) {
    static const char *words[] = {"tether ", "socket ",  "frame ", "deflate ",
                                  "window ", "message ", "hello ", "close "};
    size_t i = 0;
    while (i < n) {
        if (noisy && next_rand() % 4 == 0) {
            buf[i++] = (uint8_t)next_rand();
            continue;
        }
        const char *w = words[next_rand() % 8];
        for (size_t k = 0; w[k] && i < n; k++)
            buf[i++] = (uint8_t)w[k];
    }
}

/* Sends one message from tx to rx in `pieces` pieces, checks it arrives
 * intact. */
static void round_trip(tether_pmd *tx, tether_pmd *rx, const uint8_t *msg, size_t len,
                       size_t pieces, uint8_t *out) {
    size_t step = pieces ? len / pieces + 1 : len, got = 0;
    size_t off = 0;
    do {
        size_t n = len - off < step ? len - off : step;
        int fin = off + n == len;
        const uint8_t *c, *d;
        size_t cl, dl;
        assert_int_equal(tether_pmd_compress(tx, msg + off, n, fin, &c, &cl), 0);
        /* The compressed bytes must not be clobbered by decompress (they live
         * in the sender's buffer), so decompress straight from them. */
        assert_int_equal(tether_pmd_decompress(rx, c, cl, fin, &d, &dl), 0);
        memcpy(out + got, d, dl);
        got += dl;
        off += n;
    } while (off < len);
    assert_int_equal(got, len);
    assert_memory_equal(out, msg, len);
}

static void test_round_trips(void **state) {
    (void)state;
    size_t max = 200000;
    uint8_t *msg = malloc(max), *out = malloc(max);
    for (int bits = 9; bits <= 15; bits++) {
        for (int nct = 0; nct < 2; nct++) {
            struct pair p = pair_new(nct, nct, bits, bits);
            for (int i = 0; i < 40; i++) {
                size_t len = i % 10 == 9 ? next_rand() % max : next_rand() % 3000;
                fill(msg, len, i % 3 == 0);
                round_trip(p.c, p.s, msg, len, i % 4, out);
                round_trip(p.s, p.c, msg, len, (i + 1) % 5, out);
            }
            pair_free(&p);
        }
    }
    free(msg);
    free(out);
}

/* Context takeover pays: a repeated message shrinks to a few bytes. */
static void test_takeover_helps(void **state) {
    (void)state;
    uint8_t msg[4000];
    fill(msg, sizeof msg, 1);
    size_t sizes[2];
    for (int nct = 0; nct < 2; nct++) {
        struct pair p = pair_new(nct, nct, 15, 15);
        const uint8_t *o;
        assert_int_equal(tether_pmd_compress(p.c, msg, sizeof msg, 1, &o, &sizes[nct]), 0);
        assert_int_equal(tether_pmd_compress(p.c, msg, sizeof msg, 1, &o, &sizes[nct]), 0);
        pair_free(&p);
    }
    /* About 16 matches of at most 258 bytes each. */
    assert_true(sizes[0] < 100);
    assert_true(sizes[1] > 10 * sizes[0]);
}

/* Our receive window is never smaller than what the sender may use: a
 * peer allowed 8 bits is inflated with 9 (zlib's smallest deflate window). */
static void test_window_8_peer(void **state) {
    (void)state;
    tether_pmd *c = tether_pmd_new(TETHER_ROLE_CLIENT);
    assert_int_equal(tether_pmd_accept(c, "permessage-deflate; server_max_window_bits=8"), 0);
    assert_int_equal(tether_pmd_server_max_window_bits(c), 8);
    /* A zlib sender asked for 8 uses 9: make such data with zlib directly. */
    uint8_t msg[3000], comp[4000], out[3000];
    fill(msg, sizeof msg, 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -9, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = msg;
    z.avail_in = sizeof msg;
    z.next_out = comp;
    z.avail_out = sizeof comp;
    assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    size_t n = sizeof comp - z.avail_out - 4;
    deflateEnd(&z);
    assert_int_equal(inflate_one(c, comp, n, out, sizeof out), (long)sizeof msg);
    assert_memory_equal(out, msg, sizeof msg);
    tether_pmd_free(c);
}

/* --- The decompressed-size cap ----------------------------------------- */

static size_t compress_msg(tether_pmd *tx, const uint8_t *msg, size_t len, uint8_t *out) {
    const uint8_t *o;
    size_t n;
    assert_int_equal(tether_pmd_compress(tx, msg, len, 1, &o, &n), 0);
    memcpy(out, o, n);
    return n;
}

static void test_cap_exact(void **state) {
    (void)state;
    uint8_t msg[1001], comp[2000], out[2000];
    fill(msg, sizeof msg, 1);
    struct pair p = pair_new(1, 1, 15, 15);
    assert_int_equal(tether_pmd_set_max_decompressed(p.s, 1000), 0);
    /* Exactly at the cap. */
    size_t n = compress_msg(p.c, msg, 1000, comp);
    assert_int_equal(inflate_one(p.s, comp, n, out, sizeof out), 1000);
    assert_memory_equal(out, msg, 1000);
    /* The cap is per message: the same again is fine. */
    assert_int_equal(inflate_one(p.s, comp, n, out, sizeof out), 1000);
    /* One over. */
    n = compress_msg(p.c, msg, 1001, comp);
    assert_int_equal(inflate_one(p.s, comp, n, out, sizeof out), TETHER_E_MESSAGE_TOO_BIG);
    assert_true(p.s->inf_out.cap <= 1000);
    /* Failed until reset. */
    assert_int_equal(inflate_one(p.s, comp, n, out, sizeof out), TETHER_E_STATE);
    assert_int_equal(tether_pmd_reset_inflate(p.s), 0);
    n = compress_msg(p.c, msg, 999, comp);
    assert_int_equal(inflate_one(p.s, comp, n, out, sizeof out), 999);
    /* Counted across pieces: 600 + 401 fails on the second piece. */
    const uint8_t *o;
    size_t ol, a, b;
    assert_int_equal(tether_pmd_compress(p.c, msg, 600, 0, &o, &a), 0);
    memcpy(comp, o, a);
    assert_int_equal(tether_pmd_compress(p.c, msg + 600, 401, 1, &o, &b), 0);
    memcpy(comp + a, o, b);
    assert_int_equal(tether_pmd_decompress(p.s, comp, a, 0, &o, &ol), 0);
    assert_int_equal(ol, 600);
    assert_int_equal(tether_pmd_decompress(p.s, comp + a, b, 1, &o, &ol), TETHER_E_MESSAGE_TOO_BIG);
    /* 600 + 400 is exactly the cap. */
    assert_int_equal(tether_pmd_reset_inflate(p.s), 0);
    assert_int_equal(tether_pmd_compress(p.c, msg, 600, 0, &o, &a), 0);
    memcpy(comp, o, a);
    assert_int_equal(tether_pmd_compress(p.c, msg + 600, 400, 1, &o, &b), 0);
    memcpy(comp + a, o, b);
    const uint8_t *pieces[] = {comp, comp + a};
    size_t lens[] = {a, b};
    assert_int_equal(inflate_pieces(p.s, pieces, lens, 2, out, sizeof out), 1000);
    /* A cap of 1 byte. */
    assert_int_equal(tether_pmd_set_max_decompressed(p.s, 1), 0);
    n = compress_msg(p.c, msg, 1, comp);
    assert_int_equal(inflate_one(p.s, comp, n, out, sizeof out), 1);
    n = compress_msg(p.c, msg, 2, comp);
    assert_int_equal(inflate_one(p.s, comp, n, out, sizeof out), TETHER_E_MESSAGE_TOO_BIG);
    pair_free(&p);
}

/* 100 MB of zeros compressed to ~100 KB, with a 1 MiB cap: refused quickly,
 * with at most the cap in memory, whether it comes in one piece or many. */
static void test_deflate_bomb(void **state) {
    (void)state;
    size_t chunk = 1 << 20, total = 100 * chunk;
    uint8_t *zeros = calloc(1, chunk);
    size_t cap = 1 << 20, n = 0, bomb_cap = 1 << 20;
    uint8_t *bomb = malloc(bomb_cap);
    struct pair p = pair_new(1, 1, 15, 15);
    for (size_t done = 0; done < total; done += chunk) {
        const uint8_t *o;
        size_t ol;
        assert_int_equal(tether_pmd_compress(p.c, zeros, chunk, done + chunk == total, &o, &ol), 0);
        assert_true(n + ol <= bomb_cap);
        memcpy(bomb + n, o, ol);
        n += ol;
    }
    assert_true(n < 200 * 1024);
    assert_int_equal(tether_pmd_set_max_decompressed(p.s, cap), 0);
    clock_t t0 = clock();
    const uint8_t *o;
    size_t ol;
    assert_int_equal(tether_pmd_decompress(p.s, bomb, n, 1, &o, &ol), TETHER_E_MESSAGE_TOO_BIG);
    assert_true(p.s->inf_out.cap <= cap);
    /* In 16 KiB frames: fails on the frame that crosses the cap. */
    assert_int_equal(tether_pmd_reset_inflate(p.s), 0);
    size_t off = 0;
    int rc = 0;
    while (off < n && rc == 0) {
        size_t k = n - off < 16384 ? n - off : 16384;
        rc = tether_pmd_decompress(p.s, bomb + off, k, off + k == n, &o, &ol);
        off += k;
    }
    assert_int_equal(rc, TETHER_E_MESSAGE_TOO_BIG);
    assert_int_equal(off, 16384); /* 1 MiB of zeros is ~1 KiB compressed */
    assert_true(p.s->inf_out.cap <= cap);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_true(secs < 1.0);
    /* With a big enough cap the same data decompresses in full. */
    assert_int_equal(tether_pmd_reset_inflate(p.s), 0);
    tt_pmd_drop_deflate(p.c); /* the receiver lost the context: start afresh */
    assert_int_equal(tether_pmd_set_max_decompressed(p.s, total), 0);
    size_t got = 0;
    assert_int_equal(tether_pmd_decompress(p.s, bomb, n, 1, &o, &ol), 0);
    got = ol;
    assert_int_equal(got, total);
    pair_free(&p);
    free(zeros);
    free(bomb);
}

/* --- Corrupt data ------------------------------------------------------ */

static void test_corrupt(void **state) {
    (void)state;
    static const uint8_t bad_type[] = {0xff, 0xff, 0xff};                 /* BTYPE 11 */
    static const uint8_t bad_len[] = {0x00, 0x05, 0x00, 0x00, 0x00, 'a'}; /* NLEN wrong */
    static const uint8_t truncated[] = {0xf2, 0x48};
    static const uint8_t far_back[] = {0xf2, 0x00, 0x11, 0x00, 0x00}; /* no history */
    static const uint8_t stored_short[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e'};
    static const struct {
        const uint8_t *d;
        size_t n;
    } v[] = {{bad_type, sizeof bad_type},
             {bad_len, sizeof bad_len},
             {truncated, sizeof truncated},
             {far_back, sizeof far_back},
             {stored_short, sizeof stored_short}};
    struct pair p = pair_new(0, 0, 15, 15);
    uint8_t out[64];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        long rc = inflate_one(p.c, v[i].d, v[i].n, out, sizeof out);
        if (rc != TETHER_E_INFLATE) fail_msg("vector %zu: %ld", i, rc);
        const uint8_t *o;
        size_t ol;
        assert_int_equal(tether_pmd_decompress(p.c, hello_c, sizeof hello_c, 1, &o, &ol),
                         TETHER_E_STATE);
        assert_int_equal(tether_pmd_reset_inflate(p.c), 0);
        assert_int_equal(inflate_one(p.c, hello_c, sizeof hello_c, out, sizeof out), 5);
        assert_memory_equal(out, "Hello", 5);
        assert_int_equal(tether_pmd_reset_inflate(p.c), 0);
    }
    /* Reset is harmless before any use and on a NULL-free fresh object. */
    tether_pmd *fresh = tether_pmd_new(TETHER_ROLE_SERVER);
    assert_int_equal(tether_pmd_reset_inflate(fresh), 0);
    tether_pmd_free(fresh);
    pair_free(&p);
}

/* --- Resources and arguments ------------------------------------------- */

static void test_lazy_and_reuse(void **state) {
    (void)state;
    struct pair p = pair_new(0, 0, 15, 15);
    assert_int_equal(p.c->def_ready, 0);
    assert_int_equal(p.c->inf_ready, 0);
    assert_null(p.c->def_out.data);
    uint8_t msg[8000], out[8000];
    fill(msg, sizeof msg, 1);
    for (int i = 0; i < 5; i++)
        round_trip(p.c, p.s, msg, sizeof msg, 0, out);
    assert_int_equal(p.c->def_ready, 1);
    assert_int_equal(p.s->inf_ready, 1);
    assert_int_equal(p.s->def_ready, 0);
    /* Warm: the same traffic again allocates nothing new. */
    const uint8_t *def = p.c->def_out.data, *inf = p.s->inf_out.data;
    for (int i = 0; i < 50; i++)
        round_trip(p.c, p.s, msg, sizeof msg - (size_t)i, 0, out);
    assert_ptr_equal(def, p.c->def_out.data);
    assert_ptr_equal(inf, p.s->inf_out.data);
    pair_free(&p);
}

/* Without context takeover a side's zlib stream ends with each message
 * (nothing in it is used again), only that side's; in the middle of a
 * message it stays. */
static void test_release_without_takeover(void **state) {
    (void)state;
    uint8_t msg[5000], out[5000];
    fill(msg, sizeof msg, 0);
    for (int snct = 0; snct <= 1; snct++)
        for (int cnct = 0; cnct <= 1; cnct++) {
            struct pair p = pair_new(snct, cnct, 15, 15);
            for (int i = 0; i < 3; i++) {
                round_trip(p.c, p.s, msg, sizeof msg, (size_t)i, out);
                round_trip(p.s, p.c, msg, sizeof msg, (size_t)i, out);
                assert_int_equal(p.c->def_ready, !cnct);
                assert_int_equal(p.s->inf_ready, !cnct);
                assert_int_equal(p.s->def_ready, !snct);
                assert_int_equal(p.c->inf_ready, !snct);
            }
            const uint8_t *o;
            size_t n;
            assert_int_equal(tether_pmd_compress(p.c, msg, 100, 0, &o, &n), 0);
            assert_int_equal(p.c->def_ready, 1);
            assert_int_equal(tether_pmd_decompress(p.s, o, n, 0, &o, &n), 0);
            assert_int_equal(p.s->inf_ready, 1);
            assert_int_equal(tether_pmd_compress(p.c, msg + 100, 100, 1, &o, &n), 0);
            assert_int_equal(p.c->def_ready, !cnct);
            assert_int_equal(tether_pmd_decompress(p.s, o, n, 1, &o, &n), 0);
            assert_int_equal(n, 100);
            assert_int_equal(p.s->inf_ready, !cnct);
            pair_free(&p);
        }
}

/* Dropping the compressor, even between two pieces of a message, leaves a
 * stream the peer (keeping its context) still decodes. */
static void test_drop_deflate(void **state) {
    (void)state;
    uint8_t msg[3000], out[3000], got[3000];
    fill(msg, sizeof msg, 1);
    struct pair p = pair_new(0, 0, 15, 15);
    round_trip(p.c, p.s, msg, sizeof msg, 0, out);
    const uint8_t *o, *d;
    size_t n, dn, total = 0;
    assert_int_equal(tether_pmd_compress(p.c, msg, 1000, 0, &o, &n), 0);
    assert_int_equal(tether_pmd_decompress(p.s, o, n, 0, &d, &dn), 0);
    memcpy(got, d, dn), total = dn;
    /* The next piece is compressed, never sent, and forgotten. */
    assert_int_equal(tether_pmd_compress(p.c, msg + 1000, 1000, 0, &o, &n), 0);
    tt_pmd_drop_deflate(p.c);
    assert_int_equal(p.c->def_ready, 0);
    tt_pmd_drop_deflate(p.c); /* twice is harmless */
    assert_int_equal(tether_pmd_compress(p.c, msg + 1000, 2000, 1, &o, &n), 0);
    assert_int_equal(tether_pmd_decompress(p.s, o, n, 1, &d, &dn), 0);
    memcpy(got + total, d, dn), total += dn;
    assert_int_equal(total, sizeof msg);
    assert_memory_equal(got, msg, sizeof msg);
    for (int i = 0; i < 3; i++)
        round_trip(p.c, p.s, msg, sizeof msg, (size_t)i, out);
    pair_free(&p);
}

/* The count the cap applies to can be restarted (per frame, streaming);
 * buffers over a size can be let go of and come back when needed. */
static void test_count_and_trim(void **state) {
    (void)state;
    uint8_t msg[3000], out[3000];
    fill(msg, sizeof msg, 0);
    struct pair p = pair_new(0, 0, 15, 15);
    assert_int_equal(tether_pmd_set_max_decompressed(p.s, 1000), 0);
    const uint8_t *o, *d;
    size_t n, dn;
    for (int k = 0; k < 3; k++) {
        int fin = k == 2;
        assert_int_equal(tether_pmd_compress(p.c, msg + 1000 * k, 1000, fin, &o, &n), 0);
        tt_pmd_restart_count(p.s);
        assert_int_equal(tether_pmd_decompress(p.s, o, n, fin, &d, &dn), 0);
        assert_int_equal(dn, 1000);
        assert_memory_equal(d, msg + 1000 * k, 1000);
    }
    /* Without the restart the same fails at the second piece. */
    assert_int_equal(tether_pmd_compress(p.c, msg, 1000, 0, &o, &n), 0);
    assert_int_equal(tether_pmd_decompress(p.s, o, n, 0, &d, &dn), 0);
    assert_int_equal(tether_pmd_compress(p.c, msg + 1000, 1, 1, &o, &n), 0);
    assert_int_equal(tether_pmd_decompress(p.s, o, n, 1, &d, &dn), TETHER_E_MESSAGE_TOO_BIG);
    /* Trimming: only past the size given; the buffer comes back. */
    assert_int_equal(tether_pmd_reset_inflate(p.s), 0);
    tt_pmd_drop_deflate(p.c); /* the receiver lost the context: start afresh */
    assert_int_equal(tether_pmd_set_max_decompressed(p.s, sizeof msg), 0);
    round_trip(p.c, p.s, msg, sizeof msg, 0, out);
    size_t cap = p.c->def_out.cap, icap = p.s->inf_out.cap;
    assert_true(cap > 256 && icap > 256);
    tt_pmd_trim_deflate(p.c, cap);
    tt_pmd_trim_inflate(p.s, icap);
    assert_int_equal(p.c->def_out.cap, cap);
    assert_int_equal(p.s->inf_out.cap, icap);
    tt_pmd_trim_deflate(p.c, cap - 1);
    tt_pmd_trim_inflate(p.s, icap - 1);
    assert_null(p.c->def_out.data);
    assert_int_equal(p.c->def_out.cap, 0);
    assert_null(p.s->inf_out.data);
    assert_int_equal(p.s->inf_out.cap, 0);
    round_trip(p.c, p.s, msg, sizeof msg, 2, out);
    assert_non_null(p.c->def_out.data);
    assert_non_null(p.s->inf_out.data);
    pair_free(&p);
}

static void test_bad_args(void **state) {
    (void)state;
    struct pair p = pair_new(0, 0, 15, 15);
    const uint8_t *o;
    size_t n;
    assert_int_equal(tether_pmd_compress(NULL, "a", 1, 1, &o, &n), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_compress(p.c, NULL, 1, 1, &o, &n), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_compress(p.c, "a", 1, 1, NULL, &n), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_compress(p.c, "a", 1, 1, &o, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_decompress(NULL, "a", 1, 1, &o, &n), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_decompress(p.c, NULL, 1, 1, &o, &n), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_decompress(p.c, "a", 1, 1, NULL, &n), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_decompress(p.c, "a", 1, 1, &o, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_reset_inflate(NULL), TETHER_E_INVAL);
    /* Not negotiated, or declined. */
    tether_pmd *q = tether_pmd_new(TETHER_ROLE_SERVER);
    assert_int_equal(tether_pmd_compress(q, "a", 1, 1, &o, &n), TETHER_E_STATE);
    assert_int_equal(tether_pmd_decompress(q, "a", 1, 1, &o, &n), TETHER_E_STATE);
    tether_pmd_free(q);
    /* The pair still works after all that. */
    uint8_t out[16];
    assert_int_equal(inflate_one(p.c, hello_c, sizeof hello_c, out, sizeof out), 5);
    pair_free(&p);
}

/* Compressors shared by connections without context takeover: every
 * message comes out byte for byte as a connection's own fresh stream makes
 * it, whoever used the shared stream before; a message in pieces keeps its
 * stream to the end while another connection compresses with its own; a
 * connection freed mid-message gives its stream back. */
static void test_shared_compressor(void **state) {
    (void)state;
    tt_pmd_shared *sh = tt_pmd_shared_new();
    assert_non_null(sh);
    struct pair a = pair_new(1, 1, 15, 15), b = pair_new(1, 1, 15, 15),
                solo = pair_new(1, 1, 15, 15);
    tt_pmd_share(a.s, sh);
    tt_pmd_share(b.s, sh);
    static const char *const msgs[] = {"hello hello hello", "another message, another message", "",
                                       "x"};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
            const uint8_t *o, *w;
            size_t ol, wl, n = strlen(msgs[i]);
            tether_pmd *who = (i + round) % 2 ? a.s : b.s;
            assert_int_equal(tether_pmd_compress(who, msgs[i], n, 1, &o, &ol), 0);
            uint8_t got[256];
            memcpy(got, o, ol);
            assert_int_equal(tether_pmd_compress(solo.s, msgs[i], n, 1, &w, &wl), 0);
            expect_bytes(got, ol, w, wl);
            assert_false(who->def_ready); /* given back at the message's end */
            uint8_t out[256];
            assert_int_equal(inflate_one(who == a.s ? a.c : b.c, got, ol, out, sizeof out),
                             (long)n);
            assert_memory_equal(out, msgs[i], n);
        }
    }
    /* a message in pieces holds the stream; the other connection meanwhile
     * compresses with a stream of its own, and both decode */
    const uint8_t *o;
    size_t ol;
    uint8_t first[64], other[64], out[128];
    assert_int_equal(tether_pmd_compress(a.s, "piece one, ", 11, 0, &o, &ol), 0);
    assert_true(a.s->def_borrowed);
    memcpy(first, o, ol);
    size_t first_len = ol;
    assert_int_equal(tether_pmd_compress(b.s, "meanwhile", 9, 1, &o, &ol), 0);
    memcpy(other, o, ol);
    assert_int_equal(inflate_one(b.c, other, ol, out, sizeof out), 9);
    assert_memory_equal(out, "meanwhile", 9);
    assert_int_equal(tether_pmd_compress(a.s, "piece two", 9, 1, &o, &ol), 0);
    const uint8_t *pieces[] = {first, o};
    size_t lens[] = {first_len, ol};
    assert_int_equal(inflate_pieces(a.c, pieces, lens, 2, out, sizeof out), 20);
    assert_memory_equal(out, "piece one, piece two", 20);
    /* freed in the middle of a message: the stream goes back */
    assert_int_equal(tether_pmd_compress(a.s, "cut short", 9, 0, &o, &ol), 0);
    pair_free(&a);
    assert_int_equal(tether_pmd_compress(b.s, "still fine", 10, 1, &o, &ol), 0);
    assert_true(b.s->def_borrowed == 0 && b.s->def_ready == 0);
    memcpy(other, o, ol);
    assert_int_equal(inflate_one(b.c, other, ol, out, sizeof out), 10);
    /* with context takeover a connection keeps its own stream */
    struct pair keep = pair_new(0, 0, 15, 15);
    tt_pmd_share(keep.s, sh);
    assert_int_equal(tether_pmd_compress(keep.s, "mine", 4, 1, &o, &ol), 0);
    assert_true(keep.s->def_ready && !keep.s->def_borrowed);
    pair_free(&keep);
    pair_free(&b);
    pair_free(&solo);
    tt_pmd_shared_free(sh);
    tt_pmd_shared_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_hello),       cmocka_unit_test(test_rfc_context_takeover),
        cmocka_unit_test(test_rfc_block_forms), cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_round_trips),     cmocka_unit_test(test_takeover_helps),
        cmocka_unit_test(test_window_8_peer),   cmocka_unit_test(test_cap_exact),
        cmocka_unit_test(test_deflate_bomb),    cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_lazy_and_reuse),  cmocka_unit_test(test_release_without_takeover),
        cmocka_unit_test(test_drop_deflate),    cmocka_unit_test(test_count_and_trim),
        cmocka_unit_test(test_bad_args),        cmocka_unit_test(test_shared_compressor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
