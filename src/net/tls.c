/* One TLS session over our own BIO (tls_bio.c): no socket inside, so the
 * caller's loop (epoll, libuv, a foreign one) moves the ciphertext. Certificate
 * checks follow the client's flags; failures keep OpenSSL's reason. */
#include "net/tls.h"
#include "net/tls_int.h"

#include <arpa/inet.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tt_tls {
    SSL *ssl;
    tt_tls_wire wire; /* the ciphertext both ways, behind ssl's BIO */
    unsigned flags;
    int established;
    int verify_failed; /* the failure was the peer's certificate */
    char err[200];
};

/* SSL_get_error() needs an empty error queue before each operation. Only
 * clear it when something is in it: clearing is a walk over every slot of
 * the thread's queue (5% of the server's time with small messages), a peek
 * is one look. */
static void tt_tls_clear_errors(void) {
    if (ERR_peek_error()) ERR_clear_error();
}

/* Allows what the client's flags relax, and nothing else. */
static int tt_tls_verify_cb(int ok, X509_STORE_CTX *store) {
    if (ok) return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    tt_tls *s = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!s) return 0;
    switch (X509_STORE_CTX_get_error(store)) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
        return (s->flags & TETHER_TLS_ALLOW_SELFSIGNED) != 0;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return (s->flags & TETHER_TLS_ALLOW_EXPIRED) != 0;
    default:
        return 0;
    }
}

static tt_tls *tt_tls_new(tt_tls_ctx *t) {
    tt_tls *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ssl = SSL_new(t->ssl_ctx);
    BIO *bio = tt_tls_bio_new(&s->wire);
    if (!s->ssl || !bio) {
        BIO_free(bio);
        SSL_free(s->ssl);
        free(s);
        return NULL;
    }
    SSL_set_bio(s->ssl, bio, bio); /* one BIO both ways: ssl owns it */
    SSL_set_app_data(s->ssl, s);
    return s;
}

tt_tls *tt_tls_new_server(tt_tls_ctx *t) {
    tt_tls *s = tt_tls_new(t);
    if (s) SSL_set_accept_state(s->ssl);
    return s;
}

