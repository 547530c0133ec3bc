/*
 * hv_xen.c - the real-Xen backend of hv.h: the hypervisor ops on top of
 * libxenctrl, libxenforeignmemory and libxenevtchn 4.17 (Debian 12).
 *
 * Each op is one thin step of Xen's own protocol and returns Xen's errno
 * untouched (as -errno), because the paging engine decides on exactly
 * those values (EBUSY from nominate, ENOENT from prep, ENOSYS when paging
 * is not compiled in, ...).  This file does not page: it hands out the
 * paging ring page and event channel, and the engine runs the ring
 * (SHARED_RING_INIT or BACK_RING_ATTACH, one response per request).
 *
 * Two things are done here rather than by the engine, because only this
 * backend can do them:
 *   - paging_enable follows libxc's private xc_vm_event_enable() (domain
 *     paused while the ring gfn is found, repopulated if absent, mapped
 *     and enabled), not xenpaging, and keeps the ring gfn in the guest
 *     physmap by default so a restarted daemon can re-attach
 *     (hide_ring_gfn, docs/hv-xen.md);
 *   - access observation (mem_access n2rwx on the monitor ring, and
 *     log-dirty) is run entirely here: the monitor ring is drained and
 *     answered inside access_read, and per-domain state lives in a small
 *     table keyed by domid.
 *
 * Nothing here needs a hypervisor to compile, and open fails cleanly with
 * -ENOENT where /dev/xen/privcmd is missing.  What has and has not been
 * run on real Xen is listed in docs/hv-xen.md.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>

#include "private.h"
#include "hv/hv.h"
#include "hv/hv_xen_priv.h"

/* Domains whose access observation can be on at once (the engine attaches
 * at most XENSHAPE__MAX_DOMS domains; observation is rarer still). */
#define ACCESS_SLOTS 256
/* Domains fetched per getdomaininfolist hypercall. */
#define LIST_BATCH 64
/* gfns passed per xc_set_mem_access_multi call, which bounds the bounce
 * buffers libxc allocates. */
#define ARM_CHUNK 4096
/* Ring passes per access_read: each pass answers what is on the ring and
 * notifies, so Xen can queue more while we read, but we never wait. */
#define DRAIN_PASSES 4

/* One paging ring attached by this process (paging_enable/reattach). */
struct xenshape__hv_dom {
    xenshape__hv *hv;
    uint32_t domid;
    uint32_t remote_port;            /* Xen's port in the guest */
    uint64_t ring_gfn;
    void *ring;                      /* our mapping, or NULL */
    xenevtchn_handle *xce;           /* or NULL */
    evtchn_port_t local_port;
    bool bound;
    xenshape__hv_dom *prev, *next;   /* hv->rings */
};

/* Access observation of one domain (access_enable .. access_disable). */
typedef struct access_dom {
    uint32_t domid;
    unsigned modes;                  /* XENSHAPE__HV_ACCESS_* enabled */
    void *ring;                      /* monitor ring, mapped by libxc */
    xenevtchn_handle *xce;
    evtchn_port_t local_port;
    bool bound;
    vm_event_back_ring_t back;
    /* gfns we armed with n2rwx whose first touch we have not seen yet:
     * the only gfns whose access is not rwx because of us. */
    uint64_t *armed;
    uint64_t nr_gfns;                /* bits in armed */
} access_dom;

struct xenshape__hv {
    xentoollog_logger *lg;           /* borrowed, may be NULL */
    xc_interface *xch;
    xenforeignmemory_handle *fmem;
    bool hide_ring_gfn;
    pthread_mutex_t lock;            /* rings and access */
    bool lock_init;
    xenshape__hv_dom *rings;
    access_dom *access[ACCESS_SLOTS];
    struct xs_handle *xsth;          /* opened on first balloon target */
};

/*
 * libxc, libxenforeignmemory and libxenevtchn print to stderr when given
 * no logger; the library never prints, so they get this one instead.
 */
static void null_vmessage(struct xentoollog_logger *logger,
                          xentoollog_level level, int errnoval,
                          const char *context, const char *format,
                          va_list al)
{
}

static xentoollog_logger null_logger = {
    .vmessage = null_vmessage,
};

static xentoollog_logger *xtl(xenshape__hv *hv)
{
    return hv->lg ? hv->lg : &null_logger;
}

/* errno as the negative return of an op; never 0, even if a library
 * forgot to set errno. */
static int neg_errno(void)
{
    return errno > 0 ? -errno : -EIO;
}

/* ---- pure helpers (hv_xen_priv.h) ------------------------------------ */

bool xenshape__hv_xen_hide_ring_from_env(void)
{
    const char *v = getenv(XENSHAPE__HV_XEN_HIDE_RING_ENV);

    if (!v)
        return false;
    return !strcmp(v, "1") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "true") || !strcasecmp(v, "on");
}

void xenshape__hv_xen_set_hide_ring(xenshape__hv *hv, bool hide)
{
    if (hv)
        hv->hide_ring_gfn = hide;
}

bool xenshape__hv_xen_hide_ring(const xenshape__hv *hv)
{
    return hv && hv->hide_ring_gfn;
}

void xenshape__hv_xen_dominfo(const xc_domaininfo_t *info,
                              xenshape__hv_dominfo *out)
{
    uint32_t code = (info->flags >> XEN_DOMINF_shutdownshift) &
                    XEN_DOMINF_shutdownmask;

    memset(out, 0, sizeof(*out));
    out->domid = info->domain;
    out->nr_vcpus = info->max_vcpu_id == XEN_INVALID_MAX_VCPU_ID ?
                    0 : info->max_vcpu_id + 1;
    out->tot_pages = info->tot_pages;
    out->max_pages = info->max_pages;
    out->paged_pages = info->paged_pages;
    out->paused = info->flags & XEN_DOMINF_paused;
    out->dying = info->flags & XEN_DOMINF_dying;
    /* The shutdown code is only meaningful once the domain shut down. */
    out->crashed = (info->flags & XEN_DOMINF_shutdown) &&
                   code == SHUTDOWN_crash;
    out->hap = info->flags & XEN_DOMINF_hap;
    memcpy(out->handle, info->handle, sizeof(out->handle));
}

void xenshape__hv_xen_response(const vm_event_request_t *req,
                               vm_event_response_t *rsp)
{
    /*
     * Xen 4.6 and later drop a response whose version is not theirs, and
     * a VCPU_PAUSED flag the request did not carry would unpause a vCPU
     * somebody else paused: set exactly these fields, nothing stale.
     */
    memset(rsp, 0, sizeof(*rsp));
    rsp->version = VM_EVENT_INTERFACE_VERSION;
    rsp->vcpu_id = req->vcpu_id;
    rsp->reason = req->reason;
    rsp->flags = req->flags & VM_EVENT_FLAG_VCPU_PAUSED;
    if (req->reason == VM_EVENT_REASON_MEM_ACCESS)
        rsp->u.mem_access.gfn = req->u.mem_access.gfn;
}

