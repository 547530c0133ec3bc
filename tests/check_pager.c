/*
 * check_pager.c - the paging engine on the simulated host: eviction
 * toward a target, page-in on fault, prefetch, detach, re-attach after the
 * pager goes away, and every failure the hypervisor or the store can
 * return, injected.  Every test ends by proving with the host's content
 * check that no frame was lost or corrupted.
 */

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "hv/hv.h"
#include "pager/pager.h"
#include "sim/sim.h"
#include "sim/sim_host.h"

#define MIB_FRAMES(m) ((uint64_t)(m) * 256)

static char dir[256];
static xenshape__sim_host *host;
static xenshape_ctx *ctx;

static void setup(void)
{
    tu_mkdtemp(dir, "pager");
    ck_assert_int_eq(xenshape__sim_host_new(&host, MIB_FRAMES(64)), 0);
    ctx = tu_ctx_sim(host, dir, 64ull << 20);
}

static void teardown(void)
{
    xenshape_fault_clear_all();
    xenshape_ctx_free(ctx);
    ctx = NULL;
    xenshape__sim_host_free(host);
    host = NULL;
    tu_rmtree(dir);
}

static uint32_t new_dom(uint64_t frames, unsigned vcpus, const char *wl)
{
    xenshape__sim_dom_params p;
    uint32_t domid;

    memset(&p, 0, sizeof(p));
    p.name = "guest";
    p.frames = frames;
    p.vcpus = vcpus;
    p.workload = wl;
    p.seed = 42;
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), 0);
    return domid;
}

struct cond {
    uint32_t domid;
    uint64_t value;
};

static bool ram_at_most(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    /* Not an assertion: some tests inject failures into the listing. */
    if (xenshape_domain_stats(ctx, c->domid, &st))
        return false;
    return st.tot_pages <= c->value;
}

static bool faulted(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_stats(ctx, c->domid, &st), 0);
    return st.faults >= c->value && st.loaded >= c->value;
}

static bool corrupt_seen(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_stats(ctx, c->domid, &st), 0);
    return st.corrupt > 0 && st.paused_by_pager;
}

static bool corrupt_or_error(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_stats(ctx, c->domid, &st), 0);
    return st.error && st.paused_by_pager;
}

/* Every frame of the domain in RAM, and every one right. */
static void assert_all_good(uint32_t domid, uint64_t frames)
{
    xenshape__sim_dom_stats ss;
    xenshape__sim_verify v;

    ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
    ck_assert_uint_eq(v.wrong, 0);
    ck_assert_uint_eq(v.paged, 0);
    ck_assert_uint_eq(v.checked, frames);
    ck_assert_int_eq(xenshape__sim_dom_stats(host, domid, &ss), 0);
    ck_assert_uint_eq(ss.wrong_reads, 0);
    ck_assert_uint_eq(ss.version_mismatch, 0);
}

/* What is resident is right (paged frames are checked later). */
static void assert_resident_good(uint32_t domid)
{
    xenshape__sim_dom_stats ss;
    xenshape__sim_verify v;

    ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
    ck_assert_uint_eq(v.wrong, 0);
    ck_assert_int_eq(xenshape__sim_dom_stats(host, domid, &ss), 0);
    ck_assert_uint_eq(ss.wrong_reads, 0);
}

/* A new one-vCPU idle domain of frames, attached and paged out whole. */
static uint32_t new_dom_paged_out(uint64_t frames)
{
    uint32_t domid = new_dom(frames, 1, "idle");
    struct cond c = { domid, 0 };

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
    return domid;
}

START_TEST(evict_to_target_then_fault_back)
{
    uint64_t frames = MIB_FRAMES(16);
    uint32_t domid = new_dom(frames, 2, "idle");
    struct cond c = { domid, frames / 4 };
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, frames / 4), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.held_pages, st.paged_pages);
    ck_assert_uint_ge(st.evicted, frames - frames / 4);
    assert_resident_good(domid);

    /* The guest now touches everything: faults bring frames back. */
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid,
                                                "uniform,write=0.3"), 0);
    c.value = 100;
    ck_assert(tu_run_until(ctx, faulted, &c, 30000));
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);

    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    assert_all_good(domid, frames);
}
END_TEST

