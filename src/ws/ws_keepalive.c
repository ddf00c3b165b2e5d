/* Time on a connection: the next deadline, and what happens when it comes.
 * Keepalive pings after a quiet spell and drops a peer that does not
 * answer; the idle timeout, the message timeout and the close timeout end
 * the connection with a code that says which. */
#include "ws/ws_int.h"

static uint64_t tt_min_deadline(uint64_t a, uint64_t b) {
    if (!a) return b;
    if (!b) return a;
    return a < b ? a : b;
}

int tt_ws_note_rx(tt_ws *c, uint64_t now) {
    c->last_rx = now;
    if (!c->ping_outstanding || now < c->ping_sent) return 0;
    c->ping_outstanding = 0; /* every byte proves the peer alive */
    return 1;
}

uint64_t tt_ws_deadline(const tt_ws *c) {
    const tt_ws_cfg *cfg = c->cfg;
    if (c->state == TT_WS_CLOSED) return 0;
    uint64_t d = c->state == TT_WS_CLOSING ? c->close_deadline : 0;
    if (cfg->idle_timeout && c->state == TT_WS_OPEN)
        d = tt_min_deadline(d, c->last_rx + cfg->idle_timeout);
    /* The next ping is due only while OPEN: tt_ws_keepalive() sends none
     * while CLOSING, so that deadline would stay in the past and the
     * caller's timer would fire again at once until the close timeout.
     * An outstanding ping's timeout still counts while CLOSING. */
    if (cfg->ping_interval && c->ping_outstanding)
        d = tt_min_deadline(d, c->ping_sent + cfg->ping_timeout);
    else if (cfg->ping_interval && c->state == TT_WS_OPEN)
        d = tt_min_deadline(d, c->last_rx + cfg->ping_interval);
    if (cfg->message_timeout && c->rx_in_message && c->state == TT_WS_OPEN)
        d = tt_min_deadline(d, c->msg_started + cfg->message_timeout);
    return d;
}

/* Keepalive: ping after ping_interval of silence; a peer that has not
 * answered (with anything: every byte proves it alive) within ping_timeout
 * is dead. */
static int tt_ws_keepalive(tt_ws *c, uint64_t now, tt_ws_ev *ev) {
    const tt_ws_cfg *cfg = c->cfg;
    if (!cfg->ping_interval) return 0;
    if (c->ping_outstanding && c->last_rx >= c->ping_sent) c->ping_outstanding = 0;
    if (c->ping_outstanding && now >= c->ping_sent + cfg->ping_timeout) {
        static const char why[] = "keepalive timeout";
        tt_ws_put_close(c, TETHER_CLOSE_INTERNAL_ERROR, why, sizeof why - 1);
        return tt_ws_end(c, TETHER_CLOSE_INTERNAL_ERROR, why, sizeof why - 1, 0, TETHER_E_TIMEOUT,
                         ev);
    }
    if (!c->ping_outstanding && now >= c->last_rx + cfg->ping_interval && c->state == TT_WS_OPEN) {
        uint8_t stamp[8];
        for (int i = 0; i < 8; i++)
            stamp[i] = (uint8_t)(now >> (56 - 8 * i));
        /* Even if the ping cannot be queued, start the wait: a peer we
         * cannot ping is treated like one that does not answer, and the
         * deadline moves forward instead of staying in the past. */
        tt_ws_ping(c, stamp, sizeof stamp);
        c->ping_outstanding = 1;
        c->ping_sent = now;
    }
    return 0;
}

int tt_ws_on_timer(tt_ws *c, uint64_t now, tt_ws_ev *ev) {
    if (c->state == TT_WS_CLOSED) return 0;
    if (c->state == TT_WS_CLOSING && now >= c->close_deadline) {
        static const char why[] = "close timeout";
        return tt_ws_end(c, TETHER_CLOSE_ABNORMAL, why, sizeof why - 1, 0, TETHER_E_TIMEOUT, ev);
    }
    /* A message that takes too long holds its buffer (up to max_message)
     * for as long as the peer likes: policy violation. */
    if (c->cfg->message_timeout && c->rx_in_message && c->state == TT_WS_OPEN &&
        now >= c->msg_started + c->cfg->message_timeout) {
        static const char why[] = "message timeout";
        tt_ws_put_close(c, TETHER_CLOSE_POLICY_VIOLATION, why, sizeof why - 1);
        return tt_ws_end(c, TETHER_CLOSE_POLICY_VIOLATION, why, sizeof why - 1, 0, TETHER_E_TIMEOUT,
                         ev);
    }
    if (c->cfg->idle_timeout && c->state == TT_WS_OPEN &&
        now >= c->last_rx + c->cfg->idle_timeout) {
        static const char why[] = "idle timeout";
        tt_ws_put_close(c, TETHER_CLOSE_GOING_AWAY, why, sizeof why - 1);
        return tt_ws_end(c, TETHER_CLOSE_GOING_AWAY, why, sizeof why - 1, 0, TETHER_E_TIMEOUT, ev);
    }
    return tt_ws_keepalive(c, now, ev);
}
