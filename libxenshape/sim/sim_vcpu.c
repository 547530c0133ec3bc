/*
 * sim_vcpu.c - the guest vCPUs of the simulated host: one thread per
 * vCPU running a workload (idle, uniform, hot set, sweep, or the replay of
 * a page-reference trace), and the parser of the workload specs.
 *
 * A vCPU thread only ever touches guest memory through
 * xenshape__sim_guest_access(), so it blocks exactly where a Xen vCPU
 * would and holds no lock while it does.  A workload is swapped by
 * publishing a new refcounted object and bumping a futex; destroy sets
 * the stop flag, wakes every futex a vCPU may sleep on, and joins.
 *
 * Traces are gzip text ("R <hex>" / "W <hex>" per line, see
 * shared/traces/README.md).  They are read through a `gzip -dc` child
 * (no zlib link dependency), shared by all vCPUs of the domain in chunks,
 * and replayed over and over; page keys are taken modulo the domain's
 * frames.
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "sim/sim_host.h"

#define TRACE_CHUNK 256
#define IDLE_WAIT_MS 200

struct xenshape__sim_trace {
    pthread_mutex_t lock;
    char *path;
    FILE *f;
    pid_t pid;
    bool failed;
    uint64_t lines_this_pass;
};

/* ---- trace reader ------------------------------------------------------- */

static void trace_close(struct xenshape__sim_trace *t)
{
    int status;

    if (t->f) {
        fclose(t->f);
        t->f = NULL;
    }
    if (t->pid > 0) {
        kill(t->pid, SIGTERM);
        while (waitpid(t->pid, &status, 0) < 0 && errno == EINTR)
            ;
        t->pid = -1;
    }
}

