/*
 * frame.h -- the wire framing: a 4-byte big-endian length, then that many
 * bytes of one protobuf message (docs/protocol.md, "Framing").
 *
 * The decoder is pure: bytes go in as they arrive, in pieces of any size,
 * and whole payloads come out. It never trusts the length prefix: a length
 * over the limit is reported before any payload byte is buffered, so a
 * peer cannot make the node allocate what it announces. One decoder per
 * connection; not thread-safe.
 */
#ifndef CAIRN_SERVER_FRAME_H
#define CAIRN_SERVER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/buf.h"

#define FRAME_HDR 4 /* bytes of the length prefix */

struct frame_dec {
    struct buf in; /* received bytes; [pos, in.len) not yet consumed */
    size_t pos;    /* start of the next frame's length prefix */
    uint32_t max;  /* largest payload accepted, bytes */
};

/* frame_dec_init -- an empty decoder accepting payloads up to `max`. */
void frame_dec_init(struct frame_dec *d, uint32_t max);

/* frame_dec_free -- release the buffered bytes. */
void frame_dec_free(struct frame_dec *d);

/*
 * frame_dec_feed -- append `n` received bytes (copied). Payload pointers
 * handed out by frame_dec_next() before this call become invalid.
 * 0 or -ENOMEM.
 */
int frame_dec_feed(struct frame_dec *d, const void *p, size_t n);

/*
 * frame_dec_next -- the next whole payload: returns 1 with *p, *n set
 * (valid until the next feed), 0 when more bytes are needed, or
 * CAIRN_ETOOBIG (detail recorded) when the announced length is over the
 * limit; the stream cannot be resynchronised after that.
 */
int frame_dec_next(struct frame_dec *d, const uint8_t **p, size_t *n);

/* frame_dec_buffered -- bytes received and not yet returned. */
size_t frame_dec_buffered(const struct frame_dec *d);

/*
 * frame_pack -- encode `m` as one frame into a new block from mem_alloc
 * (MEM_PROTO) that the caller frees with mem_free. 0 or -ENOMEM.
 */
int frame_pack(const ProtobufCMessage *m, uint8_t **out, size_t *n);

/*
 * frame_allocator -- a protobuf-c allocator over mem.h (MEM_PROTO), so
 * decoded messages count in the memory metrics.
 */
ProtobufCAllocator *frame_allocator(void);

#endif /* CAIRN_SERVER_FRAME_H */
