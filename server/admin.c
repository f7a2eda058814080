/*
 * admin.c -- operator requests (admin.h).
 *
 * The views (status, ring, info, describe_ring, gossipinfo) are built
 * from one cluster snapshot, so every line of an answer describes the
 * same moment. Ownership ("owns") is the share of the ring a node holds
 * as primary replica (replication factor 1), or at the keyspace's
 * replication factor when one is named, as nodetool does.
 */
#include "server/admin.h"
#include "server/repair.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/clsnap.h"
#include "server/cluster.h"
#include "server/loop.h"
#include "server/node.h"

/* Growing text, appended with printf formats; `bad` once out of memory */
struct out {
    struct buf b;
    int bad;
};

static void outf(struct out *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    if (buf_append(&o->b, tmp, (size_t)n) < 0)
        o->bad = 1;
}

static char *out_take(struct out *o)
{
    char *s;

    if (o->bad || buf_append(&o->b, "", 1) < 0) {
        buf_free(&o->b);
        return NULL;
    }
    s = mem_strdup(MEM_SERVER, (const char *)o->b.data);
    buf_free(&o->b);
    return s;
}

static const char *status_word(const struct clsnap_node *n)
{
    return n->alive ? "up" : "down";
}

static const char *state_word(const struct clsnap_node *n)
{
    return n->status == GOSSIP_STATUS_NONE ? "starting"
                                           : gossip_status_name(n->status);
}

static void human_bytes(uint64_t b, char *out, size_t cap)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;

    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, cap, "%" PRIu64 " B", b);
    else
        snprintf(out, cap, "%.2f %s", v, u[i]);
}

/* owns -- each snapshot node's share of the ring at `rf` (0 if none). */
static double *owns(const struct clsnap *s, size_t rf)
{
    double *o = mem_calloc(MEM_SERVER, s->nnodes + 1, sizeof(*o));
    size_t rn = s->ring ? tokens_snap_node_count(s->ring) : 0;
    double *ro;

    if (!o || rn == 0)
        return o;
    ro = mem_calloc(MEM_SERVER, rn, sizeof(*ro));
    if (ro && tokens_snap_ownership(s->ring, rf, ro) == 0) {
        for (size_t i = 0; i < s->nnodes; i++) {
            long k = tokens_snap_find(s->ring, &s->nodes[i].id);
            o[i] = k >= 0 ? ro[k] : 0;
        }
    }
    mem_free(ro);
    return o;
}

static void render_status(const struct clsnap *s, size_t rf, struct out *j,
                          struct out *t)
{
    double *ow = owns(s, rf);
    char ids[40], load[32];

    outf(t, "Datacenter: datacenter1\n=======================\n"
            "Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n");
    outf(t, "--  %-21s  %-10s  %-6s  %-7s  %-36s  %s\n", "Address", "Load",
         "Tokens", "Owns", "Host ID", "Rack");
    outf(j, "[");
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct clsnap_node *n = &s->nodes[i];
        double o = ow ? ow[i] : 0;
        ring_host_id_str(&n->id, ids);
        human_bytes(n->load, load, sizeof(load));
        outf(t, "%c%c  %-21s  %-10s  %-6zu  %5.1f%%  %-36s  %s\n",
             n->alive ? 'U' : 'D', (char)(state_word(n)[0] - 32), n->address,
             load, n->ntokens, o * 100, ids, n->rack[0] ? n->rack : "rack1");
        outf(j,
             "%s{\"host_id\":\"%s\",\"address\":\"%s\",\"status\":\"%s\","
             "\"state\":\"%s\",\"load_bytes\":%" PRIu64 ",\"tokens\":%zu,"
             "\"owns\":%.6f,\"rack\":\"%s\"}",
             i ? "," : "", ids, n->address, status_word(n), state_word(n),
             n->load, n->ntokens, o, n->rack);
    }
    outf(j, "]");
    mem_free(ow);
}

struct tok {
    int64_t t;
    size_t node; /* index into the snapshot's nodes */
};

static int cmp_tok(const void *a, const void *b)
{
    int64_t x = ((const struct tok *)a)->t, y = ((const struct tok *)b)->t;

    return x < y ? -1 : x > y;
}

/* all_tokens -- every ring token with its node, sorted. */
static struct tok *all_tokens(const struct clsnap *s, size_t *n)
{
    size_t cnt = s->ring ? tokens_snap_token_count(s->ring) : 0, k = 0;
    struct tok *t = mem_calloc(MEM_SERVER, cnt + 1, sizeof(*t));

