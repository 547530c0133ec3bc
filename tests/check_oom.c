/*
 * check_oom.c - out of memory, everywhere.  Each sequence of entry points
 * that allocates (a context's life on the simulated host, attach and
 * detach, eviction and prefetch, recovery of a store left by a dead
 * pager, the store on its own, every selection policy, the sampler, the
 * simulated host, the sim backend over its socket, the sim xenstore
 * client) is run with its Nth
 * allocation failing, N walking upward from 1 until the sequence runs
 * through without reaching N, as libuv's OOM tests do.  Each walk is done
 * twice: with the Nth allocation failing alone, and with it and every
 * later one failing, so that error paths which allocate are reached too.
 *
 * Every failing run must return XENSHAPE_ENOMEM (or the error its
 * interface documents, such as XENSHAPE_ETIMEDOUT for a detach that
 * could not page everything in), and leave the state usable: the same
 * sequence then succeeds with nothing armed, no file descriptor is left
 * behind, and no frame of any guest is lost or wrong.  A run may also
 * succeed despite a failed allocation where the library is designed to
 * do without (observation, the dedup comparison); those are counted as
 * absorbed, and the state is checked all the same.  Leaks are proven by
 * running this under LeakSanitizer (make check-asan) and memcheck (make
 * check-valgrind).
 *
 * Prints, per walk and in total, the failure points exercised and the
 * distinct call sites they failed.
 */

#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "private.h"
#include "kv/kv.h"
#include "pager/pager.h"
#include "select/observe.h"
#include "select/replay.h"
#include "select/select.h"
#include "sim/sim.h"
#include "sim/sim_host.h"
#include "store/store.h"

#define DOM_FRAMES 256u             /* 1 MiB guests: batches stay few */
#define STORE_BYTES (16ull << 20)
#define WALK_MAX 5000u              /* a walk longer than this is a bug */

static char dir[256];
/* The failure point being checked, for the messages of failed checks. */
static char where[160];
static xenshape__sim_host *host;
static xenshape_ctx *ctx;
static uint32_t domid;

/* ---- fixture and helpers --------------------------------------------- */

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static uint32_t new_dom(xenshape__sim_host *h, const char *wl)
{
    xenshape__sim_dom_params p;
    uint32_t id;

    memset(&p, 0, sizeof(p));
    p.name = "oom";
    p.frames = DOM_FRAMES;
    p.vcpus = 1;
    p.workload = wl;
    p.seed = 7;
    ck_assert_int_eq(xenshape__sim_dom_create(h, &p, &id), 0);
    return id;
}

static unsigned long total_points, total_absorbed;
static unsigned nr_sites;

static void setup(void)
{
    /* Counts are per test (check may run them all in one process). */
    total_points = total_absorbed = 0;
    nr_sites = 0;
    tu_mkdtemp(dir, "oom");
    ck_assert_int_eq(xenshape__sim_host_new(&host, 16 * DOM_FRAMES), 0);
    domid = new_dom(host, "idle");
}

static void setup_socket(void)
{
    total_points = total_absorbed = 0;
    nr_sites = 0;
    tu_mkdtemp(dir, "oom");
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

/* A context on the in-process host, without assertions: the sequence
 * under test.  On failure nothing is left allocated. */
static int ctx_open_sim(xenshape_ctx **ctx_r, const char *socket)
{
    char store[300], state[300];
    xenshape_ctx *c = NULL;
    int rc;

    path_in(store, sizeof(store), "store");
    path_in(state, sizeof(state), "state");
    rc = xenshape_ctx_new(&c, tu_logger());
    if (!rc)
        rc = xenshape_ctx_set_backend(c, "sim");
    if (!rc)
        rc = socket ? xenshape_ctx_set_sim_socket(c, socket)
                    : xenshape__ctx_set_sim_host(c, host);
    if (!rc)
        rc = xenshape_ctx_set_store(c, store, STORE_BYTES);
    if (!rc)
        rc = xenshape_ctx_set_state_dir(c, state);
    if (!rc)
        rc = xenshape_ctx_open(c);
    if (rc) {
        xenshape_ctx_free(c);
        return rc;
    }
    *ctx_r = c;
    return 0;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;       /* opendir's own */
}

/* The count of open descriptors, once it is back to want: threads of the
 * simulated host close theirs a moment after the client is done. */
static int fds_settled(int want)
{
    int n, tries;

    for (tries = 0; (n = count_fds()) != want && tries < 500; tries++)
        tu_msleep(10);
    return n;
}

/* The count once it stops changing. */
static int fds_stable(void)
{
    int a = count_fds(), b, tries;

    for (tries = 0; tries < 50; tries++, a = b) {
        tu_msleep(20);
        b = count_fds();
        if (a == b)
            break;
    }
    return a;
}

static bool ram_at_most(void *arg)
{
    uint64_t limit = *(uint64_t *)arg;
    xenshape_domstats st;

    return !xenshape_domain_stats(ctx, domid, &st) && st.tot_pages <= limit;
}

/* Attach (if need be) and page the whole guest out. */
static void page_all_out(void)
{
    uint64_t zero = 0;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &zero, 30000));
}

