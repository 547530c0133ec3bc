/*
 * fuzz_kv_watch - libFuzzer target: what xenshaped makes of a xenstore
 * watch event and of the policy directory it then reads, through
 * libxenshape/shape/policy_kv, on arbitrary paths, names and values.
 * Whatever the input:
 *   - an event concerns a VM only when its path lies in that VM's own
 *     policy directory (its UUID, as the daemon spells it, right below
 *     the VM root), the host only when it lies in the host's, every
 *     policy only when it is a parent of both roots, and nothing else
 *     (another tree, a guest's home, a malformed UUID) concerns any;
 *   - the key an event names points into its path and is looked up in
 *     the event's scope only;
 *   - the directory, applied as the daemon applies it, rejects at most
 *     every node, keeps its reasons within their room, and applied a
 *     second time changes nothing (watches fire spuriously, and a
 *     re-read must not move the policy).
 *
 * Input: lines.  The first is the event's path; each other line is a
 * node of the directory read, "name=value", or "name" for a node
 * without a value.  tests/fuzz/seed_kv_watch.c writes the seeds.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "shape/policy_kv.h"
#include "shape/schema.h"

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

#define MAX_NODES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char host_root[XENSHAPE__SCHEMA_PATH_MAX];

/* path is root or lies below it. */
static bool in_dir(const char *path, const char *root)
{
    size_t n = strlen(root);

    return !strncmp(path, root, n) && (!path[n] || path[n] == '/');
}

static void check_event(const char *path, const xenshape__pkv_event *ev)
{
    char vm_root[XENSHAPE__SCHEMA_PATH_MAX];
    const char *key_at;
    size_t i;

    CHECK(memchr(ev->uuid, '\0', sizeof(ev->uuid)));
    if (ev->what != XENSHAPE__PKV_VM)
        CHECK(ev->uuid[0] == '\0');
    if (ev->what != XENSHAPE__PKV_VM && ev->what != XENSHAPE__PKV_HOST)
        CHECK(!ev->key && !ev->k);
    if (!strncmp(path, "/local/", 7))
        CHECK(ev->what == XENSHAPE__PKV_NONE);

    switch (ev->what) {
    case XENSHAPE__PKV_NONE:
        break;
    case XENSHAPE__PKV_HOST:
        CHECK(in_dir(path, host_root));
        key_at = path + strlen(host_root);
        if (*key_at)
            key_at++;
        CHECK(ev->key == key_at);
        CHECK(ev->k == (*ev->key ? xenshape__schema_lookup(
                            XENSHAPE__SCOPE_HOST, ev->key) : NULL));
        CHECK(!ev->k || ev->k->scope == XENSHAPE__SCOPE_HOST);
        break;
    case XENSHAPE__PKV_VM:
        CHECK(strlen(ev->uuid) == 36);
        for (i = 0; i < 36; i++)
            CHECK((ev->uuid[i] >= '0' && ev->uuid[i] <= '9') ||
                  (ev->uuid[i] >= 'a' && ev->uuid[i] <= 'f') ||
                  (ev->uuid[i] == '-' && (i == 8 || i == 13 || i == 18 ||
                                          i == 23)));
        /* The directory the daemon reads for that VM holds the path. */
        CHECK(xenshape__schema_path(vm_root, sizeof(vm_root),
                                    XENSHAPE__SCOPE_VM, ev->uuid,
                                    NULL) == 0);
        CHECK(in_dir(path, vm_root));
        key_at = path + strlen(vm_root);
        if (*key_at)
            key_at++;
        CHECK(ev->key == key_at);
        CHECK(ev->k == (*ev->key ? xenshape__schema_lookup(
                            XENSHAPE__SCOPE_VM, ev->key) : NULL));
        break;
    case XENSHAPE__PKV_ALL_VMS:
        /* The VM root's parent, what holds every <uuid> (a trailing
         * "/" names it too). */
        CHECK(xenshape__schema_path(vm_root, sizeof(vm_root),
                                    XENSHAPE__SCOPE_VM,
                                    "00000000-0000-0000-0000-000000000000",
                                    NULL) == 0);
        CHECK(!strncmp(path, vm_root, strlen(vm_root) - 37) &&
              (strlen(path) == strlen(vm_root) - 37 ||
               !strcmp(path + strlen(vm_root) - 37, "/")));
        break;
    case XENSHAPE__PKV_ALL:
        CHECK(path[0] == '/' && strlen(path) < strlen(host_root) &&
              (!path[1] || (!strncmp(path, host_root, strlen(path)) &&
                            host_root[strlen(path)] == '/')));
        break;
    default:
        CHECK(!"an event of no known kind");
    }
}

