/*
 * proxy.h -- the coordinator in the request path, and the replica side of
 * the peer protocol's replication messages.
 *
 * Any node coordinates. A client write or read arriving on a client loop
 * is handed to the proxy's own thread and libuv loop (the proxy loop),
 * which drives the pure state machines of server/coord/ (write.h,
 * read.h): it turns their actions into peer messages (replication.proto
 * inside peer.proto), hints (hints.h), timers and the client's answer, and
 * feeds replica answers back. Replicas are the natural replicas of the
 * partition's token (plus pending ones for writes) in the current
 * cluster snapshot (clsnap.h); this node, when it is one of them, is
 * served directly rather than over a socket.
 *
 * Replica side: MutationReq is applied to storage and acknowledged after
 * the durability callback; ReadReq and RangeReadReq are answered from the
 * worker pool (replica.h). Hints for a node are replayed, throttled, once
 * the snapshot shows it alive.
 *
 * Only a cluster of more than one node goes through the proxy; a lone
 * node answers from its own storage as before (same result, no hop).
 */
#ifndef CAIRN_SERVER_PROXY_H
#define CAIRN_SERVER_PROXY_H

#include <stdint.h>

#include "proto/peer.pb-c.h"
#include "ring/ring.h"

struct call;
struct cluster;
struct config;
struct hints;
struct node;
struct proxy;
struct schema;
struct storage;

/*
 * proxy_start -- start the proxy thread and register the replication
 * handlers with the cluster's peer transport; `hints` (NULL: hinted
 * handoff off) belongs to the proxy from then on, even on failure... not:
 * on failure the caller still owns it. 0 or a negative code.
 */
int proxy_start(const struct config *cfg, struct node *node, struct cluster *cl,
                struct hints *hints, struct proxy **out);

/*
 * proxy_submit -- take client call `c` (a write or a read) when the
 * cluster has more than one node: 1 (the proxy answers it), or 0 (the
 * caller serves it locally). Any client loop.
 */
int proxy_submit(struct proxy *p, struct call *c);

/*
 * proxy_call -- send request `req` (its request_id is set here) to `to`
 * and wait for the answer, at most 10 s: 0 and *resp (free with
 * cairn__peer_message__free_unpacked), or CAIRN_EUNAVAILABLE (not
 * sent), CAIRN_ETIMEOUT, CAIRN_ECLOSED. Blocks: never on the proxy loop.
 */
int proxy_call(struct proxy *p, const struct ring_host_id *to,
               Cairn__PeerMessage *req, Cairn__PeerMessage **resp);

/*
 * proxy_stop -- unregister the handlers, fail what is in flight with
 * CAIRN_ECLOSED, stop the thread, close the hints given to proxy_start
 * (the proxy owns them). Messages and send completions the peer
 * transport still hands over are dropped from then on; the memory stays
 * until proxy_free, which must come after the transport stopped
 * (cluster_stop). NULL is ignored.
 */
void proxy_stop(struct proxy *p);

/* proxy_free -- release a stopped proxy. NULL is ignored. */
void proxy_free(struct proxy *p);

#endif /* CAIRN_SERVER_PROXY_H */