int xenshape__hv_xen_drain(vm_event_back_ring_t *back, uint64_t *gfns,
                           size_t max, unsigned *responses_r)
{
    vm_event_request_t req;
    vm_event_response_t rsp;
    RING_IDX rp;
    size_t n = 0;
    unsigned nrsp = 0;

    rp = back->sring->req_prod;
    xen_rmb(); /* Read the requests only after their producer index. */

    /* More requests than slots would mean a corrupted ring: touch none. */
    if (RING_REQUEST_PROD_OVERFLOW(back, rp)) {
        *responses_r = 0;
        return -EIO;
    }

    while (back->req_cons != rp && n < max) {
        RING_COPY_REQUEST(back, back->req_cons, &req);
        back->req_cons++;
        if (req.reason == VM_EVENT_REASON_MEM_ACCESS)
            gfns[n++] = req.u.mem_access.gfn;
        xenshape__hv_xen_response(&req, &rsp);
        /* The response reuses the slot the request was copied from. */
        memcpy(RING_GET_RESPONSE(back, back->rsp_prod_pvt), &rsp,
               sizeof(rsp));
        back->rsp_prod_pvt++;
        nrsp++;
    }
    if (nrsp)
        RING_PUSH_RESPONSES(back);
    *responses_r = nrsp;
    return (int)n;
}

void xenshape__hv_xen_bitmap_copy(uint64_t *dst, uint64_t nr,
                                  const uint8_t *src, uint64_t src_bits)
{
    uint64_t bits = nr < src_bits ? nr : src_bits;
    uint64_t i;

    memset(dst, 0, ((nr + 63) / 64) * sizeof(*dst));
    /* Byte by byte, so the result does not depend on host endianness. */
    for (i = 0; i < bits / 8; i++)
        dst[i / 8] |= (uint64_t)src[i] << (8 * (i % 8));
    if (bits % 8)
        dst[i / 8] |= (uint64_t)(src[i] & ((1u << (bits % 8)) - 1))
                      << (8 * (i % 8));
}

const char *xenshape__hv_xen_enable_hint(int err)
{
    switch (err) {
    case ENOSYS:
        return "paging not compiled into this hypervisor: rebuild Xen "
               "with CONFIG_UNSUPPORTED=y CONFIG_MEM_PAGING=y";
    case EBUSY:
        return "a pager is or was attached (a dead pager leaves its ring "
               "registered): re-attach with the saved port";
    case ENODEV:
        return "the domain does not use HAP (EPT/NPT), which paging needs";
    case EMLINK:
        return "the domain has passthrough devices (IOMMU): paging is "
               "incompatible with them";
    case EXDEV:
        return "the domain uses populate-on-demand: boot it with "
               "memory == maxmem";
    case EOPNOTSUPP:
        return "Dom0 is not PV, or the domain has no paging ring page";
    case ENOMEM:
        return "Xen could not allocate the ring bookkeeping";
    case ESRCH:
        return "no such domain";
    default:
        return "xc_mem_paging_enable failed";
    }
}

/* ---- open and close -------------------------------------------------- */

static void open_failure(xenshape__hv *hv, const char *what, int err)
{
    if (err == ENOENT)
        XSLOG(hv->lg, ERROR, err, "xen: not running on Xen: cannot open "
              "/dev/xen/privcmd (%s)", what);
    else if (err == EACCES || err == EPERM)
        XSLOG(hv->lg, ERROR, err, "xen: permission denied opening "
              "/dev/xen/privcmd (%s): run as root in Dom0", what);
    else
        XSLOG(hv->lg, ERROR, err, "xen: cannot open the Xen control "
              "interface (%s)", what);
}

static void dom_release(xenshape__hv_dom *d);
static int access_teardown(xenshape__hv *hv, access_dom *a);

static void xen_close(xenshape__hv *hv)
{
    unsigned i;

    if (!hv)
        return;
    /*
     * Armed gfns left behind with nobody draining the monitor ring would
     * fill it and block the guest's vCPUs, so observation is switched
     * off here whatever the caller forgot.
     */
    for (i = 0; i < ACCESS_SLOTS; i++) {
        if (!hv->access[i])
            continue;
        access_teardown(hv, hv->access[i]);
        free(hv->access[i]->armed);
        free(hv->access[i]);
        hv->access[i] = NULL;
    }
    /* Releasing our side of a ring leaves paging enabled in Xen, which is
     * what a later re-attach needs. */
    while (hv->rings) {
        xenshape__hv_dom *d = hv->rings;

        XSLOG(hv->lg, WARN, -1, "xen: dom%u: paging ring still open at "
              "close; releasing our side of it", d->domid);
        hv->rings = d->next;
        dom_release(d);
    }
    if (hv->xsth)
        xs_close(hv->xsth);
    if (hv->fmem)
        xenforeignmemory_close(hv->fmem);
    if (hv->xch)
        xc_interface_close(hv->xch);
    if (hv->lock_init)
        pthread_mutex_destroy(&hv->lock);
    free(hv);
}

static int xen_open(xenshape__hv **hv_r, const xenshape__hv_params *p,
                    xentoollog_logger *lg)
{
    xenshape__hv *hv = NULL;
    int r;

    if (!hv_r)
        return -EINVAL;
    hv = xenshape__calloc(1, sizeof(*hv));
    if (!hv) {
        r = -ENOMEM;
        goto out;
    }
    hv->lg = lg;
    r = pthread_mutex_init(&hv->lock, NULL);
    if (r) {
        r = -r;
        goto out;
    }
    hv->lock_init = true;

    hv->xch = xc_interface_open(xtl(hv), NULL, 0);
    if (!hv->xch) {
        r = neg_errno();
        open_failure(hv, "xc_interface_open", -r);
        goto out;
    }
    hv->fmem = xenforeignmemory_open(xtl(hv), 0);
    if (!hv->fmem) {
        r = neg_errno();
        open_failure(hv, "xenforeignmemory_open", -r);
        goto out;
    }
    hv->hide_ring_gfn = xenshape__hv_xen_hide_ring_from_env();
    if (hv->hide_ring_gfn)
        XSLOG(lg, INFO, -1, "xen: paging ring gfns will be removed from "
              "guest physmaps (%s): re-attach after a restart is "
              "impossible", XENSHAPE__HV_XEN_HIDE_RING_ENV);

    *hv_r = hv;
    hv = NULL;
    r = 0;
 out:
    xen_close(hv);
    return r;
}

/* ---- domains and host ------------------------------------------------ */

