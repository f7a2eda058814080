/*
 * test_resolve.c -- the conflict rule, digests and diffs. Every expected
 * winner is derived by hand from ARCHITECTURE.md: the higher timestamp
 * wins; on a tie a tombstone beats a value, then the larger value
 * bytewise; a tombstone shadows what is at or below its timestamp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/mem.h"
#include "server/coord/resolve.h"

#define B(s) ((struct storage_bytes){(const uint8_t *)(s), sizeof(s) - 1})
#define NONE STORAGE_TS_NONE

static struct storage_cell val(const char *col, const char *v, int64_t ts)
{
    return (struct storage_cell){.column = {(const uint8_t *)col, strlen(col)},
                                 .value = {(const uint8_t *)v, strlen(v)},
                                 .ts = ts};
}

static struct storage_cell tomb(const char *col, int64_t ts)
{
    return (struct storage_cell){.column = {(const uint8_t *)col, strlen(col)},
                                 .ts = ts,
                                 .deleted_s = ts / 1000000,
                                 .tombstone = 1};
}

static struct storage_row row(const char *ck, struct storage_cell *c, size_t n,
                              int64_t del)
{
    return (struct storage_row){.ck = {(const uint8_t *)ck, strlen(ck)},
                                .deleted_ts = del,
                                .cells = c,
                                .ncells = n};
}

static struct storage_partition part(struct storage_row *r, size_t n)
{
    return (struct storage_partition){
        .pkey = B("pk"), .deleted_ts = NONE, .rows = r, .nrows = n};
}

/* merge2 -- merge a and b; returns the merged partition in *out. */
static void merge2(const struct storage_partition *a,
                   const struct storage_partition *b, struct coord_part *out)
{
    const struct storage_partition *in[2] = {a, b};

    assert_int_equal(coord_resolve_merge(in, 2, out), 0);
}

static const struct storage_cell *cell_at(const struct storage_partition *p,
                                          const char *ck, const char *col)
{
    for (size_t i = 0; i < p->nrows; i++) {
        if (p->rows[i].ck.n != strlen(ck) ||
            memcmp(p->rows[i].ck.p, ck, p->rows[i].ck.n))
            continue;
        for (size_t j = 0; j < p->rows[i].ncells; j++)
            if (p->rows[i].cells[j].column.n == strlen(col) &&
                !memcmp(p->rows[i].cells[j].column.p, col, strlen(col)))
                return &p->rows[i].cells[j];
    }
    return NULL;
}

static void assert_value(const struct storage_partition *p, const char *ck,
                         const char *col, const char *v, int64_t ts)
{
    const struct storage_cell *c = cell_at(p, ck, col);

    assert_non_null(c);
    assert_false(c->tombstone);
    assert_int_equal(c->ts, ts);
    assert_int_equal(c->value.n, strlen(v));
    assert_memory_equal(c->value.p, v, c->value.n);
}

static void test_higher_timestamp_wins(void **state)
{
    struct storage_cell ca[] = {val("c", "zzz", 10)};
    struct storage_cell cb[] = {val("c", "aaa", 20)};
    struct storage_row ra[] = {row("r", ca, 1, NONE)};
    struct storage_row rb[] = {row("r", cb, 1, NONE)};
    struct storage_partition a = part(ra, 1), b = part(rb, 1);
    struct coord_part m;

    (void)state;
    merge2(&a, &b, &m);
    assert_value(&m.p, "r", "c", "aaa", 20); /* smaller bytes, newer */
    coord_part_free(&m);
    merge2(&b, &a, &m);
    assert_value(&m.p, "r", "c", "aaa", 20);
    coord_part_free(&m);
}

static void test_tie_rules(void **state)
{
    struct storage_cell v1 = val("c", "a", 10), v2 = val("c", "b", 10);
    struct storage_cell v3 = val("c", "ab", 10), t1 = tomb("c", 10);

    (void)state;
    /* Tombstone beats a value of the same timestamp. */
    assert_true(coord_cell_cmp(&t1, &v2) > 0);
    assert_true(coord_cell_cmp(&v2, &t1) < 0);
    /* Then the larger value bytewise; a prefix is smaller. */
    assert_true(coord_cell_cmp(&v2, &v1) > 0);
    assert_true(coord_cell_cmp(&v3, &v1) > 0);
    assert_true(coord_cell_cmp(&v2, &v3) > 0);
    assert_int_equal(coord_cell_cmp(&v1, &v1), 0);
    /* A newer value beats an older tombstone. */
    v1.ts = 11;
    assert_true(coord_cell_cmp(&v1, &t1) > 0);
}

