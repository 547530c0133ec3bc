/*
 * store.h - the page store: where evicted guest frames live.
 *
 * A store is a file or a block device holding a superblock, an array of
 * index records and an array of 4 KiB data slots.  Each stored frame has
 * one index record (its owner domain, gfn, XXH3-64 of its data, the data
 * slot, a store-wide sequence number) and, unless it is a zero page or a
 * verified duplicate of a page already stored, a data slot of its own.
 *
 * Guarantees the paging engine builds on:
 *  - xenshape__store_put() returns only when the data and the index
 *    records of the whole batch are durable, so a frame evicted after it
 *    returns survives kill -9 of the daemon and a power cut;
 *  - every read is checked against the record's XXH3-64; a mismatch is
 *    returned as XENSHAPE_ECORRUPT and its bytes never reach the caller's
 *    buffer as valid data;
 *  - after a restart, xenshape__store_recover() reports the newest valid
 *    record of every (domain, gfn), so every frame the hypervisor still
 *    holds as paged can be found and verified;
 *  - an I/O error on a write latches the store as failed for writes (no
 *    more evictions), never loses a frame already stored, and is counted.
 *
 * All syscalls go through the override table in store_io.c, with one
 * fault-injection site per call site ("store.read", "store.write",
 * "store.fsync", ...).  Data I/O is O_DIRECT and batched with liburing.
 *
 * Thread safety: one writer (the eviction path) and one reader (the
 * page-in thread) may use a store concurrently; xenshape__store_free()
 * may be called from either.  Everything else from one thread.
 */

#ifndef XENSHAPE_STORE_H
#define XENSHAPE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xentoollog.h>

#include "xenshape.h"

typedef struct xenshape__store xenshape__store;

/* Record handle: index of an index record.  0 is never a valid handle. */
typedef uint32_t xenshape__store_rec;

typedef struct xenshape__store_params {
    const char *path;                /* file or block device */
    uint64_t size_bytes;             /* file size on create; 0 = as is */
    unsigned queue_depth;            /* io_uring entries; 0 = 64 */
} xenshape__store_params;

/* Open (formatting a new or empty file, recovering an existing store).
 * Never reformats a store it recognises; XENSHAPE_EFORMAT for a file that
 * holds something else.  lg is borrowed. */
int xenshape__store_open(xenshape__store **st_r,
                         const xenshape__store_params *p,
                         xentoollog_logger *lg);
void xenshape__store_close(xenshape__store *st);

/* One page to store.  data is 4 KiB; it may be a mapping of guest memory
 * (page-aligned), and must stay valid and unchanged until put returns. */
typedef struct xenshape__store_page {
    uint32_t domid;
    uint32_t dom_tag;                /* identifies the domain instance */
    uint64_t gfn;
    const void *data;
} xenshape__store_page;

/* Store n pages durably.  recs[i] receives the handle for pages[i].
 * All or nothing: on failure no record of this batch is valid.
 * XENSHAPE_ENOSPC when the store is full, XENSHAPE_EIO on I/O error. */
int xenshape__store_put(xenshape__store *st,
                        const xenshape__store_page *pages, unsigned n,
                        xenshape__store_rec *recs);

/* Read and verify one page into buf (4 KiB, page-aligned).
 * XENSHAPE_ECORRUPT on checksum mismatch (buf content is then undefined
 * and must not be used), XENSHAPE_EIO on I/O error. */
int xenshape__store_get(xenshape__store *st, xenshape__store_rec rec,
                        void *buf);

/* Read and verify n pages in one batch (prefetch).  rcs[i] gets 0 or the
 * error for page i; returns 0 if the batch ran, even if some failed. */
int xenshape__store_get_batch(xenshape__store *st,
                              const xenshape__store_rec *recs, unsigned n,
                              void *const *bufs, int *rcs);

/* Forget a record (its frame is back in RAM or was dropped).  In memory
 * only: a stale record on disk is harmless, see recover. */
void xenshape__store_free(xenshape__store *st, xenshape__store_rec rec);

/* What a record says (valid handles only). */
int xenshape__store_rec_info(xenshape__store *st, xenshape__store_rec rec,
                             uint32_t *domid_r, uint64_t *gfn_r);

/* After open: call fn for the newest valid record of every (domid, gfn)
 * whose checksum seeded with its dom_tag is right.  fn returns true to
 * keep the record, false to free it.  Records not kept are released. */
typedef bool xenshape__store_recover_fn(void *arg, uint32_t domid,
                                        uint32_t dom_tag, uint64_t gfn,
                                        xenshape__store_rec rec);
int xenshape__store_recover(xenshape__store *st,
                            xenshape__store_recover_fn *fn, void *arg);

int xenshape__store_stats(xenshape__store *st, xenshape_storestats *st_r);

/* For the benchmark: the fd (O_DIRECT) and the byte offset of a data slot
 * holding rec, to compare raw reads of the same file. */
int xenshape__store_raw(xenshape__store *st, xenshape__store_rec rec,
                        int *fd_r, uint64_t *offset_r);

#endif /* XENSHAPE_STORE_H */
