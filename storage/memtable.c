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
    /* The tower of next pointers sits just before the node (level i at
     * link(n, i)), so a search touches the key and its link in one or
     * two cache lines. */
};

typedef _Atomic(struct mt_node *) mt_link;

static inline mt_link *link_of(struct mt_node *n, int level)
{
    return (mt_link *)n - 1 - level;
}

struct mt_chunk {
    struct mt_chunk *prev;
    size_t used, cap;
    uint8_t data[];
};

/* A partition in the hash index: its first node in skiplist order. */
struct mt_hent {
    _Atomic(struct mt_hent *) next;
    int64_t token;
    _Atomic(struct mt_node *) first;
};

struct memtable {
    atomic_int refs;
    _Atomic(struct mt_hent *) *buckets;
    size_t mask;
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
    return atomic_load_explicit(link_of(n, level), memory_order_acquire);
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

/* link_locked -- link node n (height set) after the predecessors found
 * by find_ge(); writers hold the mutex. */
static void link_locked(struct memtable *m, struct mt_node *n,
                        struct mt_node **prev)
{
    int h = atomic_load_explicit(&m->height, memory_order_relaxed);

    for (int i = h; i < n->height; i++)
        prev[i] = m->head;
    if (n->height > h)
        atomic_store_explicit(&m->height, n->height, memory_order_release);
    for (int i = 0; i < n->height; i++) {
        atomic_store_explicit(link_of(n, i), nxt(prev[i], i),
                              memory_order_relaxed);
        atomic_store_explicit(link_of(prev[i], i), n, memory_order_release);
    }
}

/* node_alloc -- room for a node of height h with its tower before it. */
static struct mt_node *node_alloc(struct memtable *m, int h)
{
    size_t tower = (size_t)h * sizeof(mt_link);
    uint8_t *p = arena_alloc(m, tower + sizeof(struct mt_node));

