/*
 * test_tokens.c -- token metadata and replica placement. Every expected
 * replica set below was walked by hand on the small rings drawn in the
 * comments; ownership fractions come from range widths chosen as exact
 * powers of two.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/mem.h"
#include "ring/tokens.h"

static struct ring_host_id hid(uint8_t x)
{
    struct ring_host_id id;

    memset(&id, 0, sizeof(id));
    id.b[15] = x;
    return id;
}

/* Node letters by host id byte: 'A' .. 'F'. */
static char letter(const struct tokens_snap *s, size_t idx)
{
    return (char)tokens_snap_node(s, idx, NULL, NULL, NULL)->b[15];
}

static void replicas_str(const struct tokens_snap *s, int64_t t, size_t rf,
                         char *out)
{
    size_t idx[8], n = 0;

    assert_int_equal(tokens_snap_replicas(s, t, rf, idx, &n), 0);
    for (size_t i = 0; i < n; i++)
        out[i] = letter(s, idx[i]);
    out[n] = '\0';
}

/*
 * The small ring: A owns 10 and 50, B 20 and 60, C 30, D 40.
 *   10A 20B 30C 40D 50A 60B (then back to 10A)
 */
static struct tokens_snap *small_ring(const char *racks[4])
{
    struct tokens_meta *m = tokens_meta_new();
    int64_t a[] = {50, 10}, b[] = {20, 60}, c[] = {30}, d[] = {40};
    struct ring_host_id A = hid('A'), B = hid('B'), C = hid('C'), D = hid('D');
    struct tokens_snap *s = NULL;

    assert_non_null(m);
    assert_int_equal(tokens_meta_set_node(m, &A, racks[0], a, 2), 0);
    assert_int_equal(tokens_meta_set_node(m, &B, racks[1], b, 2), 0);
    assert_int_equal(tokens_meta_set_node(m, &C, racks[2], c, 1), 0);
    assert_int_equal(tokens_meta_set_node(m, &D, racks[3], d, 1), 0);
    assert_int_equal(tokens_snap_build(m, &s), 0);
    tokens_meta_free(m);
    return s;
}

static void test_replicas_by_hand(void **state)
{
    const char *none[4] = {NULL, NULL, "", NULL};
    struct tokens_snap *s = small_ring(none);
    char r[8];

    (void)state;
    assert_int_equal(tokens_snap_node_count(s), 4);
    assert_int_equal(tokens_snap_token_count(s), 6);
    replicas_str(s, 15, 3, r); /* 20B 30C 40D */
    assert_string_equal(r, "BCD");
    replicas_str(s, 45, 3, r); /* 50A 60B, wrap, 10A 20B skip, 30C */
    assert_string_equal(r, "ABC");
    replicas_str(s, 61, 3, r); /* past the last token: wraps to 10A */
    assert_string_equal(r, "ABC");
    replicas_str(s, INT64_MIN, 3, r);
    assert_string_equal(r, "ABC");
    replicas_str(s, 10, 3, r); /* a token belongs to its own range */
    assert_string_equal(r, "ABC");
    replicas_str(s, 35, 1, r);
    assert_string_equal(r, "D");
    replicas_str(s, 15, 5, r); /* RF above the node count: every node */
    assert_string_equal(r, "BCDA");
    assert_int_equal(letter(s, (size_t)tokens_snap_owner(s, 55)), 'B');

    /* Every token of the small ring, in ring order. */
    int64_t *tok;
    size_t nt;
    const int64_t want[] = {10, 20, 30, 40, 50, 60};
    assert_int_equal(tokens_snap_sorted_tokens(s, &tok, &nt), 0);
    assert_int_equal(nt, 6);
    assert_memory_equal(tok, want, sizeof(want));
    mem_free(tok);
    tokens_snap_unref(s);
}

