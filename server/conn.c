/*
 * conn.c -- one client connection on its loop (loop.h).
 *
 * Input: bytes -> frame decoder -> handshake, then requests. Each request
 * becomes a call handed to the node; up to max_inflight calls per
 * connection, and while that many are out (or too many answer bytes wait
 * to be written) the connection stops reading, which is the backpressure
 * a client feels. Answers go out in completion order.
 *
 * What closes a connection: a frame over the size limit (after an error
 * answer: the stream cannot be trusted), a first frame that is not an
 * acceptable handshake (after a HandshakeReply with the error), too many
 * undecodable frames, an I/O error, or draining. Nothing a client sends
 * affects any other connection.
 */
#include "server/loop.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proto/common.pb-c.h"
#include "server/node.h"
#include "server/validate.h"

/*
 * TODO: memory is bounded per connection (one frame up to max_frame_bytes
 * being received, max_inflight requests, CONN_OUT_LIMIT of answers), not
 * per node: max_connections clients all sending frames near the limit can
 * hold max_connections x max_frame_bytes. A node-wide byte budget that
 * pauses reading would close this.
 */
#define CONN_PROTOCOL_VERSION 1
#define CONN_MAX_BAD_FRAMES   8          /* undecodable frames before closing */
#define CONN_OUT_LIMIT        (8u << 20) /* unwritten answer bytes: stop reading */
/*
 * A connection that has not completed its handshake this long after
 * accept is closed: otherwise sockets that send nothing, or half a frame,
 * hold max_connections slots forever and lock every client out.
 */
#define CONN_HANDSHAKE_NS (10LL * 1000000000)

/* One write of several frames; freed with them when it completes. */
struct conn_write {
    uv_write_t req;
    struct conn *cn;
    uint8_t **frames;
    size_t nframes;
    size_t bytes;
};

static void conn_process(struct conn *cn);
static void conn_start_reading(struct conn *cn);

static void conn_unlink(struct conn *cn)
{
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        cn->lp->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    cn->next = cn->prev = NULL;
}

/* conn_maybe_free -- free once the handle is closed and no call is out. */
static void conn_maybe_free(struct conn *cn)
{
    struct srv_loop *lp = cn->lp;

    if (!cn->handle_gone || cn->ninflight > 0 || cn->flush_queued)
        return;
    frame_dec_free(&cn->dec);
    mem_free(cn->pend); /* empty: conn_flush ran after the close */
    mem_free(cn->pendn);
    mem_free(cn->inflight);
    mem_free(cn);
    srvloop_maybe_exit(lp);
}

static void conn_on_closed(uv_handle_t *h)
{
    struct conn *cn = h->data;

    cn->handle_gone = 1;
    conn_maybe_free(cn);
}

/* conn_close -- close the socket now; pending writes are cancelled. */
static void conn_close(struct conn *cn)
{
    if (cn->closed)
        return;
    cn->closed = 1;
    cn->closing = 1;
    log_debug("server", "connection closed peer=%s in_flight=%u", cn->peer,
              cn->ninflight);
    conn_unlink(cn);
    atomic_fetch_sub(&cn->lp->all->nconns, 1);
    metrics_connections(-1);
    uv_close((uv_handle_t *)&cn->tcp, conn_on_closed);
}

/* conn_maybe_close -- a closing connection closes once all is answered. */
static void conn_maybe_close(struct conn *cn)
{
    if (cn->closing && !cn->closed && cn->ninflight == 0 &&
        cn->out_pending == 0)
        conn_close(cn);
}

static void conn_free_frames(uint8_t **frames, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mem_free(frames[i]);
    mem_free(frames);
}

