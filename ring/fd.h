/*
 * fd.h -- phi accrual failure detector (Hayashibara et al.), one state per
 * watched peer.
 *
 * Gossip reports each time a peer's heartbeat is seen to advance. The
 * detector keeps the last FD_WINDOW intervals between those arrivals and
 * models them as a normal distribution. phi(now) is how surprised we are
 * that nothing arrived for (now - last arrival):
 *
 *     phi = -log10(P(interval > t)),  P = 0.5 * erfc((t - mean) / (sd * √2))
 *
 * with sd never below `min_std_dev_ms`, because gossip heartbeats come at
 * a very regular one-second rhythm and a tiny measured deviation would
 * convict a peer after one late round. phi above `threshold` (8: one
 * chance in 10^8 of being wrong under the model) convicts. With one-second
 * gossip and the defaults, a peer that falls silent is convicted about
 * mean + 5.6 * sd after its last heartbeat, i.e. in roughly 10 to 20 s.
 *
 * Intervals longer than `max_interval_ms` (a partition, a paused process)
 * are not sampled, so one long outage does not slow detection for good.
 * Pure arithmetic on times the caller passes in; no clock is read.
 */
#ifndef CAIRN_RING_FD_H
#define CAIRN_RING_FD_H

#include <stdbool.h>
#include <stdint.h>

#define FD_WINDOW  128 /* intervals kept per peer */
#define FD_PHI_MAX 1e9 /* phi when P underflows to 0 */

struct fd_config {
    double threshold;          /* conviction above this phi (default 8) */
    int64_t min_std_dev_ms;    /* floor of the deviation (default 2000) */
    int64_t first_interval_ms; /* assumed before any sample (1000) */
    int64_t max_interval_ms;   /* longer gaps are not sampled (15000) */
};

struct fd_state {
    int64_t last_ms;           /* last arrival; valid when n > 0 */
    int32_t sample[FD_WINDOW]; /* intervals in ms, a ring buffer */
    uint32_t n, next;          /* samples held, next slot to write */
    int64_t sum, sumsq;        /* over the held samples, exact */
    bool started;              /* an arrival was reported */
};

/* fd_config_default -- the defaults above into `c`. */
void fd_config_default(struct fd_config *c);

/* fd_init -- a detector that has seen nothing. */
void fd_init(struct fd_state *f);

/*
 * fd_report -- a heartbeat arrived at `now_ms`. The first arrival seeds the
 * window with `first_interval_ms`. Times going backwards are ignored.
 */
void fd_report(struct fd_state *f, const struct fd_config *c, int64_t now_ms);

/* fd_mean_ms, fd_std_dev_ms -- the window's statistics (sd before flooring) */
double fd_mean_ms(const struct fd_state *f);
double fd_std_dev_ms(const struct fd_state *f);

/*
 * fd_phi -- suspicion at `now_ms` (0 when nothing was ever reported or no
 * time passed; at most FD_PHI_MAX).
 */
double fd_phi(const struct fd_state *f, const struct fd_config *c,
              int64_t now_ms);

/* fd_convicted -- fd_phi() > c->threshold. */
bool fd_convicted(const struct fd_state *f, const struct fd_config *c,
                  int64_t now_ms);

#endif /* CAIRN_RING_FD_H */
