/*
 * test_model.c -- a seeded random walk of writes, deletes of every scope,
 * TTLs on a fake clock, flushes, compactions and reopenings, checked
 * after every step against a plain in-memory model of the data model's
 * rules (written here independently of the engine). Fixed seeds in CI;
 * CAIRN_LONG_TESTS=1 runs many more and longer. A failure prints the seed
 * and step.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/err.h"
#include "teng.h"
#include "tutil.h"

#define NP 6 /* partitions */
#define NC 6 /* clustering keys */
#define NL 3 /* columns */
#define NR 64

struct mcell {
    int has, tomb;
    int64_t ts, exp, del_s;
    char val[32];
};

struct mrange {
    int lo, hi; /* hi -1: open */
    int64_t ts;
};

struct model {
    struct mcell c[NP][NC][NL];
    int64_t ptomb[NP];
    int64_t rtomb[NP][NC];
    struct mrange r[NP][NR];
    int nr[NP];
};

/* The conflict rule, as ARCHITECTURE.md states it. */
static int wins(const struct mcell *a, const struct mcell *b)
{
    int c;

    if (!b->has)
        return 1;
    if (a->ts != b->ts)
        return a->ts > b->ts;
    if (a->tomb != b->tomb)
        return a->tomb;
    if (a->tomb)
        return a->del_s > b->del_s;
    c = strcmp(a->val, b->val);
    if (c != 0)
        return c > 0;
    if (a->exp == 0 || b->exp == 0)
        return a->exp == 0 && b->exp != 0;
    return a->exp > b->exp;
}

static int64_t shadow(const struct model *m, int p, int ck)
{
    int64_t s = m->ptomb[p];

    if (m->rtomb[p][ck] > s)
        s = m->rtomb[p][ck];
    for (int i = 0; i < m->nr[p]; i++)
        if (ck >= m->r[p][i].lo && (m->r[p][i].hi < 0 || ck <= m->r[p][i].hi) &&
            m->r[p][i].ts > s)
            s = m->r[p][i].ts;
    return s;
}

/* expect_text -- the live rows of partition p as text. */
static void expect_text(const struct model *m, int p, int64_t now_s, char *out,
                        size_t n)
{
    size_t len = 0;

    out[0] = 0;
    for (int ck = 0; ck < NC; ck++) {
        int64_t sh = shadow(m, p, ck);
        int row = 0;
        for (int l = 0; l < NL; l++) {
            const struct mcell *c = &m->c[p][ck][l];
            if (!c->has || c->tomb || (c->exp && now_s >= c->exp) ||
                c->ts <= sh)
                continue;
            if (!row)
                len += snprintf(out + len, n - len, "[c%d", ck);
            row = 1;
            len += snprintf(out + len, n - len, " l%d=%s", l, c->val);
        }
        if (row)
            len += snprintf(out + len, n - len, "]");
    }
}

/* engine_text -- what the engine shows for partition p, read in pages of
 * `limit` rows (0: one read). */
static int engine_text(struct storage *s, int p, uint32_t limit, char *out,
                       size_t n)
{
    char pk[8], after[16];
    struct storage_read r = {.table_id = 1, .limit_rows = limit};
    struct storage_result *res;
    size_t len = 0;
    int rc;

    snprintf(pk, sizeof(pk), "p%d", p);
    r.pkey = B(pk);
    out[0] = 0;
    for (;;) {
        rc = storage_read_partition(s, &r, &res);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < (res->nparts ? res->parts[0].nrows : 0); i++) {
            struct storage_row *row = &res->parts[0].rows[i];
            len += snprintf(out + len, n - len, "[%.*s", (int)row->ck.n,
                            (const char *)row->ck.p);
            for (size_t c = 0; c < row->ncells; c++)
                len += snprintf(out + len, n - len, " %.*s=%.*s",
                                (int)row->cells[c].column.n,
                                (const char *)row->cells[c].column.p,
                                (int)row->cells[c].value.n,
                                (const char *)row->cells[c].value.p);
            len += snprintf(out + len, n - len, "]");
        }
        if (!res->more) {
            storage_result_free(res);
            return 0;
        }
        memcpy(after, res->resume_ck.p, res->resume_ck.n);
        r.after = (struct storage_bytes){(uint8_t *)after, res->resume_ck.n};
        r.has_after = 1;
        storage_result_free(res);
    }
}

struct walk {
    uint64_t seed, rnd;
    int step;
    struct model m;
    struct storage_options o;
    struct clk_fake clk;
    struct storage *s;
    int64_t ts_base;
};

static int64_t now_s(struct walk *w)
{
    return w->clk.wall / 1000000;
}

static uint32_t rnd(struct walk *w, uint32_t n)
{
    return (uint32_t)(tu_rand(&w->rnd) % n);
}

/* A timestamp near the step's: writes arrive a little out of order. */
static int64_t next_ts(struct walk *w)
{
    return w->ts_base + w->step * 10 + rnd(w, 30);
}

static void model_cell(struct walk *w, int p, int ck, int l,
                       const struct mcell *c)
{
    if (wins(c, &w->m.c[p][ck][l]))
        w->m.c[p][ck][l] = *c;
}

