/*
 * read.c -- the read state machine and the latency snitch (see read.h).
 *
 * Phases: QUERY sends one data and required-1 digest requests; once
 * `required` replicas answered (one with data) and everything agrees, the
 * data answer goes back. Otherwise the replicas that answered become the
 * participants of SLICE/REPAIR rounds over the whole partition: each
 * round reads up to slice_rows rows after a cursor from every
 * participant, keeps only the part all of them have covered (up to the
 * smallest last key of a reply that stopped at its limit), merges it,
 * sends each participant its diff and waits for the acks before the
 * next round.
 */
#include "server/coord/read.h"

#include <string.h>

#include "common/err.h"
#include "common/mem.h"

/* ---- snitch ---- */

void coord_snitch_init(struct coord_snitch *s, struct coord_lat *lat, int n)
{
    s->lat = lat;
    s->n = n;
    for (int i = 0; i < n; i++) {
        hist_init(&lat[i].h);
        lat[i].ewma_us = 0;
    }
}

void coord_snitch_record(struct coord_snitch *s, int replica, int64_t us)
{
    struct coord_lat *l;

    if (!s || replica < 0 || replica >= s->n)
        return;
    l = &s->lat[replica];
    if (us < 0)
        us = 0;
    hist_record(&l->h, (uint64_t)us);
    /* Weight 1/8: recent enough to follow a slowing replica. */
    l->ewma_us = l->h.count == 1 ? us : l->ewma_us + (us - l->ewma_us) / 8;
}

int64_t coord_snitch_score(const struct coord_snitch *s, int replica)
{
    if (!s || replica < 0 || replica >= s->n)
        return 0;
    return s->lat[replica].ewma_us;
}

int64_t coord_snitch_p99_ns(const struct coord_snitch *s, int replica)
{
    const struct hist *h;

    if (!s || replica < 0 || replica >= s->n)
        return -1;
    h = &s->lat[replica].h;
    if (h->count < COORD_SNITCH_MIN_SAMPLES)
        return -1;
    return (int64_t)hist_percentile(h, 99.0) * 1000;
}

/* ---- helpers ---- */

static int act_done(struct coord_read *r, int rc, int acked,
                    struct coord_acts *out)
{
    struct coord_act a = {.kind = COORD_ACT_DONE,
                          .rc = rc,
                          .acked = acked,
                          .required = r->required};

    r->phase = COORD_READ_DONE;
    return coord_acts_push(out, &a);
}

static int act_timer(int64_t at, struct coord_acts *out)
{
    struct coord_act a = {.kind = COORD_ACT_TIMER, .at_ns = at};

    return coord_acts_push(out, &a);
}

/* send_read -- a request for `query`-like read to `replica`. */
static int send_read(struct coord_read *r, struct coord_req *q, int replica,
                     int digest_only, const struct storage_read *rd,
                     int64_t now_ns, struct coord_acts *out)
{
    struct coord_act a = {.kind = COORD_ACT_SEND_READ,
                          .replica = replica,
                          .digest_only = digest_only,
                          .read = *rd};

    memset(q, 0, sizeof(*q));
    coord_part_init(&q->data);
    q->replica = replica;
    q->tag = a.tag = ++r->next_tag;
    q->digest_only = digest_only;
    q->state = COORD_T_SENT;
    q->sent_ns = now_ns;
    return coord_acts_push(out, &a);
}

static void reqs_free(struct coord_req *v, int n)
{
    for (int i = 0; i < n; i++)
        coord_part_free(&v[i].data);
}

static int count_ok(const struct coord_req *v, int n, int *ndata)
{
    int ok = 0;

    *ndata = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].state != COORD_T_ACKED)
            continue;
        ok++;
        *ndata += v[i].has_data;
    }
    return ok;
}

static int count_sent(const struct coord_req *v, int n)
{
    int c = 0;

    for (int i = 0; i < n; i++)
        c += v[i].state == COORD_T_SENT;
    return c;
}

static struct coord_req *find(struct coord_req *v, int n, uint32_t tag)
{
    for (int i = 0; i < n; i++)
        if (v[i].tag == tag)
            return &v[i];
    return NULL;
}

