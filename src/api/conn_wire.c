/* Bytes between a connection's socket and its WebSocket. A plain
 * connection reads straight into the context's read buffer and writes its
 * handshake and frame queue with one writev(2), copying nothing. A
 * connection with a transport stack (TLS, and the layers to come) feeds
 * what the socket gives into the bottom of the stack and reads plaintext
 * off its top; writes go the other way, at most TT_STACK_BACKLOG bytes
 * inside the stack at a time, so the rest stays in the WebSocket queue
 * where the send limit and DRAIN count it. */
#include "api/api.h"
#include "stack/h2.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Two chunks: socket input, and the stack's moves between its layers. */
static uint8_t *tt_wire_scratch(tether_ctx *ctx) {
    if (!ctx->stack_scratch) ctx->stack_scratch = malloc(2 * TT_STACK_CHUNK);
    return ctx->stack_scratch;
}

/* The layers' handshakes ended: say so in the log. */
static void tt_wire_log_open(const tether_conn *c) {
    if (!tt_log_on(TETHER_LOG_INFO)) return;
    char d[256];
    tt_log(TETHER_LOG_INFO, "conn %llu: %s", (unsigned long long)c->id,
           tt_stack_describe(c->stack, d, sizeof d));
}

/* Every byte the stack holds is owed to the peer as much as queued frames:
 * the WebSocket's send limit and DRAIN count it. */
static void tt_wire_tell_owed(tether_conn *c) {
    tt_ws_set_owed_below(&c->ws, c->stack ? tt_stack_owed(c->stack) : 0);
}

/* ---- reading -------------------------------------------------------------- */

/* Fills the read buffer with plaintext: what the stack already holds, then
 * at most one socket read's worth. */
static ssize_t tt_wire_read_stack(tether_conn *c) {
    tt_stack *s = c->stack;
    uint8_t *buf = c->ctx->rbuf, *scratch = tt_wire_scratch(c->ctx);
    if (!scratch) return TETHER_E_NOMEM;
    uint8_t *in = scratch, *moves = scratch + TT_STACK_CHUNK;
    size_t off = 0;
    int socket_read = 0;
    for (;;) {
        ssize_t r = tt_stack_read(s, buf + off, TT_RBUF_SIZE - off, moves);
        if (r > 0) {
            off += (size_t)r;
            if (off == TT_RBUF_SIZE) break;
            continue;
        }
        if (r != TETHER_E_AGAIN || socket_read) return off ? (ssize_t)off : r;
        /* into the bottom layer's own queue when it has one (no copy) */
        uint8_t *space = tt_stack_feed_space(s, TT_STACK_CHUNK);
        ssize_t n = tt_sock_read(c->io.fd, space ? space : in, TT_STACK_CHUNK);
        socket_read = 1;
        if (n <= 0) return off ? (ssize_t)off : n;
        c->stats.wire_in += (size_t)n;
        int was_open = tt_stack_is_open(s);
        int rc = space ? tt_stack_fed(s, (size_t)n, moves) : tt_stack_feed(s, in, (size_t)n, moves);
        if (!was_open) tt_stats_layers(c);
        if (!was_open && tt_stack_is_open(s)) tt_wire_log_open(c);
        /* While a handshake runs, a flush is due even with no record to
         * send: when it ends, plaintext queued before it (a client's
         * request) can go, and with TLS 1.2 the client's last flight
         * precedes the server's Finished. */
        if (!was_open) tt_ctx_mark_dirty(c);
        if (rc) return rc;
    }
    tt_ctx_mark_runnable(c); /* the buffer filled up: more may be inside */
    return (ssize_t)off;
}

/* ---- plaintext, in the order the wire carries it ------------------------------ */

/* A layer that takes plaintext: how much it took (0: full), or an error. */
typedef ssize_t (*tt_wire_sink)(tether_conn *c, const uint8_t *buf, size_t len);

/* Hands the plaintext c owes to sink, in wire order (the handshake's or an
 * HTTP head, then a file body read into scratch, then frames), while it
 * takes some; *took says whether it took any. Returns 0 (all taken, or the
 * sink is full) or an error. Bytes it did not take stay queued (a file's
 * are read again later). */
