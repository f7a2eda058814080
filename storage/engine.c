/*
 * engine.c -- storage.h's front door: open and close, tables, writes,
 * statistics. Reads are in engine_read.c, flushes in flush.c, compaction
 * in compaction.c; the shared state and its locking in engine_int.h.
 *
 * A write: validate, resolve its times (TTL to absolute expiry, deletion
 * time), encode it as one commit log record, then under the shared lock
 * append the record and insert into the table's memtable; durability is
 * reported through the log's waiter queue. The record format is in
 * docs/commitlog-format.md (payload section).
 */
#include "storage/storage.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/token.h"
#include "storage/commitlog.h"
#include "storage/engine_int.h"
#include "storage/fs.h"
#include "storage/manifest.h"
#include "storage/memtable.h"
#include "storage/sstable.h"

#define REC_BATCH 1 /* payload kind */

void storage_options_default(struct storage_options *o)
{
    memset(o, 0, sizeof(*o));
    o->sync = STORAGE_SYNC_GROUP;
    o->sync_period_ms = 1000;
    o->memtable_bytes = 64u << 20;
    o->memtable_total_bytes = 0; /* 4 x memtable_bytes */
    o->cache_bytes = 256u << 20;
    o->segment_bytes = 32u << 20;
    o->commitlog_total_bytes = 1u << 30;
    o->block_bytes = 16u << 10;
    o->bloom_bits_per_key = 10;
    o->compaction_threads = 1;
}

int64_t engine_now_s(struct storage *s)
{
    return clk_wall_us(s->clk) / 1000000;
}

void engine_sst_path(struct storage *s, uint64_t table, uint64_t file,
                     char *out, size_t n)
{
    snprintf(out, n, "%s/sst-%016" PRIx64 "-%016" PRIx64 ".db", s->dir, table,
             file);
}

/* ---- tables ---- */

static struct table *find_locked(struct storage *s, uint64_t id)
{
    for (size_t i = 0; i < s->ntables; i++)
        if (s->tables[i]->id == id)
            return s->tables[i];
    return NULL;
}

struct table *engine_table_get(struct storage *s, uint64_t id)
{
    struct table *t;

    pthread_rwlock_rdlock(&s->lock);
    t = find_locked(s, id);
    if (t != NULL)
        atomic_fetch_add(&t->refs, 1);
    pthread_rwlock_unlock(&s->lock);
    return t;
}

void engine_sst_unref(struct sst *x)
{
    if (x == NULL || atomic_fetch_sub(&x->refs, 1) != 1)
        return;
    sstable_unref(x->t);
    mem_free(x);
}

static void table_free(struct table *t)
{
    memtable_unref(t->mem);
    for (size_t i = 0; i < t->nimm; i++)
        memtable_unref(t->imm[i].m);
    for (size_t i = 0; i < t->nssts; i++)
        engine_sst_unref(t->ssts[i]);
    mem_free(t->imm);
    mem_free(t->ssts);
    mem_free(t);
}

void engine_table_put(struct table *t)
{
    if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1)
        table_free(t);
}

static int table_new(struct storage *s, uint64_t id,
                     const struct storage_table_options *o, struct table **out)
{
    struct table *t = mem_calloc(MEM_STORAGE, 1, sizeof(*t));

    *out = NULL;
    if (t == NULL ||
        memtable_new(&s->mem_bytes, s->o.memtable_bytes, &t->mem) != 0) {
        mem_free(t);
        return err_set(-ENOMEM, "storage: out of memory for table %" PRIu64,
                       id);
    }
    t->id = id;
    t->o = *o;
    atomic_init(&t->refs, 1);
    atomic_init(&t->mem_first_pos, UINT64_MAX);
    *out = t;
    return 0;
}

/* ---- the manifest ---- */

/* engine_save_manifest_locked -- write the tables and sstables as they
 * are now; `extra` (may be NULL) is a table not yet in the map. */
