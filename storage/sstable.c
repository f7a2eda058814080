/*
 * sstable.c -- reading sstables: open (footer, index, bloom and meta
 * checked), point lookups and scans through iterators, verification.
 * The writer is sstable_writer.c; the format is docs/sstable-format.md.
 *
 * An open sstable is immutable and shared: its index and bloom filter
 * live in memory, data blocks are read with fs_pread (safe concurrently)
 * and checksummed before anyone looks at them, then kept in the block
 * cache when there is one. Every decode checks its bounds: bytes from
 * disk that do not parse give CAIRN_ECORRUPT naming file and block, never
 * a crash or a wrong entry.
 */
#include <lz4.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "common/buf.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"
#include "storage/block_cache.h"
#include "storage/bloom.h"
#include "storage/fs.h"
#include "storage/sstable.h"
#include "storage/sstable_format.h"

#define SST_MAX_RAW (1u << 30) /* a block larger than this is damage */
#define NO_BLOCK    UINT32_MAX

/* A position in sstable order (see sst_cmp). */
struct sst_key {
    int64_t token;
    const uint8_t *pkey;
    size_t pkey_len;
    int pkey_min; /* 1: before every partition key of `token` */
    int rank;     /* 0: header or start of partition; 1: a row */
    const uint8_t *ck;
    size_t ck_len;
};

struct sst_index_entry {
    uint64_t off;
    uint32_t size;
    struct sst_key first; /* points into index_mem */
};

struct sstable {
    atomic_int refs;
    struct fs *fs;
    struct fs_file *f;
    char *path;
    uint64_t id; /* unique in the process: the block cache's file key */
    struct block_cache *cache;
    struct sstable_meta meta;
    uint8_t *index_mem;
    struct sst_index_entry *idx;
    int64_t *idx_tokens; /* idx[i].first.token, dense for the search */
    uint32_t nblocks;
    uint8_t *bloom_mem;
    const uint8_t *bloom_bits;
    uint32_t bloom_lines;
    int bloom_k;
};

struct sstable_iter {
    struct sstable *t;
    int use_cache; /* 0 for verify: always read the disk */
    uint32_t blk;  /* loaded block, NO_BLOCK before the first load */
    struct block_cache_block *pin;
    const uint8_t *data; /* entries of the loaded block */
    size_t end;          /* where its restart array begins */
    const uint8_t *restarts;
    uint32_t nrestarts;
    size_t pos;    /* offset of the next entry to decode */
    int have_part; /* token/pkey hold the previous entry's partition */
    int64_t token;
    const uint8_t *pkey;
    size_t pkey_len;
    int peeked; /* seek decoded the next entry already: `peek` */
    struct sstable_entry peek;
    struct buf io, raw; /* block bytes when not in the cache */
    int err;            /* sticky: the iterator failed; seek clears it */
};

static atomic_uint_fast64_t sst_next_id = 1;

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Order: token, partition key, header before rows, clustering key. */
static int sst_cmp(const struct sst_key *a, const struct sst_key *b)
{
    int c;

    if (a->token != b->token)
        return a->token < b->token ? -1 : 1;
    if (a->pkey_min || b->pkey_min)
        return b->pkey_min - a->pkey_min;
    c = bytes_cmp(a->pkey, a->pkey_len, b->pkey, b->pkey_len);
    if (c != 0)
        return c;
    if (a->rank != b->rank)
        return a->rank - b->rank;
    return bytes_cmp(a->ck, a->ck_len, b->ck, b->ck_len);
}

static void entry_key(const struct sstable_entry *e, struct sst_key *k)
{
    k->token = e->token;
    k->pkey = e->pkey;
    k->pkey_len = e->pkey_len;
    k->pkey_min = 0;
    k->rank = e->is_header ? 0 : 1;
    k->ck = e->ck;
    k->ck_len = e->ck_len;
}

