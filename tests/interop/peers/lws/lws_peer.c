/*
 * Interop peer for tether built on libwebsockets (Debian's 4.1).
 *
 *   lws_peer server [--port N] [TLS]               scripted server
 *   lws_peer client [OPTIONS] URL SCENARIO [ARGS]  scripted client
 *
 * See ../scenarios.md. The server prints `listening on 127.0.0.1:PORT` and
 * one JSON report per connection; the client prints one JSON report. Test
 * code only: it trusts its inputs and keeps the engine small (one scripted
 * connection state machine shared by both roles).
 *
 * TLS: --cert FILE --key FILE [--ca FILE --require-client-cert] (server);
 * --ca FILE [--cert FILE --key FILE] [--server-name NAME] (client), and
 * --tls-max 1.2 for both. Compression: the server accepts permessage-deflate
 * only on /pmd/SPEC/... paths (SPEC other than "off"), and cannot impose
 * parameters (libwebsockets echoes the client's arg-less ones); the client
 * offers SPEC (--pmd SPEC, or one connection per SPEC in the deflate
 * scenarios).
 */
#include <libwebsockets.h>
#include <openssl/ssl.h>

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024u * 1024u)
#define MAX_MSGS 12
#define STEP_SECONDS 60

/* ------------------------------------------------------------ payloads */

struct frag {
    const unsigned char *p;
    size_t n;
};

struct msg {
    const unsigned char *p; /* the whole message (what the echo must be) */
    size_t n;
    int binary;
    int nfrags; /* 0: one frame */
    struct frag frags[4];
    int ping_before; /* send a ping before this fragment index, or -1 */
};

static unsigned char *pattern(size_t n) {
    unsigned char *b = malloc(n ? n : 1);
    if (!b) abort();
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)((i * 31 + 7) & 0xff);
    return b;
}

static const char *TEXT[] = {"hello", "",
                             "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 "
                             "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x8e\x89"};
static unsigned char *text_a200, *text_70k, *bin_256, *bin_70k, *bin_1000;
static unsigned char *big_text, *big_bin;
static unsigned char *dfl_small_bin, *dfl_utf8, *dfl_text, *dfl_noise, *dfl_pattern,
    *dfl_noise_lite;
static size_t dfl_utf8_len, dfl_text_len;
static unsigned char *dflb_text, *dflb_noise, *dflb_pattern;
static size_t dflb_text_len;
static const unsigned char zero_byte[1] = {0};
static const char FRAG_WHOLE[] = "fragmented \xe2\x9c\x93 message";
static const unsigned char CLIENT_PING[] = "tether-ping\x00\xff"; /* 13 bytes */
static const unsigned char SERVER_PING[] = "server-ping\x01\x02"; /* 13 bytes */

static void init_payloads(void) {
    text_a200 = malloc(200);
    memset(text_a200, 'A', 200);
    text_70k = malloc(70000);
    for (int i = 0; i < 70000; i++)
        text_70k[i] = (unsigned char)('0' + i % 10);
    bin_256 = malloc(256);
    for (int i = 0; i < 256; i++)
        bin_256[i] = (unsigned char)i;
    bin_70k = pattern(70000);
    bin_1000 = pattern(1000);
}

static void init_big(void) {
    if (big_text) return;
    static const char hex[] = "0123456789abcdef";
    big_text = malloc(16 * MIB);
    for (size_t i = 0; i < 16 * MIB; i++)
        big_text[i] = (unsigned char)hex[i % 16];
    big_bin = pattern(16 * MIB);
}

/* n incompressible bytes: xorshift32, low byte of each step (= payloads.py). */
static unsigned char *noise(size_t n) {
    unsigned char *b = malloc(n ? n : 1);
    uint32_t x = 0x9E3779B9u;
    if (!b) abort();
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)(x & 0xff);
    }
    return b;
}

/* The first nchars characters of the deflate text pattern repeated (as
 * payloads.py slices it: by characters, not bytes). */
static unsigned char *deflate_text(size_t nchars, size_t *nbytes) {
    static const char pat[] = "tether permessage-deflate interop, RFC 7692 \xe2\x9c\x93 ";
    size_t plen = strlen(pat), cap = nchars * 3 + 1, n = 0, i = 0;
    unsigned char *b = malloc(cap);
    if (!b) abort();
    while (nchars > 0) {
        b[n++] = (unsigned char)pat[i];
        i = (i + 1) % plen;
        if (((unsigned char)pat[i] & 0xc0) != 0x80) nchars--; /* next char starts */
    }
    *nbytes = n;
    return b;
}

static void init_deflate(int big) {
    if (!dfl_text) {
        static const char utf8[] = "h\xc3\xa9llo \xe2\x9c\x93 ";
        size_t u = strlen(utf8);
        dfl_small_bin = malloc(64);
        for (int i = 0; i < 64; i++)
            dfl_small_bin[i] = (unsigned char)i;
        dfl_utf8 = malloc(u * 30);
        for (int i = 0; i < 30; i++)
            memcpy(dfl_utf8 + (size_t)i * u, utf8, u);
        dfl_utf8_len = u * 30;
        dfl_text = deflate_text(65536, &dfl_text_len);
        dfl_noise = noise(40000);
        dfl_noise_lite = noise(2000);
        dfl_pattern = pattern(100000);
    }
    if (big && !dflb_text) {
        dflb_text = deflate_text(4 * MIB, &dflb_text_len);
        dflb_noise = noise(MIB);
        dflb_pattern = pattern(4 * MIB);
    }
}

