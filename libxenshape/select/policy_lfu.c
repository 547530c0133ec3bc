/*
 * policy_lfu.c - least frequently used, the design xenshape started from,
 * kept available by name as the reference point.
 *
 * Each resident frame counts the references Dom0 observed while it was
 * resident: the fault that brought it in, then every access the engine
 * reports (with real Xen, sampled first touches and dirty bits).  The
 * victim is the frame with the lowest count, the oldest among equals.
 * Counts never age and are forgotten at eviction, which is exactly why
 * plain LFU does badly: a new frame always has the lowest count and goes
 * first, and a formerly hot set stays forever (see docs/page-selection.md).
 *
 * O(1) for every event with the classic bucket structure: frames with one
 * count share a bucket; buckets form a list in count order.  12 bytes per
 * frame (ring links, bucket) plus a pool of 16-byte buckets sized to a
 * quarter of the frames: 16 bytes per frame.  Should the resident frames
 * ever use that many distinct counts at once, a count stops growing until
 * a bucket frees up; the order among the frames concerned is then FIFO.
 */

#include <stdlib.h>

#include "private.h"
#include "select/select.h"
#include "select/select_list.h"

typedef struct bucket {
    uint32_t count;
    uint32_t first;                  /* oldest frame; ring via links */
    uint32_t prev, next;             /* neighbouring buckets, NIL ends */
} bucket;

typedef struct lfu {
    xenshape__policy pub;
    uint32_t nr;
    uint64_t resident;
    xenshape__link *l;               /* ring of the frames of a bucket */
    uint32_t *bk;                    /* bucket of a frame, NIL: not resident */
    bucket *b;
    uint32_t nb;
    uint32_t free_b;                 /* free buckets, chained by next */
    uint32_t lowest, highest;
} lfu;

static uint32_t bucket_new(lfu *s, uint32_t count, uint32_t after)
{
    uint32_t i = s->free_b;
    bucket *nb;

    if (i == XENSHAPE__NIL)
        return i;
    nb = &s->b[i];
    s->free_b = nb->next;
    nb->count = count;
    nb->first = XENSHAPE__NIL;
    nb->prev = after;
    if (after == XENSHAPE__NIL) {
        nb->next = s->lowest;
        s->lowest = i;
    } else {
        nb->next = s->b[after].next;
        s->b[after].next = i;
    }
    if (nb->next == XENSHAPE__NIL)
        s->highest = i;
    else
        s->b[nb->next].prev = i;
    return i;
}

static void bucket_release(lfu *s, uint32_t i)
{
    bucket *ob = &s->b[i];

    if (ob->prev == XENSHAPE__NIL)
        s->lowest = ob->next;
    else
        s->b[ob->prev].next = ob->next;
    if (ob->next == XENSHAPE__NIL)
        s->highest = ob->prev;
    else
        s->b[ob->next].prev = ob->prev;
    ob->next = s->free_b;
    s->free_b = i;
}

/* Add x at the back (newest end) of bucket i. */
static void frame_add(lfu *s, uint32_t x, uint32_t i)
{
    bucket *bb = &s->b[i];

    if (bb->first == XENSHAPE__NIL) {
        s->l[x].prev = s->l[x].next = x;
        bb->first = x;
    } else {
        xenshape__list_add_before(s->l, bb->first, x);
    }
    s->bk[x] = i;
}

/* Take x out of its bucket, releasing the bucket if it empties. */
static void frame_del(lfu *s, uint32_t x)
{
    uint32_t i = s->bk[x];
    bucket *bb = &s->b[i];

    if (s->l[x].next == x) {
        s->l[x].prev = s->l[x].next = XENSHAPE__NIL;
        bb->first = XENSHAPE__NIL;
        bucket_release(s, i);
    } else {
        if (bb->first == x)
            bb->first = s->l[x].next;
        xenshape__list_del(s->l, x);
    }
    s->bk[x] = XENSHAPE__NIL;
}

/* Move x to the back of bucket to, which may be its own. */
static void frame_move(lfu *s, uint32_t x, uint32_t to)
{
    bucket *bb = &s->b[to];

    if (s->bk[x] != to) {
        frame_del(s, x);
        frame_add(s, x, to);
    } else if (bb->first == x) {
        /* The ring is circular: the next frame becoming the first makes
         * x the last. */
        bb->first = s->l[x].next;
    } else {
        xenshape__list_del(s->l, x);
        xenshape__list_add_before(s->l, bb->first, x);
    }
}

static void increment(lfu *s, uint32_t x)
{
    uint32_t i = s->bk[x], nx, c = s->b[i].count, nbk;

    nx = s->b[i].next;
    if (c == UINT32_MAX) {
        frame_move(s, x, i);
    } else if (nx != XENSHAPE__NIL && s->b[nx].count == c + 1) {
        frame_move(s, x, nx);
    } else if (s->l[x].next == x) {
        /* Alone in its bucket: the bucket itself moves up one. */
        s->b[i].count = c + 1;
    } else {
        nbk = bucket_new(s, c + 1, i);
        /* No bucket left: the count stays, the frame goes to the back. */
        frame_move(s, x, nbk == XENSHAPE__NIL ? i : nbk);
    }
}

