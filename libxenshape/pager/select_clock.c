/*
 * select_clock.c - victim selection by CLOCK (second chance) over the
 * domain's gfns.  The reference bit of a frame is set when Dom0 sees the
 * guest use it: a page-in request (the only access information every
 * Xen gives for free) or a load.  The hand clears reference bits as it
 * passes and picks frames whose bit is already clear.
 *
 * One byte per gfn; each choose() costs amortised O(1) per victim.  The
 * policy work of a later issue (frequency and recency combined, sampled
 * mem_access) replaces this behind the same interface.
 */

#include <stdlib.h>

#include "pager/pager.h"

struct xenshape__select {
    uint64_t nr;
    uint64_t hand;
    uint8_t *ref;
};

static int clock_init(xenshape__select **s_r, uint64_t nr_gfns)
{
    xenshape__select *s = NULL;
    int rc;

    s = xenshape__calloc(1, sizeof(*s));
    if (!s) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    s->nr = nr_gfns;
    /* Start half way, away from firmware and early-boot frames, which
     * are the least likely to be cold, as xenpaging does. */
    s->hand = nr_gfns / 2;
    s->ref = xenshape__calloc(nr_gfns ? nr_gfns : 1, 1);
    if (!s->ref) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    *s_r = s;
    s = NULL;
    rc = 0;
 out:
    if (s)
        free(s->ref);
    free(s);
    return rc;
}

static void clock_free(xenshape__select *s)
{
    if (!s)
        return;
    free(s->ref);
    free(s);
}

static void clock_touched(xenshape__select *s, uint64_t gfn)
{
    if (gfn < s->nr)
        s->ref[gfn] = 1;
}

static void clock_evicted(xenshape__select *s, uint64_t gfn)
{
    if (gfn < s->nr)
        s->ref[gfn] = 0;
}

#define CHOSEN 2   /* picked in the current call: never twice */

static unsigned clock_choose(xenshape__select *s,
                             xenshape__select_filter *ok, void *arg,
                             uint64_t *out, unsigned n)
{
    unsigned found = 0, i;
    uint64_t steps;

    /* Two sweeps at most: the first may only clear reference bits. */
    for (steps = 0; steps < 2 * s->nr && found < n; steps++) {
        uint64_t g = s->hand;

        s->hand = (s->hand + 1 == s->nr) ? 0 : s->hand + 1;
        if (s->ref[g] == CHOSEN || !ok(arg, g))
            continue;
        if (s->ref[g]) {
            s->ref[g] = 0;
            continue;
        }
        s->ref[g] = CHOSEN;
        out[found++] = g;
    }
    for (i = 0; i < found; i++)
        s->ref[out[i]] = 0;
    return found;
}

const struct xenshape__select_ops xenshape__select_clock = {
    .name = "clock",
    .init = clock_init,
    .free = clock_free,
    .touched = clock_touched,
    .evicted = clock_evicted,
    .loaded = clock_touched,
    .choose = clock_choose,
};