static int xen_domain_list(xenshape__hv *hv, xenshape__hv_dominfo *out,
                           unsigned max)
{
    xc_domaininfo_t *info = NULL;
    uint32_t next = 1; /* Dom0 is never a paging target. */
    unsigned n = 0, want, got, i;
    xen_pfn_t gpfn;
    int r;

    if (!hv || (!out && max))
        return -EINVAL;
    info = xenshape__calloc(LIST_BATCH, sizeof(*info));
    if (!info) {
        r = -ENOMEM;
        goto out;
    }

    while (n < max && next < DOMID_FIRST_RESERVED) {
        want = max - n < LIST_BATCH ? max - n : LIST_BATCH;
        r = xc_domain_getinfolist(hv->xch, next, want, info);
        if (r < 0) {
            r = neg_errno();
            XSLOG(hv->lg, ERROR, -r, "xen: xc_domain_getinfolist(from "
                  "dom%u) failed", next);
            goto out;
        }
        got = r;
        if (got > want) {
            XSLOG(hv->lg, ERROR, -1, "xen: xc_domain_getinfolist returned "
                  "%u domains, asked for %u", got, want);
            r = -EIO;
            goto out;
        }
        for (i = 0; i < got; i++) {
            uint32_t domid = info[i].domain;

            /* Xen returns ascending ids from the one asked for; anything
             * else would attach us to the wrong domain. */
            if (domid < next || domid >= DOMID_FIRST_RESERVED) {
                XSLOG(hv->lg, ERROR, -1, "xen: xc_domain_getinfolist "
                      "returned dom%u where dom%u or above was asked for",
                      domid, next);
                r = -EIO;
                goto out;
            }
            next = domid + 1;
            xenshape__hv_xen_dominfo(&info[i], &out[n]);
            r = xc_domain_maximum_gpfn(hv->xch, domid, &gpfn);
            if (r < 0) {
                r = neg_errno();
                if (r == -ESRCH)
                    continue; /* It went away since the list call. */
                XSLOG(hv->lg, WARN, -r, "xen: xc_domain_maximum_gpfn(dom%u) "
                      "failed; reporting max_gpfn 0", domid);
                out[n].max_gpfn = 0;
            } else {
                out[n].max_gpfn = (uint64_t)gpfn + 1;
            }
            n++;
        }
        if (got < want)
            break;
    }
    r = (int)n;
 out:
    free(info);
    return r;
}

static int xen_host_info(xenshape__hv *hv, uint64_t *total_r,
                         uint64_t *free_r)
{
    xc_physinfo_t info;
    int r;

    if (!hv || !total_r || !free_r)
        return -EINVAL;
    memset(&info, 0, sizeof(info));
    r = xc_physinfo(hv->xch, &info);
    if (r < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: xc_physinfo failed");
        return r;
    }
    *total_r = info.total_pages;
    /* Pages being scrubbed are free a moment later, as squeezed counts. */
    *free_r = info.free_pages + info.scrub_pages;
    return 0;
}

/* ---- the paging ring ------------------------------------------------- */

static xenshape__hv_dom *dom_new(xenshape__hv *hv, uint32_t domid)
{
    xenshape__hv_dom *d = xenshape__calloc(1, sizeof(*d));

    if (d) {
        d->hv = hv;
        d->domid = domid;
    }
    return d;
}

/* Our side only: unbind, close, unmap, free.  Paging stays as it is. */
static void dom_release(xenshape__hv_dom *d)
{
    xenshape__hv *hv;

    if (!d)
        return;
    hv = d->hv;
    if (d->bound && xenevtchn_unbind(d->xce, d->local_port) < 0)
        XSLOG(hv->lg, WARN, errno, "xen: dom%u: xenevtchn_unbind(port %u) "
              "failed", d->domid, d->local_port);
    if (d->xce)
        xenevtchn_close(d->xce);
    if (d->ring && xenforeignmemory_unmap(hv->fmem, d->ring, 1) < 0)
        XSLOG(hv->lg, WARN, errno, "xen: dom%u: unmapping the paging ring "
              "failed", d->domid);
    free(d);
}

static void dom_link(xenshape__hv *hv, xenshape__hv_dom *d)
{
    pthread_mutex_lock(&hv->lock);
    d->prev = NULL;
    d->next = hv->rings;
    if (hv->rings)
        hv->rings->prev = d;
    hv->rings = d;
    pthread_mutex_unlock(&hv->lock);
}

static void dom_unlink(xenshape__hv *hv, xenshape__hv_dom *d)
{
    pthread_mutex_lock(&hv->lock);
    if (d->prev)
        d->prev->next = d->next;
    else if (hv->rings == d)
        hv->rings = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->prev = d->next = NULL;
    pthread_mutex_unlock(&hv->lock);
}

static int ring_gfn_get(xenshape__hv *hv, uint32_t domid, uint64_t *gfn_r)
{
    uint64_t pfn = 0;
    int r;

    r = xc_hvm_param_get(hv->xch, domid, HVM_PARAM_PAGING_RING_PFN, &pfn);
    if (r < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: reading "
              "HVM_PARAM_PAGING_RING_PFN failed", domid);
        return r;
    }
    if (!pfn) {
        /* Xen itself refuses to enable paging on such a domain. */
        XSLOG(hv->lg, ERROR, -1, "xen: dom%u has no paging ring page "
              "(HVM_PARAM_PAGING_RING_PFN is 0: not an HVM/PVH guest?)",
              domid);
        return -EOPNOTSUPP;
    }
    *gfn_r = pfn;
    return 0;
}

static void *ring_map(xenshape__hv *hv, uint32_t domid, uint64_t gfn)
{
    xen_pfn_t pfn = gfn;

    /* Without an err array the map is all or nothing, with errno set. */
    return xenforeignmemory_map(hv->fmem, domid, PROT_READ | PROT_WRITE,
                                1, &pfn, NULL);
}

/*
 * Open an event-channel handle and bind it to Xen's port in the guest,
 * for the paging ring and the monitor ring alike.  *xce_r is set as soon
 * as it is open, so the caller's cleanup closes it on any failure.
 */
static int bind_port(xenshape__hv *hv, uint32_t domid, uint32_t port,
                     const char *what, xenevtchn_handle **xce_r,
                     evtchn_port_t *local_r)
{
    xenevtchn_port_or_error_t lp;
    int r;

    *xce_r = xenevtchn_open(xtl(hv), 0);
    if (!*xce_r) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xenevtchn_open failed",
              domid);
        return r;
    }
    lp = xenevtchn_bind_interdomain(*xce_r, domid, port);
    if (lp < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xenevtchn_bind_interdomain"
              "(%s port %u) failed", domid, what, port);
        return r;
    }
    *local_r = (evtchn_port_t)lp;
    return 0;
}

/* Bind d's event channel to Xen's port in the guest. */
static int ring_bind(xenshape__hv *hv, xenshape__hv_dom *d, uint32_t port)
{
    int r = bind_port(hv, d->domid, port, "remote", &d->xce,
                      &d->local_port);

    if (r)
        return r;
    d->bound = true;
    d->remote_port = port;
    return 0;
}

/*
 * The part of paging_enable that runs with the domain paused.  On failure
 * everything it did to the domain is undone (paging disabled again, a
 * repopulated ring gfn removed again); d's own resources are the caller's
 * to release.
 */
