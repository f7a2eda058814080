/*
 * clsnap.c -- publication of cluster snapshots without reader locks
 * (clsnap.h).
 *
 * A reader announces itself in `readers` before loading the pointer and
 * leaves once it holds a reference. The publisher swaps the pointer first;
 * any reader that could still hold the old pointer without a reference is
 * then counted, so waiting for the count to reach zero makes dropping the
 * old reference safe. Readers never wait.
 */
#include "server/clsnap.h"

#include <sched.h>
#include <string.h>

#include "common/mem.h"

struct clsnap *clsnap_new(void)
{
    struct clsnap *s = mem_calloc(MEM_SERVER, 1, sizeof(*s));

    if (s)
        atomic_init(&s->refs, 1);
    return s;
}

void clsnap_put(struct clsnap *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    if (s->ring)
        tokens_snap_unref(s->ring);
    mem_free(s->nodes);
    mem_free(s->keyspaces);
    mem_free(s);
}

void clsnap_publish(struct clsnap_pub *pub, struct clsnap *s)
{
    struct clsnap *old = atomic_exchange(&pub->cur, s);

    while (atomic_load(&pub->readers) != 0)
        sched_yield();
    clsnap_put(old);
}

struct clsnap *clsnap_get(struct clsnap_pub *pub)
{
    struct clsnap *s;

    atomic_fetch_add(&pub->readers, 1);
    s = atomic_load(&pub->cur);
    if (s)
        atomic_fetch_add(&s->refs, 1);
    atomic_fetch_sub(&pub->readers, 1);
    return s;
}

void clsnap_retire(struct clsnap_pub *pub)
{
    clsnap_publish(pub, NULL);
}

const struct clsnap_node *clsnap_find(const struct clsnap *s,
                                      const struct ring_host_id *id)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (ring_host_id_eq(&s->nodes[i].id, id))
            return &s->nodes[i];
    return NULL;
}

uint32_t clsnap_keyspace_rf(const struct clsnap *s, const char *name)
{
    for (size_t i = 0; i < s->nkeyspaces; i++)
        if (strcmp(s->keyspaces[i].name, name) == 0)
            return s->keyspaces[i].rf;
    return 0;
}
