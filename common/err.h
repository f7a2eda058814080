/*
 * err.h -- cairn's one error convention.
 *
 * Every function that can fail returns 0 on success or a negative code: the
 * negative errno where one fits (-EINVAL, -ENOMEM, -EIO, -ENOSPC, ...), or
 * one of the CAIRN_E* codes below for what errno cannot say. The failing
 * site records a human-readable detail once, with err_set(); callers pass
 * the code up unchanged and never reword it. The detail is per thread and
 * lives until the next err_set() on that thread.
 */
#ifndef CAIRN_COMMON_ERR_H
#define CAIRN_COMMON_ERR_H

#include <errno.h>

/* Codes beyond errno; kept far from errno's range and stable on the wire. */
enum {
    CAIRN_OK = 0,
    CAIRN_ECORRUPT = -10001,     /* bytes from disk or network failed a check */
    CAIRN_ENOTFOUND = -10002,    /* no such key, file or object */
    CAIRN_ETOOBIG = -10003,      /* key, value, frame or batch over a limit */
    CAIRN_EUNAVAILABLE = -10004, /* too few replicas up for the level */
    CAIRN_EOVERLOADED = -10005,  /* admission control refused the request */
    CAIRN_ETIMEOUT = -10006,     /* replicas did not answer in time */
    CAIRN_ENOKEYSPACE = -10007,  /* unknown keyspace */
    CAIRN_ENOTABLE = -10008,     /* unknown table */
    CAIRN_ECLOSED = -10009,      /* the object was closed or shut down */
    CAIRN_EPROTO = -10010,       /* peer broke the protocol */
    CAIRN_EREADONLY = -10011,    /* writes stopped (failed fsync, full disk) */
    CAIRN_EEXISTS = -10012,      /* already exists */
    CAIRN_EINVAL = -EINVAL,
    CAIRN_ENOMEM = -ENOMEM,
    CAIRN_EIO = -EIO,
    CAIRN_ENOSPC = -ENOSPC,
};

/*
 * err_set -- record the detail of a failure on this thread and return
 * `code`, so a failing site can write `return err_set(-EIO, "...", ...)`.
 * The message is printf-formatted and truncated at 512 bytes.
 */
int err_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* err_msg -- the detail recorded last on this thread ("" when none). */
const char *err_msg(void);

/* err_code -- the code recorded last on this thread (0 when none). */
int err_code(void);

/* err_clear -- forget the recorded detail of this thread. */
void err_clear(void);

/*
 * err_name -- a short stable name for a code ("corrupt", "timeout", or the
 * errno's symbolic meaning); never NULL, and "error" for unknown codes.
 */
const char *err_name(int code);

#endif /* CAIRN_COMMON_ERR_H */
