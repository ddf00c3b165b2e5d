/* A connection's life: set-up with its defaults, and clean-up. */
#include "ws/ws_int.h"

#include <stdlib.h>
#include <string.h>

void tt_ws_cfg_defaults(tt_ws_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_message = TETHER_DEFAULT_MAX_MESSAGE;
    cfg->max_frame = 0; /* follows max_message */
    cfg->utf8_check = 1;
    cfg->close_timeout = 5000;
    cfg->ping_timeout = 20000;
    cfg->message_timeout = TETHER_DEFAULT_MESSAGE_TIMEOUT;
    cfg->send_limit = 64u * 1024u * 1024u;
    cfg->drain_mark = 64u * 1024u;
}

int tt_ws_init(tt_ws *c, tether_role role, const tt_ws_cfg *cfg, int copy_data, uint64_t now) {
    memset(c, 0, sizeof *c);
    c->role = role;
    c->cfg = cfg;
    c->copy_data = copy_data;
    c->last_rx = now;
    c->parser = tether_parser_new(role);
    if (!c->parser) return TETHER_E_NOMEM;
    tether_parser_set_max_frame(c->parser, cfg->max_frame ? cfg->max_frame : cfg->max_message);
    tether_parser_set_utf8_check(c->parser, cfg->utf8_check);
    return 0;
}

void tt_msg_release(tt_ws *c) {
    tt_bufpool_give(c->out.pool, c->msg, c->msg_cap);
    c->msg = NULL;
    c->msg_cap = c->msg_len = 0;
}

void tt_ws_cleanup(tt_ws *c) {
    tether_parser_free(c->parser);
    c->parser = NULL;
    tt_msg_release(c);
    tt_outbuf_free(&c->out);
    tether_pmd_free(c->pmd);
    c->pmd = NULL;
}
