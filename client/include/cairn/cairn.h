/*
 * cairn.h -- libcairn, the C client library of the cairn datastore.
 *
 * This is the only public header. Every name is cairn_* (types cairn_*_t);
 * no libuv or protobuf type appears here. Functions return 0 or a negative
 * CAIRN_ERR_* code (negative errno values where one fits), and the detail of
 * the last failure on the calling thread is in cairn_last_error().
 *
 * Threads. One cairn_client_t is meant to be shared by every thread of a
 * program: all functions taking a client are thread-safe. The library runs
 * one private I/O thread per client that owns the sockets; futures complete
 * and callbacks run on that thread. A callback must not block: it must not
 * call a synchronous function, cairn_future_wait*() on an unfinished future,
 * cairn_iter_next() or cairn_client_free() (those return CAIRN_ERR_INVALID
 * when called from a callback, or, for cairn_client_free, abort).
 *
 * Memory. Byte arguments (cairn_bytes_t, strings) are copied before a call
 * returns. Results (cairn_result_t) and everything they point to are owned
 * by the library until cairn_result_free(), or until cairn_future_free() for
 * a result still held by its future.
 *
 * Timestamps and idempotency. Every write carries a timestamp in
 * microseconds since the Unix epoch; the higher one wins. Unless the caller
 * gives one (timestamp_us != 0), libcairn stamps the whole request with the
 * client's next timestamp: strictly increasing per client across all
 * threads, never behind the wall clock it has seen. A write that carries a
 * fixed timestamp is idempotent: sending it again after a lost answer
 * cannot undo a later write. So these calls are IDEMPOTENT, and libcairn
 * may resend them once on another connection when their connection dies
 * before the answer: cairn_put, cairn_delete_*, cairn_batch (all with the
 * timestamp they were first stamped with), every read (get, slice, scan,
 * list), and create/drop with if_not_exists/if_exists set. Create and drop
 * WITHOUT those flags are NOT idempotent (a second try reports EXISTS or
 * NO_KEYSPACE/NO_TABLE) and are never resent. A request whose answer is
 * lost fails with CAIRN_ERR_CLOSED or CAIRN_ERR_TIMEOUT: the outcome is
 * then unknown, and the caller may retry an idempotent call safely. For a
 * write that means the same timestamp: take one from
 * cairn_client_timestamp() and pass it to the first try and every retry,
 * since a call with timestamp 0 is a new write with a new stamp.
 * CAIRN_ERR_UNREACHABLE means the request was never sent.
 */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_VERSION_MAJOR 0
#define CAIRN_VERSION_MINOR 1
#define CAIRN_VERSION_PATCH 0

/* The client port a node listens on unless told otherwise. */
#define CAIRN_DEFAULT_PORT 9470

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
    /* Client-side only; never on the wire. */
    CAIRN_ERR_AGAIN = -11,        /* -EAGAIN: a future is not done yet */
    CAIRN_ERR_UNREACHABLE = -113, /* -EHOSTUNREACH: no node connected */
};

/* cairn_version -- "MAJOR.MINOR.PATCH" of the library linked in. */
const char *cairn_version(void);

/* cairn_strerror -- a short stable name for a code, e.g. "timeout". */
const char *cairn_strerror(int code);

/* cairn_last_error -- detail of the last failure on this thread, or "". */
const char *cairn_last_error(void);

/* ------------------------------------------------------------------ */
/* Basic types                                                         */

/* A byte string the caller owns; data may be NULL when len is 0. */
typedef struct cairn_bytes {
    const void *data;
    size_t len;
} cairn_bytes_t;

/* cairn_str -- a NUL-terminated string as bytes (without the NUL). */
static inline cairn_bytes_t cairn_str(const char *s)
{
    cairn_bytes_t b = {s, s ? strlen(s) : 0};
    return b;
}

