/*
 * store.c - the page store's interface (store.h): open and close, put a
 * batch of pages durably, get a page back verified, free, recover.
 *
 * A put goes in four steps, and only the last two touch the disk:
 *  1. hash every page (XXH3-64); a page that hashes like the zero page
 *     and is all zero needs no slot; a page equal to an earlier one of
 *     the batch shares its slot; a page whose hash names a stored slot
 *     is compared byte for byte with that slot (one read) and shares it
 *     if equal;
 *  2. under the lock, take records and slots for the batch (next-fit,
 *     so they are mostly contiguous) and fill the records in the mirror;
 *  3. write the new data, slot runs as single writev()s, then fdatasync;
 *  4. write the index blocks holding the batch's records, whole, from
 *     the mirror, then fdatasync; with them go the blocks holding
 *     records freed since they were last written, zeroed (see
 *     write_index()).
 * Steps 3 and 4 are one io_uring submission each, the fdatasync drained
 * behind the writes.  Data is durable before any record that names it,
 * so a record found valid after a crash always has its data; a crash
 * before step 4 ends leaves at most records that the engine never acted
 * on (it evicts only after put returned) and that recovery offers it to
 * free.
 *
 * Reads use pread() through the syscall table: a single 4 KiB O_DIRECT
 * read is as fast that way as through io_uring and needs no lock, so
 * page-in never waits behind a put.  Batched reads (prefetch) use their
 * own ring.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "store/store_internal.h"

/* Longest data write: 256 slots, 1 MiB, well within IOV_MAX. */
#define MAX_RUN 256u

static const uint8_t zero_page[XENSHAPE_PAGE_SIZE]
    __attribute__((aligned(XENSHAPE_PAGE_SIZE)));

uint64_t xenshape__store_zero_hash(void)
{
    static uint64_t cached;
    uint64_t h = __atomic_load_n(&cached, __ATOMIC_RELAXED);

    /* Racing first callers compute the same value; no lock needed. */
    if (!h) {
        h = XXH3_64bits(zero_page, sizeof(zero_page));
        __atomic_store_n(&cached, h, __ATOMIC_RELAXED);
    }
    return h;
}

static bool is_aligned(const xenshape__store *st, const void *p)
{
    return !st->direct ||
        !((uintptr_t)p & (XENSHAPE__PAGE_SIZE - 1));
}

static bool page_is_zero(const void *p)
{
    return !memcmp(p, zero_page, XENSHAPE_PAGE_SIZE);
}

