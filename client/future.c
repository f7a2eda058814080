/*
 * future.c -- futures and results of libcairn.
 *
 * A future is shared by the caller and the library: it is born with two
 * holds, the library drops its own once the future is settled and its
 * callback has run, the caller drops the other with cairn_future_free().
 * One mutex per future guards its state; waiters sleep on its condition
 * variable. A result wraps the decoded protobuf answer and a set of
 * public views (arrays of cairn_row_t and friends) pointing into it, so
 * nothing is copied twice and one free releases everything.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "client/internal.h"
#include "common/err.h"
#include "common/mem.h"

struct cairn_future {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled once, when done */
    atomic_int holds;  /* caller + library */
    int settled;       /* code, msg and result are final (guarded by mu) */
    int done;          /* settled and the callback returned: waiters wake */
    int cb_set;        /* a callback was attached (guarded by mu) */
    int code;          /* valid once done */
    char *msg;         /* failure detail, or NULL */
    cairn_result_t *result; /* owned until taken */
    cairn_callback_t cb;
    void *cb_arg;
};

static _Thread_local int on_io_thread;

void cairn__cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

void cairn__deadline(struct timespec *until, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, until);
    until->tv_sec += ms / 1000;
    until->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000L;
    }
}

void cairn__set_io_thread(int on)
{
    on_io_thread = on;
}

int cairn__on_io_thread(void)
{
    return on_io_thread;
}

