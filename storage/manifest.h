/*
 * manifest.h -- the durable list of tables and live sstables (format in
 * docs/manifest-format.md). Saving replaces the whole file atomically:
 * temp file, fsync, rename, directory fsync.
 */
#ifndef CAIRN_STORAGE_MANIFEST_H
#define CAIRN_STORAGE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define MANIFEST_MAGIC   0x434D414Eu /* "CMAN" */
#define MANIFEST_VERSION 1u
#define MANIFEST_NAME    "MANIFEST"

struct fs;

struct manifest_table {
    uint64_t id;
    struct storage_table_options o;
    uint64_t replay_from; /* commit log position */
    uint64_t *ssts;       /* file ids */
    size_t nssts;
};

struct manifest {
    uint64_t next_file;
    uint64_t log_segment;
    struct manifest_table *t;
    size_t n;
};

/*
 * manifest_load -- read <dir>/MANIFEST into *m (empty when missing).
 * CAIRN_ECORRUPT names the file when it fails a check.
 */
int manifest_load(struct fs *fs, const char *dir, struct manifest *m);

/* manifest_save -- atomically replace <dir>/MANIFEST with *m. */
int manifest_save(struct fs *fs, const char *dir, const struct manifest *m);

/* manifest_free -- release what load (or the caller) allocated. */
void manifest_free(struct manifest *m);

#endif /* CAIRN_STORAGE_MANIFEST_H */
