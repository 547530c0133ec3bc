/*
 * sim_guest.c - what a guest vCPU does to its memory in the simulated
 * host, and how the host proves that memory is right.
 *
 * Every frame's content is a function of (domid, gfn, write generation):
 * a 4 KiB xorshift stream seeded from those, or all zeros, or one of a
 * few patterns shared by many frames (so a page store's zero-page and
 * dedup paths see work).  The generations live in host-private memory.
 * A read compares the whole frame with what it must be, so a frame that
 * a pager lost or mixed up is caught the first time the guest looks.
 *
 * An access to an rw frame is lock-free: a compare-and-swap on the gfn's
 * p2m word takes an accessor count (exclusive for a write), the frame is
 * read or written, the count is dropped.  Anything else is Xen's EPT
 * violation path, p2m_mem_paging_populate() in particular, done under the
 * domain lock: claim a ring slot (waiting, as on Xen's wait queue, while
 * the ring is full), paging_out or paged becomes paging_in, the vCPU is
 * vm_event-paused, the request goes on the ring, the pager is notified.
 * The vCPU then sleeps, holding no lock, until a response unpauses it,
 * and retries the access.  A guest touch of a paging_in frame is, as in
 * Xen's hvm_hap_nested_page_fault(), a "spurious" fault: nothing is sent
 * and the vCPU retries until somebody makes the frame rw.
 */

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "private.h"
#include "hv/hv.h"
#include "sim/sim_host.h"

#define FRAME_WORDS (XENSHAPE__SIM_PAGE / 8)
#define DUP_PATTERNS 8
#define SPURIOUS_WAIT_MS 2
#define BLOCK_WAIT_MS 100

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t pattern_key(uint64_t domid, uint64_t gfn, uint64_t gen)
{
    uint64_t k = mix64(mix64(domid * 0x9e3779b97f4a7c15ull + gfn) ^
                       (gen + 0x632be59bd9b4e019ull));

    return k ? k : 1;   /* 0 means the zero page */
}

uint64_t xenshape__sim_expected_key(struct xenshape__sim_dom *d,
                                    uint64_t gfn)
{
    uint32_t g = atomic_load_explicit(&d->gen[gfn], memory_order_relaxed);
    uint64_t h;
    double u;

    if (g & XENSHAPE__SIM_GEN_ZERO)
        return 0;
    if (g)
        return pattern_key(d->domid, gfn, g);
    /* Never written: the class chosen at create. */
    h = mix64(d->seed ^ mix64(gfn + 0x2545f4914f6cdd1dull));
    u = (double)(h >> 11) * 0x1.0p-53;
    if (u < d->zero)
        return 0;
    if (u < d->zero + d->dup)
        return pattern_key(0xffffffffull, h % DUP_PATTERNS, 0);
    return pattern_key(d->domid, gfn, 0);
}

void xenshape__sim_fill(void *frame, uint64_t key)
{
    uint64_t *w = frame, x = key;
    unsigned i;

    if (!key) {
        memset(frame, 0, XENSHAPE__SIM_PAGE);
        return;
    }
    for (i = 0; i < FRAME_WORDS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w[i] = x;
    }
}

bool xenshape__sim_frame_ok(const void *frame, uint64_t key)
{
    const volatile uint64_t *w = frame;
    uint64_t x = key, bad = 0;
    unsigned i;

    if (!key) {
        for (i = 0; i < FRAME_WORDS; i++)
            bad |= w[i];
        return !bad;
    }
    for (i = 0; i < FRAME_WORDS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bad |= w[i] ^ x;
    }
    return !bad;
}

/* ---- vCPU scheduling state ---------------------------------------------- */

static void run_enter(struct xenshape__sim_dom *d, unsigned vc)
{
    atomic_fetch_add(&d->v.ctl->vcpu[vc].running, 1);
}

/* Leaving guest code: a pauser may be waiting for exactly this. */
static void run_leave(struct xenshape__sim_dom *d, unsigned vc)
{
    atomic_fetch_sub(&d->v.ctl->vcpu[vc].running, 1);
    if (atomic_load(&d->v.de->pause_count))
        xenshape__sim_futex_bump(&d->v.ctl->park);
}

/*
 * Wait while the vCPU may not run: toolstack pause, vm_event pause, or a
 * pause for a nearly full ring.  -ECANCELED when it never will again.
 */