static void conn_on_write(uv_write_t *req, int status)
{
    struct conn_write *w = (struct conn_write *)req;
    struct conn *cn = w->cn;

    cn->out_pending -= w->bytes;
    conn_free_frames(w->frames, w->nframes);
    mem_free(w);
    if (status < 0 && !cn->closed) {
        log_debug("server", "write failed peer=%s err=%s", cn->peer,
                  uv_strerror(status));
        conn_close(cn);
    }
    if (!cn->closed)
        conn_process(cn); /* room again: resume reading or close */
    else
        conn_maybe_free(cn);
}

/* conn_take_pending -- move the queued frames out of the connection. */
static uint8_t **conn_take_pending(struct conn *cn, size_t *n, size_t *bytes)
{
    uint8_t **frames = cn->pend;

    *n = cn->npend;
    *bytes = 0;
    for (size_t i = 0; i < cn->npend; i++)
        *bytes += cn->pendn[i];
    mem_free(cn->pendn);
    cn->pend = NULL;
    cn->pendn = NULL;
    cn->npend = cn->cappend = 0;
    return frames;
}

/* conn_write_bufs -- hand `frames` to libuv as one write; 0 or <0. */
static int conn_write_bufs(struct conn *cn, struct conn_write *w)
{
    uv_buf_t *b = mem_calloc(MEM_SERVER, w->nframes, sizeof(*b));
    int rc;

    if (b == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < w->nframes; i++) {
        size_t n = 4 + (size_t)dec_u32be(w->frames[i]);
        b[i] = uv_buf_init((char *)w->frames[i], (unsigned)n);
    }
    /* libuv copies the buffer list; the frames stay ours until the cb. */
    rc = uv_write(&w->req, (uv_stream_t *)&cn->tcp, b, (unsigned)w->nframes,
                  conn_on_write);
    mem_free(b);
    return rc;
}

void conn_flush(struct conn *cn)
{
    struct conn_write *w;
    size_t n, bytes;
    uint8_t **frames;

    cn->flush_queued = 0;
    frames = conn_take_pending(cn, &n, &bytes);
    if (n == 0 || cn->closed) {
        cn->out_pending -= bytes;
        conn_free_frames(frames, n);
        if (cn->closed)
            conn_maybe_free(cn);
        return;
    }
    w = mem_alloc(MEM_SERVER, sizeof(*w));
    if (w) {
        *w = (struct conn_write){
            .cn = cn, .frames = frames, .nframes = n, .bytes = bytes};
        if (conn_write_bufs(cn, w) == 0)
            return;
    }
    /* An answer that cannot be sent: the client must not wait forever. */
    cn->out_pending -= bytes;
    conn_free_frames(frames, n);
    mem_free(w);
    conn_close(cn);
}

/*
 * conn_send -- queue a frame (ownership passes here) for the client; it
 * leaves with the others of this turn of the loop (conn_flush).
 */
static void conn_send(struct conn *cn, uint8_t *frame, size_t n)
{
    if (cn->closed || frame == NULL) {
        mem_free(frame);
        return;
    }
    if (cn->npend == cn->cappend) {
        size_t cap = cn->cappend ? 2 * cn->cappend : 8;
        uint8_t **f = mem_realloc(MEM_SERVER, cn->pend, cap * sizeof(*f));
        size_t *l =
            f ? mem_realloc(MEM_SERVER, cn->pendn, cap * sizeof(*l)) : NULL;
        if (f)
            cn->pend = f;
        if (l == NULL) {
            mem_free(frame);
            conn_close(cn); /* the answer is lost: do not leave it pending */
            return;
        }
        cn->pendn = l;
        cn->cappend = cap;
    }
    cn->pend[cn->npend] = frame;
    cn->pendn[cn->npend++] = n;
    cn->out_pending += n;
    if (!cn->flush_queued) {
        cn->flush_queued = 1;
        cn->flush_next = cn->lp->flush_head;
        cn->lp->flush_head = cn;
        srvloop_want_flush(cn->lp);
    }
}

