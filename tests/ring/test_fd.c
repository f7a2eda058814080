/*
 * test_fd.c -- the phi accrual failure detector. Expected phi values come
 * from tabulated tail probabilities of the standard normal distribution,
 * Q(z) = P(Z > z), not from the code's own formula:
 *   Q(0) = 0.5, Q(2) = 0.0227501319481792, Q(3) = 0.00134989803163009,
 *   Q(5) = 2.86651571879194e-7, Q(6) = 9.86587645037698e-10,
 * so phi = -log10(Q(z)) at z standard deviations past the mean interval.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ring/fd.h"

static void assert_close(double got, double want)
{
    if (fabs(got - want) > 1e-6 * fmax(1.0, fabs(want)))
        fail_msg("got %.9f, expected %.9f", got, want);
}

/* Regular 1 s heartbeats: the deviation is floored at 2 s. */
static void test_phi_floor(void **state)
{
    struct fd_config c;
    struct fd_state f;
    int64_t t = 0;

    (void)state;
    fd_config_default(&c);
    assert_true(c.threshold == 8.0 && c.min_std_dev_ms == 2000);
    fd_init(&f);
    assert_true(fd_phi(&f, &c, 5000) == 0.0); /* nothing reported yet */
    for (int i = 0; i < 20; i++, t += 1000)
        fd_report(&f, &c, t);
    t -= 1000; /* the last arrival */
    assert_close(fd_mean_ms(&f), 1000.0);
    assert_close(fd_std_dev_ms(&f), 0.0);
    assert_close(fd_phi(&f, &c, t + 1000), -log10(0.5));
    assert_close(fd_phi(&f, &c, t + 1000 + 2 * 2000),
                 -log10(0.0227501319481792));
    /* Convicted between 5 and 6 deviations past the mean: 11 to 13 s of
     * silence with one-second gossip. */
    assert_close(fd_phi(&f, &c, t + 1000 + 5 * 2000),
                 -log10(2.86651571879194e-7));
    assert_false(fd_convicted(&f, &c, t + 1000 + 5 * 2000));
    assert_close(fd_phi(&f, &c, t + 1000 + 6 * 2000),
                 -log10(9.86587645037698e-10));
    assert_true(fd_convicted(&f, &c, t + 1000 + 6 * 2000));
}

/* Irregular arrivals: intervals 1 s and 7 s alternate, mean 4 s and
 * deviation 3 s (above the floor). */
static void test_phi_measured_deviation(void **state)
{
    struct fd_config c;
    struct fd_state f;
    int64_t t = 0;

    (void)state;
    fd_config_default(&c);
    fd_init(&f);
    fd_report(&f, &c, t); /* seeds one 1 s interval */
    for (int i = 0; i < 21; i++) {
        t += i % 2 == 0 ? 7000 : 1000;
        fd_report(&f, &c, t);
    }
    /* samples: 1000 (seed), then 7000, 1000, ... 7000: 11 of each */
    assert_close(fd_mean_ms(&f), 4000.0);
    assert_close(fd_std_dev_ms(&f), 3000.0);
    assert_close(fd_phi(&f, &c, t + 4000 + 3 * 3000),
                 -log10(0.00134989803163009));
}

static void test_window_is_bounded(void **state)
{
    struct fd_config c;
    struct fd_state f;
    int64_t t = 0;

    (void)state;
    fd_config_default(&c);
    fd_init(&f);
    for (int i = 0; i < 300; i++, t += 5000)
        fd_report(&f, &c, t);
    /* The first of these intervals is 6 s (the loop above already moved t
     * on by 5 s); the FD_WINDOW after it are 1 s, and only they count. */
    for (int i = 0; i < FD_WINDOW + 1; i++) {
        t += 1000;
        fd_report(&f, &c, t);
    }
    assert_int_equal(f.n, FD_WINDOW);
    assert_close(fd_mean_ms(&f), 1000.0);
    assert_close(fd_std_dev_ms(&f), 0.0);
}

static void test_long_gap_not_sampled(void **state)
{
    struct fd_config c;
    struct fd_state f;

    (void)state;
    fd_config_default(&c);
    fd_init(&f);
    fd_report(&f, &c, 0);
    fd_report(&f, &c, 1000);
    fd_report(&f, &c, 1000 + c.max_interval_ms + 1); /* a partition */
    assert_int_equal(f.n, 2);
    assert_close(fd_mean_ms(&f), 1000.0);
    /* Time going backwards is ignored. */
    fd_report(&f, &c, 5);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.last_ms, 1000 + c.max_interval_ms + 1);
}

static void test_phi_capped(void **state)
{
    struct fd_config c;
    struct fd_state f;
    double phi;

    (void)state;
    fd_config_default(&c);
    fd_init(&f);
    fd_report(&f, &c, 0);
    phi = fd_phi(&f, &c, INT64_C(1) << 40);
    assert_true(phi == FD_PHI_MAX);
    assert_false(isnan(phi));
    assert_true(fd_phi(&f, &c, 0) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phi_floor),
        cmocka_unit_test(test_phi_measured_deviation),
        cmocka_unit_test(test_window_is_bounded),
        cmocka_unit_test(test_long_gap_not_sampled),
        cmocka_unit_test(test_phi_capped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