static void count(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static bool is_failed(xenshape__store *st)
{
    return __atomic_load_n(&st->failed, __ATOMIC_ACQUIRE);
}

/* The record index of a live handle, or false. */
static bool rec_index(xenshape__store *st, xenshape__store_rec rec,
                      uint32_t *idx_r)
{
    if (!st || !rec || rec > st->nr_records ||
        !xenshape__store_rec_in_use(st, rec - 1))
        return false;
    *idx_r = rec - 1;
    return true;
}

static uint64_t slot_off(const xenshape__store *st, uint32_t slot)
{
    return st->data_off + (uint64_t)slot * XENSHAPE_PAGE_SIZE;
}

/* ---- open, close ---------------------------------------------------- */

struct put_page;
static int write_index(xenshape__store *st, const struct put_page *pp,
                       unsigned n);

void xenshape__store_close(xenshape__store *st)
{
    if (!st)
        return;
    xenshape__store_ring_exit(&st->wring);
    xenshape__store_ring_exit(&st->rring);
    xenshape__store_io_close(st->fd);
    xenshape__store_alloc_dispose(st);
    free(st->mirror);
    free(st->path);
    if (st->lock_init)
        pthread_mutex_destroy(&st->lock);
    if (st->rlock_init)
        pthread_mutex_destroy(&st->rlock);
    free(st);
}

int xenshape__store_open(xenshape__store **st_r,
                         const xenshape__store_params *p,
                         xentoollog_logger *lg)
{
    xenshape__store *st = NULL;
    int rc, r;

    if (!st_r || !p || !p->path) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    st = xenshape__calloc(1, sizeof(*st));
    if (!st) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    st->fd = -1;
    st->lg = lg;
    st->path = xenshape__strdup(p->path);
    if (!st->path) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    st->queue_depth = p->queue_depth ? p->queue_depth : 64;
    if (st->queue_depth < 2)
        st->queue_depth = 2;
    if (st->queue_depth > 4096)
        st->queue_depth = 4096;
    if (pthread_mutex_init(&st->lock, NULL)) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    st->lock_init = true;
    if (pthread_mutex_init(&st->rlock, NULL)) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    st->rlock_init = true;

    rc = xenshape__store_load(st, p);
    if (rc)
        goto out;
    rc = xenshape__store_alloc_init(st);
    if (rc)
        goto out;
    rc = xenshape__store_scan(st);
    if (rc)
        goto out;

    r = xenshape__store_ring_init(&st->wring, st->queue_depth);
    if (r >= 0)
        r = xenshape__store_ring_init(&st->rring, st->queue_depth);
    if (r < 0) {
        XSLOG(lg, ERROR, -r, "store %s: cannot set up io_uring", p->path);
        rc = r == -ENOMEM ? XENSHAPE_ENOMEM : XENSHAPE_EIO;
        goto out;
    }
    /* Superseded records scan found go now, not at the first put: the
     * daemon may never store anything before it stops again. */
    if (st->nr_dirty) {
        r = write_index(st, NULL, 0);
        if (r < 0) {
            /* Frames stored are still all there to read; storing more
             * on a device that fails writes is what must stop. */
            XSLOG(lg, ERROR, -r, "store %s: cannot clear superseded "
                  "records; no pages will be stored", p->path);
            count(&st->io_errors, 1);
            __atomic_store_n(&st->failed, true, __ATOMIC_RELEASE);
        }
    }

    *st_r = st;
    st = NULL;
    rc = 0;

out:
    xenshape__store_close(st);
    return rc;
}

/* ---- put ------------------------------------------------------------ */

enum page_kind {
    PK_ZERO,        /* zero page: record only */
    PK_WRITE,       /* new slot, data written by this batch */
    PK_SHARE,       /* same bytes as page lead of this batch */
    PK_CAND,        /* hash matches stored slot: compare first */
    PK_DEDUP,       /* same bytes as stored slot */
};

struct put_page {
    uint64_t hash;
    const void *src;            /* the data, or its aligned copy */
    uint32_t rec;
    uint32_t slot;
    uint32_t lead;              /* PK_SHARE */
    enum page_kind kind;
};

/* Everything a put allocates, in one place so "out:" frees it all. */
struct put_scratch {
    struct put_page *pp;
    uint32_t *tab;              /* batch dedup: hash -> page + 1 */
    uint32_t *idx;              /* records or slots taken */
    uint64_t *sorted;           /* (slot or block) << 32 | page */
    struct iovec *iov;
    xenshape__store_op *ops;
    void *bounce;               /* aligned copies of unaligned pages */
    void *cmp;                  /* stored slots read for comparison */
};

static void scratch_free(struct put_scratch *s)
{
    free(s->pp);
    free(s->tab);
    free(s->idx);
    free(s->sorted);
    free(s->iov);
    free(s->ops);
    free(s->bounce);
    free(s->cmp);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Step 1: hash, zero pages, duplicates within the batch. */
static void classify(struct put_scratch *s, unsigned n, size_t tmask)
{
    uint64_t zh = xenshape__store_zero_hash();
    unsigned i;

    for (i = 0; i < n; i++) {
        struct put_page *pg = &s->pp[i];
        size_t h;

        pg->hash = XXH3_64bits(pg->src, XENSHAPE_PAGE_SIZE);
        pg->slot = XENSHAPE__STORE_NO_SLOT;
        if (pg->hash == zh && page_is_zero(pg->src)) {
            pg->kind = PK_ZERO;
            continue;
        }
        pg->kind = PK_WRITE;
        for (h = pg->hash & tmask; s->tab[h]; h = (h + 1) & tmask) {
            const struct put_page *o = &s->pp[s->tab[h] - 1];

            if (o->hash == pg->hash) {
                /* Equal hashes, different bytes: a collision, rare
                 * enough that this page just gets a slot of its own. */
                if (!memcmp(o->src, pg->src, XENSHAPE_PAGE_SIZE)) {
                    pg->kind = PK_SHARE;
                    pg->lead = s->tab[h] - 1;
                }
                break;
            }
        }
        if (pg->kind == PK_WRITE && !s->tab[h])
            s->tab[h] = i + 1;
    }
}

/*
 * Step 1, second half: pages whose hash names a stored slot.  A
 * reference is taken on the slot under the lock, so it cannot be freed
 * and rewritten while we read it; the read is a comparison, never trusted
 * alone.  Any failure here just means "not a duplicate": the page is
 * written instead, and the put goes on.
 */
static void dedup_stored(xenshape__store *st, struct put_scratch *s,
                         unsigned n)
{
    unsigned i, ncand = 0, k;

    pthread_mutex_lock(&st->lock);
    for (i = 0; i < n; i++) {
        struct put_page *pg = &s->pp[i];
        uint32_t slot;

        if (pg->kind != PK_WRITE)
            continue;
        slot = xenshape__store_dedup_find(st, pg->hash);
        if (slot == XENSHAPE__STORE_NO_SLOT)
            continue;
        xenshape__store_slot_ref(st, slot);
        pg->kind = PK_CAND;
        pg->slot = slot;
        ncand++;
    }
    pthread_mutex_unlock(&st->lock);
    if (!ncand)
        return;

    s->cmp = xenshape__alloc_aligned((size_t)ncand * XENSHAPE_PAGE_SIZE);
    if (s->cmp) {
        for (i = 0, k = 0; i < n; i++) {
            if (s->pp[i].kind != PK_CAND)
                continue;
            s->ops[k] = (xenshape__store_op){
                .kind = XENSHAPE__STORE_OP_READ,
                .buf = (char *)s->cmp + (size_t)k * XENSHAPE_PAGE_SIZE,
                .len = XENSHAPE_PAGE_SIZE,
                .off = slot_off(st, s->pp[i].slot),
            };
            k++;
        }
        /* A failed submission sets every op's res: counted below. */
        xenshape__store_ring_run(st, &st->wring, s->ops, ncand);
        for (k = 0; k < ncand; k++)
            count(&st->reads, !s->ops[k].res);
    }

    /* Compare outside the lock; a page found different keeps its slot
     * number only until its reference is dropped, below. */
    for (i = 0, k = 0; i < n; i++) {
        struct put_page *pg = &s->pp[i];

        if (pg->kind != PK_CAND)
            continue;
        if (s->cmp && s->ops[k].res)
            count(&st->io_errors, 1);
        if (s->cmp && !s->ops[k].res &&
            !memcmp((char *)s->cmp + (size_t)k * XENSHAPE_PAGE_SIZE,
                    pg->src, XENSHAPE_PAGE_SIZE))
            pg->kind = PK_DEDUP;
        else
            pg->kind = PK_WRITE;
        k++;
    }
    pthread_mutex_lock(&st->lock);
    for (i = 0; i < n; i++) {
        struct put_page *pg = &s->pp[i];

        if (pg->kind == PK_WRITE && pg->slot != XENSHAPE__STORE_NO_SLOT) {
            xenshape__store_slot_unref(st, pg->slot);
            pg->slot = XENSHAPE__STORE_NO_SLOT;
        }
    }
    pthread_mutex_unlock(&st->lock);
}

/* Step 2: records and slots.  Returns false, having dropped the dedup
 * references, if the store cannot hold the batch. */
static bool take_space(xenshape__store *st, struct put_scratch *s,
                       unsigned n, unsigned nwrite)
{
    unsigned i, k;
    bool ok;

    pthread_mutex_lock(&st->lock);
    ok = n <= st->nr_records - st->records_used &&
        nwrite <= st->nr_slots - st->slots_used;
    if (!ok) {
        for (i = 0; i < n; i++)
            if (s->pp[i].kind == PK_DEDUP)
                xenshape__store_slot_unref(st, s->pp[i].slot);
        goto out;
    }
    xenshape__store_slots_take(st, nwrite, s->idx);
    for (i = 0, k = 0; i < n; i++)
        if (s->pp[i].kind == PK_WRITE)
            s->pp[i].slot = s->idx[k++];
    for (i = 0; i < n; i++) {
        if (s->pp[i].kind == PK_SHARE) {
            s->pp[i].slot = s->pp[s->pp[i].lead].slot;
            xenshape__store_slot_ref(st, s->pp[i].slot);
        }
    }
    xenshape__store_recs_take(st, n, s->idx);
    for (i = 0; i < n; i++)
        s->pp[i].rec = s->idx[i];

out:
    pthread_mutex_unlock(&st->lock);
    return ok;
}

static void fill_record(xenshape__store *st, const xenshape__store_page *pg,
                        const struct put_page *pp)
{
    struct xenshape__store_drec *rd = &st->mirror[pp->rec];

    rd->seq = st->next_seq++;
    rd->gfn = pg->gfn;
    rd->hash = pp->hash;
    rd->domid = pg->domid;
    rd->dom_tag = pg->dom_tag;
    rd->slot = pp->slot;
    rd->flags = pp->kind == PK_ZERO ? XENSHAPE__STORE_REC_ZERO : 0;
    rd->reserved[0] = rd->reserved[1] = 0;
    rd->csum = xenshape__store_rec_csum(st, pp->rec, rd);
}

/* Step 3: the new data, one writev per run of adjacent slots, and an
 * fdatasync behind them.  Returns 0 or the first error (-errno). */
static int write_data(xenshape__store *st, struct put_scratch *s,
                      unsigned n)
{
    unsigned i, nw = 0, nops = 0, niov = 0;
    int r;

    for (i = 0; i < n; i++)
        if (s->pp[i].kind == PK_WRITE)
            s->sorted[nw++] = (uint64_t)s->pp[i].slot << 32 | i;
    if (!nw)
        return 0;
    qsort(s->sorted, nw, sizeof(*s->sorted), cmp_u64);
    for (i = 0; i < nw; i++) {
        uint32_t slot = (uint32_t)(s->sorted[i] >> 32);
        const struct put_page *pg = &s->pp[(uint32_t)s->sorted[i]];
        xenshape__store_op *op = nops ? &s->ops[nops - 1] : NULL;

        if (!op || op->nr_iov == MAX_RUN ||
            op->off + op->len != slot_off(st, slot)) {
            op = &s->ops[nops++];
            *op = (xenshape__store_op){
                .kind = XENSHAPE__STORE_OP_WRITEV,
                .iov = &s->iov[niov],
                .off = slot_off(st, slot),
            };
        }
        s->iov[niov].iov_base = (void *)pg->src;
        s->iov[niov].iov_len = XENSHAPE_PAGE_SIZE;
        niov++;
        op->nr_iov++;
        op->len += XENSHAPE_PAGE_SIZE;
    }
    s->ops[nops++] = (xenshape__store_op){
        .kind = XENSHAPE__STORE_OP_FSYNC, .drain = true,
    };
    r = xenshape__store_ring_run(st, &st->wring, s->ops, nops);
    for (i = 0; i < nops && r >= 0; i++)
        r = s->ops[i].res;
    if (r >= 0)
        count(&st->writes, nw);
    return r;
}

/* Run ops on the writer's ring: 0 or the first error (-errno). */
static int run_writes(xenshape__store *st, xenshape__store_op *ops,
                      unsigned n)
{
    unsigned i;
    int r = xenshape__store_ring_run(st, &st->wring, ops, n);

    for (i = 0; i < n && r >= 0; i++)
        r = ops[i].res;
    return r;
}

/*
 * Step 4: every index block holding a record of the batch, whole, from
 * the mirror, adjacent blocks in one write, and an fdatasync.
 *
 * With them go the dirty blocks: those holding a record freed (or found
 * superseded at open) since the block was last written, with the free
 * records in them zeroed.  Zeroed here, by the writer, under the lock,
 * rather than by free: no other thread changes the mirror, so no block
 * changes while it is on its way to the disk (which a file system that
 * checksums O_DIRECT writes would take for corruption).  A frame's
 * record is freed when the frame comes back to RAM,
 * before the frame can be stored again, so by the time a frame's new
 * record is durable, its old one is durably gone.  Left valid on disk,
 * the old record would be what recovery falls back on should the new
 * one ever be damaged: a copy that checks out against its own record
 * and is not what the guest had.  n is 0 when open writes the
 * superseded records it found.  Waves of INDEX_WAVE writes keep the
 * op array on the stack, however many blocks are dirty.
 */
#define INDEX_WAVE 64u

static int write_index(xenshape__store *st, const struct put_page *pp,
                       unsigned n)
{
    xenshape__store_op ops[INDEX_WAVE + 1];
    uint64_t *snap = st->dirty_snap, blk;
    size_t words = ((size_t)st->nr_blocks + 63) / 64, w;
    unsigned i, nops = 0;
    int r;

    /* Blocks freed into after this point go with the next put. */
    pthread_mutex_lock(&st->lock);
    for (w = 0; w < words; w++) {
        uint64_t bits = st->dirty[w];

        snap[w] = bits;
        st->dirty[w] = 0;
        for (; bits; bits &= bits - 1) {
            uint32_t idx = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits)) *
                XENSHAPE__STORE_RECS_PER_BLOCK, end;

            end = idx + XENSHAPE__STORE_RECS_PER_BLOCK;
            for (; idx < end && idx < st->nr_records; idx++)
                if (!xenshape__store_rec_in_use(st, idx))
                    memset(&st->mirror[idx], 0, sizeof(st->mirror[idx]));
        }
    }
    st->nr_dirty = 0;
    pthread_mutex_unlock(&st->lock);
    for (i = 0; i < n; i++) {
        blk = pp[i].rec / XENSHAPE__STORE_RECS_PER_BLOCK;
        snap[blk / 64] |= UINT64_C(1) << (blk % 64);
    }
    for (w = 0; w < words; w++) {
        while (snap[w]) {
            xenshape__store_op *op = nops ? &ops[nops - 1] : NULL;
            uint64_t off;

            blk = w * 64 + (uint64_t)__builtin_ctzll(snap[w]);
            snap[w] &= snap[w] - 1;
            off = st->index_off + blk * XENSHAPE__STORE_BLOCK;
            if (op && op->off + op->len == off &&
                op->len < MAX_RUN * XENSHAPE__STORE_BLOCK) {
                op->len += XENSHAPE__STORE_BLOCK;
                continue;
            }
            if (nops == INDEX_WAVE) {
                r = run_writes(st, ops, nops);
                if (r < 0)
                    goto out;
                nops = 0;
            }
            ops[nops++] = (xenshape__store_op){
                .kind = XENSHAPE__STORE_OP_WRITE,
                .buf = (char *)st->mirror + blk * XENSHAPE__STORE_BLOCK,
                .len = XENSHAPE__STORE_BLOCK,
                .off = off,
            };
        }
    }
    ops[nops++] = (xenshape__store_op){
        .kind = XENSHAPE__STORE_OP_FSYNC, .drain = true,
    };
    r = run_writes(st, ops, nops);
 out:
    /* Whatever was not written stays dirty (the store is failed then,
     * but a later put must not find the map half cleared). */
    if (r < 0) {
        pthread_mutex_lock(&st->lock);
        for (w = 0; w < words; w++) {
            st->dirty[w] |= snap[w];
            st->nr_dirty += (uint32_t)__builtin_popcountll(snap[w]);
            snap[w] = 0;
        }
        pthread_mutex_unlock(&st->lock);
    }
    return r;
}

