/* The incremental frame parser: RFC 6455 5.7's examples parsed whole and
 * split at every point with identical results, zero copy, control payload
 * gathering, every protocol error with its own code, sticky errors,
 * settings, bad arguments, and writer -> parser round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"

/* ---- A driver that records everything a parse produces ---------------- */

typedef struct {
    tether_role role;
    unsigned rsv_allowed;
    int utf8;
    uint64_t max; /* 0: leave the default */
} cfg;

typedef struct {
    int opcode, fin, masked, msg_opcode, compressed, close_code;
    unsigned rsv;
    uint64_t length;
    size_t off, len; /* the payload, in transcript.data */
    size_t slices;
    char reason[TETHER_MAX_CONTROL_PAYLOAD];
    size_t reason_len;
} frame_rec;

typedef struct {
    frame_rec frames[32];
    int nframes;
    uint8_t *data;
    size_t data_len;
    int error;
    const char *error_text;
    size_t consumed;
} transcript;

static tether_parser *make_parser(const cfg *c) {
    tether_parser *p = tether_parser_new(c->role);
    assert_non_null(p);
    assert_int_equal(tether_parser_set_rsv_allowed(p, c->rsv_allowed), 0);
    assert_int_equal(tether_parser_set_utf8_check(p, c->utf8), 0);
    if (c->max) assert_int_equal(tether_parser_set_max_frame(p, c->max), 0);
    return p;
}

static void on_frame_start(tether_parser *p, transcript *t) {
    assert_true(t->nframes < 32);
    frame_rec *f = &t->frames[t->nframes++];
    memset(f, 0, sizeof *f);
    f->opcode = tether_parser_opcode(p);
    f->fin = tether_parser_fin(p);
    f->rsv = tether_parser_rsv(p);
    f->masked = tether_parser_masked(p);
    f->length = tether_parser_frame_length(p);
    f->msg_opcode = tether_parser_message_opcode(p);
    f->compressed = tether_parser_message_compressed(p);
    f->off = t->data_len;
    f->close_code = -1;
    assert_true(tether_parser_remaining(p) == f->length);
}

static void on_payload(tether_parser *p, transcript *t, const uint8_t *chunk, size_t consumed,
                       const uint8_t *d, size_t dl) {
    frame_rec *f = &t->frames[t->nframes - 1];
    assert_true(dl > 0);
    assert_non_null(d);
    /* Data slices lie in what this call consumed; a control payload may
     * come from the parser's own buffer. */
    int in_chunk = d >= chunk && d + dl <= chunk + consumed;
    if (!(f->opcode & 8)) assert_true(in_chunk);
    if (f->opcode & 8) assert_true(dl == f->length);
    memcpy(t->data + t->data_len, d, dl);
    t->data_len += dl;
    f->len += dl;
    f->slices++;
    assert_true(tether_parser_remaining(p) == f->length - f->len);
}

static void on_frame_end(tether_parser *p, transcript *t) {
    frame_rec *f = &t->frames[t->nframes - 1];
    assert_true(f->len == f->length);
    assert_true(tether_parser_remaining(p) == 0);
    if (f->opcode == TETHER_OP_CLOSE) {
        size_t rl = 99;
        const char *r = tether_parser_close_reason(p, &rl);
        f->close_code = tether_parser_close_code(p);
        assert_non_null(r);
        assert_true(rl <= sizeof f->reason);
        memcpy(f->reason, r, rl);
        f->reason_len = rl;
    }
}

/* Parses in[0..n) arriving first `first` bytes, then `step` bytes at a
 * time, as a socket reader would hand them over. */
static void run(const cfg *c, const uint8_t *in, size_t n, size_t first, size_t step,
                transcript *t) {
    memset(t, 0, sizeof *t);
    uint8_t *buf = malloc(n + 1);
    t->data = malloc(n + 1);
    assert_non_null(buf);
    assert_non_null(t->data);
    if (n) memcpy(buf, in, n);
    tether_parser *p = make_parser(c);
    size_t pos = 0, avail = first < n ? first : n;
    int last = -1;
    for (size_t guard = 0; guard < 4 * n + 16; guard++) {
        size_t used = 12345;
        const uint8_t *d = NULL;
        size_t dl = 0;
        int ev = tether_parser_next(p, buf + pos, avail - pos, &used, &d, &dl);
        if (ev < 0) {
            assert_int_equal(used, 0);
            t->error = ev;
            t->error_text = tether_parser_error_text(p);
            assert_non_null(t->error_text);
            /* Sticky: the same error, nothing consumed, until reset. */
            assert_int_equal(tether_parser_next(p, buf + pos, avail - pos, &used, &d, &dl), ev);
            assert_int_equal(used, 0);
            break;
        }
        assert_true(used <= avail - pos);
        if (ev == TETHER_PARSE_FRAME_START) on_frame_start(p, t);
        if (ev == TETHER_PARSE_PAYLOAD) on_payload(p, t, buf + pos, used, d, dl);
        if (ev == TETHER_PARSE_FRAME_END) {
            assert_int_equal(used, 0);
            assert_int_not_equal(last, TETHER_PARSE_FRAME_END);
            on_frame_end(p, t);
        }
        pos += used;
        last = ev;
        if (ev == TETHER_PARSE_NEED_MORE) {
            assert_int_equal(pos, avail);
            if (avail == n) break;
            avail = avail + step < n ? avail + step : n;
        }
    }
    t->consumed = pos;
    tether_parser_free(p);
    free(buf);
}

