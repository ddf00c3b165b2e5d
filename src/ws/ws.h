/* Internal: one WebSocket connection's state machine after the opening
 * handshake, over the protocol layer and without any I/O, like the parser
 * under it. Bytes go in with tt_ws_input(), which stops at each event it
 * produces; sends append frames to an output queue the caller writes out;
 * time goes in with tt_ws_on_timer(). The api layer moves the bytes.
 *
 * It does: message reassembly up to a limit or streaming delivery,
 * automatic pong, keepalive pings with a dead-peer timeout, the closing
 * handshake in both directions with a timeout, permessage-deflate once
 * negotiated (RFC 7692), and the failure of the connection with the right
 * close code for every protocol error. */
#ifndef TT_WS_H
#define TT_WS_H

#include <stddef.h>
#include <string.h>
#include <stdint.h>

#include "tether.h"
#include "ws/outbuf.h"

/* Settings shared by every connection made with one options object. */
typedef struct tt_ws_cfg {
    uint64_t max_message, max_frame;
    int streaming, utf8_check;
    unsigned close_timeout, idle_timeout, ping_interval, ping_timeout;
    unsigned message_timeout; /* first frame of a message to its last; 0: none */
    size_t send_limit, drain_mark;
} tt_ws_cfg;

void tt_ws_cfg_defaults(tt_ws_cfg *cfg);

typedef enum tt_ws_state {
    TT_WS_OPEN,    /* data flows both ways */
    TT_WS_CLOSING, /* we sent a close frame and wait for the peer's */
    TT_WS_CLOSED   /* the closing handshake is over, or the connection failed */
} tt_ws_state;

typedef enum tt_ws_ev_type {
    TT_WS_EV_NONE = 0,
    TT_WS_EV_MESSAGE,
    TT_WS_EV_FRAGMENT,
    TT_WS_EV_PING,
    TT_WS_EV_PONG,
    TT_WS_EV_CLOSE /* the end: code, reason, clean, error */
} tt_ws_ev_type;

/* The public event type (TETHER_EV_*) of an engine event: one map for the
 * live connections and the public engine alike. */
static inline int tt_ws_ev_public_type(tt_ws_ev_type t) {
    static const int map[] = {
        [TT_WS_EV_MESSAGE] = TETHER_EV_MESSAGE, [TT_WS_EV_FRAGMENT] = TETHER_EV_FRAGMENT,
        [TT_WS_EV_PING] = TETHER_EV_PING,       [TT_WS_EV_PONG] = TETHER_EV_PONG,
        [TT_WS_EV_CLOSE] = TETHER_EV_CLOSED,
    };
    return map[t];
}

/* An event; data stays valid until the next tt_ws_input() call (it may
 * point into the caller's input buffer, or into the connection). */
typedef struct tt_ws_ev {
    tt_ws_ev_type type;
    int opcode, fin;
    const uint8_t *data;
    size_t len;
    int code, clean, error;
    const char *reason; /* CLOSE: points into reason_buf */
    size_t reason_len;
    /* The close reason lives in the event, not in every connection: it is
     * needed only while the event is taken. Copy the event, and its reason
     * pointer still points into the original. */
    char reason_buf[TETHER_MAX_CLOSE_REASON + 1];
} tt_ws_ev;

/* Clears an event but its reason buffer (per message: no need to zero it). */
static inline void tt_ws_ev_clear(tt_ws_ev *ev) {
    memset(ev, 0, offsetof(tt_ws_ev, reason_buf));
    ev->reason_buf[0] = 0;
}

typedef struct tt_ws tt_ws;

/* A way to write a big frame at once instead of copying it into the queue:
 * the connection's socket, when nothing waits before the frame. Called
 * with the frame's header and payload only while the queue is empty;
 * returns how many bytes went (0 when it cannot write now, or the write
 * failed: the rest is queued, and the queue's next write says why). The
 * writer may also hold the frame, to write it with the next ones, and say
 * it all went; it then sets direct_held, and is called with no frame
 * (iov NULL) before anything else is queued: it writes what it holds,
 * queueing what the socket does not take, and clears the flag. */
typedef size_t (*tt_ws_direct_fn)(tt_ws *c, const struct iovec *iov, int n);

/* Payloads from this size go through tt_ws_direct_fn when one is set: below
 * it, copying costs less than a write per frame (frames queued in a round
 * share one write). */
#define TT_WS_DIRECT_MIN (8u * 1024u)

