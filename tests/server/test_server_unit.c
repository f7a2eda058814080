/*
 * test_server_unit.c -- unit tests of server/ modules that need no
 * process: settings (defaults, flags, YAML, refusals that name the
 * setting), the frame decoder (pieces of any size, oversize before any
 * payload), request validation and paging states, and the schema file
 * (persistence, new ids on re-create, pending drops, damage detected).
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"
#include "server/config.h"
#include "server/frame.h"
#include "server/node.h"
#include "server/schema.h"
#include "server/validate.h"

/* ---- config ---- */

static void test_config_defaults(void **state)
{
    struct config c;
    char *argv[] = {"cairn-server", "--data-dir", "/tmp/x", NULL};

    (void)state;
    assert_int_equal(config_parse_args(&c, 3, argv), 0);
    assert_string_equal(c.data_dir, "/tmp/x");
    assert_int_equal(c.port, 9470);
    assert_string_equal(c.cluster_name, "cairn");
    assert_int_equal(c.sync, STORAGE_SYNC_GROUP);
    assert_int_equal(c.num_tokens, 16);
    assert_int_equal(c.nseeds, 0);
}

static void test_config_flags(void **state)
{
    struct config c;
    char *argv[] = {"cairn-server", "--port",   "21000",     "--sync",
                    "periodic",     "--seeds",  "a:1,b",     "--log-json",
                    "--listen",     "10.0.0.1", "--loops=3", NULL};

    (void)state;
    assert_int_equal(config_parse_args(&c, 11, argv), 0);
    assert_int_equal(c.port, 21000);
    assert_int_equal(c.sync, STORAGE_SYNC_PERIODIC);
    assert_int_equal(c.nseeds, 2);
    assert_string_equal(c.seeds[0].host, "a");
    assert_int_equal(c.seeds[0].port, 1);
    assert_string_equal(c.seeds[1].host, "b");
    assert_int_equal(c.seeds[1].port, 9470);
    assert_int_equal(c.log_json, 1);
    assert_string_equal(c.listen_address, "10.0.0.1");
    assert_int_equal(c.loops, 3);
}

/* refuses -- parsing `argv` fails and the detail names `needle`. */
static void refuses(int argc, char **argv, const char *needle)
{
    struct config c;

    assert_int_equal(config_parse_args(&c, argc, argv), -EINVAL);
    if (strstr(err_msg(), needle) == NULL)
        fail_msg("detail \"%s\" does not name %s", err_msg(), needle);
}