static int corrupt(const struct sstable *t, const char *what, uint64_t off,
                   const char *why)
{
    return err_set(CAIRN_ECORRUPT, "sstable %s: %s at offset %llu: %s", t->path,
                   what, (unsigned long long)off, why);
}

/*
 * Read the block at (off, size) into `dst` (room for size + trailer) and
 * check its trailer; then *kind and *raw_len describe the payload.
 */
static int read_checked(struct sstable *t, uint64_t off, uint32_t size,
                        const char *what, uint8_t *dst, uint8_t *kind,
                        uint32_t *raw_len)
{
    size_t n = (size_t)size + SST_TRAILER_BYTES;
    const uint8_t *tr = dst + size;
    int rc = fs_read_full(t->f, dst, n, off);

    if (rc == -EIO && off + n > t->meta.file_bytes)
        return corrupt(t, what, off, "file truncated");
    if (rc != 0)
        return rc;
    if (XXH64(dst, size + SST_TRAILER_CSUM_AT, 0) !=
        dec_u64be(tr + SST_TRAILER_CSUM_AT))
        return corrupt(t, what, off, "checksum mismatch");
    *kind = tr[0];
    *raw_len = dec_u32be(tr + 1);
    if (*kind > SST_COMP_LZ4 || *raw_len > SST_MAX_RAW ||
        (*kind == SST_COMP_NONE && *raw_len != size))
        return corrupt(t, what, off, "bad block trailer");
    return 0;
}

/* Make `b` hold at least n bytes (contents dropped). */
static int room(struct buf *b, size_t n)
{
    buf_reset(b);
    return buf_reserve(b, n);
}

/* Decompress `src` into `dst` (raw_len bytes of room). */
static int inflate(struct sstable *t, const char *what, uint64_t off,
                   const uint8_t *src, uint32_t size, uint8_t *dst,
                   uint32_t raw_len)
{
    int n = LZ4_decompress_safe((const char *)src, (char *)dst, (int)size,
                                (int)raw_len);

    if (n < 0 || (uint32_t)n != raw_len)
        return corrupt(t, what, off, "lz4 data does not decompress");
    return 0;
}

/* A whole metadata block (index, bloom, meta) into fresh memory. */
static int read_meta_block(struct sstable *t, uint64_t off, uint32_t size,
                           const char *what, uint8_t **mem, uint32_t *len)
{
    struct buf io;
    uint8_t kind;
    uint32_t raw_len;
    int rc;

    *mem = NULL;
    buf_init(&io, MEM_STORAGE);
    if (room(&io, (size_t)size + SST_TRAILER_BYTES))
        return err_set(-ENOMEM, "sstable %s: %s", t->path, what);
    rc = read_checked(t, off, size, what, io.data, &kind, &raw_len);
    if (rc == 0 && kind == SST_COMP_LZ4) {
        uint8_t *raw = mem_alloc(MEM_STORAGE, raw_len ? raw_len : 1);
        if (raw == NULL)
            rc = err_set(-ENOMEM, "sstable %s: %s", t->path, what);
        else
            rc = inflate(t, what, off, io.data, size, raw, raw_len);
        if (rc == 0) {
            buf_free(&io);
            *mem = raw;
            *len = raw_len;
            return 0;
        }
        mem_free(raw);
    }
    if (rc == 0) {
        *mem = io.data; /* the trailer stays behind, unused */
        *len = raw_len;
        return 0;
    }
    buf_free(&io);
    return rc;
}

/* ---- open ---- */

struct sst_footer {
    uint64_t off[3];
    uint32_t size[3]; /* index, bloom, meta */
};

