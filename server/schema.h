/*
 * schema.h -- the node's keyspaces and tables, kept durably in the data
 * directory (file "schema"; format in docs/protocol.md, "Schema file").
 *
 * Every change builds a new version of the whole schema, writes it to a
 * temporary file, fsyncs it, renames it over the old one and fsyncs the
 * directory, and only then publishes it; so a change is either on disk
 * and visible, or neither, and a crash leaves the old or the new file.
 * Changes are serialised by one mutex and may block on the disk: call
 * them off the event loops. Lookups copy what they need under a short
 * lock that no disk operation ever holds, so the loops may call them.
 *
 * A table's id is a hash of its keyspace, its name and how many times
 * each was dropped before (kept in the file): the same CREATE TABLE on two
 * nodes at once gives one id (C25), and a table re-created after a drop
 * never shares an id with its old data. The drop counts also serve as
 * tombstones when a peer's schema is merged in (schema_merge).
 */
#ifndef CAIRN_SERVER_SCHEMA_H
#define CAIRN_SERVER_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "server/validate.h"
#include "storage/storage.h"

struct schema;

struct schema_ks {
    char name[VALIDATE_NAME_MAX + 1];
    uint32_t rf;
};

struct schema_table {
    char ks[VALIDATE_NAME_MAX + 1];
    char name[VALIDATE_NAME_MAX + 1];
    uint64_t id;
    struct storage_table_options opts;
};

/*
 * schema_open -- load `<dir>/schema` (an absent file is an empty schema).
 * CAIRN_ECORRUPT (detail names the file) when it fails its checks; -errno
 * when it cannot be read.
 */
int schema_open(const char *dir, struct schema **out);

/* schema_close -- release it; NULL is ignored. */
void schema_close(struct schema *s);

/* schema_version -- bumped by every change; 0 for a new node. */
uint64_t schema_version(struct schema *s);

/*
 * schema_create_keyspace -- add keyspace `name`. CAIRN_EEXISTS unless
 * `if_not_exists` (then 0 and nothing changes).
 */
int schema_create_keyspace(struct schema *s, const char *name, uint32_t rf,
                           int if_not_exists);

/*
 * schema_drop_keyspace -- remove keyspace `name` and its tables; their ids
 * join the pending drops (schema_pending_drops). CAIRN_ENOKEYSPACE unless
 * `if_exists`.
 */
int schema_drop_keyspace(struct schema *s, const char *name, int if_exists);

/*
 * schema_create_table -- add table `ks`.`name` with a new id (*id).
 * *created is 0 when it existed and `if_not_exists` was given.
 * CAIRN_ENOKEYSPACE, CAIRN_EEXISTS.
 */
int schema_create_table(struct schema *s, const char *ks, const char *name,
                        const struct storage_table_options *o,
                        int if_not_exists, uint64_t *id, int *created);

/*
 * schema_drop_table -- remove `ks`.`name`; its id joins the pending drops.
 * CAIRN_ENOKEYSPACE, CAIRN_ENOTABLE (unless `if_exists`).
 */
int schema_drop_table(struct schema *s, const char *ks, const char *name,
                      int if_exists);

/*
 * schema_pending_drops -- ids removed from the schema whose storage drop
 * is not yet confirmed; *ids from mem_alloc, freed by the caller.
 */
int schema_pending_drops(struct schema *s, uint64_t **ids, size_t *n);

/* schema_drop_done -- storage dropped `id`; forget it durably. */
int schema_drop_done(struct schema *s, uint64_t id);

/* schema_keyspace -- copy keyspace `name`; CAIRN_ENOKEYSPACE. */
int schema_keyspace(struct schema *s, const char *name, struct schema_ks *out);

/*
 * schema_table -- copy table `ks`.`name` and its keyspace's rf;
 * CAIRN_ENOKEYSPACE or CAIRN_ENOTABLE with a detail naming it.
 */
int schema_table(struct schema *s, const char *ks, const char *name,
                 struct schema_table *out, uint32_t *rf);

/* schema_list_keyspaces -- a copy of all keyspaces (mem_alloc'ed). */
int schema_list_keyspaces(struct schema *s, struct schema_ks **out, size_t *n);

/* schema_list_tables -- a copy of `ks`'s tables; CAIRN_ENOKEYSPACE. */
int schema_list_tables(struct schema *s, const char *ks,
                       struct schema_table **out, size_t *n);

/* schema_all_tables -- a copy of every table (mem_alloc'ed). */
int schema_all_tables(struct schema *s, struct schema_table **out, size_t *n);

/* A drop counter: of keyspace `ks` (table "") or of table ks.table. */
struct schema_drop_count {
    char ks[VALIDATE_NAME_MAX + 1];
    char table[VALIDATE_NAME_MAX + 1];
    uint32_t count;
};

/* A whole schema, as exchanged between peers. Arrays from mem_alloc. */
struct schema_image {
    struct schema_ks *ks;
    size_t nks;
    struct schema_table *tables;
    size_t ntables;
    struct schema_drop_count *drops;
    size_t ndrops;
};

/* schema_export -- a copy of the whole schema into `im`; 0 or -ENOMEM. */
int schema_export(struct schema *s, struct schema_image *im);

/* schema_image_free -- release the arrays of `im`. */
void schema_image_free(struct schema_image *im);

/*
 * schema_merge -- take in a peer's schema `r`: a higher drop count there
 * drops our older keyspace or table; a keyspace or table we lack, of the
 * current incarnation, is added with the peer's id. Tables added are
 * copied to *created (mem_alloc, caller frees; may be NULL when none);
 * dropped ones join the pending drops. Returns 0 or an error (nothing
 * changed then).
 */
int schema_merge(struct schema *s, const struct schema_image *r,
                 struct schema_table **created, size_t *ncreated);

/* schema_table_id -- the id a table gets from its names and drop counts */
uint64_t schema_table_id(const char *ks, uint32_t ks_drops, const char *name,
                         uint32_t table_drops);

#endif /* CAIRN_SERVER_SCHEMA_H */
