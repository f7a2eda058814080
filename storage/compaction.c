/*
 * compaction.c -- size-tiered compaction and tombstone purge.
 *
 * Sstables of a table fall into tiers of similar size; when a tier holds
 * COMPACT_MIN_TIER of them, a background thread merges them into one by
 * the conflict rule. Merging also turns expired cells into tombstones and
 * drops a tombstone only when all three hold:
 *  - its deletion time is older than the table's gc grace,
 *  - the purge callback (if any) agrees,
 *  - nothing outside the compaction can hold data it shadows: every other
 *    sstable that may contain the partition (token range and bloom
 *    filter) has a minimum timestamp above the tombstone's, and so does
 *    every memtable of the table (C06).
 * An input that fails a checksum stops the compaction: the damaged file
 * is marked corrupt (never picked again) instead of being rewritten into
 * a fresh file with valid checksums (C04).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "storage/engine_int.h"
#include "storage/fs.h"
#include "storage/memtable.h"
#include "storage/merge.h"
#include "storage/row.h"
#include "storage/sstable.h"

#define COMPACT_MIN_TIER 4
#define COMPACT_MAX_IN   32

/* The sstables of one compaction, and what it must respect outside. */
struct job {
    struct storage *s;
    struct table *t;
    struct sst *in[COMPACT_MAX_IN];
    size_t nin;
    struct sst **out; /* every other sstable of the table, ref'd */
    size_t nout;
    int64_t mem_min_ts; /* over the table's memtables */
    int64_t now_s;
    int64_t min_other; /* for the current partition */
};

/* ---- picking ---- */

static int by_size(const void *a, const void *b)
{
    const struct sst *x = *(struct sst *const *)a, *y = *(struct sst *const *)b;
    return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}

/* pick_tier_locked -- a tier of similar sizes with enough members. With
 * `all`, every eligible sstable. Marks them compacting. */
static size_t pick_locked(struct table *t, struct sst **in, int all)
{
    struct sst *c[256];
    size_t n = 0, best = 0, best_len = 0;

    for (size_t i = 0; i < t->nssts && n < 256; i++)
        if (!t->ssts[i]->compacting && !t->ssts[i]->corrupt)
            c[n++] = t->ssts[i];
    if (all) {
        best_len = n < COMPACT_MAX_IN ? n : COMPACT_MAX_IN;
    } else {
        qsort(c, n, sizeof(*c), by_size);
        for (size_t i = 0; i < n; i++) {
            size_t j = i;
            while (j < n && c[j]->bytes <= 2 * c[i]->bytes + (1u << 20))
                j++;
            if (j - i >= COMPACT_MIN_TIER && j - i > best_len) {
                best = i;
                best_len = j - i < COMPACT_MAX_IN ? j - i : COMPACT_MAX_IN;
            }
        }
        if (best_len < COMPACT_MIN_TIER)
            return 0;
    }
    for (size_t i = 0; i < best_len; i++) {
        in[i] = c[best + i];
        in[i]->compacting = 1;
        atomic_fetch_add(&in[i]->refs, 1);
    }
    return best_len;
}

uint64_t compaction_pending(struct storage *s, struct table *t)
{
    size_t n = 0;

    (void)s;
    for (size_t i = 0; i < t->nssts; i++)
        if (!t->ssts[i]->compacting && !t->ssts[i]->corrupt)
            n++;
    return n >= COMPACT_MIN_TIER ? (n - 1) / (COMPACT_MIN_TIER - 1) : 0;
}

/* job_outside_locked -- note the sstables and memtables not compacted. */
static int job_outside_locked(struct job *j)
{
    struct table *t = j->t;

    j->mem_min_ts = memtable_min_ts(t->mem);
    for (size_t i = 0; i < t->nimm; i++)
        if (memtable_min_ts(t->imm[i].m) < j->mem_min_ts)
            j->mem_min_ts = memtable_min_ts(t->imm[i].m);
    j->out = mem_calloc(MEM_STORAGE, t->nssts + 1, sizeof(*j->out));
    if (j->out == NULL)
        return err_set(-ENOMEM, "compaction: out of memory");
    for (size_t i = 0; i < t->nssts; i++) {
        struct sst *x = t->ssts[i];
        int inside = 0;
        for (size_t k = 0; k < j->nin; k++)
            inside |= j->in[k] == x;
        if (inside)
            continue;
        atomic_fetch_add(&x->refs, 1);
        j->out[j->nout++] = x;
    }
    return 0;
}

