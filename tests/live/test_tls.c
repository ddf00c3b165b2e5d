/* wss:// end to end over loopback: our TLS client against our TLS server
 * in callback and poll mode, with certificates made for the run by
 * tests/certs/make_certs.sh (the openssl tool). Every check a client makes
 * is tested both ways: refused by default with OpenSSL's reason, accepted
 * only with the flag that relaxes that one check. */
#include "live_util.h"

#include "certs_util.h"

#include <openssl/ssl.h>
#include <pthread.h>

static const char *cert(const char *name) {
    return cu_path(name);
}

/* A server with the given certificate (name.pem / name.key). */
static tether_opts *server_opts(const char *name) {
    tether_opts *o = tether_opts_new();
    char pem[64], key[64];
    snprintf(pem, sizeof pem, "%s.pem", name);
    snprintf(key, sizeof key, "%s.key", name);
    assert_int_equal(tether_opts_set_tls_cert(o, cert(pem), cert(key)), 0);
    return o;
}

/* A client trusting the test CA, with flags. */
static tether_opts *client_opts(unsigned flags) {
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_tls_ca(o, cert("ca.pem"), NULL), 0);
    assert_int_equal(tether_opts_set_tls_flags(o, flags), 0);
    return o;
}

static side *wss_connect(world *w, const char *host, const tether_opts *o) {
    char url[256];
    snprintf(url, sizeof url, "wss://%s:%d/tls", host, w->port);
    return w_connect_url(w, url, o);
}

/* Connects and waits for the outcome: 1 open, 0 refused. */
static int try_connect(world *w, const char *host, const tether_opts *o, side **out) {
    side *c = wss_connect(w, host, o);
    UNTIL(w, 5000, c->open || c->closed);
    *out = c;
    return c->open;
}

static void close_and_wait(world *w, side *c) {
    assert_int_equal(tether_conn_close(c->c, 1000, "bye"), 0);
    UNTIL(w, 5000, c->closed);
    assert_int_equal(c->code, 1000);
    assert_true(c->clean);
}

/* ---- the happy path ----------------------------------------------------- */