/* Every frame of the guest in RAM and right. */
static void assert_all_good(xenshape__sim_host *h, uint32_t id)
{
    xenshape__sim_dom_stats ss;
    xenshape__sim_verify v;

    ck_assert_int_eq(xenshape__sim_dom_verify(h, id, &v), 0);
    ck_assert_int_eq(xenshape__sim_dom_stats(h, id, &ss), 0);
    ck_assert_msg(!v.wrong && !v.paged && v.checked == DOM_FRAMES &&
                  !ss.wrong_reads, "%s: guest not whole: %llu wrong, %llu "
                  "paged, %llu checked, %llu wrong reads", where,
                  (unsigned long long)v.wrong, (unsigned long long)v.paged,
                  (unsigned long long)v.checked,
                  (unsigned long long)ss.wrong_reads);
}

/* What the guest has in RAM is right, and what it has not, we hold. */
static void assert_nothing_lost(void)
{
    xenshape__sim_verify v;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_msg(!v.wrong && !st.lost && !st.error &&
                  st.held_pages == st.paged_pages &&
                  st.paged_pages == v.paged, "%s: %llu wrong, %llu lost, "
                  "error %s, %llu held, %llu paged (host: %llu)", where,
                  (unsigned long long)v.wrong, (unsigned long long)st.lost,
                  xenshape_errname(st.error),
                  (unsigned long long)st.held_pages,
                  (unsigned long long)st.paged_pages,
                  (unsigned long long)v.paged);
}

/* ---- the walk ---------------------------------------------------------- */

/* The sequence under test: 0 or an error code (XENSHAPE_E*, or -errno
 * for the simulated host's own functions). */
typedef int walk_run(void *arg, bool persistent);
/* Bring the state back to where run started, checking on the way that
 * it is usable; rc is what run returned. */
typedef void walk_reset(void *arg, int rc);

static const void *sites[4096];

/*
 * XENSHAPE_OOM_SITES=FILE appends each new site to FILE as an offset in
 * the binary, for `sort -u FILE | addr2line -f -e check_oom` to name the
 * sites exercised (and so, by difference, those no walk reaches).
 */
static void dump_site(const void *s)
{
    const char *path = getenv("XENSHAPE_OOM_SITES");
    Dl_info info;
    FILE *f;

    if (!path || !dladdr(s, &info) || !(f = fopen(path, "a")))
        return;
    fprintf(f, "%#lx\n", (unsigned long)((const char *)s -
                                         (const char *)info.dli_fbase) - 1);
    fclose(f);
}

static void note_site(void)
{
    const void *s = xenshape__alloc_fail_site();
    unsigned i;

    for (i = 0; i < nr_sites; i++)
        if (sites[i] == s)
            return;
    if (nr_sites < XENSHAPE__ARRAY_SIZE(sites))
        sites[nr_sites++] = s;
    dump_site(s);
}

static bool listed(int rc, const int *codes)
{
    for (; codes && *codes; codes++)
        if (*codes == rc)
            return true;
    return false;
}

/*
 * Walk one sequence.  enomem is the code run returns for a failed
 * allocation (XENSHAPE_ENOMEM, or -ENOMEM for the simulated host);
 * also_ok lists other acceptable codes (0-terminated), or is NULL.
 */