int xenshape__store_put(xenshape__store *st,
                        const xenshape__store_page *pages, unsigned n,
                        xenshape__store_rec *recs)
{
    struct put_scratch s = { 0 };
    unsigned i, nunaligned = 0, nwrite = 0, nzero = 0, ndedup = 0;
    size_t tsize = 1;
    int rc, r;

    if (!st || (n && (!pages || !recs))) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    if (is_failed(st)) {
        rc = XENSHAPE_EIO;
        goto out;
    }
    if (!n) {
        rc = 0;
        goto out;
    }
    if (n > st->nr_records) {
        rc = XENSHAPE_ENOSPC;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (!pages[i].data) {
            rc = XENSHAPE_EINVAL;
            goto out;
        }
        if (!is_aligned(st, pages[i].data))
            nunaligned++;
    }

    while (tsize < 2 * (size_t)n)
        tsize <<= 1;
    s.pp = xenshape__calloc(n, sizeof(*s.pp));
    s.tab = xenshape__calloc(tsize, sizeof(*s.tab));
    s.idx = xenshape__calloc(n, sizeof(*s.idx));
    s.sorted = xenshape__calloc(n, sizeof(*s.sorted));
    s.iov = xenshape__calloc(n, sizeof(*s.iov));
    s.ops = xenshape__calloc(n + 1, sizeof(*s.ops));
    if (nunaligned)
        s.bounce = xenshape__alloc_aligned((size_t)nunaligned *
                                           XENSHAPE_PAGE_SIZE);
    if (!s.pp || !s.tab || !s.idx || !s.sorted || !s.iov || !s.ops ||
        (nunaligned && !s.bounce)) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0, nunaligned = 0; i < n; i++) {
        if (is_aligned(st, pages[i].data)) {
            s.pp[i].src = pages[i].data;
        } else {
            void *copy = (char *)s.bounce +
                (size_t)nunaligned++ * XENSHAPE_PAGE_SIZE;

            memcpy(copy, pages[i].data, XENSHAPE_PAGE_SIZE);
            s.pp[i].src = copy;
        }
    }

    classify(&s, n, tsize - 1);
    dedup_stored(st, &s, n);
    for (i = 0; i < n; i++) {
        nwrite += s.pp[i].kind == PK_WRITE;
        nzero += s.pp[i].kind == PK_ZERO;
        ndedup += s.pp[i].kind == PK_SHARE || s.pp[i].kind == PK_DEDUP;
    }
    if (!take_space(st, &s, n, nwrite)) {
        rc = XENSHAPE_ENOSPC;
        goto out;
    }
    for (i = 0; i < n; i++)
        fill_record(st, &pages[i], &s.pp[i]);

    r = write_data(st, &s, n);
    if (r >= 0)
        r = write_index(st, s.pp, n);
    if (r < 0)
        goto fail_io;

    pthread_mutex_lock(&st->lock);
    for (i = 0; i < n; i++)
        if (s.pp[i].kind == PK_WRITE)
            xenshape__store_dedup_insert(st, s.pp[i].slot, s.pp[i].hash);
    pthread_mutex_unlock(&st->lock);
    count(&st->zero_pages, nzero);
    count(&st->dedup_pages, ndedup);
    for (i = 0; i < n; i++)
        recs[i] = s.pp[i].rec + 1;
    rc = 0;
    goto out;

