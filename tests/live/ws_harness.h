/* Shared by test_ws.c, test_ws_close.c and test_ws_deflate.c: a harness around the
 * sans-I/O WebSocket engine (src/ws). The peer's bytes are built
 * with the public frame writer for the opposite role and fed to
 * tt_ws_input() whole, in chunks or split at a point; what the connection
 * queued in c->out is read back with a public parser of the opposite role.
 * Every helper is static inline so that a test file may use only some. */
#ifndef TT_WS_HARNESS_H
#define TT_WS_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"
#include "ws/ws.h"

/* Tests run once per role: the prestate is a pointer to one of these. */
static const tether_role harness_roles[2] = {TETHER_ROLE_CLIENT, TETHER_ROLE_SERVER};
#define ROLE_TEST(f)                                                                               \
    cmocka_unit_test_prestate(f, (void *)&harness_roles[0]),                                       \
        cmocka_unit_test_prestate(f, (void *)&harness_roles[1])
#define ROLE(state) (*(const tether_role *)*(state))

static inline tether_role other_role(tether_role r) {
    return r == TETHER_ROLE_CLIENT ? TETHER_ROLE_SERVER : TETHER_ROLE_CLIENT;
}

static inline void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* ---- The peer's bytes ---------------------------------------------------- */

typedef struct wire {
    uint8_t *b;
    size_t len, cap;
} wire;

static inline uint8_t *w_room(wire *w, size_t n) {
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n)
            cap *= 2;
        w->b = realloc(w->b, cap);
        assert_non_null(w->b);
        w->cap = cap;
    }
    return w->b + w->len;
}

static inline void w_free(wire *w) {
    free(w->b);
    memset(w, 0, sizeof *w);
}

static inline void w_bytes(wire *w, const void *p, size_t n) {
    memcpy(w_room(w, n), p, n);
    w->len += n;
}

/* A well-formed frame from the peer of a connection in role `conn`. */
static inline void w_frame(wire *w, tether_role conn, int op, int fin, const void *p, size_t n) {
    size_t need = TETHER_MAX_FRAME_HEADER + n, written = 0;
    uint8_t *dst = w_room(w, need);
    assert_int_equal(
        tether_frame_write(other_role(conn), (tether_opcode)op, fin, 0, p, n, dst, need, &written),
        0);
    w->len += written;
}

static inline void w_text(wire *w, tether_role conn, const char *s) {
    w_frame(w, conn, TETHER_OP_TEXT, 1, s, strlen(s));
}

