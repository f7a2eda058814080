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
#include <sys/wait.h>
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
static atomic_long cnt_appends_left = -1; /* -1: never fail; else ENOSPC at 0 */
static atomic_int cnt_fail_preads;        /* 1: every pread fails with EIO */

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
    if (atomic_load(&cnt_fail_preads))
        return err_set(-EIO, "injected read error on %s", f->path);
    return fs_pread(inner(f), b, n, off);
}

static int cnt_append(struct fs_file *f, const void *b, size_t n)
{
    if (atomic_load(&cnt_appends_left) == 0)
        return err_set(-ENOSPC, "injected full disk on %s", f->path);
    if (atomic_load(&cnt_appends_left) > 0)
        atomic_fetch_sub(&cnt_appends_left, 1);
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
    cnt_fsync_dir, cnt_list,  cnt_exists, cnt_lock,   NULL,
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
        p[i].nrows =
            maxrows ? (uint32_t)((i * 2654435761u >> 8) % (maxrows + 1)) : 0;
        p[i].row_len = row_len;
    }
    qsort(p, n, sizeof(*p), part_cmp);
    return p;
}

static void ck_of(uint8_t ck[4], uint32_t j)
{
    enc_u32be(ck, j * 2);
}

static size_t block; /* block_bytes for write_parts; 0: the default */

