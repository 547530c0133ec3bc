/*
 * state.c - the engine's small durable state outside the page store, kept
 * in the state directory so that a daemon killed at any instant can be
 * replaced by one that finishes its work:
 *
 *  - domain-<id>.ring: the event-channel port of the domain's paging ring.
 *    There is no hypercall to look it up, and without it a new pager
 *    could never re-attach;
 *  - domain-<id>.intent: the gfns of the eviction batch in flight, written
 *    before they are nominated.  A frame nominated and then abandoned by
 *    a dead pager is invisible otherwise (no 4.17 hypercall reports the
 *    p2m type), and it would crash the domain if paging were disabled
 *    before the guest touched it.  Kept open and rewritten in place.
 *
 * Both are tagged with the domain's identity (a hash of its UUID) so a
 * reused domid never inherits another domain's state.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stddef.h>
#include <unistd.h>

#include <xxhash.h>

#include "pager/pager.h"

#define INTENT_MAGIC 0x544e4930u      /* "0INT" */

static int state_path(xenshape_ctx *ctx, uint32_t domid, const char *kind,
                      char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/domain-%u.%s", ctx->state_dir, domid,
                     kind);

    return (n < 0 || (size_t)n >= len) ? XENSHAPE_EINVAL : 0;
}

/* Write a small file durably and atomically (tmp, fsync, rename). */
static int write_durable(xenshape_ctx *ctx, const char *path,
                         const void *data, size_t len)
{
    char tmp[4200];
    int fd = -1, rc, inj;

    if (mkdir(ctx->state_dir, 0700) < 0 && errno != EEXIST) {
        XSLOG(ctx->lg, ERROR, errno, "cannot create state directory %s",
              ctx->state_dir);
        return XENSHAPE_EIO;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    inj = xenshape__fault(XENSHAPE__FAULT_STATE_WRITE);
    if (inj) {
        errno = inj > 0 ? inj : EIO;
        goto fail;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || fdatasync(fd) < 0 ||
        rename(tmp, path) < 0)
        goto fail;
    rc = 0;
    goto out;
 fail:
    XSLOG(ctx->lg, ERROR, errno, "cannot write %s", path);
    rc = XENSHAPE_EIO;
 out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int xenshape__state_port_save(xenshape_ctx *ctx, uint32_t domid,
                              uint32_t tag, uint32_t port)
{
    char path[4096], line[64];
    int rc, n;

    rc = state_path(ctx, domid, "ring", path, sizeof(path));
    if (rc)
        return rc;
    n = snprintf(line, sizeof(line), "port=%u tag=%u\n", port, tag);
    return write_durable(ctx, path, line, (size_t)n);
}

int xenshape__state_port_load(xenshape_ctx *ctx, uint32_t domid,
                              uint32_t tag, uint32_t *port_r)
{
    char path[4096];
    unsigned port, ftag;
    FILE *f = NULL;
    int rc;

    rc = state_path(ctx, domid, "ring", path, sizeof(path));
    if (rc)
        goto out;
    f = fopen(path, "re");
    if (!f) {
        rc = XENSHAPE_ENOENT;
        goto out;
    }
    if (fscanf(f, "port=%u tag=%u", &port, &ftag) != 2 || ftag != tag) {
        XSLOG(ctx->lg, WARN, -1, "%s does not describe this domain %u",
              path, domid);
        rc = XENSHAPE_ENOENT;
        goto out;
    }
    *port_r = port;
    rc = 0;
 out:
    if (f)
        fclose(f);
    return rc;
}

void xenshape__state_port_forget(xenshape_ctx *ctx, uint32_t domid)
{
    char path[4096];

    if (!state_path(ctx, domid, "ring", path, sizeof(path)))
        unlink(path);
    if (!state_path(ctx, domid, "intent", path, sizeof(path)))
        unlink(path);
}

/*
 * The intent record: magic, tag, count, the gfns, and an XXH3 of all of
 * it, always written whole at offset 0 of a file kept open: one pwrite
 * and one fdatasync per batch, durable before the first nomination, and
 * no rename, so no file-system metadata to commit.  A torn record (a
 * crash during the write) fails its checksum and is ignored, which is
 * safe: nothing of that batch was nominated before the write returned.
 *
 * Once the batch has settled, the record is rewritten with the frames
 * still nominated, usually none, and that write is not made durable: a
 * successor that finds the older record instead (after a power cut, not
 * a kill, since the page cache outlives the process) only checks frames
 * that need no rescue, which costs time but nothing else.  Left in
 * place, the last batch would be "rescued" by every restart, a store
 * write and two syncs per frame before the daemon did anything new.
 */
struct intent {
    uint32_t magic, tag, n, pad;
    uint64_t gfns[XENSHAPE__EVICT_BATCH];
    uint64_t check;
};

int xenshape__state_intent_open(xenshape_ctx *ctx, uint32_t domid,
                                int *fd_r)
{
    char path[4096];
    int fd, rc;

    rc = state_path(ctx, domid, "intent", path, sizeof(path));
    if (rc)
        return rc;
    if (mkdir(ctx->state_dir, 0700) < 0 && errno != EEXIST) {
        XSLOG(ctx->lg, ERROR, errno, "cannot create state directory %s",
              ctx->state_dir);
        return XENSHAPE_EIO;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        XSLOG(ctx->lg, ERROR, errno, "cannot open %s", path);
        return XENSHAPE_EIO;
    }
    *fd_r = fd;
    return 0;
}

int xenshape__state_intent_save(xenshape_ctx *ctx, int fd, uint32_t tag,
                                const uint64_t *gfns, unsigned n,
                                bool durable)
{
    struct intent rec;
    int inj;

    if (n > XENSHAPE__EVICT_BATCH)
        return XENSHAPE_EINVAL;
    memset(&rec, 0, sizeof(rec));
    rec.magic = INTENT_MAGIC;
    rec.tag = tag;
    rec.n = n;
    memcpy(rec.gfns, gfns, n * sizeof(*gfns));
    rec.check = XXH3_64bits(&rec, offsetof(struct intent, check));
    inj = xenshape__fault(XENSHAPE__FAULT_STATE_WRITE);
    if (inj) {
        errno = inj > 0 ? inj : EIO;
        goto fail;
    }
    if (pwrite(fd, &rec, sizeof(rec), 0) != (ssize_t)sizeof(rec))
        goto fail;
    if (durable && fdatasync(fd) < 0)
        goto fail;
    return 0;
 fail:
    XSLOG(ctx->lg, ERROR, errno, "cannot write the eviction intent");
    return XENSHAPE_EIO;
}

/* Reads the last intent into gfns (room for XENSHAPE__EVICT_BATCH).
 * Returns the count, 0 when there is none or it is not this domain's. */
unsigned xenshape__state_intent_load(xenshape_ctx *ctx, uint32_t domid,
                                     uint32_t tag, uint64_t *gfns)
{
    struct intent rec;
    char path[4096];
    ssize_t len;
    int fd;

    if (state_path(ctx, domid, "intent", path, sizeof(path)))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    len = pread(fd, &rec, sizeof(rec), 0);
    close(fd);
    if (len != (ssize_t)sizeof(rec) || rec.magic != INTENT_MAGIC ||
        rec.tag != tag || rec.n > XENSHAPE__EVICT_BATCH ||
        rec.check != XXH3_64bits(&rec, offsetof(struct intent, check)))
        return 0;
    memcpy(gfns, rec.gfns, rec.n * sizeof(*gfns));
    return rec.n;
}
