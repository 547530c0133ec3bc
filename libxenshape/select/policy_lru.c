/*
 * policy_lru.c - least recently used, the recency baseline.
 *
 * One list of resident frames, most recently used at the front.  It is
 * only as good as what it is told: with real Xen an "access" is a sampled
 * first-touch event (observe.h), so this is LRU over the references Dom0
 * sees, not over every reference.  8 bytes per frame.
 */

#include <stdlib.h>

#include "private.h"
#include "select/select.h"
#include "select/select_list.h"

typedef struct lru {
    xenshape__policy pub;
    uint32_t nr;                     /* frames; also the list head */
    uint64_t resident;
    xenshape__link *l;               /* nr + 1 */
} lru;

static int lru_init(xenshape__policy **p_r, uint64_t nr_frames,
                    uint64_t seed, unsigned flags)
{
    lru *s = NULL;
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
    s->pub.ops = &xenshape__policy_lru;
    s->nr = (uint32_t)nr_frames;
    s->l = xenshape__malloc((nr_frames + 1) * sizeof(*s->l));
    if (!s->l) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    xenshape__list_init(s->l, s->nr);
    for (i = 0; i < nr_frames; i++)
        s->l[i].prev = s->l[i].next = XENSHAPE__NIL;
    if (flags & XENSHAPE__POLICY_ALL_RESIDENT) {
        /* Nothing is known yet.  Make the upper half of the gfn space the
         * first to go: low gfns hold firmware and the early kernel, which
         * are rarely cold (xenpaging starts its sweep there too). */
        for (i = 0; i < nr_frames; i++)
            xenshape__list_add_after(s->l, s->nr,
                                     (uint32_t)((nr_frames / 2 + i) %
                                                nr_frames));
        s->resident = nr_frames;
    }
    *p_r = &s->pub;
    s = NULL;
    rc = 0;
 out:
    if (s)
        free(s->l);
    free(s);
    return rc;
}

static void lru_free(xenshape__policy *p)
{
    lru *s = (lru *)p;

    if (!s)
        return;
    free(s->l);
    free(s);
}

static void lru_access(xenshape__policy *p, uint64_t gfn)
{
    lru *s = (lru *)p;

    if (gfn < s->nr && xenshape__list_on(s->l, (uint32_t)gfn))
        xenshape__list_move_front(s->l, s->nr, (uint32_t)gfn);
}

static void lru_admit(xenshape__policy *p, uint64_t gfn)
{
    lru *s = (lru *)p;

    if (gfn >= s->nr)
        return;
    if (xenshape__list_on(s->l, (uint32_t)gfn)) {
        xenshape__list_move_front(s->l, s->nr, (uint32_t)gfn);
        return;
    }
    xenshape__list_add_after(s->l, s->nr, (uint32_t)gfn);
    s->resident++;
}

static void lru_evicted(xenshape__policy *p, uint64_t gfn)
{
    lru *s = (lru *)p;

    if (gfn >= s->nr || !xenshape__list_on(s->l, (uint32_t)gfn))
        return;
    xenshape__list_del(s->l, (uint32_t)gfn);
    s->resident--;
}

static unsigned lru_choose(xenshape__policy *p, xenshape__policy_filter *ok,
                           void *arg, uint64_t *out, unsigned n)
{
    lru *s = (lru *)p;
    uint64_t seen;
    unsigned found = 0;
    uint32_t x = s->l[s->nr].prev, prev;

    /* Each resident frame is looked at once at most: refused frames go to
     * the front, where the walk from the back reaches them last. */
    for (seen = 0; seen < s->resident && found < n && x != s->nr; seen++) {
        prev = s->l[x].prev;
        if (ok(arg, x))
            out[found++] = x;
        else
            xenshape__list_move_front(s->l, s->nr, x);
        x = prev;
    }
    return found;
}

const struct xenshape__policy_ops xenshape__policy_lru = {
    .name = "lru",
    .summary = "least recently used (recency baseline)",
    .meta_bytes_per_frame = sizeof(xenshape__link),
    .init = lru_init,
    .free = lru_free,
    .access = lru_access,
    .admit = lru_admit,
    .evicted = lru_evicted,
    .choose = lru_choose,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
