/*
 * data.c -- the data commands of `cairn`: schema, put, get, scan, delete.
 *
 * Each command parses its arguments completely before it connects, so a
 * usage error never touches a node. Keys, columns and values are taken
 * as the bytes given on the command line. Without --ck a row is the one
 * with the empty clustering key (plain key-value use).
 */
#include <string.h>

#include "client/cli/cli.h"

#define TABLE_ARG_MAX 128
/* Rows per page when scanning. */
#define SCAN_PAGE 1000

/* Connect, or return the exit code from the enclosing command. */
#define CONNECT(g, c)                                                          \
    do {                                                                       \
        int code_;                                                             \
        if (!((c) = cli_client((g), &code_)))                                  \
            return code_;                                                      \
    } while (0)

static int cmd_create_keyspace(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {{"--rf", 1, NULL}};
    char *pos[1];
    size_t n;
    uint32_t rf;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, o, 1, pos, 1, &n)) != 0)
        return rc;
    if (n != 1 || !o[0].val)
        return cli_usage(g, argv[0], "need KS and --rf N");
    if ((rc = cli_u32(g, "--rf", o[0].val, &rf)) != 0)
        return rc;
    if (rf == 0)
        return cli_usage(g, argv[0], "--rf must be at least 1");
    CONNECT(g, c);
    rc = cairn_create_keyspace(c, &g->ro, pos[0], rf, 0);
    return rc < 0 ? cli_fail(g, "create-keyspace", rc) : CLI_OK;
}

static int cmd_drop_keyspace(struct cli *g, int argc, char **argv)
{
    char *pos[1];
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, NULL, 0, pos, 1, &n)) != 0)
        return rc;
    if (n != 1)
        return cli_usage(g, argv[0], "need KS");
    CONNECT(g, c);
    rc = cairn_drop_keyspace(c, &g->ro, pos[0], 0);
    return rc < 0 ? cli_fail(g, "drop-keyspace", rc) : CLI_OK;
}

static int table_options(struct cli *g, struct cli_opt *o,
                         cairn_table_options_t *to)
{
    int rc = 0;

    memset(to, 0, sizeof(*to));
    if (o[0].val)
        rc = cli_u32(g, "--gc-grace", o[0].val, &to->gc_grace_s);
    if (rc == 0 && o[1].val)
        rc = cli_u32(g, "--default-ttl", o[1].val, &to->default_ttl_s);
    if (rc == 0 && o[2].val) {
        if (strcmp(o[2].val, "none") == 0)
            to->no_compression = 1;
        else if (strcmp(o[2].val, "lz4") != 0)
            rc = cli_usage(g, "create-table", "--compression is lz4 or none");
    }
    return rc;
}

static int cmd_create_table(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {{"--gc-grace", 1, NULL},
                          {"--default-ttl", 1, NULL},
                          {"--compression", 1, NULL}};
    char *pos[1], buf[TABLE_ARG_MAX], *ks, *tb;
    cairn_table_options_t to;
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, o, 3, pos, 1, &n)) != 0)
        return rc;
    if (n != 1)
        return cli_usage(g, argv[0], "need KS.TABLE");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), &ks, &tb)) ||
        (rc = table_options(g, o, &to)))
        return rc;
    CONNECT(g, c);
    rc = cairn_create_table(c, &g->ro, ks, tb, &to, 0);
    return rc < 0 ? cli_fail(g, "create-table", rc) : CLI_OK;
}

static int cmd_drop_table(struct cli *g, int argc, char **argv)
{
    char *pos[1], buf[TABLE_ARG_MAX], *ks, *tb;
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, NULL, 0, pos, 1, &n)) != 0)
        return rc;
    if (n != 1)
        return cli_usage(g, argv[0], "need KS.TABLE");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), &ks, &tb)))
        return rc;
    CONNECT(g, c);
    rc = cairn_drop_table(c, &g->ro, ks, tb, 0);
    return rc < 0 ? cli_fail(g, "drop-table", rc) : CLI_OK;
}

static int cmd_keyspaces(struct cli *g, int argc, char **argv)
{
    const cairn_keyspace_t *k;
    cairn_result_t *r;
    char *pos[1];
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, NULL, 0, pos, 0, &n)) != 0)
        return rc;
    CONNECT(g, c);
    if ((rc = cairn_list_keyspaces(c, &g->ro, &r)) < 0)
        return cli_fail(g, "keyspaces", rc);
    n = cairn_result_keyspaces(r, &k);
    if (g->json)
        fputs("{\"keyspaces\":[", g->out);
    for (size_t i = 0; i < n; i++) {
        if (g->json)
            fprintf(g->out, "%s{\"name\":\"%s\",\"replication_factor\":%u}",
                    i ? "," : "", k[i].name, k[i].replication_factor);
        else
            fprintf(g->out, "%s rf=%u\n", k[i].name, k[i].replication_factor);
    }
    if (g->json)
        fputs("]}\n", g->out);
    cairn_result_free(r);
    return CLI_OK;
}