static void walk(const char *name, walk_run *run, walk_reset *reset,
                 void *arg, int enomem, const int *also_ok)
{
    unsigned n, points = 0, absorbed = 0, first_sites = nr_sites;
    int fds, mode, rc;

    /* Once with nothing armed: the sequence works, and whatever it
     * caches for good (the sim backend keeps a view of each domain it
     * met) is there before the file descriptors are counted. */
    snprintf(where, sizeof(where), "%s: with nothing failing", name);
    rc = run(arg, false);
    ck_assert_msg(rc == 0, "%s: %d", where, rc);
    reset(arg, rc);
    fds = fds_stable();

    for (mode = 0; mode < 2; mode++) {
        bool persistent = mode == 1;

        for (n = 1;; n++) {
            unsigned long hits;

            ck_assert_msg(n < WALK_MAX, "%s: no end after %u allocations",
                          name, n);
            ck_assert_int_eq(xenshape_fault_set("alloc", n, ENOMEM,
                                                persistent), 0);
            rc = run(arg, persistent);
            hits = xenshape_fault_hits("alloc");
            xenshape_fault_clear_all();
            snprintf(where, sizeof(where), "%s: allocation %u failing%s "
                     "(run gave %s)", name, n,
                     persistent ? " and every later one" : "",
                     xenshape_errname(rc));
            if (!persistent && hits)
                note_site();
            if (!hits) {
                ck_assert_msg(rc == 0, "%s: failed with no allocation "
                              "failing: %d", name, rc);
                reset(arg, rc);
                ck_assert_int_eq(fds_settled(fds), fds);
                break;
            }
            ck_assert_msg(rc == 0 || rc == enomem || listed(rc, also_ok),
                          "%s: %d", where, rc);
            if (!rc)
                absorbed++;
            points++;
            reset(arg, rc);
            ck_assert_msg(fds_settled(fds) == fds, "%s: left %d file "
                          "descriptors open", where, count_fds() - fds);
        }
    }
    /* Something allocates in every one of these sequences: a walk with
     * no point proves nothing, and would mean the seam is bypassed. */
    ck_assert_uint_gt(points, 0);
    total_points += points;
    total_absorbed += absorbed;
    printf("oom: %-24s %4u failure points, %3u call sites, %3u absorbed "
           "by design\n", name, points, nr_sites - first_sites, absorbed);
    fflush(stdout);
}

static void report(const char *test)
{
    printf("oom: %s: %lu failure points in all, %u distinct call sites, "
           "%lu absorbed\n", test, total_points, nr_sites, total_absorbed);
    fflush(stdout);
}

/* ---- a context's life --------------------------------------------------- */

/* Open (formatting a new store), list, query, free. */
static int run_ctx_fresh(void *arg, bool persistent)
{
    xenshape_dominfo *list = NULL;
    xenshape_storestats ss;
    uint64_t total, fr;
    unsigned nr;
    int rc;

    rc = ctx_open_sim(&ctx, NULL);
    if (rc)
        return rc;
    rc = xenshape_domain_list(ctx, &list, &nr);
    if (!rc) {
        ck_assert_uint_eq(nr, 1);
        free(list);
        rc = xenshape_host_info(ctx, &total, &fr);
    }
    if (!rc)
        rc = xenshape_store_stats(ctx, &ss);
    return rc;
}

static void reset_ctx_fresh(void *arg, int rc)
{
    char path[300];

    xenshape_ctx_free(ctx);
    ctx = NULL;
    path_in(path, sizeof(path), "store");
    unlink(path);
}

START_TEST(oom_ctx_lifecycle)
{
    walk("ctx new/open/query/free", run_ctx_fresh, reset_ctx_fresh, NULL,
         XENSHAPE_ENOMEM, NULL);
    /* An existing, empty store: open without formatting. */
    ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
    xenshape_ctx_free(ctx);
    ctx = NULL;
    report("ctx");
}
END_TEST

/* ---- attach and detach of a guest with nothing paged ------------------- */

static int run_attach(void *arg, bool persistent)
{
    xenshape_domstats st;
    int rc;

    rc = xenshape_domain_attach(ctx, domid);
    if (!rc)
        rc = xenshape_domain_stats(ctx, domid, &st);
    return rc;
}

static void reset_attach(void *arg, int rc)
{
    if (rc) {
        /* Whatever failed, attaching again must work. */
        ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    }
    assert_nothing_lost();
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    assert_all_good(host, domid);
}

START_TEST(oom_attach_detach)
{
    ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
    walk("attach", run_attach, reset_attach, NULL, XENSHAPE_ENOMEM, NULL);
    report("attach");
}
END_TEST

/* ---- detach and prefetch of a guest paged out ------------------------- */

static int run_detach(void *arg, bool persistent)
{
    /* Failing every allocation, the frames cannot come back: detach
     * must give up in time, as documented, with nothing lost. */
    return xenshape_domain_detach(ctx, domid, persistent ? 300 : 10000);
}

static void reset_detach(void *arg, int rc)
{
    if (rc) {
        assert_nothing_lost();
        ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    }
    assert_all_good(host, domid);
    page_all_out();
}

static int run_prefetch(void *arg, bool persistent)
{
    uint64_t done = 0;

    /* Keep the engine from evicting what prefetch loads. */
    xenshape_domain_set_target(ctx, domid, UINT64_MAX);
    return xenshape_domain_prefetch(ctx, domid, DOM_FRAMES, &done);
}

static void reset_prefetch(void *arg, int rc)
{
    uint64_t zero = 0;

    assert_nothing_lost();
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &zero, 30000));
    assert_nothing_lost();
}

START_TEST(oom_detach_prefetch)
{
    static const int timedout[] = { XENSHAPE_ETIMEDOUT, 0 };

    ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
    page_all_out();
    walk("detach (all paged out)", run_detach, reset_detach, NULL,
         XENSHAPE_ENOMEM, timedout);
    walk("prefetch", run_prefetch, reset_prefetch, NULL, XENSHAPE_ENOMEM,
         0);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    assert_all_good(host, domid);
    report("detach/prefetch");
}
END_TEST

