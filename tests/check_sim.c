/*
 * check_sim.c - the simulated host against Xen 4.17's paging semantics:
 * the error codes of every hypercall, the p2m state machine and its
 * counters, the vm_event ring (8 slots, EVICT_FAIL, foreign requests,
 * dropped responses, one response per request), toolstack pause,
 * mem_access n2rwx and log-dirty observation, the content check, repair
 * after a lock holder dies (EOWNERDEAD), and the control socket.
 *
 * The tests drive the hypercalls through xenshape__hv_sim_ops directly
 * and play the pager themselves with Xen's BACK_RING macros; guest
 * accesses come from xenshape__sim_dom_touch() in helper threads, with
 * the domains' own vCPUs idle.  Internal headers are used to look at p2m
 * types and to open the window of a dying domain.
 */

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "private.h"
#include "hv/hv.h"
#include "sim/sim.h"
#include "sim/sim_host.h"

#define HOST_FRAMES 32768

static const struct xenshape__hv_ops *const ops = &xenshape__hv_sim_ops;
static xenshape__sim_host *host;
static xenshape__hv *hv;
static char dir[256];

static void setup(void)
{
    xenshape__hv_params p = { .sim_host = NULL };

    ck_assert_int_eq(xenshape__sim_host_new(&host, HOST_FRAMES), 0);
    p.sim_host = host;
    ck_assert_int_eq(ops->open(&hv, &p, tu_logger()), 0);
    dir[0] = '\0';
}

static void teardown(void)
{
    ops->close(hv);
    hv = NULL;
    xenshape__sim_host_free(host);
    host = NULL;
    if (dir[0])
        tu_rmtree(dir);
}

/* ---- helpers --------------------------------------------------------------- */

static uint32_t mkdom(uint64_t frames, unsigned vcpus, const char *wl)
{
    xenshape__sim_dom_params p;
    uint32_t domid = 0;

    memset(&p, 0, sizeof(p));
    p.name = "t";
    p.frames = frames;
    p.vcpus = vcpus;
    p.workload = wl;
    p.seed = 7;
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), 0);
    return domid;
}

static struct xenshape__sim_dom *dom(uint32_t domid)
{
    struct xenshape__sim_dom *d = xenshape__sim_dom_get(host, domid);

    ck_assert_ptr_nonnull(d);
    xenshape__sim_dom_put(d);
    return d;
}

static uint32_t pword(uint32_t domid, uint64_t gfn)
{
    return atomic_load(&dom(domid)->v.p2m[gfn]);
}

static unsigned ptype(uint32_t domid, uint64_t gfn)
{
    return xenshape__sim_p2m_type(pword(domid, gfn));
}

static xenshape__sim_dom_stats stats(uint32_t domid)
{
    xenshape__sim_dom_stats st;

    ck_assert_int_eq(xenshape__sim_dom_stats(host, domid, &st), 0);
    return st;
}

static uint64_t host_free(void)
{
    uint64_t total, fr;

    ck_assert_int_eq(ops->host_info(hv, &total, &fr), 0);
    ck_assert_uint_eq(total, HOST_FRAMES);
    return fr;
}

static void assert_verified(uint32_t domid, uint64_t checked, uint64_t paged)
{
    xenshape__sim_verify v;

    ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
    ck_assert_uint_eq(v.wrong, 0);
    ck_assert_uint_eq(v.checked, checked);
    ck_assert_uint_eq(v.paged, paged);
}

/* cond is evaluated until it holds (once more than needed: never). */
#define WAIT_UNTIL(cond, ms)                                    \
    ({                                                          \
        int waited_ = 0;                                        \
        bool ok_;                                               \
        while (!(ok_ = (cond)) && waited_ < (ms)) {             \
            tu_msleep(1);                                       \
            waited_++;                                          \
        }                                                       \
        ok_;                                                    \
    })

/* A minimal pager: Xen's back-ring macros on the ring page. */
struct tpager {
    xenshape__hv_dom *d;
    vm_event_back_ring_t back;
    uint32_t domid, port;
};

static void attach(struct tpager *tp, uint32_t domid)
{
    vm_event_sring_t *sring;

    memset(tp, 0, sizeof(*tp));
    tp->domid = domid;
    ck_assert_int_eq(ops->paging_enable(hv, domid, &tp->d, &tp->port), 0);
    ck_assert_ptr_nonnull(tp->d);
    ck_assert_uint_ge(tp->port, 1);
    sring = ops->ring_page(tp->d);
    /* Enable initialised the shared ring while nothing could queue. */
    ck_assert_uint_eq(sring->req_prod, 0);
    ck_assert_uint_eq(sring->rsp_prod, 0);
    BACK_RING_INIT(&tp->back, sring, XENSHAPE__RING_PAGE_SIZE);
}

static void detach(struct tpager *tp)
{
    ops->ring_close(tp->d);
    tp->d = NULL;
}

static bool get_req(struct tpager *tp, vm_event_request_t *req)
{
    if (!RING_HAS_UNCONSUMED_REQUESTS(&tp->back))
        return false;
    RING_COPY_REQUEST(&tp->back, tp->back.req_cons, req);
    tp->back.req_cons++;
    return true;
}

static bool wait_req(struct tpager *tp, vm_event_request_t *req, int ms)
{
    return WAIT_UNTIL(get_req(tp, req), ms);
}

static void respond_v(struct tpager *tp, const vm_event_request_t *req,
                      uint32_t version, uint32_t vcpu_id)
{
    vm_event_response_t rsp;

    memset(&rsp, 0, sizeof(rsp));
    rsp.version = version;
    rsp.vcpu_id = vcpu_id;
    rsp.reason = req->reason;
    rsp.flags = req->flags & VM_EVENT_FLAG_VCPU_PAUSED;
    rsp.u.mem_paging.gfn = req->u.mem_paging.gfn;
    rsp.u.mem_paging.flags = req->u.mem_paging.flags;
    memcpy(RING_GET_RESPONSE(&tp->back, tp->back.rsp_prod_pvt), &rsp,
           sizeof(rsp));
    tp->back.rsp_prod_pvt++;
    RING_PUSH_RESPONSES(&tp->back);
    ck_assert_int_eq(ops->evtchn_notify(tp->d), 0);
}

static void respond(struct tpager *tp, const vm_event_request_t *req)
{
    respond_v(tp, req, VM_EVENT_INTERFACE_VERSION, req->vcpu_id);
}

