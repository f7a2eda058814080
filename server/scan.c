/*
 * scan.c -- ring-wide scans (scan.h).
 */
#include "server/scan.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/token.h"
#include "server/call.h"
#include "server/cluster.h"
#include "server/node.h"
#include "server/proxy.h"
#include "server/replica.h"
#include "server/schema.h"
#include "server/validate.h"

#define SCAN_MAX_RF 16

/* The answer under construction; bytes borrowed from kept answers. */
struct sc_page {
    struct repl_arena a;
    struct storage_partition *parts;
    size_t n, cap;
    uint32_t rows, limit;
    Cairn__PeerMessage **keep; /* range answers the parts point into */
    size_t nkeep;
    int more;
    struct storage_bytes resume_pk, resume_ck;
};

struct sc_ctx {
    struct proxy *p;
    struct clsnap *s;
    uint64_t table;
    uint32_t rf;
};

static int sc_keep(struct sc_page *pg, Cairn__PeerMessage *m)
{
    void *v = mem_realloc(MEM_SERVER, pg->keep, (pg->nkeep + 1) * sizeof(m));

    if (!v) {
        cairn__peer_message__free_unpacked(m, NULL);
        return err_set(-ENOMEM, "scan: no memory");
    }
    pg->keep = v;
    pg->keep[pg->nkeep++] = m;
    return 0;
}

static int sc_add(struct sc_page *pg, const Cairn__RangeReadResp *r)
{
    for (size_t i = 0; i < r->n_parts; i++) {
        if (pg->n == pg->cap) {
            size_t cap = pg->cap ? 2 * pg->cap : 16;
            void *v =
                mem_realloc(MEM_SERVER, pg->parts, cap * sizeof(*pg->parts));
            if (!v)
                return err_set(-ENOMEM, "scan: no memory");
            pg->parts = v;
            pg->cap = cap;
        }
        int rc = repl_part_from_pb(&pg->a, r->parts[i], &pg->parts[pg->n]);
        if (rc)
            return rc;
        pg->rows += (uint32_t)pg->parts[pg->n++].nrows;
    }
    return 0;
}

/* sc_read -- one range from one replica, after (pk, ck) when `after`. */
static int sc_read(struct sc_ctx *x, const struct ring_host_id *id,
                   int64_t start, int64_t end, const struct sc_page *pg,
                   const struct storage_bytes *after, Cairn__PeerMessage **out)
{
    Cairn__PeerMessage q = CAIRN__PEER_MESSAGE__INIT;
    Cairn__RangeReadReq rq = CAIRN__RANGE_READ_REQ__INIT;
    int rc;

    rq.table_id = x->table;
    rq.token_start = start;
    rq.token_end = end;
    rq.limit_rows = pg->limit - pg->rows;
    if (after) {
        rq.has_after = 1;
        rq.after_pkey =
            (ProtobufCBinaryData){after[0].n, (uint8_t *)after[0].p};
        rq.after_ck = (ProtobufCBinaryData){after[1].n, (uint8_t *)after[1].p};
    }
    q.body_case = CAIRN__PEER_MESSAGE__BODY_RANGE_READ_REQ;
    q.range_read_req = &rq;
    rc = proxy_call(x->p, id, &q, out);
    if (!rc && (*out)->body_case != CAIRN__PEER_MESSAGE__BODY_RANGE_READ_RESP)
        rc = err_set(CAIRN_EPROTO, "scan: range read answered otherwise");
    if (!rc && (*out)->range_read_resp->code)
        rc = err_set((*out)->range_read_resp->code, "replica: %s",
                     (*out)->range_read_resp->message);
    if (rc && *out) {
        cairn__peer_message__free_unpacked(*out, NULL);
        *out = NULL;
    }
    return rc;
}

/* sc_range -- read [start, end] from a replica of `owner` into `pg`. */
static int sc_range(struct sc_ctx *x, int64_t owner, int64_t start, int64_t end,
                    struct sc_page *pg, const struct storage_bytes *after)
{
    size_t idx[SCAN_MAX_RF], n;
    const struct ring_host_id *self = &x->s->self;
    Cairn__PeerMessage *m = NULL;
    int rc = x->rf > SCAN_MAX_RF
                 ? err_set(-EINVAL, "scan: rf %u over %d", x->rf, SCAN_MAX_RF)
                 : tokens_snap_replicas(x->s->ring, owner, x->rf, idx, &n);

