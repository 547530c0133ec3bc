/*
 * shaping.h - xenshaped's memory shaping (xenshaped --shape): policy in
 * from xenstore, the policy engine once an interval, targets and actions
 * out to the paging engine, status back to xenstore.  docs/shaping.md
 * describes the keys and the engine; shaping.c says how the daemon drives
 * them.
 */

#ifndef XENSHAPED_SHAPING_H
#define XENSHAPED_SHAPING_H

#include <stdbool.h>
#include <stdint.h>

#include <xenshape.h>

struct shaper;

/*
 * Connect to xenstore (kv backend "xen", or "sim" with the simulated
 * host's socket as arg), read the host policy and watch the policy
 * trees.  ctx and lg are borrowed and must outlive the shaper.  0 or a
 * negative XENSHAPE_E*.
 */
int shaper_open(struct shaper **s_r, xenshape_ctx *ctx,
                xentoollog_logger *lg, const char *kv_backend,
                const char *kv_arg);
void shaper_close(struct shaper *s);          /* NULL ok */

/* SIGHUP: read the host policy and every VM's policy again at the next
 * tick, as if their watches had fired. */
void shaper_reload(struct shaper *s);

/* Readable when xenstore has watch events for shaper_watch_events();
 * -1 once the connection to xenstore is lost. */
int shaper_watch_fd(struct shaper *s);
void shaper_watch_events(struct shaper *s);

/*
 * Called every daemon tick with the domain list and which of them the
 * pager has attached (paging[i]); runs a shaping interval when one is
 * due: snapshot, decision, targets, pauses and prefetches, status.
 * now_ms is monotonic.
 */
void shaper_tick(struct shaper *s, const xenshape_dominfo *list,
                 const bool *paging, unsigned nr, uint64_t now_ms);

/* The target the shaper last gave domid, or UINT64_MAX (none yet). */
uint64_t shaper_target(struct shaper *s, uint32_t domid);

/* What the shaper keeps about a domain, for the metrics file: its
 * meters (as in its status keys under meter/) and its state. */
struct shaper_view {
    uint64_t ram_page_seconds, store_page_seconds, pageins;
    bool have_state;                 /* false: no decision yet */
    const char *state;               /* "running", ...: static */
};

/* false if the shaper does not know domid (yet). */
bool shaper_view(struct shaper *s, uint32_t domid, struct shaper_view *v_r);

/* Every word the status key "state" can take, for a labelled gauge:
 * *nr_r of them, static. */
const char *const *shaper_state_names(unsigned *nr_r);

/* Stopping: unpause every domain the shaper hibernated (after the
 * caller paged everything back in). */
void shaper_resume_all(struct shaper *s);

#endif /* XENSHAPED_SHAPING_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
