/*
 * test_peer.c -- the peer transport over real sockets on 127.0.0.1:
 * messages reach the handler of the host id they are sent to; a node on
 * an address where another host id was expected refuses the connection
 * and its handler never sees the message (C13); a closed port fails the
 * send, and so does a peer that never answers the hello; the snapshot
 * publication hands out what was published last.
 * Ports 23000..23009.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/clsnap.h"
#include "server/peer.h"

struct got {
    int n;
    struct ring_host_id from;
    uint64_t rid;
};

struct sent {
    int n;
    int rc;
};

static void on_pull(struct peer *p, const struct ring_host_id *from,
                    const Cairn__PeerMessage *m, void *arg)
{
    struct got *g = arg;

    (void)p;
    g->n++;
    g->from = *from;
    g->rid = m->request_id;
}

static void on_done(int rc, void *arg)
{
    struct sent *s = arg;

    s->n++;
    s->rc = rc;
}

static void make(uv_loop_t *loop, uint8_t idbyte, uint16_t port,
                 struct peer **out)
{
    struct peer_config c;

    memset(&c, 0, sizeof(c));
    snprintf(c.cluster, sizeof(c.cluster), "t");
    snprintf(c.listen_host, sizeof(c.listen_host), "127.0.0.1");
    c.port = port;
    snprintf(c.self_addr, sizeof(c.self_addr), "127.0.0.1:%u", port);
    memset(c.self.b, idbyte, 16);
    c.max_frame = 1 << 20;
    assert_int_equal(peer_start(loop, &c, out), 0);
}

/* run -- turn the loop until `*flag` reaches `want` (bounded). */
static void run(uv_loop_t *loop, const int *flag, int want)
{
    for (int i = 0; i < 2000 && *flag < want; i++)
        uv_run(loop, UV_RUN_ONCE);
    assert_true(*flag >= want);
}

static void pull_msg(Cairn__PeerMessage *m, Cairn__SchemaPull *sp, uint64_t id)
{
    cairn__peer_message__init(m);
    cairn__schema_pull__init(sp);
    m->request_id = id;
    m->body_case = CAIRN__PEER_MESSAGE__BODY_SCHEMA_PULL;
    m->schema_pull = sp;
}

