/*
 * sim_host.c - the simulated host's lifecycle and its domains: creating a
 * domain (shared memory, content, vCPU threads), destroying it, changing
 * its workload, reporting its counters, and keeping track of the
 * processes (pagers) that attach to the host.
 *
 * The host plays Xen's role; it never pages anything itself.  What it
 * owns privately is what Xen would never show Dom0: the write generation
 * of every frame (hence its expected content) and the vCPU threads.
 * Everything a hypercall needs is in shared memory (sim_shm.h), so that a
 * pager in another process runs the same code on the same state.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "sim/sim_host.h"
#include "sim/sim_kv.h"

static uint64_t round_page(uint64_t n)
{
    return (n + XENSHAPE__SIM_PAGE - 1) & ~(uint64_t)(XENSHAPE__SIM_PAGE - 1);
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;

        a = b;
        b = t;
    }
    return a;
}

static void msleep(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* ---- host ---------------------------------------------------------------- */

int xenshape__sim_host_new(xenshape__sim_host **h_r, uint64_t total_frames)
{
    xenshape__sim_host *h = NULL;
    struct xenshape__sim_hdr *hdr;
    uint64_t maps_off, size;
    void *base = MAP_FAILED;
    int fd = -1, r;

    if (!total_frames) {
        r = -EINVAL;
        goto out;
    }
    maps_off = round_page(sizeof(*hdr));
    size = maps_off + (uint64_t)XENSHAPE__SIM_MAX_CLIENTS *
        XENSHAPE__SIM_CLIENT_MAPS * sizeof(uint64_t);
    h = xenshape__calloc(1, sizeof(*h));
    if (!h) {
        r = -ENOMEM;
        goto out;
    }
    fd = memfd_create("xenshape-simhost", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        r = -errno;
        goto out;
    }
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        r = -errno;
        goto out;
    }
    hdr = base;
    hdr->magic = XENSHAPE__SIM_HOST_MAGIC;
    hdr->version = XENSHAPE__SIM_SHM_VERSION;
    hdr->total_frames = total_frames;
    hdr->size = size;
    hdr->maps_off = maps_off;
    atomic_store(&hdr->next_domid, 1);
    atomic_store(&hdr->next_port, XENSHAPE__SIM_FIRST_PORT);
    r = xenshape__sim_mutex_init(&hdr->alloc_lock);
    if (r)
        goto out;
    r = xenshape__sim_kv_new(&h->kv, NULL);
    if (r)
        goto out;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->conn_lock, NULL);
    h->fd = fd;
    h->hdr = hdr;
    h->hdr_size = size;
    h->listen_fd = h->wake_fd = -1;
    *h_r = h;
    h = NULL;
    fd = -1;
    base = MAP_FAILED;
    r = 0;
 out:
    if (base != MAP_FAILED)
        munmap(base, size);
    if (fd >= 0)
        close(fd);
    if (h)
        xenshape__sim_kv_free(h->kv);
    free(h);
    return r;
}

void xenshape__sim_host_free(xenshape__sim_host *h)
{
    unsigned i;

    if (!h)
        return;
    atomic_store(&h->stopping, true);
    xenshape__sim_sock_stop(h);
    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++) {
        uint32_t domid = 0;

        pthread_mutex_lock(&h->lock);
        if (h->doms[i])
            domid = h->doms[i]->domid;
        pthread_mutex_unlock(&h->lock);
        if (domid)
            xenshape__sim_dom_destroy(h, domid);
    }
    xenshape__sim_sock_join(h);
    /* After the connections: their threads use it until they end. */
    xenshape__sim_kv_free(h->kv);
    munmap(h->hdr, h->hdr_size);
    close(h->fd);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->conn_lock);
    free(h);
}

void xenshape__sim_host_set_logger(xenshape__sim_host *h,
                                   struct xentoollog_logger *lg)
{
    h->lg = lg;
    xenshape__sim_kv_set_logger(h->kv, lg);
}

void xenshape__sim_host_request_shutdown(xenshape__sim_host *h)
{
    atomic_store(&h->shutdown_req, 1);
    xenshape__sim_futex_wake(&h->shutdown_req);
}

bool xenshape__sim_host_wait_shutdown(xenshape__sim_host *h, int timeout_ms)
{
    while (!atomic_load(&h->shutdown_req)) {
        xenshape__sim_futex_wait(&h->shutdown_req, 0,
                                 timeout_ms < 0 ? 1000 : timeout_ms);
        if (timeout_ms >= 0)
            break;
    }
    return atomic_load(&h->shutdown_req) != 0;
}

