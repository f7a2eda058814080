/*
 * test_client_server.c -- libcairn against a real cairn-server process.
 *
 * Each test starts its own server (srv.c: 127.0.0.1, ports 22000-22499,
 * a temporary data directory) and the teardown always stops it. Covered:
 * every request type, paging across many pages, scans in token order,
 * TTL expiry, each kind of delete, batches, restart with data intact
 * (SIGTERM and SIGKILL, the same client reconnecting on its own), many
 * threads sharing one client, and SIGTERM under load without losing an
 * acknowledged write. Expected values follow the data model of
 * ARCHITECTURE.md (LWW by timestamp, tombstones, inclusive slices) and
 * the partitioner in common/token.h.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cairn/cairn.h"
#include "common/token.h"
#include "tests/client/srv.h"

#ifndef CAIRN_SERVER_BIN
#error "CAIRN_SERVER_BIN must name the cairn-server executable"
#endif

#define PATIENCE_S 30

struct fx {
    struct srv s;
    cairn_client_t *c;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (srv_start(&f->s, CAIRN_SERVER_BIN) < 0 ||
        !(f->c = srv_client(&f->s, 2))) {
        srv_cleanup(&f->s);
        free(f);
        return -1;
    }
    assert_int_equal(cairn_create_keyspace(f->c, NULL, "ks", 1, 0), 0);
    assert_int_equal(cairn_create_table(f->c, NULL, "ks", "t", NULL, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (!f)
        return 0;
    cairn_client_free(f->c);
    srv_cleanup(&f->s);
    free(f);
    return 0;
}

static cairn_bytes_t b(const char *s)
{
    return cairn_str(s);
}

/* Value of `col` in row (pk, ck), into out; 1 found, 0 absent. */
static int get_cell(cairn_client_t *c, const char *table, const char *pk,
                    const char *ck, const char *col, char *out, size_t cap)
{
    cairn_result_t *r;
    const cairn_row_t *rows;
    int found = 0;

    assert_int_equal(cairn_get_row(c, NULL, "ks", table, b(pk), b(ck), &r), 0);
    if (cairn_result_rows(r, &rows) == 1) {
        for (size_t i = 0; i < rows[0].ncells; i++) {
            const cairn_cell_t *cl = &rows[0].cells[i];

            if (cl->column.len == strlen(col) &&
                memcmp(cl->column.data, col, cl->column.len) == 0) {
                snprintf(out, cap, "%.*s", (int)cl->value.len,
                         (const char *)cl->value.data);
                found = 1;
            }
        }
    }
    cairn_result_free(r);
    return found;
}

static void put1(cairn_client_t *c, const char *pk, const char *ck,
                 const char *col, const char *val, int64_t ts, uint32_t ttl)
{
    cairn_column_t cl = {b(col), b(val)};

    assert_int_equal(
        cairn_put(c, NULL, "ks", "t", b(pk), b(ck), &cl, 1, ts, ttl), 0);
}

/* ---- schema ---- */

static int has_table(cairn_client_t *c, const char *name, uint64_t *id,
                     cairn_table_options_t *opts)
{
    cairn_result_t *r;
    const cairn_table_t *t;
    size_t n;
    int found = 0;

    assert_int_equal(cairn_list_tables(c, NULL, "ks", &r), 0);
    n = cairn_result_tables(r, &t);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) == 0) {
            found = 1;
            *id = t[i].id;
            if (opts)
                *opts = t[i].options;
            assert_string_equal(t[i].keyspace, "ks");
        }
    }
    cairn_result_free(r);
    return found;
}

