/*
 * bench.h - what the benchmark program's files share: the logger that
 * prints the library's warnings, and the entry of each benchmark.  Each
 * benchmark measures xenshape and a baseline side by side in one run and
 * prints ratios; none asserts a timing.
 */

#ifndef XENSHAPE_BENCH_H
#define XENSHAPE_BENCH_H

#include <stdint.h>

#include <xentoollog.h>

/* Warnings and worse to stderr (bench.c). */
extern xentoollog_logger bench_logger;

/*
 * --shaping (shaping.c): the shaping scenarios on simulated hosts of
 * host_mib MiB each.  scenario: "consolidation", "slo", "soaker" or NULL
 * for all three.  Prints one result line per scenario on stdout and its
 * progress on stderr.  0, or 1 when a scenario could not be set up.
 */
int bench_shaping(const char *dir, uint64_t host_mib, const char *scenario);

#endif /* XENSHAPE_BENCH_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