int xenshape__sim_host_dup_fd(xenshape__sim_host *h)
{
    int fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);

    return fd < 0 ? -errno : fd;
}

/* ---- clients ------------------------------------------------------------- */

int xenshape__sim_host_client_attach(xenshape__sim_host *h, pid_t pid,
                                     int *client_r)
{
    unsigned i;

    for (i = 0; i < XENSHAPE__SIM_MAX_CLIENTS; i++) {
        struct xenshape__sim_client *c = &h->hdr->clients[i];
        uint32_t expect = XENSHAPE__SIM_CLIENT_FREE;

        if (!atomic_compare_exchange_strong(&c->state, &expect,
                                            XENSHAPE__SIM_CLIENT_DEAD))
            continue;
        atomic_store(&c->hw, 0);
        atomic_store(&c->pid, pid);
        atomic_store(&c->state, XENSHAPE__SIM_CLIENT_LIVE);
        *client_r = (int)i;
        return 0;
    }
    return -ENOSPC;
}

void xenshape__sim_host_client_detach(xenshape__sim_host *h, int client)
{
    struct xenshape__sim_client *c;
    struct xenshape__sim_dom *doms[XENSHAPE__SIM_MAX_DOMS];
    _Atomic uint64_t *maps;
    unsigned i, n = 0;
    uint32_t hw;

    if (client < 0 || client >= XENSHAPE__SIM_MAX_CLIENTS)
        return;
    c = &h->hdr->clients[client];
    /* Not live any more: every recount from now on leaves it out. */
    atomic_store(&c->state, XENSHAPE__SIM_CLIENT_DEAD);
    pthread_mutex_lock(&h->lock);
    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++)
        if (h->doms[i]) {
            atomic_fetch_add(&h->doms[i]->refs, 1);
            doms[n++] = h->doms[i];
        }
    pthread_mutex_unlock(&h->lock);
    for (i = 0; i < n; i++) {
        struct xenshape__sim_view *v = &doms[i]->v;

        if (!xenshape__sim_lock(v)) {
            /* Its event channel closes with it (the port becomes
             * unbound), and Linux tears down its foreign mappings. */
            if (v->ctl->bound_client == client)
                v->ctl->bound_client = -1;
            xenshape__sim_recount_maps(v, client);
            xenshape__sim_unlock(v);
        }
        xenshape__sim_dom_put(doms[i]);
    }
    maps = xenshape__sim_client_maps(h->hdr, client);
    hw = atomic_load(&c->hw);
    if (hw > XENSHAPE__SIM_CLIENT_MAPS)
        hw = XENSHAPE__SIM_CLIENT_MAPS;
    for (i = 0; i < hw; i++)
        atomic_store(&maps[i], 0);
    atomic_store(&c->hw, 0);
    atomic_store(&c->pid, 0);
    atomic_store(&c->state, XENSHAPE__SIM_CLIENT_FREE);
}

/* ---- domains ------------------------------------------------------------- */

struct xenshape__sim_dom *xenshape__sim_dom_get(xenshape__sim_host *h,
                                               uint32_t domid)
{
    struct xenshape__sim_dom *d = NULL;
    unsigned i;

    pthread_mutex_lock(&h->lock);
    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++)
        if (h->doms[i] && h->doms[i]->domid == domid) {
            d = h->doms[i];
            atomic_fetch_add(&d->refs, 1);
            break;
        }
    pthread_mutex_unlock(&h->lock);
    return d;
}

void xenshape__sim_dom_put(struct xenshape__sim_dom *d)
{
    /* The table's reference is dropped only by destroy, which waits for
     * the others and frees. */
    atomic_fetch_sub(&d->refs, 1);
}

int xenshape__sim_host_open_dom(xenshape__sim_host *h, uint32_t domid,
                                int *fd_r, int *evfd_r)
{
    struct xenshape__sim_dom *d;
    int fd = -1, evfd = -1, r;

    d = xenshape__sim_dom_get(h, domid);
    if (!d)
        return -ESRCH;
    fd = fcntl(d->v.fd, F_DUPFD_CLOEXEC, 0);
    evfd = fcntl(d->v.evfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || evfd < 0) {
        r = -errno;
        goto out;
    }
    *fd_r = fd;
    *evfd_r = evfd;
    fd = evfd = -1;
    r = 0;
 out:
    if (fd >= 0)
        close(fd);
    if (evfd >= 0)
        close(evfd);
    xenshape__sim_dom_put(d);
    return r;
}

