/*
 * out.c -- how the `cairn` tool prints keys, values and rows.
 *
 * Keys and values are bytes. In text mode a token is printed bare when it
 * is plain printable ASCII without spaces, quotes, '=' or backslashes,
 * and otherwise double-quoted with C escapes, so every line splits back
 * into its tokens and binary values never garble a terminal. In JSON
 * mode bytes become JSON strings with \u00XX escapes for control bytes
 * and bytes above 0x7e.
 */
#include <inttypes.h>

#include "client/cli/cli.h"

static int plain(cairn_bytes_t b)
{
    const unsigned char *p = b.data;

    if (b.len == 0)
        return 0;
    for (size_t i = 0; i < b.len; i++)
        if (p[i] <= ' ' || p[i] > '~' || p[i] == '"' || p[i] == '\\' ||
            p[i] == '=')
            return 0;
    return 1;
}

void cli_put_bytes(FILE *f, cairn_bytes_t b)
{
    const unsigned char *p = b.data;

    if (plain(b)) {
        fwrite(p, 1, b.len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < b.len; i++) {
        if (p[i] == '"' || p[i] == '\\')
            fprintf(f, "\\%c", p[i]);
        else if (p[i] == '\n')
            fputs("\\n", f);
        else if (p[i] == '\t')
            fputs("\\t", f);
        else if (p[i] < ' ' || p[i] > '~')
            fprintf(f, "\\x%02x", p[i]);
        else
            fputc(p[i], f);
    }
    fputc('"', f);
}

void cli_put_json(FILE *f, cairn_bytes_t b)
{
    const unsigned char *p = b.data;

    fputc('"', f);
    for (size_t i = 0; i < b.len; i++) {
        if (p[i] == '"' || p[i] == '\\')
            fprintf(f, "\\%c", p[i]);
        else if (p[i] < ' ' || p[i] > '~')
            fprintf(f, "\\u%04x", p[i]);
        else
            fputc(p[i], f);
    }
    fputc('"', f);
}

static void print_row_json(FILE *f, cairn_bytes_t pkey, const cairn_row_t *r)
{
    fputs("{\"partition\":", f);
    cli_put_json(f, pkey);
    fputs(",\"ck\":", f);
    cli_put_json(f, r->ck);
    fputs(",\"cells\":[", f);
    for (size_t i = 0; i < r->ncells; i++) {
        const cairn_cell_t *c = &r->cells[i];

        fputs(i ? ",{\"column\":" : "{\"column\":", f);
        cli_put_json(f, c->column);
        fputs(",\"value\":", f);
        cli_put_json(f, c->value);
        fprintf(f, ",\"timestamp\":%" PRId64 ",\"expires\":%" PRId64 "}",
                c->timestamp_us, c->expires_s);
    }
    fputs("]}", f);
}

void cli_print_row(struct cli *g, cairn_bytes_t pkey, const cairn_row_t *row,
                   const char *sep)
{
    if (g->json) {
        fputs(sep, g->out);
        print_row_json(g->out, pkey, row);
        return;
    }
    cli_put_bytes(g->out, pkey);
    fputc(' ', g->out);
    cli_put_bytes(g->out, row->ck);
    for (size_t i = 0; i < row->ncells; i++) {
        fputc(' ', g->out);
        cli_put_bytes(g->out, row->cells[i].column);
        fputc('=', g->out);
        cli_put_bytes(g->out, row->cells[i].value);
    }
    fputc('\n', g->out);
}
