/*
 * sim_coord.c -- cairn-sim-coord: the coordinator state machines against
 * simulated replicas, on a simulated clock, from one seed.
 *
 * The world: NODES nodes, each a replica (an in-memory partition store
 * updated with the conflict-rule merge of resolve.h) and a coordinator
 * (its own timestamp clock, snitch, admission control and hint list).
 * Clients write unique values to a few keys (rows r1 and r2 of the key's
 * partition in one batch, sometimes an extra row x), delete them, and
 * read them at assorted levels, one request at a time each, through a
 * random node. The network delays every message, sometimes by far more
 * than the timeouts, and drops a few. Faults: nodes crash (their data
 * survives; the failure detector notices after a while), hang (never
 * answer, still believed up), turn slow, and come back; replicas refuse
 * a few writes. Some keys have a pending replica (a range moving).
 *
 * Only the replica role of a node fails; the coordinator logic of every
 * node keeps running, as the client of a crashed coordinator would see
 * its connection fail rather than a hang. Node clocks differ by at most
 * SKEW_US, well below the smallest round trip: under that bound every
 * write stamped after another was acknowledged gets the higher timestamp
 * (tsclock.h), which is what the history check relies on.
 *
 * Checks (the first broken one ends the run with a non-zero exit):
 *  - an acknowledged QUORUM/ALL write is seen by every later QUORUM/ALL
 *    read unless replaced (history.h); a full read sees r1 and r2 of one
 *    write (partition atomicity, C11);
 *  - a request fails with Unavailable at once, sending nothing, exactly
 *    when too few replicas are believed alive (ALL with one node down);
 *  - every request is answered by its deadline, and nothing is left
 *    waiting when the simulation drains;
 *  - after a read with read repair, the replicas it read are identical
 *    when no other mutation reached them meanwhile;
 *  - a write stamped too far in the future is refused (C18);
 *  - admission never lets in-flight bytes pass the bound (C23).
 *
 * Usage: cairn-sim-coord [--seed N] [--ops N]; CAIRN_LONG_TESTS=1 runs
 * ten times the operations. The seed is printed first; a run replays
 * exactly from it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/mem.h"
#include "server/coord/act.h"
#include "server/coord/admit.h"
#include "server/coord/cl.h"
#include "server/coord/read.h"
#include "server/coord/resolve.h"
#include "server/coord/tsclock.h"
#include "server/coord/write.h"
#include "tests/coord/history.h"

#define NODES   5
#define RF      3
#define KEYS    6
#define CLIENTS 6
#define SKEW_US 100
#define MS      1000000LL

#define WRITE_TIMEOUT (400 * MS)
#define READ_TIMEOUT  (600 * MS)
#define HINT_WINDOW   (1500 * MS)
#define BASE_US       1700000000000000LL

/* ---- random ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static int chance(int percent)
{
    return (int)below(100) < percent;
}

/* ---- failure reporting ---- */

static uint64_t g_seed;
static int64_t g_now; /* simulated monotonic ns */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL seed=%" PRIu64 " t=%.3fms: ", g_seed,
            (double)g_now / MS);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nreplay: cairn-sim-coord --seed %" PRIu64 "\n", g_seed);
    exit(1);
}

#define CHECK_RC(x)                                                            \
    do {                                                                       \
        int rc_ = (x);                                                         \
        if (rc_)                                                               \
            fail("%s returned %d (%s)", #x, rc_, err_msg());                   \
    } while (0)

/* ---- world ---- */

struct hint {
    int target, key, live;
    int inflight;
    struct coord_part mut;
};

struct node {
    int up;             /* really processes messages */
    int believed;       /* the failure detector's view (shared) */
    int hung;           /* up-looking but silent */
    int slow;           /* latency x 40 */
    int64_t down_since; /* when believed went to 0 */
    int64_t skew_us;
    struct coord_part store[KEYS];
    struct coord_tsclock ts;
    struct coord_admit admit;
    struct coord_lat lat[NODES];
    struct coord_snitch snitch;
    struct hint *hints;
    size_t nhints, caphints;
    int hints_inflight;
};

enum msg_kind { M_WRITE, M_WRITE_R, M_READ, M_READ_R, M_HINT, M_HINT_R };

struct msg {
    enum msg_kind kind;
    int from, to, req, key, rc, digest_only, more;
    uint32_t tag;
    size_t hint;
    struct storage_read rd;
    uint8_t after[8];
    struct coord_part part;
    uint64_t digest;
};

enum ev_kind {
    E_MSG,
    E_TIMER,
    E_CLIENT,
    E_FAULT,
    E_DETECT,
    E_HINTS,
    E_HINT_TIMEOUT,
    E_RECOVER
};

struct ev {
    int64_t t;
    uint64_t seq;
    enum ev_kind kind;
    int a, b;
    struct msg *m;
};

/* One history per read level: it holds every write, acknowledged only
   when the write's level and the read's level overlap (W + R > RF). */
#define NLEVELS (COORD_CL_ALL + 1)
static struct history *hists[NLEVELS];

struct hops {
    size_t v[NLEVELS]; /* the write's op id in each history */
};

struct sreq {
    int id, is_write, node, key, client;
    enum coord_cl cl;
    int64_t start, deadline;
    struct coord_write w;
    struct coord_read *r;
    struct coord_part mut;
    uint64_t value, admit_bytes;
    int64_t ts;
    int is_delete, paged, dirty, answered, finished, admitted;
    int expect_unavail, retries;
    struct hops hop;
};

static struct node nodes[NODES];
static const char *keys[KEYS] = {"k0", "k1", "k2", "k3", "k4", "k5"};
static int pending_of[KEYS]; /* -1 or the pending replica */
static struct ev *heap;
static size_t nheap, capheap;
static uint64_t evseq;
static struct sreq **reqs;
static size_t nreqs, capreqs;

static uint64_t next_value = 1;
static int ops_left, hints_on;
static uint32_t slice_rows;
static uint64_t max_bytes;

static struct {
    uint64_t writes_ok, writes_timeout, reads_ok, reads_timeout;
    uint64_t unavailable, overloaded, refused_ts, repairs, slices;
    uint64_t hints_stored, hints_replayed, spec, retries, failed;
} st;

static void *xcalloc(size_t n, size_t sz)
{
    void *p = mem_calloc(MEM_TEST, n, sz);

    if (!p)
        fail("out of memory");
    return p;
}

static void push_ev(struct ev e)
{
    size_t i;

    if (nheap == capheap) {
        capheap = capheap ? capheap * 2 : 1024;
        heap = mem_realloc(MEM_TEST, heap, capheap * sizeof(*heap));
        if (!heap)
            fail("out of memory");
    }
    e.seq = evseq++;
    i = nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (heap[p].t < e.t || (heap[p].t == e.t && heap[p].seq < e.seq))
            break;
        heap[i] = heap[p];
        i = p;
    }
    heap[i] = e;
}

