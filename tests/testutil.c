/*
 * testutil.c - helpers shared by the check tests (see testutil.h).
 */

#include <check.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "pager/pager.h"

static unsigned errors;
/* WARN and above, by the errno they name (0..ERRNO_SLOTS-1). */
#define ERRNO_SLOTS 256
static unsigned reported[ERRNO_SLOTS];

static void tu_vmessage(xentoollog_logger *lg, xentoollog_level level,
                        int errnoval, const char *context,
                        const char *format, va_list al)
{
    static int verbose = -1;

    if (level >= XTL_ERROR)
        __atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
    if (level >= XTL_WARN && errnoval >= 0 && errnoval < ERRNO_SLOTS)
        __atomic_fetch_add(&reported[errnoval], 1, __ATOMIC_RELAXED);
    if (verbose < 0)
        verbose = getenv("XENSHAPE_TEST_VERBOSE") != NULL;
    if (!verbose || level < XTL_WARN)
        return;
    fprintf(stderr, "[%s] ", xtl_level_to_string(level));
    vfprintf(stderr, format, al);
    if (errnoval >= 0)
        fprintf(stderr, ": %s", strerror(errnoval));
    fputc('\n', stderr);
}

static void tu_progress(xentoollog_logger *lg, const char *context,
                        const char *doing_what, int percent,
                        unsigned long done, unsigned long total)
{
}

static void tu_destroy(xentoollog_logger *lg)
{
}

static xentoollog_logger logger = {
    .vmessage = tu_vmessage,
    .progress = tu_progress,
    .destroy = tu_destroy,
};

xentoollog_logger *tu_logger(void)
{
    return &logger;
}

unsigned tu_errors_logged(void)
{
    return __atomic_load_n(&errors, __ATOMIC_RELAXED);
}

unsigned tu_errno_reported(int err)
{
    if (err < 0 || err >= ERRNO_SLOTS)
        return 0;
    return __atomic_load_n(&reported[err], __ATOMIC_RELAXED);
}

void tu_mkdtemp(char *buf, const char *tag)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(buf, 256, "%s/xenshape-%s-XXXXXX", tmp ? tmp : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    return remove(path);
}

void tu_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

xenshape_ctx *tu_ctx_sim(struct xenshape__sim_host *h, const char *dir,
                         uint64_t store_bytes)
{
    char store[300], state[300];
    xenshape_ctx *ctx = NULL;

    snprintf(store, sizeof(store), "%s/store", dir);
    snprintf(state, sizeof(state), "%s/state", dir);
    ck_assert_int_eq(xenshape_ctx_new(&ctx, tu_logger()), 0);
    ck_assert_int_eq(xenshape_ctx_set_backend(ctx, "sim"), 0);
    ck_assert_int_eq(xenshape__ctx_set_sim_host(ctx, h), 0);
    ck_assert_int_eq(xenshape_ctx_set_store(ctx, store, store_bytes), 0);
    ck_assert_int_eq(xenshape_ctx_set_state_dir(ctx, state), 0);
    ck_assert_int_eq(xenshape_ctx_open(ctx), 0);
    return ctx;
}

void tu_msleep(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

void tu_child_exit(int code)
{
    char arg[16];

    snprintf(arg, sizeof(arg), "%d", code);
    execl("/bin/sh", "sh", "-c", "exit $0", arg, (char *)NULL);
    _exit(code);    /* no shell: the plain exit, leak check and all */
}

bool tu_run_until(xenshape_ctx *ctx, bool (*pred)(void *), void *arg,
                  int timeout_ms)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!pred(arg)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 +
            (t.tv_nsec - t0.tv_nsec) / 1000000 >= timeout_ms)
            return false;
        xenshape_run(ctx, 20);
        tu_msleep(2);
    }
    return true;
}
