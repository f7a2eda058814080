/*
 * commitlog.h -- the write-ahead log of the engine (format in
 * docs/commitlog-format.md).
 *
 * In periodic and none modes an append is one write(2) under the log's
 * mutex, so a batch reaches the kernel before commitlog_append() returns.
 * In group mode an append only queues its bytes; the sync thread writes
 * every queued record with one write(2), fsyncs, and completes every
 * waiter that fsync covered, so many batches share one write and one
 * fsync, and no append races an fsync of the same file. A
 * failed write or fsync is never retried: the writes it covers fail, and
 * the log moves on to a new segment (or refuses writes while it cannot
 * open one, and again accepts them once it can).
 */
#ifndef CAIRN_STORAGE_COMMITLOG_H
#define CAIRN_STORAGE_COMMITLOG_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define CLOG_MAGIC      0x434C4F47u /* "CLOG" */
#define CLOG_VERSION    1u
#define CLOG_HEADER     24 /* segment header bytes */
#define CLOG_REC_HEADER 12 /* length (4) + XXH64 (8) */

/* Position helpers: segment id in the high 32 bits, offset in the low. */
#define CLOG_POS(seg, off) (((uint64_t)(seg) << 32) | (uint32_t)(off))
#define CLOG_SEG(pos)      ((pos) >> 32)

struct fs;
struct commitlog;

struct commitlog_options {
    struct fs *fs;
    const char *dir;
    enum storage_sync sync;
    uint32_t sync_period_ms;
    size_t segment_bytes;
    int quarantine;       /* see storage_options.quarantine_corrupt_log */
    uint64_t min_segment; /* new segments get ids above this */
};

/*
 * commitlog_replay_fn -- one intact record at position `pos`; a nonzero
 * return stops the replay and fails the open with that code.
 */
typedef int (*commitlog_replay_fn)(void *arg, uint64_t pos, const uint8_t *p,
                                   size_t n);

/*
 * commitlog_open -- replay every segment of o->dir through fn (in position
 * order), cut torn tails, then start a new segment and (in group and
 * periodic modes) the sync thread. CAIRN_ECORRUPT names file and offset of
 * mid-log damage unless o->quarantine.
 */
int commitlog_open(const struct commitlog_options *o, commitlog_replay_fn fn,
                   void *arg, struct commitlog **out);

/*
 * commitlog_close -- write the end marker, sync, stop the sync thread and
 * complete every waiter (with an error if its write was never made
 * durable). NULL is ignored.
 */
void commitlog_close(struct commitlog *l);

/*
 * commitlog_append -- append one record of `n` (> 0) bytes: on 0 it has
 * reached the kernel (group mode: it is queued for the sync thread), *pos
 * is its position and *end the position just after it. Refusals
 * (nothing written): CAIRN_ETOOBIG over half a segment, or the error of
 * opening a segment while the log has none (-ENOSPC on a full disk; the
 * next append tries again). A failed direct write returns -EIO/-ENOSPC
 * and the log moves to a new segment. Thread-safe.
 */
int commitlog_append(struct commitlog *l, const void *p, size_t n,
                     uint64_t *pos, uint64_t *end);

/*
 * commitlog_wait -- call done(arg, rc) once the record ending at `end` is
 * durable under the sync mode: in group mode from the sync thread after
 * the fsync covering it (or at once if one already did), otherwise at
 * once on this thread. rc is -EIO when its segment failed to sync. Split
 * from the append so the engine can apply the batch to its memtable in
 * between, and an acknowledged write is always readable.
 */
void commitlog_wait(struct commitlog *l, uint64_t end, storage_done_fn done,
                    void *arg);

/*
 * commitlog_wait_sync -- block until the record ending at `end` is durable
 * (0) or never will be (its error). In group mode a caller finding no
 * round running runs the next one itself (it writes and fsyncs every
 * queued group, also for others), which spares the hop to the sync
 * thread. Other modes: 0 at once.
 */
int commitlog_wait_sync(struct commitlog *l, uint64_t end);

/* commitlog_head -- the position the next record will get (roughly). */
uint64_t commitlog_head(struct commitlog *l);

/*
 * commitlog_release -- delete every segment whose records all lie before
 * `pos` (everything in them is in sstables). The current one stays.
 */
int commitlog_release(struct commitlog *l, uint64_t pos);

/* commitlog_sync -- fsync what has been appended; for tests and close. */
int commitlog_sync(struct commitlog *l);

struct commitlog_stats {
    uint64_t bytes;      /* segment bytes on disk */
    uint64_t segments;   /* segment files */
    uint64_t unreplayed; /* damaged records skipped by quarantine */
    int read_only;       /* writes are refused now */
    uint64_t syncs;      /* fsyncs done by the sync thread */
};

void commitlog_get_stats(struct commitlog *l, struct commitlog_stats *out);

/* commitlog_oldest -- id of the oldest segment on disk (current if only). */
uint64_t commitlog_oldest(struct commitlog *l);

#endif /* CAIRN_STORAGE_COMMITLOG_H */
