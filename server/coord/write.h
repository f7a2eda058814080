/*
 * write.h -- the write state machine of a coordinator.
 *
 * One `struct coord_write` follows one client write to one partition. It
 * sends the mutation to every natural and pending replica believed alive,
 * stores hints for those believed down (within the hint window), and
 * answers the client once the consistency level is met, counting pending
 * replicas as extra answers needed (cl.h). At the deadline it answers
 * CAIRN_ETIMEOUT with how many acknowledged out of how many were needed,
 * marks the outcome unknown (the mutation may have landed anywhere), and
 * hints every replica that did not answer. ANY is met by one stored hint.
 *
 * The machine holds no mutation and does no I/O: it returns actions (see
 * act.h); the caller keeps the mutation, sends it, stores hints, runs
 * timers and feeds back what happened. A retry of a timed-out write must
 * reuse the original timestamp, so it can never override a newer write
 * (scenario C24): the timestamp is chosen once, outside this machine.
 *
 * Not thread-safe: one owner. No allocation, so nothing to free.
 */
#ifndef CAIRN_SERVER_COORD_WRITE_H
#define CAIRN_SERVER_COORD_WRITE_H

#include <stdint.h>

#include "server/coord/act.h"
#include "server/coord/cl.h"

#define COORD_MAX_TARGETS 32 /* natural plus pending replicas */

/* One replica a write should reach. */
struct coord_target {
    int replica;     /* the caller's small id for it */
    int pending;     /* 1: taking over the range (joining, moving) */
    int alive;       /* 1: the failure detector believes it up */
    int64_t down_ns; /* not alive: for how long (hint window) */
};

struct coord_write_params {
    enum coord_cl cl;
    int rf; /* natural replicas of the keyspace */
    const struct coord_target *targets;
    int ntargets;
    int64_t timeout_ns; /* default 2 s */
    int hints;          /* 1: hinted handoff on */
    /* No hint for a replica down longer than this; the caller passes
       min(hint window, the table's gc grace) so a hint can never bring
       back data whose tombstone was purged. */
    int64_t hint_window_ns;
};

enum coord_tstate {
    COORD_T_IDLE = 0, /* not sent (down) */
    COORD_T_SENT,     /* waiting for its answer */
    COORD_T_ACKED,
    COORD_T_FAILED,   /* answered with an error */
    COORD_T_TIMEDOUT, /* no answer by the deadline */
};

struct coord_write {
    struct coord_target t[COORD_MAX_TARGETS];
    enum coord_tstate st[COORD_MAX_TARGETS];
    int n;
    enum coord_cl cl;
    int required;      /* answers the level needs */
    int acked;         /* replicas that acknowledged */
    int hints_stored;  /* hints reported durable */
    int hints_pending; /* hint actions not yet reported */
    int missed;        /* replicas neither written nor hinted */
    int hints;
    int64_t deadline_ns;
    int done; /* the client has its answer */
};

/*
 * coord_write_start -- begin at `now_ns`: sends, hints, the deadline
 * timer; or, when too few replicas are alive, a DONE action with
 * CAIRN_EUNAVAILABLE and nothing sent. Returns 0, -EINVAL for bad
 * parameters (too many targets, unknown level), -ENOMEM from the list.
 */
int coord_write_start(struct coord_write *w, const struct coord_write_params *p,
                      int64_t now_ns, struct coord_acts *out);

/*
 * coord_write_on_reply -- replica answered the SEND_WRITE with `tag`:
 * rc 0 (applied durably) or its error. Late or duplicate answers are
 * ignored. 0 or -ENOMEM.
 */
int coord_write_on_reply(struct coord_write *w, uint32_t tag, int rc,
                         struct coord_acts *out);

/* coord_write_on_hint -- a HINT action for `replica` finished with `rc`. */
int coord_write_on_hint(struct coord_write *w, int replica, int rc,
                        struct coord_acts *out);

/*
 * coord_write_outstanding -- up to `max` tags of SEND_WRITEs to
 * `replica` still awaiting an answer, into `tags`; returns how many.
 * The caller fails each with coord_write_on_reply (which hints it) when
 * the replica is known gone.
 */
int coord_write_outstanding(const struct coord_write *w, int replica,
                            uint32_t *tags, int max);

/* coord_write_on_timer -- the timer fired at `now_ns`. */
int coord_write_on_timer(struct coord_write *w, int64_t now_ns,
                         struct coord_acts *out);

/*
 * coord_write_finished -- nothing more can happen (answered, every
 * replica answered or timed out, every hint reported): the caller may
 * drop the mutation and give back its admission.
 */
int coord_write_finished(const struct coord_write *w);

#endif /* CAIRN_SERVER_COORD_WRITE_H */
