/*
 * validate.c -- request checks and paging-state codecs (validate.h).
 *
 * Each check records one detail that names the field and the limit, since
 * the message goes back to the client as is.
 */
#include "server/validate.h"

#include <string.h>

#include "common/coding.h"
#include "common/err.h"
#include "common/mem.h"

#define PAGING_READ_TAG 0x52 /* 'R' */
#define PAGING_SCAN_TAG 0x53 /* 'S' */

int validate_name(const char *what, const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > VALIDATE_NAME_MAX)
        return err_set(-EINVAL, "%s name must have 1 to %d characters", what,
                       VALIDATE_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return err_set(-EINVAL,
                           "%s name \"%.64s\" may hold only "
                           "letters, digits and _",
                           what, name);
    }
    return 0;
}

static int val_key(const char *what, const ProtobufCBinaryData *b, int required)
{
    if (required && b->len == 0)
        return err_set(-EINVAL, "%s must not be empty", what);
    if (b->len > VALIDATE_KEY_MAX)
        return err_set(CAIRN_ETOOBIG,
                       "%s of %zu bytes is over the limit "
                       "of %d bytes",
                       what, b->len, VALIDATE_KEY_MAX);
    return 0;
}

static int val_table_ref(const char *ks, const char *table)
{
    int rc = validate_name("keyspace", ks);

    return rc ? rc : validate_name("table", table);
}

static int val_options(const Cairn__TableOptions *o)
{
    if (o && o->default_ttl_s > VALIDATE_MAX_TTL)
        return err_set(-EINVAL,
                       "default_ttl_s %u is over the maximum of "
                       "%d (20 years)",
                       o->default_ttl_s, VALIDATE_MAX_TTL);
    return 0;
}

/* val_mut_fields -- which fields a kind may carry, and their sizes. */
static int val_mut_fields(const Cairn__Mutation *m, size_t i,
                          const struct validate_limits *l)
{
    int cell = m->kind == CAIRN__MUTATION_KIND__MUT_CELL;
    int has_col = cell || m->kind == CAIRN__MUTATION_KIND__MUT_CELL_DELETE;

    if (val_key("clustering key", &m->ck, 0) ||
        val_key("clustering range end", &m->ck_end, 0))
        return err_code();
    if (has_col && m->column.len == 0)
        return err_set(-EINVAL, "mutation %zu: column must not be empty", i);
    if (!has_col && m->column.len)
        return err_set(-EINVAL,
                       "mutation %zu: a column on a row, range or "
                       "partition delete",
                       i);
    if (m->column.len > VALIDATE_KEY_MAX)
        return err_set(CAIRN_ETOOBIG,
                       "mutation %zu: column name of %zu "
                       "bytes is over the limit of %d",
                       i, m->column.len, VALIDATE_KEY_MAX);
    if (!cell && (m->value.len || m->ttl_s))
        return err_set(-EINVAL, "mutation %zu: a value or ttl on a delete", i);
    if (m->value.len > l->max_value_bytes)
        return err_set(CAIRN_ETOOBIG,
                       "mutation %zu: value of %zu bytes is "
                       "over the limit of %u bytes (max_value_bytes)",
                       i, m->value.len, l->max_value_bytes);
    return 0;
}

static int val_mutation(const Cairn__Mutation *m, size_t i,
                        const struct validate_limits *l)
{
    int rc;

    if (m == NULL ||
        (unsigned)m->kind > CAIRN__MUTATION_KIND__MUT_PARTITION_DELETE)
        return err_set(-EINVAL, "mutation %zu: unknown kind %d", i,
                       m ? (int)m->kind : -1);
    rc = val_mut_fields(m, i, l);
    if (rc)
        return rc;
    if (m->timestamp < 0)
        return err_set(-EINVAL, "mutation %zu: negative timestamp %lld", i,
                       (long long)m->timestamp);
    if (m->ttl_s > VALIDATE_MAX_TTL)
        return err_set(-EINVAL,
                       "mutation %zu: ttl_s %u is over the maximum "
                       "of %d (20 years)",
                       i, m->ttl_s, VALIDATE_MAX_TTL);
    if (m->kind != CAIRN__MUTATION_KIND__MUT_RANGE_DELETE && m->ck_end.len)
        return err_set(-EINVAL, "mutation %zu: ck_end is for range deletes", i);
    if (m->kind == CAIRN__MUTATION_KIND__MUT_PARTITION_DELETE && m->ck.len)
        return err_set(-EINVAL,
                       "mutation %zu: a clustering key on a "
                       "partition delete",
                       i);
    return 0;
}

