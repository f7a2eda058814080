/*
 * gossip.c -- the gossip state machine (see gossip.h, docs/gossip.md).
 *
 * Endpoints live in one array sorted by host id (ourselves included), so
 * lookups are binary searches and every walk over them is in the same
 * order on every run: with a seeded random source the simulator replays a
 * run exactly. Frames are protobuf-c messages (proto/gossip.proto) built
 * from scratch arrays that point into the endpoint states, packed, and
 * handed out; incoming frames are unpacked through the mem.h allocator and
 * validated whole before anything is applied.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/mem.h"
#include "proto/gossip.pb-c.h"
#include "ring/gossip.h"

struct quarantine {
    struct ring_host_id id;
    int64_t until_ms;
};

struct gossip {
    struct gossip_config cfg;
    struct gossip_endpoint *eps; /* sorted by host id; ours among them */
    size_t neps, eps_cap;
    struct quarantine *quar;
    size_t nquar, quar_cap;
    uint64_t version; /* our version counter: heartbeat and states */
    int64_t started_ms;
    bool contacted;        /* a peer spoke to us */
    bool no_seed_reported; /* GOSSIP_EV_NO_SEED was returned */
    bool self_is_seed;
    bool addr_dirty; /* an address or generation changed: recheck C13 */
    ProtobufCAllocator alloc;
};

static const char *const status_names[GOSSIP_STATUS_COUNT] = {
    "none", "joining", "normal", "leaving", "left", "removed"};

const char *gossip_status_name(enum gossip_status st)
{
    return (unsigned)st < GOSSIP_STATUS_COUNT ? status_names[st] : "unknown";
}

static bool status_dead(enum gossip_status st)
{
    return st == GOSSIP_STATUS_LEFT || st == GOSSIP_STATUS_REMOVED;
}

/* ---- protobuf-c allocation through mem.h ---- */

static void *pb_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return mem_alloc(MEM_PROTO, n);
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    mem_free(p);
}

/* ---- output ---- */

void gossip_out_init(struct gossip_out *o)
{
    memset(o, 0, sizeof(*o));
}

void gossip_out_reset(struct gossip_out *o)
{
    for (size_t i = 0; i < o->nmsgs; i++)
        mem_free(o->msgs[i].data);
    o->nmsgs = 0;
    o->nevents = 0;
}

void gossip_out_free(struct gossip_out *o)
{
    gossip_out_reset(o);
    mem_free(o->msgs);
    mem_free(o->events);
    gossip_out_init(o);
}

static struct gossip_event *out_event(struct gossip_out *o,
                                      enum gossip_event_kind kind,
                                      const struct ring_host_id *id)
{
    struct gossip_event *ev;

    if (o->nevents == o->events_cap) {
        size_t cap = o->events_cap ? o->events_cap * 2 : 16;
        void *p = mem_realloc(MEM_RING, o->events, cap * sizeof(*o->events));

        if (!p)
            return NULL;
        o->events = p;
        o->events_cap = cap;
    }
    ev = &o->events[o->nevents++];
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    if (id)
        ev->id = *id;
    return ev;
}

/* Append an event; -ENOMEM when the out cannot grow. */
static int emit(struct gossip_out *o, enum gossip_event_kind kind,
                const struct ring_host_id *id, enum gossip_app app)
{
    struct gossip_event *ev = out_event(o, kind, id);

    if (!ev)
        return err_set(-ENOMEM, "gossip events");
    ev->app = app;
    return 0;
}

static int out_msg(struct gossip_out *o, const char *addr,
                   const struct ring_host_id *to, uint8_t *data, size_t len)
{
    struct gossip_msg *m;

    if (o->nmsgs == o->msgs_cap) {
        size_t cap = o->msgs_cap ? o->msgs_cap * 2 : 8;
        void *p = mem_realloc(MEM_RING, o->msgs, cap * sizeof(*o->msgs));

        if (!p)
            return err_set(-ENOMEM, "gossip messages");
        o->msgs = p;
        o->msgs_cap = cap;
    }
    m = &o->msgs[o->nmsgs++];
    memset(m, 0, sizeof(*m));
    snprintf(m->addr, sizeof(m->addr), "%s", addr);
    if (to) {
        m->to = *to;
        m->to_known = true;
    }
    m->data = data;
    m->len = len;
    return 0;
}

/* ---- endpoints ---- */

static long ep_search(const struct gossip *g, const struct ring_host_id *id,
                      size_t *at)
{
    size_t lo = 0, hi = g->neps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ring_host_id_cmp(&g->eps[mid].id, id);

        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (at)
        *at = lo;
    return -1;
}

static struct gossip_endpoint *ep_get(struct gossip *g,
                                      const struct ring_host_id *id)
{
    long i = ep_search(g, id, NULL);

    return i < 0 ? NULL : &g->eps[i];
}

/* A fresh endpoint for `id` at its sorted place; NULL without memory. */
static struct gossip_endpoint *ep_insert(struct gossip *g,
                                         const struct ring_host_id *id)
{
    size_t at = 0;
    struct gossip_endpoint *ep;

    ep_search(g, id, &at);
    if (g->neps == g->eps_cap) {
        size_t cap = g->eps_cap ? g->eps_cap * 2 : 16;
        void *p = mem_realloc(MEM_RING, g->eps, cap * sizeof(*g->eps));

        if (!p)
            return NULL;
        g->eps = p;
        g->eps_cap = cap;
    }
    memmove(&g->eps[at + 1], &g->eps[at], (g->neps - at) * sizeof(*g->eps));
    g->neps++;
    ep = &g->eps[at];
    memset(ep, 0, sizeof(*ep));
    ep->id = *id;
    ep->dead_since_ms = -1;
    fd_init(&ep->fd);
    return ep;
}

static void ep_remove(struct gossip *g, size_t i)
{
    mem_free(g->eps[i].tokens);
    memmove(&g->eps[i], &g->eps[i + 1], (g->neps - i - 1) * sizeof(*g->eps));
    g->neps--;
}

