/* libFuzzer target for the frame parser.
 *
 * Input: byte 0 picks the role, the RSV bits allowed, whether UTF-8 is
 * checked and how the rest is split into reads; byte 1 picks the frame
 * limit; the rest is the byte stream. The stream is parsed twice, split and
 * whole, checking the parser's contract on every call, and both parses must
 * tell the same story. Any violation aborts. */
#include "proto/parser.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const size_t tt_splits[8] = {1, 2, 3, 5, 16, 127, 4096, SIZE_MAX};

typedef struct {
    tether_role role;
    unsigned rsv_allowed;
    int utf8;
    uint64_t max;
    size_t split;
} fz_cfg;

/* What a parse told: a hash of every header and of every complete frame's
 * payload, the final error, and the count of complete frames. */
typedef struct {
    uint64_t hash;
    int error;
    size_t frames;
} fz_story;

static uint64_t fz_mix(uint64_t h, const void *data, size_t len) {
    const uint8_t *b = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fz_mix_int(uint64_t h, uint64_t v) {
    return fz_mix(h, &v, sizeof v);
}

/* The state of the frame being parsed, as the caller sees it. */
typedef struct {
    int in_frame;
    uint64_t length, got, hash;
    int last;
} fz_frame;

static void fz_start(const tether_parser *p, const fz_cfg *c, fz_frame *f, fz_story *s) {
    CHECK(!f->in_frame);
    f->in_frame = 1;
    f->length = tether_parser_frame_length(p);
    f->got = 0;
    f->hash = 0xcbf29ce484222325ull;
    CHECK(f->length <= c->max);
    CHECK(tether_parser_remaining(p) == f->length);
    int op = tether_parser_opcode(p);
    CHECK(op >= 0 && op <= 0xA && !(op > 2 && op < 8));
    CHECK(tether_parser_masked(p) == (c->role == TETHER_ROLE_SERVER));
    CHECK(!(op & 8) || (tether_parser_fin(p) == 1 && f->length <= 125));
    CHECK((tether_parser_rsv(p) & ~c->rsv_allowed) == 0);
    uint64_t h = s->hash;
    h = fz_mix_int(h, (uint64_t)op);
    h = fz_mix_int(h, (uint64_t)tether_parser_fin(p));
    h = fz_mix_int(h, tether_parser_rsv(p));
    h = fz_mix_int(h, f->length);
    h = fz_mix_int(h, (uint64_t)tether_parser_message_opcode(p));
    h = fz_mix_int(h, (uint64_t)tether_parser_message_compressed(p));
    s->hash = h;
}

static void fz_payload(const tether_parser *p, fz_frame *f, const uint8_t *chunk, size_t used,
                       const uint8_t *d, size_t dl) {
    CHECK(f->in_frame);
    CHECK(d != NULL && dl > 0);
    const uint8_t *pb = (const uint8_t *)p;
    int in_chunk = d >= chunk && d + dl <= chunk + used;
    int in_parser = d >= pb && d + dl <= pb + sizeof *p;
    CHECK(in_chunk || (in_parser && (tether_parser_opcode(p) & 8)));
    f->got += dl;
    CHECK(f->got <= f->length);
    CHECK(tether_parser_remaining(p) == f->length - f->got);
    f->hash = fz_mix(f->hash, d, dl);
}

static void fz_end(const tether_parser *p, fz_frame *f, fz_story *s) {
    CHECK(f->in_frame);
    CHECK(f->got == f->length);
    CHECK(tether_parser_remaining(p) == 0);
    f->in_frame = 0;
    s->hash = fz_mix_int(s->hash, f->hash);
    if (tether_parser_opcode(p) == TETHER_OP_CLOSE) {
        size_t rl;
        const char *r = tether_parser_close_reason(p, &rl);
        int code = tether_parser_close_code(p);
        CHECK(r != NULL && rl <= 123);
        CHECK(tether_close_code_valid(code) || code == TETHER_CLOSE_NO_STATUS);
        CHECK(tether_utf8_validate(r, rl) == 0);
        s->hash = fz_mix_int(s->hash, (uint64_t)code);
        s->hash = fz_mix(s->hash, r, rl);
    }
    s->frames++;
}

static tether_parser *fz_parser(const fz_cfg *c) {
    tether_parser *p = tether_parser_new(c->role);
    CHECK(p != NULL);
    CHECK(tether_parser_set_rsv_allowed(p, c->rsv_allowed) == 0);
    CHECK(tether_parser_set_utf8_check(p, c->utf8) == 0);
    CHECK(tether_parser_set_max_frame(p, c->max) == 0);
    return p;
}

static void fz_error(tether_parser *p, uint8_t *chunk, size_t len, int ev, fz_story *s) {
    size_t used = 1;
    CHECK(tether_parser_error_text(p) != NULL);
    CHECK(tether_error_close_code(ev) != 0);
    CHECK(tether_parser_next(p, chunk, len, &used, NULL, NULL) == ev);
    CHECK(used == 0);
    s->error = ev;
}

/* Parses in[0..n) arriving c->split bytes at a time. */
static void fz_run(const fz_cfg *c, const uint8_t *in, size_t n, fz_story *s) {
    uint8_t *buf = malloc(n ? n : 1);
    CHECK(buf != NULL);
    if (n) memcpy(buf, in, n);
    tether_parser *p = fz_parser(c);
    fz_frame f = {0, 0, 0, 0, -1};
    memset(s, 0, sizeof *s);
    s->hash = 0xcbf29ce484222325ull;
    size_t pos = 0, avail = c->split < n ? c->split : n;
    /* Each call consumes a byte, or ends a frame, or asks for more: so a
     * bounded number of calls must finish the input. */
    for (size_t guard = 0;; guard++) {
        CHECK(guard <= 3 * n + 4);
        size_t len = avail - pos, used = SIZE_MAX, dl = 0;
        const uint8_t *d = NULL;
        int ev = tether_parser_next(p, buf + pos, len, &used, &d, &dl);
        if (ev < 0) {
            CHECK(used == 0);
            fz_error(p, buf + pos, len, ev, s);
            break;
        }
        CHECK(used <= len);
        if (ev == TETHER_PARSE_FRAME_START) {
            CHECK(used > 0);
            fz_start(p, c, &f, s);
        } else if (ev == TETHER_PARSE_PAYLOAD) {
            CHECK(used > 0);
            fz_payload(p, &f, buf + pos, used, d, dl);
        } else if (ev == TETHER_PARSE_FRAME_END) {
            CHECK(used == 0 && f.last != TETHER_PARSE_FRAME_END);
            fz_end(p, &f, s);
        } else {
            CHECK(ev == TETHER_PARSE_NEED_MORE && used == len);
        }
        f.last = ev;
        pos += used;
        if (ev == TETHER_PARSE_NEED_MORE) {
            if (avail == n) break;
            avail = n - avail > c->split ? avail + c->split : n;
        }
    }
    tether_parser_free(p);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    fz_cfg c;
    c.role = (data[0] & 1) ? TETHER_ROLE_SERVER : TETHER_ROLE_CLIENT;
    c.rsv_allowed = (data[0] >> 1) & 7u;
    c.utf8 = !(data[0] & 0x10);
    c.split = tt_splits[data[0] >> 5];
    c.max = data[1] ? (uint64_t)data[1] * 64u : TETHER_DEFAULT_MAX_FRAME;
    fz_story split, whole;
    fz_run(&c, data + 2, size - 2, &split);
    c.split = SIZE_MAX;
    fz_run(&c, data + 2, size - 2, &whole);
    CHECK(split.hash == whole.hash && split.error == whole.error && split.frames == whole.frames);
    return 0;
}
