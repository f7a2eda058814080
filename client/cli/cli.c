/*
 * cli.c -- the `cairn` tool's frame: global options, the command table,
 * argument helpers and the connection.
 *
 * To add commands (status, ring, flush, cluster ...), write a file with
 * its own table of struct cli_cmd and list the table in cmd_tables below.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"

static const struct cli_cmd *const cmd_tables[] = {
    cli_data_cmds, cli_impexp_cmds, cli_admin_cmds, cli_cluster_cmds, NULL,
};

static void print_usage(FILE *f)
{
    fputs("usage: cairn [--host ADDR:PORT] [--consistency LEVEL] [--json] "
          "COMMAND ...\n\ncommands:\n",
          f);
    for (size_t t = 0; cmd_tables[t]; t++)
        for (const struct cli_cmd *c = cmd_tables[t]; c->name; c++)
            fprintf(f, "  %-16s %s\n  %-16s   %s\n", c->name, c->usage, "",
                    c->help);
    fprintf(f,
            "\n--host defaults to %s; LEVEL is any, one, two, three, "
            "quorum or all.\nexit: 0 ok, 1 error, 2 usage, 3 node "
            "unreachable\n",
            CLI_DEFAULT_HOST);
}

static const struct cli_cmd *find_cmd(const char *name)
{
    for (size_t t = 0; cmd_tables[t]; t++)
        for (const struct cli_cmd *c = cmd_tables[t]; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return c;
    return NULL;
}

int cli_usage(struct cli *g, const char *cmd, const char *why)
{
    const struct cli_cmd *c = cmd ? find_cmd(cmd) : NULL;

    if (why)
        fprintf(g->err, "cairn: %s\n", why);
    if (c)
        fprintf(g->err, "usage: cairn %s %s\n", c->name, c->usage);
    else
        fputs("usage: cairn [--host ADDR:PORT] [--consistency LEVEL] "
              "[--json] COMMAND ...\n(cairn help lists the commands)\n",
              g->err);
    return CLI_USAGE;
}

/* Value of a global or command option: "--opt V" or "--opt=V". */
static const char *opt_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int is_opt(const char *arg, const char *name, const char **eq)
{
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '\0') {
        *eq = NULL;
        return 1;
    }
    if (arg[n] == '=') {
        *eq = arg + n;
        return 1;
    }
    return 0;
}

/* Take the global options out of argv wherever they are; 0 or usage. */
static int take_globals(struct cli *g, int *argc, char **argv)
{
    int out = 1, rest = 0;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *eq, *v;

        if (rest || strcmp(a, "--") == 0) {
            rest = 1;
            argv[out++] = argv[i];
        } else if (is_opt(a, "--json", &eq) && !eq) {
            g->json = 1;
        } else if (is_opt(a, "--host", &eq)) {
            if (!(v = opt_value(*argc, argv, &i, eq)) || !*v)
                return cli_usage(g, NULL, "--host needs ADDR:PORT");
            g->host = v;
        } else if (is_opt(a, "--consistency", &eq)) {
            if (!(v = opt_value(*argc, argv, &i, eq)))
                return cli_usage(g, NULL, "--consistency needs a LEVEL");
            if (cairn_consistency_parse(v, &g->ro.consistency) < 0)
                return cli_usage(g, NULL, cairn_last_error());
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    return 0;
}

int cli_parse(struct cli *g, int argc, char **argv, struct cli_opt *opts,
              size_t nopts, char **pos, size_t maxpos, size_t *npos)
{
    int rest = 0;
    char why[300];

    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = NULL;
        size_t k;

        if (!rest && strcmp(a, "--") == 0) {
            rest = 1;
            continue;
        }
        if (rest || a[0] != '-' || a[1] != '-') {
            if (*npos == maxpos) {
                snprintf(why, sizeof(why), "unexpected argument '%s'", a);
                return cli_usage(g, argv[0], why);
            }
            pos[(*npos)++] = argv[i];
            continue;
        }
        for (k = 0; k < nopts && !is_opt(a, opts[k].name, &eq); k++)
            ;
        if (k == nopts || (!opts[k].has_arg && eq)) {
            snprintf(why, sizeof(why), "unknown option '%s'", a);
            return cli_usage(g, argv[0], why);
        }
        opts[k].val = opts[k].has_arg ? opt_value(argc, argv, &i, eq) : "";
        if (!opts[k].val) {
            snprintf(why, sizeof(why), "%s needs a value", opts[k].name);
            return cli_usage(g, argv[0], why);
        }
    }
    return 0;
}