struct tt_ws {
    tether_role role;
    tt_ws_state state;
    const tt_ws_cfg *cfg;
    tether_parser *parser;

    /* receive side */
    int msg_opcode;
    uint32_t rx_utf8;      /* the inflated text's UTF-8 state */
    uint64_t msg_total;    /* bytes announced by the message's frames */
    const uint8_t *single; /* zero-copy: the message is this one slice */
    size_t single_len;
    uint8_t *msg; /* reassembly buffer */
    size_t msg_len, msg_cap;
    const uint8_t *ctl; /* a control frame's payload, as the parser gave it
                         * (whole, valid until its FRAME_END is handled) */
    size_t ctl_len;
    uint64_t msg_started; /* when its first frame began to arrive */

    /* send side */
    tt_outbuf out;
    int tx_frag_opcode;     /* streaming send in progress: its opcode */
    uint32_t tx_utf8;       /* streaming text send: UTF-8 state */
    size_t owed_below;      /* bytes the layers under this one still owe the peer */
    tt_ws_direct_fn direct; /* NULL: every frame is queued */

    /* permessage-deflate, once negotiated (tt_ws_set_deflate) */
    tether_pmd *pmd;
    size_t deflate_threshold;

    /* the end */
    int close_code;

    /* Flags, one bit each. */
    unsigned copy_data : 1;        /* never hand out slices of the input: poll mode */
    unsigned fin_sent_up : 1;      /* streaming: the last fragment was delivered */
    unsigned rx_compressed : 1;    /* the message being received had RSV1 */
    unsigned rx_inflated_end : 1;  /* its last piece has been through the inflater */
    unsigned rx_in_message : 1;    /* a data message has begun and not ended */
    unsigned tx_compressed : 1;    /* streaming send in progress: it is compressed */
    unsigned close_sent : 1;       /* our close frame is queued */
    unsigned above_mark : 1;       /* buffered went over the drain mark */
    unsigned ping_outstanding : 1; /* a keepalive ping awaits its pong */
    unsigned direct_held : 1;      /* the direct writer holds frames of ours */

    /* time, in tt_now_ms() units, kept by the caller */
    uint64_t last_rx, ping_sent, close_deadline;
};

/* Sets up c for a connection whose handshake is done. cfg must outlive c.
 * Returns 0 or TETHER_E_NOMEM. */
int tt_ws_init(tt_ws *c, tether_role role, const tt_ws_cfg *cfg, int copy_data, uint64_t now);
void tt_ws_cleanup(tt_ws *c);

/* Turns permessage-deflate on for this connection after a successful
 * negotiation: takes ownership of pmd (tether_pmd_enabled(pmd) == 1; freed by
 * tt_ws_cleanup). Data messages of at least threshold bytes are sent
 * compressed; received messages with RSV1 are inflated, capped at
 * cfg->max_message (1009 past it). Returns 0 or TETHER_E_INVAL.
 *
 * Call it after tt_ws_init() and before any frame flows, with a pmd of
 * the connection's role; on error pmd stays the caller's. Then:
 * - a message sent in pieces (tt_ws_send_fragment) is compressed, decided
 *   at its first piece, when that piece is not the last (the total is
 *   unknown, and streamed messages are the big ones) or is at least
 *   threshold bytes;
 * - the send limit counts the compressed bytes queued: a compressed send is
 *   refused (TETHER_E_BACKPRESSURE) when its compressed size would not fit;
 * - in streaming mode each frame's inflated output is capped at the frame
 *   limit (max_frame, else max_message), as a plain frame is, and delivered
 *   as it comes;
 * - with max_frame unset, a compressed frame may be up to an eighth longer
 *   on the wire than max_message: deflate slightly expands data it cannot
 *   compress, and the limit is on what the application receives. */
int tt_ws_set_deflate(tt_ws *c, tether_pmd *pmd, size_t threshold);

/* Feeds received bytes (buf is modified: unmasked in place). Stops after
 * an event: returns 1 with *ev filled and *consumed set; the caller calls
 * again with the rest. Returns 0 when all input is consumed with no event.
 * After TT_WS_EV_CLOSE, input is ignored. */
