/* TLS options: stored as given, checked for shape here; files are read
 * only when a connection or listener is made. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

/* Replaces *slot with a copy of s (NULL clears it). */
static int tt_set_str(char **slot, const char *s) {
    char *dup = NULL;
    if (s && !(dup = strdup(s))) return TETHER_E_NOMEM;
    free(*slot);
    *slot = dup;
    return 0;
}

void tt_tls_opts_free(tt_tls_opts *t) {
    free(t->ca_file);
    free(t->ca_dir);
    free(t->cert);
    free(t->key);
    free(t->server_name);
    for (size_t i = 0; i < t->nsni; i++) {
        free(t->sni[i].name);
        free(t->sni[i].cert);
        free(t->sni[i].key);
    }
    free(t->sni);
    memset(t, 0, sizeof *t);
}

static int tt_sni_push(tt_tls_opts *t, const char *name, const char *cert, const char *key) {
    tt_tls_sni *v = realloc(t->sni, (t->nsni + 1) * sizeof *v);
    if (!v) return TETHER_E_NOMEM;
    t->sni = v;
    tt_tls_sni *e = &v[t->nsni];
    memset(e, 0, sizeof *e);
    if (tt_set_str(&e->name, name) || tt_set_str(&e->cert, cert) || tt_set_str(&e->key, key)) {
        free(e->name);
        free(e->cert);
        free(e->key);
        return TETHER_E_NOMEM;
    }
    t->nsni++;
    return 0;
}

int tt_tls_opts_copy(tt_tls_opts *dst, const tt_tls_opts *src) {
    memset(dst, 0, sizeof *dst);
    dst->verify_client = src->verify_client;
    dst->flags = src->flags;
    int rc = tt_set_str(&dst->ca_file, src->ca_file);
    if (!rc) rc = tt_set_str(&dst->ca_dir, src->ca_dir);
    if (!rc) rc = tt_set_str(&dst->cert, src->cert);
    if (!rc) rc = tt_set_str(&dst->key, src->key);
    if (!rc) rc = tt_set_str(&dst->server_name, src->server_name);
    for (size_t i = 0; i < src->nsni && !rc; i++)
        rc = tt_sni_push(dst, src->sni[i].name, src->sni[i].cert, src->sni[i].key);
    if (rc) tt_tls_opts_free(dst);
    return rc;
}

int tether_opts_set_tls_ca(tether_opts *o, const char *ca_file, const char *ca_dir) {
    if (!o) return TETHER_E_INVAL;
    int rc = tt_set_str(&o->tls.ca_file, ca_file);
    return rc ? rc : tt_set_str(&o->tls.ca_dir, ca_dir);
}

int tether_opts_set_tls_cert(tether_opts *o, const char *cert_file, const char *key_file) {
    if (!o) return TETHER_E_INVAL;
    if (!cert_file && key_file) return TETHER_E_INVAL;
    int rc = tt_set_str(&o->tls.cert, cert_file);
    return rc ? rc : tt_set_str(&o->tls.key, key_file);
}

int tether_opts_add_tls_sni_cert(tether_opts *o, const char *server_name, const char *cert_file,
                                 const char *key_file) {
    if (!o || !server_name || !*server_name || !cert_file) return TETHER_E_INVAL;
    return tt_sni_push(&o->tls, server_name, cert_file, key_file);
}

int tether_opts_set_tls_verify_client(tether_opts *o, int mode) {
    if (!o || mode < 0 || mode > 2) return TETHER_E_INVAL;
    o->tls.verify_client = mode;
    return 0;
}

int tether_opts_set_tls_flags(tether_opts *o, unsigned flags) {
    unsigned all = TETHER_TLS_ALLOW_SELFSIGNED | TETHER_TLS_SKIP_HOSTNAME_CHECK |
                   TETHER_TLS_ALLOW_EXPIRED | TETHER_TLS_INSECURE;
    if (!o || (flags & ~all)) return TETHER_E_INVAL;
    o->tls.flags = flags;
    return 0;
}

int tether_opts_set_tls_server_name(tether_opts *o, const char *name) {
    if (!o || (name && (!*name || strpbrk(name, " \r\n")))) return TETHER_E_INVAL;
    return tt_set_str(&o->tls.server_name, name);
}
