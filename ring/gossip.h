/*
 * gossip.h -- cluster membership by gossip, as a state machine.
 *
 * Each node holds, for every endpoint it knows (itself included), a state
 * keyed by the endpoint's 16-byte host id -- never by its address: a
 * generation (set at process start, higher on every restart), a heartbeat
 * version and versioned application states (status, tokens, schema
 * version, load, address, rack). Versions of one endpoint come from one
 * counter of that endpoint, so "newer" is a plain comparison within a
 * generation, and a higher generation replaces everything of a lower one.
 *
 * Every interval (1 s) gossip_tick() bumps our heartbeat and opens a round
 * with a random live peer, maybe an unreachable one, maybe a seed:
 * SYN(digests) -> ACK(requests + newer states) -> ACK2(requested states).
 * docs/gossip.md gives the message flow and every merge rule.
 *
 * Logic without I/O: the caller passes the time, each received frame and a
 * random source; the gossiper answers with encoded frames to send (each to
 * an address, with the host id expected there) and events (peer up, down,
 * restarted, changed, ...). It never reads a clock, logs or touches a
 * socket. Not thread-safe: one owner drives it (the server's cluster-state
 * loop, or the simulator).
 */
#ifndef CAIRN_RING_GOSSIP_H
#define CAIRN_RING_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/fd.h"
#include "ring/ring.h"
#include "ring/tokens.h"

#define GOSSIP_ADDR_MAX    64 /* "host:port", NUL included */
#define GOSSIP_CLUSTER_MAX 64 /* cluster name, NUL included */
#define GOSSIP_SCHEMA_LEN  16 /* schema version: a 16-byte id */
#define GOSSIP_MAX_SEEDS   32

enum gossip_status {
    GOSSIP_STATUS_NONE = 0, /* nothing announced yet */
    GOSSIP_STATUS_JOINING,
    GOSSIP_STATUS_NORMAL,
    GOSSIP_STATUS_LEAVING,
    GOSSIP_STATUS_LEFT,    /* decommissioned itself: a dead state */
    GOSSIP_STATUS_REMOVED, /* removed by an operator: a dead state */
    GOSSIP_STATUS_COUNT
};

/* Application state keys; their numbers are on the wire (gossip.proto). */
enum gossip_app {
    GOSSIP_APP_STATUS = 0,
    GOSSIP_APP_TOKENS,
    GOSSIP_APP_SCHEMA,
    GOSSIP_APP_LOAD,
    GOSSIP_APP_ADDRESS,
    GOSSIP_APP_RACK,
    GOSSIP_APP_COUNT
};

/* What this node knows of one endpoint. Read-only for callers. */
struct gossip_endpoint {
    struct ring_host_id id;
    uint64_t generation; /* epoch of the endpoint's current process */
    uint64_t heartbeat;  /* heartbeat version within the generation */
    uint64_t version[GOSSIP_APP_COUNT]; /* per state; 0 = never set */
    enum gossip_status status;
    int64_t *tokens; /* sorted, owned by the gossiper */
    size_t ntokens;
    uint8_t schema[GOSSIP_SCHEMA_LEN];
    uint64_t load; /* bytes on disk */
    char address[GOSSIP_ADDR_MAX];
    char rack[TOKENS_RACK_MAX];

    /* Local verdicts, never gossiped. */
    bool alive;            /* heartbeat advancing, not convicted */
    bool addr_stale;       /* another host id now claims this address (C13) */
    int64_t dead_since_ms; /* when LEFT/REMOVED was learned, else -1 */
    struct fd_state fd;
};

struct gossip_config {
    struct ring_host_id self;
    char cluster[GOSSIP_CLUSTER_MAX];
    char address[GOSSIP_ADDR_MAX]; /* ours, as peers reach us */
    char rack[TOKENS_RACK_MAX];    /* "" when racks are not used */
    char seeds[GOSSIP_MAX_SEEDS][GOSSIP_ADDR_MAX];
    size_t nseeds;
    uint64_t generation;     /* > every generation of earlier runs */
    int64_t interval_ms;     /* gossip round (1000) */
    int64_t dead_state_ms;   /* LEFT/REMOVED kept and spread (3 days) */
    int64_t quarantine_ms;   /* an evicted host id is ignored (60 s) */
    int64_t seed_timeout_ms; /* new node without contact fails (30 s) */
    bool new_cluster;        /* may start alone without any seed */
    struct fd_config fd;
};

/* A frame to send. `to` is the host id expected at `addr` (the receiver
 * drops the frame if it is someone else, C13); zero when unknown. */
struct gossip_msg {
    char addr[GOSSIP_ADDR_MAX];
    struct ring_host_id to;
    bool to_known;
    uint8_t *data; /* owned by the gossip_out */
    size_t len;
};

enum gossip_event_kind {
    GOSSIP_EV_JOIN,    /* first knowledge of an endpoint */
    GOSSIP_EV_UP,      /* its heartbeat advances (again) */
    GOSSIP_EV_DOWN,    /* convicted by the failure detector; `phi` */
    GOSSIP_EV_RESTART, /* a higher generation replaced its state */
    GOSSIP_EV_CHANGE,  /* status, tokens or rack changed; `app` */
    GOSSIP_EV_ADDRESS, /* new address; the old one in `addr` */
    GOSSIP_EV_SCHEMA,  /* its schema version differs from ours */
    GOSSIP_EV_EVICT,   /* LEFT/REMOVED state dropped, id quarantined */
    GOSSIP_EV_REJECT,  /* a frame was refused; `code`, `addr` of sender */
    GOSSIP_EV_NO_SEED, /* new node, no seed or peer answered in time */
};