static void free_transcript(transcript *t) {
    free(t->data);
    t->data = NULL;
}

static void same_transcript(const transcript *a, const transcript *b) {
    assert_int_equal(a->error, b->error);
    if (a->error) assert_string_equal(a->error_text, b->error_text);
    assert_int_equal(a->nframes, b->nframes);
    for (int i = 0; i < a->nframes; i++) {
        const frame_rec *x = &a->frames[i], *y = &b->frames[i];
        assert_int_equal(x->opcode, y->opcode);
        assert_int_equal(x->fin, y->fin);
        assert_int_equal(x->rsv, y->rsv);
        assert_int_equal(x->masked, y->masked);
        assert_int_equal(x->msg_opcode, y->msg_opcode);
        assert_int_equal(x->compressed, y->compressed);
        assert_true(x->length == y->length);
        /* Payload content must agree except in a frame cut by an error,
         * where fail-fast may stop at a different slice. */
        if (!a->error || i < a->nframes - 1) {
            assert_int_equal(x->len, y->len);
            assert_memory_equal(a->data + x->off, b->data + y->off, x->len);
        }
        assert_int_equal(x->close_code, y->close_code);
        assert_int_equal(x->reason_len, y->reason_len);
        assert_memory_equal(x->reason, y->reason, x->reason_len);
    }
    if (!a->error) assert_int_equal(a->consumed, b->consumed);
}

/* Parses whole, byte at a time, in odd steps, and cut in two at every
 * point (sampled for large inputs); all must agree. Fills *whole. */
static void parse_all_ways(const cfg *c, const uint8_t *in, size_t n, transcript *whole) {
    run(c, in, n, n, n, whole);
    transcript t;
    run(c, in, n, 1, 1, &t);
    same_transcript(whole, &t);
    free_transcript(&t);
    run(c, in, n, 3, 7, &t);
    same_transcript(whole, &t);
    free_transcript(&t);
    for (size_t cut = 0; cut <= n; cut++) {
        if (n > 600 && cut > 64 && cut + 64 < n && cut % 4099 != 0) continue;
        run(c, in, n, cut, n, &t);
        same_transcript(whole, &t);
        free_transcript(&t);
    }
}

static const cfg client_cfg = {TETHER_ROLE_CLIENT, 0, 1, 0};
static const cfg server_cfg = {TETHER_ROLE_SERVER, 0, 1, 0};

/* Expects in[0..n) to fail with `code` however it is split. */
static transcript expect_error_cfg(const cfg *c, const uint8_t *in, size_t n, int code) {
    transcript t;
    parse_all_ways(c, in, n, &t);
    assert_int_equal(t.error, code);
    return t;
}

static void expect_error(tether_role role, const uint8_t *in, size_t n, int code,
                         const char *text) {
    cfg c = {role, 0, 1, 0};
    transcript t = expect_error_cfg(&c, in, n, code);
    if (text) assert_string_equal(t.error_text, text);
    free_transcript(&t);
}

#define EXPECT_ERROR(role, code, text, ...)                                                        \
    do {                                                                                           \
        static const uint8_t in_[] = {__VA_ARGS__};                                                \
        expect_error(role, in_, sizeof in_, code, text);                                           \
    } while (0)

/* ---- RFC 6455 section 5.7 ---------------------------------------------- */

static const uint8_t rfc_hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const uint8_t rfc_masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const uint8_t rfc_fragmented[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
static const uint8_t rfc_ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const uint8_t rfc_masked_pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};

static void check_single(const transcript *t, int opcode, int masked, const void *payload,
                         size_t len) {
    assert_int_equal(t->error, 0);
    assert_int_equal(t->nframes, 1);
    const frame_rec *f = &t->frames[0];
    assert_int_equal(f->opcode, opcode);
    assert_int_equal(f->fin, 1);
    assert_int_equal(f->rsv, 0);
    assert_int_equal(f->masked, masked);
    assert_int_equal(f->msg_opcode, opcode);
    assert_int_equal(f->compressed, 0);
    assert_true(f->length == len);
    assert_int_equal(f->len, len);
    assert_memory_equal(t->data + f->off, payload, len);
}

static void test_rfc_single_frames(void **state) {
    (void)state;
    transcript t;
    parse_all_ways(&client_cfg, rfc_hello, sizeof rfc_hello, &t);
    check_single(&t, TETHER_OP_TEXT, 0, "Hello", 5);
    free_transcript(&t);
    parse_all_ways(&server_cfg, rfc_masked_hello, sizeof rfc_masked_hello, &t);
    check_single(&t, TETHER_OP_TEXT, 1, "Hello", 5);
    free_transcript(&t);
    parse_all_ways(&client_cfg, rfc_ping, sizeof rfc_ping, &t);
    check_single(&t, TETHER_OP_PING, 0, "Hello", 5);
    free_transcript(&t);
    parse_all_ways(&server_cfg, rfc_masked_pong, sizeof rfc_masked_pong, &t);
    check_single(&t, TETHER_OP_PONG, 1, "Hello", 5);
    free_transcript(&t);
}

