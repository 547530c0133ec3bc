/*
 * check_policy_kv.c - tests of libxenshape/shape/policy_kv: which policy
 * a xenstore watch path concerns (a table of paths: the policy roots and
 * keys below them, paths of other trees and of a guest's own home, UUIDs
 * malformed or spelled otherwise, paths that try to climb into another
 * VM's directory), and a policy directory read whole turned into the
 * policy in force (keys after many unknown nodes, crafted values that
 * hold a domid or a path, oversized and binary values, nodes without a
 * value, running out of memory).
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "shape/policy_kv.h"
#include "shape/schema.h"

#define U1 "0123abcd-4567-89ef-0123-456789abcdef"
#define U2 "fedcba98-7654-3210-fedc-ba9876543210"

/* ---- watch paths -------------------------------------------------------- */

struct wcase {
    const char *path;
    enum xenshape__pkv_what what;
    const char *uuid;                /* VM */
    const char *key;                 /* HOST, VM; NULL otherwise */
    int k;                           /* the key's id, or -1: none */
};

static const struct wcase wcases[] = {
    /* The policy roots and their keys. */
    { "/xenshape/host", XENSHAPE__PKV_HOST, "", "", -1 },
    { "/xenshape/host/interval-ms", XENSHAPE__PKV_HOST, "", "interval-ms",
      XENSHAPE__KEY_HOST_INTERVAL_MS },
    { "/xenshape/host/priority", XENSHAPE__PKV_HOST, "", "priority", -1 },
    { "/xenshape/host/bogus", XENSHAPE__PKV_HOST, "", "bogus", -1 },
    { "/xenshape/vm", XENSHAPE__PKV_ALL_VMS, "", NULL, -1 },
    { "/xenshape/vm/" U1, XENSHAPE__PKV_VM, U1, "", -1 },
    { "/xenshape/vm/" U1 "/priority", XENSHAPE__PKV_VM, U1, "priority",
      XENSHAPE__KEY_VM_PRIORITY },
    { "/xenshape/vm/" U2 "/min-starting", XENSHAPE__PKV_VM, U2,
      "min-starting", XENSHAPE__KEY_VM_MIN_STARTING },
    /* A key of another scope is no key of the VM, but the VM's
     * directory changed all the same. */
    { "/xenshape/vm/" U1 "/reserved", XENSHAPE__PKV_VM, U1, "reserved", -1 },
    { "/xenshape/vm/" U1 "/meter/page-ins", XENSHAPE__PKV_VM, U1,
      "meter/page-ins", -1 },
    /* Climbing out of one VM's directory concerns that VM only. */
    { "/xenshape/vm/" U1 "/../" U2 "/priority", XENSHAPE__PKV_VM, U1,
      "../" U2 "/priority", -1 },
    /* Parents of the roots: everything below them. */
    { "/xenshape", XENSHAPE__PKV_ALL, "", NULL, -1 },
    { "/", XENSHAPE__PKV_ALL, "", NULL, -1 },
    /* Not a UUID as the daemon spells it: no VM's directory. */
    { "/xenshape/vm/0123ABCD-4567-89EF-0123-456789ABCDEF",
      XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/vm/" U1 "0", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/vm/0123abcd-4567-89ef-0123-456789abcde", XENSHAPE__PKV_NONE,
      "", NULL, -1 },
    { "/xenshape/vm/0123abcd+4567-89ef-0123-456789abcdef/priority",
      XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/vm/0123abcd-4567-89ef-0123-456789abcdeg",
      XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/vm/7/priority", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/vm//" U1, XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/vm/../host", XENSHAPE__PKV_NONE, "", NULL, -1 },
    /* Other trees, and names that only begin like the roots. */
    { "/xenshape/vmx", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/vm-" U1, XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/hostile", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/hos", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xenshape/status/error", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/xen", XENSHAPE__PKV_NONE, "", NULL, -1 },
    /* A guest's own home, even the mirror of its policy: never policy. */
    { "/local/domain/7/xenshape/policy/priority", XENSHAPE__PKV_NONE, "",
      NULL, -1 },
    { "/local/domain/7/xenshape", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "/local/domain/0/xenshape/vm/" U1, XENSHAPE__PKV_NONE, "", NULL, -1 },
    /* Not absolute, or nothing at all. */
    { "xenshape/host", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { "", XENSHAPE__PKV_NONE, "", NULL, -1 },
    { NULL, XENSHAPE__PKV_NONE, "", NULL, -1 },
};

START_TEST(t_watch)
{
    const struct wcase *c = &wcases[_i];
    xenshape__pkv_event ev;

    memset(&ev, 0x5a, sizeof(ev));
    ck_assert_int_eq(xenshape__pkv_watch(c->path, &ev), c->what);
    ck_assert_msg(ev.what == c->what, "%s: what %d, want %d",
                  c->path ? c->path : "(null)", ev.what, c->what);
    ck_assert_str_eq(ev.uuid, c->uuid);
    if (!c->key) {
        ck_assert_ptr_null(ev.key);
    } else {
        ck_assert_ptr_nonnull(ev.key);
        ck_assert_str_eq(ev.key, c->key);
        /* Into the path given, not a copy. */
        ck_assert(ev.key >= c->path &&
                  ev.key <= c->path + strlen(c->path));
    }
    if (c->k < 0)
        ck_assert_ptr_null(ev.k);
    else
        ck_assert_ptr_eq(ev.k, &xenshape__schema_keys[c->k]);
}
END_TEST

/* ---- policy directories ---------------------------------------------- */

/* A directory listing under construction: names and values owned. */
struct dir {
    char **names, **vals;
    size_t *lens;
    unsigned n;
};

static void dir_add(struct dir *d, const char *name, const char *val,
                    size_t len)
{
    d->names = realloc(d->names, (d->n + 1) * sizeof(*d->names));
    d->vals = realloc(d->vals, (d->n + 1) * sizeof(*d->vals));
    d->lens = realloc(d->lens, (d->n + 1) * sizeof(*d->lens));
    ck_assert(d->names && d->vals && d->lens);
    d->names[d->n] = strdup(name);
    d->vals[d->n] = NULL;
    if (val) {
        d->vals[d->n] = malloc(len + 1);
        ck_assert_ptr_nonnull(d->vals[d->n]);
        memcpy(d->vals[d->n], val, len);
        d->vals[d->n][len] = '\0';
    }
    d->lens[d->n] = len;
    d->n++;
}

static void dir_str(struct dir *d, const char *name, const char *val)
{
    dir_add(d, name, val, val ? strlen(val) : 0);
}

/* n nodes no key is called: "node-0", "node-1"... */
static void dir_junk(struct dir *d, unsigned n)
{
    char name[32];
    unsigned i;

    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "node-%u", i);
        dir_str(d, name, "1");
    }
}

static void dir_free(struct dir *d)
{
    unsigned i;

    for (i = 0; i < d->n; i++) {
        free(d->names[i]);
        free(d->vals[i]);
    }
    free(d->names);
    free(d->vals);
    free(d->lens);
    memset(d, 0, sizeof(*d));
}

static unsigned apply_dom(xenshape__dompolicy *p, struct dir *d)
{
    unsigned bad = 12345;

    ck_assert_int_eq(xenshape__pkv_apply_dom(p, d->names, d->vals, d->lens,
                                             d->n, &bad), 0);
    ck_assert_uint_ne(bad, 12345);
    return bad;
}

static unsigned apply_host(xenshape__hostpolicy *p, struct dir *d)
{
    unsigned bad = 12345;

    ck_assert_int_eq(xenshape__pkv_apply_host(p, d->names, d->vals, d->lens,
                                              d->n, &bad), 0);
    ck_assert_uint_ne(bad, 12345);
    return bad;
}

START_TEST(t_dir_good)
{
    xenshape__dompolicy p;
    struct dir d = { 0 };
    char err[512];

    xenshape__dompolicy_init(&p);
    dir_str(&d, "priority", "700");
    dir_str(&d, "soaker", "1");
    dir_str(&d, "min-operating", "1G");
    dir_str(&d, "min-starting", "2G");
    ck_assert_uint_eq(apply_dom(&p, &d), 0);
    ck_assert_uint_eq(p.priority, 700);
    ck_assert(p.soaker);
    ck_assert_uint_eq(p.min_operating_kib, 1024 * 1024);
    ck_assert_uint_eq(p.min_starting_kib, 2 * 1024 * 1024);
    xenshape__dompolicy_error(&p, err, sizeof(err));
    ck_assert_str_eq(err, "");
    dir_free(&d);

    /* The directory read again without priority: its default again,
     * and the others too. */
    dir_str(&d, "soaker", "1");
    ck_assert_uint_eq(apply_dom(&p, &d), 0);
    ck_assert_uint_eq(p.priority, 500);
    ck_assert(p.soaker);
    ck_assert_uint_eq(p.min_starting_kib, 512 * 1024);
    dir_free(&d);

    /* An empty (or removed) directory: every default. */
    ck_assert_uint_eq(apply_dom(&p, &d), 0);
    ck_assert(!p.soaker);
}
END_TEST

/* A key listed after many other nodes counts, wherever it is: an earlier
 * daemon cut the directory at its 64th node, and priority, listed 65th,
 * fell back to its default without a word. */
START_TEST(t_dir_many)
{
    static const unsigned before[] = { 63, 64, 65, 100, 1000 };
    xenshape__dompolicy p;
    struct dir d = { 0 };
    char err[2048];
    unsigned i;

    for (i = 0; i < XENSHAPE__ARRAY_SIZE(before); i++) {
        xenshape__dompolicy_init(&p);
        dir_junk(&d, before[i]);
        dir_str(&d, "priority", "42");
        dir_str(&d, "hibernate", "pause");
        ck_assert_uint_eq(apply_dom(&p, &d), before[i]);
        ck_assert_msg(p.priority == 42, "priority after %u nodes: %u",
                      before[i], p.priority);
        ck_assert_int_eq(p.hibernate, XENSHAPE__HIBERNATE_PAUSE);
        /* The unknown nodes are reported, within the reason's room. */
        xenshape__dompolicy_error(&p, err, sizeof(err));
        ck_assert_ptr_nonnull(strstr(err, "unknown key \"node-0\""));
        ck_assert_uint_lt(strlen(err), XENSHAPE__SCHEMA_WHY_MAX);
        dir_free(&d);
    }

    /* And a bad value late in the listing is rejected, not ignored. */
    xenshape__dompolicy_init(&p);
    dir_str(&d, "priority", "42");
    ck_assert_uint_eq(apply_dom(&p, &d), 0);
    dir_free(&d);
    dir_junk(&d, 80);
    dir_str(&d, "priority", "1001");
    ck_assert_uint_eq(apply_dom(&p, &d), 81);
    ck_assert_uint_eq(p.priority, 42);
    xenshape__dompolicy_error(&p, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "priority: out of range"));
    dir_free(&d);
}
END_TEST

