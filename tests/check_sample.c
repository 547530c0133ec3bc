/*
 * check_sample.c - the engine's observation of resident-frame use
 * (libxenshape/pager/sample.c) on the simulated host: which mode a domain
 * gets, that samples reach page selection, the fall-back from n2rwx to
 * log-dirty when the hypervisor cannot do mem_access, giving up on a
 * sampler that keeps failing, and that a detached domain is left with no
 * frame armed and nothing switched on.  Every test ends with the host's
 * content check.
 */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "pager/pager.h"
#include "sim/sim.h"
#include "sim/sim_host.h"

#define MIB_FRAMES(m) ((uint64_t)(m) * 256)

static char dir[256];
static xenshape__sim_host *host;
static xenshape_ctx *ctx;

static void setup(void)
{
    tu_mkdtemp(dir, "sample");
    ck_assert_int_eq(xenshape__sim_host_new(&host, MIB_FRAMES(64)), 0);
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

/* A context allowed the given observation modes. */
static void open_ctx(unsigned modes)
{
    char store[300], state[300];

    snprintf(store, sizeof(store), "%s/store", dir);
    snprintf(state, sizeof(state), "%s/state", dir);
    ck_assert_int_eq(xenshape_ctx_new(&ctx, tu_logger()), 0);
    ck_assert_int_eq(xenshape_ctx_set_backend(ctx, "sim"), 0);
    ck_assert_int_eq(xenshape__ctx_set_sim_host(ctx, host), 0);
    ck_assert_int_eq(xenshape_ctx_set_observe(ctx, modes), 0);
    ck_assert_int_eq(xenshape_ctx_set_store(ctx, store, 64ull << 20), 0);
    ck_assert_int_eq(xenshape_ctx_set_state_dir(ctx, state), 0);
    ck_assert_int_eq(xenshape_ctx_open(ctx), 0);
}

static uint32_t new_dom(uint64_t frames, const char *wl)
{
    xenshape__sim_dom_params p;
    uint32_t domid;

    memset(&p, 0, sizeof(p));
    p.name = "guest";
    p.frames = frames;
    p.vcpus = 2;
    p.workload = wl;
    p.seed = 7;
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), 0);
    return domid;
}

struct cond {
    uint32_t domid;
    uint64_t value;
};

static bool observed_at_least(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_stats(ctx, c->domid, &st), 0);
    return st.observed >= c->value;
}

static bool observation_off(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_stats(ctx, c->domid, &st), 0);
    return st.observe == 0;
}

/* What the simulated hypervisor has switched on for the domain, and how
 * many of its frames are armed. */
static void sim_access_state(uint32_t domid, unsigned *modes_r,
                             uint64_t *armed_r)
{
    struct xenshape__sim_dom *d = xenshape__sim_dom_get(host, domid);
    uint64_t g, armed = 0;

    ck_assert_ptr_nonnull(d);
    for (g = 0; g < d->v.max_pages; g++)
        if (atomic_load(&d->v.p2m[g]) & XENSHAPE__SIM_P2M_ARMED)
            armed++;
    *modes_r = atomic_load(&d->v.ctl->access_modes);
    *armed_r = armed;
    xenshape__sim_dom_put(d);
}

/* Detach, then: nothing left switched on or armed, every frame right. */
static void detach_and_check(uint32_t domid, uint64_t frames)
{
    xenshape__sim_verify v;
    xenshape__sim_dom_stats ss;
    unsigned modes;
    uint64_t armed;

    ck_assert_int_eq(xenshape__sim_dom_workload(host, domid, "idle"), 0);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 30000), 0);
    sim_access_state(domid, &modes, &armed);
    ck_assert_uint_eq(modes, 0);
    ck_assert_uint_eq(armed, 0);
    ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
    ck_assert_uint_eq(v.wrong, 0);
    ck_assert_uint_eq(v.paged, 0);
    ck_assert_uint_eq(v.checked, frames);
    ck_assert_int_eq(xenshape__sim_dom_stats(host, domid, &ss), 0);
    ck_assert_uint_eq(ss.wrong_reads, 0);
}

