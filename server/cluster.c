/*
 * cluster.c -- the owner of cluster state (cluster.h): identity, the ring
 * file, gossip on a 1 s timer, schema agreement, snapshot publication.
 *
 * Everything here runs on the cluster thread except cluster_start (before
 * the thread), cluster_wait_ready (main thread, waits on a condition) and
 * the small any-thread setters, which only flip atomics and wake the loop.
 */
#include "server/cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <uv.h>
#include <xxhash.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "ring/gossip.h"
#include "server/clschema.h"

#define CL_TICK_MS      1000
#define CL_WAIT_LOG_MS  5000
#define CL_PULL_GAP_MS  1000
#define CL_LOAD_EVERY   10 /* ticks between load updates */
#define CL_RING_VERSION 1

struct cluster {
    const struct config *cfg;
    struct storage *st;
    struct schema *sc;
    struct ring_host_id self;
    char peer_addr[GOSSIP_ADDR_MAX];
    char path[CONFIG_STR_MAX + 16];

    uv_thread_t thread;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_async_t wake;
    atomic_int stop_req, schema_dirty, draining;

    struct peer *peer;
    struct gossip *g;
    struct gossip_out out;
    struct ring_rand rnd;
    struct clsnap_pub pub;

    int64_t tokens[TOKENS_MAX_NUM];
    size_t ntokens;
    uint64_t generation;
    int alone_ok; /* a seed or --new-cluster: may serve without contact */
    int fresh;    /* first start: no ring file yet */
    int peers_dirty;
    int ticks;
    uint8_t schema_ver[GOSSIP_SCHEMA_LEN];
    int pulled; /* a schema answer was merged */
    int64_t last_pull_ms;
    int64_t last_wait_log_ms;

    uv_mutex_t mu; /* guards the fields below, for cluster_wait_ready */
    uv_cond_t cv;
    int ready, failed;
    char fail_msg[1024];
};

static int64_t now_ms(void)
{
    return clk_mono_ns(clk_system()) / 1000000;
}

static uint64_t sys_rand(void *ctx)
{
    uint64_t v = 0;

    (void)ctx;
    if (getrandom(&v, sizeof(v), 0) != sizeof(v))
        v = (uint64_t)clk_mono_ns(clk_system()) * 0x9e3779b97f4a7c15ull;
    return v;
}

/* ---- the ring file ---- */

static int parse_id(const char *s, struct ring_host_id *id)
{
    size_t k = 0;

    for (; *s && k < 32; s++) {
        int v;
        if (*s == '-')
            continue;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else
            return -EINVAL;
        if (k % 2 == 0)
            id->b[k / 2] = (uint8_t)(v << 4);
        else
            id->b[k / 2] |= (uint8_t)v;
        k++;
    }
    return k == 32 && *s == '\0' ? 0 : -EINVAL;
}

static void put_tokens(FILE *f, const int64_t *t, size_t n)
{
    fprintf(f, " %zu", n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %" PRId64, t[i]);
}

/* ring_save -- our tokens, generation and known peers, atomically. */
static int ring_save(struct cluster *c)
{
    char tmp[sizeof(c->path) + 8], ids[40];
    FILE *f;
    int fd, rc = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", c->path);
    f = fopen(tmp, "we");
    if (!f)
        return err_set(-errno, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "cairn-ring %d\ngeneration %" PRIu64 "\ntokens", CL_RING_VERSION,
            c->generation);
    put_tokens(f, c->tokens, c->ntokens);
    fputc('\n', f);
    for (size_t i = 0; c->g && i < gossip_count(c->g); i++) {
        const struct gossip_endpoint *e = gossip_endpoint_at(c->g, i);
        if (ring_host_id_eq(&e->id, &c->self) || !e->address[0] ||
            e->status == GOSSIP_STATUS_LEFT ||
            e->status == GOSSIP_STATUS_REMOVED)
            continue;
        fprintf(f, "peer %s %" PRIu64 " %d %s %s",
                ring_host_id_str(&e->id, ids), e->generation, (int)e->status,
                e->address, e->rack[0] ? e->rack : "-");
        put_tokens(f, e->tokens, e->ntokens);
        fputc('\n', f);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) < 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, c->path) < 0)
        rc = -errno;
    if (rc == 0 && (fd = open(c->cfg->data_dir, O_RDONLY | O_DIRECTORY)) >= 0) {
        if (fsync(fd) < 0)
            rc = -errno;
        close(fd);
    }
    return rc ? err_set(rc, "cannot write %s: %s", c->path, strerror(-rc)) : 0;
}

