/*
 * sim_core.c - the hypervisor half of the simulated host: Xen 4.17's
 * mem_paging (nominate, evict, prep/load), vm_event ring (enable,
 * disable, resume), foreign mapping with its populate side effect,
 * toolstack pause and mem_access/log-dirty observation, all operating on
 * shared memory (sim_shm.h).
 *
 * These functions run in the calling process, as a hypercall runs on the
 * calling CPU: the pager calls them through hv_sim.c, the host's guest
 * vCPU threads call the locking and ring helpers from sim_guest.c.
 * Each takes the domain's robust process-shared mutex.  A caller killed
 * while holding it is the normal case to design for, not an accident:
 * every transition is ordered so that recounting the p2m, plus the short
 * intent journal for the steps a recount cannot see, restores a state in
 * which no frame's content is wrong and no frame is lost.  recover() is
 * that repair.
 *
 * What Xen does is reproduced even where it is unhelpful (responses with
 * a bad version are dropped, a response for an unpaused vCPU does
 * nothing, requests on a disabled ring are thrown away); docs/simhost.md
 * lists the few places where the simulator is simpler than Xen.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "hv/hv.h"
#include "sim/sim_shm.h"

#define RING_BYTES XENSHAPE__SIM_PAGE
#define DRAIN_TIMEOUT_NS (1000ull * 1000 * 1000)

static const char *volatile crash_at;

void xenshape__sim_set_crash_point(const char *name)
{
    crash_at = name;
}

void xenshape__sim_crash_point(const char *name)
{
    const char *at = crash_at;

    /* Die as kill -9 would: no exit path runs, nothing is flushed. */
    if (at && !strcmp(at, name))
        raise(SIGKILL);
}

static uint64_t round_page(uint64_t n)
{
    return (n + XENSHAPE__SIM_PAGE - 1) & ~(uint64_t)(XENSHAPE__SIM_PAGE - 1);
}

void xenshape__sim_dom_layout(uint64_t max_pages, uint64_t *p2m_off,
                              uint64_t *dirty_off, uint64_t *mem_off,
                              uint64_t *size)
{
    *p2m_off = round_page(sizeof(struct xenshape__sim_ctl));
    *dirty_off = *p2m_off + round_page(max_pages * sizeof(uint32_t));
    *mem_off = *dirty_off + round_page((max_pages + 63) / 64 * 8);
    *size = *mem_off + max_pages * XENSHAPE__SIM_PAGE;
}

int xenshape__sim_view_map(struct xenshape__sim_view *v,
                           struct xenshape__sim_hdr *hdr, int fd, int evfd)
{
    struct xenshape__sim_ctl *ctl;
    uint64_t p2m_off, dirty_off, mem_off, size;
    struct stat st;
    void *base = MAP_FAILED;
    int r;

    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if ((uint64_t)st.st_size < sizeof(*ctl)) {
        r = -EPROTO;
        goto out;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        r = -errno;
        goto out;
    }
    ctl = base;
    if (ctl->magic != XENSHAPE__SIM_DOM_MAGIC ||
        ctl->version != XENSHAPE__SIM_SHM_VERSION ||
        ctl->dir_slot >= XENSHAPE__SIM_MAX_DOMS ||
        ctl->nr_vcpus == 0 || ctl->nr_vcpus > XENSHAPE__SIM_MAX_VCPUS) {
        r = -EPROTO;
        goto out;
    }
    xenshape__sim_dom_layout(ctl->max_pages, &p2m_off, &dirty_off, &mem_off,
                             &size);
    if (size != ctl->size || size != (uint64_t)st.st_size ||
        p2m_off != ctl->p2m_off || mem_off != ctl->mem_off ||
        dirty_off != ctl->dirty_off) {
        r = -EPROTO;
        goto out;
    }
    memset(v, 0, sizeof(*v));
    v->hdr = hdr;
    v->de = &hdr->dir[ctl->dir_slot];
    v->ctl = ctl;
    v->p2m = (_Atomic uint32_t *)((uint8_t *)base + p2m_off);
    v->dirty = (_Atomic uint64_t *)((uint8_t *)base + dirty_off);
    v->mem = (uint8_t *)base + mem_off;
    v->base = base;
    v->size = (size_t)size;
    v->fd = fd;
    v->evfd = evfd;
    v->domid = ctl->domid;
    v->max_pages = ctl->max_pages;
    v->nr_vcpus = ctl->nr_vcpus;
    base = MAP_FAILED;
    r = 0;
 out:
    if (base != MAP_FAILED)
        munmap(base, (size_t)st.st_size);
    return r;
}

void xenshape__sim_view_unmap(struct xenshape__sim_view *v)
{
    if (v->base)
        munmap(v->base, v->size);
    if (v->fd >= 0)
        close(v->fd);
    if (v->evfd >= 0)
        close(v->evfd);
    memset(v, 0, sizeof(*v));
    v->fd = v->evfd = -1;
}

int xenshape__sim_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int r;

    r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!r)
        r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!r)
        r = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -r;
}

/* ---- futexes ----------------------------------------------------------- */

