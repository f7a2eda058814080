/*
 * cl.c -- consistency level arithmetic (see cl.h).
 */
#include "server/coord/cl.h"

#include <strings.h>

#include "common/err.h"

static const char *const cl_names[] = {"ANY",   "ONE",    "TWO",
                                       "THREE", "QUORUM", "ALL"};

const char *coord_cl_name(enum coord_cl cl)
{
    if ((unsigned)cl > COORD_CL_ALL)
        return "?";
    return cl_names[cl];
}

int coord_cl_parse(const char *s, enum coord_cl *out)
{
    for (int i = 0; i <= COORD_CL_ALL; i++) {
        if (strcasecmp(s, cl_names[i]) == 0) {
            *out = (enum coord_cl)i;
            return 0;
        }
    }
    return err_set(-EINVAL, "unknown consistency level '%s'", s);
}

int coord_cl_block_for(enum coord_cl cl, int rf)
{
    if (rf < 1)
        return err_set(-EINVAL, "replication factor %d below 1", rf);
    switch (cl) {
    case COORD_CL_ANY:
    case COORD_CL_ONE:
        return 1;
    case COORD_CL_TWO:
        return 2;
    case COORD_CL_THREE:
        return 3;
    case COORD_CL_QUORUM:
        return rf / 2 + 1;
    case COORD_CL_ALL:
        return rf;
    }
    return err_set(-EINVAL, "unknown consistency level %d", (int)cl);
}

int coord_cl_write_check(enum coord_cl cl, int rf, int npending, int alive,
                         int hints)
{
    int need = coord_cl_block_for(cl, rf);

    if (need < 0)
        return need;
    if (npending < 0 || alive < 0)
        return err_set(-EINVAL, "negative replica count");
    if (cl == COORD_CL_ANY)
        return (alive > 0 || hints)
                   ? 1
                   : err_set(CAIRN_EUNAVAILABLE,
                             "level=ANY no replica alive and hints off");
    if (need > rf)
        return err_set(CAIRN_EUNAVAILABLE, "level=%s needs %d rf=%d",
                       coord_cl_name(cl), need, rf);
    need += npending;
    if (alive < need)
        return err_set(CAIRN_EUNAVAILABLE, "level=%s required=%d alive=%d",
                       coord_cl_name(cl), need, alive);
    return need;
}

int coord_cl_read_check(enum coord_cl cl, int rf, int alive)
{
    int need;

    if (cl == COORD_CL_ANY)
        return err_set(-EINVAL, "level ANY is for writes only");
    need = coord_cl_block_for(cl, rf);
    if (need < 0)
        return need;
    if (need > rf || alive < need)
        return err_set(CAIRN_EUNAVAILABLE, "level=%s required=%d alive=%d",
                       coord_cl_name(cl), need, alive);
    return need;
}
