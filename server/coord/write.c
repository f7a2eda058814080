/*
 * write.c -- the write state machine (see write.h).
 */
#include "server/coord/write.h"

#include <string.h>

#include "common/err.h"

static int push(struct coord_acts *out, enum coord_act_kind kind, int replica,
                uint32_t tag)
{
    struct coord_act a = {.kind = kind, .replica = replica, .tag = tag};

    return coord_acts_push(out, &a);
}

static int done(struct coord_write *w, int rc, int unknown,
                struct coord_acts *out)
{
    struct coord_act a = {.kind = COORD_ACT_DONE,
                          .rc = rc,
                          .acked = w->acked,
                          .required = w->required,
                          .unknown = unknown};

    w->done = 1;
    if (w->cl == COORD_CL_ANY)
        a.acked += w->hints_stored;
    return coord_acts_push(out, &a);
}

static int count_state(const struct coord_write *w, enum coord_tstate s)
{
    int n = 0;

    for (int i = 0; i < w->n; i++)
        n += w->st[i] == s;
    return n;
}

/* progress -- answer once the level is met or can no longer be met. */
static int progress(struct coord_write *w, int last_rc, struct coord_acts *out)
{
    int got = w->acked, maybe;

    if (w->done)
        return 0;
    if (w->cl == COORD_CL_ANY)
        got += w->hints_stored;
    if (got >= w->required)
        return done(w, 0, 0, out);
    maybe = got + count_state(w, COORD_T_SENT);
    if (w->cl == COORD_CL_ANY)
        maybe += w->hints_pending;
    /* A failure is certain only if nothing can land: no replica acked
       or may still apply it, and no hint of it was kept for replay. */
    if (maybe < w->required)
        return done(w, last_rc,
                    got > 0 || count_state(w, COORD_T_SENT) ||
                        w->hints_stored || w->hints_pending,
                    out);
    return 0;
}

static int hint(struct coord_write *w, int i, struct coord_acts *out)
{
    if (!w->hints) {
        w->missed++;
        return 0;
    }
    w->hints_pending++;
    return push(out, COORD_ACT_HINT, w->t[i].replica, (uint32_t)i);
}

static int check_params(const struct coord_write_params *p)
{
    if (p->ntargets < 1 || p->ntargets > COORD_MAX_TARGETS)
        return err_set(-EINVAL, "write targets=%d outside 1..%d", p->ntargets,
                       COORD_MAX_TARGETS);
    if (p->timeout_ns <= 0)
        return err_set(-EINVAL, "write timeout must be positive");
    return 0;
}

int coord_write_start(struct coord_write *w, const struct coord_write_params *p,
                      int64_t now_ns, struct coord_acts *out)
{
    int alive = 0, npending = 0, rc = check_params(p);

    if (rc)
        return rc;
    memset(w, 0, sizeof(*w));
    w->n = p->ntargets;
    w->cl = p->cl;
    w->hints = p->hints;
    w->deadline_ns = now_ns + p->timeout_ns;
    for (int i = 0; i < w->n; i++) {
        w->t[i] = p->targets[i];
        alive += w->t[i].alive != 0;
        npending += w->t[i].pending != 0;
    }
    rc = coord_cl_write_check(p->cl, p->rf, npending, alive, p->hints);
    if (rc == -EINVAL)
        return rc;
    if (rc < 0) {
        /* Name the count that was needed in the Unavailable answer. */
        int need = coord_cl_block_for(p->cl, p->rf);
        w->required = need > 0 ? need + npending : 0;
        return done(w, rc, 0, out);
    }
    w->required = rc;
    rc = 0;

    for (int i = 0; !rc && i < w->n; i++) {
        if (w->t[i].alive) {
            w->st[i] = COORD_T_SENT;
            rc = push(out, COORD_ACT_SEND_WRITE, w->t[i].replica, (uint32_t)i);
        } else if (w->t[i].down_ns <= p->hint_window_ns) {
            rc = hint(w, i, out);
        } else {
            w->missed++; /* beyond the window: repair must bring it */
        }
    }
    if (!rc) {
        struct coord_act t = {.kind = COORD_ACT_TIMER, .at_ns = w->deadline_ns};
        rc = coord_acts_push(out, &t);
    }
    return rc;
}

int coord_write_on_reply(struct coord_write *w, uint32_t tag, int rc,
                         struct coord_acts *out)
{
    int i = (int)tag;

    if (tag >= (uint32_t)w->n || w->st[i] != COORD_T_SENT)
        return 0; /* late (after the deadline) or duplicate */
    if (rc == 0) {
        w->st[i] = COORD_T_ACKED;
        w->acked++;
        return progress(w, 0, out);
    }
    /* The replica refused: it lacks the write, so hint it. */
    w->st[i] = COORD_T_FAILED;
    rc = rc < 0 ? rc : CAIRN_EIO;
    if (hint(w, i, out))
        return -ENOMEM;
    return progress(w, rc, out);
}

int coord_write_on_hint(struct coord_write *w, int replica, int rc,
                        struct coord_acts *out)
{
    if (w->hints_pending == 0)
        return 0;
    w->hints_pending--;
    if (rc == 0)
        w->hints_stored++;
    else
        w->missed++;
    (void)replica;
    return progress(w, rc ? rc : CAIRN_ETIMEOUT, out);
}

int coord_write_on_timer(struct coord_write *w, int64_t now_ns,
                         struct coord_acts *out)
{
    if (now_ns < w->deadline_ns)
        return 0;
    for (int i = 0; i < w->n; i++) {
        if (w->st[i] != COORD_T_SENT)
            continue;
        w->st[i] = COORD_T_TIMEDOUT;
        if (hint(w, i, out))
            return -ENOMEM;
    }
    if (w->done)
        return 0;
    /* Some replica may still apply it: the outcome is unknown. */
    return done(w, CAIRN_ETIMEOUT, 1, out);
}

int coord_write_outstanding(const struct coord_write *w, int replica,
                            uint32_t *tags, int max)
{
    int got = 0;

    for (int i = 0; i < w->n && got < max; i++)
        if (w->st[i] == COORD_T_SENT && w->t[i].replica == replica)
            tags[got++] = (uint32_t)i;
    return got;
}

int coord_write_finished(const struct coord_write *w)
{
    return w->done && w->hints_pending == 0 &&
           count_state(w, COORD_T_SENT) == 0;
}
