/*
 * pager.c - the paging engine: moves guest frames between RAM and the
 * page store through the hypervisor's paging ring, on hv_sim and hv_xen
 * alike.
 *
 * Eviction runs in the caller's thread (xenshape_run()), in batches:
 * nominate, map, write to the store durably, record, unmap, evict.  The
 * order is what makes it safe: a frame is evicted only once its data and
 * index record are durable, and unmapped before evict because Xen refuses
 * to evict a referenced page.  Frames that refuse nomination (EBUSY) are
 * skipped; an evict that loses a race with the guest (EBUSY) only costs
 * the record, the guest's EVICT_FAIL request is answered by the ring
 * thread.
 *
 * Page-in requests are served by the ring thread as soon as they arrive,
 * ahead of any eviction work: read and verify the frame, load it, answer
 * with exactly one response carrying VM_EVENT_INTERFACE_VERSION (Xen
 * drops a response without it and the vCPU never runs again).  A frame
 * whose checksum fails is never loaded: its request stays unanswered, the
 * domain is paused and the error latched, so the guest cannot run on
 * wrong data.
 *
 * A restarted daemon re-attaches to the ring the dead one left (its port
 * is kept in the state directory), probes each recovered store record
 * with a buffer-less prep (EINVAL: still paged, keep; ENOENT or 0: back
 * in RAM, drop) and answers every request still on the ring.
 */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "pager/pager.h"
#include "select/observe.h"

#define RING_THREAD_RETRY_MS 2

uint32_t xenshape__dom_tag(const uint8_t handle[16])
{
    return (uint32_t)XXH3_64bits(handle, 16);
}

xenshape__dom *xenshape__pager_find(xenshape_ctx *ctx, uint32_t domid)
{
    unsigned i;

    for (i = 0; i < ctx->nr_doms; i++)
        if (ctx->doms[i]->domid == domid)
            return ctx->doms[i];
    return NULL;
}

static void kick(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof(one));

    (void)r;
}

static void drain_eventfd(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));

    (void)r;
}

/* ---- per-domain state ------------------------------------------------ */

static void dom_free(xenshape_ctx *ctx, xenshape__dom *d)
{
    uint64_t g;

    if (!d)
        return;
    /* Records still held stay valid on disk: a later daemon recovers them.
     * Only our in-memory claim on them goes. */
    if (d->gfn_rec && ctx->store)
        for (g = 0; g < d->nr_gfns; g++)
            if (d->gfn_rec[g])
                xenshape__store_free(ctx->store, d->gfn_rec[g]);
    xenshape__sample_stop(ctx, d);
    if (d->hvd)
        xenshape__hv_ring_close(ctx->hv, d->hvd);
    if (d->intent_fd >= 0)
        close(d->intent_fd);
    xenshape__policy_free(d->pol);
    if (d->lock_init)
        pthread_mutex_destroy(&d->lock);
    free(d->gfn_rec);
    free(d->gfn_flags);
    free(d->pagein_buf);
    free(d->ref_bm);
    free(d);
}

/*
 * The gfn space of an HVM or PVH guest reaches the special pages just
 * below 4 GiB (the paging ring among them) and any RAM relocated above
 * 4 GiB, but holds RAM only from 0 and from 4 GiB up: between the end of
 * low RAM and 4 GiB lie the MMIO hole and Xen's special pages.  Walking
 * that range would cost a refused nomination per gfn, so it is never
 * offered to the policy.  Low RAM cannot end above max_pages, so the hole
 * starts there (with a margin for firmware tables).
 */
#define GFN_4G 0x100000ull

static void mark_holes(xenshape__dom *d, uint64_t max_pages)
{
    uint64_t g, from = max_pages + 1024, to = GFN_4G;

    if (to > d->nr_gfns)
        to = d->nr_gfns;
    for (g = from; g < to; g++) {
        d->gfn_flags[g] = XENSHAPE__GFN_HOLE;
        xenshape__track_evicted(d, g);
    }
    /* The special pages (0xfeff0-0xfefff), whatever the guest's size. */
    for (g = 0xfeff0; g < 0xff000 && g < d->nr_gfns; g++) {
        d->gfn_flags[g] = XENSHAPE__GFN_HOLE;
        xenshape__track_evicted(d, g);
    }
}

static int dom_new(xenshape__dom **d_r, const xenshape__hv_dominfo *info)
{
    xenshape__dom *d = NULL;
    int rc;

    d = xenshape__calloc(1, sizeof(*d));
    if (!d) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    d->domid = info->domid;
    d->dom_tag = xenshape__dom_tag(info->handle);
    d->nr_gfns = info->max_gpfn;
    d->target = UINT64_MAX;
    d->intent_fd = -1;
    d->gfn_rec = xenshape__calloc(d->nr_gfns, sizeof(*d->gfn_rec));
    d->gfn_flags = xenshape__calloc(d->nr_gfns, 1);
    d->pagein_buf = xenshape__alloc_aligned(XENSHAPE__PAGE_SIZE);
    d->ref_bm = xenshape__calloc((d->nr_gfns + 63) / 64,
                                 sizeof(*d->ref_bm));
    if (!d->gfn_rec || !d->gfn_flags || !d->pagein_buf || !d->ref_bm) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    /* Every frame is in RAM when we attach; on real Xen the policy sees
     * faults and samples, never every reference. */
    rc = xenshape__policy_new(&d->pol, NULL, d->nr_gfns, info->domid,
                              XENSHAPE__POLICY_ALL_RESIDENT |
                              XENSHAPE__POLICY_SAMPLED);
    if (rc)
        goto out;
    if (pthread_mutex_init(&d->lock, NULL)) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    d->lock_init = true;
    mark_holes(d, info->max_pages);
    *d_r = d;
    d = NULL;
    rc = 0;
 out:
    if (d) {
        free(d->gfn_rec);
        free(d->gfn_flags);
        free(d->pagein_buf);
        free(d->ref_bm);
        xenshape__policy_free(d->pol);
        free(d);
    }
    return rc;
}

/* Drop our claim on gfn's record if it is still rec.  Caller holds
 * d->lock.  Two paths may race to release the same record (a fault and a
 * prefetch, or a fault and a failed evict): only the first one frees. */
static void release_locked(xenshape_ctx *ctx, xenshape__dom *d, uint64_t gfn,
                           xenshape__store_rec rec)
{
    if (d->gfn_rec[gfn] != rec)
        return;
    d->gfn_rec[gfn] = 0;
    d->held--;
    xenshape__store_free(ctx->store, rec);
}

/* ---- the page-in side: the ring thread ------------------------------- */

enum req_outcome { REQ_RESPOND, REQ_DEFER, REQ_PARK };

static void put_response(xenshape__dom *d, const vm_event_request_t *req)
{
    vm_event_response_t rsp;

    /* Zeroed and complete, as Xen expects; upstream xenpaging leaves it
     * uninitialised and loses every page-in to a version mismatch. */
    memset(&rsp, 0, sizeof(rsp));
    rsp.version = VM_EVENT_INTERFACE_VERSION;
    rsp.reason = req->reason;
    rsp.vcpu_id = req->vcpu_id;
    rsp.flags = req->flags & VM_EVENT_FLAG_VCPU_PAUSED;
    rsp.u.mem_paging.gfn = req->u.mem_paging.gfn;
    rsp.u.mem_paging.p2mt = req->u.mem_paging.p2mt;
    rsp.u.mem_paging.flags = req->u.mem_paging.flags;
    memcpy(RING_GET_RESPONSE(&d->back, d->back.rsp_prod_pvt), &rsp,
           sizeof(rsp));
    d->back.rsp_prod_pvt++;
}

