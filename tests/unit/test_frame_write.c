/* The frame writer: RFC 6455 5.7's examples byte for byte, minimal length
 * encoding at every boundary, header checks, client masking with a fresh
 * key per frame, and bad arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"

static const uint8_t rfc_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Writes a server frame and compares it with the expected bytes. */
static void expect_server(tether_opcode op, int fin, const void *payload, size_t len,
                          const uint8_t *want, size_t want_len) {
    uint8_t *out = malloc(want_len + 16);
    assert_non_null(out);
    size_t n = 0;
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_SERVER, op, fin, 0, payload, len, out, want_len + 16, &n),
        0);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
    free(out);
}

static void test_rfc_unmasked_examples(void **state) {
    (void)state;
    static const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    expect_server(TETHER_OP_TEXT, 1, "Hello", 5, hello, sizeof hello);
    static const uint8_t hel[] = {0x01, 0x03, 0x48, 0x65, 0x6c};
    expect_server(TETHER_OP_TEXT, 0, "Hel", 3, hel, sizeof hel);
    static const uint8_t lo[] = {0x80, 0x02, 0x6c, 0x6f};
    expect_server(TETHER_OP_CONTINUATION, 1, "lo", 2, lo, sizeof lo);
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    expect_server(TETHER_OP_PING, 1, "Hello", 5, ping, sizeof ping);
}

