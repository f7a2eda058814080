/*
 * test_sstable.c -- unit tests of storage/sstable*.c, bloom.c and
 * block_cache.c: round trips with and without compression, seeks into a
 * huge partition that read only a few blocks (counted through a wrapping
 * file interface), refused orderings, the empty sstable, the bloom
 * filter's false-positive rate, bit flips in every region of the file,
 * truncated files, the cache's byte bound and concurrent readers.
 * Expected contents come from a generator that the test owns; expected
 * positions from sstable.h's ordering rules.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/token.h"
#include "storage/fs.h"
#include "storage/sstable.h"
#include "storage/sstable_format.h"

/* ---- a file interface that counts reads ---- */

struct cnt_file {
    struct fs_file base;
    struct fs_file *inner;
};

static atomic_long cnt_preads;

static struct fs *posix(void)
{
    return fs_posix();
}

static int cnt_open(struct fs *fs, const char *path, int flags,
                    struct fs_file **out)
{
    struct cnt_file *f = calloc(1, sizeof(*f));
    int rc = fs_open(posix(), path, flags, &f->inner);

    if (rc != 0) {
        free(f);
        return rc;
    }
    f->base.fs = fs;
    f->base.path = f->inner->path;
    *out = &f->base;
    return 0;
}

static struct fs_file *inner(struct fs_file *f)
{
    return ((struct cnt_file *)f)->inner;
}

static int cnt_close(struct fs_file *f)
{
    int rc = fs_close(inner(f));

    free(f);
    return rc;
}

static ssize_t cnt_pread(struct fs_file *f, void *b, size_t n, uint64_t off)
{
    atomic_fetch_add(&cnt_preads, 1);
    return fs_pread(inner(f), b, n, off);
}

static int cnt_append(struct fs_file *f, const void *b, size_t n)
{
    return fs_append(inner(f), b, n);
}

static int cnt_fsync(struct fs_file *f)
{
    return fs_fsync(inner(f));
}

static int cnt_truncate(struct fs_file *f, uint64_t n)
{
    return fs_truncate(inner(f), n);
}

static int cnt_size(struct fs_file *f, uint64_t *out)
{
    return fs_size(inner(f), out);
}

static int cnt_rename(struct fs *fs, const char *a, const char *b)
{
    return fs_rename(posix(), a, b);
}

static int cnt_unlink(struct fs *fs, const char *p)
{
    return fs_unlink(posix(), p);
}

static int cnt_mkdir(struct fs *fs, const char *p)
{
    return fs_mkdir(posix(), p);
}

static int cnt_fsync_dir(struct fs *fs, const char *p)
{
    return fs_fsync_dir(posix(), p);
}

static int cnt_list(struct fs *fs, const char *p,
                    int (*fn)(void *, const char *), void *arg)
{
    return fs_list(posix(), p, fn, arg);
}

static int cnt_exists(struct fs *fs, const char *p)
{
    return fs_exists(posix(), p);
}

static int cnt_lock(struct fs *fs, const char *p, struct fs_file **out)
{
    return fs_lock(posix(), p, out);
}

static const struct fs_ops cnt_ops = {
    cnt_open,      cnt_close, cnt_pread,  cnt_append, cnt_fsync,
    cnt_truncate,  cnt_size,  cnt_rename, cnt_unlink, cnt_mkdir,
    cnt_fsync_dir, cnt_list,  cnt_exists, cnt_lock,
};

static struct fs cnt_fs = {&cnt_ops};

/* ---- the data set ---- */

struct part {
    char pkey[24];
    size_t pkey_len;
    int64_t token;
    size_t header_len; /* 0: no header entry */
    uint32_t nrows;    /* clustering keys 0, 2, 4, ... as big-endian u32 */
    size_t row_len;
};

static char dir[256];

static void make_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* Value bytes of (partition i, row j); j = UINT32_MAX for the header. */
static void fill_value(uint8_t *v, size_t len, size_t i, uint32_t j)
{
    uint32_t x = (uint32_t)(i * 2654435761u) ^ (j * 40503u);

    /* A run of one letter (compressible), then varied bytes. */
    for (size_t k = 0; k < len; k++) {
        x = x * 1103515245u + 12345;
        v[k] = k < len / 2 ? (uint8_t)'a' : (uint8_t)(x >> 24);
    }
}

static int part_cmp(const void *a, const void *b)
{
    const struct part *x = a, *y = b;
    size_t n = x->pkey_len < y->pkey_len ? x->pkey_len : y->pkey_len;
    int c;

    if (x->token != y->token)
        return x->token < y->token ? -1 : 1;
    c = memcmp(x->pkey, y->pkey, n);
    if (c != 0)
        return c;
    return x->pkey_len < y->pkey_len ? -1 : x->pkey_len > y->pkey_len;
}

