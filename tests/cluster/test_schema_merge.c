/*
 * test_schema_merge.c -- schema agreement without the network: two schema
 * files play two nodes and exchange images (schema_export/schema_merge)
 * as SchemaPull/SchemaPush would. Expected ids come from the rule of
 * schema.h (hash of names and drop counts), not from what the code gave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/mem.h"
#include "server/clschema.h"
#include "server/schema.h"

struct two {
    char da[64], db[64];
    struct schema *a, *b;
};

static void open_two(struct two *t)
{
    snprintf(t->da, sizeof(t->da), "/tmp/cairn-sm-a-XXXXXX");
    snprintf(t->db, sizeof(t->db), "/tmp/cairn-sm-b-XXXXXX");
    assert_non_null(mkdtemp(t->da));
    assert_non_null(mkdtemp(t->db));
    assert_int_equal(schema_open(t->da, &t->a), 0);
    assert_int_equal(schema_open(t->db, &t->b), 0);
}

static void rm_dir(const char *d)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
    assert_int_equal(system(cmd), 0);
}

static void close_two(struct two *t)
{
    schema_close(t->a);
    schema_close(t->b);
    rm_dir(t->da);
    rm_dir(t->db);
}

/* pull -- `to` merges the whole schema of `from`; tables added counted. */
static size_t pull(struct schema *to, struct schema *from)
{
    struct schema_image im;
    struct schema_table *created;
    size_t n;

    assert_int_equal(schema_export(from, &im), 0);
    assert_int_equal(schema_merge(to, &im, &created, &n), 0);
    schema_image_free(&im);
    mem_free(created);
    return n;
}

static uint64_t id_of(struct schema *s, const char *ks, const char *name)
{
    struct schema_table t;
    uint32_t rf;

    if (schema_table(s, ks, name, &t, &rf) < 0)
        return 0;
    return t.id;
}

static void same_version(struct schema *a, struct schema *b, int want)
{
    uint8_t va[16], vb[16];

    assert_int_equal(clschema_version(a, va), 0);
    assert_int_equal(clschema_version(b, vb), 0);
    assert_int_equal(memcmp(va, vb, 16) == 0, want);
}

static const struct storage_table_options opts = {864000, 0, 1};

/* C25: the same CREATE TABLE on both nodes gives one id. */
static void test_concurrent_create_one_id(void **st)
{
    struct two t;
    uint64_t ia, ib;
    int created;

    (void)st;
    open_two(&t);
    assert_int_equal(schema_create_keyspace(t.a, "ks", 3, 0), 0);
    assert_int_equal(schema_create_keyspace(t.b, "ks", 3, 0), 0);
    assert_int_equal(
        schema_create_table(t.a, "ks", "t", &opts, 0, &ia, &created), 0);
    assert_int_equal(
        schema_create_table(t.b, "ks", "t", &opts, 0, &ib, &created), 0);
    assert_true(ia == ib);
    assert_true(ia == schema_table_id("ks", 0, "t", 0));
    same_version(t.a, t.b, 1);
    assert_int_equal(pull(t.a, t.b), 0);
    close_two(&t);
}

/* A drop spreads, and a re-create after it gets a new id everywhere. */
static void test_drop_and_recreate(void **st)
{
    struct two t;
    uint64_t id1, id2;
    int created;

    (void)st;
    open_two(&t);
    assert_int_equal(schema_create_keyspace(t.a, "ks", 1, 0), 0);
    assert_int_equal(
        schema_create_table(t.a, "ks", "t", &opts, 0, &id1, &created), 0);
    assert_int_equal(pull(t.b, t.a), 1); /* b learns ks and t */
    assert_true(id_of(t.b, "ks", "t") == id1);
    same_version(t.a, t.b, 1);

    assert_int_equal(schema_drop_table(t.b, "ks", "t", 0), 0);
    same_version(t.a, t.b, 0);
    pull(t.b, t.a); /* a's older table must not come back to b */
    assert_true(id_of(t.b, "ks", "t") == 0);
    pull(t.a, t.b); /* a learns of the drop */
    assert_true(id_of(t.a, "ks", "t") == 0);
    same_version(t.a, t.b, 1);

    assert_int_equal(
        schema_create_table(t.a, "ks", "t", &opts, 0, &id2, &created), 0);
    assert_true(id2 == schema_table_id("ks", 0, "t", 1));
    assert_true(id2 != id1);
    assert_int_equal(pull(t.b, t.a), 1);
    assert_true(id_of(t.b, "ks", "t") == id2);
    same_version(t.a, t.b, 1);
    close_two(&t);
}

/* A dropped keyspace takes its tables along on the other node. */
static void test_keyspace_drop_spreads(void **st)
{
    struct two t;
    uint64_t id;
    int created;

    (void)st;
    open_two(&t);
    assert_int_equal(schema_create_keyspace(t.a, "ks", 1, 0), 0);
    assert_int_equal(
        schema_create_table(t.a, "ks", "t", &opts, 0, &id, &created), 0);
    pull(t.b, t.a);
    assert_int_equal(schema_drop_keyspace(t.a, "ks", 0), 0);
    pull(t.b, t.a);
    assert_true(id_of(t.b, "ks", "t") == 0);
    same_version(t.a, t.b, 1);
    /* b's storage is told to drop the table's id. */
    {
        uint64_t *ids;
        size_t n;
        assert_int_equal(schema_pending_drops(t.b, &ids, &n), 0);
        assert_int_equal(n, 1);
        assert_true(ids[0] == id);
        mem_free(ids);
    }
    close_two(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_create_one_id),
        cmocka_unit_test(test_drop_and_recreate),
        cmocka_unit_test(test_keyspace_drop_spreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
