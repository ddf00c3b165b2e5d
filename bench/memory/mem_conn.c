/* Memory per idle connection on a tether server: a server process and a
 * client process, N connections that each exchange one message both ways
 * (so compression state exists when it is on), then the server's RSS grows
 * by what N idle connections cost. Uses only tether.h.
 *
 *   mem_conn N [--tls CERT KEY CA] [--deflate] [--nct] [--bits B] [--mem M] [--size S]
 *
 * Prints one JSON line: {"conns":N,"rss_before_kb":..,"rss_after_kb":..,
 * "per_conn_bytes":..,"extensions":".."} */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether.h"

typedef struct cfg {
    int n, deflate, nct, bits, mem;
    size_t size;
    const char *cert, *key, *ca;
} cfg;

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static tether_opts *make_opts(const cfg *c, int server) {
    tether_opts *o = tether_opts_new();
    if (c->cert && server) tether_opts_set_tls_cert(o, c->cert, c->key);
    if (c->ca && !server) tether_opts_set_tls_ca(o, c->ca, NULL);
    if (c->deflate) {
        tether_opts_set_deflate(o, 1);
        tether_opts_set_deflate_no_context_takeover(o, c->nct, c->nct);
        tether_opts_set_deflate_window_bits(o, c->bits, c->bits);
        if (c->mem) tether_opts_set_deflate_mem_level(o, c->mem);
        tether_opts_set_deflate_threshold(o, 0);
    }
    return o;
}

static void on_server(tether_ctx *ctx, tether_event *ev, void *user) {
    (void)ctx;
    (void)user;
    if (tether_event_type_of(ev) == TETHER_EV_MESSAGE) {
        size_t len;
        const uint8_t *d = tether_event_data(ev, &len);
        tether_conn_send(tether_event_conn(ev), tether_event_opcode(ev), d, len);
    }
}

static int serve(const cfg *c, int port_pipe) {
    tether_ctx *ctx = tether_ctx_new();
    tether_opts *o = make_opts(c, 1);
    tether_listener *l;
    if (tether_listen(ctx, "127.0.0.1", 0, o, &l) != 0) return 1;
    int port = tether_listener_port(l);
    if (write(port_pipe, &port, sizeof port) != sizeof port) return 1;
    tether_ctx_set_callback(ctx, on_server, NULL);
    tether_ctx_run(ctx); /* until killed */
    return 0;
}

/* A text message that compresses as chat or JSON traffic does. */
static char *sample(size_t size) {
    static const char *words[] = {"{\"user\":", "\"alice\"",  ",\"text\":", "\"hello there\"",
                                  ",\"ts\":",   "1732262400", "}",          " "};
    char *m = malloc(size + 1);
    for (size_t i = 0, w = 0; i < size; w++) {
        const char *s = words[w % 8];
        for (; *s && i < size; s++)
            m[i++] = *s;
    }
    m[size] = 0;
    return m;
}

static int run_clients(const cfg *c, int port, pid_t server) {
    tether_ctx *ctx = tether_ctx_new();
    tether_opts *o = make_opts(c, 0);
    char url[128];
    snprintf(url, sizeof url, "%s://localhost:%d/", c->cert ? "wss" : "ws", port);
    char *msg = sample(c->size);
    usleep(200000);
    long before = rss_kb(server);
    int open = 0, echoed = 0, failed = 0;
    char ext[160] = "";
    for (int i = 0; i < c->n; i++) {
        tether_conn *conn;
        if (tether_connect(ctx, url, o, &conn) != 0) return 1;
    }
    tether_event *ev;
    while (echoed + failed < c->n && tether_next_event(ctx, 10000, &ev) == 0) {
        tether_conn *conn = tether_event_conn(ev);
        switch (tether_event_type_of(ev)) {
        case TETHER_EV_OPEN:
            open++;
            if (!ext[0] && tether_conn_extensions(conn))
                snprintf(ext, sizeof ext, "%s", tether_conn_extensions(conn));
            tether_conn_send(conn, TETHER_OP_TEXT, msg, c->size);
            break;
        case TETHER_EV_MESSAGE:
            echoed++;
            break;
        case TETHER_EV_CLOSED:
            failed++;
            break;
        }
        tether_event_release(ev);
    }
    usleep(300000);
    long after = rss_kb(server);
    printf("{\"conns\":%d,\"open\":%d,\"echoed\":%d,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,"
           "\"per_conn_bytes\":%ld,\"extensions\":\"%s\",\"tls\":%s}\n",
           c->n, open, echoed, before, after, echoed ? (after - before) * 1024 / echoed : -1, ext,
           c->cert ? "true" : "false");
    free(msg);
    tether_opts_free(o);
    tether_ctx_free(ctx);
    return echoed == c->n ? 0 : 1;
}

int main(int argc, char **argv) {
    cfg c = {.n = 1000, .size = 1024};
    if (argc > 1) c.n = atoi(argv[1]);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--tls") && i + 3 < argc) {
            c.cert = argv[++i];
            c.key = argv[++i];
            c.ca = argv[++i];
        } else if (!strcmp(argv[i], "--deflate")) {
            c.deflate = 1;
        } else if (!strcmp(argv[i], "--nct")) {
            c.nct = 1;
        } else if (!strcmp(argv[i], "--bits") && i + 1 < argc) {
            c.bits = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--mem") && i + 1 < argc) {
            c.mem = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            c.size = (size_t)atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: mem_conn N [--tls CERT KEY CA] [--deflate] [--nct] "
                            "[--bits B] [--mem M] [--size S]\n");
            return 2;
        }
    }
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(serve(&c, fds[1]));
    }
    close(fds[1]);
    int port = 0;
    if (read(fds[0], &port, sizeof port) != sizeof port) return 1;
    int rc = run_clients(&c, port, pid);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return rc;
}
