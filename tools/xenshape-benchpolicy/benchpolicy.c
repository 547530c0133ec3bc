/*
 * xenshape-benchpolicy - the page-selection benchmark behind
 * `make bench-policy`: every policy, with Dom0 seeing every reference
 * ("all") and seeing only what Xen shows it ("xen"), on every trace of a
 * directory at the sizes its anchor-sizes.txt lists, against Belady's
 * optimum computed here.
 *
 * For each policy and observation mode it prints the geometric mean and
 * the worst case of faults/OPT over the cases with capacity misses (OPT
 * faults > distinct pages; the others only measure compulsory misses),
 * and how many of those cases are more than 5% worse than LRU.  Cases run
 * in parallel worker processes (-j, default: the number of CPUs), each
 * replaying through libxenshape's replay driver, the code the engine runs.
 *
 *   xenshape-benchpolicy [-j N] [-v] [--traces DIR] [--policies a,b]
 *
 * DIR defaults to $XENSHAPE_TRACES, else ../shared/traces.
 */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "select/replay.h"

#define MAX_POLICIES 8
#define MAX_CASES 4096
#define NMODES 2

static const char *prog = "xenshape-benchpolicy";

typedef struct bcase {
    char file[160];
    off_t bytes;
    uint64_t frames;
    /* Written by the worker. */
    int done;                        /* 1 ok, -1 failed */
    uint64_t distinct, refs, opt;
    uint64_t faults[MAX_POLICIES][NMODES];
    unsigned meta[MAX_POLICIES];
    char err[200];
} bcase;

typedef struct shared {
    unsigned next;                   /* next case to take, atomically */
    unsigned nr;
    bcase c[MAX_CASES];
} shared;

static const char *policies[MAX_POLICIES];
static uint32_t arm_div = XENSHAPE__OBSERVE_ARM_DIV;
static uint32_t epoch_div = XENSHAPE__OBSERVE_EPOCH_DIV;
static unsigned nr_policies;
static const char *const mode_name[NMODES] = { "all", "xen" };

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void case_err(bcase *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record why a case failed; the text is cut to fit. */
static void case_err(bcase *c, const char *fmt, ...)
{
    char buf[sizeof(c->err)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    memcpy(c->err, buf, sizeof(buf));
    c->done = -1;
}

static int read_sizes(shared *sh, const char *dir)
{
    char path[4096], line[1024], *tok, *save, *end;
    char file[160];
    struct stat sb;
    unsigned long long v;
    FILE *f;
    unsigned lineno = 0;

    snprintf(path, sizeof(path), "%s/anchor-sizes.txt", dir);
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        tok = strtok_r(line, " \t\n", &save);
        if (!tok || tok[0] == '#')
            continue;
        if (strlen(tok) >= sizeof(file)) {
            fprintf(stderr, "%s: %s:%u: file name too long\n", prog, path,
                    lineno);
            fclose(f);
            return -1;
        }
        strcpy(file, tok);
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (stat(path, &sb) < 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
            fclose(f);
            return -1;
        }
        while ((tok = strtok_r(NULL, " \t\n", &save))) {
            errno = 0;
            v = strtoull(tok, &end, 10);
            if (errno || *end || !v) {
                fprintf(stderr, "%s: anchor-sizes.txt:%u: bad size '%s'\n",
                        prog, lineno, tok);
                fclose(f);
                return -1;
            }
            if (sh->nr == MAX_CASES) {
                fprintf(stderr, "%s: too many cases\n", prog);
                fclose(f);
                return -1;
            }
            strcpy(sh->c[sh->nr].file, file);
            sh->c[sh->nr].bytes = sb.st_size;
            sh->c[sh->nr].frames = v;
            sh->nr++;
        }
        snprintf(path, sizeof(path), "%s/anchor-sizes.txt", dir);
    }
    fclose(f);
    if (!sh->nr) {
        fprintf(stderr, "%s: %s lists no cases\n", prog, path);
        return -1;
    }
    return 0;
}

static int cmp_case(const void *a, const void *b)
{
    const bcase *x = a, *y = b;
    int r;

    /* Largest traces first, so the long cases do not finish last. */
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    r = strcmp(x->file, y->file);
    if (r)
        return r;
    return x->frames < y->frames ? -1 : x->frames > y->frames;
}

/* One worker: take cases until none are left.  Keeps the last trace and
 * its next-use array, since the cases of a trace are adjacent. */
static int worker(shared *sh, const char *dir)
{
    xenshape__trace *t = NULL;
    xenshape__trace_error terr;
    xenshape__replay_params prm;
    xenshape__replay_stats st;
    uint32_t *next = NULL;
    char loaded[160] = "", path[4096];
    unsigned i, p, m;
    bcase *c;
    int rc, ret = 0;

    for (;;) {
        i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST);
        if (i >= sh->nr)
            break;
        c = &sh->c[i];
        if (strcmp(loaded, c->file)) {
            xenshape__trace_free(t);
            t = NULL;
            free(next);
            next = NULL;
            loaded[0] = 0;
            snprintf(path, sizeof(path), "%s/%s", dir, c->file);
            rc = xenshape__trace_load(path, &t, &terr);
            if (!rc)
                rc = xenshape__opt_next_use(t, &next);
            if (rc) {
                if (terr.line)
                    case_err(c, "%s: line %llu: %s", path,
                             (unsigned long long)terr.line, terr.what);
                else
                    case_err(c, "%s: %s", path, terr.what[0] ? terr.what :
                             xenshape_strerror(rc));
                ret = 1;
                continue;
            }
            strcpy(loaded, c->file);
        }
        c->distinct = t->nr_pages;
        c->refs = t->nr_refs;
        rc = xenshape__opt_faults_next(t, next, c->frames, &c->opt);
        if (rc) {
            case_err(c, "%s: OPT: %s", c->file, xenshape_strerror(rc));
            ret = 1;
            continue;
        }
        for (p = 0; p < nr_policies; p++) {
            for (m = 0; m < NMODES; m++) {
                xenshape__replay_params_default(&prm);
                prm.policy = policies[p];
                prm.frames = c->frames;
                prm.obs.arm_div = arm_div;
                prm.obs.epoch_div = epoch_div;
                prm.observe = m ? XENSHAPE__OBSERVE_XEN :
                                  XENSHAPE__OBSERVE_ALL;
                rc = xenshape__replay_run(t, &prm, &st);
                if (rc) {
                    case_err(c, "%s@%llu: %s/%s: %s", c->file,
                             (unsigned long long)c->frames, policies[p],
                             mode_name[m], xenshape_strerror(rc));
                    ret = 1;
                    goto next_case;
                }
                c->faults[p][m] = st.faults;
                c->meta[p] = st.meta_bytes_per_frame;
            }
        }
        c->done = 1;
    next_case:
        ;
    }
    xenshape__trace_free(t);
    free(next);
    return ret;
}

