/*
 * node.c -- single-node request handler (node.h).
 *
 * Request memory: the call owns the decoded request until call_done(), so
 * the byte strings handed to storage_apply() (which copies them) and the
 * names used by workers stay valid for as long as they are needed.
 */
#include "server/node.h"
#include "server/admin.h"
#include "server/cluster.h"

#include <stdatomic.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/token.h"
#include "server/loop.h"
#include "server/validate.h"

#define NODE_GC_GRACE_DEFAULT  864000   /* 10 days, as storage.h says */
#define NODE_PRESSURE_EVERY_NS 10000000 /* memtable pressure sampling */

struct node {
    const struct config *cfg;
    struct storage *st;
    struct schema *sc;
    atomic_int_fast64_t last_ts; /* last timestamp given, µs */
    atomic_int pressure;         /* memtables near their total limit */
    atomic_int_fast64_t pressure_checked_ns;
    uint64_t pressure_bytes; /* 90% of memtable_total_size_mb */
    uv_mutex_t drop_lock;    /* one pending-drop pass at a time */
    struct cluster *cluster; /* set once before the loops start */
    atomic_int drained;      /* `cairn drain` ran: data requests refused */
};

void node_set_drained(struct node *n)
{
    atomic_store(&n->drained, 1);
}

void node_set_cluster(struct node *n, struct cluster *c)
{
    n->cluster = c;
}

struct cluster *node_cluster(struct node *n)
{
    return n->cluster;
}

struct storage *node_storage(struct node *n)
{
    return n->st;
}

struct schema *node_schema(struct node *n)
{
    return n->sc;
}

/*
 * TODO: the high-water mark lives in memory only, so a wall clock stepped
 * back while the node was down can stamp writes below ones it stamped
 * before the restart (and lose to them). Persisting the mark needs a
 * durable write per period, which the schema file is not meant for.
 */
int64_t node_timestamp(struct node *n)
{
    int64_t now = clk_wall_us(clk_system());
    int_fast64_t last = atomic_load(&n->last_ts);

    for (;;) {
        int64_t next = now > last ? now : last + 1;
        if (atomic_compare_exchange_weak(&n->last_ts, &last, next))
            return next;
    }
}

/* node_finish_drops -- carry out drops the schema has and storage not. */
static int node_finish_drops(struct node *n)
{
    uint64_t *ids;
    size_t cnt;
    int rc;

    uv_mutex_lock(&n->drop_lock);
    rc = schema_pending_drops(n->sc, &ids, &cnt);
    for (size_t i = 0; rc == 0 && i < cnt; i++) {
        rc = storage_drop_table(n->st, ids[i]);
        if (rc == CAIRN_ENOTABLE)
            rc = 0; /* dropped before a crash lost the confirmation */
        if (rc == 0)
            rc = schema_drop_done(n->sc, ids[i]);
    }
    if (rc == 0)
        mem_free(ids);
    else if (cnt)
        mem_free(ids);
    uv_mutex_unlock(&n->drop_lock);
    return rc;
}

/* node_sync_tables -- every table of the schema exists in storage. */
static int node_sync_tables(struct node *n)
{
    struct schema_table *t;
    size_t cnt;
    int rc = schema_all_tables(n->sc, &t, &cnt);

    for (size_t i = 0; rc == 0 && i < cnt; i++)
        rc = storage_create_table(n->st, t[i].id, &t[i].opts);
    if (rc == 0 || cnt)
        mem_free(t);
    return rc;
}

int node_create(const struct config *cfg, struct storage *st, struct schema *sc,
                struct node **out)
{
    struct node *n = mem_calloc(MEM_SERVER, 1, sizeof(*n));
    int rc;

    *out = NULL;
    if (n == NULL)
        return err_set(-ENOMEM, "no memory for the node");
    n->cfg = cfg;
    n->st = st;
    n->sc = sc;
    atomic_store(&n->last_ts, 0);
    atomic_store(&n->pressure, 0);
    atomic_store(&n->pressure_checked_ns, 0);
    n->pressure_bytes = ((uint64_t)cfg->memtable_total_mb << 20) / 10 * 9;
    uv_mutex_init(&n->drop_lock);
    rc = node_finish_drops(n);
    if (rc == 0)
        rc = node_sync_tables(n);
    if (rc < 0) {
        node_destroy(n);
        return rc;
    }
    *out = n;
    return 0;
}

