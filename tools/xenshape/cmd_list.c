/*
 * cmd_list.c - "xenshape list": one line per guest domain with its
 * memory as xenshaped --shape last reported it and the policy in force,
 * in the manner of xl list.  The table is shared with top (cmd_top.c),
 * which adds columns.
 */

#include <stdlib.h>
#include <string.h>

#include "xenshape_cli.h"

void cli_in_force(const struct cli_dom *d, const char *key, char *buf,
                  size_t n)
{
    const xenshape__schema_key *k;
    xenshape__schema_val v;
    char sub[80], *val;

    /* What the daemon applied is the truth; it may differ from what is
     * written (a rejected value, or a daemon that has not read it yet). */
    snprintf(sub, sizeof(sub), "policy/%s", key);
    val = cli_status(d->domid, sub);
    if (!val)
        val = cli_policy(d, key);
    k = xenshape__schema_lookup(XENSHAPE__SCOPE_VM, key);
    if (val && k && !xenshape__schema_parse(k, val, strlen(val), &v, NULL, 0))
        xenshape__schema_format(k, &v, buf, n);
    else
        snprintf(buf, n, "%s", k && k->def ? k->def : "-");
    free(val);
}

static const char *yesno(const char *b)
{
    return !strcmp(b, "1") ? "yes" : "no";
}

int cli_print_domains(FILE *f, bool wide)
{
    static const char *const frames[] = {
        "resident-frames", "paged-frames", "target-frames", "usage-frames",
    };
    struct cli_dom *doms = NULL;
    unsigned nr = 0, i, j;
    int rc;

    rc = cli_list_domains(&doms, &nr);
    if (rc)
        goto out;
    fprintf(f, "%-20s %5s %9s %9s %10s %11s %-18s %4s %-6s %s",
            "Name", "ID", "Mem(MiB)", "RAM(MiB)", "Store(MiB)",
            "Target(MiB)", "State", "Prio", "Soaker", "Pin");
    if (wide)
        fprintf(f, " %10s %8s", "Usage(MiB)", "Faults/s");
    fputc('\n', f);
    for (i = 0; i < nr; i++) {
        const struct cli_dom *d = &doms[i];
        char mib[4][24], prio[16], soaker[8], pin[8], *state, *faults;

        for (j = 0; j < 4; j++) {
            char *v = cli_status(d->domid, frames[j]);

            cli_frames_mib(mib[j], sizeof(mib[j]), v);
            free(v);
        }
        state = cli_status(d->domid, "state");
        cli_in_force(d, "priority", prio, sizeof(prio));
        cli_in_force(d, "soaker", soaker, sizeof(soaker));
        cli_in_force(d, "pin", pin, sizeof(pin));
        /* The last column unpadded: no blanks at the ends of lines. */
        fprintf(f, "%-20.20s %5u %9llu %9s %10s %11s %-18s %4s %-6s %-*s",
                d->name, d->domid,
                (unsigned long long)(d->presented_kib + 1023) / 1024,
                mib[0], mib[1], mib[2], state ? state : "-", prio,
                yesno(soaker), wide ? 3 : 0, yesno(pin));
        if (wide) {
            faults = cli_status(d->domid, "fault-rate");
            fprintf(f, " %10s %8s", mib[3], faults ? faults : "-");
            free(faults);
        }
        fputc('\n', f);
        free(state);
    }
    rc = 0;
 out:
    free(doms);
    return rc;
}

int main_list(const struct cli_args *a)
{
    return cli_print_domains(stdout, false);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
