/*
 * act.c -- the action list shared by the coordinator state machines.
 */
#include "server/coord/act.h"

#include <string.h>

#include "common/err.h"
#include "common/mem.h"

void coord_acts_init(struct coord_acts *a)
{
    memset(a, 0, sizeof(*a));
}

void coord_acts_free(struct coord_acts *a)
{
    mem_free(a->v);
    coord_acts_init(a);
}

void coord_acts_clear(struct coord_acts *a)
{
    a->n = 0;
}

int coord_acts_push(struct coord_acts *a, const struct coord_act *act)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct coord_act *v = mem_realloc(MEM_SERVER, a->v, cap * sizeof(*v));
        if (!v)
            return err_set(-ENOMEM, "coord actions: no memory");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = *act;
    return 0;
}