static void test_schema(void **state)
{
    struct fx *f = *state;
    cairn_table_options_t to = {3600, 60, 1}, got;
    const cairn_keyspace_t *k;
    cairn_result_t *r;
    uint64_t id1, id2;
    size_t n;
    int seen = 0;

    assert_int_equal(cairn_create_keyspace(f->c, NULL, "ks", 1, 0),
                     CAIRN_ERR_EXISTS);
    assert_int_equal(cairn_create_keyspace(f->c, NULL, "ks", 1, 1), 0);
    assert_int_equal(cairn_create_keyspace(f->c, NULL, "other", 1, 0), 0);
    assert_int_equal(cairn_list_keyspaces(f->c, NULL, &r), 0);
    n = cairn_result_keyspaces(r, &k);
    for (size_t i = 0; i < n; i++)
        seen += strcmp(k[i].name, "ks") == 0 || strcmp(k[i].name, "other") == 0;
    assert_int_equal(seen, 2);
    cairn_result_free(r);

    assert_int_equal(cairn_create_table(f->c, NULL, "ks", "opt", &to, 0), 0);
    assert_true(has_table(f->c, "opt", &id1, &got));
    assert_int_equal(got.gc_grace_s, 3600);
    assert_int_equal(got.default_ttl_s, 60);
    assert_true(got.no_compression);
    assert_int_equal(cairn_create_table(f->c, NULL, "ks", "opt", &to, 0),
                     CAIRN_ERR_EXISTS);
    assert_int_equal(cairn_create_table(f->c, NULL, "nope", "t", NULL, 0),
                     CAIRN_ERR_NO_KEYSPACE);

    /* Drop and re-create: a new id, and the old data never returns. */
    put1(f->c, "p", "", "a", "old", 0, 0);
    assert_true(has_table(f->c, "t", &id1, NULL));
    assert_int_equal(cairn_drop_table(f->c, NULL, "ks", "t", 0), 0);
    assert_false(has_table(f->c, "t", &id2, NULL));
    assert_int_equal(cairn_drop_table(f->c, NULL, "ks", "t", 0),
                     CAIRN_ERR_NO_TABLE);
    assert_int_equal(cairn_drop_table(f->c, NULL, "ks", "t", 1), 0);
    assert_int_equal(cairn_create_table(f->c, NULL, "ks", "t", NULL, 0), 0);
    assert_true(has_table(f->c, "t", &id2, NULL));
    assert_true(id2 != id1);
    {
        char v[16];

        assert_false(get_cell(f->c, "t", "p", "", "a", v, sizeof(v)));
    }

    assert_int_equal(cairn_drop_keyspace(f->c, NULL, "other", 0), 0);
    assert_int_equal(cairn_drop_keyspace(f->c, NULL, "other", 0),
                     CAIRN_ERR_NO_KEYSPACE);
    assert_int_equal(cairn_drop_keyspace(f->c, NULL, "other", 1), 0);
    assert_int_equal(cairn_list_tables(f->c, NULL, "other", &r),
                     CAIRN_ERR_NO_KEYSPACE);
}

/* ---- writes and reads ---- */

static void test_put_get_and_timestamps(void **state)
{
    struct fx *f = *state;
    cairn_column_t cols[2] = {{b("name"), b("ada")}, {b("lang"), b("c")}};
    char v[64];

    assert_int_equal(
        cairn_put(f->c, NULL, "ks", "t", b("u1"), b(""), cols, 2, 0, 0), 0);
    assert_true(get_cell(f->c, "t", "u1", "", "name", v, sizeof(v)));
    assert_string_equal(v, "ada");
    assert_true(get_cell(f->c, "t", "u1", "", "lang", v, sizeof(v)));
    assert_string_equal(v, "c");
    assert_false(get_cell(f->c, "t", "u2", "", "name", v, sizeof(v)));

    /* Last write wins by timestamp, not by arrival. */
    put1(f->c, "lww", "", "x", "new", 2000, 0);
    put1(f->c, "lww", "", "x", "stale", 1000, 0);
    assert_true(get_cell(f->c, "t", "lww", "", "x", v, sizeof(v)));
    assert_string_equal(v, "new");
    /* A resend of an old write with its own timestamp changes nothing. */
    put1(f->c, "lww", "", "x", "newer", 3000, 0);
    put1(f->c, "lww", "", "x", "new", 2000, 0);
    assert_true(get_cell(f->c, "t", "lww", "", "x", v, sizeof(v)));
    assert_string_equal(v, "newer");

    /* Client-stamped writes from one client apply in call order. */
    put1(f->c, "seq", "", "x", "1", 0, 0);
    put1(f->c, "seq", "", "x", "2", 0, 0);
    assert_true(get_cell(f->c, "t", "seq", "", "x", v, sizeof(v)));
    assert_string_equal(v, "2");

    /* Unknown names answer with their own codes. */
    assert_int_equal(
        cairn_put(f->c, NULL, "nope", "t", b("p"), b(""), cols, 1, 0, 0),
        CAIRN_ERR_NO_KEYSPACE);
    assert_int_equal(
        cairn_put(f->c, NULL, "ks", "nope", b("p"), b(""), cols, 1, 0, 0),
        CAIRN_ERR_NO_TABLE);
}

