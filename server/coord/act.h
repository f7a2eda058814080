/*
 * act.h -- the actions a coordinator state machine hands back.
 *
 * The write and read state machines never do I/O. Each call appends what
 * should happen next to a `struct coord_acts` list: send a request to a
 * replica, store a hint, set a timer, complete the client's request. The
 * server turns those into libuv work; the simulator into events on its
 * in-memory network. Pointers inside an action borrow from the state
 * machine that produced it and stay valid until the next call on it.
 */
#ifndef CAIRN_SERVER_COORD_ACT_H
#define CAIRN_SERVER_COORD_ACT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

enum coord_act_kind {
    COORD_ACT_SEND_WRITE,  /* send the request's mutation to `replica` */
    COORD_ACT_SEND_READ,   /* send `read` to `replica` (digest_only?) */
    COORD_ACT_SEND_REPAIR, /* write `part` (original timestamps) */
    COORD_ACT_HINT,        /* store a hint of the mutation for `replica` */
    COORD_ACT_TIMER,       /* call the machine's on_timer at `at_ns` */
    COORD_ACT_DONE,        /* answer the client with `rc` */
};

struct coord_act {
    enum coord_act_kind kind;
    int replica;              /* sends and hints: the replica's small id */
    uint32_t tag;             /* sends: echo it back with the response */
    int digest_only;          /* SEND_READ: answer with a digest only */
    struct storage_read read; /* SEND_READ; bytes borrowed */
    const struct storage_partition *part; /* SEND_REPAIR; borrowed */
    int64_t at_ns;                        /* TIMER: monotonic deadline */
    int rc;                               /* DONE: 0 or CAIRN_E* */
    int acked;    /* DONE: replicas (or hints, for ANY) that answered */
    int required; /* DONE: answers the level needed */
    int unknown;  /* DONE with an error: the mutation may have landed */
};

/* A growable list of actions; the caller drains it after each call. */
struct coord_acts {
    struct coord_act *v;
    size_t n, cap;
};

/* coord_acts_init -- an empty list; allocates nothing. */
void coord_acts_init(struct coord_acts *a);

/* coord_acts_free -- release the list's memory. */
void coord_acts_free(struct coord_acts *a);

/* coord_acts_clear -- forget the actions, keep the capacity. */
void coord_acts_clear(struct coord_acts *a);

/*
 * coord_acts_push -- append a copy of `act`; 0 or -ENOMEM (the list is
 * unchanged on failure).
 */
int coord_acts_push(struct coord_acts *a, const struct coord_act *act);

#endif /* CAIRN_SERVER_COORD_ACT_H */
