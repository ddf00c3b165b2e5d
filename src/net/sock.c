/* TCP sockets: listen, accept, connect, read and writev. Every socket is
 * non-blocking and close-on-exec from birth (no window for a fork to
 * inherit it), and writes use MSG_NOSIGNAL so a vanished peer is an error
 * code, never SIGPIPE. */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tether.h"

static int tt_errno_to_code(int err) {
    switch (err) {
    case ENOMEM:
    case ENOBUFS:
        return TETHER_E_NOMEM;
    case EMFILE:
    case ENFILE:
        return TETHER_E_NOFILE;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return TETHER_E_AGAIN;
    default:
        return TETHER_E_IO;
    }
}

static void tt_set_int_opt(int fd, int level, int name, int value) {
    /* Best effort: e.g. TCP_NODELAY fails harmlessly on non-TCP sockets. */
    (void)setsockopt(fd, level, name, &value, sizeof value);
}

/* A bound, listening socket for one address, or a negative error with
 * errno still telling why. */
static int tt_listen_addr(const struct sockaddr *sa, socklen_t len, int dual_stack, int reuseport,
                          int backlog) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return tt_errno_to_code(errno);
    int one = 1;
    int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0 && reuseport) rc = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (rc == 0 && sa->sa_family == AF_INET6) {
        int v6only = !dual_stack;
        rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (rc == 0) rc = bind(fd, sa, len);
    if (rc == 0) rc = listen(fd, backlog);
    if (rc != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        int err = tt_errno_to_code(saved);
        return err == TETHER_E_AGAIN ? TETHER_E_IO : err;
    }
    return fd;
}

/* All addresses: IPv6 dual-stack, or IPv4 where IPv6 is unavailable. */
static int tt_listen_any(int port, int reuseport, int backlog) {
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    a6.sin6_addr = in6addr_any;
    int fd = tt_listen_addr((struct sockaddr *)&a6, sizeof a6, 1, reuseport, backlog);
    /* Only a missing IPv6 stack justifies IPv4; a busy port stays an error. */
    if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL)) return fd;
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    return tt_listen_addr((struct sockaddr *)&a4, sizeof a4, 0, reuseport, backlog);
}

/* A named or numeric host: the first of its addresses that binds. */
static int tt_listen_host(const char *host, int port, int reuseport, int backlog) {
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    if (getaddrinfo(host, service, &hints, &res) != 0) return TETHER_E_DNS;
    int fd = TETHER_E_IO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = tt_listen_addr(ai->ai_addr, ai->ai_addrlen, 0, reuseport, backlog);
        if (fd >= 0) break;
    }
    int saved = errno; /* why the last bind failed, for the caller */
    freeaddrinfo(res);
    errno = saved;
    return fd;
}

static int tt_local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int tt_sock_listen(const char *host, int port, int reuseport, int backlog, int *bound_port) {
    if (port < 0 || port > 65535) return TETHER_E_INVAL;
    if (backlog <= 0) backlog = SOMAXCONN;
    int any = !host || !*host || strcmp(host, "::") == 0;
    int fd = any ? tt_listen_any(port, reuseport, backlog)
                 : tt_listen_host(host, port, reuseport, backlog);
    if (fd >= 0 && bound_port) *bound_port = tt_local_port(fd);
    return fd;
}

/* "ip:port" or "[ip]:port"; IPv4-mapped IPv6 (a dual-stack listener's
 * IPv4 peers) is shown as the IPv4 address it is. */
static void tt_format_peer(const struct sockaddr_storage *ss, char *out, size_t cap) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    int v6 = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof ip);
        } else {
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            v6 = 1;
        }
        port = ntohs(a->sin6_port);
    }
    snprintf(out, cap, v6 ? "[%s]:%d" : "%s:%d", ip, port);
}

void tt_sock_addr_text(const struct sockaddr *sa, socklen_t len, char *out, size_t cap) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, sa, len < sizeof ss ? len : sizeof ss);
    tt_format_peer(&ss, out, cap);
}

