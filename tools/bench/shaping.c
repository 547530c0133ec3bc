/*
 * shaping.c - the shaping benchmarks (bench --shaping): three scenarios
 * on in-process simulated hosts, each shaped by the daemon's own code and
 * compared with an unconstrained host running the same guests side by
 * side in the same run.  docs/bench-shaping.md describes the scenarios
 * and how each figure is measured.
 *
 * What runs is what xenshaped --shape runs: the pager (libxenshape) and
 * tools/xenshaped/shaping.c, linked in as it is, which reads policy from
 * the simulated host's xenstore, calls the policy engine once an
 * interval, and applies targets, pauses and prefetches.  The bench only
 * plays the daemon's main loop (attach, shaper tick, pager run, every
 * 100 ms) and cloud control (creating guests, writing policy keys,
 * changing workloads).  Every figure is measured from the simulated
 * hosts' counters: guest accesses, the sampled access-latency histogram,
 * page-in faults, resident and paged frames, toolstack pauses.
 *
 * Nothing here asserts a timing: the figures are printed for the reader,
 * with the targets of docs/bench-shaping.md beside them on stderr.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pager/pager.h"
#include "kv/kv.h"
#include "sim/sim.h"
#include "sim/sim_host.h"
#include "tools/xenshaped/shaping.h"
#include "bench.h"

#define TICK_MS 100u
#define MAX_VMS 8u
#define KIB_PER_FRAME 4u

/* One simulated host, shaped (pager and shaper) or unconstrained. */
struct rig {
    const char *name;
    xenshape__sim_host *host;
    uint64_t frames;
    xenshape_ctx *ctx;               /* NULL: unconstrained */
    struct shaper *shaper;
    xenshape__kv_handle *kv;         /* the bench as cloud control */
    char sock[512], store[512], state[512];
    uint32_t attached[MAX_VMS];
    unsigned nr_attached;
};

/* One guest of a scenario on one rig. */
struct vm {
    uint32_t domid;
    bool up;
    char uuid[37];
    char wl[128];                    /* the workload in force */
};

static double t_origin;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double elapsed(void)
{
    return now_s() - t_origin;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "[%6.1f] ", elapsed());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- rigs ------------------------------------------------------------- */

static void rig_close(struct rig *r)
{
    shaper_close(r->shaper);
    r->shaper = NULL;
    xenshape__kv_close(r->kv);
    r->kv = NULL;
    xenshape_ctx_free(r->ctx);
    r->ctx = NULL;
    xenshape__sim_host_free(r->host);
    r->host = NULL;
    if (r->store[0])
        unlink(r->store);
    if (r->sock[0])
        unlink(r->sock);
}

/*
 * A host of frames frames.  Shaped: its control socket serves its
 * xenstore to the shaper and to the bench, the pager uses n2rwx sampling
 * (the simulator offers it, as Xen does on Intel EPT) and the host
 * policy's reserve is 1/64 of the RAM.  0 or -1.
 */
