/*
 * fs_fault.c -- the fault-injecting, power-loss-simulating fs (see
 * fs_fault.h).
 *
 * State: one node per file path ever seen, holding its durable length,
 * and a journal of directory operations not yet made durable by an fsync
 * of their directory. An unlink or a rename over an existing file moves
 * the victim to a hidden "trash" name instead of deleting it, so a power
 * loss can bring it back; the trash is emptied when the directory is
 * fsynced. One mutex serializes everything.
 */
#include "storage/fs_fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "storage/fs.h"

#define TRASH_MARK ".fault-trash-"

/* Bytes a pwrite overwrote inside the durable length, to put back. */
struct ff_undo {
    uint64_t off;
    size_t n;
    uint8_t *old;
};

struct ff_node {
    char *path;
    uint64_t durable;     /* length made durable by fsync */
    uint64_t size;        /* current length */
    struct ff_undo *undo; /* unsynced overwrites, oldest first */
    size_t nundo;
};

enum { J_CREATE, J_RENAME, J_UNLINK };

struct ff_journal {
    int kind;
    char *dir;   /* the directory whose fsync makes it durable */
    char *a, *b; /* create/unlink: a; rename: a -> b */
    char *trash; /* the displaced file, or NULL */
};

struct ff_rule {
    struct fs_fault_rule r;
    char *path_has;
};

struct fs_fault {
    struct fs fs;
    struct fs *inner;
    pthread_mutex_t mu;
    struct ff_node **nodes;
    size_t nnodes, capnodes;
    struct ff_journal *jr;
    size_t njr, capjr;
    struct ff_rule *rules;
    size_t nrules;
    int64_t space; /* -1: unlimited */
    int crashed;
    int real_sync;
    uint64_t ops, hits, trash_seq;
};

struct ff_file {
    struct fs_file base;
    struct fs_file *in;
    struct ff_node *node;
    struct fs_fault *ff;
};

static const struct fs_ops ff_ops;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    void *np;

    if (need <= *cap)
        return 0;
    while (ncap < need)
        ncap *= 2;
    np = mem_realloc(MEM_TEST, *p, ncap * elem);
    if (np == NULL)
        return err_set(-ENOMEM, "fs_fault: out of memory");
    *p = np;
    *cap = ncap;
    return 0;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;

    if (slash == NULL)
        return mem_strdup(MEM_TEST, ".");
    d = mem_memdup(MEM_TEST, path, (size_t)(slash - path) + 1);
    if (d != NULL)
        d[slash - path] = 0;
    return d;
}

static struct ff_node *node_find(struct fs_fault *ff, const char *path)
{
    for (size_t i = 0; i < ff->nnodes; i++)
        if (ff->nodes[i]->path != NULL && strcmp(ff->nodes[i]->path, path) == 0)
            return ff->nodes[i];
    return NULL;
}

static struct ff_node *node_add(struct fs_fault *ff, const char *path,
                                uint64_t durable, uint64_t size)
{
    struct ff_node *n;

    if (grow((void **)&ff->nodes, &ff->capnodes, ff->nnodes + 1,
             sizeof(*ff->nodes)) != 0)
        return NULL;
    n = mem_calloc(MEM_TEST, 1, sizeof(*n));
    if (n == NULL || (n->path = mem_strdup(MEM_TEST, path)) == NULL) {
        mem_free(n);
        return NULL;
    }
    n->durable = durable;
    n->size = size;
    ff->nodes[ff->nnodes++] = n;
    return n;
}

static void node_rename(struct fs_fault *ff, const char *from, const char *to)
{
    struct ff_node *n = node_find(ff, from);

    if (n == NULL)
        return;
    mem_free(n->path);
    n->path = mem_strdup(MEM_TEST, to);
}

static int journal(struct fs_fault *ff, int kind, const char *a, const char *b,
                   const char *trash)
{
    struct ff_journal *j;
    int rc = grow((void **)&ff->jr, &ff->capjr, ff->njr + 1, sizeof(*ff->jr));

    if (rc != 0)
        return rc;
    j = &ff->jr[ff->njr++];
    memset(j, 0, sizeof(*j));
    j->kind = kind;
    j->dir = dir_of(b != NULL ? b : a);
    j->a = mem_strdup(MEM_TEST, a);
    j->b = b ? mem_strdup(MEM_TEST, b) : NULL;
    j->trash = trash ? mem_strdup(MEM_TEST, trash) : NULL;
    return 0;
}

