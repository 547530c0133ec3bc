/*
 * hv_sim.c - the hypervisor backend "sim": libxenshape's hypercalls
 * against the simulated host (libxenshape/sim).
 *
 * Opening the backend is Dom0 opening privcmd: either the in-process host
 * the caller passes (tests, benchmarks), or the host process behind the
 * unix socket in params->sim_socket, which hands over its shared memory
 * (HELLO) and, per domain, the domain's memfd and event channel (OPEN).
 * From then on every op runs the hypervisor's code (sim_core.c) in this
 * process on that shared memory; the socket stays open only so that the
 * host notices when this process dies.
 *
 * The backend keeps little state of its own: a cache of mapped domains
 * (refcounted, dropped once the directory says the domain is gone), the
 * foreign mappings it handed out, and which slots of its map log in
 * shared memory are free.  A pager that dies and restarts opens the
 * backend again and re-attaches to its rings (paging_reattach).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "hv/hv.h"
#include "sim/sim_host.h"

#define DEFAULT_SOCKET "/run/xenshape/simhost.sock"

struct hvview {
    struct xenshape__sim_view v;
    unsigned slot;
    uint32_t domid;
    unsigned refs;                   /* under hv->lock */
};

struct hvmap {
    struct hvmap *next;
    void *addr;
    size_t n;
    bool direct;                     /* points into the domain mapping */
    struct hvview *view;
    uint32_t *idx;                   /* map log slots, UINT32_MAX: none */
};

struct xenshape__hv {
    xentoollog_logger *lg;
    xenshape__sim_host *inproc;      /* borrowed, or NULL */
    int sock;
    pthread_mutex_t sock_lock;
    int client;
    int host_fd;
    struct xenshape__sim_hdr *hdr;
    size_t hdr_size;
    pthread_mutex_t lock;            /* views, maps, log slots */
    struct hvview *views[XENSHAPE__SIM_MAX_DOMS];
    struct hvmap *maps;
    uint32_t *free_idx;
    uint32_t nfree, hw;
};

struct xenshape__hv_dom {
    xenshape__hv *hv;
    struct hvview *view;
    uint32_t domid;
};

/* ---- domain views ---------------------------------------------------------- */

static void view_put_locked(struct hvview *vw)
{
    if (--vw->refs)
        return;
    xenshape__sim_view_unmap(&vw->v);
    free(vw);
}

static void view_put(xenshape__hv *hv, struct hvview *vw)
{
    pthread_mutex_lock(&hv->lock);
    view_put_locked(vw);
    pthread_mutex_unlock(&hv->lock);
}

static bool dirent_is(struct xenshape__sim_dirent *de, uint32_t domid)
{
    uint32_t s = atomic_load(&de->state);

    return (s == XENSHAPE__SIM_DIR_LIVE || s == XENSHAPE__SIM_DIR_DYING) &&
        de->domid == domid;
}

static int open_dom(xenshape__hv *hv, uint32_t domid, int *fd_r,
                    int *evfd_r)
{
    char req[32], reply[256];
    int fds[2] = { -1, -1 }, r;
    unsigned nfds = 2;

    if (hv->inproc)
        return xenshape__sim_host_open_dom(hv->inproc, domid, fd_r, evfd_r);
    snprintf(req, sizeof(req), "OPEN %u", domid);
    pthread_mutex_lock(&hv->sock_lock);
    r = xenshape__sim_sock_call(hv->sock, req, reply, sizeof(reply), fds,
                                &nfds);
    pthread_mutex_unlock(&hv->sock_lock);
    if (r)
        goto out;
    if (strncmp(reply, "OK", 2)) {
        char name[32];

        r = sscanf(reply, "ERR %31s", name) == 1 ?
            -xenshape__sim_errno_value(name) : -EPROTO;
        if (!r)
            r = -EPROTO;
        goto out;
    }
    if (nfds != 2) {
        r = -EPROTO;
        goto out;
    }
    *fd_r = fds[0];
    *evfd_r = fds[1];
    fds[0] = fds[1] = -1;
    r = 0;
 out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return r;
}

