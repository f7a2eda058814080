/*
 * loop.h -- the client-facing event loops and their connections.
 *
 * N threads each run a libuv loop with its own listening socket on the
 * client port (SO_REUSEPORT, so the kernel spreads new connections over
 * the loops). A connection lives on one loop for its whole life and is
 * touched only by that loop's thread. Answers computed elsewhere come back
 * through the loop's completion queue and a uv_async wake-up.
 *
 * Draining (SIGTERM): listeners close, connections stop reading, every
 * request already decoded is answered, then connections close and the
 * loop thread ends.
 */
#ifndef CAIRN_SERVER_LOOP_H
#define CAIRN_SERVER_LOOP_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "server/call.h"
#include "server/config.h"
#include "server/frame.h"

struct node;
struct srv_loops;

struct srv_loop {
    uv_loop_t uv;
    uv_thread_t thread;
    uv_tcp_t listener;
    uv_async_t wake;         /* completions queued, or drain requested */
    uv_timer_t sweep;        /* answers timeouts of calls in flight */
    uv_check_t flush;        /* after each poll: write what answers queued */
    struct conn *flush_head; /* connections with frames to write */
    uv_mutex_t qlock;        /* guards qhead/qtail */
    struct call *qhead, *qtail;
    atomic_int drain; /* set by the main thread */
    atomic_int force; /* drain timed out: close every connection */
    int draining;     /* the loop has begun draining */
    int listener_open;
    struct conn *conns; /* open connections, loop-private */
    size_t ncalls;      /* calls submitted and not yet delivered */
    struct srv_loops *all;
    int index;
    char rbuf[64 * 1024]; /* read scratch; reads are handled at once */
};

/* Loop-private state of one client connection (conn.c). */
struct conn {
    uv_tcp_t tcp;
    struct srv_loop *lp;
    struct frame_dec dec;
    int ready;              /* handshake done */
    int64_t opened_ns;      /* accept time (monotonic), for the handshake
                               deadline */
    int reading;            /* uv_read_start in effect */
    int closing;            /* no more input; close once answers are out */
    int eof;                /* the client half-closed: finish its frames */
    int closed;             /* uv_close called */
    int handle_gone;        /* close callback ran */
    struct call **inflight; /* cap entries; the first ninflight in use */
    uint32_t ninflight;
    size_t out_pending; /* answer bytes handed to uv_write, not yet out */
    int nbad;           /* undecodable frames answered so far */
    uint8_t **pend;     /* frames queued for the next flush, in order */
    size_t *pendn;
    size_t npend, cappend;
    int flush_queued; /* on the loop's flush list */
    struct conn *flush_next;
    struct conn *next, *prev;
    char peer[64];
};

/* Everything the loops share; read-only once they run. */
struct srv_loops {
    const struct config *cfg;
    struct node *node;
    uint8_t host_id[16];
    struct srv_loop *loops;
    int n;
    atomic_int running; /* loop threads not yet finished */
    atomic_int nconns;  /* client connections over all loops */
};

/*
 * srvloop_start -- bind the client port on every loop (failure: -errno
 * with a detail naming address and port, nothing left running) and start
 * the threads.
 */
int srvloop_start(const struct config *cfg, struct node *node,
                  const uint8_t host_id[16], struct srv_loops **out);

/* srvloop_drain -- ask every loop to drain; any thread, idempotent. */
void srvloop_drain(struct srv_loops *ls);

/*
 * srvloop_force -- the drain took too long: close every connection now,
 * answered or not (requests already in flight still complete).
 */
void srvloop_force(struct srv_loops *ls);

/* srvloop_finished -- 1 once every loop thread has ended. */
int srvloop_finished(struct srv_loops *ls);

/* srvloop_free -- join the threads (after draining) and release all. */
void srvloop_free(struct srv_loops *ls);

/* srv_loop_uv -- the libuv loop of `lp`, for queueing work on it. */
uv_loop_t *srv_loop_uv(struct srv_loop *lp);

/* srvloop_post -- queue an answered call for its loop; any thread. */
void srvloop_post(struct srv_loop *lp, struct call *c);

/* srvloop_want_flush -- run conn_flush for queued conns after this poll. */
void srvloop_want_flush(struct srv_loop *lp);

/* srvloop_maybe_exit -- close the loop's last handles once drained. */
void srvloop_maybe_exit(struct srv_loop *lp);

/* conn_accept -- take a new connection from `lp`'s listener. */
void conn_accept(struct srv_loop *lp);

/* conn_deliver -- send an answered call's frame and free the call. */
void conn_deliver(struct call *c);

/* conn_flush -- write the queued frames with one system call. */
void conn_flush(struct conn *cn);

/* conn_drain -- stop reading; close once every answer is out. */
void conn_drain(struct conn *cn);

/* conn_force_close -- close now, dropping unsent answers. */
void conn_force_close(struct conn *cn);

/* conn_sweep -- answer CAIRN_ETIMEOUT for calls past their deadline. */
void conn_sweep(struct conn *cn, int64_t now_ns);

#endif /* CAIRN_SERVER_LOOP_H */
