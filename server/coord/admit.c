/*
 * admit.c -- bounded in-flight bytes, counts and hints (see admit.h).
 */
#include "server/coord/admit.h"

#include <assert.h>

#include "common/err.h"

void coord_admit_init(struct coord_admit *a, uint64_t max_bytes,
                      uint64_t max_count, uint64_t max_hint_bytes)
{
    *a = (struct coord_admit){.max_bytes = max_bytes,
                              .max_count = max_count,
                              .max_hint_bytes = max_hint_bytes};
}

/* over -- would `held + more` cross `max` (0 meaning no bound)? */
static int over(uint64_t held, uint64_t more, uint64_t max)
{
    return max && (more > max || held > max - more);
}

int coord_admit_request(struct coord_admit *a, uint64_t bytes)
{
    if (over(a->bytes, bytes, a->max_bytes) ||
        over(a->count, 1, a->max_count)) {
        a->refused++;
        return err_set(CAIRN_EOVERLOADED,
                       "coordinator overloaded in_flight=%llu bytes=%llu "
                       "request=%llu",
                       (unsigned long long)a->count,
                       (unsigned long long)a->bytes, (unsigned long long)bytes);
    }
    a->bytes += bytes;
    a->count++;
    if (a->bytes > a->peak_bytes)
        a->peak_bytes = a->bytes;
    return 0;
}

void coord_admit_request_done(struct coord_admit *a, uint64_t bytes)
{
    assert(a->count > 0 && a->bytes >= bytes);
    a->bytes -= bytes;
    a->count--;
}

int coord_admit_hint(struct coord_admit *a, uint64_t bytes)
{
    if (over(a->hint_bytes, bytes, a->max_hint_bytes)) {
        a->refused_hints++;
        return err_set(
            CAIRN_EOVERLOADED, "hint backlog full hint_bytes=%llu hint=%llu",
            (unsigned long long)a->hint_bytes, (unsigned long long)bytes);
    }
    a->hint_bytes += bytes;
    return 0;
}

void coord_admit_hint_done(struct coord_admit *a, uint64_t bytes)
{
    assert(a->hint_bytes >= bytes);
    a->hint_bytes -= bytes;
}
