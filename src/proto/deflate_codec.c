/* permessage-deflate: compressing what we send and inflating what we
 * receive (RFC 7692 section 7.2), with zlib raw deflate streams.
 *
 * Both streams start on first use, so an idle connection costs no zlib
 * memory, and both write into buffers the object keeps and reuses, so a warm
 * connection does not allocate per message. The inflate buffer never grows
 * past the decompressed-size cap: a message that would exceed it is refused
 * as soon as one byte too many comes out.
 *
 * A side without context takeover ends its stream after each message rather
 * than resetting it: nothing in it is used again, so an idle connection
 * holds no zlib state (262 KiB for a default compressor, 39 KiB for an
 * inflater with zlib 1.2.13). Setting the stream up again costs no more than
 * the reset did: both clear the compressor's hash table, which dominates. */
#include "proto/deflate_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Largest slice handed to zlib at once: its counters are unsigned int. */
#define TT_PMD_CHUNK ((size_t)1 << 30)
/* First size of an output buffer. */
#define TT_PMD_BUF_MIN ((size_t)256)

/* The 4 octets a sender removes from the end of each message (7.2.1). */
static const uint8_t tt_pmd_tail[4] = {0x00, 0x00, 0xff, 0xff};

static size_t tt_min_size(size_t a, size_t b) {
    return a < b ? a : b;
}

/* Grows buf to hold at least need bytes, doubling so that a connection
 * settles after a few messages; never past limit. */
static int tt_pmd_buf_reserve(tt_pmd_buf *buf, size_t need, size_t limit) {
    size_t cap = buf->cap ? buf->cap : TT_PMD_BUF_MIN;
    uint8_t *data;
    if (need <= buf->cap) return 0;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap < need) cap = need;
    if (cap > limit) cap = limit;
    data = realloc(buf->data, cap);
    if (data == NULL) return TETHER_E_NOMEM;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

static int tt_zlib_error(int zrc) {
    return zrc == Z_MEM_ERROR ? TETHER_E_NOMEM : TETHER_E_ZLIB;
}

static void tt_pmd_buf_trim(tt_pmd_buf *buf, size_t keep) {
    if (buf->cap <= keep) return;
    free(buf->data);
    buf->data = NULL;
    buf->cap = 0;
}

void tt_pmd_drop_deflate(struct tether_pmd *pmd) {
    if (pmd->def_ready && pmd->def_borrowed)
        tt_pmd_shared_give(pmd->shared, pmd->dz);
    else if (pmd->def_ready)
        deflateEnd(&pmd->def);
    pmd->def_ready = pmd->def_borrowed = 0;
    pmd->dz = NULL;
}

void tt_pmd_share(tether_pmd *pmd, tt_pmd_shared *sh) {
    pmd->shared = sh;
}

static void tt_pmd_drop_inflate(struct tether_pmd *pmd) {
    if (pmd->inf_ready) inflateEnd(&pmd->inf);
    pmd->inf_ready = 0;
}

void tt_pmd_restart_count(struct tether_pmd *pmd) {
    pmd->inf_total = 0;
}

void tt_pmd_trim_deflate(struct tether_pmd *pmd, size_t keep) {
    tt_pmd_buf_trim(&pmd->def_out, keep);
}

void tt_pmd_trim_inflate(struct tether_pmd *pmd, size_t keep) {
    tt_pmd_buf_trim(&pmd->inf_out, keep);
}

void tt_pmd_codec_free(struct tether_pmd *pmd) {
    tt_pmd_drop_deflate(pmd);
    tt_pmd_drop_inflate(pmd);
    tt_pmd_buf_trim(&pmd->def_out, 0);
    tt_pmd_buf_trim(&pmd->inf_out, 0);
}

/* --- Compression -------------------------------------------------------- */

