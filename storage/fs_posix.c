/*
 * fs_posix.c -- the real file system behind struct fs (see fs.h).
 *
 * A thin layer over POSIX calls: it retries EINTR and short writes, maps
 * failures to negative errno with a recorded detail naming the file, and
 * nothing else. Thread-safe; it keeps no state but the descriptors.
 */
#include "storage/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"

struct posix_file {
    struct fs_file base;
    int fd;
    int positional; /* O_APPEND dropped for pwrite; appends seek first */
};

static int posix_fail(int e, const char *what, const char *path)
{
    return err_set(-e, "%s %s: %s", what, path, strerror(e));
}

static int posix_open(struct fs *fs, const char *path, int flags,
                      struct fs_file **out)
{
    int oflags = O_CLOEXEC, fd;
    struct posix_file *f;

    *out = NULL;
    if ((flags & FS_READ) && (flags & FS_WRITE))
        oflags |= O_RDWR | O_APPEND;
    else if (flags & FS_WRITE)
        oflags |= O_WRONLY | O_APPEND;
    else
        oflags |= O_RDONLY;
    if (flags & FS_CREATE)
        oflags |= O_CREAT;
    if (flags & FS_EXCL)
        oflags |= O_EXCL;
    if (flags & FS_TRUNC)
        oflags |= O_TRUNC;

    fd = open(path, oflags, 0644);
    if (fd < 0)
        return posix_fail(errno, "open", path);
    f = mem_calloc(MEM_STORAGE, 1, sizeof(*f));
    if (f == NULL || (f->base.path = mem_strdup(MEM_STORAGE, path)) == NULL) {
        mem_free(f);
        close(fd);
        return err_set(-ENOMEM, "open %s: out of memory", path);
    }
    f->base.fs = fs;
    f->fd = fd;
    *out = &f->base;
    return 0;
}

static int posix_close(struct fs_file *file)
{
    struct posix_file *f = (struct posix_file *)file;
    int rc = 0;

    if (close(f->fd) != 0)
        rc = posix_fail(errno, "close", f->base.path);
    mem_free(f->base.path);
    mem_free(f);
    return rc;
}

static ssize_t posix_pread(struct fs_file *file, void *buf, size_t n,
                           uint64_t off)
{
    struct posix_file *f = (struct posix_file *)file;
    ssize_t r;

    do {
        r = pread(f->fd, buf, n, (off_t)off);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return posix_fail(errno, "read", f->base.path);
    return r;
}

static int posix_append(struct fs_file *file, const void *buf, size_t n)
{
    struct posix_file *f = (struct posix_file *)file;
    const char *p = buf;

    if (f->positional && lseek(f->fd, 0, SEEK_END) < 0)
        return posix_fail(errno, "seek", f->base.path);
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return posix_fail(errno, "write", f->base.path);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int posix_fsync(struct fs_file *file)
{
    struct posix_file *f = (struct posix_file *)file;

    if (fdatasync(f->fd) != 0)
        return posix_fail(errno, "fsync", f->base.path);
    return 0;
}

static int posix_truncate(struct fs_file *file, uint64_t size)
{
    struct posix_file *f = (struct posix_file *)file;

    if (ftruncate(f->fd, (off_t)size) != 0)
        return posix_fail(errno, "truncate", f->base.path);
    return 0;
}

static int posix_size(struct fs_file *file, uint64_t *out)
{
    struct posix_file *f = (struct posix_file *)file;
    struct stat st;

    *out = 0;
    if (fstat(f->fd, &st) != 0)
        return posix_fail(errno, "stat", f->base.path);
    *out = (uint64_t)st.st_size;
    return 0;
}

static int posix_rename(struct fs *fs, const char *from, const char *to)
{
    (void)fs;
    if (rename(from, to) != 0)
        return posix_fail(errno, "rename", from);
    return 0;
}

static int posix_unlink(struct fs *fs, const char *path)
{
    (void)fs;
    if (unlink(path) != 0)
        return posix_fail(errno, "unlink", path);
    return 0;
}

static int posix_mkdir(struct fs *fs, const char *path)
{
    (void)fs;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return posix_fail(errno, "mkdir", path);
    return 0;
}

static int posix_fsync_dir(struct fs *fs, const char *path)
{
    int fd, rc = 0;

    (void)fs;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return posix_fail(errno, "open directory", path);
    if (fsync(fd) != 0)
        rc = posix_fail(errno, "fsync directory", path);
    close(fd);
    return rc;
}

static int posix_list(struct fs *fs, const char *path,
                      int (*fn)(void *arg, const char *name), void *arg)
{
    DIR *d;
    struct dirent *e;
    int rc = 0;

    (void)fs;
    d = opendir(path);
    if (d == NULL)
        return posix_fail(errno, "list", path);
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = fn(arg, e->d_name);
    }
    closedir(d);
    return rc;
}

static int posix_exists(struct fs *fs, const char *path)
{
    struct stat st;

    (void)fs;
    if (stat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : posix_fail(errno, "stat", path);
}

static int posix_lock(struct fs *fs, const char *path, struct fs_file **out)
{
    int rc = posix_open(fs, path, FS_READ | FS_WRITE | FS_CREATE, out);

    if (rc != 0)
        return rc;
    if (flock(((struct posix_file *)*out)->fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        posix_close(*out);
        *out = NULL;
        if (e == EWOULDBLOCK)
            return err_set(-EBUSY,
                           "%s is locked by another process; is another "
                           "cairn-server using this data directory?",
                           path);
        return posix_fail(e, "lock", path);
    }
    return 0;
}

static int posix_pwrite(struct fs_file *file, const void *buf, size_t n,
                        uint64_t off)
{
    struct posix_file *f = (struct posix_file *)file;
    const char *p = buf;
    int fl;

    /* Linux's pwrite() ignores the offset under O_APPEND: drop it. */
    if (!f->positional) {
        fl = fcntl(f->fd, F_GETFL);
        if (fl < 0 || fcntl(f->fd, F_SETFL, fl & ~O_APPEND) < 0)
            return posix_fail(errno, "fcntl", f->base.path);
        f->positional = 1;
    }
    while (n > 0) {
        ssize_t w = pwrite(f->fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return posix_fail(errno, "write", f->base.path);
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static const struct fs_ops posix_ops;

int fs_preallocate(struct fs_file *file, uint64_t off, uint64_t len)
{
    struct posix_file *f = (struct posix_file *)file;

    if (file->fs->ops != &posix_ops)
        return 0;
    if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0)
        return posix_fail(errno, "preallocate", f->base.path);
    return 0;
}

static const struct fs_ops posix_ops = {
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .append = posix_append,
    .fsync = posix_fsync,
    .truncate = posix_truncate,
    .size = posix_size,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
    .fsync_dir = posix_fsync_dir,
    .list = posix_list,
    .exists = posix_exists,
    .lock = posix_lock,
    .pwrite = posix_pwrite,
};

static struct fs posix_fs = {&posix_ops};

struct fs *fs_posix(void)
{
    return &posix_fs;
}

int fs_read_full(struct fs_file *f, void *buf, size_t n, uint64_t off)
{
    char *p = buf;

    while (n > 0) {
        ssize_t r = fs_pread(f, p, n, off);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return err_set(-EIO, "read %s: file ends before offset %llu",
                           f->path, (unsigned long long)off);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}