/* ---- start ---- */

static int copy_query(struct coord_read *r, const struct storage_read *q)
{
    size_t n = q->pkey.n + q->ck_start.n + q->ck_end.n + q->after.n;
    uint8_t *m = mem_alloc(MEM_SERVER, n + 1);
    struct storage_bytes *f[] = {&r->query.pkey, &r->query.ck_start,
                                 &r->query.ck_end, &r->query.after};

    if (!m)
        return err_set(-ENOMEM, "read: no memory for the query");
    r->qmem = m;
    r->query = *q;
    r->query.include_tombstones = 1;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i]->n)
            memcpy(m, f[i]->p, f[i]->n);
        f[i]->p = m;
        m += f[i]->n;
    }
    return 0;
}

/* order_replicas -- alive replicas by snitch score, stable. */
static void order_replicas(struct coord_read *r,
                           const struct coord_read_params *p)
{
    for (int i = 0; i < p->nreplicas; i++) {
        int id = p->replicas[i], j;
        int64_t sc;

        if (!p->alive[i])
            continue;
        sc = coord_snitch_score(p->snitch, id);
        j = r->norder++;
        while (j > 0 && coord_snitch_score(p->snitch, r->order[j - 1]) > sc) {
            r->order[j] = r->order[j - 1];
            j--;
        }
        r->order[j] = id;
    }
}

static int check_params(const struct coord_read_params *p)
{
    if (p->nreplicas < 1 || p->nreplicas > COORD_MAX_TARGETS)
        return err_set(-EINVAL, "read replicas=%d outside 1..%d", p->nreplicas,
                       COORD_MAX_TARGETS);
    if (p->timeout_ns <= 0 || p->repair_slice_rows < 1)
        return err_set(-EINVAL, "read timeout and slice must be positive");
    if (p->query.pkey.n > STORAGE_MAX_KEY)
        return err_set(CAIRN_ETOOBIG, "partition key of %zu bytes",
                       p->query.pkey.n);
    return 0;
}

/* query_begin -- ask the first `required` replicas of `order`, arm the
 * deadline and the speculative timer. */
static int query_begin(struct coord_read *r, int64_t now_ns,
                       struct coord_acts *out)
{
    int64_t spec;
    int rc = 0;

    r->phase = COORD_READ_QUERY;
    for (int i = 0; !rc && i < r->required; i++)
        rc = send_read(r, &r->q[r->nq++], r->order[i], i > 0, &r->query, now_ns,
                       out);
    r->next_spare = r->required;
    if (!rc)
        rc = act_timer(r->deadline_ns, out);
    spec = coord_snitch_p99_ns(r->snitch, r->order[0]);
    if (spec < 0)
        spec = r->spec_default_ns;
    r->spec_armed = 0;
    if (!rc && r->spec_default_ns >= 0 && r->next_spare < r->norder &&
        now_ns + spec < r->deadline_ns) {
        r->spec_at_ns = now_ns + spec;
        r->spec_armed = 1;
        rc = act_timer(r->spec_at_ns, out);
    }
    return rc;
}

int coord_read_start(struct coord_read *r, const struct coord_read_params *p,
                     int64_t now_ns, struct coord_acts *out)
{
    int alive = 0, rc;

    memset(r, 0, sizeof(*r));
    coord_part_init(&r->answer);
    rc = check_params(p);
    if (rc)
        return rc;
    for (int i = 0; i < p->nreplicas; i++)
        alive += p->alive[i] != 0;
    rc = coord_cl_read_check(p->cl, p->rf, alive);
    if (rc == -EINVAL)
        return rc;
    if (rc < 0) {
        /* Name the count that was needed in the Unavailable answer. */
        int need = coord_cl_block_for(p->cl, p->rf);
        r->required = need > 0 ? need : 0;
        return act_done(r, rc, 0, out);
    }
    r->required = rc;
    r->snitch = p->snitch;
    r->slice_rows = p->repair_slice_rows;
    r->read_repair = p->read_repair;
    r->deadline_ns = now_ns + p->timeout_ns;
    r->spec_default_ns = p->spec_default_ns;
    if (copy_query(r, &p->query))
        return -ENOMEM;
    order_replicas(r, p);
    return query_begin(r, now_ns, out);
}

