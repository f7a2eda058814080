/*
 * log.c -- levelled logging (see log.h).
 *
 * Settings are plain atomics read on every call, so they may change while
 * other threads log. Each line is built in a stack buffer and written with
 * one write(2), which keeps lines from different threads whole.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static atomic_int log_level_cur = LOGL_INFO;
static atomic_int log_fmt_cur = LOG_FMT_TEXT;
static atomic_int log_fd_cur = 2;
static char log_node[64];

static const char *const log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
    atomic_store(&log_level_cur, (int)level);
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (int i = 0; i <= LOGL_DEBUG; i++) {
        if (strcasecmp(name, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOGL_WARN;
        return 0;
    }
    return -EINVAL;
}

void log_set_format(enum log_format fmt)
{
    atomic_store(&log_fmt_cur, (int)fmt);
}

void log_set_fd(int fd)
{
    atomic_store(&log_fd_cur, fd);
}

void log_set_node(const char *node)
{
    /* Set once at start, before threads log; a racing reader sees either. */
    snprintf(log_node, sizeof(log_node), "%s", node ? node : "");
}

int log_enabled(enum log_level level)
{
    return (int)level <= atomic_load(&log_level_cur);
}

/* log_timestamp -- RFC 3339 UTC time with milliseconds into `buf`. */
static void log_timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* log_json_escape -- append `s` to `out` as the inside of a JSON string. */
static size_t log_json_escape(char *out, size_t size, const char *s)
{
    size_t n = 0;

    for (; *s && n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

void log_write(enum log_level level, const char *module, const char *fmt, ...)
{
    char ts[64], msg[LOG_LINE_MAX / 2], line[LOG_LINE_MAX];
    va_list ap;
    int n;

    if (!log_enabled(level))
        return;
    log_timestamp(ts, sizeof(ts));
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (atomic_load(&log_fmt_cur) == LOG_FMT_JSON) {
        char emsg[LOG_LINE_MAX / 2 + 64];
        log_json_escape(emsg, sizeof(emsg), msg);
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"node\":\"%s\","
                     "\"module\":\"%s\",\"msg\":\"%s\"}\n",
                     ts, log_names[level], log_node, module, emsg);
    } else if (log_node[0]) {
        n = snprintf(line, sizeof(line), "%s %-5s [%s] %s: %s\n", ts,
                     log_names[level], log_node, module, msg);
    } else {
        n = snprintf(line, sizeof(line), "%s %-5s %s: %s\n", ts,
                     log_names[level], module, msg);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* A failed log write has nowhere better to be reported. */
    ssize_t w = write(atomic_load(&log_fd_cur), line, (size_t)n);
    (void)w;
}
