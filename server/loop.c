/*
 * loop.c -- event loop threads, listeners and the completion queue
 * (loop.h). Connections are in conn.c.
 */
#include "server/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

uv_loop_t *srv_loop_uv(struct srv_loop *lp)
{
    return &lp->uv;
}

void srvloop_post(struct srv_loop *lp, struct call *c)
{
    c->next = NULL;
    uv_mutex_lock(&lp->qlock);
    if (lp->qtail)
        lp->qtail->next = c;
    else
        lp->qhead = c;
    lp->qtail = c;
    uv_mutex_unlock(&lp->qlock);
    uv_async_send(&lp->wake);
}

static void loop_on_listener_closed(uv_handle_t *h)
{
    struct srv_loop *lp = h->data;

    lp->listener_open = 0;
    srvloop_maybe_exit(lp);
}

/* loop_begin_drain -- close the listener, drain every connection. */
static void loop_begin_drain(struct srv_loop *lp)
{
    struct conn *cn, *next;

    lp->draining = 1;
    if (lp->listener_open)
        uv_close((uv_handle_t *)&lp->listener, loop_on_listener_closed);
    for (cn = lp->conns; cn; cn = next) {
        next = cn->next; /* conn_drain may unlink and close it */
        conn_drain(cn);
    }
}

void srvloop_maybe_exit(struct srv_loop *lp)
{
    if (lp->draining && !lp->listener_open && lp->conns == NULL &&
        lp->ncalls == 0 && lp->flush_head == NULL &&
        !uv_is_closing((uv_handle_t *)&lp->wake)) {
        uv_close((uv_handle_t *)&lp->wake, NULL);
        uv_close((uv_handle_t *)&lp->sweep, NULL);
        uv_close((uv_handle_t *)&lp->flush, NULL);
    }
}

/*
 * loop_on_flush -- runs after every poll phase that queued answers, so
 * all answers a connection got in one turn of the loop leave in one
 * write instead of one each.
 */
static void loop_on_flush(uv_check_t *h)
{
    struct srv_loop *lp = h->data;
    struct conn *cn = lp->flush_head;

    lp->flush_head = NULL;
    uv_check_stop(h);
    while (cn) {
        struct conn *next = cn->flush_next;
        conn_flush(cn);
        cn = next;
    }
}

void srvloop_want_flush(struct srv_loop *lp)
{
    uv_check_start(&lp->flush, loop_on_flush);
}

static void loop_on_sweep(uv_timer_t *t)
{
    struct srv_loop *lp = t->data;
    int64_t now = clk_mono_ns(clk_system());

    for (struct conn *cn = lp->conns; cn; cn = cn->next)
        conn_sweep(cn, now);
}

static void loop_force(struct srv_loop *lp)
{
    struct conn *cn, *next;
    int n = 0;

    for (cn = lp->conns; cn; cn = next, n++) {
        next = cn->next;
        conn_force_close(cn);
    }
    if (n)
        log_warn("server",
                 "drain timed out: closed %d connections whose "
                 "answers were not read (drain_timeout_ms)",
                 n);
}

static void loop_on_wake(uv_async_t *a)
{
    struct srv_loop *lp = a->data;
    struct call *c;

    uv_mutex_lock(&lp->qlock);
    c = lp->qhead;
    lp->qhead = lp->qtail = NULL;
    uv_mutex_unlock(&lp->qlock);
    while (c) {
        struct call *next = c->next;
        lp->ncalls--;
        conn_deliver(c);
        c = next;
    }
    if (atomic_load(&lp->drain) && !lp->draining)
        loop_begin_drain(lp);
    if (atomic_load(&lp->force))
        loop_force(lp);
    srvloop_maybe_exit(lp);
}

static void loop_on_connection(uv_stream_t *s, int status)
{
    struct srv_loop *lp = s->data;

    if (status < 0) {
        log_warn("server", "accept failed err=%s", uv_strerror(status));
        return;
    }
    conn_accept(lp);
}

/* loop_socket -- a listening-ready socket on addr:port; -errno. */
static int loop_socket(const struct sockaddr_in *sa, int reuseport)
{
    int one = 1, rc;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
        goto fail;
    return fd;
fail:
    rc = -errno;
    close(fd);
    return rc;
}

/*
 * loop_probe -- bind once without SO_REUSEPORT: if another process holds
 * the port (even with SO_REUSEPORT) this fails, so two nodes can never
 * silently share a client port.
 */
