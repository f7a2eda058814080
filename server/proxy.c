/*
 * proxy.c -- the coordinator's I/O around server/coord/, and the replica
 * side of the replication messages (proxy.h).
 *
 * Everything the state machines touch lives on the proxy loop: client
 * calls, peer messages and completions from other threads arrive through
 * one locked queue and a uv_async. Replica ids given to the machines are
 * indexes into the proxy's host table, so the snitch keeps one latency
 * record per node across requests. A peer request id is the operation id
 * shifted left 32 bits or'ed with the machine's tag; hint replays use ids
 * with the top bit set.
 */
#include "server/proxy.h"

#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/token.h"
#include "server/call.h"
#include "server/cluster.h"
#include "server/config.h"
#include "server/coord/admit.h"
#include "server/coord/read.h"
#include "server/coord/write.h"
#include "server/hints.h"
#include "server/merkle.h"
#include "server/node.h"
#include "server/peer.h"
#include "server/replica.h"
#include "server/scan.h"
#include "server/loop.h"
#include "server/schema.h"

#define PX_MAX_HOSTS     64
#define PX_TAB           1024
#define PX_SYNC_BIT      (1ULL << 63) /* answers awaited by proxy_call */
#define PX_TICK_MS       500
#define PX_CALL_WAIT_NS  (10LL * 1000000000)
#define PX_SLICE_ROWS    1000
#define PX_MAX_FUTURE_US (60LL * 1000000)
/* Admission bounds (coord/admit.h): past them requests get Overloaded. */
#define PX_MAX_INFLIGHT       8192
#define PX_MAX_INFLIGHT_BYTES (256ULL << 20)
#define PX_MAX_HINT_BYTES     (64ULL << 20)

enum px_kind {
    PXI_CALL = 0,  /* a client call to coordinate */
    PXI_MSG,       /* a packed PeerMessage from `from` */
    PXI_SEND_FAIL, /* a request to a replica could not be sent */
    PXI_HINT_DONE, /* a hint of op `req` for `replica` is durable (rc) */
    PXI_PEER_LOST, /* the connection to host `from` was lost */
};

struct px_item {
    struct px_item *next;
    struct proxy *px;
    enum px_kind kind;
    struct call *call;
    struct ring_host_id from;
    uint8_t *bytes;
    size_t n;
    uint64_t req;
    int replica;
    int rc;
    uint64_t hint_bytes; /* PXI_HINT_DONE: admitted hint bytes to give back */
};

struct px_op {
    struct px_op *next; /* hash chain */
    struct proxy *px;
    uint64_t id;
    int is_read;
    struct call *call;
    uv_timer_t timer;
    int64_t timer_at; /* when `timer` fires, 0: not armed */
    int64_t last_at;  /* the latest time the machine asked for */
    int answered;
    uint64_t admitted; /* request bytes taken from the proxy's admission */
    int has_admit;     /* admission was granted: give it back once */
    struct coord_acts acts;
    /* writes */
    struct coord_write w;
    struct repl_arena arena;
    Cairn__MutationReq *mreq; /* owned copy (unpacked) */
    uint32_t gc_grace_s;
    uint64_t table_id;
    /* reads */
    struct coord_read r;
    int only_empty;
};

/* A thread waiting in proxy_call for the answer to request `req`. */
struct px_wait {
    uint64_t req;
    int busy, got, rc;
    uint8_t *bytes; /* the packed answer (mem_alloc), once got */
    size_t n;
};

#define PX_MAX_WAIT 64

struct proxy {
    const struct config *cfg;
    struct node *node;
    struct storage *st;
    struct schema *sc;
    struct cluster *cl;
    struct peer *peer;
    struct hints *hints;
    struct ring_host_id self;
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t tick;
    uv_thread_t thread;
    uv_mutex_t mu; /* queue, stop, hint waiters */
    uv_cond_t cv;  /* hint waiters */
    struct px_item *head, *tail;
    int stop;
    struct ring_host_id hosts[PX_MAX_HOSTS];
    int nhosts;
    int replaying[PX_MAX_HOSTS];
    uv_work_t replay_work[PX_MAX_HOSTS];
    struct coord_lat lat[PX_MAX_HOSTS];
    struct coord_snitch snitch;
    struct coord_admit admit; /* proxy loop only */
    struct px_op *tab[PX_TAB];
    uint64_t next_id;
    struct px_wait hw[PX_MAX_WAIT];
    uint64_t next_sync;
    atomic_int applies; /* replica applies whose callback is pending */
};

static int64_t px_now(void)
{
    return clk_mono_ns(clk_system());
}

/* ---- the queue ---- */

static void px_push(struct proxy *p, struct px_item *it)
{
    uv_mutex_lock(&p->mu);
    if (p->stop) {
        uv_mutex_unlock(&p->mu);
        if (it->kind == PXI_CALL) {
            call_fail(it->call, CAIRN_ECLOSED, "the node is shutting down");
            call_done(it->call);
        }
        mem_free(it->bytes);
        mem_free(it);
        return;
    }
    if (p->tail)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    uv_mutex_unlock(&p->mu);
    uv_async_send(&p->async);
}

static struct px_item *px_item(enum px_kind k)
{
    struct px_item *it = mem_calloc(MEM_SERVER, 1, sizeof(*it));

    if (it)
        it->kind = k;
    return it;
}

/* px_post_msg -- queue packed `m` as if received from `from`. */
static int px_post_msg(struct proxy *p, const struct ring_host_id *from,
                       const Cairn__PeerMessage *m)
{
    struct px_item *it = px_item(PXI_MSG);
    size_t n = cairn__peer_message__get_packed_size(m);

    if (!it || !(it->bytes = mem_alloc(MEM_SERVER, n ? n : 1))) {
        mem_free(it);
        return err_set(-ENOMEM, "proxy: no memory");
    }
    cairn__peer_message__pack(m, it->bytes);
    it->n = n;
    it->from = *from;
    px_push(p, it);
    return 0;
}

/* ---- hosts ---- */

static int px_host(struct proxy *p, const struct ring_host_id *id)
{
    for (int i = 0; i < p->nhosts; i++)
        if (ring_host_id_eq(&p->hosts[i], id))
            return i;
    if (p->nhosts == PX_MAX_HOSTS)
        return -1;
    p->hosts[p->nhosts] = *id;
    return p->nhosts++;
}

static int px_alive(const struct proxy *p, const struct clsnap *s,
                    const struct ring_host_id *id)
{
    const struct clsnap_node *nd;

    if (ring_host_id_eq(id, &p->self))
        return 1;
    nd = clsnap_find(s, id);
    return nd && nd->alive;
}

