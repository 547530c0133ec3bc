/*
 * store_io.c - every system call of the page store, in one place.
 *
 * The store reaches the kernel only through xenshape__store_sys, a table
 * of function pointers in the manner of sqlite's aSyscall[]: a test can
 * swap one entry for its own and put it back with
 * xenshape__store_sys_reset().  On top of the table sit the call-site
 * wrappers, each of which first asks its fault site (store.open,
 * store.read, ...) whether this call should fail, and the io_uring round
 * runner that carries batched data and index I/O.
 *
 * Short transfers.  A read or write on an O_DIRECT descriptor that ends
 * inside the file transfers everything or fails; a short count therefore
 * means the device or file system failed part of the request, or the file
 * was truncated under us.  Retrying the rest would need the remainder to
 * be block aligned and would only hide that, so a short transfer is
 * reported as EIO, whether it is real or injected (XENSHAPE_FAULT_SHORT).
 *
 * This file knows nothing of records or slots.
 */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "store/store_internal.h"

/* Memcheck cannot see the kernel fill a buffer through io_uring, and
 * would take every page read that way for uninitialised: tell it, when
 * its header is there (make check-valgrind installs it).  Outside
 * valgrind this costs a few instructions that do nothing. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MARK_READ(buf, len) ((void)VALGRIND_MAKE_MEM_DEFINED((buf), (len)))
#endif
#endif
#ifndef MARK_READ
#define MARK_READ(buf, len) ((void)0)
#endif

/* ---- the table ------------------------------------------------------ */

static int sys_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

static int sys_blkgetsize64(int fd, uint64_t *size_r)
{
    return ioctl(fd, BLKGETSIZE64, size_r);
}

static int sys_uring_init(unsigned entries, struct io_uring *ring,
                          unsigned flags)
{
    return io_uring_queue_init(entries, ring, flags);
}

static int sys_uring_wait(struct io_uring *ring, struct io_uring_cqe **cqe_r)
{
    return io_uring_wait_cqe(ring, cqe_r);
}

/* One initializer for both: C (and clang) do not take a const object as
 * the initializer of another with static storage, only GCC does. */
#define DEFAULT_SYS {                                                       \
    .open = sys_open,                                                       \
    .close = close,                                                         \
    .fstat = fstat,                                                         \
    .blkgetsize64 = sys_blkgetsize64,                                       \
    .ftruncate = ftruncate,                                                 \
    .fallocate = fallocate,                                                 \
    .flock = flock,                                                         \
    .pread = pread,                                                         \
    .pwrite = pwrite,                                                       \
    .fdatasync = fdatasync,                                                 \
    .fsync = fsync,                                                         \
    .getrandom = getrandom,                                                 \
    .uring_init = sys_uring_init,                                           \
    .uring_exit = io_uring_queue_exit,                                      \
    .uring_submit = io_uring_submit_and_wait,                               \
    .uring_wait = sys_uring_wait,                                           \
}

static const xenshape__store_syscalls default_sys = DEFAULT_SYS;

xenshape__store_syscalls xenshape__store_sys = DEFAULT_SYS;

void xenshape__store_sys_reset(void)
{
    xenshape__store_sys = default_sys;
}

/* ---- call-site wrappers --------------------------------------------- */

/* A fault's answer as -errno: XENSHAPE_FAULT_SHORT means nothing at a
 * site that moves no data, so it becomes EIO there. */
static int fault_errno(int f)
{
    return f > 0 ? -f : -EIO;
}

int xenshape__store_io_open(const char *path, int flags, mode_t mode)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_OPEN);
    int r;

    if (f)
        return fault_errno(f);
    do {
        r = xenshape__store_sys.open(path, flags, mode);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

void xenshape__store_io_close(int fd)
{
    /* close() errors are not actionable: every byte that matters was
     * made durable by an explicit fdatasync before. */
    if (fd >= 0)
        xenshape__store_sys.close(fd);
}

int xenshape__store_io_fstat(int fd, struct stat *buf)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_FSTAT);
    int r;

    if (f)
        return fault_errno(f);
    r = xenshape__store_sys.fstat(fd, buf);
    return r < 0 ? -errno : 0;
}

int xenshape__store_io_blksize(int fd, uint64_t *size_r)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_FSTAT);
    int r;

    if (f)
        return fault_errno(f);
    r = xenshape__store_sys.blkgetsize64(fd, size_r);
    return r < 0 ? -errno : 0;
}