static void test_rfc_binary_256_and_64k(void **state) {
    (void)state;
    size_t sizes[] = {256, 65536};
    for (int i = 0; i < 2; i++) {
        size_t len = sizes[i];
        uint8_t *payload = malloc(len), *want = malloc(len + 10);
        assert_non_null(payload);
        assert_non_null(want);
        for (size_t j = 0; j < len; j++)
            payload[j] = (uint8_t)(j * 13);
        size_t h;
        want[0] = 0x82;
        if (len == 256) {
            static const uint8_t hdr[] = {0x7e, 0x01, 0x00};
            memcpy(want + 1, hdr, sizeof hdr);
            h = 4;
        } else {
            static const uint8_t hdr[] = {0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
            memcpy(want + 1, hdr, sizeof hdr);
            h = 10;
        }
        memcpy(want + h, payload, len);
        expect_server(TETHER_OP_BINARY, 1, payload, len, want, h + len);
        free(payload);
        free(want);
    }
}

/* Client frames with a known key: header writer plus tether_mask. */
static void test_rfc_masked_with_key(void **state) {
    (void)state;
    static const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t out[32];
    int h = tether_frame_write_header(out, sizeof out, TETHER_OP_TEXT, 1, 0, 5, rfc_key);
    assert_int_equal(h, 6);
    assert_int_equal(tether_mask(out + h, "Hello", 5, rfc_key, 0), 0);
    assert_memory_equal(out, hello, sizeof hello);
    h = tether_frame_write_header(out, sizeof out, TETHER_OP_PONG, 1, 0, 5, rfc_key);
    assert_int_equal(h, 6);
    assert_int_equal(tether_mask(out + h, "Hello", 5, rfc_key, 0), 0);
    assert_memory_equal(out, pong, sizeof pong);
}

static void test_header_size(void **state) {
    (void)state;
    assert_int_equal(tether_frame_header_size(0, 0), 2);
    assert_int_equal(tether_frame_header_size(125, 0), 2);
    assert_int_equal(tether_frame_header_size(126, 0), 4);
    assert_int_equal(tether_frame_header_size(65535, 0), 4);
    assert_int_equal(tether_frame_header_size(65536, 0), 10);
    assert_int_equal(tether_frame_header_size(UINT64_MAX >> 1, 0), 10);
    assert_int_equal(tether_frame_header_size(0, 1), 6);
    assert_int_equal(tether_frame_header_size(126, 1), 8);
    assert_int_equal(tether_frame_header_size(65536, 1), TETHER_MAX_FRAME_HEADER);
}

/* The length field at each boundary, and the size agreeing with
 * tether_frame_header_size(). */
static void test_minimal_lengths(void **state) {
    (void)state;
    static const uint64_t lens[] = {
        0, 1, 125, 126, 127, 65535, 65536, 0x123456789ull, (UINT64_C(1) << 63) - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint64_t len = lens[i];
        for (int m = 0; m < 2; m++) {
            uint8_t out[TETHER_MAX_FRAME_HEADER];
            int h = tether_frame_write_header(out, sizeof out, TETHER_OP_BINARY, 1, 0, len,
                                              m ? rfc_key : NULL);
            assert_int_equal(h, (int)tether_frame_header_size(len, m));
            assert_int_equal(out[0], 0x82);
            assert_int_equal(out[1] & 0x80, m ? 0x80 : 0);
            unsigned len7 = out[1] & 0x7f;
            uint64_t got = 0;
            size_t field = 0;
            if (len <= 125) {
                assert_int_equal(len7, len);
                got = len7;
            } else {
                field = len <= 65535 ? 2 : 8;
                assert_int_equal(len7, field == 2 ? 126 : 127);
                for (size_t j = 0; j < field; j++)
                    got = (got << 8) | out[2 + j];
            }
            assert_true(got == len);
            if (m) assert_memory_equal(out + 2 + field, rfc_key, 4);
        }
    }
}

static void test_flags(void **state) {
    (void)state;
    uint8_t out[TETHER_MAX_FRAME_HEADER];
    assert_int_equal(tether_frame_write_header(out, sizeof out, TETHER_OP_TEXT, 0,
                                               TETHER_RSV1 | TETHER_RSV3, 3, NULL),
                     2);
    assert_int_equal(out[0], 0x51);
    assert_int_equal(out[1], 3);
    assert_int_equal(tether_frame_write_header(out, sizeof out, TETHER_OP_CLOSE, 1, 0, 0, NULL), 2);
    assert_int_equal(out[0], 0x88);
    assert_int_equal(out[1], 0);
    /* Any nonzero fin means FIN. */
    assert_int_equal(tether_frame_write_header(out, sizeof out, TETHER_OP_BINARY, 42, 7, 0, NULL),
                     2);
    assert_int_equal(out[0], 0xF2);
}

static void test_header_errors(void **state) {
    (void)state;
    uint8_t out[TETHER_MAX_FRAME_HEADER];
    size_t cap = sizeof out;
    for (unsigned op = 0; op < 16; op++) {
        int defined = op <= 2 || (op >= 8 && op <= 10);
        int rc = tether_frame_write_header(out, cap, (tether_opcode)op, 1, 0, 0, NULL);
        assert_int_equal(rc, defined ? 2 : TETHER_E_OPCODE);
    }
    assert_int_equal(tether_frame_write_header(out, cap, (tether_opcode)16, 1, 0, 0, NULL),
                     TETHER_E_INVAL);
    assert_int_equal(tether_frame_write_header(out, cap, TETHER_OP_TEXT, 1, 8, 0, NULL),
                     TETHER_E_INVAL);
    assert_int_equal(
        tether_frame_write_header(out, cap, TETHER_OP_TEXT, 1, 0, UINT64_C(1) << 63, NULL),
        TETHER_E_INVAL);
    assert_int_equal(tether_frame_write_header(NULL, cap, TETHER_OP_TEXT, 1, 0, 0, NULL),
                     TETHER_E_INVAL);
    tether_opcode ctl[] = {TETHER_OP_CLOSE, TETHER_OP_PING, TETHER_OP_PONG};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tether_frame_write_header(out, cap, ctl[i], 0, 0, 0, NULL),
                         TETHER_E_CONTROL_FRAGMENTED);
        assert_int_equal(tether_frame_write_header(out, cap, ctl[i], 1, 0, 126, NULL),
                         TETHER_E_CONTROL_LENGTH);
        assert_int_equal(tether_frame_write_header(out, cap, ctl[i], 1, 0, 125, NULL), 2);
    }
    /* Too small an output, for each header size. */
    assert_int_equal(tether_frame_write_header(out, 1, TETHER_OP_TEXT, 1, 0, 0, NULL),
                     TETHER_E_NOSPC);
    assert_int_equal(tether_frame_write_header(out, 5, TETHER_OP_TEXT, 1, 0, 0, rfc_key),
                     TETHER_E_NOSPC);
    assert_int_equal(tether_frame_write_header(out, 3, TETHER_OP_TEXT, 1, 0, 300, NULL),
                     TETHER_E_NOSPC);
    assert_int_equal(tether_frame_write_header(out, 13, TETHER_OP_TEXT, 1, 0, 70000, rfc_key),
                     TETHER_E_NOSPC);
    assert_int_equal(tether_frame_write_header(out, 14, TETHER_OP_TEXT, 1, 0, 70000, rfc_key), 14);
}

