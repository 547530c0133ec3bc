/*
 * shape.c - the shaping policy engine: what shape.h promises, in one
 * call.  Each domain is prepared first (its leaky bucket, thresholds and
 * paced wish), the fixed consumers are set aside (domains that cannot be
 * paged, honoured pins), then the tiers are served in order from what is
 * left: generic wishes, soakers' min-operating, faulting generic domains'
 * claims, relaunches, frames of paused soakers, soakers' growth.  Last,
 * every domain gets its state, metering and a reason in words.
 *
 * All arithmetic is on unsigned frame counts, saturating where a sum or
 * product could overflow on a hostile snapshot; products of three terms
 * go through 128 bits.  Orders are total (priority, then domid), so the
 * outcome never depends on the order of the input.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "shape/shape.h"

#define FRAME_KIB 4u
#define PRIO_FULL 1000u
#define HOUR_MS (UINT64_C(3600) * 1000)

typedef unsigned __int128 u128;

enum cls {
    CLS_UNSUPPORTED,     /* paging unsupported: keeps what it holds */
    CLS_PINNED,          /* honoured pin */
    CLS_GENERIC,
    CLS_SOAKER,          /* a running soaker */
    CLS_HIBERNATED,      /* a soaker we hold paused */
};

struct work {
    const xenshape__shape_dom *in;
    const xenshape__dompolicy *pol;
    xenshape__shape_memo m;          /* the new memo, being built */
    enum cls cls;
    unsigned prio;
    uint64_t presented, resident, usage;
    bool usage_known;
    uint64_t rate;                   /* bucket leak per interval, frames */
    uint64_t allowance;              /* frames it may gain this interval */
    uint64_t hi;                     /* resident + allowance, capped */
    uint64_t hi_claim;               /* resident + what the bucket allows
                                        over CLAIM_MS, capped */
    uint64_t t_high, t_low, ceiling, step, headroom;
    uint64_t min_op, min_start;
    uint64_t raw;                    /* its wish */
    uint64_t want;                   /* its wish, paced */
    uint64_t proj;                   /* faulting: wanted beyond want */
    uint64_t kept;                   /* of its claim, kept from soakers */
    bool claim_cut;                  /* R ran out before its claim */
    bool was_starved;                /* the memo's starved, as it came */
    bool thrash;                     /* its projection is part of its wish */
    uint64_t target;
    unsigned actions;
    uint64_t left;                   /* R when its tier reached it */
    bool uncapped;                   /* fell below threshold-low just now */
    bool step_limited, bucket_limited, squeezed;
    bool lower_giving, deferred;     /* tier_defer() */
    bool hibernated_now, relaunched, relaunch_partial, relaunch_aborted;
    bool relaunch_switch;            /* hibernated, no longer a soaker */
    bool requested;                  /* held hibernated: hibernate-now=1 */
    bool fault_recent;               /* faulted within FAULT_HOLD_MS */
    bool held_fault, held_deadband;  /* a page-out for lack of usage held */
    bool hold_hysteresis;
    uint64_t hold_left_ms;
    bool pin_refused;
    uint64_t pin_left;
};

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* a * b * c / d, saturating; d > 0. */
static uint64_t mul3div(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    u128 p = (u128)a * b;

    if (c && p > ~(u128)0 / c)
        return UINT64_MAX;
    p = p * c / d;
    return p > UINT64_MAX ? UINT64_MAX : (uint64_t)p;
}

const char *xenshape__shape_state_name(enum xenshape__shape_state s)
{
    static const char *const names[] = {
        [XENSHAPE__SHAPE_RUNNING] = "running",
        [XENSHAPE__SHAPE_SHRINKING] = "shrinking",
        [XENSHAPE__SHAPE_GROWING] = "growing",
        [XENSHAPE__SHAPE_HIBERNATED] = "hibernated",
        [XENSHAPE__SHAPE_PINNED] = "pinned",
        [XENSHAPE__SHAPE_UNSUPPORTED] = "paging-unsupported",
    };

    if ((unsigned)s < XENSHAPE__ARRAY_SIZE(names) && names[s])
        return names[s];
    return "unknown";
}

void xenshape__shape_fmt_frames(char *buf, size_t n, uint64_t frames)
{
    static const char *const units[] = { "MiB", "GiB", "TiB", "PiB" };
    double v;
    unsigned u;

    if (!n)
        return;
    if (frames < 256) {
        snprintf(buf, n, "%" PRIu64 " KiB", frames * FRAME_KIB);
        return;
    }
    v = (double)frames / 256.0;  /* MiB */
    for (u = 0; v >= 1024.0 && u + 1 < XENSHAPE__ARRAY_SIZE(units); u++)
        v /= 1024.0;
    if (v >= 100.0 || v == (double)(uint64_t)v)
        snprintf(buf, n, "%.0f %s", v, units[u]);
    else
        snprintf(buf, n, "%.1f %s", v, units[u]);
}

/* ---- ordering --------------------------------------------------------- */

static int by_domid(const void *a, const void *b)
{
    const struct work *x = *(struct work *const *)a;
    const struct work *y = *(struct work *const *)b;

    return x->in->domid < y->in->domid ? -1 : x->in->domid > y->in->domid;
}

