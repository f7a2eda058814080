/*
 * requests.c -- the request functions of libcairn's public API.
 *
 * Each call checks its arguments, fills a protobuf Request on the stack
 * (pointing at the caller's bytes: nothing is copied before encoding) and
 * hands it to cairn__submit(), which encodes it before returning. The
 * synchronous forms wait on the future of the asynchronous ones. Writes
 * are stamped here, on the caller's thread, so a resend carries the very
 * same timestamp.
 */
#include "client/internal.h"
#include "common/err.h"
#include "common/mem.h"

/* Longest keyspace or table name, in bytes. */
#define NAME_MAX_LEN 48
/* Longest partition key (ARCHITECTURE.md: data model). */
#define PKEY_MAX (64u << 10)

static int check_name(const char *what, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > NAME_MAX_LEN)
        return err_set(CAIRN_ERR_INVALID, "%s name must be 1 to %d bytes", what,
                       NAME_MAX_LEN);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!(ch == '_' || (ch >= '0' && ch <= '9') ||
              (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return err_set(CAIRN_ERR_INVALID,
                           "%s name '%s' may hold only letters, digits and "
                           "'_'",
                           what, s);
    }
    return 0;
}

static int check_target(const char *ks, const char *table, cairn_bytes_t pkey)
{
    int rc = check_name("keyspace", ks);

    if (rc == 0)
        rc = check_name("table", table);
    if (rc == 0 && pkey.len > PKEY_MAX)
        rc = err_set(CAIRN_ERR_TOO_BIG, "partition key of %zu bytes is over %u",
                     pkey.len, PKEY_MAX);
    if (rc == 0 && pkey.len && !pkey.data)
        rc = err_set(CAIRN_ERR_INVALID, "partition key data is NULL");
    return rc;
}

static cairn_future_t *fail_now(int rc)
{
    return cairn__future_failed(rc, err_msg());
}

static ProtobufCBinaryData pb(cairn_bytes_t b)
{
    ProtobufCBinaryData d = {b.len, (uint8_t *)b.data};

    return d;
}

/* ---- schema ---- */

cairn_future_t *cairn_create_keyspace_async(cairn_client_t *c,
                                            const cairn_req_opts_t *ro,
                                            const char *name, uint32_t rf,
                                            int if_not_exists)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__CreateKeyspace m = CAIRN__CREATE_KEYSPACE__INIT;
    int rc = check_name("keyspace", name);

    if (rc == 0 && rf == 0)
        rc = err_set(CAIRN_ERR_INVALID, "replication factor must be >= 1");
    if (rc < 0)
        return fail_now(rc);
    m.name = (char *)name;
    m.replication_factor = rf;
    m.if_not_exists = if_not_exists != 0;
    rq.op_case = CAIRN__REQUEST__OP_CREATE_KEYSPACE;
    rq.create_keyspace = &m;
    return cairn__submit(c, ro, &rq, if_not_exists != 0);
}

int cairn_create_keyspace(cairn_client_t *c, const cairn_req_opts_t *ro,
                          const char *name, uint32_t rf, int if_not_exists)
{
    return cairn__future_sync(
        cairn_create_keyspace_async(c, ro, name, rf, if_not_exists), NULL);
}

cairn_future_t *cairn_drop_keyspace_async(cairn_client_t *c,
                                          const cairn_req_opts_t *ro,
                                          const char *name, int if_exists)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__DropKeyspace m = CAIRN__DROP_KEYSPACE__INIT;
    int rc = check_name("keyspace", name);

    if (rc < 0)
        return fail_now(rc);
    m.name = (char *)name;
    m.if_exists = if_exists != 0;
    rq.op_case = CAIRN__REQUEST__OP_DROP_KEYSPACE;
    rq.drop_keyspace = &m;
    return cairn__submit(c, ro, &rq, if_exists != 0);
}

int cairn_drop_keyspace(cairn_client_t *c, const cairn_req_opts_t *ro,
                        const char *name, int if_exists)
{
    return cairn__future_sync(cairn_drop_keyspace_async(c, ro, name, if_exists),
                              NULL);
}

