/*
 * tclient.c -- raw-protocol test client and process helpers (tclient.h).
 */
#include "tclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TC_MAX_CHILDREN 64

static pid_t tc_children[TC_MAX_CHILDREN];
static int tc_nchildren;
static char tc_dirs[TC_MAX_CHILDREN][256];
static int tc_ndirs;
static uint64_t tc_next_id = 1;

static int tc_rm_one(const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* tc_kill_all -- at exit: kill every child, then remove their files. */
static void tc_kill_all(void)
{
    for (int i = 0; i < tc_nchildren; i++) {
        if (tc_children[i] > 0) {
            kill(tc_children[i], SIGKILL);
            waitpid(tc_children[i], NULL, 0);
        }
    }
    tc_nchildren = 0;
    if (getenv("CAIRN_KEEP_TEST_DIRS"))
        return;
    for (int i = 0; i < tc_ndirs; i++) {
        char log[sizeof(tc_dirs[0]) + 8];
        nftw(tc_dirs[i], tc_rm_one, 16, FTW_DEPTH | FTW_PHYS);
        snprintf(log, sizeof(log), "%.255s.log", tc_dirs[i]);
        unlink(log);
    }
}

static void tc_register(pid_t pid)
{
    static int installed;

    if (!installed) {
        atexit(tc_kill_all);
        installed = 1;
    }
    for (int i = 0; i < tc_nchildren; i++) {
        if (tc_children[i] <= 0) {
            tc_children[i] = pid;
            return;
        }
    }
    assert_true(tc_nchildren < TC_MAX_CHILDREN);
    tc_children[tc_nchildren++] = pid;
}

static void tc_unregister(pid_t pid)
{
    for (int i = 0; i < tc_nchildren; i++)
        if (tc_children[i] == pid)
            tc_children[i] = 0;
}

static int64_t tc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tc_tmpdir(const char *tag, char *out, size_t size)
{
    snprintf(out, size, "/tmp/cairn-test-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(out));
    if (tc_ndirs < TC_MAX_CHILDREN)
        snprintf(tc_dirs[tc_ndirs++], sizeof(tc_dirs[0]), "%s", out);
}

pid_t tc_spawn(const char *dir, uint16_t port, const char *const *extra,
               const char *log)
{
    const char *argv[64];
    char portstr[16];
    int n = 0;
    pid_t pid;

    snprintf(portstr, sizeof(portstr), "%u", port);
    argv[n++] = CAIRN_SERVER_BIN;
    argv[n++] = "--data-dir";
    argv[n++] = dir;
    argv[n++] = "--port";
    argv[n++] = portstr;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1";
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    tc_register(pid);
    return pid;
}

pid_t tc_start(const char *dir, uint16_t port, const char *const *extra)
{
    char log[512];
    int64_t deadline = tc_now_ms() + TC_TIMEOUT_MS;
    pid_t pid;

    snprintf(log, sizeof(log), "%s.log", dir);
    pid = tc_spawn(dir, port, extra, log);
    while (tc_now_ms() < deadline) {
        int status, fd;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            tc_unregister(pid);
            fail_msg("cairn-server exited early (status %d); see %s", status,
                     log);
        }
        fd = tc_connect(port);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        usleep(20000);
    }
    fail_msg("cairn-server did not open port %u; see %s", port, log);
    return -1;
}

int tc_wait_exit(pid_t pid)
{
    int64_t deadline = tc_now_ms() + TC_TIMEOUT_MS;
    int status;

    while (tc_now_ms() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            tc_unregister(pid);
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    fail_msg("cairn-server pid %d did not exit in time", (int)pid);
    return -1;
}

int tc_stop(pid_t pid, int sig)
{
    kill(pid, sig);
    return tc_wait_exit(pid);
}

int tc_connect(uint16_t port)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int tc_send_raw(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

uint8_t *tc_frame(const ProtobufCMessage *m, size_t *n)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(len + 4);

    assert_non_null(p);
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    protobuf_c_message_pack(m, p + 4);
    *n = len + 4;
    return p;
}

int tc_send_msg(int fd, const ProtobufCMessage *m)
{
    size_t n;
    uint8_t *p = tc_frame(m, &n);
    int rc = tc_send_raw(fd, p, n);

    free(p);
    return rc;
}

/* tc_read_full -- exactly n bytes before the deadline; 0 or -1. */
static int tc_read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        struct pollfd pf = {fd, POLLIN, 0};
        int64_t left = deadline - tc_now_ms();
        ssize_t r;
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            return -1;
        r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

long tc_recv_frame(int fd, uint8_t **p, int timeout_ms)
{
    int64_t deadline = tc_now_ms() + timeout_ms;
    uint8_t hdr[4];
    uint32_t len;

    *p = NULL;
    if (tc_read_full(fd, hdr, 4, deadline) < 0)
        return -1;
    len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
          (uint32_t)hdr[2] << 8 | hdr[3];
    *p = malloc(len + 1);
    assert_non_null(*p);
    if (tc_read_full(fd, *p, len, deadline) < 0) {
        free(*p);
        *p = NULL;
        return -1;
    }
    return (long)len;
}

int tc_closed(int fd, int timeout_ms)
{
    int64_t deadline = tc_now_ms() + timeout_ms;
    uint8_t b[4096];

    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int64_t left = deadline - tc_now_ms();
        ssize_t r;
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            return 0;
        r = recv(fd, b, sizeof(b), 0);
        if (r == 0 || (r < 0 && errno != EINTR))
            return 1;
    }
}

Cairn__HandshakeReply *tc_handshake(int fd, uint32_t version,
                                    const char *cluster)
{
    Cairn__Handshake h = CAIRN__HANDSHAKE__INIT;
    Cairn__HandshakeReply *r;
    uint8_t *p;
    long n;

    h.protocol_version = version;
    h.cluster_name = (char *)cluster;
    if (tc_send_msg(fd, &h.base) < 0)
        return NULL;
    n = tc_recv_frame(fd, &p, TC_TIMEOUT_MS);
    if (n < 0)
        return NULL;
    r = cairn__handshake_reply__unpack(NULL, (size_t)n, p);
    free(p);
    return r;
}

int tc_open(uint16_t port)
{
    int fd = tc_connect(port);
    Cairn__HandshakeReply *r;

    assert_true(fd >= 0);
    r = tc_handshake(fd, 1, "cairn");
    assert_non_null(r);
    assert_null(r->error);
    assert_int_equal(r->host_id.len, 16);
    cairn__handshake_reply__free_unpacked(r, NULL);
    return fd;
}

Cairn__Response *tc_recv(int fd)
{
    Cairn__Response *r;
    uint8_t *p;
    long n = tc_recv_frame(fd, &p, TC_TIMEOUT_MS);

    if (n < 0)
        return NULL;
    r = cairn__response__unpack(NULL, (size_t)n, p);
    free(p);
    return r;
}

Cairn__Response *tc_call(int fd, Cairn__Request *rq)
{
    Cairn__Response *r;

    rq->id = tc_next_id++;
    if (tc_send_msg(fd, &rq->base) < 0)
        return NULL;
    r = tc_recv(fd);
    if (r)
        assert_int_equal(r->id, rq->id);
    return r;
}

int tc_rc(const Cairn__Response *r)
{
    if (r == NULL)
        return -99999;
    return r->error ? r->error->code : 0;
}

void tc_free(Cairn__Response *r)
{
    if (r)
        cairn__response__free_unpacked(r, NULL);
}

/* tc_simple -- send, wait, free; the code. */
static int tc_simple(int fd, Cairn__Request *rq)
{
    Cairn__Response *r = tc_call(fd, rq);
    int rc = tc_rc(r);

    if (r && r->error)
        print_message("  server said: %s\n", r->error->message);
    tc_free(r);
    return rc;
}

int tc_create_ks(int fd, const char *ks, uint32_t rf)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__CreateKeyspace ck = CAIRN__CREATE_KEYSPACE__INIT;

    ck.name = (char *)ks;
    ck.replication_factor = rf;
    rq.op_case = CAIRN__REQUEST__OP_CREATE_KEYSPACE;
    rq.create_keyspace = &ck;
    return tc_simple(fd, &rq);
}

