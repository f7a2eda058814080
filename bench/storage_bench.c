/*
 * storage_bench.c -- `cairn-storage-bench`: db_bench-style workloads run
 * against one node's engine through storage/storage.h only, so its
 * numbers can sit next to RocksDB's db_bench (bench/compare-rocksdb).
 *
 * Workloads run in the order given by --benchmarks: fillseq, fillrandom,
 * overwrite (random keys into a filled key space), readrandom,
 * readmissing (keys never written) and scan (every partition in token
 * order). --num counts operations per thread, as in db_bench; the key
 * space is [0, num x threads) (db_bench's with one thread): fillseq gives
 * each thread its own stretch, random workloads draw from all of it, and
 * readmissing draws above it. Keys are the number big-endian then zero
 * padding, and values are half random, half a copy of that half, so
 * they compress to about half as db_bench's do. A key is a partition with
 * one row (empty clustering key) and one cell.
 *
 * Output: one line per workload in db_bench's shape
 *   fillrandom   :       8.123 micros/op 123456 ops/sec;  12.3 MB/s
 * (micros/op is thread time per op, ops/sec is ops over wall time, as in
 * db_bench), read workloads add "(F of N found)", then a line of latency
 * percentiles; at the end the peak RSS of the process.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/hist.h"
#include "common/mem.h"
#include "storage/storage.h"

#define TABLE     1
#define POOL_SIZE (1u << 20) /* value bytes to pick from */
#define SCAN_PAGE 10000      /* rows per storage_scan call */

struct config {
    char benchmarks[512];
    uint64_t num;
    size_t key_size, value_size;
    int threads;
    enum storage_sync sync;
    size_t memtable_mb, cache_mb;
    char dir[512];
    int own_dir; /* made here, removed at the end */
    int compression;
};

struct bench;

struct worker {
    struct bench *b;
    int id;
    uint64_t rng;
    uint64_t done, found, bytes;
    double seconds; /* this thread's time in the workload */
    struct hist *lat;
    int rc;
    pthread_t th;
};

struct bench {
    const struct config *cfg;
    struct storage *s;
    const char *name;
    uint8_t *pool;
    atomic_long write_errors;
    atomic_int_fast64_t ts; /* write timestamps, increasing */
    pthread_barrier_t start;
};

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* xorshift64*: cheap, per thread, good enough to spread keys. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static void make_key(const struct config *c, uint64_t k, uint8_t *out)
{
    memset(out, 0, c->key_size);
    enc_u64be(out, k);
}

/* Chunks of value_size: random printable half, then that half again. */
static uint8_t *make_pool(const struct config *c)
{
    uint8_t *p = mem_alloc(MEM_TEST, POOL_SIZE + c->value_size);
    uint64_t s = 0x5eed;
    size_t half = c->value_size / 2 ? c->value_size / 2 : 1;

    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < POOL_SIZE + c->value_size; i++) {
        size_t in = i % c->value_size;
        p[i] = in < half ? (uint8_t)(' ' + rnd(&s) % 95) : p[i - half];
    }
    return p;
}

static void write_done(void *arg, int rc)
{
    struct bench *b = arg;

    if (rc != 0)
        atomic_fetch_add(&b->write_errors, 1);
}

static int put(struct worker *w, uint64_t k)
{
    const struct config *c = w->b->cfg;
    uint8_t key[STORAGE_MAX_KEY > 4096 ? 4096 : STORAGE_MAX_KEY];
    size_t off =
        (size_t)(rnd(&w->rng) % (POOL_SIZE / c->value_size)) * c->value_size;
    struct storage_mut m = {
        .kind = STORAGE_MUT_CELL,
        .column = {(const uint8_t *)"v", 1},
        .value = {w->b->pool + off, c->value_size},
        .ts = atomic_fetch_add(&w->b->ts, 1),
    };
    struct storage_batch b = {TABLE, {key, c->key_size}, &m, 1};

    make_key(c, k, key);
    w->bytes += c->key_size + c->value_size;
    if (c->sync == STORAGE_SYNC_GROUP)
        return storage_apply_sync(w->b->s, &b);
    return storage_apply(w->b->s, &b, write_done, w->b);
}

