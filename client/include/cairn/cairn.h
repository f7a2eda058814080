/*
 * cairn.h -- libcairn, the C client library of the cairn datastore.
 *
 * This is the only public header. Every name is cairn_* (types cairn_*_t);
 * no libuv or protobuf type appears here. Functions return 0 or a negative
 * CAIRN_ERR_* code (negative errno values where one fits), and the detail of
 * the last failure on the calling thread is in cairn_last_error().
 */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_VERSION_MAJOR 0
#define CAIRN_VERSION_MINOR 1
#define CAIRN_VERSION_PATCH 0

/* Error codes; the same values travel on the wire in Error.code. */
enum cairn_error {
    CAIRN_ERR_OK = 0,
    CAIRN_ERR_CORRUPT = -10001,     /* bytes failed a checksum or decode */
    CAIRN_ERR_NOT_FOUND = -10002,   /* no such row or object */
    CAIRN_ERR_TOO_BIG = -10003,     /* key, value or request over a limit */
    CAIRN_ERR_UNAVAILABLE = -10004, /* too few replicas up for the level */
    CAIRN_ERR_OVERLOADED = -10005,  /* the node refused more work */
    CAIRN_ERR_TIMEOUT = -10006,     /* replicas did not answer in time */
    CAIRN_ERR_NO_KEYSPACE = -10007, /* unknown keyspace */
    CAIRN_ERR_NO_TABLE = -10008,    /* unknown table */
    CAIRN_ERR_CLOSED = -10009,      /* connection or client closed */
    CAIRN_ERR_PROTOCOL = -10010,    /* the other side broke the protocol */
    CAIRN_ERR_READ_ONLY = -10011,   /* the node stopped taking writes */
    CAIRN_ERR_EXISTS = -10012,      /* keyspace or table already exists */
    CAIRN_ERR_INVALID = -22,        /* -EINVAL: a bad argument */
    CAIRN_ERR_NO_MEMORY = -12,      /* -ENOMEM */
};

/* cairn_version -- "MAJOR.MINOR.PATCH" of the library linked in. */
const char *cairn_version(void);

/* cairn_strerror -- a short stable name for a code, e.g. "timeout". */
const char *cairn_strerror(int code);

/* cairn_last_error -- detail of the last failure on this thread, or "". */
const char *cairn_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_CAIRN_H */
