/*
 * store_internal.h - what the files of the page store share among
 * themselves: the on-disk format, the store object, the syscall override
 * table and the io_uring round runner.  Only the store's .c files and
 * its own check test include it; the paging engine uses store.h.
 *
 * Files: store.c (open, put, get, free, recover: the interface),
 * store_format.c (superblock, formatting, reading and checking the index
 * at open), store_alloc.c (record and slot allocators, dedup table),
 * store_io.c (the syscall table, fault sites, io_uring rounds).
 * docs/store-format.md describes the format for humans.
 */

#ifndef XENSHAPE_STORE_INTERNAL_H
#define XENSHAPE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <liburing.h>

#include "private.h"
#include "store/store.h"

/*
 * On-disk format, version 1.  Every integer is little-endian; the store
 * is only ever used by the host that wrote it, and every Xen Dom0 the
 * project targets (x86-64, arm64) is little-endian, so the records are
 * used in place rather than converted field by field.
 */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the store format is little-endian");

#define XENSHAPE__STORE_MAGIC       "XENSHAPE-STORE\n"  /* 16 with NUL */
#define XENSHAPE__STORE_VERSION     1u
#define XENSHAPE__STORE_BLOCK       4096u   /* superblock, index block */
#define XENSHAPE__STORE_REC_SIZE    64u
#define XENSHAPE__STORE_RECS_PER_BLOCK \
    (XENSHAPE__STORE_BLOCK / XENSHAPE__STORE_REC_SIZE)
#define XENSHAPE__STORE_NO_SLOT     UINT32_MAX
/* Handles are record index + 1 in a uint32_t, and slot numbers must stay
 * below the sentinels, hence these bounds on a superblock's counts. */
#define XENSHAPE__STORE_MAX_RECORDS (UINT32_MAX - 1u)
#define XENSHAPE__STORE_MAX_SLOTS   (UINT32_MAX - 2u)
/* A sequence number above this is treated as corruption: a store would
 * need 146 years at a billion puts a second to reach it, and refusing it
 * keeps next_seq from ever wrapping on a hostile file. */
#define XENSHAPE__STORE_SEQ_MAX     (UINT64_C(1) << 62)
/* Seed of the superblock checksum (record checksums are seeded from the
 * store's uuid instead, see xenshape__store_rec_csum). */
#define XENSHAPE__STORE_SB_SEED     UINT64_C(0x78656e7368617065)

/* Record flags. */
#define XENSHAPE__STORE_REC_ZERO    0x1u    /* all-zero page, no slot */
#define XENSHAPE__STORE_REC_FLAGS   XENSHAPE__STORE_REC_ZERO

/* The superblock, at offset 0, padded with zeros to 4 KiB.  Written once
 * when the store is formatted and never again. */
struct xenshape__store_sb {
    char magic[16];
    uint32_t version;
    uint32_t block_size;        /* XENSHAPE__STORE_BLOCK */
    uint8_t uuid[16];           /* random, chosen at format time */
    uint64_t size_bytes;        /* bytes of the file the layout uses */
    uint32_t page_size;         /* XENSHAPE_PAGE_SIZE */
    uint32_t rec_size;          /* XENSHAPE__STORE_REC_SIZE */
    uint64_t nr_records;
    uint64_t nr_slots;
    uint64_t index_off;         /* XENSHAPE__STORE_BLOCK */
    uint64_t index_bytes;       /* nr_records * 64 rounded up to 4 KiB */
    uint64_t data_off;          /* index_off + index_bytes */
    uint64_t format_time;       /* seconds since the epoch; informational */
    uint64_t csum;              /* XXH3-64 of the 4 KiB block, csum = 0 */
};

/* An index record, 64 bytes, on disk and in the in-memory mirror alike.
 * seq == 0 means "never written". */
struct xenshape__store_drec {
    uint64_t seq;               /* store-wide, from 1, newest wins */
    uint64_t gfn;
    uint64_t hash;              /* XXH3-64 of the 4 KiB page */
    uint32_t domid;
    uint32_t dom_tag;
    uint32_t slot;              /* data slot, NO_SLOT for a zero page */
    uint32_t flags;             /* XENSHAPE__STORE_REC_* */
    uint64_t reserved[2];       /* zero */
    uint64_t csum;              /* see xenshape__store_rec_csum */
};

_Static_assert(sizeof(struct xenshape__store_drec) ==
               XENSHAPE__STORE_REC_SIZE, "record size");
