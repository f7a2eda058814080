/*
 * call.h -- one client request on its way through the node.
 *
 * A connection decodes a Request into a call and hands it to a request
 * handler (node.h today; a coordinator that fans out to replicas later).
 * The handler answers from any thread: call_answer() or call_fail() packs
 * the answer into the call, then call_done() hands the call back to the
 * loop that owns its connection, which sends the answer and frees the
 * call. Exactly one call_done() per call; after it the handler must not
 * touch the call.
 *
 * Timeouts are the loop's business, not the handler's: when a call runs
 * past its deadline the loop answers CAIRN_ETIMEOUT itself and later
 * drops whatever the handler delivers.
 */
#ifndef CAIRN_SERVER_CALL_H
#define CAIRN_SERVER_CALL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/client.pb-c.h"
#include "server/metrics.h"

struct srv_loop;
struct conn;

struct call {
    Cairn__Request *req;   /* decoded request, owned by the call */
    uint64_t id;           /* the request's id */
    enum metrics_op op;    /* for metrics */
    int64_t start_ns;      /* monotonic, when decoded */
    int64_t timeout_ns;    /* answer CAIRN_ETIMEOUT after this; 0: never */
    int timed_out;         /* the timeout was answered; drop the result */
    struct srv_loop *loop; /* owning loop; the answer is sent there */
    struct conn *conn;     /* owning connection (loop-private) */
    uint8_t *out;          /* the answer's frame (mem_alloc), or NULL */
    size_t outn;
    int rc;               /* 0 or the error code answered */
    struct call *next;    /* in the loop's completion queue */
    uv_work_t work;       /* for the handler's work on the pool */
    void *handler;        /* the handler's own use */
    uint64_t handler_arg; /* the handler's own use */
};

/* call_answer -- pack `r` (its id is set here) as the answer; any thread. */
void call_answer(struct call *c, Cairn__Response *r);

/*
 * call_fail -- answer with error `code` and message `msg` (NULL: the
 * detail err_msg() of this thread); any thread.
 */
void call_fail(struct call *c, int code, const char *msg);

/* call_done -- hand the answered call back to its loop; any thread. */
void call_done(struct call *c);

#endif /* CAIRN_SERVER_CALL_H */
