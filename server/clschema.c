/*
 * clschema.c -- schema version digests and the pull / push exchange
 * (clschema.h).
 */
#include "server/clschema.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

struct clschema {
    struct schema *sc;
    struct storage *st;
    void (*merged)(void *arg);
    void *arg;
};

/* One registration per process is all a node needs. */
static struct clschema clschema_ctx;

static int cmp_ks(const void *a, const void *b)
{
    return strcmp(((const struct schema_ks *)a)->name,
                  ((const struct schema_ks *)b)->name);
}

static int cmp_table(const void *a, const void *b)
{
    const struct schema_table *x = a, *y = b;
    int c = strcmp(x->ks, y->ks);

    return c ? c : strcmp(x->name, y->name);
}

static int cmp_drop(const void *a, const void *b)
{
    const struct schema_drop_count *x = a, *y = b;
    int c = strcmp(x->ks, y->ks);

    return c ? c : strcmp(x->table, y->table);
}

int clschema_version(struct schema *sc, uint8_t out[GOSSIP_SCHEMA_LEN])
{
    struct schema_image im;
    XXH3_state_t *h;
    XXH128_hash_t d;
    int rc = schema_export(sc, &im);

    if (rc < 0)
        return rc;
    h = XXH3_createState();
    if (!h) {
        schema_image_free(&im);
        return -ENOMEM;
    }
    qsort(im.ks, im.nks, sizeof(*im.ks), cmp_ks);
    qsort(im.tables, im.ntables, sizeof(*im.tables), cmp_table);
    qsort(im.drops, im.ndrops, sizeof(*im.drops), cmp_drop);
    XXH3_128bits_reset(h);
    for (size_t i = 0; i < im.nks; i++) {
        XXH3_128bits_update(h, im.ks[i].name, strlen(im.ks[i].name) + 1);
        XXH3_128bits_update(h, &im.ks[i].rf, sizeof(im.ks[i].rf));
    }
    for (size_t i = 0; i < im.ntables; i++) {
        const struct schema_table *t = &im.tables[i];
        uint32_t o[3] = {t->opts.gc_grace_s, t->opts.default_ttl_s,
                         (uint32_t)t->opts.compression};
        XXH3_128bits_update(h, t->ks, strlen(t->ks) + 1);
        XXH3_128bits_update(h, t->name, strlen(t->name) + 1);
        XXH3_128bits_update(h, &t->id, sizeof(t->id));
        XXH3_128bits_update(h, o, sizeof(o));
    }
    for (size_t i = 0; i < im.ndrops; i++) {
        XXH3_128bits_update(h, im.drops[i].ks, strlen(im.drops[i].ks) + 1);
        XXH3_128bits_update(h, im.drops[i].table,
                            strlen(im.drops[i].table) + 1);
        XXH3_128bits_update(h, &im.drops[i].count, sizeof(uint32_t));
    }
    d = XXH3_128bits_digest(h);
    XXH3_freeState(h);
    schema_image_free(&im);
    memcpy(out, &d.high64, 8);
    memcpy(out + 8, &d.low64, 8);
    return 0;
}

/* ---- push: our schema as a message ---- */

struct push_mem {
    Cairn__SchemaKeyspace *ks, **ksp;
    Cairn__SchemaTable *t, **tp;
    Cairn__SchemaDropCount *d, **dp;
};

static void push_mem_free(struct push_mem *m)
{
    mem_free(m->ks);
    mem_free(m->ksp);
    mem_free(m->t);
    mem_free(m->tp);
    mem_free(m->d);
    mem_free(m->dp);
}

