/*
 * shaping.c - xenshaped's memory shaping: the glue between xenstore, the
 * policy engine (libxenshape/shape) and the paging engine.
 *
 * Policy comes in through watches on /xenshape/vm and /xenshape/host: an
 * event marks the VM (or the host) whose directory changed, and the
 * directory is read whole, in one transaction redone on EAGAIN, and
 * applied with XENSHAPE__APPLY_FULL, so a removed key returns to its
 * default and a bad value keeps the last good one (its reason goes to the
 * status key "error").  Watches may fire spuriously; re-applying the same
 * values changes nothing.  Which policy an event concerns, and what a
 * directory's text makes of a policy, are libxenshape/shape/policy_kv.c's
 * pure functions: here are only the reads.
 *
 * Every interval (the host policy's interval-ms) the shaper takes a
 * snapshot of the attached domains (RAM, store, the pager's working-set
 * estimate, faults), asks xenshape__shape_decide() for targets and
 * actions, applies them in the order the engine wants (pause, target,
 * prefetch, unpause), and writes status back: only the values that
 * changed, each node created with its permissions in the same
 * transaction (never inherited: C xenstored and oxenstored differ).  This
 * is the recipe of docs/shaping.md, section 6.
 *
 * A restarted daemon rebuilds what it needs from status: the meters
 * continue from their last values, and a domain whose state says
 * "hibernated" is known to be paused by us, so the engine relaunches it
 * in due course instead of leaving it paused for ever.
 */

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "kv/kv.h"
#include "shape/policy_kv.h"
#include "shape/schema.h"
#include "shape/shape.h"
#include "shaping.h"

#define MAX_DOMS XENSHAPE__SHAPE_MAX_DOMS
#define VALUE_MAX (XENSHAPE__SCHEMA_VALUE_MAX + 1)
/* Status values are small; the decision log and errors are not. */
#define SHORT_MAX 64

struct sdom {
    uint32_t domid;
    char uuid[37];
    bool policy_dirty;
    bool seen;                       /* in this tick's list */
    bool restored;                   /* status read back once */
    bool paused_by_us;
    xenshape__dompolicy pol;
    xenshape__shape_memo memo;
    uint64_t target;                 /* UINT64_MAX: none yet */
    uint64_t usage;
    uint64_t fault_rate;
    uint64_t last_faults, last_loaded;
    bool have_counts;
    uint64_t ram_ms, store_ms, pageins;     /* meters, since it appeared */
    char decision[VALUE_MAX];
    char decisions[VALUE_MAX];
    char error[VALUE_MAX];
    /* What status holds now, so that only changes are written. */
    char written[XENSHAPE__SCHEMA_NR_STATUS][SHORT_MAX];
    char written_view[XENSHAPE__SCHEMA_NR_VM][SHORT_MAX];
    char written_decision[VALUE_MAX], written_decisions[VALUE_MAX];
    char written_error[VALUE_MAX];
};

struct shaper {
    xenshape_ctx *ctx;
    xentoollog_logger *lg;
    xenshape__kv_handle *kv;
    xenshape__hostpolicy host;
    bool host_dirty;
    char host_error[VALUE_MAX];
    struct sdom *doms[MAX_DOMS];
    unsigned nr;
    uint64_t last_ms;
    bool started;
    bool kv_lost;                    /* the store's connection is gone */
};

/* ---- helpers --------------------------------------------------------- */

static void uuid_of(const uint8_t h[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5],
             h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
             h[15]);
}

static struct sdom *find(struct shaper *s, uint32_t domid)
{
    unsigned i;

    for (i = 0; i < s->nr; i++)
        if (s->doms[i]->domid == domid)
            return s->doms[i];
    return NULL;
}

/* Frames to KiB and back: policy sizes are KiB, the engine's frames. */
#define KIB_PER_FRAME (XENSHAPE_PAGE_SIZE / 1024)

/*
 * r from the kv port says the store's connection is gone (xenstored, or
 * the simulated host, went away) and every watch with it.  Said once;
 * from then on the policy in force stays and nothing more is read or
 * written: each attempt would fail the same way, and the watch
 * descriptor, forever readable at its end, must not be polled again.
 */
static bool conn_lost(struct shaper *s, int r)
{
    if (r != -ECONNRESET && r != -EPIPE && r != -ENOTCONN && r != -EBADF)
        return false;
    if (!s->kv_lost)
        XSLOG(s->lg, ERROR, -r, "lost the connection to xenstore: the "
              "policy in force stays, and status is no longer written");
    s->kv_lost = true;
    return true;
}

/* ---- reading policy ---------------------------------------------------- */

/* A policy directory as one transaction saw it: every node it lists,
 * however many, and each node's value (NULL: none). */
struct dir_read {
    const char *path;
    char **names;
    char **vals;
    size_t *lens;
    unsigned n;
};

