/*
 * test_common.c -- unit tests of common/: errors, logging, clocks, coding,
 * buffers, the allocation wrapper, the histogram and the partitioner.
 * Expected values come from the formats' definitions (LEB128, zigzag as
 * protobuf defines it, big-endian byte order, the XXH3 reference vector)
 * and, for the histogram, from sorted samples computed here independently.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/hist.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/token.h"

/* ---- err ---- */

static void *err_other_thread(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)(err_msg()[0] == '\0' && err_code() == 0);
}

static void test_err_records_detail(void **state)
{
    pthread_t t;
    void *clean;

    (void)state;
    err_clear();
    assert_int_equal(err_set(CAIRN_ECORRUPT, "bad block %d in %s", 7, "f"),
                     CAIRN_ECORRUPT);
    assert_string_equal(err_msg(), "bad block 7 in f");
    assert_int_equal(err_code(), CAIRN_ECORRUPT);

    /* The detail is per thread: another thread sees none. */
    assert_int_equal(pthread_create(&t, NULL, err_other_thread, NULL), 0);
    pthread_join(t, &clean);
    assert_true((uintptr_t)clean);

    err_clear();
    assert_string_equal(err_msg(), "");
}

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(err_name(CAIRN_ETIMEOUT), "timeout");
    assert_string_equal(err_name(CAIRN_ECORRUPT), "corrupt");
    assert_string_equal(err_name(-EINVAL), "invalid_argument");
    assert_string_equal(err_name(-ENOSPC), "no_space");
    assert_string_equal(err_name(-123456), "error");
}

/* ---- log ---- */

/* log_capture -- run `fn` with log output going to a pipe; return text. */
static char *log_capture(void (*fn)(void))
{
    static char out[8192];
    int fds[2];
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    fn();
    log_set_fd(2);
    close(fds[1]);
    n = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void log_some(void)
{
    log_info("storage", "flushed memtable table=%d rows=%d", 7, 812);
    log_debug("storage", "dropped at info level");
    log_error("server", "quote \" and backslash \\ here");
}

static void test_log_text(void **state)
{
    (void)state;
    log_set_level(LOGL_INFO);
    log_set_format(LOG_FMT_TEXT);
    char *s = log_capture(log_some);
    assert_non_null(strstr(s, "INFO  storage: flushed memtable table=7 "
                              "rows=812\n"));
    assert_null(strstr(s, "dropped at info level"));
    assert_non_null(strstr(s, "ERROR server: quote"));
    /* The time comes first, in RFC 3339 UTC with milliseconds. */
    assert_true(s[4] == '-' && s[10] == 'T' && s[23] == 'Z');
}

static void test_log_json_and_levels(void **state)
{
    enum log_level lv;

    (void)state;
    log_set_format(LOG_FMT_JSON);
    log_set_level(LOGL_DEBUG);
    char *s = log_capture(log_some);
    log_set_format(LOG_FMT_TEXT);
    log_set_level(LOGL_INFO);
    assert_non_null(strstr(s, "\"level\":\"INFO\",\"node\":\"\","
                              "\"module\":\"storage\""));
    assert_non_null(strstr(s, "dropped at info level"));
    assert_non_null(strstr(s, "quote \\\" and backslash \\\\ here"));

    assert_int_equal(log_level_parse("warn", &lv), 0);
    assert_int_equal(lv, LOGL_WARN);
    assert_int_equal(log_level_parse("DEBUG", &lv), 0);
    assert_int_equal(lv, LOGL_DEBUG);
    assert_int_equal(log_level_parse("loud", &lv), -EINVAL);
}

/* ---- clock ---- */

static void test_clock_fake_and_system(void **state)
{
    struct clk_fake f;
    struct clk *sys = clk_system();

    (void)state;
    clk_fake_init(&f, 1000000, 5);
    clk_fake_advance(&f, 2500000000LL);
    assert_int_equal(clk_wall_us(&f.base), 1000000 + 2500000);
    assert_int_equal(clk_mono_ns(&f.base), 5 + 2500000000LL);
    clk_fake_set_wall(&f, 42);
    assert_int_equal(clk_wall_us(&f.base), 42);

    int64_t now = (int64_t)time(NULL) * 1000000;
    int64_t w = clk_wall_us(sys);
    assert_true(w > now - 5000000 && w < now + 5000000);
    int64_t a = clk_mono_ns(sys), b = clk_mono_ns(sys);
    assert_true(b >= a);
}

/* ---- coding ---- */

static void test_coding_fixed(void **state)
{
    uint8_t b[8];

    (void)state;
    enc_u32be(b, 0x01020304u);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4);
    assert_int_equal(dec_u32be(b), 0x01020304u);
    enc_u64be(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(dec_u64be(b) == 0x0102030405060708ull);
    enc_u16be(b, 0xbeef);
    assert_int_equal(dec_u16be(b), 0xbeef);
}

static void test_coding_varint(void **state)
{
    uint8_t b[VARINT_MAX];
    uint64_t v;
    const uint64_t cases[] = {0,         1,          127,
                              128,       300,        16383,
                              16384,     UINT32_MAX, (uint64_t)1 << 63,
                              UINT64_MAX};

    (void)state;
    /* LEB128 of 300 is AC 02 (the protobuf encoding guide's example). */
    assert_int_equal(varint_put(b, 300), 2);
    assert_memory_equal(b, "\xac\x02", 2);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = varint_put(b, cases[i]);
        assert_int_equal(n, varint_len(cases[i]));
        assert_int_equal(varint_get(b, b + n, &v), n);
        assert_true(v == cases[i]);
        /* Any truncation is refused. */
        assert_int_equal(varint_get(b, b + n - 1, &v), 0);
    }
    assert_int_equal(varint_len(UINT64_MAX), 10);

    /* Eleven continuation bytes, or a tenth byte above 1, overflow. */
    memset(b, 0xff, sizeof(b));
    assert_int_equal(varint_get(b, b + sizeof(b), &v), 0);
    memset(b, 0x80, 9);
    b[9] = 0x02;
    assert_int_equal(varint_get(b, b + 10, &v), 0);

    /* Zigzag as protobuf's sint64: 0->0, -1->1, 1->2, -2->3. */
    assert_true(zigzag_enc(0) == 0 && zigzag_enc(-1) == 1);
    assert_true(zigzag_enc(1) == 2 && zigzag_enc(-2) == 3);
    assert_true(zigzag_dec(zigzag_enc(INT64_MIN)) == INT64_MIN);
    assert_true(zigzag_dec(zigzag_enc(INT64_MAX)) == INT64_MAX);
}

