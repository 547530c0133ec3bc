/*
 * check_corrupt.c - damage in the page store is always caught, and the
 * guest never runs on wrong data.  A simulated guest is paged out whole;
 * with the pager gone, random bits are flipped in the store file: in data
 * slots that hold frames, in index records that name frames, in unused
 * index records, and in the superblock.  A new pager then recovers the
 * store and pages every frame back in.  Every damaged frame must be
 * caught: a damaged slot at page-in (checksum mismatch: the frame is not
 * loaded), a damaged record at recovery (the frame has no valid copy: it
 * is reported lost and never loaded); a damaged superblock keeps the
 * store from opening at all.  Undamaged frames all come back, and the
 * simulated host's content check finds no wrong frame and no wrong read.
 *
 * The second test damages the newest record of frames that were paged
 * out twice, with new content the second time: recovery must not fall
 * back on the first, older copy, which is intact on disk and checks out
 * against its own record, but is not what the guest had.
 *
 * XENSHAPE_CORRUPT_SEED fixes the random choices (the seed is printed).
 */

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "pager/pager.h"
#include "sim/sim.h"
#include "store/store_internal.h"

#define FRAMES 1024u                /* 4 MiB guest */
#define STORE_BYTES (64ull << 20)
#define DATA_FLIPS 40u              /* data slots damaged */
#define REC_FLIPS 40u               /* records of frames damaged */
#define UNUSED_FLIPS 40u            /* unused index records damaged */
#define SB_FLIPS 32u                /* superblock bits, one at a time */

static char dir[256], store_path[300];
static xenshape__sim_host *host;
static xenshape_ctx *ctx;
static uint64_t rng;

static uint64_t rnd(void)
{
    uint64_t z = (rng += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static void setup(void)
{
    const char *seed = getenv("XENSHAPE_CORRUPT_SEED");

    rng = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL) ^ getpid();
    printf("corruption: seed %llu\n", (unsigned long long)rng);
    tu_mkdtemp(dir, "corrupt");
    snprintf(store_path, sizeof(store_path), "%s/store", dir);
    ck_assert_int_eq(xenshape__sim_host_new(&host, 4 * FRAMES), 0);
    ctx = tu_ctx_sim(host, dir, STORE_BYTES);
}

static void teardown(void)
{
    xenshape_ctx_free(ctx);
    ctx = NULL;
    xenshape__sim_host_free(host);
    host = NULL;
    tu_rmtree(dir);
}

static uint32_t new_dom(void)
{
    xenshape__sim_dom_params p;
    uint32_t domid;

    memset(&p, 0, sizeof(p));
    p.name = "corrupt";
    p.frames = FRAMES;
    p.vcpus = 1;
    p.workload = "idle";     /* content: some zero pages, some duplicates */
    p.seed = rng;
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), 0);
    return domid;
}

struct cond {
    uint32_t domid;
    uint64_t value;
};

static bool ram_at_most(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_stats(ctx, c->domid, &st), 0);
    return st.tot_pages <= c->value;
}

static bool ram_at_least(void *arg)
{
    struct cond *c = arg;
    xenshape_domstats st;

    ck_assert_int_eq(xenshape_domain_stats(ctx, c->domid, &st), 0);
    return st.tot_pages >= c->value;
}

static void page_all_out(uint32_t domid)
{
    struct cond c = { domid, 0 };

    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, 0), 0);
    ck_assert(tu_run_until(ctx, ram_at_most, &c, 60000));
}

/* Where each frame's copy is: its record, and its data slot (offset 0
 * for a zero page, which has none). */
struct where {
    uint64_t rec_off, data_off;
};

static void locate(uint32_t domid, struct where *w)
{
    xenshape__dom *d = xenshape__pager_find(ctx, domid);
    uint64_t g;

    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->nr_gfns, FRAMES);
    for (g = 0; g < FRAMES; g++) {
        int fd, rc;

        ck_assert_uint_ne(d->gfn_rec[g], 0);
        ck_assert_int_eq(xenshape__store_rec_offset(ctx->store, d->gfn_rec[g],
                                                    &w[g].rec_off), 0);
        rc = xenshape__store_raw(ctx->store, d->gfn_rec[g], &fd,
                                 &w[g].data_off);
        if (rc == XENSHAPE_ENOENT)
            w[g].data_off = 0;
        else
            ck_assert_int_eq(rc, 0);
    }
}

/* Flip one bit of the file, through an ordinary descriptor (the store's
 * own is O_DIRECT, and closed by now anyway). */
static void flip_bit(uint64_t byte, unsigned bit)
{
    int fd = open(store_path, O_RDWR);
    uint8_t b;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)byte), 1);
    b ^= (uint8_t)(1u << bit);
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)byte), 1);
    close(fd);
}

/* One to three distinct random bits within [off, off + len): flipping
 * one bit twice would be no damage at all. */