static void test_rfc_fragmented(void **state) {
    (void)state;
    transcript t;
    parse_all_ways(&client_cfg, rfc_fragmented, sizeof rfc_fragmented, &t);
    assert_int_equal(t.error, 0);
    assert_int_equal(t.nframes, 2);
    assert_int_equal(t.frames[0].opcode, TETHER_OP_TEXT);
    assert_int_equal(t.frames[0].fin, 0);
    assert_int_equal(t.frames[1].opcode, TETHER_OP_CONTINUATION);
    assert_int_equal(t.frames[1].fin, 1);
    assert_int_equal(t.frames[1].msg_opcode, TETHER_OP_TEXT);
    assert_int_equal(t.data_len, 5);
    assert_memory_equal(t.data, "Hello", 5);
    free_transcript(&t);
}

static uint8_t *binary_frame(size_t len, size_t *n) {
    size_t h = len < 65536 ? 4 : 10;
    uint8_t *f = malloc(h + len);
    assert_non_null(f);
    f[0] = 0x82;
    if (h == 4) {
        f[1] = 0x7e;
        f[2] = (uint8_t)(len >> 8);
        f[3] = (uint8_t)len;
    } else {
        f[1] = 0x7f;
        for (int i = 0; i < 8; i++)
            f[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    for (size_t i = 0; i < len; i++)
        f[h + i] = (uint8_t)(i * 31 + 7);
    *n = h + len;
    return f;
}

static void test_rfc_binary_256_and_64k(void **state) {
    (void)state;
    size_t lens[] = {256, 65536};
    for (int i = 0; i < 2; i++) {
        size_t n;
        uint8_t *f = binary_frame(lens[i], &n);
        /* The exact header bytes the RFC gives. */
        if (lens[i] == 256) {
            static const uint8_t h[] = {0x82, 0x7e, 0x01, 0x00};
            assert_memory_equal(f, h, sizeof h);
        } else {
            static const uint8_t h[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
            assert_memory_equal(f, h, sizeof h);
        }
        transcript t;
        parse_all_ways(&client_cfg, f, n, &t);
        check_single(&t, TETHER_OP_BINARY, 0, f + (n - lens[i]), lens[i]);
        free_transcript(&t);
        free(f);
    }
}

/* ---- Events, zero copy, control gathering ------------------------------ */

static void test_event_sequence_and_zero_copy(void **state) {
    (void)state;
    tether_parser *p = tether_parser_new(TETHER_ROLE_SERVER);
    assert_non_null(p);
    uint8_t buf[sizeof rfc_masked_hello];
    memcpy(buf, rfc_masked_hello, sizeof buf);
    size_t used;
    const uint8_t *d;
    size_t dl;
    /* No frame yet: the accessors say so. */
    assert_int_equal(tether_parser_opcode(p), -1);
    assert_int_equal(tether_parser_fin(p), -1);
    assert_int_equal(tether_parser_masked(p), -1);
    assert_int_equal(tether_parser_rsv(p), 0);
    assert_true(tether_parser_frame_length(p) == 0);
    assert_true(tether_parser_remaining(p) == 0);
    assert_int_equal(tether_parser_message_opcode(p), -1);
    assert_int_equal(tether_parser_close_code(p), -1);
    assert_null(tether_parser_error_text(p));

    assert_int_equal(tether_parser_next(p, buf, sizeof buf, &used, &d, &dl),
                     TETHER_PARSE_FRAME_START);
    assert_int_equal(used, 6);
    assert_int_equal(tether_parser_opcode(p), TETHER_OP_TEXT);
    assert_int_equal(tether_parser_masked(p), 1);
    assert_true(tether_parser_frame_length(p) == 5);
    assert_int_equal(tether_parser_next(p, buf + 6, 5, &used, &d, &dl), TETHER_PARSE_PAYLOAD);
    assert_int_equal(used, 5);
    assert_ptr_equal(d, buf + 6); /* in place: no copy */
    assert_int_equal(dl, 5);
    assert_memory_equal(buf + 6, "Hello", 5);
    assert_int_equal(tether_parser_next(p, buf + 11, 0, &used, &d, &dl), TETHER_PARSE_FRAME_END);
    assert_int_equal(used, 0);
    /* The frame's details outlive FRAME_END. */
    assert_int_equal(tether_parser_opcode(p), TETHER_OP_TEXT);
    assert_int_equal(tether_parser_next(p, NULL, 0, &used, &d, &dl), TETHER_PARSE_NEED_MORE);
    assert_int_equal(used, 0);
    tether_parser_free(p);
}

/* A ping split across calls comes out once, whole, from the parser; one in
 * a single call comes out of the caller's buffer. */
static void test_control_gathered(void **state) {
    (void)state;
    tether_parser *p = tether_parser_new(TETHER_ROLE_SERVER);
    uint8_t buf[sizeof rfc_masked_pong];
    memcpy(buf, rfc_masked_pong, sizeof buf);
    size_t used, pos = 0;
    const uint8_t *d = NULL;
    size_t dl = 0;
    int payloads = 0;
    while (pos < sizeof buf) {
        int ev = tether_parser_next(p, buf + pos, 1, &used, &d, &dl);
        assert_true(ev >= 0);
        if (ev == TETHER_PARSE_PAYLOAD) {
            payloads++;
            assert_int_equal(dl, 5);
            assert_memory_equal(d, "Hello", 5);
            assert_true(d < buf || d >= buf + sizeof buf);
        }
        pos += used;
    }
    assert_int_equal(payloads, 1);
    assert_int_equal(tether_parser_next(p, NULL, 0, &used, &d, &dl), TETHER_PARSE_FRAME_END);
    memcpy(buf, rfc_masked_pong, sizeof buf);
    assert_int_equal(tether_parser_next(p, buf, sizeof buf, &used, &d, &dl),
                     TETHER_PARSE_FRAME_START);
    assert_int_equal(tether_parser_next(p, buf + 6, 5, &used, &d, &dl), TETHER_PARSE_PAYLOAD);
    assert_ptr_equal(d, buf + 6);
    tether_parser_free(p);
}

/* data and data_len may be NULL: payloads are still unmasked and checked. */
static void test_null_data_pointers(void **state) {
    (void)state;
    tether_parser *p = tether_parser_new(TETHER_ROLE_SERVER);
    uint8_t buf[sizeof rfc_masked_hello];
    memcpy(buf, rfc_masked_hello, sizeof buf);
    size_t used;
    assert_int_equal(tether_parser_next(p, buf, sizeof buf, &used, NULL, NULL),
                     TETHER_PARSE_FRAME_START);
    assert_int_equal(tether_parser_next(p, buf + 6, 5, &used, NULL, NULL), TETHER_PARSE_PAYLOAD);
    assert_memory_equal(buf + 6, "Hello", 5);
    tether_parser_free(p);
}

static void test_interleaved_ping(void **state) {
    (void)state;
    static const uint8_t in[] = {0x01, 0x03, 'H',  'e',  'l', /* text, no FIN */
                                 0x89, 0x01, 'x',             /* ping */
                                 0x8a, 0x00,                  /* empty pong */
                                 0x00, 0x01, 'l',             /* continuation */
                                 0x88, 0x02, 0x03, 0xe8,      /* close 1000 */
                                 0x80, 0x01, 'o'};
    /* Control frames, a close included, may come between fragments: the
     * framing is legal and the message goes on. */
    transcript t;
    parse_all_ways(&client_cfg, in, sizeof in, &t);
    assert_int_equal(t.error, 0);
    assert_int_equal(t.nframes, 6);
    assert_int_equal(t.frames[1].opcode, TETHER_OP_PING);
    assert_int_equal(t.frames[1].msg_opcode, TETHER_OP_PING);
    assert_int_equal(t.frames[2].opcode, TETHER_OP_PONG);
    assert_int_equal(t.frames[3].msg_opcode, TETHER_OP_TEXT);
    assert_int_equal(t.frames[4].close_code, 1000);
    assert_int_equal(t.frames[5].msg_opcode, TETHER_OP_TEXT);
    assert_int_equal(t.frames[5].fin, 1);
    assert_int_equal(t.data_len, 8);
    assert_memory_equal(t.data, "Helxl\x03\xe8o", 8);
    free_transcript(&t);
}

/* ---- Protocol errors ---------------------------------------------------- */

static void test_mask_errors(void **state) {
    (void)state;
    expect_error(TETHER_ROLE_SERVER, rfc_hello, sizeof rfc_hello, TETHER_E_MASK,
                 "server received an unmasked frame");
    expect_error(TETHER_ROLE_CLIENT, rfc_masked_hello, sizeof rfc_masked_hello, TETHER_E_MASK,
                 "client received a masked frame");
    /* Found at the second byte, before any payload. */
    EXPECT_ERROR(TETHER_ROLE_SERVER, TETHER_E_MASK, NULL, 0x82, 0x00);
}

static void test_reserved_opcodes(void **state) {
    (void)state;
    static const unsigned ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        uint8_t in[] = {(uint8_t)(0x80 | ops[i]), 0x00};
        expect_error(TETHER_ROLE_CLIENT, in, sizeof in, TETHER_E_OPCODE, NULL);
        /* Even the first byte alone is enough to know. */
        expect_error(TETHER_ROLE_CLIENT, in, 1, TETHER_E_OPCODE, NULL);
    }
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_OPCODE, "reserved data opcode 0x3 received", 0x83);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_OPCODE, "reserved control opcode 0xB received", 0x8B);
}