static void dir_read_clear(struct dir_read *dr)
{
    unsigned i;

    for (i = 0; dr->vals && i < dr->n; i++)
        free(dr->vals[i]);
    free(dr->vals);
    free(dr->lens);
    xenshape__kv_free_list(dr->names);
    dr->names = NULL;
    dr->vals = NULL;
    dr->lens = NULL;
    dr->n = 0;
}

/* One transaction: the directory's names and every value. */
static int read_dir_txn(xenshape__kv_handle *kv, xenshape__kv_txn t,
                        void *arg)
{
    struct dir_read *dr = arg;
    unsigned n = 0, i;
    int r;

    dir_read_clear(dr);
    r = xenshape__kv_directory(kv, t, dr->path, &dr->names, &n);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    dr->vals = xenshape__calloc(n ? n : 1, sizeof(*dr->vals));
    dr->lens = xenshape__calloc(n ? n : 1, sizeof(*dr->lens));
    if (!dr->vals || !dr->lens)
        return -ENOMEM;
    dr->n = n;
    for (i = 0; i < n; i++) {
        char full[XENSHAPE__KV_PATH_MAX];

        snprintf(full, sizeof(full), "%s/%s", dr->path, dr->names[i]);
        r = xenshape__kv_read(kv, t, full, &dr->vals[i], &dr->lens[i]);
        /* A node without a value (a directory) or gone meanwhile is
         * not a key: left NULL, it reads as absent. */
        if (r < 0 && r != -ENOENT)
            return r;
    }
    return 0;
}

/* Read a policy directory whole.  0 or -errno. */
static int read_policy(struct shaper *s, const char *path,
                       struct dir_read *dr)
{
    memset(dr, 0, sizeof(*dr));
    dr->path = path;
    return xenshape__kv_transact(s->kv, read_dir_txn, dr);
}

static void load_host_policy(struct shaper *s)
{
    struct dir_read dr;
    char path[XENSHAPE__SCHEMA_PATH_MAX];
    unsigned bad = 0;
    int r, rc;

    xenshape__schema_path(path, sizeof(path), XENSHAPE__SCOPE_HOST, NULL,
                          NULL);
    r = read_policy(s, path, &dr);
    if (r < 0) {
        if (!conn_lost(s, r))
            XSLOG(s->lg, WARN, -r, "cannot read the host policy (%s); "
                  "keeping the policy in force", path);
        dir_read_clear(&dr);
        return;
    }
    rc = xenshape__pkv_apply_host(&s->host, dr.names, dr.vals, dr.lens,
                                  dr.n, &bad);
    dir_read_clear(&dr);
    if (rc) {
        XSLOG(s->lg, WARN, -1, "host policy: %s; keeping the policy in "
              "force", xenshape_strerror(rc));
        return;
    }
    xenshape__hostpolicy_error(&s->host, s->host_error,
                               sizeof(s->host_error));
    if (bad)
        XSLOG(s->lg, WARN, -1, "host policy: %s", s->host_error);
    s->host_dirty = false;
}

static void load_dom_policy(struct shaper *s, struct sdom *d)
{
    struct dir_read dr;
    char path[XENSHAPE__SCHEMA_PATH_MAX];
    unsigned bad = 0;
    int r, rc;

    d->policy_dirty = false;
    if (xenshape__schema_path(path, sizeof(path), XENSHAPE__SCOPE_VM,
                              d->uuid, NULL))
        return;
    r = read_policy(s, path, &dr);
    if (r < 0) {
        if (!conn_lost(s, r))
            XSLOG(s->lg, WARN, -r, "domain %u: cannot read its policy (%s); "
                  "keeping the policy in force", d->domid, path);
        dir_read_clear(&dr);
        d->policy_dirty = true;
        return;
    }
    rc = xenshape__pkv_apply_dom(&d->pol, dr.names, dr.vals, dr.lens, dr.n,
                                 &bad);
    dir_read_clear(&dr);
    if (rc) {
        XSLOG(s->lg, WARN, -1, "domain %u: policy: %s; keeping the policy "
              "in force", d->domid, xenshape_strerror(rc));
        d->policy_dirty = true;
        return;
    }
    xenshape__dompolicy_error(&d->pol, d->error, sizeof(d->error));
    if (bad)
        XSLOG(s->lg, WARN, -1, "domain %u: policy: %s", d->domid, d->error);
}

/* ---- status -------------------------------------------------------------- */

