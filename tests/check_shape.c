/*
 * check_shape.c - tests of the shaping policy engine
 * (libxenshape/shape/shape): a decision table, where each row is a
 * snapshot with the target, state, actions and reason its domains must
 * get, and its arithmetic spelled out; multi-interval simulations of a
 * host whose guests follow their targets, checking the engine's
 * invariants every interval (targets within available RAM, the leaky
 * bucket bound per interval and over every window, hysteresis, soakers
 * giving way before generic domains and lowest priority first, pins fully
 * resident, paced page-out, freed RAM reaching the domain that needs it);
 * random snapshots for the same invariants and for determinism whatever
 * the input order; and the edges (bad arguments, allocation failure).
 *
 * Sizes in the tables are MiB (256 frames).  Unless a row says otherwise
 * the host has 8 GiB with the default 1 GiB reserve, so 7168 MiB are
 * available, pages out at most 64 MiB per second (shrink-rate=64M) and
 * gives generic domains no headroom (headroom=0%), so a generic domain
 * wishes for exactly its usage; a domain has priority 500 and the default
 * bucket, rate 256M at priority 1000 (128 MiB per 1 s interval at 500)
 * and burst 512M, so with an empty bucket it may gain 512 + 128 = 640 MiB
 * in one interval.
 */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "shape/schema.h"
#include "shape/shape.h"

#define MiB UINT64_C(256)           /* frames */
#define NOW_MS UINT64_C(1000000)
#define UNKNOWN UINT32_MAX

/* ---- helpers -------------------------------------------------------- */

/* "key=value key=value" into a policy, every pair required valid. */
static void dom_policy(xenshape__dompolicy *p, const char *spec)
{
    xenshape__schema_kv kv[16];
    char buf[512], *save = NULL, *tok;
    unsigned n = 0, rej;

    xenshape__dompolicy_init(p);
    if (!spec)
        return;
    snprintf(buf, sizeof(buf), "%s", spec);
    for (tok = strtok_r(buf, " ", &save); tok && n < 16;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');

        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        kv[n].key = tok;
        kv[n].value = eq + 1;
        kv[n].len = strlen(eq + 1);
        n++;
    }
    rej = xenshape__dompolicy_apply(p, kv, n, 0);
    if (rej) {
        char err[512];

        xenshape__dompolicy_error(p, err, sizeof(err));
        ck_abort_msg("policy \"%s\": %s", spec, err);
    }
}

static void host_policy(xenshape__hostpolicy *p, const char *spec)
{
    xenshape__schema_kv kv[16];
    char buf[512], *save = NULL, *tok;
    unsigned n = 0;

    xenshape__hostpolicy_init(p);
    if (!spec)
        return;
    snprintf(buf, sizeof(buf), "%s", spec);
    for (tok = strtok_r(buf, " ", &save); tok && n < 16;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');

        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        kv[n].key = tok;
        kv[n].value = eq + 1;
        kv[n].len = strlen(eq + 1);
        n++;
    }
    ck_assert_uint_eq(xenshape__hostpolicy_apply(p, kv, n, 0), 0);
}

/* The bucket's leak per interval, computed here independently of the
 * engine: rate (KiB/s) * priority/1000 * dt, in frames. */
static uint64_t leak(const xenshape__dompolicy *p, uint64_t dt)
{
    return (uint64_t)((unsigned __int128)p->rate_kib * p->priority * dt /
                      (UINT64_C(1000) * 1000 * 4));
}

static uint64_t burst(const xenshape__dompolicy *p)
{
    return p->burst_kib / 4;
}

static uint64_t available(const xenshape__shape_host *h)
{
    uint64_t r = h->pol->reserved_kib / 4;

    return h->total_frames > r ? h->total_frames - r : 0;
}

static uint64_t dt_of(const xenshape__shape_host *h)
{
    return h->interval_ms < 1 ? 1 : h->interval_ms > 3600000 ? 3600000
                                                            : h->interval_ms;
}

/*
 * What must hold for any decision: the targets fit in available RAM
 * (unless domains that cannot be paged hold more than that already); an
 * honoured pin gets its presented memory; any other domain's target
 * exceeds its resident frames by at most burst plus one interval's leak;
 * actions agree with states; a reason is always given.
 */
static void check_invariants(const xenshape__shape_host *h,
                             const xenshape__shape_dom *d, unsigned n,
                             const xenshape__shape_out *o,
                             const xenshape__shape_summary *s)
{
    uint64_t sum = 0, fixed = 0, a = available(h);
    unsigned i;

    for (i = 0; i < n; i++) {
        ck_assert_uint_eq(o[i].domid, d[i].domid);
        sum += o[i].target;
        if (o[i].state == XENSHAPE__SHAPE_UNSUPPORTED) {
            ck_assert(!d[i].paging);
            ck_assert_uint_eq(o[i].target, d[i].resident);
            fixed += d[i].resident;
        } else if (o[i].state == XENSHAPE__SHAPE_PINNED) {
            ck_assert(d[i].pol->pin);
            ck_assert_uint_eq(o[i].target,
                              d[i].presented > d[i].resident
                              ? d[i].presented : d[i].resident);
        } else {
            ck_assert_msg(o[i].target <= d[i].resident + burst(d[i].pol) +
                          leak(d[i].pol, dt_of(h)),
                          "dom %u: target %" PRIu64 " resident %" PRIu64
                          " beyond the bucket", d[i].domid, o[i].target,
                          d[i].resident);
        }
        if (o[i].actions & XENSHAPE__SHAPE_PAUSE)
            ck_assert_int_eq(o[i].state, XENSHAPE__SHAPE_HIBERNATED);
        if (o[i].actions & XENSHAPE__SHAPE_UNPAUSE)
            ck_assert_int_ne(o[i].state, XENSHAPE__SHAPE_HIBERNATED);
        ck_assert(!((o[i].actions & XENSHAPE__SHAPE_PAUSE) &&
                    (o[i].actions & XENSHAPE__SHAPE_UNPAUSE)));
        ck_assert_uint_le(o[i].memo.bucket, burst(d[i].pol));
        ck_assert_int_eq(o[i].memo.state, o[i].state);
        ck_assert_uint_eq(o[i].memo.target, o[i].target);
        ck_assert_msg(o[i].reason[0], "dom %u: no reason", d[i].domid);
        ck_assert_uint_lt(strlen(o[i].reason), XENSHAPE__SHAPE_REASON_MAX);
    }
    ck_assert_msg(sum <= (fixed > a ? fixed : a),
                  "targets %" PRIu64 " above available %" PRIu64, sum, a);
    ck_assert_uint_eq(s->assigned, sum);
    ck_assert_uint_eq(s->available, a);
}

/* ---- the decision table --------------------------------------------- */

struct rdom {
    uint32_t domid;
    const char *pol;
    unsigned presented, resident, usage;  /* MiB; usage UNKNOWN */
    unsigned faults;                      /* in the last interval, MiB */
    unsigned fault_ago_s;                 /* 0: no fault before */
    /* History, i.e. the memo of the last decision. */
    bool fresh;                           /* none: a new domain */
    enum xenshape__shape_state was;
    bool over, relaunching;
    unsigned paused_ago_s;                /* 0: never paused */
    unsigned bucket;                      /* fill, MiB */
    unsigned prev_resident;               /* MiB; 0: same as resident */
    unsigned claim;                       /* MiB kept for its faults */
    bool starved;                         /* its projection found no RAM */
    bool nopaging;
    /* Expected. */
    unsigned target;
    enum xenshape__shape_state state;
    unsigned actions;
    const char *reason;                   /* "=whole" or a part */
    bool check_bucket;
    unsigned exp_bucket;                  /* MiB */
    int exp_starved;                      /* 0: not checked, NO or YES */
};

struct row {
    const char *name;
    unsigned total;                       /* MiB; 0: 8192 */
    unsigned free;                        /* MiB; 0: what is unused */
    const char *host;                     /* added to the defaults */
    int contention;                       /* 0: not checked, NO or YES */
    struct rdom d[4];
};

#define NO 1
#define YES 2
#define RUNNING XENSHAPE__SHAPE_RUNNING
#define SHRINKING XENSHAPE__SHAPE_SHRINKING
#define GROWING XENSHAPE__SHAPE_GROWING
#define HIBERNATED XENSHAPE__SHAPE_HIBERNATED
#define PINNED XENSHAPE__SHAPE_PINNED
#define UNSUPPORTED XENSHAPE__SHAPE_UNSUPPORTED
#define PAUSE XENSHAPE__SHAPE_PAUSE
#define PREFETCH XENSHAPE__SHAPE_PREFETCH
#define UNPAUSE XENSHAPE__SHAPE_UNPAUSE

