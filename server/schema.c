/*
 * schema.c -- durable keyspaces and tables (schema.h).
 *
 * The schema is a small immutable value (struct sch_state). A change
 * copies it, edits the copy, writes the copy to disk and then swaps the
 * published pointer under `cur_lock`; readers copy entries out under the
 * same lock. `ddl_lock` serialises changes and is the only lock held
 * across disk I/O.
 *
 * File layout (big-endian): "CAIRNSCH" magic, u32 format version (1),
 * u32 payload length, u64 XXH64 of the payload (seed 0), then the payload:
 * a cairn.SchemaFile protobuf message.
 */
#include "server/schema.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"
#include "proto/schema.pb-c.h"
#include "server/frame.h"

#define SCH_MAGIC    "CAIRNSCH"
#define SCH_VERSION  1
#define SCH_HDR      24
#define SCH_MAX_FILE (64u << 20)

struct sch_state {
    struct schema_ks *ks;
    size_t nks;
    struct schema_table *tables;
    size_t ntables;
    uint64_t *dropped;
    size_t ndropped;
    struct schema_drop_count *drops;
    size_t ndrops;
    uint64_t version;
    uint64_t last_id;
};

struct schema {
    char path[4096], tmp[4096], dir[4096];
    pthread_mutex_t ddl_lock; /* serialises changes; held over disk I/O */
    pthread_mutex_t cur_lock; /* guards `cur` only; never over I/O */
    struct sch_state *cur;
};

static void sch_free(struct sch_state *st)
{
    if (st == NULL)
        return;
    mem_free(st->ks);
    mem_free(st->tables);
    mem_free(st->dropped);
    mem_free(st->drops);
    mem_free(st);
}

/* sch_copy_more -- a deep copy of `st` with room for `more` more of
 * everything. */
static struct sch_state *sch_copy_more(const struct sch_state *st, size_t more)
{
    struct sch_state *c = mem_calloc(MEM_SERVER, 1, sizeof(*c));

    if (c == NULL)
        return NULL;
    *c = *st;
    c->ks = mem_calloc(MEM_SERVER, st->nks + more, sizeof(*c->ks));
    c->tables = mem_calloc(MEM_SERVER, st->ntables + more, sizeof(*c->tables));
    c->dropped = mem_calloc(MEM_SERVER, st->ndropped + st->ntables + more,
                            sizeof(*c->dropped));
    c->drops = mem_calloc(MEM_SERVER, st->ndrops + st->ntables + more + 1,
                          sizeof(*c->drops));
    if (!c->ks || !c->tables || !c->dropped || !c->drops) {
        sch_free(c);
        return NULL;
    }
    if (st->ndrops)
        memcpy(c->drops, st->drops, st->ndrops * sizeof(*c->drops));
    if (st->nks)
        memcpy(c->ks, st->ks, st->nks * sizeof(*c->ks));
    if (st->ntables)
        memcpy(c->tables, st->tables, st->ntables * sizeof(*c->tables));
    if (st->ndropped)
        memcpy(c->dropped, st->dropped, st->ndropped * sizeof(*c->dropped));
    return c;
}

/* sch_copy -- a deep copy of `st` with room for one more of everything. */
static struct sch_state *sch_copy(const struct sch_state *st)
{
    return sch_copy_more(st, 1);
}

static struct schema_drop_count *
sch_drop_find(const struct sch_state *st, const char *ks, const char *table)
{
    for (size_t i = 0; i < st->ndrops; i++)
        if (!strcmp(st->drops[i].ks, ks) && !strcmp(st->drops[i].table, table))
            return &st->drops[i];
    return NULL;
}

/* sch_drops -- how many times ks (table "") or ks.table was dropped. */
static uint32_t sch_drops(const struct sch_state *st, const char *ks,
                          const char *table)
{
    const struct schema_drop_count *d = sch_drop_find(st, ks, table);

    return d ? d->count : 0;
}

/* sch_set_drops -- set a counter (room for one more is always there). */
static void sch_set_drops(struct sch_state *st, const char *ks,
                          const char *table, uint32_t count)
{
    struct schema_drop_count *d = sch_drop_find(st, ks, table);

    if (!d) {
        d = &st->drops[st->ndrops++];
        snprintf(d->ks, sizeof(d->ks), "%s", ks);
        snprintf(d->table, sizeof(d->table), "%s", table);
    }
    d->count = count;
}

