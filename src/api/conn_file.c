/* A file as the body of a response: it follows the handshake queue on the
 * wire without ever being read into memory as a whole. A plain connection
 * hands it to the kernel with sendfile(2); a connection with a transport
 * stack (TLS) reads it in pieces as the stack takes them. While a file is
 * on the wire, nothing more joins the handshake queue (the HTTP exchange
 * waits for it), so the bytes stay in order. */
#include "api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct tt_file_body {
    int fd;
    uint64_t offset; /* the next byte to send */
    uint64_t left;   /* bytes still owed */
};

/* Bytes per sendfile(2): large enough to fill a socket buffer at once,
 * small enough that one connection does not hold the loop. */
#define TT_FILE_STEP (1u << 20)

int tt_file_body_start(tether_conn *c, int fd, uint64_t offset, uint64_t len) {
    if (c->file) return TETHER_E_STATE;
    struct tt_file_body *f = malloc(sizeof *f);
    if (!f) return TETHER_E_NOMEM;
    *f = (struct tt_file_body){fd, offset, len};
    c->file = f;
    return 0;
}

void tt_file_body_free(tether_conn *c) {
    if (!c->file) return;
    if (c->file->fd >= 0) close(c->file->fd);
    free(c->file);
    c->file = NULL;
}

void tt_file_body_forget(tether_conn *c) {
    if (!c->file) return;
    c->file->fd = -1;
    tt_file_body_free(c);
}

/* All of it went: the role hears so after the flush (tt_conn_flush). */
static void tt_file_body_done(tether_conn *c) {
    tt_file_body_free(c);
    c->file_sent = 1;
}

/* A file that ends before the length promised in the head (it shrank
 * while being sent) cannot be mended: the connection ends, and the peer
 * sees a short body. */
static int tt_file_body_short(tether_conn *c) {
    tt_log(TETHER_LOG_WARN, "conn %llu: the file being sent ended %llu bytes early",
           (unsigned long long)c->id, (unsigned long long)c->file->left);
    return TETHER_E_IO;
}

int tt_file_body_sendfile(tether_conn *c) {
    struct tt_file_body *f = c->file;
    while (f->left) {
        size_t step = f->left < TT_FILE_STEP ? (size_t)f->left : TT_FILE_STEP;
        ssize_t n = tt_sock_sendfile(c->io.fd, f->fd, &f->offset, step);
        if (n == TETHER_E_AGAIN) return 0;
        if (n < 0) return (int)n;
        if (n == 0) return tt_file_body_short(c);
        f->left -= (uint64_t)n;
        c->stats.wire_out += (size_t)n;
    }
    tt_file_body_done(c);
    return 1;
}

ssize_t tt_file_body_peek(tether_conn *c, uint8_t *buf, size_t cap) {
    struct tt_file_body *f = c->file;
    size_t want = f->left < cap ? (size_t)f->left : cap;
    for (;;) {
        ssize_t n = pread(f->fd, buf, want, (off_t)f->offset);
        if (n > 0) return n;
        if (n == 0) return tt_file_body_short(c);
        if (errno != EINTR) return TETHER_E_IO;
    }
}

void tt_file_body_sent(tether_conn *c, size_t n) {
    struct tt_file_body *f = c->file;
    f->offset += n;
    f->left -= n;
    if (!f->left) tt_file_body_done(c);
}
