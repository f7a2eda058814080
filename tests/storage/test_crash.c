/*
 * test_crash.c -- the crash loop: a child process writes in group mode
 * from several threads (with background flushes and compactions) and
 * reports every acknowledged write to the parent over a pipe; the parent
 * kill -9s it at a random moment, reopens the directory and checks every
 * acknowledged write. 20 rounds in CI, 200 with CAIRN_LONG_TESTS=1.
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "common/err.h"
#include "teng.h"
#include "tutil.h"

#define PER_ROUND 100000 /* key ids per round */
#define THREADS   4

static const struct storage_table_options topts = {864000, 0, 1};

struct child {
    struct storage *s;
    int fd;
    uint32_t base;
};

static void *child_writer(void *arg)
{
    struct child *c = arg;
    char pk[32], val[32];

    for (uint32_t i = 0; i < PER_ROUND / THREADS; i++) {
        uint32_t id = c->base + i;
        snprintf(pk, sizeof(pk), "k%" PRIu32, id);
        snprintf(val, sizeof(val), "v%" PRIu32, id);
        if (te_put(c->s, 1, pk, "", "c", val, 1000 + id) == 0 &&
            write(c->fd, &id, sizeof(id)) != sizeof(id))
            _exit(3);
    }
    return NULL;
}

static void child_main(const char *dir, int round, int fd)
{
    struct storage_options o;
    struct storage *s;
    struct child c[THREADS];
    pthread_t t[THREADS];

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    te_opts(&o, dir);
    o.sync = STORAGE_SYNC_GROUP;
    o.memtable_bytes = 256 << 10;
    o.segment_bytes = 256 << 10;
    if (storage_open(&o, &s) != 0 || storage_create_table(s, 1, &topts) != 0)
        _exit(2);
    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct child){
            s, fd, (uint32_t)(round * PER_ROUND + i * (PER_ROUND / THREADS))};
        pthread_create(&t[i], NULL, child_writer, &c[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    _exit(0);
}

static int64_t ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* collect -- read acks into `acked` until `ms` pass, then kill the child
 * and read what it reported before dying. Returns acks this round. */
static uint32_t collect(pid_t pid, int fd, uint8_t *acked, int64_t ms)
{
    int64_t end = ms_now() + ms;
    uint32_t id, n = 0;
    struct pollfd p = {fd, POLLIN, 0};
    int status;

    while (ms_now() < end && poll(&p, 1, 5) >= 0)
        if ((p.revents & POLLIN) && read(fd, &id, sizeof(id)) == sizeof(id))
            acked[id / 8] |= (uint8_t)(1 << (id % 8)), n++;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    while (read(fd, &id, sizeof(id)) == sizeof(id))
        acked[id / 8] |= (uint8_t)(1 << (id % 8)), n++;
    return n;
}

/* verify -- every acked id is there with its value. */
static void verify(const char *dir, const uint8_t *acked, uint32_t nids,
                   int round, uint64_t seed)
{
    struct storage_options o;
    struct storage *s;
    char pk[32], val[32], got[64];

    te_opts(&o, dir);
    assert_int_equal(storage_open(&o, &s), 0);
    for (uint32_t id = 0; id < nids; id++) {
        int rc;
        if (!(acked[id / 8] & (1 << (id % 8))))
            continue;
        snprintf(pk, sizeof(pk), "k%" PRIu32, id);
        snprintf(val, sizeof(val), "v%" PRIu32, id);
        rc = te_get(s, 1, pk, "", "c", got, sizeof(got));
        if (rc != 1 || strcmp(got, val) != 0)
            fail_msg("seed %" PRIu64 " round %d: acked %s lost (rc %d %s)",
                     seed, round, pk, rc, err_msg());
    }
    storage_close(s);
}

static void test_crash_loop(void **state)
{
    int rounds = tu_long() ? 200 : 20;
    uint64_t seed = (uint64_t)time(NULL), rnd = seed;
    uint32_t nids = (uint32_t)rounds * PER_ROUND;
    uint8_t *acked = calloc(nids / 8 + 1, 1);
    char *dir = tu_mkdtemp();
    uint64_t total = 0;

    (void)state;
    print_message("crash loop seed %" PRIu64 "\n", seed);
    for (int r = 0; r < rounds; r++) {
        int fds[2];
        pid_t pid;
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, r, fds[1]);
        }
        close(fds[1]);
        total +=
            collect(pid, fds[0], acked, 30 + (int64_t)(tu_rand(&rnd) % 200));
        close(fds[0]);
        verify(dir, acked, (uint32_t)(r + 1) * PER_ROUND, r, seed);
    }
    print_message("crash loop: %d rounds, %" PRIu64 " acked writes checked\n",
                  rounds, total);
    assert_true(total > 0);
    free(acked);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
