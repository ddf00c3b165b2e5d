/*
 * args.c - option parsing helpers and connection options shared by the
 * subcommands of the `tether` tool.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "tether %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'tether %s --help'.\n", cmd);
    return CLI_EXIT_USAGE;
}

uint64_t cli_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* strtoull accepts a sign and leading spaces; a count must be bare digits. */
static int parse_digits(const char *s, uint64_t *out, char **end) {
    if (!isdigit((unsigned char)s[0])) return -1;
    errno = 0;
    unsigned long long v = strtoull(s, end, 10);
    if (errno == ERANGE) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int check_range(const char *opt, const char *s, uint64_t v, uint64_t min, uint64_t max) {
    if (v >= min && v <= max) return 0;
    fprintf(stderr, "tether: %s %s: must be between %llu and %llu\n", opt, s,
            (unsigned long long)min, (unsigned long long)max);
    return -1;
}

int cli_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    char *end = NULL;
    uint64_t v;
    if (parse_digits(s, &v, &end) != 0 || *end != '\0') {
        fprintf(stderr, "tether: %s: '%s' is not a number\n", opt, s);
        return -1;
    }
    if (check_range(opt, s, v, min, max) != 0) return -1;
    *out = v;
    return 0;
}

/* The multiplier for a size suffix (K, M, G, optionally followed by B or
 * iB), 0 if the suffix is not one. */
static uint64_t suffix_scale(const char *end) {
    uint64_t scale;
    if (end[0] == '\0') return 1;
    switch (toupper((unsigned char)end[0])) {
    case 'K':
        scale = 1024u;
        break;
    case 'M':
        scale = 1024u * 1024u;
        break;
    case 'G':
        scale = 1024u * 1024u * 1024u;
        break;
    default:
        return 0;
    }
    end++;
    return (!strcmp(end, "") || !strcmp(end, "B") || !strcmp(end, "iB")) ? scale : 0;
}

int cli_parse_bytes(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    char *end = NULL;
    uint64_t v, scale = 0;
    if (parse_digits(s, &v, &end) == 0) scale = suffix_scale(end);
    if (scale == 0) {
        fprintf(stderr, "tether: %s: '%s' is not a size (e.g. 4096, 64K, 16M)\n", opt, s);
        return -1;
    }
    if (v > UINT64_MAX / scale)
        v = UINT64_MAX; /* so the range check reports it */
    else
        v *= scale;
    if (check_range(opt, s, v, min, max) != 0) return -1;
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *opt, const char *s, double min, double max, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "tether: %s: '%s' must be seconds between %g and %g\n", opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_ms(const char *opt, const char *s, double min, double max, unsigned *ms) {
    double sec;
    if (cli_parse_seconds(opt, s, min, max, &sec) != 0) return -1;
    *ms = (unsigned)(sec * 1000.0 + 0.5);
    /* a positive time must not round to 0, which means "off" */
    if (sec > 0 && *ms == 0) *ms = 1;
    return 0;
}

/* ---- Connection options ---------------------------------------------- */

/* Grows an array of n elements of size sz by one slot; NULL on failure. */
static void *grow(void *arr, size_t n, size_t sz) {
    return realloc(arr, (n + 1) * sz);
}

int cli_add_protocol(struct cli_conn_opts *o, const char *name) {
    const char **p = grow(o->protocols, o->nprotocols, sizeof *p);
    if (!p) return -1;
    p[o->nprotocols++] = name;
    o->protocols = p;
    return 0;
}

int cli_add_header(struct cli_conn_opts *o, const char *line) {
    const char *colon = strchr(line, ':');
    if (!colon || colon == line) {
        fprintf(stderr, "tether: --header '%s': expected \"Name: value\"\n", line);
        return -1;
    }
    const char *v = colon + 1, *vend = v + strlen(v);
    while (*v == ' ' || *v == '\t')
        v++;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;
    struct cli_header *h = grow(o->headers, o->nheaders, sizeof *h);
    if (!h) return -1;
    o->headers = h;
    h = &o->headers[o->nheaders];
    h->name = malloc((size_t)(colon - line) + 1);
    h->value = malloc((size_t)(vend - v) + 1);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return -1;
    }
    memcpy(h->name, line, (size_t)(colon - line));
    h->name[colon - line] = '\0';
    memcpy(h->value, v, (size_t)(vend - v));
    h->value[vend - v] = '\0';
    o->nheaders++;
    return 0;
}