/* ---- sending ---- */

struct px_send_ctx {
    struct proxy *p;
    uint64_t req;
};

static void px_send_done(int rc, void *arg)
{
    struct px_send_ctx *x = arg;
    struct px_item *it;

    if (rc < 0 && (it = px_item(PXI_SEND_FAIL)) != NULL) {
        it->req = x->req;
        it->rc = CAIRN_EUNAVAILABLE;
        px_push(x->p, it);
    }
    mem_free(x);
}

/*
 * px_send -- `m` to host `to`: straight into our own queue for ourselves,
 * else through the transport. A request (`want_fail`) that cannot be
 * sent comes back as a PXI_SEND_FAIL. Any thread.
 */
static int px_send(struct proxy *p, const struct ring_host_id *to,
                   const Cairn__PeerMessage *m, int want_fail)
{
    struct px_send_ctx *x = NULL;
    int rc;

    if (ring_host_id_eq(to, &p->self))
        return px_post_msg(p, &p->self, m);
    if (want_fail) {
        x = mem_alloc(MEM_SERVER, sizeof(*x));
        if (!x)
            return err_set(-ENOMEM, "proxy: no memory");
        x->p = p;
        x->req = m->request_id;
    }
    rc = peer_send(p->peer, to, m, x ? px_send_done : NULL, x);
    if (rc < 0)
        mem_free(x);
    return rc;
}

/* ---- operations ---- */

static struct px_op *px_op_find(struct proxy *p, uint64_t id)
{
    for (struct px_op *o = p->tab[id % PX_TAB]; o; o = o->next)
        if (o->id == id)
            return o;
    return NULL;
}

static void px_op_closed(uv_handle_t *h)
{
    struct px_op *o = h->data;

    if (o->has_admit)
        coord_admit_request_done(&o->px->admit, o->admitted);
    if (o->is_read)
        coord_read_free(&o->r);
    coord_acts_free(&o->acts);
    repl_arena_free(&o->arena);
    if (o->mreq)
        cairn__mutation_req__free_unpacked(o->mreq, NULL);
    mem_free(o);
}

static void px_op_free(struct px_op *o)
{
    struct px_op **pp = &o->px->tab[o->id % PX_TAB];

    while (*pp != o)
        pp = &(*pp)->next;
    *pp = o->next;
    uv_timer_stop(&o->timer);
    uv_close((uv_handle_t *)&o->timer, px_op_closed);
}

static void px_on_timer(uv_timer_t *t);

static struct px_op *px_op_new(struct proxy *p, struct call *c, int is_read)
{
    struct px_op *o = mem_calloc(MEM_SERVER, 1, sizeof(*o));

    if (!o)
        return NULL;
    o->px = p;
    o->id = ++p->next_id & 0xffffffffu;
    o->call = c;
    o->is_read = is_read;
    coord_acts_init(&o->acts);
    repl_arena_init(&o->arena);
    uv_timer_init(&p->loop, &o->timer);
    o->timer.data = o;
    o->next = p->tab[o->id % PX_TAB];
    p->tab[o->id % PX_TAB] = o;
    return o;
}

static void px_answer_error(struct px_op *o, const struct coord_act *a)
{
    char msg[256];
    const char *what = o->is_read ? "read" : "write";

    if (a->rc == CAIRN_ETIMEOUT)
        snprintf(msg, sizeof(msg),
                 "%s timed out: %d of %d required replicas answered%s", what,
                 a->acked, a->required,
                 a->unknown ? "; the write may or may not have been applied"
                            : "");
    else if (a->rc == CAIRN_EOVERLOADED)
        snprintf(msg, sizeof(msg),
                 "this coordinator holds too many requests or hints in "
                 "memory; retry later or through another node");
    else if (a->rc == CAIRN_EUNAVAILABLE)
        snprintf(msg, sizeof(msg),
                 "%s needs %d replicas but fewer are alive; nothing was "
                 "%s",
                 what, a->required, o->is_read ? "read" : "written");
    else
        snprintf(msg, sizeof(msg), "%s failed: %d of %d replicas answered",
                 what, a->acked, a->required);
    call_fail(o->call, a->rc, msg);
}

/* px_live -- the live part of a merged page, for the client's answer. */
static int px_live(struct repl_arena *a, const struct storage_partition *in,
                   struct storage_partition *out)
{
    int64_t now_s = clk_wall_us(clk_system()) / 1000000;
    struct storage_row *rows;

    *out = *in;
    out->nrows = 0;
    rows = repl_arena_alloc(a, (in->nrows + 1) * sizeof(*rows));
    if (!rows)
        return err_set(-ENOMEM, "proxy: no memory");
    out->rows = rows;
    for (size_t i = 0; i < in->nrows; i++) {
        const struct storage_row *r = &in->rows[i];
        struct storage_row *o = &rows[out->nrows];
        *o = *r;
        o->cells = repl_arena_alloc(a, (r->ncells + 1) * sizeof(*o->cells));
        if (!o->cells)
            return err_set(-ENOMEM, "proxy: no memory");
        o->ncells = 0;
        for (size_t j = 0; j < r->ncells; j++) {
            const struct storage_cell *c = &r->cells[j];
            if (c->tombstone || (c->expires_s && now_s >= c->expires_s))
                continue;
            o->cells[o->ncells++] = *c;
        }
        out->nrows += o->ncells > 0;
    }
    return 0;
}

static void px_answer_read(struct px_op *o)
{
    struct storage_result res;
    struct storage_partition live;
    int more, rc;
    const struct storage_partition *pg = coord_read_result(&o->r, &more);

    memset(&res, 0, sizeof(res));
    rc = px_live(&o->arena, pg, &live);
    if (rc == 0) {
        res.parts = &live;
        res.nparts = live.nrows ? 1 : 0;
        res.nrows = live.nrows;
        res.more = more && pg->nrows > 0;
        if (res.more)
            res.resume_ck = pg->rows[pg->nrows - 1].ck;
        rc = node_read_answer(o->call, &res, o->only_empty);
    }
    if (rc < 0)
        call_fail(o->call, rc, NULL);
}

static void px_done(struct px_op *o, const struct coord_act *a)
{
    if (o->answered)
        return;
    o->answered = 1;
    if (a->rc < 0)
        px_answer_error(o, a);
    else if (o->is_read)
        px_answer_read(o);
    else
        node_answer_ack(o->call);
    call_done(o->call);
}

static void px_hint_done(void *arg, int rc)
{
    struct px_item *it = arg;

    it->rc = rc;
    px_push(it->px, it);
}

/* ---- turning actions into I/O ---- */