static int save_manifest(struct storage *s, const struct table *extra,
                         uint64_t skip_id)
{
    struct manifest m = {0};
    int rc = 0;

    pthread_rwlock_rdlock(&s->lock);
    m.t = mem_calloc(MEM_STORAGE, s->ntables + 1, sizeof(*m.t));
    if (m.t == NULL)
        rc = err_set(-ENOMEM, "storage: out of memory for the manifest");
    for (size_t i = 0; rc == 0 && i <= s->ntables; i++) {
        const struct table *t = i < s->ntables ? s->tables[i] : extra;
        struct manifest_table *mt = &m.t[m.n];
        if (t == NULL || t->id == skip_id)
            continue;
        mt->id = t->id;
        mt->o = t->o;
        mt->replay_from = t->replay_from;
        mt->ssts = mem_calloc(MEM_STORAGE, t->nssts + 1, sizeof(uint64_t));
        if (mt->ssts == NULL) {
            rc = -ENOMEM;
            break;
        }
        for (size_t j = 0; j < t->nssts; j++)
            mt->ssts[mt->nssts++] = t->ssts[j]->file_id;
        m.n++;
    }
    pthread_rwlock_unlock(&s->lock);
    m.next_file = s->next_file;
    m.log_segment = CLOG_SEG(commitlog_head(s->log));
    if (rc == 0)
        rc = manifest_save(s->fs, s->dir, &m);
    manifest_free(&m);
    return rc;
}

int engine_save_manifest_locked(struct storage *s)
{
    return save_manifest(s, NULL, UINT64_MAX);
}

int storage_create_table(struct storage *s, uint64_t id,
                         const struct storage_table_options *o)
{
    struct table *t;
    int rc;

    pthread_mutex_lock(&s->manifest_mu);
    pthread_rwlock_rdlock(&s->lock);
    t = find_locked(s, id);
    pthread_rwlock_unlock(&s->lock);
    if (t != NULL) {
        struct storage_table_options old = t->o;
        t->o = *o; /* plain fields read racily by writers: any is valid */
        rc = engine_save_manifest_locked(s);
        if (rc != 0)
            t->o = old;
        pthread_mutex_unlock(&s->manifest_mu);
        return rc;
    }
    rc = table_new(s, id, o, &t);
    if (rc == 0) {
        /* Records of an earlier table with this id are all before this. */
        t->replay_from = commitlog_head(s->log);
        rc = save_manifest(s, t, UINT64_MAX);
    }
    if (rc == 0) {
        pthread_rwlock_wrlock(&s->lock);
        if (s->ntables == s->captables) {
            size_t cap = s->captables ? s->captables * 2 : 8;
            struct table **nt =
                mem_realloc(MEM_STORAGE, s->tables, cap * sizeof(*nt));
            if (nt == NULL)
                rc = err_set(-ENOMEM, "storage: out of memory");
            else {
                s->tables = nt;
                s->captables = cap;
            }
        }
        if (rc == 0)
            s->tables[s->ntables++] = t;
        pthread_rwlock_unlock(&s->lock);
    }
    if (rc != 0 && t != NULL)
        engine_table_put(t);
    pthread_mutex_unlock(&s->manifest_mu);
    return rc;
}

static void delete_table_files(struct storage *s, struct table *t)
{
    char path[4096];

    for (size_t i = 0; i < t->nssts; i++) {
        engine_sst_path(s, t->id, t->ssts[i]->file_id, path, sizeof(path));
        fs_unlink(s->fs, path);
    }
    fs_fsync_dir(s->fs, s->dir);
}

int storage_drop_table(struct storage *s, uint64_t id)
{
    struct table *t;
    int rc;

    pthread_mutex_lock(&s->manifest_mu);
    pthread_rwlock_rdlock(&s->lock);
    t = find_locked(s, id);
    pthread_rwlock_unlock(&s->lock);
    if (t == NULL) {
        pthread_mutex_unlock(&s->manifest_mu);
        return err_set(CAIRN_ENOTABLE, "table %" PRIu64 " does not exist", id);
    }
    /* Durably forgotten first: replay skips tables the manifest lacks. */
    rc = save_manifest(s, NULL, id);
    if (rc == 0) {
        pthread_rwlock_wrlock(&s->lock);
        for (size_t i = 0; i < s->ntables; i++)
            if (s->tables[i] == t)
                s->tables[i] = s->tables[--s->ntables];
        t->dropped = 1;
        pthread_rwlock_unlock(&s->lock);
        /* Wait out a flush or compaction of it before removing files. */
        pthread_mutex_lock(&s->mu);
        while (t->flushing || t->busy)
            pthread_cond_wait(&s->cv_done, &s->mu);
        pthread_mutex_unlock(&s->mu);
        delete_table_files(s, t);
        engine_table_put(t);
    }
    pthread_mutex_unlock(&s->manifest_mu);
    engine_release_log(s);
    return rc;
}

