/*
 * cl.h -- consistency levels: how many answers a request needs.
 *
 * A level names how many replicas must answer for a request to succeed.
 * For writes, replicas that are taking over a range (pending) receive the
 * write too and raise the count by one each, so that the level still holds
 * for whichever replica set owns the range once the move ends (Cassandra's
 * rule). A request that cannot reach the count with the replicas believed
 * alive fails at once with CAIRN_EUNAVAILABLE and writes nothing.
 */
#ifndef CAIRN_SERVER_COORD_CL_H
#define CAIRN_SERVER_COORD_CL_H

enum coord_cl {
    COORD_CL_ANY = 0, /* writes only: one replica or one stored hint */
    COORD_CL_ONE,
    COORD_CL_TWO,
    COORD_CL_THREE,
    COORD_CL_QUORUM, /* rf / 2 + 1 */
    COORD_CL_ALL,
};

/* coord_cl_name -- "ANY", "ONE", ... ; "?" for an unknown value. */
const char *coord_cl_name(enum coord_cl cl);

/*
 * coord_cl_parse -- the level named `s` (case-insensitive); 0, or -EINVAL
 * with a detail for an unknown name.
 */
int coord_cl_parse(const char *s, enum coord_cl *out);

/*
 * coord_cl_block_for -- answers the level needs from `rf` natural
 * replicas, before pending replicas are added. ANY counts 1. -EINVAL for
 * an rf below 1 or an unknown level.
 */
int coord_cl_block_for(enum coord_cl cl, int rf);

/*
 * coord_cl_write_check -- may a write start? `alive` counts natural plus
 * pending replicas believed up. On success returns the answers needed
 * (block_for + npending; ANY: 1). CAIRN_EUNAVAILABLE when fewer are alive
 * (ANY never, when `hints` is 1, as a stored hint satisfies it), and when
 * the level asks for more replicas than rf holds. -EINVAL on bad input.
 */
int coord_cl_write_check(enum coord_cl cl, int rf, int npending, int alive,
                         int hints);

/*
 * coord_cl_read_check -- may a read start? Pending replicas do not hold
 * the data yet and never count. Returns the replicas to ask, or
 * CAIRN_EUNAVAILABLE, or -EINVAL (also for ANY, which reads cannot use).
 */
int coord_cl_read_check(enum coord_cl cl, int rf, int alive);

#endif /* CAIRN_SERVER_COORD_CL_H */