/* Write the control area of a fresh domain memfd. */
static int init_ctl(int fd, const struct xenshape__sim_dom *d,
                    uint64_t frames, unsigned vcpus)
{
    struct xenshape__sim_ctl *ctl;
    uint64_t p2m_off, dirty_off, mem_off, size;
    int r;

    xenshape__sim_dom_layout(frames, &p2m_off, &dirty_off, &mem_off, &size);
    if (ftruncate(fd, (off_t)size) < 0)
        return -errno;
    ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ctl == MAP_FAILED)
        return -errno;
    ctl->version = XENSHAPE__SIM_SHM_VERSION;
    ctl->domid = d->domid;
    ctl->dir_slot = d->slot;
    ctl->nr_vcpus = vcpus;
    ctl->max_pages = frames;
    ctl->p2m_off = p2m_off;
    ctl->dirty_off = dirty_off;
    ctl->mem_off = mem_off;
    ctl->size = size;
    ctl->bound_client = -1;
    r = xenshape__sim_mutex_init(&ctl->lock);
    ctl->magic = XENSHAPE__SIM_DOM_MAGIC;
    munmap(ctl, sizeof(*ctl));
    return r;
}

/* Undo a (partial) create, or finish a destroy: release everything. */
static void dom_release(xenshape__sim_host *h, struct xenshape__sim_dom *d)
{
    struct xenshape__sim_dirent *de = &h->hdr->dir[d->slot];

    xenshape__sim_vcpus_stop(d);
    if (d->v.base) {
        /* The RAM goes back to the host even if a pager still maps the
         * memfd; what the pager sees there is no longer a domain. */
        fallocate(d->v.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)d->v.ctl->mem_off,
                  (off_t)(d->v.max_pages * XENSHAPE__SIM_PAGE));
        xenshape__sim_view_unmap(&d->v);
    } else {
        if (d->v.fd >= 0)
            close(d->v.fd);
        if (d->v.evfd >= 0)
            close(d->v.evfd);
    }
    atomic_store(&de->tot_pages, 0);
    atomic_store(&de->paged_pages, 0);
    atomic_store(&de->state, XENSHAPE__SIM_DIR_FREE);
    xenshape__sim_workload_put(d->wl);
    pthread_mutex_destroy(&d->wl_lock);
    free(d->gen);
    free(d);
}