/* ---- batch records ---- */

static int valid_batch(const struct storage_batch *b)
{
    if (b->nmuts == 0 || b->muts == NULL)
        return err_set(-EINVAL, "batch for table %" PRIu64 " has no mutations",
                       b->table_id);
    if (b->pkey.n > STORAGE_MAX_KEY)
        return err_set(CAIRN_ETOOBIG, "partition key of %zu bytes is over %d",
                       b->pkey.n, STORAGE_MAX_KEY);
    for (size_t i = 0; i < b->nmuts; i++) {
        const struct storage_mut *m = &b->muts[i];
        if ((unsigned)m->kind > STORAGE_MUT_PARTITION_DELETE)
            return err_set(-EINVAL, "mutation %zu has unknown kind %d", i,
                           (int)m->kind);
        if (m->ck.n > STORAGE_MAX_KEY || m->ck_end.n > STORAGE_MAX_KEY)
            return err_set(CAIRN_ETOOBIG,
                           "clustering key of mutation %zu is over %d bytes", i,
                           STORAGE_MAX_KEY);
        if (m->ts == STORAGE_TS_NONE)
            return err_set(-EINVAL, "mutation %zu has no timestamp", i);
    }
    return 0;
}

/* resolve -- absolute expiry and deletion times, as logged and applied. */
static void resolve(struct storage_mut *m, int64_t now_s, uint32_t def_ttl)
{
    if (m->kind == STORAGE_MUT_CELL) {
        uint32_t ttl = m->ttl_s ? m->ttl_s : def_ttl;
        if (m->expires_s == 0 && ttl != 0)
            m->expires_s = now_s + ttl;
        m->deleted_s = 0;
    } else {
        m->expires_s = 0;
        if (m->deleted_s == 0)
            m->deleted_s = now_s;
    }
    m->ttl_s = 0;
}

static int put_bytes(struct buf *b, struct storage_bytes x)
{
    return buf_put_lenbytes(b, x.p, x.n);
}

/* encode_batch -- the log record (CLOG_REC_HEADER bytes of room first). */
static int encode_batch(struct buf *out, uint64_t table_id,
                        struct storage_bytes pk, const struct storage_mut *m,
                        size_t n)
{
    int rc;

    buf_reset(out);
    rc = buf_reserve(out, CLOG_REC_HEADER);
    if (rc != 0)
        return rc;
    out->len = CLOG_REC_HEADER;
    rc = buf_put_u8(out, REC_BATCH);
    if (rc == 0)
        rc = buf_put_varint(out, table_id);
    if (rc == 0)
        rc = put_bytes(out, pk);
    if (rc == 0)
        rc = buf_put_varint(out, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = buf_put_u8(out, (uint8_t)m[i].kind);
        if (rc == 0)
            rc = put_bytes(out, m[i].ck);
        if (rc == 0)
            rc = put_bytes(out, m[i].ck_end);
        if (rc == 0)
            rc = put_bytes(out, m[i].column);
        if (rc == 0)
            rc = put_bytes(out, m[i].value);
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(m[i].ts));
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(m[i].expires_s));
        if (rc == 0)
            rc = buf_put_varint(out, zigzag_enc(m[i].deleted_s));
    }
    return rc;
}

static int rd_sbytes(struct rd *r, struct storage_bytes *x)
{
    uint64_t n;
    int rc = rd_varint(r, &n);

    x->n = 0;
    x->p = NULL;
    if (rc == 0)
        rc = rd_bytes(r, (size_t)n, &x->p);
    if (rc == 0)
        x->n = (size_t)n;
    return rc;
}

static int rd_zz(struct rd *r, int64_t *v)
{
    uint64_t u = 0;
    int rc = rd_varint(r, &u);

    *v = zigzag_dec(u);
    return rc;
}

