/*
 * policy_default.c - xenshape's default page selection: LIRS whose
 * split between the protected set and the probation queue adapts to the
 * workload, learning from an LRU expert it simulates for free.
 *
 * Why LIRS at the core.  LIRS (Jiang and Zhang, SIGMETRICS 2002) ranks a
 * frame by its inter-reference recency: a frame whose last two references
 * were close together joins the protected LIR set; everything else lives
 * in a small probation queue Q of resident HIR frames, and only Q is
 * evicted from.  That one rule combines frequency and recency, is immune
 * to scans (a scanned frame has no second reference yet, so it never
 * displaces the LIR set) and keeps a fixed part of a loop larger than RAM
 * resident, where LRU and CLOCK lose everything.  LIRS decides promotions
 * from the recency of faulting frames, which Dom0 sees exactly even when
 * it sees only samples of the other references.
 *
 * Why adapt.  Plain LIRS gives Q 1% of RAM.  When the workload rewards
 * recency itself (a scan that reverses, a working set that drifts),
 * that is far too little, and LIRS can be twice as bad as LRU.  LIRS with
 * a Q share h is a family that runs from LIRS (h = 1%) to exactly LRU
 * (h = 100%: every frame is HIR and Q is an LRU list), so the policy
 * moves h along it, on evidence it can trust:
 *
 *   - Complete observation (every reference reaches the policy): an LRU
 *     expert is simulated on the recency list the policy keeps anyway (a
 *     frame is an LRU hit if it is among the `resident` most recently
 *     referenced, tracked by one boundary pointer).  On each reference
 *     where exactly one of the two hits, h moves towards LRU or towards
 *     LIRS by a step weighted by which of them has been winning the recent
 *     disagreements.  This regret against the LRU expert is what keeps the
 *     policy close to LRU where LRU is right, and at LIRS where it is not.
 *     A step is 1% of RAM but at most STEP_FRAMES frames: in a large RAM
 *     one disagreement is evidence about a few frames, not about 1% of
 *     them, and bigger steps let a short recency-friendly phase carry h
 *     to the LRU end, where the policy is LRU and sees no disagreement
 *     that would bring it back.
 *   - Sampled observation (XENSHAPE__POLICY_SAMPLED, the engine on real
 *     Xen): hits are mostly unseen, so counting them would favour LRU for
 *     no reason.  Only faults are exact, and h follows ghost hits as in
 *     ARC: a fault on one of the last GHOST_WINDOW x resident evicted
 *     frames that had been in the LIR set says the LIR set was too small;
 *     one that never left Q says Q was too small.
 *
 * Frequency.  Every frame has a 4-bit count of its references, halved
 * for all frames every max(AGE_PERIOD x resident, nr_frames) references
 * (TinyLFU's aging).  When the front of Q comes up for eviction, it is
 * matched against the bottom LIR frame, the one LIRS would demote next:
 * if its count beats that frame's by more than DUEL_MARGIN, it takes the
 * frame's place in the LIR set and the frame goes instead.  This is
 * W-TinyLFU's admission duel between the window's victim and the main
 * region's, with Q as the window and the LIR set as the main region.
 * The same counts filter LIRS's own promotions (admit_lir): an HIR frame
 * re-referenced within S joins a full LIR set only if it has been
 * referenced at least as often as the bottom LIR frame it pushes out.
 *
 * Data, 16 bytes per frame and nothing else per frame:
 *
 *   R  a recency list of every frame ever referenced, most recent first.
 *      LIRS's stack S is the part of R above the bottom LIR frame `sb`,
 *      so S needs no list of its own ("pruning" is moving sb up); the
 *      LRU expert's cache is the part above the boundary `tb`.
 *   Q  resident HIR frames in LRU order; victims come from its front.
 *      The same links chain the ghosts G of non-resident frames.
 *
 * The links are 32 bits and carry flags in their top two bits (the top
 * bits of the Q links hold the count), which is
 * why the policy takes at most XENSHAPE__POLICY_MAX_FRAMES frames.  Every
 * event is O(1) amortised: sb and tb only move up R, passing each entry
 * once per reference that put it above them, and the O(nr_frames) halving
 * comes at most once per nr_frames references.
 */

