/*
 * metrics.h - xenshaped's metrics file (--metrics-file): the daemon's
 * figures in the Prometheus text exposition format, for node_exporter's
 * textfile collector.  See metrics.c and docs/operations.md.
 */

#ifndef XENSHAPED_METRICS_H
#define XENSHAPED_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <xenshape.h>

#include "shaping.h"

struct metrics;

/*
 * path: the file to keep; it is replaced whole each time (written to
 * path.tmp, then renamed).  Domain names are read from xenstore through
 * the kv backend kv_backend ("xen", or "sim" with the simulated host's
 * socket as kv_arg); without xenstore the label is empty.  lg is
 * borrowed.  0 or a negative XENSHAPE_E*.
 */
int metrics_open(struct metrics **m_r, const char *path,
                 xentoollog_logger *lg, const char *kv_backend,
                 const char *kv_arg);
void metrics_close(struct metrics *m);        /* NULL ok */

/* One file: begin, the host, each domain, commit.  time is the one the
 * status file says, so that a reader can tell the two are of one tick. */
void metrics_begin(struct metrics *m, long long time, uint64_t host_frames,
                   uint64_t host_free, const xenshape_storestats *ss);
/* st NULL: the domain is not paged (balloon fallback); target
 * UINT64_MAX: none; sh NULL: not shaping. */
void metrics_domain(struct metrics *m, const xenshape_dominfo *di,
                    const xenshape_domstats *st, uint64_t target,
                    struct shaper *sh);
void metrics_commit(struct metrics *m);

#endif /* XENSHAPED_METRICS_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