static const struct row rows[] = {
    {
        /* Usage 1000 of 4096 resident: the wish is 1000, but one
         * interval pages out at most one step, 64 MiB. */
        .name = "idle generic: paged out one step at a time",
        .contention = NO,
        .d = {{ .domid = 1, .presented = 4096, .resident = 4096,
                .usage = 1000, .target = 4032, .state = SHRINKING,
                .reason = "=paged out 64 MiB: usage 1000 MiB, wants "
                          "1000 MiB; step 64 MiB" }},
    },
    {
        /* The example: usage 3174 MiB (3.1 GiB) above
         * threshold-high 2560 MiB caps the domain at 2560; from 3072
         * resident it goes down one 64 MiB step: 3008. */
        .name = "above threshold-high: paged out progressively",
        .d = {{ .domid = 1, .pol = "threshold-high=2560M threshold-low=2G",
                .presented = 4096, .resident = 3072, .usage = 3174,
                .target = 3008, .state = SHRINKING,
                .reason = "=paged out 64 MiB: usage 3.1 GiB above "
                          "threshold 2.5 GiB; step 64 MiB" }},
    },
    {
        /* 2600 - 64 would pass the threshold: the step stops at 2560. */
        .name = "the last step stops at the threshold",
        .d = {{ .domid = 1, .pol = "threshold-high=2560M threshold-low=2G",
                .presented = 4096, .resident = 2600, .usage = 2700,
                .over = true, .target = 2560, .state = SHRINKING,
                .reason = "=paged out 40 MiB: usage 2.6 GiB above "
                          "threshold 2.5 GiB" }},
    },
    {
        /* A soaker wishes for everything up to its cap.  It went above
         * 2560 earlier (over); usage 2500 lies between low (2048) and
         * high: the cap stays, so it holds at 2560 ... */
        .name = "between the thresholds a capped soaker stays capped",
        .d = {{ .domid = 1,
                .pol = "soaker=1 threshold-high=2560M threshold-low=2G",
                .presented = 4096, .resident = 2560, .usage = 2500,
                .over = true, .target = 2560, .state = RUNNING,
                .reason = "=held at 2.5 GiB: capped at 2.5 GiB until "
                          "usage (2.4 GiB) is below 2 GiB; soaker priority "
                          "500" }},
    },
    {
        /* ... while the same soaker, never capped, grows by its bucket
         * allowance: 2560 + 640 = 3200. */
        .name = "the same usage without the cap grows",
        .d = {{ .domid = 1,
                .pol = "soaker=1 threshold-high=2560M threshold-low=2G",
                .presented = 4096, .resident = 2560, .usage = 2500,
                .target = 3200, .state = GROWING,
                .reason = "=paged in up to 640 MiB: free RAM, soaker "
                          "priority 500; bucket full" }},
    },
    {
        /* Usage 1800 fell below threshold-low 2048: the cap goes and the
         * wish is 1800.  The bucket is full (512): it leaks 128, leaving
         * an allowance of 512 - 384 + 128 = 256: 1024 + 256 = 1280. */
        .name = "below threshold-low: paged back in at the bucket's pace",
        .d = {{ .domid = 1, .pol = "threshold-high=2560M threshold-low=2G",
                .presented = 4096, .resident = 1024, .usage = 1800,
                .over = true, .bucket = 512, .target = 1280,
                .state = GROWING,
                .reason = "=paged in up to 256 MiB: usage 1.8 GiB below "
                          "threshold 2 GiB; bucket full",
                .check_bucket = true, .exp_bucket = 384 }},
    },
    {
        /* The same usage, but the domain faulted in the last interval:
         * it is short of RAM at its cap, and what a guest waiting on
         * page-ins touches understates its need.  The cap stays (it
         * would otherwise grow back by its allowance, to be capped again
         * at the next burst of writes). */
        .name = "below threshold-low but faulting: the cap stays",
        .d = {{ .domid = 1, .pol = "threshold-high=2560M threshold-low=2G",
                .presented = 4096, .resident = 2560, .usage = 1800,
                .faults = 16, .over = true, .bucket = 512,
                .target = 2560, .state = RUNNING,
                .reason = "capped at 2.5 GiB until usage (1.8 GiB) is "
                          "below 2 GiB" }},
    },
    {
        /* It gained 512 since the last decision: the bucket fills to
         * 512 - 128 = 384, so it may gain 256 more: 1792. */
        .name = "the bucket fills with the RAM actually gained",
        .d = {{ .domid = 1, .presented = 4096, .resident = 1536,
                .prev_resident = 1024, .usage = 4000, .target = 1792,
                .state = GROWING, .reason = "bucket full",
                .check_bucket = true, .exp_bucket = 384 }},
    },
    {
        /* The generic domain's wish, 5500, is met first (7168
         * available), leaving 1668 for the soaker, which drops 500 MiB
         * at once: contention is not paced. */
        .name = "a soaker gives RAM back at once, not in steps",
        .contention = NO,
        .d = {{ .domid = 1, .presented = 8192, .resident = 5000,
                .usage = 5500, .target = 5500, .state = GROWING },
              { .domid = 2, .pol = "soaker=1", .presented = 8192,
                .resident = 2168, .target = 1668, .state = SHRINKING,
                .reason = "=paged out 500 MiB: RAM needed by others: "
                          "soakers give way first (priority 500)" }},
    },
    {
        /* 7168 - 4500 = 2668 for soakers: min-operating 256 each
         * (2156 left), then growth by priority: the priority 900 one
         * may gain 512 + 900 (rate 1000M) and takes all 2156: 2412.
         * The priority 100 one is left at its minimum, 256. */
        .name = "two soakers: the lower priority gives way",
        .d = {{ .domid = 1, .presented = 8192, .resident = 4000,
                .usage = 4500, .target = 4500, .state = GROWING },
              { .domid = 2, .pol = "soaker=1 priority=900 rate=1000M",
                .presented = 8192, .resident = 1584, .target = 2412,
                .state = GROWING, .reason = "free RAM, soaker priority 900" },
              { .domid = 3, .pol = "soaker=1 priority=100 rate=1000M",
                .presented = 8192, .resident = 1584, .target = 256,
                .state = SHRINKING,
                .reason = "soakers give way first (priority 100)" }},
    },
    {
        /* 7168 - 6768 = 400: the priority 900 soaker keeps its 256, 144
         * are left for the priority 100 one, below its 256: hibernated,
         * paged fully out (store).  The other takes the 144. */
        .name = "below min-operating a soaker is hibernated, lowest first",
        .contention = YES,
        .d = {{ .domid = 1, .presented = 8192, .resident = 6768,
                .usage = 6768, .target = 6768, .state = RUNNING },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 8192, .resident = 200, .target = 400,
                .state = GROWING },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 200, .target = 0,
                .state = HIBERNATED, .actions = PAUSE,
                .reason = "=hibernated (store): 144 MiB left for it under "
                          "contention, below min-operating 256 MiB" }},
    },
    {
        /* As above with hibernate=pause: the paused soaker keeps what is
         * not needed, 144 of its 300; the running one stays at 256. */
        .name = "hibernate=pause: frames go only as they are needed",
        .contention = YES,
        .d = {{ .domid = 1, .presented = 8192, .resident = 6768,
                .usage = 6768, .target = 6768, .state = RUNNING },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 8192, .resident = 200, .target = 256,
                .state = GROWING },
              { .domid = 3, .pol = "soaker=1 priority=100 hibernate=pause",
                .presented = 8192, .resident = 300, .target = 144,
                .state = HIBERNATED, .actions = PAUSE,
                .reason = "; keeps 144 MiB in RAM" }},
    },
    {
        .name = "hysteresis: no relaunch within 60 s of the pause",
        .d = {{ .domid = 1, .pol = "soaker=1", .presented = 4096,
                .resident = 0, .was = HIBERNATED, .paused_ago_s = 30,
                .target = 0, .state = HIBERNATED,
                .reason = "=hibernated: relaunch allowed in 30 s "
                          "(hysteresis 60 s)" }},
    },
    {
        /* 61 s after the pause, 7168 free: reserve min-starting 512,
         * prefetch it (the bucket allows 640), unpause; as a running
         * soaker it then takes the rest of its allowance: 640. */
        .name = "relaunch once min-starting is free: prefetch, unpause",
        .d = {{ .domid = 1, .pol = "soaker=1", .presented = 4096,
                .resident = 0, .was = HIBERNATED, .paused_ago_s = 61,
                .target = 640, .state = GROWING,
                .actions = PREFETCH | UNPAUSE,
                .reason = "=relaunched: min-starting 512 MiB free; "
                          "prefetch to 640 MiB, then unpause" }},
    },
    {
        .name = "no relaunch while min-starting is not free",
        .d = {{ .domid = 1, .presented = 8192, .resident = 6768,
                .usage = 6768, .target = 6768, .state = RUNNING },
              { .domid = 2, .pol = "soaker=1", .presented = 4096,
                .resident = 0, .was = HIBERNATED, .paused_ago_s = 120,
                .target = 0, .state = HIBERNATED,
                .reason = "=hibernated: min-starting 512 MiB not free "
                          "(400 MiB)" }},
    },
    {
        /* min-starting 2 GiB, but the bucket allows 640 per interval:
         * prefetch 640 and stay paused until min-starting is in. */
        .name = "a relaunch paced by the bucket stays paused",
        .d = {{ .domid = 1, .pol = "soaker=1 min-starting=2G",
                .presented = 4096, .resident = 0, .was = HIBERNATED,
                .paused_ago_s = 120, .target = 640, .state = HIBERNATED,
                .actions = PREFETCH,
                .reason = "=relaunching: prefetch to 640 MiB of "
                          "min-starting 2 GiB; bucket full" }},
    },
    {
        /* The pin reserves 2048 at once, whatever its usage; the
         * generic domain gets the other 5120. */
        .name = "a pin is reserved in full, paged in, exempt",
        .contention = YES,
        .d = {{ .domid = 1, .pol = "pin=1", .presented = 2048,
                .resident = 1000, .usage = 100, .target = 2048,
                .state = PINNED, .actions = PREFETCH,
                .reason = "=pinned: paging in to 2 GiB (1000 MiB "
                          "resident)" },
              { .domid = 2, .presented = 8192, .resident = 6000,
                .usage = 6000, .target = 5120, .state = SHRINKING,
                .reason = "contention: shared by priority (500)" }},
    },
    {
        .name = "a pin that does not fit is refused, and said so",
        .d = {{ .domid = 1, .pol = "pin=1", .presented = 8192,
                .resident = 1000, .usage = 1000, .target = 1000,
                .state = RUNNING,
                .reason = "=pin refused: needs 8 GiB, 7 GiB left for pins; "
                          "held at 1000 MiB: usage 1000 MiB, wants "
                          "1000 MiB" }},
    },
    {
        .name = "pinning a hibernated soaker relaunches it at once",
        .d = {{ .domid = 1, .pol = "soaker=1 pin=1", .presented = 1024,
                .resident = 0, .was = HIBERNATED, .paused_ago_s = 5,
                .target = 1024, .state = PINNED,
                .actions = PREFETCH | UNPAUSE,
                .reason = "=relaunched: pinned; prefetch to 1 GiB, then "
                          "unpause" }},
    },
    {
        /* 3000 cannot be paged: 4168 remain for the generic domain. */
        .name = "a domain that cannot be paged keeps what it holds",
        .d = {{ .domid = 1, .presented = 4096, .resident = 3000,
                .usage = 4000, .nopaging = true, .target = 3000,
                .state = UNSUPPORTED,
                .reason = "=not shaped: paging unsupported (2.9 GiB "
                          "resident)" },
              { .domid = 2, .presented = 8192, .resident = 4000,
                .usage = 5000, .target = 4168, .state = GROWING }},
    },
    {
        /* Both wish for 6000; 7168 split 3:1. */
        .name = "generic domains share scarce RAM by priority",
        .contention = YES,
        .d = {{ .domid = 1, .pol = "priority=750", .presented = 8192,
                .resident = 6000, .usage = 6000, .target = 5376,
                .state = SHRINKING, .reason = "shared by priority (750)" },
              { .domid = 2, .pol = "priority=250", .presented = 8192,
                .resident = 6000, .usage = 6000, .target = 1792,
                .state = SHRINKING, .reason = "shared by priority (250)" }},
    },
    {
        /* 1000 is within the small one's share (1792): met in full, and
         * 6000 fits in what is left. */
        .name = "a wish within its share is met in full",
        .contention = NO,
        .d = {{ .domid = 1, .pol = "priority=750", .presented = 8192,
                .resident = 6000, .usage = 6000, .target = 6000,
                .state = RUNNING },
              { .domid = 2, .pol = "priority=250", .presented = 8192,
                .resident = 1000, .usage = 1000, .target = 1000,
                .state = RUNNING }},
    },
    {
        /* Free RAM 1000: the dynamic base is 2000 + 1000 = 3000, so
         * threshold-high 50% is 1500 and usage 1990 is above it. */
        .name = "dynamic thresholds follow the host's free RAM",
        .free = 1000,
        .d = {{ .domid = 1,
                .pol = "threshold-mode=dynamic threshold-high=50% "
                       "threshold-low=40%",
                .presented = 8192, .resident = 2000, .usage = 1990,
                .target = 1936, .state = SHRINKING,
                .reason = "=paged out 64 MiB: usage 1.9 GiB above "
                          "threshold 1.5 GiB; step 64 MiB" },
              { .domid = 2, .presented = 8192, .resident = 4000,
                .usage = 4000, .target = 4000, .state = RUNNING }},
    },
    {
        /* Static 50% of 8192 is 4096: not above, the wish is usage. */
        .name = "the same thresholds, static",
        .free = 1000,
        .d = {{ .domid = 1,
                .pol = "threshold-high=50% threshold-low=40%",
                .presented = 8192, .resident = 2000, .usage = 1800,
                .target = 1936, .state = SHRINKING,
                .reason = "=paged out 64 MiB: usage 1.8 GiB, wants "
                          "1.8 GiB; step 64 MiB" },
              { .domid = 2, .presented = 8192, .resident = 4000,
                .usage = 4000, .target = 4000, .state = RUNNING }},
    },
    {
        /* Usage 10 below resident, less than 1/16 of it: the estimate's
         * noise, not worth a page-out. */
        .name = "deadband: less than 1/16 below resident",
        .free = 1000,
        .d = {{ .domid = 1, .presented = 8192, .resident = 2000,
                .usage = 1990, .target = 2000, .state = RUNNING,
                .reason = "=held at 2.0 GiB: usage 1.9 GiB, within 1/16 "
                          "of its RAM" }},
    },
    {
        /* A domain that faults keeps what it holds, however low its
         * usage (a guest waiting on faults touches less), and is granted
         * one interval's faults more. */
        .name = "faulting: keeps what it holds, and its faults more",
        .free = 1000,
        .d = {{ .domid = 1, .presented = 8192, .resident = 2000,
                .usage = 500, .faults = 10, .target = 2010,
                .state = GROWING,
                .reason = "=paged in up to 10 MiB: usage 500 MiB, faulted "
                          "10 MiB: wants 2.0 GiB" }},
    },
    {
        /* Faulted 3 s ago: still no page-out for lack of usage. */
        .name = "faulted recently: no page-out for lack of usage",
        .free = 1000,
        .d = {{ .domid = 1, .presented = 8192, .resident = 2000,
                .usage = 500, .fault_ago_s = 3, .target = 2000,
                .state = RUNNING,
                .reason = "=held at 2.0 GiB: usage 500 MiB, but it faulted "
                          "in the last 5 s" }},
    },
    {
        /* Faulted 6 s ago: paged out as usual. */
        .name = "faulted long ago: paged out",
        .free = 1000,
        .d = {{ .domid = 1, .presented = 8192, .resident = 2000,
                .usage = 500, .fault_ago_s = 6, .target = 1936,
                .state = SHRINKING,
                .reason = "=paged out 64 MiB: usage 500 MiB, wants "
                          "500 MiB; step 64 MiB" }},
    },
    {
        .name = "nothing measured yet: hold",
        .d = {{ .domid = 1, .presented = 4096, .resident = 3000,
                .usage = UNKNOWN, .fresh = true, .target = 3000,
                .state = RUNNING,
                .reason = "=held at 2.9 GiB: usage not measured yet" }},
    },
    {
        /* 3500 available.  Min-operating 256 each, then growth by
         * priority: 900 may reach 1000 + 512 + 900 = 2412; 832 are left
         * for the priority 100 one: 1088. */
        .name = "soakers grow into free RAM, higher priority first",
        .total = 4524,
        .d = {{ .domid = 1, .pol = "soaker=1 priority=900 rate=1000M",
                .presented = 8192, .resident = 1000, .target = 2412,
                .state = GROWING,
                .reason = "=paged in up to 1.4 GiB: free RAM, soaker "
                          "priority 900; bucket full" },
              { .domid = 2, .pol = "soaker=1 priority=100 rate=1000M",
                .presented = 8192, .resident = 1000, .target = 1088,
                .state = GROWING,
                .reason = "=paged in up to 88 MiB: free RAM, soaker "
                          "priority 100" }},
    },
    {
        /* Not a soaker any more: relaunched whatever the hysteresis,
         * with min-starting (512) to start from. */
        .name = "a hibernated soaker turned generic is relaunched at once",
        .d = {{ .domid = 1, .presented = 4096, .resident = 0,
                .usage = UNKNOWN, .was = HIBERNATED, .paused_ago_s = 10,
                .target = 512, .state = GROWING,
                .actions = PREFETCH | UNPAUSE,
                .reason = "=relaunched: not a soaker; prefetch to "
                          "512 MiB, then unpause" }},
    },
    {
        /* hibernate-now=1 on a generic domain: paused and, with the
         * default hibernate=store, paged fully out at once. */
        .name = "hibernate-now=1 hibernates a generic domain at once",
        .d = {{ .domid = 1, .pol = "hibernate-now=1", .presented = 4096,
                .resident = 1000, .usage = 1000, .target = 0,
                .state = HIBERNATED, .actions = PAUSE,
                .reason = "=hibernated (store) on request: "
                          "hibernate-now=1" }},
    },
    {
        /* Held: a soaker that could relaunch long ago (7168 free, the
         * hysteresis long past) stays hibernated while the key is 1,
         * and asks for no RAM, so there is no contention. */
        .name = "hibernate-now=1 holds a hibernated soaker",
        .contention = NO,
        .d = {{ .domid = 1, .pol = "soaker=1 hibernate-now=1 "
                "hibernate=pause", .presented = 4096, .resident = 100,
                .was = HIBERNATED, .paused_ago_s = 600, .target = 100,
                .state = HIBERNATED,
                .reason = "=hibernated (pause) on request: hibernate-now=1; "
                          "keeps 100 MiB in RAM" }},
    },
    {
        /* A pin wins over a hibernation asked for. */
        .name = "pin=1 wins over hibernate-now=1",
        .d = {{ .domid = 1, .pol = "pin=1 hibernate-now=1",
                .presented = 1024, .resident = 1024, .usage = 10,
                .target = 1024, .state = PINNED }},
    },
    {
        /* hibernate-now back to 0 on a soaker paused by request 10 s
         * ago: it paused itself by request, which sets no hysteresis
         * (paused_ever stays as the engine left it: never). */
        .name = "hibernate-now=0: a soaker held by request relaunches",
        .d = {{ .domid = 1, .pol = "soaker=1", .presented = 4096,
                .resident = 0, .was = HIBERNATED, .target = 640,
                .state = GROWING, .actions = PREFETCH | UNPAUSE,
                .reason = "=relaunched: min-starting 512 MiB free; "
                          "prefetch to 640 MiB, then unpause" }},
    },
    {
        /* Contention from a faulting domain (rate 1000M: it may gain
         * 512 + 500 = 1012 this interval, 1012 + 9 x 500 = 5512 over
         * the claim's 10 s).  It faulted 100 MiB last interval, so it
         * claims 10 s of that, 1000 MiB, kept from soakers; its
         * projection (100) comes out of the claim, 900 stay free.
         * 7168 - 4000 = 3168: min-operating 256 each (2656 left), the
         * claim (1656 left), then growth, highest priority first: the
         * priority 900 soaker keeps its 1912, nothing is left for the
         * priority 100 one, which goes from 1256 to its minimum in this
         * one decision.  (By projection alone it would keep 1156 and
         * lose its RAM 100 MiB a decision.) */
        .name = "a faulting domain's claim takes soakers to their minimum "
                "at once, lowest priority first",
        .contention = NO,
        .d = {{ .domid = 1, .pol = "rate=1000M", .presented = 8192,
                .resident = 4000, .usage = 3000, .faults = 100,
                .target = 4100, .state = GROWING,
                .reason = "; 900 MiB more kept free of soakers for its "
                          "faults" },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 1912, .resident = 1912, .target = 1912,
                .state = RUNNING },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 1256, .target = 256,
                .state = SHRINKING,
                .reason = "=paged out 1000 MiB: RAM needed by others: "
                          "soakers give way first (priority 100)" }},
    },
    {
        /* The same with a small bucket, rate 100M and burst 100M: 50
         * MiB a second at priority 500.  By the next decision the
         * domain may gain 100 + 50 = 150, its projection cut to that;
         * over the claim's 10 s, 100 + 10 x 50 = 600, so it claims no
         * more than that (not 2000), of which 450 stay free after the
         * projection.  The claim never outruns the bucket, and the
         * domain's own target stays within its allowance.  The priority
         * 100 soaker keeps 3168 - 512 - 600 - 1656 = 400 above its
         * minimum. */
        .name = "a claim is bounded by the bucket",
        .d = {{ .domid = 1, .pol = "rate=100M burst=100M",
                .presented = 8192, .resident = 4000, .usage = 3000,
                .faults = 200, .target = 4150, .state = GROWING,
                .reason = "=paged in up to 150 MiB: usage 2.9 GiB, faulted "
                          "200 MiB: wants 4.1 GiB; 450 MiB more kept free "
                          "of soakers for its faults; bucket full" },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 1912, .resident = 1912, .target = 1912,
                .state = RUNNING },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 1256, .target = 656,
                .state = SHRINKING }},
    },
    {
        /* No fault this interval, the last 2 s ago: the claim of 1000
         * decays by 1/8 a second, to 875, and soakers do not grow back
         * into it: 2656 - 875 - 1656 = 125 above the minimum. */
        .name = "a claim outlasts a quiet interval: soakers stay out",
        .d = {{ .domid = 1, .pol = "rate=1000M", .presented = 8192,
                .resident = 4000, .usage = 3000, .fault_ago_s = 2,
                .claim = 1000, .target = 4000, .state = RUNNING,
                .reason = "; 875 MiB more kept free of soakers for its "
                          "faults" },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 1912, .resident = 1912, .target = 1912,
                .state = RUNNING },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 256, .target = 381,
                .state = GROWING }},
    },
    {
        /* 6 s after the last fault the claim lapses: the domain is paged
         * out a step (its usage is 3000), and the soaker grows into
         * what is free: 7168 - 3936 - 512 - 1656 = 1064 above its
         * minimum, of which its bucket allows 512 + 100 = 612 now. */
        .name = "a claim lapses with the fault hold",
        .d = {{ .domid = 1, .pol = "rate=1000M", .presented = 8192,
                .resident = 4000, .usage = 3000, .fault_ago_s = 6,
                .claim = 1000, .target = 3936, .state = SHRINKING,
                .reason = "=paged out 64 MiB: usage 2.9 GiB, wants "
                          "2.9 GiB; step 64 MiB" },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 1912, .resident = 1912, .target = 1912,
                .state = RUNNING },
              { .domid = 3, .pol = "soaker=1 priority=100 rate=1000M",
                .presented = 8192, .resident = 256, .target = 868,
                .state = GROWING, .reason = "bucket full" }},
    },
    {
        /* A claim is a guess: it takes soakers' growth, never their
         * minimum.  7168 - 6000 = 1168: 256 each (656 left), the claim
         * of 500 (50 of it the projection), 156 for growth.  Nobody is
         * hibernated, and there is no contention.  (Were claims served
         * before soakers' minimums, a domain growing fast towards a
         * known working set would claim seconds of growth beyond it and
         * hibernate soakers that the end state has room for:
         * t_sim_soakers would lose its priority 900 soaker.)  And lowest
         * priority first in time too: the priority 900 soaker's share
         * (584 - 412 = 172) waits, out of the room the claim keeps free,
         * while the priority 100 one is still more than a step (64)
         * above its target. */
        .name = "a claim never hibernates a soaker, and takes from the "
                "lowest priority first",
        .contention = NO,
        .d = {{ .domid = 1, .pol = "rate=1000M", .presented = 8192,
                .resident = 6000, .usage = 6000, .faults = 50,
                .target = 6050, .state = GROWING,
                .reason = "; 450 MiB more kept free of soakers for its "
                          "faults" },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 8192, .resident = 584, .target = 584,
                .state = RUNNING,
                .reason = "=held at 584 MiB: soaker priority 900, gives way "
                          "once lower priorities have" },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 584, .target = 256,
                .state = SHRINKING }},
    },
    {
        /* The next decision, the domain still faulting 50 MiB a
         * second: the priority 100 soaker is at its target, so the
         * priority 900 one gives its share now.  7168 - 6050 - 512 -
         * 500 = 106 above its minimum. */
        .name = "a higher priority soaker gives once lower ones have",
        .d = {{ .domid = 1, .pol = "rate=1000M", .presented = 8192,
                .resident = 6050, .usage = 6050, .faults = 50,
                .claim = 500, .target = 6100, .state = GROWING },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 8192, .resident = 584, .target = 362,
                .state = SHRINKING,
                .reason = "=paged out 222 MiB: RAM needed by others: "
                          "soakers give way first (priority 900)" },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 256, .target = 256,
                .state = RUNNING }},
    },
    {
        /* A projection that finds no RAM: both soakers are at their
         * minimum (256 each), 7168 - 6650 - 512 = 6 MiB are left of the
         * 100 it faulted.  It gets those 6, is marked starved, and no
         * soaker is hibernated: it grew last interval (from 6550), so
         * its projection may be growth beyond its working set. */
        .name = "a projection without RAM starves, and hibernates nobody",
        .contention = NO,
        .d = {{ .domid = 1, .pol = "rate=1000M", .presented = 8192,
                .resident = 6650, .prev_resident = 6550, .usage = 6650,
                .faults = 100, .fault_ago_s = 1, .target = 6656,
                .state = GROWING, .exp_starved = YES },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 8192, .resident = 256, .target = 256,
                .state = RUNNING },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 256, .target = 256,
                .state = RUNNING }},
    },
    {
        /* The next decision: still faulting 100 MiB, but with nothing
         * gained (the pager evicted what it paged in), while its usage
         * shows no more than it holds.  It thrashes: its projection joins
         * its wish, 6750, and 7168 - 6750 = 418 hold one minimum of 256,
         * not two: the priority 100 soaker is hibernated.  What is left,
         * 162, is kept free for its faults. */
        .name = "a starved domain that gains nothing costs a soaker its "
                "minimum",
        .contention = YES,
        .d = {{ .domid = 1, .pol = "rate=1000M", .presented = 8192,
                .resident = 6650, .usage = 6650, .faults = 100,
                .fault_ago_s = 1, .starved = true, .target = 6750,
                .state = GROWING, .exp_starved = NO,
                .reason = "=paged in up to 100 MiB: faulted 100 MiB with no "
                          "RAM left to grow into, none of it kept: wants "
                          "6.6 GiB; 162 MiB more kept free of soakers for "
                          "its faults" },
              { .domid = 2, .pol = "soaker=1 priority=900",
                .presented = 8192, .resident = 256, .target = 256,
                .state = RUNNING },
              { .domid = 3, .pol = "soaker=1 priority=100",
                .presented = 8192, .resident = 256, .target = 0,
                .state = HIBERNATED, .actions = PAUSE }},
    },
    {
        /* Input order must not matter: domids 9 and 3 with equal
         * priority and equal wishes split 7168 equally. */
        .name = "ties are broken by domid, not by order",
        .contention = YES,
        .d = {{ .domid = 9, .presented = 8192, .resident = 4000,
                .usage = 4000, .target = 3584, .state = SHRINKING },
              { .domid = 3, .presented = 8192, .resident = 4000,
                .usage = 4000, .target = 3584, .state = SHRINKING }},
    },
};