/* Consistency levels; the values are those of the wire protocol. */
typedef enum cairn_consistency {
    CAIRN_CL_DEFAULT = 0, /* the node's default */
    CAIRN_CL_ANY = 1,     /* writes only */
    CAIRN_CL_ONE = 2,
    CAIRN_CL_TWO = 3,
    CAIRN_CL_THREE = 4,
    CAIRN_CL_QUORUM = 5,
    CAIRN_CL_ALL = 6,
} cairn_consistency_t;

/*
 * cairn_consistency_parse -- "one", "QUORUM", ... (any case) to a level;
 * 0 or CAIRN_ERR_INVALID.
 */
int cairn_consistency_parse(const char *name, cairn_consistency_t *out);

/* cairn_consistency_name -- "ONE", "QUORUM", ...; "DEFAULT" for 0. */
const char *cairn_consistency_name(cairn_consistency_t cl);

/*
 * Per-request settings; pass NULL for the defaults (all zero). timeout_ms
 * is sent to the node as its deadline; libcairn itself gives up one second
 * later, so the node's own timeout answer normally arrives first. 0 takes
 * the client's request_timeout_ms, and when that is 0 too the node's own
 * defaults (docs/protocol.md: 2 s for writes, 5 s for reads and scans,
 * none for schema changes) while libcairn waits at most 11 s.
 */
typedef struct cairn_req_opts {
    cairn_consistency_t consistency; /* 0: the node's default */
    uint32_t timeout_ms;             /* 0: the client's request timeout */
} cairn_req_opts_t;

/* ------------------------------------------------------------------ */
/* The client                                                          */

typedef struct cairn_client cairn_client_t;

/* Client settings. Zero fields take the documented defaults. */
typedef struct cairn_options {
    /* "host:port,host:port"; a missing port means 9470. Required. */
    const char *contact_points;
    /* sent in the handshake; NULL or "": accept any cluster */
    const char *cluster_name;
    uint32_t connect_timeout_ms;   /* per attempt; 0: 5000 */
    uint32_t request_timeout_ms;   /* default per request; 0: node's */
    uint32_t connections_per_host; /* pool size per node; 0: 2 */
    uint32_t max_in_flight;        /* per connection; 0: 256 */
} cairn_options_t;

/* cairn_options_init -- all defaults (every field zero). */
void cairn_options_init(cairn_options_t *o);

/*
 * cairn_client_new -- start a client: resolve the contact points, start
 * the I/O thread and open connections_per_host connections to each node.
 * Returns once one connection has finished its handshake (0, *out set),
 * or when every connection has failed its first attempt or
 * connect_timeout_ms has passed (CAIRN_ERR_UNREACHABLE; *out NULL). Bad
 * options give CAIRN_ERR_INVALID. Afterwards the client keeps every
 * connection open on its own: one that dies is reopened at once, then
 * with a backoff growing to 2 s while the node stays away. Requests made
 * while no connection is up fail at once with CAIRN_ERR_UNREACHABLE.
 */
int cairn_client_new(const cairn_options_t *o, cairn_client_t **out);

/*
 * cairn_client_free -- stop the client: requests still pending fail with
 * CAIRN_ERR_CLOSED (their futures stay valid until freed), connections
 * close, the I/O thread is joined. NULL is ignored. No other thread may
 * use the client during or after this call.
 */
void cairn_client_free(cairn_client_t *c);

/*
 * cairn_client_timestamp -- the client's next write timestamp, in µs
 * since the epoch: strictly greater than every one it returned before,
 * to any thread. Use it to stamp a write you may want to resend yourself.
 */
int64_t cairn_client_timestamp(cairn_client_t *c);

/* cairn_client_connections -- connections currently open and ready. */
int cairn_client_connections(cairn_client_t *c);

/* Counters of a client since it started; a snapshot, read lock-free. */
typedef struct cairn_client_stats {
    uint32_t connections_ready; /* open and past the handshake now */
    uint32_t connections_total; /* the pool: contact points x pool size */
    uint64_t connect_attempts;  /* connections opened or tried */
    uint64_t connect_failures;  /* attempts that did not reach READY */
    uint64_t connections_lost;  /* READY connections that died */
    uint64_t requests;          /* requests submitted */
    uint64_t resends;           /* idempotent requests sent again */
    uint64_t timeouts;          /* requests libcairn gave up waiting on */
} cairn_client_stats_t;

