/* Internal: the permessage-deflate object, shared by negotiation
 * (pmd_negotiate.c) and the codec (pmd_codec.c). */
#ifndef TT_PMD_H
#define TT_PMD_H

#include "tether.h"

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* Window bits as the RFC allows them on the wire, and as zlib can deflate
 * with a raw window (it turns 8 into 9 without saying so). */
#define TT_PMD_MIN_BITS 8
#define TT_PMD_MAX_BITS 15
#define TT_PMD_MIN_DEFLATE_BITS 9

/* One direction's parameters: whether the context is dropped after each
 * message, and the LZ77 window in bits. */
typedef struct tt_pmd_side {
    int no_context_takeover;
    int max_window_bits;
} tt_pmd_side;

/* A growable byte buffer the object owns and reuses for every message. */
typedef struct tt_pmd_buf {
    uint8_t *data;
    size_t cap;
} tt_pmd_buf;

struct tether_pmd {
    tether_role role;
    int negotiated; /* offer/accept or negotiate has completed */
    int enabled;    /* permessage-deflate is in force */

    /* Preferences, named by the RFC's side (server_* / client_*). */
    tt_pmd_side want_server;
    tt_pmd_side want_client;
    int level;
    int mem_level;
    uint64_t max_decompressed;

    /* Parameters in force after negotiation. */
    tt_pmd_side server;
    tt_pmd_side client;

    /* Our compressor: zlib state is created on first use, not before, so
     * an idle connection costs only this struct. */
    z_stream def;
    int def_ready;
    tt_pmd_buf def_out;

    /* The peer's decompressor, likewise lazy. inf_total counts this
     * message's output for the cap; inf_seen tells whether the message had
     * any compressed byte yet; inf_failed blocks use after an error. */
    z_stream inf;
    int inf_ready;
    int inf_failed;
    int inf_seen;
    uint64_t inf_total;
    tt_pmd_buf inf_out;
};

/* The parameters of the side that compresses what we send, and of the side
 * whose messages we inflate, according to our role. */
static inline const tt_pmd_side *tt_pmd_ours(const struct tether_pmd *pmd) {
    return pmd->role == TETHER_ROLE_CLIENT ? &pmd->client : &pmd->server;
}
static inline const tt_pmd_side *tt_pmd_peers(const struct tether_pmd *pmd) {
    return pmd->role == TETHER_ROLE_CLIENT ? &pmd->server : &pmd->client;
}

/* Releases zlib state and buffers (pmd_codec.c); used by tether_pmd_free. */
void tt_pmd_codec_free(struct tether_pmd *pmd);

/* For the connection layer (src/conn), which drives the codec itself. */

/* Ends our compression stream; the next piece starts a fresh one. The peer
 * inflates that correctly whatever it kept (a fresh stream refers to no
 * earlier byte), so this is how a piece that was compressed but could not
 * be sent is forgotten, even in the middle of a message (every piece ends
 * on a byte-aligned block boundary). */
void tt_pmd_drop_deflate(struct tether_pmd *pmd);

/* Restarts the count the decompressed-size cap applies to: a streaming
 * receiver caps each frame's output rather than the whole message's. */
void tt_pmd_restart_count(struct tether_pmd *pmd);

/* Frees the compress / inflate output buffer if it grew past keep bytes
 * (after a big message), so an idle connection does not hold it. Only when
 * the last output handed out is no longer used. */
void tt_pmd_trim_deflate(struct tether_pmd *pmd, size_t keep);
void tt_pmd_trim_inflate(struct tether_pmd *pmd, size_t keep);

/* tether_pmd_decompress(), but the output is appended to the caller's
 * growable buffer (*buf of *cap bytes, *buf_len used; realloc'ed as needed,
 * never past what the cap on the message allows) instead of the codec's
 * own: a message being reassembled is inflated where it is kept, one copy
 * and no second buffer of its size. The caller frees *buf. */
int tt_pmd_decompress_append(tether_pmd *pmd, const void *in, size_t len, int fin, uint8_t **buf,
                             size_t *cap, size_t *buf_len);

#endif