static unsigned row_ndoms(const struct row *r)
{
    unsigned n = 0;

    while (n < 4 && r->d[n].domid)
        n++;
    return n;
}

START_TEST(t_rows)
{
    const struct row *r = &rows[_i];
    unsigned n = row_ndoms(r), i;
    xenshape__hostpolicy hp;
    xenshape__dompolicy pol[4];
    xenshape__shape_dom d[4];
    xenshape__shape_out o[4];
    xenshape__shape_summary s;
    xenshape__shape_host h;
    char spec[256];
    uint64_t held = 0;
    int rc;

    snprintf(spec, sizeof(spec), "shrink-rate=64M headroom=0%% %s",
             r->host ? r->host : "");
    host_policy(&hp, spec);
    memset(d, 0, sizeof(d));
    for (i = 0; i < n; i++) {
        const struct rdom *x = &r->d[i];

        dom_policy(&pol[i], x->pol);
        d[i].domid = x->domid;
        d[i].paging = !x->nopaging;
        d[i].presented = x->presented * MiB;
        d[i].resident = x->resident * MiB;
        d[i].paged = (x->presented - x->resident) * MiB;
        d[i].usage = x->usage == UNKNOWN ? XENSHAPE__SHAPE_USAGE_UNKNOWN
                                         : x->usage * MiB;
        d[i].faults = d[i].loaded = x->faults * MiB;
        d[i].pol = &pol[i];
        if (!x->fresh) {
            d[i].memo.valid = true;
            d[i].memo.state = x->was;
            d[i].memo.over = x->over;
            d[i].memo.relaunching = x->relaunching;
            d[i].memo.paused_ever = x->paused_ago_s != 0;
            d[i].memo.faulted = x->fault_ago_s != 0;
            d[i].memo.last_fault_ms = NOW_MS - x->fault_ago_s * 1000u;
            d[i].memo.last_pause_ms = NOW_MS - x->paused_ago_s * 1000u;
            d[i].memo.bucket = x->bucket * MiB;
            d[i].memo.prev_resident = (x->prev_resident ? x->prev_resident
                                       : x->resident) * MiB;
            d[i].memo.target = x->resident * MiB;
            d[i].memo.claim = x->claim * MiB;
            d[i].memo.starved = x->starved;
        }
        held += d[i].resident;
    }
    h.total_frames = (r->total ? r->total : 8192) * MiB;
    h.pol = &hp;
    h.free_frames = r->free ? r->free * MiB
                  : available(&h) > held ? available(&h) - held : 0;
    h.now_ms = NOW_MS;
    h.interval_ms = 1000;

    rc = xenshape__shape_decide(&h, d, n, o, &s);
    ck_assert_int_eq(rc, 0);
    for (i = 0; i < n; i++) {
        const struct rdom *x = &r->d[i];

        ck_assert_msg(o[i].target == x->target * MiB,
                      "%s: dom %u target %.2f MiB, expected %u (%s)",
                      r->name, x->domid, (double)o[i].target / MiB,
                      x->target, o[i].reason);
        ck_assert_msg(o[i].state == x->state, "%s: dom %u state %s (%s)",
                      r->name, x->domid,
                      xenshape__shape_state_name(o[i].state), o[i].reason);
        ck_assert_msg(o[i].actions == x->actions,
                      "%s: dom %u actions %#x, expected %#x", r->name,
                      x->domid, o[i].actions, x->actions);
        if (x->reason && x->reason[0] == '=')
            ck_assert_msg(!strcmp(o[i].reason, x->reason + 1),
                          "%s: dom %u reason \"%s\"\n expected \"%s\"",
                          r->name, x->domid, o[i].reason, x->reason + 1);
        else if (x->reason)
            ck_assert_msg(strstr(o[i].reason, x->reason),
                          "%s: dom %u reason \"%s\" lacks \"%s\"", r->name,
                          x->domid, o[i].reason, x->reason);
        if (x->check_bucket)
            ck_assert_uint_eq(o[i].memo.bucket, x->exp_bucket * MiB);
        if (x->exp_starved)
            ck_assert_msg(o[i].memo.starved == (x->exp_starved == YES),
                          "%s: dom %u starved %d", r->name, x->domid,
                          o[i].memo.starved);
        /* A decision that differs from the last one is flagged. */
        ck_assert_int_eq(o[i].changed,
                         x->fresh || o[i].target != d[i].memo.target ||
                         o[i].state != d[i].memo.state || o[i].actions);
    }
    if (r->contention)
        ck_assert_int_eq(s.contention, r->contention == YES);
    check_invariants(&h, d, n, o, &s);
}
END_TEST

