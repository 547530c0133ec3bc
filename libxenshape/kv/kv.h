/*
 * kv.h - the xenstore that policy and status travel through, behind one
 * ops table as the hypervisor is (hv/hv.h): real xenstored through
 * libxenstore (kv_xen.c), or the simulated host's store (kv_sim.c),
 * which keeps xenstored's semantics that matter here: a tree of nodes
 * holding byte strings, per-node permissions checked against the
 * connection's domain (Dom0 bypasses them), watches that fire once on
 * registration and then on any change at or below the path, and
 * transactions that fail with -EAGAIN on conflict and are redone.
 *
 * Ops return 0 (or a count) or a negative errno, never our XENSHAPE_E*
 * codes: the wrappers below are the one place that turns nothing into
 * something, and the fault-injection seam (sites "kv.*", see private.h).
 * Strings returned through *_r are allocated and owned by the caller,
 * who releases them with free() (a directory: xenshape__kv_free_list()).
 * A handle is used by one thread at a time.
 *
 * Reference: section 7 of the xen-paging reference (layout, permissions,
 * watches, transactions, quotas) and docs/shaping.md (the schema's
 * layout).
 */

#ifndef XENSHAPE_KV_H
#define XENSHAPE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xentoollog.h>

/* Largest value xenstored keeps (XENSTORE_PAYLOAD_MAX less the path). */
#define XENSHAPE__KV_VALUE_MAX 2048u
/* Longest path (XENSTORE_ABS_PATH_MAX). */
#define XENSHAPE__KV_PATH_MAX  3072u

/* Permission bits, as XS_PERM_*. */
#define XENSHAPE__KV_PERM_NONE  0u
#define XENSHAPE__KV_PERM_READ  1u
#define XENSHAPE__KV_PERM_WRITE 2u

/* The first entry names the owner and the default for everyone else. */
typedef struct xenshape__kv_perm {
    uint32_t domid;
    unsigned perms;                  /* XENSHAPE__KV_PERM_* */
} xenshape__kv_perm;

/* A transaction; XENSHAPE__KV_NO_TXN outside one. */
typedef uint32_t xenshape__kv_txn;
#define XENSHAPE__KV_NO_TXN 0u

typedef struct xenshape__kv xenshape__kv;

struct xenshape__kv_ops {
    const char *name;

    /* arg: backend-specific, may be NULL.  xen: unused (libxenstore's
     * default socket or XENSTORED_PATH).  sim: the simulated host's
     * control socket path; "PATH,domid=N" connects as domain N (a
     * guest, for tests: its writes obey permissions). */
    int (*open)(xenshape__kv **kv_r, const char *arg,
                xentoollog_logger *lg);
    void (*close)(xenshape__kv *kv);          /* NULL ok */

    int (*txn_start)(xenshape__kv *kv, xenshape__kv_txn *t_r);
    /* abort true: discard.  -EAGAIN: a conflict, start again. */
    int (*txn_end)(xenshape__kv *kv, xenshape__kv_txn t, bool abort);

    /* *val_r is NUL-terminated as well as *len_r long.  -ENOENT,
     * -EACCES. */
    int (*read)(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                char **val_r, size_t *len_r);
    /* Creates missing parents, as xenstored does.  -EACCES, -E2BIG. */
    int (*write)(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                 const void *val, size_t len);
    /* Removes the node and everything below it.  Absent: 0. */
    int (*rm)(xenshape__kv *kv, xenshape__kv_txn t, const char *path);
    /* The names of path's children; *names_r is a NULL-terminated array
     * of *n_r strings. */
    int (*directory)(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                     char ***names_r, unsigned *n_r);
    int (*set_perms)(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                     const xenshape__kv_perm *perms, unsigned n);
    /* *perms_r allocated, *n_r entries. */
    int (*get_perms)(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                     xenshape__kv_perm **perms_r, unsigned *n_r);

    /* Watches: fire once at once, then on any change at or below path.
     * token is copied and comes back with each event. */
    int (*watch)(xenshape__kv *kv, const char *path, const char *token);
    int (*unwatch)(xenshape__kv *kv, const char *path, const char *token);
    /* Readable when events may be waiting (poll it, then read_watch
     * until -EAGAIN). */
    int (*watch_fd)(xenshape__kv *kv);
    /* One event: the path that changed and the watch's token, both
     * allocated.  -EAGAIN: none now. */
    int (*read_watch)(xenshape__kv *kv, char **path_r, char **token_r);
};

extern const struct xenshape__kv_ops xenshape__kv_xen_ops;
extern const struct xenshape__kv_ops xenshape__kv_sim_ops;

/* ---- wrappers: the only way in ---------------------------------------- */

typedef struct xenshape__kv_handle xenshape__kv_handle;

/* backend: "xen" or "sim".  0, XENSHAPE_EINVAL (unknown backend),
 * XENSHAPE_ENOMEM, or the backend's failure as XENSHAPE_E*. */
int xenshape__kv_open(xenshape__kv_handle **h_r, const char *backend,
                      const char *arg, xentoollog_logger *lg);
void xenshape__kv_close(xenshape__kv_handle *h);        /* NULL ok */

/* These return 0 (a count where said) or -errno, as the ops do. */
int xenshape__kv_txn_start(xenshape__kv_handle *h, xenshape__kv_txn *t_r);
int xenshape__kv_txn_end(xenshape__kv_handle *h, xenshape__kv_txn t,
                         bool abort);
int xenshape__kv_read(xenshape__kv_handle *h, xenshape__kv_txn t,
                      const char *path, char **val_r, size_t *len_r);
int xenshape__kv_write(xenshape__kv_handle *h, xenshape__kv_txn t,
                       const char *path, const void *val, size_t len);
int xenshape__kv_write_str(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, const char *val);
int xenshape__kv_rm(xenshape__kv_handle *h, xenshape__kv_txn t,
                    const char *path);
int xenshape__kv_directory(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, char ***names_r, unsigned *n_r);
void xenshape__kv_free_list(char **names);              /* NULL ok */
int xenshape__kv_set_perms(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, const xenshape__kv_perm *perms,
                           unsigned n);
int xenshape__kv_get_perms(xenshape__kv_handle *h, xenshape__kv_txn t,
                           const char *path, xenshape__kv_perm **perms_r,
                           unsigned *n_r);
int xenshape__kv_watch(xenshape__kv_handle *h, const char *path,
                       const char *token);
int xenshape__kv_unwatch(xenshape__kv_handle *h, const char *path,
                         const char *token);
int xenshape__kv_watch_fd(xenshape__kv_handle *h);
int xenshape__kv_read_watch(xenshape__kv_handle *h, char **path_r,
                            char **token_r);

/*
 * Run fn inside a transaction, redoing it on -EAGAIN up to
 * XENSHAPE__KV_TXN_TRIES times (xenstored and oxenstored both make
 * conflicting transactions fail; oxenstored also rate-limits domains
 * that conflict often, so the retries are bounded).  fn returns 0 to
 * commit, or -errno to abort and return that.  -EAGAIN after the last
 * try.
 */
#define XENSHAPE__KV_TXN_TRIES 16
typedef int xenshape__kv_txn_fn(xenshape__kv_handle *h, xenshape__kv_txn t,
                                void *arg);
int xenshape__kv_transact(xenshape__kv_handle *h, xenshape__kv_txn_fn *fn,
                          void *arg);

#endif /* XENSHAPE_KV_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