static int val_write(const Cairn__Write *w, const struct validate_limits *l)
{
    int rc = val_table_ref(w->keyspace, w->table);

    if (rc || (rc = val_key("partition key", &w->pkey, 1)))
        return rc;
    if (w->n_mutations == 0)
        return err_set(-EINVAL, "a write needs at least one mutation");
    if (w->n_mutations > VALIDATE_MAX_MUTATIONS)
        return err_set(CAIRN_ETOOBIG,
                       "%zu mutations in one write; the "
                       "limit is %d",
                       w->n_mutations, VALIDATE_MAX_MUTATIONS);
    for (size_t i = 0; i < w->n_mutations; i++) {
        rc = val_mutation(w->mutations[i], i, l);
        if (rc)
            return rc;
    }
    return 0;
}

static int val_bytes_cmp(const ProtobufCBinaryData *a,
                         const ProtobufCBinaryData *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;

    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int val_read(const Cairn__Read *r)
{
    const uint8_t *ck;
    size_t ckn;
    int rc = val_table_ref(r->keyspace, r->table);

    if (rc || (rc = val_key("partition key", &r->pkey, 1)) ||
        (rc = val_key("ck_start", &r->ck_start, 0)) ||
        (rc = val_key("ck_end", &r->ck_end, 0)))
        return rc;
    if ((r->ck_end.len || r->has_ck_end) &&
        val_bytes_cmp(&r->ck_start, &r->ck_end) > 0)
        return err_set(-EINVAL, "ck_start sorts after ck_end");
    if (r->paging_state.len &&
        paging_read_decode(r->paging_state.data, r->paging_state.len, &ck,
                           &ckn) < 0)
        return err_code();
    return 0;
}

static int val_scan(const Cairn__Scan *s)
{
    const uint8_t *pk, *ck;
    size_t pkn, ckn;
    int rc = val_table_ref(s->keyspace, s->table);

    if (rc)
        return rc;
    if (s->paging_state.len &&
        paging_scan_decode(s->paging_state.data, s->paging_state.len, &pk, &pkn,
                           &ck, &ckn) < 0)
        return err_code();
    return 0;
}

static int val_keyspace_op(const Cairn__Request *r)
{
    switch (r->op_case) {
    case CAIRN__REQUEST__OP_CREATE_KEYSPACE:
        if (r->create_keyspace->replication_factor < 1 ||
            r->create_keyspace->replication_factor > VALIDATE_MAX_RF)
            return err_set(-EINVAL,
                           "replication_factor must be 1 to %d, "
                           "not %u",
                           VALIDATE_MAX_RF,
                           r->create_keyspace->replication_factor);
        return validate_name("keyspace", r->create_keyspace->name);
    case CAIRN__REQUEST__OP_DROP_KEYSPACE:
        return validate_name("keyspace", r->drop_keyspace->name);
    case CAIRN__REQUEST__OP_LIST_TABLES:
        return validate_name("keyspace", r->list_tables->keyspace);
    default:
        return 0;
    }
}

int validate_request(const Cairn__Request *r, const struct validate_limits *l)
{
    if ((unsigned)r->consistency > CAIRN__CONSISTENCY__CL_ALL)
        return err_set(-EINVAL, "unknown consistency level %d",
                       (int)r->consistency);
    switch (r->op_case) {
    case CAIRN__REQUEST__OP_CREATE_KEYSPACE:
    case CAIRN__REQUEST__OP_DROP_KEYSPACE:
    case CAIRN__REQUEST__OP_LIST_TABLES:
        return val_keyspace_op(r);
    case CAIRN__REQUEST__OP_LIST_KEYSPACES:
        return 0;
    case CAIRN__REQUEST__OP_CREATE_TABLE:
        if (val_table_ref(r->create_table->keyspace, r->create_table->name))
            return err_code();
        return val_options(r->create_table->options);
    case CAIRN__REQUEST__OP_DROP_TABLE:
        return val_table_ref(r->drop_table->keyspace, r->drop_table->name);
    case CAIRN__REQUEST__OP_WRITE:
        return val_write(r->write, l);
    case CAIRN__REQUEST__OP_READ:
        return val_read(r->read);
    case CAIRN__REQUEST__OP_SCAN:
        return val_scan(r->scan);
    case CAIRN__REQUEST__OP_ADMIN:
        if (r->admin->keyspace[0])
            return validate_name("keyspace", r->admin->keyspace);
        return 0; /* the command itself is checked by admin.c */
    default:
        return err_set(CAIRN_EPROTO,
                       "unknown request type (no operation "
                       "this node knows is set); upgrade the node or check "
                       "the client's protocol version");
    }
}

/* ---- paging states ---- */

static int paging_alloc(size_t n, uint8_t **out, size_t *outn)
{
    *out = mem_alloc(MEM_PROTO, n);
    *outn = 0;
    return *out ? 0 : err_set(-ENOMEM, "no memory for a paging state");
}

int paging_read_encode(const uint8_t *ck, size_t ckn, uint8_t **out, size_t *n)
{
    size_t off = 0;

    if (paging_alloc(1 + VARINT_MAX + ckn, out, n))
        return -ENOMEM;
    (*out)[off++] = PAGING_READ_TAG;
    off += varint_put(*out + off, ckn);
    if (ckn)
        memcpy(*out + off, ck, ckn);
    *n = off + ckn;
    return 0;
}

/* paging_get -- one length-prefixed key from the cursor. */
static int paging_get(struct rd *r, const uint8_t **p, size_t *n)
{
    uint64_t len;

    if (rd_varint(r, &len) || len > VALIDATE_KEY_MAX ||
        rd_bytes(r, (size_t)len, p))
        return -EINVAL;
    *n = (size_t)len;
    return 0;
}

int paging_read_decode(const uint8_t *p, size_t n, const uint8_t **ck,
                       size_t *ckn)
{
    struct rd r;
    uint8_t tag;

    *ck = NULL;
    *ckn = 0;
    rd_init(&r, p, n);
    if (rd_u8(&r, &tag) || tag != PAGING_READ_TAG || paging_get(&r, ck, ckn) ||
        rd_left(&r) != 0)
        return err_set(-EINVAL,
                       "paging_state is not one this node gave "
                       "for a read; pass back the one from the last page");
    return 0;
}

int paging_scan_encode(const uint8_t *pk, size_t pkn, const uint8_t *ck,
                       size_t ckn, uint8_t **out, size_t *n)
{
    size_t off = 0;

    if (paging_alloc(1 + 2 * VARINT_MAX + pkn + ckn, out, n))
        return -ENOMEM;
    (*out)[off++] = PAGING_SCAN_TAG;
    off += varint_put(*out + off, pkn);
    if (pkn)
        memcpy(*out + off, pk, pkn);
    off += pkn;
    off += varint_put(*out + off, ckn);
    if (ckn)
        memcpy(*out + off, ck, ckn);
    *n = off + ckn;
    return 0;
}

int paging_scan_decode(const uint8_t *p, size_t n, const uint8_t **pk,
                       size_t *pkn, const uint8_t **ck, size_t *ckn)
{
    struct rd r;
    uint8_t tag;

    *pk = *ck = NULL;
    *pkn = *ckn = 0;
    rd_init(&r, p, n);
    if (rd_u8(&r, &tag) || tag != PAGING_SCAN_TAG || paging_get(&r, pk, pkn) ||
        *pkn == 0 || paging_get(&r, ck, ckn) || rd_left(&r) != 0)
        return err_set(-EINVAL,
                       "paging_state is not one this node gave "
                       "for a scan; pass back the one from the last page");
    return 0;
}

int validate_replicas_needed(Cairn__Consistency cl, uint32_t rf, int is_write)
{
    switch (cl) {
    case CAIRN__CONSISTENCY__CL_ANY:
        if (!is_write)
            return err_set(-EINVAL, "consistency ANY is for writes only");
        return 1;
    case CAIRN__CONSISTENCY__CL_DEFAULT:
    case CAIRN__CONSISTENCY__CL_ONE:
        return 1;
    case CAIRN__CONSISTENCY__CL_TWO:
        return 2;
    case CAIRN__CONSISTENCY__CL_THREE:
        return 3;
    case CAIRN__CONSISTENCY__CL_QUORUM:
        return (int)(rf / 2 + 1);
    case CAIRN__CONSISTENCY__CL_ALL:
        return (int)rf;
    default:
        return err_set(-EINVAL, "unknown consistency level %d", (int)cl);
    }
}
