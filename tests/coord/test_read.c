/*
 * test_read.c -- the read state machine and its snitch. Replicas are
 * plain partitions here, answered by a small page function; expected
 * requests, slices and repairs are counted by hand from read.h: QUORUM of
 * rf 3 asks 2 replicas (1 data, 1 digest); a mismatch reads the whole
 * partition slice by slice from both and repairs the stale one before
 * answering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/mem.h"
#include "server/coord/read.h"

#define MS   1000000LL
#define B(s) ((struct storage_bytes){(const uint8_t *)(s), strlen(s)})

struct fixture {
    struct coord_lat lat[3];
    struct coord_snitch sn;
    int reps[3];
    uint8_t alive[3];
    struct coord_read_params p;
    struct coord_read r;
    struct coord_acts a;
    struct coord_part store[3]; /* replica i's data */
};

static void setup_fx(struct fixture *f, enum coord_cl cl)
{
    memset(f, 0, sizeof(*f));
    coord_snitch_init(&f->sn, f->lat, 3);
    for (int i = 0; i < 3; i++) {
        f->reps[i] = i;
        f->alive[i] = 1;
        coord_part_init(&f->store[i]);
    }
    f->p = (struct coord_read_params){.cl = cl,
                                      .rf = 3,
                                      .replicas = f->reps,
                                      .alive = f->alive,
                                      .nreplicas = 3,
                                      .query = {.pkey = B("pk")},
                                      .timeout_ns = 5000 * MS,
                                      .spec_default_ns = 50 * MS,
                                      .repair_slice_rows = 100,
                                      .read_repair = 1,
                                      .snitch = &f->sn};
    coord_acts_init(&f->a);
}

static void teardown_fx(struct fixture *f)
{
    coord_read_free(&f->r);
    coord_acts_free(&f->a);
    for (int i = 0; i < 3; i++)
        coord_part_free(&f->store[i]);
}

/* put -- replica i gets rows `cks` (comma-free names) with v=val@ts. */
static void put(struct fixture *f, int i, const char *ck, const char *v,
                int64_t ts, int row_deleted)
{
    struct storage_cell c = {.column = B("v"), .value = B(v), .ts = ts};
    struct storage_row r = {.ck = B(ck),
                            .deleted_ts = row_deleted ? ts : STORAGE_TS_NONE,
                            .cells = row_deleted ? NULL : &c,
                            .ncells = row_deleted ? 0 : 1};
    struct storage_partition m = {
        .pkey = B("pk"), .deleted_ts = STORAGE_TS_NONE, .rows = &r, .nrows = 1};
    const struct storage_partition *in[2] = {&f->store[i].p, &m};
    struct coord_part next;

    assert_int_equal(coord_resolve_merge(in, 2, &next), 0);
    coord_part_move(&f->store[i], &next);
}

/* page -- replica `i`'s answer to `rd`; returns `more`. */
static int page(struct fixture *f, int i, const struct storage_read *rd,
                struct coord_part *out)
{
    const struct storage_partition *s = &f->store[i].p;
    struct storage_partition v = *s;
    const struct storage_partition *vp = &v;
    size_t a = 0, b;

    while (
        a < s->nrows &&
        ((rd->has_after && coord_bytes_cmp(s->rows[a].ck, rd->after) <= 0) ||
         (rd->ck_start.n && coord_bytes_cmp(s->rows[a].ck, rd->ck_start) < 0)))
        a++;
    b = a;
    while (b < s->nrows && (!rd->limit_rows || b - a < rd->limit_rows) &&
           (!rd->ck_end.n || coord_bytes_cmp(s->rows[b].ck, rd->ck_end) <= 0))
        b++;
    v.rows = s->rows + a;
    v.nrows = b - a;
    assert_int_equal(coord_resolve_merge(&vp, 1, out), 0);
    return b < s->nrows &&
           (!rd->ck_end.n || coord_bytes_cmp(s->rows[b].ck, rd->ck_end) <= 0);
}

/* answer -- replica answers action `act` (read or repair) at `now`. */
static void answer(struct fixture *f, const struct coord_act *act, int64_t now,
                   struct coord_acts *out)
{
    struct coord_part pg;
    uint64_t d = 0;
    int more;

