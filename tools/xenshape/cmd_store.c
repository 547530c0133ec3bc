/*
 * cmd_store.c - "xenshape store": the page store's usage and health and
 * the host's RAM, from the host status xenshaped --shape writes under
 * /xenshape/status (the store/ keys and the frame counts).  The store is
 * the one place a paged-out frame lives, so its health comes first: a
 * failed store (an I/O error stopped evictions) or any checksum failure
 * is said in words, not left in a counter.
 */

#include <stdlib.h>
#include <string.h>

#include "xenshape_cli.h"

static unsigned long long num(const char *key)
{
    char *v = cli_hstatus(key);
    unsigned long long n = v ? strtoull(v, NULL, 10) : 0;

    free(v);
    return n;
}

int main_store(const struct cli_args *a)
{
    unsigned long long total, used, csum, ioerr, avail, assigned, freef;
    char *state = NULL, *contention = NULL, *error = NULL;
    int rc;

    if (!cli_kv())
        return EXIT_FAIL;
    state = cli_hstatus("store/state");
    if (!state) {
        cli_err("no store status in xenstore (/xenshape/status/store): "
                "is xenshaped --shape running?");
        rc = EXIT_FAIL;
        goto out;
    }
    total = num("store/slots-total");
    used = num("store/slots-used");
    csum = num("store/checksum-failures");
    ioerr = num("store/io-errors");
    printf("store:\n");
    printf("  health             %s\n",
           strcmp(state, "ok") ? "FAILED: an I/O error stopped evictions"
           : csum ? "DAMAGED: frames came back with bad checksums"
           : ioerr ? "ok, after I/O errors" : "ok");
    printf("  used               %llu of %llu MiB (%llu%%)\n",
           (used * 4 + 1023) / 1024, (total * 4 + 1023) / 1024,
           total ? used * 100 / total : 0);
    printf("  frames written     %llu\n", num("store/writes"));
    printf("  frames read        %llu\n", num("store/reads"));
    printf("  checksum failures  %llu\n", csum);
    printf("  I/O errors         %llu\n", ioerr);
    avail = num("available-frames");
    assigned = num("assigned-frames");
    freef = num("free-frames");
    contention = cli_hstatus("contention");
    error = cli_hstatus("error");
    printf("host:\n");
    printf("  available to guests %llu MiB\n", (avail * 4 + 1023) / 1024);
    printf("  assigned            %llu MiB\n", (assigned * 4 + 1023) / 1024);
    printf("  free                %llu MiB\n", (freef * 4 + 1023) / 1024);
    printf("  contention          %s\n",
           contention && !strcmp(contention, "1") ? "yes" : "no");
    printf("  host policy errors  %s\n", error && *error ? error : "none");
    rc = EXIT_OK;
 out:
    free(state);
    free(contention);
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