static int push_fill(const struct schema_image *im, Cairn__SchemaPush *p,
                     struct push_mem *m)
{
    memset(m, 0, sizeof(*m));
    m->ks = mem_calloc(MEM_SERVER, im->nks + 1, sizeof(*m->ks));
    m->ksp = mem_calloc(MEM_SERVER, im->nks + 1, sizeof(*m->ksp));
    m->t = mem_calloc(MEM_SERVER, im->ntables + 1, sizeof(*m->t));
    m->tp = mem_calloc(MEM_SERVER, im->ntables + 1, sizeof(*m->tp));
    m->d = mem_calloc(MEM_SERVER, im->ndrops + 1, sizeof(*m->d));
    m->dp = mem_calloc(MEM_SERVER, im->ndrops + 1, sizeof(*m->dp));
    if (!m->ks || !m->ksp || !m->t || !m->tp || !m->d || !m->dp)
        return -ENOMEM;
    for (size_t i = 0; i < im->nks; i++) {
        cairn__schema_keyspace__init(&m->ks[i]);
        m->ks[i].name = (char *)im->ks[i].name;
        m->ks[i].replication_factor = im->ks[i].rf;
        m->ksp[i] = &m->ks[i];
    }
    for (size_t i = 0; i < im->ntables; i++) {
        const struct schema_table *t = &im->tables[i];
        cairn__schema_table__init(&m->t[i]);
        m->t[i].keyspace = (char *)t->ks;
        m->t[i].name = (char *)t->name;
        m->t[i].id = t->id;
        m->t[i].gc_grace_s = t->opts.gc_grace_s;
        m->t[i].default_ttl_s = t->opts.default_ttl_s;
        m->t[i].no_compression = !t->opts.compression;
        m->tp[i] = &m->t[i];
    }
    for (size_t i = 0; i < im->ndrops; i++) {
        cairn__schema_drop_count__init(&m->d[i]);
        m->d[i].keyspace = (char *)im->drops[i].ks;
        m->d[i].table = (char *)im->drops[i].table;
        m->d[i].count = im->drops[i].count;
        m->dp[i] = &m->d[i];
    }
    p->n_keyspaces = im->nks;
    p->keyspaces = m->ksp;
    p->n_tables = im->ntables;
    p->tables = m->tp;
    p->n_drops = im->ndrops;
    p->drops = m->dp;
    return 0;
}

static void on_pull(struct peer *p, const struct ring_host_id *from,
                    const Cairn__PeerMessage *req, void *arg)
{
    struct clschema *cs = arg;
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;
    Cairn__SchemaPush push = CAIRN__SCHEMA_PUSH__INIT;
    struct schema_image im;
    struct push_mem pm;

    if (schema_export(cs->sc, &im) < 0)
        return;
    if (push_fill(&im, &push, &pm) == 0) {
        m.request_id = req->request_id;
        m.is_reply = 1;
        m.body_case = CAIRN__PEER_MESSAGE__BODY_SCHEMA_PUSH;
        m.schema_push = &push;
        peer_send(p, from, &m, NULL, NULL);
    }
    push_mem_free(&pm);
    schema_image_free(&im);
}

/* ---- merge: a peer's schema into ours ---- */

static int push_to_image(const Cairn__SchemaPush *p, struct schema_image *im)
{
    memset(im, 0, sizeof(*im));
    im->ks = mem_calloc(MEM_SERVER, p->n_keyspaces + 1, sizeof(*im->ks));
    im->tables = mem_calloc(MEM_SERVER, p->n_tables + 1, sizeof(*im->tables));
    im->drops = mem_calloc(MEM_SERVER, p->n_drops + 1, sizeof(*im->drops));
    if (!im->ks || !im->tables || !im->drops)
        return -ENOMEM;
    for (size_t i = 0; i < p->n_keyspaces; i++) {
        if (validate_name("keyspace", p->keyspaces[i]->name) < 0)
            return CAIRN_ECORRUPT;
        snprintf(im->ks[i].name, sizeof(im->ks[i].name), "%s",
                 p->keyspaces[i]->name);
        im->ks[i].rf = p->keyspaces[i]->replication_factor;
    }
    im->nks = p->n_keyspaces;
    for (size_t i = 0; i < p->n_tables; i++) {
        const Cairn__SchemaTable *t = p->tables[i];
        struct schema_table *d = &im->tables[i];
        if (validate_name("keyspace", t->keyspace) < 0 ||
            validate_name("table", t->name) < 0)
            return CAIRN_ECORRUPT;
        snprintf(d->ks, sizeof(d->ks), "%s", t->keyspace);
        snprintf(d->name, sizeof(d->name), "%s", t->name);
        d->id = t->id;
        d->opts.gc_grace_s = t->gc_grace_s;
        d->opts.default_ttl_s = t->default_ttl_s;
        d->opts.compression = !t->no_compression;
    }
    im->ntables = p->n_tables;
    for (size_t i = 0; i < p->n_drops; i++) {
        const Cairn__SchemaDropCount *d = p->drops[i];
        if (validate_name("keyspace", d->keyspace) < 0 ||
            (d->table[0] && validate_name("table", d->table) < 0))
            return CAIRN_ECORRUPT;
        snprintf(im->drops[i].ks, sizeof(im->drops[i].ks), "%s", d->keyspace);
        snprintf(im->drops[i].table, sizeof(im->drops[i].table), "%s",
                 d->table);
        im->drops[i].count = d->count;
    }
    im->ndrops = p->n_drops;
    return 0;
}

