/* Sec-WebSocket-Key / Sec-WebSocket-Accept (RFC 6455 sections 1.3, 4.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "tether.h"

static void test_rfc_sample(void **state) {
    (void)state;
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    char accept[TETHER_ACCEPT_LEN + 1];
    assert_int_equal(tether_handshake_accept_key(key, strlen(key), accept), 0);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(strlen(accept), TETHER_ACCEPT_LEN);
}

/* The key is used as given: a different length gives a different accept,
 * and an empty key is still hashed (with the GUID alone). */
static void test_accept_uses_key_as_given(void **state) {
    (void)state;
    char a[TETHER_ACCEPT_LEN + 1], b[TETHER_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ== ";
    assert_int_equal(tether_handshake_accept_key(key, strlen(key), a), 0);
    assert_string_not_equal(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(tether_handshake_accept_key(key, strlen(key) - 1, b), 0);
    assert_string_equal(b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(tether_handshake_accept_key(NULL, 0, a), 0);
    assert_int_equal(tether_handshake_accept_key("", 0, b), 0);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), TETHER_ACCEPT_LEN);
}

static void test_generated_keys(void **state) {
    (void)state;
    char k1[TETHER_KEY_LEN + 1], k2[TETHER_KEY_LEN + 1];
    unsigned char raw[24];
    assert_int_equal(tether_handshake_key(k1), 0);
    assert_int_equal(tether_handshake_key(k2), 0);
    assert_int_equal(strlen(k1), TETHER_KEY_LEN);
    assert_int_equal(strlen(k2), TETHER_KEY_LEN);
    assert_string_not_equal(k1, k2);
    /* 16 bytes in base64: 22 characters and "==" (EVP_DecodeBlock counts the
     * padding as two zero bytes). */
    assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)k1, TETHER_KEY_LEN), 18);
    assert_memory_equal(k1 + 22, "==", 2);
}

static void test_bad_arguments(void **state) {
    (void)state;
    char out[TETHER_ACCEPT_LEN + 1];
    assert_int_equal(tether_handshake_key(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_handshake_accept_key(NULL, 3, out), TETHER_E_INVAL);
    assert_int_equal(tether_handshake_accept_key("abc", 3, NULL), TETHER_E_INVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_sample),
        cmocka_unit_test(test_accept_uses_key_as_given),
        cmocka_unit_test(test_generated_keys),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
