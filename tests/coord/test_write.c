/*
 * test_write.c -- the write state machine. Expected actions follow from
 * the rules in write.h and cl.h: QUORUM of rf 3 needs 2 answers, a
 * pending replica adds one, ALL with a replica down fails at once,
 * timeouts answer with acked/required and hint the silent replicas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/coord/resolve.h"
#include "server/coord/write.h"

#define MS 1000000LL

struct fixture {
    struct coord_target t[4];
    struct coord_write_params p;
    struct coord_write w;
    struct coord_acts a;
};

static void setup_fx(struct fixture *f, enum coord_cl cl, int ntargets)
{
    for (int i = 0; i < ntargets; i++)
        f->t[i] = (struct coord_target){.replica = 10 + i, .alive = 1};
    f->p = (struct coord_write_params){.cl = cl,
                                       .rf = 3,
                                       .targets = f->t,
                                       .ntargets = ntargets,
                                       .timeout_ns = 2000 * MS,
                                       .hints = 1,
                                       .hint_window_ns = 3600000 * MS};
    coord_acts_init(&f->a);
}

static int count(const struct coord_acts *a, enum coord_act_kind k)
{
    int n = 0;

    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].kind == k;
    return n;
}

static const struct coord_act *first(const struct coord_acts *a,
                                     enum coord_act_kind k)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].kind == k)
            return &a->v[i];
    return NULL;
}

static void test_quorum_success(void **state)
{
    struct fixture f;
    const struct coord_act *d;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM, 3);
    assert_int_equal(coord_write_start(&f.w, &f.p, 0, &f.a), 0);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_WRITE), 3);
    assert_int_equal(count(&f.a, COORD_ACT_TIMER), 1);
    assert_int_equal(first(&f.a, COORD_ACT_TIMER)->at_ns, 2000 * MS);
    coord_acts_clear(&f.a);
    assert_int_equal(coord_write_on_reply(&f.w, 0, 0, &f.a), 0);
    assert_int_equal(f.a.n, 0);
    assert_int_equal(coord_write_on_reply(&f.w, 2, 0, &f.a), 0);
    d = first(&f.a, COORD_ACT_DONE);
    assert_non_null(d);
    assert_int_equal(d->rc, 0);
    assert_int_equal(d->acked, 2);
    assert_int_equal(d->required, 2);
    assert_false(coord_write_finished(&f.w)); /* replica 11 still owes */
    coord_acts_clear(&f.a);
    assert_int_equal(coord_write_on_reply(&f.w, 1, 0, &f.a), 0);
    assert_int_equal(f.a.n, 0); /* answered once only */
    assert_true(coord_write_finished(&f.w));
    /* A duplicate or unknown tag changes nothing. */
    assert_int_equal(coord_write_on_reply(&f.w, 1, 0, &f.a), 0);
    assert_int_equal(coord_write_on_reply(&f.w, 77, 0, &f.a), 0);
    assert_int_equal(f.a.n, 0);
    coord_acts_free(&f.a);
}

static void test_all_unavailable_fast(void **state)
{
    struct fixture f;
    const struct coord_act *d;

    (void)state;
    setup_fx(&f, COORD_CL_ALL, 3);
    f.t[1].alive = 0;
    assert_int_equal(coord_write_start(&f.w, &f.p, 0, &f.a), 0);
    assert_int_equal(f.a.n, 1); /* nothing sent, nothing hinted */
    d = first(&f.a, COORD_ACT_DONE);
    assert_non_null(d);
    assert_int_equal(d->rc, CAIRN_EUNAVAILABLE);
    assert_int_equal(d->unknown, 0);
    /* ALL at RF 3 needs 3 answers; the error must say so, not 0. */
    assert_int_equal(d->required, 3);
    assert_true(coord_write_finished(&f.w));
    coord_acts_free(&f.a);
}

/* A pending replica raises QUORUM to 3 answers (any 3 of the 4). */
static void test_pending_raises_count(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM, 4);
    f.t[3].pending = 1;
    assert_int_equal(coord_write_start(&f.w, &f.p, 0, &f.a), 0);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_WRITE), 4);
    coord_acts_clear(&f.a);
    coord_write_on_reply(&f.w, 0, 0, &f.a);
    coord_write_on_reply(&f.w, 1, 0, &f.a);
    assert_null(first(&f.a, COORD_ACT_DONE));
    coord_write_on_reply(&f.w, 3, 0, &f.a);
    assert_non_null(first(&f.a, COORD_ACT_DONE));
    assert_int_equal(first(&f.a, COORD_ACT_DONE)->required, 3);
    coord_acts_free(&f.a);
}