static void test_config_refusals(void **state)
{
    (void)state;
    refuses(3, (char *[]){"s", "--port", "0", NULL}, "port");
    refuses(3, (char *[]){"s", "--port", "65534", NULL}, "port");
    refuses(3, (char *[]){"s", "--port", "12x", NULL}, "port");
    refuses(3, (char *[]){"s", "--port", "", NULL}, "port");
    refuses(3, (char *[]){"s", "--sync", "fast", NULL}, "commitlog_sync");
    refuses(3, (char *[]){"s", "--seeds", "a:0", NULL}, "seeds");
    refuses(3, (char *[]){"s", "--seeds", "a,", NULL}, "seeds");
    refuses(3, (char *[]){"s", "--log-level", "loud", NULL}, "log_level");
    refuses(2, (char *[]){"s", "--log-json=maybe", NULL}, "log_json");
    refuses(3, (char *[]){"s", "--num-tokens", "99999999999", NULL},
            "num_tokens");
    refuses(3, (char *[]){"s", "--listen", "localhost", NULL},
            "listen_address");
    refuses(2, (char *[]){"s", "--frobnicate", NULL}, "--frobnicate");
    refuses(2, (char *[]){"s", "--port", NULL}, "--port");
    refuses(2, (char *[]){"s", "stray", NULL}, "stray");
    refuses(5,
            (char *[]){"s", "--default-page-rows", "50", "--max-page-rows",
                       "10", NULL},
            "default_page_rows");
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config_yaml(void **state)
{
    char path[] = "/tmp/cairn-unit-yaml-XXXXXX";
    struct config c;
    int fd = mkstemp(path);

    (void)state;
    close(fd);
    write_text(path, "cluster_name: prod\nport: 9000\nseeds:\n"
                     "  - h1:9000\n  - h2\ncommitlog_sync: none\n"
                     "read_request_timeout_ms: 100\n");
    assert_int_equal(
        config_parse_args(
            &c, 5, (char *[]){"s", "--config", path, "--port", "9100", NULL}),
        0);
    assert_string_equal(c.cluster_name, "prod");
    assert_int_equal(c.port, 9100); /* the flag wins */
    assert_int_equal(c.nseeds, 2);
    assert_string_equal(c.seeds[1].host, "h2");
    assert_int_equal(c.sync, STORAGE_SYNC_NONE);
    assert_int_equal(c.read_timeout_ms, 100);

    write_text(path, "seed_provider:\n"
                     "  - class_name: org.apache.cassandra.locator."
                     "SimpleSeedProvider\n"
                     "    parameters:\n"
                     "      - seeds: \"10.0.0.1:7000,10.0.0.2\"\n");
    assert_int_equal(
        config_parse_args(&c, 3, (char *[]){"s", "--config", path, NULL}), 0);
    assert_int_equal(c.nseeds, 2);
    assert_string_equal(c.seeds[0].host, "10.0.0.1");
    assert_int_equal(c.seeds[0].port, 7000);

    write_text(path, "port: 9000\nnum_tokens: -3\n");
    refuses(3, (char *[]){"s", "--config", path, NULL}, "num_tokens");
    assert_non_null(strstr(err_msg(), "line 2"));
    write_text(path, "colour: blue\n");
    refuses(3, (char *[]){"s", "--config", path, NULL}, "colour");
    write_text(path, "port: [9000\n");
    refuses(3, (char *[]){"s", "--config", path, NULL}, "yaml");
    write_text(path, "port:\n  nested: 1\n");
    refuses(3, (char *[]){"s", "--config", path, NULL}, "port");
    write_text(path, "- a\n- b\n");
    refuses(3, (char *[]){"s", "--config", path, NULL}, "mapping");
    write_text(path, "");
    assert_int_equal(
        config_parse_args(&c, 3, (char *[]){"s", "--config", path, NULL}), 0);
    unlink(path);
    refuses(3, (char *[]){"s", "--config", path, NULL}, path);
}

/* ---- frame decoder ---- */

static size_t put_frame(uint8_t *p, const char *payload)
{
    size_t n = strlen(payload);

    enc_u32be(p, (uint32_t)n);
    memcpy(p + 4, payload, n);
    return n + 4;
}

static void test_frame_pieces(void **state)
{
    static const char *const payloads[] = {"hello", "", "a longer payload",
                                           "x"};
    uint8_t stream[128];
    size_t len = 0;

    (void)state;
    for (int i = 0; i < 4; i++)
        len += put_frame(stream + len, payloads[i]);
    /* Every piece size from 1 byte to the whole stream at once. */
    for (size_t piece = 1; piece <= len; piece++) {
        struct frame_dec d;
        int got = 0;
        frame_dec_init(&d, 64);
        for (size_t off = 0; off < len; off += piece) {
            const uint8_t *p;
            size_t n, take = len - off < piece ? len - off : piece;
            assert_int_equal(frame_dec_feed(&d, stream + off, take), 0);
            while (frame_dec_next(&d, &p, &n) == 1) {
                assert_int_equal(n, strlen(payloads[got]));
                assert_memory_equal(p, payloads[got], n);
                got++;
            }
        }
        assert_int_equal(got, 4);
        assert_int_equal(frame_dec_buffered(&d), 0);
        frame_dec_free(&d);
    }
}

static void test_frame_oversize(void **state)
{
    struct frame_dec d;
    const uint8_t *p;
    uint8_t hdr[4];
    size_t n;

    (void)state;
    frame_dec_init(&d, 100);
    enc_u32be(hdr, 100); /* exactly the limit: fine, waits for bytes */
    assert_int_equal(frame_dec_feed(&d, hdr, 3), 0);
    assert_int_equal(frame_dec_next(&d, &p, &n), 0);
    assert_int_equal(frame_dec_feed(&d, hdr + 3, 1), 0);
    assert_int_equal(frame_dec_next(&d, &p, &n), 0);
    frame_dec_free(&d);

    /* One over: refused from the header alone, no payload needed. */
    frame_dec_init(&d, 100);
    enc_u32be(hdr, 101);
    assert_int_equal(frame_dec_feed(&d, hdr, 4), 0);
    assert_int_equal(frame_dec_next(&d, &p, &n), CAIRN_ETOOBIG);
    assert_non_null(strstr(err_msg(), "101"));
    frame_dec_free(&d);

    frame_dec_init(&d, 100);
    enc_u32be(hdr, 0xffffffffu);
    assert_int_equal(frame_dec_feed(&d, hdr, 4), 0);
    assert_int_equal(frame_dec_next(&d, &p, &n), CAIRN_ETOOBIG);
    frame_dec_free(&d);
}

static void test_frame_shrinks(void **state)
{
    struct frame_dec d;
    const uint8_t *p;
    uint8_t *big = calloc(1, (2u << 20) + 4);
    size_t n;

    (void)state;
    frame_dec_init(&d, 4u << 20);
    enc_u32be(big, 2u << 20);
    assert_int_equal(frame_dec_feed(&d, big, (2u << 20) + 4), 0);
    assert_int_equal(frame_dec_next(&d, &p, &n), 1);
    assert_int_equal(n, 2u << 20);
    assert_true(d.in.cap >= 2u << 20);
    /* The next bytes find the buffer empty and start small again. */
    enc_u32be(big, 1);
    assert_int_equal(frame_dec_feed(&d, big, 5), 0);
    assert_true(d.in.cap < 1u << 20);
    assert_int_equal(frame_dec_next(&d, &p, &n), 1);
    assert_int_equal(n, 1);
    frame_dec_free(&d);
    free(big);
}

static void test_frame_pack_roundtrip(void **state)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__ListKeyspaces lk = CAIRN__LIST_KEYSPACES__INIT;
    struct frame_dec d;
    Cairn__Request *back;
    const uint8_t *p;
    uint8_t *f;
    size_t n, pn;

    (void)state;
    rq.id = 123456789;
    rq.op_case = CAIRN__REQUEST__OP_LIST_KEYSPACES;
    rq.list_keyspaces = &lk;
    assert_int_equal(frame_pack(&rq.base, &f, &n), 0);
    assert_int_equal(dec_u32be(f), n - 4);
    frame_dec_init(&d, 1024);
    assert_int_equal(frame_dec_feed(&d, f, n), 0);
    assert_int_equal(frame_dec_next(&d, &p, &pn), 1);
    back = cairn__request__unpack(frame_allocator(), pn, p);
    assert_non_null(back);
    assert_int_equal(back->id, 123456789);
    assert_int_equal(back->op_case, CAIRN__REQUEST__OP_LIST_KEYSPACES);
    cairn__request__free_unpacked(back, frame_allocator());
    frame_dec_free(&d);
    mem_free(f);
}

