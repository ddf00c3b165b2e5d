/* Internal: the objects behind the public live-connection API and what the
 * files of src/api share. */
#ifndef TT_API_H
#define TT_API_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tether.h"
#include "proto/deflate.h"
#include "ws/ws.h"
#include "loop/loop.h"
#include "net/net.h"
#include "net/tls.h"
#include "stack/stack.h"

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
    char *proxy;   /* clients: the proxy's URL (checked by tt_proxy_parse) */
    int proxy_env; /* ... or the one the environment names */
    /* clients: reconnecting (retry.c); no steps and no base: never */
    unsigned *retry_steps;
    size_t nretry_steps;
    unsigned retry_base, retry_max, retry_jitter, retry_tries;
    size_t max_header_bytes, max_headers;
    int reuseport;
    int http;                   /* plain HTTP requests reach the application */
    int http2;                  /* listeners: HTTP/2 beside HTTP/1.1 */
    int prefer_http2;           /* clients: a wss:// WebSocket over HTTP/2 */
    size_t max_body;            /* HTTP request body limit */
    unsigned keepalive_timeout; /* HTTP: wait for the next request (ms) */
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
    TT_PH_RETRY,      /* client: lost, waiting to connect again (retry.c) */
    TT_PH_CONNECTING, /* client: TCP connect in progress */
    TT_PH_HS_CLIENT,  /* client: request sent, reading the response */
    TT_PH_HS_SERVER,  /* server: reading the request */
    TT_PH_REQUEST,    /* server: REQUEST event out, waiting for the decision */
    TT_PH_HTTP,       /* server: serving a plain HTTP request (http_server.c) */
    TT_PH_H2,         /* server: an HTTP/2 connection carrying streams (h2_carrier.c) */
    TT_PH_OPEN,       /* WebSocket frames flow */
    TT_PH_LINGER,     /* the WebSocket is over: flushing, then closing TCP */
    TT_PH_DEAD        /* socket closed; freed once the user is done with it */
} tt_phase;

/* What differs between the roles, so generic files never name one
 * (client.c and server.c define the two). */
typedef struct tt_conn_class {
    tether_role role;
    /* Socket readiness before the WebSocket opens (the phases above
     * TT_PH_OPEN); after, the generic path (conn.c) serves both roles. */
    void (*on_handshake_io)(tether_conn *c, unsigned ready);
    /* The user released an event of this type about c (NULL: nothing to
     * do beyond the generic). */
    void (*released)(tether_conn *c, int type);
    /* Input kept in c->pending before the WebSocket opens is due (NULL:
     * none is ever kept then). */
    void (*resume)(tether_conn *c);
    /* A file body (tt_file_body_start) was written whole (NULL: the role
     * never sends one). */
    void (*file_sent)(tether_conn *c);
    /* Frees what the role keeps on c (NULL: nothing). */
    void (*cleanup)(tether_conn *c);
    /* c is about to be lost with err: 1 if the role keeps it instead (a
     * client whose server took HTTP/2 but cannot carry a WebSocket over it
     * starts over on HTTP/1.1; an idle HTTP/2 connection says GOAWAY before
     * it closes), else 0 (NULL: never). */
    int (*before_loss)(tether_conn *c, int err);
    /* The connection is ending as ev (CLOSED) says: the delay in ms before
     * it connects again under the retry policy, or -1 to end (NULL:
     * never retry). */
    int (*retry_delay)(tether_conn *c, const tether_event *ev);
    /* A connection that said RETRY: its socket is closed (enter the wait),
     * or its wait is over, or an event it waited for was released. */
    void (*retry)(tether_conn *c);
} tt_conn_class;

/* What conn_stats.c keeps: moments in microseconds (0: not reached) and
 * counters since the connection was made, reconnections included. */
typedef struct tt_conn_stats {
    uint64_t start_us;   /* the clock's start: the accept, or the dial */
    uint64_t ping_at_us; /* a timed ping went out then (0: none out) */
    uint64_t wire_in, wire_out, msgs_in, msgs_out, payload_in, payload_out;
    /* The moments of the opening, in us after start_us plus 1 (0: not
     * reached), and round trips in us: 32 bits each, to keep an idle
     * connection small; a span past 71 minutes reads as 71 minutes. */
    uint32_t resolved, connected, proxy, tls, open;
    uint32_t rtt_us, rtt_min_us, rtt_max_us, rtt_samples, opens;
    int layers_timed;
} tt_conn_stats;

