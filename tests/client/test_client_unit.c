/*
 * test_client_unit.c -- libcairn without a server: options, consistency
 * names, futures, timestamps, the wire encoding of every request, and the
 * pool's behaviour when connections die (fail fast, resend idempotent
 * requests once, reconnect on its own), against the scripted protocol
 * peer of peer.c on a real 127.0.0.1 socket.
 *
 * Expected values come from the API contract in cairn.h and the protocol
 * in proto/client.proto, not from running the code.
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
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/internal.h"
#include "common/mem.h"
#include "tests/client/peer.h"

/* Upper bound for waiting on progress that must happen (not a timing
 * assertion: only a hang fails it). */
#define PATIENCE_MS 20000

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- options ---- */

static void test_split_hostport(void **state)
{
    char host[64];
    uint16_t port;

    (void)state;
    assert_int_equal(cairn__split_hostport("a.b:123", 7, host, 64, &port), 0);
    assert_string_equal(host, "a.b");
    assert_int_equal(port, 123);
    assert_int_equal(cairn__split_hostport("node1", 5, host, 64, &port), 0);
    assert_string_equal(host, "node1");
    assert_int_equal(port, CAIRN_DEFAULT_PORT);
    assert_int_equal(cairn__split_hostport("[::1]:9", 7, host, 64, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9);
    /* Bad: empty host, port 0, port over 65535, junk, bare IPv6. */
    assert_int_equal(cairn__split_hostport(":1", 2, host, 64, &port),
                     CAIRN_ERR_INVALID);
    assert_int_equal(cairn__split_hostport("h:0", 3, host, 64, &port),
                     CAIRN_ERR_INVALID);
    assert_int_equal(cairn__split_hostport("h:65536", 7, host, 64, &port),
                     CAIRN_ERR_INVALID);
    assert_int_equal(cairn__split_hostport("h:12x", 5, host, 64, &port),
                     CAIRN_ERR_INVALID);
    assert_int_equal(cairn__split_hostport("::1", 3, host, 64, &port),
                     CAIRN_ERR_INVALID);
    assert_int_equal(cairn__split_hostport("h:", 2, host, 64, &port),
                     CAIRN_ERR_INVALID);
}

static void test_parse_contacts(void **state)
{
    struct cairn__addr *a;
    size_t n;

    (void)state;
    assert_int_equal(
        cairn__parse_contacts("127.0.0.1:1,127.0.0.1:2,localhost", &a, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(a[1].name, "127.0.0.1:2");
    assert_string_equal(a[2].name, "localhost");
    mem_free(a);
    assert_int_equal(cairn__parse_contacts("", &a, &n), CAIRN_ERR_INVALID);
    assert_int_equal(cairn__parse_contacts("h:1,", &a, &n), CAIRN_ERR_INVALID);
    assert_int_equal(cairn__parse_contacts(",h:1", &a, &n), CAIRN_ERR_INVALID);
    assert_int_equal(cairn__parse_contacts("no.such.host.invalid:1", &a, &n),
                     CAIRN_ERR_INVALID);
    assert_null(a);
}

static void test_client_new_bad_options(void **state)
{
    cairn_options_t o;
    cairn_client_t *c = (cairn_client_t *)&o;

    (void)state;
    cairn_options_init(&o);
    assert_int_equal(cairn_client_new(&o, &c), CAIRN_ERR_INVALID);
    assert_null(c);
    o.contact_points = "127.0.0.1:1";
    o.connections_per_host = 1000;
    assert_int_equal(cairn_client_new(&o, &c), CAIRN_ERR_INVALID);
    assert_non_null(strstr(cairn_last_error(), "connections_per_host"));
}

static void test_client_unreachable(void **state)
{
    cairn_options_t o;
    cairn_client_t *c;
    struct peer p;
    char cp[64];

    (void)state;
    /* A port that surely has no listener: take one, then let it go. */
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    snprintf(cp, sizeof(cp), "127.0.0.1:%u", p.port);
    peer_stop(&p);
    cairn_options_init(&o);
    o.contact_points = cp;
    assert_int_equal(cairn_client_new(&o, &c), CAIRN_ERR_UNREACHABLE);
    assert_null(c);
    assert_non_null(strstr(cairn_last_error(), cp));
    assert_string_equal(cairn_strerror(CAIRN_ERR_UNREACHABLE), "unreachable");
}

static void test_one_contact_point_down(void **state)
{
    struct peer live, dead;
    cairn_options_t o;
    cairn_client_t *c;
    cairn_client_stats_t st;
    char cp[128];

    (void)state;
    /* Two contact points, one with nobody listening: the client starts on
     * the live one, serves every request there, and keeps trying the
     * other in the background. */
    assert_int_equal(peer_start(&live, PEER_ACK), 0);
    assert_int_equal(peer_start(&dead, PEER_ACK), 0); /* another port */
    peer_down(&dead);
    snprintf(cp, sizeof(cp), "127.0.0.1:%u,127.0.0.1:%u", dead.port, live.port);
    cairn_options_init(&o);
    o.contact_points = cp;
    o.connections_per_host = 1;
    assert_int_equal(cairn_client_new(&o, &c), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(cairn_list_keyspaces(c, NULL, NULL), 0);
    assert_int_equal(peer_requests(&live), 20);
    cairn_client_stats(c, &st);
    assert_int_equal(st.connections_total, 2);
    assert_int_equal(st.connections_ready, 1);
    cairn_client_free(c);
    peer_stop(&live);
    peer_stop(&dead);
}

static void test_consistency_names(void **state)
{
    cairn_consistency_t cl;

    (void)state;
    assert_int_equal(cairn_consistency_parse("quorum", &cl), 0);
    assert_int_equal(cl, CAIRN_CL_QUORUM);
    assert_int_equal(cairn_consistency_parse("ALL", &cl), 0);
    assert_int_equal(cl, CAIRN_CL_ALL);
    assert_int_equal(cairn_consistency_parse("One", &cl), 0);
    assert_int_equal(cl, CAIRN_CL_ONE);
    assert_int_equal(cairn_consistency_parse("most", &cl), CAIRN_ERR_INVALID);
    assert_string_equal(cairn_consistency_name(CAIRN_CL_THREE), "THREE");
    /* The public values are the wire's. */
    assert_int_equal(CAIRN_CL_QUORUM, CAIRN__CONSISTENCY__CL_QUORUM);
    assert_int_equal(CAIRN_CL_ANY, CAIRN__CONSISTENCY__CL_ANY);
}

/* ---- futures ---- */

static int cb_calls;
static cairn_future_t *cb_seen;

static void count_cb(cairn_future_t *f, void *arg)
{
    cb_calls++;
    cb_seen = f;
    *(int *)arg = cairn_future_error(f);
}

struct completer {
    cairn_future_t *f;
    int code;
};

static void *complete_later(void *arg)
{
    struct completer *c = arg;

    usleep(20000);
    cairn__future_complete(c->f, c->code, "late failure", NULL);
    return NULL;
}

static void test_future_semantics(void **state)
{
    cairn_future_t *f = cairn__future_new();
    struct completer cm = {f, CAIRN_ERR_TIMEOUT};
    pthread_t t;
    int seen = 1;

    (void)state;
    assert_non_null(f);
    assert_int_equal(cairn_future_ready(f), 0);
    assert_int_equal(cairn_future_error(f), CAIRN_ERR_AGAIN);
    assert_int_equal(cairn_future_wait_for(f, 1), CAIRN_ERR_AGAIN);
    assert_null(cairn_future_result(f));
    assert_string_equal(cairn_future_message(f), "");

    cb_calls = 0;
    assert_int_equal(cairn_future_set_callback(f, count_cb, &seen), 0);
    assert_int_equal(cairn_future_set_callback(f, count_cb, &seen),
                     CAIRN_ERR_INVALID);
    assert_int_equal(pthread_create(&t, NULL, complete_later, &cm), 0);
    assert_int_equal(cairn_future_wait(f), CAIRN_ERR_TIMEOUT);
    pthread_join(t, NULL);
    assert_int_equal(cb_calls, 1);
    assert_ptr_equal(cb_seen, f);
    assert_int_equal(seen, CAIRN_ERR_TIMEOUT);
    assert_int_equal(cairn_future_ready(f), 1);
    assert_int_equal(cairn_future_wait_for(f, 0), CAIRN_ERR_TIMEOUT);
    assert_string_equal(cairn_future_message(f), "late failure");
    cairn_future_free(f);
}

static void test_future_callback_after_done(void **state)
{
    cairn_future_t *f = cairn__future_failed(CAIRN_ERR_NO_TABLE, "no t");
    int seen = 1;

    (void)state;
    cb_calls = 0;
    assert_int_equal(cairn_future_set_callback(f, count_cb, &seen), 0);
    /* Already done: the callback ran at once, on this thread. */
    assert_int_equal(cb_calls, 1);
    assert_int_equal(seen, CAIRN_ERR_NO_TABLE);
    cairn_future_free(f);
}

static void test_future_result_ownership(void **state)
{
    cairn_future_t *f = cairn__future_new();
    Cairn__Response *resp = mem_calloc(MEM_CLIENT, 1, sizeof(*resp));
    Cairn__KeyspaceList *kl = mem_calloc(MEM_CLIENT, 1, sizeof(*kl));
    const cairn_keyspace_t *ks;
    cairn_result_t *r;

    (void)state;
    /* Build a decoded answer as protobuf-c would, with our allocator. */
    cairn__response__init(resp);
    cairn__keyspace_list__init(kl);
    kl->n_keyspaces = 1;
    kl->keyspaces = mem_calloc(MEM_CLIENT, 1, sizeof(*kl->keyspaces));
    kl->keyspaces[0] = mem_calloc(MEM_CLIENT, 1, sizeof(Cairn__Keyspace));
    cairn__keyspace__init(kl->keyspaces[0]);
    kl->keyspaces[0]->name = mem_strdup(MEM_CLIENT, "ks1");
    kl->keyspaces[0]->replication_factor = 3;
    resp->result_case = CAIRN__RESPONSE__RESULT_KEYSPACES;
    resp->keyspaces = kl;
    assert_int_equal(cairn__result_from(resp, &r), 0);
    cairn__future_complete(f, 0, NULL, r);

    assert_ptr_equal(cairn_future_result(f), r);
    assert_int_equal(cairn_result_keyspaces(cairn_future_result(f), &ks), 1);
    assert_string_equal(ks[0].name, "ks1");
    assert_int_equal(ks[0].replication_factor, 3);
    r = cairn_future_take_result(f);
    assert_null(cairn_future_result(f));
    cairn_future_free(f);
    /* Still ours after the future is gone. */
    assert_int_equal(cairn_result_keyspaces(r, &ks), 1);
    assert_string_equal(ks[0].name, "ks1");
    cairn_result_free(r);
}

static void test_future_free_before_done(void **state)
{
    cairn_future_t *f = cairn__future_new();

    (void)state;
    cairn_future_free(f);                     /* the caller lets go first */
    cairn__future_complete(f, 0, NULL, NULL); /* the library still may */
}

/* ---- against the scripted peer ---- */

static cairn_client_t *connect_to(struct peer *p, uint32_t pool)
{
    cairn_options_t o;
    cairn_client_t *c;
    char cp[64];

    snprintf(cp, sizeof(cp), "127.0.0.1:%u", p->port);
    cairn_options_init(&o);
    o.contact_points = cp;
    o.connections_per_host = pool;
    o.connect_timeout_ms = 2000;
    assert_int_equal(cairn_client_new(&o, &c), 0);
    return c;
}

#define TS_THREADS 6
#define TS_EACH    20000

struct ts_arg {
    cairn_client_t *c;
    int64_t *out;
};

static void *ts_worker(void *arg)
{
    struct ts_arg *a = arg;

    for (int i = 0; i < TS_EACH; i++)
        a->out[i] = cairn_client_timestamp(a->c);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void test_timestamps_strictly_increase(void **state)
{
    struct peer p;
    cairn_client_t *c;
    pthread_t t[TS_THREADS];
    struct ts_arg a[TS_THREADS];
    int64_t *all = calloc(TS_THREADS * TS_EACH, sizeof(*all));
    int64_t before;

    (void)state;
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    c = connect_to(&p, 1);
    before = (int64_t)now_ms() * 1000;
    for (int i = 0; i < TS_THREADS; i++) {
        a[i].c = c;
        a[i].out = all + i * TS_EACH;
        assert_int_equal(pthread_create(&t[i], NULL, ts_worker, &a[i]), 0);
    }
    for (int i = 0; i < TS_THREADS; i++)
        pthread_join(t[i], NULL);
    /* Per thread strictly increasing; across threads never repeated;
     * never behind the wall clock seen before the first call. */
    for (int i = 0; i < TS_THREADS; i++)
        for (int j = 1; j < TS_EACH; j++)
            assert_true(a[i].out[j] > a[i].out[j - 1]);
    qsort(all, TS_THREADS * TS_EACH, sizeof(*all), cmp_i64);
    assert_true(all[0] >= before);
    for (int i = 1; i < TS_THREADS * TS_EACH; i++)
        assert_true(all[i] > all[i - 1]);
    free(all);
    cairn_client_free(c);
    peer_stop(&p);
}

static void test_encoding_writes(void **state)
{
    struct peer p;
    cairn_client_t *c;
    Cairn__Request *rq;
    cairn_column_t cols[2] = {{cairn_str("a"), cairn_str("1")},
                              {cairn_str("b"), cairn_str("")}};
    cairn_bytes_t names[1] = {cairn_str("a")};
    const cairn_req_opts_t ro = {CAIRN_CL_QUORUM, 1234};
    int64_t t0;

    (void)state;
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    c = connect_to(&p, 1);

    t0 = cairn_client_timestamp(c);
    assert_int_equal(cairn_put(c, &ro, "ks", "t", cairn_str("pk"),
                               cairn_str("ck"), cols, 2, 0, 60),
                     0);
    rq = peer_last(&p);
    assert_int_equal(rq->op_case, CAIRN__REQUEST__OP_WRITE);
    assert_int_equal(rq->consistency, CAIRN__CONSISTENCY__CL_QUORUM);
    assert_int_equal(rq->timeout_ms, 1234);
    assert_string_equal(rq->write->keyspace, "ks");
    assert_string_equal(rq->write->table, "t");
    assert_int_equal(rq->write->n_mutations, 2);
    assert_memory_equal(rq->write->pkey.data, "pk", 2);
    for (int i = 0; i < 2; i++) {
        Cairn__Mutation *m = rq->write->mutations[i];

        assert_int_equal(m->kind, CAIRN__MUTATION_KIND__MUT_CELL);
        assert_memory_equal(m->ck.data, "ck", 2);
        assert_int_equal(m->ttl_s, 60);
        /* Stamped by the client, after t0, one stamp for the request. */
        assert_true(m->timestamp > t0);
        assert_int_equal(m->timestamp, rq->write->mutations[0]->timestamp);
    }
    assert_memory_equal(rq->write->mutations[0]->value.data, "1", 1);
    assert_int_equal(rq->write->mutations[1]->value.len, 0);
    cairn__request__free_unpacked(rq, NULL);

    /* A caller's timestamp is kept as given. */
    assert_int_equal(cairn_delete_cells(c, NULL, "ks", "t", cairn_str("pk"),
                                        cairn_str("ck"), names, 1, 777),
                     0);
    rq = peer_last(&p);
    assert_int_equal(rq->write->mutations[0]->kind,
                     CAIRN__MUTATION_KIND__MUT_CELL_DELETE);
    assert_int_equal(rq->write->mutations[0]->timestamp, 777);
    assert_int_equal(rq->timeout_ms, 0); /* no timeout given: node's */
    cairn__request__free_unpacked(rq, NULL);

    assert_int_equal(cairn_delete_range(c, NULL, "ks", "t", cairn_str("pk"),
                                        cairn_str("b"), cairn_str("d"), 0),
                     0);
    rq = peer_last(&p);
    assert_int_equal(rq->write->mutations[0]->kind,
                     CAIRN__MUTATION_KIND__MUT_RANGE_DELETE);
    assert_memory_equal(rq->write->mutations[0]->ck.data, "b", 1);
    assert_memory_equal(rq->write->mutations[0]->ck_end.data, "d", 1);
    cairn__request__free_unpacked(rq, NULL);

    assert_int_equal(cairn_delete_row(c, NULL, "ks", "t", cairn_str("pk"),
                                      cairn_str("r"), 0),
                     0);
    rq = peer_last(&p);
    assert_int_equal(rq->write->mutations[0]->kind,
                     CAIRN__MUTATION_KIND__MUT_ROW_DELETE);
    cairn__request__free_unpacked(rq, NULL);

    assert_int_equal(
        cairn_delete_partition(c, NULL, "ks", "t", cairn_str("pk"), 0), 0);
    rq = peer_last(&p);
    assert_int_equal(rq->write->mutations[0]->kind,
                     CAIRN__MUTATION_KIND__MUT_PARTITION_DELETE);
    cairn__request__free_unpacked(rq, NULL);

    cairn_client_free(c);
    peer_stop(&p);
}

static void test_encoding_reads_and_schema(void **state)
{
    struct peer p;
    cairn_client_t *c;
    Cairn__Request *rq;
    cairn_result_t *r;
    const cairn_row_t *rows;
    cairn_slice_t s = {0};
    cairn_table_options_t to = {100, 5, 1};

    (void)state;
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    c = connect_to(&p, 1);

    s.start = cairn_str("");
    s.has_start = 1; /* an empty key meant literally */
    s.page_size = 10;
    s.paging_state = cairn_str("resume-here");
    assert_int_equal(
        cairn_get_slice(c, NULL, "ks", "t", cairn_str("pk"), &s, &r), 0);
    rq = peer_last(&p);
    assert_int_equal(rq->op_case, CAIRN__REQUEST__OP_READ);
    assert_true(rq->read->has_ck_start);
    assert_false(rq->read->has_ck_end);
    assert_int_equal(rq->read->page_size, 10);
    assert_memory_equal(rq->read->paging_state.data, "resume-here", 11);
    cairn__request__free_unpacked(rq, NULL);
    /* The peer echoes the partition key as a row. */
    assert_int_equal(cairn_result_rows(r, &rows), 1);
    assert_memory_equal(rows[0].ck.data, "pk", 2);
    assert_int_equal(rows[0].cells[0].timestamp_us, 7);
    cairn_result_free(r);

    assert_int_equal(
        cairn_get_row(c, NULL, "ks", "t", cairn_str("pk"), cairn_str("x"), &r),
        0);
    cairn_result_free(r);
    rq = peer_last(&p);
    assert_true(rq->read->has_ck_start && rq->read->has_ck_end);
    assert_memory_equal(rq->read->ck_start.data, "x", 1);
    assert_memory_equal(rq->read->ck_end.data, "x", 1);
    cairn__request__free_unpacked(rq, NULL);

    assert_int_equal(cairn_create_table(c, NULL, "ks", "t2", &to, 1), 0);
    rq = peer_last(&p);
    assert_int_equal(rq->op_case, CAIRN__REQUEST__OP_CREATE_TABLE);
    assert_int_equal(rq->create_table->options->gc_grace_s, 100);
    assert_int_equal(rq->create_table->options->default_ttl_s, 5);
    assert_true(rq->create_table->options->no_compression);
    assert_true(rq->create_table->if_not_exists);
    cairn__request__free_unpacked(rq, NULL);

    /* Bad arguments fail before anything is sent. */
    assert_int_equal(cairn_create_keyspace(c, NULL, "bad name", 1, 0),
                     CAIRN_ERR_INVALID);
    assert_int_equal(cairn_create_keyspace(c, NULL, "ks", 0, 0),
                     CAIRN_ERR_INVALID);
    assert_int_equal(cairn_put(c, NULL, "ks", "t", cairn_str("p"),
                               cairn_str(""), NULL, 0, 0, 0),
                     CAIRN_ERR_INVALID);
    assert_int_equal(peer_requests(&p), 3);

    cairn_client_free(c);
    peer_stop(&p);
}

static void test_out_of_order_answers(void **state)
{
    struct peer p;
    cairn_client_t *c;
    cairn_future_t *f[8];
    char key[8][8];

    (void)state;
    assert_int_equal(peer_start(&p, PEER_REVERSE), 0);
    peer_set_mode(&p, PEER_REVERSE, 8);
    c = connect_to(&p, 1);
    for (int i = 0; i < 8; i++) {
        snprintf(key[i], sizeof(key[i]), "k%d", i);
        f[i] =
            cairn_get_slice_async(c, NULL, "ks", "t", cairn_str(key[i]), NULL);
    }
    /* Answered last first; each future still gets its own answer. */
    for (int i = 0; i < 8; i++) {
        const cairn_row_t *rows;

        assert_int_equal(cairn_future_wait(f[i]), 0);
        assert_int_equal(cairn_result_rows(cairn_future_result(f[i]), &rows),
                         1);
        assert_int_equal(rows[0].ck.len, strlen(key[i]));
        assert_memory_equal(rows[0].ck.data, key[i], strlen(key[i]));
        cairn_future_free(f[i]);
    }
    cairn_client_free(c);
    peer_stop(&p);
}

static int wait_connections(cairn_client_t *c, int want)
{
    int64_t until = now_ms() + PATIENCE_MS;

    while (cairn_client_connections(c) != want && now_ms() < until)
        usleep(5000);
    return cairn_client_connections(c);
}

static void test_dead_connection_fails_fast(void **state)
{
    struct peer p;
    cairn_client_t *c;
    cairn_future_t *f;
    const cairn_req_opts_t ro = {0, 60000};
    int64_t t0;

    (void)state;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    c = connect_to(&p, 2);
    assert_int_equal(wait_connections(c, 2), 2);

    /* In flight when the node goes away: fails with CLOSED long before
     * its 60 s timeout, and says the outcome is unknown. */
    f = cairn_create_keyspace_async(c, &ro, "ks", 1, 0);
    while (peer_requests(&p) < 1)
        usleep(1000);
    t0 = now_ms();
    peer_down(&p);
    assert_int_equal(cairn_future_wait(f), CAIRN_ERR_CLOSED);
    assert_true(now_ms() - t0 < 30000);
    assert_non_null(strstr(cairn_future_message(f), "outcome is unknown"));
    cairn_future_free(f);

    /* Nothing up: a new request fails at once with UNREACHABLE. */
    assert_int_equal(wait_connections(c, 0), 0);
    assert_int_equal(cairn_list_keyspaces(c, &ro, NULL), CAIRN_ERR_UNREACHABLE);
    assert_non_null(strstr(cairn_last_error(), "reconnecting"));

    /* The node comes back: the pool refills on its own and works. */
    peer_set_mode(&p, PEER_ACK, 1);
    assert_int_equal(peer_up(&p), 0);
    assert_int_equal(wait_connections(c, 2), 2);
    assert_int_equal(cairn_create_keyspace(c, NULL, "ks", 1, 0), 0);
    cairn_client_free(c);
    peer_stop(&p);
}

static void test_one_drop_one_reconnect(void **state)
{
    struct peer p;
    cairn_client_t *c;
    cairn_client_stats_t before, after;

    (void)state;
    /* D02: a node that drops its connections but keeps listening costs
     * one reconnect per connection, not repeated cycles. */
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    c = connect_to(&p, 2);
    assert_int_equal(wait_connections(c, 2), 2);
    cairn_client_stats(c, &before);
    assert_int_equal(before.connections_total, 2);
    assert_int_equal(before.connect_attempts, 2);
    peer_drop_all(&p);
    /* Both losses noticed and both connections back (bounded wait). */
    for (int64_t until = now_ms() + PATIENCE_MS; now_ms() < until;
         usleep(5000)) {
        cairn_client_stats(c, &after);
        if (after.connections_lost - before.connections_lost == 2 &&
            after.connections_ready == 2)
            break;
    }
    assert_int_equal(cairn_list_keyspaces(c, NULL, NULL), 0);
    cairn_client_stats(c, &after);
    assert_int_equal(after.connections_lost - before.connections_lost, 2);
    assert_int_equal(after.connect_attempts - before.connect_attempts, 2);
    assert_int_equal(after.connect_failures, 0);
    assert_int_equal(after.requests - before.requests, 1);
    cairn_client_free(c);
    peer_stop(&p);
}

static void test_idempotent_resent_once(void **state)
{
    struct peer p;
    cairn_client_t *c;
    long before;

    (void)state;
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    c = connect_to(&p, 2);
    assert_int_equal(wait_connections(c, 2), 2);

    /* The first connection dies on the request; a list is idempotent and
     * is resent on the other connection. */
    peer_set_mode(&p, PEER_DROP_FIRST, 1);
    before = peer_requests(&p);
    assert_int_equal(cairn_list_tables(c, NULL, "ks", NULL), 0);
    assert_int_equal(peer_requests(&p) - before, 2);

    /* Non-idempotent: never resent; the caller learns it is unknown. */
    assert_int_equal(wait_connections(c, 2), 2);
    peer_set_mode(&p, PEER_DROP_FIRST, 1);
    before = peer_requests(&p);
    assert_int_equal(cairn_create_keyspace(c, NULL, "ks", 1, 0),
                     CAIRN_ERR_CLOSED);
    assert_int_equal(peer_requests(&p) - before, 1);
    cairn_client_free(c);
    peer_stop(&p);
}

static void test_idempotent_nowhere_to_resend(void **state)
{
    struct peer p;
    cairn_client_t *c;
    cairn_future_t *f;

    (void)state;
    /* One connection: an idempotent request whose connection dies has
     * nowhere to go; it was sent, so the outcome is unknown (CLOSED),
     * not "never sent" (UNREACHABLE). */
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    c = connect_to(&p, 1);
    f = cairn_list_keyspaces_async(c, NULL);
    while (peer_requests(&p) < 1)
        usleep(1000);
    peer_drop_all(&p);
    assert_int_equal(cairn_future_wait(f), CAIRN_ERR_CLOSED);
    assert_non_null(strstr(cairn_future_message(f), "outcome is unknown"));
    cairn_future_free(f);
    cairn_client_free(c);
    peer_stop(&p);
}

static void test_request_timeout(void **state)
{
    struct peer p;
    cairn_client_t *c;
    const cairn_req_opts_t ro = {0, 50};

    (void)state;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    c = connect_to(&p, 1);
    assert_int_equal(cairn_list_keyspaces(c, &ro, NULL), CAIRN_ERR_TIMEOUT);
    assert_non_null(strstr(cairn_last_error(), "outcome is unknown"));
    /* The connection itself stays usable. */
    peer_set_mode(&p, PEER_ACK, 1);
    assert_int_equal(cairn_list_keyspaces(c, &ro, NULL), 0);
    cairn_client_free(c);
    peer_stop(&p);
}

static void test_max_in_flight(void **state)
{
    struct peer p;
    cairn_options_t o;
    cairn_client_t *c;
    cairn_future_t *f[3];
    const cairn_req_opts_t slow = {0, 60000}, quick = {0, 100};
    char cp[64];

    (void)state;
    /* The peer answers only once it holds 3 requests. With 2 allowed in
     * flight the third waits in the client, never reaches the peer, and
     * times out there; the first two stay in flight. */
    assert_int_equal(peer_start(&p, PEER_REVERSE), 0);
    peer_set_mode(&p, PEER_REVERSE, 3);
    snprintf(cp, sizeof(cp), "127.0.0.1:%u", p.port);
    cairn_options_init(&o);
    o.contact_points = cp;
    o.connections_per_host = 1;
    o.max_in_flight = 2;
    assert_int_equal(cairn_client_new(&o, &c), 0);
    for (int i = 0; i < 3; i++)
        f[i] = cairn_get_slice_async(c, i < 2 ? &slow : &quick, "ks", "t",
                                     cairn_str("k"), NULL);
    assert_int_equal(cairn_future_wait(f[2]), CAIRN_ERR_TIMEOUT);
    assert_non_null(strstr(cairn_future_message(f[2]), "no connection had "
                                                       "room"));
    for (int64_t until = now_ms() + PATIENCE_MS;
         peer_requests(&p) < 2 && now_ms() < until;)
        usleep(1000);
    assert_int_equal(peer_requests(&p), 2);
    assert_int_equal(cairn_future_ready(f[0]) + cairn_future_ready(f[1]), 0);
    cairn_client_free(c);
    for (int i = 0; i < 3; i++) {
        if (i < 2)
            assert_int_equal(cairn_future_wait(f[i]), CAIRN_ERR_CLOSED);
        cairn_future_free(f[i]);
    }
    peer_stop(&p);
}

static void check_mask(cairn_future_t *f, void *arg)
{
    sigset_t now;

    (void)f;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    *(int *)arg = sigismember(&now, SIGPIPE) && sigismember(&now, SIGTERM);
}

static void test_io_thread_blocks_signals(void **state)
{
    struct peer p;
    cairn_client_t *c;
    cairn_future_t *f;
    int blocked = -1;
    sigset_t mine;

    (void)state;
    /* A reset socket must give EPIPE on the I/O thread, never SIGPIPE to
     * the program; and the caller's own mask is left as it was. */
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    c = connect_to(&p, 1);
    f = cairn_list_keyspaces_async(c, NULL);
    assert_int_equal(cairn_future_set_callback(f, check_mask, &blocked), 0);
    cairn_client_free(c); /* completes f on the I/O thread */
    assert_int_equal(cairn_future_wait(f), CAIRN_ERR_CLOSED);
    assert_int_equal(blocked, 1);
    pthread_sigmask(SIG_BLOCK, NULL, &mine);
    assert_false(sigismember(&mine, SIGPIPE));
    cairn_future_free(f);
    peer_stop(&p);
}

static void test_free_fails_pending(void **state)
{
    struct peer p;
    cairn_client_t *c;
    cairn_future_t *f[16];

    (void)state;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    c = connect_to(&p, 1);
    for (int i = 0; i < 16; i++)
        f[i] = cairn_list_keyspaces_async(c, NULL);
    cairn_client_free(c);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(cairn_future_wait(f[i]), CAIRN_ERR_CLOSED);
        cairn_future_free(f[i]);
    }
    peer_stop(&p);
}

static void test_handshake_refused(void **state)
{
    struct peer p;
    cairn_options_t o;
    cairn_client_t *c;
    char cp[64];

    (void)state;
    assert_int_equal(peer_start(&p, PEER_REFUSE), 0);
    snprintf(cp, sizeof(cp), "127.0.0.1:%u", p.port);
    cairn_options_init(&o);
    o.contact_points = cp;
    assert_int_equal(cairn_client_new(&o, &c), CAIRN_ERR_UNREACHABLE);
    assert_non_null(strstr(cairn_last_error(), "refused by the test peer"));
    peer_stop(&p);
}

struct cb_sync {
    cairn_client_t *c;
    int rc;
    int done;
};

static void sync_from_callback(cairn_future_t *f, void *arg)
{
    struct cb_sync *s = arg;

    (void)f;
    s->rc = cairn_list_keyspaces(s->c, NULL, NULL);
    __atomic_store_n(&s->done, 1, __ATOMIC_SEQ_CST);
}

static void test_no_blocking_in_callbacks(void **state)
{
    struct peer p;
    struct cb_sync s = {0};
    cairn_future_t *f;

    (void)state;
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    s.c = connect_to(&p, 1);
    f = cairn_list_keyspaces_async(s.c, NULL);
    /* Whether it runs here or on the I/O thread, it must not hang; on
     * the I/O thread the synchronous call refuses. */
    assert_int_equal(cairn_future_wait(f), 0);
    assert_int_equal(cairn_future_set_callback(f, sync_from_callback, &s), 0);
    assert_int_equal(s.rc, 0); /* ran on this thread: allowed */
    cairn_future_free(f);

    f = cairn__future_new();
    s.done = 0;
    cairn_future_set_callback(f, sync_from_callback, &s);
    cairn__set_io_thread(1); /* pretend to be the I/O thread */
    cairn__future_complete(f, 0, NULL, NULL);
    cairn__set_io_thread(0);
    assert_int_equal(s.rc, CAIRN_ERR_INVALID);
    cairn_future_free(f);
    cairn_client_free(s.c);
    peer_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_hostport),
        cmocka_unit_test(test_parse_contacts),
        cmocka_unit_test(test_client_new_bad_options),
        cmocka_unit_test(test_client_unreachable),
        cmocka_unit_test(test_one_contact_point_down),
        cmocka_unit_test(test_consistency_names),
        cmocka_unit_test(test_future_semantics),
        cmocka_unit_test(test_future_callback_after_done),
        cmocka_unit_test(test_future_result_ownership),
        cmocka_unit_test(test_future_free_before_done),
        cmocka_unit_test(test_timestamps_strictly_increase),
        cmocka_unit_test(test_encoding_writes),
        cmocka_unit_test(test_encoding_reads_and_schema),
        cmocka_unit_test(test_out_of_order_answers),
        cmocka_unit_test(test_dead_connection_fails_fast),
        cmocka_unit_test(test_one_drop_one_reconnect),
        cmocka_unit_test(test_idempotent_resent_once),
        cmocka_unit_test(test_idempotent_nowhere_to_resend),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_max_in_flight),
        cmocka_unit_test(test_io_thread_blocks_signals),
        cmocka_unit_test(test_free_fails_pending),
        cmocka_unit_test(test_handshake_refused),
        cmocka_unit_test(test_no_blocking_in_callbacks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
