/*
 * buf.c -- growable byte buffers (see buf.h).
 */
#include "buf.h"

#include <errno.h>
#include <string.h>

#include "coding.h"

void buf_init(struct buf *b, enum mem_subsys s)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->subsys = s;
}

void buf_free(struct buf *b)
{
    mem_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 64;
    uint8_t *p;

    if (n > SIZE_MAX - b->len)
        return -ENOMEM;
    if (b->len + n <= b->cap)
        return 0;
    while (cap < b->len + n)
        cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
    p = mem_realloc(b->subsys, b->data, cap);
    if (p == NULL)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);

    if (rc == 0 && n > 0) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
    return rc;
}

int buf_put_u8(struct buf *b, uint8_t v)
{
    return buf_append(b, &v, 1);
}

int buf_put_u32be(struct buf *b, uint32_t v)
{
    uint8_t tmp[4];

    enc_u32be(tmp, v);
    return buf_append(b, tmp, sizeof(tmp));
}

int buf_put_u64be(struct buf *b, uint64_t v)
{
    uint8_t tmp[8];

    enc_u64be(tmp, v);
    return buf_append(b, tmp, sizeof(tmp));
}

int buf_put_varint(struct buf *b, uint64_t v)
{
    uint8_t tmp[VARINT_MAX];

    return buf_append(b, tmp, varint_put(tmp, v));
}

int buf_put_lenbytes(struct buf *b, const void *p, size_t n)
{
    int rc = buf_put_varint(b, n);

    return rc ? rc : buf_append(b, p, n);
}