static void test_echo(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    tether_opts *so = server_opts("server"), *co = client_opts(0);
    w_listen(&w, "127.0.0.1", so);
    side *c;
    assert_true(try_connect(&w, "localhost", co, &c));
    assert_string_equal(tether_conn_tls_version(c->c), "TLSv1.3");
    assert_non_null(tether_conn_tls_cipher(c->c));
    side *s = w_server(&w, 0);
    UNTIL(&w, 3000, s && s->open);
    assert_string_equal(tether_conn_tls_version(s->c), "TLSv1.3");
    assert_string_equal(tether_conn_path(s->c), "/tls");
    /* Sizes around TLS record and read-buffer boundaries. */
    static const size_t sizes[] = {0,     1,      125,    16383,   16384,   16385,
                                   65536, 262143, 262144, 1048577, 4u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *p = lu_pattern(sizes[i], (unsigned)i);
        int before = c->msgs;
        assert_int_equal(tether_conn_send(c->c, TETHER_OP_BINARY, p, sizes[i]), 0);
        UNTIL(&w, 10000, c->msgs == before + 1);
        assert_int_equal(c->last_len, sizes[i]);
        if (sizes[i]) assert_memory_equal(c->last, p, sizes[i]);
        free(p);
    }
    /* Many small messages in one burst: records coalesce and split. */
    int before = c->msgs;
    for (int i = 0; i < 2000; i++)
        assert_int_equal(tether_conn_send(c->c, TETHER_OP_TEXT, "hello over tls", 14), 0);
    UNTIL(&w, 10000, c->msgs == before + 2000);
    close_and_wait(&w, c);
    UNTIL(&w, 3000, s->closed);
    assert_int_equal(s->code, 1000);
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

/* An address, not a name: checked against the certificate's IP SAN. */
static void test_ip_address(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = server_opts("server"), *co = client_opts(0);
    w_listen(&w, "127.0.0.1", so);
    side *c;
    assert_true(try_connect(&w, "127.0.0.1", co, &c));
    close_and_wait(&w, c);
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

/* ---- certificates refused, and the one flag that accepts each ----------- */

typedef struct cert_case {
    const char *server_cert;
    unsigned flag;     /* the relaxation that accepts it */
    const char *words; /* in the error text when refused */
} cert_case;

static const cert_case cert_cases[] = {
    {"expired", TETHER_TLS_ALLOW_EXPIRED, "certificate has expired"},
    {"wronghost", TETHER_TLS_SKIP_HOSTNAME_CHECK, "hostname mismatch"},
    {"selfsigned", TETHER_TLS_ALLOW_SELFSIGNED, "self-signed certificate"},
};

static void check_refused(world *w, const tether_opts *co, const char *words) {
    side *c;
    assert_false(try_connect(w, "localhost", co, &c));
    assert_int_equal(c->error, TETHER_E_TLS_VERIFY);
    assert_int_equal(c->code, TETHER_CLOSE_ABNORMAL);
    if (!strstr(c->error_text, words)) fail_msg("error text '%s' lacks '%s'", c->error_text, words);
}

static void test_bad_certs(void **state) {
    static const unsigned flags[] = {TETHER_TLS_ALLOW_EXPIRED, TETHER_TLS_SKIP_HOSTNAME_CHECK,
                                     TETHER_TLS_ALLOW_SELFSIGNED};
    for (size_t i = 0; i < sizeof cert_cases / sizeof *cert_cases; i++) {
        const cert_case *k = &cert_cases[i];
        world w;
        w_init(&w, MODE(state));
        tether_opts *so = server_opts(k->server_cert);
        w_listen(&w, "127.0.0.1", so);
        tether_opts *co = client_opts(0);
        check_refused(&w, co, k->words);
        for (size_t f = 0; f < 3; f++) { /* the other flags do not help */
            if (flags[f] == k->flag) continue;
            assert_int_equal(tether_opts_set_tls_flags(co, flags[f]), 0);
            check_refused(&w, co, k->words);
        }
        assert_int_equal(tether_opts_set_tls_flags(co, k->flag), 0);
        side *c;
        assert_true(try_connect(&w, "localhost", co, &c));
        close_and_wait(&w, c);
        assert_int_equal(tether_opts_set_tls_flags(co, TETHER_TLS_INSECURE), 0);
        assert_true(try_connect(&w, "localhost", co, &c));
        close_and_wait(&w, c);
        tether_opts_free(so);
        tether_opts_free(co);
        w_free(&w);
    }
}

/* A CA nobody told the client about: the system store does not know it. */
static void test_untrusted_ca(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = server_opts("server");
    w_listen(&w, "127.0.0.1", so);
    tether_opts *co = tether_opts_new(); /* system store */
    check_refused(&w, co, "unable to get local issuer certificate");
    assert_int_equal(tether_opts_set_tls_ca(co, cert("other-ca.pem"), NULL), 0);
    check_refused(&w, co, "unable to get local issuer certificate");
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

/* ---- client certificates -------------------------------------------------- */

static void test_client_certs(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = server_opts("server");
    assert_int_equal(tether_opts_set_tls_ca(so, cert("ca.pem"), NULL), 0);
    assert_int_equal(tether_opts_set_tls_verify_client(so, 2), 0);
    w_listen(&w, "127.0.0.1", so);
    side *c;
    tether_opts *co = client_opts(0); /* no certificate: refused */
    /* The server's alert reaches the client, which reports it. */
    assert_false(try_connect(&w, "localhost", co, &c));
    assert_int_equal(c->error, TETHER_E_TLS);
    if (!strstr(c->error_text, "certificate required")) fail_msg("error: %s", c->error_text);
    assert_int_equal(
        tether_opts_set_tls_cert(co, cert("rogue-client.pem"), cert("rogue-client.key")), 0);
    assert_false(try_connect(&w, "localhost", co, &c));
    assert_int_equal(c->error, TETHER_E_TLS);
    if (!strstr(c->error_text, "unknown ca")) fail_msg("error: %s", c->error_text);
    assert_int_equal(tether_opts_set_tls_cert(co, cert("client.pem"), cert("client.key")), 0);
    assert_true(try_connect(&w, "localhost", co, &c));
    close_and_wait(&w, c);
    for (size_t i = 0; i < w.nsides; i++) /* refused ones never reached the application */
        assert_int_equal(w.sides[i].server ? w.sides[i].requests : 1, 1);
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

/* ---- SNI ------------------------------------------------------------------ */

static void test_sni(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = server_opts("server");
    assert_int_equal(
        tether_opts_add_tls_sni_cert(so, "a.test", cert("sni-a.pem"), cert("sni-a.key")), 0);
    assert_int_equal(
        tether_opts_add_tls_sni_cert(so, "*.b.test", cert("sni-b.pem"), cert("sni-b.key")), 0);
    assert_int_equal(
        tether_opts_add_tls_sni_cert(so, "b.test", cert("sni-b.pem"), cert("sni-b.key")), 0);
    w_listen(&w, "127.0.0.1", so);
    tether_opts *co = client_opts(0);
    side *c;
    /* Each name gets its certificate: the host check passes only then. */
    const char *names[] = {"a.test", "b.test", "localhost"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tether_opts_set_tls_server_name(co, names[i]), 0);
        assert_true(try_connect(&w, "127.0.0.1", co, &c));
        close_and_wait(&w, c);
    }
    /* An unknown name gets the main certificate, which is not for it. */
    assert_int_equal(tether_opts_set_tls_server_name(co, "c.test"), 0);
    assert_false(try_connect(&w, "127.0.0.1", co, &c));
    assert_int_equal(c->error, TETHER_E_TLS_VERIFY);
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

/* ---- configuration errors and mismatched peers ---------------------------- */

static void test_config_errors(void **state) {
    (void)state;
    tether_ctx *ctx = tether_ctx_new();
    tether_listener *l = NULL;
    tether_opts *o = tether_opts_new();
    assert_int_equal(tether_opts_set_tls_cert(o, "/nonexistent/cert.pem", NULL), 0);
    assert_int_equal(tether_listen(ctx, "127.0.0.1", 0, o, &l), TETHER_E_TLS_CONFIG);
    /* A key that does not belong to the certificate. */
    assert_int_equal(tether_opts_set_tls_cert(o, cert("server.pem"), cert("client.key")), 0);
    assert_int_equal(tether_listen(ctx, "127.0.0.1", 0, o, &l), TETHER_E_TLS_CONFIG);
    assert_null(l);
    tether_opts *co = tether_opts_new();
    assert_int_equal(tether_opts_set_tls_ca(co, "/nonexistent/ca.pem", NULL), 0);
    tether_conn *c = NULL;
    assert_int_equal(tether_connect(ctx, "wss://127.0.0.1:1/", co, &c), TETHER_E_TLS_CONFIG);
    assert_null(c);
    /* Shapes refused at once. */
    assert_int_equal(tether_opts_set_tls_flags(o, 64), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_tls_verify_client(o, 3), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_tls_cert(o, NULL, "k"), TETHER_E_INVAL);
    assert_int_equal(tether_opts_add_tls_sni_cert(o, "", "c", NULL), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_tls_server_name(o, "a b"), TETHER_E_INVAL);
    assert_int_equal(tether_opts_set_tls_ca(NULL, NULL, NULL), TETHER_E_INVAL);
    assert_true(tether_features() & TETHER_FEATURE_TLS);
    tether_opts_free(o);
    tether_opts_free(co);
    tether_ctx_free(ctx);
}

/* wss:// to a cleartext server, and ws:// to a TLS one: both fail within
 * the handshake timeout, with a TLS or HTTP error, never a hang. */
static void test_mismatched_peers(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *plain = tether_opts_new();
    assert_int_equal(tether_opts_set_handshake_timeout(plain, 1000), 0);
    w_listen(&w, "127.0.0.1", plain);
    tether_opts *co = client_opts(0);
    assert_int_equal(tether_opts_set_handshake_timeout(co, 1000), 0);
    side *c;
    assert_false(try_connect(&w, "localhost", co, &c));
    assert_int_equal(c->error, TETHER_E_TLS);
    assert_true(strstr(c->error_text, "TLS") != NULL);
    tether_listener_close(w.l);

    tether_opts *so = server_opts("server");
    assert_int_equal(tether_opts_set_handshake_timeout(so, 1000), 0);
    w_listen(&w, "127.0.0.1", so);
    side *p = w_connect(&w, "/", plain);
    UNTIL(&w, 5000, p->closed);
    assert_false(p->open);
    tether_opts_free(plain);
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

/* ---- protocol versions: 1.2 and 1.3 only ---------------------------------- */

typedef struct old_client {
    int port, version, ok;
    char response[32];
} old_client;

/* A blocking OpenSSL client pinned to one TLS version, on its own thread
 * while the test's loop runs the server: handshake, then the upgrade. */
static void *old_client_main(void *arg) {
    old_client *k = arg;
    SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(sc, k->version);
    SSL_CTX_set_max_proto_version(sc, k->version);
    SSL_CTX_set_security_level(sc, 0); /* let it even try TLS 1.0/1.1 */
    SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
    int fd = raw_connect(k->port);
    SSL *ssl = SSL_new(sc);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        k->ok = 1;
        const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n";
        SSL_write(ssl, req, (int)sizeof req - 1);
        int n = SSL_read(ssl, k->response, (int)sizeof k->response - 1);
        if (n > 0) k->response[n] = 0;
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(sc);
    return NULL;
}

static void test_versions(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = server_opts("server");
    w_listen(&w, "127.0.0.1", so);
    static const struct {
        int version, accepted;
    } cases[] = {{TLS1_2_VERSION, 1}, {TLS1_3_VERSION, 1}, {TLS1_1_VERSION, 0}, {TLS1_VERSION, 0}};
    for (size_t i = 0; i < 4; i++) {
        old_client k = {.port = w.port, .version = cases[i].version};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, old_client_main, &k), 0);
        uint64_t end = lu_now_ms() + 5000;
        while (pthread_tryjoin_np(t, NULL) != 0) {
            if (lu_now_ms() > end) fail_msg("TLS client %zu hangs", i);
            w_step(&w, 10);
        }
        assert_int_equal(k.ok, cases[i].accepted);
        if (cases[i].accepted) assert_memory_equal(k.response, "HTTP/1.1 101", 12);
    }
    tether_opts_free(so);
    w_free(&w);
}

/* A TLS 1.2-only server (OpenSSL on its own thread): our client finishes
 * the handshake on the server's Finished with nothing of its own to send,
 * and must still send its upgrade request. */
typedef struct tls12_server {
    int lfd, ok;
} tls12_server;

static void *tls12_server_main(void *arg) {
    tls12_server *k = arg;
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_max_proto_version(sc, TLS1_2_VERSION);
    SSL_CTX_use_certificate_chain_file(sc, cert("server.pem"));
    SSL_CTX_use_PrivateKey_file(sc, cert("server.key"), SSL_FILETYPE_PEM);
    int fd = accept(k->lfd, NULL, NULL);
    raw_timeouts(fd, 5000);
    SSL *ssl = SSL_new(sc);
    SSL_set_fd(ssl, fd);
    char req[2048];
    int n = SSL_accept(ssl) == 1 ? SSL_read(ssl, req, (int)sizeof req - 1) : 0;
    if (n > 0) {
        req[n] = 0;
        tether_server_hs *h = tether_server_hs_new();
        size_t used, len;
        const char *resp;
        if (tether_server_hs_parse(h, (const uint8_t *)req, (size_t)n, &used) == 0 &&
            tether_server_hs_accept(h, &resp, &len) == 0 && SSL_write(ssl, resp, (int)len) > 0)
            k->ok = 1;
        tether_server_hs_free(h);
        char rest[256];
        while (SSL_read(ssl, rest, sizeof rest) > 0) /* until the client goes */
            ;
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(sc);
    return NULL;
}

static void test_client_tls12(void **state) {
    world w;
    w_init(&w, MODE(state));
    tls12_server k = {.lfd = raw_listen(&w.port)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, tls12_server_main, &k), 0);
    tether_opts *co = client_opts(0);
    side *c;
    assert_true(try_connect(&w, "localhost", co, &c));
    assert_string_equal(tether_conn_tls_version(c->c), "TLSv1.2");
    assert_int_equal(tether_conn_close(c->c, 1000, NULL), 0);
    UNTIL(&w, 5000, c->closed);
    pthread_join(t, NULL);
    assert_true(k.ok);
    close(k.lfd);
    tether_opts_free(co);
    w_free(&w);
}

/* Backpressure over TLS: at most a bounded amount is encrypted ahead of
 * the socket, the rest waits as plaintext; both count against the send
 * limit, DRAIN comes only once every owed byte but drain_mark's worth has
 * gone to the socket, and nothing is lost.
 *
 * Whether DRAIN comes while the client is paused depends on how much the
 * kernel's socket buffers absorb (autotuning may take megabytes on
 * loopback), so the test asserts only what tether promises: DRAIN at or
 * under the mark, exactly once, and every message delivered. */
static void test_backpressure(void **state) {
    world w;
    w_init(&w, MODE(state));
    tether_opts *so = server_opts("server"), *co = client_opts(0);
    assert_int_equal(tether_opts_set_send_limit(so, 512 * 1024), 0);
    assert_int_equal(tether_opts_set_drain_mark(so, 64 * 1024), 0);
    w_listen(&w, "127.0.0.1", so);
    side *c;
    assert_true(try_connect(&w, "localhost", co, &c));
    side *s = w_server(&w, 0);
    UNTIL(&w, 3000, s && s->open);
    assert_int_equal(tether_conn_pause_reading(c->c, 1), 0);
    uint8_t *chunk = lu_pattern(48 * 1024, 9);
    int sent = 0, rc = 0;
    for (int i = 0; i < 20000 && !rc; i++) {
        rc = tether_conn_send(s->c, TETHER_OP_BINARY, chunk, 48 * 1024);
        if (!rc) sent++;
        if (i % 8 == 0) w_pump(&w, 1); /* rounds flush and encrypt */
        assert_true(tether_conn_buffered(s->c) <= 512 * 1024);
    }
    assert_int_equal(rc, TETHER_E_BACKPRESSURE);
    assert_true(tether_conn_buffered(s->c) > 64 * 1024);
    /* What went out: the limit, the bounded ciphertext, kernel buffers.
     * Unbounded encryption would take everything (960 MB) here. */
    if ((size_t)sent * 48 * 1024 > 16u << 20) fail_msg("%d messages accepted", sent);
    w_pump(&w, 100);
    assert_true(s->drains <= 1);
    assert_true(tether_conn_buffered(s->c) <= 512 * 1024);
    assert_int_equal(tether_conn_pause_reading(c->c, 0), 0);
    UNTIL(&w, 10000, s->drains == 1);
    UNTIL(&w, 10000, c->msgs == sent);
    assert_int_equal(s->drains, 1);
    assert_true(s->drain_buffered <= 64 * 1024);
    assert_int_equal(c->last_len, 48 * 1024);
    assert_memory_equal(c->last, chunk, 48 * 1024);
    free(chunk);
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

/* Many TLS connections at once, each echoing, then all closed. */
static void test_many(void **state) {
    world w;
    w_init(&w, MODE(state));
    w.echo = 1;
    tether_opts *so = server_opts("server"), *co = client_opts(0);
    w_listen(&w, "127.0.0.1", so);
    enum { N = 50 };
    side *cs[N];
    for (int i = 0; i < N; i++)
        cs[i] = wss_connect(&w, "localhost", co);
    for (int i = 0; i < N; i++)
        UNTIL(&w, 10000, cs[i]->open);
    for (int i = 0; i < N; i++)
        assert_int_equal(tether_conn_send(cs[i]->c, TETHER_OP_TEXT, "ping", 4), 0);
    for (int i = 0; i < N; i++)
        UNTIL(&w, 10000, cs[i]->msgs == 1);
    for (int i = 0; i < N; i++)
        tether_conn_close(cs[i]->c, 1000, NULL);
    for (int i = 0; i < N; i++)
        UNTIL(&w, 10000, cs[i]->closed);
    tether_opts_free(so);
    tether_opts_free(co);
    w_free(&w);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        BOTH(test_echo),         BOTH(test_ip_address),       BOTH(test_bad_certs),
        BOTH(test_untrusted_ca), BOTH(test_client_certs),     BOTH(test_sni),
        BOTH(test_many),         BOTH(test_versions),         BOTH(test_client_tls12),
        BOTH(test_backpressure), BOTH(test_mismatched_peers), cmocka_unit_test(test_config_errors),
    };
    cu_path("ca.pem"); /* made before the first test, so no test pays for it */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
