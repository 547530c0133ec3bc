/*
 * bench.c - benchmarks of xenshape, as programs that measure xenshape and
 * a raw baseline side by side, interleaved in one run, and print ratios.
 * Nothing here asserts a timing: machines are noisy, the reader judges.
 *
 * --datapath: the paging data path on an in-process simulated host.
 *   page-in latency: the ring thread's page-in path for one frame (read
 *   through the store with io_uring, XXH3 verify, load into the guest),
 *   interleaved with raw O_DIRECT 4 KiB preads of data slots of the same
 *   store file;
 *   page-out throughput: evicting a whole domain through the engine
 *   (nominate, map, durable batched write, evict), alternated with raw
 *   O_DIRECT 4 KiB random writes at queue depth 16 to a file of the same
 *   size on the same file system; CPU is the process's user+system time
 *   over wall time during the engine's rounds (it includes the simulated
 *   hypervisor's share, which on real Xen would not be Dom0's).
 * The last line is the machine-readable summary.
 *
 * --shaping: the shaping policy on simulated hosts (shaping.c).
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pager/pager.h"
#include "sim/sim.h"
#include "bench.h"

#define QD 16

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
        ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[(size_t)(p * (n - 1))];
}

static void bench_log(xentoollog_logger *lg, xentoollog_level level,
                      int errnoval, const char *context, const char *format,
                      va_list al)
{
    static int verbose = -1;

    /* BENCH_VERBOSE=1 shows the library's and the shaper's information
     * too (each shaping decision, with its reason). */
    if (verbose < 0)
        verbose = getenv("BENCH_VERBOSE") != NULL;
    if (level < (verbose ? XTL_INFO : XTL_WARN))
        return;
    vfprintf(stderr, format, al);
    fputc('\n', stderr);
}

static void bench_progress(xentoollog_logger *lg, const char *c,
                           const char *w, int p, unsigned long d,
                           unsigned long t)
{
}

static void bench_destroy(xentoollog_logger *lg)
{
}

xentoollog_logger bench_logger = {
    .vmessage = bench_log, .progress = bench_progress,
    .destroy = bench_destroy,
};

/* Raw baseline: n random 4 KiB O_DIRECT writes at queue depth QD. */
static double raw_writes(int fd, uint64_t slots, uint64_t n, void *buf)
{
    struct io_uring ring;
    struct io_uring_cqe *cqe;
    uint64_t submitted = 0, done = 0;
    double t0;

    if (io_uring_queue_init(QD, &ring, 0) < 0)
        die("io_uring_queue_init failed");
    t0 = now_s();
    while (done < n) {
        while (submitted < n && submitted - done < QD) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

            io_uring_prep_write(sqe, fd, buf, 4096,
                                (off_t)(rnd() % slots) * 4096);
            submitted++;
        }
        io_uring_submit_and_wait(&ring, 1);
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
            if (cqe->res != 4096)
                die("raw write: %s", strerror(-cqe->res));
            io_uring_cqe_seen(&ring, cqe);
            done++;
        }
    }
    t0 = now_s() - t0;
    io_uring_queue_exit(&ring);
    return t0;
}

static uint64_t dom_ram(xenshape_ctx *ctx, uint32_t domid)
{
    xenshape_domstats st;

    if (xenshape_domain_stats(ctx, domid, &st))
        die("domain stats failed");
    return st.tot_pages;
}