static int gate(struct xenshape__sim_dom *d, unsigned vc)
{
    struct xenshape__sim_view *v = &d->v;
    struct xenshape__sim_vcpu_shm *vs = &v->ctl->vcpu[vc];
    uint32_t seq, pc;

    for (;;) {
        seq = atomic_load(&vs->wake);
        if (atomic_load(&d->stop) || atomic_load(&v->de->crashed) ||
            atomic_load(&v->ctl->dying))
            return -ECANCELED;
        pc = atomic_load(&v->de->pause_count);
        if (!pc && !atomic_load(&vs->blocked) && !atomic_load(&vs->vm_pause))
            return 0;
        run_leave(d, vc);
        if (pc)
            xenshape__sim_futex_wait(&v->de->pause_count, pc, BLOCK_WAIT_MS);
        else
            xenshape__sim_futex_wait(&vs->wake, seq, BLOCK_WAIT_MS);
        run_enter(d, vc);
    }
}

/* ---- the access itself -------------------------------------------------- */

static int do_access(struct xenshape__sim_dom *d, unsigned vc, uint64_t gfn,
                     bool write)
{
    struct xenshape__sim_vcpu *vp = &d->vcpu[vc];
    uint8_t *frame = d->v.mem + gfn * XENSHAPE__SIM_PAGE;

    if (write) {
        uint32_t g = atomic_load_explicit(&d->gen[gfn],
                                          memory_order_relaxed);

        g = (g & ~XENSHAPE__SIM_GEN_ZERO) + 1;
        if (g & XENSHAPE__SIM_GEN_ZERO)
            g = 1;
        atomic_store_explicit(&d->gen[gfn], g, memory_order_relaxed);
        xenshape__sim_fill(frame, pattern_key(d->domid, gfn, g));
        atomic_fetch_add_explicit(&vp->writes, 1, memory_order_relaxed);
        if (atomic_load_explicit(&d->v.ctl->access_modes,
                                 memory_order_relaxed) &
            XENSHAPE__HV_ACCESS_LOGDIRTY) {
            _Atomic uint64_t *word = &d->v.dirty[gfn / 64];
            uint64_t bit = 1ull << (gfn % 64);

            if (!(atomic_load_explicit(word, memory_order_relaxed) & bit))
                atomic_fetch_or(word, bit);
        }
        return 0;
    }
    atomic_fetch_add_explicit(&vp->reads, 1, memory_order_relaxed);
    if (!xenshape__sim_frame_ok(frame, xenshape__sim_expected_key(d, gfn))) {
        atomic_fetch_add(&vp->wrong_reads, 1);
        return -EFAULT;
    }
    return 0;
}

/* First touch of an n2rwx frame: Xen lifts the restriction itself and
 * queues an asynchronous event (only if a monitor is listening). */
static void access_event(struct xenshape__sim_dom *d, uint64_t gfn)
{
    struct xenshape__sim_ctl *ctl = d->v.ctl;

    if (!(atomic_load(&ctl->access_modes) & XENSHAPE__HV_ACCESS_N2RWX))
        return;
    if (xenshape__sim_lock(&d->v))
        return;
    if (ctl->aq_count == XENSHAPE__SIM_AQ_SIZE) {
        atomic_fetch_add_explicit(&ctl->st.access_drops, 1,
                                  memory_order_relaxed);
    } else {
        ctl->aq[(ctl->aq_head + ctl->aq_count) &
                (XENSHAPE__SIM_AQ_SIZE - 1)] = gfn;
        ctl->aq_count++;
        atomic_fetch_add_explicit(&ctl->st.access_events, 1,
                                  memory_order_relaxed);
    }
    xenshape__sim_unlock(&d->v);
}

/* Xen spins the vCPU in and out of the guest; we sleep on the p2m word
 * until its type changes, with a short timeout as Xen's next exit. */
static void spurious_wait(struct xenshape__sim_dom *d, unsigned vc,
                          uint64_t gfn)
{
    _Atomic uint32_t *p = &d->v.p2m[gfn];
    uint32_t w = atomic_load(p);

    atomic_fetch_add_explicit(&d->v.ctl->st.spurious_faults, 1,
                              memory_order_relaxed);
    for (;;) {
        if (xenshape__sim_p2m_type(w) != XENSHAPE__SIM_T_PAGING_IN)
            return;
        if (w & XENSHAPE__SIM_P2M_WAITERS)
            break;
        if (atomic_compare_exchange_weak(p, &w,
                                         w | XENSHAPE__SIM_P2M_WAITERS)) {
            w |= XENSHAPE__SIM_P2M_WAITERS;
            break;
        }
    }
    run_leave(d, vc);
    xenshape__sim_futex_wait(p, w, SPURIOUS_WAIT_MS);
    run_enter(d, vc);
}

