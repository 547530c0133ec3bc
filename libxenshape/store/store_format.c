/*
 * store_format.c - the page store on disk: choosing a layout and
 * formatting a blank file or device, checking the superblock of an
 * existing one, reading the index into the in-memory mirror and
 * rebuilding the allocators from it.  docs/store-format.md is the
 * human-readable description of what this file reads and writes.
 *
 * Everything read from the device is untrusted: the superblock is
 * checked field by field against its own checksum and against the real
 * size of the file, and every index record against its checksum and the
 * layout, so that an arbitrary file is rejected (XENSHAPE_EFORMAT) or
 * yields only records that are safe to use, and never makes recovery
 * crash or allocate more than the file's size justifies.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "store/store_internal.h"

/* How much of the start of a file must be zero for it to count as blank
 * and be formatted.  The whole file is not read: a store's superblock
 * and first index block (which every store writes early) are within it,
 * and a wiped superblock is all it takes to lose a store anyway. */
#define BLANK_PREFIX (UINT64_C(1) << 20)
/* Reads of the index at open, and zero writes at format, go in chunks
 * of this many bytes (a multiple of the block size). */
#define IO_CHUNK (UINT64_C(1) << 20)

uint64_t xenshape__store_rec_csum(const xenshape__store *st, uint32_t idx,
                                  const struct xenshape__store_drec *rd)
{
    /* Seeded by the store's uuid and the record's own position: a record
     * left over from an earlier store on the same device, or written to
     * the wrong place, does not check out. */
    uint64_t seed = st->csum_seed ^ ((uint64_t)idx * UINT64_C(0x9E3779B97F4A7C15));

    return XXH3_64bits_withSeed(rd, offsetof(struct xenshape__store_drec,
                                            csum), seed);
}

static uint64_t sb_csum(const void *block)
{
    uint8_t copy[XENSHAPE__STORE_BLOCK];

    /* The checksum covers the whole block with the csum field as 0. */
    memcpy(copy, block, sizeof(copy));
    memset(copy + offsetof(struct xenshape__store_sb, csum), 0,
           sizeof(uint64_t));
    return XXH3_64bits_withSeed(copy, sizeof(copy),
                                XENSHAPE__STORE_SB_SEED);
}

