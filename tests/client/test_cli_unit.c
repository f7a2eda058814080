/*
 * test_cli_unit.c -- the `cairn` tool without a server: argument parsing
 * and exit codes (2 for every kind of usage error, 3 for an unreachable
 * node, 0 for help), global options before and after the command, and
 * what each data command sends and prints, against the scripted peer.
 * Expected output follows the format documented in client/cli/out.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/cli/cli.h"
#include "tests/client/peer.h"

static char out_text[65536], err_text[65536];

/* Run the tool on a space-separated command line; the exit code. */
static int run(const char *line)
{
    char copy[1024], *argv[64], *save = NULL;
    int argc = 0, rc;
    char *obuf = NULL, *ebuf = NULL;
    size_t olen = 0, elen = 0;
    FILE *out = open_memstream(&obuf, &olen);
    FILE *err = open_memstream(&ebuf, &elen);

    snprintf(copy, sizeof(copy), "cairn %s", line);
    for (char *t = strtok_r(copy, " ", &save); t && argc < 63;
         t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    rc = cli_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    snprintf(out_text, sizeof(out_text), "%s", obuf);
    snprintf(err_text, sizeof(err_text), "%s", ebuf);
    free(obuf);
    free(ebuf);
    return rc;
}

static void test_usage_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "frobnicate",
        "put ks.t p",
        "put ks.t p novalue",
        "put ks.t p =v",
        "put kst p a=1",
        "put ks. p a=1",
        "put .t p a=1",
        "put ks.t p a=1 --ttl soon",
        "put ks.t p a=1 --ttl",
        "get ks.t",
        "get ks.t p extra",
        "get ks.t p --nope",
        "create-keyspace ks",
        "create-keyspace ks --rf x",
        "create-keyspace ks --rf 0",
        "create-keyspace ks --rf -1",
        "create-keyspace ks --rf 99999999999",
        "create-table ks.t --compression zstd",
        "create-table ks.t --gc-grace x",
        "create-table ks",
        "tables",
        "keyspaces extra",
        "scan",
        "scan ks.t --from a",
        "scan ks.t p --limit many",
        "delete ks.t",
        "--consistency most keyspaces",
        "keyspaces --consistency",
        "keyspaces --host",
        "--json=1 keyspaces",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        int rc = run(bad[i]);

        if (rc != CLI_USAGE)
            fail_msg("'cairn %s' gave %d, want 2 (usage)", bad[i], rc);
        if (!strstr(err_text, "usage") && !strstr(err_text, "cairn:"))
            fail_msg("'cairn %s' said nothing on stderr", bad[i]);
        assert_string_equal(out_text, "");
    }
}

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(run("help"), CLI_OK);
    assert_non_null(strstr(out_text, "create-keyspace"));
    assert_non_null(strstr(out_text, "scan"));
    assert_int_equal(run("help put"), CLI_OK);
    assert_non_null(strstr(out_text, "usage: cairn put KS.TABLE PARTITION"));
    assert_int_equal(run("scan --help"), CLI_OK);
    assert_non_null(strstr(out_text, "usage: cairn scan"));
    assert_int_equal(run("help nosuch"), CLI_USAGE);
}

static uint16_t free_port(void)
{
    struct peer p;
    uint16_t port;

    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    port = p.port;
    peer_stop(&p);
    return port;
}

static void test_unreachable(void **state)
{
    char line[200];
    uint16_t port = free_port();

    (void)state;
    snprintf(line, sizeof(line), "--host 127.0.0.1:%u keyspaces", port);
    assert_int_equal(run(line), CLI_UNREACHABLE);
    assert_non_null(strstr(err_text, "cannot reach"));
    assert_string_equal(out_text, "");
    /* Global options after the command are taken as well. */
    snprintf(line, sizeof(line), "put ks.t p a=1 --json --host=127.0.0.1:%u",
             port);
    assert_int_equal(run(line), CLI_UNREACHABLE);
    /* A host that cannot be a host is a usage error. */
    assert_int_equal(run("--host 127.0.0.1:http keyspaces"), CLI_USAGE);
}

static Cairn__Request *last(struct peer *p)
{
    Cairn__Request *rq = peer_last(p);

    assert_non_null(rq);
    return rq;
}

