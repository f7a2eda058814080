/*
 * test_tsclock.c -- the hybrid timestamp source (scenario C18). Expected
 * values follow from next = max(wall, last + 1) and the future bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/coord/tsclock.h"

#define S 1000000LL /* one second in µs */

static void test_monotonic_when_wall_goes_back(void **state)
{
    struct coord_tsclock c;

    (void)state;
    coord_tsclock_init(&c, 60 * S);
    assert_int_equal(coord_tsclock_next(&c, 1000), 1000);
    assert_int_equal(coord_tsclock_next(&c, 1000), 1001); /* same µs */
    assert_int_equal(coord_tsclock_next(&c, 500), 1002);  /* clock back */
    assert_int_equal(c.behind, 2);
    assert_int_equal(coord_tsclock_next(&c, 5000), 5000);
}

/* C18 (a): B's clock is 5 s slow. v1 is stamped through A; B applies it
   as a replica; v2 through B must still be stamped above v1. */
static void test_slow_coordinator_still_wins(void **state)
{
    struct coord_tsclock a, b;
    int64_t now = 1700000000 * S, v1, v2;

    (void)state;
    coord_tsclock_init(&a, 60 * S);
    coord_tsclock_init(&b, 60 * S);
    v1 = coord_tsclock_next(&a, now);
    assert_int_equal(coord_tsclock_observe(&b, v1, now - 5 * S), 1);
    v2 = coord_tsclock_next(&b, now + 1000 - 5 * S);
    assert_true(v2 > v1);
    assert_int_equal(v2, v1 + 1);
}

/* C18 (c): a timestamp an hour ahead is refused, not adopted. */
static void test_future_refused(void **state)
{
    struct coord_tsclock c;
    int64_t now = 1700000000 * S;

    (void)state;
    coord_tsclock_init(&c, 60 * S);
    assert_int_equal(coord_tsclock_check(&c, now + 3600 * S, now), -EINVAL);
    assert_int_equal(c.refused, 1);
    assert_int_equal(coord_tsclock_observe(&c, now + 3600 * S, now), 0);
    assert_int_equal(c.refused, 2);
    /* Nothing was adopted: the next stamp is the wall clock. */
    assert_int_equal(coord_tsclock_next(&c, now), now);
    /* Exactly at the bound is allowed, one µs past is not. */
    assert_int_equal(coord_tsclock_check(&c, now + 60 * S, now), 0);
    assert_int_equal(coord_tsclock_check(&c, now + 60 * S + 1, now), -EINVAL);
    assert_int_equal(coord_tsclock_check(&c, 0, now), -EINVAL);
    assert_int_equal(coord_tsclock_check(&c, INT64_MAX, now), -EINVAL);
}

/* An accepted client timestamp is observed: later stamps go above it. */
static void test_client_timestamp_observed(void **state)
{
    struct coord_tsclock c;
    int64_t now = 1700000000 * S;

    (void)state;
    coord_tsclock_init(&c, 60 * S);
    assert_int_equal(coord_tsclock_check(&c, now + 10 * S, now), 0);
    assert_int_equal(coord_tsclock_next(&c, now), now + 10 * S + 1);
    /* An older one is fine too and changes nothing. */
    assert_int_equal(coord_tsclock_check(&c, now - 10 * S, now), 0);
    assert_int_equal(coord_tsclock_next(&c, now), now + 10 * S + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_when_wall_goes_back),
        cmocka_unit_test(test_slow_coordinator_still_wins),
        cmocka_unit_test(test_future_refused),
        cmocka_unit_test(test_client_timestamp_observed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