START_TEST(n2rwx_samples_reach_selection)
{
    uint64_t frames = MIB_FRAMES(8);
    uint32_t domid;
    struct cond c;
    xenshape_domstats st;
    unsigned modes;
    uint64_t armed, usage, usage2;

    open_ctx(XENSHAPE_OBSERVE_N2RWX | XENSHAPE_OBSERVE_LOGDIRTY);
    /* A hot quarter that fits in the target: armed hot frames stay
     * resident until touched.  (An armed frame paged out loses its
     * arming in our view, see select/observe.h.) */
    domid = new_dom(frames, "hot:0.25:0.9");
    c.domid = domid;
    c.value = 200;
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.observe, XENSHAPE_OBSERVE_N2RWX);
    /* The first sample is armed at attach, within the budget: resident
     * frames / 64. */
    sim_access_state(domid, &modes, &armed);
    ck_assert_uint_ne(modes & 1u, 0);
    ck_assert_uint_gt(armed, 0);
    ck_assert_uint_le(armed, frames / 64);

    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, frames / 2), 0);
    ck_assert_int_eq(xenshape_domain_usage(ctx, domid, &usage), 0);
    ck_assert(tu_run_until(ctx, observed_at_least, &c, 60000));
    /* The working set since: the samples and the faults, each frame
     * once, so never more than the domain has. */
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_int_eq(xenshape_domain_usage(ctx, domid, &usage), 0);
    ck_assert_uint_gt(usage, 0);
    ck_assert_uint_le(usage, frames);
    ck_assert_int_eq(xenshape_domain_usage(ctx, domid, &usage2), 0);
    ck_assert_uint_lt(usage2, usage);
    detach_and_check(domid, frames);
}
END_TEST

START_TEST(no_mem_access_falls_back_to_logdirty)
{
    uint64_t frames = MIB_FRAMES(8);
    uint32_t domid;
    struct cond c;
    xenshape_domstats st;

    open_ctx(XENSHAPE_OBSERVE_N2RWX | XENSHAPE_OBSERVE_LOGDIRTY);
    domid = new_dom(frames, "hot:0.25:0.9,write=0.5");
    c.domid = domid;
    c.value = 200;
    /* Xen 4.17 on AMD: the monitor ring comes up, arming does not. */
    ck_assert_int_eq(xenshape_fault_set("hv.access_arm", 1, EOPNOTSUPP,
                                        true), 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.observe, XENSHAPE_OBSERVE_LOGDIRTY);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, frames / 2), 0);
    ck_assert(tu_run_until(ctx, observed_at_least, &c, 60000));
    detach_and_check(domid, frames);
}
END_TEST

START_TEST(nothing_allowed_means_faults_only)
{
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid;
    xenshape_domstats st;
    unsigned modes;
    uint64_t armed;

    open_ctx(0);
    domid = new_dom(frames, "uniform");
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, frames / 2), 0);
    ck_assert_int_eq(xenshape_run(ctx, 500), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_eq(st.observe, 0);
    ck_assert_uint_eq(st.observed, 0);
    sim_access_state(domid, &modes, &armed);
    ck_assert_uint_eq(modes, 0);
    ck_assert_uint_eq(armed, 0);
    detach_and_check(domid, frames);
}
END_TEST

START_TEST(failing_sampler_is_given_up)
{
    uint64_t frames = MIB_FRAMES(4);
    uint32_t domid;
    struct cond c;

    open_ctx(XENSHAPE_OBSERVE_LOGDIRTY);
    domid = new_dom(frames, "uniform,write=0.5");
    c.domid = domid;
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    /* Every later read fails: after a few epochs the domain is paged on
     * faults alone, and paging itself carries on. */
    ck_assert_int_eq(xenshape_fault_set("hv.dirty_read", 1, EIO, true), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, frames / 2), 0);
    ck_assert(tu_run_until(ctx, observation_off, &c, 30000));
    xenshape_fault_clear_all();
    detach_and_check(domid, frames);
}
END_TEST

START_TEST(bad_modes_are_refused)
{
    ck_assert_int_eq(xenshape_ctx_new(&ctx, tu_logger()), 0);
    ck_assert_int_eq(xenshape_ctx_set_observe(ctx, 0x4), XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape_ctx_set_observe(NULL, 0), XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape_domain_usage(ctx, 1, NULL), XENSHAPE_EINVAL);
}
END_TEST

static Suite *sample_suite(void)
{
    Suite *s = suite_create("sample");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, n2rwx_samples_reach_selection);
    tcase_add_test(tc, no_mem_access_falls_back_to_logdirty);
    tcase_add_test(tc, nothing_allowed_means_faults_only);
    tcase_add_test(tc, failing_sampler_is_given_up);
    tcase_add_test(tc, bad_modes_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sample_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