static uint64_t ep_max_version(const struct gossip_endpoint *ep)
{
    uint64_t v = ep->heartbeat;

    for (int k = 0; k < GOSSIP_APP_COUNT; k++)
        if (ep->version[k] > v)
            v = ep->version[k];
    return v;
}

static struct gossip_endpoint *self_ep(struct gossip *g)
{
    return ep_get(g, &g->cfg.self);
}

size_t gossip_count(const struct gossip *g)
{
    return g->neps;
}

const struct gossip_endpoint *gossip_endpoint_at(const struct gossip *g,
                                                 size_t i)
{
    return i < g->neps ? &g->eps[i] : NULL;
}

const struct gossip_endpoint *gossip_find(const struct gossip *g,
                                          const struct ring_host_id *id)
{
    long i = ep_search(g, id, NULL);

    return i < 0 ? NULL : &g->eps[i];
}

const struct gossip_endpoint *gossip_self(const struct gossip *g)
{
    return gossip_find(g, &g->cfg.self);
}

bool gossip_contacted(const struct gossip *g)
{
    return g->contacted;
}

bool gossip_quarantined(const struct gossip *g, const struct ring_host_id *id,
                        int64_t now_ms)
{
    for (size_t i = 0; i < g->nquar; i++)
        if (ring_host_id_eq(&g->quar[i].id, id) && g->quar[i].until_ms > now_ms)
            return true;
    return false;
}

static int quarantine_add(struct gossip *g, const struct ring_host_id *id,
                          int64_t until_ms)
{
    if (g->nquar == g->quar_cap) {
        size_t cap = g->quar_cap ? g->quar_cap * 2 : 8;
        void *p = mem_realloc(MEM_RING, g->quar, cap * sizeof(*g->quar));

        if (!p)
            return err_set(-ENOMEM, "gossip quarantine");
        g->quar = p;
        g->quar_cap = cap;
    }
    g->quar[g->nquar++] = (struct quarantine){*id, until_ms};
    return 0;
}

static void quarantine_expire(struct gossip *g, int64_t now_ms)
{
    size_t k = 0;

    for (size_t i = 0; i < g->nquar; i++)
        if (g->quar[i].until_ms > now_ms)
            g->quar[k++] = g->quar[i];
    g->nquar = k;
}

/*
 * C13: two endpoints claim one address. We are at our own address, so any
 * other claim to it is stale; otherwise the claim of the higher generation
 * (the process started later) holds, ties going to the lower host id.
 * Recomputed over all pairs, only after an address or generation changed.
 */
static bool addr_loses(const struct gossip *g, const struct gossip_endpoint *a,
                       const struct gossip_endpoint *b)
{
    if (ring_host_id_eq(&a->id, &g->cfg.self))
        return false;
    if (ring_host_id_eq(&b->id, &g->cfg.self))
        return true;
    if (a->generation != b->generation)
        return a->generation < b->generation;
    return ring_host_id_cmp(&a->id, &b->id) > 0;
}

static void addr_recheck(struct gossip *g)
{
    for (size_t i = 0; i < g->neps; i++) {
        struct gossip_endpoint *a = &g->eps[i];

        a->addr_stale = false;
        for (size_t j = 0; j < g->neps && !a->addr_stale; j++) {
            const struct gossip_endpoint *b = &g->eps[j];

            if (i != j && a->address[0] && strcmp(a->address, b->address) == 0)
                a->addr_stale = addr_loses(g, a, b);
        }
    }
    g->addr_dirty = false;
}

void gossip_config_default(struct gossip_config *c)
{
    memset(c, 0, sizeof(*c));
    c->interval_ms = 1000;
    c->dead_state_ms = 3LL * 24 * 3600 * 1000;
    c->quarantine_ms = 60 * 1000;
    c->seed_timeout_ms = 15 * 1000;
    fd_config_default(&c->fd);
}

static int config_check(const struct gossip_config *c)
{
    if (c->generation == 0)
        return err_set(-EINVAL, "gossip generation must be > 0");
    if (!c->address[0] || !c->cluster[0])
        return err_set(-EINVAL, "gossip needs an address and a cluster name");
    if (c->interval_ms <= 0 || c->nseeds > GOSSIP_MAX_SEEDS)
        return err_set(-EINVAL, "gossip interval %lld ms or %zu seeds",
                       (long long)c->interval_ms, c->nseeds);
    if (c->fd.threshold <= 0 || c->fd.min_std_dev_ms <= 0)
        return err_set(-EINVAL, "failure detector threshold or std-dev <= 0");
    return 0;
}

int gossip_new(const struct gossip_config *c, int64_t now_ms,
               struct gossip **out)
{
    struct gossip *g;
    struct gossip_endpoint *me;
    int rc = config_check(c);

    *out = NULL;
    if (rc < 0)
        return rc;
    g = mem_calloc(MEM_RING, 1, sizeof(*g));
    if (!g)
        return err_set(-ENOMEM, "gossip state");
    g->cfg = *c;
    me = ep_insert(g, &c->self);
    if (!me) {
        mem_free(g);
        return err_set(-ENOMEM, "gossip state");
    }
    g->alloc = (ProtobufCAllocator){pb_alloc, pb_free, NULL};
    g->started_ms = now_ms;
    for (size_t i = 0; i < c->nseeds; i++)
        if (strcmp(c->seeds[i], c->address) == 0)
            g->self_is_seed = true;
    me->generation = c->generation;
    me->alive = true;
    snprintf(me->address, sizeof(me->address), "%s", c->address);
    me->version[GOSSIP_APP_ADDRESS] = ++g->version;
    snprintf(me->rack, sizeof(me->rack), "%s", c->rack);
    if (c->rack[0])
        me->version[GOSSIP_APP_RACK] = ++g->version;
    *out = g;
    return 0;
}

