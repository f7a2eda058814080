/*
 * bloom.c -- the blocked bloom filter; layout in docs/sstable-format.md.
 *
 * The line comes from the high half of the hash by multiply-shift (no
 * division on the lookup path); the probes inside the line take the top
 * nine bits of the low half, which is re-mixed by an odd multiplier
 * between probes, so the k positions are spread without a second hash.
 */
#include "storage/bloom.h"

#include <xxhash.h>

#include "storage/sstable_format.h"

#define BLOOM_MIX 0x9E3779B9u /* odd: multiplication permutes 32-bit words */

uint64_t bloom_hash(const void *key, size_t len)
{
    return XXH3_64bits_withSeed(key, len, SST_BLOOM_SEED);
}

uint32_t bloom_lines(uint64_t nkeys, int bits_per_key)
{
    uint64_t bits = nkeys * (uint64_t)(bits_per_key < 1 ? 1 : bits_per_key);
    uint64_t lines = (bits + SST_BLOOM_LINE * 8 - 1) / (SST_BLOOM_LINE * 8);

    if (lines == 0)
        lines = 1;
    if (lines > UINT32_MAX / SST_BLOOM_LINE)
        lines = UINT32_MAX / SST_BLOOM_LINE;
    return (uint32_t)lines;
}

int bloom_k(int bits_per_key)
{
    /* ln 2 * bits is optimal for a classic filter; blocking favours a
     * little fewer probes, hence 0.6. */
    int k = (bits_per_key * 6 + 5) / 10;

    if (k < 1)
        k = 1;
    if (k > SST_BLOOM_MAX_K)
        k = SST_BLOOM_MAX_K;
    return k;
}

static inline const uint8_t *bloom_line(const uint8_t *bits, uint32_t lines,
                                        uint64_t h)
{
    uint64_t line = ((h >> 32) * (uint64_t)lines) >> 32;

    return bits + line * SST_BLOOM_LINE;
}

void bloom_add(uint8_t *bits, uint32_t lines, int k, uint64_t h)
{
    uint8_t *line = (uint8_t *)bloom_line(bits, lines, h);
    uint32_t x = (uint32_t)h;

    for (int i = 0; i < k; i++) {
        uint32_t b = x >> 23;
        line[b >> 3] |= (uint8_t)(1u << (b & 7));
        x *= BLOOM_MIX;
    }
}

int bloom_check(const uint8_t *bits, uint32_t lines, int k, uint64_t h)
{
    const uint8_t *line = bloom_line(bits, lines, h);
    uint32_t x = (uint32_t)h;

    for (int i = 0; i < k; i++) {
        uint32_t b = x >> 23;
        if (!(line[b >> 3] & (1u << (b & 7))))
            return 0;
        x *= BLOOM_MIX;
    }
    return 1;
}