/* finish_storage -- create merged tables, carry out pending drops. */
static void finish_storage(struct clschema *cs, struct schema_table *t,
                           size_t n)
{
    uint64_t *ids = NULL;
    size_t nids = 0;

    for (size_t i = 0; i < n; i++) {
        int rc = storage_create_table(cs->st, t[i].id, &t[i].opts);
        if (rc < 0 && rc != CAIRN_EEXISTS)
            log_error("schema", "cannot create table %s.%s in storage: %s",
                      t[i].ks, t[i].name, err_msg());
        else
            log_info("schema", "table %s.%s id=%llu from a peer", t[i].ks,
                     t[i].name, (unsigned long long)t[i].id);
    }
    if (schema_pending_drops(cs->sc, &ids, &nids) < 0)
        return;
    for (size_t i = 0; i < nids; i++) {
        int rc = storage_drop_table(cs->st, ids[i]);
        if (rc == 0 || rc == CAIRN_ENOTABLE)
            schema_drop_done(cs->sc, ids[i]);
    }
    mem_free(ids);
}

static void on_push(struct peer *p, const struct ring_host_id *from,
                    const Cairn__PeerMessage *m, void *arg)
{
    struct clschema *cs = arg;
    struct schema_image im;
    struct schema_table *created = NULL;
    size_t n = 0;
    char ids[40];
    int rc;

    (void)p;
    rc = push_to_image(m->schema_push, &im);
    if (rc == 0)
        rc = schema_merge(cs->sc, &im, &created, &n);
    schema_image_free(&im);
    if (rc < 0) {
        log_warn("schema", "cannot merge the schema of host_id=%s: %s",
                 ring_host_id_str(from, ids), err_msg());
        return;
    }
    finish_storage(cs, created, n);
    mem_free(created);
    if (cs->merged)
        cs->merged(cs->arg);
}

void clschema_register(struct peer *p, struct schema *sc, struct storage *st,
                       void (*merged)(void *arg), void *arg)
{
    clschema_ctx.sc = sc;
    clschema_ctx.st = st;
    clschema_ctx.merged = merged;
    clschema_ctx.arg = arg;
    peer_on(p, CAIRN__PEER_MESSAGE__BODY_SCHEMA_PULL, on_pull, &clschema_ctx);
    peer_on(p, CAIRN__PEER_MESSAGE__BODY_SCHEMA_PUSH, on_push, &clschema_ctx);
}

void clschema_maybe_pull(struct peer *p, const struct ring_host_id *id,
                         int64_t now_ms, int64_t *last, int64_t gap_ms)
{
    Cairn__PeerMessage m = CAIRN__PEER_MESSAGE__INIT;
    Cairn__SchemaPull pull = CAIRN__SCHEMA_PULL__INIT;

    if (*last && now_ms - *last < gap_ms)
        return;
    *last = now_ms;
    m.body_case = CAIRN__PEER_MESSAGE__BODY_SCHEMA_PULL;
    m.schema_pull = &pull;
    peer_send(p, id, &m, NULL, NULL);
}