void xenshape__sim_futex_wait(_Atomic uint32_t *addr, uint32_t val,
                              int timeout_ms)
{
    struct timespec ts = { timeout_ms / 1000,
                           (long)(timeout_ms % 1000) * 1000000L };

    syscall(SYS_futex, addr, FUTEX_WAIT, val, timeout_ms >= 0 ? &ts : NULL,
            NULL, 0);
}

void xenshape__sim_futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void xenshape__sim_futex_bump(_Atomic uint32_t *addr)
{
    atomic_fetch_add(addr, 1);
    xenshape__sim_futex_wake(addr);
}

/* ---- clients and their map logs ----------------------------------------- */

_Atomic uint64_t *xenshape__sim_client_maps(struct xenshape__sim_hdr *hdr,
                                            int client)
{
    return (_Atomic uint64_t *)((uint8_t *)hdr + hdr->maps_off) +
        (size_t)client * XENSHAPE__SIM_CLIENT_MAPS;
}

/* A zombie still answers kill(pid, 0); its mappings are gone all the
 * same, so look at its state. */
static bool pid_alive(pid_t pid)
{
    char path[64], buf[256], *p;
    ssize_t n;
    int fd;

    if (pid == getpid())
        return true;
    if (kill(pid, 0) < 0 && errno != EPERM)
        return false;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

bool xenshape__sim_client_alive(struct xenshape__sim_hdr *hdr, int client)
{
    struct xenshape__sim_client *c;

    if (client < 0 || client >= XENSHAPE__SIM_MAX_CLIENTS)
        return false;
    c = &hdr->clients[client];
    if (atomic_load(&c->state) != XENSHAPE__SIM_CLIENT_LIVE)
        return false;
    return pid_alive(atomic_load(&c->pid));
}

static void p2m_add_maps(_Atomic uint32_t *p, int delta)
{
    uint32_t w = atomic_load(p), nw;

    do {
        unsigned m = xenshape__sim_p2m_maps(w);

        if (delta > 0 && m == XENSHAPE__SIM_P2M_MAP_MAX)
            return;
        if (delta < 0 && m == 0)
            return;
        nw = delta > 0 ? w + XENSHAPE__SIM_P2M_MAP_ONE
                       : w - XENSHAPE__SIM_P2M_MAP_ONE;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
}

void xenshape__sim_recount_maps(struct xenshape__sim_view *v, int exclude)
{
    uint64_t g;
    int c;

    for (g = 0; g < v->max_pages; g++) {
        _Atomic uint32_t *p = &v->p2m[g];
        uint32_t w = atomic_load(p);

        while (xenshape__sim_p2m_maps(w) &&
               !atomic_compare_exchange_weak(p, &w,
                                             w & ~XENSHAPE__SIM_P2M_MAP_MASK))
            ;
    }
    for (c = 0; c < XENSHAPE__SIM_MAX_CLIENTS; c++) {
        _Atomic uint64_t *maps;
        uint32_t i, hw;

        if (c == exclude || !xenshape__sim_client_alive(v->hdr, c))
            continue;
        maps = xenshape__sim_client_maps(v->hdr, c);
        hw = atomic_load(&v->hdr->clients[c].hw);
        if (hw > XENSHAPE__SIM_CLIENT_MAPS)
            hw = XENSHAPE__SIM_CLIENT_MAPS;
        for (i = 0; i < hw; i++) {
            uint64_t e = atomic_load(&maps[i]);

            if (!(e & XENSHAPE__SIM_MAPENT_VALID) ||
                XENSHAPE__SIM_MAPENT_DOMID(e) != v->domid ||
                XENSHAPE__SIM_MAPENT_GFN(e) >= v->max_pages)
                continue;
            p2m_add_maps(&v->p2m[XENSHAPE__SIM_MAPENT_GFN(e)], 1);
        }
    }
}

/* ---- frames and host memory --------------------------------------------- */

uint64_t xenshape__sim_free_frames(struct xenshape__sim_hdr *hdr)
{
    uint64_t used = 0;
    unsigned i;

    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++)
        if (atomic_load(&hdr->dir[i].state) != XENSHAPE__SIM_DIR_FREE)
            used += atomic_load(&hdr->dir[i].tot_pages);
    return used >= hdr->total_frames ? 0 : hdr->total_frames - used;
}

void xenshape__sim_alloc_lock(struct xenshape__sim_hdr *hdr)
{
    /* A dead holder moved at most one counter, completely or not at all:
     * there is nothing to repair. */
    if (pthread_mutex_lock(&hdr->alloc_lock) == EOWNERDEAD)
        pthread_mutex_consistent(&hdr->alloc_lock);
}

void xenshape__sim_alloc_unlock(struct xenshape__sim_hdr *hdr)
{
    pthread_mutex_unlock(&hdr->alloc_lock);
}

int xenshape__sim_charge(struct xenshape__sim_view *v)
{
    int r = 0;

    xenshape__sim_alloc_lock(v->hdr);
    if (atomic_load(&v->de->tot_pages) >= v->max_pages ||
        xenshape__sim_free_frames(v->hdr) == 0)
        r = -ENOMEM;
    else
        atomic_fetch_add(&v->de->tot_pages, 1);
    xenshape__sim_alloc_unlock(v->hdr);
    return r;
}

void xenshape__sim_scrub(struct xenshape__sim_view *v, uint64_t gfn)
{
    uint8_t *p = v->mem + gfn * XENSHAPE__SIM_PAGE;

    /* Punching the hole both scrubs the frame (it reads back as zeros)
     * and gives the RAM back to the host, for every process mapping it. */
    if (madvise(p, XENSHAPE__SIM_PAGE, MADV_REMOVE) < 0)
        memset(p, 0, XENSHAPE__SIM_PAGE);
}

/* paging_in with a page -> rw, as p2m_mem_paging_resume() and prep do. */
static bool promote(struct xenshape__sim_view *v, uint64_t gfn)
{
    _Atomic uint32_t *p = &v->p2m[gfn];
    uint32_t w = atomic_load(p), nw;

    do {
        if (xenshape__sim_p2m_type(w) != XENSHAPE__SIM_T_PAGING_IN ||
            !(w & XENSHAPE__SIM_P2M_HAS_MFN))
            return false;
        nw = (w & ~(XENSHAPE__SIM_P2M_TYPE | XENSHAPE__SIM_P2M_HAS_MFN |
                    XENSHAPE__SIM_P2M_WAITERS)) | XENSHAPE__SIM_T_RW;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
    if (w & XENSHAPE__SIM_P2M_WAITERS)
        xenshape__sim_futex_wake(p);
    return true;
}

/* ---- the lock and its recovery ------------------------------------------ */

static void wake_everybody(struct xenshape__sim_view *v)
{
    unsigned i;

    xenshape__sim_futex_bump(&v->ctl->ring_space);
    xenshape__sim_futex_bump(&v->ctl->park);
    for (i = 0; i < v->nr_vcpus; i++)
        xenshape__sim_futex_bump(&v->ctl->vcpu[i].wake);
}

static void redo_intent(struct xenshape__sim_view *v)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    struct xenshape__sim_intent *in = &ctl->intent;
    vm_event_sring_t *sring = (vm_event_sring_t *)ctl->ring;
    uint64_t g = in->gfn;

    switch (atomic_load(&in->op)) {
    case XENSHAPE__SIM_INTENT_LOAD:
        /* The copy may be half done; the frame is not the guest's until
         * its type says so, so give the memory back. */
        if (g < v->max_pages &&
            !xenshape__sim_p2m_has_page(atomic_load(&v->p2m[g])))
            xenshape__sim_scrub(v, g);
        break;
    case XENSHAPE__SIM_INTENT_RESUME:
        ctl->rsp_cons = in->ring_idx;
        sring->rsp_event = in->ring_idx + 1;
        if (in->promote && g < v->max_pages)
            promote(v, g);
        if (in->unpause && in->vcpu < v->nr_vcpus && in->pause_before)
            ctl->vcpu[in->vcpu].vm_pause = in->pause_before - 1;
        break;
    case XENSHAPE__SIM_INTENT_POPULATE:
        /* The request never reached the ring: undo the type change and
         * the pause, as if populate had not been called. */
        if (ctl->req_prod_pvt == in->ring_idx && g < v->max_pages) {
            _Atomic uint32_t *p = &v->p2m[g];
            uint32_t w = atomic_load(p), nw;

            do {
                if (xenshape__sim_p2m_type(w) != XENSHAPE__SIM_T_PAGING_IN)
                    break;
                nw = (w & ~(XENSHAPE__SIM_P2M_TYPE |
                            XENSHAPE__SIM_P2M_HAS_MFN)) | in->old_word;
            } while (!atomic_compare_exchange_weak(p, &w, nw));
            if (in->vcpu < v->nr_vcpus)
                ctl->vcpu[in->vcpu].vm_pause = in->pause_before;
        }
        break;
    default:
        break;
    }
    atomic_store(&in->op, XENSHAPE__SIM_INTENT_NONE);
}

static void recover(struct xenshape__sim_view *v)
{
    vm_event_sring_t *sring = (vm_event_sring_t *)v->ctl->ring;
    uint64_t g, tot = 0, paged = 0;

    atomic_fetch_add_explicit(&v->ctl->st.recoveries, 1,
                              memory_order_relaxed);
    redo_intent(v);
    /* Xen's private producer index is the truth; the holder may have died
     * between advancing it and publishing it. */
    if (v->ctl->enabled) {
        xen_wmb();
        sring->req_prod = v->ctl->req_prod_pvt;
    }
    for (g = 0; g < v->max_pages; g++) {
        _Atomic uint32_t *p = &v->p2m[g];
        uint32_t w = atomic_load(p);

        if (xenshape__sim_p2m_type(w) == XENSHAPE__SIM_T_EVICTING) {
            /* The pager had the data before it called evict. */
            xenshape__sim_scrub(v, g);
            w = (w & XENSHAPE__SIM_P2M_ARMED) | XENSHAPE__SIM_T_PAGED;
            atomic_store(p, w);
        }
        if (xenshape__sim_p2m_has_page(w))
            tot++;
        else if (xenshape__sim_p2m_type(w) == XENSHAPE__SIM_T_PAGED ||
                 xenshape__sim_p2m_type(w) == XENSHAPE__SIM_T_PAGING_IN)
            paged++;
    }
    atomic_store(&v->de->tot_pages, tot);
    atomic_store(&v->de->paged_pages, paged);
    xenshape__sim_recount_maps(v, -1);
    wake_everybody(v);
}

int xenshape__sim_lock(struct xenshape__sim_view *v)
{
    int r = pthread_mutex_lock(&v->ctl->lock);

    if (r == EOWNERDEAD) {
        recover(v);
        pthread_mutex_consistent(&v->ctl->lock);
        return 0;
    }
    return r ? -EIO : 0;
}

void xenshape__sim_unlock(struct xenshape__sim_view *v)
{
    pthread_mutex_unlock(&v->ctl->lock);
}

int xenshape__sim_check_live(struct xenshape__sim_view *v)
{
    if (atomic_load(&v->de->state) == XENSHAPE__SIM_DIR_FREE ||
        v->de->domid != v->domid)
        return -ESRCH;
    if (atomic_load(&v->ctl->dying))
        return -EINVAL;
    return 0;
}

/* ---- the ring, Xen's side ---------------------------------------------- */

static void front_ring(struct xenshape__sim_view *v,
                       vm_event_front_ring_t *fr)
{
    vm_event_sring_t *sring = (vm_event_sring_t *)v->ctl->ring;

    FRONT_RING_ATTACH(fr, sring, 0, RING_BYTES);
    fr->req_prod_pvt = v->ctl->req_prod_pvt;
    fr->rsp_cons = v->ctl->rsp_cons;
}

unsigned xenshape__sim_ring_free(struct xenshape__sim_view *v)
{
    vm_event_front_ring_t fr;

    if (!v->ctl->enabled)
        return 0;
    front_ring(v, &fr);
    /* As Xen's int arithmetic: a pager that answered more than it was
     * asked makes this exceed the ring size, and Xen believes it. */
    return RING_FREE_REQUESTS(&fr);
}

void xenshape__sim_put_request(struct xenshape__sim_view *v,
                               vm_event_request_t *req)
{
    vm_event_front_ring_t fr;

    front_ring(v, &fr);
    req->version = VM_EVENT_INTERFACE_VERSION;
    memcpy(RING_GET_REQUEST(&fr, fr.req_prod_pvt), req, sizeof(*req));
    fr.req_prod_pvt++;
    v->ctl->req_prod_pvt = fr.req_prod_pvt;
    RING_PUSH_REQUESTS(&fr);
    atomic_fetch_add_explicit(&v->ctl->st.requests, 1, memory_order_relaxed);
}

void xenshape__sim_notify(struct xenshape__sim_view *v)
{
    uint64_t one = 1;
    ssize_t n;

    n = write(v->evfd, &one, sizeof(one));
    (void)n;    /* EAGAIN: the counter is saturated, a wakeup is pending */
}

void xenshape__sim_domain_crash(struct xenshape__sim_view *v)
{
    unsigned i;

    atomic_store(&v->de->crashed, 1);
    for (i = 0; i < v->nr_vcpus; i++)
        xenshape__sim_futex_bump(&v->ctl->vcpu[i].wake);
    xenshape__sim_futex_bump(&v->ctl->ring_space);
}

unsigned xenshape__sim_running(struct xenshape__sim_view *v)
{
    unsigned i, n = 0;

    for (i = 0; i < v->nr_vcpus; i++)
        n += atomic_load(&v->ctl->vcpu[i].running);
    return n;
}

/* ---- memops -------------------------------------------------------------- */

/* The checks XENMEM_paging_op makes before the sub-op, in Xen's order. */
static int memop_begin(struct xenshape__sim_view *v, uint64_t gfn)
{
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (!r && !v->ctl->enabled)
        r = -ENODEV;
    if (!r && gfn >= v->max_pages)
        r = -EINVAL;
    if (r)
        xenshape__sim_unlock(v);
    return r;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Wait until guest accesses that began before the type change are over,
 * as Xen's p2m update waits for the TLB flush.  They take a microsecond;
 * if one never ends (the host died mid-access) give the frame back.
 */
static int drain(_Atomic uint32_t *p)
{
    uint64_t start = 0;
    unsigned spins;
    uint32_t w, nw;

    for (spins = 0;; spins++) {
        w = atomic_load(p);
        if (!xenshape__sim_p2m_acc(w))
            return 0;
        if (spins < 64)
            continue;
        sched_yield();
        if (!start)
            start = now_ns();
        else if ((spins & 255) == 0 && now_ns() - start > DRAIN_TIMEOUT_NS)
            break;
    }
    w = atomic_load(p);
    do {
        if (xenshape__sim_p2m_type(w) != XENSHAPE__SIM_T_PAGING_OUT)
            break;
        nw = (w & ~XENSHAPE__SIM_P2M_TYPE) | XENSHAPE__SIM_T_RW;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
    return -EBUSY;
}

int xenshape__sim_op_nominate(struct xenshape__sim_view *v, uint64_t gfn)
{
    _Atomic uint32_t *p;
    uint32_t w, nw;
    int r;

    r = memop_begin(v, gfn);
    if (r)
        return r;
    p = &v->p2m[gfn];
    w = atomic_load(p);
    do {
        /* Only pageable types, and only a page nobody else references
         * (Xen: count_info exactly 1 + PGC_allocated, no type count). */
        if (xenshape__sim_p2m_type(w) != XENSHAPE__SIM_T_RW ||
            xenshape__sim_p2m_maps(w)) {
            r = -EBUSY;
            goto out;
        }
        nw = (w & ~XENSHAPE__SIM_P2M_TYPE) | XENSHAPE__SIM_T_PAGING_OUT;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
    r = drain(p);
 out:
    xenshape__sim_unlock(v);
    return r;
}

int xenshape__sim_op_evict(struct xenshape__sim_view *v, uint64_t gfn)
{
    _Atomic uint32_t *p;
    uint32_t w, nw;
    int r;

    r = memop_begin(v, gfn);
    if (r)
        return r;
    p = &v->p2m[gfn];
    w = atomic_load(p);
    do {
        if (xenshape__sim_p2m_type(w) != XENSHAPE__SIM_T_PAGING_OUT ||
            xenshape__sim_p2m_maps(w) || xenshape__sim_p2m_acc(w)) {
            r = -EBUSY;
            goto out;
        }
        nw = (w & XENSHAPE__SIM_P2M_ARMED) | XENSHAPE__SIM_T_EVICTING;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
    xenshape__sim_crash_point("evict.evicting");
    xenshape__sim_scrub(v, gfn);
    xenshape__sim_crash_point("evict.scrubbed");
    atomic_store(p, (nw & XENSHAPE__SIM_P2M_ARMED) | XENSHAPE__SIM_T_PAGED);
    atomic_fetch_sub(&v->de->tot_pages, 1);
    xenshape__sim_crash_point("evict.counted");
    atomic_fetch_add(&v->de->paged_pages, 1);
    r = 0;
 out:
    xenshape__sim_unlock(v);
    return r;
}

int xenshape__sim_op_load(struct xenshape__sim_view *v, uint64_t gfn,
                          const void *buf)
{
    struct xenshape__sim_intent *in = &v->ctl->intent;
    _Atomic uint32_t *p;
    uint32_t w, nw;
    unsigned t;
    int r;

    r = memop_begin(v, gfn);
    if (r)
        return r;
    p = &v->p2m[gfn];
    w = atomic_load(p);
    t = xenshape__sim_p2m_type(w);
    if (t != XENSHAPE__SIM_T_PAGED && t != XENSHAPE__SIM_T_PAGING_IN) {
        r = -ENOENT;
        goto out;
    }
    if (w & XENSHAPE__SIM_P2M_HAS_MFN) {
        /* page_extant: the buffer, if any, is ignored. */
        promote(v, gfn);
        r = 0;
        goto out;
    }
    if (!buf) {
        r = -EINVAL;
        goto out;
    }
    r = xenshape__sim_charge(v);
    if (r)
        goto out;
    in->gfn = gfn;
    atomic_store(&in->op, XENSHAPE__SIM_INTENT_LOAD);
    memcpy(v->mem + gfn * XENSHAPE__SIM_PAGE, buf, XENSHAPE__SIM_PAGE);
    xenshape__sim_crash_point("load.copied");
    w = atomic_load(p);
    do {
        nw = (w & (XENSHAPE__SIM_P2M_ARMED | XENSHAPE__SIM_P2M_MAP_MASK)) |
            XENSHAPE__SIM_T_RW;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
    atomic_fetch_sub(&v->de->paged_pages, 1);
    atomic_store(&in->op, XENSHAPE__SIM_INTENT_NONE);
    if (w & XENSHAPE__SIM_P2M_WAITERS)
        xenshape__sim_futex_wake(p);
    r = 0;
 out:
    xenshape__sim_unlock(v);
    return r;
}

/* ---- foreign mapping ---------------------------------------------------- */

/*
 * A foreign toucher of a paged frame: p2m_mem_paging_populate() with
 * current->domain != d.  The request carries FOREIGN and the requesting
 * Dom0 vCPU's id (0), never VCPU_PAUSED.  With no ring, Xen crashes the
 * domain even for a foreign toucher; with a full ring it sends nothing.
 */
static bool foreign_populate(struct xenshape__sim_view *v, uint64_t gfn)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    struct xenshape__sim_intent *in = &ctl->intent;
    _Atomic uint32_t *p = &v->p2m[gfn];
    vm_event_request_t req;
    uint32_t w, nw;

    if (!ctl->enabled) {
        xenshape__sim_domain_crash(v);
        return false;
    }
    if (xenshape__sim_ring_free(v) == 0) {
        atomic_fetch_add_explicit(&ctl->st.foreign_ring_full, 1,
                                  memory_order_relaxed);
        return false;
    }
    in->gfn = gfn;
    in->vcpu = UINT32_MAX;
    in->ring_idx = ctl->req_prod_pvt;
    in->old_word = XENSHAPE__SIM_T_PAGED;
    atomic_store(&in->op, XENSHAPE__SIM_INTENT_POPULATE);
    w = atomic_load(p);
    do {
        nw = (w & ~XENSHAPE__SIM_P2M_TYPE) | XENSHAPE__SIM_T_PAGING_IN;
    } while (!atomic_compare_exchange_weak(p, &w, nw));
    memset(&req, 0, sizeof(req));
    req.reason = VM_EVENT_REASON_MEM_PAGING;
    req.flags = VM_EVENT_FLAG_FOREIGN;
    req.vcpu_id = 0;
    req.u.mem_paging.gfn = gfn;
    req.u.mem_paging.p2mt = XENSHAPE__SIM_XEN_P2M_PAGED;
    xenshape__sim_crash_point("map.populated");
    xenshape__sim_put_request(v, &req);
    atomic_store(&in->op, XENSHAPE__SIM_INTENT_NONE);
    atomic_fetch_add_explicit(&ctl->st.foreign_requests, 1,
                              memory_order_relaxed);
    return true;
}

int xenshape__sim_op_map(struct xenshape__sim_view *v, int client,
                         const uint64_t *gfns, size_t n, int *err,
                         uint32_t *idx)
{
    _Atomic uint64_t *log = xenshape__sim_client_maps(v->hdr, client);
    bool notify = false;
    size_t i;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (r) {
        xenshape__sim_unlock(v);
        return r;
    }
    for (i = 0; i < n; i++) {
        uint64_t g = gfns[i];
        uint32_t w = 0;
        int e = 0;

        if (g < v->max_pages)
            w = atomic_load(&v->p2m[g]);
        else
            w = XENSHAPE__SIM_T_UNPOP;      /* no page there either */
        switch (xenshape__sim_p2m_type(w)) {
        case XENSHAPE__SIM_T_RW:
        case XENSHAPE__SIM_T_PAGING_OUT:
            break;
        case XENSHAPE__SIM_T_PAGING_IN:
            /* Xen maps a paging_in gfn that still has its page. */
            if (!(w & XENSHAPE__SIM_P2M_HAS_MFN))
                e = -ENOENT;
            break;
        case XENSHAPE__SIM_T_PAGED:
            if (foreign_populate(v, g))
                notify = true;
            e = -ENOENT;
            break;
        default:
            e = -EINVAL;
            break;
        }
        if (!e && xenshape__sim_p2m_maps(w) == XENSHAPE__SIM_P2M_MAP_MAX)
            e = -EBUSY;
        if (!e) {
            /* The log entry first: it is what recovery trusts. */
            atomic_store(&log[idx[i]], XENSHAPE__SIM_MAPENT(v->domid, g));
            xenshape__sim_crash_point("map.logged");
            p2m_add_maps(&v->p2m[g], 1);
        }
        err[i] = e;
        if (e)
            idx[i] = UINT32_MAX;
    }
    xenshape__sim_unlock(v);
    if (notify)
        xenshape__sim_notify(v);
    return 0;
}

void xenshape__sim_op_unmap(struct xenshape__sim_view *v, int client,
                            const uint32_t *idx, size_t n)
{
    _Atomic uint64_t *log = xenshape__sim_client_maps(v->hdr, client);
    size_t i;

    if (xenshape__sim_lock(v))
        return;
    for (i = 0; i < n; i++) {
        uint64_t e;

        if (idx[i] == UINT32_MAX)
            continue;
        /* The log entry first, so a crash here leaves no stray ref. */
        e = atomic_exchange(&log[idx[i]], 0);
        if ((e & XENSHAPE__SIM_MAPENT_VALID) &&
            XENSHAPE__SIM_MAPENT_GFN(e) < v->max_pages)
            p2m_add_maps(&v->p2m[XENSHAPE__SIM_MAPENT_GFN(e)], -1);
    }
    xenshape__sim_unlock(v);
}

/* ---- vm_event: resume, enable, disable ---------------------------------- */

/* vm_event_wake(): the wait queue first, else vCPUs paused for a nearly
 * full ring, as many as there are free slots. */
static void ring_wake(struct xenshape__sim_view *v)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    unsigned avail, i, j, k;

    if (ctl->ring_waiters) {
        xenshape__sim_futex_bump(&ctl->ring_space);
        return;
    }
    avail = xenshape__sim_ring_free(v);
    if (!avail || !ctl->blocked)
        return;
    for (i = ctl->last_vcpu_wake_up + 1, j = 0; j < v->nr_vcpus; i++, j++) {
        k = i % v->nr_vcpus;
        if (!ctl->blocked || !avail)
            break;
        if (atomic_exchange(&ctl->vcpu[k].blocked, 0)) {
            avail--;
            ctl->blocked--;
            ctl->last_vcpu_wake_up = k;
            xenshape__sim_futex_bump(&ctl->vcpu[k].wake);
        }
    }
}

int xenshape__sim_op_resume(struct xenshape__sim_view *v)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    struct xenshape__sim_intent *in = &ctl->intent;
    vm_event_sring_t *sring = (vm_event_sring_t *)ctl->ring;
    uint32_t wake_mask = 0;
    vm_event_front_ring_t fr;
    vm_event_response_t rsp;
    unsigned i;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (!r && !ctl->enabled)
        r = -ENODEV;
    if (r)
        goto out;
    front_ring(v, &fr);
    while (RING_HAS_UNCONSUMED_RESPONSES(&fr)) {
        uint32_t vc;

        xen_rmb();
        memcpy(&rsp, RING_GET_RESPONSE(&fr, fr.rsp_cons), sizeof(rsp));
        fr.rsp_cons++;
        atomic_fetch_add_explicit(&ctl->st.responses, 1,
                                  memory_order_relaxed);
        if (rsp.version != VM_EVENT_INTERFACE_VERSION) {
            /* "vm_event interface version mismatch": slot freed, nothing
             * else happens, the vCPU stays paused. */
            atomic_fetch_add_explicit(&ctl->st.version_mismatch, 1,
                                      memory_order_relaxed);
            ctl->rsp_cons = fr.rsp_cons;
            sring->rsp_event = fr.rsp_cons + 1;
            continue;
        }
        vc = rsp.vcpu_id;
        in->vcpu = vc;
        in->gfn = rsp.u.mem_paging.gfn;
        in->ring_idx = fr.rsp_cons;
        in->promote = in->unpause = 0;
        in->pause_before = 0;
        /* Only for a vCPU that vm_event has paused (any reason). */
        if (vc < v->nr_vcpus && ctl->vcpu[vc].vm_pause) {
            in->pause_before = ctl->vcpu[vc].vm_pause;
            in->promote = rsp.reason == VM_EVENT_REASON_MEM_PAGING &&
                !(rsp.u.mem_paging.flags & MEM_PAGING_DROP_PAGE);
            in->unpause = (rsp.flags & VM_EVENT_FLAG_VCPU_PAUSED) != 0;
        }
        atomic_store(&in->op, XENSHAPE__SIM_INTENT_RESUME);
        ctl->rsp_cons = fr.rsp_cons;
        sring->rsp_event = fr.rsp_cons + 1;
        xenshape__sim_crash_point("resume.consumed");
        if (in->promote && in->gfn < v->max_pages)
            promote(v, in->gfn);
        if (in->unpause) {
            ctl->vcpu[vc].vm_pause = in->pause_before - 1;
            wake_mask |= 1u << vc;
        }
        atomic_store(&in->op, XENSHAPE__SIM_INTENT_NONE);
        ring_wake(v);
    }
    r = 0;
 out:
    xenshape__sim_unlock(v);
    for (i = 0; i < XENSHAPE__SIM_MAX_VCPUS; i++)
        if (wake_mask & (1u << i))
            xenshape__sim_futex_bump(&ctl->vcpu[i].wake);
    return r;
}

int xenshape__sim_op_enable(struct xenshape__sim_view *v, int client,
                            uint32_t *port_r)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    vm_event_sring_t *sring = (vm_event_sring_t *)ctl->ring;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (r == -EINVAL) {
        /* "Ignoring memory event op on dying domain". */
        *port_r = 0;
        r = 1;
        goto out;
    }
    if (r)
        goto out;
    if (ctl->enabled) {
        r = -EBUSY;
        goto out;
    }
    /* The domain cannot queue anything while we hold its lock, which is
     * the pause libxc wraps around ring setup. */
    SHARED_RING_INIT(sring);
    ctl->req_prod_pvt = 0;
    ctl->rsp_cons = 0;
    ctl->blocked = 0;
    ctl->ring_waiters = 0;
    ctl->port = atomic_fetch_add(&v->hdr->next_port, 1);
    ctl->bound_client = client;
    ctl->enabled = 1;
    *port_r = ctl->port;
    r = 0;
 out:
    xenshape__sim_unlock(v);
    return r;
}

int xenshape__sim_op_reattach(struct xenshape__sim_view *v, int client,
                              uint32_t port)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (r)
        goto out;
    /* evtchn_bind_interdomain() to a port that is not unbound fails. */
    if (!ctl->enabled || port != ctl->port ||
        (ctl->bound_client >= 0 &&
         xenshape__sim_client_alive(v->hdr, ctl->bound_client))) {
        r = -EINVAL;
        goto out;
    }
    ctl->bound_client = client;
    r = 0;
 out:
    xenshape__sim_unlock(v);
    return r;
}

void xenshape__sim_op_unbind(struct xenshape__sim_view *v, int client)
{
    if (xenshape__sim_lock(v))
        return;
    if (v->ctl->bound_client == client)
        v->ctl->bound_client = -1;
    xenshape__sim_unlock(v);
}

int xenshape__sim_op_disable(struct xenshape__sim_view *v)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    unsigned i;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (r == -EINVAL) {
        r = 0;
        goto out;
    }
    if (r)
        goto out;
    if (!ctl->enabled) {
        r = -EINVAL;
        goto out;
    }
    if (ctl->ring_waiters) {
        r = -EBUSY;
        goto out;
    }
    /* Requests still on the ring are dropped; the vCPUs they paused stay
     * paused.  Only vCPUs paused for ring space are let go. */
    for (i = 0; i < v->nr_vcpus; i++)
        if (atomic_exchange(&ctl->vcpu[i].blocked, 0))
            xenshape__sim_futex_bump(&ctl->vcpu[i].wake);
    ctl->blocked = 0;
    ctl->enabled = 0;
    ctl->bound_client = -1;
    ctl->port = 0;
    r = 0;
 out:
    xenshape__sim_unlock(v);
    return r;
}