/* one_mut -- a random mutation for partition p, applied to the model. */
static void one_mut(struct walk *w, int p, struct storage_mut *mu,
                    char (*bufs)[32])
{
    int ck = rnd(w, NC), l = rnd(w, NL), kind = rnd(w, 100);
    struct mcell c = {1, 0, next_ts(w), 0, 0, ""};

    memset(mu, 0, sizeof(*mu));
    snprintf(bufs[0], 32, "c%d", ck);
    snprintf(bufs[1], 32, "l%d", l);
    mu->ck = B(bufs[0]);
    mu->column = B(bufs[1]);
    mu->ts = c.ts;
    if (kind < 60) {
        snprintf(c.val, sizeof(c.val), "v%d-%u", w->step, rnd(w, 1000));
        snprintf(bufs[2], 32, "%s", c.val);
        mu->kind = STORAGE_MUT_CELL;
        mu->value = B(bufs[2]);
        if (rnd(w, 5) == 0) {
            mu->ttl_s = 1 + rnd(w, 8);
            c.exp = now_s(w) + mu->ttl_s;
        }
        model_cell(w, p, ck, l, &c);
    } else if (kind < 75) {
        mu->kind = STORAGE_MUT_CELL_DELETE;
        c.tomb = 1;
        c.del_s = now_s(w);
        model_cell(w, p, ck, l, &c);
    } else if (kind < 87) {
        mu->kind = STORAGE_MUT_ROW_DELETE;
        if (c.ts > w->m.rtomb[p][ck])
            w->m.rtomb[p][ck] = c.ts;
    } else if (kind < 96 && w->m.nr[p] < NR) {
        int hi = ck + (int)rnd(w, NC - ck);
        mu->kind = STORAGE_MUT_RANGE_DELETE;
        if (rnd(w, 4) == 0)
            hi = -1;
        else
            snprintf(bufs[3], 32, "c%d", hi);
        mu->ck_end = hi < 0 ? B("") : B(bufs[3]);
        w->m.r[p][w->m.nr[p]++] = (struct mrange){ck, hi, c.ts};
    } else {
        mu->kind = STORAGE_MUT_PARTITION_DELETE;
        mu->ck = B("");
        if (c.ts > w->m.ptomb[p])
            w->m.ptomb[p] = c.ts;
    }
}

static void do_write(struct walk *w)
{
    struct storage_mut mu[3];
    char bufs[3][4][32], pk[8];
    int p = rnd(w, NP), n = 1 + rnd(w, 3), rc;
    struct storage_batch b = {1, {0}, mu, (size_t)n};

    snprintf(pk, sizeof(pk), "p%d", p);
    b.pkey = B(pk);
    for (int i = 0; i < n; i++)
        one_mut(w, p, &mu[i], bufs[i]);
    rc = storage_apply_sync(w->s, &b);
    if (rc != 0)
        fail_msg("seed %" PRIu64 " step %d: apply: %s", w->seed, w->step,
                 err_msg());
}

static void check_all(struct walk *w)
{
    char want[4096], got[4096];

    for (int p = 0; p < NP; p++) {
        uint32_t limit = rnd(w, 3) == 0 ? 1 + rnd(w, 3) : 0;
        expect_text(&w->m, p, now_s(w), want, sizeof(want));
        if (engine_text(w->s, p, limit, got, sizeof(got)) != 0)
            fail_msg("seed %" PRIu64 " step %d: read: %s", w->seed, w->step,
                     err_msg());
        if (strcmp(want, got) != 0)
            fail_msg("seed %" PRIu64 " step %d partition p%d limit %u:\n"
                     "  model:  %s\n  engine: %s",
                     w->seed, w->step, p, limit, want, got);
    }
}

static void step(struct walk *w)
{
    uint32_t k = rnd(w, 100);

    if (k < 80)
        do_write(w);
    else if (k < 88)
        assert_int_equal(storage_flush(w->s, 1), 0);
    else if (k < 93)
        assert_int_equal(storage_compact(w->s, 1), 0);
    else if (k < 96) {
        storage_close(w->s);
        w->s = NULL;
        assert_int_equal(storage_open(&w->o, &w->s), 0);
    } else
        clk_fake_advance(&w->clk, (int64_t)rnd(w, 4) * 1000000000);
    /* Time moves about a second a step, so purges happen. */
    clk_fake_advance(&w->clk, (int64_t)rnd(w, 2) * 1000000000);
    check_all(w);
}

static void run_seed(uint64_t seed, int steps)
{
    struct walk *w = calloc(1, sizeof(*w));
    char *dir = tu_mkdtemp();
    struct storage_table_options to = {5, 0, (int)(seed & 1)};

    w->seed = w->rnd = seed;
    w->ts_base = 1000;
    te_opts(&w->o, dir);
    w->o.memtable_bytes = 64 << 10; /* background flushes too */
    clk_fake_init(&w->clk, 1700000000LL * 1000000, 0);
    w->o.clock = &w->clk.base;
    assert_int_equal(storage_open(&w->o, &w->s), 0);
    assert_int_equal(storage_create_table(w->s, 1, &to), 0);
    for (w->step = 0; w->step < steps; w->step++)
        step(w);
    storage_close(w->s);
    tu_rmtree(dir);
    free(w);
}

static void test_model_fixed_seeds(void **state)
{
    (void)state;
    run_seed(1, 400);
    run_seed(2, 400);
    run_seed(0xC0FFEE, 400);
}

static void test_model_long(void **state)
{
    (void)state;
    if (!tu_long())
        skip();
    for (uint64_t seed = 100; seed < 140; seed++)
        run_seed(seed, 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_fixed_seeds),
        cmocka_unit_test(test_model_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
