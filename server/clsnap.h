/*
 * clsnap.h -- cluster state as the request paths see it: immutable,
 * reference-counted snapshots of the ring, the liveness of every node and
 * the schema, published by the one owner of cluster state (cluster.h).
 *
 * Any loop or thread calls clsnap_get() to take the current snapshot and
 * clsnap_put() when done: no lock is taken on either side for readers.
 * The publisher swaps a pointer and waits (a few instructions at most)
 * until no reader is between loading the old pointer and taking its
 * reference, then drops its own reference; the last holder frees.
 */
#ifndef CAIRN_SERVER_CLSNAP_H
#define CAIRN_SERVER_CLSNAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/gossip.h"
#include "ring/tokens.h"
#include "server/schema.h"

/* One node as the owner last saw it. */
struct clsnap_node {
    struct ring_host_id id;
    char address[GOSSIP_ADDR_MAX]; /* client address "host:baseport" */
    char peer_address[GOSSIP_ADDR_MAX];
    bool alive; /* heartbeat advancing (always true for ourselves) */
    enum gossip_status status;
    uint64_t load;  /* bytes on disk */
    size_t ntokens; /* tokens it owns in the ring */
    uint64_t generation, heartbeat;
    char rack[TOKENS_RACK_MAX];
    uint8_t schema[GOSSIP_SCHEMA_LEN];
};

struct clsnap {
    atomic_int refs;
    struct ring_host_id self;
    struct tokens_snap *ring;  /* NORMAL/LEAVING nodes' tokens */
    struct clsnap_node *nodes; /* sorted by host id, ourselves included */
    size_t nnodes;
    uint8_t schema_version[GOSSIP_SCHEMA_LEN]; /* ours */
    bool schema_agreed;          /* every live node has our version */
    bool serving;                /* we joined: gossip with a peer, or alone */
    struct schema_ks *keyspaces; /* name and rf of each keyspace */
    size_t nkeyspaces;
};

/* The publication point; one per server. Zero-initialise it. */
struct clsnap_pub {
    _Atomic(struct clsnap *) cur;
    atomic_int readers;
};

/*
 * clsnap_new -- an empty snapshot (one reference) for the owner to fill;
 * NULL when out of memory. `ring` and the arrays are released with it.
 */
struct clsnap *clsnap_new(void);

/*
 * clsnap_publish -- make `s` (whose reference the publisher gives up) the
 * current snapshot and drop the publisher's hold on the previous one.
 * Owner only.
 */
void clsnap_publish(struct clsnap_pub *pub, struct clsnap *s);

/*
 * clsnap_get -- the current snapshot with one reference for the caller,
 * or NULL before the first publish. Any thread, no lock.
 */
struct clsnap *clsnap_get(struct clsnap_pub *pub);

/* clsnap_put -- drop a reference (NULL ignored). Any thread. */
void clsnap_put(struct clsnap *s);

/* clsnap_find -- the node of `id` in `s`, or NULL. */
const struct clsnap_node *clsnap_find(const struct clsnap *s,
                                      const struct ring_host_id *id);

/* clsnap_keyspace_rf -- rf of keyspace `name`, or 0 when unknown. */
uint32_t clsnap_keyspace_rf(const struct clsnap *s, const char *name);

/* clsnap_retire -- at shutdown: unpublish and drop the current one. */
void clsnap_retire(struct clsnap_pub *pub);

#endif /* CAIRN_SERVER_CLSNAP_H */
