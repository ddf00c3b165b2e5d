/* permessage-deflate: the object, its preferences, and the negotiation of
 * RFC 7692 section 7 (client offer and response check, server choice). */
#include "proto/deflate_int.h"

#include "proto/ext_header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TT_PMD_NAME "permessage-deflate"
#define TT_PMD_SNCT "server_no_context_takeover"
#define TT_PMD_CNCT "client_no_context_takeover"
#define TT_PMD_SMWB "server_max_window_bits"
#define TT_PMD_CMWB "client_max_window_bits"

/* A window parameter that was absent, or present without a value (only
 * client_max_window_bits in an offer may be). */
#define TT_BITS_ABSENT 0
#define TT_BITS_NO_VALUE (-1)

/* The parameters of one offer or response, as received. */
typedef struct tt_pmd_params {
    int snct;
    int cnct;
    int smwb; /* TT_BITS_ABSENT or 8..15 */
    int cmwb; /* TT_BITS_ABSENT, TT_BITS_NO_VALUE or 8..15 */
} tt_pmd_params;

tether_pmd *tether_pmd_new(tether_role role) {
    tether_pmd *pmd;
    if (role != TETHER_ROLE_CLIENT && role != TETHER_ROLE_SERVER) return NULL;
    pmd = calloc(1, sizeof *pmd);
    if (pmd == NULL) return NULL;
    pmd->role = role;
    pmd->want_server.max_window_bits = TT_PMD_MAX_BITS;
    pmd->want_client.max_window_bits = TT_PMD_MAX_BITS;
    pmd->server.max_window_bits = TT_PMD_MAX_BITS;
    pmd->client.max_window_bits = TT_PMD_MAX_BITS;
    pmd->level = 6; /* zlib's own default */
    pmd->mem_level = 8;
    pmd->max_decompressed = TETHER_DEFAULT_MAX_DECOMPRESSED;
    return pmd;
}

void tether_pmd_free(tether_pmd *pmd) {
    if (pmd == NULL) return;
    tt_pmd_codec_free(pmd);
    free(pmd);
}

/* --- Preferences -------------------------------------------------------- */

/* Common guard of the preference setters. */
static int tt_pmd_settable(const tether_pmd *pmd) {
    if (pmd == NULL) return TETHER_E_INVAL;
    return pmd->negotiated ? TETHER_E_STATE : 0;
}

static int tt_pmd_set_flag(tether_pmd *pmd, int *flag, int on) {
    int rc = tt_pmd_settable(pmd);
    if (rc == 0) *flag = on != 0;
    return rc;
}

/* Our own limits are 9..15: 8 cannot be honoured by zlib's deflate, and we
 * refuse to ask a peer for what we could not do ourselves. */
static int tt_pmd_set_bits(tether_pmd *pmd, int *bits, int value) {
    int rc = tt_pmd_settable(pmd);
    if (rc != 0) return rc;
    if (value < TT_PMD_MIN_DEFLATE_BITS || value > TT_PMD_MAX_BITS) return TETHER_E_INVAL;
    *bits = value;
    return 0;
}

int tether_pmd_set_server_no_context_takeover(tether_pmd *pmd, int on) {
    return tt_pmd_set_flag(pmd, pmd ? &pmd->want_server.no_context_takeover : NULL, on);
}

int tether_pmd_set_client_no_context_takeover(tether_pmd *pmd, int on) {
    return tt_pmd_set_flag(pmd, pmd ? &pmd->want_client.no_context_takeover : NULL, on);
}

int tether_pmd_set_server_max_window_bits(tether_pmd *pmd, int bits) {
    return tt_pmd_set_bits(pmd, pmd ? &pmd->want_server.max_window_bits : NULL, bits);
}

int tether_pmd_set_client_max_window_bits(tether_pmd *pmd, int bits) {
    return tt_pmd_set_bits(pmd, pmd ? &pmd->want_client.max_window_bits : NULL, bits);
}

int tether_pmd_set_level(tether_pmd *pmd, int level) {
    int rc = tt_pmd_settable(pmd);
    if (rc != 0) return rc;
    if (level < 0 || level > 9) return TETHER_E_INVAL;
    pmd->level = level;
    return 0;
}

int tether_pmd_set_mem_level(tether_pmd *pmd, int mem_level) {
    int rc = tt_pmd_settable(pmd);
    if (rc != 0) return rc;
    if (mem_level < 1 || mem_level > 9) return TETHER_E_INVAL;
    pmd->mem_level = mem_level;
    return 0;
}