static char *copy_range(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int cli_add_sni(struct cli_conn_opts *o, const char *spec) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || eq[1] == '\0' || eq[1] == ',') {
        fprintf(stderr, "tether: --sni '%s': expected NAME=CERT[,KEY]\n", spec);
        return -1;
    }
    const char *cert = eq + 1, *comma = strchr(cert, ',');
    struct cli_sni *p = grow(o->sni, o->nsni, sizeof *p);
    if (!p) return -1;
    o->sni = p;
    p = &o->sni[o->nsni];
    p->name = copy_range(spec, (size_t)(eq - spec));
    p->cert = copy_range(cert, comma ? (size_t)(comma - cert) : strlen(cert));
    p->key = comma && comma[1] ? copy_range(comma + 1, strlen(comma + 1)) : NULL;
    if (!p->name || !p->cert || (comma && comma[1] && !p->key)) {
        free(p->name);
        free(p->cert);
        free(p->key);
        return -1;
    }
    o->nsni++;
    return 0;
}

void cli_conn_opts_free(struct cli_conn_opts *o) {
    for (size_t i = 0; i < o->nheaders; i++) {
        free(o->headers[i].name);
        free(o->headers[i].value);
    }
    for (size_t i = 0; i < o->nsni; i++) {
        free(o->sni[i].name);
        free(o->sni[i].cert);
        free(o->sni[i].key);
    }
    free(o->sni);
    free(o->headers);
    free(o->protocols);
    memset(o, 0, sizeof *o);
}

int cli_has_tls_opts(const struct cli_conn_opts *o) {
    return o->ca_file || o->ca_dir || o->cert || o->key || o->server_name || o->nsni ||
           o->verify_client || o->tls_flags;
}

/* Prints which setting the library refused; returns rc. */
static int opt_check(int rc, const char *what, const char *value) {
    if (rc < 0) fprintf(stderr, "tether: %s '%s': %s\n", what, value, tether_strerror(rc));
    return rc;
}

static int apply_limits(tether_opts *t, uint64_t max) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)max);
    /* A frame can never usefully exceed the message limit, and the frame
     * limit's own default (16 MiB) must not cap a larger --max-message. */
    if (opt_check(tether_opts_set_max_message(t, max), "--max-message", buf) < 0) return -1;
    return opt_check(tether_opts_set_max_frame(t, max), "--max-message", buf) < 0 ? -1 : 0;
}

/* ---- Logging ----------------------------------------------------------- */

static const char *const level_names[] = {"none", "error", "warn", "notice", "info", "debug"};

static void log_line(int level, const char *line, void *user) {
    (void)user;
    const char *name = level > 0 && level <= TETHER_LOG_DEBUG ? level_names[level] : "log";
    fprintf(stderr, "tether: %s: %s\n", name, line);
}

static int parse_log_level(const char *s, int *out) {
    for (int i = 0; i <= TETHER_LOG_DEBUG; i++) {
        char digit[2] = {(char)('0' + i), '\0'};
        if (!strcasecmp(s, level_names[i]) || !strcmp(s, digit)) {
            *out = i;
            return 0;
        }
    }
    if (!strcasecmp(s, "warning")) {
        *out = TETHER_LOG_WARN;
        return 0;
    }
    fprintf(stderr,
            "tether: --log-level '%s': expected none, error, warn, notice, info, debug or 0-5\n",
            s);
    return -1;
}

/* ---- Building the options ------------------------------------------------ */

/* A file the library will read must exist and be readable: say which one
 * is not, rather than a bare TLS configuration error later. */
static int readable(const char *opt, const char *path, int dir) {
    if (access(path, dir ? R_OK | X_OK : R_OK) == 0) return 0;
    fprintf(stderr, "tether: %s %s: %s\n", opt, path, strerror(errno));
    return -1;
}

static int check_files(const struct cli_conn_opts *o) {
    int rc = 0;
    if (o->ca_file) rc |= readable("--ca", o->ca_file, 0);
    if (o->ca_dir) rc |= readable("--ca-dir", o->ca_dir, 1);
    if (o->cert) rc |= readable("--cert", o->cert, 0);
    if (o->key) rc |= readable("--key", o->key, 0);
    for (size_t i = 0; i < o->nsni; i++) {
        rc |= readable("--sni", o->sni[i].cert, 0);
        if (o->sni[i].key) rc |= readable("--sni", o->sni[i].key, 0);
    }
    return rc ? -1 : 0;
}