typedef enum tt_stats_point {
    TT_STATS_START,     /* tether_connect(), or accepted: the clock starts */
    TT_STATS_RESOLVED,  /* client: addresses known */
    TT_STATS_CONNECTED, /* client: TCP is up */
    TT_STATS_OPEN       /* the WebSocket opened */
} tt_stats_point;

/* What only a client keeps: where it goes and how it gets there (a server
 * connection has none, so an accepted idle connection does not carry it). */
typedef struct tt_client_part {
    tt_url url;
    struct addrinfo *addrs; /* the addresses resolved */
    tt_resolve *resolve;
    struct tt_race *race; /* the connect attempts (happy_eyeballs.c) */
    tt_proxy *proxy;      /* through this proxy (NULL: direct) */
    char *target_addr;    /* ... SOCKS5: the server's address, resolved here */
    unsigned retries;     /* attempts since it was last open */
    unsigned retry_wait;  /* ms before the next one */
    uint32_t retry_seed;  /* jitter */
} tt_client_part;

struct tether_conn {
    tether_ctx *ctx;
    const tt_conn_class *cls;
    uint64_t id;
    tt_phase phase;
    tether_role role;
    tether_opts *opts;
    tt_io io;
    tt_timer timer;
    tt_ws ws;         /* the WebSocket state machine */
    tt_stack *stack;  /* the transport layers under it (NULL or empty: plain TCP) */
    tt_outbuf hs_out; /* the handshake's bytes, which precede any frame */

    tether_client_hs *chs;
    tt_client_part *cl; /* client: its own part (NULL: a server connection) */
    tether_server_hs *shs;
    struct tt_request *req;    /* server: the request, frozen once the WebSocket opened */
    struct tt_http *http;      /* a plain HTTP request being served (server) */
    struct tt_h2 *h2;          /* an HTTP/2 connection: its session */
    struct tt_h2_stream *h2s;  /* an HTTP/2 stream: its wire instead of a socket */
    int h2_id;                 /* ... and its id (0: not a stream) */
    struct tt_file_body *file; /* a file on the wire after hs_out (conn_file.c) */
    char *extensions;          /* negotiated Sec-WebSocket-Extensions value */
    tether_pmd *pmd;           /* permessage-deflate while it is being negotiated */

    uint8_t *pending; /* input received but not processed yet */
    size_t pending_len, pending_cap;

    void *user;
    int held;    /* events out that point at this connection */
    int decided; /* REQUEST: 1 accept, -1 reject */
    int reject_status;
    char *reject_body, *chosen_protocol;
    int error;
    int os_error;      /* errno of the system call that failed it (0: none) */
    char *error_text;  /* what failed it, in words (NULL: none yet, or no memory) */
    uint64_t deadline; /* connect / handshake / linger deadline (0: none) */
    size_t accounted;  /* what this connection adds to ctx->queued */
    tt_conn_stats stats;
    /* Flags, one bit each (an idle connection is mostly its flags). */
    unsigned paused : 1;          /* poll mode: a data event is held, stop reading */
    unsigned read_parked : 1;     /* ... and input came meanwhile: read interest is off */
    unsigned user_paused : 1;     /* tether_conn_pause_reading() */
    unsigned silent : 1;          /* no event was ever given out: die without CLOSED */
    unsigned closed_out : 1;      /* the CLOSED event was emitted */
    unsigned user_done : 1;       /* ... and released */
    unsigned fin_sent : 1;        /* lingering: our side of the stream is shut (FIN sent) */
    unsigned h2_orphan : 1;       /* an HTTP/2 stream whose HTTP/2 connection ended */
    unsigned h2_fallback : 1;     /* client: HTTP/2 was refused, HTTP/1.1 only */
    unsigned file_sent : 1;       /* the file body went whole: tell the role after the flush */
    unsigned http_above_mark : 1; /* a streamed HTTP response went over the drain mark */
    unsigned retrying : 1;        /* client: its last end was a RETRY event, not CLOSED */
    unsigned user_closed : 1;     /* client: the application closed it: never retry */
    unsigned dirty : 1;           /* on ctx->dirty (output to flush) */
    unsigned runnable : 1;        /* on ctx->runnable (input to resume) */
    unsigned in_grave : 1;        /* on ctx->grave (to be freed) */
    tether_conn *next_dirty, *next_runnable, *next_grave;
    char peer[]; /* server: the peer's address as text, sized to fit ("": none) */
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
    unsigned retry_ms, retry_attempt; /* RETRY */
    int utf8_ok;                      /* MESSAGE: text the engine already found valid UTF-8 */
    int copied; /* data is the event's own copy (in ctl, or malloc'd): see event.c */
    char reason[TETHER_MAX_CLOSE_REASON + 1];
    size_t reason_len;
    uint8_t ctl[TETHER_MAX_CONTROL_PAYLOAD];
    tether_event *next;
};

