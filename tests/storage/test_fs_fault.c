/*
 * test_fs_fault.c -- the fault file system keeps exactly what a power cut
 * would keep, and fails calls where its rules say.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "storage/fs.h"
#include "storage/fs_fault.h"
#include "tutil.h"

struct fx {
    char *dir;
    struct fs_fault *ff;
    struct fs *fs;
    char path[4200];
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));

    x->dir = tu_mkdtemp();
    assert_int_equal(fs_fault_new(fs_posix(), &x->ff), 0);
    x->fs = fs_fault_fs(x->ff);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;

    fs_fault_free(x->ff);
    tu_rmtree(x->dir);
    free(x);
    return 0;
}

static char *p(struct fx *x, const char *name)
{
    snprintf(x->path, sizeof(x->path), "%s/%s", x->dir, name);
    return x->path;
}

static void write_file(struct fx *x, const char *name, const char *data,
                       int sync_file, int sync_dir)
{
    struct fs_file *f;

    assert_int_equal(fs_open(x->fs, p(x, name), FS_WRITE | FS_CREATE, &f), 0);
    assert_int_equal(fs_append(f, data, strlen(data)), 0);
    if (sync_file)
        assert_int_equal(fs_fsync(f), 0);
    assert_int_equal(fs_close(f), 0);
    if (sync_dir)
        assert_int_equal(fs_fsync_dir(x->fs, x->dir), 0);
}

/* read_file -- contents as a string, or "<none>" when missing. */
static const char *read_file(struct fx *x, const char *name)
{
    static char out[256];
    struct fs_file *f;
    ssize_t n;

    if (fs_exists(fs_posix(), p(x, name)) != 1)
        return "<none>";
    assert_int_equal(fs_open(fs_posix(), x->path, FS_READ, &f), 0);
    n = fs_pread(f, out, sizeof(out) - 1, 0);
    assert_true(n >= 0);
    out[n] = 0;
    fs_close(f);
    return out;
}

static void test_unsynced_bytes_dropped(void **state)
{
    struct fx *x = *state;
    struct fs_file *f;

    write_file(x, "a", "abc", 1, 1);
    assert_int_equal(fs_open(x->fs, p(x, "a"), FS_WRITE, &f), 0);
    assert_int_equal(fs_append(f, "def", 3), 0);
    fs_close(f);
    assert_string_equal(read_file(x, "a"), "abcdef");
    assert_int_equal(fs_fault_power_loss(x->ff), 0);
    assert_string_equal(read_file(x, "a"), "abc");
}

static void test_create_needs_dir_sync(void **state)
{
    struct fx *x = *state;

    write_file(x, "synced", "x", 1, 1);
    write_file(x, "nodir", "y", 1, 0);
    assert_int_equal(fs_fault_power_loss(x->ff), 0);
    assert_string_equal(read_file(x, "synced"), "x");
    assert_string_equal(read_file(x, "nodir"), "<none>");
}

static void test_rename_and_unlink_undone(void **state)
{
    struct fx *x = *state;
    char from[4200];

    write_file(x, "cur", "old", 1, 1);
    write_file(x, "gone", "keep", 1, 1);
    write_file(x, "tmp", "new", 1, 1);
    snprintf(from, sizeof(from), "%s/tmp", x->dir);
    assert_int_equal(fs_rename(x->fs, from, p(x, "cur")), 0);
    assert_int_equal(fs_unlink(x->fs, p(x, "gone")), 0);
    assert_string_equal(read_file(x, "cur"), "new");
    assert_string_equal(read_file(x, "gone"), "<none>");
    assert_int_equal(fs_fault_power_loss(x->ff), 0);
    assert_string_equal(read_file(x, "cur"), "old");
    assert_string_equal(read_file(x, "tmp"), "new");
    assert_string_equal(read_file(x, "gone"), "keep");

    /* Made durable, the same steps survive. */
    assert_int_equal(fs_rename(x->fs, from, p(x, "cur")), 0);
    assert_int_equal(fs_fsync_dir(x->fs, x->dir), 0);
    assert_int_equal(fs_fault_power_loss(x->ff), 0);
    assert_string_equal(read_file(x, "cur"), "new");
    assert_string_equal(read_file(x, "tmp"), "<none>");
}

