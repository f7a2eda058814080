/*
 * row.c -- the conflict rule, tombstone shadowing, expiry, and the row and
 * header encodings (see row.h, docs/row-format.md).
 *
 * Everything here is pure: no I/O, no locks, no clock (time comes in as
 * an argument), so every replica decides alike from the same cells.
 */
#include "storage/row.h"

#include <string.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"

static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

int row_cell_wins(const struct row_cell *a, const struct row_cell *b)
{
    int c;

    if (a->ts != b->ts)
        return a->ts > b->ts;
    if (a->tomb != b->tomb)
        return a->tomb;
    if (a->tomb)
        return a->deleted_s > b->deleted_s;
    c = bytes_cmp(a->val, a->val_len, b->val, b->val_len);
    if (c != 0)
        return c > 0;
    if (a->expires_s == b->expires_s)
        return 0;
    if (a->expires_s == 0 || b->expires_s == 0)
        return a->expires_s == 0;
    return a->expires_s > b->expires_s;
}

/* ---- rows ---- */

void row_init(struct row *r)
{
    memset(r, 0, sizeof(*r));
    r->del_ts = ROW_TS_NONE;
}

void row_reset(struct row *r)
{
    r->n = 0;
    r->del_ts = ROW_TS_NONE;
    r->del_s = 0;
}

void row_free(struct row *r)
{
    mem_free(r->cells);
    row_init(r);
}

int row_empty(const struct row *r)
{
    return r->n == 0 && r->del_ts == ROW_TS_NONE;
}

static int row_grow(struct row *r)
{
    size_t cap = r->cap ? r->cap * 2 : 8;
    struct row_cell *c;

    c = mem_realloc(MEM_STORAGE, r->cells, cap * sizeof(*c));
    if (c == NULL)
        return err_set(-ENOMEM, "row: out of memory for %zu cells", cap);
    r->cells = c;
    r->cap = cap;
    return 0;
}

int row_put_cell(struct row *r, const struct row_cell *c)
{
    size_t lo = 0, hi = r->n;
    int rc;

    /* Cells mostly arrive in column order: try the end first. */
    if (r->n > 0 &&
        bytes_cmp(r->cells[r->n - 1].col, r->cells[r->n - 1].col_len, c->col,
                  c->col_len) < 0)
        lo = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = bytes_cmp(r->cells[mid].col, r->cells[mid].col_len, c->col,
                            c->col_len);
        if (cmp == 0) {
            if (row_cell_wins(c, &r->cells[mid]))
                r->cells[mid] = *c;
            return 0;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (r->n == r->cap && (rc = row_grow(r)) != 0)
        return rc;
    memmove(&r->cells[lo + 1], &r->cells[lo], (r->n - lo) * sizeof(*c));
    r->cells[lo] = *c;
    r->n++;
    return 0;
}

void row_put_del(struct row *r, int64_t ts, int64_t del_s)
{
    if (ts == ROW_TS_NONE)
        return;
    if (ts > r->del_ts || (ts == r->del_ts && del_s > r->del_s)) {
        r->del_ts = ts;
        r->del_s = del_s;
    }
}

int row_merge(struct row *dst, const struct row *src)
{
    int rc;

    row_put_del(dst, src->del_ts, src->del_s);
    for (size_t i = 0; i < src->n; i++)
        if ((rc = row_put_cell(dst, &src->cells[i])) != 0)
            return rc;
    return 0;
}

void row_resolve(struct row *r, int64_t cover_ts, int64_t now_s,
                 enum row_mode mode)
{
    int64_t shadow = cover_ts > r->del_ts ? cover_ts : r->del_ts;
    size_t keep = 0;

    if (r->del_ts != ROW_TS_NONE && r->del_ts <= cover_ts)
        r->del_ts = ROW_TS_NONE, r->del_s = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct row_cell *c = &r->cells[i];
        int expired = !c->tomb && c->expires_s != 0 && now_s >= c->expires_s;
        if (shadow != ROW_TS_NONE && c->ts <= shadow)
            continue;
        if (mode == ROW_LIVE && (c->tomb || expired))
            continue;
        if (mode == ROW_COMPACT && expired) {
            c->tomb = 1;
            c->deleted_s = c->expires_s;
            c->expires_s = 0;
            c->val = NULL;
            c->val_len = 0;
        }
        r->cells[keep++] = *c;
    }
    r->n = keep;
    if (mode == ROW_LIVE)
        r->del_ts = ROW_TS_NONE, r->del_s = 0;
}

