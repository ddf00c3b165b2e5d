/* Poll mode cost per message (bench/python/README.md): one context, a
 * server and a client in it, N round trips of 32-byte messages, each event
 * released at once, as the Python binding does. Count the system calls:
 *   cc -O2 -Iinclude -Ibuild/include bench/python/poll_syscalls.c \
 *      build/libtether.a -lssl -lcrypto -lz -lpthread -o /tmp/poll_syscalls
 *   strace -c -f /tmp/poll_syscalls 10000 */
#include <stdio.h>
#include <stdlib.h>
#include <tether.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10000, done = 0;
    tether_ctx *ctx = tether_ctx_new();
    tether_listener *l;
    tether_conn *c;
    tether_event *ev;
    tether_listen(ctx, "127.0.0.1", 0, NULL, &l);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", tether_listener_port(l));
    tether_connect(ctx, url, NULL, &c);
    while (done < n && tether_next_event(ctx, 5000, &ev) == 0) {
        int t = tether_event_type_of(ev);
        tether_conn *ec = tether_event_conn(ev);
        if (t == TETHER_EV_OPEN && ec == c)
            tether_conn_send(c, TETHER_OP_BINARY, "0123456789abcdef0123456789abcdef", 32);
        if (t == TETHER_EV_MESSAGE) {
            size_t len;
            const uint8_t *d = tether_event_data(ev, &len);
            if (ec == c) done++;
            tether_conn_send(ec, TETHER_OP_BINARY, d,
                             len); /* echo (server) or send again (client) */
        }
        tether_event_release(ev);
    }
    printf("%d round trips\n", done);
    tether_ctx_free(ctx);
    return 0;
}