void gossip_free(struct gossip *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->neps; i++)
        mem_free(g->eps[i].tokens);
    mem_free(g->eps);
    mem_free(g->quar);
    mem_free(g);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Replace ep's tokens by a sorted copy; *changed says if they differ. */
static int ep_set_tokens(struct gossip_endpoint *ep, const int64_t *tokens,
                         size_t n, bool *changed)
{
    int64_t *copy = NULL;

    if (n > TOKENS_MAX_NUM)
        return err_set(-EINVAL, "%zu tokens, at most %d", n, TOKENS_MAX_NUM);
    if (n > 0) {
        copy = mem_memdup(MEM_RING, tokens, n * sizeof(*tokens));
        if (!copy)
            return err_set(-ENOMEM, "gossip tokens");
        qsort(copy, n, sizeof(*copy), cmp_i64);
    }
    *changed = n != ep->ntokens ||
               (n > 0 && memcmp(copy, ep->tokens, n * sizeof(*copy)) != 0);
    mem_free(ep->tokens);
    ep->tokens = copy;
    ep->ntokens = n;
    return 0;
}

int gossip_add_peer(struct gossip *g, const struct ring_host_id *id,
                    uint64_t generation, enum gossip_status status,
                    const char *address, const char *rack,
                    const int64_t *tokens, size_t ntokens)
{
    struct gossip_endpoint *ep;
    bool changed;
    int rc;

    if (ring_host_id_eq(id, &g->cfg.self))
        return 0;
    if ((unsigned)status >= GOSSIP_STATUS_COUNT || !address ||
        strlen(address) >= GOSSIP_ADDR_MAX ||
        (rack && strlen(rack) >= TOKENS_RACK_MAX) || ep_get(g, id))
        return err_set(-EINVAL, "stored peer: bad or duplicate entry");
    ep = ep_insert(g, id);
    if (!ep)
        return err_set(-ENOMEM, "gossip state");
    rc = ep_set_tokens(ep, tokens, ntokens, &changed);
    if (rc < 0) {
        ep_remove(g, (size_t)ep_search(g, id, NULL));
        return rc;
    }
    ep->generation = generation;
    ep->status = status;
    snprintf(ep->address, sizeof(ep->address), "%s", address);
    snprintf(ep->rack, sizeof(ep->rack), "%s", rack ? rack : "");
    for (int k = 0; k < GOSSIP_APP_COUNT; k++)
        ep->version[k] = 1;
    g->addr_dirty = true;
    addr_recheck(g);
    return 0;
}

int gossip_set_status(struct gossip *g, enum gossip_status st)
{
    struct gossip_endpoint *me = self_ep(g);

    if ((unsigned)st >= GOSSIP_STATUS_COUNT || st == GOSSIP_STATUS_NONE)
        return err_set(-EINVAL, "gossip status %d", (int)st);
    me->status = st;
    me->version[GOSSIP_APP_STATUS] = ++g->version;
    return 0;
}

int gossip_set_tokens(struct gossip *g, const int64_t *tokens, size_t n)
{
    struct gossip_endpoint *me = self_ep(g);
    bool changed;
    int rc;

    if (n == 0)
        return err_set(-EINVAL, "a node announces at least one token");
    rc = ep_set_tokens(me, tokens, n, &changed);
    if (rc == 0)
        me->version[GOSSIP_APP_TOKENS] = ++g->version;
    return rc;
}

int gossip_set_schema(struct gossip *g, const uint8_t *schema)
{
    struct gossip_endpoint *me = self_ep(g);

    memcpy(me->schema, schema, GOSSIP_SCHEMA_LEN);
    me->version[GOSSIP_APP_SCHEMA] = ++g->version;
    return 0;
}

int gossip_set_load(struct gossip *g, uint64_t load)
{
    struct gossip_endpoint *me = self_ep(g);

    me->load = load;
    me->version[GOSSIP_APP_LOAD] = ++g->version;
    return 0;
}

int gossip_remove_node(struct gossip *g, const struct ring_host_id *id,
                       int64_t now_ms)
{
    struct gossip_endpoint *ep = ep_get(g, id);
    char hs[40];

    if (ring_host_id_eq(id, &g->cfg.self))
        return err_set(-EINVAL, "a node cannot remove itself; decommission");
    if (!ep)
        return err_set(CAIRN_ENOTFOUND, "no endpoint %s to remove",
                       ring_host_id_str(id, hs));
    /* A higher generation beats every version the endpoint ever sent. */
    ep->generation++;
    ep->status = GOSSIP_STATUS_REMOVED;
    ep->version[GOSSIP_APP_STATUS] = ep_max_version(ep) + 1;
    ep->alive = false;
    ep->dead_since_ms = now_ms;
    return 0;
}

/* ---- encoding ---- */

/*
 * Scratch space for one outgoing frame: digests and endpoint states point
 * into the gossiper's endpoints, so the frame must be packed before the
 * endpoints change.
 */
struct enc {
    Cairn__GossipDigest *dg, **dgp;
    size_t ndg, dg_cap;
    Cairn__GossipEndpointState *es, **esp;
    size_t nes, es_cap;
    Cairn__GossipAppState *apps, **appp;
    size_t napps;
};

static int enc_init(struct enc *e, size_t ndigests, size_t nstates)
{
    memset(e, 0, sizeof(*e));
    e->dg_cap = ndigests;
    e->es_cap = nstates;
    e->dg = mem_calloc(MEM_PROTO, ndigests + 1, sizeof(*e->dg));
    e->dgp = mem_calloc(MEM_PROTO, ndigests + 1, sizeof(*e->dgp));
    e->es = mem_calloc(MEM_PROTO, nstates + 1, sizeof(*e->es));
    e->esp = mem_calloc(MEM_PROTO, nstates + 1, sizeof(*e->esp));
    e->apps =
        mem_calloc(MEM_PROTO, nstates * GOSSIP_APP_COUNT + 1, sizeof(*e->apps));
    e->appp =
        mem_calloc(MEM_PROTO, nstates * GOSSIP_APP_COUNT + 1, sizeof(*e->appp));
    if (!e->dg || !e->dgp || !e->es || !e->esp || !e->apps || !e->appp)
        return err_set(-ENOMEM, "gossip frame of %zu states", nstates);
    return 0;
}