#include <stdlib.h>

#include "private.h"
#include "select/select.h"

/* LIRS's own recommendation for the smallest Q: 1% of RAM. */
#define HIR_MIN            0.01
/* How far h moves per disagreement with the LRU expert, and per ghost hit:
 * 1% of RAM, so a consistent signal moves it end to end in about a hundred
 * events and a noisy one averages out. */
#define STEP               0.01
/* ... and with complete observation at most this many frames (below). */
#define STEP_FRAMES        4.0
/* Sampled observation: the ghosts are the last GHOST_WINDOW x resident
 * frames evicted. */
#define GHOST_WINDOW       0.25
/* Complete observation: the step is weighted by how the recent
 * disagreements split, over about the last EXPERT_MEMORY of them, so a
 * policy that is ahead overall is not dragged away from its end of the
 * family by the odd reference the other one would have hit. */
#define EXPERT_MEMORY      64.0
/* Complete observation starts half way between LIRS and LRU, where both
 * kinds of disagreement show; at an end, the other end's evidence would
 * be invisible (at h = 100% the policy is LRU and never disagrees). */
#define H_START_COMPLETE   0.5
/* The counts are halved every AGE_PERIOD x resident references (TinyLFU's
 * sample size), and never more often than once per nr_frames references,
 * so that the halving is O(1) amortised. */
#define AGE_PERIOD         10
/* The candidate from Q replaces the bottom LIR frame only if its count
 * exceeds that frame's by more than this: a few references more, not the
 * noise of one halving. */
#define DUEL_MARGIN        2
#define COUNT_MAX          15

#define IDX    0x3fffffffu           /* link part of a word */
#define NILX   IDX                   /* no frame */
#define FHI    0x80000000u
#define FLO    0x40000000u

/* Flags, by the word that carries them. */
#define F_RES  FHI                   /* rp: resident */
#define F_LIR  FLO                   /* rp: in the LIR set */
#define F_INS  FHI                   /* rn: on LIRS's stack S (above sb) */
/* One bit, two uses: only one of them exists in each mode. */
#define F_TOP  FLO                   /* rn: above the expert boundary tb
                                      * (complete observation only) */
#define F_WASL FLO                   /* rn: was LIR while last resident
                                      * (sampled observation only) */
/* The top two bits of qp and qn hold the 4-bit count. */

typedef struct node {
    uint32_t rp, rn;                 /* R links */
    uint32_t qp, qn;                 /* Q links */
} node;

typedef struct dflt {
    xenshape__policy pub;
    uint32_t nr;
    uint32_t hr, hq, hg;             /* list heads: nr, nr + 1, nr + 2 */
    uint32_t sb;                     /* bottom LIR frame, or hr */
    uint32_t tb;                     /* last frame above the boundary */
    uint64_t resident, nlir, ntop, nghost;
    double h;                        /* Q's target share of RAM */
    double ea, eb;                   /* recent LRU-only / LIRS-only hits */
    bool sampled;
    uint64_t since_age;              /* references since the last halving */
    node *n;                         /* nr + 3 */
} dflt;

static inline uint32_t lk(uint32_t w)
{
    return w & IDX;
}

static inline void set_lk(uint32_t *w, uint32_t x)
{
    *w = (*w & ~IDX) | x;
}

/* ---- the counts ------------------------------------------------------ */

static inline unsigned count_of(const dflt *s, uint32_t x)
{
    return (s->n[x].qp >> 30) << 2 | s->n[x].qn >> 30;
}

static inline void set_count(dflt *s, uint32_t x, unsigned c)
{
    s->n[x].qp = (s->n[x].qp & IDX) | (uint32_t)(c >> 2) << 30;
    s->n[x].qn = (s->n[x].qn & IDX) | (uint32_t)(c & 3) << 30;
}