/* nominate, copy out through a foreign mapping, unmap, evict. */
static void evict_gfn(uint32_t domid, uint64_t gfn, void *copy)
{
    int err = -1;
    void *m;

    ck_assert_int_eq(ops->nominate(hv, domid, gfn), 0);
    m = ops->map(hv, domid, PROT_READ, &gfn, 1, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(err, 0);
    memcpy(copy, m, XENSHAPE_PAGE_SIZE);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert_int_eq(ops->evict(hv, domid, gfn), 0);
}

/* A guest access from a helper thread, which blocks as the vCPU would. */
struct toucher {
    pthread_t th;
    uint32_t domid;
    unsigned vcpu;
    uint64_t gfn;
    bool write;
    _Atomic int done;
    int r;
};

static void *touch_main(void *arg)
{
    struct toucher *t = arg;

    t->r = xenshape__sim_dom_touch(host, t->domid, t->vcpu, t->gfn, t->write);
    atomic_store(&t->done, 1);
    return NULL;
}

static void touch_start(struct toucher *t, uint32_t domid, unsigned vcpu,
                        uint64_t gfn, bool write)
{
    memset(t, 0, sizeof(*t));
    t->domid = domid;
    t->vcpu = vcpu;
    t->gfn = gfn;
    t->write = write;
    ck_assert_int_eq(pthread_create(&t->th, NULL, touch_main, t), 0);
}

static int touch_join(struct toucher *t)
{
    pthread_join(t->th, NULL);
    return t->r;
}

/* ---- memops: error codes ------------------------------------------------------ */

START_TEST(memop_errors)
{
    uint32_t domid = mkdom(64, 1, "idle");
    uint8_t buf[XENSHAPE_PAGE_SIZE];
    struct tpager tp;
    uint64_t g = 3;
    int err;
    void *m;

    /* No such domain. */
    ck_assert_int_eq(ops->nominate(hv, 999, 0), -ESRCH);
    ck_assert_int_eq(ops->evict(hv, 999, 0), -ESRCH);
    ck_assert_int_eq(ops->load(hv, 999, 0, buf), -ESRCH);
    /* Paging not enabled. */
    ck_assert_int_eq(ops->nominate(hv, domid, 0), -ENODEV);
    ck_assert_int_eq(ops->evict(hv, domid, 0), -ENODEV);
    ck_assert_int_eq(ops->load(hv, domid, 0, buf), -ENODEV);

    attach(&tp, domid);
    /* Beyond the domain. */
    ck_assert_int_eq(ops->nominate(hv, domid, 64), -EINVAL);
    ck_assert_int_eq(ops->evict(hv, domid, 64), -EINVAL);
    ck_assert_int_eq(ops->load(hv, domid, 64, buf), -EINVAL);
    /* Evict needs a nominated frame, load a paged one. */
    ck_assert_int_eq(ops->evict(hv, domid, 1), -EBUSY);
    ck_assert_int_eq(ops->load(hv, domid, 1, buf), -ENOENT);
    ck_assert_int_eq(ops->load(hv, domid, 1, NULL), -ENOENT);
    /* Nominate only rw frames. */
    ck_assert_int_eq(ops->nominate(hv, domid, 2), 0);
    ck_assert_int_eq(ops->nominate(hv, domid, 2), -EBUSY);
    ck_assert_int_eq(ops->load(hv, domid, 2, buf), -ENOENT);
    /* A foreign mapping pins the page: no nominate, no evict. */
    m = ops->map(hv, domid, PROT_READ, &g, 1, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(ops->nominate(hv, domid, g), -EBUSY);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert_int_eq(ops->unmap(hv, m, 1), -EINVAL);
    ck_assert_int_eq(ops->nominate(hv, domid, g), 0);
    m = ops->map(hv, domid, PROT_READ, &g, 1, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(ops->evict(hv, domid, g), -EBUSY);
    memcpy(buf, m, sizeof(buf));
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert_int_eq(ops->evict(hv, domid, g), 0);
    ck_assert_int_eq(ops->evict(hv, domid, g), -EBUSY);
    ck_assert_int_eq(ops->nominate(hv, domid, g), -EBUSY);
    /* A paged frame has no page: prep needs the data. */
    ck_assert_int_eq(ops->load(hv, domid, g, NULL), -EINVAL);
    ck_assert_int_eq(ops->load(hv, domid, g, buf), 0);
    ck_assert_int_eq(ops->load(hv, domid, g, buf), -ENOENT);

    /* A dying domain: memops fail with EINVAL, enable and disable are
     * silently ignored (Xen's vm_event_domctl). */
    atomic_store(&dom(domid)->v.ctl->dying, 1);
    ck_assert_int_eq(ops->nominate(hv, domid, 5), -EINVAL);
    ck_assert_int_eq(ops->evict(hv, domid, 5), -EINVAL);
    ck_assert_int_eq(ops->load(hv, domid, 5, buf), -EINVAL);
    {
        xenshape__hv_dom *d2 = (void *)1;
        uint32_t port = 99;

        ck_assert_int_eq(ops->paging_enable(hv, domid, &d2, &port), 0);
        ck_assert_ptr_null(d2);
        ck_assert_uint_eq(port, 0);
        ck_assert_int_eq(ops->paging_disable(hv, domid), 0);
    }
    atomic_store(&dom(domid)->v.ctl->dying, 0);
    detach(&tp);
}
END_TEST

START_TEST(load_enomem)
{
    /* Two domains fill the host; the second leaves no frame free. */
    uint32_t a = mkdom(256, 1, "idle"), b;
    uint8_t buf[XENSHAPE_PAGE_SIZE];
    struct tpager tp;

    b = mkdom(HOST_FRAMES - 256, 1, "idle");
    ck_assert_uint_eq(host_free(), 0);
    attach(&tp, a);
    evict_gfn(a, 9, buf);
    ck_assert_uint_eq(host_free(), 1);
    /* Somebody takes the last frame: page-ins now fail with ENOMEM. */
    ck_assert_int_eq(xenshape__sim_dom_balloon(host, b, 0, 0), 0);
    ck_assert_uint_eq(host_free(), 2);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, b, 0, 0, false), 0);
    ck_assert_uint_eq(host_free(), 1);
    {
        xenshape__sim_dom_params p = { .name = "x", .frames = 1,
                                       .vcpus = 1, .workload = "idle" };
        uint32_t c;

        ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &c), 0);
        ck_assert_uint_eq(host_free(), 0);
        ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &c), -ENOMEM);
    }
    ck_assert_int_eq(ops->load(hv, a, 9, buf), -ENOMEM);
    ck_assert_uint_eq(stats(a).paged_pages, 1);
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, b), 0);
    ck_assert_int_eq(ops->load(hv, a, 9, buf), 0);
    assert_verified(a, 256, 0);
    detach(&tp);
}
END_TEST

/* ---- the state machine and its counters ------------------------------------- */

START_TEST(transitions_and_counters)
{
    uint64_t frames = 128, free0;
    uint32_t domid = mkdom(frames, 1, "idle");
    uint8_t buf[XENSHAPE_PAGE_SIZE];
    xenshape__hv_dominfo info[4];
    xenshape__sim_dom_stats st;
    struct tpager tp;

    free0 = host_free();
    ck_assert_uint_eq(free0, HOST_FRAMES - frames);
    attach(&tp, domid);
    ck_assert_uint_eq(ptype(domid, 10), XENSHAPE__SIM_T_RW);
    ck_assert_int_eq(ops->nominate(hv, domid, 10), 0);
    ck_assert_uint_eq(ptype(domid, 10), XENSHAPE__SIM_T_PAGING_OUT);
    /* Nominated frames keep their page: counters unchanged. */
    ck_assert_uint_eq(stats(domid).tot_pages, frames);
    ck_assert_int_eq(ops->evict(hv, domid, 10), 0);
    ck_assert_uint_eq(ptype(domid, 10), XENSHAPE__SIM_T_PAGED);
    st = stats(domid);
    ck_assert_uint_eq(st.tot_pages, frames - 1);
    ck_assert_uint_eq(st.paged_pages, 1);
    ck_assert_uint_eq(host_free(), free0 + 1);
    assert_verified(domid, frames - 1, 1);

    /* domain_list reports what Xen's getdomaininfolist would. */
    ck_assert_int_eq(ops->domain_list(hv, info, 4), 1);
    ck_assert_uint_eq(info[0].domid, domid);
    ck_assert_uint_eq(info[0].tot_pages, frames - 1);
    ck_assert_uint_eq(info[0].paged_pages, 1);
    ck_assert_uint_eq(info[0].max_pages, frames);
    ck_assert_uint_eq(info[0].max_gpfn, frames);
    ck_assert_uint_eq(info[0].nr_vcpus, 1);
    ck_assert(info[0].hap);
    ck_assert(!info[0].paused && !info[0].dying && !info[0].crashed);
    ck_assert_int_eq(ops->domain_list(hv, info, 0), 0);

    /* Evict and load 20 more; the copies come back byte for byte. */
    {
        static uint8_t copies[20][XENSHAPE_PAGE_SIZE];
        unsigned i;

        for (i = 0; i < 20; i++)
            evict_gfn(domid, 40 + i, copies[i]);
        ck_assert_uint_eq(stats(domid).paged_pages, 21);
        ck_assert_uint_eq(host_free(), free0 + 21);
        for (i = 0; i < 20; i++)
            ck_assert_int_eq(ops->load(hv, domid, 40 + i, copies[i]), 0);
    }
    memset(buf, 0x5a, sizeof(buf));
    /* Loading wrong data is the pager's bug; the host notices. */
    ck_assert_int_eq(ops->load(hv, domid, 10, buf), 0);
    ck_assert_uint_eq(ptype(domid, 10), XENSHAPE__SIM_T_RW);
    st = stats(domid);
    ck_assert_uint_eq(st.tot_pages, frames);
    ck_assert_uint_eq(st.paged_pages, 0);
    ck_assert_uint_eq(host_free(), free0);
    {
        xenshape__sim_verify v;

        ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
        ck_assert_uint_eq(v.checked, frames);
        ck_assert_uint_eq(v.wrong, 1);
    }
    detach(&tp);
}
END_TEST