/* ---- simulation ----------------------------------------------------- */

#define SIM_MAX_VMS 4
#define SIM_MAX_STEPS 1200

struct simvm {
    uint32_t domid;
    xenshape__dompolicy pol;
    uint64_t presented, resident;        /* frames */
    /* The guest's true working set in MiB at second t; NULL: it uses all
     * it is given (a soaker's batch work). */
    unsigned (*wss)(unsigned t);
    /* MiB it can fault in per interval, 0: no limit.  A limited guest
     * faults at that pace whatever its target (at its target the pager
     * evicts its own frames for each fault), and its usage is what the
     * n2rwx estimate sees of a guest waiting on page-ins: what it holds
     * (all touched) and the frames it faulted in that were evicted
     * again, not the rest of its working set.  An unlimited guest takes
     * at once what its target allows, and its usage is its working
     * set. */
    unsigned pagein;
    /* The usage estimate does not count the frames it faulted in and
     * lost again: it shows at most what the guest holds.  (Log-dirty
     * observation sees writes only, so a guest reading back what it
     * lost shows no more than that.) */
    bool usage_held;
    uint64_t last_faults, last_evicted;
    bool paused;
    xenshape__shape_memo memo;
    uint64_t last_gain;
    /* History, for the checks over time. */
    bool ever_paused;
    uint64_t last_pause_ms, last_unpause_ms;
    unsigned pauses, unpauses;
    uint64_t gain[SIM_MAX_STEPS], leak[SIM_MAX_STEPS];
    unsigned window_start;               /* first step the bucket binds */
    uint64_t target;
};