/* conn_send_error -- a Response with `id` carrying an error. */
static void conn_send_error(struct conn *cn, uint64_t id, int code,
                            const char *msg)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__Error e = CAIRN__ERROR__INIT;
    uint8_t *f;
    size_t n;

    e.code = code;
    e.message = (char *)msg;
    r.id = id;
    r.error = &e;
    if (frame_pack(&r.base, &f, &n) == 0)
        conn_send(cn, f, n);
    else
        conn_close(cn);
}

/* conn_refuse -- answer a protocol violation and close after it. */
static void conn_refuse(struct conn *cn, int code, const char *msg)
{
    metrics_protocol_error();
    log_debug("server", "closing connection peer=%s reason=\"%s\"", cn->peer,
              msg);
    if (cn->ready) {
        conn_send_error(cn, 0, code, msg);
    } else {
        Cairn__HandshakeReply r = CAIRN__HANDSHAKE_REPLY__INIT;
        Cairn__Error e = CAIRN__ERROR__INIT;
        uint8_t *f;
        size_t n;
        e.code = code;
        e.message = (char *)msg;
        r.protocol_version = CONN_PROTOCOL_VERSION;
        r.error = &e;
        if (frame_pack(&r.base, &f, &n) == 0)
            conn_send(cn, f, n);
    }
    cn->closing = 1;
    if (cn->reading && !cn->closed) {
        uv_read_stop((uv_stream_t *)&cn->tcp);
        cn->reading = 0;
    }
}

/* ---- the handshake ---- */

static void conn_handshake(struct conn *cn, const uint8_t *p, size_t n)
{
    const struct config *cfg = cn->lp->all->cfg;
    Cairn__HandshakeReply r = CAIRN__HANDSHAKE_REPLY__INIT;
    Cairn__Handshake *h;
    char why[512];
    uint8_t *f;
    size_t fn;

    h = cairn__handshake__unpack(frame_allocator(), n, p);
    if (h == NULL)
        return conn_refuse(cn, CAIRN_EPROTO,
                           "the first frame must be a "
                           "cairn.Handshake; this is not a cairn client?");
    /* A client that names no cluster (empty) takes whichever it reaches;
     * one that names another cluster is refused. */
    if (h->protocol_version != CONN_PROTOCOL_VERSION) {
        snprintf(why, sizeof(why),
                 "protocol version %u is not supported; "
                 "this node speaks version %d",
                 h->protocol_version, CONN_PROTOCOL_VERSION);
    } else if (h->cluster_name[0] != '\0' &&
               strcmp(h->cluster_name, cfg->cluster_name) != 0) {
        snprintf(why, sizeof(why),
                 "cluster name \"%.200s\" does not match "
                 "this node's cluster \"%s\"",
                 h->cluster_name, cfg->cluster_name);
    } else {
        why[0] = '\0';
    }
    cairn__handshake__free_unpacked(h, frame_allocator());
    if (why[0])
        return conn_refuse(cn, CAIRN_EPROTO, why);
    r.protocol_version = CONN_PROTOCOL_VERSION;
    r.cluster_name = (char *)cfg->cluster_name;
    r.host_id = (ProtobufCBinaryData){16, cn->lp->all->host_id};
    if (frame_pack(&r.base, &f, &fn) < 0)
        return conn_close(cn);
    cn->ready = 1;
    conn_send(cn, f, fn);
}

/* ---- requests ---- */

static enum metrics_op conn_op(Cairn__Request__OpCase c)
{
    switch (c) {
    case CAIRN__REQUEST__OP_CREATE_KEYSPACE:
        return MOP_CREATE_KEYSPACE;
    case CAIRN__REQUEST__OP_DROP_KEYSPACE:
        return MOP_DROP_KEYSPACE;
    case CAIRN__REQUEST__OP_LIST_KEYSPACES:
        return MOP_LIST_KEYSPACES;
    case CAIRN__REQUEST__OP_CREATE_TABLE:
        return MOP_CREATE_TABLE;
    case CAIRN__REQUEST__OP_DROP_TABLE:
        return MOP_DROP_TABLE;
    case CAIRN__REQUEST__OP_LIST_TABLES:
        return MOP_LIST_TABLES;
    case CAIRN__REQUEST__OP_WRITE:
        return MOP_WRITE;
    case CAIRN__REQUEST__OP_READ:
        return MOP_READ;
    case CAIRN__REQUEST__OP_SCAN:
        return MOP_SCAN;
    case CAIRN__REQUEST__OP_ADMIN:
        return MOP_ADMIN;
    default:
        return MOP_UNKNOWN;
    }
}

