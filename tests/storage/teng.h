/*
 * teng.h -- helpers for tests that drive the engine: open options on a
 * temporary directory, one-mutation writes, and reads of one cell.
 */
#ifndef CAIRN_TESTS_STORAGE_TENG_H
#define CAIRN_TESTS_STORAGE_TENG_H

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "storage/storage.h"

#define B(s) ((struct storage_bytes){(const uint8_t *)(s), strlen(s)})

static inline void te_opts(struct storage_options *o, const char *dir)
{
    storage_options_default(o);
    o->dir = dir;
    o->sync = STORAGE_SYNC_NONE;
    o->memtable_bytes = 4 << 20;
    o->segment_bytes = 1 << 20;
    o->cache_bytes = 4 << 20;
}

static inline int te_apply(struct storage *s, uint64_t table, const char *pk,
                           struct storage_mut m)
{
    struct storage_batch b = {table, B(pk), &m, 1};
    return storage_apply_sync(s, &b);
}

static inline int te_put(struct storage *s, uint64_t table, const char *pk,
                         const char *ck, const char *col, const char *val,
                         int64_t ts)
{
    struct storage_mut m = {.kind = STORAGE_MUT_CELL,
                            .ck = B(ck),
                            .column = B(col),
                            .value = B(val),
                            .ts = ts};
    return te_apply(s, table, pk, m);
}

static inline int te_del(struct storage *s, uint64_t table,
                         enum storage_mut_kind kind, const char *pk,
                         const char *ck, const char *ck_end, const char *col,
                         int64_t ts)
{
    struct storage_mut m = {.kind = kind,
                            .ck = B(ck),
                            .ck_end = B(ck_end),
                            .column = B(col),
                            .ts = ts};
    return te_apply(s, table, pk, m);
}

/*
 * te_get -- the live value of (pk, ck, col) into out (NUL-terminated):
 * 1 found, 0 not found, or the read's error.
 */
static inline int te_get(struct storage *s, uint64_t table, const char *pk,
                         const char *ck, const char *col, char *out, size_t n)
{
    struct storage_read r = {
        .table_id = table, .pkey = B(pk), .ck_start = B(ck), .ck_end = B(ck)};
    struct storage_result *res;
    int rc = storage_read_partition(s, &r, &res), found = 0;

    if (rc != 0)
        return rc;
    for (size_t p = 0; p < res->nparts; p++)
        for (size_t i = 0; i < res->parts[p].nrows; i++) {
            struct storage_row *row = &res->parts[p].rows[i];
            if (row->ck.n != strlen(ck) || memcmp(row->ck.p, ck, row->ck.n))
                continue;
            for (size_t c = 0; c < row->ncells; c++) {
                struct storage_cell *cell = &row->cells[c];
                if (cell->column.n != strlen(col) ||
                    memcmp(cell->column.p, col, cell->column.n))
                    continue;
                snprintf(out, n, "%.*s", (int)cell->value.n,
                         (const char *)cell->value.p);
                found = 1;
            }
        }
    storage_result_free(res);
    return found;
}

#endif /* CAIRN_TESTS_STORAGE_TENG_H */