/* One more reference to x; every so often, all counts are halved. */
static void count_ref(dflt *s, uint32_t x)
{
    unsigned c = count_of(s, x);
    uint64_t period = AGE_PERIOD * s->resident;
    uint32_t i;

    if (c < COUNT_MAX)
        set_count(s, x, c + 1);
    if (period < s->nr)
        period = s->nr;
    if (++s->since_age < period)
        return;
    s->since_age = 0;
    for (i = 0; i < s->nr; i++)
        set_count(s, i, count_of(s, i) >> 1);
}

/* ---- the recency list R -------------------------------------------- */

static inline bool on_r(const dflt *s, uint32_t x)
{
    return lk(s->n[x].rn) != NILX;
}

static void r_del(dflt *s, uint32_t x)
{
    uint32_t p = lk(s->n[x].rp), nx = lk(s->n[x].rn);

    set_lk(&s->n[p].rn, nx);
    set_lk(&s->n[nx].rp, p);
    set_lk(&s->n[x].rp, NILX);
    set_lk(&s->n[x].rn, NILX);
}

static void r_push(dflt *s, uint32_t x)
{
    uint32_t f = lk(s->n[s->hr].rn);

    set_lk(&s->n[x].rp, s->hr);
    set_lk(&s->n[x].rn, f);
    set_lk(&s->n[f].rp, x);
    set_lk(&s->n[s->hr].rn, x);
}

/* ---- the queue Q ----------------------------------------------------- */

static inline bool on_q(const dflt *s, uint32_t x)
{
    return lk(s->n[x].qn) != NILX;
}

static void q_del(dflt *s, uint32_t x)
{
    uint32_t p = lk(s->n[x].qp), nx = lk(s->n[x].qn);

    set_lk(&s->n[p].qn, nx);
    set_lk(&s->n[nx].qp, p);
    set_lk(&s->n[x].qp, NILX);
    set_lk(&s->n[x].qn, NILX);
}

static void push_back(dflt *s, uint32_t head, uint32_t x)
{
    uint32_t b = lk(s->n[head].qp);

    set_lk(&s->n[x].qn, head);
    set_lk(&s->n[x].qp, b);
    set_lk(&s->n[b].qn, x);
    set_lk(&s->n[head].qp, x);
}

static void q_push_back(dflt *s, uint32_t x)
{
    push_back(s, s->hq, x);
}

/* ---- targets ------------------------------------------------------- */

static uint64_t lir_target(const dflt *s)
{
    double hq = s->h * (double)s->resident;
    uint64_t q = (uint64_t)hq;

    if ((double)q < HIR_MIN * (double)s->resident)
        q = (uint64_t)(HIR_MIN * (double)s->resident);
    if (q < 1)
        q = 1;
    return q >= s->resident ? 0 : s->resident - q;
}

/* Depth of R the expert boundary tracks: the LRU expert has exactly the
 * frames the policy has. */
static uint64_t top_target(const dflt *s)
{
    return s->resident ? s->resident : 1;
}

/*
 * Move sb up from x (exclusive) to the next LIR frame, taking the frames
 * passed off S.  With no LIR frame left above, sb is the head: S is empty.
 */
static void sb_up_from(dflt *s, uint32_t x)
{
    uint32_t y = lk(s->n[x].rp);

    while (y != s->hr && !(s->n[y].rp & F_LIR)) {
        s->n[y].rn &= ~F_INS;
        y = lk(s->n[y].rp);
    }
    s->sb = y;
}

/* The bottom LIR frame becomes HIR, at the back of Q.  LIRS's stack
 * pruning is the move of sb that follows. */
static void demote_bottom(dflt *s)
{
    uint32_t x = s->sb;

    if (x == s->hr)
        return;
    s->n[x].rp &= ~F_LIR;
    s->n[x].rn &= ~F_INS;
    s->nlir--;
    q_push_back(s, x);
    sb_up_from(s, x);
}

static void balance(dflt *s)
{
    uint64_t t = lir_target(s);

    while (s->nlir > t && s->sb != s->hr)
        demote_bottom(s);
}