static int in_set(const int *v, int n, int replica)
{
    for (int i = 0; i < n; i++)
        if (v[i] == replica)
            return 1;
    return 0;
}

static int is_failed(const struct coord_read *r, int replica)
{
    return in_set(r->failed, r->nfailed, replica);
}

/* mark_failed -- `replica` is not asked again by this read. */
static void mark_failed(struct coord_read *r, int replica)
{
    if (!is_failed(r, replica) && r->nfailed < COORD_MAX_TARGETS)
        r->failed[r->nfailed++] = replica;
}

/* mark_slow -- `replica` goes last: asked only if others fail. */
static void mark_slow(struct coord_read *r, int replica)
{
    if (!in_set(r->slow, r->nslow, replica) && r->nslow < COORD_MAX_TARGETS)
        r->slow[r->nslow++] = replica;
}

/*
 * restart -- a participant of the slice rounds failed: forget every
 * request and the answer so far, and read again from the query phase
 * among the replicas that have not failed; or end with `rc` when too
 * few remain. Late answers to the forgotten requests carry tags no
 * longer known, so they are ignored.
 */
static int restart(struct coord_read *r, int rc, int acked, int64_t now_ns,
                   struct coord_acts *out)
{
    int n = 0, old[COORD_MAX_TARGETS], nold = r->norder;

    /* Failed replicas go; slow ones move behind the others. */
    memcpy(old, r->order, sizeof(old));
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nold; i++)
            if (!is_failed(r, old[i]) &&
                in_set(r->slow, r->nslow, old[i]) == pass)
                r->order[n++] = old[i];
    r->norder = n;
    if (n < r->required)
        return act_done(r, rc, acked, out);
    reqs_free(r->q, r->nq);
    reqs_free(r->s, r->ns);
    reqs_free(r->w, r->nw);
    r->nq = r->ns = r->nw = 0;
    coord_part_free(&r->answer);
    coord_part_init(&r->answer);
    r->answer_rows = 0;
    r->answer_full = r->answer_more = 0;
    mem_free(r->cursor);
    r->cursor = NULL;
    r->cursor_n = 0;
    r->has_cursor = 0;
    r->last_slice = 0;
    return query_begin(r, now_ns, out);
}

/* ---- slices ---- */

/*
 * arm_round -- a slice or repair round began: past the speculative
 * delay, a participant still silent is replaced (see round_spec), so no
 * round waits on one silent replica longer than that.
 */
static int arm_round(struct coord_read *r, int64_t now_ns,
                     struct coord_acts *out)
{
    int64_t spec = r->spec_default_ns;

    r->spec_armed = 0;
    if (spec < 0 || now_ns + spec >= r->deadline_ns)
        return 0;
    r->spec_at_ns = now_ns + spec;
    r->spec_armed = 1;
    return act_timer(r->spec_at_ns, out);
}

static int start_slice(struct coord_read *r, int64_t now_ns,
                       struct coord_acts *out)
{
    struct storage_read rd = {.table_id = r->query.table_id,
                              .pkey = r->query.pkey,
                              .after = {r->cursor, r->cursor_n},
                              .has_after = r->has_cursor,
                              .limit_rows = r->slice_rows,
                              .include_tombstones = 1};
    struct coord_req old[COORD_MAX_TARGETS];
    int n = r->ns, rc = 0;

    /* The participants are those of the previous round (or query). */
    memcpy(old, r->ns ? r->s : r->q, sizeof(old));
    if (!r->ns)
        n = r->nq;
    reqs_free(r->s, r->ns);
    reqs_free(r->w, r->nw);
    r->ns = r->nw = 0;
    r->phase = COORD_READ_SLICE;
    r->slices++;
    for (int i = 0; !rc && i < n; i++)
        if (old[i].state == COORD_T_ACKED)
            rc = send_read(r, &r->s[r->ns++], old[i].replica, 0, &rd, now_ns,
                           out);
    return rc ? rc : arm_round(r, now_ns, out);
}

