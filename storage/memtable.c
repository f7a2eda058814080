/*
 * memtable.c -- the concurrent skiplist behind a memtable (see
 * memtable.h).
 *
 * Order of entries inside a partition (token, key): the partition
 * tombstones, then range tombstones by (start, end), then per clustering
 * key the row tombstones and then the cells by column; equal keys by
 * insertion sequence, newest first. That is the order merge sources must
 * yield, so a flush is one walk of the bottom level.
 */
#include "storage/memtable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

#define MT_MAX_HEIGHT 16
#define MT_CHUNK_MIN  (4u << 10) /* first arena chunk */
#define MT_CHUNK      (1u << 20) /* arena chunks double up to this */

enum { K_PDEL = 0, K_RANGE = 1, K_ROWDEL = 2, K_CELL = 3 };

struct mt_node {
    int64_t token;
    const uint8_t *pk, *ck, *col, *val; /* range: col holds the end */
    uint32_t pk_len, ck_len, col_len, val_len;
    int64_t ts;
    int64_t aux; /* cell: expires_s; tombstones: deleted_s */
    uint64_t seq;
    uint8_t kind;
    uint8_t flag; /* cell: tombstone; range: open end */
    uint8_t height;
    _Atomic(struct mt_node *) next[];
};

struct mt_chunk {
    struct mt_chunk *prev;
    size_t used, cap;
    uint8_t data[];
};

struct memtable {
    atomic_int refs;
    pthread_mutex_t mu; /* writers */
    struct mt_chunk *chunk;
    atomic_size_t bytes;
    _Atomic size_t *acct;
    atomic_uint_fast64_t entries;
    _Atomic int64_t min_ts;
    uint64_t seq;
    uint64_t rnd;
    atomic_int height;
    struct mt_node *head;
};

/* ---- arena ---- */

