/*
 * seed_store_recover.c - writes the seed corpus of fuzz_store_recover
 * into the directory named on its command line (make fuzz passes
 * tests/fuzz/store_recover/): small stores made by the store itself, so
 * that the seeds follow the format wherever it goes.  Each seed is one
 * byte of options for the target (see fuzz_store_recover.c), then the
 * file: an empty store, stores holding pages (zero pages, duplicates, a
 * frame stored twice, freed records), a store with its own record count,
 * a blank file and one that is no store at all.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

static char tmp[256];
static const char *outdir;
static unsigned nseeds;

static void die(const char *what)
{
    fprintf(stderr, "seed_store_recover: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Write opts + the file at path as the next seed. */
static void emit(const char *path, unsigned opts)
{
    char out[512];
    uint8_t *buf;
    struct stat sb;
    FILE *f;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || fstat(fd, &sb) < 0)
        die(path);
    buf = malloc((size_t)sb.st_size + 1);
    if (!buf)
        die("malloc");
    buf[0] = (uint8_t)opts;
    if (read(fd, buf + 1, (size_t)sb.st_size) != sb.st_size)
        die(path);
    close(fd);
    snprintf(out, sizeof(out), "%s/gen-%02u.store", outdir, nseeds++);
    f = fopen(out, "w");
    if (!f || fwrite(buf, 1, (size_t)sb.st_size + 1, f) !=
        (size_t)sb.st_size + 1 || fclose(f))
        die(out);
    free(buf);
}

static xenshape__store *make(const char *path, uint64_t size,
                             uint64_t records)
{
    xenshape__store_params p = {
        .path = path, .size_bytes = size, .records = records,
    };
    xenshape__store *st = NULL;

    unlink(path);
    if (xenshape__store_open(&st, &p, NULL)) {
        errno = EINVAL;
        die("store open");
    }
    return st;
}

static void fill(uint8_t *p, unsigned seed)
{
    unsigned i;

    for (i = 0; i < XENSHAPE_PAGE_SIZE; i++)
        p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

int main(int argc, char **argv)
{
    uint8_t *pages;
    xenshape__store *st;
    xenshape__store_page pg[8];
    xenshape__store_rec recs[8], again;
    char path[300];
    unsigned i;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) < 0 && errno != EEXIST)
        die(outdir);
    snprintf(tmp, sizeof(tmp), "%s/seed-store.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
        die("mkdtemp");
    snprintf(path, sizeof(path), "%s/store", tmp);
    pages = aligned_alloc(XENSHAPE_PAGE_SIZE, 8 * XENSHAPE_PAGE_SIZE);
    if (!pages)
        die("aligned_alloc");

    /* The smallest store there is: one slot. */
    st = make(path, 16 << 10, 0);
    xenshape__store_close(st);
    emit(path, 0x7);
    emit(path, 0x0);

    /* Pages: two zero pages, a duplicate, distinct ones. */
    st = make(path, 64 << 10, 0);
    for (i = 0; i < 8; i++) {
        if (i % 4 == 0)
            memset(pages + i * XENSHAPE_PAGE_SIZE, 0, XENSHAPE_PAGE_SIZE);
        else
            fill(pages + i * XENSHAPE_PAGE_SIZE, i == 5 ? 1 : i);
        pg[i] = (xenshape__store_page){ 1 + i / 4, 7, 2 * i,
                                        pages + i * XENSHAPE_PAGE_SIZE };
    }
    if (xenshape__store_put(st, pg, 8, recs))
        die("put");
    xenshape__store_close(st);
    emit(path, 0x7);
    emit(path, 0x3);
    emit(path, 0x4);

    /* A frame stored again after its first copy was freed, and other
     * records freed: what a daemon leaves after some paging. */
    st = make(path, 64 << 10, 0);
    if (xenshape__store_put(st, pg, 8, recs))
        die("put");
    xenshape__store_free(st, recs[1]);
    xenshape__store_free(st, recs[6]);
    fill(pages + XENSHAPE_PAGE_SIZE, 99);
    if (xenshape__store_put(st, &pg[1], 1, &again))
        die("put");
    xenshape__store_close(st);
    emit(path, 0x7);
    emit(path, 0x6);

    /* A layout of its own: a record count given at format time. */
    st = make(path, 48 << 10, 20);
    if (xenshape__store_put(st, pg + 4, 3, recs))
        die("put");
    xenshape__store_close(st);
    emit(path, 0x7);

    /* A blank file, formatted on open; and one holding something else. */
    unlink(path);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 16 << 10) < 0)
        die(path);
    close(fd);
    emit(path, 0x4);
    fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, "not a store", 11, 100) != 11)
        die(path);
    close(fd);
    emit(path, 0x0);

    unlink(path);
    rmdir(tmp);
    free(pages);
    printf("seed_store_recover: %u seeds in %s\n", nseeds, outdir);
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
