/*
 * io.c -- the client's I/O thread: connection pool, framing, dispatch.
 *
 * Each client runs one libuv loop on a private thread. That thread alone
 * touches the sockets, the connection table, the queue of requests
 * waiting for a connection slot and the list of live requests; other
 * threads reach it only through the submit queue (c->mu) and a uv_async
 * wake-up. So nothing below takes a lock except to read that queue and to
 * publish startup state.
 *
 * Pool: connections_per_host connections to each contact point. A
 * connection goes IDLE -> CONNECTING -> HANDSHAKE -> READY, and on any
 * failure to CLOSING then IDLE, where its timer always holds the next
 * attempt: at once after losing a READY connection, then with a backoff
 * of 100 ms doubling to 2 s. So a node is never left with no connection
 * and nothing scheduled, and one restart costs one reconnect cycle.
 *
 * Requests: each is a complete frame built by the caller. Dispatch puts
 * it on the READY connection with the fewest requests in flight, below
 * max_in_flight; when every connection is full it waits in c->waitq, and
 * when none is READY it fails at once with CAIRN_ERR_UNREACHABLE. A
 * connection that dies fails its requests with CAIRN_ERR_CLOSED, except
 * idempotent ones, which are resent once elsewhere. A sweep timer fails
 * requests whose deadline passed; a late answer is then ignored (ids are
 * never reused, so it cannot be mistaken for another).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "client/internal.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"

#define SWEEP_MS         50
#define MSG_MAX          640 /* room for an address and a reason */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   2000
#define READ_CHUNK       (64u << 10)
#define DEFAULT_POOL     2
#define DEFAULT_INFLIGHT 256 /* a node's own cap per connection */
#define DEFAULT_CONNECT  5000
#define DEFAULT_REQUEST  10000 /* local wait when the node decides */
#define MAX_POOL         64
#define KEEPALIVE_S      10
#define MAX_INFLIGHT_CAP 65536

struct link {
    struct link *prev, *next;
};

struct req {
    struct link all;   /* c->all: every live request */
    struct link q;     /* c->waitq while waiting for a slot */
    struct req *hnext; /* hash chain of conn->ht while in flight */
    struct req *snext; /* submit queue (c->mu) */
    uint64_t id;
    uint8_t *frame; /* length prefix + encoded Request */
    size_t frame_len;
    int64_t deadline_ns; /* monotonic */
    uint32_t timeout_ms; /* how long libcairn waits for it, in all */
    struct conn *conn;   /* in flight there, or NULL */
    cairn_future_t *fut;
    int idempotent;
    int resends; /* resends left after a lost connection */
    /* The host whose connection died under this request: its other
     * connections are likely dying too, so the resend goes elsewhere. */
    const void *avoid;
    int writes; /* uv_writes still pointing at frame */
    int sent;   /* was written to a connection at least once */
    int done;   /* future settled */
};

enum cstate { CS_IDLE, CS_CONNECTING, CS_HANDSHAKE, CS_READY, CS_CLOSING };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* connect deadline, or the next attempt when IDLE */
    uv_connect_t creq;
    struct cairn_client *c;
    const struct cairn__addr *addr;
    enum cstate st;
    int was_ready; /* reached READY since the last attempt began */
    int tried;     /* its first attempt has ended */
    struct buf rbuf;
    struct req **ht; /* in-flight requests by id */
    size_t hmask;
    size_t inflight;
    uint32_t backoff_ms;
};

struct wr {
    uv_write_t w;
    struct req *req; /* or NULL with `owned` set (the handshake) */
    uint8_t *owned;
};

struct cairn_client {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t sweep;

    pthread_mutex_t mu; /* guards the fields down to last_err */
    pthread_cond_t cv;  /* startup progress */
    struct req *sub_head, *sub_tail;
    int closing;
    int started;    /* one conn READY, or every first attempt failed */
    int first_fail; /* conns whose first attempt failed */
    char last_err[256];

    /* loop-owned */
    int stopping;
    int dispatching;
    size_t rr;
    struct link all, waitq;
    struct conn *conns;
    size_t nconns;

