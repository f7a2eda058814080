/*
 * memtable.h -- a table's recent writes in memory, sorted.
 *
 * A skiplist of entries (one per mutation) in storage order, with every
 * byte in arena chunks charged to MEM_MEMTABLE. Writers take the
 * memtable's mutex; readers never lock: nodes are published with release
 * stores and never change or move once linked, and the arena is freed only
 * when the last reference goes. Nothing is overwritten: a newer version of
 * a cell is a new node, and readers fold versions by the conflict rule.
 */
#ifndef CAIRN_STORAGE_MEMTABLE_H
#define CAIRN_STORAGE_MEMTABLE_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "storage/merge.h"

/* A memtable also keeps a hash index from partition key to the
 * partition's first node, so a point read of a partition (or of a key
 * not here at all) costs a couple of cache misses, not a skiplist
 * search. */
#include "storage/storage.h"

struct memtable;

/*
 * memtable_new -- an empty memtable with one reference; 0 or -ENOMEM.
 * `acct` (may be NULL) is a counter the arena adds its bytes to while it
 * lives, so the engine sees all memtables' bytes in one place.
 * `expect_bytes` sizes the partition hash index (the flush limit).
 */
int memtable_new(_Atomic size_t *acct, size_t expect_bytes,
                 struct memtable **out);
void memtable_ref(struct memtable *m);
void memtable_unref(struct memtable *m); /* frees at zero */

/*
 * memtable_apply -- insert every mutation of one partition. Mutations
 * must be resolved: expires_s and deleted_s absolute (0 expires_s: never).
 * Thread-safe; 0 or -ENOMEM (then part of the batch may be in).
 */
int memtable_apply(struct memtable *m, int64_t token, const uint8_t *pk,
                   size_t pk_len, const struct storage_mut *muts, size_t nmuts);

/* memtable_bytes -- arena bytes held. */
size_t memtable_bytes(const struct memtable *m);

/* memtable_entries -- nodes inserted. */
uint64_t memtable_entries(const struct memtable *m);

/* memtable_min_ts -- smallest timestamp inserted (INT64_MAX if empty). */
int64_t memtable_min_ts(const struct memtable *m);

/*
 * memtable_src_new -- a merge source over `m` (which it references until
 * closed); 0 or -ENOMEM. One thread uses it at a time.
 */
int memtable_src_new(struct memtable *m, struct msrc **out);

#endif /* CAIRN_STORAGE_MEMTABLE_H */
