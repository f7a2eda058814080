/*
 * engine_read.c -- partition reads and token-range scans (storage.h).
 *
 * A read takes references to the table's memtables and to the sstables
 * that may hold its keys (token range, bloom filter) under the shared
 * lock, then merges them without any lock. A partition is read in two
 * steps: its header (partition and range tombstones) first, then its rows
 * from the first wanted clustering key, each row resolved against the
 * header's tombstones and the clock. The answer is copied into memory the
 * result owns, so nothing of the sources outlives the call.
 */
#include <inttypes.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/token.h"
#include "storage/engine_int.h"
#include "storage/memtable.h"
#include "storage/merge.h"
#include "storage/sstable.h"
#include "storage/storage.h"

/* ---- results ---- */

#define RES_CHUNK 16384

struct res_chunk {
    struct res_chunk *prev;
    size_t used, cap;
    uint8_t data[];
};

struct res {
    struct storage_result r; /* first: the caller's pointer */
    struct res_chunk *chunk;
    size_t capparts, caprows;
};

static void *res_alloc(struct res *x, size_t n)
{
    struct res_chunk *c = x->chunk;
    size_t need = (n + 15) & ~(size_t)15;

    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > RES_CHUNK / 2 ? need : RES_CHUNK;
        c = mem_alloc(MEM_STORAGE, sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->prev = x->chunk;
        x->chunk = c;
    }
    c->used += need;
    return c->data + c->used - need;
}

static int res_bytes(struct res *x, const uint8_t *p, size_t n,
                     struct storage_bytes *out)
{
    uint8_t *d = n ? res_alloc(x, n) : NULL;

    out->n = n;
    out->p = n ? d : (const uint8_t *)"";
    if (n && d == NULL)
        return err_set(-ENOMEM, "read: out of memory for the result");
    if (n)
        memcpy(d, p, n);
    return 0;
}

void storage_result_free(struct storage_result *r)
{
    struct res *x = (struct res *)r;
    struct res_chunk *c, *p;

    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nparts; i++)
        mem_free(r->parts[i].rows);
    mem_free(r->parts);
    for (c = x->chunk; c != NULL; c = p) {
        p = c->prev;
        mem_free(c);
    }
    mem_free(x);
}

static int res_new(struct res **out)
{
    *out = mem_calloc(MEM_STORAGE, 1, sizeof(**out));
    return *out ? 0 : err_set(-ENOMEM, "read: out of memory");
}

/* res_part -- start a partition in the result with header `h`. */
static int res_part(struct res *x, int64_t token, const uint8_t *pk,
                    size_t pk_len, const struct row_header *h, int tombs)
{
    struct storage_result *r = &x->r;
    struct storage_partition *p;
    int rc;

    if (r->nparts == x->capparts) {
        size_t cap = x->capparts ? x->capparts * 2 : 4;
        p = mem_realloc(MEM_STORAGE, r->parts, cap * sizeof(*p));
        if (p == NULL)
            return err_set(-ENOMEM, "read: out of memory for the result");
        r->parts = p;
        x->capparts = cap;
    }
    p = &r->parts[r->nparts++];
    memset(p, 0, sizeof(*p));
    x->caprows = 0;
    p->token = token;
    p->deleted_ts = tombs ? h->del_ts : STORAGE_TS_NONE;
    p->deleted_s = tombs ? h->del_s : 0;
    rc = res_bytes(x, pk, pk_len, &p->pkey);
    if (rc != 0 || !tombs || h->n == 0)
        return rc;
    p->ranges = res_alloc(x, h->n * sizeof(*p->ranges));
    if (p->ranges == NULL)
        return err_set(-ENOMEM, "read: out of memory for the result");
    for (size_t i = 0; rc == 0 && i < h->n; i++) {
        struct storage_range_tomb *t = &p->ranges[p->nranges++];
        rc = res_bytes(x, h->r[i].start, h->r[i].start_len, &t->start);
        if (rc == 0)
            rc = res_bytes(x, h->r[i].end,
                           h->r[i].open_end ? 0 : h->r[i].end_len, &t->end);
        t->ts = h->r[i].ts;
        t->deleted_s = h->r[i].del_s;
    }
    return rc;
}