static void print_table(struct cli *g, const cairn_table_t *t, int first)
{
    const char *comp = t->options.no_compression ? "none" : "lz4";

    if (g->json)
        fprintf(g->out,
                "%s{\"keyspace\":\"%s\",\"name\":\"%s\",\"id\":%llu,"
                "\"gc_grace_s\":%u,\"default_ttl_s\":%u,"
                "\"compression\":\"%s\"}",
                first ? "" : ",", t->keyspace, t->name,
                (unsigned long long)t->id, t->options.gc_grace_s,
                t->options.default_ttl_s, comp);
    else
        fprintf(g->out,
                "%s id=%llu gc_grace=%u default_ttl=%u compression=%s\n",
                t->name, (unsigned long long)t->id, t->options.gc_grace_s,
                t->options.default_ttl_s, comp);
}

static int cmd_tables(struct cli *g, int argc, char **argv)
{
    const cairn_table_t *t;
    cairn_result_t *r;
    char *pos[1];
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, NULL, 0, pos, 1, &n)) != 0)
        return rc;
    if (n != 1)
        return cli_usage(g, argv[0], "need KS");
    CONNECT(g, c);
    if ((rc = cairn_list_tables(c, &g->ro, pos[0], &r)) < 0)
        return cli_fail(g, "tables", rc);
    n = cairn_result_tables(r, &t);
    if (g->json)
        fputs("{\"tables\":[", g->out);
    for (size_t i = 0; i < n; i++)
        print_table(g, &t[i], i == 0);
    if (g->json)
        fputs("]}\n", g->out);
    cairn_result_free(r);
    return CLI_OK;
}

/* The "ok" a write prints in JSON mode (text mode prints nothing). */
static int wrote(struct cli *g)
{
    if (g->json)
        fputs("{\"ok\":true}\n", g->out);
    return CLI_OK;
}

static int cmd_put(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {{"--ck", 1, NULL}, {"--ttl", 1, NULL}};
    char *pos[256], buf[TABLE_ARG_MAX], *ks, *tb;
    cairn_column_t cols[254];
    uint32_t ttl = 0;
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, o, 2, pos, 256, &n)) != 0)
        return rc;
    if (n < 3)
        return cli_usage(g, argv[0],
                         "need KS.TABLE, PARTITION and "
                         "COLUMN=VALUE");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), &ks, &tb)) ||
        (o[1].val && (rc = cli_u32(g, "--ttl", o[1].val, &ttl))))
        return rc;
    for (size_t i = 2; i < n; i++) {
        char *eq = strchr(pos[i], '=');

        if (!eq || eq == pos[i])
            return cli_usage(g, argv[0], "cells are COLUMN=VALUE");
        cols[i - 2].name = (cairn_bytes_t){pos[i], (size_t)(eq - pos[i])};
        cols[i - 2].value = cairn_str(eq + 1);
    }
    CONNECT(g, c);
    rc = cairn_put(c, &g->ro, ks, tb, cairn_str(pos[1]), cairn_str(o[0].val),
                   cols, n - 2, 0, ttl);
    return rc < 0 ? cli_fail(g, "put", rc) : wrote(g);
}

/* Print every row an iterator yields, up to `limit` (0: all). */
static int print_rows(struct cli *g, cairn_iter_t *it, uint64_t limit,
                      const char *what)
{
    const cairn_row_t *row;
    cairn_bytes_t pkey;
    uint64_t count = 0;
    int rc = 0;

    if (g->json)
        fputs("{\"rows\":[", g->out);
    while ((!limit || count < limit) &&
           (rc = cairn_iter_next(it, &pkey, &row)) > 0)
        cli_print_row(g, pkey, row, count++ ? "," : "");
    if (g->json)
        fputs("]}\n", g->out);
    if (limit && count == limit)
        rc = 0;
    cairn_iter_free(it);
    if (rc < 0)
        return cli_fail(g, what, rc);
    if (count == 0 && !g->json)
        fprintf(g->err, "cairn: no rows\n");
    return CLI_OK;
}

