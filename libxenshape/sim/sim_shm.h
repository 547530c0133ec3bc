/*
 * sim_shm.h - the shared-memory layout of the simulated host and the
 * hypervisor-side operations that run on it.
 *
 * Everything a "hypercall" of the simulated host touches lives in memfds
 * that every participating process maps: one host-wide memfd (header,
 * domain directory, per-client foreign-map logs) and one memfd per domain
 * (control area with the paging ring, p2m array, log-dirty bitmap, guest
 * memory).  No pointer is ever stored in shared memory: offsets and
 * indices only, because each process maps the memfds at its own address.
 *
 * The operations declared at the end (xenshape__sim_op_*) are the
 * hypervisor half of Xen 4.17's mem_paging, vm_event and mem_access code.
 * They run in whichever process calls them (the pager through hv_sim.c,
 * guest vCPU threads in the host process) under the domain's robust
 * process-shared mutex, so a caller killed at any instruction leaves state
 * the next locker repairs (xenshape__sim_lock() handles EOWNERDEAD).
 *
 * This header is private to libxenshape/sim and hv_sim.c.
 */

#ifndef XENSHAPE_SIM_SHM_H
#define XENSHAPE_SIM_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define XENSHAPE__SIM_HOST_MAGIC  0x31484d4953485358ull /* "XSHSIMH1" */
#define XENSHAPE__SIM_DOM_MAGIC   0x31444d4953485358ull /* "XSHSIMD1" */
#define XENSHAPE__SIM_SHM_VERSION 1u

#define XENSHAPE__SIM_PAGE        4096u
#define XENSHAPE__SIM_MAX_CLIENTS 16
#define XENSHAPE__SIM_CLIENT_MAPS 65536u   /* map refs one client may hold */
#define XENSHAPE__SIM_AQ_SIZE     16384u   /* n2rwx event queue, power of 2 */
#define XENSHAPE__SIM_FIRST_PORT  32u

/*
 * Xen's own p2m_type_t values, as they appear in u.mem_paging.p2mt of a
 * request (xen/arch/x86/include/asm/p2m.h in 4.17).
 */
#define XENSHAPE__SIM_XEN_P2M_RAM_RW     0u
#define XENSHAPE__SIM_XEN_P2M_PAGING_OUT 9u
#define XENSHAPE__SIM_XEN_P2M_PAGED      10u
#define XENSHAPE__SIM_XEN_P2M_PAGING_IN  11u

/*
 * One p2m word per gfn (32 bits, also a futex word):
 *
 *   bits 0-2   type (below)
 *   bit  3     HAS_MFN: a PAGING_IN frame that still has its page (the
 *              EVICT_FAIL case); other types imply it
 *   bit  4     ARMED: mem_access n2rwx restriction in place
 *   bit  5     WAITERS: a vCPU sleeps on this word (spurious-fault loop)
 *   bit  6     WRITER: the one accessor in flight is writing
 *   bits 8-19  guest accesses in flight (a reader/writer count)
 *   bits 20-31 foreign map references
 *
 * Types mirror Xen: RW is p2m_ram_rw, PAGING_OUT is nominated (no guest
 * access, page still there), PAGED has no page, PAGING_IN is on its way
 * back.  EVICTING exists only while an evict holds the domain lock (after
 * a crash, recovery finishes it).  UNPOP is a gfn the guest ballooned out.
 */
#define XENSHAPE__SIM_T_RW         0u
#define XENSHAPE__SIM_T_PAGING_OUT 1u
#define XENSHAPE__SIM_T_PAGED      2u
#define XENSHAPE__SIM_T_PAGING_IN  3u
#define XENSHAPE__SIM_T_EVICTING   4u
#define XENSHAPE__SIM_T_UNPOP      5u