struct sim {
    uint64_t total;
    xenshape__hostpolicy hp;
    struct simvm vm[SIM_MAX_VMS];
    unsigned n;
    uint64_t now_ms;
    unsigned step;
    xenshape__shape_dom d[SIM_MAX_VMS];
    xenshape__shape_out o[SIM_MAX_VMS];
    xenshape__shape_summary sum;
    xenshape__shape_host h;
};

static void sim_init(struct sim *s, unsigned total_mib, const char *host)
{
    memset(s, 0, sizeof(*s));
    s->total = total_mib * MiB;
    host_policy(&s->hp, host);
    s->now_ms = NOW_MS;
}

static struct simvm *sim_add(struct sim *s, uint32_t domid, const char *pol,
                             unsigned presented_mib, unsigned resident_mib,
                             unsigned (*wss)(unsigned))
{
    struct simvm *v = &s->vm[s->n++];

    v->domid = domid;
    dom_policy(&v->pol, pol);
    v->presented = presented_mib * MiB;
    v->resident = resident_mib * MiB;
    v->wss = wss;
    return v;
}

static uint64_t wss_frames(const struct simvm *v, unsigned t)
{
    uint64_t w = v->wss ? v->wss(t) * MiB : v->presented;

    return w < v->presented ? w : v->presented;
}

/* One interval: snapshot, decide, check, then the guests follow: the
 * pager evicts down to the target, prefetches when told, and a running
 * guest faults in what it touches (a soaker: all it may have). */
static void sim_step(struct sim *s)
{
    uint64_t held = 0, a;
    unsigned i, t = s->step, j;
    int rc;

    ck_assert_uint_lt(t, SIM_MAX_STEPS);
    s->h.total_frames = s->total;
    s->h.pol = &s->hp;
    s->h.now_ms = s->now_ms;
    s->h.interval_ms = 1000;
    a = available(&s->h);
    for (i = 0; i < s->n; i++) {
        struct simvm *v = &s->vm[i];
        xenshape__shape_dom *d = &s->d[i];

        memset(d, 0, sizeof(*d));
        d->domid = v->domid;
        d->paging = true;
        d->presented = v->presented;
        d->resident = v->resident;
        d->paged = v->presented - v->resident;
        d->usage = v->paused ? 0 : wss_frames(v, t);
        d->faults = d->loaded = v->last_gain;
        if (v->pagein) {
            if (d->usage > v->resident + v->last_evicted)
                d->usage = v->resident + v->last_evicted;
            d->faults = d->loaded = v->last_faults;
        }
        if (v->usage_held && d->usage > v->resident)
            d->usage = v->resident;
        d->pol = &v->pol;
        d->memo = v->memo;
        held += v->resident;
    }
    s->h.free_frames = a > held ? a - held : 0;
    rc = xenshape__shape_decide(&s->h, s->d, s->n, s->o, &s->sum);
    ck_assert_int_eq(rc, 0);
    if (getenv("XENSHAPE_TEST_VERBOSE"))
        for (i = 0; i < s->n; i++)
            fprintf(stderr, "t=%3u dom %u res %5" PRIu64 " -> %5" PRIu64
                    " MiB %-10s %s\n", t, s->d[i].domid,
                    s->d[i].resident / MiB, s->o[i].target / MiB,
                    xenshape__shape_state_name(s->o[i].state),
                    s->o[i].reason);
    check_invariants(&s->h, s->d, s->n, s->o, &s->sum);

    for (i = 0; i < s->n; i++) {
        struct simvm *v = &s->vm[i];
        const xenshape__shape_out *o = &s->o[i];
        uint64_t before = v->resident, hold = s->hp.hysteresis_s * 1000ull;
        uint64_t sum_gain = 0, sum_leak = 0;

        if (o->actions & XENSHAPE__SHAPE_PAUSE) {
            ck_assert(!v->paused);
            /* Pauses of one soaker at least a period apart. */
            if (v->ever_paused)
                ck_assert_uint_ge(s->now_ms - v->last_pause_ms, hold);
            v->paused = true;
            v->ever_paused = true;
            v->last_pause_ms = s->now_ms;
            v->pauses++;
        }
        if (o->actions & XENSHAPE__SHAPE_PREFETCH)
            v->resident = v->resident > o->target ? v->resident
                        : o->target < v->presented ? o->target : v->presented;
        if (o->actions & XENSHAPE__SHAPE_UNPAUSE) {
            ck_assert(v->paused);
            /* The hysteresis: a resume only a period after the pause, so
             * one pause/resume cycle per period at most.  A pin or a
             * switch to generic overrides it by design; no scenario here
             * does that while paused. */
            ck_assert_msg(s->now_ms - v->last_pause_ms >= hold,
                          "dom %u resumed %" PRIu64 " ms after its pause",
                          v->domid, s->now_ms - v->last_pause_ms);
            v->paused = false;
            v->last_unpause_ms = s->now_ms;
            v->unpauses++;
        }
        if (v->resident > o->target)
            v->resident = o->target;
        if (v->pagein) {
            uint64_t w = v->paused ? 0 : wss_frames(v, t), f = 0;

            if (w > v->resident)
                f = w - v->resident < v->pagein * MiB ? w - v->resident
                                                      : v->pagein * MiB;
            v->last_faults = f;
            v->last_evicted = 0;
            if (v->resident + f > o->target && o->target >= v->resident) {
                v->last_evicted = v->resident + f - o->target;
                v->resident = o->target;
            } else {
                v->resident += f;
            }
        } else if (!v->paused && o->target > v->resident) {
            uint64_t w = v->wss ? wss_frames(v, t) : o->target;

            if (w > v->resident)
                v->resident = w < o->target ? w : o->target;
        }
        v->last_gain = v->resident > before ? v->resident - before : 0;
        v->gain[t] = v->last_gain;
        v->leak[t] = leak(&v->pol, 1000);
        v->memo = o->memo;
        v->target = o->target;
        /* The leaky bucket over every window since the bucket last bound
         * this domain (a pin exempts it): gains <= burst + leaks. */
        if (o->state == XENSHAPE__SHAPE_PINNED) {
            v->window_start = t + 1;
            continue;
        }
        for (j = t + 1; j-- > v->window_start;) {
            sum_gain += v->gain[j];
            sum_leak += v->leak[j];
            ck_assert_msg(sum_gain <= burst(&v->pol) + sum_leak,
                          "dom %u gained %" PRIu64 " in steps %u..%u",
                          v->domid, sum_gain, j, t);
        }
    }
    s->now_ms += 1000;
    s->step++;
}

/* A generic domain's paced wish, computed here from what the engine
 * reports (the bucket fill after accounting, in the memo), for domains
 * without thresholds and with headroom 0%. */
static uint64_t generic_want(const struct sim *s, unsigned i)
{
    const struct simvm *v = &s->vm[i];
    const xenshape__shape_dom *d = &s->d[i];
    uint64_t step = s->hp.shrink_rate.pct
                  ? v->presented * s->hp.shrink_rate.v / 100
                  : s->hp.shrink_rate.v / 4;
    uint64_t allow = burst(&v->pol) - s->o[i].memo.bucket +
                     leak(&v->pol, 1000);

    uint64_t need = d->usage;

    /* Faulting: all it holds and its faults more. */
    if (d->faults)
        need = (need > d->resident ? need : d->resident) + d->faults;
    if (need < d->resident)
        return need > d->resident - step ? need : d->resident - step;
    return need < d->resident + allow ? need : d->resident + allow;
}

static uint64_t soaker_want(const struct sim *s, unsigned i)
{
    const struct simvm *v = &s->vm[i];
    uint64_t allow = burst(&v->pol) - s->o[i].memo.bucket +
                     leak(&v->pol, 1000);
    uint64_t hi = s->d[i].resident + allow;

    return hi < v->presented ? hi : v->presented;
}

/* ---- scenario: freed RAM flows to the domain that needs it ----------- */

static unsigned wss_6000(unsigned t) { return 6000; }
static unsigned wss_4000(unsigned t) { return 4000; }

/*
 * 8192 MiB available.  VM 1 needs 6000, VM 2 uses 4000: together more
 * than there is, so they share by priority (equal): VM 2's 4000 is within
 * its half and met, VM 1 gets the other 4192.  At t = 20 s cloud control
 * caps VM 2 with threshold-high 2G: it is paged out 64 MiB per second,
 * never a cliff, and every MiB it frees goes to VM 1, until VM 1 has its
 * 6000 and VM 2 sits at 2048.
 */
