/*
 * hints.c -- durable per-target hint segments (format in
 * docs/hints-format.md), their background fsync, repair of torn tails on
 * open, and throttled replay.
 */
#include "server/hints.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "storage/fs.h"

#define HINT_MAGIC     "CAIRNHT1"
#define HINT_MAGIC_LEN 8
#define HINT_HDR       12 /* u32 payload length, u64 XXH64 of the payload */
#define HINT_META      17 /* u8 version, u64 created µs, u64 expires µs */
#define HINT_VERSION   1
#define HINT_PATH      512

struct hint_target {
    uint8_t id[HINTS_HOST_ID_LEN];
    struct fs_file *cur; /* segment taking appends, or NULL */
    uint64_t next_seq;   /* sequence number of the next segment */
    uint64_t pending;    /* records on disk, not yet delivered */
    int dirty;           /* appended since the last fsync */
};

struct hint_waiter {
    hints_done_fn done;
    void *arg;
};

struct hints {
    struct hints_options o;
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    int dir_dirty; /* a segment was created since the last dir fsync */
    struct hint_target *t;
    size_t nt, capt;
    struct hint_waiter *w;
    size_t nw, capw;
    uint64_t stored, delivered, dropped;
};

void hints_options_default(struct hints_options *o)
{
    memset(o, 0, sizeof(*o));
    o->window_s = 3 * 3600;
    o->sync_ms = 50;
    o->replay_per_s = 2000;
}

/* ---- names ---- */