static void enc_free(struct enc *e)
{
    mem_free(e->dg);
    mem_free(e->dgp);
    mem_free(e->es);
    mem_free(e->esp);
    mem_free(e->apps);
    mem_free(e->appp);
}

static void enc_digest(struct enc *e, const struct ring_host_id *id,
                       uint64_t generation, uint64_t max_version)
{
    Cairn__GossipDigest *d = &e->dg[e->ndg];

    cairn__gossip_digest__init(d);
    d->host_id.data = (uint8_t *)id->b;
    d->host_id.len = RING_HOST_ID_LEN;
    d->generation = generation;
    d->max_version = max_version;
    e->dgp[e->ndg++] = d;
}

static void enc_app(Cairn__GossipAppState *a, const struct gossip_endpoint *ep,
                    int k)
{
    cairn__gossip_app_state__init(a);
    a->key = (uint32_t)k;
    a->version = ep->version[k];
    switch (k) {
    case GOSSIP_APP_STATUS:
        a->num_value = (uint64_t)ep->status;
        break;
    case GOSSIP_APP_TOKENS:
        a->tokens = ep->tokens;
        a->n_tokens = ep->ntokens;
        break;
    case GOSSIP_APP_SCHEMA:
        a->bytes_value.data = (uint8_t *)ep->schema;
        a->bytes_value.len = GOSSIP_SCHEMA_LEN;
        break;
    case GOSSIP_APP_LOAD:
        a->num_value = ep->load;
        break;
    case GOSSIP_APP_ADDRESS:
        a->bytes_value.data = (uint8_t *)ep->address;
        a->bytes_value.len = strlen(ep->address);
        break;
    case GOSSIP_APP_RACK:
        a->bytes_value.data = (uint8_t *)ep->rack;
        a->bytes_value.len = strlen(ep->rack);
        break;
    }
}

/* Add ep's heartbeat and every state with a version above `above`. */
static void enc_state(struct enc *e, const struct gossip_endpoint *ep,
                      uint64_t above)
{
    Cairn__GossipEndpointState *s = &e->es[e->nes];

    cairn__gossip_endpoint_state__init(s);
    s->host_id.data = (uint8_t *)ep->id.b;
    s->host_id.len = RING_HOST_ID_LEN;
    s->generation = ep->generation;
    s->heartbeat = ep->heartbeat;
    s->states = &e->appp[e->napps];
    for (int k = 0; k < GOSSIP_APP_COUNT; k++) {
        if (ep->version[k] == 0 || ep->version[k] <= above)
            continue;
        enc_app(&e->apps[e->napps], ep, k);
        e->appp[e->napps] = &e->apps[e->napps];
        e->napps++;
        s->n_states++;
    }
    e->esp[e->nes++] = s;
}

/* Fill the envelope of `m`, pack it and queue it for `addr`. */
static int send_frame(struct gossip *g, struct gossip_out *out,
                      Cairn__GossipMessage *m, const char *addr,
                      const struct ring_host_id *to)
{
    uint8_t *buf;
    size_t len;

    m->cluster_name = g->cfg.cluster;
    m->from_host_id.data = g->cfg.self.b;
    m->from_host_id.len = RING_HOST_ID_LEN;
    m->from_address = g->cfg.address;
    if (to) {
        m->to_host_id.data = (uint8_t *)to->b;
        m->to_host_id.len = RING_HOST_ID_LEN;
    }
    len = cairn__gossip_message__get_packed_size(m);
    buf = mem_alloc(MEM_PROTO, len ? len : 1);
    if (!buf)
        return err_set(-ENOMEM, "gossip frame of %zu bytes", len);
    cairn__gossip_message__pack(m, buf);
    if (out_msg(out, addr, to, buf, len) < 0) {
        mem_free(buf);
        return -ENOMEM;
    }
    return 0;
}

/* ---- the round ---- */

static bool is_seed(const struct gossip *g, const char *addr)
{
    for (size_t i = 0; i < g->cfg.nseeds; i++)
        if (strcmp(g->cfg.seeds[i], addr) == 0)
            return true;
    return false;
}

/* A SYN carrying a digest of every endpoint we know, to one target. */
static int send_syn(struct gossip *g, struct gossip_out *out, const char *addr,
                    const struct ring_host_id *to)
{
    Cairn__GossipMessage m = CAIRN__GOSSIP_MESSAGE__INIT;
    Cairn__GossipSyn syn = CAIRN__GOSSIP_SYN__INIT;
    struct enc e;
    int rc = enc_init(&e, g->neps, 0);

    for (size_t i = 0; rc == 0 && i < g->neps; i++)
        enc_digest(&e, &g->eps[i].id, g->eps[i].generation,
                   ep_max_version(&g->eps[i]));
    syn.digests = e.dgp;
    syn.n_digests = e.ndg;
    m.body_case = CAIRN__GOSSIP_MESSAGE__BODY_SYN;
    m.syn = &syn;
    if (rc == 0)
        rc = send_frame(g, out, &m, addr, to);
    enc_free(&e);
    return rc;
}

static int send_syn_to(struct gossip *g, struct gossip_out *out, size_t i)
{
    return send_syn(g, out, g->eps[i].address, &g->eps[i].id);
}

/* Split peers into live and unreachable (dead states and peers without a
 * usable address are neither). */
static void classify(const struct gossip *g, size_t *live, size_t *nlive,
                     size_t *unr, size_t *nunr)
{
    *nlive = *nunr = 0;
    for (size_t i = 0; i < g->neps; i++) {
        const struct gossip_endpoint *ep = &g->eps[i];

        if (ring_host_id_eq(&ep->id, &g->cfg.self) || status_dead(ep->status) ||
            !ep->address[0] || ep->addr_stale)
            continue;
        if (ep->alive)
            live[(*nlive)++] = i;
        else
            unr[(*nunr)++] = i;
    }
}

