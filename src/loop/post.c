/* Wake-ups and work posted from other threads. One eventfd, watched by the
 * loop's epoll, carries both; a mutex-protected FIFO holds the jobs. */
#include "loop/loop_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tether.h"

#define TT_POST_MIN_CAP 16

int tt_post_init(tt_loop *loop) {
    loop->wake_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wake_io.fd < 0) return TETHER_E_IO;
    if (pthread_mutex_init(&loop->post_mu, NULL) != 0) {
        close(loop->wake_io.fd);
        return TETHER_E_NOMEM;
    }
    atomic_init(&loop->woken, 0);
    atomic_init(&loop->signalled, 0);
    return 0;
}

void tt_post_destroy(tt_loop *loop) {
    pthread_mutex_destroy(&loop->post_mu);
    close(loop->wake_io.fd);
    free(loop->posted.jobs);
    free(loop->running.jobs);
}

/* Signals the eventfd, once until the loop drains it: a round that
 * releases many events, or many posts, costs one write(2) and one read(2)
 * rather than one pair each. Only a lock-free atomic, write(2) and errno:
 * async-signal-safe. */
static int tt_signal_fd(tt_loop *loop) {
    if (atomic_exchange_explicit(&loop->signalled, 1, memory_order_acq_rel)) return 0;
    int saved = errno;
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(loop->wake_io.fd, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is saturated: it is readable anyway. */
    int rc = n == (ssize_t)sizeof one || errno == EAGAIN ? 0 : TETHER_E_IO;
    errno = saved;
    return rc;
}

int tt_loop_wake(tt_loop *loop) {
    if (!loop) return TETHER_E_INVAL;
    atomic_store_explicit(&loop->woken, 1, memory_order_release);
    return tt_signal_fd(loop);
}

int tt_loop_take_wake(tt_loop *loop) {
    if (!loop) return 0;
    return atomic_exchange_explicit(&loop->woken, 0, memory_order_acq_rel);
}

/* Resets the eventfd counter so the epoll fd stops being readable. */
void tt_wake_drain(tt_loop *loop) {
    uint64_t count;
    ssize_t n;
    do {
        n = read(loop->wake_io.fd, &count, sizeof count);
    } while (n < 0 && errno == EINTR);
    /* After the read, not before: a signaller that found the flag still set
     * skipped its write, but set what it signals for (a job, a flag) first,
     * so the caller, which looks at those next, sees it; one that comes
     * after this store writes the eventfd again. */
    atomic_store_explicit(&loop->signalled, 0, memory_order_seq_cst);
}

static int tt_post_push(tt_post_vec *v, tt_post_fn fn, void *arg) {
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : TT_POST_MIN_CAP;
        if (cap > SIZE_MAX / sizeof *v->jobs) return TETHER_E_NOMEM;
        tt_post_job *jobs = realloc(v->jobs, cap * sizeof *jobs);
        if (!jobs) return TETHER_E_NOMEM;
        v->jobs = jobs;
        v->cap = cap;
    }
    v->jobs[v->len].fn = fn;
    v->jobs[v->len].arg = arg;
    v->len++;
    return 0;
}

int tt_loop_post(tt_loop *loop, tt_post_fn fn, void *arg) {
    if (!loop || !fn) return TETHER_E_INVAL;
    pthread_mutex_lock(&loop->post_mu);
    int rc = tt_post_push(&loop->posted, fn, arg);
    pthread_mutex_unlock(&loop->post_mu);
    if (rc < 0) return rc;
    /* The job is queued; if signalling failed it still runs at the next
     * wake-up or at tt_loop_free, so that is not reported as a failure. */
    tt_signal_fd(loop);
    return 0;
}

/* Runs the jobs queued so far, in order, without holding the lock (jobs
 * may post). Jobs they post wait for the next round, which their eventfd
 * write makes immediate. The two vectors swap roles, so no allocation.
 * Returns the number of jobs run. */
int tt_post_run(tt_loop *loop) {
    pthread_mutex_lock(&loop->post_mu);
    tt_post_vec batch = loop->posted;
    loop->posted = loop->running;
    pthread_mutex_unlock(&loop->post_mu);
    loop->running = (tt_post_vec){0};

    for (size_t i = 0; i < batch.len; i++)
        batch.jobs[i].fn(batch.jobs[i].arg);
    int ran = (int)batch.len;
    batch.len = 0;
    loop->running = batch;
    return ran;
}

/* For tt_loop_free: every job ever posted runs once, including jobs that
 * the leftover jobs post. */
void tt_post_run_all(tt_loop *loop) {
    while (tt_post_run(loop) > 0) {
    }
}