/* ---- eviction ----------------------------------------------------------- */

static int run_evict(void *arg, bool persistent)
{
    return xenshape_run(ctx, 200);
}

static void reset_evict(void *arg, int rc)
{
    assert_nothing_lost();
    /* Detach brings back what was evicted and what a failed batch left
     * nominated; then start over. */
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    assert_all_good(host, domid);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid,
                                                DOM_FRAMES / 2), 0);
}

START_TEST(oom_evict)
{
    ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, DOM_FRAMES / 2),
                     0);
    walk("run (eviction)", run_evict, reset_evict, NULL, XENSHAPE_ENOMEM, NULL);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    assert_all_good(host, domid);
    report("evict");
}
END_TEST

/*
 * Frames nominated and never evicted (the evictions lost a race): detach
 * brings each back through a copy before it disables paging.
 */
static void leave_nominated(void)
{
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    /* A few frames: each costs a handful of failure points. */
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, DOM_FRAMES - 8),
                     0);
    ck_assert_int_eq(xenshape_fault_set("hv.evict", 1, EBUSY, true), 0);
    xenshape_run(ctx, 100);
    xenshape_fault_clear_all();
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, UINT64_MAX), 0);
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    ck_assert_uint_gt(st.evict_busy, 0);
    ck_assert_uint_eq(st.paged_pages, 0);
}

static int run_detach_nominated(void *arg, bool persistent)
{
    return xenshape_domain_detach(ctx, domid, 10000);
}

static void reset_detach_nominated(void *arg, int rc)
{
    if (rc)
        ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    assert_all_good(host, domid);
    leave_nominated();
}

START_TEST(oom_detach_nominated)
{
    ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
    leave_nominated();
    walk("detach (frames nominated)", run_detach_nominated,
         reset_detach_nominated, NULL, XENSHAPE_ENOMEM, NULL);
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    assert_all_good(host, domid);
    report("nominated");
}
END_TEST

/* ---- a new pager recovering what a dead one left ------------------------ */

static int run_recover(void *arg, bool persistent)
{
    xenshape_domstats st;
    int rc;

    rc = ctx_open_sim(&ctx, NULL);
    if (!rc)
        rc = xenshape_domain_attach(ctx, domid);
    if (!rc)
        rc = xenshape_domain_stats(ctx, domid, &st);
    return rc;
}

/* Leave the guest paged out and its ring without a pager, as a crash
 * would; a failed run must not have lost a record on the way. */
static void reset_recover(void *arg, int rc)
{
    if (rc) {
        xenshape_ctx_free(ctx);
        ctx = NULL;
        ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
        ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    }
    assert_nothing_lost();
    ck_assert_uint_eq(ctx->nr_orphans, 0);
    xenshape_ctx_free(ctx);
    ctx = NULL;
}