int tc_create_table(int fd, const char *ks, const char *t, uint32_t ttl)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__CreateTable ct = CAIRN__CREATE_TABLE__INIT;
    Cairn__TableOptions o = CAIRN__TABLE_OPTIONS__INIT;

    ct.keyspace = (char *)ks;
    ct.name = (char *)t;
    o.default_ttl_s = ttl;
    ct.options = &o;
    rq.op_case = CAIRN__REQUEST__OP_CREATE_TABLE;
    rq.create_table = &ct;
    return tc_simple(fd, &rq);
}

int tc_drop_table(int fd, const char *ks, const char *t)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__DropTable dt = CAIRN__DROP_TABLE__INIT;

    dt.keyspace = (char *)ks;
    dt.name = (char *)t;
    rq.op_case = CAIRN__REQUEST__OP_DROP_TABLE;
    rq.drop_table = &dt;
    return tc_simple(fd, &rq);
}

static ProtobufCBinaryData tc_bytes(const char *s)
{
    return (ProtobufCBinaryData){s ? strlen(s) : 0, (uint8_t *)s};
}

Cairn__Mutation tc_cell(const char *ck, const char *col, const char *val,
                        int64_t ts, uint32_t ttl)
{
    Cairn__Mutation m = CAIRN__MUTATION__INIT;

    m.kind = CAIRN__MUTATION_KIND__MUT_CELL;
    m.ck = tc_bytes(ck);
    m.column = tc_bytes(col);
    m.value = tc_bytes(val);
    m.timestamp = ts;
    m.ttl_s = ttl;
    return m;
}

