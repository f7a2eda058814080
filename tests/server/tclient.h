/*
 * tclient.h -- a tiny blocking client of the raw cairn protocol for the
 * server's tests, and helpers to start and stop cairn-server processes.
 *
 * It deliberately does not use libcairn: the tests check the wire
 * protocol itself, byte by byte where they need to. Every child server
 * is registered and killed when the test program exits, however it
 * exits.
 */
#ifndef CAIRN_TESTS_SERVER_TCLIENT_H
#define CAIRN_TESTS_SERVER_TCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/client.pb-c.h"
#include "proto/common.pb-c.h"

#define TC_TIMEOUT_MS 20000 /* a bound, not a measurement */

/* ---- processes ---- */

/*
 * tc_start -- run cairn-server with --data-dir DIR --port PORT and `extra`
 * flags (NULL-terminated), log to DIR.log; waits until the client port
 * accepts. Returns the pid (the test fails on error).
 */
pid_t tc_start(const char *dir, uint16_t port, const char *const *extra);

/* tc_spawn -- start without waiting; stderr to `log`. */
pid_t tc_spawn(const char *dir, uint16_t port, const char *const *extra,
               const char *log);

/* tc_stop -- send `sig` and return the exit status (or 128+signal). */
int tc_stop(pid_t pid, int sig);

/* tc_wait_exit -- wait for `pid` (bounded) and return as tc_stop. */
int tc_wait_exit(pid_t pid);

/* tc_tmpdir -- a fresh empty directory under /tmp named after `tag`. */
void tc_tmpdir(const char *tag, char *out, size_t size);

/* ---- sockets and frames ---- */

/* tc_connect -- a TCP connection to 127.0.0.1:port, or -1. */
int tc_connect(uint16_t port);

/* tc_send_raw -- write all bytes; 0 or -1. */
int tc_send_raw(int fd, const void *p, size_t n);

/* tc_frame -- length prefix + packed message into a malloc'ed block. */
uint8_t *tc_frame(const ProtobufCMessage *m, size_t *n);

/* tc_send_msg -- send one frame of `m`; 0 or -1. */
int tc_send_msg(int fd, const ProtobufCMessage *m);

/*
 * tc_recv_frame -- read one frame; returns its length and sets *p
 * (malloc'ed), 0-length frames included; -1 on EOF, error or timeout.
 */
long tc_recv_frame(int fd, uint8_t **p, int timeout_ms);

/* tc_closed -- 1 when the peer closed the connection within the bound. */
int tc_closed(int fd, int timeout_ms);

/* tc_handshake -- send a handshake; the reply (NULL on failure). */
Cairn__HandshakeReply *tc_handshake(int fd, uint32_t version,
                                    const char *cluster);

/* tc_open -- connect and handshake with cluster "cairn"; fd or fail. */
int tc_open(uint16_t port);

/* tc_recv -- the next Response (NULL on EOF, timeout or bad bytes). */
Cairn__Response *tc_recv(int fd);

/* tc_call -- send `rq` with a fresh id and wait for its answer. */
Cairn__Response *tc_call(int fd, Cairn__Request *rq);

/* tc_rc -- the error code of a response (0 for success). */
int tc_rc(const Cairn__Response *r);

/* ---- requests ---- */

int tc_create_ks(int fd, const char *ks, uint32_t rf);
int tc_create_table(int fd, const char *ks, const char *t, uint32_t ttl);
int tc_drop_table(int fd, const char *ks, const char *t);

/* tc_mut -- a cell mutation (caller keeps the strings alive). */
Cairn__Mutation tc_cell(const char *ck, const char *col, const char *val,
                        int64_t ts, uint32_t ttl);

/* tc_write -- one write of `n` mutations to partition `pk`; the code. */
int tc_write(int fd, const char *ks, const char *t, const char *pk,
             Cairn__Mutation *m, size_t n);

/* tc_put -- one cell; the code. */
int tc_put(int fd, const char *ks, const char *t, const char *pk,
           const char *ck, const char *col, const char *val);

/*
 * tc_get -- the value of `col` in row `ck` of `pk` into `val` (size);
 * 1 found, 0 absent, <0 error code.
 */
int tc_get(int fd, const char *ks, const char *t, const char *pk,
           const char *ck, const char *col, char *val, size_t size);

/* tc_read -- a Read request's answer (the caller frees it). */
Cairn__Response *tc_read(int fd, Cairn__Read *rd);

/* tc_free -- free a response from tc_recv/tc_call. */
void tc_free(Cairn__Response *r);

/* tc_http_get -- GET `path` on 127.0.0.1:port; status, body into buf. */
int tc_http_get(uint16_t port, const char *path, char *buf, size_t size);

#endif /* CAIRN_TESTS_SERVER_TCLIENT_H */