static void test_async_and_consistency(void **state)
{
    struct fx *f = *state;
    const cairn_req_opts_t one = {CAIRN_CL_ONE, 5000};
    const cairn_req_opts_t all = {CAIRN_CL_ALL, 5000};
    cairn_column_t cl = {b("v"), b("async")};
    cairn_future_t *w, *r;
    const cairn_row_t *rows;

    w = cairn_put_async(f->c, &one, "ks", "t", b("a1"), b("c"), &cl, 1, 0, 0);
    assert_int_equal(cairn_future_wait(w), 0);
    assert_null(cairn_future_result(w));
    cairn_future_free(w);
    r = cairn_get_row_async(f->c, &all, "ks", "t", b("a1"), b("c"));
    assert_int_equal(cairn_future_wait(r), 0);
    assert_int_equal(cairn_result_rows(cairn_future_result(r), &rows), 1);
    assert_int_equal(rows[0].ncells, 1);
    assert_memory_equal(rows[0].cells[0].value.data, "async", 5);
    cairn_future_free(r);
}

/* Sizes; CAIRN_LONG_TESTS=1 makes them 20 times larger. */
static int scale(int n)
{
    const char *e = getenv("CAIRN_LONG_TESTS");

    return e && strcmp(e, "1") == 0 ? n * 20 : n;
}

#define PAGE_ROWS scale(2500)

static void fill_partition(cairn_client_t *c, const char *pk, int rows)
{
    cairn_future_t **fs = calloc((size_t)rows, sizeof(*fs));
    char ck[16], val[16];

    for (int i = 0; i < rows; i++) {
        cairn_column_t cl;

        snprintf(ck, sizeof(ck), "%06d", i);
        snprintf(val, sizeof(val), "v%d", i);
        cl = (cairn_column_t){b("v"), b(val)};
        fs[i] = cairn_put_async(c, NULL, "ks", "t", b(pk), b(ck), &cl, 1, 0, 0);
    }
    for (int i = 0; i < rows; i++) {
        assert_int_equal(cairn_future_wait(fs[i]), 0);
        cairn_future_free(fs[i]);
    }
    free(fs);
}

