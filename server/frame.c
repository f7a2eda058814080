/*
 * frame.c -- incremental frame decoder and frame encoder (frame.h).
 *
 * Consumed bytes are dropped lazily: the buffer is compacted at the next
 * feed, so a burst of small frames costs one memmove, not one per frame.
 * A buffer grown past FRAME_KEEP_BYTES by a big frame is released once it
 * is empty, so an idle connection holds little memory.
 */
#include "server/frame.h"

#include <string.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"

#define FRAME_KEEP_BYTES (1u << 20)

void frame_dec_init(struct frame_dec *d, uint32_t max)
{
    buf_init(&d->in, MEM_SERVER);
    d->pos = 0;
    d->max = max;
}

void frame_dec_free(struct frame_dec *d)
{
    buf_free(&d->in);
    d->pos = 0;
}

int frame_dec_feed(struct frame_dec *d, const void *p, size_t n)
{
    /* Give back what one big frame grew, once nothing is buffered. */
    if (d->pos == d->in.len && d->in.cap > FRAME_KEEP_BYTES) {
        buf_free(&d->in);
        d->pos = 0;
    }
    if (d->pos > 0) {
        memmove(d->in.data, d->in.data + d->pos, d->in.len - d->pos);
        d->in.len -= d->pos;
        d->pos = 0;
    }
    return buf_append(&d->in, p, n);
}

int frame_dec_next(struct frame_dec *d, const uint8_t **p, size_t *n)
{
    size_t left = d->in.len - d->pos;
    uint32_t len;

    *p = NULL;
    *n = 0;
    if (left < FRAME_HDR)
        return 0;
    len = dec_u32be(d->in.data + d->pos);
    if (len > d->max)
        return err_set(CAIRN_ETOOBIG,
                       "frame of %u bytes is over the limit of %u bytes", len,
                       d->max);
    if (left - FRAME_HDR < len)
        return 0;
    *p = d->in.data + d->pos + FRAME_HDR;
    *n = len;
    d->pos += FRAME_HDR + (size_t)len;
    return 1;
}

size_t frame_dec_buffered(const struct frame_dec *d)
{
    return d->in.len - d->pos;
}

int frame_pack(const ProtobufCMessage *m, uint8_t **out, size_t *n)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *p;

    *out = NULL;
    *n = 0;
    if (len > UINT32_MAX)
        return err_set(CAIRN_ETOOBIG, "answer of %zu bytes cannot be framed",
                       len);
    p = mem_alloc(MEM_PROTO, FRAME_HDR + len);
    if (p == NULL)
        return err_set(-ENOMEM, "no memory for a %zu-byte frame", len);
    enc_u32be(p, (uint32_t)len);
    protobuf_c_message_pack(m, p + FRAME_HDR);
    *out = p;
    *n = FRAME_HDR + len;
    return 0;
}

static void *frame_alloc(void *arg, size_t n)
{
    (void)arg;
    return mem_alloc(MEM_PROTO, n);
}

static void frame_free(void *arg, void *p)
{
    (void)arg;
    mem_free(p);
}

ProtobufCAllocator *frame_allocator(void)
{
    static ProtobufCAllocator a = {frame_alloc, frame_free, NULL};

    return &a;
}