static struct msg whole(const void *p, size_t n, int binary) {
    struct msg m;
    memset(&m, 0, sizeof m);
    m.p = p;
    m.n = n;
    m.binary = binary;
    m.ping_before = -1;
    return m;
}

/* Fills out[] with the script for a scenario; returns the count, -1 if the
 * scenario has no scripted messages. */
static int script_for(const char *name, struct msg *out) {
    int n = 0;
    if (!strcmp(name, "text")) {
        for (int i = 0; i < 3; i++)
            out[n++] = whole(TEXT[i], strlen(TEXT[i]), 0);
        out[n++] = whole(text_a200, 200, 0);
        out[n++] = whole(text_70k, 70000, 0);
    } else if (!strcmp(name, "binary")) {
        out[n++] = whole(bin_256, 256, 1);
        out[n++] = whole("", 0, 1);
        out[n++] = whole(zero_byte, 1, 1);
        out[n++] = whole(bin_70k, 70000, 1);
    } else if (!strcmp(name, "fragmented")) {
        /* "frag" | "mented \xe2" | "\x9c\x93 mes" | "sage" */
        const unsigned char *w = (const unsigned char *)FRAG_WHOLE;
        struct msg t = whole(w, strlen(FRAG_WHOLE), 0);
        t.nfrags = 4;
        t.frags[0] = (struct frag){w, 4};
        t.frags[1] = (struct frag){w + 4, 8};
        t.frags[2] = (struct frag){w + 12, 6};
        t.frags[3] = (struct frag){w + 18, strlen(FRAG_WHOLE) - 18};
        t.ping_before = 2;
        out[n++] = t;
        struct msg b = whole(bin_1000, 1000, 1);
        b.nfrags = 3;
        b.frags[0] = (struct frag){bin_1000, 300};
        b.frags[1] = (struct frag){bin_1000 + 300, 1};
        b.frags[2] = (struct frag){bin_1000 + 301, 699};
        out[n++] = b;
    } else if (!strcmp(name, "deflate") || !strcmp(name, "deflate-lite")) {
        int lite = !strcmp(name, "deflate-lite");
        init_deflate(0);
        out[n++] = whole("hello", 5, 0);
        out[n++] = whole("hello", 5, 0);
        /* No empty messages: libwebsockets 4.1 aborts (an assertion in its
         * permessage-deflate, "FAIL want to trim out length 0") when it
         * sends one with compression in force. */
        out[n++] = whole(dfl_small_bin, 64, 1);
        out[n++] = whole(dfl_utf8, dfl_utf8_len, 0);
        out[n++] = whole(dfl_text, dfl_text_len, 0);
        out[n++] = whole(lite ? dfl_noise_lite : dfl_noise, lite ? 2000 : 40000, 1);
        out[n++] = whole(dfl_pattern, 100000, 1);
        out[n++] = whole(dfl_text, dfl_text_len, 0);
    } else if (!strcmp(name, "deflate-big")) {
        init_deflate(1);
        out[n++] = whole(dflb_text, dflb_text_len, 0);
        out[n++] = whole(dflb_noise, MIB, 1);
        out[n++] = whole(dflb_pattern, 4 * MIB, 1);
        out[n++] = whole(dflb_text, dflb_text_len, 0);
    } else if (!strcmp(name, "big")) {
        init_big();
        out[n++] = whole(big_text, 16 * MIB, 0);
        out[n++] = whole(big_bin, 16 * MIB, 1);
    } else if (!strcmp(name, "after-ping")) {
        out[n++] = whole("after-ping", 10, 0);
    } else if (!strcmp(name, "before-close")) {
        out[n++] = whole("before-close", 12, 0);
    } else if (!strcmp(name, "proto")) {
        out[n++] = whole("proto", 5, 0);
    } else
        return -1;
    return n;
}

/* ------------------------------------------------------------ JSON out */

struct sbuf {
    char *p;
    size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_jstr(struct sbuf *b, const char *s, size_t n) {
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            sb_printf(b, "\\u%04x", c);
        } else
            sb_put(b, (const char *)&c, 1);
    }
    sb_put(b, "\"", 1);
}