static int read_tokens(FILE *f, int64_t *t, size_t cap, size_t *n)
{
    size_t cnt;

    if (fscanf(f, "%zu", &cnt) != 1 || cnt > cap)
        return -EINVAL;
    for (size_t i = 0; i < cnt; i++)
        if (fscanf(f, "%" SCNd64, &t[i]) != 1)
            return -EINVAL;
    *n = cnt;
    return 0;
}

/* ring_load_peers -- the "peer" lines, into gossip as unreachable peers. */
static int ring_load_peers(struct cluster *c, FILE *f)
{
    char word[16], ids[64], addr[GOSSIP_ADDR_MAX], rack[TOKENS_RACK_MAX];
    int64_t *t = mem_alloc(MEM_SERVER, TOKENS_MAX_NUM * sizeof(*t));
    struct ring_host_id id;
    uint64_t gen;
    int st, rc = 0;
    size_t n;

    if (!t)
        return -ENOMEM;
    while (rc == 0 && fscanf(f, "%15s", word) == 1) {
        if (strcmp(word, "peer") != 0 ||
            fscanf(f, "%63s %" SCNu64 " %d %63s %63s", ids, &gen, &st, addr,
                   rack) != 5 ||
            parse_id(ids, &id) < 0 || st < 0 || st >= GOSSIP_STATUS_COUNT ||
            read_tokens(f, t, TOKENS_MAX_NUM, &n) < 0) {
            rc = -EINVAL;
            break;
        }
        rc = gossip_add_peer(c->g, &id, gen, (enum gossip_status)st, addr,
                             strcmp(rack, "-") ? rack : "", t, n);
        if (rc == 0)
            log_info("cluster", "saved peer host_id=%s addr=%s", ids, addr);
    }
    mem_free(t);
    return rc;
}

/*
 * ring_load -- our tokens and generation from the ring file; *fresh when
 * there is none (first start). The file stays open in *fp for the peers.
 */
static int ring_load(struct cluster *c, int *fresh, FILE **fp)
{
    FILE *f = fopen(c->path, "re");
    int ver;

    *fp = NULL;
    *fresh = 0;
    if (!f) {
        if (errno != ENOENT)
            return err_set(-errno, "cannot read %s: %s", c->path,
                           strerror(errno));
        *fresh = 1;
        return 0;
    }
    if (fscanf(f, "cairn-ring %d generation %" SCNu64 " tokens", &ver,
               &c->generation) != 2 ||
        ver != CL_RING_VERSION ||
        read_tokens(f, c->tokens, TOKENS_MAX_NUM, &c->ntokens) < 0 ||
        c->ntokens == 0) {
        fclose(f);
        return err_set(CAIRN_ECORRUPT,
                       "ring file %s is damaged; it holds this node's "
                       "tokens: restore it from a backup",
                       c->path);
    }
    *fp = f;
    return 0;
}

/* ---- snapshots ---- */

/* client_addr -- the base (client) address of a peer address. */
static void client_addr(const char *peer, char *out, size_t cap)
{
    const char *colon = strrchr(peer, ':');

    if (!colon) {
        snprintf(out, cap, "%s", peer);
        return;
    }
    snprintf(out, cap, "%.*s:%d", (int)(colon - peer), peer,
             atoi(colon + 1) - 1);
}