static int res_row(struct res *x, const uint8_t *ck, size_t ck_len,
                   const struct row *rw)
{
    struct storage_partition *p = &x->r.parts[x->r.nparts - 1];
    struct storage_row *o;
    int rc;

    if (p->nrows == x->caprows) {
        size_t cap = x->caprows ? x->caprows * 2 : 4;
        o = mem_realloc(MEM_STORAGE, p->rows, cap * sizeof(*o));
        if (o == NULL)
            return err_set(-ENOMEM, "read: out of memory for the result");
        p->rows = o;
        x->caprows = cap;
    }
    o = &p->rows[p->nrows];
    memset(o, 0, sizeof(*o));
    o->deleted_ts = rw->del_ts;
    o->deleted_s = rw->del_s;
    rc = res_bytes(x, ck, ck_len, &o->ck);
    if (rc == 0 && rw->n > 0 &&
        (o->cells = res_alloc(x, rw->n * sizeof(*o->cells))) == NULL)
        rc = err_set(-ENOMEM, "read: out of memory for the result");
    for (size_t i = 0; rc == 0 && i < rw->n; i++) {
        const struct row_cell *c = &rw->cells[i];
        struct storage_cell *d = &o->cells[i];
        rc = res_bytes(x, c->col, c->col_len, &d->column);
        if (rc == 0)
            rc = res_bytes(x, c->val, c->val_len, &d->value);
        d->ts = c->ts;
        d->expires_s = c->expires_s;
        d->deleted_s = c->deleted_s;
        d->tombstone = c->tomb;
    }
    o->ncells = rw->n;
    if (rc == 0) {
        p->nrows++;
        x->r.nrows++;
    }
    return rc;
}

/* ---- sources ---- */

#define SNAP_MAX 64

struct snap {
    struct msrc *src[SNAP_MAX];
    size_t n;
};

static void snap_free(struct snap *sn)
{
    for (size_t i = 0; i < sn->n; i++)
        sn->src[i]->ops->close(sn->src[i]);
    sn->n = 0;
}

/* snap_take -- sources for table `id` that may hold partition pk (or any
 * partition in [lo, hi] when pk is NULL). */
static int snap_take(struct storage *s, uint64_t id, const uint8_t *pk,
                     size_t pk_len, int64_t lo, int64_t hi, struct snap *sn)
{
    struct table *t;
    int rc = 0;

    sn->n = 0;
    pthread_rwlock_rdlock(&s->lock);
    t = NULL;
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i]->id == id)
            t = s->tables[i];
    if (t == NULL) {
        pthread_rwlock_unlock(&s->lock);
        return err_set(CAIRN_ENOTABLE, "table %" PRIu64 " does not exist", id);
    }
    atomic_fetch_add(&t->reads, 1);
    rc = memtable_src_new(t->mem, &sn->src[sn->n]);
    if (rc == 0)
        sn->n++;
    for (size_t i = 0; rc == 0 && i < t->nimm && sn->n < SNAP_MAX; i++) {
        rc = memtable_src_new(t->imm[i].m, &sn->src[sn->n]);
        if (rc == 0)
            sn->n++;
    }
    for (size_t i = 0; rc == 0 && i < t->nssts; i++) {
        struct sst *x = t->ssts[i];
        if (x->max_token < lo || x->min_token > hi)
            continue;
        if (pk != NULL && !sstable_may_contain(x->t, pk, pk_len))
            continue;
        if (sn->n == SNAP_MAX) {
            rc = err_set(-EAGAIN,
                         "read: over %d sources for table %" PRIu64
                         "; compaction is behind",
                         SNAP_MAX, id);
            break;
        }
        rc = flush_src_new(s, x, &sn->src[sn->n]);
        if (rc == 0)
            sn->n++;
    }
    pthread_rwlock_unlock(&s->lock);
    if (rc != 0)
        snap_free(sn);
    return rc;
}

