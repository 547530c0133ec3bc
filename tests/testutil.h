/*
 * testutil.h - helpers shared by the check tests: a xentoollog logger that
 * keeps quiet unless asked (XENSHAPE_TEST_VERBOSE=1), scratch directories
 * that clean up after themselves, and a paging fixture on an in-process
 * simulated host.
 */

#ifndef XENSHAPE_TESTUTIL_H
#define XENSHAPE_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <xentoollog.h>

#include "xenshape.h"

struct xenshape__sim_host;

/* A logger that prints WARN and above to stderr when verbose, and counts
 * ERROR messages always. */
xentoollog_logger *tu_logger(void);
unsigned tu_errors_logged(void);
/* Messages at WARN and above that named errno err (>= 0). */
unsigned tu_errno_reported(int err);

/* mkdtemp under $TMPDIR or /tmp; the path is static storage of the
 * caller's choosing (buf of 256 bytes).  tu_rmtree removes it. */
void tu_mkdtemp(char *buf, const char *tag);
void tu_rmtree(const char *path);

/* A context on an in-process simulated host, with a store and a state
 * directory in dir.  Asserts on failure. */
xenshape_ctx *tu_ctx_sim(struct xenshape__sim_host *h, const char *dir,
                         uint64_t store_bytes);

/* Run the pager until pred(arg) holds or timeout_ms passes.  Returns
 * whether pred held. */
bool tu_run_until(xenshape_ctx *ctx, bool (*pred)(void *), void *arg,
                  int timeout_ms);

/* Sleep n milliseconds. */
void tu_msleep(unsigned ms);

/*
 * End a forked child that plays another process (a pager that dies
 * holding a mapping, a host in its own process) with exit status code.
 * It execs a shell that exits with the code rather than calling _exit():
 * under memcheck a child's exit runs a leak check in which every buffer
 * owned by its parent's threads, threads the child does not have, looks
 * lost, and valgrind's error exit code would replace the child's own.
 * An exec discards the image without that check.  Never returns.
 */
void tu_child_exit(int code) __attribute__((noreturn));

#endif
