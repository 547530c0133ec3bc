/*
 * check_store.c - tests of the page store (libxenshape/store): round
 * trips, zero pages and dedup, checksum verification, recovery (newest
 * record wins, damaged records dropped, hostile files rejected), a full
 * store, every fault site, a daemon killed at random moments, and a
 * reader and a writer at once.
 *
 * Each test runs in its own process (check's fork mode), so armed faults
 * never leak from one test into the next.  Stores live in one scratch
 * directory under $TMPDIR (or /tmp), removed at the end.
 * XENSHAPE_TEST_VERBOSE=1 shows the store's log.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xentoollog.h>
#include <xxhash.h>

#include "private.h"
#include "store/store.h"
#include "store/store_internal.h"

#define PAGE XENSHAPE_PAGE_SIZE
#define MiB (UINT64_C(1) << 20)

static char tmpdir[256];
static xentoollog_logger *lg;

/* ---- helpers -------------------------------------------------------- */

static void store_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static int try_open(xenshape__store **st, const char *path, uint64_t size,
                    uint64_t records)
{
    xenshape__store_params p = {
        .path = path, .size_bytes = size, .records = records,
    };

    return xenshape__store_open(st, &p, lg);
}

static xenshape__store *open_store(const char *path, uint64_t size,
                                   uint64_t records)
{
    xenshape__store *st = NULL;
    int rc = try_open(&st, path, size, records);

    ck_assert_msg(rc == 0, "open %s: %s", path, xenshape_errname(rc));
    ck_assert_ptr_nonnull(st);
    return st;
}

static void *pages_alloc(unsigned n)
{
    void *p = aligned_alloc(PAGE, (size_t)n * PAGE);

    ck_assert_ptr_nonnull(p);
    return p;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* A page that is a function of seed, never all zero.  buf may be
 * unaligned. */
static void fill_page(void *buf, uint64_t seed)
{
    uint64_t w[PAGE / 8], x = seed * 7919 + 1;
    unsigned i;

    for (i = 0; i < PAGE / 8; i++)
        w[i] = splitmix(&x);
    w[0] = seed | (UINT64_C(1) << 63);
    memcpy(buf, w, PAGE);
}

static xenshape_storestats stats(xenshape__store *st)
{
    xenshape_storestats s;

    ck_assert_int_eq(xenshape__store_stats(st, &s), 0);
    return s;
}

static void put_ok(xenshape__store *st, const xenshape__store_page *pages,
                   unsigned n, xenshape__store_rec *recs)
{
    int rc = xenshape__store_put(st, pages, n, recs);

    ck_assert_msg(rc == 0, "put of %u: %s", n, xenshape_errname(rc));
}

static void check_get(xenshape__store *st, xenshape__store_rec rec,
                      const void *want)
{
    void *buf = pages_alloc(1);
    int rc = xenshape__store_get(st, rec, buf);

    ck_assert_msg(rc == 0, "get %u: %s", rec, xenshape_errname(rc));
    ck_assert_msg(!memcmp(buf, want, PAGE), "get %u: wrong data", rec);
    free(buf);
}

/* Flip one byte of a file through an ordinary descriptor, as a disk
 * error or a stray writer would. */
static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    ck_assert_int_eq(fsync(fd), 0);
    close(fd);
}

static uint64_t file_hash(const char *path)
{
    struct stat sb;
    void *buf;
    uint64_t h;
    int fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &sb), 0);
    buf = malloc((size_t)sb.st_size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(pread(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
    h = XXH3_64bits(buf, (size_t)sb.st_size);
    free(buf);
    close(fd);
    return h;
}

static void write_file(const char *path, const void *buf, size_t n)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
    close(fd);
}

/* What recover() reported. */
struct seen {
    uint32_t domid, dom_tag;
    uint64_t gfn;
    xenshape__store_rec rec;
};

struct seen_list {
    struct seen *v;
    unsigned n, cap;
    uint32_t free_domid;        /* records of this domain are not kept */
};

static bool collect(void *arg, uint32_t domid, uint32_t dom_tag,
                    uint64_t gfn, xenshape__store_rec rec)
{
    struct seen_list *l = arg;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        ck_assert_ptr_nonnull(l->v);
    }
    l->v[l->n++] = (struct seen){ domid, dom_tag, gfn, rec };
    return domid != l->free_domid;
}

static const struct seen *find_seen(const struct seen_list *l,
                                    uint32_t domid, uint64_t gfn)
{
    const struct seen *found = NULL;
    unsigned i;

    for (i = 0; i < l->n; i++) {
        if (l->v[i].domid == domid && l->v[i].gfn == gfn) {
            ck_assert_msg(!found, "d%u gfn %llu reported twice", domid,
                          (unsigned long long)gfn);
            found = &l->v[i];
        }
    }
    return found;
}

/* ---- round trip ----------------------------------------------------- */

START_TEST(t_roundtrip)
{
    static const unsigned sizes[] = { 1, 7, 64, 256, 100, 3, 200 };
    enum { N = 1000 };
    char path[512];
    xenshape__store *st;
    xenshape__store_page *pages = calloc(N, sizeof(*pages));
    xenshape__store_rec *recs = calloc(N, sizeof(*recs));
    uint8_t *data = pages_alloc(N), *buf = pages_alloc(100);
    void *bufs[100];
    int rcs[100];
    xenshape_storestats s;
    unsigned i, done = 0, k = 0;
    uint32_t domid;
    uint64_t gfn;

    store_path(path, sizeof(path), "roundtrip");
    st = open_store(path, 32 * MiB, 0);
    s = stats(st);
    ck_assert_uint_gt(s.slots_total, 7000);
    ck_assert_uint_eq(s.records_total, 2 * s.slots_total);
    for (i = 0; i < N; i++) {
        fill_page(data + (size_t)i * PAGE, i + 1);
        pages[i] = (xenshape__store_page){
            .domid = 3 + i % 2, .dom_tag = 77, .gfn = 0x1000 + i,
            .data = data + (size_t)i * PAGE,
        };
    }
    while (done < N) {
        unsigned n = sizes[k++ % 7];

        n = n > N - done ? N - done : n;
        put_ok(st, pages + done, n, recs + done);
        done += n;
    }
    s = stats(st);
    ck_assert_uint_eq(s.writes, N);
    ck_assert_uint_eq(s.slots_used, N);
    ck_assert_uint_eq(s.records_used, N);
    ck_assert_uint_eq(s.zero_pages + s.dedup_pages, 0);
    for (i = 0; i < N; i++) {
        check_get(st, recs[i], data + (size_t)i * PAGE);
        ck_assert_int_eq(xenshape__store_rec_info(st, recs[i], &domid,
                                                  &gfn), 0);
        ck_assert_uint_eq(domid, 3 + i % 2);
        ck_assert_uint_eq(gfn, 0x1000 + i);
    }
    ck_assert_uint_eq(stats(st).reads, N);

    /* A batch read, backwards so it is not trivially sequential. */
    xenshape__store_rec brecs[100];
    for (i = 0; i < 100; i++) {
        brecs[i] = recs[N - 1 - i * 7];
        bufs[i] = buf + (size_t)i * PAGE;
    }
    ck_assert_int_eq(xenshape__store_get_batch(st, brecs, 100, bufs, rcs),
                     0);
    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(rcs[i], 0);
        ck_assert(!memcmp(bufs[i], data + (size_t)(N - 1 - i * 7) * PAGE,
                          PAGE));
    }

    /* Unaligned buffers are copied, not refused. */
    uint8_t *odd = malloc(2 * PAGE + 1);
    xenshape__store_rec orec;
    xenshape__store_page op = { .domid = 9, .gfn = 1, .data = odd + 1 };
    fill_page(odd + 1, 4242);
    put_ok(st, &op, 1, &orec);
    memset(buf, 0, PAGE);
    ck_assert_int_eq(xenshape__store_get(st, orec, buf + 1), 0);
    ck_assert(!memcmp(buf + 1, odd + 1, PAGE));
    free(odd);

    /* Bad handles. */
    ck_assert_int_eq(xenshape__store_get(st, 0, buf), XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__store_get(st, UINT32_MAX, buf),
                     XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__store_put(st, pages, 0, recs), 0);

    for (i = 0; i < N; i++)
        xenshape__store_free(st, recs[i]);
    xenshape__store_free(st, recs[0]);          /* twice: harmless */
    ck_assert_int_eq(xenshape__store_get(st, recs[0], buf),
                     XENSHAPE_EINVAL);
    s = stats(st);
    ck_assert_uint_eq(s.slots_used, 1);
    ck_assert_uint_eq(s.records_used, 1);
    xenshape__store_close(st);
    free(pages);
    free(recs);
    free(data);
    free(buf);
}
END_TEST