static void damage(uint64_t off, uint64_t len)
{
    uint64_t bits[3];
    unsigned k, j, n = 1 + (unsigned)(rnd() % 3);

    for (k = 0; k < n; k++) {
        do {
            bits[k] = rnd() % (len * 8);
            for (j = 0; j < k && bits[j] != bits[k]; j++)
                ;
        } while (j < k);
        flip_bit(off + bits[k] / 8, (unsigned)(bits[k] % 8));
    }
}

/* Everything not damaged comes back; count what cannot. */
static void page_all_in(uint32_t domid, uint64_t *corrupt_r, uint64_t *lost_r)
{
    void *buf = aligned_alloc(XENSHAPE_PAGE_SIZE, XENSHAPE_PAGE_SIZE);
    xenshape__dom *d = xenshape__pager_find(ctx, domid);
    xenshape_domstats st;
    uint64_t g, done = 0, corrupt = 0;
    int r;

    ck_assert_ptr_nonnull(buf);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, UINT64_MAX), 0);
    /* First the batched path prefetch uses; it stops at a batch with a
     * damaged frame, which is the point: it must not load that one. */
    r = xenshape_domain_prefetch(ctx, domid, 64, &done);
    ck_assert(r == 0 || r == XENSHAPE_ECORRUPT);
    /* Then the ring thread's page-in path, frame by frame. */
    for (g = 0; g < FRAMES; g++) {
        if (!d->gfn_rec[g])
            continue;
        r = xenshape__pager_load_gfn(ctx, domid, g, buf);
        if (r == -EIO) {
            ck_assert_int_eq(d->error, XENSHAPE_ECORRUPT);
            corrupt++;
        } else {
            ck_assert_int_eq(r, 0);
        }
    }
    ck_assert_int_eq(xenshape_domain_stats(ctx, domid, &st), 0);
    *corrupt_r = corrupt;
    *lost_r = st.lost;
    free(buf);
}

/* What the guest has in RAM is right; what it has not is the damage. */
static void assert_guest(uint32_t domid, uint64_t damaged)
{
    xenshape__sim_dom_stats ss;
    xenshape__sim_verify v;

    ck_assert_int_eq(xenshape__sim_dom_verify(host, domid, &v), 0);
    ck_assert_int_eq(xenshape__sim_dom_stats(host, domid, &ss), 0);
    printf("corruption: guest: %llu frames checked, %llu wrong, %llu "
           "still out, %llu wrong reads\n", (unsigned long long)v.checked,
           (unsigned long long)v.wrong, (unsigned long long)v.paged,
           (unsigned long long)ss.wrong_reads);
    ck_assert_uint_eq(v.wrong, 0);
    ck_assert_uint_eq(ss.wrong_reads, 0);
    ck_assert_uint_eq(v.paged, damaged);
    ck_assert_uint_eq(v.checked, FRAMES - damaged);
}

