/*
 * impexp.c -- `cairn import` and `cairn export`: tables to and from CSV,
 * JSON Lines and JSON files, like cqlsh's COPY FROM and COPY TO.
 *
 * Import streams: it holds one record at a time (at most
 * --max-record-bytes of text) plus the batches in flight, whatever the
 * file's size. Each record becomes one row: the --partition field is its
 * partition key; the --clustering fields make its clustering key (one
 * field: its bytes as they are; several: each field's bytes with 0x00
 * escaped as 0x00 0xff and ended by 0x00 0x01, which sorts like the
 * tuple); every non-null field, keys included, becomes a column, so an
 * export carries everything an import needs. Consecutive records of one
 * partition travel in one batch; --concurrency batches are in flight.
 * A record that cannot be read or that the node refuses is written to the
 * rejects file with its line number, the reason and its text verbatim,
 * never dropped silently.
 *
 * CSV follows RFC 4180 with a header line naming the fields: fields in
 * double quotes may hold the delimiter, quotes (doubled) and line breaks.
 * An unquoted empty field is null (no column); a quoted empty one ("") is
 * the empty string. JSON is parsed by jansson.
 *
 * Export scans the table in token order. CSV needs its header first, so
 * without --columns it scans twice: once for the column names, once for
 * the rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli/cli.h"
#include "common/buf.h"
#include "common/mem.h"

#define TABLE_ARG_MAX 128
#define MAX_FIELDS    1024
#define EXPORT_PAGE   1000

enum fmt { FMT_CSV, FMT_JSONL, FMT_JSON };

/* One field of a record: offsets into the record's arena. */
struct field {
    size_t name, name_len; /* JSON: the key; CSV: unused */
    size_t val, val_len;
    int null;
};

/* A record read from the input, and its verbatim text. */
struct rec {
    uint64_t line;    /* line it starts on, 1-based */
    struct buf raw;   /* the text as read */
    struct buf arena; /* names and values */
    struct field f[MAX_FIELDS];
    size_t nf;
};

/* The input stream: a FILE with a pushback area (see csv_overflow). */
struct src {
    FILE *f;
    char *back;
    size_t nback, pos;
    uint64_t line;
};

/* ------------------------------------------------------------------ */
/* Input                                                               */

static int src_getc(struct src *s)
{
    int c;

    if (s->pos < s->nback)
        c = (unsigned char)s->back[s->pos++];
    else
        c = getc_unlocked(s->f);
    if (c == '\n')
        s->line++;
    return c;
}

static int put_raw(struct rec *r, int c, size_t max)
{
    char ch = (char)c;

    if (r->raw.len >= max)
        return -1;
    return buf_append(&r->raw, &ch, 1);
}

/* Start a field; its value grows at the end of the arena. */
static int field_begin(struct rec *r)
{
    if (r->nf >= MAX_FIELDS)
        return -1;
    r->f[r->nf] = (struct field){0, 0, r->arena.len, 0, 0};
    return 0;
}

static void field_end(struct rec *r, int null)
{
    struct field *f = &r->f[r->nf++];

    f->val_len = r->arena.len - f->val;
    f->null = null;
}

/*
 * A record over the length limit (often an unterminated quote): give back
 * everything after its first line so that parsing resumes on the next
 * line and only the first line is lost.
 */
static void csv_overflow(struct src *s, struct rec *r)
{
    const char *nl = memchr(r->raw.data, '\n', r->raw.len);
    size_t keep = nl ? r->raw.len - (size_t)(nl + 1 - (char *)r->raw.data) : 0;
    char *back = mem_alloc(MEM_CLIENT, keep + (s->nback - s->pos) + 1);

    if (!back)
        return;
    memcpy(back, nl ? nl + 1 : "", keep);
    if (s->nback > s->pos)
        memcpy(back + keep, s->back + s->pos, s->nback - s->pos);
    mem_free(s->back);
    s->nback = keep + (s->nback - s->pos);
    s->back = back;
    s->pos = 0;
    s->line = r->line + 1;
    r->raw.len = nl ? (size_t)(nl - (char *)r->raw.data) : r->raw.len;
}

/*
 * csv_read -- the next record. 1 read, 0 end of input, -1 malformed with
 * *why set (the record's text is in r->raw; reading may go on).
 */