int tether_pmd_set_max_decompressed(tether_pmd *pmd, uint64_t max) {
    if (pmd == NULL || max == 0) return TETHER_E_INVAL;
    pmd->max_decompressed = max;
    return 0;
}

/* --- Parameter parsing -------------------------------------------------- */

/* A window size as RFC 7692 writes it: decimal 8..15, no leading zero.
 * Returns the value, or -1. */
static int tt_pmd_bits_value(const char *v) {
    if (v == NULL) return -1;
    if ((v[0] == '8' || v[0] == '9') && v[1] == '\0') return v[0] - '0';
    if (v[0] == '1' && v[1] >= '0' && v[1] <= '5' && v[2] == '\0') return 10 + (v[1] - '0');
    return -1;
}

/* Reads one parameter into p; -1 if unknown, repeated or badly valued.
 * In an offer client_max_window_bits may have no value; in a response
 * every window parameter must have one. */
static int tt_pmd_param(tt_pmd_params *p, const tt_ext_param *param, int is_response) {
    const char *n = param->name;
    int bits;
    if (strcmp(n, TT_PMD_SNCT) == 0 || strcmp(n, TT_PMD_CNCT) == 0) {
        int *flag = n[0] == 's' ? &p->snct : &p->cnct;
        if (*flag || param->value != NULL) return -1;
        *flag = 1;
        return 0;
    }
    if (strcmp(n, TT_PMD_SMWB) != 0 && strcmp(n, TT_PMD_CMWB) != 0) return -1;
    int *slot = n[0] == 's' ? &p->smwb : &p->cmwb;
    if (*slot != TT_BITS_ABSENT) return -1;
    if (param->value == NULL && slot == &p->cmwb && !is_response) {
        *slot = TT_BITS_NO_VALUE;
        return 0;
    }
    bits = tt_pmd_bits_value(param->value);
    if (bits < 0) return -1;
    *slot = bits;
    return 0;
}

static int tt_pmd_params_read(tt_pmd_params *p, const tt_ext_param *params, size_t n,
                              int is_response) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < n; i++)
        if (tt_pmd_param(p, &params[i], is_response) != 0) return -1;
    return 0;
}

/* --- Writing offers and responses --------------------------------------- */

typedef struct tt_pmd_writer {
    char *out;
    size_t cap;
    size_t len;
    int overflow;
} tt_pmd_writer;

static void tt_pmd_write(tt_pmd_writer *w, const char *s, int bits) {
    char num[16] = "";
    size_t n, m;
    if (bits > 0) snprintf(num, sizeof num, "=%d", bits);
    n = strlen(s);
    m = strlen(num);
    if (w->overflow || w->len + n + m >= w->cap) {
        w->overflow = 1;
        return;
    }
    memcpy(w->out + w->len, s, n);
    memcpy(w->out + w->len + n, num, m);
    w->len += n + m;
    w->out[w->len] = '\0';
}

/* Writes "permessage-deflate" and the parameters; bits 0 leaves a window
 * parameter out, TT_BITS_NO_VALUE writes it without a value. */
static int tt_pmd_write_ext(char *out, size_t cap, size_t *len, const tt_pmd_params *p) {
    tt_pmd_writer w = {out, cap, 0, 0};
    tt_pmd_write(&w, TT_PMD_NAME, 0);
    if (p->snct) tt_pmd_write(&w, "; " TT_PMD_SNCT, 0);
    if (p->cnct) tt_pmd_write(&w, "; " TT_PMD_CNCT, 0);
    if (p->smwb != TT_BITS_ABSENT) tt_pmd_write(&w, "; " TT_PMD_SMWB, p->smwb);
    if (p->cmwb != TT_BITS_ABSENT) tt_pmd_write(&w, "; " TT_PMD_CMWB, p->cmwb);
    if (w.overflow) return TETHER_E_NOSPC;
    *len = w.len;
    return 0;
}

/* --- Client ------------------------------------------------------------- */

/* What a client offers: its flags, a server window only when limited, and
 * always client_max_window_bits so that the server may limit ours. */
