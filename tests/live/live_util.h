/* Shared by the live API tests: a "world" (one context, its listener, and
 * what every connection saw), a step function that drives it in callback
 * or poll mode, and raw TCP peers built on the sans-I/O API. Everything is
 * bounded: UNTIL() fails a test past its time, each program sets alarm()
 * as a backstop, and raw sockets have receive/send timeouts. */
#ifndef LIVE_UTIL_H
#define LIVE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tether.h"

static inline uint64_t lu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- what one connection saw -------------------------------------------- */

typedef struct side {
    tether_conn *c;
    uint64_t id;
    int server;
    int requests, http, open, closed, code, clean, error, status;
    char reason[TETHER_MAX_CLOSE_REASON + 1];
    char proto[64];
    char error_text[160]; /* tether_conn_error_text() at CLOSED, "" if NULL */
    int msgs, pings, pongs, drains, frags, frag_fins, events;
    size_t drain_buffered; /* the most tether_conn_buffered() at a DRAIN */
    int last_op;
    uint8_t *last; /* a copy of the last message */
    size_t last_len;
    uint8_t *acc; /* FRAGMENT payloads, concatenated */
    size_t acc_len, acc_cap;
    uint8_t ctl[TETHER_MAX_CONTROL_PAYLOAD];
    size_t ctl_len;
    int frag_order_bad; /* a FRAGMENT after the fin one, or an opcode change */
    int frag_op;
    char seq[512]; /* short text messages, each followed by '|' */
    void *arg;     /* the scenario's */
} side;

enum { MODE_POLL = 0, MODE_CB = 1 };

/* Tests that run in both modes take the mode as cmocka's initial state. */
#define MODE(state) ((int)(intptr_t) * (state))
#define BOTH(f)                                                                                    \
    cmocka_unit_test_prestate(f, (void *)(intptr_t)MODE_CB),                                       \
        cmocka_unit_test_prestate(f, (void *)(intptr_t)MODE_POLL)

/* A deterministic pseudo-random payload (caller frees). */
static inline uint8_t *lu_pattern(size_t len, unsigned seed) {
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
    return p;
}

typedef struct world world;
/* A scenario's reaction to an event, after it is recorded. s is the
 * connection's side (NULL for WAKE). */
typedef void (*lu_hook)(world *w, tether_event *ev, side *s);

#define LU_MAX_SIDES 4096
#define LU_MAX_HELD 16

struct world {
    tether_ctx *ctx;
    int mode;
    tether_listener *l;
    int port;
    side *sides;
    size_t nsides;
    int echo; /* servers echo every message back */
    lu_hook hook;
    int wakes, stray, events;
    int keep;                        /* set by a hook: hold this event (poll mode) */
    tether_event *held[LU_MAX_HELD]; /* events held by the test */
    int nheld;
    void *arg;
};

static inline side *lu_side_new(world *w, int server) {
    assert_true(w->nsides < LU_MAX_SIDES);
    side *s = &w->sides[w->nsides++];
    memset(s, 0, sizeof *s);
    s->server = server;
    return s;
}

static inline void lu_copy(uint8_t **dst, size_t *dlen, const uint8_t *src, size_t len) {
    free(*dst);
    *dst = malloc(len ? len : 1);
    assert_non_null(*dst);
    if (len) memcpy(*dst, src, len);
    *dlen = len;
}

static inline void lu_append(side *s, const uint8_t *d, size_t len) {
    if (s->acc_len + len > s->acc_cap) {
        size_t cap = s->acc_cap ? s->acc_cap : 256;
        while (cap < s->acc_len + len)
            cap *= 2;
        s->acc = realloc(s->acc, cap);
        assert_non_null(s->acc);
        s->acc_cap = cap;
    }
    if (len) memcpy(s->acc + s->acc_len, d, len);
    s->acc_len += len;
}