START_TEST(prefetch_brings_frames_without_faults)
{
    uint64_t frames = MIB_FRAMES(8), done = 0;
    uint32_t domid = new_dom_paged_out(frames);
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_prefetch(ctx, domid, 100, &done), 0);
    ck_assert_uint_eq(done, 100);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.faults, 0);
    ck_assert_uint_eq(st.tot_pages, 100);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    assert_all_good(domid, frames);
}
END_TEST

/*
 * Four guests, about half their memory out, the halves swapped back and
 * forth while the guests read and write: the end-to-end check of the
 * data path.
 */
START_TEST(four_guests_half_out_repeatedly)
{
    uint64_t frames = MIB_FRAMES(8);
    uint32_t dom[4];
    unsigned i, round;
    xenshape_storestats ss;

    for (i = 0; i < 4; i++) {
        dom[i] = new_dom(frames, 2, i % 2 ? "hot:0.2:0.9,write=0.3" :
                         "uniform,write=0.2,rate=5000");
        ck_assert_int_eq(xenshape_domain_attach(ctx, dom[i]), 0);
    }
    for (round = 0; round < 6; round++) {
        for (i = 0; i < 4; i++) {
            bool out = (round + i) % 2 == 0;
            struct cond c = { dom[i], out ? frames / 2 : frames };

            ck_assert_int_eq(xenshape_domain_set_target(ctx, dom[i],
                                                        c.value), 0);
        }
        /* The guests fault frames back in all the while: near the
         * target is what a loaded machine can promise, not exactly on. */
        for (i = 0; i < 4; i++) {
            struct cond c = { dom[i], frames / 2 + frames / 8 };

            if ((round + i) % 2 == 0)
                ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
        }
        for (i = 0; i < 4; i++)
            assert_resident_good(dom[i]);
    }
    ck_assert_int_eq(xenshape_store_stats(ctx, &ss), 0);
    ck_assert_uint_gt(ss.writes, 0);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(xenshape__sim_dom_workload(host, dom[i], "idle"), 0);
        ck_assert_int_eq(xenshape_domain_detach(ctx, dom[i], 30000), 0);
        assert_all_good(dom[i], frames);
    }
}
END_TEST

/* The pager goes away without paging in; a new one re-attaches. */
START_TEST(reattach_after_pager_loss)
{
    uint64_t frames = MIB_FRAMES(8);
    uint32_t domid = new_dom(frames, 2, "idle");
    struct cond c = { domid, frames / 8 };
    xenshape_domstats st;
    uint64_t paged;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, c.value), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    paged = st.paged_pages;
    ck_assert_uint_gt(paged, 0);

    /* Guest faults pile up on the ring while nobody serves it. */
    xenshape_ctx_free(ctx);
    ctx = NULL;
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "uniform"), 0);
    tu_msleep(200);

    ctx = tu_ctx_sim(host, dir, 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.lost, 0);
    ck_assert_int_eq(st.error, 0);
    ck_assert_uint_eq(st.held_pages, st.paged_pages);
    c.value = 1;
    ck_assert(tu_run_until(ctx, faulted, &c, 30000));
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    assert_all_good(domid, frames);
}
END_TEST

/* An attach that fails after taking over the records a dead pager left
 * gives them back: frames stored meanwhile for another guest reuse no
 * slot of theirs, and the next attach finds every one. */
START_TEST(failed_reattach_keeps_frames)
{
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid = new_dom(frames, 1, "idle");
    uint32_t other = new_dom(frames, 1, "idle");
    struct cond c = { domid, 0 }, co = { other, 0 };
    xenshape_domstats st;
    char path[300];

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
    xenshape_ctx_free(ctx);
    ctx = tu_ctx_sim(host, dir, 0);

    /* A directory where the eviction intent goes: attach fails late. */
    snprintf(path, sizeof(path), "%s/state/domain-%u.intent", dir, domid);
    unlink(path);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), XENSHAPE_EIO);
    ck_assert_int_eq(rmdir(path), 0);

    ck_assert_int_eq(xenshape_domain_attach(ctx, other), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, other, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &co, 60000));

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.lost, 0);
    ck_assert_int_eq(st.error, 0);
    ck_assert_uint_eq(st.held_pages, frames);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    ck_assert_int_eq(xenshape_domain_detach(ctx, other, 30000), 0);
    assert_all_good(domid, frames);
    assert_all_good(other, frames);
}
END_TEST

