/*
 * policy_kv.c - watch paths and policy directories, from xenstore's text
 * to what the daemon does about them.  See policy_kv.h.
 *
 * The policy roots come from the schema's scope table, not from strings
 * of their own, so that moving a root in xenstore-schema/ moves what is
 * watched for too.  A path is compared byte for byte with them: xenstored
 * hands out canonical paths, and anything that is not one concerns no
 * policy.  A directory is handed to the schema's apply as one batch of
 * every node it lists, never a prefix of it: cut at a fixed count, a key
 * listed late would silently fall back to its default.
 */

#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "shape/policy_kv.h"

/* The part of scope's root before its first "/<" ("/xenshape/vm" for
 * "/xenshape/vm/<uuid>"), or all of it; its length in *len_r. */
static const char *root_of(enum xenshape__schema_scope scope, size_t *len_r)
{
    const char *path = xenshape__schema_scopes[scope].path;
    const char *lt = strstr(path, "/<");

    *len_r = lt ? (size_t)(lt - path) : strlen(path);
    return path;
}

/* The len bytes at s are a UUID as the daemon spells it: lowercase hex
 * digits, dashes at 8, 13, 18 and 23. */
static bool is_lower_uuid(const char *s, size_t len)
{
    size_t i;

    if (len != XENSHAPE__PKV_UUID_MAX - 1)
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* path is root itself (then *rest_r is "") or below it (then *rest_r is
 * what follows the "/"). */
static bool under(const char *path, const char *root, size_t rlen,
                  const char **rest_r)
{
    if (strncmp(path, root, rlen))
        return false;
    if (!path[rlen]) {
        *rest_r = path + rlen;
        return true;
    }
    if (path[rlen] != '/')
        return false;
    *rest_r = path + rlen + 1;
    return true;
}

/* path is a proper ancestor of root: "/" or a prefix of it ending where
 * one of its components does. */
static bool above(const char *path, const char *root, size_t rlen)
{
    size_t n = strlen(path);

    if (n == 1 && path[0] == '/')
        return true;
    return n < rlen && !strncmp(path, root, n) && root[n] == '/';
}

enum xenshape__pkv_what xenshape__pkv_watch(const char *path,
                                            xenshape__pkv_event *ev_r)
{
    const char *host, *vms, *rest, *slash;
    size_t hlen, vlen, ulen;

    memset(ev_r, 0, sizeof(*ev_r));
    ev_r->what = XENSHAPE__PKV_NONE;
    if (!path || path[0] != '/')
        return ev_r->what;
    host = root_of(XENSHAPE__SCOPE_HOST, &hlen);
    vms = root_of(XENSHAPE__SCOPE_VM, &vlen);

    if (under(path, host, hlen, &rest)) {
        ev_r->what = XENSHAPE__PKV_HOST;
        ev_r->key = rest;
        ev_r->k = *rest ? xenshape__schema_lookup(XENSHAPE__SCOPE_HOST, rest)
            : NULL;
    } else if (under(path, vms, vlen, &rest)) {
        if (!*rest) {
            ev_r->what = XENSHAPE__PKV_ALL_VMS;
            return ev_r->what;
        }
        slash = strchr(rest, '/');
        ulen = slash ? (size_t)(slash - rest) : strlen(rest);
        /* Not a UUID: no VM's directory, so no VM's policy. */
        if (!is_lower_uuid(rest, ulen))
            return ev_r->what;
        ev_r->what = XENSHAPE__PKV_VM;
        memcpy(ev_r->uuid, rest, ulen);
        ev_r->uuid[ulen] = '\0';
        ev_r->key = slash ? slash + 1 : rest + ulen;
        ev_r->k = *ev_r->key ?
            xenshape__schema_lookup(XENSHAPE__SCOPE_VM, ev_r->key) : NULL;
    } else if (above(path, host, hlen) || above(path, vms, vlen)) {
        /* A parent went (rm -r /xenshape): whatever lay below it. */
        ev_r->what = XENSHAPE__PKV_ALL;
    }
    return ev_r->what;
}

/* The listing as one batch for the schema's apply.  NULL (ENOMEM) or an
 * array the caller frees; NULL with n 0 is no error. */
static xenshape__schema_kv *batch_of(char *const *names, char *const *vals,
                                     const size_t *lens, unsigned n)
{
    xenshape__schema_kv *kv;
    unsigned i;

    kv = xenshape__calloc(n, sizeof(*kv));
    if (!kv)
        return NULL;
    for (i = 0; i < n; i++) {
        kv[i].key = names[i];
        kv[i].value = vals[i];
        kv[i].len = vals[i] ? lens[i] : 0;
    }
    return kv;
}

/* The schema's apply for each kind of policy, behind one signature, so
 * that both kinds share the batching below. */
typedef unsigned apply_fn(void *p, const xenshape__schema_kv *kv,
                          unsigned n);

static unsigned apply_dom(void *p, const xenshape__schema_kv *kv, unsigned n)
{
    return xenshape__dompolicy_apply(p, kv, n, XENSHAPE__APPLY_FULL);
}

static unsigned apply_host(void *p, const xenshape__schema_kv *kv,
                           unsigned n)
{
    return xenshape__hostpolicy_apply(p, kv, n, XENSHAPE__APPLY_FULL);
}

/* One directory as one batch: the policy is touched only once the batch
 * exists, so ENOMEM leaves it as it was. */
static int apply_dir(void *p, apply_fn *apply, char *const *names,
                     char *const *vals, const size_t *lens, unsigned n,
                     unsigned *rejected_r)
{
    xenshape__schema_kv *kv = NULL;
    unsigned bad;
    int rc;

    if (n) {
        kv = batch_of(names, vals, lens, n);
        if (!kv) {
            rc = XENSHAPE_ENOMEM;
            goto out;
        }
    }
    bad = apply(p, kv, n);
    if (rejected_r)
        *rejected_r = bad;
    rc = 0;
 out:
    free(kv);
    return rc;
}

int xenshape__pkv_apply_dom(xenshape__dompolicy *p, char *const *names,
                            char *const *vals, const size_t *lens,
                            unsigned n, unsigned *rejected_r)
{
    return apply_dir(p, apply_dom, names, vals, lens, n, rejected_r);
}

int xenshape__pkv_apply_host(xenshape__hostpolicy *p, char *const *names,
                             char *const *vals, const size_t *lens,
                             unsigned n, unsigned *rejected_r)
{
    return apply_dir(p, apply_host, names, vals, lens, n, rejected_r);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