static void test_coding_reader(void **state)
{
    const uint8_t data[] = {0x00, 0x00, 0x01, 0x00, 0x05, 'h', 'e'};
    struct rd r;
    uint32_t u32;
    uint64_t len;
    const uint8_t *p;

    (void)state;
    rd_init(&r, data, sizeof(data));
    assert_int_equal(rd_u32be(&r, &u32), 0);
    assert_int_equal(u32, 256);
    assert_int_equal(rd_varint(&r, &len), 0);
    assert_int_equal(len, 5);
    /* A length pointing past the end is corruption, not a crash. */
    assert_int_equal(rd_bytes(&r, len, &p), CAIRN_ECORRUPT);
    assert_int_equal(rd_bytes(&r, 2, &p), 0);
    assert_memory_equal(p, "he", 2);
    assert_int_equal(rd_left(&r), 0);
    assert_int_equal(rd_u32be(&r, &u32), CAIRN_ECORRUPT);
}

/* ---- buf ---- */

static void test_buf_grows(void **state)
{
    struct buf b;
    int64_t before = mem_used(MEM_TEST);

    (void)state;
    buf_init(&b, MEM_TEST);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_put_u32be(&b, (uint32_t)i), 0);
    assert_int_equal(b.len, 40000);
    assert_true(b.cap >= b.len);
    assert_int_equal(dec_u32be(b.data + 4 * 9999), 9999);
    assert_true(mem_used(MEM_TEST) - before == (int64_t)b.cap);

    buf_reset(&b);
    assert_int_equal(buf_put_lenbytes(&b, "abc", 3), 0);
    assert_memory_equal(b.data,
                        "\x03"
                        "abc",
                        4);
    assert_int_equal(buf_put_varint(&b, 300), 0);
    assert_memory_equal(b.data + 4, "\xac\x02", 2);
    buf_free(&b);
    assert_int_equal(mem_used(MEM_TEST), before);
}

/* ---- mem ---- */