/* The simulated p2m type of a frame, as Xen's p2m would show it. */
static unsigned ptype(uint32_t domid, uint64_t gfn)
{
    struct xenshape__sim_dom *sd = xenshape__sim_dom_get(host, domid);
    unsigned t;

    ck_assert_ptr_nonnull(sd);
    t = xenshape__sim_p2m_type(atomic_load(&sd->v.p2m[gfn]));
    xenshape__sim_dom_put(sd);
    return t;
}

/*
 * A pager killed in the middle of a batch leaves its frames nominated,
 * which the guest cannot touch, and their gfns in its intent record.  Its
 * successor brings them all back at attach with one store write: an
 * fsync fault armed for the store's fifth sync never fires, where frame
 * by frame took two syncs a frame (and on a slow disk more time than the
 * crash test gives a daemon to live).  A batch that settled leaves its
 * successor nothing: its record is rewritten with what is still
 * nominated.
 */
START_TEST(dead_pagers_batch_rescued_at_once)
{
    uint64_t frames = MIB_FRAMES(4), gfns[XENSHAPE__EVICT_BATCH], g;
    uint32_t domid = new_dom(frames, 1, "idle");
    struct cond c = { domid, frames / 2 };
    xenshape_domstats st;
    xenshape__dom *d;
    unsigned i, n = 0;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, c.value), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
    d = xenshape__pager_find(ctx, domid);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(xenshape__state_intent_load(ctx, domid, d->dom_tag,
                                                  gfns), 0);

    /* Die in the next batch, between nominate and store write. */
    for (g = 0; g < frames && n < XENSHAPE__EVICT_BATCH; g++)
        if (!d->gfn_rec[g])
            gfns[n++] = g;
    ck_assert_uint_eq(n, XENSHAPE__EVICT_BATCH);
    ck_assert_int_eq(xenshape__state_intent_save(ctx, d->intent_fd,
                                                 d->dom_tag, gfns, n, true),
                     0);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(xenshape__hv_nominate(ctx->hv, domid, gfns[i]), 0);
        ck_assert_uint_eq(ptype(domid, gfns[i]), XENSHAPE__SIM_T_PAGING_OUT);
    }
    xenshape_ctx_free(ctx);
    ctx = tu_ctx_sim(host, dir, 0);

    ck_assert_int_eq(xenshape_fault_set("store.fsync", 5, EIO, false), 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_uint_eq(xenshape_fault_hits("store.fsync"), 0);
    xenshape_fault_clear_all();
    for (i = 0; i < n; i++)
        ck_assert_uint_eq(ptype(domid, gfns[i]), XENSHAPE__SIM_T_RW);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_int_eq(st.error, 0);
    ck_assert_uint_eq(st.lost, 0);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    assert_all_good(domid, frames);
}
END_TEST

static bool sim_responses_above(void *arg)
{
    struct cond *c = arg;
    xenshape__sim_dom_stats ss;

    ck_assert_int_eq(xenshape__sim_dom_stats(host, c->domid, &ss), 0);
    return ss.responses > c->value;
}

/*
 * A pager that dies between pushing a response and notifying the
 * hypervisor leaves the vCPU paused with its answer on the ring: Xen
 * reads responses only when notified, and a guest whose every vCPU waits
 * sends no request that would make the next pager notify.  The
 * successor notifies once when it re-attaches.
 */
START_TEST(unnotified_response_is_read_after_reattach)
{
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid = new_dom_paged_out(frames);
    struct cond c = { domid, 0 };
    xenshape__sim_dom_stats ss;


    /* Every notify fails: the first page-in is answered, never seen. */
    ck_assert_int_eq(xenshape_fault_set("hv.evtchn_notify", 1, EIO, true),
                     0);
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "uniform"), 0);
    c.value = 1;
    ck_assert(tu_run_until(ctx, faulted, &c, 30000));
    xenshape_ctx_free(ctx);
    ctx = NULL;
    xenshape_fault_clear_all();
    ck_assert_int_eq(xenshape__sim_dom_stats(host, domid, &ss), 0);
    ck_assert_uint_eq(ss.blocked_vcpus, 1);
    c.value = ss.responses;

    ctx = tu_ctx_sim(host, dir, 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert(tu_run_until(ctx, sim_responses_above, &c, 10000));
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    assert_all_good(domid, frames);
}
END_TEST

