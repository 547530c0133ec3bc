/*
 * observe.c - the sampling side of the observation model (observe.h): which
 * resident frames to arm with n2rwx each epoch, within the budget, and
 * which events to pass on to the policy.
 *
 * Two bitmaps over the gfn space, resident and armed, and a cursor that
 * walks them round and round, so every resident frame is armed again
 * within about resident / budget epochs of its last event.  Walking whole
 * 64-bit words keeps a pass over a sparse resident set cheap.
 */

#include <stdlib.h>

#include "private.h"
#include "select/observe.h"

struct xenshape__observe {
    xenshape__observe_params prm;
    uint64_t nr;
    uint64_t nr_resident;
    uint64_t cursor;                 /* next gfn the walk looks at */
    uint64_t *res, *armed;
};

void xenshape__observe_params_default(xenshape__observe_params *prm)
{
    prm->arm_div = XENSHAPE__OBSERVE_ARM_DIV;
    prm->arm_max = XENSHAPE__OBSERVE_ARM_MAX;
    prm->epoch_ms = XENSHAPE__OBSERVE_EPOCH_MS;
    prm->epoch_div = XENSHAPE__OBSERVE_EPOCH_DIV;
    prm->epoch_min = XENSHAPE__OBSERVE_EPOCH_MIN;
}

static inline bool bit_get(const uint64_t *b, uint64_t i)
{
    return (b[i >> 6] >> (i & 63)) & 1;
}

static inline void bit_set(uint64_t *b, uint64_t i)
{
    b[i >> 6] |= 1ull << (i & 63);
}

static inline void bit_clear(uint64_t *b, uint64_t i)
{
    b[i >> 6] &= ~(1ull << (i & 63));
}

int xenshape__observe_new(xenshape__observe **o_r, uint64_t nr_frames,
                          const xenshape__observe_params *prm,
                          unsigned flags)
{
    xenshape__observe *o = NULL;
    uint64_t words = (nr_frames + 63) / 64, i;
    int rc;

    if (!nr_frames || nr_frames > XENSHAPE__POLICY_MAX_FRAMES ||
        (prm && (!prm->arm_div || !prm->epoch_div))) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    o = xenshape__calloc(1, sizeof(*o));
    if (!o) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    if (prm)
        o->prm = *prm;
    else
        xenshape__observe_params_default(&o->prm);
    o->nr = nr_frames;
    o->res = xenshape__calloc(words, sizeof(uint64_t));
    o->armed = xenshape__calloc(words, sizeof(uint64_t));
    if (!o->res || !o->armed) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    if (flags & XENSHAPE__POLICY_ALL_RESIDENT) {
        for (i = 0; i < nr_frames; i++)
            bit_set(o->res, i);
        o->nr_resident = nr_frames;
    }
    *o_r = o;
    o = NULL;
    rc = 0;
 out:
    xenshape__observe_free(o);
    return rc;
}

void xenshape__observe_free(xenshape__observe *o)
{
    if (!o)
        return;
    free(o->res);
    free(o->armed);
    free(o);
}

void xenshape__observe_admit(xenshape__observe *o, uint64_t gfn)
{
    if (gfn >= o->nr || bit_get(o->res, gfn))
        return;
    bit_set(o->res, gfn);
    o->nr_resident++;
}

void xenshape__observe_evicted(xenshape__observe *o, uint64_t gfn)
{
    if (gfn >= o->nr || !bit_get(o->res, gfn))
        return;
    bit_clear(o->res, gfn);
    bit_clear(o->armed, gfn);
    o->nr_resident--;
}

uint32_t xenshape__observe_budget(const xenshape__observe *o)
{
    uint64_t b = o->nr_resident / o->prm.arm_div;

    if (b < 1)
        b = 1;
    if (b > o->prm.arm_max)
        b = o->prm.arm_max;
    return (uint32_t)b;
}

uint32_t xenshape__observe_pick(xenshape__observe *o,
                                xenshape__policy_filter *ok, void *arg,
                                uint64_t *gfns, uint32_t max)
{
    uint64_t words = (o->nr + 63) / 64, walked = 0, w, wi, g;
    uint32_t found = 0;
    unsigned b;

    if (!o->nr_resident)
        return 0;
    /* One full turn at most, plus the word the turn started in. */
    while (found < max && walked <= words) {
        wi = o->cursor >> 6;
        w = o->res[wi] & ~o->armed[wi];
        w &= ~0ull << (o->cursor & 63);
        while (w && found < max) {
            b = (unsigned)__builtin_ctzll(w);
            w &= w - 1;
            g = (wi << 6) | b;
            o->cursor = g + 1;
            if (ok && !ok(arg, g))
                continue;
            bit_set(o->armed, g);
            gfns[found++] = g;
        }
        if (found == max)
            break;
        walked++;
        o->cursor = (wi + 1) << 6;
        if (o->cursor >= o->nr)
            o->cursor = 0;
    }
    if (o->cursor >= o->nr)
        o->cursor = 0;
    return found;
}

bool xenshape__observe_seen(xenshape__observe *o, uint64_t gfn)
{
    bool was;

    if (gfn >= o->nr)
        return false;
    was = bit_get(o->armed, gfn);
    bit_clear(o->armed, gfn);
    return was && bit_get(o->res, gfn);
}

uint64_t xenshape__observe_dirty(xenshape__observe *o, const uint64_t *bitmap,
                                 uint64_t nr, xenshape__policy *p)
{
    uint64_t wi, w, g, n = 0;

    if (nr > o->nr)
        nr = o->nr;
    for (wi = 0; wi < (nr + 63) / 64; wi++) {
        w = bitmap[wi] & o->res[wi];
        while (w) {
            g = (wi << 6) | (uint64_t)__builtin_ctzll(w);
            w &= w - 1;
            if (g >= nr)
                break;
            xenshape__policy_access(p, g);
            n++;
        }
    }
    return n;
}

void xenshape__observe_disarm(xenshape__observe *o, uint64_t gfn)
{
    if (gfn < o->nr)
        bit_clear(o->armed, gfn);
}

uint64_t xenshape__observe_usage(const xenshape__observe *o,
                                 uint64_t *snap[2], const uint64_t *ref)
{
    uint64_t words = (o->nr + 63) / 64, i, n = 0, idle;

    for (i = 0; i < words; i++) {
        idle = o->armed[i] & snap[0][i] & snap[1][i];
        n += (uint64_t)__builtin_popcountll((o->res[i] & ~idle) |
                                            (ref[i] & ~o->res[i]));
        snap[1][i] = snap[0][i];
        snap[0][i] = o->armed[i];
    }
    return n;
}

bool xenshape__observe_armed(const xenshape__observe *o, uint64_t gfn)
{
    return gfn < o->nr && bit_get(o->armed, gfn);
}

bool xenshape__observe_resident(const xenshape__observe *o, uint64_t gfn)
{
    return gfn < o->nr && bit_get(o->res, gfn);
}

uint64_t xenshape__observe_nr_resident(const xenshape__observe *o)
{
    return o->nr_resident;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
