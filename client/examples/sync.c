/*
 * sync.c -- libcairn's synchronous API in one small program.
 *
 *   cairn-example-sync [HOST:PORT]
 *
 * Creates keyspace "example" and table "example.events" (if missing),
 * writes a few rows of one partition, reads one row back, pages through
 * the partition two rows at a time, deletes a row and lists the tables.
 * Every call blocks until the node answers; failures print the error's
 * name and detail. Exit 0 on success, 1 on any failure.
 */
#include <stdio.h>

#include <cairn/cairn.h>

static int check(const char *what, int rc)
{
    if (rc < 0)
        fprintf(stderr, "%s: %s: %s\n", what, cairn_strerror(rc),
                cairn_last_error());
    return rc;
}

static void print_row(const cairn_row_t *row)
{
    printf("  ck=%.*s", (int)row->ck.len, (const char *)row->ck.data);
    for (size_t i = 0; i < row->ncells; i++)
        printf(" %.*s=%.*s", (int)row->cells[i].column.len,
               (const char *)row->cells[i].column.data,
               (int)row->cells[i].value.len,
               (const char *)row->cells[i].value.data);
    printf("\n");
}

static int write_rows(cairn_client_t *c)
{
    static const char *const cks[] = {"09:00", "09:05", "09:10", "09:15",
                                      "09:20"};

    for (size_t i = 0; i < sizeof(cks) / sizeof(*cks); i++) {
        cairn_column_t cols[2] = {
            {cairn_str("kind"), cairn_str(i % 2 ? "logout" : "login")},
            {cairn_str("host"), cairn_str("web-1")},
        };

        /* Timestamp 0: the client stamps the write; TTL 0: the table's. */
        if (check("put",
                  cairn_put(c, NULL, "example", "events", cairn_str("user-42"),
                            cairn_str(cks[i]), cols, 2, 0, 0)) < 0)
            return -1;
    }
    return 0;
}

static int read_back(cairn_client_t *c)
{
    const cairn_req_opts_t quorum = {CAIRN_CL_QUORUM, 2000};
    cairn_slice_t slice = {0};
    const cairn_row_t *rows;
    cairn_result_t *r;
    size_t n;

    if (check("get",
              cairn_get_row(c, &quorum, "example", "events",
                            cairn_str("user-42"), cairn_str("09:05"), &r)) < 0)
        return -1;
    n = cairn_result_rows(r, &rows);
    printf("row 09:05 (%zu found):\n", n);
    for (size_t i = 0; i < n; i++)
        print_row(&rows[i]);
    cairn_result_free(r);

    /* Explicit paging: two rows per page, resumed by the paging state,
     * which lives in the previous page's result. Arguments are copied
     * before a call returns, so that page can be freed right after. */
    slice.page_size = 2;
    for (int page = 1;; page++) {
        cairn_result_t *prev = page > 1 ? r : NULL;
        int rc = cairn_get_slice(c, NULL, "example", "events",
                                 cairn_str("user-42"), &slice, &r);

        cairn_result_free(prev);
        if (check("slice", rc) < 0)
            return -1;
        n = cairn_result_rows(r, &rows);
        printf("page %d:\n", page);
        for (size_t i = 0; i < n; i++)
            print_row(&rows[i]);
        slice.paging_state = cairn_result_paging_state(r);
        if (slice.paging_state.len == 0)
            break;
    }
    cairn_result_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    cairn_options_t o;
    cairn_client_t *c;
    const cairn_table_t *t;
    cairn_result_t *r;
    size_t n;
    int ok = 0;

    cairn_options_init(&o);
    o.contact_points = argc > 1 ? argv[1] : "127.0.0.1:9470";
    if (check("connect", cairn_client_new(&o, &c)) < 0)
        return 1;
    printf("connected with libcairn %s\n", cairn_version());
    if (check("create keyspace",
              cairn_create_keyspace(c, NULL, "example", 1, 1)) < 0 ||
        check("create table",
              cairn_create_table(c, NULL, "example", "events", NULL, 1)) < 0 ||
        write_rows(c) < 0 || read_back(c) < 0)
        goto out;
    if (check("delete", cairn_delete_row(c, NULL, "example", "events",
                                         cairn_str("user-42"),
                                         cairn_str("09:10"), 0)) < 0 ||
        check("tables", cairn_list_tables(c, NULL, "example", &r)) < 0)
        goto out;
    n = cairn_result_tables(r, &t);
    for (size_t i = 0; i < n; i++)
        printf("table %s.%s id=%llu\n", t[i].keyspace, t[i].name,
               (unsigned long long)t[i].id);
    cairn_result_free(r);
    ok = 1;
out:
    cairn_client_free(c);
    return ok ? 0 : 1;
}
