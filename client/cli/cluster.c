/*
 * cluster.c -- `cairn cluster`: local clusters of cairn-server processes
 * on 127.0.0.1, like Cassandra's ccm, for people and for tests.
 *
 * `start` launches N servers found next to the cairn executable (node i at
 * base port P + 10 * (i - 1), every one seeded from node 1, each with its
 * data directory DIR/nodeI/data and log DIR/nodeI/node.log) and waits
 * until every node sees every node Up and Normal. The layout (base port,
 * node count, pids) is kept in DIR/cluster.layout, which every other
 * subcommand reads: status, stop, kill I, pause I, resume I, restart I,
 * logs I. Nodes are numbered from 1. A step that fails gives a non-zero
 * exit and says why on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/cli/cli.h"

#define CL_MAX_NODES    64
#define CL_DEFAULT_PORT 9470
#define CL_DEFAULT_DIR  "./cairn-cluster"
#define CL_LAYOUT       "cluster.layout"
#define CL_WAIT_MS      90000 /* start: every node Up and Normal */
#define CL_STOP_WAIT_MS 30000 /* SIGTERM, then SIGKILL */
#define CL_POLL_MS      250

struct layout {
    char dir[PATH_MAX];
    unsigned base, n;
    long pid[CL_MAX_NODES + 1]; /* 0: not running */
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static unsigned node_port(const struct layout *l, unsigned i)
{
    return l->base + 10 * (i - 1);
}

/* ---- the layout file ---- */

static int layout_save(struct cli *g, const struct layout *l)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", l->dir, CL_LAYOUT);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f) {
        fprintf(g->err, "cairn: cannot write %s: %s\n", tmp, strerror(errno));
        return CLI_ERROR;
    }
    fprintf(f, "cairn-cluster 1\nbase_port %u\nnodes %u\n", l->base, l->n);
    for (unsigned i = 1; i <= l->n; i++)
        fprintf(f, "node %u port %u pid %ld\n", i, node_port(l, i), l->pid[i]);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        fprintf(g->err, "cairn: cannot write %s: %s\n", path, strerror(errno));
        return CLI_ERROR;
    }
    return CLI_OK;
}

static int layout_load(struct cli *g, const char *dir, struct layout *l)
{
    char path[PATH_MAX + 32];
    unsigned idx, port;
    long pid;
    FILE *f;
    int v;

    memset(l, 0, sizeof(*l));
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    snprintf(path, sizeof(path), "%s/%s", dir, CL_LAYOUT);
    f = fopen(path, "r");
    if (!f) {
        fprintf(g->err,
                "cairn: no cluster in %s (%s): start one with `cairn "
                "cluster start --nodes N --dir %s`\n",
                dir, strerror(errno), dir);
        return CLI_ERROR;
    }
    if (fscanf(f, "cairn-cluster %d base_port %u nodes %u", &v, &l->base,
               &l->n) != 3 ||
        l->n == 0 || l->n > CL_MAX_NODES) {
        fclose(f);
        fprintf(g->err, "cairn: %s is damaged\n", path);
        return CLI_ERROR;
    }
    while (fscanf(f, " node %u port %u pid %ld", &idx, &port, &pid) == 3)
        if (idx >= 1 && idx <= l->n)
            l->pid[idx] = pid;
    fclose(f);
    return CLI_OK;
}

/*
 * layout_set_pid -- record node i's pid, re-reading the layout under a
 * lock first: two subcommands may run at once (a test restarts two nodes
 * in parallel), and neither may undo the other's pid.
 */
static int layout_set_pid(struct cli *g, struct layout *l, unsigned i, long pid)
{
    char lockp[PATH_MAX + 32];
    struct layout cur;
    int fd, rc;

    snprintf(lockp, sizeof(lockp), "%s/cluster.lock", l->dir);
    fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        fprintf(g->err, "cairn: cannot lock %s: %s\n", lockp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return CLI_ERROR;
    }
    rc = layout_load(g, l->dir, &cur);
    if (rc == CLI_OK) {
        cur.pid[i] = pid;
        rc = layout_save(g, &cur);
        memcpy(l->pid, cur.pid, sizeof(l->pid));
    }
    l->pid[i] = pid;
    close(fd);
    return rc;
}

/* ---- processes ---- */

