/*
 * resolve.h -- merging replica answers by the conflict rule.
 *
 * Replicas answer a coordinator's read with their state of a partition,
 * tombstones included (storage_read.include_tombstones = 1). This module
 * merges several such answers into one by the rule of ARCHITECTURE.md:
 * the higher timestamp wins; on a tie a tombstone beats a value, then the
 * larger value bytewise wins. A partition tombstone shadows every cell,
 * row and range tombstone with a timestamp at or below its own; a range
 * tombstone the rows it covers; a row tombstone the row's cells.
 *
 * The merge result is canonical: shadowed entries are dropped, entries
 * are sorted and deduplicated, so two replicas in the same logical state
 * produce the same bytes and the same digest (XXH3 over a canonical
 * encoding) whatever order their writes arrived in. Timestamps are never
 * changed: what a read repair writes back carries the original ones, so
 * it can never shadow a later write (scenario C11).
 *
 * Expiry (TTL) is not evaluated here: an expiring cell merges like any
 * value, so the merge does not depend on the time of the read.
 *
 * A merged partition owns its bytes (`struct coord_part`, MEM_SERVER);
 * inputs are only read and may be freed once the call returns.
 */
#ifndef CAIRN_SERVER_COORD_RESOLVE_H
#define CAIRN_SERVER_COORD_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

/* A partition whose rows, cells and bytes this struct owns. */
struct coord_part {
    struct storage_partition p;
    void *mem; /* arena chunks holding everything p points to */
};

/* coord_part_init -- an empty partition (no rows, no tombstone). */
void coord_part_init(struct coord_part *cp);

/* coord_part_free -- release everything; `cp` is empty afterwards. */
void coord_part_free(struct coord_part *cp);

/* coord_part_move -- hand `src`'s contents to `dst` (freed first). */
void coord_part_move(struct coord_part *dst, struct coord_part *src);

/* coord_bytes_cmp -- bytewise order, a shorter prefix first. */
int coord_bytes_cmp(struct storage_bytes a, struct storage_bytes b);

/*
 * coord_cell_cmp -- > 0 when `a` beats `b` by the conflict rule, < 0 when
 * b wins, 0 when they are the same cell. Total, so all nodes agree. On a
 * tie of timestamp and kind: tombstones by later deletion time, values by
 * larger bytes, then by later expiry (0, never, counts as latest).
 */
int coord_cell_cmp(const struct storage_cell *a, const struct storage_cell *b);

/*
 * coord_resolve_merge -- merge `n` answers for one partition into `out`
 * (canonical, see above). `out` is initialised by the call; on failure
 * (-ENOMEM) it is left empty. n = 0 gives an empty partition.
 */
int coord_resolve_merge(const struct storage_partition *const *in, size_t n,
                        struct coord_part *out);

/*
 * coord_resolve_digest -- XXH3 of the canonical encoding of `p` (merged
 * alone first, so any answer may be passed). Equal logical states give
 * equal digests. 0 or -ENOMEM.
 */
int coord_resolve_digest(const struct storage_partition *p, uint64_t *out);

/*
 * coord_resolve_trim -- the canonical part of `p` at or before clustering
 * key `bound` (rows with ck <= bound, range tombstones starting at or
 * before it, the partition tombstone); bound NULL keeps everything.
 */
int coord_resolve_trim(const struct storage_partition *p,
                       const struct storage_bytes *bound,
                       struct coord_part *out);

/*
 * coord_resolve_diff -- what a replica whose answer was `replica` lacks
 * of `merged` (the merge of all answers, replica's included): the
 * partition tombstone, range tombstones, row tombstones and cells of
 * `merged` that differ from the replica's. Empty (coord_part_empty)
 * when the replica is up to date. Applying the diff to the replica
 * makes its state equal to `merged`.
 */
int coord_resolve_diff(const struct storage_partition *replica,
                       const struct storage_partition *merged,
                       struct coord_part *out);

/* coord_part_empty -- no tombstone, range or row at all? */
int coord_part_empty(const struct storage_partition *p);

#endif /* CAIRN_SERVER_COORD_RESOLVE_H */
