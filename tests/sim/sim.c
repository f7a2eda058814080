/*
 * sim.c -- cairn-sim: seeded simulation of the ring's gossip and failure
 * detection (issue 5; scenarios C13 and D06 as far as membership goes).
 *
 *   cairn-sim --seed N [--nodes N --seconds S --loss P --delay-ms D
 *             --partitions K --crashes C --racks R] [--quick] [--runs K]
 *
 * With only --seed it runs a default mix: a 5-node and a 100-node ring
 * under loss, delay, partitions, crashes and restarts (with an address
 * swap, a permanently dead node and a removed node); a 100-node ring with
 * crashes but no loss, delay or partition, in which no healthy node may
 * ever be convicted; and the D06 restarts (rejoin from stored peers with
 * the only seed down; a new node with no reachable seed).
 *
 * Any of the knobs runs one ring with them instead (defaults: 5 nodes,
 * a 60 s fault window, loss 0.05, delay up to 50 ms, 1 partition, 2
 * crashes, no racks). --seconds is the length of the fault window in
 * simulated seconds (boot, convergence and quarantine waits come on top).
 * With --loss 0 --delay-ms 0 --partitions 0 the no-false-conviction check
 * applies. --quick shrinks the 100-node rings of the mix to 40 nodes for
 * sanitizer builds; --runs K runs K consecutive seeds; --verbose traces
 * starts, stops and wrong verdicts to stderr.
 *
 * Prints its seed first; exits 0 when every check held, 1 with the first
 * broken check otherwise, 2 on bad usage. The same seed replays the same
 * run: the default mix also runs its first ring twice and compares a hash
 * of every delivered frame and event.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tests/sim/sim.h"

static bool verbose; /* --verbose: starts, stops, wrong verdicts */

struct knobs {
    size_t nodes;
    int64_t seconds; /* length of the fault window */
    double loss;
    int64_t delay_ms;
    int partitions, crashes, racks;
    int max_rounds; /* convergence bound after faults stop */
};

/* What a scenario measured, for the report line. */
struct result {
    int rounds; /* gossip rounds to converge after faults stop */
    double conv_min, conv_med, conv_max; /* conviction times, s */
    size_t convicted, observers;
    size_t false_downs; /* DOWN verdicts on running nodes */
};

/* Special roles in a fault run; -1 when the ring is too small. */
struct roles {
    int dead;           /* crashes for good: must be convicted */
    int swap_a, swap_b; /* C13: come back on each other's addresses */
    int removed;        /* crashes and is removed by node 0 */
    bool removed_done;  /* node 0 has announced the removal */
};

static bool special(const struct roles *ro, int i)
{
    return i == ro->dead || i == ro->swap_a || i == ro->swap_b ||
           i == ro->removed;
}

/* ---- checking the views against the truth ---- */

static uint64_t view_schema(const struct gossip_endpoint *ep)
{
    uint64_t c = 0;

    for (int i = 0; i < 8; i++)
        c = c << 8 | ep->schema[i];
    return c;
}

