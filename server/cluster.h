/*
 * cluster.h -- the one owner of cluster state in a node: identity (host
 * id, tokens, generation), gossip and failure detection, saved peers,
 * schema agreement, and the peer transport they ride on.
 *
 * It runs its own thread and libuv loop (the cluster loop): a 1 s timer
 * drives ring/gossip.c, received gossip frames go to it, its events move
 * peers' addresses in the transport and are logged. After every change it
 * publishes a new immutable snapshot (clsnap.h) that request paths read
 * without locks.
 *
 * Identity lives in the data directory: file `host_id` (server.c) and
 * file `ring` (our tokens, the last generation and every peer we knew,
 * written to a temporary file, fsynced and renamed). A first start picks
 * num_tokens random tokens; a restart keeps them, bumps the generation
 * and seeds gossip with the saved peers, so it rejoins even when no seed
 * answers (D06). A new node with no saved peers whose seeds never answer
 * fails with "no reachable seed", unless it is a seed itself, lists no
 * seed at all (a one-node cluster) or was started with --new-cluster.
 */
#ifndef CAIRN_SERVER_CLUSTER_H
#define CAIRN_SERVER_CLUSTER_H

#include <stdint.h>

#include "ring/ring.h"
#include "server/clsnap.h"
#include "server/config.h"
#include "server/peer.h"
#include "server/schema.h"
#include "storage/storage.h"

struct cluster;

/*
 * cluster_start -- load identity and saved peers, bind the peer port and
 * start gossip on the cluster thread. -errno / CAIRN_ECORRUPT with a
 * detail (the port is taken, the ring file is damaged, ...).
 */
int cluster_start(const struct config *cfg, struct storage *st,
                  struct schema *sc, const uint8_t host_id[16],
                  struct cluster **out);

/*
 * cluster_wait_ready -- block until this node may serve: it exchanged
 * gossip with a live peer or seed and holds the schema its peers agree
 * on, or it may run alone (a seed, or --new-cluster). While waiting it
 * logs the seeds and peers tried every few seconds. Returns 0,
 * CAIRN_EUNAVAILABLE ("no reachable seed", detail set) or CAIRN_ECLOSED
 * when `*stop` became non-zero (a signal came).
 */
int cluster_wait_ready(struct cluster *c, volatile int *stop);

/* cluster_pub -- where snapshots are published; valid until stop. */
struct clsnap_pub *cluster_pub(struct cluster *c);

/*
 * cluster_peer -- the peer transport (peer.h), owned by the cluster loop;
 * handlers registered with peer_on() (from any thread) run there.
 */
struct peer *cluster_peer(struct cluster *c);

/*
 * cluster_schema_changed -- the local schema changed: spread its new
 * version now instead of at the next tick. Any thread.
 */
void cluster_schema_changed(struct cluster *c);

/* cluster_set_draining -- report the node as drained in snapshots. */
void cluster_set_draining(struct cluster *c);

/* cluster_stop -- stop gossip and the transport, join the thread, free. */
void cluster_stop(struct cluster *c);

#endif /* CAIRN_SERVER_CLUSTER_H */