/* Only the header of a frame from the peer announcing n payload bytes. */
static inline size_t w_header(wire *w, tether_role conn, int op, int fin, uint64_t n) {
    static const uint8_t key[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    int masked = conn == TETHER_ROLE_SERVER;
    uint8_t *dst = w_room(w, TETHER_MAX_FRAME_HEADER);
    int h = tether_frame_write_header(dst, TETHER_MAX_FRAME_HEADER, (tether_opcode)op, fin, 0, n,
                                      masked ? key : NULL);
    assert_true(h > 0);
    w->len += (size_t)h;
    return (size_t)h;
}

/* Any first byte, masked or not, minimal length encoding: for frames the
 * writer refuses to build (reserved opcodes, RSV bits, long control). */
static inline void w_raw(wire *w, uint8_t b0, int masked, const void *p, size_t n) {
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t *d = w_room(w, TETHER_MAX_FRAME_HEADER + n);
    size_t h = 0;
    uint8_t m = masked ? 0x80 : 0;
    d[h++] = b0;
    if (n < 126) {
        d[h++] = (uint8_t)(m | n);
    } else if (n <= 0xFFFF) {
        d[h++] = m | 126;
        d[h++] = (uint8_t)(n >> 8);
        d[h++] = (uint8_t)n;
    } else {
        d[h++] = m | 127;
        for (int i = 7; i >= 0; i--)
            d[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (masked) {
        memcpy(d + h, key, 4);
        h += 4;
        if (n) tether_mask(d + h, p, n, key, 0);
    } else if (n) {
        memcpy(d + h, p, n);
    }
    w->len += h + n;
}

/* A raw frame masked correctly for the peer of `conn`. */
static inline void w_rawp(wire *w, tether_role conn, uint8_t b0, const void *p, size_t n) {
    w_raw(w, b0, conn == TETHER_ROLE_SERVER, p, n);
}

/* A close frame from the peer with a code and reason as given, valid or
 * not (code < 0: no payload at all). */
static inline void w_close(wire *w, tether_role conn, int code, const char *reason) {
    uint8_t p[TETHER_MAX_CONTROL_PAYLOAD];
    size_t n = 0;
    if (code >= 0) {
        p[n++] = (uint8_t)(code >> 8);
        p[n++] = (uint8_t)code;
        size_t rl = reason ? strlen(reason) : 0;
        assert_true(rl <= TETHER_MAX_CLOSE_REASON);
        memcpy(p + n, reason, rl);
        n += rl;
    }
    w_rawp(w, conn, 0x88, p, n);
}

/* ---- Events --------------------------------------------------------------- */

typedef struct ev_rec {
    tt_ws_ev_type type;
    int opcode, fin;
    uint8_t *data;
    size_t len;
    int in_input; /* data pointed into the buffer passed to tt_ws_input */
    size_t at;    /* input bytes consumed when the event came */
    int code, clean, error;
    char reason[TETHER_MAX_CONTROL_PAYLOAD + 1];
    size_t reason_len;
} ev_rec;

typedef struct evlog {
    ev_rec *e;
    int n, cap;
} evlog;

static inline void log_free(evlog *l) {
    for (int i = 0; i < l->n; i++)
        free(l->e[i].data);
    free(l->e);
    memset(l, 0, sizeof *l);
}

static inline void log_clear(evlog *l) {
    log_free(l);
}

static inline void log_add(evlog *l, const tt_ws_ev *ev, const uint8_t *in, size_t in_len,
                           size_t at) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->e = realloc(l->e, (size_t)l->cap * sizeof *l->e);
        assert_non_null(l->e);
    }
    ev_rec *r = &l->e[l->n++];
    memset(r, 0, sizeof *r);
    r->type = ev->type;
    r->opcode = ev->opcode;
    r->fin = ev->fin;
    r->at = at;
    if (ev->type != TT_WS_EV_CLOSE) {
        assert_non_null(ev->data); /* never NULL, even when empty */
        r->len = ev->len;
        r->data = xmalloc(ev->len);
        if (ev->len) memcpy(r->data, ev->data, ev->len);
        r->in_input = ev->len && ev->data >= in && ev->data + ev->len <= in + in_len;
    } else {
        r->code = ev->code;
        r->clean = ev->clean;
        r->error = ev->error;
        assert_true(ev->reason_len <= TETHER_MAX_CLOSE_REASON);
        if (ev->reason_len) assert_non_null(ev->reason);
        r->reason_len = ev->reason_len;
        if (ev->reason_len) memcpy(r->reason, ev->reason, ev->reason_len);
    }
}

/* Feeds buf[0..len) (modified in place) until the connection has nothing
 * more to say, recording every event. The api layer's loop: call again
 * after each event with the rest, even when no byte is left. */
static inline void feed_buf(tt_ws *c, uint8_t *buf, size_t len, const uint8_t *whole,
                            size_t whole_len, size_t base, evlog *l) {
    size_t off = 0;
    for (int guard = 0;; guard++) {
        assert_true(guard < 1000000);
        size_t used = (size_t)-1;
        tt_ws_ev ev;
        int r = tt_ws_input(c, buf + off, len - off, &used, &ev);
        assert_true(r == 0 || r == 1);
        assert_true(used <= len - off);
        off += used;
        if (r == 0) {
            assert_true(off == len); /* all input is taken when no event stops it */
            return;
        }
        log_add(l, &ev, whole, whole_len, base + off);
        tt_ws_event_done(c, ev.type);
    }
}

/* Feeds a copy of src in pieces of `chunk` bytes (0: all at once). */
static inline void feed_chunks(tt_ws *c, const uint8_t *src, size_t len, size_t chunk, evlog *l) {
    uint8_t *buf = xmalloc(len);
    if (len) memcpy(buf, src, len);
    if (!chunk) chunk = len ? len : 1;
    size_t off = 0;
    do {
        size_t n = len - off < chunk ? len - off : chunk;
        feed_buf(c, buf + off, n, buf, len, off, l);
        off += n;
    } while (off < len);
    free(buf);
}

static inline void feed_wire(tt_ws *c, const wire *w, evlog *l) {
    feed_chunks(c, w->b, w->len, 0, l);
}

/* Feeds a copy of src as two pieces, split at k. */
static inline void feed_split(tt_ws *c, const uint8_t *src, size_t len, size_t k, evlog *l) {
    uint8_t *buf = xmalloc(len);
    if (len) memcpy(buf, src, len);
    feed_buf(c, buf, k, buf, len, 0, l);
    feed_buf(c, buf + k, len - k, buf, len, k, l);
    free(buf);
}

static inline void assert_ev_data(const ev_rec *e, const void *p, size_t n) {
    assert_int_equal(e->len, n);
    if (n) assert_memory_equal(e->data, p, n);
}

static inline void assert_close_ev(const ev_rec *e, int code, int clean, int error) {
    assert_int_equal(e->type, TT_WS_EV_CLOSE);
    assert_int_equal(e->code, code);
    assert_int_equal(e->clean, clean);
    assert_int_equal(e->error, error);
}

/* Two logs say the same, whatever the input's split (where data lay and
 * when it came may differ). */
static inline void assert_logs_equal(const evlog *a, const evlog *b) {
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const ev_rec *x = &a->e[i], *y = &b->e[i];
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->opcode, y->opcode);
        assert_int_equal(x->fin, y->fin);
        assert_int_equal(x->len, y->len);
        if (x->len) assert_memory_equal(x->data, y->data, x->len);
        assert_int_equal(x->code, y->code);
        assert_int_equal(x->clean, y->clean);
        assert_int_equal(x->error, y->error);
        assert_int_equal(x->reason_len, y->reason_len);
        if (x->reason_len) assert_memory_equal(x->reason, y->reason, x->reason_len);
    }
}

