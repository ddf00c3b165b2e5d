/* The built-in loop: io readiness, callbacks that change other ios in the
 * same round, wake-ups and posted work from other threads, and the
 * foreign-loop contract (the loop fd turns readable). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tether.h"
#include "loop/loop.h"

typedef struct rec_io {
    tt_io io; /* first: the callback casts back */
    int calls;
    unsigned last;
    tt_loop *loop;
    struct rec_io *other; /* what the callback acts on, if anything */
    int other_fd;         /* the other's fd, to close after deleting it */
    int action;
} rec_io;

enum { ACT_NONE, ACT_DEL_FREE_OTHER, ACT_MOD_OTHER_SILENT, ACT_DEL_SELF, ACT_REUSE_FD };

static int g_calls;

static void rec_cb(tt_io *io, unsigned ready) {
    rec_io *r = (rec_io *)io;
    r->calls++;
    r->last = ready;
    g_calls++;
    if (r->action == ACT_DEL_FREE_OTHER && r->other) {
        tt_loop_del(r->loop, &r->other->io);
        free(r->other); /* freed inside the round: must never be touched again */
        r->other = NULL;
    } else if (r->action == ACT_MOD_OTHER_SILENT && r->other) {
        assert_int_equal(tt_loop_mod(r->loop, &r->other->io, 0), 0);
    } else if (r->action == ACT_DEL_SELF) {
        tt_loop_del(r->loop, io);
    }
}

static void sock_pair(int sv[2]) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void put_byte(int fd) {
    assert_int_equal(write(fd, "x", 1), 1);
}

static void test_pipe_readiness(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    assert_non_null(loop);
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    rec_io r = {.io = {.fd = p[0], .cb = rec_cb}};
    assert_int_equal(tt_loop_add(loop, &r.io, TT_IO_READ), 0);
    assert_int_equal(r.io.events, TT_IO_READ);
    assert_int_equal(tt_loop_poll(loop, 0), 0);
    assert_int_equal(r.calls, 0);
    put_byte(p[1]);
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.last, TT_IO_READ);
    /* Level-triggered: still readable until read. */
    assert_int_equal(tt_loop_poll(loop, 0), 1);
    /* Silent while registered with no events. */
    assert_int_equal(tt_loop_mod(loop, &r.io, 0), 0);
    assert_int_equal(tt_loop_poll(loop, 0), 0);
    assert_int_equal(tt_loop_mod(loop, &r.io, TT_IO_READ), 0);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(tt_loop_poll(loop, 0), 0);
    /* The write end: writable at once. */
    rec_io w = {.io = {.fd = p[1], .cb = rec_cb}};
    assert_int_equal(tt_loop_add(loop, &w.io, TT_IO_WRITE), 0);
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(w.last, TT_IO_WRITE);
    /* Adding twice is an error, not a silent success. */
    assert_true(tt_loop_add(loop, &w.io, TT_IO_WRITE) < 0);
    tt_loop_del(loop, &w.io);
    tt_loop_del(loop, &w.io); /* tolerated */
    assert_int_equal(tt_loop_poll(loop, 0), 0);
    tt_loop_del(loop, &r.io);
    close(p[0]);
    close(p[1]);
    tt_loop_free(loop);
}

