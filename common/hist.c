/*
 * hist.c -- log-linear histogram (see hist.h).
 *
 * Bucket layout: values 0..127 have a bucket each. A value v >= 128 with
 * highest set bit e (7..63) keeps its top 8 bits: with shift = e - 7,
 * v >> shift lies in [128, 255], and the bucket is
 * 128 + (e - 7) * 128 + ((v >> shift) - 128). Every bucket of exponent e
 * spans 2^shift values starting at least at 128 * 2^shift, so its middle
 * is within 1/256 of anything in it.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned hist_bucket_of(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - HIST_SUB_BITS;
    return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB +
           (unsigned)((v >> shift) - HIST_SUB);
}

uint64_t hist_bucket_low(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned shift = (i - HIST_SUB) / HIST_SUB;
    uint64_t top = HIST_SUB + (i - HIST_SUB) % HIST_SUB;
    return top << shift;
}

uint64_t hist_bucket_high(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned shift = (i - HIST_SUB) / HIST_SUB;
    return hist_bucket_low(i) + ((UINT64_C(1) << shift) - 1);
}

void hist_record(struct hist *h, uint64_t v)
{
    h->buckets[hist_bucket_of(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_record_atomic(struct hist *h, uint64_t v)
{
    uint64_t cur;

    __atomic_fetch_add(&h->buckets[hist_bucket_of(v)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum, v, __ATOMIC_RELAXED);
    cur = __atomic_load_n(&h->min, __ATOMIC_RELAXED);
    while (v < cur &&
           !__atomic_compare_exchange_n(&h->min, &cur, v, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
    cur = __atomic_load_n(&h->max, __ATOMIC_RELAXED);
    while (v > cur &&
           !__atomic_compare_exchange_n(&h->max, &cur, v, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_NBUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    uint64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        seen += h->buckets[i];
        if (seen < rank)
            continue;
        /* The middle of the bucket, but never outside what was seen. */
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        uint64_t mid = lo + (hi - lo) / 2;
        if (mid < h->min)
            mid = h->min;
        if (mid > h->max)
            mid = h->max;
        return mid;
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
