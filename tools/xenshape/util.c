/*
 * util.c - xenstore for the xenshape command: the connection (the kv
 * port's "xen" backend, or "sim" over the simulated host's socket, as
 * xenshaped chooses it), domains found by name or domid through libxl's
 * layout (/local/domain/<domid>/name, ~/vm -> /vm/<uuid>,
 * ~/memory/static-max), the schema's keys read for a domain, and policy
 * written after the schema has checked every value.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <xenshape.h>

#include "xenshape_cli.h"

static xenshape__kv_handle *kv;
static xentoollog_logger_stdiostream *logger;

static void close_kv(void)
{
    xenshape__kv_close(kv);
    kv = NULL;
    if (logger)
        xtl_logger_destroy((xentoollog_logger *)logger);
    logger = NULL;
}

xenshape__kv_handle *cli_kv(void)
{
    const char *arg = NULL;
    int rc;

    if (kv)
        return kv;
    if (cli_verbose && !logger)
        logger = xtl_createlogger_stdiostream(stderr, XTL_DEBUG, 0);
    /* The daemon's default for the simulated host's socket, too. */
    if (!strcmp(cli_opts.backend, "sim"))
        arg = cli_opts.sim_socket ? cli_opts.sim_socket
                                  : "/run/xenshape/simhost.sock";
    rc = xenshape__kv_open(&kv, cli_opts.backend, arg,
                           (xentoollog_logger *)logger);
    if (rc) {
        if (arg)
            cli_err("cannot connect to the simulated host's xenstore at "
                    "%s: %s", arg, xenshape_strerror(rc));
        else
            cli_err("cannot connect to xenstore: %s (is xenstored "
                    "running, and are you root?)", xenshape_strerror(rc));
        kv = NULL;
        return NULL;
    }
    atexit(close_kv);
    return kv;
}

static char *vread(const char *fmt, va_list ap)
{
    char path[XENSHAPE__KV_PATH_MAX], *val = NULL;
    size_t len;

    vsnprintf(path, sizeof(path), fmt, ap);
    if (!cli_kv() || xenshape__kv_read(kv, XENSHAPE__KV_NO_TXN, path, &val,
                                       &len) < 0)
        return NULL;
    return val;
}

char *cli_read(const char *fmt, ...)
{
    va_list ap;
    char *v;

    va_start(ap, fmt);
    v = vread(fmt, ap);
    va_end(ap);
    return v;
}

static char *scoped(enum xenshape__schema_scope scope, const char *id,
                    const char *key)
{
    char path[XENSHAPE__SCHEMA_PATH_MAX];

    if (xenshape__schema_path(path, sizeof(path), scope, id, key))
        return NULL;
    return cli_read("%s", path);
}

char *cli_status(uint32_t domid, const char *key)
{
    char id[16];

    snprintf(id, sizeof(id), "%u", domid);
    return scoped(XENSHAPE__SCOPE_STATUS, id, key);
}

char *cli_policy(const struct cli_dom *d, const char *key)
{
    return d->uuid[0] ? scoped(XENSHAPE__SCOPE_VM, d->uuid, key) : NULL;
}

char *cli_hstatus(const char *key)
{
    return scoped(XENSHAPE__SCOPE_HSTATUS, NULL, key);
}

void cli_frames_mib(char *buf, size_t n, const char *frames)
{
    char *end;
    unsigned long long f;

    if (!frames || !*frames) {
        snprintf(buf, n, "-");
        return;
    }
    f = strtoull(frames, &end, 10);
    if (*end)
        snprintf(buf, n, "?");
    else
        snprintf(buf, n, "%llu", (f * 4 + 1023) / 1024);
}

