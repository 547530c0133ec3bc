/*
 * select.c - the registry of page-selection policies: look one up by name,
 * list them, create an instance.  The policies themselves live in
 * policy_*.c, one ops table each; nothing here knows how any of them
 * decides.
 */

#include <string.h>

#include "private.h"
#include "select/select.h"

static const struct xenshape__policy_ops *const policies[] = {
    &xenshape__policy_default,
    &xenshape__policy_lfu,
    &xenshape__policy_lru,
    &xenshape__policy_clock,
    &xenshape__policy_random,
};

static const char *const policy_names[] = {
    "default", "lfu", "lru", "clock", "random", NULL,
};

const struct xenshape__policy_ops *xenshape__policy_lookup(const char *name)
{
    unsigned i;

    if (!name)
        return NULL;
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(policies); i++)
        if (!strcmp(policies[i]->name, name))
            return policies[i];
    return NULL;
}

const char *const *xenshape__policy_names(void)
{
    return policy_names;
}

int xenshape__policy_new(xenshape__policy **p_r, const char *name,
                         uint64_t nr_frames, uint64_t seed, unsigned flags)
{
    const struct xenshape__policy_ops *ops;
    xenshape__policy *p = NULL;
    int rc;

    ops = xenshape__policy_lookup(name ? name : "default");
    if (!ops) {
        rc = XENSHAPE_ENOENT;
        goto out;
    }
    if (!nr_frames || nr_frames > XENSHAPE__POLICY_MAX_FRAMES) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    rc = ops->init(&p, nr_frames, seed, flags);
    if (rc)
        goto out;
    p->ops = ops;
    *p_r = p;
    rc = 0;
 out:
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