/* Every value in force and the reasons, as text, for comparing. */
static void snapshot(const xenshape__dompolicy *dp,
                     const xenshape__hostpolicy *hp, char *buf, size_t n)
{
    char v[XENSHAPE__SCHEMA_VALUE_MAX + 1];
    size_t o;
    unsigned i;

    xenshape__dompolicy_error(dp, buf, n);
    CHECK(strlen(buf) < n);
    o = strlen(buf);
    xenshape__hostpolicy_error(hp, buf + o, n - o);
    for (i = 0; i < XENSHAPE__SCHEMA_NR_KEYS; i++) {
        const xenshape__schema_key *k = &xenshape__schema_keys[i];

        if (k->scope == XENSHAPE__SCOPE_VM)
            CHECK(xenshape__dompolicy_get(dp, k->id, v, sizeof(v)) == 0);
        else if (k->scope == XENSHAPE__SCOPE_HOST)
            CHECK(xenshape__hostpolicy_get(hp, k->id, v, sizeof(v)) == 0);
        else
            continue;
        o = strlen(buf);
        snprintf(buf + o, n - o, "|%s", v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *names[MAX_NODES], *vals[MAX_NODES];
    static size_t lens[MAX_NODES];
    static char once[4 * XENSHAPE__SCHEMA_VALUE_MAX];
    static char twice[4 * XENSHAPE__SCHEMA_VALUE_MAX];
    xenshape__dompolicy dp;
    xenshape__hostpolicy hp;
    xenshape__pkv_event ev;
    const char *p = (const char *)data, *end = p + size, *nl, *eq;
    char *path;
    unsigned n = 0, i, bad = 0;
    bool dom, host;

    nl = memchr(p, '\n', size);
    path = strndup(p, nl ? (size_t)(nl - p) : size);
    CHECK(path);
    p = nl ? nl + 1 : end;
    while (p < end && n < MAX_NODES) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        eq = memchr(p, '=', (size_t)(nl - p));
        names[n] = strndup(p, (size_t)((eq ? eq : nl) - p));
        CHECK(names[n]);
        vals[n] = NULL;
        lens[n] = 0;
        if (eq) {
            lens[n] = (size_t)(nl - eq - 1);
            /* Exactly the value's bytes: the parser must stay in them. */
            vals[n] = malloc(lens[n] ? lens[n] : 1);
            CHECK(vals[n]);
            memcpy(vals[n], eq + 1, lens[n]);
        }
        n++;
        p = nl + 1;
    }

    memset(&ev, 0xa5, sizeof(ev));
    CHECK(xenshape__pkv_watch(path, &ev) == ev.what);
    check_event(path, &ev);

    /* Read as the daemon would: the directory of what is concerned. */
    xenshape__dompolicy_init(&dp);
    xenshape__hostpolicy_init(&hp);
    dom = ev.what == XENSHAPE__PKV_VM || ev.what == XENSHAPE__PKV_ALL_VMS ||
        ev.what == XENSHAPE__PKV_ALL;
    host = ev.what == XENSHAPE__PKV_HOST || ev.what == XENSHAPE__PKV_ALL;
    if (dom) {
        CHECK(xenshape__pkv_apply_dom(&dp, names, vals, lens, n, &bad) == 0);
        CHECK(bad <= n + 2);         /* + the two constraints between keys */
    }
    if (host) {
        CHECK(xenshape__pkv_apply_host(&hp, names, vals, lens, n, &bad) ==
              0);
        CHECK(bad <= n);
    }
    if (dom || host) {
        snapshot(&dp, &hp, once, sizeof(once));
        if (dom)
            CHECK(xenshape__pkv_apply_dom(&dp, names, vals, lens, n,
                                          NULL) == 0);
        if (host)
            CHECK(xenshape__pkv_apply_host(&hp, names, vals, lens, n,
                                           NULL) == 0);
        snapshot(&dp, &hp, twice, sizeof(twice));
        if (strcmp(once, twice))
            fprintf(stderr, "once:  %s\ntwice: %s\n", once, twice);
        CHECK(!strcmp(once, twice));
    }

    for (i = 0; i < n; i++) {
        free(names[i]);
        free(vals[i]);
    }
    free(path);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    CHECK(xenshape__schema_path(host_root, sizeof(host_root),
                                XENSHAPE__SCOPE_HOST, NULL, NULL) == 0);
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