START_TEST(oom_recover_after_pager_loss)
{
    ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
    page_all_out();
    xenshape_ctx_free(ctx);
    ctx = NULL;
    walk("open+attach (recovery)", run_recover, reset_recover, NULL,
         XENSHAPE_ENOMEM, NULL);
    ck_assert_int_eq(ctx_open_sim(&ctx, NULL), 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    assert_nothing_lost();
    ck_assert_int_eq(xenshape_domain_detach(ctx, domid, 10000), 0);
    assert_all_good(host, domid);
    report("recovery");
}
END_TEST

/* ---- the store on its own ---------------------------------------------- */

#define ST_PAGES 96u

struct store_walk {
    char path[300];
    uint8_t *pages;             /* ST_PAGES + 8 pages, + 1 byte slack */
    xenshape__store *st;
    unsigned recovered;
};

static void fill(uint8_t *p, unsigned i)
{
    unsigned k;

    /* Every 8th page zero, every 5th a copy of page 1 (dedup). */
    if (i % 8 == 0) {
        memset(p, 0, XENSHAPE_PAGE_SIZE);
        return;
    }
    if (i % 5 == 0)
        i = 1;
    for (k = 0; k < XENSHAPE_PAGE_SIZE; k++)
        p[k] = (uint8_t)(i * 131 + k * 7 + (k >> 8));
}

/* Keep the fixture's records; the batches run_store() stored and freed
 * are still on disk (free is in memory only) and are offered again:
 * free them, as the engine does with frames back in RAM. */
static bool count_kept(void *arg, uint32_t dom, uint32_t tag, uint64_t gfn,
                       xenshape__store_rec rec)
{
    struct store_walk *w = arg;

    if (dom != 1)
        return false;
    w->recovered++;
    return true;
}

/* Open an existing store, recover it, read its pages back one by one and
 * in a batch (through unaligned buffers, which need bounce buffers), and
 * store a batch with duplicates of stored pages. */
static int run_store(void *arg, bool persistent)
{
    struct store_walk *w = arg;
    xenshape__store_params p = { .path = w->path };
    xenshape__store_page pg[8];
    xenshape__store_rec recs[8], got[8];
    uint8_t *buf = NULL;
    void *bufs[8];
    int rcs[8], rc;
    unsigned i;

    w->recovered = 0;
    rc = xenshape__store_open(&w->st, &p, tu_logger());
    if (rc)
        return rc;
    rc = xenshape__store_recover(w->st, count_kept, w);
    if (rc)
        return rc;
    ck_assert_msg(w->recovered == ST_PAGES, "%s: recovered %u", where,
                  w->recovered);
    buf = malloc(8 * XENSHAPE_PAGE_SIZE + 1);
    ck_assert_ptr_nonnull(buf);
    for (i = 0; i < 8; i++) {
        got[i] = i + 1;
        bufs[i] = buf + 1 + i * XENSHAPE_PAGE_SIZE;
    }
    rc = xenshape__store_get(w->st, 2, buf + 1);
    if (!rc)
        rc = xenshape__store_get_batch(w->st, got, 8, bufs, rcs);
    for (i = 0; !rc && i < 8; i++)
        rc = rcs[i];
    if (!rc) {
        for (i = 0; i < 8; i++) {
            /* Four new pages, four copies of a stored one. */
            fill(buf + 1 + i * XENSHAPE_PAGE_SIZE, i < 4 ? 201 + i : 45);
            pg[i] = (xenshape__store_page){ 2, 2, i,
                                            buf + 1 + i * XENSHAPE_PAGE_SIZE };
        }
        rc = xenshape__store_put(w->st, pg, 8, recs);
        for (i = 0; !rc && i < 8; i++)
            xenshape__store_free(w->st, recs[i]);
    }
    free(buf);
    return rc;
}

static void reset_store(void *arg, int rc)
{
    struct store_walk *w = arg;
    xenshape_storestats ss;

    if (w->st) {
        ck_assert_int_eq(xenshape__store_stats(w->st, &ss), 0);
        ck_assert_msg(ss.records_used == ST_PAGES && !ss.failed,
                      "%s: %llu records used%s", where,
                      (unsigned long long)ss.records_used,
                      ss.failed ? ", store failed" : "");
    }
    xenshape__store_close(w->st);
    w->st = NULL;
}

/* Format a new store, and close it. */
static int run_store_format(void *arg, bool persistent)
{
    struct store_walk *w = arg;
    xenshape__store_params p = { .path = w->path, .size_bytes = 4 << 20 };

    return xenshape__store_open(&w->st, &p, tu_logger());
}

static void reset_store_format(void *arg, int rc)
{
    struct store_walk *w = arg;

    xenshape__store_close(w->st);
    w->st = NULL;
    unlink(w->path);
}

START_TEST(oom_store)
{
    struct store_walk w = { .st = NULL };
    xenshape__store_params p = { .path = w.path, .size_bytes = 4 << 20 };
    xenshape__store_page pg[ST_PAGES];
    xenshape__store_rec recs[ST_PAGES];
    xenshape__store *st = NULL;
    unsigned i;

    path_in(w.path, sizeof(w.path), "fmt.store");
    walk("store format", run_store_format, reset_store_format, &w,
         XENSHAPE_ENOMEM, NULL);

    path_in(w.path, sizeof(w.path), "rec.store");
    w.pages = aligned_alloc(XENSHAPE_PAGE_SIZE,
                            ST_PAGES * XENSHAPE_PAGE_SIZE);
    ck_assert_ptr_nonnull(w.pages);
    for (i = 0; i < ST_PAGES; i++) {
        fill(w.pages + i * XENSHAPE_PAGE_SIZE, i);
        pg[i] = (xenshape__store_page){ 1, 1, i,
                                        w.pages + i * XENSHAPE_PAGE_SIZE };
    }
    ck_assert_int_eq(xenshape__store_open(&st, &p, tu_logger()), 0);
    ck_assert_int_eq(xenshape__store_put(st, pg, ST_PAGES, recs), 0);
    xenshape__store_close(st);
    walk("store open/recover/get/put", run_store, reset_store, &w,
         XENSHAPE_ENOMEM, NULL);
    free(w.pages);
    report("store");
}
END_TEST

/* ---- page selection ---------------------------------------------------- */

struct pol_walk {
    const char *name;
    unsigned flags;
    xenshape__policy *p;
    xenshape__observe *o;
};

static bool any_frame(void *arg, uint64_t gfn)
{
    return gfn % 3 != 0;
}

static int run_policy(void *arg, bool persistent)
{
    struct pol_walk *w = arg;
    uint64_t out[16];
    int rc;

    rc = xenshape__policy_new(&w->p, w->name, 5000, 11, w->flags);
    if (rc)
        return rc;
    xenshape__policy_access(w->p, 3);
    xenshape__policy_evicted(w->p, 4);
    xenshape__policy_admit(w->p, 4);
    ck_assert_uint_gt(xenshape__policy_choose(w->p, any_frame, NULL, out,
                                              16), 0);
    return 0;
}

static void reset_policy(void *arg, int rc)
{
    struct pol_walk *w = arg;

    xenshape__policy_free(w->p);
    w->p = NULL;
}

static int run_observe(void *arg, bool persistent)
{
    struct pol_walk *w = arg;
    uint64_t gfns[64];
    int rc;

    rc = xenshape__observe_new(&w->o, 5000, NULL, w->flags);
    if (rc)
        return rc;
    xenshape__observe_evicted(w->o, 5);
    xenshape__observe_admit(w->o, 6);
    xenshape__observe_pick(w->o, any_frame, NULL, gfns, 64);
    return 0;
}

static void reset_observe(void *arg, int rc)
{
    struct pol_walk *w = arg;

    xenshape__observe_free(w->o);
    w->o = NULL;
}

START_TEST(oom_select)
{
    static const unsigned flags[] = {
        0, XENSHAPE__POLICY_ALL_RESIDENT,
        XENSHAPE__POLICY_ALL_RESIDENT | XENSHAPE__POLICY_SAMPLED,
    };
    const char *const *names = xenshape__policy_names();
    struct pol_walk w = { NULL };
    char label[64];
    unsigned i, f;

    for (i = 0; names[i]; i++)
        for (f = 0; f < XENSHAPE__ARRAY_SIZE(flags); f++) {
            w.name = names[i];
            w.flags = flags[f];
            snprintf(label, sizeof(label), "policy %s/%u", names[i],
                     flags[f]);
            walk(label, run_policy, reset_policy, &w, XENSHAPE_ENOMEM, NULL);
        }
    for (f = 0; f < 2; f++) {
        w.flags = flags[f];
        snprintf(label, sizeof(label), "observe/%u", flags[f]);
        walk(label, run_observe, reset_observe, &w, XENSHAPE_ENOMEM, NULL);
    }
    report("select");
}
END_TEST

/* ---- trace replay (the replay and bench tools) --------------------------- */

struct replay_walk {
    char path[300];
    char *text;
    xenshape__trace *t;
};

/* Read a trace from a file and from memory, Belady's optimum on it, and
 * a replay of every policy, in both observation modes. */
static int run_replay(void *arg, bool persistent)
{
    const char *const *names = xenshape__policy_names();
    struct replay_walk *w = arg;
    xenshape__replay_params prm;
    xenshape__replay_stats rs;
    xenshape__trace_error err;
    xenshape__trace *t2 = NULL;
    uint32_t *next = NULL;
    uint64_t faults;
    unsigned i, mode;
    int rc;

    rc = xenshape__trace_load(w->path, &w->t, &err);
    if (!rc)
        rc = xenshape__trace_parse(w->text, strlen(w->text), &t2, &err);
    if (!rc)
        rc = xenshape__opt_faults(w->t, 16, &faults);
    if (!rc)
        rc = xenshape__opt_next_use(w->t, &next);
    if (!rc)
        rc = xenshape__opt_faults_next(w->t, next, 16, &faults);
    for (i = 0; !rc && names[i]; i++)
        for (mode = 0; !rc && mode < 2; mode++) {
            xenshape__replay_params_default(&prm);
            prm.policy = names[i];
            prm.frames = 16;
            prm.observe = mode ? XENSHAPE__OBSERVE_XEN
                               : XENSHAPE__OBSERVE_ALL;
            rc = xenshape__replay_run(w->t, &prm, &rs);
        }
    free(next);
    xenshape__trace_free(t2);
    return rc;
}

static void reset_replay(void *arg, int rc)
{
    struct replay_walk *w = arg;

    xenshape__trace_free(w->t);
    w->t = NULL;
}

START_TEST(oom_replay)
{
    struct replay_walk w = { .t = NULL };
    size_t len = 0, cap = 64 * 4000;
    unsigned i;
    FILE *f;

    w.text = malloc(cap);
    ck_assert_ptr_nonnull(w.text);
    /* 4000 references over 64 pages, a few of them writes: enough to
     * grow the reader's tables past their first size. */
    for (i = 0; i < 4000; i++)
        len += (size_t)snprintf(w.text + len, cap - len, "%c %x\n",
                                i % 7 ? 'R' : 'W',
                                (i * 37 + i / 50) % 64 * 0x1000 + 0x1000);
    path_in(w.path, sizeof(w.path), "oom.trace");
    f = fopen(w.path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(w.text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    walk("trace, optimum, replay", run_replay, reset_replay, &w,
         XENSHAPE_ENOMEM, NULL);
    free(w.text);
    report("replay");
}
END_TEST

/* ---- the simulated host ------------------------------------------------- */

static int run_simhost(void *arg, bool persistent)
{
    xenshape__sim_dom_params p;
    xenshape__sim_host *h = NULL;
    char sock[300];
    uint32_t id;
    int r;

    path_in(sock, sizeof(sock), "oom.sock");
    r = xenshape__sim_host_new(&h, 1024);
    if (r)
        return r;
    memset(&p, 0, sizeof(p));
    p.name = "simoom";
    p.frames = 128;
    p.vcpus = 2;
    p.workload = "hot:0.2:0.9,write=0.2,rate=1000";
    p.seed = 3;
    r = xenshape__sim_dom_create(h, &p, &id);
    if (!r)
        r = xenshape__sim_dom_workload(h, id, "sweep,rate=1000");
    if (!r)
        r = xenshape__sim_dom_workload(h, id, "idle");
    if (!r)
        r = xenshape__sim_host_listen(h, sock);
    if (!r) {
        struct xenshape__sim_workload *wl = NULL;
        char spec[320];

        /* A trace workload is only parsed here: the file is no trace. */
        snprintf(spec, sizeof(spec), "trace:%s,write=0.1", sock);
        r = xenshape__sim_workload_parse(spec, &wl);
        xenshape__sim_workload_put(wl);
    }
    if (!r) {
        xenshape__sim_verify v;

        ck_assert_int_eq(xenshape__sim_dom_verify(h, id, &v), 0);
        ck_assert_uint_eq(v.wrong, 0);
        r = xenshape__sim_dom_destroy(h, id);
    }
    xenshape__sim_host_free(h);
    return r;
}

static void reset_nothing(void *arg, int rc)
{
}

/* The host's control socket, client and server in this process: the
 * server's threads allocate too, in whatever order the scheduler gives,
 * and a server out of memory drops the connection. */
static int run_simctl(void *arg, bool persistent)
{
    char sock[300], reply[512], req[64];
    int r;

    path_in(sock, sizeof(sock), "ctl.sock");
    snprintf(req, sizeof(req), "STATS %u", domid);
    r = xenshape__sim_ctl(sock, "HOST", reply, sizeof(reply));
    if (!r)
        r = xenshape__sim_ctl(sock, req, reply, sizeof(reply));
    return r;
}

START_TEST(oom_simhost)
{
    static const int dropped[] = { -ECONNRESET, -EPIPE, 0 };
    char sock[300];

    walk("sim host", run_simhost, reset_nothing, NULL, -ENOMEM, NULL);
    path_in(sock, sizeof(sock), "ctl.sock");
    ck_assert_int_eq(xenshape__sim_host_listen(host, sock), 0);
    walk("sim host control socket", run_simctl, reset_nothing, NULL,
         -ENOMEM, dropped);
    report("simhost");
}
END_TEST

/* ---- the sim backend over its socket ----------------------------------- */

/* The host runs in a child, as xenshape-simhost does, so that the faults
 * armed here fail the library's allocations only, not the host's.  It
 * is forked before this process has any thread: a child forked while
 * another thread holds an allocator lock (ASan's, say) would hang. */
static pid_t host_child(const char *sock, uint32_t *id_r)
{
    xenshape__sim_host *h;
    int pfd[2];
    pid_t pid;

    ck_assert_int_eq(pipe(pfd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (!pid) {
        uint32_t id = 0;

        close(pfd[0]);
        if (xenshape__sim_host_new(&h, 4 * DOM_FRAMES) ||
            xenshape__sim_host_listen(h, sock))
            tu_child_exit(1);
        id = new_dom(h, "idle");
        if (write(pfd[1], &id, sizeof(id)) != sizeof(id))
            tu_child_exit(1);
        close(pfd[1]);
        xenshape__sim_host_wait_shutdown(h, 120000);
        xenshape__sim_host_free(h);
        tu_child_exit(0);
    }
    close(pfd[1]);
    ck_assert_int_eq(read(pfd[0], id_r, sizeof(*id_r)), sizeof(*id_r));
    close(pfd[0]);
    return pid;
}

struct sock_walk {
    char sock[300];
    uint32_t id;
};

static int run_socket(void *arg, bool persistent)
{
    struct sock_walk *w = arg;
    xenshape_dominfo *list = NULL;
    unsigned nr;
    int rc;

    rc = ctx_open_sim(&ctx, w->sock);
    if (rc)
        return rc;
    rc = xenshape_domain_list(ctx, &list, &nr);
    free(list);
    if (!rc)
        rc = xenshape_domain_attach(ctx, w->id);
    if (!rc)
        rc = xenshape_domain_detach(ctx, w->id, 10000);
    return rc;
}

static void reset_socket(void *arg, int rc)
{
    struct sock_walk *w = arg;

    if (rc && ctx) {
        /* A failed attach or detach: finish the detach ourselves. */
        if (xenshape_domain_attach(ctx, w->id) == 0)
            ck_assert_int_eq(xenshape_domain_detach(ctx, w->id, 10000), 0);
    }
    xenshape_ctx_free(ctx);
    ctx = NULL;
}

START_TEST(oom_sim_socket)
{
    struct sock_walk w;
    char reply[256];
    int status;
    pid_t pid;

    path_in(w.sock, sizeof(w.sock), "host.sock");
    pid = host_child(w.sock, &w.id);
    walk("sim backend over socket", run_socket, reset_socket, &w,
         XENSHAPE_ENOMEM, NULL);
    /* The guest came through all of it whole. */
    ck_assert_int_eq(xenshape__sim_ctl(w.sock, "SHUTDOWN", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    report("socket");
}
END_TEST

/* ---- the xenstore client over the socket -------------------------------- */

static int kv_write_two(xenshape__kv_handle *h, xenshape__kv_txn t,
                        void *arg)
{
    int r;

    r = xenshape__kv_write_str(h, t, "/oom/a", "1");
    if (!r)
        r = xenshape__kv_write_str(h, t, "/oom/b", "2");
    return r;
}

/* Every op of the kv port once, an event included; -errno from the ops
 * becomes a XENSHAPE_E* code, as the daemon would see it. */
static int run_kv(void *arg, bool persistent)
{
    struct sock_walk *w = arg;
    xenshape__kv_handle *h = NULL;
    xenshape__kv_perm *perms = NULL;
    char **names = NULL, *val = NULL, *path = NULL, *token = NULL;
    unsigned n = 0, tries;
    size_t len;
    int rc, r;

    rc = xenshape__kv_open(&h, "sim", w->sock, tu_logger());
    if (rc)
        return rc;
    r = xenshape__kv_watch(h, "/oom", "tok");
    if (!r)
        r = xenshape__kv_transact(h, kv_write_two, NULL);
    if (!r)
        r = xenshape__kv_read(h, XENSHAPE__KV_NO_TXN, "/oom/a", &val, &len);
    if (!r)
        r = xenshape__kv_directory(h, XENSHAPE__KV_NO_TXN, "/oom", &names,
                                   &n);
    if (!r)
        r = xenshape__kv_get_perms(h, XENSHAPE__KV_NO_TXN, "/oom", &perms,
                                   &n);
    /* The watch's first event, at least, is there or on its way. */
    for (tries = 0; !r && tries < 500; tries++) {
        struct pollfd pf = { xenshape__kv_watch_fd(h), POLLIN, 0 };

        r = xenshape__kv_read_watch(h, &path, &token);
        if (r != -EAGAIN)
            break;
        r = 0;
        poll(&pf, 1, 10);
    }
    if (!r && !path)
        r = -ETIMEDOUT;
    if (!r)
        r = xenshape__kv_unwatch(h, "/oom", "tok");
    if (!r)
        r = xenshape__kv_rm(h, XENSHAPE__KV_NO_TXN, "/oom");
    free(val);
    free(perms);
    free(path);
    free(token);
    xenshape__kv_free_list(names);
    xenshape__kv_close(h);
    return r ? xenshape__rc_from_errno(r) : 0;
}

START_TEST(oom_kv)
{
    struct sock_walk w;
    char reply[256];
    int status;
    pid_t pid;

    path_in(w.sock, sizeof(w.sock), "host.sock");
    pid = host_child(w.sock, &w.id);
    walk("sim xenstore client", run_kv, reset_nothing, &w, XENSHAPE_ENOMEM,
         NULL);
    ck_assert_int_eq(xenshape__sim_ctl(w.sock, "SHUTDOWN", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    report("kv");
}
END_TEST

static Suite *oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("walks");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, oom_ctx_lifecycle);
    tcase_add_test(tc, oom_attach_detach);
    tcase_add_test(tc, oom_detach_prefetch);
    tcase_add_test(tc, oom_evict);
    tcase_add_test(tc, oom_detach_nominated);
    tcase_add_test(tc, oom_recover_after_pager_loss);
    tcase_add_test(tc, oom_store);
    tcase_add_test(tc, oom_select);
    tcase_add_test(tc, oom_replay);
    tcase_add_test(tc, oom_simhost);
    suite_add_tcase(s, tc);
    /* No simulated host of our own here: the child has it. */
    tc = tcase_create("socket");
    tcase_add_checked_fixture(tc, setup_socket, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, oom_sim_socket);
    tcase_add_test(tc, oom_kv);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(oom_suite());
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
