/*
 * test_cl.c -- consistency level arithmetic. Expected counts follow from
 * the definitions: QUORUM = rf / 2 + 1, ALL = rf, pending replicas add
 * one answer each for writes, ANY is met by a hint, reads never count
 * pending replicas and cannot use ANY.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/coord/cl.h"

static void test_block_for(void **state)
{
    (void)state;
    assert_int_equal(coord_cl_block_for(COORD_CL_ONE, 3), 1);
    assert_int_equal(coord_cl_block_for(COORD_CL_TWO, 3), 2);
    assert_int_equal(coord_cl_block_for(COORD_CL_THREE, 5), 3);
    assert_int_equal(coord_cl_block_for(COORD_CL_QUORUM, 1), 1);
    assert_int_equal(coord_cl_block_for(COORD_CL_QUORUM, 2), 2);
    assert_int_equal(coord_cl_block_for(COORD_CL_QUORUM, 3), 2);
    assert_int_equal(coord_cl_block_for(COORD_CL_QUORUM, 4), 3);
    assert_int_equal(coord_cl_block_for(COORD_CL_QUORUM, 5), 3);
    assert_int_equal(coord_cl_block_for(COORD_CL_ALL, 5), 5);
    assert_int_equal(coord_cl_block_for(COORD_CL_ANY, 3), 1);
    assert_int_equal(coord_cl_block_for(COORD_CL_ONE, 0), -EINVAL);
    assert_int_equal(coord_cl_block_for((enum coord_cl)17, 3), -EINVAL);
}

static void test_write_check(void **state)
{
    (void)state;
    /* rf 3, nothing pending: QUORUM needs 2 alive. */
    assert_int_equal(coord_cl_write_check(COORD_CL_QUORUM, 3, 0, 2, 1), 2);
    assert_int_equal(coord_cl_write_check(COORD_CL_QUORUM, 3, 0, 1, 1),
                     CAIRN_EUNAVAILABLE);
    /* ALL with one of three down fails at once. */
    assert_int_equal(coord_cl_write_check(COORD_CL_ALL, 3, 0, 2, 1),
                     CAIRN_EUNAVAILABLE);
    assert_int_equal(coord_cl_write_check(COORD_CL_ALL, 3, 0, 3, 1), 3);
    /* A pending replica raises QUORUM from 2 to 3 answers. */
    assert_int_equal(coord_cl_write_check(COORD_CL_QUORUM, 3, 1, 4, 1), 3);
    assert_int_equal(coord_cl_write_check(COORD_CL_QUORUM, 3, 1, 2, 1),
                     CAIRN_EUNAVAILABLE);
    assert_int_equal(coord_cl_write_check(COORD_CL_ONE, 3, 2, 3, 1), 3);
    /* THREE on rf 2 can never be met. */
    assert_int_equal(coord_cl_write_check(COORD_CL_THREE, 2, 0, 2, 1),
                     CAIRN_EUNAVAILABLE);
    /* ANY: a hint will do, unless hints are off and nobody is up. */
    assert_int_equal(coord_cl_write_check(COORD_CL_ANY, 3, 0, 0, 1), 1);
    assert_int_equal(coord_cl_write_check(COORD_CL_ANY, 3, 1, 0, 1), 1);
    assert_int_equal(coord_cl_write_check(COORD_CL_ANY, 3, 0, 0, 0),
                     CAIRN_EUNAVAILABLE);
    assert_int_equal(coord_cl_write_check(COORD_CL_ONE, 3, -1, 3, 1), -EINVAL);
}

static void test_read_check(void **state)
{
    (void)state;
    assert_int_equal(coord_cl_read_check(COORD_CL_QUORUM, 3, 2), 2);
    assert_int_equal(coord_cl_read_check(COORD_CL_QUORUM, 3, 1),
                     CAIRN_EUNAVAILABLE);
    assert_int_equal(coord_cl_read_check(COORD_CL_ALL, 3, 2),
                     CAIRN_EUNAVAILABLE);
    assert_int_equal(coord_cl_read_check(COORD_CL_ONE, 3, 1), 1);
    assert_int_equal(coord_cl_read_check(COORD_CL_ANY, 3, 3), -EINVAL);
}

static void test_names(void **state)
{
    enum coord_cl cl = COORD_CL_ONE;

    (void)state;
    assert_string_equal(coord_cl_name(COORD_CL_QUORUM), "QUORUM");
    assert_string_equal(coord_cl_name((enum coord_cl)99), "?");
    assert_int_equal(coord_cl_parse("all", &cl), 0);
    assert_int_equal(cl, COORD_CL_ALL);
    assert_int_equal(coord_cl_parse("Quorum", &cl), 0);
    assert_int_equal(cl, COORD_CL_QUORUM);
    assert_int_equal(coord_cl_parse("MOST", &cl), -EINVAL);
    assert_int_equal(cl, COORD_CL_QUORUM); /* unchanged on error */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_for),
        cmocka_unit_test(test_write_check),
        cmocka_unit_test(test_read_check),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
