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
#include "pager/pager.h"
#include "sim/sim.h"

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
    uint32_t domid = new_dom(frames, 1, "idle");
    struct cond c = { domid, 0 };
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
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

/* A frame whose stored copy is damaged never reaches the guest. */
START_TEST(corrupt_copy_is_never_loaded)
{
    uint64_t frames = MIB_FRAMES(4), g;
    uint32_t domid = new_dom(frames, 1, "idle");
    struct cond c = { domid, 0 };
    xenshape_domstats st;
    xenshape__dom *d;
    unsigned flipped = 0;
    char path[300];
    int plain;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));

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
 * Table of injected failures the engine must ride out: every hypervisor
 * op and store syscall site on the paging path, with the errno each can
 * really return there, once and persistently.
 */
static const struct {
    const char *site;
    unsigned long nth;
    int err;
    bool persistent;
} faults[] = {
    { "hv.domain_list", 3, EIO, false },
    { "hv.nominate", 3, EBUSY, true },
    { "hv.nominate", 3, EINVAL, false },
    { "hv.nominate", 3, ENOMEM, false },
    { "hv.evict", 3, EBUSY, false },
    { "hv.evict", 3, EBUSY, true },
    { "hv.map", 3, EFAULT, false },
    { "hv.map", 1, ENOMEM, true },
    { "hv.unmap", 3, EINVAL, false },
    { "hv.load", 3, ENOMEM, false },
    { "hv.load", 3, ENOMEM, true },
    { "hv.load", 3, EFAULT, false },
    { "hv.evtchn_notify", 3, EIO, false },
    { "hv.evtchn_notify", 3, EIO, true },
    { "hv.evtchn_ack", 3, EIO, false },
    { "hv.paging_disable", 1, EIO, false },
    { "state.write", 3, EIO, false },
    { "state.write", 3, ENOSPC, true },
    { "store.write", 3, EIO, false },
    { "store.fsync", 3, EIO, false },
    { "store.write", 3, ENOSPC, false },
    { "store.write", 3, XENSHAPE_FAULT_SHORT, false },
    { "store.uring_submit", 3, EIO, false },
    { "store.read", 3, EIO, false },
    { "store.read", 3, XENSHAPE_FAULT_SHORT, false },
};

START_TEST(injected_failures)
{
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid = new_dom(frames, 2, "hot:0.3:0.8,write=0.3");
    struct cond out = { domid, frames / 4 };
    xenshape_domstats st;
    int waited;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_fault_set(faults[_i].site, faults[_i].nth,
                                        faults[_i].err,
                                        faults[_i].persistent), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, out.value), 0);
    /* Whether or not the target is reached under the fault, nothing may
     * be lost and the guest must keep running on right data. */
    tu_run_until(ctx, ram_at_most, &out, 3000);
    /* Some sites are reached only by page-ins: make the guest fault. */
    for (waited = 0; waited < 30000 && strcmp(faults[_i].site,
                                               "hv.paging_disable") &&
         !xenshape_fault_hits(faults[_i].site); waited += 50) {
        if (!waited)
            ck_assert_int_eq(xenshape__sim_dom_workload(host, domid,
                                                        "uniform"), 0);
        xenshape_run(ctx, 20);
        tu_msleep(30);
    }
    if (!strcmp(faults[_i].site, "hv.paging_disable"))
        ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    ck_assert_uint_ge(xenshape_fault_hits(faults[_i].site), 1);
    assert_resident_good(domid);
    xenshape_fault_clear_all();
    if (!strcmp(faults[_i].site, "hv.paging_disable")) {
        assert_all_good(domid, frames);
        return;
    }

    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.lost, 0);
    /* A submit failure may hit a read batch (prefetch) rather than a
     * write: only write-side sites are sure to latch the store. */
    if (strcmp(faults[_i].site, "store.write") &&
        strcmp(faults[_i].site, "store.fsync")) {
        ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
        assert_all_good(domid, frames);
    } else {
        /* A store write error latches the store: no more evictions, and
         * everything stored before still comes back. */
        xenshape_storestats ss;

        ck_assert_int_eq(xenshape_store_stats(ctx, &ss), 0);
        ck_assert(ss.failed);
        ck_assert_uint_ge(ss.io_errors, 1);
        ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
        assert_all_good(domid, frames);
    }
}
END_TEST

/* A copy that cannot be read, ever: the guest waits, paused, and the
 * error is reported; it never runs on a frame it does not have. */
START_TEST(unreadable_copy_is_never_loaded)
{
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid = new_dom(frames, 1, "idle");
    struct cond c = { domid, 0 };
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
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
    tcase_add_test(tc, corrupt_copy_is_never_loaded);
    tcase_add_loop_test(tc, injected_failures, 0,
                        XENSHAPE__ARRAY_SIZE(faults));
    tcase_add_test(tc, unreadable_copy_is_never_loaded);
    tcase_add_test(tc, paging_not_supported_is_reported);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pager_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
