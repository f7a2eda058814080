/*
 * merkle.c -- building Merkle trees from storage scans and comparing them.
 */
#include "server/merkle.h"

#include <string.h>
#include <xxhash.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"
#include "server/coord/resolve.h"
#include "storage/storage.h"

#define MERKLE_PAGE_ROWS 512

typedef unsigned __int128 u128;

static u128 span(const struct merkle *m)
{
    return (u128)((uint64_t)m->end - (uint64_t)m->start) + 1;
}

int merkle_init(struct merkle *m, int64_t start, int64_t end, int depth)
{
    size_t leaves;
    uint64_t empty = XXH3_64bits(NULL, 0);

    memset(m, 0, sizeof(*m));
    if (start > end || depth < 0 || depth > MERKLE_MAX_DEPTH)
        return err_set(-EINVAL, "merkle: bad range or depth %d", depth);
    leaves = (size_t)1 << depth;
    m->start = start;
    m->end = end;
    m->depth = depth;
    m->node = mem_calloc(MEM_SERVER, 2 * leaves, sizeof(*m->node));
    m->parts = mem_calloc(MEM_SERVER, leaves, sizeof(*m->parts));
    if (!m->node || !m->parts) {
        merkle_free(m);
        return err_set(-ENOMEM, "merkle: no memory for %zu leaves", leaves);
    }
    for (size_t i = 0; i < leaves; i++)
        m->node[leaves + i] = empty;
    return merkle_set_leaves(m, m->node + leaves, leaves);
}

void merkle_free(struct merkle *m)
{
    mem_free(m->node);
    mem_free(m->parts);
    m->node = NULL;
    m->parts = NULL;
}

size_t merkle_leaf_of(const struct merkle *m, int64_t token)
{
    u128 off = (uint64_t)token - (uint64_t)m->start;

    return (size_t)((off << m->depth) / span(m));
}

/* first -- the offset of leaf i's first token: ceil(i * span / leaves). */
static uint64_t first(const struct merkle *m, size_t i)
{
    u128 leaves = (u128)1 << m->depth;

    return (uint64_t)(((u128)i * span(m) + leaves - 1) / leaves);
}

void merkle_leaf_range(const struct merkle *m, size_t i, int64_t *start,
                       int64_t *end)
{
    *start = (int64_t)((uint64_t)m->start + first(m, i));
    *end = (int64_t)((uint64_t)m->start + first(m, i + 1) - 1);
}

int merkle_set_leaves(struct merkle *m, const uint64_t *leaves, size_t n)
{
    size_t nl = (size_t)1 << m->depth;

    if (n != nl)
        return err_set(-EINVAL, "merkle: %zu leaves for depth %d", n, m->depth);
    memmove(m->node + nl, leaves, nl * sizeof(*leaves));
    for (size_t i = nl - 1; i >= 1; i--) {
        uint8_t kids[16];
        enc_u64be(kids, m->node[2 * i]);
        enc_u64be(kids + 8, m->node[2 * i + 1]);
        m->node[i] = XXH3_64bits(kids, sizeof(kids));
    }
    return 0;
}

/* ---- building ---- */

struct builder {
    struct merkle *m;
    XXH3_state_t *st;
    size_t leaf; /* leaf being hashed; SIZE_MAX before the first */
};

static void finish_leaf(struct builder *b)
{
    if (b->leaf != SIZE_MAX)
        b->m->node[((size_t)1 << b->m->depth) + b->leaf] =
            XXH3_64bits_digest(b->st);
}

static int add_part(struct builder *b, const struct storage_partition *p)
{
    size_t leaf = merkle_leaf_of(b->m, p->token);
    uint64_t d;
    uint8_t enc[8];
    int rc = coord_resolve_digest(p, &d);

    if (rc)
        return rc;
    if (leaf != b->leaf) {
        finish_leaf(b);
        XXH3_64bits_reset(b->st);
        b->leaf = leaf;
    }
    enc_u64be(enc, d);
    XXH3_64bits_update(b->st, enc, sizeof(enc));
    b->m->parts[leaf]++;
    return 0;
}

/*
 * add_whole -- a partition the page limit cut: read it whole and add it;
 * *last_ck is where the scan resumes (after its last row).
 */
static int add_whole(struct storage *s, struct builder *b, uint64_t table_id,
                     const struct storage_partition *cut,
                     struct storage_result **whole)
{
    struct storage_read rd = {
        .table_id = table_id, .pkey = cut->pkey, .include_tombstones = 1};
    int rc = storage_read_partition(s, &rd, whole);