/* ---- toolstack pause ---------------------------------------------------- */

int xenshape__sim_op_pause(struct xenshape__sim_view *v)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    uint32_t seq;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (!r && atomic_load(&v->de->pause_count) >= 255)
        r = -EOVERFLOW;
    if (!r)
        atomic_fetch_add(&v->de->pause_count, 1);
    xenshape__sim_unlock(v);
    if (r)
        return r;
    /* Like vcpu_sleep_sync(): back only once no vCPU is mid-access. */
    for (;;) {
        seq = atomic_load(&ctl->park);
        if (!xenshape__sim_running(v) || atomic_load(&ctl->dying))
            return 0;
        xenshape__sim_futex_wait(&ctl->park, seq, 50);
    }
}

int xenshape__sim_op_unpause(struct xenshape__sim_view *v)
{
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (!r && atomic_load(&v->de->pause_count) == 0)
        r = -EINVAL;
    if (!r && atomic_fetch_sub(&v->de->pause_count, 1) == 1)
        xenshape__sim_futex_wake(&v->de->pause_count);
    xenshape__sim_unlock(v);
    return r;
}

/* ---- access observation ------------------------------------------------- */

int xenshape__sim_op_access_enable(struct xenshape__sim_view *v,
                                   unsigned modes)
{
    unsigned m = modes & (XENSHAPE__HV_ACCESS_N2RWX |
                          XENSHAPE__HV_ACCESS_LOGDIRTY);
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (!r) {
        atomic_fetch_or(&v->ctl->access_modes, m);
        r = (int)m;
    }
    xenshape__sim_unlock(v);
    return r;
}