static void write_parts(const char *path, const struct part *p, size_t n,
                        int compression)
{
    struct sstable_writer_options o = {block, compression, 10, n};
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
    assert_true(m->data_bytes > (compression ? 0 : rows * 60));
    if (compression) { /* values are half one repeated letter */
        char plain[300];
        struct sstable *u;
        make_path(plain, sizeof(plain), "rt-cmp.sst");
        write_parts(plain, p, n, 0);
        assert_int_equal(sstable_open(fs_posix(), plain, NULL, &u), 0);
        assert_true(m->data_bytes < sstable_get_meta(u)->data_bytes * 3 / 4);
        sstable_unref(u);
    }
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

/* Out-of-order input is refused and leaves the writer usable. */
static void test_order_refused(void **state)
{
    struct part *p = make_parts(3, "ord", 0, 0);
    struct sstable_writer *w;
    struct sstable *t;
    struct sstable_iter *it;
    struct sstable_entry e;
    char path[300];
    const uint8_t a[] = "a", b[] = "b";

    (void)state;
    make_path(path, sizeof(path), "order.sst");
    assert_int_equal(sstable_writer_open(fs_posix(), path, NULL, &w), 0);
    assert_int_equal(sstable_writer_row(w, a, 1, "x", 1), -EINVAL);
    assert_int_equal(sstable_writer_partition(w, (const uint8_t *)p[1].pkey,
                                              p[1].pkey_len, "h", 1),
                     0);
    /* An earlier token, then the same partition again. */
    assert_int_equal(sstable_writer_partition(w, (const uint8_t *)p[0].pkey,
                                              p[0].pkey_len, "", 0),
                     -EINVAL);
    assert_int_equal(sstable_writer_partition(w, (const uint8_t *)p[1].pkey,
                                              p[1].pkey_len, "", 0),
                     -EINVAL);
    assert_int_equal(sstable_writer_row(w, b, 1, "1", 1), 0);
    assert_int_equal(sstable_writer_row(w, b, 1, "2", 1), -EINVAL);
    assert_int_equal(sstable_writer_row(w, a, 1, "2", 1), -EINVAL);
    assert_non_null(strstr(err_msg(), "order"));
    assert_int_equal(sstable_writer_partition(w, (const uint8_t *)p[2].pkey,
                                              p[2].pkey_len, "", 0),
                     0);
    assert_int_equal(sstable_writer_row(w, a, 1, "3", 1), 0);
    assert_int_equal(sstable_writer_finish(w, NULL), 0);

    assert_int_equal(sstable_open(fs_posix(), path, NULL, &t), 0);
    assert_int_equal(sstable_get_meta(t)->partitions, 2);
    assert_int_equal(sstable_get_meta(t)->rows, 2);
    assert_int_equal(sstable_iter_open(t, &it), 0);
    assert_int_equal(sstable_iter_next(it, &e), 1);
    assert_true(e.is_header);
    assert_memory_equal(e.value, "h", 1);
    assert_int_equal(sstable_iter_next(it, &e), 1);
    assert_memory_equal(e.ck, "b", 1);
    assert_memory_equal(e.value, "1", 1);
    assert_int_equal(sstable_iter_next(it, &e), 1);
    assert_int_equal(e.token, p[2].token);
    assert_memory_equal(e.value, "3", 1);
    assert_int_equal(sstable_iter_next(it, &e), 0);
    sstable_iter_close(it);
    sstable_unref(t);
    free(p);
}

/* An sstable with no partition: valid, empty, rules every key out. */
static void test_empty_sstable(void **state)
{
    struct sstable_writer *w;
    struct sstable *t;
    struct sstable_iter *it;
    struct sstable_entry e;
    char path[300];

    (void)state;
    make_path(path, sizeof(path), "empty.sst");
    assert_int_equal(sstable_writer_open(fs_posix(), path, NULL, &w), 0);
    assert_int_equal(sstable_writer_finish(w, NULL), 0);
    assert_int_equal(sstable_open(fs_posix(), path, NULL, &t), 0);
    assert_int_equal(sstable_get_meta(t)->partitions, 0);
    assert_int_equal(sstable_get_meta(t)->blocks, 0);
    assert_int_equal(sstable_get_meta(t)->min_token, INT64_MAX);
    assert_int_equal(sstable_get_meta(t)->max_token, INT64_MIN);
    assert_int_equal(sstable_may_contain(t, (const uint8_t *)"k", 1), 0);
    assert_int_equal(sstable_iter_open(t, &it), 0);
    assert_int_equal(sstable_iter_next(it, &e), 0);
    assert_int_equal(sstable_iter_seek(it, 0, NULL, 0, NULL, 0), 0);
    assert_int_equal(sstable_iter_next(it, &e), 0);
    sstable_iter_close(it);
    assert_int_equal(sstable_verify(t), 0);
    sstable_unref(t);
}

/*
 * 100,000 present keys, 100,000 absent ones. Every present key must pass
 * (a bloom filter has no false negatives); a blocked filter at 10 bits a
 * key and 6 probes is expected near 1% false positives (0.8% for a
 * classic one), so 2% leaves room for chance while catching a broken
 * hash or layout (which gives tens of percent).
 */
static void test_bloom_false_positives(void **state)
{
    const size_t n = 100000;
    struct part *p = make_parts(n, "in", 0, 0);
    struct sstable *t;
    char path[300], k[32];
    size_t fp = 0;

    (void)state;
    for (size_t i = 0; i < n; i++)
        p[i].header_len = 0;
    make_path(path, sizeof(path), "bloom.sst");
    write_parts(path, p, n, 1);
    assert_int_equal(sstable_open(fs_posix(), path, NULL, &t), 0);
    for (size_t i = 0; i < n; i++)
        assert_true(
            sstable_may_contain(t, (const uint8_t *)p[i].pkey, p[i].pkey_len));
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(k, sizeof(k), "out%zu", i);
        fp += (size_t)sstable_may_contain(t, (const uint8_t *)k, (size_t)len);
    }
    print_message("bloom: %zu false positives in %zu absent keys\n", fp, n);
    assert_true(fp < n * 2 / 100);
    sstable_unref(t);
    free(p);
}

/* ---- damage ---- */

struct layout {
    uint64_t size, index_off, bloom_off, meta_off, footer_off;
};

