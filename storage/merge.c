/*
 * merge.c -- k-way merge of sorted sources (see merge.h).
 *
 * Sources are few (a memtable or two and the sstables a read could not
 * rule out), so the smallest key is found by a linear pass rather than a
 * heap. A source is advanced only at the next call, so the pointers of
 * the entry handed out stay valid until then.
 */
#include "storage/merge.h"

#include <string.h>

#include "common/err.h"
#include "common/mem.h"

static int bcmp_(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

int mentry_cmp(const struct mentry *a, const struct mentry *b)
{
    int c;

    if (a->token != b->token)
        return a->token < b->token ? -1 : 1;
    c = bcmp_(a->pk, a->pk_len, b->pk, b->pk_len);
    if (c != 0)
        return c;
    if (a->is_header != b->is_header)
        return a->is_header ? -1 : 1;
    return bcmp_(a->ck, a->ck_len, b->ck, b->ck_len);
}

int merge_init(struct merge *m, struct msrc **src, size_t n)
{
    memset(m, 0, sizeof(*m));
    row_init(&m->row);
    row_header_init(&m->hdr);
    m->src = src;
    m->n = n;
    m->cur = mem_calloc(MEM_STORAGE, n ? n : 1, sizeof(*m->cur));
    m->state = mem_calloc(MEM_STORAGE, n ? n : 1, 1);
    if (m->cur == NULL || m->state == NULL) {
        merge_free(m);
        return err_set(-ENOMEM, "merge: out of memory");
    }
    return 0;
}

void merge_free(struct merge *m)
{
    mem_free(m->cur);
    mem_free(m->state);
    row_free(&m->row);
    row_header_free(&m->hdr);
    m->cur = NULL;
    m->state = NULL;
}

int merge_seek(struct merge *m, int64_t token, const uint8_t *pk, size_t pk_len,
               const uint8_t *ck, size_t ck_len, int flags)
{
    int rc;

    for (size_t i = 0; i < m->n; i++) {
        rc = m->src[i]->ops->seek(m->src[i], token, pk, pk_len, ck, ck_len,
                                  flags);
        if (rc != 0)
            return rc;
        m->state[i] = 2; /* load at the next merge_next */
    }
    return 0;
}

/* advance -- load the next entry of every source consumed last time. */
static int advance(struct merge *m)
{
    for (size_t i = 0; i < m->n; i++) {
        int rc;
        if (m->state[i] != 2)
            continue;
        rc = m->src[i]->ops->next(m->src[i], &m->cur[i]);
        if (rc < 0) {
            m->state[i] = 0;
            return rc;
        }
        m->state[i] = rc == 1 ? 1 : 0;
    }
    return 0;
}

int merge_next(struct merge *m, struct mentry *out)
{
    struct mentry *min = NULL;
    int rc = advance(m);

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < m->n; i++)
        if (m->state[i] == 1 &&
            (min == NULL || mentry_cmp(&m->cur[i], min) < 0))
            min = &m->cur[i];
    if (min == NULL)
        return 0;
    *out = *min;
    row_reset(&m->row);
    row_header_reset(&m->hdr);
    for (size_t i = 0; i < m->n; i++) {
        if (m->state[i] != 1 || mentry_cmp(&m->cur[i], out) != 0)
            continue;
        if (out->is_header)
            rc = row_header_merge(&m->hdr, m->cur[i].hdr);
        else
            rc = row_merge(&m->row, m->cur[i].row);
        if (rc != 0)
            return rc;
        m->state[i] = 2;
    }
    out->row = out->is_header ? NULL : &m->row;
    out->hdr = out->is_header ? &m->hdr : NULL;
    return 1;
}