static void test_socketpair_hangup(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    int sv[2];
    sock_pair(sv);
    rec_io r = {.io = {.fd = sv[0], .cb = rec_cb}};
    assert_int_equal(tt_loop_add(loop, &r.io, TT_IO_READ | TT_IO_WRITE), 0);
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(r.last, TT_IO_WRITE);
    assert_int_equal(tt_loop_mod(loop, &r.io, TT_IO_READ), 0);
    close(sv[1]);
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_true(r.last & TT_IO_READ); /* the read tells EOF */
    /* A silent io is not reported even though it is hung up, and the
     * loop fd does not stay readable because of it (no spinning). */
    assert_int_equal(tt_loop_mod(loop, &r.io, 0), 0);
    int before = r.calls;
    for (int i = 0; i < 3; i++)
        assert_int_equal(tt_loop_poll(loop, 0), 0);
    struct pollfd pfd = {.fd = tt_loop_fd(loop), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(r.calls, before);
    tt_loop_del(loop, &r.io);
    close(sv[0]);
    tt_loop_free(loop);
}

/* Two ios ready in the same round; whichever runs first deletes and frees
 * the other. Under ASan any late touch of the freed io is fatal. */
static void test_delete_other_in_round(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    int a[2], b[2];
    sock_pair(a);
    sock_pair(b);
    rec_io *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
    *x = (rec_io){.io = {.fd = a[0], .cb = rec_cb}, .loop = loop, .action = ACT_DEL_FREE_OTHER};
    *y = (rec_io){.io = {.fd = b[0], .cb = rec_cb}, .loop = loop, .action = ACT_DEL_FREE_OTHER};
    x->other = y;
    y->other = x;
    assert_int_equal(tt_loop_add(loop, &x->io, TT_IO_READ), 0);
    assert_int_equal(tt_loop_add(loop, &y->io, TT_IO_READ), 0);
    put_byte(a[1]);
    put_byte(b[1]);
    /* Both are ready before the poll, so both are in one batch. */
    struct pollfd pfd[2] = {{.fd = a[0], .events = POLLIN}, {.fd = b[0], .events = POLLIN}};
    assert_int_equal(poll(pfd, 2, 1000), 2);
    g_calls = 0;
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(g_calls, 1);
    rec_io *survivor = x->other == NULL ? x : y;
    assert_null(survivor->other);
    assert_int_equal(survivor->calls, 1);
    tt_loop_del(loop, &survivor->io);
    free(survivor);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    tt_loop_free(loop);
}

/* Modifying another ready io to watch nothing stops its delivery too. */
static void test_mod_other_in_round(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    int a[2], b[2];
    sock_pair(a);
    sock_pair(b);
    rec_io x = {.io = {.fd = a[0], .cb = rec_cb}, .loop = loop, .action = ACT_MOD_OTHER_SILENT};
    rec_io y = {.io = {.fd = b[0], .cb = rec_cb}, .loop = loop, .action = ACT_MOD_OTHER_SILENT};
    x.other = &y;
    y.other = &x;
    assert_int_equal(tt_loop_add(loop, &x.io, TT_IO_READ), 0);
    assert_int_equal(tt_loop_add(loop, &y.io, TT_IO_READ), 0);
    put_byte(a[1]);
    put_byte(b[1]);
    struct pollfd pfd[2] = {{.fd = a[0], .events = POLLIN}, {.fd = b[0], .events = POLLIN}};
    assert_int_equal(poll(pfd, 2, 1000), 2);
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(x.calls + y.calls, 1);
    tt_loop_del(loop, &x.io);
    tt_loop_del(loop, &y.io);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    tt_loop_free(loop);
}

/* Closing a deleted io's fd and registering a new io on the same fd number
 * inside the round: the stale readiness must not reach the new io. */
typedef struct reuse_io {
    rec_io base;
    rec_io *victim;
    rec_io *fresh;
    int victim_peer;
} reuse_io;

static void reuse_cb(tt_io *io, unsigned ready) {
    reuse_io *r = (reuse_io *)io;
    (void)ready;
    r->base.calls++;
    if (!r->victim) return;
    int fd = r->victim->io.fd;
    tt_loop_del(r->base.loop, &r->victim->io);
    free(r->victim);
    r->victim = NULL;
    close(fd);
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    /* Make the new io land on the old number, whatever pipe2 returned. */
    if (p[0] != fd) {
        assert_int_equal(dup3(p[0], fd, O_CLOEXEC), fd);
        close(p[0]);
    }
    r->fresh = calloc(1, sizeof *r->fresh);
    r->fresh->io = (tt_io){.fd = fd, .cb = rec_cb};
    assert_int_equal(tt_loop_add(r->base.loop, &r->fresh->io, TT_IO_READ), 0);
    r->victim_peer = p[1]; /* nothing written: the fresh io is not ready */
}

static void test_fd_reuse_in_round(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    int a[2], b[2];
    sock_pair(a);
    sock_pair(b);
    reuse_io *x = calloc(1, sizeof *x), *y = calloc(1, sizeof *y);
    x->base = (rec_io){.io = {.fd = a[0], .cb = reuse_cb}, .loop = loop};
    y->base = (rec_io){.io = {.fd = b[0], .cb = reuse_cb}, .loop = loop};
    x->victim = &y->base;
    y->victim = &x->base;
    assert_int_equal(tt_loop_add(loop, &x->base.io, TT_IO_READ), 0);
    assert_int_equal(tt_loop_add(loop, &y->base.io, TT_IO_READ), 0);
    put_byte(a[1]);
    put_byte(b[1]);
    struct pollfd pfd[2] = {{.fd = a[0], .events = POLLIN}, {.fd = b[0], .events = POLLIN}};
    assert_int_equal(poll(pfd, 2, 1000), 2);
    g_calls = 0;
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(g_calls, 0); /* the fresh io got nothing */
    reuse_io *survivor = x->victim == NULL ? x : y;
    assert_non_null(survivor->fresh);
    assert_int_equal(survivor->fresh->calls, 0);
    assert_int_equal(tt_loop_poll(loop, 0), 1); /* survivor still readable */
    assert_int_equal(survivor->fresh->calls, 0);
    tt_loop_del(loop, &survivor->fresh->io);
    close(survivor->fresh->io.fd);
    close(survivor->victim_peer);
    free(survivor->fresh);
    tt_loop_del(loop, &survivor->base.io);
    close(survivor->base.io.fd);
    free(survivor);
    close(a[1]);
    close(b[1]);
    tt_loop_free(loop);
}

static void test_delete_self(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    int sv[2];
    sock_pair(sv);
    rec_io r = {.io = {.fd = sv[0], .cb = rec_cb}, .loop = loop, .action = ACT_DEL_SELF};
    assert_int_equal(tt_loop_add(loop, &r.io, TT_IO_READ), 0);
    put_byte(sv[1]);
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(tt_loop_poll(loop, 0), 0);
    assert_int_equal(r.calls, 1);
    close(sv[0]);
    close(sv[1]);
    tt_loop_free(loop);
}

static void *wake_later(void *arg) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(tt_loop_wake(arg), 0);
    return NULL;
}