/* Values written to steer the daemon elsewhere: a domid, a path into
 * another domain's home or another VM's policy.  They are values, parsed
 * as the key's type; nothing in them is followed. */
START_TEST(t_dir_crafted)
{
    static const char *const bad_prio[] = {
        "7/../../local/domain/0", "/local/domain/7/xenshape/policy/priority",
        "/xenshape/vm/" U2 "/priority", "0x10", "7 ", " 7", "+7", "-7",
        "7\n", "domid=7", "18446744073709551616", "",
    };
    xenshape__dompolicy p, before;
    xenshape__hostpolicy hp;
    struct dir d = { 0 };
    char err[512];
    unsigned i;

    xenshape__dompolicy_init(&p);
    dir_str(&d, "priority", "9");
    ck_assert_uint_eq(apply_dom(&p, &d), 0);
    dir_free(&d);
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(bad_prio); i++) {
        dir_str(&d, "priority", bad_prio[i]);
        memcpy(&before, &p, sizeof(p));
        ck_assert_msg(apply_dom(&p, &d) == 1, "accepted \"%s\"",
                      bad_prio[i]);
        ck_assert_uint_eq(p.priority, 9);
        ck_assert_mem_eq(&p, &before, offsetof(xenshape__dompolicy, why));
        xenshape__dompolicy_error(&p, err, sizeof(err));
        ck_assert_ptr_nonnull(strstr(err, "priority: "));
        dir_free(&d);
    }
    /* A binary value: a number, then a NUL and more digits. */
    dir_add(&d, "priority", "7\0" "00", 4);
    ck_assert_uint_eq(apply_dom(&p, &d), 1);
    ck_assert_uint_eq(p.priority, 9);
    dir_free(&d);

    /* A path key takes a path, even one naming a VM's policy: as the
     * store's file name, nothing more. */
    xenshape__hostpolicy_init(&hp);
    dir_str(&d, "store-path", "/xenshape/vm/" U1 "/priority");
    dir_str(&d, "interval-ms", "100000");
    ck_assert_uint_eq(apply_host(&hp, &d), 1);
    ck_assert_str_eq(hp.store_path, "/xenshape/vm/" U1 "/priority");
    ck_assert_uint_eq(hp.interval_ms, 1000);
    dir_free(&d);
    dir_str(&d, "store-path", "relative/store");
    ck_assert_uint_eq(apply_host(&hp, &d), 1);
    ck_assert_str_eq(hp.store_path, "/xenshape/vm/" U1 "/priority");
    dir_free(&d);
}
END_TEST

