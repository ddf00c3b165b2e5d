/* How a connection ends: the closing handshake from either side, failure
 * on a protocol error and the peer vanishing (the timers that decide a
 * peer is dead are in ws_keepalive.c). Whatever the path, it ends in exactly one CLOSE event that
 * says what happened, with a code the library chose when the peer gave
 * none (1009 "message too big", 1011 "keepalive timeout") rather than a
 * bare 1006. */
#include "ws/ws_int.h"

#include <stddef.h>
#include <string.h>

int tt_ws_end(tt_ws *c, int code, const char *reason, size_t reason_len, int clean, int error,
              tt_ws_ev *ev) {
    c->state = TT_WS_CLOSED;
    c->close_code = code;
    if (reason_len > TETHER_MAX_CLOSE_REASON) reason_len = TETHER_MAX_CLOSE_REASON;
    /* (memmove and before the clear: reason may point into ev itself) */
    if (reason_len) memmove(ev->reason_buf, reason, reason_len);
    ev->reason_buf[reason_len] = 0;
    memset(ev, 0, offsetof(tt_ws_ev, reason_buf));
    ev->type = TT_WS_EV_CLOSE;
    ev->code = code;
    ev->reason = ev->reason_buf;
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

int tt_ws_fail(tt_ws *c, int err, const char *why, tt_ws_ev *ev) {
    int code = tether_error_close_code(err);
    if (!code) code = TETHER_CLOSE_INTERNAL_ERROR;
    if (!why) why = tether_strerror(err);
    size_t n = tt_utf8_prefix(why, TETHER_MAX_CLOSE_REASON);
    tt_ws_put_close(c, code, why, n); /* best effort: the queue may be full */
    return tt_ws_end(c, code, why, n, 0, err, ev);
}

int tt_ws_on_close_frame(tt_ws *c, tt_ws_ev *ev) {
    size_t rlen;
    const char *reason = tether_parser_close_reason(c->parser, &rlen);
    int code = tether_parser_close_code(c->parser);
    if (!c->close_sent) { /* echo the code back, as RFC 6455 5.5.1 asks */
        int echo = code == TETHER_CLOSE_NO_STATUS ? 0 : code;
        tt_ws_put_close(c, echo, NULL, 0);
    }
    return tt_ws_end(c, code, reason, rlen, 1, 0, ev);
}

int tt_ws_close(tt_ws *c, int code, const char *reason, uint64_t now) {
    if (!c) return TETHER_E_INVAL;
    if (c->state != TT_WS_OPEN) return TETHER_E_STATE;
    size_t len = reason ? strlen(reason) : 0;
    int rc = tt_ws_put_close(c, code, reason, len);
    if (rc != 0) return rc;
    c->state = TT_WS_CLOSING;
    c->close_deadline = now + (c->cfg->close_timeout ? c->cfg->close_timeout : 5000);
    return 0;
}

int tt_ws_abort(tt_ws *c, int err, tt_ws_ev *ev) {
    if (c->state == TT_WS_CLOSED) return 0;
    return tt_ws_end(c, TETHER_CLOSE_ABNORMAL, tether_strerror(err), strlen(tether_strerror(err)),
                     0, err, ev);
}
