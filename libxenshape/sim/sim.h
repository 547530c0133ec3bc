/*
 * sim.h - the simulated host: a stand-in for Xen 4.17 with its exact
 * paging semantics, used by the fast tests, the benchmarks and the demo.
 *
 * The host keeps guest memory, p2m state and the paging rings in shared
 * memory (memfds) so that it can live in its own process
 * (tools/xenshape-simhost) and outlive the daemon, as Xen outlives a Dom0
 * process.  A pager reaches it through hv_sim.c: it connects to the host's
 * unix socket (the way Dom0 opens /dev/xen/privcmd), receives the shared
 * memory by SCM_RIGHTS, and from then on its "hypercalls" run the host's
 * state machine on that shared memory under robust process-shared locks,
 * just as a hypercall runs hypervisor code on the caller's CPU.  A pager
 * killed in the middle of a hypercall therefore leaves state a later
 * caller repairs (EOWNERDEAD), never a corrupted frame.
 *
 * The same host can also run inside the calling process
 * (xenshape__sim_host_new()), which the check tests and benchmarks use.
 *
 * Guest vCPUs are threads of the host process running a workload
 * (synthetic, or replaying a trace in the shared/traces format).  They
 * read and write real guest memory and block on a paged frame until the
 * pager answers, as a vCPU paused by vm_event does.  Every frame's content
 * is a function of (domid, gfn, write generation), so the host can prove
 * at any time that no frame was lost or corrupted.
 *
 * Unlike the public API, these functions return 0 or -errno (-ESRCH,
 * -ENOMEM, ...), as the hypervisor they stand for does; the control
 * socket reports the same errno by name.  docs/simhost.md describes what
 * is modelled, the protocol, and what is not modelled.
 */

#ifndef XENSHAPE_SIM_H
#define XENSHAPE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../hv/vmevent.h"

typedef struct xenshape__sim_host xenshape__sim_host;
struct xentoollog_logger;

/* Workload of a simulated guest, parsed from a short text spec:
 *   "idle"                         vCPUs do nothing
 *   "uniform"                      uniform random touches over all frames
 *   "hot:F:P"                      a fraction F of frames gets P of touches
 *   "trace:PATH"                   replay a trace (page keys mod frames)
 *   "sweep"                        each vCPU reads its share of all frames
 *                                  in order, over and over
 *   any of them may be followed by ",write=W" (fraction of writes, default
 *   0.3, for sweep 0), ",rate=N" (touches per second per vCPU, default
 *   unlimited) and ",zero=Z,dup=D" (fractions of frames created zero /
 *   duplicated, default 0.1 each; used at create only). */
typedef struct xenshape__sim_dom_params {
    const char *name;
    uint64_t frames;                 /* presented memory, in 4 KiB frames */
    unsigned vcpus;                  /* 1..XENSHAPE__SIM_MAX_VCPUS */
    const char *workload;            /* spec as above; NULL = "idle" */
    uint64_t seed;
} xenshape__sim_dom_params;

#define XENSHAPE__SIM_MAX_VCPUS 16
#define XENSHAPE__SIM_MAX_DOMS  64

/* Counters of one domain, as the host knows them (more than Xen exposes:
 * for tests and the demo, never for the policy). */
typedef struct xenshape__sim_dom_stats {
    uint64_t touches, reads, writes;
    uint64_t faults;                 /* vCPU touches that blocked */
    uint64_t wrong_reads;            /* reads that saw wrong content: must be 0 */
    uint64_t version_mismatch;       /* responses dropped for a bad version */
    uint64_t responses;              /* responses consumed */
    uint64_t blocked_vcpus;          /* vCPUs paused on vm_event right now */
    bool crashed;                    /* domain_crash() was called */
    /* Appended; the names are also the STATS keys (docs/simhost.md). */
    uint64_t tot_pages, max_pages, paged_pages; /* as Xen reports them */
    uint64_t requests;               /* requests put on the paging ring */
    uint64_t foreign_requests;       /* of those, from foreign mappers */
    uint64_t foreign_ring_full;      /* foreign populates with no slot */
    uint64_t drop_requests;          /* DROP_PAGE requests (balloon) */
    uint64_t evict_fail;             /* requests with EVICT_FAIL */
    uint64_t ring_waits;             /* vCPUs that waited for a slot */
    uint64_t spurious_faults;        /* touches of a paging_in frame */
    uint64_t access_events, access_drops; /* n2rwx queue */
    uint64_t recoveries;             /* dead lock holders repaired */
    uint64_t balloon_fail;           /* ballooned frames not repopulated */
    uint32_t ring_free;              /* free request slots, as Xen counts */
    uint32_t ring_waiters;           /* vCPUs waiting for a slot now */
    uint32_t pause_count;            /* toolstack pauses */
    bool paging_enabled;
} xenshape__sim_dom_stats;

