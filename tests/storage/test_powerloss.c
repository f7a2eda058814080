/*
 * test_powerloss.c -- C21 and fault injection: a write/flush/compaction
 * workload on the fault file system, cut by power loss (or by a failing
 * call) at hundreds of random points; after each, the engine must open,
 * hold every write acknowledged in group mode, and reference no short
 * sstable (opening one would fail its footer check).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "common/err.h"
#include "storage/fs.h"
#include "storage/fs_fault.h"
#include "teng.h"
#include "tutil.h"

#define MAXK 200000

static const struct storage_table_options topts = {0, 0, 1};

struct pl {
    char *dir;
    struct fs_fault *ff;
    struct storage_options o;
    uint8_t *acked; /* bit per key id */
    uint32_t next;  /* next key id */
    uint64_t rnd, seed;
};

static void pl_opts(struct pl *p)
{
    te_opts(&p->o, p->dir);
    p->o.fs = fs_fault_fs(p->ff);
    p->o.sync = STORAGE_SYNC_GROUP;
    p->o.memtable_bytes = 32 << 10;
    p->o.segment_bytes = 64 << 10;
}

/* workload -- writes with flushes and compactions until `n` writes were
 * tried or the disk died. */
static void workload(struct pl *p, struct storage *s, int n)
{
    char pk[32], val[32];

    for (int i = 0; i < n && !fs_fault_crashed(p->ff); i++) {
        uint32_t id = p->next++;
        uint32_t k = (uint32_t)(tu_rand(&p->rnd) % 100);
        snprintf(pk, sizeof(pk), "k%" PRIu32, id);
        snprintf(val, sizeof(val), "v%" PRIu32, id);
        if (te_put(s, 1, pk, "", "c", val, 1000 + id) == 0)
            p->acked[id / 8] |= (uint8_t)(1 << (id % 8));
        if (k < 4)
            storage_flush(s, 1);
        else if (k < 6)
            storage_compact(s, 1);
    }
}

static void verify(struct pl *p, struct storage *s, int point)
{
    char pk[32], val[32], got[64];

    for (uint32_t id = 0; id < p->next; id++) {
        int rc;
        if (!(p->acked[id / 8] & (1 << (id % 8))))
            continue;
        snprintf(pk, sizeof(pk), "k%" PRIu32, id);
        snprintf(val, sizeof(val), "v%" PRIu32, id);
        rc = te_get(s, 1, pk, "", "c", got, sizeof(got));
        if (rc != 1 || strcmp(got, val) != 0)
            fail_msg("seed %" PRIu64 " point %d: acked %s lost (rc %d %s)",
                     p->seed, point, pk, rc, err_msg());
    }
}

static void pl_init(struct pl *p, uint64_t seed)
{
    struct storage *s;

    memset(p, 0, sizeof(*p));
    p->seed = p->rnd = seed;
    p->dir = tu_mkdtemp();
    p->acked = calloc(MAXK / 8, 1);
    assert_int_equal(fs_fault_new(fs_posix(), &p->ff), 0);
    fs_fault_set_real_sync(p->ff, 0);
    pl_opts(p);
    assert_int_equal(storage_open(&p->o, &s), 0);
    assert_int_equal(storage_create_table(s, 1, &topts), 0);
    storage_close(s);
}

static void pl_free(struct pl *p)
{
    fs_fault_free(p->ff);
    tu_rmtree(p->dir);
    free(p->acked);
}

/*
 * one_point -- run the workload with a fault after `skip` disk-changing
 * calls; `power` cuts the power (drop everything not synced), else the
 * process dies with the kernel keeping its bytes.
 */
static void one_point(struct pl *p, int point, long skip, int power, int err)
{
    struct storage *s;
    struct fs_fault_rule r = {.ops = FSF_WRITES,
                              .skip = skip,
                              .count = 1,
                              .err = err,
                              .crash = 1,
                              .partial = (int)(tu_rand(&p->rnd) & 1)};
    int rc;

    assert_int_equal(storage_open(&p->o, &s), 0);
    assert_int_equal(fs_fault_add(p->ff, &r), 0);
    workload(p, s, 400);
    fs_fault_crash(p->ff); /* the rest of close fails too */
    storage_close(s);
    if (power)
        assert_int_equal(fs_fault_power_loss(p->ff), 0);
    else
        fs_fault_restart(p->ff);
    rc = storage_open(&p->o, &s);
    if (rc != 0)
        fail_msg("seed %" PRIu64 " point %d (skip %ld): reopen failed: %s",
                 p->seed, point, skip, err_msg());
    verify(p, s, point);
    storage_close(s);
}

static void run(int points, int power)
{
    uint64_t seed = (uint64_t)time(NULL) + (uint64_t)power;
    struct pl p;

    print_message("power loss seed %" PRIu64 "\n", seed);
    pl_init(&p, seed);
    for (int i = 0; i < points; i++) {
        long skip = (long)(tu_rand(&p.rnd) % 600);
        if (i > 0 && i % 25 == 0) {
            pl_free(&p);
            pl_init(&p, seed + (uint64_t)i);
        }
        one_point(&p, i, skip, power, (i & 1) ? -EIO : -ENOSPC);
    }
    pl_free(&p);
}

/* C21: power cut at 200 random points of writes, flushes, compactions. */
static void test_power_loss_points(void **state)
{
    (void)state;
    run(tu_long() ? 2000 : 200, 1);
}

/* The same cut points as a process death: nothing is dropped. */
static void test_kill_points(void **state)
{
    (void)state;
    run(tu_long() ? 1000 : 60, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_loss_points),
        cmocka_unit_test(test_kill_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
