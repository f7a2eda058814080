/*
 * storage.h -- one node's storage engine: the contract the server (and the
 * tools, tests and benchmarks) rely on.
 *
 * The engine keeps tables of partitions. A partition is identified by its
 * key (its token is token_of(key)); inside it, rows are sorted bytewise by
 * clustering key, and a row holds cells (column name -> value, timestamp,
 * optional expiry). Deletions are tombstones at four scopes: cell, row,
 * clustering range, partition. Conflicts resolve by the rule of
 * ARCHITECTURE.md: higher timestamp wins; on a tie a tombstone beats a
 * value, then the larger value bytewise wins. Every replica computes the
 * same answer from the same cells, whatever order they arrived in.
 *
 * Durability: storage_apply() logs the batch and applies it to the
 * memtable, then returns without waiting for fsync. In `periodic` and
 * `none` modes the logged bytes have reached the kernel on return; in
 * `group` mode the log's sync thread writes them, with every other batch
 * waiting, right before the fsync that covers them (one write and one
 * fsync per group). The caller's `done` callback fires once the
 * batch is durable under the sync mode -- in `group` mode after the fsync
 * that covers it, which many concurrent batches share; in `periodic` and
 * `none` modes right away, since there reaching the kernel is the promise.
 * Only after `done` reports 0 may the write be acknowledged. `done` runs
 * on an engine thread (or, in periodic/none mode, possibly inside
 * storage_apply() on the caller's thread; in group mode possibly on a
 * thread blocked in storage_apply_sync(), which runs the group's fsync
 * itself) and must not block.
 *
 * Thread-safety: every function may be called from any thread at any time
 * between storage_open() and storage_close(). Reads never block on a
 * writer; they may block on the disk, so the server runs them off its
 * event loops.
 *
 * Errors: 0 or a negative code of common/err.h with a detail recorded on
 * the calling thread (or passed to `done`'s thread for async failures):
 * CAIRN_ENOTABLE, CAIRN_ETOOBIG, CAIRN_ECORRUPT (names file and block),
 * CAIRN_EREADONLY (the log cannot be made durable; see storage_stats),
 * -EIO, -ENOSPC, -ENOMEM, -EINVAL.
 */
#ifndef CAIRN_STORAGE_STORAGE_H
#define CAIRN_STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

struct fs;
struct clk;
struct storage;

enum storage_sync {
    STORAGE_SYNC_GROUP = 0, /* fsync before done; writers share fsyncs */
    STORAGE_SYNC_PERIODIC,  /* fsync every sync_period_ms; done at once */
    STORAGE_SYNC_NONE,      /* never fsync; done at once */
};

/*
 * storage_purge_fn -- may a tombstone of `table_id` written at deletion
 * time `deleted_s` (seconds since the epoch) be dropped now? Called by
 * compaction after the grace period has passed, so the server can also
 * demand a completed repair. NULL in the options allows it.
 */
typedef int (*storage_purge_fn)(void *arg, uint64_t table_id,
                                int64_t deleted_s);

struct storage_options {
    const char *dir;           /* data directory; created if missing */
    const char *commitlog_dir; /* NULL: <dir>/commitlog */
    enum storage_sync sync;
    uint32_t sync_period_ms;      /* periodic mode; default 1000 */
    size_t memtable_bytes;        /* flush a table's memtable past this;
                                     default 64 MiB */
    size_t memtable_total_bytes;  /* writers wait above this; default
                                     4 x memtable_bytes */
    size_t cache_bytes;           /* block cache; default 256 MiB */
    size_t segment_bytes;         /* commit log segment; default 32 MiB */
    size_t commitlog_total_bytes; /* flush the oldest table past this;
                                     default 1 GiB */
    size_t block_bytes;           /* sstable block before compression;
                                     default 16 KiB */
    int bloom_bits_per_key;       /* default 10 (about 1% false hits) */
    int compaction_threads;       /* default 1 */
    int quarantine_corrupt_log;   /* 1: skip and quarantine a segment with
                                     mid-log damage; 0 (default): refuse
                                     to open */
    struct fs *fs;                /* NULL: fs_posix() */
    struct clk *clock;            /* NULL: clk_system() */
    storage_purge_fn purge;       /* NULL: grace period alone */
    void *purge_arg;
};