fail_io:
    /*
     * The batch is undone in memory; on disk its records may be partly
     * there, which is harmless (see the top of the file).  From now on
     * puts fail: the device misbehaved, and writing more would only put
     * more frames at risk.  Reads go on.
     */
    pthread_mutex_lock(&st->lock);
    for (i = 0; i < n; i++)
        xenshape__store_rec_release(st, s.pp[i].rec);
    pthread_mutex_unlock(&st->lock);
    __atomic_store_n(&st->failed, true, __ATOMIC_RELEASE);
    count(&st->io_errors, 1);
    XSLOG(st->lg, ERROR, -r, "store %s: write of a batch of %u pages "
          "failed; no more pages will be stored", st->path, n);
    rc = r == -ENOSPC || r == -EDQUOT ? XENSHAPE_ENOSPC : XENSHAPE_EIO;

out:
    scratch_free(&s);
    return rc;
}

/* ---- get ------------------------------------------------------------ */

/* Verify a page read into buf against rd, the caller's copy of record
 * idx.  On a mismatch the buffer is scrubbed, so a caller ignoring the
 * error still cannot use the bad bytes as a guest's data.  A record
 * freed while it was read (the race load_held() in pager.c allows) may
 * have had its slot reused, or been zeroed by a put, meanwhile: that is
 * no damage, only a handle no longer live. */
