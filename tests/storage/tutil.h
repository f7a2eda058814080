/*
 * tutil.h -- small helpers shared by the storage tests: temporary
 * directories (under $TMPDIR or /tmp, removed afterwards) and a seeded
 * random source, so every test can print the seed it ran with.
 */
#ifndef CAIRN_TESTS_STORAGE_TUTIL_H
#define CAIRN_TESTS_STORAGE_TUTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* tu_mkdtemp -- a fresh directory; the caller frees with tu_rmtree. */
static inline char *tu_mkdtemp(void)
{
    const char *t = getenv("TMPDIR");
    char *p = malloc(4096);

    snprintf(p, 4096, "%s/cairn-storage-XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(p) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return p;
}

static inline int tu_rm1(const char *path, const struct stat *st, int flag,
                         struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* tu_rmtree -- remove the directory and all in it, and free the name. */
static inline void tu_rmtree(char *dir)
{
    nftw(dir, tu_rm1, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* xorshift64*: a tiny seeded generator; never 0 state. */
static inline uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline int tu_long(void)
{
    const char *l = getenv("CAIRN_LONG_TESTS");
    return l != NULL && strcmp(l, "1") == 0;
}

#endif /* CAIRN_TESTS_STORAGE_TUTIL_H */