    if (p == NULL)
        return NULL;
    memset(p, 0, tower + sizeof(struct mt_node));
    return (struct mt_node *)(p + tower);
}

int memtable_new(_Atomic size_t *acct, size_t expect_bytes,
                 struct memtable **out)
{
    size_t nb = 1024;
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
    /* About one bucket per KiB of memtable: 512 KiB of buckets for the
     * default 64 MiB, chains of a few entries when it is full. */
    while (nb < expect_bytes / 1024 && nb < (1u << 20))
        nb *= 2;
    m->buckets = arena_alloc(m, nb * sizeof(*m->buckets));
    if (m->buckets != NULL) {
        memset(m->buckets, 0, nb * sizeof(*m->buckets));
        m->mask = nb - 1;
    }
    m->head = m->buckets ? node_alloc(m, MT_MAX_HEIGHT) : NULL;
    if (m->head == NULL) {
        memtable_unref(m);
        return err_set(-ENOMEM, "memtable: out of memory");
    }
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

/* key_of -- the node key of a mutation, pointing at the caller's bytes. */
static void key_of(struct mt_node *k, int64_t token, const uint8_t *pk,
                   size_t pk_len, const struct storage_mut *mu, uint64_t seq)
{
    uint8_t kind = mut_kind(mu);

    memset(k, 0, sizeof(*k));
    k->token = token;
    k->pk = pk;
    k->pk_len = (uint32_t)pk_len;
    k->kind = kind;
    k->ts = mu->ts;
    k->seq = seq;
    k->ck = k->col = (const uint8_t *)"";
    if (kind == K_PDEL) {
        k->aux = mu->deleted_s;
        return;
    }
    k->ck = mu->ck.p ? mu->ck.p : (const uint8_t *)"";
    k->ck_len = (uint32_t)mu->ck.n;
    if (kind == K_RANGE) {
        k->col = mu->ck_end.p ? mu->ck_end.p : (const uint8_t *)"";
        k->col_len = (uint32_t)mu->ck_end.n;
        k->flag = mu->ck_end.n == 0;
        k->aux = mu->deleted_s;
    } else if (kind == K_ROWDEL) {
        k->aux = mu->deleted_s;
    } else {
        k->col = mu->column.p ? mu->column.p : (const uint8_t *)"";
        k->col_len = (uint32_t)mu->column.n;
        k->flag = mu->kind == STORAGE_MUT_CELL_DELETE;
        k->aux = k->flag ? mu->deleted_s : mu->expires_s;
        if (!k->flag) {
            k->val = mu->value.p;
            k->val_len = (uint32_t)mu->value.n;
        }
    }
}

static int same_pk_bytes(const struct mt_node *n, const struct mt_node *k)
{
    return n != NULL && n->token == k->token && n->pk_len == k->pk_len &&
           memcmp(n->pk, k->pk, k->pk_len) == 0;
}

/* ---- the partition index ---- */

static _Atomic(struct mt_hent *) *bucket_of(struct memtable *m, int64_t token)
{
    uint64_t h = (uint64_t)token * 0x9E3779B97F4A7C15ull;

    return &m->buckets[(h >> 20) & m->mask];
}

static struct mt_hent *hash_find(struct memtable *m, int64_t token,
                                 const uint8_t *pk, size_t pk_len)
{
    struct mt_hent *e =
        atomic_load_explicit(bucket_of(m, token), memory_order_acquire);

    for (; e != NULL;
         e = atomic_load_explicit(&e->next, memory_order_acquire)) {
        struct mt_node *n;
        if (e->token != token)
            continue;
        n = atomic_load_explicit(&e->first, memory_order_acquire);
        if (n->pk_len == pk_len && memcmp(n->pk, pk, pk_len) == 0)
            return e;
    }
    return NULL;
}

/* hash_first_locked -- n is now its partition's first node. */
static int hash_first_locked(struct memtable *m, struct mt_node *n)
{
    struct mt_hent *e = hash_find(m, n->token, n->pk, n->pk_len);
    _Atomic(struct mt_hent *) *b;

    if (e != NULL) {
        atomic_store_explicit(&e->first, n, memory_order_release);
        return 0;
    }
    e = arena_alloc(m, sizeof(*e));
    if (e == NULL)
        return err_set(-ENOMEM, "memtable: out of memory");
    b = bucket_of(m, n->token);
    e->token = n->token;
    atomic_init(&e->first, n);
    atomic_init(&e->next, atomic_load_explicit(b, memory_order_relaxed));
    atomic_store_explicit(b, e, memory_order_release);
    return 0;
}

/* insert_one -- one search, then the node and its bytes in the arena; a
 * neighbour in the same partition lends its key bytes. */
static int insert_one(struct memtable *m, const struct mt_node *k)
{
    struct mt_node *prev[MT_MAX_HEIGHT], *next, *n;
    const uint8_t *pk = NULL;
    int h = random_height(m);

    next = find_ge(m, k, prev);
    if (prev[0] != m->head && same_pk_bytes(prev[0], k))
        pk = prev[0]->pk;
    else if (same_pk_bytes(next, k))
        pk = next->pk;
    n = node_alloc(m, h);
    if (n == NULL)
        return err_set(-ENOMEM, "memtable: out of memory");
    *n = *k;
    n->height = (uint8_t)h;
    n->pk = pk != NULL ? pk : arena_copy(m, k->pk, k->pk_len);
    n->ck = arena_copy(m, k->ck, k->ck_len);
    n->col = arena_copy(m, k->col, k->col_len);
    if (k->kind == K_CELL && !k->flag)
        n->val = arena_copy(m, k->val, k->val_len);
    if (n->pk == NULL || n->ck == NULL || n->col == NULL ||
        (k->kind == K_CELL && !k->flag && n->val == NULL))
        return err_set(-ENOMEM, "memtable: out of memory");
    link_locked(m, n, prev);
    if (prev[0] == m->head || !same_pk_bytes(prev[0], n))
        return hash_first_locked(m, n);
    return 0;
}

int memtable_apply(struct memtable *m, int64_t token, const uint8_t *pk,
                   size_t pk_len, const struct storage_mut *muts, size_t nmuts)
{
    struct mt_node k;
    int64_t min_ts = INT64_MAX;
    int rc = 0;

    if (pk == NULL)
        pk = (const uint8_t *)"";
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; rc == 0 && i < nmuts; i++) {
        key_of(&k, token, pk, pk_len, &muts[i], ++m->seq);
        rc = insert_one(m, &k);
        if (muts[i].ts < min_ts)
            min_ts = muts[i].ts;
    }
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

/* seek_exact -- position at partition pk's nodes through the index
 * (rows from the start, or its header first); 1 if it could. */
static int seek_exact(struct mt_src *ms, int64_t token, const uint8_t *pk,
                      size_t pk_len, int header)
{
    struct mt_hent *e = hash_find(ms->m, token, pk, pk_len);
    struct mt_node *n;

    if (e == NULL) {
        ms->n = NULL; /* not here: nothing of this partition to yield */
        return 1;
    }
    n = atomic_load_explicit(&e->first, memory_order_acquire);
    while (!header && n != NULL && n->kind < K_ROWDEL && n->token == token &&
           n->pk_len == pk_len && memcmp(n->pk, pk, pk_len) == 0)
        n = nxt(n, 0);
    ms->n = n;
    return 1;
}

static int src_seek(struct msrc *s, int64_t token, const uint8_t *pk,
                    size_t pk_len, const uint8_t *ck, size_t ck_len, int flags)
{
    struct mt_src *ms = (struct mt_src *)s;
    int header = flags & MSEEK_HEADER;
    struct mt_node key = {0};

    if ((flags & MSEEK_EXACT) && pk != NULL && (header || ck_len == 0) &&
        seek_exact(ms, token, pk, pk_len, header))
        return 0;
    key.token = token;
    key.pk = pk != NULL ? pk : (const uint8_t *)"";
    key.pk_len = pk != NULL ? (uint32_t)pk_len : 0;
    key.kind = header || pk == NULL ? K_PDEL : K_ROWDEL;
    key.ck = ck != NULL ? ck : (const uint8_t *)"";
    key.ck_len = ck != NULL ? (uint32_t)ck_len : 0;
    key.col = (const uint8_t *)"";
    key.seq = UINT64_MAX;
    if (key.kind == K_PDEL)
        key.ck_len = 0; /* from the partition's start */
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
