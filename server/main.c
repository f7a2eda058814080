/*
 * main.c -- cairn-server's entry point: settings, logging, then the node.
 * Exit status: 0 clean stop, 1 failure (logged), 2 bad flag or setting.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"
#include "server/config.h"
#include "server/server.h"

int main(int argc, char **argv)
{
    static struct config cfg;
    char threads[16];
    int rc = config_parse_args(&cfg, argc, argv);

    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "cairn-server: %s\n", err_msg());
        return 2;
    }
    log_set_level(cfg.log_level);
    log_set_format(cfg.log_json ? LOG_FMT_JSON : LOG_FMT_TEXT);
    /* libuv sizes its worker pool from this before its first use. */
    snprintf(threads, sizeof(threads), "%u", cfg.workers);
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    return server_run(&cfg);
}
