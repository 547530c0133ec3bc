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
 */

#ifndef XENSHAPE_SIM_H
#define XENSHAPE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../hv/vmevent.h"

typedef struct xenshape__sim_host xenshape__sim_host;

/* Workload of a simulated guest, parsed from a short text spec:
 *   "idle"                         vCPUs do nothing
 *   "uniform"                      uniform random touches over all frames
 *   "hot:F:P"                      a fraction F of frames gets P of touches
 *   "trace:PATH"                   replay a trace (page keys mod frames)
 *   any of them may be followed by ",write=W" (fraction of writes, default
 *   0.3), ",rate=N" (touches per second per vCPU, default unlimited) and
 *   ",zero=Z,dup=D" (fractions of frames created zero / duplicated). */
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
int xenshape__sim_dom_stats(xenshape__sim_host *h, uint32_t domid,
                            xenshape__sim_dom_stats *st_r);
/* Compare every resident frame with its expected content. */
int xenshape__sim_dom_verify(xenshape__sim_host *h, uint32_t domid,
                             xenshape__sim_verify *v_r);

/* The same operations over the control socket, for other processes
 * (tests, the demo, xenshape-simhost's client mode).  Text protocol;
 * see docs/simhost.md. */
int xenshape__sim_ctl(const char *socket_path, const char *request,
                      char *reply, size_t reply_len);

#endif /* XENSHAPE_SIM_H */
