/*
 * fuzz_store_recover.c - libFuzzer target: the page store opened and
 * recovered from an arbitrary file, as a restarted daemon does with
 * whatever it finds on its store device.  Whatever the file, open must
 * return 0 or a documented error (never crash, leak or read out of
 * bounds), recovery must offer only records that name a real slot, and
 * the allocators rebuilt from a hostile index must never hand out a slot
 * a kept record still uses.
 *
 * Input: one byte of options, then the file.
 *   bit 0  fix the superblock checksum (when the file has the magic), so
 *          that mutations reach the layout checks rather than all
 *          failing the checksum;
 *   bit 1  fix the checksum of every written index record the layout
 *          reaches, so that mutations reach the record checks and the
 *          recovery logic;
 *   bit 2  after recovery, read every kept record back, store a few
 *          pages, read them back, and read the kept records again.
 * tests/fuzz/seed_store_recover.c writes the seeds: small stores made by
 * the store itself.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "store/store_internal.h"

#define OPT_FIX_SB   0x1u
#define OPT_FIX_RECS 0x2u
#define OPT_USE      0x4u
#define MAX_KEPT     64u

static int memfd = -1;
static char path[64];

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_checksums(uint8_t *f, size_t n, unsigned opts)
{
    struct xenshape__store_sb sb;
    xenshape__store st;
    uint64_t i, csum, end;

    if (n < XENSHAPE__STORE_BLOCK ||
        memcmp(f, XENSHAPE__STORE_MAGIC, sizeof(sb.magic)))
        return;
    memcpy(&sb, f, sizeof(sb));
    if ((opts & OPT_FIX_RECS) && sb.index_off < n &&
        sb.nr_records <= XENSHAPE__STORE_MAX_RECORDS) {
        /* Only the checksum seed of the store object matters here. */
        memset(&st, 0, sizeof(st));
        st.csum_seed = XXH3_64bits(sb.uuid, sizeof(sb.uuid));
        end = (n - sb.index_off) / XENSHAPE__STORE_REC_SIZE;
        if (end > sb.nr_records)
            end = sb.nr_records;
        for (i = 0; i < end; i++) {
            struct xenshape__store_drec rd;
            uint8_t *p = f + sb.index_off + i * XENSHAPE__STORE_REC_SIZE;

            memcpy(&rd, p, sizeof(rd));
            if (!rd.seq)
                continue;
            rd.csum = xenshape__store_rec_csum(&st, (uint32_t)i, &rd);
            memcpy(p, &rd, sizeof(rd));
        }
    }
    if (opts & OPT_FIX_SB) {
        uint8_t block[XENSHAPE__STORE_BLOCK];

        memcpy(block, f, sizeof(block));
        memset(block + offsetof(struct xenshape__store_sb, csum), 0,
               sizeof(uint64_t));
        csum = XXH3_64bits_withSeed(block, sizeof(block),
                                    XENSHAPE__STORE_SB_SEED);
        memcpy(f + offsetof(struct xenshape__store_sb, csum), &csum,
               sizeof(csum));
    }
}

struct kept {
    unsigned n;
    xenshape__store_rec rec[MAX_KEPT];
    xenshape__store *st;
};

static bool offered(void *arg, uint32_t domid, uint32_t dom_tag,
                    uint64_t gfn, xenshape__store_rec rec)
{
    struct kept *k = arg;
    uint32_t d;
    uint64_t g;

    /* What recovery offers is what the record says. */
    CHECK(xenshape__store_rec_info(k->st, rec, &d, &g) == 0);
    CHECK(d == domid && g == gfn);
    if ((gfn & 1) || k->n == MAX_KEPT)
        return false;
    k->rec[k->n++] = rec;
    return true;
}

