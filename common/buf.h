/*
 * buf.h -- growable byte buffers.
 *
 * A `struct buf` owns its bytes (allocated through mem.h under the
 * subsystem given at init) and doubles its capacity as it grows, so
 * appends are amortised O(1). Builders of frames, blocks and log records
 * fill one, then hand out data/len. Not thread-safe: one owner at a time.
 */
#ifndef CAIRN_COMMON_BUF_H
#define CAIRN_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

struct buf {
    uint8_t *data;          /* NULL until the first byte is reserved */
    size_t len;             /* bytes in use */
    size_t cap;             /* bytes allocated */
    enum mem_subsys subsys; /* who the bytes are counted against */
};

/* buf_init -- an empty buffer charged to `s`; allocates nothing. */
void buf_init(struct buf *b, enum mem_subsys s);

/* buf_free -- release the bytes; the buffer is empty and reusable. */
void buf_free(struct buf *b);

/* buf_reset -- forget the contents but keep the capacity. */
static inline void buf_reset(struct buf *b)
{
    b->len = 0;
}

/* buf_reserve -- make room for `n` more bytes; 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t n);

/* buf_append -- copy `n` bytes to the end; 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);

/* buf_put_u8, _u32be, _u64be, _varint -- append one value; 0 or -ENOMEM. */
int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_u32be(struct buf *b, uint32_t v);
int buf_put_u64be(struct buf *b, uint64_t v);
int buf_put_varint(struct buf *b, uint64_t v);

/* buf_put_lenbytes -- append a varint length then the bytes. */
int buf_put_lenbytes(struct buf *b, const void *p, size_t n);

#endif /* CAIRN_COMMON_BUF_H */