static void test_rsv_not_negotiated(void **state) {
    (void)state;
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_RSV, "RSV1 set with no extension negotiated", 0xC1,
                 0x00);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_RSV, "RSV2 set with no extension negotiated", 0xA1,
                 0x00);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_RSV, "RSV3 set with no extension negotiated", 0x91,
                 0x00);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_RSV, "RSV1 set on a control frame", 0xC9, 0x00);
}

static void test_rsv_allowed(void **state) {
    (void)state;
    cfg c = {TETHER_ROLE_CLIENT, TETHER_RSV1, 1, 0};
    /* RSV1 on a first frame is fine, and its text (compressed) is not
     * checked as UTF-8. */
    static const uint8_t ok[] = {0x41, 0x02, 0xff, 0xfe, 0x80, 0x01, 0x00};
    transcript t;
    parse_all_ways(&c, ok, sizeof ok, &t);
    assert_int_equal(t.error, 0);
    assert_int_equal(t.frames[0].rsv, TETHER_RSV1);
    assert_int_equal(t.frames[0].compressed, 1);
    assert_int_equal(t.frames[1].compressed, 1);
    assert_int_equal(t.frames[1].rsv, 0);
    free_transcript(&t);

    static const uint8_t on_cont[] = {0x41, 0x01, 'a', 0xC0, 0x01, 'b'};
    t = expect_error_cfg(&c, on_cont, sizeof on_cont, TETHER_E_RSV);
    assert_string_equal(t.error_text, "RSV1 set on a continuation frame");
    free_transcript(&t);
    static const uint8_t on_ping[] = {0xC9, 0x00};
    t = expect_error_cfg(&c, on_ping, sizeof on_ping, TETHER_E_RSV);
    assert_string_equal(t.error_text, "RSV1 set on a control frame");
    free_transcript(&t);
    static const uint8_t rsv2[] = {0xA2, 0x00};
    t = expect_error_cfg(&c, rsv2, sizeof rsv2, TETHER_E_RSV);
    assert_string_equal(t.error_text, "RSV2 set but the negotiated extensions do not use it");
    free_transcript(&t);
}