static void job_free(struct job *j)
{
    for (size_t i = 0; i < j->nin; i++) {
        j->in[i]->compacting = 0;
        engine_sst_unref(j->in[i]);
    }
    for (size_t i = 0; i < j->nout; i++)
        engine_sst_unref(j->out[i]);
    mem_free(j->out);
}

/* ---- purging ---- */

/* part_min_other -- the oldest timestamp anything outside may hold for
 * this partition. */
static int64_t part_min_other(const struct job *j, int64_t token,
                              const uint8_t *pk, size_t pk_len)
{
    int64_t min = j->mem_min_ts;

    for (size_t i = 0; i < j->nout; i++) {
        const struct sst *x = j->out[i];
        if (x->min_ts >= min || token < x->min_token || token > x->max_token)
            continue;
        if (sstable_may_contain(x->t, pk, pk_len))
            min = x->min_ts;
    }
    return min;
}

static int purgeable(const struct job *j, int64_t ts, int64_t del_s)
{
    const struct storage_options *o = &j->s->o;

    if (del_s + (int64_t)j->t->o.gc_grace_s >= j->now_s)
        return 0;
    if (ts >= j->min_other)
        return 0;
    return o->purge == NULL || o->purge(o->purge_arg, j->t->id, del_s);
}

static void purge_header(const struct job *j, struct row_header *h)
{
    size_t keep = 0;

    if (h->del_ts != ROW_TS_NONE && purgeable(j, h->del_ts, h->del_s))
        h->del_ts = ROW_TS_NONE, h->del_s = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!purgeable(j, h->r[i].ts, h->r[i].del_s))
            h->r[keep++] = h->r[i];
    h->n = keep;
}

static void purge_row(const struct job *j, struct row *r)
{
    size_t keep = 0;

    if (r->del_ts != ROW_TS_NONE && purgeable(j, r->del_ts, r->del_s))
        r->del_ts = ROW_TS_NONE, r->del_s = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!r->cells[i].tomb ||
            !purgeable(j, r->cells[i].ts, r->cells[i].deleted_s))
            r->cells[keep++] = r->cells[i];
    r->n = keep;
}

/* ---- merging ---- */

struct cwriter {
    struct job *j;
    struct sstable_writer *w;
    struct buf val;
    struct row_header full; /* the partition's header, before purging */
    struct buf hbytes;      /* its range bounds */
    struct buf pk;          /* current partition */
    int64_t token;
    int in_part, part_written;
    uint64_t parts; /* partitions written */
    struct row_stats st;
    uint64_t rows;
};

/* begin_part -- a new partition: its header (maybe NULL), kept whole for
 * shadowing, purged for writing. Written lazily with its first row. */
static int begin_part(struct cwriter *c, const struct mentry *e)
{
    int rc;

    buf_reset(&c->pk);
    rc = buf_append(&c->pk, e->pk, e->pk_len);
    c->token = e->token;
    c->in_part = 1;
    c->part_written = 0;
    c->j->min_other = part_min_other(c->j, e->token, e->pk, e->pk_len);
    row_header_reset(&c->full);
    if (rc != 0 || !e->is_header)
        return rc;
    buf_reset(&c->hbytes);
    for (size_t i = 0; rc == 0 && i < e->hdr->n; i++) {
        struct row_range g = e->hdr->r[i];
        size_t off = c->hbytes.len;
        if (g.start_len > 0)
            rc = buf_append(&c->hbytes, g.start, g.start_len);
        if (rc == 0 && g.end_len > 0)
            rc = buf_append(&c->hbytes, g.end, g.end_len);
        (void)off;
    }
    /* Point the bounds into hbytes (stable now that it stopped growing). */
    row_header_put_del(&c->full, e->hdr->del_ts, e->hdr->del_s);
    for (size_t i = 0, off = 0; rc == 0 && i < e->hdr->n; i++) {
        struct row_range g = e->hdr->r[i];
        g.start = c->hbytes.data + off;
        off += g.start_len;
        g.end = c->hbytes.data + off;
        off += g.end_len;
        rc = row_header_put_range(&c->full, &g);
    }
    row_header_resolve(&c->full);
    return rc;
}

