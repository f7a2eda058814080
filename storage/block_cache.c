/*
 * block_cache.c -- a sharded LRU cache of uncompressed sstable blocks,
 * bounded in bytes.
 *
 * Each shard has its own mutex, chained hash table and LRU list, so
 * readers on different shards never contend; a shard holds at most its
 * share of the capacity. Entries are small handles allocated apart from
 * their block's bytes, so a lookup walks memory that stays in the CPU
 * caches; and a hit only marks its entry as referenced instead of moving
 * it in the list (which would touch two more entries): eviction gives a
 * referenced entry at the cold end a second chance, CLOCK-style. An entry
 * carries one reference for being in the cache plus one per pin; eviction drops
 * the cache's reference and the memory goes at the last release, so a reader
 * never sees a block vanish under it. Blocks of a closed sstable are not hunted
 * down: file ids are never reused, so they simply age out of the LRU.
 */
#include "storage/block_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "common/mem.h"
#include "storage/sstable.h"

#define BC_MAX_SHARDS  16
#define BC_SHARD_MIN   (4u * 1024 * 1024) /* below it, fewer shards */
#define BC_INIT_BUCKET 256

struct bc_entry {
    struct block_cache_block pub; /* first: callers hold &pub */
    atomic_uint refs;             /* 1 while cached + 1 per pin */
    bool referenced;              /* hit since last at the cold end */
    uint64_t file, off, hash;
    size_t charge;                /* bytes counted against the capacity */
    struct bc_entry *hnext;       /* hash chain */
    struct bc_entry *prev, *next; /* LRU: head is most recent */
    uint8_t *room;                /* the block's bytes, allocated apart */
};

struct bc_shard {
    pthread_mutex_t mu;
    struct bc_entry **tab; /* nbuckets chains, power of two */
    size_t nbuckets, count;
    struct bc_entry *head, *tail;
    size_t bytes, cap;
    uint64_t hits, misses;
    /* Keeps neighbouring shards' locks off one cache line; padding, not
     * alignment, since mem_alloc() guarantees only 16 bytes. */
    char pad[64];
};

struct block_cache {
    unsigned nshards;
    size_t capacity;
    struct bc_shard shards[BC_MAX_SHARDS];
};

static uint64_t bc_hash(uint64_t file, uint64_t off)
{
    uint64_t h = file * 0x9E3779B97F4A7C15ull ^ off;

    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h;
}

struct block_cache *block_cache_new(size_t capacity_bytes)
{
    struct block_cache *c = mem_calloc(MEM_CACHE, 1, sizeof(*c));
    unsigned n = BC_MAX_SHARDS;

    if (c == NULL)
        return NULL;
    while (n > 1 && capacity_bytes / n < BC_SHARD_MIN)
        n /= 2;
    c->nshards = n;
    c->capacity = capacity_bytes;
    for (unsigned i = 0; i < n; i++) {
        struct bc_shard *s = &c->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->cap = capacity_bytes / n;
        s->nbuckets = BC_INIT_BUCKET;
        s->tab = mem_calloc(MEM_CACHE, s->nbuckets, sizeof(*s->tab));
        if (s->tab == NULL) {
            c->nshards = i + 1;
            block_cache_free(c);
            return NULL;
        }
    }
    return c;
}

static void bc_unref(struct bc_entry *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        mem_free(e->room);
        mem_free(e);
    }
}

void block_cache_free(struct block_cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct bc_shard *s = &c->shards[i];
        for (struct bc_entry *e = s->head, *nx; e != NULL; e = nx) {
            nx = e->next;
            bc_unref(e);
        }
        mem_free(s->tab);
        pthread_mutex_destroy(&s->mu);
    }
    mem_free(c);
}

struct block_cache_block *block_cache_alloc(size_t n, uint8_t **room)
{
    struct bc_entry *e = mem_calloc(MEM_CACHE, 1, sizeof(*e));