void node_destroy(struct node *n)
{
    if (n == NULL)
        return;
    uv_mutex_destroy(&n->drop_lock);
    mem_free(n);
}

static void node_ack(struct call *c)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__Ack ack = CAIRN__ACK__INIT;

    r.result_case = CAIRN__RESPONSE__RESULT_ACK;
    r.ack = &ack;
    call_answer(c, &r);
}

/* node_finish -- answer `c` with an ack or the error `rc`, and hand back. */
static void node_finish(struct call *c, int rc)
{
    if (rc < 0)
        call_fail(c, rc, NULL);
    else
        node_ack(c);
    call_done(c);
}

/* ---- writes ---- */

/* node_check_level -- can `cl` be met with one live replica of `rf`? */
static int node_check_level(const Cairn__Request *r, uint32_t rf, int is_write,
                            const char *ks)
{
    int need = validate_replicas_needed(r->consistency, rf, is_write);

    if (need < 0)
        return need;
    if (need > 1)
        return err_set(CAIRN_EUNAVAILABLE,
                       "consistency level needs %d "
                       "replicas of keyspace %s (rf %u) but 1 node is "
                       "alive; use ONE or add nodes",
                       need, ks, rf);
    return 0;
}

static void node_write_done(void *arg, int rc)
{
    struct call *c = arg;

    if (rc < 0)
        call_fail(c, rc, err_msg()[0] ? NULL : "write failed in storage");
    else
        node_ack(c);
    call_done(c);
}

static void node_fill_mut(struct node *n, const Cairn__Mutation *m,
                          struct storage_mut *sm, int64_t now_us)
{
    memset(sm, 0, sizeof(*sm));
    sm->kind = (enum storage_mut_kind)m->kind;
    sm->ck = (struct storage_bytes){m->ck.data, m->ck.len};
    sm->ck_end = (struct storage_bytes){m->ck_end.data, m->ck_end.len};
    sm->column = (struct storage_bytes){m->column.data, m->column.len};
    sm->value = (struct storage_bytes){m->value.data, m->value.len};
    sm->ts = m->timestamp ? m->timestamp : now_us;
    sm->ttl_s = m->ttl_s;
    sm->deleted_s = now_us / 1000000;
    (void)n;
}

/*
 * node_apply -- build the storage batch of `c`'s write to `table_id` and
 * apply it: asynchronously (answered by node_write_done) or, with `sync`,
 * waiting for durability on the calling worker thread.
 */
static int node_apply(struct node *n, struct call *c, uint64_t table_id,
                      int sync)
{
    const Cairn__Write *w = c->req->write;
    struct storage_batch b;
    struct storage_mut *muts;
    int64_t ts;
    int rc;

    muts = mem_calloc(MEM_SERVER, w->n_mutations, sizeof(*muts));
    if (muts == NULL)
        return err_set(-ENOMEM, "no memory for the write");
    ts = node_timestamp(n); /* one stamp: the batch is one event */
    for (size_t i = 0; i < w->n_mutations; i++)
        node_fill_mut(n, w->mutations[i], &muts[i], ts);
    b.table_id = table_id;
    b.pkey = (struct storage_bytes){w->pkey.data, w->pkey.len};
    b.muts = muts;
    b.nmuts = w->n_mutations;
    if (sync)
        rc = storage_apply_sync(n->st, &b);
    else
        rc = storage_apply(n->st, &b, node_write_done, c);
    mem_free(muts);
    return rc;
}

/*
 * node_under_pressure -- are memtables near the point where
 * storage_apply() waits for a flush? Sampled at most every 10 ms, so the
 * check costs nothing per write; a write that would wait is sent to the
 * worker pool, never left to block an event loop.
 */
static int node_under_pressure(struct node *n)
{
    int64_t now = clk_mono_ns(clk_system());
    int_fast64_t last = atomic_load(&n->pressure_checked_ns);
    struct storage_stats st;

    if (now - last > NODE_PRESSURE_EVERY_NS &&
        atomic_compare_exchange_strong(&n->pressure_checked_ns, &last, now) &&
        storage_get_stats(n->st, 0, &st) == 0)
        atomic_store(&n->pressure,
                     st.memtable_bytes >= n->pressure_bytes || st.read_only);
    return atomic_load(&n->pressure);
}

static void node_queue(struct node *n, struct call *c, uv_loop_t *loop);

