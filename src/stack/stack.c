/* The transport stack: composes sans-I/O layers. Input climbs (each open
 * layer's output feeds the one above, whose handshake may then advance);
 * output descends (each layer's bytes are written into the one below);
 * the bottom layer's bytes go to the socket through the caller's scratch
 * buffer, and only what the socket did not take is copied into the
 * stack's own wire buffer. */
#include "stack/stack.h"

#include <stdio.h>
#include <string.h>

#include "tether.h"

int tt_stack_push(tt_stack *s, tt_layer *l) {
    if (!l || s->n == TT_STACK_MAX || s->open > 0) return TETHER_E_INVAL;
    s->layer[s->n++] = l;
    return 0;
}

void tt_stack_free(tt_stack *s) {
    for (int i = 0; i < s->n; i++)
        s->layer[i]->ops->free(s->layer[i]);
    s->n = s->open = 0;
    tt_outbuf_free(&s->wire);
}

tt_layer *tt_stack_find(const tt_stack *s, const char *name) {
    for (int i = s->n - 1; i >= 0; i--)
        if (strcmp(s->layer[i]->ops->name, name) == 0) return s->layer[i];
    return NULL;
}

int tt_stack_is_open(const tt_stack *s) {
    return s->open == s->n;
}

/* Layer i failed with err: the stack is broken for good. */
static int tt_stack_fail(tt_stack *s, int i, int err) {
    if (!s->failed) {
        s->failed = i + 1;
        s->error = err;
    }
    return s->error;
}

/* Moves what open layer i has for the layer above into it. */
static int tt_stack_lift(tt_stack *s, int i, uint8_t *scratch) {
    tt_layer *lo = s->layer[i], *hi = s->layer[i + 1];
    for (;;) {
        ssize_t r = lo->ops->read(lo, scratch, TT_STACK_CHUNK);
        if (r == TETHER_E_AGAIN || r == 0) return 0; /* an end below shows as none above */
        if (r < 0) return tt_stack_fail(s, i, (int)r);
        int rc = hi->ops->feed(hi, scratch, (size_t)r);
        if (rc) return tt_stack_fail(s, i + 1, rc);
    }
}

/* Steps the handshakes bottom up and lifts input through open layers. */
static int tt_stack_climb(tt_stack *s, uint8_t *scratch) {
    for (int i = 0; i < s->n; i++) {
        if (i == s->open) {
            int rc = s->layer[i]->ops->step(s->layer[i]);
            if (rc == TETHER_E_AGAIN) return rc;
            if (rc) return tt_stack_fail(s, i, rc);
            s->open++;
        }
        if (i + 1 < s->n && scratch) {
            int rc = tt_stack_lift(s, i, scratch);
            if (rc) return rc;
        }
    }
    return 0;
}

int tt_stack_step(tt_stack *s) {
    if (s->failed) return s->error;
    return tt_stack_climb(s, NULL);
}

int tt_stack_feed(tt_stack *s, const uint8_t *buf, size_t len, uint8_t *scratch) {
    if (s->failed) return s->error;
    if (!s->n) return TETHER_E_STATE;
    int rc = s->layer[0]->ops->feed(s->layer[0], buf, len);
    if (rc) return tt_stack_fail(s, 0, rc);
    rc = tt_stack_climb(s, scratch);
    return rc == TETHER_E_AGAIN ? 0 : rc;
}

uint8_t *tt_stack_feed_space(tt_stack *s, size_t len) {
    if (s->failed || !s->n || !s->layer[0]->ops->feed_space) return NULL;
    return s->layer[0]->ops->feed_space(s->layer[0], len);
}

int tt_stack_fed(tt_stack *s, size_t n, uint8_t *scratch) {
    s->layer[0]->ops->fed(s->layer[0], n);
    int rc = tt_stack_climb(s, scratch);
    return rc == TETHER_E_AGAIN ? 0 : rc;
}

ssize_t tt_stack_read(tt_stack *s, uint8_t *buf, size_t cap, uint8_t *scratch) {
    if (s->failed) return s->error;
    if (!s->n || !tt_stack_is_open(s)) return TETHER_E_AGAIN;
    for (int i = 0; i + 1 < s->n; i++) { /* what lower layers still hold */
        int rc = tt_stack_lift(s, i, scratch);
        if (rc) return rc;
    }
    tt_layer *top = s->layer[s->n - 1];
    ssize_t r = top->ops->read(top, buf, cap);
    return r < 0 && r != TETHER_E_AGAIN ? tt_stack_fail(s, s->n - 1, (int)r) : r;
}

