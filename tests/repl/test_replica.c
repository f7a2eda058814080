/*
 * test_replica.c -- the replica's handlers on a real engine, through the
 * wire encoding: a MutationReq applies with its original timestamps and
 * fixed times and acknowledges only through the durability callback; a
 * data read carries tombstones, a digest read equals the digest of the
 * data; a partition read from one replica and written to another as
 * mutations makes both identical (read repair, hints, repair streams);
 * range reads page through every partition in token order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/token.h"
#include "server/coord/resolve.h"
#include "server/replica.h"
#include "tests/storage/teng.h"
#include "tests/storage/tutil.h"

#define T 3

struct node {
    char *dir;
    struct storage *s;
};

static void node_open(struct node *n)
{
    struct storage_options o;
    struct storage_table_options to = {.gc_grace_s = 864000, .compression = 1};

    n->dir = tu_mkdtemp();
    te_opts(&o, n->dir);
    assert_int_equal(storage_open(&o, &n->s), 0);
    assert_int_equal(storage_create_table(n->s, T, &to), 0);
}

static void node_close(struct node *n)
{
    storage_close(n->s);
    tu_rmtree(n->dir);
}

static int done_rc = 1;

static void on_done(void *arg, int rc)
{
    (void)arg;
    done_rc = rc;
}

/* wire -- pack and unpack a MutationReq, as the peer transport would. */
static Cairn__MutationReq *wire(const Cairn__MutationReq *m)
{
    size_t n = cairn__mutation_req__get_packed_size(m);
    uint8_t *b = mem_alloc(MEM_TEST, n);
    Cairn__MutationReq *out;

    cairn__mutation_req__pack(m, b);
    out = cairn__mutation_req__unpack(NULL, n, b);
    mem_free(b);
    assert_non_null(out);
    return out;
}

/* send -- batch `b` to node `n` over the wire encoding; the ack's rc. */
static int send(struct node *n, const struct storage_batch *b)
{
    struct repl_arena a;
    Cairn__MutationReq m, *got;
    int rc;

    repl_arena_init(&a);
    assert_int_equal(repl_batch_to_pb(&a, b, 1, &m), 0);
    got = wire(&m);
    repl_arena_free(&a);
    done_rc = 1;
    rc = replica_apply(n->s, got, on_done, NULL);
    cairn__mutation_req__free_unpacked(got, NULL);
    if (rc)
        return rc;
    assert_int_equal(done_rc, 0); /* sync mode none: durable on return */
    return done_rc;
}

static Cairn__ReadReq read_req(const char *pk, int digest)
{
    Cairn__ReadReq q;

    cairn__read_req__init(&q);
    q.table_id = T;
    q.pkey.data = (uint8_t *)pk;
    q.pkey.len = strlen(pk);
    q.include_tombstones = 1;
    q.digest_only = digest;
    return q;
}

/* digest_of -- node's digest of `pk`, by a digest read. */
static uint64_t digest_of(struct node *n, const char *pk)
{
    Cairn__ReadReq q = read_req(pk, 1);
    Cairn__ReadResp r;
    struct repl_arena a;
    uint64_t d;

    repl_arena_init(&a);
    assert_int_equal(replica_read(n->s, &q, &a, &r), 0);
    assert_int_equal(r.code, 0);
    assert_null(r.part);
    d = r.digest;
    repl_arena_free(&a);
    return d;
}

