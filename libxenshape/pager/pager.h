/*
 * pager.h - the paging engine's private state: the context behind the
 * public xenshape_ctx, one record per attached domain, and the victim
 * selection interface.
 *
 * Two threads share this state.  The caller's thread runs the public
 * calls and xenshape_run() (eviction, prefetch, attach, detach).  The
 * library's ring thread serves page-in requests as they arrive, ahead of
 * any eviction work.  Locks, always taken in this order:
 *   ctx->ring_lock  the set of attached domains, as the ring thread sees it;
 *   dom->lock       a domain's gfn -> record map and counters.
 * Neither is held across store I/O on the eviction path.
 */

#ifndef XENSHAPE_PAGER_H
#define XENSHAPE_PAGER_H

#include <pthread.h>

#include "private.h"
#include "hv/hv.h"
#include "store/store.h"
#include "select/select.h"

#define XENSHAPE__MAX_DOMS 256

/* Frames a single eviction batch moves. */
#define XENSHAPE__EVICT_BATCH 256u
/* Frames a single prefetch batch moves. */
#define XENSHAPE__PREFETCH_BATCH 64u
/* Requests waiting for host memory, per domain. */
#define XENSHAPE__MAX_DEFERRED 64u

/* Per-gfn flags of the engine. */
#define XENSHAPE__GFN_UNPAGEABLE 0x01  /* refused nomination recently */
#define XENSHAPE__GFN_INFLIGHT   0x02  /* in an eviction batch right now */
#define XENSHAPE__GFN_HOLE       0x08  /* not RAM: MMIO hole, special
                                          pages; never a victim */
#define XENSHAPE__GFN_NOMINATED  0x04  /* nominated, then neither evicted
                                          nor touched: see detach */

typedef struct xenshape__dom {
    uint32_t domid;
    uint32_t dom_tag;
    uint32_t port;
    uint64_t nr_gfns;
    xenshape__hv_dom *hvd;
    vm_event_back_ring_t back;
    pthread_mutex_t lock;
    bool lock_init;

    xenshape__store_rec *gfn_rec;    /* 0 = frame not held by us */
    uint8_t *gfn_flags;
    xenshape__policy *pol;           /* victim selection */

    uint64_t target;
    bool no_fill;                    /* below target: wait for faults */
    uint64_t held;
    bool reattached;                 /* we inherited a ring */
    int intent_fd;                   /* see state.c */
    bool unclean;                    /* may hold frames nominated by a dead
                                        pager: never disable paging */
    bool paused_by_pager;
    bool notify_pending;             /* last notify failed: retry */
    bool ack_failing;                /* last event ack failed (said once) */
    int error;                       /* latched XENSHAPE_E* */

    /* Requests we took but cannot answer yet (host memory). */
    vm_event_request_t deferred[XENSHAPE__MAX_DEFERRED];
    unsigned nr_deferred;
    /* Requests we will not answer: their data failed verification. */
    unsigned nr_parked;

    /* Access sampling (sample.c): NULL/0 when the domain has none. */
    struct xenshape__observe *obs;
    unsigned obs_modes;              /* XENSHAPE__HV_ACCESS_* on */
    uint64_t obs_next_ns;            /* next epoch */
    int obs_failed;                  /* epochs failed in a row */
    bool obs_window;                 /* log-dirty is on (its window) */
    uint64_t *obs_buf;               /* access_read gfns or dirty bitmap */

    /* Frames referenced since the last xenshape_domain_usage(): one bit
     * per gfn, and how many are set. */
    uint64_t *ref_bm;
    uint64_t ref_count;
    /* n2rwx only: the frames armed at the last two
     * xenshape_domain_usage() calls, newest first (one allocation). */
    uint64_t *idle_snap[2];

    xenshape_domstats st;
    void *pagein_buf;                /* ring thread's 4 KiB buffer */
} xenshape__dom;

/* Records recovered from the store, waiting for their domain's attach. */
typedef struct xenshape__orphan {
    uint32_t domid, dom_tag;
    uint64_t gfn;
    xenshape__store_rec rec;
} xenshape__orphan;