static void test_mem_counts_and_fails(void **state)
{
    int64_t base = mem_used(MEM_TEST);

    (void)state;
    void *a = mem_alloc(MEM_TEST, 100);
    char *s = mem_strdup(MEM_TEST, "cairn");
    assert_non_null(a);
    assert_string_equal(s, "cairn");
    assert_int_equal(mem_used(MEM_TEST) - base, 106);

    a = mem_realloc(MEM_TEST, a, 1000);
    assert_non_null(a);
    assert_int_equal(mem_used(MEM_TEST) - base, 1006);

    /* Injection: two more allocations succeed, then all fail. */
    mem_fail_after(2);
    void *x = mem_alloc(MEM_TEST, 8), *y = mem_calloc(MEM_TEST, 2, 8);
    assert_non_null(x);
    assert_non_null(y);
    assert_null(mem_alloc(MEM_TEST, 8));
    assert_null(mem_realloc(MEM_TEST, a, 5000)); /* `a` stays valid */
    mem_fail_after(-1);
    assert_non_null(a);

    assert_null(mem_calloc(MEM_TEST, SIZE_MAX / 2, 4)); /* overflow */
    mem_free(x);
    mem_free(y);
    mem_free(a);
    mem_free(s);
    mem_free(NULL);
    assert_int_equal(mem_used(MEM_TEST), base);
    assert_string_equal(mem_subsys_name(MEM_MEMTABLE), "memtable");
}

/* ---- hist ---- */

/* A small seeded generator, so the samples are the same on every run. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* nearest_rank -- percentile p of sorted `v` by the nearest-rank rule. */
static uint64_t nearest_rank(const uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)((p / 100.0) * (double)n);

    if ((double)rank < (p / 100.0) * (double)n)
        rank++;
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

static void test_hist_percentiles(void **state)
{
    const size_t n = 200000;
    const double ps[] = {50, 75, 90, 99, 99.9, 99.99, 100};
    uint64_t *v = malloc(n * sizeof(*v)), seed = 0x9e3779b97f4a7c15ull;
    struct hist *h = malloc(sizeof(*h));

    (void)state;
    hist_init(h);
    for (size_t i = 0; i < n; i++) {
        /* Latency-like: mostly small, a long tail over six decades. */
        uint64_t r = rng_next(&seed);
        v[i] = (r % 1000) << (r >> 60) % 20;
        hist_record(h, v[i]);
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        double want = (double)nearest_rank(v, n, ps[i]);
        double got = (double)hist_percentile(h, ps[i]);
        double err = want == 0 ? got : (got - want) / want;
        if (err < 0)
            err = -err;
        print_message("p%g want %.0f got %.0f rel err %.5f\n", ps[i], want, got,
                      err);
        assert_true(err <= 0.01);
    }
    assert_true(hist_percentile(h, 100) == v[n - 1]);
    assert_true(h->min == v[0]);
    assert_int_equal(h->count, n);
    free(v);
    free(h);
}

static void test_hist_merge_and_buckets(void **state)
{
    struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    struct hist *all = malloc(sizeof(*all));

    (void)state;
    hist_init(a);
    hist_init(b);
    hist_init(all);
    assert_int_equal(hist_percentile(a, 50), 0);
    for (uint64_t i = 1; i <= 1000; i++) {
        hist_record(i % 2 ? a : b, i * 37);
        hist_record(all, i * 37);
    }
    hist_merge(a, b);
    assert_memory_equal(a, all, sizeof(*a));
    /* Values below 128 are exact. */
    hist_init(a);
    for (uint64_t i = 0; i < 100; i++)
        hist_record(a, i);
    assert_int_equal(hist_percentile(a, 50), 49);
    assert_int_equal(hist_mean(a), 49.5);

    /* Buckets tile the whole range without gaps or overlaps. */
    assert_int_equal(hist_bucket_low(0), 0);
    for (unsigned i = 0; i + 1 < HIST_NBUCKETS; i++)
        assert_true(hist_bucket_low(i + 1) == hist_bucket_high(i) + 1);
    assert_true(hist_bucket_high(HIST_NBUCKETS - 1) == UINT64_MAX);
    assert_int_equal(hist_bucket_of(UINT64_MAX), HIST_NBUCKETS - 1);
    free(a);
    free(b);
    free(all);
}

/* ---- token ---- */

static void test_token_reference(void **state)
{
    (void)state;
    /* XXH3_64bits of the empty input, seed 0, from the xxHash spec. */
    assert_true(token_of("", 0) == (int64_t)0x2D06800538D394C2ull);
    assert_true(token_of("cairn", 5) == token_of("cairn", 5));
    assert_true(token_of("cairn", 5) != token_of("cairm", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_records_detail),
        cmocka_unit_test(test_err_names),
        cmocka_unit_test(test_log_text),
        cmocka_unit_test(test_log_json_and_levels),
        cmocka_unit_test(test_clock_fake_and_system),
        cmocka_unit_test(test_coding_fixed),
        cmocka_unit_test(test_coding_varint),
        cmocka_unit_test(test_coding_reader),
        cmocka_unit_test(test_buf_grows),
        cmocka_unit_test(test_mem_counts_and_fails),
        cmocka_unit_test(test_hist_percentiles),
        cmocka_unit_test(test_hist_merge_and_buckets),
        cmocka_unit_test(test_token_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