/* Big frames whose payload lies in the read buffer (an echo, a relay),
 * held by the direct writer to go in one writev per connection and read
 * (conn_wire.c), instead of one each. */
#define TT_DIRECT_BATCH 16
typedef struct tt_direct_batch {
    tether_conn *owner; /* whose frames (NULL: none held) */
    int n;
    struct iovec iov[2 * TT_DIRECT_BATCH]; /* header, payload; header, payload... */
    uint8_t hdr[TT_DIRECT_BATCH][TETHER_MAX_FRAME_HEADER];
} tt_direct_batch;

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
    tether_timer *timers; /* the application's (app_timer.c) */
    tether_conn **slots;  /* connections by id: slot index + generation */
    uint32_t *gens;
    size_t nslots, *free_slots, nfree;
    atomic_int stop;
    atomic_int wake_req; /* tether_ctx_wake() was called: a WAKE event is due */
    int in_service, running;
    int corked;           /* tether_ctx_set_cork(): sends outside a round wait for one */
    size_t event_copy;    /* tether_ctx_set_event_copy(): largest payload copied (0: none) */
    int paused_listeners; /* how many wait for a descriptor to come free */
    size_t queued;        /* bytes held to send: every connection's own, and
                           * each shared (broadcast) frame once */
    size_t send_budget;   /* cap on queued for data sends (0: none) */
    uint64_t now;
    uint8_t *stack_scratch;      /* 2 x TT_STACK_CHUNK, made on first use by a stack */
    tt_pmd_shared *pmd_shared;   /* compressors for no-context-takeover messages */
    tt_bufpool bufpool;          /* output buffers, lent to connections while they send */
    tt_direct_batch batch;       /* big frames held to be written together */
    tt_tls_ctx *tls_client;      /* the last client TLS context, for reuse */
    tt_tls_opts tls_client_opts; /* ... and the options it was made from */
};

/* The files of this folder, lowest first: each calls only files listed
 * before it (scripts/layers.sh checks that no two call each other, even
 * through others), so there is no cycle; what depends on the role goes
 * through tt_conn_class. Lowest of all: log.c and opts*.c, above. */

/* app_timer.c: the application's timers (tether_timer_start); freed with
 * their context. */
void tt_app_timers_free(tether_ctx *ctx);

/* conn_table.c: connections by id, and the round's work lists. */
int tt_ctx_add_conn(tether_ctx *ctx, tether_conn *c);
tether_conn *tt_ctx_find_conn(tether_ctx *ctx, uint64_t id);
void tt_ctx_remove_conn(tether_ctx *ctx, tether_conn *c);
void tt_ctx_mark_dirty(tether_conn *c);    /* flush at the round's end */
void tt_ctx_mark_runnable(tether_conn *c); /* resume in the next round */
void tt_ctx_bury(tether_conn *c);          /* free at the round's end */
/* Makes the next round resume c (input may be waiting), waking a loop
 * that may be asleep. */
void tt_conn_wake(tether_conn *c);

/* accept_backoff.c: listeners paused by a failed accept() (out of
 * descriptors) wait for a timer, or for a connection to give one back. */
void tt_listener_pause(tether_listener *l, int err);
void tt_listener_on_backoff(tt_timer *t);
void tt_listeners_resume(tether_ctx *ctx);

