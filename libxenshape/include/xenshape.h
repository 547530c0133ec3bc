/*
 * xenshape.h - public interface of libxenshape, the Dom0 memory shaping
 * library for Xen.
 *
 * libxenshape moves guest frames between machine RAM and an SSD-backed
 * page store through Xen's mem_paging interface (nominate, evict, load),
 * transparently to the guest.  It runs on real Xen (backend "xen") or on a
 * simulated host with Xen 4.17's exact paging semantics (backend "sim").
 *
 * General conventions, stated once:
 *
 *  - Every function that returns int returns 0 on success or one negative
 *    XENSHAPE_E* code from the list below.  Raw errno values and libxc
 *    return codes never cross this interface.
 *  - The library never prints, never exits and never aborts.  Messages go
 *    to the xentoollog logger the caller passes to xenshape_ctx_new(); the
 *    logger stays owned by the caller and must outlive the context.
 *  - Out-parameters end in _r and are written only on success.
 *  - Functions named *_free accept NULL and do nothing then.
 *  - A context is not thread-safe: call it from one thread at a time.
 *    The library may run helper threads of its own behind it.
 */

#ifndef XENSHAPE_H
#define XENSHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xentoollog.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XENSHAPE_PAGE_SIZE 4096u

/*
 * The error list.  X(name, value, text): the enum, xenshape_strerror()
 * and xenshape_errname() are all generated from it.  Append only; the
 * values are ABI.
 */
#define XENSHAPE_ERRORS(X)                                                  \
    X(OK,         0,  "success")                                           \
    X(EINVAL,    -1,  "invalid argument")                                  \
    X(ENOMEM,    -2,  "out of memory")                                     \
    X(ENOSYS,    -3,  "paging not available in this hypervisor "           \
                      "(build Xen with CONFIG_MEM_PAGING=y)")              \
    X(ESRCH,     -4,  "no such domain")                                    \
    X(EBUSY,     -5,  "resource busy")                                     \
    X(EIO,       -6,  "input/output error on the page store")              \
    X(ENOSPC,    -7,  "page store is full")                                \
    X(ECORRUPT,  -8,  "page store checksum mismatch")                      \
    X(ENOENT,    -9,  "no such object")                                    \
    X(EHV,       -10, "hypervisor call failed")                            \
    X(ESTATE,    -11, "call not valid in the current state")               \
    X(EAGAIN,    -12, "temporarily unavailable, try again")                \
    X(EPERM,     -13, "permission denied")                                 \
    X(ETIMEDOUT, -14, "timed out")                                         \
    X(ELOST,     -15, "paged-out frame has no valid copy in the store")    \
    X(EFORMAT,   -16, "page store has an unknown or damaged format")       \
    X(EPROTO,    -17, "unexpected answer from the simulated host")

enum xenshape_error {
#define XENSHAPE__ERRENUM(name, value, text) XENSHAPE_##name = (value),
    XENSHAPE_ERRORS(XENSHAPE__ERRENUM)
#undef XENSHAPE__ERRENUM
};

/* Text for an error code.  Returns a static string; never NULL. */
const char *xenshape_strerror(int rc);
/* Symbolic name ("XENSHAPE_EIO") for an error code; static, never NULL. */
const char *xenshape_errname(int rc);

/*
 * Context lifecycle: new, set options, open, then use, then free.
 * xenshape_ctx_free() is legal at any point, also after a failed open.
 */
typedef struct xenshape_ctx xenshape_ctx;

/* Create a context.  lg is borrowed (may be NULL: messages are dropped).
 * The caller owns *ctx_r and releases it with xenshape_ctx_free(). */
int xenshape_ctx_new(xenshape_ctx **ctx_r, xentoollog_logger *lg);

/* Choose the hypervisor backend by name: "xen" or "sim".  The name is
 * copied.  Default: "xen".  Only before open. */
int xenshape_ctx_set_backend(xenshape_ctx *ctx, const char *name);

/* Unix socket of the simulated host (backend "sim").  Copied.  Only before
 * open.  Default: /run/xenshape/simhost.sock. */
int xenshape_ctx_set_sim_socket(xenshape_ctx *ctx, const char *path);

/* Page store: a file or a block device, and for a file the size to create
 * it with (0 keeps the existing size).  path is copied.  Only before open.
 * An existing store is recovered, never reformatted. */
int xenshape_ctx_set_store(xenshape_ctx *ctx, const char *path,
                           uint64_t size_bytes);