/* Fill d from /local/domain/<domid>.  false: no such domain. */
static bool describe(uint32_t domid, struct cli_dom *d)
{
    char *name, *vm, *max;

    memset(d, 0, sizeof(*d));
    d->domid = domid;
    name = cli_read("/local/domain/%u/name", domid);
    if (!name)
        return false;
    snprintf(d->name, sizeof(d->name), "%s", name);
    free(name);
    vm = cli_read("/local/domain/%u/vm", domid);
    if (vm && !strncmp(vm, "/vm/", 4) && strlen(vm + 4) < sizeof(d->uuid))
        snprintf(d->uuid, sizeof(d->uuid), "%s", vm + 4);
    free(vm);
    max = cli_read("/local/domain/%u/memory/static-max", domid);
    if (max)
        d->presented_kib = strtoull(max, NULL, 10);
    free(max);
    return true;
}

static int by_domid(const void *a, const void *b)
{
    const struct cli_dom *x = a, *y = b;

    return x->domid < y->domid ? -1 : x->domid > y->domid;
}

/* Every domain, Dom0 too when dom0 is set. */
static int all_domains(struct cli_dom **doms_r, unsigned *nr_r, bool dom0)
{
    struct cli_dom *doms = NULL;
    char **names = NULL;
    unsigned n = 0, i, nr = 0;
    int r, rc;

    if (!cli_kv()) {
        rc = EXIT_FAIL;
        goto out;
    }
    r = xenshape__kv_directory(kv, XENSHAPE__KV_NO_TXN, "/local/domain",
                               &names, &n);
    if (r < 0) {
        cli_err("cannot list /local/domain in xenstore: %s", strerror(-r));
        rc = EXIT_FAIL;
        goto out;
    }
    doms = calloc(n ? n : 1, sizeof(*doms));
    if (!doms) {
        cli_err("out of memory");
        rc = EXIT_FAIL;
        goto out;
    }
    for (i = 0; i < n; i++) {
        char *end;
        unsigned long id = strtoul(names[i], &end, 10);

        if (*end || !names[i][0] || id > UINT32_MAX || (!dom0 && !id))
            continue;
        /* Gone since the directory was read: not listed. */
        if (describe((uint32_t)id, &doms[nr]))
            nr++;
    }
    qsort(doms, nr, sizeof(*doms), by_domid);
    *doms_r = doms;
    doms = NULL;
    *nr_r = nr;
    rc = 0;
 out:
    free(doms);
    xenshape__kv_free_list(names);
    return rc;
}

int cli_list_domains(struct cli_dom **doms_r, unsigned *nr_r)
{
    return all_domains(doms_r, nr_r, false);
}

/* arg as a domid: all digits, at most UINT32_MAX. */
static bool as_domid(const char *arg, uint32_t *domid_r)
{
    unsigned long long v;
    char *end;

    if (!*arg || strspn(arg, "0123456789") != strlen(arg))
        return false;
    v = strtoull(arg, &end, 10);
    if (v > UINT32_MAX)
        return false;
    *domid_r = (uint32_t)v;
    return true;
}

int cli_find_domain(const char *arg, struct cli_dom *d_r)
{
    struct cli_dom *doms = NULL;
    unsigned nr = 0, i;
    uint32_t domid;
    int rc;

    rc = all_domains(&doms, &nr, true);
    if (rc)
        goto out;
    /* A number is a domid first, then a name, as xl's find_domain. */
    i = nr;
    if (as_domid(arg, &domid))
        for (i = 0; i < nr && doms[i].domid != domid; i++)
            ;
    if (i == nr)
        for (i = 0; i < nr && strcmp(doms[i].name, arg); i++)
            ;
    if (i == nr) {
        cli_err("no such domain: '%s' (not a domid nor a name in "
                "xenstore)", arg);
        rc = EXIT_FAIL;
        goto out;
    }
    if (doms[i].domid == 0) {
        cli_err("'%s' is Dom0, which xenshape does not shape", arg);
        rc = EXIT_FAIL;
        goto out;
    }
    *d_r = doms[i];
    rc = 0;
 out:
    free(doms);
    return rc;
}

/* ---- writing policy --------------------------------------------------- */