static void fill_node(struct cluster *c, const struct gossip_endpoint *e,
                      struct clsnap_node *n)
{
    n->id = e->id;
    snprintf(n->peer_address, sizeof(n->peer_address), "%s", e->address);
    client_addr(e->address, n->address, sizeof(n->address));
    n->alive = e->alive || ring_host_id_eq(&e->id, &c->self);
    n->status = e->status;
    n->load = e->load;
    n->ntokens = e->ntokens;
    n->generation = e->generation;
    n->heartbeat = e->heartbeat;
    snprintf(n->rack, sizeof(n->rack), "%s", e->rack);
    memcpy(n->schema, e->schema, GOSSIP_SCHEMA_LEN);
}

static void publish(struct cluster *c)
{
    struct clsnap *s = clsnap_new();
    size_t n = gossip_count(c->g);
    int agreed = 1;

    if (!s)
        return;
    s->self = c->self;
    if (gossip_build_ring(c->g, &s->ring) < 0)
        s->ring = NULL;
    s->nodes = mem_calloc(MEM_SERVER, n ? n : 1, sizeof(*s->nodes));
    if (!s->nodes) {
        clsnap_put(s);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gossip_endpoint *e = gossip_endpoint_at(c->g, i);
        if (e->status == GOSSIP_STATUS_LEFT ||
            e->status == GOSSIP_STATUS_REMOVED || e->addr_stale)
            continue;
        fill_node(c, e, &s->nodes[s->nnodes]);
        if (s->nodes[s->nnodes].alive &&
            memcmp(e->schema, c->schema_ver, GOSSIP_SCHEMA_LEN) != 0)
            agreed = 0;
        s->nnodes++;
    }
    memcpy(s->schema_version, c->schema_ver, GOSSIP_SCHEMA_LEN);
    s->schema_agreed = agreed;
    uv_mutex_lock(&c->mu);
    s->serving = c->ready && !atomic_load(&c->draining);
    uv_mutex_unlock(&c->mu);
    if (schema_list_keyspaces(c->sc, &s->keyspaces, &s->nkeyspaces) < 0) {
        s->keyspaces = NULL;
        s->nkeyspaces = 0;
    }
    clsnap_publish(&c->pub, s);
}

/* ---- gossip output ---- */

static void send_frames(struct cluster *c)
{
    for (size_t i = 0; i < c->out.nmsgs; i++) {
        const struct gossip_msg *gm = &c->out.msgs[i];
        Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;

        m.body_case = CAIRN__PEER_MESSAGE__BODY_GOSSIP;
        m.gossip.data = gm->data;
        m.gossip.len = gm->len;
        peer_send_addr(c->peer, gm->addr, gm->to_known ? &gm->to : NULL, &m,
                       NULL, NULL);
    }
}

static void fail_start(struct cluster *c, const char *msg)
{
    uv_mutex_lock(&c->mu);
    if (!c->failed && !c->ready) {
        c->failed = 1;
        snprintf(c->fail_msg, sizeof(c->fail_msg), "%s", msg);
    }
    uv_cond_broadcast(&c->cv);
    uv_mutex_unlock(&c->mu);
}

/* seeds_text -- the configured seeds, for messages. */
static void seeds_text(const struct cluster *c, char *out, size_t cap)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < c->cfg->nseeds && used < cap; i++)
        used +=
            (size_t)snprintf(out + used, cap - used, "%s%s:%u", i ? "," : "",
                             c->cfg->seeds[i].host, c->cfg->seeds[i].port);
    if (!c->cfg->nseeds)
        snprintf(out, cap, "(none)");
}