/* conn_id_in_flight -- timed-out calls free their id for reuse. */
static int conn_id_in_flight(const struct conn *cn, uint64_t id)
{
    for (uint32_t i = 0; i < cn->ninflight; i++)
        if (cn->inflight[i]->id == id && !cn->inflight[i]->timed_out)
            return 1;
    return 0;
}

/* conn_timeout -- the request's own timeout, else the node's by kind. */
static int64_t conn_timeout(const struct config *cfg, const Cairn__Request *r)
{
    switch (r->op_case) {
    case CAIRN__REQUEST__OP_WRITE:
        return (int64_t)(r->timeout_ms ? r->timeout_ms
                                       : cfg->write_timeout_ms) *
               1000000;
    case CAIRN__REQUEST__OP_READ:
    case CAIRN__REQUEST__OP_SCAN:
        return (int64_t)(r->timeout_ms ? r->timeout_ms : cfg->read_timeout_ms) *
               1000000;
    default:
        return 0; /* schema changes wait for their fsyncs */
    }
}

void conn_sweep(struct conn *cn, int64_t now_ns)
{
    char msg[200];

    if (!cn->ready && !cn->closing &&
        now_ns - cn->opened_ns > CONN_HANDSHAKE_NS) {
        log_info("server",
                 "closing connection peer=%s: no handshake within %lld s",
                 cn->peer, CONN_HANDSHAKE_NS / 1000000000);
        return conn_refuse(cn, CAIRN_EPROTO,
                           "no handshake within 10 s; closing the "
                           "connection");
    }

    for (uint32_t i = 0; i < cn->ninflight; i++) {
        struct call *c = cn->inflight[i];
        if (c->timed_out || c->timeout_ns == 0 ||
            now_ns - c->start_ns < c->timeout_ns)
            continue;
        c->timed_out = 1;
        snprintf(msg, sizeof(msg),
                 "no answer within %lld ms; a write may "
                 "or may not have been applied",
                 (long long)(c->timeout_ns / 1000000));
        metrics_request(c->op, (uint64_t)(now_ns - c->start_ns) / 1000,
                        CAIRN_ETIMEOUT);
        conn_send_error(cn, c->id, CAIRN_ETIMEOUT, msg);
        if (cn->closed)
            return;
    }
}

static void conn_undecodable(struct conn *cn)
{
    metrics_protocol_error();
    if (++cn->nbad > CONN_MAX_BAD_FRAMES)
        return conn_refuse(cn, CAIRN_EPROTO,
                           "too many frames that do not "
                           "decode; closing the connection");
    conn_send_error(cn, 0, CAIRN_EPROTO,
                    "frame does not decode as a "
                    "cairn.Request; it was skipped");
}