/* Racks: A and B in r1, C and D in r2. */
static void test_replicas_rack_aware(void **state)
{
    const char *racks[4] = {"r1", "r1", "r2", "r2"};
    struct tokens_snap *s = small_ring(racks);
    char r[8];

    (void)state;
    replicas_str(s, 15, 3, r); /* B(r1), C(r2): all racks used, then D */
    assert_string_equal(r, "BCD");
    replicas_str(s, 5, 3, r); /* A(r1), B skipped, C(r2), then B */
    assert_string_equal(r, "ACB");
    replicas_str(s, 45, 3, r); /* A(r1), B skipped, C(r2), then B */
    assert_string_equal(r, "ACB");
    replicas_str(s, 45, 2, r); /* two racks for two replicas */
    assert_string_equal(r, "AC");
    tokens_snap_unref(s);
}

/*
 * Ownership on a ring cut in quarters of 2^62: D at INT64_MIN, A at -2^62,
 * B at 0, C at 2^62, plus A at 2^61 which takes half of C's quarter.
 */
static void test_ownership_exact(void **state)
{
    struct tokens_meta *m = tokens_meta_new();
    int64_t q = INT64_C(1) << 62;
    int64_t a[] = {-q, q / 2}, b[] = {0}, c[] = {q}, d[] = {INT64_MIN};
    struct ring_host_id A = hid('A'), B = hid('B'), C = hid('C'), D = hid('D');
    struct tokens_snap *s = NULL;
    double own[4];

    (void)state;
    assert_int_equal(tokens_meta_set_node(m, &A, NULL, a, 2), 0);
    assert_int_equal(tokens_meta_set_node(m, &B, NULL, b, 1), 0);
    assert_int_equal(tokens_meta_set_node(m, &C, NULL, c, 1), 0);
    assert_int_equal(tokens_meta_set_node(m, &D, NULL, d, 1), 0);
    assert_int_equal(tokens_snap_build(m, &s), 0);
    /* Indexes are host id order: A B C D. */
    assert_int_equal(tokens_snap_ownership(s, 1, own), 0);
    assert_true(own[0] == 0.375 && own[1] == 0.25 && own[2] == 0.125 &&
                own[3] == 0.25);
    /* RF 2: each range also counts for the next distinct node clockwise.
     * (MIN,-q] A+B, (-q,0] B+A, (0,q/2] A+C, (q/2,q] C+D, (q,MIN] D+A. */
    assert_int_equal(tokens_snap_ownership(s, 2, own), 0);
    assert_true(own[0] == 0.25 + 0.25 + 0.125 + 0.25);
    assert_true(own[1] == 0.5 && own[2] == 0.25 && own[3] == 0.375);
    assert_int_equal(tokens_snap_ownership(s, 0, own), -EINVAL);
    tokens_snap_unref(s);
    tokens_meta_free(m);
}

static void test_pending_ranges(void **state)
{
    const char *none[4] = {NULL, NULL, NULL, NULL};
    struct tokens_meta *m;
    struct ring_host_id E = hid('E'), F = hid('F'), got[4];
    struct tokens_snap *s = small_ring(none);
    size_t n;

    (void)state;
    tokens_snap_pending(s, 25, got, 4, &n);
    assert_int_equal(n, 0);
    tokens_snap_unref(s);

    m = tokens_meta_new();
    assert_int_equal(tokens_meta_add_pending(m, 10, 30, &E), 0);
    assert_int_equal(tokens_meta_add_pending(m, 50, 10, &F), 0); /* wraps */
    assert_int_equal(tokens_meta_add_pending(m, 20, 30, &E), 0); /* again */
    assert_int_equal(tokens_snap_build(m, &s), 0);
    tokens_snap_pending(s, 25, got, 4, &n);
    assert_int_equal(n, 1); /* E once, though two ranges hold 25 */
    assert_true(ring_host_id_eq(&got[0], &E));
    tokens_snap_pending(s, 10, got, 4, &n); /* (50,10] holds 10; (10,30] not */
    assert_int_equal(n, 1);
    assert_true(ring_host_id_eq(&got[0], &F));
    tokens_snap_pending(s, 55, got, 4, &n);
    assert_int_equal(n, 1);
    tokens_snap_pending(s, 35, got, 4, &n);
    assert_int_equal(n, 0);
    tokens_snap_unref(s);
    tokens_meta_clear_pending(m);
    assert_int_equal(tokens_snap_build(m, &s), 0);
    tokens_snap_pending(s, 25, got, 4, &n);
    assert_int_equal(n, 0);
    tokens_snap_unref(s);
    tokens_meta_free(m);
}

