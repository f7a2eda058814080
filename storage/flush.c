/*
 * flush.c -- memtables to sstables, and sstables as merge sources.
 *
 * A flush switches the table's memtable under the exclusive lock (so the
 * commit log position at that instant separates the old memtable's
 * records from the new one's), writes the old one as an sstable (the
 * sstable writer fsyncs, renames and fsyncs the directory), then adds it
 * to the manifest with the table's new replay position and only then
 * drops the memtable and releases log segments. A failure anywhere leaves
 * the memtable in place (still read, still covered by the log) and the
 * flush is tried again later. One background thread runs flushes; a
 * caller of storage_flush() runs its own, one per table at a time.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "storage/commitlog.h"
#include "storage/engine_int.h"
#include "storage/fs.h"
#include "storage/memtable.h"
#include "storage/merge.h"
#include "storage/row.h"
#include "storage/sstable.h"

/* ---- sstables as merge sources ---- */

struct sst_src {
    struct msrc base;
    struct storage *s;
    struct sst *x;
    struct sstable_iter *it;
    struct row row;
    struct row_header hdr;
};

static int sst_seek(struct msrc *ms, int64_t token, const uint8_t *pk,
                    size_t pk_len, const uint8_t *ck, size_t ck_len, int flags)
{
    struct sst_src *ss = (struct sst_src *)ms;
    int with_header = flags & MSEEK_HEADER;
    int rc;

    if (!with_header && ck == NULL)
        ck = (const uint8_t *)"";
    rc = sstable_iter_seek(ss->it, token, pk, pk_len, with_header ? NULL : ck,
                           with_header ? 0 : ck_len);
    if (rc == CAIRN_ECORRUPT)
        atomic_fetch_add(&ss->s->corrupt_blocks, 1);
    return rc;
}

static int sst_next(struct msrc *ms, struct mentry *e)
{
    struct sst_src *ss = (struct sst_src *)ms;
    struct sstable_entry se;
    int rc = sstable_iter_next(ss->it, &se);

    if (rc <= 0) {
        if (rc == CAIRN_ECORRUPT)
            atomic_fetch_add(&ss->s->corrupt_blocks, 1);
        return rc;
    }
    memset(e, 0, sizeof(*e));
    e->token = se.token;
    e->pk = se.pkey;
    e->pk_len = se.pkey_len;
    e->is_header = se.is_header;
    e->ck = se.ck ? se.ck : (const uint8_t *)"";
    e->ck_len = se.ck_len;
    if (se.is_header) {
        rc = row_header_decode(se.value, se.value_len, &ss->hdr);
        e->hdr = &ss->hdr;
    } else {
        rc = row_decode(se.value, se.value_len, &ss->row);
        e->row = &ss->row;
    }
    if (rc == CAIRN_ECORRUPT)
        return err_set(rc, "sstable %s: an entry does not decode",
                       sstable_path(ss->x->t));
    return rc == 0 ? 1 : rc;
}

static void sst_close(struct msrc *ms)
{
    struct sst_src *ss = (struct sst_src *)ms;

    sstable_iter_close(ss->it);
    engine_sst_unref(ss->x);
    row_free(&ss->row);
    row_header_free(&ss->hdr);
    mem_free(ss);
}

static const struct msrc_ops sst_src_ops = {sst_seek, sst_next, sst_close};

int flush_src_new(struct storage *s, struct sst *x, struct msrc **out)
{
    struct sst_src *ss = mem_calloc(MEM_STORAGE, 1, sizeof(*ss));
    int rc;

    *out = NULL;
    if (ss == NULL)
        return err_set(-ENOMEM, "storage: out of memory");
    rc = sstable_iter_open(x->t, &ss->it);
    if (rc != 0) {
        mem_free(ss);
        return rc;
    }
    ss->base.ops = &sst_src_ops;
    ss->s = s;
    ss->x = x;
    atomic_fetch_add(&x->refs, 1);
    row_init(&ss->row);
    row_header_init(&ss->hdr);
    *out = &ss->base;
    return 0;
}

/* ---- opening sstables ---- */

static int sst_wrap(struct storage *s, uint64_t file_id, struct sstable *st,
                    struct sst **out)
{
    const struct sstable_meta *m = sstable_get_meta(st);
    struct sst *x = mem_calloc(MEM_STORAGE, 1, sizeof(*x));