static int rig_open(struct rig *r, const char *dir, const char *name,
                    uint64_t frames, bool shaped)
{
    char val[64];
    int rc;

    memset(r, 0, sizeof(*r));
    r->name = name;
    r->frames = frames;
    if (xenshape__sim_host_new(&r->host, frames)) {
        note("%s: cannot create a host of %" PRIu64 " frames", name, frames);
        goto fail;
    }
    if (!shaped)
        return 0;
    snprintf(r->sock, sizeof(r->sock), "%s/%s.sock", dir, name);
    snprintf(r->store, sizeof(r->store), "%s/%s.store", dir, name);
    snprintf(r->state, sizeof(r->state), "%s/%s.state", dir, name);
    unlink(r->sock);
    unlink(r->store);
    mkdir(r->state, 0700);
    if (xenshape__sim_host_listen(r->host, r->sock)) {
        note("%s: cannot listen on %s", name, r->sock);
        goto fail;
    }
    rc = xenshape_ctx_new(&r->ctx, &bench_logger);
    if (!rc)
        rc = xenshape_ctx_set_backend(r->ctx, "sim");
    if (!rc)
        rc = xenshape__ctx_set_sim_host(r->ctx, r->host);
    if (!rc)
        rc = xenshape_ctx_set_store(r->ctx, r->store, frames * 4096 * 3);
    if (!rc)
        rc = xenshape_ctx_set_state_dir(r->ctx, r->state);
    if (!rc)
        rc = xenshape_ctx_set_observe(r->ctx, XENSHAPE_OBSERVE_N2RWX |
                                      XENSHAPE_OBSERVE_LOGDIRTY);
    if (!rc)
        rc = xenshape_ctx_open(r->ctx);
    if (rc) {
        note("%s: cannot open the pager on %s: %s", name, r->store,
             xenshape_strerror(rc));
        goto fail;
    }
    if (xenshape__kv_open(&r->kv, "sim", r->sock, &bench_logger)) {
        note("%s: cannot reach the host's xenstore", name);
        goto fail;
    }
    snprintf(val, sizeof(val), "%" PRIu64 "K", frames / 64 * KIB_PER_FRAME);
    if (xenshape__kv_write_str(r->kv, XENSHAPE__KV_NO_TXN,
                               "/xenshape/host/reserved", val) < 0) {
        note("%s: cannot write the host policy", name);
        goto fail;
    }
    rc = shaper_open(&r->shaper, r->ctx, &bench_logger, "sim", r->sock);
    if (rc) {
        note("%s: cannot start shaping: %s", name, xenshape_strerror(rc));
        goto fail;
    }
    return 0;
 fail:
    rig_close(r);
    return -1;
}

static bool rig_is_attached(struct rig *r, uint32_t domid)
{
    unsigned i;

    for (i = 0; i < r->nr_attached; i++)
        if (r->attached[i] == domid)
            return true;
    return false;
}

/* What the daemon does every tick: attach new domains, shaping, paging. */
static void rig_tick(struct rig *r)
{
    xenshape_dominfo *list = NULL;
    bool paging[XENSHAPE__SIM_MAX_DOMS];
    struct timespec ts;
    unsigned nr = 0, i;
    uint64_t ms;
    int fd;

    if (!r->ctx)
        return;
    /* Policy changes, as the daemon's poll loop hands them over. */
    fd = shaper_watch_fd(r->shaper);
    if (fd >= 0) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        if (poll(&pfd, 1, 0) > 0)
            shaper_watch_events(r->shaper);
    }
    if (xenshape_domain_list(r->ctx, &list, &nr))
        return;
    for (i = 0; i < nr && i < XENSHAPE__SIM_MAX_DOMS; i++) {
        paging[i] = false;
        if (list[i].dying)
            continue;
        if (!rig_is_attached(r, list[i].domid) &&
            r->nr_attached < MAX_VMS &&
            !xenshape_domain_attach(r->ctx, list[i].domid))
            r->attached[r->nr_attached++] = list[i].domid;
        paging[i] = rig_is_attached(r, list[i].domid);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    shaper_tick(r->shaper, list, paging, nr < XENSHAPE__SIM_MAX_DOMS ? nr :
                XENSHAPE__SIM_MAX_DOMS, ms);
    free(list);
    xenshape_run(r->ctx, TICK_MS * 6 / 10);
}

/* Sleep to the next tick boundary after ticking the shaped rig. */
static void tick(struct rig *r)
{
    static double next;
    double t;

    rig_tick(r);
    t = now_s();
    if (next < t - 1.0 || next == 0)
        next = t;
    next += TICK_MS / 1000.0;
    if (next > t) {
        struct timespec ts;
        double d = next - t;

        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
}

/* ---- guests ----------------------------------------------------------- */

static void uuid_str(const uint8_t h[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5],
             h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
             h[15]);
}