/* C24: a timeout says "unknown", counts the acks, hints the silent. */
static void test_timeout_unknown_and_hints(void **state)
{
    struct fixture f;
    const struct coord_act *d;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM, 3);
    coord_write_start(&f.w, &f.p, 0, &f.a);
    coord_write_on_reply(&f.w, 1, 0, &f.a);
    coord_acts_clear(&f.a);
    /* An early timer does nothing. */
    assert_int_equal(coord_write_on_timer(&f.w, 1999 * MS, &f.a), 0);
    assert_int_equal(f.a.n, 0);
    assert_int_equal(coord_write_on_timer(&f.w, 2000 * MS, &f.a), 0);
    assert_int_equal(count(&f.a, COORD_ACT_HINT), 2);
    d = first(&f.a, COORD_ACT_DONE);
    assert_non_null(d);
    assert_int_equal(d->rc, CAIRN_ETIMEOUT);
    assert_int_equal(d->acked, 1);
    assert_int_equal(d->required, 2);
    assert_int_equal(d->unknown, 1);
    assert_false(coord_write_finished(&f.w)); /* two hints outstanding */
    coord_acts_clear(&f.a);
    /* A late acknowledgement no longer counts. */
    coord_write_on_reply(&f.w, 0, 0, &f.a);
    assert_int_equal(f.a.n, 0);
    coord_write_on_hint(&f.w, 10, 0, &f.a);
    coord_write_on_hint(&f.w, 12, 0, &f.a);
    assert_int_equal(f.a.n, 0);
    assert_true(coord_write_finished(&f.w));
    coord_acts_free(&f.a);
}

static void test_hint_window(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_ONE, 3);
    f.p.hint_window_ns = 1000 * MS;
    f.t[0].alive = 0;
    f.t[0].down_ns = 500 * MS; /* inside the window: hinted */
    f.t[1].alive = 0;
    f.t[1].down_ns = 1001 * MS; /* beyond: left for repair */
    coord_write_start(&f.w, &f.p, 0, &f.a);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_WRITE), 1);
    assert_int_equal(count(&f.a, COORD_ACT_HINT), 1);
    assert_int_equal(first(&f.a, COORD_ACT_HINT)->replica, 10);
    assert_int_equal(f.w.missed, 1);
    coord_acts_free(&f.a);
}

/* ANY with every replica down: a stored hint satisfies it. */
static void test_any_met_by_hint(void **state)
{
    struct fixture f;
    const struct coord_act *d;

    (void)state;
    setup_fx(&f, COORD_CL_ANY, 3);
    for (int i = 0; i < 3; i++)
        f.t[i].alive = 0;
    coord_write_start(&f.w, &f.p, 0, &f.a);
    assert_int_equal(count(&f.a, COORD_ACT_HINT), 3);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_WRITE), 0);
    coord_acts_clear(&f.a);
    coord_write_on_hint(&f.w, 10, CAIRN_EOVERLOADED, &f.a);
    assert_null(first(&f.a, COORD_ACT_DONE));
    coord_write_on_hint(&f.w, 11, 0, &f.a);
    d = first(&f.a, COORD_ACT_DONE);
    assert_non_null(d);
    assert_int_equal(d->rc, 0);
    assert_int_equal(d->acked, 1);
    coord_acts_free(&f.a);
}

/* ALL cannot be met once a replica refuses: answer at once. */
static void test_replica_failure(void **state)
{
    struct fixture f;
    const struct coord_act *d;

    (void)state;
    setup_fx(&f, COORD_CL_ALL, 3);
    coord_write_start(&f.w, &f.p, 0, &f.a);
    coord_acts_clear(&f.a);
    coord_write_on_reply(&f.w, 0, 0, &f.a);
    coord_write_on_reply(&f.w, 1, CAIRN_EREADONLY, &f.a);
    assert_int_equal(count(&f.a, COORD_ACT_HINT), 1);
    d = first(&f.a, COORD_ACT_DONE);
    assert_non_null(d);
    assert_int_equal(d->rc, CAIRN_EREADONLY);
    assert_int_equal(d->acked, 1);
    assert_int_equal(d->unknown, 1);
    coord_acts_free(&f.a);
}

/* Found by cairn-sim-coord: both alive replicas refuse, but the down
   one got a hint that will be replayed -- the outcome is not "failed"
   but unknown. */
