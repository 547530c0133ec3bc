/*
 * seed_schema_value.c - writes the seed corpus of fuzz_schema_value into
 * the directory named on its command line (make fuzz passes
 * tests/fuzz/schema_value/): every case the schema generator derives for
 * tests/check_schema.c (valid values at the ends of each range and just
 * beyond them, words, suffixes), and every key's default, so that the
 * seeds follow the schema wherever it goes.  Each seed is the key's index
 * in the table, a reason's room (the size check_schema uses, and one
 * small one), then the value.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "private.h"
#include "shape/schema.h"
#include "gen/schema_cases.h"

static const char *outdir;
static unsigned nseeds;

static void die(const char *what)
{
    fprintf(stderr, "seed_schema_value: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void emit(const xenshape__schema_key *k, unsigned whylen,
                 const char *value)
{
    char out[512];
    size_t len = strlen(value);
    FILE *f;

    snprintf(out, sizeof(out), "%s/gen-%03u", outdir, nseeds++);
    f = fopen(out, "w");
    if (!f || fputc((int)k->id, f) == EOF || fputc((int)whylen, f) == EOF ||
        fwrite(value, 1, len, f) != len || fclose(f))
        die(out);
}

int main(int argc, char **argv)
{
    static const struct {
        enum xenshape__schema_scope scope;
        const char *key, *value;
    } cases[] = {
#define CASE(scope, key, value, ok, expect, pct, why) \
        { XENSHAPE__SCOPE_##scope, key, value },
        XENSHAPE__SCHEMA_CASES(CASE)
#undef CASE
    };
    const xenshape__schema_key *k;
    unsigned i;

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) < 0 && errno != EEXIST)
        die(outdir);
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(cases); i++) {
        k = xenshape__schema_lookup(cases[i].scope, cases[i].key);
        if (!k) {
            errno = ENOENT;
            die(cases[i].key);
        }
        emit(k, XENSHAPE__SCHEMA_WHY_MAX, cases[i].value);
    }
    for (i = 0; i < XENSHAPE__SCHEMA_NR_KEYS; i++) {
        k = &xenshape__schema_keys[i];
        if (k->def)
            emit(k, 12, k->def);
    }
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
