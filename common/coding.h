/*
 * coding.h -- byte order and varint helpers shared by every format.
 *
 * Fixed-width integers on disk and on the wire are big-endian. Varints are
 * unsigned LEB128 (7 bits a byte, low group first, at most 10 bytes for 64
 * bits); signed values go through zigzag first. Decoding never trusts its
 * input: a `struct rd` cursor checks every length against the end of the
 * buffer, and a short or overlong field yields CAIRN_ECORRUPT.
 */
#ifndef CAIRN_COMMON_CODING_H
#define CAIRN_COMMON_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

#define VARINT_MAX 10 /* bytes a 64-bit varint may take */

static inline void enc_u16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void enc_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void enc_u64be(uint8_t *p, uint64_t v)
{
    enc_u32be(p, (uint32_t)(v >> 32));
    enc_u32be(p + 4, (uint32_t)v);
}

static inline uint16_t dec_u16be(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t dec_u32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline uint64_t dec_u64be(const uint8_t *p)
{
    return (uint64_t)dec_u32be(p) << 32 | dec_u32be(p + 4);
}

static inline uint64_t zigzag_enc(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zigzag_dec(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* varint_len -- bytes varint_put() would write for `v`. */
static inline size_t varint_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* varint_put -- write `v` at `p` (room for VARINT_MAX); returns bytes. */
static inline size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/*
 * varint_get -- decode a varint from [p, end) into *v; returns the bytes
 * used, or 0 (and *v = 0) when the input is short or longer than 64
 * bits allow.
 */
static inline size_t varint_get(const uint8_t *p, const uint8_t *end,
                                uint64_t *v)
{
    uint64_t r = 0;

    for (size_t i = 0; i < VARINT_MAX && p + i < end; i++) {
        uint64_t b = p[i];
        if (i == VARINT_MAX - 1 && b > 1)
            return 0; /* would overflow 64 bits */
        r |= (b & 0x7f) << (7 * i);
        if (b < 0x80) {
            *v = r;
            return i + 1;
        }
    }
    *v = 0;
    return 0;
}

/*
 * A bounds-checked read cursor over untrusted bytes. Every rd_* call
 * returns 0 or CAIRN_ECORRUPT and clears its out-parameter on failure.
 */
struct rd {
    const uint8_t *p;
    const uint8_t *end;
};

static inline void rd_init(struct rd *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
}

static inline size_t rd_left(const struct rd *r)
{
    return (size_t)(r->end - r->p);
}

static inline int rd_u8(struct rd *r, uint8_t *v)
{
    *v = 0;
    if (rd_left(r) < 1)
        return CAIRN_ECORRUPT;
    *v = *r->p++;
    return 0;
}

static inline int rd_u32be(struct rd *r, uint32_t *v)
{
    *v = 0;
    if (rd_left(r) < 4)
        return CAIRN_ECORRUPT;
    *v = dec_u32be(r->p);
    r->p += 4;
    return 0;
}

static inline int rd_u64be(struct rd *r, uint64_t *v)
{
    *v = 0;
    if (rd_left(r) < 8)
        return CAIRN_ECORRUPT;
    *v = dec_u64be(r->p);
    r->p += 8;
    return 0;
}

static inline int rd_varint(struct rd *r, uint64_t *v)
{
    size_t n = varint_get(r->p, r->end, v);

    if (n == 0)
        return CAIRN_ECORRUPT;
    r->p += n;
    return 0;
}

/* rd_bytes -- point *out at the next `n` bytes and skip them. */
static inline int rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
    *out = NULL;
    if (rd_left(r) < n)
        return CAIRN_ECORRUPT;
    *out = r->p;
    r->p += n;
    return 0;
}

#endif /* CAIRN_COMMON_CODING_H */
