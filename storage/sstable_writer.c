/*
 * sstable_writer.c -- writes one sstable (docs/sstable-format.md).
 *
 * Entries stream into an in-memory block; when it passes the target size
 * it gets its restart array, is LZ4-compressed (when that helps), framed
 * with its trailer and appended to "<name>.tmp", and its first key joins
 * the index. finish() appends index, bloom, meta and footer, fsyncs,
 * renames and fsyncs the directory. The writer belongs to one thread.
 * Input that breaks the order is refused without changing the writer; an
 * I/O error poisons it (every later call returns that error).
 */
#include <lz4.h>
#include <string.h>
#include <xxhash.h>

#include "common/buf.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/token.h"
#include "storage/bloom.h"
#include "storage/fs.h"
#include "storage/sstable.h"
#include "storage/sstable_format.h"

struct sstable_writer {
    struct fs *fs;
    struct fs_file *f;
    char *path, *tmp;
    size_t block_bytes;
    int compression, bloom_bits;
    int failed;  /* first I/O error, returned by every later call */
    int renamed; /* the tmp file has its final name */

    uint64_t off;        /* bytes appended so far */
    struct buf blk;      /* entries of the block being built */
    struct buf restarts; /* its restart offsets, u32be each */
    uint32_t nentries;   /* entries in blk */
    struct buf first;    /* index key of blk's first entry */
    struct buf out;      /* compressed block and trailer */
    struct buf index;    /* count placeholder, then index entries */
    uint32_t nblocks;
    struct buf hashes; /* bloom hashes of every partition key */

    int in_part;            /* a partition is open */
    int64_t token;          /* of the open partition */
    struct buf pkey;        /* of the open partition */
    uint64_t part_entries;  /* entries of the open partition so far */
    uint32_t part_in_block; /* of those, in the current block */
    int has_row;            /* the partition has a row; ck holds the last */
    struct buf ck;

    struct sstable_meta meta; /* counters for the meta block */
};

static void w_free(struct sstable_writer *w)
{
    buf_free(&w->blk);
    buf_free(&w->restarts);
    buf_free(&w->first);
    buf_free(&w->out);
    buf_free(&w->index);
    buf_free(&w->hashes);
    buf_free(&w->pkey);
    buf_free(&w->ck);
    mem_free(w->path);
    mem_free(w->tmp);
    mem_free(w);
}

static void w_options(struct sstable_writer *w,
                      const struct sstable_writer_options *o)
{
    w->block_bytes =
        o && o->block_bytes ? o->block_bytes : SST_DEFAULT_BLOCK_BYTES;
    if (w->block_bytes > SST_MAX_ENTRY_BYTES)
        w->block_bytes = SST_MAX_ENTRY_BYTES;
    w->compression = o ? !!o->compression : 1;
    w->bloom_bits = o && o->bloom_bits_per_key > 0 ? o->bloom_bits_per_key
                                                   : SST_DEFAULT_BLOOM_BITS;
    if (o && o->expected_keys > 0 && o->expected_keys < (1u << 26))
        buf_reserve(&w->hashes, o->expected_keys * sizeof(uint64_t));
}

int sstable_writer_open(struct fs *fs, const char *path,
                        const struct sstable_writer_options *o,
                        struct sstable_writer **out)
{
    struct sstable_writer *w = mem_calloc(MEM_STORAGE, 1, sizeof(*w));
    size_t n = strlen(path);
    int rc;