/* slice_bound -- where every participant's reply is complete. */
static const struct storage_bytes *slice_bound(struct coord_read *r, int *more)
{
    const struct storage_bytes *b = NULL;

    *more = 0;
    for (int i = 0; i < r->ns; i++) {
        const struct storage_partition *p = &r->s[i].data.p;
        const struct storage_bytes *last;

        /* A reply that stopped must hold a row; else treat it as ended. */
        if (!r->s[i].more || p->nrows == 0)
            continue;
        *more = 1;
        last = &p->rows[p->nrows - 1].ck;
        if (!b || coord_bytes_cmp(*last, *b) < 0)
            b = last;
    }
    return b;
}

/* in_query -- may row `ck` belong to the client's page? -1 before, 1
   after the queried range, 0 inside. */
static int in_query(const struct coord_read *r, struct storage_bytes ck)
{
    const struct storage_read *q = &r->query;

    if (q->ck_start.n && coord_bytes_cmp(ck, q->ck_start) < 0)
        return -1;
    if (q->has_after && coord_bytes_cmp(ck, q->after) <= 0)
        return -1;
    if (q->ck_end.n && coord_bytes_cmp(ck, q->ck_end) > 0)
        return 1;
    return 0;
}

/* take_answer -- add the client's rows of merged slice `m`. */
static int take_answer(struct coord_read *r, const struct storage_partition *m)
{
    struct storage_partition v = *m;
    const struct storage_partition *in[2] = {&r->answer.p, &v};
    struct coord_part next;
    size_t i = 0, j;

    while (i < m->nrows && in_query(r, m->rows[i].ck) < 0)
        i++;
    j = i;
    while (j < m->nrows && in_query(r, m->rows[j].ck) == 0) {
        if (r->answer_full) {
            r->answer_more = 1;
            break;
        }
        j++;
        if (r->query.limit_rows && ++r->answer_rows >= r->query.limit_rows)
            r->answer_full = 1;
    }
    v.rows = m->rows + i;
    v.nrows = j - i;
    if (coord_resolve_merge(in, 2, &next))
        return -ENOMEM;
    coord_part_move(&r->answer, &next);
    return 0;
}

static int finish_ok(struct coord_read *r, struct coord_acts *out)
{
    return act_done(r, 0, r->required, out);
}

/* send_repairs -- each participant gets what it lacks of `merged`. */
static int send_repairs(struct coord_read *r,
                        const struct storage_partition *merged,
                        const struct storage_bytes *bound, int64_t now_ns,
                        struct coord_acts *out)
{
    for (int i = 0; i < r->ns; i++) {
        struct coord_req *w = &r->w[r->nw];
        struct coord_part mine;
        struct coord_act a = {.kind = COORD_ACT_SEND_REPAIR,
                              .replica = r->s[i].replica};
        int rc;

        memset(w, 0, sizeof(*w));
        if (coord_resolve_trim(&r->s[i].data.p, bound, &mine))
            return -ENOMEM;
        rc = coord_resolve_diff(&mine.p, merged, &w->data);
        coord_part_free(&mine);
        if (rc)
            return rc;
        if (coord_part_empty(&w->data.p)) {
            coord_part_free(&w->data);
            continue;
        }
        w->replica = a.replica;
        w->tag = a.tag = ++r->next_tag;
        w->state = COORD_T_SENT;
        w->sent_ns = now_ns;
        a.part = &w->data.p;
        r->nw++;
        r->repairs_sent++;
        if (coord_acts_push(out, &a))
            return -ENOMEM;
    }
    return 0;
}

/* next_round -- after a slice is settled: the next slice, or the end. */
static int next_round(struct coord_read *r, int64_t now_ns,
                      struct coord_acts *out)
{
    if (r->last_slice)
        return finish_ok(r, out);
    return start_slice(r, now_ns, out);
}

