/*
 * peer.c -- the peer transport (peer.h): listener, one outgoing
 * connection per destination, hello check, backoff, owner-loop inbox.
 *
 * A destination is a host id (the usual case) or, for seeds whose id is
 * still unknown, an address. Each has a `struct pdest` with a queue of
 * encoded frames. A socket is allocated per connection attempt, so a
 * closing socket never blocks a new attempt. Sends from any thread land
 * in a mutex-guarded inbox that a uv_async drains on the owner loop.
 */
#include "server/peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/frame.h"

#define PEER_BACKOFF_MIN_MS 100
#define PEER_BACKOFF_MAX_MS 2000
#define PEER_HELLO_MS       5000 /* connect + hello reply, or give up */

/* One encoded frame waiting to be written, and who wants to know. */
struct pmsg {
    uint8_t *frame;
    size_t n;
    peer_done_fn done;
    void *arg;
    /* Inbox only: the destination. */
    int has_to;
    struct ring_host_id to;
    int by_addr;
    char addr[PEER_ADDR_MAX];
    struct pmsg *next;
};

enum pstate { PS_IDLE, PS_CONNECTING, PS_HELLO, PS_READY, PS_BACKOFF };

struct psock;

/* A destination: a host id, or an address when the id is unknown. */
struct pdest {
    struct peer *p;
    int has_id;
    struct ring_host_id id;
    char addr[PEER_ADDR_MAX]; /* "" when unknown */
    enum pstate state;
    struct psock *sock; /* the current attempt or connection */
    struct pmsg *qhead, *qtail;
    size_t qlen;
    uv_timer_t retry;
    int64_t backoff_ms;
    struct pdest *next;
};

/* One TCP socket, outgoing (dest set) or accepted (dest NULL). */
struct psock {
    uv_tcp_t tcp;
    uv_connect_t creq;
    struct peer *p;
    struct pdest *dest;
    struct frame_dec dec;
    int greeted; /* accepted: hello checked; outgoing: reply seen */
    int closing;
    int refused;
    struct ring_host_id from; /* accepted: the sender */
    struct psock *next, *prev;
};

/* A write in flight and its message. */
struct pwrite {
    uv_write_t req;
    struct pmsg *m;
};

struct peer {
    uv_loop_t *loop;
    struct peer_config cfg;
    uv_tcp_t listener;
    uv_async_t wake;
    uv_mutex_t lock; /* guards the inbox */
    struct pmsg *ihead, *itail;
    int closed;
    struct pdest *dests;
    struct psock *socks; /* every open socket */
    struct {
        peer_handler_fn fn;
        void *arg;
    } h[PEER_MAX_BODY];
    peer_lost_fn lost; /* under `lock` */
    void *lost_arg;
};

static void psock_close(struct psock *s);
static void pdest_flush(struct pdest *d);

static void pmsg_finish(struct pmsg *m, int rc)
{
    if (m->done)
        m->done(rc, m->arg);
    mem_free(m->frame);
    mem_free(m);
}

static char *id_str(const struct ring_host_id *id, char *buf)
{
    return ring_host_id_str(id, buf);
}

/* ---- encoding ---- */

static int pmsg_new(const Cairn__PeerMessage *m, peer_done_fn done, void *arg,
                    struct pmsg **out)
{
    struct pmsg *pm = mem_calloc(MEM_SERVER, 1, sizeof(*pm));

    if (!pm)
        return -ENOMEM;
    if (frame_pack(&m->base, &pm->frame, &pm->n) < 0) {
        mem_free(pm);
        return -ENOMEM;
    }
    pm->done = done;
    pm->arg = arg;
    *out = pm;
    return 0;
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status)
{
    struct pwrite *w = (struct pwrite *)req;

    pmsg_finish(w->m, status < 0 ? CAIRN_EUNAVAILABLE : 0);
    mem_free(w);
}

