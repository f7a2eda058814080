/*
 * test_gossip.c -- the gossip merge rules, on real frames carried between
 * gossipers by hand: a first exchange, a restart's higher generation
 * winning over higher versions, an old generation and old versions
 * ignored, removal and quarantine, the host-id check and address changes
 * of C13, conviction of a silent peer, D06's "no reachable seed", and bad
 * frames changing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/mem.h"
#include "ring/gossip.h"

#define MAXN 4

/* A tiny cluster: gossipers by address, frames delivered by hand. */
struct net {
    struct gossip *g[MAXN];
    char addr[MAXN][GOSSIP_ADDR_MAX];
    struct gossip_out out;
    uint64_t rnd;
    int64_t now;
    size_t events[GOSSIP_EV_NO_SEED + 1];
};

/* splitmix64: a fixed, well-mixed sequence, so every run is the same. */
static uint64_t rnd_next(void *ctx)
{
    uint64_t *x = ctx;
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static struct ring_host_id hid(uint8_t x)
{
    struct ring_host_id id;

    memset(&id, 0, sizeof(id));
    id.b[0] = x;
    return id;
}

static void cfg_for(struct gossip_config *c, int i, uint64_t gen,
                    const char *addr)
{
    gossip_config_default(c);
    c->self = hid((uint8_t)('A' + i));
    snprintf(c->cluster, sizeof(c->cluster), "test");
    snprintf(c->address, sizeof(c->address), "%s", addr);
    snprintf(c->seeds[0], sizeof(c->seeds[0]), "n0");
    c->nseeds = 1;
    c->generation = gen;
    c->new_cluster = i == 0;
    c->dead_state_ms = 10000;
    c->quarantine_ms = 20000;
}

/* Start node i at `addr` with generation `gen`, status NORMAL and two
 * tokens that name it. */
static void start(struct net *n, int i, uint64_t gen, const char *addr)
{
    struct gossip_config c;
    int64_t tokens[2] = {100 * (i + 1), 100 * (i + 1) + 50};

    cfg_for(&c, i, gen, addr);
    gossip_free(n->g[i]);
    assert_int_equal(gossip_new(&c, n->now, &n->g[i]), 0);
    snprintf(n->addr[i], sizeof(n->addr[i]), "%s", addr);
    assert_int_equal(gossip_set_tokens(n->g[i], tokens, 2), 0);
    assert_int_equal(gossip_set_status(n->g[i], GOSSIP_STATUS_NORMAL), 0);
}

static void count_events(struct net *n)
{
    for (size_t k = 0; k < n->out.nevents; k++)
        n->events[n->out.events[k].kind]++;
}

static int node_at(const struct net *n, const char *addr)
{
    for (int i = 0; i < MAXN; i++)
        if (n->g[i] && strcmp(n->addr[i], addr) == 0)
            return i;
    return -1;
}

/* Count the events of the last call and drop its frames. */
static void drop_out(struct net *n)
{
    count_events(n);
    gossip_out_reset(&n->out);
}

/* A queue of frames, so answers flow until the round is over. */
struct frame {
    char to[GOSSIP_ADDR_MAX];
    uint8_t *data;
    size_t len;
};

static size_t take_frames(struct net *n, struct frame *q, size_t nq)
{
    for (size_t k = 0; k < n->out.nmsgs && nq < 64; k++) {
        memcpy(q[nq].to, n->out.msgs[k].addr, GOSSIP_ADDR_MAX);
        q[nq].data = n->out.msgs[k].data;
        q[nq].len = n->out.msgs[k].len;
        n->out.msgs[k].data = NULL;
        nq++;
    }
    count_events(n);
    gossip_out_reset(&n->out);
    return nq;
}

static void deliver_all(struct net *n, struct frame *q, size_t nq)
{
    for (size_t k = 0; k < nq; k++) {
        int to = node_at(n, q[k].to);

        if (to >= 0)
            gossip_recv(n->g[to], n->now, q[k].data, q[k].len, &n->out);
        nq = take_frames(n, q, nq);
        mem_free(q[k].data);
    }
}

/* One tick of node i and every frame it causes. */
static void round_of(struct net *n, int i)
{
    struct ring_rand r = {rnd_next, &n->rnd};
    struct frame q[64];

    assert_int_equal(gossip_tick(n->g[i], n->now, &r, &n->out), 0);
    deliver_all(n, q, take_frames(n, q, 0));
}

/* Every running node ticks, `rounds` times, one second apart. */
static void rounds(struct net *n, int count)
{
    for (int k = 0; k < count; k++) {
        n->now += 1000;
        for (int i = 0; i < MAXN; i++)
            if (n->g[i])
                round_of(n, i);
    }
}

static void net_free(struct net *n)
{
    for (int i = 0; i < MAXN; i++)
        gossip_free(n->g[i]);
    gossip_out_free(&n->out);
}

static const struct gossip_endpoint *view(struct net *n, int obs, int of)
{
    struct ring_host_id id = hid((uint8_t)('A' + of));

    return gossip_find(n->g[obs], &id);
}

/* Node i ticks once; its frames are kept, not delivered. */
static size_t tick_capture(struct net *n, int i, struct frame *q)
{
    struct ring_rand r = {rnd_next, &n->rnd};

    assert_int_equal(gossip_tick(n->g[i], n->now, &r, &n->out), 0);
    return take_frames(n, q, 0);
}

static void free_frames(struct frame *q, size_t nq)
{
    for (size_t k = 0; k < nq; k++)
        mem_free(q[k].data);
}

/* A fresh node C at n2 opens with a SYN to the seed n0 (node A); A's ACK,
 * which carries every state A knows, is captured for later replays. */
static struct frame capture_ack_from_a(struct net *n)
{
    struct frame syn[64], ack[64];
    size_t ns = tick_capture(n, 2, syn), na;
    struct frame got = {{0}, NULL, 0};

    for (size_t k = 0; k < ns; k++)
        if (strcmp(syn[k].to, "n0") == 0 && !got.data) {
            assert_int_equal(
                gossip_recv(n->g[0], n->now, syn[k].data, syn[k].len, &n->out),
                0);
            na = take_frames(n, ack, 0);
            assert_int_equal(na, 1);
            got = ack[0];
        }
    free_frames(syn, ns);
    assert_non_null(got.data);
    return got;
}

static void test_first_exchange(void **state)
{
    struct net n = {0};

    (void)state;
    start(&n, 0, 1, "n0");
    start(&n, 1, 1, "n1");
    rounds(&n, 5);
    for (int i = 0; i < 2; i++) {
        const struct gossip_endpoint *ep = view(&n, i, 1 - i);

        assert_non_null(ep);
        assert_int_equal(ep->generation, 1);
        assert_int_equal(ep->status, GOSSIP_STATUS_NORMAL);
        assert_int_equal(ep->ntokens, 2);
        assert_int_equal(ep->tokens[0], 100 * (2 - i));
        assert_string_equal(ep->address, n.addr[1 - i]);
        assert_true(ep->alive);
    }
    assert_int_equal(n.events[GOSSIP_EV_JOIN], 2);
    assert_int_equal(n.events[GOSSIP_EV_UP], 2);
    assert_int_equal(n.events[GOSSIP_EV_DOWN], 0);
    net_free(&n);
}

/* A restart's higher generation replaces the old state although its
 * versions are far lower; an old frame of the old generation, replayed
 * afterwards, changes nothing. */
static void test_generation_bump_wins(void **state)
{
    struct net n = {0};
    int64_t fresh[2] = {999, 1999};
    struct frame old;
    const struct gossip_endpoint *ep;
    uint64_t old_max;

    (void)state;
    start(&n, 0, 1, "n0");
    start(&n, 1, 1, "n1");
    rounds(&n, 50);
    start(&n, 2, 1, "n2");
    old = capture_ack_from_a(&n);
    old_max = view(&n, 1, 0)->heartbeat;
    assert_true(old_max > 40);

    start(&n, 0, 2, "n0"); /* A restarts: its version counter restarts */
    assert_int_equal(gossip_set_tokens(n.g[0], fresh, 2), 0);
    rounds(&n, 5);
    for (int obs = 1; obs <= 2; obs++) {
        ep = view(&n, obs, 0);
        assert_int_equal(ep->generation, 2);
        assert_true(ep->heartbeat < old_max);
        assert_int_equal(ep->tokens[0], 999);
    }
    assert_true(n.events[GOSSIP_EV_RESTART] >= 1);

    /* The captured frame holds A at generation 1 with higher versions. */
    assert_int_equal(gossip_recv(n.g[2], n.now, old.data, old.len, &n.out), 0);
    drop_out(&n);
    ep = view(&n, 2, 0);
    assert_int_equal(ep->generation, 2);
    assert_int_equal(ep->tokens[0], 999);
    assert_true(ep->heartbeat < old_max); /* no old version leaked in */
    mem_free(old.data);
    net_free(&n);
}

/* Within a generation a state with a lower version never overwrites a
 * higher one, whatever order the frames arrive in. */
static void test_version_order(void **state)
{
    struct net n = {0};
    struct frame old;

    (void)state;
    start(&n, 0, 1, "n0");
    start(&n, 1, 1, "n1");
    assert_int_equal(gossip_set_status(n.g[0], GOSSIP_STATUS_LEAVING), 0);
    start(&n, 2, 1, "n2");
    old = capture_ack_from_a(&n); /* A is LEAVING in it */
    assert_int_equal(gossip_set_status(n.g[0], GOSSIP_STATUS_NORMAL), 0);
    rounds(&n, 5);
    assert_int_equal(view(&n, 2, 0)->status, GOSSIP_STATUS_NORMAL);
    assert_int_equal(gossip_recv(n.g[2], n.now, old.data, old.len, &n.out), 0);
    drop_out(&n);
    assert_int_equal(view(&n, 2, 0)->status, GOSSIP_STATUS_NORMAL);
    assert_int_equal(view(&n, 2, 0)->generation, 1);
    mem_free(old.data);
    net_free(&n);
}

/* removenode: the REMOVED state spreads, is evicted after dead_state_ms,
 * and the quarantined host id is not taken back from a node that still
 * gossips its old NORMAL state. */
static void test_removed_quarantined(void **state)
{
    struct net n = {0};
    struct ring_host_id C = hid('C'), A = hid('A');
    struct frame stale[64];
    size_t ns;

    (void)state;
    start(&n, 0, 1, "n0");
    start(&n, 1, 1, "n1");
    start(&n, 3, 1, "n3");
    rounds(&n, 5);
    /* C joins; D (node 3) is then restarted empty, so that a frame from A
     * carrying C as NORMAL can be kept for later. */
    gossip_free(n.g[3]);
    n.g[3] = NULL;
    start(&n, 2, 1, "n2");
    rounds(&n, 10);
    assert_non_null(view(&n, 1, 2));
    assert_int_equal(view(&n, 1, 2)->status, GOSSIP_STATUS_NORMAL);
    start(&n, 3, 2, "n3");
    ns = tick_capture(&n, 3, stale); /* D's SYN to the seed A */
    assert_true(ns >= 1);
    assert_int_equal(
        gossip_recv(n.g[0], n.now, stale[0].data, stale[0].len, &n.out), 0);
    free_frames(stale, ns);
    ns = take_frames(&n, stale, 0); /* A's ACK to D: C NORMAL */
    assert_int_equal(ns, 1);
    gossip_free(n.g[3]);
    n.g[3] = NULL;

    gossip_free(n.g[2]); /* C dies and is removed */
    n.g[2] = NULL;
    assert_int_equal(gossip_remove_node(n.g[0], &A, n.now), -EINVAL);
    assert_int_equal(gossip_remove_node(n.g[0], &C, n.now), 0);
    rounds(&n, 3);
    assert_int_equal(view(&n, 1, 2)->status, GOSSIP_STATUS_REMOVED);
    assert_int_equal(view(&n, 1, 2)->generation, 2);
    rounds(&n, 12); /* past dead_state_ms (10 s) */
    assert_null(view(&n, 0, 2));
    assert_null(view(&n, 1, 2));
    assert_int_equal(n.events[GOSSIP_EV_EVICT], 2);
    assert_true(gossip_quarantined(n.g[1], &C, n.now));
    assert_int_equal(gossip_remove_node(n.g[0], &C, n.now), CAIRN_ENOTFOUND);

    /* D comes back holding C as NORMAL and gossips it: ignored. */
    start(&n, 3, 3, "n3");
    assert_int_equal(
        gossip_recv(n.g[3], n.now, stale[0].data, stale[0].len, &n.out), 0);
    drop_out(&n);
    free_frames(stale, ns);
    assert_int_equal(view(&n, 3, 2)->status, GOSSIP_STATUS_NORMAL);
    rounds(&n, 5);
    assert_null(view(&n, 0, 2));
    assert_null(view(&n, 1, 2));
    net_free(&n);
}

/* C13: a frame meant for host id A that reaches C (which now holds the
 * address) is refused and changes nothing. */
static void test_frame_for_other_host_refused(void **state)
{
    struct net n = {0};
    struct frame q[64];
    size_t nq;
    int rc = 0, refused = 0;

    (void)state;
    start(&n, 0, 1, "n0");
    start(&n, 1, 1, "n1");
    rounds(&n, 5);
    start(&n, 2, 1, "n2");
    nq = tick_capture(&n, 1, q);
    for (size_t k = 0; k < nq; k++) {
        rc = gossip_recv(n.g[2], n.now, q[k].data, q[k].len, &n.out);
        /* Only frames sent to a known host id carry one. */
        refused += rc == CAIRN_EPROTO;
        drop_out(&n);
    }
    free_frames(q, nq);
    assert_true(refused >= 1);
    assert_int_equal(n.events[GOSSIP_EV_REJECT], refused);
    assert_int_equal(gossip_count(n.g[2]), 1); /* a SYN teaches nothing */
    net_free(&n);
}

/* C13: B and C come back on each other's addresses with their host ids.
 * Halfway (only B back, on C's old address) C's entry is stale; at the
 * end both are found at their new addresses with their own tokens. */
static void test_address_swap(void **state)
{
    struct net n = {0};
    const struct gossip_endpoint *b, *c;

    (void)state;
    start(&n, 0, 1, "n0");
    start(&n, 1, 1, "n1");
    start(&n, 2, 1, "n2");
    rounds(&n, 5);
    gossip_free(n.g[1]);
    gossip_free(n.g[2]);
    n.g[1] = n.g[2] = NULL;
    start(&n, 1, 2, "n2");
    rounds(&n, 3);
    b = view(&n, 0, 1);
    c = view(&n, 0, 2);
    assert_string_equal(b->address, "n2");
    assert_false(b->addr_stale);
    assert_string_equal(c->address, "n2");
    assert_true(c->addr_stale);

    start(&n, 2, 2, "n1");
    rounds(&n, 5);
    for (int obs = 0; obs < 3; obs++) {
        b = view(&n, obs, 1);
        c = view(&n, obs, 2);
        if (obs != 1) {
            assert_string_equal(b->address, "n2");
            assert_int_equal(b->tokens[0], 200);
            assert_false(b->addr_stale);
        }
        if (obs != 2) {
            assert_string_equal(c->address, "n1");
            assert_int_equal(c->tokens[0], 300);
            assert_false(c->addr_stale);
        }
    }
    assert_true(n.events[GOSSIP_EV_ADDRESS] >= 2);
    net_free(&n);
}

/* A peer that falls silent is convicted once, with phi above the
 * threshold, and not within the first rounds of silence. */
static void test_silent_peer_convicted(void **state)
{
    struct net n = {0};
    struct ring_host_id B = hid('B');
    int64_t stopped;

    (void)state;
    start(&n, 0, 1, "n0");
    start(&n, 1, 1, "n1");
    rounds(&n, 30);
    gossip_free(n.g[1]);
    n.g[1] = NULL;
    stopped = n.now;
    rounds(&n, 3);
    assert_int_equal(n.events[GOSSIP_EV_DOWN], 0);
    for (int k = 0; k < 60 && n.events[GOSSIP_EV_DOWN] == 0; k++) {
        struct ring_rand r = {rnd_next, &n.rnd};

        n.now += 1000;
        assert_int_equal(gossip_tick(n.g[0], n.now, &r, &n.out), 0);
        for (size_t e = 0; e < n.out.nevents; e++)
            if (n.out.events[e].kind == GOSSIP_EV_DOWN) {
                assert_true(ring_host_id_eq(&n.out.events[e].id, &B));
                assert_true(n.out.events[e].phi > 8.0);
            }
        drop_out(&n);
    }
    assert_int_equal(n.events[GOSSIP_EV_DOWN], 1);
    assert_false(view(&n, 0, 1)->alive);
    printf("# silent peer convicted after %lld s\n",
           (long long)(n.now - stopped) / 1000);
    net_free(&n);
}

/* D06: a new node whose seeds never answer reports it once, after the
 * timeout; a node with a stored peer, or told to start a new cluster,
 * does not -- and the stored peer is tried every round. */
static void test_no_seed(void **state)
{
    struct gossip_config c;
    struct gossip *g[3];
    struct gossip_out out;
    uint64_t rnd = 1;
    struct ring_rand r = {rnd_next, &rnd};
    struct ring_host_id P = hid('P');
    int64_t tok = 5;
    size_t noseed[3] = {0}, to_peer = 0;
    int64_t first = -1;

    (void)state;
    gossip_out_init(&out);
    for (int i = 0; i < 3; i++) {
        cfg_for(&c, 1, 1, "n1");
        c.new_cluster = i == 2;
        assert_int_equal(gossip_new(&c, 0, &g[i]), 0);
    }
    assert_int_equal(
        gossip_add_peer(g[1], &P, 7, GOSSIP_STATUS_NORMAL, "p", "", &tok, 1),
        0);
    for (int64_t t = 1000; t <= 20000; t += 1000)
        for (int i = 0; i < 3; i++) {
            assert_int_equal(gossip_tick(g[i], t, &r, &out), 0);
            for (size_t e = 0; e < out.nevents; e++)
                if (out.events[e].kind == GOSSIP_EV_NO_SEED) {
                    noseed[i]++;
                    first = first < 0 ? t : first;
                    assert_string_equal(out.events[e].addr, "n0");
                }
            for (size_t m = 0; i == 1 && m < out.nmsgs; m++)
                to_peer += strcmp(out.msgs[m].addr, "p") == 0;
            gossip_out_reset(&out);
        }
    assert_int_equal(noseed[0], 1);
    assert_true(first >= c.seed_timeout_ms);
    assert_int_equal(noseed[1], 0);
    assert_int_equal(noseed[2], 0);
    assert_int_equal(to_peer, 20);
    assert_false(gossip_contacted(g[0]));
    for (int i = 0; i < 3; i++)
        gossip_free(g[i]);
    gossip_out_free(&out);
}

/* Bad frames get a clear error and change nothing. */
static void test_bad_frames(void **state)
{
    struct net n = {0};
    struct gossip_config c;
    struct gossip *other;
    struct ring_rand r = {rnd_next, &n.rnd};
    uint8_t junk[] = {0x0a, 0xff, 0xff, 0x01, 0x22};
    struct frame q[64];
    size_t nq;

    (void)state;
    start(&n, 0, 1, "n0");
    assert_int_equal(gossip_recv(n.g[0], 0, junk, sizeof(junk), &n.out),
                     CAIRN_ECORRUPT);
    assert_int_equal(n.out.nmsgs + n.out.nevents, 0);
    assert_int_equal(gossip_count(n.g[0]), 1);

    /* Another cluster's SYN. */
    cfg_for(&c, 1, 1, "n1");
    snprintf(c.cluster, sizeof(c.cluster), "other");
    assert_int_equal(gossip_new(&c, 0, &other), 0);
    assert_int_equal(gossip_tick(other, 1000, &r, &n.out), 0);
    nq = take_frames(&n, q, 0);
    assert_true(nq >= 1);
    assert_int_equal(gossip_recv(n.g[0], 0, q[0].data, q[0].len, &n.out),
                     CAIRN_EPROTO);
    drop_out(&n);
    free_frames(q, nq);
    gossip_free(other);

    /* A sender claiming our own host id. */
    cfg_for(&c, 0, 9, "elsewhere");
    assert_int_equal(gossip_new(&c, 0, &other), 0);
    assert_int_equal(gossip_tick(other, 1000, &r, &n.out), 0);
    nq = take_frames(&n, q, 0);
    assert_int_equal(gossip_recv(n.g[0], 0, q[0].data, q[0].len, &n.out),
                     CAIRN_EPROTO);
    drop_out(&n);
    free_frames(q, nq);
    gossip_free(other);
    assert_int_equal(gossip_count(n.g[0]), 1);
    assert_int_equal(n.events[GOSSIP_EV_REJECT], 2);

    /* Bad configuration and bad own states. */
    cfg_for(&c, 1, 0, "n1");
    assert_int_equal(gossip_new(&c, 0, &other), -EINVAL);
    assert_int_equal(gossip_set_status(n.g[0], GOSSIP_STATUS_COUNT), -EINVAL);
    assert_int_equal(gossip_set_tokens(n.g[0], NULL, 0), -EINVAL);
    net_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_exchange),
        cmocka_unit_test(test_generation_bump_wins),
        cmocka_unit_test(test_version_order),
        cmocka_unit_test(test_removed_quarantined),
        cmocka_unit_test(test_frame_for_other_host_refused),
        cmocka_unit_test(test_address_swap),
        cmocka_unit_test(test_silent_peer_convicted),
        cmocka_unit_test(test_no_seed),
        cmocka_unit_test(test_bad_frames),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
