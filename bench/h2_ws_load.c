/*
 * h2_ws_load - a load generator for WebSockets over HTTP/2 (RFC 8441), for
 * the HTTP benchmark (scripts/bench.sh --only http): STREAMS WebSockets on
 * ONE cleartext HTTP/2 connection (h2c, prior knowledge), each opened with
 * extended CONNECT and then sending a SIZE-byte text message and waiting
 * for its echo, again and again (depth 1), for SECONDS. The HTTP/2 side is
 * nghttp2's client; the frames are masked as RFC 6455 asks.
 *
 *   h2_ws_load PORT STREAMS SIZE SECONDS
 *
 * prints {"messages": N, "seconds": S, "streams": K} (on 127.0.0.1).
 */
#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS 1000

struct stream {
    int32_t id;
    int open;
    uint8_t out[256]; /* the next frame, masked */
    size_t out_len, out_off;
    size_t got; /* bytes of the echo received */
};

static struct stream streams[MAX_STREAMS];
static int nstreams, opened, counting;
static size_t size;
static long long messages;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct stream *find(int32_t id) {
    for (int i = 0; i < nstreams; i++)
        if (streams[i].id == id) return &streams[i];
    return NULL;
}

/* A masked text frame of `size` bytes (size < 126). */
static void queue_message(nghttp2_session *ng, struct stream *s) {
    uint8_t *f = s->out, mask[4] = {0x12, 0x34, 0x56, 0x78};
    f[0] = 0x81;
    f[1] = (uint8_t)(0x80 | size);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < size; i++)
        f[6 + i] = (uint8_t)('a' + i % 26) ^ mask[i % 4];
    s->out_len = 6 + size;
    s->out_off = 0;
    nghttp2_session_resume_data(ng, s->id);
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud) {
    (void)ng, (void)flags, (void)src, (void)ud;
    struct stream *s = find(id);
    size_t n = s ? s->out_len - s->out_off : 0;
    if (!n) return NGHTTP2_ERR_DEFERRED;
    if (n > len) n = len;
    memcpy(buf, s->out + s->out_off, n);
    s->out_off += n;
    return (ssize_t)n;
}

static int on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud) {
    (void)ud;
    struct stream *s = find(f->hd.stream_id);
    if (s && f->hd.type == NGHTTP2_HEADERS && !s->open) {
        s->open = 1;
        opened++;
        queue_message(ng, s);
    }
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *d, size_t len,
                   void *ud) {
    (void)flags, (void)d, (void)ud;
    struct stream *s = find(id);
    if (!s) return 0;
    s->got += len;
    while (s->got >= size + 2) { /* an unmasked echo: 2 bytes of header, the payload */
        s->got -= size + 2;
        if (counting) messages++;
        queue_message(ng, s);
    }
    return 0;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
    (void)ng, (void)ud;
    fprintf(stderr, "h2_ws_load: stream %d closed (%s)\n", (int)id, nghttp2_http2_strerror(code));
    exit(1);
}

static int pump_out(nghttp2_session *ng, int fd) {
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(ng, &p)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, p + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0) return -1;
            off += w;
        }
    return n < 0 ? -1 : 0;
}

static nghttp2_session *session_new(void) {
    nghttp2_session_callbacks *cb;
    nghttp2_session *ng;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_client_new(&ng, cb, NULL);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS}};
    nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, iv, 1);
    return ng;
}

static void open_streams(nghttp2_session *ng, const char *authority) {
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"CONNECT", 7, 7, 0},
        {(uint8_t *)":protocol", (uint8_t *)"websocket", 9, 9, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":path", (uint8_t *)"/", 5, 1, 0},
        {(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority), 0},
        {(uint8_t *)"sec-websocket-version", (uint8_t *)"13", 21, 2, 0},
    };
    nghttp2_data_provider dp = {.read_callback = read_body};
    for (int i = 0; i < nstreams; i++)
        streams[i].id = nghttp2_submit_request(ng, NULL, nv, 6, &dp, NULL);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: h2_ws_load PORT STREAMS SIZE SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]);
    nstreams = atoi(argv[2]);
    size = (size_t)atoi(argv[3]);
    double secs = atof(argv[4]);
    if (nstreams < 1 || nstreams > MAX_STREAMS || size < 1 || size > 125) return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        return 1;
    }
    char authority[32];
    snprintf(authority, sizeof authority, "127.0.0.1:%d", port);
    nghttp2_session *ng = session_new();
    int settings_seen = 0;
    double t0 = 0, end = now() + 30; /* opening has 30 s */
    static uint8_t buf[1 << 16];
    while (now() < end) {
        if (pump_out(ng, fd)) return 1;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) < 0) return 1;
        if (p.revents) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0 || nghttp2_session_mem_recv(ng, buf, (size_t)n) < 0) {
                fprintf(stderr, "h2_ws_load: the connection ended\n");
                return 1;
            }
        }
        if (!settings_seen &&
            nghttp2_session_get_remote_settings(ng, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL)) {
            settings_seen = 1;
            open_streams(ng, authority);
        }
        if (!counting && opened == nstreams) { /* all open: measure from now */
            counting = 1;
            t0 = now();
            end = t0 + secs;
        }
    }
    if (!counting) {
        fprintf(stderr, "h2_ws_load: %d of %d streams opened\n", opened, nstreams);
        return 1;
    }
    printf("{\"messages\": %lld, \"seconds\": %.3f, \"streams\": %d}\n", messages, now() - t0,
           nstreams);
    close(fd);
    return 0;
}
