/*
 * read.h -- the read state machine of a coordinator, and its snitch.
 *
 * One `struct coord_read` follows one client read of one partition (a
 * page of it). It asks as many replicas as the level needs, fastest first
 * by the snitch's observed latency: one for data, the others for a digest
 * of the same page. Equal digests: the data answer is the result.
 * Different ones: the machine reads the *whole* partition from every
 * replica that answered, slice by slice (at most repair_slice_rows rows a
 * reply, so a partition full of tombstones is handled in bounded steps,
 * scenario D09), merges each slice by the conflict rule (resolve.h),
 * takes the client's page from the merged slices, and sends each stale
 * replica exactly what it lacks, original timestamps kept (C11). The
 * client is answered only after every repair is acknowledged (blocking
 * read repair), so a later QUORUM read cannot see older data than this
 * one did. Repairing the whole partition, not only the rows asked for,
 * keeps a batch applied to one partition visible all or nothing.
 *
 * When the data replica is slower than its own p99 (or a configured
 * default while too few samples exist), one extra data request goes to
 * the next replica (speculative retry). A replica that fails (its
 * answer is an error, or the caller reports its connection lost) is
 * never asked again by this read: in the query phase a spare replaces
 * it; once slices started, the read starts over from the query phase
 * without it, as long as enough replicas remain (repairs already
 * written stay: they only add data every replica should have). A
 * participant of a slice or repair round still silent after the
 * speculative delay is dropped the same way when the others still make
 * a quorum, but stays a last resort should another replica fail. Every
 * request ends by its
 * deadline: CAIRN_ETIMEOUT with how many answered out of how many were
 * needed. A replica error that every replica would give (CAIRN_ETOOBIG:
 * over a size or tombstone limit) is passed on at once.
 *
 * Paging: the answer holds rows with tombstones (the server shows live
 * ones); `more` says another page may follow after the last row. A page
 * may hold no live row at all -- the client just carries on.
 */
#ifndef CAIRN_SERVER_COORD_READ_H
#define CAIRN_SERVER_COORD_READ_H

#include <stdint.h>

#include "common/hist.h"
#include "server/coord/act.h"
#include "server/coord/cl.h"
#include "server/coord/resolve.h"
#include "server/coord/write.h"

/* Observed latency of one replica. */
struct coord_lat {
    struct hist h;   /* reply latencies, µs */
    int64_t ewma_us; /* smoothed latency: the snitch score */
};

/* Latencies of replicas 0..n-1; the caller owns `lat`. */
struct coord_snitch {
    struct coord_lat *lat;
    int n;
};

#define COORD_SNITCH_MIN_SAMPLES 20 /* before a p99 is trusted */

/* coord_snitch_init -- forget every sample of every replica. */
void coord_snitch_init(struct coord_snitch *s, struct coord_lat *lat, int n);

/* coord_snitch_record -- `replica` answered after `us` microseconds. */
void coord_snitch_record(struct coord_snitch *s, int replica, int64_t us);

/* coord_snitch_score -- lower is better; 0 for an unknown replica. */
int64_t coord_snitch_score(const struct coord_snitch *s, int replica);

/*
 * coord_snitch_p99_ns -- the replica's p99 latency in ns, or -1 with
 * fewer than COORD_SNITCH_MIN_SAMPLES samples.
 */
int64_t coord_snitch_p99_ns(const struct coord_snitch *s, int replica);

struct coord_read_params {
    enum coord_cl cl; /* not ANY */
    int rf;
    const int *replicas;  /* natural replicas */
    const uint8_t *alive; /* per replica: believed up */
    int nreplicas;
    struct storage_read query;   /* copied by start */
    int64_t timeout_ns;          /* default 5 s */
    int64_t spec_default_ns;     /* speculative delay without a p99; < 0
                                    turns speculative retry off */
    uint32_t repair_slice_rows;  /* rows per slice (D09), >= 1 */
    int read_repair;             /* 0: resolve but write nothing back */
    struct coord_snitch *snitch; /* must outlive the read */
};

