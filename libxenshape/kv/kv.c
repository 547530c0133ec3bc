/*
 * kv.c - the registry of xenstore backends and the only code that calls
 * through a kv ops table.  Each wrapper first consults the
 * fault-injection seam ("kv.<op>"), so that every failure xenstored can
 * return (EACCES, EAGAIN on commit, ENOSPC for a quota, a dead
 * connection) can be produced on demand in tests, then calls the
 * backend.  The helpers every caller would otherwise rewrite live here
 * too: writing a C string, freeing a directory listing, and running a
 * transaction with a bounded EAGAIN retry.
 *
 * Which backends exist is decided by the Makefile (kv_xen.c is compiled
 * only when libxen-dev was found); the HAVE_XEN lines below are the one
 * place that knows.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "private.h"
#include "kv/kv.h"

struct xenshape__kv_handle {
    const struct xenshape__kv_ops *ops;
    xenshape__kv *kv;
    xentoollog_logger *lg;
};

static const struct xenshape__kv_ops *const backends[] = {
#ifdef HAVE_XEN
    &xenshape__kv_xen_ops,
#endif
    &xenshape__kv_sim_ops,
};

static const struct xenshape__kv_ops *lookup(const char *name)
{
    unsigned i;

    if (!name)
        return NULL;
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(backends); i++)
        if (!strcmp(backends[i]->name, name))
            return backends[i];
    return NULL;
}

/* An injected failure looks exactly like xenstored's own. */
#define INJECT(site)                                          \
    do {                                                      \
        int inj_ = xenshape__fault(XENSHAPE__FAULT_##site);   \
        if (inj_)                                             \
            return inj_ > 0 ? -inj_ : -EIO;                   \
    } while (0)

int xenshape__kv_open(xenshape__kv_handle **h_r, const char *backend,
                      const char *arg, xentoollog_logger *lg)
{
    xenshape__kv_handle *h = NULL;
    const struct xenshape__kv_ops *ops;
    int rc, r, inj;

    ops = lookup(backend);
    if (!ops) {
        XSLOG(lg, ERROR, -1, "xenstore backend '%s' is not built in",
              backend ? backend : "(null)");
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    h = xenshape__calloc(1, sizeof(*h));
    if (!h) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    h->ops = ops;
    h->lg = lg;
    inj = xenshape__fault(XENSHAPE__FAULT_KV_OPEN);
    r = inj ? (inj > 0 ? -inj : -EIO) : ops->open(&h->kv, arg, lg);
    if (r < 0) {
        rc = xenshape__rc_from_errno(r);
        goto out;
    }
    *h_r = h;
    h = NULL;
    rc = 0;
 out:
    free(h);
    return rc;
}

void xenshape__kv_close(xenshape__kv_handle *h)
{
    if (!h)
        return;
    h->ops->close(h->kv);
    free(h);
}

int xenshape__kv_txn_start(xenshape__kv_handle *h, xenshape__kv_txn *t_r)
{
    INJECT(KV_TXN_START);
    return h->ops->txn_start(h->kv, t_r);
}

int xenshape__kv_txn_end(xenshape__kv_handle *h, xenshape__kv_txn t,
                         bool abort)
{
    int inj = xenshape__fault(XENSHAPE__FAULT_KV_TXN_END);

    if (inj) {
        /* The transaction must not outlive an injected failure: end it
         * for real (discarding it), then report the failure, as a
         * conflicting commit leaves nothing behind in xenstored. */
        h->ops->txn_end(h->kv, t, true);
        return inj > 0 ? -inj : -EIO;
    }
    return h->ops->txn_end(h->kv, t, abort);
}

int xenshape__kv_read(xenshape__kv_handle *h, xenshape__kv_txn t,
                      const char *path, char **val_r, size_t *len_r)
{
    INJECT(KV_READ);
    return h->ops->read(h->kv, t, path, val_r, len_r);
}

int xenshape__kv_write(xenshape__kv_handle *h, xenshape__kv_txn t,
                       const char *path, const void *val, size_t len)
{
    INJECT(KV_WRITE);
    if (len > XENSHAPE__KV_VALUE_MAX)
        return -E2BIG;
    return h->ops->write(h->kv, t, path, val, len);
}

int xenshape__kv_write_str(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, const char *val)
{
    return xenshape__kv_write(h, t, path, val, strlen(val));
}

int xenshape__kv_rm(xenshape__kv_handle *h, xenshape__kv_txn t,
                    const char *path)
{
    INJECT(KV_RM);
    return h->ops->rm(h->kv, t, path);
}

int xenshape__kv_directory(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, char ***names_r, unsigned *n_r)
{
    INJECT(KV_DIRECTORY);
    return h->ops->directory(h->kv, t, path, names_r, n_r);
}

void xenshape__kv_free_list(char **names)
{
    char **p;

    if (!names)
        return;
    for (p = names; *p; p++)
        free(*p);
    free(names);
}

int xenshape__kv_set_perms(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, const xenshape__kv_perm *perms,
                           unsigned n)
{
    INJECT(KV_SET_PERMS);
    if (!n)
        return -EINVAL;
    return h->ops->set_perms(h->kv, t, path, perms, n);
}

int xenshape__kv_get_perms(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, xenshape__kv_perm **perms_r,
                           unsigned *n_r)
{
    INJECT(KV_GET_PERMS);
    return h->ops->get_perms(h->kv, t, path, perms_r, n_r);
}

int xenshape__kv_watch(xenshape__kv_handle *h, const char *path,
                       const char *token)
{
    INJECT(KV_WATCH);
    return h->ops->watch(h->kv, path, token);
}

int xenshape__kv_unwatch(xenshape__kv_handle *h, const char *path,
                         const char *token)
{
    INJECT(KV_UNWATCH);
    return h->ops->unwatch(h->kv, path, token);
}

int xenshape__kv_watch_fd(xenshape__kv_handle *h)
{
    return h->ops->watch_fd(h->kv);
}

int xenshape__kv_read_watch(xenshape__kv_handle *h, char **path_r,
                            char **token_r)
{
    INJECT(KV_READ_WATCH);
    return h->ops->read_watch(h->kv, path_r, token_r);
}

/* A short pause that grows with the number of conflicts, so that two
 * writers that keep colliding drift apart instead of colliding again. */
static void backoff(unsigned tries)
{
    struct timespec ts = { 0, (long)tries * 200 * 1000 };

    nanosleep(&ts, NULL);
}

int xenshape__kv_transact(xenshape__kv_handle *h, xenshape__kv_txn_fn *fn,
                          void *arg)
{
    xenshape__kv_txn t;
    unsigned tries;
    int r;

    for (tries = 0; tries < XENSHAPE__KV_TXN_TRIES; tries++) {
        if (tries)
            backoff(tries);
        r = xenshape__kv_txn_start(h, &t);
        if (r < 0)
            return r;
        r = fn(h, t, arg);
        if (r < 0) {
            xenshape__kv_txn_end(h, t, true);
            /* An op inside a transaction that already conflicts may
             * itself say EAGAIN (oxenstored does): redo it, as for a
             * failed commit. */
            if (r == -EAGAIN)
                continue;
            return r;
        }
        r = xenshape__kv_txn_end(h, t, false);
        if (r != -EAGAIN)
            return r;
    }
    XSLOG(h->lg, WARN, EAGAIN, "xenstore transaction still conflicting "
          "after %u tries; giving up", XENSHAPE__KV_TXN_TRIES);
    return -EAGAIN;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
