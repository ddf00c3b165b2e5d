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
#include <time.h>

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

void cli_conn_opts_free(struct cli_conn_opts *o) {
    for (size_t i = 0; i < o->nheaders; i++) {
        free(o->headers[i].name);
        free(o->headers[i].value);
    }
    free(o->headers);
    free(o->protocols);
    memset(o, 0, sizeof *o);
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

tether_opts *cli_make_opts(const struct cli_conn_opts *o) {
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
    if (rc != 0) {
        tether_opts_free(t);
        return NULL;
    }
    return t;
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
    default:
        fprintf(stderr, "Try 'tether %s --help'.\n", cmd);
        return CLI_EXIT_USAGE;
    }
}