static void on_event(struct cluster *c, const struct gossip_event *ev)
{
    const struct gossip_endpoint *e = gossip_find(c->g, &ev->id);
    char ids[40], seeds[512], msg[1024];

    ring_host_id_str(&ev->id, ids);
    switch (ev->kind) {
    case GOSSIP_EV_JOIN:
    case GOSSIP_EV_RESTART:
    case GOSSIP_EV_ADDRESS:
        if (e && e->address[0] && !ring_host_id_eq(&ev->id, &c->self))
            peer_set_address(c->peer, &ev->id, e->address);
        if (ev->kind != GOSSIP_EV_ADDRESS || ev->addr[0])
            log_info("cluster", "peer %s host_id=%s addr=%s%s%s",
                     ev->kind == GOSSIP_EV_JOIN      ? "joined"
                     : ev->kind == GOSSIP_EV_RESTART ? "restarted"
                                                     : "moved",
                     ids, e ? e->address : "?", ev->addr[0] ? " from=" : "",
                     ev->addr);
        c->peers_dirty = 1;
        break;
    case GOSSIP_EV_UP:
        log_info("cluster", "peer up host_id=%s addr=%s", ids,
                 e ? e->address : "?");
        break;
    case GOSSIP_EV_DOWN:
        log_warn("cluster", "peer down host_id=%s addr=%s phi=%.1f", ids,
                 e ? e->address : "?", ev->phi);
        break;
    case GOSSIP_EV_CHANGE:
    case GOSSIP_EV_EVICT:
        c->peers_dirty = 1;
        break;
    case GOSSIP_EV_SCHEMA:
        clschema_maybe_pull(c->peer, &ev->id, now_ms(), &c->last_pull_ms,
                            CL_PULL_GAP_MS);
        break;
    case GOSSIP_EV_REJECT:
        log_debug("cluster", "gossip frame refused from=%s code=%d", ev->addr,
                  ev->code);
        break;
    case GOSSIP_EV_NO_SEED:
        seeds_text(c, seeds, sizeof(seeds));
        snprintf(msg, sizeof(msg),
                 "no reachable seed: none of the seeds %s answered and this "
                 "new node knows no peer; start a seed first, fix --seeds, "
                 "or start a new cluster with --new-cluster",
                 seeds);
        fail_start(c, msg);
        break;
    }
}

static void handle_out(struct cluster *c)
{
    send_frames(c);
    for (size_t i = 0; i < c->out.nevents; i++)
        on_event(c, &c->out.events[i]);
    gossip_out_reset(&c->out);
}

/* ---- readiness ---- */

static void log_waiting(struct cluster *c, int64_t now)
{
    char seeds[512], peers[1024], ids[40];
    size_t used = 0;

    if (now - c->last_wait_log_ms < CL_WAIT_LOG_MS)
        return;
    c->last_wait_log_ms = now;
    seeds_text(c, seeds, sizeof(seeds));
    peers[0] = '\0';
    for (size_t i = 0; i < gossip_count(c->g) && used < sizeof(peers); i++) {
        const struct gossip_endpoint *e = gossip_endpoint_at(c->g, i);
        if (ring_host_id_eq(&e->id, &c->self))
            continue;
        used += (size_t)snprintf(peers + used, sizeof(peers) - used, "%s%s@%s",
                                 used ? "," : "", ring_host_id_str(&e->id, ids),
                                 e->address);
    }
    log_info("cluster", "waiting for a live peer: tried seeds=%s peers=%s",
             seeds, used ? peers : "(none)");
}

/* schema_settled -- no live peer has another schema, or we pulled one. */
static int schema_settled(struct cluster *c)
{
    if (c->pulled)
        return 1;
    for (size_t i = 0; i < gossip_count(c->g); i++) {
        const struct gossip_endpoint *e = gossip_endpoint_at(c->g, i);
        if (e->alive && !ring_host_id_eq(&e->id, &c->self) &&
            memcmp(e->schema, c->schema_ver, GOSSIP_SCHEMA_LEN) != 0)
            return 0;
    }
    return 1;
}

