/* A client's reconnection policy, as libwebsockets' lws_retry_bo_t
 * describes one: a table of delays (the last repeats) or an exponential
 * backoff from a first delay up to a cap, random jitter added to each, and
 * a limit on the attempts in a row (0: none). Which ends are worth another
 * attempt follows Python websockets' connect(): the network's failures and
 * HTTP 5xx, not refusals or broken protocols. */
#include "api/api.h"

int tt_retry_allowed(const tether_opts *o, unsigned attempt) {
    if (!o->nretry_steps && !o->retry_base) return 0;
    return !o->retry_tries || attempt <= o->retry_tries;
}

/* xorshift32: jitter needs no more than spread, not secrecy. */
static uint32_t tt_retry_random(uint32_t *seed) {
    uint32_t x = *seed ? *seed : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *seed = x;
}

unsigned tt_retry_delay(const tether_opts *o, unsigned attempt, uint32_t *seed) {
    uint64_t d;
    if (o->nretry_steps) {
        size_t i = attempt ? attempt - 1 : 0;
        d = o->retry_steps[i < o->nretry_steps ? i : o->nretry_steps - 1];
    } else {
        d = o->retry_base;
        for (unsigned i = 1; i < attempt && d < o->retry_max; i++)
            d *= 2;
        if (o->retry_max && d > o->retry_max) d = o->retry_max;
    }
    if (o->retry_jitter) d += d * o->retry_jitter / 100 * tt_retry_random(seed) / UINT32_MAX;
    return d > UINT32_MAX / 2 ? UINT32_MAX / 2 : (unsigned)d;
}

int tt_retry_wanted(int error, int code, int http_status) {
    switch (error) {
    case 0: /* the server ended it: going away, restarting, overloaded */
        return code == TETHER_CLOSE_GOING_AWAY || code == TETHER_CLOSE_ABNORMAL ||
               code == TETHER_CLOSE_INTERNAL_ERROR || code == TETHER_CLOSE_SERVICE_RESTART ||
               code == TETHER_CLOSE_TRY_AGAIN_LATER || code == TETHER_CLOSE_BAD_GATEWAY;
    case TETHER_E_CONNECT:
    case TETHER_E_DNS:
    case TETHER_E_TIMEOUT:
    case TETHER_E_CLOSED:
    case TETHER_E_IO:
    case TETHER_E_TLS:
    case TETHER_E_HTTP2:
    case TETHER_E_NOFILE:
        return 1;
    case TETHER_E_HS_STATUS:
        return http_status >= 500 && http_status <= 599;
    default:
        return 0;
    }
}
