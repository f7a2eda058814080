/*
 * test_server_proc.c -- cairn-server as a real process on 127.0.0.1,
 * driven through the raw protocol (tclient.h): every request type,
 * paging, TTL, deletes, restarts, bad input next to a well-behaved
 * client, graceful shutdown under load, and a client port that opens
 * only after commit log replay. Each test owns ports 21000 + 10*k.
 *
 * Expected values come from what the test wrote and from the protocol's
 * rules (docs/protocol.md): last write wins by timestamp, deletes shadow
 * older cells, pages resume where the last one stopped.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "tclient.h"

#define PORT(k) ((uint16_t)(21000 + 10 * (k)))

static const char *const sync_none[] = {"--sync", "none", NULL};

static ProtobufCBinaryData bytes_of(const char *s)
{
    return (ProtobufCBinaryData){strlen(s), (uint8_t *)s};
}

/* setup_table -- keyspace ks1 (rf 1) and table ks1.t on a fresh node. */
static int setup_table(uint16_t port, uint32_t ttl)
{
    int fd = tc_open(port);

    assert_int_equal(tc_create_ks(fd, "ks1", 1), 0);
    assert_int_equal(tc_create_table(fd, "ks1", "t", ttl), 0);
    return fd;
}

/* ---- schema ---- */

static Cairn__Response *list_tables(int fd, const char *ks)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__ListTables lt = CAIRN__LIST_TABLES__INIT;

    lt.keyspace = (char *)ks;
    rq.op_case = CAIRN__REQUEST__OP_LIST_TABLES;
    rq.list_tables = &lt;
    return tc_call(fd, &rq);
}

static uint64_t table_id(int fd, const char *ks, const char *t)
{
    Cairn__Response *r = list_tables(fd, ks);
    uint64_t id = 0;

    assert_non_null(r);
    assert_int_equal(tc_rc(r), 0);
    for (size_t i = 0; i < r->tables->n_tables; i++)
        if (strcmp(r->tables->tables[i]->name, t) == 0)
            id = r->tables->tables[i]->id;
    tc_free(r);
    return id;
}

static void check_keyspaces(int fd, const char *want)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__ListKeyspaces lk = CAIRN__LIST_KEYSPACES__INIT;
    Cairn__Response *r;
    char got[256] = "";

    rq.op_case = CAIRN__REQUEST__OP_LIST_KEYSPACES;
    rq.list_keyspaces = &lk;
    r = tc_call(fd, &rq);
    assert_int_equal(tc_rc(r), 0);
    for (size_t i = 0; i < r->keyspaces->n_keyspaces; i++) {
        char one[80];
        snprintf(one, sizeof(one), "%s/%u;", r->keyspaces->keyspaces[i]->name,
                 r->keyspaces->keyspaces[i]->replication_factor);
        strcat(got, one);
    }
    tc_free(r);
    assert_string_equal(got, want);
}

static void test_schema(void **state)
{
    char dir[256], val[64];
    Cairn__Response *r;
    uint64_t id1, id2;
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("schema", dir, sizeof(dir));
    pid = tc_start(dir, PORT(0), sync_none);
    fd = tc_open(PORT(0));
    assert_int_equal(tc_create_ks(fd, "ks1", 1), 0);
    assert_int_equal(tc_create_ks(fd, "ks1", 1), CAIRN_EEXISTS);
    assert_int_equal(tc_create_ks(fd, "ks2", 3), 0);
    assert_int_equal(tc_create_ks(fd, "bad-name", 1), -EINVAL);
    assert_int_equal(tc_create_ks(fd, "ks3", 0), -EINVAL);
    check_keyspaces(fd, "ks1/1;ks2/3;");
    assert_int_equal(tc_create_table(fd, "nope", "t", 0), CAIRN_ENOKEYSPACE);
    assert_int_equal(tc_create_table(fd, "ks1", "t", 0), 0);
    assert_int_equal(tc_create_table(fd, "ks1", "t", 0), CAIRN_EEXISTS);
    assert_int_equal(tc_put(fd, "ks1", "nope", "p", "", "c", "v"),
                     CAIRN_ENOTABLE);
    assert_int_equal(tc_put(fd, "nope", "t", "p", "", "c", "v"),
                     CAIRN_ENOKEYSPACE);
    r = list_tables(fd, "nope");
    assert_int_equal(tc_rc(r), CAIRN_ENOKEYSPACE);
    assert_non_null(strstr(r->error->message, "nope"));
    tc_free(r);
    id1 = table_id(fd, "ks1", "t");
    assert_true(id1 != 0);
    assert_int_equal(tc_put(fd, "ks1", "t", "p", "", "c", "old"), 0);

    /* Schema survives a restart; the data of a dropped table does not. */
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
    pid = tc_start(dir, PORT(0), sync_none);
    fd = tc_open(PORT(0));
    check_keyspaces(fd, "ks1/1;ks2/3;");
    assert_int_equal(table_id(fd, "ks1", "t"), id1);
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "", "c", val, sizeof(val)), 1);
    assert_int_equal(tc_drop_table(fd, "ks1", "t"), 0);
    assert_int_equal(tc_drop_table(fd, "ks1", "t"), CAIRN_ENOTABLE);
    assert_int_equal(tc_create_table(fd, "ks1", "t", 0), 0);
    id2 = table_id(fd, "ks1", "t");
    assert_true(id2 > id1);
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "", "c", val, sizeof(val)), 0);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
    pid = tc_start(dir, PORT(0), sync_none);
    fd = tc_open(PORT(0));
    assert_int_equal(table_id(fd, "ks1", "t"), id2);
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "", "c", val, sizeof(val)), 0);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- writes and reads ---- */