/* A tiny ring and fragmented free space: rounds of many waves. */
START_TEST(t_small_ring)
{
    char path[512];
    xenshape__store *st = NULL;
    /* 400 data slots exactly. */
    xenshape__store_params p = { .queue_depth = 2, .size_bytes = 1699840 };
    uint8_t *d = pages_alloc(400), *buf = pages_alloc(200);
    xenshape__store_page pg[400];
    xenshape__store_rec recs[400];
    void *bufs[200];
    int rcs[200];
    unsigned i;

    for (i = 0; i < 400; i++) {
        fill_page(d + i * PAGE, 5000 + i);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE };
    }
    store_path(path, sizeof(path), "smallring");
    p.path = path;
    ck_assert_int_eq(xenshape__store_open(&st, &p, lg), 0);
    ck_assert_uint_eq(stats(st).slots_total, 400);
    put_ok(st, pg, 200, recs);
    for (i = 0; i < 200; i += 2)
        xenshape__store_free(st, recs[i]);
    /* Fill the rest, so that the cursor wraps and the next batch lands
     * in the holes, one slot per write: 100 writes and 100 comparison
     * reads (the odd pages are still stored) in waves of two. */
    put_ok(st, pg + 200, 200, recs + 200);
    for (i = 0; i < 200; i += 2)
        xenshape__store_free(st, recs[200 + i]);
    ck_assert_uint_eq(stats(st).slots_used, 200);
    ck_assert_int_eq(xenshape__store_put(st, pg, 200, recs), 0);
    ck_assert_uint_eq(stats(st).slots_used, 300);
    for (i = 0; i < 200; i++) {
        bufs[i] = buf + i * PAGE;
        check_get(st, recs[i], d + i * PAGE);
    }
    /* 100 of those were duplicates of stored slots: 100 reads. */
    ck_assert_uint_eq(stats(st).dedup_pages, 100);
    ck_assert_int_eq(xenshape__store_get_batch(st, recs, 200, bufs, rcs), 0);
    for (i = 0; i < 200; i++) {
        ck_assert_int_eq(rcs[i], 0);
        ck_assert(!memcmp(bufs[i], d + i * PAGE, PAGE));
    }
    xenshape__store_close(st);
    free(d);
    free(buf);
}
END_TEST

/* ---- zero pages and dedup ------------------------------------------- */

START_TEST(t_zero_dedup)
{
    char path[512];
    xenshape__store *st;
    uint8_t *z = pages_alloc(1), *a = pages_alloc(1), *b = pages_alloc(1);
    uint8_t *c = pages_alloc(1);
    xenshape__store_rec r1[5], r2[1], r3[2];
    xenshape_storestats s;
    uint64_t off1, off2;
    int fd;
    struct seen_list l = { 0 };

    memset(z, 0, PAGE);
    fill_page(a, 1);
    fill_page(b, 2);
    memcpy(c, a, PAGE);
    c[PAGE - 1] ^= 1;
    store_path(path, sizeof(path), "dedup");
    st = open_store(path, 8 * MiB, 0);

    xenshape__store_page b1[5] = {
        { 1, 1, 10, z }, { 1, 1, 11, a }, { 1, 1, 12, a }, { 1, 1, 13, z },
        { 1, 1, 14, b },
    };
    put_ok(st, b1, 5, r1);
    s = stats(st);
    ck_assert_uint_eq(s.zero_pages, 2);
    ck_assert_uint_eq(s.dedup_pages, 1);
    ck_assert_uint_eq(s.slots_used, 2);
    ck_assert_uint_eq(s.records_used, 5);
    ck_assert_uint_eq(s.writes, 2);

    /* The same bytes again, in a later batch: read and compared, and
     * no data written. */
    xenshape__store_page b2[1] = { { 2, 5, 10, a } };
    put_ok(st, b2, 1, r2);
    s = stats(st);
    ck_assert_uint_eq(s.dedup_pages, 2);
    ck_assert_uint_eq(s.slots_used, 2);
    ck_assert_uint_eq(s.writes, 2);
    ck_assert_uint_eq(s.reads, 1);

    check_get(st, r1[0], z);
    check_get(st, r1[1], a);
    check_get(st, r1[2], a);
    check_get(st, r1[3], z);
    check_get(st, r1[4], b);
    check_get(st, r2[0], a);
    ck_assert_int_eq(xenshape__store_raw(st, r1[0], &fd, &off1),
                     XENSHAPE_ENOENT);
    ck_assert_int_eq(xenshape__store_raw(st, r1[1], &fd, &off1), 0);
    ck_assert_int_eq(xenshape__store_raw(st, r2[0], &fd, &off2), 0);
    ck_assert_uint_eq(off1, off2);

    /* The slot lives while any record holds it. */
    xenshape__store_free(st, r1[1]);
    xenshape__store_free(st, r1[2]);
    ck_assert_uint_eq(stats(st).slots_used, 2);
    check_get(st, r2[0], a);
    xenshape__store_free(st, r2[0]);
    ck_assert_uint_eq(stats(st).slots_used, 1);

    /* One byte of difference is a different page. */
    xenshape__store_page b3[2] = { { 1, 1, 20, a }, { 1, 1, 21, c } };
    put_ok(st, b3, 2, r3);
    s = stats(st);
    ck_assert_uint_eq(s.slots_used, 3);
    ck_assert_uint_eq(s.dedup_pages, 2);
    check_get(st, r3[1], c);
    xenshape__store_close(st);

    /* Dedup against slots rebuilt by recovery.  The records of a freed
     * above went, zeroed, with the next put's index write: only the
     * live ones are offered. */
    st = open_store(path, 0, 0);
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    ck_assert_uint_eq(l.n, 5);
    ck_assert_ptr_null(find_seen(&l, 1, 11));
    ck_assert_ptr_null(find_seen(&l, 1, 12));
    ck_assert_ptr_null(find_seen(&l, 2, 10));
    s = stats(st);
    ck_assert_uint_eq(s.slots_used, 3);
    ck_assert_uint_eq(s.records_used, 5);
    xenshape__store_page b4[1] = { { 1, 1, 30, b } };
    put_ok(st, b4, 1, r2);
    s = stats(st);
    ck_assert_uint_eq(s.slots_used, 3);
    ck_assert_uint_eq(s.dedup_pages, 1);
    ck_assert_uint_eq(s.writes, 0);
    check_get(st, r2[0], b);
    xenshape__store_close(st);
    free(l.v);
    free(z);
    free(a);
    free(b);
    free(c);
}
END_TEST

/* ---- checksums ------------------------------------------------------ */

