/* libFuzzer target for a connection's receive path, with and without
 * permessage-deflate: the bytes a peer may send after the handshake.
 *
 * Input: byte 0 chooses the role, deflate, context takeover, window bits,
 * streaming and copy mode; bytes 1-2 the message limit; byte 3 the size of
 * the pieces the rest is fed in. Every message delivered must respect the
 * limit and be valid UTF-8 when text; a close must carry a code a peer may
 * see; each message is sent back (through the compressor when deflate is
 * on), and the output queue is drained as a socket would. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tether.h"
#include "fuzz_check.h"
#include "ws/ws.h"

/* A negotiated pmd for our role: the peer offered what byte 0 says. */
static tether_pmd *negotiated(tether_role role, int nct, int bits) {
    tether_pmd *p = tether_pmd_new(role);
    CHECK(p != NULL);
    char ext[160];
    size_t len;
    if (role == TETHER_ROLE_SERVER) {
        snprintf(ext, sizeof ext, "permessage-deflate; client_max_window_bits=%d%s", bits,
                 nct ? "; client_no_context_takeover" : "");
        CHECK(tether_pmd_negotiate(p, ext, ext, sizeof ext, &len) == 1);
    } else {
        CHECK(tether_pmd_set_client_max_window_bits(p, bits) == 0);
        snprintf(ext, sizeof ext, "permessage-deflate; server_max_window_bits=%d%s", bits,
                 nct ? "; server_no_context_takeover" : "");
        CHECK(tether_pmd_accept(p, ext) == 0);
    }
    return p;
}

static void check_event(const tt_ws *c, const tt_ws_ev *ev, const tt_ws_cfg *cfg) {
    switch (ev->type) {
    case TT_WS_EV_MESSAGE:
        CHECK(ev->len <= cfg->max_message);
        CHECK(ev->len == 0 || ev->data != NULL);
        if (ev->opcode == TETHER_OP_TEXT) CHECK(tether_utf8_validate(ev->data, ev->len) == 0);
        break;
    case TT_WS_EV_CLOSE:
        CHECK(ev->code == TETHER_CLOSE_NO_STATUS || tether_close_code_valid(ev->code) ||
              ev->code == TETHER_CLOSE_ABNORMAL);
        CHECK(ev->reason_len <= TETHER_MAX_CLOSE_REASON);
        break;
    default:
        break;
    }
    (void)c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    tether_role role = (data[0] & 1) ? TETHER_ROLE_SERVER : TETHER_ROLE_CLIENT;
    int deflate = (data[0] >> 1) & 1, nct = (data[0] >> 2) & 1;
    int bits = 9 + ((data[0] >> 3) & 7) % 7; /* 9..15 */
    tt_ws_cfg cfg;
    tt_ws_cfg_defaults(&cfg);
    cfg.streaming = (data[0] >> 6) & 1;
    cfg.max_message = 1 + ((size_t)data[1] << 8 | data[2]) * 16;
    cfg.max_frame = cfg.max_message;
    size_t piece = 1 + data[3];
    tt_ws c;
    CHECK(tt_ws_init(&c, role, &cfg, data[0] >> 7, 0) == 0);
    if (deflate) {
        tether_pmd *p = negotiated(role, nct, bits);
        CHECK(tt_ws_set_deflate(&c, p, 16) == 0);
    }
    size_t len = size - 4;
    uint8_t *buf = malloc(len ? len : 1);
    CHECK(buf != NULL);
    memcpy(buf, data + 4, len);
    int closed = 0;
    for (size_t off = 0; off < len && !closed;) {
        size_t n = len - off < piece ? len - off : piece, used = 0;
        tt_ws_ev ev;
        /* Feed one piece until it yields no event; keep the unconsumed
         * tail, as the api layer does. */
        while (tt_ws_input(&c, buf + off, n, &used, &ev) == 1) {
            check_event(&c, &ev, &cfg);
            if (ev.type == TT_WS_EV_MESSAGE)
                tt_ws_send(&c, (tether_opcode)ev.opcode, ev.data, ev.len);
            if (ev.type == TT_WS_EV_CLOSE) closed = 1;
            tt_ws_event_done(&c, ev.type);
            off += used;
            n -= used;
            if (closed) break;
        }
        off += used;
        tt_outbuf_consume(&c.out, tt_outbuf_len(&c.out)); /* the socket took it all */
        if (used == 0 && n > 0) break;                    /* cannot happen: all is consumed */
    }
    tt_ws_cleanup(&c);
    free(buf);
    return 0;
}
