/*
 * sample.c - how the paging engine learns which resident frames a guest
 * uses, beyond the faults on frames it paged out.
 *
 * Page selection needs references to resident frames, and Xen shows Dom0
 * none unless asked (docs/hv-xen.md, "Access observation").  This file
 * asks, within a budget, in one of two ways per domain:
 *
 *   n2rwx: every epoch (XENSHAPE__OBSERVE_EPOCH_MS) the events of the
 *     frames armed before are read and passed to the policy as accesses,
 *     and the next rotating sample of resident frames is armed
 *     (select/observe.c picks them, at most resident / 64 and never more
 *     than 1024 a epoch).  Xen 4.17 implements mem_access on Intel VT-x
 *     with EPT only (p2m_mem_access_sanity_check); elsewhere the first
 *     arming fails with EOPNOTSUPP, and the domain falls back to
 *     log-dirty.
 *   log-dirty, sampled in time: every LOGDIRTY_PERIOD_MS log-dirty is
 *     switched on for LOGDIRTY_WINDOW_MS, then the bitmap is read and
 *     log-dirty switched off again; each resident frame written in the
 *     window is an access.  It sees writes only.  While it is on, the
 *     first write to each frame costs the guest a fault (none with Intel
 *     PML), so the duty cycle bounds the cost: at most one fault per
 *     distinct frame written in a window, windows a tenth of the time.
 *     Left on for good it would cost a fault per frame written per read,
 *     without end; under QEMU's emulation that slowed the lane's guest
 *     fifty-fold.
 *
 * select/observe.c is the same sampler the trace replay uses for its
 * "--observe xen" mode, so what the replay measures is what runs here.
 * Observation is an aid: when it cannot be had, or fails later, the
 * domain is paged on faults alone, which is logged once and shown in its
 * statistics (observe = 0).
 */

#include <errno.h>
#include <stdlib.h>

#include "pager/pager.h"
#include "select/observe.h"

/* Gfns read from the monitor ring per access_read call. */
#define READ_BATCH XENSHAPE__OBSERVE_ARM_MAX
/* Epochs in a row whose arming or reading failed before we give up. */
#define MAX_FAILED_EPOCHS 8
/* Log-dirty's duty cycle: on for the window, once a period. */
#define LOGDIRTY_WINDOW_MS 200u
#define LOGDIRTY_PERIOD_MS 2000u

void xenshape__track_admit(xenshape__dom *d, uint64_t gfn)
{
    xenshape__policy_admit(d->pol, gfn);
    if (d->obs)
        xenshape__observe_admit(d->obs, gfn);
}

void xenshape__track_evicted(xenshape__dom *d, uint64_t gfn)
{
    xenshape__policy_evicted(d->pol, gfn);
    if (d->obs)
        xenshape__observe_evicted(d->obs, gfn);
}

/* Frames worth arming: resident, not in an eviction, not a hole. */
static bool arm_ok(void *arg, uint64_t gfn)
{
    xenshape__dom *d = arg;

    return !d->gfn_rec[gfn] && !d->gfn_flags[gfn];
}

static unsigned public_modes(unsigned hv_modes)
{
    return ((hv_modes & XENSHAPE__HV_ACCESS_N2RWX) ?
            XENSHAPE_OBSERVE_N2RWX : 0) |
        ((hv_modes & XENSHAPE__HV_ACCESS_LOGDIRTY) ?
         XENSHAPE_OBSERVE_LOGDIRTY : 0);
}

static void sampler_free(xenshape__dom *d)
{
    pthread_mutex_lock(&d->lock);
    xenshape__observe_free(d->obs);
    d->obs = NULL;
    free(d->obs_buf);
    d->obs_buf = NULL;
    free(d->idle_snap[0]);
    d->idle_snap[0] = d->idle_snap[1] = NULL;
    d->obs_modes = 0;
    d->obs_window = false;
    d->st.observe = 0;
    pthread_mutex_unlock(&d->lock);
}

/* Build the sampler's view of d: everything resident except the holes
 * and the frames we hold.  0 or XENSHAPE_ENOMEM. */