static int enable_paused(xenshape__hv *hv, xenshape__hv_dom *d,
                         uint32_t *port_r)
{
    uint32_t domid = d->domid, port = 0;
    xen_pfn_t pfn;
    bool populated = false, enabled = false;
    int r;

    r = ring_gfn_get(hv, domid, &d->ring_gfn);
    if (r < 0)
        goto out;

    d->ring = ring_map(hv, domid, d->ring_gfn);
    if (!d->ring) {
        r = neg_errno();
        if (r == -ESRCH || r == -EPERM || r == -EACCES) {
            XSLOG(hv->lg, ERROR, -r, "xen: dom%u: mapping the paging ring "
                  "gfn %#"PRIx64" failed", domid, d->ring_gfn);
            goto out;
        }
        /* An earlier pager may have removed the gfn from the physmap;
         * give it a page again, as libxc does. */
        XSLOG(hv->lg, DETAIL, -r, "xen: dom%u: paging ring gfn %#"PRIx64
              " not mappable; repopulating it", domid, d->ring_gfn);
        pfn = d->ring_gfn;
        r = xc_domain_populate_physmap_exact(hv->xch, domid, 1, 0, 0, &pfn);
        if (r < 0) {
            r = neg_errno();
            XSLOG(hv->lg, ERROR, -r, "xen: dom%u: "
                  "xc_domain_populate_physmap_exact(gfn %#"PRIx64") failed",
                  domid, d->ring_gfn);
            goto out;
        }
        populated = true;
        d->ring = ring_map(hv, domid, d->ring_gfn);
        if (!d->ring) {
            r = neg_errno();
            XSLOG(hv->lg, ERROR, -r, "xen: dom%u: mapping the repopulated "
                  "paging ring gfn %#"PRIx64" failed", domid, d->ring_gfn);
            goto out;
        }
    }

    r = xc_mem_paging_enable(hv->xch, domid, &port);
    if (r < 0) {
        r = neg_errno();
        xenshape__log(hv->lg, r == -EBUSY ? XTL_NOTICE : XTL_ERROR, -r,
                      "xen: dom%u: xc_mem_paging_enable: %s", domid,
                      xenshape__hv_xen_enable_hint(-r));
        goto out;
    }
    enabled = true;
    /*
     * Xen starts its private ring indices at 0 but does not reset the
     * shared ones, which may be stale from an earlier pager.  Reset them
     * now, while the guest cannot fault: once we unpause, a request can
     * arrive at any time (at once, if frames are still paged out).  Not
     * before the enable: on EBUSY this page is a live ring.
     */
    SHARED_RING_INIT((vm_event_sring_t *)d->ring);

    r = ring_bind(hv, d, port);
    if (r < 0)
        goto out;

    if (hv->hide_ring_gfn) {
        /* Xen holds its own reference to the ring page, and so does our
         * mapping: both survive the gfn leaving the physmap. */
        pfn = d->ring_gfn;
        r = xc_domain_decrease_reservation_exact(hv->xch, domid, 1, 0, &pfn);
        if (r < 0)
            XSLOG(hv->lg, WARN, errno, "xen: dom%u: removing the paging "
                  "ring gfn %#"PRIx64" from the guest physmap failed; the "
                  "guest can still see the ring", domid, d->ring_gfn);
    }

    /* From here the enable belongs to the caller. */
    *port_r = port;
    populated = enabled = false;
    r = 0;
 out:
    if (enabled && xc_mem_paging_disable(hv->xch, domid) < 0)
        XSLOG(hv->lg, ERROR, errno, "xen: dom%u: xc_mem_paging_disable "
              "while undoing a failed enable failed", domid);
    if (populated) {
        /* Leave no page that is not Xen's ring where a re-attach would
         * look for it. */
        if (d->ring) {
            xenforeignmemory_unmap(hv->fmem, d->ring, 1);
            d->ring = NULL;
        }
        pfn = d->ring_gfn;
        if (xc_domain_decrease_reservation_exact(hv->xch, domid, 1, 0,
                                                 &pfn) < 0)
            XSLOG(hv->lg, WARN, errno, "xen: dom%u: removing the "
                  "repopulated ring gfn %#"PRIx64" failed", domid,
                  d->ring_gfn);
    }
    return r;
}

static int xen_paging_enable(xenshape__hv *hv, uint32_t domid,
                             xenshape__hv_dom **d_r, uint32_t *port_r)
{
    xenshape__hv_dom *d = NULL;
    uint32_t port = 0;
    int r, ur;

    if (!hv || !d_r || !port_r)
        return -EINVAL;
    d = dom_new(hv, domid);
    if (!d) {
        r = -ENOMEM;
        goto out;
    }

    /* The guest must not run while its ring gfn is repopulated, mapped
     * and handed to Xen (libxc's xc_vm_event_enable does the same). */
    r = xc_domain_pause(hv->xch, domid);
    if (r < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xc_domain_pause failed",
              domid);
        goto out;
    }
    r = enable_paused(hv, d, &port);
    ur = xc_domain_unpause(hv->xch, domid);
    if (ur < 0) {
        ur = neg_errno();
        /*
         * Undoing a successful enable here could strand frames still
         * paged out from an earlier pager, so a live domain keeps its
         * ring and stays paused for the operator; a vanished one fails.
         */
        XSLOG(hv->lg, ERROR, -ur, "xen: dom%u: xc_domain_unpause after "
              "setting up paging failed%s", domid,
              r == 0 && ur != -ESRCH ?
              "; the domain stays paused (xl unpause it)" : "");
        if (r == 0 && ur == -ESRCH)
            r = ur;
    }
    if (r < 0)
        goto out;

    dom_link(hv, d);
    *d_r = d;
    *port_r = port;
    d = NULL;
    r = 0;
 out:
    dom_release(d);
    return r;
}

static int xen_paging_reattach(xenshape__hv *hv, uint32_t domid,
                               uint32_t port, xenshape__hv_dom **d_r)
{
    xenshape__hv_dom *d = NULL;
    int r;

    if (!hv || !d_r)
        return -EINVAL;
    d = dom_new(hv, domid);
    if (!d) {
        r = -ENOMEM;
        goto out;
    }
    r = ring_gfn_get(hv, domid, &d->ring_gfn);
    if (r < 0) {
        if (r == -EOPNOTSUPP)
            r = -ENOENT;
        goto out;
    }
    /*
     * Never repopulate here: a fresh page at the ring gfn is not the page
     * Xen writes requests to, and binding it would lose them all.
     */
    d->ring = ring_map(hv, domid, d->ring_gfn);
    if (!d->ring) {
        r = neg_errno();
        if (r == -ESRCH || r == -EPERM || r == -EACCES) {
            XSLOG(hv->lg, ERROR, -r, "xen: dom%u: mapping the paging ring "
                  "gfn %#"PRIx64" failed", domid, d->ring_gfn);
            goto out;
        }
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: the paging ring gfn %#"PRIx64
              " is not in the guest physmap (removed by an earlier pager): "
              "re-attach is impossible; only disable and re-enable with the "
              "domain paused remain", domid, d->ring_gfn);
        r = -ENOENT;
        goto out;
    }
    r = ring_bind(hv, d, port);
    if (r < 0) {
        XSLOG(hv->lg, ERROR, -1, "xen: dom%u: saved port %u is not the "
              "domain's paging channel (paging disabled, or a new domain "
              "with the same id?)", domid, port);
        goto out;
    }

    dom_link(hv, d);
    *d_r = d;
    d = NULL;
    r = 0;
 out:
    dom_release(d);
    return r;
}

static void xen_ring_close(xenshape__hv_dom *d)
{
    if (!d)
        return;
    dom_unlink(d->hv, d);
    dom_release(d);
}

static int xen_paging_disable(xenshape__hv *hv, uint32_t domid)
{
    int r;

    if (!hv)
        return -EINVAL;
    r = xc_mem_paging_disable(hv->xch, domid);
    if (r < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xc_mem_paging_disable%s",
              domid, r == -EBUSY ?
              ": vCPUs are waiting for space on a full ring" : " failed");
        return r;
    }
    return 0;
}

