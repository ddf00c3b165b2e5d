/* Request bodies: a countdown for Content-Length, and a small state
 * machine for the chunked coding:
 *   chunk-size [ chunk-ext ] CRLF, chunk-data CRLF, ..., "0" CRLF,
 *   trailer fields, CRLF.
 * Hex sizes are checked for overflow; line ends are strict CRLF as in the
 * head parser (two parsers that disagree on a body's end disagree on
 * where the next request starts). */
#include "proto/http_body.h"

#include "tether.h"

enum {
    TT_BODY_DATA,       /* length body, or inside a chunk */
    TT_BODY_SIZE,       /* chunk-size digits */
    TT_BODY_BWS,        /* white space after the size: a ';' must follow */
    TT_BODY_EXT,        /* chunk extension, up to CR */
    TT_BODY_SIZE_LF,    /* the LF after a size line */
    TT_BODY_DATA_CR,    /* the CRLF after chunk data */
    TT_BODY_DATA_LF,    /*   its LF */
    TT_BODY_TRAILER,    /* a trailer line (or the final empty line) */
    TT_BODY_TRAILER_LF, /* the LF ending a trailer line */
    TT_BODY_DONE
};

void tt_http_body_length(tt_http_body *b, uint64_t length, uint64_t max_body) {
    *b = (tt_http_body){.remaining = length, .max_body = max_body};
    b->state = length ? TT_BODY_DATA : TT_BODY_DONE;
    if (length > max_body) b->error = TETHER_E_HS_TOO_BIG;
}

void tt_http_body_chunked(tt_http_body *b, uint64_t max_body) {
    *b = (tt_http_body){.chunked = 1, .max_body = max_body, .state = TT_BODY_SIZE};
}

int tt_http_parse_length(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!*s) return TETHER_E_HS_MALFORMED;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return TETHER_E_HS_MALFORMED;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int tt_hex(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int tt_body_fail(tt_http_body *b, int err) {
    b->error = err;
    return err;
}

/* One byte of the chunked framing (not chunk data). */
static int tt_body_frame_byte(tt_http_body *b, uint8_t c) {
    int h;
    switch (b->state) {
    case TT_BODY_SIZE:
        if (++b->line > TT_HTTP_BODY_MAX_LINE) return TETHER_E_HS_MALFORMED;
        if ((h = tt_hex(c)) >= 0) {
            if (b->remaining > (UINT64_MAX >> 4)) return TETHER_E_HS_MALFORMED;
            b->remaining = b->remaining << 4 | (uint64_t)h;
            return 0;
        }
        if (b->line == 1) return TETHER_E_HS_MALFORMED; /* no digit */
        if (c == ';' || c == ' ' || c == '\t') {
            b->state = c == ';' ? TT_BODY_EXT : TT_BODY_BWS;
            return 0;
        }
        if (c != '\r') return TETHER_E_HS_MALFORMED;
        b->state = TT_BODY_SIZE_LF;
        return 0;
    case TT_BODY_BWS:
        if (++b->line > TT_HTTP_BODY_MAX_LINE || (c != ' ' && c != '\t' && c != ';'))
            return TETHER_E_HS_MALFORMED;
        if (c == ';') b->state = TT_BODY_EXT;
        return 0;
    case TT_BODY_EXT: /* extensions are ignored (RFC 9112 7.1.1) */
        if (++b->line > TT_HTTP_BODY_MAX_LINE) return TETHER_E_HS_MALFORMED;
        if (c == '\r')
            b->state = TT_BODY_SIZE_LF;
        else if (c == '\n' || c == 0 || c == 0x7f)
            return TETHER_E_HS_MALFORMED;
        return 0;
    case TT_BODY_SIZE_LF:
        if (c != '\n') return TETHER_E_HS_MALFORMED;
        if (b->remaining > b->max_body - b->total) return TETHER_E_HS_TOO_BIG;
        b->line = 0;
        b->state = b->remaining ? TT_BODY_DATA : TT_BODY_TRAILER;
        return 0;
    case TT_BODY_DATA_CR:
        if (c != '\r') return TETHER_E_HS_MALFORMED;
        b->state = TT_BODY_DATA_LF;
        return 0;
    case TT_BODY_DATA_LF:
        if (c != '\n') return TETHER_E_HS_MALFORMED;
        b->state = TT_BODY_SIZE;
        return 0;
    case TT_BODY_TRAILER: /* trailer fields are dropped: an empty line ends */
        b->line++;
        if (++b->trailer > TT_HTTP_BODY_MAX_TRAILER) return TETHER_E_HS_MALFORMED;
        if (c == '\r')
            b->state = TT_BODY_TRAILER_LF;
        else if (c == '\n')
            return TETHER_E_HS_MALFORMED;
        return 0;
    case TT_BODY_TRAILER_LF:
        if (c != '\n') return TETHER_E_HS_MALFORMED;
        /* "\r\n" alone (the line held only the CR) ends the body */
        if (b->line == 1) {
            b->state = TT_BODY_DONE;
            return 0;
        }
        b->state = TT_BODY_TRAILER;
        b->line = 0;
        return 0;
    default:
        return TETHER_E_HS_MALFORMED;
    }
}

int tt_http_body_next(tt_http_body *b, const uint8_t *in, size_t len, size_t *used,
                      const uint8_t **data, size_t *dlen) {
    size_t i = 0;
    *used = 0;
    if (b->error) return b->error;
    while (b->state != TT_BODY_DONE) {
        if (b->state == TT_BODY_DATA) {
            if (i == len) break;
            size_t n = len - i < b->remaining ? len - i : (size_t)b->remaining;
            *data = in + i;
            *dlen = n;
            b->remaining -= n;
            b->total += n;
            if (!b->remaining) b->state = b->chunked ? TT_BODY_DATA_CR : TT_BODY_DONE;
            *used = i + n;
            return 1;
        }
        if (i == len) break;
        int rc = tt_body_frame_byte(b, in[i++]);
        if (rc) return tt_body_fail(b, rc);
    }
    *used = i;
    return b->state == TT_BODY_DONE ? 0 : TETHER_E_AGAIN;
}
