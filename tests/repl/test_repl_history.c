/*
 * test_repl_history.c -- the QUORUM promise on three real nodes (RF 3)
 * while a replica is killed and restarted: client threads write unique
 * values to a few keys and read them back at QUORUM through nodes 0 and
 * 1; node 2 is killed (SIGKILL) and restarted meanwhile. Every operation
 * is recorded with its start and end time and given to the history
 * checker (tests/coord/history.h): every acknowledged write must be
 * visible to every QUORUM read that started after the acknowledgement,
 * unless a later write replaced it. Failed or timed-out writes count as
 * unknown (they may have landed).
 *
 * Ports: base 25100, 25110, 25120. Every process started is killed at
 * exit (and dies with the test through PR_SET_PDEATHSIG).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "tests/coord/history.h"
#include "tests/storage/tutil.h"

#define BASE    25100
#define NODES   3
#define KEYS    4
#define THREADS 4

static const char *server_bin;
static char *dir;
static pid_t pids[NODES];

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void start_node(int i)
{
    char port[16], data[4200], log[4200];
    pid_t pid;

    snprintf(port, sizeof(port), "%d", BASE + 10 * i);
    snprintf(data, sizeof(data), "%s/n%d", dir, i);
    snprintf(log, sizeof(log), "%s/n%d.log", dir, i);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen(log, "a", stderr) || !freopen(log, "a", stdout))
            _exit(127);
        execl(server_bin, server_bin, "--port", port, "--data-dir", data,
              "--seeds", "127.0.0.1:25100", "--sync", "none", "--loops", "1",
              i == 0 ? "--new-cluster=true" : "--new-cluster=false",
              (char *)NULL);
        _exit(127);
    }
    pids[i] = pid;
}

static void kill_node(int i)
{
    if (pids[i] > 0) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
        pids[i] = 0;
    }
}

static void kill_all(void)
{
    for (int i = 0; i < NODES; i++)
        kill_node(i);
}

/* client_of -- a client of nodes `contacts`, waiting until one answers. */
static cairn_client_t *client_of(const char *contacts)
{
    cairn_options_t o;
    cairn_client_t *c = NULL;

    cairn_options_init(&o);
    o.contact_points = contacts;
    o.connect_timeout_ms = 1000;
    for (int i = 0; i < 120 && cairn_client_new(&o, &c) != 0; i++)
        usleep(250000);
    assert_non_null(c);
    return c;
}

struct worker {
    cairn_client_t *c;
    struct history *h;
    pthread_mutex_t *mu;
    int id;
    int ops;
    volatile int *stop;
};

static const cairn_req_opts_t quorum = {CAIRN_CL_QUORUM, 0};

static void do_write(struct worker *w, const char *key, uint64_t v)
{
    char val[32];
    cairn_column_t col = {cairn_str("v"), {0}};
    size_t op;
    int rc;

    snprintf(val, sizeof(val), "%llu", (unsigned long long)v);
    col.value = cairn_str(val);
    pthread_mutex_lock(w->mu);
    assert_int_equal(
        history_write_begin(w->h, key, strlen(key), v, 0, now_us(), &op), 0);
    pthread_mutex_unlock(w->mu);
    rc = cairn_put(w->c, &quorum, "hk", "t", cairn_str(key), cairn_str(""),
                   &col, 1, 0, 0);
    pthread_mutex_lock(w->mu);
    history_write_end(w->h, op, now_us(),
                      rc == 0 ? HISTORY_OK : HISTORY_UNKNOWN);
    pthread_mutex_unlock(w->mu);
}

