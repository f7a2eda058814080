/*
 * test_commitlog.c -- the commit log: replay in order, torn tails cut at
 * every byte, mid-log damage refused or quarantined (C01, C02), group
 * commit, failed fsyncs and a full disk.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/err.h"
#include "storage/commitlog.h"
#include "storage/fs.h"
#include "storage/fs_fault.h"
#include "tutil.h"

struct seen {
    int n;
    uint64_t last_pos;
    char vals[64][32];
};

static int collect(void *arg, uint64_t pos, const uint8_t *p, size_t n)
{
    struct seen *s = arg;

    assert_true(pos > s->last_pos);
    s->last_pos = pos;
    assert_true(s->n < 64 && n < 32);
    memcpy(s->vals[s->n], p, n);
    s->vals[s->n][n] = 0;
    s->n++;
    return 0;
}

static void opts(struct commitlog_options *o, struct fs *fs, const char *dir,
                 enum storage_sync sync)
{
    memset(o, 0, sizeof(*o));
    o->fs = fs;
    o->dir = dir;
    o->sync = sync;
    o->segment_bytes = 1 << 20;
}

static int append_str(struct commitlog *l, const char *s, uint64_t *end)
{
    uint8_t rec[CLOG_REC_HEADER + 64];
    uint64_t pos, e;

    memcpy(rec + CLOG_REC_HEADER, s, strlen(s));
    return commitlog_append(l, rec, strlen(s), &pos, end ? end : &e);
}

static void done_rc(void *arg, int rc)
{
    *(int *)arg = rc;
}

/* write_log -- a segment with `n` records "rec-<i>", closed cleanly. */
static void write_log(const char *dir, int n)
{
    struct commitlog_options o;
    struct commitlog *l;
    struct seen s = {0};
    char v[32];

    opts(&o, fs_posix(), dir, STORAGE_SYNC_NONE);
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    for (int i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "rec-%d", i);
        assert_int_equal(append_str(l, v, NULL), 0);
    }
    commitlog_close(l);
}

/* only_segment -- the path of the one segment file in dir. */
static int find_seg(void *arg, const char *name)
{
    if (strncmp(name, "seg-", 4) == 0)
        snprintf(arg, 64, "%s", name);
    return 0;
}

static void seg_of(const char *dir, char *path, size_t n)
{
    char name[64] = "";

    assert_int_equal(fs_list(fs_posix(), dir, find_seg, name), 0);
    assert_true(name[0] != 0);
    snprintf(path, n, "%s/%s", dir, name);
}

static void test_replay_order_and_positions(void **state)
{
    char *dir = tu_mkdtemp();
    struct commitlog_options o;
    struct commitlog *l;
    struct seen s = {0};
    uint64_t end1, end2;

    (void)state;
    opts(&o, fs_posix(), dir, STORAGE_SYNC_GROUP);
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    assert_int_equal(append_str(l, "a", &end1), 0);
    assert_int_equal(append_str(l, "b", NULL), 0);
    commitlog_close(l);
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.vals[0], "a");
    assert_string_equal(s.vals[1], "b");
    /* Positions keep growing across a restart. */
    assert_int_equal(append_str(l, "c", &end2), 0);
    assert_true(end2 > end1);
    assert_true(CLOG_SEG(end2) > CLOG_SEG(end1));
    commitlog_close(l);
    tu_rmtree(dir);
}

/* C01: cut the last record at every byte; the rest is always replayed. */
static void test_torn_tail_sweep(void **state)
{
    char *dir = tu_mkdtemp(), path[4200];
    struct commitlog_options o;
    struct fs_file *f;
    uint64_t size;

    (void)state;
    write_log(dir, 5);
    seg_of(dir, path, sizeof(path));
    assert_int_equal(fs_open(fs_posix(), path, FS_READ, &f), 0);
    assert_int_equal(fs_size(f, &size), 0);
    fs_close(f);
    /* Layout: header, 5 records of 12 + 5 bytes, end marker of 12. */
    assert_int_equal(size, CLOG_HEADER + 5 * (CLOG_REC_HEADER + 5) + 12);
    size -= 12;
    for (uint64_t cut = size - (CLOG_REC_HEADER + 5); cut < size; cut++) {
        char *d2 = tu_mkdtemp(), p2[4200];
        struct commitlog *l;
        struct seen s = {0};
        write_log(d2, 5);
        seg_of(d2, p2, sizeof(p2));
        assert_int_equal(fs_open(fs_posix(), p2, FS_WRITE, &f), 0);
        assert_int_equal(fs_truncate(f, cut), 0);
        fs_close(f);
        opts(&o, fs_posix(), d2, STORAGE_SYNC_GROUP);
        assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
        assert_int_equal(s.n, 4);
        assert_int_equal(append_str(l, "after", NULL), 0);
        commitlog_close(l);
        /* The new record is not stuck behind the torn one. */
        memset(&s, 0, sizeof(s));
        assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
        assert_int_equal(s.n, 5);
        assert_string_equal(s.vals[4], "after");
        commitlog_close(l);
        tu_rmtree(d2);
    }
    tu_rmtree(dir);
}

