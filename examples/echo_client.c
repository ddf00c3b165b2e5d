/*
 * echo_client - a blocking WebSocket client on plain sockets, built only on
 * tether's sans-I/O API (see ws_endpoint.h). It sends each argument as a
 * text message, then a 1 MiB binary message and a text message in three
 * fragments, checks that every echo matches, and closes with 1000.
 *
 *   echo_client [--no-deflate] ws://HOST:PORT/PATH [MESSAGE...]
 *
 * Exit status 0 only if every echo matched and the close was clean.
 */
#define _POSIX_C_SOURCE 200809L
#include <netdb.h>

#include "ws_endpoint.h"

/* Splits ws://host[:port][/path] (an example-sized parser: no IPv6
 * literals, no userinfo). */
static int parse_url(const char *url, char *host, size_t hcap, char *port, const char **path) {
    if (strncmp(url, "ws://", 5) != 0) return -1;
    const char *h = url + 5, *slash = strchr(h, '/'), *end = slash ? slash : h + strlen(h);
    const char *colon = memchr(h, ':', (size_t)(end - h));
    size_t hlen = (size_t)((colon ? colon : end) - h);
    if (hlen == 0 || hlen >= hcap) return -1;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    snprintf(port, 8, "%.*s", colon ? (int)(end - colon - 1) : 2, colon ? colon + 1 : "80");
    *path = slash ? slash : "/";
    return 0;
}

static int connect_tcp(const char *host, const char *port) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    if (getaddrinfo(host, port, &hints, &res) != 0) return -1;
    int fd = -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Offers permessage-deflate on the request. */
static tether_pmd *offer_deflate(tether_client_hs *hs) {
    tether_pmd *pmd = tether_pmd_new(TETHER_ROLE_CLIENT);
    char offer[256];
    size_t len;
    if (pmd && tether_pmd_offer(pmd, offer, sizeof offer, &len) == 0 &&
        tether_client_hs_add_extension(hs, offer) == 0)
        return pmd;
    tether_pmd_free(pmd);
    return NULL;
}

/* Reads the response; a refusal is reported with its HTTP status. */
static int read_response(int fd, tether_client_hs *hs, uint8_t *buf, size_t cap, size_t *used,
                         size_t *n) {
    int rc = TETHER_E_AGAIN;
    ssize_t r = 0;
    while (rc == TETHER_E_AGAIN && (r = recv(fd, buf, cap, 0)) > 0)
        rc = tether_client_hs_parse(hs, buf, (size_t)r, used);
    *n = r > 0 ? (size_t)r : 0;
    if (rc == TETHER_E_HS_STATUS)
        fprintf(stderr, "server refused: %d %s\n", tether_client_hs_status(hs),
                tether_client_hs_reason(hs));
    else if (rc != 0)
        fprintf(stderr, "handshake failed: %s\n",
                rc == TETHER_E_AGAIN ? "connection closed" : tether_strerror(rc));
    return rc;
}

static int open_ws(const char *url, int deflate, struct ws_endpoint *ep) {
    char host[256], port[8], hostport[300];
    const char *path;
    if (parse_url(url, host, sizeof host, port, &path) != 0) return -1;
    int fd = connect_tcp(host, port);
    if (fd < 0) return -1;
    snprintf(hostport, sizeof hostport, "%s:%s", host, port);
    tether_client_hs *hs = tether_client_hs_new(hostport, path);
    tether_pmd *pmd = deflate && hs ? offer_deflate(hs) : NULL;
    const char *req;
    size_t req_len, used = 0, n = 0;
    uint8_t buf[4096];
    int rc = hs ? tether_client_hs_request(hs, &req, &req_len) : -1;
    if (rc == 0) rc = ws_write_all(fd, req, req_len);
    if (rc == 0) rc = read_response(fd, hs, buf, sizeof buf, &used, &n);
    if (rc == 0 && pmd) rc = tether_pmd_accept(pmd, tether_client_hs_extensions(hs));
    if (rc == 0 && pmd && !tether_pmd_enabled(pmd)) {
        tether_pmd_free(pmd); /* the server declined: plain frames */
        pmd = NULL;
    }
    tether_client_hs_free(hs);
    if (rc == 0)
        rc = ws_init(ep, fd, TETHER_ROLE_CLIENT, pmd, buf + used, n - used); /* takes pmd */
    else
        tether_pmd_free(pmd);
    if (rc != 0) close(fd);
    return rc;
}