static void node_write(struct node *n, struct call *c)
{
    const Cairn__Write *w = c->req->write;
    struct schema_table t;
    uint32_t rf;
    int rc;

    rc = schema_table(n->sc, w->keyspace, w->table, &t, &rf);
    if (rc == 0)
        rc = node_check_level(c->req, rf, 1, w->keyspace);
    if (rc < 0)
        return node_finish(c, rc);
    if (node_under_pressure(n)) {
        metrics_deferred_write();
        c->handler = n;
        c->handler_arg = t.id;
        return node_queue(n, c, srv_loop_uv(c->loop));
    }
    rc = node_apply(n, c, t.id, 0);
    if (rc < 0)
        node_finish(c, rc);
}

/* ---- schema changes (on the worker pool) ---- */

static int node_create_table(struct node *n, const Cairn__CreateTable *ct)
{
    struct storage_table_options o = {NODE_GC_GRACE_DEFAULT, 0, 1};
    uint64_t id = 0;
    int created, rc;

    if (ct->options) {
        if (ct->options->gc_grace_s)
            o.gc_grace_s = ct->options->gc_grace_s;
        o.default_ttl_s = ct->options->default_ttl_s;
        o.compression = !ct->options->no_compression;
    }
    rc = schema_create_table(n->sc, ct->keyspace, ct->name, &o,
                             ct->if_not_exists, &id, &created);
    if (rc < 0 || !created)
        return rc;
    rc = storage_create_table(n->st, id, &o);
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof(why), "%s", err_msg());
        schema_drop_table(n->sc, ct->keyspace, ct->name, 1);
        node_finish_drops(n);
        return err_set(rc, "%s", why);
    }
    log_info("schema", "created table %s.%s id=%llu", ct->keyspace, ct->name,
             (unsigned long long)id);
    return 0;
}

static int node_ddl(struct node *n, const Cairn__Request *r)
{
    int rc;

    switch (r->op_case) {
    case CAIRN__REQUEST__OP_CREATE_KEYSPACE:
        rc = schema_create_keyspace(n->sc, r->create_keyspace->name,
                                    r->create_keyspace->replication_factor,
                                    r->create_keyspace->if_not_exists);
        return rc;
    case CAIRN__REQUEST__OP_DROP_KEYSPACE:
        rc = schema_drop_keyspace(n->sc, r->drop_keyspace->name,
                                  r->drop_keyspace->if_exists);
        return rc ? rc : node_finish_drops(n);
    case CAIRN__REQUEST__OP_CREATE_TABLE:
        return node_create_table(n, r->create_table);
    case CAIRN__REQUEST__OP_DROP_TABLE:
        rc = schema_drop_table(n->sc, r->drop_table->keyspace,
                               r->drop_table->name, r->drop_table->if_exists);
        return rc ? rc : node_finish_drops(n);
    default:
        return err_set(-EINVAL, "not a schema change");
    }
}

/* ---- reads and scans (on the worker pool) ---- */

/* A read's answer under construction: arrays sized once, then packed. */
struct node_rows {
    Cairn__Row *rows;
    Cairn__Row **rowp;
    Cairn__Cell *cells;
    Cairn__Cell **cellp;
    size_t nrows, ncells; /* used so far */
};

static int node_rows_alloc(struct node_rows *nr,
                           const struct storage_result *res)
{
    size_t rows = 0, cells = 0;

    memset(nr, 0, sizeof(*nr));
    for (size_t p = 0; p < res->nparts; p++) {
        rows += res->parts[p].nrows;
        for (size_t i = 0; i < res->parts[p].nrows; i++)
            cells += res->parts[p].rows[i].ncells;
    }
    nr->rows = mem_calloc(MEM_SERVER, rows + 1, sizeof(*nr->rows));
    nr->rowp = mem_calloc(MEM_SERVER, rows + 1, sizeof(*nr->rowp));
    nr->cells = mem_calloc(MEM_SERVER, cells + 1, sizeof(*nr->cells));
    nr->cellp = mem_calloc(MEM_SERVER, cells + 1, sizeof(*nr->cellp));
    if (nr->rows && nr->rowp && nr->cells && nr->cellp)
        return 0;
    return err_set(-ENOMEM, "no memory for a %zu-row answer", rows);
}

static void node_rows_free(struct node_rows *nr)
{
    mem_free(nr->rows);
    mem_free(nr->rowp);
    mem_free(nr->cells);
    mem_free(nr->cellp);
}

