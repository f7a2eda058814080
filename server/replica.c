/*
 * replica.c -- applying and answering replication messages on a replica,
 * and the storage <-> protobuf conversions every replication path shares
 * (coordinator writes, hints, read repair, range reads, repair streams).
 */
#include "server/replica.h"

#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "server/coord/resolve.h"

/* One arena block: either bytes or a held storage result. */
struct repl_chunk {
    struct repl_chunk *next;
    struct storage_result *res;
    max_align_t data[];
};

void repl_arena_init(struct repl_arena *a)
{
    a->chunks = NULL;
}

void repl_arena_free(struct repl_arena *a)
{
    struct repl_chunk *c = a->chunks;

    while (c) {
        struct repl_chunk *next = c->next;
        storage_result_free(c->res);
        mem_free(c);
        c = next;
    }
    a->chunks = NULL;
}

void *repl_arena_alloc(struct repl_arena *a, size_t n)
{
    struct repl_chunk *c = mem_calloc(MEM_SERVER, 1, sizeof(*c) + n);

    if (!c)
        return NULL;
    c->next = a->chunks;
    a->chunks = c;
    return c->data;
}

int repl_arena_hold(struct repl_arena *a, struct storage_result *r)
{
    struct repl_chunk *c = mem_calloc(MEM_SERVER, 1, sizeof(*c));

    if (!c) {
        storage_result_free(r);
        return err_set(-ENOMEM, "replica: no memory");
    }
    c->res = r;
    c->next = a->chunks;
    a->chunks = c;
    return 0;
}

/* array -- n zeroed elements of `size` (n 0 gives NULL, not a failure). */
static int array(struct repl_arena *a, size_t n, size_t size, void **out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / size / 2)
        return err_set(-ENOMEM, "replica: array too large");
    *out = repl_arena_alloc(a, n * size);
    return *out ? 0 : err_set(-ENOMEM, "replica: no memory");
}

static ProtobufCBinaryData pb_bytes(struct storage_bytes b)
{
    ProtobufCBinaryData d = {.len = b.n, .data = (uint8_t *)b.p};
    return d;
}

static struct storage_bytes st_bytes(ProtobufCBinaryData d)
{
    struct storage_bytes b = {.p = d.data, .n = d.len};
    return b;
}

/* ---- partitions ---- */

static int cells_to_pb(struct repl_arena *a, const struct storage_row *r,
                       Cairn__ReplRow *out)
{
    Cairn__ReplCell *cells, **ptrs;
    int rc = array(a, r->ncells, sizeof(*cells), (void **)&cells);

    rc = rc ? rc : array(a, r->ncells, sizeof(*ptrs), (void **)&ptrs);
    if (rc)
        return rc;
    for (size_t i = 0; i < r->ncells; i++) {
        const struct storage_cell *c = &r->cells[i];
        cairn__repl_cell__init(&cells[i]);
        cells[i].column = pb_bytes(c->column);
        cells[i].value = pb_bytes(c->value);
        cells[i].ts = c->ts;
        cells[i].expires_s = c->expires_s;
        cells[i].deleted_s = c->deleted_s;
        cells[i].tombstone = c->tombstone != 0;
        ptrs[i] = &cells[i];
    }
    out->cells = ptrs;
    out->n_cells = r->ncells;
    return 0;
}

static int rows_to_pb(struct repl_arena *a, const struct storage_partition *p,
                      Cairn__ReplPartition *out)
{
    Cairn__ReplRow *rows, **ptrs;
    int rc = array(a, p->nrows, sizeof(*rows), (void **)&rows);

    rc = rc ? rc : array(a, p->nrows, sizeof(*ptrs), (void **)&ptrs);
    for (size_t i = 0; !rc && i < p->nrows; i++) {
        cairn__repl_row__init(&rows[i]);
        rows[i].ck = pb_bytes(p->rows[i].ck);
        rows[i].deleted_ts = p->rows[i].deleted_ts;
        rows[i].deleted_s = p->rows[i].deleted_s;
        ptrs[i] = &rows[i];
        rc = cells_to_pb(a, &p->rows[i], &rows[i]);
    }
    if (rc)
        return rc;
    out->rows = ptrs;
    out->n_rows = p->nrows;
    return 0;
}