static void test_length_encoding(void **state) {
    (void)state;
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_LENGTH,
                 "64-bit extended length has its most significant bit set", 0x82, 0x7f, 0x80, 0, 0,
                 0, 0, 0, 0, 0);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_LENGTH, NULL, 0x82, 0x7f, 0xff, 0xff, 0xff, 0xff,
                 0xff, 0xff, 0xff, 0xff);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_LENGTH,
                 "16-bit extended length used for a payload under 126 bytes", 0x82, 0x7e, 0x00,
                 0x7d);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_LENGTH, NULL, 0x82, 0x7e, 0x00, 0x00);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_LENGTH,
                 "64-bit extended length used for a payload under 65536 bytes", 0x82, 0x7f, 0, 0, 0,
                 0, 0, 0, 0xff, 0xff);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_LENGTH, NULL, 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 5);
    /* The smallest lengths of each encoding are fine. */
    static const uint8_t min16[] = {0x82, 0x7e, 0x00, 0x7e};
    static const uint8_t min64[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    transcript t;
    parse_all_ways(&client_cfg, min16, sizeof min16, &t);
    assert_int_equal(t.error, 0);
    assert_true(t.frames[0].length == 126);
    free_transcript(&t);
    parse_all_ways(&client_cfg, min64, sizeof min64, &t);
    assert_int_equal(t.error, 0);
    assert_true(t.frames[0].length == 65536);
    free_transcript(&t);
}

static void test_huge_lengths(void **state) {
    (void)state;
    static const uint8_t huge[] = {0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    /* 2^63-1 is well formed but over the default limit. */
    expect_error(TETHER_ROLE_CLIENT, huge, sizeof huge, TETHER_E_FRAME_TOO_BIG,
                 "frame longer than the configured maximum");
    /* With no practical limit the header is accepted and nothing breaks. */
    cfg c = {TETHER_ROLE_CLIENT, 0, 1, UINT64_MAX};
    transcript t;
    parse_all_ways(&c, huge, sizeof huge, &t);
    assert_int_equal(t.error, 0);
    assert_int_equal(t.nframes, 1);
    assert_true(t.frames[0].length == (UINT64_C(1) << 63) - 1);
    free_transcript(&t);
    /* The limit applies at header time, before any payload. */
    cfg small = {TETHER_ROLE_CLIENT, 0, 1, 10};
    static const uint8_t eleven[] = {0x82, 0x0b};
    t = expect_error_cfg(&small, eleven, sizeof eleven, TETHER_E_FRAME_TOO_BIG);
    free_transcript(&t);
    static const uint8_t ten[] = {0x82, 0x0a, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    parse_all_ways(&small, ten, sizeof ten, &t);
    assert_int_equal(t.error, 0);
    free_transcript(&t);
}

static void test_control_rules(void **state) {
    (void)state;
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CONTROL_LENGTH,
                 "control frame payload longer than 125 bytes", 0x89, 0x7e, 0x00, 0x7e);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CONTROL_LENGTH, NULL, 0x8a, 0x7f);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CONTROL_FRAGMENTED,
                 "control frame without the FIN bit", 0x09, 0x00);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CONTROL_FRAGMENTED, NULL, 0x08, 0x00);
    /* 125 bytes is the most a control frame may carry. */
    uint8_t ping[127];
    ping[0] = 0x89;
    ping[1] = 125;
    memset(ping + 2, 'p', 125);
    transcript t;
    parse_all_ways(&client_cfg, ping, sizeof ping, &t);
    assert_int_equal(t.error, 0);
    assert_int_equal(t.frames[0].len, 125);
    assert_int_equal(t.frames[0].slices, 1);
    free_transcript(&t);
}