int xenshape__store_io_ftruncate(int fd, uint64_t len)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_FALLOCATE);
    int r;

    if (f)
        return fault_errno(f);
    do {
        r = xenshape__store_sys.ftruncate(fd, (off_t)len);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

/* Reserve the blocks now, so that data writes later neither allocate nor
 * fail with ENOSPC.  A file system without fallocate() gets a sparse file
 * and -EOPNOTSUPP, which the caller tolerates. */
int xenshape__store_io_fallocate(int fd, uint64_t len)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_FALLOCATE);
    int r;

    if (f)
        return fault_errno(f);
    do {
        r = xenshape__store_sys.fallocate(fd, 0, 0, (off_t)len);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int xenshape__store_io_flock(int fd)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_OPEN);
    int r;

    if (f)
        return fault_errno(f);
    do {
        r = xenshape__store_sys.flock(fd, LOCK_EX | LOCK_NB);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

/* A short count becomes -EIO with a log line (see the top of the file);
 * fshort: the fault site asked for a short transfer. */
static int rw_result(xenshape__store *st, ssize_t r, size_t n, bool fshort,
                     const char *what, uint64_t off)
{
    if (r < 0)
        return -errno;
    if (fshort)
        r = (ssize_t)(n / 2);
    if ((size_t)r != n) {
        XSLOG(st->lg, ERROR, -1, "store %s: short %s at %#llx: %zd of %zu",
              st->path, what, (unsigned long long)off, r, n);
        return -EIO;
    }
    return 0;
}

int xenshape__store_io_pread(xenshape__store *st, void *buf, size_t n,
                             uint64_t off)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_READ);
    ssize_t r;

    if (f > 0)
        return -f;
    do {
        r = xenshape__store_sys.pread(st->fd, buf, n, (off_t)off);
    } while (r < 0 && errno == EINTR);
    return rw_result(st, r, n, f < 0, "read", off);
}

int xenshape__store_io_pwrite(xenshape__store *st, const void *buf,
                              size_t n, uint64_t off)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_WRITE);
    ssize_t r;

    if (f > 0)
        return -f;
    do {
        r = xenshape__store_sys.pwrite(st->fd, buf, n, (off_t)off);
    } while (r < 0 && errno == EINTR);
    return rw_result(st, r, n, f < 0, "write", off);
}