/* decode_batch -- the inverse of encode_batch over a replayed payload;
 * mutations go to *muts (grown as needed, owned by the caller). */
static int decode_batch(const uint8_t *p, size_t n, uint64_t *table_id,
                        struct storage_bytes *pk, struct storage_mut **muts,
                        size_t *cap, size_t *nmuts)
{
    struct rd r;
    uint8_t kind;
    uint64_t cnt;
    int rc;

    rd_init(&r, p, n);
    rc = rd_u8(&r, &kind);
    if (rc == 0 && kind != REC_BATCH)
        rc = CAIRN_ECORRUPT;
    if (rc == 0)
        rc = rd_varint(&r, table_id);
    if (rc == 0)
        rc = rd_sbytes(&r, pk);
    if (rc == 0)
        rc = rd_varint(&r, &cnt);
    if (rc == 0 && cnt > rd_left(&r))
        rc = CAIRN_ECORRUPT;
    if (rc == 0 && cnt > *cap) {
        struct storage_mut *nm =
            mem_realloc(MEM_STORAGE, *muts, cnt * sizeof(*nm));
        if (nm == NULL)
            return err_set(-ENOMEM, "replay: out of memory");
        *muts = nm;
        *cap = cnt;
    }
    for (uint64_t i = 0; rc == 0 && i < cnt; i++) {
        struct storage_mut *m = &(*muts)[i];
        memset(m, 0, sizeof(*m));
        rc = rd_u8(&r, &kind);
        m->kind = (enum storage_mut_kind)kind;
        if (rc == 0 && kind > STORAGE_MUT_PARTITION_DELETE)
            rc = CAIRN_ECORRUPT;
        if (rc == 0)
            rc = rd_sbytes(&r, &m->ck);
        if (rc == 0)
            rc = rd_sbytes(&r, &m->ck_end);
        if (rc == 0)
            rc = rd_sbytes(&r, &m->column);
        if (rc == 0)
            rc = rd_sbytes(&r, &m->value);
        if (rc == 0)
            rc = rd_zz(&r, &m->ts);
        if (rc == 0)
            rc = rd_zz(&r, &m->expires_s);
        if (rc == 0)
            rc = rd_zz(&r, &m->deleted_s);
    }
    *nmuts = rc == 0 ? cnt : 0;
    return rc;
}

/* note_first_pos -- remember the oldest log record a memtable holds. */
static void note_first_pos(struct table *t, uint64_t pos)
{
    uint64_t cur = atomic_load(&t->mem_first_pos);

    while (pos < cur &&
           !atomic_compare_exchange_weak(&t->mem_first_pos, &cur, pos))
        ;
}

/* ---- writing ---- */

/*
 * Per-thread scratch of storage_apply(): the encoded record and the
 * resolved mutations, reused by every write of the thread and freed by a
 * key destructor when the thread exits.
 */
struct apply_tls {
    struct buf rec;
    struct storage_mut *muts;
    size_t cap;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static _Thread_local struct apply_tls *tls;

static void tls_free(void *p)
{
    struct apply_tls *t = p;

    buf_free(&t->rec);
    mem_free(t->muts);
    mem_free(t);
    tls = NULL;
}

static void tls_init_key(void)
{
    pthread_key_create(&tls_key, tls_free);
}

static struct apply_tls *tls_get(void)
{
    if (tls != NULL)
        return tls;
    pthread_once(&tls_once, tls_init_key);
    tls = mem_calloc(MEM_STORAGE, 1, sizeof(*tls));
    if (tls == NULL)
        return NULL;
    buf_init(&tls->rec, MEM_STORAGE);
    pthread_setspecific(tls_key, tls);
    return tls;
}

static int copy_resolved(struct apply_tls *t, const struct storage_batch *b,
                         int64_t now_s, uint32_t def_ttl)
{
    if (b->nmuts > t->cap) {
        size_t cap = b->nmuts < 16 ? 16 : b->nmuts;
        struct storage_mut *m =
            mem_realloc(MEM_STORAGE, t->muts, cap * sizeof(*m));
        if (m == NULL)
            return err_set(-ENOMEM, "storage: out of memory");
        t->muts = m;
        t->cap = cap;
    }
    memcpy(t->muts, b->muts, b->nmuts * sizeof(*t->muts));
    for (size_t i = 0; i < b->nmuts; i++)
        resolve(&t->muts[i], now_s, def_ttl);
    return 0;
}

/* request_largest -- ask for a flush of the table holding the most
 * memtable bytes, so waiting writers always have a flush to wait for. */
static void request_largest(struct storage *s)
{
    struct table *best = NULL;
    size_t most = 0;

    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++) {
        size_t n = memtable_bytes(s->tables[i]->mem);
        if (n > most) {
            most = n;
            best = s->tables[i];
        }
    }
    if (best != NULL)
        flush_request(s, best);
    pthread_rwlock_unlock(&s->lock);
}