static vm_event_sring_t *xen_ring_page(xenshape__hv_dom *d)
{
    return d ? d->ring : NULL;
}

static int xen_evtchn_fd(xenshape__hv_dom *d)
{
    if (!d)
        return -EINVAL;
    if (!d->xce)
        return -EBADF;
    return xenevtchn_fd(d->xce);
}

/*
 * Consume one notification and unmask the port.  xenevtchn_pending() may
 * block when nothing is pending (see xenevtchn.h), so the fd is polled
 * first, with no timeout.
 */
static int evtchn_ack(xentoollog_logger *lg, xenevtchn_handle *xce,
                      uint32_t domid)
{
    struct pollfd pfd;
    xenevtchn_port_or_error_t port;
    int r;

    pfd.fd = xenevtchn_fd(xce);
    pfd.events = POLLIN;
    pfd.revents = 0;
    r = poll(&pfd, 1, 0);
    if (r < 0)
        return errno == EINTR ? 0 : neg_errno();
    if (r == 0)
        return 0;
    port = xenevtchn_pending(xce);
    if (port < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        r = neg_errno();
        XSLOG(lg, ERROR, -r, "xen: dom%u: xenevtchn_pending failed", domid);
        return r;
    }
    if (xenevtchn_unmask(xce, port) < 0) {
        r = neg_errno();
        XSLOG(lg, ERROR, -r, "xen: dom%u: xenevtchn_unmask(port %d) failed",
              domid, port);
        return r;
    }
    return 0;
}

static int xen_evtchn_ack(xenshape__hv_dom *d)
{
    if (!d)
        return -EINVAL;
    if (!d->bound)
        return -EBADF;
    return evtchn_ack(d->hv->lg, d->xce, d->domid);
}

static int xen_evtchn_notify(xenshape__hv_dom *d)
{
    int r;

    if (!d)
        return -EINVAL;
    if (!d->bound)
        return -EBADF;
    if (xenevtchn_notify(d->xce, d->local_port) < 0) {
        r = neg_errno();
        XSLOG(d->hv->lg, ERROR, -r, "xen: dom%u: xenevtchn_notify(port %u) "
              "failed", d->domid, d->local_port);
        return r;
    }
    return 0;
}

/* ---- nominate, evict, load ------------------------------------------- */

/*
 * Log a failed paging memop.  The errnos the engine handles as routine
 * (a page that refuses nomination, an evict that lost a race, a prep on a
 * gfn that is no longer paged) go to DEBUG, or a busy guest would flood
 * the log; everything else is an error.
 */
static void memop_failure(xenshape__hv *hv, const char *op, uint32_t domid,
                          uint64_t gfn, int err, int routine)
{
    xenshape__log(hv->lg, err == routine ? XTL_DEBUG : XTL_ERROR, err,
                  "xen: %s(dom%u, gfn %#"PRIx64") failed", op, domid, gfn);
}

static int xen_nominate(xenshape__hv *hv, uint32_t domid, uint64_t gfn)
{
    int r;

    if (!hv)
        return -EINVAL;
    r = xc_mem_paging_nominate(hv->xch, domid, gfn);
    if (r < 0) {
        r = neg_errno();
        memop_failure(hv, "xc_mem_paging_nominate", domid, gfn, -r, EBUSY);
        return r;
    }
    return 0;
}

static int xen_evict(xenshape__hv *hv, uint32_t domid, uint64_t gfn)
{
    int r;

    if (!hv)
        return -EINVAL;
    r = xc_mem_paging_evict(hv->xch, domid, gfn);
    if (r < 0) {
        r = neg_errno();
        memop_failure(hv, "xc_mem_paging_evict", domid, gfn, -r, EBUSY);
        return r;
    }
    return 0;
}

static int xen_load(xenshape__hv *hv, uint32_t domid, uint64_t gfn,
                    const void *buf)
{
    int r;

    if (!hv)
        return -EINVAL;
    /* libxc bounces the buffer into the hypercall (direction IN only), so
     * it is never written through the non-const prototype. */
    if (buf)
        r = xc_mem_paging_load(hv->xch, domid, gfn, (void *)buf);
    else
        r = xc_mem_paging_prep(hv->xch, domid, gfn);
    if (r < 0) {
        r = neg_errno();
        /* A buffer-less prep is also the engine's probe after a restart:
         * EINVAL ("paged, and no data given") is its routine answer for
         * every frame still out, so it must not be logged as an error. */
        memop_failure(hv, buf ? "xc_mem_paging_load" : "xc_mem_paging_prep",
                      domid, gfn, -r,
                      !buf && r == -EINVAL ? EINVAL : ENOENT);
        return r;
    }
    return 0;
}

/* ---- foreign mapping ------------------------------------------------- */

static void *xen_map(xenshape__hv *hv, uint32_t domid, int prot,
                     const uint64_t *gfns, size_t n, int *err)
{
    xen_pfn_t *pfns = NULL;
    const xen_pfn_t *arr;
    void *addr = NULL;
    size_t i;
    int e;

    if (!hv || !gfns || !n) {
        errno = EINVAL;
        return NULL;
    }
    /* On x86_64 xen_pfn_t is uint64_t and the array is passed as is. */
    if (__builtin_types_compatible_p(xen_pfn_t, uint64_t)) {
        arr = (const xen_pfn_t *)gfns;
    } else {
        pfns = xenshape__malloc(n * sizeof(*pfns));
        if (!pfns) {
            errno = ENOMEM;
            return NULL;
        }
        for (i = 0; i < n; i++)
            pfns[i] = gfns[i];
        arr = pfns;
    }

    addr = xenforeignmemory_map(hv->fmem, domid, prot, n, arr, err);
    e = errno;
    if (!addr) {
        XSLOG(hv->lg, ERROR, e, "xen: dom%u: xenforeignmemory_map(%zu "
              "frames from gfn %#"PRIx64") failed", domid, n, gfns[0]);
        if (err)
            for (i = 0; i < n; i++)
                err[i] = -e;
    } else if (err) {
        /* The per-frame codes are negative from Linux's privcmd; keep the
         * op's contract (0 or -errno) whatever the OS layer does. */
        for (i = 0; i < n; i++)
            if (err[i] > 0)
                err[i] = -err[i];
    }
    free(pfns);
    errno = e;
    return addr;
}

static int xen_unmap(xenshape__hv *hv, void *addr, size_t n)
{
    int r;

    if (!hv || !addr)
        return -EINVAL;
    if (xenforeignmemory_unmap(hv->fmem, addr, n) < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: xenforeignmemory_unmap(%p, %zu) "
              "failed", addr, n);
        return r;
    }
    return 0;
}

static int xen_pause(xenshape__hv *hv, uint32_t domid)
{
    int r;

    if (!hv)
        return -EINVAL;
    if (xc_domain_pause(hv->xch, domid) < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: xc_domain_pause(dom%u) failed", domid);
        return r;
    }
    return 0;
}

static int xen_unpause(xenshape__hv *hv, uint32_t domid)
{
    int r;

    if (!hv)
        return -EINVAL;
    if (xc_domain_unpause(hv->xch, domid) < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: xc_domain_unpause(dom%u) failed",
              domid);
        return r;
    }
    return 0;
}

