/*
 * sim_kv.c - the simulated host's xenstore: a tree of nodes holding byte
 * strings, kept in the host process and served on its control socket
 * (KV* requests, see sim_sock.c and docs/simhost.md), so that the daemon's
 * shaping code and the tests talk to a store with xenstored's rules
 * without a Xen machine.  It is not a xenstored: no wire protocol, no
 * rings, no persistence; what it keeps of C xenstored 4.17 is what
 * xenshape relies on or must survive:
 *
 *   - permissions: the first entry names the owner and the default for
 *     everyone else; Dom0 and the owner may do anything; a missing node
 *     is reported as ENOENT only to a caller who may read (or write) its
 *     nearest existing ancestor, EACCES otherwise; a node inherits its
 *     parent's permissions and an unprivileged creator becomes its owner;
 *     only Dom0 may change an owner;
 *   - watches: fire once at registration, then on any change at or below
 *     their path (a removal also fires the watches below the removed
 *     node, with their own path), each event filtered by the watcher's
 *     read permission on the node (as it was before a removal);
 *     @introduceDomain and @releaseDomain fire on domain creation and
 *     destruction, filtered by their own permissions (Dom0 only unless
 *     Dom0 grants more);
 *   - transactions: a snapshot of the whole store taken at start, on
 *     which the transaction's requests run; at commit, if any node it
 *     looked at or changed was changed since (or appeared, or vanished),
 *     it fails with EAGAIN and nothing of it happens; otherwise its
 *     changes are replayed on the store, firing watches then;
 *   - the quotas of sim_kv.h for domains other than Dom0;
 *   - at a domain's destruction, what xenstored does since XSA-322: the
 *     domain's permission entries are dropped and the nodes it owned pass
 *     to Dom0, so that nothing it had carries over to a later domain.
 *
 * One mutex guards everything: requests are short, and a test or the
 * daemon never has more than a handful in flight.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"
#include "sim/sim_host.h"
#include "sim/sim_kv.h"

/* DOMID_FIRST_RESERVED: domids from here on are not domains. */
#define DOMID_LIMIT 0x7ff0u
/* perm_for()'s extra bit for the owner (and Dom0), as XS_PERM_OWNER. */
#define PERM_OWNER 4u
#define PERM_RW (XENSHAPE__KV_PERM_READ | XENSHAPE__KV_PERM_WRITE)
/* Longest relative path (XENSTORE_REL_PATH_MAX). */
#define REL_PATH_MAX 2048u

struct node {
    char *name;                      /* "" for the root */
    struct node *parent;
    struct node **kids;              /* in creation order */
    unsigned nkids, capkids;
    char *val;                       /* NUL-terminated as well */
    size_t len;
    xenshape__kv_perm *perms;        /* at least one */
    unsigned nperms;
    uint64_t gen;                    /* store's generation at last change */
};

struct watch {
    struct watch *next;
    char *path;                      /* absolute, or "@..." */
    char *orig;                      /* as registered (may be relative) */
    char *token;
    bool relative;
};

struct event {
    struct event *next;
    char *path, *token;
};

enum log_kind { LOG_WRITE, LOG_RM, LOG_PERMS };

/* A change a transaction made, to be replayed at commit. */
struct log_entry {
    enum log_kind kind;
    char *path;
    char *val;
    size_t len;
    xenshape__kv_perm *perms;
    unsigned nperms;
};

/* A node a transaction looked at, and whether it existed at the start. */
struct access {
    char *path;
    bool existed;
};

struct txn {
    struct txn *next;
    uint32_t id;
    uint64_t start_gen;
    struct node *root;               /* the snapshot */
    struct access *acc;
    unsigned nacc, capacc;
    struct log_entry *log;
    unsigned nlog, caplog;
    long delta;                      /* nodes of the client's domain */
};

struct xenshape__sim_kv_client {
    struct xenshape__sim_kv *kv;
    struct xenshape__sim_kv_client *next;
    uint64_t id;
    uint32_t domid;
    unsigned refs;                   /* the connection's, KVEVENTS' */
    bool closed;                     /* its connection ended */
    bool gone;                       /* its domain was destroyed */
    bool serving;                    /* a connection carries its events */
    int efd;                         /* eventfd: events queued, or closed */
    struct watch *watches;
    struct txn *txns;
    unsigned ntxns;
    uint32_t next_txid;
    struct event *ev_head, *ev_tail;
    unsigned nev;
    uint64_t ev_dropped;
};

enum { SPECIAL_INTRODUCE, SPECIAL_RELEASE, SPECIAL_NR };
static const char *const special_names[SPECIAL_NR] = {
    "@introduceDomain", "@releaseDomain",
};

struct xenshape__sim_kv {
    pthread_mutex_t lock;
    xentoollog_logger *lg;
    struct node *root;
    uint64_t gen;
    uint32_t *owned;                 /* nodes per owner, [DOMID_LIMIT] */
    bool *introduced;                /* [DOMID_LIMIT] */
    xenshape__kv_perm *special[SPECIAL_NR];
    unsigned nspecial[SPECIAL_NR];
    struct xenshape__sim_kv_client *clients;
    uint64_t next_client;
};

/* Who is asking, and on what: the store, or a transaction's snapshot. */
struct op {
    struct xenshape__sim_kv *kv;
    uint32_t domid;
    struct txn *t;                   /* NULL: the store itself */
    bool replay;                     /* a commit: quotas were checked */
};

/* ---- encoding ------------------------------------------------------------ */

static bool plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || (c && strchr("/_@.:,=+~-", c));
}

