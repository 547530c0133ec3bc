/*
 * xenshaped.c - the xenshape daemon: attaches the paging engine to every
 * domain of the host and keeps each domain's RAM at its target.
 *
 * This is the minimal daemon of the foundation: a target per domain comes
 * from the command line or a config file (re-read on SIGHUP); the policy
 * engine that derives targets from usage, priority and xenstore comes on
 * top of it.  The main loop serves, in order: signals, the library's
 * "work wanted" descriptor, and a 100 ms tick that attaches new domains,
 * applies targets and runs eviction or prefetch for a bounded time.
 * Page-in requests never wait for this loop: the library serves them on
 * its own thread.
 *
 * SIGTERM and SIGINT page every domain back in (bounded by --stop-timeout)
 * and detach; what cannot come back in time stays safely in the store for
 * the next daemon, which re-attaches.  SIGKILL at any instant loses
 * nothing either: that is the point of the store's ordering.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <xenshape.h>

#include "metrics.h"
#include "shaping.h"

#define TICK_MS 100
#define MAX_TARGETS 256
#define MAX_SKIPPED 256
/* How long a domain that cannot be paged is left alone before retrying. */
#define RETRY_ATTACH_S 30

struct target {
    bool all;                  /* applies to every domain without its own */
    uint32_t domid;
    enum { T_FRAMES, T_PERCENT } kind;
    uint64_t value;
};

struct daemon {
    xentoollog_logger lg;      /* first: our logger is the daemon itself */
    int min_level;
    bool use_syslog, use_stderr;

    const char *backend, *sim_socket, *store, *state_dir, *config,
        *status_path, *metrics_path;
    uint64_t store_size;
    int stop_timeout_ms, status_ms;
    unsigned observe;                /* XENSHAPE_OBSERVE_* allowed */
    bool shape;                      /* --shape: targets from xenstore */
    struct shaper *shaper;
    struct metrics *metrics;         /* --metrics-file, or NULL */
    struct target cmdline[MAX_TARGETS], config_targets[MAX_TARGETS];
    unsigned nr_cmdline, nr_config;
    /* Domains we could not attach: retried only now and then.  Those
     * whose hypervisor cannot page get the balloon target instead. */
    struct {
        uint32_t domid;
        time_t until;
        bool balloon;
        uint64_t ballooned;          /* last target written, frames */
    } skipped[MAX_SKIPPED];
    unsigned nr_skipped;

    xenshape_ctx *ctx;
};

/* ---- logging: a xentoollog logger writing to syslog and/or stderr ---- */

static void log_vmessage(xentoollog_logger *lg, xentoollog_level level,
                         int errnoval, const char *context,
                         const char *format, va_list al)
{
    struct daemon *dm = (struct daemon *)lg;
    char msg[1024];
    int prio;

    if ((int)level < dm->min_level)
        return;
    vsnprintf(msg, sizeof(msg), format, al);
    if (errnoval >= 0) {
        size_t n = strlen(msg);

        snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnoval));
    }
    prio = level >= XTL_ERROR ? LOG_ERR : level >= XTL_WARN ? LOG_WARNING :
        level >= XTL_NOTICE ? LOG_NOTICE : level >= XTL_INFO ? LOG_INFO :
        LOG_DEBUG;
    if (dm->use_syslog)
        syslog(prio, "%s", msg);
    if (dm->use_stderr)
        fprintf(stderr, "xenshaped: %s: %s\n", xtl_level_to_string(level),
                msg);
}

static void log_progress(xentoollog_logger *lg, const char *context,
                         const char *doing_what, int percent,
                         unsigned long done, unsigned long total)
{
}

static void log_destroy(xentoollog_logger *lg)
{
}

static void dlog(struct daemon *dm, xentoollog_level level,
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void dlog(struct daemon *dm, xentoollog_level level,
                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmessage(&dm->lg, level, -1, "xenshaped", fmt, ap);
    va_end(ap);
}

/* ---- targets ------------------------------------------------------- */

/* "1234" frames, "512M"/"2G"/"64K" bytes, or "50%" of max_pages. */
static int parse_size(const char *s, struct target *t)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    t->kind = T_FRAMES;
    switch (*end) {
    case '\0': t->value = v; return 0;
    case '%':
        if (end[1] || v > 100)
            return -1;
        t->kind = T_PERCENT;
        t->value = v;
        return 0;
    case 'K': case 'k': v <<= 10; break;
    case 'M': case 'm': v <<= 20; break;
    case 'G': case 'g': v <<= 30; break;
    default: return -1;
    }
    if (end[1])
        return -1;
    t->value = v / XENSHAPE_PAGE_SIZE;
    return 0;
}