int xenshape__sim_dom_create(xenshape__sim_host *h,
                             const xenshape__sim_dom_params *p,
                             uint32_t *domid_r)
{
    struct xenshape__sim_workload *wl = NULL;
    struct xenshape__sim_dom *d = NULL;
    struct xenshape__sim_dirent *de;
    char memname[64];
    uint64_t frames = p->frames, g, x;
    unsigned vcpus = p->vcpus, slot, i;
    bool locked = false, reserved = false;
    int fd = -1, evfd = -1, r;

    if (!frames || frames > (1ull << 36) || !vcpus ||
        vcpus > XENSHAPE__SIM_MAX_VCPUS ||
        (p->name && strlen(p->name) >= sizeof(de->name)))
        return -EINVAL;
    r = xenshape__sim_workload_parse(p->workload, &wl);
    if (r)
        return r;
    d = xenshape__calloc(1, sizeof(*d));
    if (!d) {
        r = -ENOMEM;
        goto out;
    }
    d->v.fd = d->v.evfd = -1;
    d->h = h;
    pthread_mutex_init(&d->wl_lock, NULL);

    pthread_mutex_lock(&h->lock);
    locked = true;
    if (atomic_load(&h->stopping)) {
        r = -ESHUTDOWN;
        goto out;
    }
    /* Reserve a directory entry and the RAM in one step under the
     * allocation lock, as xl create's claim would. */
    xenshape__sim_alloc_lock(h->hdr);
    for (slot = 0; slot < XENSHAPE__SIM_MAX_DOMS; slot++)
        if (atomic_load(&h->hdr->dir[slot].state) == XENSHAPE__SIM_DIR_FREE &&
            !h->doms[slot])
            break;
    if (slot == XENSHAPE__SIM_MAX_DOMS) {
        xenshape__sim_alloc_unlock(h->hdr);
        r = -ENOSPC;
        goto out;
    }
    if (xenshape__sim_free_frames(h->hdr) < frames) {
        xenshape__sim_alloc_unlock(h->hdr);
        r = -ENOMEM;
        goto out;
    }
    de = &h->hdr->dir[slot];
    memset(de->name, 0, sizeof(de->name));
    atomic_store(&de->tot_pages, frames);
    atomic_store(&de->paged_pages, 0);
    atomic_store(&de->pause_count, 0);
    atomic_store(&de->crashed, 0);
    de->domid = atomic_fetch_add(&h->hdr->next_domid, 1);
    de->max_pages = frames;
    de->nr_vcpus = vcpus;
    atomic_store(&de->state, XENSHAPE__SIM_DIR_CREATING);
    xenshape__sim_alloc_unlock(h->hdr);
    reserved = true;
    d->slot = slot;
    d->domid = de->domid;
    d->nr_vcpus = vcpus;
    d->seed = p->seed;
    d->zero = wl->zero;
    d->dup = wl->dup;
    snprintf(d->name, sizeof(d->name), "%s",
             p->name && *p->name ? p->name : "guest");
    snprintf(de->name, sizeof(de->name), "%s", d->name);
    x = p->seed ^ ((uint64_t)d->domid << 40);
    for (i = 0; i < 16; i += 8) {
        uint64_t u = splitmix(&x);

        memcpy(de->uuid + i, &u, 8);
    }
    de->uuid[6] = (uint8_t)((de->uuid[6] & 0x0f) | 0x40);
    de->uuid[8] = (uint8_t)((de->uuid[8] & 0x3f) | 0x80);

    snprintf(memname, sizeof(memname), "xenshape-dom%u", d->domid);
    fd = memfd_create(memname, MFD_CLOEXEC);
    evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0 || evfd < 0) {
        r = -errno;
        goto out;
    }
    r = init_ctl(fd, d, frames, vcpus);
    if (r)
        goto out;
    r = xenshape__sim_view_map(&d->v, h->hdr, fd, evfd);
    if (r)
        goto out;
    fd = evfd = -1;
    d->gen = xenshape__calloc(frames, sizeof(*d->gen));
    if (!d->gen) {
        r = -ENOMEM;
        goto out;
    }
    /* Every frame starts populated (type rw is 0) with its content. */
    for (g = 0; g < frames; g++) {
        uint64_t key = xenshape__sim_expected_key(d, g);

        if (key)
            xenshape__sim_fill(d->v.mem + g * XENSHAPE__SIM_PAGE, key);
    }
    d->perm_a = (0x9e3779b97f4a7c15ull % frames) | 1;
    while (frames > 1 && gcd(d->perm_a, frames) != 1)
        d->perm_a = (d->perm_a + 2) % frames;
    d->perm_b = p->seed % frames;
    d->wl = wl;
    wl = NULL;
    atomic_init(&d->refs, 1);
    r = xenshape__sim_vcpus_start(d);
    if (r)
        goto out;
    atomic_store(&de->state, XENSHAPE__SIM_DIR_LIVE);
    h->doms[slot] = d;
    /* What the toolstack writes once the domain is built. */
    xenshape__sim_kv_dom_created(h->kv, d->domid, d->name, de->uuid, frames);
    *domid_r = d->domid;
    d = NULL;
    r = 0;
 out:
    if (fd >= 0)
        close(fd);
    if (evfd >= 0)
        close(evfd);
    if (d && reserved) {
        /* Gives the directory entry and its RAM back, and frees d. */
        dom_release(h, d);
    } else if (d) {
        pthread_mutex_destroy(&d->wl_lock);
        free(d);
    }
    if (locked)
        pthread_mutex_unlock(&h->lock);
    xenshape__sim_workload_put(wl);
    return r;
}

int xenshape__sim_dom_destroy(xenshape__sim_host *h, uint32_t domid)
{
    struct xenshape__sim_dom *d = NULL;
    unsigned i;

    pthread_mutex_lock(&h->lock);
    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++)
        if (h->doms[i] && h->doms[i]->domid == domid) {
            d = h->doms[i];
            h->doms[i] = NULL;
            break;
        }
    pthread_mutex_unlock(&h->lock);
    if (!d)
        return -ESRCH;
    /* Dying first, so every hypercall from now on fails cleanly. */
    if (!xenshape__sim_lock(&d->v)) {
        atomic_store(&d->v.ctl->dying, 1);
        atomic_store(&d->v.de->state, XENSHAPE__SIM_DIR_DYING);
        xenshape__sim_unlock(&d->v);
    } else {
        atomic_store(&d->v.ctl->dying, 1);
        atomic_store(&d->v.de->state, XENSHAPE__SIM_DIR_DYING);
    }
    xenshape__sim_vcpus_stop(d);
    /* Requests in flight on other threads (touch, verify) see stop. */
    while (atomic_load(&d->refs) > 1) {
        xenshape__sim_dom_kick(d);
        msleep(1);
    }
    dom_release(h, d);
    /* The toolstack's cleanup, and xenstored's @releaseDomain. */
    xenshape__sim_kv_dom_destroyed(h->kv, domid);
    return 0;
}

