/*
 * sim.h -- the world of cairn-sim: a seeded random generator, a simulated
 * clock, an in-memory network and nodes that each run the real gossip
 * state machine of ring/.
 *
 * Everything that varies comes from one 64-bit seed, every walk is over
 * arrays in index order and ties in time are broken by a sequence number,
 * so a seed replays a run exactly. Frames travel as the bytes gossip_tick()
 * and gossip_recv() produce, so the protobuf wire code runs on every hop.
 */
#ifndef CAIRN_TESTS_SIM_H
#define CAIRN_TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/gossip.h"

#define SIM_ADDR_MAX 32
#define SIM_TOKENS   16
/* A conviction this soon after a restart may be about the old process. */
#define SIM_RESTART_GRACE_MS 30000

/* xoshiro256** seeded through splitmix64: small, fast, well mixed. */
struct sim_prng {
    uint64_t s[4];
};

void sim_prng_seed(struct sim_prng *p, uint64_t seed);
uint64_t sim_prng_next(void *ctx); /* ctx: struct sim_prng * */
uint64_t sim_below(struct sim_prng *p, uint64_t n);
double sim_unit(struct sim_prng *p); /* uniform in [0, 1) */

/* What a node saved to "disk" before it stopped (D06, C13). */
struct sim_saved_peer {
    struct ring_host_id id;
    uint64_t generation;
    enum gossip_status status;
    char address[GOSSIP_ADDR_MAX];
    char rack[TOKENS_RACK_MAX];
    int64_t tokens[SIM_TOKENS];
    size_t ntokens;
};

struct sim_node {
    int idx;
    struct ring_host_id id;
    char addr[SIM_ADDR_MAX];
    char rack[TOKENS_RACK_MAX];
    int64_t tokens[SIM_TOKENS]; /* chosen once, kept across restarts */
    uint64_t generation;
    uint64_t schema;  /* schema counter; gossiped as 16 bytes */
    struct gossip *g; /* NULL while down */
    struct sim_prng rng;
    int64_t next_tick;
    bool started;                 /* ever started */
    bool forever_down;            /* crashed for good: must be convicted */
    int64_t down_at;              /* when it went down, -1 if up */
    int64_t start_at;             /* when it last started */
    unsigned stops;               /* how often it was stopped */
    struct sim_saved_peer *saved; /* peers stored at the last stop */
    size_t nsaved;
    bool no_seed; /* reported GOSSIP_EV_NO_SEED */
};

/* A frame in flight, ordered by (at, seq). */
struct sim_frame {
    int64_t at;
    uint64_t seq;
    int from;
    char to[GOSSIP_ADDR_MAX];
    uint8_t *data;
    size_t len;
};

struct sim_stats {
    uint64_t sent, delivered, lost, refused, partitioned, rejected, bytes;
};

/* A DOWN verdict: who convicted whom, when. */
struct sim_down {
    int observer, target;
    int64_t at;
    bool target_up; /* was the target healthy then (see healthy())? */
};

struct sim_world {
    struct sim_prng rng; /* network and faults */
    int64_t now;         /* ms */
    struct sim_node *nodes;
    size_t n;
    struct sim_frame **heap;
    size_t nheap, heap_cap;
    uint64_t seq;
    /* fault knobs, changed by the scenario as it goes */
    double loss;
    int64_t delay_ms;
    int *group; /* partition side per node; all 0 = healed */
    /* what happened */
    struct sim_stats st;
    struct sim_down *downs;
    size_t ndowns, downs_cap;
    uint64_t trace; /* hash of every delivery and event: replay check */
    char fail[512]; /* the first broken check */
    struct gossip_out out;
    char seeds[2][GOSSIP_ADDR_MAX];
    size_t nseeds;
    int64_t dead_state_ms; /* config for every node */
    int racks;             /* 0: no racks */
    uint64_t next_addr;
    bool verbose; /* starts, stops and wrong verdicts to stderr */
};

/* sim_world_init -- n nodes, none started, seeds = nodes 0 (and 1). */
int sim_world_init(struct sim_world *w, uint64_t seed, size_t n, int racks);
void sim_world_free(struct sim_world *w);

/* sim_fail -- record the first broken check (later ones are ignored). */
void sim_fail(struct sim_world *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* sim_start -- (re)start node i at w->now with stored peers, if any. */
int sim_start(struct sim_world *w, int i, bool new_cluster);

/* sim_stop -- crash node i: state saved, in-flight frames to it lost. */
void sim_stop(struct sim_world *w, int i);

/* sim_run -- advance the world to time `until` (ms). */
int sim_run(struct sim_world *w, int64_t until);

/* sim_new_addr -- an address no node has used. */
void sim_new_addr(struct sim_world *w, char *out);

/* sim_bump_schema -- node i changes its schema (a new version). */
void sim_bump_schema(struct sim_world *w, int i);

#endif /* CAIRN_TESTS_SIM_H */