/* The domain's view with a reference for the caller: 0 or -ESRCH. */
static int view_get(xenshape__hv *hv, uint32_t domid, struct hvview **vw_r)
{
    struct hvview *vw = NULL;
    unsigned slot;
    int fd = -1, evfd = -1, r;

    pthread_mutex_lock(&hv->lock);
    for (slot = 0; slot < XENSHAPE__SIM_MAX_DOMS; slot++) {
        vw = hv->views[slot];
        if (!vw || vw->domid != domid)
            continue;
        if (dirent_is(&hv->hdr->dir[slot], domid)) {
            vw->refs++;
            *vw_r = vw;
            vw = NULL;
            r = 0;
            goto out;
        }
        /* Gone: the directory slot is free or somebody else's now. */
        hv->views[slot] = NULL;
        view_put_locked(vw);
        break;
    }
    vw = NULL;
    for (slot = 0; slot < XENSHAPE__SIM_MAX_DOMS; slot++)
        if (dirent_is(&hv->hdr->dir[slot], domid))
            break;
    if (slot == XENSHAPE__SIM_MAX_DOMS) {
        r = -ESRCH;
        goto out;
    }
    if (hv->views[slot]) {
        view_put_locked(hv->views[slot]);
        hv->views[slot] = NULL;
    }
    r = open_dom(hv, domid, &fd, &evfd);
    if (r)
        goto out;
    vw = xenshape__calloc(1, sizeof(*vw));
    if (!vw) {
        r = -ENOMEM;
        goto out;
    }
    r = xenshape__sim_view_map(&vw->v, hv->hdr, fd, evfd);
    if (r)
        goto out;
    fd = evfd = -1;
    if (vw->v.domid != domid || vw->v.ctl->dir_slot != slot) {
        xenshape__sim_view_unmap(&vw->v);
        r = -ESRCH;
        goto out;
    }
    vw->slot = slot;
    vw->domid = domid;
    vw->refs = 2;                    /* the table's and the caller's */
    hv->views[slot] = vw;
    *vw_r = vw;
    vw = NULL;
    r = 0;
 out:
    pthread_mutex_unlock(&hv->lock);
    if (fd >= 0)
        close(fd);
    if (evfd >= 0)
        close(evfd);
    free(vw);
    return r;
}

/* ---- open and close -------------------------------------------------------- */

static int hello(xenshape__hv *hv, const char *path)
{
    char reply[256];
    unsigned nfds = 1;
    int fd = -1, r;

    r = xenshape__sim_sock_connect(path, &hv->sock);
    if (r)
        return r;
    r = xenshape__sim_sock_call(hv->sock, "HELLO", reply, sizeof(reply),
                                &fd, &nfds);
    if (r)
        return r;
    if (strncmp(reply, "OK", 2) || nfds != 1 ||
        !strstr(reply, "client=") ||
        sscanf(strstr(reply, "client="), "client=%d", &hv->client) != 1) {
        if (nfds == 1)
            close(fd);
        return -EPROTO;
    }
    hv->host_fd = fd;
    return 0;
}

static void sim_close(xenshape__hv *hv);

static int sim_open(xenshape__hv **hv_r, const xenshape__hv_params *p,
                    struct xentoollog_logger *lg)
{
    xenshape__hv *hv = NULL;
    struct stat st;
    void *base;
    int r;