static int csv_read(struct src *s, struct rec *r, size_t max, const char **why)
{
    int c, quoted = 0, inq = 0, after_q = 0, any = 0;

    r->nf = 0;
    buf_reset(&r->raw);
    buf_reset(&r->arena);
    r->line = s->line;
    *why = NULL;
    field_begin(r);
    for (;;) {
        c = src_getc(s);
        if (c == EOF) {
            if (inq) {
                /* Resume on the record's second line: the quote was
                 * probably never closed, and the lines after it are
                 * records of their own. */
                csv_overflow(s, r);
                *why = "quoted field never closed";
                return -1;
            }
            if (!any)
                return 0;
            break;
        }
        any = 1;
        if (put_raw(r, c, max) != 0) {
            csv_overflow(s, r);
            *why = "record longer than --max-record-bytes "
                   "(unterminated quote?)";
            return -1;
        }
        if (inq) {
            if (c == '"') {
                int d = src_getc(s);
                if (d == '"') {
                    put_raw(r, d, max + 1);
                    buf_append(&r->arena, "\"", 1);
                    continue;
                }
                inq = 0;
                after_q = 1;
                if (d == EOF)
                    break;
                put_raw(r, d, max + 1);
                c = d;
            } else {
                char ch = (char)c;
                buf_append(&r->arena, &ch, 1);
                continue;
            }
        }
        if (c == ',') {
            field_end(r, !quoted && r->arena.len == r->f[r->nf].val);
            if (field_begin(r) != 0) {
                *why = "too many fields";
                goto skip;
            }
            quoted = after_q = 0;
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (c == '\r') {
                int d = src_getc(s);
                if (d != '\n') {
                    *why = "bare CR outside quotes";
                    goto skip_from;
                }
                put_raw(r, d, max + 1);
            }
            break;
        }
        if (after_q) {
            *why = "text after a closing quote";
            goto skip;
        }
        if (c == '"') {
            if (r->arena.len != r->f[r->nf].val || quoted) {
                *why = "quote inside an unquoted field";
                goto skip;
            }
            quoted = inq = 1;
            continue;
        }
        {
            char ch = (char)c;
            buf_append(&r->arena, &ch, 1);
        }
    }
    field_end(r, !quoted && r->arena.len == r->f[r->nf].val);
    /* Drop the line break from the verbatim text. */
    while (r->raw.len && (((char *)r->raw.data)[r->raw.len - 1] == '\n' ||
                          ((char *)r->raw.data)[r->raw.len - 1] == '\r'))
        r->raw.len--;
    return 1;

skip:
    /* Malformed: the record ends at the end of this line. */
    while ((c = src_getc(s)) != EOF && c != '\n')
        put_raw(r, c, max);
skip_from:
    while (r->raw.len && (((char *)r->raw.data)[r->raw.len - 1] == '\n' ||
                          ((char *)r->raw.data)[r->raw.len - 1] == '\r'))
        r->raw.len--;
    return -1;
}

/* jsonl_line -- the next non-empty line into r->raw: 1, 0 at the end, -1
 * over the limit (the rest of the line skipped). */
static int jsonl_line(struct src *s, struct rec *r, size_t max)
{
    int c, over = 0;

    for (;;) {
        buf_reset(&r->raw);
        r->line = s->line;
        while ((c = src_getc(s)) != EOF && c != '\n')
            if (put_raw(r, c, max) != 0)
                over = 1;
        if (r->raw.len && ((char *)r->raw.data)[r->raw.len - 1] == '\r')
            r->raw.len--;
        if (over)
            return -1;
        if (r->raw.len)
            return 1;
        if (c == EOF)
            return 0;
    }
}

/* json_elem -- the next element of a top-level JSON array into r->raw:
 * 1, 0 at the closing bracket or end, -1 over the limit or bad framing
 * (reading stops: the framing cannot be trusted any more). *started: 0
 * before the '[', 1 inside the array, 2 after its ']'. */
static int json_elem(struct src *s, struct rec *r, size_t max, int *started)
{
    int c, depth = 0, instr = 0, esc = 0;

    buf_reset(&r->raw);
    do
        c = src_getc(s);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
    if (*started == 2)
        return 0;
    if (!*started) {
        if (c != '[')
            return -1;
        *started = 1;
        return json_elem(s, r, max, started);
    }
    if (c == ',')
        return json_elem(s, r, max, started);
    if (c == ']' || c == EOF)
        return 0;
    r->line = s->line;
    for (; c != EOF; c = src_getc(s)) {
        if (!instr && depth == 0 && (c == ',' || c == ']')) {
            if (c == ']')
                *started = 2; /* the array ends after this element */
            return 1;
        }
        if (put_raw(r, c, max) != 0)
            return -1;
        if (instr) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                instr = 0;
        } else if (c == '"') {
            instr = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return r->raw.len ? 1 : 0;
}

/* A JSON value as a column's bytes into the arena; null: *null = 1. */
static void json_to_field(struct rec *r, const char *key, json_t *v)
{
    char num[64];
    const char *p = num;
    size_t n;
    char *dump = NULL;
    struct field *f = &r->f[r->nf];

    field_begin(r);
    f->name = r->arena.len;
    f->name_len = strlen(key);
    buf_append(&r->arena, key, f->name_len);
    f->val = r->arena.len;
    if (json_is_string(v)) {
        p = json_string_value(v);
        n = json_string_length(v);
    } else if (json_is_integer(v)) {
        n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                             json_integer_value(v));
    } else if (json_is_real(v)) {
        n = (size_t)snprintf(num, sizeof(num), "%.17g", json_real_value(v));
    } else if (json_is_true(v) || json_is_false(v)) {
        p = json_is_true(v) ? "true" : "false";
        n = strlen(p);
    } else if (json_is_null(v)) {
        n = 0;
    } else {
        p = dump = json_dumps(v, JSON_COMPACT);
        n = p ? strlen(p) : 0;
    }
    buf_append(&r->arena, p, n);
    free(dump);
    r->nf++;
    f->val_len = n;
    f->null = json_is_null(v);
}