static void test_paging(void **state)
{
    struct fx *f = *state;
    cairn_slice_t s = {0};
    cairn_iter_t *it;
    const cairn_row_t *row;
    cairn_result_t *r = NULL, *prev;
    cairn_bytes_t pk;
    char want[16];
    int n = 0, pages = 0;

    fill_partition(f->c, "big", PAGE_ROWS);

    /* The iterator: every row once, in clustering order. */
    s.page_size = 100;
    assert_int_equal(cairn_iter_slice(f->c, NULL, "ks", "t", b("big"), &s, &it),
                     0);
    while (cairn_iter_next(it, &pk, &row) == 1) {
        snprintf(want, sizeof(want), "%06d", n++);
        assert_int_equal(row->ck.len, 6);
        assert_memory_equal(row->ck.data, want, 6);
        assert_memory_equal(pk.data, "big", 3);
        snprintf(want, sizeof(want), "v%d", n - 1);
        assert_int_equal(row->ncells, 1);
        assert_int_equal(row->cells[0].value.len, strlen(want));
        assert_memory_equal(row->cells[0].value.data, want, strlen(want));
    }
    assert_int_equal(n, PAGE_ROWS);
    cairn_iter_free(it);

    /* Explicit paging states: 25 full pages of 100, then no state. */
    n = 0;
    do {
        const cairn_row_t *rows;

        prev = r;
        assert_int_equal(
            cairn_get_slice(f->c, NULL, "ks", "t", b("big"), &s, &r), 0);
        cairn_result_free(prev);
        n += (int)cairn_result_rows(r, &rows);
        pages++;
        s.paging_state = cairn_result_paging_state(r);
        assert_true(pages <= PAGE_ROWS / 100 + 1);
    } while (s.paging_state.len);
    cairn_result_free(r);
    assert_int_equal(n, PAGE_ROWS);
    assert_true(pages >= PAGE_ROWS / 100);

    /* An inclusive slice inside the partition. */
    memset(&s, 0, sizeof(s));
    s.start = b("000100");
    s.has_start = 1;
    s.end = b("000199");
    s.has_end = 1;
    s.page_size = 30;
    assert_int_equal(cairn_iter_slice(f->c, NULL, "ks", "t", b("big"), &s, &it),
                     0);
    n = 0;
    while (cairn_iter_next(it, &pk, &row) == 1) {
        snprintf(want, sizeof(want), "%06d", 100 + n++);
        assert_memory_equal(row->ck.data, want, 6);
    }
    cairn_iter_free(it);
    assert_int_equal(n, 100);
}

#define SCAN_PARTS     scale(300)
#define SCAN_PARTS_MAX 6000

static void test_scan_token_order(void **state)
{
    struct fx *f = *state;
    cairn_iter_t *it;
    const cairn_row_t *row;
    cairn_bytes_t pk;
    char key[16];
    static char seen[SCAN_PARTS_MAX];
    int64_t last_token = INT64_MIN;
    char last_pk[16] = "";
    int rows = 0, parts = 0;

    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < SCAN_PARTS; i++) {
        snprintf(key, sizeof(key), "p%d", i);
        put1(f->c, key, "a", "v", "1", 0, 0);
        put1(f->c, key, "b", "v", "2", 0, 0);
    }
    assert_int_equal(cairn_iter_scan(f->c, NULL, "ks", "t", 37, &it), 0);
    while (cairn_iter_next(it, &pk, &row) == 1) {
        int64_t tok = token_of(pk.data, pk.len);
        int idx;

        rows++;
        snprintf(key, sizeof(key), "%.*s", (int)pk.len, (const char *)pk.data);
        if (strcmp(key, last_pk) != 0) {
            /* A new partition: its token is not below the last one. */
            assert_true(tok >= last_token);
            last_token = tok;
            snprintf(last_pk, sizeof(last_pk), "%s", key);
            idx = atoi(key + 1);
            assert_int_equal(seen[idx], 0);
            seen[idx] = 1;
            parts++;
        }
    }
    cairn_iter_free(it);
    assert_int_equal(parts, SCAN_PARTS);
    assert_int_equal(rows, 2 * SCAN_PARTS);
}

static void test_scan_page_tokens(void **state)
{
    struct fx *f = *state;
    cairn_result_t *r;
    const cairn_partition_t *p;
    size_t n;

    put1(f->c, "k1", "", "v", "1", 0, 0);
    put1(f->c, "k2", "", "v", "2", 0, 0);
    assert_int_equal(cairn_scan(f->c, NULL, "ks", "t", 0, b(""), &r), 0);
    n = cairn_result_partitions(r, &p);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        assert_true(p[i].token == token_of(p[i].pkey.data, p[i].pkey.len));
    assert_int_equal(cairn_result_paging_state(r).len, 0);
    cairn_result_free(r);
}

/* ---- TTL ---- */

static int wait_gone(cairn_client_t *c, const char *table, const char *pk)
{
    char v[16];

    for (int i = 0; i < PATIENCE_S * 10; i++) {
        if (!get_cell(c, table, pk, "", "v", v, sizeof(v)))
            return 1;
        usleep(100000);
    }
    return 0;
}

