/* Payload slicing: unmask in place, validate, hand out.
 *
 * Data payloads are never copied: each call hands out as much of the frame
 * as the caller's buffer holds, unmasked where it lies, with the mask
 * offset carried in p->done. Control payloads are small (<= 125 bytes) and
 * must be seen whole (a close payload is parsed, a ping is echoed), so one
 * split across calls is gathered in p->ctl and handed out once complete. */
#include "parser.h"

#include <string.h>

/* A close payload is checked once it is whole. It is always kept in ctl so
 * that the reason stays valid after FRAME_END, whatever the caller does
 * with its buffer; a close is rare and at most 125 bytes. */
static int tt_close_check(struct tether_parser *p) {
    int code;
    const char *reason;
    size_t reason_len;
    int rc = tether_close_parse(p->ctl, p->ctl_len, &code, &reason, &reason_len);
    switch (rc) {
    case 0:
        break;
    case TETHER_E_CLOSE_PAYLOAD:
        return tt_parser_fail(p, rc, "close frame with a 1-byte payload");
    case TETHER_E_CLOSE_CODE:
        return tt_parser_fail(p, rc, "close frame with a status code not allowed on the wire");
    case TETHER_E_UTF8:
        return tt_parser_fail(p, rc, "close frame reason is not valid UTF-8");
    default:
        return tt_parser_fail(p, rc, "close frame payload could not be parsed");
    }
    p->close_ready = 1;
    p->close_code = code;
    p->close_reason = reason;
    p->close_reason_len = reason_len;
    return 0;
}

/* A piece of a control payload, already unmasked. Returns PAYLOAD with the
 * whole payload once it is complete, NEED_MORE before. */
static int tt_control_piece(struct tether_parser *p, const uint8_t *s, size_t n,
                            const uint8_t **data, size_t *data_len) {
    int whole = p->done == p->length;
    if (whole && p->ctl_len == 0 && p->opcode != TETHER_OP_CLOSE) {
        /* All of it arrived in one call: hand it out where it lies. */
        *data = s;
        *data_len = n;
    } else {
        memcpy(p->ctl + p->ctl_len, s, n);
        p->ctl_len += n;
        if (!whole) return TETHER_PARSE_NEED_MORE;
        *data = p->ctl;
        *data_len = p->ctl_len;
    }
    if (p->opcode == TETHER_OP_CLOSE && tt_close_check(p)) return p->error;
    p->state = TT_PS_END;
    return TETHER_PARSE_PAYLOAD;
}

/* Unmasking and validating a big text slice go block by block, so the
 * validation reads what the unmasking just wrote from the L1 cache instead
 * of a second pass over the whole slice. */
#define TT_PARSER_BLOCK 4096u

/* A slice of a data payload: unmasked, and text validated slice by slice,
 * so a bad byte fails the slice that holds it. `at` is the offset in the
 * payload where the slice starts (the mask key's phase). */
static int tt_data_piece(struct tether_parser *p, uint8_t *s, size_t n, uint64_t at,
                         const uint8_t **data, size_t *data_len) {
    if (!p->utf8_on) {
        if (p->masked) tether_mask(s, s, n, p->key, at);
    } else {
        for (size_t off = 0; off < n; off += TT_PARSER_BLOCK) {
            size_t k = n - off < TT_PARSER_BLOCK ? n - off : TT_PARSER_BLOCK;
            if (p->masked) tether_mask(s + off, s + off, k, p->key, at + off);
            if (tether_utf8_feed(&p->utf8, s + off, k))
                return tt_parser_fail(p, TETHER_E_UTF8, "invalid UTF-8 in a text message");
        }
    }
    if (p->done == p->length) p->state = TT_PS_END;
    *data = s;
    *data_len = n;
    return TETHER_PARSE_PAYLOAD;
}

int tt_parser_payload(struct tether_parser *p, uint8_t *buf, size_t len, size_t *used,
                      const uint8_t **data, size_t *data_len) {
    size_t have = len - *used;
    if (have == 0) return TETHER_PARSE_NEED_MORE;
    uint64_t left = p->length - p->done;
    size_t n = have < left ? have : (size_t)left;
    uint8_t *s = buf + *used;
    uint64_t at = p->done;
    *used += n;
    p->done += n;
    if (!TT_IS_CONTROL(p->opcode)) return tt_data_piece(p, s, n, at, data, data_len);
    if (p->masked) tether_mask(s, s, n, p->key, at);
    return tt_control_piece(p, s, n, data, data_len);
}