static int set_cursor(struct coord_read *r, const struct storage_bytes *b)
{
    uint8_t *c = mem_alloc(MEM_SERVER, b->n + 1);

    if (!c)
        return -ENOMEM;
    if (b->n)
        memcpy(c, b->p, b->n);
    mem_free(r->cursor);
    r->cursor = c;
    r->cursor_n = b->n;
    r->has_cursor = 1;
    return 0;
}

/* slice_done -- every participant answered the current slice. */
static int slice_done(struct coord_read *r, int64_t now_ns,
                      struct coord_acts *out)
{
    const struct storage_partition *in[COORD_MAX_TARGETS];
    struct coord_part trimmed[COORD_MAX_TARGETS], merged;
    const struct storage_bytes *bound;
    int more, rc = 0, nt = 0;

    bound = slice_bound(r, &more);
    for (; nt < r->ns && !rc; nt++) {
        rc = coord_resolve_trim(&r->s[nt].data.p, bound, &trimmed[nt]);
        in[nt] = &trimmed[nt].p;
    }
    if (!rc)
        rc = coord_resolve_merge(in, r->ns, &merged);
    for (int i = 0; i < nt; i++)
        coord_part_free(&trimmed[i]);
    if (rc)
        return rc;
    rc = take_answer(r, &merged.p);
    if (!rc && r->read_repair)
        rc = send_repairs(r, &merged.p, bound, now_ns, out);
    coord_part_free(&merged);
    if (!rc && more)
        rc = set_cursor(r, bound);
    if (rc)
        return rc;
    r->last_slice = !more;
    if (r->nw) {
        r->phase = COORD_READ_REPAIR;
        return arm_round(r, now_ns, out);
    }
    return next_round(r, now_ns, out);
}

/* ---- query phase ---- */

static int query_agrees(const struct coord_read *r)
{
    const struct coord_req *first = NULL;

    for (int i = 0; i < r->nq; i++) {
        const struct coord_req *q = &r->q[i];
        if (q->state != COORD_T_ACKED)
            continue;
        if (first && (q->digest != first->digest || q->more != first->more))
            return 0;
        first = first ? first : q;
    }
    return 1;
}

static int query_answer(struct coord_read *r, struct coord_acts *out)
{
    for (int i = 0; i < r->nq; i++) {
        if (r->q[i].state == COORD_T_ACKED && r->q[i].has_data) {
            coord_part_move(&r->answer, &r->q[i].data);
            r->answer_more = r->q[i].more;
            break;
        }
    }
    return finish_ok(r, out);
}

/* query_retry -- ask the next spare replica for data; 1 if sent. */
static int query_retry(struct coord_read *r, int64_t now_ns,
                       struct coord_acts *out, int *sent)
{
    *sent = 0;
    if (r->next_spare >= r->norder || r->nq >= COORD_MAX_TARGETS)
        return 0;
    *sent = 1;
    return send_read(r, &r->q[r->nq++], r->order[r->next_spare++], 0, &r->query,
                     now_ns, out);
}

static int sent_data(const struct coord_req *v, int n)
{
    int c = 0;

    for (int i = 0; i < n; i++)
        c += v[i].state == COORD_T_SENT && !v[i].digest_only;
    return c;
}

static int query_progress(struct coord_read *r, int last_rc, int64_t now_ns,
                          struct coord_acts *out)
{
    int ndata, ok = count_ok(r->q, r->nq, &ndata), sent, rc;

    if (ok >= r->required && ndata > 0) {
        if (query_agrees(r))
            return query_answer(r, out);
        return start_slice(r, now_ns, out);
    }
    if (!last_rc)
        return 0;
    /* A replica failed: wait if the outstanding ones can still do it. */
    if (ok + count_sent(r->q, r->nq) >= r->required &&
        ndata + sent_data(r->q, r->nq) > 0)
        return 0;
    rc = query_retry(r, now_ns, out, &sent);
    if (rc || sent)
        return rc;
    return act_done(r, last_rc, ok, out);
}