static void test_tombstone_tie_drops_value(void **state)
{
    struct storage_cell ca[] = {val("c", "x", 10)};
    struct storage_cell cb[] = {tomb("c", 10)};
    struct storage_row ra[] = {row("r", ca, 1, NONE)};
    struct storage_row rb[] = {row("r", cb, 1, NONE)};
    struct storage_partition a = part(ra, 1), b = part(rb, 1);
    struct coord_part m;
    const struct storage_cell *c;

    (void)state;
    merge2(&a, &b, &m);
    c = cell_at(&m.p, "r", "c");
    assert_non_null(c);
    assert_true(c->tombstone);
    assert_int_equal(c->ts, 10);
    coord_part_free(&m);
}

/* Partition, range and row tombstones shadow what is at or below them. */
static void test_shadowing_scopes(void **state)
{
    struct storage_cell c1[] = {val("c", "1", 15)}, c2[] = {val("c", "2", 16)};
    struct storage_cell c3[] = {val("c", "3", 20)}, c4[] = {val("c", "4", 21)};
    struct storage_cell c5[] = {val("c", "5", 30), val("d", "5", 31)};
    struct storage_row ra[] = {row("r1", c1, 1, NONE), row("r2", c2, 1, NONE),
                               row("r3", c3, 1, NONE), row("r4", c4, 1, NONE),
                               row("r5", c5, 2, NONE)};
    struct storage_row rb[] = {row("r5", NULL, 0, 30)};
    struct storage_range_tomb rt[] = {
        {.start = B("r3"), .end = B("r4"), .ts = 20}};
    struct storage_partition a = part(ra, 5), b = part(rb, 1);
    struct coord_part m;

    (void)state;
    b.deleted_ts = 15; /* partition delete at 15 */
    b.ranges = rt;
    b.nranges = 1;
    merge2(&a, &b, &m);
    assert_int_equal(m.p.deleted_ts, 15);
    assert_null(cell_at(&m.p, "r1", "c"));  /* 15 <= 15 */
    assert_value(&m.p, "r2", "c", "2", 16); /* newer survives */
    assert_null(cell_at(&m.p, "r3", "c"));  /* range at 20 */
    assert_value(&m.p, "r4", "c", "4", 21); /* newer than the range */
    assert_null(cell_at(&m.p, "r5", "c"));  /* row tombstone at 30 */
    assert_value(&m.p, "r5", "d", "5", 31);
    assert_int_equal(m.p.nranges, 1);
    /* r1 and r3 vanish; r5 keeps its tombstone and column d. */
    assert_int_equal(m.p.nrows, 3);
    assert_int_equal(m.p.rows[2].deleted_ts, 30);
    coord_part_free(&m);
}

/* The same logical state digests alike whatever its history. */
static void test_digest_canonical(void **state)
{
    struct storage_cell x[] = {val("c", "old", 5)}, y[] = {val("c", "new", 9)};
    struct storage_cell xy[] = {val("c", "new", 9)};
    struct storage_row r1[] = {row("r", x, 1, NONE)};
    struct storage_row r2[] = {row("r", y, 1, NONE)};
    struct storage_row r3[] = {row("r", xy, 1, NONE)};
    struct storage_partition a = part(r1, 1), b = part(r2, 1), c = part(r3, 1);
    struct coord_part ab, ba;
    uint64_t d1, d2, d3, d4;

    (void)state;
    merge2(&a, &b, &ab);
    merge2(&b, &a, &ba);
    assert_int_equal(coord_resolve_digest(&ab.p, &d1), 0);
    assert_int_equal(coord_resolve_digest(&ba.p, &d2), 0);
    assert_int_equal(coord_resolve_digest(&c, &d3), 0);
    assert_int_equal(coord_resolve_digest(&a, &d4), 0);
    assert_true(d1 == d2 && d2 == d3);
    assert_true(d4 != d1);
    /* A shadowed cell does not change the digest. */
    a.deleted_ts = 5;
    assert_int_equal(coord_resolve_digest(&a, &d1), 0);
    a.rows = NULL;
    a.nrows = 0;
    assert_int_equal(coord_resolve_digest(&a, &d2), 0);
    assert_true(d1 == d2);
    coord_part_free(&ab);
    coord_part_free(&ba);
}