    *n = 0;
    if (!t)
        return NULL;
    for (size_t i = 0; s->ring && i < tokens_snap_node_count(s->ring); i++) {
        const char *rack;
        const int64_t *tk;
        size_t nt;
        const struct ring_host_id *id =
            tokens_snap_node(s->ring, i, &rack, &tk, &nt);
        const struct clsnap_node *cn = clsnap_find(s, id);
        for (size_t j = 0; cn && j < nt && k < cnt; j++) {
            t[k].t = tk[j];
            t[k++].node = (size_t)(cn - s->nodes);
        }
    }
    qsort(t, k, sizeof(*t), cmp_tok);
    *n = k;
    return t;
}

static void render_ring(const struct clsnap *s, struct out *j, struct out *t)
{
    size_t n;
    struct tok *tk = all_tokens(s, &n);
    char ids[40];

    outf(t, "%-21s  %-6s  %-8s  %-36s  %s\n", "Address", "Status", "State",
         "Host ID", "Token");
    outf(j, "[");
    for (size_t i = 0; tk && i < n; i++) {
        const struct clsnap_node *c = &s->nodes[tk[i].node];
        ring_host_id_str(&c->id, ids);
        outf(t, "%-21s  %-6s  %-8s  %-36s  %" PRId64 "\n", c->address,
             c->alive ? "Up" : "Down", state_word(c), ids, tk[i].t);
        outf(j,
             "%s{\"token\":\"%" PRId64 "\",\"host_id\":\"%s\","
             "\"address\":\"%s\",\"status\":\"%s\",\"state\":\"%s\"}",
             i ? "," : "", tk[i].t, ids, c->address, status_word(c),
             state_word(c));
    }
    outf(j, "]");
    mem_free(tk);
}

static void hex16(const uint8_t *b, char *out)
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void render_info(const struct clsnap *s, struct out *j, struct out *t)
{
    const struct clsnap_node *me = clsnap_find(s, &s->self);
    char ids[40], sv[33], load[32];

    ring_host_id_str(&s->self, ids);
    hex16(s->schema_version, sv);
    human_bytes(me ? me->load : 0, load, sizeof(load));
    outf(t,
         "ID               : %s\nAddress          : %s\n"
         "Gossip active    : true\nGeneration       : %" PRIu64 "\n"
         "Load             : %s\nTokens           : %zu\n"
         "Schema version   : %s\nSchema agreement : %s\n"
         "Serving          : %s\nNodes known      : %zu\n",
         ids, me ? me->address : "?", me ? me->generation : 0, load,
         me ? me->ntokens : 0, sv, s->schema_agreed ? "yes" : "no",
         s->serving ? "yes" : "no", s->nnodes);
    outf(j,
         "{\"host_id\":\"%s\",\"pid\":%ld,\"address\":\"%s\","
         "\"generation\":%" PRIu64 ",\"load_bytes\":%" PRIu64
         ",\"tokens\":%zu,\"schema_version\":"
         "\"%s\",\"schema_agreement\":%s,\"serving\":%s,\"nodes\":%zu,"
         "\"state\":\"%s\"}",
         ids, (long)getpid(), me ? me->address : "", me ? me->generation : 0,
         me ? me->load : 0, me ? me->ntokens : 0, sv,
         s->schema_agreed ? "true" : "false", s->serving ? "true" : "false",
         s->nnodes, me ? state_word(me) : "starting");
}

static void render_gossip(const struct clsnap *s, struct out *j, struct out *t)
{
    char ids[40], sv[33];

    outf(j, "[");
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct clsnap_node *n = &s->nodes[i];
        ring_host_id_str(&n->id, ids);
        hex16(n->schema, sv);
        outf(t,
             "/%s\n  HOST_ID:%s\n  generation:%" PRIu64 "\n  heartbeat:%" PRIu64
             "\n  STATUS:%s\n  ALIVE:%s\n  LOAD:%" PRIu64
             "\n  SCHEMA:%s\n  RACK:%s\n",
             n->peer_address, ids, n->generation, n->heartbeat, state_word(n),
             n->alive ? "true" : "false", n->load, sv, n->rack);
        outf(j,
             "%s{\"host_id\":\"%s\",\"address\":\"%s\",\"peer_address\":"
             "\"%s\",\"generation\":%" PRIu64 ",\"heartbeat\":%" PRIu64
             ",\"state\":\"%s\",\"status\":\"%s\",\"load_bytes\":%" PRIu64
             ",\"schema_version\":\"%s\",\"rack\":\"%s\"}",
             i ? "," : "", ids, n->address, n->peer_address, n->generation,
             n->heartbeat, state_word(n), status_word(n), n->load, sv, n->rack);
    }
    outf(j, "]");
}

static int render_describe(const struct clsnap *s, const char *ks,
                           struct out *j, struct out *t)
{
    uint32_t rf = clsnap_keyspace_rf(s, ks);
    size_t n, nrep, *rep;
    struct tok *tk;

