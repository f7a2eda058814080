/*
 * commitlog.c -- segments of checksummed records, group commit, replay
 * (see commitlog.h and docs/commitlog-format.md).
 *
 * One mutex guards the current segment, the waiter queue and the segment
 * list. Writers append under it (one write each). The sync thread takes
 * the waiters queued so far, fsyncs outside the mutex, and completes
 * them: every waiter queued before it captured the segment's length is
 * covered by that fsync. Segments left behind by a roll (full, or broken
 * by a failed write) are "retired": the sync thread fsyncs and closes
 * them, and a segment whose fsync failed fails every waiter inside it.
 */
#include "storage/commitlog.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "common/buf.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "storage/fs.h"

struct clog_seg {
    uint64_t id;
    uint64_t bytes;
};

struct clog_waiter {
    uint64_t end;
    storage_done_fn done;
    void *arg;
};

struct clog_retired {
    struct fs_file *f;
    uint64_t id;
};

struct commitlog {
    struct fs *fs;
    char *dir;
    enum storage_sync sync;
    uint32_t period_ms;
    size_t segment_bytes;

    pthread_mutex_t mu;
    pthread_cond_t cv;   /* wakes the sync thread */
    struct fs_file *cur; /* NULL while no segment could be opened */
    uint64_t cur_id;
    uint64_t cur_off;
    uint64_t next_id;
    uint64_t synced_upto; /* every record ending at or before is durable */

    struct clog_seg *segs; /* on disk, by id; the last may be current */
    size_t nsegs, capsegs;
    struct clog_waiter *waiters;
    size_t nwaiters, capwaiters;
    struct clog_retired *retired;
    size_t nretired, capretired;
    uint64_t *failed; /* ids of segments whose sync failed */
    size_t nfailed, capfailed;

    int stop;
    int has_thread;
    /*
     * Group mode with the sync thread running: appends only queue their
     * bytes in `pend` (one memcpy under the mutex) and the sync thread
     * writes each queued group with one write(2) right before its fsync,
     * so no append races an fsync of the same file (which on Linux makes
     * writers wait for the disk) and a group costs one write, not one per
     * batch. `writing` is set while the thread writes a group out.
     */
    int buffered;
    struct buf pend;
    int writing;
    int round_active;        /* a round runs (sync thread or a caller) */
    pthread_cond_t cv_round; /* a round ended */
    uint64_t file_end;      /* bytes in the current file (zeros past cur_off) */
    pthread_cond_t cv_idle; /* pend drained and nothing being written */
    int fail_rc;            /* what waiters of failed segments get */
    pthread_t thread;
    uint64_t unreplayed;
    uint64_t syncs;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap : 16;
    void *np;

    if (need <= *cap)
        return 0;
    while (ncap < need)
        ncap *= 2;
    np = mem_realloc(MEM_STORAGE, *p, ncap * elem);
    if (np == NULL)
        return err_set(-ENOMEM, "commit log: out of memory");
    *p = np;
    *cap = ncap;
    return 0;
}

static void seg_path(const struct commitlog *l, uint64_t id, char *out,
                     size_t n)
{
    snprintf(out, n, "%s/seg-%016" PRIx64 ".log", l->dir, id);
}

static int is_failed(const struct commitlog *l, uint64_t id)
{
    for (size_t i = 0; i < l->nfailed; i++)
        if (l->failed[i] == id)
            return 1;
    return 0;
}

static void mark_failed(struct commitlog *l, uint64_t id)
{
    if (is_failed(l, id))
        return;
    if (grow((void **)&l->failed, &l->capfailed, l->nfailed + 1,
             sizeof(*l->failed)) == 0)
        l->failed[l->nfailed++] = id;
}

static void rec_header(uint8_t *h, const uint8_t *payload, uint32_t n)
{
    enc_u32be(h, n);
    enc_u64be(h + 4, XXH64(payload, n, n));
}

/* ---- segments ---- */

/* retire_locked -- hand the current segment to the sync thread (or close
 * it at once when nobody syncs). `clean` writes the end marker first (in
 * place when the sync thread has zero-filled ahead). */