/* Highest priority first, then lowest domid. */
static int by_prio(const void *a, const void *b)
{
    const struct work *x = *(struct work *const *)a;
    const struct work *y = *(struct work *const *)b;

    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    return by_domid(a, b);
}

/* Relaunches under way first (they hold their reservation), then by
 * priority. */
static int by_relaunch(const void *a, const void *b)
{
    const struct work *x = *(struct work *const *)a;
    const struct work *y = *(struct work *const *)b;

    if (x->m.relaunching != y->m.relaunching)
        return x->m.relaunching ? -1 : 1;
    return by_prio(a, b);
}

/* Smallest want per unit of weight first: the order in which a weighted
 * max-min share satisfies domains. */
static int by_ratio(const void *a, const void *b)
{
    const struct work *x = *(struct work *const *)a;
    const struct work *y = *(struct work *const *)b;
    u128 l = (u128)x->want * y->prio, r = (u128)y->want * x->prio;

    if (l != r)
        return l < r ? -1 : 1;
    return by_domid(a, b);
}

/* The domains of class c, in the order cmp gives; returns how many. */
static unsigned pick(struct work **all, unsigned nr, enum cls c,
                     struct work **sel,
                     int (*cmp)(const void *, const void *))
{
    unsigned i, n = 0;

    for (i = 0; i < nr; i++)
        if (all[i]->cls == c)
            sel[n++] = all[i];
    qsort(sel, n, sizeof(*sel), cmp);
    return n;
}

/* ---- preparation ------------------------------------------------------ */

static uint64_t resolve(xenshape__sizepct sp, uint64_t base)
{
    if (sp.pct)
        return mul3div(base, min64(sp.v, 100), 1, 100);
    return min64(sp.v / FRAME_KIB, base);
}

/*
 * A faulting domain's claim: what it will page in over CLAIM_MS at the
 * rate it faulted last interval (at least that interval's faults, its
 * projection).  Soakers are paged out ahead of it by that much (see
 * tier_claim()), so that it does not wait for them a decision at a time:
 * evicting a soaker is quick, deciding to is what takes intervals.
 *
 * The claim rises with the fault rate at once but falls by only 1/8 a
 * second, and lapses FAULT_HOLD_MS after the last fault.  Faults come in
 * bursts (a guest stalls on its page-ins, the first interval of a surge
 * sees only part of it); following each interval's count down would let
 * soakers grow back between two bursts, to be paged out again by the
 * next one.  Only generic domains claim: a soaker wants everything
 * anyway, and a hibernated domain is not running.
 */
static void claim_update(struct work *w, uint64_t dt)
{
    const xenshape__shape_dom *in = w->in;
    uint64_t fresh, decayed;

    if (!w->fault_recent || !in->paging || in->pol->soaker) {
        w->m.claim = 0;
        return;
    }
    decayed = w->m.claim - min64(w->m.claim,
                                 mul3div(w->m.claim, dt, 1, 8000));
    fresh = max64(in->faults, mul3div(in->faults,
                                      XENSHAPE__SHAPE_CLAIM_MS, 1, dt));
    w->m.claim = min64(max64(fresh, decayed), w->presented);
}

/* Bucket, thresholds, pacing limits: everything that depends on the
 * domain alone (and the host's free RAM, for dynamic thresholds). */
