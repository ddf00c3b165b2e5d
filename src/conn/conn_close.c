/* How a connection ends: the closing handshake from either side, failure
 * on a protocol error, the peer vanishing, and the timers that decide a
 * peer is dead. Whatever the path, it ends in exactly one CLOSE event that
 * says what happened, with a code the library chose when the peer gave
 * none (1009 "message too big", 1011 "keepalive timeout") rather than a
 * bare 1006. */
#include "conn/conn_int.h"

#include <string.h>

int tt_conn_end(tt_conn *c, int code, const char *reason, size_t reason_len, int clean, int error,
                tt_conn_ev *ev) {
    c->state = TT_CONN_CLOSED;
    c->close_code = code;
    if (reason_len > TETHER_MAX_CLOSE_REASON) reason_len = TETHER_MAX_CLOSE_REASON;
    if (reason_len) memcpy(c->close_reason, reason, reason_len);
    c->close_reason[reason_len] = 0;
    c->close_reason_len = reason_len;
    memset(ev, 0, sizeof *ev);
    ev->type = TT_EV_CLOSE;
    ev->code = code;
    ev->reason = c->close_reason;
    ev->reason_len = reason_len;
    ev->clean = clean;
    ev->error = error;
    return 1;
}

/* Cuts text to at most max bytes without splitting a UTF-8 character. */
static size_t tt_utf8_prefix(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max) return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

int tt_conn_fail(tt_conn *c, int err, const char *why, tt_conn_ev *ev) {
    int code = tether_error_close_code(err);
    if (!code) code = TETHER_CLOSE_INTERNAL_ERROR;
    if (!why) why = tether_strerror(err);
    size_t n = tt_utf8_prefix(why, TETHER_MAX_CLOSE_REASON);
    tt_conn_put_close(c, code, why, n); /* best effort: the queue may be full */
    return tt_conn_end(c, code, why, n, 0, err, ev);
}

int tt_conn_on_close_frame(tt_conn *c, tt_conn_ev *ev) {
    size_t rlen;
    const char *reason = tether_parser_close_reason(c->parser, &rlen);
    int code = tether_parser_close_code(c->parser);
    if (!c->close_sent) { /* echo the code back, as RFC 6455 5.5.1 asks */
        int echo = code == TETHER_CLOSE_NO_STATUS ? 0 : code;
        tt_conn_put_close(c, echo, NULL, 0);
    }
    return tt_conn_end(c, code, reason, rlen, 1, 0, ev);
}

int tt_conn_close(tt_conn *c, int code, const char *reason, uint64_t now) {
    if (!c) return TETHER_E_INVAL;
    if (c->state != TT_CONN_OPEN) return TETHER_E_STATE;
    size_t len = reason ? strlen(reason) : 0;
    int rc = tt_conn_put_close(c, code, reason, len);
    if (rc != 0) return rc;
    c->state = TT_CONN_CLOSING;
    c->close_deadline = now + (c->cfg->close_timeout ? c->cfg->close_timeout : 5000);
    return 0;
}

int tt_conn_abort(tt_conn *c, int err, tt_conn_ev *ev) {
    if (c->state == TT_CONN_CLOSED) return 0;
    return tt_conn_end(c, TETHER_CLOSE_ABNORMAL, tether_strerror(err), strlen(tether_strerror(err)),
                       0, err, ev);
}

static uint64_t tt_min_deadline(uint64_t a, uint64_t b) {
    if (!a) return b;
    if (!b) return a;
    return a < b ? a : b;
}

int tt_conn_note_rx(tt_conn *c, uint64_t now) {
    c->last_rx = now;
    if (!c->ping_outstanding || now < c->ping_sent) return 0;
    c->ping_outstanding = 0; /* every byte proves the peer alive */
    return 1;
}

