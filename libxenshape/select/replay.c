/*
 * replay.c - the replay driver: feeds a trace to a policy through the
 * select.h interface, with an exact RAM budget, and counts the faults.
 *
 * It plays both the paging engine and the hypervisor.  As the engine it
 * admits a frame on every fault, asks choose() for one victim when RAM is
 * full and reports evicted(), exactly as the engine does one frame at a
 * time.  As the hypervisor, in XENSHAPE__OBSERVE_XEN mode, it keeps the
 * n2rwx arming of every frame, queues one event for the first touch of an
 * armed frame, collects log-dirty bits from W references, and hands both
 * to the engine side once per epoch, where the observation component
 * (observe.h) filters them and picks the next frames to arm.  Nothing else
 * about resident frames reaches the policy in that mode.
 */

#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "select/replay.h"

#define F_RES   0x1u                 /* resident */
#define F_PEND  0x2u                 /* n2rwx event queued, not yet read */
#define F_DIRTY 0x4u                 /* written since the last dirty read */

void xenshape__replay_params_default(xenshape__replay_params *prm)
{
    memset(prm, 0, sizeof(*prm));
    prm->policy = "default";
    prm->observe = XENSHAPE__OBSERVE_ALL;
    prm->seed = 1;
    xenshape__observe_params_default(&prm->obs);
}

static bool any_frame(void *arg, uint64_t gfn)
{
    return true;
}

typedef struct xen_side {
    xenshape__observe *obs;
    uint32_t *events;                /* queued n2rwx events, in order */
    uint32_t *dirty;                 /* frames written this epoch */
    uint64_t nr_events, nr_dirty;
    uint64_t *arm;                   /* scratch for pick */
    uint32_t arm_cap;
} xen_side;

/* End of an epoch: the engine reads the events and the dirty log, passes
 * what is still resident on to the policy, and arms the next sample. */
static void epoch_end(xen_side *x, uint8_t *fl, xenshape__policy *p,
                      xenshape__replay_stats *st)
{
    uint64_t i;
    uint32_t g, n, budget;

    for (i = 0; i < x->nr_events; i++) {
        g = x->events[i];
        fl[g] &= ~F_PEND;
        if (xenshape__observe_seen(x->obs, g)) {
            xenshape__policy_access(p, g);
            st->accesses++;
        }
    }
    x->nr_events = 0;
    for (i = 0; i < x->nr_dirty; i++) {
        g = x->dirty[i];
        fl[g] &= ~F_DIRTY;
        if (fl[g] & F_RES) {
            xenshape__policy_access(p, g);
            st->accesses++;
        }
    }
    x->nr_dirty = 0;
    budget = xenshape__observe_budget(x->obs);
    if (budget > x->arm_cap)
        budget = x->arm_cap;
    n = xenshape__observe_pick(x->obs, NULL, NULL, x->arm, budget);
    st->armed += n;
    st->epochs++;
}

int xenshape__replay_run(const xenshape__trace *t,
                         const xenshape__replay_params *prm,
                         xenshape__replay_stats *st_r)
{
    xenshape__policy *p = NULL;
    xen_side x;
    xenshape__replay_stats st;
    uint8_t *fl = NULL;
    uint64_t i, nres = 0, frames = prm->frames, epoch_len = 0, left = 0;
    uint64_t victim;
    uint32_t g;
    bool xen = prm->observe == XENSHAPE__OBSERVE_XEN;
    int rc;

    memset(&x, 0, sizeof(x));
    memset(&st, 0, sizeof(st));
    if (!frames || (prm->observe != XENSHAPE__OBSERVE_ALL && !xen)) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    rc = xenshape__policy_new(&p, prm->policy, t->nr_pages, prm->seed,
                              xen ? XENSHAPE__POLICY_SAMPLED : 0);
    if (rc)
        goto out;
    st.meta_bytes_per_frame = p->ops->meta_bytes_per_frame;
    fl = xenshape__calloc(t->nr_pages, 1);
    if (!fl) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    if (xen) {
        if (!prm->obs.epoch_div) {
            rc = XENSHAPE_EINVAL;
            goto out;
        }
        rc = xenshape__observe_new(&x.obs, t->nr_pages, &prm->obs, 0);
        if (rc)
            goto out;
        x.arm_cap = prm->obs.arm_max ? prm->obs.arm_max : 1;
        x.events = xenshape__malloc((uint64_t)t->nr_pages * sizeof(uint32_t));
        x.dirty = xenshape__malloc((uint64_t)t->nr_pages * sizeof(uint32_t));
        x.arm = xenshape__malloc((uint64_t)x.arm_cap * sizeof(uint64_t));
        if (!x.events || !x.dirty || !x.arm) {
            rc = XENSHAPE_ENOMEM;
            goto out;
        }
        /* The engine's epoch is a fixed time; here it is a fixed number
         * of references, scaled to the RAM budget. */
        epoch_len = frames / prm->obs.epoch_div;
        if (epoch_len < prm->obs.epoch_min)
            epoch_len = prm->obs.epoch_min;
        if (!epoch_len)
            epoch_len = 1;
        left = epoch_len;
    }

    for (i = 0; i < t->nr_refs; i++) {
        g = t->refs[i];
        if (fl[g] & F_RES) {
            if (!xen) {
                xenshape__policy_access(p, g);
                st.accesses++;
            } else {
                if (!(fl[g] & F_PEND) && xenshape__observe_armed(x.obs, g)) {
                    fl[g] |= F_PEND;
                    x.events[x.nr_events++] = g;
                }
            }
        } else {
            st.faults++;
            if (nres >= frames) {
                if (xenshape__policy_choose(p, any_frame, NULL, &victim,
                                            1) != 1 ||
                    victim >= t->nr_pages || !(fl[victim] & F_RES)) {
                    rc = XENSHAPE_EPROTO;
                    goto out;
                }
                fl[victim] &= ~F_RES;
                nres--;
                xenshape__policy_evicted(p, victim);
                if (xen)
                    xenshape__observe_evicted(x.obs, victim);
                st.evictions++;
            }
            fl[g] |= F_RES;
            nres++;
            xenshape__policy_admit(p, g);
            if (xen)
                xenshape__observe_admit(x.obs, g);
        }
        if (xen) {
            if (t->writes && ((t->writes[i >> 6] >> (i & 63)) & 1) &&
                (fl[g] & F_RES) && !(fl[g] & F_DIRTY)) {
                fl[g] |= F_DIRTY;
                x.dirty[x.nr_dirty++] = g;
            }
            if (!--left) {
                epoch_end(&x, fl, p, &st);
                left = epoch_len;
            }
        }
    }
    st.refs = t->nr_refs;
    *st_r = st;
    rc = 0;
 out:
    xenshape__policy_free(p);
    xenshape__observe_free(x.obs);
    free(x.events);
    free(x.dirty);
    free(x.arm);
    free(fl);
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
