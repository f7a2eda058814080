/*
 * driver.c -- the worker threads of cairn-bench and their request slots.
 *
 * Each worker owns `nslots` slots; a slot holds one request in flight.
 * The worker issues requests through libcairn's async API and sleeps on
 * its condition variable; the future's callback (on libcairn's I/O
 * thread) only stamps the completion time and queues the slot back, so
 * the callback never blocks and all bookkeeping stays on the worker.
 *
 * Closed loop (no --rate): a slot is reused as soon as it completes, and
 * latency runs from the send. Open loop (--rate): operation i of a worker
 * is due at t0 + i / rate; it is sent when due and a slot is free, and
 * its latency runs from when it was due, so a stall that holds requests
 * back shows up in the latencies of every operation that waited
 * (coordinated omission avoided). One that leaves more than 1 ms after
 * it was due counts as late.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/ycsb/bench.h"
#include "bench/ycsb/gen.h"
#include "common/mem.h"

#define LATE_NS    1000000ull
#define ACK_WINDOW (1u << 20)

struct worker;

struct slot {
    struct worker *w;
    cairn_future_t *f;
    enum bench_op op;
    int step; /* read-modify-write: 0 read, 1 write */
    uint64_t keynum;
    uint64_t due_ns;  /* intended start (open loop) or send time */
    uint64_t done_ns; /* set by the callback */
    int warm;         /* due during the warm-up */
};

/* State every worker of one phase shares. */
struct shared {
    const struct bench_cfg *cfg;
    cairn_client_t *c;
    enum bench_phase phase;
    cairn_req_opts_t ro;
    struct ycsb_zipf zipf;
    _Atomic uint64_t next_seq;    /* load, verify: next record */
    _Atomic uint64_t next_insert; /* run: next record an insert adds */
    /* Inserts are acknowledged out of order; "latest" reads only below
     * the first record whose insert is still open, so it never asks for
     * one not written yet (YCSB's acknowledged counter). */
    pthread_mutex_t ack_mu;
    uint8_t *acked;             /* ACK_WINDOW flags, by keynum */
    _Atomic uint64_t ack_limit; /* every record < ack_limit is written */
    _Atomic uint64_t *key_counts;
    uint64_t t0_ns, warm_end_ns, end_ns; /* end_ns 0: no time limit */
    atomic_int stop;
};

struct worker {
    struct shared *sh;
    pthread_t tid;
    unsigned idx;
    struct slot *slots;
    unsigned nslots, busy;
    unsigned *free_list, nfree;
    uint64_t rng;
    uint64_t quota, issued; /* operations this worker may start */
    double rate;            /* open loop: this worker's ops/s */
    uint64_t next_due_ns;
    uint64_t version;
    struct bench_stats st;
    char *valbuf;
    /* Guarded by mu: completions queued by callbacks, and the interval
     * histogram the progress line reads and resets. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned *done, ndone;
    struct hist interval;
    uint64_t interval_errors;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *bench_op_name(enum bench_op op)
{
    static const char *const names[OP_COUNT] = {
        "read", "update", "insert", "scan", "read-modify-write", "verify"};
    return names[op];
}

const char *bench_kind_name(enum bench_kind k)
{
    static const char *const names[KIND_COUNT] = {
        "not_found",  "wrong_value", "timeout",     "unavailable",
        "overloaded", "closed",      "unreachable", "other"};
    return names[k];
}

enum bench_kind bench_kind_of(int code)
{
    switch (code) {
    case CAIRN_ERR_NOT_FOUND:
        return KIND_NOT_FOUND;
    case CAIRN_ERR_TIMEOUT:
        return KIND_TIMEOUT;
    case CAIRN_ERR_UNAVAILABLE:
        return KIND_UNAVAILABLE;
    case CAIRN_ERR_OVERLOADED:
        return KIND_OVERLOADED;
    case CAIRN_ERR_CLOSED:
        return KIND_CLOSED;
    case CAIRN_ERR_UNREACHABLE:
        return KIND_UNREACHABLE;
    default:
        return KIND_OTHER;
    }
}

void bench_stats_init(struct bench_stats *s)
{
    memset(s, 0, sizeof(*s));
    for (int i = 0; i < OP_COUNT; i++)
        hist_init(&s->op[i]);
    hist_init(&s->warm);
}

void bench_stats_merge(struct bench_stats *dst, const struct bench_stats *src)
{
    for (int i = 0; i < OP_COUNT; i++) {
        hist_merge(&dst->op[i], &src->op[i]);
        for (int k = 0; k < KIND_COUNT; k++)
            dst->errors[i][k] += src->errors[i][k];
    }
    hist_merge(&dst->warm, &src->warm);
    dst->warm_errors += src->warm_errors;
    dst->late += src->late;
    dst->intended += src->intended;
    dst->checked += src->checked;
    dst->missing += src->missing;
    dst->wrong += src->wrong;
}

uint64_t bench_errors(const struct bench_stats *s)
{
    uint64_t n = 0;

    for (int i = 0; i < OP_COUNT; i++)
        for (int k = 0; k < KIND_COUNT; k++)
            n += s->errors[i][k];
    return n;
}

/* ------------------------------------------------------------------ */
/* Choosing what to do                                                 */

static enum bench_op pick_op(struct worker *w)
{
    const struct bench_mix *m = &w->sh->cfg->mix;
    double u = ycsb_rng_unit(&w->rng);

