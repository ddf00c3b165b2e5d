// Raw TCP echo, the limit row of the side-by-side benchmark (bench/run.py):
// what echoing the same bytes costs with no protocol at all. One file, two
// roles, plain epoll, no library:
//
//   raw_echo serve [PORT]     echo server on 127.0.0.1 (prints "listening on
//                             127.0.0.1:PORT"); per connection only a small
//                             struct while nothing is in flight, as the
//                             idle-memory row wants
//   raw_echo load HOST:PORT -c N -s BYTES -d DEPTH -t SECS -w SECS
//                             load generator with `tether bench --json`'s
//                             fields: each connection keeps DEPTH messages of
//                             BYTES in flight; a message is done when BYTES
//                             more came back. -d 0 holds idle connections.
//
// Not part of tether: a benchmark anchor only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF (1 << 20)
#define MAX_LAT_US 2000000

static char rbuf[READ_BUF];

static void die(const char *what) {
    perror(what);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// ---- server ----

struct sconn {
    int fd;
    char *pending; // bytes the socket did not take yet (NULL when idle)
    size_t len, off;
};

static void srv_close(int ep, struct sconn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

// Writes what it can; keeps the rest and waits for EPOLLOUT (no reads meanwhile,
// so a client that does not read cannot grow the server's memory).
static int srv_send(int ep, struct sconn *c, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN) return -1;
        if (w < 0) break;
        p += w;
        n -= (size_t)w;
    }
    if (n == 0) return 0;
    c->pending = malloc(n);
    if (!c->pending) return -1;
    memcpy(c->pending, p, n);
    c->len = n;
    c->off = 0;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int srv_flush(int ep, struct sconn *c) {
    char *p = c->pending;
    size_t off = c->off, len = c->len;
    c->pending = NULL;
    int rc = srv_send(ep, c, p + off, len - off);
    free(p);
    if (rc == 0 && !c->pending) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        rc = epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    return rc;
}

static void srv_accept(int ep, int lfd) {
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sconn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) srv_close(ep, c);
    }
}

static void srv_event(int ep, struct sconn *c, uint32_t events) {
    if (c->pending) {
        if (srv_flush(ep, c) < 0) srv_close(ep, c);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    ssize_t n = read(c->fd, rbuf, sizeof rbuf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        srv_close(ep, c);
        return;
    }
    if (n > 0 && srv_send(ep, c, rbuf, (size_t)n) < 0) srv_close(ep, c);
}

static int serve(int port) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0) die("listen");
    socklen_t sl = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    printf("listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                srv_accept(ep, lfd);
            else
                srv_event(ep, evs[i].data.ptr, evs[i].events);
        }
    }
    return 0;
}

// ---- load generator ----

struct lconn {
    int fd;
    size_t got;      // bytes of the oldest message in flight received so far
    size_t unsent;   // bytes of queued messages not yet written
    double *sent_at; // ring of DEPTH send times
    unsigned head, count;
};

struct load {
    int conns, depth;
    size_t size;
    char *msg;
    double measure_from;
    unsigned long long messages, bytes;
    uint32_t *lat; // histogram, one bucket per microsecond
    unsigned long long lat_over;
};

static void l_write(struct load *L, struct lconn *c) {
    // Every byte of every message is the same, so one write can carry all
    // the queued messages (as a WebSocket client's round would).
    while (c->unsent > 0) {
        ssize_t w = write(c->fd, L->msg, c->unsent);
        if (w <= 0) return; // EAGAIN: EPOLLOUT stays armed
        c->unsent -= (size_t)w;
    }
}

static void l_queue(struct load *L, struct lconn *c, double t) {
    c->sent_at[(c->head + c->count) % (unsigned)L->depth] = t;
    c->count++;
    c->unsent += L->size;
}

static void l_record(struct load *L, double sent, double t) {
    if (sent < L->measure_from) return;
    L->messages++;
    L->bytes += L->size;
    double us = (t - sent) * 1e6;
    if (us < MAX_LAT_US)
        L->lat[(unsigned)us]++;
    else
        L->lat_over++;
}

// Returns 0 when the socket has nothing more to read.
static int l_read(struct load *L, struct lconn *c) {
    ssize_t n = read(c->fd, rbuf, sizeof rbuf);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            fprintf(stderr, "raw_echo: connection lost\n");
            exit(1);
        }
        return 0;
    }
    double t = now_s();
    size_t left = (size_t)n;
    while (left > 0) {
        size_t need = L->size - c->got;
        size_t take = left < need ? left : need;
        c->got += take;
        left -= take;
        if (c->got == L->size) {
            c->got = 0;
            double sent = c->sent_at[c->head];
            c->head = (c->head + 1) % (unsigned)L->depth;
            c->count--;
            l_record(L, sent, t);
            l_queue(L, c, t);
        }
    }
    l_write(L, c);
    return 1;
}