static int lfu_init(xenshape__policy **p_r, uint64_t nr_frames,
                    uint64_t seed, unsigned flags)
{
    lfu *s = NULL;
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
    s->pub.ops = &xenshape__policy_lfu;
    s->nr = (uint32_t)nr_frames;
    s->nb = (uint32_t)(nr_frames / 4 + 2);
    s->l = xenshape__malloc(nr_frames * sizeof(*s->l));
    s->bk = xenshape__malloc(nr_frames * sizeof(*s->bk));
    s->b = xenshape__malloc(s->nb * sizeof(*s->b));
    if (!s->l || !s->bk || !s->b) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < nr_frames; i++) {
        s->l[i].prev = s->l[i].next = XENSHAPE__NIL;
        s->bk[i] = XENSHAPE__NIL;
    }
    for (i = 0; i < s->nb; i++)
        s->b[i].next = i + 1 < s->nb ? (uint32_t)i + 1 : XENSHAPE__NIL;
    s->free_b = 0;
    s->lowest = s->highest = XENSHAPE__NIL;
    if (flags & XENSHAPE__POLICY_ALL_RESIDENT) {
        uint32_t b0 = bucket_new(s, 1, XENSHAPE__NIL);

        for (i = 0; i < nr_frames; i++)
            frame_add(s, (uint32_t)((nr_frames / 2 + i) % nr_frames), b0);
        s->resident = nr_frames;
    }
    *p_r = &s->pub;
    s = NULL;
    rc = 0;
 out:
    if (s) {
        free(s->l);
        free(s->bk);
        free(s->b);
    }
    free(s);
    return rc;
}

static void lfu_free(xenshape__policy *p)
{
    lfu *s = (lfu *)p;

    if (!s)
        return;
    free(s->l);
    free(s->bk);
    free(s->b);
    free(s);
}

static void lfu_access(xenshape__policy *p, uint64_t gfn)
{
    lfu *s = (lfu *)p;

    if (gfn < s->nr && s->bk[gfn] != XENSHAPE__NIL)
        increment(s, (uint32_t)gfn);
}

static void lfu_admit(xenshape__policy *p, uint64_t gfn)
{
    lfu *s = (lfu *)p;
    uint32_t i;

    if (gfn >= s->nr)
        return;
    if (s->bk[gfn] != XENSHAPE__NIL) {
        increment(s, (uint32_t)gfn);
        return;
    }
    i = s->lowest;
    if (i == XENSHAPE__NIL || s->b[i].count != 1) {
        i = bucket_new(s, 1, XENSHAPE__NIL);
        /* No bucket left: join the lowest count there is. */
        if (i == XENSHAPE__NIL)
            i = s->lowest;
    }
    frame_add(s, (uint32_t)gfn, i);
    s->resident++;
}

static void lfu_evicted(xenshape__policy *p, uint64_t gfn)
{
    lfu *s = (lfu *)p;

    if (gfn >= s->nr || s->bk[gfn] == XENSHAPE__NIL)
        return;
    frame_del(s, (uint32_t)gfn);
    s->resident--;
}

static unsigned lfu_choose(xenshape__policy *p, xenshape__policy_filter *ok,
                           void *arg, uint64_t *out, unsigned n)
{
    lfu *s = (lfu *)p;
    uint32_t i = s->lowest, x, nx, ni;
    unsigned found = 0;
    uint64_t seen = 0;

    x = i == XENSHAPE__NIL ? XENSHAPE__NIL : s->b[i].first;
    /* Lowest count first, oldest first within a count.  A refused frame
     * joins the highest count, at its back, so the walk reaches it last
     * and each resident frame is looked at once at most. */
    while (x != XENSHAPE__NIL && found < n && seen < s->resident) {
        seen++;
        nx = s->l[x].next == s->b[i].first ? XENSHAPE__NIL : s->l[x].next;
        ni = s->b[i].next;
        if (ok(arg, x))
            out[found++] = x;
        else
            frame_move(s, x, s->highest);
        if (nx == XENSHAPE__NIL) {
            i = ni;
            nx = i == XENSHAPE__NIL ? XENSHAPE__NIL : s->b[i].first;
        }
        x = nx;
    }
    return found;
}

const struct xenshape__policy_ops xenshape__policy_lfu = {
    .name = "lfu",
    .summary = "least frequently used, counts never age (reference point)",
    .meta_bytes_per_frame = sizeof(xenshape__link) + sizeof(uint32_t) +
                            sizeof(bucket) / 4,
    .init = lfu_init,
    .free = lfu_free,
    .access = lfu_access,
    .admit = lfu_admit,
    .evicted = lfu_evicted,
    .choose = lfu_choose,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