uint64_t schema_table_id(const char *ks, uint32_t ks_drops, const char *name,
                         uint32_t table_drops)
{
    char key[2 * (VALIDATE_NAME_MAX + 1) + 32];
    int n = snprintf(key, sizeof(key), "%s\n%u\n%s\n%u", ks, ks_drops, name,
                     table_drops);
    uint64_t id = XXH3_64bits(key, (size_t)n) >> 1;

    return id ? id : 1; /* positive and never 0 */
}

static uint64_t sch_derive_id(const struct sch_state *st, const char *ks,
                              const char *name)
{
    return schema_table_id(ks, sch_drops(st, ks, ""), name,
                           sch_drops(st, ks, name));
}

static struct schema_ks *sch_ks(struct sch_state *st, const char *name)
{
    for (size_t i = 0; i < st->nks; i++)
        if (strcmp(st->ks[i].name, name) == 0)
            return &st->ks[i];
    return NULL;
}

static struct schema_table *sch_table(struct sch_state *st, const char *ks,
                                      const char *name)
{
    for (size_t i = 0; i < st->ntables; i++)
        if (!strcmp(st->tables[i].ks, ks) && !strcmp(st->tables[i].name, name))
            return &st->tables[i];
    return NULL;
}

/* ---- the file ---- */

static void sch_to_pb_table(const struct schema_table *t, Cairn__Table *pt,
                            Cairn__TableOptions *po)
{
    cairn__table__init(pt);
    cairn__table_options__init(po);
    pt->keyspace = (char *)t->ks;
    pt->name = (char *)t->name;
    pt->id = t->id;
    po->gc_grace_s = t->opts.gc_grace_s;
    po->default_ttl_s = t->opts.default_ttl_s;
    po->no_compression = !t->opts.compression;
    pt->options = po;
}

/* sch_encode -- the whole file image of `st` (header and payload). */
static int sch_encode(const struct sch_state *st, uint8_t **out, size_t *n)
{
    Cairn__SchemaFile f = CAIRN__SCHEMA_FILE__INIT;
    size_t cnt = st->nks + 2 * st->ntables + st->ndrops + 1;
    void **mem = mem_calloc(MEM_SERVER, cnt, sizeof(void *) * 2);
    Cairn__SchemaDropCount *dc =
        mem_calloc(MEM_SERVER, st->ndrops + 1, sizeof(*dc));
    Cairn__Keyspace *ks = mem_calloc(MEM_SERVER, st->nks + 1, sizeof(*ks));
    Cairn__Table *t = mem_calloc(MEM_SERVER, st->ntables + 1, sizeof(*t));
    Cairn__TableOptions *o =
        mem_calloc(MEM_SERVER, st->ntables + 1, sizeof(*o));
    int rc = -ENOMEM;

    *out = NULL;
    *n = 0;
    if (!mem || !ks || !t || !o || !dc)
        goto out;
    f.version = st->version;
    f.last_table_id = st->last_id;
    f.n_keyspaces = st->nks;
    f.keyspaces = (Cairn__Keyspace **)mem;
    for (size_t i = 0; i < st->nks; i++) {
        cairn__keyspace__init(&ks[i]);
        ks[i].name = (char *)st->ks[i].name;
        ks[i].replication_factor = st->ks[i].rf;
        f.keyspaces[i] = &ks[i];
    }
    f.n_tables = st->ntables;
    f.tables = (Cairn__Table **)mem + st->nks;
    for (size_t i = 0; i < st->ntables; i++) {
        sch_to_pb_table(&st->tables[i], &t[i], &o[i]);
        f.tables[i] = &t[i];
    }
    f.n_dropped_table_ids = st->ndropped;
    f.dropped_table_ids = st->dropped;
    f.n_drop_counts = st->ndrops;
    f.drop_counts = (Cairn__SchemaDropCount **)mem + st->nks + st->ntables;
    for (size_t i = 0; i < st->ndrops; i++) {
        cairn__schema_drop_count__init(&dc[i]);
        dc[i].keyspace = (char *)st->drops[i].ks;
        dc[i].table = (char *)st->drops[i].table;
        dc[i].count = st->drops[i].count;
        f.drop_counts[i] = &dc[i];
    }
    *n = SCH_HDR + protobuf_c_message_get_packed_size(&f.base);
    *out = mem_alloc(MEM_SERVER, *n);
    if (*out == NULL)
        goto out;
    memcpy(*out, SCH_MAGIC, 8);
    enc_u32be(*out + 8, SCH_VERSION);
    enc_u32be(*out + 12, (uint32_t)(*n - SCH_HDR));
    protobuf_c_message_pack(&f.base, *out + SCH_HDR);
    enc_u64be(*out + 16, XXH64(*out + SCH_HDR, *n - SCH_HDR, 0));
    rc = 0;
out:
    mem_free(mem);
    mem_free(dc);
    mem_free(ks);
    mem_free(t);
    mem_free(o);
    return rc ? err_set(rc, "no memory to encode the schema") : 0;
}