/* storage_options_default -- fill `o` with the defaults above. */
void storage_options_default(struct storage_options *o);

/*
 * storage_open -- lock the data directory, load the manifest, replay the
 * commit log, start the background threads. On success *out is the engine;
 * on failure *out is NULL and nothing is left running.
 * -EBUSY: another process holds the directory. CAIRN_ECORRUPT: mid-log
 * damage (file and offset in the detail) without quarantine_corrupt_log.
 */
int storage_open(const struct storage_options *o, struct storage **out);

/*
 * storage_close -- stop the background threads, sync the commit log and
 * release everything. Does not flush memtables (the log covers them);
 * call storage_flush() first for a clean shutdown. NULL is ignored.
 */
void storage_close(struct storage *s);

struct storage_table_options {
    uint32_t gc_grace_s;    /* tombstone grace; default 864000 (10 days) */
    uint32_t default_ttl_s; /* 0: cells live forever unless given a TTL */
    int compression;        /* 1: LZ4 blocks (default); 0: none */
};

/*
 * storage_create_table -- make table `id` exist with options `o` (durably,
 * through the manifest). Creating an existing id updates its options.
 */
int storage_create_table(struct storage *s, uint64_t id,
                         const struct storage_table_options *o);

/*
 * storage_drop_table -- forget table `id` and delete its files. Its data
 * never reappears, even from commit log replay. CAIRN_ENOTABLE if unknown.
 */
int storage_drop_table(struct storage *s, uint64_t id);

/* A borrowed byte string. */
struct storage_bytes {
    const uint8_t *p;
    size_t n;
};

enum storage_mut_kind {
    STORAGE_MUT_CELL = 0,     /* set column of row ck */
    STORAGE_MUT_CELL_DELETE,  /* tombstone for column of row ck */
    STORAGE_MUT_ROW_DELETE,   /* tombstone for row ck */
    STORAGE_MUT_RANGE_DELETE, /* tombstone for rows ck <= r <= ck_end */
    STORAGE_MUT_PARTITION_DELETE,
};

struct storage_mut {
    enum storage_mut_kind kind;
    struct storage_bytes ck;     /* clustering key (range: start) */
    struct storage_bytes ck_end; /* range: inclusive end; empty: no end */
    struct storage_bytes column; /* cell and cell delete */
    struct storage_bytes value;  /* cell */
    int64_t ts;                  /* write timestamp, µs since the epoch */
    int64_t expires_s;           /* cell: absolute expiry (s); 0: from ttl_s */
    uint32_t ttl_s;    /* cell: 0 and expires_s 0: the table default */
    int64_t deleted_s; /* deletes: deletion time (s); 0: now */
};

/* Every mutation of one partition of one table; applied atomically. */
struct storage_batch {
    uint64_t table_id;
    struct storage_bytes pkey; /* at most STORAGE_MAX_KEY bytes */
    const struct storage_mut *muts;
    size_t nmuts;
};

#define STORAGE_MAX_KEY (64 * 1024) /* partition and clustering keys */

/*
 * storage_done_fn -- a batch's outcome: 0 when durable under the sync
 * mode, or the negative code for why it never will be (it must then not
 * be acknowledged).
 */
typedef void (*storage_done_fn)(void *arg, int rc);

/*
 * storage_apply -- log and apply `b`, then report durability through
 * done(arg, rc). Returns 0 when the batch was accepted (done will be
 * called exactly once), or a negative code when it was refused before
 * anything was written (done is not called): CAIRN_ENOTABLE,
 * CAIRN_ETOOBIG (key over STORAGE_MAX_KEY, or the encoded batch larger
 * than half a commit log segment), CAIRN_EREADONLY, -EINVAL. May wait
 * when memtables are over memtable_total_bytes (backpressure). The batch
 * and its bytes are copied; the caller may free them on return.
 */
int storage_apply(struct storage *s, const struct storage_batch *b,
                  storage_done_fn done, void *arg);

/* storage_apply_sync -- storage_apply() and wait for done; for tools. */
int storage_apply_sync(struct storage *s, const struct storage_batch *b);

/* ---- reading ---- */

#define STORAGE_TS_NONE INT64_MIN /* "no tombstone here" */