static void test_apply_fixed_times(void **state)
{
    struct node n;
    struct storage_mut m[3] = {
        {.kind = STORAGE_MUT_CELL,
         .ck = B("r"),
         .column = B("a"),
         .value = B("1"),
         .ts = 100,
         .ttl_s = 60},
        {.kind = STORAGE_MUT_CELL,
         .ck = B("r"),
         .column = B("b"),
         .value = B("2"),
         .ts = 100},
        {.kind = STORAGE_MUT_CELL_DELETE,
         .ck = B("r"),
         .column = B("c"),
         .ts = 90},
    };
    struct storage_batch b = {T, B("pk"), m, 3};
    Cairn__ReadReq q = read_req("pk", 0);
    Cairn__ReadResp r;
    struct repl_arena a;

    (void)state;
    node_open(&n);
    /* Times not fixed yet: no replica may choose them itself. */
    repl_arena_init(&a);
    Cairn__MutationReq pb;
    assert_int_equal(repl_batch_to_pb(&a, &b, 1, &pb), -EINVAL);
    repl_arena_free(&a);

    repl_batch_fix_times(m, 3, 1700000000, 0);
    assert_true(m[0].expires_s == 1700000060 && m[0].ttl_s == 0);
    assert_true(m[1].expires_s == 0);
    assert_true(m[2].deleted_s == 1700000000);
    assert_int_equal(send(&n, &b), 0);

    repl_arena_init(&a);
    assert_int_equal(replica_read(n.s, &q, &a, &r), 0);
    assert_int_equal(r.code, 0);
    assert_non_null(r.part);
    assert_int_equal(r.part->n_rows, 1);
    Cairn__ReplRow *row = r.part->rows[0];
    assert_int_equal(row->n_cells, 3);
    assert_true(row->cells[0]->ts == 100);
    assert_true(row->cells[0]->expires_s == 1700000060);
    assert_true(row->cells[2]->tombstone);
    assert_true(row->cells[2]->deleted_s == 1700000000);
    repl_arena_free(&a);
    node_close(&n);
}

/* The digest answer equals the digest of the data answer. */
static void test_digest_matches_data(void **state)
{
    struct node n;
    Cairn__ReadReq q = read_req("k", 0);
    Cairn__ReadResp r;
    struct repl_arena a;
    struct storage_partition p;
    uint64_t d;

    (void)state;
    node_open(&n);
    assert_int_equal(te_put(n.s, T, "k", "r1", "c", "v", 10), 0);
    assert_int_equal(
        te_del(n.s, T, STORAGE_MUT_ROW_DELETE, "k", "r0", "", "", 11), 0);
    repl_arena_init(&a);
    assert_int_equal(replica_read(n.s, &q, &a, &r), 0);
    assert_int_equal(repl_part_from_pb(&a, r.part, &p), 0);
    assert_int_equal(coord_resolve_digest(&p, &d), 0);
    assert_true(d == digest_of(&n, "k"));
    repl_arena_free(&a);

    /* Nothing stored: an empty partition under the key asked for. */
    struct storage_partition empty = {.pkey = B("none"),
                                      .deleted_ts = STORAGE_TS_NONE};
    assert_int_equal(coord_resolve_digest(&empty, &d), 0);
    assert_true(d == digest_of(&n, "none"));
    assert_true(d != digest_of(&n, "k"));
    node_close(&n);
}

/* Copy `pk` from `from` to `to` as read repair does. */
static void copy_part(struct node *from, struct node *to, const char *pk)
{
    Cairn__ReadReq q = read_req(pk, 0);
    Cairn__ReadResp r;
    struct repl_arena a;
    struct storage_partition p;
    struct storage_mut *m;
    size_t nm;

    repl_arena_init(&a);
    assert_int_equal(replica_read(from->s, &q, &a, &r), 0);
    assert_int_equal(repl_part_from_pb(&a, r.part, &p), 0);
    assert_int_equal(repl_part_to_muts(&a, &p, &m, &nm), 0);
    struct storage_batch b = {T, p.pkey, m, nm};
    assert_int_equal(send(to, &b), 0);
    repl_arena_free(&a);
}