/* Cassandra's seed rule: always when nobody is live, else with chance
 * seeds / (live + unreachable). Never to our own address. */
static int maybe_gossip_to_seed(struct gossip *g, struct ring_rand *r,
                                size_t nlive, size_t nunr,
                                struct gossip_out *out)
{
    const char *pick[GOSSIP_MAX_SEEDS];
    size_t n = 0;

    for (size_t i = 0; i < g->cfg.nseeds; i++)
        if (strcmp(g->cfg.seeds[i], g->cfg.address) != 0)
            pick[n++] = g->cfg.seeds[i];
    if (n == 0)
        return 0;
    if (nlive > 0 && ring_rand_below(r, nlive + nunr) >= n)
        return 0;
    return send_syn(g, out, pick[ring_rand_below(r, n)], NULL);
}

static int gossip_round(struct gossip *g, struct ring_rand *r,
                        struct gossip_out *out)
{
    size_t *live = mem_calloc(MEM_RING, g->neps, sizeof(size_t));
    size_t *unr = mem_calloc(MEM_RING, g->neps, sizeof(size_t));
    size_t nlive, nunr;
    bool to_seed = false;
    int rc = 0;

    if (!live || !unr) {
        mem_free(live);
        mem_free(unr);
        return err_set(-ENOMEM, "gossip round");
    }
    classify(g, live, &nlive, unr, &nunr);
    if (nlive > 0) {
        size_t i = live[ring_rand_below(r, nlive)];

        to_seed = is_seed(g, g->eps[i].address);
        rc = send_syn_to(g, out, i);
    }
    if (rc == 0 && nunr > 0 && ring_rand_below(r, nlive + 1) < nunr)
        rc = send_syn_to(g, out, unr[ring_rand_below(r, nunr)]);
    if (rc == 0 && (!to_seed || nlive < g->cfg.nseeds))
        rc = maybe_gossip_to_seed(g, r, nlive, nunr, out);
    mem_free(live);
    mem_free(unr);
    return rc;
}

/* Convict silent peers; evict dead states that have been spread long
 * enough, quarantining their host ids. */
static int status_check(struct gossip *g, int64_t now_ms,
                        struct gossip_out *out)
{
    for (size_t i = 0; i < g->neps; i++) {
        struct gossip_endpoint *ep = &g->eps[i];
        double phi;

        if (ring_host_id_eq(&ep->id, &g->cfg.self))
            continue;
        if (ep->dead_since_ms >= 0 &&
            now_ms - ep->dead_since_ms >= g->cfg.dead_state_ms) {
            struct ring_host_id id = ep->id;

            if (quarantine_add(g, &id, now_ms + g->cfg.quarantine_ms) < 0 ||
                emit(out, GOSSIP_EV_EVICT, &id, 0) < 0)
                return -ENOMEM;
            ep_remove(g, i--);
            g->addr_dirty = true;
            continue;
        }
        if (!ep->alive || !fd_convicted(&ep->fd, &g->cfg.fd, now_ms))
            continue;
        phi = fd_phi(&ep->fd, &g->cfg.fd, now_ms);
        ep->alive = false;
        if (emit(out, GOSSIP_EV_DOWN, &ep->id, 0) < 0)
            return -ENOMEM;
        out->events[out->nevents - 1].phi = phi;
    }
    return 0;
}

/* D06: a node that knows nobody, may not start alone and heard from no
 * one within seed_timeout_ms says so once; the server stops with a clear
 * "no reachable seed" error instead of becoming a cluster of its own. */
static int check_no_seed(struct gossip *g, int64_t now_ms,
                         struct gossip_out *out)
{
    struct gossip_event *ev;

    if (g->contacted || g->no_seed_reported || g->cfg.new_cluster ||
        g->self_is_seed || g->neps > 1 ||
        now_ms - g->started_ms < g->cfg.seed_timeout_ms)
        return 0;
    g->no_seed_reported = true;
    ev = out_event(out, GOSSIP_EV_NO_SEED, &g->cfg.self);
    if (!ev)
        return err_set(-ENOMEM, "gossip events");
    ev->code = (int)g->cfg.nseeds;
    if (g->cfg.nseeds > 0)
        snprintf(ev->addr, sizeof(ev->addr), "%s", g->cfg.seeds[0]);
    return 0;
}

int gossip_tick(struct gossip *g, int64_t now_ms, struct ring_rand *r,
                struct gossip_out *out)
{
    int rc;

    self_ep(g)->heartbeat = ++g->version;
    quarantine_expire(g, now_ms);
    rc = status_check(g, now_ms, out);
    if (rc == 0 && g->addr_dirty)
        addr_recheck(g);
    if (rc == 0)
        rc = gossip_round(g, r, out);
    if (rc == 0)
        rc = check_no_seed(g, now_ms, out);
    out->next_tick_ms = now_ms + g->cfg.interval_ms;
    return rc;
}

/* ---- receiving: validation ---- */

static bool id_ok(const ProtobufCBinaryData *b)
{
    return b->len == RING_HOST_ID_LEN;
}

/* Text that fits `cap` bytes with its NUL and holds no NUL itself. */
static bool text_ok(const ProtobufCBinaryData *b, size_t cap)
{
    return b->len < cap && (b->len == 0 || !memchr(b->data, 0, b->len));
}