/* A cell as stored: a value, or (tombstone = 1) a cell deletion. */
struct storage_cell {
    struct storage_bytes column;
    struct storage_bytes value; /* empty for tombstones */
    int64_t ts;
    int64_t expires_s; /* 0: never */
    int64_t deleted_s; /* tombstones: deletion time */
    int tombstone;
};

struct storage_row {
    struct storage_bytes ck;
    int64_t deleted_ts; /* row tombstone timestamp or STORAGE_TS_NONE */
    int64_t deleted_s;
    struct storage_cell *cells; /* sorted by column */
    size_t ncells;
};

struct storage_range_tomb {
    struct storage_bytes start, end; /* inclusive; empty end: open */
    int64_t ts;
    int64_t deleted_s;
};

struct storage_partition {
    struct storage_bytes pkey;
    int64_t token;
    int64_t deleted_ts; /* partition tombstone or STORAGE_TS_NONE */
    int64_t deleted_s;
    struct storage_range_tomb *ranges; /* only with include_tombstones */
    size_t nranges;
    struct storage_row *rows; /* sorted by ck */
    size_t nrows;
};

/*
 * A read's answer; everything in it lives until storage_result_free().
 * `more` says the limit stopped the read early; the resume point is the
 * last row returned (pass it back as `after`).
 */
struct storage_result {
    struct storage_partition *parts;
    size_t nparts;
    size_t nrows; /* rows over all partitions */
    int more;
    struct storage_bytes resume_pkey, resume_ck;
};

void storage_result_free(struct storage_result *r);

struct storage_read {
    uint64_t table_id;
    struct storage_bytes pkey;
    struct storage_bytes ck_start; /* inclusive; empty: from the first */
    struct storage_bytes ck_end;   /* inclusive; empty: to the last */
    struct storage_bytes after;    /* resume: rows strictly after this ck */
    int has_after;                 /* `after` is set (it may be empty) */
    uint32_t limit_rows;           /* 0: no limit */
    /*
     * 0 (client reads): only live data; expired cells, shadowed data and
     * tombstones are left out, and rows with no live cell are omitted.
     * 1 (replica reads, repair, streaming): the merged state including
     * tombstones, so another node can apply it and reach the same state.
     */
    int include_tombstones;
};

/*
 * storage_read_partition -- the rows of one partition in clustering order,
 * merged over memtables and sstables. *out is always set on success (with
 * nparts 0 when the partition has nothing to show).
 */
int storage_read_partition(struct storage *s, const struct storage_read *r,
                           struct storage_result **out);

struct storage_scan {
    uint64_t table_id;
    int64_t token_start;             /* first token included */
    int64_t token_end;               /* last token included */
    struct storage_bytes after_pkey; /* resume: after this partition... */
    struct storage_bytes after_ck;   /* ...and row (has_after) */
    int has_after;
    uint32_t limit_rows;    /* 0: no limit */
    int include_tombstones; /* as in storage_read */
};

/*
 * storage_scan -- partitions with token_start <= token <= token_end in
 * (token, key) order, rows in clustering order, up to limit_rows rows.
 */
int storage_scan(struct storage *s, const struct storage_scan *sc,
                 struct storage_result **out);

/* ---- maintenance ---- */

/* storage_flush -- flush table `id`'s memtable (0: every table); waits. */
int storage_flush(struct storage *s, uint64_t id);

/* storage_compact -- merge all sstables of `id` (0: every table); waits. */
int storage_compact(struct storage *s, uint64_t id);

struct storage_stats {
    uint64_t memtable_bytes;  /* all tables, live and flushing */
    uint64_t commitlog_bytes; /* segments on disk */
    uint64_t sstable_count;
    uint64_t sstable_bytes;
    uint64_t pending_compactions;
    uint64_t cache_bytes;
    uint64_t cache_hits, cache_misses;
    uint64_t writes, reads;
    uint64_t corrupt_blocks;       /* damaged blocks met by reads */
    uint64_t unreplayed_mutations; /* in quarantined log segments */
    int read_only;                 /* writes refused after a failed fsync */
};

/* storage_stats -- counters for /metrics; `id` 0 sums every table. */
int storage_get_stats(struct storage *s, uint64_t id,
                      struct storage_stats *out);

#endif /* CAIRN_STORAGE_STORAGE_H */