/* protobuf-c allocator backed by mem.h, so decode memory is counted. */
static void *pb_alloc(void *data, size_t size)
{
    (void)data;
    return mem_alloc(MEM_CLIENT, size ? size : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    mem_free(p);
}

ProtobufCAllocator cairn__pb_alloc = {pb_alloc, pb_free, NULL};

/* ---- results ---- */

static cairn_bytes_t pb_bytes(ProtobufCBinaryData b)
{
    cairn_bytes_t out = {b.data, b.len};
    return out;
}

/* Fill rows[0..n) and their cells from protobuf rows; cells advance. */
static void fill_rows(cairn_row_t *rows, Cairn__Row **src, size_t n,
                      cairn_cell_t **cells)
{
    for (size_t i = 0; i < n; i++) {
        rows[i].ck = pb_bytes(src[i]->ck);
        rows[i].cells = *cells;
        rows[i].ncells = src[i]->n_cells;
        for (size_t j = 0; j < src[i]->n_cells; j++) {
            Cairn__Cell *c = src[i]->cells[j];
            cairn_cell_t *d = &(*cells)[j];

            d->column = pb_bytes(c->column);
            d->value = pb_bytes(c->value);
            d->timestamp_us = c->timestamp;
            d->expires_s = c->expires_s;
        }
        *cells += src[i]->n_cells;
    }
}

static size_t count_cells(Cairn__Row **rows, size_t n)
{
    size_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += rows[i]->n_cells;
    return total;
}

static int build_read(cairn_result_t *r, Cairn__ReadResult *rr)
{
    cairn_cell_t *cur;

    r->nrows = rr->n_rows;
    r->rows = mem_calloc(MEM_CLIENT, rr->n_rows + 1, sizeof(*r->rows));
    r->cells = mem_calloc(MEM_CLIENT, count_cells(rr->rows, rr->n_rows) + 1,
                          sizeof(*r->cells));
    if (!r->rows || !r->cells)
        return -ENOMEM;
    cur = r->cells;
    fill_rows(r->rows, rr->rows, rr->n_rows, &cur);
    r->paging_state = pb_bytes(rr->paging_state);
    return 0;
}

static int build_scan(cairn_result_t *r, Cairn__ScanResult *sr)
{
    size_t nrows = 0, ncells = 0;
    cairn_row_t *row;
    cairn_cell_t *cell;

    for (size_t i = 0; i < sr->n_partitions; i++) {
        nrows += sr->partitions[i]->n_rows;
        ncells +=
            count_cells(sr->partitions[i]->rows, sr->partitions[i]->n_rows);
    }
    r->nparts = sr->n_partitions;
    r->nrows = nrows;
    r->parts = mem_calloc(MEM_CLIENT, r->nparts + 1, sizeof(*r->parts));
    r->rows = mem_calloc(MEM_CLIENT, nrows + 1, sizeof(*r->rows));
    r->cells = mem_calloc(MEM_CLIENT, ncells + 1, sizeof(*r->cells));
    if (!r->parts || !r->rows || !r->cells)
        return -ENOMEM;
    row = r->rows;
    cell = r->cells;
    for (size_t i = 0; i < sr->n_partitions; i++) {
        Cairn__PartitionRows *p = sr->partitions[i];

        r->parts[i].pkey = pb_bytes(p->pkey);
        r->parts[i].token = p->token;
        r->parts[i].rows = row;
        r->parts[i].nrows = p->n_rows;
        fill_rows(row, p->rows, p->n_rows, &cell);
        row += p->n_rows;
    }
    r->paging_state = pb_bytes(sr->paging_state);
    return 0;
}

static int build_keyspaces(cairn_result_t *r, Cairn__KeyspaceList *kl)
{
    r->nkeyspaces = kl->n_keyspaces;
    r->keyspaces =
        mem_calloc(MEM_CLIENT, kl->n_keyspaces + 1, sizeof(*r->keyspaces));
    if (!r->keyspaces)
        return -ENOMEM;
    for (size_t i = 0; i < kl->n_keyspaces; i++) {
        r->keyspaces[i].name = kl->keyspaces[i]->name;
        r->keyspaces[i].replication_factor =
            kl->keyspaces[i]->replication_factor;
    }
    return 0;
}

static int build_tables(cairn_result_t *r, Cairn__TableList *tl)
{
    r->ntables = tl->n_tables;
    r->tables = mem_calloc(MEM_CLIENT, tl->n_tables + 1, sizeof(*r->tables));
    if (!r->tables)
        return -ENOMEM;
    for (size_t i = 0; i < tl->n_tables; i++) {
        Cairn__Table *t = tl->tables[i];
        cairn_table_t *d = &r->tables[i];

        d->keyspace = t->keyspace;
        d->name = t->name;
        d->id = t->id;
        if (t->options) {
            d->options.gc_grace_s = t->options->gc_grace_s;
            d->options.default_ttl_s = t->options->default_ttl_s;
            d->options.no_compression = t->options->no_compression;
        }
    }
    return 0;
}

int cairn__result_from(Cairn__Response *resp, cairn_result_t **out)
{
    cairn_result_t *r;
    int rc = 0;

    *out = NULL;
    if (resp->result_case == CAIRN__RESPONSE__RESULT_ACK ||
        resp->result_case == CAIRN__RESPONSE__RESULT__NOT_SET) {
        cairn__response__free_unpacked(resp, &cairn__pb_alloc);
        return 0;
    }
    r = mem_calloc(MEM_CLIENT, 1, sizeof(*r));
    if (!r) {
        cairn__response__free_unpacked(resp, &cairn__pb_alloc);
        return -ENOMEM;
    }
    r->resp = resp;
    if (resp->result_case == CAIRN__RESPONSE__RESULT_READ)
        rc = build_read(r, resp->read);
    else if (resp->result_case == CAIRN__RESPONSE__RESULT_SCAN)
        rc = build_scan(r, resp->scan);
    else if (resp->result_case == CAIRN__RESPONSE__RESULT_KEYSPACES)
        rc = build_keyspaces(r, resp->keyspaces);
    else if (resp->result_case == CAIRN__RESPONSE__RESULT_TABLES)
        rc = build_tables(r, resp->tables);
    if (rc < 0) {
        cairn_result_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void cairn_result_free(cairn_result_t *r)
{
    if (!r)
        return;
    if (r->resp)
        cairn__response__free_unpacked(r->resp, &cairn__pb_alloc);
    mem_free(r->keyspaces);
    mem_free(r->tables);
    mem_free(r->rows);
    mem_free(r->cells);
    mem_free(r->parts);
    mem_free(r);
}

size_t cairn_result_keyspaces(const cairn_result_t *r,
                              const cairn_keyspace_t **out)
{
    *out = r ? r->keyspaces : NULL;
    return r ? r->nkeyspaces : 0;
}

size_t cairn_result_tables(const cairn_result_t *r, const cairn_table_t **out)
{
    *out = r ? r->tables : NULL;
    return r ? r->ntables : 0;
}

size_t cairn_result_rows(const cairn_result_t *r, const cairn_row_t **out)
{
    int is_read =
        r && r->resp && r->resp->result_case == CAIRN__RESPONSE__RESULT_READ;

    *out = is_read ? r->rows : NULL;
    return is_read ? r->nrows : 0;
}

size_t cairn_result_partitions(const cairn_result_t *r,
                               const cairn_partition_t **out)
{
    *out = r ? r->parts : NULL;
    return r ? r->nparts : 0;
}

const char *cairn_result_admin_json(const cairn_result_t *r)
{
    if (!r || !r->resp || r->resp->result_case != CAIRN__RESPONSE__RESULT_ADMIN)
        return "";
    return r->resp->admin->json;
}

const char *cairn_result_admin_text(const cairn_result_t *r)
{
    if (!r || !r->resp || r->resp->result_case != CAIRN__RESPONSE__RESULT_ADMIN)
        return "";
    return r->resp->admin->text;
}

cairn_bytes_t cairn_result_paging_state(const cairn_result_t *r)
{
    cairn_bytes_t none = {NULL, 0};

    return r ? r->paging_state : none;
}

/* ---- futures ---- */

cairn_future_t *cairn__future_new(void)
{
    cairn_future_t *f = mem_calloc(MEM_CLIENT, 1, sizeof(*f));

    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    cairn__cond_init(&f->cv);
    atomic_init(&f->holds, 2);
    return f;
}

static void future_release(cairn_future_t *f)
{
    if (atomic_fetch_sub(&f->holds, 1) != 1)
        return;
    cairn_result_free(f->result);
    mem_free(f->msg);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    mem_free(f);
}

void cairn__future_complete(cairn_future_t *f, int code, const char *msg,
                            cairn_result_t *r)
{
    cairn_callback_t cb;
    void *arg;

    pthread_mutex_lock(&f->mu);
    f->code = code;
    if (code < 0 && msg && *msg)
        f->msg = mem_strdup(MEM_CLIENT, msg);
    f->result = r;
    f->settled = 1;
    cb = f->cb;
    arg = f->cb_arg;
    pthread_mutex_unlock(&f->mu);
    /* Waiters wake only after the callback, so what it did is visible
     * to them; the callback itself sees a settled future. */
    if (cb)
        cb(f, arg);
    pthread_mutex_lock(&f->mu);
    f->done = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    future_release(f);
}

cairn_future_t *cairn__future_failed(int code, const char *msg)
{
    cairn_future_t *f = cairn__future_new();

    if (f)
        cairn__future_complete(f, code, msg, NULL);
    return f;
}

int cairn_future_wait(cairn_future_t *f)
{
    int code;

    pthread_mutex_lock(&f->mu);
    if (!f->settled && cairn__on_io_thread()) {
        pthread_mutex_unlock(&f->mu);
        return err_set(CAIRN_ERR_INVALID, "cairn_future_wait called on the "
                                          "I/O thread, where it would hang");
    }
    while (!f->done && !(f->settled && cairn__on_io_thread()))
        pthread_cond_wait(&f->cv, &f->mu);
    code = f->code;
    pthread_mutex_unlock(&f->mu);
    return code;
}

int cairn_future_wait_for(cairn_future_t *f, uint32_t ms)
{
    struct timespec until;
    int code;

    cairn__deadline(&until, ms);
    pthread_mutex_lock(&f->mu);
    if (cairn__on_io_thread())
        ms = 0;
    while (!f->done && ms > 0)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT)
            break;
    code = f->settled ? f->code : CAIRN_ERR_AGAIN;
    pthread_mutex_unlock(&f->mu);
    return code;
}

int cairn_future_ready(cairn_future_t *f)
{
    int done;

    pthread_mutex_lock(&f->mu);
    done = f->settled;
    pthread_mutex_unlock(&f->mu);
    return done;
}

int cairn_future_set_callback(cairn_future_t *f, cairn_callback_t cb, void *arg)
{
    int done;

    if (!cb)
        return err_set(CAIRN_ERR_INVALID, "callback is NULL");
    pthread_mutex_lock(&f->mu);
    if (f->cb_set) {
        pthread_mutex_unlock(&f->mu);
        return err_set(CAIRN_ERR_INVALID, "future already has a callback");
    }
    f->cb_set = 1;
    done = f->settled;
    if (!done) {
        f->cb = cb;
        f->cb_arg = arg;
    }
    pthread_mutex_unlock(&f->mu);
    if (done)
        cb(f, arg);
    return 0;
}

int cairn_future_error(cairn_future_t *f)
{
    int code;

    pthread_mutex_lock(&f->mu);
    code = f->settled ? f->code : CAIRN_ERR_AGAIN;
    pthread_mutex_unlock(&f->mu);
    return code;
}

const char *cairn_future_message(cairn_future_t *f)
{
    const char *m;

    /* msg is written once, before done is set, and never changes. */
    pthread_mutex_lock(&f->mu);
    m = f->settled && f->msg ? f->msg : "";
    pthread_mutex_unlock(&f->mu);
    return m;
}

const cairn_result_t *cairn_future_result(cairn_future_t *f)
{
    const cairn_result_t *r;

    pthread_mutex_lock(&f->mu);
    r = f->settled ? f->result : NULL;
    pthread_mutex_unlock(&f->mu);
    return r;
}

cairn_result_t *cairn_future_take_result(cairn_future_t *f)
{
    cairn_result_t *r = NULL;

    pthread_mutex_lock(&f->mu);
    if (f->settled) {
        r = f->result;
        f->result = NULL;
    }
    pthread_mutex_unlock(&f->mu);
    return r;
}

void cairn_future_free(cairn_future_t *f)
{
    if (f)
        future_release(f);
}

int cairn__future_sync(cairn_future_t *f, cairn_result_t **out)
{
    int code;

    if (out)
        *out = NULL;
    if (!f)
        return err_set(CAIRN_ERR_NO_MEMORY, "out of memory for a request");
    code = cairn_future_wait(f);
    if (code < 0) {
        if (code != CAIRN_ERR_INVALID || cairn_future_ready(f))
            err_set(code, "%s", cairn_future_message(f));
    } else if (out) {
        *out = cairn_future_take_result(f);
    }
    cairn_future_free(f);
    return code;
}
