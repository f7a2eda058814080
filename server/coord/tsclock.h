/*
 * tsclock.h -- the write timestamp source of a coordinator.
 *
 * Conflicts resolve by timestamp, so the timestamp source decides which of
 * two writes wins. cairn uses a hybrid clock (in the spirit of hybrid
 * logical clocks): the next timestamp is max(wall_us, last + 1), where
 * `last` is the highest timestamp this node has issued *or observed*. The
 * node observes every timestamp it applies as a replica (and any a peer
 * reports), so a write coordinated by a node whose wall clock is slow
 * still gets a timestamp above every write that node has already seen.
 *
 * The promise, documented for operators (scenario C18): a write W2 whose
 * coordinator has applied or observed W1 (every replica of the key has,
 * once W1 reached it) is stamped above W1 whatever the clock skew. If the
 * coordinator of W2 has not seen W1 yet, W2 still wins whenever the skew
 * between the two coordinators is smaller than the time between W1's
 * stamping and W2's; beyond that, W2 may lose, and
 * `struct coord_tsclock.behind` counts the stamps a slow wall clock had to
 * borrow from `last` so operators can see the skew.
 *
 * A timestamp too far in the future (a client's, or a peer's with a broken
 * clock) is refused instead of adopted: one bad clock must not pin a key
 * or drag every node's clock forward. Pure logic: the caller passes the
 * wall time in. Not thread-safe: one owner, or guard it.
 */
#ifndef CAIRN_SERVER_COORD_TSCLOCK_H
#define CAIRN_SERVER_COORD_TSCLOCK_H

#include <stdint.h>

struct coord_tsclock {
    int64_t last;          /* highest timestamp issued or observed (µs) */
    int64_t max_future_us; /* refuse timestamps beyond wall + this */
    uint64_t behind;       /* stamps above the wall clock (skew seen) */
    uint64_t refused;      /* timestamps refused as too far ahead */
};

#define COORD_TS_MAX_FUTURE_DEFAULT (60LL * 1000 * 1000) /* 60 s */

/* coord_tsclock_init -- a clock that has seen nothing yet. */
void coord_tsclock_init(struct coord_tsclock *c, int64_t max_future_us);

/*
 * coord_tsclock_next -- a fresh timestamp: max(wall_us, last + 1). Strictly
 * above every timestamp issued or observed before; never goes backwards
 * when the wall clock does.
 */
int64_t coord_tsclock_next(struct coord_tsclock *c, int64_t wall_us);

/*
 * coord_tsclock_check -- may a write carry timestamp `ts` (given by a
 * client)? 0, or -EINVAL with a detail when ts > wall_us + max_future_us
 * or ts is not positive. An accepted timestamp is observed.
 */
int coord_tsclock_check(struct coord_tsclock *c, int64_t ts, int64_t wall_us);

/*
 * coord_tsclock_observe -- note a timestamp seen in a write applied here
 * or a peer message, so later stamps go above it. Timestamps beyond the
 * future bound are ignored (counted in `refused`); returns 1 if adopted.
 */
int coord_tsclock_observe(struct coord_tsclock *c, int64_t ts, int64_t wall_us);

#endif /* CAIRN_SERVER_COORD_TSCLOCK_H */