/* ---- reading one partition's rows ---- */

/* A partition being read: its header (bytes copied) and the limits. */
struct preader {
    struct storage *s;
    struct merge *m;
    struct res *x;
    struct row_header hdr;
    struct buf hbytes; /* copies of the header's range bounds */
    int64_t now_s;
    int tombs;
    uint32_t limit; /* rows still allowed; 0: none left */
    int unlimited;
};

static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

/* keep_header -- copy a merged header, its bounds into pr->hbytes. */
static int keep_header(struct preader *pr, const struct row_header *h)
{
    size_t need = 0, off = 0;
    int rc;

    row_header_reset(&pr->hdr);
    for (size_t i = 0; i < h->n; i++)
        need += h->r[i].start_len + h->r[i].end_len;
    buf_reset(&pr->hbytes);
    rc = buf_reserve(&pr->hbytes, need + 1);
    if (rc != 0)
        return rc;
    row_header_put_del(&pr->hdr, h->del_ts, h->del_s);
    for (size_t i = 0; rc == 0 && i < h->n; i++) {
        struct row_range g = h->r[i];
        if (g.start_len > 0)
            memcpy(pr->hbytes.data + off, g.start, g.start_len);
        g.start = pr->hbytes.data + off;
        off += g.start_len;
        if (g.end_len > 0)
            memcpy(pr->hbytes.data + off, g.end, g.end_len);
        g.end = pr->hbytes.data + off;
        off += g.end_len;
        rc = row_header_put_range(&pr->hdr, &g);
    }
    row_header_resolve(&pr->hdr);
    return rc;
}

/* emit_row -- resolve a merged row and add it if it shows; 1 when added. */
static int emit_row(struct preader *pr, const struct mentry *e)
{
    int64_t cover = row_covering_ts(&pr->hdr, e->ck, e->ck_len);
    int rc;

    row_resolve(e->row, cover, pr->now_s, pr->tombs ? ROW_KEEP : ROW_LIVE);
    if (pr->tombs ? row_empty(e->row) : e->row->n == 0)
        return 0;
    rc = res_row(pr->x, e->ck, e->ck_len, e->row);
    return rc == 0 ? 1 : rc;
}

static int same_pk(const struct mentry *e, int64_t token, const uint8_t *pk,
                   size_t pk_len)
{
    return e->token == token && bytes_cmp(e->pk, e->pk_len, pk, pk_len) == 0;
}

/*
 * read_rows -- rows of partition (token, pk) from the merge's current
 * entry `e` (rc: merge_next's result for it) on, skipping rows before
 * `start` (and `start` itself when `after`), up to `end` (empty: no
 * end), into the current result partition. Returns 0, or 1 when the
 * limit stopped it with more rows to come.
 */
static int read_rows(struct preader *pr, int rc, struct mentry *e,
                     int64_t token, const uint8_t *pk, size_t pk_len,
                     struct storage_bytes start, int after,
                     struct storage_bytes end)
{
    for (; rc == 1; rc = merge_next(pr->m, e)) {
        if (!same_pk(e, token, pk, pk_len) || e->is_header)
            return 0;
        if (start.n > 0 || after) {
            int c = bytes_cmp(e->ck, e->ck_len, start.p, start.n);
            if (c < 0 || (after && c == 0))
                continue;
        }
        if (end.n > 0 && bytes_cmp(e->ck, e->ck_len, end.p, end.n) > 0)
            return 0;
        if (!pr->unlimited && pr->limit == 0) {
            /* One more row exists if it shows. */
            int64_t cover = row_covering_ts(&pr->hdr, e->ck, e->ck_len);
            row_resolve(e->row, cover, pr->now_s,
                        pr->tombs ? ROW_KEEP : ROW_LIVE);
            if (pr->tombs ? !row_empty(e->row) : e->row->n > 0)
                return 1;
            continue;
        }
        rc = emit_row(pr, e);
        if (rc < 0)
            return rc;
        if (rc == 1)
            pr->limit--;
        rc = 1;
    }
    return rc;
}

