/*
 * policy_kv.h - the daemon's view of xenstore policy, as pure functions:
 * which policy a watch event concerns, and a policy directory, read whole,
 * turned into the policy in force.  No I/O here: xenshaped reads xenstore
 * (tools/xenshaped/shaping.c) and hands the text over, so that what a
 * hostile or confused writer can put in xenstore is unit tested
 * (tests/check_policy_kv.c) and fuzzed (tests/fuzz/fuzz_kv_watch.c)
 * without a store.
 *
 * The daemon watches /xenshape/host and /xenshape/vm whole.  An event
 * names the node that changed, so it concerns the host policy, one VM's
 * policy (the <uuid> directory below /xenshape/vm) or, when a parent of
 * those changed, all of them; anything else (another tree, a malformed
 * UUID, a guest's own home) concerns no policy at all.  Whatever the
 * event, the concerned directory is read again whole: events only say
 * "look", never "this is the value".
 */

#ifndef XENSHAPE_POLICY_KV_H
#define XENSHAPE_POLICY_KV_H

#include <stddef.h>

#include "shape/schema.h"

enum xenshape__pkv_what {
    XENSHAPE__PKV_NONE,              /* concerns no policy */
    XENSHAPE__PKV_HOST,              /* the host policy */
    XENSHAPE__PKV_VM,                /* the policy of the VM uuid */
    XENSHAPE__PKV_ALL_VMS,           /* every VM's policy */
    XENSHAPE__PKV_ALL,               /* the host's and every VM's */
};

/* Room for a UUID, NUL included. */
#define XENSHAPE__PKV_UUID_MAX 37

typedef struct xenshape__pkv_event {
    enum xenshape__pkv_what what;
    /* VM: its UUID as the path spells it (lowercase: the only spelling
     * of the directories the daemon reads).  "" otherwise. */
    char uuid[XENSHAPE__PKV_UUID_MAX];
    /* HOST, VM: the path below the policy directory ("priority"), or ""
     * for the directory itself; points into the path given.  NULL for
     * the other kinds. */
    const char *key;
    /* The schema key named by key, in the event's scope; NULL when key
     * is "" or names no key of that scope (the directory is still read
     * again: an unknown key is reported in status). */
    const xenshape__schema_key *k;
} xenshape__pkv_event;

/*
 * Classify the path of a watch event (NUL-terminated, any bytes; NULL
 * counts as "none").  Always fills *ev_r; returns ev_r->what.
 */
enum xenshape__pkv_what xenshape__pkv_watch(const char *path,
                                            xenshape__pkv_event *ev_r);

/*
 * Apply a policy directory read whole: the n names of its listing and,
 * for each, its value (vals[i] NULL: the node has no value or went away
 * meanwhile, so it reads as absent) of lens[i] bytes.  Every node
 * counts, however many there are: a key listed after any number of
 * unknown nodes is applied all the same.  Applied with
 * XENSHAPE__APPLY_FULL: a key the directory lacks returns to its
 * default, a bad value keeps the last valid one and its reason is
 * recorded in the policy (xenshape__dompolicy_error()).  vals and lens
 * may be NULL when n is 0.
 *
 * 0 and *rejected_r (values and unknown keys rejected, may be NULL), or
 * XENSHAPE_ENOMEM with the policy untouched.
 */
int xenshape__pkv_apply_dom(xenshape__dompolicy *p, char *const *names,
                            char *const *vals, const size_t *lens,
                            unsigned n, unsigned *rejected_r);
int xenshape__pkv_apply_host(xenshape__hostpolicy *p, char *const *names,
                             char *const *vals, const size_t *lens,
                             unsigned n, unsigned *rejected_r);

#endif /* XENSHAPE_POLICY_KV_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
