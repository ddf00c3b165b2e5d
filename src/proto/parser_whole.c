/* The common case in one step: a whole small data frame (FIN, text or
 * binary, no RSV bit, masked as the role requires, a length of up to 65,535
 * bytes in its minimal form, within the frame limit) lying complete in the
 * caller's buffer between two frames. It is unmasked and validated in place
 * and the parser ends up exactly where header, payload and end calls would
 * have left it. Anything else (and any error: bad UTF-8) is left to the
 * general path, which says why; so every rule stays in one place and the
 * errors come at the same byte as before. */
#include "proto/parser.h"

#include <string.h>

/* The header of a whole frame at buf, or 0 when it is not one this path
 * takes; *plen is its payload's length. */
static size_t tt_whole_header(const struct tether_parser *p, const uint8_t *buf, size_t len,
                              size_t max, size_t *plen) {
    if (len < 2 || (buf[0] != 0x81 && buf[0] != 0x82)) return 0;
    int masked = p->role == TETHER_ROLE_SERVER; /* what the role requires */
    if (((buf[1] & 0x80u) != 0) != masked) return 0;
    size_t n = buf[1] & 0x7Fu, h = 2;
    if (n == 127) return 0;
    if (n == 126) {
        if (len < 4) return 0;
        n = (size_t)buf[2] << 8 | buf[3];
        if (n < 126) return 0; /* not minimal: the general path refuses it */
        h = 4;
    }
    h += masked ? 4 : 0;
    if (n > p->max_frame || n > max || len < h || len - h < n) return 0;
    *plen = n;
    return h;
}

/* What the general path leaves behind after such a frame's FRAME_END. */
static void tt_whole_done(struct tether_parser *p, const uint8_t *buf, size_t h, size_t n) {
    memcpy(p->hdr, buf, h);
    p->have_frame = 1;
    p->close_ready = 0;
    p->ctl_len = 0;
    p->fin = 1;
    p->rsv = 0;
    p->opcode = buf[0] & 0xFu;
    p->masked = p->role == TETHER_ROLE_SERVER;
    if (p->masked) memcpy(p->key, buf + h - 4, 4);
    p->length = p->done = n;
    p->msg_open = 0;
    p->msg_opcode = p->opcode;
    p->msg_compressed = 0;
    p->utf8_on = p->utf8_check && p->opcode == TETHER_OP_TEXT;
    p->utf8 = TETHER_UTF8_INIT;
    tt_parser_header_begin(p);
}

int tt_parser_whole_frame(struct tether_parser *p, uint8_t *buf, size_t len, size_t max,
                          tt_whole_frame *f) {
    if (p->state != TT_PS_HEADER || p->hdr_len || p->msg_open) return 0;
    size_t n = 0, h = tt_whole_header(p, buf, len, max, &n);
    if (!h) return 0;
    uint8_t *payload = buf + h;
    int masked = p->role == TETHER_ROLE_SERVER;
    if (masked) tether_mask(payload, payload, n, buf + h - 4, 0);
    if (p->utf8_check && buf[0] == 0x81 && tether_utf8_validate(payload, n) != 0) {
        if (masked) tether_mask(payload, payload, n, buf + h - 4, 0); /* as it came */
        return 0;
    }
    tt_whole_done(p, buf, h, n);
    f->opcode = buf[0] & 0xFu;
    f->data = payload;
    f->len = n;
    f->used = h + n;
    return 1;
}