static Cairn__Response *read_rows(int fd, const char *pk, const char *from,
                                  const char *to, uint32_t page,
                                  ProtobufCBinaryData ps)
{
    Cairn__Read rd = CAIRN__READ__INIT;

    rd.keyspace = "ks1";
    rd.table = "t";
    rd.pkey = bytes_of(pk);
    if (from)
        rd.ck_start = bytes_of(from);
    if (to)
        rd.ck_end = bytes_of(to);
    rd.page_size = page;
    rd.paging_state = ps;
    return tc_read(fd, &rd);
}

/* row_cks -- "ck1,ck2," of a read answer. */
static void row_cks(const Cairn__Response *r, char *out, size_t size)
{
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < r->read->n_rows && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%.*s,",
                              (int)r->read->rows[i]->ck.len,
                              (const char *)r->read->rows[i]->ck.data);
}

static void test_write_read(void **state)
{
    const char *const extra[] = {"--sync", "none", "--max-value-bytes", "1024",
                                 NULL};
    Cairn__Mutation m[3];
    Cairn__Response *r;
    char dir[256], val[64], cks[256], big[2048];
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("rw", dir, sizeof(dir));
    pid = tc_start(dir, PORT(1), extra);
    fd = setup_table(PORT(1), 0);

    /* A batch of one partition; a plain key-value row (empty ck). */
    m[0] = tc_cell("a", "x", "1", 0, 0);
    m[1] = tc_cell("b", "x", "2", 0, 0);
    m[2] = tc_cell("c", "x", "3", 0, 0);
    assert_int_equal(tc_write(fd, "ks1", "t", "p1", m, 3), 0);
    assert_int_equal(tc_put(fd, "ks1", "t", "kv", "", "v", "plain"), 0);
    assert_int_equal(tc_get(fd, "ks1", "t", "kv", "", "v", val, sizeof(val)),
                     1);
    assert_string_equal(val, "plain");

    /* Whole partition, a slice, one row. */
    r = read_rows(fd, "p1", NULL, NULL, 0, (ProtobufCBinaryData){0, NULL});
    row_cks(r, cks, sizeof(cks));
    assert_string_equal(cks, "a,b,c,");
    assert_int_equal(r->read->paging_state.len, 0);
    tc_free(r);
    r = read_rows(fd, "p1", "b", "c", 0, (ProtobufCBinaryData){0, NULL});
    row_cks(r, cks, sizeof(cks));
    assert_string_equal(cks, "b,c,");
    tc_free(r);
    assert_int_equal(tc_get(fd, "ks1", "t", "p1", "b", "x", val, sizeof(val)),
                     1);
    assert_string_equal(val, "2");

    /* Client timestamps: an older write loses to a newer one. */
    m[0] = tc_cell("r", "x", "new", 2000, 0);
    assert_int_equal(tc_write(fd, "ks1", "t", "ts", m, 1), 0);
    m[0] = tc_cell("r", "x", "old", 1000, 0);
    assert_int_equal(tc_write(fd, "ks1", "t", "ts", m, 1), 0);
    assert_int_equal(tc_get(fd, "ks1", "t", "ts", "r", "x", val, sizeof(val)),
                     1);
    assert_string_equal(val, "new");

    /* Server stamps: successive writes without a timestamp win in order. */
    for (int i = 0; i < 50; i++) {
        char v[16];
        snprintf(v, sizeof(v), "v%d", i);
        assert_int_equal(tc_put(fd, "ks1", "t", "seq", "", "x", v), 0);
    }
    assert_int_equal(tc_get(fd, "ks1", "t", "seq", "", "x", val, sizeof(val)),
                     1);
    assert_string_equal(val, "v49");

    /* Limits: a value over --max-value-bytes, a key over 64 KiB. */
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(tc_put(fd, "ks1", "t", "p", "", "x", big), CAIRN_ETOOBIG);
    {
        char *key = malloc(70000);
        memset(key, 'k', 69999);
        key[69999] = '\0';
        assert_int_equal(tc_put(fd, "ks1", "t", key, "", "x", "v"),
                         CAIRN_ETOOBIG);
        free(key);
    }
    assert_int_equal(tc_put(fd, "ks1", "t", "", "", "x", "v"), -EINVAL);
    assert_int_equal(tc_put(fd, "ks1", "t", "p", "", "", "v"), -EINVAL);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- paging ---- */

static void fill_partition(int fd, const char *pk, int rows)
{
    for (int i = 0; i < rows; i += 50) {
        Cairn__Mutation m[50];
        char ck[50][16];
        int n = 0;
        for (int j = i; j < rows && j < i + 50; j++, n++) {
            snprintf(ck[n], sizeof(ck[n]), "r%06d", j);
            m[n] = tc_cell(ck[n], "c", ck[n], 0, 0);
        }
        assert_int_equal(tc_write(fd, "ks1", "t", pk, m, (size_t)n), 0);
    }
}

static void page_partition(int fd, int rows, uint32_t page)
{
    ProtobufCBinaryData ps = {0, NULL};
    uint8_t *held = NULL;
    int seen = 0, pages = 0;

    do {
        Cairn__Response *r = read_rows(fd, "big", NULL, NULL, page, ps);
        assert_int_equal(tc_rc(r), 0);
        assert_true(r->read->n_rows <= page);
        for (size_t i = 0; i < r->read->n_rows; i++, seen++) {
            char want[16];
            snprintf(want, sizeof(want), "r%06d", seen);
            assert_int_equal(r->read->rows[i]->ck.len, strlen(want));
            assert_memory_equal(r->read->rows[i]->ck.data, want, strlen(want));
        }
        free(held);
        held = malloc(r->read->paging_state.len + 1);
        memcpy(held, r->read->paging_state.data, r->read->paging_state.len);
        ps = (ProtobufCBinaryData){r->read->paging_state.len, held};
        pages++;
        tc_free(r);
        assert_true(pages <= rows / (int)page + 2);
    } while (ps.len > 0);
    free(held);
    assert_int_equal(seen, rows);
}

static Cairn__Response *scan_page(int fd, uint32_t page, ProtobufCBinaryData ps)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Scan sc = CAIRN__SCAN__INIT;

    sc.keyspace = "ks1";
    sc.table = "t";
    sc.page_size = page;
    sc.paging_state = ps;
    rq.op_case = CAIRN__REQUEST__OP_SCAN;
    rq.scan = &sc;
    return tc_call(fd, &rq);
}

