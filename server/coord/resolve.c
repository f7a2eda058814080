/*
 * resolve.c -- conflict-rule merge, digest and diff of partitions.
 *
 * The merge gathers every row of every answer, sorts them by clustering
 * key and settles each group of equal keys alone: the row tombstone that
 * survives, then per column the winning cell, dropped when a tombstone
 * at or above its timestamp covers it. Output memory comes from a small
 * arena owned by the result, so freeing is one walk over a few chunks.
 */
#include "server/coord/resolve.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"

/* ---- arena ---- */

struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) uint8_t data[];
};

#define CHUNK_MIN 4096

static void *arena_alloc(struct coord_part *cp, size_t n)
{
    struct chunk *c = cp->mem;

    n = (n + 15) & ~(size_t)15;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        struct chunk *nc = mem_alloc(MEM_SERVER, sizeof(*nc) + cap);
        if (!nc)
            return NULL;
        nc->next = c;
        nc->used = 0;
        nc->cap = cap;
        cp->mem = c = nc;
    }
    c->used += n;
    return c->data + c->used - n;
}

/* arena_bytes -- copy `b` into the arena; 0 or -ENOMEM. */
static int arena_bytes(struct coord_part *cp, struct storage_bytes *dst,
                       struct storage_bytes b)
{
    uint8_t *p;

    dst->n = b.n;
    dst->p = NULL;
    if (b.n == 0)
        return 0;
    p = arena_alloc(cp, b.n);
    if (!p)
        return -ENOMEM;
    memcpy(p, b.p, b.n);
    dst->p = p;
    return 0;
}

void coord_part_init(struct coord_part *cp)
{
    memset(cp, 0, sizeof(*cp));
    cp->p.deleted_ts = STORAGE_TS_NONE;
}

void coord_part_free(struct coord_part *cp)
{
    struct chunk *c = cp->mem;

    while (c) {
        struct chunk *next = c->next;
        mem_free(c);
        c = next;
    }
    coord_part_init(cp);
}

void coord_part_move(struct coord_part *dst, struct coord_part *src)
{
    coord_part_free(dst);
    *dst = *src;
    coord_part_init(src);
}

int coord_part_empty(const struct storage_partition *p)
{
    return p->deleted_ts == STORAGE_TS_NONE && p->nranges == 0 && p->nrows == 0;
}

/* ---- ordering ---- */

int coord_bytes_cmp(struct storage_bytes a, struct storage_bytes b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = n ? memcmp(a.p, b.p, n) : 0;

    if (c)
        return c;
    return (a.n > b.n) - (a.n < b.n);
}

