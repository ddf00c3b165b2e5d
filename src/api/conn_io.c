/* Moving bytes for a connection: reads (through conn_wire.c) into the
 * context's shared buffer (idle connections own no read buffer), runs them
 * through the WebSocket state machine, keeps only what could not be
 * processed yet, and writes out what is queued in as few system calls as
 * it can: everything a round queued for a connection goes out in one
 * write. Also where a connection opens, lingers and is lost. */
#include "api/api.h"
#include "stack/h2.h"

#include <stdlib.h>
#include <string.h>

int tt_conn_set_interest(tether_conn *c, unsigned events) {
    if (c->h2s || c->h2_orphan) { /* no socket: a wake announces input */
        unsigned was = c->io.events;
        c->io.events = events;
        if ((events & TT_IO_READ) && !(was & TT_IO_READ) &&
            (c->h2_orphan || tt_h2_stream_readable(c->h2s)))
            tt_conn_wake(c);
        return 0;
    }
    if (c->io.fd < 0 || c->io.events == events) return 0;
    return tt_loop_mod(c->ctx->loop, &c->io, events);
}

/* Whether c reads now: not while a REQUEST waits or reading is paused; a
 * lingering connection reads whatever the pausing: it only discards input,
 * waiting for the peer's FIN. */
static int tt_conn_reading(const tether_conn *c) {
    return c->phase == TT_PH_LINGER ||
           (c->phase != TT_PH_REQUEST && c->phase != TT_PH_DEAD && !c->paused && !c->user_paused);
}

/* Read interest follows the phase and pausing; write interest is on only
 * while output waits for the socket. */
static int tt_conn_keeps_interest(const tether_conn *c);

static void tt_conn_update_interest(tether_conn *c) {
    unsigned ev = 0;
    if (tt_conn_reading(c) || tt_conn_keeps_interest(c)) ev |= TT_IO_READ;
    if (tt_wire_wants_write(c) || c->phase == TT_PH_CONNECTING) ev |= TT_IO_WRITE;
    tt_conn_set_interest(c, ev);
}

/* Everything queued has gone to the socket. A client that closed cleanly
 * waits for the server's FIN, as RFC 6455 7.1.1 asks (the read side sees
 * it, or the linger deadline comes). A server, and anyone after a failure,
 * closes first, and lingers: it sends its FIN and reads (discarding) until
 * the peer's FIN or the deadline. Closing a socket with unread input makes
 * the kernel answer with a reset, which can destroy the close frame and
 * the replies still in flight to the peer: a peer that was still sending
 * (the frames after the one that failed the connection) would lose them. */
static void tt_conn_finish_linger(tether_conn *c) {
    if (c->fin_sent || (c->role == TETHER_ROLE_CLIENT && !c->error)) return;
    tt_wire_goodbye(c);
    if (tt_wire_wants_write(c)) return; /* the close_notify goes first */
    c->fin_sent = 1;
    if (tt_wire_shutdown_write(c) != 0) tt_conn_shut(c);
}

void tt_conn_lost(tether_conn *c, int err, const char *text) {
    if (c->phase == TT_PH_DEAD) return;
    if (c->cls->before_loss && c->cls->before_loss(c, err)) return;
    /* A layer's reason is logged here: on a server a connection that fails
     * its TLS handshake is never seen by the application. */
    if (!text && (text = tt_wire_error_text(c)) != NULL)
        tt_log(TETHER_LOG_WARN, "conn %llu: %s", (unsigned long long)c->id, text);
    tt_ws_output_drop(&c->ws); /* nothing more can be sent */
    tether_event *ev = NULL;
    if (c->phase < TT_PH_OPEN) {
        ev = tt_conn_closed_event(c, err, text);
    } else if (c->phase == TT_PH_OPEN) {
        tt_ws_ev w;
        if (tt_ws_abort(&c->ws, err, &w)) {
            if (text) {
                w.reason = text;
                w.reason_len = strlen(text);
            }
            ev = tt_event_from_ws(c, &w);
        }
    }
    /* The socket goes first; the event (which holds c) follows. */
    tt_conn_shut(c);
    tt_emit(ev);
}

size_t tt_conn_owed(const tether_conn *c) {
    return tt_ws_buffered(&c->ws) + tt_outbuf_len(&c->hs_out);
}

void tt_conn_flush(tether_conn *c) {
    if (c->phase == TT_PH_DEAD || c->phase <= TT_PH_CONNECTING) return;
    int rc = tt_wire_flush(c);
    if (rc < 0) {
        tt_conn_lost(c, rc, NULL);
        return;
    }
    tt_conn_account(c);
    if (c->file_sent) { /* the role goes on (and may free c): it flushes again */
        c->file_sent = 0;
        c->cls->file_sent(c);
        return;
    }
    if (c->phase == TT_PH_OPEN && tt_ws_take_drain(&c->ws)) tt_emit_simple(c, TETHER_EV_DRAIN);
    if (c->phase == TT_PH_HTTP && c->http_above_mark &&
        tt_conn_owed(c) <= c->opts->cfg.drain_mark) {
        c->http_above_mark = 0; /* a streamed response may go on */
        tt_emit_simple(c, TETHER_EV_DRAIN);
    }
    if (c->phase == TT_PH_LINGER && !tt_wire_wants_write(c)) tt_conn_finish_linger(c);
    if (c->phase != TT_PH_DEAD) tt_conn_update_interest(c);
}