    if (rf == 0)
        return err_set(CAIRN_ENOKEYSPACE, "keyspace %s does not exist", ks);
    tk = all_tokens(s, &n);
    rep = mem_calloc(MEM_SERVER, rf, sizeof(*rep));
    if (!tk || !rep) {
        mem_free(tk);
        mem_free(rep);
        return err_set(-ENOMEM, "no memory");
    }
    outf(t, "Schema Version:\nTokenRange:\n");
    outf(j, "[");
    for (size_t i = 0; i < n; i++) {
        int64_t start = tk[(i + n - 1) % n].t, end = tk[i].t;
        tokens_snap_replicas(s->ring, end, rf, rep, &nrep);
        outf(t,
             "  TokenRange(start_token:%" PRId64 ", end_token:%" PRId64
             ", endpoints:[",
             start, end);
        outf(j,
             "%s{\"start_token\":\"%" PRId64 "\",\"end_token\":\"%" PRId64
             "\",\"endpoints\":[",
             i ? "," : "", start, end);
        for (size_t r = 0; r < nrep; r++) {
            const struct ring_host_id *id =
                tokens_snap_node(s->ring, rep[r], NULL, NULL, NULL);
            const struct clsnap_node *cn = clsnap_find(s, id);
            const char *a = cn ? cn->address : "?";
            outf(t, "%s%s", r ? ", " : "", a);
            outf(j, "%s\"%s\"", r ? "," : "", a);
        }
        outf(t, "])\n");
        outf(j, "]}");
    }
    outf(j, "]");
    mem_free(tk);
    mem_free(rep);
    return 0;
}

static void answer(struct call *c, struct out *j, struct out *t)
{
    Cairn__Response r = CAIRN__RESPONSE__INIT;
    Cairn__AdminResult a = CAIRN__ADMIN_RESULT__INIT;
    char *js = out_take(j), *tx = out_take(t);

    if (!js || !tx) {
        call_fail(c, -ENOMEM, "no memory for the answer");
    } else {
        a.json = js;
        a.text = tx;
        r.result_case = CAIRN__RESPONSE__RESULT_ADMIN;
        r.admin = &a;
        call_answer(c, &r);
    }
    mem_free(js);
    mem_free(tx);
}

/* admin_view -- a read-only command on the current snapshot. */
static int admin_view(struct node *n, struct call *c, const char *cmd,
                      const char *ks)
{
    struct cluster *cl = node_cluster(n);
    struct clsnap *s = cl ? clsnap_get(cluster_pub(cl)) : NULL;
    struct out j, t;
    int rc = 0;

    if (!s)
        return err_set(CAIRN_EUNAVAILABLE, "cluster state is not ready");
    memset(&j, 0, sizeof(j));
    memset(&t, 0, sizeof(t));
    buf_init(&j.b, MEM_SERVER);
    buf_init(&t.b, MEM_SERVER);
    if (!strcmp(cmd, "status"))
        render_status(s, ks[0] ? clsnap_keyspace_rf(s, ks) : 1, &j, &t);
    else if (!strcmp(cmd, "ring"))
        render_ring(s, &j, &t);
    else if (!strcmp(cmd, "info"))
        render_info(s, &j, &t);
    else if (!strcmp(cmd, "gossipinfo"))
        render_gossip(s, &j, &t);
    else
        rc = render_describe(s, ks, &j, &t);
    if (rc == 0 && !strcmp(cmd, "status") && ks[0] &&
        !clsnap_keyspace_rf(s, ks))
        rc = err_set(CAIRN_ENOKEYSPACE, "keyspace %s does not exist", ks);
    clsnap_put(s);
    if (rc == 0)
        answer(c, &j, &t);
    buf_free(&j.b);
    buf_free(&t.b);
    return rc;
}

/* ---- flush, compact, drain: on the worker pool ---- */

/* for_tables -- run `fn` on every table of `ks` ("" : once with id 0). */
static int for_tables(struct node *n, const char *ks,
                      int (*fn)(struct storage *, uint64_t), size_t *count)
{
    struct schema_table *t = NULL;
    size_t cnt = 0;
    int rc;

    *count = 0;
    if (!ks[0]) {
        rc = fn(node_storage(n), 0);
        return rc;
    }
    rc = schema_list_tables(node_schema(n), ks, &t, &cnt);
    for (size_t i = 0; rc == 0 && i < cnt; i++) {
        rc = fn(node_storage(n), t[i].id);
        if (rc == CAIRN_ENOTABLE)
            rc = 0; /* dropped meanwhile */
    }
    mem_free(t);
    *count = cnt;
    return rc;
}