static void test_sequencing(void **state) {
    (void)state;
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CONTINUATION,
                 "continuation frame with no message to continue", 0x80, 0x00);
    /* After a complete message there is nothing to continue either. */
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CONTINUATION, NULL, 0x81, 0x01, 'a', 0x00, 0x00);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_FRAGMENT,
                 "text frame inside an unfinished fragmented message", 0x01, 0x01, 'a', 0x81, 0x00);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_FRAGMENT,
                 "binary frame inside an unfinished fragmented message", 0x02, 0x00, 0x89, 0x00,
                 0x00, 0x00, 0x82, 0x00);
}

static void test_utf8_text(void **state) {
    (void)state;
    /* Valid across fragments, even with a ping between the halves. */
    static const uint8_t euro[] = {0x01, 0x01, 0xe2, 0x89, 0x00, 0x80, 0x02, 0x82, 0xac};
    transcript t;
    parse_all_ways(&client_cfg, euro, sizeof euro, &t);
    assert_int_equal(t.error, 0);
    free_transcript(&t);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_UTF8, "invalid UTF-8 in a text message", 0x81, 0x03,
                 'a', 0xff, 'b');
    /* Overlong and surrogate forms, in continuations. */
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_UTF8, NULL, 0x01, 0x01, 0xc0, 0x80, 0x01, 0x80);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_UTF8, NULL, 0x01, 0x01, 0xed, 0x80, 0x02, 0xa0, 0x80);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_UTF8,
                 "text message ends in the middle of a UTF-8 sequence", 0x81, 0x02, 0xe2, 0x82);
    /* Cut short at the end of a message whose last frame is empty. */
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_UTF8, NULL, 0x01, 0x01, 0xe2, 0x80, 0x00);
    /* Binary is not text; and the check can be turned off. */
    static const uint8_t bin[] = {0x82, 0x02, 0xff, 0xe2};
    parse_all_ways(&client_cfg, bin, sizeof bin, &t);
    assert_int_equal(t.error, 0);
    free_transcript(&t);
    cfg off = {TETHER_ROLE_CLIENT, 0, 0, 0};
    static const uint8_t bad[] = {0x81, 0x02, 0xff, 0xe2};
    parse_all_ways(&off, bad, sizeof bad, &t);
    assert_int_equal(t.error, 0);
    free_transcript(&t);
}

/* The error comes with the slice holding the bad byte, not at the end of
 * the frame: what came before it was handed out. */
static void test_utf8_fail_fast(void **state) {
    (void)state;
    size_t len = 1000;
    uint8_t *f = malloc(4 + len);
    f[0] = 0x81;
    f[1] = 0x7e;
    f[2] = (uint8_t)(len >> 8);
    f[3] = (uint8_t)len;
    memset(f + 4, 'a', len);
    f[4 + 100] = 0xff;
    tether_parser *p = tether_parser_new(TETHER_ROLE_CLIENT);
    size_t used;
    const uint8_t *d;
    size_t dl;
    assert_int_equal(tether_parser_next(p, f, 4, &used, &d, &dl), TETHER_PARSE_FRAME_START);
    assert_int_equal(tether_parser_next(p, f + 4, 100, &used, &d, &dl), TETHER_PARSE_PAYLOAD);
    assert_int_equal(dl, 100);
    assert_int_equal(tether_parser_next(p, f + 104, 10, &used, &d, &dl), TETHER_E_UTF8);
    assert_int_equal(used, 0);
    assert_true(tether_parser_remaining(p) == len - 100 - 10);
    free(f);
    tether_parser_free(p);
}