uint64_t tt_conn_deadline(const tt_conn *c) {
    const tt_conn_cfg *cfg = c->cfg;
    if (c->state == TT_CONN_CLOSED) return 0;
    uint64_t d = c->state == TT_CONN_CLOSING ? c->close_deadline : 0;
    if (cfg->idle_timeout && c->state == TT_CONN_OPEN)
        d = tt_min_deadline(d, c->last_rx + cfg->idle_timeout);
    /* The next ping is due only while OPEN: tt_conn_keepalive() sends none
     * while CLOSING, so that deadline would stay in the past and the
     * caller's timer would fire again at once until the close timeout.
     * An outstanding ping's timeout still counts while CLOSING. */
    if (cfg->ping_interval && c->ping_outstanding)
        d = tt_min_deadline(d, c->ping_sent + cfg->ping_timeout);
    else if (cfg->ping_interval && c->state == TT_CONN_OPEN)
        d = tt_min_deadline(d, c->last_rx + cfg->ping_interval);
    if (cfg->message_timeout && c->rx_in_message && c->state == TT_CONN_OPEN)
        d = tt_min_deadline(d, c->msg_started + cfg->message_timeout);
    return d;
}

/* Keepalive: ping after ping_interval of silence; a peer that has not
 * answered (with anything: every byte proves it alive) within ping_timeout
 * is dead. */
static int tt_conn_keepalive(tt_conn *c, uint64_t now, tt_conn_ev *ev) {
    const tt_conn_cfg *cfg = c->cfg;
    if (!cfg->ping_interval) return 0;
    if (c->ping_outstanding && c->last_rx >= c->ping_sent) c->ping_outstanding = 0;
    if (c->ping_outstanding && now >= c->ping_sent + cfg->ping_timeout) {
        static const char why[] = "keepalive timeout";
        tt_conn_put_close(c, TETHER_CLOSE_INTERNAL_ERROR, why, sizeof why - 1);
        return tt_conn_end(c, TETHER_CLOSE_INTERNAL_ERROR, why, sizeof why - 1, 0, TETHER_E_TIMEOUT,
                           ev);
    }
    if (!c->ping_outstanding && now >= c->last_rx + cfg->ping_interval &&
        c->state == TT_CONN_OPEN) {
        uint8_t stamp[8];
        for (int i = 0; i < 8; i++)
            stamp[i] = (uint8_t)(now >> (56 - 8 * i));
        /* Even if the ping cannot be queued, start the wait: a peer we
         * cannot ping is treated like one that does not answer, and the
         * deadline moves forward instead of staying in the past. */
        tt_conn_ping(c, stamp, sizeof stamp);
        c->ping_outstanding = 1;
        c->ping_sent = now;
    }
    return 0;
}

int tt_conn_on_timer(tt_conn *c, uint64_t now, tt_conn_ev *ev) {
    if (c->state == TT_CONN_CLOSED) return 0;
    if (c->state == TT_CONN_CLOSING && now >= c->close_deadline) {
        static const char why[] = "close timeout";
        return tt_conn_end(c, TETHER_CLOSE_ABNORMAL, why, sizeof why - 1, 0, TETHER_E_TIMEOUT, ev);
    }
    /* A message that takes too long holds its buffer (up to max_message)
     * for as long as the peer likes: policy violation. */
    if (c->cfg->message_timeout && c->rx_in_message && c->state == TT_CONN_OPEN &&
        now >= c->msg_started + c->cfg->message_timeout) {
        static const char why[] = "message timeout";
        tt_conn_put_close(c, TETHER_CLOSE_POLICY_VIOLATION, why, sizeof why - 1);
        return tt_conn_end(c, TETHER_CLOSE_POLICY_VIOLATION, why, sizeof why - 1, 0,
                           TETHER_E_TIMEOUT, ev);
    }
    if (c->cfg->idle_timeout && c->state == TT_CONN_OPEN &&
        now >= c->last_rx + c->cfg->idle_timeout) {
        static const char why[] = "idle timeout";
        tt_conn_put_close(c, TETHER_CLOSE_GOING_AWAY, why, sizeof why - 1);
        return tt_conn_end(c, TETHER_CLOSE_GOING_AWAY, why, sizeof why - 1, 0, TETHER_E_TIMEOUT,
                           ev);
    }
    return tt_conn_keepalive(c, now, ev);
}
