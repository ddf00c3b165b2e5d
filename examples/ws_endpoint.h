/*
 * ws_endpoint.h - a blocking WebSocket endpoint: tether's I/O-free engine
 * (tether_ws) over a plain socket. Both examples (echo_server.c and
 * echo_client.c) use it; copy it into your program as a starting point.
 *
 * The engine does the protocol: reassembly, inflating and compressing,
 * UTF-8 checks, answering pings, the closing handshake and the close code
 * for every protocol error. What is left here is the I/O: write what the
 * engine wants sent, read what the peer sends, and tell the engine the time
 * so its timeouts run (poll() waits for input up to its next deadline).
 */
#ifndef WS_ENDPOINT_H
#define WS_ENDPOINT_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tether.h"

struct ws_endpoint {
    int fd;
    tether_ws *ws;
    int deflate;   /* permessage-deflate is on */
    int peer_code; /* the close code, once closed */
};

/* Writes all of buf; MSG_NOSIGNAL so a vanished peer is an error, not a
 * SIGPIPE that kills the process. */
static inline int ws_write_all(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The engine's clock: milliseconds that never go backwards. */
static inline uint64_t ws_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sets up an endpoint on a connected socket whose handshake is done, with
 * the negotiated permessage-deflate (or NULL; taken over either way) and
 * the bytes that came after the handshake head (already frames). */
static inline int ws_init(struct ws_endpoint *ep, int fd, tether_role role, tether_pmd *pmd,
                          const uint8_t *extra, size_t extra_len) {
    ep->fd = fd;
    ep->peer_code = 0;
    ep->deflate = pmd != NULL;
    ep->ws = tether_ws_new(role, NULL, ws_now());
    if (!ep->ws || (pmd && tether_ws_set_deflate(ep->ws, pmd) != 0)) {
        tether_pmd_free(pmd);
        tether_ws_free(ep->ws);
        return -1;
    }
    if (tether_ws_receive(ep->ws, extra, extra_len, ws_now()) == 0) return 0;
    tether_ws_free(ep->ws);
    return -1;
}

static inline void ws_free(struct ws_endpoint *ep) {
    tether_ws_free(ep->ws);
    ep->ws = NULL;
}

/* Writes out everything the engine has to send. */
static inline int ws_flush(struct ws_endpoint *ep) {
    size_t len;
    const uint8_t *out;
    while ((out = tether_ws_output(ep->ws, &len)) != NULL) {
        if (ws_write_all(ep->fd, out, len) != 0) return -1;
        tether_ws_output_sent(ep->ws, len);
    }
    return 0;
}

/* Sends a whole message, or one piece of a message sent in pieces (fin on
 * the last); compressed when deflate is on. */
static inline int ws_send(struct ws_endpoint *ep, int op, const void *data, size_t len) {
    if (tether_ws_send(ep->ws, (tether_opcode)op, data, len) != 0) return -1;
    return ws_flush(ep);
}

static inline int ws_send_fragment(struct ws_endpoint *ep, int op, const void *data, size_t len,
                                   int fin) {
    if (tether_ws_send_fragment(ep->ws, (tether_opcode)op, data, len, fin) != 0) return -1;
    return ws_flush(ep);
}

static inline int ws_send_close(struct ws_endpoint *ep, int code, const char *reason) {
    if (tether_ws_close(ep->ws, code, reason, ws_now()) != 0) return -1;
    return ws_flush(ep);
}

/* Waits for input up to the engine's next deadline, then feeds it what
 * came (or the time, or the end of the stream). */
static inline int ws_wait(struct ws_endpoint *ep) {
    uint8_t buf[64 * 1024];
    uint64_t deadline = tether_ws_deadline(ep->ws), now = ws_now();
    int timeout = !deadline ? -1 : deadline <= now ? 0 : (int)(deadline - now);
    struct pollfd p = {ep->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout);
    if (r < 0) return errno == EINTR ? 0 : -1;
    if (r == 0) return tether_ws_on_time(ep->ws, ws_now());
    ssize_t n = recv(ep->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) return 0;
    if (n <= 0) return tether_ws_receive_eof(ep->ws);
    return tether_ws_receive(ep->ws, buf, (size_t)n, ws_now());
}

/* Runs until a whole message arrives: returns 1 with *op, *data, *len set
 * (data valid until the next call), 0 when the connection closed cleanly
 * (ep->peer_code says with what), -1 when it failed. */
static inline int ws_recv(struct ws_endpoint *ep, int *op, const uint8_t **data, size_t *len) {
    for (;;) {
        tether_ws_event ev;
        /* What the events made the engine queue (pongs, the answer to a
         * close) is written once they are taken, not once per event. */
        while (tether_ws_next_event(ep->ws, &ev) == 1) {
            if (ev.type == TETHER_EV_MESSAGE) {
                *op = ev.opcode;
                *data = ev.data;
                *len = ev.len;
                return ws_flush(ep) == 0 ? 1 : -1;
            }
            if (ev.type == TETHER_EV_CLOSED) {
                ep->peer_code = ev.code;
                if (ev.error)
                    fprintf(stderr, "connection failed: %s (%d %.*s)\n", tether_strerror(ev.error),
                            ev.code, (int)ev.len, (const char *)ev.data);
                return ws_flush(ep) == 0 && ev.clean ? 0 : -1;
            }
        }
        if (ws_flush(ep) != 0 || ws_wait(ep) != 0) return -1;
    }
}

#endif