/* psock_write -- write one frame on `s`; `m` is finished by the callback. */
static void psock_write(struct psock *s, struct pmsg *m)
{
    struct pwrite *w = mem_calloc(MEM_SERVER, 1, sizeof(*w));
    uv_buf_t b;

    if (!w) {
        pmsg_finish(m, -ENOMEM);
        return;
    }
    w->m = m;
    b = uv_buf_init((char *)m->frame, (unsigned)m->n);
    if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_written) < 0) {
        mem_free(w);
        pmsg_finish(m, CAIRN_EUNAVAILABLE);
    }
}

/* ---- sockets ---- */

static void on_sock_closed(uv_handle_t *h)
{
    struct psock *s = h->data;

    frame_dec_free(&s->dec);
    mem_free(s);
}

static void psock_close(struct psock *s)
{
    struct peer *p = s->p;

    if (s->closing)
        return;
    s->closing = 1;
    if (s->prev)
        s->prev->next = s->next;
    else
        p->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->dest && s->dest->sock == s)
        s->dest->sock = NULL;
    uv_close((uv_handle_t *)&s->tcp, on_sock_closed);
}

static struct psock *psock_new(struct peer *p, struct pdest *d)
{
    struct psock *s = mem_calloc(MEM_SERVER, 1, sizeof(*s));

    if (!s)
        return NULL;
    s->p = p;
    s->dest = d;
    frame_dec_init(&s->dec, p->cfg.max_frame);
    uv_tcp_init(p->loop, &s->tcp);
    uv_tcp_nodelay(&s->tcp, 1);
    s->tcp.data = s;
    s->next = p->socks;
    if (p->socks)
        p->socks->prev = s;
    p->socks = s;
    return s;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    b->base = mem_alloc(MEM_SERVER, 64 * 1024);
    b->len = b->base ? 64 * 1024 : 0;
}

/* ---- destinations ---- */

static void pdest_fail_all(struct pdest *d, int rc)
{
    struct pmsg *m = d->qhead;

    d->qhead = d->qtail = NULL;
    d->qlen = 0;
    while (m) {
        struct pmsg *next = m->next;
        pmsg_finish(m, rc);
        m = next;
    }
}

static void pdest_broken(struct pdest *d, int rc, const char *why);

/* on_retry -- the backoff is over, or a connection attempt took too long
 * (a paused peer accepts in the kernel but never answers the hello). */
static void on_retry(uv_timer_t *t)
{
    struct pdest *d = t->data;

    if (d->state == PS_CONNECTING || d->state == PS_HELLO) {
        pdest_broken(d, CAIRN_EUNAVAILABLE, "no hello reply in time");
        return;
    }
    d->state = PS_IDLE;
    if (d->qhead)
        pdest_flush(d);
}

/* notify_lost -- tell the owner that what went out on a working
 * connection to `d` will never be answered on it. */
static void notify_lost(struct pdest *d)
{
    struct peer *p = d->p;
    peer_lost_fn fn;
    void *arg;

    if (!d->has_id)
        return;
    uv_mutex_lock(&p->lock);
    fn = p->lost;
    arg = p->lost_arg;
    uv_mutex_unlock(&p->lock);
    if (fn)
        fn(p, &d->id, arg);
}

/* pdest_broken -- the connection failed or was lost: back off. */
static void pdest_broken(struct pdest *d, int rc, const char *why)
{
    char ids[40];

    if (d->sock)
        psock_close(d->sock);
    if (d->state == PS_CONNECTING || d->state == PS_HELLO) {
        log_debug("peer", "cannot reach peer=%s addr=%s: %s",
                  d->has_id ? id_str(&d->id, ids) : "?", d->addr, why);
        pdest_fail_all(d, rc);
        d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : PEER_BACKOFF_MIN_MS;
        if (d->backoff_ms > PEER_BACKOFF_MAX_MS)
            d->backoff_ms = PEER_BACKOFF_MAX_MS;
        d->state = PS_BACKOFF;
        uv_timer_start(&d->retry, on_retry, (uint64_t)d->backoff_ms, 0);
        return;
    }
    d->state = PS_IDLE; /* a working connection went away: retry at once */
    notify_lost(d);
    if (d->qhead)
        pdest_flush(d);
}

