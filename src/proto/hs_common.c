/* Checks shared by the client and server handshakes; see hs_common.h. */
#include "proto/hs_common.h"

#include "proto/http_token.h"
#include "tether.h"

#include <string.h>
#include <strings.h>

static int tt_hs_name_managed(const char *name, const char *const *managed) {
    static const char prefix[] = "sec-websocket-";
    size_t n = strlen(name);
    if (tt_http_eq_nocase(name, n, "upgrade") || tt_http_eq_nocase(name, n, "connection")) return 1;
    if (n >= sizeof prefix - 1 && tt_http_eq_nocase(name, sizeof prefix - 1, prefix)) return 1;
    for (; managed && *managed; managed++)
        if (tt_http_eq_nocase(name, n, *managed)) return 1;
    return 0;
}

int tt_hs_add_extra_header(tt_strbuf *out, const char *name, const char *value,
                           const char *const *managed) {
    if (!name || !value) return TETHER_E_INVAL;
    if (!tt_http_is_token(name, strlen(name)) || !tt_http_value_ok(value)) return TETHER_E_INVAL;
    if (tt_hs_name_managed(name, managed)) return TETHER_E_INVAL;
    size_t before = out->len;
    tt_strbuf_add_field(out, name, value);
    int rc = tt_strbuf_status(out);
    /* Leave the list as it was: a half-added header must not be sent. */
    if (rc) tt_strbuf_truncate(out, before);
    return rc;
}

int tt_hs_visible_ascii(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return 0;
    return 1;
}

int tt_hs_extra_has(const tt_strbuf *extra, const char *name) {
    size_t n = strlen(name);
    for (const char *line = tt_strbuf_str(extra); *line;) {
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') return 1;
        const char *end = strstr(line, "\r\n");
        if (!end) break;
        line = end + 2;
    }
    return 0;
}