/* Keep the guest from running on data we could not restore. */
static void quarantine(xenshape_ctx *ctx, xenshape__dom *d, uint64_t gfn,
                       int rc)
{
    int r;

    d->error = rc;
    d->nr_parked++;
    XSLOG(ctx->lg, ERROR, -1,
          "domain %u gfn 0x%llx: %s; the frame is not loaded and the "
          "domain stays paused", d->domid, (unsigned long long)gfn,
          xenshape_strerror(rc));
    if (d->paused_by_pager)
        return;
    r = xenshape__hv_pause(ctx->hv, d->domid);
    if (r < 0)
        XSLOG(ctx->lg, ERROR, -r, "cannot pause domain %u", d->domid);
    else
        d->paused_by_pager = true;
}

/*
 * The page-in path proper: read and verify the frame's copy, load it,
 * release the record.  Returns 0 (loaded, or already back: ENOENT), a
 * negative errno from load, or -EIO when the copy could not be read or
 * failed verification (d->error then says which).  buf is 4 KiB, aligned.
 */
static int load_held(xenshape_ctx *ctx, xenshape__dom *d, uint64_t gfn,
                     xenshape__store_rec rec, void *buf)
{
    int rc, r, tries;

    /* A read error may be transient: try again a few times before
     * deciding the frame cannot be restored.  A checksum mismatch is
     * never retried into success by luck: it is final. */
    for (tries = 0; tries < 3; tries++) {
        rc = xenshape__store_get(ctx->store, rec, buf);
        if (rc != XENSHAPE_EIO)
            break;
    }
    if (rc) {
        pthread_mutex_lock(&d->lock);
        /* Another path (prefetch, or a second request for the same gfn)
         * loaded the frame and released the record while we read it: its
         * slot may already hold other data.  The frame is back; fine. */
        if (d->gfn_rec[gfn] != rec) {
            pthread_mutex_unlock(&d->lock);
            return 0;
        }
        if (rc == XENSHAPE_ECORRUPT)
            d->st.corrupt++;
        d->error = rc;
        pthread_mutex_unlock(&d->lock);
        return -EIO;
    }
    r = xenshape__hv_load(ctx->hv, d->domid, gfn, buf);
    if (r == -ENOMEM) {
        /* Xen had no RAM for the frame: the caller retries later, and
         * the counter tells the operator why page-ins stall. */
        pthread_mutex_lock(&d->lock);
        d->st.load_nomem++;
        pthread_mutex_unlock(&d->lock);
        return r;
    }
    if (r < 0 && r != -ENOENT) {
        XSLOG(ctx->lg, ERROR, -r, "domain %u gfn 0x%llx: load",
              d->domid, (unsigned long long)gfn);
        return r;
    }
    pthread_mutex_lock(&d->lock);
    if (r == 0)
        d->st.loaded++;
    xenshape__track_admit(d, gfn);
    xenshape__mark_ref(d, gfn);
    release_locked(ctx, d, gfn, rec);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int xenshape__pager_load_gfn(xenshape_ctx *ctx, uint32_t domid, uint64_t gfn,
                             void *buf)
{
    xenshape__store_rec rec;
    xenshape__dom *d = xenshape__pager_find(ctx, domid);

    if (!d || gfn >= d->nr_gfns)
        return -ESRCH;
    pthread_mutex_lock(&d->lock);
    rec = d->gfn_rec[gfn];
    pthread_mutex_unlock(&d->lock);
    if (!rec)
        return -ENOENT;
    return load_held(ctx, d, gfn, rec, buf);
}

static enum req_outcome handle_request(xenshape_ctx *ctx, xenshape__dom *d,
                                       const vm_event_request_t *req,
                                       bool retry)
{
    uint64_t gfn = req->u.mem_paging.gfn;
    uint32_t pflags = req->u.mem_paging.flags;
    xenshape__store_rec rec;
    int r;

    if (req->reason != VM_EVENT_REASON_MEM_PAGING || gfn >= d->nr_gfns) {
        XSLOG(ctx->lg, WARN, -1, "domain %u: unexpected request reason %u "
              "gfn 0x%llx, answered", d->domid, req->reason,
              (unsigned long long)gfn);
        return REQ_RESPOND;
    }

    pthread_mutex_lock(&d->lock);
    if (!retry) {
        if (req->flags & VM_EVENT_FLAG_FOREIGN)
            d->st.foreign_faults++;
        else
            d->st.faults++;
        if (pflags & MEM_PAGING_EVICT_FAIL)
            d->st.evict_fail++;
    }
    rec = d->gfn_rec[gfn];
    d->gfn_flags[gfn] &= ~XENSHAPE__GFN_NOMINATED;
    if (pflags & MEM_PAGING_DROP_PAGE) {
        /* The guest gave the frame back: forget its copy. */
        d->st.drops++;
        if (rec)
            release_locked(ctx, d, gfn, rec);
        d->gfn_flags[gfn] &= ~XENSHAPE__GFN_UNPAGEABLE;
        pthread_mutex_unlock(&d->lock);
        return REQ_RESPOND;
    }
    pthread_mutex_unlock(&d->lock);

    if (!rec) {
        /*
         * Not ours (already loaded by prefetch, or never evicted).  An
         * EVICT_FAIL frame still has its mfn: prep it, or a foreign
         * request's response would never promote it (the vcpu_id it
         * carries is Dom0's) and the guest would fault on it for ever.
         */
        if (pflags & MEM_PAGING_EVICT_FAIL) {
            pthread_mutex_lock(&d->lock);
            xenshape__policy_access(d->pol, gfn);
            pthread_mutex_unlock(&d->lock);
            r = xenshape__hv_load(ctx->hv, d->domid, gfn, NULL);
            if (r < 0 && r != -ENOENT)
                XSLOG(ctx->lg, WARN, -r, "domain %u gfn 0x%llx: prep",
                      d->domid, (unsigned long long)gfn);
        }
        return REQ_RESPOND;
    }

    r = load_held(ctx, d, gfn, rec, d->pagein_buf);
    if (r == -ENOMEM)
        return REQ_DEFER;
    if (r == -EIO) {
        quarantine(ctx, d, gfn, d->error);
        return REQ_PARK;
    }
    if (r < 0 && r != -ESRCH && r != -EINVAL)
        return REQ_DEFER;
    return REQ_RESPOND;     /* loaded, or the domain is going away */
}

/*
 * Publish responses and tell the hypervisor.  A failed notify leaves the
 * responses on the ring unseen, so it is retried on every later wake-up
 * until one goes through: a vCPU must never wait on a lost notification.
 */
static void push_and_notify(xenshape_ctx *ctx, xenshape__dom *d)
{
    int notify, r;

    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&d->back, notify);
    (void)notify;   /* Xen ignores rsp_event: always tell it. */
    r = xenshape__hv_evtchn_notify(ctx->hv, d->hvd);
    if (r < 0 && !d->notify_pending)
        XSLOG(ctx->lg, ERROR, -r, "domain %u: notify (will retry)",
              d->domid);
    d->notify_pending = r < 0;
}

static bool defer_request(xenshape_ctx *ctx, xenshape__dom *d,
                          const vm_event_request_t *req)
{
    if (d->nr_deferred == XENSHAPE__MAX_DEFERRED)
        return false;
    d->deferred[d->nr_deferred++] = *req;
    kick(ctx->want_run_fd);     /* the caller should free some RAM */
    return true;
}

/* Answer what can be answered among the requests that waited for RAM. */
static void retry_deferred(xenshape_ctx *ctx, xenshape__dom *d)
{
    unsigned i, kept = 0;
    bool answered = false;

    for (i = 0; i < d->nr_deferred; i++) {
        vm_event_request_t req = d->deferred[i];

        switch (handle_request(ctx, d, &req, true)) {
        case REQ_RESPOND:
            put_response(d, &req);
            answered = true;
            break;
        case REQ_DEFER:
            d->deferred[kept++] = req;
            break;
        case REQ_PARK:
            break;
        }
    }
    d->nr_deferred = kept;
    if (answered)
        push_and_notify(ctx, d);
}

