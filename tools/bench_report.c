/* What `tether bench` measured: throughput, latency percentiles from the
 * histogram, this process's CPU, and the wire bytes per payload byte (the
 * compression ratio), as text or as one JSON object. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "bench.h"

static double tv_seconds(struct timeval a, struct timeval b) {
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

struct results {
    double secs, msgs_per_s, mb_per_s, cpu_user, cpu_sys, cpu_pct, mean_us;
    double wire_ratio; /* bytes received / payload bytes echoed; < 0: unknown */
    uint64_t p50, p90, p99, max;
};

static void compute(const struct bench *b, struct results *r) {
    r->secs = (double)(b->t1 - b->t0) / 1e9;
    if (r->secs <= 0) r->secs = 1e-9;
    r->msgs_per_s = (double)b->messages / r->secs;
    r->mb_per_s = (double)b->bytes / r->secs / 1e6;
    r->wire_ratio = -1;
    /* A connection that closed during the measurement took its counts with
     * it: then the totals say nothing. */
    if (b->wire_ok && b->bytes && !b->closed_early && b->wire_rx1 >= b->wire_rx0 &&
        b->wire_tx1 >= b->wire_tx0)
        r->wire_ratio = (double)(b->wire_rx1 - b->wire_rx0) / (double)b->bytes;
    r->cpu_user = tv_seconds(b->ru0.ru_utime, b->ru1.ru_utime);
    r->cpu_sys = tv_seconds(b->ru0.ru_stime, b->ru1.ru_stime);
    r->cpu_pct = (r->cpu_user + r->cpu_sys) / r->secs * 100.0;
    r->mean_us = b->hist.count ? (double)b->hist.sum / (double)b->hist.count : 0.0;
    r->p50 = cli_hist_percentile(&b->hist, 50);
    r->p90 = cli_hist_percentile(&b->hist, 90);
    r->p99 = cli_hist_percentile(&b->hist, 99);
    r->max = b->hist.max;
}

/* The mean message size: --size, or the corpus's. */
static double mean_size(const struct bench *b) {
    if (!b->a->corpus) return (double)b->a->size;
    double total = 0;
    for (size_t i = 0; i < b->nmsgs; i++)
        total += (double)b->msgs[i].len;
    return total / (double)b->nmsgs;
}

static void print_text(const struct bench *b, const struct results *r) {
    const struct bench_args *a = b->a;
    printf("connections  %llu (%zu open when measuring began)\n",
           (unsigned long long)a->connections, b->open_at_start);
    if (a->corpus)
        printf("corpus       %s: %zu messages, %.1f bytes on average, %s\n", a->corpus, b->nmsgs,
               mean_size(b), a->binary ? "binary" : "text");
    else
        printf("size         %llu bytes, %s\n", (unsigned long long)a->size,
               a->binary ? "binary" : "text");
    printf("depth        %llu\n", (unsigned long long)a->depth);
    if (b->tls_version[0]) printf("tls          %s %s\n", b->tls_version, b->tls_cipher);
    if (a->conn.deflate)
        printf("extensions   %s\n", b->extensions[0] ? b->extensions : "(none negotiated)");
    printf("duration     %.2f s (after %.2f s of warm-up)\n", r->secs, a->warmup);
    printf("messages     %llu (%.0f messages/s)\n", (unsigned long long)b->messages, r->msgs_per_s);
    printf("throughput   %.2f MB/s of payload echoed\n", r->mb_per_s);
    if (r->wire_ratio >= 0)
        printf("wire         %llu bytes received, %llu sent (received / payload: %.4f)\n",
               (unsigned long long)(b->wire_rx1 - b->wire_rx0),
               (unsigned long long)(b->wire_tx1 - b->wire_tx0), r->wire_ratio);
    printf("latency us   p50 %llu  p90 %llu  p99 %llu  max %llu  mean %.1f\n",
           (unsigned long long)r->p50, (unsigned long long)r->p90, (unsigned long long)r->p99,
           (unsigned long long)r->max, r->mean_us);
    printf("bench cpu    user %.2f s  sys %.2f s  (%.0f%% of one core)\n", r->cpu_user, r->cpu_sys,
           r->cpu_pct);
    printf("errors       %zu failed to connect, %zu closed early, %llu send errors, "
           "%llu bad echoes\n",
           b->failed, b->closed_early, (unsigned long long)b->send_errors,
           (unsigned long long)b->bad_echoes);
}