static int open_footer(struct sstable *t, struct sst_footer *ft)
{
    uint8_t f[SST_FOOTER_BYTES];
    uint64_t fsz = t->meta.file_bytes, end;
    int rc;

    if (fsz < SST_FOOTER_BYTES)
        return corrupt(t, "footer", 0, "file shorter than a footer");
    rc = fs_read_full(t->f, f, sizeof(f), fsz - SST_FOOTER_BYTES);
    if (rc != 0)
        return rc;
    if (dec_u64be(f + SST_FOOTER_MAGIC) != SST_MAGIC)
        return corrupt(t, "footer", fsz - SST_FOOTER_BYTES, "bad magic");
    if (dec_u64be(f + SST_FOOTER_CSUM_AT) != XXH64(f, SST_FOOTER_CSUM_AT, 0))
        return corrupt(t, "footer", fsz - SST_FOOTER_BYTES,
                       "checksum mismatch");
    t->meta.format_version = dec_u32be(f + 36);
    if (t->meta.format_version != SST_FORMAT_VERSION)
        return err_set(CAIRN_ECORRUPT,
                       "sstable %s: format version %u, this build reads %u",
                       t->path, t->meta.format_version, SST_FORMAT_VERSION);
    end = 0;
    for (int i = 0; i < 3; i++) {
        ft->off[i] = dec_u64be(f + 12 * i);
        ft->size[i] = dec_u32be(f + 12 * i + 8);
        if ((i > 0 && ft->off[i] != end) || ft->off[i] > fsz)
            return corrupt(t, "footer", fsz - SST_FOOTER_BYTES,
                           "block handles out of place");
        end = ft->off[i] + ft->size[i] + SST_TRAILER_BYTES;
    }
    if (end != fsz - SST_FOOTER_BYTES)
        return corrupt(t, "footer", fsz - SST_FOOTER_BYTES,
                       "block handles out of place");
    return 0;
}

static int open_meta(struct sstable *t, uint64_t off, uint32_t size)
{
    struct sstable_meta *m = &t->meta;
    uint8_t *p;
    uint32_t len;
    int rc = read_meta_block(t, off, size, "meta block", &p, &len);

    if (rc != 0)
        return rc;
    if (len != SST_META_BYTES || p[48] > 1) {
        mem_free(p);
        return corrupt(t, "meta block", off, "bad layout");
    }
    m->min_token = (int64_t)dec_u64be(p);
    m->max_token = (int64_t)dec_u64be(p + 8);
    m->partitions = dec_u64be(p + 16);
    m->rows = dec_u64be(p + 24);
    m->blocks = dec_u64be(p + 32);
    m->data_bytes = dec_u64be(p + 40);
    m->compression = p[48];
    m->stats.min_ts = (int64_t)dec_u64be(p + 49);
    m->stats.max_ts = (int64_t)dec_u64be(p + 57);
    m->stats.min_deleted_s = (int64_t)dec_u64be(p + 65);
    m->stats.tombstones = dec_u64be(p + 73);
    m->stats.table_id = dec_u64be(p + 81);
    m->stats.level = dec_u64be(p + 89);
    mem_free(p);
    return 0;
}

static int open_bloom(struct sstable *t, uint64_t off, uint32_t size)
{
    uint32_t len;
    int rc = read_meta_block(t, off, size, "bloom block", &t->bloom_mem, &len);

    if (rc != 0)
        return rc;
    if (len < SST_BLOOM_HEAD)
        return corrupt(t, "bloom block", off, "bad layout");
    t->bloom_k = t->bloom_mem[0];
    t->bloom_lines = dec_u32be(t->bloom_mem + 1);
    t->bloom_bits = t->bloom_mem + SST_BLOOM_HEAD;
    if (t->bloom_k < 1 || t->bloom_k > SST_BLOOM_MAX_K || t->bloom_lines < 1 ||
        (uint64_t)t->bloom_lines * SST_BLOOM_LINE != len - SST_BLOOM_HEAD)
        return corrupt(t, "bloom block", off, "bad layout");
    return 0;
}

/* Parse one index entry and check it continues the previous one. */
static int index_entry(struct sstable *t, struct rd *r,
                       struct sst_index_entry *e, uint64_t expect_off)
{
    uint64_t len;
    uint8_t is_header;

