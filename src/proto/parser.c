/* The frame parser's lifecycle, settings and driver: each call to
 * tether_parser_next() produces exactly one event, from the part of the
 * frame the parser is in (header, payload, end). The rules themselves live
 * in parser_header.c and parser_payload.c. */
#include "parser.h"

#include <stdlib.h>
#include <string.h>

/* Everything but the settings back to a fresh parser's. */
static void tt_parser_clear(struct tether_parser *p) {
    tether_role role = p->role;
    uint64_t max_frame = p->max_frame;
    unsigned rsv_allowed = p->rsv_allowed;
    int utf8_check = p->utf8_check;
    memset(p, 0, sizeof *p);
    p->role = role;
    p->max_frame = max_frame;
    p->rsv_allowed = rsv_allowed;
    p->utf8_check = utf8_check;
    p->utf8 = TETHER_UTF8_INIT;
    tt_parser_header_begin(p);
}

tether_parser *tether_parser_new(tether_role role) {
    if (role != TETHER_ROLE_CLIENT && role != TETHER_ROLE_SERVER) return NULL;
    /* The only allocation the parser ever makes. */
    struct tether_parser *p = malloc(sizeof *p);
    if (!p) return NULL;
    p->role = role;
    p->max_frame = TETHER_DEFAULT_MAX_FRAME;
    p->rsv_allowed = 0;
    p->utf8_check = 1;
    tt_parser_clear(p);
    return p;
}

void tether_parser_free(tether_parser *p) {
    free(p);
}

int tether_parser_reset(tether_parser *p) {
    if (!p) return TETHER_E_INVAL;
    tt_parser_clear(p);
    return 0;
}

int tether_parser_set_max_frame(tether_parser *p, uint64_t max) {
    if (!p || max == 0) return TETHER_E_INVAL;
    p->max_frame = max;
    return 0;
}

int tether_parser_set_rsv_allowed(tether_parser *p, unsigned rsv) {
    if (!p || rsv > (TETHER_RSV1 | TETHER_RSV2 | TETHER_RSV3)) return TETHER_E_INVAL;
    p->rsv_allowed = rsv;
    return 0;
}

int tether_parser_set_utf8_check(tether_parser *p, int on) {
    if (!p) return TETHER_E_INVAL;
    p->utf8_check = on != 0;
    return 0;
}

/* The frame is complete. A text message must not end inside a UTF-8
 * sequence; an empty close frame means "no status". */
static int tt_frame_end(struct tether_parser *p) {
    if (!TT_IS_CONTROL(p->opcode) && p->fin && p->utf8_on && tether_utf8_finish(p->utf8))
        return tt_parser_fail(p, TETHER_E_UTF8,
                              "text message ends in the middle of a UTF-8 sequence");
    if (p->opcode == TETHER_OP_CLOSE && p->length == 0) {
        p->close_ready = 1;
        p->close_code = TETHER_CLOSE_NO_STATUS;
        p->close_reason = "";
        p->close_reason_len = 0;
    }
    tt_parser_header_begin(p);
    return TETHER_PARSE_FRAME_END;
}

int tether_parser_next(tether_parser *p, uint8_t *buf, size_t len, size_t *consumed,
                       const uint8_t **data, size_t *data_len) {
    if (consumed) *consumed = 0;
    if (data) *data = NULL;
    if (data_len) *data_len = 0;
    if (!p || !consumed || (!buf && len)) return TETHER_E_INVAL;

    size_t used = 0;
    const uint8_t *slice = NULL;
    size_t slice_len = 0;
    int rc;
    switch (p->state) {
    case TT_PS_HEADER:
        rc = tt_parser_header(p, buf, len, &used);
        break;
    case TT_PS_PAYLOAD:
        rc = tt_parser_payload(p, buf, len, &used, &slice, &slice_len);
        break;
    case TT_PS_END:
        rc = tt_frame_end(p);
        break;
    default:
        return p->error;
    }
    /* A failed call consumes nothing: the parser is dead until reset. */
    if (rc < 0) return rc;
    *consumed = used;
    if (rc == TETHER_PARSE_PAYLOAD) {
        if (data) *data = slice;
        if (data_len) *data_len = slice_len;
    }
    return rc;
}