/* conn_request -- decode, check and hand one request to the node. */
static void conn_request(struct conn *cn, const uint8_t *p, size_t n)
{
    const struct config *cfg = cn->lp->all->cfg;
    struct validate_limits lim = {cfg->max_value_bytes};
    Cairn__Request *rq;
    struct call *c;
    char msg[128];

    rq = cairn__request__unpack(frame_allocator(), n, p);
    if (rq == NULL)
        return conn_undecodable(cn);
    if (conn_id_in_flight(cn, rq->id)) {
        snprintf(msg, sizeof(msg),
                 "request id %llu is already in flight on "
                 "this connection; ids must be unique until answered",
                 (unsigned long long)rq->id);
        conn_send_error(cn, rq->id, -EINVAL, msg);
        metrics_request(conn_op(rq->op_case), 0, -EINVAL);
        cairn__request__free_unpacked(rq, frame_allocator());
        return;
    }
    c = mem_calloc(MEM_SERVER, 1, sizeof(*c));
    if (c == NULL) {
        cairn__request__free_unpacked(rq, frame_allocator());
        return conn_send_error(cn, 0, -ENOMEM, "node out of memory");
    }
    c->req = rq;
    c->id = rq->id;
    c->op = conn_op(rq->op_case);
    c->start_ns = clk_mono_ns(clk_system());
    c->timeout_ns = conn_timeout(cfg, rq);
    c->loop = cn->lp;
    c->conn = cn;
    cn->inflight[cn->ninflight++] = c;
    cn->lp->ncalls++;
    err_clear();
    if (validate_request(rq, &lim) < 0) {
        call_fail(c, err_code(), NULL);
        call_done(c);
        return;
    }
    node_submit(cn->lp->all->node, c);
}

/* conn_can_take -- may another frame be processed now? */
static int conn_can_take(const struct conn *cn)
{
    return !cn->closing && cn->ninflight < cn->lp->all->cfg->max_inflight &&
           cn->out_pending < CONN_OUT_LIMIT;
}

/* conn_process -- handle buffered frames, then decide about reading. */
static void conn_process(struct conn *cn)
{
    const uint8_t *p;
    size_t n;
    int rc;

    while (!cn->closed && conn_can_take(cn)) {
        rc = frame_dec_next(&cn->dec, &p, &n);
        if (rc == 0) {
            /* Every whole frame is handled; after EOF a partial one
             * can never complete. */
            if (cn->eof)
                cn->closing = 1;
            break;
        }
        if (rc < 0) {
            conn_refuse(cn, rc, err_msg());
            break;
        }
        if (cn->ready)
            conn_request(cn, p, n);
        else
            conn_handshake(cn, p, n);
    }
    if (cn->closed)
        return;
    if (conn_can_take(cn) && !cn->reading && !cn->lp->draining && !cn->eof) {
        conn_start_reading(cn);
    } else if (!conn_can_take(cn) && cn->reading) {
        uv_read_stop((uv_stream_t *)&cn->tcp);
        cn->reading = 0;
    }
    conn_maybe_close(cn);
}

static void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *cn = h->data;

    (void)hint;
    *b = uv_buf_init(cn->lp->rbuf, sizeof(cn->lp->rbuf));
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct conn *cn = s->data;

    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        /* Half-closed: answer what was sent, then close. */
        cn->eof = 1;
        uv_read_stop(s);
        cn->reading = 0;
        conn_process(cn);
        return;
    }
    if (nread < 0) {
        /* Reset or error: answers can no longer reach the client. */
        conn_close(cn);
        return;
    }
    if (frame_dec_feed(&cn->dec, b->base, (size_t)nread) < 0) {
        conn_refuse(cn, -ENOMEM, "node out of memory");
        return;
    }
    conn_process(cn);
}

static void conn_start_reading(struct conn *cn)
{
    cn->reading = uv_read_start((uv_stream_t *)&cn->tcp, conn_on_alloc,
                                conn_on_read) == 0;
}

static void conn_peer_name(struct conn *cn)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64] = "?";

    if (uv_tcp_getpeername(&cn->tcp, (struct sockaddr *)&ss, &len) == 0)
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
    snprintf(cn->peer, sizeof(cn->peer), "%s:%u", ip,
             ntohs(((struct sockaddr_in *)&ss)->sin_port));
}