    *out = NULL;
    if (w == NULL)
        return err_set(-ENOMEM, "sstable writer for %s", path);
    buf_init(&w->blk, MEM_STORAGE);
    buf_init(&w->restarts, MEM_STORAGE);
    buf_init(&w->first, MEM_STORAGE);
    buf_init(&w->out, MEM_STORAGE);
    buf_init(&w->index, MEM_STORAGE);
    buf_init(&w->hashes, MEM_STORAGE);
    buf_init(&w->pkey, MEM_STORAGE);
    buf_init(&w->ck, MEM_STORAGE);
    w->fs = fs;
    w->path = mem_strdup(MEM_STORAGE, path);
    w->tmp = mem_alloc(MEM_STORAGE, n + 5);
    if (w->path == NULL || w->tmp == NULL || buf_put_u32be(&w->index, 0)) {
        w_free(w);
        return err_set(-ENOMEM, "sstable writer for %s", path);
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w_options(w, o);
    w->meta.min_token = INT64_MAX;
    w->meta.max_token = INT64_MIN;
    rc = fs_open(fs, w->tmp, FS_WRITE | FS_CREATE | FS_TRUNC, &w->f);
    if (rc != 0) {
        /* The open may have failed after creating the file. */
        if (fs_exists(fs, w->tmp) == 1)
            fs_unlink(fs, w->tmp);
        w_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/*
 * Frame `raw` as a block (compressed when asked and useful), append it
 * and return its handle. `raw` may be grown: the trailer is appended to
 * it when the block is stored as is.
 */
static int w_block(struct sstable_writer *w, struct buf *raw, int compress,
                   uint64_t *off, uint32_t *size)
{
    struct buf *b = raw;
    uint8_t kind = SST_COMP_NONE;
    uint32_t raw_len = (uint32_t)raw->len;
    uint8_t t[SST_TRAILER_BYTES];
    int rc;

    if (compress && raw->len > 0) {
        int bound = LZ4_compressBound((int)raw->len);
        buf_reset(&w->out);
        if (buf_reserve(&w->out, (size_t)bound + SST_TRAILER_BYTES))
            return err_set(-ENOMEM, "sstable %s: block buffer", w->path);
        int n = LZ4_compress_default((const char *)raw->data,
                                     (char *)w->out.data, (int)raw->len, bound);
        if (n > 0 && (size_t)n < raw->len) {
            w->out.len = (size_t)n;
            b = &w->out;
            kind = SST_COMP_LZ4;
        }
    }
    *off = w->off;
    *size = (uint32_t)b->len;
    t[0] = kind;
    enc_u32be(t + 1, raw_len);
    if (buf_append(b, t, SST_TRAILER_CSUM_AT))
        return err_set(-ENOMEM, "sstable %s: block buffer", w->path);
    enc_u64be(t + SST_TRAILER_CSUM_AT, XXH64(b->data, b->len, 0));
    if (buf_append(b, t + SST_TRAILER_CSUM_AT, 8))
        return err_set(-ENOMEM, "sstable %s: block buffer", w->path);
    rc = fs_append(w->f, b->data, b->len);
    if (rc != 0)
        return rc;
    w->off += b->len;
    return 0;
}

/* Close the current data block: restarts, write, index entry. */
static int w_flush_block(struct sstable_writer *w)
{
    uint64_t off;
    uint32_t size;
    uint8_t h[12];
    int rc;

    if (w->nentries == 0)
        return 0;
    if (buf_append(&w->blk, w->restarts.data, w->restarts.len) ||
        buf_put_u32be(&w->blk, (uint32_t)(w->restarts.len / SST_RESTART_BYTES)))
        return err_set(-ENOMEM, "sstable %s: block buffer", w->path);
    rc = w_block(w, &w->blk, w->compression, &off, &size);
    if (rc != 0)
        return rc;
    w->meta.data_bytes += size + SST_TRAILER_BYTES;
    enc_u64be(h, off);
    enc_u32be(h + 8, size);
    if (buf_append(&w->index, h, sizeof(h)) ||
        buf_append(&w->index, w->first.data, w->first.len))
        return err_set(-ENOMEM, "sstable %s: index buffer", w->path);
    w->nblocks++;
    w->nentries = 0;
    w->part_in_block = 0;
    buf_reset(&w->blk);
    buf_reset(&w->restarts);
    return 0;
}

/* Remember the key of a block's first entry, as the index stores it. */
static int w_first_key(struct sstable_writer *w, int is_header,
                       const uint8_t *ck, size_t ck_len)
{
    uint8_t t[9];

    buf_reset(&w->first);
    enc_u64be(t, (uint64_t)w->token);
    t[8] = (uint8_t)is_header;
    if (buf_append(&w->first, t, sizeof(t)) ||
        buf_put_lenbytes(&w->first, w->pkey.data, w->pkey.len) ||
        buf_put_lenbytes(&w->first, ck, ck_len))
        return -ENOMEM;
    return 0;
}

/* Encode one entry into the block (format: "Data blocks"). */
static int w_encode(struct sstable_writer *w, int is_header, const uint8_t *ck,
                    size_t ck_len, const void *val, size_t vlen)
{
    int restart = w->nentries % SST_RESTART_INTERVAL == 0;
    uint8_t flags = is_header ? SST_ENTRY_HEADER : 0;
    struct buf *b = &w->blk;
    uint8_t tok[8];

    if (!restart && w->part_in_block > 0)
        flags |= SST_ENTRY_SAME_PART;
    if (restart && (buf_put_u32be(&w->restarts, (uint32_t)b->len) ||
                    buf_put_u64be(&w->restarts, (uint64_t)w->token)))
        return -ENOMEM;
    if (w->nentries == 0 && w_first_key(w, is_header, ck, ck_len))
        return -ENOMEM;
    if (buf_put_u8(b, flags))
        return -ENOMEM;
    if (!(flags & SST_ENTRY_SAME_PART)) {
        enc_u64be(tok, (uint64_t)w->token);
        if (buf_append(b, tok, 8) ||
            buf_put_lenbytes(b, w->pkey.data, w->pkey.len))
            return -ENOMEM;
    }
    if (!is_header && buf_put_lenbytes(b, ck, ck_len))
        return -ENOMEM;
    if (buf_put_lenbytes(b, val, vlen))
        return -ENOMEM;
    return 0;
}

static int w_entry(struct sstable_writer *w, int is_header, const uint8_t *ck,
                   size_t ck_len, const void *val, size_t vlen)
{
    int rc = w_encode(w, is_header, ck, ck_len, val, vlen);

    if (rc != 0) {
        w->failed = err_set(-ENOMEM, "sstable %s: block buffer", w->path);
        return w->failed;
    }
    w->nentries++;
    w->part_in_block++;
    w->part_entries++;
    if (w->blk.len >= w->block_bytes) {
        rc = w_flush_block(w);
        if (rc != 0)
            w->failed = rc;
    }
    return rc;
}

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0; /* an empty key may be NULL */

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* A partition with neither header nor rows is kept as an empty header. */
static int w_end_partition(struct sstable_writer *w)
{
    if (!w->in_part || w->part_entries > 0)
        return 0;
    return w_entry(w, 1, NULL, 0, NULL, 0);
}

static int w_check_partition(struct sstable_writer *w, int64_t token,
                             const uint8_t *pkey, size_t len, size_t hlen)
{
    if (w->failed)
        return w->failed;
    if (len + hlen > SST_MAX_ENTRY_BYTES)
        return err_set(CAIRN_ETOOBIG,
                       "sstable %s: partition key of %zu bytes and header "
                       "of %zu bytes exceed %u bytes",
                       w->path, len, hlen, SST_MAX_ENTRY_BYTES);
    if (w->in_part && (token < w->token ||
                       (token == w->token &&
                        bytes_cmp(pkey, len, w->pkey.data, w->pkey.len) <= 0)))
        return err_set(-EINVAL,
                       "sstable %s: partition out of order (token %lld "
                       "after %lld)",
                       w->path, (long long)token, (long long)w->token);
    return 0;
}

int sstable_writer_partition(struct sstable_writer *w, const uint8_t *pkey,
                             size_t pkey_len, const void *header,
                             size_t header_len)
{
    int64_t token = token_of(pkey, pkey_len);
    uint64_t h = bloom_hash(pkey, pkey_len);
    int rc = w_check_partition(w, token, pkey, pkey_len, header_len);

    if (rc != 0)
        return rc;
    rc = w_end_partition(w);
    if (rc != 0)
        return rc;
    buf_reset(&w->pkey);
    if (buf_append(&w->pkey, pkey, pkey_len) ||
        buf_append(&w->hashes, &h, sizeof(h)))
        return w->failed = err_set(-ENOMEM, "sstable %s: keys", w->path);
    w->in_part = 1;
    w->token = token;
    w->part_entries = 0;
    w->part_in_block = 0;
    w->has_row = 0;
    w->meta.partitions++;
    if (token < w->meta.min_token)
        w->meta.min_token = token;
    if (token > w->meta.max_token)
        w->meta.max_token = token;
    return header_len > 0 ? w_entry(w, 1, NULL, 0, header, header_len) : 0;
}

int sstable_writer_row(struct sstable_writer *w, const uint8_t *ck,
                       size_t ck_len, const void *row, size_t row_len)
{
    int rc;

    if (w->failed)
        return w->failed;
    if (!w->in_part)
        return err_set(-EINVAL, "sstable %s: row before any partition",
                       w->path);
    if (ck_len + row_len + w->pkey.len > SST_MAX_ENTRY_BYTES)
        return err_set(CAIRN_ETOOBIG,
                       "sstable %s: row of %zu bytes exceeds %u bytes", w->path,
                       ck_len + row_len, SST_MAX_ENTRY_BYTES);
    if (w->has_row && bytes_cmp(ck, ck_len, w->ck.data, w->ck.len) <= 0)
        return err_set(-EINVAL,
                       "sstable %s: clustering key out of order in "
                       "partition of token %lld",
                       w->path, (long long)w->token);
    rc = w_entry(w, 0, ck, ck_len, row, row_len);
    if (rc != 0)
        return rc;
    buf_reset(&w->ck);
    if (buf_append(&w->ck, ck, ck_len))
        return w->failed = err_set(-ENOMEM, "sstable %s: keys", w->path);
    w->has_row = 1;
    w->meta.rows++;
    return 0;
}

static int w_bloom(struct sstable_writer *w, uint64_t *off, uint32_t *size)
{
    size_t n = w->hashes.len / sizeof(uint64_t);
    uint32_t lines = bloom_lines(n, w->bloom_bits);
    int k = bloom_k(w->bloom_bits);
    const uint64_t *hs = (const uint64_t *)w->hashes.data;
    size_t bytes = (size_t)lines * SST_BLOOM_LINE;
    struct buf *b = &w->blk;
    int rc;

    buf_reset(b);
    if (buf_put_u8(b, (uint8_t)k) || buf_put_u32be(b, lines) ||
        buf_reserve(b, bytes + SST_TRAILER_BYTES))
        return err_set(-ENOMEM, "sstable %s: bloom of %zu bytes", w->path,
                       bytes);
    memset(b->data + b->len, 0, bytes);
    for (size_t i = 0; i < n; i++)
        bloom_add(b->data + b->len, lines, k, hs[i]);
    b->len += bytes;
    rc = w_block(w, b, 0, off, size);
    buf_reset(b);
    return rc;
}

static int w_meta(struct sstable_writer *w, const struct sstable_stats_in *st,
                  uint64_t *off, uint32_t *size)
{
    struct sstable_stats_in zero = {0};
    uint8_t *p;
    int rc;

    if (st == NULL)
        st = &zero;
    buf_reset(&w->blk);
    if (buf_reserve(&w->blk, SST_META_BYTES + SST_TRAILER_BYTES))
        return err_set(-ENOMEM, "sstable %s: meta", w->path);
    p = w->blk.data;
    memset(p, 0, SST_META_BYTES);
    enc_u64be(p, (uint64_t)w->meta.min_token);
    enc_u64be(p + 8, (uint64_t)w->meta.max_token);
    enc_u64be(p + 16, w->meta.partitions);
    enc_u64be(p + 24, w->meta.rows);
    enc_u64be(p + 32, w->nblocks);
    enc_u64be(p + 40, w->meta.data_bytes);
    p[48] = (uint8_t)w->compression;
    enc_u64be(p + 49, (uint64_t)st->min_ts);
    enc_u64be(p + 57, (uint64_t)st->max_ts);
    enc_u64be(p + 65, (uint64_t)st->min_deleted_s);
    enc_u64be(p + 73, st->tombstones);
    enc_u64be(p + 81, st->table_id);
    enc_u64be(p + 89, st->level);
    w->blk.len = SST_META_BYTES;
    rc = w_block(w, &w->blk, 0, off, size);
    buf_reset(&w->blk);
    return rc;
}

/* Index, bloom, meta and footer, in that order. */
static int w_tail(struct sstable_writer *w, const struct sstable_stats_in *st)
{
    uint8_t f[SST_FOOTER_BYTES] = {0};
    uint64_t off;
    uint32_t size;
    int rc;

    enc_u32be(w->index.data, w->nblocks);
    rc = w_block(w, &w->index, w->compression, &off, &size);
    if (rc != 0)
        return rc;
    enc_u64be(f, off);
    enc_u32be(f + 8, size);
    rc = w_bloom(w, &off, &size);
    if (rc != 0)
        return rc;
    enc_u64be(f + 12, off);
    enc_u32be(f + 20, size);
    rc = w_meta(w, st, &off, &size);
    if (rc != 0)
        return rc;
    enc_u64be(f + 24, off);
    enc_u32be(f + 32, size);
    enc_u32be(f + 36, SST_FORMAT_VERSION);
    enc_u64be(f + SST_FOOTER_CSUM_AT, XXH64(f, SST_FOOTER_CSUM_AT, 0));
    enc_u64be(f + SST_FOOTER_MAGIC, SST_MAGIC);
    return fs_append(w->f, f, sizeof(f));
}

/* fsync the directory holding `path`. */
static int w_sync_dir(struct fs *fs, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int rc;

    if (slash == NULL)
        return fs_fsync_dir(fs, ".");
    if (slash == path)
        return fs_fsync_dir(fs, "/");
    dir = mem_memdup(MEM_STORAGE, path, (size_t)(slash - path) + 1);
    if (dir == NULL)
        return err_set(-ENOMEM, "directory of %s", path);
    dir[slash - path] = '\0';
    rc = fs_fsync_dir(fs, dir);
    mem_free(dir);
    return rc;
}

int sstable_writer_finish(struct sstable_writer *w,
                          const struct sstable_stats_in *st)
{
    int rc = w->failed;

    if (rc == 0)
        rc = w_end_partition(w);
    if (rc == 0)
        rc = w_flush_block(w);
    if (rc == 0)
        rc = w_tail(w, st);
    if (rc == 0)
        rc = fs_fsync(w->f);
    if (rc == 0) {
        rc = fs_close(w->f);
        w->f = NULL;
    }
    if (rc == 0)
        rc = fs_rename(w->fs, w->tmp, w->path);
    w->renamed = rc == 0;
    if (rc == 0)
        rc = w_sync_dir(w->fs, w->path);
    if (rc != 0) {
        sstable_writer_abort(w);
        return rc;
    }
    w_free(w);
    return 0;
}

void sstable_writer_abort(struct sstable_writer *w)
{
    if (w == NULL)
        return;
    if (w->f != NULL)
        fs_close(w->f);
    if (!w->renamed)
        fs_unlink(w->fs, w->tmp);
    w_free(w);
}