static void test_ttl_expiry(void **state)
{
    struct fx *f = *state;
    cairn_table_options_t to = {0, 1, 0};
    cairn_result_t *r;
    const cairn_row_t *rows;
    cairn_column_t cl = {b("v"), b("x")};
    time_t before = time(NULL);

    /* TTL 2: the node stamps expiry as its whole second + TTL, so the
     * cell lives at least one full second, enough to read it back. */
    put1(f->c, "ttl", "", "v", "short", 0, 2);
    put1(f->c, "keep", "", "v", "forever", 0, 0);
    assert_int_equal(cairn_get_row(f->c, NULL, "ks", "t", b("ttl"), b(""), &r),
                     0);
    assert_int_equal(cairn_result_rows(r, &rows), 1);
    /* Expires two seconds after the write, in whole seconds. */
    assert_true(rows[0].cells[0].expires_s >= before + 2);
    assert_true(rows[0].cells[0].expires_s <= time(NULL) + 2);
    cairn_result_free(r);
    assert_true(wait_gone(f->c, "t", "ttl"));
    {
        char v[16];

        assert_true(get_cell(f->c, "t", "keep", "", "v", v, sizeof(v)));
    }

    /* A table's default TTL applies when the write names none. */
    assert_int_equal(cairn_create_table(f->c, NULL, "ks", "short", &to, 0), 0);
    assert_int_equal(
        cairn_put(f->c, NULL, "ks", "short", b("d"), b(""), &cl, 1, 0, 0), 0);
    assert_true(wait_gone(f->c, "short", "d"));
}

/* ---- deletes and batches ---- */

static int count_rows(cairn_client_t *c, const char *pk)
{
    cairn_iter_t *it;
    const cairn_row_t *row;
    cairn_bytes_t p;
    int n = 0;

    assert_int_equal(cairn_iter_slice(c, NULL, "ks", "t", b(pk), NULL, &it), 0);
    while (cairn_iter_next(it, &p, &row) == 1)
        n++;
    cairn_iter_free(it);
    return n;
}

