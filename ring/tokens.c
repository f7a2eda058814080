/*
 * tokens.c -- token metadata and replica placement (see tokens.h).
 *
 * The working copy keeps nodes in an array sorted by host id, each with its
 * own sorted tokens. A snapshot flattens that into one array of (token,
 * node index) sorted by token, so that finding a key's place is a binary
 * search and the clockwise walk is a scan. Snapshots never change after
 * they are built; only their reference count moves (atomically).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/mem.h"
#include "ring/tokens.h"

struct tokens_node {
    struct ring_host_id id;
    char rack[TOKENS_RACK_MAX];
    int64_t *tokens; /* sorted, owned */
    size_t ntokens;
};

struct tokens_pend {
    int64_t left, right; /* the range (left, right], wrapping if left>=right */
    struct ring_host_id id;
};

struct tokens_meta {
    struct tokens_node *nodes; /* sorted by id */
    size_t nnodes, cap;
    struct tokens_pend *pend;
    size_t npend, pend_cap;
};

struct tokens_entry {
    int64_t token;
    uint32_t node;
};

struct tokens_snap {
    atomic_int refs;
    struct tokens_node *nodes; /* sorted by id; tokens owned by the snapshot */
    size_t nnodes;
    struct tokens_entry *ring; /* sorted by token */
    size_t nring;
    uint32_t *rack_of; /* per node: index of its rack among distinct racks */
    size_t nracks;     /* distinct racks; racks count only when > 1 */
    struct tokens_pend *pend;
    size_t npend;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int cmp_entry(const void *a, const void *b)
{
    return cmp_i64(&((const struct tokens_entry *)a)->token,
                   &((const struct tokens_entry *)b)->token);
}

/* Binary search of `id` in a sorted node array; the insertion point when
 * absent goes to *at. */
static long node_search(const struct tokens_node *nodes, size_t n,
                        const struct ring_host_id *id, size_t *at)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ring_host_id_cmp(&nodes[mid].id, id);

        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (at)
        *at = lo;
    return -1;
}

/* Index of the first ring entry with token >= t, wrapping to 0. */
static size_t ring_search(const struct tokens_snap *s, int64_t t)
{
    size_t lo = 0, hi = s->nring;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->ring[mid].token < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == s->nring ? 0 : lo;
}

static bool snap_has_token(const struct tokens_snap *s, int64_t t)
{
    return s && s->nring > 0 && s->ring[ring_search(s, t)].token == t;
}

int tokens_pick(struct ring_rand *r, const struct tokens_snap *taken, size_t n,
                int64_t *out)
{
    size_t got = 0;

    if (n == 0 || n > TOKENS_MAX_NUM)
        return err_set(-EINVAL, "num_tokens %zu not in 1..%d", n,
                       TOKENS_MAX_NUM);
    while (got < n) {
        int64_t t = (int64_t)r->next(r->ctx);
        bool dup = snap_has_token(taken, t);

        for (size_t i = 0; i < got && !dup; i++)
            dup = out[i] == t;
        if (!dup)
            out[got++] = t;
    }
    qsort(out, n, sizeof(*out), cmp_i64);
    return 0;
}

struct tokens_meta *tokens_meta_new(void)
{
    return mem_calloc(MEM_RING, 1, sizeof(struct tokens_meta));
}

void tokens_meta_free(struct tokens_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nnodes; i++)
        mem_free(m->nodes[i].tokens);
    mem_free(m->nodes);
    mem_free(m->pend);
    mem_free(m);
}

/* Does any node other than `self` own token t? Linear per node, binary
 * within: set_node is rare (membership changes), so this stays simple. */
static bool token_owned_by_other(const struct tokens_meta *m, long self,
                                 int64_t t)
{
    for (size_t i = 0; i < m->nnodes; i++) {
        const struct tokens_node *nd = &m->nodes[i];

        if ((long)i == self)
            continue;
        if (bsearch(&t, nd->tokens, nd->ntokens, sizeof(t), cmp_i64))
            return true;
    }
    return false;
}

static int check_tokens(const struct tokens_meta *m, long self,
                        const int64_t *sorted, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && sorted[i] == sorted[i - 1])
            return err_set(-EINVAL, "token %lld listed twice",
                           (long long)sorted[i]);
        if (token_owned_by_other(m, self, sorted[i]))
            return err_set(-EINVAL, "token %lld owned by another node",
                           (long long)sorted[i]);
    }
    return 0;
}