static void prepare(struct work *w, const xenshape__shape_host *host,
                    uint64_t dt, uint64_t free_eff)
{
    const xenshape__shape_dom *in = w->in;
    const xenshape__dompolicy *pol = in->pol;
    const xenshape__hostpolicy *hp = host->pol;
    uint64_t burst, fill, gain, base;
    bool was_over;

    w->pol = pol;
    if (in->memo.valid) {
        w->m = in->memo;
    } else {
        memset(&w->m, 0, sizeof(w->m));
        w->m.valid = true;
        w->m.state = XENSHAPE__SHAPE_RUNNING;
        w->m.prev_resident = in->resident;
        w->m.target = in->resident;
    }
    if (in->faults) {
        w->m.faulted = true;
        w->m.last_fault_ms = host->now_ms;
    }
    w->fault_recent = w->m.faulted &&
        host->now_ms - min64(w->m.last_fault_ms, host->now_ms) <
        XENSHAPE__SHAPE_FAULT_HOLD_MS;
    w->prio = pol->priority < 1 ? 1
            : pol->priority > PRIO_FULL ? PRIO_FULL : pol->priority;
    w->resident = in->resident;
    w->presented = max64(in->presented, in->resident);
    w->usage_known = in->usage != XENSHAPE__SHAPE_USAGE_UNKNOWN;
    w->usage = w->usage_known ? min64(in->usage, w->presented) : 0;
    claim_update(w, dt);
    w->was_starved = w->m.starved;
    w->m.starved = false;

    /* The leaky bucket: fill by what was gained since the last decision,
     * leak one interval at rate * priority/1000.  The allowance for the
     * coming interval is what keeps the fill at most burst after it has
     * leaked once more: burst - fill + rate. */
    w->rate = mul3div(pol->rate_kib, w->prio, dt,
                      UINT64_C(1000) * PRIO_FULL * FRAME_KIB);
    burst = pol->burst_kib / FRAME_KIB;
    gain = sat_sub(w->resident, w->m.prev_resident);
    fill = min64(sat_sub(sat_add(w->m.bucket, gain), w->rate), burst);
    w->m.bucket = fill;
    w->allowance = sat_add(burst - fill, w->rate);
    w->hi = min64(w->presented, sat_add(w->resident, w->allowance));
    /* Over the claim's horizon it may gain no more than the allowance
     * and the leak of the intervals after the next one. */
    w->hi_claim = min64(w->presented, sat_add(w->resident, sat_add(
        w->allowance, mul3div(w->rate, sat_sub(XENSHAPE__SHAPE_CLAIM_MS, dt),
                              1, dt))));

    base = w->presented;
    if (pol->threshold_mode == XENSHAPE__THRESHOLD_DYNAMIC)
        base = min64(base, sat_add(w->resident, free_eff));
    w->t_high = resolve(pol->threshold_high, base);
    w->t_low = min64(resolve(pol->threshold_low, base), w->t_high);
    was_over = w->m.over;
    /* A capped domain that faulted within the fault hold keeps its cap:
     * it is short of RAM, and a guest waiting on page-ins touches less,
     * so its measured usage understates its need (the same reason it is
     * not paged out for lack of usage then).  Lifting the cap on such a
     * dip would let it grow back by its allowance, to be capped again. */
    if (w->usage_known) {
        if (w->usage > w->t_high)
            w->m.over = true;
        else if (w->usage < w->t_low && !w->fault_recent)
            w->m.over = false;
    }
    w->uncapped = was_over && !w->m.over;
    w->ceiling = w->m.over ? w->t_high : w->presented;

    if (hp->shrink_rate.pct)
        w->step = mul3div(w->presented, min64(hp->shrink_rate.v, 100), dt,
                          UINT64_C(100) * 1000);
    else
        w->step = mul3div(hp->shrink_rate.v / FRAME_KIB, dt, 1, 1000);
    w->step = max64(w->step, 1);
    if (hp->headroom.pct)
        w->headroom = mul3div(w->usage, min64(hp->headroom.v, 100), 1, 100);
    else
        w->headroom = hp->headroom.v / FRAME_KIB;

    w->min_op = min64(pol->min_operating_kib / FRAME_KIB, w->presented);
    w->min_start = max64(min64(pol->min_starting_kib / FRAME_KIB,
                               w->presented), w->min_op);
}

/*
 * hibernate-now=1: an operator wants the domain hibernated, whatever its
 * class.  It is paused at once (if it is not already) and held
 * hibernated, its frames going out as the hibernate key says (tier e),
 * and no relaunch is tried while the key stays 1.  Unlike a hibernation
 * the engine decides, this one sets no hysteresis: the operator who asks
 * for it and later for the resume knows what the cycle costs.
 */
static void hold(struct work *w)
{
    w->cls = CLS_HIBERNATED;
    w->requested = true;
    w->m.relaunching = false;
    if (w->m.state != XENSHAPE__SHAPE_HIBERNATED) {
        w->hibernated_now = true;
        w->actions |= XENSHAPE__SHAPE_PAUSE;
    }
}

/* The class, before pins are weighed. */
static void classify(struct work *w)
{
    bool hibernated = w->m.state == XENSHAPE__SHAPE_HIBERNATED;

    if (!w->in->paging)
        w->cls = CLS_UNSUPPORTED;
    else if (w->pol->pin)
        w->cls = CLS_PINNED;
    else if (w->pol->hibernate_now)
        hold(w);
    else if (hibernated && w->pol->soaker)
        w->cls = CLS_HIBERNATED;
    else
        w->cls = w->pol->soaker ? CLS_SOAKER : CLS_GENERIC;
    w->relaunch_switch = hibernated && w->cls == CLS_GENERIC;
}

/* A running domain's wish, then paced: down by at most a step, up by at
 * most the bucket allowance. */
static void wish(struct work *w)
{
    if (w->cls == CLS_SOAKER) {
        w->raw = w->ceiling;
    } else if (w->usage_known) {
        uint64_t need = sat_add(w->usage, w->headroom);

        /* A domain that faults is short of RAM: it keeps all it holds
         * (a guest that waits on faults touches less, so its usage
         * understates what it needs) and, at the rate it pages in, it
         * will need what it faulted last interval more by the next
         * decision: its projection.  Granted now, soakers give way
         * before it has to wait for free RAM, not after.  But only
         * their growth: a projection is a guess, and never costs a
         * soaker its minimum (tier_projection). */
        if (w->in->faults) {
            need = max64(need, w->resident);
            w->proj = min64(w->in->faults, w->presented);
            /* Its projection found no RAM last time, and it has gained
             * nothing since: the pager evicts as much of it as it pages
             * in.  Such a domain is short of RAM whatever its usage says
             * (with log-dirty, usage sees writes only), and waiting for
             * its usage to show it would leave it thrashing beside
             * soakers at their minimum.  Its projection becomes part of
             * its wish, which may cost a soaker its minimum (tier b).
             * A domain that grows does not qualify: its projection may
             * be seconds of growth beyond its working set. */
            if (w->was_starved && w->resident <= w->m.prev_resident) {
                need = max64(need, sat_add(w->resident, w->proj));
                w->proj = 0;
                w->thrash = true;
            }
        }

        w->raw = min64(w->ceiling, need);
        /* Paging out for lack of usage, not for a threshold: a domain
         * that faults needs what it paged in (its usage lags behind),
         * and a small difference is the estimate's noise, whose
         * page-out would only come back as faults. */
        if (need < w->resident && w->raw < w->resident) {
            uint64_t keep = min64(w->resident, w->ceiling);

            if (w->fault_recent) {
                w->held_fault = keep > w->raw;
                w->raw = keep;
            } else if (w->resident - need < w->resident / 16) {
                w->held_deadband = keep > w->raw;
                w->raw = keep;
            }
        }
    } else {
        /* Nothing measured: hold, but a relaunched domain needs room to
         * start. */
        w->raw = min64(w->resident, w->ceiling);
        if (w->relaunch_switch)
            w->raw = max64(w->raw, w->min_start);
    }
    if (w->raw < w->resident) {
        w->want = max64(w->raw, sat_sub(w->resident, w->step));
        w->step_limited = w->want > w->raw;
        w->proj = 0;                 /* capped below what it holds */
    } else {
        uint64_t full = min64(sat_add(w->raw, w->proj), w->ceiling);

        w->want = min64(w->raw, w->hi);
        w->bucket_limited = full > w->hi;
        /* The projection, within the same ceiling and allowance. */
        w->proj = sat_sub(min64(full, w->hi), w->want);
        w->raw = full;
    }
}

