/* The thread-safe corner of the API: tether_ctx_post_send(),
 * tether_ctx_post_close(), tether_ctx_wake() and tether_ctx_stop() from
 * other threads (and stop from a signal handler) while the loop runs.
 * Meant to pass under -fsanitize=thread as well. */
#include "live_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define NTHREADS 4
#define PER_THREAD 1000

typedef struct order {
    int next[NTHREADS]; /* the next index expected from each thread */
    int bad, got;
} order;

/* Messages "t<thread>:<i>" must come in order per thread. */
static void order_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    if (tether_event_type_of(ev) != TETHER_EV_MESSAGE || !s->arg) return;
    order *o = s->arg;
    int t, i;
    char m[32];
    size_t len;
    const uint8_t *d = tether_event_data(ev, &len);
    assert_true(len < sizeof m);
    memcpy(m, d, len);
    m[len] = 0;
    if (sscanf(m, "t%d:%d", &t, &i) != 2 || t < 0 || t >= NTHREADS) {
        o->bad++;
        return;
    }
    if (o->next[t] != i) o->bad++;
    o->next[t] = i + 1;
    o->got++;
}

typedef struct poster {
    pthread_t th;
    int index;
    tether_ctx *ctx;
    uint64_t id;
    atomic_int *start;
    int fails;
} poster;

static void *poster_main(void *arg) {
    poster *p = arg;
    while (!atomic_load(p->start))
        usleep(100);
    for (int i = 0; i < PER_THREAD; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "t%d:%d", p->index, i);
        if (tether_ctx_post_send(p->ctx, p->id, TETHER_OP_TEXT, m, (size_t)n) != 0) p->fails++;
        if (i % 100 == 0) sched_yield();
    }
    return NULL;
}

static void open_pair(world *w, side **cl, side **sv) {
    side *c = w_connect(w, "/", NULL);
    int n = 0;
    for (size_t i = 0; i < w->nsides; i++)
        n += w->sides[i].server;
    UNTIL(w, 3000, c->open && w_server(w, n) && w_server(w, n)->open);
    *cl = c;
    *sv = w_server(w, n);
}

static void test_post_send(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.hook = order_hook;
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s);
    order to_server, to_client;
    memset(&to_server, 0, sizeof to_server);
    memset(&to_client, 0, sizeof to_client);
    s->arg = &to_server;
    c->arg = &to_client;
    atomic_int start;
    atomic_init(&start, 0);
    poster p[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        p[i].index = i;
        p[i].ctx = w.ctx;
        p[i].id = i % 2 ? s->id : c->id; /* two threads each way */
        p[i].start = &start;
        p[i].fails = 0;
        assert_int_equal(pthread_create(&p[i].th, NULL, poster_main, &p[i]), 0);
    }
    atomic_store(&start, 1);
    UNTIL(&w, 15000, to_server.got + to_client.got == NTHREADS * PER_THREAD);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(p[i].th, NULL);
        assert_int_equal(p[i].fails, 0);
    }
    assert_int_equal(to_server.bad, 0);
    assert_int_equal(to_client.bad, 0);
    assert_int_equal(to_server.got, 2 * PER_THREAD);
    assert_int_equal(to_client.got, 2 * PER_THREAD);
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal((t % 2 ? to_client.next[t] : to_server.next[t]), PER_THREAD);
    assert_int_equal(w.stray, 0);
    w_free(&w);
}

/* ---- close from another thread, and posts to a connection that is gone ---- */

typedef struct closer {
    tether_ctx *ctx;
    uint64_t id;
    int rc;
} closer;

static void *closer_main(void *arg) {
    closer *k = arg;
    k->rc = tether_ctx_post_close(k->ctx, k->id, 4001, "from thread");
    return NULL;
}