static void read_layout(const char *path, struct layout *l)
{
    uint8_t f[SST_FOOTER_BYTES];
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    l->size = (uint64_t)lseek(fd, 0, SEEK_END);
    l->footer_off = l->size - SST_FOOTER_BYTES;
    assert_int_equal(pread(fd, f, sizeof(f), (off_t)l->footer_off),
                     (ssize_t)sizeof(f));
    close(fd);
    l->index_off = dec_u64be(f);
    l->bloom_off = dec_u64be(f + 12);
    l->meta_off = dec_u64be(f + 24);
}

static void flip(const char *path, uint64_t off, int bit)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= (uint8_t)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void assert_corrupt_names(int rc, const char *path, const char *what)
{
    if (rc != CAIRN_ECORRUPT)
        print_message("rc %d (%s), wanted corrupt\n", rc, err_msg());
    assert_int_equal(rc, CAIRN_ECORRUPT);
    assert_non_null(strstr(err_msg(), path));
    if (what != NULL && strstr(err_msg(), what) == NULL)
        print_message("message: %s\n", err_msg());
    assert_non_null(strstr(err_msg(), what ? what : ""));
}

/* A full scan returns right entries, then the corruption, never the end. */
static void scan_hits_damage(struct sstable *t, const struct part *p, size_t n,
                             const char *path)
{
    struct sstable_iter *it;
    struct sstable_entry e;
    int rc = 1;

    assert_int_equal(sstable_iter_open(t, &it), 0);
    for (size_t i = 0; i < n && rc == 1; i++) {
        uint32_t j0 = p[i].header_len > 0 || p[i].nrows == 0 ? UINT32_MAX : 0;
        for (uint32_t j = j0; rc == 1 && (j == UINT32_MAX || j < p[i].nrows);
             j = j == UINT32_MAX ? 0 : j + 1) {
            rc = sstable_iter_next(it, &e);
            if (rc == 1)
                check_entry(&e, &p[i], j);
        }
    }
    assert_corrupt_names(rc, path, "data block");
    sstable_iter_close(it);
}

/* Every point read is right or corrupt; at least one is corrupt. */
static void points_hit_damage(struct sstable *t, const struct part *p, size_t n,
                              const char *path)
{
    struct sstable_iter *it;
    struct sstable_entry e;
    size_t bad = 0;

    assert_int_equal(sstable_iter_open(t, &it), 0);
    for (size_t i = 0; i < n; i++) {
        int rc = sstable_iter_seek(it, p[i].token, (const uint8_t *)p[i].pkey,
                                   p[i].pkey_len, NULL, 0);
        if (rc == 0)
            rc = sstable_iter_next(it, &e);
        if (rc == 1) {
            uint32_t j =
                p[i].header_len > 0 || p[i].nrows == 0 ? UINT32_MAX : 0;
            check_entry(&e, &p[i], j);
            continue;
        }
        assert_corrupt_names(rc, path, "data block");
        bad++;
    }
    assert_true(bad > 0);
    sstable_iter_close(it);
}

static void check_damage(const char *path, const struct layout *l, uint64_t off,
                         const struct part *p, size_t n, struct block_cache *c)
{
    struct sstable *t;
    int rc = sstable_open(fs_posix(), path, c, &t);

    if (off >= l->index_off) {
        const char *what = off >= l->footer_off  ? "footer"
                           : off >= l->meta_off  ? "meta block"
                           : off >= l->bloom_off ? "bloom block"
                                                 : "index block";
        assert_corrupt_names(rc, path, what);
        return;
    }
    assert_int_equal(rc, 0);
    assert_corrupt_names(sstable_verify(t), path, "data block");
    scan_hits_damage(t, p, n, path);
    points_hit_damage(t, p, n, path);
    sstable_unref(t);
}

/*
 * One bit flipped at a time, at a stride through the whole file and at
 * every byte of each region's edges (where trailers and the footer sit):
 * damage in the index, bloom, meta block or footer fails the open; damage
 * in a data block fails verify, the scan and the point reads of that
 * block, with CAIRN_ECORRUPT naming the file and the part.
 */