static void journal_free(struct ff_journal *j)
{
    mem_free(j->dir);
    mem_free(j->a);
    mem_free(j->b);
    mem_free(j->trash);
}

/* check -- apply the rules to one call: 0 to go ahead, or the error;
 * *partial says a failing append should land half its bytes first. */
static int check(struct fs_fault *ff, unsigned op, const char *path,
                 int *partial)
{
    *partial = 0;
    if (ff->crashed)
        return err_set(-EIO, "fs_fault: machine is down (%s)", path);
    if (op != FSF_READ)
        ff->ops++;
    for (size_t i = 0; i < ff->nrules; i++) {
        struct ff_rule *r = &ff->rules[i];
        if (!(r->r.ops & op) || r->r.count == 0)
            continue;
        if (r->path_has != NULL && strstr(path, r->path_has) == NULL)
            continue;
        if (r->r.skip > 0) {
            r->r.skip--;
            continue;
        }
        if (r->r.count > 0)
            r->r.count--;
        ff->hits++;
        *partial = r->r.partial;
        if (r->r.crash)
            ff->crashed = 1;
        return err_set(r->r.err, "fs_fault: injected %s on %s",
                       strerror(-r->r.err), path);
    }
    return 0;
}

/* ---- file operations ---- */

static int ff_open(struct fs *fs, const char *path, int flags,
                   struct fs_file **out)
{
    struct fs_fault *ff = (struct fs_fault *)fs;
    struct ff_file *f = NULL;
    struct ff_node *n;
    struct fs_file *in = NULL;
    int existed, rc, partial;
    uint64_t size = 0;

    *out = NULL;
    pthread_mutex_lock(&ff->mu);
    existed = ff->inner->ops->exists(ff->inner, path);
    rc = existed < 0 ? existed : 0;
    if (rc == 0 && (flags & FS_CREATE) && !existed)
        rc = check(ff, FSF_OPEN, path, &partial);
    else if (rc == 0)
        rc = check(ff, FSF_READ, path, &partial);
    if (rc == 0)
        rc = ff->inner->ops->open(ff->inner, path,
                                  (flags & FS_WRITE) ? flags | FS_READ : flags,
                                  &in); /* reads keep the undo of pwrite */
    if (rc == 0)
        rc = in->fs->ops->size(in, &size);
    n = node_find(ff, path);
    if (rc == 0 && n == NULL)
        n = node_add(ff, path, existed ? size : 0, size);
    if (rc == 0 && n == NULL)
        rc = -ENOMEM;
    if (rc == 0 && !existed)
        rc = journal(ff, J_CREATE, path, NULL, NULL);
    if (rc == 0 && (f = mem_calloc(MEM_TEST, 1, sizeof(*f))) == NULL)
        rc = -ENOMEM;
    if (rc == 0 && (f->base.path = mem_strdup(MEM_TEST, path)) == NULL)
        rc = -ENOMEM;
    if (rc != 0) {
        if (in != NULL)
            in->fs->ops->close(in);
        mem_free(f);
        pthread_mutex_unlock(&ff->mu);
        return rc;
    }
    n->size = size;
    if (n->durable > size)
        n->durable = size; /* FS_TRUNC */
    f->base.fs = fs;
    f->in = in;
    f->node = n;
    f->ff = ff;
    *out = &f->base;
    pthread_mutex_unlock(&ff->mu);
    return 0;
}

static int ff_close(struct fs_file *file)
{
    struct ff_file *f = (struct ff_file *)file;
    int rc = f->in->fs->ops->close(f->in);

    mem_free(f->base.path);
    mem_free(f);
    return rc;
}

static ssize_t ff_pread(struct fs_file *file, void *buf, size_t n, uint64_t off)
{
    struct ff_file *f = (struct ff_file *)file;
    int partial, rc;

    pthread_mutex_lock(&f->ff->mu);
    rc = check(f->ff, FSF_READ, f->base.path, &partial);
    pthread_mutex_unlock(&f->ff->mu);
    if (rc != 0)
        return rc;
    return f->in->fs->ops->pread(f->in, buf, n, off);
}