int tt_ws_input(tt_ws *c, uint8_t *buf, size_t len, size_t *consumed, tt_ws_ev *ev);
/* Where the caller may put the next input itself, to spare a copy: while
 * the rest of a big data frame's payload (at least TT_WS_ROOM_MIN bytes)
 * is due and the message is being gathered, the end of the message buffer,
 * made big enough for that rest; *max is how many bytes of it belong to
 * the frame. The caller reads at most *max bytes there and passes them to
 * tt_ws_input() as its input, as usual; NULL: read elsewhere as usual.
 * (A WebSocket server's 1 MiB messages: the read buffer's copy into the
 * message buffer was 15% of its time.) */
#define TT_WS_ROOM_MIN (16u * 1024u)
uint8_t *tt_ws_rx_room(tt_ws *c, size_t *max);
/* The caller is done with the last event's data (frees big buffers). */
void tt_ws_event_done(tt_ws *c, tt_ws_ev_type type);

/* Sends: whole message, streaming piece, ping, close. Errors:
 * TETHER_E_STATE, TETHER_E_BACKPRESSURE, TETHER_E_UTF8, TETHER_E_INVAL,
 * TETHER_E_NOMEM, TETHER_E_CLOSE_CODE / _CLOSE_PAYLOAD (close). */
int tt_ws_send(tt_ws *c, tether_opcode op, const void *data, size_t len);
/* tt_ws_send(), validating a text message only if check_utf8: text known to
 * be valid (received from a peer whose UTF-8 was checked) is not scanned
 * again. */
int tt_ws_send_checked(tt_ws *c, tether_opcode op, const void *data, size_t len, int check_utf8);
int tt_ws_send_fragment(tt_ws *c, tether_opcode op, const void *data, size_t len, int fin);
int tt_ws_ping(tt_ws *c, const void *data, size_t len);
/* Queues a shared frame (a whole data message of payload_len bytes, built
 * once for many connections) by reference. Only where no copy of its own
 * is needed: a server (a client masks each frame) whose message would not
 * be compressed (tt_ws_can_share). Errors as tt_ws_send, and
 * TETHER_E_INVAL where it cannot be shared. */
int tt_ws_can_share(const tt_ws *c, size_t payload_len);
int tt_ws_send_shared(tt_ws *c, tt_shared_frame *f, size_t payload_len);
int tt_ws_close(tt_ws *c, int code, const char *reason, uint64_t now);

/* The peer's byte stream ended (err TETHER_E_CLOSED) or failed
 * (TETHER_E_IO): returns 1 with a CLOSE event (1006) unless the connection
 * was already closed. */
int tt_ws_abort(tt_ws *c, int err, tt_ws_ev *ev);

/* Time: the absolute time of the next deadline (0: none), and what to do
 * when it comes: returns 1 with a CLOSE event when the connection dies of
 * it (keepalive 1011, close timeout 1006, idle 1001, a message not
 * finished within message_timeout 1008), else 0 (maybe a ping queued). */
uint64_t tt_ws_deadline(const tt_ws *c);
int tt_ws_on_timer(tt_ws *c, uint64_t now, tt_ws_ev *ev);

/* Bytes arrived at `now`: the peer is alive. Returns 1 if that answered an
 * outstanding keepalive ping, which moves tt_ws_deadline() earlier. */
int tt_ws_note_rx(tt_ws *c, uint64_t now);

/* The frame queue, for whoever writes it out: its first contiguous piece
 * (NULL and *len 0 when empty), up to max pieces for one writev, what the
 * transport took of it (n may span pieces), and dropping it all when the
 * peer is gone. */
const uint8_t *tt_ws_output(const tt_ws *c, size_t *len);
int tt_ws_output_pieces(const tt_ws *c, struct iovec *iov, int max);
void tt_ws_output_sent(tt_ws *c, size_t n);
void tt_ws_output_drop(tt_ws *c);
/* Events must not point into the caller's input (it will be reused before
 * the event is done with: poll mode) or may (callback mode). */
void tt_ws_set_copy_data(tt_ws *c, int copy);

/* Whether a DRAIN should be reported now (clears the condition). */
int tt_ws_take_drain(tt_ws *c);
/* Every byte the connection still owes the peer: the frame queue plus what
 * the transport under it (TLS) holds, as last told by
 * tt_ws_set_owed_below(). The send limit and the drain mark count this. */
size_t tt_ws_buffered(const tt_ws *c);
/* The memory this connection alone holds for sending: tt_ws_buffered()
 * without the shared frames, which are counted once where they are made. */
size_t tt_ws_held(const tt_ws *c);
void tt_ws_set_owed_below(tt_ws *c, size_t n);

#endif