static void short_name(char *buf, size_t len, const bcase *c)
{
    const char *dot = strstr(c->file, ".trace");
    int n = dot ? (int)(dot - c->file) : (int)strlen(c->file);

    snprintf(buf, len, "%.*s@%llu", n, c->file,
             (unsigned long long)c->frames);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "jobs", required_argument, NULL, 'j' },
        { "traces", required_argument, NULL, 't' },
        { "policies", required_argument, NULL, 'p' },
        { "arm-div", required_argument, NULL, 'A' },
        { "epoch-div", required_argument, NULL, 'E' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = getenv("XENSHAPE_TRACES");
    char *plist = NULL, *tok, *save, name[64];
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    bool verbose = false;
    shared *sh;
    unsigned i, p, m, ncap = 0, lru = MAX_POLICIES, failed = 0;
    int c, status, ret = 0;
    pid_t *pids;
    double t0 = now_s();

    if (!dir || !*dir)
        dir = "../shared/traces";
    while ((c = getopt_long(argc, argv, "j:t:p:vh", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'j':
            jobs = strtol(optarg, NULL, 10);
            if (jobs < 1 || jobs > 256) {
                fprintf(stderr, "%s: bad -j '%s'\n", prog, optarg);
                return 2;
            }
            break;
        case 't':
            dir = optarg;
            break;
        case 'p':
            plist = optarg;
            break;
        case 'A':
        case 'E': {
            long v = strtol(optarg, NULL, 10);

            if (v < 1 || v > 1000000) {
                fprintf(stderr, "%s: bad --%s '%s'\n", prog,
                        c == 'A' ? "arm-div" : "epoch-div", optarg);
                return 2;
            }
            if (c == 'A')
                arm_div = (uint32_t)v;
            else
                epoch_div = (uint32_t)v;
            break;
        }
        case 'v':
            verbose = true;
            break;
        case 'h':
            printf("usage: %s [-j N] [-v] [--traces DIR] "
                   "[--policies a,b,...]\n"
                   "       [--arm-div D] [--epoch-div D]   observation "
                   "budget of the xen mode\n"
                   "DIR defaults to $XENSHAPE_TRACES, else "
                   "../shared/traces\n", prog);
            return 0;
        default:
            return 2;
        }
    }
    if (jobs < 1)
        jobs = 1;
    if (plist) {
        for (tok = strtok_r(plist, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (!xenshape__policy_lookup(tok)) {
                fprintf(stderr, "%s: unknown policy '%s'\n", prog, tok);
                return 2;
            }
            if (nr_policies == MAX_POLICIES)
                break;
            policies[nr_policies++] = tok;
        }
    } else {
        const char *const *n;

        for (n = xenshape__policy_names(); *n && nr_policies <
             MAX_POLICIES; n++)
            policies[nr_policies++] = *n;
    }
    for (p = 0; p < nr_policies; p++)
        if (!strcmp(policies[p], "lru"))
            lru = p;

    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        fprintf(stderr, "%s: mmap: %s\n", prog, strerror(errno));
        return 1;
    }
    if (read_sizes(sh, dir))
        return 1;
    qsort(sh->c, sh->nr, sizeof(sh->c[0]), cmp_case);

    if (jobs > sh->nr)
        jobs = sh->nr;
    pids = calloc(jobs, sizeof(*pids));
    if (!pids)
        return 1;
    fflush(NULL);
    for (i = 0; i < jobs; i++) {
        pids[i] = fork();
        if (pids[i] < 0) {
            fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
            jobs = i;
            break;
        }
        if (pids[i] == 0)
            _exit(worker(sh, dir));
    }
    for (i = 0; i < jobs; i++)
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
            ;
    free(pids);
    for (i = 0; i < sh->nr; i++) {
        if (sh->c[i].done == 1)
            continue;
        failed++;
        fprintf(stderr, "%s: %s\n", prog, sh->c[i].err[0] ? sh->c[i].err :
                "case not run (worker died)");
    }
    if (failed)
        return 1;

    if (verbose) {
        printf("%-26s %7s %8s %8s", "case", "pages", "refs", "OPT");
        for (p = 0; p < nr_policies; p++)
            for (m = 0; m < NMODES; m++) {
                snprintf(name, sizeof(name), "%.7s/%s", policies[p],
                         mode_name[m]);
                printf(" %11s", name);
            }
        printf("\n");
        for (i = 0; i < sh->nr; i++) {
            bcase *cs = &sh->c[i];

            short_name(name, sizeof(name), cs);
            printf("%-26s %7llu %8llu %8llu%s", name,
                   (unsigned long long)cs->distinct,
                   (unsigned long long)cs->refs,
                   (unsigned long long)cs->opt,
                   cs->opt > cs->distinct ? "" : "*");
            for (p = 0; p < nr_policies; p++)
                for (m = 0; m < NMODES; m++)
                    printf(" %11.3f", (double)cs->faults[p][m] / cs->opt);
            printf("\n");
        }
        printf("(* compulsory misses only: not counted)\n\n");
    }

    for (i = 0; i < sh->nr; i++)
        ncap += sh->c[i].opt > sh->c[i].distinct;
    printf("bench-policy: %u cases from %s, %u with capacity misses; "
           "faults/OPT over those\n", sh->nr, dir, ncap);
    printf("observe xen: arm resident/%u frames per epoch, epoch = "
           "frames/%u references\n", arm_div, epoch_div);
    printf("%-8s %-7s %8s %8s  %-24s %9s %9s %5s\n", "policy", "observe",
           "geomean", "worst", "worst case", ">1.05xLRU", "(vs all)",
           "B/frm");
    for (p = 0; p < nr_policies; p++) {
        for (m = 0; m < NMODES; m++) {
            double lsum = 0, worst = 0, r;
            unsigned bad = 0, bad_all = 0, worst_i = 0;

            for (i = 0; i < sh->nr; i++) {
                bcase *cs = &sh->c[i];

                if (cs->opt <= cs->distinct)
                    continue;
                r = (double)cs->faults[p][m] / cs->opt;
                lsum += log(r);
                if (r > worst) {
                    worst = r;
                    worst_i = i;
                }
                if (lru < MAX_POLICIES) {
                    if (cs->faults[p][m] > 1.05 * cs->faults[lru][m])
                        bad++;
                    if (cs->faults[p][m] > 1.05 * cs->faults[lru][0])
                        bad_all++;
                }
            }
            short_name(name, sizeof(name), &sh->c[worst_i]);
            printf("%-8s %-7s %8.3f %8.3f  %-24s", policies[p],
                   mode_name[m], ncap ? exp(lsum / ncap) : 0.0, worst,
                   name);
            if (lru < MAX_POLICIES)
                printf(" %9u %9u", bad, bad_all);
            else
                printf(" %9s %9s", "-", "-");
            printf(" %5u\n", sh->c[0].meta[p]);
        }
    }
    printf("(%ld workers, %.1f s)\n", jobs, now_s() - t0);
    return ret;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
