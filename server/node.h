/*
 * node.h -- the request handler of a single node: executes a validated
 * client request against the local schema and storage engine.
 *
 * It is the one place that turns requests into storage calls, behind the
 * call.h interface, so that a coordinator can later take its place and
 * send the same calls to replicas. Writes go to storage_apply() on the
 * calling loop and are answered when the engine reports durability;
 * reads, scans and schema changes run on libuv's worker pool, since they
 * may block on the disk.
 */
#ifndef CAIRN_SERVER_NODE_H
#define CAIRN_SERVER_NODE_H

#include <stdint.h>

#include "server/call.h"
#include "server/config.h"
#include "server/schema.h"
#include "storage/storage.h"

struct node;

/*
 * node_create -- a handler over `st` and `sc` (borrowed; they outlive the
 * node). Makes storage agree with the schema: every table exists, every
 * pending drop is carried out. Blocks on the disk; call at start.
 */
int node_create(const struct config *cfg, struct storage *st, struct schema *sc,
                struct node **out);

/* node_destroy -- release it; no call may be in flight. */
void node_destroy(struct node *n);

/*
 * node_submit -- start executing `c` on `c->loop`'s thread; the answer
 * follows through call_done() (call.h), possibly before this returns.
 */
void node_submit(struct node *n, struct call *c);

/*
 * node_timestamp -- a write timestamp in µs from the wall clock, strictly
 * above every one given before by this node; thread-safe.
 */
int64_t node_timestamp(struct node *n);

struct cluster;

/*
 * node_set_cluster -- the owner of cluster state, for admin requests and
 * schema changes to spread at once. Call before the loops start.
 */
void node_set_cluster(struct node *n, struct cluster *c);

/* node_cluster -- the cluster set above (NULL before). */
struct cluster *node_cluster(struct node *n);

/* node_set_drained -- refuse data requests from now on (drain). */
void node_set_drained(struct node *n);

/* node_storage, node_schema -- what the node serves from. */
struct storage *node_storage(struct node *n);
struct schema *node_schema(struct node *n);

#endif /* CAIRN_SERVER_NODE_H */
