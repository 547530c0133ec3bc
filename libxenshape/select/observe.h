/*
 * observe.h - what Dom0 can learn about references to RESIDENT frames,
 * and the budget it spends learning it.
 *
 * Faults on paged-out frames are seen exactly (the paging ring), so a
 * policy always knows when a frame comes back.  References to resident
 * frames are invisible unless the backend gathers them, and Xen 4.17 has
 * two ways (docs/page-selection.md, section "Observation model"):
 *
 *   n2rwx sampling: the engine arms a set of gfns with mem_access n2rwx
 *     (hv op access_arm).  The first touch of an armed gfn makes Xen lift
 *     the restriction itself and queue one asynchronous event; the gfn
 *     then stays unarmed until armed again.  The engine collects events
 *     once per epoch (access_read).  An armed gfn that is not touched
 *     stays armed, at no cost, across epochs.  Paging a frame out loses
 *     its arming.
 *   log-dirty: a bitmap of the gfns written since the last read
 *     (dirty_read with clean), writes only.
 *
 * This component decides which gfns to arm each epoch: a cursor walks the
 * gfn space round and round and arms the next resident frames that are
 * not armed already, up to the epoch's budget.  The budget bounds the
 * events (each costs the guest an EPT violation exit and a trip through
 * an 8-slot ring Dom0 drains once per epoch) whatever the guest does.
 * The engine and the replay tool both use it; the replay additionally
 * plays Xen's part (replay.h).
 *
 * Metadata: 2 bits per frame (resident, armed).
 */

#ifndef XENSHAPE_OBSERVE_H
#define XENSHAPE_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "select/select.h"

typedef struct xenshape__observe_params {
    /* Arm at most resident / arm_div frames per epoch (at least 1)... */
    uint32_t arm_div;
    /* ...and never more than arm_max per epoch. */
    uint32_t arm_max;
    /* Epoch length in the engine (time). */
    uint32_t epoch_ms;
    /* Epoch length in the replay (references): resident / epoch_div,
     * at least epoch_min references. */
    uint32_t epoch_div;
    uint32_t epoch_min;
} xenshape__observe_params;

/*
 * The default budget (docs/page-selection.md, "Observation model"): each
 * epoch arms at most 1/64 of the resident frames and never more than 1024,
 * so a resident frame is re-armed at most once every 64 epochs after its
 * last event, and a guest pays at most 1024 monitor events per epoch.  The
 * engine's epoch is 100 ms (at most ~10k events per second per domain);
 * the replay's is a quarter of the RAM budget in references (at least 16),
 * so at most one reference in 16 can raise an event.
 */
#define XENSHAPE__OBSERVE_ARM_DIV    64u
#define XENSHAPE__OBSERVE_ARM_MAX    1024u
#define XENSHAPE__OBSERVE_EPOCH_MS   100u
#define XENSHAPE__OBSERVE_EPOCH_DIV  4u
#define XENSHAPE__OBSERVE_EPOCH_MIN  16u

void xenshape__observe_params_default(xenshape__observe_params *prm);

typedef struct xenshape__observe xenshape__observe;

/* flags: XENSHAPE__POLICY_ALL_RESIDENT, as for policies.  prm NULL: the
 * defaults; it is copied.  0, XENSHAPE_EINVAL or XENSHAPE_ENOMEM. */
int xenshape__observe_new(xenshape__observe **o_r, uint64_t nr_frames,
                          const xenshape__observe_params *prm,
                          unsigned flags);
void xenshape__observe_free(xenshape__observe *o);     /* NULL ok */

/* Residency, as told to the policy (admit / evicted).  An evicted frame
 * is no longer armed: paging it out replaced its p2m entry. */
void xenshape__observe_admit(xenshape__observe *o, uint64_t gfn);
void xenshape__observe_evicted(xenshape__observe *o, uint64_t gfn);

/* How many frames to arm in this epoch. */
uint32_t xenshape__observe_budget(const xenshape__observe *o);

/*
 * Pick up to max frames to arm now: resident, not armed, accepted by ok
 * (may be NULL), continuing the walk where the last call stopped.  They
 * are marked armed; the engine passes them to access_arm (and, should
 * that fail, to xenshape__observe_disarm).  Returns how many.  A call
 * looks at O(max + nr_frames / 64) frames at worst.
 */
uint32_t xenshape__observe_pick(xenshape__observe *o,
                                xenshape__policy_filter *ok, void *arg,
                                uint64_t *gfns, uint32_t max);

/* An event for gfn arrived (access_read): true if it was armed and is
 * resident, i.e. the policy should hear access(gfn).  It is unarmed. */
bool xenshape__observe_seen(xenshape__observe *o, uint64_t gfn);

/* A log-dirty bitmap (dirty_read with clean: bit g set = gfn g written
 * since the last read), for nr gfns: the policy hears access(g) for every
 * written gfn that is resident.  Returns how many.  O(nr / 64 + written). */
uint64_t xenshape__observe_dirty(xenshape__observe *o, const uint64_t *bitmap,
                                 uint64_t nr, xenshape__policy *p);

/* Forget that gfn is armed (the arming failed or was undone). */
void xenshape__observe_disarm(xenshape__observe *o, uint64_t gfn);

bool xenshape__observe_armed(const xenshape__observe *o, uint64_t gfn);

/*
 * The frames a guest may have used in the last two calls' time, from
 * above: every resident frame but those known idle, and every frame of
 * ref (a bitmap of frames seen used: faults) that is not resident now.
 * A frame is known idle when it was armed at both earlier calls and is
 * armed still: no access raised an event in between.  (Once touched, a
 * frame is armed again only when the walk comes round, resident / budget
 * epochs later.)  snap[0] and snap[1] are bitmaps of nr_frames bits the
 * caller keeps, zero at first: the armed sets at the last two calls,
 * newest first, which this call shifts.  Two intervals rather than one,
 * because a frame the guest uses every second or two is in its working
 * set as surely as one it uses ten times a second.  At most nr_frames.
 * O(nr_frames / 64).
 */
uint64_t xenshape__observe_usage(const xenshape__observe *o,
                                 uint64_t *snap[2], const uint64_t *ref);
bool xenshape__observe_resident(const xenshape__observe *o, uint64_t gfn);
uint64_t xenshape__observe_nr_resident(const xenshape__observe *o);

#endif /* XENSHAPE_OBSERVE_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
