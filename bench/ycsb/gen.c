/*
 * gen.c -- random choices, key names and self-checking values (gen.h).
 *
 * A value reads "KEY|FIELD|VERSION|" then filler letters, then 16 hex
 * digits of the XXH64 of all that precedes them. A reader needs nothing
 * but the value and the row it came from to tell a right value from a
 * wrong one: the checksum catches damage, the key and field catch a value
 * served for the wrong row or column.
 */
#include "bench/ycsb/gen.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

uint64_t ycsb_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t ycsb_rng_below(uint64_t *state, uint64_t n)
{
    /* Multiply-shift: bias below 2^-64 * n, far under any measurement. */
    return (uint64_t)(((unsigned __int128)ycsb_rng_next(state) * n) >> 64);
}

double ycsb_rng_unit(uint64_t *state)
{
    return (double)(ycsb_rng_next(state) >> 11) * 0x1.0p-53;
}

double ycsb_zeta(uint64_t n, double theta)
{
    double sum = 0;

    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void ycsb_zipf_init(struct ycsb_zipf *z, uint64_t n, double theta)
{
    double zeta2 = 1.0 + pow(0.5, theta);

    z->n = n;
    z->theta = theta;
    z->zetan = ycsb_zeta(n, theta);
    z->alpha = 1.0 / (1.0 - theta);
    z->half_pow = pow(0.5, theta);
    z->eta =
        (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / z->zetan);

    /* A multiplier near n times the golden ratio spreads neighbours far
     * apart; step it until it is coprime with n so the map is a
     * bijection. */
    z->mult = n > 1 ? (uint64_t)((double)n * 0.6180339887) | 1 : 1;
    while (n > 1 && gcd_u64(z->mult % n, n) != 1)
        z->mult += 2;
    z->offset = n > 1 ? n / 3 : 0;
}

uint64_t ycsb_zipf_rank(const struct ycsb_zipf *z, uint64_t *rng)
{
    double u = ycsb_rng_unit(rng);
    double uz = u * z->zetan;
    uint64_t r;

    if (uz < 1.0)
        return 0;
    if (uz < 1.0 + z->half_pow)
        return 1 < z->n ? 1 : 0;
    r = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1, z->alpha));
    return r < z->n ? r : z->n - 1;
}

uint64_t ycsb_zipf_scramble(const struct ycsb_zipf *z, uint64_t rank)
{
    if (z->n <= 1)
        return 0;
    return (uint64_t)(((unsigned __int128)rank * z->mult + z->offset) % z->n);
}

double ycsb_zipf_hot_share(const struct ycsb_zipf *z, uint64_t k)
{
    return ycsb_zeta(k, z->theta) / z->zetan;
}

size_t ycsb_key(uint64_t keynum, char *buf, size_t size)
{
    /* FNV-1a 64 over the number's 8 bytes, low byte first, as YCSB. */
    uint64_t h = 0xcbf29ce484222325ull;
    int64_t s;

    for (int i = 0; i < 8; i++) {
        h ^= keynum & 0xff;
        h *= 1099511628211ull;
        keynum >>= 8;
    }
    s = (int64_t)h;
    if (s < 0)
        s = s == INT64_MIN ? INT64_MAX : -s;
    return (size_t)snprintf(buf, size, "user%" PRId64, s);
}

void ycsb_value(char *buf, size_t size, const char *key, unsigned field,
                uint64_t version)
{
    size_t body = size - 16;
    int n = snprintf(buf, body, "%s|%u|%" PRIu64 "|", key, field, version);
    uint64_t sum;
    char hex[17];

    for (size_t i = (size_t)n; i < body; i++)
        buf[i] = (char)('a' + (version + i * 7) % 26);
    sum = XXH64(buf, body, 0);
    snprintf(hex, sizeof(hex), "%016" PRIx64, sum);
    memcpy(buf + body, hex, 16);
}

int ycsb_check(const void *v, size_t len, const char *key, unsigned field)
{
    const char *s = v;
    char want[64], hex[17];
    int n;

    if (len < YCSB_MIN_VALUE)
        return 0;
    n = snprintf(want, sizeof(want), "%s|%u|", key, field);
    if (n <= 0 || (size_t)n >= sizeof(want) || memcmp(s, want, (size_t)n))
        return 0;
    snprintf(hex, sizeof(hex), "%016" PRIx64, XXH64(s, len - 16, 0));
    return memcmp(hex, s + len - 16, 16) == 0;
}