/* Read back what was kept, stored and kept again: nothing may change. */
static void use(xenshape__store *st, struct kept *k)
{
    uint8_t *buf = aligned_alloc(XENSHAPE_PAGE_SIZE,
                                 (MAX_KEPT + 4) * XENSHAPE_PAGE_SIZE);
    uint8_t *mine = buf + MAX_KEPT * XENSHAPE_PAGE_SIZE;
    int rcs[MAX_KEPT];
    xenshape__store_page pg[3];
    xenshape__store_rec recs[3];
    unsigned i, good = MAX_KEPT;
    int rc;

    CHECK(buf);
    for (i = 0; i < k->n; i++) {
        rcs[i] = xenshape__store_get(st, k->rec[i],
                                     buf + i * XENSHAPE_PAGE_SIZE);
        CHECK(rcs[i] == 0 || rcs[i] == XENSHAPE_ECORRUPT ||
              rcs[i] == XENSHAPE_EIO);
        if (!rcs[i] && good == MAX_KEPT)
            good = i;
    }
    /* A zero page, a new page, and a copy of a kept one (dedup). */
    memset(mine, 0, XENSHAPE_PAGE_SIZE);
    for (i = 0; i < XENSHAPE_PAGE_SIZE; i++)
        mine[XENSHAPE_PAGE_SIZE + i] = (uint8_t)(i * 7 + 1);
    if (good < MAX_KEPT)
        memcpy(mine + 2 * XENSHAPE_PAGE_SIZE,
               buf + good * XENSHAPE_PAGE_SIZE, XENSHAPE_PAGE_SIZE);
    else
        memset(mine + 2 * XENSHAPE_PAGE_SIZE, 0x5a, XENSHAPE_PAGE_SIZE);
    for (i = 0; i < 3; i++)
        pg[i] = (xenshape__store_page){ 0xfffffff0u, 1, i,
                                        mine + i * XENSHAPE_PAGE_SIZE };
    rc = xenshape__store_put(st, pg, 3, recs);
    CHECK(rc == 0 || rc == XENSHAPE_ENOSPC || rc == XENSHAPE_EIO);
    if (!rc) {
        uint8_t *back = mine + 3 * XENSHAPE_PAGE_SIZE;

        for (i = 0; i < 3; i++) {
            CHECK(xenshape__store_get(st, recs[i], back) == 0);
            CHECK(!memcmp(back, mine + i * XENSHAPE_PAGE_SIZE,
                          XENSHAPE_PAGE_SIZE));
        }
    }
    /* The new pages took no slot a kept record still names. */
    for (i = 0; i < k->n; i++) {
        uint8_t *back = mine + 3 * XENSHAPE_PAGE_SIZE;

        if (rcs[i])
            continue;
        CHECK(xenshape__store_get(st, k->rec[i], back) == 0);
        CHECK(!memcmp(back, buf + i * XENSHAPE_PAGE_SIZE,
                      XENSHAPE_PAGE_SIZE));
    }
    if (!rc)
        for (i = 0; i < 3; i++)
            xenshape__store_free(st, recs[i]);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The lock wait is the default (10 s), not none: the kernel ends an
     * io_uring asynchronously, and the file, lock and all, may outlive
     * the previous run's close by a moment. */
    xenshape__store_params p = { .path = path, .queue_depth = 2 };
    xenshape__store *st = NULL;
    xenshape_storestats ss;
    struct kept k = { 0 };
    uint8_t *f;
    unsigned opts;
    int rc;

    if (!size)
        return 0;
    opts = data[0];
    size--;
    f = malloc(size ? size : 1);
    CHECK(f);
    memcpy(f, data + 1, size);
    fix_checksums(f, size, opts);
    CHECK(ftruncate(memfd, 0) == 0);
    CHECK(pwrite(memfd, f, size, 0) == (ssize_t)size);
    free(f);

    rc = xenshape__store_open(&st, &p, NULL);
    if (rc) {
        /* A file too small for a slot, one holding something else, a
         * damaged store: said so, nothing more. */
        if (!(rc == XENSHAPE_EINVAL || rc == XENSHAPE_EFORMAT ||
              rc == XENSHAPE_EIO || rc == XENSHAPE_ENOSPC))
            fprintf(stderr, "open: %s\n", xenshape_errname(rc));
        CHECK(rc == XENSHAPE_EINVAL || rc == XENSHAPE_EFORMAT ||
              rc == XENSHAPE_EIO || rc == XENSHAPE_ENOSPC);
        CHECK(!st);
        return 0;
    }
    k.st = st;
    CHECK(xenshape__store_recover(st, offered, &k) == 0);
    CHECK(xenshape__store_stats(st, &ss) == 0);
    CHECK(ss.records_used == k.n);
    CHECK(ss.records_used <= ss.records_total);
    CHECK(ss.slots_used <= ss.slots_total);
    if (opts & OPT_USE)
        use(st, &k);
    xenshape__store_close(st);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    memfd = memfd_create("fuzz-store", MFD_CLOEXEC);
    if (memfd < 0) {
        perror("memfd_create");
        exit(1);
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