static void test_failure_with_hint_is_unknown(void **state)
{
    struct fixture f;
    const struct coord_act *d;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM, 3);
    f.t[2].alive = 0;
    coord_write_start(&f.w, &f.p, 0, &f.a);
    assert_int_equal(count(&f.a, COORD_ACT_HINT), 1);
    coord_write_on_hint(&f.w, 12, 0, &f.a);
    coord_acts_clear(&f.a);
    coord_write_on_reply(&f.w, 0, CAIRN_EOVERLOADED, &f.a);
    coord_write_on_reply(&f.w, 1, CAIRN_EOVERLOADED, &f.a);
    d = first(&f.a, COORD_ACT_DONE);
    assert_non_null(d);
    assert_int_equal(d->rc, CAIRN_EOVERLOADED);
    assert_int_equal(d->acked, 0);
    assert_int_equal(d->unknown, 1);
    coord_acts_free(&f.a);
}

static void test_bad_params(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_ONE, 3);
    f.p.ntargets = 0;
    assert_int_equal(coord_write_start(&f.w, &f.p, 0, &f.a), -EINVAL);
    f.p.ntargets = COORD_MAX_TARGETS + 1;
    assert_int_equal(coord_write_start(&f.w, &f.p, 0, &f.a), -EINVAL);
    f.p.ntargets = 3;
    f.p.cl = (enum coord_cl)42;
    assert_int_equal(coord_write_start(&f.w, &f.p, 0, &f.a), -EINVAL);
    assert_int_equal(f.a.n, 0);
    coord_acts_free(&f.a);
}

/* A replica store for the C24 story: apply `v`@`ts` to column c. */
static void apply_cell(struct coord_part *store, const char *v, int64_t ts)
{
    struct storage_cell c = {.column = {(const uint8_t *)"c", 1},
                             .value = {(const uint8_t *)v, 2},
                             .ts = ts};
    struct storage_row r = {.ck = {(const uint8_t *)"r", 1},
                            .deleted_ts = STORAGE_TS_NONE,
                            .cells = &c,
                            .ncells = 1};
    struct storage_partition m = {
        .deleted_ts = STORAGE_TS_NONE, .rows = &r, .nrows = 1};
    const struct storage_partition *in[2] = {&store->p, &m};
    struct coord_part next;

    assert_int_equal(coord_resolve_merge(in, 2, &next), 0);
    coord_part_move(store, &next);
}

/* run -- one write of `v`@`ts` at QUORUM; every replica applies it, and
   acks reach the coordinator only when `acks` is set. Returns the rc. */
static int run(struct coord_part *stores, const char *v, int64_t ts, int acks)
{
    struct fixture f;
    int rc = 1;

    setup_fx(&f, COORD_CL_QUORUM, 3);
    assert_int_equal(coord_write_start(&f.w, &f.p, 0, &f.a), 0);
    for (int i = 0; i < 3; i++) {
        apply_cell(&stores[i], v, ts);
        if (acks)
            coord_write_on_reply(&f.w, (uint32_t)i, 0, &f.a);
    }
    coord_write_on_timer(&f.w, 2000 * MS, &f.a);
    for (size_t i = 0; i < f.a.n; i++)
        if (f.a.v[i].kind == COORD_ACT_DONE) {
            rc = f.a.v[i].rc;
            assert_int_equal(f.a.v[i].unknown, rc == CAIRN_ETIMEOUT);
        }
    coord_acts_free(&f.a);
    return rc;
}

/* C24 (b): v1's acks are lost (timeout, outcome unknown), v2 succeeds,
   then the client's retry of v1 with its original timestamp lands: every
   replica still holds v2. */
static void test_retry_cannot_override_newer(void **state)
{
    struct coord_part st[3];

    (void)state;
    for (int i = 0; i < 3; i++)
        coord_part_init(&st[i]);
    assert_int_equal(run(st, "v1", 100, 0), CAIRN_ETIMEOUT);
    assert_int_equal(run(st, "v2", 200, 1), 0);
    assert_int_equal(run(st, "v1", 100, 1), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(st[i].p.nrows, 1);
        assert_int_equal(st[i].p.rows[0].cells[0].ts, 200);
        assert_memory_equal(st[i].p.rows[0].cells[0].value.p, "v2", 2);
        coord_part_free(&st[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorum_success),
        cmocka_unit_test(test_all_unavailable_fast),
        cmocka_unit_test(test_pending_raises_count),
        cmocka_unit_test(test_timeout_unknown_and_hints),
        cmocka_unit_test(test_hint_window),
        cmocka_unit_test(test_any_met_by_hint),
        cmocka_unit_test(test_replica_failure),
        cmocka_unit_test(test_failure_with_hint_is_unknown),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_retry_cannot_override_newer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
