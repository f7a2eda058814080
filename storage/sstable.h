/*
 * sstable.h -- immutable sorted files: the contract between the engine
 * (engine.c, compaction, flush) and the file format (sstable.c).
 *
 * An sstable holds partitions in (token, partition key) order; inside a
 * partition, an optional header entry (the engine's partition-level
 * tombstones, opaque here) comes first, then rows in bytewise clustering
 * key order. Row and header payloads are opaque bytes: their meaning is
 * the engine's. The format (docs/sstable-format.md, constants in
 * sstable_format.h) stores them in blocks of about 16 KiB, LZ4-compressed
 * or not, each with an XXH64 checksum verified on every read; a block
 * index keyed by the first (token, pkey, ck) of each block, so a slice of
 * a huge partition reads only its blocks; a bloom filter on partition
 * keys; metadata; and a footer with magic and format version.
 *
 * A writer writes to "<name>.tmp", and sstable_writer_finish() fsyncs it,
 * renames it to its final name and fsyncs the directory, so a final name
 * on disk always holds a complete file. Readers are reference-counted and
 * safe to share between threads; iterators belong to one thread.
 */
#ifndef CAIRN_STORAGE_SSTABLE_H
#define CAIRN_STORAGE_SSTABLE_H

#include <stddef.h>
#include <stdint.h>

struct fs;
struct block_cache;
struct sstable;
struct sstable_writer;
struct sstable_iter;

struct sstable_writer_options {
    size_t block_bytes;     /* uncompressed block target; 16 KiB default */
    int compression;        /* 1: LZ4; 0: stored as is */
    int bloom_bits_per_key; /* 10 default */
    uint64_t expected_keys; /* partitions expected, to size the bloom */
};

/* What the engine knows about the data it wrote; kept in the metadata. */
struct sstable_stats_in {
    int64_t min_ts, max_ts; /* over every cell and tombstone */
    int64_t min_deleted_s;  /* earliest tombstone deletion time */
    uint64_t tombstones;    /* of every scope */
    uint64_t table_id;
    uint64_t level; /* compaction generation, for tiering */
};

/* The metadata of an open sstable. */
struct sstable_meta {
    uint32_t format_version;
    int64_t min_token, max_token;
    uint64_t partitions, rows, blocks;
    uint64_t data_bytes; /* compressed size of the data blocks */
    uint64_t file_bytes;
    int compression;
    struct sstable_stats_in stats;
};

/*
 * sstable_writer_open -- start writing `path` (it appears as path.tmp
 * until finished). Returns 0 and *out, or a negative code.
 */
int sstable_writer_open(struct fs *fs, const char *path,
                        const struct sstable_writer_options *o,
                        struct sstable_writer **out);

/*
 * sstable_writer_partition -- begin the next partition; keys must come in
 * strictly increasing (token_of(pkey), pkey) order (-EINVAL otherwise).
 * `header` (may be empty) is the partition's header entry.
 */
int sstable_writer_partition(struct sstable_writer *w, const uint8_t *pkey,
                             size_t pkey_len, const void *header,
                             size_t header_len);

/*
 * sstable_writer_row -- add a row to the current partition; clustering
 * keys must strictly increase within it (-EINVAL otherwise).
 */
int sstable_writer_row(struct sstable_writer *w, const uint8_t *ck,
                       size_t ck_len, const void *row, size_t row_len);

/*
 * sstable_writer_finish -- write index, bloom, metadata and footer, fsync,
 * rename to the final path and fsync the directory. The writer is freed
 * whatever the outcome; on failure the temporary file is removed.
 */
int sstable_writer_finish(struct sstable_writer *w,
                          const struct sstable_stats_in *st);

/* sstable_writer_abort -- give up: free the writer, remove the tmp file. */
void sstable_writer_abort(struct sstable_writer *w);

/*
 * sstable_open -- open a finished sstable: check footer, metadata, index
 * and bloom (each checksummed), using `cache` (may be NULL) for blocks.
 * CAIRN_ECORRUPT names the file and the part that failed.
 */
int sstable_open(struct fs *fs, const char *path, struct block_cache *cache,
                 struct sstable **out);

void sstable_ref(struct sstable *t);
void sstable_unref(struct sstable *t); /* closes at zero */

const struct sstable_meta *sstable_get_meta(const struct sstable *t);
const char *sstable_path(const struct sstable *t);

/* sstable_may_contain -- 0 when the bloom filter rules `pkey` out. */
int sstable_may_contain(const struct sstable *t, const uint8_t *pkey,
                        size_t len);

/* One entry under an iterator; valid until the iterator moves. */
struct sstable_entry {
    int64_t token;
    const uint8_t *pkey;
    size_t pkey_len;
    int is_header; /* 1: partition header entry (ck empty) */
    const uint8_t *ck;
    size_t ck_len;
    const uint8_t *value;
    size_t value_len;
};

/* sstable_iter_open -- an iterator positioned before the first entry. */
int sstable_iter_open(struct sstable *t, struct sstable_iter **out);
void sstable_iter_close(struct sstable_iter *it);

/*
 * sstable_iter_seek -- position so that the next sstable_iter_next()
 * yields the first entry at or after (token, pkey, ck), where a header
 * entry sorts before every row of its partition. pkey NULL: the first
 * entry of `token`. Reads only the blocks it needs.
 */
int sstable_iter_seek(struct sstable_iter *it, int64_t token,
                      const uint8_t *pkey, size_t pkey_len, const uint8_t *ck,
                      size_t ck_len);

/*
 * sstable_iter_next -- advance: 1 and *e filled, 0 at the end, or a
 * negative code (CAIRN_ECORRUPT naming file and block offset).
 */
int sstable_iter_next(struct sstable_iter *it, struct sstable_entry *e);

/*
 * sstable_verify -- read and check every block; 0 or CAIRN_ECORRUPT with
 * the first damaged block. For compaction's refusal and the offline tool.
 */
int sstable_verify(struct sstable *t);

/* ---- the block cache: uncompressed blocks, LRU, bounded in bytes ---- */

struct block_cache *block_cache_new(size_t capacity_bytes);
void block_cache_free(struct block_cache *c);

struct block_cache_stats {
    uint64_t bytes, capacity, hits, misses, entries;
};
void block_cache_get_stats(struct block_cache *c,
                           struct block_cache_stats *out);

#endif /* CAIRN_STORAGE_SSTABLE_H */