static int ranges_to_pb(struct repl_arena *a, const struct storage_partition *p,
                        Cairn__ReplPartition *out)
{
    Cairn__ReplRangeTomb *rt, **ptrs;
    int rc = array(a, p->nranges, sizeof(*rt), (void **)&rt);

    rc = rc ? rc : array(a, p->nranges, sizeof(*ptrs), (void **)&ptrs);
    if (rc)
        return rc;
    for (size_t i = 0; i < p->nranges; i++) {
        cairn__repl_range_tomb__init(&rt[i]);
        rt[i].start = pb_bytes(p->ranges[i].start);
        rt[i].end = pb_bytes(p->ranges[i].end);
        rt[i].ts = p->ranges[i].ts;
        rt[i].deleted_s = p->ranges[i].deleted_s;
        ptrs[i] = &rt[i];
    }
    out->ranges = ptrs;
    out->n_ranges = p->nranges;
    return 0;
}

int repl_part_to_pb(struct repl_arena *a, const struct storage_partition *p,
                    Cairn__ReplPartition *out)
{
    int rc;

    cairn__repl_partition__init(out);
    out->pkey = pb_bytes(p->pkey);
    out->token = p->token;
    out->deleted_ts = p->deleted_ts;
    out->deleted_s = p->deleted_s;
    rc = ranges_to_pb(a, p, out);
    return rc ? rc : rows_to_pb(a, p, out);
}

static int row_from_pb(struct repl_arena *a, const Cairn__ReplRow *in,
                       struct storage_row *out)
{
    int rc = array(a, in->n_cells, sizeof(*out->cells), (void **)&out->cells);

    if (rc)
        return rc;
    out->ck = st_bytes(in->ck);
    out->deleted_ts = in->deleted_ts;
    out->deleted_s = in->deleted_s;
    out->ncells = in->n_cells;
    for (size_t i = 0; i < in->n_cells; i++) {
        const Cairn__ReplCell *c = in->cells[i];
        struct storage_cell *o = &out->cells[i];
        o->column = st_bytes(c->column);
        o->value = st_bytes(c->value);
        o->ts = c->ts;
        o->expires_s = c->expires_s;
        o->deleted_s = c->deleted_s;
        o->tombstone = c->tombstone;
        if (o->ts == STORAGE_TS_NONE)
            return err_set(CAIRN_EPROTO, "replica: cell without timestamp");
    }
    return 0;
}

int repl_part_from_pb(struct repl_arena *a, const Cairn__ReplPartition *in,
                      struct storage_partition *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->pkey = st_bytes(in->pkey);
    out->token = in->token;
    out->deleted_ts = in->deleted_ts;
    out->deleted_s = in->deleted_s;
    rc = array(a, in->n_ranges, sizeof(*out->ranges), (void **)&out->ranges);
    rc =
        rc ? rc : array(a, in->n_rows, sizeof(*out->rows), (void **)&out->rows);
    if (rc)
        return rc;
    out->nranges = in->n_ranges;
    for (size_t i = 0; i < in->n_ranges; i++) {
        out->ranges[i].start = st_bytes(in->ranges[i]->start);
        out->ranges[i].end = st_bytes(in->ranges[i]->end);
        out->ranges[i].ts = in->ranges[i]->ts;
        out->ranges[i].deleted_s = in->ranges[i]->deleted_s;
    }
    out->nrows = in->n_rows;
    for (size_t i = 0; !rc && i < in->n_rows; i++)
        rc = row_from_pb(a, in->rows[i], &out->rows[i]);
    return rc;
}

/* ---- mutations ---- */

static size_t count_muts(const struct storage_partition *p)
{
    size_t n = p->nranges + (p->deleted_ts != STORAGE_TS_NONE);

    for (size_t i = 0; i < p->nrows; i++)
        n += p->rows[i].ncells + (p->rows[i].deleted_ts != STORAGE_TS_NONE);
    return n;
}

static void cell_mut(const struct storage_row *r, const struct storage_cell *c,
                     struct storage_mut *m)
{
    m->ck = r->ck;
    m->column = c->column;
    m->ts = c->ts;
    if (c->tombstone) {
        m->kind = STORAGE_MUT_CELL_DELETE;
        m->deleted_s = c->deleted_s;
    } else {
        m->kind = STORAGE_MUT_CELL;
        m->value = c->value;
        m->expires_s = c->expires_s;
    }
}

int repl_part_to_muts(struct repl_arena *a, const struct storage_partition *p,
                      struct storage_mut **muts, size_t *n)
{
    size_t k = 0, total = count_muts(p);
    struct storage_mut *m;
    int rc = array(a, total, sizeof(*m), (void **)&m);