static int get(struct worker *w, uint64_t k)
{
    const struct config *c = w->b->cfg;
    uint8_t key[4096];
    struct storage_read r = {.table_id = TABLE, .pkey = {key, c->key_size}};
    struct storage_result *res;
    int rc;

    make_key(c, k, key);
    rc = storage_read_partition(w->b->s, &r, &res);
    if (rc != 0)
        return rc;
    if (res->nrows > 0) {
        w->found++;
        w->bytes += c->key_size + res->parts[0].rows[0].cells[0].value.n;
    }
    storage_result_free(res);
    return 0;
}

/* Every partition in token order, a page at a time; one op per row. */
static int scan_all(struct worker *w)
{
    struct storage_scan sc = {.table_id = TABLE,
                              .token_start = INT64_MIN,
                              .token_end = INT64_MAX,
                              .limit_rows = SCAN_PAGE};
    uint8_t after[4096];
    int more = 1, rc = 0;

    while (more && rc == 0 && w->done < w->b->cfg->num) {
        struct storage_result *res;
        uint64_t t0 = now_ns();
        rc = storage_scan(w->b->s, &sc, &res);
        if (rc != 0)
            break;
        if (res->nrows > 0)
            hist_record(w->lat, (now_ns() - t0) / 1000 / res->nrows);
        w->done += res->nrows;
        w->found += res->nrows;
        w->bytes += res->nrows * (w->b->cfg->key_size + w->b->cfg->value_size);
        more = res->more && res->resume_pkey.n <= sizeof(after);
        if (more) {
            memcpy(after, res->resume_pkey.p, res->resume_pkey.n);
            sc.after_pkey = (struct storage_bytes){after, res->resume_pkey.n};
            sc.after_ck = (struct storage_bytes){NULL, 0};
            sc.has_after = 1;
        }
        storage_result_free(res);
    }
    return rc;
}

/* The op number i of thread w in workload `name`. */
static int one_op(struct worker *w, uint64_t i)
{
    const struct config *c = w->b->cfg;
    const char *n = w->b->name;
    uint64_t space = c->num * (uint64_t)c->threads;

    if (strcmp(n, "fillseq") == 0)
        return put(w, (uint64_t)w->id * c->num + i);
    if (strcmp(n, "fillrandom") == 0 || strcmp(n, "overwrite") == 0)
        return put(w, rnd(&w->rng) % space);
    if (strcmp(n, "readrandom") == 0)
        return get(w, rnd(&w->rng) % space);
    /* readmissing: above the key space, never written */
    return get(w, space + rnd(&w->rng) % space);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct config *c = w->b->cfg;
    double t0;

    pthread_barrier_wait(&w->b->start);
    t0 = now_s();
    if (strcmp(w->b->name, "scan") == 0) {
        w->rc = scan_all(w);
    } else {
        for (uint64_t i = 0; i < c->num && w->rc == 0; i++) {
            uint64_t s = now_ns();
            w->rc = one_op(w, i);
            hist_record(w->lat, (now_ns() - s + 500) / 1000);
            w->done++;
        }
    }
    w->seconds = now_s() - t0;
    return NULL;
}

static void report(const char *name, struct worker *ws, int n, double wall)
{
    uint64_t done = 0, found = 0, bytes = 0;
    double secs = 0;
    char extra[96] = "";
    struct hist *h = ws[0].lat;

    for (int i = 0; i < n; i++) {
        done += ws[i].done;
        found += ws[i].found;
        bytes += ws[i].bytes;
        secs += ws[i].seconds;
        if (i > 0)
            hist_merge(h, ws[i].lat);
    }
    if (strncmp(name, "read", 4) == 0 || strcmp(name, "scan") == 0)
        snprintf(extra, sizeof(extra), " (%" PRIu64 " of %" PRIu64 " found)",
                 found, done);
    printf("%-12s : %11.3f micros/op %ld ops/sec; %6.1f MB/s%s\n", name,
           done ? secs * 1e6 / (double)done : 0.0,
           (long)(wall > 0 ? (double)done / wall : 0), bytes / 1048576.0 / wall,
           extra);
    printf("%-12s   latency us: p50 %" PRIu64 " p90 %" PRIu64 " p99 %" PRIu64
           " p99.9 %" PRIu64 " max %" PRIu64 "\n",
           "", hist_percentile(h, 50), hist_percentile(h, 90),
           hist_percentile(h, 99), hist_percentile(h, 99.9),
           hist_percentile(h, 100));
    fflush(stdout);
}

