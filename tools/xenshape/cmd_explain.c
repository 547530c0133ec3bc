/*
 * cmd_explain.c - "xenshape explain DOMAIN": why a domain has the RAM it
 * has, in the words of the shaping engine.  Every decision xenshaped
 * --shape takes comes with its reason; the daemon keeps the last one in
 * the status key "decision" and the recent ones, newest first and each
 * prefixed with its uptime in seconds, in "decisions".  This command
 * lays them out with the state, the memory figures they refer to, and
 * any policy value the daemon refused.
 */

#include <stdlib.h>
#include <string.h>

#include "xenshape_cli.h"

int main_explain(const struct cli_args *a)
{
    char mib[3][24], *state = NULL, *decision = NULL, *log = NULL;
    char *error = NULL, *v, *line, *save = NULL;
    static const char *const keys[] = {
        "resident-frames", "paged-frames", "target-frames",
    };
    struct cli_dom d;
    unsigned i;
    int rc;

    rc = cli_find_domain(a->domain, &d);
    if (rc)
        goto out;
    state = cli_status(d.domid, "state");
    decision = cli_status(d.domid, "decision");
    if (!state || !decision) {
        cli_err("no decision for domain %u (%s) yet: xenshaped --shape "
                "writes one at its first interval with the domain",
                d.domid, d.name);
        rc = EXIT_FAIL;
        goto out;
    }
    for (i = 0; i < 3; i++) {
        v = cli_status(d.domid, keys[i]);
        cli_frames_mib(mib[i], sizeof(mib[i]), v);
        free(v);
    }
    printf("%s (domain %u) is %s: %s MiB in RAM, %s MiB in the store, "
           "target %s MiB.\n", d.name, d.domid, state, mib[0],
           mib[1], mib[2]);
    printf("Why: %s.\n", decision);
    error = cli_status(d.domid, "error");
    if (error && *error)
        printf("Refused policy (the last valid values stay in force): "
               "%s.\n", error);
    log = cli_status(d.domid, "decisions");
    if (log && *log) {
        printf("Decisions, newest first (at the host's uptime, in seconds):\n");
        for (line = strtok_r(log, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            char *sp = strchr(line, ' ');

            if (sp)
                printf("  %6.*s s  %s\n", (int)(sp - line), line, sp + 1);
            else
                printf("  %s\n", line);
        }
    }
    rc = EXIT_OK;
 out:
    free(state);
    free(decision);
    free(log);
    free(error);
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
