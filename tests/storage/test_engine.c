/*
 * test_engine.c -- the engine through storage.h: writes and reads over
 * memtables and sstables, the four tombstone scopes, TTLs on a fake
 * clock, paging, scans, replay, flush, compaction, drop, the directory
 * lock, and oversized batches (C19).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/token.h"
#include "storage/fs.h"
#include "teng.h"
#include "tutil.h"

struct fx {
    char *dir;
    struct storage_options o;
    struct clk_fake clk;
    struct storage *s;
};

static const struct storage_table_options topts = {864000, 0, 1};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));

    x->dir = tu_mkdtemp();
    te_opts(&x->o, x->dir);
    clk_fake_init(&x->clk, 1700000000LL * 1000000, 0);
    x->o.clock = &x->clk.base;
    assert_int_equal(storage_open(&x->o, &x->s), 0);
    assert_int_equal(storage_create_table(x->s, 1, &topts), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    storage_close(x->s);
    tu_rmtree(x->dir);
    free(x);
    return 0;
}

static void reopen(struct fx *x)
{
    storage_close(x->s);
    x->s = NULL;
    assert_int_equal(storage_open(&x->o, &x->s), 0);
}

static void expect(struct fx *x, const char *pk, const char *ck,
                   const char *col, const char *want)
{
    char got[256];
    int rc = te_get(x->s, 1, pk, ck, col, got, sizeof(got));

    assert_true(rc >= 0);
    if (want == NULL) {
        if (rc != 0)
            fail_msg("%s/%s/%s: expected nothing, got %s", pk, ck, col, got);
        return;
    }
    if (rc != 1)
        fail_msg("%s/%s/%s: expected %s, got nothing", pk, ck, col, want);
    assert_string_equal(got, want);
}

/* check_rules -- the conflict rule, as a sequence any replica may see. */
static void test_conflict_rule(void **state)
{
    struct fx *x = *state;

    assert_int_equal(te_put(x->s, 1, "p", "r", "c", "old", 10), 0);
    assert_int_equal(te_put(x->s, 1, "p", "r", "c", "new", 20), 0);
    assert_int_equal(te_put(x->s, 1, "p", "r", "c", "late-but-older", 15), 0);
    expect(x, "p", "r", "c", "new");
    /* A tie: the larger value wins, whatever the order. */
    assert_int_equal(te_put(x->s, 1, "p", "r", "d", "b", 5), 0);
    assert_int_equal(te_put(x->s, 1, "p", "r", "d", "a", 5), 0);
    expect(x, "p", "r", "d", "b");
    /* A tie between a value and a tombstone: the tombstone. */
    assert_int_equal(
        te_del(x->s, 1, STORAGE_MUT_CELL_DELETE, "p", "r", "", "d", 5), 0);
    expect(x, "p", "r", "d", NULL);
    /* The same holds once flushed and merged with newer memtable data. */
    assert_int_equal(storage_flush(x->s, 1), 0);
    expect(x, "p", "r", "c", "new");
    expect(x, "p", "r", "d", NULL);
    assert_int_equal(te_put(x->s, 1, "p", "r", "c", "older", 12), 0);
    expect(x, "p", "r", "c", "new");
    reopen(x);
    expect(x, "p", "r", "c", "new");
    expect(x, "p", "r", "d", NULL);
}

