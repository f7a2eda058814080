/*
 * manifest.c -- encode, checksum, atomically replace and load the
 * manifest (see manifest.h and docs/manifest-format.md).
 */
#include "storage/manifest.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "common/buf.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"
#include "storage/fs.h"

static int encode(const struct manifest *m, struct buf *b)
{
    int rc = buf_put_u32be(b, MANIFEST_MAGIC);

    if (rc == 0)
        rc = buf_put_u32be(b, MANIFEST_VERSION);
    if (rc == 0)
        rc = buf_put_u64be(b, m->next_file);
    if (rc == 0)
        rc = buf_put_u64be(b, m->log_segment);
    if (rc == 0)
        rc = buf_put_varint(b, m->n);
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        const struct manifest_table *t = &m->t[i];
        rc = buf_put_u64be(b, t->id);
        if (rc == 0)
            rc = buf_put_u32be(b, t->o.gc_grace_s);
        if (rc == 0)
            rc = buf_put_u32be(b, t->o.default_ttl_s);
        if (rc == 0)
            rc = buf_put_u8(b, (uint8_t)(t->o.compression != 0));
        if (rc == 0)
            rc = buf_put_u64be(b, t->replay_from);
        if (rc == 0)
            rc = buf_put_varint(b, t->nssts);
        for (size_t j = 0; rc == 0 && j < t->nssts; j++)
            rc = buf_put_u64be(b, t->ssts[j]);
    }
    if (rc == 0)
        rc = buf_put_u64be(b, XXH64(b->data, b->len, 0));
    return rc;
}

int manifest_save(struct fs *fs, const char *dir, const struct manifest *m)
{
    char tmp[4096], path[4096];
    struct fs_file *f = NULL;
    struct buf b;
    int rc;

    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, MANIFEST_NAME);
    snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST_NAME);
    buf_init(&b, MEM_STORAGE);
    rc = encode(m, &b);
    if (rc == 0)
        rc = fs_open(fs, tmp, FS_WRITE | FS_CREATE | FS_TRUNC, &f);
    if (rc == 0)
        rc = fs_append(f, b.data, b.len);
    if (rc == 0)
        rc = fs_fsync(f);
    if (f != NULL && fs_close(f) != 0 && rc == 0)
        rc = -EIO;
    if (rc == 0)
        rc = fs_rename(fs, tmp, path);
    if (rc == 0)
        rc = fs_fsync_dir(fs, dir);
    buf_free(&b);
    return rc;
}

static int decode_table(struct rd *r, struct manifest_table *t)
{
    uint32_t grace, ttl;
    uint8_t comp;
    uint64_t n;
    int rc = rd_u64be(r, &t->id);

    if (rc == 0)
        rc = rd_u32be(r, &grace);
    if (rc == 0)
        rc = rd_u32be(r, &ttl);
    if (rc == 0)
        rc = rd_u8(r, &comp);
    if (rc == 0)
        rc = rd_u64be(r, &t->replay_from);
    if (rc == 0)
        rc = rd_varint(r, &n);
    if (rc == 0 && n > rd_left(r) / 8)
        rc = CAIRN_ECORRUPT;
    if (rc != 0)
        return rc;
    t->o.gc_grace_s = grace;
    t->o.default_ttl_s = ttl;
    t->o.compression = comp;
    t->ssts = mem_calloc(MEM_STORAGE, n ? n : 1, sizeof(*t->ssts));
    if (t->ssts == NULL)
        return -ENOMEM;
    for (t->nssts = 0; rc == 0 && t->nssts < n; t->nssts++)
        rc = rd_u64be(r, &t->ssts[t->nssts]);
    return rc;
}

static int decode(const uint8_t *d, size_t n, struct manifest *m)
{
    struct rd r;
    uint32_t magic, ver;
    uint64_t nt;
    int rc;

    if (n < 8 || dec_u64be(d + n - 8) != XXH64(d, n - 8, 0))
        return CAIRN_ECORRUPT;
    rd_init(&r, d, n - 8);
    rc = rd_u32be(&r, &magic);
    if (rc == 0)
        rc = rd_u32be(&r, &ver);
    if (rc == 0 && (magic != MANIFEST_MAGIC || ver != MANIFEST_VERSION))
        rc = CAIRN_ECORRUPT;
    if (rc == 0)
        rc = rd_u64be(&r, &m->next_file);
    if (rc == 0)
        rc = rd_u64be(&r, &m->log_segment);
    if (rc == 0)
        rc = rd_varint(&r, &nt);
    if (rc == 0 && nt > rd_left(&r))
        rc = CAIRN_ECORRUPT;
    if (rc == 0 &&
        (m->t = mem_calloc(MEM_STORAGE, nt ? nt : 1, sizeof(*m->t))) == NULL)
        rc = -ENOMEM;
    for (; rc == 0 && m->n < nt; m->n++)
        rc = decode_table(&r, &m->t[m->n]);
    if (rc == 0 && rd_left(&r) != 0)
        rc = CAIRN_ECORRUPT;
    return rc;
}

int manifest_load(struct fs *fs, const char *dir, struct manifest *m)
{
    char path[4096];
    struct fs_file *f;
    uint8_t *d = NULL;
    uint64_t size;
    int rc;

    memset(m, 0, sizeof(*m));
    m->next_file = 1;
    snprintf(path, sizeof(path), "%s/%s", dir, MANIFEST_NAME);
    rc = fs_exists(fs, path);
    if (rc <= 0)
        return rc;
    rc = fs_open(fs, path, FS_READ, &f);
    if (rc != 0)
        return rc;
    rc = fs_size(f, &size);
    if (rc == 0 && (d = mem_alloc(MEM_STORAGE, size + 1)) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = fs_read_full(f, d, size, 0);
    fs_close(f);
    if (rc == 0) {
        memset(m, 0, sizeof(*m));
        rc = decode(d, size, m);
    }
    mem_free(d);
    if (rc != 0) {
        manifest_free(m);
        if (rc == CAIRN_ECORRUPT)
            return err_set(rc,
                           "manifest %s fails its checks; restore it from "
                           "a backup or rebuild the node from its replicas",
                           path);
    }
    return rc;
}

void manifest_free(struct manifest *m)
{
    for (size_t i = 0; i < m->n; i++)
        mem_free(m->t[i].ssts);
    mem_free(m->t);
    memset(m, 0, sizeof(*m));
}