static int i64_cmp(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

int coord_cell_cmp(const struct storage_cell *a, const struct storage_cell *b)
{
    int c = i64_cmp(a->ts, b->ts);

    if (c)
        return c;
    if (a->tombstone != b->tombstone)
        return a->tombstone ? 1 : -1;
    if (a->tombstone)
        return i64_cmp(a->deleted_s, b->deleted_s);
    c = coord_bytes_cmp(a->value, b->value);
    if (c)
        return c;
    /* Never expiring (0) outlives any expiry time. */
    return i64_cmp(a->expires_s ? a->expires_s : INT64_MAX,
                   b->expires_s ? b->expires_s : INT64_MAX);
}

/* range_end_cmp -- an empty (open) end sorts after every key. */
static int range_end_cmp(struct storage_bytes a, struct storage_bytes b)
{
    if (a.n == 0 || b.n == 0)
        return (a.n == 0) - (b.n == 0);
    return coord_bytes_cmp(a, b);
}

/* Range tombstones: by start, end, then the strongest first. */
static int range_qcmp(const void *pa, const void *pb)
{
    const struct storage_range_tomb *a = *(const void *const *)pa;
    const struct storage_range_tomb *b = *(const void *const *)pb;
    int c = coord_bytes_cmp(a->start, b->start);

    if (!c)
        c = range_end_cmp(a->end, b->end);
    if (!c)
        c = i64_cmp(b->ts, a->ts);
    if (!c)
        c = i64_cmp(b->deleted_s, a->deleted_s);
    return c;
}

static int row_qcmp(const void *pa, const void *pb)
{
    const struct storage_row *a = *(const void *const *)pa;
    const struct storage_row *b = *(const void *const *)pb;

    return coord_bytes_cmp(a->ck, b->ck);
}

/* Cells: by column, then the winner first. */
static int cell_qcmp(const void *pa, const void *pb)
{
    const struct storage_cell *a = *(const void *const *)pa;
    const struct storage_cell *b = *(const void *const *)pb;
    int c = coord_bytes_cmp(a->column, b->column);

    return c ? c : -coord_cell_cmp(a, b);
}

static int covers(const struct storage_range_tomb *r, struct storage_bytes ck)
{
    return coord_bytes_cmp(r->start, ck) <= 0 &&
           (r->end.n == 0 || coord_bytes_cmp(ck, r->end) <= 0);
}

/* ---- merge ---- */

/* Scratch arrays of one merge, freed together. */
struct scratch {
    const struct storage_range_tomb **ranges;
    const struct storage_row **rows;
    const struct storage_cell **cells;
    size_t nranges, nrows, maxcells;
};

static void scratch_free(struct scratch *s)
{
    mem_free(s->ranges);
    mem_free(s->rows);
    mem_free(s->cells);
}

static int scratch_fill(struct scratch *s,
                        const struct storage_partition *const *in, size_t n,
                        int64_t pts)
{
    size_t nr = 0, nrows = 0;

    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        nr += in[i]->nranges;
        nrows += in[i]->nrows;
        for (size_t j = 0; j < in[i]->nrows; j++)
            s->maxcells += in[i]->rows[j].ncells;
    }
    s->ranges = mem_calloc(MEM_SERVER, nr + 1, sizeof(*s->ranges));
    s->rows = mem_calloc(MEM_SERVER, nrows + 1, sizeof(*s->rows));
    s->cells = mem_calloc(MEM_SERVER, s->maxcells + 1, sizeof(*s->cells));
    if (!s->ranges || !s->rows || !s->cells)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < in[i]->nranges; j++)
            if (in[i]->ranges[j].ts > pts)
                s->ranges[s->nranges++] = &in[i]->ranges[j];
        for (size_t j = 0; j < in[i]->nrows; j++)
            s->rows[s->nrows++] = &in[i]->rows[j];
    }
    qsort(s->ranges, s->nranges, sizeof(*s->ranges), range_qcmp);
    qsort(s->rows, s->nrows, sizeof(*s->rows), row_qcmp);
    return 0;
}

/* merge_ranges -- keep the strongest tombstone of each (start, end). */
static int merge_ranges(struct coord_part *out, const struct scratch *s)
{
    struct storage_partition *p = &out->p;

    p->ranges = arena_alloc(out, (s->nranges + 1) * sizeof(*p->ranges));
    if (!p->ranges)
        return -ENOMEM;
    for (size_t i = 0; i < s->nranges; i++) {
        const struct storage_range_tomb *r = s->ranges[i];
        struct storage_range_tomb *d;

        if (p->nranges &&
            coord_bytes_cmp(p->ranges[p->nranges - 1].start, r->start) == 0 &&
            range_end_cmp(p->ranges[p->nranges - 1].end, r->end) == 0)
            continue;
        d = &p->ranges[p->nranges++];
        *d = *r;
        if (arena_bytes(out, &d->start, r->start) ||
            arena_bytes(out, &d->end, r->end))
            return -ENOMEM;
    }
    return 0;
}

/* range_shadow -- the newest range tombstone timestamp covering `ck`. */
static int64_t range_shadow(const struct storage_partition *p,
                            struct storage_bytes ck)
{
    int64_t ts = STORAGE_TS_NONE;

    for (size_t i = 0; i < p->nranges; i++)
        if (p->ranges[i].ts > ts && covers(&p->ranges[i], ck))
            ts = p->ranges[i].ts;
    return ts;
}