START_TEST(t_sim_freed_ram)
{
    static struct sim s;
    struct simvm *v1, *v2;
    uint64_t a, prev2 = 0, prev1 = 0;
    unsigned t, steps_down = 0;

    sim_init(&s, 9216, "shrink-rate=64M headroom=0%");
    v1 = sim_add(&s, 1, "rate=1000M", 8192, 1000, wss_6000);
    v2 = sim_add(&s, 2, "rate=1000M", 8192, 1000, wss_4000);
    for (t = 0; t < 20; t++)
        sim_step(&s);
    a = available(&s.h);
    ck_assert_uint_eq(v2->target, 4000 * MiB);
    ck_assert_uint_eq(v1->target, a - 4000 * MiB);

    dom_policy(&v2->pol, "rate=1000M threshold-high=2G threshold-low=1G");
    prev1 = v1->resident;
    prev2 = v2->target;
    for (t = 20; t < 90; t++) {
        sim_step(&s);
        /* Progressive: at most one step of 64 MiB, never up. */
        ck_assert_uint_le(v2->target, prev2);
        ck_assert_uint_le(prev2 - v2->target, 64 * MiB);
        if (v2->target < prev2)
            steps_down++;
        /* What VM 2 frees, VM 1 gets, while it still needs more. */
        if (v1->target < 6000 * MiB)
            ck_assert_uint_eq(v1->target + v2->target, a);
        /* Its target may step back once: the interval after it stops
         * faulting, its projection goes (see wish()); what it holds
         * only grows. */
        ck_assert_uint_ge(v1->resident, prev1);
        prev1 = v1->resident;
        prev2 = v2->target;
    }
    /* From 4000 to 2048 in steps of 64: 31 intervals, not one. */
    ck_assert_uint_eq(steps_down, (4000 - 2048 + 63) / 64);
    ck_assert_uint_eq(v2->target, 2048 * MiB);
    ck_assert_uint_eq(v1->target, 6000 * MiB);
    ck_assert_uint_eq(v1->resident, 6000 * MiB);
}
END_TEST

/* ---- scenario: contention, soakers, hibernation, relaunch ------------ */

/* The generic domain: light, then heavy (7500 of 8192) from 30 s to
 * 100 s, then light again. */
static unsigned wss_phases(unsigned t)
{
    return t >= 30 && t < 100 ? 7500 : 2000;
}

/* Checks that hold every interval of a scenario with generic domains
 * (no thresholds, headroom 0%) and soakers of equal min-operating: */
static void check_soaker_order(const struct sim *s)
{
    unsigned i, j;
    bool soaker_extra = false;

    for (i = 0; i < s->n; i++) {
        const struct simvm *v = &s->vm[i];

        if (v->pol.soaker && s->o[i].state != XENSHAPE__SHAPE_HIBERNATED &&
            s->o[i].target > v->pol.min_operating_kib / 4)
            soaker_extra = true;
    }
    for (i = 0; i < s->n; i++) {
        const struct simvm *v = &s->vm[i];

        /* Soakers give way first: while a soaker holds more than its
         * minimum, every generic domain has its full (paced) wish. */
        /* (Or held where it is: it faulted lately, or its usage is
         * within 1/16 below.) */
        if (!v->pol.soaker && !v->pol.pin && soaker_extra)
            ck_assert_msg(s->o[i].target == generic_want(s, i) ||
                          (generic_want(s, i) < s->d[i].resident &&
                           s->o[i].target == s->d[i].resident),
                          "generic %u short (%s) while a soaker has extra",
                          v->domid, s->o[i].reason);
        if (!v->pol.soaker)
            continue;
        for (j = 0; j < s->n; j++) {
            const struct simvm *w = &s->vm[j];

            if (!w->pol.soaker || w->pol.priority >= v->pol.priority)
                continue;
            /* Lowest priority first: a lower-priority soaker holds more
             * than its minimum (or, in the interval it is relaunched,
             * more than the min-starting it was relaunched with) only if
             * this one has its full wish... */
            uint64_t floor_j = w->pol.min_operating_kib / 4;

            if (s->o[j].actions & XENSHAPE__SHAPE_UNPAUSE)
                floor_j = w->pol.min_starting_kib / 4;
            if (s->o[j].state != XENSHAPE__SHAPE_HIBERNATED &&
                s->o[j].target > floor_j &&
                s->o[i].state != XENSHAPE__SHAPE_HIBERNATED)
                ck_assert_msg(s->o[i].target == soaker_want(s, i),
                              "soaker %u short while %u has extra",
                              v->domid, w->domid);
            /* ... and this one is hibernated only with the lower one. */
            if (s->o[i].actions & XENSHAPE__SHAPE_PAUSE)
                ck_assert_msg(s->o[j].state == XENSHAPE__SHAPE_HIBERNATED,
                              "soaker %u paused before lower %u", v->domid,
                              w->domid);
        }
    }
}

START_TEST(t_sim_soakers)
{
    static struct sim s;
    struct simvm *g, *hi, *lo;
    unsigned t, absorbed_at = 0;
    uint64_t a;

    sim_init(&s, 9216, "headroom=0%");
    g = sim_add(&s, 1, "rate=1000M", 8192, 2000, wss_phases);
    hi = sim_add(&s, 2, "soaker=1 priority=900 rate=1000M min-operating=512M "
                 "min-starting=1G", 8192, 512, NULL);
    lo = sim_add(&s, 3, "soaker=1 priority=100 rate=1000M min-operating=512M "
                 "min-starting=1G", 8192, 512, NULL);
    a = 8192 * MiB;

    for (t = 0; t < 240; t++) {
        sim_step(&s);
        check_soaker_order(&s);
        if (t == 29) {
            /* Without contention the soakers have grown into all free
             * RAM, the higher priority one first. */
            ck_assert_uint_eq(s.sum.assigned, a);
            ck_assert_uint_eq(g->target, 2000 * MiB);
            ck_assert_uint_gt(hi->target, lo->target);
        }
        if (t == 60) {
            /* Under contention: the generic domain has its 7500, the
             * priority 900 soaker the 692 left, the priority 100 one
             * was hibernated (store: nothing in RAM). */
            ck_assert_uint_eq(g->target, 7500 * MiB);
            ck_assert_uint_eq(hi->target, 692 * MiB);
            ck_assert_int_eq(s.o[2].state, XENSHAPE__SHAPE_HIBERNATED);
            ck_assert_uint_eq(lo->target, 0);
            ck_assert(lo->paused && !hi->paused);
            ck_assert(s.sum.contention);
        }
        if (t > 100 && !absorbed_at && !lo->paused &&
            s.sum.assigned == a)
            absorbed_at = t;
    }
    /* It was hibernated once and relaunched once, a period apart; at
     * the end the soakers again fill what the generic domain leaves. */
    ck_assert_uint_eq(lo->pauses, 1);
    ck_assert_uint_eq(lo->unpauses, 1);
    ck_assert_uint_eq(hi->pauses, 0);
    ck_assert_uint_ge(lo->last_unpause_ms - lo->last_pause_ms, 60000);
    ck_assert_uint_gt(absorbed_at, 0);
    ck_assert_uint_eq(s.sum.assigned, a);
    ck_assert_uint_eq(g->target, 2000 * MiB);
}
END_TEST

/* ---- scenario: soakers shrink ahead of a faulting domain ------------ */

/* Light, then from 20 s a working set of 5000 of 8192. */
static unsigned wss_jump(unsigned t)
{
    return t < 20 ? 1000 : 5000;
}

/*
 * 8192 MiB available.  A generic domain whose working set jumps from
 * 1000 to 5000 at t = 20 but can fault in only 400 MiB a second, and
 * whose usage shows only what it holds (as a guest waiting on page-ins):
 * the engine learns of the demand from its faults alone.  Beside it,
 * soakers of priority 900 (4200 presented) and 100 with min-operating
 * 2 GiB, which have filled the rest: 4200 and 2992.
 *
 * The decision at t = 20 sees no fault yet; the one at t = 21 sees 400
 * MiB (and a usage of 1400: the 400 it faulted in and evicted again), a
 * claim of 10 s of it, 4000, within what its bucket allows over 10 s
 * (rate 1000M at priority 500: 1012 + 9 x 500).  That takes both
 * soakers to their minimum at once, the priority 100 one first; by
 * projection alone it would have lost 400 MiB a decision, three
 * decisions to its minimum.  Then, as the domain grows, the priority
 * 100 soaker is hibernated when its minimum no longer fits beside the
 * domain's wish, never because of a claim; and once the domain stops
 * faulting, the priority 900 one grows back, steadily, without falling
 * again: no soaker oscillates.
 */
START_TEST(t_sim_claim)
{
    static struct sim s;
    struct simvm *g, *hi, *lo;
    uint64_t prev_hi = 0, prev_lo = 0;
    unsigned t;
    bool hi_rose = false;

    sim_init(&s, 9216, "headroom=0%");
    g = sim_add(&s, 1, "rate=1000M", 8192, 1000, wss_jump);
    g->pagein = 400;
    hi = sim_add(&s, 2, "soaker=1 priority=900 rate=1000M min-operating=2G "
                 "min-starting=2560M", 4200, 2048, NULL);
    lo = sim_add(&s, 3, "soaker=1 priority=100 rate=1000M min-operating=2G "
                 "min-starting=2560M", 8192, 2048, NULL);
    for (t = 0; t < 80; t++) {
        sim_step(&s);
        check_soaker_order(&s);
        if (t == 19) {
            ck_assert_uint_eq(g->target, 1000 * MiB);
            ck_assert_uint_eq(hi->target, 4200 * MiB);
            ck_assert_uint_eq(lo->target, 2992 * MiB);
        }
        if (t == 20)
            ck_assert_uint_eq(lo->target, 2992 * MiB);
        if (t == 21) {
            /* One decision after the first fault: the lowest priority
             * soaker is at its minimum; the domain got its projection
             * and no more (its bucket binds its target, not the room
             * kept for it). */
            ck_assert_uint_eq(lo->target, 2048 * MiB);
            ck_assert_uint_eq(hi->target, 4200 * MiB);
            ck_assert_uint_eq(g->target, 1800 * MiB);
            ck_assert(!lo->paused);
        }
        if (t > 21 && !lo->paused)
            /* At its minimum it stays there while the domain grows. */
            ck_assert_uint_eq(lo->target, 2048 * MiB);
        if (t > 21) {
            /* The priority 900 soaker only shrinks while the domain
             * faults, then only grows: once up, never down again. */
            if (hi->target > prev_hi)
                hi_rose = true;
            else if (hi_rose)
                ck_assert_uint_ge(hi->target, prev_hi);
        }
        prev_hi = hi->target;
        prev_lo = lo->target;
    }
    (void)prev_lo;
    ck_assert_uint_eq(lo->pauses, 1);
    ck_assert(lo->paused);
    ck_assert_uint_eq(hi->pauses, 0);
    ck_assert(hi_rose);
    ck_assert_uint_eq(g->resident, 5000 * MiB);
    ck_assert_uint_eq(g->target, 5000 * MiB);
    ck_assert_uint_eq(hi->target, 8192 * MiB - 5000 * MiB);
}
END_TEST

