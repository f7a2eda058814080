/*
 * admin.c -- the nodetool-like commands of `cairn`: status, ring, info,
 * describe-ring, gossipinfo, flush, compact, drain.
 *
 * Each sends one Admin request to the node named by --host and prints
 * its answer: the node renders both the text (nodetool's layout) and the
 * JSON (--json), so the two always say the same. Failures go to stderr,
 * and with --json also as {"error": ...} on stdout; exit codes are those
 * of cli.h (3 when the node cannot be reached).
 */
#include <string.h>

#include "client/cli/cli.h"

/* A long deadline: flush and compact wait on the disk. */
#define ADMIN_SLOW_TIMEOUT_MS (30u * 60 * 1000)

static void json_error(struct cli *g, const char *what, int rc)
{
    const char *m = cairn_last_error();

    if (!g->json)
        return;
    fprintf(g->out, "{\"error\":\"");
    cli_put_json(g->out, cairn_str(what));
    (void)m;
    fprintf(g->out, "\",\"code\":\"%s\",\"message\":", cairn_strerror(rc));
    cli_put_json(g->out, cairn_str(m ? m : ""));
    fprintf(g->out, "}\n");
}

/* admin_run -- send `cmd` (keyspace `ks`, may be NULL) and print. */
static int admin_run(struct cli *g, const char *name, const char *cmd,
                     const char *ks, int slow)
{
    cairn_req_opts_t ro = g->ro;
    cairn_result_t *r = NULL;
    cairn_client_t *c;
    int code, rc;
    const char *s;
    size_t n;

    if (!(c = cli_client(g, &code))) {
        if (g->json)
            fprintf(g->out, "{\"error\":\"unreachable\",\"host\":\"%s\"}\n",
                    g->host);
        return code;
    }
    if (slow)
        ro.timeout_ms = ADMIN_SLOW_TIMEOUT_MS;
    rc = cairn_admin(c, &ro, cmd, ks, &r);
    if (rc < 0) {
        code = cli_fail(g, name, rc);
        json_error(g, name, rc);
        return code;
    }
    s = g->json ? cairn_result_admin_json(r) : cairn_result_admin_text(r);
    n = strlen(s);
    fputs(s, g->out);
    if (n == 0 || s[n - 1] != '\n')
        fputc('\n', g->out);
    cairn_result_free(r);
    return CLI_OK;
}

/* admin_cmd -- a command taking at most one keyspace (`need` 1: one). */
static int admin_cmd(struct cli *g, int argc, char **argv, const char *cmd,
                     int need, int slow)
{
    char *pos[2];
    size_t n;
    int rc = cli_parse(g, argc, argv, NULL, 0, pos, 2, &n);

    if (rc != 0)
        return rc;
    if (n > 1)
        return cli_usage(g, argv[0], "too many arguments");
    if (need && n == 0)
        return cli_usage(g, argv[0], "a KEYSPACE is needed");
    if (!need && n == 1 && !strcmp(cmd, "drain"))
        return cli_usage(g, argv[0], "drain takes no argument");
    if (!need && n == 1 &&
        (!strcmp(cmd, "ring") || !strcmp(cmd, "info") ||
         !strcmp(cmd, "gossipinfo")))
        return cli_usage(g, argv[0], "no argument is taken");
    return admin_run(g, argv[0], cmd, n ? pos[0] : NULL, slow);
}

static int cmd_status(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "status", 0, 0);
}

static int cmd_ring(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "ring", 0, 0);
}

static int cmd_info(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "info", 0, 0);
}

static int cmd_describe_ring(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "describe_ring", 1, 0);
}

static int cmd_gossipinfo(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "gossipinfo", 0, 0);
}

static int cmd_flush(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "flush", 0, 1);
}

static int cmd_compact(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "compact", 0, 1);
}

static int cmd_drain(struct cli *g, int argc, char **argv)
{
    return admin_cmd(g, argc, argv, "drain", 0, 1);
}

const struct cli_cmd cli_admin_cmds[] = {
    {"status", "[KEYSPACE]",
     "every node: Up/Down, state, address, load, tokens, owns, host id, rack",
     cmd_status},
    {"ring", "", "every token with its node", cmd_ring},
    {"info", "", "this node: host id, generation, load, schema", cmd_info},
    {"describe-ring", "KEYSPACE", "token ranges and their replicas",
     cmd_describe_ring},
    {"gossipinfo", "", "the gossip state this node holds of every node",
     cmd_gossipinfo},
    {"flush", "[KEYSPACE]", "write memtables to sstables", cmd_flush},
    {"compact", "[KEYSPACE]", "merge each table's sstables", cmd_compact},
    {"drain", "", "flush, then stop serving data requests", cmd_drain},
    {NULL, NULL, NULL, NULL},
};