static void px_fail_later(struct proxy *p, uint64_t req, int rc)
{
    struct px_item *it = px_item(PXI_SEND_FAIL);

    if (!it)
        return; /* the machine's deadline still ends the request */
    it->req = req;
    it->rc = rc;
    px_push(p, it);
}

static void px_send_write(struct px_op *o, const struct coord_act *a)
{
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;

    o->mreq->tag = a->tag;
    m.request_id = (o->id << 32) | a->tag;
    m.body_case = CAIRN__PEER_MESSAGE__BODY_MUTATION_REQ;
    m.mutation_req = o->mreq;
    if (px_send(o->px, &o->px->hosts[a->replica], &m, 1) < 0)
        px_fail_later(o->px, m.request_id, CAIRN_EUNAVAILABLE);
}

static ProtobufCBinaryData px_bin(struct storage_bytes b)
{
    return (ProtobufCBinaryData){b.n, (uint8_t *)b.p};
}

static void px_send_read(struct px_op *o, const struct coord_act *a)
{
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;
    Cairn__ReadReq q = CAIRN__READ_REQ__INIT;

    q.tag = a->tag;
    q.table_id = a->read.table_id;
    q.pkey = px_bin(a->read.pkey);
    q.ck_start = px_bin(a->read.ck_start);
    q.ck_end = px_bin(a->read.ck_end);
    q.after = px_bin(a->read.after);
    q.has_after = a->read.has_after;
    q.limit_rows = a->read.limit_rows;
    q.include_tombstones = 1;
    q.digest_only = a->digest_only;
    m.request_id = (o->id << 32) | a->tag;
    m.body_case = CAIRN__PEER_MESSAGE__BODY_READ_REQ;
    m.read_req = &q;
    if (px_send(o->px, &o->px->hosts[a->replica], &m, 1) < 0)
        px_fail_later(o->px, m.request_id, CAIRN_EUNAVAILABLE);
}

/* px_send_repair -- what a stale replica lacks, as one mutation batch. */
static void px_send_repair(struct px_op *o, const struct coord_act *a)
{
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;
    Cairn__MutationReq mr;
    struct storage_batch b = {.table_id = o->table_id, .pkey = a->part->pkey};
    struct storage_mut *muts;
    struct repl_arena ar;
    int rc;

    repl_arena_init(&ar);
    rc = repl_part_to_muts(&ar, a->part, &muts, &b.nmuts);
    b.muts = muts;
    rc = rc ? rc : repl_batch_to_pb(&ar, &b, a->tag, &mr);
    m.request_id = (o->id << 32) | a->tag;
    m.body_case = CAIRN__PEER_MESSAGE__BODY_MUTATION_REQ;
    m.mutation_req = &mr;
    if (rc || px_send(o->px, &o->px->hosts[a->replica], &m, 1) < 0)
        px_fail_later(o->px, m.request_id, rc ? rc : CAIRN_EUNAVAILABLE);
    repl_arena_free(&ar);
}

static void px_store_hint(struct px_op *o, const struct coord_act *a)
{
    struct proxy *p = o->px;
    struct px_item *it = px_item(PXI_HINT_DONE);
    size_t n;
    uint8_t *buf;
    int rc;

    o->mreq->tag = 0; /* before sizing: the size depends on it */
    n = cairn__mutation_req__get_packed_size(o->mreq);
    buf = mem_alloc(MEM_SERVER, n ? n : 1);
    rc = it && buf ? 0 : err_set(-ENOMEM, "proxy: no memory");

    if (it) {
        it->px = p;
        it->req = o->id;
        it->replica = a->replica;
    }
    /* Hints wait for the disk in memory: bounded like requests (C23). */
    rc = rc ? rc : coord_admit_hint(&p->admit, n);
    if (!rc)
        it->hint_bytes = n;
    if (!rc) {
        cairn__mutation_req__pack(o->mreq, buf);
        rc = hints_store(p->hints, p->hosts[a->replica].b, o->gc_grace_s, buf,
                         n, px_hint_done, it);
    }
    mem_free(buf);
    if (rc && it) {
        it->rc = rc;
        px_push(p, it);
    }
}

/*
 * px_arm -- the machine wants a timer call at `at_ns`. One uv timer per
 * operation serves every request: it is set to the earliest time asked
 * for, and px_on_timer sets it again for the latest (the deadline), so
 * a speculative timer never hides the deadline.
 */
static void px_arm(struct px_op *o, int64_t at_ns)
{
    int64_t wait = at_ns - px_now();
    uint64_t ms = wait > 0 ? (uint64_t)((wait + 999999) / 1000000) : 0;

    if (at_ns > o->last_at)
        o->last_at = at_ns;
    if (o->timer_at && o->timer_at <= at_ns)
        return;
    o->timer_at = at_ns;
    uv_timer_start(&o->timer, px_on_timer, ms, 0);
}

static int px_finished(const struct px_op *o)
{
    return o->is_read ? coord_read_finished(&o->r)
                      : coord_write_finished(&o->w);
}

/* px_run -- carry out the actions the machine just returned. */
static void px_run(struct px_op *o)
{
    for (size_t i = 0; i < o->acts.n; i++) {
        const struct coord_act *a = &o->acts.v[i];
        switch (a->kind) {
        case COORD_ACT_SEND_WRITE:
            px_send_write(o, a);
            break;
        case COORD_ACT_SEND_READ:
            px_send_read(o, a);
            break;
        case COORD_ACT_SEND_REPAIR:
            px_send_repair(o, a);
            break;
        case COORD_ACT_HINT:
            px_store_hint(o, a);
            break;
        case COORD_ACT_TIMER:
            px_arm(o, a->at_ns);
            break;
        case COORD_ACT_DONE:
            px_done(o, a);
            break;
        }
    }
    coord_acts_clear(&o->acts);
    if (o->answered && px_finished(o))
        px_op_free(o);
}

/* px_step -- after a machine call: its failure ends the request. */
static void px_step(struct px_op *o, int rc)
{
    if (rc < 0 && !o->answered) {
        struct coord_act a = {.kind = COORD_ACT_DONE, .rc = rc};
        coord_acts_clear(&o->acts);
        px_done(o, &a);
        px_op_free(o);
        return;
    }
    px_run(o);
}

static void px_on_timer(uv_timer_t *t)
{
    struct px_op *o = t->data;
    int64_t now = px_now();
    int rc;

    o->timer_at = 0;
    rc = o->is_read ? coord_read_on_timer(&o->r, now, &o->acts)
                    : coord_write_on_timer(&o->w, now, &o->acts);
    if (!rc && o->last_at > now) {
        struct coord_act a = {.kind = COORD_ACT_TIMER, .at_ns = o->last_at};
        rc = coord_acts_push(&o->acts, &a);
    }
    px_step(o, rc);
}