static int insert_node(struct tokens_meta *m, size_t at,
                       const struct ring_host_id *id)
{
    if (m->nnodes == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        void *p = mem_realloc(MEM_RING, m->nodes, cap * sizeof(*m->nodes));

        if (!p)
            return err_set(-ENOMEM, "token metadata: %zu nodes", cap);
        m->nodes = p;
        m->cap = cap;
    }
    memmove(&m->nodes[at + 1], &m->nodes[at],
            (m->nnodes - at) * sizeof(*m->nodes));
    memset(&m->nodes[at], 0, sizeof(m->nodes[at]));
    m->nodes[at].id = *id;
    m->nnodes++;
    return 0;
}

int tokens_meta_set_node(struct tokens_meta *m, const struct ring_host_id *id,
                         const char *rack, const int64_t *tokens, size_t n)
{
    size_t at = 0;
    long idx = node_search(m->nodes, m->nnodes, id, &at);
    int64_t *sorted;
    int rc;

    if (n == 0 || n > TOKENS_MAX_NUM)
        return err_set(-EINVAL, "node owns %zu tokens, not 1..%d", n,
                       TOKENS_MAX_NUM);
    if (rack && strlen(rack) >= TOKENS_RACK_MAX)
        return err_set(-EINVAL, "rack name longer than %d bytes",
                       TOKENS_RACK_MAX - 1);
    sorted = mem_memdup(MEM_RING, tokens, n * sizeof(*tokens));
    if (!sorted)
        return err_set(-ENOMEM, "token metadata: %zu tokens", n);
    qsort(sorted, n, sizeof(*sorted), cmp_i64);
    rc = check_tokens(m, idx, sorted, n);
    if (rc == 0 && idx < 0) {
        rc = insert_node(m, at, id);
        idx = (long)at;
    }
    if (rc < 0) {
        mem_free(sorted);
        return rc;
    }
    mem_free(m->nodes[idx].tokens);
    m->nodes[idx].tokens = sorted;
    m->nodes[idx].ntokens = n;
    snprintf(m->nodes[idx].rack, TOKENS_RACK_MAX, "%s", rack ? rack : "");
    return 0;
}

int tokens_meta_remove_node(struct tokens_meta *m,
                            const struct ring_host_id *id)
{
    long idx = node_search(m->nodes, m->nnodes, id, NULL);
    char hs[40];

    if (idx < 0)
        return err_set(CAIRN_ENOTFOUND, "no node %s in token metadata",
                       ring_host_id_str(id, hs));
    mem_free(m->nodes[idx].tokens);
    memmove(&m->nodes[idx], &m->nodes[idx + 1],
            (m->nnodes - (size_t)idx - 1) * sizeof(*m->nodes));
    m->nnodes--;
    return 0;
}

int tokens_meta_add_pending(struct tokens_meta *m, int64_t left, int64_t right,
                            const struct ring_host_id *id)
{
    if (m->npend == m->pend_cap) {
        size_t cap = m->pend_cap ? m->pend_cap * 2 : 8;
        void *p = mem_realloc(MEM_RING, m->pend, cap * sizeof(*m->pend));

        if (!p)
            return err_set(-ENOMEM, "pending ranges: %zu", cap);
        m->pend = p;
        m->pend_cap = cap;
    }
    m->pend[m->npend++] = (struct tokens_pend){left, right, *id};
    return 0;
}

void tokens_meta_clear_pending(struct tokens_meta *m)
{
    m->npend = 0;
}

static void snap_free(struct tokens_snap *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->nodes && i < s->nnodes; i++)
        mem_free(s->nodes[i].tokens);
    mem_free(s->nodes);
    mem_free(s->ring);
    mem_free(s->rack_of);
    mem_free(s->pend);
    mem_free(s);
}

/* Give every node the index of its rack among the distinct rack names. */
static void snap_index_racks(struct tokens_snap *s)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        size_t j;

        for (j = 0; j < i; j++)
            if (strcmp(s->nodes[j].rack, s->nodes[i].rack) == 0)
                break;
        s->rack_of[i] = j < i ? s->rack_of[j] : (uint32_t)s->nracks++;
    }
}

static int snap_copy_nodes(struct tokens_snap *s, const struct tokens_meta *m)
{
    size_t k = 0;

    for (size_t i = 0; i < m->nnodes; i++) {
        const struct tokens_node *src = &m->nodes[i];
        struct tokens_node *dst = &s->nodes[i];

        *dst = *src;
        dst->tokens =
            mem_memdup(MEM_RING, src->tokens, src->ntokens * sizeof(int64_t));
        if (!dst->tokens)
            return err_set(-ENOMEM, "token snapshot");
        s->nnodes = i + 1;
        for (size_t t = 0; t < src->ntokens; t++)
            s->ring[k++] = (struct tokens_entry){src->tokens[t], (uint32_t)i};
    }
    s->nring = k;
    qsort(s->ring, s->nring, sizeof(*s->ring), cmp_entry);
    return 0;
}