/* scan_all -- rows seen per partition "sNNN", checking token order. */
static void scan_all(int fd, uint32_t page, int parts, int rows_each)
{
    int *seen = calloc((size_t)parts, sizeof(int));
    ProtobufCBinaryData ps = {0, NULL};
    uint8_t *held = NULL;
    int64_t last_token = INT64_MIN;
    int total = 0;

    do {
        Cairn__Response *r = scan_page(fd, page, ps);
        assert_int_equal(tc_rc(r), 0);
        for (size_t i = 0; i < r->scan->n_partitions; i++) {
            Cairn__PartitionRows *p = r->scan->partitions[i];
            int k = atoi((const char *)p->pkey.data + 1);
            assert_true(p->token >= last_token);
            last_token = p->token;
            assert_true(k >= 0 && k < parts);
            seen[k] += (int)p->n_rows;
            total += (int)p->n_rows;
        }
        free(held);
        held = malloc(r->scan->paging_state.len + 1);
        memcpy(held, r->scan->paging_state.data, r->scan->paging_state.len);
        ps = (ProtobufCBinaryData){r->scan->paging_state.len, held};
        tc_free(r);
    } while (ps.len > 0);
    free(held);
    for (int k = 0; k < parts; k++)
        assert_int_equal(seen[k], rows_each);
    assert_int_equal(total, parts * rows_each);
    free(seen);
}

