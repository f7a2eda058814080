/*
 * tokens.h -- token metadata: which node owns which tokens, and where a
 * key's replicas are.
 *
 * Every node owns `num_tokens` random tokens (vnodes) on the signed 64-bit
 * ring of common/token.h. A token t of the ring owns the range
 * (previous token, t]; a key's token belongs to the first ring token at or
 * after it, wrapping past INT64_MAX to the smallest token. A keyspace with
 * replication factor RF keeps a key on the next RF distinct nodes walking
 * clockwise from there. When racks are configured (more than one distinct
 * rack), the walk first takes nodes of racks it has not used yet, and only
 * when every rack is used takes the nodes it skipped, in the order met --
 * so RF replicas span min(RF, racks) racks.
 *
 * Two objects: `struct tokens_meta` is the mutable working copy held by the
 * one owner of cluster state (not thread-safe); `tokens_snap_build()` turns
 * it into a `struct tokens_snap`, immutable and reference-counted, that any
 * number of threads may read and unref concurrently without a lock.
 *
 * Pending ranges: while a node joins or leaves, ranges move, and writes must
 * also reach the node that is taking a range over. The topology work records
 * those as (left, right] -> host id; a snapshot answers "natural replicas
 * plus pending replicas" for a token.
 */
#ifndef CAIRN_RING_TOKENS_H
#define CAIRN_RING_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "ring/ring.h"

#define TOKENS_DEFAULT_NUM 16   /* vnodes per node unless configured */
#define TOKENS_RACK_MAX    64   /* rack name bytes, NUL included */
#define TOKENS_MAX_NUM     4096 /* tokens one node may own */

struct tokens_meta;
struct tokens_snap;

/*
 * tokens_pick -- choose `n` (1..TOKENS_MAX_NUM) distinct random tokens from
 * `r`, none of them already owned in `taken` (NULL for an empty ring), and
 * write them sorted to `out`. Returns 0 or -EINVAL.
 */
int tokens_pick(struct ring_rand *r, const struct tokens_snap *taken, size_t n,
                int64_t *out);

/* tokens_meta_new -- an empty working copy; NULL when out of memory. */
struct tokens_meta *tokens_meta_new(void);

/* tokens_meta_free -- release `m` (NULL is ignored). */
void tokens_meta_free(struct tokens_meta *m);

/*
 * tokens_meta_set_node -- node `id` now owns exactly `tokens[0..n)` and sits
 * in `rack` (NULL or "" for none). Replaces what `id` had. Returns 0,
 * -EINVAL (n out of range, duplicate token, rack too long, or a token owned
 * by another node -- nothing changes then) or -ENOMEM.
 */
int tokens_meta_set_node(struct tokens_meta *m, const struct ring_host_id *id,
                         const char *rack, const int64_t *tokens, size_t n);

/* tokens_meta_remove_node -- forget `id`; CAIRN_ENOTFOUND if unknown. */
int tokens_meta_remove_node(struct tokens_meta *m,
                            const struct ring_host_id *id);

/*
 * tokens_meta_add_pending -- writes for tokens in (left, right] (wrapping
 * when left >= right) must also go to `id`. Returns 0 or -ENOMEM.
 */
int tokens_meta_add_pending(struct tokens_meta *m, int64_t left, int64_t right,
                            const struct ring_host_id *id);

/* tokens_meta_clear_pending -- drop every pending range. */
void tokens_meta_clear_pending(struct tokens_meta *m);

/*
 * tokens_snap_build -- an immutable snapshot of `m` with one reference, in
 * `*out` (NULL on failure). Returns 0 or -ENOMEM.
 */
int tokens_snap_build(const struct tokens_meta *m, struct tokens_snap **out);

/* tokens_snap_ref -- take one more reference; returns `s`. Any thread. */
struct tokens_snap *tokens_snap_ref(struct tokens_snap *s);

/* tokens_snap_unref -- drop a reference; the last one frees. Any thread. */
void tokens_snap_unref(struct tokens_snap *s);

/* tokens_snap_node_count -- how many nodes own tokens. */
size_t tokens_snap_node_count(const struct tokens_snap *s);

/* tokens_snap_token_count -- how many tokens the ring holds in all. */
size_t tokens_snap_token_count(const struct tokens_snap *s);

/*
 * tokens_snap_sorted_tokens -- a copy of every ring token in ring order
 * (ascending) into *out (mem_free'd by the caller; one spare slot at the
 * end) and its length into *n. 0, or -ENOMEM with *out NULL and *n 0.
 */
int tokens_snap_sorted_tokens(const struct tokens_snap *s, int64_t **out,
                              size_t *n);

/*
 * tokens_snap_node -- the i-th node (0 <= i < node_count, sorted by host
 * id): its id, rack ("" when none) and sorted tokens. Pointers live as
 * long as the snapshot.
 */
const struct ring_host_id *tokens_snap_node(const struct tokens_snap *s,
                                            size_t i, const char **rack,
                                            const int64_t **tokens,
                                            size_t *ntokens);

/* tokens_snap_find -- index of `id` in the snapshot, or -1. */
long tokens_snap_find(const struct tokens_snap *s,
                      const struct ring_host_id *id);

/* tokens_snap_owner -- the node index owning `token`; -1 on an empty ring */
long tokens_snap_owner(const struct tokens_snap *s, int64_t token);

/*
 * tokens_snap_replicas -- the natural replicas of `token` for replication
 * factor `rf`: node indexes into `out` (room for `rf`), first the primary.
 * `*n` gets min(rf, node_count). Returns 0 or -EINVAL (rf == 0).
 */
int tokens_snap_replicas(const struct tokens_snap *s, int64_t token, size_t rf,
                         size_t *out, size_t *n);

/*
 * tokens_snap_pending -- host ids of the pending replicas of `token` (a node
 * taking the range over need not own any token yet): at most `cap` into
 * `out`, each once, the count into `*n`.
 */
void tokens_snap_pending(const struct tokens_snap *s, int64_t token,
                         struct ring_host_id *out, size_t cap, size_t *n);

/*
 * tokens_snap_write_replicas -- where a write of `token` goes while ranges
 * move: the natural replicas for `rf` (primary first) and then each
 * pending replica not already among them, as host ids, at most `cap` into
 * `out`, the count into `*n`. Returns 0, -EINVAL (rf == 0) or -ENOMEM.
 */
int tokens_snap_write_replicas(const struct tokens_snap *s, int64_t token,
                               size_t rf, struct ring_host_id *out, size_t cap,
                               size_t *n);

/*
 * tokens_snap_ownership -- the fraction of the ring each node replicates at
 * replication factor `rf` (rf 1: primary ranges only), into
 * `out[0..node_count)`. The fractions sum to min(rf, node_count).
 * Returns 0 or -EINVAL (rf == 0).
 */
int tokens_snap_ownership(const struct tokens_snap *s, size_t rf, double *out);

#endif /* CAIRN_RING_TOKENS_H */