static bool app_ok(const Cairn__GossipAppState *a)
{
    if (a->key >= GOSSIP_APP_COUNT || a->version == 0)
        return false;
    if (a->n_tokens > 0 && a->key != GOSSIP_APP_TOKENS)
        return false;
    switch (a->key) {
    case GOSSIP_APP_STATUS:
        return a->num_value < GOSSIP_STATUS_COUNT;
    case GOSSIP_APP_TOKENS:
        return a->n_tokens <= TOKENS_MAX_NUM;
    case GOSSIP_APP_SCHEMA:
        return a->bytes_value.len == GOSSIP_SCHEMA_LEN;
    case GOSSIP_APP_ADDRESS:
        return text_ok(&a->bytes_value, GOSSIP_ADDR_MAX);
    case GOSSIP_APP_RACK:
        return text_ok(&a->bytes_value, TOKENS_RACK_MAX);
    default:
        return true;
    }
}

static bool states_ok(Cairn__GossipEndpointState **s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!id_ok(&s[i]->host_id) || s[i]->generation == 0)
            return false;
        for (size_t j = 0; j < s[i]->n_states; j++)
            if (!app_ok(s[i]->states[j]))
                return false;
    }
    return true;
}

static bool digests_ok(Cairn__GossipDigest **d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!id_ok(&d[i]->host_id))
            return false;
    return true;
}

static bool frame_ok(const Cairn__GossipMessage *m)
{
    if (!id_ok(&m->from_host_id) ||
        (m->to_host_id.len != 0 && !id_ok(&m->to_host_id)) ||
        strlen(m->from_address) == 0 ||
        strlen(m->from_address) >= GOSSIP_ADDR_MAX)
        return false;
    switch (m->body_case) {
    case CAIRN__GOSSIP_MESSAGE__BODY_SYN:
        return digests_ok(m->syn->digests, m->syn->n_digests);
    case CAIRN__GOSSIP_MESSAGE__BODY_ACK:
        return digests_ok(m->ack->requests, m->ack->n_requests) &&
               states_ok(m->ack->states, m->ack->n_states);
    case CAIRN__GOSSIP_MESSAGE__BODY_ACK2:
        return states_ok(m->ack2->states, m->ack2->n_states);
    default:
        return false;
    }
}

static void id_from(struct ring_host_id *id, const ProtobufCBinaryData *b)
{
    memcpy(id->b, b->data, RING_HOST_ID_LEN);
}

/* ---- receiving: merging states ---- */

static void copy_str(char *dst, size_t cap, const ProtobufCBinaryData *b)
{
    size_t n = b->len < cap ? b->len : cap - 1;

    if (n > 0)
        memcpy(dst, b->data, n);
    dst[n] = '\0';
}

/* A new status; a dead one starts the clock towards eviction. */
static bool set_status(struct gossip_endpoint *ep, enum gossip_status st,
                       int64_t now_ms)
{
    bool changed = ep->status != st;

    ep->status = st;
    if (status_dead(st) && ep->dead_since_ms < 0) {
        ep->dead_since_ms = now_ms;
        ep->alive = false;
    } else if (!status_dead(st)) {
        ep->dead_since_ms = -1;
    }
    return changed;
}

/* A peer's schema version; the owner pulls the schema when it differs
 * from ours. */
static int set_schema(struct gossip *g, struct gossip_endpoint *ep,
                      const uint8_t *schema, struct gossip_out *out)
{
    bool changed = memcmp(ep->schema, schema, GOSSIP_SCHEMA_LEN) != 0;

    memcpy(ep->schema, schema, GOSSIP_SCHEMA_LEN);
    if (!changed || memcmp(schema, self_ep(g)->schema, GOSSIP_SCHEMA_LEN) == 0)
        return 0;
    return emit(out, GOSSIP_EV_SCHEMA, &ep->id, GOSSIP_APP_SCHEMA);
}

/* A new address: an event with the old one, and a C13 recheck later. */
static int set_address(struct gossip *g, struct gossip_endpoint *ep,
                       const ProtobufCBinaryData *b, struct gossip_out *out)
{
    char old[GOSSIP_ADDR_MAX];
    int rc;

    memcpy(old, ep->address, sizeof(old));
    copy_str(ep->address, sizeof(ep->address), b);
    if (strcmp(old, ep->address) == 0)
        return 0;
    g->addr_dirty = true;
    rc = emit(out, GOSSIP_EV_ADDRESS, &ep->id, GOSSIP_APP_ADDRESS);
    if (rc == 0)
        memcpy(out->events[out->nevents - 1].addr, old, sizeof(old));
    return rc;
}

/* Set one application state of `ep` from the wire; status, tokens and
 * rack changes are reported as CHANGE events. */
static int apply_app(struct gossip *g, struct gossip_endpoint *ep,
                     const Cairn__GossipAppState *a, int64_t now_ms,
                     struct gossip_out *out)
{
    char was[TOKENS_RACK_MAX];
    bool changed = false;
    int rc = 0;

    ep->version[a->key] = a->version;
    switch (a->key) {
    case GOSSIP_APP_STATUS:
        changed = set_status(ep, (enum gossip_status)a->num_value, now_ms);
        break;
    case GOSSIP_APP_TOKENS:
        rc = ep_set_tokens(ep, a->tokens, a->n_tokens, &changed);
        break;
    case GOSSIP_APP_SCHEMA:
        return set_schema(g, ep, a->bytes_value.data, out);
    case GOSSIP_APP_LOAD:
        ep->load = a->num_value;
        return 0;
    case GOSSIP_APP_ADDRESS:
        return set_address(g, ep, &a->bytes_value, out);
    case GOSSIP_APP_RACK:
        memcpy(was, ep->rack, sizeof(was));
        copy_str(ep->rack, sizeof(ep->rack), &a->bytes_value);
        changed = strcmp(was, ep->rack) != 0;
        break;
    }
    if (rc == 0 && changed)
        rc = emit(out, GOSSIP_EV_CHANGE, &ep->id, (enum gossip_app)a->key);
    return rc;
}

/* Forget everything of an older generation before the new one lands. */
static void ep_reset_generation(struct gossip_endpoint *ep, uint64_t gen)
{
    ep->generation = gen;
    ep->heartbeat = 0;
    memset(ep->version, 0, sizeof(ep->version));
}