static void test_paging(void **state)
{
    char dir[256];
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("paging", dir, sizeof(dir));
    pid = tc_start(dir, PORT(2), sync_none);
    fd = setup_table(PORT(2), 0);
    fill_partition(fd, "big", 2000);
    page_partition(fd, 2000, 100); /* 20 full pages */
    page_partition(fd, 2000, 7);   /* pages that end mid-way */
    for (int k = 0; k < 150; k++) {
        char pk[16];
        Cairn__Mutation m[3] = {tc_cell("a", "c", "1", 0, 0),
                                tc_cell("b", "c", "2", 0, 0),
                                tc_cell("c", "c", "3", 0, 0)};
        snprintf(pk, sizeof(pk), "s%03d", k);
        assert_int_equal(tc_write(fd, "ks1", "t", pk, m, 3), 0);
    }
    assert_int_equal(tc_drop_table(fd, "ks1", "t"), 0);
    assert_int_equal(tc_create_table(fd, "ks1", "t", 0), 0);
    for (int k = 0; k < 150; k++) {
        char pk[16];
        Cairn__Mutation m[3] = {tc_cell("a", "c", "1", 0, 0),
                                tc_cell("b", "c", "2", 0, 0),
                                tc_cell("c", "c", "3", 0, 0)};
        snprintf(pk, sizeof(pk), "s%03d", k);
        assert_int_equal(tc_write(fd, "ks1", "t", pk, m, 3), 0);
    }
    scan_all(fd, 40, 150, 3); /* pages split partitions */
    scan_all(fd, 1000, 150, 3);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- TTL and deletes ---- */

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

static void test_ttl(void **state)
{
    Cairn__Mutation m[2];
    Cairn__Response *r;
    char dir[256], val[64];
    int64_t t0;
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("ttl", dir, sizeof(dir));
    pid = tc_start(dir, PORT(3), sync_none);
    fd = setup_table(PORT(3), 0);
    assert_int_equal(tc_create_table(fd, "ks1", "short", 2), 0);
    t0 = wall_s();
    m[0] = tc_cell("r", "ttl", "gone-soon", 0, 2);
    m[1] = tc_cell("r", "keep", "stays", 0, 0);
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 2), 0);
    m[0] = tc_cell("r", "x", "table-ttl", 0, 0);
    assert_int_equal(tc_write(fd, "ks1", "short", "p", m, 1), 0);

    /* The expiry travels with the cell: written time + ttl. */
    r = read_rows(fd, "p", NULL, NULL, 0, (ProtobufCBinaryData){0, NULL});
    assert_int_equal(tc_rc(r), 0);
    for (size_t i = 0; i < r->read->rows[0]->n_cells; i++) {
        Cairn__Cell *c = r->read->rows[0]->cells[i];
        if (c->column.len == 3) {
            assert_true(c->expires_s >= t0 + 2 && c->expires_s <= wall_s() + 2);
        } else {
            assert_int_equal(c->expires_s, 0);
        }
    }
    tc_free(r);

    while (wall_s() <= t0 + 3)
        usleep(100000);
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "r", "ttl", val, sizeof(val)),
                     0);
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "r", "keep", val, sizeof(val)),
                     1);
    assert_int_equal(
        tc_get(fd, "ks1", "short", "p", "r", "x", val, sizeof(val)), 0);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

static Cairn__Mutation del(Cairn__MutationKind kind, const char *ck,
                           const char *end, const char *col, int64_t ts)
{
    Cairn__Mutation m = CAIRN__MUTATION__INIT;

    m.kind = kind;
    m.ck = bytes_of(ck);
    m.ck_end = bytes_of(end);
    m.column = bytes_of(col);
    m.timestamp = ts;
    return m;
}

static void partition_cks(int fd, const char *pk, char *out, size_t size)
{
    Cairn__Response *r =
        read_rows(fd, pk, NULL, NULL, 0, (ProtobufCBinaryData){0, NULL});

    assert_int_equal(tc_rc(r), 0);
    row_cks(r, out, size);
    tc_free(r);
}

