/* libFuzzer target for the opening handshake.
 *
 * Byte 0 selects: bit 0 the side (0: the server parses a request, 1: the
 * client parses a response to its own request), bits 1-6 the chunk size
 * (1..63, or 63 meaning the whole input at once), bit 7 small limits (256
 * bytes, 8 headers). The rest is fed in chunks. Invariants are checked with
 * abort(), so libFuzzer reports them as crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/client_hs.h"
#include "proto/ext_header.h"
#include "proto/http_token.h"
#include "tether.h"
#include "fuzz_check.h"

static const char rfc_key[] = "dGhlIHNhbXBsZSBub25jZQ==";

typedef int (*parse_fn)(void *h, const uint8_t *buf, size_t len, size_t *consumed);

static int server_parse(void *h, const uint8_t *buf, size_t len, size_t *consumed) {
    return tether_server_hs_parse(h, buf, len, consumed);
}

static int client_parse(void *h, const uint8_t *buf, size_t len, size_t *consumed) {
    return tether_client_hs_parse(h, buf, len, consumed);
}

/* Feeds data in chunks; returns the last result and the bytes used. */
static int feed(parse_fn parse, void *h, const uint8_t *data, size_t size, size_t chunk,
                size_t *total) {
    int rc = TETHER_E_AGAIN;
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk, used = (size_t)-1;
        rc = parse(h, data + off, n, &used);
        CHECK(used <= n);
        CHECK(rc != TETHER_E_AGAIN || used == n);
        off += used;
        if (rc != TETHER_E_AGAIN) break;
    }
    *total = off;
    /* Once finished, the result sticks and nothing more is consumed. */
    if (rc != TETHER_E_AGAIN && off < size) {
        size_t used = 1;
        CHECK(parse(h, data + off, size - off, &used) == rc && used == 0);
    }
    return rc;
}

typedef const char *(*lookup_fn)(const void *h, const char *name);
typedef int (*header_at_fn)(const void *h, size_t i, const char **name, const char **value);

static const char *server_lookup(const void *h, const char *name) {
    return tether_server_hs_header(h, name);
}

static const char *client_lookup(const void *h, const char *name) {
    return tether_client_hs_header(h, name);
}

static int server_at(const void *h, size_t i, const char **n, const char **v) {
    return tether_server_hs_header_at(h, i, n, v);
}

static int client_at(const void *h, size_t i, const char **n, const char **v) {
    return tether_client_hs_header_at(h, i, n, v);
}

/* Every header is a token name with a clean value, and lookups find it. */
static void check_headers(const void *h, size_t count, header_at_fn at, lookup_fn lookup) {
    const char *name, *value;
    for (size_t i = 0; i < count; i++) {
        CHECK(at(h, i, &name, &value) == 0);
        CHECK(tt_http_is_token(name, strlen(name)));
        CHECK(tt_http_value_ok(value));
        const char *joined = lookup(h, name);
        CHECK(joined && strlen(joined) >= strlen(value));
    }
    CHECK(at(h, count, &name, &value) == TETHER_E_INVAL);
}

static void append(char **p, size_t *len, const char *s) {
    size_t n = strlen(s);
    char *q = realloc(*p, *len + n + 1);
    CHECK(q);
    memcpy(q + *len, s, n + 1);
    *p = q;
    *len += n;
}

/* An accepted request rebuilt from what the accessors say parses again to
 * the same request. */
static void check_reparse(const tether_server_hs *h) {
    char *s = NULL;
    size_t len = 0, used;
    const char *name, *value;
    append(&s, &len, tether_server_hs_method(h));
    append(&s, &len, " ");
    append(&s, &len, tether_server_hs_target(h));
    append(&s, &len, " HTTP/1.1\r\n");
    for (size_t i = 0; tether_server_hs_header_at(h, i, &name, &value) == 0; i++) {
        append(&s, &len, name);
        append(&s, &len, ": ");
        append(&s, &len, value);
        append(&s, &len, "\r\n");
    }
    append(&s, &len, "\r\n");
    tether_server_hs *again = tether_server_hs_new();
    CHECK(again);
    CHECK(tether_server_hs_set_max_header_bytes(again, 1u << 20) == 0);
    CHECK(tether_server_hs_parse(again, (const uint8_t *)s, len, &used) == 0 && used == len);
    CHECK(tether_server_hs_header_count(again) == tether_server_hs_header_count(h));
    CHECK(strcmp(tether_server_hs_path(again), tether_server_hs_path(h)) == 0);
    CHECK(!tether_server_hs_query(again) == !tether_server_hs_query(h));
    CHECK(tether_server_hs_protocol_count(again) == tether_server_hs_protocol_count(h));
    for (size_t i = 0; i < tether_server_hs_protocol_count(h); i++)
        CHECK(strcmp(tether_server_hs_protocol_at(again, i), tether_server_hs_protocol_at(h, i)) ==
              0);
    tether_server_hs_free(again);
    free(s);
}

/* The 101 we build must satisfy a client that made this request. */
static void check_accept_with_client(const tether_server_hs *h, const char *resp, size_t len) {
    tether_client_hs *c = tether_client_hs_new("fuzz", "/");
    const char *req, *ext = tether_server_hs_extensions(h);
    size_t req_len, used;
    CHECK(c);
    CHECK(tt_client_hs_set_key(c, tether_server_hs_header(h, "Sec-WebSocket-Key")) == 0);
    for (size_t i = 0; i < tether_server_hs_protocol_count(h); i++)
        tether_client_hs_add_protocol(c, tether_server_hs_protocol_at(h, i));
    int ext_offered = ext && tether_client_hs_add_extension(c, ext) == 0;
    CHECK(tether_client_hs_request(c, &req, &req_len) == 0);
    int rc = tether_client_hs_parse(c, (const uint8_t *)resp, len, &used);
    CHECK(used == len);
    CHECK(rc == 0 || (rc == TETHER_E_HS_EXTENSION && !ext_offered));
    tether_client_hs_free(c);
}