/* A frame whose stored copy is damaged never reaches the guest. */
START_TEST(corrupt_copy_is_never_loaded)
{
    uint64_t frames = MIB_FRAMES(4), g;
    uint32_t domid = new_dom_paged_out(frames);
    struct cond c = { domid, 0 };
    xenshape_domstats st;
    xenshape__dom *d;
    unsigned flipped = 0;
    char path[300];
    int plain;


    /* Damage the stored copy of every data-bearing frame, through a
     * plain descriptor: the store's own is O_DIRECT. */
    snprintf(path, sizeof(path), "%s/store", dir);
    plain = open(path, O_RDWR);
    ck_assert_int_ge(plain, 0);
    d = xenshape__pager_find(ctx, domid);
    ck_assert_ptr_nonnull(d);
    for (g = 0; g < d->nr_gfns; g++) {
        uint64_t off;
        uint8_t b;
        int fd;

        if (!d->gfn_rec[g] ||
            xenshape__store_raw(ctx->store, d->gfn_rec[g], &fd, &off))
            continue;
        ck_assert_int_eq(pread(plain, &b, 1, (off_t)off + 100), 1);
        b ^= 0x5a;
        ck_assert_int_eq(pwrite(plain, &b, 1, (off_t)off + 100), 1);
        flipped++;
    }
    close(plain);
    ck_assert_uint_gt(flipped, 0);

    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "uniform"), 0);
    ck_assert(tu_run_until(ctx, corrupt_seen, &c, 30000));
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_gt(st.corrupt, 0);
    ck_assert_int_eq(st.error, XENSHAPE_ECORRUPT);
    ck_assert(st.paused_by_pager);
    assert_resident_good(domid);
    /* Stop the vCPUs before the host goes: they wait on parked frames. */
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, domid), 0);
}
END_TEST

/*
 * The fault-injection sweep: every hypervisor op and store syscall site
 * that a paging run reaches, with every errno that Xen 4.17, the kernel
 * or the device can really return there (section 4 of the xen-paging
 * reference; the kernel's own for privcmd, evtchn and the store file),
 * each injected once and persistently.  The run may fall short of its
 * target, but it must lose and corrupt nothing, and the failure must
 * show: latched as the domain's or the store's error, counted where the
 * engine counts it (nominate_busy, evict_busy, io_errors), or reported
 * in the log with its errno.  Sites reached only at open (store.open,
 * store.fstat, store.fallocate, store.uring_init, hv.host_info) are
 * swept by check_store and check_hv_xen; kv.* by check_kv.
 */
static const struct sweep_site {
    const char *site;
    int errs[6];                     /* 0-terminated */
} sweep_sites[] = {
    { "hv.domain_list",    { EIO, EFAULT, ENOMEM, EPERM } },
    { "hv.nominate",       { EBUSY, EINVAL, ENOMEM, ESRCH } },
    { "hv.evict",          { EBUSY, EINVAL } },
    { "hv.map",            { EFAULT, ENOENT, ENOMEM } },
    { "hv.unmap",          { EINVAL } },
    { "hv.load",           { ENOMEM, EFAULT, EINVAL } },
    { "hv.evtchn_notify",  { EIO, EINVAL } },
    { "hv.evtchn_ack",     { EIO, EINVAL } },
    { "hv.dirty_read",     { EINVAL, ENOMEM, EFAULT } },
    { "hv.paging_disable", { EIO, EBUSY } },
    { "state.write",       { EIO, ENOSPC } },
    { "store.write",       { EIO, ENOSPC, XENSHAPE_FAULT_SHORT } },
    { "store.fsync",       { EIO } },
    { "store.uring_submit", { EIO, ENOMEM, EAGAIN } },
    { "store.read",        { EIO, XENSHAPE_FAULT_SHORT } },
};