/* `n` partitions named with `prefix`, sorted as an sstable wants them. */
static struct part *make_parts(size_t n, const char *prefix, uint32_t maxrows,
                               size_t row_len)
{
    struct part *p = calloc(n, sizeof(*p));

    for (size_t i = 0; i < n; i++) {
        p[i].pkey_len =
            (size_t)snprintf(p[i].pkey, sizeof(p[i].pkey), "%s%zu", prefix, i);
        p[i].token = token_of(p[i].pkey, p[i].pkey_len);
        p[i].header_len = i % 3 == 0 ? 0 : 8 + i % 5;
        p[i].nrows = maxrows ? (uint32_t)(i * 5 % (maxrows + 1)) : 0;
        p[i].row_len = row_len;
    }
    qsort(p, n, sizeof(*p), part_cmp);
    return p;
}

static void ck_of(uint8_t ck[4], uint32_t j)
{
    enc_u32be(ck, j * 2);
}

static void write_parts(const char *path, const struct part *p, size_t n,
                        int compression)
{
    struct sstable_writer_options o = {0, compression, 10, n};
    struct sstable_stats_in st = {-5, 99, 7, 3, 42, 1};
    struct sstable_writer *w;
    uint8_t v[4096], ck[4];

    assert_int_equal(sstable_writer_open(fs_posix(), path, &o, &w), 0);
    for (size_t i = 0; i < n; i++) {
        size_t idx = (size_t)strtoul(
            p[i].pkey + strcspn(p[i].pkey, "0123456789"), NULL, 10);
        fill_value(v, p[i].header_len, idx, UINT32_MAX);
        assert_int_equal(sstable_writer_partition(w, (const uint8_t *)p[i].pkey,
                                                  p[i].pkey_len, v,
                                                  p[i].header_len),
                         0);
        for (uint32_t j = 0; j < p[i].nrows; j++) {
            ck_of(ck, j);
            fill_value(v, p[i].row_len, idx, j);
            assert_int_equal(
                sstable_writer_row(w, ck, sizeof(ck), v, p[i].row_len), 0);
        }
    }
    assert_int_equal(sstable_writer_finish(w, &st), 0);
}

static size_t part_index(const struct part *p)
{
    return (size_t)strtoul(p->pkey + strcspn(p->pkey, "0123456789"), NULL, 10);
}

/* Check that `e` is entry (partition p, row j) (j UINT32_MAX: header). */
static void check_entry(const struct sstable_entry *e, const struct part *p,
                        uint32_t j)
{
    uint8_t v[4096], ck[4];
    size_t len = j == UINT32_MAX ? p->header_len : p->row_len;

    assert_int_equal(e->token, p->token);
    assert_int_equal(e->pkey_len, p->pkey_len);
    assert_memory_equal(e->pkey, p->pkey, p->pkey_len);
    assert_int_equal(e->is_header, j == UINT32_MAX);
    if (j != UINT32_MAX) {
        ck_of(ck, j);
        assert_int_equal(e->ck_len, 4);
        assert_memory_equal(e->ck, ck, 4);
    }
    fill_value(v, len, part_index(p), j);
    assert_int_equal(e->value_len, len);
    if (len > 0)
        assert_memory_equal(e->value, v, len);
}

/* The entries a partition contributes, header first. */
static void check_scan(struct sstable *t, const struct part *p, size_t n)
{
    struct sstable_iter *it;
    struct sstable_entry e;

    assert_int_equal(sstable_iter_open(t, &it), 0);
    for (size_t i = 0; i < n; i++) {
        if (p[i].header_len > 0 || p[i].nrows == 0) {
            assert_int_equal(sstable_iter_next(it, &e), 1);
            check_entry(&e, &p[i], UINT32_MAX);
        }
        for (uint32_t j = 0; j < p[i].nrows; j++) {
            assert_int_equal(sstable_iter_next(it, &e), 1);
            check_entry(&e, &p[i], j);
        }
    }
    assert_int_equal(sstable_iter_next(it, &e), 0);
    sstable_iter_close(it);
}

static void check_point_reads(struct sstable *t, const struct part *p, size_t n)
{
    struct sstable_iter *it;
    struct sstable_entry e;
    uint8_t ck[4];

    assert_int_equal(sstable_iter_open(t, &it), 0);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k = (const uint8_t *)p[i].pkey;
        assert_true(sstable_may_contain(t, k, p[i].pkey_len));
        assert_int_equal(
            sstable_iter_seek(it, p[i].token, k, p[i].pkey_len, NULL, 0), 0);
        assert_int_equal(sstable_iter_next(it, &e), 1);
        if (p[i].header_len > 0 || p[i].nrows == 0)
            check_entry(&e, &p[i], UINT32_MAX);
        else
            check_entry(&e, &p[i], 0);
        if (p[i].nrows == 0)
            continue;
        /* An exact row, then an absent odd key lands on the next row. */
        uint32_t j = p[i].nrows / 2;
        ck_of(ck, j);
        assert_int_equal(
            sstable_iter_seek(it, p[i].token, k, p[i].pkey_len, ck, 4), 0);
        assert_int_equal(sstable_iter_next(it, &e), 1);
        check_entry(&e, &p[i], j);
        enc_u32be(ck, j * 2 - 1);
        if (j == 0)
            continue;
        assert_int_equal(
            sstable_iter_seek(it, p[i].token, k, p[i].pkey_len, ck, 4), 0);
        assert_int_equal(sstable_iter_next(it, &e), 1);
        check_entry(&e, &p[i], j);
    }
    sstable_iter_close(it);
}