static void *ghost_main(void *arg) {
    closer *k = arg;
    for (int i = 0; i < 200; i++) {
        k->rc |= tether_ctx_post_send(k->ctx, k->id, TETHER_OP_BINARY, "boo", 3);
        k->rc |= tether_ctx_post_close(k->ctx, k->id, 1000, NULL);
        k->rc |= tether_ctx_post_send(k->ctx, k->id ^ 0xffffffff00000000u, TETHER_OP_TEXT, "x", 1);
    }
    k->rc |= tether_ctx_post_send(k->ctx, 0, TETHER_OP_TEXT, "zero", 4);
    k->rc |= tether_ctx_post_send(k->ctx, UINT64_MAX, TETHER_OP_TEXT, "max", 3);
    return NULL;
}

static void test_post_close(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s);
    closer k = {w.ctx, c->id, -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, closer_main, &k), 0);
    UNTIL(&w, 3000, c->closed && s->closed);
    pthread_join(th, NULL);
    assert_int_equal(k.rc, 0);
    assert_int_equal(s->code, 4001);
    assert_string_equal(s->reason, "from thread");
    assert_int_equal(s->clean, 1);
    assert_int_equal(c->clean, 1);
    w_pump(&w, 50); /* both connections freed */

    /* posts to the dead ids, and to ids that never were: harmless */
    side *c2, *s2;
    open_pair(&w, &c2, &s2);
    closer g1 = {w.ctx, c->id, 0}, g2 = {w.ctx, s->id, 0};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, ghost_main, &g1), 0);
    assert_int_equal(pthread_create(&t2, NULL, ghost_main, &g2), 0);
    w_pump(&w, 200);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    w_pump(&w, 50);
    assert_int_equal(g1.rc, 0);
    assert_int_equal(g2.rc, 0);
    assert_int_equal(c2->msgs + s2->msgs, 0);
    assert_int_equal(c2->closed + s2->closed, 0);
    /* argument checks */
    assert_int_equal(tether_ctx_post_send(NULL, 1, TETHER_OP_TEXT, "x", 1), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_post_send(w.ctx, 1, TETHER_OP_PING, "x", 1), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_post_send(w.ctx, 1, TETHER_OP_TEXT, NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_ctx_post_close(NULL, 1, 1000, NULL), TETHER_E_INVAL);
    /* posted work never run (the context is freed first) is not leaked */
    for (int i = 0; i < 10; i++)
        assert_int_equal(tether_ctx_post_send(w.ctx, c2->id, TETHER_OP_TEXT, "late", 4), 0);
    assert_int_equal(tether_ctx_post_close(w.ctx, c2->id, 1000, "late"), 0);
    assert_int_equal(w.stray, 0);
    w_free(&w);
}

/* Posting while the connection is closing and going away on the loop. */
typedef struct flood {
    tether_ctx *ctx;
    uint64_t id;
    atomic_int stop;
    int rc;
} flood;

static void *flood_main(void *arg) {
    flood *f = arg;
    for (int i = 1; !atomic_load(&f->stop); i++) {
        f->rc |= tether_ctx_post_send(f->ctx, f->id, TETHER_OP_TEXT, "flood", 5);
        if (i % 64 == 0) usleep(1000); /* a steady stream, not an unbounded backlog */
    }
    return NULL;
}

static void test_post_during_close(void **state) {
    world w;
    w_init(&w, MODE(state));
    w_listen(&w, "127.0.0.1", NULL);
    side *c, *s;
    open_pair(&w, &c, &s);
    flood f;
    f.ctx = w.ctx;
    f.id = c->id;
    f.rc = 0;
    atomic_init(&f.stop, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flood_main, &f), 0);
    UNTIL(&w, 3000, s->msgs > 10);
    assert_int_equal(tether_conn_close(c->c, 1000, NULL), 0);
    UNTIL(&w, 3000, c->closed && s->closed);
    w_pump(&w, 50);
    atomic_store(&f.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(f.rc, 0);
    assert_int_equal(w.stray, 0);
    w_free(&w);
}

