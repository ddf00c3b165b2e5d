/*
 * tether_echo - the echo server of the benchmark for TLS and
 * permessage-deflate rows, on tether's public API only (include/tether.h).
 * It does what `tether serve` does for an echo (callback mode on tether's
 * own loop, every message sent back as it came), with the TLS and
 * compression options given here, so that the benchmark does not depend on
 * the options the command-line tool has.
 *
 *   tether_echo [--port N] [--cert FILE --key FILE]
 *               [--deflate [--deflate-level N] [--deflate-mem-level N]
 *                          [--deflate-window-bits SERVER,CLIENT]]
 *
 * prints "listening on 127.0.0.1:PORT"; SIGINT or SIGTERM ends it.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tether.h>

static tether_ctx *volatile g_ctx;

static void on_signal(int sig) {
    (void)sig;
    if (g_ctx) tether_ctx_stop(g_ctx);
}

static void on_event(tether_ctx *ctx, tether_event *ev, void *user) {
    (void)ctx;
    (void)user;
    if (tether_event_type_of(ev) != TETHER_EV_MESSAGE) return;
    tether_conn *c = tether_event_conn(ev);
    size_t len = 0;
    const uint8_t *data = tether_event_data(ev, &len);
    /* A client that does not read fills its queue: close it rather than
     * queue without bound (as `tether serve` does). */
    if (tether_conn_send(c, (tether_opcode)tether_event_opcode(ev), data, len) ==
        TETHER_E_BACKPRESSURE)
        tether_conn_close(c, TETHER_CLOSE_TRY_AGAIN_LATER, "send queue full");
}

static int usage(void) {
    fprintf(stderr, "usage: tether_echo [--port N] [--cert FILE --key FILE] [--deflate "
                    "[--deflate-level N] [--deflate-mem-level N] [--deflate-window-bits S,C]]\n");
    return 2;
}

int main(int argc, char **argv) {
    int port = 0, deflate = 0, level = -1, mem_level = -1, sbits = -1, cbits = -1;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--deflate")) {
            deflate = 1;
            continue;
        }
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cert"))
            cert = argv[i + 1];
        else if (!strcmp(argv[i], "--key"))
            key = argv[i + 1];
        else if (!strcmp(argv[i], "--deflate-level"))
            level = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--deflate-mem-level"))
            mem_level = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--deflate-window-bits")) {
            if (sscanf(argv[i + 1], "%d,%d", &sbits, &cbits) != 2) return usage();
        } else
            return usage();
        i++;
    }

    tether_opts *o = tether_opts_new();
    tether_ctx *ctx = tether_ctx_new();
    tether_listener *l = NULL;
    int rc = o && ctx ? 0 : TETHER_E_NOMEM;
    if (rc == 0 && cert) rc = tether_opts_set_tls_cert(o, cert, key);
    if (rc == 0 && deflate) rc = tether_opts_set_deflate(o, 1);
    if (rc == 0 && deflate && level >= 0) rc = tether_opts_set_deflate_level(o, level);
    if (rc == 0 && deflate && mem_level >= 0) rc = tether_opts_set_deflate_mem_level(o, mem_level);
    if (rc == 0 && deflate && sbits >= 0) rc = tether_opts_set_deflate_window_bits(o, sbits, cbits);
    if (rc == 0) rc = tether_ctx_set_callback(ctx, on_event, NULL);
    if (rc == 0) rc = tether_listen(ctx, "127.0.0.1", port, o, &l);
    tether_opts_free(o);
    if (rc != 0) {
        fprintf(stderr, "tether_echo: %s\n", tether_strerror(rc));
        tether_ctx_free(ctx);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    g_ctx = ctx;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("listening on 127.0.0.1:%d\n", tether_listener_port(l));
    fflush(stdout);
    rc = tether_ctx_run(ctx);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    g_ctx = NULL;
    tether_ctx_free(ctx);
    return rc < 0 ? 1 : 0;
}