/* Records an event into its side, echoes if asked, then runs the hook. */
static inline void lu_record(world *w, tether_event *ev) {
    tether_conn *c = tether_event_conn(ev);
    side *s = c ? (side *)tether_conn_user(c) : NULL;
    int type = tether_event_type_of(ev);
    size_t len = 0;
    const uint8_t *data = tether_event_data(ev, &len);
    w->events++;
    if (type == TETHER_EV_REQUEST || (type == TETHER_EV_HTTP && !s)) {
        assert_null(s);
        s = lu_side_new(w, 1);
        s->c = c;
        s->id = tether_conn_id(c);
        tether_conn_set_user(c, s);
        assert_ptr_equal(tether_conn_user(c), s);
    }
    if (type == TETHER_EV_WAKE) {
        assert_null(c);
        w->wakes++;
    } else if (!s) {
        w->stray++;
        return;
    }
    if (s) {
        s->events++;
        assert_int_equal(s->closed, 0); /* nothing after CLOSED */
        assert_ptr_equal(s->c, c);
    }
    switch (type) {
    case TETHER_EV_REQUEST:
        s->requests++;
        break;
    case TETHER_EV_HTTP:
        s->http++;
        break;
    case TETHER_EV_HTTP_BODY:
        lu_append(s, data, len);
        if (tether_event_fin(ev)) s->frag_fins++;
        break;
    case TETHER_EV_OPEN: {
        s->open++;
        const char *p = tether_conn_protocol(c);
        snprintf(s->proto, sizeof s->proto, "%s", p ? p : "");
        break;
    }
    case TETHER_EV_MESSAGE:
        s->msgs++;
        s->last_op = tether_event_opcode(ev);
        lu_copy(&s->last, &s->last_len, data, len);
        if (s->last_op == TETHER_OP_TEXT && len < 32 && strlen(s->seq) + len + 2 < sizeof s->seq) {
            size_t k = strlen(s->seq);
            memcpy(s->seq + k, data, len);
            s->seq[k + len] = '|';
            s->seq[k + len + 1] = 0;
        }
        if (w->echo && s->server) {
            int rc = tether_conn_send(c, (tether_opcode)s->last_op, data, len);
            if (rc) fail_msg("echo send: %s", tether_strerror(rc));
        }
        break;
    case TETHER_EV_FRAGMENT:
        if (s->frags && s->frag_op != tether_event_opcode(ev)) s->frag_order_bad = 1;
        if (s->frag_fins) s->frag_order_bad = 1;
        s->frag_op = tether_event_opcode(ev);
        s->frags++;
        lu_append(s, data, len);
        if (tether_event_fin(ev)) s->frag_fins++;
        break;
    case TETHER_EV_PING:
    case TETHER_EV_PONG:
        if (type == TETHER_EV_PING)
            s->pings++;
        else
            s->pongs++;
        assert_true(len <= sizeof s->ctl);
        memcpy(s->ctl, data, len);
        s->ctl_len = len;
        break;
    case TETHER_EV_DRAIN:
        s->drains++;
        if (tether_conn_buffered(s->c) > s->drain_buffered)
            s->drain_buffered = tether_conn_buffered(s->c);
        break;
    case TETHER_EV_CLOSED: {
        size_t rl = 0;
        const char *r = tether_event_close_reason(ev, &rl);
        s->closed++;
        s->code = tether_event_close_code(ev);
        s->clean = tether_event_clean(ev);
        s->error = tether_event_error(ev);
        s->status = tether_conn_http_status(c);
        const char *et = tether_conn_error_text(c);
        snprintf(s->error_text, sizeof s->error_text, "%s", et ? et : "");
        assert_true(rl <= TETHER_MAX_CLOSE_REASON);
        memcpy(s->reason, r, rl);
        s->reason[rl] = 0;
        break;
    }
    default:
        break;
    }
    if (w->hook) w->hook(w, ev, s);
}

/* ---- driving ------------------------------------------------------------ */

static world *lu_timer_world;
static volatile sig_atomic_t lu_timer_fired;
static timer_t lu_timer;
static int lu_timer_made;

static inline void lu_on_sigusr2(int sig) {
    (void)sig;
    lu_timer_fired = 1;
    if (lu_timer_world) tether_ctx_stop(lu_timer_world->ctx); /* async-signal-safe */
}

static inline void lu_timer_arm(int ms) {
    if (!lu_timer_made) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = lu_on_sigusr2;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR2, &sa, NULL);
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIGUSR2;
        assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &lu_timer), 0);
        lu_timer_made = 1;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    timer_settime(lu_timer, 0, &its, NULL);
}

static inline void lu_cb(tether_ctx *ctx, tether_event *ev, void *user) {
    world *w = user;
    lu_record(w, ev);
    w->keep = 0;          /* callback mode cannot hold events */
    tether_ctx_stop(ctx); /* back to the test after every round with events */
}

/* Runs the world for at most ms milliseconds, returning sooner once
 * something happened. */
