/*
 * clschema.h -- schema agreement between nodes: the schema version that
 * gossip spreads, and the pull / push exchange over the peer port.
 *
 * The version is a 16-byte digest of the schema's content (keyspaces,
 * tables with their ids and options, drop counters), so two nodes with
 * the same schema have the same version whatever order the changes came
 * in. A node that sees a peer with another version sends it a SchemaPull;
 * the peer answers with a SchemaPush of its whole schema, which the node
 * merges (schema_merge) and carries into storage (new tables created,
 * dropped ones dropped). Both sides pull from each other, so they meet.
 * Runs on the cluster loop; merging writes the schema file (a short
 * blocking write on that loop, never on a client loop).
 */
#ifndef CAIRN_SERVER_CLSCHEMA_H
#define CAIRN_SERVER_CLSCHEMA_H

#include <stdint.h>

#include "ring/gossip.h"
#include "server/peer.h"
#include "server/schema.h"
#include "storage/storage.h"

/* clschema_version -- the content digest of `sc`; 0 or -ENOMEM. */
int clschema_version(struct schema *sc, uint8_t out[GOSSIP_SCHEMA_LEN]);

/*
 * clschema_register -- answer SchemaPull and merge SchemaPush on `p`;
 * `merged(arg)` runs on the cluster loop after every merged answer.
 */
void clschema_register(struct peer *p, struct schema *sc, struct storage *st,
                       void (*merged)(void *arg), void *arg);

/*
 * clschema_maybe_pull -- ask `id` for its schema, unless a pull went out
 * less than `gap_ms` before `now_ms` (*last tracks it).
 */
void clschema_maybe_pull(struct peer *p, const struct ring_host_id *id,
                         int64_t now_ms, int64_t *last, int64_t gap_ms);

#endif /* CAIRN_SERVER_CLSCHEMA_H */
