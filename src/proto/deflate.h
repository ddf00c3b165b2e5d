/* Internal: permessage-deflate (RFC 7692) as the layers above src/proto
 * use it, on top of the public tether_pmd_* functions: the WebSocket engine
 * (src/ws) drives the codec itself, message by message. */
#ifndef TT_DEFLATE_H
#define TT_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "tether.h"

/* The role the object was made for. */
tether_role tt_pmd_role(const tether_pmd *pmd);
/* Whether a side drops its context after each message: ours (what we
 * compress, ours = 1) or the peer's (what we inflate, ours = 0). */
int tt_pmd_no_takeover(const tether_pmd *pmd, int ours);

/* Ends our compression stream; the next piece starts a fresh one. The peer
 * inflates that correctly whatever it kept (a fresh stream refers to no
 * earlier byte), so this is how a piece that was compressed but could not
 * be sent is forgotten, even in the middle of a message (every piece ends
 * on a byte-aligned block boundary). */
void tt_pmd_drop_deflate(tether_pmd *pmd);

/* Compressors one thread's connections share for the messages they send
 * without context takeover (deflate_shared.c): tt_pmd_share() makes pmd
 * borrow one per message instead of setting up its own. sh must outlive
 * every pmd that uses it, and all of them must be used by one thread. */
typedef struct tt_pmd_shared tt_pmd_shared;
tt_pmd_shared *tt_pmd_shared_new(void);
void tt_pmd_shared_free(tt_pmd_shared *sh);
void tt_pmd_share(tether_pmd *pmd, tt_pmd_shared *sh);

/* Restarts the count the decompressed-size cap applies to: a streaming
 * receiver caps each frame's output rather than the whole message's. */
void tt_pmd_restart_count(tether_pmd *pmd);

/* Frees the compress / inflate output buffer if it grew past keep bytes
 * (after a big message), so an idle connection does not hold it. Only when
 * the last output handed out is no longer used. */
void tt_pmd_trim_deflate(tether_pmd *pmd, size_t keep);
void tt_pmd_trim_inflate(tether_pmd *pmd, size_t keep);

/* tether_pmd_decompress(), but the output is appended to the caller's
 * growable buffer (*buf of *cap bytes, *buf_len used; realloc'ed as needed,
 * never past what the cap on the message allows) instead of the codec's
 * own: a message being reassembled is inflated where it is kept, one copy
 * and no second buffer of its size. The caller frees *buf. */
int tt_pmd_decompress_append(tether_pmd *pmd, const void *in, size_t len, int fin, uint8_t **buf,
                             size_t *cap, size_t *buf_len);

#endif
