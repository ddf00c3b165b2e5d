/* Frame header reading (RFC 6455 section 5.2) and every check a header
 * alone can fail. Bytes are gathered into p->hdr stage by stage (byte 0,
 * byte 1, extended length, mask key) and each stage is checked as soon as
 * it is complete: a bad frame fails at the earliest byte that shows it, and
 * at the same byte whatever the input's split. */
#include "parser.h"

#include <string.h>

/* The largest length the 7-bit field holds itself. */
#define TT_LEN7_MAX 125u

/* One sentence per reserved opcode, so a log says exactly what came in. */
static const char *const tt_opcode_texts[16] = {
    [0x3] = "reserved data opcode 0x3 received",    [0x4] = "reserved data opcode 0x4 received",
    [0x5] = "reserved data opcode 0x5 received",    [0x6] = "reserved data opcode 0x6 received",
    [0x7] = "reserved data opcode 0x7 received",    [0xB] = "reserved control opcode 0xB received",
    [0xC] = "reserved control opcode 0xC received", [0xD] = "reserved control opcode 0xD received",
    [0xE] = "reserved control opcode 0xE received", [0xF] = "reserved control opcode 0xF received",
};

/* Why an RSV bit is refused, by the frame it came on: [why][bit], with bit
 * 0 for RSV1. */
enum { TT_RSV_NONE, TT_RSV_NOT_ALLOWED, TT_RSV_CONTINUATION, TT_RSV_CONTROL };
static const char *const tt_rsv_texts[4][3] = {
    [TT_RSV_NONE] = {"RSV1 set with no extension negotiated",
                     "RSV2 set with no extension negotiated",
                     "RSV3 set with no extension negotiated"},
    [TT_RSV_NOT_ALLOWED] = {"RSV1 set but the negotiated extensions do not use it",
                            "RSV2 set but the negotiated extensions do not use it",
                            "RSV3 set but the negotiated extensions do not use it"},
    [TT_RSV_CONTINUATION] = {"RSV1 set on a continuation frame", "RSV2 set on a continuation frame",
                             "RSV3 set on a continuation frame"},
    [TT_RSV_CONTROL] = {"RSV1 set on a control frame", "RSV2 set on a control frame",
                        "RSV3 set on a control frame"},
};

void tt_parser_header_begin(struct tether_parser *p) {
    p->state = TT_PS_HEADER;
    p->stage = TT_HS_BYTE0;
    p->hdr_len = 0;
    p->hdr_need = 1;
}

static int tt_opcode_reserved(unsigned op) {
    return (op >= 0x3u && op <= 0x7u) || op >= 0xBu;
}

/* Extensions may give meaning to RSV bits on the first frame of a data
 * message only (RFC 7692 section 6: never on continuations or control). */
static int tt_check_rsv(struct tether_parser *p) {
    unsigned op = p->opcode;
    int why;
    unsigned bad;
    if (TT_IS_CONTROL(op)) {
        why = TT_RSV_CONTROL;
        bad = p->rsv;
    } else if (op == TETHER_OP_CONTINUATION) {
        why = TT_RSV_CONTINUATION;
        bad = p->rsv;
    } else {
        why = p->rsv_allowed ? TT_RSV_NOT_ALLOWED : TT_RSV_NONE;
        bad = p->rsv & ~p->rsv_allowed;
    }
    if (!bad) return 0;
    int bit = (bad & TETHER_RSV1) ? 0 : (bad & TETHER_RSV2) ? 1 : 2;
    return tt_parser_fail(p, TETHER_E_RSV, tt_rsv_texts[why][bit]);
}

/* Message sequencing (section 5.4): continuations only inside a fragmented
 * message, no new data message inside one; control frames may interleave
 * and leave the message alone. */
static int tt_check_sequence(struct tether_parser *p) {
    unsigned op = p->opcode;
    if (TT_IS_CONTROL(op)) return 0;
    if (op == TETHER_OP_CONTINUATION) {
        if (!p->msg_open)
            return tt_parser_fail(p, TETHER_E_CONTINUATION,
                                  "continuation frame with no message to continue");
        p->msg_open = !p->fin;
        return 0;
    }
    if (p->msg_open)
        return tt_parser_fail(p, TETHER_E_FRAGMENT,
                              op == TETHER_OP_TEXT
                                  ? "text frame inside an unfinished fragmented message"
                                  : "binary frame inside an unfinished fragmented message");
    p->msg_open = !p->fin;
    p->msg_opcode = op;
    p->msg_compressed = (p->rsv & TETHER_RSV1) != 0;
    /* Compressed text is checked by the caller after inflating. */
    p->utf8_on = p->utf8_check && op == TETHER_OP_TEXT && !p->msg_compressed;
    p->utf8 = TETHER_UTF8_INIT;
    return 0;
}

