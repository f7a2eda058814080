/*
 * test_c04.c -- scenario C04, single-node half (shared/cases/SCENARIOS.md):
 * a flipped bit in a data block of an sstable, LZ4-compressed or not, is
 * caught on every path that reads it. Through storage.h: two tables (one
 * with compression, one without), 10,000 rows each, flushed; one bit of
 * each table's sstable is flipped in the middle of its data blocks; the
 * engine is reopened (cold cache), then
 *   (a) every partition is point-read: each read gives exactly the rows
 *       written or CAIRN_ECORRUPT naming the file and the data block --
 *       never a wrong value, never "not found" -- and some give the error;
 *   (b) a full scan ends in CAIRN_ECORRUPT;
 *   (c) a compaction including the damaged sstable refuses with
 *       CAIRN_ECORRUPT and leaves the damaged file as it was, so no fresh
 *       file carries its garbage; reads behave as before.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/coding.h"
#include "common/err.h"
#include "storage/sstable_format.h"
#include "storage/storage.h"

#define PARTS 2000
#define ROWS  5 /* per partition: 10,000 rows per table */
#define VLEN  40

static char dir[256];

static void pkey_of(uint32_t i, uint8_t k[8])
{
    memcpy(k, "pk", 2);
    enc_u32be(k + 2, i);
    memcpy(k + 6, "c4", 2);
}

/* Value of (table, partition, row): half repeated, half varied bytes. */
static void value_of(uint64_t table, uint32_t i, uint32_t j, uint8_t *v)
{
    uint32_t x = (uint32_t)table * 7919u + i * 31u + j;

    for (int k = 0; k < VLEN; k++) {
        x = x * 1103515245u + 12345u;
        v[k] = k < VLEN / 2 ? 'q' : (uint8_t)(x >> 24);
    }
}

static struct storage *open_engine(void)
{
    struct storage_options o;
    struct storage *s;

    storage_options_default(&o);
    o.dir = dir;
    o.sync = STORAGE_SYNC_NONE;
    o.cache_bytes = 8 << 20;
    assert_int_equal(storage_open(&o, &s), 0);
    return s;
}

static void write_table(struct storage *s, uint64_t id, uint32_t from,
                        uint32_t to)
{
    uint8_t pk[8], ck[4], v[VLEN];
    struct storage_mut m = {.kind = STORAGE_MUT_CELL,
                            .column = {(const uint8_t *)"v", 1}};
    struct storage_batch b = {id, {pk, 8}, &m, 1};

    for (uint32_t i = from; i < to; i++) {
        pkey_of(i, pk);
        for (uint32_t j = 0; j < ROWS; j++) {
            enc_u32be(ck, j);
            value_of(id, i, j, v);
            m.ck = (struct storage_bytes){ck, 4};
            m.value = (struct storage_bytes){v, VLEN};
            m.ts = 1000 + j;
            assert_int_equal(storage_apply_sync(s, &b), 0);
        }
    }
}

/* The one sstable file of table `id` present now (the first found). */
static void find_sst(uint64_t id, char *out, size_t n)
{
    char prefix[64];
    struct dirent *d;
    DIR *dp = opendir(dir);

    snprintf(prefix, sizeof(prefix), "sst-%016llx-", (unsigned long long)id);
    out[0] = '\0';
    assert_non_null(dp);
    while ((d = readdir(dp)) != NULL) {
        size_t len = strlen(d->d_name);
        if (strncmp(d->d_name, prefix, strlen(prefix)) == 0 && len > 3 &&
            strcmp(d->d_name + len - 3, ".db") == 0) {
            snprintf(out, n, "%s/%s", dir, d->d_name);
            break;
        }
    }
    closedir(dp);
    assert_true(out[0] != '\0');
}

