/* Internal to src/loop: the loop's state, shared by loop.c (epoll and
 * dispatch), timer_heap.c (timers) and post.c (wake-ups and posted work).
 * Nothing outside src/loop includes this. */
#ifndef TT_LOOP_INTERNAL_H
#define TT_LOOP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "loop/loop.h"

/* Events fetched per epoll_wait. A full batch is not a loss: epoll is
 * level-triggered, so the rest are reported by the next call. */
#define TT_LOOP_BATCH 128

typedef struct tt_post_job {
    tt_post_fn fn;
    void *arg;
} tt_post_job;

/* A growable array of jobs; grows geometrically and is reused, so steady
 * posting allocates nothing. */
typedef struct tt_post_vec {
    tt_post_job *jobs;
    size_t len;
    size_t cap;
} tt_post_vec;

struct tt_loop {
    int epfd;
    tt_io wake_io; /* the eventfd; its identity marks it in the event batch */

    /* The batch being dispatched. Entries in [cursor, nevents) are still to
     * be delivered; tt_loop_del clears theirs so a deleted io is never
     * touched again, even if its owner frees it in the same round. */
    struct epoll_event events[TT_LOOP_BATCH];
    int cursor;
    int nevents;
    int polling; /* inside tt_loop_poll: nested polls are refused */

    /* Timers: a binary min-heap ordered by (deadline, seq). */
    tt_timer **heap;
    size_t heap_len;
    size_t heap_cap;
    uint64_t timer_seq; /* next arming sequence number */

    /* Posted work: producers append to posted under post_mu; the loop
     * swaps it with running and runs that without holding the lock. */
    pthread_mutex_t post_mu;
    tt_post_vec posted;
    tt_post_vec running;
    atomic_int woken;     /* set by tt_loop_wake, cleared by tt_loop_take_wake */
    atomic_int signalled; /* the eventfd was written and not drained since */
};

/* timer_heap.c */
int tt_timers_run(tt_loop *loop);
void tt_timers_release(tt_loop *loop);

/* post.c */
int tt_post_init(tt_loop *loop);
void tt_post_destroy(tt_loop *loop);
void tt_wake_drain(tt_loop *loop);
int tt_post_run(tt_loop *loop);
void tt_post_run_all(tt_loop *loop);

#endif