    struct cairn__addr *addrs;
    size_t naddrs;
    char *cluster_name;
    uint32_t connect_ms, request_ms, pool, max_inflight;
    atomic_int nready;
    /* counters for cairn_client_stats() */
    atomic_uint_fast64_t n_attempts, n_failures, n_lost, n_requests, n_resends,
        n_timeouts;
    atomic_uint_fast64_t next_id;
    _Atomic int64_t last_ts;
};

/* ---- lists ---- */

static void list_init(struct link *l)
{
    l->prev = l->next = l;
}

static int list_empty(const struct link *l)
{
    return l->next == l;
}

static void list_push(struct link *head, struct link *n, int front)
{
    struct link *at = front ? head : head->prev;

    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}

static void list_del(struct link *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

#define REQ_OF(p, field)                                                       \
    ((struct req *)((char *)(p)-offsetof(struct req, field)))

/* ---- requests ---- */

static void req_maybe_free(struct req *r)
{
    if (r->done && r->writes == 0) {
        mem_free(r->frame);
        mem_free(r);
    }
}

/* Settle a request that is in no queue or table any more. */
static void req_finish(struct req *r, int code, const char *msg,
                       cairn_result_t *res)
{
    list_del(&r->all);
    r->done = 1;
    cairn__future_complete(r->fut, code, msg, res);
    req_maybe_free(r);
}

static void ht_put(struct conn *cn, struct req *r)
{
    size_t i = r->id & cn->hmask;

    r->hnext = cn->ht[i];
    cn->ht[i] = r;
    r->conn = cn;
    cn->inflight++;
}

static struct req *ht_take(struct conn *cn, uint64_t id)
{
    struct req **pp = &cn->ht[id & cn->hmask];

    for (; *pp; pp = &(*pp)->hnext) {
        struct req *r = *pp;

        if (r->id == id) {
            *pp = r->hnext;
            r->hnext = NULL;
            r->conn = NULL;
            cn->inflight--;
            return r;
        }
    }
    return NULL;
}

/* ---- startup state, shared with the creating thread ---- */

static void note_error(struct cairn_client *c, struct conn *cn, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    snprintf(c->last_err, sizeof(c->last_err), "%s", msg);
    if (cn && !cn->tried) {
        cn->tried = 1;
        if (++c->first_fail == (int)c->nconns)
            c->started = 1;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void note_ready(struct cairn_client *c, struct conn *cn)
{
    pthread_mutex_lock(&c->mu);
    cn->tried = 1;
    c->started = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- dispatch ---- */

static void conn_fail(struct conn *cn, int code, const char *msg);

static void fail_waitq(struct cairn_client *c, int code, const char *msg)
{
    while (!list_empty(&c->waitq)) {
        struct req *r = REQ_OF(c->waitq.next, q);

        list_del(&r->q);
        if (r->sent && code == CAIRN_ERR_UNREACHABLE)
            /* It went out once, on a connection that died: the node may
             * have applied it, so this is not a plain "never sent". */
            req_finish(r, CAIRN_ERR_CLOSED,
                       "the connection died before the answer and no "
                       "other connection is up to resend it; the outcome "
                       "is unknown",
                       NULL);
        else
            req_finish(r, code, msg, NULL);
    }
}

/*
 * The READY connection with the fewest requests in flight and room,
 * preferring hosts other than `avoid` (NULL: any host).
 */
static struct conn *pick(struct cairn_client *c, const void *avoid)
{
    struct conn *best = NULL;
    int best_avoided = 1;

    for (size_t i = 0; i < c->nconns; i++) {
        struct conn *cn = &c->conns[(c->rr + i) % c->nconns];
        int avoided = avoid != NULL && (const void *)cn->addr == avoid;

        if (cn->st != CS_READY || cn->inflight >= c->max_inflight)
            continue;
        if (!best || avoided < best_avoided ||
            (avoided == best_avoided && cn->inflight < best->inflight)) {
            best = cn;
            best_avoided = avoided;
        }
    }
    c->rr++;
    return best;
}

static void on_write(uv_write_t *w, int status)
{
    struct wr *wr = (struct wr *)w;
    struct conn *cn = w->handle->data;

    if (wr->req) {
        wr->req->writes--;
        req_maybe_free(wr->req);
    }
    mem_free(wr->owned);
    mem_free(wr);
    if (status < 0 && status != UV_ECANCELED) {
        char msg[MSG_MAX];

        snprintf(msg, sizeof(msg), "write to %s failed: %s", cn->addr->name,
                 uv_strerror(status));
        conn_fail(cn, CAIRN_ERR_CLOSED, msg);
    }
}

/* Queue bytes on the socket; a request's frame, or `owned` bytes. */
static int conn_write(struct conn *cn, struct req *r, uint8_t *owned,
                      size_t len)
{
    struct wr *wr = mem_calloc(MEM_CLIENT, 1, sizeof(*wr));
    uv_buf_t b;
    int rc;

    if (!wr) {
        mem_free(owned);
        return -ENOMEM;
    }
    wr->req = r;
    wr->owned = owned;
    b = uv_buf_init((char *)(r ? r->frame : owned), (unsigned)len);
    if (r)
        r->writes++;
    rc = uv_write(&wr->w, (uv_stream_t *)&cn->tcp, &b, 1, on_write);
    if (rc < 0) {
        if (r)
            r->writes--;
        mem_free(owned);
        mem_free(wr);
    }
    return rc;
}

static void dispatch(struct cairn_client *c)
{
    /* While stopping, loop_stop() fails the queue with CLOSED itself. */
    if (c->dispatching || c->stopping)
        return;
    c->dispatching = 1;
    while (!list_empty(&c->waitq)) {
        struct req *head = REQ_OF(c->waitq.next, q);
        struct conn *cn = pick(c, head->avoid);
        struct req *r;

        if (!cn) {
            if (atomic_load(&c->nready) == 0) {
                char msg[MSG_MAX];

                pthread_mutex_lock(&c->mu);
                snprintf(msg, sizeof(msg),
                         "no connection to any node is up (last error: "
                         "%s); reconnecting in the background",
                         c->last_err);
                pthread_mutex_unlock(&c->mu);
                fail_waitq(c, CAIRN_ERR_UNREACHABLE, msg);
            }
            break;
        }
        r = REQ_OF(c->waitq.next, q);
        list_del(&r->q);
        ht_put(cn, r);
        r->sent = 1;
        if (conn_write(cn, r, NULL, r->frame_len) < 0)
            conn_fail(cn, CAIRN_ERR_CLOSED, "cannot write to the socket");
    }
    c->dispatching = 0;
}

/* ---- connections ---- */

static void conn_start(struct conn *cn);

static void on_retry_timer(uv_timer_t *t)
{
    struct conn *cn = t->data;

    if (cn->st == CS_IDLE && !cn->c->stopping)
        conn_start(cn);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct conn *cn = h->data;
    uint32_t delay;

    cn->st = CS_IDLE;
    buf_reset(&cn->rbuf);
    if (cn->c->stopping)
        return;
    /* A connection that worked is retried at once: most likely the node
     * restarted. One that never came up waits, longer each time. */
    delay = cn->was_ready ? 0 : cn->backoff_ms;
    cn->backoff_ms = cn->was_ready ? BACKOFF_FIRST_MS
                                   : (cn->backoff_ms * 2 > BACKOFF_MAX_MS
                                          ? BACKOFF_MAX_MS
                                          : cn->backoff_ms * 2);
    cn->was_ready = 0;
    uv_timer_start(&cn->timer, on_retry_timer, delay, 0);
}

/* Requests in flight on a dying connection: resend or fail them. */
static void conn_drain(struct conn *cn, int code, const char *msg)
{
    struct cairn_client *c = cn->c;
    char lost[2 * MSG_MAX];

    snprintf(lost, sizeof(lost),
             "connection to %s lost before the answer (%s); the outcome is "
             "unknown",
             cn->addr->name, msg);
    for (size_t i = 0; i <= cn->hmask; i++) {
        while (cn->ht[i]) {
            struct req *r = ht_take(cn, cn->ht[i]->id);

            if (!c->stopping && r->idempotent && r->resends > 0) {
                r->resends--;
                r->avoid = cn->addr;
                atomic_fetch_add(&c->n_resends, 1);
                list_push(&c->waitq, &r->q, 1);
            } else {
                req_finish(r, c->stopping ? code : CAIRN_ERR_CLOSED,
                           c->stopping ? msg : lost, NULL);
            }
        }
    }
}

static void conn_fail(struct conn *cn, int code, const char *msg)
{
    struct cairn_client *c = cn->c;

    if (cn->st == CS_IDLE || cn->st == CS_CLOSING)
        return;
    if (cn->st == CS_READY) {
        atomic_fetch_sub(&c->nready, 1);
        if (!c->stopping)
            atomic_fetch_add(&c->n_lost, 1);
    } else if (!c->stopping) {
        atomic_fetch_add(&c->n_failures, 1);
    }
    cn->st = CS_CLOSING;
    note_error(c, cn, msg);
    uv_timer_stop(&cn->timer);
    uv_read_stop((uv_stream_t *)&cn->tcp);
    uv_close((uv_handle_t *)&cn->tcp, on_tcp_closed);
    conn_drain(cn, code, msg);
    dispatch(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
    struct conn *cn = t->data;
    char msg[MSG_MAX];

    snprintf(msg, sizeof(msg), "connecting to %s timed out after %u ms",
             cn->addr->name, cn->c->connect_ms);
    conn_fail(cn, CAIRN_ERR_UNREACHABLE, msg);
}

static void on_handshake_reply(struct conn *cn, const uint8_t *p, size_t n)
{
    Cairn__HandshakeReply *hr;
    char msg[MSG_MAX];

    hr = cairn__handshake_reply__unpack(&cairn__pb_alloc, n, p);
    if (!hr) {
        snprintf(msg, sizeof(msg),
                 "%s sent a handshake reply that does "
                 "not decode",
                 cn->addr->name);
        conn_fail(cn, CAIRN_ERR_PROTOCOL, msg);
        return;
    }
    if (hr->error || hr->protocol_version != CAIRN__PROTOCOL_VERSION) {
        snprintf(msg, sizeof(msg), "%s refused the handshake: %s",
                 cn->addr->name,
                 hr->error ? hr->error->message : "protocol version");
        cairn__handshake_reply__free_unpacked(hr, &cairn__pb_alloc);
        conn_fail(cn, CAIRN_ERR_PROTOCOL, msg);
        return;
    }
    cairn__handshake_reply__free_unpacked(hr, &cairn__pb_alloc);
    uv_timer_stop(&cn->timer);
    cn->st = CS_READY;
    cn->was_ready = 1;
    cn->backoff_ms = BACKOFF_FIRST_MS;
    atomic_fetch_add(&cn->c->nready, 1);
    note_ready(cn->c, cn);
    dispatch(cn->c);
}

static void on_response(struct conn *cn, const uint8_t *p, size_t n)
{
    Cairn__Response *resp;
    cairn_result_t *res = NULL;
    struct req *r;
    int rc;

    resp = cairn__response__unpack(&cairn__pb_alloc, n, p);
    if (!resp) {
        char msg[MSG_MAX];

        snprintf(msg, sizeof(msg), "%s sent a response that does not decode",
                 cn->addr->name);
        conn_fail(cn, CAIRN_ERR_PROTOCOL, msg);
        return;
    }
    if (resp->id == 0 && resp->error) {
        /* Id 0 answers no request: the node is about to close the
         * connection and says why. */
        char msg[MSG_MAX];

        snprintf(msg, sizeof(msg), "%s closed the connection: %s",
                 cn->addr->name, resp->error->message);
        cairn__response__free_unpacked(resp, &cairn__pb_alloc);
        conn_fail(cn, CAIRN_ERR_CLOSED, msg);
        return;
    }
    r = ht_take(cn, resp->id);
    if (!r) {
        /* Its request timed out here already; nobody waits for it. */
        cairn__response__free_unpacked(resp, &cairn__pb_alloc);
        return;
    }
    if (resp->error) {
        rc = resp->error->code < 0 ? resp->error->code : CAIRN_ERR_PROTOCOL;
        req_finish(r, rc, resp->error->message, NULL);
        cairn__response__free_unpacked(resp, &cairn__pb_alloc);
        return;
    }
    rc = cairn__result_from(resp, &res);
    req_finish(r, rc, rc < 0 ? "out of memory decoding an answer" : NULL, res);
}

/* Handle every whole frame in the read buffer; keep the rest. */
static void conn_frames(struct conn *cn)
{
    size_t off = 0;

    while (cn->rbuf.len - off >= 4 && cn->st >= CS_HANDSHAKE &&
           cn->st != CS_CLOSING) {
        uint32_t flen = dec_u32be(cn->rbuf.data + off);
        const uint8_t *body = cn->rbuf.data + off + 4;

        if (flen > CAIRN__MAX_FRAME) {
            char msg[MSG_MAX];

            snprintf(msg, sizeof(msg),
                     "%s sent a frame of %u bytes, over "
                     "the limit",
                     cn->addr->name, flen);
            conn_fail(cn, CAIRN_ERR_PROTOCOL, msg);
            return;
        }
        if (cn->rbuf.len - off - 4 < flen)
            break;
        off += 4 + (size_t)flen;
        if (cn->st == CS_HANDSHAKE)
            on_handshake_reply(cn, body, flen);
        else
            on_response(cn, body, flen);
    }
    if (cn->st == CS_CLOSING)
        return;
    memmove(cn->rbuf.data, cn->rbuf.data + off, cn->rbuf.len - off);
    cn->rbuf.len -= off;
    dispatch(cn->c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    struct conn *cn = h->data;

    (void)hint;
    if (buf_reserve(&cn->rbuf, READ_CHUNK) < 0) {
        *out = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *out = uv_buf_init((char *)cn->rbuf.data + cn->rbuf.len,
                       (unsigned)(cn->rbuf.cap - cn->rbuf.len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *cn = s->data;
    char msg[MSG_MAX];

    (void)b;
    if (nread == 0)
        return;
    if (nread < 0) {
        snprintf(msg, sizeof(msg), "%s: %s", cn->addr->name,
                 nread == UV_EOF ? "the node closed the connection"
                                 : uv_strerror((int)nread));
        conn_fail(cn, CAIRN_ERR_CLOSED, msg);
        return;
    }
    cn->rbuf.len += (size_t)nread;
    conn_frames(cn);
}

static int send_handshake(struct conn *cn)
{
    Cairn__Handshake hs = CAIRN__HANDSHAKE__INIT;
    size_t n;
    uint8_t *f;

    hs.protocol_version = CAIRN__PROTOCOL_VERSION;
    hs.cluster_name = cn->c->cluster_name;
    n = cairn__handshake__get_packed_size(&hs);
    f = mem_alloc(MEM_CLIENT, n + 4);
    if (!f)
        return -ENOMEM;
    enc_u32be(f, (uint32_t)n);
    cairn__handshake__pack(&hs, f + 4);
    return conn_write(cn, NULL, f, n + 4);
}

static void on_connect(uv_connect_t *creq, int status)
{
    struct conn *cn = creq->data;
    char msg[MSG_MAX];

    if (status == UV_ECANCELED || cn->st != CS_CONNECTING)
        return;
    if (status < 0) {
        snprintf(msg, sizeof(msg), "cannot connect to %s: %s", cn->addr->name,
                 uv_strerror(status));
        conn_fail(cn, CAIRN_ERR_UNREACHABLE, msg);
        return;
    }
    cn->st = CS_HANDSHAKE;
    uv_tcp_nodelay(&cn->tcp, 1);
    /* Let the kernel find a peer host that vanished without a FIN. */
    uv_tcp_keepalive(&cn->tcp, 1, KEEPALIVE_S);
    if (uv_read_start((uv_stream_t *)&cn->tcp, on_alloc, on_read) < 0 ||
        send_handshake(cn) < 0) {
        snprintf(msg, sizeof(msg), "cannot start talking to %s",
                 cn->addr->name);
        conn_fail(cn, CAIRN_ERR_UNREACHABLE, msg);
    }
}

static void conn_start(struct conn *cn)
{
    int rc;

    atomic_fetch_add(&cn->c->n_attempts, 1);
    uv_tcp_init(&cn->c->loop, &cn->tcp);
    cn->tcp.data = cn;
    cn->creq.data = cn;
    cn->st = CS_CONNECTING;
    uv_timer_start(&cn->timer, on_connect_timeout, cn->c->connect_ms, 0);
    rc = uv_tcp_connect(&cn->creq, &cn->tcp,
                        (const struct sockaddr *)&cn->addr->sa, on_connect);
    if (rc < 0) {
        char msg[MSG_MAX];

        snprintf(msg, sizeof(msg), "cannot connect to %s: %s", cn->addr->name,
                 uv_strerror(rc));
        conn_fail(cn, CAIRN_ERR_UNREACHABLE, msg);
    }
}

/* ---- the loop's own events ---- */

static void on_sweep(uv_timer_t *t)
{
    struct cairn_client *c = t->data;
    int64_t now = clk_mono_ns(clk_system());
    struct link *l = c->all.next;
    char msg[MSG_MAX];

    while (l != &c->all) {
        struct req *r = REQ_OF(l, all);

        l = l->next;
        if (r->deadline_ns > now)
            continue;
        if (r->conn) {
            snprintf(msg, sizeof(msg),
                     "no answer from %s within %u ms; the outcome is "
                     "unknown",
                     r->conn->addr->name, r->timeout_ms);
            ht_take(r->conn, r->id);
        } else {
            snprintf(msg, sizeof(msg),
                     "no connection had room for the request within %u "
                     "ms%s",
                     r->timeout_ms,
                     r->sent ? " after its first connection died; the "
                               "outcome is unknown"
                             : "");
            list_del(&r->q);
        }
        atomic_fetch_add(&c->n_timeouts, 1);
        req_finish(r, CAIRN_ERR_TIMEOUT, msg, NULL);
    }
    dispatch(c);
    if (list_empty(&c->all))
        uv_timer_stop(&c->sweep);
}

static void on_closed_quietly(uv_handle_t *h)
{
    (void)h;
}

static void loop_stop(struct cairn_client *c)
{
    c->stopping = 1;
    for (size_t i = 0; i < c->nconns; i++) {
        struct conn *cn = &c->conns[i];

        if (!cn->timer.data)
            break; /* conns_init() stopped here */
        conn_fail(cn, CAIRN_ERR_CLOSED, "the client was closed");
        uv_close((uv_handle_t *)&cn->timer, on_closed_quietly);
    }
    fail_waitq(c, CAIRN_ERR_CLOSED, "the client was closed");
    uv_close((uv_handle_t *)&c->wake, on_closed_quietly);
    uv_close((uv_handle_t *)&c->sweep, on_closed_quietly);
}

static void on_wake(uv_async_t *a)
{
    struct cairn_client *c = a->data;
    struct req *head;
    int closing;

    pthread_mutex_lock(&c->mu);
    head = c->sub_head;
    c->sub_head = c->sub_tail = NULL;
    closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    for (struct req *r = head, *next; r; r = next) {
        next = r->snext;
        list_push(&c->all, &r->all, 0);
        list_push(&c->waitq, &r->q, 0);
    }
    /* The sweep ticks only while requests are live; an idle client
     * sleeps. */
    if (head && !closing && !uv_is_active((uv_handle_t *)&c->sweep))
        uv_timer_start(&c->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    if (closing && !c->stopping)
        loop_stop(c);
    else
        dispatch(c);
}

static void io_main(void *arg)
{
    struct cairn_client *c = arg;

    cairn__set_io_thread(1);
    for (size_t i = 0; i < c->nconns; i++)
        conn_start(&c->conns[i]);
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

/* ---- public: client lifetime ---- */

static int conns_init(struct cairn_client *c)
{
    size_t hsize = 64;

    while (hsize < 2 * (size_t)c->max_inflight)
        hsize *= 2;
    c->conns = mem_calloc(MEM_CLIENT, c->naddrs * c->pool, sizeof(*c->conns));
    if (!c->conns)
        return -ENOMEM;
    c->nconns = c->naddrs * c->pool;
    for (size_t i = 0; i < c->nconns; i++) {
        struct conn *cn = &c->conns[i];

        /* The timer first: loop_stop() closes the timers set up. */
        uv_timer_init(&c->loop, &cn->timer);
        cn->timer.data = cn;
        cn->c = c;
        cn->addr = &c->addrs[i % c->naddrs];
        cn->backoff_ms = BACKOFF_FIRST_MS;
        buf_init(&cn->rbuf, MEM_CLIENT);
        cn->hmask = hsize - 1;
        cn->ht = mem_calloc(MEM_CLIENT, hsize, sizeof(*cn->ht));
        if (!cn->ht)
            return -ENOMEM;
    }
    return 0;
}

static void client_release(struct cairn_client *c)
{
    for (size_t i = 0; c->conns && i < c->nconns; i++) {
        buf_free(&c->conns[i].rbuf);
        mem_free(c->conns[i].ht);
    }
    mem_free(c->conns);
    mem_free(c->addrs);
    mem_free(c->cluster_name);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    mem_free(c);
}

static int check_options(const cairn_options_t *o)
{
    if (o->connections_per_host > MAX_POOL)
        return err_set(CAIRN_ERR_INVALID, "connections_per_host %u is over %d",
                       o->connections_per_host, MAX_POOL);
    if (o->max_in_flight > MAX_INFLIGHT_CAP)
        return err_set(CAIRN_ERR_INVALID, "max_in_flight %u is over %d",
                       o->max_in_flight, MAX_INFLIGHT_CAP);
    return 0;
}

static struct cairn_client *client_alloc(const cairn_options_t *o)
{
    struct cairn_client *c = mem_calloc(MEM_CLIENT, 1, sizeof(*c));

    if (!c)
        return NULL;
    c->cluster_name =
        mem_strdup(MEM_CLIENT, o->cluster_name ? o->cluster_name : "");
    if (!c->cluster_name) {
        mem_free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    cairn__cond_init(&c->cv);
    list_init(&c->all);
    list_init(&c->waitq);
    c->connect_ms =
        o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT;
    c->request_ms = o->request_timeout_ms;
    c->pool = o->connections_per_host ? o->connections_per_host : DEFAULT_POOL;
    c->max_inflight = o->max_in_flight ? o->max_in_flight : DEFAULT_INFLIGHT;
    atomic_init(&c->next_id, 1);
    atomic_init(&c->nready, 0);
    atomic_init(&c->last_ts, 0);
    atomic_init(&c->n_attempts, 0);
    atomic_init(&c->n_failures, 0);
    atomic_init(&c->n_lost, 0);
    atomic_init(&c->n_requests, 0);
    atomic_init(&c->n_resends, 0);
    atomic_init(&c->n_timeouts, 0);
    return c;
}

/*
 * Start the I/O thread with every signal blocked: the program's handlers
 * then run on its own threads, and a write to a socket the node reset
 * returns EPIPE there instead of killing the program with SIGPIPE.
 */
static int start_thread(struct cairn_client *c)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = uv_thread_create(&c->thread, io_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Wait until the first connection is up or every first attempt failed. */
static int wait_started(struct cairn_client *c)
{
    struct timespec until;
    int ok = 0;

    cairn__deadline(&until, c->connect_ms + 1000);
    pthread_mutex_lock(&c->mu);
    while (!c->started)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT)
            break;
    ok = atomic_load(&c->nready) > 0;
    if (!ok)
        err_set(CAIRN_ERR_UNREACHABLE, "no node reachable: %s",
                c->last_err[0] ? c->last_err : "connect timed out");
    pthread_mutex_unlock(&c->mu);
    return ok ? 0 : CAIRN_ERR_UNREACHABLE;
}

static void client_stop(struct cairn_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->wake);
    uv_thread_join(&c->thread);
    uv_loop_close(&c->loop);
}

int cairn_client_new(const cairn_options_t *o, cairn_client_t **out)
{
    struct cairn_client *c;
    int rc;

    *out = NULL;
    if (!o)
        return err_set(CAIRN_ERR_INVALID, "options are NULL");
    if ((rc = check_options(o)) < 0)
        return rc;
    c = client_alloc(o);
    if (!c)
        return err_set(CAIRN_ERR_NO_MEMORY, "out of memory");
    rc = cairn__parse_contacts(o->contact_points, &c->addrs, &c->naddrs);
    if (rc == 0 && uv_loop_init(&c->loop) < 0)
        rc = err_set(CAIRN_ERR_NO_MEMORY, "cannot start an event loop");
    if (rc < 0) {
        client_release(c);
        return rc;
    }
    uv_async_init(&c->loop, &c->wake, on_wake);
    c->wake.data = c;
    uv_timer_init(&c->loop, &c->sweep);
    c->sweep.data = c;
    rc = conns_init(c);
    if (rc == 0 && start_thread(c) < 0)
        rc = -ENOMEM;
    if (rc < 0) {
        /* The loop never ran: close its handles by running it once. */
        c->stopping = 1;
        loop_stop(c);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
        client_release(c);
        return err_set(CAIRN_ERR_NO_MEMORY, "out of memory starting client");
    }
    rc = wait_started(c);
    if (rc < 0) {
        char keep[600];

        snprintf(keep, sizeof(keep), "%s", cairn_last_error());
        client_stop(c);
        client_release(c);
        return err_set(rc, "%s", keep);
    }
    *out = c;
    return 0;
}

void cairn_client_free(cairn_client_t *c)
{
    if (!c)
        return;
    if (cairn__on_io_thread())
        abort(); /* joining our own thread would hang forever */
    client_stop(c);
    client_release(c);
}

int cairn_client_connections(cairn_client_t *c)
{
    return atomic_load(&c->nready);
}

void cairn_client_stats(cairn_client_t *c, cairn_client_stats_t *out)
{
    out->connections_ready = (uint32_t)atomic_load(&c->nready);
    out->connections_total = (uint32_t)c->nconns;
    out->connect_attempts = atomic_load(&c->n_attempts);
    out->connect_failures = atomic_load(&c->n_failures);
    out->connections_lost = atomic_load(&c->n_lost);
    out->requests = atomic_load(&c->n_requests);
    out->resends = atomic_load(&c->n_resends);
    out->timeouts = atomic_load(&c->n_timeouts);
}

int64_t cairn_client_timestamp(cairn_client_t *c)
{
    int64_t prev = atomic_load(&c->last_ts);
    int64_t next;

    do {
        int64_t now = clk_wall_us(clk_system());

        next = now > prev ? now : prev + 1;
    } while (!atomic_compare_exchange_weak(&c->last_ts, &prev, next));
    return next;
}

/* ---- public: submission ---- */

static struct req *req_encode(struct cairn_client *c,
                              const cairn_req_opts_t *ro, Cairn__Request *rq)
{
    struct req *r;
    size_t n;

    rq->id = atomic_fetch_add(&c->next_id, 1);
    rq->consistency = ro ? (Cairn__Consistency)ro->consistency
                         : CAIRN__CONSISTENCY__CL_DEFAULT;
    /* 0 lets the node apply its own defaults per kind of request. */
    rq->timeout_ms = ro && ro->timeout_ms ? ro->timeout_ms : c->request_ms;
    n = cairn__request__get_packed_size(rq);
    if (n > CAIRN__MAX_FRAME) {
        err_set(CAIRN_ERR_TOO_BIG,
                "request of %zu bytes is over the "
                "frame limit",
                n);
        return NULL;
    }
    r = mem_calloc(MEM_CLIENT, 1, sizeof(*r));
    if (r)
        r->frame = mem_alloc(MEM_CLIENT, n + 4);
    if (!r || !r->frame) {
        mem_free(r);
        err_set(CAIRN_ERR_NO_MEMORY, "out of memory for a request");
        return NULL;
    }
    enc_u32be(r->frame, (uint32_t)n);
    cairn__request__pack(rq, r->frame + 4);
    r->frame_len = n + 4;
    r->id = rq->id;
    r->timeout_ms =
        (rq->timeout_ms ? rq->timeout_ms : DEFAULT_REQUEST) + CAIRN__GRACE_MS;
    r->deadline_ns =
        clk_mono_ns(clk_system()) + (int64_t)r->timeout_ms * 1000000;
    list_init(&r->all);
    list_init(&r->q);
    return r;
}

cairn_future_t *cairn__submit(cairn_client_t *c, const cairn_req_opts_t *ro,
                              Cairn__Request *rq, int idempotent)
{
    struct req *r;
    cairn_future_t *f;

    if (!c)
        return cairn__future_failed(CAIRN_ERR_INVALID, "client is NULL");
    r = req_encode(c, ro, rq);
    if (!r)
        return cairn__future_failed(err_code(), err_msg());
    f = cairn__future_new();
    if (!f) {
        mem_free(r->frame);
        mem_free(r);
        return NULL;
    }
    atomic_fetch_add(&c->n_requests, 1);
    /* The library's hold on f belongs to r from here on. */
    r->fut = f;
    r->idempotent = idempotent;
    r->resends = idempotent ? 1 : 0;
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        r->done = 1;
        cairn__future_complete(f, CAIRN_ERR_CLOSED, "the client was closed",
                               NULL);
        req_maybe_free(r);
        return f;
    }
    if (c->sub_tail)
        c->sub_tail->snext = r;
    else
        c->sub_head = r;
    c->sub_tail = r;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->wake);
    return f;
}