struct gossip_event {
    enum gossip_event_kind kind;
    struct ring_host_id id;
    enum gossip_app app;
    char addr[GOSSIP_ADDR_MAX];
    double phi;
    int code;
};

/* What one call produced. Reuse it across calls with gossip_out_reset(). */
struct gossip_out {
    struct gossip_msg *msgs;
    size_t nmsgs, msgs_cap;
    struct gossip_event *events;
    size_t nevents, events_cap;
    int64_t next_tick_ms; /* call gossip_tick() at this time */
};

struct gossip;

/* gossip_config_default -- every default above; identity fields zeroed. */
void gossip_config_default(struct gossip_config *c);

/*
 * gossip_new -- a gossiper for `c` started at `now_ms`, whose own state has
 * status NONE, its address and rack, and heartbeat 0. Returns 0, -EINVAL
 * (generation 0, empty address or cluster, interval <= 0) or -ENOMEM.
 */
int gossip_new(const struct gossip_config *c, int64_t now_ms,
               struct gossip **out);

/* gossip_free -- release everything (NULL is ignored). */
void gossip_free(struct gossip *g);

/*
 * gossip_add_peer -- seed the view with a peer saved by an earlier run
 * (D06: a restarted node rejoins from stored peers when no seed answers).
 * The peer starts unreachable; its states get version 1 so any live news
 * wins. Ignored for our own id. Returns 0, -EINVAL or -ENOMEM.
 */
int gossip_add_peer(struct gossip *g, const struct ring_host_id *id,
                    uint64_t generation, enum gossip_status status,
                    const char *address, const char *rack,
                    const int64_t *tokens, size_t ntokens);

/*
 * Changes of our own state; each takes a new version so it spreads.
 * Return 0, -EINVAL (bad value: nothing changes) or -ENOMEM.
 */
int gossip_set_status(struct gossip *g, enum gossip_status st);
int gossip_set_tokens(struct gossip *g, const int64_t *tokens, size_t n);
int gossip_set_schema(struct gossip *g, const uint8_t *schema);
int gossip_set_load(struct gossip *g, uint64_t load);

/*
 * gossip_remove_node -- announce on behalf of a dead endpoint that it is
 * REMOVED (removenode): its generation is bumped so the announcement beats
 * whatever the endpoint last said. CAIRN_ENOTFOUND if unknown, -EINVAL
 * for our own id.
 */
int gossip_remove_node(struct gossip *g, const struct ring_host_id *id,
                       int64_t now_ms);

/*
 * gossip_tick -- one round at `now_ms`: bump our heartbeat, send SYNs,
 * convict silent peers, evict expired dead states. Appends to `out` and
 * sets out->next_tick_ms. Returns 0 or -ENOMEM (`out` may hold part).
 */
int gossip_tick(struct gossip *g, int64_t now_ms, struct ring_rand *r,
                struct gossip_out *out);

/*
 * gossip_recv -- handle one received frame [data, data + len). Answers and
 * events are appended to `out`. Returns 0, CAIRN_ECORRUPT (undecodable or
 * invalid: nothing changes), CAIRN_EPROTO (another cluster, or a frame for
 * another host id: nothing changes, a REJECT event says so) or -ENOMEM.
 */
int gossip_recv(struct gossip *g, int64_t now_ms, const uint8_t *data,
                size_t len, struct gossip_out *out);

/* gossip_count -- endpoints known, ourselves included. */
size_t gossip_count(const struct gossip *g);

/*
 * gossip_endpoint_at, gossip_find -- the i-th endpoint (sorted by host id)
 * or the one of `id` (NULL if unknown). Valid until the next call that
 * changes `g`.
 */
const struct gossip_endpoint *gossip_endpoint_at(const struct gossip *g,
                                                 size_t i);
const struct gossip_endpoint *gossip_find(const struct gossip *g,
                                          const struct ring_host_id *id);

/* gossip_self -- our own endpoint. */
const struct gossip_endpoint *gossip_self(const struct gossip *g);

/* gossip_quarantined -- is `id` quarantined at `now_ms`? */
bool gossip_quarantined(const struct gossip *g, const struct ring_host_id *id,
                        int64_t now_ms);

/* gossip_contacted -- has any peer answered or called us yet? */
bool gossip_contacted(const struct gossip *g);

/*
 * gossip_build_ring -- token metadata of every endpoint in NORMAL or
 * LEAVING status that has tokens, as a new
 * snapshot (one reference) in `*out`. Returns 0, -EINVAL (two endpoints
 * claim a token) or -ENOMEM.
 */
int gossip_build_ring(const struct gossip *g, struct tokens_snap **out);

/* gossip_out_init, gossip_out_reset, gossip_out_free -- manage an out. */
void gossip_out_init(struct gossip_out *o);
void gossip_out_reset(struct gossip_out *o);
void gossip_out_free(struct gossip_out *o);

/* gossip_status_name -- "normal", "joining", ...; never NULL. */
const char *gossip_status_name(enum gossip_status st);

#endif /* CAIRN_RING_GOSSIP_H */
