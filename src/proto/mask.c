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

#if defined(__GNUC__)
/* Two 64-bit lanes: plain SSE2 on x86-64, NEON on arm64 (GCC and Clang
 * vector extensions). */
typedef uint64_t tt_maskv __attribute__((vector_size(16)));

/* 64 bytes per round, four independent vectors; returns the words done. */
static size_t tt_mask_vectors(uint8_t *d, const uint8_t *s, size_t words, uint64_t k) {
    tt_maskv kv = {k, k}, a, b, c, e;
    size_t done = 0;
    for (; words - done >= 8; done += 8, d += 64, s += 64) {
        memcpy(&a, s, 16);
        memcpy(&b, s + 16, 16);
        memcpy(&c, s + 32, 16);
        memcpy(&e, s + 48, 16);
        a ^= kv;
        b ^= kv;
        c ^= kv;
        e ^= kv;
        memcpy(d, &a, 16);
        memcpy(d + 16, &b, 16);
        memcpy(d + 32, &c, 16);
        memcpy(d + 48, &e, 16);
    }
    return done;
}
#endif

static void tt_mask_words(uint8_t *d, const uint8_t *s, size_t words, uint64_t k) {
#if defined(__GNUC__)
    if (words >= 8) { /* (never an offset on NULL: len 0 may come with no buffer) */
        size_t done = tt_mask_vectors(d, s, words, k);
        d += done * 8;
        s += done * 8;
        words -= done;
    }
#endif
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
