/* Internal: the objects behind the public live-connection API and what the
 * files of src/api share. */
#ifndef TT_API_H
#define TT_API_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tether.h"
#include "ws/ws.h"
#include "loop/loop.h"
#include "net/net.h"
#include "net/tls.h"

/* permessage-deflate preferences (0 bits: no limit). */
typedef struct tt_deflate_opts {
    int on;
    int server_nct, client_nct;
    int server_bits, client_bits;
    int bits_set; /* tether_opts_set_deflate_window_bits() was called */
    int level, mem_level;
    size_t threshold;
} tt_deflate_opts;

/* Options: immutable once copied into a listener or connection, shared by
 * reference among a listener's connections. */
struct tether_opts {
    tt_ws_cfg cfg;
    unsigned connect_timeout, handshake_timeout;
    char **protocols;
    size_t nprotocols;
    char **hdr_names, **hdr_values;
    size_t nheaders;
    char *origin;
    size_t max_header_bytes, max_headers;
    int reuseport;
    tt_tls_opts tls;
    tt_deflate_opts deflate;
    int refs;
};

tether_opts *tt_opts_copy(const tether_opts *o); /* o may be NULL: defaults */
void tt_tls_opts_free(tt_tls_opts *t);
int tt_tls_opts_copy(tt_tls_opts *dst, const tt_tls_opts *src); /* dst is overwritten */
void tt_deflate_opts_defaults(tt_deflate_opts *d);

/* Logging (log.c): tt_log_on() is cheap, so callers can skip formatting. */
int tt_log_on(int level);
void tt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
tether_opts *tt_opts_ref(tether_opts *o);
void tt_opts_unref(tether_opts *o);

/* Where a connection is in its life. */
typedef enum tt_phase {
    TT_PH_RESOLVING,  /* client: waiting for addresses */
    TT_PH_CONNECTING, /* client: TCP connect in progress */
    TT_PH_HS_CLIENT,  /* client: request sent, reading the response */
    TT_PH_HS_SERVER,  /* server: reading the request */
    TT_PH_REQUEST,    /* server: REQUEST event out, waiting for the decision */
    TT_PH_OPEN,       /* WebSocket frames flow */
    TT_PH_LINGER,     /* the WebSocket is over: flushing, then closing TCP */
    TT_PH_DEAD        /* socket closed; freed once the user is done with it */
} tt_phase;

struct tether_conn {
    tether_ctx *ctx;
    uint64_t id;
    tt_phase phase;
    tether_role role;
    tether_opts *opts;
    tt_io io;
    tt_timer timer;
    tt_ws ws; /* the WebSocket state machine; its output queue carries the handshake too */

    tether_client_hs *chs;
    tether_server_hs *shs;
    tt_tls *tls;       /* NULL on cleartext connections */
    tt_outbuf tls_out; /* ciphertext waiting for the socket */
    char *extensions;  /* negotiated Sec-WebSocket-Extensions value */
    tether_pmd *pmd;   /* permessage-deflate while it is being negotiated */
    tt_url url;
    struct addrinfo *addrs, *next_addr;
    tt_resolve *resolve;
    char peer[64];

    uint8_t *pending; /* input received but not processed yet */
    size_t pending_len, pending_cap;

    void *user;
    int held;        /* events out that point at this connection */
    int paused;      /* poll mode: a data event is held, stop reading */
    int user_paused; /* tether_conn_pause_reading() */
    int silent;      /* no event was ever given out: die without CLOSED */
    int closed_out;  /* the CLOSED event was emitted */
    int user_done;   /* ... and released */
    int fin_sent;    /* lingering: our side of the stream is shut (FIN sent) */
    int bye_said;    /* TLS: close_notify (or the failure's alert) was written */
    int decided;     /* REQUEST: 1 accept, -1 reject */
    int reject_status;
    char *reject_body, *chosen_protocol;
    int error;
    char error_text[160];
    uint64_t deadline; /* connect / handshake / linger deadline (0: none) */
    size_t accounted;  /* what this connection adds to ctx->queued */
    int dirty, runnable, in_grave;
    tether_conn *next_dirty, *next_runnable, *next_grave;
};

struct tether_listener {
    tether_ctx *ctx;
    tt_io io;
    tether_opts *opts;
    tt_tls_ctx *tls; /* NULL: cleartext */
    int port;
    tether_listener *next;
    /* Accepting paused after accept() failed (out of descriptors, of
     * memory): resumed by the timer, or as soon as a connection closes. */
    tt_timer backoff;
    int paused, warned;
};

struct tether_event {
    tether_ctx *ctx;
    int type;
    tether_conn *conn;
    const uint8_t *data;
    size_t len;
    int opcode, fin, code, clean, error;
    char reason[TETHER_MAX_CLOSE_REASON + 1];
    size_t reason_len;
    uint8_t ctl[TETHER_MAX_CONTROL_PAYLOAD];
    tether_event *next;
};

/* Size of the read buffer every connection shares. */
#define TT_RBUF_SIZE (256u * 1024u)