int tokens_snap_build(const struct tokens_meta *m, struct tokens_snap **out)
{
    struct tokens_snap *s = mem_calloc(MEM_RING, 1, sizeof(*s));
    size_t total = 0;
    int rc;

    *out = NULL;
    if (!s)
        return err_set(-ENOMEM, "token snapshot");
    atomic_init(&s->refs, 1);
    for (size_t i = 0; i < m->nnodes; i++)
        total += m->nodes[i].ntokens;
    s->nodes = mem_calloc(MEM_RING, m->nnodes + 1, sizeof(*s->nodes));
    s->ring = mem_calloc(MEM_RING, total + 1, sizeof(*s->ring));
    s->rack_of = mem_calloc(MEM_RING, m->nnodes + 1, sizeof(*s->rack_of));
    s->pend = mem_calloc(MEM_RING, m->npend + 1, sizeof(*s->pend));
    if (!s->nodes || !s->ring || !s->rack_of || !s->pend) {
        snap_free(s);
        return err_set(-ENOMEM, "token snapshot of %zu tokens", total);
    }
    rc = snap_copy_nodes(s, m);
    if (rc < 0) {
        snap_free(s);
        return rc;
    }
    snap_index_racks(s);
    if (m->npend > 0)
        memcpy(s->pend, m->pend, m->npend * sizeof(*s->pend));
    s->npend = m->npend;
    *out = s;
    return 0;
}

struct tokens_snap *tokens_snap_ref(struct tokens_snap *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void tokens_snap_unref(struct tokens_snap *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        snap_free(s);
}

size_t tokens_snap_node_count(const struct tokens_snap *s)
{
    return s->nnodes;
}

size_t tokens_snap_token_count(const struct tokens_snap *s)
{
    return s->nring;
}

int tokens_snap_sorted_tokens(const struct tokens_snap *s, int64_t **out,
                              size_t *n)
{
    int64_t *v = mem_calloc(MEM_RING, s->nring + 1, sizeof(*v));

    *out = NULL;
    *n = 0;
    if (v == NULL)
        return err_set(-ENOMEM, "no memory for %zu ring tokens", s->nring);
    for (size_t i = 0; i < s->nring; i++)
        v[i] = s->ring[i].token;
    *out = v;
    *n = s->nring;
    return 0;
}

const struct ring_host_id *tokens_snap_node(const struct tokens_snap *s,
                                            size_t i, const char **rack,
                                            const int64_t **tokens,
                                            size_t *ntokens)
{
    if (rack)
        *rack = s->nodes[i].rack;
    if (tokens)
        *tokens = s->nodes[i].tokens;
    if (ntokens)
        *ntokens = s->nodes[i].ntokens;
    return &s->nodes[i].id;
}

long tokens_snap_find(const struct tokens_snap *s,
                      const struct ring_host_id *id)
{
    return node_search(s->nodes, s->nnodes, id, NULL);
}

long tokens_snap_owner(const struct tokens_snap *s, int64_t token)
{
    if (s->nring == 0)
        return -1;
    return s->ring[ring_search(s, token)].node;
}

static bool in_list(const size_t *list, size_t n, size_t x)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == x)
            return true;
    return false;
}

/*
 * The clockwise walk from ring entry `start`. Without racks it takes each
 * new node. With racks it takes a node of an unused rack at once and
 * defers the others; once every rack is used, the deferred nodes come
 * first (in the order met), then the walk goes on taking any new node.
 */
static size_t walk_replicas(const struct tokens_snap *s, size_t start,
                            size_t want, size_t *out, size_t *skip,
                            bool *rack_used)
{
    bool racks = s->nracks > 1;
    size_t n = 0, nskip = 0, racks_used = 0;

    for (size_t k = 0; k < s->nring && n < want; k++) {
        size_t node = s->ring[(start + k) % s->nring].node;

        if (in_list(out, n, node) || in_list(skip, nskip, node))
            continue;
        if (!racks || racks_used == s->nracks) {
            out[n++] = node;
        } else if (!rack_used[s->rack_of[node]]) {
            rack_used[s->rack_of[node]] = true;
            out[n++] = node;
            if (++racks_used == s->nracks) {
                for (size_t j = 0; j < nskip && n < want; j++)
                    out[n++] = skip[j];
                nskip = 0;
            }
        } else {
            skip[nskip++] = node;
        }
    }
    for (size_t j = 0; j < nskip && n < want; j++)
        out[n++] = skip[j];
    return n;
}

