/*
 * http.c -- /health and /metrics over libmicrohttpd (http.h).
 *
 * The storage and schema pointers are swapped under a mutex that the
 * metrics render holds, so shutdown never closes the engine under a
 * running scrape.
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/mem.h"
#include "server/metrics.h"
#include "server/schema.h"

struct http {
    struct MHD_Daemon *d;
    atomic_int state;
    pthread_mutex_t lock; /* guards st and sc */
    struct storage *st;
    struct schema *sc;
};

static enum MHD_Result http_reply(struct MHD_Connection *c, unsigned code,
                                  const char *type, const void *p, size_t n)
{
    struct MHD_Response *r;
    enum MHD_Result rc;

    r = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result http_metrics(struct http *h, struct MHD_Connection *c)
{
    struct buf b;
    enum MHD_Result rc;
    int r;

    buf_init(&b, MEM_SERVER);
    pthread_mutex_lock(&h->lock);
    r = metrics_render(&b, h->st, h->sc ? schema_version(h->sc) : 0);
    pthread_mutex_unlock(&h->lock);
    if (r < 0) {
        buf_free(&b);
        return http_reply(c, 500, "text/plain", "out of memory\n", 14);
    }
    rc = http_reply(c, 200, "text/plain; version=0.0.4", b.data, b.len);
    buf_free(&b);
    return rc;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *c,
                                   const char *url, const char *method,
                                   const char *version, const char *upload,
                                   size_t *upload_size, void **con_cls)
{
    struct http *h = cls;
    static const char *const states[] = {"starting\n", "serving\n",
                                         "draining\n"};
    int st = atomic_load(&h->state);

    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return http_reply(c, 405, "text/plain", "GET only\n", 9);
    if (strcmp(url, "/health") == 0)
        return http_reply(c, st == HTTP_SERVING ? 200 : 503, "text/plain",
                          states[st], strlen(states[st]));
    if (strcmp(url, "/metrics") == 0)
        return http_metrics(h, c);
    return http_reply(c, 404, "text/plain",
                      "not found; try /health or /metrics\n", 35);
}

int http_start(const char *addr, uint16_t port, struct http **out)
{
    struct http *h = mem_calloc(MEM_SERVER, 1, sizeof(*h));
    struct sockaddr_in sa;

    *out = NULL;
    if (h == NULL)
        return err_set(-ENOMEM, "no memory for the HTTP server");
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        mem_free(h);
        return err_set(-EINVAL, "listen_address %s is not an IPv4 address",
                       addr);
    }
    pthread_mutex_init(&h->lock, NULL);
    atomic_store(&h->state, HTTP_STARTING);
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, port, NULL, NULL,
                            http_handle, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_END);
    if (h->d == NULL) {
        pthread_mutex_destroy(&h->lock);
        mem_free(h);
        return err_set(-EADDRINUSE,
                       "cannot serve HTTP on %s:%u; is another "
                       "node running there?",
                       addr, port);
    }
    *out = h;
    return 0;
}

void http_set_state(struct http *h, enum http_state st)
{
    atomic_store(&h->state, (int)st);
}

void http_set_sources(struct http *h, struct storage *st, struct schema *sc)
{
    pthread_mutex_lock(&h->lock);
    h->st = st;
    h->sc = sc;
    pthread_mutex_unlock(&h->lock);
}

void http_stop(struct http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->lock);
    mem_free(h);
}