/* The step with complete observation: STEP of RAM, but never more than
 * STEP_FRAMES frames, so that in a large RAM one disagreement moves the
 * boundary by a few frames, as one ghost hit moves ARC's. */
static double step_of(const dflt *s)
{
    double f = STEP_FRAMES / (double)(s->resident ? s->resident : 1);

    return f < STEP ? f : STEP;
}

static void nudge(dflt *s, double d)
{
    s->h += d;
    if (s->h < HIR_MIN)
        s->h = HIR_MIN;
    if (s->h > 1)
        s->h = 1;
}

/*
 * x moves to the front of R.  Keeps sb and the expert boundary right and
 * returns whether x was above the boundary before: whether LRU with as
 * many frames as are resident would have had it.
 */
static bool r_touch(dflt *s, uint32_t x)
{
    bool top = !s->sampled && (s->n[x].rn & F_TOP);
    uint64_t d;

    if (x == s->sb)
        sb_up_from(s, x);
    if (on_r(s, x)) {
        if (top && x == s->tb && s->ntop > 1)
            s->tb = lk(s->n[x].rp);
        r_del(s, x);
    }
    r_push(s, x);
    /* S runs down to the bottom LIR frame; with no LIR frame it is
     * empty, and a frame joins it only once there is one below. */
    if (s->sb != s->hr)
        s->n[x].rn |= F_INS;
    else if (s->n[x].rp & F_LIR)
        s->sb = x;
    if (s->sampled)
        return false;                /* no expert: F_TOP is F_WASL */
    if (!top) {
        s->n[x].rn |= F_TOP;
        if (s->ntop++ == 0)
            s->tb = x;
    }
    d = top_target(s);
    while (s->ntop > d) {
        s->n[s->tb].rn &= ~F_TOP;
        s->ntop--;
        s->tb = lk(s->n[s->tb].rp);
    }
    return top;
}

/*
 * TinyLFU's admission filter on LIRS's promotion: an HIR frame whose
 * inter-reference recency earns it a place in a full LIR set takes it
 * only if it has been referenced at least as often as the bottom LIR
 * frame it would push out.  A burst of two close references to a frame
 * otherwise cold no longer displaces a frame that is used all the time
 * but not just now.
 */
static bool admit_lir(const dflt *s, uint32_t x)
{
    if (s->sb == s->hr || s->nlir < lir_target(s))
        return true;
    return count_of(s, x) >= count_of(s, s->sb);
}

/*
 * A reference to x: an observed access to a resident frame, or the fault
 * that has just made it resident (fresh).
 */
static void reference(dflt *s, uint32_t x, bool fresh, bool learn)
{
    node *e = &s->n[x];
    bool was_lir = e->rp & F_LIR, in_s = e->rn & F_INS;
    bool wasl = s->sampled && (e->rn & F_WASL), ghost = false, top;

    if (fresh) {
        if (s->sampled)
            e->rn &= ~F_WASL;
        /* Non-resident frames on the Q links are the ghosts. */
        if (on_q(s, x)) {
            ghost = true;
            q_del(s, x);
            s->nghost--;
        }
    }
    top = r_touch(s, x);
    if (learn)
        count_ref(s, x);

    /* Learn before deciding, from what this reference shows. */
    if (!learn) {
        /* A refused victim: not a reference the guest made. */
    } else if (!s->sampled) {
        if (top != !fresh) {
            /* They disagree: exactly one of them hit. */
            s->ea *= 1 - 1 / EXPERT_MEMORY;
            s->eb *= 1 - 1 / EXPERT_MEMORY;
            if (top)
                s->ea += 1;          /* only LRU would have hit */
            else
                s->eb += 1;          /* only this policy hit */
            nudge(s, step_of(s) * (s->ea - s->eb) / (s->ea + s->eb));
        }
    } else if (fresh && ghost) {
        nudge(s, wasl ? -STEP : STEP);
    }

    if (was_lir) {
        balance(s);
        return;
    }
    if ((in_s && admit_lir(s, x)) ||
        (fresh && s->nlir < lir_target(s))) {
        /* Its inter-reference recency beats the LIR set's worst: it
         * joins, and the worst LIR frame leaves.  While the LIR set is
         * still filling, a new frame joins as LIRS does at start-up. */
        if (on_q(s, x))
            q_del(s, x);
        e->rp |= F_LIR;
        e->rn |= F_INS;
        if (s->sampled)
            e->rn |= F_WASL;
        s->nlir++;
        if (s->sb == s->hr)
            s->sb = x;
        balance(s);
        return;
    }
    /* Stays HIR: to the back of Q. */
    if (on_q(s, x))
        q_del(s, x);
    q_push_back(s, x);
    balance(s);
}