/* ---- validation ---- */

static const struct validate_limits lim = {1000};

static int check_write(Cairn__Mutation *m, const char *pk)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Write w = CAIRN__WRITE__INIT;

    w.keyspace = "ks";
    w.table = "t";
    w.pkey = (ProtobufCBinaryData){strlen(pk), (uint8_t *)pk};
    w.n_mutations = m ? 1 : 0;
    w.mutations = &m;
    rq.op_case = CAIRN__REQUEST__OP_WRITE;
    rq.write = &w;
    return validate_request(&rq, &lim);
}

static void test_validate(void **state)
{
    Cairn__Mutation m = CAIRN__MUTATION__INIT;
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    uint8_t big[1001];

    (void)state;
    assert_int_equal(validate_name("keyspace", "ok_Name9"), 0);
    assert_int_equal(validate_name("keyspace", ""), -EINVAL);
    assert_int_equal(validate_name("keyspace", "a.b"), -EINVAL);
    assert_int_equal(validate_name("table", "x23456789012345678901234567890"
                                            "1234567890123456789"),
                     -EINVAL);

    m.kind = CAIRN__MUTATION_KIND__MUT_CELL;
    m.column = (ProtobufCBinaryData){1, (uint8_t *)"c"};
    assert_int_equal(check_write(&m, "pk"), 0);
    assert_int_equal(check_write(&m, ""), -EINVAL);
    assert_int_equal(check_write(NULL, "pk"), -EINVAL);
    memset(big, 'v', sizeof(big));
    m.value = (ProtobufCBinaryData){sizeof(big), big};
    assert_int_equal(check_write(&m, "pk"), CAIRN_ETOOBIG);
    m.value = (ProtobufCBinaryData){0, NULL};
    m.timestamp = -1;
    assert_int_equal(check_write(&m, "pk"), -EINVAL);
    m.timestamp = 0;
    m.ttl_s = VALIDATE_MAX_TTL + 1;
    assert_int_equal(check_write(&m, "pk"), -EINVAL);
    m.ttl_s = 0;
    m.kind = (Cairn__MutationKind)9;
    assert_int_equal(check_write(&m, "pk"), -EINVAL);
    m.kind = CAIRN__MUTATION_KIND__MUT_ROW_DELETE;
    assert_int_equal(check_write(&m, "pk"), -EINVAL); /* a column */
    m.column = (ProtobufCBinaryData){0, NULL};
    assert_int_equal(check_write(&m, "pk"), 0);
    m.ck_end = (ProtobufCBinaryData){1, (uint8_t *)"z"};
    assert_int_equal(check_write(&m, "pk"), -EINVAL); /* end on a row */
    m.kind = CAIRN__MUTATION_KIND__MUT_RANGE_DELETE;
    assert_int_equal(check_write(&m, "pk"), 0);

    rq.op_case = CAIRN__REQUEST__OP__NOT_SET;
    assert_int_equal(validate_request(&rq, &lim), CAIRN_EPROTO);
    rq.consistency = (Cairn__Consistency)42;
    assert_int_equal(validate_request(&rq, &lim), -EINVAL);

    assert_int_equal(
        validate_replicas_needed(CAIRN__CONSISTENCY__CL_QUORUM, 3, 0), 2);
    assert_int_equal(validate_replicas_needed(CAIRN__CONSISTENCY__CL_ALL, 3, 1),
                     3);
    assert_int_equal(validate_replicas_needed(CAIRN__CONSISTENCY__CL_ANY, 3, 0),
                     -EINVAL);
}

