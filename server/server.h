/*
 * server.h -- the daemon's life: open the engine, load the schema, serve,
 * drain on a signal, flush and close.
 */
#ifndef CAIRN_SERVER_SERVER_H
#define CAIRN_SERVER_SERVER_H

#include "server/config.h"

/*
 * server_run -- run a node with `cfg` until SIGTERM or SIGINT; returns the
 * process exit status: 0 after a clean shutdown, 1 when the node could not
 * start or stop cleanly (the log says why and what to do). A second
 * signal during shutdown exits at once with status 1.
 */
int server_run(const struct config *cfg);

#endif /* CAIRN_SERVER_SERVER_H */
