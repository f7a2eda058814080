/*
 * replica.h -- the replica side of replication, and the conversions
 * between storage's structs and the messages of proto/replication.proto.
 *
 * A coordinator sends a replica mutations (client writes, hints replayed,
 * read repair, repair streams), reads of a partition (data with
 * tombstones, or only a digest of it) and token range scans. Every message
 * carries original timestamps and absolute expiry and deletion times,
 * fixed by the coordinator, so every replica that applies it reaches the
 * same state, now or hours later from a hint.
 *
 * Messages built here point into a `struct repl_arena`: its blocks, and
 * the storage results whose bytes the message borrows, live until
 * repl_arena_free(). Decoded messages (protobuf-c unpack) are only read.
 * No I/O beyond the storage engine; no locks: any thread may call, each
 * with its own arena.
 */
#ifndef CAIRN_SERVER_REPLICA_H
#define CAIRN_SERVER_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "proto/replication.pb-c.h"
#include "storage/storage.h"

/* Memory a message under construction points into. */
struct repl_arena {
    struct repl_chunk *chunks;
};

/* repl_arena_init -- an empty arena; allocates nothing. */
void repl_arena_init(struct repl_arena *a);

/* repl_arena_free -- release every block and held storage result. */
void repl_arena_free(struct repl_arena *a);

/* repl_arena_alloc -- `n` zeroed bytes living as long as `a`; NULL: -ENOMEM */
void *repl_arena_alloc(struct repl_arena *a, size_t n);

/* repl_arena_hold -- free `r` with the arena (a message borrows from it). */
int repl_arena_hold(struct repl_arena *a, struct storage_result *r);

/*
 * repl_part_to_pb -- `p` as a ReplPartition in `out` (initialised by the
 * call); bytes are borrowed from `p`, arrays come from `a`. 0 or -ENOMEM.
 */
int repl_part_to_pb(struct repl_arena *a, const struct storage_partition *p,
                    Cairn__ReplPartition *out);

/*
 * repl_part_from_pb -- a storage_partition view of `in`: arrays from `a`,
 * bytes borrowed from `in`. 0, -ENOMEM, or CAIRN_EPROTO for a message no
 * replica could have sent (unsorted rows are left to the caller's merge).
 */
int repl_part_from_pb(struct repl_arena *a, const Cairn__ReplPartition *in,
                      struct storage_partition *out);

/*
 * repl_part_to_muts -- the mutations that, applied to any replica, give it
 * at least the state of `p` (cells, tombstones at every scope, original
 * timestamps and times). Arrays from `a`, bytes borrowed from `p`.
 */
int repl_part_to_muts(struct repl_arena *a, const struct storage_partition *p,
                      struct storage_mut **muts, size_t *n);

/*
 * repl_batch_to_pb -- batch `b` as a MutationReq with `tag`. Cells must
 * already carry absolute expiry (ttl_s 0) and deletes their deletion time
 * (repl_batch_fix_times); -EINVAL otherwise, so that no replica ever
 * computes a time of its own.
 */
int repl_batch_to_pb(struct repl_arena *a, const struct storage_batch *b,
                     uint32_t tag, Cairn__MutationReq *out);

/*
 * repl_batch_fix_times -- the coordinator's step: each cell's expiry from
 * its ttl_s (or `default_ttl_s`) counted from `now_s`, each delete's
 * deletion time `now_s` when unset. Changes `muts` in place.
 */
void repl_batch_fix_times(struct storage_mut *muts, size_t n, int64_t now_s,
                          uint32_t default_ttl_s);

/*
 * repl_batch_from_pb -- a storage_batch view of `m` (arrays from `a`,
 * bytes borrowed). CAIRN_EPROTO for an unknown mutation kind.
 */
int repl_batch_from_pb(struct repl_arena *a, const Cairn__MutationReq *m,
                       struct storage_batch *out);

/*
 * replica_apply -- apply `m` to `s`; done(arg, rc) reports durability
 * under the sync mode, and only then may the replica acknowledge. Returns
 * 0 (done will be called once) or the refusal (done is not called).
 */
int replica_apply(struct storage *s, const Cairn__MutationReq *m,
                  storage_done_fn done, void *arg);

/*
 * replica_read -- answer `q` into `out` (initialised by the call): the
 * partition (pkey set even when empty) or, for digest_only, its digest as
 * coord_resolve_digest computes it. Storage errors go into out->code and
 * out->message; the return is 0 or -ENOMEM.
 */
int replica_read(struct storage *s, const Cairn__ReadReq *q,
                 struct repl_arena *a, Cairn__ReadResp *out);

/* replica_range_read -- answer a token range scan, as replica_read. */
int replica_range_read(struct storage *s, const Cairn__RangeReadReq *q,
                       struct repl_arena *a, Cairn__RangeReadResp *out);

#endif /* CAIRN_SERVER_REPLICA_H */