int xenshape__sim_kv_encode(char *dst, size_t dstlen, const void *src,
                            size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = src;
    size_t i, o = 0;

    if (!len) {
        if (dstlen < 2)
            return -EMSGSIZE;
        memcpy(dst, "%", 2);
        return 1;
    }
    for (i = 0; i < len; i++) {
        size_t need = plain(s[i]) ? 1 : 3;

        if (o + need + 1 > dstlen || o + need > INT32_MAX)
            return -EMSGSIZE;
        if (need == 1) {
            dst[o++] = (char)s[i];
        } else {
            dst[o++] = '%';
            dst[o++] = hex[s[i] >> 4];
            dst[o++] = hex[s[i] & 15];
        }
    }
    dst[o] = '\0';
    return (int)o;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int xenshape__sim_kv_decode(const char *src, char **dst_r, size_t *len_r)
{
    size_t n = strlen(src), o = 0, i;
    char *dst;

    /* "" cannot come from the encoder: the empty string is "%". */
    if (!n)
        return -EINVAL;
    dst = xenshape__malloc(n + 1);
    if (!dst)
        return -ENOMEM;
    if (strcmp(src, "%")) {
        for (i = 0; i < n; i++) {
            int hi, lo;

            if (src[i] != '%') {
                /* Anything the encoder would have escaped is an error,
                 * so that one text decodes one way only. */
                if (!plain((unsigned char)src[i]))
                    goto bad;
                dst[o++] = src[i];
                continue;
            }
            if (i + 2 >= n)
                goto bad;
            hi = hexval(src[i + 1]);
            lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                goto bad;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        }
    }
    dst[o] = '\0';
    *dst_r = dst;
    if (len_r)
        *len_r = o;
    return 0;
 bad:
    free(dst);
    return -EINVAL;
}

/* ---- nodes ----------------------------------------------------------------- */

static void node_free(struct node *n)
{
    unsigned i;

    if (!n)
        return;
    for (i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->val);
    free(n->perms);
    free(n);
}

static xenshape__kv_perm *perms_dup(const xenshape__kv_perm *p, unsigned n)
{
    xenshape__kv_perm *c = xenshape__malloc(n * sizeof(*c));

    if (c)
        memcpy(c, p, n * sizeof(*c));
    return c;
}

static char *mem_dup(const char *s, size_t len)
{
    char *c = xenshape__malloc(len + 1);

    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

/* A detached node: name (len bytes), empty value, a copy of perms. */
static struct node *node_new(const char *name, size_t nlen,
                             const xenshape__kv_perm *perms, unsigned nperms)
{
    struct node *n = xenshape__calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->name = mem_dup(name, nlen);
    n->val = mem_dup("", 0);
    n->perms = perms_dup(perms, nperms);
    n->nperms = nperms;
    if (!n->name || !n->val || !n->perms) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* Room for one more child, so that linking it cannot fail. */
static int kids_reserve(struct node *n)
{
    struct node **k;
    unsigned cap;

    if (n->nkids < n->capkids)
        return 0;
    cap = n->capkids ? n->capkids * 2 : 4;
    k = xenshape__realloc(n->kids, cap * sizeof(*k));
    if (!k)
        return -ENOMEM;
    n->kids = k;
    n->capkids = cap;
    return 0;
}

static void link_kid(struct node *parent, struct node *kid)
{
    kid->parent = parent;
    parent->kids[parent->nkids++] = kid;
}

static void unlink_kid(struct node *kid)
{
    struct node *p = kid->parent;
    unsigned i;

    for (i = 0; i < p->nkids; i++)
        if (p->kids[i] == kid) {
            memmove(&p->kids[i], &p->kids[i + 1],
                    (p->nkids - i - 1) * sizeof(p->kids[0]));
            p->nkids--;
            break;
        }
    kid->parent = NULL;
}

static struct node *kid_named(const struct node *n, const char *name,
                              size_t len)
{
    unsigned i;

    for (i = 0; i < n->nkids; i++)
        if (!strncmp(n->kids[i]->name, name, len) &&
            !n->kids[i]->name[len])
            return n->kids[i];
    return NULL;
}

/* The length of path's first component (path points past a '/'). */
static size_t comp_len(const char *p)
{
    const char *slash = strchr(p, '/');

    return slash ? (size_t)(slash - p) : strlen(p);
}

/*
 * Walk an absolute path as far as it exists: the deepest existing node
 * on the way, and in *rest_r what of path is left below it ("" when the
 * whole path exists).
 */
static struct node *walk(struct node *root, const char *path,
                         const char **rest_r)
{
    const char *p = path + 1;
    struct node *n = root, *k;

    while (*p) {
        size_t len = comp_len(p);

        k = kid_named(n, p, len);
        if (!k)
            break;
        n = k;
        p += len;
        if (*p == '/')
            p++;
    }
    if (rest_r)
        *rest_r = p;
    return n;
}

static struct node *lookup(struct node *root, const char *path)
{
    const char *rest;
    struct node *n = walk(root, path, &rest);

    return *rest ? NULL : n;
}

static struct node *tree_clone(const struct node *n, struct node *parent)
{
    struct node *c;
    unsigned i;

    c = node_new(n->name, strlen(n->name), n->perms, n->nperms);
    if (!c)
        return NULL;
    free(c->val);
    c->val = mem_dup(n->val, n->len);
    c->len = n->len;
    c->gen = n->gen;
    c->parent = parent;
    if (!c->val)
        goto fail;
    if (n->nkids) {
        c->kids = xenshape__calloc(n->nkids, sizeof(*c->kids));
        if (!c->kids)
            goto fail;
        c->capkids = n->nkids;
        for (i = 0; i < n->nkids; i++) {
            c->kids[i] = tree_clone(n->kids[i], c);
            if (!c->kids[i])
                goto fail;
            c->nkids++;
        }
    }
    return c;
 fail:
    node_free(c);
    return NULL;
}

/* ---- permissions ------------------------------------------------------------ */

static unsigned perm_for(const xenshape__kv_perm *p, unsigned n,
                         uint32_t domid)
{
    unsigned i;

    if (domid == 0 || p[0].domid == domid)
        return PERM_RW | PERM_OWNER;
    for (i = 1; i < n; i++)
        if (p[i].domid == domid)
            return p[i].perms & PERM_RW;
    return p[0].perms & PERM_RW;
}

static bool may(const struct node *n, uint32_t domid, unsigned want)
{
    return (perm_for(n->perms, n->nperms, domid) & want) == want;
}

/* A missing node: ENOENT only for who may see the nearest ancestor (as
 * xenstored's errno_from_parents()), so absence leaks nothing. */
static int missing(struct node *root, const char *path, uint32_t domid,
                   unsigned want)
{
    return may(walk(root, path, NULL), domid, want) ? -ENOENT : -EACCES;
}

/* ---- paths --------------------------------------------------------------- */

static int special_index(const char *path)
{
    int i;

    for (i = 0; i < SPECIAL_NR; i++)
        if (!strcmp(path, special_names[i]))
            return i;
    return -1;
}

/*
 * The absolute form of a decoded path (len bytes) into out
 * (XENSHAPE__KV_PATH_MAX + 1 bytes): relative paths are under the
 * client's home, /local/domain/<domid>.  Valid as xenstored's
 * is_valid_nodename(): absolute, [A-Za-z0-9/_@-], no "//", no trailing
 * '/' but for the root.  special: "@name" allowed as is (watches, the
 * permissions of @introduceDomain and @releaseDomain).
 */
static int canon(uint32_t domid, const char *in, size_t len, bool special,
                 char *out, bool *relative_r)
{
    size_t i, n;
    int w;

    if (strlen(in) != len || !len)
        return -EINVAL;
    if (in[0] == '@') {
        if (!special || len > REL_PATH_MAX)
            return -EINVAL;
        for (i = 1; i < len; i++)
            if (!isalnum((unsigned char)in[i]) && !strchr("/_@-", in[i]))
                return -EINVAL;
        memcpy(out, in, len + 1);
        if (relative_r)
            *relative_r = false;
        return 0;
    }
    if (in[0] == '/')
        w = snprintf(out, XENSHAPE__KV_PATH_MAX + 1, "%s", in);
    else if (len > REL_PATH_MAX)
        return -EINVAL;
    else
        w = snprintf(out, XENSHAPE__KV_PATH_MAX + 1, "/local/domain/%u/%s",
                     domid, in);
    if (w < 0 || (size_t)w > XENSHAPE__KV_PATH_MAX)
        return -EINVAL;
    n = (size_t)w;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)out[i]) && !strchr("/_@-", out[i]))
            return -EINVAL;
    if (strstr(out, "//") || (n > 1 && out[n - 1] == '/'))
        return -EINVAL;
    if (relative_r)
        *relative_r = in[0] != '/';
    return 0;
}

