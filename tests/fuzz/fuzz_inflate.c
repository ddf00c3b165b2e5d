/* libFuzzer target for permessage-deflate.
 *
 * Input: byte 0 chooses the peer's window bits (8..15) and context
 * takeover, bytes 1-2 the decompressed-size cap, byte 3 how many messages
 * and pieces; the rest is split into that many messages of that many
 * pieces and inflated. The output of a message must never exceed the cap
 * and the only errors allowed are the documented ones. Then the rest is
 * compressed and decompressed back (it must come out identical), and the
 * whole input is given to the server negotiation as an offers header. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"
#include "fuzz_check.h"
#include "proto/ext_header.h"

/* A client whose server compresses with `bits` and maybe no takeover. */
static tether_pmd *client_for(int bits, int nct, uint64_t cap) {
    char resp[128];
    tether_pmd *p = tether_pmd_new(TETHER_ROLE_CLIENT);
    CHECK(p != NULL);
    snprintf(resp, sizeof resp, "permessage-deflate; server_max_window_bits=%d%s", bits,
             nct ? "; server_no_context_takeover" : "");
    CHECK(tether_pmd_accept(p, resp) == 0);
    CHECK(tether_pmd_enabled(p) == 1);
    CHECK(tether_pmd_set_max_decompressed(p, cap) == 0);
    return p;
}

/* Inflates data as `msgs` messages of `pieces` pieces each. */
static void inflate_messages(const uint8_t *data, size_t size, int bits, int nct, uint64_t cap,
                             size_t msgs, size_t pieces) {
    tether_pmd *p = client_for(bits, nct, cap);
    size_t per_msg = size / msgs, off = 0;
    for (size_t m = 0; m < msgs; m++) {
        size_t mlen = m + 1 == msgs ? size - off : per_msg, per_piece = mlen / pieces, moff = 0;
        uint64_t total = 0;
        for (size_t k = 0; k < pieces; k++) {
            size_t plen = k + 1 == pieces ? mlen - moff : per_piece;
            const uint8_t *o = NULL;
            size_t ol = 0;
            int rc = tether_pmd_decompress(p, data + off + moff, plen, k + 1 == pieces, &o, &ol);
            moff += plen;
            if (rc != 0) {
                CHECK(rc == TETHER_E_INFLATE || rc == TETHER_E_MESSAGE_TOO_BIG);
                CHECK(tether_pmd_reset_inflate(p) == 0);
                break;
            }
            CHECK(o != NULL);
            total += ol;
            CHECK(total <= cap);
        }
        off += mlen;
    }
    tether_pmd_free(p);
}

/* Compresses data (in pieces) on a server and inflates it on a client. */
static void round_trip(const uint8_t *data, size_t size, int bits, int nct, size_t pieces) {
    char offer[256], resp[256];
    size_t len, per_piece = size / pieces, off = 0, got = 0;
    tether_pmd *c = tether_pmd_new(TETHER_ROLE_CLIENT), *s = tether_pmd_new(TETHER_ROLE_SERVER);
    uint8_t *out = malloc(size + 1);
    CHECK(c && s && out);
    if (bits < 9) bits = 9;
    CHECK(tether_pmd_set_server_max_window_bits(c, bits) == 0);
    CHECK(tether_pmd_set_server_no_context_takeover(c, nct) == 0);
    CHECK(tether_pmd_set_level(s, bits % 10) == 0);
    CHECK(tether_pmd_offer(c, offer, sizeof offer, &len) == 0);
    CHECK(tether_pmd_negotiate(s, offer, resp, sizeof resp, &len) == 1);
    CHECK(tether_pmd_accept(c, resp) == 0);
    CHECK(tether_pmd_set_max_decompressed(c, size + 1) == 0);
    for (int msg = 0; msg < 2; msg++) { /* twice: exercises context takeover */
        off = got = 0;
        for (size_t k = 0; k < pieces; k++) {
            size_t plen = k + 1 == pieces ? size - off : per_piece, cl, dl;
            const uint8_t *cd, *dd;
            int fin = k + 1 == pieces;
            CHECK(tether_pmd_compress(s, data + off, plen, fin, &cd, &cl) == 0);
            CHECK(tether_pmd_decompress(c, cd, cl, fin, &dd, &dl) == 0);
            CHECK(got + dl <= size);
            memcpy(out + got, dd, dl);
            got += dl;
            off += plen;
        }
        CHECK(got == size);
        CHECK(size == 0 || memcmp(out, data, size) == 0);
    }
    free(out);
    tether_pmd_free(c);
    tether_pmd_free(s);
}

/* The input as a Sec-WebSocket-Extensions value offered to a server. */
static void negotiate(const uint8_t *data, size_t size) {
    char header[1024], resp[512];
    size_t n = size < sizeof header - 1 ? size : sizeof header - 1, len;
    tether_pmd *s = tether_pmd_new(TETHER_ROLE_SERVER);
    CHECK(s != NULL);
    memcpy(header, data, n);
    header[n] = '\0';
    tether_pmd_set_client_max_window_bits(s, 9 + (int)(size % 7));
    int rc = tether_pmd_negotiate(s, header, resp, sizeof resp, &len);
    CHECK(rc == 0 || rc == 1 || rc == TETHER_E_HS_EXTENSION);
    /* What we answer is always well formed. */
    if (rc == 1) CHECK(tt_ext_parse(resp, len, NULL, NULL) == 0);
    tether_pmd_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int bits = 8 + (data[0] & 7), nct = (data[0] >> 3) & 1;
    uint64_t cap = 1 + (((uint64_t)data[1] << 8) | data[2]) * 16;
    size_t msgs = 1 + (data[3] & 3), pieces = 1 + ((data[3] >> 2) & 7);
    inflate_messages(data + 4, size - 4, bits, nct, cap, msgs, pieces);
    round_trip(data + 4, size - 4, bits, nct, pieces);
    negotiate(data, size);
    return 0;
}