/* Keeps input that could not be processed, for when the connection
 * resumes. buf may already be c->pending. */
void tt_conn_keep_input(tether_conn *c, const uint8_t *buf, size_t len) {
    if (c->pending && buf >= c->pending && buf <= c->pending + c->pending_len) {
        memmove(c->pending, buf, len); /* the unprocessed tail of pending itself */
        c->pending_len = len;
    } else if (len) {
        if (len > c->pending_cap - c->pending_len) {
            size_t cap = c->pending_len + len;
            uint8_t *p = realloc(c->pending, cap);
            if (!p) return; /* dropped input makes the stream fail: a close follows */
            c->pending = p;
            c->pending_cap = cap;
        }
        memcpy(c->pending + c->pending_len, buf, len);
        c->pending_len += len;
    }
    if (c->pending_len == 0) { /* idle connections own no input buffer */
        free(c->pending);
        c->pending = NULL;
        c->pending_cap = 0;
    }
}

void tt_conn_process(tether_conn *c, uint8_t *buf, size_t len) {
    size_t off = 0;
    /* Zero-copy slices of the shared read buffer are only safe in callback
     * mode (used before the next read). The mode can change after the
     * connection was made (tether_ctx_set_callback), so follow the current
     * one: a connection made in callback mode and then polled handed out
     * events whose data the next read of any connection overwrote. */
    tt_ws_set_copy_data(&c->ws, c->ctx->cb == NULL);
    while (c->phase == TT_PH_OPEN && !c->paused && !c->user_paused) {
        size_t used = 0;
        tt_ws_ev ev;
        int r = tt_ws_input(&c->ws, buf + off, len - off, &used, &ev);
        off += used;
        if (r == 0) break;
        if (ev.type == TT_WS_EV_CLOSE) tt_conn_linger(c);
        tt_emit_ws(c, &ev);
    }
    if (c->phase == TT_PH_OPEN)
        tt_conn_keep_input(c, buf + off, len - off);
    else if (buf == c->pending)
        c->pending_len = 0;
    tt_conn_after_send(c);
}

static void tt_conn_on_readable(tether_conn *c);

/* An HTTP/2 stream's input is announced by a wake, not by the loop: read
 * it if the connection reads now. */
static void tt_conn_resume_stream(tether_conn *c) {
    if ((!c->h2s && !c->h2_orphan) || !tt_conn_reading(c)) return;
    /* lingering, the stream's end is read only after ours was sent: the
     * loop would flush first, but a wake runs before the round's flush */
    if (c->phase == TT_PH_LINGER && !c->fin_sent && !c->h2_orphan) return;
    if (c->h2_orphan || tt_h2_stream_readable(c->h2s)) c->io.cb(&c->io, TT_IO_READ);
}

void tt_conn_resume(tether_conn *c) {
    if (c->phase < TT_PH_OPEN) { /* the role's input: a request's head or body */
        if (c->cls->resume && !c->user_paused) c->cls->resume(c);
        tt_conn_resume_stream(c);
        if (c->phase != TT_PH_DEAD) tt_conn_update_interest(c);
        return;
    }
    if (c->pending_len && !c->paused && !c->user_paused)
        tt_conn_process(c, c->pending, c->pending_len);
    /* A layer may hold decrypted input that no socket event will announce. */
    if (!tt_conn_plain(c) && c->phase == TT_PH_OPEN && !c->paused && !c->user_paused)
        tt_conn_on_readable(c);
    tt_conn_resume_stream(c);
    if (c->phase != TT_PH_DEAD) tt_conn_update_interest(c);
}

/* After anything that may have queued output: inside a round the write
 * waits for the round's end (one write for many frames); outside one
 * (a send from the user's own code) it goes out now. */
void tt_conn_after_data(tether_conn *c) {
    if (c->phase == TT_PH_DEAD) return;
    if (c->ctx->in_service || c->ctx->corked) {
        tt_ctx_mark_dirty(c);
        tt_conn_account(c); /* the flush at the round's end accounts again */
        return;
    }
    tt_conn_flush(c);
}

void tt_conn_after_send(tether_conn *c) {
    tt_conn_after_data(c);
    if (c->phase == TT_PH_OPEN || c->phase == TT_PH_LINGER) tt_conn_arm_timer(c);
}