/* A guest touch of a nominated frame: EVICT_FAIL, evict refused. */
START_TEST(evict_fail_on_guest_touch)
{
    uint32_t domid = mkdom(64, 2, "idle");
    uint8_t junk[XENSHAPE_PAGE_SIZE];
    vm_event_request_t req;
    struct toucher t;
    struct tpager tp;

    attach(&tp, domid);
    ck_assert_int_eq(ops->nominate(hv, domid, 7), 0);
    touch_start(&t, domid, 1, 7, true);
    ck_assert(wait_req(&tp, &req, 2000));
    ck_assert_uint_eq(req.version, VM_EVENT_INTERFACE_VERSION);
    ck_assert_uint_eq(req.reason, VM_EVENT_REASON_MEM_PAGING);
    ck_assert_uint_eq(req.flags, VM_EVENT_FLAG_VCPU_PAUSED);
    ck_assert_uint_eq(req.vcpu_id, 1);
    ck_assert_uint_eq(req.u.mem_paging.gfn, 7);
    ck_assert_uint_eq(req.u.mem_paging.p2mt, 9);    /* p2m_ram_paging_out */
    ck_assert_uint_eq(req.u.mem_paging.flags, MEM_PAGING_EVICT_FAIL);
    ck_assert_uint_eq(ptype(domid, 7), XENSHAPE__SIM_T_PAGING_IN);
    ck_assert(pword(domid, 7) & XENSHAPE__SIM_P2M_HAS_MFN);
    ck_assert_int_eq(ops->evict(hv, domid, 7), -EBUSY);
    ck_assert_uint_eq(stats(domid).blocked_vcpus, 1);
    tu_msleep(20);
    ck_assert(!atomic_load(&t.done));
    /* The page is still there, the pager's buffer is ignored. */
    memset(junk, 0xee, sizeof(junk));
    ck_assert_int_eq(ops->load(hv, domid, 7, junk), 0);
    ck_assert_uint_eq(ptype(domid, 7), XENSHAPE__SIM_T_RW);
    /* Still paused until the response. */
    tu_msleep(20);
    ck_assert(!atomic_load(&t.done));
    respond(&tp, &req);
    ck_assert_int_eq(touch_join(&t), 0);
    ck_assert_uint_eq(stats(domid).evict_fail, 1);
    ck_assert_uint_eq(stats(domid).tot_pages, 64);
    assert_verified(domid, 64, 0);
    detach(&tp);
}
END_TEST

/* The response promotes paging_in-with-page only for a paused vCPU: a
 * response naming another vCPU (the foreign EVICT_FAIL hazard) does not;
 * prep without a buffer is the mitigation. */
START_TEST(response_for_unpaused_vcpu_does_nothing)
{
    uint32_t domid = mkdom(64, 2, "idle");
    vm_event_request_t req;
    struct toucher t;
    struct tpager tp;

    attach(&tp, domid);
    ck_assert_int_eq(ops->nominate(hv, domid, 4), 0);
    touch_start(&t, domid, 1, 4, false);
    ck_assert(wait_req(&tp, &req, 2000));
    respond_v(&tp, &req, VM_EVENT_INTERFACE_VERSION, 0);
    ck_assert_uint_eq(ptype(domid, 4), XENSHAPE__SIM_T_PAGING_IN);
    tu_msleep(20);
    ck_assert(!atomic_load(&t.done));
    ck_assert_uint_eq(stats(domid).ring_free, 8);
    ck_assert_int_eq(ops->load(hv, domid, 4, NULL), 0);
    ck_assert_uint_eq(ptype(domid, 4), XENSHAPE__SIM_T_RW);
    tu_msleep(20);
    ck_assert(!atomic_load(&t.done));
    respond(&tp, &req);
    ck_assert_int_eq(touch_join(&t), 0);
    detach(&tp);
}
END_TEST

/* ---- foreign mapping --------------------------------------------------------- */