/* node_add_row -- append `sr` (live cells only) to the answer. */
static void node_add_row(struct node_rows *nr, const struct storage_row *sr)
{
    Cairn__Row *row = &nr->rows[nr->nrows];

    cairn__row__init(row);
    row->ck.data = (uint8_t *)sr->ck.p;
    row->ck.len = sr->ck.n;
    row->cells = &nr->cellp[nr->ncells];
    for (size_t i = 0; i < sr->ncells; i++) {
        const struct storage_cell *sc = &sr->cells[i];
        Cairn__Cell *c = &nr->cells[nr->ncells];
        if (sc->tombstone)
            continue;
        cairn__cell__init(c);
        c->column.data = (uint8_t *)sc->column.p;
        c->column.len = sc->column.n;
        c->value.data = (uint8_t *)sc->value.p;
        c->value.len = sc->value.n;
        c->timestamp = sc->ts;
        c->expires_s = sc->expires_s;
        nr->cellp[nr->ncells++] = c;
        row->n_cells++;
    }
    nr->rowp[nr->nrows++] = row;
}

/* node_read_page -- page size from the request within the limits. */
static uint32_t node_page(const struct node *n, uint32_t asked)
{
    if (asked == 0)
        return n->cfg->default_page_rows;
    return asked > n->cfg->max_page_rows ? n->cfg->max_page_rows : asked;
}

static void node_read_prepare(struct node *n, const Cairn__Read *rq,
                              struct storage_read *sr, int *only_empty)
{
    memset(sr, 0, sizeof(*sr));
    sr->pkey = (struct storage_bytes){rq->pkey.data, rq->pkey.len};
    sr->ck_start = (struct storage_bytes){rq->ck_start.data, rq->ck_start.len};
    sr->ck_end = (struct storage_bytes){rq->ck_end.data, rq->ck_end.len};
    sr->limit_rows = node_page(n, rq->page_size);
    /*
     * An empty ck_end meant literally selects only the row whose key is
     * empty; storage reads an empty end as open, and the empty key sorts
     * first, so one row is enough to answer.
     */
    *only_empty = rq->has_ck_end && rq->ck_end.len == 0;
    if (*only_empty)
        sr->limit_rows = 1;
    if (rq->paging_state.len) {
        const uint8_t *ck;
        size_t ckn;
        paging_read_decode(rq->paging_state.data, rq->paging_state.len, &ck,
                           &ckn); /* validated when decoded */
        sr->after = (struct storage_bytes){ck, ckn};
        sr->has_after = 1;
    }
}

static int node_read_answer(struct call *c, const struct storage_result *res,
                            int only_empty)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__ReadResult rr = CAIRN__READ_RESULT__INIT;
    struct node_rows nr;
    uint8_t *ps = NULL;
    size_t psn = 0;
    int rc = node_rows_alloc(&nr, res);

    for (size_t p = 0; rc == 0 && p < res->nparts; p++)
        for (size_t i = 0; i < res->parts[p].nrows; i++)
            if (!only_empty || res->parts[p].rows[i].ck.n == 0)
                node_add_row(&nr, &res->parts[p].rows[i]);
    if (rc == 0 && res->more && !only_empty)
        rc = paging_read_encode(res->resume_ck.p, res->resume_ck.n, &ps, &psn);
    if (rc == 0) {
        rr.n_rows = nr.nrows;
        rr.rows = nr.rowp;
        rr.paging_state = (ProtobufCBinaryData){psn, ps};
        r.result_case = CAIRN__RESPONSE__RESULT_READ;
        r.read = &rr;
        call_answer(c, &r);
    }
    mem_free(ps);
    node_rows_free(&nr);
    return rc;
}

static int node_read(struct node *n, struct call *c)
{
    const Cairn__Read *rq = c->req->read;
    struct storage_result *res = NULL;
    struct storage_read sr;
    struct schema_table t;
    uint32_t rf;
    int only_empty, rc;

    rc = schema_table(n->sc, rq->keyspace, rq->table, &t, &rf);
    if (rc == 0)
        rc = node_check_level(c->req, rf, 0, rq->keyspace);
    if (rc < 0)
        return rc;
    node_read_prepare(n, rq, &sr, &only_empty);
    sr.table_id = t.id;
    rc = storage_read_partition(n->st, &sr, &res);
    if (rc == 0)
        rc = node_read_answer(c, res, only_empty);
    storage_result_free(res);
    return rc;
}

