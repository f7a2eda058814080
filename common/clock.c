/*
 * clock.c -- the real clock and the fake one (see clock.h).
 */
#include "clock.h"

#include <time.h>

static int64_t clk_sys_wall(struct clk *c)
{
    struct timespec ts;

    (void)c;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t clk_sys_mono(struct clk *c)
{
    struct timespec ts;

    (void)c;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct clk clk_sys = {clk_sys_wall, clk_sys_mono};

struct clk *clk_system(void)
{
    return &clk_sys;
}

static int64_t clk_fake_wall(struct clk *c)
{
    return ((struct clk_fake *)c)->wall;
}

static int64_t clk_fake_mono(struct clk *c)
{
    return ((struct clk_fake *)c)->mono;
}

void clk_fake_init(struct clk_fake *f, int64_t wall_us, int64_t mono_ns)
{
    f->base.wall_us = clk_fake_wall;
    f->base.mono_ns = clk_fake_mono;
    f->wall = wall_us;
    f->mono = mono_ns;
}

void clk_fake_advance(struct clk_fake *f, int64_t ns)
{
    f->mono += ns;
    f->wall += ns / 1000;
}

void clk_fake_set_wall(struct clk_fake *f, int64_t wall_us)
{
    f->wall = wall_us;
}