cairn_future_t *cairn_list_keyspaces_async(cairn_client_t *c,
                                           const cairn_req_opts_t *ro)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__ListKeyspaces m = CAIRN__LIST_KEYSPACES__INIT;

    rq.op_case = CAIRN__REQUEST__OP_LIST_KEYSPACES;
    rq.list_keyspaces = &m;
    return cairn__submit(c, ro, &rq, 1);
}

int cairn_list_keyspaces(cairn_client_t *c, const cairn_req_opts_t *ro,
                         cairn_result_t **out)
{
    return cairn__future_sync(cairn_list_keyspaces_async(c, ro), out);
}

cairn_future_t *cairn_create_table_async(cairn_client_t *c,
                                         const cairn_req_opts_t *ro,
                                         const char *ks, const char *name,
                                         const cairn_table_options_t *opts,
                                         int if_not_exists)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__CreateTable m = CAIRN__CREATE_TABLE__INIT;
    Cairn__TableOptions to = CAIRN__TABLE_OPTIONS__INIT;
    int rc = check_name("keyspace", ks);

    if (rc == 0)
        rc = check_name("table", name);
    if (rc < 0)
        return fail_now(rc);
    if (opts) {
        to.gc_grace_s = opts->gc_grace_s;
        to.default_ttl_s = opts->default_ttl_s;
        to.no_compression = opts->no_compression != 0;
    }
    m.keyspace = (char *)ks;
    m.name = (char *)name;
    m.options = &to;
    m.if_not_exists = if_not_exists != 0;
    rq.op_case = CAIRN__REQUEST__OP_CREATE_TABLE;
    rq.create_table = &m;
    return cairn__submit(c, ro, &rq, if_not_exists != 0);
}

int cairn_create_table(cairn_client_t *c, const cairn_req_opts_t *ro,
                       const char *ks, const char *name,
                       const cairn_table_options_t *opts, int if_not_exists)
{
    return cairn__future_sync(
        cairn_create_table_async(c, ro, ks, name, opts, if_not_exists), NULL);
}

cairn_future_t *cairn_drop_table_async(cairn_client_t *c,
                                       const cairn_req_opts_t *ro,
                                       const char *ks, const char *name,
                                       int if_exists)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__DropTable m = CAIRN__DROP_TABLE__INIT;
    int rc = check_name("keyspace", ks);

    if (rc == 0)
        rc = check_name("table", name);
    if (rc < 0)
        return fail_now(rc);
    m.keyspace = (char *)ks;
    m.name = (char *)name;
    m.if_exists = if_exists != 0;
    rq.op_case = CAIRN__REQUEST__OP_DROP_TABLE;
    rq.drop_table = &m;
    return cairn__submit(c, ro, &rq, if_exists != 0);
}

int cairn_drop_table(cairn_client_t *c, const cairn_req_opts_t *ro,
                     const char *ks, const char *name, int if_exists)
{
    return cairn__future_sync(
        cairn_drop_table_async(c, ro, ks, name, if_exists), NULL);
}

cairn_future_t *cairn_list_tables_async(cairn_client_t *c,
                                        const cairn_req_opts_t *ro,
                                        const char *ks)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__ListTables m = CAIRN__LIST_TABLES__INIT;
    int rc = check_name("keyspace", ks);

    if (rc < 0)
        return fail_now(rc);
    m.keyspace = (char *)ks;
    rq.op_case = CAIRN__REQUEST__OP_LIST_TABLES;
    rq.list_tables = &m;
    return cairn__submit(c, ro, &rq, 1);
}

int cairn_list_tables(cairn_client_t *c, const cairn_req_opts_t *ro,
                      const char *ks, cairn_result_t **out)
{
    return cairn__future_sync(cairn_list_tables_async(c, ro, ks), out);
}

/* ---- writes ---- */

static int check_mutation(const cairn_mutation_t *m)
{
    if ((unsigned)m->kind > CAIRN_MUT_DELETE_PARTITION)
        return err_set(CAIRN_ERR_INVALID, "unknown mutation kind %d",
                       (int)m->kind);
    if ((m->kind == CAIRN_MUT_PUT || m->kind == CAIRN_MUT_DELETE_CELL) &&
        m->column.len == 0)
        return err_set(CAIRN_ERR_INVALID, "a cell needs a column name");
    if (m->timestamp_us < 0)
        return err_set(CAIRN_ERR_INVALID, "timestamp %lld is negative",
                       (long long)m->timestamp_us);
    return 0;
}