static int loop_probe(const struct sockaddr_in *sa)
{
    int fd = loop_socket(sa, 0);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

static int loop_init_one(struct srv_loops *ls, int i,
                         const struct sockaddr_in *sa)
{
    struct srv_loop *lp = &ls->loops[i];
    int fd, rc;

    lp->all = ls;
    lp->index = i;
    atomic_store(&lp->drain, 0);
    atomic_store(&lp->force, 0);
    uv_loop_init(&lp->uv);
    uv_mutex_init(&lp->qlock);
    uv_async_init(&lp->uv, &lp->wake, loop_on_wake);
    lp->wake.data = lp;
    uv_timer_init(&lp->uv, &lp->sweep);
    lp->sweep.data = lp;
    uv_timer_start(&lp->sweep, loop_on_sweep, 50, 50);
    uv_check_init(&lp->uv, &lp->flush);
    lp->flush.data = lp;
    fd = loop_socket(sa, 1);
    if (fd < 0)
        return fd;
    uv_tcp_init(&lp->uv, &lp->listener);
    lp->listener.data = lp;
    lp->listener_open = 1;
    rc = uv_tcp_open(&lp->listener, fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&lp->listener, 1024, loop_on_connection);
    return rc;
}

static void loop_thread(void *arg)
{
    struct srv_loop *lp = arg;

    uv_run(&lp->uv, UV_RUN_DEFAULT);
    atomic_fetch_sub(&lp->all->running, 1);
}

/* loop_close_all -- close handles of loops that never ran, and free. */
static void loop_discard(struct srv_loops *ls, int ninit)
{
    for (int i = 0; i < ninit; i++) {
        struct srv_loop *lp = &ls->loops[i];
        if (lp->listener_open)
            uv_close((uv_handle_t *)&lp->listener, NULL);
        uv_close((uv_handle_t *)&lp->wake, NULL);
        uv_close((uv_handle_t *)&lp->sweep, NULL);
        uv_close((uv_handle_t *)&lp->flush, NULL);
        uv_run(&lp->uv, UV_RUN_DEFAULT);
        uv_loop_close(&lp->uv);
        uv_mutex_destroy(&lp->qlock);
    }
    mem_free(ls->loops);
    mem_free(ls);
}

static int loop_addr(const struct config *cfg, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->listen_address, &sa->sin_addr) != 1)
        return err_set(-EINVAL, "listen_address %s is not an IPv4 address",
                       cfg->listen_address);
    return 0;
}

int srvloop_start(const struct config *cfg, struct node *node,
                  const uint8_t host_id[16], struct srv_loops **out)
{
    struct srv_loops *ls = mem_calloc(MEM_SERVER, 1, sizeof(*ls));
    struct sockaddr_in sa;
    int n = cfg->loops ? (int)cfg->loops : (int)sysconf(_SC_NPROCESSORS_ONLN);
    int i, rc;

    *out = NULL;
    if (n < 1)
        n = 1;
    if (ls == NULL || (ls->loops = mem_calloc(MEM_SERVER, (size_t)n,
                                              sizeof(*ls->loops))) == NULL) {
        mem_free(ls);
        return err_set(-ENOMEM, "no memory for %d loops", n);
    }
    ls->cfg = cfg;
    ls->node = node;
    memcpy(ls->host_id, host_id, 16);
    ls->n = n;
    rc = loop_addr(cfg, &sa);
    if (rc == 0)
        rc = loop_probe(&sa);
    for (i = 0; rc == 0 && i < n; i++)
        rc = loop_init_one(ls, i, &sa);
    if (rc < 0) {
        if (rc != -EINVAL)
            err_set(rc,
                    "cannot listen on %s:%u: %s; is another node "
                    "running there?",
                    cfg->listen_address, cfg->port, strerror(-rc));
        loop_discard(ls, i);
        return rc;
    }
    atomic_store(&ls->running, n);
    for (i = 0; i < n; i++)
        uv_thread_create(&ls->loops[i].thread, loop_thread, &ls->loops[i]);
    *out = ls;
    return 0;
}

void srvloop_drain(struct srv_loops *ls)
{
    for (int i = 0; i < ls->n; i++) {
        atomic_store(&ls->loops[i].drain, 1);
        uv_async_send(&ls->loops[i].wake);
    }
}

void srvloop_force(struct srv_loops *ls)
{
    for (int i = 0; i < ls->n; i++) {
        atomic_store(&ls->loops[i].force, 1);
        uv_async_send(&ls->loops[i].wake);
    }
}

int srvloop_finished(struct srv_loops *ls)
{
    return atomic_load(&ls->running) == 0;
}

void srvloop_free(struct srv_loops *ls)
{
    if (ls == NULL)
        return;
    for (int i = 0; i < ls->n; i++) {
        uv_thread_join(&ls->loops[i].thread);
        uv_loop_close(&ls->loops[i].uv);
        uv_mutex_destroy(&ls->loops[i].qlock);
    }
    mem_free(ls->loops);
    mem_free(ls);
}