/* Parse r->raw as one JSON object into fields; 0 or -1 with *why. */
static int json_fields(struct rec *r, const char **why, char *err, size_t sz)
{
    json_error_t je;
    json_t *o =
        json_loadb((const char *)r->raw.data, r->raw.len, JSON_DECODE_ANY, &je);
    const char *key;
    json_t *v;

    r->nf = 0;
    buf_reset(&r->arena);
    if (!o) {
        snprintf(err, sz, "bad JSON: %s", je.text);
        *why = err;
        return -1;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        *why = "not a JSON object";
        return -1;
    }
    json_object_foreach(o, key, v)
    {
        if (r->nf >= MAX_FIELDS)
            break;
        json_to_field(r, key, v);
    }
    json_decref(o);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Import                                                              */

/* A batch in flight: its future and the records it carries, kept
 * verbatim until it succeeds so a refused batch is rejected in full. */
struct flight {
    cairn_future_t *f;
    struct buf lines; /* per record: u64 line, u32 len, text */
    uint32_t nrecs;
};

struct import {
    struct cli *g;
    const char *ks, *table, *file;
    enum fmt fmt;
    const char *partition;
    char *clustering[16];
    size_t nck;
    size_t max_record;
    uint64_t max_errors;
    uint32_t batch_rows;
    FILE *rejects;
    const char *rejects_path;
    cairn_client_t *c;
    /* the batch being filled: one partition */
    struct buf pkey, muts_data;
    cairn_mutation_t *muts;
    size_t nmuts, cap_muts;
    struct flight cur;
    struct flight *fl;
    size_t nfl, next_fl;
    /* CSV header */
    struct rec header;
    uint64_t read, written, rejected;
    struct timespec t0, last;
};

static double since(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) +
           (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static void reject(struct import *im, uint64_t line, const char *why,
                   const void *text, size_t len)
{
    im->rejected++;
    fprintf(im->rejects, "line %" PRIu64 ": %s\n", line, why);
    fwrite(text, 1, len, im->rejects);
    fputc('\n', im->rejects);
}

static void progress_line(struct import *im, int final)
{
    if (!final && since(&im->last) < 1.0)
        return;
    clock_gettime(CLOCK_MONOTONIC, &im->last);
    fprintf(im->g->err,
            "import: read %" PRIu64 ", written %" PRIu64 ", rejected %" PRIu64
            " (%.0f rows/s)\n",
            im->read, im->written, im->rejected,
            (double)im->written / (since(&im->t0) + 1e-9));
}

/* Wait for flight slot i to finish and settle its records. */
static void settle(struct import *im, struct flight *fl)
{
    int rc;
    struct rd {
        uint64_t line;
        uint32_t len;
    } h;
    size_t off = 0;

    if (!fl->f)
        return;
    rc = cairn_future_wait(fl->f);
    if (rc == 0) {
        im->written += fl->nrecs;
    } else {
        char why[300];
        snprintf(why, sizeof(why), "refused by the node: %s (%s)",
                 cairn_strerror(rc), cairn_future_message(fl->f));
        while (off < fl->lines.len) {
            memcpy(&h, (char *)fl->lines.data + off, sizeof(h));
            off += sizeof(h);
            reject(im, h.line, why, (char *)fl->lines.data + off, h.len);
            off += h.len;
        }
    }
    cairn_future_free(fl->f);
    fl->f = NULL;
    fl->nrecs = 0;
    buf_reset(&fl->lines);
}

/* Send the batch being filled; wait for the oldest when all are busy. */
static int flush_batch(struct import *im)
{
    struct flight *fl;

    if (im->nmuts == 0)
        return 0;
    fl = &im->fl[im->next_fl];
    im->next_fl = (im->next_fl + 1) % im->nfl;
    settle(im, fl);
    /* The mutations point into muts_data; fix them up now it is final. */
    for (size_t i = 0, off = 0; i < im->nmuts; i++) {
        cairn_mutation_t *m = &im->muts[i];
        size_t cl = (size_t)m->ck.data, kl = (size_t)m->column.data;
        size_t vl = (size_t)m->value.data;
        const char *d = (const char *)im->muts_data.data;
        m->ck.data = d + off;
        off += cl;
        m->column.data = d + off;
        off += kl;
        m->value.data = d + off;
        off += vl;
    }
    fl->f = cairn_batch_async(im->c, &im->g->ro, im->ks, im->table,
                              (cairn_bytes_t){im->pkey.data, im->pkey.len},
                              im->muts, im->nmuts);
    /* The call copied everything; the batch's own records travel on. */
    {
        struct buf t = fl->lines;
        fl->lines = im->cur.lines;
        im->cur.lines = t;
        fl->nrecs = im->cur.nrecs;
    }
    buf_reset(&im->cur.lines);
    im->cur.nrecs = 0;
    im->nmuts = 0;
    buf_reset(&im->muts_data);
    return fl->f ? 0 : CAIRN_ERR_NO_MEMORY;
}

/* Append one put to the batch. Lengths are parked in the data pointers
 * until flush_batch, as muts_data may move while it grows. */
static int add_mut(struct import *im, cairn_bytes_t ck, cairn_bytes_t col,
                   cairn_bytes_t val)
{
    cairn_mutation_t *m;

    if (im->nmuts == im->cap_muts) {
        size_t cap = im->cap_muts ? im->cap_muts * 2 : 256;
        void *p = mem_realloc(MEM_CLIENT, im->muts, cap * sizeof(*m));
        if (!p)
            return CAIRN_ERR_NO_MEMORY;
        im->muts = p;
        im->cap_muts = cap;
    }
    m = &im->muts[im->nmuts++];
    memset(m, 0, sizeof(*m));
    m->kind = CAIRN_MUT_PUT;
    m->ck = (cairn_bytes_t){(void *)ck.len, ck.len};
    m->column = (cairn_bytes_t){(void *)col.len, col.len};
    m->value = (cairn_bytes_t){(void *)val.len, val.len};
    if (buf_append(&im->muts_data, ck.data, ck.len) ||
        buf_append(&im->muts_data, col.data, col.len) ||
        buf_append(&im->muts_data, val.data, val.len))
        return CAIRN_ERR_NO_MEMORY;
    return 0;
}

static cairn_bytes_t fname(const struct import *im, const struct rec *r,
                           size_t i)
{
    if (im->fmt == FMT_CSV)
        return (cairn_bytes_t){(char *)im->header.arena.data +
                                   im->header.f[i].val,
                               im->header.f[i].val_len};
    return (cairn_bytes_t){(char *)r->arena.data + r->f[i].name,
                           r->f[i].name_len};
}

static cairn_bytes_t fval(const struct rec *r, size_t i)
{
    return (cairn_bytes_t){(char *)r->arena.data + r->f[i].val,
                           r->f[i].val_len};
}

/* Index of the non-null field named `name`, or -1. */
static long find_field(const struct import *im, const struct rec *r,
                       const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < r->nf; i++) {
        cairn_bytes_t b = fname(im, r, i);
        if (b.len == n && memcmp(b.data, name, n) == 0)
            return r->f[i].null ? -1 : (long)i;
    }
    return -1;
}

/* The clustering key of r into ck; 0 or -1 with *why. */
static int make_ck(struct import *im, const struct rec *r, struct buf *ck,
                   char *why, size_t sz)
{
    buf_reset(ck);
    for (size_t k = 0; k < im->nck; k++) {
        long i = find_field(im, r, im->clustering[k]);
        cairn_bytes_t v;
        if (i < 0) {
            snprintf(why, sz, "clustering field '%s' missing or null",
                     im->clustering[k]);
            return -1;
        }
        v = fval(r, (size_t)i);
        if (im->nck == 1) {
            buf_append(ck, v.data, v.len);
            break;
        }
        for (size_t j = 0; j < v.len; j++) {
            buf_append(ck, (const char *)v.data + j, 1);
            if (((const char *)v.data)[j] == 0)
                buf_append(ck, "\xff", 1);
        }
        buf_append(ck, "\0\1", 2);
    }
    return 0;
}

/* Turn one record into puts; -1 with why when it is unusable. */
static int import_rec(struct import *im, struct rec *r, struct buf *ck,
                      char *why, size_t sz)
{
    long pi = find_field(im, r, im->partition);
    cairn_bytes_t pk;
    uint64_t h;
    uint32_t len = (uint32_t)r->raw.len;

    if (im->fmt == FMT_CSV && r->nf != im->header.nf) {
        snprintf(why, sz, "%zu fields, the header has %zu", r->nf,
                 im->header.nf);
        return -1;
    }
    if (pi < 0) {
        snprintf(why, sz, "partition field '%s' missing or null",
                 im->partition);
        return -1;
    }
    if (make_ck(im, r, ck, why, sz) != 0)
        return -1;
    pk = fval(r, (size_t)pi);
    if (im->nmuts && (pk.len != im->pkey.len ||
                      memcmp(pk.data, im->pkey.data, pk.len) != 0 ||
                      im->cur.nrecs >= im->batch_rows))
        if (flush_batch(im) != 0)
            return -2;
    buf_reset(&im->pkey);
    buf_append(&im->pkey, pk.data, pk.len);
    for (size_t i = 0; i < r->nf; i++)
        if (!r->f[i].null && add_mut(im, (cairn_bytes_t){ck->data, ck->len},
                                     fname(im, r, i), fval(r, i)) != 0)
            return -2;
    h = r->line;
    buf_append(&im->cur.lines, &h, sizeof(h));
    buf_append(&im->cur.lines, &len, sizeof(len));
    buf_append(&im->cur.lines, r->raw.data, r->raw.len);
    im->cur.nrecs++;
    return 0;
}

/* Read the next record in the file's format: 1, 0 at the end, -1 bad
 * (why set; r->raw verbatim), -2 stop (framing lost). */
static int next_rec(struct import *im, struct src *s, struct rec *r,
                    int *jstate, const char **why, char *err, size_t sz)
{
    int rc;

    if (im->fmt == FMT_CSV)
        return csv_read(s, r, im->max_record, why);
    if (im->fmt == FMT_JSONL)
        rc = jsonl_line(s, r, im->max_record);
    else
        rc = json_elem(s, r, im->max_record, jstate);
    if (rc < 0) {
        *why = "record longer than --max-record-bytes or bad JSON array";
        return im->fmt == FMT_JSON ? -2 : -1;
    }
    if (rc == 0)
        return 0;
    return json_fields(r, why, err, sz) == 0 ? 1 : -1;
}

static int import_loop(struct import *im, struct src *s)
{
    struct rec *r = mem_calloc(MEM_CLIENT, 1, sizeof(*r));
    struct buf ck;
    char err[300], why2[300];
    const char *why;
    int rc, jstate = 0, out = 0;

    if (!r)
        return CLI_ERROR;
    buf_init(&r->raw, MEM_CLIENT);
    buf_init(&r->arena, MEM_CLIENT);
    buf_init(&ck, MEM_CLIENT);
    while ((rc = next_rec(im, s, r, &jstate, &why, err, sizeof(err))) != 0) {
        if (rc == -2) {
            reject(im, r->line, why, r->raw.data, r->raw.len);
            out = CLI_ERROR;
            break;
        }
        im->read++;
        if (rc < 0)
            reject(im, r->line, why, r->raw.data, r->raw.len);
        else if ((rc = import_rec(im, r, &ck, why2, sizeof(why2))) == -1)
            reject(im, r->line, why2, r->raw.data, r->raw.len);
        else if (rc == -2) {
            fprintf(im->g->err, "cairn: out of memory\n");
            out = CLI_ERROR;
            break;
        }
        if (im->rejected > im->max_errors) {
            fprintf(im->g->err,
                    "cairn: more than %" PRIu64 " rejected "
                    "records (--max-errors); stopping\n",
                    im->max_errors);
            out = CLI_ERROR;
            break;
        }
        progress_line(im, 0);
    }
    flush_batch(im);
    for (size_t i = 0; i < im->nfl; i++)
        settle(im, &im->fl[i]);
    buf_free(&r->raw);
    buf_free(&r->arena);
    buf_free(&ck);
    mem_free(r);
    return out;
}

static int parse_fmt(struct cli *g, const char *cmd, const char *v, enum fmt *f,
                     int json_ok)
{
    if (!v || strcmp(v, "csv") == 0)
        *f = FMT_CSV;
    else if (strcmp(v, "jsonl") == 0)
        *f = FMT_JSONL;
    else if (json_ok && strcmp(v, "json") == 0)
        *f = FMT_JSON;
    else
        return cli_usage(g, cmd, "unknown --format");
    return 0;
}

/* The CSV header line: field names, none empty. */
static int read_header(struct import *im, struct src *s)
{
    const char *why = NULL;
    int rc;

    buf_init(&im->header.raw, MEM_CLIENT);
    buf_init(&im->header.arena, MEM_CLIENT);
    rc = csv_read(s, &im->header, im->max_record, &why);
    if (rc <= 0) {
        fprintf(im->g->err, "cairn: %s: no header line%s%s\n", im->file,
                why ? ": " : "", why ? why : "");
        return CLI_ERROR;
    }
    for (size_t i = 0; i < im->header.nf; i++)
        if (im->header.f[i].val_len == 0) {
            fprintf(im->g->err, "cairn: %s: header field %zu is empty\n",
                    im->file, i + 1);
            return CLI_ERROR;
        }
    return 0;
}

static void import_free(struct import *im)
{
    for (size_t i = 0; i < im->nfl; i++)
        buf_free(&im->fl[i].lines);
    mem_free(im->fl);
    buf_free(&im->cur.lines);
    buf_free(&im->pkey);
    buf_free(&im->muts_data);
    mem_free(im->muts);
    buf_free(&im->header.raw);
    buf_free(&im->header.arena);
}

static int import_run(struct import *im, FILE *f)
{
    struct src s = {f, NULL, 0, 0, 1};
    int rc = 0, code;

    if (im->fmt == FMT_CSV && (rc = read_header(im, &s)) != 0)
        return rc;
    if (!(im->c = cli_client(im->g, &code)))
        return code;
    clock_gettime(CLOCK_MONOTONIC, &im->t0);
    im->last = im->t0;
    rc = import_loop(im, &s);
    mem_free(s.back);
    progress_line(im, 1);
    fprintf(im->g->out,
            "read %" PRIu64 ", written %" PRIu64 ", rejected %" PRIu64 "\n",
            im->read, im->written, im->rejected);
    if (im->rejected)
        fprintf(im->g->err, "cairn: rejected records are in %s\n",
                im->rejects_path);
    if (ferror(f)) {
        fprintf(im->g->err, "cairn: reading %s failed\n", im->file);
        rc = CLI_ERROR;
    }
    return rc ? rc : im->rejected ? CLI_ERROR : CLI_OK;
}

/* Split "a,b,c" (a copy in buf) into im->clustering. */
static int split_ck(struct import *im, char *list)
{
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
        if (im->nck == sizeof(im->clustering) / sizeof(im->clustering[0]))
            return cli_usage(im->g, "import", "too many --clustering fields");
        im->clustering[im->nck++] = t;
    }
    return 0;
}

