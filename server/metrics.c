/*
 * metrics.c -- counters, histograms and their Prometheus text (metrics.h).
 *
 * Latencies go into common/hist.h histograms (µs); Prometheus wants
 * cumulative buckets at fixed bounds, which are summed from the
 * histogram's finer buckets at render time, one pass per operation.
 */
#include "server/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/hist.h"
#include "common/mem.h"
#include "storage/storage.h"

static const char *const mop_names[MOP_COUNT] = {
    "create_keyspace", "drop_keyspace", "list_keyspaces",
    "create_table",    "drop_table",    "list_tables",
    "write",           "read",          "scan",
    "admin",           "unknown",
};

/* Error kinds counted apart; anything else is "other". */
static const int met_codes[] = {
    CAIRN_ECORRUPT,
    CAIRN_ENOTFOUND,
    CAIRN_ETOOBIG,
    CAIRN_EUNAVAILABLE,
    CAIRN_EOVERLOADED,
    CAIRN_ETIMEOUT,
    CAIRN_ENOKEYSPACE,
    CAIRN_ENOTABLE,
    CAIRN_ECLOSED,
    CAIRN_EPROTO,
    CAIRN_EREADONLY,
    CAIRN_EEXISTS,
    -EINVAL,
    -ENOMEM,
    -EIO,
    -ENOSPC,
};
#define MET_NCODES (sizeof(met_codes) / sizeof(met_codes[0]))

/* Upper bounds of the exported latency buckets, in µs. */
static const uint64_t met_bounds[] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
#define MET_NBOUNDS (sizeof(met_bounds) / sizeof(met_bounds[0]))

static struct {
    atomic_uint_fast64_t requests[MOP_COUNT];
    atomic_uint_fast64_t errors[MET_NCODES + 1];
    atomic_uint_fast64_t protocol_errors;
    atomic_uint_fast64_t deferred_writes;
    atomic_int_fast64_t connections;
    struct hist lat[MOP_COUNT];
} met;

void metrics_init(void)
{
    for (int i = 0; i < MOP_COUNT; i++) {
        atomic_store(&met.requests[i], 0);
        hist_init(&met.lat[i]);
    }
    for (size_t i = 0; i <= MET_NCODES; i++)
        atomic_store(&met.errors[i], 0);
    atomic_store(&met.protocol_errors, 0);
    atomic_store(&met.deferred_writes, 0);
    atomic_store(&met.connections, 0);
}

void metrics_request(enum metrics_op op, uint64_t latency_us, int rc)
{
    size_t i;

    atomic_fetch_add(&met.requests[op], 1);
    hist_record_atomic(&met.lat[op], latency_us);
    if (rc == 0)
        return;
    for (i = 0; i < MET_NCODES && met_codes[i] != rc; i++)
        ;
    atomic_fetch_add(&met.errors[i], 1);
}

void metrics_protocol_error(void)
{
    atomic_fetch_add(&met.protocol_errors, 1);
}

void metrics_deferred_write(void)
{
    atomic_fetch_add(&met.deferred_writes, 1);
}

void metrics_connections(int delta)
{
    atomic_fetch_add(&met.connections, delta);
}

int64_t metrics_connections_now(void)
{
    return (int64_t)atomic_load(&met.connections);
}

static int met_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int met_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (buf_reserve(b, 512) < 0)
        return -ENOMEM;
    va_start(ap, fmt);
    n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len)
        return -ENOMEM; /* every line here is far below 512 bytes */
    b->len += (size_t)n;
    return 0;
}

/* met_hist -- one operation's latency as a Prometheus histogram. */
static int met_hist(struct buf *b, int op)
{
    const struct hist *h = &met.lat[op];
    uint64_t cum = 0, total = __atomic_load_n(&h->count, __ATOMIC_RELAXED);
    size_t bi = 0;
    int rc = 0;

    for (unsigned i = 0; i < HIST_NBUCKETS && bi < MET_NBOUNDS; i++) {
        while (bi < MET_NBOUNDS && hist_bucket_high(i) > met_bounds[bi]) {
            rc |= met_printf(b,
                             "cairn_request_latency_seconds_bucket{op="
                             "\"%s\",le=\"%g\"} %llu\n",
                             mop_names[op], (double)met_bounds[bi] / 1e6,
                             (unsigned long long)cum);
            bi++;
        }
        cum += __atomic_load_n(&h->buckets[i], __ATOMIC_RELAXED);
    }
    rc |= met_printf(b,
                     "cairn_request_latency_seconds_bucket{op=\"%s\","
                     "le=\"+Inf\"} %llu\n",
                     mop_names[op], (unsigned long long)total);
    rc |= met_printf(b, "cairn_request_latency_seconds_sum{op=\"%s\"} %g\n",
                     mop_names[op],
                     (double)__atomic_load_n(&h->sum, __ATOMIC_RELAXED) / 1e6);
    rc |= met_printf(b,
                     "cairn_request_latency_seconds_count{op=\"%s\"} "
                     "%llu\n",
                     mop_names[op], (unsigned long long)total);
    return rc;
}