    *out = NULL;
    if (x == NULL) {
        sstable_unref(st);
        return err_set(-ENOMEM, "storage: out of memory");
    }
    (void)s;
    atomic_init(&x->refs, 1);
    x->t = st;
    x->file_id = file_id;
    x->bytes = m->file_bytes;
    x->min_ts = m->stats.min_ts;
    x->min_token = m->min_token;
    x->max_token = m->max_token;
    x->level = (int)m->stats.level;
    *out = x;
    return 0;
}

int engine_sst_add_locked(struct table *t, struct sst *x)
{
    if (t->nssts == t->capssts) {
        size_t cap = t->capssts ? t->capssts * 2 : 8;
        struct sst **n = mem_realloc(MEM_STORAGE, t->ssts, cap * sizeof(*n));
        if (n == NULL)
            return err_set(-ENOMEM, "storage: out of memory");
        t->ssts = n;
        t->capssts = cap;
    }
    t->ssts[t->nssts++] = x;
    return 0;
}

int flush_open_ssts(struct storage *s, struct table *t, const uint64_t *files,
                    size_t n)
{
    char path[4096];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct sstable *st;
        struct sst *x;
        engine_sst_path(s, t->id, files[i], path, sizeof(path));
        rc = sstable_open(s->fs, path, s->cache, &st);
        if (rc == 0)
            rc = sst_wrap(s, files[i], st, &x);
        if (rc == 0 && (rc = engine_sst_add_locked(t, x)) != 0)
            engine_sst_unref(x);
    }
    return rc;
}

/* ---- writing a memtable out ---- */

struct writer_ctx {
    struct sstable_writer *w;
    struct buf val;
    struct row_stats st;
    struct row_header hdr; /* the current partition's, for shadowing */
    const uint8_t *pk;
    size_t pk_len;
    int64_t token;
    int in_part;
};

static int write_entry(struct writer_ctx *c, const struct mentry *e)
{
    int same = c->in_part && c->token == e->token && c->pk_len == e->pk_len &&
               memcmp(c->pk, e->pk, e->pk_len) == 0;
    int rc = 0;

    buf_reset(&c->val);
    if (e->is_header) {
        row_header_reset(&c->hdr);
        rc = row_header_merge(&c->hdr, e->hdr);
        row_header_resolve(&c->hdr);
        row_stats_header(&c->st, &c->hdr);
        if (rc == 0)
            rc = row_header_encode(&c->hdr, &c->val);
        if (rc == 0)
            rc = sstable_writer_partition(c->w, e->pk, e->pk_len, c->val.data,
                                          c->val.len);
    } else {
        if (!same) {
            row_header_reset(&c->hdr);
            rc = sstable_writer_partition(c->w, e->pk, e->pk_len, NULL, 0);
        }
        row_resolve(e->row, row_covering_ts(&c->hdr, e->ck, e->ck_len), 0,
                    ROW_KEEP);
        if (rc == 0 && row_empty(e->row))
            goto done;
        row_stats_row(&c->st, e->row);
        if (rc == 0)
            rc = row_encode(e->row, &c->val);
        if (rc == 0)
            rc = sstable_writer_row(c->w, e->ck, e->ck_len, c->val.data,
                                    c->val.len);
    }
done:
    c->in_part = 1;
    c->token = e->token;
    c->pk = e->pk;
    c->pk_len = e->pk_len;
    return rc;
}

/* write_sstable -- write every entry of `src` to a new sstable file and
 * return its number in *file_id. */
static int write_memtable(struct storage *s, struct table *t,
                          struct memtable *m, uint64_t *file_id)
{
    struct sstable_writer_options wo = {
        .block_bytes = s->o.block_bytes,
        .compression = t->o.compression,
        .bloom_bits_per_key = s->o.bloom_bits_per_key,
        .expected_keys = memtable_entries(m),
    };
    struct writer_ctx c = {0};
    struct sstable_stats_in st = {0};
    struct msrc *src;
    struct mentry e;
    char path[4096];
    int rc;

    pthread_mutex_lock(&s->manifest_mu);
    *file_id = s->next_file++;
    pthread_mutex_unlock(&s->manifest_mu);
    engine_sst_path(s, t->id, *file_id, path, sizeof(path));
    rc = memtable_src_new(m, &src);
    if (rc != 0)
        return rc;
    rc = sstable_writer_open(s->fs, path, &wo, &c.w);
    if (rc != 0) {
        src->ops->close(src);
        return rc;
    }
    buf_init(&c.val, MEM_STORAGE);
    row_header_init(&c.hdr);
    row_stats_init(&c.st);
    rc = src->ops->seek(src, INT64_MIN, NULL, 0, NULL, 0, 1);
    while (rc == 0 && (rc = src->ops->next(src, &e)) == 1)
        rc = write_entry(&c, &e);
    src->ops->close(src);
    st.min_ts = c.st.min_ts;
    st.max_ts = c.st.max_ts;
    st.min_deleted_s = c.st.min_deleted_s;
    st.tombstones = c.st.tombstones;
    st.table_id = t->id;
    st.level = 0;
    if (rc == 0)
        rc = sstable_writer_finish(c.w, &st);
    else
        sstable_writer_abort(c.w);
    buf_free(&c.val);
    row_header_free(&c.hdr);
    return rc;
}