    if (rd_u64be(r, &e->off) || rd_u32be(r, &e->size) ||
        rd_u64be(r, (uint64_t *)&e->first.token) || rd_u8(r, &is_header) ||
        rd_varint(r, &len) || rd_bytes(r, len, &e->first.pkey))
        return CAIRN_ECORRUPT;
    e->first.pkey_len = len;
    if (rd_varint(r, &len) || rd_bytes(r, len, &e->first.ck))
        return CAIRN_ECORRUPT;
    e->first.ck_len = len;
    e->first.rank = is_header ? 0 : 1;
    e->first.pkey_min = 0;
    if (is_header > 1 || e->off != expect_off)
        return CAIRN_ECORRUPT;
    return 0;
}

static int open_index(struct sstable *t, uint64_t off, uint32_t size)
{
    uint32_t len, n;
    uint64_t expect = 0;
    struct rd r;
    int rc = read_meta_block(t, off, size, "index block", &t->index_mem, &len);

    if (rc != 0)
        return rc;
    rd_init(&r, t->index_mem, len);
    if (rd_u32be(&r, &n) || n != t->meta.blocks ||
        (uint64_t)n * SST_INDEX_FIXED > rd_left(&r))
        return corrupt(t, "index block", off, "bad block count");
    t->idx = mem_calloc(MEM_STORAGE, n ? n : 1, sizeof(*t->idx));
    t->idx_tokens = mem_calloc(MEM_STORAGE, n ? n : 1, sizeof(int64_t));
    if (t->idx == NULL || t->idx_tokens == NULL)
        return err_set(-ENOMEM, "sstable %s: index of %u blocks", t->path, n);
    for (uint32_t i = 0; i < n; i++) {
        struct sst_index_entry *e = &t->idx[i];
        if (index_entry(t, &r, e, expect) != 0 ||
            (i > 0 && sst_cmp(&t->idx[i - 1].first, &e->first) >= 0))
            return corrupt(t, "index block", off, "bad entry");
        expect = e->off + e->size + SST_TRAILER_BYTES;
        t->idx_tokens[i] = e->first.token;
    }
    if (expect != off || rd_left(&r) != 0)
        return corrupt(t, "index block", off, "blocks do not fill the file");
    t->nblocks = n;
    return 0;
}

static void sst_free(struct sstable *t)
{
    if (t->f != NULL)
        fs_close(t->f);
    mem_free(t->index_mem);
    mem_free(t->idx);
    mem_free(t->idx_tokens);
    mem_free(t->bloom_mem);
    mem_free(t->path);
    mem_free(t);
}

static int open_parts(struct sstable *t)
{
    struct sst_footer ft;
    int rc = fs_size(t->f, &t->meta.file_bytes);

    if (rc == 0)
        rc = open_footer(t, &ft);
    if (rc == 0)
        rc = open_meta(t, ft.off[2], ft.size[2]);
    if (rc == 0)
        rc = open_bloom(t, ft.off[1], ft.size[1]);
    if (rc == 0)
        rc = open_index(t, ft.off[0], ft.size[0]);
    return rc;
}

int sstable_open(struct fs *fs, const char *path, struct block_cache *cache,
                 struct sstable **out)
{
    struct sstable *t = mem_calloc(MEM_STORAGE, 1, sizeof(*t));
    int rc;