static void do_read(struct worker *w, const char *key)
{
    cairn_result_t *r = NULL;
    const cairn_row_t *rows;
    int64_t t0 = now_us();
    uint64_t v = 0;
    int rc = cairn_get_row(w->c, &quorum, "hk", "t", cairn_str(key),
                           cairn_str(""), &r);

    if (rc != 0)
        return; /* a failed read promises nothing */
    if (cairn_result_rows(r, &rows) == 1 && rows[0].ncells == 1) {
        char buf[32];
        size_t n = rows[0].cells[0].value.len;
        memcpy(buf, rows[0].cells[0].value.data, n < 31 ? n : 31);
        buf[n < 31 ? n : 31] = 0;
        v = strtoull(buf, NULL, 10);
    }
    cairn_result_free(r);
    pthread_mutex_lock(w->mu);
    assert_int_equal(history_read(w->h, key, strlen(key), t0, now_us(), v), 0);
    pthread_mutex_unlock(w->mu);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t seed = (uint64_t)w->id * 7919 + 1, n = 0;
    char key[8];

    while (!*w->stop) {
        uint64_t r = tu_rand(&seed);
        snprintf(key, sizeof(key), "h%d", (int)(r % KEYS));
        if ((r >> 8) % 2)
            do_write(w, key, ((uint64_t)w->id << 40) | ++n);
        else
            do_read(w, key);
        w->ops++;
    }
    return NULL;
}

/* ops_done -- operations finished by every worker together. */
static int ops_done(struct worker *w)
{
    int n = 0;

    for (int i = 0; i < THREADS; i++)
        n += w[i].ops;
    return n;
}

/* run_until -- let the workers run until `target` operations are done. */
static void run_until(struct worker *w, int target)
{
    for (int i = 0; i < 2400 && ops_done(w) < target; i++)
        usleep(25000);
}

static void setup_schema(cairn_client_t *c)
{
    const cairn_req_opts_t all = {CAIRN_CL_ALL, 0};
    cairn_column_t col = {cairn_str("v"), cairn_str("0")};
    int rc = -1;

    for (int i = 0; i < 120 && rc != 0; i++)
        if ((rc = cairn_create_keyspace(c, NULL, "hk", 3, 1)) != 0)
            usleep(250000);
    if (rc)
        fail_msg("create keyspace: %s", cairn_last_error());
    rc = -1;
    for (int i = 0; i < 120 && rc != 0; i++)
        if ((rc = cairn_create_table(c, NULL, "hk", "t", NULL, 1)) != 0)
            usleep(250000);
    if (rc)
        fail_msg("create table: %s", cairn_last_error());
    rc = -1;
    /* Until every node knows the table (schema agreement by gossip). */
    for (int i = 0; i < 120 && rc != 0; i++) {
        rc = cairn_put(c, &all, "hk", "t", cairn_str("probe"), cairn_str(""),
                       &col, 1, 0, 0);
        if (rc)
            usleep(250000);
    }
    assert_int_equal(rc, 0);
}

static void test_quorum_history_with_restart(void **state)
{
    struct history *h;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_t th[THREADS];
    struct worker w[THREADS];
    volatile int stop = 0;
    cairn_client_t *c;
    char why[512];
    size_t nw, nr;
    int per_phase = tu_long() ? 10000 : 1000;

    (void)state;
    for (int i = 0; i < NODES; i++)
        start_node(i);
    c = client_of("127.0.0.1:25100,127.0.0.1:25110");
    {
        cairn_client_t *c2 = client_of("127.0.0.1:25120");
        cairn_client_free(c2); /* node 2 serves too */
    }
    setup_schema(c);
    assert_int_equal(history_new(&h), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){c, h, &mu, i + 1, 0, &stop};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    run_until(w, per_phase);
    kill_node(2);
    run_until(w, 2 * per_phase);
    start_node(2);
    cairn_client_free(client_of("127.0.0.1:25120")); /* it serves again */
    run_until(w, 3 * per_phase);
    stop = 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    history_counts(h, &nw, &nr);
    printf("history: %zu writes, %zu reads, %d operations\n", nw, nr,
           ops_done(w));
    assert_true(ops_done(w) >= 3 * per_phase);
    if (history_check(h, why, sizeof(why)) != 0)
        fail_msg("QUORUM promise broken: %s", why);
    history_free(h);
    cairn_client_free(c);
    kill_all();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quorum_history_with_restart),
    };
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CAIRN_SERVER\n", argv[0]);
        return 2;
    }
    server_bin = argv[1];
    dir = tu_mkdtemp();
    atexit(kill_all);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    kill_all();
    tu_rmtree(dir);
    return rc;
}
