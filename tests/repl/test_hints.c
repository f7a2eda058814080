/*
 * test_hints.c -- hinted handoff storage: hints survive a restart in
 * order, a torn last record costs exactly that record (C10), a damaged
 * middle record only itself, expired hints are dropped (window and gc
 * grace), a failed delivery keeps the rest for the next replay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "server/hints.h"
#include "tests/storage/tutil.h"

static const uint8_t A[HINTS_HOST_ID_LEN] = {1, 2, 3};
static const uint8_t Bid[HINTS_HOST_ID_LEN] = {9, 9, 9};

static atomic_int durable, failed;

static void on_done(void *arg, int rc)
{
    (void)arg;
    if (rc)
        atomic_fetch_add(&failed, 1);
    else
        atomic_fetch_add(&durable, 1);
}

/* Delivered messages, in order. */
struct sink {
    char msg[64][32];
    int n;
    int fail_at; /* deliver fails on this call (1-based); 0 never */
    int calls;
};

static int deliver(void *arg, const uint8_t *msg, size_t n)
{
    struct sink *s = arg;

    if (++s->calls == s->fail_at)
        return -EIO;
    assert_true(n < sizeof(s->msg[0]) && s->n < 64);
    memcpy(s->msg[s->n], msg, n);
    s->msg[s->n++][n] = 0;
    return 0;
}

static struct hints *open_at(const char *dir, struct clk *c)
{
    struct hints_options o;
    struct hints *h;

    hints_options_default(&o);
    o.dir = dir;
    o.sync_ms = 5;
    o.replay_per_s = 1000000;
    o.clock = c;
    assert_int_equal(hints_open(&o, &h), 0);
    return h;
}

static void store(struct hints *h, const uint8_t *id, const char *msg,
                  uint32_t grace)
{
    assert_int_equal(hints_store(h, id, grace, msg, strlen(msg), on_done, NULL),
                     0);
}

/* wait_durable -- until `n` stores were reported durable. */
static void wait_durable(int n)
{
    while (atomic_load(&durable) < n)
        usleep(1000);
    assert_int_equal(atomic_load(&failed), 0);
}

/* the_segment -- path of the only segment file in `dir`. */
static void the_segment(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".hint")) {
            snprintf(out, n, "%s/%s", dir, e->d_name);
            found++;
        }
    closedir(d);
    assert_int_equal(found, 1);
}

static void test_restart_keeps_order(void **state)
{
    char *dir = tu_mkdtemp();
    struct hints *h = open_at(dir, NULL);
    struct sink s = {0};
    struct hints_stats st;

    (void)state;
    atomic_store(&durable, 0);
    store(h, A, "a1", 864000);
    store(h, Bid, "b1", 864000);
    store(h, A, "a2", 864000);
    store(h, A, "a3", 864000);
    wait_durable(4);
    hints_close(h);

    h = open_at(dir, NULL);
    assert_int_equal(hints_pending(h, A), 3);
    assert_int_equal(hints_pending(h, Bid), 1);
    assert_int_equal(hints_replay(h, A, deliver, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.msg[0], "a1");
    assert_string_equal(s.msg[1], "a2");
    assert_string_equal(s.msg[2], "a3");
    assert_int_equal(hints_pending(h, A), 0);
    hints_get_stats(h, &st);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.pending, 1);
    hints_close(h);

    /* Delivered hints are gone for good; B's is still there. */
    h = open_at(dir, NULL);
    assert_int_equal(hints_pending(h, A), 0);
    assert_int_equal(hints_pending(h, Bid), 1);
    hints_close(h);
    tu_rmtree(dir);
}