/* path at or below top (both absolute). */
static bool at_or_below(const char *path, const char *top)
{
    size_t n = strlen(top);

    if (n == 1)
        return path[0] == '/';
    return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

/* ---- events ----------------------------------------------------------------- */

static void event_free(struct event *e)
{
    if (!e)
        return;
    free(e->path);
    free(e->token);
    free(e);
}

static void wake(struct xenshape__sim_kv_client *cl)
{
    uint64_t one = 1;
    ssize_t n;

    n = write(cl->efd, &one, sizeof(one));
    (void)n;
}

/* Queue an event for cl (path absolute, or special); a watch registered
 * with a relative path hears of it relative to the home.  An event that
 * cannot be queued (no memory, a full queue) is lost and counted, as a
 * watcher must cope with spurious and missed events anyway by
 * re-reading what it watches. */
static void enqueue(struct xenshape__sim_kv_client *cl,
                    const struct watch *w, const char *path)
{
    struct event *e = NULL;
    char home[32];
    size_t hl;

    if (w->relative) {
        hl = (size_t)snprintf(home, sizeof(home), "/local/domain/%u/",
                              cl->domid);
        if (!strncmp(path, home, hl))
            path += hl;
    }
    e = xenshape__calloc(1, sizeof(*e));
    if (e) {
        e->path = xenshape__strdup(path);
        e->token = xenshape__strdup(w->token);
    }
    if (!e || !e->path || !e->token) {
        event_free(e);
        cl->ev_dropped++;
        return;
    }
    if (cl->nev >= XENSHAPE__SIM_KV_EVENTS_MAX) {
        struct event *old = cl->ev_head;

        cl->ev_head = old->next;
        if (!cl->ev_head)
            cl->ev_tail = NULL;
        event_free(old);
        cl->nev--;
        cl->ev_dropped++;
    }
    if (cl->ev_tail)
        cl->ev_tail->next = e;
    else
        cl->ev_head = e;
    cl->ev_tail = e;
    cl->nev++;
    wake(cl);
}

static bool listening(const struct xenshape__sim_kv_client *cl)
{
    return !cl->closed && !cl->gone;
}

/* A change of path (written, created, permissions set): the watches at
 * or above it, for who may read it now. */
static void fire(struct xenshape__sim_kv *kv, const char *path,
                 const struct node *n)
{
    struct xenshape__sim_kv_client *cl;
    struct watch *w;

    for (cl = kv->clients; cl; cl = cl->next) {
        if (!listening(cl) || !may(n, cl->domid, XENSHAPE__KV_PERM_READ))
            continue;
        for (w = cl->watches; w; w = w->next)
            if (w->path[0] == '/' && at_or_below(path, w->path))
                enqueue(cl, w, path);
    }
}

/* path (node n) is about to be removed with everything below it: the
 * watches at or above it hear of path, those below it of their own path;
 * each for who may read the node as it is before the removal (the
 * deepest existing one on a watch's way). */
static void fire_rm(struct xenshape__sim_kv *kv, const char *path,
                    struct node *n)
{
    struct xenshape__sim_kv_client *cl;
    struct watch *w;

    for (cl = kv->clients; cl; cl = cl->next) {
        if (!listening(cl))
            continue;
        for (w = cl->watches; w; w = w->next) {
            if (w->path[0] != '/')
                continue;
            if (at_or_below(path, w->path)) {
                if (may(n, cl->domid, XENSHAPE__KV_PERM_READ))
                    enqueue(cl, w, path);
            } else if (at_or_below(w->path, path)) {
                if (may(walk(kv->root, w->path, NULL), cl->domid,
                        XENSHAPE__KV_PERM_READ))
                    enqueue(cl, w, w->path);
            }
        }
    }
}

static void fire_special(struct xenshape__sim_kv *kv, int which)
{
    struct xenshape__sim_kv_client *cl;
    struct watch *w;

    for (cl = kv->clients; cl; cl = cl->next) {
        if (!listening(cl) ||
            !(perm_for(kv->special[which], kv->nspecial[which], cl->domid) &
              XENSHAPE__KV_PERM_READ))
            continue;
        for (w = cl->watches; w; w = w->next)
            if (!strcmp(w->path, special_names[which]))
                enqueue(cl, w, w->path);
    }
}

/* ---- transactions' bookkeeping ------------------------------------------- */

/* Note that the transaction looked at path (first time only: what counts
 * is whether it existed at the start). */
static int note(struct op *o, const char *path)
{
    struct txn *t = o->t;
    struct access *a;
    unsigned i;

    if (!t || o->replay)
        return 0;
    for (i = t->nacc; i-- > 0;)
        if (!strcmp(t->acc[i].path, path))
            return 0;
    if (t->nacc == t->capacc) {
        unsigned cap = t->capacc ? t->capacc * 2 : 16;

        a = xenshape__realloc(t->acc, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        t->acc = a;
        t->capacc = cap;
    }
    a = &t->acc[t->nacc];
    a->path = xenshape__strdup(path);
    if (!a->path)
        return -ENOMEM;
    a->existed = lookup(t->root, path) != NULL;
    t->nacc++;
    return 0;
}

/* Note every node below n (path p), which a removal touches. */
static int note_tree(struct op *o, struct node *n, char *p, size_t plen)
{
    unsigned i;
    int r;

    for (i = 0; i < n->nkids; i++) {
        size_t l = strlen(n->kids[i]->name);

        if (plen + 1 + l > XENSHAPE__KV_PATH_MAX)
            continue;
        snprintf(p + plen, XENSHAPE__KV_PATH_MAX + 1 - plen, "%s%s",
                 plen == 1 ? "" : "/", n->kids[i]->name);
        r = note(o, p);
        if (!r)
            r = note_tree(o, n->kids[i], p,
                          plen + (plen == 1 ? 0 : 1) + l);
        p[plen] = '\0';
        if (r)
            return r;
    }
    return 0;
}

static void log_entry_clear(struct log_entry *e)
{
    free(e->path);
    free(e->val);
    free(e->perms);
    memset(e, 0, sizeof(*e));
}

/* Room for one more log entry and a filled one, so that an op that
 * succeeds can always be logged: prepared before the op, pushed after. */
static int log_prepare(struct op *o, struct log_entry *e, enum log_kind kind,
                       const char *path, const char *val, size_t len,
                       const xenshape__kv_perm *perms, unsigned nperms)
{
    struct txn *t = o->t;

    memset(e, 0, sizeof(*e));
    if (!t || o->replay)
        return 0;
    if (t->nlog == t->caplog) {
        unsigned cap = t->caplog ? t->caplog * 2 : 8;
        struct log_entry *l = xenshape__realloc(t->log, cap * sizeof(*l));

        if (!l)
            return -ENOMEM;
        t->log = l;
        t->caplog = cap;
    }
    e->kind = kind;
    e->path = xenshape__strdup(path);
    e->val = val ? mem_dup(val, len) : NULL;
    e->len = len;
    e->perms = perms ? perms_dup(perms, nperms) : NULL;
    e->nperms = nperms;
    if (!e->path || (val && !e->val) || (perms && !e->perms)) {
        log_entry_clear(e);
        return -ENOMEM;
    }
    return 0;
}

static void log_push(struct op *o, struct log_entry *e, int r)
{
    if (!o->t || o->replay)
        return;
    if (r)
        log_entry_clear(e);
    else
        o->t->log[o->t->nlog++] = *e;
}

static void txn_free(struct txn *t)
{
    unsigned i;

    if (!t)
        return;
    node_free(t->root);
    for (i = 0; i < t->nacc; i++)
        free(t->acc[i].path);
    free(t->acc);
    for (i = 0; i < t->nlog; i++)
        log_entry_clear(&t->log[i]);
    free(t->log);
    free(t);
}

/* ---- operations ------------------------------------------------------------ */

static struct node *root_of(const struct op *o)
{
    return o->t ? o->t->root : o->kv->root;
}

/* A change on the store itself (not a snapshot): a new generation. */
static void touched(struct op *o, struct node *n)
{
    if (!o->t)
        n->gen = ++o->kv->gen;
}

/* Nodes owned by domid: counted on the store, a delta in a transaction
 * (only the transaction's own domain's count matters: a quota). */
static void count_owner(struct op *o, uint32_t owner, long d)
{
    if (o->t) {
        if (owner == o->domid)
            o->t->delta += d;
    } else if (owner < DOMID_LIMIT) {
        o->kv->owned[owner] = (uint32_t)((long)o->kv->owned[owner] + d);
    }
}

static void count_tree(struct op *o, const struct node *n, long d)
{
    unsigned i;

    count_owner(o, n->perms[0].domid, d);
    for (i = 0; i < n->nkids; i++)
        count_tree(o, n->kids[i], d);
}

static int op_read(struct op *o, const char *path, char **val_r,
                   size_t *len_r)
{
    struct node *n;
    int r;

    r = note(o, path);
    if (r)
        return r;
    n = lookup(root_of(o), path);
    if (!n)
        return missing(root_of(o), path, o->domid, XENSHAPE__KV_PERM_READ);
    if (!may(n, o->domid, XENSHAPE__KV_PERM_READ))
        return -EACCES;
    *val_r = mem_dup(n->val, n->len);
    if (!*val_r)
        return -ENOMEM;
    *len_r = n->len;
    return 0;
}

/*
 * Write a value, creating the node and its missing ancestors as
 * xenstored does: they need write permission on the nearest existing
 * ancestor, inherit its permissions, and are owned by their creator when
 * that is not Dom0.  Nothing changes unless everything could be done.
 */
static int op_write(struct op *o, const char *path, const char *val,
                    size_t len)
{
    struct node *root = root_of(o), *n, *top = NULL, *bottom = NULL, *k;
    struct log_entry le;
    xenshape__kv_perm *perms = NULL;
    const char *rest, *p;
    unsigned count = 0;
    char *copy = NULL;
    int r;

    if (len > XENSHAPE__KV_VALUE_MAX)
        return -E2BIG;
    r = log_prepare(o, &le, LOG_WRITE, path, val, len, NULL, 0);
    if (r)
        return r;
    n = walk(root, path, &rest);
    /* What the write depends on: the node, and when it creates some,
     * the missing ancestors and the nearest existing one (whose list of
     * children changes), not those above it. */
    r = note(o, path);
    if (!r && *rest && n == root)
        r = note(o, "/");
    for (p = path; !r && *rest && (p = strchr(p + 1, '/'));) {
        char anc[XENSHAPE__KV_PATH_MAX + 1];

        if (p < rest - 1)
            continue;
        snprintf(anc, sizeof(anc), "%.*s", (int)(p - path), path);
        r = note(o, anc);
    }
    if (r)
        goto out;
    if (!may(n, o->domid, XENSHAPE__KV_PERM_WRITE)) {
        r = -EACCES;
        goto out;
    }
    copy = mem_dup(val, len);
    if (!copy) {
        r = -ENOMEM;
        goto out;
    }
    if (*rest) {
        /* Build the missing chain detached, then link it in one step. */
        for (p = rest; *p; p += *p == '/') {
            count++;
            p += comp_len(p);
        }
        if (o->domid && !o->replay) {
            long have = (long)o->kv->owned[o->domid] +
                (o->t ? o->t->delta : 0);

            if (have + (long)count > XENSHAPE__SIM_KV_NODES_PER_DOM) {
                r = -ENOSPC;
                goto out;
            }
        }
        perms = perms_dup(n->perms, n->nperms);
        if (!perms) {
            r = -ENOMEM;
            goto out;
        }
        if (o->domid)
            perms[0].domid = o->domid;
        for (p = rest; *p; p += *p == '/') {
            size_t l = comp_len(p);

            k = node_new(p, l, perms, n->nperms);
            if (!k || (bottom && kids_reserve(bottom))) {
                node_free(k);
                r = -ENOMEM;
                goto out;
            }
            if (bottom)
                link_kid(bottom, k);
            else
                top = k;
            bottom = k;
            p += l;
        }
        r = kids_reserve(n);
        if (r)
            goto out;
        link_kid(n, top);
        touched(o, n);
        for (k = top; k; k = k->nkids ? k->kids[0] : NULL) {
            touched(o, k);
            count_owner(o, k->perms[0].domid, 1);
        }
        n = bottom;
        top = NULL;
    }
    free(n->val);
    n->val = copy;
    n->len = len;
    copy = NULL;
    touched(o, n);
    if (!o->t)
        fire(o->kv, path, n);
    r = 0;
 out:
    node_free(top);
    free(perms);
    free(copy);
    log_push(o, &le, r);
    return r;
}

static int op_rm(struct op *o, const char *path)
{
    struct node *root = root_of(o), *n;
    struct log_entry le;
    char p[XENSHAPE__KV_PATH_MAX + 1];
    int r;

    if (!strcmp(path, "/"))
        return -EINVAL;
    r = log_prepare(o, &le, LOG_RM, path, NULL, 0, NULL, 0);
    if (r)
        return r;
    r = note(o, path);
    if (r)
        goto out;
    n = lookup(root, path);
    if (!n) {
        /* Already gone is what was wanted, if one may know it. */
        r = missing(root, path, o->domid, XENSHAPE__KV_PERM_WRITE);
        if (r == -ENOENT)
            r = 0;
        goto out;
    }
    if (!may(n, o->domid, XENSHAPE__KV_PERM_WRITE)) {
        r = -EACCES;
        goto out;
    }
    snprintf(p, sizeof(p), "%s", path);
    *strrchr(p, '/') = '\0';
    r = note(o, p[0] ? p : "/");
    if (!r) {
        snprintf(p, sizeof(p), "%s", path);
        r = note_tree(o, n, p, strlen(p));
    }
    if (r)
        goto out;
    if (!o->t)
        fire_rm(o->kv, path, n);
    touched(o, n->parent);
    count_tree(o, n, -1);
    unlink_kid(n);
    node_free(n);
    r = 0;
 out:
    log_push(o, &le, r);
    return r;
}

static int op_dir(struct op *o, const char *path, struct node **n_r)
{
    struct node *n;
    int r;

    r = note(o, path);
    if (r)
        return r;
    n = lookup(root_of(o), path);
    if (!n)
        return missing(root_of(o), path, o->domid, XENSHAPE__KV_PERM_READ);
    if (!may(n, o->domid, XENSHAPE__KV_PERM_READ))
        return -EACCES;
    *n_r = n;
    return 0;
}

static int check_perms(const xenshape__kv_perm *perms, unsigned n)
{
    unsigned i;

    if (!n)
        return -EINVAL;
    for (i = 0; i < n; i++)
        if (perms[i].domid >= DOMID_LIMIT || (perms[i].perms & ~PERM_RW))
            return -EINVAL;
    return 0;
}

/* Only the owner (or Dom0) may set permissions; only Dom0 may give the
 * node to another owner. */
static int op_set_perms(struct op *o, const char *path,
                        const xenshape__kv_perm *perms, unsigned np)
{
    struct node *n;
    struct log_entry le;
    xenshape__kv_perm *copy = NULL;
    int r;

    r = check_perms(perms, np);
    if (r)
        return r;
    if (o->domid && np > XENSHAPE__SIM_KV_PERMS)
        return -ENOSPC;
    r = log_prepare(o, &le, LOG_PERMS, path, NULL, 0, perms, np);
    if (r)
        return r;
    r = note(o, path);
    if (r)
        goto out;
    n = lookup(root_of(o), path);
    if (!n) {
        r = missing(root_of(o), path, o->domid,
                    XENSHAPE__KV_PERM_WRITE);
        goto out;
    }
    if (!(perm_for(n->perms, n->nperms, o->domid) & PERM_OWNER) ||
        !may(n, o->domid, XENSHAPE__KV_PERM_WRITE)) {
        r = -EACCES;
        goto out;
    }
    if (o->domid && perms[0].domid != n->perms[0].domid) {
        r = -EPERM;
        goto out;
    }
    copy = perms_dup(perms, np);
    if (!copy) {
        r = -ENOMEM;
        goto out;
    }
    count_owner(o, n->perms[0].domid, -1);
    count_owner(o, perms[0].domid, 1);
    free(n->perms);
    n->perms = copy;
    n->nperms = np;
    touched(o, n);
    if (!o->t)
        fire(o->kv, path, n);
    r = 0;
 out:
    log_push(o, &le, r);
    return r;
}

static int op_get_perms(struct op *o, const char *path, struct node **n_r)
{
    return op_dir(o, path, n_r);
}

/* The permissions of @introduceDomain and @releaseDomain: not nodes of
 * the tree and outside transactions, as in xenstored (Dom0 may let a
 * driver domain watch them). */
static int special_set_perms(struct xenshape__sim_kv *kv, uint32_t domid,
                             int which, const xenshape__kv_perm *perms,
                             unsigned np)
{
    xenshape__kv_perm *copy;
    int r;

    r = check_perms(perms, np);
    if (r)
        return r;
    if (!(perm_for(kv->special[which], kv->nspecial[which], domid) &
          PERM_OWNER))
        return -EACCES;
    if (domid && perms[0].domid != kv->special[which][0].domid)
        return -EPERM;
    copy = perms_dup(perms, np);
    if (!copy)
        return -ENOMEM;
    free(kv->special[which]);
    kv->special[which] = copy;
    kv->nspecial[which] = np;
    return 0;
}

/* ---- transactions -------------------------------------------------------- */

static struct txn *txn_find(struct xenshape__sim_kv_client *cl, uint32_t id)
{
    struct txn *t;

    for (t = cl->txns; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

static void txn_unlink(struct xenshape__sim_kv_client *cl, struct txn *t)
{
    struct txn **pp;

    for (pp = &cl->txns; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            cl->ntxns--;
            return;
        }
}

static int txn_start(struct xenshape__sim_kv_client *cl, uint32_t *id_r)
{
    struct xenshape__sim_kv *kv = cl->kv;
    struct txn *t;

    if (cl->domid && cl->ntxns >= XENSHAPE__SIM_KV_TXNS)
        return -ENOSPC;
    t = xenshape__calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->root = tree_clone(kv->root, NULL);
    if (!t->root) {
        free(t);
        return -ENOMEM;
    }
    t->start_gen = kv->gen;
    do {
        t->id = ++cl->next_txid;
    } while (t->id == XENSHAPE__KV_NO_TXN || txn_find(cl, t->id));
    t->next = cl->txns;
    cl->txns = t;
    cl->ntxns++;
    *id_r = t->id;
    return 0;
}

/* Did anything the transaction looked at change since it started? */
static bool txn_conflicts(struct xenshape__sim_kv *kv, const struct txn *t)
{
    unsigned i;

    for (i = 0; i < t->nacc; i++) {
        struct node *n = lookup(kv->root, t->acc[i].path);

        if (n ? n->gen > t->start_gen : t->acc[i].existed)
            return true;
    }
    return false;
}

static int txn_commit(struct xenshape__sim_kv_client *cl, struct txn *t)
{
    struct xenshape__sim_kv *kv = cl->kv;
    struct op o = { kv, cl->domid, NULL, true };
    unsigned i;
    int r;

    if (txn_conflicts(kv, t))
        return -EAGAIN;
    if (cl->domid && t->delta > 0 &&
        (long)kv->owned[cl->domid] + t->delta >
        XENSHAPE__SIM_KV_NODES_PER_DOM)
        return -ENOSPC;
    /* Every node these touch is as the transaction saw it: each change
     * does on the store what it did on the snapshot. */
    for (i = 0; i < t->nlog; i++) {
        struct log_entry *e = &t->log[i];

        switch (e->kind) {
        case LOG_WRITE:
            r = op_write(&o, e->path, e->val, e->len);
            break;
        case LOG_RM:
            r = op_rm(&o, e->path);
            break;
        default:
            r = op_set_perms(&o, e->path, e->perms, e->nperms);
            break;
        }
        if (r)
            XSLOG(kv->lg, ERROR, -r, "xenstore: replaying a committed "
                  "transaction of client %" PRIu64 " on %s", cl->id,
                  e->path);
    }
    return 0;
}

/* ---- clients -------------------------------------------------------------- */

static void client_drop_state(struct xenshape__sim_kv_client *cl)
{
    struct watch *w;
    struct txn *t;

    while ((w = cl->watches)) {
        cl->watches = w->next;
        free(w->path);
        free(w->orig);
        free(w->token);
        free(w);
    }
    while ((t = cl->txns)) {
        cl->txns = t->next;
        txn_free(t);
    }
    cl->ntxns = 0;
}

static void client_free(struct xenshape__sim_kv_client *cl)
{
    struct event *e;

    client_drop_state(cl);
    while ((e = cl->ev_head)) {
        cl->ev_head = e->next;
        event_free(e);
    }
    if (cl->efd >= 0)
        close(cl->efd);
    free(cl);
}

/* kv->lock held. */
static void client_put(struct xenshape__sim_kv_client *cl)
{
    if (--cl->refs == 0)
        client_free(cl);
}

static int client_new(struct xenshape__sim_kv *kv, uint32_t domid,
                      struct xenshape__sim_kv_client **cl_r)
{
    struct xenshape__sim_kv_client *cl;

    cl = xenshape__calloc(1, sizeof(*cl));
    if (!cl)
        return -ENOMEM;
    cl->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (cl->efd < 0) {
        int r = -errno;

        free(cl);
        return r;
    }
    cl->kv = kv;
    cl->id = ++kv->next_client;
    cl->domid = domid;
    cl->refs = 1;
    cl->next = kv->clients;
    kv->clients = cl;
    *cl_r = cl;
    return 0;
}

static void client_unlink(struct xenshape__sim_kv_client *cl)
{
    struct xenshape__sim_kv_client **pp;

    for (pp = &cl->kv->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            return;
        }
}

void xenshape__sim_kv_client_close(struct xenshape__sim_kv_client *cl)
{
    struct xenshape__sim_kv *kv;

    if (!cl)
        return;
    kv = cl->kv;
    pthread_mutex_lock(&kv->lock);
    cl->closed = true;
    client_unlink(cl);
    client_drop_state(cl);
    wake(cl);
    client_put(cl);
    pthread_mutex_unlock(&kv->lock);
}

static unsigned watches_of(struct xenshape__sim_kv *kv, uint32_t domid)
{
    struct xenshape__sim_kv_client *cl;
    struct watch *w;
    unsigned n = 0;

    for (cl = kv->clients; cl; cl = cl->next)
        if (cl->domid == domid && listening(cl))
            for (w = cl->watches; w; w = w->next)
                n++;
    return n;
}

/* ---- the store --------------------------------------------------------------- */

int xenshape__sim_kv_new(struct xenshape__sim_kv **kv_r,
                         xentoollog_logger *lg)
{
    static const xenshape__kv_perm dom0_only = { 0, XENSHAPE__KV_PERM_NONE };
    static const struct {
        const char *path, *val;
    } init[] = {
        /* What xenstored and xen-init-dom0 leave in a fresh store. */
        { "/tool/xenstored", "" },
        { "/local/domain/0/name", "Domain-0" },
        { "/local/domain/0/domid", "0" },
    };
    struct xenshape__sim_kv *kv = NULL;
    struct op o;
    unsigned i;
    int r;

    kv = xenshape__calloc(1, sizeof(*kv));
    if (!kv)
        return -ENOMEM;
    pthread_mutex_init(&kv->lock, NULL);
    kv->lg = lg;
    kv->owned = xenshape__calloc(DOMID_LIMIT, sizeof(*kv->owned));
    kv->introduced = xenshape__calloc(DOMID_LIMIT, sizeof(*kv->introduced));
    kv->root = node_new("", 0, &dom0_only, 1);
    if (!kv->owned || !kv->introduced || !kv->root) {
        r = -ENOMEM;
        goto out;
    }
    kv->owned[0] = 1;
    kv->root->gen = ++kv->gen;
    for (i = 0; i < SPECIAL_NR; i++) {
        kv->special[i] = perms_dup(&dom0_only, 1);
        if (!kv->special[i]) {
            r = -ENOMEM;
            goto out;
        }
        kv->nspecial[i] = 1;
    }
    o = (struct op){ kv, 0, NULL, false };
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(init); i++) {
        r = op_write(&o, init[i].path, init[i].val, strlen(init[i].val));
        if (r)
            goto out;
    }
    kv->introduced[0] = true;
    *kv_r = kv;
    kv = NULL;
    r = 0;
 out:
    xenshape__sim_kv_free(kv);
    return r;
}

void xenshape__sim_kv_free(struct xenshape__sim_kv *kv)
{
    struct xenshape__sim_kv_client *cl;
    unsigned i;

    if (!kv)
        return;
    /* Every connection has ended by now (the host joins them first);
     * whatever is left is freed for good. */
    while ((cl = kv->clients)) {
        kv->clients = cl->next;
        client_free(cl);
    }
    node_free(kv->root);
    for (i = 0; i < SPECIAL_NR; i++)
        free(kv->special[i]);
    free(kv->owned);
    free(kv->introduced);
    pthread_mutex_destroy(&kv->lock);
    free(kv);
}

void xenshape__sim_kv_set_logger(struct xenshape__sim_kv *kv,
                                 xentoollog_logger *lg)
{
    pthread_mutex_lock(&kv->lock);
    kv->lg = lg;
    pthread_mutex_unlock(&kv->lock);
}

/* ---- domains ----------------------------------------------------------------- */

static void uuid_text(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

/* As the toolstack, with explicit permissions (kv->lock held). */
static int put(struct xenshape__sim_kv *kv, const char *path,
               const char *val, const xenshape__kv_perm *perms, unsigned np)
{
    struct op o = { kv, 0, NULL, false };
    int r;

    r = op_write(&o, path, val, strlen(val));
    if (!r && perms)
        r = op_set_perms(&o, path, perms, np);
    return r;
}

void xenshape__sim_kv_dom_created(struct xenshape__sim_kv *kv,
                                  uint32_t domid, const char *name,
                                  const uint8_t uuid[16], uint64_t frames)
{
    /* libxl_create.c's layout: the home and /vm/<uuid> are Dom0's with
     * read access for the guest; the nodes the guest must write (its PV
     * drivers' and agent's) are the guest's own, hidden from others. */
    static const char *const guest_owned[] = {
        "control/shutdown", "control/feature-poweroff",
        "control/feature-reboot", "control/feature-suspend",
        "control/feature-s3", "control/feature-s4", "control/sysrq",
        "data", "drivers", "feature", "attr", "error",
        "device/suspend/event-channel",
    };
    static const char *const guest_ro_dirs[] = {
        "cpu", "memory", "device", "control",
    };
    const xenshape__kv_perm ro[2] = {
        { 0, XENSHAPE__KV_PERM_NONE }, { domid, XENSHAPE__KV_PERM_READ },
    };
    const xenshape__kv_perm rw[1] = { { domid, XENSHAPE__KV_PERM_NONE } };
    char home[48], vm[64], path[128], val[64], u[37];
    unsigned i;
    int r;

    if (domid == 0 || domid >= DOMID_LIMIT)
        return;
    uuid_text(uuid, u);
    snprintf(home, sizeof(home), "/local/domain/%u", domid);
    snprintf(vm, sizeof(vm), "/vm/%s", u);
    pthread_mutex_lock(&kv->lock);
    r = put(kv, home, "", ro, 2);
#define PUT(fmtval, perms, np, ...)                                  \
    do {                                                             \
        if (!r) {                                                    \
            snprintf(path, sizeof(path), __VA_ARGS__);               \
            r = put(kv, path, fmtval, perms, np);                    \
        }                                                            \
    } while (0)
    PUT(vm, NULL, 0, "%s/vm", home);
    PUT(name, NULL, 0, "%s/name", home);
    snprintf(val, sizeof(val), "%u", domid);
    PUT(val, NULL, 0, "%s/domid", home);
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(guest_ro_dirs); i++)
        PUT("", NULL, 0, "%s/%s", home, guest_ro_dirs[i]);
    snprintf(val, sizeof(val), "%" PRIu64, frames * 4);
    PUT(val, NULL, 0, "%s/memory/static-max", home);
    PUT(val, NULL, 0, "%s/memory/target", home);
    PUT("online", NULL, 0, "%s/cpu/0/availability", home);
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(guest_owned); i++)
        PUT("", rw, 1, "%s/%s", home, guest_owned[i]);
    PUT("", ro, 2, "%s", vm);
    PUT(u, NULL, 0, "%s/uuid", vm);
    PUT(name, NULL, 0, "%s/name", vm);
#undef PUT
    if (r)
        XSLOG(kv->lg, ERROR, -r, "xenstore: domain %u: cannot write its "
              "nodes (%s)", domid, path);
    kv->introduced[domid] = true;
    fire_special(kv, SPECIAL_INTRODUCE);
    pthread_mutex_unlock(&kv->lock);
}

/* XSA-322: a gone domain keeps nothing: its entries go, and what it
 * owned passes to Dom0.  Returns whether anything changed; *owner_r says
 * whether it was the owner. */
static bool revoke_perms(xenshape__kv_perm *p, unsigned *n, uint32_t domid,
                         bool *owner_r)
{
    unsigned i, j;
    bool changed = false;

    *owner_r = p[0].domid == domid;
    if (*owner_r) {
        p[0].domid = 0;
        changed = true;
    }
    for (i = j = 1; i < *n; i++) {
        if (p[i].domid == domid) {
            changed = true;
            continue;
        }
        p[j++] = p[i];
    }
    *n = j;
    return changed;
}

static void revoke_tree(struct xenshape__sim_kv *kv, struct node *n,
                        uint32_t domid)
{
    unsigned i;
    bool owner;

    if (revoke_perms(n->perms, &n->nperms, domid, &owner))
        n->gen = ++kv->gen;
    if (owner) {
        kv->owned[domid]--;
        kv->owned[0]++;
    }
    for (i = 0; i < n->nkids; i++)
        revoke_tree(kv, n->kids[i], domid);
}

void xenshape__sim_kv_dom_destroyed(struct xenshape__sim_kv *kv,
                                    uint32_t domid)
{
    struct op o = { kv, 0, NULL, false };
    struct xenshape__sim_kv_client *cl;
    char home[48], path[64], vmpath[XENSHAPE__KV_PATH_MAX + 1];
    char *val = NULL;
    size_t len;
    unsigned i;
    bool owner;
    int r;

    if (domid == 0 || domid >= DOMID_LIMIT)
        return;
    snprintf(home, sizeof(home), "/local/domain/%u", domid);
    snprintf(path, sizeof(path), "%s/vm", home);
    pthread_mutex_lock(&kv->lock);
    /* libxl finds /vm/<uuid> through the home's "vm". */
    if (!op_read(&o, path, &val, &len) && !strncmp(val, "/vm/", 4) &&
        val[4] && !strchr(val + 4, '/') &&
        !canon(0, val, len, false, vmpath, NULL)) {
        r = op_rm(&o, vmpath);
        if (r)
            XSLOG(kv->lg, ERROR, -r, "xenstore: domain %u: cannot remove "
                  "%s", domid, vmpath);
    }
    free(val);
    r = op_rm(&o, home);
    if (r)
        XSLOG(kv->lg, ERROR, -r, "xenstore: domain %u: cannot remove %s",
              domid, home);
    revoke_tree(kv, kv->root, domid);
    for (i = 0; i < SPECIAL_NR; i++)
        revoke_perms(kv->special[i], &kv->nspecial[i], domid, &owner);
    /* Its connections are cut, as xenstored releases the domain's. */
    for (cl = kv->clients; cl; cl = cl->next)
        if (cl->domid == domid && !cl->gone) {
            cl->gone = true;
            client_drop_state(cl);
            wake(cl);
        }
    kv->introduced[domid] = false;
    fire_special(kv, SPECIAL_RELEASE);
    pthread_mutex_unlock(&kv->lock);
}

/* ---- requests ------------------------------------------------------------- */

struct req {
    struct xenshape__sim_kv *kv;
    struct xenshape__sim_kv_client *cl;
    struct op op;
    char **argv;
    int argc;
    char *reply;
    size_t len;
};

typedef int req_fn(struct req *q);

/* Decode argument i as a path into out (absolute); *relative_r may be
 * NULL. */
static int arg_path(struct req *q, int i, bool special, char *out,
                    bool *relative_r)
{
    char *p = NULL;
    size_t len;
    int r;

    r = xenshape__sim_kv_decode(q->argv[i], &p, &len);
    if (r)
        return r;
    r = canon(q->cl->domid, p, len, special, out, relative_r);
    free(p);
    return r;
}

/* "OK " and the encoding of len bytes. */
static int reply_value(struct req *q, const char *val, size_t len)
{
    int w;

    memcpy(q->reply, "OK ", 4);
    w = xenshape__sim_kv_encode(q->reply + 3, q->len - 3, val, len);
    return w < 0 ? -E2BIG : 0;
}

static int req_read(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1], *val = NULL;
    size_t len = 0;
    int r;

    r = arg_path(q, 2, false, path, NULL);
    if (!r)
        r = op_read(&q->op, path, &val, &len);
    if (!r)
        r = reply_value(q, val, len);
    free(val);
    return r;
}

static int req_write(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1], *val = NULL;
    size_t len = 0;
    int r;

    r = arg_path(q, 2, false, path, NULL);
    if (!r)
        r = xenshape__sim_kv_decode(q->argv[3], &val, &len);
    if (!r)
        r = op_write(&q->op, path, val, len);
    free(val);
    return r;
}