/* merge_cells -- the winners of `group` rows newer than `shadow`. */
static int merge_cells(struct coord_part *out, struct storage_row *row,
                       const struct storage_row *const *group, size_t ng,
                       int64_t shadow, struct scratch *s)
{
    size_t nc = 0;

    for (size_t i = 0; i < ng; i++)
        for (size_t j = 0; j < group[i]->ncells; j++)
            s->cells[nc++] = &group[i]->cells[j];
    qsort(s->cells, nc, sizeof(*s->cells), cell_qcmp);
    row->cells = arena_alloc(out, (nc + 1) * sizeof(*row->cells));
    if (!row->cells)
        return -ENOMEM;
    for (size_t i = 0; i < nc; i++) {
        const struct storage_cell *c = s->cells[i];
        struct storage_cell *d;

        if (i > 0 && coord_bytes_cmp(s->cells[i - 1]->column, c->column) == 0)
            continue; /* a loser: the winner of its column came first */
        if (c->ts <= shadow)
            continue;
        d = &row->cells[row->ncells++];
        *d = *c;
        if (arena_bytes(out, &d->column, c->column) ||
            arena_bytes(out, &d->value, c->value))
            return -ENOMEM;
    }
    return 0;
}

/* merge_row -- settle one group of rows sharing a clustering key. */
static int merge_row(struct coord_part *out,
                     const struct storage_row *const *group, size_t ng,
                     struct scratch *s)
{
    struct storage_partition *p = &out->p;
    struct storage_row *row = &p->rows[p->nrows];
    int64_t shadow = range_shadow(p, group[0]->ck);

    memset(row, 0, sizeof(*row));
    row->deleted_ts = STORAGE_TS_NONE;
    if (p->deleted_ts > shadow)
        shadow = p->deleted_ts;
    for (size_t i = 0; i < ng; i++) {
        const struct storage_row *r = group[i];
        if (r->deleted_ts > row->deleted_ts ||
            (r->deleted_ts == row->deleted_ts &&
             r->deleted_s > row->deleted_s)) {
            row->deleted_ts = r->deleted_ts;
            row->deleted_s = r->deleted_s;
        }
    }
    if (row->deleted_ts <= shadow) {
        row->deleted_ts = STORAGE_TS_NONE;
        row->deleted_s = 0;
    } else {
        shadow = row->deleted_ts;
    }
    if (merge_cells(out, row, group, ng, shadow, s))
        return -ENOMEM;
    if (row->ncells == 0 && row->deleted_ts == STORAGE_TS_NONE)
        return 0;
    if (arena_bytes(out, &row->ck, group[0]->ck))
        return -ENOMEM;
    p->nrows++;
    return 0;
}

static int merge_rows(struct coord_part *out, struct scratch *s)
{
    struct storage_partition *p = &out->p;
    size_t i = 0;

    p->rows = arena_alloc(out, (s->nrows + 1) * sizeof(*p->rows));
    if (!p->rows)
        return -ENOMEM;
    while (i < s->nrows) {
        size_t j = i + 1;
        while (j < s->nrows &&
               coord_bytes_cmp(s->rows[i]->ck, s->rows[j]->ck) == 0)
            j++;
        if (merge_row(out, &s->rows[i], j - i, s))
            return -ENOMEM;
        i = j;
    }
    return 0;
}

int coord_resolve_merge(const struct storage_partition *const *in, size_t n,
                        struct coord_part *out)
{
    struct scratch s;
    struct storage_partition *p = &out->p;
    int rc;