static void retire_locked(struct commitlog *l, int clean)
{
    uint8_t marker[CLOG_REC_HEADER];

    if (l->cur == NULL)
        return;
    if (clean) {
        int rc;
        rec_header(marker, NULL, 0);
        if (l->buffered)
            rc = fs_pwrite(l->cur, marker, sizeof(marker), l->cur_off);
        else
            rc = fs_append(l->cur, marker, sizeof(marker));
        if (rc == 0) {
            l->cur_off += sizeof(marker);
            l->segs[l->nsegs - 1].bytes = l->cur_off;
        }
    }
    if (l->has_thread && grow((void **)&l->retired, &l->capretired,
                              l->nretired + 1, sizeof(*l->retired)) == 0) {
        l->retired[l->nretired++] = (struct clog_retired){l->cur, l->cur_id};
        pthread_cond_signal(&l->cv);
    } else {
        if (l->sync != STORAGE_SYNC_NONE && fs_fsync(l->cur) != 0)
            mark_failed(l, l->cur_id);
        fs_close(l->cur);
    }
    l->cur = NULL;
}

static int open_segment_locked(struct commitlog *l)
{
    char path[4096];
    uint8_t h[CLOG_HEADER];
    struct fs_file *f;
    uint64_t id = l->next_id;
    int rc;

    rc = grow((void **)&l->segs, &l->capsegs, l->nsegs + 1, sizeof(*l->segs));
    if (rc != 0)
        return rc;
    seg_path(l, id, path, sizeof(path));
    rc = fs_open(l->fs, path, FS_WRITE | FS_CREATE | FS_EXCL, &f);
    if (rc != 0)
        return rc;
    enc_u32be(h, CLOG_MAGIC);
    enc_u32be(h + 4, CLOG_VERSION);
    enc_u64be(h + 8, id);
    enc_u64be(h + 16, XXH64(h, 16, 0));
    /* Blocks reserved now spare every later fsync an allocation. */
    fs_preallocate(f, 0, l->segment_bytes);
    rc = fs_append(f, h, sizeof(h));
    if (rc == 0)
        rc = fs_fsync_dir(l->fs, l->dir);
    if (rc != 0) {
        fs_close(f);
        fs_unlink(l->fs, path);
        return rc;
    }
    l->next_id = id + 1;
    l->cur = f;
    l->cur_id = id;
    l->cur_off = CLOG_HEADER;
    l->file_end = CLOG_HEADER;
    l->segs[l->nsegs++] = (struct clog_seg){id, CLOG_HEADER};
    return 0;
}

/* roll_locked -- close the current segment (if any) and open the next. */
static int roll_locked(struct commitlog *l)
{
    retire_locked(l, 1);
    return open_segment_locked(l);
}

/* ---- appending ---- */

/* quiesce_locked -- wait until the sync thread wrote every queued byte,
 * so the current segment can be closed or replaced. */
static void quiesce_locked(struct commitlog *l)
{
    while (l->buffered && (l->writing || l->pend.len > 0)) {
        pthread_cond_signal(&l->cv);
        pthread_cond_wait(&l->cv_idle, &l->mu);
    }
}

/* append_direct_locked -- write the record now (periodic and none modes,
 * and group mode before the sync thread runs). */
static int append_direct_locked(struct commitlog *l, const uint8_t *rec,
                                size_t total)
{
    int rc = 0;

    if (l->cur == NULL)
        rc = open_segment_locked(l);
    else if (l->cur_off + total > l->segment_bytes)
        rc = roll_locked(l);
    if (rc == 0)
        rc = fs_append(l->cur, rec, total);
    if (rc != 0 && l->cur != NULL) {
        /* The tail may hold part of this record: never write behind it. */
        fs_truncate(l->cur, l->cur_off);
        retire_locked(l, 0);
    }
    return rc;
}

/* append_queued_locked -- queue the record for the sync thread. */
static int append_queued_locked(struct commitlog *l, const uint8_t *rec,
                                size_t total)
{
    int rc = 0;

    if (l->cur == NULL || l->cur_off + total > l->segment_bytes) {
        quiesce_locked(l);
        if (l->cur == NULL)
            rc = open_segment_locked(l);
        else
            rc = roll_locked(l);
    }
    if (rc == 0)
        rc = buf_append(&l->pend, rec, total);
    return rc;
}

