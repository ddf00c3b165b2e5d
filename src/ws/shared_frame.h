/* Internal: one frame held by many output queues. A broadcast builds its
 * frame once and every receiver's queue points at it, so N stalled
 * receivers hold one copy, not N. Only unmasked frames can be shared: a
 * client masks every frame with a key of its own. */
#ifndef TT_SHARED_FRAME_H
#define TT_SHARED_FRAME_H

#include "tether.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tt_shared_frame {
    size_t refs;  /* queues holding it, and its maker until it lets go */
    size_t len;   /* header and payload */
    size_t *held; /* a counter of the bytes shared frames hold, or NULL */
    uint8_t bytes[];
} tt_shared_frame;

/* Builds one whole unmasked frame with one reference, the caller's, and
 * adds its size to *held (if held) until the last reference goes. NULL
 * when out of memory or the opcode is not a data opcode. Not thread-safe:
 * every queue holding it belongs to one thread. */
tt_shared_frame *tt_shared_frame_new(tether_opcode op, const void *data, size_t len, size_t *held);
void tt_shared_frame_ref(tt_shared_frame *f);
void tt_shared_frame_unref(tt_shared_frame *f);

#endif