int xenshape__sim_op_access_disable(struct xenshape__sim_view *v)
{
    uint64_t g;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (r)
        goto out;
    atomic_store(&v->ctl->access_modes, 0);
    for (g = 0; g < v->max_pages; g++)
        atomic_fetch_and(&v->p2m[g], ~XENSHAPE__SIM_P2M_ARMED);
    for (g = 0; g < (v->max_pages + 63) / 64; g++)
        atomic_store(&v->dirty[g], 0);
    v->ctl->aq_head = v->ctl->aq_count = 0;
 out:
    xenshape__sim_unlock(v);
    return r;
}

int xenshape__sim_op_access_arm(struct xenshape__sim_view *v,
                                const uint64_t *gfns, size_t n)
{
    size_t i;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    for (i = 0; !r && i < n; i++)
        if (gfns[i] >= v->max_pages)
            r = -EINVAL;
    for (i = 0; !r && i < n; i++)
        atomic_fetch_or(&v->p2m[gfns[i]], XENSHAPE__SIM_P2M_ARMED);
    xenshape__sim_unlock(v);
    return r;
}

int xenshape__sim_op_access_read(struct xenshape__sim_view *v,
                                 uint64_t *gfns, size_t max)
{
    struct xenshape__sim_ctl *ctl = v->ctl;
    size_t n = 0;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (r)
        goto out;
    if (max > INT_MAX)
        max = INT_MAX;
    while (n < max && ctl->aq_count) {
        gfns[n++] = ctl->aq[ctl->aq_head];
        ctl->aq_head = (ctl->aq_head + 1) & (XENSHAPE__SIM_AQ_SIZE - 1);
        ctl->aq_count--;
    }
    r = (int)n;
 out:
    xenshape__sim_unlock(v);
    return r;
}

int xenshape__sim_op_dirty_read(struct xenshape__sim_view *v,
                                uint64_t *bitmap, uint64_t nr, bool clean)
{
    uint64_t words = (nr + 63) / 64, have = (v->max_pages + 63) / 64, i;
    int r;

    r = xenshape__sim_lock(v);
    if (r)
        return r;
    r = xenshape__sim_check_live(v);
    if (!r && !(atomic_load(&v->ctl->access_modes) &
                XENSHAPE__HV_ACCESS_LOGDIRTY))
        r = -EINVAL;    /* not in log-dirty mode */
    if (r)
        goto out;
    for (i = 0; i < words; i++) {
        uint64_t mask = ~0ull, val;

        if (i >= have) {
            bitmap[i] = 0;
            continue;
        }
        if (i == words - 1 && (nr & 63))
            mask = (1ull << (nr & 63)) - 1;
        /* The guest sets bits concurrently: read and clear in one go. */
        val = clean ? atomic_fetch_and(&v->dirty[i], ~mask)
                    : atomic_load(&v->dirty[i]);
        bitmap[i] = val & mask;
    }
 out:
    xenshape__sim_unlock(v);
    return r;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