START_TEST(t_checksum)
{
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(3), *buf = pages_alloc(3);
    xenshape__store_page pg[3];
    xenshape__store_rec recs[3];
    void *bufs[3] = { buf, buf + PAGE, buf + 2 * PAGE };
    int rcs[3], fd;
    uint64_t off;
    unsigned i;

    store_path(path, sizeof(path), "csum");
    st = open_store(path, 8 * MiB, 0);
    for (i = 0; i < 3; i++) {
        fill_page(d + i * PAGE, 100 + i);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE };
    }
    put_ok(st, pg, 3, recs);
    ck_assert_int_eq(xenshape__store_raw(st, recs[1], &fd, &off), 0);
    ck_assert_int_ge(fd, 0);
    flip_byte(path, off + 100);

    ck_assert_int_eq(xenshape__store_get(st, recs[1], buf),
                     XENSHAPE_ECORRUPT);
    ck_assert(memcmp(buf, d + PAGE, PAGE));
    ck_assert_uint_eq(stats(st).checksum_failures, 1);
    check_get(st, recs[0], d);
    ck_assert_int_eq(xenshape__store_get_batch(st, recs, 3, bufs, rcs), 0);
    ck_assert_int_eq(rcs[0], 0);
    ck_assert_int_eq(rcs[1], XENSHAPE_ECORRUPT);
    ck_assert_int_eq(rcs[2], 0);
    ck_assert(!memcmp(bufs[2], d + 2 * PAGE, PAGE));
    ck_assert_uint_eq(stats(st).checksum_failures, 2);
    ck_assert(!stats(st).failed);

    /* A page that dedups against the damaged slot must not share it. */
    xenshape__store_rec r2;
    put_ok(st, &pg[1], 1, &r2);
    check_get(st, r2, d + PAGE);
    xenshape__store_close(st);
    free(d);
    free(buf);
}
END_TEST

/* ---- recovery ------------------------------------------------------- */

START_TEST(t_recover)
{
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(160), *z = pages_alloc(1), *n5 = pages_alloc(1);
    xenshape__store_page pg[151];
    xenshape__store_rec recs[151], r5;
    struct seen_list l = { .free_domid = 2 };
    const struct seen *e;
    xenshape_storestats s;
    unsigned i;

    memset(z, 0, PAGE);
    for (i = 0; i < 100; i++) {
        fill_page(d + i * PAGE, i);
        pg[i] = (xenshape__store_page){ 1, 100, i, d + i * PAGE };
    }
    pg[100] = (xenshape__store_page){ 1, 100, 100, z };
    for (i = 0; i < 50; i++) {
        fill_page(d + (100 + i) * PAGE, 1000 + i);
        pg[101 + i] = (xenshape__store_page){ 2, 200, i,
                                              d + (100 + i) * PAGE };
    }
    store_path(path, sizeof(path), "recover");
    st = open_store(path, 16 * MiB, 0);
    put_ok(st, pg, 64, recs);
    put_ok(st, pg + 64, 87, recs + 64);
    for (i = 10; i < 20; i++)
        xenshape__store_free(st, recs[i]);       /* zeroed by the next put */
    xenshape__store_free(st, recs[5]);
    fill_page(n5, 5000);
    xenshape__store_page p5 = { 1, 100, 5, n5 };
    put_ok(st, &p5, 1, &r5);
    xenshape__store_close(st);

    st = open_store(path, 0, 0);
    s = stats(st);
    ck_assert_uint_eq(s.records_used, 141);     /* all held until recover */
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    ck_assert_uint_eq(l.n, 141);
    for (i = 0; i <= 100; i++) {
        e = find_seen(&l, 1, i);
        if (i >= 10 && i < 20) {
            ck_assert_ptr_null(e);
            continue;
        }
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(e->dom_tag, 100);
        check_get(st, e->rec, i == 5 ? n5 : i == 100 ? z : d + i * PAGE);
    }
    for (i = 0; i < 50; i++) {
        e = find_seen(&l, 2, i);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(e->dom_tag, 200);
    }
    /* Domain 2's records were not kept. */
    s = stats(st);
    ck_assert_uint_eq(s.records_used, 91);
    ck_assert_uint_eq(s.slots_used, 90);
    e = find_seen(&l, 2, 0);
    ck_assert_int_eq(xenshape__store_get(st, e->rec, z), XENSHAPE_EINVAL);
    /* A second recover has nothing left to say. */
    l.n = 0;
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    ck_assert_uint_eq(l.n, 0);

    /* Writing after recovery continues the sequence: a new record for
     * gfn 7 wins over the recovered one at the next open. */
    fill_page(n5, 7777);
    xenshape__store_page p7 = { 1, 101, 7, n5 };
    put_ok(st, &p7, 1, &r5);
    xenshape__store_close(st);
    l.n = 0;
    l.free_domid = 0;
    st = open_store(path, 0, 0);
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    e = find_seen(&l, 1, 7);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->dom_tag, 101);
    check_get(st, e->rec, n5);
    xenshape__store_close(st);
    free(l.v);
    free(d);
    free(z);
    free(n5);
}
END_TEST

/* The newest record wins by sequence number, not by position: with one
 * index block the allocator wraps, and the newer record of gfn 1 lands
 * before the older one, which the store was never asked to free.  Open
 * zeroes the loser on disk. */
START_TEST(t_supersede_wrap)
{
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(64), *c1 = pages_alloc(1), *c2 = pages_alloc(1);
    xenshape__store_page pg[63];
    xenshape__store_rec recs[63], x1, x2;
    struct seen_list l = { 0 };
    const struct seen *e;
    uint64_t off1;
    uint8_t rec[64];
    unsigned i;
    int fd;

    for (i = 0; i < 63; i++) {
        fill_page(d + i * PAGE, 300 + i);
        pg[i] = (xenshape__store_page){ 1, 1, 1000 + i, d + i * PAGE };
    }
    fill_page(c1, 1);
    fill_page(c2, 2);
    store_path(path, sizeof(path), "wrap");
    st = open_store(path, 4 * MiB, 64);
    ck_assert_uint_eq(stats(st).records_total, 64);
    put_ok(st, pg, 63, recs);
    xenshape__store_page px = { 1, 1, 1, c1 };
    put_ok(st, &px, 1, &x1);
    ck_assert_int_eq(xenshape__store_put(st, &px, 1, &x2),
                     XENSHAPE_ENOSPC);
    for (i = 0; i < 63; i++)
        xenshape__store_free(st, recs[i]);
    px.data = c2;
    put_ok(st, &px, 1, &x2);
    ck_assert_uint_lt(x2, x1);
    ck_assert_int_eq(xenshape__store_rec_offset(st, x1, &off1), 0);
    xenshape__store_close(st);

    st = open_store(path, 0, 0);
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    e = find_seen(&l, 1, 1);
    ck_assert_ptr_nonnull(e);
    check_get(st, e->rec, c2);
    /* The freed records went with the put's index write, zeroed. */
    ck_assert_uint_eq(l.n, 1);
    ck_assert_ptr_null(find_seen(&l, 1, 1062));
    xenshape__store_close(st);
    /* The loser is gone from the disk too: it can never come back. */
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, rec, sizeof(rec), (off_t)off1),
                     (ssize_t)sizeof(rec));
    close(fd);
    for (i = 0; i < sizeof(rec); i++)
        ck_assert_uint_eq(rec[i], 0);
    free(l.v);
    free(d);
    free(c1);
    free(c2);
}
END_TEST

/* Puts made between open and recover never overwrite what recover is
 * about to report. */
