/* Private to the deflate files of src/proto: the permessage-deflate
 * object, shared by negotiation (deflate_negotiate.c) and the codec
 * (deflate_codec.c). Other layers use proto/deflate.h. */
#ifndef TT_DEFLATE_INT_H
#define TT_DEFLATE_INT_H

#include "proto/deflate.h"

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
     * an idle connection costs only this struct. dz is the stream in use:
     * def, or one borrowed from shared for a message (def_borrowed). */
    z_stream def;
    z_stream *dz;
    int def_ready, def_borrowed;
    tt_pmd_shared *shared;
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

/* A reset stream for these parameters, borrowed until given back, or NULL
 * when none can be had (deflate_shared.c). */
z_stream *tt_pmd_shared_take(tt_pmd_shared *sh, int level, int bits, int mem_level);
void tt_pmd_shared_give(tt_pmd_shared *sh, z_stream *z);

/* Releases zlib state and buffers (deflate_codec.c); used by tether_pmd_free. */
void tt_pmd_codec_free(struct tether_pmd *pmd);

#endif
