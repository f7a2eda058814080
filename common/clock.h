/*
 * clock.h -- clocks behind an interface.
 *
 * Code that needs the time takes a `struct clk *` rather than calling
 * clock_gettime(), so tests and the simulator can run it on a fake clock
 * they advance themselves. Two readings are offered: wall time in
 * microseconds since the Unix epoch (write timestamps, TTL expiry) and a
 * monotonic time in nanoseconds (timeouts, latencies, failure detection).
 */
#ifndef CAIRN_COMMON_CLOCK_H
#define CAIRN_COMMON_CLOCK_H

#include <stdint.h>

struct clk {
    int64_t (*wall_us)(struct clk *c); /* µs since 1970-01-01 UTC */
    int64_t (*mono_ns)(struct clk *c); /* ns since an arbitrary origin */
};

/* clk_system -- the process-wide real clock; never freed, thread-safe. */
struct clk *clk_system(void);

static inline int64_t clk_wall_us(struct clk *c)
{
    return c->wall_us(c);
}

static inline int64_t clk_mono_ns(struct clk *c)
{
    return c->mono_ns(c);
}

/*
 * A fake clock: both readings move only when the test says so. Not
 * thread-safe; a test that shares one across threads guards it itself.
 */
struct clk_fake {
    struct clk base; /* first, so a clk_fake * is a clk * */
    int64_t wall;    /* µs */
    int64_t mono;    /* ns */
};

/* clk_fake_init -- start a fake clock at the given readings. */
void clk_fake_init(struct clk_fake *f, int64_t wall_us, int64_t mono_ns);

/* clk_fake_advance -- move both readings forward by `ns` nanoseconds. */
void clk_fake_advance(struct clk_fake *f, int64_t ns);

/* clk_fake_set_wall -- set wall time alone (skew, jumps backwards). */
void clk_fake_set_wall(struct clk_fake *f, int64_t wall_us);

#endif /* CAIRN_COMMON_CLOCK_H */
