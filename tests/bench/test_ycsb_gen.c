/*
 * test_ycsb_gen.c -- cairn-bench's generators (bench/ycsb/gen.c): YCSB
 * key names, the zipfian choice and its scramble, self-checking values.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/ycsb/gen.h"

/* Record 0 is FNV-1a 64 of eight zero bytes: the offset basis times the
 * prime eight times, read as signed and made positive. */
static void test_key_names(void **state)
{
    char buf[32];
    uint64_t h = 0xcbf29ce484222325ull;
    int64_t s;
    char want[32];

    (void)state;
    for (int i = 0; i < 8; i++)
        h *= 1099511628211ull;
    s = (int64_t)h;
    snprintf(want, sizeof(want), "user%lld", (long long)(s < 0 ? -s : s));
    assert_int_equal(ycsb_key(0, buf, sizeof(buf)), strlen(want));
    assert_string_equal(buf, want);
    ycsb_key(1, want, sizeof(want));
    assert_string_not_equal(buf, want);
}

static void test_values_check_themselves(void **state)
{
    char v[100];

    (void)state;
    ycsb_value(v, sizeof(v), "user42", 3, 7);
    assert_true(ycsb_check(v, sizeof(v), "user42", 3));
    assert_false(ycsb_check(v, sizeof(v), "user43", 3));
    assert_false(ycsb_check(v, sizeof(v), "user42", 4));
    assert_false(ycsb_check(v, sizeof(v) - 1, "user42", 3));
    v[40] ^= 1;
    assert_false(ycsb_check(v, sizeof(v), "user42", 3));
    assert_false(ycsb_check("garbage", 7, "user42", 3));
}

/* The scramble is a bijection: every item is hit exactly once. */
static void test_scramble_is_bijection(void **state)
{
    static const uint64_t sizes[] = {1, 2, 10, 1000, 1024, 9973};
    (void)state;

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct ycsb_zipf z;
        uint64_t n = sizes[s];
        uint8_t *seen = calloc(n, 1);
        ycsb_zipf_init(&z, n, YCSB_ZIPF_THETA);
        for (uint64_t r = 0; r < n; r++) {
            uint64_t it = ycsb_zipf_scramble(&z, r);
            assert_true(it < n);
            assert_int_equal(seen[it], 0);
            seen[it] = 1;
        }
        free(seen);
    }
}

/* Rank 0 is drawn with probability 1/zeta(n) by construction (u * zetan
 * < 1); 200,000 seeded draws land within 4 standard deviations. The
 * stated hot share is zeta(k)/zeta(n). */
static void test_zipf_rank_zero(void **state)
{
    struct ycsb_zipf z;
    uint64_t rng = 12345, hits = 0, draws = 200000;
    double p, sd;

    (void)state;
    ycsb_zipf_init(&z, 1000, YCSB_ZIPF_THETA);
    p = 1.0 / z.zetan;
    sd = sqrt(p * (1 - p) / (double)draws);
    for (uint64_t i = 0; i < draws; i++) {
        uint64_t r = ycsb_zipf_rank(&z, &rng);
        assert_true(r < 1000);
        hits += r == 0;
    }
    assert_true(fabs((double)hits / (double)draws - p) < 4 * sd);
    assert_true(fabs(ycsb_zipf_hot_share(&z, 1) - p) < 1e-12);
    assert_true(fabs(ycsb_zipf_hot_share(&z, 1000) - 1.0) < 1e-12);
}

static void test_uniform_below(void **state)
{
    uint64_t rng = 1;
    (void)state;

    for (int i = 0; i < 10000; i++)
        assert_true(ycsb_rng_below(&rng, 7) < 7);
    for (int i = 0; i < 10000; i++) {
        double u = ycsb_rng_unit(&rng);
        assert_true(u >= 0 && u < 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_values_check_themselves),
        cmocka_unit_test(test_scramble_is_bijection),
        cmocka_unit_test(test_zipf_rank_zero),
        cmocka_unit_test(test_uniform_below),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
