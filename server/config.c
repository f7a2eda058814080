/*
 * config.c -- settings table, YAML loading and flag parsing (config.h).
 *
 * One row per setting ties its YAML key, its flag, its type, its place in
 * struct config and its range together; the parser, the YAML loader and
 * the usage text all walk the same rows.
 */
#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "common/err.h"
#include "common/mem.h"

enum cfg_type {
    CT_STR,
    CT_ADDR,
    CT_U32,
    CT_BOOL,
    CT_SYNC,
    CT_SEEDS,
    CT_LOGLEVEL
};

struct cfg_setting {
    const char *key;  /* YAML key */
    const char *flag; /* long flag without the dashes */
    enum cfg_type type;
    size_t off;  /* offset in struct config */
    size_t size; /* CT_STR: buffer size */
    uint32_t min, max;
    const char *help;
};

#define F(field) offsetof(struct config, field)
#define S(field) sizeof(((struct config *)0)->field)
#define U32MAX   0xffffffffu

static const struct cfg_setting cfg_settings[] = {
    {"cluster_name", "cluster-name", CT_STR, F(cluster_name), S(cluster_name),
     1, 0, "name every node of the cluster shares (cairn)"},
    {"listen_address", "listen", CT_ADDR, F(listen_address), S(listen_address),
     1, 0, "IPv4 address to listen on (127.0.0.1)"},
    {"port", "port", CT_U32, F(port), 0, 1, 65533,
     "base port: clients, peers +1, HTTP +2 (9470)"},
    {"data_dir", "data-dir", CT_STR, F(data_dir), S(data_dir), 1, 0,
     "data directory (./cairn-data)"},
    {"commitlog_dir", "commitlog-dir", CT_STR, F(commitlog_dir),
     S(commitlog_dir), 0, 0, "commit log directory (DATA_DIR/commitlog)"},
    {"seeds", "seeds", CT_SEEDS, 0, 0, 0, 0,
     "HOST[:BASEPORT],... of seed nodes (none)"},
    {"num_tokens", "num-tokens", CT_U32, F(num_tokens), 0, 1, 1024,
     "tokens (vnodes) this node owns (16)"},
    {"new_cluster", "new-cluster", CT_BOOL, F(new_cluster), 0, 0, 0,
     "start a new cluster even if no seed answers (false)"},
    {"seed_timeout_ms", "seed-timeout-ms", CT_U32, F(seed_timeout_ms), 0, 100,
     3600000, "a new node no seed answers fails after this (10000)"},
    {"commitlog_sync", "sync", CT_SYNC, F(sync), 0, 0, 0,
     "group | periodic | none (group)"},
    {"commitlog_sync_period_ms", "sync-period-ms", CT_U32, F(sync_period_ms), 0,
     1, 600000, "fsync period in periodic mode (1000)"},
    {"memtable_size_mb", "memtable-mb", CT_U32, F(memtable_mb), 0, 1, 65536,
     "flush a table's memtable past this (64)"},
    {"memtable_total_size_mb", "memtable-total-mb", CT_U32,
     F(memtable_total_mb), 0, 1, 1048576,
     "writers wait while memtables exceed this (256)"},
    {"block_cache_size_mb", "cache-mb", CT_U32, F(cache_mb), 0, 0, 1048576,
     "sstable block cache (256)"},
    {"commitlog_segment_size_mb", "segment-mb", CT_U32, F(segment_mb), 0, 1,
     1024, "commit log segment size (32)"},
    {"concurrent_compactors", "compactors", CT_U32, F(compactors), 0, 1, 64,
     "compaction threads (1)"},
    {"commitlog_quarantine_corrupt", "quarantine-corrupt-log", CT_BOOL,
     F(quarantine_corrupt_log), 0, 0, 0,
     "start despite mid-log damage, quarantining the segment (false)"},
    {"read_request_timeout_ms", "read-timeout-ms", CT_U32, F(read_timeout_ms),
     0, 1, 3600000, "read timeout (5000)"},
    {"write_request_timeout_ms", "write-timeout-ms", CT_U32,
     F(write_timeout_ms), 0, 1, 3600000, "write timeout (2000)"},
    {"drain_timeout_ms", "drain-timeout-ms", CT_U32, F(drain_timeout_ms), 0, 1,
     3600000, "shutdown waits this long for answers to be read (10000)"},
    {"max_frame_bytes", "max-frame-bytes", CT_U32, F(max_frame_bytes), 0, 1024,
     256u << 20, "largest frame accepted (16777216)"},
    {"max_value_bytes", "max-value-bytes", CT_U32, F(max_value_bytes), 0, 1,
     64u << 20, "largest cell value (4194304)"},
    {"max_inflight_per_connection", "max-inflight", CT_U32, F(max_inflight), 0,
     1, 65536, "requests in flight per connection (256)"},
    {"max_connections", "max-connections", CT_U32, F(max_connections), 0, 1,
     1000000, "client connections (1024)"},
    {"max_page_rows", "max-page-rows", CT_U32, F(max_page_rows), 0, 1, 1000000,
     "largest page a read or scan returns (10000)"},
    {"default_page_rows", "default-page-rows", CT_U32, F(default_page_rows), 0,
     1, 1000000, "page size when a request gives 0 (5000)"},
    {"event_loops", "loops", CT_U32, F(loops), 0, 0, 1024,
     "event loops; 0: one per core (0)"},
    {"worker_threads", "workers", CT_U32, F(workers), 0, 1, 1024,
     "threads for reads and schema changes (4)"},
    {"log_level", "log-level", CT_LOGLEVEL, F(log_level), 0, 0, 0,
     "error | warn | info | debug (info)"},
    {"log_json", "log-json", CT_BOOL, F(log_json), 0, 0, 0,
     "log JSON lines (false)"},
};