/* backpressure -- wait while memtables hold too much; fail when they
 * cannot be flushed (a full disk), so the caller gets an error. */
static int backpressure(struct storage *s)
{
    struct timespec ts;
    int rc = 0;

    while (atomic_load(&s->mem_bytes) > s->o.memtable_total_bytes) {
        request_largest(s);
        pthread_mutex_lock(&s->mu);
        if (s->closing)
            rc = err_set(CAIRN_ECLOSED, "storage is closing");
        else if (s->flush_error != 0)
            rc = err_set(s->flush_error,
                         "memtables are full and cannot be flushed (%s)",
                         err_name(s->flush_error));
        if (rc != 0) {
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (atomic_load(&s->mem_bytes) > s->o.memtable_total_bytes)
            pthread_cond_timedwait(&s->cv_done, &s->mu, &ts);
        pthread_mutex_unlock(&s->mu);
    }
    return 0;
}

static void after_apply(struct storage *s, struct table *t)
{
    uint64_t n = atomic_fetch_add(&s->applies, 1);

    if (memtable_bytes(t->mem) >= s->o.memtable_bytes ||
        atomic_load(&s->mem_bytes) > s->o.memtable_total_bytes)
        flush_request(s, t);
    if ((n & 255) == 0) {
        struct commitlog_stats st;
        commitlog_get_stats(s->log, &st);
        if (st.bytes > s->o.commitlog_total_bytes)
            flush_request(s, NULL); /* the table holding the oldest data */
    }
}

/*
 * apply_batch -- validate, log and insert `b`; *end is the end of its log
 * record. *logged says the record was written even if the insert then
 * failed (the caller must then report the failure through done).
 */
static int apply_batch(struct storage *s, const struct storage_batch *b,
                       uint64_t *end, int *logged)
{
    struct apply_tls *x = tls_get();
    struct table *t;
    uint64_t pos = 0;
    int64_t token = token_of(b->pkey.p, b->pkey.n);
    int rc = valid_batch(b);

    *logged = 0;
    if (rc == 0 && x == NULL)
        rc = err_set(-ENOMEM, "storage: out of memory");
    if (rc == 0)
        rc = backpressure(s);
    if (rc != 0)
        return rc;
    pthread_rwlock_rdlock(&s->lock);
    t = find_locked(s, b->table_id);
    if (t == NULL)
        rc = err_set(CAIRN_ENOTABLE, "table %" PRIu64 " does not exist",
                     b->table_id);
    if (rc == 0)
        rc = copy_resolved(x, b, engine_now_s(s), t->o.default_ttl_s);
    if (rc == 0)
        rc = encode_batch(&x->rec, b->table_id, b->pkey, x->muts, b->nmuts);
    if (rc == 0 && x->rec.len - CLOG_REC_HEADER > s->o.segment_bytes / 2)
        rc = err_set(CAIRN_ETOOBIG,
                     "batch of %zu bytes is over half a commit log segment "
                     "(%zu bytes); nothing was written",
                     x->rec.len - CLOG_REC_HEADER, s->o.segment_bytes);
    if (rc == 0)
        rc = commitlog_append(s->log, x->rec.data, x->rec.len - CLOG_REC_HEADER,
                              &pos, end);
    if (rc == 0) {
        *logged = 1;
        note_first_pos(t, pos);
        rc = memtable_apply(t->mem, token, b->pkey.p, b->pkey.n, x->muts,
                            b->nmuts);
        atomic_fetch_add(&t->writes, 1);
    }
    if (rc == 0)
        after_apply(s, t);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int storage_apply(struct storage *s, const struct storage_batch *b,
                  storage_done_fn done, void *arg)
{
    uint64_t end = 0;
    int logged, rc = apply_batch(s, b, &end, &logged);

    if (rc != 0 && logged) {
        done(arg, rc); /* logged but not applied: never acknowledge */
        return 0;
    }
    if (rc != 0)
        return rc;
    commitlog_wait(s->log, end, done, arg);
    return 0;
}

int storage_apply_sync(struct storage *s, const struct storage_batch *b)
{
    uint64_t end = 0;
    int logged, rc = apply_batch(s, b, &end, &logged);

    if (rc != 0)
        return rc;
    return commitlog_wait_sync(s->log, end);
}

/* ---- the commit log's other side ---- */

void engine_release_log(struct storage *s)
{
    uint64_t min = commitlog_head(s->log);

    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++) {
        struct table *t = s->tables[i];
        uint64_t p = atomic_load(&t->mem_first_pos);
        if (p < min)
            min = p;
        for (size_t j = 0; j < t->nimm; j++)
            if (t->imm[j].first_pos < min)
                min = t->imm[j].first_pos;
    }
    pthread_rwlock_unlock(&s->lock);
    commitlog_release(s->log, min);
}

struct replay_ctx {
    struct storage *s;
    struct storage_mut *muts;
    size_t cap;
    uint64_t applied, skipped;
};

static int replay_record(void *arg, uint64_t pos, const uint8_t *p, size_t n)
{
    struct replay_ctx *c = arg;
    struct storage_bytes pk;
    struct table *t;
    uint64_t id = 0;
    size_t nm = 0;
    int rc = decode_batch(p, n, &id, &pk, &c->muts, &c->cap, &nm);

    if (rc == CAIRN_ECORRUPT)
        return err_set(rc,
                       "commit log record at position %" PRIu64
                       " passes its checksum but does not decode",
                       pos);
    if (rc != 0)
        return rc;
    t = find_locked(c->s, id);
    if (t == NULL || pos < t->replay_from) {
        c->skipped++; /* dropped table, or already in its sstables */
        return 0;
    }
    note_first_pos(t, pos);
    c->applied++;
    return memtable_apply(t->mem, token_of(pk.p, pk.n), pk.p, pk.n, c->muts,
                          nm);
}

/* ---- open and close ---- */

static void fill_defaults(struct storage_options *o)
{
    struct storage_options d;

    storage_options_default(&d);
    if (o->sync_period_ms == 0)
        o->sync_period_ms = d.sync_period_ms;
    if (o->memtable_bytes == 0)
        o->memtable_bytes = d.memtable_bytes;
    if (o->memtable_total_bytes == 0)
        o->memtable_total_bytes = 4 * o->memtable_bytes;
    if (o->cache_bytes == 0)
        o->cache_bytes = d.cache_bytes;
    if (o->segment_bytes == 0)
        o->segment_bytes = d.segment_bytes;
    if (o->commitlog_total_bytes == 0)
        o->commitlog_total_bytes = d.commitlog_total_bytes;
    if (o->block_bytes == 0)
        o->block_bytes = d.block_bytes;
    if (o->bloom_bits_per_key <= 0)
        o->bloom_bits_per_key = d.bloom_bits_per_key;
    if (o->compaction_threads <= 0)
        o->compaction_threads = d.compaction_threads;
    if (o->fs == NULL)
        o->fs = fs_posix();
    if (o->clock == NULL)
        o->clock = clk_system();
}

static struct storage *engine_alloc(const struct storage_options *o)
{
    struct storage *s = mem_calloc(MEM_STORAGE, 1, sizeof(*s));
    pthread_rwlockattr_t ra;
    char logdir[4096];

    if (s == NULL)
        return NULL;
    s->o = *o;
    fill_defaults(&s->o);
    s->fs = s->o.fs;
    s->clk = s->o.clock;
    snprintf(logdir, sizeof(logdir), "%s/commitlog", o->dir);
    s->dir = mem_strdup(MEM_STORAGE, o->dir);
    s->logdir =
        mem_strdup(MEM_STORAGE, o->commitlog_dir ? o->commitlog_dir : logdir);
    s->o.dir = s->dir;
    s->o.commitlog_dir = s->logdir;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->manifest_mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->cv_done, NULL);
    atomic_init(&s->mem_bytes, 0);
    if (s->dir == NULL || s->logdir == NULL) {
        mem_free(s->dir);
        mem_free(s->logdir);
        mem_free(s);
        return NULL;
    }
    return s;
}