    *room = NULL;
    if (e == NULL)
        return NULL;
    e->room = mem_alloc(MEM_CACHE, n ? n : 1);
    if (e->room == NULL) {
        mem_free(e);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    e->charge = sizeof(*e) + n;
    *room = e->room;
    return &e->pub;
}

void block_cache_discard(struct block_cache_block *b)
{
    bc_unref((struct bc_entry *)b);
}

void block_cache_release(struct block_cache_block *b)
{
    bc_unref((struct bc_entry *)b);
}

static struct bc_shard *bc_shard_of(struct block_cache *c, uint64_t h)
{
    return &c->shards[(h >> 59) & (c->nshards - 1)];
}

static void lru_unlink(struct bc_shard *s, struct bc_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct bc_shard *s, struct bc_entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head != NULL)
        s->head->prev = e;
    s->head = e;
    if (s->tail == NULL)
        s->tail = e;
}

static struct bc_entry **bc_slot(struct bc_shard *s, uint64_t file,
                                 uint64_t off, uint64_t h)
{
    struct bc_entry **pp = &s->tab[h & (s->nbuckets - 1)];

    while (*pp != NULL && ((*pp)->file != file || (*pp)->off != off))
        pp = &(*pp)->hnext;
    return pp;
}

struct block_cache_block *block_cache_lookup(struct block_cache *c,
                                             uint64_t file, uint64_t off)
{
    uint64_t h = bc_hash(file, off);
    struct bc_shard *s = bc_shard_of(c, h);
    struct bc_entry *e;

    pthread_mutex_lock(&s->mu);
    e = *bc_slot(s, file, off, h);
    if (e != NULL) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        e->referenced = true;
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return e != NULL ? &e->pub : NULL;
}

/* Double the buckets when chains grow past one entry on average. */
static void bc_grow(struct bc_shard *s)
{
    size_t n = s->nbuckets * 2;
    struct bc_entry **tab = mem_calloc(MEM_CACHE, n, sizeof(*tab));

    if (tab == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        for (struct bc_entry *e = s->tab[i], *nx; e != NULL; e = nx) {
            nx = e->hnext;
            e->hnext = tab[e->hash & (n - 1)];
            tab[e->hash & (n - 1)] = e;
        }
    }
    mem_free(s->tab);
    s->tab = tab;
    s->nbuckets = n;
}

/*
 * Drop cold entries until the shard fits. A referenced entry at the cold
 * end loses its mark and goes back to the head; since marks are only
 * cleared here, the loop ends within two passes over the list.
 */
static void bc_evict(struct bc_shard *s)
{
    while (s->bytes > s->cap && s->tail != NULL) {
        struct bc_entry *e = s->tail;
        lru_unlink(s, e);
        if (e->referenced) {
            e->referenced = false;
            lru_push(s, e);
            continue;
        }
        *bc_slot(s, e->file, e->off, e->hash) = e->hnext;
        s->count--;
        s->bytes -= e->charge;
        bc_unref(e);
    }
}

struct block_cache_block *block_cache_insert(struct block_cache *c,
                                             uint64_t file, uint64_t off,
                                             struct block_cache_block *b)
{
    struct bc_entry *e = (struct bc_entry *)b, **pp;
    uint64_t h = bc_hash(file, off);
    struct bc_shard *s = bc_shard_of(c, h);

    pthread_mutex_lock(&s->mu);
    pp = bc_slot(s, file, off, h);
    if (*pp != NULL) {
        struct bc_entry *old = *pp;
        atomic_fetch_add_explicit(&old->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&s->mu);
        bc_unref(e);
        return &old->pub;
    }
    e->file = file;
    e->off = off;
    e->hash = h;
    e->hnext = NULL;
    e->referenced = true; /* else the sweep would take it before old ones */
    *pp = e;
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed); /* pin */
    lru_push(s, e);
    s->count++;
    s->bytes += e->charge;
    bc_evict(s);
    if (s->count > s->nbuckets)
        bc_grow(s);
    pthread_mutex_unlock(&s->mu);
    return &e->pub;
}

void block_cache_get_stats(struct block_cache *c, struct block_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->capacity = c->capacity;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct bc_shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        out->bytes += s->bytes;
        out->hits += s->hits;
        out->misses += s->misses;
        out->entries += s->count;
        pthread_mutex_unlock(&s->mu);
    }
}