START_TEST(foreign_map_of_paged_frame)
{
    uint32_t domid = mkdom(64, 1, "idle");
    uint8_t copy[XENSHAPE_PAGE_SIZE];
    uint64_t gfns[3] = { 20, 21, 63 }, bad = 64;
    vm_event_request_t req;
    struct tpager tp;
    int err[3];
    uint8_t *m;

    attach(&tp, domid);
    evict_gfn(domid, 21, copy);
    m = ops->map(hv, domid, PROT_READ, gfns, 3, err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(err[0], 0);
    ck_assert_int_eq(err[1], -ENOENT);
    ck_assert_int_eq(err[2], 0);
    ck_assert(xenshape__sim_frame_ok(m, xenshape__sim_expected_key(dom(domid),
                                                                   20)));
    ck_assert(xenshape__sim_frame_ok(m + 2 * XENSHAPE_PAGE_SIZE,
                                     xenshape__sim_expected_key(dom(domid),
                                                                63)));
    ck_assert_int_eq(ops->unmap(hv, m, 3), 0);
    /* The populate side effect: a foreign request, nobody paused. */
    ck_assert(get_req(&tp, &req));
    ck_assert_uint_eq(req.flags, VM_EVENT_FLAG_FOREIGN);
    ck_assert_uint_eq(req.vcpu_id, 0);
    ck_assert_uint_eq(req.u.mem_paging.gfn, 21);
    ck_assert_uint_eq(req.u.mem_paging.p2mt, 10);   /* p2m_ram_paged */
    ck_assert_uint_eq(req.u.mem_paging.flags, 0);
    ck_assert_uint_eq(ptype(domid, 21), XENSHAPE__SIM_T_PAGING_IN);
    ck_assert_uint_eq(stats(domid).foreign_requests, 1);
    /* paging_in without a page: ENOENT again, and no second request. */
    m = ops->map(hv, domid, PROT_READ, &gfns[1], 1, err);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(err[0], -ENOENT);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert(!get_req(&tp, &req));
    /* Without err[], any failure fails the call. */
    ck_assert_ptr_null(ops->map(hv, domid, PROT_READ, &gfns[1], 1, NULL));
    ck_assert_int_eq(errno, ENOENT);
    m = ops->map(hv, domid, PROT_READ, &bad, 1, err);
    ck_assert_int_eq(err[0], -EINVAL);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert_ptr_null(ops->map(hv, 999, PROT_READ, gfns, 1, err));
    ck_assert_int_eq(errno, ESRCH);
    /* Prep accepts paging_in; then the mapping works. */
    ck_assert_int_eq(ops->load(hv, domid, 21, copy), 0);
    m = ops->map(hv, domid, PROT_READ, &gfns[1], 1, err);
    ck_assert_int_eq(err[0], 0);
    ck_assert_int_eq(memcmp(m, copy, XENSHAPE_PAGE_SIZE), 0);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    respond(&tp, &req);
    ck_assert_uint_eq(stats(domid).ring_free, 8);
    assert_verified(domid, 64, 0);
    detach(&tp);
}
END_TEST

START_TEST(foreign_map_with_full_ring_or_no_ring)
{
    static uint8_t copies[64][XENSHAPE_PAGE_SIZE];
    uint32_t domid = mkdom(64, 8, "idle");
    struct toucher t[8];
    struct tpager tp;
    uint64_t g = 30;
    unsigned i;
    int err;
    void *m;

    attach(&tp, domid);
    for (i = 0; i < 8; i++)
        evict_gfn(domid, i, copies[i]);
    evict_gfn(domid, g, copies[g]);
    for (i = 0; i < 8; i++)
        touch_start(&t[i], domid, i, i, false);
    ck_assert(WAIT_UNTIL(stats(domid).requests == 8, 2000));
    ck_assert_uint_eq(stats(domid).ring_free, 0);
    /* A foreign populate with no slot sends nothing and changes nothing. */
    m = ops->map(hv, domid, PROT_READ, &g, 1, &err);
    ck_assert_int_eq(err, -ENOENT);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert_uint_eq(ptype(domid, g), XENSHAPE__SIM_T_PAGED);
    ck_assert_uint_eq(stats(domid).foreign_ring_full, 1);
    ck_assert_uint_eq(stats(domid).requests, 8);
    /* Serve everything. */
    for (i = 0; i < 8; i++) {
        vm_event_request_t req;

        ck_assert(get_req(&tp, &req));
        ck_assert_int_eq(ops->load(hv, domid, req.u.mem_paging.gfn,
                                   copies[req.u.mem_paging.gfn]), 0);
        respond(&tp, &req);
    }
    for (i = 0; i < 8; i++)
        ck_assert_int_eq(touch_join(&t[i]), 0);

    /* With paging disabled, touching a paged frame crashes the domain,
     * even from a foreign mapper. */
    detach(&tp);
    ck_assert_int_eq(ops->paging_disable(hv, domid), 0);
    m = ops->map(hv, domid, PROT_READ, &g, 1, &err);
    ck_assert_int_eq(err, -ENOENT);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert(stats(domid).crashed);
}
END_TEST

/* ---- the ring ------------------------------------------------------------------ */

START_TEST(ring_has_eight_slots)
{
    static uint8_t copies[64][XENSHAPE_PAGE_SIZE];
    uint32_t domid = mkdom(64, 9, "idle");
    vm_event_request_t req;
    struct toucher t[9];
    struct tpager tp;
    unsigned i, served = 0;

    attach(&tp, domid);
    ck_assert_uint_eq(RING_SIZE(&tp.back), 8);
    for (i = 0; i < 9; i++)
        evict_gfn(domid, 10 + i, copies[10 + i]);
    for (i = 0; i < 9; i++)
        touch_start(&t[i], domid, i, 10 + i, false);
    ck_assert(WAIT_UNTIL(stats(domid).ring_waiters == 1, 3000));
    ck_assert_uint_eq(stats(domid).requests, 8);
    ck_assert_uint_eq(stats(domid).ring_free, 0);
    ck_assert_uint_eq(tp.back.sring->req_prod, 8);
    /* Disable refuses while a vCPU waits for a slot. */
    ck_assert_int_eq(ops->paging_disable(hv, domid), -EBUSY);
    tu_msleep(20);
    ck_assert_uint_eq(stats(domid).requests, 8);
    /* One response frees one slot: the ninth request goes in. */
    ck_assert(get_req(&tp, &req));
    ck_assert_int_eq(ops->load(hv, domid, req.u.mem_paging.gfn,
                               copies[req.u.mem_paging.gfn]), 0);
    respond(&tp, &req);
    served++;
    ck_assert(WAIT_UNTIL(stats(domid).requests == 9, 2000));
    ck_assert_uint_eq(stats(domid).ring_waiters, 0);
    ck_assert_uint_eq(stats(domid).ring_waits, 1);
    while (served < 9) {
        ck_assert(wait_req(&tp, &req, 2000));
        ck_assert_int_eq(ops->load(hv, domid, req.u.mem_paging.gfn,
                                   copies[req.u.mem_paging.gfn]), 0);
        respond(&tp, &req);
        served++;
    }
    for (i = 0; i < 9; i++)
        ck_assert_int_eq(touch_join(&t[i]), 0);
    ck_assert_uint_eq(stats(domid).ring_free, 8);
    ck_assert_uint_eq(stats(domid).responses, 9);
    assert_verified(domid, 64, 0);
    detach(&tp);
}
END_TEST

START_TEST(bad_version_is_dropped)
{
    uint32_t domid = mkdom(64, 1, "idle");
    uint8_t copy[XENSHAPE_PAGE_SIZE];
    vm_event_request_t req;
    xenshape__sim_dom_stats st;
    struct toucher t;
    struct tpager tp;

    attach(&tp, domid);
    evict_gfn(domid, 5, copy);
    touch_start(&t, domid, 0, 5, false);
    ck_assert(wait_req(&tp, &req, 2000));
    ck_assert_uint_eq(req.u.mem_paging.p2mt, 10);
    ck_assert_int_eq(ops->load(hv, domid, 5, copy), 0);
    /* xenpaging's uninitialised version: Xen drops the response. */
    respond_v(&tp, &req, VM_EVENT_INTERFACE_VERSION - 1, req.vcpu_id);
    st = stats(domid);
    ck_assert_uint_eq(st.version_mismatch, 1);
    ck_assert_uint_eq(st.ring_free, 8);      /* the slot is freed */
    ck_assert_uint_eq(st.blocked_vcpus, 1);  /* the vCPU is not */
    tu_msleep(30);
    ck_assert(!atomic_load(&t.done));
    respond(&tp, &req);
    ck_assert_int_eq(touch_join(&t), 0);
    ck_assert_uint_eq(stats(domid).blocked_vcpus, 0);
    detach(&tp);
}
END_TEST

/* A slot is freed only by a consumed response; one response each. */
START_TEST(one_response_per_request)
{
    uint32_t domid = mkdom(64, 1, "idle");
    uint8_t copy[XENSHAPE_PAGE_SIZE];
    vm_event_request_t drop, req;
    struct toucher t;
    struct tpager tp;

    attach(&tp, domid);
    evict_gfn(domid, 3, copy);
    evict_gfn(domid, 4, copy);
    /* The guest balloons out a paged frame: DROP_PAGE, nobody paused. */
    ck_assert_int_eq(xenshape__sim_dom_balloon(host, domid, 0, 3), 0);
    ck_assert(get_req(&tp, &drop));
    ck_assert_uint_eq(drop.u.mem_paging.flags, MEM_PAGING_DROP_PAGE);
    ck_assert_uint_eq(drop.flags, 0);
    ck_assert_uint_eq(stats(domid).ring_free, 7);
    /* A full cycle for another request leaves the unanswered slot lost. */
    touch_start(&t, domid, 0, 4, false);
    ck_assert(wait_req(&tp, &req, 2000));
    ck_assert_uint_eq(stats(domid).ring_free, 6);
    ck_assert_int_eq(ops->load(hv, domid, 4, copy), 0);
    respond(&tp, &req);
    ck_assert_int_eq(touch_join(&t), 0);
    ck_assert_uint_eq(stats(domid).ring_free, 7);
    respond(&tp, &drop);
    ck_assert_uint_eq(stats(domid).ring_free, 8);
    /* Answering twice is believed too: Xen counts 9 free slots. */
    respond(&tp, &drop);
    ck_assert_uint_eq(stats(domid).ring_free, 9);
    detach(&tp);
}
END_TEST

/* ---- enable, reattach, disable --------------------------------------------------- */

START_TEST(enable_reattach_disable)
{
    uint32_t domid = mkdom(64, 1, "idle"), port2 = 0, old_port;
    xenshape__hv_dom *d2 = NULL;
    uint8_t copy[XENSHAPE_PAGE_SIZE];
    vm_event_request_t req;
    struct toucher t;
    struct tpager tp;

    ck_assert_int_eq(ops->paging_enable(hv, 999, &d2, &port2), -ESRCH);
    ck_assert_int_eq(ops->paging_disable(hv, domid), -EINVAL);
    attach(&tp, domid);
    ck_assert_int_eq(ops->paging_enable(hv, domid, &d2, &port2), -EBUSY);
    /* The port is bound while the pager lives. */
    ck_assert_int_eq(ops->paging_reattach(hv, domid, tp.port, &d2), -EINVAL);
    ck_assert_int_eq(ops->paging_reattach(hv, domid, tp.port + 1, &d2),
                     -EINVAL);
    evict_gfn(domid, 8, copy);
    touch_start(&t, domid, 0, 8, false);
    ck_assert(wait_req(&tp, &req, 2000));
    /* The pager goes away without disabling: a new one re-attaches to
     * the same ring and finds the request still there. */
    detach(&tp);
    ck_assert_int_eq(ops->paging_enable(hv, domid, &d2, &port2), -EBUSY);
    ck_assert_int_eq(ops->paging_reattach(hv, domid, tp.port, &tp.d), 0);
    ck_assert_ptr_eq(ops->ring_page(tp.d), tp.back.sring);
    BACK_RING_ATTACH(&tp.back, ops->ring_page(tp.d),
                     tp.back.sring->rsp_prod, XENSHAPE__RING_PAGE_SIZE);
    ck_assert(get_req(&tp, &req));
    ck_assert_uint_eq(req.u.mem_paging.gfn, 8);
    ck_assert_int_eq(ops->evtchn_ack(tp.d), 0);
    ck_assert_int_ge(ops->evtchn_fd(tp.d), 0);
    ck_assert_int_eq(ops->load(hv, domid, 8, copy), 0);
    respond(&tp, &req);
    ck_assert_int_eq(touch_join(&t), 0);

    /* Disable with a request queued: it is thrown away, its vCPU stays
     * paused (what real Xen does). */
    evict_gfn(domid, 9, copy);
    touch_start(&t, domid, 0, 9, false);
    ck_assert(wait_req(&tp, &req, 2000));
    detach(&tp);
    ck_assert_int_eq(ops->paging_disable(hv, domid), 0);
    ck_assert_int_eq(ops->paging_disable(hv, domid), -EINVAL);
    ck_assert_int_eq(ops->paging_reattach(hv, domid, tp.port, &d2), -EINVAL);
    ck_assert_int_eq(ops->nominate(hv, domid, 1), -ENODEV);
    ck_assert_uint_eq(stats(domid).blocked_vcpus, 1);
    tu_msleep(20);
    ck_assert(!atomic_load(&t.done));
    /* Re-enable (new port), then the recovery that works: page in and
     * answer for the paused vCPU. */
    old_port = tp.port;
    attach(&tp, domid);
    ck_assert_uint_ne(tp.port, old_port);
    ck_assert_int_eq(ops->load(hv, domid, 9, copy), 0);
    req.vcpu_id = 0;
    req.flags = VM_EVENT_FLAG_VCPU_PAUSED;
    respond(&tp, &req);
    ck_assert_int_eq(touch_join(&t), 0);
    ck_assert(!stats(domid).crashed);

    /* No ring and a paged frame: the guest's touch crashes the domain. */
    evict_gfn(domid, 11, copy);
    detach(&tp);
    ck_assert_int_eq(ops->paging_disable(hv, domid), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 11, false),
                     -ECANCELED);
    ck_assert(stats(domid).crashed);
    ck_assert_int_eq(ops->domain_list(hv, &(xenshape__hv_dominfo){0}, 1), 1);
}
END_TEST