#define XENSHAPE__SIM_P2M_TYPE     0x7u
#define XENSHAPE__SIM_P2M_HAS_MFN  0x8u
#define XENSHAPE__SIM_P2M_ARMED    0x10u
#define XENSHAPE__SIM_P2M_WAITERS  0x20u
#define XENSHAPE__SIM_P2M_WRITER   0x40u
#define XENSHAPE__SIM_P2M_ACC_ONE  (1u << 8)
#define XENSHAPE__SIM_P2M_ACC_MASK (0xfffu << 8)
#define XENSHAPE__SIM_P2M_MAP_ONE  (1u << 20)
#define XENSHAPE__SIM_P2M_MAP_MASK (0xfffu << 20)
#define XENSHAPE__SIM_P2M_MAP_MAX  0xfffu

static inline unsigned xenshape__sim_p2m_type(uint32_t w)
{
    return w & XENSHAPE__SIM_P2M_TYPE;
}

static inline unsigned xenshape__sim_p2m_acc(uint32_t w)
{
    return (w & XENSHAPE__SIM_P2M_ACC_MASK) >> 8;
}

static inline unsigned xenshape__sim_p2m_maps(uint32_t w)
{
    return (w & XENSHAPE__SIM_P2M_MAP_MASK) >> 20;
}

/* Does the gfn own a host frame (what tot_pages counts)? */
static inline bool xenshape__sim_p2m_has_page(uint32_t w)
{
    switch (xenshape__sim_p2m_type(w)) {
    case XENSHAPE__SIM_T_RW:
    case XENSHAPE__SIM_T_PAGING_OUT:
    case XENSHAPE__SIM_T_EVICTING:
        return true;
    case XENSHAPE__SIM_T_PAGING_IN:
        return (w & XENSHAPE__SIM_P2M_HAS_MFN) != 0;
    default:
        return false;
    }
}

/* Directory entry states. */
#define XENSHAPE__SIM_DIR_FREE     0u
#define XENSHAPE__SIM_DIR_CREATING 1u
#define XENSHAPE__SIM_DIR_LIVE     2u
#define XENSHAPE__SIM_DIR_DYING    3u

/*
 * A domain as the host-wide directory knows it.  The page counters live
 * here rather than in the domain's control area so that domain_list and
 * the host's free-frame count need no domain mapping.  They are modified
 * only under the domain's lock (increments also under the host's
 * allocation lock), so recovery can recount them from the p2m.
 */
struct xenshape__sim_dirent {
    _Atomic uint32_t state;
    uint32_t domid;
    uint64_t max_pages;
    uint32_t nr_vcpus;
    _Atomic uint32_t pause_count;   /* toolstack pauses; futex word */
    _Atomic uint32_t crashed;
    uint32_t pad;
    _Atomic uint64_t tot_pages;
    _Atomic uint64_t paged_pages;
    uint8_t uuid[16];
    char name[64];
};

/*
 * A process attached to the host (a pager).  Its foreign-map references
 * are logged in its own array (maps_off in the header) so that the host
 * can drop them when the process dies, as Linux drops a dead process's
 * privcmd mappings.  A log entry is the truth; the count in the p2m word
 * is recomputed from the logs of live clients after any crash.
 */
#define XENSHAPE__SIM_CLIENT_FREE 0u
#define XENSHAPE__SIM_CLIENT_LIVE 1u
#define XENSHAPE__SIM_CLIENT_DEAD 2u    /* being cleaned up */

struct xenshape__sim_client {
    _Atomic uint32_t state;
    _Atomic int32_t pid;
    _Atomic uint32_t hw;            /* entries [0, hw) may be in use */
    uint32_t pad;
};

/* A map log entry: valid bit, domid, gfn. */
#define XENSHAPE__SIM_MAPENT_VALID (1ull << 63)
#define XENSHAPE__SIM_MAPENT(domid, gfn) \
    (XENSHAPE__SIM_MAPENT_VALID | ((uint64_t)(domid) << 40) | (gfn))
#define XENSHAPE__SIM_MAPENT_DOMID(e) ((uint32_t)(((e) >> 40) & 0x7fffff))
#define XENSHAPE__SIM_MAPENT_GFN(e)   ((e) & ((1ull << 40) - 1))

