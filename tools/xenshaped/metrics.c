/*
 * metrics.c - xenshaped's metrics file: per-domain and page-store figures
 * in the Prometheus text exposition format (version 0.0.4), the format of
 * node_exporter's textfile collector, so that a host already scraped by
 * node_exporter needs nothing more than --metrics-file pointing into its
 * collector directory.
 *
 * The format wants every sample of a metric together, after its HELP and
 * TYPE lines; the daemon visits domain after domain.  So a file is built
 * in two steps: metrics_domain() keeps one row per domain, and
 * metrics_commit() writes the families one after the other from the
 * rows.  The file is written beside its final name and renamed over it:
 * the collector reads it at any moment and must never see half of one.
 * The temporary name ends in ".tmp", which the collector (reading *.prom)
 * ignores.
 *
 * The figures are those of the status file written in the same tick, from
 * the same calls, and the shaper's meters are those it writes to xenstore:
 * the three never disagree for one tick.  Domain names come from
 * xenstore (/local/domain/<domid>/name), read once per domain: a name is
 * a label, and labels that change split a series.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"
#include "kv/kv.h"
#include "metrics.h"

/* Longer names are cut: a label is for telling domains apart. */
#define NAME_MAX_LEN 128

struct mrow {
    uint32_t domid;
    char uuid[37];
    char name[NAME_MAX_LEN];
    bool paging;                     /* false: balloon fallback */
    uint64_t resident, paged, max, target;     /* target UINT64_MAX: none */
    uint64_t faults, loaded, evicted, corrupt, lost;
    bool shaped;                     /* sh: the shaper knows it */
    struct shaper_view sh;
};

/* A name read from xenstore, kept while the domain lives. */
struct mname {
    uint32_t domid;
    bool seen;
    char name[NAME_MAX_LEN];
};

struct metrics {
    xentoollog_logger *lg;
    char *path;
    xenshape__kv_handle *kv;         /* NULL: names stay empty */
    bool shaping;                    /* a shaper gave rows: states known */
    long long time;
    uint64_t host_frames, host_free;
    bool have_store;
    xenshape_storestats ss;
    struct mrow *rows;
    unsigned nr, cap;
    struct mname *names;
    unsigned nr_names, cap_names;
    bool failed_once;                /* a write failure was logged */
};

int metrics_open(struct metrics **m_r, const char *path,
                 xentoollog_logger *lg, const char *kv_backend,
                 const char *kv_arg)
{
    struct metrics *m = NULL;
    int rc;

    m = xenshape__calloc(1, sizeof(*m));
    if (!m) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    m->lg = lg;
    m->path = strdup(path);
    if (!m->path) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    /* Names are a convenience: without xenstore the figures are still
     * worth having, under domid and uuid. */
    rc = xenshape__kv_open(&m->kv, kv_backend, kv_arg, lg);
    if (rc) {
        XSLOG(lg, WARN, -1, "metrics: no xenstore (%s); domain names "
              "are left empty", xenshape_strerror(rc));
        m->kv = NULL;
    }
    *m_r = m;
    m = NULL;
    rc = 0;
 out:
    metrics_close(m);
    return rc;
}

void metrics_close(struct metrics *m)
{
    if (!m)
        return;
    xenshape__kv_close(m->kv);
    free(m->rows);
    free(m->names);
    free(m->path);
    free(m);
}

void metrics_begin(struct metrics *m, long long time, uint64_t host_frames,
                   uint64_t host_free, const xenshape_storestats *ss)
{
    unsigned i;

    m->time = time;
    m->host_frames = host_frames;
    m->host_free = host_free;
    m->have_store = ss != NULL;
    if (ss)
        m->ss = *ss;
    m->nr = 0;
    m->shaping = false;
    for (i = 0; i < m->nr_names; i++)
        m->names[i].seen = false;
}

/* The domain's name, read from xenstore the first time it is asked. */
static const char *name_of(struct metrics *m, uint32_t domid)
{
    char path[64], *val = NULL;
    struct mname *n;
    size_t len = 0;
    unsigned i;
    int r;

    for (i = 0; i < m->nr_names; i++)
        if (m->names[i].domid == domid) {
            m->names[i].seen = true;
            return m->names[i].name;
        }
    if (m->nr_names == m->cap_names) {
        unsigned cap = m->cap_names ? m->cap_names * 2 : 16;
        struct mname *p = realloc(m->names, cap * sizeof(*p));

        if (!p)
            return "";
        m->names = p;
        m->cap_names = cap;
    }
    n = &m->names[m->nr_names];
    memset(n, 0, sizeof(*n));
    n->domid = domid;
    n->seen = true;
    if (m->kv) {
        snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
        r = xenshape__kv_read(m->kv, XENSHAPE__KV_NO_TXN, path, &val, &len);
        /* Not there yet (a domain being built): asked again next time. */
        if (r < 0) {
            free(val);
            return "";
        }
        snprintf(n->name, sizeof(n->name), "%.*s", (int)len, val);
        free(val);
    }
    m->nr_names++;
    return n->name;
}