static int alive(long pid)
{
    char path[64], st = '?';
    FILE *f;

    if (pid <= 0 || kill((pid_t)pid, 0) < 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%*d %*s %c", &st) != 1)
            st = '?';
        fclose(f);
    }
    return st != 'Z' && st != 'X';
}

static int paused(long pid)
{
    char path[64], st = '?';
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%*d %*s %c", &st) != 1)
        st = '?';
    fclose(f);
    return st == 'T';
}

/* reap -- collect our own exited children, so `alive` sees them gone. */
static void reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static int wait_gone(long pid, int ms)
{
    int64_t end = mono_ms() + ms;

    while (mono_ms() < end) {
        reap();
        if (!alive(pid))
            return 1;
        sleep_ms(50);
    }
    return 0;
}

/* server_path -- cairn-server next to this executable. */
static int server_path(struct cli *g, char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (n <= 0) {
        fprintf(g->err, "cairn: cannot find my own executable\n");
        return CLI_ERROR;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    *slash = '\0';
    if (strlen(self) + sizeof("/cairn-server") > cap) {
        fprintf(g->err, "cairn: path too long: %s\n", self);
        return CLI_ERROR;
    }
    memcpy(out, self, strlen(self));
    memcpy(out + strlen(self), "/cairn-server", sizeof("/cairn-server"));
    if (access(out, X_OK) != 0) {
        fprintf(g->err, "cairn: no cairn-server next to cairn (%s)\n", out);
        return CLI_ERROR;
    }
    return CLI_OK;
}

static int mkdir_p(const char *path)
{
    char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* spawn -- start node i as a daemon of its own session; its pid. */
static long spawn(struct cli *g, const struct layout *l, unsigned i)
{
    char srv[PATH_MAX], data[PATH_MAX + 32], logp[PATH_MAX + 32];
    char port[16], seeds[64];
    pid_t pid;

    if (server_path(g, srv, sizeof(srv)) != CLI_OK)
        return -1;
    snprintf(data, sizeof(data), "%s/node%u/data", l->dir, i);
    snprintf(logp, sizeof(logp), "%s/node%u/node.log", l->dir, i);
    snprintf(port, sizeof(port), "%u", node_port(l, i));
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%u", l->base);
    if (mkdir_p(data) < 0) {
        fprintf(g->err, "cairn: cannot create %s: %s\n", data, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(g->err, "cairn: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);
        setsid();
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execl(srv, srv, "--listen", "127.0.0.1", "--port", port, "--data-dir",
              data, "--seeds", seeds, "--loops", "1", (char *)NULL);
        _exit(127);
    }
    return (long)pid;
}

/* ---- asking nodes ---- */

static size_t count_sub(const char *s, const char *sub)
{
    size_t n = 0;

    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
        n++;
    return n;
}

/*
 * is_our_node -- the node answering on `c` is process `pid`, not a
 * stranger that holds the port (another test's leftover, say).
 */
static int is_our_node(cairn_client_t *c, long pid)
{
    cairn_result_t *r = NULL;
    cairn_req_opts_t ro = {0, 2000};
    char want[48];
    int ok;

    snprintf(want, sizeof(want), "\"pid\":%ld,", pid);
    ok = cairn_admin(c, &ro, "info", NULL, &r) == 0 &&
         strstr(cairn_result_admin_json(r), want) != NULL;
    cairn_result_free(r);
    return ok;
}

/*
 * node_sees_all -- 1 when node i answers status with `want` nodes, all
 * up and normal; 0 otherwise.
 */
static int node_sees_all(const struct layout *l, unsigned i, unsigned want)
{
    char host[64];
    cairn_options_t o;
    cairn_client_t *c;
    cairn_result_t *r = NULL;
    cairn_req_opts_t ro = {0, 2000};
    int ok = 0;

    snprintf(host, sizeof(host), "127.0.0.1:%u", node_port(l, i));
    cairn_options_init(&o);
    o.contact_points = host;
    o.connections_per_host = 1;
    o.connect_timeout_ms = 1000;
    if (cairn_client_new(&o, &c) < 0)
        return 0;
    if (!is_our_node(c, l->pid[i])) {
        cairn_client_free(c);
        return 0;
    }
    if (cairn_admin(c, &ro, "status", NULL, &r) == 0) {
        const char *js = cairn_result_admin_json(r);
        ok = count_sub(js, "\"host_id\"") == want &&
             count_sub(js, "\"status\":\"up\"") == want &&
             count_sub(js, "\"state\":\"normal\"") == want;
    }
    cairn_result_free(r);
    cairn_client_free(c);
    return ok;
}

/* wait_all_up -- every running node sees all n nodes Up and Normal. */
static int wait_all_up(struct cli *g, const struct layout *l, int ms)
{
    int64_t start = mono_ms(), end = start + ms;

    while (mono_ms() < end) {
        unsigned good = 0;
        for (unsigned i = 1; i <= l->n; i++) {
            reap();
            if (!alive(l->pid[i])) {
                fprintf(g->err,
                        "cairn: node %u (pid %ld) exited; see `cairn cluster "
                        "logs %u --dir %s`\n",
                        i, l->pid[i], i, l->dir);
                return CLI_ERROR;
            }
            good += (unsigned)node_sees_all(l, i, l->n);
        }
        if (good == l->n)
            return CLI_OK;
        sleep_ms(CL_POLL_MS);
    }
    fprintf(g->err,
            "cairn: the nodes did not all see each other Up and Normal "
            "within %d s; see the logs under %s\n",
            ms / 1000, l->dir);
    return CLI_ERROR;
}

/* ---- subcommands ---- */

static int parse_node(struct cli *g, const struct layout *l, const char *s,
                      unsigned *out)
{
    uint32_t v;

    if (cli_u32(g, "node", s, &v) != 0)
        return CLI_USAGE;
    if (v < 1 || v > l->n) {
        fprintf(g->err, "cairn: no node %u: the cluster has nodes 1 to %u\n", v,
                l->n);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

static void print_reach(struct cli *g, const struct layout *l)
{
    for (unsigned i = 1; i <= l->n; i++)
        fprintf(g->out,
                "node%u  127.0.0.1:%u  pid %ld  log %s/node%u/node.log\n", i,
                node_port(l, i), l->pid[i], l->dir, i);
    fprintf(g->out, "try: cairn --host 127.0.0.1:%u status\n", l->base);
}

static void stop_all(struct layout *l)
{
    for (unsigned i = 1; i <= l->n; i++)
        if (alive(l->pid[i])) {
            kill((pid_t)l->pid[i], SIGCONT);
            kill((pid_t)l->pid[i], SIGTERM);
        }
    for (unsigned i = 1; i <= l->n; i++) {
        if (l->pid[i] > 0 && !wait_gone(l->pid[i], CL_STOP_WAIT_MS)) {
            kill((pid_t)l->pid[i], SIGKILL);
            wait_gone(l->pid[i], 5000);
        }
        l->pid[i] = 0;
    }
}

static int sub_start(struct cli *g, const char *dir, uint32_t nodes,
                     uint32_t base)
{
    struct layout l;
    int rc;

    if (nodes < 1 || nodes > CL_MAX_NODES)
        return cli_usage(g, "cluster", "--nodes must be 1 to 64");
    if (base < 1024 || base + 10 * (nodes - 1) + 2 > 65535)
        return cli_usage(g, "cluster",
                         "--base-port leaves no room for "
                         "the nodes");
    snprintf(l.dir, sizeof(l.dir), "%s/%s", dir, CL_LAYOUT);
    if (access(l.dir, F_OK) == 0 && layout_load(g, dir, &l) == CLI_OK) {
        for (unsigned i = 1; i <= l.n; i++)
            if (alive(l.pid[i])) {
                fprintf(g->err,
                        "cairn: a cluster already runs in %s (node %u, pid "
                        "%ld); `cairn cluster stop --dir %s` first\n",
                        dir, i, l.pid[i], dir);
                return CLI_ERROR;
            }
    }
    memset(&l, 0, sizeof(l));
    if (mkdir_p(dir) < 0 || !realpath(dir, l.dir)) {
        fprintf(g->err, "cairn: cannot create %s: %s\n", dir, strerror(errno));
        return CLI_ERROR;
    }
    l.base = base;
    l.n = nodes;
    for (unsigned i = 1; i <= nodes; i++) {
        l.pid[i] = spawn(g, &l, i);
        if (l.pid[i] < 0 || layout_save(g, &l) != CLI_OK) {
            l.pid[i] = 0;
            stop_all(&l);
            layout_save(g, &l);
            return CLI_ERROR;
        }
    }
    rc = wait_all_up(g, &l, CL_WAIT_MS);
    if (rc != CLI_OK)
        return rc; /* nodes keep running for inspection; stop cleans up */
    print_reach(g, &l);
    return CLI_OK;
}

static int sub_status(struct cli *g, struct layout *l)
{
    unsigned first = 0;
    char host[64];

    reap();
    if (g->json)
        fputs("{\"nodes\":[", g->out);
    for (unsigned i = 1; i <= l->n; i++) {
        int a = alive(l->pid[i]), p = a && paused(l->pid[i]);
        const char *st = !a ? "stopped" : p ? "paused" : "running";
        if (a && !p && !first)
            first = i;
        if (g->json)
            fprintf(g->out,
                    "%s{\"node\":%u,\"address\":\"127.0.0.1:%u\",\"pid\":%ld,"
                    "\"process\":\"%s\"}",
                    i > 1 ? "," : "", i, node_port(l, i), a ? l->pid[i] : 0L,
                    st);
        else
            fprintf(g->out, "node%-3u 127.0.0.1:%-5u pid %-8ld %s\n", i,
                    node_port(l, i), a ? l->pid[i] : 0L, st);
    }
    if (g->json)
        fputs("],\"ring\":", g->out);
    if (!first) {
        if (g->json)
            fputs("null}\n", g->out);
        fprintf(g->err, "cairn: no node of %s is running\n", l->dir);
        return CLI_ERROR;
    }
    if (!g->json)
        fputc('\n', g->out);
    snprintf(host, sizeof(host), "127.0.0.1:%u", node_port(l, first));
    g->host = host;
    {
        char *argv[] = {"status", NULL};
        int rc = cli_admin_cmds[0].run(g, 1, argv);
        if (g->json)
            fputs("}\n", g->out);
        return rc;
    }
}

static int sub_signal(struct cli *g, struct layout *l, unsigned i, int sig)
{
    reap();
    if (!alive(l->pid[i])) {
        fprintf(g->err, "cairn: node %u is not running\n", i);
        return CLI_ERROR;
    }
    if (kill((pid_t)l->pid[i], sig) < 0) {
        fprintf(g->err, "cairn: cannot signal node %u: %s\n", i,
                strerror(errno));
        return CLI_ERROR;
    }
    if (sig == SIGKILL) {
        if (!wait_gone(l->pid[i], 10000)) {
            fprintf(g->err, "cairn: node %u did not die\n", i);
            return CLI_ERROR;
        }
        return layout_set_pid(g, l, i, 0);
    }
    return CLI_OK;
}

/* node_serving -- node i answers an admin request. */
static int node_serving(const struct layout *l, unsigned i)
{
    char host[64];
    cairn_options_t o;
    cairn_client_t *c;
    cairn_result_t *r = NULL;
    cairn_req_opts_t ro = {0, 2000};
    int ok;

    snprintf(host, sizeof(host), "127.0.0.1:%u", node_port(l, i));
    cairn_options_init(&o);
    o.contact_points = host;
    o.connections_per_host = 1;
    o.connect_timeout_ms = 1000;
    if (cairn_client_new(&o, &c) < 0)
        return 0;
    ok = cairn_admin(c, &ro, "info", NULL, &r) == 0 &&
         strstr(cairn_result_admin_json(r), "\"serving\":true") != NULL;
    cairn_result_free(r);
    ok = ok && is_our_node(c, l->pid[i]);
    cairn_client_free(c);
    return ok;
}

static int sub_restart(struct cli *g, struct layout *l, unsigned i)
{
    int64_t end;
    long pid;

    reap();
    if (alive(l->pid[i])) {
        kill((pid_t)l->pid[i], SIGCONT);
        kill((pid_t)l->pid[i], SIGTERM);
        if (!wait_gone(l->pid[i], CL_STOP_WAIT_MS)) {
            kill((pid_t)l->pid[i], SIGKILL);
            wait_gone(l->pid[i], 5000);
        }
    }
    pid = spawn(g, l, i);
    if (pid < 0) {
        layout_set_pid(g, l, i, 0);
        return CLI_ERROR;
    }
    if (layout_set_pid(g, l, i, pid) != CLI_OK)
        return CLI_ERROR;
    for (end = mono_ms() + CL_WAIT_MS; mono_ms() < end;) {
        reap();
        if (!alive(l->pid[i])) {
            fprintf(g->err,
                    "cairn: node %u exited during its restart; see `cairn "
                    "cluster logs %u --dir %s`\n",
                    i, i, l->dir);
            return CLI_ERROR;
        }
        if (node_serving(l, i)) {
            fprintf(g->out, "node%u restarted: 127.0.0.1:%u pid %ld\n", i,
                    node_port(l, i), l->pid[i]);
            return CLI_OK;
        }
        sleep_ms(CL_POLL_MS);
    }
    fprintf(g->err, "cairn: node %u did not serve within %d s\n", i,
            CL_WAIT_MS / 1000);
    return CLI_ERROR;
}

static int sub_logs(struct cli *g, const struct layout *l, unsigned i)
{
    char path[PATH_MAX + 32], buf[8192];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/node%u/node.log", l->dir, i);
    f = fopen(path, "r");
    if (!f) {
        fprintf(g->err, "cairn: cannot read %s: %s\n", path, strerror(errno));
        return CLI_ERROR;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, g->out);
    fclose(f);
    return CLI_OK;
}

static int cmd_cluster(struct cli *g, int argc, char **argv)
{
    struct cli_opt opts[] = {
        {"--nodes", 1, NULL},
        {"--dir", 1, NULL},
        {"--base-port", 1, NULL},
    };
    uint32_t nodes = 0, base = CL_DEFAULT_PORT;
    const char *dir;
    struct layout l;
    char *pos[2];
    size_t npos;
    unsigned idx = 0;
    int rc = cli_parse(g, argc, argv, opts, 3, pos, 2, &npos);

    if (rc != 0)
        return rc;
    if (npos == 0)
        return cli_usage(g, argv[0], "a subcommand is needed");
    dir = opts[1].val ? opts[1].val : CL_DEFAULT_DIR;
    if (!strcmp(pos[0], "start")) {
        if (!opts[0].val)
            return cli_usage(g, argv[0], "start needs --nodes N");
        if (cli_u32(g, "--nodes", opts[0].val, &nodes) ||
            (opts[2].val && cli_u32(g, "--base-port", opts[2].val, &base)))
            return CLI_USAGE;
        if (npos > 1)
            return cli_usage(g, argv[0], "start takes no node number");
        return sub_start(g, dir, nodes, base);
    }
    if (strcmp(pos[0], "status") && strcmp(pos[0], "stop") &&
        strcmp(pos[0], "kill") && strcmp(pos[0], "pause") &&
        strcmp(pos[0], "resume") && strcmp(pos[0], "restart") &&
        strcmp(pos[0], "logs"))
        return cli_usage(g, argv[0], "unknown subcommand");
    if ((rc = layout_load(g, dir, &l)) != CLI_OK)
        return rc;
    if (!strcmp(pos[0], "status") || !strcmp(pos[0], "stop")) {
        if (npos > 1)
            return cli_usage(g, argv[0], "no node number is taken");
        if (!strcmp(pos[0], "status"))
            return sub_status(g, &l);
        stop_all(&l);
        return layout_save(g, &l);
    }
    if (npos < 2)
        return cli_usage(g, argv[0], "a node number I is needed");
    if ((rc = parse_node(g, &l, pos[1], &idx)) != CLI_OK)
        return rc;
    if (!strcmp(pos[0], "kill"))
        return sub_signal(g, &l, idx, SIGKILL);
    if (!strcmp(pos[0], "pause"))
        return sub_signal(g, &l, idx, SIGSTOP);
    if (!strcmp(pos[0], "resume"))
        return sub_signal(g, &l, idx, SIGCONT);
    if (!strcmp(pos[0], "restart"))
        return sub_restart(g, &l, idx);
    return sub_logs(g, &l, idx);
}

const struct cli_cmd cli_cluster_cmds[] = {
    {"cluster",
     "start --nodes N [--dir DIR] [--base-port P] | status | stop | kill I | "
     "pause I | resume I | restart I | logs I   (each with --dir DIR)",
     "a local cluster of cairn-server processes on 127.0.0.1", cmd_cluster},
    {NULL, NULL, NULL, NULL},
};
