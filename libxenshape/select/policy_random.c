/*
 * policy_random.c - victims drawn uniformly at random from the resident
 * frames, the baseline that knows nothing.  It ignores accesses, so it
 * behaves the same whatever Dom0 observes.
 *
 * The resident frames are kept packed in an array with each frame's
 * position beside it, so admit, evict and a draw are O(1).  8 bytes per
 * frame.
 */

#include <stdlib.h>

#include "private.h"
#include "select/select.h"
#include "select/select_list.h"

typedef struct rnd {
    xenshape__policy pub;
    uint32_t nr;
    uint32_t resident;
    uint64_t rng;
    uint32_t *set;                   /* resident frames, packed */
    uint32_t *pos;                   /* index in set, or XENSHAPE__NIL */
} rnd;

static int random_init(xenshape__policy **p_r, uint64_t nr_frames,
                       uint64_t seed, unsigned flags)
{
    rnd *s = NULL;
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
    s->pub.ops = &xenshape__policy_random;
    s->nr = (uint32_t)nr_frames;
    s->rng = seed;
    s->set = xenshape__malloc(nr_frames * sizeof(*s->set));
    s->pos = xenshape__malloc(nr_frames * sizeof(*s->pos));
    if (!s->set || !s->pos) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < nr_frames; i++)
        s->pos[i] = XENSHAPE__NIL;
    if (flags & XENSHAPE__POLICY_ALL_RESIDENT) {
        for (i = 0; i < nr_frames; i++) {
            s->set[i] = (uint32_t)i;
            s->pos[i] = (uint32_t)i;
        }
        s->resident = (uint32_t)nr_frames;
    }
    *p_r = &s->pub;
    s = NULL;
    rc = 0;
 out:
    if (s) {
        free(s->set);
        free(s->pos);
    }
    free(s);
    return rc;
}

static void random_free(xenshape__policy *p)
{
    rnd *s = (rnd *)p;

    if (!s)
        return;
    free(s->set);
    free(s->pos);
    free(s);
}

static void random_access(xenshape__policy *p, uint64_t gfn)
{
}

static void random_admit(xenshape__policy *p, uint64_t gfn)
{
    rnd *s = (rnd *)p;

    if (gfn >= s->nr || s->pos[gfn] != XENSHAPE__NIL)
        return;
    s->pos[gfn] = s->resident;
    s->set[s->resident++] = (uint32_t)gfn;
}

static void swap_slots(rnd *s, uint32_t a, uint32_t b)
{
    uint32_t ga = s->set[a], gb = s->set[b];

    s->set[a] = gb;
    s->pos[gb] = a;
    s->set[b] = ga;
    s->pos[ga] = b;
}

static void random_evicted(xenshape__policy *p, uint64_t gfn)
{
    rnd *s = (rnd *)p;

    if (gfn >= s->nr || s->pos[gfn] == XENSHAPE__NIL)
        return;
    swap_slots(s, s->pos[gfn], s->resident - 1);
    s->resident--;
    s->pos[gfn] = XENSHAPE__NIL;
}

static unsigned random_choose(xenshape__policy *p,
                              xenshape__policy_filter *ok, void *arg,
                              uint64_t *out, unsigned n)
{
    rnd *s = (rnd *)p;
    uint32_t left = s->resident, k;
    unsigned found = 0;

    /* A partial Fisher-Yates shuffle: each frame drawn moves past the end
     * of the part still to draw from, so a call never draws one twice and
     * looks at each resident frame at most once. */
    while (left && found < n) {
        k = (uint32_t)xenshape__rand_below(&s->rng, left);
        left--;
        swap_slots(s, k, left);
        if (ok(arg, s->set[left]))
            out[found++] = s->set[left];
    }
    return found;
}

const struct xenshape__policy_ops xenshape__policy_random = {
    .name = "random",
    .summary = "uniformly random victim (baseline)",
    .meta_bytes_per_frame = 2 * sizeof(uint32_t),
    .init = random_init,
    .free = random_free,
    .access = random_access,
    .admit = random_admit,
    .evicted = random_evicted,
    .choose = random_choose,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