static int sampler_new(xenshape__dom *d, unsigned hv_mode)
{
    xenshape__observe *o = NULL;
    uint64_t *buf = NULL, *snap = NULL, g, words;
    int rc;

    words = hv_mode == XENSHAPE__HV_ACCESS_LOGDIRTY ?
        (d->nr_gfns + 63) / 64 : READ_BATCH;
    buf = xenshape__calloc(words, sizeof(*buf));
    /* n2rwx tells which frames stayed idle: the usage estimate's base. */
    if (hv_mode == XENSHAPE__HV_ACCESS_N2RWX)
        snap = xenshape__calloc((d->nr_gfns + 63) / 64 * 2,
                                sizeof(*snap));
    if (!buf || (hv_mode == XENSHAPE__HV_ACCESS_N2RWX && !snap)) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    rc = xenshape__observe_new(&o, d->nr_gfns, NULL,
                               XENSHAPE__POLICY_ALL_RESIDENT);
    if (rc)
        goto out;
    pthread_mutex_lock(&d->lock);
    for (g = 0; g < d->nr_gfns; g++)
        if (d->gfn_rec[g] || (d->gfn_flags[g] & XENSHAPE__GFN_HOLE))
            xenshape__observe_evicted(o, g);
    d->obs = o;
    d->obs_buf = buf;
    d->idle_snap[0] = snap;
    d->idle_snap[1] = snap ? snap + (d->nr_gfns + 63) / 64 : NULL;
    d->obs_modes = hv_mode;
    d->st.observe = public_modes(hv_mode);
    pthread_mutex_unlock(&d->lock);
    o = NULL;
    buf = NULL;
    snap = NULL;
    rc = 0;
 out:
    xenshape__observe_free(o);
    free(buf);
    free(snap);
    return rc;
}

/* Arm the next sample.  0 or the -errno of access_arm (nothing armed). */
static int arm_next(xenshape_ctx *ctx, xenshape__dom *d)
{
    uint32_t n, i;
    int r;

    pthread_mutex_lock(&d->lock);
    n = xenshape__observe_pick(d->obs, arm_ok, d, d->obs_buf,
                               xenshape__observe_budget(d->obs));
    pthread_mutex_unlock(&d->lock);
    if (!n)
        return 0;
    r = xenshape__hv_access_arm(ctx->hv, d->domid, d->obs_buf, n);
    if (r >= 0)
        return 0;
    pthread_mutex_lock(&d->lock);
    for (i = 0; i < n; i++)
        xenshape__observe_disarm(d->obs, d->obs_buf[i]);
    pthread_mutex_unlock(&d->lock);
    return r;
}

/* Switch on one mode and run its first epoch; 0 or -errno, with
 * nothing left on after a failure. */
static int try_mode(xenshape_ctx *ctx, xenshape__dom *d, unsigned hv_mode)
{
    int r, rc;

    /* At attach, a log left on can only be a dead pager's (or the
     * device model's VRAM tracking): the caller must not attach a domain
     * being saved or migrated.  Later windows never take over. */
    r = xenshape__hv_access_enable(ctx->hv, d->domid, hv_mode |
                                   XENSHAPE__HV_ACCESS_TAKEOVER);
    if (r == 0)
        r = -EOPNOTSUPP;
    if (r < 0)
        return r;
    rc = sampler_new(d, hv_mode);
    if (rc) {
        r = -ENOMEM;
        goto fail;
    }
    if (hv_mode == XENSHAPE__HV_ACCESS_N2RWX) {
        r = arm_next(ctx, d);
        d->obs_next_ns = xenshape__now_ns() +
            XENSHAPE__OBSERVE_EPOCH_MS * 1000000ull;
    } else {
        /* The first window is open: start the log afresh, as what was
         * written before attach says nothing about it. */
        r = xenshape__hv_dirty_read(ctx->hv, d->domid, d->obs_buf,
                                    d->nr_gfns, true);
        d->obs_window = true;
        d->obs_next_ns = xenshape__now_ns() +
            LOGDIRTY_WINDOW_MS * 1000000ull;
    }
    if (r < 0)
        goto fail;
    return 0;
 fail:
    sampler_free(d);
    xenshape__hv_access_disable(ctx->hv, d->domid);
    return r;
}

void xenshape__sample_start(xenshape_ctx *ctx, xenshape__dom *d)
{
    int r = 0;

    if (ctx->observe_modes & XENSHAPE_OBSERVE_N2RWX) {
        r = try_mode(ctx, d, XENSHAPE__HV_ACCESS_N2RWX);
        if (!r) {
            XSLOG(ctx->lg, INFO, -1, "domain %u: sampling first touches "
                  "(mem_access n2rwx)", d->domid);
            return;
        }
        XSLOG(ctx->lg, NOTICE, -r, "domain %u: no mem_access sampling%s",
              d->domid, r == -EOPNOTSUPP ? " (Xen 4.17 offers it on "
              "Intel VT-x with EPT only)" : r == -EBUSY ? " (another "
              "monitor client, such as a VMI tool, holds the ring)" : "");
    }
    if (ctx->observe_modes & XENSHAPE_OBSERVE_LOGDIRTY) {
        r = try_mode(ctx, d, XENSHAPE__HV_ACCESS_LOGDIRTY);
        if (!r) {
            XSLOG(ctx->lg, INFO, -1, "domain %u: sampling writes "
                  "(log-dirty)", d->domid);
            return;
        }
        XSLOG(ctx->lg, NOTICE, -r, "domain %u: no log-dirty sampling "
              "(passthrough devices, or a save in progress?)", d->domid);
    }
    if (ctx->observe_modes)
        XSLOG(ctx->lg, NOTICE, -1, "domain %u: page selection sees faults "
              "only", d->domid);
}

