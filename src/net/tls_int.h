/* Internal to src/net/tls*.c: the context object, and the BIO a session
 * moves its ciphertext through (tls_bio.c). */
#ifndef TT_TLS_INT_H
#define TT_TLS_INT_H

#include <openssl/ssl.h>

#include "ws/bufpool.h"
#include <stddef.h>
#include <stdint.h>

struct tt_tls_ctx {
    SSL_CTX *ssl_ctx; /* the main certificate (server) or the client's setup */
    int server;
    int refs;
    SSL_CTX **sni_ctx; /* server: alternatives chosen by SNI */
    char **sni_names;
    size_t nsni;
};

/* Bytes queued in one direction: buf[head .. tail). */
typedef struct tt_tls_queue {
    uint8_t *buf;
    size_t head, tail, cap;
    tt_bufpool *pool; /* where buffers come from and go back to when empty (NULL: malloc) */
} tt_tls_queue;

/* Both directions of a session's ciphertext: what came from the network
 * for OpenSSL to read, and what OpenSSL wrote for the network. */
typedef struct tt_tls_wire {
    tt_tls_queue in, out;
} tt_tls_wire;

/* A BIO over w (which must outlive it): OpenSSL reads `in` and appends to
 * `out`; an empty `in` is "retry later", never end of stream. Unlike a
 * memory BIO, nothing is zeroed as the queues grow, and `out` can be
 * written to the socket where it lies (tt_tls_queue_front). NULL: no
 * memory. */
BIO *tt_tls_bio_new(tt_tls_wire *w);
/* Room for len more bytes at the tail, growing the buffer if grow is set
 * (NULL: no memory, or no room without growing): the caller writes there,
 * then adds what it wrote to tail. */
uint8_t *tt_tls_queue_space(tt_tls_queue *q, size_t len, int grow);
/* Appends len bytes; 0 or TETHER_E_NOMEM. */
int tt_tls_queue_put(tt_tls_queue *q, const uint8_t *buf, size_t len);
/* Copies up to cap bytes out and consumes them; returns how many. */
size_t tt_tls_queue_take(tt_tls_queue *q, uint8_t *buf, size_t cap);
/* The queued bytes where they lie (NULL when empty); consume() drops the
 * first n of them (n <= the length). */
const uint8_t *tt_tls_queue_front(const tt_tls_queue *q, size_t *len);
void tt_tls_queue_consume(tt_tls_queue *q, size_t n);
static inline size_t tt_tls_queue_len(const tt_tls_queue *q) {
    return q->tail - q->head;
}
void tt_tls_queue_free(tt_tls_queue *q);

#endif
