/* Payload masking (RFC 6455 section 5.3): XOR with a 4-byte key, repeated.
 *
 * The key repeats every 4 bytes, so an 8-byte word made of the key twice
 * (rotated to the stream offset) masks 8 bytes at once and stays in phase
 * after each word. Loads and stores go through memcpy: compilers turn them
 * into plain unaligned moves, and no pointer is ever cast to a wider type,
 * so any alignment is fine and there is no aliasing UB. */
#include "tether.h"

#include <string.h>

/* The key stream starting at `offset`, repeated to fill 8 bytes, as it lies
 * in memory (byte order does not matter: we XOR memory with memory). */
static uint64_t tt_mask_word(const uint8_t key[4], uint64_t offset) {
    uint8_t bytes[8];
    for (unsigned i = 0; i < 8; i++)
        bytes[i] = key[(offset + i) & 3u];
    uint64_t w;
    memcpy(&w, bytes, sizeof w);
    return w;
}

static void tt_mask_words(uint8_t *d, const uint8_t *s, size_t words, uint64_t k) {
    /* Four independent words per round keep several loads in flight. */
    for (; words >= 4; words -= 4, d += 32, s += 32) {
        uint64_t a, b, c, e;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        memcpy(&c, s + 16, 8);
        memcpy(&e, s + 24, 8);
        a ^= k;
        b ^= k;
        c ^= k;
        e ^= k;
        memcpy(d, &a, 8);
        memcpy(d + 8, &b, 8);
        memcpy(d + 16, &c, 8);
        memcpy(d + 24, &e, 8);
    }
    for (; words > 0; words--, d += 8, s += 8) {
        uint64_t a;
        memcpy(&a, s, 8);
        a ^= k;
        memcpy(d, &a, 8);
    }
}

int tether_mask(void *dst, const void *src, size_t len, const uint8_t key[4], uint64_t offset) {
    if (!key || (len && (!dst || !src))) return TETHER_E_INVAL;
    uint8_t *d = dst;
    const uint8_t *s = src;
    uint64_t k = tt_mask_word(key, offset);
    size_t words = len / 8;
    tt_mask_words(d, s, words, k);
    /* Whole words keep the key in phase, so the tail starts at the same
     * rotation as the first word. */
    uint8_t tail_key[8];
    memcpy(tail_key, &k, sizeof tail_key);
    for (size_t i = words * 8; i < len; i++)
        d[i] = (uint8_t)(s[i] ^ tail_key[i & 7u]);
    return 0;
}