    if (act->kind == COORD_ACT_SEND_REPAIR) {
        const struct storage_partition *in[2] = {&f->store[act->replica].p,
                                                 act->part};
        struct coord_part next;
        assert_int_equal(coord_resolve_merge(in, 2, &next), 0);
        coord_part_move(&f->store[act->replica], &next);
        assert_int_equal(
            coord_read_on_reply(&f->r, act->tag, 0, NULL, 0, 0, now, out), 0);
        return;
    }
    assert_int_equal(act->kind, COORD_ACT_SEND_READ);
    more = page(f, act->replica, &act->read, &pg);
    if (act->digest_only)
        assert_int_equal(coord_resolve_digest(&pg.p, &d), 0);
    assert_int_equal(coord_read_on_reply(&f->r, act->tag, 0,
                                         act->digest_only ? NULL : &pg.p, d,
                                         more, now, out),
                     0);
    coord_part_free(&pg);
}

/* Largest row limit of a read request seen by pump(), and how many
   requests had no limit (the client's own page, which has none here). */
static uint32_t max_limit;
static int unlimited;

/* pump -- answer every send of `f->a` (and what follows) until none is
   left; returns the DONE action's rc (1 if none came). Counts sends. */
static int pump(struct fixture *f, int64_t now, int *reads, int *repairs)
{
    int rc = 1;

    while (f->a.n) {
        struct coord_acts cur = f->a;
        coord_acts_init(&f->a);
        for (size_t i = 0; i < cur.n; i++) {
            const struct coord_act *x = &cur.v[i];
            if (x->kind == COORD_ACT_DONE)
                rc = x->rc;
            if (x->kind == COORD_ACT_SEND_READ && reads)
                (*reads)++;
            if (x->kind == COORD_ACT_SEND_READ) {
                unlimited += x->read.limit_rows == 0;
                if (x->read.limit_rows > max_limit)
                    max_limit = x->read.limit_rows;
            }
            if (x->kind == COORD_ACT_SEND_REPAIR && repairs)
                (*repairs)++;
            if (x->kind == COORD_ACT_SEND_READ ||
                x->kind == COORD_ACT_SEND_REPAIR)
                answer(f, x, now, &f->a);
        }
        coord_acts_free(&cur);
    }
    return rc;
}

static int count(const struct coord_acts *a, enum coord_act_kind k)
{
    int n = 0;

    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].kind == k;
    return n;
}

static uint64_t value_digest(struct fixture *f, int i)
{
    uint64_t d;

    assert_int_equal(coord_resolve_digest(&f->store[i].p, &d), 0);
    return d;
}

static void test_agreeing_quorum(void **state)
{
    struct fixture f;
    const struct storage_partition *res;
    int more, reads = 0;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    for (int i = 0; i < 3; i++)
        put(&f, i, "r1", "a", 10, 0);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_READ), 2);
    assert_int_equal(count(&f.a, COORD_ACT_TIMER), 2); /* deadline, spec */
    assert_false(f.a.v[0].digest_only);
    assert_true(f.a.v[1].digest_only);
    assert_int_equal(pump(&f, 1 * MS, &reads, NULL), 0);
    assert_int_equal(reads, 2);
    res = coord_read_result(&f.r, &more);
    assert_int_equal(res->nrows, 1);
    assert_int_equal(more, 0);
    assert_int_equal(f.r.slices, 0);
    teardown_fx(&f);
}

static void test_all_unavailable(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_ALL);
    f.alive[2] = 0;
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    assert_int_equal(f.a.n, 1);
    assert_int_equal(f.a.v[0].kind, COORD_ACT_DONE);
    assert_int_equal(f.a.v[0].rc, CAIRN_EUNAVAILABLE);
    assert_int_equal(f.a.v[0].required, 3); /* ALL at RF 3 */
    assert_true(coord_read_finished(&f.r));
    teardown_fx(&f);
    setup_fx(&f, COORD_CL_ANY);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), -EINVAL);
    teardown_fx(&f);
}