struct policy_write {
    const char *dir;                 /* /xenshape/vm/<uuid> */
    const char *keys[XENSHAPE__SCHEMA_NR_VM];
    const char *vals[XENSHAPE__SCHEMA_NR_VM];  /* NULL: remove */
    unsigned n;
};

static int policy_txn(xenshape__kv_handle *h, xenshape__kv_txn t, void *arg)
{
    /* Dom0 only, as the schema says, set explicitly on what we create
     * (inheritance differs between xenstored and oxenstored). */
    static const xenshape__kv_perm n0 = { 0, XENSHAPE__KV_PERM_NONE };
    struct policy_write *w = arg;
    char path[XENSHAPE__KV_PATH_MAX], *val = NULL;
    size_t len;
    unsigned i;
    bool fresh_dir, wrote = false;
    int r;

    r = xenshape__kv_read(h, t, w->dir, &val, &len);
    free(val);
    val = NULL;
    if (r < 0 && r != -ENOENT)
        return r;
    fresh_dir = r == -ENOENT;
    for (i = 0; i < w->n; i++) {
        bool fresh;

        snprintf(path, sizeof(path), "%s/%s", w->dir, w->keys[i]);
        if (!w->vals[i]) {
            r = xenshape__kv_rm(h, t, path);
            if (r < 0)
                return r;
            continue;
        }
        r = xenshape__kv_read(h, t, path, &val, &len);
        free(val);
        val = NULL;
        if (r < 0 && r != -ENOENT)
            return r;
        fresh = r == -ENOENT;
        r = xenshape__kv_write_str(h, t, path, w->vals[i]);
        if (r == 0 && fresh)
            r = xenshape__kv_set_perms(h, t, path, &n0, 1);
        if (r < 0)
            return r;
        wrote = true;
    }
    /* Only removals on a VM without policy: nothing was created. */
    if (fresh_dir && wrote)
        return xenshape__kv_set_perms(h, t, w->dir, &n0, 1);
    return 0;
}

/* The VM's policy as written now, applied onto the defaults. */
static void read_written(const struct cli_dom *d, xenshape__dompolicy *p)
{
    xenshape__schema_kv in[XENSHAPE__SCHEMA_NR_VM];
    char *vals[XENSHAPE__SCHEMA_NR_VM] = { NULL };
    unsigned k, n = 0;

    xenshape__dompolicy_init(p);
    for (k = 0; k < XENSHAPE__SCHEMA_NR_KEYS; k++) {
        const xenshape__schema_key *key = &xenshape__schema_keys[k];

        if (key->scope != XENSHAPE__SCOPE_VM)
            continue;
        vals[n] = cli_policy(d, key->name);
        if (!vals[n])
            continue;
        in[n].key = key->name;
        in[n].value = vals[n];
        in[n].len = strlen(vals[n]);
        n++;
    }
    xenshape__dompolicy_apply(p, in, n, XENSHAPE__APPLY_FULL);
    for (k = 0; k < n; k++)
        free(vals[k]);
}

int cli_policy_parse(const struct cmd_spec *c, char **words, unsigned n,
                     struct cli_policy *p)
{
    unsigned i, j;

