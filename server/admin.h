/*
 * admin.h -- the node's answers to operators' requests (the Admin request
 * of proto/client.proto; `cairn status`, `ring`, `info`, `describe-ring`,
 * `gossipinfo`, `flush`, `compact`, `drain`).
 *
 * Views of the cluster are rendered on the calling loop from the current
 * cluster snapshot (clsnap.h), without a lock; flush, compact and drain
 * wait on the disk and run on libuv's worker pool. Each answer carries
 * JSON and the same facts as text in nodetool's layout.
 */
#ifndef CAIRN_SERVER_ADMIN_H
#define CAIRN_SERVER_ADMIN_H

#include "server/call.h"

struct node;

/* admin_submit -- answer `c` (an Admin request) for node `n`. */
void admin_submit(struct node *n, struct call *c);

#endif /* CAIRN_SERVER_ADMIN_H */
