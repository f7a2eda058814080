/*
 * merge.h -- one stream of a table's data in storage order, and the
 * iterator that merges many such streams by the conflict rule.
 *
 * Every source (a memtable, an sstable) yields entries in (token,
 * partition key, header first, clustering key) order: a partition's header
 * (its tombstones) and then its rows, each already folded within the
 * source. The merge iterator takes the smallest key over all sources and
 * folds every source's entry at that key into one. Reads, flushes and
 * compactions all walk data this way. Engine-internal.
 */
#ifndef CAIRN_STORAGE_MERGE_H
#define CAIRN_STORAGE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/row.h"

/* One entry; valid until its source (or the merge) moves on. */
struct mentry {
    int64_t token;
    const uint8_t *pk;
    size_t pk_len;
    int is_header;
    const uint8_t *ck;
    size_t ck_len;
    struct row *row;        /* rows */
    struct row_header *hdr; /* headers */
};

struct msrc;

/* Flags of a seek. */
#define MSEEK_HEADER 1 /* from the partition's header (ck ignored) */
#define MSEEK_EXACT                                                            \
    2 /* only partition pk is wanted: a source may end                         \
         early rather than position after it */

struct msrc_ops {
    /*
     * seek -- position before the first entry at or after (token, pk, ck).
     * with_header: from the partition's header (ck is ignored); else from
     * its rows at or after ck. Either way the stream then goes on through
     * later partitions, headers included. pk NULL: from the first entry
     * of `token` or later.
     */
    int (*seek)(struct msrc *s, int64_t token, const uint8_t *pk, size_t pk_len,
                const uint8_t *ck, size_t ck_len, int with_header);
    /* next -- 1 and *e, 0 at the end, or a negative code. */
    int (*next)(struct msrc *s, struct mentry *e);
    void (*close)(struct msrc *s);
};

struct msrc {
    const struct msrc_ops *ops;
};

/* mentry_cmp -- storage order of two entries' keys. */
int mentry_cmp(const struct mentry *a, const struct mentry *b);

struct merge {
    struct msrc **src;
    size_t n;
    struct mentry *cur; /* each source's current entry */
    char *state;        /* 0: none/end, 1: loaded, 2: consumed */
    struct row row;
    struct row_header hdr;
};

/* merge_init -- merge over `n` sources (borrowed); 0 or -ENOMEM. */
int merge_init(struct merge *m, struct msrc **src, size_t n);
void merge_free(struct merge *m);

/* merge_seek -- seek every source (see msrc_ops.seek). */
int merge_seek(struct merge *m, int64_t token, const uint8_t *pk, size_t pk_len,
               const uint8_t *ck, size_t ck_len, int with_header);

/*
 * merge_next -- 1 and the folded entry at the smallest key (its row or
 * header is the merge's own, valid until the next call), 0 at the end, or
 * the first source's error.
 */
int merge_next(struct merge *m, struct mentry *out);

#endif /* CAIRN_STORAGE_MERGE_H */
