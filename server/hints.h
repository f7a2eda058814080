/*
 * hints.h -- hinted handoff: writes a coordinator could not deliver, kept
 * on its disk until the target replica is back.
 *
 * A hint is a packed MutationReq (proto/replication.proto, absolute times
 * fixed by the coordinator) for one target host id. Hints are appended to
 * per-target segment files (format in docs/hints-format.md): checksummed
 * records, fsynced by a background thread every `sync_ms`; a store is
 * reported durable (its callback) only after the fsync that covers it, so
 * a hint counted for consistency level ANY survives a crash. Each hint
 * expires at min(hint window, the table's gc grace) after it was stored:
 * replaying it later could bring back data whose tombstone was purged.
 *
 * On open the directory is scanned; a torn last record (a crash in the
 * middle of an append) is cut off, a damaged record in the middle is
 * skipped, and everything else is kept, so hints survive a restart.
 * Replay (hints_replay) runs on the caller's thread, throttled, and
 * deletes a segment once every hint in it was delivered or expired.
 *
 * Thread-safe: one mutex around the files; the sync thread and any number
 * of storing threads and one replay per target may run at once.
 */
#ifndef CAIRN_SERVER_HINTS_H
#define CAIRN_SERVER_HINTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct fs;
struct clk;
struct hints;

#define HINTS_HOST_ID_LEN 16
#define HINTS_MAX_RECORD  (16u << 20) /* a hint is one bounded mutation */

struct hints_options {
    const char *dir;       /* created if missing */
    int64_t window_s;      /* hint window; default 3 h */
    uint32_t sync_ms;      /* fsync interval; default 50 */
    uint32_t replay_per_s; /* replay throttle; 0: default 2000 */
    struct fs *fs;         /* NULL: fs_posix() */
    struct clk *clock;     /* NULL: clk_system() */
};

/* hints_options_default -- fill `o` with the defaults above. */
void hints_options_default(struct hints_options *o);

/*
 * hints_open -- scan `o->dir` (repairing torn tails), start the sync
 * thread. 0 or a negative code (-EIO, -ENOMEM...); *out NULL on failure.
 */
int hints_open(const struct hints_options *o, struct hints **out);

/* hints_close -- fsync and close everything, stop the thread. NULL ok. */
void hints_close(struct hints *h);

/* Durability of a stored hint: 0, or why it will never be replayed. */
typedef void (*hints_done_fn)(void *arg, int rc);

/*
 * hints_store -- append hint `msg` (n bytes) for `target`, valid for
 * min(window, gc_grace_s) from now. done (may be NULL) fires on the sync
 * thread after the covering fsync. Returns 0 (done will fire once) or a
 * refusal (-EINVAL for an empty or oversized hint, -EIO...; done is not
 * called).
 */
int hints_store(struct hints *h, const uint8_t target[HINTS_HOST_ID_LEN],
                uint32_t gc_grace_s, const void *msg, size_t n,
                hints_done_fn done, void *arg);

/*
 * hints_deliver_fn -- send one hint to its target and wait for the
 * answer: 0 when the target applied it, else a negative code (replay
 * stops and the hint stays).
 */
typedef int (*hints_deliver_fn)(void *arg, const uint8_t *msg, size_t n);

/*
 * hints_replay -- deliver every stored hint of `target` in order,
 * at most replay_per_s a second, dropping expired ones; each fully
 * handled segment is deleted. Hints stored meanwhile wait for the next
 * replay. Returns 0, deliver's error (the rest is kept), or an I/O code.
 */
int hints_replay(struct hints *h, const uint8_t target[HINTS_HOST_ID_LEN],
                 hints_deliver_fn deliver, void *arg);

/* hints_pending -- hints of `target` on disk, not yet delivered. */
uint64_t hints_pending(struct hints *h,
                       const uint8_t target[HINTS_HOST_ID_LEN]);

struct hints_stats {
    uint64_t stored;    /* appended since start */
    uint64_t delivered; /* acknowledged by their target */
    uint64_t dropped;   /* expired, damaged or torn */
    uint64_t pending;   /* on disk now, over every target */
};

/* hints_get_stats -- the counters above. */
void hints_get_stats(struct hints *h, struct hints_stats *out);

/*
 * hints_render_metrics -- append the counters in Prometheus text to
 * `out` (cairn_hints_stored_total ...). 0 or -ENOMEM.
 */
int hints_render_metrics(struct hints *h, struct buf *out);

#endif /* CAIRN_SERVER_HINTS_H */