static int dflt_init(xenshape__policy **p_r, uint64_t nr_frames,
                     uint64_t seed, unsigned flags)
{
    dflt *s = NULL;
    uint64_t i;
    uint32_t g;
    int rc;

    if (!nr_frames || nr_frames > XENSHAPE__POLICY_MAX_FRAMES) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    s = xenshape__calloc(1, sizeof(*s));
    if (!s) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    s->pub.ops = &xenshape__policy_default;
    s->nr = (uint32_t)nr_frames;
    s->hr = s->nr;
    s->hq = s->nr + 1;
    s->hg = s->nr + 2;
    s->sb = s->tb = s->hr;
    s->sampled = flags & XENSHAPE__POLICY_SAMPLED;
    s->h = s->sampled ? HIR_MIN : H_START_COMPLETE;
    s->n = xenshape__malloc((nr_frames + 3) * sizeof(*s->n));
    if (!s->n) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < nr_frames + 3; i++)
        s->n[i].rp = s->n[i].rn = s->n[i].qp = s->n[i].qn = NILX;
    s->n[s->hr].rp = s->n[s->hr].rn = s->hr;
    s->n[s->hq].qp = s->n[s->hq].qn = s->hq;
    s->n[s->hg].qp = s->n[s->hg].qn = s->hg;
    if (flags & XENSHAPE__POLICY_ALL_RESIDENT) {
        /*
         * Nothing is known yet: every frame is HIR in Q and on R, and the
         * LIR set fills from the first references.  The upper half of the
         * gfn space goes first: low gfns hold firmware and the early
         * kernel, rarely cold (xenpaging starts its sweep there too).
         */
        for (i = 0; i < nr_frames; i++) {
            g = (uint32_t)((nr_frames / 2 + i) % nr_frames);
            s->n[g].rp |= F_RES;
            q_push_back(s, g);
            r_push(s, g);
        }
        s->resident = nr_frames;
    }
    *p_r = &s->pub;
    s = NULL;
    rc = 0;
 out:
    if (s)
        free(s->n);
    free(s);
    return rc;
}

static void dflt_free(xenshape__policy *p)
{
    dflt *s = (dflt *)p;

    if (!s)
        return;
    free(s->n);
    free(s);
}

static void dflt_access(xenshape__policy *p, uint64_t gfn)
{
    dflt *s = (dflt *)p;

    if (gfn < s->nr && (s->n[gfn].rp & F_RES))
        reference(s, (uint32_t)gfn, false, true);
}

static void dflt_admit(xenshape__policy *p, uint64_t gfn)
{
    dflt *s = (dflt *)p;
    uint32_t x = (uint32_t)gfn;

    if (gfn >= s->nr)
        return;
    if (s->n[x].rp & F_RES) {
        reference(s, x, false, true);
        return;
    }
    s->n[x].rp |= F_RES;
    s->resident++;
    reference(s, x, true, true);
}