int tokens_snap_replicas(const struct tokens_snap *s, int64_t token, size_t rf,
                         size_t *out, size_t *n)
{
    /* Routing is on every request's path: small rings walk with scratch
     * space on the stack and never allocate. */
    size_t skip_stack[64], *skip = skip_stack;
    bool used_stack[64], *rack_used = used_stack;
    size_t want = rf < s->nnodes ? rf : s->nnodes;

    *n = 0;
    if (rf == 0)
        return err_set(-EINVAL, "replication factor 0");
    if (s->nring == 0)
        return 0;
    if (s->nnodes > 64)
        skip = mem_calloc(MEM_RING, s->nnodes, sizeof(*skip));
    if (s->nracks > 64)
        rack_used = mem_calloc(MEM_RING, s->nracks, sizeof(*rack_used));
    else
        memset(used_stack, 0, sizeof(used_stack));
    if (!skip || !rack_used) {
        if (skip != skip_stack)
            mem_free(skip);
        if (rack_used != used_stack)
            mem_free(rack_used);
        return err_set(-ENOMEM, "replica walk over %zu nodes", s->nnodes);
    }
    *n = walk_replicas(s, ring_search(s, token), want, out, skip, rack_used);
    if (skip != skip_stack)
        mem_free(skip);
    if (rack_used != used_stack)
        mem_free(rack_used);
    return 0;
}

static bool in_range(int64_t left, int64_t right, int64_t t)
{
    if (left < right)
        return t > left && t <= right;
    return t > left || t <= right; /* wraps; left == right is everything */
}

void tokens_snap_pending(const struct tokens_snap *s, int64_t token,
                         struct ring_host_id *out, size_t cap, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < s->npend && *n < cap; i++) {
        const struct tokens_pend *p = &s->pend[i];
        bool seen = false;

        if (!in_range(p->left, p->right, token))
            continue;
        for (size_t j = 0; j < *n && !seen; j++)
            seen = ring_host_id_eq(&out[j], &p->id);
        if (!seen)
            out[(*n)++] = p->id;
    }
}

int tokens_snap_write_replicas(const struct tokens_snap *s, int64_t token,
                               size_t rf, struct ring_host_id *out, size_t cap,
                               size_t *n)
{
    size_t *idx = mem_calloc(MEM_RING, rf + 1, sizeof(*idx));
    size_t nat = 0, npend = 0;
    int rc;

    *n = 0;
    if (!idx)
        return err_set(-ENOMEM, "replica list of %zu", rf);
    rc = tokens_snap_replicas(s, token, rf, idx, &nat);
    for (size_t i = 0; rc == 0 && i < nat && *n < cap; i++)
        out[(*n)++] = s->nodes[idx[i]].id;
    mem_free(idx);
    if (rc < 0 || *n == cap)
        return rc;
    /* Pending replicas go after the natural ones; one that is already a
     * natural replica is not listed twice. */
    tokens_snap_pending(s, token, out + nat, cap - nat, &npend);
    for (size_t i = 0; i < npend; i++) {
        struct ring_host_id p = out[nat + i];
        bool dup = false;

        for (size_t j = 0; j < nat && !dup; j++)
            dup = ring_host_id_eq(&out[j], &p);
        if (!dup)
            out[(*n)++] = p;
    }
    return 0;
}

int tokens_snap_ownership(const struct tokens_snap *s, size_t rf, double *out)
{
    size_t *reps;
    int rc = 0;

    if (rf == 0)
        return err_set(-EINVAL, "replication factor 0");
    memset(out, 0, s->nnodes * sizeof(*out));
    reps = mem_calloc(MEM_RING, rf, sizeof(*reps));
    if (!reps)
        return err_set(-ENOMEM, "ownership");
    for (size_t i = 0; i < s->nring && rc == 0; i++) {
        /* Range (prev, this]; unsigned difference wraps around the ring,
         * and a single token owns the whole ring (difference 0). */
        uint64_t prev = (uint64_t)s->ring[(i + s->nring - 1) % s->nring].token;
        uint64_t width = (uint64_t)s->ring[i].token - prev;
        double frac = s->nring == 1 ? 1.0 : (double)width / 0x1p64;
        size_t n = 0;

        rc = tokens_snap_replicas(s, s->ring[i].token, rf, reps, &n);
        for (size_t j = 0; j < n; j++)
            out[reps[j]] += frac;
    }
    mem_free(reps);
    return rc;
}
