/*
 * main.c -- cairn-bench: YCSB-style load generator for cairn.
 *
 *   cairn-bench load [options]             insert every record once
 *   cairn-bench run --workload W [options] run a workload
 *
 * Records follow YCSB's layout ("user" + hashed number, --fields columns
 * of --value-size bytes); every value checks itself (gen.h), so --verify
 * can read all records back later, from any process, and count the
 * missing and the wrong ones. Exit status 0 only when no request failed
 * and every record verified.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/ycsb/bench.h"
#include "bench/ycsb/gen.h"
#include "common/mem.h"

static const char usage[] =
    "usage: cairn-bench load|run [options]\n"
    "  --workload a|b|c|d|e|f|write|read|mixed   (run; default a)\n"
    "  --hosts H:P,...        contact points (127.0.0.1:9470)\n"
    "  --keyspace KS          (ycsb)   --table T (usertable)\n"
    "  --rf N                 create keyspace and table when missing\n"
    "                         (load creates them with RF 1 by default)\n"
    "  --consistency LEVEL    one, quorum, all, ... (node default)\n"
    "  --records N            records loaded (1000)\n"
    "  --fields N             columns per record (10)\n"
    "  --value-size B         bytes per column (100; at least 72)\n"
    "  --operations N | --duration S   run length (10000 operations)\n"
    "  --threads N            worker threads (1)\n"
    "  --connections N        connections per node (1)\n"
    "  --inflight N           requests in flight per connection (1)\n"
    "  --rate OPS             open loop at OPS/s (default: closed loop)\n"
    "  --distribution zipfian|uniform|latest   (workload's default)\n"
    "  --warmup S             seconds run first and reported apart\n"
    "  --verify               afterwards read every record back and check\n"
    "  --json FILE            write the summary as JSON\n"
    "  --seed N               random seed (1)\n"
    "  --debug-keys           count requests per key; print the hottest\n"
    "                         1%'s expected and observed share\n";

static int set_workload(struct bench_cfg *cfg, const char *w, int dist_given)
{
    static const struct {
        const char *name;
        struct bench_mix mix;
        enum bench_dist dist;
    } t[] = {
        {"a", {0.5, 0.5, 0, 0, 0}, DIST_ZIPFIAN},
        {"b", {0.95, 0.05, 0, 0, 0}, DIST_ZIPFIAN},
        {"c", {1, 0, 0, 0, 0}, DIST_ZIPFIAN},
        {"d", {0.95, 0, 0.05, 0, 0}, DIST_LATEST},
        {"e", {0, 0, 0.05, 0.95, 0}, DIST_ZIPFIAN},
        {"f", {0.5, 0, 0, 0, 0.5}, DIST_ZIPFIAN},
        {"write", {0, 1, 0, 0, 0}, DIST_UNIFORM},
        {"read", {1, 0, 0, 0, 0}, DIST_UNIFORM},
        {"mixed", {0.5, 0.5, 0, 0, 0}, DIST_UNIFORM},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(t[i].name, w) != 0)
            continue;
        cfg->workload = t[i].name;
        cfg->mix = t[i].mix;
        if (!dist_given)
            cfg->dist = t[i].dist;
        /* The plain modes write whole records, one key per request. */
        cfg->full_record_writes = strlen(w) > 1;
        return 0;
    }
    fprintf(stderr, "cairn-bench: unknown workload '%s'\n", w);
    return -1;
}

static int parse_u64(const char *what, const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s == '-' || *s == '\0')
        goto bad;
    v = strtoull(s, &end, 10);
    if (*end != '\0')
        goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "cairn-bench: %s wants a non-negative number, not '%s'\n",
            what, s ? s : "");
    return -1;
}