static void on_out_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct psock *s = st->data;
    struct pdest *d = s->dest;
    Cairn__PeerMessage *m;
    const uint8_t *f;
    size_t n;
    int rc = 0;

    if (nread > 0)
        rc = frame_dec_feed(&s->dec, b->base, (size_t)nread);
    mem_free(b->base);
    if (nread == 0)
        return;
    if (!d || d->sock != s) {
        psock_close(s);
        return;
    }
    if (nread < 0 || rc < 0 || s->greeted) {
        pdest_broken(d, CAIRN_EUNAVAILABLE, "connection closed");
        return;
    }
    rc = frame_dec_next(&s->dec, &f, &n);
    if (rc <= 0) {
        if (rc < 0)
            pdest_broken(d, CAIRN_EPROTO, "bad frame");
        return;
    }
    m = cairn__peer_message__unpack(frame_allocator(), n, f);
    if (!m || m->body_case != CAIRN__PEER_MESSAGE__BODY_HELLO_REPLY ||
        m->hello_reply->error || m->hello_reply->host_id.len != 16 ||
        (d->has_id && memcmp(m->hello_reply->host_id.data, d->id.b, 16))) {
        log_warn("peer", "peer at addr=%s refused us: %s", d->addr,
                 m && m->body_case == CAIRN__PEER_MESSAGE__BODY_HELLO_REPLY &&
                         m->hello_reply->error
                     ? m->hello_reply->error->message
                     : "bad hello reply");
        if (m)
            cairn__peer_message__free_unpacked(m, frame_allocator());
        pdest_broken(d, CAIRN_EPROTO, "refused");
        return;
    }
    cairn__peer_message__free_unpacked(m, frame_allocator());
    s->greeted = 1;
    d->state = PS_READY;
    d->backoff_ms = 0;
    uv_timer_stop(&d->retry);
    pdest_flush(d);
}

static void send_hello(struct pdest *d)
{
    struct peer *p = d->p;
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;
    Cairn__PeerHello h = CAIRN__PEER_HELLO__INIT;
    struct pmsg *pm;

    h.protocol_version = PEER_PROTOCOL_VER;
    h.cluster_name = p->cfg.cluster;
    h.from_host_id.data = p->cfg.self.b;
    h.from_host_id.len = 16;
    if (d->has_id) {
        h.to_host_id.data = d->id.b;
        h.to_host_id.len = 16;
    }
    h.from_address = p->cfg.self_addr;
    m.body_case = CAIRN__PEER_MESSAGE__BODY_HELLO;
    m.hello = &h;
    if (pmsg_new(&m, NULL, NULL, &pm) < 0) {
        pdest_broken(d, -ENOMEM, "out of memory");
        return;
    }
    psock_write(d->sock, pm);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct psock *s = req->data;
    struct pdest *d = s->dest;

    if (s->closing || !d || d->sock != s)
        return;
    if (status < 0) {
        pdest_broken(d, CAIRN_EUNAVAILABLE, uv_strerror(status));
        return;
    }
    d->state = PS_HELLO;
    send_hello(d);
    if (d->sock)
        uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, on_out_read);
}

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
    char host[PEER_ADDR_MAX];
    const char *colon = strrchr(addr, ':');
    size_t hl;
    int port;

    if (!colon || (hl = (size_t)(colon - addr)) == 0 || hl >= sizeof(host))
        return -EINVAL;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    port = atoi(colon + 1);
    if (port <= 0 || port > 65535)
        return -EINVAL;
    return uv_ip4_addr(host, port, sa) < 0 ? -EINVAL : 0;
}

static void pdest_connect(struct pdest *d)
{
    struct sockaddr_in sa;
    struct psock *s;

    if (!d->addr[0] || parse_addr(d->addr, &sa) < 0) {
        pdest_fail_all(d, CAIRN_EUNAVAILABLE);
        return;
    }
    s = psock_new(d->p, d);
    if (!s) {
        pdest_fail_all(d, -ENOMEM);
        return;
    }
    d->sock = s;
    d->state = PS_CONNECTING;
    uv_timer_start(&d->retry, on_retry, PEER_HELLO_MS, 0);
    s->creq.data = s;
    if (uv_tcp_connect(&s->creq, &s->tcp, (struct sockaddr *)&sa,
                       on_connected) < 0) {
        pdest_broken(d, CAIRN_EUNAVAILABLE, "connect failed");
    }
}