    if ((u -= m->read) < 0)
        return OP_READ;
    if ((u -= m->update) < 0)
        return OP_UPDATE;
    if ((u -= m->insert) < 0)
        return OP_INSERT;
    if ((u -= m->scan) < 0)
        return OP_SCAN;
    return m->rmw > 0 ? OP_RMW : OP_READ;
}

/* The record an operation on existing data touches. */
static uint64_t pick_key(struct worker *w)
{
    struct shared *sh = w->sh;
    uint64_t n = sh->cfg->records, k;

    switch (sh->cfg->dist) {
    case DIST_UNIFORM:
        k = ycsb_rng_below(&w->rng, n);
        break;
    case DIST_LATEST: {
        /* The newest record is the most popular, as YCSB's "latest". */
        uint64_t last = atomic_load(&sh->ack_limit) - 1;
        uint64_t r = ycsb_zipf_rank(&sh->zipf, &w->rng);
        k = r <= last ? last - r : 0;
        break;
    }
    default:
        k = ycsb_zipf_scramble(&sh->zipf, ycsb_zipf_rank(&sh->zipf, &w->rng));
    }
    if (sh->key_counts && k < n)
        atomic_fetch_add_explicit(&sh->key_counts[k], 1, memory_order_relaxed);
    return k;
}

/* ------------------------------------------------------------------ */
/* Issuing                                                             */

static void on_done(cairn_future_t *f, void *arg)
{
    struct slot *s = arg;
    struct worker *w = s->w;

    (void)f;
    s->done_ns = now_ns();
    pthread_mutex_lock(&w->mu);
    w->done[w->ndone++] = (unsigned)(s - w->slots);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Write `nf` fields of record s->keynum (all, or one chosen at random). */
static cairn_future_t *send_put(struct worker *w, struct slot *s, int all)
{
    const struct bench_cfg *cfg = w->sh->cfg;
    cairn_column_t cols[64];
    char key[32], names[64][16];
    unsigned first = all ? 0 : (unsigned)ycsb_rng_below(&w->rng, cfg->fields);
    unsigned n = all ? cfg->fields : 1;

    ycsb_key(s->keynum, key, sizeof(key));
    w->version++;
    for (unsigned i = 0; i < n; i++) {
        char *v = w->valbuf + (size_t)i * cfg->value_size;
        snprintf(names[i], sizeof(names[i]), "field%u", first + i);
        ycsb_value(v, cfg->value_size, key, first + i, w->version);
        cols[i].name = cairn_str(names[i]);
        cols[i].value = (cairn_bytes_t){v, cfg->value_size};
    }
    return cairn_put_async(w->sh->c, &w->sh->ro, cfg->keyspace, cfg->table,
                           cairn_str(key), (cairn_bytes_t){0}, cols, n, 0, 0);
}

static cairn_future_t *send_read(struct worker *w, struct slot *s)
{
    const struct bench_cfg *cfg = w->sh->cfg;
    char key[32];

    ycsb_key(s->keynum, key, sizeof(key));
    if (s->op == OP_SCAN) {
        /* libcairn's scan always starts at the ring's beginning, so a
         * short scan reads a page of the chosen partition's rows. */
        cairn_slice_t sl = {0};
        sl.page_size = 1 + (uint32_t)ycsb_rng_below(&w->rng, cfg->max_scan);
        return cairn_get_slice_async(w->sh->c, &w->sh->ro, cfg->keyspace,
                                     cfg->table, cairn_str(key), &sl);
    }
    return cairn_get_row_async(w->sh->c, &w->sh->ro, cfg->keyspace, cfg->table,
                               cairn_str(key), (cairn_bytes_t){0});
}

static cairn_future_t *send_op(struct worker *w, struct slot *s)
{
    const struct bench_cfg *cfg = w->sh->cfg;

    switch (s->op) {
    case OP_INSERT:
        return send_put(w, s, 1);
    case OP_UPDATE:
        return send_put(w, s, cfg->full_record_writes);
    case OP_RMW:
        return s->step == 0 ? send_read(w, s) : send_put(w, s, 0);
    default:
        return send_read(w, s);
    }
}

/* Fill slot s with the phase's next operation; 0 when there is none. */
static int next_op(struct worker *w, struct slot *s)
{
    struct shared *sh = w->sh;

    s->step = 0;
    if (sh->phase != PHASE_RUN) {
        s->keynum = atomic_fetch_add(&sh->next_seq, 1);
        s->op = sh->phase == PHASE_LOAD ? OP_INSERT : OP_VERIFY;
        return s->keynum < sh->cfg->records;
    }
    s->op = pick_op(w);
    if (s->op == OP_INSERT)
        s->keynum = atomic_fetch_add(&sh->next_insert, 1);
    else
        s->keynum = pick_key(w);
    return 1;
}

static void issue(struct worker *w, struct slot *s)
{
    s->f = send_op(w, s);
    if (!s->f) {
        fprintf(stderr, "cairn-bench: out of memory\n");
        exit(1);
    }
    w->busy++;
    cairn_future_set_callback(s->f, on_done, s);
}

/* Whether the worker may start one more operation now. */
static int may_start(struct worker *w, uint64_t now)
{
    struct shared *sh = w->sh;

    if (atomic_load(&sh->stop) || w->nfree == 0)
        return 0;
    if (w->quota && w->issued >= w->quota)
        return 0;
    if (sh->end_ns && now >= sh->end_ns)
        return 0;
    return w->rate <= 0 || w->next_due_ns <= now;
}

static void start_ops(struct worker *w)
{
    uint64_t now = now_ns();

    while (may_start(w, now)) {
        struct slot *s = &w->slots[w->free_list[w->nfree - 1]];

        if (!next_op(w, s)) {
            atomic_store(&w->sh->stop, 1);
            return;
        }
        w->nfree--;
        w->issued++;
        if (w->rate > 0) {
            s->due_ns = w->next_due_ns;
            w->next_due_ns =
                w->sh->t0_ns + (uint64_t)((double)w->issued * 1e9 / w->rate);
            w->st.intended++;
            if (now > s->due_ns + LATE_NS)
                w->st.late++;
        } else {
            s->due_ns = now;
        }
        s->warm = s->due_ns < w->sh->warm_end_ns;
        issue(w, s);
        now = now_ns();
    }
}

/* ------------------------------------------------------------------ */
/* Completions                                                         */

/* Check a read's row: returns the error kind, or -1 when all is well. */
static int check_row(struct worker *w, struct slot *s, int *missing)
{
    const struct bench_cfg *cfg = w->sh->cfg;
    const cairn_result_t *r = cairn_future_result(s->f);
    const cairn_row_t *rows;
    char key[32], name[16];
    unsigned seen = 0;

    *missing = 0;
    if (cairn_result_rows(r, &rows) == 0) {
        *missing = 1;
        return KIND_NOT_FOUND;
    }
    ycsb_key(s->keynum, key, sizeof(key));
    for (size_t i = 0; i < rows[0].ncells; i++) {
        const cairn_cell_t *c = &rows[0].cells[i];
        unsigned fld;
        int n;
        if (c->column.len >= sizeof(name))
            return KIND_WRONG;
        memcpy(name, c->column.data, c->column.len);
        name[c->column.len] = '\0';
        if (sscanf(name, "field%u%n", &fld, &n) != 1 ||
            (size_t)n != c->column.len)
            return KIND_WRONG;
        if (!ycsb_check(c->value.data, c->value.len, key, fld))
            return KIND_WRONG;
        seen++;
    }
    if (s->op == OP_VERIFY && seen < cfg->fields) {
        *missing = 1;
        return KIND_NOT_FOUND;
    }
    return -1;
}

static void count(struct worker *w, struct slot *s, int kind)
{
    uint64_t lat_us = (s->done_ns - s->due_ns) / 1000;

    /* Latencies are those of successful operations; a failure that
     * comes back at once must not look like a fast answer. */
    if (s->warm) {
        if (kind < 0)
            hist_record(&w->st.warm, lat_us);
        w->st.warm_errors += kind >= 0;
    } else if (kind < 0) {
        hist_record(&w->st.op[s->op], lat_us);
    } else {
        w->st.errors[s->op][kind]++;
    }
    pthread_mutex_lock(&w->mu);
    if (kind < 0)
        hist_record(&w->interval, lat_us);
    w->interval_errors += kind >= 0;
    pthread_mutex_unlock(&w->mu);
}

/* Print the first failure of each kind, so a run says why it fails. */
static void first_error(int kind, int rc, const char *msg)
{
    static atomic_int seen[KIND_COUNT];

    if (atomic_exchange(&seen[kind], 1) == 0)
        fprintf(stderr, "cairn-bench: first %s error: %s: %s\n",
                bench_kind_name(kind), cairn_strerror(rc), msg);
}

/* Mark insert k done and move the limit past every done one. */
static void ack_insert(struct shared *sh, uint64_t k)
{
    uint64_t lim;

    pthread_mutex_lock(&sh->ack_mu);
    sh->acked[k % ACK_WINDOW] = 1;
    lim = atomic_load(&sh->ack_limit);
    while (sh->acked[lim % ACK_WINDOW]) {
        sh->acked[lim % ACK_WINDOW] = 0;
        lim++;
    }
    atomic_store(&sh->ack_limit, lim);
    pthread_mutex_unlock(&sh->ack_mu);
}

static void complete(struct worker *w, struct slot *s)
{
    int rc = cairn_future_error(s->f), kind = -1, missing = 0;
    int is_read = s->op == OP_READ || s->op == OP_VERIFY || s->op == OP_SCAN ||
                  (s->op == OP_RMW && s->step == 0);

    if (rc != 0) {
        kind = bench_kind_of(rc);
        first_error(kind, rc, cairn_future_message(s->f));
    } else if (is_read)
        kind = check_row(w, s, &missing);
    if (s->op == OP_VERIFY && rc == 0) {
        w->st.checked++;
        w->st.missing += missing;
        w->st.wrong += kind == KIND_WRONG;
    }
    cairn_future_free(s->f);
    s->f = NULL;
    w->busy--;
    if (s->op == OP_INSERT && w->sh->phase == PHASE_RUN)
        ack_insert(w->sh, s->keynum);
    if (s->op == OP_RMW && s->step == 0 && kind < 0) {
        s->step = 1;
        issue(w, s);
        return;
    }
    count(w, s, kind);
    w->free_list[w->nfree++] = (unsigned)(s - w->slots);
}

/* ------------------------------------------------------------------ */
/* The worker                                                          */

static void wait_for_work(struct worker *w)
{
    uint64_t wake = now_ns() + 100000000ull;
    struct timespec ts;

    if (w->rate > 0 && w->nfree > 0 && w->next_due_ns < wake)
        wake = w->next_due_ns;
    /* The condition variable runs on the realtime clock; convert. */
    clock_gettime(CLOCK_REALTIME, &ts);
    {
        uint64_t now = now_ns();
        uint64_t d = wake > now ? wake - now : 0;
        uint64_t t = (uint64_t)ts.tv_nsec + d % 1000000000ull;
        ts.tv_sec += (time_t)(d / 1000000000ull + t / 1000000000ull);
        ts.tv_nsec = (long)(t % 1000000000ull);
    }
    pthread_mutex_lock(&w->mu);
    if (w->ndone == 0 && wake > now_ns())
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    pthread_mutex_unlock(&w->mu);
}

/* Nothing in flight and nothing more to start. */
static int finished(struct worker *w)
{
    struct shared *sh = w->sh;

    if (w->busy)
        return 0;
    return atomic_load(&sh->stop) || (w->quota && w->issued >= w->quota) ||
           (sh->end_ns && now_ns() >= sh->end_ns);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned *batch = mem_alloc(MEM_CLIENT, w->nslots * sizeof(*batch));

    for (;;) {
        unsigned n;

        pthread_mutex_lock(&w->mu);
        n = w->ndone;
        memcpy(batch, w->done, n * sizeof(*batch));
        w->ndone = 0;
        pthread_mutex_unlock(&w->mu);
        for (unsigned i = 0; i < n; i++)
            complete(w, &w->slots[batch[i]]);

        start_ops(w);
        if (finished(w))
            break;
        wait_for_work(w);
    }
    mem_free(batch);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Set-up, progress and tear-down                                      */

static void *xcalloc(size_t n, size_t size)
{
    void *p = mem_calloc(MEM_CLIENT, n, size);

    if (!p) {
        fprintf(stderr, "cairn-bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void worker_init(struct worker *w, struct shared *sh, unsigned idx,
                        unsigned nslots)
{
    const struct bench_cfg *cfg = sh->cfg;

    w->sh = sh;
    w->idx = idx;
    w->nslots = w->nfree = nslots;
    w->slots = xcalloc(nslots, sizeof(*w->slots));
    w->free_list = xcalloc(nslots, sizeof(unsigned));
    w->done = xcalloc(nslots, sizeof(unsigned));
    for (unsigned i = 0; i < nslots; i++) {
        w->slots[i].w = w;
        w->free_list[i] = nslots - 1 - i;
    }
    w->rng = cfg->seed * 0x100000001b3ull + idx + 1;
    w->version = ((uint64_t)time(NULL) << 20) + ((uint64_t)idx << 48);
    w->valbuf = xcalloc(cfg->fields, cfg->value_size);
    bench_stats_init(&w->st);
    hist_init(&w->interval);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void worker_fini(struct worker *w)
{
    mem_free(w->slots);
    mem_free(w->free_list);
    mem_free(w->done);
    mem_free(w->valbuf);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* Split --operations and --rate over the workers. */
static void share_work(const struct bench_cfg *cfg, enum bench_phase phase,
                       struct worker *ws, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (phase == PHASE_RUN && cfg->operations) {
            ws[i].quota =
                cfg->operations / n + (i < cfg->operations % n ? 1 : 0);
            if (ws[i].quota == 0)
                ws[i].quota = 1; /* 0 would mean no limit */
        }
        ws[i].rate = phase == PHASE_RUN ? cfg->rate / n : 0;
    }
}

/* One progress line from every worker's interval histogram. */
static void progress(struct worker *ws, unsigned n, double t, double dt,
                     int warm, const char *phase)
{
    struct hist h;
    uint64_t errs = 0;

    hist_init(&h);
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].mu);
        hist_merge(&h, &ws[i].interval);
        hist_init(&ws[i].interval);
        errs += ws[i].interval_errors;
        ws[i].interval_errors = 0;
        pthread_mutex_unlock(&ws[i].mu);
    }
    fprintf(stderr,
            "[%5.0fs] %s%s ops/s %.0f p50 %.3f ms p99 %.3f ms max %.3f ms "
            "errors %" PRIu64 "\n",
            t, phase, warm ? " (warm-up)" : "", (double)h.count / dt,
            (double)hist_percentile(&h, 50) / 1e3,
            (double)hist_percentile(&h, 99) / 1e3, (double)h.max / 1e3, errs);
}

static int all_done(struct worker *ws, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (pthread_tryjoin_np(ws[i].tid, NULL) == EBUSY)
            return 0;
        else
            ws[i].tid = 0;
    return 1;
}

static void shared_init(struct shared *sh, const struct bench_cfg *cfg,
                        cairn_client_t *c, enum bench_phase phase)
{
    memset(sh, 0, sizeof(*sh));
    sh->cfg = cfg;
    sh->c = c;
    sh->phase = phase;
    sh->ro.consistency = cfg->cl;
    ycsb_zipf_init(&sh->zipf, cfg->records, YCSB_ZIPF_THETA);
    atomic_init(&sh->next_insert, cfg->records);
    atomic_init(&sh->ack_limit, cfg->records);
    pthread_mutex_init(&sh->ack_mu, NULL);
    sh->acked = xcalloc(ACK_WINDOW, 1);
    if (cfg->debug_keys && phase == PHASE_RUN)
        sh->key_counts = xcalloc(cfg->records, sizeof(uint64_t));
    sh->t0_ns = now_ns();
    if (phase == PHASE_RUN) {
        sh->warm_end_ns = sh->t0_ns + (uint64_t)(cfg->warmup_s * 1e9);
        if (cfg->duration_s > 0)
            sh->end_ns = sh->warm_end_ns + (uint64_t)(cfg->duration_s * 1e9);
    }
}

static void watch(struct worker *ws, unsigned n, struct shared *sh,
                  const char *name)
{
    uint64_t last = sh->t0_ns;

    for (;;) {
        struct timespec ts = {0, 20000000};
        uint64_t now;
        int done;

        nanosleep(&ts, NULL);
        done = all_done(ws, n);
        now = now_ns();
        if (now - last >= 1000000000ull || (done && now > last)) {
            progress(ws, n, (double)(now - sh->t0_ns) / 1e9,
                     (double)(now - last) / 1e9, now <= sh->warm_end_ns, name);
            last = now;
        }
        if (done)
            return;
    }
}

int bench_drive(const struct bench_cfg *cfg, cairn_client_t *c,
                enum bench_phase phase, struct bench_result *res)
{
    static const char *const names[] = {"load", "run", "verify"};
    unsigned n = cfg->threads, slots = cfg->connections * cfg->inflight;
    struct shared sh;
    struct worker *ws;
    uint64_t end;

    if (slots < n)
        slots = n;
    shared_init(&sh, cfg, c, phase);
    ws = xcalloc(n, sizeof(*ws));
    for (unsigned i = 0; i < n; i++)
        worker_init(&ws[i], &sh, i, slots / n + (i < slots % n ? 1 : 0));
    share_work(cfg, phase, ws, n);
    for (unsigned i = 0; i < n; i++)
        ws[i].next_due_ns = sh.t0_ns;
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "cairn-bench: cannot start thread %u\n", i);
            exit(1);
        }
    watch(ws, n, &sh, names[phase]);
    end = now_ns();

    bench_stats_init(&res->total);
    for (unsigned i = 0; i < n; i++) {
        bench_stats_merge(&res->total, &ws[i].st);
        worker_fini(&ws[i]);
    }
    mem_free(ws);
    mem_free(sh.acked);
    pthread_mutex_destroy(&sh.ack_mu);
    res->warm_s =
        (double)((end < sh.warm_end_ns ? end : sh.warm_end_ns) - sh.t0_ns) /
        1e9;
    if (res->warm_s < 0 || sh.warm_end_ns == 0)
        res->warm_s = 0;
    res->elapsed_s = (double)(end - sh.t0_ns) / 1e9 - res->warm_s;
    res->key_counts = (uint64_t *)sh.key_counts;
    return 0;
}