START_TEST(t_put_before_recover)
{
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(20);
    xenshape__store_page pg[20];
    xenshape__store_rec recs[20];
    struct seen_list l = { 0 };
    const struct seen *e;
    unsigned i;

    for (i = 0; i < 20; i++) {
        fill_page(d + i * PAGE, 600 + i);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE };
    }
    store_path(path, sizeof(path), "early");
    st = open_store(path, 4 * MiB, 64);
    put_ok(st, pg, 10, recs);
    xenshape__store_close(st);
    st = open_store(path, 0, 0);
    put_ok(st, pg + 10, 10, recs + 10);
    ck_assert_uint_eq(stats(st).records_used, 20);
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    ck_assert_uint_eq(l.n, 10);
    for (i = 0; i < 10; i++) {
        e = find_seen(&l, 1, i);
        ck_assert_ptr_nonnull(e);
        check_get(st, e->rec, d + i * PAGE);
    }
    for (i = 10; i < 20; i++)
        check_get(st, recs[i], d + i * PAGE);
    xenshape__store_close(st);
    free(l.v);
    free(d);
}
END_TEST

/* The override table is the only way to the kernel, and a put costs two
 * submissions (data + fdatasync, index + fdatasync), a get one pread. */
static unsigned n_submit, n_pread;

static int count_submit(struct io_uring *ring, unsigned wait_nr)
{
    n_submit++;
    return io_uring_submit_and_wait(ring, wait_nr);
}

static ssize_t count_pread(int fd, void *buf, size_t n, off_t off)
{
    n_pread++;
    return pread(fd, buf, n, off);
}

static int fail_fdatasync(int fd)
{
    errno = EIO;
    return -1;
}

START_TEST(t_syscall_table)
{
    char path[512];
    xenshape__store *st = NULL;
    uint8_t *d = pages_alloc(200);
    xenshape__store_page pg[200];
    xenshape__store_rec recs[200];
    unsigned i;

    for (i = 0; i < 200; i++) {
        fill_page(d + i * PAGE, 800 + i);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE };
    }
    store_path(path, sizeof(path), "table");
    xenshape__store_sys.fdatasync = fail_fdatasync;
    ck_assert_int_eq(try_open(&st, path, 8 * MiB, 0), XENSHAPE_EIO);
    xenshape__store_sys_reset();
    st = open_store(path, 8 * MiB, 0);
    xenshape__store_sys.uring_submit = count_submit;
    xenshape__store_sys.pread = count_pread;
    put_ok(st, pg, 200, recs);
    ck_assert_uint_eq(n_submit, 2);
    check_get(st, recs[17], d + 17 * PAGE);
    ck_assert_uint_eq(n_pread, 1);
    xenshape__store_sys_reset();
    xenshape__store_close(st);
    free(d);
}
END_TEST

/* A damaged index record is dropped; the newest valid one remains. */
START_TEST(t_corrupt_record)
{
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(4);
    xenshape__store_page pg[3];
    xenshape__store_rec recs[3], y2;
    struct seen_list l = { 0 };
    const struct seen *e;
    uint64_t off_y2, off_z;
    unsigned i;

    for (i = 0; i < 4; i++)
        fill_page(d + i * PAGE, 50 + i);
    for (i = 0; i < 3; i++)
        pg[i] = (xenshape__store_page){ 4, 4, 7 + i, d + i * PAGE };
    store_path(path, sizeof(path), "badrec");
    st = open_store(path, 8 * MiB, 0);
    put_ok(st, pg, 3, recs);                    /* Y1 (gfn 7), Z, W */
    xenshape__store_free(st, recs[0]);
    xenshape__store_page py = { 4, 4, 7, d + 3 * PAGE };
    put_ok(st, &py, 1, &y2);                    /* Y2 supersedes Y1 */
    ck_assert_int_eq(xenshape__store_rec_offset(st, y2, &off_y2), 0);
    ck_assert_int_eq(xenshape__store_rec_offset(st, recs[1], &off_z), 0);
    xenshape__store_close(st);

    flip_byte(path, off_y2 + 8);                /* Y2's gfn */
    flip_byte(path, off_z + 63);                /* Z's checksum */
    st = open_store(path, 0, 0);
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    ck_assert_uint_eq(l.n, 1);
    /* Not Y1, the older one: it is out of date, and was zeroed on disk
     * when Y2 was stored.  Gfn 7 has no valid copy, and says so. */
    ck_assert_ptr_null(find_seen(&l, 4, 7));
    ck_assert_ptr_null(find_seen(&l, 4, 8));
    e = find_seen(&l, 4, 9);
    ck_assert_ptr_nonnull(e);
    check_get(st, e->rec, d + 2 * PAGE);
    ck_assert_uint_eq(stats(st).records_used, 1);
    xenshape__store_close(st);
    free(l.v);
    free(d);
}
END_TEST

/* ---- formatting and hostile files ----------------------------------- */

START_TEST(t_format)
{
    char path[512];
    xenshape__store *st = NULL, *st2 = NULL;
    uint8_t *junk = malloc(4 * MiB);
    struct stat sb;
    uint64_t h, x = 1;
    size_t i;
    int rc, fd;

    for (i = 0; i < 4 * MiB / 8; i++)
        ((uint64_t *)junk)[i] = splitmix(&x);

    /* Something else: refused, untouched. */
    store_path(path, sizeof(path), "junk");
    write_file(path, junk, 4 * MiB);
    h = file_hash(path);
    ck_assert_int_eq(try_open(&st, path, 8 * MiB, 0), XENSHAPE_EFORMAT);
    ck_assert_ptr_null(st);
    ck_assert_uint_eq(file_hash(path), h);

    /* Shorter than a superblock: formatted with the size asked for. */
    store_path(path, sizeof(path), "short");
    write_file(path, junk, 100);
    st = open_store(path, 8 * MiB, 0);
    xenshape__store_close(st);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 8 * MiB);

    /* All zero: formatted with its own size. */
    store_path(path, sizeof(path), "zero");
    memset(junk, 0, 4 * MiB);
    write_file(path, junk, 4 * MiB);
    st = open_store(path, 0, 0);
    ck_assert_uint_gt(stats(st).slots_total, 900);
    /* Locked against a second user. */
    {
        xenshape__store_params p2 = { .path = path, .lock_wait_ms = -1 };
        uint64_t t0 = xenshape__now_ns();

        ck_assert_int_eq(xenshape__store_open(&st2, &p2, lg),
                         XENSHAPE_EBUSY);
        p2.lock_wait_ms = 100;
        ck_assert_int_eq(xenshape__store_open(&st2, &p2, lg),
                         XENSHAPE_EBUSY);
        ck_assert_uint_ge(xenshape__now_ns() - t0, 100 * 1000 * 1000);
        ck_assert_ptr_null(st2);
    }
    xenshape__store_close(st);

    /* New file: mode 0600, and it needs a size. */
    store_path(path, sizeof(path), "new");
    ck_assert_int_eq(try_open(&st, path, 0, 0), XENSHAPE_EINVAL);
    unlink(path);
    ck_assert_int_eq(try_open(&st, path, 8192, 0), XENSHAPE_EINVAL);
    unlink(path);
    st = open_store(path, 2 * MiB, 0);
    xenshape__store_close(st);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    /* Reopening with another size keeps the store as it is. */
    st = open_store(path, 64 * MiB, 0);
    xenshape__store_close(st);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 2 * MiB);

    /* A damaged superblock is never reformatted. */
    flip_byte(path, 40);
    h = file_hash(path);
    ck_assert_int_eq(try_open(&st, path, 2 * MiB, 0), XENSHAPE_EFORMAT);
    ck_assert_uint_eq(file_hash(path), h);

    /* A store cut short. */
    store_path(path, sizeof(path), "cut");
    st = open_store(path, 4 * MiB, 0);
    xenshape__store_close(st);
    ck_assert_int_eq(truncate(path, 2 * MiB), 0);
    ck_assert_int_eq(try_open(&st, path, 0, 0), XENSHAPE_EFORMAT);

    /* A forged superblock with a right checksum and an impossible
     * layout. */
    store_path(path, sizeof(path), "forged");
    st = open_store(path, 4 * MiB, 0);
    xenshape__store_close(st);
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    {
        uint8_t blk[XENSHAPE__STORE_BLOCK];
        struct xenshape__store_sb fsb;

        ck_assert_int_eq(pread(fd, blk, sizeof(blk), 0), sizeof(blk));
        memcpy(&fsb, blk, sizeof(fsb));
        fsb.nr_slots = UINT32_MAX - 3;
        fsb.csum = 0;
        memcpy(blk, &fsb, sizeof(fsb));
        fsb.csum = XXH3_64bits_withSeed(blk, sizeof(blk),
                                        XENSHAPE__STORE_SB_SEED);
        memcpy(blk, &fsb, sizeof(fsb));
        ck_assert_int_eq(pwrite(fd, blk, sizeof(blk), 0), sizeof(blk));
    }
    close(fd);
    rc = try_open(&st, path, 0, 0);
    ck_assert_int_eq(rc, XENSHAPE_EFORMAT);
    free(junk);
}
END_TEST