/*
 * The same host and jump, but the domain's usage shows only what it
 * holds, not the frames it faulted in and lost again: it never asks for
 * more than it has, and the engine learns of its need from its faults
 * alone.  Claims and projections take both
 * soakers to their minimum, and then the domain can grow no further
 * (8192 - 2 x 2048 = 4096 of its 5000), faulting 400 MiB a second that
 * the pager evicts again.  Two decisions later (one to see its
 * projection find no RAM, one to see it gain nothing since), its
 * projection joins its wish and the priority 100 soaker is hibernated;
 * the domain then reaches its working set and stops faulting.  Without
 * that, it thrashes at 4096 for good.
 */
START_TEST(t_sim_thrash)
{
    static struct sim s;
    struct simvm *g, *hi, *lo;
    unsigned t, stuck = 0, first_pause = 0;

    sim_init(&s, 9216, "headroom=0%");
    g = sim_add(&s, 1, "rate=1000M", 8192, 1000, wss_jump);
    g->pagein = 400;
    g->usage_held = true;
    hi = sim_add(&s, 2, "soaker=1 priority=900 rate=1000M min-operating=2G "
                 "min-starting=2560M", 4200, 2048, NULL);
    lo = sim_add(&s, 3, "soaker=1 priority=100 rate=1000M min-operating=2G "
                 "min-starting=2560M", 8192, 2048, NULL);
    for (t = 0; t < 60; t++) {
        sim_step(&s);
        check_soaker_order(&s);
        if (g->resident == 4096 * MiB && g->last_faults)
            stuck++;
        if (lo->pauses && !first_pause)
            first_pause = t;
    }
    /* Stuck beside both soakers at their minimum for two decisions, not
     * more, then the lowest priority soaker gives its minimum. */
    ck_assert_uint_le(stuck, 2);
    ck_assert_uint_eq(lo->pauses, 1);
    ck_assert(lo->paused);
    ck_assert_uint_eq(hi->pauses, 0);
    ck_assert_uint_gt(first_pause, 20);
    ck_assert_uint_eq(g->resident, 5000 * MiB);
    ck_assert_uint_eq(g->last_faults, 0);
    ck_assert_uint_eq(hi->target, 8192 * MiB - 5000 * MiB);
}
END_TEST

/* ---- scenario: flapping pressure, hysteresis ------------------------ */

/* Heavy and light every 5 s. */
static unsigned wss_flap(unsigned t)
{
    return (t / 5) % 2 ? 1000 : 7900;
}

START_TEST(t_sim_hysteresis)
{
    static struct sim s;
    struct simvm *sk;
    unsigned t;

    sim_init(&s, 9216, "headroom=0%");
    sim_add(&s, 1, "rate=4G burst=4G", 8192, 1000, wss_flap);
    sk = sim_add(&s, 2, "soaker=1 rate=4G min-operating=512M "
                 "min-starting=1G", 8192, 512, NULL);
    for (t = 0; t < 600; t++)
        sim_step(&s);
    /* The pressure flips 120 times in 600 s; the soaker is paused and
     * resumed, but (sim_step checks each one) never within 60 s of its
     * last pause: at most 10 cycles.  At least two happened, or this
     * scenario proved nothing. */
    ck_assert_uint_ge(sk->pauses, 2);
    ck_assert_uint_le(sk->pauses, 600 / 60);
    ck_assert_uint_le(sk->unpauses, sk->pauses);
}
END_TEST

/* ---- scenario: pins ------------------------------------------------- */

static unsigned wss_500(unsigned t) { return 500; }
static unsigned wss_grow(unsigned t) { return t < 10 ? 1000 : 8000; }

START_TEST(t_sim_pin)
{
    static struct sim s;
    struct simvm *p, *g;
    unsigned t;

    sim_init(&s, 9216, "headroom=0%");
    p = sim_add(&s, 1, "pin=1", 2048, 100, wss_500);
    g = sim_add(&s, 2, NULL, 8192, 1000, wss_grow);
    sim_add(&s, 3, "soaker=1", 8192, 256, NULL);
    for (t = 0; t < 50; t++) {
        sim_step(&s);
        /* Exempt and fully in: its target is its memory, whatever its
         * usage (500) and whoever else needs RAM. */
        ck_assert_int_eq(s.o[0].state, XENSHAPE__SHAPE_PINNED);
        ck_assert_uint_eq(p->target, 2048 * MiB);
        ck_assert_uint_eq(p->resident, 2048 * MiB);
        ck_assert_uint_le(g->target, 8192 * MiB - 2048 * MiB);
    }
    ck_assert_uint_eq(g->target, 6144 * MiB);
    /* Unpinned, it is shaped like any other: its idle memory goes, one
     * step at a time (5% of 2048 per second). */
    dom_policy(&p->pol, NULL);
    sim_step(&s);
    ck_assert_int_eq(s.o[0].state, XENSHAPE__SHAPE_SHRINKING);
    ck_assert_uint_eq(p->target, 2048 * MiB - 2048 * MiB * 5 / 100);
    for (t = 0; t < 60; t++)
        sim_step(&s);
    /* Down to its usage, or within 1/16 of it: the deadband. */
    ck_assert_uint_ge(p->target, 500 * MiB);
    ck_assert_uint_le(p->target, 500 * MiB * 16 / 15);
}
END_TEST

/* ---- scenario: a domain switches between generic and soaker --------- */

static unsigned wss_3000(unsigned t) { return 3000; }
static unsigned wss_late(unsigned t) { return t < 20 ? 1000 : 6000; }

START_TEST(t_sim_switch)
{
    static struct sim s;
    struct simvm *x, *g;
    unsigned t;

    sim_init(&s, 9216, "headroom=0%");
    x = sim_add(&s, 1, "rate=1000M", 8192, 1000, wss_3000);
    g = sim_add(&s, 2, "rate=1000M", 8192, 1000, wss_late);
    for (t = 0; t < 10; t++)
        sim_step(&s);
    ck_assert_uint_eq(x->target, 3000 * MiB);
    /* A soaker now (and its guest uses whatever it gets): it grows into
     * the free RAM. */
    dom_policy(&x->pol, "soaker=1 rate=1000M");
    x->wss = NULL;
    for (t = 10; t < 20; t++)
        sim_step(&s);
    ck_assert_uint_eq(x->target, 8192 * MiB - 1000 * MiB);
    /* The generic domain needs 6000: the soaker gives way, at once,
     * before it gets anything less than its wish. */
    for (t = 20; t < 40; t++) {
        sim_step(&s);
        check_soaker_order(&s);
    }
    ck_assert_uint_eq(g->target, 6000 * MiB);
    ck_assert_uint_eq(x->target, 2192 * MiB);
    /* Generic again, needing 3000: together they wish for 9000 of 8192
     * and share by priority (equal).  3000 is within half (4096), so it
     * is met; the other gets the remaining 5192. */
    dom_policy(&x->pol, "rate=1000M");
    x->wss = wss_3000;
    for (t = 40; t < 60; t++)
        sim_step(&s);
    ck_assert_uint_eq(x->target, 3000 * MiB);
    ck_assert_uint_eq(g->target, 8192 * MiB - 3000 * MiB);
}
END_TEST

/* ---- random snapshots ----------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *x, uint64_t n)
{
    return n ? splitmix(x) % n : 0;
}

/* A random valid policy, through the schema like any other. */
static void random_policy(xenshape__dompolicy *p, uint64_t *x)
{
    char spec[512];
    uint64_t mo = rnd(x, 4096), ms = mo + rnd(x, 4096);
    uint64_t hi = rnd(x, 101), lo = rnd(x, hi + 1);

    snprintf(spec, sizeof(spec),
             "priority=%" PRIu64 " soaker=%d pin=%d threshold-mode=%s "
             "threshold-high=%" PRIu64 "%% threshold-low=%" PRIu64 "%% "
             "rate=%" PRIu64 "M burst=%" PRIu64 "M min-operating=%" PRIu64
             "M min-starting=%" PRIu64 "M hibernate=%s",
             1 + rnd(x, 1000), (int)rnd(x, 2), rnd(x, 10) == 0,
             rnd(x, 2) ? "static" : "dynamic", hi, lo, rnd(x, 4096),
             rnd(x, 4096), mo, ms, rnd(x, 2) ? "pause" : "store");
    dom_policy(p, spec);
}

static void same_decision(const xenshape__shape_out *a,
                          const xenshape__shape_out *b)
{
    ck_assert_uint_eq(a->domid, b->domid);
    ck_assert_uint_eq(a->target, b->target);
    ck_assert_int_eq(a->state, b->state);
    ck_assert_uint_eq(a->actions, b->actions);
    ck_assert_str_eq(a->reason, b->reason);
    ck_assert_uint_eq(a->memo.bucket, b->memo.bucket);
    ck_assert_int_eq(a->memo.over, b->memo.over);
    ck_assert_int_eq(a->memo.relaunching, b->memo.relaunching);
    ck_assert_uint_eq(a->memo.last_pause_ms, b->memo.last_pause_ms);
    ck_assert_uint_eq(a->memo.claim, b->memo.claim);
}