/* install -- make the new sstable live, durably, in place of imm[0]. */
static int install(struct storage *s, struct table *t, struct sst *x)
{
    uint64_t old_replay;
    struct memtable *m = NULL;
    int rc;

    pthread_mutex_lock(&s->manifest_mu);
    pthread_rwlock_wrlock(&s->lock);
    old_replay = t->replay_from;
    rc = engine_sst_add_locked(t, x);
    if (rc == 0)
        t->replay_from = t->imm[0].end_pos;
    pthread_rwlock_unlock(&s->lock);
    if (rc == 0 && !t->dropped)
        rc = engine_save_manifest_locked(s);
    pthread_rwlock_wrlock(&s->lock);
    if (rc != 0) {
        if (t->nssts > 0 && t->ssts[t->nssts - 1] == x)
            t->nssts--;
        t->replay_from = old_replay;
    } else {
        m = t->imm[0].m;
        memmove(&t->imm[0], &t->imm[1], (t->nimm - 1) * sizeof(*t->imm));
        t->nimm--;
    }
    pthread_rwlock_unlock(&s->lock);
    pthread_mutex_unlock(&s->manifest_mu);
    memtable_unref(m);
    return rc;
}

/* switch_memtable -- move the live memtable to the flush queue. */
static int switch_memtable(struct storage *s, struct table *t)
{
    struct memtable *fresh;
    int rc = memtable_new(&s->mem_bytes, s->o.memtable_bytes, &fresh);

    if (rc != 0)
        return rc;
    pthread_rwlock_wrlock(&s->lock);
    if (memtable_entries(t->mem) == 0) {
        pthread_rwlock_unlock(&s->lock);
        memtable_unref(fresh);
        return 0;
    }
    if (t->nimm == t->capimm) {
        size_t cap = t->capimm ? t->capimm * 2 : 4;
        struct imm *n = mem_realloc(MEM_STORAGE, t->imm, cap * sizeof(*n));
        if (n == NULL) {
            pthread_rwlock_unlock(&s->lock);
            memtable_unref(fresh);
            return err_set(-ENOMEM, "storage: out of memory");
        }
        t->imm = n;
        t->capimm = cap;
    }
    t->imm[t->nimm++] = (struct imm){t->mem, atomic_load(&t->mem_first_pos),
                                     commitlog_head(s->log)};
    t->mem = fresh;
    atomic_store(&t->mem_first_pos, UINT64_MAX);
    pthread_rwlock_unlock(&s->lock);
    return 0;
}

/* flush_one -- flush imm[0] of `t`. */
static int flush_one(struct storage *s, struct table *t)
{
    struct memtable *m;
    struct sstable *st;
    struct sst *x;
    uint64_t file_id;
    char path[4096];
    int rc;

    pthread_rwlock_rdlock(&s->lock);
    m = t->imm[0].m;
    memtable_ref(m);
    pthread_rwlock_unlock(&s->lock);
    rc = write_memtable(s, t, m, &file_id);
    memtable_unref(m);
    engine_sst_path(s, t->id, file_id, path, sizeof(path));
    if (rc == 0)
        rc = sstable_open(s->fs, path, s->cache, &st);
    if (rc == 0)
        rc = sst_wrap(s, file_id, st, &x);
    if (rc == 0 && (rc = install(s, t, x)) != 0)
        engine_sst_unref(x);
    if (rc != 0 && fs_exists(s->fs, path) == 1)
        fs_unlink(s->fs, path);
    return rc;
}

/* do_flush -- everything the table holds in memory now, to sstables. */
static int do_flush(struct storage *s, struct table *t)
{
    int rc = switch_memtable(s, t);

    while (rc == 0 && !t->dropped) {
        size_t n;
        pthread_rwlock_rdlock(&s->lock);
        n = t->nimm;
        pthread_rwlock_unlock(&s->lock);
        if (n == 0)
            break;
        rc = flush_one(s, t);
    }
    pthread_mutex_lock(&s->mu);
    if (rc != 0 && s->flush_error == 0)
        log_error("storage",
                  "flush failed table=%" PRIu64 " err=\"%s\"; the data stays "
                  "in memory and the commit log, and the flush is retried; "
                  "free disk space if the disk is full",
                  t->id, err_msg());
    s->flush_error = rc;
    pthread_mutex_unlock(&s->mu);
    if (rc == 0) {
        engine_release_log(s);
        compaction_maybe(s, t);
    }
    return rc;
}