/* Create a guest; false when the host lacks the RAM for it now (ENOMEM,
 * as xl create would fail) or anything else failed. */
static bool vm_create(struct rig *r, struct vm *v, const char *name,
                      uint64_t frames, const char *wl, uint64_t seed)
{
    xenshape__sim_dom_params p;
    xenshape_dominfo *list = NULL;
    unsigned nr = 0, i;
    int e;

    memset(&p, 0, sizeof(p));
    p.name = name;
    p.frames = frames;
    p.vcpus = 1;
    p.workload = wl;
    p.seed = seed;
    e = xenshape__sim_dom_create(r->host, &p, &v->domid);
    if (e) {
        if (e != -ENOMEM)
            note("%s: cannot create %s: %s", r->name, name, strerror(-e));
        return false;
    }
    v->up = true;
    snprintf(v->wl, sizeof(v->wl), "%s", wl);
    v->uuid[0] = '\0';
    if (r->ctx && !xenshape_domain_list(r->ctx, &list, &nr)) {
        for (i = 0; i < nr; i++)
            if (list[i].domid == v->domid)
                uuid_str(list[i].handle, v->uuid);
        free(list);
    }
    return true;
}

static void vm_workload(struct rig *r, struct vm *v, const char *wl)
{
    if (!v->up || !strcmp(v->wl, wl))
        return;
    if (!xenshape__sim_dom_workload(r->host, v->domid, wl))
        snprintf(v->wl, sizeof(v->wl), "%s", wl);
}

/* Cloud control writes one key of the guest's policy. */
static void vm_policy(struct rig *r, struct vm *v, const char *key,
                      const char *val)
{
    char path[256];

    if (!r->kv || !v->uuid[0])
        return;
    snprintf(path, sizeof(path), "/xenshape/vm/%s/%s", v->uuid, key);
    if (xenshape__kv_write_str(r->kv, XENSHAPE__KV_NO_TXN, path, val) < 0)
        note("%s: cannot write %s", r->name, path);
}

static void vm_policy_frames(struct rig *r, struct vm *v, const char *key,
                             uint64_t frames)
{
    char val[32];

    snprintf(val, sizeof(val), "%" PRIu64 "K", frames * KIB_PER_FRAME);
    vm_policy(r, v, key, val);
}

static xenshape__sim_dom_stats vm_stats(struct rig *r, struct vm *v)
{
    xenshape__sim_dom_stats st;

    memset(&st, 0, sizeof(st));
    if (v->up)
        xenshape__sim_dom_stats(r->host, v->domid, &st);
    return st;
}

static uint64_t vm_faults(struct rig *r, struct vm *v)
{
    xenshape_domstats st;

    if (!r->ctx || !v->up || xenshape_domain_stats(r->ctx, v->domid, &st))
        return 0;
    return st.faults;
}

static void vm_lat(struct rig *r, struct vm *v, uint64_t *hist)
{
    struct xenshape__sim_dom *d = xenshape__sim_dom_get(r->host, v->domid);

    memset(hist, 0, XENSHAPE__SIM_LAT_BUCKETS * sizeof(*hist));
    if (!d)
        return;
    xenshape__sim_lat_snapshot(d->v.ctl, hist);
    xenshape__sim_dom_put(d);
}

static uint64_t host_free(struct rig *r)
{
    uint64_t total = 0, free_frames = 0;

    if (r->ctx)
        xenshape_host_info(r->ctx, &total, &free_frames);
    return free_frames;
}

static void spec(char *buf, size_t n, double hot, unsigned rate)
{
    snprintf(buf, n, "hot:%.3f:1,write=0.3,rate=%u", hot, rate);
}

/* ---- consolidation ---------------------------------------------------- */

/*
 * Four guests presenting 2x the host's RAM, each with a working set that
 * peaks in its quarter of a period and is small otherwise: peaks sum to
 * 1.1x RAM.  Guests are admitted as the shaped host frees room for them
 * (a create fails while the RAM is not free, as xl create does); the
 * unconstrained host, with RAM for all of them, runs the same guests and
 * phases at the same time.
 */