static void check_ready(struct cluster *c, int64_t now)
{
    int ready;

    uv_mutex_lock(&c->mu);
    ready = c->ready || c->failed;
    uv_mutex_unlock(&c->mu);
    if (ready)
        return;
    if (gossip_contacted(c->g)) {
        if (!schema_settled(c))
            return;
    } else if (!c->alone_ok) {
        log_waiting(c, now);
        return;
    }
    if (gossip_self(c->g)->status != GOSSIP_STATUS_NORMAL)
        gossip_set_status(c->g, GOSSIP_STATUS_NORMAL);
    log_info("cluster", "joined the ring: status normal, %zu tokens%s",
             c->ntokens,
             gossip_contacted(c->g) ? "" : " (alone: no peer answered yet)");
    uv_mutex_lock(&c->mu);
    c->ready = 1;
    uv_cond_broadcast(&c->cv);
    uv_mutex_unlock(&c->mu);
}

/* ---- the loop ---- */

static void refresh_schema(struct cluster *c)
{
    uint8_t v[GOSSIP_SCHEMA_LEN];

    if (clschema_version(c->sc, v) < 0 ||
        memcmp(v, c->schema_ver, GOSSIP_SCHEMA_LEN) == 0)
        return;
    memcpy(c->schema_ver, v, GOSSIP_SCHEMA_LEN);
    gossip_set_schema(c->g, v);
}

static void refresh_load(struct cluster *c)
{
    struct storage_stats s;

    if (storage_get_stats(c->st, 0, &s) == 0)
        gossip_set_load(c->g, s.sstable_bytes + s.commitlog_bytes);
}

static void shut(struct cluster *c)
{
    uv_timer_stop(&c->tick);
    uv_close((uv_handle_t *)&c->tick, NULL);
    uv_close((uv_handle_t *)&c->wake, NULL);
    peer_close(c->peer);
}

/*
 * pull_if_behind -- gossip reports a differing schema once, when it
 * learns of it; a pull lost or held back by the rate limit would then
 * never be retried. So every tick pulls from a live peer (a different one
 * each tick) whose version still differs from ours.
 */
