/*
 * hv_xen_priv.h - what hv_xen.c shares with its own check test and with
 * nobody else: the backend's knobs and the pure helpers that turn Xen's
 * structures into xenshape's (domain info, vm_event responses, log-dirty
 * bitmaps).  Keeping those helpers free of hypercalls lets
 * tests/check_hv_xen.c prove them on a machine without Xen.
 *
 * Include <xenctrl.h> before this header (hv/vmevent.h must see Xen's
 * barriers, and the helpers use libxenctrl's types).
 */

#ifndef XENSHAPE_HV_XEN_PRIV_H
#define XENSHAPE_HV_XEN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenctrl.h>

#include "hv/hv.h"

/*
 * Whether paging_enable removes the paging ring gfn from the guest
 * physmap after enabling (the XSA-99 hardening libxc applies to its own
 * rings).  Default false: a hidden ring can never be mapped again, so a
 * restarted daemon could not re-attach (see docs/hv-xen.md).  The
 * environment variable XENSHAPE_XEN_HIDE_RING ("1", "yes", "true", "on")
 * turns it on for every handle opened afterwards; the setter overrides it
 * for one open handle.
 */
#define XENSHAPE__HV_XEN_HIDE_RING_ENV "XENSHAPE_XEN_HIDE_RING"

bool xenshape__hv_xen_hide_ring_from_env(void);
void xenshape__hv_xen_set_hide_ring(xenshape__hv *hv, bool hide);
bool xenshape__hv_xen_hide_ring(const xenshape__hv *hv);

/* Fill out from one getdomaininfo record.  max_gpfn is left 0: it needs
 * a hypercall of its own. */
void xenshape__hv_xen_dominfo(const xc_domaininfo_t *info,
                              xenshape__hv_dominfo *out);

/* The one response a request gets: zeroed, then version, vcpu_id, reason,
 * VCPU_PAUSED only if the request carried it, and the gfn. */
void xenshape__hv_xen_response(const vm_event_request_t *req,
                               vm_event_response_t *rsp);

/*
 * One pass over the requests on a back ring as they stand now: each gets
 * exactly one response, the gfns of VM_EVENT_REASON_MEM_ACCESS requests
 * go to gfns (at most max; the pass stops there and leaves the rest on
 * the ring).  Responses are pushed; the caller notifies.  Returns the
 * number of gfns stored; *responses_r gets the number of responses.
 * Returns -EIO, consuming nothing, if the producer index is impossible.
 */
int xenshape__hv_xen_drain(vm_event_back_ring_t *back, uint64_t *gfns,
                           size_t max, unsigned *responses_r);

/* Copy the first min(nr, src_bits) bits of Xen's byte-ordered log-dirty
 * bitmap into dst ((nr + 63) / 64 words, 1 bit per gfn); every other bit
 * of dst is cleared. */
void xenshape__hv_xen_bitmap_copy(uint64_t *dst, uint64_t nr,
                                  const uint8_t *src, uint64_t src_bits);

/* A sentence saying what an errno from xc_mem_paging_enable means. */
const char *xenshape__hv_xen_enable_hint(int err);

#endif /* XENSHAPE_HV_XEN_PRIV_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