/* Result of a verification pass. */
typedef struct xenshape__sim_verify {
    uint64_t checked;                /* resident frames compared */
    uint64_t wrong;                  /* of those, with wrong content */
    uint64_t paged;                  /* frames not resident (not checked) */
} xenshape__sim_verify;

/*
 * Host lifecycle (in-process).  total_frames is the host RAM available to
 * guests.  The caller owns *h_r; xenshape__sim_host_free() stops every
 * vCPU and releases everything.
 */
int xenshape__sim_host_new(xenshape__sim_host **h_r, uint64_t total_frames);
void xenshape__sim_host_free(xenshape__sim_host *h);

/* Where the host reports what its control socket does (clients coming
 * and going, requests that change something, errors).  Borrowed; NULL
 * (the default) is silent. */
void xenshape__sim_host_set_logger(xenshape__sim_host *h,
                                   struct xentoollog_logger *lg);

/* Serve the control socket at path (creating it) from a thread of this
 * process, until xenshape__sim_host_free().  Used by simhost and tests. */
int xenshape__sim_host_listen(xenshape__sim_host *h, const char *path);

/* Create a domain with every frame populated (ENOMEM if the host lacks
 * the RAM, as xl create would fail).  Returns the domid in *domid_r. */
int xenshape__sim_dom_create(xenshape__sim_host *h,
                             const xenshape__sim_dom_params *p,
                             uint32_t *domid_r);
int xenshape__sim_dom_destroy(xenshape__sim_host *h, uint32_t domid);
/* Replace the workload of a running domain (NULL or "idle" stops it). */
int xenshape__sim_dom_workload(xenshape__sim_host *h, uint32_t domid,
                               const char *spec);
/* The type and the call share a name, which C allows only through a
 * function-like macro: "xenshape__sim_dom_stats st;" names the type,
 * "xenshape__sim_dom_stats(h, domid, &st)" calls the function. */
int xenshape__sim_dom_get_stats(xenshape__sim_host *h, uint32_t domid,
                                xenshape__sim_dom_stats *st_r);
#define xenshape__sim_dom_stats(h, domid, st_r) \
    xenshape__sim_dom_get_stats((h), (domid), (st_r))
/* Compare every resident frame with its expected content. */
int xenshape__sim_dom_verify(xenshape__sim_host *h, uint32_t domid,
                             xenshape__sim_verify *v_r);

/*
 * Guest actions on demand, for tests: the calling thread acts as vCPU
 * vcpu of the domain (alongside that vCPU's own thread, which tests keep
 * on the "idle" workload) and blocks exactly as that vCPU would.
 * touch: 0; -EFAULT if a read saw wrong content; -ECANCELED if the
 * domain crashed or is being destroyed while we waited; -ENOMEM if a
 * ballooned frame could not be repopulated; -ESRCH, -EINVAL.
 * balloon: the guest gives gfn back (XENMEM_decrease_reservation): 0,
 * -ENOENT (not populated), -EBUSY (foreign-mapped).
 */
int xenshape__sim_dom_touch(xenshape__sim_host *h, uint32_t domid,
                            unsigned vcpu, uint64_t gfn, bool write);
int xenshape__sim_dom_balloon(xenshape__sim_host *h, uint32_t domid,
                              unsigned vcpu, uint64_t gfn);

/* Wait up to timeout_ms (-1: for ever) for a SHUTDOWN request on the
 * control socket.  Returns true if one came. */
bool xenshape__sim_host_wait_shutdown(xenshape__sim_host *h, int timeout_ms);

/*
 * Test seams for crash recovery.  hold_lock takes the domain's lock and
 * returns with it held (a forked child then exits: the next locker
 * repairs).  set_crash_point makes this process kill itself with SIGKILL,
 * as kill -9 would, when a hypercall
 * reaches the named point: "evict.evicting", "evict.scrubbed",
 * "evict.counted", "load.copied", "map.logged", "map.populated",
 * "resume.consumed"; NULL clears it.
 */
int xenshape__sim_dom_hold_lock(xenshape__sim_host *h, uint32_t domid);
void xenshape__sim_set_crash_point(const char *name);

/* The same operations over the control socket, for other processes
 * (tests, the demo, xenshape-simhost's client mode).  Text protocol;
 * see docs/simhost.md. */
int xenshape__sim_ctl(const char *socket_path, const char *request,
                      char *reply, size_t reply_len);

#endif /* XENSHAPE_SIM_H */
