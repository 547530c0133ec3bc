/*
 * kv_xen.c - the xenstore backend for real Xen: libxenstore (xs_open and
 * friends) talking to xenstored or oxenstored in Dom0, over its unix
 * socket or /dev/xen/xenbus.  Compiled only when libxen-dev was found
 * (see the Makefile).
 *
 * Each op is a thin translation: libxenstore reports failure as false or
 * NULL with errno set to what the daemon said (ENOENT, EACCES, EAGAIN on
 * a conflicting commit, E2BIG, ENOSPC for a quota, ...), and we return
 * that errno negated, unchanged, so callers see the same codes here and
 * on the simulated host.  Results libxenstore allocates in its own
 * layout (a directory is one block, a watch event one block) are copied
 * into the layout kv.h promises, through our allocator, so that callers
 * free them one way whatever the backend.
 *
 * Watches are read without blocking: xs_fileno() is what callers poll,
 * and xs_check_watch() hands out what is queued (NULL with EAGAIN when
 * nothing is).  The handle is opened with XS_UNWATCH_FILTER so that no
 * event of a watch arrives after xs_unwatch() returned.
 */

#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "private.h"
#include "kv/kv.h"

struct xenshape__kv {
    struct xs_handle *xs;
    xentoollog_logger *lg;
};

/* The errno libxenstore left, negated; never 0 for a failure. */
static int xs_err(void)
{
    return errno ? -errno : -EIO;
}

static int kx_open(xenshape__kv **kv_r, const char *arg,
                   xentoollog_logger *lg)
{
    xenshape__kv *kv = NULL;
    int r;

    kv = xenshape__calloc(1, sizeof(*kv));
    if (!kv) {
        r = -ENOMEM;
        goto out;
    }
    kv->lg = lg;
    errno = 0;
    kv->xs = xs_open(XS_UNWATCH_FILTER);
    if (!kv->xs) {
        r = xs_err();
        /* On a machine without Xen this is expected: say it once, at a
         * level a caller's logger shows, and nothing on stderr. */
        XSLOG(lg, ERROR, -r, "cannot connect to xenstored (xs_open)");
        goto out;
    }
    *kv_r = kv;
    kv = NULL;
    r = 0;
 out:
    free(kv);
    return r;
}

static void kx_close(xenshape__kv *kv)
{
    if (!kv)
        return;
    xs_close(kv->xs);
    free(kv);
}

static int kx_txn_start(xenshape__kv *kv, xenshape__kv_txn *t_r)
{
    xs_transaction_t t;

    if (!kv)
        return -EBADF;
    errno = 0;
    t = xs_transaction_start(kv->xs);
    if (t == XBT_NULL)
        return xs_err();
    *t_r = t;
    return 0;
}

static int kx_txn_end(xenshape__kv *kv, xenshape__kv_txn t, bool abort)
{
    if (!kv)
        return -EBADF;
    errno = 0;
    if (!xs_transaction_end(kv->xs, t, abort))
        return xs_err();
    return 0;
}

static int kx_read(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                   char **val_r, size_t *len_r)
{
    unsigned int len = 0;
    char *v = NULL, *copy;

    if (!kv)
        return -EBADF;
    errno = 0;
    v = xs_read(kv->xs, t, path, &len);
    if (!v)
        return xs_err();
    /* libxenstore NUL-terminates; copy through our allocator so the
     * allocation fault seam covers this result too. */
    copy = xenshape__malloc((size_t)len + 1);
    if (!copy) {
        free(v);
        return -ENOMEM;
    }
    memcpy(copy, v, len);
    copy[len] = '\0';
    free(v);
    *val_r = copy;
    if (len_r)
        *len_r = len;
    return 0;
}

static int kx_write(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                    const void *val, size_t len)
{
    if (!kv)
        return -EBADF;
    if (len > XENSHAPE__KV_VALUE_MAX)
        return -E2BIG;
    errno = 0;
    if (!xs_write(kv->xs, t, path, val, (unsigned int)len))
        return xs_err();
    return 0;
}

static int kx_rm(xenshape__kv *kv, xenshape__kv_txn t, const char *path)
{
    int r;

    if (!kv)
        return -EBADF;
    errno = 0;
    if (xs_rm(kv->xs, t, path))
        return 0;
    r = xs_err();
    /* Already gone is what the caller wanted. */
    return r == -ENOENT ? 0 : r;
}