    if (rc)
        return rc;
    if (p->deleted_ts != STORAGE_TS_NONE)
        m[k++] = (struct storage_mut){.kind = STORAGE_MUT_PARTITION_DELETE,
                                      .ts = p->deleted_ts,
                                      .deleted_s = p->deleted_s};
    for (size_t i = 0; i < p->nranges; i++)
        m[k++] = (struct storage_mut){.kind = STORAGE_MUT_RANGE_DELETE,
                                      .ck = p->ranges[i].start,
                                      .ck_end = p->ranges[i].end,
                                      .ts = p->ranges[i].ts,
                                      .deleted_s = p->ranges[i].deleted_s};
    for (size_t i = 0; i < p->nrows; i++) {
        const struct storage_row *r = &p->rows[i];
        if (r->deleted_ts != STORAGE_TS_NONE)
            m[k++] = (struct storage_mut){.kind = STORAGE_MUT_ROW_DELETE,
                                          .ck = r->ck,
                                          .ts = r->deleted_ts,
                                          .deleted_s = r->deleted_s};
        for (size_t j = 0; j < r->ncells; j++)
            cell_mut(r, &r->cells[j], &m[k++]);
    }
    *muts = m;
    *n = k;
    return 0;
}

void repl_batch_fix_times(struct storage_mut *muts, size_t n, int64_t now_s,
                          uint32_t default_ttl_s)
{
    for (size_t i = 0; i < n; i++) {
        struct storage_mut *m = &muts[i];
        if (m->kind == STORAGE_MUT_CELL) {
            uint32_t ttl = m->ttl_s ? m->ttl_s : default_ttl_s;
            if (m->expires_s == 0 && ttl != 0)
                m->expires_s = now_s + ttl;
            m->ttl_s = 0;
        } else if (m->deleted_s == 0) {
            m->deleted_s = now_s;
        }
    }
}

int repl_batch_to_pb(struct repl_arena *a, const struct storage_batch *b,
                     uint32_t tag, Cairn__MutationReq *out)
{
    Cairn__ReplMut *m, **ptrs;
    int rc;

    cairn__mutation_req__init(out);
    rc = array(a, b->nmuts, sizeof(*m), (void **)&m);
    rc = rc ? rc : array(a, b->nmuts, sizeof(*ptrs), (void **)&ptrs);
    if (rc)
        return rc;
    for (size_t i = 0; i < b->nmuts; i++) {
        const struct storage_mut *s = &b->muts[i];
        if (s->ttl_s != 0 || (s->kind != STORAGE_MUT_CELL && s->deleted_s == 0))
            return err_set(-EINVAL, "replica: mutation %zu has no fixed time",
                           i);
        cairn__repl_mut__init(&m[i]);
        m[i].kind = (uint32_t)s->kind;
        m[i].ck = pb_bytes(s->ck);
        m[i].ck_end = pb_bytes(s->ck_end);
        m[i].column = pb_bytes(s->column);
        m[i].value = pb_bytes(s->value);
        m[i].ts = s->ts;
        m[i].expires_s = s->expires_s;
        m[i].deleted_s = s->deleted_s;
        ptrs[i] = &m[i];
    }
    out->tag = tag;
    out->table_id = b->table_id;
    out->pkey = pb_bytes(b->pkey);
    out->muts = ptrs;
    out->n_muts = b->nmuts;
    return 0;
}

int repl_batch_from_pb(struct repl_arena *a, const Cairn__MutationReq *m,
                       struct storage_batch *out)
{
    struct storage_mut *v;
    int rc = array(a, m->n_muts, sizeof(*v), (void **)&v);

    if (rc)
        return rc;
    for (size_t i = 0; i < m->n_muts; i++) {
        const Cairn__ReplMut *s = m->muts[i];
        if (s->kind > STORAGE_MUT_PARTITION_DELETE)
            return err_set(CAIRN_EPROTO, "replica: unknown mutation kind %u",
                           s->kind);
        v[i].kind = (enum storage_mut_kind)s->kind;
        v[i].ck = st_bytes(s->ck);
        v[i].ck_end = st_bytes(s->ck_end);
        v[i].column = st_bytes(s->column);
        v[i].value = st_bytes(s->value);
        v[i].ts = s->ts;
        v[i].expires_s = s->expires_s;
        v[i].deleted_s = s->deleted_s;
    }
    out->table_id = m->table_id;
    out->pkey = st_bytes(m->pkey);
    out->muts = v;
    out->nmuts = m->n_muts;
    return 0;
}