static int tt_is_ip(const char *host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Name checks and SNI for a client session. */
static int tt_tls_client_names(tt_tls *s, const char *host) {
    int ip = tt_is_ip(host);
    if (!ip && SSL_set_tlsext_host_name(s->ssl, host) != 1) return -1;
    if (s->flags & (TETHER_TLS_SKIP_HOSTNAME_CHECK | TETHER_TLS_INSECURE)) return 0;
    X509_VERIFY_PARAM *param = SSL_get0_param(s->ssl);
    if (ip) return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(s->ssl, host) == 1 ? 0 : -1;
}

tt_tls *tt_tls_new_client(tt_tls_ctx *t, const char *host, unsigned flags) {
    tt_tls *s = tt_tls_new(t);
    if (!s) return NULL;
    s->flags = flags;
    SSL_set_connect_state(s->ssl);
    if (flags & TETHER_TLS_INSECURE)
        SSL_set_verify(s->ssl, SSL_VERIFY_NONE, NULL);
    else
        SSL_set_verify(s->ssl, SSL_VERIFY_PEER, tt_tls_verify_cb);
    if (host && tt_tls_client_names(s, host) != 0) {
        tt_tls_free(s);
        return NULL;
    }
    return s;
}

void tt_tls_set_pool(tt_tls *s, tt_bufpool *pool) {
    s->wire.in.pool = s->wire.out.pool = pool;
}

void tt_tls_free(tt_tls *s) {
    if (!s) return;
    SSL_free(s->ssl); /* frees the BIO */
    tt_tls_queue_free(&s->wire.in);
    tt_tls_queue_free(&s->wire.out);
    free(s);
}

int tt_tls_feed(tt_tls *s, const uint8_t *buf, size_t len) {
    return tt_tls_queue_put(&s->wire.in, buf, len);
}

uint8_t *tt_tls_feed_space(tt_tls *s, size_t len) {
    /* With a pool, the room is lent from it and given back once read (an
     * idle session holds none); without one, never grown for it, so a
     * session that only ever received small records keeps a small queue. */
    return tt_tls_queue_space(&s->wire.in, len, s->wire.in.pool != NULL);
}

void tt_tls_fed(tt_tls *s, size_t n) {
    s->wire.in.tail += n;
}

/* Records why the session failed, from the verify result or the error
 * queue, and returns the code for it. */
static int tt_tls_fail(tt_tls *s, int ssl_err) {
    long vr = SSL_get_verify_result(s->ssl);
    unsigned long e = ERR_peek_last_error();
    int reason = e ? ERR_GET_REASON(e) : 0;
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && vr != X509_V_OK) {
        s->verify_failed = 1;
        snprintf(s->err, sizeof s->err, "TLS: certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    } else if (e) {
        const char *why = ERR_reason_error_string(e);
        s->verify_failed = reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE;
        snprintf(s->err, sizeof s->err, "TLS: %s", why ? why : "error");
    } else {
        snprintf(s->err, sizeof s->err, "TLS: %s",
                 ssl_err == SSL_ERROR_SYSCALL ? "unexpected end of stream" : "protocol error");
    }
    ERR_clear_error();
    return s->verify_failed ? TETHER_E_TLS_VERIFY : TETHER_E_TLS;
}

int tt_tls_handshake(tt_tls *s) {
    if (s->established) return 0;
    tt_tls_clear_errors();
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        s->established = 1;
        return 0;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return TETHER_E_AGAIN;
    return tt_tls_fail(s, e);
}

int tt_tls_established(const tt_tls *s) {
    return s->established;
}

ssize_t tt_tls_read(tt_tls *s, uint8_t *buf, size_t cap) {
    tt_tls_clear_errors();
    int r = SSL_read(s->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (r > 0) return r;
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return TETHER_E_AGAIN;
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    return tt_tls_fail(s, e);
}

int tt_tls_has_input(const tt_tls *s) {
    return SSL_pending(s->ssl) > 0 || tt_tls_queue_len(&s->wire.in) > 0;
}

ssize_t tt_tls_write(tt_tls *s, const uint8_t *buf, size_t len) {
    size_t done = 0;
    tt_tls_clear_errors();
    while (done < len) {
        size_t left = len - done;
        int r = SSL_write(s->ssl, buf + done, left > INT_MAX ? INT_MAX : (int)left);
        if (r <= 0) return tt_tls_fail(s, SSL_get_error(s->ssl, r));
        done += (size_t)r;
    }
    return (ssize_t)done;
}

void tt_tls_shutdown(tt_tls *s) {
    if (!s->established) return;
    tt_tls_clear_errors();
    SSL_shutdown(s->ssl); /* queues close_notify; we do not wait for the peer's */
    ERR_clear_error();
}

size_t tt_tls_take_out(tt_tls *s, uint8_t *buf, size_t cap) {
    return tt_tls_queue_take(&s->wire.out, buf, cap);
}

const uint8_t *tt_tls_out_front(const tt_tls *s, size_t *len) {
    return tt_tls_queue_front(&s->wire.out, len);
}

void tt_tls_out_consume(tt_tls *s, size_t n) {
    tt_tls_queue_consume(&s->wire.out, n);
}

size_t tt_tls_out_pending(const tt_tls *s) {
    return tt_tls_queue_len(&s->wire.out);
}

const char *tt_tls_error_text(const tt_tls *s) {
    return s->err[0] ? s->err : NULL;
}

const char *tt_tls_version(const tt_tls *s) {
    return SSL_get_version(s->ssl);
}

int tt_tls_offer_alpn(tt_tls *s, const unsigned char *protos, unsigned len) {
    /* OpenSSL returns 0 on success here, unlike its other calls */
    return SSL_set_alpn_protos(s->ssl, protos, len) == 0 ? 0 : TETHER_E_NOMEM;
}

int tt_tls_alpn_is(const tt_tls *s, const char *proto) {
    const unsigned char *p;
    unsigned n;
    SSL_get0_alpn_selected(s->ssl, &p, &n);
    return n == strlen(proto) && memcmp(p, proto, n) == 0;
}

const char *tt_tls_cipher(const tt_tls *s) {
    return SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl));
}