/* ---- guest-side behaviour ---------------------------------------------------------- */

START_TEST(paging_in_touch_is_spurious)
{
    uint32_t domid = mkdom(64, 1, "idle");
    uint8_t copy[XENSHAPE_PAGE_SIZE];
    vm_event_request_t req;
    struct toucher t;
    struct tpager tp;
    uint64_t g = 12;
    int err;
    void *m;

    attach(&tp, domid);
    evict_gfn(domid, g, copy);
    m = ops->map(hv, domid, PROT_READ, &g, 1, &err);
    ck_assert_int_eq(err, -ENOENT);
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    ck_assert(get_req(&tp, &req));
    /* The guest touches the paging_in frame: no request, it spins. */
    touch_start(&t, domid, 0, g, false);
    ck_assert(WAIT_UNTIL(stats(domid).spurious_faults > 0, 2000));
    tu_msleep(20);
    ck_assert(!atomic_load(&t.done));
    ck_assert_uint_eq(stats(domid).requests, 1);
    ck_assert_uint_eq(stats(domid).blocked_vcpus, 0);
    ck_assert_int_eq(ops->load(hv, domid, g, copy), 0);
    ck_assert_int_eq(touch_join(&t), 0);
    respond(&tp, &req);
    detach(&tp);
}
END_TEST

START_TEST(balloon_and_drop_page)
{
    uint32_t domid = mkdom(64, 2, "idle");
    uint8_t copy[XENSHAPE_PAGE_SIZE];
    vm_event_request_t req;
    struct tpager tp;

    attach(&tp, domid);
    /* rw: the page goes, no request. */
    ck_assert_int_eq(xenshape__sim_dom_balloon(host, domid, 0, 1), 0);
    ck_assert_uint_eq(ptype(domid, 1), XENSHAPE__SIM_T_UNPOP);
    ck_assert_uint_eq(stats(domid).tot_pages, 63);
    ck_assert(!get_req(&tp, &req));
    ck_assert_int_eq(xenshape__sim_dom_balloon(host, domid, 0, 1), -ENOENT);
    ck_assert_int_eq(ops->nominate(hv, domid, 1), -EBUSY);
    ck_assert_int_eq(ops->load(hv, domid, 1, copy), -ENOENT);
    /* nominated: the page goes, DROP_PAGE|EVICT_FAIL. */
    ck_assert_int_eq(ops->nominate(hv, domid, 2), 0);
    ck_assert_int_eq(xenshape__sim_dom_balloon(host, domid, 1, 2), 0);
    ck_assert(get_req(&tp, &req));
    ck_assert_uint_eq(req.u.mem_paging.flags,
                      MEM_PAGING_DROP_PAGE | MEM_PAGING_EVICT_FAIL);
    ck_assert_uint_eq(req.vcpu_id, 1);
    ck_assert_uint_eq(stats(domid).tot_pages, 62);
    ck_assert_int_eq(ops->evict(hv, domid, 2), -EBUSY);
    respond(&tp, &req);
    /* paged: paged_pages drops, DROP_PAGE. */
    evict_gfn(domid, 3, copy);
    ck_assert_uint_eq(stats(domid).paged_pages, 1);
    ck_assert_int_eq(xenshape__sim_dom_balloon(host, domid, 0, 3), 0);
    ck_assert(get_req(&tp, &req));
    ck_assert_uint_eq(req.u.mem_paging.flags, MEM_PAGING_DROP_PAGE);
    ck_assert_uint_eq(stats(domid).paged_pages, 0);
    ck_assert_uint_eq(stats(domid).tot_pages, 61);
    respond(&tp, &req);
    ck_assert_uint_eq(stats(domid).drop_requests, 2);
    /* Touching a ballooned gfn repopulates it zeroed (balloon-in). */
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 3, false), 0);
    ck_assert_uint_eq(xenshape__sim_expected_key(dom(domid), 3), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 2, true), 0);
    ck_assert_uint_eq(stats(domid).tot_pages, 63);
    ck_assert_uint_eq(stats(domid).wrong_reads, 0);
    /* verify skips the one unpopulated gfn. */
    assert_verified(domid, 63, 0);
    detach(&tp);
}
END_TEST

START_TEST(content_check_catches_corruption)
{
    uint32_t domid = mkdom(64, 1, "idle");
    uint64_t g = 17;
    uint8_t *m;
    int err;

    assert_verified(domid, 64, 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, g, false), 0);
    m = ops->map(hv, domid, PROT_READ | PROT_WRITE, &g, 1, &err);
    ck_assert_int_eq(err, 0);
    m[1234] ^= 0x01;
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    {
        xenshape__sim_verify v;

        ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
        ck_assert_uint_eq(v.checked, 64);
        ck_assert_uint_eq(v.wrong, 1);
    }
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, g, false),
                     -EFAULT);
    ck_assert_uint_eq(stats(domid).wrong_reads, 1);
    /* A guest write makes it right again. */
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, g, true), 0);
    assert_verified(domid, 64, 0);
}
END_TEST

/* Zero and duplicate frames exist, and writes make them unique. */
START_TEST(zero_and_dup_frames)
{
    uint32_t domid = mkdom(2048, 1, "idle,zero=0.25,dup=0.25");
    struct xenshape__sim_dom *d = dom(domid);
    unsigned zero = 0, g;
    uint64_t first_dup = 0, same = 0;

    for (g = 0; g < 2048; g++) {
        uint64_t k = xenshape__sim_expected_key(d, g);

        if (!k)
            zero++;
    }
    ck_assert_uint_gt(zero, 400);
    ck_assert_uint_lt(zero, 640);
    for (g = 0; g < 2048; g++) {
        uint64_t k = xenshape__sim_expected_key(d, g);
        unsigned h;

        for (h = g + 1; k && h < 2048 && h < g + 64; h++)
            if (xenshape__sim_expected_key(d, h) == k) {
                same++;
                first_dup = g;
            }
    }
    ck_assert_uint_gt(same, 10);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, first_dup, true),
                     0);
    ck_assert_uint_ne(xenshape__sim_expected_key(d, first_dup), 0);
    assert_verified(domid, 2048, 0);
}
END_TEST

/* ---- toolstack pause ------------------------------------------------------------------ */

START_TEST(pause_counting)
{
    uint32_t domid = mkdom(256, 2, "uniform,write=0.5");
    xenshape__hv_dominfo info;
    uint64_t t1, t2;
    unsigned i;

    ck_assert(WAIT_UNTIL(stats(domid).touches > 1000, 2000));
    ck_assert_int_eq(ops->pause(hv, domid), 0);
    ck_assert_uint_eq(xenshape__sim_running(&dom(domid)->v), 0);
    t1 = stats(domid).touches;
    tu_msleep(30);
    t2 = stats(domid).touches;
    ck_assert_uint_eq(t1, t2);
    ck_assert_int_eq(ops->domain_list(hv, &info, 1), 1);
    ck_assert(info.paused);
    for (i = 1; i < 255; i++)
        ck_assert_int_eq(ops->pause(hv, domid), 0);
    ck_assert_int_eq(ops->pause(hv, domid), -EOVERFLOW);
    ck_assert_uint_eq(stats(domid).pause_count, 255);
    for (i = 0; i < 255; i++)
        ck_assert_int_eq(ops->unpause(hv, domid), 0);
    ck_assert_int_eq(ops->unpause(hv, domid), -EINVAL);
    ck_assert(WAIT_UNTIL(stats(domid).touches > t2 + 1000, 2000));
    ck_assert_int_eq(ops->domain_list(hv, &info, 1), 1);
    ck_assert(!info.paused);
    ck_assert_int_eq(ops->pause(hv, 999), -ESRCH);
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    assert_verified(domid, 256, 0);
    ck_assert_uint_eq(stats(domid).wrong_reads, 0);
}
END_TEST