static int req_rm(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1];
    int r;

    r = arg_path(q, 2, false, path, NULL);
    return r ? r : op_rm(&q->op, path);
}

static int req_dir(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1];
    struct node *n = NULL;
    size_t used;
    unsigned i;
    int r, w;

    r = arg_path(q, 2, false, path, NULL);
    if (!r)
        r = op_dir(&q->op, path, &n);
    if (r)
        return r;
    used = (size_t)snprintf(q->reply, q->len, "OK %u", n->nkids);
    for (i = 0; i < n->nkids; i++) {
        if (used + 2 >= q->len)
            return -E2BIG;
        q->reply[used++] = ' ';
        w = xenshape__sim_kv_encode(q->reply + used, q->len - used,
                                    n->kids[i]->name,
                                    strlen(n->kids[i]->name));
        /* xenstored answers E2BIG for a listing past its payload. */
        if (w < 0)
            return -E2BIG;
        used += (size_t)w;
    }
    return 0;
}

/* "n0", "r5", "w7", "b3", as xenstore-chmod writes them. */
static int parse_perm(const char *s, xenshape__kv_perm *p)
{
    static const char letters[] = "nrwb";
    const char *l = s[0] ? strchr(letters, s[0]) : NULL;
    unsigned long v;
    char *end;

    if (!l || !isdigit((unsigned char)s[1]))
        return -EINVAL;
    errno = 0;
    v = strtoul(s + 1, &end, 10);
    if (errno || *end || v >= DOMID_LIMIT)
        return -EINVAL;
    p->domid = (uint32_t)v;
    p->perms = (unsigned)(l - letters);
    return 0;
}