#define CFG_NSETTINGS (sizeof(cfg_settings) / sizeof(cfg_settings[0]))

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->cluster_name, sizeof(c->cluster_name), "cairn");
    snprintf(c->listen_address, sizeof(c->listen_address), "127.0.0.1");
    c->port = 9470;
    snprintf(c->data_dir, sizeof(c->data_dir), "./cairn-data");
    c->num_tokens = 16;
    c->seed_timeout_ms = 10000;
    c->sync = STORAGE_SYNC_GROUP;
    c->sync_period_ms = 1000;
    c->memtable_mb = 64;
    c->memtable_total_mb = 256;
    c->cache_mb = 256;
    c->segment_mb = 32;
    c->compactors = 1;
    c->read_timeout_ms = 5000;
    c->write_timeout_ms = 2000;
    c->drain_timeout_ms = 10000;
    c->max_frame_bytes = 16u << 20;
    c->max_value_bytes = 4u << 20;
    c->max_inflight = 256;
    c->max_connections = 1024;
    c->max_page_rows = 10000;
    c->default_page_rows = 5000;
    c->workers = 4;
    c->log_level = LOGL_INFO;
}

static const struct cfg_setting *cfg_find(const char *key)
{
    for (size_t i = 0; i < CFG_NSETTINGS; i++) {
        if (strcmp(cfg_settings[i].key, key) == 0 ||
            strcmp(cfg_settings[i].flag, key) == 0)
            return &cfg_settings[i];
    }
    return NULL;
}

/* cfg_u32 -- strict decimal: digits only, no sign, no overflow. */
static int cfg_u32(const char *v, uint32_t *out)
{
    unsigned long long n = 0;

    if (*v == '\0')
        return -EINVAL;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        n = n * 10 + (unsigned long long)(*p - '0');
        if (n > U32MAX)
            return -EINVAL;
    }
    *out = (uint32_t)n;
    return 0;
}

static int cfg_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
        !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcmp(v, "0") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return -EINVAL;
    return 0;
}

static int cfg_sync(const char *v, enum storage_sync *out)
{
    if (!strcmp(v, "group"))
        *out = STORAGE_SYNC_GROUP;
    else if (!strcmp(v, "periodic"))
        *out = STORAGE_SYNC_PERIODIC;
    else if (!strcmp(v, "none"))
        *out = STORAGE_SYNC_NONE;
    else
        return -EINVAL;
    return 0;
}

/* cfg_seed -- one HOST[:PORT]; the port is the seed's base port. */
static int cfg_seed(const char *v, size_t n, struct config_seed *out)
{
    const char *colon = memchr(v, ':', n);
    size_t hlen = colon ? (size_t)(colon - v) : n;
    char port[16];
    uint32_t p = 9470;

    if (hlen == 0 || hlen >= sizeof(out->host))
        return -EINVAL;
    if (colon) {
        size_t plen = n - hlen - 1;
        if (plen == 0 || plen >= sizeof(port))
            return -EINVAL;
        memcpy(port, colon + 1, plen);
        port[plen] = '\0';
        if (cfg_u32(port, &p) < 0 || p == 0 || p > 65533)
            return -EINVAL;
    }
    memcpy(out->host, v, hlen);
    out->host[hlen] = '\0';
    out->port = (uint16_t)p;
    return 0;
}