/* Values larger than a xenstore node can hold, names that are no key,
 * nodes without a value. */
START_TEST(t_dir_odd)
{
    xenshape__dompolicy p;
    xenshape__hostpolicy hp;
    struct dir d = { 0 };
    char *big, err[512];
    size_t n = 3 * XENSHAPE__SCHEMA_VALUE_MAX;

    big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, '7', n);
    xenshape__dompolicy_init(&p);
    dir_add(&d, "priority", big, n);
    dir_add(&d, "rate", big, n);
    ck_assert_uint_eq(apply_dom(&p, &d), 2);
    ck_assert_uint_eq(p.priority, 500);
    ck_assert_uint_eq(p.rate_kib, 256 * 1024);
    xenshape__dompolicy_error(&p, err, sizeof(err));
    ck_assert_uint_lt(strlen(err), 2 * XENSHAPE__SCHEMA_WHY_MAX);
    dir_free(&d);

    xenshape__hostpolicy_init(&hp);
    memset(big, 'a', n);
    big[0] = '/';
    dir_add(&d, "store-path", big, n);
    ck_assert_uint_eq(apply_host(&hp, &d), 1);
    ck_assert_str_eq(hp.store_path, "/var/lib/xenshape/store");
    dir_free(&d);
    free(big);

    /* A status key written into the policy directory, a name with a
     * slash, a node without a value. */
    dir_str(&d, "priority", "3");
    ck_assert_uint_eq(apply_dom(&p, &d), 0);
    dir_free(&d);
    dir_str(&d, "state", "hibernated");
    dir_str(&d, "meter/page-ins", "5");
    dir_str(&d, "priority", NULL);
    ck_assert_uint_eq(apply_dom(&p, &d), 2);
    ck_assert_uint_eq(p.priority, 500);
    xenshape__dompolicy_error(&p, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "a status key, written by xenshaped"));
    dir_free(&d);
}
END_TEST

