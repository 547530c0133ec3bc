/*
 * cmd_info.c - "xenshape info DOMAIN": everything xenstore knows about
 * one domain for xenshape: who it is (libxl's nodes), every status key
 * xenshaped writes for it, and every per-VM policy key as written, as in
 * force and by default, so an operator sees at once a value that was
 * written but rejected, or not yet read.
 */

#include <stdlib.h>
#include <string.h>

#include "xenshape_cli.h"

int main_info(const struct cli_args *a)
{
    struct cli_dom d;
    unsigned k;
    int rc;

    rc = cli_find_domain(a->domain, &d);
    if (rc)
        return rc;
    printf("name:       %s\n", d.name);
    printf("domid:      %u\n", d.domid);
    printf("uuid:       %s\n", d.uuid[0] ? d.uuid : "-");
    printf("presented:  %llu MiB\n",
           (unsigned long long)(d.presented_kib + 1023) / 1024);

    printf("\nstatus (/local/domain/%u/xenshape, written by xenshaped):\n",
           d.domid);
    for (k = 0; k < XENSHAPE__SCHEMA_NR_KEYS; k++) {
        const xenshape__schema_key *key = &xenshape__schema_keys[k];
        char *v, *nl;

        /* The decision log is explain's. */
        if (key->scope != XENSHAPE__SCOPE_STATUS ||
            key->id == XENSHAPE__KEY_STATUS_DECISIONS)
            continue;
        v = cli_status(d.domid, key->name);
        nl = v ? strchr(v, '\n') : NULL;
        if (nl)
            *nl = '\0';
        printf("  %-26s %s\n", key->name, v ? (*v ? v : "\"\"") : "-");
        free(v);
    }

    printf("\npolicy (/xenshape/vm/%s):\n", d.uuid[0] ? d.uuid : "-");
    printf("  %-16s %-14s %-14s %s\n", "key", "written", "in force",
           "default");
    for (k = 0; k < XENSHAPE__SCHEMA_NR_KEYS; k++) {
        const xenshape__schema_key *key = &xenshape__schema_keys[k];
        char force[64], *w;

        if (key->scope != XENSHAPE__SCOPE_VM)
            continue;
        w = cli_policy(&d, key->name);
        cli_in_force(&d, key->name, force, sizeof(force));
        printf("  %-16s %-14s %-14s %s\n", key->name, w ? w : "-", force,
               key->def ? key->def : "-");
        free(w);
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