static int tt_pmd_deflate_start(tether_pmd *pmd) {
    int bits = tt_pmd_ours(pmd)->max_window_bits;
    int zrc;
    if (pmd->def_ready) return 0;
    /* Negotiation never agrees to 8 for us; clamp anyway, since zlib would
     * silently use 9 and the peer would then be sent a bigger window. */
    if (bits < TT_PMD_MIN_DEFLATE_BITS) bits = TT_PMD_MIN_DEFLATE_BITS;
    if (pmd->shared && tt_pmd_ours(pmd)->no_context_takeover &&
        (pmd->dz = tt_pmd_shared_take(pmd->shared, pmd->level, bits, pmd->mem_level)) != NULL) {
        pmd->def_ready = pmd->def_borrowed = 1;
        return 0;
    }
    memset(&pmd->def, 0, sizeof pmd->def);
    zrc =
        deflateInit2(&pmd->def, pmd->level, Z_DEFLATED, -bits, pmd->mem_level, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK) return tt_zlib_error(zrc);
    pmd->dz = &pmd->def;
    pmd->def_ready = 1;
    return 0;
}

/* Deflates in[0..len) with a sync flush at the end, appending to def_out
 * from *used on. Stops when all input is taken and the flush is complete,
 * which zlib shows by leaving output space unused. */
static int tt_pmd_deflate_all(tether_pmd *pmd, const uint8_t *in, size_t len, size_t *used) {
    z_stream *z = pmd->dz;
    for (;;) {
        size_t chunk = tt_min_size(len, TT_PMD_CHUNK), room;
        int flush = chunk == len ? Z_SYNC_FLUSH : Z_NO_FLUSH, zrc;
        if (*used == pmd->def_out.cap &&
            tt_pmd_buf_reserve(&pmd->def_out, *used + 1, SIZE_MAX) != 0)
            return TETHER_E_NOMEM;
        room = tt_min_size(pmd->def_out.cap - *used, TT_PMD_CHUNK);
        z->next_in = (Bytef *)(uintptr_t)in;
        z->avail_in = (uInt)chunk;
        z->next_out = pmd->def_out.data + *used;
        z->avail_out = (uInt)room;
        zrc = deflate(z, flush);
        /* Z_BUF_ERROR only means "nothing to do", e.g. an empty piece. */
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) return TETHER_E_ZLIB;
        in += chunk - z->avail_in;
        len -= chunk - z->avail_in;
        *used += room - z->avail_out;
        if (len == 0 && flush == Z_SYNC_FLUSH && z->avail_out > 0) return 0;
    }
}

/* The end of a message: drop the 00 00 ff ff of the last sync flush, or
 * write the header byte of an empty stored block when the message ended
 * with nothing pending (an empty message, or an empty last piece) so that
 * the tail the receiver appends completes a valid block. */
static int tt_pmd_deflate_finish(tether_pmd *pmd, size_t *used) {
    uint8_t *d = pmd->def_out.data;
    if (*used >= 4 && memcmp(d + *used - 4, tt_pmd_tail, 4) == 0) *used -= 4;
    if (*used == 0) {
        if (tt_pmd_buf_reserve(&pmd->def_out, 1, SIZE_MAX) != 0) return TETHER_E_NOMEM;
        pmd->def_out.data[0] = 0x00;
        *used = 1;
    }
    if (tt_pmd_ours(pmd)->no_context_takeover) tt_pmd_drop_deflate(pmd);
    return 0;
}

int tether_pmd_compress(tether_pmd *pmd, const void *in, size_t len, int fin, const uint8_t **out,
                        size_t *out_len) {
    size_t used = 0;
    int rc;
    if (pmd == NULL || out == NULL || out_len == NULL || (in == NULL && len > 0))
        return TETHER_E_INVAL;
    if (!pmd->enabled) return TETHER_E_STATE;
    if (in == NULL) in = tt_pmd_tail; /* len is 0: no arithmetic on NULL */
    if ((rc = tt_pmd_deflate_start(pmd)) != 0) return rc;
    /* Room for the usual case in one go; deflate_all grows it if not. */
    if (len <= TT_PMD_CHUNK &&
        tt_pmd_buf_reserve(&pmd->def_out, deflateBound(pmd->dz, (uLong)len) + 16, SIZE_MAX) != 0)
        return TETHER_E_NOMEM;
    if ((rc = tt_pmd_deflate_all(pmd, in, len, &used)) != 0) return rc;
    if (fin && (rc = tt_pmd_deflate_finish(pmd, &used)) != 0) return rc;
    *out = pmd->def_out.data;
    *out_len = used;
    return 0;
}