static int cfg_seeds(const char *v, struct config *c)
{
    struct config_seed seeds[CONFIG_MAX_SEEDS];
    size_t n = 0;

    while (*v) {
        size_t len = strcspn(v, ",");
        while (len > 0 && *v == ' ') {
            v++;
            len--;
        }
        if (n == CONFIG_MAX_SEEDS || cfg_seed(v, len, &seeds[n]) < 0)
            return -EINVAL;
        n++;
        v += len;
        if (*v == ',' && *++v == '\0')
            return -EINVAL; /* a trailing comma hides a missing seed */
    }
    memcpy(c->seeds, seeds, n * sizeof(seeds[0]));
    c->nseeds = n;
    return 0;
}

/* cfg_apply -- parse `v` for `s` into `c`; -EINVAL leaves `c` as it was. */
static int cfg_apply(struct config *c, const struct cfg_setting *s,
                     const char *v)
{
    char *field = (char *)c + s->off;
    struct in_addr addr;
    uint32_t u;
    int b;

    switch (s->type) {
    case CT_ADDR:
        if (inet_pton(AF_INET, v, &addr) != 1)
            return -EINVAL;
        __attribute__((fallthrough)); /* stored as text */
    case CT_STR:
        if (strlen(v) < s->min || strlen(v) >= s->size)
            return -EINVAL;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case CT_U32:
        if (cfg_u32(v, &u) < 0 || u < s->min || u > s->max)
            return -EINVAL;
        memcpy(field, &u, sizeof(u));
        return 0;
    case CT_BOOL:
        if (cfg_bool(v, &b) < 0)
            return -EINVAL;
        memcpy(field, &b, sizeof(b));
        return 0;
    case CT_SYNC:
        return cfg_sync(v, (enum storage_sync *)(void *)field);
    case CT_LOGLEVEL:
        return log_level_parse(v, (enum log_level *)(void *)field);
    case CT_SEEDS:
        return cfg_seeds(v, c);
    }
    return -EINVAL;
}

static const char *cfg_expect(const struct cfg_setting *s)
{
    static char why[96];

    switch (s->type) {
    case CT_STR:
        return s->min ? "a non-empty string" : "a string";
    case CT_ADDR:
        return "an IPv4 address such as 127.0.0.1";
    case CT_U32:
        snprintf(why, sizeof(why), "an integer from %u to %u", s->min, s->max);
        return why;
    case CT_BOOL:
        return "true or false";
    case CT_SYNC:
        return "group, periodic or none";
    case CT_LOGLEVEL:
        return "error, warn, info or debug";
    case CT_SEEDS:
        return "HOST[:PORT],... with ports from 1 to 65533";
    }
    return "?";
}

int config_set(struct config *c, const char *key, const char *value)
{
    const struct cfg_setting *s = cfg_find(key);

    if (s == NULL)
        return err_set(-EINVAL, "unknown setting %s", key);
    if (cfg_apply(c, s, value) < 0)
        return err_set(-EINVAL,
                       "bad value for %s (--%s): \"%.200s\"; "
                       "expected %s",
                       s->key, s->flag, value, cfg_expect(s));
    return 0;
}

/* ---- YAML ---- */

/* cfg_yaml_seq -- join a sequence of scalars with commas (for seeds). */
static int cfg_yaml_seq(yaml_parser_t *p, char *out, size_t size)
{
    yaml_event_t ev;
    size_t n = 0;

    out[0] = '\0';
    for (;;) {
        if (!yaml_parser_parse(p, &ev))
            return -EINVAL;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_SCALAR_EVENT ||
            n + ev.data.scalar.length + 2 > size) {
            yaml_event_delete(&ev);
            return -EINVAL;
        }
        n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "," : "",
                              (const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
    }
}

/*
 * cfg_yaml_seed_provider -- Cassandra's nested form,
 *   seed_provider: [{class_name: ..., parameters: [{seeds: "a,b"}]}]
 * walked to the end of the structure that `first` opened; the scalar
 * after a "seeds" key is the list. 0, or -EINVAL when there is none.
 */