/* ---- access observation ---------------------------------------------- */

/* Called with hv->lock held. */
static access_dom **access_slot(xenshape__hv *hv, uint32_t domid)
{
    unsigned i;

    for (i = 0; i < ACCESS_SLOTS; i++)
        if (hv->access[i] && hv->access[i]->domid == domid)
            return &hv->access[i];
    return NULL;
}

static access_dom **access_free_slot(xenshape__hv *hv)
{
    unsigned i;

    for (i = 0; i < ACCESS_SLOTS; i++)
        if (!hv->access[i])
            return &hv->access[i];
    return NULL;
}

static bool armed_test(const access_dom *a, uint64_t gfn)
{
    return gfn < a->nr_gfns && (a->armed[gfn / 64] >> (gfn % 64)) & 1;
}

static void armed_set(access_dom *a, uint64_t gfn, bool on)
{
    uint64_t bit = UINT64_C(1) << (gfn % 64);

    if (gfn >= a->nr_gfns)
        return;
    if (on)
        a->armed[gfn / 64] |= bit;
    else
        a->armed[gfn / 64] &= ~bit;
}

/* Size the armed bitmap to the domain's gfn space as it is now. */
static int armed_resize(xenshape__hv *hv, access_dom *a)
{
    xen_pfn_t gpfn;
    uint64_t nr, words, old_words;
    uint64_t *bm;
    int r;

    r = xc_domain_maximum_gpfn(hv->xch, a->domid, &gpfn);
    if (r < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: xc_domain_maximum_gpfn(dom%u) failed",
              a->domid);
        return r;
    }
    nr = (uint64_t)gpfn + 1;
    if (nr <= a->nr_gfns)
        return 0;
    words = (nr + 63) / 64;
    old_words = (a->nr_gfns + 63) / 64;
    bm = xenshape__realloc(a->armed, words * sizeof(*bm));
    if (!bm)
        return -ENOMEM;
    memset(bm + old_words, 0, (words - old_words) * sizeof(*bm));
    a->armed = bm;
    a->nr_gfns = nr;
    return 0;
}

static void monitor_release(xenshape__hv *hv, access_dom *a)
{
    if (a->bound && xenevtchn_unbind(a->xce, a->local_port) < 0)
        XSLOG(hv->lg, WARN, errno, "xen: dom%u: xenevtchn_unbind(monitor "
              "port %u) failed", a->domid, a->local_port);
    a->bound = false;
    if (a->xce)
        xenevtchn_close(a->xce);
    a->xce = NULL;
    /* libxc mapped the monitor ring through its own handle. */
    if (a->ring)
        xenforeignmemory_unmap(xc_interface_fmem_handle(hv->xch), a->ring, 1);
    a->ring = NULL;
}

static int monitor_start(xenshape__hv *hv, access_dom *a)
{
    uint32_t port = 0;
    bool enabled = false;
    int r;

    r = armed_resize(hv, a);
    if (r < 0)
        goto out;
    /* libxc pauses the domain, maps the ring, enables the monitor ring
     * and removes its gfn from the physmap. */
    a->ring = xc_monitor_enable(hv->xch, a->domid, &port);
    if (!a->ring) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xc_monitor_enable%s",
              a->domid, r == -EBUSY ? ": another monitor client (a VMI "
              "tool, or a crashed xenshape) holds the monitor ring" :
              " failed");
        goto out;
    }
    enabled = true;
    r = bind_port(hv, a->domid, port, "monitor", &a->xce, &a->local_port);
    if (r)
        goto out;
    a->bound = true;
    /* Nothing is armed yet, so no request can be on the ring. */
    SHARED_RING_INIT((vm_event_sring_t *)a->ring);
    BACK_RING_INIT(&a->back, (vm_event_sring_t *)a->ring, XC_PAGE_SIZE);
    enabled = false;
    r = 0;
 out:
    if (enabled) {
        monitor_release(hv, a);
        if (xc_monitor_disable(hv->xch, a->domid) < 0)
            XSLOG(hv->lg, ERROR, errno, "xen: dom%u: xc_monitor_disable "
                  "while undoing a failed enable failed", a->domid);
    }
    return r;
}

static int logdirty_start(xenshape__hv *hv, uint32_t domid, bool takeover)
{
    int r;

    r = xc_shadow_control(hv->xch, domid,
                          XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0);
    if (r < 0 && errno == EINVAL && !takeover) {
        /* Someone has it: a save, a migration, the device model's VRAM
         * tracking, or a dead pager of ours (the caller knows which may
         * be, and asks for a takeover then). */
        XSLOG(hv->lg, DETAIL, EINVAL, "xen: dom%u: log-dirty is in use",
              domid);
        return -EBUSY;
    }
    if (r < 0 && errno == EINVAL) {
        /*
         * Already on, most often left by a pager that died, or for the
         * device model's VRAM tracking; libxc's save turns it off and on
         * again, and so do we.  During a save or migration this would
         * steal its dirty bits: never ask for a takeover while one may
         * run.
         */
        XSLOG(hv->lg, NOTICE, EINVAL, "xen: dom%u: log-dirty refused; "
              "turning it off and on again", domid);
        if (xc_shadow_control(hv->xch, domid, XEN_DOMCTL_SHADOW_OP_OFF,
                              NULL, 0) < 0)
            XSLOG(hv->lg, WARN, errno, "xen: dom%u: log-dirty off failed",
                  domid);
        r = xc_shadow_control(hv->xch, domid,
                              XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL, 0);
    }
    if (r < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: enabling log-dirty failed "
              "(passthrough devices, or a save/migrate in progress?)",
              domid);
        return r;
    }
    return 0;
}

static int restore_chunk(xenshape__hv *hv, access_dom *a, uint8_t *acc,
                         uint64_t *pages, uint32_t cnt)
{
    uint32_t i;
    int r;

    if (xc_set_mem_access_multi(hv->xch, a->domid, acc, pages, cnt) < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: restoring rwx on %u gfns "
              "from %#"PRIx64" failed", a->domid, cnt, pages[0]);
        return r;
    }
    for (i = 0; i < cnt; i++)
        armed_set(a, pages[i], false);
    return 0;
}

/* Set access to rwx for every gfn still armed.  Returns 0 or the first
 * -errno; gfns that could not be restored stay armed. */
static int armed_restore(xenshape__hv *hv, access_dom *a)
{
    uint64_t *pages = NULL;
    uint8_t *acc = NULL;
    uint64_t gfn;
    uint32_t cnt = 0;
    int r = 0, e;

    if (!a->armed)
        return 0;
    pages = xenshape__malloc(ARM_CHUNK * sizeof(*pages));
    acc = xenshape__malloc(ARM_CHUNK);
    if (!pages || !acc) {
        r = -ENOMEM;
        goto out;
    }
    memset(acc, XENMEM_access_rwx, ARM_CHUNK);
    for (gfn = 0; gfn < a->nr_gfns; gfn++) {
        if (!armed_test(a, gfn))
            continue;
        pages[cnt++] = gfn;
        if (cnt == ARM_CHUNK) {
            e = restore_chunk(hv, a, acc, pages, cnt);
            if (e < 0 && !r)
                r = e;
            cnt = 0;
        }
    }
    if (cnt) {
        e = restore_chunk(hv, a, acc, pages, cnt);
        if (e < 0 && !r)
            r = e;
    }
 out:
    free(pages);
    free(acc);
    return r;
}