static void damage_case(int compression, struct block_cache *c)
{
    struct part *p = make_parts(400, "dmg", 4, 60);
    struct sstable *t;
    struct layout l;
    char path[300];
    size_t cases[2] = {0, 0};

    make_path(path, sizeof(path), compression ? "dmg-lz4.sst" : "dmg.sst");
    write_parts(path, p, 400, compression);
    read_layout(path, &l);
    assert_int_equal(sstable_open(fs_posix(), path, NULL, &t), 0);
    assert_true(sstable_get_meta(t)->blocks >= 3);
    sstable_unref(t);
    for (uint64_t off = 0; off < l.size; off++) {
        int edge = off + 16 > l.index_off && off < l.index_off + 16;
        edge |= off + 16 > l.bloom_off && off < l.bloom_off + 16;
        edge |= off + 16 > l.meta_off && off < l.meta_off + 16;
        edge |= off + 16 > l.footer_off;
        if (!edge && off % 37 != 0)
            continue;
        flip(path, off, (int)(off % 8));
        check_damage(path, &l, off, p, 400, c);
        flip(path, off, (int)(off % 8));
        cases[off < l.index_off]++;
    }
    print_message("%s: %zu flips in data blocks, %zu elsewhere\n", path,
                  cases[1], cases[0]);
    assert_true(cases[1] > 20 && cases[0] > 60);
    free(p);
}

static void test_bit_flips_plain(void **state)
{
    (void)state;
    block = 4096; /* more blocks in a small file */
    damage_case(0, NULL);
    block = 0;
}

static void test_bit_flips_lz4_cached(void **state)
{
    struct block_cache *c = block_cache_new(1 << 20);

    (void)state;
    block = 4096;
    damage_case(1, NULL);
    /* The cache is per sstable id, so each reopen starts cold. */
    damage_case(1, c);
    block = 0;
    block_cache_free(c);
}

static void test_truncated(void **state)
{
    struct part *p = make_parts(200, "cut", 2, 50);
    struct layout l;
    struct sstable *t;
    char path[300];

    (void)state;
    make_path(path, sizeof(path), "cut.sst");
    write_parts(path, p, 200, 1);
    read_layout(path, &l);
    uint64_t cuts[] = {l.size - 1, l.size - SST_FOOTER_BYTES,
                       l.meta_off, l.index_off,
                       l.size / 2, 63,
                       1,          0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_int_equal(truncate(path, (off_t)cuts[i]), 0);
        assert_corrupt_names(sstable_open(fs_posix(), path, NULL, &t), path,
                             NULL);
        assert_null(t);
    }
    free(p);
}

/* ---- the block cache ---- */

/*
 * A cache of 64 KiB over an uncompressed sstable of about 1 MiB: after
 * every read the bytes held stay within the capacity; a block read twice
 * in a row is read from the disk once and counted as a hit.
 */
static void test_cache_bounded(void **state)
{
    struct part *p = make_parts(4000, "cache", 4, 100);
    struct block_cache *c = block_cache_new(64 * 1024);
    struct block_cache_stats st;
    struct sstable *t;
    struct sstable_iter *it;
    struct sstable_entry e;
    char path[300];
    int rc;

    (void)state;
    make_path(path, sizeof(path), "cache.sst");
    write_parts(path, p, 4000, 0);
    assert_int_equal(sstable_open(&cnt_fs, path, c, &t), 0);
    assert_true(sstable_get_meta(t)->data_bytes > 8 * 64 * 1024);
    assert_int_equal(sstable_iter_open(t, &it), 0);
    while ((rc = sstable_iter_next(it, &e)) == 1) {
        block_cache_get_stats(c, &st);
        assert_true(st.bytes <= 64 * 1024);
    }
    assert_int_equal(rc, 0);
    block_cache_get_stats(c, &st);
    assert_int_equal(st.misses, sstable_get_meta(t)->blocks);
    assert_true(st.entries >= 1 && st.entries <= 4);

    for (size_t i = 0; i < 4000; i += 97) {
        const uint8_t *k = (const uint8_t *)p[i].pkey;
        uint64_t hits = st.hits;
        for (int round = 0; round < 2; round++) {
            atomic_store(&cnt_preads, 0);
            /* A fresh iterator each time: nothing pinned in between. */
            sstable_iter_close(it);
            assert_int_equal(sstable_iter_open(t, &it), 0);
            assert_int_equal(
                sstable_iter_seek(it, p[i].token, k, p[i].pkey_len, NULL, 0),
                0);
            assert_int_equal(sstable_iter_next(it, &e), 1);
            assert_int_equal(e.token, p[i].token);
            if (round == 1)
                assert_int_equal(atomic_load(&cnt_preads), 0);
        }
        block_cache_get_stats(c, &st);
        assert_true(st.hits >= hits + 1);
        assert_true(st.bytes <= 64 * 1024);
    }
    sstable_iter_close(it);
    sstable_unref(t);
    block_cache_free(c);
    free(p);
}

