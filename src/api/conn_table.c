/* The context's table of connections, by id (so other threads can name
 * them safely), and the round's work lists: connections to resume, to
 * flush, to free. Only list bookkeeping: the round that works through
 * them is ctx.c's. */
#include "api/api.h"

#include <stdlib.h>

/* ---- connections by id ---------------------------------------------------
 * id = generation << 32 | (slot + 1): a stale id finds a newer generation
 * in its slot, or an empty slot, and so never the wrong connection. */

static int tt_slots_grow(tether_ctx *ctx) {
    size_t n = ctx->nslots ? ctx->nslots * 2 : 64;
    tether_conn **s = realloc(ctx->slots, n * sizeof *s);
    if (s) ctx->slots = s;
    uint32_t *g = s ? realloc(ctx->gens, n * sizeof *g) : NULL;
    if (g) ctx->gens = g;
    size_t *f = g ? realloc(ctx->free_slots, n * sizeof *f) : NULL;
    if (!f) return TETHER_E_NOMEM;
    ctx->free_slots = f;
    for (size_t i = ctx->nslots; i < n; i++) {
        s[i] = NULL;
        g[i] = 1;
        f[ctx->nfree++] = n - 1 - (i - ctx->nslots);
    }
    ctx->nslots = n;
    return 0;
}

int tt_ctx_add_conn(tether_ctx *ctx, tether_conn *c) {
    if (!ctx->nfree && tt_slots_grow(ctx) != 0) return TETHER_E_NOMEM;
    size_t i = ctx->free_slots[--ctx->nfree];
    ctx->slots[i] = c;
    c->id = ((uint64_t)ctx->gens[i] << 32) | (uint64_t)(i + 1);
    return 0;
}

void tt_ctx_remove_conn(tether_ctx *ctx, tether_conn *c) {
    size_t i = (size_t)(c->id & 0xffffffffu) - 1;
    ctx->slots[i] = NULL;
    ctx->gens[i]++;
    ctx->free_slots[ctx->nfree++] = i;
}

tether_conn *tt_ctx_find_conn(tether_ctx *ctx, uint64_t id) {
    size_t i = (size_t)(id & 0xffffffffu);
    if (i == 0 || i > ctx->nslots) return NULL;
    tether_conn *c = ctx->slots[i - 1];
    return c && c->id == id ? c : NULL;
}

/* ---- work lists ---------------------------------------------------------- */

void tt_ctx_mark_dirty(tether_conn *c) {
    if (c->dirty) return;
    c->dirty = 1;
    c->next_dirty = c->ctx->dirty;
    c->ctx->dirty = c;
}

void tt_ctx_mark_runnable(tether_conn *c) {
    if (c->runnable) return;
    c->runnable = 1;
    c->next_runnable = c->ctx->runnable;
    c->ctx->runnable = c;
}

void tt_ctx_bury(tether_conn *c) {
    if (c->in_grave) return;
    c->in_grave = 1;
    c->next_grave = c->ctx->grave;
    c->ctx->grave = c;
}

void tt_conn_wake(tether_conn *c) {
    tt_ctx_mark_runnable(c);
    if (!c->ctx->in_service) tt_loop_wake(c->ctx->loop); /* foreign loops: look again */
}
