/*
 * srv.h -- run a real cairn-server process for client tests.
 *
 * The server listens on 127.0.0.1 at a base port picked in 22000-22499
 * (clients at base, peers +1, HTTP +2) and keeps its data in a fresh
 * temporary directory. Every started process is remembered, and killed
 * with SIGKILL at exit or on a fatal signal, so no test leaves one behind.
 */
#ifndef CAIRN_TESTS_CLIENT_SRV_H
#define CAIRN_TESTS_CLIENT_SRV_H

#include <stdint.h>
#include <sys/types.h>

#include "cairn/cairn.h"

struct srv {
    const char *bin;  /* path of cairn-server */
    char dir[256];    /* data directory */
    uint16_t port;    /* client port */
    pid_t pid;        /* 0 when not running */
    char contact[64]; /* "127.0.0.1:PORT" */
};

/* srv_start -- new data dir, free port, start, wait until it serves; 0 or
 * -1 (with a message on stderr). */
int srv_start(struct srv *s, const char *bin);

/* srv_restart -- start again on the same dir and port; 0 or -1. */
int srv_restart(struct srv *s);

/* srv_stop -- send `sig` and wait for the exit (SIGKILL after 60 s);
 * returns the exit status (128+N when killed by signal N). */
int srv_stop(struct srv *s, int sig);

/* srv_cleanup -- stop with SIGKILL if running, remove the data dir. */
void srv_cleanup(struct srv *s);

/* srv_client -- a client of the server (pool `pool`), or NULL. */
cairn_client_t *srv_client(struct srv *s, uint32_t pool);

#endif