/* Write why a check failed into `why` and return false. */
static bool nope(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool nope(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return false;
}

/* Does observer l see node j as it really is? */
static bool view_ok(const struct sim_world *w, int l, int j,
                    const struct roles *ro, uint64_t schema, char *why,
                    size_t cap)
{
    const struct sim_node *nj = &w->nodes[j];
    const struct gossip_endpoint *ep = gossip_find(w->nodes[l].g, &nj->id);

    if (j == ro->removed && ro->removed_done) {
        if (ep && ep->status != GOSSIP_STATUS_REMOVED)
            return nope(why, cap, "removed node %d back as %s at node %d", j,
                        gossip_status_name(ep->status), l);
        return true;
    }
    if (!nj->started)
        return !ep || nope(why, cap, "node %d knows never-started %d", l, j);
    if (!ep)
        return nope(why, cap, "node %d does not know node %d", l, j);
    if (ep->generation != nj->generation || ep->status != GOSSIP_STATUS_NORMAL)
        return nope(why, cap,
                    "node %d sees node %d at generation %" PRIu64
                    " status %s, truth %" PRIu64 " normal",
                    l, j, ep->generation, gossip_status_name(ep->status),
                    nj->generation);
    if (ep->ntokens != SIM_TOKENS ||
        memcmp(ep->tokens, nj->tokens, sizeof(nj->tokens)) != 0)
        return nope(why, cap, "node %d has wrong tokens for node %d", l, j);
    if (strcmp(ep->address, nj->addr) != 0 || ep->addr_stale)
        return nope(why, cap, "node %d sees node %d at %s%s, truth %s", l, j,
                    ep->address, ep->addr_stale ? " (stale)" : "", nj->addr);
    if (nj->g && view_schema(ep) != schema)
        return nope(why, cap,
                    "node %d sees schema %" PRIu64 " at node %d, newest "
                    "%" PRIu64,
                    l, view_schema(ep), j, schema);
    if (j != l && ep->alive != (nj->g != NULL))
        return nope(why, cap, "node %d sees node %d %s", l, j,
                    ep->alive ? "up, but it is down" : "down, but it is up");
    return true;
}

/* Count endpoints of L's view that are not dead states. */
static size_t live_members(const struct gossip *g)
{
    size_t n = 0;

    for (size_t k = 0; k < gossip_count(g); k++) {
        enum gossip_status st = gossip_endpoint_at(g, k)->status;

        n += st != GOSSIP_STATUS_REMOVED && st != GOSSIP_STATUS_LEFT;
    }
    return n;
}

/* All running nodes agree with the truth: membership, generations,
 * tokens, addresses, schema, and who is up. */
static bool converged(const struct sim_world *w, const struct roles *ro,
                      char *why, size_t cap)
{
    uint64_t schema = 0;
    size_t expect = 0;

    for (size_t i = 0; i < w->n; i++) {
        if (w->nodes[i].g && w->nodes[i].schema > schema)
            schema = w->nodes[i].schema;
        expect +=
            w->nodes[i].started && ((int)i != ro->removed || !ro->removed_done);
    }
    for (size_t l = 0; l < w->n; l++) {
        if (!w->nodes[l].g)
            continue;
        if (w->nodes[l].schema != schema)
            return nope(why, cap,
                        "node %zu has schema %" PRIu64 ", newest %" PRIu64, l,
                        w->nodes[l].schema, schema);
        for (size_t j = 0; j < w->n; j++)
            if (!view_ok(w, (int)l, (int)j, ro, schema, why, cap))
                return false;
        if (live_members(w->nodes[l].g) != expect)
            return nope(why, cap, "node %zu lists %zu members, truth %zu", l,
                        live_members(w->nodes[l].g), expect);
    }
    return true;
}

/* Run round by round until converged; the rounds, or -1 past the bound. */
static int wait_converged(struct sim_world *w, const struct roles *ro,
                          int max_rounds, char *why, size_t cap)
{
    for (int r = 0; r <= max_rounds; r++) {
        if (converged(w, ro, why, cap))
            return r;
        if (sim_run(w, w->now + 1000) < 0)
            return -1;
    }
    return -1;
}

/* ---- the ring built from a view ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Replica sets of random tokens: RF distinct nodes, spread over
 * min(RF, racks) racks when racks are configured. */
static bool replicas_ok(struct sim_world *w, const struct tokens_snap *s,
                        size_t rf, char *why, size_t cap)
{
    size_t nn = tokens_snap_node_count(s), want = rf < nn ? rf : nn;
    size_t racks = w->racks > 0 ? (size_t)w->racks : 1, reps[8], n;

    for (int k = 0; k < 1000; k++) {
        int64_t t = (int64_t)sim_prng_next(&w->rng);
        const char *rk[8];
        size_t distinct = 0;

        if (tokens_snap_replicas(s, t, rf, reps, &n) < 0 || n != want)
            return nope(why, cap, "token %" PRId64 ": %zu replicas, want %zu",
                        t, n, want);
        for (size_t a = 0; a < n; a++) {
            bool seen = false;

            tokens_snap_node(s, reps[a], &rk[a], NULL, NULL);
            for (size_t b = 0; b < a; b++) {
                if (reps[a] == reps[b])
                    return nope(why, cap, "token %" PRId64 ": replica twice",
                                t);
                seen = seen || strcmp(rk[a], rk[b]) == 0;
            }
            distinct += !seen;
        }
        if (distinct < (want < racks ? want : racks))
            return nope(why, cap, "token %" PRId64 ": replicas on %zu racks", t,
                        distinct);
    }
    return true;
}

/* Ownership sums to 1 (primary ranges) and to RF (replicated). */
static bool ring_ok(struct sim_world *w, int l, char *why, size_t cap)
{
    struct tokens_snap *s = NULL;
    double own[512], sum1 = 0, sum3 = 0;
    size_t nn, rf = 3;
    bool ok;

    if (gossip_build_ring(w->nodes[l].g, &s) < 0)
        return nope(why, cap, "ring of node %d: %s", l, err_msg());
    nn = tokens_snap_node_count(s);
    if (nn > 512 || tokens_snap_ownership(s, 1, own) < 0) {
        tokens_snap_unref(s);
        return nope(why, cap, "ownership of node %d's ring", l);
    }
    for (size_t i = 0; i < nn; i++)
        sum1 += own[i];
    tokens_snap_ownership(s, rf, own);
    for (size_t i = 0; i < nn; i++)
        sum3 += own[i];
    ok = fabs(sum1 - 1.0) < 1e-9 &&
         fabs(sum3 - (double)(rf < nn ? rf : nn)) < 1e-9;
    if (!ok)
        nope(why, cap, "ownership sums to %.12f (rf 1) and %.12f (rf 3)", sum1,
             sum3);
    ok = ok && replicas_ok(w, s, rf, why, cap);
    tokens_snap_unref(s);
    return ok;
}

/* C13: the two nodes that swapped addresses keep their own tokens under
 * their host ids, at their new addresses, in every running node's view,
 * and no address is claimed by two live entries. */
static bool swap_ok(const struct sim_world *w, const struct roles *ro,
                    char *why, size_t cap)
{
    int pair[2] = {ro->swap_a, ro->swap_b};

    if (ro->swap_a < 0)
        return true;
    for (size_t l = 0; l < w->n; l++) {
        const struct gossip *g = w->nodes[l].g;

        for (int k = 0; g && k < 2; k++) {
            const struct sim_node *nd = &w->nodes[pair[k]];
            const struct gossip_endpoint *ep = gossip_find(g, &nd->id);

            if (!ep || strcmp(ep->address, nd->addr) != 0 ||
                memcmp(ep->tokens, nd->tokens, sizeof(nd->tokens)) != 0)
                return nope(why, cap,
                            "C13: node %zu lost host id of node %d "
                            "or its tokens",
                            l, pair[k]);
        }
        for (size_t a = 0; g && a < gossip_count(g); a++)
            for (size_t b = a + 1; b < gossip_count(g); b++) {
                const struct gossip_endpoint *x = gossip_endpoint_at(g, a);
                const struct gossip_endpoint *y = gossip_endpoint_at(g, b);

                if (!x->addr_stale && !y->addr_stale &&
                    strcmp(x->address, y->address) == 0 &&
                    x->status != GOSSIP_STATUS_REMOVED &&
                    y->status != GOSSIP_STATUS_REMOVED)
                    return nope(why, cap,
                                "C13: node %zu has two entries at "
                                "%s",
                                l, x->address);
            }
    }
    return true;
}

/* Conviction times of `target` since it went down, over running nodes. */
static void conviction_stats(const struct sim_world *w, int target,
                             struct result *res)
{
    double t[512];
    size_t n = 0;

    res->observers = 0;
    for (size_t l = 0; l < w->n; l++) {
        if (!w->nodes[l].g || (int)l == target)
            continue;
        res->observers++;
        for (size_t k = 0; k < w->ndowns && n < 512; k++) {
            const struct sim_down *d = &w->downs[k];

            if (d->observer == (int)l && d->target == target &&
                d->at >= w->nodes[target].down_at) {
                t[n++] = (double)(d->at - w->nodes[target].down_at) / 1000.0;
                break;
            }
        }
    }
    res->convicted = n;
    if (n == 0)
        return;
    qsort(t, n, sizeof(*t), cmp_double);
    res->conv_min = t[0];
    res->conv_med = t[n / 2];
    res->conv_max = t[n - 1];
}

static size_t count_false_downs(const struct sim_world *w)
{
    size_t n = 0;

    for (size_t k = 0; w->verbose && k < w->ndowns; k++)
        if (w->downs[k].target_up)
            fprintf(stderr, "false down obs=%d target=%d at=%lld\n",
                    w->downs[k].observer, w->downs[k].target,
                    (long long)w->downs[k].at);

    for (size_t k = 0; k < w->ndowns; k++)
        n += w->downs[k].target_up;
    return n;
}

/* ---- the fault run ---- */

struct pending_restart {
    int node;
    int64_t at;
    bool new_addr;
};

struct fault_run {
    struct sim_world w;
    const struct knobs *k;
    struct roles ro;
    int64_t part_until;  /* -1: no partition active */
    int64_t *part_start; /* second of each partition */
    int64_t *crash_at;   /* second of each crash */
    int64_t schema_at[3];
    struct pending_restart *pend;
    size_t npend;
    int64_t removed_at; /* when node 0 announced the removal, -1 */
};

static void boot(struct sim_world *w, size_t count)
{
    int64_t *at = mem_calloc(MEM_TEST, w->n, sizeof(*at));

    for (size_t i = 1; at && i < w->n; i++)
        at[i] = 100 * (int64_t)sim_below(&w->rng, 50);
    for (int64_t t = 0; at && t < 20000 && !w->fail[0]; t += 100) {
        for (size_t i = 0; i < count; i++)
            if (!w->nodes[i].started && at[i] <= t)
                sim_start(w, (int)i, i == 0);
        sim_run(w, t + 100);
    }
    if (!at)
        sim_fail(w, "simulator out of memory");
    mem_free(at);
}

static void split(struct fault_run *f)
{
    struct sim_world *w = &f->w;

    if (w->n < 2)
        return; /* nothing to split */
    for (size_t i = 0; i < w->n; i++)
        w->group[i] = (int)sim_below(&w->rng, 2);
    w->group[0] = 0;
    w->group[w->n - 1] = 1; /* both sides hold someone */
    f->part_until = w->now + 1000 * (5 + (int64_t)sim_below(&w->rng, 26));
}

static void heal(struct sim_world *w)
{
    memset(w->group, 0, w->n * sizeof(*w->group));
}

/* A random running node other than node 0 and the special ones; -1. */
static int pick_victim(struct fault_run *f)
{
    struct sim_world *w = &f->w;
    size_t tries = 4 * w->n;

    while (w->n > 1 && tries-- > 0) {
        int i = 1 + (int)sim_below(&w->rng, w->n - 1);

        if (w->nodes[i].g && !special(&f->ro, i))
            return i;
    }
    return -1;
}

static void crash(struct fault_run *f, int64_t fault_end)
{
    struct sim_world *w = &f->w;
    int v = pick_victim(f);
    struct pending_restart *p;

    if (v < 0)
        return;
    sim_stop(w, v);
    p = &f->pend[f->npend++];
    p->node = v;
    p->at = w->now + 1000 * (3 + (int64_t)sim_below(&w->rng, 23));
    if (p->at > fault_end - 1000)
        p->at = fault_end - 1000;
    /* Some come back on a new address; seeds keep theirs. */
    p->new_addr = v >= (int)w->nseeds && sim_below(&w->rng, 5) == 0;
}

static void restart_due(struct fault_run *f, bool all)
{
    struct sim_world *w = &f->w;

    for (size_t k = 0; k < f->npend; k++) {
        struct pending_restart *p = &f->pend[k];

        if (p->node < 0 || (!all && p->at > w->now))
            continue;
        if (p->new_addr)
            sim_new_addr(w, w->nodes[p->node].addr);
        sim_start(w, p->node, false);
        p->node = -1;
    }
}

/* The special roles' moments, relative to the fault window. */
static void roles_step(struct fault_run *f, int64_t s)
{
    struct sim_world *w = &f->w;
    struct roles *ro = &f->ro;
    int64_t len = f->k->seconds;

    if (ro->removed >= 0 && s == 1)
        sim_stop(w, ro->removed);
    if (ro->removed >= 0 && s == 8 && w->nodes[0].g) {
        if (gossip_remove_node(w->nodes[0].g, &w->nodes[ro->removed].id,
                               w->now) < 0)
            sim_fail(w, "removenode: %s", err_msg());
        f->removed_at = w->now;
        f->ro.removed_done = true;
    }
    if (ro->dead >= 0 && s == len / 3) {
        sim_stop(w, ro->dead);
        w->nodes[ro->dead].forever_down = true;
    }
    if (ro->swap_a >= 0 && s == len / 2) {
        sim_stop(w, ro->swap_a);
        sim_stop(w, ro->swap_b);
    }
    if (ro->swap_a >= 0 && s == len / 2 + 5) {
        char tmp[SIM_ADDR_MAX];

        memcpy(tmp, w->nodes[ro->swap_a].addr, SIM_ADDR_MAX);
        memcpy(w->nodes[ro->swap_a].addr, w->nodes[ro->swap_b].addr,
               SIM_ADDR_MAX);
        memcpy(w->nodes[ro->swap_b].addr, tmp, SIM_ADDR_MAX);
        sim_start(w, ro->swap_a, false);
        sim_start(w, ro->swap_b, false);
    }
}

static void fault_second(struct fault_run *f, int64_t s, int64_t fault_end)
{
    struct sim_world *w = &f->w;

    if (f->part_until >= 0 && w->now >= f->part_until) {
        heal(w);
        f->part_until = -1;
    }
    for (int p = 0; p < f->k->partitions; p++)
        if (f->part_start[p] == s && f->part_until < 0)
            split(f);
    for (int c = 0; c < f->k->crashes; c++)
        if (f->crash_at[c] == s)
            crash(f, fault_end);
    for (int c = 0; c < 3; c++)
        if (f->schema_at[c] == s) {
            int i = (int)sim_below(&w->rng, w->n);

            sim_bump_schema(w, w->nodes[i].g ? i : 0);
        }
    /* The last partition lasts until the faults stop, so convergence is
     * measured from a split ring. */
    if (f->k->partitions > 0 &&
        s == (f->k->seconds > 25 ? f->k->seconds - 25 : 0)) {
        heal(w);
        split(f);
        f->part_until = fault_end + 1;
    }
    roles_step(f, s);
    restart_due(f, false);
}

static int plan(struct fault_run *f)
{
    struct sim_world *w = &f->w;
    int64_t span = f->k->seconds > 10 ? f->k->seconds - 10 : 1;

    f->part_start = mem_calloc(MEM_TEST, f->k->partitions + 1, 8);
    f->crash_at = mem_calloc(MEM_TEST, f->k->crashes + 1, 8);
    f->pend = mem_calloc(MEM_TEST, f->k->crashes + 1, sizeof(*f->pend));
    if (!f->part_start || !f->crash_at || !f->pend)
        return -ENOMEM;
    for (int p = 0; p < f->k->partitions; p++)
        f->part_start[p] = (int64_t)sim_below(&w->rng, (uint64_t)span);
    for (int c = 0; c < f->k->crashes; c++)
        f->crash_at[c] = (int64_t)sim_below(&w->rng, (uint64_t)span);
    for (int c = 0; c < 3; c++)
        f->schema_at[c] = (int64_t)sim_below(&w->rng, (uint64_t)span);
    f->part_until = -1;
    f->removed_at = -1;
    return 0;
}

static void assign_roles(struct fault_run *f)
{
    size_t n = f->w.n;

    f->ro = (struct roles){-1, -1, -1, -1, false};
    if (f->k->crashes == 0)
        return; /* a fault-free run keeps every node up */
    if (n >= 3)
        f->ro.dead = 2;
    if (n >= 5) {
        f->ro.swap_a = 3;
        f->ro.swap_b = 4;
    }
    if (n >= 6)
        f->ro.removed = 5;
}

static void fault_run_free(struct fault_run *f)
{
    mem_free(f->part_start);
    mem_free(f->crash_at);
    mem_free(f->pend);
    sim_world_free(&f->w);
}

/* After convergence: the ring, C13, and -- once every quarantine of the
 * removed node has expired -- that it did not come back as a ghost. */
static void final_checks(struct fault_run *f, char *why, size_t cap)
{
    struct sim_world *w = &f->w;

    if (!ring_ok(w, 0, why, cap) || !swap_ok(w, &f->ro, why, cap)) {
        sim_fail(w, "%s", why);
        return;
    }
    if (f->removed_at < 0)
        return;
    /* Eviction follows dead_state_ms after each node learned the removal;
     * the default quarantine is 60 s. */
    sim_run(w, f->removed_at + w->dead_state_ms + 60000 + 20000);
    if (!converged(w, &f->ro, why, cap))
        sim_fail(w, "after quarantine: %s", why);
}

/* Boot the ring, let it agree, then run the fault window second by
 * second. */
static void boot_and_faults(struct fault_run *f)
{
    const struct knobs *k = f->k;
    char why[512] = "";
    int64_t fault_end;

    boot(&f->w, f->w.n);
    if (!f->w.fail[0] &&
        wait_converged(&f->w, &f->ro, k->max_rounds, why, sizeof(why)) < 0)
        sim_fail(&f->w, "no convergence after boot: %s", why);
    fault_end = f->w.now + 1000 * k->seconds;
    f->w.loss = k->loss;
    f->w.delay_ms = k->delay_ms;
    for (int64_t s = 0; s < k->seconds && !f->w.fail[0]; s++) {
        fault_second(f, s, fault_end);
        sim_run(&f->w, f->w.now + 1000);
    }
}

/* Faults stop: no loss, no partition, every crashed node back (the dead
 * and the removed one excepted); delay stays. Then every check. */
static void after_faults(struct fault_run *f, struct result *res)
{
    const struct knobs *k = f->k;
    char why[512] = "";

    f->w.loss = 0;
    heal(&f->w);
    restart_due(f, true);
    if (!f->w.fail[0]) {
        res->rounds =
            wait_converged(&f->w, &f->ro, k->max_rounds, why, sizeof(why));
        if (res->rounds < 0)
            sim_fail(&f->w,
                     "no convergence within %d rounds after faults "
                     "stopped: %s",
                     k->max_rounds, why);
    }
    if (!f->w.fail[0])
        final_checks(f, why, sizeof(why));
    if (f->ro.dead >= 0)
        conviction_stats(&f->w, f->ro.dead, res);
    res->false_downs = count_false_downs(&f->w);
    if (k->loss == 0 && k->delay_ms == 0 && k->partitions == 0 &&
        res->false_downs > 0)
        sim_fail(&f->w,
                 "healthy node convicted without loss or delay (%zu "
                 "times)",
                 res->false_downs);
}

static int run_faults(uint64_t seed, const struct knobs *k, struct result *res,
                      uint64_t *trace, char *fail, size_t cap)
{
    struct fault_run f;
    const struct sim_stats *st = &f.w.st;

    memset(&f, 0, sizeof(f));
    memset(res, 0, sizeof(*res));
    f.k = k;
    if (sim_world_init(&f.w, seed, k->nodes, k->racks) < 0 || plan(&f) < 0) {
        fault_run_free(&f);
        snprintf(fail, cap, "simulator out of memory");
        return -1;
    }
    f.w.verbose = verbose;
    assign_roles(&f);
    boot_and_faults(&f);
    after_faults(&f, res);
    *trace = f.w.trace;
    snprintf(fail, cap, "%s", f.w.fail);
    printf("  frames sent=%" PRIu64 " lost=%" PRIu64 " partitioned=%" PRIu64
           " refused=%" PRIu64 " rejected-by-host-id=%" PRIu64 " bytes=%" PRIu64
           "\n",
           st->sent, st->lost, st->partitioned, st->refused, st->rejected,
           st->bytes);
    fault_run_free(&f);
    return fail[0] ? -1 : 0;
}

/* ---- D06: seeds down ---- */

/* Run until converged or fail with `what`; returns the rounds. */
static int d06_wait(struct sim_world *w, const struct roles *ro, int bound,
                    const char *what)
{
    char why[512];
    int r = w->fail[0] ? -1 : wait_converged(w, ro, bound, why, sizeof(why));

    if (r < 0)
        sim_fail(w, "D06 %s: %s", what, why);
    return r;
}

/*
 * Five nodes seeded from node 0 only. All stop; nodes 1-4 restart while
 * the seed stays down and must find each other through their stored
 * peers; the seed comes back and rejoins. Then, with the seed down again,
 * a new node with no saved state must report that no seed answered.
 */
static int run_d06(uint64_t seed, int bound, char *fail, size_t cap)
{
    struct sim_world w;
    struct roles ro = {-1, -1, -1, -1, false};
    int r_boot, r_rejoin = -1, r_seed = -1;

    if (sim_world_init(&w, seed, 6, 0) < 0) {
        snprintf(fail, cap, "simulator out of memory");
        return -1;
    }
    w.nseeds = 1;
    w.verbose = verbose;
    boot(&w, 5);
    r_boot = d06_wait(&w, &ro, bound, "boot");
    for (int i = 0; i < 5; i++)
        sim_stop(&w, i);
    sim_run(&w, w.now + 5000);
    for (int i = 1; i < 5 && !w.fail[0]; i++)
        sim_start(&w, i, false);
    r_rejoin = d06_wait(&w, &ro, bound, "rejoin with the only seed down");
    for (int i = 1; i < 5; i++)
        if (w.nodes[i].no_seed)
            sim_fail(&w, "D06: node %d with stored peers gave up", i);
    if (!w.fail[0])
        sim_start(&w, 0, false);
    r_seed = d06_wait(&w, &ro, bound, "seed rejoin");

    /* Step 4: a new node whose only seed is stopped. */
    sim_stop(&w, 0);
    if (!w.fail[0])
        sim_start(&w, 5, false);
    sim_run(&w, w.now + 20000);
    if (!w.fail[0] && (!w.nodes[5].no_seed || gossip_count(w.nodes[5].g) != 1))
        sim_fail(&w,
                 "D06: new node without a reachable seed did not report "
                 "it (knows %zu endpoints)",
                 gossip_count(w.nodes[5].g));
    printf("  d06: boot %d rounds, rejoin without seed %d rounds, seed "
           "rejoin %d rounds, new node: %s\n",
           r_boot, r_rejoin, r_seed,
           w.nodes[5].no_seed ? "no reachable seed reported" : "NOT reported");
    snprintf(fail, cap, "%s", w.fail);
    sim_world_free(&w);
    return fail[0] ? -1 : 0;
}

/* ---- main ---- */

static void print_result(const char *name, const struct knobs *k,
                         const struct result *r)
{
    printf("%s nodes=%zu fault_s=%" PRId64 " loss=%.2f delay_ms=%" PRId64
           " partitions=%d crashes=%d racks=%d: converged %d rounds after "
           "faults stopped",
           name, k->nodes, k->seconds, k->loss, k->delay_ms, k->partitions,
           k->crashes, k->racks, r->rounds);
    if (r->convicted > 0)
        printf("; dead node convicted by %zu/%zu observers in %.1f/%.1f/%.1f "
               "s (min/median/max)",
               r->convicted, r->observers, r->conv_min, r->conv_med,
               r->conv_max);
    printf("; convictions of running nodes %zu\n", r->false_downs);
}

static int one_ring(const char *name, uint64_t seed, const struct knobs *k,
                    uint64_t *trace, char *fail, size_t cap)
{
    struct result r;
    int rc = run_faults(seed, k, &r, trace, fail, cap);

    print_result(name, k, &r);
    return rc;
}

static int default_mix(uint64_t seed, bool quick, int bound, char *fail,
                       size_t cap)
{
    size_t big = quick ? 40 : 100;
    struct knobs small = {5, 90, 0.10, 100, 2, 3, 0, bound};
    struct knobs large = {big, 60, 0.05, 50, 1, 4, 3, bound};
    struct knobs calm = {big, 60, 0, 0, 0, 2, 3, bound};
    uint64_t t1, t2;

    if (one_ring("faults", seed, &small, &t1, fail, cap) < 0)
        return -1;
    if (one_ring("replay", seed, &small, &t2, fail, cap) < 0)
        return -1;
    if (t1 != t2) {
        snprintf(fail, cap,
                 "same seed, different run (trace %016" PRIx64 " vs %016" PRIx64
                 ")",
                 t1, t2);
        return -1;
    }
    printf("  replay: identical trace %016" PRIx64 "\n", t1);
    if (one_ring("faults", seed ^ 0x5bd1e995, &large, &t1, fail, cap) < 0)
        return -1;
    if (one_ring("no-loss", seed ^ 0x27d4eb2f, &calm, &t1, fail, cap) < 0)
        return -1;
    printf("d06 nodes=6\n");
    return run_d06(seed ^ 0x165667b1, bound, fail, cap);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: cairn-sim --seed N [--nodes N] [--seconds S] [--loss P]\n"

            "         [--delay-ms D] [--partitions K] [--crashes C]\n"
            "         [--racks R] [--max-rounds M] [--quick] [--runs K]\n"
            "         [--verbose]\n"
            "--seconds is the fault window, in simulated seconds.\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    if (s[0] == '-')
        *out = (uint64_t)strtoll(s, &end, 0);
    else
        *out = strtoull(s, &end, 0);
    return errno == 0 && end != s && *end == '\0';
}

struct args {
    uint64_t seed;
    bool have_seed, custom, quick;
    uint64_t runs;
    struct knobs k;
};

static bool parse_args(int argc, char **argv, struct args *a)
{
    struct knobs d = {5, 60, 0.05, 50, 1, 2, 0, 60};

    memset(a, 0, sizeof(*a));
    a->k = d;
    a->runs = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x = 0;

        if (strcmp(o, "--quick") == 0 || strcmp(o, "--verbose") == 0) {
            a->quick = a->quick || strcmp(o, "--quick") == 0;
            verbose = verbose || strcmp(o, "--verbose") == 0;
            continue;
        }
        if (!v || (strcmp(o, "--loss") != 0 && !parse_u64(v, &x)))
            return false;
        i++;
        if (strcmp(o, "--seed") == 0) {
            a->seed = x;
            a->have_seed = true;
        } else if (strcmp(o, "--runs") == 0) {
            a->runs = x;
        } else if (strcmp(o, "--max-rounds") == 0) {
            a->k.max_rounds = (int)x;
        } else {
            a->custom = true;
            if (strcmp(o, "--nodes") == 0 && x >= 1 && x <= 500)
                a->k.nodes = x;
            else if (strcmp(o, "--seconds") == 0 && x >= 1 && x <= 100000)
                a->k.seconds = (int64_t)x;
            else if (strcmp(o, "--loss") == 0)
                a->k.loss = atof(v);
            else if (strcmp(o, "--delay-ms") == 0 && x <= 60000)
                a->k.delay_ms = (int64_t)x;
            else if (strcmp(o, "--partitions") == 0 && x <= 1000)
                a->k.partitions = (int)x;
            else if (strcmp(o, "--crashes") == 0 && x <= 1000)
                a->k.crashes = (int)x;
            else if (strcmp(o, "--racks") == 0 && x <= 64)
                a->k.racks = (int)x;
            else
                return false;
        }
    }
    return a->have_seed && a->runs >= 1 && a->k.loss >= 0 && a->k.loss < 1;
}

int main(int argc, char **argv)
{
    struct args a;
    char fail[512] = "";
    uint64_t trace;
    int rc = 0;

    if (!parse_args(argc, argv, &a)) {
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (uint64_t r = 0; r < a.runs && rc == 0; r++) {
        uint64_t seed = a.seed + r;

        printf("cairn-sim seed=%" PRIu64 "\n", seed);
        if (a.custom)
            rc = one_ring("ring", seed, &a.k, &trace, fail, sizeof(fail));
        else
            rc = default_mix(seed, a.quick, a.k.max_rounds, fail, sizeof(fail));
        if (rc < 0)
            printf("FAIL seed=%" PRIu64 ": %s\n", seed, fail);
    }
    if (rc == 0)
        printf("ok: every check held\n");
    return rc < 0 ? 1 : 0;
}