static int apply_tls(tether_opts *t, const struct cli_conn_opts *o) {
    int rc = 0;
    if (o->ca_file || o->ca_dir)
        rc = opt_check(tether_opts_set_tls_ca(t, o->ca_file, o->ca_dir), "--ca",
                       o->ca_file ? o->ca_file : o->ca_dir);
    if (rc == 0 && o->cert)
        rc = opt_check(tether_opts_set_tls_cert(t, o->cert, o->key), "--cert", o->cert);
    for (size_t i = 0; rc == 0 && i < o->nsni; i++)
        rc = opt_check(
            tether_opts_add_tls_sni_cert(t, o->sni[i].name, o->sni[i].cert, o->sni[i].key), "--sni",
            o->sni[i].name);
    if (rc == 0 && o->verify_client)
        rc = opt_check(tether_opts_set_tls_verify_client(t, o->verify_client),
                       o->verify_client == 2 ? "--require-client-cert" : "--verify-client", "");
    if (rc == 0 && o->tls_flags)
        rc = opt_check(tether_opts_set_tls_flags(t, o->tls_flags), "TLS flags", "");
    if (rc == 0 && o->server_name)
        rc = opt_check(tether_opts_set_tls_server_name(t, o->server_name), "--server-name",
                       o->server_name);
    return rc;
}

static int apply_deflate(tether_opts *t, const struct cli_conn_opts *o) {
    char buf[32];
    if (!o->deflate) return 0;
    int rc = opt_check(tether_opts_set_deflate(t, 1), "--deflate", "");
    if (rc == 0 && (o->nct_server || o->nct_client))
        rc = opt_check(tether_opts_set_deflate_no_context_takeover(t, o->nct_server, o->nct_client),
                       "--deflate-no-context-takeover", "");
    if (rc == 0 && o->wbits_set) {
        snprintf(buf, sizeof buf, "%d,%d", o->wbits_server, o->wbits_client);
        rc = opt_check(tether_opts_set_deflate_window_bits(t, o->wbits_server, o->wbits_client),
                       "--deflate-window-bits", buf);
    }
    if (rc == 0 && o->level >= 0) {
        snprintf(buf, sizeof buf, "%d", o->level);
        rc = opt_check(tether_opts_set_deflate_level(t, o->level), "--deflate-level", buf);
    }
    if (rc == 0 && o->mem_level >= 0) {
        snprintf(buf, sizeof buf, "%d", o->mem_level);
        rc = opt_check(tether_opts_set_deflate_mem_level(t, o->mem_level), "--deflate-mem-level",
                       buf);
    }
    if (rc == 0 && o->threshold >= 0) {
        snprintf(buf, sizeof buf, "%lld", (long long)o->threshold);
        rc = opt_check(tether_opts_set_deflate_threshold(t, (size_t)o->threshold),
                       "--deflate-threshold", buf);
    }
    return rc;
}

tether_opts *cli_make_opts(const struct cli_conn_opts *o, int verbose) {
    int level = o->log_level >= 0 ? o->log_level : verbose ? TETHER_LOG_WARN : TETHER_LOG_ERROR;
    tether_set_log_callback(log_line, NULL);
    tether_set_log_level(level);
    if (check_files(o) != 0) return NULL;
    tether_opts *t = tether_opts_new();
    if (!t) {
        fprintf(stderr, "tether: out of memory\n");
        return NULL;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->nprotocols; i++)
        rc = opt_check(tether_opts_add_protocol(t, o->protocols[i]), "--protocol", o->protocols[i]);
    for (size_t i = 0; rc == 0 && i < o->nheaders; i++)
        rc = opt_check(tether_opts_add_header(t, o->headers[i].name, o->headers[i].value),
                       "--header", o->headers[i].name);
    if (rc == 0 && o->origin)
        rc = opt_check(tether_opts_set_origin(t, o->origin), "--origin", o->origin);
    if (rc == 0 && o->max_message) rc = apply_limits(t, o->max_message);
    if (rc == 0) rc = apply_tls(t, o);
    if (rc == 0) rc = apply_deflate(t, o);
    if (rc != 0) {
        tether_opts_free(t);
        return NULL;
    }
    return t;
}

void cli_report_start_error(const char *cmd, int rc) {
    if (rc == TETHER_E_TLS_CONFIG)
        fprintf(stderr, "tether %s: TLS configuration: %s (the line above says which file)\n", cmd,
                tether_strerror(rc));
    else if (rc == TETHER_E_UNSUPPORTED)
        fprintf(stderr, "tether %s: %s: this libtether was built without TLS\n", cmd,
                tether_strerror(rc));
    else
        fprintf(stderr, "tether %s: %s\n", cmd, tether_strerror(rc));
}

/* ---- Shared options ------------------------------------------------------ */