static void engine_free(struct storage *s)
{
    for (size_t i = 0; i < s->ntables; i++)
        engine_table_put(s->tables[i]);
    mem_free(s->tables);
    if (s->cache != NULL)
        block_cache_free(s->cache);
    if (s->lockf != NULL)
        fs_close(s->lockf);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->manifest_mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->cv_done);
    mem_free(s->threads);
    mem_free(s->dir);
    mem_free(s->logdir);
    mem_free(s);
}

/* load_tables -- the manifest's tables and their sstables. */
static int load_tables(struct storage *s, const struct manifest *m)
{
    int rc = 0;

    s->next_file = m->next_file;
    s->tables = mem_calloc(MEM_STORAGE, m->n + 8, sizeof(*s->tables));
    if (s->tables == NULL)
        return err_set(-ENOMEM, "storage: out of memory");
    s->captables = m->n + 8;
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        struct table *t;
        rc = table_new(s, m->t[i].id, &m->t[i].o, &t);
        if (rc != 0)
            break;
        t->replay_from = m->t[i].replay_from;
        s->tables[s->ntables++] = t;
        rc = flush_open_ssts(s, t, m->t[i].ssts, m->t[i].nssts);
    }
    return rc;
}

struct orphan_ctx {
    struct storage *s;
    int rc;
};