void metrics_domain(struct metrics *m, const xenshape_dominfo *di,
                    const xenshape_domstats *st, uint64_t target,
                    struct shaper *sh)
{
    const uint8_t *h = di->handle;
    struct mrow *row;

    if (m->nr == m->cap) {
        unsigned cap = m->cap ? m->cap * 2 : 16;
        struct mrow *p = realloc(m->rows, cap * sizeof(*p));

        if (!p)
            return;                  /* a row short this time, not a crash */
        m->rows = p;
        m->cap = cap;
    }
    row = &m->rows[m->nr];
    memset(row, 0, sizeof(*row));
    row->domid = di->domid;
    snprintf(row->uuid, sizeof(row->uuid), "%02x%02x%02x%02x-%02x%02x-"
             "%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2],
             h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12],
             h[13], h[14], h[15]);
    snprintf(row->name, sizeof(row->name), "%s", name_of(m, di->domid));
    row->target = target;
    row->paging = st != NULL;
    if (st) {
        row->resident = st->tot_pages;
        row->paged = st->held_pages;
        row->max = st->max_pages;
        row->faults = st->faults;
        row->loaded = st->loaded;
        row->evicted = st->evicted;
        row->corrupt = st->corrupt;
        row->lost = st->lost;
    } else {
        row->resident = di->tot_pages;
        row->max = di->max_pages;
    }
    if (sh) {
        m->shaping = true;
        row->shaped = shaper_view(sh, di->domid, &row->sh);
    }
    m->nr++;
}

/* ---- writing ------------------------------------------------------------ */

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f);
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
}

static void put_labels(FILE *f, const struct mrow *r)
{
    fprintf(f, "{domid=\"%u\",name=\"", r->domid);
    put_label(f, r->name);
    fprintf(f, "\",uuid=\"%s\"", r->uuid);
}

