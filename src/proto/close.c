/* Close frames (RFC 6455 sections 5.5.1 and 7.4): which codes may be sent
 * and received, and the payload layout (2-byte code, then a UTF-8 reason). */
#include "tether.h"

#include <string.h>

/* The codes that may appear on the wire. 1004 is reserved, 1005/1006/1015
 * are for local reporting only; 1012-1014 were registered with IANA after
 * the RFC and are sent by real servers; 3000-3999 are registered for
 * libraries and frameworks, 4000-4999 private. */
int tether_close_code_sendable(int code) {
    if (code >= 1000 && code <= 1003) return 1;
    if (code >= 1007 && code <= 1014) return 1;
    return code >= 3000 && code <= 4999;
}

int tether_close_code_valid(int code) {
    return tether_close_code_sendable(code);
}

int tether_close_build(int code, const char *reason, size_t reason_len, uint8_t *out, size_t cap,
                       size_t *written) {
    if (!written || (!reason && reason_len) || (!out && cap)) return TETHER_E_INVAL;
    *written = 0;
    if (code == 0) return reason_len ? TETHER_E_CLOSE_PAYLOAD : 0;
    if (!tether_close_code_sendable(code)) return TETHER_E_CLOSE_CODE;
    if (reason_len > TETHER_MAX_CLOSE_REASON) return TETHER_E_CLOSE_PAYLOAD;
    if (tether_utf8_validate(reason, reason_len)) return TETHER_E_UTF8;
    if (cap < 2 + reason_len) return TETHER_E_NOSPC;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)(code & 0xff);
    if (reason_len) memcpy(out + 2, reason, reason_len);
    *written = 2 + reason_len;
    return 0;
}

int tether_close_parse(const uint8_t *payload, size_t len, int *code, const char **reason,
                       size_t *reason_len) {
    if (!code || !reason || !reason_len || (!payload && len)) return TETHER_E_INVAL;
    *code = TETHER_CLOSE_NO_STATUS;
    *reason = "";
    *reason_len = 0;
    if (len == 0) return 0;
    if (len == 1 || len > TETHER_MAX_CONTROL_PAYLOAD) return TETHER_E_CLOSE_PAYLOAD;
    int c = (payload[0] << 8) | payload[1];
    if (!tether_close_code_valid(c)) return TETHER_E_CLOSE_CODE;
    if (tether_utf8_validate(payload + 2, len - 2)) return TETHER_E_UTF8;
    *code = c;
    *reason = (const char *)payload + 2;
    *reason_len = len - 2;
    return 0;
}