static int tt_wire_pump(tether_conn *c, uint8_t *scratch, tt_wire_sink sink, int *took) {
    for (;;) {
        size_t len;
        const uint8_t *p;
        int hs = tt_outbuf_len(&c->hs_out) > 0, file = !hs && c->file;
        if (hs) {
            len = tt_outbuf_len(&c->hs_out);
            p = c->hs_out.buf + c->hs_out.head;
        } else if (file) {
            ssize_t got = tt_file_body_peek(c, scratch, TT_STACK_CHUNK);
            if (got < 0) return (int)got;
            p = scratch;
            len = (size_t)got;
        } else if (!(p = tt_ws_output(&c->ws, &len))) {
            return 0;
        }
        ssize_t n = sink(c, p, len);
        if (n <= 0) return (int)n;
        *took = 1;
        if (hs)
            tt_outbuf_consume(&c->hs_out, (size_t)n);
        else if (file)
            tt_file_body_sent(c, (size_t)n);
        else
            tt_ws_output_sent(&c->ws, (size_t)n);
    }
}

/* ---- HTTP/2: a stream's wire is its session ------------------------------------ */

/* The HTTP/2 connection has something to send: inside a round it goes at
 * the round's end; outside one, the loop is woken for it. */
static void tt_wire_poke(tether_conn *carrier) {
    if (!carrier) return;
    if (carrier->ctx->in_service)
        tt_ctx_mark_dirty(carrier);
    else
        tt_conn_wake(carrier);
}

static ssize_t tt_wire_read_h2s(tether_conn *c) {
    ssize_t n = tt_h2_stream_read(c->h2s, c->ctx->rbuf, TT_RBUF_SIZE);
    if (n > 0) {
        c->stats.wire_in += (size_t)n;
        tt_wire_poke(tt_h2_stream_owner(c->h2s)); /* the window opened */
        if (tt_h2_stream_readable(c->h2s)) tt_ctx_mark_runnable(c);
    }
    return n;
}

static ssize_t tt_wire_to_h2s(tether_conn *c, const uint8_t *buf, size_t len) {
    ssize_t n = tt_h2_stream_write(c->h2s, buf, len); /* 0: its backlog is full, WRITABLE follows */
    if (n > 0) c->stats.wire_out += (size_t)n;
    return n;
}

/* The stream's bytes (the response's head and body, or frames) go into its
 * session, then its HTTP/2 connection is told it has something to send. */
static int tt_wire_flush_h2s(tether_conn *c) {
    uint8_t *scratch = tt_wire_scratch(c->ctx);
    if (!scratch) return TETHER_E_NOMEM;
    int took = 0, rc = tt_wire_pump(c, scratch, tt_wire_to_h2s, &took);
    if (took) tt_wire_poke(tt_h2_stream_owner(c->h2s));
    tt_ws_set_owed_below(&c->ws, tt_h2_stream_owed(c->h2s));
    return rc;
}

/* The HTTP/2 connection's frames, into its own queue (hs_out), at most
 * a backlog's worth ahead of the socket. */
static int tt_wire_h2_fill(tether_conn *c) {
    while (tt_outbuf_len(&c->hs_out) < TT_STACK_BACKLOG) {
        const uint8_t *p;
        ssize_t n = tt_h2_output(c->h2, &p);
        if (n <= 0) return (int)n;
        if (tt_outbuf_append(&c->hs_out, p, (size_t)n)) return TETHER_E_NOMEM;
    }
    return 0;
}

static int tt_wire_flush_plain(tether_conn *c);
static int tt_wire_flush_stack(tether_conn *c);

static int tt_wire_flush_carrier(tether_conn *c) {
    int rc = 0, plain = tt_conn_plain(c);
    for (int round = 0; round < 64; round++) { /* bounded: the socket fills */
        if ((rc = tt_wire_h2_fill(c)) != 0) break;
        /* always, even with nothing new: TLS may still hold records a
         * full socket refused earlier */
        rc = plain ? tt_wire_flush_plain(c) : tt_wire_flush_stack(c);
        if (rc) break;
        int full = tt_outbuf_len(&c->hs_out) > 0 || (!plain && tt_stack_owed(c->stack) > 0);
        if (full || !tt_h2_wants_write(c->h2)) break;
    }
    /* sending made room in streams, or closed some: the carrier tells them */
    if (tt_h2_has_ready(c->h2)) tt_ctx_mark_runnable(c);
    return rc;
}