/* "DOMID=SIZE" or "all=SIZE". */
static int parse_target(const char *s, struct target *t)
{
    const char *eq = strchr(s, '=');
    char *end;
    unsigned long id;

    if (!eq)
        return -1;
    memset(t, 0, sizeof(*t));
    if (eq - s == 3 && !strncmp(s, "all", 3)) {
        t->all = true;
    } else {
        errno = 0;
        id = strtoul(s, &end, 10);
        if (errno || end != eq || end == s || id == 0 || id >= 0x7ff0)
            return -1;
        t->domid = (uint32_t)id;
    }
    return parse_size(eq + 1, t);
}

/*
 * The config file: one "DOMID=SIZE" or "all=SIZE" per line, '#' starts a
 * comment.  A bad line rejects the whole file and the previous targets
 * stay in force: a typo must not page a domain out.
 */
static int load_config(struct daemon *dm)
{
    struct target next[MAX_TARGETS];
    unsigned nr = 0, lineno = 0;
    char line[256];
    FILE *f;
    int rc = 0;

    if (!dm->config)
        return 0;
    f = fopen(dm->config, "re");
    if (!f) {
        dlog(dm, XTL_ERROR, "cannot read %s: %s; keeping the previous "
             "targets", dm->config, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *hash = strchr(line, '#');

        lineno++;
        if (hash)
            *hash = '\0';
        p += strspn(p, " \t");
        p[strcspn(p, " \t\r\n")] = '\0';
        if (!*p)
            continue;
        if (nr == MAX_TARGETS || parse_target(p, &next[nr]) < 0) {
            dlog(dm, XTL_ERROR, "%s:%u: bad target '%s' (want DOMID=SIZE "
                 "or all=SIZE); keeping the previous targets", dm->config,
                 lineno, p);
            rc = -1;
            break;
        }
        nr++;
    }
    fclose(f);
    if (rc)
        return rc;
    memcpy(dm->config_targets, next, sizeof(next[0]) * nr);
    dm->nr_config = nr;
    dlog(dm, XTL_INFO, "loaded %u targets from %s", nr, dm->config);
    return 0;
}

static const struct target *find_target(const struct target *ts, unsigned nr,
                                        uint32_t domid)
{
    const struct target *all = NULL;
    unsigned i;

    for (i = 0; i < nr; i++) {
        if (!ts[i].all && ts[i].domid == domid)
            return &ts[i];
        if (ts[i].all)
            all = &ts[i];
    }
    return all;
}

static uint64_t target_for(struct daemon *dm, const xenshape_dominfo *di)
{
    const struct target *t;

    /* The command line wins over the config file. */
    t = find_target(dm->cmdline, dm->nr_cmdline, di->domid);
    if (!t || t->all) {
        const struct target *c = find_target(dm->config_targets,
                                             dm->nr_config, di->domid);
        if (c && (!t || !c->all))
            t = c;
    }
    if (!t)
        return UINT64_MAX;
    if (t->kind == T_PERCENT)
        return di->max_pages * t->value / 100;
    return t->value;
}

/* --observe values, as XENSHAPE_OBSERVE_* sets: the engine prefers
 * n2rwx and falls back to log-dirty when both are allowed. */
static const struct {
    const char *name;
    unsigned modes;
} observe_modes[] = {
    { "auto", XENSHAPE_OBSERVE_N2RWX | XENSHAPE_OBSERVE_LOGDIRTY },
    { "n2rwx", XENSHAPE_OBSERVE_N2RWX },
    { "logdirty", XENSHAPE_OBSERVE_LOGDIRTY },
    { "none", 0 },
};

static const char *observe_name(unsigned in_use)
{
    return in_use == XENSHAPE_OBSERVE_N2RWX ? "n2rwx" :
        in_use == XENSHAPE_OBSERVE_LOGDIRTY ? "logdirty" : "none";
}

static int parse_observe(const char *s, unsigned *modes_r)
{
    size_t i;

    for (i = 0; i < sizeof(observe_modes) / sizeof(observe_modes[0]); i++)
        if (!strcmp(s, observe_modes[i].name)) {
            *modes_r = observe_modes[i].modes;
            return 0;
        }
    return -1;
}

/* ---- the loop -------------------------------------------------------- */

static int find_skipped(struct daemon *dm, uint32_t domid)
{
    unsigned i;

    for (i = 0; i < dm->nr_skipped; i++)
        if (dm->skipped[i].domid == domid)
            return (int)i;
    return -1;
}

/*
 * The status file and the metrics file, from one set of calls: the two
 * say the same of one tick (the metrics file also carries time=).  Each
 * is written beside its name and renamed over it, so that a reader never
 * sees half of one.
 */
static void write_status(struct daemon *dm, const xenshape_dominfo *list,
                         unsigned nr)
{
    char tmp[PATH_MAX];
    uint64_t total = 0, fr = 0;
    xenshape_storestats ss;
    long long now = (long long)time(NULL);
    bool have_ss;
    unsigned i;
    FILE *f = NULL;

    if (!dm->status_path && !dm->metrics)
        return;
    if (dm->status_path) {
        snprintf(tmp, sizeof(tmp), "%s.tmp", dm->status_path);
        f = fopen(tmp, "we");
    }
    xenshape_host_info(dm->ctx, &total, &fr);
    have_ss = !xenshape_store_stats(dm->ctx, &ss);
    if (dm->metrics)
        metrics_begin(dm->metrics, now, total, fr, have_ss ? &ss : NULL);
    if (f)
        fprintf(f, "time=%lld host_frames=%" PRIu64 " host_free=%" PRIu64
                "\n", now, total, fr);
    if (f && have_ss)
        fprintf(f, "store slots_used=%" PRIu64 " slots_total=%" PRIu64
                " records_used=%" PRIu64 " zero=%" PRIu64 " dedup=%" PRIu64
                " checksum_failures=%" PRIu64 " io_errors=%" PRIu64
                " failed=%d\n", ss.slots_used, ss.slots_total,
                ss.records_used, ss.zero_pages, ss.dedup_pages,
                ss.checksum_failures, ss.io_errors, ss.failed);
    for (i = 0; i < nr; i++) {
        xenshape_domstats st;
        int k = find_skipped(dm, list[i].domid);

        if (k >= 0 && dm->skipped[k].balloon) {
            if (f)
                fprintf(f, "domain %u mode=balloon ram=%" PRIu64 " store=0 "
                        "max=%" PRIu64 " target=%" PRId64
                        " error=paging-unsupported\n",
                        list[i].domid, list[i].tot_pages, list[i].max_pages,
                        dm->skipped[k].ballooned == UINT64_MAX ?
                        (int64_t)-1 : (int64_t)dm->skipped[k].ballooned);
            if (dm->metrics)
                metrics_domain(dm->metrics, &list[i], NULL,
                               dm->skipped[k].ballooned, dm->shaper);
            continue;
        }
        if (xenshape_domain_stats(dm->ctx, list[i].domid, &st))
            continue;
        if (f)
            fprintf(f, "domain %u mode=paging ram=%" PRIu64 " store=%" PRIu64
                    " max=%" PRIu64 " target=%" PRId64 " faults=%" PRIu64
                    " evicted=%" PRIu64 " loaded=%" PRIu64 " corrupt=%"
                    PRIu64 " lost=%" PRIu64 " observe=%s observed=%" PRIu64
                    " error=%s\n",
                    list[i].domid, st.tot_pages,
                    st.held_pages, st.max_pages,
                    st.target_pages == UINT64_MAX ? (int64_t)-1 :
                    (int64_t)st.target_pages, st.faults, st.evicted,
                    st.loaded, st.corrupt, st.lost, observe_name(st.observe),
                    st.observed,
                    st.error ? xenshape_errname(st.error) : "none");
        if (dm->metrics)
            metrics_domain(dm->metrics, &list[i], &st, st.target_pages,
                           dm->shaper);
    }
    if (dm->metrics)
        metrics_commit(dm->metrics);
    if (f) {
        fclose(f);
        rename(tmp, dm->status_path);
    }
}

/* Forget domains that are gone. */
static void prune_skipped(struct daemon *dm, const xenshape_dominfo *list,
                          unsigned nr)
{
    unsigned i = 0, j;

    while (i < dm->nr_skipped) {
        bool alive = false;

        for (j = 0; j < nr; j++)
            if (list[j].domid == dm->skipped[i].domid)
                alive = true;
        if (alive)
            i++;
        else
            dm->skipped[i] = dm->skipped[--dm->nr_skipped];
    }
}

/*
 * Paging is not compiled into this hypervisor: what is left is the
 * balloon target `xl mem-set` uses, which the guest's balloon driver may
 * follow.  Written only when it changes.
 */
static void balloon(struct daemon *dm, int i, const xenshape_dominfo *di)
{
    uint64_t t = target_for(dm, di);
    int rc;

    if (t == UINT64_MAX || t > di->max_pages)
        t = di->max_pages;
    if (dm->skipped[i].ballooned == t)
        return;
    /* Noted even when it fails, so a failure is logged once per retry
     * period, not on every tick. */
    dm->skipped[i].ballooned = t;
    rc = xenshape_domain_balloon(dm->ctx, di->domid, t);
    if (rc) {
        dlog(dm, XTL_ERROR, "domain %u: cannot set the balloon target: %s",
             di->domid, xenshape_strerror(rc));
        return;
    }
    dlog(dm, XTL_NOTICE, "domain %u: balloon target %" PRIu64 " KiB "
         "(memory/target)", di->domid, t * 4);
}

/* Attach a domain unless it recently failed; returns true if paged. */
static bool attach(struct daemon *dm, const xenshape_dominfo *di, time_t now)
{
    int i = find_skipped(dm, di->domid), rc;

    if (i >= 0 && now < dm->skipped[i].until) {
        if (dm->skipped[i].balloon)
            balloon(dm, i, di);
        return false;
    }
    rc = xenshape_domain_attach(dm->ctx, di->domid);
    if (!rc) {
        if (i >= 0)
            dm->skipped[i] = dm->skipped[--dm->nr_skipped];
        return true;
    }
    if (i < 0) {
        if (dm->nr_skipped == MAX_SKIPPED)
            return false;
        i = (int)dm->nr_skipped++;
        memset(&dm->skipped[i], 0, sizeof(dm->skipped[i]));
        dm->skipped[i].domid = di->domid;
        dm->skipped[i].ballooned = UINT64_MAX;
        if (rc == XENSHAPE_ENOSYS)
            dlog(dm, XTL_WARN, "domain %u: paging unsupported: this "
                 "hypervisor was built without CONFIG_MEM_PAGING (it needs "
                 "CONFIG_UNSUPPORTED=y and CONFIG_MEM_PAGING=y); falling "
                 "back to the balloon target", di->domid);
        else
            dlog(dm, XTL_WARN, "domain %u not paged: %s (retry in %d s)",
                 di->domid, xenshape_strerror(rc), RETRY_ATTACH_S);
    }
    dm->skipped[i].until = now + RETRY_ATTACH_S;
    dm->skipped[i].balloon = rc == XENSHAPE_ENOSYS;
    dm->skipped[i].ballooned = UINT64_MAX;
    if (dm->skipped[i].balloon)
        balloon(dm, i, di);
    return false;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick(struct daemon *dm, bool status)
{
    xenshape_dominfo *list = NULL;
    unsigned nr = 0, i;
    bool *paging;
    int rc;

    rc = xenshape_domain_list(dm->ctx, &list, &nr);
    if (rc) {
        dlog(dm, XTL_ERROR, "cannot list domains: %s",
             xenshape_strerror(rc));
        return;
    }
    prune_skipped(dm, list, nr);
    paging = calloc(nr ? nr : 1, sizeof(*paging));
    if (!paging) {
        dlog(dm, XTL_ERROR, "out of memory");
        free(list);
        return;
    }
    for (i = 0; i < nr; i++) {
        if (list[i].dying || !attach(dm, &list[i], time(NULL)))
            continue;
        paging[i] = true;
        /* Shaping sets targets itself, once an interval. */
        if (!dm->shaper)
            xenshape_domain_set_target(dm->ctx, list[i].domid,
                                       target_for(dm, &list[i]));
    }
    if (dm->shaper)
        shaper_tick(dm->shaper, list, paging, nr, now_ms());
    free(paging);
    rc = xenshape_run(dm->ctx, TICK_MS * 8 / 10);
    if (rc && rc != XENSHAPE_ENOMEM)
        dlog(dm, XTL_DEBUG, "run: %s", xenshape_strerror(rc));
    if (status)
        write_status(dm, list, nr);
    free(list);
}

static int shutdown_all(struct daemon *dm)
{
    xenshape_dominfo *list = NULL;
    unsigned nr = 0, i;
    int rc, failed = 0;

    rc = xenshape_domain_list(dm->ctx, &list, &nr);
    if (rc)
        return 1;
    for (i = 0; i < nr; i++) {
        rc = xenshape_domain_detach(dm->ctx, list[i].domid,
                                    dm->stop_timeout_ms);
        if (rc && rc != XENSHAPE_ESRCH) {
            dlog(dm, XTL_WARN, "domain %u: %s; its frames stay in the "
                 "store for the next daemon", list[i].domid,
                 xenshape_strerror(rc));
            failed = 1;
        }
    }
    free(list);
    return failed;
}

static int run(struct daemon *dm)
{
    struct itimerspec its;
    struct pollfd pfd[4];
    unsigned npfd = 3;
    sigset_t mask;
    int sfd = -1, tfd = -1, rc = 1, ticks = 0;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (sfd < 0 || tfd < 0) {
        dlog(dm, XTL_CRITICAL, "signalfd/timerfd: %s", strerror(errno));
        goto out;
    }
    memset(&its, 0, sizeof(its));
    its.it_interval.tv_nsec = TICK_MS * 1000000L;
    its.it_value.tv_nsec = TICK_MS * 1000000L;
    timerfd_settime(tfd, 0, &its, NULL);

    pfd[0].fd = sfd;
    pfd[1].fd = xenshape_fd(dm->ctx);
    pfd[2].fd = tfd;
    pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
    if (dm->shaper) {
        pfd[3].fd = shaper_watch_fd(dm->shaper);
        pfd[3].events = POLLIN;
        pfd[3].revents = 0;
        npfd = pfd[3].fd >= 0 ? 4 : 3;
    }
    dlog(dm, XTL_NOTICE, "running (backend %s, store %s)", dm->backend,
         dm->store);
    tick(dm, true);

    for (;;) {
        /* -1 once the shaper lost xenstore: poll then ignores it. */
        if (npfd == 4)
            pfd[3].fd = shaper_watch_fd(dm->shaper);
        if (poll(pfd, npfd, -1) < 0) {
            if (errno == EINTR)
                continue;
            dlog(dm, XTL_CRITICAL, "poll: %s", strerror(errno));
            goto out;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP && dm->shaper) {
                    dlog(dm, XTL_NOTICE, "SIGHUP: reading the policy in "
                         "xenstore again");
                    shaper_reload(dm->shaper);
                } else if (si.ssi_signo == SIGHUP) {
                    dlog(dm, XTL_NOTICE, "SIGHUP: reloading targets");
                    load_config(dm);
                } else {
                    dlog(dm, XTL_NOTICE, "signal %u: paging everything "
                         "back in and stopping", si.ssi_signo);
                    rc = shutdown_all(dm);
                    if (dm->shaper)
                        shaper_resume_all(dm->shaper);
                    goto out;
                }
            }
        }
        /* Paging first, then xenstore, then the interval. */
        if (pfd[1].revents & POLLIN)
            xenshape_run(dm->ctx, TICK_MS / 2);
        if (npfd == 4 && (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)))
            shaper_watch_events(dm->shaper);
        if (pfd[2].revents & POLLIN) {
            uint64_t exp;

            if (read(tfd, &exp, sizeof(exp)) < 0)
                continue;
            ticks++;
            tick(dm, ticks % (dm->status_ms / TICK_MS ? dm->status_ms /
                              TICK_MS : 1) == 0);
        }
    }
 out:
    if (sfd >= 0)
        close(sfd);
    if (tfd >= 0)
        close(tfd);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
