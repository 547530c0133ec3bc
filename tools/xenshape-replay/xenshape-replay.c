/*
 * xenshape-replay - replay a page-reference trace through one page
 * selection policy and count the faults, exactly as the paging engine
 * would drive the policy (libxenshape/select/replay.h).
 *
 *   xenshape-replay --frames N --policy NAME [--observe all|xen] TRACE
 *
 * TRACE is text ("R <hex page>" / "W <hex page>" per line), compressed
 * with gzip or not; gzip runs as a separate process feeding a pipe.  The
 * result is one line on stdout:
 *
 *   trace=<file> frames=<N> policy=<name> observe=<mode> refs=<R>
 *   faults=<F> meta_bytes_per_frame=<B>
 *
 * Errors go to stderr, naming the problem, with exit status 1 (2 for
 * usage errors).  -v adds timings to stderr.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "private.h"
#include "select/replay.h"

static const char *prog = "xenshape-replay";

static void usage(FILE *f)
{
    const char *const *n;

    fprintf(f,
            "usage: %s --frames N --policy NAME [--observe all|xen] "
            "[--seed S] [-v] TRACE\n"
            "  --frames N      RAM budget in frames (pages), N >= 1\n"
            "  --policy NAME   one of:", prog);
    for (n = xenshape__policy_names(); *n; n++)
        fprintf(f, " %s", *n);
    fprintf(f, "\n"
            "  --observe MODE  all: the policy sees every reference "
            "(default);\n"
            "                  xen: only faults, sampled n2rwx first "
            "touches and\n"
            "                  log-dirty bits, as on real Xen\n"
            "  --arm-div D     xen: arm resident/D frames per epoch "
            "(default %u)\n"
            "  --epoch-div D   xen: an epoch is frames/D references "
            "(default %u)\n"
            "  --seed S        seed for randomised policies (default 1)\n"
            "  -v              timings on stderr\n"
            "TRACE: lines \"R <hex page>\" or \"W <hex page>\", gzip'd or "
            "plain\n",
            XENSHAPE__OBSERVE_ARM_DIV, XENSHAPE__OBSERVE_EPOCH_DIV);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this process alone (gzip runs in its own). */
static double cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static bool parse_u64(const char *s, uint64_t *v_r)
{
    char *end;
    unsigned long long v;

    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *v_r = v;
    return true;
}

/* Load a trace; prints its own errors.  0 or -1. */
static int load_trace(const char *path, xenshape__trace **t_r)
{
    xenshape__trace_error terr;
    int rc;

    rc = xenshape__trace_load(path, t_r, &terr);
    if (!rc)
        return 0;
    if (rc == XENSHAPE_ENOMEM)
        fprintf(stderr, "%s: %s: out of memory\n", prog, path);
    else if (terr.line)
        fprintf(stderr, "%s: %s: line %llu: %s\n", prog, path,
                (unsigned long long)terr.line, terr.what);
    else
        fprintf(stderr, "%s: %s: %s\n", prog, path,
                terr.what[0] ? terr.what : xenshape_strerror(rc));
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "frames", required_argument, NULL, 'f' },
        { "policy", required_argument, NULL, 'p' },
        { "observe", required_argument, NULL, 'o' },
        { "seed", required_argument, NULL, 's' },
        { "arm-div", required_argument, NULL, 'A' },
        { "epoch-div", required_argument, NULL, 'E' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    xenshape__replay_params prm;
    xenshape__replay_stats st;
    xenshape__trace *t = NULL;
    const char *policy = NULL, *frames_arg = NULL, *path;
    uint64_t v;
    double t0, t1, t2, c0;
    bool verbose = false;
    int c, rc, ret = 1;

    signal(SIGPIPE, SIG_IGN);
    xenshape__replay_params_default(&prm);
    prm.policy = NULL;
    while ((c = getopt_long(argc, argv, "f:p:o:s:vh", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'f':
            frames_arg = optarg;
            break;
        case 'p':
            policy = optarg;
            break;
        case 'o':
            if (!strcmp(optarg, "all")) {
                prm.observe = XENSHAPE__OBSERVE_ALL;
            } else if (!strcmp(optarg, "xen")) {
                prm.observe = XENSHAPE__OBSERVE_XEN;
            } else {
                fprintf(stderr, "%s: unknown observe mode '%s' (all or "
                        "xen)\n", prog, optarg);
                return 2;
            }
            break;
        case 's':
            if (!parse_u64(optarg, &prm.seed)) {
                fprintf(stderr, "%s: bad seed '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case 'A':
        case 'E':
            if (!parse_u64(optarg, &v) || !v || v > UINT32_MAX) {
                fprintf(stderr, "%s: bad --%s '%s' (an integer >= 1)\n",
                        prog, c == 'A' ? "arm-div" : "epoch-div", optarg);
                return 2;
            }
            if (c == 'A')
                prm.obs.arm_div = (uint32_t)v;
            else
                prm.obs.epoch_div = (uint32_t)v;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "%s: %s\n", prog, optind >= argc ?
                "missing trace file" : "more than one trace file");
        usage(stderr);
        return 2;
    }
    path = argv[optind];
    if (!frames_arg) {
        fprintf(stderr, "%s: missing --frames N\n", prog);
        return 2;
    }
    if (!parse_u64(frames_arg, &prm.frames) || prm.frames < 1) {
        fprintf(stderr, "%s: bad --frames '%s': need an integer >= 1\n",
                prog, frames_arg);
        return 2;
    }
    if (!policy) {
        fprintf(stderr, "%s: missing --policy NAME\n", prog);
        return 2;
    }
    if (!xenshape__policy_lookup(policy)) {
        const char *const *n;

        fprintf(stderr, "%s: unknown policy '%s'; known:", prog, policy);
        for (n = xenshape__policy_names(); *n; n++)
            fprintf(stderr, " %s", *n);
        fprintf(stderr, "\n");
        return 2;
    }
    prm.policy = policy;

    t0 = now_s();
    c0 = cpu_s();
    if (load_trace(path, &t))
        goto out;
    t1 = now_s();
    rc = xenshape__replay_run(t, &prm, &st);
    t2 = now_s();
    if (rc) {
        fprintf(stderr, "%s: %s: replay failed: %s\n", prog, path,
                rc == XENSHAPE_EPROTO ? "the policy chose a frame that is "
                "not resident" : xenshape_strerror(rc));
        goto out;
    }
    printf("trace=%s frames=%llu policy=%s observe=%s refs=%llu "
           "faults=%llu meta_bytes_per_frame=%u\n", path,
           (unsigned long long)prm.frames, policy,
           prm.observe == XENSHAPE__OBSERVE_XEN ? "xen" : "all",
           (unsigned long long)st.refs, (unsigned long long)st.faults,
           st.meta_bytes_per_frame);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: writing the result: %s\n", prog,
                strerror(errno));
        goto out;
    }
    if (verbose)
        fprintf(stderr, "%s: %u distinct pages; load %.3f s, replay "
                "%.3f s; %.1f M refs/s wall, %.1f M refs per CPU second "
                "of this process, %.1f M refs/s replay alone; "
                "%llu accesses seen, %llu armed, %llu epochs\n", prog,
                t->nr_pages, t1 - t0, t2 - t1,
                st.refs / (t2 - t0) / 1e6, st.refs / (cpu_s() - c0) / 1e6,
                st.refs / (t2 - t1) / 1e6,
                (unsigned long long)st.accesses,
                (unsigned long long)st.armed,
                (unsigned long long)st.epochs);
    ret = 0;
 out:
    xenshape__trace_free(t);
    return ret;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
