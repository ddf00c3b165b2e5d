/* HTTP "hello world" on tether for the HTTP benchmark (scripts/bench.sh
 * --only http): every request, HTTP/1.1 or HTTP/2, is answered with a
 * 13-byte text body from memory, as bench/lws_http.c and uWebSockets'
 * HelloWorld example answer theirs. WebSocket upgrades are echoed, so the
 * same server measures WebSocket over HTTP/1.1 and over HTTP/2.
 *
 *   http_hello PORT     (prints "listening on 127.0.0.1:PORT")
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "tether.h"

static tether_ctx *g_ctx;

static void on_signal(int sig) {
    (void)sig;
    tether_ctx_stop(g_ctx);
}

static void on_event(tether_ctx *ctx, tether_event *ev, void *user) {
    (void)ctx;
    (void)user;
    tether_conn *c = tether_event_conn(ev);
    size_t len;
    const uint8_t *data;
    switch (tether_event_type_of(ev)) {
    case TETHER_EV_HTTP:
        if (tether_event_fin(ev)) tether_conn_respond(c, 200, "text/plain", "Hello world!\n", 13);
        break;
    case TETHER_EV_HTTP_BODY:
        if (tether_event_fin(ev)) tether_conn_respond(c, 200, "text/plain", "Hello world!\n", 13);
        break;
    case TETHER_EV_MESSAGE:
        data = tether_event_data(ev, &len);
        tether_conn_send(c, tether_event_opcode(ev), data, len);
        break;
    default:
        break;
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    tether_opts *o = tether_opts_new();
    if (!o || tether_opts_set_http(o, 1) || !(g_ctx = tether_ctx_new())) return 1;
    tether_ctx_set_callback(g_ctx, on_event, NULL);
    tether_listener *l;
    if (tether_listen(g_ctx, "127.0.0.1", port, o, &l) != 0) return 1;
    printf("listening on 127.0.0.1:%d\n", tether_listener_port(l));
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    tether_ctx_run(g_ctx);
    tether_ctx_free(g_ctx);
    tether_opts_free(o);
    return 0;
}