static void test_commands_send(void **state)
{
    struct peer p;
    Cairn__Request *rq;
    char line[300];

    (void)state;
    assert_int_equal(peer_start(&p, PEER_ACK), 0);

    snprintf(line, sizeof(line),
             "--host 127.0.0.1:%u put ks.t p1 --ck c1 --ttl 5 a=1 b=x=y "
             "--consistency all",
             p.port);
    assert_int_equal(run(line), CLI_OK);
    rq = last(&p);
    assert_int_equal(rq->consistency, CAIRN__CONSISTENCY__CL_ALL);
    assert_int_equal(rq->write->n_mutations, 2);
    assert_memory_equal(rq->write->mutations[0]->ck.data, "c1", 2);
    assert_int_equal(rq->write->mutations[0]->ttl_s, 5);
    assert_int_equal(rq->write->mutations[1]->column.len, 1);
    assert_memory_equal(rq->write->mutations[1]->value.data, "x=y", 3);
    cairn__request__free_unpacked(rq, NULL);

    snprintf(line, sizeof(line), "--host 127.0.0.1:%u delete ks.t p1", p.port);
    assert_int_equal(run(line), CLI_OK);
    rq = last(&p);
    assert_int_equal(rq->write->mutations[0]->kind,
                     CAIRN__MUTATION_KIND__MUT_PARTITION_DELETE);
    cairn__request__free_unpacked(rq, NULL);

    snprintf(line, sizeof(line), "--host 127.0.0.1:%u delete ks.t p1 --ck c",
             p.port);
    assert_int_equal(run(line), CLI_OK);
    rq = last(&p);
    assert_int_equal(rq->write->mutations[0]->kind,
                     CAIRN__MUTATION_KIND__MUT_ROW_DELETE);
    cairn__request__free_unpacked(rq, NULL);

    snprintf(line, sizeof(line),
             "--host 127.0.0.1:%u delete ks.t p1 --ck c a b", p.port);
    assert_int_equal(run(line), CLI_OK);
    rq = last(&p);
    assert_int_equal(rq->write->n_mutations, 2);
    assert_int_equal(rq->write->mutations[1]->kind,
                     CAIRN__MUTATION_KIND__MUT_CELL_DELETE);
    assert_memory_equal(rq->write->mutations[1]->column.data, "b", 1);
    cairn__request__free_unpacked(rq, NULL);

    snprintf(line, sizeof(line),
             "create-table ks.t --gc-grace 60 --compression none --host "
             "127.0.0.1:%u",
             p.port);
    assert_int_equal(run(line), CLI_OK);
    rq = last(&p);
    assert_int_equal(rq->create_table->options->gc_grace_s, 60);
    assert_true(rq->create_table->options->no_compression);
    cairn__request__free_unpacked(rq, NULL);

    snprintf(line, sizeof(line), "--host 127.0.0.1:%u create-keyspace k --rf 3",
             p.port);
    assert_int_equal(run(line), CLI_OK);
    rq = last(&p);
    assert_int_equal(rq->create_keyspace->replication_factor, 3);
    cairn__request__free_unpacked(rq, NULL);
    peer_stop(&p);
}

static void test_get_prints_rows(void **state)
{
    struct peer p;
    char line[300];

    (void)state;
    assert_int_equal(peer_start(&p, PEER_ACK), 0);
    /* The peer answers a read with one row: ck = the partition key and
     * one cell c = the partition key, timestamp 7. */
    snprintf(line, sizeof(line), "--host 127.0.0.1:%u get ks.t pk1", p.port);
    assert_int_equal(run(line), CLI_OK);
    assert_string_equal(out_text, "pk1 pk1 c=pk1\n");

    snprintf(line, sizeof(line), "get ks.t pk1 --json --host 127.0.0.1:%u",
             p.port);
    assert_int_equal(run(line), CLI_OK);
    assert_string_equal(out_text,
                        "{\"rows\":[{\"partition\":\"pk1\",\"ck\":\"pk1\","
                        "\"cells\":[{\"column\":\"c\",\"value\":\"pk1\","
                        "\"timestamp\":7,\"expires\":0}]}]}\n");
    peer_stop(&p);
}

static void test_output_quoting(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    cli_put_bytes(f, cairn_str("plain"));
    fputc('|', f);
    cli_put_bytes(f, cairn_str(""));
    fputc('|', f);
    cli_put_bytes(f, cairn_str("a b=\"c\"\n"));
    fputc('|', f);
    cli_put_bytes(f, (cairn_bytes_t){"\x01\xff", 2});
    fputc('|', f);
    cli_put_json(f, (cairn_bytes_t){"q\"\\\x01", 4});
    fclose(f);
    assert_string_equal(buf, "plain|\"\"|\"a b=\\\"c\\\"\\n\"|\"\\x01\\xff\"|"
                             "\"q\\\"\\\\\\u0001\"");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_commands_send),
        cmocka_unit_test(test_get_prints_rows),
        cmocka_unit_test(test_output_quoting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
