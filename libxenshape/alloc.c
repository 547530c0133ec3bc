/*
 * alloc.c - the library's allocator seam.  Every allocation goes through
 * here so that a test can fail the Nth one (fault site "alloc") and walk N
 * upward, as libuv's OOM test does, proving that every allocation site
 * returns XENSHAPE_ENOMEM instead of crashing.  Nothing here aborts.
 */

#include <stdlib.h>
#include <string.h>

#include "private.h"

void *xenshape__malloc(size_t n)
{
    if (xenshape__fault(XENSHAPE__FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(n ? n : 1);
}

void *xenshape__calloc(size_t nmemb, size_t n)
{
    if (xenshape__fault(XENSHAPE__FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return calloc(nmemb ? nmemb : 1, n ? n : 1);
}

void *xenshape__realloc(void *p, size_t n)
{
    if (xenshape__fault(XENSHAPE__FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

void *xenshape__alloc_aligned(size_t n)
{
    void *p = NULL;
    int r;

    if (xenshape__fault(XENSHAPE__FAULT_ALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
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
    char *d = xenshape__malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}