/* The snitch sends the data request to the fastest replica. */
static void test_snitch_order(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    coord_snitch_record(&f.sn, 0, 900);
    coord_snitch_record(&f.sn, 1, 500);
    coord_snitch_record(&f.sn, 2, 100);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    assert_int_equal(f.a.v[0].replica, 2);
    assert_false(f.a.v[0].digest_only);
    assert_int_equal(f.a.v[1].replica, 1);
    assert_true(f.a.v[1].digest_only);
    teardown_fx(&f);
}

/* C11: the query touches only r1, replica 1 lacks r1 and r2 of one
   batch; the repair must carry both, with the original timestamp, and
   the answer comes only after the repair is acknowledged. */
static void test_mismatch_repairs_whole_partition(void **state)
{
    struct fixture f;
    const struct storage_partition *res;
    int more, reads = 0, repairs = 0;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    put(&f, 0, "r1", "new", 20, 0);
    put(&f, 0, "r2", "new", 20, 0);
    put(&f, 1, "r1", "old", 10, 0);
    put(&f, 1, "r2", "old", 10, 0);
    f.p.query.ck_start = B("r1");
    f.p.query.ck_end = B("r1");
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    assert_int_equal(pump(&f, 1 * MS, &reads, &repairs), 0);
    assert_int_equal(reads, 4); /* data + digest, then one slice each */
    assert_int_equal(repairs, 1);
    assert_int_equal(f.r.slices, 1);
    assert_true(value_digest(&f, 0) == value_digest(&f, 1));
    res = coord_read_result(&f.r, &more);
    assert_int_equal(res->nrows, 1); /* only r1 goes to the client */
    assert_int_equal(res->rows[0].cells[0].ts, 20);
    assert_memory_equal(res->rows[0].cells[0].value.p, "new", 3);
    /* The repaired replica holds r2 with its original stamp. */
    assert_int_equal(f.store[1].p.nrows, 2);
    assert_int_equal(f.store[1].p.rows[1].cells[0].ts, 20);
    teardown_fx(&f);
}

