/*
 * hist.c - the fixed-size latency histogram used by `tether bench`.
 */
#include <string.h>

#include "cli.h"

void cli_hist_reset(struct cli_hist *h) {
    memset(h, 0, sizeof *h);
}

/* Index of the highest set bit of v (v > 0). */
static unsigned top_bit(uint64_t v) {
    unsigned e = 0;
    while (v >>= 1)
        e++;
    return e;
}

/* Values below CLI_HIST_EXACT get a bucket each; above, a value's bucket is
 * named by its power of two and the SUB_BITS bits below its top bit. */
static size_t bucket_of(uint64_t us) {
    if (us < CLI_HIST_EXACT) return (size_t)us;
    unsigned e = top_bit(us);
    uint64_t sub = (us >> (e - CLI_HIST_SUB_BITS)) & ((1u << CLI_HIST_SUB_BITS) - 1u);
    return CLI_HIST_EXACT + (size_t)(e - CLI_HIST_SUB_BITS - 1u) * (1u << CLI_HIST_SUB_BITS) +
           (size_t)sub;
}

/* The largest value that falls in bucket i. */
static uint64_t bucket_top(size_t i) {
    if (i < CLI_HIST_EXACT) return (uint64_t)i;
    size_t k = i - CLI_HIST_EXACT;
    unsigned e = (unsigned)(k >> CLI_HIST_SUB_BITS) + CLI_HIST_SUB_BITS + 1u;
    uint64_t m = (1u << CLI_HIST_SUB_BITS) + (k & ((1u << CLI_HIST_SUB_BITS) - 1u));
    /* For the very last bucket (m + 1) << shift wraps to 0, and 0 - 1 is
     * UINT64_MAX, which is its top indeed. */
    return ((m + 1u) << (e - CLI_HIST_SUB_BITS)) - 1u;
}

void cli_hist_record(struct cli_hist *h, uint64_t us) {
    h->buckets[bucket_of(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max) h->max = us;
}

uint64_t cli_hist_percentile(const struct cli_hist *h, double p) {
    if (h->count == 0) return 0;
    /* The rank of the value sought, 1-based: ceil(p% of count), at least 1. */
    uint64_t rank = (uint64_t)((double)h->count * p / 100.0);
    if ((double)rank < (double)h->count * p / 100.0) rank++;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < CLI_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
