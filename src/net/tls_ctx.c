/* OpenSSL contexts from tether's TLS options: TLS 1.2 and 1.3 only, the
 * system's CA store unless the user names one, client certificates, and
 * extra server certificates chosen by SNI. */
#include "net/tls.h"
#include "net/tls_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The last OpenSSL error in words, after what we were doing. */
static void tt_tls_config_error(char *err, size_t errlen, const char *what, const char *file) {
    unsigned long e = ERR_peek_last_error();
    char why[200] = "unknown error";
    if (e) ERR_error_string_n(e, why, sizeof why);
    ERR_clear_error();
    if (err && errlen) snprintf(err, errlen, "%s %s: %s", what, file ? file : "", why);
}

static SSL_CTX *tt_ssl_ctx_base(const SSL_METHOD *method) {
    SSL_CTX *s = SSL_CTX_new(method);
    if (!s) return NULL;
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* Idle connections give their 16-34 KiB record buffers back. */
    SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS);
    return s;
}

static int tt_load_pair(SSL_CTX *s, const char *cert, const char *key, char *err, size_t errlen) {
    if (SSL_CTX_use_certificate_chain_file(s, cert) != 1) {
        tt_tls_config_error(err, errlen, "cannot load certificate", cert);
        return TETHER_E_TLS_CONFIG;
    }
    const char *k = key ? key : cert;
    if (SSL_CTX_use_PrivateKey_file(s, k, SSL_FILETYPE_PEM) != 1) {
        tt_tls_config_error(err, errlen, "cannot load private key", k);
        return TETHER_E_TLS_CONFIG;
    }
    if (SSL_CTX_check_private_key(s) != 1) {
        tt_tls_config_error(err, errlen, "key does not match certificate", cert);
        return TETHER_E_TLS_CONFIG;
    }
    return 0;
}

static int tt_load_cas(SSL_CTX *s, const tt_tls_opts *o, char *err, size_t errlen) {
    if (!o->ca_file && !o->ca_dir) {
        if (SSL_CTX_set_default_verify_paths(s) == 1) return 0;
        tt_tls_config_error(err, errlen, "cannot load the system CA store", NULL);
        return TETHER_E_TLS_CONFIG;
    }
    if (SSL_CTX_load_verify_locations(s, o->ca_file, o->ca_dir) == 1) return 0;
    tt_tls_config_error(err, errlen, "cannot load CA", o->ca_file ? o->ca_file : o->ca_dir);
    return TETHER_E_TLS_CONFIG;
}

static tt_tls_ctx *tt_tls_ctx_alloc(SSL_CTX *main, int server) {
    tt_tls_ctx *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ssl_ctx = main;
    t->server = server;
    t->refs = 1;
    return t;
}

int tt_tls_ctx_client(const tt_tls_opts *o, tt_tls_ctx **out, char *err, size_t errlen) {
    *out = NULL;
    SSL_CTX *s = tt_ssl_ctx_base(TLS_client_method());
    if (!s) return TETHER_E_NOMEM;
    int rc = tt_load_cas(s, o, err, errlen);
    if (!rc && o->cert) rc = tt_load_pair(s, o->cert, o->key, err, errlen);
    tt_tls_ctx *t = rc ? NULL : tt_tls_ctx_alloc(s, 0);
    if (!t) {
        SSL_CTX_free(s);
        return rc ? rc : TETHER_E_NOMEM;
    }
    *out = t;
    return 0;
}

/* "*.example.com" matches one label; otherwise names match exactly,
 * ignoring case. */
static int tt_sni_match(const char *pattern, const char *name) {
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
    }
    return strcasecmp(pattern, name) == 0;
}

/* Swaps in the certificate for the name the client asked for. */
static int tt_sni_cb(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    tt_tls_ctx *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i < t->nsni; i++)
        if (tt_sni_match(t->sni_names[i], name)) {
            SSL_set_SSL_CTX(ssl, t->sni_ctx[i]);
            /* SSL_set_SSL_CTX does not carry verification over. */
            SSL_set_verify(ssl, SSL_CTX_get_verify_mode(t->ssl_ctx), NULL);
            break;
        }
    return SSL_TLSEXT_ERR_OK;
}