static int sch_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sch_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* sch_persist -- tmp file, fsync, rename, fsync the directory. */
static int sch_persist(struct schema *s, const struct sch_state *st)
{
    uint8_t *img = NULL;
    size_t n = 0;
    int fd, rc;

    if ((rc = sch_encode(st, &img, &n)) < 0)
        return rc;
    fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = sch_write_all(fd, img, n);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(s->tmp, s->path) < 0)
        rc = -errno;
    if (rc == 0)
        rc = sch_fsync_dir(s->dir);
out:
    mem_free(img);
    if (rc < 0)
        return err_set(rc,
                       "cannot write schema file %s: %s; check the "
                       "disk and permissions",
                       s->path, strerror(-rc));
    return 0;
}

static int sch_from_pb(struct sch_state *st, const Cairn__SchemaFile *f)
{
    st->ks = mem_calloc(MEM_SERVER, f->n_keyspaces + 1, sizeof(*st->ks));
    st->tables = mem_calloc(MEM_SERVER, f->n_tables + 1, sizeof(*st->tables));
    st->dropped = mem_calloc(MEM_SERVER, f->n_dropped_table_ids + 1,
                             sizeof(*st->dropped));
    st->drops =
        mem_calloc(MEM_SERVER, f->n_drop_counts + 1, sizeof(*st->drops));
    if (!st->ks || !st->tables || !st->dropped || !st->drops)
        return -ENOMEM;
    for (size_t i = 0; i < f->n_drop_counts; i++) {
        const Cairn__SchemaDropCount *d = f->drop_counts[i];
        if (validate_name("keyspace", d->keyspace) < 0 ||
            (d->table[0] && validate_name("table", d->table) < 0))
            return CAIRN_ECORRUPT;
        snprintf(st->drops[i].ks, sizeof(st->drops[i].ks), "%s", d->keyspace);
        snprintf(st->drops[i].table, sizeof(st->drops[i].table), "%s",
                 d->table);
        st->drops[i].count = d->count;
    }
    st->ndrops = f->n_drop_counts;
    st->version = f->version;
    st->last_id = f->last_table_id;
    for (size_t i = 0; i < f->n_keyspaces; i++) {
        const Cairn__Keyspace *k = f->keyspaces[i];
        if (validate_name("keyspace", k->name) < 0)
            return CAIRN_ECORRUPT;
        snprintf(st->ks[i].name, sizeof(st->ks[i].name), "%s", k->name);
        st->ks[i].rf = k->replication_factor;
    }
    st->nks = f->n_keyspaces;
    for (size_t i = 0; i < f->n_tables; i++) {
        const Cairn__Table *t = f->tables[i];
        struct schema_table *d = &st->tables[i];
        if (validate_name("keyspace", t->keyspace) < 0 ||
            validate_name("table", t->name) < 0 || t->options == NULL)
            return CAIRN_ECORRUPT;
        snprintf(d->ks, sizeof(d->ks), "%s", t->keyspace);
        snprintf(d->name, sizeof(d->name), "%s", t->name);
        d->id = t->id;
        d->opts.gc_grace_s = t->options->gc_grace_s;
        d->opts.default_ttl_s = t->options->default_ttl_s;
        d->opts.compression = !t->options->no_compression;
    }
    st->ntables = f->n_tables;
    if (f->n_dropped_table_ids)
        memcpy(st->dropped, f->dropped_table_ids,
               f->n_dropped_table_ids * sizeof(uint64_t));
    st->ndropped = f->n_dropped_table_ids;
    return 0;
}

/* sch_parse -- check the header and checksum, then decode the payload. */
static int sch_parse(const char *path, const uint8_t *p, size_t n,
                     struct sch_state *st)
{
    Cairn__SchemaFile *f;
    int rc;