static void test_wake_from_thread(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    assert_int_equal(tt_loop_take_wake(loop), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wake_later, loop), 0);
    uint64_t t0 = tt_now_ms();
    while (!tt_loop_take_wake(loop)) {
        assert_true(tt_loop_poll(loop, -1) >= 0); /* the wake must end this */
        assert_true(tt_now_ms() - t0 < 10000);
    }
    pthread_join(th, NULL);
    assert_int_equal(tt_loop_take_wake(loop), 0);
    /* The eventfd was drained: the loop fd is quiet again. */
    struct pollfd pfd = {.fd = tt_loop_fd(loop), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    tt_loop_free(loop);
}

#define POSTERS 4
#define JOBS 1000

typedef struct post_state {
    int last_seq[POSTERS];
    int total;
    int out_of_order;
} post_state;

static post_state g_post;

typedef struct poster {
    tt_loop *loop;
    int id;
} poster;

static void post_job(void *arg) {
    uintptr_t v = (uintptr_t)arg;
    int id = (int)(v / (JOBS + 1));
    int seq = (int)(v % (JOBS + 1));
    if (seq != g_post.last_seq[id] + 1) g_post.out_of_order++;
    g_post.last_seq[id] = seq;
    g_post.total++;
}

static void *post_many(void *arg) {
    poster *p = arg;
    for (int seq = 1; seq <= JOBS; seq++) {
        uintptr_t v = (uintptr_t)p->id * (JOBS + 1) + (uintptr_t)seq;
        if (tt_loop_post(p->loop, post_job, (void *)v) != 0) abort();
    }
    return NULL;
}

static void test_posts_from_threads(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    memset(&g_post, 0, sizeof g_post);
    pthread_t th[POSTERS];
    poster ps[POSTERS];
    for (int i = 0; i < POSTERS; i++) {
        ps[i] = (poster){.loop = loop, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, post_many, &ps[i]), 0);
    }
    uint64_t t0 = tt_now_ms();
    while (g_post.total < POSTERS * JOBS && tt_now_ms() - t0 < 10000)
        assert_true(tt_loop_poll(loop, 100) >= 0);
    for (int i = 0; i < POSTERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(g_post.total, POSTERS * JOBS);
    assert_int_equal(g_post.out_of_order, 0);
    for (int i = 0; i < POSTERS; i++)
        assert_int_equal(g_post.last_seq[i], JOBS);
    assert_int_equal(tt_loop_take_wake(loop), 0); /* posting is not a user wake */
    tt_loop_free(loop);
}

typedef struct counter {
    int runs;
    tt_loop *loop;
    int repost;
} counter;

static void count_job(void *arg) {
    counter *c = arg;
    c->runs++;
    if (c->repost > 0) {
        c->repost--;
        assert_int_equal(tt_loop_post(c->loop, count_job, c), 0);
    }
}

