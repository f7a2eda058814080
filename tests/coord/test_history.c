/*
 * test_history.c -- the LWW register history checker on small histories
 * whose verdicts are worked out by hand from the promise: an acknowledged
 * write is visible to every read that started after the acknowledgement,
 * unless a later (or concurrent) write replaced it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "tests/coord/history.h"

static char why[512];

static size_t w(struct history *h, const char *k, uint64_t v, int64_t s,
                int64_t e, enum history_outcome o)
{
    size_t op;

    assert_int_equal(history_write_begin(h, k, strlen(k), v, 0, s, &op), 0);
    history_write_end(h, op, e, o);
    return op;
}

static void del(struct history *h, const char *k, uint64_t v, int64_t s,
                int64_t e)
{
    size_t op;

    assert_int_equal(history_write_begin(h, k, strlen(k), v, 1, s, &op), 0);
    history_write_end(h, op, e, HISTORY_OK);
}

static void r(struct history *h, const char *k, int64_t s, int64_t e,
              uint64_t v)
{
    assert_int_equal(history_read(h, k, strlen(k), s, e, v), 0);
}

static int verdict(struct history *h)
{
    int rc = history_check(h, why, sizeof(why));

    history_free(h);
    return rc;
}

static struct history *fresh(void)
{
    struct history *h;

    assert_int_equal(history_new(&h), 0);
    return h;
}

static void test_sees_acked(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "k", 1, 0, 10, HISTORY_OK);
    r(h, "k", 20, 30, 1);
    assert_int_equal(verdict(h), 0);
}

static void test_stale_read(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "k", 1, 0, 10, HISTORY_OK);
    w(h, "k", 2, 15, 25, HISTORY_OK);
    r(h, "k", 30, 40, 1); /* 1 ended before 2 began: stale */
    assert_int_equal(verdict(h), -1);
    assert_non_null(strstr(why, "returned 1"));
}

static void test_concurrent_either(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "k", 1, 0, 10, HISTORY_OK);
    w(h, "k", 2, 5, 25, HISTORY_OK); /* overlaps 1 */
    r(h, "k", 30, 40, 1);
    r(h, "k", 30, 40, 2);
    assert_int_equal(verdict(h), 0);
}

static void test_read_during_write(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "k", 1, 0, 10, HISTORY_OK);
    w(h, "k", 2, 15, 50, HISTORY_OK);
    r(h, "k", 20, 30, 1); /* 2 not acked yet when the read began */
    r(h, "k", 20, 30, 2); /* or already visible */
    assert_int_equal(verdict(h), 0);
}

static void test_missing_write(void **state)
{
    struct history *h = fresh();

    (void)state;
    r(h, "k", 0, 5, 0); /* nothing written yet: fine */
    w(h, "k", 1, 0, 10, HISTORY_OK);
    r(h, "k", 20, 30, 0);
    assert_int_equal(verdict(h), -1);
}

static void test_delete_explains_empty(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "k", 1, 0, 10, HISTORY_OK);
    del(h, "k", 2, 12, 14);
    r(h, "k", 20, 30, 0);
    assert_int_equal(verdict(h), 0);
    /* ...but not a delete replaced by a later write. */
    h = fresh();
    del(h, "k", 2, 0, 4);
    w(h, "k", 1, 5, 10, HISTORY_OK);
    r(h, "k", 20, 30, 0);
    assert_int_equal(verdict(h), -1);
}

static void test_future_and_failed(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "k", 1, 50, 60, HISTORY_OK);
    r(h, "k", 20, 30, 1); /* written after the read ended */
    assert_int_equal(verdict(h), -1);
    h = fresh();
    w(h, "k", 1, 0, 10, HISTORY_FAILED);
    r(h, "k", 20, 30, 1);
    assert_int_equal(verdict(h), -1);
    h = fresh();
    r(h, "k", 20, 30, 9); /* never written */
    assert_int_equal(verdict(h), -1);
}

/* Unknown outcomes (timeouts) may or may not be seen, at any time. */
static void test_unknown_may_appear(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "k", 1, 0, 10, HISTORY_UNKNOWN);
    w(h, "k", 2, 20, 30, HISTORY_OK);
    r(h, "k", 40, 50, 1);
    r(h, "k", 40, 50, 2);
    assert_int_equal(verdict(h), 0);
}

static void test_keys_apart(void **state)
{
    struct history *h = fresh();

    (void)state;
    w(h, "a", 1, 0, 10, HISTORY_OK);
    w(h, "b", 2, 15, 25, HISTORY_OK);
    r(h, "a", 30, 40, 1); /* b's write does not replace a's */
    assert_int_equal(verdict(h), 0);
}

static void test_value_zero_refused(void **state)
{
    struct history *h = fresh();
    size_t op;

    (void)state;
    assert_int_equal(history_write_begin(h, "k", 1, 0, 0, 0, &op), -EINVAL);
    history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sees_acked),
        cmocka_unit_test(test_stale_read),
        cmocka_unit_test(test_concurrent_either),
        cmocka_unit_test(test_read_during_write),
        cmocka_unit_test(test_missing_write),
        cmocka_unit_test(test_delete_explains_empty),
        cmocka_unit_test(test_future_and_failed),
        cmocka_unit_test(test_unknown_may_appear),
        cmocka_unit_test(test_keys_apart),
        cmocka_unit_test(test_value_zero_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