static void test_copy_makes_identical(void **state)
{
    struct node x, y;

    (void)state;
    node_open(&x);
    node_open(&y);
    assert_int_equal(te_put(x.s, T, "k", "r1", "c", "v1", 10), 0);
    assert_int_equal(te_put(x.s, T, "k", "r2", "c", "v2", 10), 0);
    assert_int_equal(te_put(x.s, T, "k", "r3", "c", "v3", 10), 0);
    assert_int_equal(
        te_del(x.s, T, STORAGE_MUT_CELL_DELETE, "k", "r1", "", "c", 20), 0);
    assert_int_equal(
        te_del(x.s, T, STORAGE_MUT_RANGE_DELETE, "k", "r5", "r7", "", 30), 0);
    assert_int_equal(
        te_del(x.s, T, STORAGE_MUT_PARTITION_DELETE, "k", "", "", "", 5), 0);
    /* y has a newer r3 that the copy must not override (C11). */
    assert_int_equal(te_put(y.s, T, "k", "r3", "c", "new", 50), 0);
    copy_part(&x, &y, "k");
    copy_part(&y, &x, "k");
    assert_true(digest_of(&x, "k") == digest_of(&y, "k"));
    char v[16];
    assert_int_equal(te_get(y.s, T, "k", "r3", "c", v, sizeof(v)), 1);
    assert_string_equal(v, "new");
    assert_int_equal(te_get(y.s, T, "k", "r1", "c", v, sizeof(v)), 0);
    node_close(&x);
    node_close(&y);
}

static void test_range_read_pages(void **state)
{
    struct node n;
    char pk[16];
    int seen = 0, pages = 0;
    int64_t last = INT64_MIN;
    uint8_t after_pk[64], after_ck[64];
    size_t apn = 0, acn = 0;
    int has_after = 0;

    (void)state;
    node_open(&n);
    for (int i = 0; i < 10; i++) {
        snprintf(pk, sizeof(pk), "key%d", i);
        assert_int_equal(te_put(n.s, T, pk, "r", "c", "v", 10), 0);
    }
    for (int more = 1; more; pages++) {
        Cairn__RangeReadReq q;
        Cairn__RangeReadResp r;
        struct repl_arena a;
        cairn__range_read_req__init(&q);
        q.table_id = T;
        q.token_start = INT64_MIN;
        q.token_end = INT64_MAX;
        q.limit_rows = 3;
        q.has_after = has_after;
        q.after_pkey = (ProtobufCBinaryData){apn, after_pk};
        q.after_ck = (ProtobufCBinaryData){acn, after_ck};
        repl_arena_init(&a);
        assert_int_equal(replica_range_read(n.s, &q, &a, &r), 0);
        assert_int_equal(r.code, 0);
        for (size_t i = 0; i < r.n_parts; i++, seen++) {
            assert_true(r.parts[i]->token >= last);
            assert_true(r.parts[i]->token ==
                        token_of(r.parts[i]->pkey.data, r.parts[i]->pkey.len));
            last = r.parts[i]->token;
        }
        more = r.more;
        if (more) {
            apn = r.resume_pkey.len;
            acn = r.resume_ck.len;
            memcpy(after_pk, r.resume_pkey.data, apn);
            memcpy(after_ck, r.resume_ck.data, acn);
            has_after = 1;
        }
        repl_arena_free(&a);
    }
    assert_int_equal(seen, 10);
    assert_true(pages >= 4);
    node_close(&n);
}

static void test_bad_messages(void **state)
{
    struct node n;
    Cairn__MutationReq m;
    Cairn__ReplMut mut, *pm = &mut;
    Cairn__ReadReq q = read_req("k", 0);
    Cairn__ReadResp r;
    struct repl_arena a;

    (void)state;
    node_open(&n);
    cairn__mutation_req__init(&m);
    cairn__repl_mut__init(&mut);
    mut.kind = 99;
    mut.ts = 5;
    m.table_id = T;
    m.n_muts = 1;
    m.muts = &pm;
    assert_int_equal(replica_apply(n.s, &m, on_done, NULL), CAIRN_EPROTO);
    mut.kind = STORAGE_MUT_CELL;
    m.table_id = 999;
    assert_int_equal(replica_apply(n.s, &m, on_done, NULL), CAIRN_ENOTABLE);
    q.table_id = 999;
    repl_arena_init(&a);
    assert_int_equal(replica_read(n.s, &q, &a, &r), 0);
    assert_int_equal(r.code, CAIRN_ENOTABLE);
    assert_non_null(r.message);
    repl_arena_free(&a);
    node_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_fixed_times),
        cmocka_unit_test(test_digest_matches_data),
        cmocka_unit_test(test_copy_makes_identical),
        cmocka_unit_test(test_range_read_pages),
        cmocka_unit_test(test_bad_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
