/*
 * engine_int.h -- the engine's internal state, shared by engine.c (open,
 * tables, writes), engine_read.c (reads), flush.c and compaction.c.
 *
 * Locking: `lock` (a writer-preferring rwlock) guards the table map and
 * each table's memtable, immutable memtables and sstable list. Writers
 * hold it shared from their log append through their memtable insert, so
 * whoever holds it exclusively sees no write in flight: that is how a
 * memtable switch gets an exact log position. Readers hold it shared only
 * to take references. `mu` guards the background queues and pairs with
 * `cv`; `manifest_mu` serializes manifest rewrites.
 */
#ifndef CAIRN_STORAGE_ENGINE_INT_H
#define CAIRN_STORAGE_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "storage/storage.h"

struct memtable;
struct sstable;
struct commitlog;
struct block_cache;
struct fs_file;
struct msrc;

/* A live sstable of a table. */
struct sst {
    atomic_int refs;
    struct sstable *t;
    uint64_t file_id;
    uint64_t bytes;
    int64_t min_ts;
    int64_t min_token, max_token;
    int level;
    int compacting; /* under lock */
    int corrupt;    /* compaction found damage: never picked again */
};

/* A memtable waiting to be flushed, and the log position it ends at. */
struct imm {
    struct memtable *m;
    uint64_t first_pos; /* oldest record in it */
    uint64_t end_pos;   /* every record of the table before is in it */
};

struct table {
    uint64_t id;
    struct storage_table_options o;
    uint64_t replay_from;           /* as in the manifest */
    struct memtable *mem;           /* the one taking writes */
    _Atomic uint64_t mem_first_pos; /* oldest record in mem, or MAX */
    struct imm *imm;                /* oldest first */
    size_t nimm, capimm;
    struct sst **ssts;
    size_t nssts, capssts;
    int flushing;     /* a flush thread works on it (under mu) */
    int flush_wanted; /* under mu */
    int busy;         /* compactions running on it (under mu) */
    int dropped;
    atomic_int refs;
    _Atomic uint64_t writes, reads;
};

struct storage {
    struct storage_options o;
    char *dir, *logdir;
    struct fs *fs;
    struct clk *clk;
    struct fs_file *lockf;
    struct commitlog *log;
    struct block_cache *cache;

    pthread_rwlock_t lock;
    struct table **tables;
    size_t ntables, captables;

    pthread_mutex_t manifest_mu;
    uint64_t next_file; /* under manifest_mu */

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* background work */
    pthread_cond_t cv_done; /* flush/compaction progress, backpressure */
    int closing;
#define FLUSH_QUEUE 256
    struct table *fq[FLUSH_QUEUE]; /* tables wanting a flush, ref'd */
    size_t nfq;
    int flush_error; /* last flush failure, 0 once one succeeds */
    pthread_t *threads;
    size_t nthreads;
    int compactions_running; /* under mu */
    uint64_t compaction_gen; /* bumps to wake the compaction threads */

    _Atomic size_t mem_bytes; /* every memtable's arena */
    _Atomic uint64_t applies;
    _Atomic uint64_t corrupt_blocks;
};

/* engine.c */
struct table *engine_table_get(struct storage *s, uint64_t id); /* ref'd */
void engine_table_put(struct table *t);
int engine_save_manifest_locked(struct storage *s); /* manifest_mu held */
void engine_sst_path(struct storage *s, uint64_t table, uint64_t file,
                     char *out, size_t n);
void engine_release_log(struct storage *s);
int64_t engine_now_s(struct storage *s);
void engine_sst_unref(struct sst *x);

/* flush.c */
int flush_start(struct storage *s);
void flush_request(struct storage *s, struct table *t);
int flush_table_wait(struct storage *s, struct table *t);
int flush_open_ssts(struct storage *s, struct table *t, const uint64_t *files,
                    size_t n);
int flush_src_new(struct storage *s, struct sst *x, struct msrc **out);
/* engine_sst_open -- open sstable `file_id` of `t` as a struct sst. */
int engine_sst_open(struct storage *s, struct table *t, uint64_t file_id,
                    struct sst **out);
/* engine_sst_add_locked -- append to t->ssts (exclusive lock held). */
int engine_sst_add_locked(struct table *t, struct sst *x);

/* compaction.c */
void *compaction_main(void *arg); /* a compaction thread */
void compaction_maybe(struct storage *s, struct table *t);
int compaction_run_all(struct storage *s, struct table *t);
uint64_t compaction_pending(struct storage *s, struct table *t);
/*
 * compaction_run_files -- compact exactly the sstables of `table_id` with
 * these file ids (the others count as outside); for tests and tools.
 */
int compaction_run_files(struct storage *s, uint64_t table_id,
                         const uint64_t *ids, size_t n);

#endif /* CAIRN_STORAGE_ENGINE_INT_H */