static int kx_directory(xenshape__kv *kv, xenshape__kv_txn t,
                        const char *path, char ***names_r, unsigned *n_r)
{
    char **xs_names = NULL, **names = NULL;
    unsigned int num = 0, i;
    int r;

    if (!kv)
        return -EBADF;
    errno = 0;
    xs_names = xs_directory(kv->xs, t, path, &num);
    if (!xs_names) {
        r = xs_err();
        goto out;
    }
    names = xenshape__calloc((size_t)num + 1, sizeof(*names));
    if (!names) {
        r = -ENOMEM;
        goto out;
    }
    for (i = 0; i < num; i++) {
        names[i] = xenshape__strdup(xs_names[i]);
        if (!names[i]) {
            r = -ENOMEM;
            goto out;
        }
    }
    *names_r = names;
    *n_r = num;
    names = NULL;
    r = 0;
 out:
    xenshape__kv_free_list(names);
    free(xs_names);                  /* one block: array and strings */
    return r;
}

static int kx_set_perms(xenshape__kv *kv, xenshape__kv_txn t,
                        const char *path, const xenshape__kv_perm *perms,
                        unsigned n)
{
    struct xs_permissions *xp = NULL;
    unsigned i;
    int r;

    if (!kv)
        return -EBADF;
    if (!n)
        return -EINVAL;
    xp = xenshape__calloc(n, sizeof(*xp));
    if (!xp)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        xp[i].id = perms[i].domid;
        xp[i].perms = perms[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
    }
    errno = 0;
    r = xs_set_permissions(kv->xs, t, path, xp, n) ? 0 : xs_err();
    free(xp);
    return r;
}

static int kx_get_perms(xenshape__kv *kv, xenshape__kv_txn t,
                        const char *path, xenshape__kv_perm **perms_r,
                        unsigned *n_r)
{
    struct xs_permissions *xp;
    xenshape__kv_perm *p;
    unsigned int num = 0, i;

    if (!kv)
        return -EBADF;
    errno = 0;
    xp = xs_get_permissions(kv->xs, t, path, &num);
    if (!xp)
        return xs_err();
    p = xenshape__calloc(num ? num : 1, sizeof(*p));
    if (!p) {
        free(xp);
        return -ENOMEM;
    }
    for (i = 0; i < num; i++) {
        p[i].domid = xp[i].id;
        /* Only the access bits: XS_PERM_OWNER is libxenstore-internal. */
        p[i].perms = xp[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
    }
    free(xp);
    *perms_r = p;
    *n_r = num;
    return 0;
}

static int kx_watch(xenshape__kv *kv, const char *path, const char *token)
{
    if (!kv)
        return -EBADF;
    /* The watch pipe must exist before events arrive, or the first
     * ones would be readable only by a blocking xs_read_watch(). */
    if (xs_fileno(kv->xs) < 0)
        return xs_err();
    errno = 0;
    if (!xs_watch(kv->xs, path, token))
        return xs_err();
    return 0;
}

static int kx_unwatch(xenshape__kv *kv, const char *path, const char *token)
{
    if (!kv)
        return -EBADF;
    errno = 0;
    if (!xs_unwatch(kv->xs, path, token))
        return xs_err();
    return 0;
}

static int kx_watch_fd(xenshape__kv *kv)
{
    int fd;

    if (!kv)
        return -EBADF;
    errno = 0;
    fd = xs_fileno(kv->xs);
    return fd < 0 ? xs_err() : fd;
}

static int kx_read_watch(xenshape__kv *kv, char **path_r, char **token_r)
{
    char **vec, *path = NULL, *token = NULL;
    int r;

    if (!kv)
        return -EBADF;
    errno = 0;
    vec = xs_check_watch(kv->xs);
    if (!vec)
        return xs_err();             /* -EAGAIN: nothing queued */
    path = xenshape__strdup(vec[XS_WATCH_PATH]);
    token = xenshape__strdup(vec[XS_WATCH_TOKEN]);
    free(vec);
    if (!path || !token) {
        /* The event is lost; a watcher re-reads what it watches after
         * any error, so nothing is missed for good. */
        r = -ENOMEM;
        goto out;
    }
    *path_r = path;
    *token_r = token;
    path = token = NULL;
    r = 0;
 out:
    free(path);
    free(token);
    return r;
}

const struct xenshape__kv_ops xenshape__kv_xen_ops = {
    .name = "xen",
    .open = kx_open,
    .close = kx_close,
    .txn_start = kx_txn_start,
    .txn_end = kx_txn_end,
    .read = kx_read,
    .write = kx_write,
    .rm = kx_rm,
    .directory = kx_directory,
    .set_perms = kx_set_perms,
    .get_perms = kx_get_perms,
    .watch = kx_watch,
    .unwatch = kx_unwatch,
    .watch_fd = kx_watch_fd,
    .read_watch = kx_read_watch,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
