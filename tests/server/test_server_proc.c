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

/* scale -- CAIRN_LONG_TESTS=1 makes the randomised parts 10 times longer. */
static int scale(int n)
{
    const char *e = getenv("CAIRN_LONG_TESTS");

    return e && strcmp(e, "1") == 0 ? n * 10 : n;
}

static const char *const sync_none[] = {"--sync", "none", NULL};

static ProtobufCBinaryData bytes_of(const char *s)
{
    return (ProtobufCBinaryData){strlen(s), (uint8_t *)s};
}

/* num_after -- the decimal number in `b` after its first `skip` bytes. */
static int num_after(const ProtobufCBinaryData *b, size_t skip)
{
    char text[32];

    if (b->len <= skip || b->len - skip >= sizeof(text))
        return -1;
    memcpy(text, b->data + skip, b->len - skip);
    text[b->len - skip] = '\0';
    return atoi(text);
}

/* keep_state -- copy a paging state out of an answer about to be freed. */
static ProtobufCBinaryData keep_state(uint8_t **held,
                                      const ProtobufCBinaryData *ps)
{
    free(*held);
    *held = malloc(ps->len + 1);
    if (ps->len)
        memcpy(*held, ps->data, ps->len);
    return (ProtobufCBinaryData){ps->len, *held};
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
    assert_true(id2 != id1); /* a re-create never reuses an id */
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

    /* The row with the empty key alone, beside rows with keys. */
    assert_int_equal(tc_put(fd, "ks1", "t", "p1", "", "x", "empty"), 0);
    assert_int_equal(tc_get(fd, "ks1", "t", "p1", "", "x", val, sizeof(val)),
                     1); /* tc_get checks that every row it got has key "" */
    assert_string_equal(val, "empty");
    r = read_rows(fd, "p1", NULL, NULL, 0, (ProtobufCBinaryData){0, NULL});
    row_cks(r, cks, sizeof(cks));
    assert_string_equal(cks, ",a,b,c,");
    tc_free(r);

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

/*
 * page_slice -- rows first..last of "big", `page` at a time, in order;
 * asked for as a slice, or (bounded 0) as the whole partition.
 */
static void page_slice(int fd, int first, int last, uint32_t page, int bounded)
{
    ProtobufCBinaryData ps = {0, NULL};
    uint8_t *held = NULL;
    char from[16], to[16];
    int seen = first, pages = 0;

    snprintf(from, sizeof(from), "r%06d", first);
    snprintf(to, sizeof(to), "r%06d", last);
    do {
        Cairn__Response *r = read_rows(fd, "big", bounded ? from : NULL,
                                       bounded ? to : NULL, page, ps);
        assert_int_equal(tc_rc(r), 0);
        assert_true(r->read->n_rows <= page);
        for (size_t i = 0; i < r->read->n_rows; i++, seen++) {
            char want[16];
            snprintf(want, sizeof(want), "r%06d", seen);
            assert_int_equal(r->read->rows[i]->ck.len, strlen(want));
            assert_memory_equal(r->read->rows[i]->ck.data, want, strlen(want));
        }
        ps = keep_state(&held, &r->read->paging_state);
        pages++;
        tc_free(r);
        assert_true(pages <= (last - first + 1) / (int)page + 2);
    } while (ps.len > 0);
    free(held);
    assert_int_equal(seen, last + 1);
}

static void page_partition(int fd, int rows, uint32_t page)
{
    page_slice(fd, 0, rows - 1, page, 0);
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
            int k = num_after(&p->pkey, 1);
            assert_true(p->token >= last_token);
            last_token = p->token;
            assert_true(k >= 0 && k < parts);
            seen[k] += (int)p->n_rows;
            total += (int)p->n_rows;
        }
        ps = keep_state(&held, &r->scan->paging_state);
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
    page_partition(fd, 2000, 100);    /* 20 full pages */
    page_partition(fd, 2000, 7);      /* pages that end mid-way */
    page_slice(fd, 100, 499, 33, 1);  /* a slice, paged */
    page_slice(fd, 1999, 1999, 5, 1); /* one row */
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

/* wall_s -- the precise clock the node reads (time() may lag a tick). */
static int64_t wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

static void test_ttl(void **state)
{
    Cairn__Mutation m[2];
    Cairn__Response *r;
    char dir[256], val[64];
    int64_t t0, t1;
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
    t1 = wall_s(); /* no expiry is later than t1 + 2 */

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

    while (wall_s() <= t1 + 3)
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

/* check_n_pk -- rows "k%05d" of `pk` hold their own key or "value-N". */
static void check_n_pk(int fd, const char *pk, int n)
{
    int first = strcmp(pk, "pipe") == 0 ? 1 : 0;

    for (int i = first; i < n + first; i++) {
        char ck[16], got[64], want[32];
        snprintf(ck, sizeof(ck), "k%05d", i);
        if (first)
            snprintf(want, sizeof(want), "%s", ck);
        else
            snprintf(want, sizeof(want), "value-%d", i);
        assert_int_equal(tc_get(fd, "ks1", "t", pk, ck, "v", got, sizeof(got)),
                         1);
        assert_string_equal(got, want);
    }
}

/* ---- bad input next to a good client ---- */

struct good {
    uint16_t port;
    volatile int stop;
    volatile int written; /* read by the main thread while it grows */
    volatile int failed;  /* line of the first failure, 0 when none */
    char why[256];
};

#define GOOD_FAIL(g, ...)                                                      \
    do {                                                                       \
        if (!(g)->failed) {                                                    \
            (g)->failed = __LINE__;                                            \
            snprintf((g)->why, sizeof((g)->why), __VA_ARGS__);                 \
        }                                                                      \
        return NULL;                                                           \
    } while (0)

/* good_client -- writes and reads back while the bad ones misbehave. */
static void *good_client(void *arg)
{
    struct good *g = arg;
    int fd = tc_open(g->port);

    while (!g->stop && g->written < 100000) {
        char ck[16], v[32], got[64];
        int rc;
        snprintf(ck, sizeof(ck), "k%05d", g->written);
        snprintf(v, sizeof(v), "value-%d", g->written);
        rc = tc_put(fd, "ks1", "t", "good", ck, "v", v);
        if (rc != 0)
            GOOD_FAIL(g, "put %d: rc %d", g->written, rc);
        rc = tc_get(fd, "ks1", "t", "good", ck, "v", got, sizeof(got));
        if (rc != 1 || strcmp(got, v) != 0)
            GOOD_FAIL(g, "get %d: rc %d", g->written, rc);
        g->written++;
    }
    close(fd);
    return NULL;
}

/* finish -- half-close and wait for the node to close its side. */
static void finish(int fd)
{
    shutdown(fd, SHUT_WR);
    assert_true(tc_closed(fd, TC_TIMEOUT_MS));
    close(fd);
}

static void send_random(int fd, unsigned *seed, size_t n)
{
    uint8_t *b = malloc(n);

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rand_r(seed);
    tc_send_raw(fd, b, n); /* the node may close while we send */
    free(b);
}

static void expect_error(int fd, uint64_t id, int code)
{
    Cairn__Response *r = tc_recv(fd);

    assert_non_null(r);
    assert_int_equal(r->id, id);
    assert_int_equal(tc_rc(r), code);
    assert_true(strlen(r->error->message) > 0);
    tc_free(r);
}

static void bad_handshakes(uint16_t port)
{
    static const uint8_t absurd[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
    Cairn__HandshakeReply *h;
    int fd;

    fd = tc_connect(port);
    h = tc_handshake(fd, 1, "other-cluster");
    assert_non_null(h);
    assert_non_null(h->error);
    assert_int_equal(h->error->code, CAIRN_EPROTO);
    assert_non_null(strstr(h->error->message, "other-cluster"));
    cairn__handshake_reply__free_unpacked(h, NULL);
    assert_true(tc_closed(fd, TC_TIMEOUT_MS));
    close(fd);

    fd = tc_connect(port);
    h = tc_handshake(fd, 99, "cairn");
    assert_non_null(h);
    assert_non_null(h->error);
    cairn__handshake_reply__free_unpacked(h, NULL);
    assert_true(tc_closed(fd, TC_TIMEOUT_MS));
    close(fd);

    /* An absurd length before any handshake: refused, then closed. */
    fd = tc_connect(port);
    tc_send_raw(fd, absurd, sizeof(absurd));
    {
        uint8_t *p;
        long n = tc_recv_frame(fd, &p, TC_TIMEOUT_MS);
        Cairn__HandshakeReply *r;
        assert_true(n >= 0);
        r = cairn__handshake_reply__unpack(NULL, (size_t)n, p);
        assert_non_null(r);
        assert_non_null(r->error);
        assert_int_equal(r->error->code, CAIRN_ETOOBIG);
        cairn__handshake_reply__free_unpacked(r, NULL);
        free(p);
    }
    assert_true(tc_closed(fd, TC_TIMEOUT_MS));
    close(fd);
}

static void bad_frames(uint16_t port)
{
    static const uint8_t absurd[] = {0x7f, 0xff, 0xff, 0xff};
    static const uint8_t undecodable[] = {0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff};
    /* id 77 and only field 99, which no request type uses */
    static const uint8_t unknown[] = {0, 0, 0, 6, 0x08, 77, 0x9a, 0x06, 1, 'x'};
    static const uint8_t truncated[] = {0, 0, 0, 100, 1, 2, 3};
    int fd;

    fd = tc_open(port);
    tc_send_raw(fd, undecodable, sizeof(undecodable));
    expect_error(fd, 0, CAIRN_EPROTO);
    tc_send_raw(fd, unknown, sizeof(unknown));
    expect_error(fd, 77, CAIRN_EPROTO);
    assert_int_equal(tc_put(fd, "ks1", "t", "other", "", "v", "ok"), 0);
    tc_send_raw(fd, absurd, sizeof(absurd));
    expect_error(fd, 0, CAIRN_ETOOBIG);
    assert_true(tc_closed(fd, TC_TIMEOUT_MS));
    close(fd);

    fd = tc_open(port);
    tc_send_raw(fd, truncated, sizeof(truncated));
    finish(fd);
}

/* reused_ids -- 40 requests with one id in one burst. */
static void reused_ids(uint16_t port)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__ListKeyspaces lk = CAIRN__LIST_KEYSPACES__INIT;
    uint8_t *one, *burst;
    size_t n;
    int ok = 0, dup = 0, fd = tc_open(port);

    rq.id = 5;
    rq.op_case = CAIRN__REQUEST__OP_LIST_KEYSPACES;
    rq.list_keyspaces = &lk;
    one = tc_frame(&rq.base, &n);
    burst = malloc(40 * n);
    for (int i = 0; i < 40; i++)
        memcpy(burst + (size_t)i * n, one, n);
    assert_int_equal(tc_send_raw(fd, burst, 40 * n), 0);
    for (int i = 0; i < 40; i++) {
        Cairn__Response *r = tc_recv(fd);
        assert_non_null(r);
        assert_int_equal(r->id, 5);
        if (tc_rc(r) == 0)
            ok++;
        else if (tc_rc(r) == -EINVAL && strstr(r->error->message, "in flight"))
            dup++;
        tc_free(r);
    }
    assert_int_equal(ok + dup, 40);
    assert_true(ok >= 1 && dup >= 1);
    free(one);
    free(burst);
    close(fd);
}

static void random_garbage(uint16_t port)
{
    unsigned seed =
        getenv("CAIRN_SEED") ? (unsigned)atoi(getenv("CAIRN_SEED")) : 42;

    print_message("random garbage seed %u (CAIRN_SEED=%u repeats it)\n", seed,
                  seed);

    for (int i = 0; i < scale(30); i++) {
        int fd = (i % 2) ? tc_open(port) : tc_connect(port);
        if (i % 3 == 0) {
            uint8_t hdr[4] = {0, 0, 0, (uint8_t)(20 + i)};
            tc_send_raw(fd, hdr, 4); /* a plausible length, then noise */
        }
        send_random(fd, &seed, 16 + (size_t)rand_r(&seed) % 3000);
        finish(fd);
    }
}

/* wait_written -- until the good client has written `n` rows (bounded). */
static void wait_written(struct good *g, int n)
{
    for (int i = 0; i < 2000 && g->written < n && !g->failed; i++)
        usleep(10000);
}

static void test_bad_input(void **state)
{
    struct good g = {PORT(6), 0, 0, 0, ""};
    char dir[256];
    pthread_t th;
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("bad", dir, sizeof(dir));
    pid = tc_start(dir, PORT(6), sync_none);
    fd = setup_table(PORT(6), 0);
    close(fd);
    pthread_create(&th, NULL, good_client, &g);
    wait_written(&g, 10); /* the good client is under way */
    bad_handshakes(PORT(6));
    bad_frames(PORT(6));
    reused_ids(PORT(6));
    random_garbage(PORT(6));
    wait_written(&g, g.written + 10); /* and still going after all that */
    g.stop = 1;
    pthread_join(th, NULL);
    if (g.failed)
        fail_msg("good client failed at line %d: %s", g.failed, g.why);
    assert_true(g.written >= 20);
    fd = tc_open(PORT(6));
    check_n_pk(fd, "good", g.written);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- many in flight, backpressure ---- */

static void test_inflight(void **state)
{
    static const char *const extra[] = {
        "--sync", "none", "--max-inflight", "4", "--loops", "1", NULL};
    enum { N = 600 };
    uint8_t *all = NULL;
    size_t total = 0;
    char seen[N + 1] = {0}, dir[256];
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("inflight", dir, sizeof(dir));
    pid = tc_start(dir, PORT(7), extra);
    fd = setup_table(PORT(7), 0);
    for (int i = 1; i <= N; i++) {
        Cairn__Request rq = CAIRN__REQUEST__INIT;
        Cairn__Write w = CAIRN__WRITE__INIT;
        char ck[16];
        Cairn__Mutation m, *mp = &m;
        uint8_t *f;
        size_t n;
        snprintf(ck, sizeof(ck), "k%05d", i);
        m = tc_cell(ck, "v", ck, 0, 0);
        w.keyspace = "ks1";
        w.table = "t";
        w.pkey = bytes_of("pipe");
        w.n_mutations = 1;
        w.mutations = &mp;
        rq.id = (uint64_t)i + 1000000;
        rq.op_case = CAIRN__REQUEST__OP_WRITE;
        rq.write = &w;
        f = tc_frame(&rq.base, &n);
        all = realloc(all, total + n);
        memcpy(all + total, f, n);
        total += n;
        free(f);
    }
    assert_int_equal(tc_send_raw(fd, all, total), 0);
    shutdown(fd, SHUT_WR); /* half-closed: every request is still answered */
    for (int i = 0; i < N; i++) {
        Cairn__Response *r = tc_recv(fd);
        assert_non_null(r);
        assert_int_equal(tc_rc(r), 0);
        assert_true(r->id > 1000000 && r->id <= 1000000 + N);
        assert_int_equal(seen[r->id - 1000000], 0);
        seen[r->id - 1000000] = 1;
        tc_free(r);
    }
    assert_true(tc_closed(fd, TC_TIMEOUT_MS));
    free(all);
    close(fd);
    fd = tc_open(PORT(7));
    check_n_pk(fd, "pipe", N);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- graceful shutdown under load ---- */

enum { LOAD_THREADS = 3, LOAD_MAX = 30000, LOAD_WINDOW = 16 };

struct loader {
    uint16_t port;
    int k;
    char *acked; /* LOAD_MAX flags */
    volatile int nacked;
    int errors;
};

static void load_send(int fd, int k, int seq)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Write w = CAIRN__WRITE__INIT;
    Cairn__Mutation m, *mp = &m;
    char pk[16], ck[16];

    snprintf(pk, sizeof(pk), "w%d", k);
    snprintf(ck, sizeof(ck), "k%05d", seq);
    m = tc_cell(ck, "v", ck, 0, 0);
    w.keyspace = "ks1";
    w.table = "t";
    w.pkey = bytes_of(pk);
    w.n_mutations = 1;
    w.mutations = &mp;
    rq.id = (uint64_t)seq + 1;
    rq.op_case = CAIRN__REQUEST__OP_WRITE;
    rq.write = &w;
    tc_send_msg(fd, &rq.base);
}

/* loader -- keep LOAD_WINDOW writes in flight until the node closes. */
static void *loader(void *arg)
{
    struct loader *l = arg;
    int fd = tc_open(l->port), next = 0, out = 0;

    for (;;) {
        Cairn__Response *r;
        while (out < LOAD_WINDOW && next < LOAD_MAX) {
            load_send(fd, l->k, next++);
            out++;
        }
        if (out == 0)
            break;
        r = tc_recv(fd);
        if (r == NULL)
            break; /* closed by the drain */
        out--;
        if (tc_rc(r) == 0 && r->id >= 1 && r->id <= LOAD_MAX) {
            l->acked[r->id - 1] = 1;
            l->nacked++;
        } else {
            l->errors++; /* e.g. refused while closing: not acked */
        }
        tc_free(r);
    }
    close(fd);
    return NULL;
}

/* read_partition -- mark every "kNNNNN" row of `pk` in `have`. */
static void read_partition(int fd, const char *pk, char *have)
{
    ProtobufCBinaryData ps = {0, NULL};
    uint8_t *held = NULL;

    do {
        Cairn__Read rd = CAIRN__READ__INIT;
        Cairn__Response *r;
        rd.keyspace = "ks1";
        rd.table = "t";
        rd.pkey = bytes_of(pk);
        rd.page_size = 1000;
        rd.paging_state = ps;
        r = tc_read(fd, &rd);
        assert_int_equal(tc_rc(r), 0);
        for (size_t i = 0; i < r->read->n_rows; i++) {
            int seq = num_after(&r->read->rows[i]->ck, 1);
            assert_true(seq >= 0 && seq < LOAD_MAX);
            have[seq] = 1;
        }
        ps = keep_state(&held, &r->read->paging_state);
        tc_free(r);
    } while (ps.len > 0);
    free(held);
}

static int total_acked(struct loader *l)
{
    int n = 0;

    for (int i = 0; i < LOAD_THREADS; i++)
        n += l[i].nacked;
    return n;
}

static void test_sigterm_under_load(void **state)
{
    /* More loops than cores: the drain must cover every one of them. */
    static const char *const group[] = {"--sync", "group", "--loops", "3",
                                        NULL};
    struct loader l[LOAD_THREADS];
    pthread_t th[LOAD_THREADS];
    char dir[256], *have;
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("sigterm", dir, sizeof(dir));
    pid = tc_start(dir, PORT(8), group);
    close(setup_table(PORT(8), 0));
    for (int i = 0; i < LOAD_THREADS; i++) {
        l[i] = (struct loader){PORT(8), i, calloc(LOAD_MAX, 1), 0, 0};
        pthread_create(&th[i], NULL, loader, &l[i]);
    }
    for (int waited = 0; total_acked(l) < scale(1500) && waited < 6000;
         waited++)
        usleep(10000);
    assert_true(total_acked(l) >= scale(1500));
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
    for (int i = 0; i < LOAD_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(l[i].errors, 0); /* in flight: answered, not failed */
    }

    pid = tc_start(dir, PORT(8), group);
    fd = tc_open(PORT(8));
    have = malloc(LOAD_MAX);
    for (int i = 0; i < LOAD_THREADS; i++) {
        char pk[16];
        snprintf(pk, sizeof(pk), "w%d", i);
        memset(have, 0, LOAD_MAX);
        read_partition(fd, pk, have);
        for (int s = 0; s < LOAD_MAX; s++)
            if (l[i].acked[s] && !have[s])
                fail_msg("acknowledged write %s/k%05d lost", pk, s);
        free(l[i].acked);
    }
    free(have);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- the client port opens only after replay ---- */

static void test_port_after_replay(void **state)
{
    static const char *const group[] = {"--sync", "group", NULL};
    char dir[256], log[300], *have;
    pid_t pid;
    int fd = -1;

    (void)state;
    tc_tmpdir("replay", dir, sizeof(dir));
    pid = tc_start(dir, PORT(9), group);
    fd = setup_table(PORT(9), 0);
    for (int i = 0; i < 3000; i += 50) {
        Cairn__Mutation m[50];
        char ck[50][16];
        for (int j = 0; j < 50; j++) {
            snprintf(ck[j], sizeof(ck[j]), "k%05d", i + j);
            m[j] = tc_cell(ck[j], "v", ck[j], 0, 0);
        }
        assert_int_equal(tc_write(fd, "ks1", "t", "r", m, 50), 0);
    }
    close(fd);
    fd = -1;
    assert_int_equal(tc_stop(pid, SIGKILL), 128 + SIGKILL);

    /* Knock until the port opens; the first answer must hold it all. */
    snprintf(log, sizeof(log), "%s.log", dir);
    pid = tc_spawn(dir, PORT(9), group, log);
    for (int i = 0; i < TC_TIMEOUT_MS && fd < 0; i++) {
        fd = tc_connect(PORT(9));
        if (fd < 0)
            usleep(1000);
    }
    assert_true(fd >= 0);
    close(fd);
    fd = tc_open(PORT(9));
    have = calloc(LOAD_MAX, 1);
    read_partition(fd, "r", have);
    for (int i = 0; i < 3000; i++)
        if (!have[i])
            fail_msg("row k%05d missing right after the port opened", i);
    free(have);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- settings ---- */

/* refused -- run with `extra`; expect exit 2 and `needle` in the log. */
static void refused(const char *const *extra, const char *needle)
{
    char dir[256], log[300], text[4096] = "";
    FILE *f;
    size_t n;

    tc_tmpdir("cfg", dir, sizeof(dir));
    snprintf(log, sizeof(log), "%s.log", dir);
    assert_int_equal(tc_wait_exit(tc_spawn(dir, PORT(10), extra, log)), 2);
    f = fopen(log, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    if (strstr(text, needle) == NULL)
        fail_msg("expected \"%s\" in: %s", needle, text);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config(void **state)
{
    char dir[256], yml[300], bad[300], unk[300];
    Cairn__HandshakeReply *h;
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("config", dir, sizeof(dir));
    snprintf(yml, sizeof(yml), "%s.yaml", dir);
    snprintf(bad, sizeof(bad), "%s-bad.yaml", dir);
    snprintf(unk, sizeof(unk), "%s-unknown.yaml", dir);
    write_file(yml, "# test\ncluster_name: testcluster\n"
                    "commitlog_sync: none\nseeds:\n  - 127.0.0.1:21100\n");
    write_file(bad, "cluster_name: x\nnum_tokens: lots\n");
    write_file(unk, "colour: blue\n");
    refused((const char *const[]){"--port", "70000", NULL}, "port");
    refused((const char *const[]){"--sync", "sometimes", NULL}, "--sync");
    refused((const char *const[]){"--nope", NULL}, "--nope");
    refused((const char *const[]){"--loops", "-1", NULL}, "--loops");
    refused((const char *const[]){"--config", bad, NULL}, "num_tokens");
    refused((const char *const[]){"--config", bad, NULL}, "line 2");
    refused((const char *const[]){"--config", unk, NULL}, "colour");

    pid = tc_start(dir, PORT(10), (const char *const[]){"--config", yml, NULL});
    fd = tc_connect(PORT(10));
    h = tc_handshake(fd, 1, "cairn");
    assert_non_null(h);
    assert_non_null(h->error); /* the file named another cluster */
    cairn__handshake_reply__free_unpacked(h, NULL);
    close(fd);
    fd = tc_connect(PORT(10));
    h = tc_handshake(fd, 1, "testcluster");
    assert_non_null(h);
    assert_null(h->error);
    assert_string_equal(h->cluster_name, "testcluster");
    cairn__handshake_reply__free_unpacked(h, NULL);
    close(fd);

    /* A second node on the same data directory refuses to start. */
    {
        char dir2[300], log[320], text[4096] = "";
        FILE *f;
        size_t n;
        snprintf(dir2, sizeof(dir2), "%s", dir);
        snprintf(log, sizeof(log), "%s-second.log", dir);
        assert_int_equal(
            tc_wait_exit(tc_spawn(dir2, PORT(10) + 5, sync_none, log)), 1);
        f = fopen(log, "r");
        assert_non_null(f);
        n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        unlink(log);
        assert_non_null(strstr(text, "another cairn-server"));
    }

    assert_int_equal(tc_stop(pid, SIGINT), 0);

    /* A flag beats the file. */
    pid = tc_start(dir, PORT(10),
                   (const char *const[]){"--config", yml, "--cluster-name",
                                         "flagged", NULL});
    fd = tc_connect(PORT(10));
    h = tc_handshake(fd, 1, "flagged");
    assert_non_null(h);
    assert_null(h->error);
    cairn__handshake_reply__free_unpacked(h, NULL);
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
    unlink(yml);
    unlink(bad);
    unlink(unk);
}

/* ---- HTTP ---- */

static void test_http(void **state)
{
    char dir[256], *body = malloc(1 << 20);
    pid_t pid;
    int fd;

    (void)state;
    tc_tmpdir("http", dir, sizeof(dir));
    pid = tc_start(dir, PORT(11), sync_none);
    assert_int_equal(tc_http_get(PORT(11) + 2, "/health", body, 1 << 20), 200);
    fd = setup_table(PORT(11), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tc_put(fd, "ks1", "t", "p", "", "v", "x"), 0);
    assert_int_equal(tc_put(fd, "ks1", "nope", "p", "", "v", "x"),
                     CAIRN_ENOTABLE);
    close(fd);
    assert_int_equal(tc_http_get(PORT(11) + 2, "/metrics", body, 1 << 20), 200);
    assert_non_null(strstr(body, "cairn_requests_total{op=\"write\"} 6\n"));
    assert_non_null(
        strstr(body, "cairn_request_errors_total{kind=\"unknown_table\"} 1\n"));
    assert_non_null(strstr(body, "cairn_request_latency_seconds_count{op="
                                 "\"write\"} 6\n"));
    assert_non_null(strstr(body, "cairn_memtable_bytes "));
    assert_non_null(strstr(body, "cairn_commitlog_bytes "));
    assert_non_null(strstr(body, "cairn_sstables "));
    assert_non_null(strstr(body, "cairn_pending_compactions "));
    assert_non_null(strstr(body, "cairn_memory_bytes{subsystem=\"server\"}"));
    assert_int_equal(tc_http_get(PORT(11) + 2, "/nope", body, 1 << 20), 404);
    free(body);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- a client that never reads its answers, at shutdown ---- */

/* metric -- the value of the Prometheus line starting with `name`. */
static long metric(uint16_t port, const char *name)
{
    char *body = malloc(1 << 20), *p;
    long v = -1;

    char line[128];

    assert_int_equal(tc_http_get(port + 2, "/metrics", body, 1 << 20), 200);
    snprintf(line, sizeof(line), "\n%s", name); /* not the HELP line */
    p = strstr(body, line);
    if (p)
        v = atol(p + strlen(line));
    free(body);
    return v;
}

/* stuck_client -- ask for far more answer bytes than sockets buffer. */
static int stuck_client(uint16_t port)
{
    Cairn__Read rd = CAIRN__READ__INIT;
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    int fd = tc_open(port);
    long before = metric(port, "cairn_requests_total{op=\"read\"} ");

    rd.keyspace = "ks1";
    rd.table = "t";
    rd.pkey = bytes_of("fat");
    rq.op_case = CAIRN__REQUEST__OP_READ;
    rq.read = &rd;
    for (int i = 0; i < 40; i++) {
        rq.id = (uint64_t)i + 1;
        assert_int_equal(tc_send_msg(fd, &rq.base), 0);
    }
    /* Wait (bounded) until the node has answered some of them. */
    for (int i = 0; i < 2000; i++) {
        if (metric(port, "cairn_requests_total{op=\"read\"} ") >= before + 2)
            return fd;
        usleep(10000);
    }
    fail_msg("the node answered no read");
    return -1;
}

static void fill_fat(int fd)
{
    char *v = malloc(4097);

    memset(v, 'f', 4096);
    v[4096] = '\0';
    for (int i = 0; i < 300; i++) {
        char ck[16];
        snprintf(ck, sizeof(ck), "r%04d", i);
        assert_int_equal(tc_put(fd, "ks1", "t", "fat", ck, "v", v), 0);
    }
    free(v);
}

static void test_shutdown_stuck_client(void **state)
{
    static const char *const patient[] = {"--sync", "group",
                                          "--drain-timeout-ms", "600000", NULL};
    static const char *const brisk[] = {"--sync", "group", "--drain-timeout-ms",
                                        "200", NULL};
    char dir[256], body[256], val[64];
    pid_t pid;
    int fd, stuck;

    (void)state;
    tc_tmpdir("stuck", dir, sizeof(dir));
    pid = tc_start(dir, PORT(12), patient);
    fd = setup_table(PORT(12), 0);
    fill_fat(fd);
    close(fd);

    /* Drain waits for the stuck client; a second signal ends it now. */
    stuck = stuck_client(PORT(12));
    kill(pid, SIGTERM);
    for (int i = 0; i < 2000; i++) {
        if (tc_http_get(PORT(12) + 2, "/health", body, sizeof(body)) == 503)
            break;
        usleep(10000);
    }
    assert_int_equal(tc_http_get(PORT(12) + 2, "/health", body, sizeof(body)),
                     503);
    assert_int_equal(tc_stop(pid, SIGTERM), 1);
    close(stuck);

    /* With a short drain timeout the node closes it and exits cleanly. */
    pid = tc_start(dir, PORT(12), brisk);
    fd = tc_open(PORT(12));
    assert_int_equal(tc_put(fd, "ks1", "t", "p", "", "v", "acked"), 0);
    close(fd);
    stuck = stuck_client(PORT(12));
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
    assert_true(tc_closed(stuck, TC_TIMEOUT_MS));
    close(stuck);
    pid = tc_start(dir, PORT(12), brisk);
    fd = tc_open(PORT(12));
    assert_int_equal(tc_get(fd, "ks1", "t", "p", "", "v", val, sizeof(val)), 1);
    assert_string_equal(val, "acked");
    close(fd);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- connection and frame limits ---- */

static void test_limits(void **state)
{
    static const char *const extra[] = {
        "--sync", "none", "--max-connections", "2", "--max-frame-bytes",
        "1024",   NULL};
    char dir[256], val[1500];
    pid_t pid;
    int a, b, c = -1;

    (void)state;
    tc_tmpdir("limits", dir, sizeof(dir));
    pid = tc_start(dir, PORT(13), extra);
    a = setup_table(PORT(13), 0);
    b = tc_open(PORT(13));

    /* A third connection is refused with a reason, then closed. */
    c = tc_connect(PORT(13));
    assert_true(c >= 0);
    {
        uint8_t *p;
        long n = tc_recv_frame(c, &p, TC_TIMEOUT_MS);
        Cairn__HandshakeReply *h;
        assert_true(n >= 0);
        h = cairn__handshake_reply__unpack(NULL, (size_t)n, p);
        free(p);
        assert_non_null(h);
        assert_non_null(h->error);
        assert_int_equal(h->error->code, CAIRN_EOVERLOADED);
        cairn__handshake_reply__free_unpacked(h, NULL);
    }
    assert_true(tc_closed(c, TC_TIMEOUT_MS));
    close(c);

    /* Once one closes, a new one is let in (the node sees the close
     * asynchronously, so knock a bounded number of times). */
    close(b);
    for (int i = 0; i < 2000; i++) {
        Cairn__HandshakeReply *h;
        c = tc_connect(PORT(13));
        h = tc_handshake(c, 1, "cairn");
        if (h && !h->error) {
            cairn__handshake_reply__free_unpacked(h, NULL);
            break;
        }
        if (h)
            cairn__handshake_reply__free_unpacked(h, NULL);
        close(c);
        c = -1;
        usleep(10000);
    }
    assert_true(c >= 0);
    assert_int_equal(tc_put(c, "ks1", "t", "p", "", "v", "fits"), 0);

    /* A frame over --max-frame-bytes: an error, then the close. */
    memset(val, 'x', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    {
        Cairn__Request rq = CAIRN__REQUEST__INIT;
        Cairn__Write w = CAIRN__WRITE__INIT;
        Cairn__Mutation m = tc_cell("", "v", val, 0, 0), *mp = &m;
        w.keyspace = "ks1";
        w.table = "t";
        w.pkey = bytes_of("p");
        w.n_mutations = 1;
        w.mutations = &mp;
        rq.id = 9;
        rq.op_case = CAIRN__REQUEST__OP_WRITE;
        rq.write = &w;
        assert_int_equal(tc_send_msg(a, &rq.base), 0);
    }
    expect_error(a, 0, CAIRN_ETOOBIG);
    assert_true(tc_closed(a, TC_TIMEOUT_MS));
    close(a);
    assert_int_equal(tc_get(c, "ks1", "t", "p", "", "v", val, sizeof(val)), 1);
    assert_string_equal(val, "fits");
    close(c);
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

/* ---- many flushes: memtables far smaller than the data ---- */

enum { FAT_ROWS = 1500, FAT_VALUE = 2048 };

/* fat_writer -- FAT_ROWS rows of FAT_VALUE bytes, 16 in flight. */
static void *fat_writer(void *arg)
{
    struct loader *l = arg;
    char *val = malloc(FAT_VALUE + 1), pk[16];
    int fd = tc_open(l->port), next = 0, out = 0;

    memset(val, 'a' + l->k, FAT_VALUE);
    val[FAT_VALUE] = '\0';
    snprintf(pk, sizeof(pk), "m%d", l->k);
    while (next < FAT_ROWS || out > 0) {
        Cairn__Response *r;
        while (out < LOAD_WINDOW && next < FAT_ROWS) {
            Cairn__Request rq = CAIRN__REQUEST__INIT;
            Cairn__Write w = CAIRN__WRITE__INIT;
            Cairn__Mutation m, *mp = &m;
            char ck[16];
            snprintf(ck, sizeof(ck), "k%05d", next);
            m = tc_cell(ck, "v", val, 0, 0);
            w.keyspace = "ks1";
            w.table = "t";
            w.pkey = bytes_of(pk);
            w.n_mutations = 1;
            w.mutations = &mp;
            rq.id = (uint64_t)++next;
            rq.op_case = CAIRN__REQUEST__OP_WRITE;
            rq.write = &w;
            tc_send_msg(fd, &rq.base);
            out++;
        }
        r = tc_recv(fd);
        if (r == NULL)
            break;
        out--;
        if (tc_rc(r) == 0)
            l->nacked++;
        else
            l->errors++;
        tc_free(r);
    }
    free(val);
    close(fd);
    return NULL;
}

static void check_fat(uint16_t port)
{
    char *have = calloc(LOAD_MAX, 1);
    int fd = tc_open(port);

    for (int k = 0; k < 2; k++) {
        char pk[16];
        snprintf(pk, sizeof(pk), "m%d", k);
        memset(have, 0, LOAD_MAX);
        read_partition(fd, pk, have);
        for (int i = 0; i < FAT_ROWS; i++)
            if (!have[i])
                fail_msg("row %s/k%05d missing", pk, i);
    }
    free(have);
    close(fd);
}

static void test_small_memtables(void **state)
{
    static const char *const extra[] = {
        "--sync", "group", "--memtable-mb", "1", "--memtable-total-mb",
        "2",      NULL};
    struct loader l[2];
    pthread_t th[2];
    char dir[256];
    pid_t pid;

    (void)state;
    tc_tmpdir("flushes", dir, sizeof(dir));
    pid = tc_start(dir, PORT(14), extra);
    close(setup_table(PORT(14), 0));
    for (int i = 0; i < 2; i++) {
        l[i] = (struct loader){PORT(14), i, NULL, 0, 0};
        pthread_create(&th[i], NULL, fat_writer, &l[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(l[i].errors, 0);
        assert_int_equal(l[i].nacked, FAT_ROWS);
    }
    /* 6 MiB through 1 MiB memtables: flushed to sstables on the way. */
    assert_true(metric(PORT(14), "cairn_sstables ") >= 1);
    check_fat(PORT(14));
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
    pid = tc_start(dir, PORT(14), extra);
    check_fat(PORT(14));
    assert_int_equal(tc_stop(pid, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_deletes),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_inflight),
        cmocka_unit_test(test_sigterm_under_load),
        cmocka_unit_test(test_port_after_replay),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_shutdown_stuck_client),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_small_memtables),
    };

    /* CAIRN_TEST_FILTER=test_name runs one test (a glob, as cmocka takes). */
    if (getenv("CAIRN_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CAIRN_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
