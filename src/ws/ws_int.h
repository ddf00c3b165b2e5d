/* Private to src/ws: what its files share. Other layers use ws/ws.h. */
#ifndef TT_WS_INT_H
#define TT_WS_INT_H

#include "ws/ws.h"

/* Buffers kept for the next message once one is done (larger ones are
 * freed, so an idle connection does not hold its biggest message): the
 * reassembly buffer, and the compressor's and inflater's output. A side
 * without context takeover keeps no codec buffer at all: it sets its zlib
 * stream up per message anyway, and was chosen to save memory. */
#define TT_WS_MSG_KEEP (64u * 1024u)
#define TT_WS_PMD_KEEP (16u * 1024u)

/* The frame length limit the application set: max_frame, or max_message
 * when max_frame is unset (0). */
static inline uint64_t tt_ws_frame_cap(const tt_ws_cfg *cfg) {
    return cfg->max_frame ? cfg->max_frame : cfg->max_message;
}

/* The wire length allowed for compressed data that inflates to at most max
 * bytes: deflate expands incompressible data by at most an eighth (9-bit
 * fixed Huffman codes; stored blocks cost far less), plus block headers. */
static inline uint64_t tt_ws_wire_cap(uint64_t max) {
    uint64_t extra = max / 8 + 1024;
    return max > UINT64_MAX - extra ? UINT64_MAX : max + extra;
}

int tt_ws_pong(tt_ws *c, const void *data, size_t len);
/* Lets go of the message buffer: a big one back to the loop's pool. */
void tt_msg_release(tt_ws *c);
int tt_ws_put_close(tt_ws *c, int code, const char *reason, size_t reason_len);

/* Ends the connection: records code/reason and fills a CLOSE event.
 * Always returns 1 (an event was produced). */
int tt_ws_end(tt_ws *c, int code, const char *reason, size_t reason_len, int clean, int error,
              tt_ws_ev *ev);
/* Fails the connection for err (RFC 6455 7.1.7): sends a close frame with
 * the code for err and why, then ends. Returns 1 with the CLOSE event. */
int tt_ws_fail(tt_ws *c, int err, const char *why, tt_ws_ev *ev);
/* A close frame arrived: answer it if need be, then end cleanly. */
int tt_ws_on_close_frame(tt_ws *c, tt_ws_ev *ev);

#endif