/* ---- tiers ------------------------------------------------------------ */

/*
 * Tier a: share *R among generic domains.  All wishes if they fit;
 * otherwise weighted max-min: in order of want/priority, a domain whose
 * want is within its weighted share of what is left gets it, and the
 * rest split what remains in proportion to priority (each below its
 * want, by the order).  Frames lost to rounding go one each, in the same
 * order.
 */
static void tier_generic(struct work **g, unsigned n, uint64_t *R)
{
    uint64_t left = *R, weight = 0, given = 0, rem;
    unsigned i, j;

    qsort(g, n, sizeof(*g), by_ratio);
    for (i = 0; i < n; i++)
        weight += g[i]->prio;
    for (i = 0; i < n; i++) {
        uint64_t share = mul3div(left, g[i]->prio, 1, weight);

        g[i]->left = left;
        if (g[i]->want > share)
            break;
        g[i]->target = g[i]->want;
        left -= g[i]->want;
        weight -= g[i]->prio;
    }
    for (j = i; j < n; j++) {
        g[j]->left = left;
        g[j]->target = mul3div(left, g[j]->prio, 1, weight);
        g[j]->squeezed = true;
        given += g[j]->target;
    }
    rem = left - given;
    for (j = i; j < n && rem; j++)
        if (g[j]->target < g[j]->want) {
            g[j]->target++;
            rem--;
        }
    *R = i < n ? rem : left;
}

static void hibernate(struct work *w, uint64_t now)
{
    w->cls = CLS_HIBERNATED;
    w->hibernated_now = true;
    w->actions |= XENSHAPE__SHAPE_PAUSE;
    w->m.paused_ever = true;
    w->m.last_pause_ms = now;
    w->m.relaunching = false;
    w->target = 0;
}

/* Tier b: running soakers' min-operating (or their cap, if lower). */
static bool tier_soaker_min(struct work **s, unsigned n, uint64_t *R,
                            uint64_t now)
{
    bool contention = false;
    unsigned i;

    for (i = 0; i < n; i++) {
        struct work *w = s[i];
        uint64_t need = min64(w->min_op, w->ceiling);

        w->left = *R;
        if (*R >= need) {
            *R -= need;
            w->target = min64(need, w->want);
        } else {
            hibernate(w, now);
            contention = true;
        }
    }
    return contention;
}

/*
 * Tier c: faulting generic domains' claims (see claim_update()),
 * highest priority first, kept from what relaunches, paused soakers and
 * soakers' growth would take.  Running soakers thus lose down to their
 * min-operating at once, lowest priority first (they grow highest
 * priority first into what is left), and no soaker grows back into the
 * room while the claim lasts.  A claim is bounded by what the domain may
 * hold within its horizon: its ceiling (a threshold's cap), and what its
 * bucket lets it gain over CLAIM_MS (the allowance, then the leak), so
 * no room is kept that the bucket would not let it use, and none for a
 * domain capped or paged out.  The claim is room, not a grant: the
 * domain's own target still rises by its projection alone, within its
 * allowance.
 *
 * Like a projection, a claim is a guess, so it comes after soakers'
 * minimums: it costs a soaker its growth, never its minimum, and never
 * hibernates one (that happens in tier b, for RAM generic domains hold
 * or wish for).  A domain growing fast towards a working set the engine
 * knows would claim seconds of growth beyond it, and a pause for that
 * would cost a soaker at least a hysteresis period for nothing.
 */
static void tier_claim(struct work **g, unsigned n, uint64_t *R)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct work *w = g[i];
        uint64_t room;

        if (!w->m.claim || w->target < w->want || w->want < w->resident)
            continue;
        room = sat_sub(min64(w->ceiling, w->hi_claim), w->target);
        w->claim_cut = *R < min64(w->m.claim, room);
        w->kept = min64(min64(w->m.claim, room), *R);
        *R -= w->kept;
    }
}

