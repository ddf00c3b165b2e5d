/* Compressors shared by the connections of one thread. A side without
 * context takeover starts every message from an empty window, so its
 * stream need not be its own: setting one up (deflateInit2 allocates about
 * 262 KiB, which malloc serves with mmap and the first writes fault in)
 * costs far more than resetting one (deflateReset clears the hash table).
 * So such connections borrow a stream kept warm here for each message, and
 * give it back at the message's end; an idle connection still holds no
 * zlib state. A slot serves one set of parameters; a message compressed in
 * pieces keeps its stream until its last piece, and when every matching
 * slot is busy the connection uses a stream of its own as before. */
#include "proto/deflate_int.h"

#include <stdlib.h>
#include <string.h>

/* Parameter sets kept at once: a server usually has one. */
#define TT_PMD_SHARED_SLOTS 4

typedef struct tt_pmd_slot {
    z_stream z;
    int level, bits, mem_level;
    int ready, busy;
} tt_pmd_slot;

struct tt_pmd_shared {
    tt_pmd_slot slot[TT_PMD_SHARED_SLOTS];
};

tt_pmd_shared *tt_pmd_shared_new(void) {
    return calloc(1, sizeof(tt_pmd_shared));
}

void tt_pmd_shared_free(tt_pmd_shared *sh) {
    if (!sh) return;
    for (int i = 0; i < TT_PMD_SHARED_SLOTS; i++)
        if (sh->slot[i].ready) deflateEnd(&sh->slot[i].z);
    free(sh);
}

static int tt_pmd_slot_fits(const tt_pmd_slot *s, int level, int bits, int mem_level) {
    return s->ready && s->level == level && s->bits == bits && s->mem_level == mem_level;
}

/* An empty slot made ready for these parameters, or NULL. */
static tt_pmd_slot *tt_pmd_slot_new(tt_pmd_shared *sh, int level, int bits, int mem_level) {
    for (int i = 0; i < TT_PMD_SHARED_SLOTS; i++) {
        tt_pmd_slot *s = &sh->slot[i];
        if (s->ready) continue;
        memset(&s->z, 0, sizeof s->z);
        if (deflateInit2(&s->z, level, Z_DEFLATED, -bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
            return NULL;
        s->level = level, s->bits = bits, s->mem_level = mem_level;
        s->ready = 1;
        return s;
    }
    return NULL;
}

z_stream *tt_pmd_shared_take(tt_pmd_shared *sh, int level, int bits, int mem_level) {
    for (int i = 0; i < TT_PMD_SHARED_SLOTS; i++) {
        tt_pmd_slot *s = &sh->slot[i];
        if (!s->busy && tt_pmd_slot_fits(s, level, bits, mem_level)) {
            s->busy = 1;
            return &s->z;
        }
    }
    tt_pmd_slot *s = tt_pmd_slot_new(sh, level, bits, mem_level);
    if (!s) return NULL;
    s->busy = 1;
    return &s->z;
}

void tt_pmd_shared_give(tt_pmd_shared *sh, z_stream *z) {
    tt_pmd_slot *s = (tt_pmd_slot *)(void *)z; /* z is the slot's first member */
    (void)sh;
    /* Reset now, so the next message starts from an empty window; a stream
     * that fails to reset is ended and its slot freed. */
    if (deflateReset(z) != Z_OK) {
        deflateEnd(z);
        s->ready = 0;
    }
    s->busy = 0;
}