/* One n2rwx epoch: pass on the events, arm the next sample. */
static int tick_n2rwx(xenshape_ctx *ctx, xenshape__dom *d)
{
    int n, i;

    do {
        n = xenshape__hv_access_read(ctx->hv, d->domid, d->obs_buf,
                                     READ_BATCH);
        if (n < 0)
            return n;
        pthread_mutex_lock(&d->lock);
        for (i = 0; i < n; i++) {
            uint64_t g = d->obs_buf[i];

            if (xenshape__observe_seen(d->obs, g) && !d->gfn_rec[g]) {
                xenshape__policy_access(d->pol, g);
                xenshape__mark_ref(d, g);
                d->st.observed++;
            }
        }
        pthread_mutex_unlock(&d->lock);
    } while (n == READ_BATCH);
    return arm_next(ctx, d);
}

/* The resident frames written in the window join the working set.
 * Caller holds d->lock.  O(nr_gfns / 64 + frames written). */
static void mark_dirty(xenshape__dom *d)
{
    uint64_t wi, w, g;

    for (wi = 0; wi < (d->nr_gfns + 63) / 64; wi++)
        for (w = d->obs_buf[wi]; w; w &= w - 1) {
            g = (wi << 6) | (uint64_t)__builtin_ctzll(w);
            if (g < d->nr_gfns && xenshape__observe_resident(d->obs, g))
                xenshape__mark_ref(d, g);
        }
}

/*
 * Log-dirty's duty cycle.  At the end of a window: read what was written
 * in it, then switch log-dirty off until the next one.  At the start of
 * one: switch it on (Xen starts the log empty).
 */
static int tick_logdirty(xenshape_ctx *ctx, xenshape__dom *d,
                         uint64_t now_ns)
{
    int r;

    if (!d->obs_window) {
        r = xenshape__hv_access_enable(ctx->hv, d->domid,
                                       XENSHAPE__HV_ACCESS_LOGDIRTY);
        if (r == 0)
            r = -EOPNOTSUPP;
        if (r < 0)
            return r;
        d->obs_window = true;
        d->obs_next_ns = now_ns + LOGDIRTY_WINDOW_MS * 1000000ull;
        return 0;
    }
    r = xenshape__hv_dirty_read(ctx->hv, d->domid, d->obs_buf, d->nr_gfns,
                                true);
    if (r < 0)
        return r;
    pthread_mutex_lock(&d->lock);
    d->st.observed += xenshape__observe_dirty(d->obs, d->obs_buf, d->nr_gfns,
                                              d->pol);
    mark_dirty(d);
    pthread_mutex_unlock(&d->lock);
    r = xenshape__hv_access_disable(ctx->hv, d->domid);
    if (r < 0)
        return r;
    d->obs_window = false;
    d->obs_next_ns = now_ns + (LOGDIRTY_PERIOD_MS - LOGDIRTY_WINDOW_MS) *
        1000000ull;
    return 0;
}

void xenshape__sample_tick(xenshape_ctx *ctx, xenshape__dom *d,
                           uint64_t now_ns)
{
    int r;

    if (!d->obs_modes || now_ns < d->obs_next_ns)
        return;
    if (d->obs_modes == XENSHAPE__HV_ACCESS_N2RWX) {
        d->obs_next_ns = now_ns + XENSHAPE__OBSERVE_EPOCH_MS * 1000000ull;
        r = tick_n2rwx(ctx, d);
    } else {
        /* On failure, try again after a whole period. */
        d->obs_next_ns = now_ns + LOGDIRTY_PERIOD_MS * 1000000ull;
        r = tick_logdirty(ctx, d, now_ns);
    }
    if (r >= 0) {
        d->obs_failed = 0;
        return;
    }
    /* A transient failure costs one epoch's samples; a lasting one
     * would cost a hypercall every epoch for nothing.  The first of a
     * streak is said, so that an operator sees it either way. */
    if (!d->obs_failed)
        XSLOG(ctx->lg, WARN, -r, "domain %u: access sampling failed; "
              "trying again next epoch", d->domid);
    if (++d->obs_failed < MAX_FAILED_EPOCHS)
        return;
    XSLOG(ctx->lg, WARN, -r, "domain %u: access sampling failed %d epochs "
          "in a row; page selection sees faults only from now on",
          d->domid, MAX_FAILED_EPOCHS);
    xenshape__sample_stop(ctx, d);
}

void xenshape__sample_stop(xenshape_ctx *ctx, xenshape__dom *d)
{
    int r;

    if (!d->obs_modes)
        return;
    /* Restores rwx on what is still armed and switches log-dirty off:
     * a domain we leave must be as we found it. */
    r = xenshape__hv_access_disable(ctx->hv, d->domid);
    if (r < 0 && r != -ESRCH)
        XSLOG(ctx->lg, WARN, -r, "domain %u: switching access observation "
              "off", d->domid);
    sampler_free(d);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