static void sb_hex(struct sbuf *b, const unsigned char *p, size_t n) {
    static const char hx[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char e[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        sb_put(b, e, 2);
    }
    sb_put(b, "\"", 1);
}

/* ------------------------------------------------------------ session */

enum phase { P_IDLE, P_SENDING, P_WAIT_ECHO, P_DONE };

struct pss {
    int is_client;
    char scenario[64]; /* server: the path; client: the scenario */
    char path[256];    /* server: the request path, as reported */
    char spath[256];   /* server: the scenario's path (no /pmd/SPEC, no id) */
    struct msg script[MAX_MSGS];
    int nmsgs, idx, frag, mid_ping_sent;
    enum phase phase;
    int want_ping, waiting_pong, pong_ok;
    int want_close, close_code;
    char close_reason[124];
    int echo_mode;        /* /echo, /inspect: echo everything */
    struct sbuf echo_log; /* JSON array body of received messages */
    int echo_count;
    unsigned char **echo_q; /* pending echoes: LWS_PRE + payload */
    size_t *echo_len;
    int *echo_bin;
    int echo_head, echo_tail, echo_cap;
    unsigned char *rx;
    size_t rx_len, rx_cap;
    int rx_binary, rx_started;
    int peer_close_code; /* code of a peer-initiated close, -1 if none */
    char peer_close_reason[124];
    struct sbuf extra;    /* extra JSON fields, each starting with ',' */
    unsigned char *txbuf; /* the last message written: with permessage-deflate
                           * lws keeps compressing from it after lws_write()
                           * returns, so it lives until the next write */
    char error[512];
    int finished_ok; /* the scripted part completed */
    int reported;
    struct lws *wsi;
};

static volatile sig_atomic_t interrupted;
static struct lws_context *context;
static int client_done;
static struct sbuf client_report;

static void fail(struct pss *s, const char *fmt, ...) {
    if (s->error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
}

static int write_frame(struct pss *s, struct lws *wsi, const unsigned char *p, size_t n,
                       enum lws_write_protocol flags) {
    unsigned char *buf = malloc(LWS_PRE + n + 1);
    if (!buf) abort();
    if (n) memcpy(buf + LWS_PRE, p, n);
    free(s->txbuf);
    s->txbuf = buf;
    int r = lws_write(wsi, buf + LWS_PRE, n, flags);
    if (r < (int)n) {
        lwsl_err("lws_write failed (%d of %zu)\n", r, n);
        return -1;
    }
    return 0;
}

static void start_script(struct pss *s, const char *name) {
    s->nmsgs = script_for(name, s->script);
    s->idx = 0;
    s->frag = 0;
    s->mid_ping_sent = 0;
    s->phase = s->nmsgs > 0 ? P_SENDING : P_DONE;
    if (s->phase == P_DONE) s->finished_ok = 1;
}

static void request_close(struct pss *s, int code, const char *reason) {
    s->want_close = 1;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
    lws_callback_on_writable(s->wsi);
}

/* The scripted part is over: what to do next depends on role/scenario. */
static void script_complete(struct pss *s) {
    s->phase = P_DONE;
    if (!s->is_client) {
        s->finished_ok = 1;
        request_close(s, 1000, "done");
        return;
    }
    if (!strcmp(s->scenario, "close")) {
        /* close code/reason were stored by client_start() */
        s->want_close = 1;
        lws_callback_on_writable(s->wsi);
        return;
    }
    if (!strcmp(s->scenario, "too-big")) return; /* waits for the server to close */
    s->finished_ok = 1;
    request_close(s, 1000, "");
}

static void on_message(struct pss *s, const unsigned char *p, size_t n, int binary) {
    if (s->echo_mode) {
        if (s->echo_count++) sb_put(&s->echo_log, ",", 1);
        sb_put(&s->echo_log, binary ? "[\"binary\"," : "[\"text\",", binary ? 10 : 8);
        if (binary)
            sb_hex(&s->echo_log, p, n);
        else
            sb_jstr(&s->echo_log, (const char *)p, n);
        sb_put(&s->echo_log, "]", 1);
        if (s->echo_tail == s->echo_cap) {
            s->echo_cap = s->echo_cap ? s->echo_cap * 2 : 16;
            s->echo_q = realloc(s->echo_q, sizeof(*s->echo_q) * (size_t)s->echo_cap);
            s->echo_len = realloc(s->echo_len, sizeof(size_t) * (size_t)s->echo_cap);
            s->echo_bin = realloc(s->echo_bin, sizeof(int) * (size_t)s->echo_cap);
        }
        unsigned char *copy = malloc(LWS_PRE + n + 1);
        memcpy(copy + LWS_PRE, p, n);
        s->echo_q[s->echo_tail] = copy;
        s->echo_len[s->echo_tail] = n;
        s->echo_bin[s->echo_tail] = binary;
        s->echo_tail++;
        lws_callback_on_writable(s->wsi);
        return;
    }
    if (s->phase != P_WAIT_ECHO) {
        fail(s, "unexpected %s message of %zu bytes", binary ? "binary" : "text", n);
        return;
    }
    struct msg *m = &s->script[s->idx];
    if (m->binary != binary || m->n != n || (n && memcmp(m->p, p, n))) {
        fail(s, "echo mismatch on message %d: sent %s[%zu] got %s[%zu]", s->idx,
             m->binary ? "binary" : "text", m->n, binary ? "binary" : "text", n);
        request_close(s, 1000, "mismatch");
        return;
    }
    s->idx++;
    s->frag = 0;
    s->mid_ping_sent = 0;
    if (s->idx < s->nmsgs) {
        s->phase = P_SENDING;
        lws_callback_on_writable(s->wsi);
    } else
        script_complete(s);
}

static void on_rx(struct pss *s, struct lws *wsi, const void *in, size_t len) {
    if (!s->rx_started) {
        s->rx_started = 1;
        s->rx_len = 0;
        s->rx_binary = lws_frame_is_binary(wsi);
    }
    if (s->rx_len + len > s->rx_cap) {
        s->rx_cap = (s->rx_len + len) * 2 + 1024;
        s->rx = realloc(s->rx, s->rx_cap);
        if (!s->rx) abort();
    }
    if (len) memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (lws_is_final_fragment(wsi)) {
        s->rx_started = 0;
        on_message(s, s->rx, s->rx_len, s->rx_binary);
    }
}

static void on_pong(struct pss *s, const void *in, size_t len) {
    if (!s->waiting_pong) return; /* e.g. the answer to the mid-fragment ping */
    const unsigned char *want = s->is_client ? CLIENT_PING : SERVER_PING;
    if (len != 13 || memcmp(in, want, 13)) {
        fail(s, "pong payload differs from ping payload (%zu bytes)", len);
        request_close(s, 1000, "bad pong");
        return;
    }
    s->waiting_pong = 0;
    s->pong_ok = 1;
    sb_put(&s->extra, ",\"pong\":", 8);
    sb_hex(&s->extra, want, 13);
    start_script(s, "after-ping");
    lws_callback_on_writable(s->wsi);
}

/* Returns -1 to close the connection. */
static int on_writeable(struct pss *s, struct lws *wsi) {
    if (s->want_close) {
        s->want_close = 0;
        lws_close_reason(wsi, (enum lws_close_status)s->close_code,
                         (unsigned char *)s->close_reason, strlen(s->close_reason));
        return -1;
    }
    if (s->want_ping) {
        s->want_ping = 0;
        s->waiting_pong = 1;
        const unsigned char *p = s->is_client ? CLIENT_PING : SERVER_PING;
        return write_frame(s, wsi, p, 13, LWS_WRITE_PING);
    }
    if (s->echo_mode) {
        if (s->echo_head < s->echo_tail) {
            int i = s->echo_head++;
            free(s->txbuf);
            s->txbuf = s->echo_q[i];
            s->echo_q[i] = NULL;
            int r = lws_write(wsi, s->txbuf + LWS_PRE, s->echo_len[i],
                              s->echo_bin[i] ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            if (r < (int)s->echo_len[i]) return -1;
            if (s->echo_head < s->echo_tail) lws_callback_on_writable(wsi);
        }
        return 0;
    }
    if (s->phase != P_SENDING) return 0;
    struct msg *m = &s->script[s->idx];
    if (!m->nfrags) {
        s->phase = P_WAIT_ECHO;
        return write_frame(s, wsi, m->p, m->n, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    }
    if (s->frag == m->ping_before && !s->mid_ping_sent) {
        s->mid_ping_sent = 1;
        lws_callback_on_writable(wsi);
        return write_frame(s, wsi, (const unsigned char *)"mid-fragment", 12, LWS_WRITE_PING);
    }
    int flags =
        s->frag == 0 ? (m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) : LWS_WRITE_CONTINUATION;
    if (s->frag < m->nfrags - 1) flags |= LWS_WRITE_NO_FIN;
    const struct frag *f = &m->frags[s->frag++];
    if (s->frag < m->nfrags)
        lws_callback_on_writable(wsi);
    else
        s->phase = P_WAIT_ECHO;
    return write_frame(s, wsi, f->p, f->n, (enum lws_write_protocol)flags);
}

static void copy_hdr(struct lws *wsi, enum lws_token_indexes t, char *dst, int len) {
    dst[0] = 0;
    if (lws_hdr_total_length(wsi, t) > 0) lws_hdr_copy(wsi, dst, len, t);
}

static void put_str_or_null(struct sbuf *b, const char *key, const char *v) {
    sb_printf(b, ",\"%s\":", key);
    if (v)
        sb_jstr(b, v, strlen(v));
    else
        sb_put(b, "null", 4);
}

/* libwebsockets 4.1 does not report the payload of the Close frame that
 * acknowledges our own Close (lws_get_close_payload() returns the payload we
 * sent), so the code echoed by tether is unobservable with this peer. */
static const char UNOBSERVABLE[] = "libwebsockets does not expose the acknowledging close frame";

static void server_report(struct pss *s) {
    if (s->reported) return;
    s->reported = 1;
    struct sbuf b = {0};
    int ok = s->finished_ok && !s->error[0];
    if (!strncmp(s->spath, "/close/", 7)) {
        sb_printf(&s->extra, ",\"reply_code\":null,\"unobservable\":\"%s\"", UNOBSERVABLE);
        ok = !s->error[0];
    }
    if (s->echo_mode) {
        sb_put(&s->extra, ",\"messages\":[", 13);
        if (s->echo_log.p) sb_put(&s->extra, s->echo_log.p, s->echo_log.n);
        sb_put(&s->extra, "]", 1);
        if (s->peer_close_code >= 0)
            sb_printf(&s->extra, ",\"close_code\":%d", s->peer_close_code);
        else
            sb_printf(&s->extra, ",\"close_code\":null");
        ok = !s->error[0];
    } else if (!s->finished_ok && !s->error[0])
        fail(s, "connection closed before the scenario finished (step %d)", s->idx);
    sb_put(&b, "{\"path\":", 8);
    sb_jstr(&b, s->path, strlen(s->path));
    sb_printf(&b, ",\"ok\":%s,\"error\":", ok ? "true" : "false");
    if (s->error[0])
        sb_jstr(&b, s->error, strlen(s->error));
    else
        sb_put(&b, "null", 4);
    if (s->extra.p) sb_put(&b, s->extra.p, s->extra.n);
    printf("%s}\n", b.p);
    fflush(stdout);
    free(b.p);
}

static void client_finish(struct pss *s) {
    if (s->reported) return;
    s->reported = 1;
    int ok = s->finished_ok && !s->error[0];
    if (!strcmp(s->scenario, "close")) {
        sb_printf(&s->extra, ",\"rcvd_code\":null,\"unobservable\":\"%s\"", UNOBSERVABLE);
        ok = s->idx == s->nmsgs && !s->error[0];
    }
    if (!strcmp(s->scenario, "too-big")) {
        if (s->peer_close_code < 0)
            fail(s, "no close frame from the server");
        else {
            sb_printf(&s->extra, ",\"rcvd_code\":%d,\"rcvd_reason\":", s->peer_close_code);
            sb_jstr(&s->extra, s->peer_close_reason, strlen(s->peer_close_reason));
        }
        ok = !s->error[0];
    }
    if (!ok && !s->error[0])
        fail(s, "connection closed before the scenario finished (step %d)", s->idx);
    sb_printf(&client_report, "{\"ok\":%s,\"error\":", ok ? "true" : "false");
    if (s->error[0])
        sb_jstr(&client_report, s->error, strlen(s->error));
    else
        sb_put(&client_report, "null", 4);
    if (s->extra.p) sb_put(&client_report, s->extra.p, s->extra.n);
    sb_put(&client_report, "}", 1);
    client_done = 1;
}

/* Client-side scenario settings, filled in by main(). */
static const char *c_scenario;
static char **c_args;
static int c_nargs;
static struct pss *c_pss;

static void server_start(struct pss *s, struct lws *wsi) {
    const char *p = s->spath;
    if (!strcmp(p, "/text") || !strcmp(p, "/binary") || !strcmp(p, "/fragmented") ||
        !strcmp(p, "/big") || !strcmp(p, "/deflate") || !strcmp(p, "/deflate-big") ||
        !strcmp(p, "/deflate-lite")) {
        start_script(s, p + 1);
        s->finished_ok = 0;
        lws_callback_on_writable(wsi);
    } else if (!strcmp(p, "/ping")) {
        s->want_ping = 1;
        lws_callback_on_writable(wsi);
    } else if (!strncmp(p, "/close/", 7)) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", p + 7);
        char *slash = strchr(buf, '/');
        const char *reason = "";
        if (slash) {
            *slash = 0;
            reason = slash + 1;
            lws_urldecode(slash + 1, slash + 1, (int)strlen(slash + 1) + 1);
        }
        s->finished_ok = 1;
        request_close(s, atoi(buf), reason);
    } else if (!strcmp(p, "/inspect") || !strcmp(p, "/echo")) {
        s->echo_mode = 1;
    } else {
        fail(s, "unknown scenario path %s", p);
        request_close(s, 1011, "unknown scenario");
    }
}

static void client_start(struct pss *s, struct lws *wsi) {
    const char *sc = s->scenario;
    if (!strncmp(sc, "echo-", 5)) {
        start_script(s, sc + 5);
        s->finished_ok = 0;
    } else if (!strncmp(sc, "deflate", 7)) {
        start_script(s, sc);
        s->finished_ok = 0;
    } else if (!strcmp(sc, "ping")) {
        s->want_ping = 1;
    } else if (!strcmp(sc, "close")) {
        start_script(s, "before-close");
        s->finished_ok = 0;
        s->close_code = c_nargs > 0 ? atoi(c_args[0]) : 1000;
        snprintf(s->close_reason, sizeof s->close_reason, "%s", c_nargs > 1 ? c_args[1] : "");
    } else if (!strcmp(sc, "too-big")) {
        static unsigned char *big;
        static struct msg m;
        size_t n = c_nargs > 0 ? (size_t)atol(c_args[0]) : 4096;
        big = pattern(n);
        m = whole(big, n, 1);
        s->script[0] = m;
        s->nmsgs = 1;
        s->idx = 0;
        s->phase = P_SENDING;
    } else if (!strcmp(sc, "subprotocol")) {
        start_script(s, "proto");
        s->finished_ok = 0;
    } else {
        fail(s, "unknown scenario %s", sc);
        request_close(s, 1000, "");
        return;
    }
    lws_callback_on_writable(wsi);
}

/* "/pmd/SPEC/rest" -> "/rest" (and SPEC into spec, if given); a trailing
 * id of /deflate/ID and /deflate-big/ID paths is dropped too. */
static void scenario_path(const char *path, char *out, size_t outlen, char *spec, size_t speclen) {
    const char *rest = path;
    if (spec) spec[0] = 0;
    if (!strncmp(path, "/pmd/", 5)) {
        const char *slash = strchr(path + 5, '/');
        if (slash) {
            if (spec) snprintf(spec, speclen, "%.*s", (int)(slash - path - 5), path + 5);
            rest = slash;
        }
    }
    snprintf(out, outlen, "%s", rest);
    if (!strncmp(out, "/deflate/", 9) || !strncmp(out, "/deflate-big/", 13) ||
        !strncmp(out, "/deflate-lite/", 14))
        *strchr(out + 1, '/') = 0;
}

/* TLS facts for a report: ",\"tls_version\":...,\"<cn_key>\":..." */
static void put_tls_info(struct sbuf *b, struct lws *wsi, const char *cn_key) {
    SSL *ssl = lws_get_ssl(wsi);
    if (!ssl) return;
    put_str_or_null(b, "tls_version", SSL_get_version(ssl));
    union {
        union lws_tls_cert_info_results r;
        char space[sizeof(union lws_tls_cert_info_results) + 128];
    } u;
    int got = !lws_tls_peer_cert_info(wsi, LWS_TLS_CERT_INFO_COMMON_NAME, &u.r,
                                      sizeof u.space - sizeof u.r + sizeof u.r.ns.name);
    put_str_or_null(b, cn_key, got ? u.r.ns.name : NULL);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    struct pss *s = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
        char uri[256];
        copy_hdr(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri);
        if (!strncmp(uri, "/reject/", 8)) {
            int status = atoi(uri + 8);
            printf("{\"path\":\"%s\",\"ok\":true,\"error\":null,\"rejected\":%d}\n", uri, status);
            fflush(stdout);
            lws_return_http_status(wsi, (unsigned int)status, "Rejected by interop peer");
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        /* lws takes our answer over OpenSSL's: keep OpenSSL's (len) */
        return len ? 0 : 1;
    case LWS_CALLBACK_CONFIRM_EXTENSION_OKAY: {
        /* permessage-deflate only on /pmd/SPEC/... with SPEC other than off */
        char uri[256], spec[64], rest[256];
        copy_hdr(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri);
        scenario_path(uri, rest, sizeof rest, spec, sizeof spec);
        return !strncmp(uri, "/pmd/", 5) && strcmp(spec, "off") ? 0 : 1;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        memset(s, 0, sizeof *s);
        s->peer_close_code = -1;
        s->wsi = wsi;
        copy_hdr(wsi, WSI_TOKEN_GET_URI, s->path, sizeof s->path);
        char *q = strchr(s->path, '?');
        if (q) *q = 0;
        scenario_path(s->path, s->spath, sizeof s->spath, NULL, 0);
        char offer[256];
        copy_hdr(wsi, WSI_TOKEN_EXTENSIONS, offer, sizeof offer);
        put_str_or_null(&s->extra, "offer", offer[0] ? offer : NULL);
        char origin[256], offered[512], xt[256];
        copy_hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
        copy_hdr(wsi, WSI_TOKEN_PROTOCOL, offered, sizeof offered);
        int n = lws_hdr_custom_copy(wsi, xt, sizeof xt, "x-tether-test:", 14);
        if (n < 0) n = lws_hdr_custom_copy(wsi, xt, sizeof xt, "X-Tether-Test:", 14);
        put_str_or_null(&s->extra, "origin", origin[0] ? origin : NULL);
        put_str_or_null(&s->extra, "x_tether_test", n >= 0 ? xt : NULL);
        sb_put(&s->extra, ",\"offered\":[", 12);
        int first = 1;
        for (char *tok = strtok(offered, ","); tok; tok = strtok(NULL, ",")) {
            while (*tok == ' ')
                tok++;
            size_t k = strlen(tok);
            while (k && tok[k - 1] == ' ')
                tok[--k] = 0;
            if (!k) continue;
            if (!first) sb_put(&s->extra, ",", 1);
            first = 0;
            sb_jstr(&s->extra, tok, k);
        }
        sb_put(&s->extra, "]", 1);
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        s->wsi = wsi;
        const struct lws_protocols *pr = lws_get_protocol(wsi);
        put_str_or_null(&s->extra, "subprotocol",
                        pr && strcmp(pr->name, "interop") ? pr->name : NULL);
        put_tls_info(&s->extra, wsi, "client_cert_cn");
        server_start(s, wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH: {
        char proto[128];
        copy_hdr(wsi, WSI_TOKEN_PROTOCOL, proto, sizeof proto);
        if (!strcmp(c_scenario, "subprotocol"))
            put_str_or_null(&c_pss->extra, "subprotocol", proto[0] ? proto : NULL);
        char ext[256];
        copy_hdr(wsi, WSI_TOKEN_EXTENSIONS, ext, sizeof ext);
        put_str_or_null(&c_pss->extra, "extensions", ext[0] ? ext : NULL);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c_pss->wsi = wsi;
        put_tls_info(&c_pss->extra, wsi, "server_cert_cn");
        client_start(c_pss, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        unsigned int status = lws_http_client_http_response(wsi);
        const char *msg = in ? (const char *)in : "(no detail)";
        if (!strcmp(c_scenario, "status")) {
            if (status) {
                sb_printf(&c_pss->extra, ",\"status\":%u,\"detail\":", status);
                sb_jstr(&c_pss->extra, msg, strlen(msg));
                c_pss->finished_ok = 1;
            } else
                fail(c_pss, "handshake failed without a status: %s", msg);
        } else
            fail(c_pss, "connection error (HTTP %u): %s", status, msg);
        c_pss->reported = 0;
        client_finish(c_pss);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_rx(s ? s : c_pss, wsi, in, len);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        on_pong(s ? s : c_pss, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(s ? s : c_pss, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        struct pss *t = s ? s : c_pss;
        if (len >= 2) {
            const unsigned char *p = in;
            t->peer_close_code = (p[0] << 8) | p[1];
            size_t k = len - 2 < sizeof t->peer_close_reason - 1 ? len - 2
                                                                 : sizeof t->peer_close_reason - 1;
            memcpy(t->peer_close_reason, p + 2, k);
            t->peer_close_reason[k] = 0;
        } else
            t->peer_close_code = 1005;
        return 0; /* lws echoes the close */
    }
    case LWS_CALLBACK_CLOSED:
        server_report(s);
        free(s->rx);
        s->rx = NULL;
        for (int i = s->echo_head; i < s->echo_tail; i++)
            free(s->echo_q[i]);
        free(s->echo_q);
        free(s->echo_len);
        free(s->echo_bin);
        free(s->echo_log.p);
        free(s->extra.p);
        free(s->txbuf);
        s->txbuf = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        client_finish(c_pss);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

#define PROTO(name)                                                                                \
    { name, callback, sizeof(struct pss), 65536, 0, NULL, 0 }
static const struct lws_protocols protocols[] = {
    PROTO("interop"), PROTO("chat"), PROTO("superchat"), {NULL, NULL, 0, 0, 0, NULL, 0}};

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
    if (context) lws_cancel_service(context);
}

/* Options shared by both roles (../scenarios.md). */
static struct {
    const char *ca, *cert, *key, *server_name, *tls_max, *pmd;
    int port, no_pmd, verify_client, require_client_cert;
} opt;

/* Parses leading --options from argv[i]; returns the index after them. */
static int parse_opts(int argc, char **argv, int i) {
    while (i < argc && !strncmp(argv[i], "--", 2)) {
        const char *n = argv[i] + 2, *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(n, "no-pmd"))
            opt.no_pmd = 1;
        else if (!strcmp(n, "verify-client"))
            opt.verify_client = 1;
        else if (!strcmp(n, "require-client-cert"))
            opt.require_client_cert = 1;
        else {
            if (!strcmp(n, "port"))
                opt.port = atoi(v);
            else if (!strcmp(n, "ca"))
                opt.ca = v;
            else if (!strcmp(n, "cert"))
                opt.cert = v;
            else if (!strcmp(n, "key"))
                opt.key = v;
            else if (!strcmp(n, "server-name"))
                opt.server_name = v;
            else if (!strcmp(n, "tls-max"))
                opt.tls_max = v;
            else if (!strcmp(n, "pmd"))
                opt.pmd = v;
            else {
                fprintf(stderr, "lws_peer: unknown option %s\n", argv[i]);
                exit(2);
            }
            i++;
        }
        i++;
    }
    return i;
}

/* The permessage-deflate offer for a SPEC ("on", or snct, cnct, smwb=N,
 * cmwb[=N] separated by commas), as libwebsockets sends it verbatim. */
static void offer_for(const char *spec, char *out, size_t outlen) {
    char buf[128];
    size_t n = (size_t)snprintf(out, outlen, "permessage-deflate");
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const char *name = !strncmp(tok, "snct", 4)   ? "server_no_context_takeover"
                           : !strncmp(tok, "cnct", 4) ? "client_no_context_takeover"
                           : !strncmp(tok, "smwb", 4) ? "server_max_window_bits"
                           : !strncmp(tok, "cmwb", 4) ? "client_max_window_bits"
                                                      : NULL;
        if (!name) continue; /* "on" */
        n += (size_t)snprintf(out + n, outlen - n, "; %s%s", name, tok[4] == '=' ? tok + 4 : "");
    }
}

static struct lws_extension extensions[2];
static char ext_offer[256];

static void set_extensions(struct lws_context_creation_info *info, const char *spec) {
    memset(extensions, 0, sizeof extensions);
    if (!spec || !strcmp(spec, "off")) return;
    offer_for(spec, ext_offer, sizeof ext_offer);
    extensions[0].name = "permessage-deflate";
    extensions[0].callback = lws_extension_callback_pm_deflate;
    extensions[0].client_offer = ext_offer;
    info->extensions = extensions;
}

static int run_server(void) {
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = opt.port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = STEP_SECONDS;
    set_extensions(&info, "on"); /* refused off /pmd/ paths: CONFIRM_EXTENSION_OKAY */
    if (opt.cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = opt.cert;
        info.ssl_private_key_filepath = opt.key;
        info.ssl_ca_filepath = opt.ca;
        if (opt.require_client_cert)
            info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        if (opt.tls_max && !strcmp(opt.tls_max, "1.2")) info.ssl_options_set = SSL_OP_NO_TLSv1_3;
    }
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws_create_context failed\n");
        return 1;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(context, "default");
    int actual = vh ? lws_get_vhost_listen_port(vh) : -1;
    printf("listening on 127.0.0.1:%d\n", actual);
    fflush(stdout);
    while (!interrupted)
        if (lws_service(context, 0) < 0) break;
    lws_context_destroy(context);
    return 0;
}

/* One client connection running `scenario`, offering permessage-deflate
 * as pmd says (NULL or "off": no offer). Appends its JSON report to out. */
static int run_one(const char *url, const char *scenario, const char *pmd, struct sbuf *out) {
    static struct pss s;
    memset(&s, 0, sizeof s);
    s.is_client = 1;
    s.peer_close_code = -1;
    snprintf(s.scenario, sizeof s.scenario, "%s", scenario);
    c_pss = &s;
    c_scenario = scenario;
    client_done = 0;
    free(client_report.p);
    memset(&client_report, 0, sizeof client_report);
    if (pmd) {
        sb_put(&s.extra, ",\"spec\":", 8);
        sb_jstr(&s.extra, pmd, strlen(pmd));
    }

    char ubuf[512], pbuf[512];
    snprintf(ubuf, sizeof ubuf, "%s", url);
    const char *prot, *addr, *path;
    int port;
    if (lws_parse_uri(ubuf, &prot, &addr, &port, &path)) {
        fprintf(stderr, "bad url %s\n", url);
        return 2;
    }
    snprintf(pbuf, sizeof pbuf, "/%s", path);
    int tls = !strcmp(prot, "wss") || !strcmp(prot, "https");

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.timeout_secs = STEP_SECONDS;
    set_extensions(&info, pmd);
    if (tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = opt.ca;
        info.client_ssl_cert_filepath = opt.cert;
        info.client_ssl_private_key_filepath = opt.key;
        if (opt.tls_max && !strcmp(opt.tls_max, "1.2"))
            info.ssl_client_options_set = SSL_OP_NO_TLSv1_3;
    }
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws_create_context failed\n");
        return 1;
    }

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = context;
    ci.address = addr;
    ci.port = port;
    ci.path = pbuf;
    ci.host = opt.server_name ? opt.server_name : addr; /* Host, SNI, name checked */
    ci.origin = addr;
    ci.ietf_version_or_minus_one = -1;
    ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    ci.protocol = "interop";
    if (!strcmp(scenario, "subprotocol") && c_nargs > 0)
        ci.protocol = c_args[0]; /* comma-separated offer list */
    ci.local_protocol_name = "interop";
    struct lws *wsi = NULL;
    ci.pwsi = &wsi;
    ci.userdata = &s; /* our state is the wsi's user data */
    if (!lws_client_connect_via_info(&ci) && !client_done) {
        fail(&s, "lws_client_connect_via_info failed");
        client_finish(&s);
    }
    time_t deadline = time(NULL) + 2 * STEP_SECONDS;
    while (!client_done && !interrupted && time(NULL) < deadline)
        if (lws_service(context, 0) < 0) break;
    if (!client_done) {
        fail(&s, "timed out or interrupted");
        client_finish(&s);
    }
    lws_context_destroy(context);
    context = NULL;
    free(s.rx);
    free(s.extra.p);
    free(s.txbuf);
    sb_put(out, client_report.p, client_report.n);
    return 0;
}

static int run_client(const char *url, const char *scenario) {
    struct sbuf out = {0};
    int rc;
    if (strncmp(scenario, "deflate", 7)) {
        rc = run_one(url, scenario, opt.no_pmd ? NULL : opt.pmd, &out);
    } else {
        /* One connection per SPEC argument (default: --pmd, else "on"). */
        const char *dflt = opt.pmd ? opt.pmd : "on";
        int nspecs = c_nargs ? c_nargs : 1, failed = 0;
        struct sbuf runs = {0};
        rc = 0;
        for (int i = 0; i < nspecs && rc == 0; i++) {
            struct sbuf one = {0};
            char runurl[512];
            snprintf(runurl, sizeof runurl, "%s%srun%d", url,
                     url[strlen(url) - 1] == '/' ? "" : "/", i);
            rc = run_one(runurl, scenario, c_nargs ? c_args[i] : dflt, &one);
            if (!one.p || !strstr(one.p, "\"ok\":true")) failed++;
            if (i) sb_put(&runs, ",", 1);
            if (one.p) sb_put(&runs, one.p, one.n);
            free(one.p);
        }
        sb_printf(&out, "{\"ok\":%s,\"error\":", failed ? "false" : "true");
        if (failed)
            sb_printf(&out, "\"%d of %d runs failed\"", failed, nspecs);
        else
            sb_put(&out, "null", 4);
        sb_put(&out, ",\"runs\":[", 9);
        if (runs.p) sb_put(&out, runs.p, runs.n);
        sb_put(&out, "]}", 2);
        free(runs.p);
    }
    if (out.p) printf("%s\n", out.p);
    fflush(stdout);
    free(out.p);
    return rc;
}

int main(int argc, char **argv) {
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    init_payloads();
    if (argc >= 2 && !strcmp(argv[1], "server")) {
        if (parse_opts(argc, argv, 2) != argc) {
            fprintf(stderr, "lws_peer server: unexpected argument\n");
            return 2;
        }
        return run_server();
    }
    if (argc >= 2 && !strcmp(argv[1], "client")) {
        int i = parse_opts(argc, argv, 2);
        if (argc - i >= 2) {
            c_args = argv + i + 2;
            c_nargs = argc - i - 2;
            return run_client(argv[i], argv[i + 1]);
        }
    }
    fprintf(stderr,
            "usage: lws_peer server [--port N] [TLS] | client [OPTIONS] URL SCENARIO [ARGS]\n");
    return 2;
}