static void flip_byte(const char *path, uint64_t off)
{
    struct fs_file *f;
    uint8_t *d;
    uint64_t size;

    assert_int_equal(fs_open(fs_posix(), path, FS_READ, &f), 0);
    assert_int_equal(fs_size(f, &size), 0);
    d = malloc(size);
    assert_int_equal(fs_read_full(f, d, size, 0), 0);
    fs_close(f);
    d[off] ^= 0x40;
    assert_int_equal(fs_open(fs_posix(), path, FS_WRITE | FS_TRUNC, &f), 0);
    assert_int_equal(fs_append(f, d, size), 0);
    fs_close(f);
    free(d);
}

/* C02: a bad record followed by good ones is corruption, not a tail. */
static void test_midlog_corruption(void **state)
{
    char *dir = tu_mkdtemp(), path[4200], qpath[4200];
    struct commitlog_options o;
    struct commitlog *l;
    struct commitlog_stats st;
    struct seen s = {0};
    uint64_t rec1 = CLOG_HEADER + (CLOG_REC_HEADER + 5);

    (void)state;
    write_log(dir, 3);
    seg_of(dir, path, sizeof(path));
    flip_byte(path, rec1 + CLOG_REC_HEADER + 2); /* payload of record 1 */
    opts(&o, fs_posix(), dir, STORAGE_SYNC_GROUP);
    assert_int_equal(commitlog_open(&o, collect, &s, &l), CAIRN_ECORRUPT);
    assert_non_null(strstr(err_msg(), path));
    assert_non_null(strstr(err_msg(), "offset 41"));
    assert_null(l);

    memset(&s, 0, sizeof(s));
    o.quarantine = 1;
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.vals[0], "rec-0");
    assert_string_equal(s.vals[1], "rec-2");
    commitlog_get_stats(l, &st);
    assert_int_equal(st.unreplayed, 1);
    commitlog_close(l);
    /* The evidence is kept; the intact records now live in the log. */
    snprintf(qpath, sizeof(qpath), "%s/quarantine/%s", dir,
             strrchr(path, '/') + 1);
    assert_int_equal(fs_exists(fs_posix(), qpath), 1);
    assert_int_equal(fs_exists(fs_posix(), path), 0);
    memset(&s, 0, sizeof(s));
    o.quarantine = 0;
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    assert_int_equal(s.n, 2);
    commitlog_close(l);
    tu_rmtree(dir);
}

struct gc_arg {
    struct commitlog *l;
    int fails;
};

