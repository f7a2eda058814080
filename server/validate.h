/*
 * validate.h -- checks a decoded client request before anything acts on
 * it, and the paging-state codecs.
 *
 * Everything here is pure (no I/O, no schema), so the libFuzzer target
 * runs it on arbitrary bytes. A request that passes has names of the
 * allowed shape, keys and values within the limits, mutations whose
 * fields fit their kind, and a paging state that decodes. What needs the
 * schema (does the table exist, is the level reachable) is the node's.
 */
#ifndef CAIRN_SERVER_VALIDATE_H
#define CAIRN_SERVER_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/client.pb-c.h"

#define VALIDATE_NAME_MAX      48         /* keyspace and table names */
#define VALIDATE_KEY_MAX       (64 << 10) /* partition, clustering key, column */
#define VALIDATE_MAX_TTL       630720000  /* 20 years, in seconds */
#define VALIDATE_MAX_RF        32
#define VALIDATE_MAX_MUTATIONS 65536

struct validate_limits {
    uint32_t max_value_bytes;
};

/*
 * validate_request -- 0 when `r` may be executed, else -EINVAL or
 * CAIRN_ETOOBIG with a detail naming the field (and, for an unknown
 * request type, CAIRN_EPROTO).
 */
int validate_request(const Cairn__Request *r, const struct validate_limits *l);

/* validate_name -- 1..48 characters of [A-Za-z0-9_]; -EINVAL otherwise. */
int validate_name(const char *what, const char *name);

/*
 * Paging states are opaque to clients; they carry where the previous page
 * stopped. A read's is the last clustering key returned; a scan's is the
 * last partition key and clustering key. Decoders accept only what the
 * encoders produce (-EINVAL otherwise); decoded pointers borrow from the
 * input. Encoders return a block from mem_alloc (MEM_PROTO).
 */
int paging_read_encode(const uint8_t *ck, size_t ckn, uint8_t **out, size_t *n);
int paging_read_decode(const uint8_t *p, size_t n, const uint8_t **ck,
                       size_t *ckn);
int paging_scan_encode(const uint8_t *pk, size_t pkn, const uint8_t *ck,
                       size_t ckn, uint8_t **out, size_t *n);
int paging_scan_decode(const uint8_t *p, size_t n, const uint8_t **pk,
                       size_t *pkn, const uint8_t **ck, size_t *ckn);

/*
 * validate_replicas_needed -- replicas that must answer for `cl` with
 * replication factor `rf`; -EINVAL (detail) for ANY on a read or an
 * unknown level.
 */
int validate_replicas_needed(Cairn__Consistency cl, uint32_t rf, int is_write);

#endif /* CAIRN_SERVER_VALIDATE_H */