static int met_requests(struct buf *b)
{
    int rc = met_printf(b, "# HELP cairn_requests_total Requests answered, "
                           "by operation.\n# TYPE cairn_requests_total "
                           "counter\n");

    for (int i = 0; i < MOP_COUNT; i++)
        rc |= met_printf(b, "cairn_requests_total{op=\"%s\"} %llu\n",
                         mop_names[i],
                         (unsigned long long)atomic_load(&met.requests[i]));
    rc |= met_printf(b, "# HELP cairn_request_errors_total Requests answered "
                        "with an error, by kind.\n# TYPE "
                        "cairn_request_errors_total counter\n");
    for (size_t i = 0; i <= MET_NCODES; i++)
        rc |= met_printf(b, "cairn_request_errors_total{kind=\"%s\"} %llu\n",
                         i < MET_NCODES ? err_name(met_codes[i]) : "other",
                         (unsigned long long)atomic_load(&met.errors[i]));
    rc |= met_printf(b, "# HELP cairn_request_latency_seconds Time from "
                        "decoding a request to queueing its answer.\n# TYPE "
                        "cairn_request_latency_seconds histogram\n");
    for (int i = 0; i < MOP_COUNT; i++)
        rc |= met_hist(b, i);
    return rc;
}

static int met_gauge(struct buf *b, const char *name, const char *type,
                     const char *help, unsigned long long v)
{
    return met_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
                      name, type, name, v);
}

static int met_storage(struct buf *b, struct storage *s)
{
    struct storage_stats st;
    int rc = 0;

    if (s == NULL || storage_get_stats(s, 0, &st) < 0)
        return 0;
    rc |= met_gauge(b, "cairn_commitlog_bytes", "gauge",
                    "Commit log segments on disk.", st.commitlog_bytes);
    rc |= met_gauge(b, "cairn_memtable_bytes", "gauge",
                    "Memtables of all tables, live and flushing.",
                    st.memtable_bytes);
    rc |= met_gauge(b, "cairn_sstables", "gauge", "Live sstables.",
                    st.sstable_count);
    rc |= met_gauge(b, "cairn_sstable_bytes", "gauge",
                    "Bytes of live sstables.", st.sstable_bytes);
    rc |= met_gauge(b, "cairn_pending_compactions", "gauge",
                    "Compactions waiting to run.", st.pending_compactions);
    rc |= met_gauge(b, "cairn_block_cache_bytes", "gauge", "Block cache size.",
                    st.cache_bytes);
    rc |= met_gauge(b, "cairn_block_cache_hits_total", "counter",
                    "Block cache hits.", st.cache_hits);
    rc |= met_gauge(b, "cairn_block_cache_misses_total", "counter",
                    "Block cache misses.", st.cache_misses);
    rc |= met_gauge(b, "cairn_corrupt_blocks_total", "counter",
                    "Damaged sstable blocks met by reads.", st.corrupt_blocks);
    rc |= met_gauge(b, "cairn_unreplayed_mutations", "gauge",
                    "Mutations in quarantined commit log segments.",
                    st.unreplayed_mutations);
    rc |= met_gauge(b, "cairn_storage_read_only", "gauge",
                    "1 when writes are refused after a failed fsync.",
                    (unsigned long long)st.read_only);
    return rc;
}

int metrics_render(struct buf *out, struct storage *s, uint64_t schema_ver)
{
    int rc = met_requests(out);

    rc |= met_gauge(out, "cairn_protocol_errors_total", "counter",
                    "Frames refused before they became requests.",
                    (unsigned long long)atomic_load(&met.protocol_errors));
    rc |= met_gauge(out, "cairn_writes_deferred_total", "counter",
                    "Writes run on a worker because memtables were near "
                    "their limit.",
                    (unsigned long long)atomic_load(&met.deferred_writes));
    rc |= met_gauge(out, "cairn_client_connections", "gauge",
                    "Open client connections.",
                    (unsigned long long)metrics_connections_now());
    rc |= met_gauge(out, "cairn_schema_version", "gauge",
                    "Version of the local schema.", schema_ver);
    rc |= met_storage(out, s);
    rc |= met_printf(out, "# HELP cairn_memory_bytes Heap bytes by "
                          "subsystem.\n# TYPE cairn_memory_bytes gauge\n");
    for (int i = 0; i < MEM_NSUBSYS; i++)
        rc |= met_printf(out, "cairn_memory_bytes{subsystem=\"%s\"} %lld\n",
                         mem_subsys_name(i), (long long)mem_used(i));
    return rc ? -ENOMEM : 0;
}