    if (n < SCH_HDR || memcmp(p, SCH_MAGIC, 8) != 0 ||
        dec_u32be(p + 8) != SCH_VERSION || dec_u32be(p + 12) != n - SCH_HDR ||
        dec_u64be(p + 16) != XXH64(p + SCH_HDR, n - SCH_HDR, 0))
        return err_set(CAIRN_ECORRUPT,
                       "schema file %s is damaged (bad "
                       "header, length or checksum); restore it from a "
                       "backup",
                       path);
    f = cairn__schema_file__unpack(frame_allocator(), n - SCH_HDR, p + SCH_HDR);
    if (f == NULL)
        return err_set(CAIRN_ECORRUPT,
                       "schema file %s does not decode; "
                       "restore it from a backup",
                       path);
    rc = sch_from_pb(st, f);
    cairn__schema_file__free_unpacked(f, frame_allocator());
    if (rc == CAIRN_ECORRUPT)
        return err_set(rc,
                       "schema file %s holds a bad name; restore it "
                       "from a backup",
                       path);
    return rc ? err_set(rc, "no memory to load the schema") : 0;
}

static int sch_load(const char *path, struct sch_state *st)
{
    struct stat sb;
    uint8_t *p;
    ssize_t got;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return sch_from_pb(st, &(Cairn__SchemaFile)CAIRN__SCHEMA_FILE__INIT);
    if (fd < 0 || fstat(fd, &sb) < 0) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        return err_set(rc, "cannot read schema file %s: %s", path,
                       strerror(-rc));
    }
    if (sb.st_size > SCH_MAX_FILE) {
        close(fd);
        return err_set(CAIRN_ECORRUPT,
                       "schema file %s is %lld bytes, more "
                       "than a schema can be",
                       path, (long long)sb.st_size);
    }
    p = mem_alloc(MEM_SERVER, (size_t)sb.st_size + 1);
    got = p ? pread(fd, p, (size_t)sb.st_size, 0) : -1;
    rc = got == sb.st_size ? sch_parse(path, p, (size_t)got, st)
                           : err_set(-EIO, "cannot read schema file %s", path);
    mem_free(p);
    close(fd);
    return rc;
}

int schema_open(const char *dir, struct schema **out)
{
    struct schema *s = mem_calloc(MEM_SERVER, 1, sizeof(*s));
    int rc;

    *out = NULL;
    if (s == NULL ||
        (s->cur = mem_calloc(MEM_SERVER, 1, sizeof(*s->cur))) == NULL) {
        mem_free(s);
        return err_set(-ENOMEM, "no memory for the schema");
    }
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    snprintf(s->path, sizeof(s->path), "%s/schema", dir);
    snprintf(s->tmp, sizeof(s->tmp), "%s/schema.tmp", dir);
    rc = sch_load(s->path, s->cur);
    if (rc < 0) {
        sch_free(s->cur);
        mem_free(s);
        return rc;
    }
    pthread_mutex_init(&s->ddl_lock, NULL);
    pthread_mutex_init(&s->cur_lock, NULL);
    *out = s;
    return 0;
}

void schema_close(struct schema *s)
{
    if (s == NULL)
        return;
    sch_free(s->cur);
    pthread_mutex_destroy(&s->ddl_lock);
    pthread_mutex_destroy(&s->cur_lock);
    mem_free(s);
}

uint64_t schema_version(struct schema *s)
{
    uint64_t v;

    pthread_mutex_lock(&s->cur_lock);
    v = s->cur->version;
    pthread_mutex_unlock(&s->cur_lock);
    return v;
}

/*
 * sch_commit -- persist `next` and publish it; on failure it is freed and
 * the old schema stays. Called with ddl_lock held.
 */
static int sch_commit(struct schema *s, struct sch_state *next)
{
    struct sch_state *old;
    int rc;

    next->version++;
    rc = sch_persist(s, next);
    if (rc < 0) {
        sch_free(next);
        return rc;
    }
    pthread_mutex_lock(&s->cur_lock);
    old = s->cur;
    s->cur = next;
    pthread_mutex_unlock(&s->cur_lock);
    sch_free(old);
    return 0;
}

/* sch_begin -- take ddl_lock and a private copy of the schema. */
static struct sch_state *sch_begin(struct schema *s)
{
    struct sch_state *c;