/* Random damage to the superblock and index of a small store: open
 * either refuses (EFORMAT) or recovers records that read back right or
 * fail their checksum.  Never a crash, never wrong data. */
START_TEST(t_fuzz_index)
{
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(64), *buf = pages_alloc(1);
    xenshape__store_page pg[64];
    xenshape__store_rec recs[64];
    struct seen_list l = { 0 };
    uint8_t *orig = malloc(64 * 1024);
    uint64_t x = 99;
    unsigned i, iter, refused = 0, opened = 0;
    int fd, rc;

    for (i = 0; i < 64; i++) {
        if (i % 9 == 0)
            memset(d + i * PAGE, 0, PAGE);
        else
            fill_page(d + i * PAGE, 7000 + i % 50);
        pg[i] = (xenshape__store_page){ 1 + i % 3, 5, i, d + i * PAGE };
    }
    store_path(path, sizeof(path), "fuzz");
    st = open_store(path, 2 * MiB, 0);
    put_ok(st, pg, 40, recs);
    put_ok(st, pg + 40, 24, recs + 40);
    xenshape__store_close(st);
    fd = open(path, O_RDONLY);
    ck_assert_int_eq(pread(fd, orig, 64 * 1024, 0), 64 * 1024);
    close(fd);

    for (iter = 0; iter < 300; iter++) {
        unsigned nflip = 1 + splitmix(&x) % 8, f;

        fd = open(path, O_RDWR);
        ck_assert_int_eq(pwrite(fd, orig, 64 * 1024, 0), 64 * 1024);
        for (f = 0; f < nflip; f++) {
            /* Mostly the index, sometimes the superblock. */
            uint64_t r = splitmix(&x);
            uint64_t off = r % 8 ? 4096 + (r >> 8) % 8192 : (r >> 8) % 4096;
            uint8_t b = (uint8_t)(r >> 40);

            ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
        }
        close(fd);
        st = NULL;
        rc = try_open(&st, path, 0, 0);
        if (rc) {
            ck_assert_int_eq(rc, XENSHAPE_EFORMAT);
            refused++;
            continue;
        }
        opened++;
        l.n = 0;
        ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
        ck_assert_uint_le(l.n, 64);
        for (i = 0; i < l.n; i++) {
            uint64_t g = l.v[i].gfn;

            rc = xenshape__store_get(st, l.v[i].rec, buf);
            ck_assert(rc == 0 || rc == XENSHAPE_ECORRUPT);
            if (rc == 0 && g < 64)
                ck_assert(!memcmp(buf, d + g * PAGE, PAGE));
        }
        xenshape__store_close(st);
    }
    ck_assert_uint_gt(refused, 0);
    ck_assert_uint_gt(opened, 0);
    free(l.v);
    free(orig);
    free(d);
    free(buf);
}
END_TEST

/* ---- a full store --------------------------------------------------- */

START_TEST(t_enospc)
{
    enum { NZ = 600 };
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(300), *z = pages_alloc(1);
    xenshape__store_page pg[300], zp[NZ];
    xenshape__store_rec recs[300], zrec[NZ], keep[50];
    xenshape_storestats s;
    unsigned i, j, slots;

    memset(z, 0, PAGE);
    for (i = 0; i < 300; i++) {
        fill_page(d + i * PAGE, 20000 + i);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE };
    }
    for (i = 0; i < NZ; i++)
        zp[i] = (xenshape__store_page){ 2, 1, i, z };
    store_path(path, sizeof(path), "full");
    st = open_store(path, MiB, 0);
    s = stats(st);
    slots = (unsigned)s.slots_total;
    ck_assert_uint_gt(slots, 200);
    ck_assert_uint_lt(slots, 260);
    /* A batch bigger than the whole index can never fit. */
    ck_assert_uint_lt(s.records_total, NZ);
    ck_assert_int_eq(xenshape__store_put(st, zp, NZ, zrec),
                     XENSHAPE_ENOSPC);
    ck_assert_uint_eq(stats(st).records_used, 0);

    for (i = 0; i + 50 <= slots; i += 50)
        put_ok(st, pg + i, 50, recs + i);
    for (j = 0; j < 50; j++)
        keep[j] = 0xdead;
    ck_assert_int_eq(xenshape__store_put(st, pg + i, 50, keep),
                     XENSHAPE_ENOSPC);
    ck_assert_uint_eq(keep[0], 0xdead);         /* untouched on failure */
    s = stats(st);
    ck_assert_uint_eq(s.slots_used, i);
    ck_assert_uint_eq(s.records_used, i);
    ck_assert(!s.failed);
    ck_assert_uint_eq(s.io_errors, 0);
    put_ok(st, pg + i, slots - i, recs + i);
    ck_assert_int_eq(xenshape__store_put(st, pg + slots, 1, keep),
                     XENSHAPE_ENOSPC);
    /* Zero pages need records only, and run out of those too. */
    s = stats(st);
    put_ok(st, zp, (unsigned)(s.records_total - s.records_used), zrec);
    ck_assert_int_eq(xenshape__store_put(st, zp, 1, keep),
                     XENSHAPE_ENOSPC);
    ck_assert(!stats(st).failed);
    for (i = 0; i < 10; i++) {
        xenshape__store_free(st, recs[i]);
        xenshape__store_free(st, zrec[i]);
    }
    put_ok(st, pg, 10, recs);
    for (i = 0; i < slots; i++)
        check_get(st, recs[i], d + i * PAGE);
    xenshape__store_close(st);
    free(d);
    free(z);
}
END_TEST

/* ---- fault injection: writes ---------------------------------------- */

static const struct put_fault {
    const char *site;
    unsigned long nth;          /* the nth call of the site in the put */
    int err;
    int want;
} put_faults[] = {
    /* A put of 16 fresh pages: one data writev and one fsync, then one
     * index write and one fsync, in two submissions. */
    { "store.write", 1, EIO, XENSHAPE_EIO },
    { "store.write", 1, ENOSPC, XENSHAPE_ENOSPC },
    { "store.write", 1, XENSHAPE_FAULT_SHORT, XENSHAPE_EIO },
    { "store.write", 2, EIO, XENSHAPE_EIO },
    { "store.write", 2, XENSHAPE_FAULT_SHORT, XENSHAPE_EIO },
    { "store.fsync", 1, EIO, XENSHAPE_EIO },
    { "store.fsync", 1, ENOSPC, XENSHAPE_ENOSPC },
    { "store.fsync", 2, EIO, XENSHAPE_EIO },
    { "store.fsync", 2, XENSHAPE_FAULT_SHORT, XENSHAPE_EIO },
    { "store.uring_submit", 1, EIO, XENSHAPE_EIO },
    { "store.uring_submit", 2, EIO, XENSHAPE_EIO },
    { "store.uring_submit", 1, XENSHAPE_FAULT_SHORT, XENSHAPE_EIO },
    { "store.uring_submit", 2, ENOSPC, XENSHAPE_ENOSPC },
};

