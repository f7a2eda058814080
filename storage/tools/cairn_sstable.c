/*
 * cairn_sstable.c -- `cairn-sstable`, the offline sstable tool: verify
 * files (every block's checksum and the order of the entries), dump their
 * metadata and entries, for operators and for tests of damaged files.
 * Payloads are the engine's opaque rows, so they are shown as hex.
 *
 * Exit status: 0 when every file is sound, 1 when one is damaged or
 * cannot be read (the message names the file and the block), 2 on bad
 * arguments.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "storage/fs.h"
#include "storage/sstable.h"

static int usage(void)
{
    fprintf(stderr, "usage: cairn-sstable verify FILE...\n"
                    "       cairn-sstable dump FILE\n"
                    "       cairn-sstable meta FILE\n");
    return 2;
}

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static int open_or_report(const char *path, struct sstable **t)
{
    int rc = sstable_open(fs_posix(), path, NULL, t);

    if (rc != 0)
        fprintf(stderr, "%s: %s: %s\n", path, err_name(rc), err_msg());
    return rc;
}

static void print_meta(const struct sstable *t)
{
    const struct sstable_meta *m = sstable_get_meta(t);

    printf("file: %s\n", sstable_path(t));
    printf("format_version: %" PRIu32 "\n", m->format_version);
    printf("min_token: %" PRId64 "\nmax_token: %" PRId64 "\n", m->min_token,
           m->max_token);
    printf("partitions: %" PRIu64 "\nrows: %" PRIu64 "\n", m->partitions,
           m->rows);
    printf("blocks: %" PRIu64 "\ndata_bytes: %" PRIu64 "\n", m->blocks,
           m->data_bytes);
    printf("file_bytes: %" PRIu64 "\ncompression: %s\n", m->file_bytes,
           m->compression ? "lz4" : "none");
    printf("min_ts: %" PRId64 "\nmax_ts: %" PRId64 "\n", m->stats.min_ts,
           m->stats.max_ts);
    printf("min_deleted_s: %" PRId64 "\ntombstones: %" PRIu64 "\n",
           m->stats.min_deleted_s, m->stats.tombstones);
    printf("table_id: %" PRIu64 "\nlevel: %" PRIu64 "\n", m->stats.table_id,
           m->stats.level);
}

static int cmd_meta(const char *path)
{
    struct sstable *t;

    if (open_or_report(path, &t) != 0)
        return 1;
    print_meta(t);
    sstable_unref(t);
    return 0;
}

static void print_entry(const struct sstable_entry *e)
{
    printf("token=%" PRId64 " pkey=", e->token);
    hex(e->pkey, e->pkey_len);
    if (e->is_header) {
        printf(" header");
    } else {
        printf(" ck=");
        hex(e->ck, e->ck_len);
    }
    printf(" value_len=%zu value=", e->value_len);
    hex(e->value, e->value_len);
    putchar('\n');
}

static int cmd_dump(const char *path)
{
    struct sstable *t;
    struct sstable_iter *it;
    struct sstable_entry e;
    int rc;

    if (open_or_report(path, &t) != 0)
        return 1;
    print_meta(t);
    printf("entries:\n");
    rc = sstable_iter_open(t, &it);
    if (rc == 0) {
        while ((rc = sstable_iter_next(it, &e)) == 1)
            print_entry(&e);
        sstable_iter_close(it);
    }
    if (rc < 0)
        fprintf(stderr, "%s: %s: %s\n", path, err_name(rc), err_msg());
    sstable_unref(t);
    return rc < 0 ? 1 : 0;
}

static int cmd_verify(int n, char **paths)
{
    int bad = 0;

    for (int i = 0; i < n; i++) {
        struct sstable *t;
        int rc = open_or_report(paths[i], &t);
        if (rc == 0) {
            rc = sstable_verify(t);
            if (rc != 0)
                fprintf(stderr, "%s: %s: %s\n", paths[i], err_name(rc),
                        err_msg());
            sstable_unref(t);
        }
        if (rc == 0)
            printf("%s: ok\n", paths[i]);
        bad |= rc != 0;
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argv[2]);
    if (argc == 3 && strcmp(argv[1], "meta") == 0)
        return cmd_meta(argv[2]);
    return usage();
}