START_TEST(flipped_bits_are_always_caught)
{
    uint32_t domid = new_dom();
    struct where w[FRAMES];
    bool bad_slot[FRAMES], bad_rec[FRAMES];
    uint64_t slot_frames = 0, rec_frames = 0, corrupt, lost;
    uint64_t index_off, index_bytes, index_end = 0, used_lo = UINT64_MAX;
    unsigned slots = 0, recs = 0, unused = 0, sb = 0, sb_caught = 0, i;
    uint64_t g, h;
    int rc;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    page_all_out(domid);
    locate(domid, w);
    index_off = ctx->store->index_off;
    index_bytes = ctx->store->index_bytes;
    for (g = 0; g < FRAMES; g++)
        if (w[g].rec_off < used_lo)
            used_lo = w[g].rec_off;
    /* The pager goes away, leaving the guest paged out. */
    xenshape_ctx_free(ctx);
    ctx = NULL;

    /* Damage data slots; frames sharing a slot (dedup) all count. */
    memset(bad_slot, 0, sizeof(bad_slot));
    memset(bad_rec, 0, sizeof(bad_rec));
    for (i = 0; i < 100 * DATA_FLIPS && slots < DATA_FLIPS; i++) {
        g = rnd() % FRAMES;
        if (!w[g].data_off || bad_slot[g])
            continue;
        damage(w[g].data_off, XENSHAPE_PAGE_SIZE);
        slots++;
        for (h = 0; h < FRAMES; h++)
            if (w[h].data_off == w[g].data_off) {
                bad_slot[h] = true;
                slot_frames++;
            }
    }
    /* Damage records of other frames (zero pages among them). */
    for (i = 0; i < 100 * REC_FLIPS && recs < REC_FLIPS; i++) {
        g = rnd() % FRAMES;
        if (bad_slot[g] || bad_rec[g])
            continue;
        damage(w[g].rec_off, 64);
        bad_rec[g] = true;
        recs++;
        rec_frames++;
    }
    /* Damage records nobody uses: past the last one written. */
    for (g = 0; g < FRAMES; g++)
        if (w[g].rec_off + 64 > index_end)
            index_end = w[g].rec_off + 64;
    ck_assert_uint_le(used_lo, index_end);
    ck_assert_uint_gt(index_off + index_bytes, index_end + 64 * 4096);
    for (unused = 0; unused < UNUSED_FLIPS; unused++)
        damage(index_end + 64 * (rnd() % 4096), 64);

    /* Damage the superblock, one bit at a time: the store must refuse
     * to open, and open again once the bit is back. */
    for (sb = 0; sb < SB_FLIPS; sb++) {
        uint64_t byte = rnd() % index_off;
        unsigned bit = (unsigned)(rnd() % 8);
        xenshape_ctx *c2 = NULL;

        flip_bit(byte, bit);
        ck_assert_int_eq(xenshape_ctx_new(&c2, tu_logger()), 0);
        ck_assert_int_eq(xenshape_ctx_set_backend(c2, "sim"), 0);
        ck_assert_int_eq(xenshape__ctx_set_sim_host(c2, host), 0);
        ck_assert_int_eq(xenshape_ctx_set_store(c2, store_path, 0), 0);
        rc = xenshape_ctx_open(c2);
        xenshape_ctx_free(c2);
        if (rc == XENSHAPE_EFORMAT)
            sb_caught++;
        flip_bit(byte, bit);
    }

    /* A new pager: recovery, then every frame paged in. */
    ctx = tu_ctx_sim(host, dir, 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    page_all_in(domid, &corrupt, &lost);
    printf("corruption: flipped %u data slots (%llu frames), %u records, "
           "%u unused records, %u superblock bits\n", slots,
           (unsigned long long)slot_frames, recs, unused, sb);
    printf("corruption: detected %llu/%llu damaged slot frames at page-in, "
           "%llu/%llu damaged records at recovery, %u/%u superblock flips "
           "at open: %llu/%llu in all\n", (unsigned long long)corrupt,
           (unsigned long long)slot_frames, (unsigned long long)lost,
           (unsigned long long)rec_frames, sb_caught, sb,
           (unsigned long long)(corrupt + lost + sb_caught),
           (unsigned long long)(slot_frames + rec_frames + sb));
    fflush(stdout);
    ck_assert_uint_gt(slots, 0);
    ck_assert_uint_gt(recs, 0);
    ck_assert_uint_eq(corrupt, slot_frames);
    ck_assert_uint_eq(lost, rec_frames);
    ck_assert_uint_eq(sb_caught, sb);
    assert_guest(domid, slot_frames + rec_frames);
    /* Its damaged frames can never come back: the guest goes. */
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, domid), 0);
}
END_TEST

START_TEST(damaged_newest_record_never_revives_an_older_copy)
{
    uint32_t domid = new_dom();
    struct where w[FRAMES];
    struct cond all = { domid, FRAMES };
    bool bad[FRAMES];
    uint64_t g, corrupt, lost, damaged = 0;
    unsigned i;

    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    /* First copies, then everything back and written by the guest, so
     * that the first copies are intact on disk and out of date. */
    page_all_out(domid);
    ck_assert_int_eq(xenshape_domain_set_target(ctx, domid, UINT64_MAX), 0);
    ck_assert(tu_run_until(ctx, ram_at_least, &all, 60000));
    for (g = 0; g < FRAMES; g++)
        ck_assert_int_eq(xenshape__sim_dom_touch(host, domid, 0, g, true), 0);
    /* Second copies, newer. */
    page_all_out(domid);
    locate(domid, w);
    xenshape_ctx_free(ctx);
    ctx = NULL;

    memset(bad, 0, sizeof(bad));
    for (i = 0; i < 100 * REC_FLIPS && damaged < REC_FLIPS; i++) {
        g = rnd() % FRAMES;
        if (bad[g])
            continue;
        damage(w[g].rec_off, 64);
        bad[g] = true;
        damaged++;
    }

    ctx = tu_ctx_sim(host, dir, 0);
    ck_assert_int_eq(xenshape_domain_attach(ctx, domid), 0);
    page_all_in(domid, &corrupt, &lost);
    printf("corruption: newest records of %llu twice-paged frames "
           "damaged: %llu lost at recovery, %llu caught at page-in\n",
           (unsigned long long)damaged, (unsigned long long)lost,
           (unsigned long long)corrupt);
    fflush(stdout);
    ck_assert_uint_eq(lost + corrupt, damaged);
    assert_guest(domid, damaged);
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, domid), 0);
}
END_TEST

static Suite *corrupt_suite(void)
{
    Suite *s = suite_create("corrupt");
    TCase *tc = tcase_create("corrupt");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, flipped_bits_are_always_caught);
    tcase_add_test(tc, damaged_newest_record_never_revives_an_older_copy);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(corrupt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
