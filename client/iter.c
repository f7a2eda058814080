/*
 * iter.c -- row iterators over paged reads and scans.
 *
 * An iterator owns copies of its request's names, keys and bounds, and
 * one page (a cairn_result_t) at a time; it fetches the next page
 * synchronously when the current one is used up, so it must not be driven
 * from the I/O thread. A page may come back empty with a paging state
 * (the node stopped early, e.g. after many tombstones): the iterator then
 * simply asks for the next one.
 */
#include "client/internal.h"
#include "common/err.h"
#include "common/mem.h"

struct cairn_iter {
    cairn_client_t *c;
    cairn_req_opts_t ro;
    char *ks, *table;
    void *pkey; /* partition key copy (slices) */
    size_t pklen;
    int is_scan;
    cairn_slice_t slice; /* bounds point at copies below */
    void *start, *end;   /* bound copies */
    void *resume;        /* initial paging state copy */
    uint32_t page_size;
    cairn_result_t *page; /* current page, or NULL before the first */
    size_t part, row;     /* position in page */
    int fetched;          /* the first page was asked for */
    int err;              /* sticky failure */
};

static void *dup_bytes(cairn_bytes_t b, int *rc)
{
    void *p;

    if (b.len == 0)
        return NULL;
    p = mem_memdup(MEM_CLIENT, b.data, b.len);
    if (!p)
        *rc = -ENOMEM;
    return p;
}

static int iter_alloc(cairn_client_t *c, const cairn_req_opts_t *ro,
                      const char *ks, const char *table, cairn_iter_t **out)
{
    cairn_iter_t *it = mem_calloc(MEM_CLIENT, 1, sizeof(*it));

    *out = NULL;
    if (!it)
        return err_set(CAIRN_ERR_NO_MEMORY, "out of memory");
    it->c = c;
    if (ro)
        it->ro = *ro;
    it->ks = mem_strdup(MEM_CLIENT, ks ? ks : "");
    it->table = mem_strdup(MEM_CLIENT, table ? table : "");
    if (!it->ks || !it->table) {
        cairn_iter_free(it);
        return err_set(CAIRN_ERR_NO_MEMORY, "out of memory");
    }
    *out = it;
    return 0;
}

int cairn_iter_slice(cairn_client_t *c, const cairn_req_opts_t *ro,
                     const char *ks, const char *table, cairn_bytes_t pkey,
                     const cairn_slice_t *s, cairn_iter_t **out)
{
    cairn_iter_t *it;
    int rc = iter_alloc(c, ro, ks, table, &it);

    if (rc < 0)
        return rc;
    it->pkey = dup_bytes(pkey, &rc);
    it->pklen = pkey.len;
    if (s) {
        it->slice = *s;
        it->start = dup_bytes(s->start, &rc);
        it->end = dup_bytes(s->end, &rc);
        it->resume = dup_bytes(s->paging_state, &rc);
        it->slice.start.data = it->start;
        it->slice.end.data = it->end;
        it->slice.paging_state.data = it->resume;
    }
    if (rc < 0) {
        cairn_iter_free(it);
        return err_set(CAIRN_ERR_NO_MEMORY, "out of memory");
    }
    *out = it;
    return 0;
}

int cairn_iter_scan(cairn_client_t *c, const cairn_req_opts_t *ro,
                    const char *ks, const char *table, uint32_t page_size,
                    cairn_iter_t **out)
{
    int rc = iter_alloc(c, ro, ks, table, out);

    if (rc == 0) {
        (*out)->is_scan = 1;
        (*out)->page_size = page_size;
    }
    return rc;
}

/* Fetch the page after the current one (or the first); 0 or a code. */
static int iter_fetch(cairn_iter_t *it)
{
    cairn_bytes_t state =
        it->page ? cairn_result_paging_state(it->page) : it->slice.paging_state;
    cairn_bytes_t pkey = {it->pkey, it->pklen};
    cairn_result_t *next = NULL;
    int rc;

    if (it->is_scan) {
        rc = cairn_scan(it->c, &it->ro, it->ks, it->table, it->page_size, state,
                        &next);
    } else {
        cairn_slice_t s = it->slice;

        s.paging_state = state;
        rc =
            cairn_get_slice(it->c, &it->ro, it->ks, it->table, pkey, &s, &next);
    }
    if (rc < 0)
        return rc;
    cairn_result_free(it->page);
    it->page = next;
    it->part = it->row = 0;
    it->fetched = 1;
    return 0;
}

/* The next row of the current page, if any; 1 found, 0 page used up. */
static int iter_take(cairn_iter_t *it, cairn_bytes_t *pkey,
                     const cairn_row_t **row)
{
    const cairn_partition_t *parts;
    const cairn_row_t *rows;
    size_t n;

    if (!it->is_scan) {
        n = cairn_result_rows(it->page, &rows);
        if (it->row >= n)
            return 0;
        pkey->data = it->pkey;
        pkey->len = it->pklen;
        *row = &rows[it->row++];
        return 1;
    }
    n = cairn_result_partitions(it->page, &parts);
    while (it->part < n && it->row >= parts[it->part].nrows) {
        it->part++;
        it->row = 0;
    }
    if (it->part >= n)
        return 0;
    *pkey = parts[it->part].pkey;
    *row = &parts[it->part].rows[it->row++];
    return 1;
}

int cairn_iter_next(cairn_iter_t *it, cairn_bytes_t *pkey,
                    const cairn_row_t **row)
{
    int rc;

    if (it->err)
        return it->err;
    for (;;) {
        if (it->page && iter_take(it, pkey, row))
            return 1;
        if (it->fetched && cairn_iter_paging_state(it).len == 0)
            return 0;
        rc = iter_fetch(it);
        if (rc < 0) {
            it->err = rc;
            return rc;
        }
    }
}

cairn_bytes_t cairn_iter_paging_state(const cairn_iter_t *it)
{
    return cairn_result_paging_state(it->page);
}

void cairn_iter_free(cairn_iter_t *it)
{
    if (!it)
        return;
    cairn_result_free(it->page);
    mem_free(it->ks);
    mem_free(it->table);
    mem_free(it->pkey);
    mem_free(it->start);
    mem_free(it->end);
    mem_free(it->resume);
    mem_free(it);
}
