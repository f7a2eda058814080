/*
 * test_merkle.c -- Merkle trees over real storage: equal data gives equal
 * trees whatever the write order and flush history; one differing cell or
 * tombstone is found in exactly the leaf of its partition's token; a
 * partition larger than a scan page is hashed whole on both sides.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/token.h"
#include "server/merkle.h"
#include "tests/storage/teng.h"
#include "tests/storage/tutil.h"

#define T 7

struct pair {
    char *dir[2];
    struct storage *s[2];
};

static void pair_open(struct pair *p)
{
    for (int i = 0; i < 2; i++) {
        struct storage_options o;
        struct storage_table_options to = {.gc_grace_s = 864000,
                                           .compression = 1};
        p->dir[i] = tu_mkdtemp();
        te_opts(&o, p->dir[i]);
        assert_int_equal(storage_open(&o, &p->s[i]), 0);
        assert_int_equal(storage_create_table(p->s[i], T, &to), 0);
    }
}

static void pair_close(struct pair *p)
{
    for (int i = 0; i < 2; i++) {
        storage_close(p->s[i]);
        tu_rmtree(p->dir[i]);
    }
}

/* fill -- 40 partitions of 3 rows; `reverse` writes them backwards. */
static void fill(struct storage *s, int reverse)
{
    char pk[16], ck[16];

    for (int k = 0; k < 40; k++) {
        int i = reverse ? 39 - k : k;
        for (int r = 0; r < 3; r++) {
            snprintf(pk, sizeof(pk), "p%d", i);
            snprintf(ck, sizeof(ck), "r%d", r);
            assert_int_equal(te_put(s, T, pk, ck, "c", "v", 1000 + i), 0);
        }
    }
}

static void build2(struct pair *p, int depth, struct merkle m[2])
{
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            merkle_build(p->s[i], T, INT64_MIN, INT64_MAX, depth, &m[i]), 0);
}

static int64_t tok(const char *pk)
{
    return token_of(pk, strlen(pk));
}

static void test_leaf_ranges_tile(void **state)
{
    struct merkle m;
    int64_t prev_end = 0, s, e;

    (void)state;
    assert_int_equal(merkle_init(&m, INT64_MIN, INT64_MAX, 4), 0);
    for (size_t i = 0; i < 16; i++) {
        merkle_leaf_range(&m, i, &s, &e);
        if (i == 0)
            assert_true(s == INT64_MIN);
        else
            assert_true(s == prev_end + 1);
        assert_true(s <= e);
        assert_int_equal(merkle_leaf_of(&m, s), i);
        assert_int_equal(merkle_leaf_of(&m, e), i);
        prev_end = e;
    }
    assert_true(prev_end == INT64_MAX);
    merkle_free(&m);

    /* Fewer tokens than leaves: every token still lands in its range. */
    assert_int_equal(merkle_init(&m, 10, 12, 3), 0);
    for (int64_t t = 10; t <= 12; t++) {
        merkle_leaf_range(&m, merkle_leaf_of(&m, t), &s, &e);
        assert_true(s <= t && t <= e);
    }
    merkle_free(&m);
    assert_int_equal(merkle_init(&m, 5, 4, 1), -EINVAL);
    assert_int_equal(merkle_init(&m, 0, 4, MERKLE_MAX_DEPTH + 1), -EINVAL);
}

static void test_same_data_same_tree(void **state)
{
    struct pair p;
    struct merkle m[2];
    struct merkle_range *d;
    size_t n;

    (void)state;
    pair_open(&p);
    fill(p.s[0], 0);
    assert_int_equal(storage_flush(p.s[0], T), 0);
    fill(p.s[1], 1);
    build2(&p, 6, m);
    assert_true(m[0].node[1] == m[1].node[1]);
    assert_int_equal(merkle_diff(&m[0], &m[1], &d, &n), 0);
    assert_int_equal(n, 0);
    merkle_free(&m[0]);
    merkle_free(&m[1]);
    pair_close(&p);
}

