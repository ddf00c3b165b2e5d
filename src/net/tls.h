/* Internal: TLS over a BIO of our own (memory queues, tls_bio.c). The engine never touches a
 * socket: ciphertext read from the network is fed in, plaintext comes out;
 * plaintext to send goes in, ciphertext to write comes out. So TLS works
 * the same in every loop mode. */
#ifndef TT_TLS_H
#define TT_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tether.h"
#include "ws/bufpool.h"

/* TLS settings as the user gave them (tether_opts_set_tls_*). */
typedef struct tt_tls_sni {
    char *name, *cert, *key;
} tt_tls_sni;

typedef struct tt_tls_opts {
    char *ca_file, *ca_dir, *cert, *key, *server_name;
    tt_tls_sni *sni;
    size_t nsni;
    int verify_client;
    unsigned flags;
} tt_tls_opts;

/* A configured OpenSSL context (SSL_CTX plus its SNI alternatives),
 * reference-counted so a listener's connections share one. */
typedef struct tt_tls_ctx tt_tls_ctx;

/* Build contexts from options. On failure return TETHER_E_TLS_CONFIG (or
 * NOMEM) and write why into err. */
int tt_tls_ctx_client(const tt_tls_opts *o, tt_tls_ctx **out, char *err, size_t errlen);
int tt_tls_ctx_server(const tt_tls_opts *o, tt_tls_ctx **out, char *err, size_t errlen);
tt_tls_ctx *tt_tls_ctx_ref(tt_tls_ctx *t);
void tt_tls_ctx_unref(tt_tls_ctx *t);
/* Server: answer ALPN with h2 (when h2 is set and offered) or http/1.1. */
void tt_tls_ctx_alpn(tt_tls_ctx *t, int h2);
/* Whether two client option sets build the same context (for caching). */
int tt_tls_opts_same_ctx(const tt_tls_opts *a, const tt_tls_opts *b);

/* One connection's TLS session. */
typedef struct tt_tls tt_tls;

/* A server session, or a client session for host (SNI and the name
 * checked, unless flags relax it; an IP literal is checked as an address
 * and not sent as SNI). */
tt_tls *tt_tls_new_server(tt_tls_ctx *t);
tt_tls *tt_tls_new_client(tt_tls_ctx *t, const char *host, unsigned flags);
void tt_tls_free(tt_tls *s);
/* Buffers for the ciphertext queues come from pool and go back to it once
 * empty, so an idle session holds none (default: none, malloc'd and kept
 * while small). The pool must outlive s; not shared across threads. */
void tt_tls_set_pool(tt_tls *s, tt_bufpool *pool);

/* Ciphertext from the network. Returns 0 or TETHER_E_NOMEM. */
int tt_tls_feed(tt_tls *s, const uint8_t *buf, size_t len);
/* The same without a copy: room for len bytes of ciphertext (NULL: not
 * without growing the queue: use tt_tls_feed), valid until the next call on s; the socket reads
 * into it, then fed() says how many bytes came (n <= len). */
uint8_t *tt_tls_feed_space(tt_tls *s, size_t len);
void tt_tls_fed(tt_tls *s, size_t n);
/* Drives the handshake: 0 when it is done, TETHER_E_AGAIN while it needs
 * more input, or TETHER_E_TLS / TETHER_E_TLS_VERIFY (tt_tls_error_text()). */
int tt_tls_handshake(tt_tls *s);
int tt_tls_established(const tt_tls *s);
/* Plaintext received: bytes read (> 0), 0 at the peer's close_notify,
 * TETHER_E_AGAIN when more ciphertext is needed, or TETHER_E_TLS. */
ssize_t tt_tls_read(tt_tls *s, uint8_t *buf, size_t cap);
/* Whether plaintext or unprocessed ciphertext is buffered inside. */
int tt_tls_has_input(const tt_tls *s);
/* Encrypts plaintext (after the handshake). Returns bytes taken (all of
 * len) or TETHER_E_TLS. */
ssize_t tt_tls_write(tt_tls *s, const uint8_t *buf, size_t len);
/* Queues close_notify. */
void tt_tls_shutdown(tt_tls *s);
/* Ciphertext waiting to go to the network: copies up to cap bytes out and
 * consumes them; returns the count. tt_tls_out_pending() tells how much. */
size_t tt_tls_take_out(tt_tls *s, uint8_t *buf, size_t cap);
size_t tt_tls_out_pending(const tt_tls *s);
/* The same ciphertext where it lies, to write without a copy (NULL when
 * none): valid until the next call on s; consume() drops the first n
 * bytes (n <= *len) once written. */
const uint8_t *tt_tls_out_front(const tt_tls *s, size_t *len);
void tt_tls_out_consume(tt_tls *s, size_t n);
const char *tt_tls_error_text(const tt_tls *s);
const char *tt_tls_version(const tt_tls *s);
const char *tt_tls_cipher(const tt_tls *s);
/* Client: offer these ALPN protocols (wire format: length-prefixed). */
int tt_tls_offer_alpn(tt_tls *s, const unsigned char *protos, unsigned len);
/* Whether ALPN chose proto ("h2") for this session. */
int tt_tls_alpn_is(const tt_tls *s, const char *proto);

#endif
