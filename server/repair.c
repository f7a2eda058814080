/*
 * repair.c -- Merkle-tree anti-entropy over the ring (repair.h).
 */
#include "server/repair.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/cluster.h"
#include "server/coord/resolve.h"
#include "server/merkle.h"
#include "server/proxy.h"
#include "server/replica.h"
#include "server/schema.h"

#define REPAIR_DEPTH        6 /* 64 leaves per ring range */
#define REPAIR_MAX_REPLICAS 16

/* One ring range and its replicas. */
struct rp_range {
    int64_t start, end; /* inclusive */
    struct ring_host_id rep[REPAIR_MAX_REPLICAS];
    int nrep;
};

struct rp_ctx {
    struct proxy *p;
    struct clsnap *s;
    uint64_t table;
    struct repair_report *rep;
};

static void rp_fail(struct repair_report *rep, const char *what, int rc)
{
    rep->ranges_failed++;
    if (!rep->first_error[0])
        snprintf(rep->first_error, sizeof(rep->first_error), "%s: %s (%s)",
                 what, err_msg(), err_name(rc));
}

/* ---- Merkle trees of every replica ---- */

static int rp_tree(struct rp_ctx *x, const struct ring_host_id *id,
                   const struct rp_range *r, struct merkle *m)
{
    Cairn__PeerMessage q = CAIRN__PEER_MESSAGE__INIT, *resp;
    Cairn__MerkleReq mq = CAIRN__MERKLE_REQ__INIT;
    int rc;

    mq.table_id = x->table;
    mq.token_start = r->start;
    mq.token_end = r->end;
    mq.depth = REPAIR_DEPTH;
    q.body_case = CAIRN__PEER_MESSAGE__BODY_MERKLE_REQ;
    q.merkle_req = &mq;
    rc = proxy_call(x->p, id, &q, &resp);
    if (rc)
        return rc;
    if (resp->body_case != CAIRN__PEER_MESSAGE__BODY_MERKLE_RESP)
        rc = err_set(CAIRN_EPROTO, "merkle request answered otherwise");
    else if (resp->merkle_resp->code)
        rc = err_set(resp->merkle_resp->code, "replica: %s",
                     resp->merkle_resp->message);
    rc = rc ? rc : merkle_init(m, r->start, r->end, REPAIR_DEPTH);
    if (!rc) {
        rc = merkle_set_leaves(m, resp->merkle_resp->leaves,
                               resp->merkle_resp->n_leaves);
        if (rc)
            merkle_free(m);
    }
    cairn__peer_message__free_unpacked(resp, NULL);
    return rc;
}

/* ---- reading and merging a differing sub-range ---- */

static int rp_scan(struct rp_ctx *x, const struct ring_host_id *id,
                   int64_t start, int64_t end, Cairn__PeerMessage **resp)
{
    Cairn__PeerMessage q = CAIRN__PEER_MESSAGE__INIT;
    Cairn__RangeReadReq rq = CAIRN__RANGE_READ_REQ__INIT;
    int rc;

    rq.table_id = x->table;
    rq.token_start = start;
    rq.token_end = end;
    rq.include_tombstones = 1;
    q.body_case = CAIRN__PEER_MESSAGE__BODY_RANGE_READ_REQ;
    q.range_read_req = &rq;
    rc = proxy_call(x->p, id, &q, resp);
    if (rc)
        return rc;
    if ((*resp)->body_case != CAIRN__PEER_MESSAGE__BODY_RANGE_READ_RESP)
        rc = err_set(CAIRN_EPROTO, "range read answered otherwise");
    else if ((*resp)->range_read_resp->code)
        rc = err_set((*resp)->range_read_resp->code, "replica: %s",
                     (*resp)->range_read_resp->message);
    if (rc) {
        cairn__peer_message__free_unpacked(*resp, NULL);
        *resp = NULL;
    }
    return rc;
}