static int parse_u32(const char *what, const char *s, uint32_t *out)
{
    uint64_t v;

    if (parse_u64(what, s, &v) != 0)
        return -1;
    if (v > UINT32_MAX) {
        fprintf(stderr, "cairn-bench: %s too large\n", what);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_secs(const char *what, const char *s, double *out)
{
    char *end;

    *out = strtod(s, &end);
    if (*end != '\0' || *out < 0 || end == s) {
        fprintf(stderr, "cairn-bench: %s wants seconds, not '%s'\n", what, s);
        return -1;
    }
    return 0;
}

static int parse_dist(const char *s, enum bench_dist *d)
{
    if (strcmp(s, "zipfian") == 0)
        *d = DIST_ZIPFIAN;
    else if (strcmp(s, "uniform") == 0)
        *d = DIST_UNIFORM;
    else if (strcmp(s, "latest") == 0)
        *d = DIST_LATEST;
    else {
        fprintf(stderr, "cairn-bench: unknown distribution '%s'\n", s);
        return -1;
    }
    return 0;
}

enum {
    O_WORKLOAD = 256,
    O_HOSTS,
    O_KEYSPACE,
    O_TABLE,
    O_RF,
    O_CL,
    O_RECORDS,
    O_FIELDS,
    O_VSIZE,
    O_OPS,
    O_DURATION,
    O_THREADS,
    O_CONNS,
    O_INFLIGHT,
    O_RATE,
    O_DIST,
    O_WARMUP,
    O_VERIFY,
    O_JSON,
    O_SEED,
    O_DEBUG_KEYS,
    O_HELP
};

static const struct option longopts[] = {{"workload", 1, 0, O_WORKLOAD},
                                         {"hosts", 1, 0, O_HOSTS},
                                         {"keyspace", 1, 0, O_KEYSPACE},
                                         {"table", 1, 0, O_TABLE},
                                         {"rf", 1, 0, O_RF},
                                         {"consistency", 1, 0, O_CL},
                                         {"records", 1, 0, O_RECORDS},
                                         {"fields", 1, 0, O_FIELDS},
                                         {"value-size", 1, 0, O_VSIZE},
                                         {"operations", 1, 0, O_OPS},
                                         {"duration", 1, 0, O_DURATION},
                                         {"threads", 1, 0, O_THREADS},
                                         {"connections", 1, 0, O_CONNS},
                                         {"inflight", 1, 0, O_INFLIGHT},
                                         {"rate", 1, 0, O_RATE},
                                         {"distribution", 1, 0, O_DIST},
                                         {"warmup", 1, 0, O_WARMUP},
                                         {"verify", 0, 0, O_VERIFY},
                                         {"json", 1, 0, O_JSON},
                                         {"seed", 1, 0, O_SEED},
                                         {"debug-keys", 0, 0, O_DEBUG_KEYS},
                                         {"help", 0, 0, O_HELP},
                                         {0, 0, 0, 0}};

/* One option into cfg; -1 on a bad value. */
static int apply(struct bench_cfg *cfg, int o, const char *a, int *ops_given,
                 const char **workload, int *dist_given)
{
    switch (o) {
    case O_WORKLOAD:
        *workload = a;
        return 0;
    case O_HOSTS:
        cfg->hosts = a;
        return 0;
    case O_KEYSPACE:
        cfg->keyspace = a;
        return 0;
    case O_TABLE:
        cfg->table = a;
        return 0;
    case O_RF:
        return parse_u32("--rf", a, &cfg->rf);
    case O_CL:
        if (cairn_consistency_parse(a, &cfg->cl) == 0)
            return 0;
        fprintf(stderr, "cairn-bench: unknown consistency '%s'\n", a);
        return -1;
    case O_RECORDS:
        return parse_u64("--records", a, &cfg->records);
    case O_FIELDS:
        return parse_u32("--fields", a, &cfg->fields);
    case O_VSIZE:
        return parse_u32("--value-size", a, &cfg->value_size);
    case O_OPS:
        *ops_given = 1;
        return parse_u64("--operations", a, &cfg->operations);
    case O_DURATION:
        return parse_secs("--duration", a, &cfg->duration_s);
    case O_THREADS:
        return parse_u32("--threads", a, &cfg->threads);
    case O_CONNS:
        return parse_u32("--connections", a, &cfg->connections);
    case O_INFLIGHT:
        return parse_u32("--inflight", a, &cfg->inflight);
    case O_RATE:
        return parse_secs("--rate", a, &cfg->rate);
    case O_DIST:
        *dist_given = 1;
        return parse_dist(a, &cfg->dist);
    case O_WARMUP:
        return parse_secs("--warmup", a, &cfg->warmup_s);
    case O_VERIFY:
        cfg->verify = 1;
        return 0;
    case O_JSON:
        cfg->json = a;
        return 0;
    case O_SEED:
        return parse_u64("--seed", a, &cfg->seed);
    case O_DEBUG_KEYS:
        cfg->debug_keys = 1;
        return 0;
    default:
        return -1;
    }
}

static void defaults(struct bench_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->hosts = "127.0.0.1:9470";
    cfg->keyspace = "ycsb";
    cfg->table = "usertable";
    cfg->records = 1000;
    cfg->fields = 10;
    cfg->value_size = 100;
    cfg->threads = cfg->connections = cfg->inflight = 1;
    cfg->seed = 1;
    cfg->max_scan = 100;
}

/* Range checks once every option is in. */
static int check(struct bench_cfg *cfg, int ops_given)
{
    if (cfg->value_size < YCSB_MIN_VALUE) {
        fprintf(stderr,
                "cairn-bench: --value-size must be at least %d "
                "(a value carries its key, field, version and "
                "checksum)\n",
                YCSB_MIN_VALUE);
        return -1;
    }
    if (cfg->fields < 1 || cfg->fields > 64 || cfg->records < 1 ||
        cfg->threads < 1 || cfg->connections < 1 || cfg->inflight < 1) {
        fprintf(stderr, "cairn-bench: --fields 1..64; --records, "
                        "--threads, --connections, --inflight at least 1\n");
        return -1;
    }
    if (ops_given && cfg->duration_s > 0) {
        fprintf(stderr, "cairn-bench: give --operations or --duration, "
                        "not both\n");
        return -1;
    }
    if (!ops_given && cfg->duration_s == 0)
        cfg->operations = 10000;
    return 0;
}

static int parse(int argc, char **argv, struct bench_cfg *cfg)
{
    const char *workload = "a";
    int o, ops_given = 0, dist_given = 0;

    defaults(cfg);
    if (argc < 2 || (strcmp(argv[1], "load") && strcmp(argv[1], "run"))) {
        fputs(usage, stderr);
        return -1;
    }
    cfg->cmd = argv[1];
    optind = 2;
    while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (o == O_HELP) {
            fputs(usage, stdout);
            exit(0);
        }
        if (o == '?' ||
            apply(cfg, o, optarg, &ops_given, &workload, &dist_given) != 0) {
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cairn-bench: unexpected '%s'\n", argv[optind]);
        return -1;
    }
    if (set_workload(cfg, workload, dist_given) != 0)
        return -1;
    return check(cfg, ops_given);
}

static int await_schema(const struct bench_cfg *cfg);

/* Create the keyspace and table when missing. */
static int ensure_schema(const struct bench_cfg *cfg, cairn_client_t *c)
{
    uint32_t rf = cfg->rf ? cfg->rf : 1;
    int rc = cairn_create_keyspace(c, NULL, cfg->keyspace, rf, 1);

    /* The keyspace reaches the other nodes by gossip; the table may be
     * created through one that does not know it yet. */
    for (int i = 0; rc == 0 && i < 150; i++) {
        struct timespec pause = {0, 200000000};
        rc = cairn_create_table(c, NULL, cfg->keyspace, cfg->table, NULL, 1);
        if (rc != CAIRN_ERR_NO_KEYSPACE)
            break;
        nanosleep(&pause, NULL);
        rc = 0;
    }
    if (rc != 0) {
        fprintf(stderr, "cairn-bench: cannot create %s.%s: %s (%s)\n",
                cfg->keyspace, cfg->table, cairn_strerror(rc),
                cairn_last_error());
        return rc;
    }
    return await_schema(cfg);
}

/* Read a row of the table through one node at the run's level; 0 once
 * that works. */
static int probe_host(const struct bench_cfg *cfg, const char *host)
{
    cairn_req_opts_t ro = {cfg->cl, 0};
    cairn_options_t o;
    cairn_client_t *c;
    cairn_result_t *r = NULL;
    int rc;

    cairn_options_init(&o);
    o.contact_points = host;
    o.connections_per_host = 1;
    if ((rc = cairn_client_new(&o, &c)) != 0)
        return rc;
    rc = cairn_get_row(c, &ro, cfg->keyspace, cfg->table,
                       cairn_str("cairn-bench-schema-probe"),
                       (cairn_bytes_t){0}, &r);
    cairn_result_free(r);
    cairn_client_free(c);
    return rc;
}

/*
 * A new keyspace and table reach the other nodes by gossip a moment
 * later; until every replica knows them, requests fail with NO_KEYSPACE
 * or NO_TABLE. Read through every contact point until each works (30 s).
 */
static int await_schema(const struct bench_cfg *cfg)
{
    struct timespec pause = {0, 200000000};
    char hosts[1024], *save = NULL;
    int rc = 0, tries = 0;

    snprintf(hosts, sizeof(hosts), "%s", cfg->hosts);
    for (char *h = strtok_r(hosts, ",", &save); h;) {
        if ((rc = probe_host(cfg, h)) == 0) {
            h = strtok_r(NULL, ",", &save);
            continue;
        }
        if (++tries == 150) {
            fprintf(stderr,
                    "cairn-bench: %s.%s not usable through %s at %s after "
                    "30 s: %s (%s)\n",
                    cfg->keyspace, cfg->table, h,
                    cairn_consistency_name(cfg->cl), cairn_strerror(rc),
                    cairn_last_error());
            return rc;
        }
        nanosleep(&pause, NULL);
    }
    return 0;
}

static int connect(const struct bench_cfg *cfg, cairn_client_t **c)
{
    cairn_options_t o;
    int rc;

    cairn_options_init(&o);
    o.contact_points = cfg->hosts;
    o.connections_per_host = cfg->connections;
    o.max_in_flight = cfg->inflight;
    rc = cairn_client_new(&o, c);
    if (rc != 0)
        fprintf(stderr, "cairn-bench: cannot reach %s: %s (%s)\n", cfg->hosts,
                cairn_strerror(rc), cairn_last_error());
    return rc;
}

int main(int argc, char **argv)
{
    struct bench_cfg cfg;
    struct bench_result res, vres;
    enum bench_phase phase;
    cairn_client_t *c;
    uint64_t failed;
    int do_phase;

    if (parse(argc, argv, &cfg) != 0)
        return 2;
    if (connect(&cfg, &c) != 0)
        return 3;
    phase = strcmp(cfg.cmd, "load") == 0 ? PHASE_LOAD : PHASE_RUN;
    if ((phase == PHASE_LOAD || cfg.rf) && ensure_schema(&cfg, c) != 0) {
        cairn_client_free(c);
        return 1;
    }
    /* "run --operations 0 --verify" only verifies. */
    do_phase = phase == PHASE_LOAD || cfg.operations || cfg.duration_s > 0;
    memset(&res, 0, sizeof(res));
    if (do_phase)
        bench_drive(&cfg, c, phase, &res);
    if (cfg.verify)
        bench_drive(&cfg, c, PHASE_VERIFY, &vres);
    cairn_client_free(c);

    if (!do_phase)
        bench_stats_init(&res.total);
    if (bench_report(&cfg, phase, &res, cfg.verify ? &vres : NULL, cfg.json) !=
        0)
        fprintf(stderr, "cairn-bench: cannot write %s\n", cfg.json);
    mem_free(res.key_counts);
    failed = bench_errors(&res.total) + res.total.warm_errors;
    if (cfg.verify)
        failed += bench_errors(&vres.total);
    if (failed)
        fprintf(stderr, "cairn-bench: %" PRIu64 " failures\n", failed);
    return failed ? 1 : 0;
}