/* ---- starting requests ---- */

static enum coord_cl px_cl(Cairn__Consistency c)
{
    switch (c) {
    case CAIRN__CONSISTENCY__CL_ANY:
        return COORD_CL_ANY;
    case CAIRN__CONSISTENCY__CL_ONE:
        return COORD_CL_ONE;
    case CAIRN__CONSISTENCY__CL_TWO:
        return COORD_CL_TWO;
    case CAIRN__CONSISTENCY__CL_THREE:
        return COORD_CL_THREE;
    case CAIRN__CONSISTENCY__CL_ALL:
        return COORD_CL_ALL;
    default:
        return COORD_CL_QUORUM; /* the default of a cluster */
    }
}

static int64_t px_timeout(const struct call *c, uint32_t cfg_ms)
{
    int64_t t = c->timeout_ns ? c->timeout_ns : (int64_t)cfg_ms * 1000000;

    /* Answer before the connection's own sweep, with the replica count. */
    return t - t / 20;
}

/* px_batch -- the client's write as a batch with every time fixed. */
static int px_batch(struct proxy *p, struct px_op *o, const Cairn__Write *w,
                    const struct schema_table *t, struct storage_batch *b)
{
    int64_t ts = node_timestamp(p->node);
    int64_t now_us = clk_wall_us(clk_system());
    struct storage_mut *m =
        repl_arena_alloc(&o->arena, (w->n_mutations + 1) * sizeof(*m));

    if (!m)
        return err_set(-ENOMEM, "proxy: no memory");
    for (size_t i = 0; i < w->n_mutations; i++) {
        const Cairn__Mutation *x = w->mutations[i];
        if (x->timestamp > now_us + PX_MAX_FUTURE_US)
            return err_set(-EINVAL,
                           "mutation %zu: timestamp %lld is more than 60 s "
                           "ahead of this node's clock",
                           i, (long long)x->timestamp);
        m[i].kind = (enum storage_mut_kind)x->kind;
        m[i].ck = (struct storage_bytes){x->ck.data, x->ck.len};
        m[i].ck_end = (struct storage_bytes){x->ck_end.data, x->ck_end.len};
        m[i].column = (struct storage_bytes){x->column.data, x->column.len};
        m[i].value = (struct storage_bytes){x->value.data, x->value.len};
        m[i].ts = x->timestamp ? x->timestamp : ts;
        m[i].ttl_s = x->ttl_s;
    }
    repl_batch_fix_times(m, w->n_mutations, now_us / 1000000,
                         t->opts.default_ttl_s);
    *b = (struct storage_batch){
        t->id, {w->pkey.data, w->pkey.len}, m, w->n_mutations};
    return 0;
}

/* px_own_mreq -- the op's own copy of the mutation (outlives the call). */
static int px_own_mreq(struct px_op *o, const struct storage_batch *b)
{
    Cairn__MutationReq tmp;
    uint8_t *buf;
    size_t n;
    int rc = repl_batch_to_pb(&o->arena, b, 0, &tmp);

    if (rc)
        return rc;
    n = cairn__mutation_req__get_packed_size(&tmp);
    buf = mem_alloc(MEM_SERVER, n ? n : 1);
    if (!buf)
        return err_set(-ENOMEM, "proxy: no memory");
    cairn__mutation_req__pack(&tmp, buf);
    o->mreq = cairn__mutation_req__unpack(NULL, n, buf);
    mem_free(buf);
    return o->mreq ? 0 : err_set(-ENOMEM, "proxy: no memory");
}

static int px_targets(struct proxy *p, const struct clsnap *s, int64_t token,
                      uint32_t rf, struct coord_target *t, int *n)
{
    struct ring_host_id ids[COORD_MAX_TARGETS];
    size_t cnt, natural = tokens_snap_node_count(s->ring);
    int rc = tokens_snap_write_replicas(s->ring, token, rf, ids,
                                        COORD_MAX_TARGETS, &cnt);

    if (rc)
        return rc;
    natural = natural < rf ? natural : rf;
    for (size_t i = 0; i < cnt; i++) {
        int h = px_host(p, &ids[i]);
        if (h < 0)
            return err_set(CAIRN_EOVERLOADED, "proxy: too many nodes");
        t[i] = (struct coord_target){.replica = h,
                                     .pending = i >= natural,
                                     .alive = px_alive(p, s, &ids[i])};
    }
    *n = (int)cnt;
    return 0;
}

static int px_write(struct proxy *p, struct px_op *o, const struct clsnap *s)
{
    const Cairn__Write *w = o->call->req->write;
    struct coord_target t[COORD_MAX_TARGETS];
    struct coord_write_params wp;
    struct schema_table tab;
    struct storage_batch b;
    uint32_t rf;
    int n = 0, rc = schema_table(p->sc, w->keyspace, w->table, &tab, &rf);

    rc = rc ? rc : px_batch(p, o, w, &tab, &b);
    rc = rc ? rc : px_own_mreq(o, &b);
    rc = rc ? rc
            : px_targets(p, s, token_of(w->pkey.data, w->pkey.len), rf, t, &n);
    if (rc)
        return rc;
    o->gc_grace_s = tab.opts.gc_grace_s;
    o->table_id = tab.id;
    wp = (struct coord_write_params){
        .cl = px_cl(o->call->req->consistency),
        .rf = (int)rf,
        .targets = t,
        .ntargets = n,
        .timeout_ns = px_timeout(o->call, p->cfg->write_timeout_ms),
        .hints = p->hints != NULL,
        .hint_window_ns =
            (tab.opts.gc_grace_s < 3 * 3600 ? (int64_t)tab.opts.gc_grace_s
                                            : 3 * 3600LL) *
            1000000000LL,
    };
    return coord_write_start(&o->w, &wp, px_now(), &o->acts);
}

/*
 * px_self_first -- put this node first among the replicas: the machine
 * orders them by observed latency, stably, so before any sample (and on
 * ties) the local replica, which costs no network hop, is asked for data.
 */
static void px_self_first(struct proxy *p, int *reps, uint8_t *alive, int n)
{
    for (int i = 1; i < n; i++) {
        if (!ring_host_id_eq(&p->hosts[reps[i]], &p->self))
            continue;
        int r = reps[i];
        uint8_t a = alive[i];
        memmove(reps + 1, reps, (size_t)i * sizeof(*reps));
        memmove(alive + 1, alive, (size_t)i);
        reps[0] = r;
        alive[0] = a;
    }
}