/* Prints "key":"value", for strings that need no escaping (names from
 * OpenSSL and extension headers; a corpus path is printed as given). */
static void json_string(const char *key, const char *value) {
    printf("\"%s\":\"", key);
    for (const char *p = value; *p; p++)
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p >= 0x20)
            putchar(*p);
    printf("\",");
}

static void print_json(const struct bench *b, const struct results *r) {
    const struct bench_args *a = b->a;
    printf("{\"connections\":%llu,\"open\":%zu,", (unsigned long long)a->connections,
           b->open_at_start);
    if (a->corpus) /* the mean size */
        printf("\"size\":%.1f,", mean_size(b));
    else
        printf("\"size\":%llu,", (unsigned long long)a->size);
    printf("\"depth\":%llu,\"binary\":%s,"
           "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"messages\":%llu,\"messages_per_s\":%.1f,"
           "\"mb_per_s\":%.3f,\"payload_bytes\":%llu,",
           (unsigned long long)a->depth, a->binary ? "true" : "false", r->secs, a->warmup,
           (unsigned long long)b->messages, r->msgs_per_s, r->mb_per_s,
           (unsigned long long)b->bytes);
    if (r->wire_ratio >= 0)
        printf("\"wire_rx_bytes\":%llu,\"wire_tx_bytes\":%llu,\"wire_ratio\":%.5f,",
               (unsigned long long)(b->wire_rx1 - b->wire_rx0),
               (unsigned long long)(b->wire_tx1 - b->wire_tx0), r->wire_ratio);
    if (a->corpus) {
        json_string("corpus", a->corpus);
        printf("\"corpus_messages\":%zu,", b->nmsgs);
    }
    json_string("tls_version", b->tls_version);
    json_string("tls_cipher", b->tls_cipher);
    json_string("extensions", b->extensions);
    printf("\"latency_p50_us\":%llu,\"latency_p90_us\":%llu,\"latency_p99_us\":%llu,"
           "\"latency_max_us\":%llu,\"latency_mean_us\":%.1f,",
           (unsigned long long)r->p50, (unsigned long long)r->p90, (unsigned long long)r->p99,
           (unsigned long long)r->max, r->mean_us);
    printf("\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_percent\":%.1f,"
           "\"failed\":%zu,\"closed_early\":%zu,\"send_errors\":%llu,\"bad_echoes\":%llu}\n",
           r->cpu_user, r->cpu_sys, r->cpu_pct, b->failed, b->closed_early,
           (unsigned long long)b->send_errors, (unsigned long long)b->bad_echoes);
}

int bench_report(const struct bench *b) {
    if (b->opened == 0) {
        fprintf(stderr, "tether bench: no connection opened: %s\n", b->first_error);
        return CLI_EXIT_FAIL;
    }
    if (b->t1 == 0) { /* every connection closed during the warm-up */
        fprintf(stderr, "tether bench: all connections closed before measuring: %s\n",
                b->first_error);
        return CLI_EXIT_FAIL;
    }
    struct results r;
    compute(b, &r);
    if (b->a->json)
        print_json(b, &r);
    else
        print_text(b, &r);
    fflush(stdout);
    if (b->failed || b->closed_early) {
        fprintf(stderr, "tether bench: first error: %s\n", b->first_error);
        return CLI_EXIT_FAIL;
    }
    if (b->a->conn.deflate && !strstr(b->extensions, "permessage-deflate")) {
        fprintf(stderr, "tether bench: the server did not accept permessage-deflate\n");
        return CLI_EXIT_FAIL;
    }
    return b->messages ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