static int run_one(struct bench *b, const char *name)
{
    const struct config *c = b->cfg;
    struct worker *ws = mem_calloc(MEM_TEST, (size_t)c->threads, sizeof(*ws));
    int rc = 0;
    double t0;

    if (ws == NULL)
        return -ENOMEM;
    b->name = name;
    pthread_barrier_init(&b->start, NULL, (unsigned)c->threads + 1);
    for (int i = 0; i < c->threads; i++) {
        ws[i] = (struct worker){.b = b,
                                .id = i,
                                .rng = 0x9E3779B97F4A7C15ull * (i + 1) ^
                                       (uint64_t)name[0] << 32};
        ws[i].lat = mem_alloc(MEM_TEST, sizeof(struct hist));
        hist_init(ws[i].lat);
        pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
    }
    pthread_barrier_wait(&b->start);
    t0 = now_s();
    for (int i = 0; i < c->threads; i++)
        pthread_join(ws[i].th, NULL);
    double wall = now_s() - t0;
    for (int i = 0; i < c->threads; i++) {
        if (ws[i].rc != 0 && rc == 0) {
            rc = ws[i].rc;
            fprintf(stderr, "%s: %s: %s\n", name, err_name(rc), err_msg());
        }
    }
    report(name, ws, c->threads, wall);
    for (int i = 0; i < c->threads; i++)
        mem_free(ws[i].lat);
    mem_free(ws);
    pthread_barrier_destroy(&b->start);
    if (rc == 0 && atomic_load(&b->write_errors) > 0) {
        fprintf(stderr, "%s: %ld writes failed\n", name,
                (long)atomic_load(&b->write_errors));
        rc = -EIO;
    }
    return rc;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: cairn-storage-bench [--benchmarks LIST] [--num N] "
            "[--key-size B]\n"
            "         [--value-size B] [--threads T] "
            "[--sync none|group|periodic]\n"
            "         [--memtable-mb M] [--cache-mb M] [--compression 0|1] "
            "[--dir DIR]\n"
            "  LIST: comma-separated fillseq, fillrandom, overwrite, "
            "readrandom,\n"
            "        readmissing, scan (default: all, in that order)\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || *s == '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int known_benchmark(const char *n)
{
    static const char *const names[] = {"fillseq",     "fillrandom",
                                        "overwrite",   "readrandom",
                                        "readmissing", "scan"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(n, names[i]) == 0)
            return 1;
    return 0;
}

static int parse_sync(const char *s, enum storage_sync *out)
{
    if (strcmp(s, "none") == 0)
        *out = STORAGE_SYNC_NONE;
    else if (strcmp(s, "group") == 0)
        *out = STORAGE_SYNC_GROUP;
    else if (strcmp(s, "periodic") == 0)
        *out = STORAGE_SYNC_PERIODIC;
    else
        return -1;
    return 0;
}

/* One option; -1 when it is bad. */
static int parse_opt(struct config *c, int opt, const char *arg)
{
    uint64_t v;

    switch (opt) {
    case 'b':
        return snprintf(c->benchmarks, sizeof(c->benchmarks), "%s", arg) <
                       (int)sizeof(c->benchmarks)
                   ? 0
                   : -1;
    case 'n':
        return parse_u64(arg, 1, UINT64_MAX / 4, &c->num);
    case 'k':
        if (parse_u64(arg, 8, 4096, &v))
            return -1;
        c->key_size = v;
        return 0;
    case 'v':
        if (parse_u64(arg, 1, 1 << 20, &v))
            return -1;
        c->value_size = v;
        return 0;
    case 't':
        if (parse_u64(arg, 1, 1024, &v))
            return -1;
        c->threads = (int)v;
        return 0;
    case 's':
        return parse_sync(arg, &c->sync);
    case 'm':
        return parse_u64(arg, 1, 1 << 20, &v) ? -1 : (c->memtable_mb = v, 0);
    case 'c':
        return parse_u64(arg, 0, 1 << 24, &v) ? -1 : (c->cache_mb = v, 0);
    case 'z':
        return parse_u64(arg, 0, 1, &v) ? -1 : (c->compression = (int)v, 0);
    case 'd':
        return snprintf(c->dir, sizeof(c->dir), "%s", arg) < (int)sizeof(c->dir)
                   ? 0
                   : -1;
    }
    return -1;
}

static int parse_args(int argc, char **argv, struct config *c)
{
    static const struct option opts[] = {
        {"benchmarks", required_argument, NULL, 'b'},
        {"num", required_argument, NULL, 'n'},
        {"key-size", required_argument, NULL, 'k'},
        {"value-size", required_argument, NULL, 'v'},
        {"threads", required_argument, NULL, 't'},
        {"sync", required_argument, NULL, 's'},
        {"memtable-mb", required_argument, NULL, 'm'},
        {"cache-mb", required_argument, NULL, 'c'},
        {"compression", required_argument, NULL, 'z'},
        {"dir", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    *c = (struct config){.num = 1000000,
                         .key_size = 16,
                         .value_size = 100,
                         .threads = 1,
                         .sync = STORAGE_SYNC_NONE,
                         .memtable_mb = 64,
                         .cache_mb = 1024,
                         .compression = 1};
    snprintf(c->benchmarks, sizeof(c->benchmarks), "%s",
             "fillseq,fillrandom,overwrite,readrandom,readmissing,scan");
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == '?' || parse_opt(c, opt, optarg) != 0) {
            if (opt != '?')
                fprintf(stderr, "cairn-storage-bench: bad value '%s'\n",
                        optarg);
            return -1;
        }
    }
    if (optind != argc)
        return -1;
    char list[512], *save = NULL;
    snprintf(list, sizeof(list), "%s", c->benchmarks);
    for (char *n = strtok_r(list, ",", &save); n != NULL;
         n = strtok_r(NULL, ",", &save)) {
        if (!known_benchmark(n)) {
            fprintf(stderr, "cairn-storage-bench: unknown benchmark '%s'\n", n);
            return -1;
        }
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int open_engine(struct config *c, struct storage **s)
{
    struct storage_options o;
    struct storage_table_options t = {864000, 0, c->compression};
    int rc;

    if (c->dir[0] == '\0') {
        snprintf(c->dir, sizeof(c->dir), "/tmp/cairn-storage-bench-XXXXXX");
        if (mkdtemp(c->dir) == NULL)
            return -errno;
        c->own_dir = 1;
    }
    storage_options_default(&o);
    o.dir = c->dir;
    o.sync = c->sync;
    o.memtable_bytes = c->memtable_mb << 20;
    o.cache_bytes = c->cache_mb << 20;
    rc = storage_open(&o, s);
    if (rc == 0)
        rc = storage_create_table(*s, TABLE, &t);
    return rc;
}

static void print_header(const struct config *c)
{
    printf("cairn-storage-bench: keys %zu bytes, values %zu bytes (%zu after "
           "compression), entries %" PRIu64 " per thread, threads %d, sync "
           "%s, memtable %zu MiB, cache %zu MiB, compression %s, dir %s\n",
           c->key_size, c->value_size, c->value_size / 2, c->num, c->threads,
           c->sync == STORAGE_SYNC_NONE    ? "none"
           : c->sync == STORAGE_SYNC_GROUP ? "group"
                                           : "periodic",
           c->memtable_mb, c->cache_mb, c->compression ? "lz4" : "none",
           c->dir);
    fflush(stdout);
}

static void print_footer(struct storage *s)
{
    struct storage_stats st;
    struct rusage ru;

    if (storage_get_stats(s, 0, &st) == 0)
        printf("engine: %" PRIu64 " sstables, %.1f MiB on disk, cache %.1f "
               "MiB, %" PRIu64 " hits %" PRIu64 " misses\n",
               st.sstable_count, st.sstable_bytes / 1048576.0,
               st.cache_bytes / 1048576.0, st.cache_hits, st.cache_misses);
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
}

int main(int argc, char **argv)
{
    struct config c;
    struct bench b = {0};
    char list[512], *save = NULL;
    int rc;

    if (parse_args(argc, argv, &c) != 0)
        return usage();
    b.cfg = &c;
    b.pool = make_pool(&c);
    atomic_init(&b.ts, 1);
    rc = b.pool == NULL ? -ENOMEM : open_engine(&c, &b.s);
    if (rc != 0) {
        fprintf(stderr, "cairn-storage-bench: %s: %s\n", err_name(rc),
                err_msg());
        return 1;
    }
    print_header(&c);
    snprintf(list, sizeof(list), "%s", c.benchmarks);
    for (char *n = strtok_r(list, ",", &save); n != NULL && rc == 0;
         n = strtok_r(NULL, ",", &save))
        rc = run_one(&b, n);
    print_footer(b.s);
    storage_close(b.s);
    if (c.own_dir)
        nftw(c.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mem_free(b.pool);
    return rc == 0 ? 0 : 1;
}