static int verify(xenshape__store *st, uint32_t idx,
                  const struct xenshape__store_drec *rd, void *buf)
{
    if (XXH3_64bits(buf, XENSHAPE_PAGE_SIZE) == rd->hash)
        return 0;
    memset(buf, 0, XENSHAPE_PAGE_SIZE);
    if (!xenshape__store_rec_in_use(st, idx))
        return XENSHAPE_EINVAL;
    count(&st->checksum_failures, 1);
    XSLOG(st->lg, ERROR, -1, "store %s: checksum mismatch in slot %u "
          "(domain %u gfn %#llx)", st->path, rd->slot, rd->domid,
          (unsigned long long)rd->gfn);
    return XENSHAPE_ECORRUPT;
}

int xenshape__store_get(xenshape__store *st, xenshape__store_rec rec,
                        void *buf)
{
    struct xenshape__store_drec rd;
    void *tmp = NULL, *dst;
    uint32_t idx, rec_slot;
    int rc, r;

    if (!buf || !rec_index(st, rec, &idx)) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    /* One copy: a put may zero the record if a free races with us. */
    rd = st->mirror[idx];
    if (rd.flags & XENSHAPE__STORE_REC_ZERO) {
        memset(buf, 0, XENSHAPE_PAGE_SIZE);
        rc = 0;
        goto out;
    }
    rec_slot = rd.slot;
    if (rec_slot >= st->nr_slots) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    dst = buf;
    if (!is_aligned(st, buf)) {
        tmp = xenshape__alloc_aligned(XENSHAPE_PAGE_SIZE);
        if (!tmp) {
            rc = XENSHAPE_ENOMEM;
            goto out;
        }
        dst = tmp;
    }
    r = xenshape__store_io_pread(st, dst, XENSHAPE_PAGE_SIZE,
                                 slot_off(st, rec_slot));
    if (r < 0) {
        count(&st->io_errors, 1);
        XSLOG(st->lg, ERROR, -r, "store %s: read of slot %u failed",
              st->path, rec_slot);
        rc = XENSHAPE_EIO;
        goto out;
    }
    count(&st->reads, 1);
    rc = verify(st, idx, &rd, dst);
    if (tmp)
        memcpy(buf, tmp, XENSHAPE_PAGE_SIZE);

out:
    free(tmp);
    return rc;
}