static void fill_mutation(Cairn__Mutation *d, const cairn_mutation_t *m,
                          int64_t ts)
{
    cairn__mutation__init(d);
    d->kind = (Cairn__MutationKind)m->kind;
    d->ck = pb(m->ck);
    d->ck_end = pb(m->ck_end);
    d->column = pb(m->column);
    d->value = pb(m->value);
    d->timestamp = m->timestamp_us ? m->timestamp_us : ts;
    d->ttl_s = m->ttl_s;
}

cairn_future_t *cairn_batch_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                  const char *ks, const char *table,
                                  cairn_bytes_t pkey, const cairn_mutation_t *m,
                                  size_t n)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Write w = CAIRN__WRITE__INIT;
    Cairn__Mutation *pm;
    Cairn__Mutation **pp;
    cairn_future_t *f;
    int64_t ts;
    int rc = check_target(ks, table, pkey);

    if (rc == 0 && (n == 0 || !m))
        rc = err_set(CAIRN_ERR_INVALID, "a write needs a mutation");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_mutation(&m[i]);
    if (rc < 0 || !c)
        return fail_now(rc < 0 ? rc
                               : err_set(CAIRN_ERR_INVALID, "client is NULL"));
    pm = mem_calloc(MEM_CLIENT, n, sizeof(*pm));
    pp = mem_calloc(MEM_CLIENT, n, sizeof(*pp));
    if (!pm || !pp) {
        mem_free(pm);
        mem_free(pp);
        return fail_now(err_set(CAIRN_ERR_NO_MEMORY, "out of memory"));
    }
    ts = cairn_client_timestamp(c);
    for (size_t i = 0; i < n; i++) {
        fill_mutation(&pm[i], &m[i], ts);
        pp[i] = &pm[i];
    }
    w.keyspace = (char *)ks;
    w.table = (char *)table;
    w.pkey = pb(pkey);
    w.n_mutations = n;
    w.mutations = pp;
    rq.op_case = CAIRN__REQUEST__OP_WRITE;
    rq.write = &w;
    f = cairn__submit(c, ro, &rq, 1);
    mem_free(pm);
    mem_free(pp);
    return f;
}

int cairn_batch(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
                const char *table, cairn_bytes_t pkey,
                const cairn_mutation_t *m, size_t n)
{
    return cairn__future_sync(cairn_batch_async(c, ro, ks, table, pkey, m, n),
                              NULL);
}

/* A batch of `n` like mutations built from a template and n columns. */
static cairn_future_t *
cells_async(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
            const char *table, cairn_bytes_t pkey, const cairn_mutation_t *tmpl,
            const cairn_column_t *cols, const cairn_bytes_t *names, size_t n)
{
    cairn_mutation_t *m;
    cairn_future_t *f;

    if (n == 0 || (!cols && !names))
        return fail_now(err_set(CAIRN_ERR_INVALID, "no columns given"));
    m = mem_calloc(MEM_CLIENT, n, sizeof(*m));
    if (!m)
        return fail_now(err_set(CAIRN_ERR_NO_MEMORY, "out of memory"));
    for (size_t i = 0; i < n; i++) {
        m[i] = *tmpl;
        m[i].column = cols ? cols[i].name : names[i];
        if (cols)
            m[i].value = cols[i].value;
    }
    f = cairn_batch_async(c, ro, ks, table, pkey, m, n);
    mem_free(m);
    return f;
}

cairn_future_t *cairn_put_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                const char *ks, const char *table,
                                cairn_bytes_t pkey, cairn_bytes_t ck,
                                const cairn_column_t *cols, size_t ncols,
                                int64_t timestamp_us, uint32_t ttl_s)
{
    cairn_mutation_t t = {0};

    t.kind = CAIRN_MUT_PUT;
    t.ck = ck;
    t.timestamp_us = timestamp_us;
    t.ttl_s = ttl_s;
    return cells_async(c, ro, ks, table, pkey, &t, cols, NULL, ncols);
}