static int datapath(const char *dir, uint64_t frames, unsigned rounds,
                    unsigned samples)
{
    char store[512], raw[512], state[512];
    xenshape__sim_dom_params dp;
    xenshape__sim_host *host = NULL;
    xenshape_ctx *ctx = NULL;
    uint32_t domid;
    double engine_s = 0, raw_s = 0, engine_cpu = 0;
    double *pin, *praw;
    uint64_t *order, evicted_total = 0, raw_total = 0, g;
    unsigned r, i, nsamp;
    void *buf;
    int rawfd, rc;

    snprintf(store, sizeof(store), "%s/bench.store", dir);
    snprintf(raw, sizeof(raw), "%s/bench.raw", dir);
    snprintf(state, sizeof(state), "%s/state", dir);
    mkdir(dir, 0700);
    unlink(store);

    if (xenshape__sim_host_new(&host, frames + frames / 4))
        die("cannot create the simulated host");
    memset(&dp, 0, sizeof(dp));
    dp.name = "bench";
    dp.frames = frames;
    dp.vcpus = 1;
    dp.workload = "idle,zero=0,dup=0";
    dp.seed = 1;
    if (xenshape__sim_dom_create(host, &dp, &domid))
        die("cannot create the domain");
    if (xenshape_ctx_new(&ctx, &bench_logger) ||
        xenshape_ctx_set_backend(ctx, "sim") ||
        xenshape__ctx_set_sim_host(ctx, host) ||
        xenshape_ctx_set_store(ctx, store, frames * 4096 * 2) ||
        xenshape_ctx_set_state_dir(ctx, state) ||
        xenshape_ctx_open(ctx) || xenshape_domain_attach(ctx, domid))
        die("cannot open the pager on %s", store);

    buf = xenshape__alloc_aligned(4096);
    memset(buf, 0xa5, 4096);
    rawfd = open(raw, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    if (rawfd < 0)
        die("%s: %s", raw, strerror(errno));
    /* Write the raw file once, so neither side writes unwritten extents
     * in the measured rounds (the store's slots are written in round 0). */
    for (g = 0; g < frames; g++)
        if (pwrite(rawfd, buf, 4096, (off_t)g * 4096) != 4096)
            die("raw fill: %s", strerror(errno));
    fdatasync(rawfd);

    /* Round 0 warms both sides up and is not counted. */
    for (r = 0; r <= rounds; r++) {
        double t, c, rt;
        uint64_t before, done = 0;

        before = dom_ram(ctx, domid);
        xenshape_domain_set_target(ctx, domid, 0);
        t = now_s();
        c = cpu_s();
        while (dom_ram(ctx, domid) > 0)
            if ((rc = xenshape_run(ctx, 100)) && rc != XENSHAPE_ENOMEM)
                die("run: %s", xenshape_strerror(rc));
        t = now_s() - t;
        c = cpu_s() - c;
        rt = raw_writes(rawfd, frames, before, buf);
        if (r > 0) {
            engine_s += t;
            engine_cpu += c;
            evicted_total += before;
            raw_s += rt;
            raw_total += before;
        }
        fprintf(stderr, "round %u: page-out %" PRIu64 " frames in %.3f s "
                "(%.0f/s, cpu %.2f), raw %.0f writes/s\n", r, before, t,
                before / t, c / t, before / rt);
        if (r == rounds)
            break;
        xenshape_domain_set_target(ctx, domid, UINT64_MAX);
        xenshape_domain_prefetch(ctx, domid, UINT64_MAX, &done);
    }

    /* Page-in latency, interleaved with raw reads of the same file. */
    nsamp = samples < frames / 2 ? samples : (unsigned)(frames / 2);
    pin = calloc(nsamp, sizeof(*pin));
    praw = calloc(nsamp, sizeof(*praw));
    order = calloc(frames, sizeof(*order));
    for (g = 0; g < frames; g++)
        order[g] = g;
    for (g = frames - 1; g > 0; g--) {
        uint64_t j = rnd() % (g + 1), tmp = order[g];

        order[g] = order[j];
        order[j] = tmp;
    }
    for (i = 0; i < nsamp; i++) {
        xenshape__dom *d = xenshape__pager_find(ctx, domid);
        uint64_t gin = order[2 * i], graw = order[2 * i + 1], off;
        double t;
        int fd;

        if (xenshape__store_raw(ctx->store, d->gfn_rec[graw], &fd, &off))
            die("no raw location for gfn %" PRIu64, graw);
        t = now_s();
        rc = xenshape__pager_load_gfn(ctx, domid, gin, buf);
        pin[i] = (now_s() - t) * 1e6;
        if (rc)
            die("page-in of gfn %" PRIu64 ": %s", gin, strerror(-rc));
        t = now_s();
        if (pread(fd, buf, 4096, (off_t)off) != 4096)
            die("raw read: %s", strerror(errno));
        praw[i] = (now_s() - t) * 1e6;
    }

    {
        double p50 = pct(pin, nsamp, 0.5), p99 = pct(pin, nsamp, 0.99);
        double r50 = pct(praw, nsamp, 0.5), r99 = pct(praw, nsamp, 0.99);
        double iops = evicted_total / engine_s, riops = raw_total / raw_s;

        printf("datapath frames=%" PRIu64 " rounds=%u samples=%u "
               "dir=%s\n", frames, rounds, nsamp, dir);
        printf("ratios: pagein_p50-raw_p50=%+.1f us (target <= +5), "
               "pagein_p99/raw_p99=%.2f (target <= 1.2), "
               "pageout/raw_write=%.2f (target >= 0.8), pageout_cpu=%.2f "
               "cores (target <= 1)\n", p50 - r50, p99 / r99, iops / riops,
               engine_cpu / engine_s);
        printf("datapath pagein_p50_us=%.1f raw_p50_us=%.1f "
               "pagein_p99_us=%.1f raw_p99_us=%.1f pageout_iops=%.0f "
               "raw_write_iops=%.0f pageout_cpu=%.2f\n", p50, r50, p99, r99,
               iops, riops, engine_cpu / engine_s);
    }
    close(rawfd);
    unlink(raw);
    xenshape_ctx_free(ctx);
    xenshape__sim_host_free(host);
    unlink(store);
    free(pin);
    free(praw);
    free(order);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "datapath", no_argument, NULL, 'D' },
        { "shaping", no_argument, NULL, 'S' },
        { "scenario", required_argument, NULL, 's' },
        { "host-mib", required_argument, NULL, 'm' },
        { "dir", required_argument, NULL, 'd' },
        { "frames", required_argument, NULL, 'f' },
        { "rounds", required_argument, NULL, 'r' },
        { "samples", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = "build/bench";
    uint64_t frames = 65536;
    unsigned rounds = 3, samples = 20000;
    uint64_t host_mib = 128;
    const char *scenario = NULL;
    bool dp = false, sh = false;
    int c;

    while ((c = getopt_long(argc, argv, "DSs:m:d:f:r:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'D': dp = true; break;
        case 'S': sh = true; break;
        case 's': scenario = optarg; break;
        case 'm': host_mib = strtoull(optarg, NULL, 0); break;
        case 'd': dir = optarg; break;
        case 'f': frames = strtoull(optarg, NULL, 0); break;
        case 'r': rounds = (unsigned)atoi(optarg); break;
        case 'n': samples = (unsigned)atoi(optarg); break;
        case 'h':
            printf("Usage: bench --datapath [--dir DIR] [--frames N] "
                   "[--rounds N] [--samples N]\n"
                   "       bench --shaping [--dir DIR] [--scenario "
                   "consolidation|slo|soaker] [--host-mib N]\n");
            return 0;
        default:
            return 2;
        }
    }
    if (sh) {
        if (host_mib < 32 || (scenario && strcmp(scenario, "consolidation") &&
                              strcmp(scenario, "slo") &&
                              strcmp(scenario, "soaker"))) {
            fprintf(stderr, "Usage: bench --shaping [--dir DIR] [--scenario "
                    "consolidation|slo|soaker] [--host-mib N>=32]\n");
            return 2;
        }
        return bench_shaping(dir, host_mib, scenario);
    }
    if (!dp || frames < 1024 || rounds < 1 || samples < 100) {
        fprintf(stderr, "Usage: bench --datapath [--dir DIR (on disk, not "
                "tmpfs)] [--frames N>=1024] [--rounds N>=1] "
                "[--samples N>=100]\n");
        return 2;
    }
    return datapath(dir, frames, rounds, samples);
}