START_TEST(t_fault_put)
{
    const struct put_fault *f = &put_faults[_i];
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(48);
    xenshape__store_page pg[48];
    xenshape__store_rec recs[48], keep[16];
    struct seen_list l = { 0 };
    xenshape_storestats s;
    const struct seen *e;
    unsigned i;
    int rc;

    for (i = 0; i < 48; i++) {
        fill_page(d + i * PAGE, 900 + i);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE };
    }
    snprintf(path, sizeof(path), "%s/fault-%d", tmpdir, _i);
    st = open_store(path, 8 * MiB, 0);
    put_ok(st, pg, 16, recs);

    ck_assert_int_eq(xenshape_fault_set(f->site, f->nth, f->err, false), 0);
    for (i = 0; i < 16; i++)
        keep[i] = 0xdead;
    rc = xenshape__store_put(st, pg + 16, 16, keep);
    ck_assert_msg(rc == f->want, "%s nth %lu err %d: put gave %s",
                  f->site, f->nth, f->err, xenshape_errname(rc));
    ck_assert_uint_eq(xenshape_fault_hits(f->site), 1);
    ck_assert_uint_eq(keep[0], 0xdead);
    s = stats(st);
    ck_assert(s.failed);
    ck_assert_uint_ge(s.io_errors, 1);
    ck_assert_uint_eq(s.records_used, 16);
    ck_assert_uint_eq(s.slots_used, 16);
    /* Latched: no more puts, but reads go on. */
    ck_assert_int_eq(xenshape__store_put(st, pg + 32, 16, keep),
                     XENSHAPE_EIO);
    for (i = 0; i < 16; i++)
        check_get(st, recs[i], d + i * PAGE);
    xenshape__store_close(st);

    /* Nothing stored before is lost; the failed batch, if any of it is on
     * disk, only ever reads back as itself. */
    xenshape_fault_clear_all();
    st = open_store(path, 0, 0);
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    for (i = 0; i < 16; i++) {
        e = find_seen(&l, 1, i);
        ck_assert_ptr_nonnull(e);
        check_get(st, e->rec, d + i * PAGE);
    }
    for (i = 16; i < 48; i++) {
        void *buf = pages_alloc(1);

        e = find_seen(&l, 1, i);
        ck_assert(!e || i < 32);
        if (e) {
            rc = xenshape__store_get(st, e->rec, buf);
            ck_assert(rc == XENSHAPE_ECORRUPT ||
                      (rc == 0 && !memcmp(buf, d + i * PAGE, PAGE)));
        }
        free(buf);
    }
    /* And the reopened store takes puts again. */
    put_ok(st, pg + 32, 16, recs + 32);
    check_get(st, recs[40], d + 40 * PAGE);
    xenshape__store_close(st);
    free(l.v);
    free(d);
}
END_TEST

/* ---- fault injection: reads ----------------------------------------- */

START_TEST(t_fault_read)
{
    static const int errs[] = { EIO, XENSHAPE_FAULT_SHORT };
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(4), *buf = pages_alloc(4);
    xenshape__store_page pg[4];
    xenshape__store_rec recs[4], r2;
    void *bufs[4];
    int rcs[4];
    xenshape_storestats s;
    unsigned i, e;

    for (i = 0; i < 4; i++) {
        fill_page(d + i * PAGE, 3000 + i);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE };
        bufs[i] = buf + i * PAGE;
    }
    store_path(path, sizeof(path), "readfault");
    st = open_store(path, 8 * MiB, 0);
    put_ok(st, pg, 4, recs);
    for (e = 0; e < 2; e++) {
        ck_assert_int_eq(xenshape_fault_set("store.read", 1, errs[e],
                                            false), 0);
        ck_assert_int_eq(xenshape__store_get(st, recs[0], buf),
                         XENSHAPE_EIO);
        check_get(st, recs[0], d);
        ck_assert_int_eq(xenshape_fault_set("store.read", 2, errs[e],
                                            false), 0);
        ck_assert_int_eq(xenshape__store_get_batch(st, recs, 4, bufs, rcs),
                         0);
        for (i = 0; i < 4; i++) {
            ck_assert_int_eq(rcs[i], i == 1 ? XENSHAPE_EIO : 0);
            if (i != 1)
                ck_assert(!memcmp(bufs[i], d + i * PAGE, PAGE));
        }
    }
    s = stats(st);
    ck_assert_uint_eq(s.io_errors, 4);
    ck_assert_uint_eq(s.checksum_failures, 0);
    ck_assert(!s.failed);

    /* A failed comparison read only costs the dedup: the page is written
     * instead, and the put succeeds. */
    ck_assert_int_eq(xenshape_fault_set("store.read", 1, EIO, false), 0);
    xenshape__store_page p = { 1, 1, 99, d };
    put_ok(st, &p, 1, &r2);
    s = stats(st);
    ck_assert_uint_eq(s.slots_used, 5);
    ck_assert_uint_eq(s.dedup_pages, 0);
    check_get(st, r2, d);
    /* A read fault on a submission of the batch read. */
    ck_assert_int_eq(xenshape_fault_set("store.uring_submit", 1, EIO,
                                        false), 0);
    ck_assert_int_eq(xenshape__store_get_batch(st, recs, 4, bufs, rcs), 0);
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(rcs[i], XENSHAPE_EIO);
    ck_assert_int_eq(xenshape__store_get_batch(st, recs, 4, bufs, rcs), 0);
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(rcs[i], 0);
    ck_assert(!stats(st).failed);
    xenshape__store_close(st);
    free(d);
    free(buf);
}
END_TEST

/* ---- fault injection: open ------------------------------------------ */

static const struct open_fault {
    const char *site;
    unsigned long nth;
    int err;
    bool existing;              /* on a formatted store, else a new file */
} open_faults[] = {
    { "store.open", 1, EIO, false },
    { "store.open", 1, ENOSPC, false },
    { "store.open", 2, EIO, false },            /* the lock */
    { "store.fstat", 1, EIO, false },
    { "store.fallocate", 1, ENOSPC, false },
    { "store.fallocate", 1, EIO, false },
    { "store.fallocate", 2, ENOSPC, false },
    { "store.write", 1, EIO, false },           /* zeroing the index */
    { "store.write", 2, XENSHAPE_FAULT_SHORT, false }, /* superblock */
    { "store.fsync", 1, EIO, false },
    { "store.fsync", 2, EIO, false },
    { "store.fsync", 3, EIO, false },           /* the directory */
    { "store.uring_init", 1, ENOMEM, false },
    { "store.uring_init", 2, EIO, false },
    { "store.read", 1, EIO, true },             /* superblock */
    { "store.read", 2, XENSHAPE_FAULT_SHORT, true }, /* index */
    { "store.open", 1, EIO, true },
};

