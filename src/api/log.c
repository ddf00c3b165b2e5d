/* Process-wide logging: a level and a sink. Off by default, because a
 * library should not write on a program's stderr unasked. */
#include "api/api.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int tt_log_level_v = TETHER_LOG_NONE;
static tether_log_cb tt_log_cb_v;
static void *tt_log_user_v;

int tether_set_log_level(int level) {
    if (level < TETHER_LOG_NONE || level > TETHER_LOG_DEBUG) return TETHER_E_INVAL;
    atomic_store(&tt_log_level_v, level);
    return 0;
}

void tether_set_log_callback(tether_log_cb cb, void *user) {
    tt_log_cb_v = cb;
    tt_log_user_v = user;
}

int tt_log_on(int level) {
    return level <= atomic_load_explicit(&tt_log_level_v, memory_order_relaxed);
}

void tt_log(int level, const char *fmt, ...) {
    static const char *const names[] = {"", "error", "warn", "notice", "info", "debug"};
    if (!tt_log_on(level)) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tether_log_cb cb = tt_log_cb_v;
    if (cb)
        cb(level, line, tt_log_user_v);
    else
        fprintf(stderr, "tether %s: %s\n", names[level], line);
}

unsigned tether_features(void) {
    return TETHER_FEATURE_TLS | TETHER_FEATURE_DEFLATE;
}