struct reader_arg {
    struct sstable *t;
    const struct part *p;
    size_t n;
    unsigned seed;
    long wrong;
};

/* Random point reads and short scans; counts every wrong answer. */
static void *reader(void *argp)
{
    struct reader_arg *a = argp;
    struct sstable_iter *it;
    struct sstable_entry e;
    uint8_t v[4096];

    if (sstable_iter_open(a->t, &it) != 0) {
        a->wrong++;
        return NULL;
    }
    for (int k = 0; k < 3000; k++) {
        a->seed = a->seed * 1103515245u + 12345;
        const struct part *p = &a->p[(a->seed >> 8) % a->n];
        if (sstable_iter_seek(it, p->token, (const uint8_t *)p->pkey,
                              p->pkey_len, NULL, 0) != 0 ||
            sstable_iter_next(it, &e) != 1) {
            a->wrong++;
            continue;
        }
        uint32_t j = p->header_len > 0 || p->nrows == 0 ? UINT32_MAX : 0;
        size_t len = j == UINT32_MAX ? p->header_len : p->row_len;
        fill_value(v, len, part_index(p), j);
        a->wrong += e.token != p->token || e.value_len != len ||
                    (len > 0 && memcmp(e.value, v, len) != 0);
        for (int s = 0; s < 5 && sstable_iter_next(it, &e) == 1; s++)
            a->wrong += e.token < p->token;
    }
    sstable_iter_close(it);
    return NULL;
}

/* Four threads share one reader and one small cache (constant eviction). */
static void test_concurrent_readers(void **state)
{
    struct part *p = make_parts(5000, "conc", 3, 80);
    struct block_cache *c = block_cache_new(128 * 1024);
    struct reader_arg a[4];
    pthread_t th[4];
    struct sstable *t;
    struct block_cache_stats st;
    char path[300];

    (void)state;
    make_path(path, sizeof(path), "conc.sst");
    write_parts(path, p, 5000, 1);
    assert_int_equal(sstable_open(fs_posix(), path, c, &t), 0);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct reader_arg){t, p, 5000, (unsigned)i * 7919u + 1, 0};
        sstable_ref(t);
        assert_int_equal(pthread_create(&th[i], NULL, reader, &a[i]), 0);
    }
    sstable_unref(t); /* the threads' references keep it open */
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].wrong, 0);
        sstable_unref(t);
    }
    block_cache_get_stats(c, &st);
    assert_true(st.bytes <= st.capacity);
    assert_true(st.hits > 0 && st.misses > 0);
    block_cache_free(c);
    free(p);
}

/* ---- I/O errors ---- */

