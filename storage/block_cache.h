/*
 * block_cache.h -- the block cache's internal interface, for sstable.c.
 * (Creating, freeing and reading statistics are in sstable.h, for the
 * engine.)
 *
 * The cache maps (file id, block offset) to a checksum-verified,
 * uncompressed block. A block handed out is pinned: it stays valid until
 * released, even if the cache evicts it meanwhile (its memory is then
 * freed at the last release). So `bytes` counts what the cache holds, and
 * pinned blocks evicted under a scan are briefly extra. Thread-safe.
 */
#ifndef CAIRN_STORAGE_BLOCK_CACHE_H
#define CAIRN_STORAGE_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct block_cache;

/* One cached block; callers read data[0..len) and nothing else. */
struct block_cache_block {
    const uint8_t *data; /* the block's uncompressed entries region */
    size_t len;
};

/*
 * block_cache_alloc -- a fresh, unpublished entry with `n` bytes of room
 * at *room, charged `n` bytes; the caller fills it and sets *b's data/len
 * (data must point inside the room). NULL when out of memory.
 */
struct block_cache_block *block_cache_alloc(size_t n, uint8_t **room);

/* block_cache_discard -- free an entry that was never inserted. */
void block_cache_discard(struct block_cache_block *b);

/*
 * block_cache_lookup -- the pinned block of (file, off), or NULL (a miss,
 * counted). Release it with block_cache_release().
 */
struct block_cache_block *block_cache_lookup(struct block_cache *c,
                                             uint64_t file, uint64_t off);

/*
 * block_cache_insert -- publish `b` for (file, off) and return it pinned;
 * when another thread inserted the same block first, `b` is discarded and
 * theirs is returned pinned. May evict the least recently used blocks.
 */
struct block_cache_block *block_cache_insert(struct block_cache *c,
                                             uint64_t file, uint64_t off,
                                             struct block_cache_block *b);

/* block_cache_release -- unpin a block from lookup or insert. */
void block_cache_release(struct block_cache_block *b);

#endif /* CAIRN_STORAGE_BLOCK_CACHE_H */
