/* Internal: the event loop under a tether_ctx. One epoll instance watches
 * the sockets; a min-heap orders the timers (one per connection at most,
 * so a tick costs nothing per idle connection); an eventfd carries wake-ups
 * and work posted from other threads. The epoll fd itself is what a
 * foreign loop watches: it turns readable when any watched fd is ready. */
#ifndef TT_LOOP_H
#define TT_LOOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_loop tt_loop;

/* Readiness bits for tt_io. */
#define TT_IO_READ 1u
#define TT_IO_WRITE 2u
#define TT_IO_ERROR 4u /* EPOLLERR / EPOLLHUP: the callback should read to learn more */

typedef struct tt_io tt_io;
typedef void (*tt_io_cb)(tt_io *io, unsigned ready);

/* A watched fd, embedded in its owner (connection, listener). */
struct tt_io {
    int fd;
    unsigned events; /* TT_IO_READ | TT_IO_WRITE currently watched */
    tt_io_cb cb;
};

typedef struct tt_timer tt_timer;
typedef void (*tt_timer_cb)(tt_timer *t);

/* A one-shot timer, embedded in its owner. */
struct tt_timer {
    uint64_t deadline; /* tt_now_ms() time it fires */
    size_t heap_index; /* position in the heap; SIZE_MAX when not armed */
    tt_timer_cb cb;
    uint64_t seq; /* arming order: equal deadlines fire first-armed first */
};

/* Work posted from any thread, run on the loop thread. */
typedef void (*tt_post_fn)(void *arg);

tt_loop *tt_loop_new(void);
/* Frees the loop. Posted work not yet run is run first, once, from this
 * call (see tt_loop_post()), while the loop is still usable; then armed
 * timers are disarmed and the fds closed. The caller must have deleted its
 * ios, stopped (or abandoned) its timers and cancelled its resolves. */
void tt_loop_free(tt_loop *loop);

/* The epoll fd (for foreign loops). */
int tt_loop_fd(const tt_loop *loop);

/* Watch / change / stop watching io->fd. events is a TT_IO_* mask (0 keeps
 * the fd registered but silent, errors included). Return 0 or a negative
 * TETHER_E_*. tt_loop_del tolerates an io that is not registered; after it
 * the io may be freed at once, even from inside a callback. */
int tt_loop_add(tt_loop *loop, tt_io *io, unsigned events);
int tt_loop_mod(tt_loop *loop, tt_io *io, unsigned events);
void tt_loop_del(tt_loop *loop, tt_io *io);

/* Monotonic milliseconds. */
uint64_t tt_now_ms(void);
/* Monotonic microseconds, for measuring (statistics), not for deadlines. */
uint64_t tt_now_us(void);

void tt_timer_init(tt_timer *t, tt_timer_cb cb);
/* Arms (or re-arms) t to fire ms milliseconds from now. A timer fires at
 * most once per tt_loop_poll: one (re-)armed from a timer callback fires in
 * a later round even with ms = 0. Returns 0 or TETHER_E_NOMEM. */
int tt_timer_start(tt_loop *loop, tt_timer *t, uint64_t ms);
void tt_timer_stop(tt_loop *loop, tt_timer *t);
int tt_timer_armed(const tt_timer *t);
/* Milliseconds until the earliest timer (0 if overdue), -1 if none. */
int tt_loop_next_timeout(const tt_loop *loop);

/* Thread-safe: makes the loop's fd readable and a blocked tt_loop_poll
 * return. Async-signal-safe (a write to an eventfd). */
int tt_loop_wake(tt_loop *loop);
/* Thread-safe: runs fn(arg) on the loop thread during a later
 * tt_loop_poll(), in posting order, and wakes the loop. If the loop is
 * freed first, fn(arg) is still called once (so arg is never leaked) from
 * tt_loop_free. Returns 0 or TETHER_E_NOMEM. */
int tt_loop_post(tt_loop *loop, tt_post_fn fn, void *arg);
/* Whether a wake-up arrived since the last call (clears the flag). */
int tt_loop_take_wake(tt_loop *loop);

/* Waits up to timeout_ms (-1 forever, 0 not at all, always capped by the
 * next timer) for readiness, then calls the io callbacks of ready fds, runs
 * posted work, and fires due timers. Returns how many callbacks ran, or a
 * negative TETHER_E_*. Callbacks may add, modify and delete ios and timers,
 * including their own and others that are ready in the same round (a
 * deleted io's pending readiness must not be delivered). A modified io
 * gets only the readiness it still watches. Calling tt_loop_poll from a
 * callback returns TETHER_E_STATE. */
int tt_loop_poll(tt_loop *loop, int timeout_ms);

#endif