/* Write `n` small partitions through cnt_fs; the first failing code. */
static int write_through_cnt(const char *path, const struct part *p, size_t n)
{
    struct sstable_writer_options o = {1024, 1, 10, n};
    struct sstable_writer *w;
    int rc = sstable_writer_open(&cnt_fs, path, &o, &w);

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = sstable_writer_partition(w, (const uint8_t *)p[i].pkey,
                                      p[i].pkey_len, "0123456789abcdef", 16);
    if (rc != 0) {
        /* Poisoned: later calls fail the same way, finish cleans up. */
        assert_int_equal(sstable_writer_row(w, (const uint8_t *)"z", 1, "", 0),
                         rc);
        assert_int_equal(sstable_writer_finish(w, NULL), rc);
        return rc;
    }
    return sstable_writer_finish(w, NULL);
}

/*
 * A full disk while writing blocks, or while writing the tail, fails the
 * writer and leaves neither the final nor the temporary file; a failing
 * read gives -EIO (not corruption), sticks to the iterator until the next
 * seek, and the same reader works again once reads succeed.
 */
static void test_io_errors(void **state)
{
    struct part *p = make_parts(500, "io", 0, 0);
    struct sstable *t;
    struct sstable_iter *it;
    struct sstable_entry e;
    char path[300], tmp[310];

    (void)state;
    make_path(path, sizeof(path), "io.sst");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* Count the appends of a good write: blocks, index, bloom, meta,
     * footer. Then fail at the first, in the data, at the index and at the
     * footer. */
    atomic_store(&cnt_appends_left, 1000000);
    assert_int_equal(write_through_cnt(path, p, 500), 0);
    long total = 1000000 - atomic_load(&cnt_appends_left);
    assert_true(total > 10);
    long lefts[] = {0, 3, total - 4, total - 1};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(unlink(path), i == 0 ? 0 : -1);
        atomic_store(&cnt_appends_left, lefts[i]);
        assert_int_equal(write_through_cnt(path, p, 500), -ENOSPC);
        assert_int_not_equal(access(path, F_OK), 0);
        assert_int_not_equal(access(tmp, F_OK), 0);
    }
    atomic_store(&cnt_appends_left, -1);
    assert_int_equal(write_through_cnt(path, p, 500), 0);

    atomic_store(&cnt_fail_preads, 1);
    assert_int_equal(sstable_open(&cnt_fs, path, NULL, &t), -EIO);
    atomic_store(&cnt_fail_preads, 0);
    assert_int_equal(sstable_open(&cnt_fs, path, NULL, &t), 0);
    assert_int_equal(sstable_iter_open(t, &it), 0);
    atomic_store(&cnt_fail_preads, 1);
    assert_int_equal(sstable_iter_seek(it, p[250].token,
                                       (const uint8_t *)p[250].pkey,
                                       p[250].pkey_len, NULL, 0),
                     -EIO);
    assert_int_equal(sstable_iter_next(it, &e), -EIO);
    assert_int_equal(sstable_verify(t), -EIO);
    atomic_store(&cnt_fail_preads, 0);
    assert_int_equal(sstable_iter_seek(it, p[250].token,
                                       (const uint8_t *)p[250].pkey,
                                       p[250].pkey_len, NULL, 0),
                     0);
    assert_int_equal(sstable_iter_next(it, &e), 1);
    assert_int_equal(e.token, p[250].token);
    sstable_iter_close(it);
    assert_int_equal(sstable_verify(t), 0);
    sstable_unref(t);
    free(p);
}

/*
 * Every allocation of the writer, the reader, an iterator and the cache
 * made to fail in turn: each step fails cleanly with -ENOMEM (or works),
 * and the sanitizer build checks nothing leaks on the way out.
 */