int xenshape__store_io_fdatasync(int fd)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_FSYNC);
    int r;

    if (f)
        return fault_errno(f);
    do {
        r = xenshape__store_sys.fdatasync(fd);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

/* Make a new file's directory entry durable, so that a power cut right
 * after formatting does not lose the whole store. */
int xenshape__store_io_fsync_dir(const char *path)
{
    char *copy = NULL;
    int fd = -1, f, r;

    copy = xenshape__strdup(path);
    if (!copy) {
        r = -ENOMEM;
        goto out;
    }
    fd = xenshape__store_io_open(dirname(copy), O_RDONLY | O_DIRECTORY |
                                 O_CLOEXEC, 0);
    if (fd < 0) {
        r = fd;
        goto out;
    }
    f = xenshape__fault(XENSHAPE__FAULT_STORE_FSYNC);
    if (f) {
        r = fault_errno(f);
        goto out;
    }
    r = xenshape__store_sys.fsync(fd);
    r = r < 0 ? -errno : 0;
    /* A file system that cannot sync directories has nothing to sync. */
    if (r == -EINVAL)
        r = 0;

out:
    xenshape__store_io_close(fd);
    free(copy);
    return r;
}

/* Random bytes for the uuid.  No fault site: getrandom() on Linux does
 * not fail once the pool is initialised, which it is long before a
 * daemon starts. */
int xenshape__store_io_random(void *buf, size_t n)
{
    size_t got = 0;
    ssize_t r;

    while (got < n) {
        r = xenshape__store_sys.getrandom((char *)buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    return 0;
}

/* ---- io_uring rounds ------------------------------------------------ */

int xenshape__store_ring_init(xenshape__store_ring *rg, unsigned entries)
{
    int f = xenshape__fault(XENSHAPE__FAULT_STORE_URING_INIT);
    int r;

    rg->live = false;
    if (f)
        return fault_errno(f);
    /* SUBMIT_ALL: one bad SQE must not leave the rest of the wave in the
     * SQ ring.  Kernels before 5.18 lack it; they get a plain ring and
     * the runner's resubmission loop. */
    r = xenshape__store_sys.uring_init(entries, &rg->ring,
                                       IORING_SETUP_SUBMIT_ALL);
    if (r == -EINVAL)
        r = xenshape__store_sys.uring_init(entries, &rg->ring, 0);
    if (r < 0)
        return r;
    rg->entries = rg->ring.sq.ring_entries;
    rg->live = true;
    return 0;
}

void xenshape__store_ring_exit(xenshape__store_ring *rg)
{
    if (!rg->live)
        return;
    xenshape__store_sys.uring_exit(&rg->ring);
    rg->live = false;
}

static enum xenshape__fault_site op_site(const xenshape__store_op *op)
{
    switch (op->kind) {
    case XENSHAPE__STORE_OP_READ:
        return XENSHAPE__FAULT_STORE_READ;
    case XENSHAPE__STORE_OP_FSYNC:
        return XENSHAPE__FAULT_STORE_FSYNC;
    default:
        return XENSHAPE__FAULT_STORE_WRITE;
    }
}

static void op_complete(xenshape__store *st, xenshape__store_op *op,
                        int res)
{
    if (res < 0) {
        op->res = res;
        return;
    }
    if (op->kind == XENSHAPE__STORE_OP_FSYNC) {
        op->res = op->fake_short ? -EIO : 0;
        return;
    }
    if (op->fake_short)
        res = (int)(op->len / 2);
    if ((size_t)res != op->len) {
        XSLOG(st->lg, ERROR, -1, "store %s: short %s at %#llx: %d of %zu",
              st->path, op->kind == XENSHAPE__STORE_OP_READ ? "read"
              : "write", (unsigned long long)op->off, res, op->len);
        op->res = -EIO;
        return;
    }
    if (op->kind == XENSHAPE__STORE_OP_READ)
        MARK_READ(op->buf, op->len);
    op->res = 0;
}

/* Reap n completions.  Waiting only fails on EINTR, which is retried, or
 * when the ring itself is broken, which the caller cannot repair. */
static int reap(xenshape__store *st, xenshape__store_ring *rg, unsigned n)
{
    struct io_uring_cqe *cqe;
    int r;

    while (n) {
        r = xenshape__store_sys.uring_wait(&rg->ring, &cqe);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return r;
        op_complete(st, io_uring_cqe_get_data(cqe), cqe->res);
        io_uring_cqe_seen(&rg->ring, cqe);
        n--;
    }
    return 0;
}

/*
 * One wave: at most rg->entries ops, all prepared, submitted with one
 * io_uring_enter() that also waits for them, then reaped.  A per-op fault
 * replaces that op's result without submitting it (an errno) or after it
 * ran (a short transfer).
 *
 * If submission fails for good after some SQEs went in, the ones in
 * flight are waited for (their buffers belong to our caller), and the
 * ring is torn down because the rest are stuck in its SQ ring; the
 * reader's ring is rebuilt on next use, the writer is latched failed.
 */
static int run_wave(xenshape__store *st, xenshape__store_ring *rg,
                    xenshape__store_op *ops, unsigned n)
{
    unsigned i, nsub = 0, tries = 0, flying;
    int f, r;

    f = xenshape__fault(XENSHAPE__FAULT_STORE_URING_SUBMIT);
    if (f)
        return fault_errno(f);

    for (i = 0; i < n; i++) {
        xenshape__store_op *op = &ops[i];
        struct io_uring_sqe *sqe;

        op->res = 0;
        op->fake_short = false;
        f = xenshape__fault(op_site(op));
        if (f > 0) {
            op->res = -f;
            continue;
        }
        op->fake_short = f < 0;
        sqe = io_uring_get_sqe(&rg->ring);
        if (!sqe) {
            /* Cannot happen: a wave never exceeds the SQ ring and the
             * previous one was fully submitted. */
            op->res = -EBUSY;
            continue;
        }
        switch (op->kind) {
        case XENSHAPE__STORE_OP_READ:
            io_uring_prep_read(sqe, st->fd, op->buf, (unsigned)op->len,
                               op->off);
            break;
        case XENSHAPE__STORE_OP_WRITE:
            io_uring_prep_write(sqe, st->fd, op->buf, (unsigned)op->len,
                                op->off);
            break;
        case XENSHAPE__STORE_OP_WRITEV:
            io_uring_prep_writev(sqe, st->fd, op->iov, op->nr_iov, op->off);
            break;
        case XENSHAPE__STORE_OP_FSYNC:
            io_uring_prep_fsync(sqe, st->fd, IORING_FSYNC_DATASYNC);
            break;
        }
        if (op->drain)
            sqe->flags |= IOSQE_IO_DRAIN;
        io_uring_sqe_set_data(sqe, op);
        nsub++;
    }
    if (!nsub)
        return 0;

    for (;;) {
        r = xenshape__store_sys.uring_submit(&rg->ring, nsub);
        if (!io_uring_sq_ready(&rg->ring))
            break;
        if (r >= 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY) {
            if (++tries < 1000)
                continue;
            r = -EAGAIN;
        }
        flying = nsub - io_uring_sq_ready(&rg->ring);
        XSLOG(st->lg, ERROR, -r, "store %s: io_uring submit failed with "
              "%u of %u in flight", st->path, flying, nsub);
        reap(st, rg, flying);
        xenshape__store_ring_exit(rg);
        for (i = 0; i < n; i++)
            if (ops[i].res == 0)
                ops[i].res = r;
        return r;
    }

    r = reap(st, rg, nsub);
    if (r < 0) {
        XSLOG(st->lg, ERROR, -r, "store %s: io_uring wait failed",
              st->path);
        xenshape__store_ring_exit(rg);
        for (i = 0; i < n; i++)
            if (ops[i].res == 0)
                ops[i].res = r;
    }
    return r;
}

int xenshape__store_ring_run(xenshape__store *st, xenshape__store_ring *rg,
                             xenshape__store_op *ops, unsigned n)
{
    unsigned done = 0, wave, i;
    int r;

    for (i = 0; i < n; i++)
        ops[i].res = 0;
    while (done < n) {
        if (!rg->live) {
            r = xenshape__store_ring_init(rg, st->queue_depth);
            if (r < 0)
                goto fail;
        }
        wave = n - done < rg->entries ? n - done : rg->entries;
        r = run_wave(st, rg, ops + done, wave);
        if (r < 0)
            goto fail;
        done += wave;
    }
    return 0;

fail:
    for (i = done; i < n; i++)
        if (ops[i].res == 0)
            ops[i].res = r;
    return r;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
