/*
 * alloc.c - the library's allocator seam.  Every allocation goes through
 * here so that a test can fail the Nth one (fault site "alloc") and walk N
 * upward, as libuv's OOM test does, proving that every allocation site
 * returns XENSHAPE_ENOMEM instead of crashing.  Nothing here aborts.
 */

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

/* Where the last allocation an injected fault failed was called from, so
 * that the OOM test can tell call sites apart, not just failure points
 * (xenshape__alloc_fail_site()). */
static _Atomic(const void *) fail_site;

static bool fail_here(const void *site)
{
    if (!xenshape__fault(XENSHAPE__FAULT_ALLOC))
        return false;
    atomic_store_explicit(&fail_site, site, memory_order_relaxed);
    errno = ENOMEM;
    return true;
}

const void *xenshape__alloc_fail_site(void)
{
    return atomic_load_explicit(&fail_site, memory_order_relaxed);
}

void *xenshape__malloc(size_t n)
{
    if (fail_here(__builtin_return_address(0)))
        return NULL;
    return malloc(n ? n : 1);
}

void *xenshape__calloc(size_t nmemb, size_t n)
{
    if (fail_here(__builtin_return_address(0)))
        return NULL;
    return calloc(nmemb ? nmemb : 1, n ? n : 1);
}

void *xenshape__realloc(void *p, size_t n)
{
    if (fail_here(__builtin_return_address(0)))
        return NULL;
    return realloc(p, n ? n : 1);
}

void *xenshape__alloc_aligned(size_t n)
{
    void *p = NULL;
    int r;

    if (fail_here(__builtin_return_address(0)))
        return NULL;
    r = posix_memalign(&p, XENSHAPE__PAGE_SIZE, n ? n : 1);
    if (r) {
        errno = r;
        return NULL;
    }
    return p;
}

char *xenshape__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d;

    /* Not through xenshape__malloc(): the site is our caller. */
    if (fail_here(__builtin_return_address(0)))
        return NULL;
    d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