static int ev_less(const struct ev *a, const struct ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static struct ev pop_ev(void)
{
    struct ev top = heap[0], last = heap[--nheap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= nheap)
            break;
        if (c + 1 < nheap && ev_less(&heap[c + 1], &heap[c]))
            c++;
        if (!ev_less(&heap[c], &last))
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (nheap)
        heap[i] = last;
    return top;
}

static void at(int64_t t, enum ev_kind k, int a, int b)
{
    push_ev((struct ev){.t = t, .kind = k, .a = a, .b = b});
}

static int64_t wall_us(int n)
{
    return BASE_US + g_now / 1000 + nodes[n].skew_us;
}

static int replica_of(int key, int i)
{
    return (key + i) % NODES;
}

/* ---- partitions ---- */

static void part_copy(struct coord_part *dst, const struct storage_partition *s)
{
    CHECK_RC(coord_resolve_merge(&s, 1, dst));
}

static void apply(struct coord_part *store, const struct storage_partition *m)
{
    const struct storage_partition *in[2] = {&store->p, m};
    struct coord_part next;

    CHECK_RC(coord_resolve_merge(in, 2, &next));
    coord_part_move(store, &next);
}

static int64_t max_ts(const struct storage_partition *p)
{
    int64_t t = p->deleted_ts;

    for (size_t i = 0; i < p->nrows; i++) {
        if (p->rows[i].deleted_ts > t)
            t = p->rows[i].deleted_ts;
        for (size_t j = 0; j < p->rows[i].ncells; j++)
            if (p->rows[i].cells[j].ts > t)
                t = p->rows[i].cells[j].ts;
    }
    return t;
}

/* page -- what a replica answers for `rd`: rows after/limit, tombstones
   of every scope included. */
static int page(const struct storage_partition *s,
                const struct storage_read *rd, struct coord_part *out)
{
    struct storage_partition v = *s;
    size_t i = 0, j;

    while (
        i < s->nrows &&
        ((rd->has_after && coord_bytes_cmp(s->rows[i].ck, rd->after) <= 0) ||
         (rd->ck_start.n && coord_bytes_cmp(s->rows[i].ck, rd->ck_start) < 0)))
        i++;
    j = i;
    while (j < s->nrows && (!rd->limit_rows || j - i < rd->limit_rows) &&
           (!rd->ck_end.n || coord_bytes_cmp(s->rows[j].ck, rd->ck_end) <= 0))
        j++;
    v.rows = s->rows + i;
    v.nrows = j - i;
    part_copy(out, &v);
    return j < s->nrows &&
           (!rd->ck_end.n || coord_bytes_cmp(s->rows[j].ck, rd->ck_end) <= 0);
}

/* value_of -- the live value of row `ck`, column v (0: none). */
static uint64_t value_of(const struct storage_partition *p, const char *ck,
                         int *present)
{
    struct storage_bytes k = {(const uint8_t *)ck, strlen(ck)};

    *present = 0;
    for (size_t i = 0; i < p->nrows; i++) {
        const struct storage_row *r = &p->rows[i];
        if (coord_bytes_cmp(r->ck, k) != 0)
            continue;
        *present = 1;
        for (size_t j = 0; j < r->ncells; j++) {
            const struct storage_cell *c = &r->cells[j];
            uint64_t v = 0;
            if (c->tombstone || c->value.n != 8)
                continue;
            for (int b = 0; b < 8; b++)
                v = v << 8 | c->value.p[b];
            return v;
        }
    }
    return 0;
}

/* make_mutation -- the batch of a write or delete, stamped `ts`. */
static void make_mutation(struct sreq *q, int extra_row)
{
    static const char *cks[] = {"r1", "r2", "x"};
    struct storage_cell cells[3];
    struct storage_row rows[3];
    struct storage_partition p = {.pkey = {(const uint8_t *)keys[q->key], 2},
                                  .deleted_ts = STORAGE_TS_NONE};
    uint8_t val[8];
    int nrows = extra_row ? 3 : 2;

    for (int b = 0; b < 8; b++)
        val[b] = (uint8_t)(q->value >> (56 - 8 * b));
    if (q->is_delete && chance(50)) {
        p.deleted_ts = q->ts; /* a partition delete */
        p.deleted_s = q->ts / 1000000;
        nrows = 0;
    }
    for (int i = 0; i < nrows; i++) {
        rows[i] = (struct storage_row){
            .ck = {(const uint8_t *)cks[i], strlen(cks[i])},
            .deleted_ts = q->is_delete ? q->ts : STORAGE_TS_NONE,
            .deleted_s = q->is_delete ? q->ts / 1000000 : 0,
            .cells = q->is_delete ? NULL : &cells[i],
            .ncells = q->is_delete ? 0 : 1};
        cells[i] = (struct storage_cell){.column = {(const uint8_t *)"v", 1},
                                         .value = {val, 8},
                                         .ts = q->ts};
    }
    p.rows = rows;
    p.nrows = (size_t)nrows;
    part_copy(&q->mut, &p);
}

/* ---- messages ---- */

static int64_t delay(int from, int to)
{
    int64_t d = 200000 + (int64_t)below(1800000); /* 0.2 .. 2 ms */

    if (nodes[from].slow || nodes[to].slow)
        d *= 40;
    if (chance(1))
        d += (int64_t)below(700) * MS; /* very late, maybe past timeouts */
    return d;
}

static void send(struct msg *m)
{
    if (chance(1)) { /* lost */
        coord_part_free(&m->part);
        mem_free(m);
        return;
    }
    push_ev(
        (struct ev){.t = g_now + delay(m->from, m->to), .kind = E_MSG, .m = m});
}

static struct msg *new_msg(enum msg_kind k, int from, int to, int req, int key)
{
    struct msg *m = xcalloc(1, sizeof(*m));

    m->kind = k;
    m->from = from;
    m->to = to;
    m->req = req;
    m->key = key;
    coord_part_init(&m->part);
    return m;
}

/* ---- coordinator side ---- */

static void on_done(struct sreq *q, const struct coord_act *a);
static void client_next(int client, int64_t after);

/* Reads in flight, so a mutation can mark them (few at a time). */
static struct sreq *active[CLIENTS * 8];
static size_t nactive;

static void mark_dirty(int key, int by_req)
{
    for (size_t i = 0; i < nactive; i++)
        if (active[i]->key == key && active[i]->id != by_req)
            active[i]->dirty = 1;
}

static void active_add(struct sreq *q)
{
    if (nactive == sizeof(active) / sizeof(active[0]))
        fail("too many reads in flight");
    active[nactive++] = q;
}

static void active_del(struct sreq *q)
{
    for (size_t i = 0; i < nactive; i++)
        if (active[i] == q)
            active[i] = active[--nactive];
}

static void store_hint(struct sreq *q, int target)
{
    struct node *n = &nodes[q->node];
    struct hint *h;
    int rc = coord_admit_hint(&n->admit, 256);

    if (!rc) {
        if (n->nhints == n->caphints) {
            n->caphints = n->caphints ? n->caphints * 2 : 64;
            n->hints = mem_realloc(MEM_TEST, n->hints,
                                   n->caphints * sizeof(*n->hints));
            if (!n->hints)
                fail("out of memory");
        }
        h = &n->hints[n->nhints++];
        memset(h, 0, sizeof(*h));
        h->target = target;
        h->key = q->key;
        h->live = 1;
        part_copy(&h->mut, &q->mut.p);
        st.hints_stored++;
    }
    {
        struct coord_acts more;
        coord_acts_init(&more);
        CHECK_RC(coord_write_on_hint(&q->w, target, rc, &more));
        for (size_t i = 0; i < more.n; i++) {
            if (more.v[i].kind == COORD_ACT_DONE)
                on_done(q, &more.v[i]);
            else if (more.v[i].kind == COORD_ACT_HINT)
                fail("hint action from a hint report");
        }
        coord_acts_free(&more);
    }
}

static void run_acts(struct sreq *q, struct coord_acts *acts)
{
    for (size_t i = 0; i < acts->n; i++) {
        const struct coord_act *a = &acts->v[i];
        struct msg *m;

        if (q->expect_unavail && a->kind != COORD_ACT_DONE)
            fail("req %d: unavailable level still sent (act %d)", q->id,
                 a->kind);
        switch (a->kind) {
        case COORD_ACT_SEND_WRITE:
            m = new_msg(M_WRITE, q->node, a->replica, q->id, q->key);
            m->tag = a->tag;
            part_copy(&m->part, &q->mut.p);
            send(m);
            break;
        case COORD_ACT_SEND_REPAIR:
            st.repairs++;
            m = new_msg(M_WRITE, q->node, a->replica, q->id, q->key);
            m->tag = a->tag;
            part_copy(&m->part, a->part);
            send(m);
            break;
        case COORD_ACT_SEND_READ:
            m = new_msg(M_READ, q->node, a->replica, q->id, q->key);
            m->tag = a->tag;
            m->digest_only = a->digest_only;
            m->rd = a->read;
            if (a->read.after.n > sizeof(m->after))
                fail("resume key too long");
            if (a->read.after.n)
                memcpy(m->after, a->read.after.p, a->read.after.n);
            m->rd.after.p = m->after;
            m->rd.pkey.p = (const uint8_t *)keys[q->key];
            m->rd.ck_start.n = m->rd.ck_end.n = 0; /* sim reads whole */
            send(m);
            break;
        case COORD_ACT_HINT:
            store_hint(q, a->replica);
            break;
        case COORD_ACT_TIMER:
            if (a->at_ns < g_now)
                fail("req %d: timer in the past", q->id);
            at(a->at_ns, E_TIMER, q->id, 0);
            break;
        case COORD_ACT_DONE:
            on_done(q, a);
            break;
        }
    }
}

static void maybe_finish(struct sreq *q)
{
    int fin;

    if (q->finished)
        return;
    fin = q->is_write ? coord_write_finished(&q->w)
                      : (q->r ? coord_read_finished(q->r) : q->answered);
    if (!fin)
        return;
    q->finished = 1;
    if (q->admitted)
        coord_admit_request_done(&nodes[q->node].admit, q->admit_bytes);
    if (!q->is_write)
        active_del(q);
    if (q->r) {
        coord_read_free(q->r);
        mem_free(q->r);
        q->r = NULL;
    }
    coord_part_free(&q->mut);
}

static int level_required(enum coord_cl cl)
{
    static const int need[] = {1, 1, 2, 3, RF / 2 + 1, RF};

    return need[cl];
}

/* overlap -- must a read at `r` see a write acknowledged at `w`? An
   acked write reached at least block_for(w) natural replicas (pending
   ones only add to the count), and the read asks block_for(r). ANY may
   rest on a hint alone. */
static int overlap(enum coord_cl w, enum coord_cl r)
{
    return w != COORD_CL_ANY && level_required(w) + level_required(r) > RF;
}

static void check_repaired(struct sreq *q)
{
    uint64_t d0 = 0, d;

    if (!q->r || q->r->slices == 0 || q->dirty || !q->r->read_repair)
        return;
    for (int i = 0; i < q->r->ns; i++) {
        CHECK_RC(coord_resolve_digest(
            &nodes[q->r->s[i].replica].store[q->key].p, &d));
        if (i == 0)
            d0 = d;
        else if (d != d0)
            fail("req %d: read repair left replicas %d and %d different "
                 "on %s",
                 q->id, q->r->s[0].replica, q->r->s[i].replica, keys[q->key]);
    }
}

static void read_done(struct sreq *q, const struct coord_act *a)
{
    const struct storage_partition *p;
    uint64_t v1, v2;
    int more, has1, has2;

    if (a->rc != 0) {
        st.reads_timeout += a->rc == CAIRN_ETIMEOUT;
        st.failed += a->rc != CAIRN_ETIMEOUT && a->rc != CAIRN_EUNAVAILABLE &&
                     a->rc != CAIRN_EOVERLOADED;
        if (getenv("SIM_DEBUG") && a->rc != CAIRN_ETIMEOUT)
            fprintf(stderr, "read rc=%d\n", a->rc);
        return;
    }
    st.reads_ok++;
    st.slices += q->r->slices;
    p = coord_read_result(q->r, &more);
    v1 = value_of(p, "r1", &has1);
    v2 = value_of(p, "r2", &has2);
    if (!q->paged && v1 != v2)
        fail("req %d: read of %s saw r1=%" PRIu64 " r2=%" PRIu64
             " (a batch seen in part)",
             q->id, keys[q->key], v1, v2);
    if (q->paged && has2)
        fail("req %d: page of 1 row returned r2", q->id);
    CHECK_RC(history_read(hists[q->cl], keys[q->key], 2, q->start, g_now, v1));
    check_repaired(q);
}

static void issue_write(int client, int node, int key, enum coord_cl cl,
                        uint64_t value, int is_delete, int64_t ts,
                        struct hops hop, int retries, int64_t start);

static void write_done(struct sreq *q, const struct coord_act *a)
{
    enum history_outcome o = HISTORY_FAILED;

    if (a->rc == 0) {
        st.writes_ok++;
        o = HISTORY_OK;
    } else if (a->rc == CAIRN_ETIMEOUT) {
        st.writes_timeout++;
        if (!a->unknown)
            fail("req %d: write timeout without outcome unknown", q->id);
        /* Retry with the original timestamp (C24), on another node. */
        if (q->retries < 2 && chance(50)) {
            st.retries++;
            issue_write(q->client, (int)below(NODES), q->key, q->cl, q->value,
                        q->is_delete, q->ts, q->hop, q->retries + 1, q->start);
            return;
        }
    } else if (a->rc != CAIRN_EUNAVAILABLE && a->rc != CAIRN_EOVERLOADED &&
               a->rc != -EINVAL) {
        st.failed++;
    }
    /* An earlier attempt may have landed even if this one did not. */
    if (a->rc && (a->unknown || q->retries))
        o = HISTORY_UNKNOWN;
    for (int l = COORD_CL_ONE; l < NLEVELS; l++)
        history_write_end(
            hists[l], q->hop.v[l], g_now,
            o == HISTORY_OK && !overlap(q->cl, l) ? HISTORY_UNKNOWN : o);
    client_next(q->client, g_now);
}

static void on_done(struct sreq *q, const struct coord_act *a)
{
    if (q->answered)
        fail("req %d answered twice", q->id);
    q->answered = 1;
    if (g_now > q->deadline)
        fail("req %d answered %.3f ms after its deadline", q->id,
             (double)(g_now - q->deadline) / MS);
    if (q->expect_unavail != (a->rc == CAIRN_EUNAVAILABLE))
        fail("req %d (%s %s): rc=%d but %s expected", q->id,
             q->is_write ? "write" : "read", coord_cl_name(q->cl), a->rc,
             q->expect_unavail ? "Unavailable" : "no Unavailable");
    if (a->rc == CAIRN_EUNAVAILABLE)
        st.unavailable++;
    if (a->rc == CAIRN_ETIMEOUT && a->acked >= a->required)
        fail("req %d: timeout with %d of %d acks", q->id, a->acked,
             a->required);
    if (q->is_write) {
        write_done(q, a);
    } else {
        read_done(q, a);
        client_next(q->client, g_now);
    }
}

static struct sreq *new_req(int client, int node, int key, enum coord_cl cl)
{
    struct sreq *q = xcalloc(1, sizeof(*q));

    if (nreqs == capreqs) {
        capreqs = capreqs ? capreqs * 2 : 256;
        reqs = mem_realloc(MEM_TEST, reqs, capreqs * sizeof(*reqs));
        if (!reqs)
            fail("out of memory");
    }
    q->id = (int)nreqs;
    reqs[nreqs++] = q;
    q->client = client;
    q->node = node;
    q->key = key;
    q->cl = cl;
    q->start = g_now;
    coord_part_init(&q->mut);
    return q;
}

/* admit -- take admission; on refusal answer Overloaded at once. */
static int admit(struct sreq *q, uint64_t bytes)
{
    struct node *n = &nodes[q->node];

    if (coord_admit_request(&n->admit, bytes)) {
        struct coord_act a = {.kind = COORD_ACT_DONE, .rc = CAIRN_EOVERLOADED};
        st.overloaded++;
        q->deadline = g_now;
        q->finished = 1;
        q->expect_unavail = 0;
        on_done(q, &a);
        return -1;
    }
    if (n->admit.bytes > max_bytes)
        fail("admission let %" PRIu64 " bytes in, bound %" PRIu64,
             n->admit.bytes, max_bytes);
    q->admitted = 1;
    q->admit_bytes = bytes;
    return 0;
}

/* write_targets -- the key's replicas (and pending one) as the failure
   detector sees them; returns how many are believed alive. */
static int write_targets(int key, struct coord_write_params *p,
                         struct coord_target *t)
{
    int alive = 0;

    for (int i = 0; i < RF; i++)
        t[p->ntargets++] = (struct coord_target){.replica = replica_of(key, i)};
    if (pending_of[key] >= 0)
        t[p->ntargets++] =
            (struct coord_target){.replica = pending_of[key], .pending = 1};
    for (int i = 0; i < p->ntargets; i++) {
        struct node *n = &nodes[t[i].replica];
        t[i].alive = n->believed;
        t[i].down_ns = n->believed ? 0 : g_now - n->down_since;
        alive += n->believed;
    }
    return alive;
}

/* stamp -- the write's timestamp: the coordinator's, or the client's if
   within the future bound (C18). 0, or -1 after answering -EINVAL. */
static int stamp(struct sreq *q, int64_t ts)
{
    int64_t wall = wall_us(q->node);
    struct coord_act a = {.kind = COORD_ACT_DONE, .rc = -EINVAL};

    if (ts == 0) {
        q->ts = coord_tsclock_next(&nodes[q->node].ts, wall);
        return 0;
    }
    if (!coord_tsclock_check(&nodes[q->node].ts, ts, wall)) {
        if (ts - wall > COORD_TS_MAX_FUTURE_DEFAULT)
            fail("a timestamp %" PRId64 " us ahead was accepted", ts - wall);
        return 0;
    }
    if (ts - wall <= COORD_TS_MAX_FUTURE_DEFAULT)
        fail("client timestamp %" PRId64 " refused: %s", ts, err_msg());
    st.refused_ts++;
    q->expect_unavail = 0;
    on_done(q, &a);
    q->finished = 1;
    coord_admit_request_done(&nodes[q->node].admit, q->admit_bytes);
    return -1;
}

static void issue_write(int client, int node, int key, enum coord_cl cl,
                        uint64_t value, int is_delete, int64_t ts,
                        struct hops hop, int retries, int64_t start)
{
    struct sreq *q = new_req(client, node, key, cl);
    struct coord_target t[RF + 1];
    struct coord_write_params p = {.cl = cl,
                                   .rf = RF,
                                   .targets = t,
                                   .timeout_ns = WRITE_TIMEOUT,
                                   .hints = hints_on,
                                   .hint_window_ns = HINT_WINDOW};
    struct coord_acts acts;
    int alive = write_targets(key, &p, t);
    int need = level_required(cl) + (p.ntargets > RF && cl != COORD_CL_ANY);

    q->is_write = 1;
    q->value = value;
    q->is_delete = is_delete;
    q->ts = ts;
    q->hop = hop;
    q->retries = retries;
    q->start = start;
    q->deadline = g_now + WRITE_TIMEOUT;
    q->expect_unavail =
        cl == COORD_CL_ANY ? (!hints_on && alive == 0) : alive < need;
    if (admit(q, 128 + 64 * (uint64_t)p.ntargets) || stamp(q, ts))
        return;
    make_mutation(q, chance(30));
    coord_acts_init(&acts);
    CHECK_RC(coord_write_start(&q->w, &p, g_now, &acts));
    if (q->expect_unavail && (acts.n != 1 || acts.v[0].kind != COORD_ACT_DONE))
        fail("req %d: write at %s with %d alive did not fail fast", q->id,
             coord_cl_name(cl), alive);
    run_acts(q, &acts);
    coord_acts_free(&acts);
    maybe_finish(q);
}

static void issue_read(int client, int node, int key, enum coord_cl cl)
{
    struct sreq *q = new_req(client, node, key, cl);
    int reps[RF];
    uint8_t alive[RF];
    int nalive = 0;
    struct coord_read_params p = {
        .cl = cl,
        .rf = RF,
        .replicas = reps,
        .alive = alive,
        .nreplicas = RF,
        .query = {.pkey = {(const uint8_t *)keys[key], 2},
                  .include_tombstones = 1},
        .timeout_ns = READ_TIMEOUT,
        .spec_default_ns = 30 * MS,
        .repair_slice_rows = slice_rows,
        .read_repair = 1,
        .snitch = &nodes[node].snitch};
    struct coord_acts acts;

    q->deadline = g_now + READ_TIMEOUT;
    q->paged = chance(25);
    if (q->paged)
        p.query.limit_rows = 1;
    for (int i = 0; i < RF; i++) {
        reps[i] = replica_of(key, i);
        alive[i] = (uint8_t)nodes[reps[i]].believed;
        nalive += alive[i];
    }
    q->expect_unavail = nalive < level_required(cl);
    if (admit(q, 512))
        return;
    q->r = xcalloc(1, sizeof(*q->r));
    active_add(q);
    coord_acts_init(&acts);
    CHECK_RC(coord_read_start(q->r, &p, g_now, &acts));
    if (q->expect_unavail && (acts.n != 1 || acts.v[0].kind != COORD_ACT_DONE))
        fail("req %d: read at %s with %d alive did not fail fast", q->id,
             coord_cl_name(cl), nalive);
    run_acts(q, &acts);
    coord_acts_free(&acts);
    maybe_finish(q);
}

/* ---- replica side ---- */

static void replica_msg(struct msg *m)
{
    struct node *n = &nodes[m->to];
    struct msg *r;

    switch (m->kind) {
    case M_WRITE:
    case M_HINT:
        r = new_msg(m->kind == M_WRITE ? M_WRITE_R : M_HINT_R, m->to, m->from,
                    m->req, m->key);
        r->tag = m->tag;
        r->hint = m->hint;
        if (m->kind == M_WRITE && chance(1)) {
            r->rc = CAIRN_EOVERLOADED; /* refused, nothing applied */
        } else {
            coord_tsclock_observe(&n->ts, max_ts(&m->part.p), wall_us(m->to));
            apply(&n->store[m->key], &m->part.p);
            mark_dirty(m->key, m->req);
        }
        send(r);
        break;
    case M_READ:
        r = new_msg(M_READ_R, m->to, m->from, m->req, m->key);
        r->tag = m->tag;
        r->digest_only = m->digest_only;
        r->more = page(&n->store[m->key].p, &m->rd, &r->part);
        if (m->digest_only) {
            CHECK_RC(coord_resolve_digest(&r->part.p, &r->digest));
            coord_part_free(&r->part);
        }
        send(r);
        break;
    default:
        fail("replica got a reply");
    }
}

static void coordinator_msg(struct msg *m)
{
    struct sreq *q = reqs[m->req];
    struct coord_acts acts;

    if (q->finished)
        return;
    coord_acts_init(&acts);
    if (m->kind == M_WRITE_R && q->is_write)
        CHECK_RC(coord_write_on_reply(&q->w, m->tag, m->rc, &acts));
    else if (m->kind == M_WRITE_R)
        CHECK_RC(
            coord_read_on_reply(q->r, m->tag, m->rc, NULL, 0, 0, g_now, &acts));
    else
        CHECK_RC(coord_read_on_reply(q->r, m->tag, m->rc,
                                     m->digest_only ? NULL : &m->part.p,
                                     m->digest, m->more, g_now, &acts));
    run_acts(q, &acts);
    coord_acts_free(&acts);
    maybe_finish(q);
}

static void hint_unmark(int node, size_t i)
{
    struct hint *h = &nodes[node].hints[i];

    if (h->inflight) {
        h->inflight = 0;
        nodes[node].hints_inflight--;
    }
}

static void hint_reply(struct msg *m)
{
    struct node *n = &nodes[m->to];
    struct hint *h = &n->hints[m->hint];

    hint_unmark(m->to, m->hint);
    if (m->rc || !h->live)
        return;
    h->live = 0;
    coord_part_free(&h->mut);
    coord_admit_hint_done(&n->admit, 256);
    st.hints_replayed++;
}

static void deliver(struct msg *m)
{
    int replica_kind =
        m->kind == M_WRITE || m->kind == M_READ || m->kind == M_HINT;

    if (replica_kind && !nodes[m->to].up) {
        /* a crashed or hung replica never answers */
    } else if (m->kind == M_HINT_R)
        hint_reply(m);
    else if (replica_kind)
        replica_msg(m);
    else
        coordinator_msg(m);
    coord_part_free(&m->part);
    mem_free(m);
}

/* replay_hints -- a throttled batch of hints to targets seen up. */
static void replay_hints(int node)
{
    struct node *n = &nodes[node];

    for (size_t i = 0; i < n->nhints && n->hints_inflight < 4; i++) {
        struct hint *h = &n->hints[i];
        struct msg *m;
        if (!h->live || h->inflight || !nodes[h->target].believed)
            continue;
        m = new_msg(M_HINT, node, h->target, -1, h->key);
        m->hint = i;
        part_copy(&m->part, &h->mut.p);
        h->inflight = 1;
        n->hints_inflight++;
        /* The replay gives up on a hint not acknowledged in time. */
        at(g_now + 500 * MS, E_HINT_TIMEOUT, node, (int)i);
        send(m);
    }
    if (ops_left > 0)
        at(g_now + 50 * MS, E_HINTS, node, 0);
}

/* ---- clients and faults ---- */

static enum coord_cl pick_cl(int is_write)
{
    int r = (int)below(100);

    if (r < 50)
        return COORD_CL_QUORUM;
    if (r < 65)
        return COORD_CL_ALL;
    if (r < 80)
        return COORD_CL_ONE;
    if (r < 90)
        return COORD_CL_TWO;
    return is_write ? COORD_CL_ANY : COORD_CL_THREE;
}

static void client_op(int client)
{
    int node = (int)below(NODES), key = (int)below(KEYS);
    int is_write;

    if (ops_left <= 0)
        return;
    ops_left--;
    is_write = chance(50);
    if (is_write) {
        uint64_t v = next_value++;
        int del = chance(10);
        enum coord_cl cl = pick_cl(1);
        int64_t ts = 0;
        struct hops hop;
        if (chance(10))
            ts = BASE_US + g_now / 1000; /* a client timestamp */
        if (chance(1))
            ts = BASE_US + g_now / 1000 + 3600LL * 1000000; /* C18 (c) */
        for (int l = COORD_CL_ONE; l < NLEVELS; l++)
            CHECK_RC(history_write_begin(hists[l], keys[key], 2, v, del, g_now,
                                         &hop.v[l]));
        issue_write(client, node, key, cl, v, del, ts, hop, 0, g_now);
    } else {
        issue_read(client, node, key, pick_cl(0));
    }
}

static void client_next(int client, int64_t after)
{
    at(after + (int64_t)below(3 * MS), E_CLIENT, client, 0);
}

/* recover -- a crashed or hung node comes back (data intact). */
static void recover(int n)
{
    struct node *x = &nodes[n];

    if (x->up)
        return;
    x->up = 1;
    x->hung = 0;
    at(g_now + 50 * MS, E_DETECT, n, 1);
}

static void fault(void)
{
    int n = (int)below(NODES), down = 0;
    struct node *x = &nodes[n];

    for (int i = 0; i < NODES; i++)
        down += !nodes[i].up;
    switch (below(3)) {
    case 0: /* crash: noticed after a while, back after up to 3 s, so
               some outages outlast the hint window */
        if (x->up && down < 2) {
            x->up = 0;
            at(g_now + 100 * MS + (int64_t)below(200 * MS), E_DETECT, n, 0);
            at(g_now + 300 * MS + (int64_t)below(2700 * MS), E_RECOVER, n, 0);
        }
        break;
    case 1: /* hang: silent but believed up, for up to 600 ms */
        if (x->up && down < 2) {
            x->up = 0;
            x->hung = 1;
            at(g_now + 100 * MS + (int64_t)below(500 * MS), E_RECOVER, n, 0);
        }
        break;
    default:
        x->slow = !x->slow;
        break;
    }
    if (ops_left > 0)
        at(g_now + 100 * MS + (int64_t)below(600 * MS), E_FAULT, 0, 0);
}

static void detect(int n, int to_up)
{
    struct node *x = &nodes[n];

    if (to_up && x->up && !x->believed) {
        x->believed = 1;
    } else if (!to_up && !x->up && !x->hung && x->believed) {
        x->believed = 0;
        x->down_since = g_now;
    }
}

static void timer(int id)
{
    struct sreq *q = reqs[id];
    struct coord_acts acts;

    if (q->finished)
        return;
    coord_acts_init(&acts);
    if (q->is_write)
        CHECK_RC(coord_write_on_timer(&q->w, g_now, &acts));
    else
        CHECK_RC(coord_read_on_timer(q->r, g_now, &acts));
    run_acts(q, &acts);
    coord_acts_free(&acts);
    maybe_finish(q);
}

/* ---- main ---- */

static void setup(void)
{
    hints_on = !chance(20);
    slice_rows = chance(50) ? 2 : 100;
    max_bytes = chance(30) ? 2048 : 1 << 20;
    for (int i = 0; i < NODES; i++) {
        struct node *n = &nodes[i];
        n->up = n->believed = 1;
        n->skew_us = (int64_t)below(2 * SKEW_US + 1) - SKEW_US;
        coord_tsclock_init(&n->ts, COORD_TS_MAX_FUTURE_DEFAULT);
        coord_admit_init(&n->admit, max_bytes, 64, 64 * 1024);
        coord_snitch_init(&n->snitch, n->lat, NODES);
        for (int k = 0; k < KEYS; k++)
            coord_part_init(&n->store[k]);
    }
    for (int k = 0; k < KEYS; k++)
        pending_of[k] = chance(33) ? replica_of(k, RF) : -1;
}

static void run(void)
{
    for (int c = 0; c < CLIENTS; c++)
        client_next(c, 0);
    at(10 * MS, E_FAULT, 0, 0);
    for (int i = 0; i < NODES; i++)
        at(50 * MS, E_HINTS, i, 0);
    while (nheap) {
        struct ev e = pop_ev();
        if (e.t < g_now)
            fail("time went backwards");
        g_now = e.t;
        switch (e.kind) {
        case E_MSG:
            deliver(e.m);
            break;
        case E_TIMER:
            timer(e.a);
            break;
        case E_CLIENT:
            client_op(e.a);
            break;
        case E_FAULT:
            fault();
            break;
        case E_DETECT:
            detect(e.a, e.b);
            break;
        case E_HINTS:
            replay_hints(e.a);
            break;
        case E_HINT_TIMEOUT:
            hint_unmark(e.a, (size_t)e.b);
            break;
        case E_RECOVER:
            recover(e.a);
            break;
        }
    }
}

static void final_checks(void)
{
    char why[1024];

    for (size_t i = 0; i < nreqs; i++) {
        if (!reqs[i]->answered)
            fail("req %zu never answered (hung)", i);
        if (!reqs[i]->finished)
            fail("req %zu still holds state after the run", i);
    }
    for (int i = 0; i < NODES; i++)
        if (nodes[i].admit.count || nodes[i].admit.bytes)
            fail("node %d admission not given back: %" PRIu64 " requests", i,
                 nodes[i].admit.count);
    for (int l = COORD_CL_ONE; l < NLEVELS; l++)
        if (history_check(hists[l], why, sizeof(why)))
            fail("history of %s reads: %s", coord_cl_name(l), why);
}

static void cleanup(void)
{
    for (int i = 0; i < NODES; i++) {
        for (int k = 0; k < KEYS; k++)
            coord_part_free(&nodes[i].store[k]);
        for (size_t h = 0; h < nodes[i].nhints; h++)
            coord_part_free(&nodes[i].hints[h].mut);
        mem_free(nodes[i].hints);
    }
    for (size_t i = 0; i < nreqs; i++)
        mem_free(reqs[i]);
    mem_free(reqs);
    mem_free(heap);
    for (int l = 0; l < NLEVELS; l++)
        history_free(hists[l]);
}

int main(int argc, char **argv)
{
    long ops = 20000;
    size_t nw, nr;

    g_seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            g_seed = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
            ops = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: cairn-sim-coord [--seed N] [--ops N]\n");
            return 2;
        }
    }
    if (getenv("CAIRN_LONG_TESTS") && !strcmp(getenv("CAIRN_LONG_TESTS"), "1"))
        ops *= 10;
    printf("cairn-sim-coord seed=%" PRIu64 " ops=%ld\n", g_seed, ops);
    fflush(stdout);
    rng_state = g_seed;
    ops_left = (int)ops;
    for (int l = COORD_CL_ONE; l < NLEVELS; l++)
        if (history_new(&hists[l]))
            fail("out of memory");
    setup();
    run();
    final_checks();
    nr = 0;
    for (int l = COORD_CL_ONE; l < NLEVELS; l++) {
        size_t r;
        history_counts(hists[l], &nw, &r);
        nr += r;
    }
    printf("ok: writes=%zu (acked %" PRIu64 ", timeout %" PRIu64
           ") checked reads=%zu (ok %" PRIu64 ", timeout %" PRIu64
           ") unavailable=%" PRIu64 " overloaded=%" PRIu64
           " refused_ts=%" PRIu64 " repairs=%" PRIu64 " slices=%" PRIu64
           " hints=%" PRIu64 "/%" PRIu64 " retries=%" PRIu64
           " other_failures=%" PRIu64 " sim_time=%.1fs hints_on=%d "
           "slice=%u\n",
           nw, st.writes_ok, st.writes_timeout, nr, st.reads_ok,
           st.reads_timeout, st.unavailable, st.overloaded, st.refused_ts,
           st.repairs, st.slices, st.hints_replayed, st.hints_stored,
           st.retries, st.failed, (double)g_now / 1e9, hints_on, slice_rows);
    cleanup();
    return 0;
}