static int import_args(struct import *im, struct cli_opt *o, char *ckbuf,
                       size_t cksz)
{
    uint32_t v;
    int rc;

    if ((rc = parse_fmt(im->g, "import", o[0].val, &im->fmt, 1)))
        return rc;
    if (!o[1].val)
        return cli_usage(im->g, "import", "need --partition FIELD");
    im->partition = o[1].val;
    if (o[2].val) {
        snprintf(ckbuf, cksz, "%s", o[2].val);
        if ((rc = split_ck(im, ckbuf)))
            return rc;
    }
    im->max_errors = 1000;
    if (o[3].val && (rc = cli_u32(im->g, "--max-errors", o[3].val, &v)) == 0)
        im->max_errors = v;
    im->max_record = 16u << 20;
    if (!rc && o[4].val &&
        (rc = cli_u32(im->g, "--max-record-bytes", o[4].val, &v)) == 0)
        im->max_record = v ? v : 1;
    im->batch_rows = 50;
    if (!rc && o[5].val && (rc = cli_u32(im->g, "--batch", o[5].val, &v)) == 0)
        im->batch_rows = v ? v : 1;
    im->nfl = 32;
    if (!rc && o[6].val &&
        (rc = cli_u32(im->g, "--concurrency", o[6].val, &v)) == 0)
        im->nfl = v ? v : 1;
    return rc;
}