static int req_setperms(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1];
    xenshape__kv_perm perms[64];
    unsigned n = 0;
    int i, r, which;

    r = arg_path(q, 2, true, path, NULL);
    if (r)
        return r;
    for (i = 3; i < q->argc; i++) {
        if (n == XENSHAPE__ARRAY_SIZE(perms))
            return -E2BIG;
        r = parse_perm(q->argv[i], &perms[n++]);
        if (r)
            return r;
    }
    if (path[0] == '@') {
        which = special_index(path);
        if (which < 0)
            return -ENOENT;
        if (q->op.t)
            return -EINVAL;
        return special_set_perms(q->kv, q->cl->domid, which, perms, n);
    }
    return op_set_perms(&q->op, path, perms, n);
}

static int reply_perms(struct req *q, const xenshape__kv_perm *p,
                       unsigned n)
{
    static const char letters[] = "nrwb";
    size_t used;
    unsigned i;

    used = (size_t)snprintf(q->reply, q->len, "OK");
    for (i = 0; i < n; i++) {
        int w = snprintf(q->reply + used, q->len - used, " %c%u",
                         letters[p[i].perms & PERM_RW], p[i].domid);

        if (w < 0 || (size_t)w >= q->len - used)
            return -E2BIG;
        used += (size_t)w;
    }
    return 0;
}

