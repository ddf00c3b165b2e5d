/* Statistics of a connection, always on (libwebsockets offers its latency
 * figures only in a build made for them): when each step of the opening
 * ended, ping round trips, and bytes and messages each way. Counting is a
 * few additions per read, write and message; the moments are read from the
 * clock only at the steps of the opening. */
#include "api/api.h"

#include <string.h>

void tt_stats_mark(tether_conn *c, tt_stats_point p) {
    uint64_t now = tt_now_us();
    tt_conn_stats *s = &c->stats;
    switch (p) {
    case TT_STATS_START:
        s->start_us = now;
        s->resolved_us = s->connected_us = s->proxy_us = s->tls_us = s->open_us = 0;
        s->layers_timed = 0;
        break;
    case TT_STATS_RESOLVED:
        s->resolved_us = now;
        break;
    case TT_STATS_CONNECTED:
        s->connected_us = now;
        break;
    case TT_STATS_OPEN:
        s->open_us = now;
        s->opens++;
        break;
    }
}

void tt_stats_layers(tether_conn *c) {
    tt_conn_stats *s = &c->stats;
    for (; s->layers_timed < c->stack.open; s->layers_timed++) {
        const char *name = c->stack.layer[s->layers_timed]->ops->name;
        if (!strcmp(name, "proxy"))
            s->proxy_us = tt_now_us();
        else if (!strcmp(name, "tls"))
            s->tls_us = tt_now_us();
    }
}

void tt_stats_ping_sent(tether_conn *c) {
    c->stats.ping_at_us = tt_now_us();
}

void tt_stats_pong(tether_conn *c) {
    tt_conn_stats *s = &c->stats;
    if (!s->ping_at_us) return; /* unsolicited, or for a ping already timed */
    uint64_t rtt = tt_now_us() - s->ping_at_us;
    s->ping_at_us = 0;
    s->rtt_us = rtt;
    if (!s->rtt_samples || rtt < s->rtt_min_us) s->rtt_min_us = rtt;
    if (rtt > s->rtt_max_us) s->rtt_max_us = rtt;
    s->rtt_samples++;
}

/* b - a, when both moments were reached in that order (0 otherwise). */
static uint64_t tt_stats_span(uint64_t a, uint64_t b) {
    return a && b && b >= a ? b - a : 0;
}

/* The latest moment before the WebSocket handshake: its start. */
static uint64_t tt_stats_hs_start(const tt_conn_stats *s) {
    if (s->tls_us) return s->tls_us;
    if (s->proxy_us) return s->proxy_us;
    return s->connected_us ? s->connected_us : s->start_us;
}

int tether_conn_stats(const tether_conn *c, tether_stats *out, size_t size) {
    if (!c || !out || size == 0) return TETHER_E_INVAL;
    const tt_conn_stats *s = &c->stats;
    tether_stats t;
    memset(&t, 0, sizeof t);
    t.resolve_us = tt_stats_span(s->start_us, s->resolved_us);
    t.connect_us = tt_stats_span(s->resolved_us ? s->resolved_us : s->start_us, s->connected_us);
    t.proxy_us = tt_stats_span(s->connected_us, s->proxy_us);
    t.tls_us = tt_stats_span(s->proxy_us ? s->proxy_us : s->connected_us, s->tls_us);
    t.handshake_us = tt_stats_span(tt_stats_hs_start(s), s->open_us);
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
