/*
 * bloom.h -- the blocked bloom filter of sstables (partition keys).
 *
 * Every probe of a key falls in one 64-byte line, so a lookup costs one
 * cache miss however large the filter is; the price is a slightly higher
 * false-positive rate than a classic filter (about 1% at 10 bits a key
 * instead of 0.8%). The bit layout is part of the sstable format
 * (docs/sstable-format.md, "Bloom block"). Pure functions over caller
 * memory: no allocation, thread-safe.
 */
#ifndef CAIRN_STORAGE_BLOOM_H
#define CAIRN_STORAGE_BLOOM_H

#include <stddef.h>
#include <stdint.h>

/* bloom_hash -- the 64-bit hash a key is filed under. */
uint64_t bloom_hash(const void *key, size_t len);

/* bloom_lines -- 64-byte lines for `nkeys` keys at `bits_per_key` (>= 1). */
uint32_t bloom_lines(uint64_t nkeys, int bits_per_key);

/* bloom_k -- probes per key for `bits_per_key`, 1..SST_BLOOM_MAX_K. */
int bloom_k(int bits_per_key);

/* bloom_add -- set the k bits of hash `h` in `bits` (lines * 64 bytes). */
void bloom_add(uint8_t *bits, uint32_t lines, int k, uint64_t h);

/* bloom_check -- 0 when hash `h` is certainly absent, 1 when it may be in. */
int bloom_check(const uint8_t *bits, uint32_t lines, int k, uint64_t h);

#endif /* CAIRN_STORAGE_BLOOM_H */