/* cairn_client_stats -- fill *out with the client's counters. */
void cairn_client_stats(cairn_client_t *c, cairn_client_stats_t *out);

/* ------------------------------------------------------------------ */
/* Results                                                             */

typedef struct cairn_result cairn_result_t;

typedef struct cairn_keyspace {
    const char *name;
    uint32_t replication_factor;
} cairn_keyspace_t;

/* Table options; zero fields: the defaults (gc grace 864000 s, no
 * default TTL, LZ4 compression). */
typedef struct cairn_table_options {
    uint32_t gc_grace_s;
    uint32_t default_ttl_s;
    int no_compression; /* non-zero: store blocks uncompressed */
} cairn_table_options_t;

typedef struct cairn_table {
    const char *keyspace;
    const char *name;
    uint64_t id; /* changes when a table is dropped and re-created */
    cairn_table_options_t options;
} cairn_table_t;

typedef struct cairn_cell {
    cairn_bytes_t column;
    cairn_bytes_t value;
    int64_t timestamp_us;
    int64_t expires_s; /* Unix time the cell expires at; 0: never */
} cairn_cell_t;

typedef struct cairn_row {
    cairn_bytes_t ck; /* clustering key; empty for key-value use */
    const cairn_cell_t *cells;
    size_t ncells;
} cairn_row_t;

typedef struct cairn_partition {
    cairn_bytes_t pkey;
    int64_t token;
    const cairn_row_t *rows;
    size_t nrows;
} cairn_partition_t;

/* cairn_result_keyspaces -- the keyspaces of a list; count returned. */
size_t cairn_result_keyspaces(const cairn_result_t *r,
                              const cairn_keyspace_t **out);

/* cairn_result_tables -- the tables of a list; count returned. */
size_t cairn_result_tables(const cairn_result_t *r, const cairn_table_t **out);

/* cairn_result_rows -- the rows of a get or slice page, in clustering
 * order; count returned (0 for other results). */
size_t cairn_result_rows(const cairn_result_t *r, const cairn_row_t **out);

/* cairn_result_partitions -- the partitions of a scan page, in token
 * order; count returned (0 for other results). */
size_t cairn_result_partitions(const cairn_result_t *r,
                               const cairn_partition_t **out);

/* cairn_result_paging_state -- where the next page starts; len 0 when
 * this was the last page. Owned by the result. */
cairn_bytes_t cairn_result_paging_state(const cairn_result_t *r);

/* cairn_result_free -- release a result and all it points to. NULL ok. */
void cairn_result_free(cairn_result_t *r);

/* ------------------------------------------------------------------ */
/* Futures                                                             */

typedef struct cairn_future cairn_future_t;

/* Runs once, on the I/O thread (or on the caller's thread when the future
 * was already done when the callback was set). It must not block. */
typedef void (*cairn_callback_t)(cairn_future_t *f, void *arg);

/* cairn_future_wait -- block until done and its callback (if any) has
 * returned; the request's code. */
int cairn_future_wait(cairn_future_t *f);

/* cairn_future_wait_for -- block at most `ms` milliseconds; the code, or
 * CAIRN_ERR_AGAIN when still not done. */
int cairn_future_wait_for(cairn_future_t *f, uint32_t ms);

/* cairn_future_ready -- 1 when done, else 0; never blocks. */
int cairn_future_ready(cairn_future_t *f);

/*
 * cairn_future_set_callback -- call `cb(f, arg)` when the future is done
 * (at once when it already is). One callback per future: a second call
 * gives CAIRN_ERR_INVALID. The future stays valid during the callback even
 * if the callback frees it.
 */
int cairn_future_set_callback(cairn_future_t *f, cairn_callback_t cb,
                              void *arg);

/* cairn_future_error -- 0, the failure's code, or CAIRN_ERR_AGAIN. */
int cairn_future_error(cairn_future_t *f);

/* cairn_future_message -- the failure's detail ("" when none); owned by
 * the future. */