static inline void w_step(world *w, int ms) {
    if (w->mode == MODE_CB) {
        lu_timer_world = w;
        lu_timer_fired = 0;
        lu_timer_arm(ms);
        int rc = tether_ctx_run(w->ctx);
        lu_timer_arm(0); /* disarm */
        if (rc) fail_msg("tether_ctx_run: %s", tether_strerror(rc));
        return;
    }
    /* In batches, as the bindings take them: events of one batch are
     * held together until each is recorded and released. */
    tether_event *evs[8];
    int total = 0;
    int n = tether_next_events(w->ctx, ms, evs, sizeof evs / sizeof *evs);
    while (n > 0) {
        for (int i = 0; i < n; i++) {
            w->keep = 0;
            lu_record(w, evs[i]);
            if (w->keep) {
                assert_true(w->nheld < LU_MAX_HELD);
                w->held[w->nheld++] = evs[i];
            } else {
                tether_event_release(evs[i]);
            }
        }
        total += n;
        if (total >= 1000) return; /* a flood of events: back to the test anyway */
        n = tether_next_events(w->ctx, 0, evs, sizeof evs / sizeof *evs);
    }
    if (n < 0) fail_msg("tether_next_events: %s", tether_strerror(n));
}

#define UNTIL(w, ms, expr)                                                                         \
    do {                                                                                           \
        uint64_t end_ = lu_now_ms() + (uint64_t)(ms);                                              \
        while (!(expr)) {                                                                          \
            if (lu_now_ms() >= end_)                                                               \
                fail_msg("%s:%d: timed out waiting for %s", __FILE__, __LINE__, #expr);            \
            w_step((w), 20);                                                                       \
        }                                                                                          \
    } while (0)

/* Runs the world for ms milliseconds whatever happens. */
static inline void w_pump(world *w, int ms) {
    uint64_t end = lu_now_ms() + (uint64_t)ms;
    for (uint64_t now = lu_now_ms(); now < end; now = lu_now_ms())
        w_step(w, (int)(end - now));
}

static inline void w_init(world *w, int mode) {
    memset(w, 0, sizeof *w);
    alarm(30); /* backstop: a hung test dies instead of hanging ctest */
    w->mode = mode;
    w->ctx = tether_ctx_new();
    assert_non_null(w->ctx);
    w->sides = calloc(LU_MAX_SIDES, sizeof *w->sides);
    assert_non_null(w->sides);
    if (mode == MODE_CB) assert_int_equal(tether_ctx_set_callback(w->ctx, lu_cb, w), 0);
}

static inline void w_listen(world *w, const char *host, const tether_opts *o) {
    assert_int_equal(tether_listen(w->ctx, host, 0, o, &w->l), 0);
    w->port = tether_listener_port(w->l);
    assert_true(w->port > 0);
}

static inline side *w_connect_url(world *w, const char *url, const tether_opts *o) {
    side *s = lu_side_new(w, 0);
    int rc = tether_connect(w->ctx, url, o, &s->c);
    if (rc) fail_msg("tether_connect %s: %s", url, tether_strerror(rc));
    s->id = tether_conn_id(s->c);
    tether_conn_set_user(s->c, s);
    return s;
}

static inline side *w_connect_port(world *w, int port, const char *path, const tether_opts *o) {
    char url[256];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port, path ? path : "/");
    return w_connect_url(w, url, o);
}

static inline side *w_connect(world *w, const char *path, const tether_opts *o) {
    return w_connect_port(w, w->port, path, o);
}

/* The server side of the n-th accepted connection (in REQUEST order). */
static inline side *w_server(world *w, int n) {
    for (size_t i = 0; i < w->nsides; i++)
        if (w->sides[i].server && n-- == 0) return &w->sides[i];
    return NULL;
}

static inline void w_free(world *w) {
    for (int i = 0; i < w->nheld; i++)
        tether_event_release(w->held[i]);
    if (lu_timer_world == w) lu_timer_world = NULL;
    tether_ctx_free(w->ctx);
    for (size_t i = 0; i < w->nsides; i++) {
        free(w->sides[i].last);
        free(w->sides[i].acc);
    }
    free(w->sides);
    alarm(0);
}

/* ---- raw TCP peers (blocking, with timeouts) ----------------------------- */