/* After a new generation landed, values its states did not carry belong
 * to the old process and go. */
static void ep_clear_unset(struct gossip_endpoint *ep)
{
    if (ep->version[GOSSIP_APP_STATUS] == 0)
        ep->status = GOSSIP_STATUS_NONE;
    if (ep->version[GOSSIP_APP_TOKENS] == 0) {
        mem_free(ep->tokens);
        ep->tokens = NULL;
        ep->ntokens = 0;
    }
    if (ep->version[GOSSIP_APP_SCHEMA] == 0)
        memset(ep->schema, 0, sizeof(ep->schema));
    if (ep->version[GOSSIP_APP_LOAD] == 0)
        ep->load = 0;
    if (ep->version[GOSSIP_APP_ADDRESS] == 0)
        ep->address[0] = '\0';
    if (ep->version[GOSSIP_APP_RACK] == 0)
        ep->rack[0] = '\0';
    if (!status_dead(ep->status))
        ep->dead_since_ms = -1;
}

/* The heartbeat advanced: feed the detector, and a peer it had not (or no
 * longer) believed alive is up. */
static int heartbeat_seen(struct gossip *g, struct gossip_endpoint *ep,
                          uint64_t hb, int64_t now_ms, struct gossip_out *out)
{
    ep->heartbeat = hb;
    fd_report(&ep->fd, &g->cfg.fd, now_ms);
    if (ep->alive || status_dead(ep->status))
        return 0;
    ep->alive = true;
    return emit(out, GOSSIP_EV_UP, &ep->id, 0);
}

/*
 * Merge one endpoint state from the wire (rules in docs/gossip.md):
 * ourselves and quarantined ids are ignored; an unknown id is added; a
 * higher generation replaces the old state whatever its versions; a lower
 * one is ignored; within a generation each state with a higher version
 * wins, and a higher heartbeat is a sign of life.
 */
static int apply_state(struct gossip *g, const Cairn__GossipEndpointState *s,
                       int64_t now_ms, struct gossip_out *out)
{
    struct ring_host_id id;
    struct gossip_endpoint *ep;
    bool fresh = false, replaced = false;
    int rc = 0;

    id_from(&id, &s->host_id);
    if (ring_host_id_eq(&id, &g->cfg.self) ||
        gossip_quarantined(g, &id, now_ms))
        return 0;
    ep = ep_get(g, &id);
    if (!ep) {
        ep = ep_insert(g, &id);
        if (!ep)
            return err_set(-ENOMEM, "gossip state");
        ep_reset_generation(ep, s->generation);
        fresh = true;
        g->addr_dirty = true;
        rc = emit(out, GOSSIP_EV_JOIN, &id, 0);
    } else if (s->generation > ep->generation) {
        ep_reset_generation(ep, s->generation);
        replaced = true;
        g->addr_dirty = true;
        rc = emit(out, GOSSIP_EV_RESTART, &id, 0);
    } else if (s->generation < ep->generation) {
        return 0;
    }
    for (size_t j = 0; rc == 0 && j < s->n_states; j++)
        if (s->states[j]->version > ep->version[s->states[j]->key])
            rc = apply_app(g, ep, s->states[j], now_ms, out);
    if (rc == 0 && replaced) {
        ep_clear_unset(ep);
        /* A new generation is fresh news of a peer we believed alive: its
         * restart gap must not count as silence. */
        if (ep->alive)
            fd_report(&ep->fd, &g->cfg.fd, now_ms);
    }
    if (rc == 0 && s->heartbeat > ep->heartbeat) {
        if (fresh || ep->heartbeat == 0)
            ep->heartbeat = s->heartbeat; /* first sight: no proof of life */
        else
            rc = heartbeat_seen(g, ep, s->heartbeat, now_ms, out);
    }
    return rc;
}

static int apply_states(struct gossip *g, Cairn__GossipEndpointState **s,
                        size_t n, int64_t now_ms, struct gossip_out *out)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = apply_state(g, s[i], now_ms, out);
    if (g->addr_dirty)
        addr_recheck(g);
    return rc;
}

/* ---- receiving: the three messages ---- */

/* Compare one SYN digest with our view; requests and newer states go
 * into `e`, and `listed` marks the endpoints the sender knows. */
static void syn_digest(struct gossip *g, const Cairn__GossipDigest *d,
                       bool *listed, int64_t now_ms, struct enc *e)
{
    /* Requests point at the digest's own bytes, which live in the SYN
     * until the reply is packed. */
    const struct ring_host_id *id =
        (const struct ring_host_id *)d->host_id.data;
    long k = ep_search(g, id, NULL);
    uint64_t mine;

    if ((k >= 0 && listed[k]) || gossip_quarantined(g, id, now_ms))
        return; /* listed twice (the first digest rules), or quarantined */
    if (k >= 0)
        listed[k] = true;
    if (k < 0 || d->generation > g->eps[k].generation) {
        enc_digest(e, id, d->generation, 0);
        return;
    }
    mine = ep_max_version(&g->eps[k]);
    if (d->generation < g->eps[k].generation)
        enc_state(e, &g->eps[k], 0);
    else if (d->max_version > mine)
        enc_digest(e, id, d->generation, mine);
    else if (d->max_version < mine)
        enc_state(e, &g->eps[k], d->max_version);
}

/*
 * SYN: for each digest, ask for what the sender has newer (a request
 * carries the version we already hold, 0 for everything) and send what we
 * have newer. Endpoints the sender did not list at all go to it whole, so
 * a newcomer learns the cluster in one exchange.
 */