    pthread_mutex_lock(&s->ddl_lock);
    c = sch_copy(s->cur);
    if (c == NULL) {
        pthread_mutex_unlock(&s->ddl_lock);
        err_set(-ENOMEM, "no memory to change the schema");
    }
    return c;
}

/* sch_end -- commit (when rc is 0) or discard, and release ddl_lock. */
static int sch_end(struct schema *s, struct sch_state *next, int rc)
{
    if (rc == 1) {
        rc = 0; /* nothing to change */
        sch_free(next);
    } else if (rc == 0) {
        rc = sch_commit(s, next);
    } else {
        sch_free(next);
    }
    pthread_mutex_unlock(&s->ddl_lock);
    return rc;
}

int schema_create_keyspace(struct schema *s, const char *name, uint32_t rf,
                           int if_not_exists)
{
    struct sch_state *n = sch_begin(s);
    int rc = 0;

    if (n == NULL)
        return -ENOMEM;
    if (sch_ks(n, name)) {
        rc = if_not_exists ? 1
                           : err_set(CAIRN_EEXISTS,
                                     "keyspace %s already "
                                     "exists",
                                     name);
    } else {
        snprintf(n->ks[n->nks].name, sizeof(n->ks[0].name), "%s", name);
        n->ks[n->nks++].rf = rf;
    }
    return sch_end(s, n, rc);
}

/* sch_remove_table -- drop entry `i`, remembering its id for storage. */
static void sch_remove_table(struct sch_state *n, size_t i)
{
    n->dropped[n->ndropped++] = n->tables[i].id;
    n->tables[i] = n->tables[--n->ntables];
}

int schema_drop_keyspace(struct schema *s, const char *name, int if_exists)
{
    struct sch_state *n = sch_begin(s);
    struct schema_ks *k;

    if (n == NULL)
        return -ENOMEM;
    k = sch_ks(n, name);
    if (k == NULL)
        return sch_end(s, n,
                       if_exists ? 1
                                 : err_set(CAIRN_ENOKEYSPACE,
                                           "keyspace %s does not exist", name));
    for (size_t i = n->ntables; i-- > 0;)
        if (strcmp(n->tables[i].ks, name) == 0)
            sch_remove_table(n, i);
    *k = n->ks[--n->nks];
    sch_set_drops(n, name, "", sch_drops(n, name, "") + 1);
    return sch_end(s, n, 0);
}

int schema_create_table(struct schema *s, const char *ks, const char *name,
                        const struct storage_table_options *o,
                        int if_not_exists, uint64_t *id, int *created)
{
    struct sch_state *n = sch_begin(s);
    struct schema_table *t;
    int rc = 0;

    *created = 0;
    if (n == NULL)
        return -ENOMEM;
    if (!sch_ks(n, ks)) {
        rc = err_set(CAIRN_ENOKEYSPACE, "keyspace %s does not exist", ks);
    } else if ((t = sch_table(n, ks, name)) != NULL) {
        *id = t->id;
        rc = if_not_exists ? 1
                           : err_set(CAIRN_EEXISTS,
                                     "table %s.%s already "
                                     "exists",
                                     ks, name);
    } else {
        t = &n->tables[n->ntables++];
        snprintf(t->ks, sizeof(t->ks), "%s", ks);
        snprintf(t->name, sizeof(t->name), "%s", name);
        t->opts = *o;
        t->id = *id = sch_derive_id(n, ks, name);
        *created = 1;
    }
    rc = sch_end(s, n, rc);
    if (rc < 0)
        *created = 0;
    return rc;
}

int schema_drop_table(struct schema *s, const char *ks, const char *name,
                      int if_exists)
{
    struct sch_state *n = sch_begin(s);
    int rc = 0;

    if (n == NULL)
        return -ENOMEM;
    if (!sch_ks(n, ks)) {
        rc = err_set(CAIRN_ENOKEYSPACE, "keyspace %s does not exist", ks);
    } else if (!sch_table(n, ks, name)) {
        rc = if_exists ? 1
                       : err_set(CAIRN_ENOTABLE,
                                 "table %s.%s does not "
                                 "exist",
                                 ks, name);
    } else {
        sch_remove_table(n, (size_t)(sch_table(n, ks, name) - n->tables));
        sch_set_drops(n, ks, name, sch_drops(n, ks, name) + 1);
    }
    return sch_end(s, n, rc);
}