/* is_live -- whether a file name is an sstable the manifest names. */
static int is_live(struct storage *s, const char *name)
{
    unsigned long long tid, fid;
    char tail[8];
    struct table *t;

    if (sscanf(name, "sst-%16llx-%16llx.%3s", &tid, &fid, tail) != 3 ||
        strcmp(tail, "db") != 0 || strlen(name) != 40)
        return 0;
    t = find_locked(s, tid);
    for (size_t i = 0; t != NULL && i < t->nssts; i++)
        if (t->ssts[i]->file_id == fid)
            return 1;
    return 0;
}

static int remove_orphan(void *arg, const char *name)
{
    struct orphan_ctx *c = arg;
    char path[4096];

    if (strncmp(name, "sst-", 4) != 0 || is_live(c->s, name))
        return 0;
    snprintf(path, sizeof(path), "%s/%s", c->s->dir, name);
    log_info("storage", "removing file no manifest names path=%s", path);
    c->rc = fs_unlink(c->s->fs, path);
    return c->rc;
}

static int open_log(struct storage *s, const struct manifest *m)
{
    struct commitlog_options lo = {
        .fs = s->fs,
        .dir = s->logdir,
        .sync = s->o.sync,
        .sync_period_ms = s->o.sync_period_ms,
        .segment_bytes = s->o.segment_bytes,
        .quarantine = s->o.quarantine_corrupt_log,
        .min_segment = m->log_segment,
    };
    struct replay_ctx c = {s, NULL, 0, 0, 0};
    int rc = commitlog_open(&lo, replay_record, &c, &s->log);

    mem_free(c.muts);
    if (rc == 0 && c.applied > 0)
        log_info("storage",
                 "replayed commit log records=%" PRIu64 " skipped=%" PRIu64,
                 c.applied, c.skipped);
    return rc;
}

/* flush_replayed -- replay fills memtables past their limit when the log
 * was long; queue their flushes at once rather than at the next write. */
static void flush_replayed(struct storage *s)
{
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++)
        if (memtable_bytes(s->tables[i]->mem) >= s->o.memtable_bytes)
            flush_request(s, s->tables[i]);
    pthread_rwlock_unlock(&s->lock);
}