    hv = xenshape__calloc(1, sizeof(*hv));
    if (!hv)
        return -ENOMEM;
    hv->lg = lg;
    hv->sock = hv->host_fd = hv->client = -1;
    pthread_mutex_init(&hv->lock, NULL);
    pthread_mutex_init(&hv->sock_lock, NULL);
    hv->free_idx = xenshape__malloc(XENSHAPE__SIM_CLIENT_MAPS *
                                    sizeof(uint32_t));
    if (!hv->free_idx) {
        r = -ENOMEM;
        goto out;
    }
    if (p && p->sim_host) {
        hv->inproc = p->sim_host;
        r = xenshape__sim_host_client_attach(hv->inproc, getpid(),
                                             &hv->client);
        if (r)
            goto out;
        r = xenshape__sim_host_dup_fd(hv->inproc);
        if (r < 0)
            goto out;
        hv->host_fd = r;
    } else {
        const char *path = p && p->sim_socket ? p->sim_socket
                                              : DEFAULT_SOCKET;

        r = hello(hv, path);
        if (r) {
            XSLOG(lg, ERROR, -r, "cannot reach the simulated host at %s",
                  path);
            goto out;
        }
    }
    if (fstat(hv->host_fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                hv->host_fd, 0);
    if (base == MAP_FAILED) {
        r = -errno;
        goto out;
    }
    hv->hdr = base;
    hv->hdr_size = (size_t)st.st_size;
    if (hv->hdr->magic != XENSHAPE__SIM_HOST_MAGIC ||
        hv->hdr->version != XENSHAPE__SIM_SHM_VERSION ||
        hv->hdr->size != hv->hdr_size) {
        XSLOG(lg, ERROR, -1, "simulated host speaks another version");
        r = -EPROTO;
        goto out;
    }
    *hv_r = hv;
    hv = NULL;
    r = 0;
 out:
    if (hv)
        sim_close(hv);
    return r;
}

static void sim_close(xenshape__hv *hv)
{
    struct hvmap *m, *next;
    unsigned i;

    if (!hv)
        return;
    for (m = hv->maps; m; m = next) {
        next = m->next;
        xenshape__sim_op_unmap(&m->view->v, hv->client, m->idx, m->n);
        if (!m->direct)
            munmap(m->addr, m->n * XENSHAPE__SIM_PAGE);
        view_put(hv, m->view);
        free(m->idx);
        free(m);
    }
    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++)
        if (hv->views[i])
            view_put(hv, hv->views[i]);
    if (hv->inproc && hv->client >= 0)
        xenshape__sim_host_client_detach(hv->inproc, hv->client);
    if (hv->hdr)
        munmap(hv->hdr, hv->hdr_size);
    if (hv->host_fd >= 0)
        close(hv->host_fd);
    if (hv->sock >= 0)
        close(hv->sock);
    pthread_mutex_destroy(&hv->lock);
    pthread_mutex_destroy(&hv->sock_lock);
    free(hv->free_idx);
    free(hv);
}

/* ---- information -------------------------------------------------------------- */

static int sim_domain_list(xenshape__hv *hv, xenshape__hv_dominfo *out,
                           unsigned max)
{
    xenshape__hv_dominfo all[XENSHAPE__SIM_MAX_DOMS], t;
    unsigned i, j, n = 0;

    for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++) {
        struct xenshape__sim_dirent *de = &hv->hdr->dir[i];
        uint32_t s = atomic_load(&de->state);
        xenshape__hv_dominfo *info = &all[n];

        if (s != XENSHAPE__SIM_DIR_LIVE && s != XENSHAPE__SIM_DIR_DYING)
            continue;
        memset(info, 0, sizeof(*info));
        info->domid = de->domid;
        info->nr_vcpus = de->nr_vcpus;
        info->tot_pages = atomic_load(&de->tot_pages);
        info->max_pages = de->max_pages;
        info->paged_pages = atomic_load(&de->paged_pages);
        info->max_gpfn = de->max_pages;
        info->paused = atomic_load(&de->pause_count) != 0;
        info->dying = s == XENSHAPE__SIM_DIR_DYING;
        info->crashed = atomic_load(&de->crashed) != 0;
        info->hap = true;
        memcpy(info->handle, de->uuid, sizeof(info->handle));
        n++;
    }
    /* In domid order, as getdomaininfolist walks them. */
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && all[j - 1].domid > all[j].domid; j--) {
            t = all[j];
            all[j] = all[j - 1];
            all[j - 1] = t;
        }
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof(*out));
    return (int)n;
}

static int sim_host_info(xenshape__hv *hv, uint64_t *total_r,
                         uint64_t *free_r)
{
    *total_r = hv->hdr->total_frames;
    *free_r = xenshape__sim_free_frames(hv->hdr);
    return 0;
}