static void tt_pmd_client_offer(const tether_pmd *pmd, tt_pmd_params *p) {
    p->snct = pmd->want_server.no_context_takeover;
    p->cnct = pmd->want_client.no_context_takeover;
    p->smwb = pmd->want_server.max_window_bits < TT_PMD_MAX_BITS ? pmd->want_server.max_window_bits
                                                                 : TT_BITS_ABSENT;
    p->cmwb = pmd->want_client.max_window_bits < TT_PMD_MAX_BITS ? pmd->want_client.max_window_bits
                                                                 : TT_BITS_NO_VALUE;
}

int tether_pmd_offer(const tether_pmd *pmd, char *out, size_t cap, size_t *len) {
    tt_pmd_params p;
    if (pmd == NULL || out == NULL || len == NULL) return TETHER_E_INVAL;
    if (pmd->role != TETHER_ROLE_CLIENT) return TETHER_E_STATE;
    tt_pmd_client_offer(pmd, &p);
    return tt_pmd_write_ext(out, cap, len, &p);
}

typedef struct tt_pmd_response {
    int seen;
    tt_pmd_params params;
} tt_pmd_response;

/* The response may name permessage-deflate once and nothing else. */
static int tt_pmd_visit_response(void *ctx, const char *name, const tt_ext_param *params,
                                 size_t n) {
    tt_pmd_response *r = ctx;
    if (strcmp(name, TT_PMD_NAME) != 0 || r->seen) return TETHER_E_HS_EXTENSION;
    r->seen = 1;
    if (tt_pmd_params_read(&r->params, params, n, 1) != 0) return TETHER_E_HS_EXTENSION;
    return 0;
}

/* Checks an accepted response against what we offered and sets what is in
 * force. A server must answer a window limit we asked for with the same or
 * a smaller one (RFC 7692 7.1.2.1), and may shrink ours but never to 8,
 * which our compressor cannot use. A server that names a bigger window
 * for us than we offered (some answer client_max_window_bits=15 to 12)
 * breaks a "should not" of 7.1.2.2, but compressing with our own smaller
 * window is always safe for its inflater: we accept and keep ours. */
static int tt_pmd_client_settle(tether_pmd *pmd, const tt_pmd_params *r) {
    const tt_pmd_side *ws = &pmd->want_server, *wc = &pmd->want_client;
    if (ws->no_context_takeover && !r->snct) return TETHER_E_HS_EXTENSION;
    if (ws->max_window_bits < TT_PMD_MAX_BITS &&
        (r->smwb == TT_BITS_ABSENT || r->smwb > ws->max_window_bits))
        return TETHER_E_HS_EXTENSION;
    if (r->cmwb != TT_BITS_ABSENT && r->cmwb < TT_PMD_MIN_DEFLATE_BITS)
        return TETHER_E_HS_EXTENSION;
    pmd->server.no_context_takeover = r->snct;
    pmd->server.max_window_bits = r->smwb != TT_BITS_ABSENT ? r->smwb : TT_PMD_MAX_BITS;
    /* We keep to what we offered even if the server did not echo it. */
    pmd->client.no_context_takeover = r->cnct || wc->no_context_takeover;
    pmd->client.max_window_bits =
        r->cmwb != TT_BITS_ABSENT && r->cmwb < wc->max_window_bits ? r->cmwb : wc->max_window_bits;
    return 0;
}

int tether_pmd_accept(tether_pmd *pmd, const char *response) {
    tt_pmd_response r;
    int rc;
    if (pmd == NULL) return TETHER_E_INVAL;
    if (pmd->role != TETHER_ROLE_CLIENT || pmd->negotiated) return TETHER_E_STATE;
    memset(&r, 0, sizeof r);
    if (response != NULL) {
        rc = tt_ext_parse(response, strlen(response), tt_pmd_visit_response, &r);
        if (rc != 0) return rc;
    }
    if (r.seen && (rc = tt_pmd_client_settle(pmd, &r.params)) != 0) return rc;
    pmd->negotiated = 1;
    pmd->enabled = r.seen;
    return 0;
}

/* --- Server ------------------------------------------------------------- */

typedef struct tt_pmd_choice {
    const tether_pmd *pmd;
    tt_pmd_params reply; /* what the response will say */
    tt_pmd_side server;  /* what will be in force */
    tt_pmd_side client;
} tt_pmd_choice;

static int tt_pmd_min(int a, int b) {
    return a < b ? a : b;
}