/* A job posted from a job runs in a later round, and the loop does not
 * block waiting for it. */
static void test_post_from_job(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    counter c = {.loop = loop, .repost = 1};
    assert_int_equal(tt_loop_post(loop, count_job, &c), 0);
    assert_int_equal(tt_loop_poll(loop, 1000), 1);
    assert_int_equal(c.runs, 1);
    uint64_t t0 = tt_now_ms();
    assert_int_equal(tt_loop_poll(loop, 5000), 1);
    assert_true(tt_now_ms() - t0 < 1000);
    assert_int_equal(c.runs, 2);
    tt_loop_free(loop);
}

static void test_free_runs_pending_posts(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    counter c = {.loop = loop, .repost = 2};
    counter d = {0};
    assert_int_equal(tt_loop_post(loop, count_job, &c), 0);
    assert_int_equal(tt_loop_post(loop, count_job, &d), 0);
    assert_int_equal(tt_loop_post(loop, count_job, &d), 0);
    tt_loop_free(loop);
    assert_int_equal(c.runs, 3); /* including what the leftovers posted */
    assert_int_equal(d.runs, 2);
}

/* The foreign-loop contract: poll(2) on tt_loop_fd reports readable when a
 * watched fd is ready or a wake-up arrives, and quiet once serviced. */
static void test_loop_fd_readable(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    int sv[2];
    sock_pair(sv);
    rec_io r = {.io = {.fd = sv[0], .cb = rec_cb}};
    assert_int_equal(tt_loop_add(loop, &r.io, TT_IO_READ), 0);
    struct pollfd pfd = {.fd = tt_loop_fd(loop), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    put_byte(sv[1]);
    assert_int_equal(poll(&pfd, 1, 1000), 1);
    assert_true(pfd.revents & POLLIN);
    assert_int_equal(tt_loop_poll(loop, 0), 1);
    char c;
    assert_int_equal(read(sv[0], &c, 1), 1);
    assert_int_equal(poll(&pfd, 1, 0), 0);

    assert_int_equal(tt_loop_wake(loop), 0);
    assert_int_equal(poll(&pfd, 1, 1000), 1);
    assert_int_equal(tt_loop_poll(loop, 0), 0); /* a wake runs no callback */
    assert_int_equal(tt_loop_take_wake(loop), 1);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    tt_loop_del(loop, &r.io);
    close(sv[0]);
    close(sv[1]);
    tt_loop_free(loop);
}

static tt_loop *g_nested_loop;
static int g_nested_rc;

static void nested_job(void *arg) {
    (void)arg;
    g_nested_rc = tt_loop_poll(g_nested_loop, 0);
}

static void test_nested_poll_refused(void **state) {
    (void)state;
    g_nested_loop = tt_loop_new();
    assert_int_equal(tt_loop_post(g_nested_loop, nested_job, NULL), 0);
    assert_int_equal(tt_loop_poll(g_nested_loop, 1000), 1);
    assert_int_equal(g_nested_rc, TETHER_E_STATE);
    tt_loop_free(g_nested_loop);
}

static void test_bad_args(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    rec_io r = {.io = {.fd = -1, .cb = rec_cb}};
    assert_int_equal(tt_loop_add(loop, &r.io, TT_IO_READ), TETHER_E_INVAL);
    assert_int_equal(tt_loop_add(NULL, &r.io, TT_IO_READ), TETHER_E_INVAL);
    assert_int_equal(tt_loop_post(loop, NULL, NULL), TETHER_E_INVAL);
    assert_int_equal(tt_loop_poll(NULL, 0), TETHER_E_INVAL);
    assert_int_equal(tt_loop_fd(NULL), TETHER_E_INVAL);
    tt_loop_free(NULL);
    tt_loop_free(loop);
}

int main(void) {
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipe_readiness),
        cmocka_unit_test(test_socketpair_hangup),
        cmocka_unit_test(test_delete_other_in_round),
        cmocka_unit_test(test_mod_other_in_round),
        cmocka_unit_test(test_fd_reuse_in_round),
        cmocka_unit_test(test_delete_self),
        cmocka_unit_test(test_wake_from_thread),
        cmocka_unit_test(test_posts_from_threads),
        cmocka_unit_test(test_post_from_job),
        cmocka_unit_test(test_free_runs_pending_posts),
        cmocka_unit_test(test_loop_fd_readable),
        cmocka_unit_test(test_nested_poll_refused),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