static void test_close_frames(void **state) {
    (void)state;
    static const uint8_t ok[] = {0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'};
    transcript t;
    parse_all_ways(&client_cfg, ok, sizeof ok, &t);
    assert_int_equal(t.error, 0);
    assert_int_equal(t.frames[0].close_code, 1000);
    assert_int_equal(t.frames[0].reason_len, 3);
    assert_memory_equal(t.frames[0].reason, "bye", 3);
    free_transcript(&t);
    static const uint8_t empty[] = {0x88, 0x00};
    parse_all_ways(&client_cfg, empty, sizeof empty, &t);
    assert_int_equal(t.error, 0);
    assert_int_equal(t.frames[0].close_code, TETHER_CLOSE_NO_STATUS);
    assert_int_equal(t.frames[0].reason_len, 0);
    free_transcript(&t);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CLOSE_PAYLOAD, "close frame with a 1-byte payload",
                 0x88, 0x01, 0x03);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CLOSE_CODE,
                 "close frame with a status code not allowed on the wire", 0x88, 0x02, 0x03, 0xed);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_CLOSE_CODE, NULL, 0x88, 0x02, 0x03, 0xe7);
    EXPECT_ERROR(TETHER_ROLE_CLIENT, TETHER_E_UTF8, "close frame reason is not valid UTF-8", 0x88,
                 0x04, 0x03, 0xe8, 'a', 0xc0);
    /* A masked close to a server: reason readable after the buffer is
     * reused, since the parser keeps it. */
    tether_parser *p = tether_parser_new(TETHER_ROLE_SERVER);
    uint8_t buf[] = {0x88, 0x84, 1, 2, 3, 4, 0x0f ^ 1, 0xa0 ^ 2, 'o' ^ 3, 'k' ^ 4};
    size_t used, pos = 0, rl;
    int ev;
    while ((ev = tether_parser_next(p, buf + pos, sizeof buf - pos, &used, NULL, NULL)) !=
           TETHER_PARSE_FRAME_END) {
        assert_true(ev > 0);
        pos += used;
    }
    memset(buf, 0, sizeof buf);
    assert_int_equal(tether_parser_close_code(p), 4000);
    const char *r = tether_parser_close_reason(p, &rl);
    assert_int_equal(rl, 2);
    assert_memory_equal(r, "ok", 2);
    /* The next frame's first byte ends the close's details. */
    uint8_t next = 0x89;
    assert_int_equal(tether_parser_next(p, &next, 1, &used, NULL, NULL), TETHER_PARSE_NEED_MORE);
    assert_int_equal(tether_parser_close_code(p), -1);
    assert_null(tether_parser_close_reason(p, &rl));
    assert_int_equal(rl, 0);
    tether_parser_free(p);
}

/* ---- Sticky errors, reset, settings, bad arguments --------------------- */

static void test_sticky_and_reset(void **state) {
    (void)state;
    tether_parser *p = tether_parser_new(TETHER_ROLE_CLIENT);
    assert_int_equal(tether_parser_set_max_frame(p, 3), 0);
    uint8_t bad[] = {0xA1, 0x00};
    size_t used = 9;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tether_parser_next(p, bad, sizeof bad, &used, NULL, NULL), TETHER_E_RSV);
        assert_int_equal(used, 0);
        assert_string_equal(tether_parser_error_text(p), "RSV2 set with no extension negotiated");
    }
    /* Even good input gets the same error. */
    uint8_t hello[sizeof rfc_hello];
    memcpy(hello, rfc_hello, sizeof hello);
    assert_int_equal(tether_parser_next(p, hello, sizeof hello, &used, NULL, NULL), TETHER_E_RSV);
    assert_int_equal(tether_parser_reset(p), 0);
    assert_null(tether_parser_error_text(p));
    /* The settings survive the reset: 5 > 3. */
    assert_int_equal(tether_parser_next(p, hello, sizeof hello, &used, NULL, NULL),
                     TETHER_E_FRAME_TOO_BIG);
    assert_int_equal(tether_parser_reset(p), 0);
    assert_int_equal(tether_parser_set_max_frame(p, 5), 0);
    assert_int_equal(tether_parser_next(p, hello, sizeof hello, &used, NULL, NULL),
                     TETHER_PARSE_FRAME_START);
    /* Reset in the middle of a message forgets it. */
    assert_int_equal(tether_parser_reset(p), 0);
    uint8_t cont[] = {0x80, 0x00};
    assert_int_equal(tether_parser_next(p, cont, 2, &used, NULL, NULL), TETHER_E_CONTINUATION);
    tether_parser_free(p);
}

