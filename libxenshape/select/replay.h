/*
 * replay.h - evaluating page selection offline on reference traces: the
 * trace reader, Belady's optimum, and the replay driver that runs a policy
 * through the same interface the paging engine uses (select.h), with Dom0
 * seeing either every reference or only what Xen would show it
 * (observe.h).  Used by tools/xenshape-replay, tools/xenshape-benchpolicy
 * and tests/check_select.c.
 *
 * A trace is text, one reference per line, "R <hex page>" or
 * "W <hex page>" (docs/page-selection.md).  Page numbers are opaque keys;
 * the reader maps them to dense frame numbers 0 .. nr_pages-1 in order of
 * first appearance, which is how the replay presents them to a policy as
 * the gfns of one domain.
 */

#ifndef XENSHAPE_REPLAY_H
#define XENSHAPE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "select/observe.h"

typedef struct xenshape__trace {
    uint32_t *refs;                  /* dense frame numbers, in order */
    uint64_t *writes;                /* bit i: reference i is a write;
                                        NULL when every line is R */
    uint64_t nr_refs;
    uint32_t nr_pages;               /* distinct pages */
} xenshape__trace;

typedef struct xenshape__trace_error {
    uint64_t line;                   /* 1-based; 0: not about one line */
    char what[112];                  /* what is wrong, one phrase */
} xenshape__trace_error;

/*
 * Read a whole trace from fd (uncompressed text) until end of file.
 * 0; XENSHAPE_EFORMAT for a malformed line (err says which and why);
 * XENSHAPE_EIO if reading fails; XENSHAPE_EINVAL for more than
 * XENSHAPE__POLICY_MAX_FRAMES distinct pages; XENSHAPE_ENOMEM.  err may
 * be NULL.  The caller frees *t_r with xenshape__trace_free().
 */
int xenshape__trace_read_fd(int fd, xenshape__trace **t_r,
                            xenshape__trace_error *err);
/* The same from memory (tests). */
int xenshape__trace_parse(const char *text, uint64_t len,
                          xenshape__trace **t_r,
                          xenshape__trace_error *err);
/*
 * Read a trace file, plain or gzip'd (recognised by its magic number; a
 * gzip process decompresses it into a pipe).  As xenshape__trace_read_fd,
 * plus XENSHAPE_ENOENT: no such file; XENSHAPE_EIO: it cannot be read or
 * gzip cannot run; XENSHAPE_EFORMAT: gzip rejects it.  err->what says
 * what went wrong in every case but XENSHAPE_ENOMEM.
 */
int xenshape__trace_load(const char *path, xenshape__trace **t_r,
                         xenshape__trace_error *err);
void xenshape__trace_free(xenshape__trace *t);          /* NULL ok */

/*
 * Belady's optimum for demand paging with the given number of frames:
 * the fewest faults any policy can take, faulting on every reference to
 * a non-resident page (the first included) and evicting the page whose
 * next use lies furthest ahead.  O(n log n).  0 or XENSHAPE_ENOMEM,
 * XENSHAPE_EINVAL for frames == 0.
 */
int xenshape__opt_faults(const xenshape__trace *t, uint64_t frames,
                         uint64_t *faults_r);

/* The next-use index of every reference (nr_refs: never again), shared
 * by several OPT runs over one trace.  Free with free(). */
int xenshape__opt_next_use(const xenshape__trace *t, uint32_t **next_r);
int xenshape__opt_faults_next(const xenshape__trace *t, const uint32_t *next,
                              uint64_t frames, uint64_t *faults_r);

enum xenshape__observe_mode {
    XENSHAPE__OBSERVE_ALL = 0,       /* every reference reaches the policy */
    XENSHAPE__OBSERVE_XEN = 1,       /* faults + n2rwx samples + dirty bits */
};

typedef struct xenshape__replay_params {
    const char *policy;              /* NULL: "default" */
    uint64_t frames;                 /* RAM budget, exact, >= 1 */
    enum xenshape__observe_mode observe;
    uint64_t seed;
    xenshape__observe_params obs;    /* budget for XENSHAPE__OBSERVE_XEN */
} xenshape__replay_params;

/* Fills prm with the defaults (policy "default", observe all, the
 * backend's default observation budget); the caller sets frames. */
void xenshape__replay_params_default(xenshape__replay_params *prm);

typedef struct xenshape__replay_stats {
    uint64_t refs;
    uint64_t faults;                 /* references to non-resident pages */
    uint64_t evictions;
    uint64_t accesses;               /* access() calls the policy got */
    uint64_t armed;                  /* gfns armed (observe xen) */
    uint64_t epochs;                 /* epochs (observe xen) */
    unsigned meta_bytes_per_frame;
} xenshape__replay_stats;

/*
 * Replay t through the policy with prm->frames frames, starting with no
 * page resident.  XENSHAPE_ENOENT: no such policy; XENSHAPE_EINVAL: bad
 * parameters; XENSHAPE_EPROTO: the policy broke its contract (chose a
 * frame that is not resident); XENSHAPE_ENOMEM.
 */
int xenshape__replay_run(const xenshape__trace *t,
                         const xenshape__replay_params *prm,
                         xenshape__replay_stats *st_r);

#endif /* XENSHAPE_REPLAY_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