/* Streaming: the FRAGMENT events of a log as one message; checks that fin
 * comes on the last piece only and that all share one opcode. */
static inline size_t gather_fragments(const evlog *l, int from, int to, uint8_t *out, size_t cap) {
    size_t n = 0;
    for (int i = from; i < to; i++) {
        const ev_rec *e = &l->e[i];
        assert_int_equal(e->type, TT_WS_EV_FRAGMENT);
        assert_int_equal(e->opcode, l->e[from].opcode);
        assert_int_equal(e->fin, i == to - 1);
        assert_true(n + e->len <= cap);
        if (e->len) memcpy(out + n, e->data, e->len);
        n += e->len;
    }
    return n;
}

/* ---- What the connection sent ---------------------------------------------- */

typedef struct out_frame {
    int op, fin, masked;
    unsigned rsv; /* the peer parser must allow it: tether_parser_set_rsv_allowed */
    uint8_t key[4];
    uint8_t *data;
    size_t len;
    int close_code;
    char reason[TETHER_MAX_CONTROL_PAYLOAD + 1];
    size_t reason_len;
} out_frame;

typedef struct peer {
    tether_parser *p;
    out_frame *f;
    int n, cap;
    int in_frame;
} peer;

static inline void peer_init(peer *pr, tether_role conn) {
    memset(pr, 0, sizeof *pr);
    pr->p = tether_parser_new(other_role(conn));
    assert_non_null(pr->p);
}

static inline void peer_forget(peer *pr) {
    for (int i = 0; i < pr->n; i++)
        free(pr->f[i].data);
    pr->n = 0;
}

