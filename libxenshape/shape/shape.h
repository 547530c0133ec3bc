/*
 * shape.h - the shaping policy engine: once per interval, from a snapshot
 * of the host and its domains, decide how many frames of RAM each domain
 * keeps (its target for the pager), which domains are hibernated or
 * relaunched, and why, in words.
 *
 * The engine is a pure function.  It does no I/O, reads no clock and
 * calls no hypervisor: the daemon (tools/xenshaped) gathers the snapshot,
 * calls xenshape__shape_decide(), applies the targets and actions, writes
 * the status keys and passes each domain's memo back in the next
 * snapshot.  The same snapshot always gives the same decision; ties are
 * broken by domid, never by input order.  docs/shaping.md explains the
 * algorithm with worked examples; in short, each interval:
 *
 *  1. Available RAM A = total frames - the host's reserve.  Domains that
 *     cannot be paged keep what they hold; pinned domains (pin=1), taken
 *     by priority while they fit, get their presented memory in full and
 *     are exempt from everything below.  A pin that does not fit is
 *     refused and said so.  What is left, R, is shared out in tiers.
 *
 *  2. Each other domain's wish.  Thresholds (a size, or a percent of
 *     presented memory, or with threshold-mode=dynamic of what it could
 *     hold now: its RAM plus the host's free RAM) cap a domain whose usage
 *     rose above threshold-high at threshold-high, until its usage falls
 *     below threshold-low.  A generic domain wishes for its usage plus
 *     headroom (host policy), a soaker for everything up to its cap.
 *     A generic domain is not paged out for lack of usage while it
 *     faulted in the last XENSHAPE__SHAPE_FAULT_HOLD_MS (what it paged in
 *     it needs: the usage estimate only lags), nor by less than 1/16 of
 *     its RAM (the estimate's noise is not worth a page-out); a
 *     threshold's cap is never held off.
 *     The wish is then paced: down by at most one step per interval
 *     (shrink-rate, host policy), so that paging out is progressive, and
 *     up by at most the leaky bucket's allowance:
 *
 *         gain per interval <= rate * priority/1000 * interval + burst
 *
 *     (the bucket fills with the RAM actually gained and leaks at the
 *     scaled rate; the allowance is burst - fill + one interval's leak).
 *
 *  3. Tiers, each served from R before the next:
 *       a. generic domains' wishes; if they do not all fit, a weighted
 *          max-min share (weights: priority), so RAM freed by one domain
 *          (it went above its threshold, or went idle) raises the share of
 *          a domain that still needs it;
 *       b. running soakers' min-operating, highest priority first; a
 *          soaker for which it does not fit is hibernated (paused, then
 *          paged fully out, or with hibernate=pause paged out only as the
 *          RAM is needed): lowest priorities go first;
 *       c. faulting generic domains' claims: room for what each will
 *          page in over CLAIM_MS at its fault rate (within its ceiling
 *          and what its bucket allows over CLAIM_MS), kept free of
 *          soakers.  Not a grant: a target still rises only by the
 *          projection (one interval's faults, out of the claim) within
 *          the allowance.  Soakers are thus paged out ahead of the
 *          demand, down to their min-operating in one decision, not by
 *          one interval's faults per decision.  The claim rises with the
 *          fault rate at once, decays slowly and lapses FAULT_HOLD_MS
 *          after the last fault, so that soakers do not grow back into
 *          it between two bursts of faults;
 *       d. hibernated soakers' relaunch, highest priority first, when
 *          min-starting fits and the soaker was paused at least
 *          hysteresis-s (>= 60 s) ago: at most one pause/resume cycle
 *          per soaker per period.  Relaunch = prefetch up to min-starting
 *          (paced by the bucket, possibly over several intervals), then
 *          unpause;
 *       e. frames a soaker hibernated with hibernate=pause still holds;
 *       f. running soakers' growth into what is left, highest priority
 *          first, up to their paced wish.  Then a soaker that would
 *          shrink for a claim keeps what it holds, out of the room the
 *          claims keep free, while a lower priority soaker is still more
 *          than a step above its target: lowest priority first in time
 *          too, as the pager evicts from all shrinking domains at once.
 *     So soakers give RAM back before generic domains do, lowest priority
 *     first, and grow into free RAM highest priority first.  Contention
 *     shrinks are not paced: the RAM is needed now.  A claim is a guess,
 *     like a projection: it costs soakers their growth, never their
 *     minimum, so it never hibernates one by itself.  But a domain whose
 *     projection found no RAM in the last decision (soakers were at their
 *     minimum) and which still faults with no net gain since (the pager
 *     evicts as much of it as it pages in: it thrashes) is short of RAM
 *     beyond doubt, whatever its usage says: its projection joins its
 *     wish (tier a), and may cost a soaker its minimum.
 *
 * Invariants (tests/check_shape.c checks each over long simulations):
 * the targets sum to at most A (unless domains that cannot be paged
 * already hold more); a non-pinned domain's target exceeds its resident
 * frames by at most its bucket allowance; an honoured pin's target is its
 * presented memory; a paced page-out takes at most one step per interval;
 * a soaker is relaunched no sooner than hysteresis-s after its pause.
 *
 * Units: frames of 4 KiB throughout, times in milliseconds.
 */