static void test_bad_arguments(void **state) {
    (void)state;
    assert_null(tether_parser_new((tether_role)2));
    assert_null(tether_parser_new((tether_role)-1));
    tether_parser_free(NULL);
    tether_parser *p = tether_parser_new(TETHER_ROLE_CLIENT);
    uint8_t b[2] = {0x81, 0x00};
    size_t used = 5;
    const uint8_t *d = b;
    size_t dl = 7;
    assert_int_equal(tether_parser_next(NULL, b, 2, &used, &d, &dl), TETHER_E_INVAL);
    assert_int_equal(used, 0);
    assert_int_equal(tether_parser_next(p, b, 2, NULL, &d, &dl), TETHER_E_INVAL);
    assert_int_equal(tether_parser_next(p, NULL, 2, &used, &d, &dl), TETHER_E_INVAL);
    /* Bad arguments do not break the parser. */
    assert_null(tether_parser_error_text(p));
    assert_int_equal(tether_parser_next(p, b, 2, &used, &d, &dl), TETHER_PARSE_FRAME_START);
    assert_int_equal(tether_parser_reset(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_parser_set_max_frame(NULL, 10), TETHER_E_INVAL);
    assert_int_equal(tether_parser_set_max_frame(p, 0), TETHER_E_INVAL);
    assert_int_equal(tether_parser_set_rsv_allowed(NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tether_parser_set_rsv_allowed(p, 8), TETHER_E_INVAL);
    assert_int_equal(tether_parser_set_rsv_allowed(p, 7), 0);
    assert_int_equal(tether_parser_set_utf8_check(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_parser_opcode(NULL), -1);
    assert_int_equal(tether_parser_fin(NULL), -1);
    assert_int_equal(tether_parser_rsv(NULL), 0);
    assert_int_equal(tether_parser_masked(NULL), -1);
    assert_true(tether_parser_frame_length(NULL) == 0);
    assert_true(tether_parser_remaining(NULL) == 0);
    assert_int_equal(tether_parser_message_opcode(NULL), -1);
    assert_int_equal(tether_parser_message_compressed(NULL), -1);
    assert_int_equal(tether_parser_close_code(NULL), -1);
    size_t rl = 3;
    assert_null(tether_parser_close_reason(NULL, &rl));
    assert_int_equal(rl, 0);
    assert_null(tether_parser_close_reason(p, NULL));
    assert_null(tether_parser_error_text(NULL));
    tether_parser_free(p);
}

/* ---- Writer -> parser round trips --------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void round_trip(tether_role sender, size_t len) {
    uint8_t *payload = malloc(len + 1), *frame = malloc(len + TETHER_MAX_FRAME_HEADER);
    assert_non_null(payload);
    assert_non_null(frame);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)next_rand();
    size_t n;
    assert_int_equal(tether_frame_write(sender, TETHER_OP_BINARY, 1, 0, payload, len, frame,
                                        len + TETHER_MAX_FRAME_HEADER, &n),
                     0);
    assert_int_equal(n, tether_frame_header_size(len, sender == TETHER_ROLE_CLIENT) + len);
    cfg c = {sender == TETHER_ROLE_CLIENT ? TETHER_ROLE_SERVER : TETHER_ROLE_CLIENT, 0, 1, 0};
    transcript t;
    size_t step = 1 + next_rand() % 5000;
    run(&c, frame, n, next_rand() % (n + 1), step, &t);
    check_single(&t, TETHER_OP_BINARY, sender == TETHER_ROLE_CLIENT, payload, len);
    free_transcript(&t);
    free(payload);
    free(frame);
}

static void test_round_trip_boundaries(void **state) {
    (void)state;
    static const size_t centres[] = {0, 125, 126, 65535, 65536};
    for (size_t i = 0; i < sizeof centres / sizeof centres[0]; i++)
        for (int k = 0; k < 12; k++) {
            size_t len = centres[i] + (next_rand() % 9) - 4;
            if (len > (size_t)1 << 20) len = next_rand() % 5; /* wrapped below 0 */
            round_trip(TETHER_ROLE_CLIENT, len);
            round_trip(TETHER_ROLE_SERVER, len);
        }
    for (size_t len = 120; len <= 131; len++) {
        round_trip(TETHER_ROLE_CLIENT, len);
        round_trip(TETHER_ROLE_SERVER, len);
    }
    round_trip(TETHER_ROLE_CLIENT, 200000);
}

/* A text message written in fragments by the writer, with pings between,
 * read back as one message. */
static void test_round_trip_fragmented_text(void **state) {
    (void)state;
    static const char text[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80!";
    size_t tl = sizeof text - 1;
    uint8_t wire[512];
    size_t n = 0, w;
    for (size_t pos = 0; pos < tl; pos += 3) {
        size_t k = tl - pos < 3 ? tl - pos : 3;
        tether_opcode op = pos == 0 ? TETHER_OP_TEXT : TETHER_OP_CONTINUATION;
        assert_int_equal(tether_frame_write(TETHER_ROLE_CLIENT, op, pos + k == tl, 0, text + pos, k,
                                            wire + n, sizeof wire - n, &w),
                         0);
        n += w;
        assert_int_equal(tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_PING, 1, 0, "p", 1,
                                            wire + n, sizeof wire - n, &w),
                         0);
        n += w;
    }
    transcript t;
    parse_all_ways(&server_cfg, wire, n, &t);
    assert_int_equal(t.error, 0);
    size_t got = 0;
    char msg[64];
    for (int i = 0; i < t.nframes; i++) {
        const frame_rec *f = &t.frames[i];
        if (f->opcode == TETHER_OP_PING) continue;
        assert_int_equal(f->msg_opcode, TETHER_OP_TEXT);
        memcpy(msg + got, t.data + f->off, f->len);
        got += f->len;
    }
    assert_int_equal(got, tl);
    assert_memory_equal(msg, text, tl);
    free_transcript(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_single_frames),
        cmocka_unit_test(test_rfc_fragmented),
        cmocka_unit_test(test_rfc_binary_256_and_64k),
        cmocka_unit_test(test_event_sequence_and_zero_copy),
        cmocka_unit_test(test_control_gathered),
        cmocka_unit_test(test_null_data_pointers),
        cmocka_unit_test(test_interleaved_ping),
        cmocka_unit_test(test_mask_errors),
        cmocka_unit_test(test_reserved_opcodes),
        cmocka_unit_test(test_rsv_not_negotiated),
        cmocka_unit_test(test_rsv_allowed),
        cmocka_unit_test(test_length_encoding),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_control_rules),
        cmocka_unit_test(test_sequencing),
        cmocka_unit_test(test_utf8_text),
        cmocka_unit_test(test_utf8_fail_fast),
        cmocka_unit_test(test_close_frames),
        cmocka_unit_test(test_sticky_and_reset),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_round_trip_boundaries),
        cmocka_unit_test(test_round_trip_fragmented_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
