/*
 * fd.c -- phi accrual failure detector (see fd.h for the model).
 *
 * Sums are kept in integers over the window, so adding and dropping
 * samples never drifts the mean or the deviation.
 */
#include <math.h>
#include <string.h>

#include "ring/fd.h"

void fd_config_default(struct fd_config *c)
{
    c->threshold = 8.0;
    c->min_std_dev_ms = 2000;
    c->first_interval_ms = 1000;
    c->max_interval_ms = 15000;
}

void fd_init(struct fd_state *f)
{
    memset(f, 0, sizeof(*f));
}

static void add_sample(struct fd_state *f, int64_t iv)
{
    if (f->n == FD_WINDOW) {
        int64_t old = f->sample[f->next];

        f->sum -= old;
        f->sumsq -= old * old;
    } else {
        f->n++;
    }
    f->sample[f->next] = (int32_t)iv;
    f->next = (f->next + 1) % FD_WINDOW;
    f->sum += iv;
    f->sumsq += iv * iv;
}

void fd_report(struct fd_state *f, const struct fd_config *c, int64_t now_ms)
{
    if (!f->started) {
        f->started = true;
        f->last_ms = now_ms;
        add_sample(f, c->first_interval_ms);
        return;
    }
    if (now_ms < f->last_ms)
        return;
    if (now_ms - f->last_ms <= c->max_interval_ms)
        add_sample(f, now_ms - f->last_ms);
    f->last_ms = now_ms;
}

double fd_mean_ms(const struct fd_state *f)
{
    return f->n ? (double)f->sum / f->n : 0.0;
}

double fd_std_dev_ms(const struct fd_state *f)
{
    double mean = fd_mean_ms(f);
    double var;

    if (f->n == 0)
        return 0.0;
    var = (double)f->sumsq / f->n - mean * mean;
    return var > 0 ? sqrt(var) : 0.0;
}

double fd_phi(const struct fd_state *f, const struct fd_config *c,
              int64_t now_ms)
{
    double sd = fd_std_dev_ms(f);
    double t, p;

    if (!f->started || now_ms <= f->last_ms)
        return 0.0;
    if (sd < (double)c->min_std_dev_ms)
        sd = (double)c->min_std_dev_ms;
    t = (double)(now_ms - f->last_ms);
    p = 0.5 * erfc((t - fd_mean_ms(f)) / (sd * M_SQRT2));
    if (p <= 0.0)
        return FD_PHI_MAX;
    return fmin(-log10(p), FD_PHI_MAX);
}

bool fd_convicted(const struct fd_state *f, const struct fd_config *c,
                  int64_t now_ms)
{
    return fd_phi(f, c, now_ms) > c->threshold;
}