int xenshape__sim_dom_workload(xenshape__sim_host *h, uint32_t domid,
                               const char *spec)
{
    struct xenshape__sim_workload *wl = NULL, *old;
    struct xenshape__sim_dom *d;
    int r;

    r = xenshape__sim_workload_parse(spec, &wl);
    if (r)
        return r;
    d = xenshape__sim_dom_get(h, domid);
    if (!d) {
        xenshape__sim_workload_put(wl);
        return -ESRCH;
    }
    pthread_mutex_lock(&d->wl_lock);
    old = d->wl;
    d->wl = wl;
    pthread_mutex_unlock(&d->wl_lock);
    xenshape__sim_futex_bump(&d->wl_seq);
    xenshape__sim_workload_put(old);
    xenshape__sim_dom_put(d);
    return 0;
}

int xenshape__sim_dom_get_stats(xenshape__sim_host *h, uint32_t domid,
                                xenshape__sim_dom_stats *st_r)
{
    struct xenshape__sim_dom *d;
    struct xenshape__sim_ctl *ctl;
    struct xenshape__sim_ctl_stats *cs;
    xenshape__sim_dom_stats st;
    bool locked;
    unsigned i;

    d = xenshape__sim_dom_get(h, domid);
    if (!d)
        return -ESRCH;
    ctl = d->v.ctl;
    cs = &ctl->st;
    memset(&st, 0, sizeof(st));
    /* Under the lock: a dead holder's mess is repaired before we look. */
    locked = !xenshape__sim_lock(&d->v);
    if (locked) {
        st.ring_free = xenshape__sim_ring_free(&d->v);
        st.ring_waiters = ctl->ring_waiters;
        st.paging_enabled = ctl->enabled != 0;
    }
    for (i = 0; i < d->nr_vcpus; i++) {
        struct xenshape__sim_vcpu *vc = &d->vcpu[i];

        st.touches += atomic_load(&vc->touches);
        st.reads += atomic_load(&vc->reads);
        st.writes += atomic_load(&vc->writes);
        st.faults += atomic_load(&vc->faults);
        st.wrong_reads += atomic_load(&vc->wrong_reads);
        st.balloon_fail += atomic_load(&vc->balloon_fail);
        if (atomic_load(&ctl->vcpu[i].vm_pause) ||
            atomic_load(&ctl->vcpu[i].blocked))
            st.blocked_vcpus++;
    }
    st.version_mismatch = atomic_load(&cs->version_mismatch);
    st.responses = atomic_load(&cs->responses);
    st.crashed = atomic_load(&d->v.de->crashed) != 0;
    st.tot_pages = atomic_load(&d->v.de->tot_pages);
    st.max_pages = d->v.max_pages;
    st.paged_pages = atomic_load(&d->v.de->paged_pages);
    st.requests = atomic_load(&cs->requests);
    st.foreign_requests = atomic_load(&cs->foreign_requests);
    st.foreign_ring_full = atomic_load(&cs->foreign_ring_full);
    st.drop_requests = atomic_load(&cs->drop_requests);
    st.evict_fail = atomic_load(&cs->evict_fail);
    st.ring_waits = atomic_load(&cs->ring_waits);
    st.spurious_faults = atomic_load(&cs->spurious_faults);
    st.access_events = atomic_load(&cs->access_events);
    st.access_drops = atomic_load(&cs->access_drops);
    st.recoveries = atomic_load(&cs->recoveries);
    st.pause_count = atomic_load(&d->v.de->pause_count);
    if (locked)
        xenshape__sim_unlock(&d->v);
    xenshape__sim_dom_put(d);
    *st_r = st;
    return 0;
}