static const Cairn__ReplPartition *rp_find(const Cairn__RangeReadResp *r,
                                           ProtobufCBinaryData key)
{
    for (size_t i = 0; i < r->n_parts; i++)
        if (r->parts[i]->pkey.len == key.len &&
            memcmp(r->parts[i]->pkey.data, key.data, key.len) == 0)
            return r->parts[i];
    return NULL;
}

/* rp_send -- write `d` (what a replica lacks) to it, timestamps kept. */
static int rp_send(struct rp_ctx *x, const struct ring_host_id *id,
                   const struct storage_partition *d)
{
    Cairn__PeerMessage q = CAIRN__PEER_MESSAGE__INIT, *resp;
    struct storage_batch b = {.table_id = x->table, .pkey = d->pkey};
    struct storage_mut *muts;
    Cairn__MutationReq mr;
    struct repl_arena a;
    int rc;

    repl_arena_init(&a);
    rc = repl_part_to_muts(&a, d, &muts, &b.nmuts);
    b.muts = muts;
    rc = rc ? rc : repl_batch_to_pb(&a, &b, 0, &mr);
    q.body_case = CAIRN__PEER_MESSAGE__BODY_MUTATION_REQ;
    q.mutation_req = &mr;
    rc = rc ? rc : proxy_call(x->p, id, &q, &resp);
    repl_arena_free(&a);
    if (rc)
        return rc;
    if (resp->body_case != CAIRN__PEER_MESSAGE__BODY_MUTATION_ACK)
        rc = err_set(CAIRN_EPROTO, "repair write answered otherwise");
    else if (resp->mutation_ack->code)
        rc = err_set(resp->mutation_ack->code, "replica: %s",
                     resp->mutation_ack->message);
    cairn__peer_message__free_unpacked(resp, NULL);
    return rc;
}

/* rp_key -- merge one partition over the replicas, send the diffs. */
static int rp_key(struct rp_ctx *x, const struct rp_range *r,
                  Cairn__PeerMessage **data, ProtobufCBinaryData key)
{
    const struct storage_partition *in[REPAIR_MAX_REPLICAS];
    struct storage_partition parts[REPAIR_MAX_REPLICAS];
    struct coord_part merged, diff;
    struct repl_arena a;
    int rc = 0, n = 0;

    repl_arena_init(&a);
    coord_part_init(&merged);
    for (int i = 0; !rc && i < r->nrep; i++) {
        const Cairn__ReplPartition *pp = rp_find(data[i]->range_read_resp, key);
        memset(&parts[i], 0, sizeof(parts[i]));
        parts[i].pkey = (struct storage_bytes){key.data, key.len};
        parts[i].deleted_ts = STORAGE_TS_NONE;
        if (pp && (rc = repl_part_from_pb(&a, pp, &parts[i])) == 0)
            in[n++] = &parts[i];
    }
    rc = rc ? rc : coord_resolve_merge(in, (size_t)n, &merged);
    for (int i = 0; !rc && i < r->nrep; i++) {
        rc = coord_resolve_diff(&parts[i], &merged.p, &diff);
        if (!rc && !coord_part_empty(&diff.p)) {
            diff.p.pkey = parts[i].pkey;
            rc = rp_send(x, &r->rep[i], &diff.p);
            x->rep->partitions_sent += rc == 0;
        }
        if (!rc)
            coord_part_free(&diff);
    }
    coord_part_free(&merged);
    repl_arena_free(&a);
    return rc;
}

static int rp_subrange(struct rp_ctx *x, const struct rp_range *r,
                       int64_t start, int64_t end)
{
    Cairn__PeerMessage *data[REPAIR_MAX_REPLICAS] = {0};
    int rc = 0;

    for (int i = 0; !rc && i < r->nrep; i++)
        rc = rp_scan(x, &r->rep[i], start, end, &data[i]);
    for (int i = 0; !rc && i < r->nrep; i++) {
        const Cairn__RangeReadResp *rr = data[i]->range_read_resp;
        for (size_t k = 0; !rc && k < rr->n_parts; k++) {
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = rp_find(data[j]->range_read_resp, rr->parts[k]->pkey) !=
                       NULL;
            if (!seen)
                rc = rp_key(x, r, data, rr->parts[k]->pkey);
        }
    }
    for (int i = 0; i < r->nrep; i++)
        if (data[i])
            cairn__peer_message__free_unpacked(data[i], NULL);
    return rc;
}