/* write_part_header -- start the partition in the output with its purged
 * header; with `only_if_left`, skip it when purging leaves nothing. */
static int write_part_header(struct cwriter *c, int only_if_left)
{
    struct row_header h = c->full;
    int rc;

    /* Purge a copy: the full header still shadows the rows. */
    h.r = NULL;
    if (c->full.n > 0) {
        h.r = mem_alloc(MEM_STORAGE, c->full.n * sizeof(*h.r));
        if (h.r == NULL)
            return err_set(-ENOMEM, "compaction: out of memory");
        memcpy(h.r, c->full.r, c->full.n * sizeof(*h.r));
    }
    h.cap = h.n;
    purge_header(c->j, &h);
    buf_reset(&c->val);
    rc = 0;
    if (!row_header_empty(&h)) {
        row_stats_header(&c->st, &h);
        rc = row_header_encode(&h, &c->val);
    }
    if (rc == 0 && (!only_if_left || !row_header_empty(&h)))
        rc = sstable_writer_partition(c->w, c->pk.data, c->pk.len, c->val.data,
                                      c->val.len);
    if (rc == 0 && (!only_if_left || !row_header_empty(&h)))
        c->parts++;
    mem_free(h.r);
    c->part_written = 1;
    return rc;
}

/* close_part -- a partition left with its header alone keeps it if
 * anything survives purging. */
static int close_part(struct cwriter *c)
{
    if (!c->in_part || c->part_written || row_header_empty(&c->full))
        return 0;
    return write_part_header(c, 1);
}

static int compact_entry(struct cwriter *c, const struct mentry *e)
{
    int rc = 0;

    if (!c->in_part || e->is_header || e->token != c->token ||
        e->pk_len != c->pk.len || memcmp(e->pk, c->pk.data, e->pk_len) != 0) {
        rc = close_part(c);
        if (rc == 0)
            rc = begin_part(c, e);
        if (rc != 0 || e->is_header)
            return rc;
    }
    row_resolve(e->row, row_covering_ts(&c->full, e->ck, e->ck_len),
                c->j->now_s, ROW_COMPACT);
    purge_row(c->j, e->row);
    if (row_empty(e->row))
        return 0;
    if (!c->part_written && (rc = write_part_header(c, 0)) != 0)
        return rc;
    row_stats_row(&c->st, e->row);
    buf_reset(&c->val);
    rc = row_encode(e->row, &c->val);
    if (rc == 0)
        rc =
            sstable_writer_row(c->w, e->ck, e->ck_len, c->val.data, c->val.len);
    c->rows++;
    return rc;
}

/* ---- running a compaction ---- */

/* blame -- find which inputs are damaged and mark them, so no later
 * compaction picks them. */
static void blame(struct job *j)
{
    for (size_t i = 0; i < j->nin; i++) {
        if (sstable_verify(j->in[i]->t) != CAIRN_ECORRUPT)
            continue;
        j->in[i]->corrupt = 1;
        log_error("storage",
                  "compaction refused a damaged sstable path=%s err=\"%s\"; "
                  "it stays readable outside the damaged blocks; restore "
                  "it from a replica with repair",
                  sstable_path(j->in[i]->t), err_msg());
    }
}

static int open_sources(struct job *j, struct msrc **src)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < j->nin; i++)
        rc = flush_src_new(j->s, j->in[i], &src[i]);
    return rc;
}

static void close_sources(struct msrc **src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (src[i] != NULL)
            src[i]->ops->close(src[i]);
}

/* merge_all -- the merged, purged inputs into writer c->w. */
static int merge_all(struct job *j, struct cwriter *c)
{
    struct msrc *src[COMPACT_MAX_IN] = {0};
    struct merge m;
    struct mentry e;
    int rc = open_sources(j, src);

    if (rc == 0 && (rc = merge_init(&m, src, j->nin)) == 0) {
        rc = merge_seek(&m, INT64_MIN, NULL, 0, NULL, 0, 1);
        while (rc == 0 && (rc = merge_next(&m, &e)) == 1)
            rc = compact_entry(c, &e);
        if (rc == 0)
            rc = close_part(c);
        merge_free(&m);
    }
    close_sources(src, j->nin);
    return rc;
}