size_t tt_stack_owed(const tt_stack *s) {
    size_t n = tt_outbuf_len(&s->wire);
    for (int i = 0; i < s->n; i++)
        n += s->layer[i]->ops->pending(s->layer[i]);
    return n;
}

ssize_t tt_stack_write(tt_stack *s, const uint8_t *buf, size_t len) {
    if (s->failed) return s->error;
    if (!s->n || !tt_stack_is_open(s) || s->said_bye) return 0;
    if (tt_stack_owed(s) >= TT_STACK_BACKLOG) return 0;
    if (len > TT_STACK_CHUNK) len = TT_STACK_CHUNK;
    tt_layer *top = s->layer[s->n - 1];
    ssize_t n = top->ops->write(top, buf, len);
    return n < 0 ? tt_stack_fail(s, s->n - 1, (int)n) : n;
}

/* Moves every layer's output into the layer below, top first. */
static int tt_stack_descend(tt_stack *s, uint8_t *scratch) {
    for (int i = s->open < s->n ? s->open : s->n - 1; i > 0; i--) { /* i - 1 is open */
        tt_layer *hi = s->layer[i], *lo = s->layer[i - 1];
        size_t k;
        while ((k = hi->ops->take(hi, scratch, TT_STACK_CHUNK)) > 0) {
            ssize_t n = lo->ops->write(lo, scratch, k);
            if (n < 0) return tt_stack_fail(s, i - 1, (int)n);
        }
    }
    return 0;
}

int tt_stack_wire(tt_stack *s, const uint8_t **out, size_t *len, uint8_t *scratch) {
    *out = NULL;
    *len = 0;
    s->lent = 0;
    s->lent_front = 0;
    if (tt_outbuf_len(&s->wire) > 0) {
        *len = tt_outbuf_len(&s->wire);
        *out = s->wire.buf + s->wire.head;
        return 0;
    }
    if (!s->n) return 0;
    /* After a failure nothing new moves down, but what the bottom layer
     * already has still goes: the alert that tells the peer why. */
    int rc = s->failed ? 0 : tt_stack_descend(s, scratch);
    if (rc) return rc;
    tt_layer *bottom = s->layer[0];
    if (bottom->ops->front) { /* no copy: the socket writes them where they are */
        *out = bottom->ops->front(bottom, len);
        s->lent_front = *out != NULL;
        return 0;
    }
    s->lent = bottom->ops->take(bottom, scratch, TT_STACK_CHUNK);
    s->lent_at = scratch;
    *len = s->lent;
    *out = scratch;
    return 0;
}

void tt_stack_wire_sent(tt_stack *s, size_t n) {
    if (s->lent_front) { /* what the socket did not take stays in the layer */
        s->lent_front = 0;
        s->layer[0]->ops->consume(s->layer[0], n);
        return;
    }
    if (!s->lent) {
        if (n) tt_outbuf_consume(&s->wire, n);
        return;
    }
    size_t rest = s->lent - n;
    s->lent = 0;
    if (!rest) return;
    if (tt_outbuf_append(&s->wire, s->lent_at + n, rest) != 0)
        tt_stack_fail(s, 0, TETHER_E_NOMEM); /* the bytes are lost: the stream is broken */
}

int tt_stack_shutdown(tt_stack *s) {
    if (!s->n || s->said_bye || tt_outbuf_len(&s->wire) > 0) return 0;
    s->said_bye = 1;
    for (int i = s->n - 1; i >= 0; i--)
        s->layer[i]->ops->shutdown(s->layer[i]);
    return 1;
}

const char *tt_stack_error_text(const tt_stack *s) {
    if (!s->failed) return NULL;
    tt_layer *l = s->layer[s->failed - 1];
    return l->ops->error_text(l);
}

const char *tt_stack_describe(const tt_stack *s, char *buf, size_t cap) {
    size_t off = 0;
    if (cap) buf[0] = 0;
    for (int i = 0; i < s->open && off < cap; i++) {
        char one[128];
        const char *d = s->layer[i]->ops->describe(s->layer[i], one, sizeof one);
        int n = snprintf(buf + off, cap - off, "%s%s", off ? " " : "", d);
        off += n > 0 ? (size_t)n : 0;
    }
    return buf;
}
