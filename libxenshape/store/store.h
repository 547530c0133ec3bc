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
 *  - free takes effect on disk at the next put: a freed record stays
 *    valid on disk until then, and goes, zeroed, with that put's index
 *    write; so once a frame's new record is durable, no older record of
 *    the frame is left to fall back on should the new one be damaged.
 *    Its data slot may be rewritten as soon as free returns.  Free a
 *    record only once the frame is back in the guest (or dropped).
 *
 * All syscalls go through the override table in store_io.c, with one
 * fault-injection site per call site ("store.read", "store.write",
 * "store.fsync", ...).  Data I/O is O_DIRECT and batched with liburing.
 * A short read or write is an I/O error (XENSHAPE_EIO), never retried.
 * docs/store-format.md describes the on-disk format and the memory it
 * costs.
 *
 * Thread safety: one writer (the eviction path: put) and any number of
 * readers (get, get_batch, rec_info) may use a store concurrently;
 * xenshape__store_free() and _stats() may be called from any of them.
 * get() never waits for a put.  recover() runs in one thread at a time
 * and may overlap gets and frees; open and close while nothing else runs.
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
    uint64_t records;                /* index records on create;
                                      * 0 = two per data slot */
    int lock_wait_ms;                /* wait for the store's previous
                                      * user to let go (a killed daemon's
                                      * writes to drain): 0 = 10 s,
                                      * < 0 = fail at once (EBUSY) */
} xenshape__store_params;

/* Open (formatting a new or empty file, recovering an existing store).
 * A new file, one shorter than 4 KiB, or one whose first MiB is all zero
 * is formatted at size_bytes (0: its current size; a block device always
 * uses its own size), mode 0600.  A store is never reformatted: its own
 * layout wins over size_bytes, and a damaged superblock or a file holding
 * something else gives XENSHAPE_EFORMAT, untouched.  XENSHAPE_EINVAL: too
 * small for one slot; XENSHAPE_EBUSY: another process has it open.  The
 * index is read and checked here; see recover.  lg is borrowed. */
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

/* Store n pages durably.  recs[i] receives the handle for pages[i]
 * (recs is left alone on failure).  All or nothing: on failure no record
 * of the batch is valid and its space is released; records a crash
 * leaves on disk from a put that never returned are offered by recover
 * like stale ones.  A batch's pages should be distinct frames.
 * XENSHAPE_ENOSPC when the store lacks records or slots for the whole
 * batch (nothing was written; later puts may fit).  XENSHAPE_EIO (or
 * XENSHAPE_ENOSPC from the device) on a write error: the store is then
 * failed, and every later put returns XENSHAPE_EIO at once; gets go on.
 * XENSHAPE_ENOMEM leaves the store as it was. */
int xenshape__store_put(xenshape__store *st,
                        const xenshape__store_page *pages, unsigned n,
                        xenshape__store_rec *recs);

/* Read and verify one page into buf (4 KiB; page-aligned avoids a copy).
 * XENSHAPE_ECORRUPT on checksum mismatch (buf is then zeroed and must not
 * be used), XENSHAPE_EIO on I/O error (this page only: the store is not
 * failed by it), XENSHAPE_EINVAL for a handle that is not live. */
int xenshape__store_get(xenshape__store *st, xenshape__store_rec rec,
                        void *buf);

/* Read and verify n pages in one batch (prefetch).  rcs[i] gets 0 or the
 * error for page i, as get() would; returns 0 if the batch ran, even if
 * some failed. */
int xenshape__store_get_batch(xenshape__store *st,
                              const xenshape__store_rec *recs, unsigned n,
                              void *const *bufs, int *rcs);

/* Forget a record (its frame is back in RAM or was dropped).  On disk
 * it goes with the next put (see above); until then it is stale, which
 * is harmless, see recover.  A get of it racing with free returns
 * XENSHAPE_EINVAL (or XENSHAPE_ECORRUPT if its slot was reused), never
 * another frame's data. */
void xenshape__store_free(xenshape__store *st, xenshape__store_rec rec);

/* What a record says (valid handles only). */
int xenshape__store_rec_info(xenshape__store *st, xenshape__store_rec rec,
                             uint32_t *domid_r, uint64_t *gfn_r);

/* After open: call fn once for the newest record (highest sequence
 * number) of every (domid, gfn) among the records whose own checksum is
 * right; older ones for the same (domid, gfn) are superseded, never
 * reported, and zeroed on disk before open returns.  fn gets the dom_tag the record was stored with, and returns
 * true to keep the record, false to free it.  The newest record of a
 * frame that is back in RAM may be stale (its slot reused since): the
 * engine decides with the hypervisor which frames are still paged out.
 * Until recover() runs, every reported record stays in use, so puts made
 * before it can never overwrite one.  fn may call any store function
 * but recover() and close().  A second call reports nothing. */
typedef bool xenshape__store_recover_fn(void *arg, uint32_t domid,
                                        uint32_t dom_tag, uint64_t gfn,
                                        xenshape__store_rec rec);
int xenshape__store_recover(xenshape__store *st,
                            xenshape__store_recover_fn *fn, void *arg);

/* Counters since open.  writes: data slots written; reads: data slots
 * read (get, get_batch and the comparison reads of dedup); zero_pages,
 * dedup_pages: pages put without a data write of their own. */
int xenshape__store_stats(xenshape__store *st, xenshape_storestats *st_r);

/* For the benchmark: the fd (O_DIRECT) and the byte offset of a data slot
 * holding rec, to compare raw reads of the same file.  XENSHAPE_ENOENT
 * for a zero page, which has no slot. */
int xenshape__store_raw(xenshape__store *st, xenshape__store_rec rec,
                        int *fd_r, uint64_t *offset_r);

/* For tests and tools: the byte offset of rec's 64-byte index record. */
int xenshape__store_rec_offset(xenshape__store *st, xenshape__store_rec rec,
                               uint64_t *offset_r);

#endif /* XENSHAPE_STORE_H */
