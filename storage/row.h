/*
 * row.h -- the engine's row model: cells, tombstones, the conflict rule,
 * and the encoding of rows and partition headers inside sstables (format
 * in docs/row-format.md).
 *
 * A `struct row` is one clustering row's state: an optional row tombstone
 * and at most one cell per column (the winner so far), sorted by column.
 * A `struct row_header` is a partition's own state: an optional partition
 * tombstone and its range tombstones. Both hold borrowed pointers to the
 * bytes of columns, values and keys; their arrays are owned (MEM_STORAGE)
 * and reused across row_reset() calls, so a merge loop allocates only
 * while a row grows past any row seen before.
 */
#ifndef CAIRN_STORAGE_ROW_H
#define CAIRN_STORAGE_ROW_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define ROW_FORMAT_VERSION 1
#define ROW_TS_NONE        INT64_MIN /* no tombstone */

struct row_cell {
    const uint8_t *col;
    const uint8_t *val; /* NULL/empty for tombstones */
    uint32_t col_len, val_len;
    int64_t ts;        /* µs */
    int64_t expires_s; /* values: 0 never */
    int64_t deleted_s; /* tombstones */
    int tomb;
};

struct row {
    int64_t del_ts; /* row tombstone, or ROW_TS_NONE */
    int64_t del_s;
    struct row_cell *cells;
    size_t n, cap;
};

struct row_range {
    const uint8_t *start, *end;
    uint32_t start_len, end_len;
    int open_end; /* 1: no end (covers every row from start) */
    int64_t ts, del_s;
};

struct row_header {
    int64_t del_ts; /* partition tombstone, or ROW_TS_NONE */
    int64_t del_s;
    struct row_range *r;
    size_t n, cap;
};

/* row_cell_wins -- 1 when `a` beats `b` by the conflict rule: higher
 * timestamp; on a tie a tombstone; then the larger value bytewise; then
 * the later expiry (never counts as latest) or deletion time. */
int row_cell_wins(const struct row_cell *a, const struct row_cell *b);

void row_init(struct row *r);
void row_reset(struct row *r); /* empty, keeps the array */
void row_free(struct row *r);

/* row_put_cell -- fold `c` into the row; 0 or -ENOMEM. */
int row_put_cell(struct row *r, const struct row_cell *c);

/* row_put_del -- fold a row tombstone in (the later one stays). */
void row_put_del(struct row *r, int64_t ts, int64_t del_s);

/* row_merge -- fold every cell and the tombstone of `src` into `dst`. */
int row_merge(struct row *dst, const struct row *src);

void row_header_init(struct row_header *h);
void row_header_reset(struct row_header *h);
void row_header_free(struct row_header *h);
void row_header_put_del(struct row_header *h, int64_t ts, int64_t del_s);
/* row_header_put_range -- add a range tombstone (an identical one is
 * kept once); 0 or -ENOMEM. */
int row_header_put_range(struct row_header *h, const struct row_range *rg);
int row_header_merge(struct row_header *dst, const struct row_header *src);
/* row_header_empty -- 1 when the header says nothing. */
int row_header_empty(const struct row_header *h);

/* row_covering_ts -- the newest tombstone timestamp of `h` that covers
 * clustering key `ck` (partition or range), or ROW_TS_NONE. */
int64_t row_covering_ts(const struct row_header *h, const uint8_t *ck,
                        size_t ck_len);

/*
 * row_resolve -- apply the tombstones that cover the row (`cover_ts`, from
 * row_covering_ts) and time `now_s`: drop cells a tombstone shadows, drop
 * a row tombstone the cover shadows. mode ROW_LIVE also drops tombstones
 * and expired cells (what a client sees); ROW_KEEP keeps tombstones and
 * expired cells as they are (replica reads); ROW_COMPACT turns expired
 * cells into tombstones (deleted_s = expiry).
 */
enum row_mode { ROW_LIVE = 0, ROW_KEEP, ROW_COMPACT };
void row_resolve(struct row *r, int64_t cover_ts, int64_t now_s,
                 enum row_mode mode);

/* row_header_resolve -- drop range tombstones the partition tombstone
 * shadows. */
void row_header_resolve(struct row_header *h);

/* row_empty -- no cells and no row tombstone. */
int row_empty(const struct row *r);

/* Encoding (docs/row-format.md); decode points into `p`, which must
 * outlive the row. CAIRN_ECORRUPT on bad bytes. */
int row_encode(const struct row *r, struct buf *out);
int row_decode(const uint8_t *p, size_t n, struct row *r);
int row_header_encode(const struct row_header *h, struct buf *out);
int row_header_decode(const uint8_t *p, size_t n, struct row_header *h);

/* Statistics of what a row holds, for sstable metadata. */
struct row_stats {
    int64_t min_ts, max_ts, min_deleted_s;
    uint64_t tombstones;
};
void row_stats_init(struct row_stats *s);
void row_stats_row(struct row_stats *s, const struct row *r);
void row_stats_header(struct row_stats *s, const struct row_header *h);

#endif /* CAIRN_STORAGE_ROW_H */
