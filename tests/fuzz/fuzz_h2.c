/* libFuzzer target: the HTTP/2 layer (src/stack/h2*.c). The input is two
 * parts: frames a client sends (after the preface and a SETTINGS frame
 * given here), and the bytes written to every request stream as its
 * HTTP/1.1 response. What is checked: no crash or leak whatever the two
 * say; a stream reads as an HTTP/1.1 request head first (method, target,
 * "HTTP/1.1", no bare CR or LF inside a line); nothing a stream reads or
 * owes passes its bounds; and the session's output stays valid to read.
 *
 * Layout: 2 bytes (big-endian) of frame length A, A bytes of frames, then
 * the response bytes. */
#include "fuzz_check.h"
#include "stack/h2.h"
#include "tether.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STREAMS 16

static void orphaned(void *user) {
    (void)user;
}

static void drain(tt_h2 *h) {
    const uint8_t *out;
    ssize_t n;
    for (int i = 0; i < 1000 && (n = tt_h2_output(h, &out)) > 0; i++)
        CHECK(out != NULL);
}

/* The request head: a first line of three parts ending in HTTP/1.1,
 * lines without stray CR or LF. */
static void check_head(const uint8_t *b, size_t n) {
    const uint8_t *end = memmem(b, n, "\r\n\r\n", 4);
    if (!end) return; /* read in pieces: checked when whole in one read */
    size_t len = (size_t)(end - b) + 2;
    const uint8_t *eol = memmem(b, len, "\r\n", 2);
    CHECK(eol != NULL);
    CHECK(memmem(b, (size_t)(eol - b), " HTTP/1.1", 9) != NULL);
    for (size_t i = 0; i < len; i++) {
        if (b[i] == '\r') CHECK(i + 1 < len && b[i + 1] == '\n');
        if (b[i] == '\n') CHECK(i > 0 && b[i - 1] == '\r');
        CHECK(b[i] != 0);
    }
}

/* first: the stream is new, so what it reads starts with the head. */
static void serve(tt_h2_stream *s, int first, const uint8_t *resp, size_t rlen) {
    static uint8_t buf[1 << 17];
    ssize_t n = tt_h2_stream_read(s, buf, sizeof buf);
    CHECK(n == 0 || n == TETHER_E_AGAIN || n == TETHER_E_HTTP2 ||
          (n > 0 && n <= (ssize_t)sizeof buf));
    if (n > 0 && first) check_head(buf, (size_t)n);
    for (size_t off = 0; off < rlen;) { /* in pieces of 7: heads split anywhere */
        size_t k = rlen - off < 7 ? rlen - off : 7;
        ssize_t w = tt_h2_stream_write(s, resp + off, k);
        if (w <= 0) break;
        CHECK((size_t)w <= k);
        off += (size_t)w;
        CHECK(tt_h2_stream_owed(s) <= TT_H2_STREAM_BACKLOG + 7);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t a = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (a > size) a = size;
    static const uint8_t start[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    tt_h2_cfg cfg = {MAX_STREAMS, 65536, 1u << 20, 4096};
    tt_h2 *h = tt_h2_server_new(&cfg, NULL);
    if (!h) return 0;
    int rc = tt_h2_feed(h, start, sizeof start - 1);
    CHECK(rc == 0);
    tt_h2_stream *mine[MAX_STREAMS * 4];
    size_t nmine = 0;
    for (int part = 0; part < 2 && rc == 0; part++) {
        size_t from = part ? a / 2 : 0, to = part ? a : a / 2;
        rc = tt_h2_feed(h, data + from, to - from);
        CHECK(rc == 0 || rc == TETHER_E_HTTP2 || rc == TETHER_E_NOMEM);
        unsigned what;
        tt_h2_stream *s;
        while ((s = tt_h2_next(h, &what)) != NULL) {
            if ((what & TT_H2_NEW) && nmine < sizeof mine / sizeof mine[0]) {
                tt_h2_stream_attach(s, h);
                mine[nmine++] = s;
            } else if (what & TT_H2_NEW) {
                tt_h2_stream_refuse(s);
                continue;
            }
            serve(s, (what & TT_H2_NEW) != 0, data + a, size - a);
            if (what & TT_H2_NEW) tt_h2_stream_shutdown(s);
        }
        drain(h);
    }
    for (size_t i = 0; i < nmine; i++)
        tt_h2_stream_release(mine[i]);
    drain(h);
    tt_h2_free(h, orphaned);
    return 0;
}