static void drain_ring(xenshape_ctx *ctx, xenshape__dom *d)
{
    vm_event_request_t req;
    bool answered = false;
    int more;

    do {
        while (RING_HAS_UNCONSUMED_REQUESTS(&d->back)) {
            RING_COPY_REQUEST(&d->back, d->back.req_cons, &req);
            d->back.req_cons++;
            switch (handle_request(ctx, d, &req, false)) {
            case REQ_RESPOND:
                put_response(d, &req);
                answered = true;
                break;
            case REQ_DEFER:
                if (!defer_request(ctx, d, &req)) {
                    put_response(d, &req);  /* the guest will fault again */
                    answered = true;
                }
                break;
            case REQ_PARK:
                break;
            }
        }
        RING_FINAL_CHECK_FOR_REQUESTS(&d->back, more);
    } while (more);
    if (answered)
        push_and_notify(ctx, d);
}

static void *ring_thread_main(void *arg)
{
    xenshape_ctx *ctx = arg;
    struct epoll_event evs[32];
    unsigned i;
    int n, j, r, timeout;
    bool deferred = false;

    while (!ctx->stopping) {
        timeout = deferred ? RING_THREAD_RETRY_MS : 1000;
        n = epoll_wait(ctx->epfd, evs, XENSHAPE__ARRAY_SIZE(evs), timeout);
        if (n < 0 && errno != EINTR)
            break;
        pthread_mutex_lock(&ctx->ring_lock);
        for (j = 0; j < n; j++) {
            xenshape__dom *d;

            if (evs[j].data.u64 == UINT64_MAX) {
                drain_eventfd(ctx->ctl_fd);
                continue;
            }
            d = xenshape__pager_find(ctx, (uint32_t)evs[j].data.u64);
            if (!d)
                continue;
            /* An event left unacknowledged costs nothing but spurious
             * wake-ups (every ring is scanned anyway); said once per
             * streak of failures. */
            r = xenshape__hv_evtchn_ack(ctx->hv, d->hvd);
            if (r < 0 && !d->ack_failing)
                XSLOG(ctx->lg, WARN, -r, "domain %u: event channel "
                      "acknowledge", d->domid);
            d->ack_failing = r < 0;
        }
        /* Scan every ring on every wake-up: cheap (a few loads when
         * empty), and it covers requests queued before we attached, for
         * which no event ever arrives. */
        deferred = false;
        for (i = 0; i < ctx->nr_doms; i++) {
            xenshape__dom *d = ctx->doms[i];

            drain_ring(ctx, d);
            if (d->notify_pending)
                push_and_notify(ctx, d);
            if (d->nr_deferred)
                retry_deferred(ctx, d);
            if (d->nr_deferred || d->notify_pending)
                deferred = true;
        }
        pthread_mutex_unlock(&ctx->ring_lock);
    }
    return NULL;
}

int xenshape__pager_start(xenshape_ctx *ctx)
{
    struct epoll_event ev;
    sigset_t all, old;
    int rc, r;

    if (pthread_mutex_init(&ctx->ring_lock, NULL))
        return XENSHAPE_ENOMEM;
    ctx->ring_lock_init = true;
    ctx->prefetch_bufs = xenshape__alloc_aligned(XENSHAPE__PREFETCH_BATCH *
                                                 XENSHAPE__PAGE_SIZE);
    ctx->evict_bufs = xenshape__alloc_aligned(XENSHAPE__EVICT_BATCH *
                                              XENSHAPE__PAGE_SIZE);
    if (!ctx->prefetch_bufs || !ctx->evict_bufs) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
    ctx->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ctx->want_run_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ctx->epfd < 0 || ctx->ctl_fd < 0 || ctx->want_run_fd < 0) {
        rc = xenshape__rc_from_errno(errno);
        goto out;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX;
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, ctx->ctl_fd, &ev) < 0) {
        rc = xenshape__rc_from_errno(errno);
        goto out;
    }
    /* Our thread must never take the application's signals: it would
     * die of a SIGHUP the daemon meant to read with signalfd. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&ctx->ring_thread, NULL, ring_thread_main, ctx);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    ctx->ring_thread_started = true;
    rc = 0;
 out:
    return rc;
}

void xenshape__pager_stop(xenshape_ctx *ctx)
{
    unsigned i;

    if (ctx->ring_thread_started) {
        ctx->stopping = true;
        kick(ctx->ctl_fd);
        pthread_join(ctx->ring_thread, NULL);
        ctx->ring_thread_started = false;
    }
    /* Leave every ring attached in the hypervisor: frames still out are
     * served again by the next daemon, which re-attaches. */
    for (i = 0; i < ctx->nr_doms; i++)
        dom_free(ctx, ctx->doms[i]);
    ctx->nr_doms = 0;
    if (ctx->epfd >= 0)
        close(ctx->epfd);
    if (ctx->ctl_fd >= 0)
        close(ctx->ctl_fd);
    if (ctx->want_run_fd >= 0)
        close(ctx->want_run_fd);
    ctx->epfd = ctx->ctl_fd = ctx->want_run_fd = -1;
    free(ctx->prefetch_bufs);
    free(ctx->evict_bufs);
    ctx->prefetch_bufs = ctx->evict_bufs = NULL;
    if (ctx->ring_lock_init)
        pthread_mutex_destroy(&ctx->ring_lock);
    ctx->ring_lock_init = false;
}

/* ---- domains --------------------------------------------------------- */

/* Take d away from the ring thread; afterwards only we can see it. */
static void unlist(xenshape_ctx *ctx, xenshape__dom *d)
{
    unsigned i;

    pthread_mutex_lock(&ctx->ring_lock);
    epoll_ctl(ctx->epfd, EPOLL_CTL_DEL,
              xenshape__hv_evtchn_fd(ctx->hv, d->hvd), NULL);
    for (i = 0; i < ctx->nr_doms; i++)
        if (ctx->doms[i] == d) {
            ctx->doms[i] = ctx->doms[--ctx->nr_doms];
            break;
        }
    pthread_mutex_unlock(&ctx->ring_lock);
}

/* The domain is gone or dying: its frames went with it, so do our
 * records. */
static void forget(xenshape_ctx *ctx, xenshape__dom *d)
{
    XSLOG(ctx->lg, NOTICE, -1, "domain %u is gone; releasing its %llu "
          "frames in the store", d->domid, (unsigned long long)d->held);
    unlist(ctx, d);
    xenshape__state_port_forget(ctx, d->domid);
    dom_free(ctx, d);
}

static void forget_dead(xenshape_ctx *ctx, const xenshape__hv_dominfo *list,
                        unsigned nr)
{
    unsigned i = 0, j;

    while (i < ctx->nr_doms) {
        xenshape__dom *d = ctx->doms[i];
        bool alive = false;

        /* A dying domain is as good as gone, and our ring mappings are
         * what would keep it from going: let go at once. */
        for (j = 0; j < nr; j++)
            if (list[j].domid == d->domid && !list[j].dying &&
                xenshape__dom_tag(list[j].handle) == d->dom_tag)
                alive = true;
        if (alive) {
            i++;
            continue;
        }
        forget(ctx, d);
    }
}