    *out = NULL;
    if (t == NULL)
        return err_set(-ENOMEM, "sstable %s", path);
    atomic_init(&t->refs, 1);
    t->fs = fs;
    t->cache = cache;
    t->id = atomic_fetch_add(&sst_next_id, 1);
    t->path = mem_strdup(MEM_STORAGE, path);
    if (t->path == NULL) {
        sst_free(t);
        return err_set(-ENOMEM, "sstable %s", path);
    }
    rc = fs_open(fs, path, FS_READ, &t->f);
    if (rc == 0)
        rc = open_parts(t);
    if (rc != 0) {
        sst_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void sstable_ref(struct sstable *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void sstable_unref(struct sstable *t)
{
    if (t != NULL &&
        atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        sst_free(t);
}

const struct sstable_meta *sstable_get_meta(const struct sstable *t)
{
    return &t->meta;
}

const char *sstable_path(const struct sstable *t)
{
    return t->path;
}

int sstable_may_contain(const struct sstable *t, const uint8_t *pkey,
                        size_t len)
{
    if (t->meta.partitions == 0)
        return 0;
    return bloom_check(t->bloom_bits, t->bloom_lines, t->bloom_k,
                       bloom_hash(pkey, len));
}

/* ---- iterators ---- */

int sstable_iter_open(struct sstable *t, struct sstable_iter **out)
{
    struct sstable_iter *it = mem_calloc(MEM_STORAGE, 1, sizeof(*it));

    *out = NULL;
    if (it == NULL)
        return err_set(-ENOMEM, "sstable %s: iterator", t->path);
    sstable_ref(t);
    it->t = t;
    it->use_cache = t->cache != NULL;
    it->blk = NO_BLOCK;
    buf_init(&it->io, MEM_STORAGE);
    buf_init(&it->raw, MEM_STORAGE);
    *out = it;
    return 0;
}

static void iter_unpin(struct sstable_iter *it)
{
    if (it->pin != NULL)
        block_cache_release(it->pin);
    it->pin = NULL;
    it->blk = NO_BLOCK;
    it->data = NULL;
    it->end = it->pos = 0;
    it->nrestarts = 0;
    it->have_part = 0;
    it->peeked = 0;
}

void sstable_iter_close(struct sstable_iter *it)
{
    if (it == NULL)
        return;
    iter_unpin(it);
    buf_free(&it->io);
    buf_free(&it->raw);
    sstable_unref(it->t);
    mem_free(it);
}

static int data_corrupt(const struct sstable_iter *it, uint32_t blk,
                        const char *why)
{
    const struct sstable *t = it->t;

    return err_set(CAIRN_ECORRUPT,
                   "sstable %s: data block %u at offset %llu: %s", t->path, blk,
                   (unsigned long long)t->idx[blk].off, why);
}

/* Read and check data block `blk` into the iterator's own buffers. */
static int load_private(struct sstable_iter *it, uint32_t blk,
                        const uint8_t **data, size_t *len)
{
    struct sstable *t = it->t;
    const struct sst_index_entry *e = &t->idx[blk];
    char what[32];
    uint8_t kind;
    uint32_t raw_len;
    int rc;

    snprintf(what, sizeof(what), "data block %u", blk);
    if (room(&it->io, (size_t)e->size + SST_TRAILER_BYTES))
        return err_set(-ENOMEM, "sstable %s: block buffer", t->path);
    rc = read_checked(t, e->off, e->size, what, it->io.data, &kind, &raw_len);
    if (rc != 0)
        return rc;
    *len = raw_len;
    if (kind == SST_COMP_NONE) {
        *data = it->io.data;
        return 0;
    }
    if (room(&it->raw, raw_len))
        return err_set(-ENOMEM, "sstable %s: block buffer", t->path);
    *data = it->raw.data;
    return inflate(t, what, e->off, it->io.data, e->size, it->raw.data,
                   raw_len);
}

/* Read and check data block `blk` into `mem` (room for it + trailer). */
static int read_data(struct sstable_iter *it, uint32_t blk, uint8_t *mem,
                     uint8_t *kind, uint32_t *raw_len)
{
    const struct sst_index_entry *e = &it->t->idx[blk];
    char what[32];

    snprintf(what, sizeof(what), "data block %u", blk);
    return read_checked(it->t, e->off, e->size, what, mem, kind, raw_len);
}

/*
 * A fresh cache block holding data block `blk`, checked. Uncompressed
 * sstables read straight into it; others go through the iterator's
 * buffer and decompress into it.
 */
static int fill_cached(struct sstable_iter *it, uint32_t blk,
                       struct block_cache_block **out)
{
    struct sstable *t = it->t;
    const struct sst_index_entry *e = &t->idx[blk];
    size_t n = (size_t)e->size + SST_TRAILER_BYTES;
    struct block_cache_block *b = NULL;
    uint8_t *mem, kind;
    uint32_t raw_len;
    char what[32];
    int rc;

    snprintf(what, sizeof(what), "data block %u", blk);
    if (!t->meta.compression) {
        b = block_cache_alloc(n, &mem);
        if (b == NULL)
            return err_set(-ENOMEM, "sstable %s: cache block", t->path);
        rc = read_data(it, blk, mem, &kind, &raw_len);
    } else {
        if (room(&it->io, n))
            return err_set(-ENOMEM, "sstable %s: block buffer", t->path);
        rc = read_data(it, blk, it->io.data, &kind, &raw_len);
        if (rc == 0 && (b = block_cache_alloc(raw_len + 1, &mem)) == NULL)
            rc = err_set(-ENOMEM, "sstable %s: cache block", t->path);
        if (rc == 0 && kind == SST_COMP_NONE)
            memcpy(mem, it->io.data, raw_len);
        else if (rc == 0)
            rc = inflate(t, what, e->off, it->io.data, e->size, mem, raw_len);
    }
    if (rc != 0) {
        if (b != NULL)
            block_cache_discard(b);
        return rc;
    }
    b->data = mem;
    b->len = raw_len;
    *out = b;
    return 0;
}

/* Make data block `blk` current: from the cache or the disk, checked. */
static int iter_load(struct sstable_iter *it, uint32_t blk)
{
    struct sstable *t = it->t;
    const uint8_t *data = NULL;
    size_t len = 0;
    uint32_t nr;
    int rc;

    iter_unpin(it);
    if (it->use_cache) {
        it->pin = block_cache_lookup(t->cache, t->id, t->idx[blk].off);
        if (it->pin == NULL) {
            struct block_cache_block *b = NULL;
            rc = fill_cached(it, blk, &b);
            if (rc != 0)
                return rc;
            it->pin = block_cache_insert(t->cache, t->id, t->idx[blk].off, b);
        }
        data = it->pin->data;
        len = it->pin->len;
    } else {
        rc = load_private(it, blk, &data, &len);
        if (rc != 0)
            return rc;
    }
    nr = len >= 4 ? dec_u32be(data + len - 4) : 0;
    if (nr == 0 || (uint64_t)nr * SST_RESTART_BYTES + 4 > len)
        return data_corrupt(it, blk, "bad restart array");
    it->blk = blk;
    it->data = data;
    it->end = len - 4 - (size_t)nr * SST_RESTART_BYTES;
    it->restarts = data + it->end;
    it->nrestarts = nr;
    return 0;
}

/* Decode the entry at `pos` of the current block; *next follows it. */
static int iter_decode(struct sstable_iter *it, size_t pos,
                       struct sstable_entry *e, size_t *next)
{
    struct rd r;
    uint8_t flags;
    uint64_t len, tok;

    rd_init(&r, it->data + pos, pos < it->end ? it->end - pos : 0);
    if (rd_u8(&r, &flags) || (flags & ~SST_ENTRY_KNOWN))
        return data_corrupt(it, it->blk, "bad entry flags");
    if (flags & SST_ENTRY_SAME_PART) {
        if (!it->have_part)
            return data_corrupt(it, it->blk, "entry without partition");
        e->token = it->token;
        e->pkey = it->pkey;
        e->pkey_len = it->pkey_len;
    } else {
        if (rd_u64be(&r, &tok) || rd_varint(&r, &len) ||
            rd_bytes(&r, len, &e->pkey))
            return data_corrupt(it, it->blk, "bad partition key");
        e->token = (int64_t)tok;
        e->pkey_len = len;
    }
    e->is_header = flags & SST_ENTRY_HEADER;
    e->ck = NULL;
    e->ck_len = 0;
    if (!e->is_header && (rd_varint(&r, &len) || rd_bytes(&r, len, &e->ck)))
        return data_corrupt(it, it->blk, "bad clustering key");
    e->ck_len = e->is_header ? 0 : len;
    if (rd_varint(&r, &len) || rd_bytes(&r, len, &e->value))
        return data_corrupt(it, it->blk, "bad value");
    e->value_len = len;
    it->have_part = 1;
    it->token = e->token;
    it->pkey = e->pkey;
    it->pkey_len = e->pkey_len;
    *next = (size_t)(r.p - it->data);
    return 0;
}

/* Decode restart entry `i` of the current block. */
static int iter_restart(struct sstable_iter *it, uint32_t i,
                        struct sstable_entry *e, size_t *next)
{
    const uint8_t *r = it->restarts + SST_RESTART_BYTES * (size_t)i;
    uint32_t off = dec_u32be(r);
    int rc;

    if (off >= it->end)
        return data_corrupt(it, it->blk, "bad restart offset");
    it->have_part = 0;
    *next = off;
    rc = iter_decode(it, off, e, next);
    if (rc == 0 && e->token != (int64_t)dec_u64be(r + 4))
        return data_corrupt(it, it->blk, "restart token differs");
    return rc;
}

/*
 * The last block whose first key is <= k, or 0. The search runs on the
 * dense token array (an eighth of the index's memory) and reads a full
 * index key only when tokens tie.
 */
static uint32_t index_find(const struct sstable *t, const struct sst_key *k)
{
    uint32_t lo = 0, hi = t->nblocks;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t tok = t->idx_tokens[mid];
        int c = tok < k->token   ? -1
                : tok > k->token ? 1
                                 : sst_cmp(&t->idx[mid].first, k);
        if (c <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
}

/*
 * Compare restart `i`'s key with k: by the token kept in the restart
 * array when it differs (no touch of the entry, which is likely far in
 * memory), else by decoding the entry.
 */
static int restart_cmp(struct sstable_iter *it, uint32_t i,
                       const struct sst_key *k, int *out)
{
    const uint8_t *r = it->restarts + SST_RESTART_BYTES * (size_t)i;
    int64_t token = (int64_t)dec_u64be(r + 4);
    struct sstable_entry e;
    struct sst_key ek;
    size_t next;
    int rc;

    if (token != k->token) {
        *out = token < k->token ? -1 : 1;
        return 0;
    }
    rc = iter_restart(it, i, &e, &next);
    if (rc != 0)
        return rc;
    entry_key(&e, &ek);
    *out = sst_cmp(&ek, k);
    return 0;
}

/* The last restart whose key is <= k, or 0. */
static int restart_find(struct sstable_iter *it, const struct sst_key *k,
                        uint32_t *out)
{
    uint32_t lo = 0, hi = it->nrestarts;
    int c, rc;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        rc = restart_cmp(it, mid, k, &c);
        if (rc != 0)
            return rc;
        if (c <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *out = lo > 0 ? lo - 1 : 0;
    return 0;
}

static int iter_seek_block(struct sstable_iter *it, const struct sst_key *k)
{
    struct sstable_entry e;
    struct sst_key ek;
    size_t pos, next;
    uint32_t r;
    int rc = restart_find(it, k, &r);

    if (rc == 0)
        rc = iter_restart(it, r, &e, &next);
    for (pos = next; rc == 0;) {
        entry_key(&e, &ek);
        if (sst_cmp(&ek, k) >= 0) {
            it->peek = e;
            it->peeked = 1;
            it->pos = pos;
            return 0;
        }
        if (pos >= it->end) {
            it->pos = pos; /* next() goes on with the following block */
            return 0;
        }
        rc = iter_decode(it, pos, &e, &next);
        pos = next;
    }
    return rc;
}

int sstable_iter_seek(struct sstable_iter *it, int64_t token,
                      const uint8_t *pkey, size_t pkey_len, const uint8_t *ck,
                      size_t ck_len)
{
    struct sst_key k = {token,      pkey, pkey_len, pkey == NULL,
                        ck != NULL, ck,   ck_len};
    uint32_t blk;
    int rc = 0;

    it->peeked = 0;
    it->err = 0;
    if (it->t->nblocks == 0)
        return 0;
    blk = index_find(it->t, &k);
    if (it->blk != blk)
        rc = iter_load(it, blk);
    if (rc == 0)
        rc = iter_seek_block(it, &k);
    if (rc != 0) {
        iter_unpin(it);
        it->err = rc;
    }
    return rc;
}

int sstable_iter_next(struct sstable_iter *it, struct sstable_entry *e)
{
    size_t next;
    int rc;

    if (it->err != 0)
        return it->err;
    if (it->peeked) {
        *e = it->peek;
        it->peeked = 0;
        return 1;
    }
    for (;;) {
        if (it->blk != NO_BLOCK && it->pos < it->end) {
            rc = iter_decode(it, it->pos, e, &next);
            if (rc != 0)
                return it->err = rc;
            it->pos = next;
            return 1;
        }
        uint32_t nb = it->blk == NO_BLOCK ? 0 : it->blk + 1;
        if (nb >= it->t->nblocks)
            return 0;
        rc = iter_load(it, nb);
        if (rc != 0)
            return it->err = rc;
    }
}

/* ---- verification ---- */

/* The previous entry of a verification pass, copied. */
struct verify_state {
    struct buf pkey, ck;
    struct sst_key key;
    int any;
    uint64_t partitions, rows;
};

static int verify_entry(struct sstable_iter *it, struct verify_state *v,
                        const struct sstable_entry *e, uint32_t *last_blk)
{
    struct sst_key k;
    int new_part;

    entry_key(e, &k);
    if (it->blk != *last_blk) {
        *last_blk = it->blk;
        if (sst_cmp(&k, &it->t->idx[it->blk].first) != 0)
            return data_corrupt(it, it->blk, "first key differs from index");
    }
    if (v->any && sst_cmp(&v->key, &k) >= 0)
        return data_corrupt(it, it->blk, "entries out of order");
    new_part = !v->any || k.token != v->key.token ||
               bytes_cmp(k.pkey, k.pkey_len, v->key.pkey, v->key.pkey_len);
    if (!new_part && e->is_header)
        return data_corrupt(it, it->blk, "header inside a partition");
    v->partitions += new_part;
    v->rows += !e->is_header;
    buf_reset(&v->pkey);
    buf_reset(&v->ck);
    if (buf_append(&v->pkey, k.pkey, k.pkey_len) ||
        buf_append(&v->ck, k.ck, k.ck_len))
        return err_set(-ENOMEM, "sstable %s: verify", it->t->path);
    v->key = k;
    v->key.pkey = v->pkey.data;
    v->key.ck = v->ck.data;
    v->any = 1;
    return 0;
}

int sstable_verify(struct sstable *t)
{
    struct verify_state v = {0};
    struct sstable_entry e;
    struct sstable_iter *it;
    uint32_t last = NO_BLOCK;
    int rc = sstable_iter_open(t, &it);

    if (rc != 0)
        return rc;
    it->use_cache = 0;
    buf_init(&v.pkey, MEM_STORAGE);
    buf_init(&v.ck, MEM_STORAGE);
    while ((rc = sstable_iter_next(it, &e)) == 1) {
        rc = verify_entry(it, &v, &e, &last);
        if (rc != 0)
            break;
    }
    if (rc == 0 &&
        (v.partitions != t->meta.partitions || v.rows != t->meta.rows))
        rc = err_set(CAIRN_ECORRUPT,
                     "sstable %s: meta block counts %llu partitions and "
                     "%llu rows, data blocks hold %llu and %llu",
                     t->path, (unsigned long long)t->meta.partitions,
                     (unsigned long long)t->meta.rows,
                     (unsigned long long)v.partitions,
                     (unsigned long long)v.rows);
    buf_free(&v.pkey);
    buf_free(&v.ck);
    sstable_iter_close(it);
    return rc;
}