/* --- Decompression ------------------------------------------------------ */

static int tt_pmd_inflate_start(tether_pmd *pmd) {
    int bits = tt_pmd_peers(pmd)->max_window_bits;
    int zrc;
    if (pmd->inf_ready) return 0;
    /* A peer allowed 8 bits may well use zlib, which deflates with 9: a
     * bigger window than the peer's always inflates its data correctly. */
    if (bits < TT_PMD_MIN_DEFLATE_BITS) bits = TT_PMD_MIN_DEFLATE_BITS;
    memset(&pmd->inf, 0, sizeof pmd->inf);
    zrc = inflateInit2(&pmd->inf, -bits);
    if (zrc != Z_OK) return tt_zlib_error(zrc);
    pmd->inf_ready = 1;
    return 0;
}

/* Output space this message may still use. */
static size_t tt_pmd_inflate_room(const tether_pmd *pmd, size_t used) {
    uint64_t left = pmd->max_decompressed - pmd->inf_total - used;
    return left > SIZE_MAX ? SIZE_MAX : (size_t)left;
}

/* Maps an inflate result. Z_STREAM_END (a block with BFINAL set, which RFC
 * 7692 section 7.2.3.3 allows) restarts the stream for what follows; the
 * window is dropped there, so a later reference across it fails as corrupt
 * data rather than decoding wrongly. */
static int tt_pmd_inflate_result(tether_pmd *pmd, int zrc) {
    switch (zrc) {
    case Z_OK:
    case Z_BUF_ERROR: /* no progress possible: more input or space needed */
        return 0;
    case Z_STREAM_END:
        return inflateReset(&pmd->inf) == Z_OK ? 0 : TETHER_E_ZLIB;
    case Z_MEM_ERROR:
        return TETHER_E_NOMEM;
    default: /* Z_DATA_ERROR, Z_NEED_DICT: not valid raw deflate */
        return TETHER_E_INFLATE;
    }
}

/* Once the cap is reached, asks zlib for one more byte: if it produces one,
 * the message is too big; otherwise it only consumed input (block headers,
 * empty blocks) and we go on. */
static int tt_pmd_inflate_probe(tether_pmd *pmd) {
    uint8_t probe;
    int zrc;
    pmd->inf.next_out = &probe;
    pmd->inf.avail_out = 1;
    zrc = inflate(&pmd->inf, Z_SYNC_FLUSH);
    if (pmd->inf.avail_out == 0) return TETHER_E_MESSAGE_TOO_BIG;
    return tt_pmd_inflate_result(pmd, zrc);
}

/* One inflate call into dst at off + *used, growing dst first if full. */
static int tt_pmd_inflate_step(tether_pmd *pmd, tt_pmd_buf *dst, size_t off, size_t *used) {
    z_stream *z = &pmd->inf;
    size_t room = tt_pmd_inflate_room(pmd, *used), space, pos = off + *used;
    int zrc;
    if (room == 0) return tt_pmd_inflate_probe(pmd);
    if (pos == dst->cap) {
        size_t limit = pos + room < pos ? SIZE_MAX : pos + room;
        if (tt_pmd_buf_reserve(dst, pos + 1, limit) != 0) return TETHER_E_NOMEM;
    }
    space = tt_min_size(tt_min_size(dst->cap - pos, room), TT_PMD_CHUNK);
    z->next_out = dst->data + pos;
    z->avail_out = (uInt)space;
    zrc = inflate(z, Z_SYNC_FLUSH);
    *used += space - z->avail_out;
    return tt_pmd_inflate_result(pmd, zrc);
}

/* Feeds in[0..len) and collects its output, until the input is used up and
 * zlib has no output pending (it left output space unused). */