/*
 * read_one -- header and rows of one partition, with one seek when the
 * rows wanted start at the partition's start. Returns 1 when the limit
 * stopped it. The partition is dropped from the result if it shows
 * nothing.
 */
static int read_one(struct preader *pr, int64_t token, const uint8_t *pk,
                    size_t pk_len, struct storage_bytes start, int after,
                    struct storage_bytes end)
{
    struct storage_result *r = &pr->x->r;
    struct mentry e;
    int rc = merge_seek(pr->m, token, pk, pk_len, NULL, 0,
                        MSEEK_HEADER | MSEEK_EXACT),
        more;

    row_header_reset(&pr->hdr);
    if (rc == 0)
        rc = merge_next(pr->m, &e);
    if (rc == 1 && e.is_header && same_pk(&e, token, pk, pk_len)) {
        rc = keep_header(pr, e.hdr);
        if (rc == 0)
            rc = merge_next(pr->m, &e);
    }
    if (rc == 1 && (start.n > 0 || after) && same_pk(&e, token, pk, pk_len) &&
        bytes_cmp(e.ck, e.ck_len, start.p, start.n) < 0) {
        /* The slice starts deep inside: skip there by seeking. */
        rc =
            merge_seek(pr->m, token, pk, pk_len, start.p, start.n, MSEEK_EXACT);
        if (rc == 0)
            rc = merge_next(pr->m, &e);
    }
    if (rc < 0)
        return rc;
    more = res_part(pr->x, token, pk, pk_len, &pr->hdr, pr->tombs);
    if (more == 0)
        more = read_rows(pr, rc, &e, token, pk, pk_len, start, after, end);
    if (more < 0)
        return more;
    if (r->parts[r->nparts - 1].nrows == 0 &&
        !(pr->tombs && !row_header_empty(&pr->hdr))) {
        mem_free(r->parts[r->nparts - 1].rows);
        r->nparts--;
    }
    return more;
}

static void set_resume(struct res *x)
{
    struct storage_partition *p;

    if (x->r.nparts == 0)
        return;
    p = &x->r.parts[x->r.nparts - 1];
    x->r.more = 1;
    x->r.resume_pkey = p->pkey;
    if (p->nrows > 0)
        x->r.resume_ck = p->rows[p->nrows - 1].ck;
}

static int preader_init(struct preader *pr, struct storage *s, struct merge *m,
                        struct res *x, uint32_t limit, int tombs)
{
    memset(pr, 0, sizeof(*pr));
    pr->s = s;
    pr->m = m;
    pr->x = x;
    pr->now_s = engine_now_s(s);
    pr->tombs = tombs;
    pr->limit = limit;
    pr->unlimited = limit == 0;
    row_header_init(&pr->hdr);
    buf_init(&pr->hbytes, MEM_STORAGE);
    return 0;
}

static void preader_free(struct preader *pr)
{
    row_header_free(&pr->hdr);
    buf_free(&pr->hbytes);
}

static int finish(int rc, struct res *x, struct storage_result **out)
{
    if (rc < 0) {
        storage_result_free(&x->r);
        return rc;
    }
    *out = &x->r;
    return 0;
}

int storage_read_partition(struct storage *s, const struct storage_read *r,
                           struct storage_result **out)
{
    int64_t token = token_of(r->pkey.p, r->pkey.n);
    struct storage_bytes start = r->has_after ? r->after : r->ck_start;
    struct snap sn;
    struct merge m;
    struct preader pr;
    struct res *x;
    int rc;