START_TEST(t_fault_open)
{
    const struct open_fault *f = &open_faults[_i];
    char path[512];
    xenshape__store *st = NULL;
    uint8_t *d = pages_alloc(1);
    xenshape__store_page p = { 1, 1, 5, d };
    xenshape__store_rec rec;
    struct seen_list l = { 0 };
    int rc;

    fill_page(d, 1234);
    snprintf(path, sizeof(path), "%s/openfault-%d", tmpdir, _i);
    if (f->existing) {
        st = open_store(path, 4 * MiB, 0);
        put_ok(st, &p, 1, &rec);
        xenshape__store_close(st);
        st = NULL;
    }
    ck_assert_int_eq(xenshape_fault_set(f->site, f->nth, f->err, false), 0);
    rc = try_open(&st, path, 4 * MiB, 0);
    ck_assert_msg(rc < 0, "%s nth %lu: open succeeded", f->site, f->nth);
    ck_assert_uint_eq(xenshape_fault_hits(f->site), 1);
    ck_assert_ptr_null(st);
    ck_assert(rc == XENSHAPE_EIO || rc == XENSHAPE_ENOSPC ||
              rc == XENSHAPE_ENOMEM);

    /* Without the fault the same file opens: a half-formatted file is
     * still blank, an existing store is intact. */
    st = open_store(path, 4 * MiB, 0);
    ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
    if (f->existing) {
        ck_assert_uint_eq(l.n, 1);
        check_get(st, l.v[0].rec, d);
    } else {
        ck_assert_uint_eq(l.n, 0);
        put_ok(st, &p, 1, &rec);
        check_get(st, rec, d);
    }
    xenshape__store_close(st);
    free(l.v);
    free(d);
}
END_TEST

/* Every allocation of open and put may fail: ENOMEM, nothing else. */
START_TEST(t_fault_alloc)
{
    char path[512];
    xenshape__store *st;
    uint8_t *d = pages_alloc(9);
    xenshape__store_page pg[8];
    xenshape__store_rec recs[8];
    unsigned k, i, ok = 0;
    int rc;

    for (i = 0; i < 8; i++) {
        fill_page(d + i * PAGE + 1, 40 + i % 4);
        pg[i] = (xenshape__store_page){ 1, 1, i, d + i * PAGE + 1 };
    }
    for (k = 1; k < 40; k++) {
        snprintf(path, sizeof(path), "%s/alloc-%u", tmpdir, k);
        st = NULL;
        ck_assert_int_eq(xenshape_fault_set("alloc", k, ENOMEM, false), 0);
        rc = try_open(&st, path, 2 * MiB, 0);
        if (rc) {
            ck_assert_int_eq(rc, XENSHAPE_ENOMEM);
            ck_assert_ptr_null(st);
            continue;
        }
        xenshape_fault_clear_all();
        xenshape__store_close(st);
    }
    xenshape_fault_clear_all();
    store_path(path, sizeof(path), "alloc-put");
    st = open_store(path, 2 * MiB, 0);
    put_ok(st, pg, 4, recs);
    for (k = 1; k < 12; k++) {
        ck_assert_int_eq(xenshape_fault_set("alloc", k, ENOMEM, false), 0);
        rc = xenshape__store_put(st, pg + 4, 4, recs + 4);
        ck_assert(rc == 0 || rc == XENSHAPE_ENOMEM);
        if (!rc) {
            ok++;
            for (i = 4; i < 8; i++)
                xenshape__store_free(st, recs[i]);
        }
        xenshape_fault_clear_all();
        ck_assert_uint_eq(stats(st).records_used, 4);
    }
    ck_assert_uint_gt(ok, 0);
    ck_assert(!stats(st).failed);
    for (i = 0; i < 4; i++)
        check_get(st, recs[i], d + i * PAGE + 1);
    xenshape__store_close(st);
    free(d);
}
END_TEST

/* ---- kill -9 at random moments -------------------------------------- */

#define CR_GFNS   400
#define CR_BATCH  24
#define CR_ROUNDS 6

/* Page content of (gfn, gen): every 8th generation a zero page, every
 * 5th one of a few shared contents (dedup), else unique. */
static void cr_page(void *buf, uint32_t gfn, uint32_t gen)
{
    if (gen % 8 == 0)
        memset(buf, 0, PAGE);
    else if (gen % 5 == 0)
        fill_page(buf, 1 + gen % 3);
    else
        fill_page(buf, (uint64_t)gfn << 32 | gen);
}

struct cr_msg {
    uint32_t op;                /* 'P' stored, 'F' about to free; not a
                                 * char: no padding goes down the pipe
                                 * uninitialised (memcheck) */
    uint32_t gfn, gen;
};

/* Parent's knowledge, inherited by each child at fork. */
struct cr_model {
    bool paged[CR_GFNS];        /* put returned, no free announced */
    uint32_t gen[CR_GFNS];      /* generation of the paged copy */
    uint32_t gen_hi[CR_GFNS];   /* highest generation possibly written */
};

static struct cr_model model;

static bool cr_keep(void *arg, uint32_t domid, uint32_t dom_tag,
                    uint64_t gfn, xenshape__store_rec rec)
{
    xenshape__store_rec *held = arg;

    if (gfn >= CR_GFNS || !model.paged[gfn])
        return false;
    held[gfn] = rec;
    return true;
}

static void cr_child(const char *path, int wfd, uint64_t seed)
{
    static xenshape__store_rec held[CR_GFNS];
    xenshape__store *st = NULL;
    xenshape__store_page pg[CR_BATCH];
    xenshape__store_rec recs[CR_BATCH];
    struct cr_msg msg[CR_BATCH];
    uint32_t gen[CR_GFNS];
    uint8_t *d = aligned_alloc(PAGE, CR_BATCH * PAGE);
    unsigned i, n, tries;
    uint64_t x = seed;

    if (!d || try_open(&st, path, 3 * MiB, 0))
        _exit(2);
    if (xenshape__store_recover(st, cr_keep, held))
        _exit(3);
    for (i = 0; i < CR_GFNS; i++) {
        if (model.paged[i] && !held[i])
            _exit(4);
        gen[i] = model.gen_hi[i] + 1;
    }
    for (;;) {
        /* Evict a batch of frames that are in RAM. */
        for (n = 0, tries = 0; n < CR_BATCH && tries < 3 * CR_BATCH;
             tries++) {
            uint32_t g = (uint32_t)(splitmix(&x) % CR_GFNS);
            bool dup = false;

            for (i = 0; i < n; i++)
                dup |= pg[i].gfn == g;
            if (held[g] || dup)
                continue;
            cr_page(d + n * PAGE, g, gen[g]);
            pg[n] = (xenshape__store_page){ 1, 9, g, d + n * PAGE };
            n++;
        }
        if (n) {
            if (xenshape__store_put(st, pg, n, recs))
                _exit(5);
            for (i = 0; i < n; i++) {
                held[pg[i].gfn] = recs[i];
                msg[i] = (struct cr_msg){ 'P', (uint32_t)pg[i].gfn,
                                          gen[pg[i].gfn]++ };
            }
            if (write(wfd, msg, n * sizeof(*msg)) !=
                (ssize_t)(n * sizeof(*msg)))
                _exit(6);
        }
        /* Page some back in. */
        for (i = 0; i < CR_BATCH / 2; i++) {
            uint32_t g = (uint32_t)(splitmix(&x) % CR_GFNS);
            struct cr_msg m = { 'F', g, 0 };

            if (!held[g])
                continue;
            if (write(wfd, &m, sizeof(m)) != sizeof(m))
                _exit(6);
            xenshape__store_free(st, held[g]);
            held[g] = 0;
        }
    }
}

