/*
 * server_load.c -- a small load driver for a running cairn-server, over
 * the raw protocol (tclient.h): THREADS connections, each keeping WINDOW
 * requests in flight until it has sent PER of them. Not a test and not
 * the project's benchmark (that is cairn-bench in bench/); it gives
 * quick figures for the server's own request path.
 *
 *   server_load PORT THREADS PER WINDOW [read]
 *
 * Without `read` it creates ks1.t and writes 100-byte cells; with `read`
 * it reads them back one row per request.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tclient.h"

static int load_port, load_per, load_window, load_read;

static double load_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* load_send -- one write or one read of row `seq` of partition `pk`. */
static void load_send(int fd, const char *pk, int seq, const char *val)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Write w = CAIRN__WRITE__INIT;
    Cairn__Read rd = CAIRN__READ__INIT;
    Cairn__Mutation m, *mp = &m;
    ProtobufCBinaryData key;
    char ck[16];

    snprintf(ck, sizeof(ck), "k%07d", seq);
    key = (ProtobufCBinaryData){strlen(pk), (uint8_t *)pk};
    rq.id = (uint64_t)seq + 1;
    if (load_read) {
        rd.keyspace = "ks1";
        rd.table = "t";
        rd.pkey = key;
        rd.ck_start = rd.ck_end =
            (ProtobufCBinaryData){strlen(ck), (uint8_t *)ck};
        rq.op_case = CAIRN__REQUEST__OP_READ;
        rq.read = &rd;
    } else {
        m = tc_cell(ck, "v", val, 0, 0);
        w.keyspace = "ks1";
        w.table = "t";
        w.pkey = key;
        w.n_mutations = 1;
        w.mutations = &mp;
        rq.op_case = CAIRN__REQUEST__OP_WRITE;
        rq.write = &w;
    }
    tc_send_msg(fd, &rq.base);
}

static void *load_thread(void *arg)
{
    char pk[16], val[101];
    int fd = tc_open((uint16_t)load_port), sent = 0, got = 0;

    snprintf(pk, sizeof(pk), "p%ld", (long)(intptr_t)arg);
    memset(val, 'v', 100);
    val[100] = '\0';
    while (got < load_per) {
        Cairn__Response *r;
        while (sent < load_per && sent - got < load_window)
            load_send(fd, pk, sent++, val);
        r = tc_recv(fd);
        if (r == NULL || tc_rc(r) != 0) {
            fprintf(stderr, "server_load: request failed: %d\n", tc_rc(r));
            exit(1);
        }
        tc_free(r);
        got++;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th[64];
    int threads;
    double t0, dt;

    if (argc < 5) {
        fprintf(stderr, "usage: server_load PORT THREADS PER WINDOW [read]\n");
        return 2;
    }
    load_port = atoi(argv[1]);
    threads = atoi(argv[2]);
    load_per = atoi(argv[3]);
    load_window = atoi(argv[4]);
    load_read = argc > 5 && strcmp(argv[5], "read") == 0;
    if (threads < 1 || threads > 64 || load_per < 1 || load_window < 1) {
        fprintf(stderr, "server_load: THREADS 1..64, PER and WINDOW >= 1\n");
        return 2;
    }
    if (!load_read) {
        int fd = tc_open((uint16_t)load_port);
        tc_create_ks(fd, "ks1", 1);
        tc_create_table(fd, "ks1", "t", 0);
        close(fd);
    }
    t0 = load_now();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, load_thread, (void *)(intptr_t)i);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    dt = load_now() - t0;
    printf("%s: %d requests in %.2f s = %.0f/s (%d connections, %d in "
           "flight each)\n",
           load_read ? "reads" : "writes", threads * load_per, dt,
           threads * load_per / dt, threads, load_window);
    return 0;
}