/* Tier d: relaunches of hibernated soakers. */
static void tier_relaunch(struct work **h, unsigned n, uint64_t *R,
                          uint64_t now, uint64_t hold_ms)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct work *w = h[i];
        uint64_t since = now - min64(w->m.last_pause_ms, now);
        bool eligible = w->m.relaunching || !w->m.paused_ever ||
                        since >= hold_ms;

        if (w->hibernated_now || w->requested)
            continue;
        w->left = *R;
        if (eligible && *R >= w->min_start) {
            *R -= w->min_start;
            w->target = min64(w->min_start, w->hi);
            if (w->target >= w->min_start) {
                w->relaunched = true;
                w->m.relaunching = false;
                w->actions |= XENSHAPE__SHAPE_PREFETCH |
                              XENSHAPE__SHAPE_UNPAUSE;
                w->cls = CLS_SOAKER;
                w->want = max64(w->target, min64(w->ceiling, w->hi));
            } else {
                w->relaunch_partial = true;
                w->m.relaunching = true;
                w->actions |= XENSHAPE__SHAPE_PREFETCH;
            }
        } else if (w->m.relaunching) {
            w->relaunch_aborted = true;
            w->m.relaunching = false;
        } else if (!eligible) {
            w->hold_hysteresis = true;
            w->hold_left_ms = hold_ms - since;
        }
    }
}

/* Tier e: frames a soaker hibernated with hibernate=pause still holds. */
static void tier_paused(struct work **h, unsigned n, uint64_t *R)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct work *w = h[i];

        if (w->relaunch_partial)
            continue;
        if (w->pol->hibernate == XENSHAPE__HIBERNATE_PAUSE) {
            w->target = min64(w->resident, *R);
            *R -= w->target;
        } else {
            w->target = 0;
        }
    }
}

/* With tier c: generic domains' projections (see wish()), out of their
 * claims.  A claim covers at least one interval's faults, within the
 * same ceiling and a larger bucket bound, so it holds the projection
 * unless RAM ran out.  What is left of the claim stays free.  A domain
 * whose projection RAM could not cover is starved: if it keeps faulting
 * without gaining, the next decision makes the projection firm. */
static void tier_projection(struct work **g, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct work *w = g[i];
        uint64_t extra;

        if (!w->proj || w->target < w->want)
            continue;
        extra = min64(w->proj, w->kept);
        w->target += extra;
        w->kept -= extra;
        w->m.starved = extra < w->proj && w->claim_cut;
    }
}

/* Tier f: running soakers grow into what is left. */
static void tier_soaker_grow(struct work **s, unsigned n, uint64_t *R)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct work *w = s[i];
        uint64_t extra;

        if (w->want > w->target) {
            extra = min64(w->want - w->target, *R);
            w->target += extra;
            *R -= extra;
        }
        w->squeezed = w->target < w->want;
    }
}

/*
 * After tier f: lowest priority first in time, not only in targets.  A
 * claim may take RAM from several soakers in one decision, but the pager
 * evicts from all shrinking domains at once, and a soaker keeps faulting
 * back part of what is evicted while it runs: had the priority 900
 * soaker to give with the priority 100 one, the latter would reach its
 * minimum (or its target) later.  So a soaker that would shrink keeps
 * what it holds, out of the room claims keep free (lend: not assigned
 * to anyone, so the targets still fit), while a lower priority soaker is
 * still more than a step (one interval's paced page-out) above its
 * target; it gives its share once they have.  Only claims are lent: RAM
 * a generic domain wishes for is never held back.  s is in priority
 * order, highest first.
 */
static void tier_defer(struct work **s, unsigned n, uint64_t lend)
{
    unsigned i, prio = 0;
    bool below = false, group = false;

    /* From the lowest priority up: is a strictly lower one still above
     * its target by more than a step? */
    for (i = n; i-- > 0;) {
        struct work *w = s[i];

        if (w->prio != prio) {
            below = below || group;
            group = false;
            prio = w->prio;
        }
        w->lower_giving = below;
        if (w->resident > sat_add(w->target, w->step))
            group = true;
    }
    for (i = 0; i < n && lend; i++) {
        struct work *w = s[i];
        uint64_t keep = min64(w->resident, w->want), raise;

        /* Only what a claim took: never above its own paced wish. */
        if (!w->lower_giving || w->target >= keep)
            continue;
        raise = min64(keep - w->target, lend);
        w->target += raise;
        lend -= raise;
        w->deferred = true;
    }
}

/* ---- reasons ---------------------------------------------------------- */

struct text {
    char *buf;
    size_t n, o;
};

static void put(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (t->o + 1 >= t->n)
        return;
    va_start(ap, fmt);
    r = vsnprintf(t->buf + t->o, t->n - t->o, fmt, ap);
    va_end(ap);
    if (r > 0)
        t->o = min64(t->o + (size_t)r, t->n - 1);
}

/* A clause after the head: ": " first, "; " after. */
static void clause(struct text *t, bool *first)
{
    put(t, "%s", *first ? ": " : "; ");
    *first = false;
}

#define SZ(name, frames) \
    char name[24]; \
    xenshape__shape_fmt_frames(name, sizeof(name), (frames))