/* conn_file.c: a file as a response body, after hs_out on the wire. It
 * takes fd (closed when sent, or by tt_file_body_free()). */
int tt_file_body_start(tether_conn *c, int fd, uint64_t offset, uint64_t len);
void tt_file_body_free(tether_conn *c);
/* Drops the file body without closing its descriptor (it stays the caller's). */
void tt_file_body_forget(tether_conn *c);
/* Plain connections: sendfile(2) until the socket is full (0) or all went
 * (1), or an error. */
int tt_file_body_sendfile(tether_conn *c);
/* Stacked connections: the next bytes, read into buf (> 0), or an error;
 * then tt_file_body_sent() with how many the stack took. */
ssize_t tt_file_body_peek(tether_conn *c, uint8_t *buf, size_t cap);
void tt_file_body_sent(tether_conn *c, size_t n);

/* conn_wire.c: bytes between the socket and the WebSocket, through the
 * transport stack when there is one. tt_wire_read() leaves input at
 * ctx->rbuf and returns its length, 0 at the end of the stream,
 * TETHER_E_AGAIN, or an error (tt_stack_error_text() explains a layer's). */
ssize_t tt_wire_read(tether_conn *c);
/* Plain TCP only: reads at most cap bytes into buf instead (the same
 * returns). */
ssize_t tt_wire_read_into(tether_conn *c, uint8_t *buf, size_t cap);
/* Writes the handshake bytes and the frame queue; 0 (maybe not all went:
 * tt_wire_wants_write) or an error. */
int tt_wire_flush(tether_conn *c);
/* Keeps text (cut to TT_ERROR_TEXT_MAX bytes) as what failed c: allocated
 * only then, so a connection that never fails holds no room for it. */
#define TT_ERROR_TEXT_MAX 159u
void tt_conn_set_error_text(tether_conn *c, const char *text);
/* Whether c's bytes go straight to its socket (no layer under the
 * WebSocket): a plain connection holds no stack at all. */
static inline int tt_conn_plain(const tether_conn *c) {
    return !c->stack || tt_stack_empty(c->stack);
}
/* Puts layer l on top of c's stack, made on first use; the stack owns l
 * from then on, and l is freed if it cannot be pushed. 0 or an error. */
int tt_conn_push_layer(tether_conn *c, tt_layer *l);
/* The layer of c's stack called name, or NULL. */
tt_layer *tt_conn_layer(const tether_conn *c, const char *name);
/* Hooks the WebSocket state up to its connection (after each tt_ws_init):
 * the direct writer and the loop's buffer pool. */
void tt_conn_hook_ws(tether_conn *c);
/* The WebSocket's direct writer: see tt_ws_direct_fn. */
size_t tt_wire_direct(tt_ws *w, const struct iovec *iov, int n);
/* Writes the frames the direct writer holds (before the read buffer is
 * read into again, and at a round's end); forget() drops them for a
 * connection that is going away. */
void tt_wire_batch_flush(tether_ctx *ctx);
void tt_wire_batch_forget(tether_conn *c);
int tt_wire_wants_write(const tether_conn *c);
/* Before the socket closes: the layers' goodbye (close_notify, or the
 * alert explaining a failed handshake), if the socket takes it now. */
void tt_wire_goodbye(tether_conn *c);

/* HTTP/2 on the wire: a stream's bytes go through its session instead of
 * a socket; a connection carrying a session fills its queue from it. */
/* The end of our side: shutdown(SHUT_WR), or a stream's END_STREAM. */
int tt_wire_shutdown_write(tether_conn *c);
/* Lets go of a stream (its session sends RST_STREAM if it must) or of a
 * session (each stream's reader is woken to find it gone). */
void tt_wire_detach(tether_conn *c);
/* Why the wire failed: the stream's, the session's or a layer's reason. */
const char *tt_wire_error_text(const tether_conn *c);

/* conn_tls.c: puts TLS on a connection's stack. */
int tt_conn_tls_client(tether_conn *c);
int tt_conn_tls_server(tether_conn *c, tt_tls_ctx *t);
/* The connection's TLS session, or NULL on cleartext. */
tt_tls *tt_conn_tls(const tether_conn *c);