static void test_paging_states(void **state)
{
    const uint8_t *a, *b;
    size_t an, bn, n;
    uint8_t *ps;

    (void)state;
    assert_int_equal(paging_read_encode((const uint8_t *)"ck", 2, &ps, &n), 0);
    assert_int_equal(paging_read_decode(ps, n, &a, &an), 0);
    assert_int_equal(an, 2);
    assert_memory_equal(a, "ck", 2);
    /* A read's state is not a scan's, and no byte may be missing. */
    assert_int_equal(paging_scan_decode(ps, n, &a, &an, &b, &bn), -EINVAL);
    assert_int_equal(paging_read_decode(ps, n - 1, &a, &an), -EINVAL);
    mem_free(ps);
    assert_int_equal(paging_scan_encode((const uint8_t *)"pk", 2,
                                        (const uint8_t *)"", 0, &ps, &n),
                     0);
    assert_int_equal(paging_scan_decode(ps, n, &a, &an, &b, &bn), 0);
    assert_int_equal(an, 2);
    assert_int_equal(bn, 0);
    mem_free(ps);
    assert_int_equal(
        paging_read_decode((const uint8_t *)"R\xff\xff\xff\x0f", 5, &a, &an),
        -EINVAL);
}

/* ---- schema ---- */

static void tmpdir(char *out)
{
    strcpy(out, "/tmp/cairn-unit-schema-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rmdir_all(const char *dir)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_schema_persist(void **state)
{
    struct storage_table_options o = {100, 5, 0};
    struct schema_table t, *ts;
    struct schema *s;
    uint64_t id1, id2, *drops;
    size_t n;
    uint32_t rf;
    char dir[64];
    int created;

    (void)state;
    tmpdir(dir);
    assert_int_equal(schema_open(dir, &s), 0);
    assert_int_equal(schema_create_keyspace(s, "ks", 3, 0), 0);
    assert_int_equal(schema_create_keyspace(s, "ks", 3, 0), CAIRN_EEXISTS);
    assert_int_equal(schema_create_keyspace(s, "ks", 3, 1), 0);
    assert_int_equal(schema_create_table(s, "ks", "t", &o, 0, &id1, &created),
                     0);
    assert_int_equal(created, 1);
    assert_int_equal(schema_create_table(s, "no", "t", &o, 0, &id2, &created),
                     CAIRN_ENOKEYSPACE);
    schema_close(s);

    assert_int_equal(schema_open(dir, &s), 0);
    assert_int_equal(schema_table(s, "ks", "t", &t, &rf), 0);
    assert_int_equal(t.id, id1);
    assert_int_equal(rf, 3);
    assert_int_equal(t.opts.gc_grace_s, 100);
    assert_int_equal(t.opts.default_ttl_s, 5);
    assert_int_equal(t.opts.compression, 0);
    assert_int_equal(schema_drop_table(s, "ks", "t", 0), 0);
    assert_int_equal(schema_table(s, "ks", "t", &t, &rf), CAIRN_ENOTABLE);
    assert_non_null(strstr(err_msg(), "ks.t"));
    assert_int_equal(schema_create_table(s, "ks", "t", &o, 0, &id2, &created),
                     0);
    assert_true(id2 != id1); /* a re-create never reuses an id */
    schema_close(s);

    /* The drop is pending until storage confirms it, across restarts. */
    assert_int_equal(schema_open(dir, &s), 0);
    assert_int_equal(schema_pending_drops(s, &drops, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(drops[0], id1);
    mem_free(drops);
    assert_int_equal(schema_drop_done(s, id1), 0);
    assert_int_equal(schema_drop_keyspace(s, "ks", 0), 0);
    assert_int_equal(schema_list_tables(s, "ks", &ts, &n), CAIRN_ENOKEYSPACE);
    schema_close(s);
    assert_int_equal(schema_open(dir, &s), 0);
    assert_int_equal(schema_pending_drops(s, &drops, &n), 0);
    assert_int_equal(n, 1); /* the keyspace's table */
    assert_int_equal(drops[0], id2);
    mem_free(drops);
    schema_close(s);
    rmdir_all(dir);
}

static void test_schema_damage(void **state)
{
    struct schema *s;
    char dir[64], path[128];
    uint8_t b;
    int fd;

    (void)state;
    tmpdir(dir);
    assert_int_equal(schema_open(dir, &s), 0);
    assert_int_equal(schema_create_keyspace(s, "ks", 1, 0), 0);
    schema_close(s);
    snprintf(path, sizeof(path), "%s/schema", dir);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, 30), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, 30), 1);
    close(fd);
    assert_int_equal(schema_open(dir, &s), CAIRN_ECORRUPT);
    assert_null(s);
    assert_non_null(strstr(err_msg(), path));

    /* A leftover temporary file from a crash changes nothing. */
    rmdir_all(dir);
    tmpdir(dir);
    snprintf(path, sizeof(path), "%s/schema.tmp", dir);
    write_text(path, "half a schema");
    assert_int_equal(schema_open(dir, &s), 0);
    assert_int_equal(schema_version(s), 0);
    schema_close(s);
    rmdir_all(dir);
}

/* ---- node: timestamps, storage made to agree with the schema ---- */

struct ts_run {
    struct node *n;
    int64_t ts[5000];
};

static void *ts_thread(void *arg)
{
    struct ts_run *r = arg;

    for (int i = 0; i < 5000; i++)
        r->ts[i] = node_timestamp(r->n);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void open_node(const char *dir, struct config *cfg, struct storage **st,
                      struct schema **sc, struct node **n)
{
    struct storage_options o;

    config_defaults(cfg);
    storage_options_default(&o);
    o.dir = dir;
    o.sync = STORAGE_SYNC_NONE;
    assert_int_equal(storage_open(&o, st), 0);
    assert_int_equal(schema_open(dir, sc), 0);
    assert_int_equal(node_create(cfg, *st, *sc, n), 0);
}

static void close_node(struct storage *st, struct schema *sc, struct node *n)
{
    node_destroy(n);
    storage_close(st);
    schema_close(sc);
}

static void test_node_timestamps(void **state)
{
    static struct ts_run runs[4];
    static int64_t all[4 * 5000];
    struct config cfg;
    struct storage *st;
    struct schema *sc;
    struct node *n;
    pthread_t th[4];
    char dir[64];

    (void)state;
    tmpdir(dir);
    open_node(dir, &cfg, &st, &sc, &n);
    for (int i = 0; i < 4; i++) {
        runs[i].n = n;
        pthread_create(&th[i], NULL, ts_thread, &runs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        for (int j = 1; j < 5000; j++)
            assert_true(runs[i].ts[j] > runs[i].ts[j - 1]);
        memcpy(all + i * 5000, runs[i].ts, sizeof(runs[i].ts));
    }
    /* Unique across threads too: no two writes share a stamp. */
    qsort(all, 4 * 5000, sizeof(all[0]), cmp_i64);
    for (int i = 1; i < 4 * 5000; i++)
        assert_true(all[i] > all[i - 1]);
    close_node(st, sc, n);
    rmdir_all(dir);
}

static void test_node_reconciles(void **state)
{
    struct storage_table_options o = {864000, 0, 1};
    struct config cfg;
    struct storage *st;
    struct schema *sc;
    struct node *n;
    uint64_t id, *drops;
    size_t cnt;
    char dir[64];
    int created;

    (void)state;
    tmpdir(dir);
    /* A schema written while storage never heard of its tables. */
    assert_int_equal(schema_open(dir, &sc), 0);
    assert_int_equal(schema_create_keyspace(sc, "ks", 1, 0), 0);
    assert_int_equal(schema_create_table(sc, "ks", "a", &o, 0, &id, &created),
                     0);
    assert_int_equal(schema_create_table(sc, "ks", "b", &o, 0, &id, &created),
                     0);
    assert_int_equal(schema_drop_table(sc, "ks", "a", 0), 0);
    schema_close(sc);

    /* At start the node creates b in storage and finishes a's drop. */
    open_node(dir, &cfg, &st, &sc, &n);
    assert_int_equal(schema_pending_drops(sc, &drops, &cnt), 0);
    assert_int_equal(cnt, 0);
    mem_free(drops);
    {
        struct storage_mut m = {0};
        struct storage_batch b = {id, {(const uint8_t *)"k", 1}, &m, 1};
        m.kind = STORAGE_MUT_CELL;
        m.column = (struct storage_bytes){(const uint8_t *)"c", 1};
        m.ts = 1;
        assert_int_equal(storage_apply_sync(st, &b), 0);
    }
    close_node(st, sc, n);
    rmdir_all(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_flags),
        cmocka_unit_test(test_config_refusals),
        cmocka_unit_test(test_config_yaml),
        cmocka_unit_test(test_frame_pieces),
        cmocka_unit_test(test_frame_oversize),
        cmocka_unit_test(test_frame_shrinks),
        cmocka_unit_test(test_frame_pack_roundtrip),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_paging_states),
        cmocka_unit_test(test_schema_persist),
        cmocka_unit_test(test_schema_damage),
        cmocka_unit_test(test_node_timestamps),
        cmocka_unit_test(test_node_reconciles),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
