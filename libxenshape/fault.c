/*
 * fault.c - the fault-injection seam shared by every external edge of the
 * library: hypervisor ops, store syscalls, the allocator.  As in sqlite's
 * test_syscall.c, a site can be told to fail its Nth call from now, once
 * or persistently from then on, with a chosen errno.  Unarmed sites cost
 * one relaxed atomic load.
 *
 * The table is process-wide on purpose: faults are a property of the
 * machine the library runs on (a disk, a hypervisor), not of a context.
 */

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

struct fault_site {
    const char *name;
    atomic_bool armed;
    atomic_long countdown;      /* calls left before the first failure */
    atomic_int errnum;
    atomic_bool persistent;
    atomic_ulong hits;
};

static struct fault_site sites[XENSHAPE__FAULT_NR] = {
#define XENSHAPE__FAULT_INIT(id, nm) [XENSHAPE__FAULT_##id] = { .name = nm },
    XENSHAPE__FAULT_SITES(XENSHAPE__FAULT_INIT)
#undef XENSHAPE__FAULT_INIT
};

static const char *const site_names[] = {
#define XENSHAPE__FAULT_NAME(id, nm) nm,
    XENSHAPE__FAULT_SITES(XENSHAPE__FAULT_NAME)
#undef XENSHAPE__FAULT_NAME
    NULL
};

const char *const *xenshape_fault_sites(void)
{
    return site_names;
}

int xenshape__fault(enum xenshape__fault_site id)
{
    struct fault_site *s = &sites[id];
    long left;

    if (!atomic_load_explicit(&s->armed, memory_order_relaxed))
        return 0;
    left = atomic_fetch_sub(&s->countdown, 1);
    if (left > 1)
        return 0;
    if (left < 1 && !atomic_load(&s->persistent))
        return 0;
    atomic_fetch_add(&s->hits, 1);
    if (left == 1 && !atomic_load(&s->persistent))
        atomic_store(&s->armed, false);
    return atomic_load(&s->errnum);
}

static struct fault_site *find_site(const char *name)
{
    unsigned i;

    for (i = 0; i < XENSHAPE__FAULT_NR; i++)
        if (!strcmp(sites[i].name, name))
            return &sites[i];
    return NULL;
}

int xenshape_fault_set(const char *site, unsigned long nth, int errnum,
                       bool persistent)
{
    struct fault_site *s;

    if (!site)
        return XENSHAPE_EINVAL;
    s = find_site(site);
    if (!s || (nth && errnum == 0) || errnum < XENSHAPE_FAULT_SHORT)
        return XENSHAPE_EINVAL;
    atomic_store(&s->armed, false);
    atomic_store(&s->hits, 0);
    if (!nth)
        return 0;
    atomic_store(&s->countdown, (long)nth);
    atomic_store(&s->errnum, errnum);
    atomic_store(&s->persistent, persistent);
    atomic_store(&s->armed, true);
    return 0;
}

void xenshape_fault_clear_all(void)
{
    unsigned i;

    for (i = 0; i < XENSHAPE__FAULT_NR; i++)
        atomic_store(&sites[i].armed, false);
}

unsigned long xenshape_fault_hits(const char *site)
{
    struct fault_site *s = site ? find_site(site) : NULL;

    return s ? atomic_load(&s->hits) : 0;
}

static const struct {
    const char *name;
    int value;
} errno_names[] = {
    { "EIO", EIO }, { "ENOSPC", ENOSPC }, { "ENOMEM", ENOMEM },
    { "EBUSY", EBUSY }, { "ENOENT", ENOENT }, { "EINVAL", EINVAL },
    { "ESRCH", ESRCH }, { "ENOSYS", ENOSYS }, { "EAGAIN", EAGAIN },
    { "EFAULT", EFAULT }, { "ENODEV", ENODEV }, { "EPERM", EPERM },
    { "EINTR", EINTR }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS },
    { "SHORT", XENSHAPE_FAULT_SHORT },
};

/*
 * XENSHAPE_FAULTS="site:nth:ERRNO[:p],..." lets the crash and fault tests
 * arm faults inside the daemon without a control channel of its own.
 * Malformed entries are ignored: this is a test hook, and a daemon must
 * not refuse to start because of it.
 */
void xenshape__fault_from_env(void)
{
    static atomic_bool done;
    const char *env = getenv("XENSHAPE_FAULTS");
    char *copy = NULL, *tok, *save = NULL;

    if (!env || atomic_exchange(&done, true))
        return;
    copy = strdup(env);
    if (!copy)
        return;
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *site = tok, *nth_s, *err_s, *p_s;
        unsigned i;
        int errnum = 0;

        nth_s = strchr(site, ':');
        if (!nth_s)
            continue;
        *nth_s++ = '\0';
        err_s = strchr(nth_s, ':');
        if (!err_s)
            continue;
        *err_s++ = '\0';
        p_s = strchr(err_s, ':');
        if (p_s)
            *p_s++ = '\0';
        for (i = 0; i < XENSHAPE__ARRAY_SIZE(errno_names); i++)
            if (!strcmp(errno_names[i].name, err_s))
                errnum = errno_names[i].value;
        if (!errnum)
            errnum = atoi(err_s);
        xenshape_fault_set(site, strtoul(nth_s, NULL, 10), errnum,
                           p_s && *p_s == 'p');
    }
    free(copy);
}
