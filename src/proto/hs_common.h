/* Internal: checks shared by the client and server handshakes. */
#ifndef TT_HS_COMMON_H
#define TT_HS_COMMON_H

#include "proto/strbuf.h"

/* Validates an extra header the application wants to send: the name must be a
 * token, the value must hold only field-value characters (so no CR, LF, NUL
 * or other control bytes: a value must never be able to start a new line),
 * and the name must not be one tether writes itself: Upgrade, Connection,
 * Sec-WebSocket-* and the NULL-terminated `managed` list. On success appends
 * "name: value\r\n" to out. TETHER_E_INVAL or TETHER_E_NOMEM. */
int tt_hs_add_extra_header(tt_strbuf *out, const char *name, const char *value,
                           const char *const *managed);

/* 1 if the extra header lines in extra (as tt_hs_add_extra_header() wrote
 * them) hold one named name (compared without case). */
int tt_hs_extra_has(const tt_strbuf *extra, const char *name);

/* 1 if s is a non-empty string of visible ASCII (0x21-0x7E): what a request
 * target or a Host value may hold. */
int tt_hs_visible_ascii(const char *s);

#endif
