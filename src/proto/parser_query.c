/* What the parser knows about the current frame, its message, a close
 * frame's status and a failure, for the caller to act on. */
#include "parser.h"

int tether_parser_opcode(const tether_parser *p) {
    return p && p->have_frame ? (int)p->opcode : -1;
}

int tether_parser_fin(const tether_parser *p) {
    return p && p->have_frame ? p->fin : -1;
}

unsigned tether_parser_rsv(const tether_parser *p) {
    return p && p->have_frame ? p->rsv : 0u;
}

int tether_parser_masked(const tether_parser *p) {
    return p && p->have_frame ? p->masked : -1;
}

uint64_t tether_parser_frame_length(const tether_parser *p) {
    return p && p->have_frame ? p->length : 0u;
}

uint64_t tether_parser_remaining(const tether_parser *p) {
    return p && p->have_frame ? p->length - p->done : 0u;
}

int tether_parser_message_opcode(const tether_parser *p) {
    if (!p || !p->have_frame) return -1;
    return TT_IS_CONTROL(p->opcode) ? (int)p->opcode : (int)p->msg_opcode;
}

int tether_parser_message_compressed(const tether_parser *p) {
    if (!p || !p->have_frame) return -1;
    return TT_IS_CONTROL(p->opcode) ? 0 : p->msg_compressed;
}

/* Only once a close frame is complete and valid; -1 otherwise. */
int tether_parser_close_code(const tether_parser *p) {
    return p && p->close_ready ? p->close_code : -1;
}

const char *tether_parser_close_reason(const tether_parser *p, size_t *len) {
    int ready = p && p->close_ready;
    if (len) *len = ready ? p->close_reason_len : 0;
    return ready ? p->close_reason : NULL;
}

const char *tether_parser_error_text(const tether_parser *p) {
    return p && p->state == TT_PS_FAILED ? p->error_text : NULL;
}