/* The diff holds exactly what a stale replica lacks; applying it makes
   the replica equal to the merge (C11: whole partition, same stamps). */
static void test_diff(void **state)
{
    struct storage_cell f1[] = {val("v", "a", 10)}, f2[] = {val("v", "a", 10)};
    struct storage_cell s1[] = {val("v", "a", 10)};
    struct storage_row full[] = {row("r1", f1, 1, NONE),
                                 row("r2", f2, 1, NONE)};
    struct storage_row stale[] = {row("r1", s1, 1, NONE)};
    struct storage_partition a = part(full, 2), b = part(stale, 1);
    struct coord_part m, d, fixed;
    uint64_t dm, df;

    (void)state;
    merge2(&a, &b, &m);
    assert_int_equal(coord_resolve_diff(&b, &m.p, &d), 0);
    assert_int_equal(d.p.nrows, 1);
    assert_value(&d.p, "r2", "v", "a", 10);
    merge2(&b, &d.p, &fixed);
    assert_int_equal(coord_resolve_digest(&fixed.p, &df), 0);
    assert_int_equal(coord_resolve_digest(&m.p, &dm), 0);
    assert_true(df == dm);
    coord_part_free(&d);
    /* An up-to-date replica needs nothing. */
    assert_int_equal(coord_resolve_diff(&a, &m.p, &d), 0);
    assert_true(coord_part_empty(&d.p));
    coord_part_free(&d);
    /* A replica missing a partition tombstone gets just that. */
    a.deleted_ts = 3;
    coord_part_free(&m);
    merge2(&a, &b, &m);
    assert_int_equal(coord_resolve_diff(&b, &m.p, &d), 0);
    assert_int_equal(d.p.deleted_ts, 3);
    assert_int_equal(d.p.nrows, 1); /* and r2 */
    coord_part_free(&d);
    coord_part_free(&m);
    coord_part_free(&fixed);
}

/* C11 step 4: a repair carrying old stamps cannot shadow a newer write
   that reached the replica while the repair was in flight. */
static void test_repair_never_shadows_newer(void **state)
{
    struct storage_cell old[] = {val("v", "old", 10)};
    struct storage_cell newer[] = {val("v", "new", 30)};
    struct storage_row ro[] = {row("k", old, 1, NONE)};
    struct storage_row rn[] = {row("k", newer, 1, NONE)};
    struct storage_partition repair = part(ro, 1), replica = part(rn, 1);
    struct coord_part m;

    (void)state;
    merge2(&replica, &repair, &m);
    assert_value(&m.p, "k", "v", "new", 30);
    coord_part_free(&m);
}

static void test_trim(void **state)
{
    struct storage_cell c[] = {val("v", "1", 1)};
    struct storage_row r[] = {row("a", c, 1, NONE), row("b", c, 1, NONE),
                              row("c", c, 1, NONE)};
    struct storage_range_tomb rt[] = {{.start = B("b"), .end = B("b"), .ts = 0},
                                      {.start = B("d"), .ts = 5}};
    struct storage_partition p = part(r, 3);
    struct storage_bytes bound = B("b");
    struct coord_part t;

    (void)state;
    p.ranges = rt;
    p.nranges = 2;
    assert_int_equal(coord_resolve_trim(&p, &bound, &t), 0);
    assert_int_equal(t.p.nrows, 2);
    assert_int_equal(t.p.nranges, 1); /* the one starting at d is beyond */
    coord_part_free(&t);
    assert_int_equal(coord_resolve_trim(&p, NULL, &t), 0);
    assert_int_equal(t.p.nrows, 3);
    assert_int_equal(t.p.nranges, 2);
    coord_part_free(&t);
}

static void test_out_of_memory(void **state)
{
    struct storage_cell c[] = {val("v", "1", 1)};
    struct storage_row r[] = {row("a", c, 1, NONE)};
    struct storage_partition p = part(r, 1);
    const struct storage_partition *in = &p;
    struct coord_part m;

    (void)state;
    mem_fail_after(0);
    assert_int_equal(coord_resolve_merge(&in, 1, &m), -ENOMEM);
    mem_fail_after(-1);
    assert_null(m.mem);
    assert_int_equal(m.p.nrows, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_higher_timestamp_wins),
        cmocka_unit_test(test_tie_rules),
        cmocka_unit_test(test_tombstone_tie_drops_value),
        cmocka_unit_test(test_shadowing_scopes),
        cmocka_unit_test(test_digest_canonical),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_repair_never_shadows_newer),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