void conn_accept(struct srv_loop *lp)
{
    const struct config *cfg = lp->all->cfg;
    struct conn *cn = mem_calloc(MEM_SERVER, 1, sizeof(*cn));

    if (cn)
        cn->inflight =
            mem_calloc(MEM_SERVER, cfg->max_inflight, sizeof(*cn->inflight));
    if (cn == NULL || cn->inflight == NULL) {
        uv_tcp_t *t = mem_alloc(MEM_SERVER, sizeof(*t));
        log_warn("server", "out of memory: refusing a connection");
        mem_free(cn);
        if (t && uv_tcp_init(&lp->uv, t) == 0 &&
            uv_accept((uv_stream_t *)&lp->listener, (uv_stream_t *)t) == 0)
            uv_close((uv_handle_t *)t, (uv_close_cb)mem_free);
        return;
    }
    cn->lp = lp;
    cn->opened_ns = clk_mono_ns(clk_system());
    frame_dec_init(&cn->dec, cfg->max_frame_bytes);
    uv_tcp_init(&lp->uv, &cn->tcp);
    cn->tcp.data = cn;
    cn->next = lp->conns;
    if (lp->conns)
        lp->conns->prev = cn;
    lp->conns = cn;
    atomic_fetch_add(&lp->all->nconns, 1);
    metrics_connections(1);
    if (uv_accept((uv_stream_t *)&lp->listener, (uv_stream_t *)&cn->tcp) < 0)
        return conn_close(cn);
    conn_peer_name(cn);
    uv_tcp_nodelay(&cn->tcp, 1);
    log_debug("server", "connection opened peer=%s loop=%d", cn->peer,
              lp->index);
    if ((uint32_t)atomic_load(&lp->all->nconns) > cfg->max_connections) {
        /* A HandshakeReply, the first frame a client expects. */
        return conn_refuse(cn, CAIRN_EOVERLOADED,
                           "too many connections "
                           "(max_connections); try again later");
    }
    conn_start_reading(cn);
}

static void conn_forget(struct conn *cn, struct call *c)
{
    for (uint32_t i = 0; i < cn->ninflight; i++) {
        if (cn->inflight[i] == c) {
            cn->inflight[i] = cn->inflight[--cn->ninflight];
            return;
        }
    }
}

void conn_deliver(struct call *c)
{
    struct conn *cn = c->conn;
    uint64_t us = (uint64_t)(clk_mono_ns(clk_system()) - c->start_ns) / 1000;

    conn_forget(cn, c);
    if (c->timed_out) {
        mem_free(c->out); /* the client was told it timed out */
    } else if (c->out) {
        metrics_request(c->op, us, c->rc);
        conn_send(cn, c->out, c->outn);
    } else if (!cn->closed) {
        conn_close(cn); /* the answer could not be built */
    }
    cairn__request__free_unpacked(c->req, frame_allocator());
    mem_free(c);
    if (cn->closed)
        conn_maybe_free(cn);
    else
        conn_process(cn);
}

void conn_force_close(struct conn *cn)
{
    conn_close(cn);
}

void conn_drain(struct conn *cn)
{
    cn->closing = 1;
    if (cn->reading) {
        uv_read_stop((uv_stream_t *)&cn->tcp);
        cn->reading = 0;
    }
    conn_maybe_close(cn);
}

/* ---- answers (call.h) ---- */

void call_answer(struct call *c, Cairn__Response *r)
{
    mem_free(c->out);
    c->out = NULL;
    r->id = c->id;
    c->rc = r->error ? r->error->code : 0;
    if (frame_pack(&r->base, &c->out, &c->outn) < 0)
        c->out = NULL;
}

void call_fail(struct call *c, int code, const char *msg)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__Error e = CAIRN__ERROR__INIT;

    e.code = code;
    e.message = (char *)(msg ? msg : err_msg());
    if (e.message[0] == '\0')
        e.message = (char *)err_name(code);
    r.error = &e;
    call_answer(c, &r);
}

void call_done(struct call *c)
{
    srvloop_post(c->loop, c);
}