/* ---- access observation -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

START_TEST(n2rwx_first_touch)
{
    uint32_t domid = mkdom(64, 1, "idle");
    uint64_t arm[4] = { 1, 2, 3, 50 }, got[8], bad = 64;

    ck_assert_int_eq(ops->access_enable(hv, domid, XENSHAPE__HV_ACCESS_N2RWX),
                     XENSHAPE__HV_ACCESS_N2RWX);
    ck_assert_int_eq(ops->access_arm(hv, domid, arm, 4), 0);
    ck_assert_int_eq(ops->access_arm(hv, domid, &bad, 1), -EINVAL);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 2, false), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 3, true), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 3, false), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 2, true), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 9, true), 0);
    ck_assert_int_eq(ops->access_read(hv, domid, got, 8), 2);
    qsort(got, 2, sizeof(got[0]), cmp_u64);
    ck_assert_uint_eq(got[0], 2);
    ck_assert_uint_eq(got[1], 3);
    ck_assert_int_eq(ops->access_read(hv, domid, got, 8), 0);
    /* Once per arming: arm again, touch again. */
    ck_assert_int_eq(ops->access_arm(hv, domid, &arm[1], 1), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 2, false), 0);
    ck_assert_int_eq(ops->access_read(hv, domid, got, 1), 1);
    ck_assert_uint_eq(got[0], 2);
    ck_assert_uint_eq(stats(domid).access_events, 3);
    /* Disabled: armed bits go, no events. */
    ck_assert_int_eq(ops->access_disable(hv, domid), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 50, false), 0);
    ck_assert_int_eq(ops->access_read(hv, domid, got, 8), 0);
    assert_verified(domid, 64, 0);
}
END_TEST

START_TEST(n2rwx_queue_overflow_counts_drops)
{
    uint64_t frames = XENSHAPE__SIM_AQ_SIZE + 10, g, *gfns;
    uint32_t domid = mkdom(frames, 1, "idle,zero=1,dup=0");

    gfns = malloc(frames * sizeof(*gfns));
    ck_assert_ptr_nonnull(gfns);
    for (g = 0; g < frames; g++)
        gfns[g] = g;
    ck_assert_int_eq(ops->access_enable(hv, domid, XENSHAPE__HV_ACCESS_N2RWX),
                     XENSHAPE__HV_ACCESS_N2RWX);
    ck_assert_int_eq(ops->access_arm(hv, domid, gfns, frames), 0);
    for (g = 0; g < frames; g++)
        ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, g, false),
                         0);
    ck_assert_uint_eq(stats(domid).access_drops, 10);
    ck_assert_int_eq(ops->access_read(hv, domid, gfns, frames),
                     XENSHAPE__SIM_AQ_SIZE);
    ck_assert_uint_eq(gfns[0], 0);
    free(gfns);
}
END_TEST

START_TEST(logdirty_bitmap)
{
    uint32_t domid = mkdom(130, 1, "idle");
    uint64_t bm[4];

    ck_assert_int_eq(ops->dirty_read(hv, domid, bm, 130, false), -EINVAL);
    ck_assert_int_eq(ops->access_enable(hv, domid,
                                        XENSHAPE__HV_ACCESS_LOGDIRTY |
                                        XENSHAPE__HV_ACCESS_N2RWX),
                     XENSHAPE__HV_ACCESS_LOGDIRTY |
                     XENSHAPE__HV_ACCESS_N2RWX);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 5, true), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 70, true), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 129, true), 0);
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 6, false), 0);
    ck_assert_int_eq(ops->dirty_read(hv, domid, bm, 130, false), 0);
    ck_assert_uint_eq(bm[0], 1ull << 5);
    ck_assert_uint_eq(bm[1], 1ull << 6);
    ck_assert_uint_eq(bm[2], 1ull << 1);
    /* Clean only what was asked for. */
    ck_assert_int_eq(ops->dirty_read(hv, domid, bm, 64, true), 0);
    ck_assert_uint_eq(bm[0], 1ull << 5);
    ck_assert_int_eq(ops->dirty_read(hv, domid, bm, 130, true), 0);
    ck_assert_uint_eq(bm[0], 0);
    ck_assert_uint_eq(bm[1], 1ull << 6);
    ck_assert_uint_eq(bm[2], 1ull << 1);
    ck_assert_int_eq(ops->dirty_read(hv, domid, bm, 130, false), 0);
    ck_assert_uint_eq(bm[0] | bm[1] | bm[2], 0);
    /* Beyond the domain reads as clean. */
    bm[3] = ~0ull;
    ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, 64, true), 0);
    ck_assert_int_eq(ops->dirty_read(hv, domid, bm, 256, false), 0);
    ck_assert_uint_eq(bm[1], 1);
    ck_assert_uint_eq(bm[2], 0);
    ck_assert_uint_eq(bm[3], 0);
}
END_TEST

/* ---- a dead lock holder ------------------------------------------------------------ */