static int tt_byte0(struct tether_parser *p) {
    uint8_t b = p->hdr[0];
    /* A new frame begins: the previous one's details and close result go. */
    p->have_frame = 0;
    p->close_ready = 0;
    p->ctl_len = 0;
    p->fin = (b & 0x80u) != 0;
    p->rsv = (b >> 4) & 0x7u;
    p->opcode = b & 0xFu;
    if (tt_opcode_reserved(p->opcode))
        return tt_parser_fail(p, TETHER_E_OPCODE, tt_opcode_texts[p->opcode]);
    if (tt_check_rsv(p)) return p->error;
    if (TT_IS_CONTROL(p->opcode) && !p->fin)
        return tt_parser_fail(p, TETHER_E_CONTROL_FRAGMENTED, "control frame without the FIN bit");
    if (tt_check_sequence(p)) return p->error;
    p->stage = TT_HS_BYTE1;
    p->hdr_need = 2;
    return 0;
}

/* The length is known: apply the limit, then expect the key if any. */
static int tt_length_known(struct tether_parser *p) {
    if (p->length > p->max_frame)
        return tt_parser_fail(p, TETHER_E_FRAME_TOO_BIG,
                              "frame longer than the configured maximum");
    if (p->masked) {
        p->stage = TT_HS_KEY;
        p->hdr_need += 4;
    }
    return 0;
}

static int tt_byte1(struct tether_parser *p) {
    uint8_t b = p->hdr[1];
    p->masked = (b & 0x80u) != 0;
    unsigned len7 = b & 0x7Fu;
    /* Section 5.1: clients mask everything they send, servers nothing. */
    if (p->role == TETHER_ROLE_SERVER && !p->masked)
        return tt_parser_fail(p, TETHER_E_MASK, "server received an unmasked frame");
    if (p->role == TETHER_ROLE_CLIENT && p->masked)
        return tt_parser_fail(p, TETHER_E_MASK, "client received a masked frame");
    if (TT_IS_CONTROL(p->opcode) && len7 > TETHER_MAX_CONTROL_PAYLOAD)
        return tt_parser_fail(p, TETHER_E_CONTROL_LENGTH,
                              "control frame payload longer than 125 bytes");
    if (len7 >= 126) {
        p->stage = TT_HS_EXTLEN;
        p->hdr_need = 2 + (len7 == 126 ? 2 : 8);
        return 0;
    }
    p->length = len7;
    return tt_length_known(p);
}

/* Extended lengths must be minimal (section 5.2: "the minimal number of
 * bytes MUST be used"), and the 64-bit one must leave its MSB clear. */
static int tt_extlen(struct tether_parser *p) {
    size_t field = p->hdr_need - 2;
    uint64_t len = 0;
    for (size_t i = 0; i < field; i++)
        len = (len << 8) | p->hdr[2 + i];
    p->length = len;
    if (field == 2 && len <= TT_LEN7_MAX)
        return tt_parser_fail(p, TETHER_E_LENGTH,
                              "16-bit extended length used for a payload under 126 bytes");
    if (field == 8 && (len >> 63))
        return tt_parser_fail(p, TETHER_E_LENGTH,
                              "64-bit extended length has its most significant bit set");
    if (field == 8 && len <= 0xFFFFu)
        return tt_parser_fail(p, TETHER_E_LENGTH,
                              "64-bit extended length used for a payload under 65536 bytes");
    return tt_length_known(p);
}

/* The stage just completed; returns 1 when the whole header is in. */
static int tt_stage_done(struct tether_parser *p) {
    int rc = 0;
    switch (p->stage) {
    case TT_HS_BYTE0:
        rc = tt_byte0(p);
        break;
    case TT_HS_BYTE1:
        rc = tt_byte1(p);
        break;
    case TT_HS_EXTLEN:
        rc = tt_extlen(p);
        break;
    case TT_HS_KEY:
        memcpy(p->key, p->hdr + p->hdr_len - 4, 4);
        return 1;
    }
    if (rc) return rc;
    /* A stage that asked for no further bytes ends the header. */
    return p->hdr_len == p->hdr_need;
}

static int tt_header_complete(struct tether_parser *p) {
    p->have_frame = 1;
    p->done = 0;
    p->state = p->length ? TT_PS_PAYLOAD : TT_PS_END;
    return TETHER_PARSE_FRAME_START;
}

int tt_parser_header(struct tether_parser *p, const uint8_t *buf, size_t len, size_t *used) {
    for (;;) {
        if (p->hdr_len < p->hdr_need) {
            size_t want = p->hdr_need - p->hdr_len;
            size_t have = len - *used;
            if (have == 0) return TETHER_PARSE_NEED_MORE;
            size_t take = want < have ? want : have;
            memcpy(p->hdr + p->hdr_len, buf + *used, take);
            p->hdr_len += take;
            *used += take;
            if (p->hdr_len < p->hdr_need) return TETHER_PARSE_NEED_MORE;
        }
        int rc = tt_stage_done(p);
        if (rc < 0) return rc;
        if (rc == 1) return tt_header_complete(p);
    }
}