int xenshape__sim_dom_stats_text(xenshape__sim_host *h, uint32_t domid,
                                 char *buf, size_t len)
{
    xenshape__sim_dom_stats st;
    int r;

    r = xenshape__sim_dom_stats(h, domid, &st);
    if (r)
        return r;
#define U(x) (unsigned long long)(x)
    snprintf(buf, len,
             "domid=%u touches=%llu reads=%llu writes=%llu faults=%llu "
             "wrong_reads=%llu version_mismatch=%llu responses=%llu "
             "blocked_vcpus=%llu crashed=%d tot_pages=%llu max_pages=%llu "
             "paged_pages=%llu requests=%llu foreign_requests=%llu "
             "foreign_ring_full=%llu drop_requests=%llu evict_fail=%llu "
             "ring_waits=%llu spurious_faults=%llu access_events=%llu "
             "access_drops=%llu recoveries=%llu balloon_fail=%llu "
             "ring_free=%u ring_waiters=%u pause_count=%u "
             "paging_enabled=%d",
             domid, U(st.touches), U(st.reads), U(st.writes), U(st.faults),
             U(st.wrong_reads), U(st.version_mismatch), U(st.responses),
             U(st.blocked_vcpus), st.crashed, U(st.tot_pages),
             U(st.max_pages), U(st.paged_pages), U(st.requests),
             U(st.foreign_requests), U(st.foreign_ring_full),
             U(st.drop_requests), U(st.evict_fail), U(st.ring_waits),
             U(st.spurious_faults), U(st.access_events), U(st.access_drops),
             U(st.recoveries), U(st.balloon_fail), st.ring_free,
             st.ring_waiters, st.pause_count, st.paging_enabled);
#undef U
    return 0;
}

int xenshape__sim_host_list_text(xenshape__sim_host *h, char *buf,
                                 size_t len)
{
    static const char *const states[] = { "free", "creating", "live",
                                          "dying" };
    struct xenshape__sim_hdr *hdr = h->hdr;
    size_t used = 0;
    unsigned i, n = 0;
    int w;

    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++) {
        uint32_t s = atomic_load(&hdr->dir[i].state);

        if (s == XENSHAPE__SIM_DIR_LIVE || s == XENSHAPE__SIM_DIR_DYING)
            n++;
    }
    w = snprintf(buf, len, "domains=%u", n);
    if (w < 0 || (size_t)w >= len)
        return -EMSGSIZE;
    used = (size_t)w;
    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++) {
        struct xenshape__sim_dirent *de = &hdr->dir[i];
        uint32_t s = atomic_load(&de->state);

        if (s != XENSHAPE__SIM_DIR_LIVE && s != XENSHAPE__SIM_DIR_DYING)
            continue;
        w = snprintf(buf + used, len - used,
                     "\ndomid=%u name=%s state=%s vcpus=%u max_pages=%llu "
                     "tot_pages=%llu paged_pages=%llu paused=%d crashed=%d",
                     de->domid, de->name, states[s], de->nr_vcpus,
                     (unsigned long long)de->max_pages,
                     (unsigned long long)atomic_load(&de->tot_pages),
                     (unsigned long long)atomic_load(&de->paged_pages),
                     atomic_load(&de->pause_count) != 0,
                     atomic_load(&de->crashed) != 0);
        if (w < 0 || (size_t)w >= len - used)
            return -EMSGSIZE;
        used += (size_t)w;
    }
    return 0;
}

/* ---- guest actions and test seams ----------------------------------------- */

int xenshape__sim_dom_touch(xenshape__sim_host *h, uint32_t domid,
                            unsigned vcpu, uint64_t gfn, bool write)
{
    struct xenshape__sim_dom *d;
    int r;

    d = xenshape__sim_dom_get(h, domid);
    if (!d)
        return -ESRCH;
    if (vcpu >= d->nr_vcpus || gfn >= d->v.max_pages)
        r = -EINVAL;
    else
        r = xenshape__sim_guest_access(d, vcpu, gfn, write);
    xenshape__sim_dom_put(d);
    return r;
}

int xenshape__sim_dom_balloon(xenshape__sim_host *h, uint32_t domid,
                              unsigned vcpu, uint64_t gfn)
{
    struct xenshape__sim_dom *d;
    int r;

    d = xenshape__sim_dom_get(h, domid);
    if (!d)
        return -ESRCH;
    if (vcpu >= d->nr_vcpus || gfn >= d->v.max_pages)
        r = -EINVAL;
    else
        r = xenshape__sim_guest_balloon_out(d, vcpu, gfn);
    xenshape__sim_dom_put(d);
    return r;
}

int xenshape__sim_dom_hold_lock(xenshape__sim_host *h, uint32_t domid)
{
    struct xenshape__sim_dom *d;
    int r;

    d = xenshape__sim_dom_get(h, domid);
    if (!d)
        return -ESRCH;
    r = xenshape__sim_lock(&d->v);
    xenshape__sim_dom_put(d);
    return r;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
