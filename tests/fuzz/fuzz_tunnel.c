/* libFuzzer target: what a proxy may answer. The first byte picks the
 * proxy URL's kind (HTTP CONNECT, SOCKS5 with or without credentials);
 * the rest is the proxy's answer, fed to the tunnel layer in two pieces
 * split where the second byte says. Whatever comes, the layer ends open
 * (and then passes the rest through intact), waiting, or failed with
 * TETHER_E_PROXY and a reason, and stays failed. The input as a string
 * is also parsed as a proxy URL. */
#include "fuzz_check.h"
#include "net/net.h"
#include "stack/tunnel.h"
#include "tether.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void url(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return;
    memcpy(s, data, size);
    s[size] = '\0';
    tt_proxy p;
    int rc = tt_proxy_parse(s, &p);
    CHECK(rc == 0 || rc == TETHER_E_INVAL || rc == TETHER_E_UNSUPPORTED);
    if (rc == 0) {
        CHECK(p.host && p.port >= 1 && p.port <= 65535);
        CHECK(!p.pass || p.user);
    }
    tt_proxy_free(&p);
    free(s);
}

static void answer(const uint8_t *data, size_t size) {
    static const char *urls[] = {"http://p", "http://u:p@p", "socks5h://p", "socks5h://u:p@p",
                                 "socks5://p"};
    tt_proxy p;
    CHECK(tt_proxy_parse(urls[data[0] % 5], &p) == 0);
    tt_layer *l = tt_tunnel_new(&p, data[0] & 8 ? "server.example" : "127.0.0.1", 443);
    tt_proxy_free(&p);
    CHECK(l != NULL);
    CHECK(l->ops->step(l) == TETHER_E_AGAIN);
    size_t cut = size > 2 ? data[1] % (size - 1) : 0;
    const uint8_t *in = data + 2;
    size_t len = size - 2, first = cut < len ? cut : len;
    uint8_t buf[4096];
    int rc = l->ops->feed(l, in, first) == 0 ? l->ops->step(l) : TETHER_E_NOMEM;
    l->ops->take(l, buf, sizeof buf);
    if (rc == TETHER_E_AGAIN && first < len) {
        CHECK(l->ops->feed(l, in + first, len - first) == 0);
        rc = l->ops->step(l);
    }
    CHECK(rc == 0 || rc == TETHER_E_AGAIN || rc == TETHER_E_PROXY);
    if (rc == TETHER_E_PROXY) {
        CHECK(l->ops->error_text(l) != NULL);
        CHECK(l->ops->step(l) == TETHER_E_PROXY);
    }
    if (rc == 0) { /* what follows the handshake is the server's, intact */
        while (l->ops->read(l, buf, sizeof buf) > 0) {
        }
        CHECK(l->ops->feed(l, (const uint8_t *)"xyz", 3) == 0);
        CHECK(l->ops->read(l, buf, sizeof buf) == 3 && memcmp(buf, "xyz", 3) == 0);
    }
    l->ops->free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    url(data, size);
    answer(data, size);
    return 0;
}
