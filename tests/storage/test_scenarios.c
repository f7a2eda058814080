/*
 * test_scenarios.c -- the single-node halves of the storage scenarios of
 * SCENARIOS.md: C01 (torn final record, engine level), C02 (mid-log
 * corruption), C04 (damaged sstable block, compressed or not), C06
 * (tombstone purge with older data outside the compaction), C22 (disk
 * full during flush and compaction). C19 is in test_engine, C21 in
 * test_powerloss, the byte-by-byte torn tail sweep in test_commitlog.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"
#include "storage/commitlog.h"
#include "storage/engine_int.h"
#include "storage/fs.h"
#include "storage/fs_fault.h"
#include "teng.h"
#include "tutil.h"

static const struct storage_table_options topts = {864000, 0, 1};

static void put_id(struct storage *s, uint64_t table, int id, int want)
{
    char pk[32], val[64];

    snprintf(pk, sizeof(pk), "k%05d", id);
    snprintf(val, sizeof(val), "value-%05d-padding-padding-padding", id);
    assert_int_equal(te_put(s, table, pk, "", "c", val, 1000 + id), want);
}

/* has_id -- 1 when row id reads back right, 0 when absent; fails on a
 * wrong value. Errors are returned. */
static int has_id(struct storage *s, uint64_t table, int id)
{
    char pk[32], val[64], got[64];
    int rc;

    snprintf(pk, sizeof(pk), "k%05d", id);
    snprintf(val, sizeof(val), "value-%05d-padding-padding-padding", id);
    rc = te_get(s, table, pk, "", "c", got, sizeof(got));
    if (rc == 1 && strcmp(got, val) != 0)
        fail_msg("%s reads %s, not %s", pk, got, val);
    return rc;
}

/* capture_log -- send log lines to a temporary file; returns its fd. */
static int capture_log(void)
{
    char path[] = "/tmp/cairn-log-XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    log_set_fd(fd);
    return fd;
}

static char *read_log(int fd)
{
    static char text[65536];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

    text[n > 0 ? n : 0] = 0;
    log_set_fd(2);
    close(fd);
    return text;
}

/* C01: a kill inside the append of record 1001. */
static void test_c01_torn_final_record(void **state)
{
    char *dir = tu_mkdtemp();
    struct fs_fault *ff;
    struct storage_options o;
    struct storage *s;
    struct fs_fault_rule r = {.ops = FSF_APPEND,
                              .path_has = "seg-",
                              .count = 1,
                              .err = -EIO,
                              .partial = 1,
                              .crash = 1};
    char *text;
    int fd;

    (void)state;
    assert_int_equal(fs_fault_new(fs_posix(), &ff), 0);
    fs_fault_set_real_sync(ff, 0);
    te_opts(&o, dir);
    o.fs = fs_fault_fs(ff);
    o.sync = STORAGE_SYNC_GROUP;
    assert_int_equal(storage_open(&o, &s), 0);
    assert_int_equal(storage_create_table(s, 1, &topts), 0);
    for (int i = 0; i < 1000; i++)
        put_id(s, 1, i, 0);
    assert_int_equal(fs_fault_add(ff, &r), 0);
    put_id(s, 1, 1000, -EIO); /* half its record lands, then "kill" */
    storage_close(s);
    fs_fault_restart(ff);

    fd = capture_log();
    assert_int_equal(storage_open(&o, &s), 0);
    text = read_log(fd);
    assert_non_null(strstr(text, "torn tail cut segment="));
    assert_non_null(strstr(text, "/commitlog/seg-"));
    for (int i = 0; i < 1000; i++)
        assert_int_equal(has_id(s, 1, i), 1);
    assert_int_equal(has_id(s, 1, 1000), 0);
    for (int i = 1001; i < 1101; i++)
        put_id(s, 1, i, 0);
    fs_fault_crash(ff); /* killed cleanly between records */
    storage_close(s);
    fs_fault_restart(ff);
    assert_int_equal(storage_open(&o, &s), 0);
    for (int i = 0; i < 1101; i++)
        assert_int_equal(has_id(s, 1, i), i != 1000);
    storage_close(s);
    fs_fault_free(ff);
    tu_rmtree(dir);
}