/* node_scan_answer -- partitions with their rows, and where to resume. */
static int node_scan_answer(struct call *c, const struct storage_result *res)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__ScanResult sr = CAIRN__SCAN_RESULT__INIT;
    Cairn__PartitionRows *parts, **partp;
    struct node_rows nr;
    uint8_t *ps = NULL;
    size_t psn = 0;
    int rc = node_rows_alloc(&nr, res);

    parts = mem_calloc(MEM_SERVER, res->nparts + 1, sizeof(*parts));
    partp = mem_calloc(MEM_SERVER, res->nparts + 1, sizeof(*partp));
    if (rc == 0 && (!parts || !partp))
        rc = err_set(-ENOMEM, "no memory for a scan answer");
    for (size_t p = 0; rc == 0 && p < res->nparts; p++) {
        const struct storage_partition *sp = &res->parts[p];
        cairn__partition_rows__init(&parts[p]);
        parts[p].pkey =
            (ProtobufCBinaryData){sp->pkey.n, (uint8_t *)sp->pkey.p};
        parts[p].token = sp->token;
        parts[p].rows = &nr.rowp[nr.nrows];
        for (size_t i = 0; i < sp->nrows; i++)
            node_add_row(&nr, &sp->rows[i]);
        parts[p].n_rows = sp->nrows;
        partp[p] = &parts[p];
    }
    if (rc == 0 && res->more)
        rc = paging_scan_encode(res->resume_pkey.p, res->resume_pkey.n,
                                res->resume_ck.p, res->resume_ck.n, &ps, &psn);
    if (rc == 0) {
        sr.n_partitions = res->nparts;
        sr.partitions = partp;
        sr.paging_state = (ProtobufCBinaryData){psn, ps};
        r.result_case = CAIRN__RESPONSE__RESULT_SCAN;
        r.scan = &sr;
        call_answer(c, &r);
    }
    mem_free(ps);
    mem_free(parts);
    mem_free(partp);
    node_rows_free(&nr);
    return rc;
}

static int node_scan(struct node *n, struct call *c)
{
    const Cairn__Scan *rq = c->req->scan;
    struct storage_result *res = NULL;
    struct storage_scan sc;
    struct schema_table t;
    uint32_t rf;
    int rc;

    rc = schema_table(n->sc, rq->keyspace, rq->table, &t, &rf);
    if (rc == 0)
        rc = node_check_level(c->req, rf, 0, rq->keyspace);
    if (rc < 0)
        return rc;
    memset(&sc, 0, sizeof(sc));
    sc.table_id = t.id;
    sc.token_start = INT64_MIN;
    sc.token_end = INT64_MAX;
    sc.limit_rows = node_page(n, rq->page_size);
    if (rq->paging_state.len) {
        const uint8_t *pk, *ck;
        size_t pkn, ckn;
        paging_scan_decode(rq->paging_state.data, rq->paging_state.len, &pk,
                           &pkn, &ck, &ckn); /* validated when decoded */
        sc.after_pkey = (struct storage_bytes){pk, pkn};
        sc.after_ck = (struct storage_bytes){ck, ckn};
        sc.has_after = 1;
    }
    rc = storage_scan(n->st, &sc, &res);
    if (rc == 0)
        rc = node_scan_answer(c, res);
    storage_result_free(res);
    return rc;
}

/* ---- listings (on the loop: they only copy the schema) ---- */

static int node_list_keyspaces(struct node *n, struct call *c)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__KeyspaceList kl = CAIRN__KEYSPACE_LIST__INIT;
    Cairn__Keyspace *k, **kp;
    struct schema_ks *ks;
    size_t cnt;
    int rc = schema_list_keyspaces(n->sc, &ks, &cnt);

    if (rc < 0)
        return rc;
    k = mem_calloc(MEM_SERVER, cnt + 1, sizeof(*k));
    kp = mem_calloc(MEM_SERVER, cnt + 1, sizeof(*kp));
    if (k && kp) {
        for (size_t i = 0; i < cnt; i++) {
            cairn__keyspace__init(&k[i]);
            k[i].name = ks[i].name;
            k[i].replication_factor = ks[i].rf;
            kp[i] = &k[i];
        }
        kl.n_keyspaces = cnt;
        kl.keyspaces = kp;
        r.result_case = CAIRN__RESPONSE__RESULT_KEYSPACES;
        r.keyspaces = &kl;
        call_answer(c, &r);
    } else {
        rc = err_set(-ENOMEM, "no memory for the keyspace list");
    }
    mem_free(k);
    mem_free(kp);
    mem_free(ks);
    return rc;
}