static void dflt_evicted(xenshape__policy *p, uint64_t gfn)
{
    dflt *s = (dflt *)p;
    uint32_t x = (uint32_t)gfn;

    if (gfn >= s->nr || !(s->n[x].rp & F_RES))
        return;
    if (on_q(s, x))
        q_del(s, x);
    if (s->n[x].rp & F_LIR) {
        /* Not our choice (the engine evicted a protected frame): it stays
         * on R as a non-resident HIR frame, as LIRS would keep it. */
        s->n[x].rp &= ~F_LIR;
        s->nlir--;
        if (x == s->sb) {
            s->n[x].rn &= ~F_INS;
            sb_up_from(s, x);
        }
    }
    s->n[x].rp &= ~F_RES;
    s->resident--;
    if (s->sampled) {
        /* Remember the last GHOST_WINDOW x resident evictions. */
        push_back(s, s->hg, x);
        s->nghost++;
        while (s->nghost > GHOST_WINDOW * (double)s->resident) {
            q_del(s, lk(s->n[s->hg].qn));
            s->nghost--;
        }
    }
}

/* x joins the LIR set at the top of R, out of Q's way (no reference:
 * nothing is learnt and nothing counted). */
static void make_lir(dflt *s, uint32_t x)
{
    r_touch(s, x);
    if (s->n[x].rp & F_LIR)
        return;
    if (on_q(s, x))
        q_del(s, x);
    s->n[x].rp |= F_LIR;
    s->n[x].rn |= F_INS;
    if (s->sampled)
        s->n[x].rn |= F_WASL;
    s->nlir++;
    if (s->sb == s->hr)
        s->sb = x;
}

/* A frame the engine refused (pinned or busy) counts as just used and
 * joins the LIR set, at the top of R, out of Q's way. */
static void protect(dflt *s, uint32_t x)
{
    make_lir(s, x);
    balance(s);
}

/* Put x in Q right after y (y may be the head). */
static void q_insert_after(dflt *s, uint32_t y, uint32_t x)
{
    uint32_t nx = lk(s->n[y].qn);

    set_lk(&s->n[x].qp, y);
    set_lk(&s->n[x].qn, nx);
    set_lk(&s->n[nx].qp, x);
    set_lk(&s->n[y].qn, x);
}

static unsigned dflt_choose(xenshape__policy *p, xenshape__policy_filter *ok,
                            void *arg, uint64_t *out, unsigned n)
{
    dflt *s = (dflt *)p;
    unsigned found = 0;
    uint64_t seen = 0;
    uint32_t last = s->hq, x, v;

    /*
     * Victims come from the front of Q and stay there until evicted()
     * (the engine may fail to evict them); `last` is the last one taken.
     * When Q runs dry the bottom LIR frame is demoted into it.  A refused
     * frame is protected, at the top of R, so it comes back into Q only
     * after every other frame: each frame is looked at once, twice at
     * worst.
     *
     * The duel: a candidate counted more often than the bottom LIR frame
     * v (by more than DUEL_MARGIN) joins the LIR set in v's place, and v,
     * demoted, is the victim instead.  v does not duel again, so each
     * candidate costs O(1).
     */
    while (found < n && seen < 2 * s->resident) {
        x = lk(s->n[last].qn);
        if (x == s->hq) {
            if (s->sb == s->hr)
                break;
            demote_bottom(s);
            continue;
        }
        seen++;
        if (!ok(arg, x)) {
            protect(s, x);
            continue;
        }
        if (s->sb != s->hr &&
            count_of(s, x) > count_of(s, s->sb) + DUEL_MARGIN) {
            v = s->sb;
            make_lir(s, x);
            demote_bottom(s);        /* v, to the back of Q */
            q_del(s, v);
            q_insert_after(s, last, v);
            x = v;
            if (!ok(arg, x)) {
                protect(s, x);
                continue;
            }
        }
        out[found++] = x;
        last = x;
    }
    return found;
}

const struct xenshape__policy_ops xenshape__policy_default = {
    .name = "default",
    .summary = "LIRS with its queue share adapted against an LRU expert "
               "(or ghost hits when sampled) and TinyLFU-style "
               "frequency filters",
    .meta_bytes_per_frame = sizeof(node),
    .init = dflt_init,
    .free = dflt_free,
    .access = dflt_access,
    .admit = dflt_admit,
    .evicted = dflt_evicted,
    .choose = dflt_choose,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
