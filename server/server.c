/*
 * server.c -- startup, signal handling and shutdown (server.h).
 *
 * Order matters. The HTTP port opens first so monitoring sees "starting"
 * during commit log replay; the client port opens only after replay and
 * the schema agree, so no client can read older state than it was
 * acknowledged. On SIGTERM the loops drain before the engine flushes, so
 * every acknowledged write is in a memtable when the flush begins.
 */
#include "server/server.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/cluster.h"
#include "server/http.h"
#include "server/loop.h"
#include "server/metrics.h"
#include "server/node.h"
#include "server/schema.h"

struct srv {
    const struct config *cfg;
    struct http *http;
    struct storage *st;
    struct schema *sc;
    struct node *node;
    struct cluster *cluster;
    struct srv_loops *loops;
    uint8_t host_id[16];
    uv_loop_t main;
    uv_signal_t sigterm, sigint;
    uv_timer_t poll;
    int64_t drain_start_ns; /* when the first signal came */
    int forced;
};

/* srv_mkdirs -- mkdir -p; 0 or -errno. */
static int srv_mkdirs(const char *path)
{
    char p[CONFIG_STR_MAX];

    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* srv_host_id -- read <data_dir>/host_id, or make and store a new one. */
static int srv_host_id(const char *dir, uint8_t id[16])
{
    char path[CONFIG_STR_MAX + 16], tmp[CONFIG_STR_MAX + 16];
    int fd, rc = 0;

    snprintf(path, sizeof(path), "%s/host_id", dir);
    snprintf(tmp, sizeof(tmp), "%s/host_id.tmp", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        rc = pread(fd, id, 16, 0) == 16 ? 0 : -EIO;
        close(fd);
        return rc ? err_set(CAIRN_ECORRUPT,
                            "host id file %s is damaged; "
                            "remove it only if this node's data is gone",
                            path)
                  : 0;
    }
    if (getrandom(id, 16, 0) != 16)
        return err_set(-EIO, "no random bytes for a host id");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, id, 16) != 16 || fsync(fd) < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
        if (fsync(fd) < 0)
            rc = -errno;
        close(fd);
    }
    return rc ? err_set(rc, "cannot write %s: %s", path, strerror(-rc)) : 0;
}

static void srv_storage_options(const struct config *c,
                                struct storage_options *o)
{
    storage_options_default(o);
    o->dir = c->data_dir;
    o->commitlog_dir = c->commitlog_dir[0] ? c->commitlog_dir : NULL;
    o->sync = c->sync;
    o->sync_period_ms = c->sync_period_ms;
    o->memtable_bytes = (size_t)c->memtable_mb << 20;
    o->memtable_total_bytes = (size_t)c->memtable_total_mb << 20;
    o->cache_bytes = (size_t)c->cache_mb << 20;
    o->segment_bytes = (size_t)c->segment_mb << 20;
    o->compaction_threads = (int)c->compactors;
    o->quarantine_corrupt_log = c->quarantine_corrupt_log;
}

/* srv_open_hint -- what an operator can do about a failed open. */
static const char *srv_open_hint(int rc)
{
    switch (rc) {
    case -EBUSY:
        return "another cairn-server uses this data_dir: stop it or pick "
               "another --data-dir";
    case CAIRN_ECORRUPT:
        return "restore the named file, or start with "
               "--quarantine-corrupt-log to set a damaged commit log "
               "segment aside";
    case -ENOSPC:
        return "free disk space and start again";
    case -EACCES:
    case -EPERM:
        return "check the permissions of data_dir and commitlog_dir";
    default:
        return "check the disk and the paths";
    }
}

/* srv_open -- engine, schema, node; logs and returns <0 on failure. */
static int srv_open(struct srv *s)
{
    struct storage_options o;
    int rc;

    if ((rc = srv_mkdirs(s->cfg->data_dir)) < 0) {
        log_error("server",
                  "cannot create data_dir %s: %s; check the path "
                  "and permissions",
                  s->cfg->data_dir, strerror(-rc));
        return rc;
    }
    srv_storage_options(s->cfg, &o);
    log_info("server",
             "opening storage data_dir=%s (replaying the commit "
             "log)",
             s->cfg->data_dir);
    rc = storage_open(&o, &s->st);
    if (rc < 0) {
        log_error("server", "cannot open storage: %s (%s); %s", err_msg(),
                  err_name(rc), srv_open_hint(rc));
        return rc;
    }
    rc = schema_open(s->cfg->data_dir, &s->sc);
    if (rc == 0)
        rc = srv_host_id(s->cfg->data_dir, s->host_id);
    if (rc == 0)
        rc = node_create(s->cfg, s->st, s->sc, &s->node);
    if (rc < 0)
        log_error("server", "cannot load the schema: %s (%s)", err_msg(),
                  err_name(rc));
    return rc;
}

/* srv_close -- flush and close what srv_open opened; 0 when clean. */
static int srv_close(struct srv *s)
{
    int rc = 0;

    if (s->http)
        http_set_sources(s->http, NULL, NULL);
    if (s->st) {
        rc = storage_flush(s->st, 0);
        if (rc < 0)
            log_error("server",
                      "flush at shutdown failed: %s (%s); the "
                      "commit log still holds the data, it replays at the "
                      "next start",
                      err_msg(), err_name(rc));
    }
    cluster_stop(s->cluster);
    s->cluster = NULL;
    node_destroy(s->node);
    storage_close(s->st);
    schema_close(s->sc);
    s->node = NULL;
    s->st = NULL;
    s->sc = NULL;
    return rc;
}