static void explain_running(struct work *w, struct text *t)
{
    bool first = true;
    SZ(d_out, w->resident - min64(w->target, w->resident));
    SZ(d_in, w->target - min64(w->target, w->resident));
    SZ(tgt, w->target);
    SZ(usage, w->usage);
    SZ(high, w->t_high);
    SZ(low, w->t_low);
    SZ(raw, w->raw);
    SZ(step, w->step);

    if (w->target < w->resident)
        put(t, "paged out %s", d_out);
    else if (w->target > w->resident)
        put(t, "paged in up to %s", d_in);
    else
        put(t, "held at %s", tgt);

    if (w->cls == CLS_GENERIC && !w->usage_known) {
        clause(t, &first);
        put(t, "usage not measured yet");
    } else if (w->m.over && w->usage > w->t_high) {
        clause(t, &first);
        put(t, "usage %s above threshold %s", usage, high);
    } else if (w->m.over) {
        clause(t, &first);
        put(t, "capped at %s until usage (%s) is below %s", high, usage,
            low);
    } else if (w->uncapped) {
        clause(t, &first);
        put(t, "usage %s below threshold %s", usage, low);
    } else if (w->cls == CLS_GENERIC && w->thrash) {
        SZ(faulted, w->in->faults);

        clause(t, &first);
        put(t, "faulted %s with no RAM left to grow into, none of it "
            "kept: wants %s", faulted, raw);
    } else if (w->cls == CLS_GENERIC && w->in->faults) {
        SZ(faulted, w->in->faults);

        clause(t, &first);
        put(t, "usage %s, faulted %s: wants %s", usage, faulted, raw);
    } else if (w->cls == CLS_GENERIC && w->held_fault) {
        clause(t, &first);
        put(t, "usage %s, but it faulted in the last %u s", usage,
            XENSHAPE__SHAPE_FAULT_HOLD_MS / 1000);
    } else if (w->cls == CLS_GENERIC && w->held_deadband) {
        clause(t, &first);
        put(t, "usage %s, within 1/16 of its RAM", usage);
    } else if (w->cls == CLS_GENERIC) {
        clause(t, &first);
        put(t, "usage %s, wants %s", usage, raw);
    }
    if (w->cls == CLS_SOAKER) {
        /* A soaker always wishes for more; it is squeezed whenever the
         * RAM is used elsewhere, which only matters when it loses RAM. */
        clause(t, &first);
        if (w->squeezed && w->target < w->resident)
            put(t, "RAM needed by others: soakers give way first "
                "(priority %u)", w->prio);
        else if (w->deferred)
            put(t, "soaker priority %u, gives way once lower priorities "
                "have", w->prio);
        else if (w->target > w->resident)
            put(t, "free RAM, soaker priority %u", w->prio);
        else if (w->squeezed)
            put(t, "soaker priority %u, no free RAM", w->prio);
        else
            put(t, "soaker priority %u", w->prio);
    } else if (w->squeezed) {
        clause(t, &first);
        put(t, "contention: shared by priority (%u)", w->prio);
    }
    if (w->kept) {
        SZ(kept, w->kept);

        clause(t, &first);
        put(t, "%s more kept free of soakers for its faults", kept);
    }
    if (w->step_limited && w->target == w->want) {
        clause(t, &first);
        put(t, "step %s", step);
    }
    if (w->bucket_limited && w->target >= w->want) {
        clause(t, &first);
        put(t, "bucket full");
    }
}

static void explain_hibernated(struct work *w, struct text *t,
                               unsigned hold_s)
{
    const char *mode = w->pol->hibernate == XENSHAPE__HIBERNATE_PAUSE
                       ? "pause" : "store";
    SZ(left, w->left);
    SZ(minop, min64(w->min_op, w->ceiling));
    SZ(minst, w->min_start);
    SZ(tgt, w->target);

    if (w->requested)
        put(t, "hibernated (%s) on request: hibernate-now=1", mode);
    else if (w->hibernated_now)
        put(t, "hibernated (%s): %s left for it under contention, below "
            "min-operating %s", mode, left, minop);
    else if (w->relaunch_partial)
        put(t, "relaunching: prefetch to %s of min-starting %s; bucket full",
            tgt, minst);
    else if (w->relaunch_aborted)
        put(t, "relaunch postponed: min-starting %s no longer free (%s)",
            minst, left);
    else if (w->hold_hysteresis)
        put(t, "hibernated: relaunch allowed in %" PRIu64 " s "
            "(hysteresis %u s)", (w->hold_left_ms + 999) / 1000, hold_s);
    else
        put(t, "hibernated: min-starting %s not free (%s)", minst, left);
    if (!w->relaunch_partial && w->target)
        put(t, "; keeps %s in RAM", tgt);
}