_Static_assert(sizeof(struct xenshape__store_sb) <= XENSHAPE__STORE_BLOCK,
               "superblock size");

/*
 * The syscall override table, as sqlite's aSyscall[]: every system call
 * the store makes goes through one of these pointers, so a test can
 * replace one (xenshape__store_sys.pwrite = my_pwrite) and restore the
 * defaults with xenshape__store_sys_reset().  The entries have the libc
 * conventions (-1 and errno), except the liburing ones, which return
 * -errno as liburing does.  The call-site wrappers below add the fault
 * sites and turn everything into 0 / -errno.
 */
typedef struct xenshape__store_syscalls {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    int (*fstat)(int fd, struct stat *buf);
    int (*blkgetsize64)(int fd, uint64_t *size_r);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
    int (*flock)(int fd, int op);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    ssize_t (*getrandom)(void *buf, size_t n, unsigned flags);
    int (*uring_init)(unsigned entries, struct io_uring *ring,
                      unsigned flags);
    void (*uring_exit)(struct io_uring *ring);
    int (*uring_submit)(struct io_uring *ring, unsigned wait_nr);
    int (*uring_wait)(struct io_uring *ring, struct io_uring_cqe **cqe_r);
} xenshape__store_syscalls;

extern xenshape__store_syscalls xenshape__store_sys;
void xenshape__store_sys_reset(void);

/* One io_uring and what the round runner needs to know about it. */
typedef struct xenshape__store_ring {
    struct io_uring ring;
    unsigned entries;           /* SQ size: at most this many per wave */
    bool live;                  /* initialised and usable */
} xenshape__store_ring;

/* One I/O of a round.  res is 0 or -errno once the round ran; a short
 * transfer is reported as -EIO (see store_io.c for why). */
enum xenshape__store_op_kind {
    XENSHAPE__STORE_OP_READ,
    XENSHAPE__STORE_OP_WRITE,
    XENSHAPE__STORE_OP_WRITEV,
    XENSHAPE__STORE_OP_FSYNC,   /* fdatasync */
};

typedef struct xenshape__store_op {
    enum xenshape__store_op_kind kind;
    bool drain;                 /* start after every earlier op ended */
    bool fake_short;            /* internal: fault site asked for short */
    uint64_t off;
    void *buf;                  /* READ, WRITE */
    const struct iovec *iov;    /* WRITEV */
    unsigned nr_iov;
    size_t len;                 /* bytes expected */
    int res;
} xenshape__store_op;

/* Per data slot: the dedup table entry and the reference count. */
struct xenshape__store_slot {
    uint64_t hash;              /* XXH3-64 of the slot's data */
    uint32_t ref;               /* records pointing here; 0 = free */
    uint32_t next;              /* hash chain; see store_alloc.c */
};

struct xenshape__store {
    xentoollog_logger *lg;      /* borrowed */
    char *path;                 /* owned */
    int fd;                     /* or -1 */
    bool direct;                /* fd has O_DIRECT */

    /* Layout, from a validated superblock. */
    uint32_t nr_records, nr_slots;
    uint64_t index_off, index_bytes, data_off;
    uint8_t uuid[16];
    uint64_t csum_seed;         /* record checksum seed, from uuid */

    /*
     * The index mirror: every record exactly as on disk, index_bytes
     * long and page-aligned so whole blocks go to disk straight from it.
     * Only the writer changes it; a record a handle names is stable
     * while the handle is live, so readers use it without the lock.
     */
    struct xenshape__store_drec *mirror;

    /* Allocators and dedup table: under lock, held briefly, never over
     * I/O.  Bitmaps are written with atomics so that get() may test a
     * handle's bit without the lock. */
    pthread_mutex_t lock;
    bool lock_init;
    uint64_t *rec_map;          /* bit set: record in use */
    uint64_t *slot_map;         /* bit set: slot in use */
    uint32_t rec_cursor, slot_cursor;
    struct xenshape__store_slot *slots;
    uint32_t *buckets;          /* dedup hash buckets, NO_SLOT = empty */
    uint32_t bucket_mask;
    uint32_t records_used, slots_used;
    uint32_t *pending;          /* recovered records not yet reported */
    uint32_t nr_pending;
    /* Index blocks holding a record freed, or superseded, since the
     * block was last written (1 bit per block, nr_blocks of them): the
     * next put zeroes the free records in them and writes them with its
     * own.  See write_index() in store.c.  dirty_snap is the writer's. */
    uint64_t *dirty, *dirty_snap;
    uint32_t nr_blocks, nr_dirty;

