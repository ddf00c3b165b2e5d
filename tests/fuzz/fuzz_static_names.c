/* libFuzzer target: the names a static file server reads from a request.
 * The input, as a NUL-free string, is decoded as a request path (the
 * result must be no longer than the input, hold no NUL, start with no
 * '/', and have no "." or ".." segment, so it can never name a file
 * outside the root), read as an HTTP date (which must then format back
 * to a date that reads as the same time), and looked up as a file name. */
#include "fuzz_check.h"
#include "proto/content_type.h"
#include "proto/http_date.h"
#include "proto/url_path.h"
#include "tether.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_name(const char *name, int len) {
    CHECK(strlen(name) == (size_t)len);
    CHECK(name[0] != '/');
    for (const char *seg = name; *seg;) {
        size_t n = strcspn(seg, "/");
        CHECK(n > 0); /* no empty segment */
        CHECK(!(n == 1 && seg[0] == '.') && !(n == 2 && seg[0] == '.' && seg[1] == '.'));
        seg += n + (seg[n] == '/');
    }
}

static void path(const char *s, size_t len) {
    char out[256];
    int dir = -1;
    int n = tt_url_path_decode(s, out, sizeof out, &dir);
    if (n < 0) {
        CHECK(n == TETHER_E_INVAL || n == TETHER_E_NOSPC);
        return;
    }
    CHECK((size_t)n <= len);
    CHECK(dir == 0 || dir == 1);
    check_name(out, n);
}

static void date(const char *s) {
    time_t t, back;
    if (tt_http_date_parse(s, &t) != 0) return;
    char buf[TT_HTTP_DATE_SIZE];
    tt_http_date_format(t, buf);
    CHECK(buf[0] != '\0');
    CHECK(tt_http_date_parse(buf, &back) == 0 && back == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);
    path(s, len);
    date(s);
    CHECK(tt_content_type(s) != NULL);
    free(s);
    return 0;
}
