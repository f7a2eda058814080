/*
 * ring.h -- small types shared by the ring modules (tokens, fd, gossip).
 *
 * A node is named by a 16-byte host id that it picks once and keeps for
 * life; addresses change, host ids never do (scenario C13). Randomness is
 * passed in as a `struct ring_rand`, so the server can back it with the
 * system's entropy and the simulator with a seeded generator: nothing in
 * ring/ draws its own random numbers.
 */
#ifndef CAIRN_RING_RING_H
#define CAIRN_RING_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define RING_HOST_ID_LEN 16

struct ring_host_id {
    uint8_t b[RING_HOST_ID_LEN];
};

/* A source of uniform 64-bit random numbers, owned by the caller. */
struct ring_rand {
    uint64_t (*next)(void *ctx);
    void *ctx;
};

static inline bool ring_host_id_eq(const struct ring_host_id *a,
                                   const struct ring_host_id *b)
{
    return memcmp(a->b, b->b, RING_HOST_ID_LEN) == 0;
}

static inline int ring_host_id_cmp(const struct ring_host_id *a,
                                   const struct ring_host_id *b)
{
    return memcmp(a->b, b->b, RING_HOST_ID_LEN);
}

/* ring_rand_below -- a uniform number in [0, n); n must be > 0. */
uint64_t ring_rand_below(struct ring_rand *r, uint64_t n);

/* ring_host_id_random -- a fresh host id (a version-4 style UUID). */
void ring_host_id_random(struct ring_rand *r, struct ring_host_id *out);

/*
 * ring_host_id_str -- "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into `out`
 * (at least 37 bytes); returns `out`.
 */
char *ring_host_id_str(const struct ring_host_id *id, char *out);

#endif /* CAIRN_RING_RING_H */