/* ---- wake and stop ------------------------------------------------------------ */

typedef struct later {
    tether_ctx *ctx;
    int ms;
    int what; /* 0 wake, 1 stop, 2 signal the main thread */
    pthread_t target;
} later;

static void *later_main(void *arg) {
    later *l = arg;
    usleep((useconds_t)l->ms * 1000);
    if (l->what == 0)
        tether_ctx_wake(l->ctx);
    else if (l->what == 1)
        tether_ctx_stop(l->ctx);
    else
        pthread_kill(l->target, SIGUSR1);
    return NULL;
}

static void test_wake_unblocks_next_event(void **state) {
    (void)state;
    alarm(10);
    tether_ctx *ctx = tether_ctx_new();
    later l = {ctx, 100, 0, pthread_self()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, later_main, &l), 0);
    uint64_t t0 = lu_now_ms();
    tether_event *ev;
    assert_int_equal(tether_next_event(ctx, -1, &ev), 0);
    assert_true(lu_now_ms() - t0 >= 80);
    assert_int_equal(tether_event_type_of(ev), TETHER_EV_WAKE);
    assert_null(tether_event_conn(ev));
    tether_event_release(ev);
    pthread_join(th, NULL);
    /* stop from a thread: a blocked wait returns TETHER_E_AGAIN */
    l.what = 1;
    assert_int_equal(pthread_create(&th, NULL, later_main, &l), 0);
    assert_int_equal(tether_next_event(ctx, -1, &ev), TETHER_E_AGAIN);
    assert_null(ev);
    pthread_join(th, NULL);
    tether_ctx_free(ctx);
    alarm(0);
}

static int wakes;
static void count_cb(tether_ctx *ctx, tether_event *ev, void *user) {
    (void)ctx;
    (void)user;
    if (tether_event_type_of(ev) == TETHER_EV_WAKE) wakes++;
}

static tether_ctx *signal_ctx;
static void on_sigusr1(int sig) {
    (void)sig;
    tether_ctx_stop(signal_ctx);
}

static void test_stop_run(void **state) {
    (void)state;
    alarm(10);
    tether_ctx *ctx = tether_ctx_new();
    assert_int_equal(tether_ctx_set_callback(ctx, count_cb, NULL), 0);
    tether_event *ev;
    assert_int_equal(tether_next_event(ctx, 0, &ev), TETHER_E_STATE); /* callback mode */

    /* from another thread */
    later l = {ctx, 100, 1, pthread_self()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, later_main, &l), 0);
    uint64_t t0 = lu_now_ms();
    assert_int_equal(tether_ctx_run(ctx), 0);
    assert_true(lu_now_ms() - t0 >= 80);
    pthread_join(th, NULL);

    /* a wake from another thread is a WAKE event in callback mode too */
    wakes = 0;
    l.what = 0;
    assert_int_equal(pthread_create(&th, NULL, later_main, &l), 0);
    pthread_join(th, NULL);
    tether_ctx_stop(ctx); /* requested before run: run returns at once... */
    assert_int_equal(tether_ctx_run(ctx), 0);
    tether_ctx_service(ctx, 0); /* ...and the wake comes on the next round */
    assert_int_equal(wakes, 1);

    /* from a signal handler */
    signal_ctx = ctx;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    l.what = 2;
    l.target = pthread_self();
    assert_int_equal(pthread_create(&th, NULL, later_main, &l), 0);
    t0 = lu_now_ms();
    assert_int_equal(tether_ctx_run(ctx), 0);
    assert_true(lu_now_ms() - t0 >= 80);
    pthread_join(th, NULL);
    signal(SIGUSR1, SIG_DFL);
    tether_ctx_free(ctx);
    alarm(0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        BOTH(test_post_send),
        BOTH(test_post_close),
        BOTH(test_post_during_close),
        cmocka_unit_test(test_wake_unblocks_next_event),
        cmocka_unit_test(test_stop_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