static void admin_work(uv_work_t *w)
{
    struct call *c = w->data;
    struct node *n = c->handler;
    const Cairn__Admin *a = c->req->admin;
    struct out j, t;
    size_t cnt = 0;
    int rc;

    if (!strcmp(a->command, "compact"))
        rc = for_tables(n, a->keyspace, storage_compact, &cnt);
    else
        rc = for_tables(n, a->keyspace, storage_flush, &cnt);
    if (rc == 0 && !strcmp(a->command, "drain")) {
        node_set_drained(n);
        if (node_cluster(n))
            cluster_set_draining(node_cluster(n));
        log_info("server", "drained: memtables flushed, data requests are "
                           "refused from now on");
    }
    if (rc < 0) {
        call_fail(c, rc, NULL);
        return;
    }
    memset(&j, 0, sizeof(j));
    memset(&t, 0, sizeof(t));
    buf_init(&j.b, MEM_SERVER);
    buf_init(&t.b, MEM_SERVER);
    outf(&j, "{\"command\":\"%s\",\"keyspace\":\"%s\",\"ok\":true}", a->command,
         a->keyspace);
    outf(&t, "%s: done\n", a->command);
    answer(c, &j, &t);
    buf_free(&j.b);
    buf_free(&t.b);
}

/* admin_repair -- `cairn repair [KEYSPACE]`, on a worker thread. */
static void admin_repair(uv_work_t *w)
{
    struct call *c = w->data;
    struct node *n = c->handler;
    const Cairn__Admin *a = c->req->admin;
    struct repair_report rep;
    struct out j, t;
    int rc;

    if (!node_proxy(n) || !node_cluster(n)) {
        call_fail(c, CAIRN_EUNAVAILABLE, "repair needs the cluster side");
        return;
    }
    rc = repair_run(node_proxy(n), node_cluster(n), node_schema(n), a->keyspace,
                    &rep);
    if (rc == CAIRN_ENOKEYSPACE || rep.ranges == 0) {
        call_fail(c, rc ? rc : CAIRN_EUNAVAILABLE,
                  rc ? NULL : "nothing to repair: no table or no ring");
        return;
    }
    memset(&j, 0, sizeof(j));
    memset(&t, 0, sizeof(t));
    buf_init(&j.b, MEM_SERVER);
    buf_init(&t.b, MEM_SERVER);
    if (repair_render(&rep, a->keyspace, rc, &j.b, &t.b) < 0)
        call_fail(c, -ENOMEM, "no memory for the repair report");
    else if (rc < 0)
        /* The report is the error's text; terminate it before use. */
        call_fail(c, rc, buf_put_u8(&t.b, 0) == 0 ? (char *)t.b.data : NULL);
    else
        answer(c, &j, &t);
    buf_free(&j.b);
    buf_free(&t.b);
}

static void admin_after(uv_work_t *w, int status)
{
    struct call *c = w->data;

    if (status == UV_ECANCELED)
        call_fail(c, CAIRN_ECLOSED, "the node is shutting down");
    call_done(c);
}

void admin_submit(struct node *n, struct call *c)
{
    const Cairn__Admin *a = c->req->admin;
    const char *cmd = a->command;
    int rc = 0;

    err_clear();
    if (!strcmp(cmd, "status") || !strcmp(cmd, "ring") ||
        !strcmp(cmd, "info") || !strcmp(cmd, "gossipinfo") ||
        !strcmp(cmd, "describe_ring")) {
        if (!strcmp(cmd, "describe_ring") && !a->keyspace[0])
            rc = err_set(-EINVAL, "describe_ring needs a keyspace");
        else
            rc = admin_view(n, c, cmd, a->keyspace);
    } else if (!strcmp(cmd, "flush") || !strcmp(cmd, "compact") ||
               !strcmp(cmd, "drain")) {
        if (a->keyspace[0] && !strcmp(cmd, "drain"))
            rc = err_set(-EINVAL, "drain takes no keyspace");
        if (rc == 0) {
            c->handler = n;
            c->work.data = c;
            rc = uv_queue_work(srv_loop_uv(c->loop), &c->work, admin_work,
                               admin_after);
            if (rc == 0)
                return;
            rc = err_set(-EAGAIN, "cannot queue the command");
        }
    } else if (!strcmp(cmd, "repair")) {
        c->handler = n;
        c->work.data = c;
        rc = uv_queue_work(srv_loop_uv(c->loop), &c->work, admin_repair,
                           admin_after);
        if (rc == 0)
            return;
        rc = err_set(-EAGAIN, "cannot queue the command");
    } else {
        rc = err_set(-EINVAL,
                     "unknown admin command '%s' (status, ring, info, "
                     "describe_ring, gossipinfo, flush, compact, drain, "
                     "repair)",
                     cmd);
    }
    if (rc < 0)
        call_fail(c, rc, NULL);
    call_done(c);
}
