/*
 * vmevent.h - Xen's public vm_event ring definitions, usable both by the
 * real backend (which also includes xenctrl.h) and by the simulated host.
 *
 * Xen's <xen/io/ring.h> expects the includer to provide the memory
 * barriers; xenctrl.h does, the simulator does not include it, so they
 * are defined here when nobody did.  Both worlds then share one ring
 * layout: 4 KiB, 64-byte header, 400-byte entries, 8 slots.
 */

#ifndef XENSHAPE_VMEVENT_H
#define XENSHAPE_VMEVENT_H

#include <stdint.h>
#include <string.h>

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif

#ifndef xen_mb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#include <xen/xen.h>
#include <xen/vm_event.h>

#define XENSHAPE__RING_PAGE_SIZE 4096u

#endif /* XENSHAPE_VMEVENT_H */