static void test_deletes(void **state)
{
    struct fx *f = *state;
    cairn_bytes_t col = b("a");
    const char *cks[] = {"a", "b", "c", "d", "e", "f"};
    char v[16];

    /* Cell. */
    put1(f->c, "d", "r", "a", "1", 0, 0);
    put1(f->c, "d", "r", "b", "2", 0, 0);
    assert_int_equal(
        cairn_delete_cells(f->c, NULL, "ks", "t", b("d"), b("r"), &col, 1, 0),
        0);
    assert_false(get_cell(f->c, "t", "d", "r", "a", v, sizeof(v)));
    assert_true(get_cell(f->c, "t", "d", "r", "b", v, sizeof(v)));

    /* Row. */
    assert_int_equal(cairn_delete_row(f->c, NULL, "ks", "t", b("d"), b("r"), 0),
                     0);
    assert_false(get_cell(f->c, "t", "d", "r", "b", v, sizeof(v)));

    /* Range [b, d], both ends inclusive. */
    for (int i = 0; i < 6; i++)
        put1(f->c, "rg", cks[i], "a", cks[i], 0, 0);
    assert_int_equal(
        cairn_delete_range(f->c, NULL, "ks", "t", b("rg"), b("b"), b("d"), 0),
        0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(get_cell(f->c, "t", "rg", cks[i], "a", v, sizeof(v)),
                         i == 0 || i >= 4);
    assert_int_equal(count_rows(f->c, "rg"), 3);

    /* Partition; a later write shows again, an older one does not. */
    assert_int_equal(cairn_delete_partition(f->c, NULL, "ks", "t", b("rg"), 0),
                     0);
    assert_int_equal(count_rows(f->c, "rg"), 0);
    put1(f->c, "rg", "z", "a", "back", 0, 0);
    put1(f->c, "rg", "y", "a", "ancient", 1, 0);
    assert_int_equal(count_rows(f->c, "rg"), 1);
}

static void test_batch(void **state)
{
    struct fx *f = *state;
    cairn_mutation_t m[4] = {{0}};
    char v[16];

    put1(f->c, "bt", "old", "a", "1", 0, 0);
    m[0].kind = CAIRN_MUT_PUT;
    m[0].ck = b("r1");
    m[0].column = b("a");
    m[0].value = b("x");
    m[1].kind = CAIRN_MUT_PUT;
    m[1].ck = b("r2");
    m[1].column = b("a");
    m[1].value = b("y");
    m[2].kind = CAIRN_MUT_DELETE_ROW;
    m[2].ck = b("old");
    /* Same cell put and deleted in one batch: the delete wins the tie. */
    m[3].kind = CAIRN_MUT_DELETE_CELL;
    m[3].ck = b("r2");
    m[3].column = b("a");
    assert_int_equal(cairn_batch(f->c, NULL, "ks", "t", b("bt"), m, 4), 0);
    assert_true(get_cell(f->c, "t", "bt", "r1", "a", v, sizeof(v)));
    assert_string_equal(v, "x");
    assert_false(get_cell(f->c, "t", "bt", "r2", "a", v, sizeof(v)));
    assert_false(get_cell(f->c, "t", "bt", "old", "a", v, sizeof(v)));
}

/* ---- restart ---- */

static void write_many(cairn_client_t *c, const char *prefix, int n)
{
    char pk[32];

    for (int i = 0; i < n; i++) {
        snprintf(pk, sizeof(pk), "%s%d", prefix, i);
        put1(c, pk, "", "v", pk, 0, 0);
    }
}

static void check_many(cairn_client_t *c, const char *prefix, int n)
{
    char pk[32], v[32];

    for (int i = 0; i < n; i++) {
        snprintf(pk, sizeof(pk), "%s%d", prefix, i);
        if (!get_cell(c, "t", pk, "", "v", v, sizeof(v)))
            fail_msg("row %s lost", pk);
        assert_string_equal(v, pk);
    }
}

static int wait_connected(cairn_client_t *c, int want)
{
    for (int i = 0; i < PATIENCE_S * 100; i++) {
        if (cairn_client_connections(c) == want)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_restart_keeps_data(void **state)
{
    struct fx *f = *state;

    write_many(f->c, "s", 200);
    assert_int_equal(srv_stop(&f->s, SIGTERM), 0);
    assert_int_equal(srv_restart(&f->s), 0);
    /* The same client finds the node again by itself. */
    assert_true(wait_connected(f->c, 2));
    check_many(f->c, "s", 200);

    /* Acknowledged under group sync: durable even through SIGKILL. */
    write_many(f->c, "k", 200);
    srv_stop(&f->s, SIGKILL);
    assert_int_equal(cairn_list_keyspaces(f->c, NULL, NULL),
                     CAIRN_ERR_UNREACHABLE);
    assert_int_equal(srv_restart(&f->s), 0);
    assert_true(wait_connected(f->c, 2));
    check_many(f->c, "s", 200);
    check_many(f->c, "k", 200);
}

static void test_quick_restarts(void **state)
{
    struct fx *f = *state;
    cairn_client_stats_t st0, st1;
    int rc;

    /* D02: restart the node quickly, again and again. While it is down a
     * request fails fast (never waits out a timeout); once it is back
     * the pool is full again without any help. */
    cairn_client_stats(f->c, &st0);
    for (int i = 0; i < 4; i++) {
        srv_stop(&f->s, SIGKILL);
        rc = cairn_list_keyspaces(f->c, NULL, NULL);
        assert_true(rc == CAIRN_ERR_UNREACHABLE || rc == CAIRN_ERR_CLOSED);
        assert_int_equal(srv_restart(&f->s), 0);
        assert_true(wait_connected(f->c, 2));
        put1(f->c, "restart", "", "n", "x", 0, 0);
    }
    cairn_client_stats(f->c, &st1);
    assert_int_equal(st1.connections_lost - st0.connections_lost, 8);
    assert_int_equal(st1.timeouts, 0);
}

/* ---- many threads ---- */

#define THREADS    8
#define PER_THREAD scale(300)

struct worker {
    cairn_client_t *c;
    int id;
    int failures;
    long acked; /* writes acknowledged (load test) */
    volatile int *stop;
    int64_t *acked_ids;
};

static void *write_worker(void *arg)
{
    struct worker *w = arg;
    char pk[32];

    for (int i = 0; i < PER_THREAD; i++) {
        cairn_column_t cl;

        snprintf(pk, sizeof(pk), "w%d-%d", w->id, i);
        cl = (cairn_column_t){b("v"), b(pk)};
        if (i % 2) {
            cairn_future_t *fu = cairn_put_async(w->c, NULL, "ks", "t", b(pk),
                                                 b(""), &cl, 1, 0, 0);

            w->failures += cairn_future_wait(fu) != 0;
            cairn_future_free(fu);
        } else {
            w->failures += cairn_put(w->c, NULL, "ks", "t", b(pk), b(""), &cl,
                                     1, 0, 0) != 0;
        }
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    struct fx *f = *state;
    pthread_t t[THREADS];
    struct worker w[THREADS];
    cairn_client_t *other = srv_client(&f->s, 1);
    char prefix[16];

    /* Half the threads share the fixture's client, half a second one. */
    assert_non_null(other);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){i % 2 ? other : f->c, i, 0, 0, NULL, NULL};
        assert_int_equal(pthread_create(&t[i], NULL, write_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    for (int i = 0; i < THREADS; i++) {
        snprintf(prefix, sizeof(prefix), "w%d-", i);
        check_many(i % 2 ? f->c : other, prefix, PER_THREAD);
    }
    cairn_client_free(other);
}

/* ---- SIGTERM under load ---- */

#define LOAD_MAX 200000

static void *load_worker(void *arg)
{
    struct worker *w = arg;
    char pk[32];

    for (long i = 0; !*w->stop && i < LOAD_MAX; i++) {
        cairn_column_t cl;

        snprintf(pk, sizeof(pk), "L%d-%ld", w->id, i);
        cl = (cairn_column_t){b("v"), b(pk)};
        if (cairn_put(w->c, NULL, "ks", "t", b(pk), b(""), &cl, 1, 0, 0) == 0)
            w->acked_ids[w->acked++] = i;
        else
            w->failures++;
        if (w->failures > 0)
            break; /* the node is going away; stop at the first refusal */
    }
    return NULL;
}

/* Static, so a failing assertion leaks nothing. */
static int64_t acked_ids[4][LOAD_MAX];

static void test_sigterm_under_load(void **state)
{
    struct fx *f = *state;
    pthread_t t[4];
    struct worker w[4];
    volatile int stop = 0;
    long total = 0;
    char pk[32], v[32];

    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){f->c, i, 0, 0, &stop, NULL};
        w[i].acked_ids = acked_ids[i];
        assert_int_equal(pthread_create(&t[i], NULL, load_worker, &w[i]), 0);
    }
    /* Let the load build up, then ask the node to stop. */
    while (w[0].acked + w[1].acked + w[2].acked + w[3].acked < 2000)
        usleep(1000);
    assert_int_equal(srv_stop(&f->s, SIGTERM), 0);
    stop = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].acked;
    }
    assert_true(total >= 2000);

    assert_int_equal(srv_restart(&f->s), 0);
    assert_true(wait_connected(f->c, 2));
    for (int i = 0; i < 4; i++) {
        for (long j = 0; j < w[i].acked; j++) {
            snprintf(pk, sizeof(pk), "L%d-%ld", i, (long)w[i].acked_ids[j]);
            if (!get_cell(f->c, "t", pk, "", "v", v, sizeof(v)))
                fail_msg("acknowledged write %s lost", pk);
            assert_string_equal(v, pk);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_and_timestamps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async_and_consistency, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_token_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_page_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_quick_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_under_load, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