static int write_output(struct job *j, uint64_t file_id, int *empty)
{
    struct sstable_writer_options wo = {
        .block_bytes = j->s->o.block_bytes,
        .compression = j->t->o.compression,
        .bloom_bits_per_key = j->s->o.bloom_bits_per_key,
    };
    struct sstable_stats_in st = {0};
    struct cwriter c = {0};
    char path[4096];
    int rc, level = 0;

    for (size_t i = 0; i < j->nin; i++) {
        wo.expected_keys += sstable_get_meta(j->in[i]->t)->partitions;
        if (j->in[i]->level >= level)
            level = j->in[i]->level + 1;
    }
    engine_sst_path(j->s, j->t->id, file_id, path, sizeof(path));
    rc = sstable_writer_open(j->s->fs, path, &wo, &c.w);
    if (rc != 0)
        return rc;
    c.j = j;
    buf_init(&c.val, MEM_STORAGE);
    buf_init(&c.hbytes, MEM_STORAGE);
    buf_init(&c.pk, MEM_STORAGE);
    row_header_init(&c.full);
    row_stats_init(&c.st);
    rc = merge_all(j, &c);
    *empty = c.parts == 0;
    st = (struct sstable_stats_in){c.st.min_ts,        c.st.max_ts,
                                   c.st.min_deleted_s, c.st.tombstones,
                                   j->t->id,           (uint64_t)level};
    if (rc == 0 && !*empty)
        rc = sstable_writer_finish(c.w, &st);
    else
        sstable_writer_abort(c.w);
    if (rc == CAIRN_ECORRUPT)
        blame(j);
    buf_free(&c.val);
    buf_free(&c.hbytes);
    buf_free(&c.pk);
    row_header_free(&c.full);
    return rc;
}

static int remove_sst_locked(struct table *t, struct sst *x)
{
    for (size_t i = 0; i < t->nssts; i++)
        if (t->ssts[i] == x) {
            memmove(&t->ssts[i], &t->ssts[i + 1],
                    (t->nssts - i - 1) * sizeof(*t->ssts));
            t->nssts--;
            return 1;
        }
    return 0;
}

/* install -- swap the inputs for the output in the manifest, then delete
 * the inputs' files. */
static int install(struct job *j, struct sst *outx)
{
    struct storage *s = j->s;
    struct table *t = j->t;
    char path[4096];
    int rc = 0;

    pthread_mutex_lock(&s->manifest_mu);
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < j->nin; i++)
        remove_sst_locked(t, j->in[i]);
    if (outx != NULL)
        rc = engine_sst_add_locked(t, outx);
    pthread_rwlock_unlock(&s->lock);
    if (rc == 0 && !t->dropped)
        rc = engine_save_manifest_locked(s);
    pthread_rwlock_wrlock(&s->lock);
    if (rc != 0) {
        if (outx != NULL)
            remove_sst_locked(t, outx);
        /* Back in the list with the reference they never gave up. */
        for (size_t i = 0; i < j->nin; i++)
            engine_sst_add_locked(t, j->in[i]);
    }
    pthread_rwlock_unlock(&s->lock);
    pthread_mutex_unlock(&s->manifest_mu);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < j->nin; i++) {
        engine_sst_path(s, t->id, j->in[i]->file_id, path, sizeof(path));
        fs_unlink(s->fs, path);
        engine_sst_unref(j->in[i]); /* the table's reference */
    }
    fs_fsync_dir(s->fs, s->dir);
    return 0;
}

static int run_job(struct job *j)
{
    struct sst *outx = NULL;
    uint64_t file_id;
    char path[4096];
    int rc, empty = 0;

    pthread_mutex_lock(&j->s->manifest_mu);
    file_id = j->s->next_file++;
    pthread_mutex_unlock(&j->s->manifest_mu);
    j->now_s = engine_now_s(j->s);
    rc = write_output(j, file_id, &empty);
    if (rc == 0 && !empty)
        rc = engine_sst_open(j->s, j->t, file_id, &outx);
    if (rc == 0)
        rc = install(j, outx);
    if (rc != 0) {
        engine_sst_unref(outx);
        engine_sst_path(j->s, j->t->id, file_id, path, sizeof(path));
        if (fs_exists(j->s->fs, path) == 1)
            fs_unlink(j->s->fs, path);
    }
    return rc;
}

