/*
 * gen.h -- what cairn-bench generates: random numbers, key choices in
 * YCSB's distributions, YCSB key names and self-checking values.
 *
 * Everything here is pure computation owned by one worker thread at a
 * time (no shared state), so each worker keeps its own generators and a
 * run is repeatable from --seed.
 */
#ifndef CAIRN_BENCH_YCSB_GEN_H
#define CAIRN_BENCH_YCSB_GEN_H

#include <stddef.h>
#include <stdint.h>

/* YCSB's zipfian constant. */
#define YCSB_ZIPF_THETA 0.99

/* The smallest --value-size a self-checking value fits in. */
#define YCSB_MIN_VALUE 72

/* ycsb_rng_next -- splitmix64: the next 64 random bits of *state. */
uint64_t ycsb_rng_next(uint64_t *state);

/* ycsb_rng_below -- uniform in [0, n) (n > 0). */
uint64_t ycsb_rng_below(uint64_t *state, uint64_t n);

/* ycsb_rng_unit -- uniform double in [0, 1). */
double ycsb_rng_unit(uint64_t *state);

/*
 * A zipfian choice over n items (Gray et al., "Quickly generating
 * billion-record synthetic databases", as YCSB does it): rank 0 is the
 * most popular. Scrambling maps ranks onto items by a fixed bijection of
 * [0, n) so that popular items are not the first ones inserted.
 */
struct ycsb_zipf {
    uint64_t n;      /* items */
    double theta;    /* skew */
    double zetan;    /* sum over i = 1..n of 1 / i^theta */
    double alpha;    /* 1 / (1 - theta) */
    double eta;      /* Gray's correction term */
    double half_pow; /* 0.5^theta */
    uint64_t mult;   /* scramble multiplier, coprime with n */
    uint64_t offset; /* scramble offset */
};

/* ycsb_zeta -- sum over i = 1..n of 1 / i^theta. */
double ycsb_zeta(uint64_t n, double theta);

/* ycsb_zipf_init -- a generator over n >= 1 items with skew theta. */
void ycsb_zipf_init(struct ycsb_zipf *z, uint64_t n, double theta);

/* ycsb_zipf_rank -- the next rank in [0, n), 0 the most popular. */
uint64_t ycsb_zipf_rank(const struct ycsb_zipf *z, uint64_t *rng);

/* ycsb_zipf_scramble -- the item of rank `rank` (a bijection on [0, n)). */
uint64_t ycsb_zipf_scramble(const struct ycsb_zipf *z, uint64_t rank);

/*
 * ycsb_zipf_hot_share -- the share of choices that fall on the hottest
 * `k` items (k <= n): zeta(k) / zeta(n).
 */
double ycsb_zipf_hot_share(const struct ycsb_zipf *z, uint64_t k);

/*
 * ycsb_key -- YCSB's key name of record `keynum`: "user" and the FNV-1a
 * 64 hash of the number, as decimal. Writes a NUL-terminated string into
 * buf (at least 32 bytes); returns its length.
 */
size_t ycsb_key(uint64_t keynum, char *buf, size_t size);

/*
 * ycsb_value -- fill buf[0, size) (size >= YCSB_MIN_VALUE) with a value
 * that names its key, field and version and ends in 16 hex digits of the
 * XXH64 of everything before them.
 */
void ycsb_value(char *buf, size_t size, const char *key, unsigned field,
                uint64_t version);

/*
 * ycsb_check -- 1 when `v` is a value ycsb_value made for exactly this
 * key and field (any version, any size), intact; 0 otherwise.
 */
int ycsb_check(const void *v, size_t len, const char *key, unsigned field);

#endif /* CAIRN_BENCH_YCSB_GEN_H */