    *out = NULL;
    if (r->pkey.n > STORAGE_MAX_KEY)
        return err_set(CAIRN_ETOOBIG, "partition key over %d bytes",
                       STORAGE_MAX_KEY);
    rc = snap_take(s, r->table_id, r->pkey.p, r->pkey.n, token, token, &sn);
    if (rc != 0)
        return rc;
    rc = res_new(&x);
    if (rc == 0 && (rc = merge_init(&m, sn.src, sn.n)) != 0)
        storage_result_free(&x->r);
    if (rc != 0) {
        snap_free(&sn);
        return rc;
    }
    if (r->has_after && r->ck_start.n > 0 &&
        bytes_cmp(r->after.p, r->after.n, r->ck_start.p, r->ck_start.n) < 0)
        start = r->ck_start; /* resume point before the slice: use it */
    preader_init(&pr, s, &m, x, r->limit_rows, r->include_tombstones);
    rc = read_one(&pr, token, r->pkey.p, r->pkey.n, start,
                  r->has_after && start.p == r->after.p, r->ck_end);
    if (rc == 1)
        set_resume(x);
    preader_free(&pr);
    merge_free(&m);
    snap_free(&sn);
    return finish(rc, x, out);
}

/* next_partition -- the first partition at or after (token, pk) (pk NULL:
 * from the token on; `skip`: strictly after pk). 1 and its key copied to
 * *key, 0 when none is left before `hi`. */
static int next_partition(struct merge *m, int64_t *token, struct buf *key,
                          int skip, int64_t hi)
{
    struct mentry e;
    int rc;

    if (skip) {
        /* The smallest key above pk is pk followed by a zero byte. */
        rc = buf_put_u8(key, 0);
        if (rc != 0)
            return rc;
    }
    rc = merge_seek(m, *token, key->len || skip ? key->data : NULL, key->len,
                    NULL, 0, 1);
    if (rc == 0)
        rc = merge_next(m, &e);
    if (rc <= 0)
        return rc;
    if (e.token > hi)
        return 0;
    *token = e.token;
    buf_reset(key);
    rc = buf_append(key, e.pk, e.pk_len);
    return rc == 0 ? 1 : rc;
}

static int scan_loop(struct preader *pr, const struct storage_scan *sc)
{
    struct storage_bytes none = {(const uint8_t *)"", 0};
    struct buf key;
    int64_t token = sc->token_start;
    int skip = 0, rc = 0;

    buf_init(&key, MEM_STORAGE);
    if (sc->has_after) {
        token = token_of(sc->after_pkey.p, sc->after_pkey.n);
        rc = buf_append(&key, sc->after_pkey.p, sc->after_pkey.n);
        if (rc == 0 && token >= sc->token_start && token <= sc->token_end)
            rc = read_one(pr, token, sc->after_pkey.p, sc->after_pkey.n,
                          sc->after_ck, 1, none);
        skip = 1;
    }
    while (rc == 0 && (pr->unlimited || pr->limit > 0)) {
        rc = next_partition(pr->m, &token, &key, skip, sc->token_end);
        if (rc <= 0)
            break;
        skip = 1;
        rc = read_one(pr, token, key.data, key.len, none, 0, none);
    }
    if (rc == 0 && !pr->unlimited && pr->limit == 0) {
        /* The limit ran out at a partition's end: anything after it? */
        rc = next_partition(pr->m, &token, &key, skip, sc->token_end);
    }
    buf_free(&key);
    return rc;
}

int storage_scan(struct storage *s, const struct storage_scan *sc,
                 struct storage_result **out)
{
    struct snap sn;
    struct merge m;
    struct preader pr;
    struct res *x;
    int rc;

    *out = NULL;
    if (sc->token_start > sc->token_end)
        return err_set(-EINVAL, "scan: token_start is after token_end");
    rc = snap_take(s, sc->table_id, NULL, 0, sc->token_start, sc->token_end,
                   &sn);
    if (rc != 0)
        return rc;
    rc = res_new(&x);
    if (rc == 0 && (rc = merge_init(&m, sn.src, sn.n)) != 0)
        storage_result_free(&x->r);
    if (rc != 0) {
        snap_free(&sn);
        return rc;
    }
    preader_init(&pr, s, &m, x, sc->limit_rows, sc->include_tombstones);
    rc = scan_loop(&pr, sc);
    if (rc == 1)
        set_resume(x);
    preader_free(&pr);
    merge_free(&m);
    snap_free(&sn);
    return finish(rc, x, out);
}
