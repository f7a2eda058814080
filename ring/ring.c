/*
 * ring.c -- helpers shared by the ring modules: bounded random numbers and
 * host id formatting. No state, no I/O.
 */
#include <stdio.h>

#include "ring/ring.h"

uint64_t ring_rand_below(struct ring_rand *r, uint64_t n)
{
    /* Rejection sampling keeps the result uniform for every n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do {
        x = r->next(r->ctx);
    } while (x >= limit);
    return x % n;
}

void ring_host_id_random(struct ring_rand *r, struct ring_host_id *out)
{
    uint64_t hi = r->next(r->ctx);
    uint64_t lo = r->next(r->ctx);

    for (int i = 0; i < 8; i++) {
        out->b[i] = (uint8_t)(hi >> (56 - 8 * i));
        out->b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40);
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
}

char *ring_host_id_str(const struct ring_host_id *id, char *out)
{
    char *p = out;

    for (int i = 0; i < RING_HOST_ID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += sprintf(p, "%02x", id->b[i]);
    }
    return out;
}