#define CONS_VMS 4u
#define CONS_PERIOD_S 40.0
#define CONS_ADMIT_S 90.0
#define CONS_SETTLE_S 10.0
#define CONS_RATE 20000u
#define CONS_PEAK 0.55                /* of presented: 4 x 0.55 x 0.5 = 1.1 */
#define CONS_TROUGH 0.10

static int consolidation(const char *dir, uint64_t frames)
{
    struct rig shaped, free_host;
    struct vm sv[CONS_VMS], fv[CONS_VMS];
    uint64_t pres = frames / 2, touch0 = 0, ftouch0 = 0, touch1 = 0,
        ftouch1 = 0;
    double t_all = -1, t_m0 = -1, share_sum = 0, t;
    unsigned admitted = 0, i, samples = 0, last_phase = 99;
    char wl[128];
    int rc = 1;

    memset(sv, 0, sizeof(sv));
    memset(fv, 0, sizeof(fv));
    if (rig_open(&shaped, dir, "cons", frames, true))
        return 1;
    if (rig_open(&free_host, dir, "cons-free", frames * 2, false)) {
        rig_close(&shaped);
        return 1;
    }
    t_origin = now_s();
    note("consolidation: host %" PRIu64 " MiB, 4 guests of %" PRIu64 " MiB,"
         " working sets %.0f%% at peak, %.0f%% otherwise, period %.0f s",
         frames / 256, pres / 256, CONS_PEAK * 100, CONS_TROUGH * 100,
         CONS_PERIOD_S);
    spec(wl, sizeof(wl), CONS_TROUGH, CONS_RATE);
    for (i = 0; i < CONS_VMS; i++)
        if (!vm_create(&free_host, &fv[i], "cons-free", pres, wl, 100 + i))
            goto out;
    for (;;) {
        unsigned phase;

        t = elapsed();
        /* Guest i peaks in quarter i of the period. */
        phase = (unsigned)(t / (CONS_PERIOD_S / CONS_VMS)) % CONS_VMS;
        if (phase != last_phase) {
            for (i = 0; i < CONS_VMS; i++) {
                spec(wl, sizeof(wl), i == phase ? CONS_PEAK : CONS_TROUGH,
                     CONS_RATE);
                vm_workload(&shaped, &sv[i], wl);
                vm_workload(&free_host, &fv[i], wl);
            }
            last_phase = phase;
        }
        if (admitted < CONS_VMS && t < CONS_ADMIT_S) {
            double hot = admitted == phase ? CONS_PEAK : CONS_TROUGH;

            spec(wl, sizeof(wl), hot, CONS_RATE);
            if (vm_create(&shaped, &sv[admitted], "cons", pres, wl,
                          100 + admitted)) {
                note("admitted guest %u (domain %u)", admitted,
                     sv[admitted].domid);
                admitted++;
            }
        }
        if (t_all < 0 && (admitted == CONS_VMS || t >= CONS_ADMIT_S)) {
            t_all = t;
            note("%u guests admitted; settling %.0f s", admitted,
                 CONS_SETTLE_S);
        }
        if (t_all >= 0 && t_m0 < 0 && t >= t_all + CONS_SETTLE_S) {
            t_m0 = t;
            for (i = 0; i < CONS_VMS; i++) {
                touch0 += vm_stats(&shaped, &sv[i]).touches;
                ftouch0 += vm_stats(&free_host, &fv[i]).touches;
            }
            note("measuring for one period");
        }
        if (t_m0 >= 0) {
            uint64_t paged = 0, presented = 0;

            for (i = 0; i < CONS_VMS; i++) {
                xenshape__sim_dom_stats st = vm_stats(&shaped, &sv[i]);

                if (!sv[i].up)
                    continue;
                paged += st.paged_pages;
                presented += st.max_pages;
            }
            if (presented) {
                share_sum += (double)paged / (double)presented;
                samples++;
            }
            if (t >= t_m0 + CONS_PERIOD_S)
                break;
        }
        tick(&shaped);
    }
    t = elapsed() - t_m0;
    for (i = 0; i < CONS_VMS; i++) {
        touch1 += vm_stats(&shaped, &sv[i]).touches;
        ftouch1 += vm_stats(&free_host, &fv[i]).touches;
    }
    note("shaped %.0f accesses/s, unconstrained %.0f accesses/s",
         (touch1 - touch0) / t, (ftouch1 - ftouch0) / t);
    note("targets: vms_ratio >= 1.6, throughput_ratio >= 0.9, "
         "store_share >= 0.35");
    printf("consolidation vms_ratio=%.2f throughput_ratio=%.3f "
           "store_share=%.3f\n", admitted / (double)(frames / pres),
           ftouch1 > ftouch0 ? (double)(touch1 - touch0) /
           (double)(ftouch1 - ftouch0) : 0.0,
           samples ? share_sum / samples : 0.0);
    fflush(stdout);
    rc = 0;
 out:
    rig_close(&free_host);
    rig_close(&shaped);
    return rc;
}

