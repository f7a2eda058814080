/*
 * peer.c -- the scripted protocol peer of peer.h.
 */
#include "tests/client/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/coding.h"

#define MAX_CONNS 64

struct peer_held {
    int fd;
    uint64_t id;
    ProtobufCBinaryData echo;
};

struct peer_conn {
    int fd;
    int shaken;
    uint8_t buf[1 << 20];
    size_t len;
};

#define MAX_HELD 1024

static void send_frame(int fd, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *f = malloc(n + 4);

    enc_u32be(f, (uint32_t)n);
    protobuf_c_message_pack(m, f + 4);
    (void)!write(fd, f, n + 4);
    free(f);
}

static void answer(int fd, uint64_t id, const Cairn__Request *rq)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__Ack ack = CAIRN__ACK__INIT;
    Cairn__ReadResult rr = CAIRN__READ_RESULT__INIT;
    Cairn__Row row = CAIRN__ROW__INIT, *rows[1] = {&row};
    Cairn__Cell cell = CAIRN__CELL__INIT, *cells[1] = {&cell};

    r.id = id;
    if (rq && rq->op_case == CAIRN__REQUEST__OP_READ) {
        /* Echo: one row whose ck is the partition key asked for. */
        row.ck = rq->read->pkey;
        cell.column.data = (uint8_t *)"c";
        cell.column.len = 1;
        cell.value = rq->read->pkey;
        cell.timestamp = 7;
        row.n_cells = 1;
        row.cells = cells;
        rr.n_rows = 1;
        rr.rows = rows;
        r.result_case = CAIRN__RESPONSE__RESULT_READ;
        r.read = &rr;
    } else {
        r.result_case = CAIRN__RESPONSE__RESULT_ACK;
        r.ack = &ack;
    }
    send_frame(fd, &r.base);
}

static void close_conn(struct peer_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
    c->shaken = 0;
}

static void on_handshake(struct peer *p, struct peer_conn *c)
{
    Cairn__HandshakeReply hr = CAIRN__HANDSHAKE_REPLY__INIT;
    Cairn__Error e = CAIRN__ERROR__INIT;

    hr.protocol_version = 1;
    hr.cluster_name = "test";
    if (p->mode == PEER_REFUSE) {
        e.code = -10010;
        e.message = "refused by the test peer";
        hr.error = &e;
    }
    send_frame(c->fd, &hr.base);
    c->shaken = 1;
    p->handshakes++;
}

static void flush_reverse(struct peer *p)
{
    while (p->nheld > 0) {
        struct peer_held *h = &p->held[--p->nheld];
        Cairn__Request rq = CAIRN__REQUEST__INIT;
        Cairn__Read rd = CAIRN__READ__INIT;

        rd.pkey = h->echo;
        rq.op_case = CAIRN__REQUEST__OP_READ;
        rq.read = &rd;
        answer(h->fd, h->id, &rq);
        free(h->echo.data);
    }
    (void)p;
}

/* One request from c; returns -1 when c must be closed. */
static int on_request(struct peer *p, struct peer_conn *c, Cairn__Request *rq)
{
    p->requests++;
    if (p->last)
        cairn__request__free_unpacked(p->last, NULL);
    p->last = rq;
    switch (p->mode) {
    case PEER_DROP_FIRST:
        if (!p->dropped_first) {
            p->dropped_first = 1;
            return -1;
        }
        /* fall through */
    case PEER_ACK:
        answer(c->fd, rq->id, rq);
        break;
    case PEER_REVERSE:
        p->held[p->nheld].fd = c->fd;
        p->held[p->nheld].id = rq->id;
        p->held[p->nheld].echo.len =
            rq->op_case == CAIRN__REQUEST__OP_READ ? rq->read->pkey.len : 0;
        p->held[p->nheld].echo.data = malloc(p->held[p->nheld].echo.len + 1);
        if (p->held[p->nheld].echo.len)
            memcpy(p->held[p->nheld].echo.data, rq->read->pkey.data,
                   p->held[p->nheld].echo.len);
        if (++p->nheld >= p->batch || p->nheld == MAX_HELD)
            flush_reverse(p);
        break;
    default:
        break;
    }
    return 0;
}