int cairn_put(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
              const char *table, cairn_bytes_t pkey, cairn_bytes_t ck,
              const cairn_column_t *cols, size_t ncols, int64_t timestamp_us,
              uint32_t ttl_s)
{
    return cairn__future_sync(cairn_put_async(c, ro, ks, table, pkey, ck, cols,
                                              ncols, timestamp_us, ttl_s),
                              NULL);
}

cairn_future_t *cairn_delete_cells_async(cairn_client_t *c,
                                         const cairn_req_opts_t *ro,
                                         const char *ks, const char *table,
                                         cairn_bytes_t pkey, cairn_bytes_t ck,
                                         const cairn_bytes_t *columns, size_t n,
                                         int64_t timestamp_us)
{
    cairn_mutation_t t = {0};

    t.kind = CAIRN_MUT_DELETE_CELL;
    t.ck = ck;
    t.timestamp_us = timestamp_us;
    return cells_async(c, ro, ks, table, pkey, &t, NULL, columns, n);
}

int cairn_delete_cells(cairn_client_t *c, const cairn_req_opts_t *ro,
                       const char *ks, const char *table, cairn_bytes_t pkey,
                       cairn_bytes_t ck, const cairn_bytes_t *columns, size_t n,
                       int64_t timestamp_us)
{
    return cairn__future_sync(cairn_delete_cells_async(c, ro, ks, table, pkey,
                                                       ck, columns, n,
                                                       timestamp_us),
                              NULL);
}

cairn_future_t *cairn_delete_row_async(cairn_client_t *c,
                                       const cairn_req_opts_t *ro,
                                       const char *ks, const char *table,
                                       cairn_bytes_t pkey, cairn_bytes_t ck,
                                       int64_t timestamp_us)
{
    cairn_mutation_t m = {0};

    m.kind = CAIRN_MUT_DELETE_ROW;
    m.ck = ck;
    m.timestamp_us = timestamp_us;
    return cairn_batch_async(c, ro, ks, table, pkey, &m, 1);
}

int cairn_delete_row(cairn_client_t *c, const cairn_req_opts_t *ro,
                     const char *ks, const char *table, cairn_bytes_t pkey,
                     cairn_bytes_t ck, int64_t timestamp_us)
{
    return cairn__future_sync(
        cairn_delete_row_async(c, ro, ks, table, pkey, ck, timestamp_us), NULL);
}

cairn_future_t *
cairn_delete_range_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                         const char *ks, const char *table, cairn_bytes_t pkey,
                         cairn_bytes_t first, cairn_bytes_t last,
                         int64_t timestamp_us)
{
    cairn_mutation_t m = {0};

    m.kind = CAIRN_MUT_DELETE_RANGE;
    m.ck = first;
    m.ck_end = last;
    m.timestamp_us = timestamp_us;
    return cairn_batch_async(c, ro, ks, table, pkey, &m, 1);
}

int cairn_delete_range(cairn_client_t *c, const cairn_req_opts_t *ro,
                       const char *ks, const char *table, cairn_bytes_t pkey,
                       cairn_bytes_t first, cairn_bytes_t last,
                       int64_t timestamp_us)
{
    return cairn__future_sync(cairn_delete_range_async(c, ro, ks, table, pkey,
                                                       first, last,
                                                       timestamp_us),
                              NULL);
}

cairn_future_t *cairn_delete_partition_async(cairn_client_t *c,
                                             const cairn_req_opts_t *ro,
                                             const char *ks, const char *table,
                                             cairn_bytes_t pkey,
                                             int64_t timestamp_us)
{
    cairn_mutation_t m = {0};

    m.kind = CAIRN_MUT_DELETE_PARTITION;
    m.timestamp_us = timestamp_us;
    return cairn_batch_async(c, ro, ks, table, pkey, &m, 1);
}

int cairn_delete_partition(cairn_client_t *c, const cairn_req_opts_t *ro,
                           const char *ks, const char *table,
                           cairn_bytes_t pkey, int64_t timestamp_us)
{
    return cairn__future_sync(
        cairn_delete_partition_async(c, ro, ks, table, pkey, timestamp_us),
        NULL);
}