static int req_getperms(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1];
    struct node *n = NULL;
    int r, which;

    r = arg_path(q, 2, true, path, NULL);
    if (r)
        return r;
    if (path[0] == '@') {
        which = special_index(path);
        if (which < 0)
            return -ENOENT;
        if (!(perm_for(q->kv->special[which], q->kv->nspecial[which],
                       q->cl->domid) & XENSHAPE__KV_PERM_READ))
            return -EACCES;
        return reply_perms(q, q->kv->special[which], q->kv->nspecial[which]);
    }
    r = op_get_perms(&q->op, path, &n);
    return r ? r : reply_perms(q, n->perms, n->nperms);
}

static int req_txstart(struct req *q)
{
    uint32_t id;
    int r;

    r = txn_start(q->cl, &id);
    if (!r)
        snprintf(q->reply, q->len, "OK %u", id);
    return r;
}

static int req_txend(struct req *q)
{
    bool commit = !strcasecmp(q->argv[2], "commit");
    struct txn *t;
    int r;

    if (!commit && strcasecmp(q->argv[2], "abort"))
        return -EINVAL;
    /* The id was checked and the transaction found by the caller. */
    t = q->op.t;
    if (!t)
        return -EINVAL;
    txn_unlink(q->cl, t);
    r = commit ? txn_commit(q->cl, t) : 0;
    txn_free(t);
    q->op.t = NULL;
    return r;
}

