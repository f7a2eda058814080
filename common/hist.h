/*
 * hist.h -- log-linear latency histogram.
 *
 * Values (microseconds, bytes, anything non-negative) fall into buckets of
 * 128 linear steps per power of two, so a reported percentile is within
 * 1/256 (0.4%) of a value actually recorded; values below 128 are exact.
 * The whole 64-bit range is covered. Histograms of the same layout merge by
 * adding counts, which is how per-thread histograms become one report.
 * A histogram is plain memory (about 58 KiB): no allocation, no locking;
 * hist_record_atomic() exists for the rare shared one.
 */
#ifndef CAIRN_COMMON_HIST_H
#define CAIRN_COMMON_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS) /* 128 */
#define HIST_NBUCKETS (HIST_SUB + (64 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
    uint64_t count; /* values recorded */
    uint64_t min;   /* smallest value recorded (UINT64_MAX when empty) */
    uint64_t max;   /* largest value recorded (0 when empty) */
    uint64_t sum;   /* sum of values, wrapping; for the mean */
    uint64_t buckets[HIST_NBUCKETS];
};

/* hist_init -- make `h` empty. */
void hist_init(struct hist *h);

/* hist_record -- add one value. Not thread-safe. */
void hist_record(struct hist *h, uint64_t v);

/* hist_record_atomic -- add one value; safe against concurrent records. */
void hist_record_atomic(struct hist *h, uint64_t v);

/* hist_merge -- add every count of `src` into `dst`. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * hist_percentile -- the value at percentile `p` (0 < p <= 100) by nearest
 * rank: the smallest recorded value v such that at least p% of the values
 * are <= v, within 0.4%. 0 for an empty histogram; p = 100 gives the max.
 */
uint64_t hist_percentile(const struct hist *h, double p);

/* hist_mean -- arithmetic mean (0 when empty). */
double hist_mean(const struct hist *h);

/* hist_bucket_of -- the bucket index of `v` (exposed for tests). */
unsigned hist_bucket_of(uint64_t v);

/* hist_bucket_low, hist_bucket_high -- the inclusive value range of `i`. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);

#endif /* CAIRN_COMMON_HIST_H */
