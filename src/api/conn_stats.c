/* Statistics of a connection, always on (libwebsockets offers its latency
 * figures only in a build made for them): when each step of the opening
 * ended, ping round trips, and bytes and messages each way. Counting is a
 * few additions per read, write and message; the moments are read from the
 * clock only at the steps of the opening. */
#include "api/api.h"

#include <string.h>

/* us since 32 bits can hold: a longer span is cut to about 71 minutes */
static uint32_t tt_stats_u32(uint64_t us) {
    return us < UINT32_MAX ? (uint32_t)us : UINT32_MAX;
}

/* Now, as a moment of the opening (see tt_conn_stats). */
static uint32_t tt_stats_now(const tt_conn_stats *s) {
    return tt_stats_u32(tt_now_us() - s->start_us + 1);
}

void tt_stats_mark(tether_conn *c, tt_stats_point p) {
    tt_conn_stats *s = &c->stats;
    switch (p) {
    case TT_STATS_START:
        s->start_us = tt_now_us();
        s->resolved = s->connected = s->proxy = s->tls = s->open = 0;
        s->layers_timed = 0;
        break;
    case TT_STATS_RESOLVED:
        s->resolved = tt_stats_now(s);
        break;
    case TT_STATS_CONNECTED:
        s->connected = tt_stats_now(s);
        break;
    case TT_STATS_OPEN:
        s->open = tt_stats_now(s);
        s->opens++;
        break;
    }
}

void tt_stats_layers(tether_conn *c) {
    tt_conn_stats *s = &c->stats;
    for (; c->stack && s->layers_timed < c->stack->open; s->layers_timed++) {
        const char *name = c->stack->layer[s->layers_timed]->ops->name;
        if (!strcmp(name, "proxy"))
            s->proxy = tt_stats_now(s);
        else if (!strcmp(name, "tls"))
            s->tls = tt_stats_now(s);
    }
}

void tt_stats_ping_sent(tether_conn *c) {
    c->stats.ping_at_us = tt_now_us();
}

void tt_stats_pong(tether_conn *c) {
    tt_conn_stats *s = &c->stats;
    if (!s->ping_at_us) return; /* unsolicited, or for a ping already timed */
    uint32_t rtt = tt_stats_u32(tt_now_us() - s->ping_at_us);
    s->ping_at_us = 0;
    s->rtt_us = rtt;
    if (!s->rtt_samples || rtt < s->rtt_min_us) s->rtt_min_us = rtt;
    if (rtt > s->rtt_max_us) s->rtt_max_us = rtt;
    s->rtt_samples++;
}

/* From moment a to moment b, when both were reached in that order (0
 * otherwise); the start is moment 1. */
static uint64_t tt_stats_span(uint32_t a, uint32_t b) {
    return a && b && b >= a ? b - a : 0;
}

/* The latest moment before the WebSocket handshake: its start. */
static uint32_t tt_stats_hs_start(const tt_conn_stats *s) {
    if (s->tls) return s->tls;
    if (s->proxy) return s->proxy;
    return s->connected ? s->connected : 1;
}

int tether_conn_stats(const tether_conn *c, tether_stats *out, size_t size) {
    if (!c || !out || size == 0) return TETHER_E_INVAL;
    const tt_conn_stats *s = &c->stats;
    tether_stats t;
    memset(&t, 0, sizeof t);
    t.resolve_us = tt_stats_span(1, s->resolved);
    t.connect_us = tt_stats_span(s->resolved ? s->resolved : 1, s->connected);
    t.proxy_us = tt_stats_span(s->connected, s->proxy);
    t.tls_us = tt_stats_span(s->proxy ? s->proxy : s->connected, s->tls);
    t.handshake_us = tt_stats_span(tt_stats_hs_start(s), s->open);
    t.rtt_us = s->rtt_us;
    t.rtt_min_us = s->rtt_min_us;
    t.rtt_max_us = s->rtt_max_us;
    t.rtt_samples = s->rtt_samples;
    t.wire_in = s->wire_in;
    t.wire_out = s->wire_out;
    t.messages_in = s->msgs_in;
    t.messages_out = s->msgs_out;
    t.payload_in = s->payload_in;
    t.payload_out = s->payload_out;
    t.reconnects = s->opens > 1 ? s->opens - 1 : 0;
    memcpy(out, &t, size < sizeof t ? size : sizeof t);
    return 0;
}