    p->words = words;
    p->n = 0;
    for (i = 0; i < n; i++) {
        const char *eq = strchr(words[i], '=');
        const xenshape__schema_key *k;
        xenshape__schema_val v;
        char why[XENSHAPE__SCHEMA_WHY_MAX], name[64], *canon;
        size_t kl;

        if (!eq || eq == words[i])
            return cli_usage_error(c, "bad argument '%s': want KEY=VALUE",
                                   words[i]);
        kl = eq - words[i];
        k = NULL;
        if (kl < sizeof(name)) {
            snprintf(name, sizeof(name), "%.*s", (int)kl, words[i]);
            k = xenshape__schema_lookup(XENSHAPE__SCOPE_VM, name);
        }
        if (!k) {
            char list[512] = "";
            unsigned q;

            for (q = 0; q < XENSHAPE__SCHEMA_NR_KEYS; q++) {
                size_t o = strlen(list);

                if (xenshape__schema_keys[q].scope == XENSHAPE__SCOPE_VM)
                    snprintf(list + o, sizeof(list) - o, "%s%s",
                             o ? " " : "", xenshape__schema_keys[q].name);
            }
            return cli_usage_error(c, "unknown key in '%s'; the keys are: "
                                   "%s", words[i], list);
        }
        /* A key of scope vm, given once: at most XENSHAPE__SCHEMA_NR_VM
         * words get past here, so keys[], in[] and canon[] cannot
         * overflow. */
        for (j = 0; j < p->n; j++)
            if (p->keys[j] == k)
                return cli_usage_error(c, "key %s given twice ('%s')",
                                       k->name, words[i]);
        canon = p->canon[p->n];
        if (eq[1] && xenshape__schema_parse(k, eq + 1, strlen(eq + 1), &v,
                                            why, sizeof(why)))
            return cli_usage_error(c, "bad value in '%s': %s", words[i],
                                   why);
        if (eq[1] && xenshape__schema_format(k, &v, canon,
                                             sizeof(p->canon[0])))
            snprintf(canon, sizeof(p->canon[0]), "%s", eq + 1);
        p->keys[p->n] = k;
        p->in[p->n].key = k->name;
        p->in[p->n].value = eq[1] ? canon : NULL;
        p->in[p->n].len = eq[1] ? strlen(canon) : 0;
        p->n++;
    }
    return 0;
}

int cli_policy_check(const struct cmd_spec *c, const struct cli_policy *p,
                     xenshape__dompolicy *written)
{
    unsigned i;

    memset(written->why, 0, sizeof(written->why));
    xenshape__dompolicy_apply(written, p->in, p->n, 0);
    /* Every word gave one key, in order: word i is the one to name. */
    for (i = 0; i < p->n; i++)
        if (written->why[p->keys[i]->index][0])
            return cli_usage_error(c, "bad value in '%s': %s", p->words[i],
                                   written->why[p->keys[i]->index]);
    return 0;
}

int cli_set_policy(const struct cmd_spec *c, const struct cli_dom *d,
                   char **words, unsigned n)
{
    /* Static: canon[] is large for the stack. */
    static struct cli_policy p;
    struct policy_write w;
    xenshape__dompolicy pol;
    char dir[XENSHAPE__SCHEMA_PATH_MAX];
    unsigned i;
    int r, rc;

    memset(&w, 0, sizeof(w));
    /* First every word on its own: the key exists, the value parses. */
    rc = cli_policy_parse(c, words, n, &p);
    if (rc)
        return rc;
    /* Then all together on what is written: the constraints between
     * keys (min-starting >= min-operating, threshold-low <= -high). */
    if (!cli_kv())
        return EXIT_FAIL;
    read_written(d, &pol);
    rc = cli_policy_check(c, &p, &pol);
    if (rc)
        return rc;

    if (!d->uuid[0]) {
        cli_err("domain %u (%s) has no /vm/<uuid> in xenstore: its policy "
                "has nowhere to go", d->domid, d->name);
        return EXIT_FAIL;
    }
    if (xenshape__schema_path(dir, sizeof(dir), XENSHAPE__SCOPE_VM, d->uuid,
                              NULL)) {
        cli_err("domain %u (%s): '%s' is not a UUID", d->domid, d->name,
                d->uuid);
        return EXIT_FAIL;
    }
    w.dir = dir;
    for (i = 0; i < p.n; i++) {
        w.keys[i] = p.in[i].key;
        w.vals[i] = p.in[i].value;
    }
    w.n = p.n;
    r = xenshape__kv_transact(kv, policy_txn, &w);
    if (r < 0) {
        cli_err("cannot write the policy of domain %u (%s) under %s: %s",
                d->domid, d->name, dir, strerror(-r));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
