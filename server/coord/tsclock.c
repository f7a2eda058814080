/*
 * tsclock.c -- hybrid timestamp source (see tsclock.h for the promise).
 */
#include "server/coord/tsclock.h"

#include "common/err.h"

void coord_tsclock_init(struct coord_tsclock *c, int64_t max_future_us)
{
    c->last = 0;
    c->max_future_us = max_future_us;
    c->behind = 0;
    c->refused = 0;
}

int64_t coord_tsclock_next(struct coord_tsclock *c, int64_t wall_us)
{
    if (wall_us > c->last) {
        c->last = wall_us;
    } else {
        c->last++;
        c->behind++;
    }
    return c->last;
}

static int too_far(const struct coord_tsclock *c, int64_t ts, int64_t wall_us)
{
    /* Written as a subtraction so a huge ts cannot overflow the sum. */
    return ts > wall_us && ts - wall_us > c->max_future_us;
}

int coord_tsclock_check(struct coord_tsclock *c, int64_t ts, int64_t wall_us)
{
    if (ts <= 0)
        return err_set(-EINVAL, "write timestamp %lld not positive",
                       (long long)ts);
    if (too_far(c, ts, wall_us)) {
        c->refused++;
        return err_set(-EINVAL,
                       "write timestamp %lld is %lld us ahead of the "
                       "coordinator clock (limit %lld us)",
                       (long long)ts, (long long)(ts - wall_us),
                       (long long)c->max_future_us);
    }
    coord_tsclock_observe(c, ts, wall_us);
    return 0;
}

int coord_tsclock_observe(struct coord_tsclock *c, int64_t ts, int64_t wall_us)
{
    if (too_far(c, ts, wall_us)) {
        c->refused++;
        return 0;
    }
    if (ts <= c->last)
        return 0;
    c->last = ts;
    return 1;
}