static int cfg_yaml_seed_provider(yaml_parser_t *p, char *out, size_t size)
{
    int depth = 1, after_key = 0, found = 0;

    while (depth > 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return -EINVAL;
        if (ev.type == YAML_SEQUENCE_START_EVENT ||
            ev.type == YAML_MAPPING_START_EVENT)
            depth++;
        else if (ev.type == YAML_SEQUENCE_END_EVENT ||
                 ev.type == YAML_MAPPING_END_EVENT)
            depth--;
        if (ev.type == YAML_SCALAR_EVENT && after_key && !found) {
            snprintf(out, size, "%s", (const char *)ev.data.scalar.value);
            found = 1;
        }
        after_key = ev.type == YAML_SCALAR_EVENT &&
                    strcmp((const char *)ev.data.scalar.value, "seeds") == 0;
        yaml_event_delete(&ev);
    }
    return found ? 0 : -EINVAL;
}

/* cfg_yaml_value -- read the value after `key` and apply it. */
static int cfg_yaml_value(struct config *c, yaml_parser_t *p, const char *path,
                          const char *key)
{
    char val[8192];
    yaml_event_t ev;
    int line, rc = 0;

    if (!yaml_parser_parse(p, &ev))
        return err_set(-EINVAL, "config %s: yaml error at line %zu: %s", path,
                       p->problem_mark.line + 1, p->problem);
    line = (int)ev.start_mark.line + 1;
    if (ev.type == YAML_SCALAR_EVENT) {
        snprintf(val, sizeof(val), "%s", (const char *)ev.data.scalar.value);
    } else if (strcmp(key, "seed_provider") == 0 &&
               (ev.type == YAML_SEQUENCE_START_EVENT ||
                ev.type == YAML_MAPPING_START_EVENT)) {
        rc = cfg_yaml_seed_provider(p, val, sizeof(val));
        key = "seeds";
    } else if (ev.type == YAML_SEQUENCE_START_EVENT) {
        rc = cfg_yaml_seq(p, val, sizeof(val));
    } else {
        rc = -EINVAL;
    }
    yaml_event_delete(&ev);
    if (rc < 0)
        return err_set(-EINVAL,
                       "config %s line %d: %s takes a single value "
                       "or a list of values",
                       path, line, key);
    if (config_set(c, key, val) < 0) {
        char why[600];
        snprintf(why, sizeof(why), "%s", err_msg());
        return err_set(-EINVAL, "config %s line %d: %s", path, line, why);
    }
    return 0;
}

/* cfg_yaml_map -- walk the top-level mapping, key after key. */
static int cfg_yaml_map(struct config *c, yaml_parser_t *p, const char *path)
{
    for (;;) {
        yaml_event_t ev;
        char key[128];
        int rc;

        if (!yaml_parser_parse(p, &ev))
            return err_set(-EINVAL, "config %s: yaml error at line %zu: %s",
                           path, p->problem_mark.line + 1, p->problem);
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            int line = (int)ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            return err_set(-EINVAL, "config %s line %d: expected a key", path,
                           line);
        }
        snprintf(key, sizeof(key), "%s", (const char *)ev.data.scalar.value);
        yaml_event_delete(&ev);
        rc = cfg_yaml_value(c, p, path, key);
        if (rc < 0)
            return rc;
    }
}

/* cfg_yaml -- the document must be empty or one mapping of settings. */
static int cfg_yaml(struct config *c, yaml_parser_t *p, const char *path)
{
    for (;;) {
        yaml_event_t ev;
        yaml_event_type_t t;
        int line;

        if (!yaml_parser_parse(p, &ev))
            return err_set(-EINVAL, "config %s: yaml error at line %zu: %s",
                           path, p->problem_mark.line + 1, p->problem);
        t = ev.type;
        line = (int)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            return 0;
        if (t == YAML_MAPPING_START_EVENT) {
            int rc = cfg_yaml_map(c, p, path);
            if (rc < 0)
                return rc;
        } else if (t != YAML_STREAM_START_EVENT &&
                   t != YAML_DOCUMENT_START_EVENT &&
                   t != YAML_DOCUMENT_END_EVENT) {
            return err_set(-EINVAL,
                           "config %s line %d: expected a mapping "
                           "of settings",
                           path, line);
        }
    }
}

int config_load_file(struct config *c, const char *path)
{
    struct config tmp = *c;
    yaml_parser_t p;
    FILE *f;
    int rc;

    f = fopen(path, "r");
    if (f == NULL)
        return err_set(-errno, "cannot read config %s: %s", path,
                       strerror(errno));
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    rc = cfg_yaml(&tmp, &p, path);
    yaml_parser_delete(&p);
    fclose(f);
    if (rc == 0)
        *c = tmp;
    return rc;
}