    /* Writer side: put() runs in one thread at a time. */
    xenshape__store_ring wring;
    uint64_t next_seq;
    bool failed;                /* atomic: a write error latched */

    /* Batched reads (get_batch) share one ring under rlock. */
    pthread_mutex_t rlock;
    bool rlock_init;
    xenshape__store_ring rring;
    unsigned queue_depth;

    /* Counters, atomic, relaxed. */
    uint64_t writes, reads, zero_pages, dedup_pages;
    uint64_t checksum_failures, io_errors;
};

/* XXH3-64 of the zero page, computed once. */
uint64_t xenshape__store_zero_hash(void);

/* store_io.c: call-site wrappers.  Each checks its fault site, retries
 * EINTR and returns 0 (or an fd / a count where stated) or -errno. */
int xenshape__store_io_open(const char *path, int flags, mode_t mode);
void xenshape__store_io_close(int fd);
int xenshape__store_io_fstat(int fd, struct stat *buf);
int xenshape__store_io_blksize(int fd, uint64_t *size_r);
int xenshape__store_io_ftruncate(int fd, uint64_t len);
int xenshape__store_io_fallocate(int fd, uint64_t len);
int xenshape__store_io_flock(int fd);
/* Full transfers only: a short one is -EIO. */
int xenshape__store_io_pread(xenshape__store *st, void *buf, size_t n,
                             uint64_t off);
int xenshape__store_io_pwrite(xenshape__store *st, const void *buf,
                              size_t n, uint64_t off);
int xenshape__store_io_fdatasync(int fd);
int xenshape__store_io_fsync_dir(const char *path);
int xenshape__store_io_random(void *buf, size_t n);

int xenshape__store_ring_init(xenshape__store_ring *rg, unsigned entries);
void xenshape__store_ring_exit(xenshape__store_ring *rg);
/* Run ops in waves of at most rg->entries.  Returns 0 when every op ran
 * (each op's own result is in op->res), or -errno when a submission
 * failed; then ops that did not run have res set to that error too. */
int xenshape__store_ring_run(xenshape__store *st, xenshape__store_ring *rg,
                             xenshape__store_op *ops, unsigned n);

/* store_alloc.c.  All of these need st->lock held, except _init/_dispose
 * (single-threaded, at open and close). */
int xenshape__store_alloc_init(xenshape__store *st);
void xenshape__store_alloc_dispose(xenshape__store *st);
bool xenshape__store_rec_in_use(xenshape__store *st, uint32_t idx);
void xenshape__store_rec_mark(xenshape__store *st, uint32_t idx);
/* Release a record and its reference on its slot, and invalidate it. */
void xenshape__store_rec_release(xenshape__store *st, uint32_t idx);
/* Mark the index block of a record the store no longer holds for the
 * next put to write, with the record zeroed: it must not outlive, valid
 * on disk, a newer record of the same frame.  The writer zeroes it then
 * (write_index() in store.c), so that no block changes while it is
 * being written. */
void xenshape__store_rec_invalidate(xenshape__store *st, uint32_t idx);
/* Take n free records (or slots), in address order from the cursor, so
 * that a batch lands in as few index blocks (data runs) as possible.
 * Returns false, taking nothing, when fewer than n are free. */
bool xenshape__store_recs_take(xenshape__store *st, unsigned n,
                               uint32_t *out);
bool xenshape__store_slots_take(xenshape__store *st, unsigned n,
                                uint32_t *out);
void xenshape__store_slot_ref(xenshape__store *st, uint32_t slot);
void xenshape__store_slot_unref(xenshape__store *st, uint32_t slot);
/* Dedup table: a slot whose data hashes to hash, or NO_SLOT. */
uint32_t xenshape__store_dedup_find(xenshape__store *st, uint64_t hash);
void xenshape__store_dedup_insert(xenshape__store *st, uint32_t slot,
                                  uint64_t hash);

/* store_format.c. */
uint64_t xenshape__store_rec_csum(const xenshape__store *st, uint32_t idx,
                                  const struct xenshape__store_drec *r);
/* Read or create the superblock, set st's layout and read the index
 * into st->mirror (allocated here). */
int xenshape__store_load(xenshape__store *st,
                         const xenshape__store_params *p);
/* Rebuild allocators from the mirror: the newest valid record of every
 * (domid, gfn) is marked in use and put on st->pending. */
int xenshape__store_scan(xenshape__store *st);

#endif /* XENSHAPE_STORE_INTERNAL_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