/* pdest_flush -- move the queue forward as far as the state allows. */
static void pdest_flush(struct pdest *d)
{
    if (d->p->closed) {
        pdest_fail_all(d, -ECANCELED);
        return;
    }
    switch (d->state) {
    case PS_IDLE:
        pdest_connect(d);
        return;
    case PS_READY:
        while (d->qhead) {
            struct pmsg *m = d->qhead;
            d->qhead = m->next;
            if (!d->qhead)
                d->qtail = NULL;
            d->qlen--;
            m->next = NULL;
            psock_write(d->sock, m);
        }
        return;
    default:
        return; /* connecting, greeting or backing off: keep queued */
    }
}

static struct pdest *pdest_find(struct peer *p, const struct ring_host_id *id,
                                const char *addr)
{
    for (struct pdest *d = p->dests; d; d = d->next) {
        if (id && d->has_id && ring_host_id_eq(&d->id, id))
            return d;
        if (!id && !d->has_id && strcmp(d->addr, addr) == 0)
            return d;
    }
    return NULL;
}

static struct pdest *pdest_get(struct peer *p, const struct ring_host_id *id,
                               const char *addr)
{
    struct pdest *d = pdest_find(p, id, addr);

    if (d)
        return d;
    d = mem_calloc(MEM_SERVER, 1, sizeof(*d));
    if (!d)
        return NULL;
    d->p = p;
    if (id) {
        d->has_id = 1;
        d->id = *id;
    }
    if (addr)
        snprintf(d->addr, sizeof(d->addr), "%s", addr);
    uv_timer_init(p->loop, &d->retry);
    d->retry.data = d;
    d->next = p->dests;
    p->dests = d;
    return d;
}

static void pdest_enqueue(struct pdest *d, struct pmsg *m)
{
    if (d->qlen >= PEER_QUEUE_MAX) {
        pmsg_finish(m, CAIRN_EOVERLOADED);
        return;
    }
    m->next = NULL;
    if (d->qtail)
        d->qtail->next = m;
    else
        d->qhead = m;
    d->qtail = m;
    d->qlen++;
    pdest_flush(d);
}

void peer_set_address(struct peer *p, const struct ring_host_id *id,
                      const char *addr)
{
    struct pdest *d = pdest_get(p, id, NULL);

    if (!d || strcmp(d->addr, addr) == 0)
        return;
    snprintf(d->addr, sizeof(d->addr), "%s", addr);
    if (d->sock)
        psock_close(d->sock);
    uv_timer_stop(&d->retry);
    d->backoff_ms = 0;
    d->state = PS_IDLE;
    if (d->qhead)
        pdest_flush(d);
}

/* ---- the inbox ---- */

static void route(struct peer *p, struct pmsg *m)
{
    struct pdest *d;

    if (m->by_addr) {
        /* An address with a known id goes to that id's destination. */
        if (m->has_to) {
            d = pdest_get(p, &m->to, NULL);
            if (d && strcmp(d->addr, m->addr) != 0)
                peer_set_address(p, &m->to, m->addr);
        } else {
            d = pdest_get(p, NULL, m->addr);
        }
    } else {
        d = pdest_find(p, &m->to, NULL);
        if (!d || !d->addr[0]) {
            pmsg_finish(m, CAIRN_EUNAVAILABLE);
            return;
        }
    }
    if (!d)
        pmsg_finish(m, -ENOMEM);
    else
        pdest_enqueue(d, m);
}

static void on_wake(uv_async_t *a)
{
    struct peer *p = a->data;
    struct pmsg *m;

    uv_mutex_lock(&p->lock);
    m = p->ihead;
    p->ihead = p->itail = NULL;
    uv_mutex_unlock(&p->lock);
    while (m) {
        struct pmsg *next = m->next;
        m->next = NULL;
        if (p->closed)
            pmsg_finish(m, -ECANCELED);
        else
            route(p, m);
        m = next;
    }
}