/* Writes during a move: natural replicas, then pending ones not already
 * among them. The small ring, with E pending on (10,30] and C -- already
 * a natural replica there -- pending too. */
static void test_write_replicas(void **state)
{
    struct tokens_meta *m = tokens_meta_new();
    int64_t a[] = {50, 10}, b[] = {20, 60}, c[] = {30}, d[] = {40};
    struct ring_host_id A = hid('A'), B = hid('B'), C = hid('C'), D = hid('D');
    struct ring_host_id E = hid('E'), out[8];
    struct tokens_snap *s;
    size_t n;

    (void)state;
    assert_int_equal(tokens_meta_set_node(m, &A, NULL, a, 2), 0);
    assert_int_equal(tokens_meta_set_node(m, &B, NULL, b, 2), 0);
    assert_int_equal(tokens_meta_set_node(m, &C, NULL, c, 1), 0);
    assert_int_equal(tokens_meta_set_node(m, &D, NULL, d, 1), 0);
    assert_int_equal(tokens_meta_add_pending(m, 10, 30, &E), 0);
    assert_int_equal(tokens_meta_add_pending(m, 10, 30, &C), 0);
    assert_int_equal(tokens_snap_build(m, &s), 0);
    /* 15: natural B C D; pending E and C (already natural). */
    assert_int_equal(tokens_snap_write_replicas(s, 15, 3, out, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_true(ring_host_id_eq(&out[0], &B) && ring_host_id_eq(&out[1], &C) &&
                ring_host_id_eq(&out[2], &D) && ring_host_id_eq(&out[3], &E));
    /* 45: natural A B C, nothing pending. */
    assert_int_equal(tokens_snap_write_replicas(s, 45, 3, out, 8, &n), 0);
    assert_int_equal(n, 3);
    assert_true(ring_host_id_eq(&out[0], &A));
    /* Room for two only: the primary first. */
    assert_int_equal(tokens_snap_write_replicas(s, 15, 3, out, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_true(ring_host_id_eq(&out[0], &B));
    tokens_snap_unref(s);
    tokens_meta_free(m);
}

struct reader {
    struct tokens_snap *s;
    size_t mismatches;
};

/* Each reader holds its own reference, routes many tokens and drops the
 * reference; the last one out frees the snapshot. */
static void *read_snapshot(void *arg)
{
    struct reader *r = arg;
    size_t idx[3], n;

    for (int64_t t = -50000; t < 50000; t += 7) {
        tokens_snap_replicas(r->s, t, 3, idx, &n);
        r->mismatches += n != 3 || idx[0] != (size_t)tokens_snap_owner(r->s, t);
    }
    tokens_snap_unref(r->s);
    return NULL;
}

static void test_snapshot_shared_between_threads(void **state)
{
    const char *none[4] = {NULL, NULL, NULL, NULL};
    struct tokens_snap *s = small_ring(none);
    struct reader r[4];
    pthread_t th[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        r[i] = (struct reader){tokens_snap_ref(s), 0};
        assert_int_equal(pthread_create(&th[i], NULL, read_snapshot, &r[i]), 0);
    }
    tokens_snap_unref(s); /* the owner lets go while readers still read */
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].mismatches, 0);
    }
}

static void test_bad_input_changes_nothing(void **state)
{
    struct tokens_meta *m = tokens_meta_new();
    struct ring_host_id A = hid('A'), B = hid('B');
    int64_t a[] = {1, 2}, clash[] = {3, 2}, dup[] = {7, 7};
    struct tokens_snap *s;
    size_t idx[2], n;
    char longrack[TOKENS_RACK_MAX + 1];

    (void)state;
    memset(longrack, 'x', sizeof(longrack) - 1);
    longrack[TOKENS_RACK_MAX] = '\0';
    assert_int_equal(tokens_meta_set_node(m, &A, NULL, a, 2), 0);
    assert_int_equal(tokens_meta_set_node(m, &B, NULL, clash, 2), -EINVAL);
    assert_int_equal(tokens_meta_set_node(m, &B, NULL, dup, 2), -EINVAL);
    assert_int_equal(tokens_meta_set_node(m, &B, NULL, a, 0), -EINVAL);
    assert_int_equal(tokens_meta_set_node(m, &B, longrack, dup, 1), -EINVAL);
    assert_int_equal(tokens_meta_remove_node(m, &B), CAIRN_ENOTFOUND);
    assert_int_equal(tokens_snap_build(m, &s), 0);
    assert_int_equal(tokens_snap_node_count(s), 1);
    assert_int_equal(tokens_snap_token_count(s), 2);
    assert_int_equal(tokens_snap_replicas(s, 0, 0, idx, &n), -EINVAL);
    tokens_snap_unref(s);
    /* A node may take over its own tokens again. */
    assert_int_equal(tokens_meta_set_node(m, &A, "r", a, 1), 0);
    assert_int_equal(tokens_meta_remove_node(m, &A), 0);
    tokens_meta_free(m);
}

/* A snapshot is immutable: later changes to the working copy do not
 * reach it, and it lives as long as one reference does. */
static void test_snapshot_immutable(void **state)
{
    struct tokens_meta *m = tokens_meta_new();
    struct ring_host_id A = hid('A'), B = hid('B');
    int64_t a[] = {100}, b[] = {200};
    struct tokens_snap *s, *s2;
    size_t idx[2], n;

    (void)state;
    assert_int_equal(tokens_meta_set_node(m, &A, NULL, a, 1), 0);
    assert_int_equal(tokens_snap_build(m, &s), 0);
    assert_int_equal(tokens_meta_set_node(m, &B, NULL, b, 1), 0);
    assert_int_equal(tokens_meta_remove_node(m, &A), 0);
    s2 = tokens_snap_ref(s);
    tokens_snap_unref(s);
    assert_int_equal(tokens_snap_replicas(s2, 150, 2, idx, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(letter(s2, idx[0]), 'A');
    assert_int_equal(tokens_snap_find(s2, &B), -1);
    tokens_snap_unref(s2);
    tokens_meta_free(m);
}

/* A random source that repeats itself, to make collisions certain. */
static uint64_t seq_next(void *ctx)
{
    static const uint64_t vals[] = {5, 5, 9, 3, 9, 7, 1, 2, 4};
    size_t *i = ctx;

    return vals[(*i)++ % 9];
}

static void test_pick_distinct(void **state)
{
    struct tokens_meta *m = tokens_meta_new();
    struct ring_host_id A = hid('A');
    int64_t taken[] = {3}, out[5];
    size_t pos = 0;
    struct ring_rand r = {seq_next, &pos};
    struct tokens_snap *s;

    (void)state;
    assert_int_equal(tokens_meta_set_node(m, &A, NULL, taken, 1), 0);
    assert_int_equal(tokens_snap_build(m, &s), 0);
    assert_int_equal(tokens_pick(&r, s, 5, out), 0);
    /* 5, (5 again), 9, (3 taken), (9 again), 7, 1, 2; sorted */
    assert_true(out[0] == 1 && out[1] == 2 && out[2] == 5 && out[3] == 7 &&
                out[4] == 9);
    assert_int_equal(tokens_pick(&r, s, 0, out), -EINVAL);
    tokens_snap_unref(s);
    tokens_meta_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicas_by_hand),
        cmocka_unit_test(test_replicas_rack_aware),
        cmocka_unit_test(test_ownership_exact),
        cmocka_unit_test(test_pending_ranges),
        cmocka_unit_test(test_write_replicas),
        cmocka_unit_test(test_snapshot_shared_between_threads),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_snapshot_immutable),
        cmocka_unit_test(test_pick_distinct),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