static inline void peer_free(peer *pr) {
    peer_forget(pr);
    free(pr->f);
    tether_parser_free(pr->p);
    memset(pr, 0, sizeof *pr);
}

/* Parses and consumes everything in c->out. The connection queues whole
 * frames only, so the parser ends at a frame boundary. */
static inline void peer_read(peer *pr, tt_ws *c) {
    size_t n = tt_outbuf_len(&c->out);
    if (!n) return;
    uint8_t *tmp = xmalloc(n);
    memcpy(tmp, c->out.buf + c->out.head, n);
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        const uint8_t *d = NULL;
        size_t dl = 0;
        int pe = tether_parser_next(pr->p, tmp + off, n - off, &used, &d, &dl);
        assert_true(pe >= 0); /* what we send is always valid */
        off += used;
        if (pe == TETHER_PARSE_NEED_MORE) break;
        out_frame *f;
        switch (pe) {
        case TETHER_PARSE_FRAME_START:
            if (pr->n == pr->cap) {
                pr->cap = pr->cap ? pr->cap * 2 : 16;
                pr->f = realloc(pr->f, (size_t)pr->cap * sizeof *pr->f);
                assert_non_null(pr->f);
            }
            f = &pr->f[pr->n++];
            memset(f, 0, sizeof *f);
            f->op = tether_parser_opcode(pr->p);
            f->fin = tether_parser_fin(pr->p);
            f->masked = tether_parser_masked(pr->p);
            f->rsv = tether_parser_rsv(pr->p);
            if (f->masked) memcpy(f->key, tmp + off - 4, 4); /* the header's last 4 bytes */
            f->data = xmalloc((size_t)tether_parser_frame_length(pr->p));
            f->close_code = -1;
            pr->in_frame = 1;
            break;
        case TETHER_PARSE_PAYLOAD:
            f = &pr->f[pr->n - 1];
            memcpy(f->data + f->len, d, dl);
            f->len += dl;
            break;
        case TETHER_PARSE_FRAME_END:
            f = &pr->f[pr->n - 1];
            pr->in_frame = 0;
            if (f->op == TETHER_OP_CLOSE) {
                const char *r;
                f->close_code = tether_parser_close_code(pr->p);
                r = tether_parser_close_reason(pr->p, &f->reason_len);
                if (f->reason_len) memcpy(f->reason, r, f->reason_len);
            }
            break;
        default:
            fail();
        }
    }
    assert_true(off == n);
    assert_false(pr->in_frame);
    free(tmp);
    tt_outbuf_consume(&c->out, n);
}

static inline void assert_out_frame(const out_frame *f, int op, int fin, const void *p, size_t n) {
    assert_int_equal(f->op, op);
    assert_int_equal(f->fin, fin);
    assert_int_equal(f->len, n);
    if (n) assert_memory_equal(f->data, p, n);
}

/* ---- One connection with its peer ------------------------------------------- */

typedef struct fx {
    tt_ws_cfg cfg;
    tt_ws c;
    peer pr;
    evlog log;
    tether_role role;
} fx;

/* Defaults in f->cfg; change them, then fx_start(). */
static inline void fx_setup(fx *f, tether_role role) {
    memset(f, 0, sizeof *f);
    tt_ws_cfg_defaults(&f->cfg);
    f->role = role;
}

static inline void fx_start(fx *f, int copy_data, uint64_t now) {
    assert_int_equal(tt_ws_init(&f->c, f->role, &f->cfg, copy_data, now), 0);
    assert_int_equal(f->c.state, TT_WS_OPEN);
    assert_true(f->c.role == f->role);
    peer_init(&f->pr, f->role);
}

static inline void fx_free(fx *f) {
    tt_ws_cleanup(&f->c);
    peer_free(&f->pr);
    log_free(&f->log);
}

/* Restarts the connection (same cfg) with a fresh peer and log. */
static inline void fx_restart(fx *f, int copy_data, uint64_t now) {
    fx_free(f);
    fx_start(f, copy_data, now);
}

#endif