    coord_part_init(out);
    if (n == 0)
        return 0;
    p->token = in[0]->token;
    for (size_t i = 0; i < n; i++) {
        if (in[i]->deleted_ts > p->deleted_ts ||
            (in[i]->deleted_ts == p->deleted_ts &&
             in[i]->deleted_s > p->deleted_s)) {
            p->deleted_ts = in[i]->deleted_ts;
            p->deleted_s = in[i]->deleted_s;
        }
    }
    if (p->deleted_ts == STORAGE_TS_NONE)
        p->deleted_s = 0;
    rc = scratch_fill(&s, in, n, p->deleted_ts);
    if (!rc)
        rc = arena_bytes(out, &p->pkey, in[0]->pkey);
    if (!rc)
        rc = merge_ranges(out, &s);
    if (!rc)
        rc = merge_rows(out, &s);
    scratch_free(&s);
    if (rc) {
        coord_part_free(out);
        return err_set(-ENOMEM, "resolve merge: no memory");
    }
    return 0;
}

/* ---- digest ---- */

static int put_i64(struct buf *b, int64_t v)
{
    return buf_put_u64be(b, (uint64_t)v);
}

static int encode_row(struct buf *b, const struct storage_row *r)
{
    int rc = buf_put_lenbytes(b, r->ck.p, r->ck.n);

    rc = rc ? rc : put_i64(b, r->deleted_ts);
    rc = rc ? rc : put_i64(b, r->deleted_s);
    rc = rc ? rc : buf_put_varint(b, r->ncells);
    for (size_t i = 0; !rc && i < r->ncells; i++) {
        const struct storage_cell *c = &r->cells[i];
        rc = buf_put_lenbytes(b, c->column.p, c->column.n);
        rc = rc ? rc : buf_put_u8(b, c->tombstone ? 1 : 0);
        rc = rc ? rc : buf_put_lenbytes(b, c->value.p, c->value.n);
        rc = rc ? rc : put_i64(b, c->ts);
        rc = rc ? rc : put_i64(b, c->expires_s);
        rc = rc ? rc : put_i64(b, c->tombstone ? c->deleted_s : 0);
    }
    return rc;
}

/* encode -- the canonical bytes; `p` must be a merge result. */
static int encode(struct buf *b, const struct storage_partition *p)
{
    int rc = buf_put_lenbytes(b, p->pkey.p, p->pkey.n);

    rc = rc ? rc : put_i64(b, p->deleted_ts);
    rc = rc ? rc : put_i64(b, p->deleted_s);
    rc = rc ? rc : buf_put_varint(b, p->nranges);
    for (size_t i = 0; !rc && i < p->nranges; i++) {
        const struct storage_range_tomb *r = &p->ranges[i];
        rc = buf_put_lenbytes(b, r->start.p, r->start.n);
        rc = rc ? rc : buf_put_lenbytes(b, r->end.p, r->end.n);
        rc = rc ? rc : put_i64(b, r->ts);
        rc = rc ? rc : put_i64(b, r->deleted_s);
    }
    rc = rc ? rc : buf_put_varint(b, p->nrows);
    for (size_t i = 0; !rc && i < p->nrows; i++)
        rc = encode_row(b, &p->rows[i]);
    return rc;
}

int coord_resolve_digest(const struct storage_partition *p, uint64_t *out)
{
    struct coord_part cp;
    struct buf b;
    int rc;

    *out = 0;
    rc = coord_resolve_merge(&p, 1, &cp);
    if (rc)
        return rc;
    buf_init(&b, MEM_SERVER);
    rc = encode(&b, &cp.p);
    if (!rc)
        *out = XXH3_64bits(b.data, b.len);
    buf_free(&b);
    coord_part_free(&cp);
    return rc ? err_set(-ENOMEM, "resolve digest: no memory") : 0;
}

/* ---- trim and diff ---- */

int coord_resolve_trim(const struct storage_partition *p,
                       const struct storage_bytes *bound,
                       struct coord_part *out)
{
    struct storage_partition t = *p;
    const struct storage_partition *tp = &t;
    struct storage_range_tomb *rs = NULL;
    int rc;

