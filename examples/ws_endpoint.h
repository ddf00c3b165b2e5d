/*
 * ws_endpoint.h - a complete, blocking WebSocket endpoint built only on
 * tether's sans-I/O API and a plain socket. Both examples (echo_server.c and
 * echo_client.c) use it; copy it into your program as a starting point.
 *
 * What it shows: feeding socket bytes to tether_parser, reassembling
 * fragmented messages, inflating permessage-deflate messages, checking text
 * after inflating, answering pings, the closing handshake, and turning every
 * protocol error into the close code tether names for it.
 */
#ifndef WS_ENDPOINT_H
#define WS_ENDPOINT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tether.h"

#define WS_MAX_MESSAGE (64u * 1024u * 1024u)

struct ws_endpoint {
    int fd;
    tether_role role;
    tether_parser *parser;
    tether_pmd *pmd; /* NULL unless permessage-deflate was negotiated */
    uint8_t in[64 * 1024];
    size_t in_off, in_len; /* unparsed bytes are in[in_off .. in_len) */
    uint8_t *msg;          /* the message being reassembled */
    size_t msg_len, msg_cap;
    int msg_opcode, msg_compressed;
    uint8_t ctl[TETHER_MAX_CONTROL_PAYLOAD];
    size_t ctl_len;
    int close_sent, close_received, peer_code;
};

/* Writes all of buf; MSG_NOSIGNAL so a vanished peer is an error, not a
 * SIGPIPE that kills the process. */