static void test_deletes(void **state)
{
    Cairn__Mutation m[6];
    char dir[256], val[64], cks[256];
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("del", dir, sizeof(dir));
    pid = tc_start(dir, PORT(4), sync_none);
    fd = setup_table(PORT(4), 0);
    m[0] = tc_cell("a", "x", "1", 100, 0);
    m[1] = tc_cell("a", "y", "1", 100, 0);
    m[2] = tc_cell("b", "x", "2", 100, 0);
    m[3] = tc_cell("c", "x", "3", 100, 0);
    m[4] = tc_cell("d", "x", "4", 100, 0);
    m[5] = tc_cell("e", "x", "5", 100, 0);
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 6), 0);

    /* cell */
    m[0] = del(CAIRN__MUTATION_KIND__MUT_CELL_DELETE, "a", "", "y", 200);
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 1), 0);
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "a", "y", val, sizeof(val)),
                     0);
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "a", "x", val, sizeof(val)),
                     1);
    /* row */
    m[0] = del(CAIRN__MUTATION_KIND__MUT_ROW_DELETE, "b", "", "", 200);
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 1), 0);
    partition_cks(fd, "p", cks, sizeof(cks));
    assert_string_equal(cks, "a,c,d,e,");
    /* range c..d inclusive */
    m[0] = del(CAIRN__MUTATION_KIND__MUT_RANGE_DELETE, "c", "d", "", 200);
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 1), 0);
    partition_cks(fd, "p", cks, sizeof(cks));
    assert_string_equal(cks, "a,e,");
    /* a delete older than the data shadows nothing */
    m[0] = del(CAIRN__MUTATION_KIND__MUT_PARTITION_DELETE, "", "", "", 50);
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 1), 0);
    partition_cks(fd, "p", cks, sizeof(cks));
    assert_string_equal(cks, "a,e,");
    /* partition */
    m[0] = del(CAIRN__MUTATION_KIND__MUT_PARTITION_DELETE, "", "", "", 0);
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 1), 0);
    partition_cks(fd, "p", cks, sizeof(cks));
    assert_string_equal(cks, "");
    /* writes after a delete live again */
    assert_int_equal(tc_put(fd, "ks1", "t", "p", "b", "x", "again"), 0);
    partition_cks(fd, "p", cks, sizeof(cks));
    assert_string_equal(cks, "b,");
    /* a value on a delete is refused */
    m[0] = del(CAIRN__MUTATION_KIND__MUT_ROW_DELETE, "b", "", "", 0);
    m[0].value = bytes_of("v");
    assert_int_equal(tc_write(fd, "ks1", "t", "p", m, 1), -EINVAL);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- restart ---- */

static void put_n(int fd, const char *pk, int from, int to)
{
    for (int i = from; i < to; i++) {
        char ck[16], v[32];
        snprintf(ck, sizeof(ck), "k%05d", i);
        snprintf(v, sizeof(v), "value-%d", i);
        assert_int_equal(tc_put(fd, "ks1", "t", pk, ck, "v", v), 0);
    }
}

static void check_n(int fd, const char *pk, int from, int to)
{
    for (int i = from; i < to; i++) {
        char ck[16], v[32], got[64];
        snprintf(ck, sizeof(ck), "k%05d", i);
        snprintf(v, sizeof(v), "value-%d", i);
        assert_int_equal(tc_get(fd, "ks1", "t", pk, ck, "v", got, sizeof(got)),
                         1);
        assert_string_equal(got, v);
    }
}

static void test_restart(void **state)
{
    static const char *const group[] = {"--sync", "group", NULL};
    char dir[256];
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("restart", dir, sizeof(dir));
    pid = tc_start(dir, PORT(5), group);
    fd = setup_table(PORT(5), 0);
    put_n(fd, "p", 0, 300);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0); /* clean: flushed */
    pid = tc_start(dir, PORT(5), group);
    fd = tc_open(PORT(5));
    check_n(fd, "p", 0, 300);
    put_n(fd, "p", 300, 600);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGKILL), 128 + SIGKILL); /* replay */
    pid = tc_start(dir, PORT(5), group);
    fd = tc_open(PORT(5));
    check_n(fd, "p", 0, 600);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),  cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_paging),  cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_deletes), cmocka_unit_test(test_restart),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
