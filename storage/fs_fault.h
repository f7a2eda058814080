/*
 * fs_fault.h -- a file system for tests that fails on purpose.
 *
 * It wraps another fs (normally fs_posix()) and passes every call through,
 * except where a rule says to fail: EIO, ENOSPC, a short write (part of
 * the bytes land, then an error), a failed fsync, or a crash (the call
 * fails and so does every later one, as if the machine had died). It also
 * keeps what a power cut would keep: for every file the length last made
 * durable by fsync, and the creates, renames and unlinks whose directory
 * was not fsynced since. fs_fault_power_loss() then rewinds the real files
 * to that state, so a test can reopen the engine on what a real disk
 * would hold. All calls are serialized by one mutex; it is for tests.
 *
 * Limits: writes are appends (as everywhere in storage/), so "drop the
 * unsynced bytes" is a truncate to the durable length; a rename across
 * directories counts as durable once the target's directory is fsynced.
 */
#ifndef CAIRN_STORAGE_FS_FAULT_H
#define CAIRN_STORAGE_FS_FAULT_H

#include <stdint.h>

struct fs;
struct fs_fault;

/* Operations a rule can match (bits). */
enum {
    FSF_OPEN = 1 << 0, /* opens that create a file */
    FSF_APPEND = 1 << 1,
    FSF_FSYNC = 1 << 2,
    FSF_FSYNC_DIR = 1 << 3,
    FSF_RENAME = 1 << 4,
    FSF_UNLINK = 1 << 5,
    FSF_TRUNCATE = 1 << 6,
    FSF_READ = 1 << 7,
    FSF_MKDIR = 1 << 8,
    FSF_WRITES = 0x17f & ~FSF_READ, /* everything that changes the disk */
};

struct fs_fault_rule {
    unsigned ops;         /* FSF_* bits the rule matches */
    const char *path_has; /* only paths containing this; NULL: any */
    long skip;            /* let this many matching calls pass first */
    long count;           /* then fail this many (-1: all of them) */
    int err;              /* negative errno to return (-EIO, -ENOSPC) */
    int partial;          /* appends: write half the bytes before failing */
    int crash;            /* the failing call kills the "machine" */
};

/* fs_fault_new -- wrap `inner`; 0 or -ENOMEM. */
int fs_fault_new(struct fs *inner, struct fs_fault **out);

/* fs_fault_free -- release the wrapper (the files stay as they are). */
void fs_fault_free(struct fs_fault *ff);

/* fs_fault_fs -- the struct fs to hand to the engine. */
struct fs *fs_fault_fs(struct fs_fault *ff);

/* fs_fault_add -- add a rule (copied, path_has too); 0 or -ENOMEM. */
int fs_fault_add(struct fs_fault *ff, const struct fs_fault_rule *r);

/* fs_fault_clear -- drop every rule and the space limit. */
void fs_fault_clear(struct fs_fault *ff);

/*
 * fs_fault_set_space -- let appends add at most `bytes` more bytes in all
 * (the rest of a write that does not fit fails with -ENOSPC after the part
 * that fits lands); -1: unlimited.
 */
void fs_fault_set_space(struct fs_fault *ff, int64_t bytes);

/*
 * fs_fault_set_real_sync -- 0: fsyncs only record durability without
 * reaching the disk (the power loss is simulated anyway, and tests run
 * far faster); 1 (default): pass them through.
 */
void fs_fault_set_real_sync(struct fs_fault *ff, int on);

/* fs_fault_crash -- from now on every call fails with -EIO. */
void fs_fault_crash(struct fs_fault *ff);

/* fs_fault_crashed -- 1 once a crash rule fired or fs_fault_crash ran. */
int fs_fault_crashed(struct fs_fault *ff);

/*
 * fs_fault_power_loss -- rewind the disk to what was durable: undo
 * un-fsynced creates, renames and unlinks (newest first), cut every file
 * to its fsynced length; then the "machine" is up again with no rules.
 * Files must all be closed. 0 or the error of the underlying fs.
 */
int fs_fault_power_loss(struct fs_fault *ff);

/*
 * fs_fault_restart -- the process died but the machine did not: drop the
 * rules and the crash, keep every byte (the kernel has them).
 */
void fs_fault_restart(struct fs_fault *ff);

/* fs_fault_ops -- calls that changed the disk so far (crash points). */
uint64_t fs_fault_ops(struct fs_fault *ff);

/* fs_fault_hits -- how many calls the rules have failed so far. */
uint64_t fs_fault_hits(struct fs_fault *ff);

#endif /* CAIRN_STORAGE_FS_FAULT_H */
