/* A frame many queues share: counted references, and the bytes it holds
 * counted once for whoever caps memory (a context's send budget). */
#include "ws/shared_frame.h"

#include <stdlib.h>
#include <string.h>

tt_shared_frame *tt_shared_frame_new(tether_opcode op, const void *data, size_t len, size_t *held) {
    if (op != TETHER_OP_TEXT && op != TETHER_OP_BINARY) return NULL;
    size_t hlen = tether_frame_header_size(len, 0);
    if (len > SIZE_MAX - hlen - sizeof(tt_shared_frame)) return NULL;
    tt_shared_frame *f = malloc(sizeof *f + hlen + len);
    if (!f) return NULL;
    if (tether_frame_write_header(f->bytes, hlen, op, 1, 0, len, NULL) < 0) {
        free(f);
        return NULL;
    }
    if (len) memcpy(f->bytes + hlen, data, len);
    f->refs = 1;
    f->len = hlen + len;
    f->held = held;
    if (held) *held += f->len;
    return f;
}

void tt_shared_frame_ref(tt_shared_frame *f) {
    f->refs++;
}

void tt_shared_frame_unref(tt_shared_frame *f) {
    if (!f || --f->refs > 0) return;
    if (f->held) *f->held -= f->len;
    free(f);
}
