/*
 * log.h -- levelled logging for the daemon and tools.
 *
 * A line carries the time (UTC, milliseconds), the level, the module and a
 * lowercase message whose facts are `key=value` pairs:
 *
 *   2026-12-03T17:22:14.123Z INFO  storage: flushed memtable table=7 rows=812
 *
 * With LOG_FMT_JSON each line is instead one JSON object with the fields
 * ts, level, node, module and msg. Output goes to stderr unless
 * log_set_fd() says otherwise. Libraries (ring/, storage/'s hot paths)
 * report through return values; logging is for what an operator needs.
 * Thread-safe: each line is formatted privately and written with one
 * write(2).
 */
#ifndef CAIRN_COMMON_LOG_H
#define CAIRN_COMMON_LOG_H

enum log_level {
    LOGL_ERROR = 0, /* something failed; the message says what to do */
    LOGL_WARN = 1,  /* degraded but serving */
    LOGL_INFO = 2,  /* state changes an operator wants to see */
    LOGL_DEBUG = 3, /* per-request detail, off by default */
};

enum log_format {
    LOG_FMT_TEXT = 0,
    LOG_FMT_JSON = 1,
};

/* log_set_level -- drop lines less severe than `level` (default INFO). */
void log_set_level(enum log_level level);

/* log_level_parse -- "error".."debug" to a level; -EINVAL when unknown. */
int log_level_parse(const char *name, enum log_level *out);

/* log_set_format -- text (default) or JSON lines. */
void log_set_format(enum log_format fmt);

/* log_set_fd -- write lines to `fd` (default 2); the caller keeps it open. */
void log_set_fd(int fd);

/* log_set_node -- a node name put on every line (NULL for none); copied. */
void log_set_node(const char *node);

/* log_enabled -- whether a line at `level` would be written. */
int log_enabled(enum log_level level);

/* log_write -- format and write one line; use the macros below instead. */
void log_write(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_write(LOGL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_write(LOGL_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_write(LOGL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...)                                                    \
    do {                                                                       \
        if (log_enabled(LOGL_DEBUG))                                           \
            log_write(LOGL_DEBUG, mod, __VA_ARGS__);                           \
    } while (0)

#endif /* CAIRN_COMMON_LOG_H */