/* Sends a text message in three frames: TEXT, CONTINUATION, CONTINUATION.
 * With deflate, each piece is compressed in turn and only the first frame
 * carries RSV1 (RFC 7692 6.1): the engine does both. */
static int send_fragmented(struct ws_endpoint *ep, const char *text) {
    size_t len = strlen(text), cut[4] = {0, len / 3, 2 * len / 3, len};
    for (int i = 0; i < 3; i++)
        if (ws_send_fragment(ep, TETHER_OP_TEXT, text + cut[i], cut[i + 1] - cut[i], i == 2) != 0)
            return -1;
    return 0;
}

/* Waits for the echo of one message and compares it. */
static int expect_echo(struct ws_endpoint *ep, int op, const void *sent, size_t len) {
    int got_op;
    const uint8_t *data;
    size_t got_len;
    if (ws_recv(ep, &got_op, &data, &got_len) != 1) return -1;
    if (got_op != op || got_len != len || memcmp(data, sent, len) != 0) {
        fprintf(stderr, "echo mismatch (%zu bytes sent, %zu received)\n", len, got_len);
        return -1;
    }
    if (op == TETHER_OP_TEXT && len <= 200)
        printf("echo: %.*s\n", (int)len, (const char *)data);
    else
        printf("echo: %zu bytes of %s\n", len, op == TETHER_OP_TEXT ? "text" : "binary");
    return 0;
}

static int run(struct ws_endpoint *ep, char **msgs, int nmsgs) {
    for (int i = 0; i < nmsgs; i++)
        if (ws_send(ep, TETHER_OP_TEXT, msgs[i], strlen(msgs[i])) != 0 ||
            expect_echo(ep, TETHER_OP_TEXT, msgs[i], strlen(msgs[i])) != 0)
            return -1;
    size_t big_len = 1u << 20;
    uint8_t *big = malloc(big_len);
    if (!big) return -1;
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 7 + i / 4096);
    int rc = ws_send(ep, TETHER_OP_BINARY, big, big_len);
    if (rc == 0) rc = expect_echo(ep, TETHER_OP_BINARY, big, big_len);
    free(big);
    const char *frag =
        "fragmented: one message, three frames, \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    if (rc == 0) rc = send_fragmented(ep, frag);
    if (rc == 0) rc = expect_echo(ep, TETHER_OP_TEXT, frag, strlen(frag));
    return rc;
}

/* Closing handshake: send 1000, wait for the server's close, then for the
 * server to close the TCP connection. */
static int finish(struct ws_endpoint *ep) {
    int op;
    const uint8_t *data;
    size_t len;
    if (ws_send_close(ep, TETHER_CLOSE_NORMAL, "done") != 0) return -1;
    if (ws_recv(ep, &op, &data, &len) != 0 || ep->peer_code != TETHER_CLOSE_NORMAL) return -1;
    printf("closed cleanly with %d\n", ep->peer_code);
    return 0;
}

int main(int argc, char **argv) {
    int deflate = 1, i = 1;
    if (i < argc && !strcmp(argv[i], "--no-deflate")) deflate = 0, i++;
    if (i >= argc) {
        fprintf(stderr, "usage: %s [--no-deflate] ws://HOST:PORT/PATH [MESSAGE...]\n", argv[0]);
        return 2;
    }
    struct ws_endpoint ep;
    if (open_ws(argv[i], deflate, &ep) != 0) return 1;
    printf("connected to %s%s\n", argv[i], ep.deflate ? " with permessage-deflate" : "");
    int rc = run(&ep, argv + i + 1, argc - i - 1);
    if (rc == 0) rc = finish(&ep);
    close(ep.fd);
    ws_free(&ep);
    return rc == 0 ? 0 : 1;
}