struct xenshape__sim_hdr {
    uint64_t magic;
    uint32_t version;
    uint32_t pad0;
    uint64_t total_frames;
    uint64_t size;                  /* of the host memfd */
    uint64_t maps_off;              /* client map logs */
    pthread_mutex_t alloc_lock;     /* robust, process-shared */
    _Atomic uint32_t next_domid;
    _Atomic uint32_t next_port;
    struct xenshape__sim_dirent dir[XENSHAPE__SIM_MAX_DOMS];
    struct xenshape__sim_client clients[XENSHAPE__SIM_MAX_CLIENTS];
};

/* Per-vCPU state the pager's hypercalls need to see. */
struct xenshape__sim_vcpu_shm {
    _Atomic uint32_t vm_pause;      /* vm_event pause count; written
                                     * under the domain lock only */
    _Atomic uint32_t wake;          /* futex: bumped when the vCPU may go */
    _Atomic uint32_t running;       /* contexts executing guest code */
    _Atomic uint32_t blocked;       /* paused for a nearly full ring */
};

/*
 * What the lock holder was in the middle of, for recovery.  Only steps
 * that recounting the p2m cannot repair are journalled.
 */
#define XENSHAPE__SIM_INTENT_NONE     0u
#define XENSHAPE__SIM_INTENT_LOAD     1u  /* frame memory being filled */
#define XENSHAPE__SIM_INTENT_RESUME   2u  /* one response being applied */
#define XENSHAPE__SIM_INTENT_POPULATE 3u  /* type changed, request unsent */

struct xenshape__sim_intent {
    _Atomic uint32_t op;
    uint32_t vcpu;                  /* or UINT32_MAX: no vCPU involved */
    uint64_t gfn;
    uint32_t pause_before;          /* vm_pause of vcpu before the op */
    uint32_t ring_idx;              /* RESUME: rsp_cons after; POPULATE:
                                     * req_prod_pvt before */
    uint32_t old_word;              /* POPULATE: type bits before */
    uint32_t promote, unpause;
};

/* Counters updated by hypercalls (either process).  Relaxed atomics. */
struct xenshape__sim_ctl_stats {
    _Atomic uint64_t requests, responses, version_mismatch;
    _Atomic uint64_t foreign_requests, foreign_ring_full, drop_requests;
    _Atomic uint64_t evict_fail, ring_waits, spurious_faults;
    _Atomic uint64_t access_events, access_drops, recoveries;
    _Atomic uint64_t faults;
};

/*
 * Latency of guest accesses, for the benchmarks (p50/p99 of one domain,
 * docs/bench-shaping.md).  1 access in XENSHAPE__SIM_LAT_SAMPLE per vCPU
 * is timed with CLOCK_MONOTONIC from entry to completion, blocking
 * included, so the cost stays far below that of the access itself.
 * Buckets are log-linear: each power of two of nanoseconds is cut into
 * 2^XENSHAPE__SIM_LAT_SUB_BITS equal parts, a relative resolution of
 * 1/16, which interpolation inside a bucket refines for quantiles.
 * Counters only grow: a reader takes two snapshots and subtracts.
 */
#define XENSHAPE__SIM_LAT_SAMPLE   16u
#define XENSHAPE__SIM_LAT_SUB_BITS 4u
#define XENSHAPE__SIM_LAT_SUB      (1u << XENSHAPE__SIM_LAT_SUB_BITS)
#define XENSHAPE__SIM_LAT_BUCKETS  (44u * XENSHAPE__SIM_LAT_SUB)

struct xenshape__sim_lat {
    _Atomic uint64_t b[XENSHAPE__SIM_LAT_BUCKETS];
};

struct xenshape__sim_ctl {
    uint64_t magic;
    uint32_t version;
    uint32_t domid;
    uint32_t dir_slot;
    uint32_t nr_vcpus;
    uint64_t max_pages;
    uint64_t p2m_off, dirty_off, mem_off, size;

    pthread_mutex_t lock;           /* robust, process-shared */
    _Atomic uint32_t dying;

    /* vm_event paging ring, Xen's side (under the lock). */
    uint32_t enabled;
    uint32_t port;
    int32_t bound_client;           /* client bound to the port, or -1 */
    uint32_t req_prod_pvt, rsp_cons;
    uint32_t ring_waiters;          /* vCPUs on the wait queue */
    uint32_t blocked;               /* vCPUs paused by a nearly full ring */
    uint32_t last_vcpu_wake_up;
    _Atomic uint32_t ring_space;    /* futex: bumped when slots free up */
    _Atomic uint32_t park;          /* futex: bumped when a vCPU stops */

