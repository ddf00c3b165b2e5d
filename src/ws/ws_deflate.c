/* permessage-deflate on a connection (RFC 7692): switching it on after the
 * negotiation. Receiving compressed messages is in ws_rx.c, sending them
 * in ws_tx.c; the codec itself is src/proto/deflate_codec.c. */
#include "ws/ws_int.h"
#include "proto/deflate.h"

/* The inflated-size cap: a whole message's, or in streaming mode (where a
 * message has no size limit) each frame's, like the limits on plain data. */
static uint64_t tt_ws_inflate_cap(const tt_ws_cfg *cfg) {
    return cfg->streaming ? tt_ws_frame_cap(cfg) : cfg->max_message;
}

int tt_ws_set_deflate(tt_ws *c, tether_pmd *pmd, size_t threshold) {
    if (!c || !pmd || c->pmd || !c->parser || tether_pmd_enabled(pmd) != 1 ||
        tt_pmd_role(pmd) != c->role)
        return TETHER_E_INVAL;
    if (tether_pmd_set_max_decompressed(pmd, tt_ws_inflate_cap(c->cfg)) != 0) return TETHER_E_INVAL;
    if (tether_parser_set_rsv_allowed(c->parser, TETHER_RSV1) != 0) return TETHER_E_INVAL;
    /* A frame limit that follows max_message is about what the application
     * receives: a compressed frame may be a little longer on the wire. Plain
     * frames are held to max_message by conn_rx.c. */
    if (!c->cfg->max_frame)
        tether_parser_set_max_frame(c->parser, tt_ws_wire_cap(c->cfg->max_message));
    c->pmd = pmd;
    c->deflate_threshold = threshold;
    return 0;
}
