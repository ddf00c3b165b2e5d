/* permessage-deflate on live connections: our options become a tether_pmd
 * before the handshake, the handshake negotiates it (RFC 7692 section 7),
 * and a negotiated one is handed to the WebSocket state machine. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

/* The longest extension value we write: every parameter with a value. */
#define TT_EXT_MAX 160

/* Window limits to negotiate. Set by the user, they are demands: an offer
 * that cannot meet them is declined. The defaults only shape our own side:
 * a client does not ask the server to limit its window (some servers
 * answer such an offer without the parameter), and a server limits the
 * client's window only if the client allows it (soft: see
 * tt_deflate_server_negotiate). */
static void tt_pmd_bits(const tether_opts *o, tether_role role, int soft, int *sb, int *cb) {
    const tt_deflate_opts *d = &o->deflate;
    *sb = d->server_bits;
    *cb = d->client_bits;
    if (d->bits_set) return;
    if (role == TETHER_ROLE_CLIENT) *sb = 0;
    if (role == TETHER_ROLE_SERVER && soft) *cb = 0;
}

static tether_pmd *tt_pmd_from_opts(const tether_opts *o, tether_role role, int soft) {
    const tt_deflate_opts *d = &o->deflate;
    tether_pmd *pmd = tether_pmd_new(role);
    if (!pmd) return NULL;
    int sb, cb;
    tt_pmd_bits(o, role, soft, &sb, &cb);
    int rc = tether_pmd_set_server_no_context_takeover(pmd, d->server_nct);
    if (!rc) rc = tether_pmd_set_client_no_context_takeover(pmd, d->client_nct);
    if (!rc && sb) rc = tether_pmd_set_server_max_window_bits(pmd, sb);
    if (!rc && cb) rc = tether_pmd_set_client_max_window_bits(pmd, cb);
    if (!rc) rc = tether_pmd_set_level(pmd, d->level);
    if (!rc) rc = tether_pmd_set_mem_level(pmd, d->mem_level);
    if (!rc) rc = tether_pmd_set_max_decompressed(pmd, o->cfg.max_message);
    if (rc) {
        tether_pmd_free(pmd);
        return NULL;
    }
    return pmd;
}

/* Hands a negotiated extension to the WebSocket and remembers its text. */
static int tt_deflate_start(tether_conn *c, const char *value) {
    tether_pmd *pmd = c->pmd;
    c->pmd = NULL;
    if (!tether_pmd_enabled(pmd)) {
        tether_pmd_free(pmd);
        return 0;
    }
    int rc = (c->extensions = strdup(value)) ? 0 : TETHER_E_NOMEM;
    /* messages without context takeover borrow the thread's compressor */
    if (!rc && tt_pmd_no_takeover(pmd, 1) && !c->ctx->pmd_shared)
        rc = (c->ctx->pmd_shared = tt_pmd_shared_new()) ? 0 : TETHER_E_NOMEM;
    if (!rc && tt_pmd_no_takeover(pmd, 1)) tt_pmd_share(pmd, c->ctx->pmd_shared);
    if (!rc) rc = tt_ws_set_deflate(&c->ws, pmd, c->opts->deflate.threshold);
    if (rc) tether_pmd_free(pmd); /* on failure it stays ours */
    return rc;
}

int tt_deflate_client_offer(tether_conn *c) {
    if (!c->opts->deflate.on) return 0;
    char offer[TT_EXT_MAX];
    size_t len;
    if (!(c->pmd = tt_pmd_from_opts(c->opts, TETHER_ROLE_CLIENT, 0))) return TETHER_E_NOMEM;
    int rc = tether_pmd_offer(c->pmd, offer, sizeof offer, &len);
    return rc ? rc : tether_client_hs_add_extension(c->chs, offer);
}

int tt_deflate_client_accept(tether_conn *c) {
    const char *resp = tether_client_hs_extensions(c->chs);
    if (!c->pmd) return resp ? TETHER_E_HS_EXTENSION : 0; /* nothing was offered */
    int rc = tether_pmd_accept(c->pmd, resp);
    return rc ? rc : tt_deflate_start(c, resp);
}

/* Negotiates with our preferences; with default windows, an offer that
 * does not let us limit the client's window is accepted at 15 bits rather
 * than declined (browsers and many clients send such offers). */
static int tt_deflate_server_try(tether_conn *c, const char *offers, int soft, char *resp,
                                 size_t cap) {
    size_t len;
    tether_pmd_free(c->pmd);
    if (!(c->pmd = tt_pmd_from_opts(c->opts, TETHER_ROLE_SERVER, soft))) return TETHER_E_NOMEM;
    return tether_pmd_negotiate(c->pmd, offers, resp, cap, &len);
}

int tt_deflate_server_negotiate(tether_conn *c) {
    const char *offers = tether_server_hs_extensions(c->shs);
    if (!c->opts->deflate.on || !offers) return 0;
    char resp[TT_EXT_MAX];
    int rc = tt_deflate_server_try(c, offers, 0, resp, sizeof resp);
    if (rc == 0 && !c->opts->deflate.bits_set)
        rc = tt_deflate_server_try(c, offers, 1, resp, sizeof resp);
    if (rc == 1) rc = tether_server_hs_set_extensions(c->shs, resp);
    if (rc == 0 && tether_pmd_enabled(c->pmd)) rc = tt_deflate_start(c, resp);
    if (rc == TETHER_E_HS_EXTENSION) rc = 0; /* a malformed offer is declined, not fatal */
    if (c->pmd) {
        tether_pmd_free(c->pmd);
        c->pmd = NULL;
    }
    return rc;
}