/* ---- the ring ----------------------------------------------------------------- */

static int new_hvdom(xenshape__hv *hv, struct hvview *vw, uint32_t domid,
                     xenshape__hv_dom **d_r)
{
    xenshape__hv_dom *d = xenshape__calloc(1, sizeof(*d));

    if (!d)
        return -ENOMEM;
    d->hv = hv;
    d->view = vw;
    d->domid = domid;
    *d_r = d;
    return 0;
}

static int sim_paging_enable(xenshape__hv *hv, uint32_t domid,
                             xenshape__hv_dom **d_r, uint32_t *port_r)
{
    struct hvview *vw;
    uint32_t port = 0;
    int r;

    r = view_get(hv, domid, &vw);
    if (r)
        return r;
    r = xenshape__sim_op_enable(&vw->v, hv->client, &port);
    if (r == 1) {
        /* A dying domain: Xen ignores the op and returns 0. */
        view_put(hv, vw);
        *d_r = NULL;
        *port_r = 0;
        return 0;
    }
    if (r == 0) {
        r = new_hvdom(hv, vw, domid, d_r);
        if (r)
            xenshape__sim_op_disable(&vw->v);
    }
    if (r) {
        view_put(hv, vw);
        return r;
    }
    *port_r = port;
    return 0;
}

static int sim_paging_reattach(xenshape__hv *hv, uint32_t domid,
                               uint32_t port, xenshape__hv_dom **d_r)
{
    struct hvview *vw;
    int r;

    r = view_get(hv, domid, &vw);
    if (r)
        return r;
    r = xenshape__sim_op_reattach(&vw->v, hv->client, port);
    if (!r) {
        r = new_hvdom(hv, vw, domid, d_r);
        if (r)
            xenshape__sim_op_unbind(&vw->v, hv->client);
    }
    if (r)
        view_put(hv, vw);
    return r;
}

static void sim_ring_close(xenshape__hv_dom *d)
{
    if (!d)
        return;
    xenshape__sim_op_unbind(&d->view->v, d->hv->client);
    view_put(d->hv, d->view);
    free(d);
}

static int sim_paging_disable(xenshape__hv *hv, uint32_t domid)
{
    struct hvview *vw;
    int r;

    r = view_get(hv, domid, &vw);
    if (r)
        return r;
    r = xenshape__sim_op_disable(&vw->v);
    view_put(hv, vw);
    return r;
}

static vm_event_sring_t *sim_ring_page(xenshape__hv_dom *d)
{
    return (vm_event_sring_t *)d->view->v.ctl->ring;
}

static int sim_evtchn_fd(xenshape__hv_dom *d)
{
    return d->view->v.evfd;
}

static int sim_evtchn_ack(xenshape__hv_dom *d)
{
    uint64_t n;

    if (read(d->view->v.evfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

static int sim_evtchn_notify(xenshape__hv_dom *d)
{
    return xenshape__sim_op_resume(&d->view->v);
}

/* ---- memops ------------------------------------------------------------------- */

#define WITH_VIEW(hv, domid, call)                      \
    do {                                                \
        struct hvview *vw_;                             \
        int r_ = view_get((hv), (domid), &vw_);         \
                                                        \
        if (r_)                                         \
            return r_;                                  \
        r_ = call;                                      \
        view_put((hv), vw_);                            \
        return r_;                                      \
    } while (0)

static int sim_nominate(xenshape__hv *hv, uint32_t domid, uint64_t gfn)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_nominate(&vw_->v, gfn));
}

static int sim_evict(xenshape__hv *hv, uint32_t domid, uint64_t gfn)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_evict(&vw_->v, gfn));
}

static int sim_load(xenshape__hv *hv, uint32_t domid, uint64_t gfn,
                    const void *buf)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_load(&vw_->v, gfn, buf));
}

static int sim_pause(xenshape__hv *hv, uint32_t domid)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_pause(&vw_->v));
}

static int sim_unpause(xenshape__hv *hv, uint32_t domid)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_unpause(&vw_->v));
}