int storage_open(const struct storage_options *o, struct storage **out)
{
    struct storage *s;
    struct manifest m = {0};
    struct orphan_ctx oc;
    char path[4096];
    int rc;

    *out = NULL;
    if (o == NULL || o->dir == NULL)
        return err_set(-EINVAL, "storage_open: no data directory given");
    s = engine_alloc(o);
    if (s == NULL)
        return err_set(-ENOMEM, "storage: out of memory");
    rc = fs_mkdir(s->fs, s->dir);
    snprintf(path, sizeof(path), "%s/LOCK", s->dir);
    if (rc == 0)
        rc = fs_lock(s->fs, path, &s->lockf);
    if (rc == 0 && (s->cache = block_cache_new(s->o.cache_bytes)) == NULL)
        rc = err_set(-ENOMEM, "storage: out of memory for the block cache");
    if (rc == 0)
        rc = manifest_load(s->fs, s->dir, &m);
    if (rc == 0)
        rc = load_tables(s, &m);
    oc = (struct orphan_ctx){s, 0};
    if (rc == 0)
        rc = fs_list(s->fs, s->dir, remove_orphan, &oc);
    if (rc == 0)
        rc = open_log(s, &m);
    manifest_free(&m);
    if (rc == 0)
        rc = flush_start(s);
    if (rc == 0)
        flush_replayed(s);
    if (rc != 0) {
        int keep = rc;
        if (s->log != NULL) {
            storage_close(s);
            return keep;
        }
        engine_free(s);
        return keep;
    }
    *out = s;
    return 0;
}

void storage_close(struct storage *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&s->cv_done);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    commitlog_close(s->log);
    engine_free(s);
}

/* ---- maintenance and statistics ---- */

/*
 * for_tables -- run `fn` on table `id`, or on every table when `id` is 0,
 * holding a reference to each while it runs; stops at the first error.
 */
static int for_tables(struct storage *s, uint64_t id,
                      int (*fn)(struct storage *s, struct table *t))
{
    int rc = 0;

    for (size_t i = 0; rc == 0; i++) {
        struct table *t = NULL;
        pthread_rwlock_rdlock(&s->lock);
        if (id != 0 && i == 0)
            t = find_locked(s, id);
        else if (id == 0 && i < s->ntables)
            t = s->tables[i];
        if (t != NULL)
            atomic_fetch_add(&t->refs, 1);
        pthread_rwlock_unlock(&s->lock);
        if (t == NULL) {
            if (id != 0 && i == 0)
                rc = err_set(CAIRN_ENOTABLE, "table %" PRIu64 " does not exist",
                             id);
            break;
        }
        rc = fn(s, t);
        engine_table_put(t);
    }
    return rc;
}

int storage_flush(struct storage *s, uint64_t id)
{
    return for_tables(s, id, flush_table_wait);
}

int storage_compact(struct storage *s, uint64_t id)
{
    return for_tables(s, id, compaction_run_all);
}

static void table_stats(struct storage *s, struct table *t,
                        struct storage_stats *out)
{
    out->memtable_bytes += memtable_bytes(t->mem);
    for (size_t i = 0; i < t->nimm; i++)
        out->memtable_bytes += memtable_bytes(t->imm[i].m);
    out->sstable_count += t->nssts;
    for (size_t i = 0; i < t->nssts; i++)
        out->sstable_bytes += t->ssts[i]->bytes;
    out->writes += atomic_load(&t->writes);
    out->reads += atomic_load(&t->reads);
    out->pending_compactions += compaction_pending(s, t);
}

int storage_get_stats(struct storage *s, uint64_t id, struct storage_stats *out)
{
    struct commitlog_stats ls;
    struct block_cache_stats cs;
    int found = id == 0;

    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->ntables; i++) {
        if (id != 0 && s->tables[i]->id != id)
            continue;
        found = 1;
        table_stats(s, s->tables[i], out);
    }
    pthread_rwlock_unlock(&s->lock);
    if (!found)
        return err_set(CAIRN_ENOTABLE, "table %" PRIu64 " does not exist", id);
    commitlog_get_stats(s->log, &ls);
    block_cache_get_stats(s->cache, &cs);
    out->commitlog_bytes = ls.bytes;
    out->unreplayed_mutations = ls.unreplayed;
    out->read_only = ls.read_only;
    out->cache_bytes = cs.bytes;
    out->cache_hits = cs.hits;
    out->cache_misses = cs.misses;
    out->corrupt_blocks = atomic_load(&s->corrupt_blocks);
    return 0;
}
