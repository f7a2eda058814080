/*
 * report.c -- cairn-bench's summary: a table on stdout and, with --json,
 * the same figures as one JSON object.
 *
 * Latencies are microseconds from each operation's intended start (open
 * loop) or its send (closed loop); the summary says which, so a
 * closed-loop figure is never read as latency at a given rate. Warm-up
 * operations are summed apart and never mixed into the table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/ycsb/bench.h"
#include "bench/ycsb/gen.h"
#include "common/mem.h"

/*
 * per_sec -- a rate that stays a number when nothing ran (a verify-only
 * run has no elapsed run time), so the JSON never holds NaN.
 */
static double per_sec(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0.0;
}

static const double pcts[] = {50, 90, 99, 99.9, 99.99};

static const char *dist_name(enum bench_dist d)
{
    return d == DIST_UNIFORM  ? "uniform"
           : d == DIST_LATEST ? "latest"
                              : "zipfian";
}

static uint64_t op_count(const struct bench_stats *s)
{
    uint64_t n = 0;

    for (int i = 0; i < OP_COUNT; i++)
        n += s->op[i].count;
    return n;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* Share of choices that fell on the hottest 1% of records; sorts counts. */
static void hot_share(const struct bench_cfg *cfg, uint64_t *counts,
                      double *expected, double *observed)
{
    uint64_t k = cfg->records / 100 ? cfg->records / 100 : 1;
    uint64_t total = 0, top = 0;
    struct ycsb_zipf z;

    for (uint64_t i = 0; i < cfg->records; i++)
        total += counts[i];
    qsort(counts, cfg->records, sizeof(*counts), cmp_desc);
    for (uint64_t i = 0; i < k; i++)
        top += counts[i];
    *observed = total ? (double)top / (double)total : 0;
    if (cfg->dist == DIST_UNIFORM) {
        *expected = (double)k / (double)cfg->records;
        return;
    }
    ycsb_zipf_init(&z, cfg->records, YCSB_ZIPF_THETA);
    *expected = ycsb_zipf_hot_share(&z, k);
}

static void print_mode(const struct bench_cfg *cfg, enum bench_phase phase,
                       const struct bench_result *res)
{
    const struct bench_stats *s = &res->total;
    uint64_t n = op_count(s) + s->warm.count + bench_errors(s) + s->warm_errors;

    if (phase == PHASE_RUN)
        printf("== run: workload %s, %s distribution, consistency %s\n",
               cfg->workload, dist_name(cfg->dist),
               cairn_consistency_name(cfg->cl));
    else
        printf("== load: %" PRIu64 " records of %u fields x %u bytes, "
               "consistency %s\n",
               cfg->records, cfg->fields, cfg->value_size,
               cairn_consistency_name(cfg->cl));
    if (phase == PHASE_RUN && cfg->rate > 0)
        printf("open loop: target %.0f ops/s, achieved %.1f ops/s; %" PRIu64
               " of %" PRIu64 " operations started late (> 1 ms after "
               "due); latency measured from the intended start\n",
               cfg->rate, (double)n / (res->elapsed_s + res->warm_s), s->late,
               s->intended);
    else
        printf("closed loop: %u slots (connections x in-flight), latency "
               "from each send; no claim about latency at a given rate\n",
               cfg->connections * cfg->inflight);
    if (s->warm.count)
        printf("warm-up (excluded below): %.1f s, %" PRIu64
               " ops, %.0f ops/s, p50 %.3f ms, p99 %.3f ms, max %.3f ms, "
               "errors %" PRIu64 "\n",
               res->warm_s, s->warm.count, (double)s->warm.count / res->warm_s,
               hist_percentile(&s->warm, 50) / 1e3,
               hist_percentile(&s->warm, 99) / 1e3, s->warm.max / 1e3,
               s->warm_errors);
}

static void print_table(const struct bench_result *res)
{
    const struct bench_stats *s = &res->total;

    printf("%-18s %10s %10s %8s %8s %8s %8s %8s %8s  (ms)\n", "ok operation",
           "count", "ops/s", "p50", "p90", "p99", "p99.9", "p99.99", "max");
    for (int i = 0; i < OP_COUNT; i++) {
        const struct hist *h = &s->op[i];
        uint64_t e = 0;
        for (int k = 0; k < KIND_COUNT; k++)
            e += s->errors[i][k];
        if (h->count == 0 && e == 0)
            continue;
        printf("%-18s %10" PRIu64 " %10.1f", bench_op_name(i), h->count,
               per_sec(h->count, res->elapsed_s));
        for (size_t p = 0; p < sizeof(pcts) / sizeof(pcts[0]); p++)
            printf(" %8.3f", hist_percentile(h, pcts[p]) / 1e3);
        printf(" %8.3f\n", h->max / 1e3);
        for (int k = 0; k < KIND_COUNT; k++)
            if (s->errors[i][k])
                printf("  errors %-11s %" PRIu64 "\n", bench_kind_name(k),
                       s->errors[i][k]);
    }
    printf("%-18s %10" PRIu64 " %10.1f   errors %" PRIu64 "\n", "total",
           op_count(s), per_sec(op_count(s), res->elapsed_s), bench_errors(s));
}

static void json_hist(FILE *f, const struct hist *h, double secs)
{
    fprintf(
        f,
        "\"count\":%" PRIu64 ",\"ops_per_sec\":%.3f,\"p50_us\":%" PRIu64
        ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
        ",\"p9999_us\":%" PRIu64 ",\"max_us\":%" PRIu64,
        h->count, secs > 0 ? (double)h->count / secs : 0,
        hist_percentile(h, 50), hist_percentile(h, 90), hist_percentile(h, 99),
        hist_percentile(h, 99.9), hist_percentile(h, 99.99), h->max);
}

static void json_errors(FILE *f, const struct bench_stats *s)
{
    const char *sep = "";

    fputc('{', f);
    for (int k = 0; k < KIND_COUNT; k++) {
        uint64_t n = 0;
        for (int i = 0; i < OP_COUNT; i++)
            n += s->errors[i][k];
        fprintf(f, "%s\"%s\":%" PRIu64, sep, bench_kind_name(k), n);
        sep = ",";
    }
    fputc('}', f);
}

static void json_body(FILE *f, const struct bench_cfg *cfg,
                      enum bench_phase phase, const struct bench_result *res)
{
    const struct bench_stats *s = &res->total;
    const char *sep = "";

    fprintf(f,
            "\"phase\":\"%s\",\"workload\":\"%s\",\"distribution\":\"%s\","
            "\"consistency\":\"%s\",\"loop\":\"%s\",\"target_rate\":%.1f,"
            "\"late\":%" PRIu64 ",\"elapsed_s\":%.3f,\"ops_per_sec\":%.3f,",
            phase == PHASE_LOAD ? "load" : "run",
            phase == PHASE_LOAD ? "load" : cfg->workload, dist_name(cfg->dist),
            cairn_consistency_name(cfg->cl),
            cfg->rate > 0 && phase == PHASE_RUN ? "open" : "closed", cfg->rate,
            s->late, res->elapsed_s, per_sec(op_count(s), res->elapsed_s));
    fprintf(f, "\"error_count\":%" PRIu64 ",\"errors\":", bench_errors(s));
    json_errors(f, s);
    fputs(",\"operations\":{", f);
    for (int i = 0; i < OP_COUNT; i++) {
        uint64_t e = 0;
        for (int k = 0; k < KIND_COUNT; k++)
            e += s->errors[i][k];
        if (s->op[i].count == 0 && e == 0)
            continue;
        fprintf(f, "%s\"%s\":{", sep, bench_op_name(i));
        json_hist(f, &s->op[i], res->elapsed_s);
        fprintf(f, ",\"errors\":%" PRIu64 "}", e);
        sep = ",";
    }
    fputs("},\"warmup\":{", f);
    fprintf(f, "\"seconds\":%.3f,\"errors\":%" PRIu64 ",", res->warm_s,
            s->warm_errors);
    json_hist(f, &s->warm, res->warm_s);
    fputc('}', f);
}

static int write_json(const char *path, const struct bench_cfg *cfg,
                      enum bench_phase phase, const struct bench_result *res,
                      const struct bench_result *vres, double hot[2])
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -errno;
    fputc('{', f);
    json_body(f, cfg, phase, res);
    if (hot)
        fprintf(f,
                ",\"hot_keys\":{\"share\":0.01,\"expected\":%.4f,"
                "\"observed\":%.4f}",
                hot[0], hot[1]);
    if (vres)
        fprintf(f,
                ",\"verify\":{\"checked\":%" PRIu64 ",\"missing\":%" PRIu64
                ",\"wrong\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
                vres->total.checked, vres->total.missing, vres->total.wrong,
                bench_errors(&vres->total) - vres->total.missing -
                    vres->total.wrong);
    fputs("}\n", f);
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

int bench_report(const struct bench_cfg *cfg, enum bench_phase phase,
                 const struct bench_result *res,
                 const struct bench_result *vres, const char *json)
{
    double hot[2];
    int have_hot = res->key_counts != NULL;

    print_mode(cfg, phase, res);
    print_table(res);
    if (have_hot) {
        hot_share(cfg, res->key_counts, &hot[0], &hot[1]);
        printf("hottest 1%% of records: expected %.2f%% of requests "
               "(%s, theta %.2f), observed %.2f%%\n",
               hot[0] * 100, dist_name(cfg->dist), YCSB_ZIPF_THETA,
               hot[1] * 100);
    }
    if (vres)
        printf("verify at %s: checked %" PRIu64 ", missing %" PRIu64
               ", wrong %" PRIu64 ", read errors %" PRIu64 "\n",
               cairn_consistency_name(cfg->cl), vres->total.checked,
               vres->total.missing, vres->total.wrong,
               bench_errors(&vres->total) - vres->total.missing -
                   vres->total.wrong);
    fflush(stdout);
    return json ? write_json(json, cfg, phase, res, vres, have_hot ? hot : NULL)
                : 0;
}