static int sim_access_enable(xenshape__hv *hv, uint32_t domid,
                             unsigned modes)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_access_enable(&vw_->v, modes));
}

static int sim_access_disable(xenshape__hv *hv, uint32_t domid)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_access_disable(&vw_->v));
}

static int sim_access_arm(xenshape__hv *hv, uint32_t domid,
                          const uint64_t *gfns, size_t n)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_access_arm(&vw_->v, gfns, n));
}

static int sim_access_read(xenshape__hv *hv, uint32_t domid, uint64_t *gfns,
                           size_t max)
{
    WITH_VIEW(hv, domid, xenshape__sim_op_access_read(&vw_->v, gfns, max));
}

static int sim_dirty_read(xenshape__hv *hv, uint32_t domid, uint64_t *bitmap,
                          uint64_t nr, bool clean)
{
    WITH_VIEW(hv, domid,
              xenshape__sim_op_dirty_read(&vw_->v, bitmap, nr, clean));
}

/* ---- foreign mapping ------------------------------------------------------------ */

/* n free slots of our map log, or -ENOMEM.  hv->lock held. */
static int idx_alloc(xenshape__hv *hv, uint32_t *idx, size_t n)
{
    size_t i;

    if (hv->nfree + (XENSHAPE__SIM_CLIENT_MAPS - hv->hw) < n)
        return -ENOMEM;
    for (i = 0; i < n; i++)
        idx[i] = hv->nfree ? hv->free_idx[--hv->nfree] : hv->hw++;
    atomic_store(&hv->hdr->clients[hv->client].hw, hv->hw);
    return 0;
}

static void idx_free(xenshape__hv *hv, const uint32_t *idx, size_t n)
{
    size_t i;

    pthread_mutex_lock(&hv->lock);
    for (i = 0; i < n; i++)
        if (idx[i] != UINT32_MAX)
            hv->free_idx[hv->nfree++] = idx[i];
    pthread_mutex_unlock(&hv->lock);
}

/*
 * Lay the mapped frames out in one address range, as
 * xenforeignmemory_map() does.  Consecutive gfns are one mmap() each;
 * frames that failed stay inaccessible.
 */
static void *layout(struct hvview *vw, int prot, const uint64_t *gfns,
                    size_t n, const int *err, bool *direct_r)
{
    size_t len = n * XENSHAPE__SIM_PAGE, i, j;
    bool consecutive = gfns[0] + n <= vw->v.max_pages;
    uint8_t *base;

    for (i = 1; consecutive && i < n; i++)
        consecutive = gfns[i] == gfns[0] + i;
    if (consecutive) {
        *direct_r = true;
        return vw->v.mem + gfns[0] * XENSHAPE__SIM_PAGE;
    }
    *direct_r = false;
    base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
                MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    for (i = 0; i < n; i = j) {
        if (err[i]) {
            j = i + 1;
            continue;
        }
        for (j = i + 1; j < n && !err[j] && gfns[j] == gfns[i] + (j - i);
             j++)
            ;
        if (mmap(base + i * XENSHAPE__SIM_PAGE, (j - i) * XENSHAPE__SIM_PAGE,
                 prot, MAP_SHARED | MAP_FIXED, vw->v.fd,
                 (off_t)(vw->v.ctl->mem_off +
                         gfns[i] * XENSHAPE__SIM_PAGE)) == MAP_FAILED) {
            int e = errno;

            munmap(base, len);
            errno = e;
            return NULL;
        }
    }
    return base;
}