/* Decides on one valid offer; 0 if we can accept it, -1 to decline. */
static int tt_pmd_server_choose(tt_pmd_choice *c, const tt_pmd_params *o) {
    const tt_pmd_side *ws = &c->pmd->want_server, *wc = &c->pmd->want_client;
    int offered_smwb = o->smwb != TT_BITS_ABSENT ? o->smwb : TT_PMD_MAX_BITS;
    int offered_cmwb = o->cmwb > 0 ? o->cmwb : TT_PMD_MAX_BITS;
    memset(&c->reply, 0, sizeof c->reply);
    /* Our compressor cannot make an 8-bit window. */
    if (offered_smwb < TT_PMD_MIN_DEFLATE_BITS) return -1;
    /* We may only limit the client's window if it offered the parameter. */
    if (wc->max_window_bits < TT_PMD_MAX_BITS && o->cmwb == TT_BITS_ABSENT) return -1;

    c->server.no_context_takeover = o->snct || ws->no_context_takeover;
    c->server.max_window_bits = tt_pmd_min(offered_smwb, ws->max_window_bits);
    c->client.no_context_takeover = wc->no_context_takeover;
    c->client.max_window_bits = TT_PMD_MAX_BITS;
    if (wc->max_window_bits < TT_PMD_MAX_BITS)
        c->client.max_window_bits = tt_pmd_min(offered_cmwb, wc->max_window_bits);

    c->reply.snct = c->server.no_context_takeover;
    c->reply.cnct = c->client.no_context_takeover;
    if (o->smwb != TT_BITS_ABSENT || ws->max_window_bits < TT_PMD_MAX_BITS)
        c->reply.smwb = c->server.max_window_bits;
    if (wc->max_window_bits < TT_PMD_MAX_BITS) c->reply.cmwb = c->client.max_window_bits;
    return 0;
}

/* Skips other extensions and invalid or unacceptable offers; returns 1 to
 * stop at the first offer we accept. */
static int tt_pmd_visit_offer(void *ctx, const char *name, const tt_ext_param *params, size_t n) {
    tt_pmd_choice *c = ctx;
    tt_pmd_params o;
    if (strcmp(name, TT_PMD_NAME) != 0) return 0;
    if (tt_pmd_params_read(&o, params, n, 0) != 0) return 0;
    return tt_pmd_server_choose(c, &o) == 0 ? 1 : 0;
}

int tether_pmd_negotiate(tether_pmd *pmd, const char *offers, char *out, size_t cap, size_t *len) {
    tt_pmd_choice c;
    int rc = 0;
    if (pmd == NULL || out == NULL || len == NULL) return TETHER_E_INVAL;
    if (pmd->role != TETHER_ROLE_SERVER || pmd->negotiated) return TETHER_E_STATE;
    memset(&c, 0, sizeof c);
    c.pmd = pmd;
    if (offers != NULL) rc = tt_ext_parse(offers, strlen(offers), tt_pmd_visit_offer, &c);
    if (rc < 0) return rc;
    if (rc == 1) {
        /* Nothing is committed until the response fits. */
        int wrc = tt_pmd_write_ext(out, cap, len, &c.reply);
        if (wrc != 0) return wrc;
        pmd->server = c.server;
        pmd->client = c.client;
    } else {
        *len = 0;
        if (cap > 0) out[0] = '\0';
    }
    pmd->negotiated = 1;
    pmd->enabled = rc == 1;
    return rc == 1;
}

/* --- Getters ------------------------------------------------------------ */

int tether_pmd_enabled(const tether_pmd *pmd) {
    return pmd == NULL ? TETHER_E_INVAL : pmd->enabled;
}

int tether_pmd_server_no_context_takeover(const tether_pmd *pmd) {
    return pmd == NULL ? TETHER_E_INVAL : pmd->server.no_context_takeover;
}

int tether_pmd_client_no_context_takeover(const tether_pmd *pmd) {
    return pmd == NULL ? TETHER_E_INVAL : pmd->client.no_context_takeover;
}

int tether_pmd_server_max_window_bits(const tether_pmd *pmd) {
    return pmd == NULL ? TETHER_E_INVAL : pmd->server.max_window_bits;
}

int tether_pmd_client_max_window_bits(const tether_pmd *pmd) {
    return pmd == NULL ? TETHER_E_INVAL : pmd->client.max_window_bits;
}

tether_role tt_pmd_role(const tether_pmd *pmd) {
    return pmd->role;
}

int tt_pmd_no_takeover(const tether_pmd *pmd, int ours) {
    return (ours ? tt_pmd_ours(pmd) : tt_pmd_peers(pmd))->no_context_takeover;
}