/* Flip one bit in the middle of the data blocks of `path`. */
static void damage(const char *path)
{
    uint8_t f[SST_FOOTER_BYTES], b;
    int fd = open(path, O_RDWR);
    off_t size = lseek(fd, 0, SEEK_END);
    uint64_t index_off;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, f, sizeof(f), size - SST_FOOTER_BYTES),
                     (ssize_t)sizeof(f));
    index_off = dec_u64be(f);
    assert_true(index_off > 3 * 1024);
    assert_int_equal(pread(fd, &b, 1, (off_t)(index_off / 2)), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)(index_off / 2)), 1);
    close(fd);
}

/* (a): returns how many partitions failed with CAIRN_ECORRUPT. */
static uint32_t point_reads(struct storage *s, uint64_t id, const char *path)
{
    uint8_t pk[8], v[VLEN];
    uint32_t bad = 0;

    for (uint32_t i = 0; i < PARTS; i++) {
        struct storage_read r = {.table_id = id, .pkey = {pk, 8}};
        struct storage_result *res = NULL;
        pkey_of(i, pk);
        int rc = storage_read_partition(s, &r, &res);
        if (rc != 0) {
            if (rc != CAIRN_ECORRUPT)
                print_message("partition %u: %d %s\n", i, rc, err_msg());
            assert_int_equal(rc, CAIRN_ECORRUPT);
            assert_non_null(strstr(err_msg(), path));
            assert_non_null(strstr(err_msg(), "data block"));
            bad++;
            continue;
        }
        assert_int_equal(res->nparts, 1);
        assert_int_equal(res->parts[0].nrows, ROWS);
        for (uint32_t j = 0; j < ROWS; j++) {
            const struct storage_row *row = &res->parts[0].rows[j];
            value_of(id, i, j, v);
            assert_int_equal(row->ck.n, 4);
            assert_int_equal(dec_u32be(row->ck.p), j);
            assert_int_equal(row->ncells, 1);
            assert_int_equal(row->cells[0].value.n, VLEN);
            assert_memory_equal(row->cells[0].value.p, v, VLEN);
        }
        storage_result_free(res);
    }
    return bad;
}

/* (b): a scan of everything must stop at the damage. */
static void full_scan(struct storage *s, uint64_t id)
{
    struct storage_scan sc = {
        .table_id = id, .token_start = INT64_MIN, .token_end = INT64_MAX};
    struct storage_result *res = NULL;

    assert_int_equal(storage_scan(s, &sc, &res), CAIRN_ECORRUPT);
    assert_non_null(strstr(err_msg(), "data block"));
}

static void c04_table(uint64_t id, int compression)
{
    struct storage_table_options to = {864000, 0, compression};
    struct storage *s = open_engine();
    char path[600];
    uint32_t bad;
    struct stat st0, st1;

    assert_int_equal(storage_create_table(s, id, &to), 0);
    write_table(s, id, 0, PARTS);
    assert_int_equal(storage_flush(s, id), 0);
    find_sst(id, path, sizeof(path));
    storage_close(s);
    damage(path);

    s = open_engine();
    bad = point_reads(s, id, path);
    print_message("table %llu (%s): %u of %u partitions refused\n",
                  (unsigned long long)id, compression ? "lz4" : "plain", bad,
                  PARTS);
    assert_true(bad > 0 && bad < PARTS / 4);
    full_scan(s, id);

    /* (c) a second sstable, so compaction has something to merge. */
    write_table(s, id, PARTS, PARTS + 10);
    assert_int_equal(storage_flush(s, id), 0);
    assert_int_equal(stat(path, &st0), 0);
    assert_int_equal(storage_compact(s, id), CAIRN_ECORRUPT);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st0.st_size, st1.st_size);
    assert_int_equal(st0.st_mtime, st1.st_mtime);
    assert_int_equal(point_reads(s, id, path), bad);
    storage_close(s);
}

static void test_c04_lz4(void **state)
{
    (void)state;
    c04_table(1, 1);
}

static void test_c04_plain(void **state)
{
    (void)state;
    c04_table(2, 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cairn-c04-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c04_lz4),
        cmocka_unit_test(test_c04_plain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