/* The session is being freed: its stream's connection finds out on its
 * next read. */
static void tt_wire_h2_orphaned(void *user) {
    tether_conn *k = user;
    k->h2s = NULL;
    k->h2_orphan = 1;
    tt_conn_wake(k); /* its next read says the connection is gone */
}

void tt_wire_detach(tether_conn *c) {
    if (c->h2s) {
        tether_conn *carrier = tt_h2_stream_owner(c->h2s);
        tt_h2_stream_release(c->h2s);
        c->h2s = NULL;
        tt_wire_poke(carrier);
    }
    if (c->h2) {
        tt_h2_free(c->h2, tt_wire_h2_orphaned);
        c->h2 = NULL;
    }
}

int tt_wire_shutdown_write(tether_conn *c) {
    if (!c->h2s) return tt_sock_shutdown_write(c->io.fd);
    tt_h2_stream_shutdown(c->h2s);
    tt_wire_poke(tt_h2_stream_owner(c->h2s));
    tt_ctx_mark_runnable(c); /* the peer's end may be in already */
    return 0;
}

const char *tt_wire_error_text(const tether_conn *c) {
    const char *t = c->h2s ? tt_h2_stream_error_text(c->h2s) : NULL;
    if (!t && c->h2) t = tt_h2_error_text(c->h2);
    return t || !c->stack ? t : tt_stack_error_text(c->stack);
}

ssize_t tt_wire_read_into(tether_conn *c, uint8_t *buf, size_t cap) {
    ssize_t n = tt_sock_read(c->io.fd, buf, cap);
    if (n > 0) c->stats.wire_in += (size_t)n;
    return n;
}

ssize_t tt_wire_read(tether_conn *c) {
    tt_wire_batch_flush(c->ctx); /* held frames point into the buffer read into */
    if (c->h2s) return tt_wire_read_h2s(c);
    if (c->io.fd < 0) return TETHER_E_CLOSED; /* a stream whose connection ended */
    if (tt_conn_plain(c)) {
        ssize_t n = tt_sock_read(c->io.fd, c->ctx->rbuf, TT_RBUF_SIZE);
        if (n > 0) c->stats.wire_in += (size_t)n;
        return n;
    }
    ssize_t n = tt_wire_read_stack(c);
    if (tt_stack_owed(c->stack) > 0) { /* alerts, tickets, key updates */
        tt_wire_tell_owed(c);
        tt_ctx_mark_dirty(c);
    }
    return n;
}

/* ---- writing -------------------------------------------------------------- */

/* Plaintext waits: the handshake's bytes, a file body, or frames. */
static int tt_wire_queued(const tether_conn *c) {
    size_t frames;
    return tt_outbuf_len(&c->hs_out) > 0 || c->file || tt_ws_output(&c->ws, &frames) != NULL;
}

/* Pieces of one writev(2): the handshake's bytes, the connection's own
 * frames and the shared (broadcast) frames between them. */
#define TT_WIRE_PIECES 16

/* The plain path: handshake bytes and frames in one writev(2) until the
 * socket is full. Returns 0 or the write's error. */
static int tt_wire_flush_plain(tether_conn *c) {
    for (;;) {
        struct iovec iov[TT_WIRE_PIECES];
        int k = 0;
        size_t hs = tt_outbuf_len(&c->hs_out);
        if (c->file && !hs) { /* a file body follows the head it belongs to */
            int rc = tt_file_body_sendfile(c);
            if (rc <= 0) return rc;
            continue;
        }
        if (hs) iov[k++] = (struct iovec){c->hs_out.buf + c->hs_out.head, hs};
        if (!c->file) k += tt_ws_output_pieces(&c->ws, iov + k, TT_WIRE_PIECES - k);
        if (!k) return 0;
        ssize_t n = tt_sock_writev(c->io.fd, iov, k);
        if (n == TETHER_E_AGAIN) return 0;
        if (n < 0) return (int)n;
        c->stats.wire_out += (size_t)n;
        size_t from_hs = (size_t)n < hs ? (size_t)n : hs;
        if (from_hs) tt_outbuf_consume(&c->hs_out, from_hs);
        if ((size_t)n > from_hs) tt_ws_output_sent(&c->ws, (size_t)n - from_hs);
    }
}