    if (rc)
        return rc;
    rc = err_set(CAIRN_EUNAVAILABLE, "scan: no replica of a range is up");
    /* Two passes: ourselves first, then the others alive. */
    for (int pass = 0; pass < 2 && rc; pass++)
        for (size_t i = 0; i < n && rc; i++) {
            const struct ring_host_id *id =
                tokens_snap_node(x->s->ring, idx[i], NULL, NULL, NULL);
            const struct clsnap_node *nd = clsnap_find(x->s, id);
            int me = ring_host_id_eq(id, self);
            if ((pass == 0) != me || (!me && (!nd || !nd->alive)))
                continue;
            rc = sc_read(x, id, start, end, pg, after, &m);
        }
    if (rc)
        return rc;
    rc = sc_add(pg, m->range_read_resp);
    if (!rc && m->range_read_resp->more) {
        pg->more = 1;
        pg->resume_pk =
            (struct storage_bytes){m->range_read_resp->resume_pkey.data,
                                   m->range_read_resp->resume_pkey.len};
        pg->resume_ck =
            (struct storage_bytes){m->range_read_resp->resume_ck.data,
                                   m->range_read_resp->resume_ck.len};
    }
    return rc ? (cairn__peer_message__free_unpacked(m, NULL), rc)
              : sc_keep(pg, m);
}

/*
 * sc_walk -- ranges in token order from the resume token: [MIN, t0],
 * (t0, t1], ..., (t_last, MAX] (owned by t0's replicas), until full.
 */
static int sc_walk(struct sc_ctx *x, struct sc_page *pg,
                   const struct storage_bytes *after)
{
    int64_t *tok = NULL;
    int64_t from = after ? token_of(after[0].p, after[0].n) : INT64_MIN;
    size_t nt = 0;
    int rc = tokens_snap_sorted_tokens(x->s->ring, &tok, &nt);

    for (size_t i = 0; !rc && i <= nt && !pg->more && pg->rows < pg->limit;
         i++) {
        int64_t start = i == 0 ? INT64_MIN : tok[i - 1] + 1;
        int64_t end = i == nt ? INT64_MAX : tok[i];
        int64_t owner = i == nt ? tok[0] : tok[i];
        if (i > 0 && tok[i - 1] == INT64_MAX)
            break;
        if (end < from)
            continue;
        int mine = after && start <= from;
        rc = sc_range(x, owner, mine ? from : start, end, pg,
                      mine ? after : NULL);
    }
    mem_free(tok);
    if (!rc && !pg->more && pg->rows >= pg->limit && pg->n) {
        const struct storage_partition *l = &pg->parts[pg->n - 1];
        pg->more = 1;
        pg->resume_pk = l->pkey;
        pg->resume_ck = l->nrows ? l->rows[l->nrows - 1].ck
                                 : (struct storage_bytes){NULL, 0};
    }
    return rc;
}

int scan_ring(struct node *n, struct proxy *p, struct cluster *cl,
              struct call *c)
{
    const Cairn__Scan *rq = c->req->scan;
    struct sc_ctx x = {.p = p};
    struct sc_page pg;
    struct storage_bytes after[2];
    struct storage_result res;
    struct schema_table t;
    int rc = schema_table(node_schema(n), rq->keyspace, rq->table, &t, &x.rf);

    memset(&pg, 0, sizeof(pg));
    repl_arena_init(&pg.a);
    pg.limit = node_page_rows(n, rq->page_size);
    x.table = t.id;
    if (rc == 0 && rq->paging_state.len) {
        const uint8_t *pk, *ck;
        size_t pkn, ckn;
        paging_scan_decode(rq->paging_state.data, rq->paging_state.len, &pk,
                           &pkn, &ck, &ckn); /* validated when decoded */
        after[0] = (struct storage_bytes){pk, pkn};
        after[1] = (struct storage_bytes){ck, ckn};
    }
    x.s = rc ? NULL : clsnap_get(cluster_pub(cl));
    if (!rc && (!x.s || !x.s->ring))
        rc = err_set(CAIRN_EUNAVAILABLE, "no ring known yet");
    rc = rc ? rc : sc_walk(&x, &pg, rq->paging_state.len ? after : NULL);
    if (!rc) {
        memset(&res, 0, sizeof(res));
        res.parts = pg.parts;
        res.nparts = pg.n;
        res.nrows = pg.rows;
        res.more = pg.more;
        res.resume_pkey = pg.resume_pk;
        res.resume_ck = pg.resume_ck;
        rc = node_scan_answer(c, &res);
    }
    clsnap_put(x.s);
    for (size_t i = 0; i < pg.nkeep; i++)
        cairn__peer_message__free_unpacked(pg.keep[i], NULL);
    mem_free(pg.keep);
    mem_free(pg.parts);
    repl_arena_free(&pg.a);
    return rc;
}
