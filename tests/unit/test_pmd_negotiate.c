/* permessage-deflate negotiation (RFC 7692 section 7): the client's offer,
 * the client's check of the response, the server's choice among offers, with
 * every combination of the four parameters, and the invalid cases the RFC
 * says to decline (server) or fail on (client). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tether.h"

#define NAME "permessage-deflate"

/* Appends "; text" (and "=bits" when bits > 0) to s. */
static void add(char *s, size_t cap, const char *text, int bits) {
    size_t n = strlen(s);
    if (bits > 0)
        snprintf(s + n, cap - n, "; %s=%d", text, bits);
    else
        snprintf(s + n, cap - n, "; %s", text);
}

/* --- Object and preferences --------------------------------------------- */

static void test_new_free_args(void **state) {
    (void)state;
    assert_null(tether_pmd_new((tether_role)7));
    tether_pmd_free(NULL);
    tether_pmd *p = tether_pmd_new(TETHER_ROLE_CLIENT);
    assert_non_null(p);
    assert_int_equal(tether_pmd_enabled(p), 0);
    assert_int_equal(tether_pmd_server_max_window_bits(p), 15);
    assert_int_equal(tether_pmd_client_max_window_bits(p), 15);
    assert_int_equal(tether_pmd_server_no_context_takeover(p), 0);
    assert_int_equal(tether_pmd_client_no_context_takeover(p), 0);

    assert_int_equal(tether_pmd_set_server_max_window_bits(p, 8), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_server_max_window_bits(p, 16), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_client_max_window_bits(p, 8), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_client_max_window_bits(p, 0), TETHER_E_INVAL);
    for (int b = 9; b <= 15; b++) {
        assert_int_equal(tether_pmd_set_server_max_window_bits(p, b), 0);
        assert_int_equal(tether_pmd_set_client_max_window_bits(p, b), 0);
    }
    assert_int_equal(tether_pmd_set_level(p, -1), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_level(p, 10), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_level(p, 0), 0);
    assert_int_equal(tether_pmd_set_level(p, 9), 0);
    assert_int_equal(tether_pmd_set_mem_level(p, 0), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_mem_level(p, 10), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_mem_level(p, 1), 0);
    assert_int_equal(tether_pmd_set_max_decompressed(p, 0), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_max_decompressed(p, 1), 0);

    assert_int_equal(tether_pmd_set_server_no_context_takeover(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_client_no_context_takeover(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_server_max_window_bits(NULL, 10), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_client_max_window_bits(NULL, 10), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_level(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_mem_level(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_set_max_decompressed(NULL, 1), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_enabled(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_server_no_context_takeover(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_client_no_context_takeover(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_server_max_window_bits(NULL), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_client_max_window_bits(NULL), TETHER_E_INVAL);
    tether_pmd_free(p);
}

static void test_role_and_state(void **state) {
    (void)state;
    char out[256];
    size_t len;
    tether_pmd *c = tether_pmd_new(TETHER_ROLE_CLIENT);
    tether_pmd *s = tether_pmd_new(TETHER_ROLE_SERVER);
    assert_int_equal(tether_pmd_offer(s, out, sizeof out, &len), TETHER_E_STATE);
    assert_int_equal(tether_pmd_accept(s, NAME), TETHER_E_STATE);
    assert_int_equal(tether_pmd_negotiate(c, NAME, out, sizeof out, &len), TETHER_E_STATE);
    assert_int_equal(tether_pmd_offer(NULL, out, sizeof out, &len), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_offer(c, NULL, sizeof out, &len), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_offer(c, out, sizeof out, NULL), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_accept(NULL, NAME), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_negotiate(NULL, NAME, out, sizeof out, &len), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_negotiate(s, NAME, NULL, sizeof out, &len), TETHER_E_INVAL);
    assert_int_equal(tether_pmd_negotiate(s, NAME, out, sizeof out, NULL), TETHER_E_INVAL);

    /* After negotiation: preferences are frozen, a second round refused,
     * the decompression cap still settable. */
    assert_int_equal(tether_pmd_accept(c, NAME), 0);
    assert_int_equal(tether_pmd_negotiate(s, NAME, out, sizeof out, &len), 1);
    tether_pmd *both[] = {c, s};
    for (int i = 0; i < 2; i++) {
        tether_pmd *p = both[i];
        assert_int_equal(tether_pmd_set_server_no_context_takeover(p, 1), TETHER_E_STATE);
        assert_int_equal(tether_pmd_set_client_no_context_takeover(p, 1), TETHER_E_STATE);
        assert_int_equal(tether_pmd_set_server_max_window_bits(p, 10), TETHER_E_STATE);
        assert_int_equal(tether_pmd_set_client_max_window_bits(p, 10), TETHER_E_STATE);
        assert_int_equal(tether_pmd_set_level(p, 1), TETHER_E_STATE);
        assert_int_equal(tether_pmd_set_mem_level(p, 1), TETHER_E_STATE);
        assert_int_equal(tether_pmd_set_max_decompressed(p, 1000), 0);
    }
    assert_int_equal(tether_pmd_accept(c, NAME), TETHER_E_STATE);
    assert_int_equal(tether_pmd_negotiate(s, NAME, out, sizeof out, &len), TETHER_E_STATE);
    tether_pmd_free(c);
    tether_pmd_free(s);
}

/* --- Client offer ------------------------------------------------------- */

static void test_offer_all_combinations(void **state) {
    (void)state;
    static const int sbits[] = {15, 9, 12}, cbits[] = {15, 9, 10};
    for (int m = 0; m < 4 * 3 * 3; m++) {
        int snct = m & 1, cnct = (m >> 1) & 1, sb = sbits[(m / 4) % 3], cb = cbits[m / 12];
        tether_pmd *p = tether_pmd_new(TETHER_ROLE_CLIENT);
        assert_int_equal(tether_pmd_set_server_no_context_takeover(p, snct), 0);
        assert_int_equal(tether_pmd_set_client_no_context_takeover(p, cnct), 0);
        assert_int_equal(tether_pmd_set_server_max_window_bits(p, sb), 0);
        assert_int_equal(tether_pmd_set_client_max_window_bits(p, cb), 0);
        char want[256] = NAME, out[256];
        size_t len = 0;
        if (snct) add(want, sizeof want, "server_no_context_takeover", 0);
        if (cnct) add(want, sizeof want, "client_no_context_takeover", 0);
        if (sb < 15) add(want, sizeof want, "server_max_window_bits", sb);
        add(want, sizeof want, "client_max_window_bits", cb < 15 ? cb : 0);
        assert_int_equal(tether_pmd_offer(p, out, sizeof out, &len), 0);
        assert_string_equal(out, want);
        assert_int_equal(len, strlen(want));
        /* Exactly fitting works; one byte less is NOSPC. */
        assert_int_equal(tether_pmd_offer(p, out, len + 1, &len), 0);
        assert_int_equal(tether_pmd_offer(p, out, len, &len), TETHER_E_NOSPC);
        assert_int_equal(tether_pmd_offer(p, out, 0, &len), TETHER_E_NOSPC);
        tether_pmd_free(p);
    }
}

static void test_offer_default(void **state) {
    (void)state;
    char out[64];
    size_t len;
    tether_pmd *p = tether_pmd_new(TETHER_ROLE_CLIENT);
    assert_int_equal(tether_pmd_offer(p, out, sizeof out, &len), 0);
    assert_string_equal(out, "permessage-deflate; client_max_window_bits");
    tether_pmd_free(p);
}

/* --- Client: the server's response -------------------------------------- */

/* Accepts `response` on a client with the given preferences; returns the
 * result and leaves the object in *out (freed by the caller). */
static int client_accept(const char *response, int snct, int cnct, int sb, int cb,
                         tether_pmd **out) {
    tether_pmd *p = tether_pmd_new(TETHER_ROLE_CLIENT);
    assert_int_equal(tether_pmd_set_server_no_context_takeover(p, snct), 0);
    assert_int_equal(tether_pmd_set_client_no_context_takeover(p, cnct), 0);
    assert_int_equal(tether_pmd_set_server_max_window_bits(p, sb), 0);
    assert_int_equal(tether_pmd_set_client_max_window_bits(p, cb), 0);
    int rc = tether_pmd_accept(p, response);
    *out = p;
    return rc;
}

static void test_accept_declined(void **state) {
    (void)state;
    tether_pmd *p;
    assert_int_equal(client_accept(NULL, 0, 0, 15, 15, &p), 0);
    assert_int_equal(tether_pmd_enabled(p), 0);
    const uint8_t *o;
    size_t n;
    assert_int_equal(tether_pmd_compress(p, "x", 1, 1, &o, &n), TETHER_E_STATE);
    tether_pmd_free(p);
    assert_int_equal(client_accept("", 0, 0, 15, 15, &p), 0);
    assert_int_equal(tether_pmd_enabled(p), 0);
    tether_pmd_free(p);
    assert_int_equal(client_accept(" , ", 0, 0, 15, 15, &p), 0);
    assert_int_equal(tether_pmd_enabled(p), 0);
    tether_pmd_free(p);
}

/* Every response a default client must take, with what ends up in force. */
static void test_accept_all_combinations(void **state) {
    (void)state;
    /* 0: absent */
    static const int sbits[] = {0, 8, 9, 10, 11, 12, 13, 14, 15};
    static const int cbits[] = {0, 9, 10, 11, 12, 13, 14, 15};
    for (int m = 0; m < 4; m++) {
        for (size_t i = 0; i < sizeof sbits / sizeof sbits[0]; i++) {
            for (size_t j = 0; j < sizeof cbits / sizeof cbits[0]; j++) {
                char r[256] = NAME;
                if (m & 1) add(r, sizeof r, "server_no_context_takeover", 0);
                if (m & 2) add(r, sizeof r, "client_no_context_takeover", 0);
                if (sbits[i]) add(r, sizeof r, "server_max_window_bits", sbits[i]);
                if (cbits[j]) add(r, sizeof r, "client_max_window_bits", cbits[j]);
                tether_pmd *p;
                int rc = client_accept(r, 0, 0, 15, 15, &p);
                if (rc != 0) fail_msg("rc %d for %s", rc, r);
                assert_int_equal(tether_pmd_enabled(p), 1);
                assert_int_equal(tether_pmd_server_no_context_takeover(p), m & 1);
                assert_int_equal(tether_pmd_client_no_context_takeover(p), (m >> 1) & 1);
                assert_int_equal(tether_pmd_server_max_window_bits(p), sbits[i] ? sbits[i] : 15);
                assert_int_equal(tether_pmd_client_max_window_bits(p), cbits[j] ? cbits[j] : 15);
                tether_pmd_free(p);
            }
        }
    }
}

static void expect_refused(const char *response, int snct, int cnct, int sb, int cb) {
    tether_pmd *p;
    int rc = client_accept(response, snct, cnct, sb, cb, &p);
    if (rc != TETHER_E_HS_EXTENSION) fail_msg("rc %d for %s", rc, response);
    assert_int_equal(tether_pmd_enabled(p), 0);
    tether_pmd_free(p);
}

static void test_accept_invalid(void **state) {
    (void)state;
    static const char *bad[] = {
        "x-webkit-deflate-frame",
        NAME ", x-foo",
        NAME ", " NAME,
        NAME "; foo",
        NAME "; foo=1",
        NAME "; server_no_context_takeover; server_no_context_takeover",
        NAME "; client_no_context_takeover; client_no_context_takeover",
        NAME "; server_max_window_bits=10; server_max_window_bits=10",
        NAME "; client_max_window_bits=10; client_max_window_bits=11",
        NAME "; server_no_context_takeover=1",
        NAME "; client_no_context_takeover=\"\"",
        NAME "; server_max_window_bits",
        NAME "; client_max_window_bits", /* a response must give the value */
        NAME "; server_max_window_bits=7",
        NAME "; server_max_window_bits=16",
        NAME "; server_max_window_bits=010",
        NAME "; server_max_window_bits=08",
        NAME "; server_max_window_bits=+9",
        NAME "; server_max_window_bits=9a",
        NAME "; server_max_window_bits=",
        NAME "; server_max_window_bits=\"\"",
        NAME "; client_max_window_bits=7",
        NAME "; client_max_window_bits=16",
        NAME "; client_max_window_bits=010",
        NAME "; client_max_window_bits=8", /* our compressor cannot do 8 */
        NAME "; SERVER_NO_CONTEXT_TAKEOVER",
        "Permessage-Deflate",
        NAME ";",      /* malformed */
        NAME " x",     /* malformed */
        NAME "; a=\"", /* malformed */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_refused(bad[i], 0, 0, 15, 15);
    /* Quoted values are values like any other. */
    tether_pmd *p;
    assert_int_equal(client_accept(NAME "; server_max_window_bits=\"10\"", 0, 0, 15, 15, &p), 0);
    assert_int_equal(tether_pmd_server_max_window_bits(p), 10);
    tether_pmd_free(p);
}

/* What we asked for must be granted; what we allowed may be narrowed. */
static void test_accept_against_offer(void **state) {
    (void)state;
    tether_pmd *p;
    /* server_no_context_takeover requested but not granted. */
    expect_refused(NAME, 1, 0, 15, 15);
    assert_int_equal(client_accept(NAME "; server_no_context_takeover", 1, 0, 15, 15, &p), 0);
    assert_int_equal(tether_pmd_server_no_context_takeover(p), 1);
    tether_pmd_free(p);
    /* server_max_window_bits=10 requested: missing or larger is refused. */
    expect_refused(NAME, 0, 0, 10, 15);
    expect_refused(NAME "; server_max_window_bits=11", 0, 0, 10, 15);
    for (int b = 8; b <= 10; b++) {
        char r[128];
        snprintf(r, sizeof r, NAME "; server_max_window_bits=%d", b);
        assert_int_equal(client_accept(r, 0, 0, 10, 15, &p), 0);
        assert_int_equal(tether_pmd_server_max_window_bits(p), b);
        tether_pmd_free(p);
    }
    /* client_max_window_bits=10 offered: the server may lower it, not to
     * 8; without it in the response, or with a bigger one (Autobahn 13.4.x
     * and 13.6.x servers answer 15), we keep to 10, which is always safe. */
    for (int b = 11; b <= 15; b++) {
        char r[128];
        snprintf(r, sizeof r, NAME "; client_max_window_bits=%d", b);
        assert_int_equal(client_accept(r, 0, 0, 15, 10, &p), 0);
        assert_int_equal(tether_pmd_client_max_window_bits(p), 10);
        tether_pmd_free(p);
    }
    expect_refused(NAME "; client_max_window_bits=8", 0, 0, 15, 10);
    assert_int_equal(client_accept(NAME "; client_max_window_bits=9", 0, 0, 15, 10, &p), 0);
    assert_int_equal(tether_pmd_client_max_window_bits(p), 9);
    tether_pmd_free(p);
    assert_int_equal(client_accept(NAME, 0, 0, 15, 10, &p), 0);
    assert_int_equal(tether_pmd_client_max_window_bits(p), 10);
    tether_pmd_free(p);
    /* client_no_context_takeover: we keep the promise made in the offer
     * whether or not the server echoes it. */
    assert_int_equal(client_accept(NAME, 0, 1, 15, 15, &p), 0);
    assert_int_equal(tether_pmd_client_no_context_takeover(p), 1);
    tether_pmd_free(p);
    /* server_no_context_takeover may come unasked. */
    assert_int_equal(client_accept(NAME "; server_no_context_takeover", 0, 0, 15, 15, &p), 0);
    assert_int_equal(tether_pmd_server_no_context_takeover(p), 1);
    tether_pmd_free(p);
}

/* --- Server ------------------------------------------------------------- */

struct server_prefs {
    int snct, cnct, sb, cb;
};

static tether_pmd *server_new(const struct server_prefs *sp) {
    tether_pmd *p = tether_pmd_new(TETHER_ROLE_SERVER);
    assert_int_equal(tether_pmd_set_server_no_context_takeover(p, sp->snct), 0);
    assert_int_equal(tether_pmd_set_client_no_context_takeover(p, sp->cnct), 0);
    assert_int_equal(tether_pmd_set_server_max_window_bits(p, sp->sb), 0);
    assert_int_equal(tether_pmd_set_client_max_window_bits(p, sp->cb), 0);
    return p;
}

/* One offer: flags, server bits (0 absent), client bits (0 absent, -1 no
 * value). */
struct offer {
    int snct, cnct, sb, cb;
};

static void offer_text(const struct offer *o, char *s, size_t cap) {
    snprintf(s, cap, NAME);
    if (o->snct) add(s, cap, "server_no_context_takeover", 0);
    if (o->cnct) add(s, cap, "client_no_context_takeover", 0);
    if (o->sb) add(s, cap, "server_max_window_bits", o->sb);
    if (o->cb) add(s, cap, "client_max_window_bits", o->cb > 0 ? o->cb : 0);
}

/* The expected response, written from the rules of RFC 7692 section 7 and
 * our policy; returns 0 when the offer must be declined. */
static int expected_response(const struct server_prefs *sp, const struct offer *o, char *s,
                             size_t cap, int in_force[4]) {
    int sb = o->sb ? o->sb : 15, cb = o->cb > 0 ? o->cb : 15;
    if (sb == 8) return 0;                   /* we cannot compress with 8 */
    if (sp->cb < 15 && o->cb == 0) return 0; /* cannot limit the client */
    in_force[0] = o->snct || sp->snct;
    in_force[1] = sp->cnct;
    in_force[2] = sb < sp->sb ? sb : sp->sb;
    in_force[3] = sp->cb < 15 ? (cb < sp->cb ? cb : sp->cb) : 15;
    snprintf(s, cap, NAME);
    if (in_force[0]) add(s, cap, "server_no_context_takeover", 0);
    if (in_force[1]) add(s, cap, "client_no_context_takeover", 0);
    if (o->sb || sp->sb < 15) add(s, cap, "server_max_window_bits", in_force[2]);
    if (sp->cb < 15) add(s, cap, "client_max_window_bits", in_force[3]);
    return 1;
}

static void test_negotiate_all_combinations(void **state) {
    (void)state;
    static const int osb[] = {0, 8, 9, 12, 15}, ocb[] = {0, -1, 8, 10, 15};
    static const int psb[] = {15, 10}, pcb[] = {15, 11};
    size_t accepted = 0, declined = 0;
    for (int pm = 0; pm < 16; pm++) {
        struct server_prefs sp = {pm & 1, (pm >> 1) & 1, psb[(pm >> 2) & 1], pcb[(pm >> 3) & 1]};
        for (int om = 0; om < 4 * 5 * 5; om++) {
            struct offer o = {om & 1, (om >> 1) & 1, osb[(om / 4) % 5], ocb[om / 20]};
            char offer[256], want[256] = "", out[256];
            int force[4];
            size_t len = 99;
            offer_text(&o, offer, sizeof offer);
            int acc = expected_response(&sp, &o, want, sizeof want, force);
            tether_pmd *p = server_new(&sp);
            int rc = tether_pmd_negotiate(p, offer, out, sizeof out, &len);
            if (rc != acc) fail_msg("rc %d want %d for %s (prefs %d)", rc, acc, offer, pm);
            assert_int_equal(tether_pmd_enabled(p), acc);
            if (acc) {
                accepted++;
                assert_string_equal(out, want);
                assert_int_equal(len, strlen(want));
                assert_int_equal(tether_pmd_server_no_context_takeover(p), force[0]);
                assert_int_equal(tether_pmd_client_no_context_takeover(p), force[1]);
                assert_int_equal(tether_pmd_server_max_window_bits(p), force[2]);
                assert_int_equal(tether_pmd_client_max_window_bits(p), force[3]);
            } else {
                declined++;
                assert_string_equal(out, "");
                assert_int_equal(len, 0);
            }
            tether_pmd_free(p);
        }
    }
    assert_true(accepted > 0 && declined > 0);
}

/* Our client's offers, fed to our server, agree on the same parameters. */
static void test_client_server_agree(void **state) {
    (void)state;
    for (int m = 0; m < 64; m++) {
        tether_pmd *c = tether_pmd_new(TETHER_ROLE_CLIENT);
        tether_pmd *s = tether_pmd_new(TETHER_ROLE_SERVER);
        tether_pmd_set_server_no_context_takeover(c, m & 1);
        tether_pmd_set_client_no_context_takeover(c, (m >> 1) & 1);
        tether_pmd_set_server_max_window_bits(c, (m & 4) ? 10 : 15);
        tether_pmd_set_client_max_window_bits(c, (m & 8) ? 12 : 15);
        tether_pmd_set_server_max_window_bits(s, (m & 16) ? 9 : 15);
        tether_pmd_set_client_max_window_bits(s, (m & 32) ? 11 : 15);
        char offer[256], resp[256];
        size_t len;
        assert_int_equal(tether_pmd_offer(c, offer, sizeof offer, &len), 0);
        assert_int_equal(tether_pmd_negotiate(s, offer, resp, sizeof resp, &len), 1);
        assert_int_equal(tether_pmd_accept(c, resp), 0);
        assert_int_equal(tether_pmd_enabled(c), 1);
        assert_int_equal(tether_pmd_server_no_context_takeover(c),
                         tether_pmd_server_no_context_takeover(s));
        assert_int_equal(tether_pmd_server_max_window_bits(c),
                         tether_pmd_server_max_window_bits(s));
        /* The client may keep to a smaller window than the server allows. */
        assert_true(tether_pmd_client_max_window_bits(c) <= tether_pmd_client_max_window_bits(s));
        tether_pmd_free(c);
        tether_pmd_free(s);
    }
}

static int negotiate(const char *offers, const struct server_prefs *sp, char *out, size_t cap) {
    size_t len;
    tether_pmd *p = server_new(sp);
    int rc = tether_pmd_negotiate(p, offers, out, cap, &len);
    tether_pmd_free(p);
    return rc;
}

static void test_negotiate_first_acceptable(void **state) {
    (void)state;
    static const struct server_prefs def = {0, 0, 15, 15}, limit = {0, 0, 15, 10};
    char out[256];
    /* Other extensions skipped; an offer needing 8 bits, one with an unknown
     * parameter and one with a bad value are declined in turn. */
    const char *offers =
        "x-webkit-deflate-frame; max_window_bits=10, " NAME "; server_max_window_bits=8, " NAME
        "; foo, " NAME "; server_max_window_bits=016, " NAME "; server_max_window_bits=12, " NAME
        "; server_no_context_takeover";
    assert_int_equal(negotiate(offers, &def, out, sizeof out), 1);
    assert_string_equal(out, NAME "; server_max_window_bits=12");
    /* The first one wins even when a later one looks nicer. */
    assert_int_equal(
        negotiate(NAME ", " NAME "; server_no_context_takeover", &def, out, sizeof out), 1);
    assert_string_equal(out, NAME);
    /* A server limiting the client's window skips offers that do not let
     * it, and takes the first that does. */
    offers = NAME "; server_no_context_takeover, " NAME "; client_max_window_bits=12, " NAME
                  "; client_max_window_bits";
    assert_int_equal(negotiate(offers, &limit, out, sizeof out), 1);
    assert_string_equal(out, NAME "; client_max_window_bits=10");
    assert_int_equal(negotiate(NAME "; client_max_window_bits=9", &limit, out, sizeof out), 1);
    assert_string_equal(out, NAME "; client_max_window_bits=9");
    assert_int_equal(negotiate(NAME, &limit, out, sizeof out), 0);
    /* Nothing for us at all. */
    assert_int_equal(negotiate("x-foo, x-bar; a=b", &def, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(negotiate("", &def, out, sizeof out), 0);
    size_t len = 5;
    tether_pmd *p = server_new(&def);
    assert_int_equal(tether_pmd_negotiate(p, NULL, out, sizeof out, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(tether_pmd_enabled(p), 0);
    tether_pmd_free(p);
}

static void test_negotiate_invalid_offers(void **state) {
    (void)state;
    static const struct server_prefs def = {0, 0, 15, 15};
    static const char *bad[] = {
        NAME "; foo",
        NAME "; server_no_context_takeover; server_no_context_takeover",
        NAME "; client_no_context_takeover; client_no_context_takeover",
        NAME "; server_max_window_bits=10; server_max_window_bits=10",
        NAME "; client_max_window_bits; client_max_window_bits",
        NAME "; client_max_window_bits=10; client_max_window_bits",
        NAME "; server_no_context_takeover=1",
        NAME "; client_no_context_takeover=x",
        NAME "; server_max_window_bits", /* needs a value */
        NAME "; server_max_window_bits=7",
        NAME "; server_max_window_bits=16",
        NAME "; server_max_window_bits=010",
        NAME "; server_max_window_bits=8", /* valid, but we cannot honour it */
        NAME "; client_max_window_bits=7",
        NAME "; client_max_window_bits=16",
        NAME "; client_max_window_bits=010",
        NAME "; client_max_window_bits=\"\"",
    };
    char out[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (negotiate(bad[i], &def, out, sizeof out) != 0) fail_msg("accepted %s", bad[i]);
        /* Declined, not fatal: a good offer after it is taken. */
        char two[300];
        snprintf(two, sizeof two, "%s, " NAME, bad[i]);
        assert_int_equal(negotiate(two, &def, out, sizeof out), 1);
        assert_string_equal(out, NAME);
    }
    /* A syntactically malformed header is fatal, wherever the fault is. */
    static const char *malformed[] = {NAME ";", NAME ", x y", NAME "; a=\"open", NAME "; =1"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        assert_int_equal(negotiate(malformed[i], &def, out, sizeof out), TETHER_E_HS_EXTENSION);
    /* Quoted values are fine. */
    assert_int_equal(negotiate(NAME "; client_max_window_bits=\"10\"; server_max_window_bits=\"9\"",
                               &def, out, sizeof out),
                     1);
    assert_string_equal(out, NAME "; server_max_window_bits=9");
}

static void test_negotiate_nospc(void **state) {
    (void)state;
    static const struct server_prefs sp = {1, 1, 10, 10};
    const char *offer = NAME "; client_max_window_bits";
    const char *want = NAME "; server_no_context_takeover; client_no_context_takeover; "
                            "server_max_window_bits=10; client_max_window_bits=10";
    char out[256];
    size_t len;
    tether_pmd *p = server_new(&sp);
    assert_int_equal(tether_pmd_negotiate(p, offer, out, strlen(want), &len), TETHER_E_NOSPC);
    assert_int_equal(tether_pmd_enabled(p), 0);
    /* Nothing was committed: a retry with room works. */
    assert_int_equal(tether_pmd_negotiate(p, offer, out, strlen(want) + 1, &len), 1);
    assert_string_equal(out, want);
    tether_pmd_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free_args),
        cmocka_unit_test(test_role_and_state),
        cmocka_unit_test(test_offer_default),
        cmocka_unit_test(test_offer_all_combinations),
        cmocka_unit_test(test_accept_declined),
        cmocka_unit_test(test_accept_all_combinations),
        cmocka_unit_test(test_accept_invalid),
        cmocka_unit_test(test_accept_against_offer),
        cmocka_unit_test(test_negotiate_all_combinations),
        cmocka_unit_test(test_client_server_agree),
        cmocka_unit_test(test_negotiate_first_acceptable),
        cmocka_unit_test(test_negotiate_invalid_offers),
        cmocka_unit_test(test_negotiate_nospc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
