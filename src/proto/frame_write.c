/* Frame writer (RFC 6455 section 5.2): headers with the minimal length
 * encoding, and whole frames, masked with a fresh key when a client sends.
 * A header is checked by the same rules the parser applies to received
 * ones, so tether never sends what it would itself reject. */
#include "proto/mask_key.h"
#include "tether.h"

#include <string.h>

/* Lengths that still fit the 7-bit field and the 16-bit extended field. */
#define TT_LEN7_MAX 125u
#define TT_LEN16_MAX 0xFFFFu
/* RFC 6455: "the most significant bit MUST be 0" in the 64-bit length. */
#define TT_LEN64_MSB (UINT64_C(1) << 63)

static size_t tt_length_field_size(uint64_t len) {
    if (len <= TT_LEN7_MAX) return 0;
    return len <= TT_LEN16_MAX ? 2 : 8;
}

size_t tether_frame_header_size(uint64_t len, int masked) {
    return 2 + tt_length_field_size(len) + (masked ? 4 : 0);
}

static int tt_opcode_defined(unsigned op) {
    return op <= TETHER_OP_BINARY || (op >= TETHER_OP_CLOSE && op <= TETHER_OP_PONG);
}

/* The checks, in the order the parser makes them, so a header it rejects
 * gets the same error code here. */
static int tt_header_check(unsigned op, int fin, unsigned rsv, uint64_t len) {
    if (op > 0xFu || rsv > 7u || (len & TT_LEN64_MSB)) return TETHER_E_INVAL;
    if (!tt_opcode_defined(op)) return TETHER_E_OPCODE;
    if (op & 0x8u) {
        if (!fin) return TETHER_E_CONTROL_FRAGMENTED;
        if (len > TETHER_MAX_CONTROL_PAYLOAD) return TETHER_E_CONTROL_LENGTH;
    }
    return 0;
}

static void tt_put_length(uint8_t *out, uint64_t len, size_t field) {
    for (size_t i = 0; i < field; i++)
        out[i] = (uint8_t)(len >> (8 * (field - 1 - i)));
}

int tether_frame_write_header(uint8_t *out, size_t cap, tether_opcode opcode, int fin, unsigned rsv,
                              uint64_t len, const uint8_t *mask_key) {
    if (!out) return TETHER_E_INVAL;
    unsigned op = (unsigned)opcode;
    int rc = tt_header_check(op, fin, rsv, len);
    if (rc) return rc;
    size_t field = tt_length_field_size(len);
    size_t size = tether_frame_header_size(len, mask_key != NULL);
    if (cap < size) return TETHER_E_NOSPC;

    out[0] = (uint8_t)((fin ? 0x80u : 0u) | (rsv << 4) | op);
    unsigned len7 = field == 0 ? (unsigned)len : field == 2 ? 126u : 127u;
    out[1] = (uint8_t)((mask_key ? 0x80u : 0u) | len7);
    tt_put_length(out + 2, len, field);
    if (mask_key) memcpy(out + 2 + field, mask_key, 4);
    return (int)size;
}

int tether_frame_write(tether_role role, tether_opcode opcode, int fin, unsigned rsv,
                       const void *payload, size_t len, uint8_t *out, size_t cap, size_t *written) {
    if (written) *written = 0;
    if (!written || !out || (!payload && len)) return TETHER_E_INVAL;
    if (role != TETHER_ROLE_CLIENT && role != TETHER_ROLE_SERVER) return TETHER_E_INVAL;
    int masked = role == TETHER_ROLE_CLIENT;
    uint8_t key[4];
    /* Write the header with a placeholder key first: a bad header must be
     * refused before the CSPRNG is asked for anything. */
    memset(key, 0, sizeof key);
    int hs = tether_frame_write_header(out, cap, opcode, fin, rsv, len, masked ? key : NULL);
    if (hs < 0) return hs;
    if (len > cap - (size_t)hs) return TETHER_E_NOSPC;
    if (masked) {
        /* A fresh unpredictable key per frame (section 5.3), so a script
         * cannot choose the bytes an intermediary sees. */
        if (tt_mask_key(key)) return TETHER_E_RANDOM;
        memcpy(out + hs - 4, key, sizeof key);
        tether_mask(out + hs, payload, len, key, 0);
    } else if (len) {
        memmove(out + hs, payload, len);
    }
    *written = (size_t)hs + len;
    return 0;
}