static void hex_id(const uint8_t id[HINTS_HOST_ID_LEN], char out[33])
{
    for (int i = 0; i < HINTS_HOST_ID_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static void seg_path(const struct hints *h, const uint8_t *id, uint64_t seq,
                     char out[HINT_PATH])
{
    char hex[33];

    hex_id(id, hex);
    snprintf(out, HINT_PATH, "%s/%s-%016" PRIx64 ".hint", h->dir, hex, seq);
}

/* parse_name -- "<32 hex>-<16 hex>.hint" into id and seq; 0 or -1. */
static int parse_name(const char *name, uint8_t id[HINTS_HOST_ID_LEN],
                      uint64_t *seq)
{
    char tail[8];
    unsigned long long s;

    if (strlen(name) != 32 + 1 + 16 + 5 || name[32] != '-' ||
        strcmp(name + 49, ".hint") != 0)
        return -1;
    for (int i = 0; i < HINTS_HOST_ID_LEN; i++) {
        unsigned v;
        if (sscanf(name + 2 * i, "%2x", &v) != 1)
            return -1;
        id[i] = (uint8_t)v;
    }
    if (sscanf(name + 33, "%16llx%7s", &s, tail) != 2)
        return -1;
    *seq = s;
    return 0;
}

static struct hint_target *find_target(struct hints *h, const uint8_t *id,
                                       int create)
{
    for (size_t i = 0; i < h->nt; i++)
        if (memcmp(h->t[i].id, id, HINTS_HOST_ID_LEN) == 0)
            return &h->t[i];
    if (!create)
        return NULL;
    if (h->nt == h->capt) {
        size_t cap = h->capt ? 2 * h->capt : 8;
        void *p = mem_realloc(MEM_SERVER, h->t, cap * sizeof(*h->t));
        if (!p)
            return NULL;
        h->t = p;
        h->capt = cap;
    }
    memset(&h->t[h->nt], 0, sizeof(h->t[0]));
    memcpy(h->t[h->nt].id, id, HINTS_HOST_ID_LEN);
    return &h->t[h->nt++];
}

/* ---- reading records ---- */

/* A record as read back; `payload` is owned by the caller's buffer. */
struct hint_rec {
    int64_t created_us, expires_us;
    const uint8_t *msg;
    size_t n;
};

enum { REC_OK = 0, REC_END, REC_TORN, REC_BAD, REC_LOST };

/*
 * read_rec -- the record at *off of a file of `size` bytes: REC_OK (and
 * *off past it), REC_END, REC_TORN (runs past the end), REC_BAD (checksum
 * fails, length sane: skippable) or REC_LOST (length unusable).
 */
static int read_rec(struct fs_file *f, uint64_t size, uint64_t *off,
                    struct buf *b, struct hint_rec *rec)
{
    uint8_t hdr[HINT_HDR];
    uint32_t len;

    if (*off == size)
        return REC_END;
    if (size - *off < HINT_HDR || fs_read_full(f, hdr, HINT_HDR, *off))
        return REC_TORN;
    len = dec_u32be(hdr);
    if (len < HINT_META || len > HINTS_MAX_RECORD)
        return REC_LOST;
    if (size - *off - HINT_HDR < len)
        return REC_TORN;
    buf_reset(b);
    if (buf_reserve(b, len) || fs_read_full(f, b->data, len, *off + HINT_HDR))
        return REC_LOST;
    *off += HINT_HDR + len;
    if (XXH64(b->data, len, len) != dec_u64be(hdr + 4) ||
        b->data[0] != HINT_VERSION)
        return REC_BAD;
    rec->created_us = (int64_t)dec_u64be(b->data + 1);
    rec->expires_us = (int64_t)dec_u64be(b->data + 9);
    rec->msg = b->data + HINT_META;
    rec->n = len - HINT_META;
    return REC_OK;
}

/* check_magic -- 0 when `f` opens with the segment magic. */
static int check_magic(struct fs_file *f, uint64_t size)
{
    char m[HINT_MAGIC_LEN];

    if (size < HINT_MAGIC_LEN || fs_read_full(f, m, HINT_MAGIC_LEN, 0))
        return -1;
    return memcmp(m, HINT_MAGIC, HINT_MAGIC_LEN) == 0 ? 0 : -1;
}

/*
 * scan_seg -- count the good records of a segment found at open; cut a
 * torn tail off (fsynced), skip damaged records. 0 or an I/O code.
 */
static int scan_seg(struct hints *h, const char *path, uint64_t *nrec)
{
    struct fs_file *f;
    uint64_t size, off = HINT_MAGIC_LEN, at;
    struct hint_rec rec;
    struct buf b;
    int rc = fs_open(h->o.fs, path, FS_READ | FS_WRITE, &f), st;

    *nrec = 0;
    if (rc)
        return rc;
    rc = fs_size(f, &size);
    if (!rc && check_magic(f, size)) {
        log_warn("hints", "segment without header, removed path=%s", path);
        fs_close(f);
        return fs_unlink(h->o.fs, path);
    }
    buf_init(&b, MEM_SERVER);
    for (at = off; !rc; at = off) {
        st = read_rec(f, size, &off, &b, &rec);
        if (st == REC_END)
            break;
        if (st == REC_OK) {
            (*nrec)++;
            continue;
        }
        h->dropped++;
        if (st == REC_BAD && off < size) {
            log_error("hints", "damaged hint skipped path=%s off=%" PRIu64,
                      path, at);
            continue;
        }
        log_warn("hints", "torn hint cut off path=%s off=%" PRIu64, path, at);
        rc = fs_truncate(f, at);
        rc = rc ? rc : fs_fsync(f);
        break;
    }
    buf_free(&b);
    fs_close(f);
    return rc;
}

struct scan_ctx {
    struct hints *h;
    int rc;
};

static int scan_entry(void *arg, const char *name)
{
    struct scan_ctx *c = arg;
    uint8_t id[HINTS_HOST_ID_LEN];
    struct hint_target *t;
    char path[HINT_PATH];
    uint64_t seq, n;

    if (parse_name(name, id, &seq))
        return 0;
    snprintf(path, sizeof(path), "%s/%s", c->h->dir, name);
    c->rc = scan_seg(c->h, path, &n);
    if (c->rc)
        return 1;
    t = find_target(c->h, id, 1);
    if (!t) {
        c->rc = err_set(-ENOMEM, "hints: no memory");
        return 1;
    }
    t->pending += n;
    if (seq >= t->next_seq)
        t->next_seq = seq + 1;
    return 0;
}

/* ---- sync thread ---- */

/*
 * sync_locked -- fsync every dirty segment (and the directory); hand the
 * waiters covered to the caller, which calls them after unlocking.
 */
static int sync_locked(struct hints *h, struct hint_waiter **w, size_t *nw)
{
    int rc = 0;

    if (h->dir_dirty) {
        rc = fs_fsync_dir(h->o.fs, h->dir);
        h->dir_dirty = rc != 0;
    }
    for (size_t i = 0; i < h->nt; i++) {
        struct hint_target *t = &h->t[i];
        if (!t->dirty || !t->cur)
            continue;
        int r = fs_fsync(t->cur);
        rc = rc ? rc : r;
        t->dirty = 0;
    }
    *w = h->w;
    *nw = h->nw;
    h->w = NULL;
    h->nw = h->capw = 0;
    return rc;
}

static void call_waiters(struct hint_waiter *w, size_t n, int rc)
{
    for (size_t i = 0; i < n; i++)
        if (w[i].done)
            w[i].done(w[i].arg, rc);
    mem_free(w);
}

static void *sync_main(void *arg)
{
    struct hints *h = arg;
    struct hint_waiter *w;
    size_t nw;
    int rc, stop = 0;

    pthread_mutex_lock(&h->mu);
    while (!stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)h->o.sync_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        if (!h->stop)
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        stop = h->stop;
        rc = sync_locked(h, &w, &nw);
        pthread_mutex_unlock(&h->mu);
        call_waiters(w, nw, rc);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- open and close ---- */

static int hints_init(struct hints *h, const struct hints_options *o)
{
    struct scan_ctx c = {.h = h};
    int rc;

    h->o = *o;
    if (!h->o.fs)
        h->o.fs = fs_posix();
    if (!h->o.clock)
        h->o.clock = clk_system();
    if (!h->o.sync_ms)
        h->o.sync_ms = 50;
    if (!h->o.replay_per_s)
        h->o.replay_per_s = 2000;
    if (h->o.window_s <= 0)
        h->o.window_s = 3 * 3600;
    h->dir = mem_strdup(MEM_SERVER, o->dir);
    if (!h->dir)
        return err_set(-ENOMEM, "hints: no memory");
    rc = fs_mkdir(h->o.fs, h->dir);
    if (!rc && fs_list(h->o.fs, h->dir, scan_entry, &c))
        rc = c.rc;
    return rc;
}

int hints_open(const struct hints_options *o, struct hints **out)
{
    struct hints *h = mem_calloc(MEM_SERVER, 1, sizeof(*h));
    int rc;

    *out = NULL;
    if (!h)
        return err_set(-ENOMEM, "hints: no memory");
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    rc = hints_init(h, o);
    if (!rc && pthread_create(&h->thread, NULL, sync_main, h))
        rc = err_set(-ENOMEM, "hints: cannot start the sync thread");
    if (rc) {
        h->stop = -1; /* no thread to join */
        hints_close(h);
        return rc;
    }
    log_info("hints", "opened dir=%s targets=%zu", h->dir, h->nt);
    *out = h;
    return 0;
}

void hints_close(struct hints *h)
{
    if (!h)
        return;
    if (h->stop != -1) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    for (size_t i = 0; i < h->nt; i++)
        if (h->t[i].cur)
            fs_close(h->t[i].cur);
    call_waiters(h->w, h->nw, CAIRN_ECLOSED);
    mem_free(h->t);
    mem_free(h->dir);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    mem_free(h);
}

/* ---- storing ---- */

static int open_segment(struct hints *h, struct hint_target *t)
{
    char path[HINT_PATH];
    int rc;

    seg_path(h, t->id, t->next_seq, path);
    rc = fs_open(h->o.fs, path, FS_WRITE | FS_CREATE | FS_EXCL, &t->cur);
    if (rc)
        return rc;
    t->next_seq++;
    h->dir_dirty = 1;
    rc = fs_append(t->cur, HINT_MAGIC, HINT_MAGIC_LEN);
    if (rc) {
        fs_close(t->cur);
        t->cur = NULL;
        fs_unlink(h->o.fs, path);
    }
    return rc;
}

static int encode_rec(struct buf *b, int64_t created, int64_t expires,
                      const void *msg, size_t n)
{
    uint8_t *p;
    int rc = buf_reserve(b, HINT_HDR + HINT_META + n);

    if (rc)
        return rc;
    p = b->data;
    enc_u32be(p, (uint32_t)(HINT_META + n));
    p[HINT_HDR] = HINT_VERSION;
    enc_u64be(p + HINT_HDR + 1, (uint64_t)created);
    enc_u64be(p + HINT_HDR + 9, (uint64_t)expires);
    memcpy(p + HINT_HDR + HINT_META, msg, n);
    enc_u64be(p + 4, XXH64(p + HINT_HDR, HINT_META + n, HINT_META + n));
    b->len = HINT_HDR + HINT_META + n;
    return 0;
}

/* waiter_room -- room for one more waiter, so a stored hint always has one */
static int waiter_room(struct hints *h)
{
    if (h->nw == h->capw) {
        size_t cap = h->capw ? 2 * h->capw : 16;
        void *p = mem_realloc(MEM_SERVER, h->w, cap * sizeof(*h->w));
        if (!p)
            return err_set(-ENOMEM, "hints: no memory");
        h->w = p;
        h->capw = cap;
    }
    return 0;
}

static int store_locked(struct hints *h, struct hint_target *t,
                        const struct buf *rec, hints_done_fn done, void *arg)
{
    int rc = waiter_room(h);

    if (!rc && !t->cur)
        rc = open_segment(h, t);
    rc = rc ? rc : fs_append(t->cur, rec->data, rec->len);
    if (rc && t->cur) {
        /* A half-written record ends this segment; the next starts clean. */
        fs_close(t->cur);
        t->cur = NULL;
    }
    if (rc)
        return rc;
    h->w[h->nw].done = done;
    h->w[h->nw++].arg = arg;
    t->dirty = 1;
    t->pending++;
    h->stored++;
    return 0;
}

int hints_store(struct hints *h, const uint8_t target[HINTS_HOST_ID_LEN],
                uint32_t gc_grace_s, const void *msg, size_t n,
                hints_done_fn done, void *arg)
{
    int64_t now = clk_wall_us(h->o.clock);
    int64_t life = h->o.window_s < (int64_t)gc_grace_s ? h->o.window_s
                                                       : (int64_t)gc_grace_s;
    struct hint_target *t;
    struct buf rec;
    int rc;

    if (n == 0 || n > HINTS_MAX_RECORD - HINT_META)
        return err_set(-EINVAL, "hints: hint of %zu bytes", n);
    buf_init(&rec, MEM_SERVER);
    rc = encode_rec(&rec, now, now + life * 1000000, msg, n);
    if (rc) {
        buf_free(&rec);
        return rc;
    }
    pthread_mutex_lock(&h->mu);
    t = find_target(h, target, 1);
    rc = t ? store_locked(h, t, &rec, done, arg)
           : err_set(-ENOMEM, "hints: no memory");
    pthread_mutex_unlock(&h->mu);
    buf_free(&rec);
    return rc;
}

/* ---- replay ---- */

struct seq_list {
    const uint8_t *id;
    uint64_t upto;
    uint64_t *v;
    size_t n, cap;
};

static int list_entry(void *arg, const char *name)
{
    struct seq_list *l = arg;
    uint8_t id[HINTS_HOST_ID_LEN];
    uint64_t seq;

    if (parse_name(name, id, &seq) ||
        memcmp(id, l->id, HINTS_HOST_ID_LEN) != 0 || seq >= l->upto)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        void *p = mem_realloc(MEM_SERVER, l->v, cap * sizeof(*l->v));
        if (!p)
            return -ENOMEM;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = seq;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* seal -- close the target's open segment so replay owns every file. */
static int seal(struct hints *h, const uint8_t *id, uint64_t *upto)
{
    struct hint_waiter *w = NULL;
    struct hint_target *t;
    size_t nw = 0;
    int rc = 0;

    pthread_mutex_lock(&h->mu);
    t = find_target(h, id, 0);
    *upto = t ? t->next_seq : 0;
    if (t && t->cur) {
        rc = sync_locked(h, &w, &nw);
        fs_close(t->cur);
        t->cur = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    call_waiters(w, nw, rc);
    return rc;
}

static void throttle(struct hints *h, int64_t *last_ns)
{
    int64_t gap = 1000000000LL / h->o.replay_per_s;
    int64_t now = clk_mono_ns(h->o.clock), wait = *last_ns + gap - now;

    if (*last_ns && wait > 0) {
        struct timespec ts = {.tv_sec = wait / 1000000000LL,
                              .tv_nsec = wait % 1000000000LL};
        nanosleep(&ts, NULL);
    }
    *last_ns = clk_mono_ns(h->o.clock);
}

static void count(struct hints *h, const uint8_t *id, uint64_t *ctr,
                  int64_t pending_delta)
{
    struct hint_target *t;

    pthread_mutex_lock(&h->mu);
    if (ctr)
        (*ctr)++;
    t = find_target(h, id, 0);
    if (t)
        t->pending += (uint64_t)pending_delta;
    pthread_mutex_unlock(&h->mu);
}

struct replay {
    struct hints *h;
    const uint8_t *id;
    hints_deliver_fn deliver;
    void *arg;
    int64_t last_ns;
};

/* replay_recs -- deliver a segment's records; *done_n counts handled. */
static int replay_recs(struct replay *r, struct fs_file *f, uint64_t size,
                       uint64_t *done_n)
{
    uint64_t off = HINT_MAGIC_LEN;
    struct hint_rec rec;
    struct buf b;
    int rc = 0, st;

    buf_init(&b, MEM_SERVER);
    while (!rc && (st = read_rec(f, size, &off, &b, &rec)) != REC_END) {
        if (st != REC_OK) {
            /* Counted as dropped when the segment was scanned at open. */
            if (st != REC_BAD)
                break;
            continue;
        }
        (*done_n)++;
        if (rec.expires_us < clk_wall_us(r->h->o.clock)) {
            count(r->h, r->id, &r->h->dropped, -1);
            continue;
        }
        throttle(r->h, &r->last_ns);
        rc = r->deliver(r->arg, rec.msg, rec.n);
        if (!rc)
            count(r->h, r->id, &r->h->delivered, -1);
        else
            (*done_n)--;
    }
    buf_free(&b);
    return rc;
}

static int replay_seg(struct replay *r, uint64_t seq)
{
    char path[HINT_PATH];
    struct fs_file *f;
    uint64_t size, n = 0;
    int rc;

    seg_path(r->h, r->id, seq, path);
    rc = fs_open(r->h->o.fs, path, FS_READ, &f);
    if (rc)
        return rc;
    rc = fs_size(f, &size);
    if (!rc && check_magic(f, size) == 0)
        rc = replay_recs(r, f, size, &n);
    fs_close(f);
    if (rc) {
        /* Delivered hints of this segment will be sent again. */
        count(r->h, r->id, NULL, (int64_t)n);
        return rc;
    }
    rc = fs_unlink(r->h->o.fs, path);
    return rc ? rc : fs_fsync_dir(r->h->o.fs, r->h->dir);
}

int hints_replay(struct hints *h, const uint8_t target[HINTS_HOST_ID_LEN],
                 hints_deliver_fn deliver, void *arg)
{
    struct replay r = {.h = h, .id = target, .deliver = deliver, .arg = arg};
    struct seq_list l = {.id = target};
    int rc = seal(h, target, &l.upto);

    if (rc || l.upto == 0)
        return rc;
    if (fs_list(h->o.fs, h->dir, list_entry, &l)) {
        mem_free(l.v);
        return err_set(-ENOMEM, "hints: no memory");
    }
    qsort(l.v, l.n, sizeof(*l.v), cmp_u64);
    for (size_t i = 0; !rc && i < l.n; i++)
        rc = replay_seg(&r, l.v[i]);
    mem_free(l.v);
    return rc;
}

uint64_t hints_pending(struct hints *h, const uint8_t target[HINTS_HOST_ID_LEN])
{
    struct hint_target *t;
    uint64_t n;

    pthread_mutex_lock(&h->mu);
    t = find_target(h, target, 0);
    n = t ? t->pending : 0;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void hints_get_stats(struct hints *h, struct hints_stats *out)
{
    pthread_mutex_lock(&h->mu);
    out->stored = h->stored;
    out->delivered = h->delivered;
    out->dropped = h->dropped;
    out->pending = 0;
    for (size_t i = 0; i < h->nt; i++)
        out->pending += h->t[i].pending;
    pthread_mutex_unlock(&h->mu);
}

int hints_render_metrics(struct hints *h, struct buf *out)
{
    struct hints_stats s;
    char line[512];
    int n;

    hints_get_stats(h, &s);
    n = snprintf(line, sizeof(line),
                 "# TYPE cairn_hints_stored_total counter\n"
                 "cairn_hints_stored_total %" PRIu64 "\n"
                 "# TYPE cairn_hints_delivered_total counter\n"
                 "cairn_hints_delivered_total %" PRIu64 "\n"
                 "# TYPE cairn_hints_dropped_total counter\n"
                 "cairn_hints_dropped_total %" PRIu64 "\n"
                 "# TYPE cairn_hints_pending gauge\n"
                 "cairn_hints_pending %" PRIu64 "\n",
                 s.stored, s.delivered, s.dropped, s.pending);
    return buf_append(out, line, (size_t)n);
}
