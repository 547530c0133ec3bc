/*
 * log.c - every message of the library goes through the xentoollog logger
 * its caller passed in: the daemon sends it to syslog, the tools to
 * stderr, the tests to a buffer.  The library itself never prints.
 */

#include <stdio.h>
#include <time.h>

#include "private.h"

void xenshape__log(xentoollog_logger *lg, xentoollog_level level,
                   int errnoval, const char *fmt, ...)
{
    va_list ap;

    if (!lg)
        return;
    va_start(ap, fmt);
    lg->vmessage(lg, level, errnoval, "xenshape", fmt, ap);
    va_end(ap);
}

uint64_t xenshape__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