static int trace_open(struct xenshape__sim_trace *t)
{
    posix_spawn_file_actions_t fa;
    char *argv[] = { "gzip", "-dc", "--", t->path, NULL };
    int fds[2] = { -1, -1 }, r;

    if (access(t->path, R_OK) < 0)
        return -errno;
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    r = posix_spawn_file_actions_init(&fa);
    if (r) {
        close(fds[0]);
        close(fds[1]);
        return -r;
    }
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    r = posix_spawnp(&t->pid, "gzip", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (r) {
        close(fds[0]);
        t->pid = -1;
        return -r;
    }
    t->f = fdopen(fds[0], "r");
    if (!t->f) {
        close(fds[0]);
        trace_close(t);
        return -ENOMEM;
    }
    t->lines_this_pass = 0;
    return 0;
}

/* Up to max references; 0 when the trace cannot be read at all. */
static unsigned trace_fill(struct xenshape__sim_trace *t, uint64_t *keys,
                           uint8_t *wr, unsigned max)
{
    char line[128];
    unsigned n = 0;

    pthread_mutex_lock(&t->lock);
    while (n < max && !t->failed) {
        char *p, *end;
        uint64_t key;
        bool w = false;

        if (!t->f && trace_open(t) < 0) {
            t->failed = true;
            break;
        }
        if (!fgets(line, sizeof(line), t->f)) {
            bool empty = t->lines_this_pass == 0;

            trace_close(t);
            if (empty)
                t->failed = true;
            continue;
        }
        p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == 'R' || *p == 'r' || *p == 'W' || *p == 'w') {
            w = *p == 'W' || *p == 'w';
            p++;
        }
        key = strtoull(p, &end, 16);
        if (end == p)
            continue;
        t->lines_this_pass++;
        keys[n] = key;
        wr[n] = w;
        n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

static void trace_free(struct xenshape__sim_trace *t)
{
    if (!t)
        return;
    trace_close(t);
    pthread_mutex_destroy(&t->lock);
    free(t->path);
    free(t);
}

/* ---- workload specs ----------------------------------------------------- */

static int parse_frac(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
        return -EINVAL;
    *out = v;
    return 0;
}

int xenshape__sim_workload_parse(const char *spec,
                                 struct xenshape__sim_workload **wl_r)
{
    struct xenshape__sim_workload *wl = NULL;
    char *copy = NULL, *tok, *save = NULL, *colon;
    bool write_set = false;
    int r;

    if (!spec || !*spec)
        spec = "idle";
    wl = xenshape__calloc(1, sizeof(*wl));
    copy = xenshape__strdup(spec);
    if (!wl || !copy) {
        r = -ENOMEM;
        goto out;
    }
    wl->spec = xenshape__strdup(spec);
    if (!wl->spec) {
        r = -ENOMEM;
        goto out;
    }
    atomic_init(&wl->refs, 1);
    wl->write = 0.3;
    wl->zero = 0.1;
    wl->dup = 0.1;

    /* The kind, up to the first comma; a trace path may not contain one. */
    tok = strtok_r(copy, ",", &save);
    if (!tok) {
        r = -EINVAL;
        goto out;
    }
    if (!strcmp(tok, "idle")) {
        wl->kind = XENSHAPE__SIM_WL_IDLE;
    } else if (!strcmp(tok, "uniform")) {
        wl->kind = XENSHAPE__SIM_WL_UNIFORM;
    } else if (!strcmp(tok, "sweep")) {
        wl->kind = XENSHAPE__SIM_WL_SWEEP;
    } else if (!strncmp(tok, "hot:", 4)) {
        wl->kind = XENSHAPE__SIM_WL_HOT;
        colon = strchr(tok + 4, ':');
        if (!colon) {
            r = -EINVAL;
            goto out;
        }
        *colon = '\0';
        if (parse_frac(tok + 4, &wl->hot_frac) ||
            parse_frac(colon + 1, &wl->hot_prob)) {
            r = -EINVAL;
            goto out;
        }
    } else if (!strncmp(tok, "trace:", 6) && tok[6]) {
        struct xenshape__sim_trace *t;

        wl->kind = XENSHAPE__SIM_WL_TRACE;
        t = xenshape__calloc(1, sizeof(*t));
        if (!t) {
            r = -ENOMEM;
            goto out;
        }
        t->pid = -1;
        pthread_mutex_init(&t->lock, NULL);
        t->path = xenshape__strdup(tok + 6);
        wl->trace = t;
        if (!t->path) {
            r = -ENOMEM;
            goto out;
        }
        if (access(t->path, R_OK) < 0) {
            r = -errno;
            goto out;
        }
    } else {
        r = -EINVAL;
        goto out;
    }

    while ((tok = strtok_r(NULL, ",", &save))) {
        char *eq = strchr(tok, '='), *end;

        if (!eq) {
            r = -EINVAL;
            goto out;
        }
        *eq++ = '\0';
        if (!strcmp(tok, "write")) {
            r = parse_frac(eq, &wl->write);
            write_set = true;
        } else if (!strcmp(tok, "zero")) {
            r = parse_frac(eq, &wl->zero);
        } else if (!strcmp(tok, "dup")) {
            r = parse_frac(eq, &wl->dup);
        } else if (!strcmp(tok, "rate")) {
            errno = 0;
            wl->rate = strtod(eq, &end);
            r = (errno || end == eq || *end || !(wl->rate >= 0) ||
                 isinf(wl->rate)) ? -EINVAL : 0;
        } else {
            r = -EINVAL;
        }
        if (r)
            goto out;
    }
    if (wl->zero + wl->dup > 1.0) {
        r = -EINVAL;
        goto out;
    }
    if (wl->kind == XENSHAPE__SIM_WL_SWEEP && !write_set)
        wl->write = 0;
    *wl_r = wl;
    wl = NULL;
    r = 0;
 out:
    if (wl) {
        trace_free(wl->trace);
        free(wl->spec);
        free(wl);
    }
    free(copy);
    return r;
}

void xenshape__sim_workload_put(struct xenshape__sim_workload *wl)
{
    if (!wl || atomic_fetch_sub(&wl->refs, 1) != 1)
        return;
    trace_free(wl->trace);
    free(wl->spec);
    free(wl);
}

/* ---- the vCPU thread ---------------------------------------------------- */

struct vcpu_run {
    struct xenshape__sim_workload *wl;
    uint64_t s[2];                   /* xorshift128+ */
    uint64_t sweep;
    uint64_t hot;                    /* size of the hot set */
    uint64_t keys[TRACE_CHUNK];
    uint8_t wr[TRACE_CHUNK];
    unsigned tn, tpos;
    uint64_t next_ns, interval_ns;
};

static uint64_t rng_next(struct vcpu_run *vr)
{
    uint64_t s1 = vr->s[0];
    const uint64_t s0 = vr->s[1];

    vr->s[0] = s0;
    s1 ^= s1 << 23;
    vr->s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return vr->s[1] + s0;
}

static double rng_unit(struct vcpu_run *vr)
{
    return (double)(rng_next(vr) >> 11) * 0x1.0p-53;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void adopt(struct xenshape__sim_vcpu *vc, struct vcpu_run *vr,
                  uint32_t seq)
{
    struct xenshape__sim_dom *d = vc->d;
    uint64_t x = d->seed ^ ((uint64_t)d->domid << 32) ^
        ((uint64_t)vc->idx << 16) ^ seq;
    uint64_t frames = d->v.max_pages;

    xenshape__sim_workload_put(vr->wl);
    pthread_mutex_lock(&d->wl_lock);
    vr->wl = d->wl;
    if (vr->wl)
        atomic_fetch_add(&vr->wl->refs, 1);
    pthread_mutex_unlock(&d->wl_lock);
    vr->s[0] = splitmix(&x);
    vr->s[1] = splitmix(&x) | 1;
    vr->sweep = vc->idx;
    vr->tn = vr->tpos = 0;
    vr->hot = 0;
    if (vr->wl && vr->wl->kind == XENSHAPE__SIM_WL_HOT) {
        vr->hot = (uint64_t)llround(vr->wl->hot_frac * (double)frames);
        if (vr->hot < 1)
            vr->hot = 1;
        if (vr->hot > frames)
            vr->hot = frames;
    }
    vr->interval_ns = vr->wl && vr->wl->rate > 0 ?
        (uint64_t)(1e9 / vr->wl->rate) : 0;
    vr->next_ns = now_ns();
}

/* The next touch, or false when the workload has none to give. */
static bool pick(struct xenshape__sim_vcpu *vc, struct vcpu_run *vr,
                 uint64_t *gfn, bool *write)
{
    struct xenshape__sim_dom *d = vc->d;
    const struct xenshape__sim_workload *wl = vr->wl;
    uint64_t frames = d->v.max_pages, i;

    switch (wl->kind) {
    case XENSHAPE__SIM_WL_UNIFORM:
        *gfn = rng_next(vr) % frames;
        break;
    case XENSHAPE__SIM_WL_HOT:
        if (vr->hot >= frames || rng_unit(vr) < wl->hot_prob)
            i = rng_next(vr) % vr->hot;
        else
            i = vr->hot + rng_next(vr) % (frames - vr->hot);
        *gfn = (i * d->perm_a + d->perm_b) % frames;
        break;
    case XENSHAPE__SIM_WL_SWEEP:
        *gfn = vr->sweep % frames;
        vr->sweep += d->nr_vcpus;
        if (vr->sweep >= frames)
            vr->sweep = vc->idx;
        break;
    case XENSHAPE__SIM_WL_TRACE:
        if (vr->tpos == vr->tn) {
            vr->tn = trace_fill(wl->trace, vr->keys, vr->wr, TRACE_CHUNK);
            vr->tpos = 0;
            if (!vr->tn)
                return false;
        }
        *gfn = vr->keys[vr->tpos] % frames;
        /* Public traces carry no writes: the write fraction applies. */
        *write = vr->wr[vr->tpos] || rng_unit(vr) < wl->write;
        vr->tpos++;
        return true;
    default:
        return false;
    }
    *write = wl->write > 0 && rng_unit(vr) < wl->write;
    return true;
}

/* Keep to the rate, sleeping only once a millisecond ahead. */
static void pace(struct xenshape__sim_dom *d, struct vcpu_run *vr)
{
    uint64_t now;

    if (!vr->interval_ns)
        return;
    vr->next_ns += vr->interval_ns;
    now = now_ns();
    if (now > vr->next_ns + 100000000ull) {
        vr->next_ns = now;          /* no catching up after a long stall */
        return;
    }
    if (vr->next_ns > now + 1000000ull) {
        uint64_t ns = vr->next_ns - now;
        struct timespec ts;

        if (ns > 100000000ull)
            ns = 100000000ull;
        ts.tv_sec = (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        if (!atomic_load(&d->stop))
            nanosleep(&ts, NULL);
    }
}

static void *vcpu_main(void *arg)
{
    struct xenshape__sim_vcpu *vc = arg;
    struct xenshape__sim_dom *d = vc->d;
    struct vcpu_run run, *vr = &run;
    uint32_t seen = 0, seq;
    bool first = true;

    memset(vr, 0, sizeof(*vr));
    while (!atomic_load(&d->stop)) {
        uint64_t gfn;
        bool write = false;
        int r;

        seq = atomic_load(&d->wl_seq);
        if (first || seq != seen) {
            adopt(vc, vr, seq);
            seen = seq;
            first = false;
        }
        if (!vr->wl || atomic_load(&d->v.de->crashed) ||
            !pick(vc, vr, &gfn, &write)) {
            xenshape__sim_futex_wait(&d->wl_seq, seq, IDLE_WAIT_MS);
            continue;
        }
        r = xenshape__sim_guest_access(d, vc->idx, gfn, write);
        if (r == -ECANCELED && !atomic_load(&d->stop))
            xenshape__sim_futex_wait(&d->wl_seq, seq, IDLE_WAIT_MS);
        pace(d, vr);
    }
    xenshape__sim_workload_put(vr->wl);
    return NULL;
}

void xenshape__sim_dom_kick(struct xenshape__sim_dom *d)
{
    struct xenshape__sim_ctl *ctl = d->v.ctl;
    unsigned i;

    xenshape__sim_futex_bump(&d->wl_seq);
    xenshape__sim_futex_bump(&ctl->ring_space);
    xenshape__sim_futex_bump(&ctl->park);
    xenshape__sim_futex_wake(&d->v.de->pause_count);
    for (i = 0; i < d->nr_vcpus; i++)
        xenshape__sim_futex_bump(&ctl->vcpu[i].wake);
}

int xenshape__sim_vcpus_start(struct xenshape__sim_dom *d)
{
    unsigned i;
    int r;

    for (i = 0; i < d->nr_vcpus; i++) {
        d->vcpu[i].d = d;
        d->vcpu[i].idx = i;
        r = pthread_create(&d->vcpu[i].th, NULL, vcpu_main, &d->vcpu[i]);
        if (r)
            return -r;
        d->vcpu[i].started = true;
    }
    return 0;
}

void xenshape__sim_vcpus_stop(struct xenshape__sim_dom *d)
{
    unsigned i;

    atomic_store(&d->stop, 1);
    xenshape__sim_dom_kick(d);
    for (i = 0; i < d->nr_vcpus; i++) {
        if (!d->vcpu[i].started)
            continue;
        pthread_join(d->vcpu[i].th, NULL);
        d->vcpu[i].started = false;
    }
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