    /* Access observation. */
    _Atomic uint32_t access_modes;  /* XENSHAPE__HV_ACCESS_* */
    uint32_t aq_head, aq_count;
    struct xenshape__sim_intent intent;
    struct xenshape__sim_ctl_stats st;
    struct xenshape__sim_lat lat;   /* guest access latency (sim_guest.c) */
    struct xenshape__sim_vcpu_shm vcpu[XENSHAPE__SIM_MAX_VCPUS];
    uint64_t aq[XENSHAPE__SIM_AQ_SIZE];

    _Alignas(4096) uint8_t ring[XENSHAPE__SIM_PAGE];
};

/*
 * One process's mapping of one domain.  The host and every pager build
 * their own; the struct itself is private to the process.
 */
struct xenshape__sim_view {
    struct xenshape__sim_hdr *hdr;  /* borrowed */
    struct xenshape__sim_dirent *de;
    struct xenshape__sim_ctl *ctl;
    _Atomic uint32_t *p2m;
    _Atomic uint64_t *dirty;
    uint8_t *mem;
    void *base;
    size_t size;
    int fd, evfd;                   /* owned */
    uint32_t domid;
    uint64_t max_pages;
    unsigned nr_vcpus;
};

/* ---- sim_core.c -------------------------------------------------------- */

/* Layout of a domain memfd of max_pages frames. */
void xenshape__sim_dom_layout(uint64_t max_pages, uint64_t *p2m_off,
                              uint64_t *dirty_off, uint64_t *mem_off,
                              uint64_t *size);

/* Map a domain memfd; takes ownership of fd and evfd on success only. */
int xenshape__sim_view_map(struct xenshape__sim_view *v,
                           struct xenshape__sim_hdr *hdr, int fd, int evfd);
void xenshape__sim_view_unmap(struct xenshape__sim_view *v);

/* Initialise a robust process-shared mutex in shared memory. */
int xenshape__sim_mutex_init(pthread_mutex_t *m);

/* Take the domain lock, repairing state a dead holder left.  0 or -EIO. */
int xenshape__sim_lock(struct xenshape__sim_view *v);
void xenshape__sim_unlock(struct xenshape__sim_view *v);
/* The host's allocation lock (nothing to repair: one counter moves). */
void xenshape__sim_alloc_lock(struct xenshape__sim_hdr *hdr);
void xenshape__sim_alloc_unlock(struct xenshape__sim_hdr *hdr);

/* Host frames not owned by any domain. */
uint64_t xenshape__sim_free_frames(struct xenshape__sim_hdr *hdr);
/* Charge one frame to the domain: 0, or -ENOMEM (host empty or
 * tot_pages >= max_pages).  Domain lock held. */
int xenshape__sim_charge(struct xenshape__sim_view *v);
/* Release a frame's memory to the host (scrub). */
void xenshape__sim_scrub(struct xenshape__sim_view *v, uint64_t gfn);

/* Futexes on shared memory (not FUTEX_PRIVATE). */
void xenshape__sim_futex_wait(_Atomic uint32_t *addr, uint32_t val,
                              int timeout_ms);
void xenshape__sim_futex_wake(_Atomic uint32_t *addr);
/* Bump a sequence futex and wake everybody on it. */
void xenshape__sim_futex_bump(_Atomic uint32_t *addr);

_Atomic uint64_t *xenshape__sim_client_maps(struct xenshape__sim_hdr *hdr,
                                            int client);
bool xenshape__sim_client_alive(struct xenshape__sim_hdr *hdr, int client);
/* Recount the map references of every gfn of the domain from the logs of
 * live clients other than exclude (-1: none).  Domain lock held. */
void xenshape__sim_recount_maps(struct xenshape__sim_view *v, int exclude);

/* Check the domain is usable for an op: 0, -ESRCH or -EINVAL (dying). */
int xenshape__sim_check_live(struct xenshape__sim_view *v);

