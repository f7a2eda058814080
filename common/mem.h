/*
 * mem.h -- the one allocation wrapper.
 *
 * Every heap allocation of cairn goes through here, tagged with the
 * subsystem that owns it, so that /metrics can report bytes per subsystem
 * and tests can make allocations fail on purpose. Each block carries a
 * 16-byte header (its size and subsystem), which keeps mem_free() free of
 * arguments and the payload 16-byte aligned. Thread-safe.
 *
 * Large, long-lived memory (memtable arenas, block cache entries) is
 * allocated in big chunks through the same calls, so the per-block header
 * costs nothing that matters.
 */
#ifndef CAIRN_COMMON_MEM_H
#define CAIRN_COMMON_MEM_H

#include <stddef.h>
#include <stdint.h>

enum mem_subsys {
    MEM_COMMON = 0,
    MEM_STORAGE,  /* engine bookkeeping, sstable readers, commit log */
    MEM_MEMTABLE, /* memtable arenas */
    MEM_CACHE,    /* block cache */
    MEM_RING,     /* token metadata, gossip */
    MEM_PROTO,    /* encode/decode buffers */
    MEM_SERVER,   /* connections, coordinator state, hints */
    MEM_CLIENT,   /* libcairn */
    MEM_TEST,
    MEM_NSUBSYS
};

/* mem_alloc -- `n` bytes for `s`; NULL when out of memory (or injected). */
void *mem_alloc(enum mem_subsys s, size_t n);

/* mem_calloc -- zeroed `n * size` bytes; NULL on overflow or no memory. */
void *mem_calloc(enum mem_subsys s, size_t n, size_t size);

/*
 * mem_realloc -- resize `p` (NULL allocates) to `n` bytes, keeping its
 * subsystem; on failure returns NULL and `p` stays valid.
 */
void *mem_realloc(enum mem_subsys s, void *p, size_t n);

/* mem_free -- release a block from this wrapper; NULL is ignored. */
void mem_free(void *p);

/* mem_strdup -- copy of a C string; NULL when out of memory. */
char *mem_strdup(enum mem_subsys s, const char *str);

/* mem_memdup -- copy of `n` bytes; NULL when out of memory. */
void *mem_memdup(enum mem_subsys s, const void *src, size_t n);

/* mem_used -- bytes currently held by `s` (payload, not headers). */
int64_t mem_used(enum mem_subsys s);

/* mem_subsys_name -- "storage", "memtable", ... for metrics labels. */
const char *mem_subsys_name(enum mem_subsys s);

/*
 * mem_fail_after -- fault injection for tests: after `n` more successful
 * allocations, every further one fails until called again; -1 turns
 * injection off (the default).
 */
void mem_fail_after(long n);

#endif /* CAIRN_COMMON_MEM_H */