/* A client frame: its key is in the header and unmasking it gives the
 * payload back; two frames get different keys. */
static void test_client_masks_fresh_key(void **state) {
    (void)state;
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    uint8_t keys[8][4];
    for (int f = 0; f < 8; f++) {
        uint8_t out[400];
        size_t n = 0;
        assert_int_equal(tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_BINARY, 1, 0, payload,
                                            sizeof payload, out, sizeof out, &n),
                         0);
        assert_int_equal(n, 8 + sizeof payload);
        assert_int_equal(out[0], 0x82);
        assert_int_equal(out[1], 0x80 | 126);
        memcpy(keys[f], out + 4, 4);
        uint8_t back[300];
        tether_mask(back, out + 8, sizeof back, keys[f], 0);
        assert_memory_equal(back, payload, sizeof payload);
    }
    /* Eight frames with all-equal 32-bit keys would mean a broken CSPRNG
     * (chance 2^-224); two consecutive equal keys are 2^-32. */
    int distinct = 0;
    for (int f = 1; f < 8; f++)
        distinct += memcmp(keys[f], keys[0], 4) != 0;
    assert_true(distinct >= 6);
    assert_memory_not_equal(keys[0], keys[1], 4);
}

static void test_client_empty_and_control(void **state) {
    (void)state;
    uint8_t out[16];
    size_t n = 99;
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_PING, 1, 0, NULL, 0, out, 6, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(out[0], 0x89);
    assert_int_equal(out[1], 0x80);
}

static void test_write_errors(void **state) {
    (void)state;
    uint8_t out[200], pl[130] = {0};
    size_t n = 7;
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_SERVER, TETHER_OP_TEXT, 1, 0, pl, 5, out, sizeof out, NULL),
        TETHER_E_INVAL);
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_SERVER, TETHER_OP_TEXT, 1, 0, pl, 5, NULL, sizeof out, &n),
        TETHER_E_INVAL);
    assert_int_equal(n, 0);
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_SERVER, TETHER_OP_TEXT, 1, 0, NULL, 5, out, sizeof out, &n),
        TETHER_E_INVAL);
    assert_int_equal(
        tether_frame_write((tether_role)2, TETHER_OP_TEXT, 1, 0, pl, 5, out, sizeof out, &n),
        TETHER_E_INVAL);
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_SERVER, (tether_opcode)3, 1, 0, pl, 5, out, sizeof out, &n),
        TETHER_E_OPCODE);
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_PING, 1, 0, pl, 126, out, sizeof out, &n),
        TETHER_E_CONTROL_LENGTH);
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_CLOSE, 0, 0, pl, 2, out, sizeof out, &n),
        TETHER_E_CONTROL_FRAGMENTED);
    /* Room for the header but not the payload, both roles. */
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_SERVER, TETHER_OP_TEXT, 1, 0, pl, 5, out, 6, &n),
        TETHER_E_NOSPC);
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_TEXT, 1, 0, pl, 5, out, 10, &n),
        TETHER_E_NOSPC);
    assert_int_equal(n, 0);
    /* Exactly enough. */
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_TEXT, 1, 0, pl, 5, out, 11, &n), 0);
    assert_int_equal(n, 11);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_unmasked_examples),
        cmocka_unit_test(test_rfc_binary_256_and_64k),
        cmocka_unit_test(test_rfc_masked_with_key),
        cmocka_unit_test(test_header_size),
        cmocka_unit_test(test_minimal_lengths),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_client_masks_fresh_key),
        cmocka_unit_test(test_client_empty_and_control),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