static void family(FILE *f, const char *name, const char *type,
                   const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Per-domain families: which rows have the figure, and where it is. */
enum need { ALL, PAGING, TARGET, SHAPED };
static const struct {
    const char *name, *type, *help;
    enum need need;
    size_t off;
} dom_families[] = {
#define F(n, t, h, need, field) \
    { "xenshape_domain_" n, t, h, need, offsetof(struct mrow, field) }
    F("resident_frames", "gauge", "Frames of the domain in RAM.", ALL,
      resident),
    F("paged_frames", "gauge", "Frames of the domain whose only copy is "
      "in the page store.", PAGING, paged),
    F("max_frames", "gauge", "Frames of RAM the domain was given (its "
      "allocation limit).", ALL, max),
    F("target_frames", "gauge", "Frames the pager keeps the domain at "
      "(absent: no target).", TARGET, target),
    F("faults_total", "counter", "Page-in requests from the guest since "
      "it was attached.", PAGING, faults),
    F("page_ins_total", "counter", "Frames paged back in (faults and "
      "prefetch) since it was attached.", PAGING, loaded),
    F("page_outs_total", "counter", "Frames written out and evicted since "
      "it was attached.", PAGING, evicted),
    F("corrupt_frames_total", "counter", "Checksum mismatches seen at "
      "page-in.", PAGING, corrupt),
    F("lost_frames", "gauge", "Paged frames with no copy in the store.",
      PAGING, lost),
    F("ram_page_seconds_total", "counter", "Shaping meter: frames in RAM "
      "times seconds (status key meter/ram-page-seconds).", SHAPED,
      sh.ram_page_seconds),
    F("store_page_seconds_total", "counter", "Shaping meter: frames in "
      "the store times seconds (meter/store-page-seconds).", SHAPED,
      sh.store_page_seconds),
    F("meter_page_ins_total", "counter", "Shaping meter: frames paged in "
      "since the domain appeared, across daemon restarts "
      "(meter/page-ins).", SHAPED, sh.pageins),
#undef F
};

static bool row_has(const struct mrow *r, enum need need)
{
    switch (need) {
    case ALL: return true;
    case PAGING: return r->paging;
    case TARGET: return r->target != UINT64_MAX;
    case SHAPED: return r->shaped;
    }
    return false;
}

static void write_domains(struct metrics *m, FILE *f)
{
    const char *const *states;
    unsigned i, k, nst;

    family(f, "xenshape_domain_paging", "gauge", "1 if the domain is "
           "paged, 0 if its hypervisor cannot page it (balloon target "
           "only).");
    for (i = 0; i < m->nr; i++) {
        fputs("xenshape_domain_paging", f);
        put_labels(f, &m->rows[i]);
        fprintf(f, "} %d\n", m->rows[i].paging);
    }
    for (k = 0; k < XENSHAPE__ARRAY_SIZE(dom_families); k++) {
        bool any = false;

        for (i = 0; i < m->nr; i++)
            any |= row_has(&m->rows[i], dom_families[k].need);
        if (!any)
            continue;
        family(f, dom_families[k].name, dom_families[k].type,
               dom_families[k].help);
        for (i = 0; i < m->nr; i++) {
            const struct mrow *r = &m->rows[i];

            if (!row_has(r, dom_families[k].need))
                continue;
            fputs(dom_families[k].name, f);
            put_labels(f, r);
            fprintf(f, "} %" PRIu64 "\n",
                    *(const uint64_t *)((const char *)r +
                                        dom_families[k].off));
        }
    }
    if (!m->shaping)
        return;
    /* A state set: one series per state, 1 for the one in force, so that
     * a query can sum or alert on any state without parsing words. */
    states = shaper_state_names(&nst);
    family(f, "xenshape_domain_state", "gauge", "Shaping state of the "
           "domain (status key state): 1 for the state in force.");
    for (i = 0; i < m->nr; i++) {
        const struct mrow *r = &m->rows[i];

        if (!r->shaped || !r->sh.have_state)
            continue;
        for (k = 0; k < nst; k++) {
            fputs("xenshape_domain_state", f);
            put_labels(f, r);
            fprintf(f, ",state=\"%s\"} %d\n", states[k],
                    !strcmp(states[k], r->sh.state));
        }
    }
}

static void write_host(struct metrics *m, FILE *f)
{
    const xenshape_storestats *ss = &m->ss;

    family(f, "xenshape_status_time_seconds", "gauge", "When these "
           "figures were taken (the status file's time=).");
    fprintf(f, "xenshape_status_time_seconds %lld\n", m->time);
    family(f, "xenshape_host_frames", "gauge", "Frames of machine RAM.");
    fprintf(f, "xenshape_host_frames %" PRIu64 "\n", m->host_frames);
    family(f, "xenshape_host_free_frames", "gauge", "Frames free in the "
           "hypervisor.");
    fprintf(f, "xenshape_host_free_frames %" PRIu64 "\n", m->host_free);
    if (!m->have_store)
        return;
    family(f, "xenshape_store_slots", "gauge", "Page slots of the store.");
    fprintf(f, "xenshape_store_slots %" PRIu64 "\n", ss->slots_total);
    family(f, "xenshape_store_used_slots", "gauge", "Page slots of the "
           "store holding data.");
    fprintf(f, "xenshape_store_used_slots %" PRIu64 "\n", ss->slots_used);
    family(f, "xenshape_store_free_slots", "gauge", "Page slots of the "
           "store free.");
    fprintf(f, "xenshape_store_free_slots %" PRIu64 "\n",
            ss->slots_total - ss->slots_used);
    family(f, "xenshape_store_used_records", "gauge", "Records of the "
           "store in use (paged frames, zero and deduplicated ones "
           "included).");
    fprintf(f, "xenshape_store_used_records %" PRIu64 "\n",
            ss->records_used);
    family(f, "xenshape_store_zero_pages", "gauge", "Paged frames that "
           "were all zero: kept without a slot.");
    fprintf(f, "xenshape_store_zero_pages %" PRIu64 "\n", ss->zero_pages);
    family(f, "xenshape_store_dedup_pages", "gauge", "Paged frames "
           "sharing another's slot.");
    fprintf(f, "xenshape_store_dedup_pages %" PRIu64 "\n", ss->dedup_pages);
    family(f, "xenshape_store_io_errors_total", "counter", "I/O errors of "
           "the store.");
    fprintf(f, "xenshape_store_io_errors_total %" PRIu64 "\n",
            ss->io_errors);
    family(f, "xenshape_store_checksum_failures_total", "counter",
           "Pages read back from the store whose checksum did not match.");
    fprintf(f, "xenshape_store_checksum_failures_total %" PRIu64 "\n",
            ss->checksum_failures);
    family(f, "xenshape_store_failed", "gauge", "1 once an I/O error "
           "stopped evictions to the store.");
    fprintf(f, "xenshape_store_failed %d\n", ss->failed ? 1 : 0);
}

void metrics_commit(struct metrics *m)
{
    char tmp[PATH_MAX];
    unsigned i = 0;
    FILE *f = NULL;
    bool ok = false;
    int r;

    /* Names of domains that are gone are forgotten: a new domain may
     * take the domid. */
    while (i < m->nr_names) {
        if (m->names[i].seen)
            i++;
        else
            m->names[i] = m->names[--m->nr_names];
    }
    r = snprintf(tmp, sizeof(tmp), "%s.tmp", m->path);
    if (r < 0 || (size_t)r >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        goto out;
    }
    f = fopen(tmp, "we");
    if (!f)
        goto out;
    write_host(m, f);
    write_domains(m, f);
    if (fflush(f) || ferror(f))
        goto out;
    r = fclose(f);
    f = NULL;
    if (r || rename(tmp, m->path))
        goto out;
    ok = true;
 out:
    if (f) {
        fclose(f);
        unlink(tmp);
    }
    /* Said once per run of failures, not every interval. */
    if (!ok && !m->failed_once)
        XSLOG(m->lg, WARN, errno, "cannot write the metrics file %s",
              m->path);
    m->failed_once = !ok;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
