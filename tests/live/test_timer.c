/* Timers of the built-in loop: order, re-arm and stop, a large heap, the
 * next-timeout the foreign-loop interface reports, and callbacks that
 * change timers while timers are firing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tether.h"
#include "loop/loop_int.h"

#define MAX_FIRED 16

/* A timer that records into a shared log when it fires. */
typedef struct rec_timer {
    tt_timer t; /* first: the callback casts back */
    int id;
    int fires;
    struct fire_log *log;
} rec_timer;

typedef struct fire_log {
    int order[MAX_FIRED];
    int n;
} fire_log;

static void rec_cb(tt_timer *t) {
    rec_timer *r = (rec_timer *)t;
    r->fires++;
    if (r->log && r->log->n < MAX_FIRED) r->log->order[r->log->n++] = r->id;
}

/* Polls until *count reaches want or ms pass; returns the final count. */
static int poll_until(tt_loop *loop, const int *count, int want, int ms) {
    uint64_t end = tt_now_ms() + (uint64_t)ms;
    while (*count < want && tt_now_ms() < end)
        assert_true(tt_loop_poll(loop, 50) >= 0);
    return *count;
}

static void test_fire_in_order(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    assert_non_null(loop);
    fire_log log = {0};
    rec_timer r[3];
    const uint64_t ms[3] = {30, 10, 20};
    uint64_t start = tt_now_ms(); /* before arming: deadlines are >= start + ms */
    for (int i = 0; i < 3; i++) {
        tt_timer_init(&r[i].t, rec_cb);
        r[i].id = i;
        r[i].fires = 0;
        r[i].log = &log;
        assert_false(tt_timer_armed(&r[i].t));
        assert_int_equal(tt_timer_start(loop, &r[i].t, ms[i]), 0);
        assert_true(tt_timer_armed(&r[i].t));
    }
    assert_int_equal(poll_until(loop, &log.n, 3, 2000), 3);
    assert_true(tt_now_ms() - start >= 30);
    assert_int_equal(log.order[0], 1);
    assert_int_equal(log.order[1], 2);
    assert_int_equal(log.order[2], 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].fires, 1);
        assert_false(tt_timer_armed(&r[i].t));
    }
    tt_loop_free(loop);
}