static void finish(uv_loop_t *loop, struct peer **ps, int n)
{
    for (int i = 0; i < n; i++)
        peer_close(ps[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < n; i++)
        peer_free(ps[i]);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_send_by_host_id(void **st)
{
    uv_loop_t loop;
    struct peer *ps[2];
    struct ring_host_id b;
    struct got gb = {0};
    struct sent s = {0};
    Cairn__PeerMessage m;
    Cairn__SchemaPull sp;

    (void)st;
    uv_loop_init(&loop);
    make(&loop, 0xaa, 23000, &ps[0]);
    make(&loop, 0xbb, 23001, &ps[1]);
    peer_on(ps[1], CAIRN__PEER_MESSAGE__BODY_SCHEMA_PULL, on_pull, &gb);
    memset(b.b, 0xbb, 16);
    peer_set_address(ps[0], &b, "127.0.0.1:23001");
    pull_msg(&m, &sp, 42);
    assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
    run(&loop, &gb.n, 1);
    assert_int_equal(gb.rid, 42);
    assert_int_equal(gb.from.b[0], 0xaa);
    run(&loop, &s.n, 1);
    assert_int_equal(s.rc, 0);
    finish(&loop, ps, 2);
}

/* C13: C listens where B was; a message meant for B is refused by C. */
static void test_wrong_host_refused(void **st)
{
    uv_loop_t loop;
    struct peer *ps[2];
    struct ring_host_id b;
    struct got gc = {0};
    struct sent s = {0};
    Cairn__PeerMessage m;
    Cairn__SchemaPull sp;

    (void)st;
    uv_loop_init(&loop);
    make(&loop, 0xaa, 23002, &ps[0]);
    make(&loop, 0xcc, 23003, &ps[1]); /* C, on B's old address */
    peer_on(ps[1], CAIRN__PEER_MESSAGE__BODY_SCHEMA_PULL, on_pull, &gc);
    memset(b.b, 0xbb, 16);
    peer_set_address(ps[0], &b, "127.0.0.1:23003");
    pull_msg(&m, &sp, 7);
    assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
    run(&loop, &s.n, 1);
    assert_int_equal(s.rc, CAIRN_EPROTO);
    assert_int_equal(gc.n, 0);
    /* By address with no expected id (a seed), C takes it. */
    assert_int_equal(
        peer_send_addr(ps[0], "127.0.0.1:23003", NULL, &m, on_done, &s), 0);
    run(&loop, &gc.n, 1);
    assert_int_equal(gc.from.b[0], 0xaa);
    finish(&loop, ps, 2);
}

static void test_unreachable_fails(void **st)
{
    uv_loop_t loop;
    struct peer *ps[1];
    struct ring_host_id b;
    struct sent s = {0};
    Cairn__PeerMessage m;
    Cairn__SchemaPull sp;

    (void)st;
    uv_loop_init(&loop);
    make(&loop, 0xaa, 23004, &ps[0]);
    memset(b.b, 0xbb, 16);
    pull_msg(&m, &sp, 1);
    /* No address known for b. */
    assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
    run(&loop, &s.n, 1);
    assert_int_equal(s.rc, CAIRN_EUNAVAILABLE);
    /* Nobody listens on 23005. */
    peer_set_address(ps[0], &b, "127.0.0.1:23005");
    assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
    run(&loop, &s.n, 2);
    assert_int_equal(s.rc, CAIRN_EUNAVAILABLE);
    finish(&loop, ps, 1);
}

/* B goes away and comes back on its port: A's sends fail meanwhile and
 * reach B again once it is back (reconnect after backoff). */
static void test_reconnect(void **st)
{
    uv_loop_t loop;
    struct peer *ps[2];
    struct ring_host_id b;
    struct got gb = {0};
    struct sent s = {0};
    Cairn__PeerMessage m;
    Cairn__SchemaPull sp;

    (void)st;
    uv_loop_init(&loop);
    make(&loop, 0xaa, 23006, &ps[0]);
    make(&loop, 0xbb, 23007, &ps[1]);
    peer_on(ps[1], CAIRN__PEER_MESSAGE__BODY_SCHEMA_PULL, on_pull, &gb);
    memset(b.b, 0xbb, 16);
    peer_set_address(ps[0], &b, "127.0.0.1:23007");
    pull_msg(&m, &sp, 1);
    assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
    run(&loop, &gb.n, 1);
    peer_close(ps[1]);
    for (int i = 0; i < 20; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    peer_free(ps[1]);
    /* Sends while B is away end in a failure, never in silence. */
    for (int k = 0; k < 3; k++) {
        int before = s.n;
        assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
        run(&loop, &s.n, before + 1);
    }
    assert_int_equal(s.rc, CAIRN_EUNAVAILABLE);
    make(&loop, 0xbb, 23007, &ps[1]);
    peer_on(ps[1], CAIRN__PEER_MESSAGE__BODY_SCHEMA_PULL, on_pull, &gb);
    /* Retry until one gets through (the backoff ends within 2 s). */
    for (int k = 0; k < 200 && gb.n < 2; k++) {
        int before = s.n;
        assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
        run(&loop, &s.n, before + 1);
        for (int i = 0; i < 5; i++)
            uv_run(&loop, UV_RUN_NOWAIT);
        if (gb.n < 2)
            usleep(20000);
    }
    assert_true(gb.n >= 2);
    finish(&loop, ps, 2);
}

/* A peer that accepts in the kernel but never answers (SIGSTOPped, say):
 * the send fails after the hello deadline instead of waiting forever. */
static void test_silent_peer_fails(void **st)
{
    uv_loop_t loop;
    struct peer *ps[1];
    struct ring_host_id b;
    struct sent s = {0};
    Cairn__PeerMessage m;
    Cairn__SchemaPull sp;
    struct sockaddr_in sa;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)st;
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(23008);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0); /* never accepted, never read */
    uv_loop_init(&loop);
    make(&loop, 0xaa, 23009, &ps[0]);
    memset(b.b, 0xbb, 16);
    peer_set_address(ps[0], &b, "127.0.0.1:23008");
    pull_msg(&m, &sp, 1);
    assert_int_equal(peer_send(ps[0], &b, &m, on_done, &s), 0);
    while (s.n < 1)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(s.rc, CAIRN_EUNAVAILABLE);
    close(fd);
    finish(&loop, ps, 1);
}

struct hammer {
    struct clsnap_pub *pub;
    atomic_int *stop;
    long got;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;

    while (!atomic_load(h->stop)) {
        struct clsnap *s = clsnap_get(h->pub);
        if (s) {
            h->got += (long)s->nnodes; /* read through the reference */
            clsnap_put(s);
        }
    }
    return NULL;
}

/* Readers on other threads while the owner publishes: no lock, no
 * snapshot freed under a reader (ASan checks the last part). */
static void test_snapshot_threads(void **st)
{
    struct clsnap_pub pub;
    atomic_int stop = 0;
    struct hammer h[3];
    pthread_t t[3];

    (void)st;
    memset(&pub, 0, sizeof(pub));
    for (int i = 0; i < 3; i++) {
        h[i].pub = &pub;
        h[i].stop = &stop;
        h[i].got = 0;
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
    }
    for (int k = 0; k < 20000; k++) {
        struct clsnap *s = clsnap_new();
        assert_non_null(s);
        s->nnodes = 1;
        clsnap_publish(&pub, s);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    clsnap_retire(&pub);
}

static void test_snapshot_publication(void **st)
{
    struct clsnap_pub pub;
    struct clsnap *a = clsnap_new(), *b = clsnap_new(), *got;

    (void)st;
    memset(&pub, 0, sizeof(pub));
    assert_null(clsnap_get(&pub));
    a->nkeyspaces = 0;
    a->serving = false;
    b->serving = true;
    clsnap_publish(&pub, a);
    got = clsnap_get(&pub);
    assert_ptr_equal(got, a);
    clsnap_publish(&pub, b); /* `a` lives on through our reference */
    assert_false(got->serving);
    clsnap_put(got);
    got = clsnap_get(&pub);
    assert_true(got->serving);
    clsnap_put(got);
    clsnap_retire(&pub);
    assert_null(clsnap_get(&pub));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_by_host_id),
        cmocka_unit_test(test_wrong_host_refused),
        cmocka_unit_test(test_unreachable_fails),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_silent_peer_fails),
        cmocka_unit_test(test_snapshot_threads),
        cmocka_unit_test(test_snapshot_publication),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