/* Out of memory: said so, and the policy in force stays as it was. */
START_TEST(t_dir_nomem)
{
    xenshape__dompolicy p, before;
    xenshape__hostpolicy hp, hbefore;
    struct dir d = { 0 };
    unsigned bad = 77;

    xenshape__dompolicy_init(&p);
    xenshape__hostpolicy_init(&hp);
    dir_str(&d, "priority", "3");
    memcpy(&before, &p, sizeof(p));
    memcpy(&hbefore, &hp, sizeof(hp));
    ck_assert_int_eq(xenshape_fault_set("alloc", 1, ENOMEM, true), 0);
    ck_assert_int_eq(xenshape__pkv_apply_dom(&p, d.names, d.vals, d.lens,
                                             d.n, &bad), XENSHAPE_ENOMEM);
    ck_assert_int_eq(xenshape__pkv_apply_host(&hp, d.names, d.vals, d.lens,
                                              d.n, &bad), XENSHAPE_ENOMEM);
    ck_assert_uint_ge(xenshape_fault_hits("alloc"), 2);
    xenshape_fault_clear_all();
    ck_assert_uint_eq(bad, 77);
    ck_assert_mem_eq(&p, &before, sizeof(p));
    ck_assert_mem_eq(&hp, &hbefore, sizeof(hp));
    /* An empty directory needs no memory. */
    ck_assert_int_eq(xenshape_fault_set("alloc", 1, ENOMEM, true), 0);
    ck_assert_int_eq(xenshape__pkv_apply_dom(&p, NULL, NULL, NULL, 0, &bad),
                     0);
    xenshape_fault_clear_all();
    ck_assert_uint_eq(bad, 0);
    dir_free(&d);
}
END_TEST

/* ---- runner ------------------------------------------------------------- */

static Suite *policy_kv_suite(void)
{
    Suite *s = suite_create("policy_kv");
    TCase *tc = tcase_create("policy_kv");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, t_watch, 0, (int)XENSHAPE__ARRAY_SIZE(wcases));
    tcase_add_test(tc, t_dir_good);
    tcase_add_test(tc, t_dir_many);
    tcase_add_test(tc, t_dir_crafted);
    tcase_add_test(tc, t_dir_odd);
    tcase_add_test(tc, t_dir_nomem);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(policy_kv_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