const char *cairn_future_message(cairn_future_t *f);

/* cairn_future_result -- the result of a done, successful read or list;
 * NULL otherwise (writes and schema changes have none). Owned by the
 * future. */
const cairn_result_t *cairn_future_result(cairn_future_t *f);

/* cairn_future_take_result -- like cairn_future_result but the caller
 * becomes the owner (cairn_result_free); the future then holds none. */
cairn_result_t *cairn_future_take_result(cairn_future_t *f);

/* cairn_future_free -- drop the caller's hold. A request still running
 * goes on; its result is then discarded. NULL is ignored. */
void cairn_future_free(cairn_future_t *f);

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/*
 * Every request has a synchronous form, returning 0 or a code (detail in
 * cairn_last_error()), and an asynchronous _async form returning a future
 * (NULL only when out of memory). Bad arguments fail the same way in both:
 * the _async form then returns a future that is already done. `ro` may be
 * NULL. Synchronous reads store a result the caller frees in *out.
 */

/* Schema. Names are 1..48 bytes of [A-Za-z0-9_]. */
int cairn_create_keyspace(cairn_client_t *c, const cairn_req_opts_t *ro,
                          const char *name, uint32_t rf, int if_not_exists);
cairn_future_t *cairn_create_keyspace_async(cairn_client_t *c,
                                            const cairn_req_opts_t *ro,
                                            const char *name, uint32_t rf,
                                            int if_not_exists);
int cairn_drop_keyspace(cairn_client_t *c, const cairn_req_opts_t *ro,
                        const char *name, int if_exists);
cairn_future_t *cairn_drop_keyspace_async(cairn_client_t *c,
                                          const cairn_req_opts_t *ro,
                                          const char *name, int if_exists);
int cairn_list_keyspaces(cairn_client_t *c, const cairn_req_opts_t *ro,
                         cairn_result_t **out);
cairn_future_t *cairn_list_keyspaces_async(cairn_client_t *c,
                                           const cairn_req_opts_t *ro);

/* `opts` may be NULL for the defaults. */
int cairn_create_table(cairn_client_t *c, const cairn_req_opts_t *ro,
                       const char *ks, const char *name,
                       const cairn_table_options_t *opts, int if_not_exists);
cairn_future_t *cairn_create_table_async(cairn_client_t *c,
                                         const cairn_req_opts_t *ro,
                                         const char *ks, const char *name,
                                         const cairn_table_options_t *opts,
                                         int if_not_exists);
int cairn_drop_table(cairn_client_t *c, const cairn_req_opts_t *ro,
                     const char *ks, const char *name, int if_exists);
cairn_future_t *cairn_drop_table_async(cairn_client_t *c,
                                       const cairn_req_opts_t *ro,
                                       const char *ks, const char *name,
                                       int if_exists);
int cairn_list_tables(cairn_client_t *c, const cairn_req_opts_t *ro,
                      const char *ks, cairn_result_t **out);
cairn_future_t *cairn_list_tables_async(cairn_client_t *c,
                                        const cairn_req_opts_t *ro,
                                        const char *ks);

/* One column of a put. */
typedef struct cairn_column {
    cairn_bytes_t name;
    cairn_bytes_t value;
} cairn_column_t;

/*
 * cairn_put -- write `ncols` cells of row (pkey, ck). timestamp_us 0: the
 * client stamps it; ttl_s 0: the table's default TTL. Idempotent.
 */
int cairn_put(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
              const char *table, cairn_bytes_t pkey, cairn_bytes_t ck,
              const cairn_column_t *cols, size_t ncols, int64_t timestamp_us,
              uint32_t ttl_s);
cairn_future_t *cairn_put_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                const char *ks, const char *table,
                                cairn_bytes_t pkey, cairn_bytes_t ck,
                                const cairn_column_t *cols, size_t ncols,
                                int64_t timestamp_us, uint32_t ttl_s);