/* flush_exclusive -- run do_flush with the table's flushing flag held. */
static int flush_exclusive(struct storage *s, struct table *t)
{
    int rc;

    pthread_mutex_lock(&s->mu);
    while (t->flushing)
        pthread_cond_wait(&s->cv_done, &s->mu);
    t->flushing = 1;
    t->flush_wanted = 0;
    pthread_mutex_unlock(&s->mu);
    rc = do_flush(s, t);
    pthread_mutex_lock(&s->mu);
    t->flushing = 0;
    pthread_cond_broadcast(&s->cv_done);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int flush_table_wait(struct storage *s, struct table *t)
{
    return flush_exclusive(s, t);
}

/* oldest_table_locked -- the table whose memtables hold the oldest log
 * record (shared lock held), referenced. */
static struct table *oldest_table_locked(struct storage *s)
{
    struct table *best = NULL;
    uint64_t min = UINT64_MAX;

    for (size_t i = 0; i < s->ntables; i++) {
        struct table *t = s->tables[i];
        uint64_t p = atomic_load(&t->mem_first_pos);
        if (t->nimm > 0 && t->imm[0].first_pos < p)
            p = t->imm[0].first_pos;
        if (p < min) {
            min = p;
            best = t;
        }
    }
    if (best != NULL)
        atomic_fetch_add(&best->refs, 1);
    return best;
}

void flush_request(struct storage *s, struct table *t)
{
    /* Callers hold s->lock shared, so the map is stable here. */
    if (t == NULL)
        t = oldest_table_locked(s);
    else
        atomic_fetch_add(&t->refs, 1);
    if (t == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    if (!t->flush_wanted && s->nfq < FLUSH_QUEUE && !s->closing) {
        t->flush_wanted = 1;
        s->fq[s->nfq++] = t;
        t = NULL;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    engine_table_put(t);
}

/* flush_main -- the background flusher: takes tables off the queue; a
 * failed flush (a full disk) is queued again after a pause. */
static void *flush_main(void *arg)
{
    struct storage *s = arg;
    struct timespec ts;

    pthread_mutex_lock(&s->mu);
    while (!s->closing) {
        struct table *t;
        int rc;
        if (s->nfq == 0) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        t = s->fq[0];
        memmove(&s->fq[0], &s->fq[1], (s->nfq - 1) * sizeof(*s->fq));
        s->nfq--;
        pthread_mutex_unlock(&s->mu);
        rc = t->dropped ? 0 : flush_exclusive(s, t);
        pthread_mutex_lock(&s->mu);
        if (rc != 0 && !s->closing && !t->flush_wanted &&
            s->nfq < FLUSH_QUEUE) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            t->flush_wanted = 1;
            s->fq[s->nfq++] = t;
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        engine_table_put(t);
        pthread_mutex_lock(&s->mu);
    }
    while (s->nfq > 0) {
        struct table *t = s->fq[--s->nfq];
        t->flush_wanted = 0;
        pthread_mutex_unlock(&s->mu);
        engine_table_put(t);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int flush_start(struct storage *s)
{
    size_t n = 1 + (size_t)s->o.compaction_threads;

    s->threads = mem_calloc(MEM_STORAGE, n, sizeof(*s->threads));
    if (s->threads == NULL)
        return err_set(-ENOMEM, "storage: out of memory");
    if (pthread_create(&s->threads[0], NULL, flush_main, s) != 0)
        return err_set(-EAGAIN, "storage: cannot start the flush thread");
    s->nthreads = 1;
    for (size_t i = 1; i < n; i++) {
        if (pthread_create(&s->threads[i], NULL, compaction_main, s) != 0)
            return err_set(-EAGAIN, "storage: cannot start compaction");
        s->nthreads++;
    }
    return 0;
}

int engine_sst_open(struct storage *s, struct table *t, uint64_t file_id,
                    struct sst **out)
{
    struct sstable *st;
    char path[4096];
    int rc;

    *out = NULL;
    engine_sst_path(s, t->id, file_id, path, sizeof(path));
    rc = sstable_open(s->fs, path, s->cache, &st);
    if (rc == 0)
        rc = sst_wrap(s, file_id, st, out);
    return rc;
}