START_TEST(t_random)
{
    static xenshape__dompolicy pol[8];
    xenshape__shape_dom d[8], perm[8];
    xenshape__shape_out o[8], o2[8];
    xenshape__shape_summary s, s2;
    xenshape__hostpolicy hp;
    xenshape__shape_host h;
    uint64_t x = 4242;
    unsigned iter, i, j, n;

    for (iter = 0; iter < 3000; iter++) {
        char spec[256];

        snprintf(spec, sizeof(spec),
                 "reserved=%" PRIu64 "M shrink-rate=%" PRIu64 "%% "
                 "headroom=%" PRIu64 "%% hysteresis-s=%" PRIu64,
                 rnd(&x, 2048), 1 + rnd(&x, 100), rnd(&x, 101),
                 60 + rnd(&x, 600));
        host_policy(&hp, spec);
        h.pol = &hp;
        h.total_frames = (256 + rnd(&x, 32768)) * MiB;
        h.free_frames = rnd(&x, h.total_frames);
        h.now_ms = NOW_MS + rnd(&x, NOW_MS);
        h.interval_ms = 1 + rnd(&x, 5000);
        n = 1 + (unsigned)rnd(&x, 8);
        memset(d, 0, sizeof(d));
        for (i = 0; i < n; i++) {
            random_policy(&pol[i], &x);
            d[i].domid = (uint32_t)(1 + i * 7 + rnd(&x, 7));
            d[i].paging = rnd(&x, 10) != 0;
            d[i].presented = (1 + rnd(&x, 16384)) * MiB;
            d[i].resident = rnd(&x, d[i].presented + 1);
            d[i].paged = d[i].presented - d[i].resident;
            d[i].usage = rnd(&x, 5) ? rnd(&x, d[i].presented + MiB)
                                   : XENSHAPE__SHAPE_USAGE_UNKNOWN;
            d[i].faults = rnd(&x, 100000);
            d[i].loaded = rnd(&x, 100000);
            d[i].pol = &pol[i];
            if (rnd(&x, 5)) {
                d[i].memo.valid = true;
                d[i].memo.state = (enum xenshape__shape_state)rnd(&x, 6);
                d[i].memo.over = rnd(&x, 2);
                d[i].memo.relaunching = rnd(&x, 4) == 0;
                d[i].memo.paused_ever = rnd(&x, 2);
                d[i].memo.last_pause_ms = rnd(&x, h.now_ms + 1);
                d[i].memo.bucket = rnd(&x, 2 * burst(&pol[i]) + 1);
                d[i].memo.prev_resident = rnd(&x, d[i].presented + 1);
                d[i].memo.target = rnd(&x, d[i].presented + 1);
                d[i].memo.faulted = rnd(&x, 2);
                d[i].memo.last_fault_ms = rnd(&x, h.now_ms + 1);
                d[i].memo.claim = rnd(&x, 8) ? rnd(&x, d[i].presented + 1)
                                             : UINT64_MAX;
            }
        }
        ck_assert_int_eq(xenshape__shape_decide(&h, d, n, o, &s), 0);
        check_invariants(&h, d, n, o, &s);

        /* The same snapshot in another order: the same decisions. */
        for (i = 0; i < n; i++)
            perm[i] = d[i];
        for (i = n; i > 1; i--) {
            xenshape__shape_dom tmp;

            j = (unsigned)rnd(&x, i);
            tmp = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = tmp;
        }
        ck_assert_int_eq(xenshape__shape_decide(&h, perm, n, o2, &s2), 0);
        for (i = 0; i < n; i++)
            for (j = 0; j < n; j++)
                if (o2[j].domid == o[i].domid)
                    same_decision(&o[i], &o2[j]);
        ck_assert_uint_eq(s.assigned, s2.assigned);
        ck_assert_int_eq(s.contention, s2.contention);
    }
}
END_TEST

/* ---- edges ---------------------------------------------------------- */

START_TEST(t_bad_args)
{
    xenshape__dompolicy p;
    xenshape__hostpolicy hp;
    xenshape__shape_dom d[3];
    xenshape__shape_out o[3];
    xenshape__shape_host h = { .total_frames = 1000, .pol = NULL };

    dom_policy(&p, NULL);
    host_policy(&hp, NULL);
    memset(d, 0, sizeof(d));
    d[0].domid = d[1].domid = 5;
    d[0].pol = d[1].pol = d[2].pol = &p;
    ck_assert_int_eq(xenshape__shape_decide(&h, d, 1, o, NULL),
                     XENSHAPE_EINVAL);
    h.pol = &hp;
    ck_assert_int_eq(xenshape__shape_decide(NULL, d, 1, o, NULL),
                     XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__shape_decide(&h, NULL, 1, o, NULL),
                     XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__shape_decide(&h, d, 1, NULL, NULL),
                     XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__shape_decide(&h, d, 2, o, NULL),
                     XENSHAPE_EINVAL);          /* domid twice */
    d[1].domid = 6;
    d[2].domid = 5;                             /* and not side by side */
    ck_assert_int_eq(xenshape__shape_decide(&h, d, 3, o, NULL),
                     XENSHAPE_EINVAL);
    d[2].domid = 7;
    ck_assert_int_eq(xenshape__shape_decide(&h, d, 3, o, NULL), 0);
    d[1].pol = NULL;
    ck_assert_int_eq(xenshape__shape_decide(&h, d, 2, o, NULL),
                     XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__shape_decide(&h, d,
                                            XENSHAPE__SHAPE_MAX_DOMS + 1, o,
                                            NULL), XENSHAPE_EINVAL);
    /* No domains at all is a valid (empty) decision. */
    ck_assert_int_eq(xenshape__shape_decide(&h, NULL, 0, o, NULL), 0);
}
END_TEST

START_TEST(t_enomem)
{
    xenshape__dompolicy p;
    xenshape__hostpolicy hp;
    xenshape__shape_dom d = { .domid = 1, .paging = true,
                              .presented = 1000, .resident = 500 };
    xenshape__shape_out o;
    xenshape__shape_host h = { .total_frames = 1 << 20 };
    unsigned nth;

    dom_policy(&p, NULL);
    host_policy(&hp, NULL);
    d.pol = &p;
    h.pol = &hp;
    /* Each of its allocations fails cleanly, and nothing is written. */
    for (nth = 1; nth <= 3; nth++) {
        memset(&o, 0xa5, sizeof(o));
        ck_assert_int_eq(xenshape_fault_set("alloc", nth, ENOMEM, false), 0);
        ck_assert_int_eq(xenshape__shape_decide(&h, &d, 1, &o, NULL),
                         XENSHAPE_ENOMEM);
        ck_assert_uint_eq(o.domid, 0xa5a5a5a5u);
        xenshape_fault_clear_all();
    }
    ck_assert_int_eq(xenshape__shape_decide(&h, &d, 1, &o, NULL), 0);
}
END_TEST

START_TEST(t_metering)
{
    xenshape__dompolicy p;
    xenshape__hostpolicy hp;
    xenshape__shape_dom d = { .domid = 1, .paging = true,
                              .presented = 4096 * MiB,
                              .resident = 1000 * MiB,
                              .paged = 3096 * MiB, .usage = 1000 * MiB,
                              .faults = 50, .loaded = 200 };
    xenshape__shape_out o;
    xenshape__shape_host h = { .total_frames = 8192 * MiB,
                               .interval_ms = 500, .now_ms = NOW_MS };

    dom_policy(&p, NULL);
    host_policy(&hp, NULL);
    d.pol = &p;
    h.pol = &hp;
    ck_assert_int_eq(xenshape__shape_decide(&h, &d, 1, &o, NULL), 0);
    /* Frames times milliseconds over the 500 ms interval; faults per
     * second; page-ins as counted. */
    ck_assert_uint_eq(o.ram_page_ms, 1000 * MiB * 500);
    ck_assert_uint_eq(o.store_page_ms, 3096 * MiB * 500);
    ck_assert_uint_eq(o.fault_rate, 100);
    ck_assert_uint_eq(o.pageins, 200);
}
END_TEST

START_TEST(t_words)
{
    char buf[32];

    xenshape__shape_fmt_frames(buf, sizeof(buf), 25);
    ck_assert_str_eq(buf, "100 KiB");
    xenshape__shape_fmt_frames(buf, sizeof(buf), 12 * MiB);
    ck_assert_str_eq(buf, "12 MiB");
    xenshape__shape_fmt_frames(buf, sizeof(buf), 3174 * MiB);
    ck_assert_str_eq(buf, "3.1 GiB");
    xenshape__shape_fmt_frames(buf, sizeof(buf), 2560 * MiB);
    ck_assert_str_eq(buf, "2.5 GiB");
    xenshape__shape_fmt_frames(buf, sizeof(buf), 1000 * MiB);
    ck_assert_str_eq(buf, "1000 MiB");
    xenshape__shape_fmt_frames(buf, sizeof(buf), UINT64_C(3) << 28);
    ck_assert_str_eq(buf, "3 TiB");
    xenshape__shape_fmt_frames(buf, 4, 12 * MiB);
    ck_assert_str_eq(buf, "12 ");
}
END_TEST

START_TEST(t_log)
{
    char log[XENSHAPE__SCHEMA_VALUE_MAX + 1] = "", line[64];
    unsigned i;

    xenshape__shape_log_push(log, sizeof(log), 1, "first");
    ck_assert_str_eq(log, "1 first");
    xenshape__shape_log_push(log, sizeof(log), 2, "second\nline");
    ck_assert_str_eq(log, "2 second line\n1 first");
    for (i = 3; i < 500; i++) {
        snprintf(line, sizeof(line), "decision number %u", i);
        xenshape__shape_log_push(log, sizeof(log), i, line);
        /* Bounded by a xenstore node, newest first, whole lines. */
        ck_assert_uint_le(strlen(log), XENSHAPE__SCHEMA_VALUE_MAX);
        snprintf(line, sizeof(line), "%u decision number %u", i, i);
        ck_assert(!strncmp(log, line, strlen(line)));
        ck_assert(log[strlen(log) - 1] != '\n');
    }
    /* The oldest kept line is whole: it starts with its time. */
    ck_assert(strrchr(log, '\n')[1] >= '0' && strrchr(log, '\n')[1] <= '9');
    ck_assert_ptr_nonnull(strstr(strrchr(log, '\n'), " decision number "));
    /* A line longer than the buffer is cut, the old ones dropped. */
    {
        char small[16] = "0 old";

        xenshape__shape_log_push(small, sizeof(small), 7,
                                 "a very long reason indeed");
        ck_assert_str_eq(small, "7 a very long r");
    }
}
END_TEST

/* ---- runner --------------------------------------------------------- */

static Suite *shape_suite(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("shape");

    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, t_rows, 0, (int)XENSHAPE__ARRAY_SIZE(rows));
    tcase_add_test(tc, t_sim_freed_ram);
    tcase_add_test(tc, t_sim_soakers);
    tcase_add_test(tc, t_sim_claim);
    tcase_add_test(tc, t_sim_thrash);
    tcase_add_test(tc, t_sim_hysteresis);
    tcase_add_test(tc, t_sim_pin);
    tcase_add_test(tc, t_sim_switch);
    tcase_add_test(tc, t_random);
    tcase_add_test(tc, t_bad_args);
    tcase_add_test(tc, t_enomem);
    tcase_add_test(tc, t_metering);
    tcase_add_test(tc, t_words);
    tcase_add_test(tc, t_log);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(shape_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
