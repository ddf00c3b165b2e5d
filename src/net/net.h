/* Internal: sockets, URLs and name resolution for live connections. All
 * sockets are non-blocking and close-on-exec; writes never raise SIGPIPE. */
#ifndef TT_NET_H
#define TT_NET_H

#include <stddef.h>
#include <stdint.h>
#include <netdb.h> /* struct addrinfo, used by tt_resolve_cb */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "loop/loop.h"

/* ---- URLs: ws://host[:port][/path][?query] (wss:// parsed, secure = 1) */
typedef struct tt_url {
    int secure;     /* wss */
    char *host;     /* without brackets, for resolution */
    int port;       /* explicit or default (80 / 443) */
    char *hostport; /* the Host header value: host, [v6], with :port if not default */
    char *target;   /* path and query, starting with '/' */
} tt_url;

/* Parses url; on success fills u (strings owned by u, free with
 * tt_url_free). TETHER_E_INVAL for anything malformed: other schemes,
 * empty host, bad port (0, > 65535, not digits), unbalanced brackets,
 * userinfo, fragments ('#'), spaces or control characters. */
int tt_url_parse(const char *url, tt_url *u);
void tt_url_free(tt_url *u);
/* Splits the authority a[0..n) ("host", "host:port", "[v6]:port") into
 * host (brackets removed, not NUL-terminated) and port (default_port if
 * none). *v6 tells whether the host was a bracketed IPv6 literal. 0 or
 * TETHER_E_INVAL. */
int tt_url_authority(const char *a, size_t n, int default_port, const char **host, size_t *host_len,
                     int *port, int *v6);

/* ---- Proxies (proxy.c) */

typedef enum tt_proxy_kind {
    TT_PROXY_HTTP = 1, /* HTTP CONNECT (RFC 9110 section 9.3.6) */
    TT_PROXY_SOCKS5,   /* SOCKS5 (RFC 1928), the client resolves the name */
    TT_PROXY_SOCKS5H   /* SOCKS5, the proxy resolves the name */
} tt_proxy_kind;

typedef struct tt_proxy {
    tt_proxy_kind kind;
    char *host; /* without brackets */
    int port;
    char *user, *pass; /* percent-decoded; NULL: no credentials */
} tt_proxy;

/* Parses a proxy URL: http://, socks5:// or socks5h://, optional
 * user[:password]@ (percent-encoded), host, optional port (1080 if none,
 * as curl), an optional "/"; no scheme means http://, as curl. 0,
 * TETHER_E_INVAL (TETHER_E_UNSUPPORTED for another scheme) or
 * TETHER_E_NOMEM; free with tt_proxy_free. */
int tt_proxy_parse(const char *url, tt_proxy *p);
void tt_proxy_free(tt_proxy *p);
/* dst becomes a copy of src (its own strings). 0 or TETHER_E_NOMEM. */
int tt_proxy_copy(tt_proxy *dst, const tt_proxy *src);
/* The proxy URL the environment names for a connection to host (secure:
 * wss://), as curl reads it: https_proxy or HTTPS_PROXY for wss://,
 * http_proxy (lower case only) for ws://, then all_proxy or ALL_PROXY;
 * none when no_proxy or NO_PROXY lists host ("*", a name, a domain whose
 * subdomains are meant too, an address; comma-separated). Returns the
 * environment's string (not a copy) or NULL. */
const char *tt_proxy_from_env(int secure, const char *host);

/* ---- Sockets */

/* Binds and listens on host:port (host NULL or "" = all addresses, IPv6
 * dual-stack when possible), SO_REUSEADDR always, SO_REUSEPORT if asked.
 * Returns the listening fd (>= 0) or a negative TETHER_E_*. *bound_port
 * receives the actual port (useful with port 0). */
int tt_sock_listen(const char *host, int port, int reuseport, int backlog, int *bound_port);

/* Accepts one connection (non-blocking, TCP_NODELAY). Returns the fd,
 * TETHER_E_AGAIN when none is pending, or another negative error. Writes
 * the peer as "ip:port" or "[ip]:port" into peer (cap >= 64). */
int tt_sock_accept(int lfd, char *peer, size_t cap);
/* An address as "ip:port" or "[ip]:port" (cap >= 64). */
void tt_sock_addr_text(const struct sockaddr *sa, socklen_t len, char *out, size_t cap);
/* A socket's own address (local) or its peer's, as text as above; 0, or
 * -errno from getsockname/getpeername. */
int tt_sock_name_text(int fd, int local, char *out, size_t cap);

/* Starts a non-blocking connect to addr; returns the fd (connected or in
 * progress: wait for writability, then tt_sock_connect_result) or a
 * negative error. TCP_NODELAY is set. */
int tt_sock_connect(const struct sockaddr *addr, socklen_t len);
/* 0 if the connect completed, TETHER_E_AGAIN if it is still in progress
 * (called before writability), else TETHER_E_CONNECT. */
int tt_sock_connect_result(int fd);

/* read/writev that retry on EINTR and use MSG_NOSIGNAL. Return bytes
 * moved (> 0), 0 on orderly EOF (read only) or when every iovec is empty
 * (writev), TETHER_E_AGAIN when it would block, TETHER_E_INVAL for len 0,
 * iovcnt <= 0 or > IOV_MAX, or TETHER_E_IO on any other failure. */
ssize_t tt_sock_read(int fd, void *buf, size_t len);
ssize_t tt_sock_writev(int fd, const struct iovec *iov, int iovcnt);
/* Copies up to len bytes of the file at *offset to the socket in the
 * kernel (sendfile(2)), advancing *offset. Returns bytes moved, 0 at the
 * file's end, TETHER_E_AGAIN when the socket is full, TETHER_E_INVAL, or
 * TETHER_E_IO (errno says why). */
ssize_t tt_sock_sendfile(int fd, int file, uint64_t *offset, size_t len);
/* Ends our direction of the stream (a FIN after what was written) while
 * reading goes on. 0, or TETHER_E_IO. */
int tt_sock_shutdown_write(int fd);

/* ---- Name resolution, off the loop thread */

typedef struct tt_resolve tt_resolve;
/* Called on the loop thread with the addresses (IPv4 and IPv6, in
 * getaddrinfo's order; owned by the callee, free with freeaddrinfo) or
 * res NULL and err < 0 (TETHER_E_DNS) with getaddrinfo's code in gai (for
 * gai_strerror; EAI_NONAME: no such host). */
typedef void (*tt_resolve_cb)(void *arg, struct addrinfo *res, int err, int gai);

/* Resolves host:port for a TCP connection. Numeric addresses and
 * "localhost" resolve at once (still reported through the loop, never from
 * inside this call); other names on a short-lived thread. */
int tt_resolve_start(tt_loop *loop, const char *host, int port, tt_resolve_cb cb, void *arg,
                     tt_resolve **out);
/* The callback will not be called; safe until the callback has run.
 * Loop thread only. Cancel every pending resolve before freeing its loop:
 * a resolver thread may still finish later, but then it no longer touches
 * the loop (its result is freed by whoever finishes last). */
void tt_resolve_cancel(tt_resolve *r);
/* Resolver threads still running (finished or not with their callback):
 * lets tests and shutdown code wait for them to be gone. */
int tt_resolve_threads(void);

#endif