static void srv_second_signal(int sig)
{
    static const char msg[] = "cairn-server: second signal, exiting now "
                              "without a clean shutdown\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);

    (void)w;
    (void)sig;
    _exit(1);
}

static void srv_on_poll(uv_timer_t *t)
{
    struct srv *s = t->data;

    if (!srvloop_finished(s->loops)) {
        int64_t waited = clk_mono_ns(clk_system()) - s->drain_start_ns;
        if (!s->forced &&
            waited > (int64_t)s->cfg->drain_timeout_ms * 1000000) {
            s->forced = 1;
            srvloop_force(s->loops);
        }
        return;
    }
    uv_close((uv_handle_t *)&s->poll, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

/* A signal that came while the engine was opening, before libuv's. */
static volatile sig_atomic_t srv_early_signal;

static void srv_note_signal(int sig)
{
    srv_early_signal = sig;
}

static void srv_catch_early(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = srv_note_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static void srv_on_signal(uv_signal_t *h, int sig)
{
    struct srv *s = h->data;
    struct sigaction sa;

    log_info("server",
             "received %s: draining (a second signal exits at "
             "once)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = srv_second_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    http_set_state(s->http, HTTP_DRAINING);
    s->drain_start_ns = clk_mono_ns(clk_system());
    srvloop_drain(s->loops);
    uv_timer_start(&s->poll, srv_on_poll, 10, 10);
}

/* srv_wait -- run the main loop until a signal has drained the loops. */
static void srv_wait(struct srv *s)
{
    uv_loop_init(&s->main);
    uv_signal_init(&s->main, &s->sigterm);
    uv_signal_init(&s->main, &s->sigint);
    uv_timer_init(&s->main, &s->poll);
    s->sigterm.data = s->sigint.data = s->poll.data = s;
    uv_signal_start(&s->sigterm, srv_on_signal, SIGTERM);
    uv_signal_start(&s->sigint, srv_on_signal, SIGINT);
    if (srv_early_signal)
        srv_on_signal(&s->sigterm, srv_early_signal); /* during startup */
    uv_run(&s->main, UV_RUN_DEFAULT);
    uv_loop_close(&s->main);
}

static void srv_log_start(const struct srv *s)
{
    const struct config *c = s->cfg;
    static const char *const sync[] = {"group", "periodic", "none"};

    log_info("server",
             "serving cluster=%s clients=%s:%u http=%s:%u data_dir=%s "
             "loops=%d sync=%s (peer port %u is reserved for the ring)",
             c->cluster_name, c->listen_address, c->port, c->listen_address,
             c->port + 2, c->data_dir, s->loops->n, sync[c->sync], c->port + 1);
}

/*
 * srv_join -- start the cluster side (peer port, gossip) and wait until
 * this node may serve: it met a peer and holds the agreed schema, or it
 * may run alone. The client port opens only after.
 */
static int srv_join(struct srv *s)
{
    int rc = cluster_start(s->cfg, s->st, s->sc, s->host_id, &s->cluster);

    if (rc < 0) {
        log_error("server", "cannot start the cluster side: %s (%s)", err_msg(),
                  err_name(rc));
        return rc;
    }
    node_set_cluster(s->node, s->cluster);
    rc = cluster_wait_ready(s->cluster, (volatile int *)&srv_early_signal);
    if (rc == CAIRN_EUNAVAILABLE)
        log_error("server", "%s", err_msg());
    else if (rc < 0)
        log_error("server", "stopped by a signal before joining the ring");
    return rc;
}

int server_run(const struct config *cfg)
{
    struct srv s;
    char node[300];
    int rc;

    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    snprintf(node, sizeof(node), "%s:%u", cfg->listen_address, cfg->port);
    log_set_node(node);
    signal(SIGPIPE, SIG_IGN);
    srv_catch_early();
    metrics_init();
    rc = http_start(cfg->listen_address, (uint16_t)(cfg->port + 2), &s.http);
    if (rc < 0) {
        log_error("server", "%s", err_msg());
        return 1;
    }
    rc = srv_open(&s);
    if (rc == 0)
        rc = srv_join(&s);
    if (rc == 0) {
        http_set_sources(s.http, s.st, s.sc);
        /* Serving from the moment the port can accept a connection. */
        http_set_state(s.http, HTTP_SERVING);
        rc = srvloop_start(cfg, s.node, s.host_id, &s.loops);
        if (rc < 0)
            log_error("server", "%s", err_msg());
    }
    if (rc < 0) {
        http_set_state(s.http, HTTP_DRAINING);
        srv_close(&s);
        http_stop(s.http);
        return 1;
    }
    srv_log_start(&s);
    srv_wait(&s);
    srvloop_free(s.loops);
    rc = srv_close(&s);
    http_stop(s.http);
    log_info("server", "stopped%s", rc ? " with errors" : " cleanly");
    return rc ? 1 : 0;
}