static void test_tombstone_scopes(void **state)
{
    struct fx *x = *state;
    const char *cks[] = {"a", "b", "c", "d", "e"};

    for (int i = 0; i < 5; i++) {
        assert_int_equal(te_put(x->s, 1, "p", cks[i], "x", "v", 10), 0);
        assert_int_equal(te_put(x->s, 1, "p", cks[i], "y", "w", 30), 0);
    }
    assert_int_equal(
        te_del(x->s, 1, STORAGE_MUT_CELL_DELETE, "p", "a", "", "x", 20), 0);
    assert_int_equal(
        te_del(x->s, 1, STORAGE_MUT_ROW_DELETE, "p", "b", "", "", 20), 0);
    assert_int_equal(
        te_del(x->s, 1, STORAGE_MUT_RANGE_DELETE, "p", "c", "d", "", 20), 0);
    assert_int_equal(storage_flush(x->s, 1), 0);
    expect(x, "p", "a", "x", NULL);
    expect(x, "p", "a", "y", "w");
    expect(x, "p", "b", "x", NULL);
    expect(x, "p", "b", "y", "w"); /* newer than the row tombstone */
    expect(x, "p", "c", "x", NULL);
    expect(x, "p", "d", "x", NULL);
    expect(x, "p", "e", "x", "v");
    assert_int_equal(
        te_del(x->s, 1, STORAGE_MUT_PARTITION_DELETE, "p", "", "", "", 40), 0);
    for (int i = 0; i < 5; i++)
        expect(x, "p", cks[i], "y", NULL);
    /* Writes after the partition tombstone show again. */
    assert_int_equal(te_put(x->s, 1, "p", "a", "x", "back", 50), 0);
    reopen(x);
    expect(x, "p", "a", "x", "back");
    expect(x, "p", "e", "y", NULL);
}

static void test_ttl(void **state)
{
    struct fx *x = *state;
    struct storage_mut m = {.kind = STORAGE_MUT_CELL,
                            .ck = B("r"),
                            .column = B("c"),
                            .value = B("v"),
                            .ts = 10,
                            .ttl_s = 60};

    assert_int_equal(te_apply(x->s, 1, "p", m), 0);
    expect(x, "p", "r", "c", "v");
    clk_fake_advance(&x->clk, 59LL * 1000000000);
    expect(x, "p", "r", "c", "v");
    clk_fake_advance(&x->clk, 1LL * 1000000000);
    expect(x, "p", "r", "c", NULL);
    /* An expired newer cell hides an older one without TTL. */
    assert_int_equal(te_put(x->s, 1, "q", "r", "c", "forever", 5), 0);
    m.ts = 6;
    m.ttl_s = 1;
    assert_int_equal(te_apply(x->s, 1, "q", m), 0);
    clk_fake_advance(&x->clk, 2LL * 1000000000);
    expect(x, "q", "r", "c", NULL);
    assert_int_equal(storage_flush(x->s, 1), 0);
    assert_int_equal(storage_compact(x->s, 1), 0);
    expect(x, "q", "r", "c", NULL);
}

static void test_paging_and_slices(void **state)
{
    struct fx *x = *state;
    struct storage_read r = {.table_id = 1, .pkey = B("wide"), .limit_rows = 7};
    struct storage_result *res;
    char ck[16];
    int seen = 0;

    for (int i = 0; i < 100; i++) {
        snprintf(ck, sizeof(ck), "r%03d", i);
        assert_int_equal(te_put(x->s, 1, "wide", ck, "c", ck, 1), 0);
        if (i == 50)
            assert_int_equal(storage_flush(x->s, 1), 0);
    }
    for (;;) {
        assert_int_equal(storage_read_partition(x->s, &r, &res), 0);
        for (size_t i = 0; i < (res->nparts ? res->parts[0].nrows : 0); i++) {
            snprintf(ck, sizeof(ck), "r%03d", seen++);
            assert_int_equal(res->parts[0].rows[i].ck.n, 4);
            assert_memory_equal(res->parts[0].rows[i].ck.p, ck, 4);
        }
        if (!res->more) {
            storage_result_free(res);
            break;
        }
        assert_int_equal(res->nrows, 7);
        static char after[16];
        memcpy(after, res->resume_ck.p, res->resume_ck.n);
        r.after = (struct storage_bytes){(uint8_t *)after, res->resume_ck.n};
        r.has_after = 1;
        storage_result_free(res);
    }
    assert_int_equal(seen, 100);

    /* A slice [r010, r019]. */
    memset(&r, 0, sizeof(r));
    r.table_id = 1;
    r.pkey = B("wide");
    r.ck_start = B("r010");
    r.ck_end = B("r019");
    assert_int_equal(storage_read_partition(x->s, &r, &res), 0);
    assert_int_equal(res->nrows, 10);
    assert_int_equal(res->more, 0);
    storage_result_free(res);
}

