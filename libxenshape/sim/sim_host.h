/*
 * sim_host.h - what the host process keeps privately, shared among the
 * host's own files (sim_host.c, sim_guest.c, sim_vcpu.c, sim_sock.c):
 * the domains it created, their vCPU threads and workloads, and the
 * expected content of every frame.
 *
 * Nothing here is visible to a pager.  In particular the write generation
 * of each gfn, from which its expected content follows, lives only in
 * host memory: a pager cannot make a wrong frame look right.
 */

#ifndef XENSHAPE_SIM_HOST_H
#define XENSHAPE_SIM_HOST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xentoollog.h>

#include "sim/sim_shm.h"

/* Workload kinds (sim.h describes the specs). */
enum xenshape__sim_wl_kind {
    XENSHAPE__SIM_WL_IDLE,
    XENSHAPE__SIM_WL_UNIFORM,
    XENSHAPE__SIM_WL_HOT,
    XENSHAPE__SIM_WL_TRACE,
    XENSHAPE__SIM_WL_SWEEP,
};

struct xenshape__sim_trace;

/* A parsed workload; immutable once published, shared by refcount. */
struct xenshape__sim_workload {
    _Atomic uint32_t refs;
    enum xenshape__sim_wl_kind kind;
    double hot_frac, hot_prob;
    double write;                    /* fraction of touches that write */
    double rate;                     /* touches/s per vCPU, 0 = unlimited */
    double zero, dup;                /* only used at create */
    struct xenshape__sim_trace *trace;
    char *spec;
};

int xenshape__sim_workload_parse(const char *spec,
                                 struct xenshape__sim_workload **wl_r);
void xenshape__sim_workload_put(struct xenshape__sim_workload *wl);

/* A vCPU: a thread of the host running the workload. */
struct xenshape__sim_vcpu {
    struct xenshape__sim_dom *d;
    unsigned idx;
    pthread_t th;
    bool started;
    _Atomic uint64_t touches, reads, writes, faults, wrong_reads;
    _Atomic uint64_t balloon_fail;   /* balloon-in touches without RAM */
};

/* Write generations: the top bit says "zero page" (ballooned). */
#define XENSHAPE__SIM_GEN_ZERO 0x80000000u

struct xenshape__sim_dom {
    struct xenshape__sim_host *h;
    struct xenshape__sim_view v;
    uint32_t domid;
    unsigned slot;
    _Atomic uint32_t refs;
    _Atomic uint32_t stop;
    _Atomic uint32_t *gen;           /* per gfn, host-private */
    double zero, dup;
    uint64_t seed;
    uint64_t perm_a, perm_b;         /* gfn permutation for hot sets */
    char name[64];
    pthread_mutex_t wl_lock;
    struct xenshape__sim_workload *wl;
    _Atomic uint32_t wl_seq;         /* futex: bumped on change or stop */
    unsigned nr_vcpus;
    struct xenshape__sim_vcpu vcpu[XENSHAPE__SIM_MAX_VCPUS];
};

struct xenshape__sim_conn;
struct xenshape__sim_kv;

struct xenshape__sim_host {
    xentoollog_logger *lg;           /* borrowed, may be NULL */
    int fd;                          /* host memfd */
    struct xenshape__sim_hdr *hdr;
    size_t hdr_size;
    pthread_mutex_t lock;            /* doms[], creation, destruction */
    struct xenshape__sim_dom *doms[XENSHAPE__SIM_MAX_DOMS];
    _Atomic bool stopping;
    _Atomic uint32_t shutdown_req;   /* futex: SHUTDOWN was asked for */

    /* Control socket (sim_sock.c). */
    pthread_mutex_t conn_lock;
    int listen_fd, wake_fd;
    bool listening;
    pthread_t listener;
    char *sock_path;
    struct xenshape__sim_conn *conns;

    /* Its xenstore (sim_kv.c), served on the control socket. */
    struct xenshape__sim_kv *kv;
};

/* ---- sim_host.c ---------------------------------------------------------- */

/* Find a domain and take a reference; NULL if there is none. */
struct xenshape__sim_dom *xenshape__sim_dom_get(xenshape__sim_host *h,
                                               uint32_t domid);
void xenshape__sim_dom_put(struct xenshape__sim_dom *d);

/* ---- sim_guest.c -------------------------------------------------------- */

/* Expected content of a frame: 0 = zero page, else the pattern key. */
uint64_t xenshape__sim_expected_key(struct xenshape__sim_dom *d,
                                    uint64_t gfn);
void xenshape__sim_fill(void *frame, uint64_t key);
bool xenshape__sim_frame_ok(const void *frame, uint64_t key);

/*
 * One guest access by vCPU vc, as the vCPU would do it: fast path on an
 * rw frame, EPT-violation handling otherwise, blocking as Xen blocks the
 * vCPU.  0; -ECANCELED (stopped, crashed, dying); -ENOMEM (a ballooned
 * frame could not be repopulated); -EFAULT (a read saw wrong content).
 */
int xenshape__sim_guest_access(struct xenshape__sim_dom *d, unsigned vc,
                               uint64_t gfn, bool write);
/* The guest gives a frame back (XENMEM_decrease_reservation). */
int xenshape__sim_guest_balloon_out(struct xenshape__sim_dom *d,
                                    unsigned vc, uint64_t gfn);

/* ---- sim_vcpu.c --------------------------------------------------------- */

int xenshape__sim_vcpus_start(struct xenshape__sim_dom *d);
/* Sets stop, wakes and joins every vCPU. */
void xenshape__sim_vcpus_stop(struct xenshape__sim_dom *d);
/* Wake every waiter of the domain (stop or workload change). */
void xenshape__sim_dom_kick(struct xenshape__sim_dom *d);

/* ---- sim_host.c, for the socket and hv_sim ------------------------------- */

/* A process (pid) starts using the host: a client slot for its map log. */
int xenshape__sim_host_client_attach(xenshape__sim_host *h, pid_t pid,
                                     int *client_r);
/* It stopped (closed, or died): drop its map references and bindings. */
void xenshape__sim_host_client_detach(xenshape__sim_host *h, int client);
/* dup()s of the host memfd / a domain's memfd and eventfd. */
int xenshape__sim_host_dup_fd(xenshape__sim_host *h);
int xenshape__sim_host_open_dom(xenshape__sim_host *h, uint32_t domid,
                                int *fd_r, int *evfd_r);

/* Text of the STATS and LIST replies (without "OK "). */
int xenshape__sim_dom_stats_text(xenshape__sim_host *h, uint32_t domid,
                                 char *buf, size_t len);
int xenshape__sim_host_list_text(xenshape__sim_host *h, char *buf,
                                 size_t len);
void xenshape__sim_host_request_shutdown(xenshape__sim_host *h);

/* ---- sim_sock.c --------------------------------------------------------- */

/* Shutting down: stop accepting and unblock every connection, then (once
 * the domains are gone and nothing can block) join their threads. */
void xenshape__sim_sock_stop(xenshape__sim_host *h);
void xenshape__sim_sock_join(xenshape__sim_host *h);
/* Errno names as the protocol spells them. */
const char *xenshape__sim_errno_name(int err);
int xenshape__sim_errno_value(const char *name);

#endif /* XENSHAPE_SIM_HOST_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