static void expect_one_range(struct merkle m[2], const char *pk)
{
    struct merkle_range *d;
    size_t n;

    assert_int_equal(merkle_diff(&m[0], &m[1], &d, &n), 0);
    assert_int_equal(n, 1);
    assert_true(d[0].start <= tok(pk) && tok(pk) <= d[0].end);
    mem_free(d);
}

static void test_one_cell_differs(void **state)
{
    struct pair p;
    struct merkle m[2];

    (void)state;
    pair_open(&p);
    fill(p.s[0], 0);
    fill(p.s[1], 0);
    /* Same value, later timestamp: a replica that missed an overwrite. */
    assert_int_equal(te_put(p.s[1], T, "p17", "r1", "c", "v", 5000), 0);
    build2(&p, 8, m);
    expect_one_range(m, "p17");
    merkle_free(&m[0]);
    merkle_free(&m[1]);
    pair_close(&p);
}

static void test_tombstone_differs(void **state)
{
    struct pair p;
    struct merkle m[2];

    (void)state;
    pair_open(&p);
    fill(p.s[0], 0);
    fill(p.s[1], 0);
    assert_int_equal(
        te_del(p.s[0], T, STORAGE_MUT_ROW_DELETE, "p3", "r0", "", "", 2000), 0);
    build2(&p, 8, m);
    expect_one_range(m, "p3");
    merkle_free(&m[0]);
    merkle_free(&m[1]);
    pair_close(&p);
}

/* A partition of 1300 rows spans three 512-row scan pages. */
static void test_big_partition(void **state)
{
    struct pair p;
    struct merkle m[2];
    char ck[16];

    (void)state;
    pair_open(&p);
    for (int i = 0; i < 2; i++) {
        fill(p.s[i], i);
        for (int k = 0; k < 1300; k++) {
            int r = i ? 1299 - k : k;
            snprintf(ck, sizeof(ck), "row%05d", r);
            assert_int_equal(te_put(p.s[i], T, "big", ck, "c", "x", 10), 0);
        }
    }
    build2(&p, 5, m);
    assert_true(m[0].node[1] == m[1].node[1]);
    assert_int_equal(m[0].parts[merkle_leaf_of(&m[0], tok("big"))],
                     m[1].parts[merkle_leaf_of(&m[1], tok("big"))]);
    merkle_free(&m[0]);
    merkle_free(&m[1]);

    assert_int_equal(te_put(p.s[0], T, "big", "row01200", "c", "y", 10), 0);
    build2(&p, 5, m);
    expect_one_range(m, "big");
    merkle_free(&m[0]);
    merkle_free(&m[1]);
    pair_close(&p);
}

static void test_subrange_and_mismatch(void **state)
{
    struct pair p;
    struct merkle m[2], other;
    struct merkle_range *d;
    size_t n, total = 0;

    (void)state;
    pair_open(&p);
    fill(p.s[0], 0);
    /* Only partitions whose token is >= 0 are counted. */
    assert_int_equal(merkle_build(p.s[0], T, 0, INT64_MAX, 3, &m[0]), 0);
    for (size_t i = 0; i < 8; i++)
        total += m[0].parts[i];
    size_t expect = 0;
    char pk[16];
    for (int i = 0; i < 40; i++) {
        snprintf(pk, sizeof(pk), "p%d", i);
        expect += tok(pk) >= 0;
    }
    assert_int_equal(total, expect);
    assert_int_equal(merkle_init(&other, 0, INT64_MAX, 4), 0);
    assert_int_equal(merkle_diff(&m[0], &other, &d, &n), -EINVAL);
    merkle_free(&other);
    merkle_free(&m[0]);
    (void)m[1];
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_ranges_tile),
        cmocka_unit_test(test_same_data_same_tree),
        cmocka_unit_test(test_one_cell_differs),
        cmocka_unit_test(test_tombstone_differs),
        cmocka_unit_test(test_big_partition),
        cmocka_unit_test(test_subrange_and_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
