/* Internal to src/net/tls*.c: the context object. */
#ifndef TT_TLS_INT_H
#define TT_TLS_INT_H

#include <openssl/ssl.h>

struct tt_tls_ctx {
    SSL_CTX *ssl_ctx; /* the main certificate (server) or the client's setup */
    int server;
    int refs;
    SSL_CTX **sni_ctx; /* server: alternatives chosen by SNI */
    char **sni_names;
    size_t nsni;
};

#endif