#ifndef XENSHAPE_SHAPE_H
#define XENSHAPE_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shape/schema.h"

/* What shaping is doing with a domain: the words of the status key
 * "state", in the schema's order. */
enum xenshape__shape_state {
    XENSHAPE__SHAPE_RUNNING,         /* at its target */
    XENSHAPE__SHAPE_SHRINKING,       /* target below resident: paging out */
    XENSHAPE__SHAPE_GROWING,         /* target raised above resident */
    XENSHAPE__SHAPE_HIBERNATED,      /* paused by us (relaunching too) */
    XENSHAPE__SHAPE_PINNED,          /* an honoured pin: fully in */
    XENSHAPE__SHAPE_UNSUPPORTED,     /* paging-unsupported: not shaped */
};

/* "running", "shrinking", ...: static, never NULL. */
const char *xenshape__shape_state_name(enum xenshape__shape_state s);

/* usage: not measured yet (a domain just attached).  The engine then
 * holds a generic domain where it is. */
#define XENSHAPE__SHAPE_USAGE_UNKNOWN UINT64_MAX

/* A generic domain that faulted this recently keeps what it holds, and
 * its claim (below) lasts as long. */
#define XENSHAPE__SHAPE_FAULT_HOLD_MS 5000u

/* A faulting generic domain's claim: the room kept free of soakers for
 * what it will page in over this long at the rate it faulted last
 * interval.  The interval in which a surge of faults begins sees on
 * average half of it, so this is twice the horizon meant (the fault
 * hold); a claim only ever costs soakers their growth. */
#define XENSHAPE__SHAPE_CLAIM_MS 10000u

/* Most domains one decision takes. */
#define XENSHAPE__SHAPE_MAX_DOMS 4096u

/* Room for one reason, NUL included. */
#define XENSHAPE__SHAPE_REASON_MAX 256

/*
 * What the engine remembers about a domain between two decisions.  The
 * daemon keeps it opaque: all zero for a domain it has not decided on
 * yet, then out->memo of the last decision.  (The fields are visible so
 * that a restarted daemon can rebuild it from status and tests can set
 * up a history.)
 */
typedef struct xenshape__shape_memo {
    bool valid;                      /* false: no decision yet */
    enum xenshape__shape_state state;
    bool over;                       /* capped at threshold-high */
    bool relaunching;                /* hibernated, prefetching to relaunch */
    bool paused_ever;
    uint64_t last_pause_ms;          /* when we last paused it */
    uint64_t bucket;                 /* leaky bucket fill, frames */
    uint64_t prev_resident;          /* resident frames at the last decision */
    uint64_t target;                 /* the last target */
    bool faulted;                    /* it has faulted since we knew it */
    uint64_t last_fault_ms;          /* the last interval with a fault */
    uint64_t claim;                  /* frames kept free of soakers for
                                        its faults (generic domains) */
    bool starved;                    /* faulting, its projection found no
                                        RAM beside soakers' minimums */
} xenshape__shape_memo;