/* Directory for small state files (ring ports of attached domains), so a
 * restarted daemon can re-attach.  Copied.  Only before open.
 * Default: /var/lib/xenshape. */
int xenshape_ctx_set_state_dir(xenshape_ctx *ctx, const char *path);

/*
 * How the engine may learn which resident frames a guest uses
 * (docs/hv-xen.md, "Access observation").  Faults on paged-out frames are
 * always seen; these add samples of references to resident frames:
 *   XENSHAPE_OBSERVE_N2RWX     first touches of a rotating sample of
 *                              frames (mem_access n2rwx on the monitor
 *                              ring; Xen 4.17 offers it on Intel VT-x
 *                              with EPT only);
 *   XENSHAPE_OBSERVE_LOGDIRTY  writes, from the log-dirty bitmap (never
 *                              while the domain is being saved or
 *                              migrated: both need log-dirty themselves).
 * The engine uses one mode per domain: n2rwx if allowed and it works,
 * else log-dirty if allowed, else faults only.  0 allows neither.  Only
 * before open.
 *
 * Default: log-dirty only.  n2rwx sees reads too, but it is not safe
 * across a crash of the caller: libxc hides the monitor ring from the
 * guest physmap, so no successor can drain it, and once eight events
 * wait unanswered the guest's vCPUs block until the domain is destroyed.
 * Log-dirty left on by a dead caller costs the guest write faults only.
 */
#define XENSHAPE_OBSERVE_N2RWX    0x1u
#define XENSHAPE_OBSERVE_LOGDIRTY 0x2u
int xenshape_ctx_set_observe(xenshape_ctx *ctx, unsigned modes);

/* Open the backend and the store.  On failure the context stays valid for
 * xenshape_ctx_free() only. */
int xenshape_ctx_open(xenshape_ctx *ctx);

/* Detach from every domain WITHOUT paging anything back in (frames stay
 * in the store, which stays consistent) and release everything.  Use
 * xenshape_domain_detach() first for an orderly shutdown.  NULL ok. */
void xenshape_ctx_free(xenshape_ctx *ctx);

/* One domain as the hypervisor reports it. */
typedef struct xenshape_dominfo {
    uint32_t domid;
    uint64_t tot_pages;      /* frames the domain owns in RAM */
    uint64_t max_pages;      /* its allocation limit */
    uint64_t paged_pages;    /* frames paged out, per the hypervisor */
    bool paused;             /* toolstack pause, not vm_event pauses */
    bool dying;
    bool crashed;
    uint8_t handle[16];      /* the domain's UUID */
} xenshape_dominfo;

/* List domains (Dom0 excluded).  *list_r is malloc'd and owned by the
 * caller: release with free().  *nr_r may be 0. */
int xenshape_domain_list(xenshape_ctx *ctx, xenshape_dominfo **list_r,
                         unsigned *nr_r);

/* Host memory, in frames. */
int xenshape_host_info(xenshape_ctx *ctx, uint64_t *total_r,
                       uint64_t *free_r);

/* Start paging a domain: enable paging in the hypervisor, or re-attach to
 * a ring a previous pager left (after a crash), recover its frames from the
 * store, and answer every request left on the ring.
 * XENSHAPE_ENOSYS: the hypervisor cannot page (not compiled in). */
int xenshape_domain_attach(xenshape_ctx *ctx, uint32_t domid);

/* Page every frame of the domain back in, waiting at most timeout_ms, then
 * disable paging.  XENSHAPE_ETIMEDOUT leaves the domain attached and
 * partly paged; nothing is lost. */
int xenshape_domain_detach(xenshape_ctx *ctx, uint32_t domid,
                           int timeout_ms);

/* For a domain that cannot be paged (attach gave XENSHAPE_ENOSYS): ask
 * its balloon driver for target_pages frames, as `xl mem-set` does
 * (memory/target).  XENSHAPE_ENOSYS if the backend has no balloon. */
int xenshape_domain_balloon(xenshape_ctx *ctx, uint32_t domid,
                            uint64_t target_pages);

/* The number of frames of the domain the pager should keep in RAM.
 * UINT64_MAX (the default) means "page everything back in". */
int xenshape_domain_set_target(xenshape_ctx *ctx, uint32_t domid,
                               uint64_t target_pages);

