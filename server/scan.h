/*
 * scan.h -- a table scanned across the ring in token order, with paging
 * (the client's Scan request in a cluster; YCSB workload E).
 *
 * The ring is cut into ranges at its tokens; from the paging state's
 * token on, each range is read (RangeReadReq, live rows) from one of its
 * replicas -- this node when it is one, else the first one alive, the
 * next on failure -- until the page is full. The paging state is the
 * last (partition, row) returned, the same as a single node's, so a scan
 * may continue on any node.
 */
#ifndef CAIRN_SERVER_SCAN_H
#define CAIRN_SERVER_SCAN_H

struct call;
struct node;
struct proxy;
struct cluster;

/*
 * scan_ring -- answer scan `c` (on a worker thread: it waits on peers).
 * 0, or the code to answer with (the detail recorded).
 */
int scan_ring(struct node *n, struct proxy *p, struct cluster *cl,
              struct call *c);

#endif /* CAIRN_SERVER_SCAN_H */