/* Answer every request on the monitor ring, keeping none of the gfns. */
static void monitor_flush(xenshape__hv *hv, access_dom *a)
{
    uint64_t sink[8];
    unsigned nrsp, total = 0;
    int pass, n;

    for (pass = 0; pass < DRAIN_PASSES; pass++) {
        n = xenshape__hv_xen_drain(&a->back, sink, XENSHAPE__ARRAY_SIZE(sink),
                                   &nrsp);
        if (n < 0 || !nrsp)
            break;
        total += nrsp;
    }
    if (total && xenevtchn_notify(a->xce, a->local_port) < 0)
        XSLOG(hv->lg, WARN, errno, "xen: dom%u: notifying the monitor ring "
              "failed", a->domid);
}

/*
 * Switch off everything enabled in a.  Observation that could not be
 * switched off stays in a->modes, so the caller can retry.  Returns 0 or
 * the first -errno.
 */
static int access_teardown(xenshape__hv *hv, access_dom *a)
{
    int r = 0, e;

    if (a->modes & XENSHAPE__HV_ACCESS_N2RWX) {
        /* Restrictions we leave behind would be lifted by Xen on the next
         * touch once no ring listens, but only one by one, with a fault
         * each: restore them while we know which they are. */
        e = armed_restore(hv, a);
        if (e < 0)
            r = e;
        /* Xen refuses to disable while vCPUs wait for ring space. */
        monitor_flush(hv, a);
        if (xc_monitor_disable(hv->xch, a->domid) < 0) {
            e = neg_errno();
            XSLOG(hv->lg, ERROR, -e, "xen: dom%u: xc_monitor_disable failed",
                  a->domid);
            if (!r)
                r = e;
        } else {
            monitor_release(hv, a);
            a->modes &= ~XENSHAPE__HV_ACCESS_N2RWX;
        }
    }
    if (a->modes & XENSHAPE__HV_ACCESS_LOGDIRTY) {
        if (xc_shadow_control(hv->xch, a->domid, XEN_DOMCTL_SHADOW_OP_OFF,
                              NULL, 0) < 0) {
            e = neg_errno();
            XSLOG(hv->lg, ERROR, -e, "xen: dom%u: log-dirty off failed",
                  a->domid);
            if (!r)
                r = e;
        } else {
            a->modes &= ~XENSHAPE__HV_ACCESS_LOGDIRTY;
        }
    }
    return r;
}

static int xen_access_enable(xenshape__hv *hv, uint32_t domid,
                             unsigned modes)
{
    access_dom **slot, *a;
    int r, first_err = 0;
    bool takeover;

    if (!hv)
        return -EINVAL;
    takeover = modes & XENSHAPE__HV_ACCESS_TAKEOVER;
    modes &= XENSHAPE__HV_ACCESS_N2RWX | XENSHAPE__HV_ACCESS_LOGDIRTY;
    if (!modes)
        return 0;

    pthread_mutex_lock(&hv->lock);
    slot = access_slot(hv, domid);
    if (!slot) {
        slot = access_free_slot(hv);
        if (!slot) {
            XSLOG(hv->lg, ERROR, -1, "xen: dom%u: access observation is "
                  "already on for %u domains", domid, ACCESS_SLOTS);
            r = -ENOSPC;
            goto out;
        }
        a = xenshape__calloc(1, sizeof(*a));
        if (!a) {
            r = -ENOMEM;
            goto out;
        }
        a->domid = domid;
        *slot = a;
    }
    a = *slot;

    if ((modes & XENSHAPE__HV_ACCESS_N2RWX) &&
        !(a->modes & XENSHAPE__HV_ACCESS_N2RWX)) {
        r = monitor_start(hv, a);
        if (r < 0)
            first_err = r;
        else
            a->modes |= XENSHAPE__HV_ACCESS_N2RWX;
    }
    if ((modes & XENSHAPE__HV_ACCESS_LOGDIRTY) &&
        !(a->modes & XENSHAPE__HV_ACCESS_LOGDIRTY)) {
        r = logdirty_start(hv, domid, takeover);
        if (r < 0) {
            if (!first_err)
                first_err = r;
        } else {
            a->modes |= XENSHAPE__HV_ACCESS_LOGDIRTY;
        }
    }

    r = (int)(a->modes & modes);
    if (!r && first_err)
        r = first_err;
    if (!a->modes) {
        free(a->armed);
        free(a);
        *slot = NULL;
    }
 out:
    pthread_mutex_unlock(&hv->lock);
    return r;
}

/* The domain no longer exists or is being destroyed. */
static bool dom_gone(xenshape__hv *hv, uint32_t domid)
{
    xc_domaininfo_t info;

    if (xc_domain_getinfolist(hv->xch, domid, 1, &info) != 1 ||
        info.domain != domid)
        return true;
    return (info.flags & XEN_DOMINF_dying) != 0;
}

static int xen_access_disable(xenshape__hv *hv, uint32_t domid)
{
    access_dom **slot, *a;
    int r = 0;

    if (!hv)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    slot = access_slot(hv, domid);
    if (!slot)
        goto out;
    a = *slot;
    r = access_teardown(hv, a);
    if (a->modes && dom_gone(hv, domid)) {
        /*
         * A dying domain refuses the hypercalls, and Xen tears its
         * vm_event rings down itself; our mapping of the monitor ring
         * is what would keep it a zombie.  Let go of it.
         */
        monitor_release(hv, a);
        a->modes = 0;
        r = -ESRCH;
    }
    if (!a->modes) {
        free(a->armed);
        free(a);
        *slot = NULL;
    }
 out:
    pthread_mutex_unlock(&hv->lock);
    return r;
}

static int xen_access_arm(xenshape__hv *hv, uint32_t domid,
                          const uint64_t *gfns, size_t n)
{
    access_dom **slot, *a;
    uint8_t *acc = NULL;
    size_t off, i;
    uint32_t cnt;
    int r;

    if (!hv || (!gfns && n) || n > INT_MAX)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    slot = access_slot(hv, domid);
    if (!slot || !((*slot)->modes & XENSHAPE__HV_ACCESS_N2RWX)) {
        XSLOG(hv->lg, ERROR, -1, "xen: dom%u: access_arm without n2rwx "
              "observation enabled", domid);
        r = -ENODEV;
        goto out;
    }
    a = *slot;
    /* Memory hotplug can grow the gfn space after access_enable. */
    for (i = 0; i < n; i++) {
        if (gfns[i] < a->nr_gfns)
            continue;
        r = armed_resize(hv, a);
        if (r < 0)
            goto out;
        if (gfns[i] >= a->nr_gfns) {
            XSLOG(hv->lg, ERROR, -1, "xen: dom%u: cannot arm gfn %#"PRIx64
                  ": beyond the domain's highest gfn", domid, gfns[i]);
            r = -EINVAL;
            goto out;
        }
    }
    acc = xenshape__malloc(n < ARM_CHUNK ? (n ? n : 1) : ARM_CHUNK);
    if (!acc) {
        r = -ENOMEM;
        goto out;
    }
    memset(acc, XENMEM_access_n2rwx, n < ARM_CHUNK ? n : ARM_CHUNK);
    for (off = 0; off < n; off += cnt) {
        cnt = n - off < ARM_CHUNK ? n - off : ARM_CHUNK;
        /* libxc only reads the page list (it bounces it in). */
        r = xc_set_mem_access_multi(hv->xch, domid, acc,
                                    (uint64_t *)(gfns + off), cnt);
        if (r < 0) {
            r = neg_errno();
            XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xc_set_mem_access_multi"
                  "(n2rwx, %u gfns from %#"PRIx64") failed", domid, cnt,
                  gfns[off]);
            goto out;
        }
        for (i = off; i < off + cnt; i++)
            armed_set(a, gfns[i], true);
    }
    r = (int)n;
 out:
    pthread_mutex_unlock(&hv->lock);
    free(acc);
    return r;
}