/* Counters for one attached domain. */
typedef struct xenshape_domstats {
    uint64_t tot_pages, max_pages, paged_pages; /* from the hypervisor */
    uint64_t target_pages;
    uint64_t held_pages;     /* frames whose only copy is in the store */
    uint64_t evicted;        /* frames written out and evicted */
    uint64_t loaded;         /* frames loaded back (faults + prefetch) */
    uint64_t faults;         /* page-in requests from the guest */
    uint64_t foreign_faults; /* page-in requests from other domains */
    uint64_t evict_fail;     /* EVICT_FAIL requests */
    uint64_t drops;          /* DROP_PAGE requests */
    uint64_t nominate_busy;  /* frames that refused nomination */
    uint64_t evict_busy;     /* evictions that lost a race */
    uint64_t load_nomem;     /* page-ins put off: the hypervisor had no
                                memory for the frame (retried) */
    uint64_t zero_pages;     /* evictions that needed no data write */
    uint64_t dedup_pages;
    uint64_t corrupt;        /* checksum mismatches seen at page-in */
    uint64_t lost;           /* paged frames with no copy in the store */
    int error;               /* latched error of this domain, or 0 */
    bool paused_by_pager;    /* we hold the domain paused (see error) */
    unsigned observe;        /* XENSHAPE_OBSERVE_* in use, or 0 */
    uint64_t observed;       /* samples of resident-frame use passed to
                                page selection */
} xenshape_domstats;

int xenshape_domain_stats(xenshape_ctx *ctx, uint32_t domid,
                          xenshape_domstats *st_r);

/*
 * The domain's working set as the pager sees it: the number of distinct
 * frames referenced since the previous call (or the attach).  Starts a
 * new count.  With n2rwx sampling (xenshape_ctx_set_observe) an estimate
 * from above: every resident frame but those known idle (armed since the
 * call before the previous one and never touched), plus the frames
 * faulted in that are no longer resident.  Otherwise a lower bound: the frames faulted in and
 * the resident frames seen written by log-dirty, which a domain shrunk
 * below its real working set makes up for in faults.
 */
int xenshape_domain_usage(xenshape_ctx *ctx, uint32_t domid,
                          uint64_t *frames_r);

/*
 * Pause (pause true) or unpause the domain, as `xl pause` does: a
 * toolstack pause, counted, so every pause needs its own unpause.  The
 * shaping policy hibernates soakers this way.  Works on domains not
 * attached too.
 */
int xenshape_domain_pause(xenshape_ctx *ctx, uint32_t domid, bool pause);

/* Load up to max frames of the domain now, without waiting for faults.
 * *done_r: how many were loaded (may be NULL). */
int xenshape_domain_prefetch(xenshape_ctx *ctx, uint32_t domid,
                             uint64_t max, uint64_t *done_r);

/*
 * Driving the pager.  Page-in requests are served by a thread of the
 * library as they arrive; eviction and prefetch toward the targets happen
 * in xenshape_run(), which does at most budget_ms of work and returns.
 * xenshape_fd() is readable when the pager wants xenshape_run() called
 * soon (it may also be called on a timer).
 */
int xenshape_run(xenshape_ctx *ctx, int budget_ms);
int xenshape_fd(xenshape_ctx *ctx);

/* Store totals. */
typedef struct xenshape_storestats {
    uint64_t slots_total, slots_used;
    uint64_t records_total, records_used;
    uint64_t writes, reads, zero_pages, dedup_pages;
    uint64_t checksum_failures, io_errors;
    bool failed;             /* an I/O error stopped evictions */
} xenshape_storestats;

int xenshape_store_stats(xenshape_ctx *ctx, xenshape_storestats *st_r);

/*
 * Fault injection, for tests (as sqlite's test_syscall): make the nth call
 * (counted from now, 1 = the next) of a site fail with errnum, once or for
 * every call from then on.  Sites: "hv.<op>" for every hypervisor op
 * (hv.nominate, hv.evict, hv.load, hv.map, ...), "store.<call>" for every
 * store syscall site (store.read, store.write, store.fsync, ...), and
 * "alloc" for the allocator.  nth 0 clears the site.  Process-wide.
 * The list of sites: xenshape_fault_sites() (a static NULL-terminated
 * array).  The environment variable XENSHAPE_FAULTS="site:nth:ERRNO[:p],..."
 * is read by xenshape_ctx_new().
 */
#define XENSHAPE_FAULT_SHORT (-1) /* errnum: a short transfer instead */
int xenshape_fault_set(const char *site, unsigned long nth, int errnum,
                       bool persistent);
void xenshape_fault_clear_all(void);
/* How many times a site has fired since it was set. */
unsigned long xenshape_fault_hits(const char *site);
const char *const *xenshape_fault_sites(void);

#ifdef __cplusplus
}
#endif

#endif /* XENSHAPE_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