int tc_write(int fd, const char *ks, const char *t, const char *pk,
             Cairn__Mutation *m, size_t n)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;
    Cairn__Write w = CAIRN__WRITE__INIT;
    Cairn__Mutation *mp[64];

    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        mp[i] = &m[i];
    w.keyspace = (char *)ks;
    w.table = (char *)t;
    w.pkey = tc_bytes(pk);
    w.n_mutations = n;
    w.mutations = mp;
    rq.op_case = CAIRN__REQUEST__OP_WRITE;
    rq.write = &w;
    return tc_simple(fd, &rq);
}

int tc_put(int fd, const char *ks, const char *t, const char *pk,
           const char *ck, const char *col, const char *val)
{
    Cairn__Mutation m = tc_cell(ck, col, val, 0, 0);

    return tc_write(fd, ks, t, pk, &m, 1);
}

Cairn__Response *tc_read(int fd, Cairn__Read *rd)
{
    Cairn__Request rq = CAIRN__REQUEST__INIT;

    rq.op_case = CAIRN__REQUEST__OP_READ;
    rq.read = rd;
    return tc_call(fd, &rq);
}

int tc_get(int fd, const char *ks, const char *t, const char *pk,
           const char *ck, const char *col, char *val, size_t size)
{
    Cairn__Read rd = CAIRN__READ__INIT;
    Cairn__Response *r;
    int found = 0;

    rd.keyspace = (char *)ks;
    rd.table = (char *)t;
    rd.pkey = tc_bytes(pk);
    rd.ck_start = rd.ck_end = tc_bytes(ck);
    rd.has_ck_start = rd.has_ck_end = 1;
    r = tc_read(fd, &rd);
    if (r == NULL || r->error) {
        int rc = tc_rc(r);
        tc_free(r);
        return rc;
    }
    assert_int_equal(r->result_case, CAIRN__RESPONSE__RESULT_READ);
    for (size_t i = 0; i < r->read->n_rows; i++) {
        Cairn__Row *row = r->read->rows[i];
        assert_int_equal(row->ck.len, strlen(ck));
        for (size_t j = 0; j < row->n_cells; j++) {
            Cairn__Cell *c = row->cells[j];
            if (c->column.len == strlen(col) &&
                memcmp(c->column.data, col, c->column.len) == 0) {
                snprintf(val, size, "%.*s", (int)c->value.len,
                         (const char *)c->value.data);
                found = 1;
            }
        }
    }
    tc_free(r);
    return found;
}

int tc_http_get(uint16_t port, const char *path, char *buf, size_t size)
{
    char req[256];
    size_t got = 0;
    int fd = tc_connect(port), status = -1;

    if (fd < 0)
        return -1;
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    tc_send_raw(fd, req, strlen(req));
    while (got + 1 < size) {
        struct pollfd pf = {fd, POLLIN, 0};
        ssize_t r;
        if (poll(&pf, 1, TC_TIMEOUT_MS) <= 0)
            break;
        r = recv(fd, buf + got, size - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}