static int tt_pmd_inflate_feed(tether_pmd *pmd, const uint8_t *in, size_t len, tt_pmd_buf *dst,
                               size_t off, size_t *used) {
    z_stream *z = &pmd->inf;
    int pending = 0;
    while (len > 0 || pending) {
        size_t chunk = tt_min_size(len, TT_PMD_CHUNK);
        int rc;
        z->next_in = (Bytef *)(uintptr_t)in;
        z->avail_in = (uInt)chunk;
        rc = tt_pmd_inflate_step(pmd, dst, off, used);
        if (rc != 0) return rc;
        in += chunk - z->avail_in;
        len -= chunk - z->avail_in;
        pending = z->avail_out == 0;
    }
    return 0;
}

/* A complete message leaves the inflater between blocks (zlib reports
 * this as bit 128 of data_type); anything else is a truncated block. */
static int tt_pmd_inflate_finish(tether_pmd *pmd) {
    if (!(pmd->inf.data_type & 128)) return TETHER_E_INFLATE;
    if (tt_pmd_peers(pmd)->no_context_takeover) tt_pmd_drop_inflate(pmd);
    return 0;
}

/* Ends the message: the tail the sender removed, the block-boundary check,
 * and the state for the next message. A compliant sender writes an empty
 * message as 0x00; a message with no payload at all is taken as empty too,
 * as other implementations do. */
static int tt_pmd_inflate_end(tether_pmd *pmd, tt_pmd_buf *dst, size_t off, size_t *used) {
    int rc = 0;
    if (pmd->inf_seen)
        rc = tt_pmd_inflate_feed(pmd, tt_pmd_tail, sizeof tt_pmd_tail, dst, off, used);
    if (rc == 0 && pmd->inf_seen) rc = tt_pmd_inflate_finish(pmd);
    pmd->inf_total = 0;
    pmd->inf_seen = 0;
    return rc;
}

/* Inflates one piece into dst after its first off bytes; *used is the
 * output's length. */
static int tt_pmd_decompress_into(tether_pmd *pmd, const void *in, size_t len, int fin,
                                  tt_pmd_buf *dst, size_t off, size_t *used) {
    int rc;
    *used = 0;
    if (!pmd->enabled || pmd->inf_failed) return TETHER_E_STATE;
    if ((rc = tt_pmd_inflate_start(pmd)) != 0) return rc;
    rc = tt_pmd_inflate_feed(pmd, in, len, dst, off, used);
    pmd->inf_seen |= len > 0;
    if (rc == 0 && fin) rc = tt_pmd_inflate_end(pmd, dst, off, used);
    if (rc != 0) {
        pmd->inf_failed = 1;
        return rc;
    }
    if (!fin) pmd->inf_total += *used;
    return 0;
}

int tether_pmd_decompress(tether_pmd *pmd, const void *in, size_t len, int fin, const uint8_t **out,
                          size_t *out_len) {
    size_t used;
    if (pmd == NULL || out == NULL || out_len == NULL || (in == NULL && len > 0))
        return TETHER_E_INVAL;
    int rc = tt_pmd_decompress_into(pmd, in, len, fin, &pmd->inf_out, 0, &used);
    if (rc != 0) return rc;
    /* Never NULL, even before the buffer exists (empty output). */
    *out = pmd->inf_out.data != NULL ? pmd->inf_out.data : tt_pmd_tail;
    *out_len = used;
    return 0;
}

int tt_pmd_decompress_append(tether_pmd *pmd, const void *in, size_t len, int fin, uint8_t **buf,
                             size_t *cap, size_t *buf_len) {
    tt_pmd_buf dst = {*buf, *cap};
    size_t used;
    int rc = tt_pmd_decompress_into(pmd, in, len, fin, &dst, *buf_len, &used);
    *buf = dst.data;
    *cap = dst.cap;
    *buf_len += used;
    return rc;
}

int tether_pmd_reset_inflate(tether_pmd *pmd) {
    if (pmd == NULL) return TETHER_E_INVAL;
    if (pmd->inf_ready && inflateReset(&pmd->inf) != Z_OK) return TETHER_E_ZLIB;
    pmd->inf_failed = 0;
    pmd->inf_seen = 0;
    pmd->inf_total = 0;
    return 0;
}