/* cairn_delete_cells -- delete `n` columns of row (pkey, ck). */
int cairn_delete_cells(cairn_client_t *c, const cairn_req_opts_t *ro,
                       const char *ks, const char *table, cairn_bytes_t pkey,
                       cairn_bytes_t ck, const cairn_bytes_t *columns, size_t n,
                       int64_t timestamp_us);
cairn_future_t *cairn_delete_cells_async(cairn_client_t *c,
                                         const cairn_req_opts_t *ro,
                                         const char *ks, const char *table,
                                         cairn_bytes_t pkey, cairn_bytes_t ck,
                                         const cairn_bytes_t *columns, size_t n,
                                         int64_t timestamp_us);

/* cairn_delete_row -- delete every cell of row (pkey, ck). */
int cairn_delete_row(cairn_client_t *c, const cairn_req_opts_t *ro,
                     const char *ks, const char *table, cairn_bytes_t pkey,
                     cairn_bytes_t ck, int64_t timestamp_us);
cairn_future_t *cairn_delete_row_async(cairn_client_t *c,
                                       const cairn_req_opts_t *ro,
                                       const char *ks, const char *table,
                                       cairn_bytes_t pkey, cairn_bytes_t ck,
                                       int64_t timestamp_us);

/* cairn_delete_range -- delete the rows whose clustering key is in
 * [first, last] (both inclusive); an empty `last` leaves the end open. */
int cairn_delete_range(cairn_client_t *c, const cairn_req_opts_t *ro,
                       const char *ks, const char *table, cairn_bytes_t pkey,
                       cairn_bytes_t first, cairn_bytes_t last,
                       int64_t timestamp_us);
cairn_future_t *
cairn_delete_range_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                         const char *ks, const char *table, cairn_bytes_t pkey,
                         cairn_bytes_t first, cairn_bytes_t last,
                         int64_t timestamp_us);

/* cairn_delete_partition -- delete the whole partition. */
int cairn_delete_partition(cairn_client_t *c, const cairn_req_opts_t *ro,
                           const char *ks, const char *table,
                           cairn_bytes_t pkey, int64_t timestamp_us);
cairn_future_t *cairn_delete_partition_async(cairn_client_t *c,
                                             const cairn_req_opts_t *ro,
                                             const char *ks, const char *table,
                                             cairn_bytes_t pkey,
                                             int64_t timestamp_us);

/* Kinds of a batch's mutations. */
typedef enum cairn_mutation_kind {
    CAIRN_MUT_PUT = 0,          /* ck, column, value, ttl_s */
    CAIRN_MUT_DELETE_CELL = 1,  /* ck, column */
    CAIRN_MUT_DELETE_ROW = 2,   /* ck */
    CAIRN_MUT_DELETE_RANGE = 3, /* ck .. ck_end (empty: open end) */
    CAIRN_MUT_DELETE_PARTITION = 4,
} cairn_mutation_kind_t;

typedef struct cairn_mutation {
    cairn_mutation_kind_t kind;
    cairn_bytes_t ck;
    cairn_bytes_t ck_end;
    cairn_bytes_t column;
    cairn_bytes_t value;
    int64_t timestamp_us; /* 0: the batch's client timestamp */
    uint32_t ttl_s;
} cairn_mutation_t;

/*
 * cairn_batch -- apply `n` mutations to one partition atomically. The
 * mutations without a timestamp share one client timestamp, so (as the
 * conflict rule says) a delete beats a put of the same cell in one batch.
 */
int cairn_batch(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
                const char *table, cairn_bytes_t pkey,
                const cairn_mutation_t *m, size_t n);
cairn_future_t *cairn_batch_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                  const char *ks, const char *table,
                                  cairn_bytes_t pkey, const cairn_mutation_t *m,
                                  size_t n);

/* A clustering slice of one partition and the page to fetch. */
typedef struct cairn_slice {
    cairn_bytes_t start; /* first clustering key, inclusive */
    int has_start;       /* 0: from the first row */
    cairn_bytes_t end;   /* last clustering key, inclusive */
    int has_end;         /* 0: to the last row */
    uint32_t page_size;  /* rows per page; 0: the node's default (5000) */
    cairn_bytes_t paging_state; /* len 0: first page */
} cairn_slice_t;