static int req_watch(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1];
    struct watch *w = NULL;
    char *token = NULL;
    bool relative = false;
    int r;

    r = arg_path(q, 1, true, path, &relative);
    if (!r)
        r = xenshape__sim_kv_decode(q->argv[2], &token, NULL);
    if (r)
        goto out;
    if (q->cl->domid &&
        watches_of(q->kv, q->cl->domid) >= XENSHAPE__SIM_KV_WATCHES) {
        r = -E2BIG;
        goto out;
    }
    for (w = q->cl->watches; w; w = w->next)
        if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
            w = NULL;
            r = -EEXIST;
            goto out;
        }
    w = xenshape__calloc(1, sizeof(*w));
    if (!w) {
        r = -ENOMEM;
        goto out;
    }
    w->path = xenshape__strdup(path);
    w->relative = relative;
    w->token = token;
    token = NULL;
    if (relative) {
        r = xenshape__sim_kv_decode(q->argv[1], &w->orig, NULL);
        if (r)
            goto out;
    } else {
        w->orig = xenshape__strdup(path);
    }
    if (!w->path || !w->orig) {
        r = -ENOMEM;
        goto out;
    }
    w->next = q->cl->watches;
    q->cl->watches = w;
    /* Fires once at once, whatever the permissions: the path is the
     * watcher's own, so the event tells nothing. */
    enqueue(q->cl, w, w->path);
    w = NULL;
    r = 0;
 out:
    if (w) {
        free(w->path);
        free(w->orig);
        free(w->token);
        free(w);
    }
    free(token);
    return r;
}