    if (bound) {
        /* Rows come sorted by clustering key (storage.h). */
        while (t.nrows && coord_bytes_cmp(t.rows[t.nrows - 1].ck, *bound) > 0)
            t.nrows--;
        rs = mem_calloc(MEM_SERVER, p->nranges + 1, sizeof(*rs));
        if (!rs)
            return err_set(-ENOMEM, "resolve trim: no memory");
        t.ranges = rs;
        t.nranges = 0;
        for (size_t i = 0; i < p->nranges; i++)
            if (coord_bytes_cmp(p->ranges[i].start, *bound) <= 0)
                rs[t.nranges++] = p->ranges[i];
    }
    rc = coord_resolve_merge(&tp, 1, out);
    mem_free(rs);
    return rc;
}

static int same_range(const struct storage_range_tomb *a,
                      const struct storage_range_tomb *b)
{
    return coord_bytes_cmp(a->start, b->start) == 0 &&
           range_end_cmp(a->end, b->end) == 0 && a->ts == b->ts &&
           a->deleted_s == b->deleted_s;
}

static const struct storage_row *find_row(const struct storage_partition *p,
                                          struct storage_bytes ck)
{
    size_t lo = 0, hi = p->nrows;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = coord_bytes_cmp(p->rows[mid].ck, ck);
        if (c == 0)
            return &p->rows[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const struct storage_cell *find_cell(const struct storage_row *r,
                                            struct storage_bytes col)
{
    for (size_t i = 0; r && i < r->ncells; i++)
        if (coord_bytes_cmp(r->cells[i].column, col) == 0)
            return &r->cells[i];
    return NULL;
}

/* diff_row -- the part of merged row `m` that replica row `r` lacks. */
static void diff_row(struct storage_row *d, const struct storage_row *m,
                     const struct storage_row *r)
{
    struct storage_cell *cells = d->cells; /* room for m's cells */

    *d = *m;
    d->cells = cells;
    d->ncells = 0;
    if (r && r->deleted_ts == m->deleted_ts && r->deleted_s == m->deleted_s)
        d->deleted_ts = STORAGE_TS_NONE;
    for (size_t i = 0; i < m->ncells; i++) {
        const struct storage_cell *c = find_cell(r, m->cells[i].column);
        if (!c || coord_cell_cmp(c, &m->cells[i]) != 0)
            d->cells[d->ncells++] = m->cells[i];
    }
}

int coord_resolve_diff(const struct storage_partition *replica,
                       const struct storage_partition *merged,
                       struct coord_part *out)
{
    struct coord_part rc, tmp;
    struct storage_partition d = *merged;
    const struct storage_partition *dp = &d;
    int err = -ENOMEM;

    coord_part_init(out);
    coord_part_init(&tmp);
    if (coord_resolve_merge(&replica, 1, &rc))
        return -ENOMEM;
    if (rc.p.deleted_ts == d.deleted_ts && rc.p.deleted_s == d.deleted_s)
        d.deleted_ts = STORAGE_TS_NONE;
    d.ranges = arena_alloc(&tmp, (merged->nranges + 1) * sizeof(*d.ranges));
    d.rows = arena_alloc(&tmp, (merged->nrows + 1) * sizeof(*d.rows));
    if (!d.ranges || !d.rows)
        goto out;
    d.nranges = d.nrows = 0;
    for (size_t i = 0; i < merged->nranges; i++) {
        size_t j = 0;
        while (j < rc.p.nranges &&
               !same_range(&rc.p.ranges[j], &merged->ranges[i]))
            j++;
        if (j == rc.p.nranges)
            d.ranges[d.nranges++] = merged->ranges[i];
    }
    for (size_t i = 0; i < merged->nrows; i++) {
        const struct storage_row *m = &merged->rows[i];
        struct storage_row *dr = &d.rows[d.nrows];
        dr->cells = arena_alloc(&tmp, (m->ncells + 1) * sizeof(*dr->cells));
        if (!dr->cells)
            goto out;
        diff_row(dr, m, find_row(&rc.p, m->ck));
        if (dr->ncells || dr->deleted_ts != STORAGE_TS_NONE)
            d.nrows++;
    }
    err = coord_resolve_merge(&dp, 1, out);
out:
    coord_part_free(&tmp);
    coord_part_free(&rc);
    return err ? err_set(-ENOMEM, "resolve diff: no memory") : 0;
}
