/*
 * mem.c -- counting allocation wrapper (see mem.h).
 */
#include "mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MAGIC 0x6361726eu /* "carn": catches frees of foreign pointers */

/* The header in front of every block; 16 bytes keeps payloads aligned. */
struct mem_hdr {
    uint64_t size;
    uint32_t subsys;
    uint32_t magic;
};

static atomic_llong mem_bytes[MEM_NSUBSYS];
static atomic_long mem_fail_countdown = -1;

static const char *const mem_names[MEM_NSUBSYS] = {
    "common", "storage", "memtable", "cache", "ring",
    "proto",  "server",  "client",   "test",
};

/* mem_should_fail -- consume one allocation of the injection budget. */
static int mem_should_fail(void)
{
    long left = atomic_load(&mem_fail_countdown);

    while (left >= 0) {
        if (left == 0)
            return 1;
        if (atomic_compare_exchange_weak(&mem_fail_countdown, &left, left - 1))
            return 0;
    }
    return 0;
}

void *mem_alloc(enum mem_subsys s, size_t n)
{
    struct mem_hdr *h;

    if (n > SIZE_MAX - sizeof(*h) || mem_should_fail())
        return NULL;
    h = malloc(sizeof(*h) + n);
    if (h == NULL)
        return NULL;
    h->size = n;
    h->subsys = (uint32_t)s;
    h->magic = MEM_MAGIC;
    atomic_fetch_add(&mem_bytes[s], (long long)n);
    return h + 1;
}

void *mem_calloc(enum mem_subsys s, size_t n, size_t size)
{
    void *p;

    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    p = mem_alloc(s, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *mem_realloc(enum mem_subsys s, void *p, size_t n)
{
    struct mem_hdr *h, *nh;

    if (p == NULL)
        return mem_alloc(s, n);
    h = (struct mem_hdr *)p - 1;
    if (n > SIZE_MAX - sizeof(*h) || mem_should_fail())
        return NULL;
    uint64_t old = h->size;
    uint32_t owner = h->subsys;
    nh = realloc(h, sizeof(*nh) + n);
    if (nh == NULL)
        return NULL;
    nh->size = n;
    atomic_fetch_add(&mem_bytes[owner], (long long)n - (long long)old);
    return nh + 1;
}

void mem_free(void *p)
{
    struct mem_hdr *h;

    if (p == NULL)
        return;
    h = (struct mem_hdr *)p - 1;
    if (h->magic != MEM_MAGIC)
        abort(); /* our own invariant: only our blocks come back here */
    h->magic = 0;
    atomic_fetch_sub(&mem_bytes[h->subsys], (long long)h->size);
    free(h);
}

char *mem_strdup(enum mem_subsys s, const char *str)
{
    return mem_memdup(s, str, strlen(str) + 1);
}

void *mem_memdup(enum mem_subsys s, const void *src, size_t n)
{
    void *p = mem_alloc(s, n);

    if (p != NULL && n > 0)
        memcpy(p, src, n);
    return p;
}

int64_t mem_used(enum mem_subsys s)
{
    return atomic_load(&mem_bytes[s]);
}

const char *mem_subsys_name(enum mem_subsys s)
{
    return (unsigned)s < MEM_NSUBSYS ? mem_names[s] : "unknown";
}

void mem_fail_after(long n)
{
    atomic_store(&mem_fail_countdown, n < 0 ? -1 : n);
}