START_TEST(t_crash)
{
    char path[512];
    uint8_t *buf = pages_alloc(1), *want = pages_alloc(1);
    struct seen_list l = { 0 };
    struct cr_msg m;
    unsigned round, i, g, checked = 0;
    uint64_t x = (uint64_t)time(NULL);
    int pfd[2], status, rc;
    pid_t pid;

    memset(&model, 0, sizeof(model));
    store_path(path, sizeof(path), "crash");
    for (round = 0; round < CR_ROUNDS; round++) {
        ck_assert_int_eq(pipe(pfd), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (!pid) {
            close(pfd[0]);
            cr_child(path, pfd[1], x + round);
        }
        close(pfd[1]);
        usleep(20000 + (useconds_t)(splitmix(&x) % 250000));
        kill(pid, SIGKILL);
        while (read(pfd[0], &m, sizeof(m)) == sizeof(m)) {
            ck_assert_uint_lt(m.gfn, CR_GFNS);
            if (m.op == 'P') {
                model.paged[m.gfn] = true;
                model.gen[m.gfn] = m.gen;
                if (m.gen > model.gen_hi[m.gfn])
                    model.gen_hi[m.gfn] = m.gen;
            } else {
                model.paged[m.gfn] = false;
            }
        }
        close(pfd[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "child exited with %d",
                      WEXITSTATUS(status));
        /* A put may have completed unreported: its generation may be on
         * disk, one above what we know. */
        for (g = 0; g < CR_GFNS; g++)
            model.gen_hi[g]++;

        xenshape__store *st = open_store(path, 0, 0);
        l.n = 0;
        ck_assert_int_eq(xenshape__store_recover(st, collect, &l), 0);
        for (g = 0; g < CR_GFNS; g++) {
            const struct seen *e = find_seen(&l, 1, g);

            if (!model.paged[g])
                continue;
            ck_assert_msg(e, "round %u: gfn %u lost", round, g);
            cr_page(want, g, model.gen[g]);
            check_get(st, e->rec, want);
            checked++;
        }
        for (i = 0; i < l.n; i++) {
            uint32_t gen;
            bool match = false;

            g = (uint32_t)l.v[i].gfn;
            ck_assert_uint_lt(g, CR_GFNS);
            rc = xenshape__store_get(st, l.v[i].rec, buf);
            ck_assert(rc == 0 || rc == XENSHAPE_ECORRUPT);
            ck_assert(rc == 0 || !model.paged[g]);
            for (gen = 1; rc == 0 && !match && gen <= model.gen_hi[g];
                 gen++) {
                cr_page(want, g, gen);
                match = !memcmp(buf, want, PAGE);
            }
            ck_assert_msg(rc != 0 || match, "gfn %u: foreign data", g);
        }
        xenshape__store_close(st);
    }
    if (getenv("XENSHAPE_TEST_VERBOSE"))
        fprintf(stderr, "crash: %u frames checked over %u rounds\n",
                checked, CR_ROUNDS);
    ck_assert_uint_gt(checked, 0);
    free(l.v);
    free(buf);
    free(want);
}
END_TEST

/* ---- a reader and a writer at once ---------------------------------- */

#define CC_Q 4096
#define CC_LIVE 1024    /* pages in flight, well below the slots */

struct cc {
    xenshape__store *st;
    pthread_mutex_t m;
    pthread_cond_t c;
    xenshape__store_rec q[CC_Q];
    uint32_t qgfn[CC_Q];
    unsigned head, tail;
    bool done;
    unsigned errors, verified;
};

static void *cc_writer(void *arg)
{
    struct cc *c = arg;
    uint8_t *d = aligned_alloc(PAGE, 32 * PAGE);
    xenshape__store_page pg[32];
    xenshape__store_rec recs[32];
    unsigned b, i;
    uint32_t gfn = 0;

    for (b = 0; b < 150; b++) {
        for (i = 0; i < 32; i++, gfn++) {
            cr_page(d + i * PAGE, gfn, 1 + gfn % 11);
            pg[i] = (xenshape__store_page){ 1, 1, gfn, d + i * PAGE };
        }
        pthread_mutex_lock(&c->m);
        while (c->tail - c->head > CC_LIVE - 32)
            pthread_cond_wait(&c->c, &c->m);
        pthread_mutex_unlock(&c->m);
        if (xenshape__store_put(c->st, pg, 32, recs)) {
            c->errors++;
            break;
        }
        pthread_mutex_lock(&c->m);
        for (i = 0; i < 32; i++) {
            c->q[c->tail % CC_Q] = recs[i];
            c->qgfn[c->tail % CC_Q] = (uint32_t)pg[i].gfn;
            c->tail++;
        }
        pthread_cond_broadcast(&c->c);
        pthread_mutex_unlock(&c->m);
    }
    pthread_mutex_lock(&c->m);
    c->done = true;
    pthread_cond_broadcast(&c->c);
    pthread_mutex_unlock(&c->m);
    free(d);
    return NULL;
}

static void *cc_reader(void *arg)
{
    struct cc *c = arg;
    uint8_t *buf = aligned_alloc(PAGE, PAGE), *want = malloc(PAGE);
    xenshape__store_rec rec;
    uint32_t gfn;

    for (;;) {
        pthread_mutex_lock(&c->m);
        while (c->head == c->tail && !c->done)
            pthread_cond_wait(&c->c, &c->m);
        if (c->head == c->tail) {
            pthread_mutex_unlock(&c->m);
            break;
        }
        rec = c->q[c->head % CC_Q];
        gfn = c->qgfn[c->head % CC_Q];
        c->head++;
        pthread_cond_broadcast(&c->c);
        pthread_mutex_unlock(&c->m);

        cr_page(want, gfn, 1 + gfn % 11);
        if (xenshape__store_get(c->st, rec, buf) ||
            memcmp(buf, want, PAGE))
            c->errors++;
        else
            c->verified++;
        xenshape__store_free(c->st, rec);
    }
    free(buf);
    free(want);
    return NULL;
}

START_TEST(t_concurrent)
{
    char path[512];
    static struct cc c;
    pthread_t w, r;
    xenshape_storestats s;

    store_path(path, sizeof(path), "concurrent");
    memset(&c, 0, sizeof(c));
    c.st = open_store(path, 8 * MiB, 0);
    pthread_mutex_init(&c.m, NULL);
    pthread_cond_init(&c.c, NULL);
    ck_assert_int_eq(pthread_create(&w, NULL, cc_writer, &c), 0);
    ck_assert_int_eq(pthread_create(&r, NULL, cc_reader, &c), 0);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    ck_assert_uint_eq(c.errors, 0);
    ck_assert_uint_eq(c.verified, 150 * 32);
    s = stats(c.st);
    ck_assert_uint_eq(s.records_used, 0);
    ck_assert_uint_eq(s.slots_used, 0);
    ck_assert_uint_gt(s.zero_pages, 0);
    ck_assert_uint_gt(s.dedup_pages, 0);
    xenshape__store_close(c.st);
}
END_TEST

/* ---- runner --------------------------------------------------------- */

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, t_roundtrip);
    tcase_add_test(tc, t_small_ring);
    tcase_add_test(tc, t_zero_dedup);
    tcase_add_test(tc, t_checksum);
    tcase_add_test(tc, t_recover);
    tcase_add_test(tc, t_supersede_wrap);
    tcase_add_test(tc, t_put_before_recover);
    tcase_add_test(tc, t_corrupt_record);
    tcase_add_test(tc, t_syscall_table);
    tcase_add_test(tc, t_format);
    tcase_add_test(tc, t_fuzz_index);
    tcase_add_test(tc, t_enospc);
    tcase_add_loop_test(tc, t_fault_put, 0,
                        (int)XENSHAPE__ARRAY_SIZE(put_faults));
    tcase_add_test(tc, t_fault_read);
    tcase_add_loop_test(tc, t_fault_open, 0,
                        (int)XENSHAPE__ARRAY_SIZE(open_faults));
    tcase_add_test(tc, t_fault_alloc);
    tcase_add_test(tc, t_crash);
    tcase_add_test(tc, t_concurrent);
    suite_add_tcase(s, tc);
    return s;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    SRunner *sr;
    int failed;

    snprintf(tmpdir, sizeof(tmpdir), "%s/check_store.XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    if (getenv("XENSHAPE_TEST_VERBOSE"))
        lg = (xentoollog_logger *)
            xtl_createlogger_stdiostream(stderr, XTL_DEBUG, 0);
    sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (lg)
        xtl_logger_destroy(lg);
    return failed ? 1 : 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