static void test_scan_in_token_order(void **state)
{
    struct fx *x = *state;
    struct storage_scan sc = {.table_id = 1,
                              .token_start = INT64_MIN,
                              .token_end = INT64_MAX,
                              .limit_rows = 3};
    struct storage_result *res;
    char pk[16];
    int64_t last = INT64_MIN;
    int parts = 0, rounds = 0;
    static char apk[16], ack[16];

    for (int i = 0; i < 20; i++) {
        snprintf(pk, sizeof(pk), "k%02d", i);
        assert_int_equal(te_put(x->s, 1, pk, "a", "c", "v", 1), 0);
        assert_int_equal(te_put(x->s, 1, pk, "b", "c", "v", 1), 0);
        if (i == 9)
            assert_int_equal(storage_flush(x->s, 1), 0);
    }
    assert_int_equal(
        te_del(x->s, 1, STORAGE_MUT_PARTITION_DELETE, "k05", "", "", "", 2), 0);
    for (;;) {
        assert_int_equal(storage_scan(x->s, &sc, &res), 0);
        for (size_t p = 0; p < res->nparts; p++) {
            assert_true(res->parts[p].token >= last);
            if (res->parts[p].token != last || parts == 0)
                parts++;
            last = res->parts[p].token;
            assert_int_equal(
                res->parts[p].token,
                token_of(res->parts[p].pkey.p, res->parts[p].pkey.n));
        }
        rounds++;
        if (!res->more) {
            storage_result_free(res);
            break;
        }
        memcpy(apk, res->resume_pkey.p, res->resume_pkey.n);
        memcpy(ack, res->resume_ck.p, res->resume_ck.n);
        sc.after_pkey =
            (struct storage_bytes){(uint8_t *)apk, res->resume_pkey.n};
        sc.after_ck = (struct storage_bytes){(uint8_t *)ack, res->resume_ck.n};
        sc.has_after = 1;
        storage_result_free(res);
    }
    assert_int_equal(parts, 19); /* k05 is deleted */
    assert_true(rounds >= 13);   /* 38 rows, 3 a page */
}

/* Tables: drop forgets data for good, also in replay (replay would see
 * the old records otherwise); the lock keeps a second engine out. */
static void test_drop_and_lock(void **state)
{
    struct fx *x = *state;
    struct storage *second;
    char got[64];

    assert_int_equal(te_put(x->s, 1, "p", "r", "c", "v", 1), 0);
    assert_int_equal(storage_flush(x->s, 1), 0);
    assert_int_equal(te_put(x->s, 1, "p", "r2", "c", "v", 1), 0);
    assert_int_equal(storage_drop_table(x->s, 1), 0);
    assert_int_equal(te_get(x->s, 1, "p", "r", "c", got, sizeof(got)),
                     CAIRN_ENOTABLE);
    assert_int_equal(te_put(x->s, 1, "p", "r", "c", "v", 1), CAIRN_ENOTABLE);
    assert_int_equal(storage_drop_table(x->s, 1), CAIRN_ENOTABLE);
    assert_int_equal(storage_open(&x->o, &second), -EBUSY);
    reopen(x);
    assert_int_equal(storage_create_table(x->s, 1, &topts), 0);
    expect(x, "p", "r", "c", NULL);
    expect(x, "p", "r2", "c", NULL);
    reopen(x);
    expect(x, "p", "r2", "c", NULL);
}