static int on_syn(struct gossip *g, const Cairn__GossipMessage *m,
                  int64_t now_ms, struct gossip_out *out)
{
    Cairn__GossipMessage reply = CAIRN__GOSSIP_MESSAGE__INIT;
    Cairn__GossipAck ack = CAIRN__GOSSIP_ACK__INIT;
    const Cairn__GossipSyn *syn = m->syn;
    bool *listed = mem_calloc(MEM_RING, g->neps + 1, sizeof(bool));
    struct ring_host_id from;
    struct enc e;
    int rc = enc_init(&e, syn->n_digests, g->neps);

    for (size_t i = 0; rc == 0 && listed && i < syn->n_digests; i++)
        syn_digest(g, syn->digests[i], listed, now_ms, &e);
    for (size_t k = 0; rc == 0 && listed && k < g->neps; k++)
        if (!listed[k])
            enc_state(&e, &g->eps[k], 0);
    if (!listed)
        rc = err_set(-ENOMEM, "gossip syn");
    ack.requests = e.dgp;
    ack.n_requests = e.ndg;
    ack.states = e.esp;
    ack.n_states = e.nes;
    reply.body_case = CAIRN__GOSSIP_MESSAGE__BODY_ACK;
    reply.ack = &ack;
    id_from(&from, &m->from_host_id);
    if (rc == 0)
        rc = send_frame(g, out, &reply, m->from_address, &from);
    enc_free(&e);
    mem_free(listed);
    return rc;
}

/* ACK: take the newer states, then send what the peer asked for. */
static int on_ack(struct gossip *g, const Cairn__GossipMessage *m,
                  int64_t now_ms, struct gossip_out *out)
{
    Cairn__GossipMessage reply = CAIRN__GOSSIP_MESSAGE__INIT;
    Cairn__GossipAck2 ack2 = CAIRN__GOSSIP_ACK2__INIT;
    const Cairn__GossipAck *ack = m->ack;
    struct ring_host_id from;
    struct enc e;
    int rc = apply_states(g, ack->states, ack->n_states, now_ms, out);

    if (rc < 0 || ack->n_requests == 0)
        return rc;
    rc = enc_init(&e, 0, ack->n_requests);
    for (size_t i = 0; rc == 0 && i < ack->n_requests; i++) {
        const Cairn__GossipDigest *d = ack->requests[i];
        struct ring_host_id id;
        const struct gossip_endpoint *ep;

        id_from(&id, &d->host_id);
        ep = ep_get(g, &id);
        if (!ep || ep->generation < d->generation)
            continue;
        enc_state(&e, ep, ep->generation > d->generation ? 0 : d->max_version);
    }
    ack2.states = e.esp;
    ack2.n_states = e.nes;
    reply.body_case = CAIRN__GOSSIP_MESSAGE__BODY_ACK2;
    reply.ack2 = &ack2;
    id_from(&from, &m->from_host_id);
    if (rc == 0 && e.nes > 0)
        rc = send_frame(g, out, &reply, m->from_address, &from);
    enc_free(&e);
    return rc;
}

/* Refuse a frame: record why, and tell the caller in an event. */
static int reject(const Cairn__GossipMessage *m, struct gossip_out *out,
                  const char *why)
{
    struct gossip_event *ev = out_event(out, GOSSIP_EV_REJECT, NULL);
    int rc = err_set(CAIRN_EPROTO, "gossip from %s refused: %s",
                     m->from_address, why);

    if (!ev)
        return err_set(-ENOMEM, "gossip events");
    id_from(&ev->id, &m->from_host_id);
    snprintf(ev->addr, sizeof(ev->addr), "%s", m->from_address);
    ev->code = rc;
    return rc;
}

static int dispatch(struct gossip *g, const Cairn__GossipMessage *m,
                    int64_t now_ms, struct gossip_out *out)
{
    struct ring_host_id from, to;

    id_from(&from, &m->from_host_id);
    if (strcmp(m->cluster_name, g->cfg.cluster) != 0)
        return reject(m, out, "another cluster");
    if (ring_host_id_eq(&from, &g->cfg.self))
        return reject(m, out, "sender uses our host id");
    if (m->to_host_id.len) {
        id_from(&to, &m->to_host_id);
        if (!ring_host_id_eq(&to, &g->cfg.self))
            return reject(m, out, "frame meant for another host id");
    }
    g->contacted = true;
    switch (m->body_case) {
    case CAIRN__GOSSIP_MESSAGE__BODY_SYN:
        return on_syn(g, m, now_ms, out);
    case CAIRN__GOSSIP_MESSAGE__BODY_ACK:
        return on_ack(g, m, now_ms, out);
    default:
        return apply_states(g, m->ack2->states, m->ack2->n_states, now_ms, out);
    }
}

int gossip_recv(struct gossip *g, int64_t now_ms, const uint8_t *data,
                size_t len, struct gossip_out *out)
{
    Cairn__GossipMessage *m =
        cairn__gossip_message__unpack(&g->alloc, len, data);
    int rc;

    if (!m)
        return err_set(CAIRN_ECORRUPT,
                       "gossip frame of %zu bytes does not "
                       "decode",
                       len);
    if (!frame_ok(m)) {
        cairn__gossip_message__free_unpacked(m, &g->alloc);
        return err_set(CAIRN_ECORRUPT, "gossip frame with invalid fields");
    }
    rc = dispatch(g, m, now_ms, out);
    cairn__gossip_message__free_unpacked(m, &g->alloc);
    return rc;
}

int gossip_build_ring(const struct gossip *g, struct tokens_snap **out)
{
    struct tokens_meta *tm = tokens_meta_new();
    int rc = 0;

    *out = NULL;
    if (!tm)
        return err_set(-ENOMEM, "token metadata");
    for (size_t i = 0; rc == 0 && i < g->neps; i++) {
        const struct gossip_endpoint *ep = &g->eps[i];

        if ((ep->status == GOSSIP_STATUS_NORMAL ||
             ep->status == GOSSIP_STATUS_LEAVING) &&
            ep->ntokens > 0)
            rc = tokens_meta_set_node(tm, &ep->id, ep->rack, ep->tokens,
                                      ep->ntokens);
    }
    if (rc == 0)
        rc = tokens_snap_build(tm, out);
    tokens_meta_free(tm);
    return rc;
}