static int list_domains(xenshape_ctx *ctx, xenshape__hv_dominfo **list_r,
                        unsigned *nr_r)
{
    xenshape__hv_dominfo *list = NULL;
    unsigned max = 64;
    int r, rc;

    for (;;) {
        xenshape__hv_dominfo *n = xenshape__realloc(list,
                                                    max * sizeof(*list));
        if (!n) {
            rc = XENSHAPE_ENOMEM;
            goto out;
        }
        list = n;
        r = xenshape__hv_domain_list(ctx->hv, list, max);
        if (r < 0) {
            XSLOG(ctx->lg, ERROR, -r, "cannot list domains");
            rc = xenshape__rc_from_errno(r);
            goto out;
        }
        if ((unsigned)r < max)
            break;
        max *= 2;
    }
    *list_r = list;
    *nr_r = (unsigned)r;
    list = NULL;
    rc = 0;
 out:
    free(list);
    return rc;
}

static int domain_info(xenshape_ctx *ctx, uint32_t domid,
                       xenshape__hv_dominfo *info_r)
{
    xenshape__hv_dominfo *list = NULL;
    unsigned nr, i;
    int rc;

    rc = list_domains(ctx, &list, &nr);
    if (rc)
        goto out;
    rc = XENSHAPE_ESRCH;
    for (i = 0; i < nr; i++)
        if (list[i].domid == domid) {
            *info_r = list[i];
            rc = 0;
            break;
        }
 out:
    free(list);
    return rc;
}

int xenshape_domain_list(xenshape_ctx *ctx, xenshape_dominfo **list_r,
                         unsigned *nr_r)
{
    xenshape__hv_dominfo *hl = NULL;
    xenshape_dominfo *out = NULL;
    unsigned nr, i;
    int rc;

    if (!ctx || !ctx->opened || !list_r || !nr_r)
        return XENSHAPE_EINVAL;
    rc = list_domains(ctx, &hl, &nr);
    if (rc)
        goto out;
    out = xenshape__calloc(nr ? nr : 1, sizeof(*out));
    if (!out) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < nr; i++) {
        out[i].domid = hl[i].domid;
        out[i].tot_pages = hl[i].tot_pages;
        out[i].max_pages = hl[i].max_pages;
        out[i].paged_pages = hl[i].paged_pages;
        out[i].paused = hl[i].paused;
        out[i].dying = hl[i].dying;
        out[i].crashed = hl[i].crashed;
        memcpy(out[i].handle, hl[i].handle, sizeof(out[i].handle));
    }
    *list_r = out;
    *nr_r = nr;
    out = NULL;
    rc = 0;
 out:
    free(hl);
    free(out);
    return rc;
}

int xenshape_host_info(xenshape_ctx *ctx, uint64_t *total_r,
                       uint64_t *free_r)
{
    uint64_t total, fr;
    int r;

    if (!ctx || !ctx->opened || !total_r || !free_r)
        return XENSHAPE_EINVAL;
    r = xenshape__hv_host_info(ctx->hv, &total, &fr);
    if (r < 0)
        return xenshape__rc_from_errno(r);
    *total_r = total;
    *free_r = fr;
    return 0;
}

/* Forget recovered records whose domain is gone or was replaced. */
static void orphans_gc(xenshape_ctx *ctx, const xenshape__hv_dominfo *list,
                       unsigned nr)
{
    size_t i, kept = 0;
    unsigned j;

    for (i = 0; i < ctx->nr_orphans; i++) {
        xenshape__orphan *o = &ctx->orphans[i];
        bool live = false;

        for (j = 0; j < nr; j++)
            if (list[j].domid == o->domid &&
                xenshape__dom_tag(list[j].handle) == o->dom_tag)
                live = true;
        if (live)
            ctx->orphans[kept++] = *o;
        else
            xenshape__store_free(ctx->store, o->rec);
    }
    ctx->nr_orphans = kept;
}

/*
 * Take over the recovered records of this domain.  On a fresh ring
 * nothing can be paged, so they are all stale.  On an inherited ring a
 * buffer-less prep tells, without changing anything that matters, whether
 * a frame is still paged: EINVAL (paged, needs data) keeps the record;
 * ENOENT (in RAM) or 0 (an EVICT_FAIL frame just promoted) frees it.
 */
static void adopt_orphans(xenshape_ctx *ctx, xenshape__dom *d, bool fresh)
{
    size_t i, kept = 0;

    for (i = 0; i < ctx->nr_orphans; i++) {
        xenshape__orphan *o = &ctx->orphans[i];
        bool keep = false;
        int r;

        if (o->domid != d->domid || o->dom_tag != d->dom_tag) {
            ctx->orphans[kept++] = *o;
            continue;
        }
        if (!fresh && o->gfn < d->nr_gfns && !d->gfn_rec[o->gfn]) {
            r = xenshape__hv_load(ctx->hv, d->domid, o->gfn, NULL);
            keep = (r == -EINVAL) || (r < 0 && r != -ENOENT);
        }
        if (keep) {
            d->gfn_rec[o->gfn] = o->rec;
            d->held++;
            xenshape__track_evicted(d, o->gfn);
        } else {
            xenshape__store_free(ctx->store, o->rec);
        }
    }
    ctx->nr_orphans = kept;
}

/*
 * Undo adopt_orphans() for an attach that fails after it: the records go
 * back to the orphans, for the next attach.  Freeing them, as dom_free()
 * would, loses frames that are still paged out: their slots are reused
 * and their records zeroed by the next put.  There is room: they came
 * from the orphans.
 */
static void return_orphans(xenshape_ctx *ctx, xenshape__dom *d)
{
    uint64_t g;

    for (g = 0; d->held && g < d->nr_gfns; g++) {
        xenshape__orphan *o;

        if (!d->gfn_rec[g])
            continue;
        o = &ctx->orphans[ctx->nr_orphans++];
        o->domid = d->domid;
        o->dom_tag = d->dom_tag;
        o->gfn = g;
        o->rec = d->gfn_rec[g];
        d->gfn_rec[g] = 0;
        d->held--;
    }
}

/*
 * Bring back frames we nominated but could not evict: copy them, store
 * the copies durably, evict, and load them back from the store.
 * Nominated frames are otherwise restored only by a guest touch, and
 * disabling paging with one left would crash the domain on that touch.
 *
 * The copies go to the store before the evict, as in any eviction:
 * between evict and load a frame's only copy is ours, and a pager killed
 * there (a restart is exactly when this runs) must leave a record for its
 * successor to adopt.  A copy held only in memory was lost with the
 * process, and the successor, finding the gfn in the intent record with
 * no record of it, mapped a paged frame and left it paging_in for good.
 *
 * One mapping and one store write for the whole batch (up to
 * XENSHAPE__EVICT_BATCH frames), as in evict_batch(): frame by frame, a
 * dead pager's last batch cost its successor 256 writes and twice as many
 * syncs before it could do anything else.  A frame that is in fact back
 * in RAM (touched, or never nominated) fails its evict and is released.
 *
 * Returns 0, or the error of the first frame that could not be checked
 * (*bad_r: how many could not).
 */