static void explain(struct work *w, char *buf, size_t n, unsigned hold_s)
{
    struct text t = { .buf = buf, .n = n, .o = 0 };
    SZ(res, w->resident);
    SZ(pres, w->presented);
    SZ(tgt, w->target);
    SZ(minst, w->min_start);
    SZ(pin_left, w->pin_left);
    SZ(pin_need, w->presented);

    buf[0] = '\0';
    if (w->pin_refused)
        put(&t, "pin refused: needs %s, %s left for pins; ", pin_need,
            pin_left);
    switch (w->cls) {
    case CLS_UNSUPPORTED:
        put(&t, "not shaped: paging unsupported (%s resident)", res);
        if (w->actions & XENSHAPE__SHAPE_UNPAUSE)
            put(&t, "; unpaused");
        break;
    case CLS_PINNED:
        if (w->actions & XENSHAPE__SHAPE_UNPAUSE)
            put(&t, "relaunched: pinned; prefetch to %s, then unpause", pres);
        else if (w->resident < w->presented)
            put(&t, "pinned: paging in to %s (%s resident)", pres, res);
        else
            put(&t, "pinned: fully resident (%s)", pres);
        break;
    case CLS_HIBERNATED:
        explain_hibernated(w, &t, hold_s);
        break;
    case CLS_GENERIC:
    case CLS_SOAKER:
        if (w->relaunched)
            put(&t, "relaunched: min-starting %s free; prefetch to %s, then "
                "unpause", minst, tgt);
        else if (w->relaunch_switch)
            put(&t, "relaunched: not a soaker; prefetch to %s, then "
                "unpause", tgt);
        else
            explain_running(w, &t);
        break;
    }
}

/* ---- the decision ----------------------------------------------------- */

static enum xenshape__shape_state state_of(const struct work *w)
{
    uint64_t old = w->in->memo.valid ? w->in->memo.target : w->resident;

    switch (w->cls) {
    case CLS_UNSUPPORTED: return XENSHAPE__SHAPE_UNSUPPORTED;
    case CLS_PINNED: return XENSHAPE__SHAPE_PINNED;
    case CLS_HIBERNATED: return XENSHAPE__SHAPE_HIBERNATED;
    default: break;
    }
    if (w->target < w->resident)
        return XENSHAPE__SHAPE_SHRINKING;
    if (w->target > w->resident && w->target > old)
        return XENSHAPE__SHAPE_GROWING;
    return XENSHAPE__SHAPE_RUNNING;
}