/* A big frame handed straight to the top of the transport stack (TLS):
 * encrypted from where it lies instead of copied into the WebSocket queue
 * first; it goes to the socket with the round's flush. */
static size_t tt_wire_direct_stack(tether_conn *c, const struct iovec *iov, int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left > 0) {
            ssize_t k = tt_stack_write(c->stack, p, left);
            if (k <= 0) goto out; /* full, or failed: the flush says why */
            p += k;
            left -= (size_t)k;
            total += (size_t)k;
        }
    }
out:
    if (total) tt_wire_tell_owed(c); /* the send's caller flushes (tt_conn_after_data) */
    return total;
}

/* ---- big frames held to be written together ----------------------------- */

static void tt_wire_batch_clear(tt_direct_batch *b) {
    if (b->owner) b->owner->ws.direct_held = 0;
    b->owner = NULL;
    b->n = 0;
}

/* Queues what the socket did not take of the held frames, in order (the
 * WebSocket queue is empty: nothing is queued while frames are held). On
 * no memory the stream cannot go on: the socket is shut, so the next read
 * or write ends the connection. */
static void tt_wire_batch_queue_rest(tether_conn *c, tt_direct_batch *b, size_t done) {
    for (int i = 0; i < 2 * b->n; i++) {
        size_t len = b->iov[i].iov_len, skip = done < len ? done : len;
        done -= skip;
        if (skip == len) continue;
        if (tt_outbuf_append(&c->ws.out, (const uint8_t *)b->iov[i].iov_base + skip, len - skip)) {
            shutdown(c->io.fd, SHUT_RDWR);
            return;
        }
    }
    tt_ctx_mark_dirty(c); /* the rest goes with the round's flush */
}

void tt_wire_batch_flush(tether_ctx *ctx) {
    tt_direct_batch *b = &ctx->batch;
    tether_conn *c = b->owner;
    if (!c) return;
    size_t total = 0;
    for (int i = 0; i < 2 * b->n; i++)
        total += b->iov[i].iov_len;
    ssize_t r = tt_sock_writev(c->io.fd, b->iov, 2 * b->n);
    size_t done = r > 0 ? (size_t)r : 0; /* a failure: queued, and the next write says why */
    c->stats.wire_out += done;
    if (done < total) tt_wire_batch_queue_rest(c, b, done);
    tt_wire_batch_clear(b);
}

void tt_wire_batch_forget(tether_conn *c) {
    if (c->ctx->batch.owner == c) tt_wire_batch_clear(&c->ctx->batch);
}

/* Holds a frame whose payload lies in the read buffer, which stays as it
 * is until the connection's input is handled (tt_conn_on_readable flushes
 * then, and every read into the buffer first). */
static size_t tt_wire_batch_hold(tether_conn *c, const struct iovec *iov) {
    tt_direct_batch *b = &c->ctx->batch;
    if ((b->owner && b->owner != c) || b->n == TT_DIRECT_BATCH) tt_wire_batch_flush(c->ctx);
    if (tt_outbuf_len(&c->ws.out)) return 0; /* a rest of ours was queued: after it */
    memcpy(b->hdr[b->n], iov[0].iov_base, iov[0].iov_len);
    b->iov[2 * b->n] = (struct iovec){b->hdr[b->n], iov[0].iov_len};
    b->iov[2 * b->n + 1] = iov[1];
    b->n++;
    b->owner = c;
    c->ws.direct_held = 1;
    return iov[0].iov_len + iov[1].iov_len;
}

/* Whether a frame may be held: header and payload, the payload in the
 * shared read buffer. */
static int tt_wire_batchable(const tether_conn *c, const struct iovec *iov, int n) {
    if (n != 2 || iov[0].iov_len > TETHER_MAX_FRAME_HEADER) return 0;
    const uint8_t *p = iov[1].iov_base, *rb = c->ctx->rbuf;
    return p >= rb && iov[1].iov_len <= TT_RBUF_SIZE && p <= rb + TT_RBUF_SIZE - iov[1].iov_len;
}

/* The WebSocket's direct writer (tt_ws_direct_fn): a big frame goes
 * straight to a plain socket, or into the transport stack, when nothing of
 * the connection's waits before it (the WebSocket queue is empty when it
 * is called). On a plain socket, frames echoed or relayed from the read
 * buffer are held and written together: a 64 KiB echo made one sendmsg per
 * frame (3.5 per read), where a raw TCP echo makes one per read. */
