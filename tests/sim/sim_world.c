/*
 * sim_world.c -- the simulated clock, network and nodes of cairn-sim.
 *
 * The network is a binary heap of frames ordered by delivery time and a
 * sequence number. A frame may be lost (w->loss), delayed by a random
 * 0..w->delay_ms (which reorders frames), dropped when its two ends are on
 * different sides of a partition at delivery time, or refused when no
 * running node holds the address it was sent to. A node at an address it
 * took over from another receives frames meant for that other node; the
 * gossiper's host-id check must refuse them (C13).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tests/sim/sim.h"

/* ---- random numbers ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_prng_seed(struct sim_prng *p, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        p->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_prng_next(void *ctx)
{
    struct sim_prng *p = ctx;
    uint64_t r = rotl(p->s[1] * 5, 7) * 9;
    uint64_t t = p->s[1] << 17;

    p->s[2] ^= p->s[0];
    p->s[3] ^= p->s[1];
    p->s[1] ^= p->s[2];
    p->s[0] ^= p->s[3];
    p->s[2] ^= t;
    p->s[3] = rotl(p->s[3], 45);
    return r;
}

uint64_t sim_below(struct sim_prng *p, uint64_t n)
{
    struct ring_rand r = {sim_prng_next, p};

    return ring_rand_below(&r, n);
}

double sim_unit(struct sim_prng *p)
{
    return (double)(sim_prng_next(p) >> 11) / 0x1p53;
}

/* ---- bookkeeping ---- */

void sim_fail(struct sim_world *w, const char *fmt, ...)
{
    va_list ap;

    if (w->fail[0])
        return;
    va_start(ap, fmt);
    vsnprintf(w->fail, sizeof(w->fail), fmt, ap);
    va_end(ap);
}

static void trace_mix(struct sim_world *w, uint64_t v)
{
    w->trace = (w->trace ^ v) * 0x100000001b3ULL;
}

static int node_of_id(const struct sim_world *w, const struct ring_host_id *id)
{
    for (size_t i = 0; i < w->n; i++)
        if (ring_host_id_eq(&w->nodes[i].id, id))
            return (int)i;
    return -1;
}

static int node_at_addr(const struct sim_world *w, const char *addr)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->nodes[i].g && strcmp(w->nodes[i].addr, addr) == 0)
            return (int)i;
    return -1;
}

void sim_new_addr(struct sim_world *w, char *out)
{
    uint64_t a = ++w->next_addr;

    snprintf(out, SIM_ADDR_MAX, "10.%u.%u.%u:7001", (unsigned)(a >> 16) & 255,
             (unsigned)(a >> 8) & 255, (unsigned)a & 255);
}

static void schema_bytes(uint64_t counter, uint8_t *out)
{
    memset(out, 0, GOSSIP_SCHEMA_LEN);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(counter >> (56 - 8 * i));
}

static uint64_t schema_counter(const uint8_t *b)
{
    uint64_t c = 0;

    for (int i = 0; i < 8; i++)
        c = c << 8 | b[i];
    return c;
}

void sim_bump_schema(struct sim_world *w, int i)
{
    uint8_t b[GOSSIP_SCHEMA_LEN];
    struct sim_node *nd = &w->nodes[i];

    if (!nd->g)
        return;
    nd->schema++;
    schema_bytes(nd->schema, b);
    gossip_set_schema(nd->g, b);
}

/* ---- the heap of frames in flight ---- */