static void round_trip(int compression)
{
    const size_t n = 3000;
    struct part *p = make_parts(n, "key", 6, 60);
    char path[300];
    struct sstable *t;
    uint64_t rows = 0;

    make_path(path, sizeof(path), compression ? "rt-lz4.sst" : "rt.sst");
    write_parts(path, p, n, compression);
    assert_int_equal(access(path, F_OK), 0);
    strcat(path, ".tmp");
    assert_int_not_equal(access(path, F_OK), 0);
    path[strlen(path) - 4] = '\0';

    assert_int_equal(sstable_open(fs_posix(), path, NULL, &t), 0);
    const struct sstable_meta *m = sstable_get_meta(t);
    for (size_t i = 0; i < n; i++)
        rows += p[i].nrows;
    assert_int_equal(m->format_version, SST_FORMAT_VERSION);
    assert_int_equal(m->partitions, n);
    assert_int_equal(m->rows, rows);
    assert_int_equal(m->min_token, p[0].token);
    assert_int_equal(m->max_token, p[n - 1].token);
    assert_int_equal(m->compression, compression);
    assert_int_equal(m->stats.min_ts, -5);
    assert_int_equal(m->stats.max_ts, 99);
    assert_int_equal(m->stats.table_id, 42);
    assert_true(m->blocks > 10);
    if (compression) /* values are half one repeated letter */
        assert_true(m->data_bytes < rows * 60 * 3 / 4);
    else
        assert_true(m->data_bytes > rows * 60);
    check_scan(t, p, n);
    check_point_reads(t, p, n);
    assert_int_equal(sstable_verify(t), 0);
    sstable_unref(t);

    /* The same through a block cache smaller than the file. */
    struct block_cache *c = block_cache_new(256 * 1024);
    struct block_cache_stats cs;
    assert_int_equal(sstable_open(fs_posix(), path, c, &t), 0);
    check_scan(t, p, n);
    check_point_reads(t, p, n);
    check_point_reads(t, p, n);
    block_cache_get_stats(c, &cs);
    assert_true(cs.hits > 0);
    assert_true(cs.misses > 0);
    assert_true(cs.bytes <= cs.capacity);
    sstable_unref(t);
    block_cache_free(c);
    free(p);
}

static void test_round_trip_plain(void **state)
{
    (void)state;
    round_trip(0);
}

static void test_round_trip_lz4(void **state)
{
    (void)state;
    round_trip(1);
}

/*
 * One partition of 60,000 rows between small ones: a seek into its middle
 * must read only the block holding the row (one pread, as blocks are read
 * whole), and reading on reads the following blocks one by one.
 */
static void test_huge_partition_seek(void **state)
{
    struct part *p = make_parts(9, "huge", 3, 40);
    struct sstable *t;
    struct sstable_iter *it;
    struct sstable_entry e;
    char path[300];
    uint8_t ck[4];
    size_t h = 4;

    (void)state;
    p[h].nrows = 60000;
    p[h].row_len = 100;
    make_path(path, sizeof(path), "huge.sst");
    write_parts(path, p, 9, 1);
    assert_int_equal(sstable_open(&cnt_fs, path, NULL, &t), 0);
    assert_true(sstable_get_meta(t)->blocks > 300);

    assert_int_equal(sstable_iter_open(t, &it), 0);
    for (uint32_t j = 1; j < 60000; j += 7919) {
        ck_of(ck, j);
        atomic_store(&cnt_preads, 0);
        assert_int_equal(sstable_iter_seek(it, p[h].token,
                                           (const uint8_t *)p[h].pkey,
                                           p[h].pkey_len, ck, 4),
                         0);
        assert_int_equal(sstable_iter_next(it, &e), 1);
        check_entry(&e, &p[h], j);
        assert_int_equal(atomic_load(&cnt_preads), 1);
    }
    /* 1,000 rows on from the middle touch about 1000 * 115 / 16 KiB. */
    ck_of(ck, 30000);
    atomic_store(&cnt_preads, 0);
    assert_int_equal(sstable_iter_seek(it, p[h].token,
                                       (const uint8_t *)p[h].pkey,
                                       p[h].pkey_len, ck, 4),
                     0);
    for (uint32_t j = 30000; j < 31000; j++) {
        assert_int_equal(sstable_iter_next(it, &e), 1);
        check_entry(&e, &p[h], j);
    }
    assert_in_range(atomic_load(&cnt_preads), 7, 9);
    sstable_iter_close(it);
    check_scan(t, p, 9);
    sstable_unref(t);
    free(p);
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cairn-sst-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_plain),
        cmocka_unit_test(test_round_trip_lz4),
        cmocka_unit_test(test_huge_partition_seek),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
