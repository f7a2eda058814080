/*
 * history.c -- the LWW register history checker (see history.h).
 *
 * Check: group writes and reads by key. Per key, sort the acknowledged
 * writes by end time and keep a running maximum of their start times, so
 * for a read R, M(R) = the latest start of any write acknowledged before
 * R started is one binary search. A value read from write X is stale iff
 * X was acknowledged and X.end < M(R) (strictly: X ended before some W
 * began, and W ended before R began). O((W + R) log W).
 */
#include "tests/coord/history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

struct hop {
    uint8_t *key;
    size_t klen;
    uint64_t value; /* writes: unique id; reads: what was returned */
    int is_delete;
    int is_read;
    int64_t start, end;
    enum history_outcome outcome;
};

struct history {
    struct hop *ops;
    size_t n, cap;
    size_t nwrites, nreads;
};

int history_new(struct history **out)
{
    *out = mem_calloc(MEM_TEST, 1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void history_free(struct history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        mem_free(h->ops[i].key);
    mem_free(h->ops);
    mem_free(h);
}

static int add(struct history *h, const void *key, size_t klen, struct hop *op)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct hop *v = mem_realloc(MEM_TEST, h->ops, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        h->ops = v;
        h->cap = cap;
    }
    op->key = mem_alloc(MEM_TEST, klen + 1);
    if (!op->key)
        return -ENOMEM;
    memcpy(op->key, key, klen);
    op->klen = klen;
    h->ops[h->n++] = *op;
    return 0;
}

int history_write_begin(struct history *h, const void *key, size_t klen,
                        uint64_t value, int is_delete, int64_t t, size_t *op)
{
    struct hop w = {
        .value = value, .is_delete = is_delete, .start = t, .end = INT64_MAX};

    if (value == 0)
        return err_set(-EINVAL, "history: write value 0 is reserved");
    *op = h->n;
    h->nwrites++;
    return add(h, key, klen, &w);
}

void history_write_end(struct history *h, size_t op, int64_t t,
                       enum history_outcome outcome)
{
    struct hop *w = &h->ops[op];

    w->outcome = outcome;
    /* Only an acknowledgement bounds when a write took effect. */
    w->end = outcome == HISTORY_OK ? t : INT64_MAX;
}

int history_read(struct history *h, const void *key, size_t klen,
                 int64_t t_start, int64_t t_end, uint64_t value)
{
    struct hop r = {.value = value,
                    .is_read = 1,
                    .start = t_start,
                    .end = t_end,
                    .outcome = HISTORY_OK};

    h->nreads++;
    return add(h, key, klen, &r);
}

void history_counts(const struct history *h, size_t *writes, size_t *reads)
{
    *writes = h->nwrites;
    *reads = h->nreads;
}

/* ---- check ---- */

static int key_cmp(const struct hop *a, const struct hop *b)
{
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n ? memcmp(a->key, b->key, n) : 0;

    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

static int by_key_ptr(const void *pa, const void *pb)
{
    const struct hop *a = *(const struct hop *const *)pa;
    const struct hop *b = *(const struct hop *const *)pb;
    int c = key_cmp(a, b);

    return c ? c : (a > b) - (a < b);
}

static int by_end(const void *pa, const void *pb)
{
    const struct hop *a = *(const struct hop *const *)pa;
    const struct hop *b = *(const struct hop *const *)pb;

    return (a->end > b->end) - (a->end < b->end);
}

/* Per key: acknowledged writes by end, with prefix max of starts. */
struct keyview {
    const struct hop **acked;
    int64_t *maxstart;
    size_t nacked;
    const struct hop **writes;
    size_t nwrites;
};

/* latest_start -- M(R): the latest start of a write acked before t. */
static int64_t latest_start(const struct keyview *kv, int64_t t,
                            const struct hop **who)
{
    size_t lo = 0, hi = kv->nacked;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kv->acked[mid]->end < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    *who = NULL;
    if (lo == 0)
        return INT64_MIN;
    for (size_t i = 0; i < lo; i++) /* name the witness for messages */
        if (kv->acked[i]->start == kv->maxstart[lo - 1])
            *who = kv->acked[i];
    return kv->maxstart[lo - 1];
}

/* explains -- may write `x` be what read `r` saw? */
static int explains(const struct hop *x, const struct hop *r, int64_t m)
{
    if (x->outcome == HISTORY_FAILED || x->start >= r->end)
        return 0;
    return !(x->outcome == HISTORY_OK && x->end < m);
}

static int check_read(const struct keyview *kv, const struct hop *r, char *why,
                      size_t whylen)
{
    const struct hop *w;
    int64_t m = latest_start(kv, r->start, &w);
    const struct hop *x = NULL;

    for (size_t i = 0; i < kv->nwrites; i++) {
        const struct hop *c = kv->writes[i];
        if (r->value ? c->value == r->value && !c->is_delete
                     : c->is_delete && explains(c, r, m))
            x = c;
    }
    if (r->value == 0 && (x || m == INT64_MIN))
        return 0; /* a delete or the initial state explains it */
    if (x && explains(x, r, m))
        return 0;
    snprintf(why, whylen,
             "key=%.*s read [%" PRId64 ", %" PRId64 "] returned %" PRIu64
             "%s; write %" PRIu64 " [%" PRId64 ", %" PRId64
             "] was acknowledged before the read began",
             (int)r->klen, (const char *)r->key, r->start, r->end, r->value,
             x ? (x->outcome == HISTORY_FAILED ? " (a failed write)"
                  : x->start >= r->end         ? " (written after the read)"
                                               : " (replaced before)")
               : (r->value ? " (never written)" : " (nothing)"),
             w ? w->value : 0, w ? w->start : 0, w ? w->end : 0);
    return -1;
}

static int check_key(const struct hop **g, size_t n, char *why, size_t whylen)
{
    struct keyview kv = {0};
    int rc = -ENOMEM;

    kv.acked = mem_calloc(MEM_TEST, n + 1, sizeof(*kv.acked));
    kv.writes = mem_calloc(MEM_TEST, n + 1, sizeof(*kv.writes));
    kv.maxstart = mem_calloc(MEM_TEST, n + 1, sizeof(*kv.maxstart));
    if (!kv.acked || !kv.writes || !kv.maxstart)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (g[i]->is_read)
            continue;
        kv.writes[kv.nwrites++] = g[i];
        if (g[i]->outcome == HISTORY_OK)
            kv.acked[kv.nacked++] = g[i];
    }
    qsort(kv.acked, kv.nacked, sizeof(*kv.acked), by_end);
    for (size_t i = 0; i < kv.nacked; i++)
        kv.maxstart[i] = i && kv.maxstart[i - 1] > kv.acked[i]->start
                             ? kv.maxstart[i - 1]
                             : kv.acked[i]->start;
    rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (g[i]->is_read)
            rc = check_read(&kv, g[i], why, whylen);
out:
    mem_free(kv.acked);
    mem_free(kv.writes);
    mem_free(kv.maxstart);
    return rc;
}

int history_check(struct history *h, char *why, size_t whylen)
{
    const struct hop **v = mem_calloc(MEM_TEST, h->n + 1, sizeof(*v));
    int rc = 0;
    size_t i = 0;

    if (!v) {
        snprintf(why, whylen, "history check: no memory");
        return -1;
    }
    why[0] = '\0';
    for (size_t k = 0; k < h->n; k++)
        v[k] = &h->ops[k];
    qsort(v, h->n, sizeof(*v), by_key_ptr);
    while (i < h->n && !rc) {
        size_t j = i + 1;
        while (j < h->n && key_cmp(v[i], v[j]) == 0)
            j++;
        rc = check_key(v + i, j - i, why, whylen);
        i = j;
    }
    mem_free(v);
    return rc ? -1 : 0;
}