static bool frame_before(const struct sim_frame *a, const struct sim_frame *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static int heap_push(struct sim_world *w, struct sim_frame *f)
{
    size_t i;

    if (w->nheap == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 1024;
        void *p = mem_realloc(MEM_TEST, w->heap, cap * sizeof(*w->heap));

        if (!p)
            return -ENOMEM;
        w->heap = p;
        w->heap_cap = cap;
    }
    i = w->nheap++;
    while (i > 0 && frame_before(f, w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = f;
    return 0;
}

static struct sim_frame *heap_pop(struct sim_world *w)
{
    struct sim_frame *top = w->heap[0], *last = w->heap[--w->nheap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= w->nheap)
            break;
        if (c + 1 < w->nheap && frame_before(w->heap[c + 1], w->heap[c]))
            c++;
        if (!frame_before(w->heap[c], last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->nheap > 0)
        w->heap[i] = last;
    return top;
}

static void frame_free(struct sim_frame *f)
{
    mem_free(f->data);
    mem_free(f);
}

/* ---- nodes' output ---- */

static int send_frames(struct sim_world *w, int from)
{
    for (size_t k = 0; k < w->out.nmsgs; k++) {
        struct gossip_msg *m = &w->out.msgs[k];
        struct sim_frame *f;

        w->st.sent++;
        w->st.bytes += m->len;
        if (w->loss > 0 && sim_unit(&w->rng) < w->loss) {
            w->st.lost++;
            continue;
        }
        f = mem_calloc(MEM_TEST, 1, sizeof(*f));
        if (!f)
            return -ENOMEM;
        f->at = w->now + 1 +
                (w->delay_ms > 0
                     ? (int64_t)sim_below(&w->rng, (uint64_t)w->delay_ms + 1)
                     : 0);
        f->seq = ++w->seq;
        f->from = from;
        memcpy(f->to, m->addr, sizeof(f->to));
        f->data = m->data; /* the frame takes the bytes over */
        f->len = m->len;
        m->data = NULL;
        if (heap_push(w, f) < 0) {
            frame_free(f);
            return -ENOMEM;
        }
    }
    return 0;
}

/*
 * Was a convicted node healthy? Running, and either never stopped or
 * restarted long enough ago: a verdict shortly after a restart may still
 * be about the silence of the previous process, which was real.
 */
static bool healthy(const struct sim_world *w, int target)
{
    const struct sim_node *nd = target >= 0 ? &w->nodes[target] : NULL;

    return nd && nd->g &&
           (nd->stops == 0 || w->now - nd->start_at >= SIM_RESTART_GRACE_MS);
}

static int record_down(struct sim_world *w, int observer, int target)
{
    if (w->ndowns == w->downs_cap) {
        size_t cap = w->downs_cap ? w->downs_cap * 2 : 64;
        void *p = mem_realloc(MEM_TEST, w->downs, cap * sizeof(*w->downs));

        if (!p)
            return -ENOMEM;
        w->downs = p;
        w->downs_cap = cap;
    }
    w->downs[w->ndowns++] =
        (struct sim_down){observer, target, w->now, healthy(w, target)};
    return 0;
}

/* Schema agreement in miniature: the server pulls the schema from a peer
 * whose version differs; here a higher counter is adopted as if pulled. */
static void adopt_schema(struct sim_world *w, int i,
                         const struct ring_host_id *peer)
{
    struct sim_node *nd = &w->nodes[i];
    const struct gossip_endpoint *ep = gossip_find(nd->g, peer);
    uint64_t c;

    if (!ep)
        return;
    c = schema_counter(ep->schema);
    if (c > nd->schema) {
        nd->schema = c - 1;
        sim_bump_schema(w, i);
    }
}

static int take_events(struct sim_world *w, int i)
{
    int rc = 0;

    for (size_t k = 0; k < w->out.nevents && rc == 0; k++) {
        const struct gossip_event *ev = &w->out.events[k];

        trace_mix(w, (uint64_t)ev->kind << 32 | (uint64_t)i);
        trace_mix(w, (uint64_t)w->now);
        switch (ev->kind) {
        case GOSSIP_EV_DOWN:
            rc = record_down(w, i, node_of_id(w, &ev->id));
            break;
        case GOSSIP_EV_SCHEMA:
            adopt_schema(w, i, &ev->id);
            break;
        case GOSSIP_EV_NO_SEED:
            w->nodes[i].no_seed = true;
            break;
        case GOSSIP_EV_REJECT:
            w->st.rejected++;
            break;
        default:
            break;
        }
    }
    return rc;
}

/* Hand node i's frames to the network and act on its events. */
static int handle_out(struct sim_world *w, int i)
{
    int rc = take_events(w, i);

    if (rc == 0)
        rc = send_frames(w, i);
    gossip_out_reset(&w->out);
    if (rc < 0)
        sim_fail(w, "simulator out of memory");
    return rc;
}

static int deliver(struct sim_world *w, struct sim_frame *f)
{
    int to = node_at_addr(w, f->to);
    int rc;

    if (to < 0) {
        w->st.refused++;
        return 0;
    }
    if (w->group[f->from] != w->group[to]) {
        w->st.partitioned++;
        return 0;
    }
    w->st.delivered++;
    for (size_t k = 0; k < f->len; k++)
        trace_mix(w, f->data[k]);
    rc = gossip_recv(w->nodes[to].g, w->now, f->data, f->len, &w->out);
    if (rc == CAIRN_ECORRUPT || rc == -ENOMEM) {
        sim_fail(w, "frame from node %d to node %d refused: %s", f->from, to,
                 err_msg());
        gossip_out_reset(&w->out);
        return rc;
    }
    return handle_out(w, to);
}

static int tick(struct sim_world *w, int i)
{
    struct sim_node *nd = &w->nodes[i];
    struct ring_rand r = {sim_prng_next, &nd->rng};
    int rc = gossip_tick(nd->g, w->now, &r, &w->out);

    nd->next_tick = w->out.next_tick_ms;
    if (rc < 0) {
        sim_fail(w, "gossip_tick on node %d: %s", i, err_msg());
        gossip_out_reset(&w->out);
        return rc;
    }
    return handle_out(w, i);
}

int sim_run(struct sim_world *w, int64_t until)
{
    int rc = 0;

    while (rc == 0) {
        int64_t tmsg = w->nheap ? w->heap[0]->at : INT64_MAX;
        int64_t ttick = INT64_MAX;
        int ti = -1;

        for (size_t i = 0; i < w->n; i++)
            if (w->nodes[i].g && w->nodes[i].next_tick < ttick) {
                ttick = w->nodes[i].next_tick;
                ti = (int)i;
            }
        if (tmsg > until && ttick > until)
            break;
        if (tmsg <= ttick) {
            struct sim_frame *f = heap_pop(w);

            w->now = tmsg;
            rc = deliver(w, f);
            frame_free(f);
        } else {
            w->now = ttick;
            rc = tick(w, ti);
        }
    }
    if (w->now < until)
        w->now = until;
    return rc;
}

/* ---- starting and stopping ---- */

static int load_saved(struct sim_node *nd)
{
    int rc = 0;

    for (size_t k = 0; k < nd->nsaved && rc == 0; k++) {
        const struct sim_saved_peer *p = &nd->saved[k];

        rc = gossip_add_peer(nd->g, &p->id, p->generation, p->status,
                             p->address, p->rack, p->tokens, p->ntokens);
    }
    return rc;
}

static void make_config(struct sim_world *w, struct sim_node *nd,
                        bool new_cluster, struct gossip_config *c)
{
    gossip_config_default(c);
    c->self = nd->id;
    snprintf(c->cluster, sizeof(c->cluster), "sim");
    snprintf(c->address, sizeof(c->address), "%s", nd->addr);
    snprintf(c->rack, sizeof(c->rack), "%s", nd->rack);
    for (size_t s = 0; s < w->nseeds; s++)
        memcpy(c->seeds[s], w->seeds[s], GOSSIP_ADDR_MAX);
    c->nseeds = w->nseeds;
    /* Like Cassandra, the generation is the start time in seconds; a
     * restart within the same second still moves it up. */
    nd->generation = nd->generation + 1 > (uint64_t)(w->now / 1000) + 1000
                         ? nd->generation + 1
                         : (uint64_t)(w->now / 1000) + 1000;
    c->generation = nd->generation;
    c->dead_state_ms = w->dead_state_ms;
    c->new_cluster = new_cluster;
}

int sim_start(struct sim_world *w, int i, bool new_cluster)
{
    struct sim_node *nd = &w->nodes[i];
    struct gossip_config c;
    uint8_t schema[GOSSIP_SCHEMA_LEN];
    int rc;

    make_config(w, nd, new_cluster, &c);
    rc = gossip_new(&c, w->now, &nd->g);
    if (rc == 0)
        rc = load_saved(nd);
    if (rc == 0)
        rc = gossip_set_tokens(nd->g, nd->tokens, SIM_TOKENS);
    if (rc == 0)
        rc = gossip_set_status(nd->g, GOSSIP_STATUS_NORMAL);
    schema_bytes(nd->schema, schema);
    if (rc == 0)
        rc = gossip_set_schema(nd->g, schema);
    if (rc == 0)
        rc = gossip_set_load(nd->g, sim_below(&nd->rng, 1u << 30));
    if (rc < 0) {
        sim_fail(w, "start of node %d: %s", i, err_msg());
        return rc;
    }
    if (w->verbose)
        fprintf(stderr, "start %d at %lld gen %llu\n", i, (long long)w->now,
                (unsigned long long)nd->generation);
    nd->started = true;
    nd->start_at = w->now;
    nd->down_at = -1;
    nd->next_tick = w->now + (int64_t)sim_below(&nd->rng, 1000);
    return 0;
}

/* What a server persists: every peer it knows that is not a dead state. */
static void save_peers(struct sim_node *nd)
{
    size_t n = gossip_count(nd->g);

    mem_free(nd->saved);
    nd->saved = mem_calloc(MEM_TEST, n + 1, sizeof(*nd->saved));
    nd->nsaved = 0;
    for (size_t k = 0; nd->saved && k < n; k++) {
        const struct gossip_endpoint *ep = gossip_endpoint_at(nd->g, k);
        struct sim_saved_peer *p = &nd->saved[nd->nsaved];

        if (ring_host_id_eq(&ep->id, &nd->id) ||
            ep->status == GOSSIP_STATUS_LEFT ||
            ep->status == GOSSIP_STATUS_REMOVED || ep->ntokens > SIM_TOKENS)
            continue;
        p->id = ep->id;
        p->generation = ep->generation;
        p->status = ep->status;
        memcpy(p->address, ep->address, sizeof(p->address));
        memcpy(p->rack, ep->rack, sizeof(p->rack));
        memcpy(p->tokens, ep->tokens, ep->ntokens * sizeof(int64_t));
        p->ntokens = ep->ntokens;
        nd->nsaved++;
    }
}

void sim_stop(struct sim_world *w, int i)
{
    struct sim_node *nd = &w->nodes[i];

    if (!nd->g)
        return;
    if (w->verbose)
        fprintf(stderr, "stop %d at %lld\n", i, (long long)w->now);
    save_peers(nd);
    gossip_free(nd->g);
    nd->g = NULL;
    nd->down_at = w->now;
    nd->stops++;
}

int sim_world_init(struct sim_world *w, uint64_t seed, size_t n, int racks)
{
    struct ring_rand r;

    memset(w, 0, sizeof(*w));
    sim_prng_seed(&w->rng, seed);
    r = (struct ring_rand){sim_prng_next, &w->rng};
    w->n = n;
    w->racks = racks;
    w->dead_state_ms = 30 * 1000;
    w->nodes = mem_calloc(MEM_TEST, n, sizeof(*w->nodes));
    w->group = mem_calloc(MEM_TEST, n, sizeof(*w->group));
    if (!w->nodes || !w->group)
        return -ENOMEM;
    gossip_out_init(&w->out);
    for (size_t i = 0; i < n; i++) {
        struct sim_node *nd = &w->nodes[i];

        nd->idx = (int)i;
        nd->down_at = -1;
        ring_host_id_random(&r, &nd->id);
        sim_prng_seed(&nd->rng, sim_prng_next(&w->rng));
        sim_new_addr(w, nd->addr);
        if (racks > 0)
            snprintf(nd->rack, sizeof(nd->rack), "rack%zu", i % racks);
        nd->schema = 1;
        if (tokens_pick(&r, NULL, SIM_TOKENS, nd->tokens) < 0)
            return -EINVAL;
    }
    w->nseeds = n > 1 ? 2 : 1;
    for (size_t s = 0; s < w->nseeds; s++)
        memcpy(w->seeds[s], w->nodes[s].addr, SIM_ADDR_MAX);
    return 0;
}

void sim_world_free(struct sim_world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        gossip_free(w->nodes[i].g);
        mem_free(w->nodes[i].saved);
    }
    while (w->nheap > 0)
        frame_free(heap_pop(w));
    mem_free(w->heap);
    mem_free(w->nodes);
    mem_free(w->group);
    mem_free(w->downs);
    gossip_out_free(&w->out);
}