/* Repopulate a ballooned gfn, zeroed, as the guest's balloon-in would.
 * Domain lock held. */
static int balloon_in(struct xenshape__sim_dom *d, uint64_t gfn)
{
    uint32_t g;
    int r;

    r = xenshape__sim_charge(&d->v);
    if (r)
        return r;
    g = atomic_load(&d->gen[gfn]);
    atomic_store(&d->gen[gfn], g | XENSHAPE__SIM_GEN_ZERO);
    atomic_store(&d->v.p2m[gfn], XENSHAPE__SIM_T_RW);
    return 0;
}

/*
 * Wait for a free ring slot on Xen's wait queue.  Called with the domain
 * lock held; returns with it released.
 */
static void wait_ring_space(struct xenshape__sim_dom *d, unsigned vc)
{
    struct xenshape__sim_ctl *ctl = d->v.ctl;
    uint32_t seq;

    ctl->ring_waiters++;
    atomic_fetch_add_explicit(&ctl->st.ring_waits, 1, memory_order_relaxed);
    seq = atomic_load(&ctl->ring_space);
    xenshape__sim_unlock(&d->v);
    run_leave(d, vc);
    while (atomic_load(&ctl->ring_space) == seq && !atomic_load(&d->stop) &&
           !atomic_load(&ctl->dying))
        xenshape__sim_futex_wait(&ctl->ring_space, seq, BLOCK_WAIT_MS);
    run_enter(d, vc);
    if (!xenshape__sim_lock(&d->v)) {
        ctl->ring_waiters--;
        xenshape__sim_unlock(&d->v);
    }
}

/*
 * p2m_mem_paging_populate() for a guest vCPU on a paging_out or paged
 * frame.  Domain lock held; returns with it released.
 */