/* Blocking: no answer while the repair is unacknowledged. */
static void test_answer_waits_for_repair(void **state)
{
    struct fixture f;
    struct coord_acts next;
    const struct coord_act *rep = NULL;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    put(&f, 0, "r1", "a", 20, 0);
    put(&f, 1, "r1", "b", 10, 0);
    coord_acts_init(&next);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    /* Answer the query and slice requests, hold the repair back. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < f.a.n; i++)
            if (f.a.v[i].kind == COORD_ACT_SEND_READ)
                answer(&f, &f.a.v[i], 1 * MS, &next);
        coord_acts_free(&f.a);
        f.a = next;
        coord_acts_init(&next);
    }
    for (size_t i = 0; i < f.a.n; i++) {
        assert_int_not_equal(f.a.v[i].kind, COORD_ACT_DONE);
        if (f.a.v[i].kind == COORD_ACT_SEND_REPAIR)
            rep = &f.a.v[i];
    }
    assert_non_null(rep);
    assert_int_equal(rep->replica, 1);
    assert_int_equal(f.r.phase, COORD_READ_REPAIR);
    answer(&f, rep, 2 * MS, &next);
    assert_int_equal(next.n, 1);
    assert_int_equal(next.v[0].kind, COORD_ACT_DONE);
    assert_int_equal(next.v[0].rc, 0);
    coord_acts_free(&next);
    teardown_fx(&f);
}

/* D09: a partition of 5 rows, replica 0 holding them all deleted and
   replica 1 the live versions, is read 2 rows a slice: rows a..e need
   slices (a,b) (c,d) (e) -- three, each asking for at most 2 rows. */
static void test_bounded_slices(void **state)
{
    struct fixture f;
    const char *cks[] = {"a", "b", "c", "d", "e"};
    const struct storage_partition *res;
    int more, reads = 0, repairs = 0;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    f.p.repair_slice_rows = 2;
    max_limit = 0;
    unlimited = 0;
    for (int i = 0; i < 5; i++) {
        put(&f, 0, cks[i], "", 50, 1);
        put(&f, 1, cks[i], "x", 40, 0);
    }
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    assert_int_equal(pump(&f, 1 * MS, &reads, &repairs), 0);
    assert_int_equal(f.r.slices, 3);
    assert_int_equal(reads, 2 + 3 * 2);
    assert_int_equal(unlimited, 2); /* data + digest of the query */
    assert_int_equal(max_limit, 2); /* every slice read is bounded */
    assert_int_equal(repairs, 3);   /* replica 1, once per slice */
    assert_true(value_digest(&f, 0) == value_digest(&f, 1));
    res = coord_read_result(&f.r, &more);
    for (size_t i = 0; i < res->nrows; i++)
        assert_int_equal(res->rows[i].ncells, 0); /* all deleted */
    teardown_fx(&f);
}

/* A paged read over disagreeing replicas: limit 1 returns one row of
   the merged partition and says more follows. */
static void test_paged_mismatch(void **state)
{
    struct fixture f;
    const struct storage_partition *res;
    int more;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    put(&f, 0, "a", "1", 10, 0);
    put(&f, 0, "b", "1", 10, 0);
    put(&f, 1, "b", "2", 20, 0);
    f.p.query.limit_rows = 1;
    f.p.query.after = B("a");
    f.p.query.has_after = 1;
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    assert_int_equal(pump(&f, 1 * MS, NULL, NULL), 0);
    res = coord_read_result(&f.r, &more);
    assert_int_equal(res->nrows, 1);
    assert_memory_equal(res->rows[0].ck.p, "b", 1);
    assert_int_equal(res->rows[0].cells[0].ts, 20);
    assert_int_equal(more, 0); /* nothing after b */
    teardown_fx(&f);
}

/* Speculative retry: the data replica is silent past the delay, the
   next replica gets a data request and its answer completes the read. */
static void test_speculative_retry(void **state)
{
    struct fixture f;
    struct coord_acts later;
    const struct coord_act *digest = NULL;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    for (int i = 0; i < 3; i++)
        put(&f, i, "r", "v", 1, 0);
    coord_acts_init(&later);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    for (size_t i = 0; i < f.a.n; i++)
        if (f.a.v[i].kind == COORD_ACT_SEND_READ && f.a.v[i].digest_only)
            digest = &f.a.v[i];
    answer(&f, digest, 1 * MS, &later);
    assert_int_equal(later.n, 0);
    assert_int_equal(coord_read_on_timer(&f.r, 49 * MS, &later), 0);
    assert_int_equal(later.n, 0);
    assert_int_equal(coord_read_on_timer(&f.r, 50 * MS, &later), 0);
    assert_int_equal(later.n, 1);
    assert_int_equal(later.v[0].kind, COORD_ACT_SEND_READ);
    assert_int_equal(later.v[0].replica, 2);
    assert_false(later.v[0].digest_only);
    coord_acts_free(&f.a);
    f.a = later;
    assert_int_equal(pump(&f, 51 * MS, NULL, NULL), 0);
    assert_false(coord_read_finished(&f.r)); /* replica 0 still owes */
    teardown_fx(&f);
}

/* With enough samples the speculative delay is the replica's p99. */
static void test_spec_uses_p99(void **state)
{
    struct fixture f;
    int64_t spec = -1;

    (void)state;
    setup_fx(&f, COORD_CL_ONE);
    for (int i = 0; i < 100; i++)
        coord_snitch_record(&f.sn, 0, i < 99 ? 100 : 5000);
    assert_int_equal(coord_snitch_p99_ns(&f.sn, 0), 100 * 1000);
    assert_int_equal(coord_snitch_p99_ns(&f.sn, 1), -1);
    /* Replica 0's score is 100 + 4900 / 8 = 712 µs: still the fastest. */
    coord_snitch_record(&f.sn, 1, 1000);
    coord_snitch_record(&f.sn, 2, 2000);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    for (size_t i = 0; i < f.a.n; i++)
        if (f.a.v[i].kind == COORD_ACT_TIMER && f.a.v[i].at_ns != 5000 * MS)
            spec = f.a.v[i].at_ns;
    assert_int_equal(spec, 100 * 1000);
    teardown_fx(&f);
}

static void test_timeout(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    f.p.spec_default_ns = -1; /* no speculation */
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    assert_int_equal(count(&f.a, COORD_ACT_TIMER), 1);
    coord_acts_clear(&f.a);
    assert_int_equal(coord_read_on_timer(&f.r, 4999 * MS, &f.a), 0);
    assert_int_equal(f.a.n, 0);
    assert_int_equal(coord_read_on_timer(&f.r, 5000 * MS, &f.a), 0);
    assert_int_equal(f.a.n, 1);
    assert_int_equal(f.a.v[0].rc, CAIRN_ETIMEOUT);
    assert_int_equal(f.a.v[0].acked, 0);
    assert_int_equal(f.a.v[0].required, 2);
    assert_true(coord_read_finished(&f.r));
    teardown_fx(&f);
}

/* D09: a replica over its tombstone limit answers ETOOBIG; every replica
   would, so the coordinator passes it on at once. */
static void test_toobig_passed_on(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    coord_acts_clear(&f.a);
    assert_int_equal(
        coord_read_on_reply(&f.r, 1, CAIRN_ETOOBIG, NULL, 0, 0, 1 * MS, &f.a),
        0);
    assert_int_equal(f.a.n, 1);
    assert_int_equal(f.a.v[0].rc, CAIRN_ETOOBIG);
    teardown_fx(&f);
}

/* A failed replica is replaced by the spare one. */
static void test_failure_uses_spare(void **state)
{
    struct fixture f;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    f.p.spec_default_ns = -1;
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    coord_acts_clear(&f.a);
    assert_int_equal(
        coord_read_on_reply(&f.r, 2, CAIRN_EIO, NULL, 0, 0, 1 * MS, &f.a), 0);
    assert_int_equal(f.a.n, 1);
    assert_int_equal(f.a.v[0].kind, COORD_ACT_SEND_READ);
    assert_int_equal(f.a.v[0].replica, 2);
    assert_int_equal(pump(&f, 2 * MS, NULL, NULL), 1); /* tag 1 unanswered */
    teardown_fx(&f);
}

/*
 * A slice participant lost mid-repair (its connection broke: the caller
 * fails what coord_read_outstanding lists for it). QUORUM needs 2 of 3
 * and replicas 0 and 2 remain, so the read starts over on them, never
 * asks replica 1 again, and answers the newest value.
 */
static void test_slice_failure_restarts(void **state)
{
    struct fixture f;
    const struct storage_partition *res;
    uint32_t tags[8];
    int more, n, rc = 1;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    f.p.spec_default_ns = -1;
    put(&f, 0, "r1", "new", 20, 0);
    put(&f, 1, "r1", "old", 10, 0);
    put(&f, 2, "r1", "old", 10, 0);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    /* Answer the query (data 0, digest 1): they differ, slices follow. */
    {
        struct coord_acts cur = f.a;
        coord_acts_init(&f.a);
        for (size_t i = 0; i < cur.n; i++)
            if (cur.v[i].kind == COORD_ACT_SEND_READ)
                answer(&f, &cur.v[i], 1 * MS, &f.a);
        coord_acts_free(&cur);
    }
    assert_int_equal(f.r.phase, COORD_READ_SLICE);
    n = coord_read_outstanding(&f.r, 1, tags, 8);
    assert_int_equal(n, 1);
    coord_acts_clear(&f.a);
    assert_int_equal(coord_read_on_reply(&f.r, tags[0], CAIRN_EUNAVAILABLE,
                                         NULL, 0, 0, 2 * MS, &f.a),
                     0);
    assert_int_equal(f.r.phase, COORD_READ_QUERY);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_READ), 2);
    for (size_t i = 0; i < f.a.n; i++)
        if (f.a.v[i].kind == COORD_ACT_SEND_READ)
            assert_int_not_equal(f.a.v[i].replica, 1);
    rc = pump(&f, 3 * MS, NULL, NULL);
    assert_int_equal(rc, 0);
    res = coord_read_result(&f.r, &more);
    assert_int_equal(res->nrows, 1);
    assert_int_equal(res->rows[0].cells[0].ts, 20);
    /* Replica 2 was repaired; replica 1 was never written to again. */
    assert_int_equal(f.store[2].p.rows[0].cells[0].ts, 20);
    assert_int_equal(f.store[1].p.rows[0].cells[0].ts, 10);
    assert_int_equal(coord_read_outstanding(&f.r, 1, tags, 8), 0);
    teardown_fx(&f);
}