static void *group_writer(void *arg)
{
    struct gc_arg *a = arg;

    for (int i = 0; i < 200; i++) {
        uint64_t end;
        int rc = 99;
        assert_int_equal(append_str(a->l, "group", &end), 0);
        commitlog_wait(a->l, end, done_rc, &rc);
        while (__atomic_load_n(&rc, __ATOMIC_ACQUIRE) == 99)
            sched_yield();
        if (rc != 0)
            a->fails++;
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    char *dir = tu_mkdtemp();
    struct commitlog_options o;
    struct commitlog *l;
    struct seen s = {0};
    struct gc_arg a[4];
    pthread_t t[4];
    int n = 0;

    (void)state;
    opts(&o, fs_posix(), dir, STORAGE_SYNC_GROUP);
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct gc_arg){l, 0};
        pthread_create(&t[i], NULL, group_writer, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    commitlog_close(l);
    (void)n;
    tu_rmtree(dir);
}

static int count_only(void *arg, uint64_t pos, const uint8_t *p, size_t n)
{
    (void)pos;
    (void)p;
    (void)n;
    (*(int *)arg)++;
    return 0;
}

/* A failed fsync fails its writes; the log goes on in a new segment. */
static void test_failed_fsync(void **state)
{
    char *dir = tu_mkdtemp();
    struct fs_fault *ff;
    struct commitlog_options o;
    struct commitlog *l;
    struct fs_fault_rule r = {
        .ops = FSF_FSYNC, .path_has = "seg-", .count = 1, .err = -EIO};
    uint64_t end1, end2;
    int rc1 = 99, rc2 = 99, n = 0;

    (void)state;
    assert_int_equal(fs_fault_new(fs_posix(), &ff), 0);
    opts(&o, fs_fault_fs(ff), dir, STORAGE_SYNC_GROUP);
    assert_int_equal(commitlog_open(&o, count_only, &n, &l), 0);
    assert_int_equal(fs_fault_add(ff, &r), 0);
    assert_int_equal(append_str(l, "lost", &end1), 0);
    commitlog_wait(l, end1, done_rc, &rc1);
    while (__atomic_load_n(&rc1, __ATOMIC_ACQUIRE) == 99)
        sched_yield();
    assert_int_equal(rc1, -EIO);
    assert_int_equal(append_str(l, "kept", &end2), 0);
    assert_true(CLOG_SEG(end2) > CLOG_SEG(end1));
    commitlog_wait(l, end2, done_rc, &rc2);
    while (__atomic_load_n(&rc2, __ATOMIC_ACQUIRE) == 99)
        sched_yield();
    assert_int_equal(rc2, 0);
    commitlog_close(l);
    fs_fault_free(ff);
    tu_rmtree(dir);
}

/* wait_rc -- append s and wait for its outcome. */
static int append_wait(struct commitlog *l, const char *str)
{
    uint64_t end;
    int rc = append_str(l, str, &end), done = 99;

    if (rc != 0)
        return rc;
    commitlog_wait(l, end, done_rc, &done);
    while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) == 99)
        sched_yield();
    return done;
}

/* ENOSPC fails the write (at once in none mode, through the callback in
 * group mode); once space returns, writes go on without a restart. */
static void full_disk(enum storage_sync mode)
{
    char *dir = tu_mkdtemp();
    struct fs_fault *ff;
    struct commitlog_options o;
    struct commitlog *l;
    struct seen s = {0};

    assert_int_equal(fs_fault_new(fs_posix(), &ff), 0);
    opts(&o, fs_fault_fs(ff), dir, mode);
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    /* "one" (15 bytes) fits, part of the next does not; group mode's
     * zero-fill ahead of the writes finds no room either. */
    fs_fault_set_space(ff, 20);
    assert_int_equal(append_wait(l, "one"), 0);
    assert_int_equal(append_wait(l, "two-too-long"), -ENOSPC);
    assert_int_equal(append_wait(l, "three"), -ENOSPC);
    fs_fault_set_space(ff, -1);
    assert_int_equal(append_wait(l, "four"), 0);
    assert_int_equal(commitlog_sync(l), 0);
    commitlog_close(l);
    memset(&s, 0, sizeof(s));
    assert_int_equal(commitlog_open(&o, collect, &s, &l), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.vals[0], "one");
    assert_string_equal(s.vals[1], "four");
    commitlog_close(l);
    fs_fault_free(ff);
    tu_rmtree(dir);
}

static void test_full_disk(void **state)
{
    (void)state;
    full_disk(STORAGE_SYNC_NONE);
    full_disk(STORAGE_SYNC_GROUP);
}

static void test_too_big_and_release(void **state)
{
    char *dir = tu_mkdtemp();
    struct commitlog_options o;
    struct commitlog *l;
    struct commitlog_stats st;
    uint8_t *big = calloc(1, (1 << 19) + 100);
    uint64_t pos, end;
    int n = 0;

    (void)state;
    opts(&o, fs_posix(), dir, STORAGE_SYNC_NONE);
    assert_int_equal(commitlog_open(&o, count_only, &n, &l), 0);
    assert_int_equal(commitlog_append(l, big, (1 << 19) + 1, &pos, &end),
                     CAIRN_ETOOBIG);
    /* Fill three segments with records of 400 KiB. */
    for (int i = 0; i < 6; i++)
        assert_int_equal(commitlog_append(l, big, 400 << 10, &pos, &end), 0);
    commitlog_get_stats(l, &st);
    assert_int_equal(st.segments, 3);
    assert_int_equal(commitlog_release(l, end), 0);
    commitlog_get_stats(l, &st);
    assert_int_equal(st.segments, 1);
    commitlog_close(l);
    assert_int_equal(commitlog_open(&o, count_only, &n, &l), 0);
    assert_int_equal(n, 2); /* only the current segment's records remain */
    commitlog_close(l);
    free(big);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_order_and_positions),
        cmocka_unit_test(test_torn_tail_sweep),
        cmocka_unit_test(test_midlog_corruption),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_failed_fsync),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_too_big_and_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