static void populate(struct xenshape__sim_dom *d, unsigned vc, uint64_t gfn,
                     unsigned t)
{
    struct xenshape__sim_view *v = &d->v;
    struct xenshape__sim_ctl *ctl = v->ctl;
    struct xenshape__sim_intent *in = &ctl->intent;
    _Atomic uint32_t *p = &v->p2m[gfn];
    vm_event_request_t req;
    uint32_t w, nw, flags = 0;

    if (t == XENSHAPE__SIM_T_PAGING_OUT)
        flags = MEM_PAGING_EVICT_FAIL;
    in->gfn = gfn;
    in->vcpu = vc;
    in->pause_before = atomic_load(&ctl->vcpu[vc].vm_pause);
    in->ring_idx = ctl->req_prod_pvt;
    in->old_word = t;
    atomic_store(&in->op, XENSHAPE__SIM_INTENT_POPULATE);
    w = atomic_load(p);
    do {
        nw = (w & ~XENSHAPE__SIM_P2M_TYPE) | XENSHAPE__SIM_T_PAGING_IN;
        if (t == XENSHAPE__SIM_T_PAGING_OUT)
            nw |= XENSHAPE__SIM_P2M_HAS_MFN;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
    atomic_fetch_add(&ctl->vcpu[vc].vm_pause, 1);
    memset(&req, 0, sizeof(req));
    req.reason = VM_EVENT_REASON_MEM_PAGING;
    req.flags = VM_EVENT_FLAG_VCPU_PAUSED;
    req.vcpu_id = vc;
    req.u.mem_paging.gfn = gfn;
    req.u.mem_paging.p2mt = t == XENSHAPE__SIM_T_PAGING_OUT ?
        XENSHAPE__SIM_XEN_P2M_PAGING_OUT : XENSHAPE__SIM_XEN_P2M_PAGED;
    req.u.mem_paging.flags = flags;
    xenshape__sim_put_request(v, &req);
    atomic_store(&in->op, XENSHAPE__SIM_INTENT_NONE);
    atomic_fetch_add_explicit(&ctl->st.faults, 1, memory_order_relaxed);
    if (flags)
        atomic_fetch_add_explicit(&ctl->st.evict_fail, 1,
                                  memory_order_relaxed);
    xenshape__sim_unlock(v);
    xenshape__sim_notify(v);
}

/* The EPT-violation path.  0: retry the access; <0: give up. */
static int slow_path(struct xenshape__sim_dom *d, unsigned vc, uint64_t gfn,
                     uint32_t w)
{
    struct xenshape__sim_view *v = &d->v;
    unsigned t = xenshape__sim_p2m_type(w);
    int r;

    if (t == XENSHAPE__SIM_T_RW) {
        if ((w & XENSHAPE__SIM_P2M_ARMED) &&
            atomic_compare_exchange_strong(&v->p2m[gfn], &w,
                                           w & ~XENSHAPE__SIM_P2M_ARMED))
            access_event(d, gfn);
        else
            sched_yield();      /* another vCPU is writing the frame */
        return 0;
    }
    if (t == XENSHAPE__SIM_T_PAGING_IN) {
        spurious_wait(d, vc, gfn);
        return 0;
    }
    r = xenshape__sim_lock(v);
    if (r)
        return -ECANCELED;
    if (xenshape__sim_check_live(v)) {
        xenshape__sim_unlock(v);
        return -ECANCELED;
    }
    w = atomic_load(&v->p2m[gfn]);
    t = xenshape__sim_p2m_type(w);
    switch (t) {
    case XENSHAPE__SIM_T_UNPOP:
        r = balloon_in(d, gfn);
        if (r)
            atomic_fetch_add(&d->vcpu[vc].balloon_fail, 1);
        xenshape__sim_unlock(v);
        return r;
    case XENSHAPE__SIM_T_PAGING_OUT:
    case XENSHAPE__SIM_T_PAGED:
        if (!v->ctl->enabled) {
            /* "paging gfn yet no ring in place": domain_crash(). */
            xenshape__sim_domain_crash(v);
            xenshape__sim_unlock(v);
            return -ECANCELED;
        }
        if (xenshape__sim_ring_free(v) == 0) {
            wait_ring_space(d, vc);
            return 0;
        }
        atomic_fetch_add_explicit(&d->vcpu[vc].faults, 1,
                                  memory_order_relaxed);
        populate(d, vc, gfn, t);
        return 0;
    default:
        /* Changed meanwhile (rw, paging_in): just retry. */
        xenshape__sim_unlock(v);
        return 0;
    }
}

/* ---- access latency ------------------------------------------------------ */

unsigned xenshape__sim_lat_bucket(uint64_t ns)
{
    unsigned e, b;

    if (ns < XENSHAPE__SIM_LAT_SUB)
        return (unsigned)ns;
    e = 63u - (unsigned)__builtin_clzll(ns);     /* >= SUB_BITS */
    b = (e - XENSHAPE__SIM_LAT_SUB_BITS + 1) * XENSHAPE__SIM_LAT_SUB +
        (unsigned)((ns >> (e - XENSHAPE__SIM_LAT_SUB_BITS)) &
                   (XENSHAPE__SIM_LAT_SUB - 1));
    return b < XENSHAPE__SIM_LAT_BUCKETS ? b : XENSHAPE__SIM_LAT_BUCKETS - 1;
}

uint64_t xenshape__sim_lat_low(unsigned bucket)
{
    unsigned e, sub;

    if (bucket < XENSHAPE__SIM_LAT_SUB)
        return bucket;
    e = bucket / XENSHAPE__SIM_LAT_SUB + XENSHAPE__SIM_LAT_SUB_BITS - 1;
    sub = bucket % XENSHAPE__SIM_LAT_SUB;
    return (uint64_t)(XENSHAPE__SIM_LAT_SUB + sub) <<
        (e - XENSHAPE__SIM_LAT_SUB_BITS);
}

uint64_t xenshape__sim_lat_quantile(const uint64_t *hist, unsigned n,
                                    double q)
{
    uint64_t total = 0, seen = 0, lo, hi;
    double rank;
    unsigned i;

    for (i = 0; i < n; i++)
        total += hist[i];
    if (!total)
        return 0;
    rank = q * (double)total;
    for (i = 0; i < n; i++) {
        if (!hist[i] || (double)(seen + hist[i]) < rank) {
            seen += hist[i];
            continue;
        }
        /* Spread the bucket's samples evenly over its width. */
        lo = xenshape__sim_lat_low(i);
        hi = i + 1 < XENSHAPE__SIM_LAT_BUCKETS ?
            xenshape__sim_lat_low(i + 1) : lo + 1;
        return lo + (uint64_t)((double)(hi - lo) *
                               ((rank - (double)seen) / (double)hist[i]));
    }
    return xenshape__sim_lat_low(n - 1);
}

void xenshape__sim_lat_snapshot(const struct xenshape__sim_ctl *ctl,
                                uint64_t *hist)
{
    unsigned i;

    for (i = 0; i < XENSHAPE__SIM_LAT_BUCKETS; i++)
        hist[i] = atomic_load_explicit(&ctl->lat.b[i], memory_order_relaxed);
}

static uint64_t lat_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Per thread, so vCPUs never share a cache line for it. */
static _Thread_local unsigned lat_tick;

int xenshape__sim_guest_access(struct xenshape__sim_dom *d, unsigned vc,
                               uint64_t gfn, bool write)
{
    _Atomic uint32_t *p = &d->v.p2m[gfn];
    uint32_t take = XENSHAPE__SIM_P2M_ACC_ONE |
        (write ? XENSHAPE__SIM_P2M_WRITER : 0);
    uint64_t t0 = 0;
    int r;

    if (++lat_tick % XENSHAPE__SIM_LAT_SAMPLE == 0)
        t0 = lat_now();
    run_enter(d, vc);
    for (;;) {
        uint32_t w;

        r = gate(d, vc);
        if (r)
            break;
        w = atomic_load(p);
        if (xenshape__sim_p2m_type(w) == XENSHAPE__SIM_T_RW &&
            !(w & (XENSHAPE__SIM_P2M_ARMED | XENSHAPE__SIM_P2M_WRITER)) &&
            (!write || !xenshape__sim_p2m_acc(w)) &&
            xenshape__sim_p2m_acc(w) < 0xff0 &&
            atomic_compare_exchange_weak(p, &w, w + take)) {
            r = do_access(d, vc, gfn, write);
            atomic_fetch_sub(p, take);
            atomic_fetch_add_explicit(&d->vcpu[vc].touches, 1,
                                      memory_order_relaxed);
            break;
        }
        r = slow_path(d, vc, gfn, w);
        if (r)
            break;
    }
    run_leave(d, vc);
    if (t0 && !r)
        atomic_fetch_add_explicit(
            &d->v.ctl->lat.b[xenshape__sim_lat_bucket(lat_now() - t0)], 1,
            memory_order_relaxed);
    return r;
}

/*
 * guest_remove_page() and p2m_mem_paging_drop_page(): the guest gives a
 * frame back.  From guest context, so a full ring makes it wait, and a
 * nearly full one pauses the vCPU afterwards (vm_event_mark_and_pause).
 */
int xenshape__sim_guest_balloon_out(struct xenshape__sim_dom *d,
                                    unsigned vc, uint64_t gfn)
{
    struct xenshape__sim_view *v = &d->v;
    struct xenshape__sim_ctl *ctl = v->ctl;
    _Atomic uint32_t *p = &v->p2m[gfn];
    vm_event_request_t req;
    bool send = false;
    uint32_t w, g;
    unsigned t;
    int r;

    for (;;) {
        r = xenshape__sim_lock(v);
        if (r)
            return r;
        r = xenshape__sim_check_live(v);
        if (r)
            goto out;
        w = atomic_load(p);
        t = xenshape__sim_p2m_type(w);
        if (t == XENSHAPE__SIM_T_UNPOP) {
            r = -ENOENT;
            goto out;
        }
        if (xenshape__sim_p2m_has_page(w) && xenshape__sim_p2m_maps(w)) {
            r = -EBUSY;
            goto out;
        }
        send = t != XENSHAPE__SIM_T_RW && ctl->enabled;
        if (!send || xenshape__sim_ring_free(v))
            break;
        wait_ring_space(d, vc);
        if (atomic_load(&d->stop))
            return -ECANCELED;
    }
    /* Guest accesses in flight finish first (rw only has them). */
    for (;;) {
        w = atomic_load(p);
        if (xenshape__sim_p2m_acc(w)) {
            sched_yield();
            continue;
        }
        if (atomic_compare_exchange_weak(p, &w, XENSHAPE__SIM_T_UNPOP))
            break;
    }
    if (xenshape__sim_p2m_has_page(w)) {
        xenshape__sim_scrub(v, gfn);
        atomic_fetch_sub(&v->de->tot_pages, 1);
    } else {
        atomic_fetch_sub(&v->de->paged_pages, 1);
    }
    if (w & XENSHAPE__SIM_P2M_WAITERS)
        xenshape__sim_futex_wake(p);
    g = atomic_load(&d->gen[gfn]);
    atomic_store(&d->gen[gfn], g | XENSHAPE__SIM_GEN_ZERO);
    if (send) {
        memset(&req, 0, sizeof(req));
        req.reason = VM_EVENT_REASON_MEM_PAGING;
        req.vcpu_id = vc;
        req.u.mem_paging.gfn = gfn;
        req.u.mem_paging.flags = MEM_PAGING_DROP_PAGE;
        if (t == XENSHAPE__SIM_T_PAGING_OUT)
            req.u.mem_paging.flags |= MEM_PAGING_EVICT_FAIL;
        xenshape__sim_put_request(v, &req);
        atomic_fetch_add_explicit(&ctl->st.drop_requests, 1,
                                  memory_order_relaxed);
        if (xenshape__sim_ring_free(v) < v->nr_vcpus &&
            !atomic_load(&ctl->vcpu[vc].vm_pause) &&
            !atomic_exchange(&ctl->vcpu[vc].blocked, 1))
            ctl->blocked++;
    }
    r = 0;
 out:
    xenshape__sim_unlock(v);
    if (send && !r)
        xenshape__sim_notify(v);
    return r;
}

/* ---- verification ------------------------------------------------------- */

/* 1 checked right, 0 checked wrong, -1 not resident, -2 not populated. */
static int verify_one(struct xenshape__sim_dom *d, uint64_t gfn)
{
    struct xenshape__sim_view *v = &d->v;
    _Atomic uint32_t *p = &v->p2m[gfn];
    const uint8_t *frame = v->mem + gfn * XENSHAPE__SIM_PAGE;
    uint32_t w;
    int res;

    for (;;) {
        w = atomic_load(p);
        switch (xenshape__sim_p2m_type(w)) {
        case XENSHAPE__SIM_T_RW:
            /* A reader like any vCPU, but not a guest access: no n2rwx
             * event, no dirty bit. */
            if ((w & XENSHAPE__SIM_P2M_WRITER) ||
                xenshape__sim_p2m_acc(w) >= 0xff0) {
                sched_yield();
                continue;
            }
            if (!atomic_compare_exchange_weak(p, &w,
                                              w + XENSHAPE__SIM_P2M_ACC_ONE))
                continue;
            res = xenshape__sim_frame_ok(frame,
                                         xenshape__sim_expected_key(d, gfn));
            atomic_fetch_sub(p, XENSHAPE__SIM_P2M_ACC_ONE);
            return res;
        case XENSHAPE__SIM_T_UNPOP:
            return -2;
        default:
            if (!xenshape__sim_p2m_has_page(w))
                return -1;
            /* Nominated or on its way in with its page: stable while we
             * hold the lock (no guest access, no evict). */
            if (xenshape__sim_lock(v))
                return -1;
            w = atomic_load(p);
            if (xenshape__sim_p2m_type(w) == XENSHAPE__SIM_T_RW ||
                !xenshape__sim_p2m_has_page(w)) {
                xenshape__sim_unlock(v);
                continue;
            }
            res = xenshape__sim_frame_ok(frame,
                                         xenshape__sim_expected_key(d, gfn));
            xenshape__sim_unlock(v);
            return res;
        }
    }
}

int xenshape__sim_dom_verify(xenshape__sim_host *h, uint32_t domid,
                             xenshape__sim_verify *v_r)
{
    struct xenshape__sim_dom *d;
    xenshape__sim_verify vr;
    uint64_t g;

    d = xenshape__sim_dom_get(h, domid);
    if (!d)
        return -ESRCH;
    memset(&vr, 0, sizeof(vr));
    for (g = 0; g < d->v.max_pages && !atomic_load(&d->stop); g++) {
        switch (verify_one(d, g)) {
        case 1:
            vr.checked++;
            break;
        case 0:
            vr.checked++;
            vr.wrong++;
            break;
        case -1:
            vr.paged++;
            break;
        default:
            break;
        }
    }
    xenshape__sim_dom_put(d);
    *v_r = vr;
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