/* conn_life.c */
/* Frees everything; the caller has taken c out of the context's table. */
void tt_conn_free(tether_conn *c);
/* Closes the socket; frees the connection if the user is done with it. */
void tt_conn_shut(tether_conn *c);
/* A client starting over (its socket closed): back to the state of a new
 * connection, its options, URL, id and user pointer kept. */
int tt_conn_reset(tether_conn *c); /* 0 or TETHER_E_NOMEM */
void tt_conn_maybe_free(tether_conn *c);
void tt_conn_arm_timer(tether_conn *c);
/* Brings ctx->queued up to date with what c alone holds to send now. */
void tt_conn_account(tether_conn *c);

/* event.c */
tether_event *tt_event_new(tether_ctx *ctx, int type, tether_conn *c);
/* Hands an event to the user: the callback now, or the queue. */
void tt_emit(tether_event *ev);
void tt_emit_simple(tether_conn *c, int type);
/* Queues an event for the next round, even in callback mode: for events
 * caused by a call the user is making right now. */
void tt_emit_later(tether_event *ev);
/* The public event for a WebSocket one (NULL when out of memory). */
tether_event *tt_event_from_ws(tether_conn *c, const tt_ws_ev *wev);
void tt_emit_ws(tether_conn *c, const tt_ws_ev *wev);
/* The CLOSED event for a connection that ends outside the WebSocket
 * state machine (1006 with the error), or NULL if nobody is to be told. */
tether_event *tt_conn_closed_event(tether_conn *c, int err, const char *text);
void tt_events_free_all(tether_ctx *ctx);

/* conn_deflate.c: permessage-deflate negotiation for live connections. */
int tt_deflate_client_offer(tether_conn *c);
int tt_deflate_client_accept(tether_conn *c);
int tt_deflate_server_negotiate(tether_conn *c);

/* conn_io.c */
/* What c still owes its peer: handshake or HTTP bytes, frames, and what
 * the transport stack holds (tether_conn_buffered()). */
size_t tt_conn_owed(const tether_conn *c);
/* Writes out what is queued; enables write interest if it would block. */
void tt_conn_flush(tether_conn *c);
/* Runs input through the WebSocket until it pauses or runs out. */
void tt_conn_process(tether_conn *c, uint8_t *buf, size_t len);
void tt_conn_resume(tether_conn *c);
/* Keeps input to process later (buf may be c->pending itself). */
void tt_conn_keep_input(tether_conn *c, const uint8_t *buf, size_t len);
/* After something was queued: it goes now, or at the round's end, and the
 * timer follows the deadlines a ping or a close may have moved. */
void tt_conn_after_send(tether_conn *c);
/* The same after a data message or fragment, which moves no deadline (they
 * follow what arrives, the state and pings): no timer work per message. */
void tt_conn_after_data(tether_conn *c);
/* 0 if c may send data now, else TETHER_E_INVAL (NULL) or TETHER_E_STATE. */
int tt_conn_sendable(const tether_conn *c);
/* The context's budget for queued bytes, across its connections: 0 if len
 * more bytes fit, else TETHER_E_BACKPRESSURE, as for a send over the
 * connection's own limit. Control frames are small and always go. */
int tt_conn_within_budget(const tether_conn *c, size_t len);
int tt_conn_set_interest(tether_conn *c, unsigned events);
/* The WebSocket is over: close the TCP connection after flushing. */
void tt_conn_linger(tether_conn *c);
/* The one way a connection is lost, in any phase: the peer's stream
 * ended or failed, a write failed, a layer failed, a deadline passed, the
 * handshake failed. Tells the user (CLOSED 1006 with the reason, once, and
 * never about a connection the user has not seen) and closes the socket.
 * text NULL: the failed layer's reason, else the error's. */
void tt_conn_lost(tether_conn *c, int err, const char *text);
/* The handshake is done (either role): the WebSocket is open, with extra
 * (bytes that came after the handshake) as its first input. */
void tt_conn_open(tether_conn *c, const uint8_t *extra, size_t extra_len);
/* Socket readiness and the timer of an open or lingering connection. */
void tt_conn_on_io(tether_conn *c, unsigned ready);
void tt_conn_on_timer(tether_conn *c);