/* ---- reads ---- */

cairn_future_t *cairn_get_slice_async(cairn_client_t *c,
                                      const cairn_req_opts_t *ro,
                                      const char *ks, const char *table,
                                      cairn_bytes_t pkey,
                                      const cairn_slice_t *s)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Read m = CAIRN__READ__INIT;
    int rc = check_target(ks, table, pkey);

    if (rc < 0)
        return fail_now(rc);
    m.keyspace = (char *)ks;
    m.table = (char *)table;
    m.pkey = pb(pkey);
    if (s) {
        m.ck_start = pb(s->start);
        m.has_ck_start = s->has_start != 0;
        m.ck_end = pb(s->end);
        m.has_ck_end = s->has_end != 0;
        m.page_size = s->page_size;
        m.paging_state = pb(s->paging_state);
    }
    rq.op_case = CAIRN__REQUEST__OP_READ;
    rq.read = &m;
    return cairn__submit(c, ro, &rq, 1);
}

int cairn_get_slice(cairn_client_t *c, const cairn_req_opts_t *ro,
                    const char *ks, const char *table, cairn_bytes_t pkey,
                    const cairn_slice_t *s, cairn_result_t **out)
{
    return cairn__future_sync(cairn_get_slice_async(c, ro, ks, table, pkey, s),
                              out);
}

cairn_future_t *cairn_get_row_async(cairn_client_t *c,
                                    const cairn_req_opts_t *ro, const char *ks,
                                    const char *table, cairn_bytes_t pkey,
                                    cairn_bytes_t ck)
{
    cairn_slice_t s = {0};

    s.start = ck;
    s.has_start = 1;
    s.end = ck;
    s.has_end = 1;
    s.page_size = 1;
    return cairn_get_slice_async(c, ro, ks, table, pkey, &s);
}

int cairn_get_row(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
                  const char *table, cairn_bytes_t pkey, cairn_bytes_t ck,
                  cairn_result_t **out)
{
    return cairn__future_sync(cairn_get_row_async(c, ro, ks, table, pkey, ck),
                              out);
}

cairn_future_t *cairn_scan_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                 const char *ks, const char *table,
                                 uint32_t page_size, cairn_bytes_t paging_state)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Scan m = CAIRN__SCAN__INIT;
    cairn_bytes_t none = {NULL, 0};
    int rc = check_target(ks, table, none);

    if (rc < 0)
        return fail_now(rc);
    m.keyspace = (char *)ks;
    m.table = (char *)table;
    m.page_size = page_size;
    m.paging_state = pb(paging_state);
    rq.op_case = CAIRN__REQUEST__OP_SCAN;
    rq.scan = &m;
    return cairn__submit(c, ro, &rq, 1);
}

int cairn_scan(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
               const char *table, uint32_t page_size,
               cairn_bytes_t paging_state, cairn_result_t **out)
{
    return cairn__future_sync(
        cairn_scan_async(c, ro, ks, table, page_size, paging_state), out);
}

cairn_future_t *cairn_admin_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                  const char *command, const char *keyspace)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Admin m = CAIRN__ADMIN__INIT;

    if (!command || !command[0])
        return cairn__future_failed(CAIRN_ERR_INVALID, "no admin command");
    if (keyspace && keyspace[0] && check_name("keyspace", keyspace) < 0)
        return fail_now(CAIRN_ERR_INVALID);
    m.command = (char *)command;
    m.keyspace = (char *)(keyspace ? keyspace : "");
    rq.op_case = CAIRN__REQUEST__OP_ADMIN;
    rq.admin = &m;
    /* Views are safe to resend; flush and compact are too (idempotent). */
    return cairn__submit(c, ro, &rq, strcmp(command, "drain") != 0);
}

int cairn_admin(cairn_client_t *c, const cairn_req_opts_t *ro,
                const char *command, const char *keyspace, cairn_result_t **out)
{
    return cairn__future_sync(cairn_admin_async(c, ro, command, keyspace), out);
}