/* The host in a snapshot. */
typedef struct xenshape__shape_host {
    uint64_t total_frames;           /* machine RAM */
    uint64_t free_frames;            /* free in the hypervisor now */
    const xenshape__hostpolicy *pol; /* reserve, shrink-rate, headroom,
                                        hysteresis */
    uint64_t now_ms;                 /* monotonic, for hysteresis */
    uint64_t interval_ms;            /* time since the last decision
                                        (clamped to 1 ms .. 1 h) */
} xenshape__shape_host;

/* One domain in a snapshot. */
typedef struct xenshape__shape_dom {
    uint32_t domid;
    bool paging;                     /* false: attach said paging is
                                        unsupported; not shaped */
    uint64_t presented;              /* frames of RAM the guest was given */
    uint64_t resident;               /* frames in RAM now */
    uint64_t paged;                  /* frames in the store now */
    /* Working-set estimate: distinct frames the guest referenced in the
     * last interval, as the pager observes them (sampled first touches of
     * resident frames plus page-in faults), or USAGE_UNKNOWN. */
    uint64_t usage;
    uint64_t faults;                 /* guest page-in requests, last interval */
    uint64_t loaded;                 /* frames paged in (faults and
                                        prefetch), last interval */
    const xenshape__dompolicy *pol;
    xenshape__shape_memo memo;
} xenshape__shape_dom;

/* Actions for the daemon, in this order: PREFETCH, then UNPAUSE. */
#define XENSHAPE__SHAPE_PAUSE    0x1u /* hibernate: pause the domain */
#define XENSHAPE__SHAPE_PREFETCH 0x2u /* load frames up to the target now */
#define XENSHAPE__SHAPE_UNPAUSE  0x4u /* relaunch: unpause (after prefetch) */

/* The decision for one domain. */
typedef struct xenshape__shape_out {
    uint32_t domid;
    uint64_t target;                 /* frames to keep in RAM */
    enum xenshape__shape_state state;
    unsigned actions;                /* XENSHAPE__SHAPE_* */
    uint64_t fault_rate;             /* faults per second */
    /* Metering for the last interval, to add to the domain's totals:
     * resident and paged frames times milliseconds, frames paged in. */
    uint64_t ram_page_ms, store_page_ms, pageins;
    /* The decision differs from the last one (target, state or an
     * action): worth a line in the status key "decisions". */
    bool changed;
    char reason[XENSHAPE__SHAPE_REASON_MAX];
    xenshape__shape_memo memo;       /* to pass back next time */
} xenshape__shape_out;

typedef struct xenshape__shape_summary {
    uint64_t available;              /* total - reserve */
    uint64_t assigned;               /* sum of the targets */
    bool contention;                 /* demands exceeded what was left */
} xenshape__shape_summary;

/*
 * Decide one interval for nr domains.  out[i] is the decision for
 * doms[i].  sum_r may be NULL.  XENSHAPE_EINVAL: a NULL argument or
 * policy, nr above XENSHAPE__SHAPE_MAX_DOMS, or two domains with one
 * domid; XENSHAPE_ENOMEM.  Nothing is written to out on failure.
 */
int xenshape__shape_decide(const xenshape__shape_host *host,
                           const xenshape__shape_dom *doms, unsigned nr,
                           xenshape__shape_out *out,
                           xenshape__shape_summary *sum_r);

/*
 * Keep the status key "decisions": put "<seconds> <reason>" on top of log
 * (n bytes, NUL-terminated text, lines separated by '\n') and drop the
 * oldest lines that no longer fit.  n is at most
 * XENSHAPE__SCHEMA_VALUE_MAX + 1; more is treated as that.
 */
void xenshape__shape_log_push(char *log, size_t n, uint64_t seconds,
                              const char *reason);

/* A size given in frames as words: "12 MiB", "3.1 GiB".  Truncated to n. */
void xenshape__shape_fmt_frames(char *buf, size_t n, uint64_t frames);

#endif /* XENSHAPE_SHAPE_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
