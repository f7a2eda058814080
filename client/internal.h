/*
 * internal.h -- what libcairn's files share and nobody else sees.
 *
 * Names shared between client/ files are cairn__*. Three pieces meet here:
 * futures and results (future.c), the I/O thread that owns the sockets
 * (io.c), and the request builders of the public API (requests.c). A
 * request is encoded into a complete frame on the caller's thread, handed
 * to the I/O thread through a locked queue, and answered through its
 * future; the caller's thread never touches libuv.
 */
#ifndef CAIRN_CLIENT_INTERNAL_H
#define CAIRN_CLIENT_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "cairn/cairn.h"
#include "proto/client.pb-c.h"

/* Internal names stay out of libcairn.so's dynamic symbol table, though
 * libcairn.map's cairn_* pattern would match them. */
#pragma GCC visibility push(hidden)

/* Largest frame libcairn accepts from a node; bigger is a protocol error. */
#define CAIRN__MAX_FRAME (256u << 20)

/* The protocol version this library speaks (docs/protocol.md). */
#define CAIRN__PROTOCOL_VERSION 1

/* Extra wait beyond a request's timeout before libcairn gives up itself. */
#define CAIRN__GRACE_MS 1000

/* protobuf-c allocations of libcairn go through mem.h (MEM_CLIENT). */
extern ProtobufCAllocator cairn__pb_alloc;

/* ---- options (options.c) ---- */

/* One resolved contact point. */
struct cairn__addr {
    struct sockaddr_storage sa;
    char name[300]; /* "host:port" as given, for messages */
};

/*
 * cairn__parse_contacts -- split "host:port,host:port" (port optional,
 * default CAIRN_DEFAULT_PORT; IPv6 as "[addr]:port") and resolve each
 * host. On success *out holds *n addresses (mem_free it). 0 or
 * CAIRN_ERR_INVALID with the detail recorded.
 */
int cairn__parse_contacts(const char *s, struct cairn__addr **out, size_t *n);

/*
 * cairn__split_hostport -- parse one "host:port" into host (NUL-ended,
 * at most hostcap bytes) and port; 0 or CAIRN_ERR_INVALID.
 */
int cairn__split_hostport(const char *s, size_t len, char *host, size_t hostcap,
                          uint16_t *port);

/* ---- results and futures (future.c) ---- */

struct cairn_result {
    Cairn__Response *resp; /* decoded answer; everything points into it */
    cairn_keyspace_t *keyspaces;
    size_t nkeyspaces;
    cairn_table_t *tables;
    size_t ntables;
    cairn_row_t *rows; /* read rows, or every scan row */
    size_t nrows;
    cairn_cell_t *cells; /* backing store of all rows' cells */
    cairn_partition_t *parts;
    size_t nparts;
    cairn_bytes_t paging_state;
};

/*
 * cairn__result_from -- wrap a decoded successful Response (taking it
 * over) in a result with its views built; 0 or -ENOMEM (resp then freed).
 * A response without a result part yields *out NULL.
 */
int cairn__result_from(Cairn__Response *resp, cairn_result_t **out);

/* cairn__future_new -- a pending future with two holds (caller, library). */
cairn_future_t *cairn__future_new(void);

/*
 * cairn__future_complete -- settle the future (code, message, result,
 * which it takes over), wake waiters, run the callback, then drop the
 * library's hold. Called exactly once per future, on any thread.
 */
void cairn__future_complete(cairn_future_t *f, int code, const char *msg,
                            cairn_result_t *r);

/* cairn__future_failed -- a new future already failed with code/msg. */
cairn_future_t *cairn__future_failed(int code, const char *msg);

/*
 * cairn__future_sync -- wait for f on behalf of a synchronous call, record
 * its message with err_set on failure, hand over its result to *out (when
 * out is not NULL), free f, and return its code.
 */
int cairn__future_sync(cairn_future_t *f, cairn_result_t **out);

/* cairn__cond_init -- a condition variable timed on CLOCK_MONOTONIC, so
 * wall clock jumps do not stretch or cut waits. */
void cairn__cond_init(pthread_cond_t *cv);

/* cairn__deadline -- CLOCK_MONOTONIC now + `ms`, for timed waits. */
void cairn__deadline(struct timespec *until, uint32_t ms);

/* cairn__on_io_thread -- 1 when the calling thread is any client's I/O
 * thread, where blocking is forbidden. */
int cairn__on_io_thread(void);

/* cairn__set_io_thread -- mark (on) or unmark the calling thread as an
 * I/O thread. */
void cairn__set_io_thread(int on);

/* ---- the I/O side (io.c) ---- */

/*
 * cairn__submit -- send `req` (its id is set here) on the client and
 * return its future. `idempotent` allows one resend on another connection
 * when the first one dies before the answer. The request is encoded before
 * this returns; the caller keeps ownership of `req`.
 */
cairn_future_t *cairn__submit(cairn_client_t *c, const cairn_req_opts_t *ro,
                              Cairn__Request *req, int idempotent);

#pragma GCC visibility pop

#endif /* CAIRN_CLIENT_INTERNAL_H */
