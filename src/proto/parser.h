/* Internal: the frame parser object, shared by its parts: the driver and
 * settings (parser.c), header reading and checks (parser_header.c), payload
 * slicing (parser_payload.c) and the accessors (parser_query.c). */
#ifndef TT_PARSER_H
#define TT_PARSER_H

#include "tether.h"

#include <stddef.h>
#include <stdint.h>

/* What tether_parser_next() does on its next call. */
enum tt_parse_state {
    TT_PS_HEADER,  /* gathering a frame header */
    TT_PS_PAYLOAD, /* handing out payload slices */
    TT_PS_END,     /* the frame is complete: FRAME_END is due */
    TT_PS_FAILED   /* sticky error until reset */
};

/* Which part of the header is being gathered; each is checked as soon as
 * its last byte arrives, so errors come at the same byte however the input
 * is split. */
enum tt_header_stage { TT_HS_BYTE0, TT_HS_BYTE1, TT_HS_EXTLEN, TT_HS_KEY };

struct tether_parser {
    /* Settings: kept across tether_parser_reset(). */
    uint64_t max_frame;
    tether_role role;
    uint8_t rsv_allowed;
    unsigned utf8_check : 1;

    /* The current frame; have_frame is set from FRAME_START until the
     * first byte of the next header. Small fields first: an idle
     * connection holds a parser, so it is packed. */
    unsigned have_frame : 1;
    unsigned fin : 1;
    unsigned masked : 1;
    /* The data message frames belong to. msg_open: a fragmented message
     * waits for continuations. utf8_on: its text is being validated. */
    unsigned msg_open : 1;
    unsigned msg_compressed : 1;
    unsigned utf8_on : 1;
    unsigned close_ready : 1; /* a close frame's result below is set */
    uint8_t opcode, rsv, msg_opcode;

    /* Header bytes gathered so far, and how many the current stage needs. */
    uint8_t hdr[TETHER_MAX_FRAME_HEADER];
    uint8_t hdr_len, hdr_need;
    uint8_t key[4];
    enum tt_header_stage stage;

    enum tt_parse_state state;
    int error;
    uint32_t utf8; /* the text's UTF-8 state */
    const char *error_text;

    uint64_t length;
    uint64_t done; /* payload bytes handed out, also the mask offset */

    /* A control payload gathered across calls, and a close frame's result
     * (its reason points into ctl, so it lives until the next frame). */
    uint8_t ctl_len, close_reason_len;
    uint8_t ctl[TETHER_MAX_CONTROL_PAYLOAD];
    int close_code;
    const char *close_reason;
};

#define TT_IS_CONTROL(op) (((op)&0x8u) != 0)

/* Puts the parser in its sticky failed state; returns code. */
static inline int tt_parser_fail(struct tether_parser *p, int code, const char *text) {
    p->state = TT_PS_FAILED;
    p->error = code;
    p->error_text = text;
    return code;
}

/* Prepares for the first byte of a new header. */
void tt_parser_header_begin(struct tether_parser *p);

/* Consumes header bytes from buf[*used..len). Returns FRAME_START when the
 * header is complete, NEED_MORE when buf ran out first, or an error. */
int tt_parser_header(struct tether_parser *p, const uint8_t *buf, size_t len, size_t *used);

/* Hands out the next payload slice from buf[*used..len). Returns PAYLOAD
 * (with *data / *data_len), NEED_MORE, or an error. */
int tt_parser_payload(struct tether_parser *p, uint8_t *buf, size_t len, size_t *used,
                      const uint8_t **data, size_t *data_len);

/* Payload bytes still due for the current data frame while they are being
 * handed out (0 otherwise: a header, a control frame, the frame's end). */
static inline uint64_t tt_parser_data_left(const struct tether_parser *p) {
    return p->state == TT_PS_PAYLOAD && !TT_IS_CONTROL(p->opcode) ? p->length - p->done : 0;
}

/* A whole data frame taken in one step (parser_whole.c). */
typedef struct tt_whole_frame {
    unsigned opcode;     /* TETHER_OP_TEXT or TETHER_OP_BINARY */
    const uint8_t *data; /* its payload, unmasked in place in the buffer */
    size_t len;
    size_t used; /* bytes of the buffer it took, header included */
} tt_whole_frame;

/* When the parser is between messages and buf starts with a whole small
 * data frame of at most max bytes that breaks no rule (see
 * parser_whole.c), takes it: returns 1
 * with *f filled, and the parser is as after its FRAME_END. Otherwise
 * returns 0 and changes nothing: the caller goes on with
 * tether_parser_next(), which handles (or refuses) the frame. */
int tt_parser_whole_frame(struct tether_parser *p, uint8_t *buf, size_t len, size_t max,
                          tt_whole_frame *f);

#endif