static void *sim_map(xenshape__hv *hv, uint32_t domid, int prot,
                     const uint64_t *gfns, size_t n, int *err)
{
    struct hvview *vw = NULL;
    struct hvmap *m = NULL;
    uint32_t *alloc = NULL;
    int *errs = err, *own_errs = NULL, r;
    void *addr = NULL;
    bool taken = false;
    size_t i;

    if (!n || !gfns) {
        errno = EINVAL;
        return NULL;
    }
    r = view_get(hv, domid, &vw);
    if (r)
        goto out;
    if (!errs) {
        errs = own_errs = xenshape__calloc(n, sizeof(*errs));
        if (!errs) {
            r = -ENOMEM;
            goto out;
        }
    }
    m = xenshape__calloc(1, sizeof(*m));
    alloc = xenshape__calloc(n, sizeof(*alloc));
    if (m)
        m->idx = xenshape__calloc(n, sizeof(*m->idx));
    if (!m || !alloc || !m->idx) {
        r = -ENOMEM;
        goto out;
    }
    pthread_mutex_lock(&hv->lock);
    r = idx_alloc(hv, alloc, n);
    pthread_mutex_unlock(&hv->lock);
    if (r)
        goto out;
    memcpy(m->idx, alloc, n * sizeof(*alloc));
    r = xenshape__sim_op_map(&vw->v, hv->client, gfns, n, errs, m->idx);
    if (r) {
        idx_free(hv, alloc, n);
        goto out;
    }
    taken = true;
    /* Log slots of frames that were not mapped go back at once. */
    for (i = 0; i < n; i++)
        if (m->idx[i] == UINT32_MAX)
            idx_free(hv, &alloc[i], 1);
    if (own_errs) {
        /* Without err[], one failure fails the whole call. */
        for (i = 0; i < n; i++)
            if (errs[i]) {
                r = errs[i];
                goto out;
            }
    }
    addr = layout(vw, prot, gfns, n, errs, &m->direct);
    if (!addr) {
        r = -errno;
        goto out;
    }
    m->addr = addr;
    m->n = n;
    m->view = vw;
    pthread_mutex_lock(&hv->lock);
    m->next = hv->maps;
    hv->maps = m;
    pthread_mutex_unlock(&hv->lock);
    m = NULL;
    vw = NULL;
    r = 0;
 out:
    if (m) {
        if (taken) {
            xenshape__sim_op_unmap(&vw->v, hv->client, m->idx, n);
            idx_free(hv, m->idx, n);
        }
        free(m->idx);
        free(m);
    }
    if (vw)
        view_put(hv, vw);
    free(alloc);
    free(own_errs);
    if (r) {
        errno = -r;
        return NULL;
    }
    return addr;
}

static int sim_unmap(xenshape__hv *hv, void *addr, size_t n)
{
    struct hvmap **pp, *m = NULL;

    pthread_mutex_lock(&hv->lock);
    for (pp = &hv->maps; *pp; pp = &(*pp)->next)
        if ((*pp)->addr == addr && (*pp)->n == n) {
            m = *pp;
            *pp = m->next;
            break;
        }
    pthread_mutex_unlock(&hv->lock);
    if (!m)
        return -EINVAL;
    xenshape__sim_op_unmap(&m->view->v, hv->client, m->idx, m->n);
    idx_free(hv, m->idx, m->n);
    if (!m->direct)
        munmap(m->addr, m->n * XENSHAPE__SIM_PAGE);
    view_put(hv, m->view);
    free(m->idx);
    free(m);
    return 0;
}

const struct xenshape__hv_ops xenshape__hv_sim_ops = {
    .version = XENSHAPE__HV_OPS_VERSION,
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .domain_list = sim_domain_list,
    .host_info = sim_host_info,
    .paging_enable = sim_paging_enable,
    .paging_reattach = sim_paging_reattach,
    .ring_close = sim_ring_close,
    .paging_disable = sim_paging_disable,
    .ring_page = sim_ring_page,
    .evtchn_fd = sim_evtchn_fd,
    .evtchn_ack = sim_evtchn_ack,
    .evtchn_notify = sim_evtchn_notify,
    .nominate = sim_nominate,
    .evict = sim_evict,
    .load = sim_load,
    .map = sim_map,
    .unmap = sim_unmap,
    .pause = sim_pause,
    .unpause = sim_unpause,
    .access_enable = sim_access_enable,
    .access_disable = sim_access_disable,
    .access_arm = sim_access_arm,
    .access_read = sim_access_read,
    .dirty_read = sim_dirty_read,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