static int tt_server_client_certs(SSL_CTX *s, const tt_tls_opts *o, char *err, size_t errlen) {
    if (!o->verify_client) return 0;
    int mode = SSL_VERIFY_PEER | (o->verify_client == 2 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(s, mode, NULL);
    int rc = tt_load_cas(s, o, err, errlen);
    if (rc || !o->ca_file) return rc;
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
    if (names) SSL_CTX_set_client_CA_list(s, names); /* what we tell clients to pick from */
    return 0;
}

static int tt_server_sni(tt_tls_ctx *t, const tt_tls_opts *o, char *err, size_t errlen) {
    if (!o->nsni) return 0;
    t->sni_ctx = calloc(o->nsni, sizeof *t->sni_ctx);
    t->sni_names = calloc(o->nsni, sizeof *t->sni_names);
    if (!t->sni_ctx || !t->sni_names) return TETHER_E_NOMEM;
    for (size_t i = 0; i < o->nsni; i++, t->nsni++) {
        SSL_CTX *s = tt_ssl_ctx_base(TLS_server_method());
        if (!s) return TETHER_E_NOMEM;
        t->sni_ctx[i] = s;
        if (!(t->sni_names[i] = strdup(o->sni[i].name))) return TETHER_E_NOMEM;
        int rc = tt_load_pair(s, o->sni[i].cert, o->sni[i].key, err, errlen);
        if (!rc) rc = tt_server_client_certs(s, o, err, errlen);
        if (rc) return rc;
    }
    SSL_CTX_set_tlsext_servername_callback(t->ssl_ctx, tt_sni_cb);
    SSL_CTX_set_tlsext_servername_arg(t->ssl_ctx, t);
    return 0;
}

int tt_tls_ctx_server(const tt_tls_opts *o, tt_tls_ctx **out, char *err, size_t errlen) {
    *out = NULL;
    if (!o->cert) return TETHER_E_INVAL;
    SSL_CTX *s = tt_ssl_ctx_base(TLS_server_method());
    if (!s) return TETHER_E_NOMEM;
    tt_tls_ctx *t = tt_tls_ctx_alloc(s, 1);
    if (!t) {
        SSL_CTX_free(s);
        return TETHER_E_NOMEM;
    }
    int rc = tt_load_pair(s, o->cert, o->key, err, errlen);
    if (!rc) rc = tt_server_client_certs(s, o, err, errlen);
    if (!rc) rc = tt_server_sni(t, o, err, errlen);
    if (rc) {
        tt_tls_ctx_unref(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ALPN (RFC 7301) on a server: h2 when allowed and offered, else
 * http/1.1 when offered; a client that offers neither (a WebSocket client
 * may offer something else, or nothing) goes on without ALPN. */
static int tt_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned inlen, void *arg) {
    (void)ssl;
    const unsigned char *h1 = NULL;
    for (unsigned i = 0; i < inlen && i + 1u + in[i] <= inlen; i += 1u + in[i]) {
        const unsigned char *p = in + i + 1;
        if (arg && in[i] == 2 && memcmp(p, "h2", 2) == 0) {
            *out = p;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
        if (in[i] == 8 && memcmp(p, "http/1.1", 8) == 0) h1 = p;
    }
    if (!h1) return SSL_TLSEXT_ERR_NOACK;
    *out = h1;
    *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
}

void tt_tls_ctx_alpn(tt_tls_ctx *t, int h2) {
    void *arg = h2 ? (void *)t : NULL;
    SSL_CTX_set_alpn_select_cb(t->ssl_ctx, tt_alpn_select, arg);
    for (size_t i = 0; i < t->nsni; i++)
        SSL_CTX_set_alpn_select_cb(t->sni_ctx[i], tt_alpn_select, arg);
}

tt_tls_ctx *tt_tls_ctx_ref(tt_tls_ctx *t) {
    t->refs++;
    return t;
}

void tt_tls_ctx_unref(tt_tls_ctx *t) {
    if (!t || --t->refs > 0) return;
    for (size_t i = 0; i < t->nsni; i++) {
        SSL_CTX_free(t->sni_ctx[i]);
        free(t->sni_names[i]);
    }
    free(t->sni_ctx);
    free(t->sni_names);
    SSL_CTX_free(t->ssl_ctx);
    free(t);
}

static int tt_streq(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int tt_tls_opts_same_ctx(const tt_tls_opts *a, const tt_tls_opts *b) {
    return tt_streq(a->ca_file, b->ca_file) && tt_streq(a->ca_dir, b->ca_dir) &&
           tt_streq(a->cert, b->cert) && tt_streq(a->key, b->key);
}