static int query_reply(struct coord_read *r, struct coord_req *q, int rc,
                       const struct storage_partition *data, uint64_t digest,
                       int more, int64_t now_ns, struct coord_acts *out)
{
    if (rc) {
        q->state = COORD_T_FAILED;
        /* Every replica would refuse the same way: no point waiting. */
        if (rc == CAIRN_ETOOBIG)
            return act_done(r, rc, 0, out);
        mark_failed(r, q->replica);
        return query_progress(r, rc, now_ns, out);
    }
    q->state = COORD_T_ACKED;
    q->more = more;
    if (!q->digest_only) {
        if (!data)
            return err_set(-EINVAL, "read reply without data");
        if (coord_resolve_merge(&data, 1, &q->data) ||
            coord_resolve_digest(&q->data.p, &q->digest))
            return -ENOMEM;
        q->has_data = 1;
    } else {
        q->digest = digest;
    }
    return query_progress(r, 0, now_ns, out);
}

/* ---- replies and timers ---- */

static int slice_reply(struct coord_read *r, struct coord_req *q, int rc,
                       const struct storage_partition *data, int more,
                       int64_t now_ns, struct coord_acts *out)
{
    int ndata;

    if (rc) {
        q->state = COORD_T_FAILED;
        if (rc == CAIRN_ETOOBIG)
            return act_done(r, rc, count_ok(r->s, r->ns, &ndata), out);
        mark_failed(r, q->replica);
        return restart(r, rc, count_ok(r->s, r->ns, &ndata), now_ns, out);
    }
    if (!data)
        return err_set(-EINVAL, "slice reply without data");
    if (coord_resolve_merge(&data, 1, &q->data))
        return -ENOMEM;
    q->has_data = 1;
    q->more = more;
    q->state = COORD_T_ACKED;
    if (count_sent(r->s, r->ns) == 0)
        return slice_done(r, now_ns, out);
    return 0;
}

static int repair_reply(struct coord_read *r, struct coord_req *w, int rc,
                        int64_t now_ns, struct coord_acts *out)
{
    int ndata;

    w->state = rc ? COORD_T_FAILED : COORD_T_ACKED;
    if (rc) {
        mark_failed(r, w->replica);
        return restart(r, rc, count_ok(r->w, r->nw, &ndata), now_ns, out);
    }
    if (count_sent(r->w, r->nw) == 0)
        return next_round(r, now_ns, out);
    return 0;
}

int coord_read_on_reply(struct coord_read *r, uint32_t tag, int rc,
                        const struct storage_partition *data, uint64_t digest,
                        int more, int64_t now_ns, struct coord_acts *out)
{
    struct coord_req *q;

    if (r->phase == COORD_READ_DONE)
        goto late;
    if ((q = find(r->q, r->nq, tag)) && q->state == COORD_T_SENT) {
        coord_snitch_record(r->snitch, q->replica,
                            (now_ns - q->sent_ns) / 1000);
        if (r->phase != COORD_READ_QUERY) {
            q->state = rc ? COORD_T_FAILED : COORD_T_ACKED;
            if (rc)
                mark_failed(r, q->replica);
            return 0; /* a speculative answer after the decision */
        }
        return query_reply(r, q, rc, data, digest, more, now_ns, out);
    }
    if (r->phase == COORD_READ_SLICE && (q = find(r->s, r->ns, tag)) &&
        q->state == COORD_T_SENT)
        return slice_reply(r, q, rc, data, more, now_ns, out);
    if (r->phase == COORD_READ_REPAIR && (q = find(r->w, r->nw, tag)) &&
        q->state == COORD_T_SENT)
        return repair_reply(r, q, rc, now_ns, out);
    return 0;
late:
    /* Still mark query answers, so coord_read_finished() can tell. */
    if ((q = find(r->q, r->nq, tag)) && q->state == COORD_T_SENT)
        q->state = rc ? COORD_T_FAILED : COORD_T_ACKED;
    else if ((q = find(r->s, r->ns, tag)) && q->state == COORD_T_SENT)
        q->state = COORD_T_FAILED;
    else if ((q = find(r->w, r->nw, tag)) && q->state == COORD_T_SENT)
        q->state = rc ? COORD_T_FAILED : COORD_T_ACKED;
    return 0;
}

