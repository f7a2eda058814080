/*
 * metrics.h -- the node's counters and latency histograms, and their
 * Prometheus text rendering for the HTTP port's /metrics.
 *
 * One process-wide set; every update is atomic, so any loop or worker may
 * record while the HTTP thread renders. Storage figures are read from
 * storage_get_stats() and memory from mem.h at render time.
 */
#ifndef CAIRN_SERVER_METRICS_H
#define CAIRN_SERVER_METRICS_H

#include <stdint.h>

#include "common/buf.h"

struct storage;

enum metrics_op {
    MOP_CREATE_KEYSPACE = 0,
    MOP_DROP_KEYSPACE,
    MOP_LIST_KEYSPACES,
    MOP_CREATE_TABLE,
    MOP_DROP_TABLE,
    MOP_LIST_TABLES,
    MOP_WRITE,
    MOP_READ,
    MOP_SCAN,
    MOP_ADMIN,
    MOP_UNKNOWN, /* requests whose type the node does not know */
    MOP_COUNT
};

/* metrics_init -- zero everything; call once before the loops start. */
void metrics_init(void);

/* metrics_request -- one answered request: latency (µs) and outcome. */
void metrics_request(enum metrics_op op, uint64_t latency_us, int rc);

/* metrics_protocol_error -- a frame refused before it became a request. */
void metrics_protocol_error(void);

/*
 * metrics_deferred_write -- a write sent to the worker pool because the
 * memtables were near their limit (storage_apply would have waited).
 */
void metrics_deferred_write(void);

/* metrics_connections -- add `delta` to the open client connections. */
void metrics_connections(int delta);

/* metrics_connections_now -- open client connections. */
int64_t metrics_connections_now(void);

/*
 * metrics_render -- append the Prometheus text of every metric to `out`;
 * `s` may be NULL (before the engine opened). 0 or -ENOMEM.
 */
int metrics_render(struct buf *out, struct storage *s, uint64_t schema_ver);

#endif /* CAIRN_SERVER_METRICS_H */