int tt_sock_name_text(int fd, int local, char *out, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len)
                   : getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc < 0) return -errno;
    tt_format_peer(&ss, out, cap);
    return 0;
}

int tt_sock_accept(int lfd, char *peer, size_t cap) {
    struct sockaddr_storage ss;
    for (;;) {
        socklen_t len = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            tt_set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
            if (peer && cap > 0) tt_format_peer(&ss, peer, cap);
            return fd;
        }
        if (errno == EINTR) continue;
        /* A client that gave up while queued: not the listener's fault. */
        if (errno == ECONNABORTED || errno == EPROTO) return TETHER_E_AGAIN;
        return tt_errno_to_code(errno);
    }
}

int tt_sock_connect(const struct sockaddr *addr, socklen_t len) {
    if (!addr || len < (socklen_t)sizeof(sa_family_t)) return TETHER_E_INVAL;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return tt_errno_to_code(errno);
    tt_set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    /* EINTR: the connect goes on asynchronously, exactly like EINPROGRESS. */
    if (connect(fd, addr, len) == 0 || errno == EINPROGRESS || errno == EINTR) return fd;
    int saved = errno;
    int err = saved == ENOMEM || saved == ENOBUFS ? TETHER_E_NOMEM : TETHER_E_CONNECT;
    close(fd);
    errno = saved; /* why, for the caller's message */
    return err;
}

int tt_sock_connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return TETHER_E_CONNECT;
    if (err != 0) {
        errno = err; /* the connect's own failure: "connection refused" */
        return TETHER_E_CONNECT;
    }
    /* SO_ERROR is 0 both when connected and while still in progress. */
    struct sockaddr_storage ss;
    len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) return 0;
    return errno == ENOTCONN ? TETHER_E_AGAIN : TETHER_E_CONNECT;
}

ssize_t tt_sock_read(int fd, void *buf, size_t len) {
    if (!buf || len == 0) return TETHER_E_INVAL;
    if (len > SSIZE_MAX) len = SSIZE_MAX;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        int code = tt_errno_to_code(errno);
        return code == TETHER_E_AGAIN ? code : TETHER_E_IO;
    }
}

ssize_t tt_sock_writev(int fd, const struct iovec *iov, int iovcnt) {
    if (!iov || iovcnt <= 0 || iovcnt > IOV_MAX) return TETHER_E_INVAL;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    for (;;) {
        /* One buffer (the common case: the output queue is contiguous)
         * takes send(2), a shorter kernel path than sendmsg(2). */
        ssize_t n = iovcnt == 1 ? send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL)
                                : sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        int code = tt_errno_to_code(errno);
        return code == TETHER_E_AGAIN ? code : TETHER_E_IO;
    }
}

/* sendfile(2) has no MSG_NOSIGNAL: a peer that has gone would raise
 * SIGPIPE and kill a program that did not ignore it. So SIGPIPE is
 * blocked on this thread around the call, and one it raised is taken
 * back out of the pending set (unless one was pending already). Four
 * system calls more per call, for up to a megabyte each. */
static ssize_t tt_sendfile_nosignal(int fd, int file, off_t *off, size_t len) {
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t n = sendfile(fd, file, off, len);
    int err = errno;
    /* (a call that moved some bytes may have raised it too) */
    if (!was_pending &&
        (n < 0 ? err == EPIPE : sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))) {
        struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

ssize_t tt_sock_sendfile(int fd, int file, uint64_t *offset, size_t len) {
    if (!offset || !len || *offset > (uint64_t)INT64_MAX) return TETHER_E_INVAL;
    for (;;) {
        off_t off = (off_t)*offset;
        ssize_t n = tt_sendfile_nosignal(fd, file, &off, len);
        if (n > 0) *offset = (uint64_t)off;
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        int code = tt_errno_to_code(errno);
        return code == TETHER_E_AGAIN ? code : TETHER_E_IO;
    }
}

int tt_sock_shutdown_write(int fd) {
    return shutdown(fd, SHUT_WR) == 0 ? 0 : TETHER_E_IO;
}
