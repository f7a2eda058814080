/*
 * bench.h -- cairn-bench's shared types: the settings of a run, the
 * operation types, the per-thread statistics and the driver that runs
 * the workers.
 *
 * A run is one phase (load, run or verify) driven by --threads worker
 * threads. Each worker owns a share of the request slots (connections x
 * in-flight) and keeps them busy through libcairn's async API; libcairn's
 * I/O thread only hands completions back (bench_drive in driver.c). The
 * main thread prints a progress line every second and the summary at the
 * end (report.c).
 */
#ifndef CAIRN_BENCH_YCSB_BENCH_H
#define CAIRN_BENCH_YCSB_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cairn/cairn.h"
#include "common/hist.h"

enum bench_op {
    OP_READ,
    OP_UPDATE,
    OP_INSERT,
    OP_SCAN,
    OP_RMW,
    OP_VERIFY,
    OP_COUNT
};

/* Error kinds counted per operation type. */
enum bench_kind {
    KIND_NOT_FOUND, /* a read found no record */
    KIND_WRONG,     /* a value failed its self-check */
    KIND_TIMEOUT,
    KIND_UNAVAILABLE,
    KIND_OVERLOADED,
    KIND_CLOSED,
    KIND_UNREACHABLE,
    KIND_OTHER,
    KIND_COUNT
};

enum bench_dist { DIST_ZIPFIAN, DIST_UNIFORM, DIST_LATEST };

/* What share of operations each type takes (sums to 1). */
struct bench_mix {
    double read, update, insert, scan, rmw;
};

struct bench_cfg {
    const char *cmd;      /* "load" or "run" */
    const char *workload; /* a..f, write, read, mixed */
    const char *hosts;
    const char *keyspace, *table;
    uint32_t rf; /* 0: do not create (run) */
    cairn_consistency_t cl;
    uint64_t records;
    uint32_t fields, value_size;
    uint64_t operations; /* 0 with duration > 0: run by time */
    double duration_s;   /* 0: run by operations */
    uint32_t threads, connections, inflight;
    double rate; /* 0: closed loop */
    enum bench_dist dist;
    double warmup_s;
    int verify, debug_keys, full_record_writes;
    const char *json;
    uint64_t seed;
    uint32_t max_scan; /* workload E: scan lengths 1..max_scan */
    struct bench_mix mix;
};

/* Counts of one thread (or merged); hist per operation type. */
struct bench_stats {
    struct hist op[OP_COUNT];
    uint64_t errors[OP_COUNT][KIND_COUNT];
    struct hist warm; /* all operations during the warm-up */
    uint64_t warm_errors;
    uint64_t late;     /* open loop: started > 1 ms after intended */
    uint64_t intended; /* open loop: operations scheduled */
    uint64_t checked, missing, wrong; /* verify */
};

/* The phase bench_drive runs. */
enum bench_phase { PHASE_LOAD, PHASE_RUN, PHASE_VERIFY };

/* What one bench_drive call measured. */
struct bench_result {
    struct bench_stats total;
    double elapsed_s;     /* measured part, warm-up excluded */
    double warm_s;        /* warm-up actually run */
    uint64_t *key_counts; /* --debug-keys: choices per record, or NULL */
};

/*
 * bench_drive -- run one phase with cfg's threads and slots on client c,
 * printing a progress line to stderr every second. Fills *res (the caller
 * frees res->key_counts). Returns 0, or a negative code when the workers
 * could not start.
 */
int bench_drive(const struct bench_cfg *cfg, cairn_client_t *c,
                enum bench_phase phase, struct bench_result *res);

/* bench_op_name -- "read", "update", ... */
const char *bench_op_name(enum bench_op op);

/* bench_kind_name -- "not_found", "timeout", ... */
const char *bench_kind_name(enum bench_kind k);

/* bench_kind_of -- the kind of a libcairn error code. */
enum bench_kind bench_kind_of(int code);

/* bench_stats_merge -- add src into dst. */
void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src);

/* bench_stats_init -- empty statistics. */
void bench_stats_init(struct bench_stats *s);

/* bench_errors -- the error count of all types and kinds. */
uint64_t bench_errors(const struct bench_stats *s);

/*
 * bench_report -- print the summary of a load or run phase (res) and of
 * the verification after it (vres, NULL when none) to stdout; with json
 * not NULL also write them there as JSON. Returns 0 or -errno of the
 * JSON file.
 */
int bench_report(const struct bench_cfg *cfg, enum bench_phase phase,
                 const struct bench_result *res,
                 const struct bench_result *vres, const char *json);

#endif /* CAIRN_BENCH_YCSB_BENCH_H */
