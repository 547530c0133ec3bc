/*
 * policy_clock.c - CLOCK (second chance), the classic cheap approximation
 * of LRU and the policy the engine started with.
 *
 * Resident frames sit in a ring in the order they arrived; the hand looks
 * at the oldest.  A frame whose reference bit is set (an observed access
 * since the hand last passed) loses the bit and goes round again; one
 * without is the victim.  Arrival does not set the bit.  9 bytes per
 * frame: the ring links and the bit.
 */

#include <stdlib.h>

#include "private.h"
#include "select/select.h"
#include "select/select_list.h"

typedef struct clk {
    xenshape__policy pub;
    uint32_t nr;                     /* frames; also the ring head */
    uint64_t resident;
    xenshape__link *l;               /* nr + 1; front = oldest */
    uint8_t *ref;
} clk;

static int clock_init(xenshape__policy **p_r, uint64_t nr_frames,
                      uint64_t seed, unsigned flags)
{
    clk *s = NULL;
    uint64_t i;
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
    s->pub.ops = &xenshape__policy_clock;
    s->nr = (uint32_t)nr_frames;
    s->l = xenshape__malloc((nr_frames + 1) * sizeof(*s->l));
    s->ref = xenshape__calloc(nr_frames, 1);
    if (!s->l || !s->ref) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    xenshape__list_init(s->l, s->nr);
    for (i = 0; i < nr_frames; i++)
        s->l[i].prev = s->l[i].next = XENSHAPE__NIL;
    if (flags & XENSHAPE__POLICY_ALL_RESIDENT) {
        /* The hand starts half way up the gfn space, as xenpaging's does:
         * low gfns hold firmware and the early kernel. */
        for (i = 0; i < nr_frames; i++)
            xenshape__list_add_before(s->l, s->nr,
                                      (uint32_t)((nr_frames / 2 + i) %
                                                 nr_frames));
        s->resident = nr_frames;
    }
    *p_r = &s->pub;
    s = NULL;
    rc = 0;
 out:
    if (s) {
        free(s->l);
        free(s->ref);
    }
    free(s);
    return rc;
}

static void clock_free(xenshape__policy *p)
{
    clk *s = (clk *)p;

    if (!s)
        return;
    free(s->l);
    free(s->ref);
    free(s);
}

static void clock_access(xenshape__policy *p, uint64_t gfn)
{
    clk *s = (clk *)p;

    if (gfn < s->nr && xenshape__list_on(s->l, (uint32_t)gfn))
        s->ref[gfn] = 1;
}

static void clock_admit(xenshape__policy *p, uint64_t gfn)
{
    clk *s = (clk *)p;

    if (gfn >= s->nr)
        return;
    if (xenshape__list_on(s->l, (uint32_t)gfn)) {
        s->ref[gfn] = 1;
        return;
    }
    xenshape__list_add_before(s->l, s->nr, (uint32_t)gfn);
    s->ref[gfn] = 0;
    s->resident++;
}

static void clock_evicted(xenshape__policy *p, uint64_t gfn)
{
    clk *s = (clk *)p;

    if (gfn >= s->nr || !xenshape__list_on(s->l, (uint32_t)gfn))
        return;
    xenshape__list_del(s->l, (uint32_t)gfn);
    s->ref[gfn] = 0;
    s->resident--;
}

static unsigned clock_choose(xenshape__policy *p, xenshape__policy_filter *ok,
                             void *arg, uint64_t *out, unsigned n)
{
    clk *s = (clk *)p;
    uint64_t steps, limit = 2 * s->resident + 2;
    unsigned found = 0, i;
    uint32_t x = s->l[s->nr].next, nx;

    /*
     * Chosen frames stay where they are (the engine has not evicted them
     * yet) and are marked 2 for the rest of this call, so the hand passes
     * them when it comes round again.  Frames with the bit set go to the
     * back without it, refused frames go to the back with it; two turns of
     * the ring bound the walk.
     */
    for (steps = 0; steps < limit && found < n; steps++) {
        if (x == s->nr) {
            x = s->l[s->nr].next;
            if (x == s->nr)
                break;
        }
        nx = s->l[x].next;
        if (s->ref[x] == 2) {
            /* Chosen earlier in this call. */
        } else if (!ok(arg, x)) {
            s->ref[x] = 1;
            xenshape__list_move_back(s->l, s->nr, x);
        } else if (s->ref[x]) {
            s->ref[x] = 0;
            xenshape__list_move_back(s->l, s->nr, x);
        } else {
            s->ref[x] = 2;
            out[found++] = x;
        }
        x = nx;
    }
    for (i = 0; i < found; i++)
        s->ref[out[i]] = 0;
    return found;
}

const struct xenshape__policy_ops xenshape__policy_clock = {
    .name = "clock",
    .summary = "CLOCK, second chance (cheap LRU approximation)",
    .meta_bytes_per_frame = sizeof(xenshape__link) + 1,
    .init = clock_init,
    .free = clock_free,
    .access = clock_access,
    .admit = clock_admit,
    .evicted = clock_evicted,
    .choose = clock_choose,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