/* ---- SLO -------------------------------------------------------------- */

/*
 * A high-priority guest beside two soakers that take every frame it does
 * not need; the same guest runs alone on an unconstrained host at the
 * same time.  Its p99 access latency and its page-ins are compared.
 * To make room for the second soaker, cloud control caps the first one
 * with threshold-high until the second is created, then lifts the cap.
 */
#define SLO_RATE 20000u
#define SLO_HOT 0.4
#define SLO_SOAK_RATE 5000u
#define SLO_SETTLE_S 40.0
#define SLO_WINDOW_S 30.0

static void soaker_policy(struct rig *r, struct vm *v, const char *prio,
                          uint64_t min_op, uint64_t min_start)
{
    vm_policy(r, v, "priority", prio);
    vm_policy_frames(r, v, "min-operating", min_op);
    vm_policy_frames(r, v, "min-starting", min_start);
    vm_policy(r, v, "soaker", "1");
}

/* Create v (a soaker) once the shaped host has the RAM, capping capped
 * meanwhile.  false if that takes longer than limit_s. */
static bool admit_capped(struct rig *r, struct vm *capped, struct vm *v,
                         const char *name, uint64_t frames, const char *wl,
                         uint64_t seed, double limit_s)
{
    double t0 = elapsed();
    bool ok = false;

    vm_policy(r, capped, "threshold-low", "5%");
    vm_policy(r, capped, "threshold-high", "10%");
    while (elapsed() < t0 + limit_s) {
        if (host_free(r) >= frames &&
            vm_create(r, v, name, frames, wl, seed)) {
            ok = true;
            break;
        }
        tick(r);
    }
    vm_policy(r, capped, "threshold-high", "100%");
    vm_policy(r, capped, "threshold-low", "90%");
    return ok;
}