static int px_read(struct proxy *p, struct px_op *o, const struct clsnap *s)
{
    const Cairn__Read *rq = o->call->req->read;
    struct coord_read_params rp;
    struct schema_table tab;
    struct storage_read sr;
    int reps[COORD_MAX_TARGETS];
    uint8_t alive[COORD_MAX_TARGETS];
    size_t idx[COORD_MAX_TARGETS], n = 0;
    uint32_t rf;
    int rc = schema_table(p->sc, rq->keyspace, rq->table, &tab, &rf);

    if (!rc && rf > COORD_MAX_TARGETS)
        rc = err_set(-EINVAL, "replication factor %u is over %d", rf,
                     COORD_MAX_TARGETS);
    rc = rc ? rc
            : tokens_snap_replicas(
                  s->ring, token_of(rq->pkey.data, rq->pkey.len), rf, idx, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        const struct ring_host_id *id =
            tokens_snap_node(s->ring, idx[i], NULL, NULL, NULL);
        reps[i] = px_host(p, id);
        alive[i] = (uint8_t)px_alive(p, s, id);
        if (reps[i] < 0)
            rc = err_set(CAIRN_EOVERLOADED, "proxy: too many nodes");
    }
    if (rc)
        return rc;
    px_self_first(p, reps, alive, (int)n);
    node_read_prepare(p->node, rq, &sr, &o->only_empty);
    sr.table_id = tab.id;
    sr.include_tombstones = 1;
    o->table_id = tab.id;
    rp = (struct coord_read_params){
        .cl = px_cl(o->call->req->consistency),
        .rf = (int)rf,
        .replicas = reps,
        .alive = alive,
        .nreplicas = (int)n,
        .query = sr,
        .timeout_ns = px_timeout(o->call, p->cfg->read_timeout_ms),
        .spec_default_ns = p->cfg->spec_retry_ms
                               ? (int64_t)p->cfg->spec_retry_ms * 1000000
                               : -1,
        .repair_slice_rows = PX_SLICE_ROWS,
        .read_repair = p->cfg->read_repair,
        .snitch = &p->snitch,
    };
    return coord_read_start(&o->r, &rp, px_now(), &o->acts);
}

static void px_call(struct proxy *p, struct call *c)
{
    int is_read = c->req->op_case == CAIRN__REQUEST__OP_READ;
    struct clsnap *s = clsnap_get(cluster_pub(p->cl));
    struct px_op *o = px_op_new(p, c, is_read);
    int rc;

    err_clear();
    if (!o) {
        clsnap_put(s);
        call_fail(c, -ENOMEM, "proxy: no memory");
        call_done(c);
        return;
    }
    rc =
        coord_admit_request(&p->admit, cairn__request__get_packed_size(c->req));
    if (rc == 0) {
        o->admitted = cairn__request__get_packed_size(c->req);
        o->has_admit = 1;
    } else if (!s || !s->ring)
        rc = err_set(CAIRN_EUNAVAILABLE, "no ring known yet");
    if (rc == 0)
        rc = is_read ? px_read(p, o, s) : px_write(p, o, s);
    clsnap_put(s);
    px_step(o, rc);
}

/* ---- replies ---- */

/* px_wake -- hand an answer (or a failure) to its waiting thread. */
static void px_wake(struct proxy *p, uint64_t req, int rc, const uint8_t *bytes,
                    size_t n)
{
    uv_mutex_lock(&p->mu);
    for (int i = 0; i < PX_MAX_WAIT; i++) {
        struct px_wait *w = &p->hw[i];
        if (!w->busy || w->req != req || w->got)
            continue;
        w->got = 1;
        w->rc = rc;
        if (bytes && (w->bytes = mem_alloc(MEM_SERVER, n ? n : 1)) != NULL) {
            memcpy(w->bytes, bytes, n);
            w->n = n;
        } else if (!rc) {
            w->rc = err_set(-ENOMEM, "proxy: no memory");
        }
    }
    uv_cond_broadcast(&p->cv);
    uv_mutex_unlock(&p->mu);
}

static void px_reply(struct proxy *p, uint64_t req, int rc,
                     const struct storage_partition *data, uint64_t digest,
                     int more)
{
    struct px_op *o;
    uint32_t tag = (uint32_t)req;

    if (req & PX_SYNC_BIT) {
        px_wake(p, req, rc, NULL, 0);
        return;
    }
    o = px_op_find(p, req >> 32);
    if (!o)
        return; /* late: the request is over */
    if (o->is_read)
        rc = coord_read_on_reply(&o->r, tag, rc, data, digest, more, px_now(),
                                 &o->acts);
    else
        rc = coord_write_on_reply(&o->w, tag, rc, &o->acts);
    px_step(o, rc);
}

/*
 * px_peer_lost -- what went to host `id` on a connection now lost will
 * never be answered: fail every such request of every operation at
 * once, so reads go to a spare replica and writes count the miss and
 * hint it, instead of waiting for their deadline.
 */
