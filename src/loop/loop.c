/* The loop's core: the epoll instance, io registration, and one poll round
 * (wait, dispatch io readiness, run posted work, fire due timers). */
#include "loop/loop_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tether.h"

/* Translates a TT_IO_* mask. A silent io (mask 0) is edge-triggered so the
 * EPOLLHUP/EPOLLERR that epoll always reports cannot make the loop spin. */
static uint32_t tt_epoll_mask(unsigned events) {
    uint32_t m = 0;
    if (events & TT_IO_READ) m |= EPOLLIN;
    if (events & TT_IO_WRITE) m |= EPOLLOUT;
    return m ? m : (uint32_t)EPOLLET;
}

static int tt_errno_code(int err) {
    return err == ENOMEM || err == ENOSPC ? TETHER_E_NOMEM : TETHER_E_IO;
}

static int tt_epoll_ctl(tt_loop *loop, int op, tt_io *io, unsigned events) {
    struct epoll_event ev = {.events = tt_epoll_mask(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0) return tt_errno_code(errno);
    io->events = events & (TT_IO_READ | TT_IO_WRITE);
    return 0;
}

tt_loop *tt_loop_new(void) {
    tt_loop *loop = calloc(1, sizeof *loop);
    if (!loop) return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    if (tt_post_init(loop) < 0) {
        close(loop->epfd);
        free(loop);
        return NULL;
    }
    if (tt_epoll_ctl(loop, EPOLL_CTL_ADD, &loop->wake_io, TT_IO_READ) < 0) {
        tt_post_destroy(loop);
        close(loop->epfd);
        free(loop);
        return NULL;
    }
    return loop;
}

void tt_loop_free(tt_loop *loop) {
    if (!loop) return;
    /* Jobs first, while ios and timers still work: a job may clean up. */
    tt_post_run_all(loop);
    tt_timers_release(loop);
    tt_post_destroy(loop);
    close(loop->epfd);
    free(loop);
}

int tt_loop_fd(const tt_loop *loop) {
    return loop ? loop->epfd : TETHER_E_INVAL;
}

int tt_loop_add(tt_loop *loop, tt_io *io, unsigned events) {
    if (!loop || !io || io->fd < 0 || !io->cb) return TETHER_E_INVAL;
    return tt_epoll_ctl(loop, EPOLL_CTL_ADD, io, events);
}

int tt_loop_mod(tt_loop *loop, tt_io *io, unsigned events) {
    if (!loop || !io || io->fd < 0) return TETHER_E_INVAL;
    return tt_epoll_ctl(loop, EPOLL_CTL_MOD, io, events);
}

void tt_loop_del(tt_loop *loop, tt_io *io) {
    if (!loop || !io) return;
    /* Errors are ignored on purpose: the fd may already be closed (which
     * removed it) or never have been added; either way it is gone. */
    if (io->fd >= 0) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->events = 0;
    /* Forget readiness still queued for it in this round, comparing
     * pointers only, so the io may be freed right after this returns. */
    for (int i = loop->cursor; i < loop->nevents; i++)
        if (loop->events[i].data.ptr == io) loop->events[i].data.ptr = NULL;
}

/* The epoll_wait timeout: the caller's, capped by the next timer. */
static int tt_wait_ms(const tt_loop *loop, int timeout_ms) {
    int next = tt_loop_next_timeout(loop);
    if (next < 0) return timeout_ms < 0 ? -1 : timeout_ms;
    if (timeout_ms < 0 || next < timeout_ms) return next;
    return timeout_ms;
}

/* What to tell io about epoll's report: only what it still watches. */
static unsigned tt_ready_bits(const tt_io *io, uint32_t got) {
    unsigned ready = 0;
    if (io->events == 0) return 0;
    if ((got & EPOLLIN) && (io->events & TT_IO_READ)) ready |= TT_IO_READ;
    if ((got & EPOLLOUT) && (io->events & TT_IO_WRITE)) ready |= TT_IO_WRITE;
    if (got & (EPOLLERR | EPOLLHUP)) ready |= TT_IO_ERROR;
    return ready;
}

/* Delivers the batch; returns the number of io callbacks run and sets
 * *woken when the eventfd was among the ready fds. */
static int tt_dispatch(tt_loop *loop, int *woken) {
    int ran = 0;
    while (loop->cursor < loop->nevents) {
        struct epoll_event *ev = &loop->events[loop->cursor++];
        tt_io *io = ev->data.ptr;
        if (!io) continue; /* deleted earlier in this round */
        if (io == &loop->wake_io) {
            *woken = 1;
            continue;
        }
        unsigned ready = tt_ready_bits(io, ev->events);
        if (!ready) continue;
        io->cb(io, ready);
        ran++;
    }
    loop->cursor = loop->nevents = 0;
    return ran;
}

int tt_loop_poll(tt_loop *loop, int timeout_ms) {
    if (!loop) return TETHER_E_INVAL;
    if (loop->polling) return TETHER_E_STATE;
    int n = epoll_wait(loop->epfd, loop->events, TT_LOOP_BATCH, tt_wait_ms(loop, timeout_ms));
    if (n < 0) {
        if (errno != EINTR) return TETHER_E_IO;
        n = 0; /* a signal: still run what is due */
    }
    loop->polling = 1;
    loop->cursor = 0;
    loop->nevents = n;
    int woken = 0;
    int ran = tt_dispatch(loop, &woken);
    if (woken) {
        /* Drain before taking the queue: a post racing with this leaves
         * the eventfd readable, so it is seen next round, never lost. */
        tt_wake_drain(loop);
        ran += tt_post_run(loop);
    }
    ran += tt_timers_run(loop);
    loop->polling = 0;
    return ran;
}