/* cairn_get_row -- the row (pkey, ck): a result with 0 or 1 row. */
int cairn_get_row(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
                  const char *table, cairn_bytes_t pkey, cairn_bytes_t ck,
                  cairn_result_t **out);
cairn_future_t *cairn_get_row_async(cairn_client_t *c,
                                    const cairn_req_opts_t *ro, const char *ks,
                                    const char *table, cairn_bytes_t pkey,
                                    cairn_bytes_t ck);

/* cairn_get_slice -- one page of a partition's rows in `s` (NULL: the
 * whole partition, first page). Continue with the result's paging state. */
int cairn_get_slice(cairn_client_t *c, const cairn_req_opts_t *ro,
                    const char *ks, const char *table, cairn_bytes_t pkey,
                    const cairn_slice_t *s, cairn_result_t **out);
cairn_future_t *cairn_get_slice_async(cairn_client_t *c,
                                      const cairn_req_opts_t *ro,
                                      const char *ks, const char *table,
                                      cairn_bytes_t pkey,
                                      const cairn_slice_t *s);

/* cairn_scan -- one page of the table's partitions in token order. */
int cairn_scan(cairn_client_t *c, const cairn_req_opts_t *ro, const char *ks,
               const char *table, uint32_t page_size,
               cairn_bytes_t paging_state, cairn_result_t **out);
cairn_future_t *cairn_scan_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                 const char *ks, const char *table,
                                 uint32_t page_size,
                                 cairn_bytes_t paging_state);

/* ------------------------------------------------------------------ */
/* Iterators: rows across pages, fetched synchronously as needed       */

typedef struct cairn_iter cairn_iter_t;

/* cairn_iter_slice -- iterate the rows of partition `pkey` within `s`
 * (NULL: all); s->paging_state may resume an earlier iteration. */
int cairn_iter_slice(cairn_client_t *c, const cairn_req_opts_t *ro,
                     const char *ks, const char *table, cairn_bytes_t pkey,
                     const cairn_slice_t *s, cairn_iter_t **out);

/* cairn_iter_scan -- iterate every row of a table in token order. */
int cairn_iter_scan(cairn_client_t *c, const cairn_req_opts_t *ro,
                    const char *ks, const char *table, uint32_t page_size,
                    cairn_iter_t **out);

/*
 * cairn_iter_next -- the next row: 1 with *pkey and *row set (valid until
 * the next call or cairn_iter_free), 0 at the end, or a negative code
 * (the iterator is then done; free it).
 */
int cairn_iter_next(cairn_iter_t *it, cairn_bytes_t *pkey,
                    const cairn_row_t **row);

/* cairn_iter_paging_state -- where the page after the current one starts
 * (len 0: no more pages); lets a caller resume later. */
cairn_bytes_t cairn_iter_paging_state(const cairn_iter_t *it);

/* cairn_iter_free -- release the iterator. NULL is ignored. */
void cairn_iter_free(cairn_iter_t *it);

/* ------------------------------------------------------------------ */
/* Operator commands (what `cairn status`, `ring`, ... send)           */

/*
 * cairn_admin -- run operator command `command` on the node the client
 * reaches first: "status", "ring", "info", "gossipinfo", "describe_ring"
 * (needs `keyspace`), "flush", "compact" (`keyspace` NULL or "": all),
 * "drain". The answer's JSON and text are read with the accessors below.
 */
int cairn_admin(cairn_client_t *c, const cairn_req_opts_t *ro,
                const char *command, const char *keyspace,
                cairn_result_t **out);
cairn_future_t *cairn_admin_async(cairn_client_t *c, const cairn_req_opts_t *ro,
                                  const char *command, const char *keyspace);

/* cairn_result_admin_json, cairn_result_admin_text -- an admin answer as
 * a JSON document and as text; "" when `r` holds no admin answer. */
const char *cairn_result_admin_json(const cairn_result_t *r);
const char *cairn_result_admin_text(const cairn_result_t *r);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_CAIRN_H */