static int slo(const char *dir, uint64_t frames)
{
    struct rig shaped, solo;
    struct vm hp, s1, s2, alone;
    uint64_t *h0 = NULL, *h1 = NULL, *g0 = NULL, *g1 = NULL;
    uint64_t pres = frames / 2, wss, f0, f1, p99, q99;
    char wl[128], swl[128];
    double t0;
    unsigned i;
    int rc = 1;

    memset(&hp, 0, sizeof(hp));
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    memset(&alone, 0, sizeof(alone));
    h0 = calloc(XENSHAPE__SIM_LAT_BUCKETS, sizeof(*h0));
    h1 = calloc(XENSHAPE__SIM_LAT_BUCKETS, sizeof(*h1));
    g0 = calloc(XENSHAPE__SIM_LAT_BUCKETS, sizeof(*g0));
    g1 = calloc(XENSHAPE__SIM_LAT_BUCKETS, sizeof(*g1));
    if (!h0 || !h1 || !g0 || !g1)
        goto out_mem;
    if (rig_open(&shaped, dir, "slo", frames, true))
        goto out_mem;
    if (rig_open(&solo, dir, "slo-solo", frames, false)) {
        rig_close(&shaped);
        goto out_mem;
    }
    t_origin = now_s();
    wss = (uint64_t)(SLO_HOT * (double)pres + 0.5);
    note("slo: host %" PRIu64 " MiB, high-priority guest of %" PRIu64
         " MiB with a working set of %" PRIu64 " MiB, two soakers of %"
         PRIu64 " MiB", frames / 256, pres / 256, wss / 256, pres / 256);
    spec(wl, sizeof(wl), SLO_HOT, SLO_RATE);
    snprintf(swl, sizeof(swl), "uniform,write=0.3,rate=%u", SLO_SOAK_RATE);
    if (!vm_create(&solo, &alone, "slo-solo", pres, wl, 7) ||
        !vm_create(&shaped, &hp, "slo-hp", pres, wl, 7) ||
        !vm_create(&shaped, &s1, "slo-soaker1", pres, swl, 8))
        goto out;
    vm_policy(&shaped, &hp, "priority", "1000");
    soaker_policy(&shaped, &s1, "200", frames / 32, frames / 16);
    if (!admit_capped(&shaped, &s1, &s2, "slo-soaker2", pres, swl, 9,
                      60.0)) {
        note("the second soaker found no room in 60 s");
        goto out;
    }
    soaker_policy(&shaped, &s2, "100", frames / 32, frames / 16);
    note("soakers running; settling %.0f s", SLO_SETTLE_S);
    t0 = elapsed();
    while (elapsed() < t0 + SLO_SETTLE_S)
        tick(&shaped);
    note("measuring %.0f s: free %" PRIu64 " frames, guest %" PRIu64
         " resident, soakers %" PRIu64 " + %" PRIu64, SLO_WINDOW_S,
         host_free(&shaped), vm_stats(&shaped, &hp).tot_pages,
         vm_stats(&shaped, &s1).tot_pages, vm_stats(&shaped, &s2).tot_pages);
    vm_lat(&shaped, &hp, h0);
    vm_lat(&solo, &alone, g0);
    f0 = vm_faults(&shaped, &hp);
    t0 = elapsed();
    while (elapsed() < t0 + SLO_WINDOW_S)
        tick(&shaped);
    t0 = elapsed() - t0;
    vm_lat(&shaped, &hp, h1);
    vm_lat(&solo, &alone, g1);
    f1 = vm_faults(&shaped, &hp);
    for (i = 0; i < XENSHAPE__SIM_LAT_BUCKETS; i++) {
        h1[i] -= h0[i];
        g1[i] -= g0[i];
    }
    p99 = xenshape__sim_lat_quantile(h1, XENSHAPE__SIM_LAT_BUCKETS, 0.99);
    q99 = xenshape__sim_lat_quantile(g1, XENSHAPE__SIM_LAT_BUCKETS, 0.99);
    note("p99 %.2f us beside soakers, %.2f us alone; %" PRIu64 " page-ins;"
         " guest %" PRIu64 " resident, soakers %" PRIu64 " + %" PRIu64,
         p99 / 1e3, q99 / 1e3, f1 - f0, vm_stats(&shaped, &hp).tot_pages,
         vm_stats(&shaped, &s1).tot_pages, vm_stats(&shaped, &s2).tot_pages);
    note("targets: p99_ratio <= 1.05, pagein_wss_per_min <= 0.001");
    printf("slo p99_ratio=%.3f pagein_wss_per_min=%.5f\n",
           q99 ? (double)p99 / (double)q99 : 0.0,
           (double)(f1 - f0) / (double)wss / (t0 / 60.0));
    fflush(stdout);
    rc = 0;
 out:
    rig_close(&solo);
    rig_close(&shaped);
 out_mem:
    free(h0);
    free(h1);
    free(g0);
    free(g1);
    return rc;
}