static int ws_write_all(int fd, const void *buf, size_t len) {
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

/* Sets up an endpoint on a connected socket whose handshake is done. The
 * bytes that came after the handshake head (already frames) are kept. */
static int ws_init(struct ws_endpoint *ep, int fd, tether_role role, tether_pmd *pmd,
                   const uint8_t *extra, size_t extra_len) {
    memset(ep, 0, sizeof *ep);
    ep->fd = fd;
    ep->role = role;
    ep->pmd = pmd;
    ep->parser = tether_parser_new(role);
    if (!ep->parser || extra_len > sizeof ep->in) return -1;
    if (pmd) tether_parser_set_rsv_allowed(ep->parser, TETHER_RSV1);
    memcpy(ep->in, extra, extra_len);
    ep->in_len = extra_len;
    return 0;
}

static void ws_free(struct ws_endpoint *ep) {
    tether_parser_free(ep->parser);
    tether_pmd_free(ep->pmd);
    free(ep->msg);
}

/* Sends one frame; data messages are compressed when deflate is on. */
static int ws_send_frame(struct ws_endpoint *ep, tether_opcode op, const void *data, size_t len) {
    unsigned rsv = 0;
    if (ep->pmd && (op == TETHER_OP_TEXT || op == TETHER_OP_BINARY)) {
        const uint8_t *z;
        if (tether_pmd_compress(ep->pmd, data, len, 1, &z, &len) != 0) return -1;
        data = z;
        rsv = TETHER_RSV1;
    }
    size_t cap = TETHER_MAX_FRAME_HEADER + len, n;
    uint8_t *frame = malloc(cap);
    int rc = frame ? tether_frame_write(ep->role, op, 1, rsv, data, len, frame, cap, &n) : -1;
    if (rc == 0) rc = ws_write_all(ep->fd, frame, n);
    free(frame);
    return rc;
}

static int ws_send_close(struct ws_endpoint *ep, int code, const char *reason) {
    uint8_t payload[TETHER_MAX_CONTROL_PAYLOAD];
    size_t n;
    if (ep->close_sent) return 0;
    if (tether_close_build(code, reason, reason ? strlen(reason) : 0, payload, sizeof payload,
                           &n) != 0)
        return -1;
    ep->close_sent = 1;
    return ws_send_frame(ep, TETHER_OP_CLOSE, payload, n);
}

/* Appends a piece of message payload, inflating it first if need be. */
static int ws_append(struct ws_endpoint *ep, const uint8_t *data, size_t len, int fin) {
    if (ep->msg_compressed) {
        int rc = tether_pmd_decompress(ep->pmd, data, len, fin, &data, &len);
        if (rc != 0) return rc;
    }
    if (len > WS_MAX_MESSAGE - ep->msg_len) return TETHER_E_MESSAGE_TOO_BIG;
    if (ep->msg_len + len > ep->msg_cap) {
        size_t cap = ep->msg_cap ? ep->msg_cap : 4096;
        while (cap < ep->msg_len + len)
            cap *= 2;
        uint8_t *m = realloc(ep->msg, cap);
        if (!m) return TETHER_E_NOMEM;
        ep->msg = m;
        ep->msg_cap = cap;
    }
    if (len) memcpy(ep->msg + ep->msg_len, data, len);
    ep->msg_len += len;
    return 0;
}

/* A control frame is complete: answer pings, record a close. */
static int ws_on_control(struct ws_endpoint *ep) {
    int op = tether_parser_opcode(ep->parser);
    if (op == TETHER_OP_PING && !ep->close_sent)
        return ws_send_frame(ep, TETHER_OP_PONG, ep->ctl, ep->ctl_len);
    if (op != TETHER_OP_CLOSE) return 0;
    ep->close_received = 1;
    ep->peer_code = tether_parser_close_code(ep->parser);
    /* Echo the code back (RFC 6455 5.5.1); an empty close gets an empty one. */
    int code = ep->peer_code == TETHER_CLOSE_NO_STATUS ? 0 : ep->peer_code;
    return ws_send_close(ep, code, NULL);
}

/* A data frame ended; returns 1 when it completed a message. */
static int ws_on_data_end(struct ws_endpoint *ep) {
    if (!tether_parser_fin(ep->parser)) return 0;
    if (ep->msg_compressed) {
        int rc = ws_append(ep, NULL, 0, 1);
        if (rc != 0) return rc;
        /* The parser cannot see inside compressed text: check it now. */
        if (ep->msg_opcode == TETHER_OP_TEXT && tether_utf8_validate(ep->msg, ep->msg_len) != 0)
            return TETHER_E_UTF8;
    }
    return 1;
}

/* Handles one parser event; returns 1 for a complete message, 0 to go on,
 * or a negative tether error. */
static int ws_on_event(struct ws_endpoint *ep, int ev, const uint8_t *data, size_t len) {
    int op = tether_parser_opcode(ep->parser);
    int control = op >= TETHER_OP_CLOSE;
    switch (ev) {
    case TETHER_PARSE_FRAME_START:
        if (op == TETHER_OP_TEXT || op == TETHER_OP_BINARY) {
            ep->msg_len = 0;
            ep->msg_opcode = op;
            ep->msg_compressed = tether_parser_message_compressed(ep->parser);
        }
        ep->ctl_len = 0;
        return 0;
    case TETHER_PARSE_PAYLOAD:
        if (!control) return ws_append(ep, data, len, 0);
        memcpy(ep->ctl, data, len); /* the parser hands over a control payload whole */
        ep->ctl_len = len;
        return 0;
    case TETHER_PARSE_FRAME_END:
        return control ? ws_on_control(ep) : ws_on_data_end(ep);
    default:
        return 0;
    }
}

/* Fails the connection for a protocol error: close with tether's code and
 * its reason text, as RFC 6455 7.1.7 asks. */
static int ws_fail(struct ws_endpoint *ep, int err) {
    int code = tether_error_close_code(err);
    const char *why = tether_parser_error_text(ep->parser);
    fprintf(stderr, "protocol error: %s (%s), closing with %d\n", tether_strerror(err),
            why ? why : "-", code ? code : TETHER_CLOSE_PROTOCOL_ERROR);
    ws_send_close(ep, code ? code : TETHER_CLOSE_PROTOCOL_ERROR, tether_strerror(err));
    return -1;
}

/* Reads until a whole message arrives: returns 1 with *op, *data, *len set
 * (data valid until the next call), 0 when the peer closed, -1 on error. */
static int ws_recv(struct ws_endpoint *ep, int *op, const uint8_t **data, size_t *len) {
    for (;;) {
        /* Parse until the parser asks for more: a frame's end can come with
         * no bytes left, right after its last payload byte. */
        for (;;) {
            const uint8_t *slice = NULL;
            size_t used, slice_len = 0;
            int ev = tether_parser_next(ep->parser, ep->in + ep->in_off, ep->in_len - ep->in_off,
                                        &used, &slice, &slice_len);
            ep->in_off += used;
            if (ev < 0) return ws_fail(ep, ev);
            int rc = ws_on_event(ep, ev, slice, slice_len);
            if (rc < 0) return ws_fail(ep, rc);
            if (ep->close_received) return 0;
            if (rc == 1) {
                *op = ep->msg_opcode;
                *data = ep->msg;
                *len = ep->msg_len;
                return 1;
            }
            if (ev == TETHER_PARSE_NEED_MORE) break;
        }
        /* Keep the unparsed tail at the front, then read more after it. */
        memmove(ep->in, ep->in + ep->in_off, ep->in_len - ep->in_off);
        ep->in_len -= ep->in_off;
        ep->in_off = 0;
        ssize_t n = recv(ep->fd, ep->in + ep->in_len, sizeof ep->in - ep->in_len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        ep->in_len += (size_t)n;
    }
}

#endif
