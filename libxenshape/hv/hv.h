/*
 * hv.h - the hypervisor port of libxenshape.
 *
 * Everything libxenshape asks of a hypervisor goes through one versioned,
 * const ops table per backend: hv_xen.c (libxenctrl and friends, real Xen)
 * and hv_sim.c (the simulated host).  The rest of the library calls only
 * the xenshape__hv_*() wrappers in hv.c, which own the fault-injection seam
 * ("hv.<op>" sites) and the logging of failures; nothing outside hv.c
 * touches an ops table.
 *
 * The ops are thin, hypercall-shaped and keep Xen 4.17's semantics: they
 * return 0 (or a count) on success and -errno on failure, with the errno
 * values Xen itself returns (EBUSY from nominate, ENOENT from prep, ...),
 * because the paging engine's decisions depend on exactly those values.
 * Mapping them to XENSHAPE_E* codes is the engine's job.
 *
 * What an op may observe is limited to what real Xen gives Dom0: domain
 * counters, the paging ring, sampled first-touch events (mem_access
 * n2rwx) and log-dirty bitmaps.  A backend must never hand the policy
 * more than hv_xen could.
 */

#ifndef XENSHAPE_HV_H
#define XENSHAPE_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmevent.h"

struct xentoollog_logger;

/* Bump when an op is appended; never reorder or remove. */
#define XENSHAPE__HV_OPS_VERSION 1

typedef struct xenshape__hv xenshape__hv;         /* backend instance */
typedef struct xenshape__hv_dom xenshape__hv_dom; /* one attached ring */

typedef struct xenshape__hv_params {
    const char *sim_socket;          /* sim: path of the simhost socket */
    struct xenshape__sim_host *sim_host; /* sim: in-process host, or NULL */
} xenshape__hv_params;

typedef struct xenshape__hv_dominfo {
    uint32_t domid;
    uint32_t nr_vcpus;
    uint64_t tot_pages, max_pages, paged_pages;
    uint64_t max_gpfn;               /* highest gfn + 1 worth scanning */
    bool paused, dying, crashed, hap;
    uint8_t handle[16];
} xenshape__hv_dominfo;

/* Access-observation modes (section 5 of the reference). */
#define XENSHAPE__HV_ACCESS_N2RWX    1u  /* first touch of armed gfns */
#define XENSHAPE__HV_ACCESS_LOGDIRTY 2u  /* write bitmap */
/* With LOGDIRTY in access_enable: if log-dirty is already on, switch it
 * off and on again (what libxc's save does) instead of failing with
 * -EBUSY.  Only for a log we may have left on ourselves: taken from a
 * running save or migration, it corrupts the copy. */
#define XENSHAPE__HV_ACCESS_TAKEOVER 4u

struct xenshape__hv_ops {
    unsigned version;                /* XENSHAPE__HV_OPS_VERSION */
    const char *name;

    /* Version 1. */
    int (*open)(xenshape__hv **hv_r, const xenshape__hv_params *p,
                struct xentoollog_logger *lg);
    void (*close)(xenshape__hv *hv);

    /* Fills up to max entries, returns the count (>= 0) or -errno. */
    int (*domain_list)(xenshape__hv *hv, xenshape__hv_dominfo *out,
                       unsigned max);
    int (*host_info)(xenshape__hv *hv, uint64_t *total_r, uint64_t *free_r);

    /*
     * Enable paging and set up the ring as libxc does (domain paused while
     * the ring gfn is mapped, SHARED_RING_INIT done before the domain runs
     * again).  On success *port_r is the remote port to persist for a
     * later re-attach.  -EBUSY: a pager is or was attached.
     */
    int (*paging_enable)(xenshape__hv *hv, uint32_t domid,
                         xenshape__hv_dom **d_r, uint32_t *port_r);
    /* Map the ring a dead pager left and bind the persisted port again. */
    int (*paging_reattach)(xenshape__hv *hv, uint32_t domid, uint32_t port,
                           xenshape__hv_dom **d_r);
    /* Release our side of the ring (unbind, unmap) without disabling. */
    void (*ring_close)(xenshape__hv_dom *d);
    /* XEN_VM_EVENT_DISABLE.  Never while frames are out and the guest runs. */
    int (*paging_disable)(xenshape__hv *hv, uint32_t domid);

    vm_event_sring_t *(*ring_page)(xenshape__hv_dom *d);
    int (*evtchn_fd)(xenshape__hv_dom *d);
    /* Consume a pending notification, if any, and re-arm.  0 or -errno. */
    int (*evtchn_ack)(xenshape__hv_dom *d);
    /* Tell the hypervisor that responses are on the ring. */
    int (*evtchn_notify)(xenshape__hv_dom *d);

    int (*nominate)(xenshape__hv *hv, uint32_t domid, uint64_t gfn);
    int (*evict)(xenshape__hv *hv, uint32_t domid, uint64_t gfn);
    /* prep with data (buf != NULL) or without (buf == NULL). */
    int (*load)(xenshape__hv *hv, uint32_t domid, uint64_t gfn,
                const void *buf);

    /* Foreign-map n frames; err[i] gets 0 or -errno per frame.  Returns
     * the mapping or NULL with errno set. */
    void *(*map)(xenshape__hv *hv, uint32_t domid, int prot,
                 const uint64_t *gfns, size_t n, int *err);
    int (*unmap)(xenshape__hv *hv, void *addr, size_t n);