/* The sweep as a flat list of cases, filled by sweep_init(). */
struct sweep_case {
    const char *site;
    int err;
    bool persistent;
};
static struct sweep_case sweep[128];
static unsigned nr_sweep;

static void sweep_init(void)
{
    unsigned i, j, p;

    for (i = 0; i < XENSHAPE__ARRAY_SIZE(sweep_sites); i++)
        for (j = 0; sweep_sites[i].errs[j]; j++)
            for (p = 0; p < 2; p++) {
                if (nr_sweep == XENSHAPE__ARRAY_SIZE(sweep)) {
                    fprintf(stderr, "check_pager: sweep[] too small\n");
                    exit(EXIT_FAILURE);
                }
                sweep[nr_sweep].site = sweep_sites[i].site;
                sweep[nr_sweep].err = sweep_sites[i].errs[j];
                sweep[nr_sweep].persistent = p;
                nr_sweep++;
            }
}

static bool is_site(const struct sweep_case *c, const char *site)
{
    return !strcmp(c->site, site);
}

START_TEST(injected_failures)
{
    const struct sweep_case *fc = &sweep[_i];
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid = new_dom(frames, 2, "hot:0.3:0.8,write=0.3");
    struct cond out = { domid, frames / 4 };
    /* What a failure is reported as when it names no errno. */
    int logged_err = fc->err == XENSHAPE_FAULT_SHORT ? EIO : fc->err;
    unsigned reported0 = tu_errno_reported(logged_err);
    xenshape_storestats ss;
    xenshape_domstats st;
    bool store_latched, parked, shows;
    int waited;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    /* From the third call on, so that paging is under way; detach
     * disables paging once, so that site fails its first call. */
    ck_assert_int_eq(xenshape_fault_set(fc->site,
                                        is_site(fc, "hv.paging_disable") ?
                                        1 : 3, fc->err, fc->persistent), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, out.value), 0);
    /* Whether or not the target is reached under the fault, nothing may
     * be lost and the guest must keep running on right data. */
    tu_run_until(ctx, ram_at_most, &out, 1500);
    /* Some sites are reached only by page-ins: make the guest fault. */
    for (waited = 0; waited < 30000 && !is_site(fc, "hv.paging_disable") &&
         !xenshape_fault_hits(fc->site); waited += 50) {
        if (!waited)
            ck_assert_int_eq(xenshape__sim_dom_workload(host, domid,
                                                        "uniform"), 0);
        xenshape_run(ctx, 20);
        tu_msleep(30);
    }
    /* A persistent failure goes on for a while under load. */
    if (fc->persistent && !is_site(fc, "hv.paging_disable")) {
        ck_assert_int_eq(xenshape__sim_dom_workload(host, domid,
                                                    "uniform"), 0);
        for (waited = 0; waited < 300; waited += 20)
            xenshape_run(ctx, 20);
    }
    if (is_site(fc, "hv.paging_disable")) {
        /* Disable fails: the domain stays attached, nothing is lost,
         * and the next detach (fault cleared) finishes the job. */
        ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    }
    ck_assert_uint_ge(xenshape_fault_hits(fc->site), 1);
    /* Stats list the domains: a listing that still fails would hide
     * them. */
    xenshape_fault_clear_all();
    assert_resident_good(domid);
    if (is_site(fc, "hv.paging_disable")) {
        /* Detached all the same, everything in: only the log can say
         * that paging stayed enabled in the hypervisor. */
        ck_assert_uint_gt(tu_errno_reported(logged_err), reported0);
        assert_all_good(domid, frames);
        return;
    }

    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_int_eq(xenshape_store_stats(ctx, &ss), 0);
    ck_assert_uint_eq(st.lost, 0);
    store_latched = ss.failed;
    parked = st.paused_by_pager;
    /* EBUSY from nominate or evict is Xen saying "not this frame" or
     * "lost a race": the engine counts it and picks another. */
    shows = st.error || ss.io_errors ||
        tu_errno_reported(logged_err) > reported0 ||
        (fc->err == EBUSY && is_site(fc, "hv.nominate") &&
         st.nominate_busy) ||
        (fc->err == EBUSY && is_site(fc, "hv.evict") && st.evict_busy) ||
        (fc->err == ENOMEM && is_site(fc, "hv.load") && st.load_nomem);
    ck_assert_msg(shows, "%s %d%s: the failure shows nowhere", fc->site,
                  fc->err, fc->persistent ? " persistent" : "");

    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    if (parked) {
        /* A copy that stayed unreadable however often it was retried:
         * the guest is held paused rather than given a wrong frame, and
         * the error says why.  Everything it has is right. */
        ck_assert(is_site(fc, "store.read") ||
                  is_site(fc, "store.uring_submit"));
        ck_assert(fc->persistent);
        ck_assert_int_ne(st.error, 0);
        assert_resident_good(domid);
        ck_assert_int_eq(xenshape__sim_dom_destroy(host, domid), 0);
        return;
    }
    if (store_latched) {
        /* A store write error latches the store: no more evictions,
         * and the error is counted. */
        ck_assert_uint_ge(ss.io_errors, 1);
    }
    /* Everything stored before still comes back, and all of it right. */
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    assert_all_good(domid, frames);
}
END_TEST