static void server_accepted(tether_server_hs *h) {
    const char *out, *ext = tether_server_hs_extensions(h);
    size_t len;
    CHECK(strcmp(tether_server_hs_method(h), "GET") == 0);
    CHECK(tether_server_hs_path(h)[0] == '/');
    CHECK(tether_server_hs_header(h, "Host") != NULL);
    check_reparse(h);
    size_t np = tether_server_hs_protocol_count(h);
    for (size_t i = 0; i < np; i++) {
        const char *p = tether_server_hs_protocol_at(h, i);
        CHECK(p && tt_http_is_token(p, strlen(p)));
    }
    if (np)
        CHECK(tether_server_hs_select_protocol(h, tether_server_hs_protocol_at(h, np - 1)) == 0);
    /* Echoing the offer is not valid permessage-deflate, but it is a valid
     * header value when it parses. */
    if (ext) {
        int rc = tether_server_hs_set_extensions(h, ext);
        CHECK(rc == 0 || rc == TETHER_E_INVAL);
    }
    CHECK(tether_server_hs_accept(h, &out, &len) == 0 && len == strlen(out));
    check_accept_with_client(h, out, len);
}

static void fuzz_server(const uint8_t *data, size_t size, size_t chunk, int small) {
    tether_server_hs *h = tether_server_hs_new();
    size_t used;
    const char *out;
    size_t len;
    if (!h) return;
    if (small) {
        CHECK(tether_server_hs_set_max_header_bytes(h, 256) == 0);
        CHECK(tether_server_hs_set_max_headers(h, 8) == 0);
    }
    int rc = feed(server_parse, h, data, size, chunk, &used);
    CHECK(used <= size);
    size_t count = tether_server_hs_header_count(h);
    CHECK(count <= (small ? 8u : TETHER_DEFAULT_MAX_HEADERS));
    CHECK(used <= (small ? 256u : TETHER_DEFAULT_MAX_HEADER_BYTES) || rc == TETHER_E_AGAIN);
    check_headers(h, count, server_at, server_lookup);
    if (tether_server_hs_method(h)) {
        CHECK(tether_server_hs_target(h) && tether_server_hs_path(h));
        (void)tether_server_hs_query(h);
        (void)tether_server_hs_origin(h);
        (void)tether_server_hs_extensions(h);
    }
    if (rc == 0) {
        server_accepted(h);
    } else {
        int status = tether_error_http_status(rc);
        CHECK(rc == TETHER_E_AGAIN || rc == TETHER_E_NOMEM || status >= 400);
        CHECK(tether_server_hs_accept(h, &out, &len) == TETHER_E_STATE);
        CHECK(tether_server_hs_reject(h, status ? status : 400, NULL, &out, &len) == 0);
        CHECK(len == strlen(out));
    }
    tether_server_hs_free(h);
}

static int any_ext(void *ctx, const char *name, const tt_ext_param *params, size_t nparams) {
    (void)ctx;
    (void)params;
    (void)nparams;
    CHECK(tt_http_is_token(name, strlen(name)));
    return 0;
}

static void fuzz_client(const uint8_t *data, size_t size, size_t chunk, int small) {
    tether_client_hs *h = tether_client_hs_new("server.example.com", "/chat");
    const char *req;
    size_t len, used;
    if (!h) return;
    CHECK(tt_client_hs_set_key(h, rfc_key) == 0);
    CHECK(tether_client_hs_add_protocol(h, "chat") == 0);
    CHECK(tether_client_hs_add_protocol(h, "superchat") == 0);
    CHECK(tether_client_hs_add_extension(h, "permessage-deflate; client_max_window_bits") == 0);
    if (small) {
        CHECK(tether_client_hs_set_max_header_bytes(h, 256) == 0);
        CHECK(tether_client_hs_set_max_headers(h, 8) == 0);
    }
    CHECK(tether_client_hs_request(h, &req, &len) == 0 && len == strlen(req));
    int rc = feed(client_parse, h, data, size, chunk, &used);
    CHECK(used <= size);
    size_t count = tether_client_hs_header_count(h);
    check_headers(h, count, client_at, client_lookup);
    int status = tether_client_hs_status(h);
    const char *reason = tether_client_hs_reason(h);
    CHECK(!reason == !status);
    if (rc == 0) {
        const char *p = tether_client_hs_protocol(h), *ext = tether_client_hs_extensions(h);
        CHECK(status == 101);
        CHECK(!p || strcmp(p, "chat") == 0 || strcmp(p, "superchat") == 0);
        CHECK(!ext || tt_ext_parse(ext, strlen(ext), any_ext, NULL) == 0);
    } else {
        CHECK(!tether_client_hs_protocol(h) && !tether_client_hs_extensions(h));
        if (rc == TETHER_E_HS_STATUS) CHECK(status >= 100 && status != 101);
    }
    tether_client_hs_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0];
    size_t chunk = (sel >> 1) & 0x3f;
    if (chunk == 0x3f) chunk = size;
    if (chunk == 0) chunk = 1;
    if (sel & 1)
        fuzz_client(data + 1, size - 1, chunk, (sel & 0x80) != 0);
    else
        fuzz_server(data + 1, size - 1, chunk, (sel & 0x80) != 0);
    return 0;
}