/* ---- one range ---- */

static int rp_range(struct rp_ctx *x, const struct rp_range *r)
{
    struct merkle t[REPAIR_MAX_REPLICAS];
    struct merkle_range *d = NULL, *dj;
    size_t nd = 0, nj;
    int rc = 0, built = 0;

    for (; !rc && built < r->nrep; built++)
        rc = rp_tree(x, &r->rep[built], r, &t[built]);
    if (rc)
        built--;
    /* A leaf differs when any replica's differs from the first one's. */
    for (int i = 1; !rc && i < built; i++) {
        rc = merkle_diff(&t[0], &t[i], &dj, &nj);
        if (!rc && nj > nd) {
            mem_free(d);
            d = dj;
            nd = nj;
        } else if (!rc) {
            mem_free(dj);
        }
    }
    /* Leaves that differ on some pair: compare every pair once more. */
    if (!rc && nd) {
        x->rep->ranges_differing++;
        mem_free(d);
        d = NULL;
        nd = 0;
        size_t nl = (size_t)1 << REPAIR_DEPTH;
        for (size_t l = 0; !rc && l < nl; l++) {
            int differs = 0;
            for (int i = 1; i < built; i++)
                differs |= t[i].node[nl + l] != t[0].node[nl + l];
            if (!differs)
                continue;
            int64_t s, e;
            merkle_leaf_range(&t[0], l, &s, &e);
            x->rep->leaves_differing++;
            rc = rp_subrange(x, r, s, e);
        }
    }
    mem_free(d);
    for (int i = 0; i < built; i++)
        merkle_free(&t[i]);
    return rc;
}

/* ---- the ring ---- */

/* rp_replicas -- the replicas of the range ending at `tok`, alive? */
static int rp_replicas(struct rp_ctx *x, int64_t tok, uint32_t rf,
                       struct rp_range *r)
{
    size_t idx[REPAIR_MAX_REPLICAS], n;
    int rc;

    if (rf > REPAIR_MAX_REPLICAS)
        return err_set(-EINVAL, "repair: rf %u over %d", rf,
                       REPAIR_MAX_REPLICAS);
    rc = tokens_snap_replicas(x->s->ring, tok, rf, idx, &n);
    for (size_t i = 0; !rc && i < n; i++) {
        const struct clsnap_node *nd;
        r->rep[i] = *tokens_snap_node(x->s->ring, idx[i], NULL, NULL, NULL);
        nd = clsnap_find(x->s, &r->rep[i]);
        if (!nd || !nd->alive)
            rc = err_set(CAIRN_EUNAVAILABLE, "a replica of the range is down");
    }
    r->nrep = (int)n;
    /* A node known to gossip but not in the ring yet (restarting) would
       be left out of the comparison: the range cannot be vouched for. */
    if (!rc && n < rf && x->s->nnodes > n)
        rc = err_set(CAIRN_EUNAVAILABLE, "a node is not in the ring yet");
    return rc;
}

/* rp_table -- every ring range of one table. */
static void rp_table(struct rp_ctx *x, uint32_t rf, const int64_t *tok,
                     size_t nt)
{
    for (size_t i = 0; i < nt; i++) {
        /* (previous token, tok[i]]; the first wraps past INT64_MAX. */
        struct rp_range r;
        int64_t prev = tok[i ? i - 1 : nt - 1];
        int rc = rp_replicas(x, tok[i], rf, &r);
        for (int part = 0; part < 2 && !rc; part++) {
            if (i == 0 && part == 0) {
                if (prev == INT64_MAX)
                    continue;
                r.start = prev + 1, r.end = INT64_MAX; /* the wrap */
            } else if (i == 0) {
                r.start = INT64_MIN, r.end = tok[0];
            } else if (part == 0) {
                r.start = prev + 1, r.end = tok[i];
            } else {
                break;
            }
            x->rep->ranges++;
            rc = rp_range(x, &r);
        }
        if (rc)
            rp_fail(x->rep, "range", rc);
    }
}