struct status_write {
    struct shaper *s;
    struct sdom *d;                  /* NULL: host status */
    const char *paths[XENSHAPE__SCHEMA_NR_STATUS + XENSHAPE__SCHEMA_NR_VM +
                      XENSHAPE__SCHEMA_NR_HSTATUS];
    const char *vals[XENSHAPE__SCHEMA_NR_STATUS + XENSHAPE__SCHEMA_NR_VM +
                     XENSHAPE__SCHEMA_NR_HSTATUS];
    bool fresh[XENSHAPE__SCHEMA_NR_STATUS + XENSHAPE__SCHEMA_NR_VM +
               XENSHAPE__SCHEMA_NR_HSTATUS];
    unsigned n;
    xenshape__kv_perm perms[4];
    unsigned nperms;
};

static int status_txn(xenshape__kv_handle *kv, xenshape__kv_txn t, void *arg)
{
    struct status_write *w = arg;
    unsigned i;
    int r;

    /* A domain's status lives in its home, which the toolstack removes
     * when the domain goes: a write there after that would create the
     * home again (a Dom0 write creates missing parents), left for ever.
     * Read in this transaction, the home either exists at commit or the
     * commit fails and the retry sees it gone: -ENOENT, nothing done. */
    if (w->d) {
        char home[32], *val = NULL;
        size_t len;

        snprintf(home, sizeof(home), "/local/domain/%u", w->d->domid);
        r = xenshape__kv_read(kv, t, home, &val, &len);
        free(val);
        if (r < 0)
            return r;
    }
    for (i = 0; i < w->n; i++) {
        r = xenshape__kv_write_str(kv, t, w->paths[i], w->vals[i]);
        if (r < 0)
            return r;
        /* A node we create gets its permissions now, explicitly, and
         * so does its directory (made by the write, with whatever the
         * implementation's inheritance gave it). */
        if (w->fresh[i]) {
            char dir[XENSHAPE__SCHEMA_PATH_MAX], *slash;

            r = xenshape__kv_set_perms(kv, t, w->paths[i], w->perms,
                                       w->nperms);
            if (r < 0)
                return r;
            snprintf(dir, sizeof(dir), "%s", w->paths[i]);
            slash = strrchr(dir, '/');
            if (slash && slash != dir) {
                *slash = '\0';
                r = xenshape__kv_set_perms(kv, t, dir, w->perms, w->nperms);
                if (r < 0)
                    return r;
            }
        }
    }
    return 0;
}

/* Queue key's value if it differs from what was written (cache: SHORT_MAX
 * or VALUE_MAX bytes). */
static void queue(struct status_write *w, char paths[][XENSHAPE__SCHEMA_PATH_MAX],
                  enum xenshape__schema_scope scope, const char *id,
                  const char *key, const char *val, char *cache,
                  size_t cache_len)
{
    unsigned i = w->n;

    if (!strncmp(cache, val, cache_len) && cache[0] != '\x01')
        return;
    if (xenshape__schema_path(paths[i], XENSHAPE__SCHEMA_PATH_MAX, scope, id,
                              key))
        return;
    w->paths[i] = paths[i];
    w->vals[i] = val;
    w->fresh[i] = cache[0] == '\x01';
    w->n++;
}

static void set_perms_for(struct status_write *w,
                          enum xenshape__schema_scope scope, uint32_t domid)
{
    xenshape__schema_perm p[4];
    unsigned n = 0, i;

    if (xenshape__schema_perms(scope, domid, p, 4, &n))
        n = 0;
    for (i = 0; i < n; i++) {
        w->perms[i].domid = p[i].id;
        w->perms[i].perms = p[i].perms;
    }
    w->nperms = n;
}

static void commit_cache(struct status_write *w, char **caches,
                         size_t *lens)
{
    unsigned i;

    for (i = 0; i < w->n; i++)
        snprintf(caches[i], lens[i], "%s", w->vals[i]);
}