int replica_apply(struct storage *s, const Cairn__MutationReq *m,
                  storage_done_fn done, void *arg)
{
    struct repl_arena a;
    struct storage_batch b;
    int rc;

    repl_arena_init(&a);
    rc = repl_batch_from_pb(&a, m, &b);
    /* storage_apply copies the batch, so the arena can go at once. */
    rc = rc ? rc : storage_apply(s, &b, done, arg);
    repl_arena_free(&a);
    return rc;
}

/* ---- reads ---- */

static char *msg_copy(struct repl_arena *a, const char *msg)
{
    size_t n = strlen(msg);
    char *p = repl_arena_alloc(a, n + 1);

    if (p)
        memcpy(p, msg, n);
    return p ? p : (char *)"no memory";
}

static int read_data(struct repl_arena *a, const Cairn__ReadReq *q,
                     const struct storage_result *res, Cairn__ReadResp *out)
{
    struct storage_partition empty = {.deleted_ts = STORAGE_TS_NONE};
    const struct storage_partition *p = res->nparts ? &res->parts[0] : &empty;
    Cairn__ReplPartition *pb = repl_arena_alloc(a, sizeof(*pb));
    int rc;

    empty.pkey = st_bytes(q->pkey);
    if (!pb)
        return err_set(-ENOMEM, "replica: no memory");
    if (q->digest_only)
        return coord_resolve_digest(p, &out->digest);
    rc = repl_part_to_pb(a, p, pb);
    out->part = pb;
    return rc;
}

int replica_read(struct storage *s, const Cairn__ReadReq *q,
                 struct repl_arena *a, Cairn__ReadResp *out)
{
    struct storage_read rd = {
        .table_id = q->table_id,
        .pkey = st_bytes(q->pkey),
        .ck_start = st_bytes(q->ck_start),
        .ck_end = st_bytes(q->ck_end),
        .after = st_bytes(q->after),
        .has_after = q->has_after,
        .limit_rows = q->limit_rows,
        .include_tombstones = q->include_tombstones,
    };
    struct storage_result *res = NULL;
    int rc;

    cairn__read_resp__init(out);
    out->tag = q->tag;
    rc = storage_read_partition(s, &rd, &res);
    if (rc) {
        out->code = rc;
        out->message = msg_copy(a, err_msg());
        return 0;
    }
    rc = repl_arena_hold(a, res);
    if (rc)
        return rc;
    out->more = res->more != 0;
    return read_data(a, q, res, out);
}

static int range_parts(struct repl_arena *a, const struct storage_result *res,
                       Cairn__RangeReadResp *out)
{
    Cairn__ReplPartition *parts, **ptrs;
    int rc = array(a, res->nparts, sizeof(*parts), (void **)&parts);

    rc = rc ? rc : array(a, res->nparts, sizeof(*ptrs), (void **)&ptrs);
    for (size_t i = 0; !rc && i < res->nparts; i++) {
        rc = repl_part_to_pb(a, &res->parts[i], &parts[i]);
        ptrs[i] = &parts[i];
    }
    if (rc)
        return rc;
    out->parts = ptrs;
    out->n_parts = res->nparts;
    out->more = res->more != 0;
    out->resume_pkey = pb_bytes(res->resume_pkey);
    out->resume_ck = pb_bytes(res->resume_ck);
    return 0;
}

int replica_range_read(struct storage *s, const Cairn__RangeReadReq *q,
                       struct repl_arena *a, Cairn__RangeReadResp *out)
{
    struct storage_scan sc = {
        .table_id = q->table_id,
        .token_start = q->token_start,
        .token_end = q->token_end,
        .after_pkey = st_bytes(q->after_pkey),
        .after_ck = st_bytes(q->after_ck),
        .has_after = q->has_after,
        .limit_rows = q->limit_rows,
        .include_tombstones = q->include_tombstones,
    };
    struct storage_result *res = NULL;
    int rc;

    cairn__range_read_resp__init(out);
    out->tag = q->tag;
    rc = storage_scan(s, &sc, &res);
    if (rc) {
        out->code = rc;
        out->message = msg_copy(a, err_msg());
        return 0;
    }
    rc = repl_arena_hold(a, res);
    return rc ? rc : range_parts(a, res, out);
}