/* C19 (single node): a batch over half a segment is refused up front. */
static void test_too_big(void **state)
{
    struct fx *x = *state;
    size_t n = (x->o.segment_bytes / 2) + 1;
    char *v = calloc(1, n + 1);
    struct storage_mut m = {
        .kind = STORAGE_MUT_CELL, .ck = B("r"), .column = B("c"), .ts = 1};
    struct storage_batch b = {1, B("p"), &m, 1};
    struct storage_stats st0, st1;
    char *key = calloc(1, STORAGE_MAX_KEY + 2);

    memset(v, 'x', n);
    m.value = (struct storage_bytes){(uint8_t *)v, n};
    assert_int_equal(storage_get_stats(x->s, 0, &st0), 0);
    assert_int_equal(storage_apply_sync(x->s, &b), CAIRN_ETOOBIG);
    assert_non_null(strstr(err_msg(), "over half a commit log segment"));
    memset(key, 'k', STORAGE_MAX_KEY + 1);
    b.pkey = (struct storage_bytes){(uint8_t *)key, STORAGE_MAX_KEY + 1};
    m.value = B("v");
    assert_int_equal(storage_apply_sync(x->s, &b), CAIRN_ETOOBIG);
    assert_int_equal(storage_get_stats(x->s, 0, &st1), 0);
    assert_int_equal(st1.commitlog_bytes, st0.commitlog_bytes);
    assert_int_equal(st1.writes, st0.writes);
    reopen(x);
    expect(x, "p", "r", "c", NULL);
    free(v);
    free(key);
}

static void test_stats(void **state)
{
    struct fx *x = *state;
    struct storage_stats st;

    assert_int_equal(te_put(x->s, 1, "p", "r", "c", "v", 1), 0);
    assert_int_equal(storage_get_stats(x->s, 1, &st), 0);
    assert_int_equal(st.writes, 1);
    assert_true(st.memtable_bytes > 0);
    assert_int_equal(st.sstable_count, 0);
    assert_int_equal(storage_flush(x->s, 1), 0);
    assert_int_equal(storage_get_stats(x->s, 1, &st), 0);
    assert_int_equal(st.sstable_count, 1);
    assert_true(st.sstable_bytes > 0);
    assert_int_equal(storage_get_stats(x->s, 99, &st), CAIRN_ENOTABLE);
}

static int count_segs(void *arg, const char *name)
{
    if (strncmp(name, "seg-", 4) == 0)
        (*(int *)arg)++;
    return 0;
}

static int segments(struct fx *x)
{
    char dir[4200];
    int n = 0;

    snprintf(dir, sizeof(dir), "%s/commitlog", x->dir);
    assert_int_equal(fs_list(fs_posix(), dir, count_segs, &n), 0);
    return n;
}

/* Segments go only once every table flushed past them. */
static void test_segments_released(void **state)
{
    struct fx *x = *state;
    char pk[512], got[16];

    assert_int_equal(storage_create_table(x->s, 2, &topts), 0);
    assert_int_equal(te_put(x->s, 2, "early", "r", "c", "v", 1), 0);
    for (int i = 0; i < 6000; i++) { /* about 3 segments of table 1 */
        snprintf(pk, sizeof(pk), "k%d-%0400d", i, i);
        assert_int_equal(te_put(x->s, 1, pk, "r", "c", "v", 1), 0);
    }
    assert_true(segments(x) >= 3);
    assert_int_equal(storage_flush(x->s, 1), 0);
    /* Table 2's record is in the first segment: all stay. */
    assert_true(segments(x) >= 3);
    assert_int_equal(storage_flush(x->s, 2), 0);
    assert_int_equal(segments(x), 1);
    reopen(x);
    snprintf(pk, sizeof(pk), "k7-%0400d", 7);
    assert_int_equal(te_get(x->s, 1, pk, "r", "c", got, sizeof(got)), 1);
    assert_int_equal(te_get(x->s, 2, "early", "r", "c", got, sizeof(got)), 1);
}

/* Past commitlog_total_bytes the table with the oldest data is flushed,
 * so the log stays bounded without any storage_flush() call. */