int xenshape__shape_decide(const xenshape__shape_host *host,
                           const xenshape__shape_dom *doms, unsigned nr,
                           xenshape__shape_out *out,
                           xenshape__shape_summary *sum_r)
{
    struct work *work = NULL, **all = NULL, **sel = NULL;
    uint64_t dt, avail, reserved, held = 0, free_eff, R, fixed = 0;
    uint64_t demand = 0, assigned = 0, hold_ms, lend = 0;
    bool contention = false, soakers = false;
    unsigned i, n;
    int rc;

    if (!host || !host->pol || !out || (nr && !doms) ||
        nr > XENSHAPE__SHAPE_MAX_DOMS) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    for (i = 0; i < nr; i++)
        if (!doms[i].pol) {
            rc = XENSHAPE_EINVAL;
            goto out;
        }
    work = xenshape__calloc(nr, sizeof(*work));
    all = xenshape__calloc(nr, sizeof(*all));
    sel = xenshape__calloc(nr, sizeof(*sel));
    if (!work || !all || !sel) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < nr; i++) {
        work[i].in = &doms[i];
        all[i] = &work[i];
    }
    qsort(all, nr, sizeof(*all), by_domid);
    for (i = 1; i < nr; i++)
        if (all[i - 1]->in->domid == all[i]->in->domid) {
            rc = XENSHAPE_EINVAL;
            goto out;
        }

    dt = host->interval_ms < 1 ? 1 : min64(host->interval_ms, HOUR_MS);
    hold_ms = (uint64_t)host->pol->hysteresis_s * 1000;
    reserved = host->pol->reserved_kib / FRAME_KIB;
    avail = sat_sub(host->total_frames, reserved);
    for (i = 0; i < nr; i++)
        held = sat_add(held, doms[i].resident);
    free_eff = min64(host->free_frames, sat_sub(avail, held));

    for (i = 0; i < nr; i++) {
        prepare(all[i], host, dt, free_eff);
        classify(all[i]);
    }

    /* Fixed consumers: domains that cannot be paged, then pins by
     * priority while they fit. */
    for (i = 0; i < nr; i++)
        if (all[i]->cls == CLS_UNSUPPORTED) {
            all[i]->target = all[i]->resident;
            fixed = sat_add(fixed, all[i]->resident);
            if (all[i]->m.state == XENSHAPE__SHAPE_HIBERNATED)
                all[i]->actions |= XENSHAPE__SHAPE_UNPAUSE;
        }
    n = pick(all, nr, CLS_PINNED, sel, by_prio);
    for (i = 0; i < n; i++) {
        struct work *w = sel[i];

        if (sat_add(fixed, w->presented) <= avail) {
            fixed += w->presented;
            w->target = w->presented;
            if (w->resident < w->presented)
                w->actions |= XENSHAPE__SHAPE_PREFETCH;
            if (w->m.state == XENSHAPE__SHAPE_HIBERNATED)
                w->actions |= XENSHAPE__SHAPE_PREFETCH |
                              XENSHAPE__SHAPE_UNPAUSE;
            w->m.relaunching = false;
        } else {
            w->pin_refused = true;
            w->pin_left = sat_sub(avail, fixed);
            w->cls = CLS_GENERIC;
            if (w->pol->hibernate_now)
                hold(w);
            else if (w->m.state == XENSHAPE__SHAPE_HIBERNATED &&
                     w->pol->soaker)
                w->cls = CLS_HIBERNATED;
            else if (w->pol->soaker)
                w->cls = CLS_SOAKER;
            w->relaunch_switch = w->m.state == XENSHAPE__SHAPE_HIBERNATED &&
                                 w->cls == CLS_GENERIC;
        }
    }
    R = sat_sub(avail, fixed);

    for (i = 0; i < nr; i++)
        if (all[i]->cls == CLS_GENERIC || all[i]->cls == CLS_SOAKER) {
            wish(all[i]);
            if (all[i]->relaunch_switch)
                all[i]->actions |= XENSHAPE__SHAPE_PREFETCH |
                                   XENSHAPE__SHAPE_UNPAUSE;
            demand = sat_add(demand, all[i]->cls == CLS_GENERIC
                             ? all[i]->want
                             : min64(all[i]->min_op, all[i]->ceiling));
        } else if (all[i]->cls == CLS_HIBERNATED && !all[i]->requested) {
            /* Paused for lack of RAM, it still needs its minimum. */
            demand = sat_add(demand, min64(all[i]->min_op, all[i]->ceiling));
        }
    contention = demand > R;

    n = pick(all, nr, CLS_GENERIC, sel, by_ratio);
    tier_generic(sel, n, &R);
    n = pick(all, nr, CLS_SOAKER, sel, by_prio);
    if (tier_soaker_min(sel, n, &R, host->now_ms))
        contention = true;
    n = pick(all, nr, CLS_GENERIC, sel, by_prio);
    tier_claim(sel, n, &R);
    tier_projection(sel, n);
    n = pick(all, nr, CLS_HIBERNATED, sel, by_relaunch);
    tier_relaunch(sel, n, &R, host->now_ms, hold_ms);
    n = pick(all, nr, CLS_HIBERNATED, sel, by_prio);
    tier_paused(sel, n, &R);
    n = pick(all, nr, CLS_SOAKER, sel, by_prio);
    tier_soaker_grow(sel, n, &R);
    for (i = 0; i < nr; i++)
        if (all[i]->cls == CLS_GENERIC)
            lend = sat_add(lend, all[i]->kept);
    tier_defer(sel, n, lend);
    for (i = 0; i < nr; i++)
        if (all[i]->cls == CLS_SOAKER ||
            (all[i]->cls == CLS_HIBERNATED && all[i]->pol->soaker))
            soakers = true;

    for (i = 0; i < nr; i++) {
        struct work *w = &work[i];
        xenshape__shape_out *o = &out[i];
        const xenshape__shape_memo *old = &doms[i].memo;

        if (w->cls != CLS_HIBERNATED)
            w->m.relaunching = false;
        /* Only a generic domain claims; and a claim is worth a word only
         * where soakers gave way for it (free RAM is kept anyway). */
        if (w->cls != CLS_GENERIC)
            w->m.claim = 0;
        if (!soakers)
            w->kept = 0;
        w->m.state = state_of(w);
        w->m.prev_resident = w->resident;
        w->m.target = w->target;
        memset(o, 0, sizeof(*o));
        o->domid = doms[i].domid;
        o->target = w->target;
        o->state = w->m.state;
        o->actions = w->actions;
        o->fault_rate = mul3div(doms[i].faults, 1000, 1, dt);
        o->ram_page_ms = mul3div(doms[i].resident, dt, 1, 1);
        o->store_page_ms = mul3div(doms[i].paged, dt, 1, 1);
        o->pageins = doms[i].loaded;
        o->changed = !old->valid || old->target != w->target ||
                     old->state != w->m.state || w->actions;
        explain(w, o->reason, sizeof(o->reason), host->pol->hysteresis_s);
        o->memo = w->m;
        assigned = sat_add(assigned, w->target);
    }
    if (sum_r) {
        sum_r->available = avail;
        sum_r->assigned = assigned;
        sum_r->contention = contention;
    }
    rc = 0;
 out:
    free(sel);
    free(all);
    free(work);
    return rc;
}

/* ---- the decision log ------------------------------------------------- */

void xenshape__shape_log_push(char *log, size_t n, uint64_t seconds,
                              const char *reason)
{
    char tmp[XENSHAPE__SCHEMA_VALUE_MAX + 1];
    size_t cap, o, i, old, keep;
    int r;

    if (!log || !n)
        return;
    cap = n < sizeof(tmp) ? n : sizeof(tmp);
    r = snprintf(tmp, cap, "%" PRIu64 " %s", seconds, reason ? reason : "");
    if (r < 0)
        return;
    o = (size_t)r < cap ? (size_t)r : cap - 1;
    for (i = 0; i < o; i++)
        if (tmp[i] == '\n')
            tmp[i] = ' ';
    old = strnlen(log, n);
    if (old == n)
        old = 0;                     /* not terminated: start afresh */
    if (old && o + 2 < cap) {
        keep = min64(old, cap - o - 2);
        if (keep < old) {
            /* Whole lines only: cut at the last line end that fits. */
            while (keep && log[keep] != '\n')
                keep--;
        }
        if (keep) {
            tmp[o++] = '\n';
            memcpy(tmp + o, log, keep);
            o += keep;
        }
    }
    tmp[o] = '\0';
    memcpy(log, tmp, o + 1);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