/* After the WebSocket ended: write out what is queued (the close frame),
 * then close. A server closes the TCP connection first (RFC 6455 7.1.1); a
 * client waits for the server to, up to the close timeout. */
void tt_conn_linger(tether_conn *c) {
    if (c->phase == TT_PH_DEAD || c->phase == TT_PH_LINGER) return;
    c->phase = TT_PH_LINGER;
    unsigned t = c->opts->cfg.close_timeout ? c->opts->cfg.close_timeout : 5000;
    c->deadline = c->ctx->now + t;
    tt_conn_after_send(c); /* the close frame goes out, then the socket closes */
}

void tt_conn_open(tether_conn *c, const uint8_t *extra, size_t extra_len) {
    c->phase = TT_PH_OPEN;
    tt_stats_mark(c, TT_STATS_OPEN);
    c->deadline = 0;
    tt_ws_note_rx(&c->ws, c->ctx->now); /* the handshake came from the peer */
    tt_emit_simple(c, TETHER_EV_OPEN);
    if (c->phase != TT_PH_OPEN) return; /* closed from the OPEN callback */
    if (extra_len) tt_conn_keep_input(c, extra, extra_len);
    tt_ctx_mark_runnable(c);
    tt_conn_after_send(c);
}

/* Read interest while a held data event pauses an open connection (poll
 * mode): kept until the socket turns readable while it is paused, since an
 * application that releases the event before the next wait (most do) then
 * costs no epoll_ctl to drop the interest and none to restore it. */
static int tt_conn_keeps_interest(const tether_conn *c) {
    return c->phase == TT_PH_OPEN && c->paused && !c->user_paused && !c->read_parked;
}

/* Read side of an open or lingering connection. */
static void tt_conn_on_readable(tether_conn *c) {
    uint8_t *rbuf = c->ctx->rbuf;
    size_t max = 0;
    /* the rest of a big frame, straight into its message (plain TCP, no
     * earlier bytes waiting): no copy out of the read buffer */
    uint8_t *room = c->phase == TT_PH_OPEN && !c->pending_len && !c->h2s && tt_conn_plain(c)
                        ? tt_ws_rx_room(&c->ws, &max)
                        : NULL;
    ssize_t n = room ? tt_wire_read_into(c, room, max) : tt_wire_read(c);
    if (room) rbuf = room;
    if (n == TETHER_E_AGAIN) return;
    if (n <= 0) {
        tt_conn_lost(c, n == 0 ? TETHER_E_CLOSED : (int)n, NULL);
        return;
    }
    if (c->phase != TT_PH_OPEN) return; /* lingering: drain and ignore */
    /* Activity does not re-arm the timer, except when it answers a
     * keepalive ping: the timer waits for the ping's timeout, and the next
     * ping is due ping_interval after now, usually sooner. */
    if (tt_ws_note_rx(&c->ws, c->ctx->now)) tt_conn_arm_timer(c);
    if (c->pending_len) { /* earlier bytes first */
        tt_conn_keep_input(c, rbuf, (size_t)n);
        tt_conn_process(c, c->pending, c->pending_len);
    } else {
        tt_conn_process(c, rbuf, (size_t)n);
    }
    tt_wire_batch_flush(c->ctx); /* what the input's events sent, in one write */
}

void tt_conn_on_io(tether_conn *c, unsigned ready) {
    if (ready & TT_IO_WRITE) tt_conn_flush(c);
    if (c->phase == TT_PH_DEAD || !(ready & (TT_IO_READ | TT_IO_ERROR))) return;
    if (tt_conn_keeps_interest(c) && !(ready & TT_IO_ERROR)) {
        /* input while an event is held: stop watching until its release
         * (reading it would queue without bound); a hang-up is read */
        c->read_parked = 1;
        tt_conn_update_interest(c);
        return;
    }
    tt_conn_on_readable(c);
}

void tt_conn_on_timer(tether_conn *c) {
    uint64_t now = c->ctx->now = tt_now_ms();
    if (c->phase == TT_PH_RETRY) { /* waiting to connect again */
        c->cls->retry(c);
        return;
    }
    if (c->deadline && now >= c->deadline) {
        if (c->phase == TT_PH_LINGER)
            tt_conn_shut(c); /* the peer never sent its FIN: close anyway */
        else
            tt_conn_lost(c, TETHER_E_TIMEOUT, NULL);
        return;
    }
    if (c->phase == TT_PH_OPEN) {
        tt_ws_ev ev;
        int pinging = c->ws.ping_outstanding;
        int ended = tt_ws_on_timer(&c->ws, now, &ev);
        if (!pinging && c->ws.ping_outstanding) tt_stats_ping_sent(c); /* keepalive */
        if (ended) {
            tt_conn_linger(c);
            tt_emit_ws(c, &ev);
        }
        tt_conn_after_send(c); /* a ping may be queued; re-arms the timer */
        return;
    }
    tt_conn_arm_timer(c);
}