static unsigned long long pct(struct load *L, double p) {
    unsigned long long total = L->lat_over, want, seen = 0;
    for (unsigned i = 0; i < MAX_LAT_US; i++)
        total += L->lat[i];
    want = (unsigned long long)(p * (double)total);
    for (unsigned i = 0; i < MAX_LAT_US; i++) {
        seen += L->lat[i];
        if (seen > want) return i;
    }
    return MAX_LAT_US;
}

static int dial(const char *hostport) {
    char host[256];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon) die("HOST:PORT");
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int load(const char *hostport, int conns, size_t size, int depth, double secs, double warm) {
    struct load L = {.conns = conns, .depth = depth, .size = size};
    L.msg = malloc(size * (size_t)(depth ? depth : 1));
    L.lat = calloc(MAX_LAT_US, sizeof *L.lat);
    memset(L.msg, 'x', size * (size_t)(depth ? depth : 1));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct lconn *cs = calloc((size_t)conns, sizeof *cs);
    for (int i = 0; i < conns; i++) {
        cs[i].fd = dial(hostport);
        if (depth == 0) continue;
        cs[i].sent_at = calloc((size_t)depth, sizeof(double));
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    double start = now_s();
    if (depth == 0) {
        while (now_s() - start < secs)
            usleep(100000);
        return 0;
    }
    for (int i = 0; i < conns; i++) {
        int fd = cs[i].fd;
        // Non-blocking from here on (the connects above were blocking).
        int one = 1;
        ioctl(fd, FIONBIO, &one);
        for (int k = 0; k < depth; k++)
            l_queue(&L, &cs[i], start);
        l_write(&L, &cs[i]);
    }
    L.measure_from = start + warm;
    struct rusage r0, r1;
    int measuring = 0;
    struct epoll_event evs[256];
    double end = start + warm + secs;
    for (;;) {
        double t = now_s();
        if (!measuring && t >= L.measure_from) {
            getrusage(RUSAGE_SELF, &r0);
            measuring = 1;
        }
        if (t >= end) break;
        int n = epoll_wait(ep, evs, 256, 50);
        for (int i = 0; i < n; i++) {
            struct lconn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLIN) {
                // Edge-triggered: drain.
                for (int k = 0; k < 64 && l_read(&L, c); k++)
                    ;
            }
            if (evs[i].events & EPOLLOUT) l_write(&L, c);
        }
    }
    getrusage(RUSAGE_SELF, &r1);
    double user = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                  (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6;
    double sys = (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                 (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    printf("{\"connections\":%d,\"size\":%zu,\"depth\":%d,\"duration_s\":%.3f,\"messages\":%llu,"
           "\"messages_per_s\":%.1f,\"mb_per_s\":%.3f,\"latency_p50_us\":%llu,"
           "\"latency_p99_us\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_percent\":%.1f}\n",
           conns, size, depth, secs, L.messages, (double)L.messages / secs,
           (double)L.bytes / secs / 1e6, pct(&L, 0.5), pct(&L, 0.99), user, sys,
           (user + sys) / secs * 100);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) return serve(argc > 2 ? atoi(argv[2]) : 0);
    if (argc >= 3 && strcmp(argv[1], "load") == 0) {
        int conns = 100, depth = 1;
        size_t size = 32;
        double secs = 10, warm = 1;
        for (int i = 3; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "-c"))
                conns = atoi(argv[i + 1]);
            else if (!strcmp(argv[i], "-s"))
                size = (size_t)strtoull(argv[i + 1], NULL, 10);
            else if (!strcmp(argv[i], "-d"))
                depth = atoi(argv[i + 1]);
            else if (!strcmp(argv[i], "-t"))
                secs = atof(argv[i + 1]);
            else if (!strcmp(argv[i], "-w"))
                warm = atof(argv[i + 1]);
        }
        if (conns < 1 || size < 1 || depth < 0 || secs <= 0) die("arguments");
        return load(argv[2], conns, size, depth, secs, warm);
    }
    fprintf(stderr, "usage: raw_echo serve [PORT] | raw_echo load HOST:PORT -c N -s BYTES -d "
                    "DEPTH -t SECS -w SECS\n");
    return 2;
}