int xenshape__store_get_batch(xenshape__store *st,
                              const xenshape__store_rec *recs, unsigned n,
                              void *const *bufs, int *rcs)
{
    xenshape__store_op *ops = NULL;
    /* Per read: the page it is for, and a copy of its record (see
     * verify() for why a copy). */
    struct batch_read {
        uint32_t page;
        struct xenshape__store_drec rd;
    } *which = NULL;
    void *bounce = NULL;
    unsigned i, k, nops = 0, nbounce = 0;
    int rc;

    if (!st || (n && (!recs || !bufs || !rcs))) {
        rc = XENSHAPE_EINVAL;
        goto out;
    }
    if (!n) {
        rc = 0;
        goto out;
    }
    for (i = 0; i < n; i++)
        if (bufs[i] && !is_aligned(st, bufs[i]))
            nbounce++;
    ops = xenshape__calloc(n, sizeof(*ops));
    which = xenshape__calloc(n, sizeof(*which));
    if (nbounce)
        bounce = xenshape__alloc_aligned((size_t)nbounce *
                                         XENSHAPE_PAGE_SIZE);
    if (!ops || !which || (nbounce && !bounce)) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }

    for (i = 0, k = 0; i < n; i++) {
        struct xenshape__store_drec rd;
        uint32_t idx;

        if (!bufs[i] || !rec_index(st, recs[i], &idx)) {
            rcs[i] = XENSHAPE_EINVAL;
            continue;
        }
        rd = st->mirror[idx];
        rcs[i] = 0;
        if (rd.flags & XENSHAPE__STORE_REC_ZERO) {
            memset(bufs[i], 0, XENSHAPE_PAGE_SIZE);
            continue;
        }
        if (rd.slot >= st->nr_slots) {
            rcs[i] = XENSHAPE_EINVAL;
            continue;
        }
        ops[nops] = (xenshape__store_op){
            .kind = XENSHAPE__STORE_OP_READ,
            .buf = is_aligned(st, bufs[i]) ? bufs[i]
                : (char *)bounce + (size_t)k++ * XENSHAPE_PAGE_SIZE,
            .len = XENSHAPE_PAGE_SIZE,
            .off = slot_off(st, rd.slot),
        };
        which[nops].page = i;
        which[nops++].rd = rd;
    }

    pthread_mutex_lock(&st->rlock);
    xenshape__store_ring_run(st, &st->rring, ops, nops);
    pthread_mutex_unlock(&st->rlock);

    for (k = 0; k < nops; k++) {
        i = which[k].page;
        if (ops[k].res < 0) {
            count(&st->io_errors, 1);
            XSLOG(st->lg, ERROR, -ops[k].res, "store %s: read at %#llx "
                  "failed", st->path, (unsigned long long)ops[k].off);
            rcs[i] = XENSHAPE_EIO;
            continue;
        }
        count(&st->reads, 1);
        rcs[i] = verify(st, recs[i] - 1, &which[k].rd, ops[k].buf);
        if (ops[k].buf != bufs[i])
            memcpy(bufs[i], ops[k].buf, XENSHAPE_PAGE_SIZE);
    }
    rc = 0;