struct tether_ctx {
    tt_loop *loop;
    tether_event_cb cb;
    void *cb_user;
    tether_event *q_head, *q_tail, *free_events;
    uint8_t *rbuf;
    tether_conn *dirty, *runnable, *grave;
    tether_listener *listeners;
    tether_conn **slots; /* connections by id: slot index + generation */
    uint32_t *gens;
    size_t nslots, *free_slots, nfree;
    atomic_int stop;
    atomic_int wake_req; /* tether_ctx_wake() was called: a WAKE event is due */
    int in_service, running;
    int paused_listeners; /* how many wait for a descriptor to come free */
    size_t queued;        /* bytes every connection still owes its peer */
    size_t send_budget;   /* cap on queued for data sends (0: none) */
    uint64_t now;
    uint8_t *tls_scratch;        /* ciphertext staging, made on first TLS use */
    tt_tls_ctx *tls_client;      /* the last client TLS context, for reuse */
    tt_tls_opts tls_client_opts; /* ... and the options it was made from */
};

/* server.c: listeners paused by a failed accept() try again now (a
 * connection has given back its descriptor). */
void tt_listeners_resume(tether_ctx *ctx);

/* ctx.c */
void tt_ctx_mark_dirty(tether_conn *c);
void tt_ctx_mark_runnable(tether_conn *c);
void tt_ctx_bury(tether_conn *c);
int tt_ctx_add_conn(tether_ctx *ctx, tether_conn *c);
tether_conn *tt_ctx_find_conn(tether_ctx *ctx, uint64_t id);
void tt_ctx_remove_conn(tether_ctx *ctx, tether_conn *c);
void tt_ctx_free_grave(tether_ctx *ctx);

/* event.c */
tether_event *tt_event_new(tether_ctx *ctx, int type, tether_conn *c);
/* Hands an event to the user: the callback now, or the queue. */
void tt_emit(tether_event *ev);
void tt_emit_simple(tether_conn *c, int type);
/* Queues an event for the next round, even in callback mode: for events
 * caused by a call the user is making right now. */
void tt_emit_later(tether_event *ev);
void tt_emit_ws(tether_conn *c, const tt_ws_ev *wev);
void tt_events_free_all(tether_ctx *ctx);

/* conn_life.c */
tether_conn *tt_conn_new(tether_ctx *ctx, tether_role role, tether_opts *opts);
void tt_conn_free(tether_conn *c);
/* Reports the end before the WebSocket opened (or after a refusal). */
void tt_conn_fail_early(tether_conn *c, int err, const char *text);
tether_event *tt_conn_closed_event(tether_conn *c, int err, const char *text);
/* The WebSocket is over: close the TCP connection after flushing. */
void tt_conn_linger(tether_conn *c);
/* Closes the socket; frees the connection if the user is done with it. */
void tt_conn_shut(tether_conn *c);
void tt_conn_maybe_free(tether_conn *c);
void tt_conn_arm_timer(tether_conn *c);

/* conn_io.c */
void tt_conn_io_cb(tt_io *io, unsigned ready);
void tt_conn_timer_cb(tt_timer *t);
/* Writes out what is queued; enables write interest if it would block. */
void tt_conn_flush(tether_conn *c);
int tt_conn_wants_write(const tether_conn *c);
/* Brings ctx->queued up to date with what c owes its peer now. */
void tt_conn_account(tether_conn *c);

/* conn_tls.c: TLS between the socket and the WebSocket. tt_conn_read()
 * leaves plaintext at ctx->rbuf and returns its length, 0 at the end of
 * the stream, TETHER_E_AGAIN, or an error (TLS ones: tt_conn_tls_failed). */
ssize_t tt_conn_read(tether_conn *c);
int tt_conn_tls_client(tether_conn *c);
int tt_conn_tls_server(tether_conn *c, tt_tls_ctx *t);
void tt_conn_tls_failed(tether_conn *c, int err);
int tt_conn_flush_tls(tether_conn *c);
int tt_conn_tls_wants_write(const tether_conn *c);
/* Ciphertext made and not yet taken by the socket (0 without TLS); the
 * WebSocket layer is told after each flush and read (tt_ws_set_owed_below),
 * so tt_ws_buffered(&c->ws) counts it. */
size_t tt_conn_tls_owed(const tether_conn *c);
void tt_conn_tls_goodbye(tether_conn *c);

/* deflate.c: permessage-deflate negotiation for live connections. */
int tt_deflate_client_offer(tether_conn *c);
int tt_deflate_client_accept(tether_conn *c);
int tt_deflate_server_negotiate(tether_conn *c);
/* Runs input through the WebSocket until it pauses or runs out. */
void tt_conn_process(tether_conn *c, uint8_t *buf, size_t len);
void tt_conn_resume(tether_conn *c);
/* Makes the next round resume c (input may be waiting). */
void tt_conn_wake(tether_conn *c);
/* Keeps input to process later (buf may be c->pending itself). */
void tt_conn_keep_input(tether_conn *c, const uint8_t *buf, size_t len);
void tt_conn_after_send(tether_conn *c);
int tt_conn_set_interest(tether_conn *c, unsigned events);

/* client.c / server.c */
void tt_client_on_io(tether_conn *c, unsigned ready);
void tt_server_on_io(tether_conn *c, unsigned ready);
void tt_server_apply_decision(tether_conn *c);
void tt_open(tether_conn *c, const uint8_t *extra, size_t extra_len);

#endif