static void write_dom_status(struct shaper *s, struct sdom *d,
                             const xenshape__shape_out *o,
                             const xenshape__shape_dom *in)
{
    static char paths[XENSHAPE__SCHEMA_NR_STATUS + XENSHAPE__SCHEMA_NR_VM]
        [XENSHAPE__SCHEMA_PATH_MAX];
    char vals[XENSHAPE__SCHEMA_NR_STATUS][SHORT_MAX];
    char view[XENSHAPE__SCHEMA_NR_VM][SHORT_MAX];
    char *caches[XENSHAPE__SCHEMA_NR_STATUS + XENSHAPE__SCHEMA_NR_VM];
    size_t lens[XENSHAPE__SCHEMA_NR_STATUS + XENSHAPE__SCHEMA_NR_VM];
    struct status_write w;
    char id[16];
    unsigned k;
    int r;

    if (s->kv_lost)
        return;
    memset(&w, 0, sizeof(w));
    snprintf(id, sizeof(id), "%u", d->domid);
    snprintf(vals[0], SHORT_MAX, "%" PRIu64, in->resident);
    snprintf(vals[1], SHORT_MAX, "%" PRIu64, in->paged);
    snprintf(vals[2], SHORT_MAX, "%" PRIu64, o->target);
    snprintf(vals[3], SHORT_MAX, "%" PRIu64,
             in->usage == XENSHAPE__SHAPE_USAGE_UNKNOWN ? 0 : in->usage);
    snprintf(vals[4], SHORT_MAX, "%" PRIu64, o->fault_rate);
    snprintf(vals[5], SHORT_MAX, "%" PRIu64, o->memo.bucket * KIB_PER_FRAME);
    snprintf(vals[6], SHORT_MAX, "%s", xenshape__shape_state_name(o->state));
    snprintf(vals[7], SHORT_MAX, "%" PRIu64, d->ram_ms / 1000);
    snprintf(vals[8], SHORT_MAX, "%" PRIu64, d->store_ms / 1000);
    snprintf(vals[9], SHORT_MAX, "%" PRIu64, d->pageins);

    /* Status keys in schema order: the first ten are short, then
     * decision, decisions and error. */
    for (k = 0; k < XENSHAPE__SCHEMA_NR_KEYS; k++) {
        const xenshape__schema_key *key = &xenshape__schema_keys[k];

        if (key->scope != XENSHAPE__SCOPE_STATUS)
            continue;
        if (key->index < 10) {
            caches[w.n] = d->written[key->index];
            lens[w.n] = SHORT_MAX;
            queue(&w, paths, XENSHAPE__SCOPE_STATUS, id, key->name,
                  vals[key->index], d->written[key->index], SHORT_MAX);
        } else if (key->id == XENSHAPE__KEY_STATUS_DECISION) {
            caches[w.n] = d->written_decision;
            lens[w.n] = VALUE_MAX;
            queue(&w, paths, XENSHAPE__SCOPE_STATUS, id, key->name,
                  d->decision, d->written_decision, VALUE_MAX);
        } else if (key->id == XENSHAPE__KEY_STATUS_DECISIONS) {
            caches[w.n] = d->written_decisions;
            lens[w.n] = VALUE_MAX;
            queue(&w, paths, XENSHAPE__SCOPE_STATUS, id, key->name,
                  d->decisions, d->written_decisions, VALUE_MAX);
        } else {
            caches[w.n] = d->written_error;
            lens[w.n] = VALUE_MAX;
            queue(&w, paths, XENSHAPE__SCOPE_STATUS, id, key->name,
                  d->error, d->written_error, VALUE_MAX);
        }
    }
    /* The policy in force, for the guest to read. */
    for (k = 0; k < XENSHAPE__SCHEMA_NR_KEYS; k++) {
        const xenshape__schema_key *key = &xenshape__schema_keys[k];

        if (key->scope != XENSHAPE__SCOPE_VM)
            continue;
        if (xenshape__dompolicy_get(&d->pol, key->id, view[key->index],
                                    SHORT_MAX))
            continue;
        caches[w.n] = d->written_view[key->index];
        lens[w.n] = SHORT_MAX;
        queue(&w, paths, XENSHAPE__SCOPE_VMVIEW, id, key->name,
              view[key->index], d->written_view[key->index], SHORT_MAX);
    }
    if (!w.n)
        return;
    set_perms_for(&w, XENSHAPE__SCOPE_STATUS, d->domid);
    w.s = s;
    w.d = d;
    r = xenshape__kv_transact(s->kv, status_txn, &w);
    if (r == -ENOENT)
        return;                      /* the domain is gone */
    if (r < 0) {
        if (!conn_lost(s, r))
            XSLOG(s->lg, WARN, -r, "domain %u: cannot write status",
                  d->domid);
        return;
    }
    commit_cache(&w, caches, lens);
}

/* The text of a store status key. */
static void store_status(enum xenshape__key id, const xenshape_storestats *st,
                         char *v, size_t n)
{
    uint64_t x = 0;

    switch (id) {
    case XENSHAPE__KEY_HSTATUS_STORE_SLOTS_TOTAL: x = st->slots_total; break;
    case XENSHAPE__KEY_HSTATUS_STORE_SLOTS_USED: x = st->slots_used; break;
    case XENSHAPE__KEY_HSTATUS_STORE_WRITES: x = st->writes; break;
    case XENSHAPE__KEY_HSTATUS_STORE_READS: x = st->reads; break;
    case XENSHAPE__KEY_HSTATUS_STORE_CHECKSUM_FAILURES:
        x = st->checksum_failures;
        break;
    case XENSHAPE__KEY_HSTATUS_STORE_IO_ERRORS: x = st->io_errors; break;
    case XENSHAPE__KEY_HSTATUS_STORE_STATE:
        snprintf(v, n, "%s", st->failed ? "failed" : "ok");
        return;
    default:
        break;
    }
    snprintf(v, n, "%" PRIu64, x);
}

