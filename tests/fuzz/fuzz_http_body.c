/* libFuzzer target: HTTP/1.1 request bodies and plain request heads. The
 * first byte picks the framing (chunked, or a length from the next two
 * bytes) and how the rest is split; the body decoder must hand out only
 * slices of its input, never more payload than the limit or the length,
 * consume nothing twice, and stay failed once failed. The same input is
 * then parsed as a request head and checked as a plain request. */
#include "fuzz_check.h"
#include "proto/http_body.h"
#include "proto/server_hs.h"
#include "tether.h"

#include <stddef.h>
#include <stdint.h>

static void body(const uint8_t *data, size_t size) {
    if (size < 3) return;
    tt_http_body b;
    uint64_t max = 1000, length = (uint64_t)data[1] << 8 | data[2];
    int chunked = data[0] & 1;
    size_t step = (size_t)(data[0] >> 1) + 1;
    if (chunked)
        tt_http_body_chunked(&b, max);
    else
        tt_http_body_length(&b, length, max);
    const uint8_t *in = data + 3;
    size_t len = size - 3, off = 0;
    uint64_t total = 0;
    int rc = 0;
    for (int guard = 0; guard < 100000 && off <= len; guard++) {
        size_t n = len - off < step ? len - off : step, used = 0, dl = 0;
        const uint8_t *d = NULL;
        rc = tt_http_body_next(&b, in + off, n, &used, &d, &dl);
        CHECK(used <= n);
        if (rc == 1) {
            CHECK(d >= in + off && d + dl <= in + off + used && dl > 0);
            total += dl;
        }
        off += used;
        if (rc == TETHER_E_AGAIN && off == len) break;
        if (rc != 1 && rc != TETHER_E_AGAIN) break;
    }
    CHECK(total <= max);
    if (!chunked) CHECK(total <= length);
    if (rc == 0 && !chunked) CHECK(total == length);
    if (rc < 0 && rc != TETHER_E_AGAIN) {
        size_t used;
        const uint8_t *d;
        size_t dl;
        CHECK(tt_http_body_next(&b, (const uint8_t *)"0\r\n\r\n", 5, &used, &d, &dl) == rc);
    }
}

static void head(const uint8_t *data, size_t size) {
    tether_server_hs *h = tether_server_hs_new();
    if (!h) return;
    size_t used = 0;
    int rc = tether_server_hs_parse(h, data, size, &used);
    CHECK(used <= size);
    if (rc != TETHER_E_AGAIN) {
        uint64_t length = 0;
        int chunked = 0;
        if (tt_server_hs_plain(h, &length, &chunked) == 0) {
            CHECK(!(chunked && length));
            CHECK(tt_server_hs_method(h) != NULL);
            (void)tt_server_hs_keep_alive(h);
        }
    }
    tether_server_hs_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    body(data, size);
    head(data, size);
    return 0;
}