static void *arena_alloc(struct memtable *m, size_t n)
{
    struct mt_chunk *c = m->chunk;
    size_t need = (n + 7) & ~(size_t)7;
    void *p;

    if (c == NULL || c->cap - c->used < need) {
        /* Chunks grow with the memtable, so a small one stays small. */
        size_t grow = c == NULL               ? MT_CHUNK_MIN
                      : c->cap * 2 > MT_CHUNK ? MT_CHUNK
                                              : c->cap * 2;
        size_t cap = need > grow / 4 ? need : grow;
        c = mem_alloc(MEM_MEMTABLE, sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        if (cap == need && m->chunk != NULL) {
            /* A big value gets its own chunk behind the current one. */
            c->prev = m->chunk->prev;
            m->chunk->prev = c;
        } else {
            c->prev = m->chunk;
            m->chunk = c;
        }
        atomic_fetch_add(&m->bytes, sizeof(*c) + cap);
        if (m->acct != NULL)
            atomic_fetch_add(m->acct, sizeof(*c) + cap);
    }
    p = c->data + c->used;
    c->used += need;
    return p;
}

static const uint8_t *arena_copy(struct memtable *m, const uint8_t *p, size_t n)
{
    uint8_t *d;

    if (n == 0)
        return (const uint8_t *)"";
    d = arena_alloc(m, n);
    if (d != NULL)
        memcpy(d, p, n);
    return d;
}

/* ---- comparisons ---- */

static int bcmp_(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

static int sect(uint8_t kind)
{
    return kind < K_ROWDEL ? kind : 2;
}

static int node_cmp(const struct mt_node *a, const struct mt_node *b)
{
    int c;

    if (a->token != b->token)
        return a->token < b->token ? -1 : 1;
    if (a->pk != b->pk && (c = bcmp_(a->pk, a->pk_len, b->pk, b->pk_len)))
        return c;
    if (sect(a->kind) != sect(b->kind))
        return sect(a->kind) < sect(b->kind) ? -1 : 1;
    if ((c = bcmp_(a->ck, a->ck_len, b->ck, b->ck_len)) != 0)
        return c;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if ((c = bcmp_(a->col, a->col_len, b->col, b->col_len)) != 0)
        return c;
    if (a->seq != b->seq)
        return a->seq > b->seq ? -1 : 1;
    return 0;
}

/* ---- the skiplist ---- */

static struct mt_node *nxt(struct mt_node *n, int level)
{
    return atomic_load_explicit(&n->next[level], memory_order_acquire);
}

/* find_ge -- first node >= key; fills prev[] when asked (writers). */
static struct mt_node *find_ge(struct memtable *m, const struct mt_node *key,
                               struct mt_node **prev)
{
    struct mt_node *x = m->head, *n = NULL;
    int level = atomic_load_explicit(&m->height, memory_order_acquire) - 1;

    for (; level >= 0; level--) {
        for (;;) {
            n = nxt(x, level);
            if (n == NULL || node_cmp(n, key) >= 0)
                break;
            x = n;
        }
        if (prev != NULL)
            prev[level] = x;
    }
    return n;
}

static int random_height(struct memtable *m)
{
    int h = 1;

    while (h < MT_MAX_HEIGHT) {
        m->rnd ^= m->rnd << 13;
        m->rnd ^= m->rnd >> 7;
        m->rnd ^= m->rnd << 17;
        if ((m->rnd & 3) != 0)
            break;
        h++;
    }
    return h;
}

/* insert_locked -- link a filled-in node (key fields set) in place. */
static void insert_locked(struct memtable *m, struct mt_node *n)
{
    struct mt_node *prev[MT_MAX_HEIGHT];
    int h = atomic_load_explicit(&m->height, memory_order_relaxed);

    find_ge(m, n, prev);
    for (int i = h; i < n->height; i++)
        prev[i] = m->head;
    if (n->height > h)
        atomic_store_explicit(&m->height, n->height, memory_order_release);
    for (int i = 0; i < n->height; i++) {
        atomic_store_explicit(&n->next[i], nxt(prev[i], i),
                              memory_order_relaxed);
        atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
    }
}

int memtable_new(_Atomic size_t *acct, struct memtable **out)
{
    struct memtable *m = mem_calloc(MEM_MEMTABLE, 1, sizeof(*m));

    *out = NULL;
    if (m == NULL)
        return err_set(-ENOMEM, "memtable: out of memory");
    atomic_init(&m->refs, 1);
    m->acct = acct;
    pthread_mutex_init(&m->mu, NULL);
    atomic_init(&m->height, 1);
    atomic_init(&m->min_ts, INT64_MAX);
    m->rnd = (uint64_t)(uintptr_t)m | 1;
    m->head = arena_alloc(m, sizeof(struct mt_node) +
                                 MT_MAX_HEIGHT * sizeof(struct mt_node *));
    if (m->head == NULL) {
        memtable_unref(m);
        return err_set(-ENOMEM, "memtable: out of memory");
    }
    memset(m->head, 0,
           sizeof(struct mt_node) + MT_MAX_HEIGHT * sizeof(struct mt_node *));
    m->head->height = MT_MAX_HEIGHT;
    *out = m;
    return 0;
}

void memtable_ref(struct memtable *m)
{
    atomic_fetch_add(&m->refs, 1);
}

void memtable_unref(struct memtable *m)
{
    struct mt_chunk *c, *p;

    if (m == NULL || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->acct != NULL)
        atomic_fetch_sub(m->acct, atomic_load(&m->bytes));
    for (c = m->chunk; c != NULL; c = p) {
        p = c->prev;
        mem_free(c);
    }
    pthread_mutex_destroy(&m->mu);
    mem_free(m);
}

size_t memtable_bytes(const struct memtable *m)
{
    return atomic_load(&m->bytes);
}

uint64_t memtable_entries(const struct memtable *m)
{
    return atomic_load(&m->entries);
}

int64_t memtable_min_ts(const struct memtable *m)
{
    return atomic_load(&m->min_ts);
}

static uint8_t mut_kind(const struct storage_mut *mu)
{
    switch (mu->kind) {
    case STORAGE_MUT_PARTITION_DELETE:
        return K_PDEL;
    case STORAGE_MUT_RANGE_DELETE:
        return K_RANGE;
    case STORAGE_MUT_ROW_DELETE:
        return K_ROWDEL;
    default:
        return K_CELL;
    }
}

/* make_node -- a node for one mutation, its bytes in the arena; `pk` is
 * already there (shared by the whole batch). */
static struct mt_node *make_node(struct memtable *m, int64_t token,
                                 const uint8_t *pk, size_t pk_len,
                                 const struct storage_mut *mu)
{
    int h = random_height(m);
    struct mt_node *n =
        arena_alloc(m, sizeof(*n) + (size_t)h * sizeof(struct mt_node *));
    uint8_t k = mut_kind(mu);

    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->token = token;
    n->pk = pk;
    n->pk_len = (uint32_t)pk_len;
    n->kind = k;
    n->height = (uint8_t)h;
    n->ts = mu->ts;
    n->seq = ++m->seq;
    if (k == K_PDEL) {
        n->ck = n->col = (const uint8_t *)"";
        n->aux = mu->deleted_s;
        return n;
    }
    n->ck = arena_copy(m, mu->ck.p, mu->ck.n);
    n->ck_len = (uint32_t)mu->ck.n;
    if (k == K_RANGE) {
        n->col = arena_copy(m, mu->ck_end.p, mu->ck_end.n);
        n->col_len = (uint32_t)mu->ck_end.n;
        n->flag = mu->ck_end.n == 0;
        n->aux = mu->deleted_s;
    } else if (k == K_ROWDEL) {
        n->col = (const uint8_t *)"";
        n->aux = mu->deleted_s;
    } else {
        n->col = arena_copy(m, mu->column.p, mu->column.n);
        n->col_len = (uint32_t)mu->column.n;
        n->flag = mu->kind == STORAGE_MUT_CELL_DELETE;
        n->aux = n->flag ? mu->deleted_s : mu->expires_s;
        if (!n->flag) {
            n->val = arena_copy(m, mu->value.p, mu->value.n);
            n->val_len = (uint32_t)mu->value.n;
        }
    }
    if (n->ck == NULL || n->col == NULL ||
        (!n->flag && k == K_CELL && n->val == NULL))
        return NULL;
    return n;
}

/* shared_pk -- bytes of this partition key already in the list, if any,
 * so a wide partition stores its key once. */
static const uint8_t *shared_pk(struct memtable *m, int64_t token,
                                const uint8_t *pk, size_t pk_len)
{
    struct mt_node key = {0}, *n;

    key.token = token;
    key.pk = pk;
    key.pk_len = (uint32_t)pk_len;
    key.ck = key.col = (const uint8_t *)"";
    key.seq = UINT64_MAX;
    n = find_ge(m, &key, NULL);
    if (n != NULL && n->token == token && n->pk_len == pk_len &&
        memcmp(n->pk, pk, pk_len) == 0)
        return n->pk;
    return arena_copy(m, pk, pk_len);
}

int memtable_apply(struct memtable *m, int64_t token, const uint8_t *pk,
                   size_t pk_len, const struct storage_mut *muts, size_t nmuts)
{
    const uint8_t *kp;
    int64_t min_ts = INT64_MAX;
    int rc = 0;

    pthread_mutex_lock(&m->mu);
    kp = shared_pk(m, token, pk, pk_len);
    for (size_t i = 0; kp != NULL && i < nmuts; i++) {
        struct mt_node *n = make_node(m, token, kp, pk_len, &muts[i]);
        if (n == NULL) {
            rc = err_set(-ENOMEM, "memtable: out of memory");
            break;
        }
        insert_locked(m, n);
        if (muts[i].ts < min_ts)
            min_ts = muts[i].ts;
    }
    if (kp == NULL)
        rc = err_set(-ENOMEM, "memtable: out of memory");
    atomic_fetch_add(&m->entries, nmuts);
    if (min_ts < atomic_load(&m->min_ts))
        atomic_store(&m->min_ts, min_ts);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- the merge source ---- */

struct mt_src {
    struct msrc base;
    struct memtable *m;
    struct mt_node *n; /* next node to read */
    struct row row;
    struct row_header hdr;
};

static int src_seek(struct msrc *s, int64_t token, const uint8_t *pk,
                    size_t pk_len, const uint8_t *ck, size_t ck_len,
                    int with_header)
{
    struct mt_src *ms = (struct mt_src *)s;
    struct mt_node key = {0};

    key.token = token;
    key.pk = pk != NULL ? pk : (const uint8_t *)"";
    key.pk_len = pk != NULL ? (uint32_t)pk_len : 0;
    key.kind = with_header || pk == NULL ? K_PDEL : K_ROWDEL;
    key.ck = ck != NULL ? ck : (const uint8_t *)"";
    key.ck_len = ck != NULL ? (uint32_t)ck_len : 0;
    key.col = (const uint8_t *)"";
    key.seq = UINT64_MAX;
    if (key.kind == K_PDEL)
        key.ck_len = 0; /* with_header: from the partition's start */
    ms->n = find_ge(ms->m, &key, NULL);
    return 0;
}

static int same_part(const struct mt_node *a, const struct mt_node *b)
{
    return a->token == b->token &&
           (a->pk == b->pk || bcmp_(a->pk, a->pk_len, b->pk, b->pk_len) == 0);
}

static int src_next(struct msrc *s, struct mentry *e)
{
    struct mt_src *ms = (struct mt_src *)s;
    struct mt_node *n = ms->n, *first = n;
    int rc = 0;

    if (n == NULL)
        return 0;
    memset(e, 0, sizeof(*e));
    e->token = n->token;
    e->pk = n->pk;
    e->pk_len = n->pk_len;
    if (n->kind < K_ROWDEL) {
        row_header_reset(&ms->hdr);
        for (;
             rc == 0 && n != NULL && n->kind < K_ROWDEL && same_part(n, first);
             n = nxt(n, 0)) {
            if (n->kind == K_PDEL) {
                row_header_put_del(&ms->hdr, n->ts, n->aux);
                continue;
            }
            struct row_range g = {n->ck,   n->col, n->ck_len, n->col_len,
                                  n->flag, n->ts,  n->aux};
            rc = row_header_put_range(&ms->hdr, &g);
        }
        e->is_header = 1;
        e->ck = (const uint8_t *)"";
        e->hdr = &ms->hdr;
        ms->n = n;
        return rc == 0 ? 1 : rc;
    }
    row_reset(&ms->row);
    for (; rc == 0 && n != NULL && n->kind >= K_ROWDEL && same_part(n, first) &&
           bcmp_(n->ck, n->ck_len, first->ck, first->ck_len) == 0;
         n = nxt(n, 0)) {
        if (n->kind == K_ROWDEL) {
            row_put_del(&ms->row, n->ts, n->aux);
            continue;
        }
        struct row_cell c = {n->col,
                             n->val,
                             n->col_len,
                             n->val_len,
                             n->ts,
                             n->flag ? 0 : n->aux,
                             n->flag ? n->aux : 0,
                             n->flag};
        rc = row_put_cell(&ms->row, &c);
    }
    e->ck = first->ck;
    e->ck_len = first->ck_len;
    e->row = &ms->row;
    ms->n = n;
    return rc == 0 ? 1 : rc;
}

static void src_close(struct msrc *s)
{
    struct mt_src *ms = (struct mt_src *)s;

    memtable_unref(ms->m);
    row_free(&ms->row);
    row_header_free(&ms->hdr);
    mem_free(ms);
}

static const struct msrc_ops mt_src_ops = {src_seek, src_next, src_close};

int memtable_src_new(struct memtable *m, struct msrc **out)
{
    struct mt_src *s = mem_calloc(MEM_STORAGE, 1, sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return err_set(-ENOMEM, "memtable: out of memory");
    s->base.ops = &mt_src_ops;
    s->m = m;
    memtable_ref(m);
    row_init(&s->row);
    row_header_init(&s->hdr);
    *out = &s->base;
    return 0;
}
