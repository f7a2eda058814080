/*
 * history.h -- a checker for histories of a last-write-wins register.
 *
 * Tests record what clients did: writes of unique values (or deletes) to
 * keys, with the time each started and ended and its outcome, and reads
 * with their time span and what they returned. history_check() then
 * verifies the promise of QUORUM writes and reads: every acknowledged
 * write is visible to every read that started after the acknowledgement,
 * unless a later write replaced it. Formally, a read R returning the
 * value of write X breaks the promise when some write W was acknowledged
 * before R started while X had been acknowledged before W started (so X
 * cannot be the newer of the two), or when X started only after R ended,
 * or when X is known to have failed. A read returning nothing must be
 * explained by the initial empty state or by a delete in the same way.
 * Writes whose outcome is unknown (timeouts, weaker levels) may or may
 * not be seen, and are ordered after anything that ended before they
 * started.
 *
 * Times are any monotonic unit the caller chooses (simulated ns, real
 * µs), as long as all events of one history use the same clock. Used by
 * the coordinator simulation and by the cluster tests. Not thread-safe.
 */
#ifndef CAIRN_TESTS_COORD_HISTORY_H
#define CAIRN_TESTS_COORD_HISTORY_H

#include <stddef.h>
#include <stdint.h>

enum history_outcome {
    HISTORY_PENDING = 0, /* not ended (treated as unknown) */
    HISTORY_OK,          /* acknowledged at the checked level */
    HISTORY_UNKNOWN,     /* timed out, or acknowledged at a weaker level */
    HISTORY_FAILED,      /* certainly not applied (e.g. Unavailable) */
};

struct history;

/* history_new -- an empty history; 0 or -ENOMEM. */
int history_new(struct history **out);

/* history_free -- release it; NULL is ignored. */
void history_free(struct history *h);

/*
 * history_write_begin -- a client started writing `value` (unique over
 * the history, not 0) to `key` at time `t`; `is_delete` makes it a
 * delete (value still unique, it names the delete). *op identifies it.
 * 0, -EINVAL (value 0 or reused) or -ENOMEM.
 */
int history_write_begin(struct history *h, const void *key, size_t klen,
                        uint64_t value, int is_delete, int64_t t, size_t *op);

/* history_write_end -- write `op` ended at `t` with `outcome`. */
void history_write_end(struct history *h, size_t op, int64_t t,
                       enum history_outcome outcome);

/*
 * history_read -- a read of `key` ran from t_start to t_end and returned
 * `value` (0: nothing). 0 or -ENOMEM.
 */
int history_read(struct history *h, const void *key, size_t klen,
                 int64_t t_start, int64_t t_end, uint64_t value);

/*
 * history_check -- 0 when the promise holds for every read; otherwise -1
 * with the first violation described in `why` (NUL-terminated).
 */
int history_check(struct history *h, char *why, size_t whylen);

/* history_counts -- writes and reads recorded (for test reports). */
void history_counts(const struct history *h, size_t *writes, size_t *reads);

#endif /* CAIRN_TESTS_COORD_HISTORY_H */
