/*
 * async.c -- libcairn's asynchronous API in one small program.
 *
 *   cairn-example-async [HOST:PORT] [WRITES]
 *
 * Fires WRITES (default 1000) puts without waiting, each with a callback
 * that counts successes and failures (callbacks run on libcairn's I/O
 * thread, so they only touch atomics and never block). Then it waits for
 * every future, reads a few rows back with futures waited on with a
 * timeout, and scans the table page by page through the iterator.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <cairn/cairn.h>

static atomic_int ok_count, fail_count;

static void on_done(cairn_future_t *f, void *arg)
{
    (void)arg;
    if (cairn_future_error(f) == 0)
        atomic_fetch_add(&ok_count, 1);
    else
        atomic_fetch_add(&fail_count, 1);
}

static int setup(cairn_client_t *c)
{
    cairn_future_t *f = cairn_create_keyspace_async(c, NULL, "example", 1, 1);
    int rc = f ? cairn_future_wait(f) : CAIRN_ERR_NO_MEMORY;

    cairn_future_free(f);
    if (rc == 0) {
        f = cairn_create_table_async(c, NULL, "example", "counters", NULL, 1);
        rc = f ? cairn_future_wait(f) : CAIRN_ERR_NO_MEMORY;
        if (rc < 0 && f)
            fprintf(stderr, "create table: %s\n", cairn_future_message(f));
        cairn_future_free(f);
    }
    return rc;
}

static int fire_writes(cairn_client_t *c, int n)
{
    cairn_future_t **fs = calloc((size_t)n, sizeof(*fs));
    char key[32], val[32];

    if (!fs)
        return -1;
    for (int i = 0; i < n; i++) {
        cairn_column_t col;

        snprintf(key, sizeof(key), "key-%d", i);
        snprintf(val, sizeof(val), "%d", i * i);
        col = (cairn_column_t){cairn_str("value"), cairn_str(val)};
        fs[i] = cairn_put_async(c, NULL, "example", "counters", cairn_str(key),
                                cairn_str(""), &col, 1, 0, 0);
        if (fs[i])
            cairn_future_set_callback(fs[i], on_done, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (fs[i])
            cairn_future_wait(fs[i]);
        cairn_future_free(fs[i]);
    }
    free(fs);
    printf("%d writes: %d ok, %d failed\n", n, atomic_load(&ok_count),
           atomic_load(&fail_count));
    return atomic_load(&fail_count) ? -1 : 0;
}

static int read_some(cairn_client_t *c)
{
    cairn_future_t *fs[3];

    for (int i = 0; i < 3; i++) {
        char key[32];

        snprintf(key, sizeof(key), "key-%d", i + 7);
        fs[i] = cairn_get_row_async(c, NULL, "example", "counters",
                                    cairn_str(key), cairn_str(""));
    }
    for (int i = 0; i < 3; i++) {
        const cairn_row_t *rows;
        int rc;

        while ((rc = cairn_future_wait_for(fs[i], 100)) == CAIRN_ERR_AGAIN)
            printf("still waiting for read %d\n", i);
        if (rc == 0 && cairn_result_rows(cairn_future_result(fs[i]), &rows))
            printf("key-%d value=%.*s\n", i + 7,
                   (int)rows[0].cells[0].value.len,
                   (const char *)rows[0].cells[0].value.data);
        else
            fprintf(stderr, "read %d: %s\n", i, cairn_strerror(rc));
        cairn_future_free(fs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int scan_all(cairn_client_t *c)
{
    const cairn_row_t *row;
    cairn_bytes_t pkey;
    cairn_iter_t *it;
    long rows = 0;
    int rc = cairn_iter_scan(c, NULL, "example", "counters", 100, &it);

    if (rc < 0)
        return rc;
    while ((rc = cairn_iter_next(it, &pkey, &row)) > 0)
        rows++;
    cairn_iter_free(it);
    printf("scan saw %ld rows\n", rows);
    return rc;
}

int main(int argc, char **argv)
{
    cairn_options_t o;
    cairn_client_t *c;
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    int rc;

    cairn_options_init(&o);
    o.contact_points = argc > 1 ? argv[1] : "127.0.0.1:9470";
    o.connections_per_host = 2;
    if ((rc = cairn_client_new(&o, &c)) < 0) {
        fprintf(stderr, "connect: %s\n", cairn_last_error());
        return 1;
    }
    rc = setup(c);
    if (rc == 0)
        rc = fire_writes(c, n > 0 ? n : 1);
    if (rc == 0)
        rc = read_some(c);
    if (rc == 0)
        rc = scan_all(c);
    cairn_client_free(c);
    return rc < 0 ? 1 : 0;
}