static int on_frames(struct peer *p, struct peer_conn *c)
{
    size_t off = 0;
    int rc = 0;

    while (rc == 0 && c->len - off >= 4) {
        uint32_t n = dec_u32be(c->buf + off);

        if (n > sizeof(c->buf) - 4)
            return -1;
        if (c->len - off - 4 < n)
            break;
        if (!c->shaken) {
            Cairn__Handshake *h =
                cairn__handshake__unpack(NULL, n, c->buf + off + 4);

            if (!h)
                return -1;
            cairn__handshake__free_unpacked(h, NULL);
            on_handshake(p, c);
        } else {
            Cairn__Request *rq =
                cairn__request__unpack(NULL, n, c->buf + off + 4);

            if (!rq)
                return -1;
            rc = on_request(p, c, rq);
        }
        off += 4 + n;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return rc;
}

static void accept_one(struct peer *p, int lfd)
{
    int fd = accept(lfd, NULL, NULL), one = 1;

    if (fd < 0)
        return;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (int i = 0; i < MAX_CONNS; i++) {
        if (p->conns[i].fd < 0) {
            p->conns[i].fd = fd;
            return;
        }
    }
    close(fd);
}

static void read_conn(struct peer *p, struct peer_conn *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

    if (n <= 0) {
        close_conn(c);
        return;
    }
    c->len += (size_t)n;
    pthread_mutex_lock(&p->mu);
    if (on_frames(p, c) < 0)
        close_conn(c);
    pthread_mutex_unlock(&p->mu);
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;

    for (;;) {
        struct pollfd fds[MAX_CONNS + 1];
        int idx[MAX_CONNS + 1], n = 0;

        pthread_mutex_lock(&p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        /* Only this thread closes sockets, so no fd it polls is ever
         * closed (and reused by the client) under its feet. */
        if (p->want_down && p->lfd >= 0) {
            close(p->lfd);
            p->lfd = -1;
        }
        if (p->drop_all || p->want_down) {
            for (int i = 0; i < MAX_CONNS; i++)
                close_conn(&p->conns[i]);
            for (int i = 0; i < p->nheld; i++)
                free(p->held[i].echo.data);
            p->nheld = 0;
            p->drop_all = 0;
            p->want_down = 0;
        }
        if (p->lfd >= 0) {
            fds[n].fd = p->lfd;
            fds[n].events = POLLIN;
            idx[n++] = -1;
        }
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < MAX_CONNS; i++) {
            if (p->conns[i].fd >= 0) {
                fds[n].fd = p->conns[i].fd;
                fds[n].events = POLLIN;
                idx[n++] = i;
            }
        }
        if (poll(fds, (nfds_t)n, 20) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (idx[i] < 0)
                accept_one(p, fds[i].fd);
            else
                read_conn(p, &p->conns[idx[i]]);
        }
    }
    return NULL;
}

static int listen_on(uint16_t port)
{
    struct sockaddr_in a = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64)) {
        close(fd);
        return -1;
    }
    return fd;
}

int peer_start(struct peer *p, enum peer_mode mode)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    p->conns = calloc(MAX_CONNS, sizeof(*p->conns));
    p->held = calloc(MAX_HELD, sizeof(*p->held));
    if (!p->conns || !p->held)
        return -1;
    p->mode = mode;
    p->batch = 2;
    p->lfd = -1;
    for (int i = 0; i < MAX_CONNS; i++)
        p->conns[i].fd = -1;
    p->nheld = 0;
    for (int tries = 0; tries < 500 && p->lfd < 0; tries++) {
        p->port = (uint16_t)(22500 + (getpid() + tries * 7) % 500);
        p->lfd = listen_on(p->port);
    }
    if (p->lfd < 0)
        return -1;
    return pthread_create(&p->thread, NULL, peer_main, p) ? -1 : 0;
}

void peer_set_mode(struct peer *p, enum peer_mode mode, int batch)
{
    pthread_mutex_lock(&p->mu);
    p->mode = mode;
    p->batch = batch;
    p->dropped_first = 0;
    pthread_mutex_unlock(&p->mu);
}

void peer_drop_all(struct peer *p)
{
    int pending = 1;

    pthread_mutex_lock(&p->mu);
    p->drop_all = 1;
    pthread_mutex_unlock(&p->mu);
    while (pending) {
        usleep(1000);
        pthread_mutex_lock(&p->mu);
        pending = p->drop_all;
        pthread_mutex_unlock(&p->mu);
    }
}

void peer_down(struct peer *p)
{
    pthread_mutex_lock(&p->mu);
    p->want_down = 1;
    pthread_mutex_unlock(&p->mu);
    /* The thread closes everything at its next turn; wait for it. */
    for (;;) {
        int pending;

        usleep(1000);
        pthread_mutex_lock(&p->mu);
        pending = p->want_down;
        pthread_mutex_unlock(&p->mu);
        if (!pending)
            break;
    }
}

int peer_up(struct peer *p)
{
    int fd = listen_on(p->port);

    pthread_mutex_lock(&p->mu);
    p->lfd = fd;
    pthread_mutex_unlock(&p->mu);
    return fd < 0 ? -1 : 0;
}

long peer_requests(struct peer *p)
{
    long n;

    pthread_mutex_lock(&p->mu);
    n = p->requests;
    pthread_mutex_unlock(&p->mu);
    return n;
}

Cairn__Request *peer_last(struct peer *p)
{
    Cairn__Request *copy = NULL;

    pthread_mutex_lock(&p->mu);
    if (p->last) {
        size_t n = cairn__request__get_packed_size(p->last);
        uint8_t *b = malloc(n + 1);

        cairn__request__pack(p->last, b);
        copy = cairn__request__unpack(NULL, n, b);
        free(b);
    }
    pthread_mutex_unlock(&p->mu);
    return copy;
}

void peer_stop(struct peer *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    for (int i = 0; i < MAX_CONNS; i++)
        close_conn(&p->conns[i]);
    if (p->lfd >= 0)
        close(p->lfd);
    for (int i = 0; i < p->nheld; i++)
        free(p->held[i].echo.data);
    p->nheld = 0;
    if (p->last)
        cairn__request__free_unpacked(p->last, NULL);
    free(p->conns);
    free(p->held);
    pthread_mutex_destroy(&p->mu);
}