static int find_seg(void *arg, const char *name)
{
    if (strncmp(name, "seg-", 4) == 0)
        snprintf(arg, 64, "%s", name);
    return 0;
}

/* record_offset -- the offset of record `n` (from 0) in a segment. */
static uint64_t record_offset(const char *path, int n)
{
    int fd = open(path, O_RDONLY);
    uint64_t off = CLOG_HEADER;
    uint8_t h[4];

    assert_true(fd >= 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(pread(fd, h, 4, (off_t)off), 4);
        off += CLOG_REC_HEADER + ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                                  (uint32_t)h[2] << 8 | h[3]);
    }
    close(fd);
    return off;
}

static void flip(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* C02: a damaged record with good ones after it. */
static void test_c02_midlog_corruption(void **state)
{
    char *dir = tu_mkdtemp(), logdir[4200], seg[64] = "", path[4300];
    char qpath[4400], needle[64];
    struct storage_options o;
    struct storage *s;
    struct storage_stats st;
    uint64_t off;

    (void)state;
    te_opts(&o, dir);
    o.memtable_bytes = 64 << 20;
    o.segment_bytes = 32 << 20;
    assert_int_equal(storage_open(&o, &s), 0);
    assert_int_equal(storage_create_table(s, 1, &topts), 0);
    for (int i = 0; i < 300; i++)
        put_id(s, 1, i, 0);
    storage_close(s);

    snprintf(logdir, sizeof(logdir), "%s/commitlog", dir);
    assert_int_equal(fs_list(fs_posix(), logdir, find_seg, seg), 0);
    snprintf(path, sizeof(path), "%s/%s", logdir, seg);
    off = record_offset(path, 150); /* row 150, middle batch */
    flip(path, off + CLOG_REC_HEADER + 3, 0x10);

    assert_int_equal(storage_open(&o, &s), CAIRN_ECORRUPT);
    assert_null(s);
    snprintf(needle, sizeof(needle), "offset %" PRIu64, off);
    assert_non_null(strstr(err_msg(), path));
    assert_non_null(strstr(err_msg(), needle));

    o.quarantine_corrupt_log = 1;
    assert_int_equal(storage_open(&o, &s), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(has_id(s, 1, i), i != 150);
    assert_int_equal(storage_get_stats(s, 0, &st), 0);
    assert_int_equal(st.unreplayed_mutations, 1);
    snprintf(qpath, sizeof(qpath), "%s/quarantine/%s", logdir, seg);
    assert_int_equal(fs_exists(fs_posix(), qpath), 1);
    assert_int_equal(storage_flush(s, 0), 0);
    storage_close(s);
    o.quarantine_corrupt_log = 0;
    assert_int_equal(storage_open(&o, &s), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(has_id(s, 1, i), i != 150);
    storage_close(s);
    assert_int_equal(fs_exists(fs_posix(), qpath), 1); /* evidence kept */
    tu_rmtree(dir);
}

struct names {
    char n[16][64];
    int count;
};

static int list_ssts(void *arg, const char *name)
{
    struct names *x = arg;

    if (strncmp(name, "sst-", 4) == 0 && strstr(name, ".tmp") == NULL &&
        x->count < 16)
        snprintf(x->n[x->count++], 64, "%s", name);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void ssts_of(const char *dir, struct names *x)
{
    memset(x, 0, sizeof(*x));
    assert_int_equal(fs_list(fs_posix(), dir, list_ssts, x), 0);
    qsort(x->n, (size_t)x->count, sizeof(x->n[0]), by_name);
}

/* C04: one flipped bit in a data block, LZ4 table 1 and plain table 2. */
static void test_c04_damaged_block(void **state)
{
    char *dir = tu_mkdtemp(), path[4200];
    struct storage_table_options plain = {864000, 0, 0};
    struct storage_options o;
    struct storage *s;
    struct names before, after;
    struct storage_stats st;
    struct storage_scan sc = {.token_start = INT64_MIN, .token_end = INT64_MAX};
    struct storage_result *res;

    (void)state;
    te_opts(&o, dir);
    o.memtable_bytes = 64 << 20;
    assert_int_equal(storage_open(&o, &s), 0);
    assert_int_equal(storage_create_table(s, 1, &topts), 0);
    assert_int_equal(storage_create_table(s, 2, &plain), 0);
    for (int i = 0; i < 10000; i++) {
        put_id(s, 1, i, 0);
        put_id(s, 2, i, 0);
    }
    assert_int_equal(storage_flush(s, 0), 0);
    storage_close(s);
    ssts_of(dir, &before);
    assert_int_equal(before.count, 2);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, before.n[i]);
        flip(path, 100, 0x04); /* inside the first data block */
    }

    assert_int_equal(storage_open(&o, &s), 0);
    for (uint64_t t = 1; t <= 2; t++) {
        int bad = 0;
        for (int i = 0; i < 10000; i++) {
            int rc = has_id(s, t, i);
            if (rc == CAIRN_ECORRUPT) {
                bad++;
                continue;
            }
            if (rc != 1)
                fail_msg("table %" PRIu64 " row %d: rc %d (%s)", t, i, rc,
                         err_msg());
        }
        assert_true(bad > 0);
        sc.table_id = t;
        assert_int_equal(storage_scan(s, &sc, &res), CAIRN_ECORRUPT);
        assert_non_null(strstr(err_msg(), "sst-"));
        assert_int_equal(storage_compact(s, t), CAIRN_ECORRUPT);
        /* Marked corrupt: never rewritten, also not by the next one. */
        assert_int_equal(storage_compact(s, t), 0);
    }
    assert_int_equal(storage_get_stats(s, 0, &st), 0);
    assert_true(st.corrupt_blocks > 0);
    assert_int_equal(st.sstable_count, 2);
    storage_close(s);
    ssts_of(dir, &after);
    assert_int_equal(after.count, 2);
    assert_string_equal(after.n[0], before.n[0]);
    assert_string_equal(after.n[1], before.n[1]);
    tu_rmtree(dir);
}

static uint64_t file_id_of(const char *name)
{
    unsigned long long t, f;

    assert_int_equal(sscanf(name, "sst-%16llx-%16llx", &t, &f), 2);
    return f;
}

/* C06: K in A; unrelated in B; K deleted in C; compact B+C only. */
static void test_c06_purge_respects_outside(void **state)
{
    char *dir = tu_mkdtemp(), got[64];
    struct storage_table_options grace0 = {0, 0, 1};
    struct storage_options o;
    struct clk_fake clk;
    struct storage *s;
    struct names n;
    uint64_t bc[2];
    struct storage_read r = {
        .table_id = 1, .pkey = B("K"), .include_tombstones = 1};
    struct storage_result *res;

    (void)state;
    te_opts(&o, dir);
    clk_fake_init(&clk, 1700000000LL * 1000000, 0);
    o.clock = &clk.base;
    assert_int_equal(storage_open(&o, &s), 0);
    assert_int_equal(storage_create_table(s, 1, &grace0), 0);
    assert_int_equal(te_put(s, 1, "K", "r", "c", "old", 100), 0);
    assert_int_equal(storage_flush(s, 1), 0); /* A */
    assert_int_equal(te_put(s, 1, "U", "r", "c", "other", 200), 0);
    assert_int_equal(storage_flush(s, 1), 0); /* B */
    assert_int_equal(
        te_del(s, 1, STORAGE_MUT_ROW_DELETE, "K", "r", "", "", 300), 0);
    assert_int_equal(storage_flush(s, 1), 0); /* C */
    clk_fake_advance(&clk, 100LL * 1000000000);

    ssts_of(dir, &n);
    assert_int_equal(n.count, 3);
    bc[0] = file_id_of(n.n[1]);
    bc[1] = file_id_of(n.n[2]);
    assert_int_equal(compaction_run_files(s, 1, bc, 2), 0);
    assert_int_equal(te_get(s, 1, "K", "r", "c", got, sizeof(got)), 0);
    /* The tombstone survived: A still holds older data for K. */
    assert_int_equal(storage_read_partition(s, &r, &res), 0);
    assert_int_equal(res->nparts, 1);
    assert_int_equal(res->parts[0].nrows, 1);
    assert_int_equal(res->parts[0].rows[0].deleted_ts, 300);
    storage_result_free(res);

    storage_close(s);
    assert_int_equal(storage_open(&o, &s), 0);
    assert_int_equal(te_get(s, 1, "K", "r", "c", got, sizeof(got)), 0);
    assert_int_equal(storage_compact(s, 1), 0);
    assert_int_equal(te_get(s, 1, "K", "r", "c", got, sizeof(got)), 0);
    assert_int_equal(te_get(s, 1, "U", "r", "c", got, sizeof(got)), 1);
    /* With everything compacted, both K's data and tombstone are gone. */
    assert_int_equal(storage_read_partition(s, &r, &res), 0);
    assert_int_equal(res->nparts, 0);
    storage_result_free(res);
    storage_close(s);
    tu_rmtree(dir);
}

/* C22: the disk fills during flushes; writes fail, then recover. */
static void test_c22_disk_full(void **state)
{
    char *dir = tu_mkdtemp();
    struct fs_fault *ff;
    struct storage_options o;
    struct storage *s;
    uint8_t *acked = calloc(100000, 1);
    int id = 0, failed = 0, ok_run = 0;

    (void)state;
    assert_int_equal(fs_fault_new(fs_posix(), &ff), 0);
    fs_fault_set_real_sync(ff, 0);
    te_opts(&o, dir);
    o.fs = fs_fault_fs(ff);
    o.sync = STORAGE_SYNC_GROUP;
    o.memtable_bytes = 64 << 10;
    o.memtable_total_bytes = 256 << 10;
    o.segment_bytes = 128 << 10;
    assert_int_equal(storage_open(&o, &s), 0);
    assert_int_equal(storage_create_table(s, 1, &topts), 0);
    fs_fault_set_space(ff, 600 << 10);
    /* Fill the disk, then keep writing a while. */
    while (failed < 2000 && id < 90000) {
        char pk[32], val[64];
        snprintf(pk, sizeof(pk), "k%05d", id);
        snprintf(val, sizeof(val), "value-%05d-padding-padding-padding", id);
        if (te_put(s, 1, pk, "", "c", val, 1000 + id) == 0)
            acked[id] = 1;
        else
            failed++;
        id++;
    }
    assert_int_equal(failed, 2000);
    /* Space returns: writes go on without a restart. */
    fs_fault_set_space(ff, -1);
    for (int tries = 0; ok_run < 200 && tries < 100000; tries++, id++) {
        char pk[32], val[64];
        snprintf(pk, sizeof(pk), "k%05d", id);
        snprintf(val, sizeof(val), "value-%05d-padding-padding-padding", id);
        if (te_put(s, 1, pk, "", "c", val, 1000 + id) == 0) {
            acked[id] = 1;
            ok_run++;
        } else {
            ok_run = 0;
            usleep(1000);
        }
    }
    assert_int_equal(ok_run, 200);
    storage_close(s);
    assert_int_equal(storage_open(&o, &s), 0);
    for (int i = 0; i < id; i++)
        if (acked[i])
            assert_int_equal(has_id(s, 1, i), 1);
    storage_close(s);
    fs_fault_free(ff);
    free(acked);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c01_torn_final_record),
        cmocka_unit_test(test_c02_midlog_corruption),
        cmocka_unit_test(test_c04_damaged_block),
        cmocka_unit_test(test_c06_purge_respects_outside),
        cmocka_unit_test(test_c22_disk_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
