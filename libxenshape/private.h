/*
 * private.h - what the parts of libxenshape share among themselves and
 * nobody else sees: the allocator seam, the fault-injection seam, logging
 * and small helpers.  Nothing here is exported (see libxenshape.map).
 *
 * Conventions inside the library follow libxl's CODING_STYLE: resources
 * start as NULL or -1, one "out:" label releases them, rc holds a
 * XENSHAPE_E* code and r holds a raw return (errno style, negative).
 */

#ifndef XENSHAPE_PRIVATE_H
#define XENSHAPE_PRIVATE_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xentoollog.h>

#include "xenshape.h"

#define XENSHAPE__PAGE_SHIFT 12
#define XENSHAPE__PAGE_SIZE  (1u << XENSHAPE__PAGE_SHIFT)

#define XENSHAPE__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Allocator.  Every allocation in the library goes through these so a test
 * can fail the Nth one (fault site "alloc") and prove that each site
 * returns XENSHAPE_ENOMEM cleanly.  They never abort.
 */
void *xenshape__malloc(size_t n);
void *xenshape__calloc(size_t nmemb, size_t n);
void *xenshape__realloc(void *p, size_t n);
/* Page-aligned allocation, released with free(). */
void *xenshape__alloc_aligned(size_t n);
char *xenshape__strdup(const char *s);
/* For the OOM test: the return address in the caller of the last
 * allocation an injected "alloc" fault failed, or NULL. */
const void *xenshape__alloc_fail_site(void);

/*
 * Fault injection.  Sites are listed once here; the public
 * xenshape_fault_set() names them by their text.  A check is one relaxed
 * atomic load when the site is not armed.
 */
#define XENSHAPE__FAULT_SITES(X)                                            \
    X(ALLOC,            "alloc")                                           \
    X(HV_DOMAIN_LIST,   "hv.domain_list")                                  \
    X(HV_HOST_INFO,     "hv.host_info")                                    \
    X(HV_PAGING_ENABLE, "hv.paging_enable")                                \
    X(HV_PAGING_REATTACH, "hv.paging_reattach")                            \
    X(HV_PAGING_DISABLE, "hv.paging_disable")                              \
    X(HV_EVTCHN_ACK,    "hv.evtchn_ack")                                   \
    X(HV_EVTCHN_NOTIFY, "hv.evtchn_notify")                                \
    X(HV_NOMINATE,      "hv.nominate")                                     \
    X(HV_EVICT,         "hv.evict")                                        \
    X(HV_LOAD,          "hv.load")                                         \
    X(HV_MAP,           "hv.map")                                          \
    X(HV_UNMAP,         "hv.unmap")                                        \
    X(HV_PAUSE,         "hv.pause")                                        \
    X(HV_UNPAUSE,       "hv.unpause")                                      \
    X(HV_ACCESS_ENABLE, "hv.access_enable")                                \
    X(HV_ACCESS_ARM,    "hv.access_arm")                                   \
    X(HV_ACCESS_READ,   "hv.access_read")                                  \
    X(HV_DIRTY_READ,    "hv.dirty_read")                                   \
    X(HV_BALLOON_TARGET, "hv.balloon_target")                              \
    X(STORE_OPEN,       "store.open")                                      \
    X(STORE_FSTAT,      "store.fstat")                                     \
    X(STORE_FALLOCATE,  "store.fallocate")                                 \
    X(STORE_READ,       "store.read")                                      \
    X(STORE_WRITE,      "store.write")                                     \
    X(STORE_FSYNC,      "store.fsync")                                     \
    X(STORE_URING_INIT, "store.uring_init")                                \
    X(STORE_URING_SUBMIT, "store.uring_submit")                            \
    X(STATE_WRITE,      "state.write")                                     \
    X(KV_OPEN,          "kv.open")                                         \
    X(KV_TXN_START,     "kv.txn_start")                                    \
    X(KV_TXN_END,       "kv.txn_end")                                      \
    X(KV_READ,          "kv.read")                                         \
    X(KV_WRITE,         "kv.write")                                        \
    X(KV_RM,            "kv.rm")                                           \
    X(KV_DIRECTORY,     "kv.directory")                                    \
    X(KV_SET_PERMS,     "kv.set_perms")                                    \
    X(KV_GET_PERMS,     "kv.get_perms")                                    \
    X(KV_WATCH,         "kv.watch")                                        \
    X(KV_UNWATCH,       "kv.unwatch")                                      \
    X(KV_READ_WATCH,    "kv.read_watch")

enum xenshape__fault_site {
#define XENSHAPE__FAULT_ENUM(id, name) XENSHAPE__FAULT_##id,
    XENSHAPE__FAULT_SITES(XENSHAPE__FAULT_ENUM)
#undef XENSHAPE__FAULT_ENUM
    XENSHAPE__FAULT_NR
};

/* Returns 0, or the errno value (positive) to fail this call with, or
 * XENSHAPE_FAULT_SHORT (-1): complete only part of this transfer (store
 * read and write sites; elsewhere treat it as EIO). */
int xenshape__fault(enum xenshape__fault_site site);
/* Parse and apply XENSHAPE_FAULTS from the environment, once. */
void xenshape__fault_from_env(void);

/*
 * Logging through the caller's xentoollog logger.  lg may be NULL.
 * errnoval is an errno value or -1.
 */
void xenshape__log(xentoollog_logger *lg, xentoollog_level level,
                   int errnoval, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define XSLOG(lg, lvl, errnoval, ...) \
    xenshape__log((lg), XTL_##lvl, (errnoval), __VA_ARGS__)

/*
 * Whether xenshape_run() loads a domain's held frames while it is below
 * its target (fill, the default) or leaves them until the guest faults
 * them in.  Shaping turns fill off for generic domains: their target is
 * room to grow into, and filling it with frames the guest does not touch
 * would only count as usage until the sampler finds them idle.
 * XENSHAPE_ESRCH if the domain is not attached.
 */
int xenshape__domain_set_fill(xenshape_ctx *ctx, uint32_t domid, bool fill);

/* Map a raw errno (positive or negative) to a XENSHAPE_E* code. */
int xenshape__rc_from_errno(int err);

/* Monotonic clock. */
uint64_t xenshape__now_ns(void);

#endif /* XENSHAPE_PRIVATE_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