static void run_child(void (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (!pid) {
        fn(arg);
        tu_child_exit(3);   /* fn was expected to die first */
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    /* Dead at its crash point (SIGKILL), or done holding the lock. */
    ck_assert_msg((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                  (WIFEXITED(status) && WEXITSTATUS(status) == 0),
                  "child: status 0x%x", status);
}

static void child_hold_lock(void *arg)
{
    xenshape__sim_dom_hold_lock(host, *(uint32_t *)arg);
    tu_child_exit(0);
}

struct crash_op {
    uint32_t domid;
    uint64_t gfn;
    const char *point;
    const void *buf;
    xenshape__hv_dom *d;
};

static void child_evict(void *arg)
{
    struct crash_op *c = arg;

    xenshape__sim_set_crash_point(c->point);
    ops->evict(hv, c->domid, c->gfn);
}

static void child_load(void *arg)
{
    struct crash_op *c = arg;

    xenshape__sim_set_crash_point(c->point);
    ops->load(hv, c->domid, c->gfn, c->buf);
}

static void child_resume(void *arg)
{
    struct crash_op *c = arg;

    xenshape__sim_set_crash_point(c->point);
    ops->evtchn_notify(c->d);
}

/* A second pager process maps a frame and dies holding the lock: its
 * mapping must not outlive it. */
static void child_map_and_die(void *arg)
{
    struct crash_op *c = arg;
    xenshape__hv_params p = { .sim_host = host };
    xenshape__hv *own = NULL;
    uint64_t g = c->gfn;
    int err;

    if (ops->open(&own, &p, NULL))
        tu_child_exit(4);
    if (!ops->map(own, c->domid, PROT_READ, &g, 1, &err) || err)
        tu_child_exit(5);
    xenshape__sim_dom_hold_lock(host, c->domid);
    tu_child_exit(0);
}

static void assert_counts_consistent(uint32_t domid, uint64_t frames,
                                     uint64_t paged)
{
    xenshape__sim_dom_stats st = stats(domid);

    ck_assert_uint_eq(st.paged_pages, paged);
    ck_assert_uint_eq(st.tot_pages, frames - paged);
    ck_assert_uint_eq(host_free(), HOST_FRAMES - (frames - paged));
}

START_TEST(eownerdead_recovery)
{
    uint64_t frames = 64;
    uint32_t domid = mkdom(frames, 1, "idle");
    uint8_t copy[XENSHAPE_PAGE_SIZE], copy2[XENSHAPE_PAGE_SIZE];
    struct crash_op c = { .domid = domid };
    struct tpager tp;
    int err;
    void *m;

    attach(&tp, domid);
    /* Plain death while holding the lock. */
    run_child(child_hold_lock, &domid);
    ck_assert_int_eq(ops->nominate(hv, domid, 1), 0);
    ck_assert_uint_eq(stats(domid).recoveries, 1);
    assert_counts_consistent(domid, frames, 0);

    /* Death in the middle of evict, at each step. */
    m = ops->map(hv, domid, PROT_READ, &(uint64_t){ 1 }, 1, &err);
    memcpy(copy, m, sizeof(copy));
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    c.gfn = 1;
    c.point = "evict.scrubbed";
    run_child(child_evict, &c);
    ck_assert_int_eq(ops->nominate(hv, domid, 2), 0);
    ck_assert_uint_eq(ptype(domid, 1), XENSHAPE__SIM_T_PAGED);
    assert_counts_consistent(domid, frames, 1);

    m = ops->map(hv, domid, PROT_READ, &(uint64_t){ 2 }, 1, &err);
    memcpy(copy2, m, sizeof(copy2));
    ck_assert_int_eq(ops->unmap(hv, m, 1), 0);
    c.gfn = 2;
    c.point = "evict.counted";
    run_child(child_evict, &c);
    assert_counts_consistent(domid, frames, 2);

    /* Death in the middle of a load: the frame stays paged, and the
     * memory written so far goes back to the host. */
    c.gfn = 1;
    c.buf = copy;
    c.point = "load.copied";
    run_child(child_load, &c);
    assert_counts_consistent(domid, frames, 2);
    ck_assert_uint_eq(ptype(domid, 1), XENSHAPE__SIM_T_PAGED);
    ck_assert_int_eq(ops->load(hv, domid, 1, copy), 0);
    ck_assert_int_eq(ops->load(hv, domid, 2, copy2), 0);
    assert_counts_consistent(domid, frames, 0);
    assert_verified(domid, frames, 0);
    ck_assert_uint_eq(stats(domid).recoveries, 4);

    /* Death in the middle of resume: the response is applied by the
     * next locker (promotion and unpause). */
    {
        vm_event_request_t req;
        struct toucher t;

        ck_assert_int_eq(ops->nominate(hv, domid, 6), 0);
        touch_start(&t, domid, 0, 6, false);
        ck_assert(wait_req(&tp, &req, 2000));
        {
            vm_event_response_t rsp;

            memset(&rsp, 0, sizeof(rsp));
            rsp.version = VM_EVENT_INTERFACE_VERSION;
            rsp.vcpu_id = req.vcpu_id;
            rsp.reason = req.reason;
            rsp.flags = VM_EVENT_FLAG_VCPU_PAUSED;
            rsp.u.mem_paging.gfn = 6;
            memcpy(RING_GET_RESPONSE(&tp.back, tp.back.rsp_prod_pvt), &rsp,
                   sizeof(rsp));
            tp.back.rsp_prod_pvt++;
            RING_PUSH_RESPONSES(&tp.back);
        }
        c.d = tp.d;
        c.point = "resume.consumed";
        run_child(child_resume, &c);
        ck_assert_int_eq(ops->nominate(hv, domid, 7), 0);
        ck_assert_int_eq(touch_join(&t), 0);
        ck_assert_uint_eq(ptype(domid, 6), XENSHAPE__SIM_T_RW);
        ck_assert_uint_eq(stats(domid).ring_free, 8);
    }

    /* A dead pager's foreign mapping goes with it. */
    c.gfn = 20;
    run_child(child_map_and_die, &c);
    ck_assert_int_eq(ops->nominate(hv, domid, 20), 0);
    assert_counts_consistent(domid, frames, 0);
    detach(&tp);
}
END_TEST

/* ---- domain lifecycle --------------------------------------------------------------- */

START_TEST(destroy_with_blocked_vcpu)
{
    uint32_t domid = mkdom(64, 2, "idle");
    uint8_t copy[XENSHAPE_PAGE_SIZE];
    vm_event_request_t req;
    struct toucher t;
    struct tpager tp;
    uint64_t g = 3;
    int err;

    attach(&tp, domid);
    evict_gfn(domid, 40, copy);
    touch_start(&t, domid, 1, 40, false);
    ck_assert(wait_req(&tp, &req, 2000));
    ck_assert_uint_eq(req.vcpu_id, 1);
    /* The other vCPUs are busy too when the domain goes. */
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid,
                                                "uniform,write=0.3"), 0);
    tu_msleep(10);
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, domid), 0);
    ck_assert_int_eq(touch_join(&t), -ECANCELED);
    ck_assert_int_eq(ops->nominate(hv, domid, 1), -ESRCH);
    ck_assert_int_eq(ops->evtchn_notify(tp.d), -ESRCH);
    ck_assert_ptr_null(ops->map(hv, domid, PROT_READ, &g, 1, &err));
    ck_assert_int_eq(errno, ESRCH);
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, domid), -ESRCH);
    ck_assert_uint_eq(host_free(), HOST_FRAMES);
    ck_assert_int_eq(ops->domain_list(hv, &(xenshape__hv_dominfo){0}, 1), 0);
    detach(&tp);
}
END_TEST

START_TEST(workloads)
{
    static const char trace[] = "/work/shared/traces/lirs_loop.trace.gz";
    xenshape__sim_dom_params p = { .name = "w", .frames = 64, .vcpus = 1 };
    uint32_t domid;
    uint64_t t0;

    p.workload = "hot:1.5:0.5";
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), -EINVAL);
    p.workload = "uniform,write=2";
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), -EINVAL);
    p.workload = "bogus";
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), -EINVAL);
    p.workload = "trace:/nonexistent/x.gz";
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), -ENOENT);
    p.vcpus = 17;
    p.workload = "idle";
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), -EINVAL);

    /* A rate limit is kept (loosely: never timed tightly). */
    domid = mkdom(256, 1, "uniform,rate=2000,write=0.5");
    tu_msleep(300);
    t0 = stats(domid).touches;
    ck_assert_uint_gt(t0, 100);
    ck_assert_uint_lt(t0, 2000);
    /* A sweep reads every frame. */
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "sweep"), 0);
    t0 = stats(domid).writes;
    ck_assert(WAIT_UNTIL(stats(domid).reads > 1000, 2000));
    ck_assert_uint_eq(stats(domid).writes, t0);
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "nope"),
                     -EINVAL);
    ck_assert_int_eq(xenshape__sim_dom_workload(host, 999, "idle"), -ESRCH);
    if (access(trace, R_OK) == 0) {
        char spec[128];

        snprintf(spec, sizeof(spec), "trace:%s,write=0.2", trace);
        ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, spec), 0);
        t0 = stats(domid).touches;
        ck_assert(WAIT_UNTIL(stats(domid).touches > t0 + 10000, 5000));
    }
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    tu_msleep(10);
    t0 = stats(domid).touches;
    tu_msleep(30);
    ck_assert_uint_eq(stats(domid).touches, t0);
    ck_assert_uint_eq(stats(domid).wrong_reads, 0);
    assert_verified(domid, 256, 0);
}
END_TEST

/* Paging under a running guest, with a pager thread serving the ring:
 * many frames out and back, nothing lost. */
struct serve {
    struct tpager *tp;
    uint8_t (*store)[XENSHAPE_PAGE_SIZE];
    _Atomic int stop;
    unsigned served;
};

static void *serve_main(void *arg)
{
    struct serve *s = arg;
    vm_event_request_t req;

    while (!atomic_load(&s->stop)) {
        if (!get_req(s->tp, &req)) {
            ops->evtchn_ack(s->tp->d);
            tu_msleep(0);
            continue;
        }
        if (!(req.u.mem_paging.flags & MEM_PAGING_DROP_PAGE)) {
            int r = ops->load(hv, s->tp->domid, req.u.mem_paging.gfn,
                              s->store[req.u.mem_paging.gfn]);

            ck_assert(r == 0 || r == -ENOENT);
        }
        respond(s->tp, &req);
        s->served++;
    }
    return NULL;
}

START_TEST(paging_under_load)
{
    uint64_t frames = 512, i;
    uint32_t domid = mkdom(frames, 2, "uniform,write=0.3,rate=50000");
    uint8_t (*store)[XENSHAPE_PAGE_SIZE];
    struct serve s = { 0 };
    struct tpager tp;
    pthread_t th;
    unsigned round, evicted = 0;

    store = calloc(frames, XENSHAPE_PAGE_SIZE);
    ck_assert_ptr_nonnull(store);
    attach(&tp, domid);
    s.tp = &tp;
    s.store = store;
    ck_assert_int_eq(pthread_create(&th, NULL, serve_main, &s), 0);
    for (round = 0; round < 4; round++) {
        uint64_t batch[32];
        unsigned k = 0, j;
        int err[32];
        uint8_t *m;

        for (i = 0; i < frames && k < 32; i++) {
            uint64_t g = (i * 97 + round * 13) % frames;

            if (ops->nominate(hv, domid, g) == 0)
                batch[k++] = g;
        }
        m = ops->map(hv, domid, PROT_READ, batch, k, err);
        ck_assert_ptr_nonnull(m);
        for (j = 0; j < k; j++) {
            ck_assert_int_eq(err[j], 0);
            memcpy(store[batch[j]], m + j * XENSHAPE_PAGE_SIZE,
                   XENSHAPE_PAGE_SIZE);
        }
        ck_assert_int_eq(ops->unmap(hv, m, k), 0);
        for (j = 0; j < k; j++) {
            int r = ops->evict(hv, domid, batch[j]);

            ck_assert(r == 0 || r == -EBUSY);
            evicted += r == 0;
        }
        tu_msleep(50);
    }
    ck_assert_uint_gt(evicted, 0);
    /* Page everything back in without faults (prep on paged frames). */
    for (i = 0; i < frames; i++) {
        int r = ops->load(hv, domid, i, store[i]);

        ck_assert(r == 0 || r == -ENOENT);
    }
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    tu_msleep(20);
    atomic_store(&s.stop, 1);
    pthread_join(th, NULL);
    ck_assert_uint_eq(stats(domid).wrong_reads, 0);
    ck_assert_uint_eq(stats(domid).paged_pages, 0);
    assert_verified(domid, frames, 0);
    detach(&tp);
    free(store);
}
END_TEST