static int req_unwatch(struct req *q)
{
    char path[XENSHAPE__KV_PATH_MAX + 1];
    struct xenshape__sim_kv_client *cl = q->cl;
    struct watch **pp, *w;
    struct event **ep, *e;
    char *token = NULL;
    int r;

    r = arg_path(q, 1, true, path, NULL);
    if (!r)
        r = xenshape__sim_kv_decode(q->argv[2], &token, NULL);
    if (r)
        goto out;
    r = -ENOENT;
    for (pp = &cl->watches; (w = *pp); pp = &w->next)
        if (!strcmp(w->path, path) && !strcmp(w->token, token))
            break;
    if (!w)
        goto out;
    *pp = w->next;
    /* As XS_UNWATCH_FILTER: nothing of it arrives after this reply
     * (events already pushed to the peer are its to filter). */
    for (ep = &cl->ev_head; (e = *ep);) {
        if (!strcmp(e->token, token) &&
            (w->relative ? !strncmp(e->path, w->orig, strlen(w->orig))
                         : (!strcmp(e->path, w->path) ||
                            (w->path[0] == '/' &&
                             at_or_below(e->path, w->path))))) {
            *ep = e->next;
            event_free(e);
            cl->nev--;
            continue;
        }
        ep = &e->next;
    }
    cl->ev_tail = NULL;
    for (e = cl->ev_head; e; e = e->next)
        cl->ev_tail = e;
    free(w->path);
    free(w->orig);
    free(w->token);
    free(w);
    r = 0;
 out:
    free(token);
    return r;
}

static const struct {
    const char *name;
    int min_argc, max_argc;
    bool txn;                        /* argv[1] is a transaction id */
    req_fn *fn;
} requests[] = {
    { "KVREAD",     3, 3,  true,  req_read },
    { "KVWRITE",    4, 4,  true,  req_write },
    { "KVRM",       3, 3,  true,  req_rm },
    { "KVDIR",      3, 3,  true,  req_dir },
    { "KVSETPERMS", 4, 64, true,  req_setperms },
    { "KVGETPERMS", 3, 3,  true,  req_getperms },
    { "KVTXSTART",  1, 1,  false, req_txstart },
    { "KVTXEND",    3, 3,  true,  req_txend },
    { "KVWATCH",    3, 3,  false, req_watch },
    { "KVUNWATCH",  3, 3,  false, req_unwatch },
};

static int parse_u32(const char *s, uint32_t max, uint32_t *v)
{
    unsigned long long x;
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (errno || *end || x > max)
        return -EINVAL;
    *v = (uint32_t)x;
    return 0;
}

/* KVOPEN [domid]: the connection's identity, before anything else. */
static int req_open(struct xenshape__sim_kv *kv,
                    struct xenshape__sim_kv_client **clp, char **argv,
                    int argc, char *reply, size_t len)
{
    uint32_t domid = 0;
    int r;

    if (argc > 2 || (argc == 2 && parse_u32(argv[1], UINT32_MAX, &domid)))
        return -EINVAL;
    if (*clp)
        return -EBUSY;
    if (domid >= DOMID_LIMIT || !kv->introduced[domid])
        return -ESRCH;
    r = client_new(kv, domid, clp);
    if (r)
        return r;
    snprintf(reply, len, "OK domid=%u client=%" PRIu64, domid, (*clp)->id);
    return 0;
}

/* KVEVENTS <client>: this connection carries that client's events. */
static int req_events(struct xenshape__sim_kv *kv,
                      struct xenshape__sim_kv_client *own, char **argv,
                      int argc, struct xenshape__sim_kv_client **events_r)
{
    struct xenshape__sim_kv_client *cl;
    unsigned long long id;
    char *end;

    if (argc != 2 || !isdigit((unsigned char)argv[1][0]))
        return -EINVAL;
    errno = 0;
    id = strtoull(argv[1], &end, 10);
    if (errno || *end)
        return -EINVAL;
    if (own)
        return -EBUSY;
    for (cl = kv->clients; cl; cl = cl->next)
        if (cl->id == id)
            break;
    if (!cl || cl->closed)
        return -ENOENT;
    if (cl->serving)
        return -EBUSY;
    cl->serving = true;
    cl->refs++;
    *events_r = cl;
    return 0;
}

void xenshape__sim_kv_handle(struct xenshape__sim_kv *kv,
                             struct xenshape__sim_kv_client **clp,
                             struct xenshape__sim_kv_client **events_r,
                             char **argv, int argc, char *reply, size_t len)
{
    struct req q;
    uint32_t id;
    size_t i;
    int r;

    *events_r = NULL;
    reply[0] = '\0';
    pthread_mutex_lock(&kv->lock);
    if (!strcasecmp(argv[0], "KVEVENTS")) {
        r = req_events(kv, *clp, argv, argc, events_r);
        goto out;
    }
    if (!strcasecmp(argv[0], "KVOPEN")) {
        r = req_open(kv, clp, argv, argc, reply, len);
        goto out;
    }
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(requests); i++)
        if (!strcasecmp(argv[0], requests[i].name))
            break;
    if (i == XENSHAPE__ARRAY_SIZE(requests) || argc < requests[i].min_argc ||
        argc > requests[i].max_argc) {
        r = -EINVAL;
        goto out;
    }
    /* A connection that did not say who it is is Dom0's. */
    if (!*clp) {
        r = client_new(kv, 0, clp);
        if (r)
            goto out;
    }
    if ((*clp)->gone) {
        r = -ENOTCONN;
        goto out;
    }
    memset(&q, 0, sizeof(q));
    q.kv = kv;
    q.cl = *clp;
    q.op = (struct op){ kv, q.cl->domid, NULL, false };
    q.argv = argv;
    q.argc = argc;
    q.reply = reply;
    q.len = len;
    if (requests[i].txn) {
        r = parse_u32(argv[1], UINT32_MAX, &id);
        if (r)
            goto out;
        if (id != XENSHAPE__KV_NO_TXN) {
            q.op.t = txn_find(q.cl, id);
            if (!q.op.t) {
                r = -ENOENT;
                goto out;
            }
        }
    }
    r = requests[i].fn(&q);
 out:
    if (r)
        snprintf(reply, len, "ERR %s %s: %s", xenshape__sim_errno_name(r),
                 argv[0], strerror(-r));
    else if (!reply[0])
        snprintf(reply, len, "OK");
    pthread_mutex_unlock(&kv->lock);
}

/* ---- pushing events ------------------------------------------------------- */

void xenshape__sim_kv_events_serve(struct xenshape__sim_kv_client *cl,
                                   int sock)
{
    struct xenshape__sim_kv *kv = cl->kv;
    char *pkt = xenshape__malloc(XENSHAPE__SIM_KV_MSG_MAX);
    bool stop = !pkt;

    while (!stop) {
        struct pollfd pf[2] = { { sock, POLLIN, 0 }, { cl->efd, POLLIN, 0 } };
        struct event *batch, *e;
        uint64_t cnt;
        ssize_t n;

        pthread_mutex_lock(&kv->lock);
        batch = cl->ev_head;
        cl->ev_head = cl->ev_tail = NULL;
        cl->nev = 0;
        stop = cl->closed;
        pthread_mutex_unlock(&kv->lock);
        while ((e = batch)) {
            size_t used;
            int w;

            batch = e->next;
            memcpy(pkt, "EVENT ", 6);
            used = 6;
            w = xenshape__sim_kv_encode(pkt + used,
                                        XENSHAPE__SIM_KV_MSG_MAX - used,
                                        e->path, strlen(e->path));
            if (w >= 0) {
                used += (size_t)w;
                pkt[used++] = ' ';
                w = xenshape__sim_kv_encode(pkt + used,
                                            XENSHAPE__SIM_KV_MSG_MAX - used,
                                            e->token, strlen(e->token));
            }
            if (w >= 0 && !stop) {
                used += (size_t)w;
                while ((n = send(sock, pkt, used, MSG_NOSIGNAL)) < 0 &&
                       errno == EINTR)
                    ;
                if (n < 0)
                    stop = true;
            }
            event_free(e);
        }
        if (stop)
            break;
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents) {
            char buf[64];

            /* The peer sends nothing on this connection: anything is
             * its end (0) or its failure. */
            n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                break;
        }
        if (pf[1].revents)
            n = read(cl->efd, &cnt, sizeof(cnt));
    }
    free(pkt);
    pthread_mutex_lock(&kv->lock);
    cl->serving = false;
    client_put(cl);
    pthread_mutex_unlock(&kv->lock);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
