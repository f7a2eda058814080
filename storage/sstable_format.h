/*
 * sstable_format.h -- the constants of the sstable file format, shared by
 * the writer and the reader (sstable.c) and the offline tool. The format
 * itself, offset by offset, is docs/sstable-format.md; a change here is a
 * change of the on-disk format and needs a new SST_FORMAT_VERSION.
 */
#ifndef CAIRN_STORAGE_SSTABLE_FORMAT_H
#define CAIRN_STORAGE_SSTABLE_FORMAT_H

#define SST_MAGIC          0x434149524E535354ull /* "CAIRNSST" */
#define SST_FORMAT_VERSION 1u

/* Block trailer: compression (1), raw_len (4), XXH64 (8). */
#define SST_TRAILER_BYTES   13u
#define SST_TRAILER_CSUM_AT 5u /* checksum offset inside the trailer */
#define SST_COMP_NONE       0u
#define SST_COMP_LZ4        1u

/* Footer: three handles, version, reserved, checksum, magic. */
#define SST_FOOTER_BYTES   64u
#define SST_FOOTER_CSUM_AT 48u
#define SST_FOOTER_MAGIC   56u

/* Data block entries. */
#define SST_ENTRY_HEADER     0x01u /* partition header entry, no ck */
#define SST_ENTRY_SAME_PART  0x02u /* token and pkey of the previous entry */
#define SST_ENTRY_KNOWN      0x03u /* every other flag bit must be zero */
#define SST_RESTART_INTERVAL 8u
#define SST_RESTART_BYTES    12u /* offset u32, token i64 */

/* Index block: count (4), then per entry at least these fixed bytes. */
#define SST_INDEX_FIXED 21u /* offset 8, size 4, token 8, is_header 1 */

/* Meta block: fixed size. */
#define SST_META_BYTES 105u

/* Bloom block: k (1), lines (4), then 64-byte lines. */
#define SST_BLOOM_HEAD  5u
#define SST_BLOOM_LINE  64u
#define SST_BLOOM_SEED  0x63616972ull
#define SST_BLOOM_MAX_K 16

/* Defaults of struct sstable_writer_options when a field is zero. */
#define SST_DEFAULT_BLOCK_BYTES (16u * 1024u)
#define SST_DEFAULT_BLOOM_BITS  10
#define SST_MAX_ENTRY_BYTES     (256u * 1024u * 1024u)

#endif /* CAIRN_STORAGE_SSTABLE_FORMAT_H */