static void write_host_status(struct shaper *s,
                              const xenshape__shape_summary *sum,
                              uint64_t free_frames)
{
    static char paths[XENSHAPE__SCHEMA_NR_HSTATUS][XENSHAPE__SCHEMA_PATH_MAX];
    static char written[XENSHAPE__SCHEMA_NR_HSTATUS][VALUE_MAX];
    static bool written_init;
    char vals[XENSHAPE__SCHEMA_NR_HSTATUS][VALUE_MAX];
    char *caches[XENSHAPE__SCHEMA_NR_HSTATUS];
    size_t lens[XENSHAPE__SCHEMA_NR_HSTATUS];
    struct status_write w;
    xenshape_storestats st;
    bool have_store;
    unsigned k;
    int r;

    if (s->kv_lost)
        return;
    /* \x01: never written, so the first write creates it with perms. */
    if (!written_init) {
        for (k = 0; k < XENSHAPE__SCHEMA_NR_HSTATUS; k++)
            written[k][0] = '\x01';
        written_init = true;
    }
    /* The store's health is the host's: an operator asks "is my store
     * losing frames?" of xenstore, where the rest of the status is. */
    have_store = !xenshape_store_stats(s->ctx, &st);
    memset(&w, 0, sizeof(w));
    for (k = 0; k < XENSHAPE__SCHEMA_NR_KEYS; k++) {
        const xenshape__schema_key *key = &xenshape__schema_keys[k];
        char *v = vals[key->index];

        if (key->scope != XENSHAPE__SCOPE_HSTATUS)
            continue;
        switch (key->id) {
        case XENSHAPE__KEY_HSTATUS_AVAILABLE_FRAMES:
            snprintf(v, VALUE_MAX, "%" PRIu64, sum->available);
            break;
        case XENSHAPE__KEY_HSTATUS_ASSIGNED_FRAMES:
            snprintf(v, VALUE_MAX, "%" PRIu64, sum->assigned);
            break;
        case XENSHAPE__KEY_HSTATUS_FREE_FRAMES:
            snprintf(v, VALUE_MAX, "%" PRIu64, free_frames);
            break;
        case XENSHAPE__KEY_HSTATUS_CONTENTION:
            snprintf(v, VALUE_MAX, "%d", sum->contention ? 1 : 0);
            break;
        case XENSHAPE__KEY_HSTATUS_ERROR:
            snprintf(v, VALUE_MAX, "%s", s->host_error);
            break;
        case XENSHAPE__KEY_HSTATUS_STORE_SLOTS_TOTAL:
        case XENSHAPE__KEY_HSTATUS_STORE_SLOTS_USED:
        case XENSHAPE__KEY_HSTATUS_STORE_WRITES:
        case XENSHAPE__KEY_HSTATUS_STORE_READS:
        case XENSHAPE__KEY_HSTATUS_STORE_CHECKSUM_FAILURES:
        case XENSHAPE__KEY_HSTATUS_STORE_IO_ERRORS:
        case XENSHAPE__KEY_HSTATUS_STORE_STATE:
            if (!have_store)
                continue;
            store_status(key->id, &st, v, VALUE_MAX);
            break;
        default:
            /* A key added to the schema that nothing here fills. */
            continue;
        }
        caches[w.n] = written[key->index];
        lens[w.n] = VALUE_MAX;
        queue(&w, paths, XENSHAPE__SCOPE_HSTATUS, NULL, key->name,
              vals[key->index], written[key->index], VALUE_MAX);
    }
    if (!w.n)
        return;
    set_perms_for(&w, XENSHAPE__SCOPE_HSTATUS, 0);
    w.s = s;
    r = xenshape__kv_transact(s->kv, status_txn, &w);
    if (r < 0) {
        if (!conn_lost(s, r))
            XSLOG(s->lg, WARN, -r, "cannot write the host status");
        return;
    }
    commit_cache(&w, caches, lens);
}

/* ---- domains ------------------------------------------------------------ */

/* What a daemon before us left in status: meters, and whether it had
 * hibernated the domain (then it is paused by us, and must be relaunched
 * in due course, not forgotten). */