    if (rc)
        return rc;
    if ((*whole)->nparts == 0)
        return 0;
    (*whole)->parts[0].token = cut->token;
    return add_part(b, &(*whole)->parts[0]);
}

/* resume -- set the scan to continue after the whole of partition `p`. */
static int resume(struct storage_scan *sc, const struct storage_partition *p,
                  uint8_t **keep, size_t *keep_n)
{
    const struct storage_row *last = p->nrows ? &p->rows[p->nrows - 1] : NULL;
    size_t ck_n = last ? last->ck.n : 0;
    uint8_t *k = mem_alloc(MEM_SERVER, p->pkey.n + ck_n + 1);

    if (!k)
        return err_set(-ENOMEM, "merkle: no memory");
    memcpy(k, p->pkey.p, p->pkey.n);
    if (ck_n)
        memcpy(k + p->pkey.n, last->ck.p, ck_n);
    mem_free(*keep);
    *keep = k;
    *keep_n = p->pkey.n + ck_n;
    sc->after_pkey = (struct storage_bytes){k, p->pkey.n};
    sc->after_ck = (struct storage_bytes){k + p->pkey.n, ck_n};
    sc->has_after = 1;
    return 0;
}

static int scan_page(struct storage *s, struct builder *b,
                     struct storage_scan *sc, uint8_t **keep, size_t *keep_n,
                     int *more)
{
    struct storage_result *res = NULL, *whole = NULL;
    int rc = storage_scan(s, sc, &res);

    *more = 0;
    if (rc)
        return rc;
    for (size_t i = 0; !rc && i < res->nparts; i++) {
        const struct storage_partition *p = &res->parts[i];
        if (res->more && i == res->nparts - 1) {
            rc = add_whole(s, b, sc->table_id, p, &whole);
            const struct storage_partition *w =
                whole && whole->nparts ? &whole->parts[0] : p;
            rc = rc ? rc : resume(sc, w, keep, keep_n);
            *more = 1;
        } else {
            rc = add_part(b, p);
        }
    }
    storage_result_free(whole);
    storage_result_free(res);
    return rc;
}

int merkle_build(struct storage *s, uint64_t table_id, int64_t start,
                 int64_t end, int depth, struct merkle *m)
{
    struct storage_scan sc = {.table_id = table_id,
                              .token_start = start,
                              .token_end = end,
                              .limit_rows = MERKLE_PAGE_ROWS,
                              .include_tombstones = 1};
    struct builder b = {.m = m, .leaf = SIZE_MAX};
    uint8_t *keep = NULL;
    size_t keep_n = 0;
    int rc = merkle_init(m, start, end, depth), more = 1;

    if (rc)
        return rc;
    b.st = XXH3_createState();
    if (!b.st)
        rc = err_set(-ENOMEM, "merkle: no memory");
    while (!rc && more)
        rc = scan_page(s, &b, &sc, &keep, &keep_n, &more);
    if (!rc) {
        finish_leaf(&b);
        rc = merkle_set_leaves(m, m->node + ((size_t)1 << depth),
                               (size_t)1 << depth);
    }
    XXH3_freeState(b.st);
    mem_free(keep);
    if (rc)
        merkle_free(m);
    return rc;
}

/* ---- comparing ---- */

int merkle_diff(const struct merkle *a, const struct merkle *b,
                struct merkle_range **out, size_t *n)
{
    size_t nl = (size_t)1 << a->depth, k = 0;
    struct merkle_range *v;

    *out = NULL;
    *n = 0;
    if (a->start != b->start || a->end != b->end || a->depth != b->depth)
        return err_set(-EINVAL, "merkle: trees over different ranges");
    if (a->node[1] == b->node[1])
        return 0;
    v = mem_calloc(MEM_SERVER, nl, sizeof(*v));
    if (!v)
        return err_set(-ENOMEM, "merkle: no memory");
    for (size_t i = 0; i < nl; i++) {
        int64_t s, e;
        if (a->node[nl + i] == b->node[nl + i])
            continue;
        merkle_leaf_range(a, i, &s, &e);
        if (k && v[k - 1].end != INT64_MAX && v[k - 1].end + 1 == s)
            v[k - 1].end = e;
        else
            v[k++] = (struct merkle_range){s, e};
    }
    *out = v;
    *n = k;
    return 0;
}
