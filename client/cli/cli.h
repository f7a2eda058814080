/*
 * cli.h -- the `cairn` command-line tool: what its command files share.
 *
 * The tool is a table of commands. Each command file (data.c for the
 * data commands; admin commands such as status or ring go in files of
 * their own) exports a table of struct cli_cmd, listed once in cli.c.
 * Global options (--host, --consistency, --json) are taken out of argv
 * wherever they stand, before or after the command, so a command sees
 * only its own arguments. Commands write data to g->out and diagnostics
 * to g->err, and return one of the exit codes below.
 */
#ifndef CAIRN_CLI_CLI_H
#define CAIRN_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "cairn/cairn.h"

/* Exit codes, nodetool-like. */
enum cli_exit {
    CLI_OK = 0,
    CLI_ERROR = 1,       /* the node answered with an error */
    CLI_USAGE = 2,       /* bad command line */
    CLI_UNREACHABLE = 3, /* no node could be reached, or it went away */
};

#define CLI_DEFAULT_HOST "127.0.0.1:9470"

/* Global state of one run. */
struct cli {
    const char *host; /* --host, or CLI_DEFAULT_HOST */
    cairn_req_opts_t ro;
    int json;
    FILE *out, *err;
    cairn_client_t *client; /* connected on first use */
};

struct cli_cmd {
    const char *name;
    const char *usage; /* the arguments after the name */
    const char *help;  /* one line */
    int (*run)(struct cli *g, int argc, char **argv); /* argv[0]: name */
};

/* The data commands (data.c); ends with a zeroed entry. */
extern const struct cli_cmd cli_data_cmds[];

/* import and export (impexp.c); ends with a zeroed entry. */
extern const struct cli_cmd cli_impexp_cmds[];

/* The admin commands (admin.c): status, ring, info, ... */
extern const struct cli_cmd cli_admin_cmds[];

/* `cairn cluster ...`, local clusters (cluster.c). */
extern const struct cli_cmd cli_cluster_cmds[];

/*
 * cli_main -- run the tool on argv, writing to out and err; returns the
 * exit code. Tests call it directly.
 */
int cli_main(int argc, char **argv, FILE *out, FILE *err);

/* A command's option: "--name" with a value (has_arg) or a flag. */
struct cli_opt {
    const char *name;
    int has_arg;
    const char *val; /* the value, or "" for a flag; NULL if absent */
};

/*
 * cli_parse -- split argv[1..] into options listed in opts[0..nopts) and
 * positional arguments (at most maxpos, put in pos[]; *npos set). "--"
 * ends the options. A usage error is printed and gives CLI_USAGE.
 */
int cli_parse(struct cli *g, int argc, char **argv, struct cli_opt *opts,
              size_t nopts, char **pos, size_t maxpos, size_t *npos);

/* cli_usage -- print "usage: cairn NAME USAGE" for a command, and `why`;
 * returns CLI_USAGE. */
int cli_usage(struct cli *g, const char *cmd, const char *why);

/* cli_u32 -- parse a non-negative decimal for option `what`; 0 or
 * CLI_USAGE (printed). */
int cli_u32(struct cli *g, const char *what, const char *s, uint32_t *out);

/*
 * cli_split_table -- "KS.TABLE" into ks and table (pointers into a copy
 * kept in buf of bufsize bytes); 0 or CLI_USAGE (printed).
 */
int cli_split_table(struct cli *g, const char *arg, char *buf, size_t bufsize,
                    char **ks, char **table);

/* cli_client -- the connected client, connecting on first use; NULL
 * after printing why, with *code set to the exit code. */
cairn_client_t *cli_client(struct cli *g, int *code);

/* cli_fail -- print a failed request's detail; the exit code for `rc`. */
int cli_fail(struct cli *g, const char *what, int rc);

/* Output helpers (out.c). */

/* cli_put_bytes -- write bytes as a text token: bare when plain, else
 * double-quoted with C escapes. */
void cli_put_bytes(FILE *f, cairn_bytes_t b);

/* cli_put_json -- write bytes as a JSON string. */
void cli_put_json(FILE *f, cairn_bytes_t b);

/* cli_print_row -- one row (its partition key given) as a text line or a
 * JSON object, after `sep` (JSON array separator, "" for the first). */
void cli_print_row(struct cli *g, cairn_bytes_t pkey, const cairn_row_t *row,
                   const char *sep);

#endif /* CAIRN_CLI_CLI_H */
