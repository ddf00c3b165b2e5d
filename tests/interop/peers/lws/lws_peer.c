/*
 * Interop peer for tether built on libwebsockets (Debian's 4.1).
 *
 *   lws_peer server [--port N]           scripted server, see ../scenarios.md
 *   lws_peer client URL SCENARIO [ARGS]  scripted client, see ../scenarios.md
 *
 * The server prints `listening on 127.0.0.1:PORT` and one JSON report per
 * connection; the client prints one JSON report. Test code only: it trusts
 * its inputs and keeps the engine small (one scripted connection state
 * machine shared by both roles).
 */
#include <libwebsockets.h>

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024u * 1024u)
#define MAX_MSGS 8
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
    char path[256];
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
    struct sbuf extra; /* extra JSON fields, each starting with ',' */
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

static int write_frame(struct lws *wsi, const unsigned char *p, size_t n,
                       enum lws_write_protocol flags) {
    unsigned char *buf = malloc(LWS_PRE + n + 1);
    if (!buf) abort();
    if (n) memcpy(buf + LWS_PRE, p, n);
    int r = lws_write(wsi, buf + LWS_PRE, n, flags);
    free(buf);
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
        return write_frame(wsi, p, 13, LWS_WRITE_PING);
    }
    if (s->echo_mode) {
        if (s->echo_head < s->echo_tail) {
            int i = s->echo_head++;
            int r = lws_write(wsi, s->echo_q[i] + LWS_PRE, s->echo_len[i],
                              s->echo_bin[i] ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            free(s->echo_q[i]);
            s->echo_q[i] = NULL;
            if (r < (int)s->echo_len[i]) return -1;
            if (s->echo_head < s->echo_tail) lws_callback_on_writable(wsi);
        }
        return 0;
    }
    if (s->phase != P_SENDING) return 0;
    struct msg *m = &s->script[s->idx];
    if (!m->nfrags) {
        s->phase = P_WAIT_ECHO;
        return write_frame(wsi, m->p, m->n, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    }
    if (s->frag == m->ping_before && !s->mid_ping_sent) {
        s->mid_ping_sent = 1;
        lws_callback_on_writable(wsi);
        return write_frame(wsi, (const unsigned char *)"mid-fragment", 12, LWS_WRITE_PING);
    }
    int flags =
        s->frag == 0 ? (m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) : LWS_WRITE_CONTINUATION;
    if (s->frag < m->nfrags - 1) flags |= LWS_WRITE_NO_FIN;
    const struct frag *f = &m->frags[s->frag++];
    if (s->frag < m->nfrags)
        lws_callback_on_writable(wsi);
    else
        s->phase = P_WAIT_ECHO;
    return write_frame(wsi, f->p, f->n, (enum lws_write_protocol)flags);
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
    if (!strncmp(s->path, "/close/", 7)) {
        sb_printf(&s->extra, ",\"reply_code\":null,\"unobservable\":\"%s\"", UNOBSERVABLE);
        ok = !s->error[0];
    }
    if (s->echo_mode) {
        sb_printf(&s->extra, ",\"messages\":[%s]", s->echo_log.p ? s->echo_log.p : "");
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
    const char *p = s->path;
    if (!strcmp(p, "/text") || !strcmp(p, "/binary") || !strcmp(p, "/fragmented") ||
        !strcmp(p, "/big")) {
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
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        memset(s, 0, sizeof *s);
        s->peer_close_code = -1;
        s->wsi = wsi;
        copy_hdr(wsi, WSI_TOKEN_GET_URI, s->path, sizeof s->path);
        char *q = strchr(s->path, '?');
        if (q) *q = 0;
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
        server_start(s, wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH: {
        char proto[128];
        copy_hdr(wsi, WSI_TOKEN_PROTOCOL, proto, sizeof proto);
        if (!strcmp(c_scenario, "subprotocol"))
            put_str_or_null(&c_pss->extra, "subprotocol", proto[0] ? proto : NULL);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c_pss->wsi = wsi;
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

static int run_server(int port) {
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = STEP_SECONDS;
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

static int run_client(const char *url, const char *scenario) {
    static struct pss s;
    memset(&s, 0, sizeof s);
    s.is_client = 1;
    s.peer_close_code = -1;
    snprintf(s.scenario, sizeof s.scenario, "%s", scenario);
    c_pss = &s;
    c_scenario = scenario;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.timeout_secs = STEP_SECONDS;
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws_create_context failed\n");
        return 1;
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

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = context;
    ci.address = addr;
    ci.port = port;
    ci.path = pbuf;
    ci.host = addr;
    ci.origin = addr;
    ci.ietf_version_or_minus_one = -1;
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
    printf("%s\n", client_report.p);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    init_payloads();
    if (argc >= 2 && !strcmp(argv[1], "server")) {
        int port = 0;
        for (int i = 2; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        return run_server(port);
    }
    if (argc >= 4 && !strcmp(argv[1], "client")) {
        c_args = argv + 4;
        c_nargs = argc - 4;
        return run_client(argv[2], argv[3]);
    }
    fprintf(stderr, "usage: lws_peer server [--port N] | client URL SCENARIO [ARGS]\n");
    return 2;
}