/* ---- partition headers ---- */

void row_header_init(struct row_header *h)
{
    memset(h, 0, sizeof(*h));
    h->del_ts = ROW_TS_NONE;
}

void row_header_reset(struct row_header *h)
{
    h->n = 0;
    h->del_ts = ROW_TS_NONE;
    h->del_s = 0;
}

void row_header_free(struct row_header *h)
{
    mem_free(h->r);
    row_header_init(h);
}

int row_header_empty(const struct row_header *h)
{
    return h->del_ts == ROW_TS_NONE && h->n == 0;
}

void row_header_put_del(struct row_header *h, int64_t ts, int64_t del_s)
{
    if (ts == ROW_TS_NONE)
        return;
    if (ts > h->del_ts || (ts == h->del_ts && del_s > h->del_s)) {
        h->del_ts = ts;
        h->del_s = del_s;
    }
}

static int range_same(const struct row_range *a, const struct row_range *b)
{
    return a->ts == b->ts && a->del_s == b->del_s &&
           a->open_end == b->open_end &&
           bytes_cmp(a->start, a->start_len, b->start, b->start_len) == 0 &&
           (a->open_end ||
            bytes_cmp(a->end, a->end_len, b->end, b->end_len) == 0);
}

int row_header_put_range(struct row_header *h, const struct row_range *rg)
{
    for (size_t i = 0; i < h->n; i++)
        if (range_same(&h->r[i], rg))
            return 0;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4;
        struct row_range *r = mem_realloc(MEM_STORAGE, h->r, cap * sizeof(*r));
        if (r == NULL)
            return err_set(-ENOMEM, "row: out of memory for ranges");
        h->r = r;
        h->cap = cap;
    }
    h->r[h->n++] = *rg;
    return 0;
}

int row_header_merge(struct row_header *dst, const struct row_header *src)
{
    int rc;

    row_header_put_del(dst, src->del_ts, src->del_s);
    for (size_t i = 0; i < src->n; i++)
        if ((rc = row_header_put_range(dst, &src->r[i])) != 0)
            return rc;
    return 0;
}

void row_header_resolve(struct row_header *h)
{
    size_t keep = 0;

    for (size_t i = 0; i < h->n; i++)
        if (h->del_ts == ROW_TS_NONE || h->r[i].ts > h->del_ts)
            h->r[keep++] = h->r[i];
    h->n = keep;
}

int64_t row_covering_ts(const struct row_header *h, const uint8_t *ck,
                        size_t ck_len)
{
    int64_t ts = h->del_ts;

    for (size_t i = 0; i < h->n; i++) {
        const struct row_range *rg = &h->r[i];
        if (rg->ts <= ts)
            continue;
        if (bytes_cmp(ck, ck_len, rg->start, rg->start_len) < 0)
            continue;
        if (!rg->open_end && bytes_cmp(ck, ck_len, rg->end, rg->end_len) > 0)
            continue;
        ts = rg->ts;
    }
    return ts;
}

/* ---- encoding ---- */

enum { F_DEL = 1, F_TOMB = 1, F_EXPIRES = 2, F_OPEN = 1 };