/* A copy that cannot be read, ever: the guest waits, paused, and the
 * error is reported; it never runs on a frame it does not have. */
START_TEST(unreadable_copy_is_never_loaded)
{
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid = new_dom_paged_out(frames);
    struct cond c = { domid, 0 };
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_fault_set("store.read", 1, EIO, true), 0);
    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "uniform"), 0);
    ck_assert(tu_run_until(ctx, corrupt_or_error, &c, 30000));
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_int_eq(st.error, XENSHAPE_EIO);
    ck_assert(st.paused_by_pager);
    assert_resident_good(domid);
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, domid), 0);
}
END_TEST

START_TEST(paging_not_supported_is_reported)
{
    uint32_t domid = new_dom(MIB_FRAMES(1), 1, "idle");

    ck_assert_int_eq(xenshape_fault_set("hv.paging_enable", 1, ENOSYS,
                                        false), 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), XENSHAPE_ENOSYS);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
}
END_TEST

START_TEST(bad_arguments)
{
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_attach(ctx, 4242), XENSHAPE_ESRCH);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, 4242, 1),
                     XENSHAPE_ESRCH);
    ck_assert_int_eq(xenshape_domain_stats(ctx, 4242, &st), XENSHAPE_ESRCH);
    ck_assert_int_eq(xenshape_domain_detach(ctx, 4242, 10), XENSHAPE_ESRCH);
    ck_assert_int_eq(xenshape_ctx_set_store(ctx, "/x", 0), XENSHAPE_ESTATE);
    ck_assert_int_eq(xenshape_ctx_open(ctx), XENSHAPE_ESTATE);
    ck_assert_str_eq(xenshape_errname(XENSHAPE_ECORRUPT),
                     "XENSHAPE_ECORRUPT");
    ck_assert_str_eq(xenshape_strerror(12345), "unknown error");
}
END_TEST

static Suite *pager_suite(void)
{
    Suite *s = suite_create("pager");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, evict_to_target_then_fault_back);
    tcase_add_test(tc, prefetch_brings_frames_without_faults);
    tcase_add_test(tc, four_guests_half_out_repeatedly);
    tcase_add_test(tc, reattach_after_pager_loss);
    tcase_add_test(tc, failed_reattach_keeps_frames);
    tcase_add_test(tc, dead_pagers_batch_rescued_at_once);
    tcase_add_test(tc, unnotified_response_is_read_after_reattach);
    tcase_add_test(tc, corrupt_copy_is_never_loaded);
    tcase_add_loop_test(tc, injected_failures, 0, nr_sweep);
    tcase_add_test(tc, unreadable_copy_is_never_loaded);
    tcase_add_test(tc, paging_not_supported_is_reported);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    sweep_init();
    printf("pager: fault-injection sweep: %u cases (%u sites)\n", nr_sweep,
           (unsigned)XENSHAPE__ARRAY_SIZE(sweep_sites));
    sr = srunner_create(pager_suite());

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