/* Two of three replicas failed during slices: QUORUM cannot be met. */
static void test_slice_failures_end_read(void **state)
{
    struct fixture f;
    uint32_t tags[8];
    int rc = 1;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    f.p.spec_default_ns = -1;
    put(&f, 0, "r1", "new", 20, 0);
    put(&f, 1, "r1", "old", 10, 0);
    put(&f, 2, "r1", "old", 10, 0);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    for (int failing = 1; failing <= 2; failing++) {
        struct coord_acts cur = f.a;
        coord_acts_init(&f.a);
        for (size_t i = 0; i < cur.n; i++)
            if (cur.v[i].kind == COORD_ACT_SEND_READ)
                answer(&f, &cur.v[i], 1 * MS, &f.a);
        coord_acts_free(&cur);
        assert_int_equal(f.r.phase, COORD_READ_SLICE);
        assert_int_equal(coord_read_outstanding(&f.r, failing, tags, 8), 1);
        coord_acts_clear(&f.a);
        assert_int_equal(coord_read_on_reply(&f.r, tags[0], CAIRN_EUNAVAILABLE,
                                             NULL, 0, 0, 2 * MS, &f.a),
                         0);
    }
    for (size_t i = 0; i < f.a.n; i++)
        if (f.a.v[i].kind == COORD_ACT_DONE)
            rc = f.a.v[i].rc;
    assert_int_equal(rc, CAIRN_EUNAVAILABLE);
    teardown_fx(&f);
}