static int cmd_get(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {{"--ck", 1, NULL}};
    char *pos[2], buf[TABLE_ARG_MAX], *ks, *tb;
    cairn_slice_t s = {0};
    cairn_iter_t *it;
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, o, 1, pos, 2, &n)) != 0)
        return rc;
    if (n != 2)
        return cli_usage(g, argv[0], "need KS.TABLE and PARTITION");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), &ks, &tb)))
        return rc;
    if (o[0].val) {
        s.start = s.end = cairn_str(o[0].val);
        s.has_start = s.has_end = 1;
    }
    CONNECT(g, c);
    if ((rc = cairn_iter_slice(c, &g->ro, ks, tb, cairn_str(pos[1]), &s, &it)) <
        0)
        return cli_fail(g, "get", rc);
    return print_rows(g, it, 0, "get");
}

static int cmd_scan(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {
        {"--from", 1, NULL}, {"--to", 1, NULL}, {"--limit", 1, NULL}};
    char *pos[2], buf[TABLE_ARG_MAX], *ks, *tb;
    cairn_slice_t s = {0};
    uint32_t limit = 0;
    cairn_iter_t *it;
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, o, 3, pos, 2, &n)) != 0)
        return rc;
    if (n < 1)
        return cli_usage(g, argv[0], "need KS.TABLE");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), &ks, &tb)) ||
        (o[2].val && (rc = cli_u32(g, "--limit", o[2].val, &limit))))
        return rc;
    if (n == 1 && (o[0].val || o[1].val))
        return cli_usage(g, argv[0], "--from and --to need a PARTITION");
    s.has_start = o[0].val != NULL;
    s.start = cairn_str(o[0].val);
    s.has_end = o[1].val != NULL;
    s.end = cairn_str(o[1].val);
    s.page_size = limit && limit < SCAN_PAGE ? limit : SCAN_PAGE;
    CONNECT(g, c);
    if (n == 2)
        rc = cairn_iter_slice(c, &g->ro, ks, tb, cairn_str(pos[1]), &s, &it);
    else
        rc = cairn_iter_scan(c, &g->ro, ks, tb, s.page_size, &it);
    if (rc < 0)
        return cli_fail(g, "scan", rc);
    return print_rows(g, it, limit, "scan");
}

static int cmd_delete(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {{"--ck", 1, NULL}};
    char *pos[256], buf[TABLE_ARG_MAX], *ks, *tb;
    cairn_bytes_t cols[254], pk, ck;
    size_t n;
    cairn_client_t *c;
    int rc;

    if ((rc = cli_parse(g, argc, argv, o, 1, pos, 256, &n)) != 0)
        return rc;
    if (n < 2)
        return cli_usage(g, argv[0], "need KS.TABLE and PARTITION");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), &ks, &tb)))
        return rc;
    for (size_t i = 2; i < n; i++)
        cols[i - 2] = cairn_str(pos[i]);
    pk = cairn_str(pos[1]);
    ck = cairn_str(o[0].val);
    CONNECT(g, c);
    if (n > 2)
        rc = cairn_delete_cells(c, &g->ro, ks, tb, pk, ck, cols, n - 2, 0);
    else if (o[0].val)
        rc = cairn_delete_row(c, &g->ro, ks, tb, pk, ck, 0);
    else
        rc = cairn_delete_partition(c, &g->ro, ks, tb, pk, 0);
    return rc < 0 ? cli_fail(g, "delete", rc) : wrote(g);
}

const struct cli_cmd cli_data_cmds[] = {
    {"create-keyspace", "KS --rf N", "create a keyspace", cmd_create_keyspace},
    {"drop-keyspace", "KS", "drop a keyspace and its tables",
     cmd_drop_keyspace},
    {"keyspaces", "", "list keyspaces", cmd_keyspaces},
    {"create-table",
     "KS.TABLE [--gc-grace S] [--default-ttl S] [--compression lz4|none]",
     "create a table", cmd_create_table},
    {"drop-table", "KS.TABLE", "drop a table", cmd_drop_table},
    {"tables", "KS", "list a keyspace's tables", cmd_tables},
    {"put", "KS.TABLE PARTITION [--ck CLUSTERING] [--ttl S] COLUMN=VALUE...",
     "write cells of one row", cmd_put},
    {"get", "KS.TABLE PARTITION [--ck CLUSTERING]",
     "print a row, or every row of a partition", cmd_get},
    {"scan", "KS.TABLE [PARTITION] [--from CK] [--to CK] [--limit N]",
     "print a partition's rows, or the table's in token order", cmd_scan},
    {"delete", "KS.TABLE PARTITION [--ck CLUSTERING] [COLUMN...]",
     "delete cells, a row (--ck) or the whole partition", cmd_delete},
    {NULL, NULL, NULL, NULL},
};