static bool all_zero(const void *p, size_t n)
{
    const uint64_t *w = p;
    size_t i;

    for (i = 0; i < n / 8; i++)
        if (w[i])
            return false;
    return true;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static void set_layout(xenshape__store *st,
                       const struct xenshape__store_sb *sb)
{
    st->nr_records = (uint32_t)sb->nr_records;
    st->nr_slots = (uint32_t)sb->nr_slots;
    st->index_off = sb->index_off;
    st->index_bytes = sb->index_bytes;
    st->data_off = sb->data_off;
    memcpy(st->uuid, sb->uuid, sizeof(st->uuid));
    st->csum_seed = XXH3_64bits(sb->uuid, sizeof(sb->uuid));
}

/*
 * Choose a layout for size bytes.  With records == 0 there are two
 * records per data slot (zero pages take a record and no slot): each slot
 * then costs 4096 + 128 bytes of the file.  Returns false if not even one
 * slot fits.
 */
static bool plan_layout(uint64_t size, uint64_t records,
                        struct xenshape__store_sb *sb)
{
    uint64_t avail, slots, index_bytes;

    size -= size % XENSHAPE__STORE_BLOCK;
    if (size < 3 * (uint64_t)XENSHAPE__STORE_BLOCK)
        return false;
    avail = size - XENSHAPE__STORE_BLOCK;
    if (records) {
        if (records > XENSHAPE__STORE_MAX_RECORDS)
            return false;
        index_bytes = round_up(records * XENSHAPE__STORE_REC_SIZE,
                               XENSHAPE__STORE_BLOCK);
        if (index_bytes >= avail)
            return false;
        slots = (avail - index_bytes) / XENSHAPE_PAGE_SIZE;
    } else {
        /* Less one block for rounding the index up, then exact. */
        slots = (avail - XENSHAPE__STORE_BLOCK) /
            (XENSHAPE_PAGE_SIZE + 2 * XENSHAPE__STORE_REC_SIZE);
        if (slots > XENSHAPE__STORE_MAX_RECORDS / 2)
            slots = XENSHAPE__STORE_MAX_RECORDS / 2;
        records = 2 * slots;
        index_bytes = round_up(records * XENSHAPE__STORE_REC_SIZE,
                               XENSHAPE__STORE_BLOCK);
    }
    if (slots > XENSHAPE__STORE_MAX_SLOTS)
        slots = XENSHAPE__STORE_MAX_SLOTS;
    if (!slots || !records)
        return false;
    memset(sb, 0, sizeof(*sb));
    memcpy(sb->magic, XENSHAPE__STORE_MAGIC, sizeof(sb->magic));
    sb->version = XENSHAPE__STORE_VERSION;
    sb->block_size = XENSHAPE__STORE_BLOCK;
    sb->page_size = XENSHAPE_PAGE_SIZE;
    sb->rec_size = XENSHAPE__STORE_REC_SIZE;
    sb->nr_records = records;
    sb->nr_slots = slots;
    sb->index_off = XENSHAPE__STORE_BLOCK;
    sb->index_bytes = index_bytes;
    sb->data_off = sb->index_off + index_bytes;
    sb->size_bytes = sb->data_off + slots * XENSHAPE_PAGE_SIZE;
    return true;
}

/* Check a superblock read from a device of dev_size bytes.  Returns a
 * reason for the log, or NULL if it is good. */
static const char *sb_check(const void *block, uint64_t dev_size)
{
    struct xenshape__store_sb sb;

    memcpy(&sb, block, sizeof(sb));
    if (sb_csum(block) != sb.csum)
        return "superblock checksum mismatch";
    if (sb.version != XENSHAPE__STORE_VERSION)
        return "unsupported version";
    if (sb.block_size != XENSHAPE__STORE_BLOCK ||
        sb.page_size != XENSHAPE_PAGE_SIZE ||
        sb.rec_size != XENSHAPE__STORE_REC_SIZE)
        return "unsupported block, page or record size";
    if (sb.nr_records < 1 || sb.nr_records > XENSHAPE__STORE_MAX_RECORDS ||
        sb.nr_slots < 1 || sb.nr_slots > XENSHAPE__STORE_MAX_SLOTS)
        return "record or slot count out of range";
    /* Both counts are below 2^32, so none of this overflows. */
    if (sb.index_off != XENSHAPE__STORE_BLOCK ||
        sb.index_bytes != round_up(sb.nr_records * XENSHAPE__STORE_REC_SIZE,
                                   XENSHAPE__STORE_BLOCK) ||
        sb.data_off != sb.index_off + sb.index_bytes ||
        sb.size_bytes < sb.data_off + sb.nr_slots * XENSHAPE_PAGE_SIZE)
        return "inconsistent layout";
    if (sb.size_bytes > dev_size)
        return "file is shorter than its layout";
    return NULL;
}

/* Zero [off, end) of the device, in big aligned writes. */
static int zero_range(xenshape__store *st, uint64_t off, uint64_t end)
{
    void *zero = NULL;
    uint64_t n;
    int r;

    zero = xenshape__alloc_aligned(IO_CHUNK);
    if (!zero) {
        r = -ENOMEM;
        goto out;
    }
    memset(zero, 0, IO_CHUNK);
    for (; off < end; off += n) {
        n = end - off < IO_CHUNK ? end - off : IO_CHUNK;
        r = xenshape__store_io_pwrite(st, zero, n, off);
        if (r < 0)
            goto out;
    }
    r = 0;

out:
    free(zero);
    return r;
}

/*
 * Format a blank file or device.  The order makes a crash at any point
 * harmless: the file is sized and the index zeroed and synced first, and
 * the superblock, the only thing that makes it a store, is written and
 * synced last.  Until then the file is still blank and is formatted
 * again at the next open.
 */
static int format(xenshape__store *st, const xenshape__store_params *p,
                  uint64_t dev_size, bool is_blk, bool created)
{
    struct xenshape__store_sb sb;
    void *block = NULL;
    uint64_t size;
    int rc, r;

    size = is_blk || !p->size_bytes ? dev_size : p->size_bytes;
    size -= size % XENSHAPE__STORE_BLOCK;
    if (!plan_layout(size, p->records, &sb)) {
        XSLOG(st->lg, ERROR, -1, "store %s: %llu bytes are too small for "
              "a store", st->path, (unsigned long long)size);
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    sb.format_time = (uint64_t)time(NULL);
    r = xenshape__store_io_random(sb.uuid, sizeof(sb.uuid));
    if (r < 0)
        goto fail_io;

    /* A file gets exactly the size asked for; the layout may leave a
     * few KiB at its end unused. */
    if (!is_blk) {
        if (dev_size != size) {
            r = xenshape__store_io_ftruncate(st->fd, size);
            if (r < 0)
                goto fail_io;
        }
        r = xenshape__store_io_fallocate(st->fd, size);
        if (r == -EOPNOTSUPP) {
            XSLOG(st->lg, WARN, -r, "store %s: cannot preallocate; data "
                  "writes will allocate blocks", st->path);
        } else if (r < 0) {
            goto fail_io;
        }
    }
    /* Zeroed rather than trusted to read as zero: a device may hold old
     * data, and on a file the index blocks are then real, written
     * blocks, so the index writes of every put never change metadata. */
    r = zero_range(st, sb.index_off, sb.data_off);
    if (r < 0)
        goto fail_io;
    r = xenshape__store_io_fdatasync(st->fd);
    if (r < 0)
        goto fail_io;

    block = xenshape__alloc_aligned(XENSHAPE__STORE_BLOCK);
    if (!block) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    memset(block, 0, XENSHAPE__STORE_BLOCK);
    memcpy(block, &sb, sizeof(sb));
    sb.csum = sb_csum(block);
    memcpy(block, &sb, sizeof(sb));
    r = xenshape__store_io_pwrite(st, block, XENSHAPE__STORE_BLOCK, 0);
    if (r < 0)
        goto fail_io;
    r = xenshape__store_io_fdatasync(st->fd);
    if (r < 0)
        goto fail_io;
    if (created) {
        r = xenshape__store_io_fsync_dir(st->path);
        if (r < 0)
            goto fail_io;
    }

    set_layout(st, &sb);
    st->mirror = xenshape__alloc_aligned(st->index_bytes);
    if (!st->mirror) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    memset(st->mirror, 0, st->index_bytes);
    XSLOG(st->lg, INFO, -1, "store %s: formatted: %u data slots, %u "
          "records", st->path, st->nr_slots, st->nr_records);
    rc = 0;
    goto out;

fail_io:
    XSLOG(st->lg, ERROR, -r, "store %s: formatting failed", st->path);
    rc = r == -ENOSPC || r == -EDQUOT ? XENSHAPE_ENOSPC
        : r == -ENOMEM ? XENSHAPE_ENOMEM : XENSHAPE_EIO;
out:
    free(block);
    return rc;
}

static int read_index(xenshape__store *st)
{
    uint64_t off, n;
    int r;

    st->mirror = xenshape__alloc_aligned(st->index_bytes);
    if (!st->mirror)
        return XENSHAPE_ENOMEM;
    for (off = 0; off < st->index_bytes; off += n) {
        n = st->index_bytes - off < IO_CHUNK ? st->index_bytes - off
            : IO_CHUNK;
        r = xenshape__store_io_pread(st, (char *)st->mirror + off, n,
                                     st->index_off + off);
        if (r < 0) {
            XSLOG(st->lg, ERROR, -r, "store %s: cannot read the index",
                  st->path);
            return XENSHAPE_EIO;
        }
    }
    return 0;
}

/* Open the path, creating it (mode 0600) if it does not exist, and
 * with O_DIRECT unless the file system refuses it. */
static int open_fd(xenshape__store *st, bool *created_r)
{
    int flags = O_RDWR | O_CLOEXEC | O_DIRECT;
    int fd;

    *created_r = false;
    for (;;) {
        fd = xenshape__store_io_open(st->path, flags, 0600);
        if (fd == -ENOENT && !(flags & O_CREAT)) {
            flags |= O_CREAT | O_EXCL;
            continue;
        }
        if (fd == -EEXIST) {
            flags &= ~(O_CREAT | O_EXCL);
            continue;
        }
        if (fd == -EINVAL && (flags & O_DIRECT)) {
            XSLOG(st->lg, WARN, EINVAL, "store %s: O_DIRECT not "
                  "supported here; using the page cache", st->path);
            flags &= ~O_DIRECT;
            continue;
        }
        break;
    }
    if (fd < 0)
        return fd;
    st->fd = fd;
    st->direct = flags & O_DIRECT;
    *created_r = flags & O_CREAT;
    return 0;
}

/*
 * Take the store's lock, waiting up to wait_ms (0: 10 s; negative: not
 * at all) for a previous holder to let go.  The wait matters: a daemon
 * killed with writes in flight keeps the file open (and locked) inside
 * the kernel until those writes end, and a successor that did not wait
 * could see them land on slots it has reused in the meantime.
 */
static int lock_fd(xenshape__store *st, int wait_ms)
{
    uint64_t deadline;
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    int r;

    if (!wait_ms)
        wait_ms = 10000;
    deadline = xenshape__now_ns() +
        (wait_ms > 0 ? (uint64_t)wait_ms * 1000000 : 0);
    for (;;) {
        r = xenshape__store_io_flock(st->fd);
        if (r != -EWOULDBLOCK || xenshape__now_ns() >= deadline)
            return r;
        nanosleep(&ts, NULL);
    }
}

int xenshape__store_load(xenshape__store *st,
                         const xenshape__store_params *p)
{
    struct stat sbuf;
    void *buf = NULL;
    const char *why;
    uint64_t dev_size, prefix;
    bool created, is_blk;
    int rc, r;

    r = open_fd(st, &created);
    if (r < 0) {
        XSLOG(st->lg, ERROR, -r, "store %s: cannot open", st->path);
        rc = r == -ENOENT ? XENSHAPE_ENOENT
            : r == -EACCES || r == -EPERM || r == -EROFS ? XENSHAPE_EPERM
            : r == -ENOMEM ? XENSHAPE_ENOMEM
            : r == -ENOSPC || r == -EDQUOT ? XENSHAPE_ENOSPC
            : XENSHAPE_EIO;
        goto out;
    }
    r = lock_fd(st, p->lock_wait_ms);
    if (r < 0) {
        XSLOG(st->lg, ERROR, -r, "store %s: cannot lock (in use by "
              "another process?)", st->path);
        rc = r == -EWOULDBLOCK ? XENSHAPE_EBUSY : XENSHAPE_EIO;
        goto out;
    }
    r = xenshape__store_io_fstat(st->fd, &sbuf);
    if (r < 0)
        goto fail_io;
    is_blk = S_ISBLK(sbuf.st_mode);
    if (is_blk) {
        r = xenshape__store_io_blksize(st->fd, &dev_size);
        if (r < 0)
            goto fail_io;
    } else if (S_ISREG(sbuf.st_mode)) {
        dev_size = (uint64_t)sbuf.st_size;
    } else {
        XSLOG(st->lg, ERROR, -1, "store %s: neither a regular file nor a "
              "block device", st->path);
        rc = XENSHAPE_EINVAL;
        goto out;
    }

    if (dev_size < XENSHAPE__STORE_BLOCK) {
        /* Too short to hold a superblock: nothing to lose. */
        rc = format(st, p, dev_size, is_blk, created);
        goto out;
    }

    prefix = dev_size < BLANK_PREFIX ? dev_size : BLANK_PREFIX;
    prefix -= prefix % XENSHAPE__STORE_BLOCK;
    buf = xenshape__alloc_aligned(prefix);
    if (!buf) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    r = xenshape__store_io_pread(st, buf, XENSHAPE__STORE_BLOCK, 0);
    if (r < 0)
        goto fail_io;
    if (!memcmp(buf, XENSHAPE__STORE_MAGIC, 16)) {
        why = sb_check(buf, dev_size);
        if (why) {
            XSLOG(st->lg, ERROR, -1, "store %s: damaged store: %s",
                  st->path, why);
            rc = XENSHAPE_EFORMAT;
            goto out;
        }
        set_layout(st, buf);
        rc = read_index(st);
        goto out;
    }
    if (prefix > XENSHAPE__STORE_BLOCK) {
        r = xenshape__store_io_pread(st, (char *)buf + XENSHAPE__STORE_BLOCK,
                                     prefix - XENSHAPE__STORE_BLOCK,
                                     XENSHAPE__STORE_BLOCK);
        if (r < 0)
            goto fail_io;
    }
    if (!all_zero(buf, prefix)) {
        XSLOG(st->lg, ERROR, -1, "store %s: not a xenshape store and not "
              "blank; refusing to format it", st->path);
        rc = XENSHAPE_EFORMAT;
        goto out;
    }
    rc = format(st, p, dev_size, is_blk, created);
    goto out;

fail_io:
    XSLOG(st->lg, ERROR, -r, "store %s: I/O error while opening",
          st->path);
    rc = r == -ENOMEM ? XENSHAPE_ENOMEM : XENSHAPE_EIO;
out:
    free(buf);
    return rc;
}

/* Is record idx of the mirror one we may use?  Checked in the order of
 * cost; the checksum first, as everything else is only meaningful when
 * it matches. */
static bool rec_valid(const xenshape__store *st, uint32_t idx,
                      uint64_t zero_hash)
{
    const struct xenshape__store_drec *rd = &st->mirror[idx];

    if (!rd->seq || rd->seq > XENSHAPE__STORE_SEQ_MAX)
        return false;
    if (xenshape__store_rec_csum(st, idx, rd) != rd->csum)
        return false;
    if ((rd->flags & ~XENSHAPE__STORE_REC_FLAGS) || rd->reserved[0] ||
        rd->reserved[1])
        return false;
    if (rd->flags & XENSHAPE__STORE_REC_ZERO)
        return rd->slot == XENSHAPE__STORE_NO_SLOT && rd->hash == zero_hash;
    return rd->slot < st->nr_slots;
}

static uint64_t key_hash(uint32_t domid, uint64_t gfn)
{
    uint64_t h = gfn * UINT64_C(0x9E3779B97F4A7C15) ^ domid;

    h ^= h >> 31;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 29;
    return h;
}

/*
 * Rebuild the allocators from the mirror.  Every record with a valid
 * checksum competes for its (domid, gfn); the one with the highest
 * sequence number wins and is marked in use (with a reference on its
 * slot) until recover() lets the engine keep or free it.  Losers are
 * free at once, and invalidated: open writes them zeroed before it
 * returns, so that a winner damaged later can never hand its frame to
 * an older copy.  The next sequence number is above every valid record,
 * winners or not, so that what is written from now on is newer than
 * anything already on disk.
 */
int xenshape__store_scan(xenshape__store *st)
{
    uint64_t zero_hash = xenshape__store_zero_hash();
    uint64_t *valid = NULL, max_seq = 0;
    uint32_t *table = NULL, i, nvalid = 0, rejected = 0, newest = 0;
    size_t tsize = 1, mask, words = ((size_t)st->nr_records + 63) / 64;
    int rc;

    valid = xenshape__calloc(words, sizeof(*valid));
    if (!valid) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < st->nr_records; i++) {
        const struct xenshape__store_drec *rd = &st->mirror[i];

        if (!rec_valid(st, i, zero_hash)) {
            if (rd->seq || !all_zero(rd, sizeof(*rd)))
                rejected++;
            continue;
        }
        valid[i / 64] |= UINT64_C(1) << (i % 64);
        nvalid++;
        if (rd->seq > max_seq) {
            max_seq = rd->seq;
            newest = i;
        }
    }

    while (tsize < 2 * (size_t)nvalid)
        tsize <<= 1;
    mask = tsize - 1;
    table = xenshape__calloc(tsize, sizeof(*table));
    if (!table) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < st->nr_records; i++) {
        const struct xenshape__store_drec *rd = &st->mirror[i], *o;
        size_t h;

        if (!(valid[i / 64] >> (i % 64) & 1))
            continue;
        for (h = key_hash(rd->domid, rd->gfn) & mask; table[h];
             h = (h + 1) & mask) {
            o = &st->mirror[table[h] - 1];
            if (o->domid == rd->domid && o->gfn == rd->gfn)
                break;
        }
        /* Equal sequence numbers only come from a damaged or forged
         * index; the first such record stays, deterministically. */
        if (!table[h] || st->mirror[table[h] - 1].seq < rd->seq)
            table[h] = i + 1;
    }

    st->nr_pending = 0;
    for (i = 0; i < tsize; i++) {
        const struct xenshape__store_drec *rd;

        if (!table[i])
            continue;
        rd = &st->mirror[table[i] - 1];
        xenshape__store_rec_mark(st, table[i] - 1);
        if (!(rd->flags & XENSHAPE__STORE_REC_ZERO))
            xenshape__store_slot_ref(st, rd->slot);
        st->nr_pending++;
    }
    /* Reported in record order, which is also roughly eviction order. */
    st->pending = xenshape__calloc(st->nr_pending ? st->nr_pending : 1,
                                   sizeof(*st->pending));
    if (!st->pending) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < st->nr_records; i++)
        if ((valid[i / 64] >> (i % 64) & 1) &&
            !xenshape__store_rec_in_use(st, i))
            xenshape__store_rec_invalidate(st, i);
    st->nr_pending = 0;
    for (i = 0; i < st->nr_records; i++)
        if (xenshape__store_rec_in_use(st, i))
            st->pending[st->nr_pending++] = i;

    st->next_seq = max_seq + 1;
    if (nvalid) {
        const struct xenshape__store_drec *rd = &st->mirror[newest];

        /* Carry on the log where it stopped. */
        st->rec_cursor = newest + 1 >= st->nr_records ? 0 : newest + 1;
        if (!(rd->flags & XENSHAPE__STORE_REC_ZERO))
            st->slot_cursor = rd->slot + 1 >= st->nr_slots ? 0
                : rd->slot + 1;
    }
    if (nvalid || rejected)
        XSLOG(st->lg, INFO, -1, "store %s: index holds %u valid records "
              "(%u current), %u rejected", st->path, nvalid,
              st->nr_pending, rejected);
    rc = 0;

out:
    free(valid);
    free(table);
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