static void restore_from_status(struct shaper *s, struct sdom *d,
                                uint64_t now_ms)
{
    static const struct {
        enum xenshape__key id;
        size_t off;
        uint64_t mul;
    } meters[] = {
        { XENSHAPE__KEY_STATUS_METER_RAM_PAGE_SECONDS,
          offsetof(struct sdom, ram_ms), 1000 },
        { XENSHAPE__KEY_STATUS_METER_STORE_PAGE_SECONDS,
          offsetof(struct sdom, store_ms), 1000 },
        { XENSHAPE__KEY_STATUS_METER_PAGE_INS,
          offsetof(struct sdom, pageins), 1 },
    };
    char path[XENSHAPE__SCHEMA_PATH_MAX], id[16], *val = NULL;
    size_t len;
    unsigned i;

    d->restored = true;
    snprintf(id, sizeof(id), "%u", d->domid);
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(meters); i++) {
        const xenshape__schema_key *k = &xenshape__schema_keys[meters[i].id];
        xenshape__schema_val v;

        if (xenshape__schema_path(path, sizeof(path), XENSHAPE__SCOPE_STATUS,
                                  id, k->name) ||
            xenshape__kv_read(s->kv, XENSHAPE__KV_NO_TXN, path, &val,
                              &len) < 0)
            continue;
        if (!xenshape__schema_parse(k, val, len, &v, NULL, 0))
            *(uint64_t *)((char *)d + meters[i].off) = v.u * meters[i].mul;
        free(val);
        val = NULL;
    }
    if (xenshape__schema_path(path, sizeof(path), XENSHAPE__SCOPE_STATUS, id,
                              "state") ||
        xenshape__kv_read(s->kv, XENSHAPE__KV_NO_TXN, path, &val, &len) < 0)
        return;
    if (!strcmp(val, xenshape__shape_state_name(XENSHAPE__SHAPE_HIBERNATED))) {
        d->memo.valid = true;
        d->memo.state = XENSHAPE__SHAPE_HIBERNATED;
        d->memo.paused_ever = true;
        /* When is not known: count from now, so hysteresis holds. */
        d->memo.last_pause_ms = now_ms;
        d->paused_by_us = true;
        XSLOG(s->lg, NOTICE, -1, "domain %u: hibernated by an earlier "
              "daemon; it will be relaunched when there is room",
              d->domid);
    }
    free(val);
}

static struct sdom *dom_add(struct shaper *s, const xenshape_dominfo *di)
{
    struct sdom *d;
    unsigned k;

    if (s->nr == MAX_DOMS)
        return NULL;
    d = xenshape__calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->domid = di->domid;
    uuid_of(di->handle, d->uuid);
    d->target = UINT64_MAX;
    xenshape__dompolicy_init(&d->pol);
    d->policy_dirty = true;
    /* \x01: never written, so the first write creates it with perms. */
    for (k = 0; k < XENSHAPE__SCHEMA_NR_STATUS; k++)
        d->written[k][0] = '\x01';
    for (k = 0; k < XENSHAPE__SCHEMA_NR_VM; k++)
        d->written_view[k][0] = '\x01';
    d->written_decision[0] = d->written_decisions[0] = '\x01';
    d->written_error[0] = '\x01';
    s->doms[s->nr++] = d;
    return d;
}

static void dom_forget(struct shaper *s, unsigned i)
{
    free(s->doms[i]);
    s->doms[i] = s->doms[--s->nr];
}

/* ---- the interval --------------------------------------------------------- */

static void apply(struct shaper *s, struct sdom *d,
                  const xenshape__shape_out *o, uint64_t resident)
{
    int rc;

    if ((o->actions & XENSHAPE__SHAPE_PAUSE) && !d->paused_by_us) {
        rc = xenshape_domain_pause(s->ctx, d->domid, true);
        if (rc)
            XSLOG(s->lg, ERROR, -1, "domain %u: cannot pause it to "
                  "hibernate: %s", d->domid, xenshape_strerror(rc));
        else
            d->paused_by_us = true;
    }
    /* A generic domain grows by its faults: its target is room to grow
     * into, and frames loaded to fill it would count as usage until
     * sampling finds them idle, which raises the target again.  Soakers
     * (who want everything) and pins are filled; a relaunch prefetches
     * below. */
    xenshape__domain_set_fill(s->ctx, d->domid, d->pol.soaker || d->pol.pin);
    rc = xenshape_domain_set_target(s->ctx, d->domid, o->target);
    if (rc)
        XSLOG(s->lg, WARN, -1, "domain %u: target: %s", d->domid,
              xenshape_strerror(rc));
    d->target = o->target;
    if ((o->actions & XENSHAPE__SHAPE_PREFETCH) && o->target > resident) {
        uint64_t done = 0;

        rc = xenshape_domain_prefetch(s->ctx, d->domid,
                                      o->target - resident, &done);
        if (rc && rc != XENSHAPE_ENOMEM)
            XSLOG(s->lg, WARN, -1, "domain %u: prefetch: %s", d->domid,
                  xenshape_strerror(rc));
    }
    if ((o->actions & XENSHAPE__SHAPE_UNPAUSE) && d->paused_by_us) {
        rc = xenshape_domain_pause(s->ctx, d->domid, false);
        if (rc)
            XSLOG(s->lg, ERROR, -1, "domain %u: cannot unpause it to "
                  "relaunch: %s", d->domid, xenshape_strerror(rc));
        else
            d->paused_by_us = false;
    }
}