int schema_pending_drops(struct schema *s, uint64_t **ids, size_t *n)
{
    pthread_mutex_lock(&s->cur_lock);
    *n = s->cur->ndropped;
    *ids = mem_calloc(MEM_SERVER, *n + 1, sizeof(**ids));
    if (*ids && *n)
        memcpy(*ids, s->cur->dropped, *n * sizeof(**ids));
    pthread_mutex_unlock(&s->cur_lock);
    return *ids ? 0 : err_set(-ENOMEM, "no memory");
}

int schema_drop_done(struct schema *s, uint64_t id)
{
    struct sch_state *n = sch_begin(s);
    int rc = 1;

    if (n == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n->ndropped; i++) {
        if (n->dropped[i] == id) {
            n->dropped[i] = n->dropped[--n->ndropped];
            rc = 0;
            break;
        }
    }
    return sch_end(s, n, rc);
}

int schema_keyspace(struct schema *s, const char *name, struct schema_ks *out)
{
    struct schema_ks *k;

    pthread_mutex_lock(&s->cur_lock);
    k = sch_ks(s->cur, name);
    if (k)
        *out = *k;
    pthread_mutex_unlock(&s->cur_lock);
    return k ? 0
             : err_set(CAIRN_ENOKEYSPACE, "keyspace %s does not exist", name);
}

/*
 * TODO: every lookup takes cur_lock (briefly, never over I/O); the design
 * asks for reference-counted snapshots published to each loop so that
 * routing takes no lock at all. The consequence today is contention
 * between loops on one mutex per request, not blocking on the disk.
 */
int schema_table(struct schema *s, const char *ks, const char *name,
                 struct schema_table *out, uint32_t *rf)
{
    struct schema_ks *k;
    struct schema_table *t = NULL;

    pthread_mutex_lock(&s->cur_lock);
    k = sch_ks(s->cur, ks);
    if (k) {
        *rf = k->rf;
        t = sch_table(s->cur, ks, name);
        if (t)
            *out = *t;
    }
    pthread_mutex_unlock(&s->cur_lock);
    if (!k)
        return err_set(CAIRN_ENOKEYSPACE, "keyspace %s does not exist", ks);
    if (!t)
        return err_set(CAIRN_ENOTABLE, "table %s.%s does not exist", ks, name);
    return 0;
}

int schema_list_keyspaces(struct schema *s, struct schema_ks **out, size_t *n)
{
    pthread_mutex_lock(&s->cur_lock);
    *n = s->cur->nks;
    *out = mem_calloc(MEM_SERVER, *n + 1, sizeof(**out));
    if (*out && *n)
        memcpy(*out, s->cur->ks, *n * sizeof(**out));
    pthread_mutex_unlock(&s->cur_lock);
    return *out ? 0 : err_set(-ENOMEM, "no memory");
}

/* sch_tables -- copy the tables of `ks` (NULL: all). */
static int sch_tables(struct schema *s, const char *ks,
                      struct schema_table **out, size_t *n)
{
    int found = ks == NULL;

    pthread_mutex_lock(&s->cur_lock);
    *n = 0;
    *out = mem_calloc(MEM_SERVER, s->cur->ntables + 1, sizeof(**out));
    if (ks && sch_ks(s->cur, ks))
        found = 1;
    for (size_t i = 0; *out && i < s->cur->ntables; i++)
        if (ks == NULL || strcmp(s->cur->tables[i].ks, ks) == 0)
            (*out)[(*n)++] = s->cur->tables[i];
    pthread_mutex_unlock(&s->cur_lock);
    if (*out == NULL)
        return err_set(-ENOMEM, "no memory");
    if (!found) {
        mem_free(*out);
        *out = NULL;
        return err_set(CAIRN_ENOKEYSPACE, "keyspace %s does not exist", ks);
    }
    return 0;
}

int schema_list_tables(struct schema *s, const char *ks,
                       struct schema_table **out, size_t *n)
{
    return sch_tables(s, ks, out, n);
}

int schema_all_tables(struct schema *s, struct schema_table **out, size_t *n)
{
    return sch_tables(s, NULL, out, n);
}

/* ---- exchange with peers ---- */

static void *sch_dup(const void *p, size_t n, size_t size)
{
    void *c = mem_calloc(MEM_SERVER, n + 1, size);

    if (c && n)
        memcpy(c, p, n * size);
    return c;
}

