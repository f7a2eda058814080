/*
 * peer.h -- a scripted protocol peer for libcairn's unit tests.
 *
 * It listens on a real 127.0.0.1 port, speaks the framing and handshake
 * of docs/protocol.md, decodes every Request it gets (so tests can check
 * what libcairn put on the wire) and answers as its mode says: acks and
 * echo rows, answers held back and sent in reverse, silence, or dropping
 * the connection. It stores nothing: tests of real data behaviour run
 * against cairn-server (test_client_server.c). One thread, poll(2).
 */
#ifndef CAIRN_TESTS_CLIENT_PEER_H
#define CAIRN_TESTS_CLIENT_PEER_H

#include <pthread.h>
#include <stdint.h>

#include "proto/client.pb-c.h"

enum peer_mode {
    PEER_ACK,        /* answer each request at once (reads: echo row) */
    PEER_REVERSE,    /* hold `batch` requests, answer them last first */
    PEER_SILENT,     /* never answer */
    PEER_DROP_FIRST, /* close the connection of the first request only,
                      * then behave as PEER_ACK */
    PEER_REFUSE,     /* answer the handshake with an error */
};

struct peer {
    uint16_t port;
    int lfd; /* listening socket, -1 while "down" */
    pthread_t thread;
    pthread_mutex_t mu; /* guards every field below */
    enum peer_mode mode;
    int batch;
    int stop;
    int drop_all;  /* close every client connection at the next turn */
    int want_down; /* close the listener too */
    int dropped_first;
    long requests;           /* requests received */
    long handshakes;         /* handshakes answered */
    Cairn__Request *last;    /* last request received (owned) */
    struct peer_conn *conns; /* MAX_CONNS slots; only the thread uses */
    struct peer_held *held;  /* answers held back (PEER_REVERSE) */
    int nheld;
};

/* peer_start -- listen on a free port of 22500-22999; 0 or -1. */
int peer_start(struct peer *p, enum peer_mode mode);

/* peer_set_mode -- change behaviour for requests from now on. */
void peer_set_mode(struct peer *p, enum peer_mode mode, int batch);

/* peer_drop_all -- close every connection (the listener stays); returns
 * once they are closed. */
void peer_drop_all(struct peer *p);

/* peer_down -- close the listener and every connection, as a dead node;
 * peer_up -- listen again on the same port. */
void peer_down(struct peer *p);
int peer_up(struct peer *p);

/* peer_requests -- how many requests arrived so far. */
long peer_requests(struct peer *p);

/* peer_last -- a copy of the last request received (caller frees with
 * cairn__request__free_unpacked(r, NULL)), or NULL. */
Cairn__Request *peer_last(struct peer *p);

/* peer_stop -- stop the thread, close everything. */
void peer_stop(struct peer *p);

#endif