static int rp_keyspace(struct rp_ctx *x, struct schema *sc, const char *ks,
                       uint32_t rf, const int64_t *tok, size_t nt)
{
    struct schema_table *t;
    size_t n;
    int rc = schema_list_tables(sc, ks, &t, &n);

    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        x->table = t[i].id;
        x->rep->tables++;
        rp_table(x, rf, tok, nt);
    }
    mem_free(t);
    return 0;
}

int repair_run(struct proxy *p, struct cluster *cl, struct schema *sc,
               const char *ks, struct repair_report *rep)
{
    struct rp_ctx x = {.p = p, .rep = rep};
    struct schema_ks *kss = NULL;
    int64_t *tok = NULL;
    size_t nks = 0, nt = 0;
    int rc, found = 0;

    memset(rep, 0, sizeof(*rep));
    x.s = clsnap_get(cluster_pub(cl));
    if (!x.s || !x.s->ring)
        rc = err_set(CAIRN_EUNAVAILABLE, "no ring known yet");
    else
        rc = tokens_snap_sorted_tokens(x.s->ring, &tok, &nt);
    rc = rc ? rc : schema_list_keyspaces(sc, &kss, &nks);
    for (size_t i = 0; !rc && i < nks; i++) {
        if (ks && ks[0] && strcmp(ks, kss[i].name) != 0)
            continue;
        found = 1;
        rc = rp_keyspace(&x, sc, kss[i].name, kss[i].rf, tok, nt);
    }
    if (!rc && ks && ks[0] && !found)
        rc = err_set(CAIRN_ENOKEYSPACE, "no keyspace %s", ks);
    mem_free(kss);
    mem_free(tok);
    clsnap_put(x.s);
    if (!rc && rep->ranges_failed)
        rc = err_set(CAIRN_EUNAVAILABLE,
                     "repair incomplete: %" PRIu64 " ranges failed; first: %s",
                     rep->ranges_failed, rep->first_error);
    log_info("repair",
             "done keyspace=%s ranges=%" PRIu64 " differing=%" PRIu64
             " partitions_sent=%" PRIu64 " failed=%" PRIu64,
             ks && ks[0] ? ks : "*", rep->ranges, rep->ranges_differing,
             rep->partitions_sent, rep->ranges_failed);
    return rc;
}

static int rp_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int rp_printf(struct buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    return buf_append(b, line,
                      (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int repair_render(const struct repair_report *r, const char *ks, int rc,
                  struct buf *json, struct buf *text)
{
    int e = rp_printf(
        json,
        "{\"command\":\"repair\",\"keyspace\":\"%s\",\"ok\":%s,"
        "\"tables\":%" PRIu64 ",\"ranges\":%" PRIu64
        ",\"ranges_differing\":%" PRIu64 ",\"leaves_differing\":%" PRIu64
        ",\"partitions_sent\":%" PRIu64 ",\"ranges_failed\":%" PRIu64 "}",
        ks, rc ? "false" : "true", r->tables, r->ranges, r->ranges_differing,
        r->leaves_differing, r->partitions_sent, r->ranges_failed);

    e |= rp_printf(text,
                   "repair %s: %" PRIu64 " tables, %" PRIu64
                   " ranges compared, %" PRIu64 " differed (%" PRIu64
                   " sub-ranges read), %" PRIu64
                   " partition diffs written, %" PRIu64 " ranges failed\n",
                   ks[0] ? ks : "(all keyspaces)", r->tables, r->ranges,
                   r->ranges_differing, r->leaves_differing, r->partitions_sent,
                   r->ranges_failed);
    return e ? -ENOMEM : 0;
}