int schema_export(struct schema *s, struct schema_image *im)
{
    const struct sch_state *st;

    memset(im, 0, sizeof(*im));
    pthread_mutex_lock(&s->cur_lock);
    st = s->cur;
    im->ks = sch_dup(st->ks, st->nks, sizeof(*st->ks));
    im->tables = sch_dup(st->tables, st->ntables, sizeof(*st->tables));
    im->drops = sch_dup(st->drops, st->ndrops, sizeof(*st->drops));
    im->nks = st->nks;
    im->ntables = st->ntables;
    im->ndrops = st->ndrops;
    pthread_mutex_unlock(&s->cur_lock);
    if (!im->ks || !im->tables || !im->drops) {
        schema_image_free(im);
        return err_set(-ENOMEM, "no memory to copy the schema");
    }
    return 0;
}

void schema_image_free(struct schema_image *im)
{
    mem_free(im->ks);
    mem_free(im->tables);
    mem_free(im->drops);
    memset(im, 0, sizeof(*im));
}

/* sch_apply_drops -- higher remote counters drop our older objects. */
static int sch_apply_drops(struct sch_state *n, const struct schema_image *r)
{
    int changed = 0;

    for (size_t i = 0; i < r->ndrops; i++) {
        const struct schema_drop_count *d = &r->drops[i];
        struct schema_ks *k;
        struct schema_table *t;

        if (d->count <= sch_drops(n, d->ks, d->table))
            continue;
        sch_set_drops(n, d->ks, d->table, d->count);
        changed = 1;
        if (d->table[0] == '\0' && (k = sch_ks(n, d->ks)) != NULL) {
            for (size_t j = n->ntables; j-- > 0;)
                if (strcmp(n->tables[j].ks, d->ks) == 0)
                    sch_remove_table(n, j);
            *k = n->ks[--n->nks];
        } else if (d->table[0] && (t = sch_table(n, d->ks, d->table))) {
            sch_remove_table(n, (size_t)(t - n->tables));
        }
    }
    return changed;
}

static uint32_t sch_drops_of(const struct schema_image *r, const char *ks,
                             const char *table)
{
    for (size_t i = 0; i < r->ndrops; i++)
        if (!strcmp(r->drops[i].ks, ks) && !strcmp(r->drops[i].table, table))
            return r->drops[i].count;
    return 0;
}

/* sch_add_missing -- remote objects of the current incarnation we lack. */
static int sch_add_missing(struct sch_state *n, const struct schema_image *r,
                           struct schema_table *created, size_t *ncreated)
{
    int changed = 0;

    for (size_t i = 0; i < r->nks; i++) {
        const struct schema_ks *k = &r->ks[i];
        if (sch_ks(n, k->name))
            continue;
        /* Was it created before our latest drop of that name? */
        if (sch_drops(n, k->name, "") > sch_drops_of(r, k->name, ""))
            continue;
        n->ks[n->nks++] = *k;
        changed = 1;
    }
    for (size_t i = 0; i < r->ntables; i++) {
        const struct schema_table *t = &r->tables[i];
        if (!sch_ks(n, t->ks) || sch_table(n, t->ks, t->name) ||
            t->id != sch_derive_id(n, t->ks, t->name))
            continue;
        n->tables[n->ntables++] = *t;
        created[(*ncreated)++] = *t;
        changed = 1;
    }
    return changed;
}

int schema_merge(struct schema *s, const struct schema_image *r,
                 struct schema_table **created, size_t *ncreated)
{
    struct sch_state *n;
    int changed, rc;

    *created = NULL;
    *ncreated = 0;
    pthread_mutex_lock(&s->ddl_lock);
    n = sch_copy_more(s->cur, r->nks + r->ntables + r->ndrops + 1);
    *created = mem_calloc(MEM_SERVER, r->ntables + 1, sizeof(**created));
    if (!n || !*created) {
        sch_free(n);
        mem_free(*created);
        *created = NULL;
        pthread_mutex_unlock(&s->ddl_lock);
        return err_set(-ENOMEM, "no memory to merge a schema");
    }
    changed = sch_apply_drops(n, r);
    changed |= sch_add_missing(n, r, *created, ncreated);
    rc = sch_end(s, n, changed ? 0 : 1);
    if (rc < 0) {
        mem_free(*created);
        *created = NULL;
        *ncreated = 0;
    }
    return rc;
}