size_t tt_wire_direct(tt_ws *w, const struct iovec *iov, int n) {
    tether_conn *c = (tether_conn *)((char *)w - offsetof(tether_conn, ws));
    if (!iov) { /* write what is held for c: something is about to be queued */
        if (c->ctx->batch.owner == c) tt_wire_batch_flush(c->ctx); /* clears direct_held */
        return 0;
    }
    if (c->h2s || c->h2 || c->io.fd < 0 || c->file || tt_outbuf_len(&c->hs_out)) return 0;
    if (!tt_conn_plain(c)) return tt_wire_direct_stack(c, iov, n);
    if (tt_wire_batchable(c, iov, n)) return tt_wire_batch_hold(c, iov);
    if (c->ctx->batch.owner == c) tt_wire_batch_flush(c->ctx); /* in order */
    if (tt_outbuf_len(&c->ws.out)) return 0;
    ssize_t r = tt_sock_writev(c->io.fd, iov, n);
    if (r <= 0) return 0;
    c->stats.wire_out += (size_t)r;
    return (size_t)r;
}

/* Writes what the stack has for the socket. Returns 1 when all of it
 * went, 0 when the socket is full, or an error. */
static int tt_wire_write_stack(tether_conn *c, uint8_t *scratch) {
    for (;;) {
        size_t len;
        const uint8_t *p;
        int rc = tt_stack_wire(c->stack, &p, &len, scratch);
        if (rc) return rc;
        if (!len) {
            tt_stack_wire_sent(c->stack, 0);
            return 1;
        }
        struct iovec iov = {(void *)p, len};
        ssize_t n = tt_sock_writev(c->io.fd, &iov, 1);
        if (n == TETHER_E_AGAIN) n = 0;
        if (n > 0) c->stats.wire_out += (size_t)n;
        tt_stack_wire_sent(c->stack, n > 0 ? (size_t)n : 0);
        if (n < 0) return (int)n;
        if ((size_t)n < len) return 0;
    }
}

static ssize_t tt_wire_to_stack(tether_conn *c, const uint8_t *buf, size_t len) {
    return tt_stack_write(c->stack, buf, len);
}

static int tt_wire_flush_stack(tether_conn *c) {
    uint8_t *scratch = tt_wire_scratch(c->ctx);
    if (!scratch) return TETHER_E_NOMEM;
    int was_open = tt_stack_is_open(c->stack);
    int rc = tt_stack_step(c->stack);
    if (!was_open) tt_stats_layers(c);
    if (rc != 0 && rc != TETHER_E_AGAIN) return rc;
    if (!was_open && rc == 0) tt_wire_log_open(c);
    for (;;) {
        int took = 0;
        if ((rc = tt_wire_pump(c, scratch, tt_wire_to_stack, &took)) != 0) return rc;
        rc = tt_wire_write_stack(c, scratch + TT_STACK_CHUNK);
        if (rc <= 0) return rc; /* socket full, or failed */
        if (!tt_stack_is_open(c->stack) || !tt_wire_queued(c)) return 0;
    }
}

int tt_wire_flush(tether_conn *c) {
    if (c->h2s) return tt_wire_flush_h2s(c);
    if (c->io.fd < 0) return TETHER_E_CLOSED; /* a stream whose connection ended */
    if (c->h2) return tt_wire_flush_carrier(c);
    if (tt_conn_plain(c)) return tt_wire_flush_plain(c);
    int rc = tt_wire_flush_stack(c);
    tt_wire_tell_owed(c);
    return rc;
}

int tt_wire_wants_write(const tether_conn *c) {
    if (c->h2 && tt_h2_wants_write(c->h2)) return 1;
    if (tt_conn_plain(c)) return tt_wire_queued(c);
    return tt_stack_owed(c->stack) > 0 || (tt_stack_is_open(c->stack) && tt_wire_queued(c));
}

void tt_wire_goodbye(tether_conn *c) {
    uint8_t *scratch = c->io.fd >= 0 ? tt_wire_scratch(c->ctx) : NULL;
    if (scratch && c->stack && tt_stack_shutdown(c->stack)) tt_wire_write_stack(c, scratch);
}