/* One request to one replica. */
struct coord_req {
    int replica;
    uint32_t tag;
    int digest_only;
    int state; /* enum coord_tstate */
    int64_t sent_ns;
    uint64_t digest; /* OK answers */
    int more;
    int has_data;
    struct coord_part data;
};

enum coord_read_phase {
    COORD_READ_QUERY = 0, /* data + digests */
    COORD_READ_SLICE,     /* whole-partition slices from each replica */
    COORD_READ_REPAIR,    /* waiting for repair acknowledgements */
    COORD_READ_DONE,
};

struct coord_read {
    enum coord_read_phase phase;
    int required;
    int64_t deadline_ns, spec_at_ns;
    int spec_armed; /* the speculative timer is set and unused */
    int64_t spec_default_ns;
    int failed[COORD_MAX_TARGETS]; /* replicas that failed this read */
    int nfailed;
    int slow[COORD_MAX_TARGETS]; /* replicas dropped for silence */
    int nslow;
    struct coord_snitch *snitch;
    struct storage_read query; /* bytes in `qmem` */
    void *qmem;
    uint32_t slice_rows;
    int read_repair;
    int order[COORD_MAX_TARGETS]; /* alive replicas, fastest first */
    int norder, next_spare;
    uint32_t next_tag;
    struct coord_req q[COORD_MAX_TARGETS]; /* query phase */
    int nq;
    struct coord_req s[COORD_MAX_TARGETS]; /* current slice reads */
    struct coord_req w[COORD_MAX_TARGETS]; /* current slice repairs */
    int ns, nw;
    uint8_t *cursor; /* slices resume strictly after this ck */
    size_t cursor_n;
    int has_cursor;
    int last_slice; /* the settled slice reached the partition's end */
    struct coord_part answer;
    uint32_t answer_rows;
    int answer_full, answer_more;
    uint64_t repairs_sent; /* mutations written back (for metrics) */
    uint32_t slices;       /* slices read */
};

/*
 * coord_read_start -- begin at `now_ns`. Emits the first requests and
 * timers, or a DONE with CAIRN_EUNAVAILABLE (nothing sent) when too few
 * replicas are alive. Returns 0, -EINVAL (bad parameters, ANY) or
 * -ENOMEM. Call coord_read_free() afterwards in every case.
 */
int coord_read_start(struct coord_read *r, const struct coord_read_params *p,
                     int64_t now_ns, struct coord_acts *out);

/*
 * coord_read_on_reply -- the answer to request `tag`: rc (0 or the
 * replica's error); for a data read `data` (borrowed for the call) and
 * `more` (the replica stopped at the limit); for a digest read `digest`
 * and `more`; for a repair, only rc. Unknown tags are ignored.
 */
int coord_read_on_reply(struct coord_read *r, uint32_t tag, int rc,
                        const struct storage_partition *data, uint64_t digest,
                        int more, int64_t now_ns, struct coord_acts *out);

/*
 * coord_read_outstanding -- up to `max` tags of requests to `replica`
 * still awaiting an answer, into `tags`; returns how many. The caller
 * fails each with coord_read_on_reply when the replica is known gone.
 */
int coord_read_outstanding(const struct coord_read *r, int replica,
                           uint32_t *tags, int max);

/* coord_read_on_timer -- a timer set by this read fired at `now_ns`. */
int coord_read_on_timer(struct coord_read *r, int64_t now_ns,
                        struct coord_acts *out);

/*
 * coord_read_result -- after a DONE with rc 0: the page (tombstones
 * included; rows sorted) and whether more may follow its last row.
 * Valid until coord_read_free().
 */
const struct storage_partition *coord_read_result(const struct coord_read *r,
                                                  int *more);

/* coord_read_finished -- answered, and no reply is still awaited. */
int coord_read_finished(const struct coord_read *r);

/* coord_read_free -- release everything the read holds. */
void coord_read_free(struct coord_read *r);

#endif /* CAIRN_SERVER_COORD_READ_H */
