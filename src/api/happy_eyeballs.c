/* Happy eyeballs (RFC 8305): a client connects to every address a name
 * resolved to, IPv6 and IPv4 interleaved, starting a new attempt every
 * TT_RACE_STAGGER_MS while the earlier ones are pending, or at once when
 * one fails; the first to connect wins and the others are closed. A name
 * whose first address is a black hole thus costs 250 ms, not the connect
 * timeout, which (the connection's own deadline) still covers the whole. */
#include "api/api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RFC 8305 section 5 recommends 250 ms between attempts. */
#define TT_RACE_STAGGER_MS 250u

typedef struct tt_attempt {
    tt_io io; /* first: the loop hands back &io */
    tt_race *race;
    const struct addrinfo *ai;
} tt_attempt;

struct tt_race {
    tether_conn *c;
    tt_race_done done;
    tt_timer stagger;
    const struct addrinfo **order;
    tt_attempt *att; /* one per address in order; io.fd -1 unless pending */
    size_t n, started, live;
    int os_error;
    char why[160];
};

/* Interleaves the families, keeping each family's own order (RFC 8305
 * section 4): the first address's family, then the other, and so on. */
static size_t tt_race_order(const struct addrinfo *res, const struct addrinfo **out, size_t cap) {
    size_t n = 0;
    int first = res ? res->ai_family : 0;
    const struct addrinfo *a = res, *b = res; /* next of the first family / of others */
    while (n < cap) {
        while (a && a->ai_family != first)
            a = a->ai_next;
        while (b && b->ai_family == first)
            b = b->ai_next;
        if (!a && !b) break;
        if (a) out[n++] = a, a = a->ai_next;
        if (b && n < cap) out[n++] = b, b = b->ai_next;
    }
    return n;
}

/* "connection refused (127.0.0.1:1)": the OS's reason, with the address. */
static void tt_race_note(tt_race *r, const struct addrinfo *ai, int err) {
    char addr[64];
    tt_sock_addr_text(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr);
    r->os_error = err;
    int n = snprintf(r->why, sizeof r->why, "%s (%s)", strerror(err), addr);
    if (n > 0) r->why[0] = (char)tolower((unsigned char)r->why[0]);
}

static void tt_attempt_close(tt_race *r, tt_attempt *a) {
    if (a->io.fd < 0) return;
    tt_loop_del(r->c->ctx->loop, &a->io);
    close(a->io.fd);
    a->io.fd = -1;
    r->live--;
}

/* Every attempt failed and none is left: tell the role (last, since the
 * role may free r). */
static void tt_race_lost(tt_race *r) {
    tt_timer_stop(r->c->ctx->loop, &r->stagger);
    errno = r->os_error;
    r->done(r->c, -1, r->why[0] ? r->why : NULL);
}

/* Starts attempts until one is pending or none is left. 1 if one is. */
static int tt_race_start_next(tt_race *r) {
    while (r->started < r->n) {
        tt_attempt *a = &r->att[r->started++];
        int fd = tt_sock_connect(a->ai->ai_addr, a->ai->ai_addrlen);
        if (fd < 0) {
            tt_race_note(r, a->ai, errno);
            continue;
        }
        a->io.fd = fd;
        if (tt_loop_add(r->c->ctx->loop, &a->io, TT_IO_WRITE) != 0) {
            tt_race_note(r, a->ai, errno ? errno : ENOMEM);
            close(fd);
            a->io.fd = -1;
            continue;
        }
        r->live++;
        if (r->started < r->n) tt_timer_start(r->c->ctx->loop, &r->stagger, TT_RACE_STAGGER_MS);
        return 1;
    }
    return r->live > 0;
}

static void tt_race_won(tt_race *r, tt_attempt *win) {
    int fd = win->io.fd;
    tt_loop_del(r->c->ctx->loop, &win->io);
    win->io.fd = -1;
    r->live--;
    for (size_t i = 0; i < r->started; i++)
        tt_attempt_close(r, &r->att[i]);
    tt_timer_stop(r->c->ctx->loop, &r->stagger);
    r->done(r->c, fd, NULL);
}

static void tt_attempt_cb(tt_io *io, unsigned ready) {
    tt_attempt *a = (tt_attempt *)io;
    tt_race *r = a->race;
    (void)ready;
    int rc = tt_sock_connect_result(io->fd);
    if (rc == TETHER_E_AGAIN) return;
    if (rc == 0) {
        tt_race_won(r, a);
        return;
    }
    tt_race_note(r, a->ai, errno);
    tt_attempt_close(r, a);
    /* a failure starts the next attempt at once, without the stagger */
    if (!tt_race_start_next(r)) tt_race_lost(r);
}

static void tt_race_stagger_cb(tt_timer *t) {
    tt_race *r = (tt_race *)((char *)t - offsetof(tt_race, stagger));
    r->c->ctx->now = tt_now_ms();
    if (!tt_race_start_next(r)) tt_race_lost(r);
}

int tt_race_start(tether_conn *c, const struct addrinfo *res, tt_race_done done, tt_race **out,
                  char *why, size_t cap_why) {
    size_t cap = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        cap++;
    tt_race *r = calloc(1, sizeof *r);
    if (!r || !(r->order = calloc(cap ? cap : 1, sizeof *r->order)) ||
        !(r->att = calloc(cap ? cap : 1, sizeof *r->att))) {
        tt_race_free(r);
        return TETHER_E_NOMEM;
    }
    r->c = c;
    r->done = done;
    tt_timer_init(&r->stagger, tt_race_stagger_cb);
    r->n = tt_race_order(res, r->order, cap);
    for (size_t i = 0; i < r->n; i++)
        r->att[i] =
            (tt_attempt){.io = {.fd = -1, .cb = tt_attempt_cb}, .race = r, .ai = r->order[i]};
    *out = r;
    if (r->n && tt_race_start_next(r)) return 0;
    *out = NULL;
    errno = r->os_error;
    int rc = r->os_error == ENOMEM ? TETHER_E_NOMEM : TETHER_E_CONNECT;
    snprintf(why, cap_why, "%s", r->why);
    tt_race_free(r);
    return rc;
}

void tt_race_free(tt_race *r) {
    if (!r) return;
    if (r->att) {
        for (size_t i = 0; i < r->started; i++)
            tt_attempt_close(r, &r->att[i]);
        tt_timer_stop(r->c->ctx->loop, &r->stagger);
    }
    free(r->att);
    free(r->order);
    free(r);
}