/* job_start_locked -- pick inputs of `t` (exclusive lock held). */
static size_t job_start_locked(struct job *j, struct storage *s,
                               struct table *t, int all)
{
    memset(j, 0, sizeof(*j));
    j->s = s;
    j->t = t;
    j->nin = pick_locked(t, j->in, all);
    if (j->nin > 0 && job_outside_locked(j) != 0) {
        job_free(j);
        j->nin = 0;
    }
    return j->nin;
}

static void busy(struct storage *s, struct table *t, int d)
{
    pthread_mutex_lock(&s->mu);
    t->busy += d;
    pthread_cond_broadcast(&s->cv_done);
    pthread_mutex_unlock(&s->mu);
}

/* bg_one -- find and run one background compaction; 1 if one ran. */
static int bg_one(struct storage *s)
{
    struct table *t = NULL;
    struct job j;

    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < s->ntables && t == NULL; i++)
        if (job_start_locked(&j, s, s->tables[i], 0) > 0) {
            t = s->tables[i];
            atomic_fetch_add(&t->refs, 1);
        }
    pthread_rwlock_unlock(&s->lock);
    if (t == NULL)
        return 0;
    busy(s, t, 1);
    run_job(&j);
    pthread_rwlock_wrlock(&s->lock);
    job_free(&j);
    pthread_rwlock_unlock(&s->lock);
    busy(s, t, -1);
    engine_table_put(t);
    return 1;
}

void *compaction_main(void *arg)
{
    struct storage *s = arg;
    uint64_t seen = 0;

    pthread_mutex_lock(&s->mu);
    while (!s->closing) {
        if (s->compaction_gen == seen) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        seen = s->compaction_gen;
        pthread_mutex_unlock(&s->mu);
        while (bg_one(s) && !s->closing)
            ;
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

void compaction_maybe(struct storage *s, struct table *t)
{
    (void)t;
    pthread_mutex_lock(&s->mu);
    s->compaction_gen++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int any_compacting_locked(struct table *t)
{
    for (size_t i = 0; i < t->nssts; i++)
        if (t->ssts[i]->compacting)
            return 1;
    return 0;
}

/* run_chosen -- one compaction of the inputs chosen by `pick`, after any
 * background compaction of the table is done. */
static int run_chosen(struct storage *s, struct table *t, const uint64_t *ids,
                      size_t nids, size_t *ran)
{
    struct job j;
    int rc;

    for (;;) {
        pthread_rwlock_wrlock(&s->lock);
        if (!any_compacting_locked(t))
            break;
        pthread_rwlock_unlock(&s->lock);
        pthread_mutex_lock(&s->mu);
        while (t->busy > 0)
            pthread_cond_wait(&s->cv_done, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
    if (ids == NULL) {
        job_start_locked(&j, s, t, 1);
    } else {
        memset(&j, 0, sizeof(j));
        j.s = s;
        j.t = t;
        for (size_t i = 0; i < t->nssts; i++)
            for (size_t k = 0; k < nids && j.nin < COMPACT_MAX_IN; k++)
                if (t->ssts[i]->file_id == ids[k] && !t->ssts[i]->corrupt) {
                    j.in[j.nin] = t->ssts[i];
                    j.in[j.nin]->compacting = 1;
                    atomic_fetch_add(&j.in[j.nin++]->refs, 1);
                }
        if (j.nin > 0 && job_outside_locked(&j) != 0) {
            job_free(&j);
            j.nin = 0;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    *ran = j.nin;
    if (j.nin == 0)
        return 0;
    busy(s, t, 1);
    rc = run_job(&j);
    pthread_rwlock_wrlock(&s->lock);
    job_free(&j);
    pthread_rwlock_unlock(&s->lock);
    busy(s, t, -1);
    return rc;
}

int compaction_run_all(struct storage *s, struct table *t)
{
    size_t ran;
    int rc;

    do {
        rc = run_chosen(s, t, NULL, 0, &ran);
    } while (rc == 0 && ran == COMPACT_MAX_IN);
    return rc;
}

int compaction_run_files(struct storage *s, uint64_t table_id,
                         const uint64_t *ids, size_t n)
{
    struct table *t = engine_table_get(s, table_id);
    size_t ran;
    int rc;

    if (t == NULL)
        return err_set(CAIRN_ENOTABLE, "table %" PRIu64 " does not exist",
                       table_id);
    rc = run_chosen(s, t, ids, n, &ran);
    engine_table_put(t);
    return rc;
}