out:
    free(ops);
    free(which);
    free(bounce);
    return rc;
}

/* ---- free, info, recover, stats ------------------------------------- */

void xenshape__store_free(xenshape__store *st, xenshape__store_rec rec)
{
    uint32_t idx;

    if (!rec_index(st, rec, &idx))
        return;
    pthread_mutex_lock(&st->lock);
    xenshape__store_rec_release(st, idx);
    pthread_mutex_unlock(&st->lock);
}

int xenshape__store_rec_info(xenshape__store *st, xenshape__store_rec rec,
                             uint32_t *domid_r, uint64_t *gfn_r)
{
    uint32_t idx;

    if (!rec_index(st, rec, &idx))
        return XENSHAPE_EINVAL;
    if (domid_r)
        *domid_r = st->mirror[idx].domid;
    if (gfn_r)
        *gfn_r = st->mirror[idx].gfn;
    return 0;
}

int xenshape__store_recover(xenshape__store *st,
                            xenshape__store_recover_fn *fn, void *arg)
{
    uint32_t *pending, nr, i, idx;

    if (!st || !fn)
        return XENSHAPE_EINVAL;
    pthread_mutex_lock(&st->lock);
    pending = st->pending;
    nr = st->nr_pending;
    st->pending = NULL;
    st->nr_pending = 0;
    pthread_mutex_unlock(&st->lock);

    for (i = 0; i < nr; i++) {
        const struct xenshape__store_drec *rd = &st->mirror[pending[i]];

        idx = pending[i];
        if (!xenshape__store_rec_in_use(st, idx))
            continue;
        if (fn(arg, rd->domid, rd->dom_tag, rd->gfn, idx + 1))
            continue;
        pthread_mutex_lock(&st->lock);
        xenshape__store_rec_release(st, idx);
        pthread_mutex_unlock(&st->lock);
    }

    /* Only now are the kept slots offered for dedup: before, a slot might
     * still have been named by a stale record with another hash.  The
     * lock is dropped every so often so that a page-in is not held up. */
    for (i = 0; i < nr; i++) {
        const struct xenshape__store_drec *rd = &st->mirror[pending[i]];

        if (i % 1024 == 0)
            pthread_mutex_lock(&st->lock);
        if (xenshape__store_rec_in_use(st, pending[i]) &&
            !(rd->flags & XENSHAPE__STORE_REC_ZERO))
            xenshape__store_dedup_insert(st, rd->slot, rd->hash);
        if (i % 1024 == 1023 || i + 1 == nr)
            pthread_mutex_unlock(&st->lock);
    }
    free(pending);
    return 0;
}