static void test_log_size_triggers_flush(void **state)
{
    struct fx *x = *state;
    struct storage_stats st;
    char pk[512];

    storage_close(x->s);
    x->o.commitlog_total_bytes = 2 << 20;
    x->o.memtable_bytes = 64 << 20;
    assert_int_equal(storage_open(&x->o, &x->s), 0);
    for (int i = 0; i < 12000; i++) {
        snprintf(pk, sizeof(pk), "k%d-%0400d", i, i);
        assert_int_equal(te_put(x->s, 1, pk, "r", "c", "v", 1), 0);
    }
    /* 12000 records of ~440 bytes is ~5 MiB of log. */
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(storage_get_stats(x->s, 1, &st), 0);
        if (st.sstable_count > 0 && st.commitlog_bytes < (4 << 20))
            break;
        usleep(10000);
    }
    assert_true(st.sstable_count > 0);
    assert_true(st.commitlog_bytes < (4 << 20));
}

static void ack_count(void *arg, int rc)
{
    if (rc == 0)
        __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

/* periodic mode: done fires at once, and the data survives a reopen. */
static void test_periodic_mode(void **state)
{
    struct fx *x = *state;
    struct storage_mut m = {.kind = STORAGE_MUT_CELL,
                            .ck = B("r"),
                            .column = B("c"),
                            .value = B("v"),
                            .ts = 1};
    struct storage_batch b = {1, B("p"), &m, 1};
    int acks = 0;

    storage_close(x->s);
    x->o.sync = STORAGE_SYNC_PERIODIC;
    x->o.sync_period_ms = 10;
    assert_int_equal(storage_open(&x->o, &x->s), 0);
    assert_int_equal(storage_apply(x->s, &b, ack_count, &acks), 0);
    assert_int_equal(acks, 1); /* in this mode before apply returns */
    reopen(x);
    expect(x, "p", "r", "c", "v");
}

struct async_writer {
    struct storage *s;
    int base;
    int acks, fails;
};

static void async_done(void *arg, int rc)
{
    struct async_writer *w = arg;

    if (rc == 0)
        __atomic_add_fetch(&w->acks, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_add_fetch(&w->fails, 1, __ATOMIC_SEQ_CST);
}

static void *async_main(void *arg)
{
    struct async_writer *w = arg;
    char pk[32];

    for (int i = 0; i < 300; i++) {
        struct storage_mut m = {.kind = STORAGE_MUT_CELL,
                                .ck = B("r"),
                                .column = B("c"),
                                .value = B("v"),
                                .ts = 1};
        struct storage_batch b = {1, {0}, &m, 1};
        snprintf(pk, sizeof(pk), "a%d", w->base + i);
        b.pkey = B(pk);
        if (storage_apply(w->s, &b, async_done, w) != 0)
            __atomic_add_fetch(&w->fails, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* group mode through callbacks (the server's way): every batch is
 * acknowledged once, from the engine's thread, and survives a reopen. */
static void test_group_callbacks(void **state)
{
    struct fx *x = *state;
    struct async_writer w[4];
    pthread_t t[4];
    char pk[32], got[16];

    storage_close(x->s);
    x->o.sync = STORAGE_SYNC_GROUP;
    assert_int_equal(storage_open(&x->o, &x->s), 0);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct async_writer){x->s, i * 1000, 0, 0};
        pthread_create(&t[i], NULL, async_main, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        /* Bounded wait for the last group's fsync to call back. */
        for (int k = 0;
             k < 10000 && __atomic_load_n(&w[i].acks, __ATOMIC_SEQ_CST) < 300;
             k++)
            usleep(1000);
        assert_int_equal(w[i].acks, 300);
        assert_int_equal(w[i].fails, 0);
    }
    reopen(x);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 300; k++) {
            snprintf(pk, sizeof(pk), "a%d", i * 1000 + k);
            assert_int_equal(te_get(x->s, 1, pk, "r", "c", got, sizeof(got)),
                             1);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conflict_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_and_slices, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan_in_token_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drop_and_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_released, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_size_triggers_flush, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_periodic_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_callbacks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
