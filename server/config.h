/*
 * config.h -- cairn-server's settings: defaults, the YAML file and the
 * command line.
 *
 * Every setting has one entry in a table (config.c) that names its YAML
 * key and its long flag, so the file and the flags can never drift apart:
 * a flag overrides the file, the file overrides the default. A value that
 * does not parse or is out of range is refused with a detail naming the
 * setting (err_msg()), and the daemon exits 2 before touching anything.
 * Not thread-safe; the daemon fills one config at start and then only
 * reads it.
 */
#ifndef CAIRN_SERVER_CONFIG_H
#define CAIRN_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "storage/storage.h"

#define CONFIG_MAX_SEEDS 64
#define CONFIG_STR_MAX   1024

struct config_seed {
    char host[256];
    uint16_t port;
};

struct config {
    char config_file[CONFIG_STR_MAX]; /* "" when none was given */
    char cluster_name[256];
    char listen_address[256];
    uint32_t port; /* base: clients here, peers +1, HTTP +2 */
    char data_dir[CONFIG_STR_MAX];
    char commitlog_dir[CONFIG_STR_MAX]; /* "": <data_dir>/commitlog */
    struct config_seed seeds[CONFIG_MAX_SEEDS];
    size_t nseeds;
    uint32_t num_tokens;
    int new_cluster;          /* may start alone with no seed answering */
    uint32_t seed_timeout_ms; /* a new node without contact fails then */
    enum storage_sync sync;
    uint32_t sync_period_ms;
    uint32_t memtable_mb;       /* per table before a flush */
    uint32_t memtable_total_mb; /* all tables; writers wait above */
    uint32_t cache_mb;          /* sstable block cache */
    uint32_t segment_mb;        /* commit log segment size */
    uint32_t compactors;        /* compaction threads */
    int quarantine_corrupt_log; /* start despite mid-log damage */
    uint32_t read_timeout_ms;
    uint32_t write_timeout_ms;
    uint32_t drain_timeout_ms; /* shutdown: then close unanswered conns */
    uint32_t max_frame_bytes;  /* larger frames close the connection */
    uint32_t max_value_bytes;  /* cell values */
    uint32_t max_inflight;     /* requests per connection */
    uint32_t max_connections;  /* client connections per node */
    uint32_t max_page_rows;    /* cap on a read or scan page */
    uint32_t default_page_rows;
    uint32_t loops;   /* event loops; 0: one per core */
    uint32_t workers; /* threads for reads and schema changes */
    enum log_level log_level;
    int log_json;
};

/* config_defaults -- every setting at its default (`cairn-server` alone). */
void config_defaults(struct config *c);

/*
 * config_set -- set the setting named `key` (its YAML key, e.g.
 * "listen_address", or its flag without dashes, e.g. "listen") from the
 * text `value`. -EINVAL with a detail naming the setting when the key is
 * unknown or the value bad; `c` is unchanged then.
 */
int config_set(struct config *c, const char *key, const char *value);

/*
 * config_load_file -- apply the YAML mapping in file `path` (keys as
 * config_set takes them; `seeds` may also be a sequence). -EINVAL (bad
 * YAML, unknown key, bad value: the detail names the file, line and key)
 * or -errno when the file cannot be read.
 */
int config_load_file(struct config *c, const char *path);

/*
 * config_parse_args -- defaults, then the file of --config, then every
 * other flag. Returns 0, 1 when --help or --version was printed (exit 0),
 * or -EINVAL with a detail naming the flag or setting (exit 2).
 */
int config_parse_args(struct config *c, int argc, char **argv);

/* config_usage -- print the flags, one per setting, to `fd`. */
void config_usage(int fd);

#endif /* CAIRN_SERVER_CONFIG_H */