int row_encode(const struct row *r, struct buf *out)
{
    int rc = buf_put_u8(out, r->del_ts != ROW_TS_NONE ? F_DEL : 0);

    if (rc == 0 && r->del_ts != ROW_TS_NONE) {
        rc = buf_put_varint(out, zigzag_enc(r->del_ts));
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(r->del_s));
    }
    if (rc == 0)
        rc = buf_put_varint(out, r->n);
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const struct row_cell *c = &r->cells[i];
        int fl = c->tomb ? F_TOMB : (c->expires_s ? F_EXPIRES : 0);
        rc = buf_put_u8(out, (uint8_t)fl);
        if (rc == 0)
            rc = buf_put_lenbytes(out, c->col, c->col_len);
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(c->ts));
        if (rc == 0 && c->tomb)
            rc = buf_put_varint(out, zigzag_enc(c->deleted_s));
        if (rc == 0 && fl == F_EXPIRES)
            rc = buf_put_varint(out, zigzag_enc(c->expires_s));
        if (rc == 0 && !c->tomb)
            rc = buf_put_lenbytes(out, c->val, c->val_len);
    }
    return rc;
}

static int rd_zz(struct rd *d, int64_t *v)
{
    uint64_t u = 0;
    int rc = rd_varint(d, &u);

    *v = zigzag_dec(u);
    return rc;
}

static int rd_lenbytes(struct rd *d, const uint8_t **p, uint32_t *n)
{
    uint64_t len;
    int rc = rd_varint(d, &len);

    *n = 0;
    if (rc == 0 && len > UINT32_MAX)
        rc = CAIRN_ECORRUPT;
    if (rc == 0)
        rc = rd_bytes(d, (size_t)len, p);
    if (rc == 0)
        *n = (uint32_t)len;
    return rc;
}

static int decode_cell(struct rd *d, struct row_cell *c)
{
    uint8_t fl;
    int rc = rd_u8(d, &fl);

    memset(c, 0, sizeof(*c));
    if (rc == 0 && (fl & ~3) != 0)
        rc = CAIRN_ECORRUPT;
    if (rc == 0)
        rc = rd_lenbytes(d, &c->col, &c->col_len);
    if (rc == 0)
        rc = rd_zz(d, &c->ts);
    c->tomb = fl & F_TOMB;
    if (rc == 0 && c->tomb)
        rc = rd_zz(d, &c->deleted_s);
    if (rc == 0 && !c->tomb && (fl & F_EXPIRES))
        rc = rd_zz(d, &c->expires_s);
    if (rc == 0 && !c->tomb)
        rc = rd_lenbytes(d, &c->val, &c->val_len);
    return rc;
}

int row_decode(const uint8_t *p, size_t n, struct row *r)
{
    struct rd d;
    uint8_t fl;
    uint64_t nc;
    int rc;

    row_reset(r);
    rd_init(&d, p, n);
    rc = rd_u8(&d, &fl);
    if (rc == 0 && (fl & F_DEL)) {
        rc = rd_zz(&d, &r->del_ts);
        if (rc == 0)
            rc = rd_zz(&d, &r->del_s);
    }
    if (rc == 0)
        rc = rd_varint(&d, &nc);
    if (rc == 0 && nc > rd_left(&d))
        rc = CAIRN_ECORRUPT;
    while (rc == 0 && r->n < nc) {
        if (r->n == r->cap && (rc = row_grow(r)) != 0)
            return rc;
        rc = decode_cell(&d, &r->cells[r->n]);
        if (rc == 0 && r->n > 0 &&
            bytes_cmp(r->cells[r->n - 1].col, r->cells[r->n - 1].col_len,
                      r->cells[r->n].col, r->cells[r->n].col_len) >= 0)
            rc = CAIRN_ECORRUPT;
        if (rc == 0)
            r->n++;
    }
    if (rc == 0 && rd_left(&d) != 0)
        rc = CAIRN_ECORRUPT;
    if (rc != 0) {
        row_reset(r);
        if (rc == CAIRN_ECORRUPT)
            return err_set(rc, "row: undecodable row of %zu bytes", n);
    }
    return rc;
}

