/*
 * hv.c - the registry of hypervisor backends and the only code that calls
 * through an ops table.  Each wrapper first consults the fault-injection
 * seam ("hv.<op>"), so every failure a hypervisor can return can be
 * produced on demand in tests, then calls the backend, then logs a
 * failure the caller did not expect to be routine.
 *
 * Which backends exist is decided by the Makefile (hv_xen.c is compiled
 * only when libxen-dev was found); the single HAVE_XEN line below is the
 * one place that knows.
 */

#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "hv/hv.h"

struct xenshape__hv_handle {
    const struct xenshape__hv_ops *ops;
    xenshape__hv *hv;
    xentoollog_logger *lg;
};

static const struct xenshape__hv_ops *const backends[] = {
#ifdef HAVE_XEN
    &xenshape__hv_xen_ops,
#endif
    &xenshape__hv_sim_ops,
};

static const char *const backend_names[] = {
#ifdef HAVE_XEN
    "xen",
#endif
    "sim",
    NULL
};

const struct xenshape__hv_ops *xenshape__hv_lookup(const char *name)
{
    unsigned i;

    for (i = 0; i < XENSHAPE__ARRAY_SIZE(backends); i++)
        if (!strcmp(backends[i]->name, name))
            return backends[i];
    return NULL;
}

const char *const *xenshape__hv_names(void)
{
    return backend_names;
}

int xenshape__hv_open(xenshape__hv_handle **h_r, const char *backend,
                      const xenshape__hv_params *p, xentoollog_logger *lg)
{
    xenshape__hv_handle *h = NULL;
    const struct xenshape__hv_ops *ops;
    int r;

    ops = xenshape__hv_lookup(backend);
    if (!ops) {
        XSLOG(lg, ERROR, -1, "hypervisor backend '%s' is not built in",
              backend);
        r = -ENOENT;
        goto out;
    }
    if (ops->version < XENSHAPE__HV_OPS_VERSION) {
        XSLOG(lg, ERROR, -1, "backend '%s' has ops version %u, need %u",
              backend, ops->version, XENSHAPE__HV_OPS_VERSION);
        r = -EINVAL;
        goto out;
    }
    h = xenshape__calloc(1, sizeof(*h));
    if (!h) {
        r = -ENOMEM;
        goto out;
    }
    h->ops = ops;
    h->lg = lg;
    r = ops->open(&h->hv, p, lg);
    if (r < 0)
        goto out;
    *h_r = h;
    h = NULL;
    r = 0;
 out:
    free(h);
    return r;
}

void xenshape__hv_close(xenshape__hv_handle *h)
{
    if (!h)
        return;
    h->ops->close(h->hv);
    free(h);
}

const char *xenshape__hv_backend(const xenshape__hv_handle *h)
{
    return h->ops->name;
}

