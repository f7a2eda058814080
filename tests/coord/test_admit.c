/*
 * test_admit.c -- admission control (scenario C23): bounds on bytes,
 * count and hint bytes; refusals change nothing; releases give room back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/coord/admit.h"

static void test_bytes_bound(void **state)
{
    struct coord_admit a;

    (void)state;
    coord_admit_init(&a, 1000, 0, 0);
    assert_int_equal(coord_admit_request(&a, 600), 0);
    assert_int_equal(coord_admit_request(&a, 400), 0); /* exactly full */
    assert_int_equal(coord_admit_request(&a, 1), CAIRN_EOVERLOADED);
    assert_int_equal(a.bytes, 1000);
    assert_int_equal(a.count, 2);
    assert_int_equal(a.refused, 1);
    coord_admit_request_done(&a, 600);
    assert_int_equal(coord_admit_request(&a, 600), 0);
    assert_int_equal(a.peak_bytes, 1000);
    /* One request larger than the whole bound never gets in. */
    coord_admit_init(&a, 1000, 0, 0);
    assert_int_equal(coord_admit_request(&a, 1001), CAIRN_EOVERLOADED);
    assert_int_equal(coord_admit_request(&a, UINT64_MAX), CAIRN_EOVERLOADED);
    assert_int_equal(a.bytes, 0);
}

static void test_count_bound(void **state)
{
    struct coord_admit a;

    (void)state;
    coord_admit_init(&a, 0, 2, 0);
    assert_int_equal(coord_admit_request(&a, 1 << 30), 0);
    assert_int_equal(coord_admit_request(&a, 1), 0);
    assert_int_equal(coord_admit_request(&a, 1), CAIRN_EOVERLOADED);
    coord_admit_request_done(&a, 1);
    assert_int_equal(coord_admit_request(&a, 1), 0);
}

static void test_hint_bound(void **state)
{
    struct coord_admit a;

    (void)state;
    coord_admit_init(&a, 0, 0, 300);
    assert_int_equal(coord_admit_hint(&a, 200), 0);
    assert_int_equal(coord_admit_hint(&a, 200), CAIRN_EOVERLOADED);
    assert_int_equal(a.refused_hints, 1);
    assert_int_equal(a.hint_bytes, 200);
    coord_admit_hint_done(&a, 200);
    assert_int_equal(coord_admit_hint(&a, 300), 0);
    /* Hints and requests are bounded apart. */
    assert_int_equal(coord_admit_request(&a, 1 << 20), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_bound),
        cmocka_unit_test(test_count_bound),
        cmocka_unit_test(test_hint_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