static void pull_if_behind(struct cluster *c, int64_t now)
{
    size_t n = gossip_count(c->g), k = 0, pick;
    const struct gossip_endpoint *e;

    for (size_t i = 0; i < n; i++) {
        e = gossip_endpoint_at(c->g, i);
        if (e->alive && !ring_host_id_eq(&e->id, &c->self) &&
            memcmp(e->schema, c->schema_ver, GOSSIP_SCHEMA_LEN) != 0)
            k++;
    }
    if (k == 0)
        return;
    pick = (size_t)c->ticks % k;
    for (size_t i = 0; i < n; i++) {
        e = gossip_endpoint_at(c->g, i);
        if (!e->alive || ring_host_id_eq(&e->id, &c->self) ||
            memcmp(e->schema, c->schema_ver, GOSSIP_SCHEMA_LEN) == 0)
            continue;
        if (pick-- == 0) {
            clschema_maybe_pull(c->peer, &e->id, now, &c->last_pull_ms,
                                CL_PULL_GAP_MS);
            return;
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    struct cluster *c = t->data;
    int64_t now = now_ms();

    if (atomic_load(&c->stop_req)) {
        shut(c);
        return;
    }
    atomic_store(&c->schema_dirty, 0);
    refresh_schema(c);
    if (c->ticks++ % CL_LOAD_EVERY == 0)
        refresh_load(c);
    gossip_tick(c->g, now, &c->rnd, &c->out);
    handle_out(c);
    pull_if_behind(c, now);
    check_ready(c, now);
    if (c->peers_dirty && ring_save(c) == 0)
        c->peers_dirty = 0;
    publish(c);
}

static void on_wake(uv_async_t *a)
{
    struct cluster *c = a->data;

    if (atomic_load(&c->stop_req)) {
        shut(c);
        return;
    }
    if (atomic_load(&c->schema_dirty)) {
        atomic_store(&c->schema_dirty, 0);
        refresh_schema(c);
    }
    publish(c);
}

static void on_gossip(struct peer *p, const struct ring_host_id *from,
                      const Cairn__PeerMessage *m, void *arg)
{
    struct cluster *c = arg;
    int64_t now = now_ms();

    (void)p;
    (void)from;
    if (gossip_recv(c->g, now, m->gossip.data, m->gossip.len, &c->out) < 0)
        log_debug("cluster", "gossip frame dropped: %s", err_msg());
    if (c->out.nmsgs || c->out.nevents) {
        handle_out(c);
        check_ready(c, now);
        publish(c);
    }
}

static void on_schema_merged(void *arg)
{
    struct cluster *c = arg;

    c->pulled = 1;
    refresh_schema(c);
    check_ready(c, now_ms());
    publish(c);
}

static void cl_thread(void *arg)
{
    struct cluster *c = arg;

    uv_run(&c->loop, UV_RUN_DEFAULT);
}

/* ---- start and stop ---- */

static int is_self_seed(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nseeds; i++)
        if (cfg->seeds[i].port == cfg->port &&
            strcmp(cfg->seeds[i].host, cfg->listen_address) == 0)
            return 1;
    return 0;
}

static int make_gossip(struct cluster *c, int64_t now)
{
    struct gossip_config gc;

    gossip_config_default(&gc);
    gc.self = c->self;
    snprintf(gc.cluster, sizeof(gc.cluster), "%.63s", c->cfg->cluster_name);
    snprintf(gc.address, sizeof(gc.address), "%s", c->peer_addr);
    for (size_t i = 0; i < c->cfg->nseeds && i < GOSSIP_MAX_SEEDS; i++)
        snprintf(gc.seeds[gc.nseeds++], GOSSIP_ADDR_MAX, "%.50s:%u",
                 c->cfg->seeds[i].host, c->cfg->seeds[i].port + 1);
    gc.generation = c->generation;
    gc.interval_ms = CL_TICK_MS;
    gc.seed_timeout_ms = c->cfg->seed_timeout_ms;
    gc.new_cluster = c->alone_ok;
    return gossip_new(&gc, now, &c->g);
}

/* identity -- tokens and generation: loaded, or picked on first start. */
static int identity(struct cluster *c, FILE **fp)
{
    uint64_t gen = (uint64_t)(clk_wall_us(clk_system()) / 1000000);
    int fresh, rc = ring_load(c, &fresh, fp);

    if (rc < 0)
        return rc;
    c->fresh = fresh;
    if (fresh) {
        c->ntokens = c->cfg->num_tokens;
        rc = tokens_pick(&c->rnd, NULL, c->ntokens, c->tokens);
        if (rc < 0)
            return err_set(rc, "cannot pick %zu tokens", c->ntokens);
        log_info("cluster", "first start: picked %zu tokens", c->ntokens);
    }
    c->generation = gen > c->generation ? gen : c->generation + 1;
    return 0;
}

static int cl_open(struct cluster *c)
{
    struct peer_config pc;
    FILE *f = NULL;
    int rc = identity(c, &f);

    if (rc == 0)
        rc = make_gossip(c, now_ms());
    if (rc == 0)
        rc = gossip_set_tokens(c->g, c->tokens, c->ntokens);
    /* A new node joins; a restarted one keeps its ranges (NORMAL at once,
     * as Cassandra does), so its peers see no ownership change. */
    if (rc == 0)
        rc = gossip_set_status(c->g, c->fresh ? GOSSIP_STATUS_JOINING
                                              : GOSSIP_STATUS_NORMAL);
    if (rc == 0 && f)
        rc = ring_load_peers(c, f);
    if (f)
        fclose(f);
    if (rc == -EINVAL)
        rc = err_set(CAIRN_ECORRUPT, "ring file %s is damaged", c->path);
    if (rc == 0)
        rc = ring_save(c); /* the new generation is durable before use */
    if (rc < 0)
        return rc;
    memset(&pc, 0, sizeof(pc));
    snprintf(pc.cluster, sizeof(pc.cluster), "%s", c->cfg->cluster_name);
    snprintf(pc.listen_host, sizeof(pc.listen_host), "%s",
             c->cfg->listen_address);
    pc.port = (uint16_t)(c->cfg->port + 1);
    snprintf(pc.self_addr, sizeof(pc.self_addr), "%s", c->peer_addr);
    pc.self = c->self;
    pc.max_frame = c->cfg->max_frame_bytes;
    return peer_start(&c->loop, &pc, &c->peer);
}

static void cl_free(struct cluster *c)
{
    gossip_free(c->g);
    gossip_out_free(&c->out);
    peer_free(c->peer);
    uv_mutex_destroy(&c->mu);
    uv_cond_destroy(&c->cv);
    mem_free(c);
}

int cluster_start(const struct config *cfg, struct storage *st,
                  struct schema *sc, const uint8_t host_id[16],
                  struct cluster **out)
{
    struct cluster *c = mem_calloc(MEM_SERVER, 1, sizeof(*c));
    int rc;

    if (!c)
        return -ENOMEM;
    c->cfg = cfg;
    c->st = st;
    c->sc = sc;
    memcpy(c->self.b, host_id, 16);
    c->rnd.next = sys_rand;
    /* No seeds at all: a one-node cluster, its own seed (Cassandra's
     * default seeds list is the node itself). */
    c->alone_ok = cfg->new_cluster || cfg->nseeds == 0 || is_self_seed(cfg);
    snprintf(c->peer_addr, sizeof(c->peer_addr), "%.40s:%u",
             cfg->listen_address, cfg->port + 1);
    snprintf(c->path, sizeof(c->path), "%s/ring", cfg->data_dir);
    uv_mutex_init(&c->mu);
    uv_cond_init(&c->cv);
    gossip_out_init(&c->out);
    uv_loop_init(&c->loop);
    rc = cl_open(c);
    if (rc < 0) {
        uv_loop_close(&c->loop);
        c->peer = NULL;
        cl_free(c);
        return rc;
    }
    clschema_register(c->peer, c->sc, c->st, on_schema_merged, c);
    peer_on(c->peer, CAIRN__PEER_MESSAGE__BODY_GOSSIP, on_gossip, c);
    refresh_schema(c);
    publish(c);
    uv_timer_init(&c->loop, &c->tick);
    uv_async_init(&c->loop, &c->wake, on_wake);
    c->tick.data = c->wake.data = c;
    uv_timer_start(&c->tick, on_tick, 0, CL_TICK_MS);
    uv_thread_create(&c->thread, cl_thread, c);
    *out = c;
    return 0;
}

int cluster_wait_ready(struct cluster *c, volatile int *stop)
{
    int rc = 0;

    uv_mutex_lock(&c->mu);
    while (!c->ready && !c->failed && !*stop)
        uv_cond_timedwait(&c->cv, &c->mu, 100 * 1000000ull);
    if (c->failed)
        rc = err_set(CAIRN_EUNAVAILABLE, "%s", c->fail_msg);
    else if (!c->ready)
        rc = CAIRN_ECLOSED;
    uv_mutex_unlock(&c->mu);
    if (rc == 0)
        uv_async_send(&c->wake); /* publish serving = true */
    return rc;
}

struct clsnap_pub *cluster_pub(struct cluster *c)
{
    return &c->pub;
}

struct peer *cluster_peer(struct cluster *c)
{
    return c->peer;
}

void cluster_schema_changed(struct cluster *c)
{
    atomic_store(&c->schema_dirty, 1);
    uv_async_send(&c->wake);
}

void cluster_set_draining(struct cluster *c)
{
    atomic_store(&c->draining, 1);
    uv_async_send(&c->wake);
}

void cluster_stop(struct cluster *c)
{
    if (!c)
        return;
    atomic_store(&c->stop_req, 1);
    uv_async_send(&c->wake);
    uv_thread_join(&c->thread);
    uv_loop_close(&c->loop);
    clsnap_retire(&c->pub);
    cl_free(c);
}