static int cmd_import(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {
        {"--format", 1, NULL},           {"--partition", 1, NULL},
        {"--clustering", 1, NULL},       {"--max-errors", 1, NULL},
        {"--max-record-bytes", 1, NULL}, {"--batch", 1, NULL},
        {"--concurrency", 1, NULL},      {"--rejects", 1, NULL}};
    char *pos[2], buf[TABLE_ARG_MAX], ckbuf[512], rpath[4096];
    struct import im;
    size_t n;
    FILE *f;
    int rc;

    memset(&im, 0, sizeof(im));
    im.g = g;
    if ((rc = cli_parse(g, argc, argv, o, 8, pos, 2, &n)) != 0)
        return rc;
    if (n < 2)
        return cli_usage(g, argv[0], "need KS.TABLE and FILE");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), (char **)&im.ks,
                              (char **)&im.table)) ||
        (rc = import_args(&im, o, ckbuf, sizeof(ckbuf))))
        return rc;
    im.file = pos[1];
    if (!(f = fopen(im.file, "r"))) {
        fprintf(g->err, "cairn: cannot open %s: %s\n", im.file,
                strerror(errno));
        return CLI_ERROR;
    }
    snprintf(rpath, sizeof(rpath), "%s.rejects", im.file);
    im.rejects_path = o[7].val ? o[7].val : rpath;
    if (!(im.rejects = fopen(im.rejects_path, "w"))) {
        fprintf(g->err, "cairn: cannot write %s: %s\n", im.rejects_path,
                strerror(errno));
        fclose(f);
        return CLI_ERROR;
    }
    im.fl = mem_calloc(MEM_CLIENT, im.nfl, sizeof(*im.fl));
    for (size_t i = 0; im.fl && i < im.nfl; i++)
        buf_init(&im.fl[i].lines, MEM_CLIENT);
    buf_init(&im.cur.lines, MEM_CLIENT);
    buf_init(&im.pkey, MEM_CLIENT);
    buf_init(&im.muts_data, MEM_CLIENT);
    rc = im.fl ? import_run(&im, f) : CLI_ERROR;
    import_free(&im);
    fclose(f);
    if (fclose(im.rejects) != 0)
        rc = CLI_ERROR;
    if (rc == CLI_OK)
        remove(im.rejects_path); /* a clean run leaves no empty file */
    return rc;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */

/* Column names in first-seen order; a small set, searched linearly. */
struct cols {
    cairn_bytes_t *v;
    size_t n, cap;
};

static long cols_find(const struct cols *c, cairn_bytes_t b)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].len == b.len && !memcmp(c->v[i].data, b.data, b.len))
            return (long)i;
    return -1;
}

static int cols_add(struct cols *c, const void *p, size_t len)
{
    char *d;

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        void *q = mem_realloc(MEM_CLIENT, c->v, cap * sizeof(*c->v));
        if (!q)
            return -1;
        c->v = q;
        c->cap = cap;
    }
    if (!(d = mem_alloc(MEM_CLIENT, len + 1)))
        return -1;
    memcpy(d, p, len);
    c->v[c->n++] = (cairn_bytes_t){d, len};
    return 0;
}

static void cols_free(struct cols *c)
{
    for (size_t i = 0; i < c->n; i++)
        mem_free((void *)c->v[i].data);
    mem_free(c->v);
}

/* A CSV field per RFC 4180; also quoted when empty (to tell it from
 * null), with a leading '#' or space, or a trailing space. */
static void csv_put(FILE *f, cairn_bytes_t b)
{
    const char *p = b.data;
    int q = b.len == 0 || p[0] == '#' || p[0] == ' ' || p[b.len - 1] == ' ';

    for (size_t i = 0; !q && i < b.len; i++)
        q = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!q) {
        fwrite(p, 1, b.len, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < b.len; i++) {
        if (p[i] == '"')
            fputc('"', f);
        fputc(p[i], f);
    }
    fputc('"', f);
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xe0) == 0xc0 ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;

    if (len == 0 || len > n || (len == 2 && p[0] < 0xc2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* A JSON string; UTF-8 passes through. Returns 1 when bytes that are not
 * UTF-8 had to be written as \u00XX (the value then differs). */
static int json_put(FILE *f, cairn_bytes_t b)
{
    const unsigned char *p = b.data;
    int lossy = 0;

    fputc('"', f);
    for (size_t i = 0; i < b.len;) {
        size_t l = utf8_len(p + i, b.len - i);
        if (l == 0) {
            fprintf(f, "\\u%04x", p[i++]);
            lossy = 1;
        } else if (p[i] == '"' || p[i] == '\\') {
            fprintf(f, "\\%c", p[i++]);
        } else if (p[i] < 0x20) {
            fprintf(f, "\\u%04x", p[i++]);
        } else {
            fwrite(p + i, 1, l, f);
            i += l;
        }
    }
    fputc('"', f);
    return lossy;
}

static int export_row(FILE *f, enum fmt fmt, const struct cols *cols,
                      const cairn_row_t *row, int *lossy)
{
    if (fmt == FMT_JSONL) {
        fputc('{', f);
        for (size_t i = 0; i < row->ncells; i++) {
            if (i)
                fputc(',', f);
            *lossy |= json_put(f, row->cells[i].column);
            fputc(':', f);
            *lossy |= json_put(f, row->cells[i].value);
        }
        fputs("}\n", f);
        return 0;
    }
    for (size_t k = 0; k < cols->n; k++) {
        if (k)
            fputc(',', f);
        for (size_t i = 0; i < row->ncells; i++)
            if (row->cells[i].column.len == cols->v[k].len &&
                !memcmp(row->cells[i].column.data, cols->v[k].data,
                        cols->v[k].len)) {
                csv_put(f, row->cells[i].value);
                break;
            }
    }
    fputs("\r\n", f);
    return 0;
}

/* One scan of the table: collect column names (out NULL) or write rows. */
static int export_scan(struct cli *g, const char *ks, const char *tb,
                       struct cols *cols, FILE *out, enum fmt fmt,
                       uint64_t *rows, int *lossy)
{
    cairn_client_t *c;
    cairn_iter_t *it;
    cairn_bytes_t pk;
    const cairn_row_t *row;
    struct timespec t0, last;
    int rc, code;

    if (!(c = cli_client(g, &code)))
        return code;
    if ((rc = cairn_iter_scan(c, &g->ro, ks, tb, EXPORT_PAGE, &it)) < 0)
        return cli_fail(g, "export", rc);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    last = t0;
    *rows = 0;
    while ((rc = cairn_iter_next(it, &pk, &row)) == 1) {
        (*rows)++;
        if (!out) {
            for (size_t i = 0; i < row->ncells; i++)
                if (cols_find(cols, row->cells[i].column) < 0 &&
                    cols_add(cols, row->cells[i].column.data,
                             row->cells[i].column.len) != 0)
                    rc = CAIRN_ERR_NO_MEMORY;
        } else {
            export_row(out, fmt, cols, row, lossy);
        }
        if (since(&last) >= 1.0) {
            clock_gettime(CLOCK_MONOTONIC, &last);
            fprintf(g->err, "export: %s %" PRIu64 " rows (%.0f rows/s)\n",
                    out ? "written" : "scanned for columns", *rows,
                    (double)*rows / since(&t0));
        }
    }
    cairn_iter_free(it);
    return rc < 0 ? cli_fail(g, "export", rc) : 0;
}

static int export_header(struct cli *g, const char *ks, const char *tb,
                         const char *list, struct cols *cols, FILE *out)
{
    uint64_t rows;
    int lossy = 0, rc;

    if (list) {
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", list);
        for (char *t = strtok(copy, ","); t; t = strtok(NULL, ","))
            if (cols_add(cols, t, strlen(t)) != 0)
                return CLI_ERROR;
    } else if ((rc = export_scan(g, ks, tb, cols, NULL, FMT_CSV, &rows,
                                 &lossy)) != 0) {
        return rc;
    }
    for (size_t k = 0; k < cols->n; k++) {
        if (k)
            fputc(',', out);
        csv_put(out, cols->v[k]);
    }
    fputs("\r\n", out);
    return 0;
}

static int cmd_export(struct cli *g, int argc, char **argv)
{
    struct cli_opt o[] = {{"--format", 1, NULL}, {"--columns", 1, NULL}};
    char *pos[2], buf[TABLE_ARG_MAX], *ks, *tb;
    struct cols cols = {0};
    enum fmt fmt = FMT_CSV;
    uint64_t rows = 0;
    int rc, lossy = 0;
    size_t n;
    FILE *out;

    if ((rc = cli_parse(g, argc, argv, o, 2, pos, 2, &n)) != 0)
        return rc;
    if (n < 2)
        return cli_usage(g, argv[0], "need KS.TABLE and FILE");
    if ((rc = cli_split_table(g, pos[0], buf, sizeof(buf), &ks, &tb)) ||
        (rc = parse_fmt(g, argv[0], o[0].val, &fmt, 0)))
        return rc;
    if (!(out = fopen(pos[1], "w"))) {
        fprintf(g->err, "cairn: cannot write %s: %s\n", pos[1],
                strerror(errno));
        return CLI_ERROR;
    }
    if (fmt == FMT_CSV)
        rc = export_header(g, ks, tb, o[1].val, &cols, out);
    if (rc == 0)
        rc = export_scan(g, ks, tb, &cols, out, fmt, &rows, &lossy);
    if (fclose(out) != 0 && rc == 0) {
        fprintf(g->err, "cairn: writing %s failed\n", pos[1]);
        rc = CLI_ERROR;
    }
    cols_free(&cols);
    if (rc == 0)
        fprintf(g->out, "exported %" PRIu64 " rows\n", rows);
    if (rc == 0 && lossy) {
        fprintf(g->err, "cairn: some values are not UTF-8; JSON carries "
                        "them as \\u00XX and they will not import back "
                        "byte for byte (use --format csv)\n");
        rc = CLI_ERROR;
    }
    return rc;
}

const struct cli_cmd cli_impexp_cmds[] = {
    {"import",
     "KS.TABLE FILE --partition FIELD [--clustering F1[,F2...]] "
     "[--format csv|jsonl|json] [--max-errors N] [--max-record-bytes B] "
     "[--batch ROWS] [--concurrency N] [--rejects FILE]",
     "load records into a table; refused ones go to FILE.rejects", cmd_import},
    {"export", "KS.TABLE FILE [--format csv|jsonl] [--columns A,B,...]",
     "write a table out in token order", cmd_export},
    {NULL, NULL, NULL, NULL},
};
