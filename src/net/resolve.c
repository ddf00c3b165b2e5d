/* Name resolution off the loop thread. Numeric hosts and "localhost" are
 * answered at once (no name service involved); other names go to
 * getaddrinfo on a short-lived detached thread. Either way the answer
 * reaches the caller through tt_loop_post, on the loop thread.
 *
 * Lifetime: a request has up to two holders, the resolver thread and the
 * posted job; whichever finishes last frees it. Cancelling only sets a
 * flag. A mutex orders "thread posts" against "loop thread cancels", so
 * once tt_resolve_cancel returns the thread will never touch the loop. */
#include "net/net.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tether.h"

struct tt_resolve {
    tt_loop *loop;
    tt_resolve_cb cb;
    void *arg;
    pthread_mutex_t mu; /* held while the thread checks cancelled and posts */
    atomic_int cancelled;
    atomic_int refs;
    struct addrinfo *res;
    int err, gai;
    char *host;
    char service[8];
};

static atomic_int tt_resolver_threads;

int tt_resolve_threads(void) {
    return atomic_load(&tt_resolver_threads);
}

static void tt_resolve_unref(tt_resolve *r, int n) {
    if (atomic_fetch_sub_explicit(&r->refs, n, memory_order_acq_rel) != n) return;
    if (r->res) freeaddrinfo(r->res);
    pthread_mutex_destroy(&r->mu);
    free(r->host);
    free(r);
}

/* The posted job, on the loop thread: deliver unless cancelled. */
static void tt_resolve_deliver(void *arg) {
    tt_resolve *r = arg;
    if (!atomic_load_explicit(&r->cancelled, memory_order_acquire)) {
        struct addrinfo *res = r->res;
        r->res = NULL; /* now the callee's */
        r->cb(r->arg, res, res ? 0 : r->err, r->gai);
    }
    tt_resolve_unref(r, 1);
}

static int tt_lookup(const char *host, const char *service, int flags, struct addrinfo **res) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_protocol = IPPROTO_TCP,
                             .ai_flags = flags | AI_NUMERICSERV};
    *res = NULL;
    return getaddrinfo(host, service, &hints, res);
}

/* Answers numeric hosts and "localhost" without any lookup. Returns 1 if
 * answered (r->res or r->err set), 0 if the name needs the resolver. */
static int tt_resolve_now(tt_resolve *r) {
    int rc;
    if (strcasecmp(r->host, "localhost") == 0) {
        /* A NULL node without AI_PASSIVE means the loopback addresses of
         * every configured family: localhost without asking anyone. */
        rc = tt_lookup(NULL, r->service, 0, &r->res);
    } else {
        rc = tt_lookup(r->host, r->service, AI_NUMERICHOST, &r->res);
        if (rc == EAI_NONAME) return 0;
    }
    if (rc != 0) {
        r->err = TETHER_E_DNS;
        r->gai = rc;
    }
    return 1;
}

/* Hands the result to the loop unless cancelled. If posting fails (out of
 * memory) it retries: the caller is waiting for this callback. */
static void tt_resolve_post_back(tt_resolve *r) {
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int cancelled = atomic_load_explicit(&r->cancelled, memory_order_acquire);
        int rc = cancelled ? 0 : tt_loop_post(r->loop, tt_resolve_deliver, r);
        pthread_mutex_unlock(&r->mu);
        if (cancelled) {
            tt_resolve_unref(r, 2); /* the job's reference too: no job */
            return;
        }
        if (rc == 0) {
            tt_resolve_unref(r, 1);
            return;
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static void *tt_resolve_thread(void *arg) {
    tt_resolve *r = arg;
    if ((r->gai = tt_lookup(r->host, r->service, 0, &r->res)) != 0) r->err = TETHER_E_DNS;
    tt_resolve_post_back(r);
    atomic_fetch_sub(&tt_resolver_threads, 1);
    return NULL;
}

/* A detached thread with every signal blocked: signals meant for the
 * application must not land on a resolver. */
static int tt_resolve_spawn(tt_resolve *r) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return TETHER_E_NOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    atomic_fetch_add(&tt_resolver_threads, 1);
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, tt_resolve_thread, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&tt_resolver_threads, 1);
        return TETHER_E_NOMEM;
    }
    return 0;
}

static tt_resolve *tt_resolve_new(tt_loop *loop, const char *host, int port, tt_resolve_cb cb,
                                  void *arg) {
    tt_resolve *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->host = strdup(host);
    if (!r->host || pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r->host);
        free(r);
        return NULL;
    }
    r->loop = loop;
    r->cb = cb;
    r->arg = arg;
    atomic_init(&r->cancelled, 0);
    atomic_init(&r->refs, 1);
    snprintf(r->service, sizeof r->service, "%d", port);
    return r;
}

int tt_resolve_start(tt_loop *loop, const char *host, int port, tt_resolve_cb cb, void *arg,
                     tt_resolve **out) {
    if (out) *out = NULL;
    if (!loop || !host || !*host || !cb || port < 0 || port > 65535) return TETHER_E_INVAL;
    tt_resolve *r = tt_resolve_new(loop, host, port, cb, arg);
    if (!r) return TETHER_E_NOMEM;
    int rc;
    if (tt_resolve_now(r)) {
        rc = tt_loop_post(loop, tt_resolve_deliver, r); /* the job holds the one ref */
    } else {
        atomic_store(&r->refs, 2); /* the thread and the job it will post */
        rc = tt_resolve_spawn(r);
    }
    if (rc < 0) {
        atomic_store(&r->refs, 1);
        tt_resolve_unref(r, 1);
        return rc;
    }
    if (out) *out = r;
    return 0;
}

void tt_resolve_cancel(tt_resolve *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    atomic_store_explicit(&r->cancelled, 1, memory_order_release);
    pthread_mutex_unlock(&r->mu);
}