static int post(struct peer *p, struct pmsg *m)
{
    uv_mutex_lock(&p->lock);
    if (p->itail)
        p->itail->next = m;
    else
        p->ihead = m;
    p->itail = m;
    uv_mutex_unlock(&p->lock);
    uv_async_send(&p->wake);
    return 0;
}

int peer_send(struct peer *p, const struct ring_host_id *to,
              const Cairn__PeerMessage *m, peer_done_fn done, void *arg)
{
    struct pmsg *pm;
    int rc = pmsg_new(m, done, arg, &pm);

    if (rc < 0)
        return rc;
    pm->has_to = 1;
    pm->to = *to;
    return post(p, pm);
}

int peer_send_addr(struct peer *p, const char *addr,
                   const struct ring_host_id *to, const Cairn__PeerMessage *m,
                   peer_done_fn done, void *arg)
{
    struct pmsg *pm;
    int rc = pmsg_new(m, done, arg, &pm);

    if (rc < 0)
        return rc;
    pm->by_addr = 1;
    snprintf(pm->addr, sizeof(pm->addr), "%s", addr);
    if (to) {
        pm->has_to = 1;
        pm->to = *to;
    }
    return post(p, pm);
}

/* ---- accepted connections ---- */

static void reply_hello(struct psock *s, const char *refusal)
{
    struct peer *p = s->p;
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;
    Cairn__PeerHelloReply r = CAIRN__PEER_HELLO_REPLY__INIT;
    Cairn__Error e = CAIRN__ERROR__INIT;
    struct pmsg *pm;

    r.host_id.data = p->cfg.self.b;
    r.host_id.len = 16;
    if (refusal) {
        e.code = CAIRN_EPROTO;
        e.message = (char *)refusal;
        r.error = &e;
    }
    m.body_case = CAIRN__PEER_MESSAGE__BODY_HELLO_REPLY;
    m.hello_reply = &r;
    if (pmsg_new(&m, NULL, NULL, &pm) == 0)
        psock_write(s, pm);
}

/* check_hello -- NULL when `h` may talk to us, else why not. */
static const char *check_hello(struct peer *p, const Cairn__PeerMessage *m)
{
    const Cairn__PeerHello *h = m->hello;

    if (m->body_case != CAIRN__PEER_MESSAGE__BODY_HELLO)
        return "the first message must be a hello";
    if (strcmp(h->cluster_name, p->cfg.cluster) != 0)
        return "another cluster name";
    if (h->from_host_id.len != 16)
        return "no sender host id";
    if (h->to_host_id.len &&
        (h->to_host_id.len != 16 ||
         memcmp(h->to_host_id.data, p->cfg.self.b, 16) != 0))
        return "wrong host id: this node is not the one you expect";
    return NULL;
}

/* handler -- the handler of `body` (under the lock: peer_on may race). */
static int handler(struct peer *p, int body, peer_handler_fn *fn, void **arg)
{
    uv_mutex_lock(&p->lock);
    *fn = p->h[body].fn;
    *arg = p->h[body].arg;
    uv_mutex_unlock(&p->lock);
    return *fn != NULL;
}

static int dispatch(struct psock *s, const uint8_t *f, size_t n)
{
    struct peer *p = s->p;
    Cairn__PeerMessage *m =
        cairn__peer_message__unpack(frame_allocator(), n, f);
    const char *why;
    char ids[40];
    peer_handler_fn fn;
    void *arg;

    if (!m)
        return CAIRN_ECORRUPT;
    if (!s->greeted) {
        why = check_hello(p, m);
        if (why) {
            log_warn("peer", "refused peer from=%s: %s",
                     m->body_case == CAIRN__PEER_MESSAGE__BODY_HELLO
                         ? m->hello->from_address
                         : "?",
                     why);
            reply_hello(s, why);
            cairn__peer_message__free_unpacked(m, frame_allocator());
            return CAIRN_EPROTO;
        }
        memcpy(s->from.b, m->hello->from_host_id.data, 16);
        s->greeted = 1;
        log_debug("peer", "peer connected host_id=%s addr=%s",
                  id_str(&s->from, ids), m->hello->from_address);
        reply_hello(s, NULL);
    } else if ((unsigned)m->body_case < PEER_MAX_BODY &&
               handler(p, m->body_case, &fn, &arg)) {
        fn(p, &s->from, m, arg);
    } else {
        log_debug("peer", "no handler for peer message body=%d",
                  (int)m->body_case);
    }
    cairn__peer_message__free_unpacked(m, frame_allocator());
    return 0;
}