static int ff_append(struct fs_file *file, const void *buf, size_t n)
{
    struct ff_file *f = (struct ff_file *)file;
    struct fs_fault *ff = f->ff;
    size_t land = n;
    int partial, rc;

    pthread_mutex_lock(&ff->mu);
    rc = check(ff, FSF_APPEND, f->base.path, &partial);
    if (rc != 0)
        land = partial ? n / 2 : 0;
    if (rc == 0 && ff->space >= 0 && (int64_t)n > ff->space) {
        land = (size_t)ff->space;
        rc = err_set(-ENOSPC, "fs_fault: no space left for %s", f->base.path);
    }
    if (land > 0) {
        int rc2 = f->in->fs->ops->append(f->in, buf, land);
        if (rc2 == 0) {
            f->node->size += land;
            if (ff->space >= 0)
                ff->space -= (int64_t)land;
        } else if (rc == 0)
            rc = rc2;
    }
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

static void undo_clear(struct ff_node *n)
{
    for (size_t i = 0; i < n->nundo; i++)
        mem_free(n->undo[i].old);
    mem_free(n->undo);
    n->undo = NULL;
    n->nundo = 0;
}

/* undo_save -- keep what [off, off + len) holds inside the durable part. */
static int undo_save(struct ff_file *f, uint64_t off, size_t len)
{
    struct ff_node *n = f->node;
    struct ff_undo *u;
    size_t keep;

    if (off >= n->durable)
        return 0;
    keep = off + len > n->durable ? (size_t)(n->durable - off) : len;
    u = mem_realloc(MEM_TEST, n->undo, (n->nundo + 1) * sizeof(*u));
    if (u == NULL)
        return -ENOMEM;
    n->undo = u;
    u = &n->undo[n->nundo];
    u->off = off;
    u->n = keep;
    u->old = mem_alloc(MEM_TEST, keep ? keep : 1);
    if (u->old == NULL)
        return -ENOMEM;
    if (fs_read_full(f->in, u->old, keep, off) != 0) {
        mem_free(u->old);
        return -EIO;
    }
    n->nundo++;
    return 0;
}

static int ff_pwrite(struct fs_file *file, const void *buf, size_t n,
                     uint64_t off)
{
    struct ff_file *f = (struct ff_file *)file;
    struct fs_fault *ff = f->ff;
    size_t land = n;
    int partial, rc, rc2 = 0;

    pthread_mutex_lock(&ff->mu);
    rc = check(ff, FSF_APPEND, f->base.path, &partial);
    if (rc != 0)
        land = partial ? n / 2 : 0;
    if (rc == 0 && ff->space >= 0 && off + n > f->node->size &&
        (int64_t)(off + n - f->node->size) > ff->space) {
        land = f->node->size > off ? (size_t)(f->node->size - off) : 0;
        land += (size_t)ff->space;
        if (land > n)
            land = n;
        rc = err_set(-ENOSPC, "fs_fault: no space left for %s", f->base.path);
    }
    if (land > 0)
        rc2 = undo_save(f, off, land);
    if (land > 0 && rc2 == 0)
        rc2 = f->in->fs->ops->pwrite(f->in, buf, land, off);
    if (land > 0 && rc2 == 0 && off + land > f->node->size) {
        if (ff->space >= 0)
            ff->space -= (int64_t)(off + land - f->node->size);
        f->node->size = off + land;
    }
    if (rc == 0)
        rc = rc2;
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

static int ff_fsync(struct fs_file *file)
{
    struct ff_file *f = (struct ff_file *)file;
    int partial, rc;

    pthread_mutex_lock(&f->ff->mu);
    rc = check(f->ff, FSF_FSYNC, f->base.path, &partial);
    if (rc == 0 && f->ff->real_sync)
        rc = f->in->fs->ops->fsync(f->in);
    if (rc == 0) {
        f->node->durable = f->node->size;
        undo_clear(f->node);
    }
    pthread_mutex_unlock(&f->ff->mu);
    return rc;
}

static int ff_truncate(struct fs_file *file, uint64_t size)
{
    struct ff_file *f = (struct ff_file *)file;
    int partial, rc;

    pthread_mutex_lock(&f->ff->mu);
    rc = check(f->ff, FSF_TRUNCATE, f->base.path, &partial);
    if (rc == 0)
        rc = f->in->fs->ops->truncate(f->in, size);
    if (rc == 0) {
        f->node->size = size;
        if (f->node->durable > size)
            f->node->durable = size;
    }
    pthread_mutex_unlock(&f->ff->mu);
    return rc;
}

static int ff_size(struct fs_file *file, uint64_t *out)
{
    struct ff_file *f = (struct ff_file *)file;

    return f->in->fs->ops->size(f->in, out);
}

/* ---- directory operations ---- */

static int make_trash(struct fs_fault *ff, const char *path, char **out)
{
    char name[4200];
    int rc;

    snprintf(name, sizeof(name), "%s%s%llu", path, TRASH_MARK,
             (unsigned long long)++ff->trash_seq);
    rc = ff->inner->ops->rename(ff->inner, path, name);
    if (rc != 0)
        return rc;
    node_rename(ff, path, name);
    *out = mem_strdup(MEM_TEST, name);
    return *out != NULL ? 0 : -ENOMEM;
}

static int ff_rename(struct fs *fs, const char *from, const char *to)
{
    struct fs_fault *ff = (struct fs_fault *)fs;
    char *trash = NULL;
    int partial, rc;

    pthread_mutex_lock(&ff->mu);
    rc = check(ff, FSF_RENAME, from, &partial);
    if (rc == 0 && ff->inner->ops->exists(ff->inner, from) != 1)
        rc = err_set(-ENOENT, "rename %s: no such file", from);
    if (rc == 0 && ff->inner->ops->exists(ff->inner, to) == 1)
        rc = make_trash(ff, to, &trash);
    if (rc == 0)
        rc = ff->inner->ops->rename(ff->inner, from, to);
    if (rc == 0) {
        node_rename(ff, from, to);
        rc = journal(ff, J_RENAME, from, to, trash);
    }
    mem_free(trash);
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

static int ff_unlink(struct fs *fs, const char *path)
{
    struct fs_fault *ff = (struct fs_fault *)fs;
    char *trash = NULL;
    int partial, rc;

    pthread_mutex_lock(&ff->mu);
    rc = check(ff, FSF_UNLINK, path, &partial);
    if (rc == 0 && ff->inner->ops->exists(ff->inner, path) != 1)
        rc = err_set(-ENOENT, "unlink %s: no such file", path);
    if (rc == 0)
        rc = make_trash(ff, path, &trash);
    if (rc == 0)
        rc = journal(ff, J_UNLINK, path, NULL, trash);
    mem_free(trash);
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

/* Directories are taken as durable once made: the engine makes its few
 * directories at open, before anything depends on them. */
static int ff_mkdir(struct fs *fs, const char *path)
{
    struct fs_fault *ff = (struct fs_fault *)fs;
    int partial, rc;

    pthread_mutex_lock(&ff->mu);
    rc = check(ff, FSF_MKDIR, path, &partial);
    if (rc == 0)
        rc = ff->inner->ops->mkdir(ff->inner, path);
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

static void node_forget(struct fs_fault *ff, const char *path)
{
    struct ff_node *n = node_find(ff, path);

    if (n != NULL) {
        mem_free(n->path);
        n->path = NULL;
    }
}

static int ff_fsync_dir(struct fs *fs, const char *path)
{
    struct fs_fault *ff = (struct fs_fault *)fs;
    size_t keep = 0;
    int partial, rc;

    pthread_mutex_lock(&ff->mu);
    rc = check(ff, FSF_FSYNC_DIR, path, &partial);
    if (rc == 0 && ff->real_sync)
        rc = ff->inner->ops->fsync_dir(ff->inner, path);
    for (size_t i = 0; rc == 0 && i < ff->njr; i++) {
        struct ff_journal *j = &ff->jr[i];
        if (strcmp(j->dir, path) != 0) {
            ff->jr[keep++] = *j;
            continue;
        }
        if (j->trash != NULL) {
            ff->inner->ops->unlink(ff->inner, j->trash);
            node_forget(ff, j->trash);
        }
        journal_free(j);
    }
    if (rc == 0)
        ff->njr = keep;
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

struct list_ctx {
    int (*fn)(void *arg, const char *name);
    void *arg;
};

static int list_filter(void *arg, const char *name)
{
    struct list_ctx *c = arg;

    if (strstr(name, TRASH_MARK) != NULL)
        return 0;
    return c->fn(c->arg, name);
}

static int ff_list(struct fs *fs, const char *path,
                   int (*fn)(void *arg, const char *name), void *arg)
{
    struct fs_fault *ff = (struct fs_fault *)fs;
    struct list_ctx c = {fn, arg};
    int partial, rc;

    pthread_mutex_lock(&ff->mu);
    rc = check(ff, FSF_READ, path, &partial);
    pthread_mutex_unlock(&ff->mu);
    if (rc != 0)
        return rc;
    return ff->inner->ops->list(ff->inner, path, list_filter, &c);
}

static int ff_exists(struct fs *fs, const char *path)
{
    struct fs_fault *ff = (struct fs_fault *)fs;

    if (ff->crashed)
        return err_set(-EIO, "fs_fault: machine is down (%s)", path);
    return ff->inner->ops->exists(ff->inner, path);
}

static int ff_lock(struct fs *fs, const char *path, struct fs_file **out)
{
    struct fs_fault *ff = (struct fs_fault *)fs;

    *out = NULL;
    if (ff->crashed)
        return err_set(-EIO, "fs_fault: machine is down (%s)", path);
    return ff->inner->ops->lock(ff->inner, path, out);
}

static const struct fs_ops ff_ops = {
    .open = ff_open,
    .close = ff_close,
    .pread = ff_pread,
    .append = ff_append,
    .fsync = ff_fsync,
    .truncate = ff_truncate,
    .size = ff_size,
    .rename = ff_rename,
    .unlink = ff_unlink,
    .mkdir = ff_mkdir,
    .fsync_dir = ff_fsync_dir,
    .list = ff_list,
    .exists = ff_exists,
    .lock = ff_lock,
    .pwrite = ff_pwrite,
};

/* ---- control ---- */

int fs_fault_new(struct fs *inner, struct fs_fault **out)
{
    struct fs_fault *ff = mem_calloc(MEM_TEST, 1, sizeof(*ff));

    *out = NULL;
    if (ff == NULL)
        return err_set(-ENOMEM, "fs_fault: out of memory");
    ff->fs.ops = &ff_ops;
    ff->inner = inner;
    ff->space = -1;
    ff->real_sync = 1;
    pthread_mutex_init(&ff->mu, NULL);
    *out = ff;
    return 0;
}

void fs_fault_clear(struct fs_fault *ff)
{
    pthread_mutex_lock(&ff->mu);
    for (size_t i = 0; i < ff->nrules; i++)
        mem_free(ff->rules[i].path_has);
    mem_free(ff->rules);
    ff->rules = NULL;
    ff->nrules = 0;
    ff->space = -1;
    pthread_mutex_unlock(&ff->mu);
}

void fs_fault_free(struct fs_fault *ff)
{
    if (ff == NULL)
        return;
    fs_fault_clear(ff);
    for (size_t i = 0; i < ff->nnodes; i++) {
        undo_clear(ff->nodes[i]);
        mem_free(ff->nodes[i]->path);
        mem_free(ff->nodes[i]);
    }
    for (size_t i = 0; i < ff->njr; i++)
        journal_free(&ff->jr[i]);
    mem_free(ff->nodes);
    mem_free(ff->jr);
    pthread_mutex_destroy(&ff->mu);
    mem_free(ff);
}

struct fs *fs_fault_fs(struct fs_fault *ff)
{
    return &ff->fs;
}

int fs_fault_add(struct fs_fault *ff, const struct fs_fault_rule *r)
{
    struct ff_rule *nr;
    int rc = 0;

    pthread_mutex_lock(&ff->mu);
    nr = mem_realloc(MEM_TEST, ff->rules, (ff->nrules + 1) * sizeof(*nr));
    if (nr == NULL)
        rc = err_set(-ENOMEM, "fs_fault: out of memory");
    else {
        ff->rules = nr;
        nr[ff->nrules].r = *r;
        nr[ff->nrules].path_has =
            r->path_has ? mem_strdup(MEM_TEST, r->path_has) : NULL;
        ff->nrules++;
    }
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

void fs_fault_set_space(struct fs_fault *ff, int64_t bytes)
{
    pthread_mutex_lock(&ff->mu);
    ff->space = bytes;
    pthread_mutex_unlock(&ff->mu);
}

void fs_fault_crash(struct fs_fault *ff)
{
    pthread_mutex_lock(&ff->mu);
    ff->crashed = 1;
    pthread_mutex_unlock(&ff->mu);
}

int fs_fault_crashed(struct fs_fault *ff)
{
    int c;

    pthread_mutex_lock(&ff->mu);
    c = ff->crashed;
    pthread_mutex_unlock(&ff->mu);
    return c;
}

uint64_t fs_fault_ops(struct fs_fault *ff)
{
    uint64_t n;

    pthread_mutex_lock(&ff->mu);
    n = ff->ops;
    pthread_mutex_unlock(&ff->mu);
    return n;
}

uint64_t fs_fault_hits(struct fs_fault *ff)
{
    uint64_t n;

    pthread_mutex_lock(&ff->mu);
    n = ff->hits;
    pthread_mutex_unlock(&ff->mu);
    return n;
}

/* undo -- reverse one journal entry on the real disk. */
static int undo(struct fs_fault *ff, struct ff_journal *j)
{
    struct fs *in = ff->inner;
    int rc = 0;

    if (j->kind == J_CREATE) {
        if (in->ops->exists(in, j->a) == 1)
            rc = in->ops->unlink(in, j->a);
        node_forget(ff, j->a);
        return rc;
    }
    if (j->kind == J_RENAME) {
        rc = in->ops->rename(in, j->b, j->a);
        node_rename(ff, j->b, j->a);
        if (rc == 0 && j->trash != NULL) {
            rc = in->ops->rename(in, j->trash, j->b);
            node_rename(ff, j->trash, j->b);
        }
        return rc;
    }
    rc = in->ops->rename(in, j->trash, j->a);
    node_rename(ff, j->trash, j->a);
    return rc;
}

static int cut_to_durable(struct fs_fault *ff, struct ff_node *n)
{
    struct fs_file *f;
    int rc = 0;

    if (n->path == NULL || ff->inner->ops->exists(ff->inner, n->path) != 1) {
        undo_clear(n);
        return 0;
    }
    rc = ff->inner->ops->open(ff->inner, n->path, FS_WRITE, &f);
    if (rc != 0)
        return rc;
    /* Unsynced overwrites go back, newest first. */
    for (size_t i = n->nundo; rc == 0 && i-- > 0;)
        rc =
            f->fs->ops->pwrite(f, n->undo[i].old, n->undo[i].n, n->undo[i].off);
    undo_clear(n);
    if (rc == 0)
        rc = f->fs->ops->truncate(f, n->durable);
    f->fs->ops->close(f);
    n->size = n->durable;
    return rc;
}

int fs_fault_power_loss(struct fs_fault *ff)
{
    int rc = 0;

    fs_fault_clear(ff);
    pthread_mutex_lock(&ff->mu);
    for (size_t i = ff->njr; rc == 0 && i-- > 0;)
        rc = undo(ff, &ff->jr[i]);
    for (size_t i = 0; i < ff->njr; i++)
        journal_free(&ff->jr[i]);
    ff->njr = 0;
    for (size_t i = 0; rc == 0 && i < ff->nnodes; i++)
        rc = cut_to_durable(ff, ff->nodes[i]);
    ff->crashed = 0;
    pthread_mutex_unlock(&ff->mu);
    return rc;
}

void fs_fault_restart(struct fs_fault *ff)
{
    fs_fault_clear(ff);
    pthread_mutex_lock(&ff->mu);
    ff->crashed = 0;
    pthread_mutex_unlock(&ff->mu);
}

void fs_fault_set_real_sync(struct fs_fault *ff, int on)
{
    pthread_mutex_lock(&ff->mu);
    ff->real_sync = on;
    pthread_mutex_unlock(&ff->mu);
}