/* ---- command line ---- */

enum { OPT_CONFIG = 1000, OPT_HELP, OPT_VERSION, OPT_SETTING = 2000 };

static void cfg_options(struct option *o)
{
    size_t i;

    for (i = 0; i < CFG_NSETTINGS; i++) {
        o[i].name = cfg_settings[i].flag;
        o[i].has_arg = cfg_settings[i].type == CT_BOOL ? optional_argument
                                                       : required_argument;
        o[i].flag = NULL;
        o[i].val = OPT_SETTING + (int)i;
    }
    o[i++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    o[i++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    o[i++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    o[i] = (struct option){NULL, 0, NULL, 0};
}

/* One flag seen on the command line, applied after the config file. */
struct cfg_flag {
    int idx;
    const char *arg;
};

static int cfg_collect(int argc, char **argv, struct config *c,
                       struct cfg_flag *flags, size_t *nflags)
{
    struct option opts[CFG_NSETTINGS + 4];
    int o;

    cfg_options(opts);
    optind = 0; /* GNU: full re-initialisation, so tests may call twice */
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (o == OPT_HELP || o == OPT_VERSION)
            return o;
        if (o == OPT_CONFIG) {
            snprintf(c->config_file, sizeof(c->config_file), "%s", optarg);
        } else if (o >= OPT_SETTING) {
            flags[*nflags].idx = o - OPT_SETTING;
            flags[(*nflags)++].arg = optarg ? optarg : "true";
        } else if (o == ':') {
            return err_set(-EINVAL, "flag %s needs a value", argv[optind - 1]);
        } else {
            return err_set(-EINVAL, "unknown flag %s (see --help)",
                           argv[optind - 1]);
        }
    }
    if (optind < argc)
        return err_set(-EINVAL, "unexpected argument \"%s\" (see --help)",
                       argv[optind]);
    return 0;
}

int config_parse_args(struct config *c, int argc, char **argv)
{
    struct cfg_flag *flags;
    size_t nflags = 0;
    int rc;

    config_defaults(c);
    flags = mem_calloc(MEM_SERVER, (size_t)argc + 1, sizeof(*flags));
    if (flags == NULL)
        return err_set(-ENOMEM, "out of memory parsing flags");
    rc = cfg_collect(argc, argv, c, flags, &nflags);
    if (rc == OPT_HELP || rc == OPT_VERSION) {
        mem_free(flags);
        if (rc == OPT_HELP)
            config_usage(1);
        else
            dprintf(1, "cairn-server 0.1.0\n");
        return 1;
    }
    if (rc == 0 && c->config_file[0] && config_load_file(c, c->config_file) < 0)
        rc = -EINVAL; /* an unreadable --config is a bad setting too */
    for (size_t i = 0; rc == 0 && i < nflags; i++)
        rc = config_set(c, cfg_settings[flags[i].idx].key, flags[i].arg);
    mem_free(flags);
    if (rc == 0 && c->default_page_rows > c->max_page_rows)
        rc = err_set(-EINVAL,
                     "default_page_rows (%u) is above "
                     "max_page_rows (%u)",
                     c->default_page_rows, c->max_page_rows);
    return rc;
}

static const char *cfg_arg(enum cfg_type t)
{
    static const char *const args[] = {"TEXT", "ADDR", "N",    "[=BOOL]",
                                       "MODE", "LIST", "LEVEL"};

    return args[t];
}

void config_usage(int fd)
{
    dprintf(fd, "usage: cairn-server [--config FILE] [--FLAG VALUE]...\n"
                "Every setting may come from the YAML file (its key) or a "
                "flag; flags win.\n\n"
                "  --config FILE              YAML settings file\n");
    for (size_t i = 0; i < CFG_NSETTINGS; i++) {
        const struct cfg_setting *s = &cfg_settings[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "%s%s%s", s->flag,
                 s->type == CT_BOOL ? "" : " ", cfg_arg(s->type));
        dprintf(fd, "  --%-24s %s\n  %27s yaml: %s\n", flag, s->help, "",
                s->key);
    }
    dprintf(fd, "  --help, --version\n\nExit status: 0 clean stop, 1 "
                "failure (see the log), 2 bad flag or setting.\n");
}
