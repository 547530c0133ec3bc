/*
 * memverify.c - the memory verifier that runs inside the real-Xen lane's
 * PVH guest, as the guest's /init (built with gcc -static by
 * tools/xen-lane/run.sh; it is not part of the normal build).
 *
 * It fills N MiB with a pattern that is a pure function of (page, word,
 * generation), then loops for ever: each pass reads every page back and
 * compares it with the generation written last, then rewrites the page
 * with the next generation.  Reading finds any frame that the pager
 * brought back wrong (stale, zeroed, another frame's copy); rewriting
 * makes every pass dirty the whole buffer, so a copy kept from an earlier
 * eviction is wrong on the next one.  Each pass is reported on the
 * console as one line the lane's Dom0 script waits for:
 *
 *     memverify pass=K pages=P mismatches=M total=T secs=S
 *
 * M counts the pages of this pass with at least one wrong word, T all
 * passes so far.  A pass that takes less than a second is followed by a
 * pause to the end of that second.  The first few wrong words are printed in full.
 *
 * Configuration comes from the kernel command line, which passes unknown
 * NAME=VALUE words to init as environment: MEMVERIFY_MIB (default 64).
 * As PID 1 it mounts devtmpfs and opens the console itself, and it never
 * exits (that would panic the guest); the lane destroys the domain.
 * Nothing else runs in the guest, so it needs no libc beyond static glibc.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE_BYTES 4096u
#define WORDS_PER_PAGE (PAGE_BYTES / sizeof(uint64_t))
#define MAX_REPORTED 8

/* The expected content of one word: cheap, and different for every page,
 * word and generation, so a page returned to the wrong gfn or from an
 * older eviction never matches by accident. */
static inline uint64_t pattern(uint64_t page, uint64_t word, uint64_t gen)
{
    uint64_t x = (page << 20) ^ (word << 8) ^ gen;

    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    return x ^ (gen * 0x9e3779b97f4a7c15ULL);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* As PID 1 from an initramfs nothing is mounted and stdio may be closed. */
static void setup_pid1(void)
{
    int fd;

    mkdir("/dev", 0755);
    if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) && errno != EBUSY)
        perror("memverify: mount devtmpfs");
    fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", 0, NULL) && errno != EBUSY)
        perror("memverify: mount proc");
}

/* MEMVERIFY_XSPROBE=1: first try what a guest may do to xenshape's
 * xenstore keys (xsprobe.c, /xsprobe in the initramfs). */
static void run_xsprobe(void)
{
    const char *on = getenv("MEMVERIFY_XSPROBE");
    pid_t pid;
    int status;

    if (!on || strcmp(on, "1"))
        return;
    pid = fork();
    if (pid == 0) {
        execl("/xsprobe", "xsprobe", (char *)NULL);
        printf("xsprobe error=exec:%s\n", strerror(errno));
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
}

/* MemTotal and MemAvailable, for the start line: a buffer that does not
 * fit shows up as an OOM panic, and these explain it. */
static void meminfo(unsigned long *total_kb, unsigned long *avail_kb)
{
    char line[128];
    FILE *f = fopen("/proc/meminfo", "re");

    *total_kb = *avail_kb = 0;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        sscanf(line, "MemTotal: %lu", total_kb);
        sscanf(line, "MemAvailable: %lu", avail_kb);
    }
    fclose(f);
}

/* Fill every page with generation gen. */
static void fill(uint64_t *buf, size_t pages, uint64_t gen)
{
    size_t p, w;

    for (p = 0; p < pages; p++) {
        uint64_t *pg = buf + p * WORDS_PER_PAGE;

        for (w = 0; w < WORDS_PER_PAGE; w++)
            pg[w] = pattern(p, w, gen);
    }
}

/* Check every page against generation gen and rewrite it with gen + 1;
 * returns the number of pages with at least one wrong word. */
static size_t verify_and_advance(uint64_t *buf, size_t pages, uint64_t gen,
                                 unsigned *reported)
{
    size_t p, w, bad_pages = 0;

    for (p = 0; p < pages; p++) {
        uint64_t *pg = buf + p * WORDS_PER_PAGE;
        int bad = 0;

        for (w = 0; w < WORDS_PER_PAGE; w++) {
            uint64_t want = pattern(p, w, gen);

            if (pg[w] != want) {
                if (!bad && *reported < MAX_REPORTED) {
                    (*reported)++;
                    printf("memverify mismatch page=%zu word=%zu "
                           "gen=%" PRIu64 " got=%016" PRIx64 " want=%016"
                           PRIx64 "\n", p, w, gen, pg[w], want);
                }
                bad = 1;
            }
            pg[w] = pattern(p, w, gen + 1);
        }
        bad_pages += bad;
    }
    return bad_pages;
}

int main(void)
{
    const char *mib_s = getenv("MEMVERIFY_MIB");
    unsigned long mib = mib_s ? strtoul(mib_s, NULL, 10) : 64;
    unsigned long total_kb, avail_kb;
    unsigned reported = 0;
    size_t pages, bad, total = 0;
    uint64_t gen = 1, pass;
    uint64_t *buf;
    double t0, secs;

    if (getpid() == 1)
        setup_pid1();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mib == 0 || mib > 65536)
        mib = 64;
    pages = (size_t)mib * 1024 * 1024 / PAGE_BYTES;
    run_xsprobe();
    meminfo(&total_kb, &avail_kb);
    printf("memverify start mib=%lu pages=%zu memtotal_kb=%lu "
           "memavailable_kb=%lu\n", mib, pages, total_kb, avail_kb);

    buf = mmap(NULL, pages * PAGE_BYTES, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        printf("memverify error mmap: %s\n", strerror(errno));
        for (;;)
            pause();
    }
    t0 = now_s();
    fill(buf, pages, gen);
    printf("memverify filled pages=%zu secs=%.1f\n", pages, now_s() - t0);

    for (pass = 1;; pass++, gen++) {
        t0 = now_s();
        bad = verify_and_advance(buf, pages, gen, &reported);
        total += bad;
        secs = now_s() - t0;
        printf("memverify pass=%" PRIu64 " pages=%zu mismatches=%zu "
               "total=%zu secs=%.1f\n", pass, pages, bad, total, secs);
        /* At most about one pass a second: a resident buffer verifies in
         * a fraction of that, and the console (and the lane reading it)
         * need not see hundreds of lines a second. */
        if (secs < 1.0) {
            struct timespec ts = { 0, (long)((1.0 - secs) * 1e9) };

            nanosleep(&ts, NULL);
        }
    }
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-file-style: "BSD"
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