static void test_out_of_memory(void **state)
{
    struct part *p = make_parts(200, "oom", 3, 30);
    char path[300], tmp[310];
    int done = 0;

    (void)state;
    make_path(path, sizeof(path), "oom.sst");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    write_parts(path, p, 200, 1);
    for (long n = 0; !done; n++) {
        struct block_cache *c = NULL;
        struct sstable *t = NULL;
        struct sstable_iter *it = NULL;
        struct sstable_entry e;
        int rc;

        mem_fail_after(n);
        c = block_cache_new(1 << 20);
        rc = c == NULL ? -ENOMEM : sstable_open(fs_posix(), path, c, &t);
        if (rc == 0)
            rc = sstable_iter_open(t, &it);
        while (rc == 0 && (rc = sstable_iter_next(it, &e)) == 1)
            rc = 0;
        if (rc == 0)
            rc = sstable_iter_seek(it, p[100].token,
                                   (const uint8_t *)p[100].pkey,
                                   p[100].pkey_len, NULL, 0);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        done = rc == 0;
        sstable_iter_close(it);
        sstable_unref(t);
        block_cache_free(c);
    }
    for (long n = 0;; n++) {
        struct sstable_writer_options o = {1024, 1, 10, 10};
        struct sstable_writer *w = NULL;
        int rc;

        mem_fail_after(n);
        rc = sstable_writer_open(fs_posix(), path, &o, &w);
        for (size_t i = 0; rc == 0 && i < 50; i++)
            rc = sstable_writer_partition(w, (const uint8_t *)p[i].pkey,
                                          p[i].pkey_len, "header", 6);
        if (rc == 0)
            rc = sstable_writer_finish(w, NULL);
        else if (w != NULL)
            sstable_writer_abort(w);
        mem_fail_after(-1);
        assert_true(rc == 0 || rc == -ENOMEM);
        assert_int_not_equal(access(tmp, F_OK), 0);
        if (rc == 0)
            break;
    }
    free(p);
}

/* ---- the offline tool ---- */

/* Run the tool with `args`; its exit status, output in dir/tool.out. */
static int run_tool(const char *args)
{
    char cmd[1024];
    int st;

    snprintf(cmd, sizeof(cmd), "%s %s >%s/tool.out 2>&1", CAIRN_SSTABLE_TOOL,
             args, dir);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int tool_output_has(const char *needle)
{
    char path[300], text[65536];
    size_t n;
    FILE *f;

    make_path(path, sizeof(path), "tool.out");
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

static void test_tool(void **state)
{
    struct part *p = make_parts(300, "tool", 3, 40);
    char path[300], good[300], args[700];
    struct layout l;

    (void)state;
    make_path(good, sizeof(good), "tool-good.sst");
    make_path(path, sizeof(path), "tool-bad.sst");
    write_parts(good, p, 300, 1);
    write_parts(path, p, 300, 1);

    snprintf(args, sizeof(args), "verify %s %s", good, path);
    assert_int_equal(run_tool(args), 0);
    snprintf(args, sizeof(args), "meta %s", good);
    assert_int_equal(run_tool(args), 0);
    assert_true(tool_output_has("partitions: 300\n"));
    assert_true(tool_output_has("compression: lz4\n"));
    snprintf(args, sizeof(args), "dump %s", good);
    assert_int_equal(run_tool(args), 0);
    assert_true(tool_output_has(" header value_len="));
    assert_true(tool_output_has(" ck=00000002 value_len=40 value=6161"));

    read_layout(path, &l);
    flip(path, l.index_off / 2, 3);
    snprintf(args, sizeof(args), "verify %s %s", good, path);
    assert_int_equal(run_tool(args), 1);
    assert_true(tool_output_has(": ok"));
    assert_true(tool_output_has("data block"));
    assert_true(tool_output_has(path));
    snprintf(args, sizeof(args), "dump %s", path);
    assert_int_equal(run_tool(args), 1);
    assert_true(tool_output_has("corrupt"));

    assert_int_equal(run_tool(""), 2);
    assert_int_equal(run_tool("verify"), 2);
    assert_int_equal(run_tool("frobnicate x"), 2);
    assert_true(tool_output_has("usage:"));
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
        cmocka_unit_test(test_order_refused),
        cmocka_unit_test(test_empty_sstable),
        cmocka_unit_test(test_bloom_false_positives),
        cmocka_unit_test(test_bit_flips_plain),
        cmocka_unit_test(test_bit_flips_lz4_cached),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_cache_bounded),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_tool),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
