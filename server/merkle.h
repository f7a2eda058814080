/*
 * merkle.h -- Merkle trees over token ranges, for anti-entropy repair.
 *
 * A tree splits an inclusive token range into 2^depth equal leaves. A
 * leaf's hash is XXH3 over the digests (coord_resolve_digest: canonical,
 * tombstones included, expiry not evaluated) of its partitions in token
 * order; an inner node hashes its two children. Two replicas holding the
 * same logical data build equal trees whatever order their writes came
 * in, and comparing trees top-down names the leaves -- token ranges --
 * whose data differs, so repair streams only those.
 *
 * A tree owns its memory (MEM_SERVER). Building reads storage (it may
 * block on disk); everything else is pure. Not thread-safe per tree.
 */
#ifndef CAIRN_SERVER_MERKLE_H
#define CAIRN_SERVER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

struct storage;

#define MERKLE_MAX_DEPTH 20

struct merkle {
    int64_t start, end; /* inclusive token range */
    int depth;          /* 2^depth leaves */
    uint64_t *node;     /* heap order: node[1] root, leaves from 2^depth */
    uint64_t *parts;    /* partitions per leaf */
};

/*
 * merkle_init -- an empty tree (every leaf hashed over nothing) of
 * 2^depth leaves over [start, end]. 0, -EINVAL (start > end, depth out of
 * 0..MERKLE_MAX_DEPTH) or -ENOMEM.
 */
int merkle_init(struct merkle *m, int64_t start, int64_t end, int depth);

/* merkle_free -- release the tree's memory. */
void merkle_free(struct merkle *m);

/* merkle_leaf_of -- the leaf holding `token` (which must be in range). */
size_t merkle_leaf_of(const struct merkle *m, int64_t token);

/* merkle_leaf_range -- the inclusive token range of leaf `i`. */
void merkle_leaf_range(const struct merkle *m, size_t i, int64_t *start,
                       int64_t *end);

/*
 * merkle_build -- a tree of table `table_id` of `s` over [start, end]:
 * scans with tombstones in pages; a partition cut by a page is read whole
 * so its digest is the same on every replica. `m` is initialised by the
 * call. 0 or the storage's code.
 */
int merkle_build(struct storage *s, uint64_t table_id, int64_t start,
                 int64_t end, int depth, struct merkle *m);

/*
 * merkle_set_leaves -- fill `m`'s leaves from `n` hashes (n must be
 * 2^depth; -EINVAL otherwise) and compute the inner nodes: how a tree
 * received from another replica is rebuilt.
 */
int merkle_set_leaves(struct merkle *m, const uint64_t *leaves, size_t n);

/* A token range that differs. */
struct merkle_range {
    int64_t start, end;
};

/*
 * merkle_diff -- the ranges where `a` and `b` differ, adjacent leaves
 * joined, in token order, into *out (mem_free it) and *n. -EINVAL when
 * the trees cover different ranges or depths; -ENOMEM.
 */
int merkle_diff(const struct merkle *a, const struct merkle *b,
                struct merkle_range **out, size_t *n);

#endif /* CAIRN_SERVER_MERKLE_H */