static int rescue_nominated(xenshape_ctx *ctx, xenshape__dom *d,
                            const uint64_t *gfns, unsigned n,
                            unsigned *bad_r)
{
    xenshape__store_page pages[XENSHAPE__EVICT_BATCH];
    xenshape__store_rec recs[XENSHAPE__EVICT_BATCH];
    int err[XENSHAPE__EVICT_BATCH];
    uint8_t *copies = NULL, *map = NULL;
    unsigned i, m = 0, bad = 0;
    int rc = 0, put_rc, r;

    if (n > XENSHAPE__EVICT_BATCH) {
        bad = n;
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    copies = xenshape__alloc_aligned((size_t)n * XENSHAPE__PAGE_SIZE);
    if (!copies) {
        bad = n;
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    map = xenshape__hv_map(ctx->hv, d->domid, PROT_READ, gfns, n, err);
    if (!map) {
        bad = n;
        rc = errno == ENOMEM ? XENSHAPE_ENOMEM : XENSHAPE_EHV;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (err[i]) {
            bad++;
            if (!rc)
                rc = XENSHAPE_EHV;
            continue;
        }
        pages[m].domid = d->domid;
        pages[m].dom_tag = d->dom_tag;
        pages[m].gfn = gfns[i];
        pages[m].data = copies + (size_t)m * XENSHAPE__PAGE_SIZE;
        memcpy(copies + (size_t)m * XENSHAPE__PAGE_SIZE,
               map + (size_t)i * XENSHAPE__PAGE_SIZE, XENSHAPE__PAGE_SIZE);
        m++;
    }
    xenshape__hv_unmap(ctx->hv, map, n);
    map = NULL;
    if (!m)
        goto out;

    put_rc = xenshape__store_put(ctx->store, pages, m, recs);
    if (put_rc) {
        /* The store refuses writes (it latched an I/O error, or is
         * full).  Leaving the frames nominated would keep paging enabled
         * for good, so rescue them through the copies in memory: only a
         * kill between an evict and its load could lose one. */
        XSLOG(ctx->lg, WARN, -1, "domain %u: %s; restoring %u nominated "
              "frames without a stored copy", d->domid,
              xenshape_strerror(put_rc), m);
        for (i = 0; i < m; i++) {
            r = xenshape__hv_evict(ctx->hv, d->domid, pages[i].gfn);
            if (r < 0)
                continue;       /* touched meanwhile: it is back already */
            r = xenshape__hv_load(ctx->hv, d->domid, pages[i].gfn,
                                  pages[i].data);
            if (r < 0) {
                bad++;
                if (!rc)
                    rc = xenshape__rc_from_errno(r);
            }
        }
        goto out;
    }
    pthread_mutex_lock(&d->lock);
    for (i = 0; i < m; i++) {
        d->gfn_rec[pages[i].gfn] = recs[i];
        d->held++;
    }
    pthread_mutex_unlock(&d->lock);

    for (i = 0; i < m; i++) {
        r = xenshape__hv_evict(ctx->hv, d->domid, pages[i].gfn);
        if (r < 0) {
            /* Touched meanwhile (or never nominated): it is in RAM, and a
             * request, if any, is answered as for any frame not ours. */
            pthread_mutex_lock(&d->lock);
            release_locked(ctx, d, pages[i].gfn, recs[i]);
            pthread_mutex_unlock(&d->lock);
            continue;
        }
        pthread_mutex_lock(&d->lock);
        xenshape__track_evicted(d, pages[i].gfn);
        pthread_mutex_unlock(&d->lock);
        /* Held now, like any evicted frame: if this load fails, the
         * guest's next touch or a prefetch brings it back from the
         * store. */
        r = load_held(ctx, d, pages[i].gfn, recs[i],
                      copies + (size_t)i * XENSHAPE__PAGE_SIZE);
        if (r < 0 && r != -ENOMEM) {
            bad++;
            if (!rc)
                rc = xenshape__rc_from_errno(r);
        }
    }
 out:
    if (map)
        xenshape__hv_unmap(ctx->hv, map, n);
    free(copies);
    *bad_r = bad;
    return rc;
}

/*
 * Frames the dead pager nominated in its last batch and never evicted are
 * still inaccessible to the guest; bring them back now, so that this ring
 * holds no frame we do not know about.  If one cannot be brought back,
 * the domain is marked unclean and paging is never disabled under it.
 */
static void recover_intent(xenshape_ctx *ctx, xenshape__dom *d)
{
    uint64_t gfns[XENSHAPE__EVICT_BATCH];
    unsigned n, k, i, bad;
    int rc;

    n = xenshape__state_intent_load(ctx, d->domid, d->dom_tag, gfns);
    for (i = k = 0; i < n; i++)
        if (gfns[i] < d->nr_gfns && !d->gfn_rec[gfns[i]])
            gfns[k++] = gfns[i];
    if (!k)
        return;
    rc = rescue_nominated(ctx, d, gfns, k, &bad);
    if (rc) {
        d->unclean = true;
        XSLOG(ctx->lg, WARN, -1, "domain %u: cannot check %u of the %u "
              "frames the previous pager nominated (%s); paging will stay "
              "enabled for this domain", d->domid, bad, k,
              xenshape_strerror(rc));
    }
}

int xenshape_domain_attach(xenshape_ctx *ctx, uint32_t domid)
{
    xenshape__hv_dominfo *list = NULL, info;
    xenshape__dom *d = NULL;
    struct epoll_event ev;
    vm_event_sring_t *sring;
    unsigned nr, i;
    uint32_t port = 0;
    bool found = false;
    int rc, r;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    if (xenshape__pager_find(ctx, domid))
        return 0;
    if (ctx->nr_doms == XENSHAPE__MAX_DOMS)
        return XENSHAPE_ENOSPC;
    rc = list_domains(ctx, &list, &nr);
    if (rc)
        goto out;
    for (i = 0; i < nr; i++)
        if (list[i].domid == domid) {
            info = list[i];
            found = true;
        }
    if (!found) {
        rc = XENSHAPE_ESRCH;
        goto out;
    }
    orphans_gc(ctx, list, nr);
    rc = dom_new(&d, &info);
    if (rc)
        goto out;

    r = xenshape__hv_paging_enable(ctx->hv, domid, &d->hvd, &port);
    if (r == 0 && !d->hvd) {
        /* Xen makes enable a no-op on a dying domain. */
        rc = XENSHAPE_ESRCH;
        goto out;
    }
    if (r == 0) {
        /* The backend initialised the shared ring before the guest could
         * run again; only our private back-ring indices start here. */
        sring = xenshape__hv_ring_page(ctx->hv, d->hvd);
        BACK_RING_INIT(&d->back, sring, XENSHAPE__RING_PAGE_SIZE);
        rc = xenshape__state_port_save(ctx, domid, d->dom_tag, port);
        if (rc)
            goto out;
    } else if (r == -EBUSY) {
        rc = xenshape__state_port_load(ctx, domid, d->dom_tag, &port);
        if (rc) {
            XSLOG(ctx->lg, ERROR, -1, "domain %u already has a pager (or "
                  "had one that left no ring port in %s): not attaching",
                  domid, ctx->state_dir);
            rc = XENSHAPE_EBUSY;
            goto out;
        }
        r = xenshape__hv_paging_reattach(ctx->hv, domid, port, &d->hvd);
        if (r < 0) {
            XSLOG(ctx->lg, ERROR, -r, "domain %u: cannot re-attach to the "
                  "paging ring on port %u", domid, port);
            rc = xenshape__rc_from_errno(r);
            goto out;
        }
        sring = xenshape__hv_ring_page(ctx->hv, d->hvd);
        /* Everything before rsp_prod was answered by the dead pager;
         * everything after it is ours to answer. */
        BACK_RING_ATTACH(&d->back, sring, sring->rsp_prod,
                         XENSHAPE__RING_PAGE_SIZE);
        d->reattached = true;
        /* The dead pager may have pushed responses and died before it
         * notified: Xen reads them only when notified, and the vCPUs
         * they answer send nothing more.  The ring thread notifies once
         * (push_and_notify() pushes nothing new). */
        d->notify_pending = true;
        XSLOG(ctx->lg, NOTICE, -1, "domain %u: re-attached to the paging "
              "ring (port %u, %u requests waiting)", domid, port,
              sring->req_prod - sring->rsp_prod);
    } else if (r == -ENOSYS) {
        XSLOG(ctx->lg, ERROR, -1, "domain %u: this hypervisor was built "
              "without memory paging (CONFIG_MEM_PAGING)", domid);
        rc = XENSHAPE_ENOSYS;
        goto out;
    } else {
        XSLOG(ctx->lg, ERROR, -r, "domain %u: cannot enable paging", domid);
        rc = xenshape__rc_from_errno(r);
        goto out;
    }

    adopt_orphans(ctx, d, !d->reattached);
    if (d->reattached)
        recover_intent(ctx, d);
    rc = xenshape__state_intent_open(ctx, domid, &d->intent_fd);
    if (rc)
        goto out;
    if (info.paged_pages > d->held) {
        d->st.lost = info.paged_pages - d->held;
        d->error = XENSHAPE_ELOST;
        XSLOG(ctx->lg, ERROR, -1, "domain %u: %llu paged frames have no "
              "copy in the store", domid,
              (unsigned long long)d->st.lost);
    }

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = domid;
    pthread_mutex_lock(&ctx->ring_lock);
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD,
                  xenshape__hv_evtchn_fd(ctx->hv, d->hvd), &ev) < 0) {
        rc = xenshape__rc_from_errno(errno);
        pthread_mutex_unlock(&ctx->ring_lock);
        goto out;
    }
    d->port = port;
    ctx->doms[ctx->nr_doms++] = d;
    pthread_mutex_unlock(&ctx->ring_lock);
    kick(ctx->ctl_fd);      /* serve what is already on the ring */
    xenshape__sample_start(ctx, d);
    d = NULL;
    rc = 0;
 out:
    if (d && d->gfn_rec)
        return_orphans(ctx, d);
    dom_free(ctx, d);
    free(list);
    return rc;
}