/* An injected failure looks exactly like the hypervisor's own. */
#define INJECT(site)                                          \
    do {                                                      \
        int inj_ = xenshape__fault(XENSHAPE__FAULT_##site);   \
        if (inj_)                                             \
            return inj_ > 0 ? -inj_ : -EIO;                   \
    } while (0)

int xenshape__hv_domain_list(xenshape__hv_handle *h,
                             xenshape__hv_dominfo *out, unsigned max)
{
    INJECT(HV_DOMAIN_LIST);
    return h->ops->domain_list(h->hv, out, max);
}

int xenshape__hv_host_info(xenshape__hv_handle *h, uint64_t *total_r,
                           uint64_t *free_r)
{
    INJECT(HV_HOST_INFO);
    return h->ops->host_info(h->hv, total_r, free_r);
}

int xenshape__hv_paging_enable(xenshape__hv_handle *h, uint32_t domid,
                               xenshape__hv_dom **d_r, uint32_t *port_r)
{
    INJECT(HV_PAGING_ENABLE);
    return h->ops->paging_enable(h->hv, domid, d_r, port_r);
}

int xenshape__hv_paging_reattach(xenshape__hv_handle *h, uint32_t domid,
                                 uint32_t port, xenshape__hv_dom **d_r)
{
    INJECT(HV_PAGING_REATTACH);
    return h->ops->paging_reattach(h->hv, domid, port, d_r);
}

void xenshape__hv_ring_close(xenshape__hv_handle *h, xenshape__hv_dom *d)
{
    if (d)
        h->ops->ring_close(d);
}

int xenshape__hv_paging_disable(xenshape__hv_handle *h, uint32_t domid)
{
    INJECT(HV_PAGING_DISABLE);
    return h->ops->paging_disable(h->hv, domid);
}

vm_event_sring_t *xenshape__hv_ring_page(xenshape__hv_handle *h,
                                         xenshape__hv_dom *d)
{
    return h->ops->ring_page(d);
}

int xenshape__hv_evtchn_fd(xenshape__hv_handle *h, xenshape__hv_dom *d)
{
    return h->ops->evtchn_fd(d);
}

int xenshape__hv_evtchn_ack(xenshape__hv_handle *h, xenshape__hv_dom *d)
{
    INJECT(HV_EVTCHN_ACK);
    return h->ops->evtchn_ack(d);
}

int xenshape__hv_evtchn_notify(xenshape__hv_handle *h, xenshape__hv_dom *d)
{
    INJECT(HV_EVTCHN_NOTIFY);
    return h->ops->evtchn_notify(d);
}

int xenshape__hv_nominate(xenshape__hv_handle *h, uint32_t domid,
                          uint64_t gfn)
{
    INJECT(HV_NOMINATE);
    return h->ops->nominate(h->hv, domid, gfn);
}

int xenshape__hv_evict(xenshape__hv_handle *h, uint32_t domid, uint64_t gfn)
{
    INJECT(HV_EVICT);
    return h->ops->evict(h->hv, domid, gfn);
}

int xenshape__hv_load(xenshape__hv_handle *h, uint32_t domid, uint64_t gfn,
                      const void *buf)
{
    INJECT(HV_LOAD);
    return h->ops->load(h->hv, domid, gfn, buf);
}

void *xenshape__hv_map(xenshape__hv_handle *h, uint32_t domid, int prot,
                       const uint64_t *gfns, size_t n, int *err)
{
    int inj = xenshape__fault(XENSHAPE__FAULT_HV_MAP);

    if (inj) {
        errno = inj > 0 ? inj : EIO;
        return NULL;
    }
    return h->ops->map(h->hv, domid, prot, gfns, n, err);
}

int xenshape__hv_unmap(xenshape__hv_handle *h, void *addr, size_t n)
{
    INJECT(HV_UNMAP);
    return h->ops->unmap(h->hv, addr, n);
}

int xenshape__hv_pause(xenshape__hv_handle *h, uint32_t domid)
{
    INJECT(HV_PAUSE);
    return h->ops->pause(h->hv, domid);
}

int xenshape__hv_unpause(xenshape__hv_handle *h, uint32_t domid)
{
    INJECT(HV_UNPAUSE);
    return h->ops->unpause(h->hv, domid);
}

/* Access observation is optional in a backend: absent means "none". */
int xenshape__hv_access_enable(xenshape__hv_handle *h, uint32_t domid,
                               unsigned modes)
{
    INJECT(HV_ACCESS_ENABLE);
    if (!h->ops->access_enable)
        return 0;
    return h->ops->access_enable(h->hv, domid, modes);
}

int xenshape__hv_access_disable(xenshape__hv_handle *h, uint32_t domid)
{
    if (!h->ops->access_disable)
        return 0;
    return h->ops->access_disable(h->hv, domid);
}

int xenshape__hv_access_arm(xenshape__hv_handle *h, uint32_t domid,
                            const uint64_t *gfns, size_t n)
{
    INJECT(HV_ACCESS_ARM);
    if (!h->ops->access_arm)
        return -EOPNOTSUPP;
    return h->ops->access_arm(h->hv, domid, gfns, n);
}

int xenshape__hv_access_read(xenshape__hv_handle *h, uint32_t domid,
                             uint64_t *gfns, size_t max)
{
    INJECT(HV_ACCESS_READ);
    if (!h->ops->access_read)
        return 0;
    return h->ops->access_read(h->hv, domid, gfns, max);
}

int xenshape__hv_dirty_read(xenshape__hv_handle *h, uint32_t domid,
                            uint64_t *bitmap, uint64_t nr, bool clean)
{
    INJECT(HV_DIRTY_READ);
    if (!h->ops->dirty_read)
        return -EOPNOTSUPP;
    return h->ops->dirty_read(h->hv, domid, bitmap, nr, clean);
}

int xenshape__hv_balloon_target(xenshape__hv_handle *h, uint32_t domid,
                                uint64_t kib)
{
    INJECT(HV_BALLOON_TARGET);
    if (!h->ops->balloon_target)
        return -EOPNOTSUPP;
    return h->ops->balloon_target(h->hv, domid, kib);
}
