/*
 * select.h - page selection: which resident guest frames the paging
 * engine moves out next.
 *
 * Every policy sits behind one ops table, chosen by name.  The paging
 * engine and the trace replay tool (tools/xenshape-replay) drive the same
 * code through the inline wrappers below, so what the replay measures is
 * what the engine runs.  A policy only ever learns what Dom0 can observe:
 *
 *   admit(gfn)    the frame became resident: a fault on a paged-out frame
 *                 (which is a reference to it), or a prefetch;
 *   access(gfn)   an observed reference to a resident frame: with real Xen
 *                 a sampled first-touch event (mem_access n2rwx) or a bit
 *                 of the log-dirty bitmap, see observe.h; in the replay's
 *                 "--observe all" mode, every reference;
 *   evicted(gfn)  the frame left RAM.
 *
 * choose() proposes victims and changes no residency: the engine evicts
 * what it can and reports each success with evicted().  A policy must
 * cope with an engine that fails to evict what it proposed, with
 * evicted() for frames it never proposed, with admit() of a frame it
 * believes resident (taken as a reference) and with access() or
 * evicted() of a frame it believes paged out (ignored).  Frames are the
 * gfns 0 .. nr_frames-1 of one domain; anything else is ignored.
 *
 * Costs: every call is O(1) amortised per frame it handles, and the
 * metadata is meta_bytes_per_frame bytes for each of the nr_frames gfns
 * (resident or not) plus a struct of a few dozen bytes.  The policies and
 * how they compare: docs/page-selection.md.
 *
 * Not thread-safe: one policy instance is driven by one thread at a time
 * (the engine holds the domain lock).  Policies never print, never call
 * the hypervisor and never fail after init.
 */

#ifndef XENSHAPE_SELECT_H
#define XENSHAPE_SELECT_H

#include <stdbool.h>
#include <stdint.h>

/* The largest gfn space a policy accepts: a little under 2^30 frames,
 * 4 TiB of guest memory.  Policies keep frame numbers in 32-bit links
 * with flag bits in the top two. */
#define XENSHAPE__POLICY_MAX_FRAMES ((1ull << 30) - 64)

/* init flags. */
/* Start with every frame resident, as at attach time, in O(nr_frames)
 * without nr_frames admit() calls.  Without it no frame is resident. */
#define XENSHAPE__POLICY_ALL_RESIDENT 0x1u
/* access() reports samples (first touches of armed frames, dirty bits),
 * not every reference: hits are mostly unseen, so a policy must not learn
 * from their absence.  The engine on real Xen always sets it; the replay
 * sets it for "--observe xen". */
#define XENSHAPE__POLICY_SAMPLED      0x2u

typedef struct xenshape__policy xenshape__policy;

/* true: gfn may be chosen now.  Called only for frames the policy
 * believes resident. */
typedef bool xenshape__policy_filter(void *arg, uint64_t gfn);

struct xenshape__policy_ops {
    const char *name;
    const char *summary;             /* one line, for --help and docs */
    /* Metadata per frame of the gfn space, in bytes, all arrays counted. */
    unsigned meta_bytes_per_frame;

    /* 0, XENSHAPE_EINVAL (nr_frames is 0 or above
     * XENSHAPE__POLICY_MAX_FRAMES) or XENSHAPE_ENOMEM.  seed feeds any
     * randomness, so runs repeat.  *p_r is released with free(). */
    int (*init)(xenshape__policy **p_r, uint64_t nr_frames, uint64_t seed,
                unsigned flags);
    void (*free)(xenshape__policy *p);     /* NULL ok */

    void (*access)(xenshape__policy *p, uint64_t gfn);
    void (*admit)(xenshape__policy *p, uint64_t gfn);
    void (*evicted)(xenshape__policy *p, uint64_t gfn);

    /*
     * Write up to n distinct resident frames that ok(arg, gfn) accepts
     * into out, best victim first; returns how many.  Fewer than n only
     * when fewer resident frames are acceptable.  A frame ok() refuses is
     * treated as just used (it is pinned or busy), which keeps the cost
     * amortised O(1) however many frames the engine refuses.
     */
    unsigned (*choose)(xenshape__policy *p, xenshape__policy_filter *ok,
                       void *arg, uint64_t *out, unsigned n);
};

/* Every instance starts with this header; the wrappers go through it. */
struct xenshape__policy {
    const struct xenshape__policy_ops *ops;
};

extern const struct xenshape__policy_ops xenshape__policy_default;
extern const struct xenshape__policy_ops xenshape__policy_lfu;
extern const struct xenshape__policy_ops xenshape__policy_lru;
extern const struct xenshape__policy_ops xenshape__policy_clock;
extern const struct xenshape__policy_ops xenshape__policy_random;

/* Look a policy up by name ("default", "lfu", "lru", "clock", "random");
 * NULL if there is none. */
const struct xenshape__policy_ops *xenshape__policy_lookup(const char *name);
/* Names of all policies, "default" first, NULL-terminated, static. */
const char *const *xenshape__policy_names(void);

/* Create an instance of the named policy (NULL: "default").
 * XENSHAPE_ENOENT: no such policy; otherwise as ops->init. */
int xenshape__policy_new(xenshape__policy **p_r, const char *name,
                         uint64_t nr_frames, uint64_t seed, unsigned flags);

static inline const char *xenshape__policy_name(const xenshape__policy *p)
{
    return p->ops->name;
}

static inline void xenshape__policy_free(xenshape__policy *p)
{
    if (p)
        p->ops->free(p);
}

static inline void xenshape__policy_access(xenshape__policy *p, uint64_t gfn)
{
    p->ops->access(p, gfn);
}

static inline void xenshape__policy_admit(xenshape__policy *p, uint64_t gfn)
{
    p->ops->admit(p, gfn);
}

static inline void xenshape__policy_evicted(xenshape__policy *p,
                                            uint64_t gfn)
{
    p->ops->evicted(p, gfn);
}

static inline unsigned xenshape__policy_choose(xenshape__policy *p,
                                               xenshape__policy_filter *ok,
                                               void *arg, uint64_t *out,
                                               unsigned n)
{
    return p->ops->choose(p, ok, arg, out, n);
}

#endif /* XENSHAPE_SELECT_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