int cli_u32(struct cli *g, const char *what, const char *s, uint32_t *out)
{
    char *end;
    unsigned long long v;
    char why[200];

    errno = 0;
    v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v > UINT32_MAX) {
        snprintf(why, sizeof(why),
                 "%s wants a number from 0 to %u, not "
                 "'%s'",
                 what, UINT32_MAX, s);
        fprintf(g->err, "cairn: %s\n", why);
        return CLI_USAGE;
    }
    *out = (uint32_t)v;
    return 0;
}

int cli_split_table(struct cli *g, const char *arg, char *buf, size_t bufsize,
                    char **ks, char **table)
{
    char *dot;
    char why[200];

    if (strlen(arg) >= bufsize || !(dot = strchr(arg, '.')) || dot == arg ||
        !dot[1] || strchr(dot + 1, '.')) {
        snprintf(why, sizeof(why), "want KEYSPACE.TABLE, not '%.100s'", arg);
        fprintf(g->err, "cairn: %s\n", why);
        return CLI_USAGE;
    }
    strcpy(buf, arg);
    buf[dot - arg] = '\0';
    *ks = buf;
    *table = buf + (dot - arg) + 1;
    return 0;
}

int cli_fail(struct cli *g, const char *what, int rc)
{
    fprintf(g->err, "cairn: %s failed: %s: %s\n", what, cairn_strerror(rc),
            cairn_last_error());
    if (rc == CAIRN_ERR_UNREACHABLE || rc == CAIRN_ERR_CLOSED)
        return CLI_UNREACHABLE;
    return CLI_ERROR;
}

cairn_client_t *cli_client(struct cli *g, int *code)
{
    cairn_options_t o;
    int rc;

    if (g->client)
        return g->client;
    cairn_options_init(&o);
    o.contact_points = g->host;
    o.connections_per_host = 1;
    rc = cairn_client_new(&o, &g->client);
    if (rc == 0)
        return g->client;
    if (rc == CAIRN_ERR_INVALID) {
        fprintf(g->err, "cairn: bad --host '%s': %s\n", g->host,
                cairn_last_error());
        *code = CLI_USAGE;
    } else {
        fprintf(g->err, "cairn: cannot reach %s: %s\n", g->host,
                cairn_last_error());
        *code = CLI_UNREACHABLE;
    }
    return NULL;
}

static int is_help(const char *a)
{
    return strcmp(a, "help") == 0 || strcmp(a, "--help") == 0 ||
           strcmp(a, "-h") == 0;
}

/* `cairn help [COMMAND]`, `cairn COMMAND --help`: usage on stdout. */
static int help(struct cli *g, const char *name)
{
    const struct cli_cmd *c = name ? find_cmd(name) : NULL;
    char why[200];

    if (!name) {
        print_usage(g->out);
        return CLI_OK;
    }
    if (!c) {
        snprintf(why, sizeof(why), "unknown command '%.100s'", name);
        return cli_usage(g, NULL, why);
    }
    fprintf(g->out, "usage: cairn %s %s\n%s\n", c->name, c->usage, c->help);
    return CLI_OK;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct cli g = {0};
    const struct cli_cmd *cmd;
    char why[200];
    int rc;

    g.host = CLI_DEFAULT_HOST;
    g.out = out;
    g.err = err;
    if ((rc = take_globals(&g, &argc, argv)) != 0)
        return rc;
    if (argc < 2)
        return cli_usage(&g, NULL, "no command given");
    if (is_help(argv[1]))
        return help(&g, argc > 2 ? argv[2] : NULL);
    cmd = find_cmd(argv[1]);
    if (!cmd) {
        snprintf(why, sizeof(why), "unknown command '%.100s'", argv[1]);
        return cli_usage(&g, NULL, why);
    }
    /* Only "--help" here: a key or value may well be "help" or "-h". */
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0)
            return help(&g, cmd->name);
    rc = cmd->run(&g, argc - 1, argv + 1);
    cairn_client_free(g.client);
    fflush(out);
    return rc;
}