static void interval(struct shaper *s, const xenshape_dominfo *list,
                     const bool *paging, unsigned nr, uint64_t now_ms)
{
    xenshape__shape_dom *in = NULL;
    xenshape__shape_out *out = NULL;
    xenshape__shape_summary sum;
    xenshape__shape_host host;
    struct sdom **map = NULL;
    uint64_t total = 0, free_frames = 0;
    unsigned n = 0, i;
    int rc;

    rc = xenshape_host_info(s->ctx, &total, &free_frames);
    if (rc) {
        XSLOG(s->lg, WARN, -1, "host info: %s", xenshape_strerror(rc));
        return;
    }
    in = xenshape__calloc(nr ? nr : 1, sizeof(*in));
    out = xenshape__calloc(nr ? nr : 1, sizeof(*out));
    map = xenshape__calloc(nr ? nr : 1, sizeof(*map));
    if (!in || !out || !map)
        goto out;

    for (i = 0; i < nr; i++) {
        struct sdom *d = find(s, list[i].domid);
        xenshape__shape_dom *x = &in[n];
        xenshape_domstats st;

        if (!d || list[i].dying)
            continue;
        x->domid = d->domid;
        x->paging = paging[i];
        x->presented = list[i].max_pages;
        x->resident = list[i].tot_pages;
        x->paged = list[i].paged_pages;
        x->usage = XENSHAPE__SHAPE_USAGE_UNKNOWN;
        if (paging[i] && !xenshape_domain_stats(s->ctx, d->domid, &st)) {
            uint64_t usage = 0;

            x->resident = st.tot_pages;
            x->paged = st.held_pages;
            if (!xenshape_domain_usage(s->ctx, d->domid, &usage) &&
                d->have_counts)
                x->usage = usage;
            if (d->have_counts) {
                x->faults = st.faults - d->last_faults;
                x->loaded = st.loaded - d->last_loaded;
            }
            d->last_faults = st.faults;
            d->last_loaded = st.loaded;
            d->have_counts = true;
        }
        x->pol = &d->pol;
        x->memo = d->memo;
        map[n++] = d;
    }
    memset(&host, 0, sizeof(host));
    host.total_frames = total;
    host.free_frames = free_frames;
    host.pol = &s->host;
    host.now_ms = now_ms;
    host.interval_ms = s->started ? now_ms - s->last_ms : s->host.interval_ms;
    rc = xenshape__shape_decide(&host, in, n, out, &sum);
    if (rc) {
        XSLOG(s->lg, ERROR, -1, "shaping: %s", xenshape_strerror(rc));
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct sdom *d = map[i];
        const xenshape__shape_out *o = &out[i];

        d->memo = o->memo;
        d->ram_ms += o->ram_page_ms;
        d->store_ms += o->store_page_ms;
        d->pageins += o->pageins;
        d->usage = in[i].usage;
        d->fault_rate = o->fault_rate;
        if (in[i].paging)
            apply(s, d, o, in[i].resident);
        if (o->changed) {
            snprintf(d->decision, sizeof(d->decision), "%s", o->reason);
            xenshape__shape_log_push(d->decisions, sizeof(d->decisions),
                                     now_ms / 1000, o->reason);
            XSLOG(s->lg, INFO, -1, "domain %u: %s", d->domid, o->reason);
        }
        write_dom_status(s, d, o, &in[i]);
    }
    write_host_status(s, &sum, free_frames);
 out:
    free(in);
    free(out);
    free(map);
}

/* ---- public -------------------------------------------------------------- */

int shaper_open(struct shaper **s_r, xenshape_ctx *ctx,
                xentoollog_logger *lg, const char *kv_backend,
                const char *kv_arg)
{
    struct shaper *s = NULL;
    char path[XENSHAPE__SCHEMA_PATH_MAX];
    int rc, r;

    s = xenshape__calloc(1, sizeof(*s));
    if (!s) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    s->ctx = ctx;
    s->lg = lg;
    xenshape__hostpolicy_init(&s->host);
    rc = xenshape__kv_open(&s->kv, kv_backend, kv_arg, lg);
    if (rc)
        goto out;
    /* The policy roots: watched whole, so one watch each. */
    xenshape__schema_path(path, sizeof(path), XENSHAPE__SCOPE_HOST, NULL,
                          NULL);
    r = xenshape__kv_watch(s->kv, path, "host");
    if (r == 0)
        r = xenshape__kv_watch(s->kv, "/xenshape/vm", "vm");
    if (r < 0) {
        XSLOG(lg, ERROR, -r, "cannot watch the xenshape policy in xenstore");
        rc = xenshape__rc_from_errno(r);
        goto out;
    }
    load_host_policy(s);
    *s_r = s;
    s = NULL;
    rc = 0;
 out:
    shaper_close(s);
    return rc;
}