struct xenshape_ctx {
    xentoollog_logger *lg;
    char *backend, *sim_socket, *store_path, *state_dir;
    uint64_t store_size;
    unsigned observe_modes;          /* XENSHAPE_OBSERVE_* allowed */
    struct xenshape__sim_host *sim_host;   /* tests: in-process host */
    bool opened;

    xenshape__hv_handle *hv;
    xenshape__store *store;

    pthread_mutex_t ring_lock;
    bool ring_lock_init;
    xenshape__dom *doms[XENSHAPE__MAX_DOMS];
    unsigned nr_doms;

    xenshape__orphan *orphans;
    size_t nr_orphans, cap_orphans;

    int epfd;                        /* ring thread waits here */
    int ctl_fd;                      /* eventfd: wakes the ring thread */
    int want_run_fd;                 /* eventfd: xenshape_fd() */
    void *prefetch_bufs;             /* XENSHAPE__PREFETCH_BATCH pages */
    void *evict_bufs;                /* XENSHAPE__EVICT_BATCH pages */
    pthread_t ring_thread;
    bool ring_thread_started;
    volatile bool stopping;
};

/* pager.c */
int xenshape__pager_start(xenshape_ctx *ctx);
void xenshape__pager_stop(xenshape_ctx *ctx);
xenshape__dom *xenshape__pager_find(xenshape_ctx *ctx, uint32_t domid);
uint32_t xenshape__dom_tag(const uint8_t handle[16]);
/* The page-in path of the ring thread, for one held frame, callable
 * directly (benchmarks).  0, -ENOENT (not held), or as load. */
int xenshape__pager_load_gfn(xenshape_ctx *ctx, uint32_t domid, uint64_t gfn,
                             void *buf);

/* Count gfn in the domain's working set.  Caller holds d->lock. */
static inline void xenshape__mark_ref(xenshape__dom *d, uint64_t gfn)
{
    uint64_t bit = UINT64_C(1) << (gfn % 64);

    if (gfn < d->nr_gfns && !(d->ref_bm[gfn / 64] & bit)) {
        d->ref_bm[gfn / 64] |= bit;
        d->ref_count++;
    }
}

/*
 * sample.c: observation of resident-frame use, on top of the faults.
 * start and stop never fail the caller (observation is an aid, not a
 * duty): start leaves d without observation if nothing works.  tick runs
 * one epoch when due; the caller's thread, d listed.  admit / evicted
 * keep the sampler's view of residency; the caller holds d->lock.
 */
void xenshape__sample_start(xenshape_ctx *ctx, xenshape__dom *d);
void xenshape__sample_tick(xenshape_ctx *ctx, xenshape__dom *d,
                           uint64_t now_ns);
void xenshape__sample_stop(xenshape_ctx *ctx, xenshape__dom *d);
void xenshape__track_admit(xenshape__dom *d, uint64_t gfn);
void xenshape__track_evicted(xenshape__dom *d, uint64_t gfn);

/* state.c: the ring port and the eviction intent of each domain. */
int xenshape__state_port_save(xenshape_ctx *ctx, uint32_t domid,
                              uint32_t tag, uint32_t port);
int xenshape__state_port_load(xenshape_ctx *ctx, uint32_t domid,
                              uint32_t tag, uint32_t *port_r);
void xenshape__state_port_forget(xenshape_ctx *ctx, uint32_t domid);
int xenshape__state_intent_open(xenshape_ctx *ctx, uint32_t domid,
                                int *fd_r);
int xenshape__state_intent_save(xenshape_ctx *ctx, int fd, uint32_t tag,
                                const uint64_t *gfns, unsigned n,
                                bool durable);
unsigned xenshape__state_intent_load(xenshape_ctx *ctx, uint32_t domid,
                                     uint32_t tag, uint64_t *gfns);

/* For tests: the in-process simulated host a "sim" context should use
 * instead of connecting to a socket.  Borrowed. */
int xenshape__ctx_set_sim_host(xenshape_ctx *ctx,
                               struct xenshape__sim_host *h);

#endif /* XENSHAPE_PAGER_H */
