/* Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 sections 4.1, 4.2.2).
 * SHA-1 and base64 come from OpenSSL: well-tested code for a check that
 * guards every connection. */
#include "tether.h"

#include <openssl/evp.h>

/* The GUID every WebSocket endpoint appends to the key. */
static const char tt_ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int tether_handshake_key(char out[TETHER_KEY_LEN + 1]) {
    unsigned char raw[16];
    if (!out) return TETHER_E_INVAL;
    int rc = tether_random_bytes(raw, sizeof raw);
    if (rc) return rc;
    /* EVP_EncodeBlock writes 4 * ceil(16 / 3) = 24 characters and a NUL. */
    EVP_EncodeBlock((unsigned char *)out, raw, (int)sizeof raw);
    return 0;
}

int tether_handshake_accept_key(const char *key, size_t key_len, char out[TETHER_ACCEPT_LEN + 1]) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if ((!key && key_len) || !out) return TETHER_E_INVAL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* Only an allocation can fail here: SHA-1 itself cannot. */
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
             (key_len == 0 || EVP_DigestUpdate(ctx, key, key_len)) &&
             EVP_DigestUpdate(ctx, tt_ws_guid, sizeof tt_ws_guid - 1) &&
             EVP_DigestFinal_ex(ctx, digest, &digest_len) && digest_len == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok) return TETHER_E_NOMEM;
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
    return 0;
}
