/*
 * opt.c - Belady's offline optimum (MIN) for demand paging, the yardstick
 * of the policy benchmark: on a fault with RAM full, evict the resident
 * page whose next use lies furthest in the future.
 *
 * One backward pass gives every reference the index of the next reference
 * to the same page; the forward pass keeps the resident pages in a binary
 * max-heap keyed by that index.  A hit pushes the page again with its new
 * key rather than updating in place: the stale entry's key is the present
 * index, smaller than every live key, so it never reaches the top while a
 * live entry exists, and the heap is compacted when stale entries pile
 * up.  O(n log n) time, O(pages + frames) memory besides the next-use
 * array.
 */

#include <stdlib.h>

#include "private.h"
#include "select/replay.h"

int xenshape__opt_next_use(const xenshape__trace *t, uint32_t **next_r)
{
    uint32_t *next = NULL, *last = NULL;
    uint64_t i;
    int rc;

    if (t->nr_refs >= UINT32_MAX) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    next = xenshape__malloc(t->nr_refs * sizeof(*next));
    last = xenshape__malloc((uint64_t)t->nr_pages * sizeof(*last));
    if (!next || !last) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < t->nr_pages; i++)
        last[i] = (uint32_t)t->nr_refs;
    for (i = t->nr_refs; i-- > 0;) {
        next[i] = last[t->refs[i]];
        last[t->refs[i]] = (uint32_t)i;
    }
    *next_r = next;
    next = NULL;
    rc = 0;
 out:
    free(next);
    free(last);
    return rc;
}

static void sift_down(uint64_t *h, uint64_t n, uint64_t i)
{
    uint64_t v = h[i], c;

    for (;;) {
        c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1] > h[c])
            c++;
        if (h[c] <= v)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

static void sift_up(uint64_t *h, uint64_t i)
{
    uint64_t v = h[i], p;

    while (i) {
        p = (i - 1) / 2;
        if (h[p] >= v)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

int xenshape__opt_faults_next(const xenshape__trace *t, const uint32_t *next,
                              uint64_t frames, uint64_t *faults_r)
{
    uint32_t *key = NULL;            /* next use of a resident page */
    uint8_t *res = NULL;
    uint64_t *heap = NULL, hn = 0, hcap, nres = 0, faults = 0, i, j, e;
    uint32_t p;
    int rc;

    if (!frames) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    if (frames > t->nr_pages)
        frames = t->nr_pages;
    hcap = 4 * frames + 1024;
    key = xenshape__malloc((uint64_t)t->nr_pages * sizeof(*key));
    res = xenshape__calloc(t->nr_pages, 1);
    heap = xenshape__malloc((hcap + 1) * sizeof(*heap));
    if (!key || !res || !heap) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < t->nr_refs; i++) {
        p = t->refs[i];
        if (!res[p]) {
            faults++;
            if (nres == frames) {
                /* The top is always live: see the comment at the top. */
                for (;;) {
                    e = heap[0];
                    heap[0] = heap[--hn];
                    sift_down(heap, hn, 0);
                    if (res[(uint32_t)e] && key[(uint32_t)e] == e >> 32)
                        break;
                }
                res[(uint32_t)e] = 0;
                nres--;
            }
            res[p] = 1;
            nres++;
        }
        key[p] = next[i];
        if (hn == hcap) {
            /* Drop the stale entries and rebuild. */
            for (j = 0, e = 0; j < hn; j++)
                if (res[(uint32_t)heap[j]] &&
                    key[(uint32_t)heap[j]] == heap[j] >> 32)
                    heap[e++] = heap[j];
            hn = e;
            for (j = hn / 2; j-- > 0;)
                sift_down(heap, hn, j);
        }
        heap[hn] = ((uint64_t)next[i] << 32) | p;
        sift_up(heap, hn++);
    }
    *faults_r = faults;
    rc = 0;
 out:
    free(key);
    free(res);
    free(heap);
    return rc;
}

int xenshape__opt_faults(const xenshape__trace *t, uint64_t frames,
                         uint64_t *faults_r)
{
    uint32_t *next = NULL;
    int rc;

    rc = xenshape__opt_next_use(t, &next);
    if (rc)
        goto out;
    rc = xenshape__opt_faults_next(t, next, frames, faults_r);
 out:
    free(next);
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