static void test_rules(void **state)
{
    struct fx *x = *state;
    struct fs_file *f;
    struct fs_fault_rule r = {.ops = FSF_FSYNC,
                              .path_has = "log",
                              .skip = 1,
                              .count = 1,
                              .err = -EIO};

    assert_int_equal(fs_fault_add(x->ff, &r), 0);
    assert_int_equal(fs_open(x->fs, p(x, "log1"), FS_WRITE | FS_CREATE, &f), 0);
    assert_int_equal(fs_fsync(f), 0);    /* skipped */
    assert_int_equal(fs_fsync(f), -EIO); /* fails once */
    assert_int_equal(fs_fsync(f), 0);
    fs_close(f);

    /* A short write lands half and fails. */
    r = (struct fs_fault_rule){
        .ops = FSF_APPEND, .count = 1, .err = -EIO, .partial = 1};
    assert_int_equal(fs_fault_add(x->ff, &r), 0);
    assert_int_equal(fs_open(x->fs, p(x, "short"), FS_WRITE | FS_CREATE, &f),
                     0);
    assert_int_equal(fs_append(f, "abcd", 4), -EIO);
    fs_close(f);
    assert_string_equal(read_file(x, "short"), "ab");

    /* A full disk takes what fits, then ENOSPC until space returns. */
    fs_fault_set_space(x->ff, 5);
    assert_int_equal(fs_open(x->fs, p(x, "full"), FS_WRITE | FS_CREATE, &f), 0);
    assert_int_equal(fs_append(f, "123", 3), 0);
    assert_int_equal(fs_append(f, "456", 3), -ENOSPC);
    assert_int_equal(fs_append(f, "7", 1), -ENOSPC);
    fs_fault_set_space(x->ff, -1);
    assert_int_equal(fs_append(f, "7", 1), 0);
    fs_close(f);
    assert_string_equal(read_file(x, "full"), "123457");
}

static void test_crash_rule(void **state)
{
    struct fx *x = *state;
    struct fs_file *f;
    struct fs_fault_rule r = {
        .ops = FSF_WRITES, .skip = 2, .count = 1, .err = -EIO, .crash = 1};

    write_file(x, "c", "base", 1, 1);
    assert_int_equal(fs_fault_add(x->ff, &r), 0);
    assert_int_equal(fs_open(x->fs, p(x, "c"), FS_WRITE, &f), 0);
    assert_int_equal(fs_append(f, "1", 1), 0); /* pass 1 */
    assert_int_equal(fs_fsync(f), 0);          /* pass 2 */
    assert_int_equal(fs_append(f, "2", 1), -EIO);
    assert_true(fs_fault_crashed(x->ff));
    assert_int_equal(fs_fsync(f), -EIO);
    fs_close(f);
    assert_int_equal(fs_fault_power_loss(x->ff), 0);
    assert_false(fs_fault_crashed(x->ff));
    assert_string_equal(read_file(x, "c"), "base1");
}

/* Overwrites in place: synced ones stay, the rest go back. */
static void test_pwrite_undone(void **state)
{
    struct fx *x = *state;
    struct fs_file *f;

    write_file(x, "z", "0000000000", 1, 1);
    assert_int_equal(fs_open(x->fs, p(x, "z"), FS_WRITE, &f), 0);
    assert_int_equal(fs_pwrite(f, "ab", 2, 0), 0);
    assert_int_equal(fs_fsync(f), 0);
    assert_int_equal(fs_pwrite(f, "cd", 2, 4), 0);
    assert_int_equal(fs_pwrite(f, "XYZ", 3, 9), 0); /* grows the file */
    assert_int_equal(fs_append(f, "!", 1), 0);      /* after the end */
    fs_close(f);
    assert_string_equal(read_file(x, "z"), "ab00cd000XYZ!");
    assert_int_equal(fs_fault_power_loss(x->ff), 0);
    assert_string_equal(read_file(x, "z"), "ab00000000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unsynced_bytes_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_create_needs_dir_sync, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rename_and_unlink_undone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pwrite_undone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
