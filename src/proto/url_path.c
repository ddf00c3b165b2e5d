/* Request paths as names under a directory. The path is decoded one
 * segment at a time and each decoded segment is checked, so that an
 * escape cannot smuggle in what the plain form would be refused for
 * ("%2e%2e", "%2f", "%00"). Dot segments are refused rather than resolved:
 * a browser removes them before sending (RFC 3986 5.2.4), so only a
 * hand-made request has them. */
#include "proto/url_path.h"

#include "tether.h"

#include <string.h>

static int tt_hex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes the segment p[0..n) to out; its length, or TETHER_E_INVAL. */
static int tt_segment_decode(const char *p, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '%') {
            if (i + 2 >= n) return TETHER_E_INVAL;
            int a = tt_hex(p[i + 1]), b = tt_hex(p[i + 2]);
            if (a < 0 || b < 0) return TETHER_E_INVAL;
            ch = (char)(a * 16 + b);
            if (ch == '\0' || ch == '/') return TETHER_E_INVAL;
            i += 2;
        }
        out[k++] = ch;
    }
    if ((k == 1 && out[0] == '.') || (k == 2 && out[0] == '.' && out[1] == '.'))
        return TETHER_E_INVAL;
    return (int)k;
}

int tt_url_path_decode(const char *path, char *out, size_t cap, int *dir) {
    if (!path || !out || !cap || path[0] != '/') return TETHER_E_INVAL;
    size_t end = strcspn(path, "?#"), len = 0;
    *dir = path[end - 1] == '/';
    out[0] = '\0';
    for (size_t i = 0; i < end;) {
        size_t n = strcspn(path + i, "/?#");
        if (n > end - i) n = end - i;
        if (n) {
            /* a decoded segment is never longer than its encoded form */
            if (len + 1 + n >= cap) return TETHER_E_NOSPC;
            if (len) out[len++] = '/';
            int k = tt_segment_decode(path + i, n, out + len);
            if (k < 0) return k;
            len += (size_t)k;
            out[len] = '\0';
        }
        i += n + 1;
    }
    return (int)len;
}