/* Ring helpers, domain lock held. */
unsigned xenshape__sim_ring_free(struct xenshape__sim_view *v);
void xenshape__sim_put_request(struct xenshape__sim_view *v,
                               vm_event_request_t *req);
void xenshape__sim_notify(struct xenshape__sim_view *v);
void xenshape__sim_domain_crash(struct xenshape__sim_view *v);
/* Sum of vCPU contexts executing guest code (for pause). */
unsigned xenshape__sim_running(struct xenshape__sim_view *v);

/* Test seam: the process kills itself (SIGKILL) when the named point
 * (xenshape__sim_set_crash_point) is reached in it. */
void xenshape__sim_crash_point(const char *name);

/* Latency histogram (sim_guest.c).  The bucket of a value in ns, the
 * lowest value a bucket holds, and the quantile q (0..1) of a snapshot
 * of n buckets (0 when it is empty), interpolated inside its bucket. */
unsigned xenshape__sim_lat_bucket(uint64_t ns);
uint64_t xenshape__sim_lat_low(unsigned bucket);
uint64_t xenshape__sim_lat_quantile(const uint64_t *hist, unsigned n,
                                    double q);
/* Copy a domain's histogram (relaxed loads: a consistent enough view). */
void xenshape__sim_lat_snapshot(const struct xenshape__sim_ctl *ctl,
                                uint64_t *hist);

/* ---- sim_sock.c, client side -------------------------------------------- */

/* Connect to a host's control socket: 0 or -errno. */
int xenshape__sim_sock_connect(const char *path, int *fd_r);
/* One request and its reply (NUL-terminated, truncated to len).  Up to
 * *nfds descriptors that come with the reply are stored in fds (extra
 * ones are closed) and *nfds is set to their number.  0 or -errno. */
int xenshape__sim_sock_call(int sock, const char *req, char *reply,
                            size_t len, int *fds, unsigned *nfds);

/*
 * The hypercalls.  Return 0 (or a count) or -errno with Xen 4.17's values.
 * client is the caller's client slot (-1 for the host itself).
 */
int xenshape__sim_op_nominate(struct xenshape__sim_view *v, uint64_t gfn);
int xenshape__sim_op_evict(struct xenshape__sim_view *v, uint64_t gfn);
int xenshape__sim_op_load(struct xenshape__sim_view *v, uint64_t gfn,
                          const void *buf);
/* Take map references for n gfns, logging each at idx[i] in the client's
 * log; err[i] gets 0 or -errno; idx[i] is set to UINT32_MAX where no
 * reference was taken.  Returns 0 or -errno for the whole call. */
int xenshape__sim_op_map(struct xenshape__sim_view *v, int client,
                         const uint64_t *gfns, size_t n, int *err,
                         uint32_t *idx);
void xenshape__sim_op_unmap(struct xenshape__sim_view *v, int client,
                            const uint32_t *idx, size_t n);
int xenshape__sim_op_resume(struct xenshape__sim_view *v);
int xenshape__sim_op_enable(struct xenshape__sim_view *v, int client,
                            uint32_t *port_r);
int xenshape__sim_op_reattach(struct xenshape__sim_view *v, int client,
                              uint32_t port);
void xenshape__sim_op_unbind(struct xenshape__sim_view *v, int client);
int xenshape__sim_op_disable(struct xenshape__sim_view *v);
int xenshape__sim_op_pause(struct xenshape__sim_view *v);
int xenshape__sim_op_unpause(struct xenshape__sim_view *v);
int xenshape__sim_op_access_enable(struct xenshape__sim_view *v,
                                   unsigned modes);
int xenshape__sim_op_access_disable(struct xenshape__sim_view *v);
int xenshape__sim_op_access_arm(struct xenshape__sim_view *v,
                                const uint64_t *gfns, size_t n);
int xenshape__sim_op_access_read(struct xenshape__sim_view *v,
                                 uint64_t *gfns, size_t max);
int xenshape__sim_op_dirty_read(struct xenshape__sim_view *v,
                                uint64_t *bitmap, uint64_t nr, bool clean);

#endif /* XENSHAPE_SIM_SHM_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