/* Equal deadlines fire in the order they were armed. */
static void test_equal_deadlines_fifo(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    fire_log log = {0};
    rec_timer r[8];
    for (int i = 0; i < 8; i++) {
        tt_timer_init(&r[i].t, rec_cb);
        r[i].id = i;
        r[i].fires = 0;
        r[i].log = &log;
    }
    /* Arm in a scrambled order, then force one shared deadline. */
    const int arm[8] = {5, 2, 7, 0, 3, 6, 1, 4};
    for (int i = 0; i < 8; i++)
        assert_int_equal(tt_timer_start(loop, &r[arm[i]].t, 0), 0);
    uint64_t d = r[arm[7]].t.deadline;
    for (int i = 0; i < 8; i++)
        r[i].t.deadline = d; /* same ms tick */
    assert_int_equal(poll_until(loop, &log.n, 8, 2000), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(log.order[i], arm[i]);
    tt_loop_free(loop);
}

static void test_rearm_and_stop(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    fire_log log = {0};
    rec_timer a = {.id = 1, .log = &log}, b = {.id = 2, .log = &log};
    tt_timer_init(&a.t, rec_cb);
    tt_timer_init(&b.t, rec_cb);

    /* Stop before due: never fires. Stopping twice is harmless. */
    assert_int_equal(tt_timer_start(loop, &a.t, 10), 0);
    tt_timer_stop(loop, &a.t);
    tt_timer_stop(loop, &a.t);
    assert_false(tt_timer_armed(&a.t));
    assert_int_equal(tt_loop_next_timeout(loop), -1);

    /* Re-arm later then sooner: fires once, at the sooner time. */
    assert_int_equal(tt_timer_start(loop, &a.t, 5000), 0);
    assert_int_equal(tt_timer_start(loop, &a.t, 5), 0);
    assert_int_equal(tt_timer_start(loop, &b.t, 40), 0);
    assert_int_equal(poll_until(loop, &log.n, 1, 2000), 1);
    assert_int_equal(log.order[0], 1);
    /* Re-arm sooner-then-later pushes b back. */
    uint64_t t0 = tt_now_ms();
    assert_int_equal(tt_timer_start(loop, &b.t, 60), 0);
    assert_int_equal(poll_until(loop, &log.n, 2, 2000), 2);
    assert_true(tt_now_ms() - t0 >= 60);
    assert_int_equal(a.fires, 1);
    assert_int_equal(b.fires, 1);

    /* Re-arm after firing works like a fresh start. */
    assert_int_equal(tt_timer_start(loop, &a.t, 0), 0);
    assert_int_equal(poll_until(loop, &log.n, 3, 2000), 3);
    assert_int_equal(a.fires, 2);
    tt_loop_free(loop);
}

static void test_next_timeout(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    rec_timer a = {.id = 1}, b = {.id = 2};
    tt_timer_init(&a.t, rec_cb);
    tt_timer_init(&b.t, rec_cb);
    assert_int_equal(tt_loop_next_timeout(loop), -1);
    assert_int_equal(tt_timer_start(loop, &a.t, 1000), 0);
    int n = tt_loop_next_timeout(loop);
    assert_true(n > 900 && n <= 1000);
    assert_int_equal(tt_timer_start(loop, &b.t, 0), 0);
    assert_int_equal(tt_loop_next_timeout(loop), 0);
    tt_timer_stop(loop, &b.t);
    n = tt_loop_next_timeout(loop);
    assert_true(n > 900 && n <= 1000);
    /* Far deadlines are clamped, not wrapped negative. */
    assert_int_equal(tt_timer_start(loop, &a.t, UINT64_MAX), 0);
    assert_true(tt_loop_next_timeout(loop) > 0);
    tt_timer_stop(loop, &a.t);
    assert_int_equal(tt_loop_next_timeout(loop), -1);
    tt_loop_free(loop);
}

/* tt_loop_poll(-1) must return when a timer is due instead of blocking. */
static void test_poll_capped_by_timer(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    rec_timer a = {.id = 1};
    tt_timer_init(&a.t, rec_cb);
    uint64_t t0 = tt_now_ms();
    assert_int_equal(tt_timer_start(loop, &a.t, 20), 0);
    while (a.fires == 0)
        assert_true(tt_loop_poll(loop, -1) >= 0);
    assert_true(tt_now_ms() - t0 >= 20);
    assert_true(tt_now_ms() - t0 < 2000);
    tt_loop_free(loop);
}

#define MANY 10000

typedef struct many_timer {
    tt_timer t;
    uint64_t deadline_at_arm;
    int fires;
    int stopped;
} many_timer;

static uint64_t g_last_deadline;
static int g_many_fired;
static int g_many_order_ok = 1;

static void many_cb(tt_timer *t) {
    many_timer *m = (many_timer *)t;
    m->fires++;
    g_many_fired++;
    if (t->deadline < g_last_deadline) g_many_order_ok = 0;
    g_last_deadline = t->deadline;
}

/* White-box: every parent is no later than its children, and every
 * timer's heap_index says where it is. */
static void check_heap(const tt_loop *loop) {
    for (size_t i = 0; i < loop->heap_len; i++) {
        assert_int_equal(loop->heap[i]->heap_index, i);
        if (i > 0) assert_true(loop->heap[(i - 1) / 2]->deadline <= loop->heap[i]->deadline);
    }
}

static void test_many_timers(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    many_timer *m = calloc(MANY, sizeof *m);
    assert_non_null(m);
    uint32_t seed = 12345;
    for (int i = 0; i < MANY; i++) {
        seed = seed * 1103515245u + 12345u;
        tt_timer_init(&m[i].t, many_cb);
        assert_int_equal(tt_timer_start(loop, &m[i].t, (seed >> 16) % 80), 0);
    }
    check_heap(loop);
    /* Re-arm a third of them, stop another third: exercises sift both ways
     * and removal from the middle. */
    for (int i = 0; i < MANY; i += 3) {
        seed = seed * 1103515245u + 12345u;
        assert_int_equal(tt_timer_start(loop, &m[i].t, (seed >> 16) % 80), 0);
    }
    for (int i = 1; i < MANY; i += 3) {
        tt_timer_stop(loop, &m[i].t);
        m[i].stopped = 1;
    }
    check_heap(loop);
    int expect = MANY - (MANY + 1) / 3;
    assert_int_equal((int)loop->heap_len, expect);
    g_last_deadline = 0;
    g_many_fired = 0;
    assert_int_equal(poll_until(loop, &g_many_fired, expect, 5000), expect);
    assert_true(g_many_order_ok);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(m[i].fires, m[i].stopped ? 0 : 1);
    assert_int_equal(tt_loop_next_timeout(loop), -1);
    free(m);
    tt_loop_free(loop);
}

/* A callback re-arming itself with 0 ms fires once per poll, not forever. */
typedef struct self_timer {
    tt_timer t;
    tt_loop *loop;
    int fires;
} self_timer;

static void self_cb(tt_timer *t) {
    self_timer *s = (self_timer *)t;
    if (++s->fires < 5) assert_int_equal(tt_timer_start(s->loop, t, 0), 0);
}

static void test_rearm_zero_from_callback(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    self_timer s = {.loop = loop};
    tt_timer_init(&s.t, self_cb);
    assert_int_equal(tt_timer_start(loop, &s.t, 0), 0);
    for (int round = 1; round <= 5; round++) {
        assert_int_equal(tt_loop_poll(loop, 1000), 1);
        assert_int_equal(s.fires, round);
    }
    assert_false(tt_timer_armed(&s.t));
    assert_int_equal(tt_loop_poll(loop, 0), 0);
    tt_loop_free(loop);
}

/* A due timer stopped (and freed) by another's callback does not fire. */
typedef struct killer_timer {
    tt_timer t;
    tt_loop *loop;
    rec_timer *victim;
} killer_timer;

static void killer_cb(tt_timer *t) {
    killer_timer *k = (killer_timer *)t;
    tt_timer_stop(k->loop, &k->victim->t);
    free(k->victim);
    k->victim = NULL;
}

static void test_stop_other_due_timer(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    killer_timer k = {.loop = loop};
    k.victim = calloc(1, sizeof *k.victim);
    tt_timer_init(&k.t, killer_cb);
    tt_timer_init(&k.victim->t, rec_cb);
    assert_int_equal(tt_timer_start(loop, &k.t, 0), 0);
    assert_int_equal(tt_timer_start(loop, &k.victim->t, 0), 0); /* armed after: fires after */
    usleep(2000);
    assert_int_equal(tt_loop_poll(loop, 0), 1);
    assert_null(k.victim);
    assert_int_equal(tt_loop_next_timeout(loop), -1);
    tt_loop_free(loop);
}

/* tt_loop_free disarms timers still in the heap. */
static void test_free_disarms(void **state) {
    (void)state;
    tt_loop *loop = tt_loop_new();
    rec_timer a = {.id = 1};
    tt_timer_init(&a.t, rec_cb);
    assert_int_equal(tt_timer_start(loop, &a.t, 100000), 0);
    tt_loop_free(loop);
    assert_false(tt_timer_armed(&a.t));
    assert_int_equal(a.fires, 0);
}

int main(void) {
    alarm(60); /* a hung poll fails the run instead of stalling it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fire_in_order),
        cmocka_unit_test(test_equal_deadlines_fifo),
        cmocka_unit_test(test_rearm_and_stop),
        cmocka_unit_test(test_next_timeout),
        cmocka_unit_test(test_poll_capped_by_timer),
        cmocka_unit_test(test_many_timers),
        cmocka_unit_test(test_rearm_zero_from_callback),
        cmocka_unit_test(test_stop_other_due_timer),
        cmocka_unit_test(test_free_disarms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