"Usage: xenshaped [OPTION]...\n"
"Keep each Xen domain's RAM at its target by paging frames to a store.\n"
"\n"
"  -b, --backend NAME       hypervisor backend: xen (default) or sim\n"
"  -S, --sim-socket PATH    socket of the simulated host (backend sim)\n"
"  -s, --store PATH         page store: a file or a block device (required)\n"
"  -z, --store-size SIZE    size of a new store file (e.g. 4G)\n"
"  -d, --state-dir DIR      ring ports for re-attach (/var/lib/xenshape)\n"
"  -c, --config FILE        targets, one DOMID=SIZE or all=SIZE per line;\n"
"                           re-read on SIGHUP\n"
"  -t, --target DOMID=SIZE  a target (frames, K/M/G bytes, or N%% of the\n"
"                           domain's memory); repeatable, beats --config\n"
"  -o, --status FILE        write per-domain figures here every interval\n"
"  -i, --status-ms N        status interval in ms (1000)\n"
"  -M, --metrics-file FILE  write the figures of the status file and the\n"
"                           shaping meters here every status interval, in\n"
"                           the Prometheus text format (node_exporter's\n"
"                           textfile collector: FILE ending in .prom);\n"
"                           default: $XENSHAPED_METRICS_FILE if set\n"
"  -T, --stop-timeout N     ms allowed to page everything in on SIGTERM\n"
"                           (60000)\n"
"  -O, --observe MODE       how page selection learns about resident\n"
"                           frames: logdirty (writes; the default),\n"
"                           n2rwx (sampled first touches, Intel EPT only;\n"
"                           not safe across a daemon crash, see\n"
"                           docs/hv-xen.md), auto (n2rwx, else logdirty)\n"
"                           or none\n"
"  -P, --shape              shape RAM by the policy in xenstore\n"
"                           (docs/shaping.md) instead of --target and\n"
"                           --config\n"
"  -F, --foreground         log to stderr too\n"
"  -v, --verbose            information; -vv: debug too\n"
"  -h, --help               this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "backend", required_argument, NULL, 'b' },
        { "sim-socket", required_argument, NULL, 'S' },
        { "store", required_argument, NULL, 's' },
        { "store-size", required_argument, NULL, 'z' },
        { "state-dir", required_argument, NULL, 'd' },
        { "config", required_argument, NULL, 'c' },
        { "target", required_argument, NULL, 't' },
        { "status", required_argument, NULL, 'o' },
        { "status-ms", required_argument, NULL, 'i' },
        { "metrics-file", required_argument, NULL, 'M' },
        { "stop-timeout", required_argument, NULL, 'T' },
        { "observe", required_argument, NULL, 'O' },
        { "shape", no_argument, NULL, 'P' },
        { "foreground", no_argument, NULL, 'F' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct daemon dm;
    const char *kv_arg;
    struct target size;
    sigset_t hup;
    int c, rc;

    /* SIGHUP is blocked before anything else: its default action ends
     * the process, and an operator's reload arriving while the store
     * opens (recovery may take a while) must not kill the daemon.  Held
     * pending, it is read from run()'s signalfd as a reload.  SIGTERM
     * keeps its default until then: stopping during start-up loses
     * nothing. */
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_BLOCK, &hup, NULL);

    dm.lg.vmessage = log_vmessage;
    dm.lg.progress = log_progress;
    dm.lg.destroy = log_destroy;
    dm.min_level = XTL_NOTICE;
    dm.use_syslog = true;
    dm.backend = "xen";
    dm.stop_timeout_ms = 60000;
    dm.observe = XENSHAPE_OBSERVE_LOGDIRTY;
    dm.status_ms = 1000;

    while ((c = getopt_long(argc, argv, "b:S:s:z:d:c:t:o:i:M:T:O:PFvh", opts,
                            NULL)) != -1) {
        switch (c) {
        case 'b': dm.backend = optarg; break;
        case 'S': dm.sim_socket = optarg; break;
        case 's': dm.store = optarg; break;
        case 'z':
            if (parse_size(optarg, &size) < 0 || size.kind != T_FRAMES) {
                fprintf(stderr, "xenshaped: bad --store-size '%s'\n",
                        optarg);
                return 2;
            }
            dm.store_size = size.value * XENSHAPE_PAGE_SIZE;
            break;
        case 'd': dm.state_dir = optarg; break;
        case 'c': dm.config = optarg; break;
        case 't':
            if (dm.nr_cmdline == MAX_TARGETS ||
                parse_target(optarg, &dm.cmdline[dm.nr_cmdline]) < 0) {
                fprintf(stderr, "xenshaped: bad --target '%s' (want "
                        "DOMID=SIZE or all=SIZE)\n", optarg);
                return 2;
            }
            dm.nr_cmdline++;
            break;
        case 'o': dm.status_path = optarg; break;
        case 'M': dm.metrics_path = optarg; break;
        case 'i':
            dm.status_ms = atoi(optarg);
            if (dm.status_ms < TICK_MS) {
                fprintf(stderr, "xenshaped: bad --status-ms '%s' (at "
                        "least %d)\n", optarg, TICK_MS);
                return 2;
            }
            break;
        case 'T':
            dm.stop_timeout_ms = atoi(optarg);
            if (dm.stop_timeout_ms <= 0) {
                fprintf(stderr, "xenshaped: bad --stop-timeout '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'O':
            if (parse_observe(optarg, &dm.observe) < 0) {
                fprintf(stderr, "xenshaped: bad --observe '%s' (want auto, "
                        "n2rwx, logdirty or none)\n", optarg);
                return 2;
            }
            break;
        case 'P': dm.shape = true; break;
        case 'F': dm.use_stderr = true; break;
        /* -v: progress and information; -vv: everything, debug
         * included (xentoollog has three levels in between that
         * nothing here uses). */
        case 'v': dm.min_level = dm.min_level > XTL_INFO ? XTL_INFO :
                XTL_DEBUG; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "xenshaped: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    /* The init files pass /etc/default/xenshaped in the environment:
     * an empty value there means no metrics file. */
    if (!dm.metrics_path) {
        const char *e = getenv("XENSHAPED_METRICS_FILE");

        if (e && *e)
            dm.metrics_path = e;
    }
    if (!dm.store) {
        fprintf(stderr, "xenshaped: --store is required\n");
        return 2;
    }
    openlog("xenshaped", LOG_PID, LOG_DAEMON);
    if (dm.config && load_config(&dm) < 0)
        return 2;

    rc = xenshape_ctx_new(&dm.ctx, &dm.lg);
    if (!rc)
        rc = xenshape_ctx_set_backend(dm.ctx, dm.backend);
    if (!rc && dm.sim_socket)
        rc = xenshape_ctx_set_sim_socket(dm.ctx, dm.sim_socket);
    if (!rc && dm.state_dir)
        rc = xenshape_ctx_set_state_dir(dm.ctx, dm.state_dir);
    if (!rc)
        rc = xenshape_ctx_set_observe(dm.ctx, dm.observe);
    if (!rc)
        rc = xenshape_ctx_set_store(dm.ctx, dm.store, dm.store_size);
    if (!rc)
        rc = xenshape_ctx_open(dm.ctx);
    if (rc) {
        fprintf(stderr, "xenshaped: cannot start: %s\n",
                xenshape_strerror(rc));
        xenshape_ctx_free(dm.ctx);
        return 1;
    }
    /* The simulated host serves its xenstore on its socket. */
    kv_arg = strcmp(dm.backend, "sim") ? NULL : dm.sim_socket ?
        dm.sim_socket : "/run/xenshape/simhost.sock";
    if (dm.metrics_path) {
        rc = metrics_open(&dm.metrics, dm.metrics_path, &dm.lg, dm.backend,
                          kv_arg);
        if (rc) {
            fprintf(stderr, "xenshaped: cannot keep metrics: %s\n",
                    xenshape_strerror(rc));
            xenshape_ctx_free(dm.ctx);
            return 1;
        }
    }
    if (dm.shape) {
        rc = shaper_open(&dm.shaper, dm.ctx, &dm.lg, dm.backend, kv_arg);
        if (rc) {
            fprintf(stderr, "xenshaped: cannot shape: xenstore: %s\n",
                    xenshape_strerror(rc));
            metrics_close(dm.metrics);
            xenshape_ctx_free(dm.ctx);
            return 1;
        }
    }
    rc = run(&dm);
    shaper_close(dm.shaper);
    metrics_close(dm.metrics);
    xenshape_ctx_free(dm.ctx);
    closelog();
    return rc;
}
