/*
 * fuzz_schema_value - libFuzzer target: the schema's value parser
 * (xenshape__schema_parse()) on arbitrary bytes for every key, as cloud
 * control, a Dom0 tool or a confused script may write them into a policy
 * directory.  Whatever the bytes, the parser must return 0 or
 * XENSHAPE_EINVAL, never read past the value's length (the value is a
 * heap copy of exactly that length, unterminated) nor write past the
 * reason's room, and:
 *   - a value it accepts is within the key's range, and its canonical
 *     text (xenshape__schema_format()) parses back to the same value;
 *   - applied to a policy, a rejected value leaves the key's value in
 *     force as it was and says why; an accepted one that breaks no
 *     constraint between keys is what the policy then holds.
 *
 * Input: one byte choosing the key (modulo the number of keys), one byte
 * giving the reason's room in bytes (0 included), then the value.
 * tests/fuzz/seed_schema_value.c writes the seeds: every case the schema
 * generator derives for tests/check_schema.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "shape/schema.h"

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(const xenshape__schema_key *k,
                        const xenshape__schema_val *v, const char *s,
                        size_t len)
{
    size_t i;

    switch (k->type) {
    case XENSHAPE__TYPE_INT:
    case XENSHAPE__TYPE_PERCENT:
    case XENSHAPE__TYPE_SIZE:
        CHECK(v->u >= k->min && v->u <= k->max);
        break;
    case XENSHAPE__TYPE_SIZEPCT:
        if (v->pct)
            CHECK(v->u >= k->pct_min && v->u <= k->pct_max);
        else
            CHECK(v->u >= k->min && v->u <= k->max);
        break;
    case XENSHAPE__TYPE_BOOL:
        CHECK(v->u <= 1);
        break;
    case XENSHAPE__TYPE_ENUM:
        CHECK(k->enums);
        for (i = 0; i < v->u; i++)
            CHECK(k->enums[i]);
        CHECK(k->enums[v->u]);
        break;
    case XENSHAPE__TYPE_STRING:
    case XENSHAPE__TYPE_PATH:
        CHECK(v->s == s && v->u == len);
        CHECK(len >= k->min && len <= k->max);
        for (i = 0; i < len; i++)
            CHECK(s[i] >= 0x20 && s[i] < 0x7f);
        if (k->type == XENSHAPE__TYPE_PATH)
            CHECK(len && s[0] == '/');
        break;
    }
}

/* The value parses back from its canonical text. */
static void check_round_trip(const xenshape__schema_key *k,
                             const xenshape__schema_val *v)
{
    char text[XENSHAPE__SCHEMA_VALUE_MAX + 1];
    xenshape__schema_val back;

    CHECK(xenshape__schema_format(k, v, text, sizeof(text)) == 0);
    CHECK(xenshape__schema_parse(k, text, strlen(text), &back, NULL, 0) ==
          0);
    CHECK(back.u == v->u);
    CHECK(back.pct == v->pct);
}

/* The value in force of k, or "" when k is not of a policy scope. */
static void in_force(const xenshape__dompolicy *dp,
                     const xenshape__hostpolicy *hp,
                     const xenshape__schema_key *k, char *buf, size_t n)
{
    buf[0] = '\0';
    if (k->scope == XENSHAPE__SCOPE_VM)
        CHECK(xenshape__dompolicy_get(dp, k->id, buf, n) == 0);
    else if (k->scope == XENSHAPE__SCOPE_HOST)
        CHECK(xenshape__hostpolicy_get(hp, k->id, buf, n) == 0);
}

/* Apply the value to a policy at its defaults, as one key written. */
static void check_apply(const xenshape__schema_key *k, const char *s,
                        size_t len, bool ok, const xenshape__schema_val *v)
{
    static xenshape__dompolicy dp;
    static xenshape__hostpolicy hp;
    xenshape__schema_kv kv = { k->name, s ? s : "", len };
    char before[XENSHAPE__SCHEMA_VALUE_MAX + 1];
    char after[XENSHAPE__SCHEMA_VALUE_MAX + 1];
    char want[XENSHAPE__SCHEMA_VALUE_MAX + 1];
    char err[XENSHAPE__SCHEMA_VALUE_MAX + 1];
    unsigned bad;

    if (k->scope != XENSHAPE__SCOPE_VM && k->scope != XENSHAPE__SCOPE_HOST)
        return;
    xenshape__dompolicy_init(&dp);
    xenshape__hostpolicy_init(&hp);
    in_force(&dp, &hp, k, before, sizeof(before));
    if (k->scope == XENSHAPE__SCOPE_VM) {
        bad = xenshape__dompolicy_apply(&dp, &kv, 1, 0);
        xenshape__dompolicy_error(&dp, err, sizeof(err));
    } else {
        bad = xenshape__hostpolicy_apply(&hp, &kv, 1, 0);
        xenshape__hostpolicy_error(&hp, err, sizeof(err));
    }
    CHECK(strlen(err) < sizeof(err));
    in_force(&dp, &hp, k, after, sizeof(after));
    if (!ok) {
        CHECK(bad >= 1);
        CHECK(!strcmp(before, after));
        /* The reason names the key. */
        CHECK(!strncmp(err, k->name, strlen(k->name)));
        return;
    }
    if (bad)                         /* a constraint between keys */
        return;
    CHECK(err[0] == '\0');
    CHECK(xenshape__schema_format(k, v, want, sizeof(want)) == 0);
    CHECK(!strcmp(after, want));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const xenshape__schema_key *k;
    xenshape__schema_val v;
    size_t len, whylen;
    char *s = NULL, *why = NULL;
    int rc;

    if (size < 2)
        return 0;
    k = &xenshape__schema_keys[data[0] % XENSHAPE__SCHEMA_NR_KEYS];
    whylen = data[1];
    len = size - 2;
    /* Exactly len bytes, and a reason of exactly whylen: ASan sees any
     * byte read or written beyond them. */
    if (len) {
        s = malloc(len);
        CHECK(s);
        memcpy(s, data + 2, len);
    }
    if (whylen) {
        why = malloc(whylen);
        CHECK(why);
        memset(why, 'x', whylen);
    }
    memset(&v, 0, sizeof(v));
    rc = xenshape__schema_parse(k, s, len, &v, why, whylen);
    CHECK(rc == 0 || rc == XENSHAPE_EINVAL);
    if (whylen) {
        CHECK(memchr(why, '\0', whylen));
        /* A rejection says why, given room for a word. */
        if (rc && whylen > 1)
            CHECK(why[0] != '\0');
        if (!rc)
            CHECK(why[0] == '\0');
    }
    if (!rc) {
        check_range(k, &v, s, len);
        check_round_trip(k, &v);
    }
    check_apply(k, s, len, rc == 0, &v);
    free(s);
    free(why);
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