static void test_torn_last_record(void **state)
{
    char *dir = tu_mkdtemp(), seg[4300];
    struct hints *h = open_at(dir, NULL);
    struct sink s = {0};
    struct hints_stats st;
    struct stat sb;

    (void)state;
    atomic_store(&durable, 0);
    store(h, A, "first", 864000);
    store(h, A, "second", 864000);
    store(h, A, "third", 864000);
    wait_durable(3);
    hints_close(h);

    /* A crash in the middle of the last append: its last 3 bytes lost. */
    the_segment(dir, seg, sizeof(seg));
    assert_int_equal(stat(seg, &sb), 0);
    assert_int_equal(truncate(seg, sb.st_size - 3), 0);

    h = open_at(dir, NULL);
    assert_int_equal(hints_pending(h, A), 2);
    hints_get_stats(h, &st);
    assert_int_equal(st.dropped, 1);
    atomic_store(&durable, 0);
    store(h, A, "fourth", 864000);
    wait_durable(1);
    assert_int_equal(hints_replay(h, A, deliver, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.msg[0], "first");
    assert_string_equal(s.msg[1], "second");
    assert_string_equal(s.msg[2], "fourth");
    hints_close(h);
    tu_rmtree(dir);
}

static void test_damaged_middle_record(void **state)
{
    char *dir = tu_mkdtemp(), seg[4300];
    struct hints *h = open_at(dir, NULL);
    struct sink s = {0};
    int fd;

    (void)state;
    atomic_store(&durable, 0);
    store(h, A, "one", 864000);
    store(h, A, "two", 864000);
    store(h, A, "six", 864000);
    wait_durable(3);
    hints_close(h);

    /*
     * Layout (docs/hints-format.md): 8-byte magic, then per record a
     * 12-byte header and a 17-byte prefix before the message; each record
     * here is 12 + 17 + 3 bytes. Flip the last byte of record two.
     */
    the_segment(dir, seg, sizeof(seg));
    fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 8 + 32 + 31), 1);
    close(fd);

    h = open_at(dir, NULL);
    assert_int_equal(hints_pending(h, A), 2);
    assert_int_equal(hints_replay(h, A, deliver, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.msg[0], "one");
    assert_string_equal(s.msg[1], "six");
    hints_close(h);
    tu_rmtree(dir);
}

static void test_expiry(void **state)
{
    char *dir = tu_mkdtemp();
    struct clk_fake c;
    struct hints *h;
    struct sink s = {0};
    struct hints_stats st;

    (void)state;
    clk_fake_init(&c, 1700000000LL * 1000000, 0);
    h = open_at(dir, &c.base);
    atomic_store(&durable, 0);
    store(h, A, "short-grace", 10); /* gc grace 10 s bounds it */
    store(h, A, "long", 864000);    /* the 3 h window bounds it */
    wait_durable(2);
    clk_fake_set_wall(&c, (1700000000LL + 11) * 1000000);
    assert_int_equal(hints_replay(h, A, deliver, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.msg[0], "long");

    store(h, A, "late", 864000);
    wait_durable(3);
    clk_fake_set_wall(&c, (1700000000LL + 11 + 3 * 3600 + 1) * 1000000);
    assert_int_equal(hints_replay(h, A, deliver, &s), 0);
    assert_int_equal(s.n, 1);
    hints_get_stats(h, &st);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.pending, 0);
    hints_close(h);
    tu_rmtree(dir);
}

static void test_failed_delivery_keeps_hints(void **state)
{
    char *dir = tu_mkdtemp();
    struct hints *h = open_at(dir, NULL);
    struct sink s = {.fail_at = 2};
    struct buf m;

    (void)state;
    atomic_store(&durable, 0);
    store(h, A, "x", 864000);
    store(h, A, "y", 864000);
    store(h, A, "z", 864000);
    wait_durable(3);
    assert_int_equal(hints_replay(h, A, deliver, &s), -EIO);
    assert_int_equal(hints_pending(h, A), 3);
    s = (struct sink){0};
    assert_int_equal(hints_replay(h, A, deliver, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.msg[0], "x");
    assert_string_equal(s.msg[2], "z");
    assert_int_equal(hints_pending(h, A), 0);

    buf_init(&m, MEM_TEST);
    assert_int_equal(hints_render_metrics(h, &m), 0);
    assert_int_equal(buf_append(&m, "", 1), 0);
    assert_non_null(strstr((char *)m.data, "cairn_hints_stored_total 3\n"));
    assert_non_null(strstr((char *)m.data, "cairn_hints_pending 0\n"));
    buf_free(&m);
    hints_close(h);
    tu_rmtree(dir);
}

static void test_bad_input(void **state)
{
    char *dir = tu_mkdtemp();
    struct hints *h = open_at(dir, NULL);

    (void)state;
    assert_int_equal(hints_store(h, A, 10, "", 0, NULL, NULL), -EINVAL);
    assert_int_equal(hints_pending(h, A), 0);
    hints_close(h);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_keeps_order),
        cmocka_unit_test(test_torn_last_record),
        cmocka_unit_test(test_damaged_middle_record),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_failed_delivery_keeps_hints),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