    int (*pause)(xenshape__hv *hv, uint32_t domid);
    int (*unpause)(xenshape__hv *hv, uint32_t domid);

    /*
     * Access observation.  access_enable chooses the modes the backend
     * supports (XENSHAPE__HV_ACCESS_*; returns the subset it enabled).
     * access_arm restricts gfns to n2rwx; access_read returns gfns whose
     * first touch was seen since they were armed (each at most once per
     * arming).  dirty_read copies the log-dirty bitmap (1 bit per gfn
     * from 0 to nr) and clears it when clean is set.  May be NULL.
     */
    int (*access_enable)(xenshape__hv *hv, uint32_t domid, unsigned modes);
    int (*access_disable)(xenshape__hv *hv, uint32_t domid);
    int (*access_arm)(xenshape__hv *hv, uint32_t domid,
                      const uint64_t *gfns, size_t n);
    int (*access_read)(xenshape__hv *hv, uint32_t domid, uint64_t *gfns,
                       size_t max);
    int (*dirty_read)(xenshape__hv *hv, uint32_t domid, uint64_t *bitmap,
                      uint64_t nr, bool clean);

    /* The balloon target (KiB) of a domain that cannot be paged, as
     * `xl mem-set` sets it.  May be NULL (-EOPNOTSUPP). */
    int (*balloon_target)(xenshape__hv *hv, uint32_t domid, uint64_t kib);
};

extern const struct xenshape__hv_ops xenshape__hv_sim_ops;
extern const struct xenshape__hv_ops xenshape__hv_xen_ops;

/*
 * The wrappers.  Each checks the fault-injection site "hv.<op>" first (an
 * injected failure returns -errnum without calling the backend), then
 * calls the op.  Return conventions as for the ops.
 */
typedef struct xenshape__hv_handle xenshape__hv_handle;

/* Look up a backend by name ("xen", "sim"); NULL if not built in. */
const struct xenshape__hv_ops *xenshape__hv_lookup(const char *name);
/* Names of the backends built in, NULL-terminated, static. */
const char *const *xenshape__hv_names(void);

int xenshape__hv_open(xenshape__hv_handle **h_r, const char *backend,
                      const xenshape__hv_params *p,
                      struct xentoollog_logger *lg);
void xenshape__hv_close(xenshape__hv_handle *h);
const char *xenshape__hv_backend(const xenshape__hv_handle *h);

int xenshape__hv_domain_list(xenshape__hv_handle *h,
                             xenshape__hv_dominfo *out, unsigned max);
int xenshape__hv_host_info(xenshape__hv_handle *h, uint64_t *total_r,
                           uint64_t *free_r);
int xenshape__hv_paging_enable(xenshape__hv_handle *h, uint32_t domid,
                               xenshape__hv_dom **d_r, uint32_t *port_r);
int xenshape__hv_paging_reattach(xenshape__hv_handle *h, uint32_t domid,
                                 uint32_t port, xenshape__hv_dom **d_r);
void xenshape__hv_ring_close(xenshape__hv_handle *h, xenshape__hv_dom *d);
int xenshape__hv_paging_disable(xenshape__hv_handle *h, uint32_t domid);
vm_event_sring_t *xenshape__hv_ring_page(xenshape__hv_handle *h,
                                         xenshape__hv_dom *d);
int xenshape__hv_evtchn_fd(xenshape__hv_handle *h, xenshape__hv_dom *d);
int xenshape__hv_evtchn_ack(xenshape__hv_handle *h, xenshape__hv_dom *d);
int xenshape__hv_evtchn_notify(xenshape__hv_handle *h, xenshape__hv_dom *d);
int xenshape__hv_nominate(xenshape__hv_handle *h, uint32_t domid,
                          uint64_t gfn);
int xenshape__hv_evict(xenshape__hv_handle *h, uint32_t domid, uint64_t gfn);
int xenshape__hv_load(xenshape__hv_handle *h, uint32_t domid, uint64_t gfn,
                      const void *buf);
void *xenshape__hv_map(xenshape__hv_handle *h, uint32_t domid, int prot,
                       const uint64_t *gfns, size_t n, int *err);
int xenshape__hv_unmap(xenshape__hv_handle *h, void *addr, size_t n);
int xenshape__hv_pause(xenshape__hv_handle *h, uint32_t domid);
int xenshape__hv_unpause(xenshape__hv_handle *h, uint32_t domid);
int xenshape__hv_access_enable(xenshape__hv_handle *h, uint32_t domid,
                               unsigned modes);
int xenshape__hv_access_disable(xenshape__hv_handle *h, uint32_t domid);
int xenshape__hv_access_arm(xenshape__hv_handle *h, uint32_t domid,
                            const uint64_t *gfns, size_t n);
int xenshape__hv_access_read(xenshape__hv_handle *h, uint32_t domid,
                             uint64_t *gfns, size_t max);
int xenshape__hv_dirty_read(xenshape__hv_handle *h, uint32_t domid,
                            uint64_t *bitmap, uint64_t nr, bool clean);
int xenshape__hv_balloon_target(xenshape__hv_handle *h, uint32_t domid,
                                uint64_t kib);

#endif /* XENSHAPE_HV_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