void shaper_close(struct shaper *s)
{
    if (!s)
        return;
    while (s->nr)
        dom_forget(s, 0);
    xenshape__kv_close(s->kv);
    free(s);
}

void shaper_reload(struct shaper *s)
{
    unsigned i;

    s->host_dirty = true;
    for (i = 0; i < s->nr; i++)
        s->doms[i]->policy_dirty = true;
}

int shaper_watch_fd(struct shaper *s)
{
    return s->kv_lost ? -1 : xenshape__kv_watch_fd(s->kv);
}

void shaper_watch_events(struct shaper *s)
{
    char *path = NULL, *token = NULL;
    xenshape__pkv_event ev;
    unsigned i;
    int r;

    for (;;) {
        r = xenshape__kv_read_watch(s->kv, &path, &token);
        if (r == -EAGAIN)
            break;
        if (r < 0) {
            if (conn_lost(s, r))
                return;
            /* The event that failed may be lost: as after any watch
             * error, everything watched is read again. */
            XSLOG(s->lg, WARN, -r, "reading xenstore watch events; "
                  "reading all policy again");
            shaper_reload(s);
            break;
        }
        switch (xenshape__pkv_watch(path, &ev)) {
        case XENSHAPE__PKV_HOST:
            s->host_dirty = true;
            break;
        case XENSHAPE__PKV_VM:
            for (i = 0; i < s->nr; i++)
                if (!strcmp(ev.uuid, s->doms[i]->uuid))
                    s->doms[i]->policy_dirty = true;
            break;
        case XENSHAPE__PKV_ALL_VMS:
            for (i = 0; i < s->nr; i++)
                s->doms[i]->policy_dirty = true;
            break;
        case XENSHAPE__PKV_ALL:
            shaper_reload(s);
            break;
        case XENSHAPE__PKV_NONE:
            break;
        }
        free(path);
        free(token);
        path = token = NULL;
    }
}

void shaper_tick(struct shaper *s, const xenshape_dominfo *list,
                 const bool *paging, unsigned nr, uint64_t now_ms)
{
    unsigned i;

    if (s->host_dirty && !s->kv_lost)
        load_host_policy(s);
    for (i = 0; i < s->nr; i++)
        s->doms[i]->seen = false;
    for (i = 0; i < nr; i++) {
        struct sdom *d;

        if (list[i].dying)
            continue;
        d = find(s, list[i].domid);
        if (!d) {
            d = dom_add(s, &list[i]);
            if (!d)
                continue;
        }
        d->seen = true;
        if (!d->restored && !s->kv_lost)
            restore_from_status(s, d, now_ms);
        if (d->policy_dirty && !s->kv_lost)
            load_dom_policy(s, d);
    }
    for (i = 0; i < s->nr;)
        if (!s->doms[i]->seen)
            dom_forget(s, i);
        else
            i++;
    if (s->started && now_ms - s->last_ms < s->host.interval_ms)
        return;
    interval(s, list, paging, nr, now_ms);
    s->last_ms = now_ms;
    s->started = true;
}

uint64_t shaper_target(struct shaper *s, uint32_t domid)
{
    struct sdom *d = find(s, domid);

    return d ? d->target : UINT64_MAX;
}

bool shaper_view(struct shaper *s, uint32_t domid, struct shaper_view *v_r)
{
    struct sdom *d = find(s, domid);

    if (!d)
        return false;
    /* The same figures write_dom_status() puts in xenstore, so that
     * the two never disagree by a rounding. */
    v_r->ram_page_seconds = d->ram_ms / 1000;
    v_r->store_page_seconds = d->store_ms / 1000;
    v_r->pageins = d->pageins;
    v_r->have_state = d->memo.valid;
    v_r->state = xenshape__shape_state_name(d->memo.state);
    return true;
}

const char *const *shaper_state_names(unsigned *nr_r)
{
    static const char *names[XENSHAPE__SHAPE_UNSUPPORTED + 1];
    unsigned i;

    for (i = 0; i < XENSHAPE__ARRAY_SIZE(names); i++)
        names[i] = xenshape__shape_state_name(i);
    *nr_r = XENSHAPE__ARRAY_SIZE(names);
    return names;
}

void shaper_resume_all(struct shaper *s)
{
    unsigned i;
    int rc;

    for (i = 0; i < s->nr; i++) {
        struct sdom *d = s->doms[i];

        if (!d->paused_by_us)
            continue;
        rc = xenshape_domain_pause(s->ctx, d->domid, false);
        if (rc)
            XSLOG(s->lg, ERROR, -1, "domain %u: cannot unpause it: %s",
                  d->domid, xenshape_strerror(rc));
        else
            d->paused_by_us = false;
    }
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