static void px_peer_lost(struct proxy *p, const struct ring_host_id *id)
{
    uint32_t tags[3 * COORD_MAX_TARGETS];
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int h = -1, k;

    for (int i = 0; i < p->nhosts; i++)
        if (ring_host_id_eq(&p->hosts[i], id))
            h = i;
    if (h < 0 || ring_host_id_eq(id, &p->self))
        return;
    /* Operation ids first: failing a request may free its operation. */
    for (size_t b = 0; b < PX_TAB; b++) {
        for (struct px_op *o = p->tab[b]; o; o = o->next) {
            if (n == cap) {
                uint64_t *v = mem_realloc(MEM_SERVER, ids,
                                          (cap ? cap * 2 : 64) * sizeof(*v));
                if (!v)
                    break; /* the rest still end at their deadline */
                ids = v;
                cap = cap ? cap * 2 : 64;
            }
            ids[n++] = o->id;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct px_op *o = px_op_find(p, ids[i]);
        if (!o)
            continue;
        k = o->is_read
                ? coord_read_outstanding(&o->r, h, tags, 3 * COORD_MAX_TARGETS)
                : coord_write_outstanding(&o->w, h, tags,
                                          3 * COORD_MAX_TARGETS);
        for (int j = 0; j < k; j++)
            px_reply(p, (ids[i] << 32) | tags[j], CAIRN_EUNAVAILABLE, NULL, 0,
                     0);
    }
    mem_free(ids);
}

static void px_read_resp(struct proxy *p, const Cairn__PeerMessage *m)
{
    const Cairn__ReadResp *r = m->read_resp;
    struct storage_partition part, *data = NULL;
    struct repl_arena a;
    int rc = r->code;

    repl_arena_init(&a);
    if (!rc && r->part) {
        rc = repl_part_from_pb(&a, r->part, &part);
        data = rc ? NULL : &part;
    }
    px_reply(p, m->request_id, rc, data, r->digest, r->more);
    repl_arena_free(&a);
}

static void px_hint_item(struct proxy *p, const struct px_item *it)
{
    struct px_op *o = px_op_find(p, it->req);

    coord_admit_hint_done(&p->admit, it->hint_bytes);
    if (!o || o->is_read)
        return;
    px_step(o, coord_write_on_hint(&o->w, it->replica, it->rc, &o->acts));
}

/* ---- the replica side ---- */

struct px_apply {
    struct proxy *p;
    struct ring_host_id to;
    uint64_t req;
    uint32_t tag;
};

static void px_applied(void *arg, int rc)
{
    struct px_apply *x = arg;
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;
    Cairn__MutationAck ack = CAIRN__MUTATION_ACK__INIT;
    struct proxy *p = x->p;

    ack.tag = x->tag;
    ack.code = rc;
    ack.message = (char *)(rc ? err_msg() : "");
    m.request_id = x->req;
    m.is_reply = 1;
    m.body_case = CAIRN__PEER_MESSAGE__BODY_MUTATION_ACK;
    m.mutation_ack = &ack;
    px_send(p, &x->to, &m, 0);
    mem_free(x);
    atomic_fetch_sub(&p->applies, 1);
}

static void px_apply(struct proxy *p, const struct ring_host_id *from,
                     const Cairn__PeerMessage *m)
{
    struct px_apply *x = mem_alloc(MEM_SERVER, sizeof(*x));
    int rc;

    if (!x)
        return; /* no answer: the coordinator times out or hints */
    *x = (struct px_apply){p, *from, m->request_id, m->mutation_req->tag};
    atomic_fetch_add(&p->applies, 1);
    rc = replica_apply(p->st, m->mutation_req, px_applied, x);
    if (rc)
        px_applied(x, rc);
}

struct px_rwork {
    uv_work_t work;
    struct proxy *p;
    struct ring_host_id from;
    Cairn__PeerMessage *m;
};

/* px_merkle -- this replica's Merkle tree of a range, for repair. */
static int px_merkle(struct storage *st, const Cairn__MerkleReq *q,
                     struct repl_arena *a, Cairn__MerkleResp *out)
{
    struct merkle m;
    size_t nl;
    int rc;

    cairn__merkle_resp__init(out);
    out->tag = q->tag;
    out->token_start = q->token_start;
    out->token_end = q->token_end;
    out->depth = q->depth;
    rc = merkle_build(st, q->table_id, q->token_start, q->token_end,
                      (int)q->depth, &m);
    if (rc) {
        out->code = rc;
        out->message = (char *)"merkle tree failed";
        return 0;
    }
    nl = (size_t)1 << m.depth;
    out->leaves = repl_arena_alloc(a, nl * sizeof(*out->leaves));
    out->leaf_parts = repl_arena_alloc(a, nl * sizeof(*out->leaf_parts));
    if (out->leaves && out->leaf_parts) {
        memcpy(out->leaves, m.node + nl, nl * sizeof(*out->leaves));
        memcpy(out->leaf_parts, m.parts, nl * sizeof(*out->leaf_parts));
        out->n_leaves = out->n_leaf_parts = nl;
    }
    merkle_free(&m);
    return out->leaves && out->leaf_parts
               ? 0
               : err_set(-ENOMEM, "proxy: no memory");
}

static void px_rwork_run(uv_work_t *w)
{
    struct px_rwork *x = w->data;
    Cairn__PeerMessage out = CAIRN__PEER_MESSAGE__INIT;
    Cairn__ReadResp rr;
    Cairn__RangeReadResp rg;
    Cairn__MerkleResp mk;
    struct repl_arena a;
    int rc;

    repl_arena_init(&a);
    out.request_id = x->m->request_id;
    out.is_reply = 1;
    if (x->m->body_case == CAIRN__PEER_MESSAGE__BODY_MERKLE_REQ) {
        rc = px_merkle(x->p->st, x->m->merkle_req, &a, &mk);
        out.body_case = CAIRN__PEER_MESSAGE__BODY_MERKLE_RESP;
        out.merkle_resp = &mk;
    } else if (x->m->body_case == CAIRN__PEER_MESSAGE__BODY_READ_REQ) {
        rc = replica_read(x->p->st, x->m->read_req, &a, &rr);
        out.body_case = CAIRN__PEER_MESSAGE__BODY_READ_RESP;
        out.read_resp = &rr;
    } else {
        rc = replica_range_read(x->p->st, x->m->range_read_req, &a, &rg);
        out.body_case = CAIRN__PEER_MESSAGE__BODY_RANGE_READ_RESP;
        out.range_read_resp = &rg;
    }
    if (rc == 0)
        px_send(x->p, &x->from, &out, 0);
    repl_arena_free(&a);
}

static void px_rwork_after(uv_work_t *w, int status)
{
    struct px_rwork *x = w->data;

    (void)status;
    cairn__peer_message__free_unpacked(x->m, NULL);
    mem_free(x);
}

/* px_serve_read -- answer a read from the worker pool; takes `m`. */
static void px_serve_read(struct proxy *p, const struct ring_host_id *from,
                          Cairn__PeerMessage *m)
{
    struct px_rwork *x = mem_calloc(MEM_SERVER, 1, sizeof(*x));

    if (x) {
        x->work.data = x;
        x->p = p;
        x->from = *from;
        x->m = m;
    }
    if (!x ||
        uv_queue_work(&p->loop, &x->work, px_rwork_run, px_rwork_after) < 0) {
        mem_free(x);
        cairn__peer_message__free_unpacked(m, NULL);
    }
}

/* ---- the loop ---- */

static void px_msg(struct proxy *p, const struct px_item *it)
{
    Cairn__PeerMessage *m = cairn__peer_message__unpack(NULL, it->n, it->bytes);

    if (!m) {
        log_warn("proxy", "undecodable replication message dropped");
        return;
    }
    if (m->is_reply && (m->request_id & PX_SYNC_BIT)) {
        px_wake(p, m->request_id, 0, it->bytes, it->n);
        cairn__peer_message__free_unpacked(m, NULL);
        return;
    }
    switch (m->body_case) {
    case CAIRN__PEER_MESSAGE__BODY_MUTATION_REQ:
        px_apply(p, &it->from, m);
        break;
    case CAIRN__PEER_MESSAGE__BODY_READ_REQ:
    case CAIRN__PEER_MESSAGE__BODY_RANGE_READ_REQ:
    case CAIRN__PEER_MESSAGE__BODY_MERKLE_REQ:
        px_serve_read(p, &it->from, m);
        return; /* the work owns m */
    case CAIRN__PEER_MESSAGE__BODY_MUTATION_ACK:
        px_reply(p, m->request_id, m->mutation_ack->code, NULL, 0, 0);
        break;
    case CAIRN__PEER_MESSAGE__BODY_READ_RESP:
        px_read_resp(p, m);
        break;
    default:
        break;
    }
    cairn__peer_message__free_unpacked(m, NULL);
}

static void px_item_run(struct proxy *p, struct px_item *it)
{
    switch (it->kind) {
    case PXI_CALL:
        px_call(p, it->call);
        break;
    case PXI_MSG:
        px_msg(p, it);
        break;
    case PXI_SEND_FAIL:
        px_reply(p, it->req, it->rc, NULL, 0, 0);
        break;
    case PXI_HINT_DONE:
        px_hint_item(p, it);
        break;
    case PXI_PEER_LOST:
        px_peer_lost(p, &it->from);
        break;
    }
    mem_free(it->bytes);
    mem_free(it);
}

static void px_shutdown(struct proxy *p);

static void px_on_async(uv_async_t *a)
{
    struct proxy *p = a->data;
    struct px_item *it;
    int stop;

    uv_mutex_lock(&p->mu);
    it = p->head;
    p->head = p->tail = NULL;
    stop = p->stop;
    uv_mutex_unlock(&p->mu);
    while (it) {
        struct px_item *next = it->next;
        px_item_run(p, it);
        it = next;
    }
    if (stop)
        px_shutdown(p);
}

/* ---- synchronous calls (other threads) ---- */

static struct px_wait *px_wait_take(struct proxy *p, uint64_t *req)
{
    struct px_wait *w = NULL;

    uv_mutex_lock(&p->mu);
    for (int i = 0; !w && i < PX_MAX_WAIT; i++)
        if (!p->hw[i].busy)
            w = &p->hw[i];
    if (w) {
        memset(w, 0, sizeof(*w));
        w->busy = 1;
        w->req = *req = PX_SYNC_BIT | ++p->next_sync;
    }
    uv_mutex_unlock(&p->mu);
    return w;
}

int proxy_call(struct proxy *p, const struct ring_host_id *to,
               Cairn__PeerMessage *req, Cairn__PeerMessage **resp)
{
    uint64_t deadline = uv_hrtime() + PX_CALL_WAIT_NS;
    struct px_wait *w = px_wait_take(p, &req->request_id);
    int rc;

    *resp = NULL;
    if (!w)
        return err_set(CAIRN_EOVERLOADED, "proxy: too many waiting calls");
    req->is_reply = 0;
    rc = px_send(p, to, req, 1);
    uv_mutex_lock(&p->mu);
    while (!rc && !w->got && !p->stop && uv_hrtime() < deadline)
        uv_cond_timedwait(&p->cv, &p->mu, deadline - uv_hrtime());
    if (!rc)
        rc = w->got    ? w->rc
             : p->stop ? err_set(CAIRN_ECLOSED, "the node is shutting down")
                       : err_set(CAIRN_ETIMEOUT, "a peer did not answer");
    if (!rc && !(*resp = cairn__peer_message__unpack(NULL, w->n, w->bytes)))
        rc = err_set(CAIRN_EPROTO, "undecodable answer from a peer");
    mem_free(w->bytes);
    w->bytes = NULL;
    w->busy = 0;
    uv_mutex_unlock(&p->mu);
    return rc;
}

/* ---- hint replay ---- */

struct px_replay {
    struct proxy *p;
    int host;
};

/* px_deliver -- send one hint and wait for its acknowledgement. */
static int px_deliver(void *arg, const uint8_t *msg, size_t n)
{
    struct px_replay *r = arg;
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT, *resp = NULL;
    int rc;

    m.mutation_req = cairn__mutation_req__unpack(NULL, n, msg);
    if (!m.mutation_req) {
        /* Not a mutation: no replica could ever apply it. */
        log_error("proxy", "undecodable hint dropped bytes=%zu", n);
        return 0;
    }
    m.body_case = CAIRN__PEER_MESSAGE__BODY_MUTATION_REQ;
    rc = proxy_call(r->p, &r->p->hosts[r->host], &m, &resp);
    cairn__mutation_req__free_unpacked(m.mutation_req, NULL);
    if (!rc && resp->body_case != CAIRN__PEER_MESSAGE__BODY_MUTATION_ACK)
        rc = err_set(CAIRN_EPROTO, "hint answered with another message");
    if (!rc)
        rc = resp->mutation_ack->code;
    if (resp)
        cairn__peer_message__free_unpacked(resp, NULL);
    log_debug("proxy", "hint delivered host=%d rc=%d", r->host, rc);
    return rc;
}

static void px_replay_run(uv_work_t *w)
{
    struct px_replay r = {w->data,
                          (int)(w - ((struct proxy *)w->data)->replay_work)};
    int rc = hints_replay(r.p->hints, r.p->hosts[r.host].b, px_deliver, &r);

    if (rc)
        log_info("proxy", "hint replay paused rc=%s", err_name(rc));
}

static void px_replay_after(uv_work_t *w, int status)
{
    struct proxy *p = w->data;

    (void)status;
    p->replaying[w - p->replay_work] = 0;
}

static void px_on_tick(uv_timer_t *t)
{
    struct proxy *p = t->data;
    struct clsnap *s = clsnap_get(cluster_pub(p->cl));

    for (size_t i = 0; s && p->hints && i < s->nnodes; i++) {
        const struct clsnap_node *nd = &s->nodes[i];
        int h;
        if (!nd->alive || ring_host_id_eq(&nd->id, &p->self) ||
            hints_pending(p->hints, nd->id.b) == 0)
            continue;
        h = px_host(p, &nd->id);
        if (h < 0 || p->replaying[h])
            continue;
        p->replaying[h] = 1;
        p->replay_work[h].data = p;
        if (uv_queue_work(&p->loop, &p->replay_work[h], px_replay_run,
                          px_replay_after) < 0)
            p->replaying[h] = 0;
        else
            log_info("proxy", "replaying hints to a node back up pending=%llu",
                     (unsigned long long)hints_pending(p->hints, nd->id.b));
    }
    clsnap_put(s);
}

/* ---- start and stop ---- */

static void px_shutdown(struct proxy *p)
{
    struct coord_act a = {.kind = COORD_ACT_DONE, .rc = CAIRN_ECLOSED};

    for (int i = 0; i < PX_TAB; i++)
        while (p->tab[i]) {
            struct px_op *o = p->tab[i];
            px_done(o, &a);
            px_op_free(o);
        }
    uv_close((uv_handle_t *)&p->async, NULL);
    uv_close((uv_handle_t *)&p->tick, NULL);
}

static void px_main(void *arg)
{
    struct proxy *p = arg;

    uv_run(&p->loop, UV_RUN_DEFAULT);
}

static void px_on_peer(struct peer *pe, const struct ring_host_id *from,
                       const Cairn__PeerMessage *m, void *arg)
{
    (void)pe;
    px_post_msg(arg, from, m);
}

/* px_on_lost -- on the cluster loop: hand the loss to the proxy loop. */
static void px_on_lost(struct peer *pe, const struct ring_host_id *id,
                       void *arg)
{
    struct px_item *it = px_item(PXI_PEER_LOST);

    (void)pe;
    if (!it)
        return; /* the requests still end at their deadlines */
    it->from = *id;
    px_push(arg, it);
}

static const int px_bodies[] = {
    CAIRN__PEER_MESSAGE__BODY_MUTATION_REQ,
    CAIRN__PEER_MESSAGE__BODY_MUTATION_ACK,
    CAIRN__PEER_MESSAGE__BODY_READ_REQ,
    CAIRN__PEER_MESSAGE__BODY_READ_RESP,
    CAIRN__PEER_MESSAGE__BODY_RANGE_READ_REQ,
    CAIRN__PEER_MESSAGE__BODY_RANGE_READ_RESP,
    CAIRN__PEER_MESSAGE__BODY_MERKLE_REQ,
    CAIRN__PEER_MESSAGE__BODY_MERKLE_RESP,
};

#define PX_NBODIES (sizeof(px_bodies) / sizeof(px_bodies[0]))

static int px_init_loop(struct proxy *p)
{
    int rc = uv_loop_init(&p->loop);

    if (rc < 0)
        return err_set(-ENOMEM, "proxy: loop: %s", uv_strerror(rc));
    uv_async_init(&p->loop, &p->async, px_on_async);
    p->async.data = p;
    uv_timer_init(&p->loop, &p->tick);
    p->tick.data = p;
    uv_timer_start(&p->tick, px_on_tick, PX_TICK_MS, PX_TICK_MS);
    uv_mutex_init(&p->mu);
    uv_cond_init(&p->cv);
    return 0;
}

int proxy_start(const struct config *cfg, struct node *node, struct cluster *cl,
                struct hints *hints, struct proxy **out)
{
    struct proxy *p = mem_calloc(MEM_SERVER, 1, sizeof(*p));
    int rc;

    *out = NULL;
    if (!p)
        return err_set(-ENOMEM, "proxy: no memory");
    p->cfg = cfg;
    p->node = node;
    p->st = node_storage(node);
    p->sc = node_schema(node);
    p->cl = cl;
    p->peer = cluster_peer(cl);
    p->hints = hints;
    p->self = *peer_self(p->peer);
    coord_snitch_init(&p->snitch, p->lat, PX_MAX_HOSTS);
    coord_admit_init(&p->admit, PX_MAX_INFLIGHT_BYTES, PX_MAX_INFLIGHT,
                     PX_MAX_HINT_BYTES);
    rc = px_init_loop(p);
    if (rc) {
        mem_free(p);
        return rc;
    }
    if (uv_thread_create(&p->thread, px_main, p) < 0) {
        uv_close((uv_handle_t *)&p->async, NULL);
        uv_close((uv_handle_t *)&p->tick, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        uv_loop_close(&p->loop);
        mem_free(p);
        return err_set(-ENOMEM, "proxy: cannot start its thread");
    }
    for (size_t i = 0; i < PX_NBODIES; i++)
        peer_on(p->peer, px_bodies[i], px_on_peer, p);
    peer_on_lost(p->peer, px_on_lost, p);
    *out = p;
    return 0;
}

static void px_scan_work(uv_work_t *w)
{
    struct call *c = w->data;
    struct proxy *p = c->handler;
    int rc;

    err_clear();
    rc = scan_ring(p->node, p, p->cl, c);
    if (rc < 0)
        call_fail(c, rc, NULL);
}

static void px_scan_after(uv_work_t *w, int status)
{
    struct call *c = w->data;

    if (status == UV_ECANCELED)
        call_fail(c, CAIRN_ECLOSED, "the node is shutting down");
    call_done(c);
}

int proxy_submit(struct proxy *p, struct call *c)
{
    struct clsnap *s;
    struct px_item *it;
    int many, op = c->req->op_case;

    if (op != CAIRN__REQUEST__OP_WRITE && op != CAIRN__REQUEST__OP_READ &&
        op != CAIRN__REQUEST__OP_SCAN)
        return 0;
    s = clsnap_get(cluster_pub(p->cl));
    many = s && s->nnodes > 1;
    clsnap_put(s);
    if (many && op == CAIRN__REQUEST__OP_SCAN) {
        /* Scans wait on peers: the worker pool of the client's loop. */
        c->handler = p;
        c->work.data = c;
        return uv_queue_work(srv_loop_uv(c->loop), &c->work, px_scan_work,
                             px_scan_after) == 0;
    }
    if (!many || (it = px_item(PXI_CALL)) == NULL)
        return 0;
    it->call = c;
    px_push(p, it);
    return 1;
}

void proxy_stop(struct proxy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < PX_NBODIES; i++)
        peer_on(p->peer, px_bodies[i], NULL, NULL);
    peer_on_lost(p->peer, NULL, NULL);
    uv_mutex_lock(&p->mu);
    p->stop = 1;
    uv_cond_broadcast(&p->cv);
    uv_mutex_unlock(&p->mu);
    uv_async_send(&p->async);
    uv_thread_join(&p->thread);
    while (atomic_load(&p->applies) > 0)
        uv_sleep(1);
    while (p->head) {
        struct px_item *it = p->head;
        p->head = it->next;
        if (it->kind == PXI_CALL) {
            call_fail(it->call, CAIRN_ECLOSED, "the node is shutting down");
            call_done(it->call);
        }
        mem_free(it->bytes);
        mem_free(it);
    }
    hints_close(p->hints); /* its last callbacks find the queue stopped */
    p->hints = NULL;
    uv_loop_close(&p->loop);
}

void proxy_free(struct proxy *p)
{
    if (!p)
        return;
    /* Whatever the transport delivered meanwhile was dropped by px_push. */
    while (p->head) {
        struct px_item *it = p->head;
        p->head = it->next;
        mem_free(it->bytes);
        mem_free(it);
    }
    uv_cond_destroy(&p->cv);
    uv_mutex_destroy(&p->mu);
    mem_free(p);
}