/* --deflate-no-context-takeover server|client|both */
static int parse_nct(const char *arg, struct cli_conn_opts *o) {
    if (!strcmp(arg, "server") || !strcmp(arg, "both")) o->nct_server = 1;
    if (!strcmp(arg, "client") || !strcmp(arg, "both")) o->nct_client = 1;
    if (o->nct_server || o->nct_client) return 0;
    fprintf(stderr, "tether: --deflate-no-context-takeover '%s': expected server, client or both\n",
            arg);
    return -1;
}

/* One window size: 0 (no limit) or 9..15 (what the library takes: zlib cannot deflate raw with 8).
 */
static int parse_wbits(const char *s, int *out) {
    char *end = NULL;
    uint64_t v;
    if (parse_digits(s, &v, &end) != 0 || (*end != '\0' && *end != ',') ||
        (v != 0 && (v < 9 || v > 15)))
        return -1;
    *out = (int)v;
    return 0;
}

/* --deflate-window-bits SERVER[,CLIENT] */
static int parse_window_bits(const char *arg, struct cli_conn_opts *o) {
    const char *comma = strchr(arg, ',');
    int server = 0, client = 0;
    if (parse_wbits(arg, &server) == 0 && (!comma || parse_wbits(comma + 1, &client) == 0)) {
        o->wbits_server = server;
        o->wbits_client = client;
        o->wbits_set = 1;
        return 0;
    }
    fprintf(stderr,
            "tether: --deflate-window-bits '%s': expected SERVER[,CLIENT], each 9..15 or 0 "
            "(no limit)\n",
            arg);
    return -1;
}

static int take_deflate_option(struct cli_conn_opts *o, int opt, const char *arg) {
    uint64_t v;
    int rc = 0;
    o->deflate = 1; /* every --deflate* option implies --deflate */
    switch (opt) {
    case CLI_OPT_DEFLATE_NCT:
        rc = parse_nct(arg, o);
        break;
    case CLI_OPT_DEFLATE_WBITS:
        rc = parse_window_bits(arg, o);
        break;
    case CLI_OPT_DEFLATE_LEVEL:
        if ((rc = cli_parse_uint("--deflate-level", arg, 0, 9, &v)) == 0) o->level = (int)v;
        break;
    case CLI_OPT_DEFLATE_MEM:
        if ((rc = cli_parse_uint("--deflate-mem-level", arg, 1, 9, &v)) == 0) o->mem_level = (int)v;
        break;
    case CLI_OPT_DEFLATE_THRESHOLD:
        if ((rc = cli_parse_bytes("--deflate-threshold", arg, 0, INT64_MAX, &v)) == 0)
            o->threshold = (int64_t)v;
        break;
    default:
        break;
    }
    return rc == 0 ? 0 : CLI_EXIT_USAGE;
}

int cli_take_shared_option(const char *cmd, const char *usage, struct cli_conn_opts *conn,
                           int *verbose, int opt, const char *arg) {
    switch (opt) {
    case 'r':
        return cli_add_protocol(conn, arg) == 0 ? 0 : CLI_EXIT_FAIL;
    case 'm':
        return cli_parse_bytes("--max-message", arg, 1, UINT64_MAX, &conn->max_message) == 0
                   ? 0
                   : CLI_EXIT_USAGE;
    case 'v':
        *verbose = 1;
        return 0;
    case 'h':
        fputs(usage, stdout);
        return -1;
    case CLI_OPT_CA:
        conn->ca_file = arg;
        return 0;
    case CLI_OPT_CERT:
        conn->cert = arg;
        return 0;
    case CLI_OPT_KEY:
        conn->key = arg;
        return 0;
    case CLI_OPT_DEFLATE:
    case CLI_OPT_DEFLATE_NCT:
    case CLI_OPT_DEFLATE_WBITS:
    case CLI_OPT_DEFLATE_LEVEL:
    case CLI_OPT_DEFLATE_MEM:
    case CLI_OPT_DEFLATE_THRESHOLD:
        return take_deflate_option(conn, opt, arg);
    case CLI_OPT_LOG_LEVEL:
        return parse_log_level(arg, &conn->log_level) == 0 ? 0 : CLI_EXIT_USAGE;
    default:
        fprintf(stderr, "Try 'tether %s --help'.\n", cmd);
        return CLI_EXIT_USAGE;
    }
}

int cli_check_shared_options(const char *cmd, const struct cli_conn_opts *o) {
    if (o->key && !o->cert) return cli_usage_error(cmd, "--key needs --cert");
    return -1;
}

void cli_raise_fd_limit(uint64_t want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : (rlim_t)want;
    setrlimit(RLIMIT_NOFILE, &rl);
}