int xenshape_domain_balloon(xenshape_ctx *ctx, uint32_t domid,
                            uint64_t target_pages)
{
    int r;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    r = xenshape__hv_balloon_target(ctx->hv, domid,
                                    target_pages * (XENSHAPE__PAGE_SIZE /
                                                    1024));
    if (r == -EOPNOTSUPP)
        return XENSHAPE_ENOSYS;
    return r < 0 ? xenshape__rc_from_errno(r) : 0;
}

int xenshape_domain_pause(xenshape_ctx *ctx, uint32_t domid, bool pause)
{
    int r;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    r = pause ? xenshape__hv_pause(ctx->hv, domid) :
        xenshape__hv_unpause(ctx->hv, domid);
    return r < 0 ? xenshape__rc_from_errno(r) : 0;
}

int xenshape_domain_set_target(xenshape_ctx *ctx, uint32_t domid,
                               uint64_t target_pages)
{
    xenshape__dom *d;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    d = xenshape__pager_find(ctx, domid);
    if (!d)
        return XENSHAPE_ESRCH;
    d->target = target_pages;
    kick(ctx->want_run_fd);
    return 0;
}

int xenshape_domain_stats(xenshape_ctx *ctx, uint32_t domid,
                          xenshape_domstats *st_r)
{
    xenshape__hv_dominfo info;
    xenshape__dom *d;
    int rc;

    if (!ctx || !ctx->opened || !st_r)
        return XENSHAPE_EINVAL;
    d = xenshape__pager_find(ctx, domid);
    if (!d)
        return XENSHAPE_ESRCH;
    rc = domain_info(ctx, domid, &info);
    if (rc)
        return rc;
    pthread_mutex_lock(&d->lock);
    *st_r = d->st;
    st_r->tot_pages = info.tot_pages;
    st_r->max_pages = info.max_pages;
    st_r->paged_pages = info.paged_pages;
    st_r->target_pages = d->target;
    st_r->held_pages = d->held;
    st_r->error = d->error;
    st_r->paused_by_pager = d->paused_by_pager;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

/* ---- the eviction side ------------------------------------------------ */

static bool victim_ok(void *arg, uint64_t gfn)
{
    xenshape__dom *d = arg;

    return !d->gfn_rec[gfn] && !d->gfn_flags[gfn];
}

/*
 * Frames that refused nomination get another chance after a while: a
 * mapping by a backend or the device model is usually transient.
 */
static void age_unpageable(xenshape__dom *d)
{
    uint64_t g;

    pthread_mutex_lock(&d->lock);
    for (g = 0; g < d->nr_gfns; g++)
        d->gfn_flags[g] &= ~XENSHAPE__GFN_UNPAGEABLE;
    pthread_mutex_unlock(&d->lock);
}

static int evict_batch(xenshape_ctx *ctx, xenshape__dom *d, unsigned want,
                       unsigned *done_r)
{
    uint64_t cand[XENSHAPE__EVICT_BATCH], nom[XENSHAPE__EVICT_BATCH];
    xenshape__store_page pages[XENSHAPE__EVICT_BATCH];
    xenshape__store_rec recs[XENSHAPE__EVICT_BATCH];
    uint64_t stored[XENSHAPE__EVICT_BATCH];
    unsigned stored_at[XENSHAPE__EVICT_BATCH];
    bool settled[XENSHAPE__EVICT_BATCH];
    int err[XENSHAPE__EVICT_BATCH];
    unsigned n, k = 0, m = 0, i, done = 0, tried = 0, left = 0;
    uint8_t *map = NULL, *copy;
    int rc = 0, r;

    if (want > XENSHAPE__EVICT_BATCH)
        want = XENSHAPE__EVICT_BATCH;
    pthread_mutex_lock(&d->lock);
    n = xenshape__policy_choose(d->pol, victim_ok, d, cand, want);
    /* Whatever the policy returns, each frame enters a batch once. */
    /*
     * NOMINATED is set before the nomination, not after: once nominated,
     * a frame can be touched, and its request served (which clears the
     * flag) before this thread gets the lock back.  Set afterwards, the
     * flag would outlive the request and keep the frame from being
     * chosen again.
     */
    for (i = k = 0; i < n; i++)
        if (cand[i] < d->nr_gfns && victim_ok(d, cand[i])) {
            d->gfn_flags[cand[i]] |= XENSHAPE__GFN_INFLIGHT |
                XENSHAPE__GFN_NOMINATED;
            cand[k++] = cand[i];
        }
    n = k;
    k = 0;
    pthread_mutex_unlock(&d->lock);
    if (!n) {
        age_unpageable(d);
        goto out;
    }
    /* Durably note what we are about to nominate, for a successor. */
    rc = xenshape__state_intent_save(ctx, d->intent_fd, d->dom_tag, cand,
                                     n, true);
    if (rc) {
        k = 0;
        goto out_nominated;
    }

    for (i = 0; i < n; i++) {
        tried = i + 1;
        r = xenshape__hv_nominate(ctx->hv, d->domid, cand[i]);
        if (r == 0) {
            nom[k++] = cand[i];
            continue;
        }
        pthread_mutex_lock(&d->lock);
        d->gfn_flags[cand[i]] = XENSHAPE__GFN_UNPAGEABLE;
        d->st.nominate_busy++;
        pthread_mutex_unlock(&d->lock);
        if (r != -EBUSY) {
            XSLOG(ctx->lg, ERROR, -r, "domain %u gfn 0x%llx: nominate",
                  d->domid, (unsigned long long)cand[i]);
            rc = xenshape__rc_from_errno(r);
            /* Finish the frames nominated so far, below. */
            break;
        }
    }
    memset(settled, 0, sizeof(settled));
    if (!k)
        goto out_nominated;

    /* One mapping for the batch; unmapped before evict, always. */
    map = xenshape__hv_map(ctx->hv, d->domid, PROT_READ, nom, k, err);
    if (!map) {
        int e = errno;

        XSLOG(ctx->lg, ERROR, e, "domain %u: cannot map %u nominated "
              "frames; they return to the guest on its next touch",
              d->domid, k);
        rc = e == ENOMEM ? XENSHAPE_ENOMEM : XENSHAPE_EHV;
        goto out_nominated;
    }
    for (i = 0; i < k; i++) {
        if (err[i])
            continue;
        /*
         * Copy before hashing and writing.  A guest touch between
         * nominate and here turns the frame back to RAM (EVICT_FAIL, then
         * prep) while our mapping still shows it, and the guest may write
         * it: the store must never hash one version of a page and write
         * another, or a duplicate of the first would share a slot holding
         * the second.  The torn copy itself is harmless: its evict fails
         * and the record is dropped.
         */
        copy = (uint8_t *)ctx->evict_bufs + (size_t)m * XENSHAPE__PAGE_SIZE;
        memcpy(copy, map + (size_t)i * XENSHAPE__PAGE_SIZE,
               XENSHAPE__PAGE_SIZE);
        pages[m].domid = d->domid;
        pages[m].dom_tag = d->dom_tag;
        pages[m].gfn = nom[i];
        pages[m].data = copy;
        stored[m] = nom[i];
        stored_at[m] = i;
        m++;
    }
    if (m) {
        rc = xenshape__store_put(ctx->store, pages, m, recs);
        if (rc) {
            XSLOG(ctx->lg, ERROR, -1, "domain %u: store write of %u frames "
                  "failed (%s); nothing evicted", d->domid, m,
                  xenshape_strerror(rc));
            m = 0;
        }
    }
    /* Publish before evict: once evicted, a fault can come at any time
     * and must find the record. */
    pthread_mutex_lock(&d->lock);
    for (i = 0; i < m; i++) {
        d->gfn_rec[stored[i]] = recs[i];
        d->held++;
    }
    pthread_mutex_unlock(&d->lock);
    r = xenshape__hv_unmap(ctx->hv, map, k);
    if (r < 0)
        XSLOG(ctx->lg, ERROR, -r, "domain %u: unmap", d->domid);
    map = NULL;

    for (i = 0; i < m; i++) {
        r = xenshape__hv_evict(ctx->hv, d->domid, stored[i]);
        /* EBUSY is either a guest touch (a request will come) or an extra
         * reference, e.g. a foreign mapping (the frame stays nominated):
         * only a success settles the frame for certain. */
        settled[stored_at[i]] = (r == 0);
        pthread_mutex_lock(&d->lock);
        if (r == 0) {
            done++;
            d->st.evicted++;
            xenshape__track_evicted(d, stored[i]);
        } else {
            /* The guest (or a mapper) touched it after nomination: its
             * EVICT_FAIL request brings it back; our copy is not needed. */
            d->st.evict_busy++;
            if (r != -EBUSY)
                XSLOG(ctx->lg, WARN, -r, "domain %u gfn 0x%llx: evict",
                      d->domid, (unsigned long long)stored[i]);
            release_locked(ctx, d, stored[i], recs[i]);
        }
        pthread_mutex_unlock(&d->lock);
    }

 out_nominated:
    /* A frame nominated but neither evicted nor touched since stays
     * inaccessible to the guest until its next touch; remember it so
     * detach can bring it back first. */
    pthread_mutex_lock(&d->lock);
    for (i = 0; i < n; i++)
        d->gfn_flags[cand[i]] &= ~XENSHAPE__GFN_INFLIGHT;
    /* Never nominated (a refusal already replaced the flags)... */
    for (i = tried; i < n; i++)
        d->gfn_flags[cand[i]] &= ~XENSHAPE__GFN_NOMINATED;
    /* ...or evicted: only the rest is still nominated. */
    for (i = 0; i < k; i++)
        if (settled[i])
            d->gfn_flags[nom[i]] &= ~XENSHAPE__GFN_NOMINATED;
        else
            nom[left++] = nom[i];
    pthread_mutex_unlock(&d->lock);
    /* Only those are a successor's to rescue (see state.c).  A failure
     * here leaves the older record, which costs a successor time only. */
    xenshape__state_intent_save(ctx, d->intent_fd, d->dom_tag, nom, left,
                                false);
 out:
    *done_r = done;
    return rc;
}

/* Load up to want held frames of d directly (no fault needed). */
static int prefetch_batch(xenshape_ctx *ctx, xenshape__dom *d, unsigned want,
                          unsigned *done_r)
{
    void *bufs[XENSHAPE__PREFETCH_BATCH];
    xenshape__store_rec recs[XENSHAPE__PREFETCH_BATCH];
    uint64_t gfns[XENSHAPE__PREFETCH_BATCH];
    int rcs[XENSHAPE__PREFETCH_BATCH];
    unsigned n = 0, i, done = 0;
    uint64_t g;
    int rc = 0, r;

    if (want > XENSHAPE__PREFETCH_BATCH)
        want = XENSHAPE__PREFETCH_BATCH;
    for (i = 0; i < want; i++)
        bufs[i] = (uint8_t *)ctx->prefetch_bufs + (size_t)i *
            XENSHAPE__PAGE_SIZE;
    pthread_mutex_lock(&d->lock);
    for (g = 0; g < d->nr_gfns && n < want; g++)
        if (d->gfn_rec[g]) {
            gfns[n] = g;
            recs[n] = d->gfn_rec[g];
            n++;
        }
    pthread_mutex_unlock(&d->lock);
    if (!n)
        goto out;

    rc = xenshape__store_get_batch(ctx->store, recs, n, bufs, rcs);
    if (rc)
        goto out;
    for (i = 0; i < n; i++) {
        if (rcs[i]) {
            pthread_mutex_lock(&d->lock);
            if (d->gfn_rec[gfns[i]] != recs[i]) {
                /* Faulted in meanwhile; see load_held(). */
                pthread_mutex_unlock(&d->lock);
                continue;
            }
            if (rcs[i] == XENSHAPE_ECORRUPT)
                d->st.corrupt++;
            d->error = rcs[i];
            pthread_mutex_unlock(&d->lock);
            XSLOG(ctx->lg, ERROR, -1, "domain %u gfn 0x%llx: %s; not "
                  "loaded", d->domid, (unsigned long long)gfns[i],
                  xenshape_strerror(rcs[i]));
            rc = rcs[i];
            continue;
        }
        r = xenshape__hv_load(ctx->hv, d->domid, gfns[i], bufs[i]);
        if (r == -ENOMEM) {
            pthread_mutex_lock(&d->lock);
            d->st.load_nomem++;
            pthread_mutex_unlock(&d->lock);
            rc = XENSHAPE_ENOMEM;
            break;
        }
        if (r < 0 && r != -ENOENT) {
            XSLOG(ctx->lg, ERROR, -r, "domain %u gfn 0x%llx: load",
                  d->domid, (unsigned long long)gfns[i]);
            rc = xenshape__rc_from_errno(r);
            break;
        }
        pthread_mutex_lock(&d->lock);
        if (r == 0) {
            d->st.loaded++;
            done++;
        }
        xenshape__track_admit(d, gfns[i]);
        release_locked(ctx, d, gfns[i], recs[i]);
        pthread_mutex_unlock(&d->lock);
    }
 out:
    *done_r = done;
    return rc;
}

int xenshape__domain_set_fill(xenshape_ctx *ctx, uint32_t domid, bool fill)
{
    xenshape__dom *d;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    d = xenshape__pager_find(ctx, domid);
    if (!d)
        return XENSHAPE_ESRCH;
    d->no_fill = !fill;
    return 0;
}

int xenshape_domain_usage(xenshape_ctx *ctx, uint32_t domid,
                          uint64_t *frames_r)
{
    xenshape__dom *d;

    if (!ctx || !ctx->opened || !frames_r)
        return XENSHAPE_EINVAL;
    d = xenshape__pager_find(ctx, domid);
    if (!d)
        return XENSHAPE_ESRCH;
    pthread_mutex_lock(&d->lock);
    if (d->obs && d->idle_snap[0])
        /* First touches are sampled, a small share of the frames each
         * second, so what they show is far below what the guest uses.
         * What n2rwx does tell for sure is which frames were NOT used:
         * armed two whole intervals and still armed.  Every other resident
         * frame counts as used, and so does every frame faulted in: an
         * estimate from above, so that a guest is not shrunk below what
         * it touches. */
        *frames_r = xenshape__observe_usage(d->obs, d->idle_snap,
                                            d->ref_bm);
    else
        *frames_r = d->ref_count;
    memset(d->ref_bm, 0, (d->nr_gfns + 63) / 64 * sizeof(*d->ref_bm));
    d->ref_count = 0;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int xenshape_domain_prefetch(xenshape_ctx *ctx, uint32_t domid,
                             uint64_t max, uint64_t *done_r)
{
    xenshape__dom *d;
    uint64_t total = 0;
    unsigned done;
    int rc = 0;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    d = xenshape__pager_find(ctx, domid);
    if (!d)
        return XENSHAPE_ESRCH;
    while (total < max && d->held) {
        uint64_t want = max - total;

        rc = prefetch_batch(ctx, d, want > XENSHAPE__PREFETCH_BATCH ?
                            XENSHAPE__PREFETCH_BATCH : (unsigned)want,
                            &done);
        total += done;
        if (rc || !done)
            break;
    }
    if (done_r)
        *done_r = total;
    return rc;
}

int xenshape_fd(xenshape_ctx *ctx)
{
    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    return ctx->want_run_fd;
}

int xenshape_run(xenshape_ctx *ctx, int budget_ms)
{
    xenshape__hv_dominfo *list = NULL;
    uint64_t deadline;
    unsigned nr, i, j;
    bool progress = true;
    int rc;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    drain_eventfd(ctx->want_run_fd);
    deadline = xenshape__now_ns() + (uint64_t)(budget_ms > 0 ? budget_ms : 0)
        * 1000000ull;
    rc = list_domains(ctx, &list, &nr);
    if (rc)
        goto out;
    forget_dead(ctx, list, nr);

    while (progress && xenshape__now_ns() < deadline) {
        progress = false;
        for (i = 0; i < ctx->nr_doms; i++) {
            xenshape__dom *d = ctx->doms[i];
            xenshape__hv_dominfo *info = NULL;
            unsigned done = 0;
            int r;

            for (j = 0; j < nr; j++)
                if (list[j].domid == d->domid)
                    info = &list[j];
            if (!info || info->dying)
                continue;
            xenshape__sample_tick(ctx, d, xenshape__now_ns());
            if (info->tot_pages > d->target) {
                uint64_t excess = info->tot_pages - d->target;

                r = evict_batch(ctx, d, excess > XENSHAPE__EVICT_BATCH ?
                                XENSHAPE__EVICT_BATCH : (unsigned)excess,
                                &done);
                info->tot_pages -= done;
                if (r)
                    rc = r;
            } else if (info->tot_pages < d->target && d->held &&
                       !d->no_fill) {
                uint64_t room = d->target - info->tot_pages;

                r = prefetch_batch(ctx, d, room > XENSHAPE__PREFETCH_BATCH ?
                                   XENSHAPE__PREFETCH_BATCH : (unsigned)room,
                                   &done);
                info->tot_pages += done;
                if (r && r != XENSHAPE_ENOMEM)
                    rc = r;
            }
            if (done)
                progress = true;
        }
    }
 out:
    free(list);
    return rc;
}

/* d's domain no longer exists, is another domain now, or is dying. */
static bool dom_gone(xenshape_ctx *ctx, xenshape__dom *d)
{
    xenshape__hv_dominfo info;
    int rc;

    rc = domain_info(ctx, d->domid, &info);
    if (rc == XENSHAPE_ESRCH)
        return true;
    return !rc && (info.dying ||
                   xenshape__dom_tag(info.handle) != d->dom_tag);
}

int xenshape_domain_detach(xenshape_ctx *ctx, uint32_t domid, int timeout_ms)
{
    xenshape__hv_dominfo info;
    uint64_t deadline;
    xenshape__dom *d;
    unsigned done, i;
    int rc, r;

    if (!ctx || !ctx->opened)
        return XENSHAPE_EINVAL;
    d = xenshape__pager_find(ctx, domid);
    if (!d)
        return XENSHAPE_ESRCH;
    d->target = UINT64_MAX;
    deadline = xenshape__now_ns() + (uint64_t)timeout_ms * 1000000ull;
    /* Nothing will be chosen any more: stop sampling first, which also
     * gives the guest its access rights back. */
    xenshape__sample_stop(ctx, d);

    for (;;) {
        rc = prefetch_batch(ctx, d, XENSHAPE__PREFETCH_BATCH, &done);
        if (!d->held && !d->nr_deferred)
            break;
        if (!done && dom_gone(ctx, d)) {
            /* Destroyed under us: nothing is left to page in. */
            forget(ctx, d);
            return 0;
        }
        if (xenshape__now_ns() >= deadline) {
            XSLOG(ctx->lg, WARN, -1, "domain %u: %llu frames still out and "
                  "%u requests waiting after %d ms (last: %s)", domid,
                  (unsigned long long)d->held, d->nr_deferred, timeout_ms,
                  xenshape_strerror(rc));
            return XENSHAPE_ETIMEDOUT;
        }
        if (!done)
            usleep(1000);
    }
    if (d->nr_parked) {
        XSLOG(ctx->lg, ERROR, -1, "domain %u: %u requests wait for frames "
              "that failed verification; staying attached", domid,
              d->nr_parked);
        return d->error ? d->error : XENSHAPE_EIO;
    }

    for (i = 0; i < d->nr_gfns; ) {
        uint64_t nom[XENSHAPE__EVICT_BATCH];
        unsigned n = 0, j, bad;

        for (; i < d->nr_gfns && n < XENSHAPE__EVICT_BATCH; i++)
            if (d->gfn_flags[i] & XENSHAPE__GFN_NOMINATED)
                nom[n++] = i;
        if (!n)
            break;
        rc = rescue_nominated(ctx, d, nom, n, &bad);
        if (rc)
            return rc;
        for (j = 0; j < n; j++)
            d->gfn_flags[nom[j]] &= ~XENSHAPE__GFN_NOMINATED;
    }

    rc = domain_info(ctx, domid, &info);
    /* Not knowing is no reason to disable paging: stay attached, the
     * caller may try again.  A domain that is gone has nothing paged. */
    if (rc && rc != XENSHAPE_ESRCH)
        return rc;
    if (!rc && info.paged_pages) {
        XSLOG(ctx->lg, WARN, -1, "domain %u: hypervisor still reports %llu "
              "paged frames", domid, (unsigned long long)info.paged_pages);
        return XENSHAPE_EBUSY;
    }

    unlist(ctx, d);

    /*
     * A frame nominated and never evicted comes back only when the guest
     * touches it, and with paging disabled that touch would crash the
     * domain.  Our own leftovers were rescued above, a dead pager's at
     * re-attach (from its intent record); only if that failed does paging
     * stay enabled (and the port file, for the next pager).
     */
    if (!d->unclean) {
        r = xenshape__hv_paging_disable(ctx->hv, domid);
        if (r < 0)
            XSLOG(ctx->lg, WARN, -r, "domain %u: disable paging", domid);
        else
            xenshape__state_port_forget(ctx, domid);
    }
    if (d->paused_by_pager)
        xenshape__hv_unpause(ctx->hv, domid);
    dom_free(ctx, d);
    return 0;
}

int xenshape_store_stats(xenshape_ctx *ctx, xenshape_storestats *st_r)
{
    if (!ctx || !ctx->opened || !st_r)
        return XENSHAPE_EINVAL;
    return xenshape__store_stats(ctx->store, st_r);
}