static inline void raw_timeouts(int fd, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static inline int raw_listen(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    raw_timeouts(fd, 5000); /* accept() too */
    return fd;
}

static inline int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    raw_timeouts(fd, 5000);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline int raw_write(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A reader of frames from a raw socket, parsed for `role` (the reader's). */
typedef struct raw_rd {
    int fd;
    tether_parser *p;
    uint8_t buf[65536];
    size_t off, len;
} raw_rd;

typedef struct raw_frame {
    int op, fin, code; /* code: close frames */
    uint64_t total;    /* payload length */
    uint8_t data[256]; /* the first bytes of the payload */
    size_t len;
} raw_frame;

static inline void raw_rd_init(raw_rd *r, int fd, tether_role role) {
    r->fd = fd;
    r->p = tether_parser_new(role);
    assert_non_null(r->p);
    tether_parser_set_max_frame(r->p, UINT64_MAX >> 1);
    r->off = r->len = 0;
}

/* Bytes already read (after a handshake) go first. */
static inline void raw_rd_feed(raw_rd *r, const uint8_t *b, size_t n) {
    assert_true(r->len + n <= sizeof r->buf);
    memcpy(r->buf + r->len, b, n);
    r->len += n;
}

/* The next whole frame: 0, or -1 at EOF / timeout / a parse error. */
static inline int raw_next_frame(raw_rd *r, raw_frame *f) {
    memset(f, 0, sizeof *f);
    for (;;) {
        size_t used = 0, dl = 0;
        const uint8_t *d = NULL;
        int pe = tether_parser_next(r->p, r->buf + r->off, r->len - r->off, &used, &d, &dl);
        r->off += used;
        if (pe < 0) return -1;
        if (pe == TETHER_PARSE_FRAME_START) {
            f->op = tether_parser_opcode(r->p);
            f->fin = tether_parser_fin(r->p);
        } else if (pe == TETHER_PARSE_PAYLOAD) {
            size_t k = dl < sizeof f->data - f->len ? dl : sizeof f->data - f->len;
            memcpy(f->data + f->len, d, k);
            f->len += k;
            f->total += dl;
        } else if (pe == TETHER_PARSE_FRAME_END) {
            if (f->op == TETHER_OP_CLOSE) f->code = tether_parser_close_code(r->p);
            return 0;
        } else {
            memmove(r->buf, r->buf + r->off, r->len - r->off);
            r->len -= r->off;
            r->off = 0;
            ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return -1;
            r->len += (size_t)n;
        }
    }
}

static inline void raw_rd_free(raw_rd *r) {
    tether_parser_free(r->p);
    r->p = NULL;
}

/* Whether the peer closed (EOF or reset) within ms, discarding data. */
static inline int raw_wait_eof(int fd, int ms) {
    raw_timeouts(fd, ms);
    uint8_t b[4096];
    for (;;) {
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return 1;
        if (n < 0) return 0; /* timeout */
    }
}

/* Client handshake by hand; bytes after the response go to r. 0 or -1. */
static inline int raw_client_handshake(int fd, int port, const char *path, raw_rd *r) {
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    tether_client_hs *h = tether_client_hs_new(host, path);
    const char *req;
    size_t req_len;
    int ok = -1;
    if (!h || tether_client_hs_request(h, &req, &req_len) || raw_write(fd, req, req_len)) goto out;
    for (;;) {
        uint8_t b[4096];
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0) goto out;
        size_t used = 0;
        int rc = tether_client_hs_parse(h, b, (size_t)n, &used);
        if (rc == TETHER_E_AGAIN) continue;
        if (rc != 0) goto out;
        raw_rd_feed(r, b + used, (size_t)n - used);
        ok = 0;
        break;
    }
out:
    tether_client_hs_free(h);
    return ok;
}

/* Server handshake by hand on an accepted socket. 0 or -1. */
static inline int raw_server_handshake(int fd, raw_rd *r) {
    tether_server_hs *h = tether_server_hs_new();
    int ok = -1;
    if (!h) return -1;
    for (;;) {
        uint8_t b[4096];
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n <= 0) goto out;
        size_t used = 0;
        int rc = tether_server_hs_parse(h, b, (size_t)n, &used);
        if (rc == TETHER_E_AGAIN) continue;
        if (rc != 0) goto out;
        raw_rd_feed(r, b + used, (size_t)n - used);
        break;
    }
    const char *resp;
    size_t resp_len;
    if (tether_server_hs_accept(h, &resp, &resp_len) == 0 && raw_write(fd, resp, resp_len) == 0)
        ok = 0;
out:
    tether_server_hs_free(h);
    return ok;
}

#endif
