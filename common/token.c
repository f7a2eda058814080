/*
 * token.c -- the XXH3 partitioner (see token.h).
 */
#include "token.h"

#include <xxhash.h>

int64_t token_of(const void *key, size_t len)
{
    return (int64_t)XXH3_64bits(key, len);
}