/* ---- soakers ---------------------------------------------------------- */

/*
 * A generic guest and two soakers (priorities 900 and 100) that fill the
 * rest.  The guest's working set jumps so that the low-priority soaker's
 * min-operating no longer fits: how long until it is paused (or at its
 * minimum)?  Then the guest's demand flips every 5 s for the hysteresis
 * period (pause/resume cycles are counted), and then the guest is
 * destroyed, freeing its RAM at once: how long until the paused soaker
 * runs again, and how much of the freed RAM the soakers hold 10 s later?
 */
#define SOAK_RATE 5000u
#define SOAK_G_RATE 20000u
#define SOAK_LIGHT 0.10
#define SOAK_HEAVY 0.90
#define SOAK_SETTLE_S 30.0
#define SOAK_FLIP_S 5.0
#define SOAK_HOLD_S 61.0              /* hysteresis-s (60) and a tick */

static bool paused(struct rig *r, struct vm *v)
{
    return vm_stats(r, v).pause_count > 0;
}

static int soaker(const char *dir, uint64_t frames)
{
    struct rig shaped;
    struct vm g, s1, s2;
    uint64_t pres = frames / 2, min_op = frames * 3 / 10,
        min_start = frames * 35 / 100, freed, before, after;
    double t0, t_start, shrink = -1, relaunch = -1, t;
    unsigned cycles = 0, i;
    bool was_paused[2] = { false, false }, heavy;
    char light[128], heavyw[128], swl[128];
    struct vm *s[2] = { &s1, &s2 };
    int rc = 1;

    memset(&g, 0, sizeof(g));
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    if (rig_open(&shaped, dir, "soak", frames, true))
        return 1;
    t_origin = now_s();
    note("soaker: host %" PRIu64 " MiB, a guest and two soakers of %"
         PRIu64 " MiB each, min-operating %" PRIu64 " MiB, min-starting %"
         PRIu64 " MiB", frames / 256, pres / 256, min_op / 256,
         min_start / 256);
    spec(light, sizeof(light), SOAK_LIGHT, SOAK_G_RATE);
    spec(heavyw, sizeof(heavyw), SOAK_HEAVY, SOAK_G_RATE);
    snprintf(swl, sizeof(swl), "uniform,write=0.3,rate=%u", SOAK_RATE);
    t_start = elapsed();
    if (!vm_create(&shaped, &g, "soak-guest", pres, light, 21) ||
        !vm_create(&shaped, &s1, "soak-900", pres, swl, 22))
        goto out;
    soaker_policy(&shaped, &s1, "900", min_op, min_start);
    if (!admit_capped(&shaped, &s1, &s2, "soak-100", pres, swl, 23, 60.0)) {
        note("the second soaker found no room in 60 s");
        goto out;
    }
    soaker_policy(&shaped, &s2, "100", min_op, min_start);
    note("soakers running; settling %.0f s", SOAK_SETTLE_S);
    t0 = elapsed();
    while (elapsed() < t0 + SOAK_SETTLE_S)
        tick(&shaped);

    /* Contention: the guest's working set jumps. */
    note("guest's working set jumps: free %" PRIu64 ", guest %" PRIu64
         ", soakers %" PRIu64 " + %" PRIu64, host_free(&shaped),
         vm_stats(&shaped, &g).tot_pages, vm_stats(&shaped, &s1).tot_pages,
         vm_stats(&shaped, &s2).tot_pages);
    vm_workload(&shaped, &g, heavyw);
    heavy = true;
    t0 = elapsed();
    while (elapsed() < t0 + 30.0) {
        xenshape__sim_dom_stats st = vm_stats(&shaped, &s2);

        /* At its minimum: within 1/32 of it, as the soaker keeps
         * faulting back what the pager evicts down to its target. */
        if (shrink < 0 && (st.pause_count > 0 ||
                           st.tot_pages <= min_op + min_op / 32)) {
            shrink = elapsed() - t0;
            note("low-priority soaker %s after %.2f s", st.pause_count ?
                 "paused" : "at min-operating", shrink);
        }
        /* The guest stays heavy until the soaker is paused. */
        if (st.pause_count > 0)
            break;
        tick(&shaped);
    }
    note("low-priority soaker %s after %.2f s: guest %" PRIu64 ", soakers %"
         PRIu64 " + %" PRIu64, paused(&shaped, &s2) ? "paused" :
         "still running", elapsed() - t0, vm_stats(&shaped, &g).tot_pages,
         vm_stats(&shaped, &s1).tot_pages, vm_stats(&shaped, &s2).tot_pages);

    /* Pressure flips while the hysteresis runs; cycles are counted. */
    t0 = elapsed();
    t = t0;
    while (elapsed() < t0 + SOAK_HOLD_S) {
        if (elapsed() >= t + SOAK_FLIP_S) {
            heavy = !heavy;
            vm_workload(&shaped, &g, heavy ? heavyw : light);
            t = elapsed();
        }
        for (i = 0; i < 2; i++) {
            bool p = paused(&shaped, s[i]);

            if (p && !was_paused[i])
                cycles++;
            was_paused[i] = p;
        }
        tick(&shaped);
    }
    vm_workload(&shaped, &g, heavyw);

    /* The guest goes: its RAM is free at once. */
    before = vm_stats(&shaped, &s1).tot_pages +
        vm_stats(&shaped, &s2).tot_pages;
    note("guest destroyed: %" PRIu64 " frames freed; soakers hold %" PRIu64
         " (low-priority soaker %s)", vm_stats(&shaped, &g).tot_pages, before,
         paused(&shaped, &s2) ? "paused" : "running");
    xenshape__sim_dom_destroy(shaped.host, g.domid);
    g.up = false;
    /* What soakers may take: all that is free now, less the reserve. */
    freed = host_free(&shaped);
    freed = freed > frames / 64 ? freed - frames / 64 : 0;
    t0 = elapsed();
    while (elapsed() < t0 + 10.0) {
        if (relaunch < 0 && was_paused[1] && !paused(&shaped, &s2))
            relaunch = elapsed() - t0;
        for (i = 0; i < 2; i++) {
            bool p = paused(&shaped, s[i]);

            if (p && !was_paused[i])
                cycles++;
            was_paused[i] = p;
        }
        tick(&shaped);
    }
    after = vm_stats(&shaped, &s1).tot_pages +
        vm_stats(&shaped, &s2).tot_pages;
    t = elapsed() - t_start;
    note("soakers hold %" PRIu64 " 10 s later, of %" PRIu64 " free beyond "
         "the reserve at the destroy; %u pauses in %.0f s", after, freed,
         cycles, t);
    note("targets: absorb_10s >= 0.9, shrink_s <= 2, relaunch_s <= 5, "
         "cycles_per_60s <= 1");
    printf("soaker absorb_10s=%.3f shrink_s=%.2f relaunch_s=%.2f "
           "cycles_per_60s=%.2f\n",
           freed && after > before ? (double)(after - before) / freed : 0.0,
           shrink, relaunch, cycles * 60.0 / t);
    fflush(stdout);
    rc = 0;
 out:
    rig_close(&shaped);
    return rc;
}

int bench_shaping(const char *dir, uint64_t host_mib, const char *scenario)
{
    uint64_t frames = host_mib * 256;
    int rc = 0;

    mkdir(dir, 0700);
    if (!scenario || !strcmp(scenario, "consolidation"))
        rc |= consolidation(dir, frames);
    if (!scenario || !strcmp(scenario, "slo"))
        rc |= slo(dir, frames);
    if (!scenario || !strcmp(scenario, "soaker"))
        rc |= soaker(dir, frames);
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