static void on_in_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct psock *s = st->data;
    const uint8_t *f;
    size_t n;
    int rc = 0;

    if (nread > 0)
        rc = frame_dec_feed(&s->dec, b->base, (size_t)nread);
    mem_free(b->base);
    if (nread < 0 || rc < 0) {
        psock_close(s);
        return;
    }
    while (!s->closing && (rc = frame_dec_next(&s->dec, &f, &n)) == 1) {
        if (dispatch(s, f, n) < 0) {
            uv_read_stop(st);
            s->refused = 1;
            /* libuv wrote the refusal at once if the socket took it. */
            psock_close(s);
            return;
        }
    }
    if (rc < 0)
        psock_close(s);
}

static void on_accept(uv_stream_t *l, int status)
{
    struct peer *p = l->data;
    struct psock *s;

    if (status < 0 || p->closed)
        return;
    s = psock_new(p, NULL);
    if (!s)
        return;
    if (uv_accept(l, (uv_stream_t *)&s->tcp) < 0 ||
        uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, on_in_read) < 0)
        psock_close(s);
}

/* ---- life ---- */

int peer_start(uv_loop_t *loop, const struct peer_config *c, struct peer **out)
{
    struct peer *p = mem_calloc(MEM_SERVER, 1, sizeof(*p));
    struct sockaddr_in sa;
    int rc;

    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->cfg = *c;
    rc = uv_ip4_addr(c->listen_host, c->port, &sa);
    uv_mutex_init(&p->lock);
    uv_tcp_init(loop, &p->listener);
    p->listener.data = p;
    if (rc == 0)
        rc = uv_tcp_bind(&p->listener, (struct sockaddr *)&sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&p->listener, 128, on_accept);
    if (rc < 0) {
        uv_close((uv_handle_t *)&p->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        uv_mutex_destroy(&p->lock);
        mem_free(p);
        return err_set(rc, "cannot listen on the peer port %s:%u: %s",
                       c->listen_host, c->port, uv_strerror(rc));
    }
    uv_async_init(loop, &p->wake, on_wake);
    p->wake.data = p;
    *out = p;
    return 0;
}

void peer_on(struct peer *p, int body_case, peer_handler_fn fn, void *arg)
{
    if (body_case <= 0 || body_case >= PEER_MAX_BODY)
        return;
    uv_mutex_lock(&p->lock);
    p->h[body_case].fn = fn;
    p->h[body_case].arg = arg;
    uv_mutex_unlock(&p->lock);
}

void peer_on_lost(struct peer *p, peer_lost_fn fn, void *arg)
{
    uv_mutex_lock(&p->lock);
    p->lost = fn;
    p->lost_arg = arg;
    uv_mutex_unlock(&p->lock);
}

const struct ring_host_id *peer_self(const struct peer *p)
{
    return &p->cfg.self;
}

void peer_close(struct peer *p)
{
    if (p->closed)
        return;
    p->closed = 1;
    uv_close((uv_handle_t *)&p->listener, NULL);
    on_wake(&p->wake); /* fail what is in the inbox */
    uv_close((uv_handle_t *)&p->wake, NULL);
    while (p->socks)
        psock_close(p->socks);
    for (struct pdest *d = p->dests; d; d = d->next) {
        pdest_fail_all(d, -ECANCELED);
        uv_close((uv_handle_t *)&d->retry, NULL);
    }
}

void peer_free(struct peer *p)
{
    if (!p)
        return;
    while (p->dests) {
        struct pdest *d = p->dests;
        p->dests = d->next;
        mem_free(d);
    }
    uv_mutex_destroy(&p->lock);
    mem_free(p);
}
