/* Strict, incremental, fail-fast UTF-8 validation (RFC 3629 / Unicode
 * table 3-7 of well-formed byte sequences).
 *
 * A byte is first mapped to a class, then a small state machine says which
 * classes may follow. The states encode exactly which range the next byte
 * must fall in, so an overlong form (E0 80..9F, F0 80..8F), a surrogate
 * (ED A0..BF) or a code point above U+10FFFF (F4 90..BF, F5..FF) fails on
 * the very byte that makes it impossible. Runs of ASCII, by far the most
 * common text, are skipped 64 bytes at a time. */
#include "tether.h"

#include <string.h>

/* Byte classes: 0 ASCII, 1 80..8F, 2 90..9F, 3 A0..BF (continuations split
 * by the ranges the special leads need), 4 C2..DF, 5 E0, 6 E1..EC EE..EF,
 * 7 ED, 8 F0, 9 F1..F3, 10 F4, 11 never valid (C0 C1 F5..FF). */
static const uint8_t tt_utf8_class[256] = {
    /* 0_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 1_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 2_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 3_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 4_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 5_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 6_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 7_ */ 0,  0,  0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 8_ */ 1,  1,  1, 1, 1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
    /* 9_ */ 2,  2,  2, 2, 2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
    /* A_ */ 3,  3,  3, 3, 3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,
    /* B_ */ 3,  3,  3, 3, 3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,
    /* C_ */ 11, 11, 4, 4, 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
    /* D_ */ 4,  4,  4, 4, 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,
    /* E_ */ 5,  6,  6, 6, 6,  6,  6,  6,  6,  6,  6,  6,  6,  7,  6,  6,
    /* F_ */ 8,  9,  9, 9, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11,
};

/* States: what the next byte must be. */
enum {
    TT_U8_ACCEPT = 0, /* at a character boundary */
    TT_U8_TAIL1,      /* one more 80..BF */
    TT_U8_TAIL2,      /* two more, the next 80..BF */
    TT_U8_E0,         /* two more, the next A0..BF (no overlong) */
    TT_U8_ED,         /* two more, the next 80..9F (no surrogate) */
    TT_U8_TAIL3,      /* three more, the next 80..BF */
    TT_U8_F0,         /* three more, the next 90..BF (no overlong) */
    TT_U8_F4,         /* three more, the next 80..8F (<= U+10FFFF) */
    TT_U8_FAIL,
    TT_U8_NSTATES
};

#define F TT_U8_FAIL
static const uint8_t tt_utf8_next[TT_U8_NSTATES][12] = {
    /*               asc 8x  9x  Ax  C2  E0  E1  ED  F0  F1  F4  bad */
    [TT_U8_ACCEPT] = {0, F, F, F, TT_U8_TAIL1, TT_U8_E0, TT_U8_TAIL2, TT_U8_ED, TT_U8_F0,
                      TT_U8_TAIL3, TT_U8_F4, F},
    [TT_U8_TAIL1] = {F, 0, 0, 0, F, F, F, F, F, F, F, F},
    [TT_U8_TAIL2] = {F, TT_U8_TAIL1, TT_U8_TAIL1, TT_U8_TAIL1, F, F, F, F, F, F, F, F},
    [TT_U8_E0] = {F, F, F, TT_U8_TAIL1, F, F, F, F, F, F, F, F},
    [TT_U8_ED] = {F, TT_U8_TAIL1, TT_U8_TAIL1, F, F, F, F, F, F, F, F, F},
    [TT_U8_TAIL3] = {F, TT_U8_TAIL2, TT_U8_TAIL2, TT_U8_TAIL2, F, F, F, F, F, F, F, F},
    [TT_U8_F0] = {F, F, TT_U8_TAIL2, TT_U8_TAIL2, F, F, F, F, F, F, F, F},
    [TT_U8_F4] = {F, TT_U8_TAIL2, F, F, F, F, F, F, F, F, F, F},
    [TT_U8_FAIL] = {F, F, F, F, F, F, F, F, F, F, F, F},
};
#undef F

#if defined(__GNUC__)
/* Two 64-bit lanes: plain SSE2 on x86-64, NEON on arm64 (GCC and Clang
 * vector extensions; loads through memcpy, so any alignment is fine). */
typedef uint64_t tt_u8v __attribute__((vector_size(16)));

/* Whether 64 bytes are all ASCII: four vectors ORed, one test. */
static int tt_utf8_ascii64(const uint8_t *s) {
    tt_u8v a, b, c, d;
    memcpy(&a, s, 16);
    memcpy(&b, s + 16, 16);
    memcpy(&c, s + 32, 16);
    memcpy(&d, s + 48, 16);
    tt_u8v m = a | b | c | d;
    return !((m[0] | m[1]) & UINT64_C(0x8080808080808080));
}
#endif

/* Skips runs of ASCII, 64 then 8 bytes at a time; returns how many bytes
 * it skipped (the rest starts at or just before a non-ASCII byte). */
static size_t tt_utf8_skip_ascii(const uint8_t *s, size_t len) {
    size_t i = 0;
#if defined(__GNUC__)
    while (len - i >= 64 && tt_utf8_ascii64(s + i))
        i += 64;
#endif
    while (len - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        if (w & UINT64_C(0x8080808080808080)) break;
        i += 8;
    }
    return i;
}

int tether_utf8_feed(uint32_t *state, const void *s, size_t len) {
    if (!state || (!s && len)) return TETHER_E_INVAL;
    uint32_t st = *state < TT_U8_NSTATES ? *state : TT_U8_FAIL;
    const uint8_t *p = s;
    size_t i = 0;
    while (i < len && st != TT_U8_FAIL) {
        if (st == TT_U8_ACCEPT) {
            i += tt_utf8_skip_ascii(p + i, len - i);
            if (i == len) break;
        }
        st = tt_utf8_next[st][tt_utf8_class[p[i]]];
        i++;
    }
    *state = st;
    return st == TT_U8_FAIL ? TETHER_E_UTF8 : 0;
}

int tether_utf8_finish(uint32_t state) {
    return state == TT_U8_ACCEPT ? 0 : TETHER_E_UTF8;
}

int tether_utf8_validate(const void *s, size_t len) {
    uint32_t st = TETHER_UTF8_INIT;
    int rc = tether_utf8_feed(&st, s, len);
    return rc ? rc : tether_utf8_finish(st);
}
