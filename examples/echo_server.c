/*
 * echo_server - a blocking WebSocket echo server on plain sockets, built
 * only on tether's sans-I/O API (see ws_endpoint.h). It serves one
 * connection at a time, which keeps it short; the real servers come with
 * tether's event loops.
 *
 *   echo_server [--port N] [--no-deflate] [--once]
 *
 * Prints "listening on 127.0.0.1:PORT" once it accepts connections; port 0
 * (the default) picks a free one.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ws_endpoint.h"

struct server_opts {
    int port, deflate, once;
};

static int listen_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        perror("listen");
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

/* Answers a request that is not an acceptable upgrade with the status
 * tether names for its error (400, 405, 426 ...). */
static void reject(int fd, tether_server_hs *hs, int err) {
    const char *resp;
    size_t len;
    int status = tether_error_http_status(err);
    fprintf(stderr, "handshake refused: %s\n", tether_strerror(err));
    if (tether_server_hs_reject(hs, status ? status : 400, NULL, &resp, &len) == 0)
        ws_write_all(fd, resp, len);
}

/* Negotiates permessage-deflate if the client offered it. */
static tether_pmd *negotiate_deflate(tether_server_hs *hs) {
    const char *offers = tether_server_hs_extensions(hs);
    if (!offers) return NULL;
    tether_pmd *pmd = tether_pmd_new(TETHER_ROLE_SERVER);
    char resp[256];
    size_t len;
    if (pmd && tether_pmd_negotiate(pmd, offers, resp, sizeof resp, &len) == 1 &&
        tether_server_hs_set_extensions(hs, resp) == 0)
        return pmd;
    tether_pmd_free(pmd);
    return NULL;
}

/* Reads and answers the opening handshake; on success the endpoint is set
 * up with any frame bytes that followed the request. */
static int handshake(int fd, const struct server_opts *o, struct ws_endpoint *ep) {
    tether_server_hs *hs = tether_server_hs_new();
    uint8_t buf[4096];
    size_t used = 0;
    ssize_t n = 0;
    int rc = TETHER_E_AGAIN;
    while (hs && rc == TETHER_E_AGAIN && (n = recv(fd, buf, sizeof buf, 0)) > 0)
        rc = tether_server_hs_parse(hs, buf, (size_t)n, &used);
    if (rc != 0) {
        if (hs && n > 0) reject(fd, hs, rc);
        tether_server_hs_free(hs);
        return -1;
    }
    tether_pmd *pmd = o->deflate ? negotiate_deflate(hs) : NULL;
    const char *resp;
    size_t len;
    rc = tether_server_hs_accept(hs, &resp, &len);
    if (rc == 0) rc = ws_write_all(fd, resp, len);
    tether_server_hs_free(hs);
    if (rc == 0) return ws_init(ep, fd, TETHER_ROLE_SERVER, pmd, buf + used, (size_t)n - used);
    tether_pmd_free(pmd);
    return rc;
}

static void serve(int fd, const struct server_opts *o) {
    struct ws_endpoint ep;
    if (handshake(fd, o, &ep) != 0) return;
    int op = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    while (ws_recv(&ep, &op, &data, &len) == 1)
        if (ws_send(&ep, op, data, len) != 0) break;
    /* The server closes the TCP connection first (RFC 6455 7.1.1). */
    ws_free(&ep);
}

int main(int argc, char **argv) {
    struct server_opts o = {0, 1, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            o.port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-deflate"))
            o.deflate = 0;
        else if (!strcmp(argv[i], "--once"))
            o.once = 1;
        else {
            fprintf(stderr, "usage: %s [--port N] [--no-deflate] [--once]\n", argv[0]);
            return 2;
        }
    }
    int lfd = listen_loopback(o.port);
    if (lfd < 0) return 1;
    do {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        serve(fd, &o);
        close(fd);
    } while (!o.once);
    close(lfd);
    return 0;
}
