/*
 * fs.h -- the storage engine's only door to the disk.
 *
 * Everything under storage/ reads and writes files through a `struct fs`,
 * in the spirit of SQLite's VFS and LevelDB's Env: the POSIX implementation
 * (fs_posix.c) does the real work, and the fault-injecting one
 * (fs_fault.c) wraps another fs to inject EIO, ENOSPC, short writes and
 * failed fsyncs, and to simulate power loss by dropping every byte that
 * was not fsynced (and every create, rename or unlink whose directory was
 * not fsynced).
 *
 * Conventions: paths are absolute or relative to the process's working
 * directory; every call returns 0 (or a byte count) on success and a
 * negative errno on failure, recording a detail with err_set(). A file
 * handle is used by one thread at a time, except fs_pread(), which may run
 * concurrently on the same handle.
 */
#ifndef CAIRN_STORAGE_FS_H
#define CAIRN_STORAGE_FS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fs;
struct fs_file;

/* Flags of fs_open(). */
enum {
    FS_READ = 1 << 0,   /* open for reading */
    FS_WRITE = 1 << 1,  /* open for writing (appends and pwrite) */
    FS_CREATE = 1 << 2, /* create when missing */
    FS_EXCL = 1 << 3,   /* with FS_CREATE: fail with -EEXIST if present */
    FS_TRUNC = 1 << 4,  /* truncate to zero on open */
};

/* The operations; an implementation fills every slot. */
struct fs_ops {
    int (*open)(struct fs *fs, const char *path, int flags,
                struct fs_file **out);
    int (*close)(struct fs_file *f);
    /* pread: up to n bytes at off; returns bytes read (0 at end). */
    ssize_t (*pread)(struct fs_file *f, void *buf, size_t n, uint64_t off);
    /* append: all n bytes at the end, or a negative errno. */
    int (*append)(struct fs_file *f, const void *buf, size_t n);
    int (*fsync)(struct fs_file *f);
    int (*truncate)(struct fs_file *f, uint64_t size);
    int (*size)(struct fs_file *f, uint64_t *out);
    int (*rename)(struct fs *fs, const char *from, const char *to);
    int (*unlink)(struct fs *fs, const char *path);
    int (*mkdir)(struct fs *fs, const char *path); /* 0 if it exists */
    int (*fsync_dir)(struct fs *fs, const char *path);
    /*
     * list: call fn(arg, name) for every entry of directory `path` except
     * "." and ".."; stops early and returns fn's value when it is nonzero.
     */
    int (*list)(struct fs *fs, const char *path,
                int (*fn)(void *arg, const char *name), void *arg);
    int (*exists)(struct fs *fs, const char *path); /* 1, 0 or -errno */
    /*
     * lock: take an exclusive advisory lock on `path` (created if missing)
     * for the life of the process or until unlock; -EBUSY if held.
     */
    int (*lock)(struct fs *fs, const char *path, struct fs_file **out);
    /*
     * pwrite: all n bytes at offset off (the file grows if they reach
     * past its end), or a negative errno. May be NULL: fs_pwrite() then
     * fails with -EOPNOTSUPP.
     */
    int (*pwrite)(struct fs_file *f, const void *buf, size_t n, uint64_t off);
};

struct fs {
    const struct fs_ops *ops;
};

/* A file as the caller sees it; implementations extend it. */
struct fs_file {
    struct fs *fs; /* the fs that opened it */
    char *path;    /* for error messages; owned by the file */
};

/* fs_posix -- the process-wide POSIX file system; never freed. */
struct fs *fs_posix(void);

/* Thin wrappers so call sites read naturally. */
static inline int fs_open(struct fs *fs, const char *path, int flags,
                          struct fs_file **out)
{
    return fs->ops->open(fs, path, flags, out);
}

static inline int fs_close(struct fs_file *f)
{
    return f->fs->ops->close(f);
}

static inline ssize_t fs_pread(struct fs_file *f, void *buf, size_t n,
                               uint64_t off)
{
    return f->fs->ops->pread(f, buf, n, off);
}

static inline int fs_append(struct fs_file *f, const void *buf, size_t n)
{
    return f->fs->ops->append(f, buf, n);
}

static inline int fs_fsync(struct fs_file *f)
{
    return f->fs->ops->fsync(f);
}

static inline int fs_truncate(struct fs_file *f, uint64_t size)
{
    return f->fs->ops->truncate(f, size);
}

static inline int fs_size(struct fs_file *f, uint64_t *out)
{
    return f->fs->ops->size(f, out);
}

static inline int fs_rename(struct fs *fs, const char *from, const char *to)
{
    return fs->ops->rename(fs, from, to);
}

static inline int fs_unlink(struct fs *fs, const char *path)
{
    return fs->ops->unlink(fs, path);
}

static inline int fs_mkdir(struct fs *fs, const char *path)
{
    return fs->ops->mkdir(fs, path);
}

static inline int fs_fsync_dir(struct fs *fs, const char *path)
{
    return fs->ops->fsync_dir(fs, path);
}

static inline int fs_list(struct fs *fs, const char *path,
                          int (*fn)(void *arg, const char *name), void *arg)
{
    return fs->ops->list(fs, path, fn, arg);
}

static inline int fs_exists(struct fs *fs, const char *path)
{
    return fs->ops->exists(fs, path);
}

static inline int fs_lock(struct fs *fs, const char *path, struct fs_file **out)
{
    return fs->ops->lock(fs, path, out);
}

static inline int fs_pwrite(struct fs_file *f, const void *buf, size_t n,
                            uint64_t off)
{
    if (f->fs->ops->pwrite == NULL)
        return -EOPNOTSUPP;
    return f->fs->ops->pwrite(f, buf, n, off);
}

/*
 * fs_preallocate -- a hint: reserve disk blocks for bytes [off, off + len)
 * of a file of fs_posix() without changing its size, so later appends and
 * their fsyncs need no block allocation. Files of other implementations
 * are left alone (0). Callers go on when it fails.
 */
int fs_preallocate(struct fs_file *f, uint64_t off, uint64_t len);

/* fs_read_full -- pread exactly n bytes or fail (-EIO on a short file). */
int fs_read_full(struct fs_file *f, void *buf, size_t n, uint64_t off);

#endif /* CAIRN_STORAGE_FS_H */