int commitlog_append(struct commitlog *l, const void *p, size_t n,
                     uint64_t *pos, uint64_t *end)
{
    uint8_t *rec = (uint8_t *)p;
    size_t total = CLOG_REC_HEADER + n;
    int rc;

    *pos = *end = 0;
    if (n == 0 || n > l->segment_bytes / 2)
        return err_set(CAIRN_ETOOBIG,
                       "commit log record of %zu bytes is over half a "
                       "segment (%zu bytes)",
                       n, l->segment_bytes);
    rec_header(rec, rec + CLOG_REC_HEADER, (uint32_t)n);

    pthread_mutex_lock(&l->mu);
    if (l->buffered)
        rc = append_queued_locked(l, rec, total);
    else
        rc = append_direct_locked(l, rec, total);
    if (rc == 0) {
        *pos = CLOG_POS(l->cur_id, l->cur_off);
        l->cur_off += total;
        l->segs[l->nsegs - 1].bytes = l->cur_off;
        *end = CLOG_POS(l->cur_id, l->cur_off);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void commitlog_wait(struct commitlog *l, uint64_t end, storage_done_fn done,
                    void *arg)
{
    int rc = 1;

    if (l->sync != STORAGE_SYNC_GROUP) {
        done(arg, 0);
        return;
    }
    pthread_mutex_lock(&l->mu);
    if (is_failed(l, CLOG_SEG(end)))
        rc = err_set(l->fail_rc,
                     "commit log segment %" PRIu64
                     " failed to be written or synced",
                     CLOG_SEG(end));
    else if (end <= l->synced_upto)
        rc = 0;
    else if (grow((void **)&l->waiters, &l->capwaiters, l->nwaiters + 1,
                  sizeof(*l->waiters)) != 0)
        rc = -ENOMEM;
    else {
        l->waiters[l->nwaiters++] = (struct clog_waiter){end, done, arg};
        pthread_cond_signal(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    if (rc != 1)
        done(arg, rc);
}

/* ---- the sync thread ---- */

/* What one round of the sync thread works on, taken under the mutex. */
struct sync_round {
    struct clog_waiter *w;
    size_t nw, capw;
    struct clog_retired *r;
    size_t nr, capr;
    struct fs_file *f; /* the current segment, or NULL */
    uint64_t id, off;  /* its id and length when taken */
    struct buf out;    /* queued bytes to write first (buffered mode) */
    uint64_t file_end; /* bytes in the file, zeros included */
    int cur_ok, rc;
    size_t segment_bytes;
};

/* round_take_locked -- swap the queues out so writers keep queueing. */
static void round_take_locked(struct commitlog *l, struct sync_round *sr)
{
    struct clog_waiter *tw = sr->w;
    struct clog_retired *tr = sr->r;
    size_t tcw = sr->capw, tcr = sr->capr;

    sr->w = l->waiters;
    sr->nw = l->nwaiters;
    sr->capw = l->capwaiters;
    l->waiters = tw;
    l->capwaiters = tcw;
    l->nwaiters = 0;
    sr->r = l->retired;
    sr->nr = l->nretired;
    sr->capr = l->capretired;
    l->retired = tr;
    l->capretired = tcr;
    l->nretired = 0;
    sr->f = l->cur;
    sr->id = l->cur_id;
    sr->off = l->cur_off;
    if (l->buffered) {
        struct buf t = sr->out;
        sr->out = l->pend;
        l->pend = t;
        l->pend.len = 0;
        l->writing = 1;
        sr->file_end = l->file_end;
    }
    sr->segment_bytes = l->segment_bytes;
}

#define CLOG_ZERO_AHEAD (1u << 20)

/*
 * write_group -- write the queued bytes at their place. Past the file's
 * end the group goes out with up to a MiB of zeros behind it, so the
 * following groups overwrite zeros in place: their fsyncs then change no
 * file size and cost a data flush alone (a third of an fsync that also
 * has to commit a new size, measured on ext4).
 */
static int write_group(struct sync_round *sr, size_t segment_bytes)
{
    static const uint8_t zeros[64 << 10];
    uint64_t start = sr->off - sr->out.len, end = sr->off, ahead;
    int rc = fs_pwrite(sr->f, sr->out.data, sr->out.len, start);

    if (rc != 0 || end <= sr->file_end)
        return rc;
    ahead = end + CLOG_ZERO_AHEAD <= segment_bytes ? CLOG_ZERO_AHEAD
            : segment_bytes > end                  ? segment_bytes - end
                                                   : 0;
    for (uint64_t done = 0; rc == 0 && done < ahead;) {
        size_t n = ahead - done < sizeof(zeros) ? (size_t)(ahead - done)
                                                : sizeof(zeros);
        rc = fs_append(sr->f, zeros, n);
        done += n;
    }
    /* A failed zero-fill costs nothing but speed: the group is written. */
    sr->file_end = rc == 0 ? end + ahead : end;
    return 0;
}

/* round_sync -- fsync outside the mutex; a failed retired segment is
 * flagged by clearing its file pointer. */
static void round_sync(struct sync_round *sr)
{
    for (size_t i = 0; i < sr->nr; i++) {
        struct fs_file *f = sr->r[i].f;
        if (fs_fsync(f) != 0) {
            log_error("storage",
                      "commit log fsync failed segment=%" PRIu64
                      " err=\"%s\"; its unsynced writes are failed",
                      sr->r[i].id, err_msg());
            sr->r[i].f = NULL;
        }
        fs_close(f);
    }
    sr->cur_ok = 1;
    sr->rc = 0;
    if (sr->f != NULL && sr->out.len > 0)
        sr->rc = write_group(sr, sr->segment_bytes);
    if (sr->f != NULL && sr->rc == 0)
        sr->rc = fs_fsync(sr->f);
    if (sr->rc != 0) {
        log_error("storage",
                  "commit log write or fsync failed segment=%" PRIu64
                  " err=\"%s\"; its unsynced writes fail, the log goes on "
                  "in a new segment",
                  sr->id, err_msg());
        sr->cur_ok = 0;
    }
}

/* round_finish_locked -- record what the round made durable (or lost)
 * and put each waiter's outcome into its `end` field: 0, -EIO, or 1 for
 * "not yet" (queued again). */
static void round_finish_locked(struct commitlog *l, struct sync_round *sr)
{
    for (size_t i = 0; i < sr->nr; i++) {
        uint64_t last = CLOG_POS(sr->r[i].id, UINT32_MAX);
        if (sr->r[i].f == NULL)
            mark_failed(l, sr->r[i].id);
        else if (last > l->synced_upto && !is_failed(l, sr->r[i].id))
            l->synced_upto = last;
    }
    if (sr->f != NULL && sr->cur_ok &&
        CLOG_POS(sr->id, sr->off) > l->synced_upto)
        l->synced_upto = CLOG_POS(sr->id, sr->off);
    if (sr->f != NULL && !sr->cur_ok) {
        mark_failed(l, sr->id);
        l->fail_rc = sr->rc == -ENOSPC ? -ENOSPC : -EIO;
        if (l->cur == sr->f) {
            l->pend.len = 0; /* queued behind the failure: failed too */
            retire_locked(l, 0);
        }
    }
    if (l->cur == sr->f && sr->f != NULL && l->buffered)
        l->file_end = sr->file_end;
    l->writing = 0;
    sr->out.len = 0;
    pthread_cond_broadcast(&l->cv_idle);
    l->syncs++;
    for (size_t i = 0; i < sr->nw; i++) {
        struct clog_waiter *w = &sr->w[i];
        uint64_t seg = CLOG_SEG(w->end);
        if (is_failed(l, seg))
            w->end = (uint64_t)(int64_t)l->fail_rc;
        else if (w->end <= l->synced_upto || (seg < sr->id || sr->f == NULL))
            w->end = 0; /* its segment was retired and synced by now */
        else if (grow((void **)&l->waiters, &l->capwaiters, l->nwaiters + 1,
                      sizeof(*l->waiters)) == 0) {
            l->waiters[l->nwaiters++] = *w;
            w->done = NULL;
        } else
            w->end = (uint64_t)(int64_t)-ENOMEM;
    }
}

/* sync_wait_locked -- sleep until there is work; 0 when told to stop. */
static int sync_wait_locked(struct commitlog *l)
{
    struct timespec ts;

    while (l->round_active ||
           (l->nwaiters == 0 && l->nretired == 0 && l->pend.len == 0)) {
        if (l->round_active) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        if (l->stop)
            return 0;
        if (l->sync != STORAGE_SYNC_PERIODIC) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->period_ms / 1000;
        ts.tv_nsec += (long)(l->period_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) != 0)
            return 1; /* the period passed: sync the current segment */
    }
    return 1;
}

/*
 * run_round_locked -- one round: take what is queued, write and fsync it,
 * settle the waiters and call back the asynchronous ones. Called and
 * returns with the mutex held; one round at a time.
 */
static void run_round_locked(struct commitlog *l, struct sync_round *sr)
{
    l->round_active = 1;
    round_take_locked(l, sr);
    pthread_mutex_unlock(&l->mu);
    round_sync(sr);
    pthread_mutex_lock(&l->mu);
    round_finish_locked(l, sr);
    l->round_active = 0;
    pthread_cond_broadcast(&l->cv_round);
    pthread_cond_signal(&l->cv); /* work queued meanwhile */
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < sr->nw; i++)
        if (sr->w[i].done != NULL)
            sr->w[i].done(sr->w[i].arg, (int)(int64_t)sr->w[i].end);
    sr->nw = 0;
    pthread_mutex_lock(&l->mu);
}

static void round_free(struct sync_round *sr)
{
    mem_free(sr->w);
    mem_free(sr->r);
    buf_free(&sr->out);
}

static void *sync_main(void *arg)
{
    struct commitlog *l = arg;
    struct sync_round sr = {0};

    pthread_mutex_lock(&l->mu);
    while (sync_wait_locked(l))
        run_round_locked(l, &sr);
    pthread_mutex_unlock(&l->mu);
    round_free(&sr);
    return NULL;
}

static void wait_done(void *arg, int rc)
{
    struct {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int done, rc;
    } *w = arg;

    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* wait_by_callback -- commitlog_wait and block until it calls back. */
static int wait_by_callback(struct commitlog *l, uint64_t end)
{
    struct {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int done, rc;
    } w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

    commitlog_wait(l, end, wait_done, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return w.rc;
}

int commitlog_wait_sync(struct commitlog *l, uint64_t end)
{
    struct sync_round sr = {0};
    int rc = 1;

    if (l->sync != STORAGE_SYNC_GROUP)
        return 0;
    pthread_mutex_lock(&l->mu);
    if (!l->buffered) {
        pthread_mutex_unlock(&l->mu);
        return wait_by_callback(l, end);
    }
    while (rc == 1) {
        if (is_failed(l, CLOG_SEG(end)))
            rc = err_set(l->fail_rc,
                         "commit log segment %" PRIu64
                         " failed to be written or synced",
                         CLOG_SEG(end));
        else if (end <= l->synced_upto)
            rc = 0;
        else if (!l->round_active)
            run_round_locked(l, &sr); /* lead the next group ourselves */
        else
            pthread_cond_wait(&l->cv_round, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    round_free(&sr);
    return rc;
}

/* ---- replay ---- */

struct replay {
    struct commitlog *l;
    int quarantine;
    commitlog_replay_fn fn;
    void *arg;
    struct buf *relog; /* intact records of quarantined segments */
};

static int list_seg(void *arg, const char *name)
{
    struct commitlog *l = arg;
    unsigned long long id;
    char tail[8];

    if (sscanf(name, "seg-%16llx.%4s", &id, tail) != 2 ||
        strcmp(tail, "log") != 0)
        return 0;
    if (grow((void **)&l->segs, &l->capsegs, l->nsegs + 1, sizeof(*l->segs)))
        return -ENOMEM;
    l->segs[l->nsegs++] = (struct clog_seg){id, 0};
    return 0;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct clog_seg *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* rec_at -- length of a valid record at `off` (0 for the end marker), or
 * -1 when the bytes there are not one. */
static int64_t rec_at(const uint8_t *d, uint64_t size, uint64_t off)
{
    uint32_t n;

    if (size - off < CLOG_REC_HEADER)
        return -1;
    n = dec_u32be(d + off);
    if (n > size - off - CLOG_REC_HEADER)
        return -1;
    if (dec_u64be(d + off + 4) != XXH64(d + off + CLOG_REC_HEADER, n, n))
        return -1;
    return n;
}

static int all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* next_valid -- the first offset after `off` holding a valid record, or 0.
 * No record starts inside the zeros at the end, so the search stops where
 * they begin. */
static uint64_t next_valid(const uint8_t *d, uint64_t size, uint64_t off)
{
    uint64_t lim = size;

    while (lim > off && d[lim - 1] == 0)
        lim--;
    for (uint64_t o = off + 1; o < lim && o + CLOG_REC_HEADER <= size; o++)
        if (rec_at(d, size, o) >= 0)
            return o;
    return 0;
}

static int cut_tail(struct replay *rp, const char *path, uint64_t off)
{
    struct fs_file *f;
    int rc;

    log_warn("storage", "commit log torn tail cut segment=%s offset=%" PRIu64,
             path, off);
    rc = fs_open(rp->l->fs, path, FS_WRITE, &f);
    if (rc != 0)
        return rc;
    rc = fs_truncate(f, off);
    if (rc == 0)
        rc = fs_fsync(f);
    fs_close(f);
    return rc;
}

/* replay_records -- feed the records of one segment image to the engine;
 * *damaged counts skipped damage (quarantine) and *cut the torn tail. */
static int replay_records(struct replay *rp, const char *path, uint64_t id,
                          const uint8_t *d, uint64_t size, uint64_t *damaged,
                          uint64_t *cut)
{
    uint64_t off = CLOG_HEADER, nxt;
    int64_t n;
    int rc;

    *damaged = 0;
    *cut = UINT64_MAX;
    while (off < size) {
        n = rec_at(d, size, off);
        if (n == 0)
            return 0; /* end marker */
        if (n > 0) {
            rc = rp->fn(rp->arg, CLOG_POS(id, off), d + off + CLOG_REC_HEADER,
                        (size_t)n);
            if (rc == 0 && rp->relog != NULL)
                rc = buf_put_u32be(rp->relog, (uint32_t)n);
            if (rc == 0 && rp->relog != NULL)
                rc =
                    buf_append(rp->relog, d + off + CLOG_REC_HEADER, (size_t)n);
            if (rc != 0)
                return rc;
            off += CLOG_REC_HEADER + (uint64_t)n;
            continue;
        }
        if (all_zero(d + off, size - off))
            return 0; /* the zero-filled room of a group-mode segment */
        nxt = next_valid(d, size, off);
        if (nxt == 0) {
            *cut = off;
            return 0;
        }
        if (!rp->quarantine)
            return err_set(CAIRN_ECORRUPT,
                           "commit log %s is damaged at offset %" PRIu64
                           " and valid records follow; restore it, or "
                           "start with --quarantine-corrupt-log (YAML "
                           "commitlog_quarantine_corrupt: true) to replay "
                           "the rest and quarantine it",
                           path, off);
        (*damaged)++;
        off = nxt;
    }
    return 0;
}

static int read_segment(struct commitlog *l, const char *path, uint8_t **d,
                        uint64_t *size)
{
    struct fs_file *f;
    int rc;

    *d = NULL;
    rc = fs_open(l->fs, path, FS_READ, &f);
    if (rc != 0)
        return rc;
    rc = fs_size(f, size);
    if (rc == 0 && (*d = mem_alloc(MEM_STORAGE, *size + 1)) == NULL)
        rc = err_set(-ENOMEM, "commit log: no memory to replay %s", path);
    if (rc == 0)
        rc = fs_read_full(f, *d, *size, 0);
    fs_close(f);
    if (rc != 0) {
        mem_free(*d);
        *d = NULL;
    }
    return rc;
}

static int header_ok(const uint8_t *d, uint64_t size, uint64_t id)
{
    return size >= CLOG_HEADER && dec_u32be(d) == CLOG_MAGIC &&
           dec_u32be(d + 4) == CLOG_VERSION && dec_u64be(d + 8) == id &&
           dec_u64be(d + 16) == XXH64(d, 16, 0);
}

static int quarantine_seg(struct commitlog *l, const char *path, uint64_t id,
                          uint64_t damaged)
{
    char qdir[4096], to[4200];
    int rc;

    snprintf(qdir, sizeof(qdir), "%s/quarantine", l->dir);
    snprintf(to, sizeof(to), "%s/seg-%016" PRIx64 ".log", qdir, id);
    rc = fs_mkdir(l->fs, qdir);
    if (rc == 0)
        rc = fs_rename(l->fs, path, to);
    if (rc == 0)
        rc = fs_fsync_dir(l->fs, qdir);
    if (rc == 0)
        rc = fs_fsync_dir(l->fs, l->dir);
    if (rc == 0)
        log_error("storage",
                  "commit log segment damaged; intact records replayed, "
                  "segment moved to %s damaged_records=%" PRIu64
                  "; repair the node's data from its replicas",
                  to, damaged);
    return rc;
}

/* relog -- copy the intact records of quarantined segments into the new
 * segment and make them durable before the damaged one is moved away. */
static int relog(struct commitlog *l, struct buf *b)
{
    struct rd r;
    uint8_t *rec = NULL;
    int rc = 0;

    rd_init(&r, b->data, b->len);
    while (rc == 0 && rd_left(&r) > 0) {
        uint32_t n;
        const uint8_t *p;
        uint64_t pos, end;
        rd_u32be(&r, &n);
        rd_bytes(&r, n, &p);
        mem_free(rec);
        rec = mem_alloc(MEM_STORAGE, CLOG_REC_HEADER + n);
        if (rec == NULL)
            return err_set(-ENOMEM, "commit log: out of memory");
        memcpy(rec + CLOG_REC_HEADER, p, n);
        rc = commitlog_append(l, rec, n, &pos, &end);
    }
    mem_free(rec);
    if (rc == 0)
        rc = commitlog_sync(l);
    return rc;
}

static int replay_one(struct replay *rp, size_t i, struct buf *relog,
                      uint64_t *quarantined)
{
    struct commitlog *l = rp->l;
    char path[4096];
    uint8_t *d;
    uint64_t size, damaged, cut;
    int rc;

    seg_path(l, l->segs[i].id, path, sizeof(path));
    rc = read_segment(l, path, &d, &size);
    if (rc != 0)
        return rc;
    l->segs[i].bytes = size;
    if (!header_ok(d, size, l->segs[i].id)) {
        mem_free(d);
        if (size > CLOG_HEADER)
            return err_set(CAIRN_ECORRUPT,
                           "commit log %s has a damaged header at offset 0",
                           path);
        /* Created but never written: a crash right after the create. */
        log_warn("storage", "commit log torn tail cut segment=%s offset=0",
                 path);
        l->segs[i].bytes = 0;
        return fs_unlink(l->fs, path);
    }
    rp->relog = rp->quarantine ? relog : NULL;
    rc = replay_records(rp, path, l->segs[i].id, d, size, &damaged, &cut);
    mem_free(d);
    if (rc == 0 && cut != UINT64_MAX) {
        rc = cut_tail(rp, path, cut);
        l->segs[i].bytes = cut;
    }
    if (rc == 0 && damaged > 0) {
        l->unreplayed += damaged;
        *quarantined = 1;
        l->segs[i].bytes = UINT64_MAX; /* to be moved away */
    }
    return rc;
}

static int replay_all(struct commitlog *l, const struct commitlog_options *o,
                      commitlog_replay_fn fn, void *arg)
{
    struct replay rp = {l, o->quarantine, fn, arg, NULL};
    struct buf relog_buf;
    uint64_t quarantined = 0;
    size_t keep = 0;
    int rc = 0;

    buf_init(&relog_buf, MEM_STORAGE);
    for (size_t i = 0; rc == 0 && i < l->nsegs; i++) {
        size_t before = relog_buf.len;
        rc = replay_one(&rp, i, &relog_buf, &quarantined);
        if (rc == 0 && l->segs[i].bytes != UINT64_MAX)
            relog_buf.len = before; /* only damaged segments are copied */
    }
    if (rc == 0)
        rc = open_segment_locked(l);
    if (rc == 0 && quarantined)
        rc = relog(l, &relog_buf);
    for (size_t i = 0; rc == 0 && i < l->nsegs; i++) {
        char path[4096];
        seg_path(l, l->segs[i].id, path, sizeof(path));
        if (l->segs[i].bytes == UINT64_MAX)
            rc = quarantine_seg(l, path, l->segs[i].id, l->unreplayed);
        else if (l->segs[i].bytes > 0)
            l->segs[keep++] = l->segs[i];
    }
    if (rc == 0)
        l->nsegs = keep;
    buf_free(&relog_buf);
    return rc;
}

/* ---- open, close and the rest ---- */

static void clog_free(struct commitlog *l)
{
    mem_free(l->dir);
    mem_free(l->segs);
    mem_free(l->waiters);
    mem_free(l->retired);
    mem_free(l->failed);
    buf_free(&l->pend);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    pthread_cond_destroy(&l->cv_idle);
    pthread_cond_destroy(&l->cv_round);
    mem_free(l);
}

int commitlog_open(const struct commitlog_options *o, commitlog_replay_fn fn,
                   void *arg, struct commitlog **out)
{
    struct commitlog *l;
    int rc;

    *out = NULL;
    l = mem_calloc(MEM_STORAGE, 1, sizeof(*l));
    if (l == NULL || (l->dir = mem_strdup(MEM_STORAGE, o->dir)) == NULL) {
        mem_free(l);
        return err_set(-ENOMEM, "commit log: out of memory");
    }
    l->fs = o->fs;
    l->sync = o->sync;
    l->period_ms = o->sync_period_ms ? o->sync_period_ms : 1000;
    l->segment_bytes = o->segment_bytes;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    pthread_cond_init(&l->cv_idle, NULL);
    pthread_cond_init(&l->cv_round, NULL);
    buf_init(&l->pend, MEM_STORAGE);
    l->fail_rc = -EIO;

    rc = fs_mkdir(l->fs, l->dir);
    if (rc == 0)
        rc = fs_list(l->fs, l->dir, list_seg, l);
    if (rc == 0) {
        if (l->nsegs > 1)
            qsort(l->segs, l->nsegs, sizeof(*l->segs), seg_cmp);
        l->next_id = o->min_segment + 1;
        if (l->nsegs > 0 && l->segs[l->nsegs - 1].id >= l->next_id)
            l->next_id = l->segs[l->nsegs - 1].id + 1;
        rc = replay_all(l, o, fn, arg);
    }
    if (rc == 0 && l->sync != STORAGE_SYNC_NONE) {
        if (pthread_create(&l->thread, NULL, sync_main, l) != 0)
            rc = err_set(-EAGAIN, "commit log: cannot start sync thread");
        else
            l->has_thread = 1;
        pthread_mutex_lock(&l->mu);
        l->buffered = l->sync == STORAGE_SYNC_GROUP && l->has_thread;
        pthread_mutex_unlock(&l->mu);
    }
    if (rc != 0) {
        if (l->cur != NULL)
            fs_close(l->cur);
        clog_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void commitlog_close(struct commitlog *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    quiesce_locked(l);
    retire_locked(l, 1);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->has_thread)
        pthread_join(l->thread, NULL);
    /* Waiters still queued can only be in failed segments by now. */
    for (size_t i = 0; i < l->nwaiters; i++)
        l->waiters[i].done(l->waiters[i].arg, -EIO);
    for (size_t i = 0; i < l->nretired; i++)
        fs_close(l->retired[i].f);
    clog_free(l);
}

uint64_t commitlog_head(struct commitlog *l)
{
    uint64_t pos;

    pthread_mutex_lock(&l->mu);
    pos = l->cur != NULL ? CLOG_POS(l->cur_id, l->cur_off)
                         : CLOG_POS(l->next_id, 0);
    pthread_mutex_unlock(&l->mu);
    return pos;
}

uint64_t commitlog_oldest(struct commitlog *l)
{
    uint64_t id;

    pthread_mutex_lock(&l->mu);
    id = l->nsegs > 0 ? l->segs[0].id : l->next_id;
    pthread_mutex_unlock(&l->mu);
    return id;
}

int commitlog_release(struct commitlog *l, uint64_t pos)
{
    char path[4096];
    size_t keep = 0, removed = 0;
    int rc = 0;

    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->nsegs; i++) {
        struct clog_seg s = l->segs[i];
        int current = l->cur != NULL && s.id == l->cur_id;
        if (rc == 0 && !current && s.id < CLOG_SEG(pos)) {
            seg_path(l, s.id, path, sizeof(path));
            rc = fs_unlink(l->fs, path);
            if (rc == 0) {
                removed++;
                continue;
            }
        }
        l->segs[keep++] = s;
    }
    l->nsegs = keep;
    pthread_mutex_unlock(&l->mu);
    if (removed > 0 && rc == 0)
        rc = fs_fsync_dir(l->fs, l->dir);
    return rc;
}

static void sync_done(void *arg, int rc)
{
    struct {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int done, rc;
    } *w = arg;

    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int commitlog_sync(struct commitlog *l)
{
    struct {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int done, rc;
    } w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    uint64_t pos;
    int rc = 0;

    if (l->sync != STORAGE_SYNC_GROUP || !l->has_thread) {
        pthread_mutex_lock(&l->mu);
        if (l->cur != NULL)
            rc = fs_fsync(l->cur);
        pthread_mutex_unlock(&l->mu);
        return rc;
    }
    pthread_mutex_lock(&l->mu);
    pos = l->cur != NULL ? CLOG_POS(l->cur_id, l->cur_off)
                         : CLOG_POS(l->next_id - 1, UINT32_MAX);
    pthread_mutex_unlock(&l->mu);
    commitlog_wait(l, pos, sync_done, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return w.rc;
}

void commitlog_get_stats(struct commitlog *l, struct commitlog_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->nsegs; i++)
        out->bytes += l->segs[i].bytes;
    out->segments = l->nsegs;
    out->unreplayed = l->unreplayed;
    out->read_only = l->cur == NULL;
    out->syncs = l->syncs;
    pthread_mutex_unlock(&l->mu);
}
