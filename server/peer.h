/*
 * peer.h -- the peer transport: how nodes reach each other on the peer
 * port (base port + 1), for gossip, schema agreement and replication.
 *
 * Peers are named by host id, never by address: the owner of cluster
 * state tells the transport where each host id currently listens
 * (peer_set_address) and callers send to a host id. Every connection
 * opens with a PeerHello naming the cluster, the sender and the host id
 * it expects to reach; the acceptor refuses a wrong cluster or a wrong
 * host id (scenario C13: a message meant for B is never applied by C,
 * even when C has taken B's old address). Until the acceptor's
 * PeerHelloReply arrives nothing else is written, so a refused
 * connection delivers nothing. A seed whose host id is not known yet is
 * reached by address with an empty expected id (peer_send_addr).
 *
 * Connections are one-way: the opener sends PeerMessages, the acceptor
 * only answers the hello. An answer to a message goes back on the
 * answerer's own connection to the asker (peer_send to the `from` id the
 * handler got), matched by request_id. A lost connection is re-opened on
 * the next send, with a backoff (100 ms doubling to 2 s) after failures;
 * an attempt with no hello reply within 5 s (a paused peer) fails.
 *
 * Threads: the transport lives on one owner libuv loop (the cluster
 * loop). Handlers and completion callbacks run there. peer_send,
 * peer_send_addr and peer_on may be called from any thread (the sends
 * encode the message before returning and hand it to the owner loop).
 * Everything else is for the owner loop only.
 */
#ifndef CAIRN_SERVER_PEER_H
#define CAIRN_SERVER_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proto/peer.pb-c.h"
#include "ring/ring.h"

#define PEER_ADDR_MAX     64 /* "host:port", NUL included */
#define PEER_MAX_BODY     256
#define PEER_QUEUE_MAX    65536 /* messages waiting for one peer */
#define PEER_PROTOCOL_VER 1

struct peer;

struct peer_config {
    char cluster[256];
    char listen_host[256];         /* IPv4 address to bind */
    uint16_t port;                 /* the peer port */
    char self_addr[PEER_ADDR_MAX]; /* "host:port" as peers reach us */
    struct ring_host_id self;
    uint32_t max_frame; /* larger frames close the connection */
};

/*
 * A received message. `from` is the sender's host id as its hello gave
 * it; `m` is valid only during the call (copy what must outlive it).
 */
typedef void (*peer_handler_fn)(struct peer *p, const struct ring_host_id *from,
                                const Cairn__PeerMessage *m, void *arg);

/*
 * A send's outcome, on the owner loop: 0 once the frame is handed to the
 * kernel, or a negative code when it never will be (CAIRN_EUNAVAILABLE:
 * no address known or connection failed; CAIRN_EPROTO: the peer refused
 * the hello, e.g. it is another host id; -ECANCELED: shutting down).
 * Delivery to the peer's handler is confirmed only by its answer.
 */
typedef void (*peer_done_fn)(int rc, void *arg);

/*
 * peer_start -- bind the peer port and start accepting on `loop` (the
 * owner loop). Returns 0, or -errno with a detail naming the address.
 */
int peer_start(uv_loop_t *loop, const struct peer_config *c, struct peer **out);

/*
 * peer_on -- call `fn(arg)` for every received message whose body is
 * `body_case` (a CAIRN__PEER_MESSAGE__BODY_* value); replaces an earlier
 * handler. Messages without a handler are dropped (logged at debug).
 * Owner loop, or before the loop runs.
 */
void peer_on(struct peer *p, int body_case, peer_handler_fn fn, void *arg);

/*
 * Called on the owner loop when a working connection to host `id` is
 * lost (closed by the peer, a read or write error): whatever was sent on
 * it and not yet answered will never be answered from that connection,
 * so a caller waiting for answers should count them as failed now
 * rather than at its deadline. Later sends re-open the connection.
 */
typedef void (*peer_lost_fn)(struct peer *p, const struct ring_host_id *id,
                             void *arg);

/*
 * peer_on_lost -- call `fn(arg)` each time a working connection is lost;
 * replaces an earlier one, NULL removes it. Any thread.
 */
void peer_on_lost(struct peer *p, peer_lost_fn fn, void *arg);

/*
 * peer_set_address -- host `id` is now reached at `addr` ("host:port" of
 * its peer port). A changed address closes the old connection. Owner loop.
 */
void peer_set_address(struct peer *p, const struct ring_host_id *id,
                      const char *addr);

/*
 * peer_send -- send `m` to host `to` (asynchronously; `done` may be NULL).
 * Any thread. Returns 0 when queued (then `done` runs exactly once on the
 * owner loop), or -ENOMEM (nothing queued, `done` not called).
 */
int peer_send(struct peer *p, const struct ring_host_id *to,
              const Cairn__PeerMessage *m, peer_done_fn done, void *arg);

/*
 * peer_send_addr -- as peer_send, to whoever listens at `addr`; when `to`
 * is not NULL the acceptor must be that host id. For seeds and for
 * gossip answers to an address.
 */
int peer_send_addr(struct peer *p, const char *addr,
                   const struct ring_host_id *to, const Cairn__PeerMessage *m,
                   peer_done_fn done, void *arg);

/*
 * peer_close -- stop listening, close every connection, fail queued sends
 * with -ECANCELED. Owner loop. The loop must then run until its handles
 * are closed before peer_free.
 */
void peer_close(struct peer *p);

/* peer_free -- release `p` after peer_close and the loop ran out. */
void peer_free(struct peer *p);

/* peer_self -- our host id. */
const struct ring_host_id *peer_self(const struct peer *p);

#endif /* CAIRN_SERVER_PEER_H */
