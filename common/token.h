/*
 * token.h -- the partitioner: where a partition key lives on the ring.
 *
 * A token is the XXH3 64-bit hash of the partition key's bytes, read as a
 * signed 64-bit integer, so the ring runs from INT64_MIN to INT64_MAX. It
 * lives in common/ so libcairn computes the same token as every node and
 * can send a request straight to a replica. Changing this function changes
 * where every existing key lives: it is part of the on-disk format.
 */
#ifndef CAIRN_COMMON_TOKEN_H
#define CAIRN_COMMON_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* token_of -- the token of partition key [key, key + len); thread-safe. */
int64_t token_of(const void *key, size_t len);

#endif /* CAIRN_COMMON_TOKEN_H */
