/*
 * repair.h -- anti-entropy repair (`cairn repair [KEYSPACE]`).
 *
 * For every table of the keyspace (or of every keyspace) and every token
 * range of the ring (between two consecutive ring tokens), the node asks
 * each replica of the range for a Merkle tree of it (merkle.h), compares
 * the trees, and only for leaves that differ reads the data of that
 * sub-range from every replica (tombstones included), merges it by the
 * conflict rule (coord/resolve.h) and sends each replica exactly what it
 * lacks, as mutations with their original timestamps. Safe while writes
 * go on: a write arriving meanwhile only makes a leaf differ, and what
 * is sent merges like any copy of the same cells.
 *
 * A range one of whose replicas is down, or a replica that fails to
 * answer, makes the repair partial: it goes on with the other ranges and
 * reports failure at the end (exit 1 of the CLI, D05).
 */
#ifndef CAIRN_SERVER_REPAIR_H
#define CAIRN_SERVER_REPAIR_H

#include <stdint.h>

#include "common/buf.h"

struct proxy;
struct cluster;
struct schema;

struct repair_report {
    uint64_t tables;
    uint64_t ranges;           /* (table, ring range) pairs compared */
    uint64_t ranges_differing; /* with at least one differing leaf */
    uint64_t leaves_differing; /* sub-ranges whose data was read */
    uint64_t partitions_sent;  /* partition diffs written to replicas */
    uint64_t ranges_failed;    /* skipped: replica down or no answer */
    char first_error[256];     /* why the first failed range failed */
};

/*
 * repair_run -- repair keyspace `ks` ("" or NULL: every keyspace) as
 * above, filling `rep`. Blocks (calls peers): run it on a worker thread.
 * 0 when every range was compared and repaired; CAIRN_ENOKEYSPACE; or
 * CAIRN_EUNAVAILABLE when some ranges could not be (see rep).
 */
int repair_run(struct proxy *p, struct cluster *cl, struct schema *sc,
               const char *ks, struct repair_report *rep);

/* repair_render -- the report as JSON and as text. 0 or -ENOMEM. */
int repair_render(const struct repair_report *rep, const char *ks, int rc,
                  struct buf *json, struct buf *text);

#endif /* CAIRN_SERVER_REPAIR_H */