int xenshape__store_stats(xenshape__store *st, xenshape_storestats *st_r)
{
    xenshape_storestats s;

    if (!st || !st_r)
        return XENSHAPE_EINVAL;
    memset(&s, 0, sizeof(s));
    pthread_mutex_lock(&st->lock);
    s.slots_total = st->nr_slots;
    s.slots_used = st->slots_used;
    s.records_total = st->nr_records;
    s.records_used = st->records_used;
    pthread_mutex_unlock(&st->lock);
    s.writes = __atomic_load_n(&st->writes, __ATOMIC_RELAXED);
    s.reads = __atomic_load_n(&st->reads, __ATOMIC_RELAXED);
    s.zero_pages = __atomic_load_n(&st->zero_pages, __ATOMIC_RELAXED);
    s.dedup_pages = __atomic_load_n(&st->dedup_pages, __ATOMIC_RELAXED);
    s.checksum_failures = __atomic_load_n(&st->checksum_failures,
                                          __ATOMIC_RELAXED);
    s.io_errors = __atomic_load_n(&st->io_errors, __ATOMIC_RELAXED);
    s.failed = is_failed(st);
    *st_r = s;
    return 0;
}

int xenshape__store_raw(xenshape__store *st, xenshape__store_rec rec,
                        int *fd_r, uint64_t *offset_r)
{
    const struct xenshape__store_drec *rd;
    uint32_t idx;

    if (!fd_r || !offset_r || !rec_index(st, rec, &idx))
        return XENSHAPE_EINVAL;
    rd = &st->mirror[idx];
    if (rd->flags & XENSHAPE__STORE_REC_ZERO)
        return XENSHAPE_ENOENT;
    *fd_r = st->fd;
    *offset_r = slot_off(st, rd->slot);
    return 0;
}

int xenshape__store_rec_offset(xenshape__store *st, xenshape__store_rec rec,
                               uint64_t *offset_r)
{
    if (!st || !offset_r || !rec || rec > st->nr_records)
        return XENSHAPE_EINVAL;
    *offset_r = st->index_off +
        (uint64_t)(rec - 1) * XENSHAPE__STORE_REC_SIZE;
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