int row_header_encode(const struct row_header *h, struct buf *out)
{
    int rc = buf_put_u8(out, h->del_ts != ROW_TS_NONE ? F_DEL : 0);

    if (rc == 0 && h->del_ts != ROW_TS_NONE) {
        rc = buf_put_varint(out, zigzag_enc(h->del_ts));
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(h->del_s));
    }
    if (rc == 0)
        rc = buf_put_varint(out, h->n);
    for (size_t i = 0; rc == 0 && i < h->n; i++) {
        const struct row_range *g = &h->r[i];
        rc = buf_put_u8(out, g->open_end ? F_OPEN : 0);
        if (rc == 0)
            rc = buf_put_lenbytes(out, g->start, g->start_len);
        if (rc == 0 && !g->open_end)
            rc = buf_put_lenbytes(out, g->end, g->end_len);
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(g->ts));
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(g->del_s));
    }
    return rc;
}

static int decode_range(struct rd *d, struct row_range *g)
{
    uint8_t fl;
    int rc = rd_u8(d, &fl);

    memset(g, 0, sizeof(*g));
    if (rc == 0 && (fl & ~1) != 0)
        rc = CAIRN_ECORRUPT;
    g->open_end = fl & F_OPEN;
    if (rc == 0)
        rc = rd_lenbytes(d, &g->start, &g->start_len);
    if (rc == 0 && !g->open_end)
        rc = rd_lenbytes(d, &g->end, &g->end_len);
    if (rc == 0)
        rc = rd_zz(d, &g->ts);
    if (rc == 0)
        rc = rd_zz(d, &g->del_s);
    return rc;
}

int row_header_decode(const uint8_t *p, size_t n, struct row_header *h)
{
    struct rd d;
    uint8_t fl;
    uint64_t nr;
    struct row_range g;
    int rc;

    row_header_reset(h);
    rd_init(&d, p, n);
    rc = rd_u8(&d, &fl);
    if (rc == 0 && (fl & F_DEL)) {
        rc = rd_zz(&d, &h->del_ts);
        if (rc == 0)
            rc = rd_zz(&d, &h->del_s);
    }
    if (rc == 0)
        rc = rd_varint(&d, &nr);
    for (uint64_t i = 0; rc == 0 && i < nr; i++) {
        rc = decode_range(&d, &g);
        if (rc == 0)
            rc = row_header_put_range(h, &g);
    }
    if (rc == 0 && rd_left(&d) != 0)
        rc = CAIRN_ECORRUPT;
    if (rc != 0) {
        row_header_reset(h);
        if (rc == CAIRN_ECORRUPT)
            return err_set(rc, "row: undecodable partition header");
    }
    return rc;
}

/* ---- statistics ---- */

void row_stats_init(struct row_stats *s)
{
    s->min_ts = INT64_MAX;
    s->max_ts = INT64_MIN;
    s->min_deleted_s = INT64_MAX;
    s->tombstones = 0;
}

static void stats_ts(struct row_stats *s, int64_t ts)
{
    if (ts < s->min_ts)
        s->min_ts = ts;
    if (ts > s->max_ts)
        s->max_ts = ts;
}

static void stats_tomb(struct row_stats *s, int64_t ts, int64_t del_s)
{
    stats_ts(s, ts);
    s->tombstones++;
    if (del_s < s->min_deleted_s)
        s->min_deleted_s = del_s;
}

void row_stats_row(struct row_stats *s, const struct row *r)
{
    if (r->del_ts != ROW_TS_NONE)
        stats_tomb(s, r->del_ts, r->del_s);
    for (size_t i = 0; i < r->n; i++) {
        if (r->cells[i].tomb)
            stats_tomb(s, r->cells[i].ts, r->cells[i].deleted_s);
        else
            stats_ts(s, r->cells[i].ts);
    }
}

void row_stats_header(struct row_stats *s, const struct row_header *h)
{
    if (h->del_ts != ROW_TS_NONE)
        stats_tomb(s, h->del_ts, h->del_s);
    for (size_t i = 0; i < h->n; i++)
        stats_tomb(s, h->r[i].ts, h->r[i].del_s);
}