static int xen_access_read(xenshape__hv *hv, uint32_t domid, uint64_t *gfns,
                           size_t max)
{
    access_dom **slot, *a;
    unsigned nrsp, total = 0;
    size_t n = 0;
    int pass, got, r, i;

    if (!hv || (!gfns && max))
        return -EINVAL;
    if (max > INT_MAX)
        max = INT_MAX;
    pthread_mutex_lock(&hv->lock);
    slot = access_slot(hv, domid);
    if (!slot) {
        r = -ENODEV;
        goto out;
    }
    a = *slot;
    if (!(a->modes & XENSHAPE__HV_ACCESS_N2RWX)) {
        r = 0;
        goto out;
    }
    /* Re-arm the notification first, so an event arriving while we read
     * is not lost. */
    r = evtchn_ack(hv->lg, a->xce, domid);
    if (r < 0)
        goto out;
    for (pass = 0; pass < DRAIN_PASSES && n < max; pass++) {
        got = xenshape__hv_xen_drain(&a->back, gfns + n, max - n, &nrsp);
        if (got < 0) {
            XSLOG(hv->lg, ERROR, -1, "xen: dom%u: monitor ring producer "
                  "index is impossible; not reading it", domid);
            r = got;
            goto out;
        }
        for (i = 0; i < got; i++)
            armed_set(a, gfns[n + i], false);
        n += got;
        total += nrsp;
        if (!nrsp)
            break;
        /* Let Xen free the slots (and wake throttled vCPUs) now. */
        if (xenevtchn_notify(a->xce, a->local_port) < 0) {
            r = neg_errno();
            XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xenevtchn_notify(monitor "
                  "port %u) failed", domid, a->local_port);
            goto out;
        }
    }
    r = (int)n;
 out:
    pthread_mutex_unlock(&hv->lock);
    return r;
}

static int xen_dirty_read(xenshape__hv *hv, uint32_t domid, uint64_t *bitmap,
                          uint64_t nr, bool clean)
{
    DECLARE_HYPERCALL_BUFFER(uint8_t, buf);
    xc_shadow_op_stats_t stats;
    uint64_t bytes, npages = 0;
    long long ret;
    int r;

    if (!hv || (!bitmap && nr))
        return -EINVAL;
    if (!nr)
        return 0;
    bytes = (nr + 7) / 8;
    npages = (bytes + XC_PAGE_SIZE - 1) / XC_PAGE_SIZE;
    if (npages > INT_MAX)
        return -EINVAL;
    buf = xc_hypercall_buffer_alloc_pages(hv->xch, buf, (int)npages);
    if (!buf) {
        r = -ENOMEM;
        XSLOG(hv->lg, ERROR, ENOMEM, "xen: dom%u: allocating a %"PRIu64
              "-page log-dirty buffer failed", domid, npages);
        goto out;
    }
    memset(buf, 0, npages * XC_PAGE_SIZE);
    memset(&stats, 0, sizeof(stats));
    ret = xc_logdirty_control(hv->xch, domid,
                              clean ? XEN_DOMCTL_SHADOW_OP_CLEAN :
                                      XEN_DOMCTL_SHADOW_OP_PEEK,
                              HYPERCALL_BUFFER(buf), nr, 0, &stats);
    if (ret < 0) {
        r = neg_errno();
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: xc_logdirty_control(%s, %"
              PRIu64" gfns) failed", domid, clean ? "CLEAN" : "PEEK", nr);
        goto out;
    }
    /* Xen reports how many gfns it covered: the domain's p2m size when
     * that is smaller than asked. */
    xenshape__hv_xen_bitmap_copy(bitmap, nr, buf, (uint64_t)ret);
    r = 0;
 out:
    xc_hypercall_buffer_free_pages(hv->xch, buf, (int)npages);
    return r;
}

/*
 * The fallback when the hypervisor cannot page: the balloon target that
 * `xl mem-set` writes, memory/target in KiB under the domain's home.  Only
 * the guest's balloon driver acts on it, so it is a request, not a
 * guarantee.  Unlike xl mem-set we do not lower maxmem: a later paging
 * daemon must keep the headroom page-ins need.
 */
static int xen_balloon_target(xenshape__hv *hv, uint32_t domid, uint64_t kib)
{
    char *home = NULL, path[256], val[32];
    int r, n;

    if (!hv)
        return -EINVAL;
    if (!hv->xsth) {
        hv->xsth = xs_open(0);
        if (!hv->xsth) {
            r = -errno;
            XSLOG(hv->lg, ERROR, -r, "xen: cannot open xenstore");
            goto out;
        }
    }
    home = xs_get_domain_path(hv->xsth, domid);
    if (!home) {
        r = -ESRCH;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/memory/target", home);
    n = snprintf(val, sizeof(val), "%" PRIu64, kib);
    if (!xs_write(hv->xsth, XBT_NULL, path, val, (unsigned)n)) {
        r = -errno;
        XSLOG(hv->lg, ERROR, -r, "xen: dom%u: write %s", domid, path);
        goto out;
    }
    r = 0;
 out:
    free(home);
    return r;
}

const struct xenshape__hv_ops xenshape__hv_xen_ops = {
    .version = XENSHAPE__HV_OPS_VERSION,
    .name = "xen",
    .open = xen_open,
    .close = xen_close,
    .domain_list = xen_domain_list,
    .host_info = xen_host_info,
    .paging_enable = xen_paging_enable,
    .paging_reattach = xen_paging_reattach,
    .ring_close = xen_ring_close,
    .paging_disable = xen_paging_disable,
    .ring_page = xen_ring_page,
    .evtchn_fd = xen_evtchn_fd,
    .evtchn_ack = xen_evtchn_ack,
    .evtchn_notify = xen_evtchn_notify,
    .nominate = xen_nominate,
    .evict = xen_evict,
    .load = xen_load,
    .map = xen_map,
    .unmap = xen_unmap,
    .pause = xen_pause,
    .unpause = xen_unpause,
    .access_enable = xen_access_enable,
    .access_disable = xen_access_disable,
    .access_arm = xen_access_arm,
    .access_read = xen_access_read,
    .dirty_read = xen_dirty_read,
    .balloon_target = xen_balloon_target,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