/* ---- the control socket ------------------------------------------------------------- */

static const char *kv(const char *line, const char *key, char *buf,
                      size_t len)
{
    const char *p = line;
    size_t kl = strlen(key);

    while ((p = strstr(p, key))) {
        if ((p == line || p[-1] == ' ' || p[-1] == '\n') && p[kl] == '=') {
            size_t n = strcspn(p + kl + 1, " \n");

            snprintf(buf, len, "%.*s", (int)n, p + kl + 1);
            return buf;
        }
        p += kl;
    }
    buf[0] = '\0';
    return buf;
}

START_TEST(socket_protocol)
{
    char path[300], reply[4096], req[300], v[64];
    uint32_t domid;

    tu_mkdtemp(dir, "sim");
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    ck_assert_int_eq(xenshape__sim_host_listen(host, path), 0);
    ck_assert_int_eq(xenshape__sim_host_listen(host, path), -EBUSY);

    ck_assert_int_eq(xenshape__sim_ctl(path, "HOST", reply, sizeof(reply)),
                     0);
    ck_assert_str_eq(kv(reply, "total_frames", v, sizeof(v)), "32768");
    ck_assert_int_eq(xenshape__sim_ctl(path, "CREATE name=s frames=512 "
                                       "vcpus=2 workload=hot:0.1:0.9,"
                                       "write=0.2 seed=3", reply,
                                       sizeof(reply)), 0);
    ck_assert_str_eq(kv(reply, "domid", v, sizeof(v)), "1");
    domid = 1;
    ck_assert_int_eq(xenshape__sim_ctl(path, "HOST", reply, sizeof(reply)),
                     0);
    ck_assert_str_eq(kv(reply, "free_frames", v, sizeof(v)), "32256");
    ck_assert_int_eq(xenshape__sim_ctl(path, "CREATE frames=0", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert(!strncmp(reply, "ERR EINVAL ", 11));
    ck_assert_int_eq(xenshape__sim_ctl(path, "CREATE frames=99999999",
                                       reply, sizeof(reply)), -ENOMEM);
    ck_assert(!strncmp(reply, "ERR ENOMEM ", 11));
    ck_assert_int_eq(xenshape__sim_ctl(path, "STATS 77", reply,
                                       sizeof(reply)), -ESRCH);
    ck_assert_int_eq(xenshape__sim_ctl(path, "FROB", reply, sizeof(reply)),
                     -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(path, "LIST", reply, sizeof(reply)),
                     0);
    ck_assert_str_eq(kv(reply, "domains", v, sizeof(v)), "1");
    ck_assert_str_eq(kv(reply, "name", v, sizeof(v)), "s");
    ck_assert(WAIT_UNTIL(stats(domid).touches > 100, 2000));
    ck_assert_int_eq(xenshape__sim_ctl(path, "STATS 1", reply, sizeof(reply)),
                     0);
    ck_assert_str_eq(kv(reply, "wrong_reads", v, sizeof(v)), "0");
    ck_assert_str_eq(kv(reply, "paged_pages", v, sizeof(v)), "0");
    ck_assert_str_eq(kv(reply, "crashed", v, sizeof(v)), "0");
    ck_assert_int_eq(xenshape__sim_ctl(path, "WORKLOAD 1 idle", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(path, "WORKLOAD 1 hot:x", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(path, "BALLOON 1 0x10", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(path, "BALLOON 1 0x10", reply,
                                       sizeof(reply)), -ENOENT);
    ck_assert_int_eq(xenshape__sim_ctl(path, "TOUCH 1 1 16 W", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(path, "PAUSE 1", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(path, "UNPAUSE 1", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(path, "UNPAUSE 1", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(path, "VERIFY 1", reply,
                                       sizeof(reply)), 0);
    ck_assert_str_eq(kv(reply, "checked", v, sizeof(v)), "512");
    ck_assert_str_eq(kv(reply, "wrong", v, sizeof(v)), "0");
    ck_assert_str_eq(kv(reply, "paged", v, sizeof(v)), "0");

    /* A pager in another process, through the socket. */
    {
        pid_t pid = fork();
        int status;

        ck_assert_int_ge(pid, 0);
        if (!pid) {
            xenshape__hv_params p = { .sim_socket = path };
            xenshape__hv_dominfo info[2];
            xenshape__hv_dom *d = NULL;
            uint8_t buf[XENSHAPE_PAGE_SIZE];
            xenshape__hv *h2 = NULL;
            uint64_t g = 100;
            uint32_t port;
            int err;
            void *m;

            if (ops->open(&h2, &p, NULL) ||
                ops->domain_list(h2, info, 2) != 1 || info[0].domid != 1 ||
                ops->paging_enable(h2, 1, &d, &port) ||
                ops->nominate(h2, 1, g) ||
                !(m = ops->map(h2, 1, PROT_READ, &g, 1, &err)) || err)
                tu_child_exit(10);
            memcpy(buf, m, sizeof(buf));
            if (ops->unmap(h2, m, 1) || ops->evict(h2, 1, g) ||
                ops->load(h2, 1, g, buf))
                tu_child_exit(11);
            /* Die holding a mapping and the ring's port. */
            if (!ops->map(h2, 1, PROT_READ, &g, 1, &err) || err)
                tu_child_exit(12);
            tu_child_exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    /* The host notices the death: the mapping and binding are gone. */
    ck_assert(WAIT_UNTIL(ops->nominate(hv, 1, 100) == 0, 2000));
    ck_assert_uint_eq(ptype(1, 100), XENSHAPE__SIM_T_PAGING_OUT);
    {
        xenshape__hv_dom *d = NULL;
        uint32_t port = 0;

        ck_assert_int_eq(ops->paging_enable(hv, 1, &d, &port), -EBUSY);
        snprintf(req, sizeof(req), "STATS 1");
        ck_assert_int_eq(xenshape__sim_ctl(path, req, reply, sizeof(reply)),
                         0);
        ck_assert_str_eq(kv(reply, "paging_enabled", v, sizeof(v)), "1");
    }
    assert_verified(1, 512, 0);

    ck_assert_int_eq(xenshape__sim_ctl(path, "DESTROY 1", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(path, "DESTROY 1", reply,
                                       sizeof(reply)), -ESRCH);
    ck_assert_int_eq(xenshape__sim_ctl(path, "SHUTDOWN", reply,
                                       sizeof(reply)), 0);
    ck_assert(xenshape__sim_host_wait_shutdown(host, 1000));
    snprintf(req, sizeof(req), "%s/none.sock", dir);
    ck_assert_int_eq(xenshape__sim_ctl(req, "HOST", reply, sizeof(reply)),
                     -ENOENT);
    ck_assert_str_eq(reply, "");
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("host");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, memop_errors);
    tcase_add_test(tc, load_enomem);
    tcase_add_test(tc, transitions_and_counters);
    tcase_add_test(tc, evict_fail_on_guest_touch);
    tcase_add_test(tc, response_for_unpaused_vcpu_does_nothing);
    tcase_add_test(tc, foreign_map_of_paged_frame);
    tcase_add_test(tc, foreign_map_with_full_ring_or_no_ring);
    tcase_add_test(tc, ring_has_eight_slots);
    tcase_add_test(tc, bad_version_is_dropped);
    tcase_add_test(tc, one_response_per_request);
    tcase_add_test(tc, enable_reattach_disable);
    tcase_add_test(tc, paging_in_touch_is_spurious);
    tcase_add_test(tc, balloon_and_drop_page);
    tcase_add_test(tc, content_check_catches_corruption);
    tcase_add_test(tc, zero_and_dup_frames);
    tcase_add_test(tc, pause_counting);
    tcase_add_test(tc, n2rwx_first_touch);
    tcase_add_test(tc, n2rwx_queue_overflow_counts_drops);
    tcase_add_test(tc, logdirty_bitmap);
    tcase_add_test(tc, eownerdead_recovery);
    tcase_add_test(tc, destroy_with_blocked_vcpu);
    tcase_add_test(tc, workloads);
    tcase_add_test(tc, paging_under_load);
    tcase_add_test(tc, socket_protocol);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sim_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