/*
 * A slice participant falls silent (a paused node: no error, no lost
 * connection). Past the speculative delay (50 ms here) the read drops
 * it and starts over on replicas 0 and 2, which make a quorum.
 */
static void test_silent_slice_replaced(void **state)
{
    struct fixture f;
    struct coord_acts cur;
    int rc;

    (void)state;
    setup_fx(&f, COORD_CL_QUORUM);
    put(&f, 0, "r1", "new", 20, 0);
    put(&f, 1, "r1", "old", 10, 0);
    put(&f, 2, "r1", "old", 10, 0);
    assert_int_equal(coord_read_start(&f.r, &f.p, 0, &f.a), 0);
    cur = f.a;
    coord_acts_init(&f.a);
    for (size_t i = 0; i < cur.n; i++)
        if (cur.v[i].kind == COORD_ACT_SEND_READ)
            answer(&f, &cur.v[i], 1 * MS, &f.a);
    coord_acts_free(&cur);
    assert_int_equal(f.r.phase, COORD_READ_SLICE);
    /* Replica 0 answers its slice; replica 1 never does. */
    cur = f.a;
    coord_acts_init(&f.a);
    for (size_t i = 0; i < cur.n; i++)
        if (cur.v[i].kind == COORD_ACT_SEND_READ && cur.v[i].replica == 0)
            answer(&f, &cur.v[i], 2 * MS, &f.a);
    coord_acts_free(&cur);
    assert_int_equal(f.a.n, 0);
    /* Before the delay nothing happens; after it the read starts over. */
    assert_int_equal(coord_read_on_timer(&f.r, 10 * MS, &f.a), 0);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_READ), 0);
    assert_int_equal(coord_read_on_timer(&f.r, 60 * MS, &f.a), 0);
    assert_int_equal(count(&f.a, COORD_ACT_SEND_READ), 2);
    for (size_t i = 0; i < f.a.n; i++)
        if (f.a.v[i].kind == COORD_ACT_SEND_READ)
            assert_int_not_equal(f.a.v[i].replica, 1);
    rc = pump(&f, 61 * MS, NULL, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(f.store[2].p.rows[0].cells[0].ts, 20);
    teardown_fx(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agreeing_quorum),
        cmocka_unit_test(test_all_unavailable),
        cmocka_unit_test(test_snitch_order),
        cmocka_unit_test(test_mismatch_repairs_whole_partition),
        cmocka_unit_test(test_answer_waits_for_repair),
        cmocka_unit_test(test_bounded_slices),
        cmocka_unit_test(test_paged_mismatch),
        cmocka_unit_test(test_speculative_retry),
        cmocka_unit_test(test_spec_uses_p99),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_toobig_passed_on),
        cmocka_unit_test(test_failure_uses_spare),
        cmocka_unit_test(test_slice_failure_restarts),
        cmocka_unit_test(test_slice_failures_end_read),
        cmocka_unit_test(test_silent_slice_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