static int node_list_tables(struct node *n, struct call *c)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__TableList tl = CAIRN__TABLE_LIST__INIT;
    Cairn__Table *t = NULL, **tp = NULL;
    Cairn__TableOptions *o = NULL;
    struct schema_table *st;
    size_t cnt;
    int rc =
        schema_list_tables(n->sc, c->req->list_tables->keyspace, &st, &cnt);

    if (rc < 0)
        return rc;
    t = mem_calloc(MEM_SERVER, cnt + 1, sizeof(*t));
    tp = mem_calloc(MEM_SERVER, cnt + 1, sizeof(*tp));
    o = mem_calloc(MEM_SERVER, cnt + 1, sizeof(*o));
    if (t && tp && o) {
        for (size_t i = 0; i < cnt; i++) {
            cairn__table__init(&t[i]);
            cairn__table_options__init(&o[i]);
            t[i].keyspace = st[i].ks;
            t[i].name = st[i].name;
            t[i].id = st[i].id;
            o[i].gc_grace_s = st[i].opts.gc_grace_s;
            o[i].default_ttl_s = st[i].opts.default_ttl_s;
            o[i].no_compression = !st[i].opts.compression;
            t[i].options = &o[i];
            tp[i] = &t[i];
        }
        tl.n_tables = cnt;
        tl.tables = tp;
        r.result_case = CAIRN__RESPONSE__RESULT_TABLES;
        r.tables = &tl;
        call_answer(c, &r);
    } else {
        rc = err_set(-ENOMEM, "no memory for the table list");
    }
    mem_free(t);
    mem_free(tp);
    mem_free(o);
    mem_free(st);
    return rc;
}

/* ---- dispatch ---- */

static void node_work(uv_work_t *w)
{
    struct call *c = w->data;
    struct node *n = c->handler;
    int rc;

    err_clear();
    if (c->req->op_case == CAIRN__REQUEST__OP_WRITE) {
        rc = node_apply(n, c, c->handler_arg, 1); /* may wait: a worker */
        if (rc == 0)
            node_ack(c);
    } else if (c->req->op_case == CAIRN__REQUEST__OP_READ)
        rc = node_read(n, c);
    else if (c->req->op_case == CAIRN__REQUEST__OP_SCAN)
        rc = node_scan(n, c);
    else if ((rc = node_ddl(n, c->req)) == 0) {
        if (n->cluster)
            cluster_schema_changed(n->cluster);
        node_ack(c);
    }
    if (rc < 0)
        call_fail(c, rc, NULL);
}

static void node_after_work(uv_work_t *w, int status)
{
    struct call *c = w->data;

    if (status == UV_ECANCELED)
        call_fail(c, CAIRN_ECLOSED, "the node is shutting down");
    call_done(c);
}

static void node_queue(struct node *n, struct call *c, uv_loop_t *loop)
{
    int rc;

    (void)n;
    c->work.data = c;
    rc = uv_queue_work(loop, &c->work, node_work, node_after_work);
    if (rc < 0)
        node_finish(
            c, err_set(CAIRN_EOVERLOADED, "cannot queue: %s", uv_strerror(rc)));
}

void node_submit(struct node *n, struct call *c)
{
    uv_loop_t *loop = srv_loop_uv(c->loop);
    int rc = 0;

    err_clear();
    if (c->req->op_case == CAIRN__REQUEST__OP_ADMIN) {
        admin_submit(n, c);
        return;
    }
    if (atomic_load(&n->drained)) {
        call_fail(c, CAIRN_EUNAVAILABLE,
                  "this node is drained: it serves no data requests until "
                  "it restarts; use another node");
        call_done(c);
        return;
    }
    switch (c->req->op_case) {
    case CAIRN__REQUEST__OP_WRITE:
        node_write(n, c);
        return;
    case CAIRN__REQUEST__OP_LIST_KEYSPACES:
        rc = node_list_keyspaces(n, c);
        break;
    case CAIRN__REQUEST__OP_LIST_TABLES:
        rc = node_list_tables(n, c);
        break;
    default:
        c->handler = n;
        node_queue(n, c, loop);
        return;
    }
    if (rc < 0)
        call_fail(c, rc, NULL);
    call_done(c);
}