/* http_server.c: plain HTTP requests on a server connection
 * (tether_opts_set_http), once server.c has read a valid head that asks
 * for no upgrade: rest is the input after it, length and chunked its body's
 * framing. */
void tt_http_begin(tether_conn *c, const uint8_t *rest, size_t rest_len, uint64_t length,
                   int chunked);
void tt_http_on_io(tether_conn *c, unsigned ready);
void tt_http_released(tether_conn *c, int type);
void tt_http_resume(tether_conn *c);
int tt_http_add_header(tether_conn *c, const char *name, const char *value);
int tt_http_close(tether_conn *c);
/* Answers a request we refuse with status (0: none; not if a response
 * has started), then ends the connection: CLOSED with err, if the
 * application has seen the connection. */
void tt_http_refuse(tether_conn *c, int err, int status);
void tt_http_free(tether_conn *c);
/* tether_conn_respond_file() for a descriptor already fstat()ed (st). */
struct stat;
int tt_http_respond_file(tether_conn *c, int status, const char *content_type, int fd,
                         const struct stat *st, int64_t offset, int64_t length);
/* The file answering the request (tether_conn_respond_file) went whole. */
void tt_http_file_sent(tether_conn *c);
/* A request parser with the options' head limits (NULL: out of memory). */
tether_server_hs *tt_server_hs_with_limits(const tether_opts *o);

/* h2_carrier.c: HTTP/2 on a server connection. The role makes each
 * request stream's connection (stream(), NULL when it cannot). */
typedef struct tt_h2_opener {
    tether_conn *(*stream)(tether_conn *carrier);
} tt_h2_opener;
/* c's first bytes (buf) are HTTP/2: from now on it carries a session. */
void tt_h2_carrier_start(tether_conn *c, const uint8_t *buf, size_t n, const tt_h2_opener *open);

/* conn.c: a new connection wired to the loop; peer (NULL: none) is the
 * server side's text for its peer's address, copied. */
tether_conn *tt_conn_new(tether_ctx *ctx, const tt_conn_class *cls, tether_opts *opts,
                         const char *peer);

/* client.c / server.c: the roles. */
/* Takes an accepted socket (closing it on failure). */
void tt_server_accept(tether_listener *l, int fd, const char *peer);

/* The files above them: listener.c, ctx.c (rounds, the public context),
 * conn_api.c, engine.c, post.c, opts*.c, log.c. */
void tt_ctx_free_grave(tether_ctx *ctx);

/* happy_eyeballs.c: connecting to every address of a name (RFC 8305). */
typedef struct tt_race tt_race;
/* The race's end: fd connected, or fd -1 when every attempt failed (why
 * then says why the last one did, errno its OS error). The race is over
 * when this is called; the callee frees it. */
typedef void (*tt_race_done)(tether_conn *c, int fd, const char *why);
/* Starts connecting c to the addresses of res (which must outlive the
 * race). 0 with *out set, or an error (every address failed at once: why
 * says why, errno the OS's reason). */
int tt_race_start(tether_conn *c, const struct addrinfo *res, tt_race_done done, tt_race **out,
                  char *why, size_t cap_why);
/* Closes every pending attempt. NULL is fine. */
void tt_race_free(tt_race *r);

/* retry.c: the reconnection policy of a client's options. */
/* Whether the policy allows attempt (1: the first retry). */
int tt_retry_allowed(const tether_opts *o, unsigned attempt);
/* The delay before attempt, in ms, jitter included (*seed advances). */
unsigned tt_retry_delay(const tether_opts *o, unsigned attempt, uint32_t *seed);
/* Whether an end with this error, close code and HTTP status is one a
 * client retries: the network's failures, HTTP 5xx, a server that went
 * away or restarts; not the application's close, a refusal or a broken
 * protocol. */
int tt_retry_wanted(int error, int code, int http_status);

/* conn_stats.c: a connection's statistics (tether_conn_stats()). */
void tt_stats_mark(tether_conn *c, tt_stats_point p);
/* Notes the moment of each layer of c's stack that opened since. */
void tt_stats_layers(tether_conn *c);
/* We sent a ping (keepalive or the application's); a pong came. */
void tt_stats_ping_sent(tether_conn *c);
void tt_stats_pong(tether_conn *c);

#endif
