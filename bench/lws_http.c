/*
 * lws_http - HTTP "hello world" on libwebsockets 4.1, written the way its
 * minimal-http-server-dynamic example does it (headers from the HTTP
 * callback, the body from the WRITEABLE callback, then
 * lws_http_transaction_completed() for keep-alive), for the HTTP benchmark
 * (scripts/bench.sh --only http) beside bench/http_hello.c.
 *
 *   lws_http PORT     (prints "listening on 127.0.0.1:PORT")
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int interrupted;
static const char body[] = "Hello world!\n";

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len) {
    uint8_t buf[LWS_PRE + 512], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof buf - 1];
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/plain", sizeof body - 1, &p,
                                        end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return 1;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        memcpy(start, body, sizeof body - 1);
        if (lws_write(wsi, start, sizeof body - 1, LWS_WRITE_HTTP_FINAL) != (int)(sizeof body - 1))
            return 1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"http", callback_http, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

int main(int argc, char **argv) {
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = argc > 1 ? atoi(argv[1]) : 7681;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    lws_set_log_level(LLL_ERR, NULL);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) return 1;
    printf("listening on 127.0.0.1:%d\n", info.port);
    fflush(stdout);
    while (!interrupted && lws_service(ctx, 0) >= 0)
        continue;
    lws_context_destroy(ctx);
    return 0;
}
