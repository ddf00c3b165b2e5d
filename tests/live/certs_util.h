/* Test certificates for the live tests: made once per test program by
 * tests/certs/make_certs.sh (the openssl tool) in a fresh temporary
 * directory, removed at exit. Nothing certificate-like is committed. */
#ifndef CERTS_UTIL_H
#define CERTS_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "tether.h"

static char cu_dir[128];

static inline void cu_cleanup(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cu_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", cu_dir);
}

/* The path of a file of the test PKI (ca.pem, server.key...). Exits the
 * program if the certificates cannot be made. */
static inline const char *cu_path(const char *name) {
    static char paths[8][256];
    static int next;
    if (!cu_dir[0]) {
        snprintf(cu_dir, sizeof cu_dir, "/tmp/tether-certs-XXXXXX");
        char cmd[512];
        if (!mkdtemp(cu_dir)) exit(2);
        snprintf(cmd, sizeof cmd, "bash %s/tests/certs/make_certs.sh '%s' >/dev/null",
                 TETHER_SOURCE_DIR, cu_dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "make_certs.sh failed\n");
            exit(2);
        }
        atexit(cu_cleanup);
    }
    char *p = paths[next++ % 8];
    snprintf(p, 256, "%s/%s", cu_dir, name);
    return p;
}

/* Options for a TLS server with the test CA's "localhost" certificate, and
 * for a client trusting that CA; with permessage-deflate when asked. NULL
 * if a setter failed. */
static inline tether_opts *cu_server_opts(int deflate) {
    tether_opts *o = tether_opts_new();
    if (o && (tether_opts_set_tls_cert(o, cu_path("server.pem"), cu_path("server.key")) ||
              tether_opts_set_deflate(o, deflate))) {
        tether_opts_free(o);
        return NULL;
    }
    return o;
}

static inline tether_opts *cu_client_opts(int deflate) {
    tether_opts *o = tether_opts_new();
    if (o && (tether_opts_set_tls_ca(o, cu_path("ca.pem"), NULL) ||
              tether_opts_set_deflate(o, deflate))) {
        tether_opts_free(o);
        return NULL;
    }
    return o;
}

#endif