static int outstanding(const struct coord_req *v, int n, int replica,
                       uint32_t *tags, int max, int got)
{
    for (int i = 0; i < n && got < max; i++)
        if (v[i].state == COORD_T_SENT && v[i].replica == replica)
            tags[got++] = v[i].tag;
    return got;
}

int coord_read_outstanding(const struct coord_read *r, int replica,
                           uint32_t *tags, int max)
{
    int got = outstanding(r->q, r->nq, replica, tags, max, 0);

    got = outstanding(r->s, r->ns, replica, tags, max, got);
    return outstanding(r->w, r->nw, replica, tags, max, got);
}

static void expire(struct coord_req *v, int n)
{
    for (int i = 0; i < n; i++)
        if (v[i].state == COORD_T_SENT)
            v[i].state = COORD_T_TIMEDOUT;
}

/*
 * round_spec -- the speculative delay of a slice or repair round is
 * over: when replicas outside the silent participants still make a
 * quorum, drop the silent ones and start over; else keep waiting.
 */
static int round_spec(struct coord_read *r, int64_t now_ns,
                      struct coord_acts *out)
{
    struct coord_req *v = r->phase == COORD_READ_SLICE ? r->s : r->w;
    int n = r->phase == COORD_READ_SLICE ? r->ns : r->nw;
    int silent = 0, usable = 0, ndata;

    for (int i = 0; i < n; i++)
        silent += v[i].state == COORD_T_SENT;
    for (int i = 0; i < r->norder; i++) {
        int bad =
            is_failed(r, r->order[i]) || in_set(r->slow, r->nslow, r->order[i]);
        for (int j = 0; j < n && !bad; j++)
            bad = v[j].state == COORD_T_SENT && v[j].replica == r->order[i];
        usable += !bad;
    }
    if (!silent || usable < r->required)
        return 0;
    for (int i = 0; i < n; i++)
        if (v[i].state == COORD_T_SENT)
            mark_slow(r, v[i].replica);
    return restart(r, CAIRN_ETIMEOUT, count_ok(v, n, &ndata), now_ns, out);
}

int coord_read_on_timer(struct coord_read *r, int64_t now_ns,
                        struct coord_acts *out)
{
    int ndata, acked, sent;

    if (r->phase == COORD_READ_DONE) {
        if (now_ns >= r->deadline_ns) {
            expire(r->q, r->nq);
            expire(r->s, r->ns);
            expire(r->w, r->nw);
        }
        return 0;
    }
    if (now_ns >= r->deadline_ns) {
        acked = r->phase == COORD_READ_QUERY   ? count_ok(r->q, r->nq, &ndata)
                : r->phase == COORD_READ_SLICE ? count_ok(r->s, r->ns, &ndata)
                                               : count_ok(r->w, r->nw, &ndata);
        expire(r->q, r->nq);
        expire(r->s, r->ns);
        expire(r->w, r->nw);
        return act_done(r, CAIRN_ETIMEOUT, acked, out);
    }
    if (!r->spec_armed || now_ns < r->spec_at_ns)
        return 0;
    r->spec_armed = 0;
    if (r->phase != COORD_READ_QUERY)
        return round_spec(r, now_ns, out);
    if (count_sent(r->q, r->nq) == 0)
        return 0;
    return query_retry(r, now_ns, out, &sent);
}

const struct storage_partition *coord_read_result(const struct coord_read *r,
                                                  int *more)
{
    *more = r->answer_more;
    return &r->answer.p;
}

int coord_read_finished(const struct coord_read *r)
{
    return r->phase == COORD_READ_DONE && count_sent(r->q, r->nq) == 0 &&
           count_sent(r->s, r->ns) == 0 && count_sent(r->w, r->nw) == 0;
}

void coord_read_free(struct coord_read *r)
{
    reqs_free(r->q, r->nq);
    reqs_free(r->s, r->ns);
    reqs_free(r->w, r->nw);
    coord_part_free(&r->answer);
    mem_free(r->qmem);
    mem_free(r->cursor);
    r->qmem = NULL;
    r->cursor = NULL;
    r->nq = r->ns = r->nw = 0;
}
