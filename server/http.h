/*
 * http.h -- the HTTP port (base + 2): /health and /metrics, served by
 * libmicrohttpd on its own thread, so a busy or stuck client loop never
 * hides the node's state from its monitoring.
 */
#ifndef CAIRN_SERVER_HTTP_H
#define CAIRN_SERVER_HTTP_H

#include <stdint.h>

struct storage;
struct schema;
struct http;

enum http_state {
    HTTP_STARTING = 0, /* replaying the commit log: /health is 503 */
    HTTP_SERVING,      /* /health is 200 */
    HTTP_DRAINING,     /* shutting down: /health is 503 */
};

/*
 * http_start -- listen on addr:port. -errno with a detail naming the
 * address when the port cannot be bound.
 */
int http_start(const char *addr, uint16_t port, struct http **out);

/* http_set_state -- what /health reports; any thread. */
void http_set_state(struct http *h, enum http_state st);

/*
 * http_set_sources -- where /metrics reads storage and schema figures;
 * set once they are open, cleared (NULL) before they close.
 */
void http_set_sources(struct http *h, struct storage *st, struct schema *sc);

/* http_stop -- stop the thread and release; NULL is ignored. */
void http_stop(struct http *h);

#endif /* CAIRN_SERVER_HTTP_H */
