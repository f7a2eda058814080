/*
 * admit.h -- admission control for a coordinator.
 *
 * A coordinator holds memory for every request in flight (the mutation or
 * the replica answers) and for every hint not yet written out. Under a
 * slow replica those grow without bound unless something says no. This
 * module keeps the counts and bytes and refuses, with CAIRN_EOVERLOADED,
 * anything that would cross a configured bound, so clients see
 * "overloaded" and back off instead of the node running out of memory
 * (scenario C23). Every acquire that succeeded must be released once.
 * Pure bookkeeping; not thread-safe (one per event loop, or guard it).
 */
#ifndef CAIRN_SERVER_COORD_ADMIT_H
#define CAIRN_SERVER_COORD_ADMIT_H

#include <stdint.h>

struct coord_admit {
    uint64_t max_bytes;      /* in-flight request bytes allowed */
    uint64_t max_count;      /* in-flight requests allowed */
    uint64_t max_hint_bytes; /* hint bytes waiting for the disk allowed */
    uint64_t bytes, count, hint_bytes; /* held now */
    uint64_t peak_bytes;               /* highest `bytes` seen */
    uint64_t refused, refused_hints;   /* Overloaded answers given */
};

/* coord_admit_init -- no request held; the bounds given (0: none). */
void coord_admit_init(struct coord_admit *a, uint64_t max_bytes,
                      uint64_t max_count, uint64_t max_hint_bytes);

/*
 * coord_admit_request -- take room for a request of `bytes`; 0, or
 * CAIRN_EOVERLOADED (with a detail) and nothing taken.
 */
int coord_admit_request(struct coord_admit *a, uint64_t bytes);

/* coord_admit_request_done -- give back what coord_admit_request took. */
void coord_admit_request_done(struct coord_admit *a, uint64_t bytes);

/*
 * coord_admit_hint -- take room for a hint of `bytes` until it is on
 * disk; 0 or CAIRN_EOVERLOADED. A refused hint is not stored: the caller
 * counts the write as missed for that replica (repair will find it).
 */
int coord_admit_hint(struct coord_admit *a, uint64_t bytes);

/* coord_admit_hint_done -- the hint is durable (or dropped). */
void coord_admit_hint_done(struct coord_admit *a, uint64_t bytes);

#endif /* CAIRN_SERVER_COORD_ADMIT_H */
