/*
 * schema.c - typed access to xenshape's xenstore keys: parsing what cloud
 * control writes against the key table generated from
 * xenstore-schema/xenshape.schema, the reasons a value is rejected, the
 * paths and permissions of each scope, and the VM and host policy structs
 * with their "last valid value stays in force" rule.  See schema.h.
 *
 * Every input is treated as hostile: lengths are bounded before anything
 * is read, digits are accumulated with an overflow check, a suffix is
 * multiplied in only when it cannot overflow, and a reason quotes at most
 * a short, printable excerpt of what was written.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "private.h"
#include "shape/schema.h"

const xenshape__schema_scope_info xenshape__schema_scopes[XENSHAPE__SCOPE_NR] = {
#define XENSHAPE__SCOPE_ROW(id, name_, path_, perms_, mirror, desc_)        \
    [XENSHAPE__SCOPE_##id] = {                                             \
        .name = name_, .path = path_, .perms = perms_,                     \
        .mirror_of = XENSHAPE__SCOPE_##mirror, .desc = desc_,              \
    },
    XENSHAPE__SCHEMA_SCOPES(XENSHAPE__SCOPE_ROW)
#undef XENSHAPE__SCOPE_ROW
};

/*
 * Whether key k is called name.  The first byte is compared before the
 * rest: a policy directory's every node is looked up, unknown ones in
 * every scope, and few keys share a first letter, so that almost no
 * lookup reaches strcmp().  Under libFuzzer, which hooks each strcmp()
 * call, whole-name comparisons made the lookup a quarter of each run of
 * fuzz_kv_watch.
 */
static bool name_is(const xenshape__schema_key *k, const char *name)
{
    return k->name[0] == name[0] && !strcmp(k->name, name);
}

const xenshape__schema_key *
xenshape__schema_lookup(enum xenshape__schema_scope scope, const char *name)
{
    unsigned i;

    if (!name)
        return NULL;
    for (i = 0; i < XENSHAPE__SCHEMA_NR_KEYS; i++) {
        const xenshape__schema_key *k = &xenshape__schema_keys[i];

        if (k->scope == scope && name_is(k, name))
            return k;
    }
    return NULL;
}

/* ---- reasons ---------------------------------------------------------- */

/* Room for a quoted excerpt of a value. */
#define QUOTE_MAX 40

/* s as a short, quoted, printable excerpt: "12abc", at most 24 characters
 * of it, "..." when there is more, '?' for anything unprintable. */
static void quote(char *buf, size_t n, const char *s, size_t len)
{
    size_t i, o = 0, lim = len > 24 ? 24 : len;

    if (n < 8) {
        if (n)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (i = 0; i < lim && o + 6 < n; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[o++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
    }
    if (i < len && o + 5 < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static int fail(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;

    if (why && n) {
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return XENSHAPE_EINVAL;
}

/* ---- numbers ---------------------------------------------------------- */

enum { NUM_OK, NUM_NONE, NUM_NEG, NUM_BIG };

/* The decimal digits at the start of s: NUM_OK with their value and
 * count, NUM_NONE (no digit first), NUM_NEG ("-" then a digit) or
 * NUM_BIG (above UINT64_MAX). */
static int digits(const char *s, size_t len, size_t *used_r, uint64_t *v_r)
{
    uint64_t v = 0;
    size_t i = 0;

    if (len >= 2 && s[0] == '-' && s[1] >= '0' && s[1] <= '9')
        return NUM_NEG;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        unsigned d = (unsigned)(s[i] - '0');

        if (v > (UINT64_MAX - d) / 10)
            return NUM_BIG;
        v = v * 10 + d;
        i++;
    }
    if (!i)
        return NUM_NONE;
    *used_r = i;
    *v_r = v;
    return NUM_OK;
}

static int num_fail(int r, const char *s, size_t len, char *why, size_t n)
{
    char q[QUOTE_MAX];

    quote(q, sizeof(q), s, len);
    switch (r) {
    case NUM_NEG:
        return fail(why, n, "must not be negative: %s", q);
    case NUM_BIG:
        return fail(why, n, "too large: %s", q);
    default:
        return fail(why, n, "not a number: %s", q);
    }
}

/* The part of a sizepct range before (part 0) or after (part 1) its
 * comma, as printf's "%.*s" arguments. */
static void range_part(const char *range, int part, int *len_r,
                       const char **s_r)
{
    const char *comma = strchr(range, ',');

    if (!comma) {
        *s_r = range;
        *len_r = (int)strlen(range);
    } else if (part == 0) {
        *s_r = range;
        *len_r = (int)(comma - range);
    } else {
        *s_r = comma + 1;
        *len_r = (int)strlen(comma + 1);
    }
}

static int parse_int(const xenshape__schema_key *k, const char *s,
                     size_t len, bool pct_sign, uint64_t *v_r,
                     char *why, size_t n)
{
    size_t used = 0;
    uint64_t v = 0;
    int r = digits(s, len, &used, &v);

    if (r != NUM_OK)
        return num_fail(r, s, len, why, n);
    if (pct_sign && used + 1 == len && s[used] == '%')
        used++;
    if (used != len)
        return num_fail(NUM_NONE, s, len, why, n);
    if (v < k->min || v > k->max)
        return fail(why, n, "out of range %s: %" PRIu64, k->range, v);
    *v_r = v;
    return 0;
}

/* A size in KiB: digits, then nothing or one of K M G T. */
static int parse_size(const xenshape__schema_key *k, const char *s,
                      size_t len, uint64_t *v_r, char *why, size_t n)
{
    size_t used = 0;
    uint64_t v = 0, mult = 1;
    const char *rs;
    int rl, r = digits(s, len, &used, &v);
    char q[QUOTE_MAX];

    if (r != NUM_OK)
        return num_fail(r, s, len, why, n);
    if (used + 1 == len) {
        switch (s[used]) {
        case 'K': case 'k': mult = 1; break;
        case 'M': case 'm': mult = UINT64_C(1) << 10; break;
        case 'G': case 'g': mult = UINT64_C(1) << 20; break;
        case 'T': case 't': mult = UINT64_C(1) << 30; break;
        default: used = 0; break;
        }
        if (used)
            used++;
    }
    if (used != len) {
        quote(q, sizeof(q), s, len);
        return fail(why, n, "bad suffix in %s (K, M, G or T)", q);
    }
    if (v > UINT64_MAX / mult)
        return num_fail(NUM_BIG, s, len, why, n);
    v *= mult;
    if (v < k->min || v > k->max) {
        range_part(k->range, 1, &rl, &rs);
        quote(q, sizeof(q), s, len);
        return fail(why, n, "out of range %.*s: %s", rl, rs, q);
    }
    *v_r = v;
    return 0;
}

/* "70%": digits and exactly one '%' at the end. */
static int parse_pct(const xenshape__schema_key *k, const char *s,
                     size_t len, uint64_t *v_r, char *why, size_t n)
{
    size_t used = 0;
    uint64_t v = 0;
    const char *rs;
    int rl, r = digits(s, len, &used, &v);

    if (r != NUM_OK)
        return num_fail(r, s, len, why, n);
    if (used + 1 != len || s[used] != '%')
        return num_fail(NUM_NONE, s, len, why, n);
    if (v < k->pct_min || v > k->pct_max) {
        range_part(k->range, 0, &rl, &rs);
        return fail(why, n, "out of range %.*s: %" PRIu64 "%%", rl, rs, v);
    }
    *v_r = v;
    return 0;
}

/* ---- parse and format ------------------------------------------------- */

static const struct {
    const char *word;
    bool v;
} bool_words[] = {
    { "0", false }, { "1", true }, { "false", false }, { "true", true },
    { "no", false }, { "yes", true },
};

static bool word_is(const char *word, const char *s, size_t len)
{
    return strlen(word) == len && !memcmp(word, s, len);
}

/* "pause, store", truncated to n. */
static void enum_list(const xenshape__schema_key *k, char *buf, size_t n)
{
    size_t o = 0;
    unsigned i;

    buf[0] = '\0';
    for (i = 0; k->enums && k->enums[i] && o < n; i++) {
        int r = snprintf(buf + o, n - o, "%s%s", i ? ", " : "",
                         k->enums[i]);

        if (r < 0)
            break;
        o += (size_t)r;
    }
}

int xenshape__schema_parse(const xenshape__schema_key *k, const char *s,
                           size_t len, xenshape__schema_val *v_r,
                           char *why, size_t whylen)
{
    xenshape__schema_val v = { .pct = false, .u = 0, .s = NULL };
    char q[QUOTE_MAX], list[128];
    size_t i;
    int rc;

    if (why && whylen)
        why[0] = '\0';
    if (!k || !v_r || (!s && len))
        return fail(why, whylen, "no key or value");
    if (len > XENSHAPE__SCHEMA_VALUE_MAX)
        return fail(why, whylen, "value too long (%zu bytes, at most %u)",
                    len, XENSHAPE__SCHEMA_VALUE_MAX);
    if (!len && !(k->type == XENSHAPE__TYPE_STRING && k->min == 0))
        return fail(why, whylen, "empty value");

    switch (k->type) {
    case XENSHAPE__TYPE_INT:
        rc = parse_int(k, s, len, false, &v.u, why, whylen);
        break;
    case XENSHAPE__TYPE_PERCENT:
        rc = parse_int(k, s, len, true, &v.u, why, whylen);
        break;
    case XENSHAPE__TYPE_SIZE:
        rc = parse_size(k, s, len, &v.u, why, whylen);
        break;
    case XENSHAPE__TYPE_SIZEPCT:
        v.pct = memchr(s, '%', len) != NULL;
        rc = v.pct ? parse_pct(k, s, len, &v.u, why, whylen)
                   : parse_size(k, s, len, &v.u, why, whylen);
        break;
    case XENSHAPE__TYPE_BOOL:
        rc = XENSHAPE_EINVAL;
        for (i = 0; i < XENSHAPE__ARRAY_SIZE(bool_words); i++)
            if (word_is(bool_words[i].word, s, len)) {
                v.u = bool_words[i].v;
                rc = 0;
                break;
            }
        if (rc) {
            quote(q, sizeof(q), s, len);
            rc = fail(why, whylen,
                      "not a boolean: %s (0, 1, false, true, no, yes)", q);
        }
        break;
    case XENSHAPE__TYPE_ENUM:
        rc = XENSHAPE_EINVAL;
        for (i = 0; k->enums && k->enums[i]; i++)
            if (word_is(k->enums[i], s, len)) {
                v.u = i;
                rc = 0;
                break;
            }
        if (rc) {
            quote(q, sizeof(q), s, len);
            enum_list(k, list, sizeof(list));
            rc = fail(why, whylen, "not one of %s: %s", list, q);
        }
        break;
    case XENSHAPE__TYPE_STRING:
    case XENSHAPE__TYPE_PATH:
        rc = 0;
        if (len < k->min)
            rc = fail(why, whylen, len ? "too short" : "empty value");
        else if (len > k->max)
            rc = fail(why, whylen, "value too long (%zu bytes, at most %"
                      PRIu64 ")", len, k->max);
        for (i = 0; !rc && i < len; i++)
            if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
                rc = fail(why, whylen,
                          "contains control or non-ASCII characters");
        if (!rc && k->type == XENSHAPE__TYPE_PATH && s[0] != '/') {
            quote(q, sizeof(q), s, len);
            rc = fail(why, whylen, "not an absolute path: %s", q);
        }
        v.s = s;
        v.u = len;
        break;
    default:
        rc = fail(why, whylen, "key of unknown type");
        break;
    }
    if (rc)
        return rc;
    *v_r = v;
    return 0;
}

void xenshape__schema_fmt_size(char *buf, size_t n, uint64_t kib)
{
    static const struct { unsigned shift; char sfx; } units[] = {
        { 30, 'T' }, { 20, 'G' }, { 10, 'M' },
    };
    unsigned i;

    if (!n)
        return;
    for (i = 0; kib && i < XENSHAPE__ARRAY_SIZE(units); i++)
        if (!(kib & ((UINT64_C(1) << units[i].shift) - 1))) {
            snprintf(buf, n, "%" PRIu64 "%c", kib >> units[i].shift,
                     units[i].sfx);
            return;
        }
    snprintf(buf, n, "%" PRIu64, kib);
}

int xenshape__schema_format(const xenshape__schema_key *k,
                            const xenshape__schema_val *v, char *buf,
                            size_t n)
{
    char tmp[32];
    int r;

    if (!k || !v || !buf || !n)
        return XENSHAPE_EINVAL;
    switch (k->type) {
    case XENSHAPE__TYPE_INT:
        r = snprintf(buf, n, "%" PRIu64, v->u);
        break;
    case XENSHAPE__TYPE_PERCENT:
        r = snprintf(buf, n, "%" PRIu64 "%%", v->u);
        break;
    case XENSHAPE__TYPE_SIZE:
        xenshape__schema_fmt_size(tmp, sizeof(tmp), v->u);
        r = snprintf(buf, n, "%s", tmp);
        break;
    case XENSHAPE__TYPE_SIZEPCT:
        if (v->pct) {
            r = snprintf(buf, n, "%" PRIu64 "%%", v->u);
        } else {
            xenshape__schema_fmt_size(tmp, sizeof(tmp), v->u);
            r = snprintf(buf, n, "%s", tmp);
        }
        break;
    case XENSHAPE__TYPE_BOOL:
        r = snprintf(buf, n, "%d", v->u ? 1 : 0);
        break;
    case XENSHAPE__TYPE_ENUM:
        if (v->u > k->max || !k->enums)
            return XENSHAPE_EINVAL;
        r = snprintf(buf, n, "%s", k->enums[v->u]);
        break;
    case XENSHAPE__TYPE_STRING:
    case XENSHAPE__TYPE_PATH:
        if (v->u > INT32_MAX || (v->u && !v->s))
            return XENSHAPE_EINVAL;
        r = snprintf(buf, n, "%.*s", (int)v->u, v->u ? v->s : "");
        break;
    default:
        return XENSHAPE_EINVAL;
    }
    if (r < 0 || (size_t)r >= n)
        return XENSHAPE_EINVAL;
    return 0;
}

/* ---- paths and permissions -------------------------------------------- */

static bool is_uuid(const char *s)
{
    size_t i;

    if (strlen(s) != 36)
        return false;
    for (i = 0; i < 36; i++) {
        char c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

static bool is_domid(const char *s)
{
    size_t i, n = strlen(s);

    if (!n || n > 5)
        return false;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* A key below a root: path components of [A-Za-z0-9_-], "/" between. */
static bool is_relpath(const char *s)
{
    size_t i, n = strlen(s);

    if (!n || s[0] == '/' || s[n - 1] == '/')
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c == '/') {
            if (s[i + 1] == '/')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

int xenshape__schema_path(char *buf, size_t n,
                          enum xenshape__schema_scope scope, const char *id,
                          const char *key)
{
    const char *tmpl, *lt, *gt;
    int r;

    if (!buf || !n || scope < 0 || scope >= XENSHAPE__SCOPE_NR)
        return XENSHAPE_EINVAL;
    if (key && !is_relpath(key))
        return XENSHAPE_EINVAL;
    tmpl = xenshape__schema_scopes[scope].path;
    lt = strchr(tmpl, '<');
    if (!lt) {
        r = snprintf(buf, n, "%s%s%s", tmpl, key ? "/" : "",
                     key ? key : "");
    } else {
        gt = strchr(lt, '>');
        if (!gt || !id)
            return XENSHAPE_EINVAL;
        if (!strncmp(lt, "<uuid>", 6) ? !is_uuid(id)
            : !strncmp(lt, "<domid>", 7) ? !is_domid(id) : true)
            return XENSHAPE_EINVAL;
        r = snprintf(buf, n, "%.*s%s%s%s%s", (int)(lt - tmpl), tmpl, id,
                     gt + 1, key ? "/" : "", key ? key : "");
    }
    if (r < 0 || (size_t)r >= n)
        return XENSHAPE_EINVAL;
    return 0;
}

int xenshape__schema_perms(enum xenshape__schema_scope scope,
                           uint32_t domid, xenshape__schema_perm *perms,
                           unsigned max, unsigned *nr_r)
{
    const char *p;
    unsigned nr = 0;

    if (scope < 0 || scope >= XENSHAPE__SCOPE_NR || !perms || !nr_r)
        return XENSHAPE_EINVAL;
    p = xenshape__schema_scopes[scope].perms;
    while (*p) {
        xenshape__schema_perm e = { 0, 0 };
        size_t used = 0;
        uint64_t v = 0;

        switch (*p++) {
        case 'n': e.perms = 0; break;
        case 'r': e.perms = 1; break;
        case 'w': e.perms = 2; break;
        case 'b': e.perms = 3; break;
        default: return XENSHAPE_EINVAL;
        }
        if (!strncmp(p, "<domid>", 7)) {
            e.id = domid;
            p += 7;
        } else if (digits(p, strlen(p), &used, &v) == NUM_OK &&
                   v <= UINT32_MAX) {
            e.id = (uint32_t)v;
            p += used;
        } else {
            return XENSHAPE_EINVAL;
        }
        if (*p == ',')
            p++;
        if (nr == max)
            return XENSHAPE_EINVAL;
        perms[nr++] = e;
    }
    *nr_r = nr;
    return 0;
}

/* ---- policies --------------------------------------------------------- */

static unsigned enum_index(const xenshape__schema_key *k, const char *word)
{
    unsigned i;

    for (i = 0; k->enums && k->enums[i]; i++)
        if (!strcmp(k->enums[i], word))
            return i;
    return 0;
}

static bool enum_is(const xenshape__schema_key *k,
                    const xenshape__schema_val *v, const char *word)
{
    return k->enums && v->u <= k->max && !strcmp(k->enums[v->u], word);
}

static xenshape__sizepct sizepct_of(const xenshape__schema_val *v)
{
    xenshape__sizepct sp = { .pct = v->pct, .v = v->u };

    return sp;
}

static xenshape__schema_val val_of_sizepct(xenshape__sizepct sp)
{
    xenshape__schema_val v = { .pct = sp.pct, .u = sp.v, .s = NULL };

    return v;
}

static void fmt_sizepct(char *buf, size_t n, xenshape__sizepct sp)
{
    if (sp.pct)
        snprintf(buf, n, "%" PRIu64 "%%", sp.v);
    else
        xenshape__schema_fmt_size(buf, n, sp.v);
}

static void vm_set(void *pol, const xenshape__schema_key *k,
                   const xenshape__schema_val *v)
{
    xenshape__dompolicy *p = pol;

    switch (k->id) {
    case XENSHAPE__KEY_VM_PRIORITY: p->priority = (unsigned)v->u; break;
    case XENSHAPE__KEY_VM_SOAKER: p->soaker = v->u; break;
    case XENSHAPE__KEY_VM_PIN: p->pin = v->u; break;
    case XENSHAPE__KEY_VM_HIBERNATE_NOW: p->hibernate_now = v->u; break;
    case XENSHAPE__KEY_VM_THRESHOLD_MODE:
        p->threshold_mode = enum_is(k, v, "dynamic")
            ? XENSHAPE__THRESHOLD_DYNAMIC : XENSHAPE__THRESHOLD_STATIC;
        break;
    case XENSHAPE__KEY_VM_THRESHOLD_HIGH:
        p->threshold_high = sizepct_of(v);
        break;
    case XENSHAPE__KEY_VM_THRESHOLD_LOW:
        p->threshold_low = sizepct_of(v);
        break;
    case XENSHAPE__KEY_VM_RATE: p->rate_kib = v->u; break;
    case XENSHAPE__KEY_VM_BURST: p->burst_kib = v->u; break;
    case XENSHAPE__KEY_VM_MIN_OPERATING: p->min_operating_kib = v->u; break;
    case XENSHAPE__KEY_VM_MIN_STARTING: p->min_starting_kib = v->u; break;
    case XENSHAPE__KEY_VM_HIBERNATE:
        p->hibernate = enum_is(k, v, "pause")
            ? XENSHAPE__HIBERNATE_PAUSE : XENSHAPE__HIBERNATE_STORE;
        break;
    default:
        /* Not a vm key; check_schema proves every vm key lands here. */
        break;
    }
}

static bool vm_get(const void *pol, const xenshape__schema_key *k,
                   xenshape__schema_val *v)
{
    const xenshape__dompolicy *p = pol;

    switch (k->id) {
    case XENSHAPE__KEY_VM_PRIORITY: v->u = p->priority; break;
    case XENSHAPE__KEY_VM_SOAKER: v->u = p->soaker; break;
    case XENSHAPE__KEY_VM_PIN: v->u = p->pin; break;
    case XENSHAPE__KEY_VM_HIBERNATE_NOW: v->u = p->hibernate_now; break;
    case XENSHAPE__KEY_VM_THRESHOLD_MODE:
        v->u = enum_index(k, p->threshold_mode ==
                          XENSHAPE__THRESHOLD_DYNAMIC ? "dynamic" : "static");
        break;
    case XENSHAPE__KEY_VM_THRESHOLD_HIGH:
        *v = val_of_sizepct(p->threshold_high);
        break;
    case XENSHAPE__KEY_VM_THRESHOLD_LOW:
        *v = val_of_sizepct(p->threshold_low);
        break;
    case XENSHAPE__KEY_VM_RATE: v->u = p->rate_kib; break;
    case XENSHAPE__KEY_VM_BURST: v->u = p->burst_kib; break;
    case XENSHAPE__KEY_VM_MIN_OPERATING: v->u = p->min_operating_kib; break;
    case XENSHAPE__KEY_VM_MIN_STARTING: v->u = p->min_starting_kib; break;
    case XENSHAPE__KEY_VM_HIBERNATE:
        v->u = enum_index(k, p->hibernate == XENSHAPE__HIBERNATE_PAUSE
                          ? "pause" : "store");
        break;
    default:
        return false;
    }
    return true;
}

#define KEYIDX(id) (xenshape__schema_keys[XENSHAPE__KEY_##id].index)

static bool sizepct_eq(xenshape__sizepct a, xenshape__sizepct b)
{
    return a.pct == b.pct && a.v == b.v;
}

static bool threshold_bad(const xenshape__dompolicy *c)
{
    return c->threshold_low.pct == c->threshold_high.pct &&
           c->threshold_low.v > c->threshold_high.v;
}

/*
 * The constraints between vm keys, on the candidate c (o: the policy in
 * force before this batch, which met them).  A value of this batch that
 * breaks one goes back to its old value, with the reason; reverting
 * every changed key restores o, so this always ends in a valid policy.
 */
static unsigned vm_cross(void *cand, const void *old,
                         char (*why)[XENSHAPE__SCHEMA_WHY_MAX])
{
    xenshape__dompolicy *c = cand;
    const xenshape__dompolicy *o = old;
    char a[32], b[32];
    unsigned rejected = 0;

    if (c->min_starting_kib < c->min_operating_kib &&
        c->min_starting_kib != o->min_starting_kib) {
        xenshape__schema_fmt_size(a, sizeof(a), c->min_starting_kib);
        xenshape__schema_fmt_size(b, sizeof(b), c->min_operating_kib);
        snprintf(why[KEYIDX(VM_MIN_STARTING)], XENSHAPE__SCHEMA_WHY_MAX,
                 "min-starting %s is below min-operating %s", a, b);
        c->min_starting_kib = o->min_starting_kib;
        rejected++;
    }
    if (c->min_starting_kib < c->min_operating_kib &&
        c->min_operating_kib != o->min_operating_kib) {
        xenshape__schema_fmt_size(a, sizeof(a), c->min_operating_kib);
        xenshape__schema_fmt_size(b, sizeof(b), c->min_starting_kib);
        snprintf(why[KEYIDX(VM_MIN_OPERATING)], XENSHAPE__SCHEMA_WHY_MAX,
                 "min-operating %s is above min-starting %s", a, b);
        c->min_operating_kib = o->min_operating_kib;
        rejected++;
    }
    /* Only if the old policy was broken already (set by hand). */
    if (c->min_starting_kib < c->min_operating_kib)
        c->min_starting_kib = c->min_operating_kib;

    if (threshold_bad(c) && !sizepct_eq(c->threshold_low, o->threshold_low)) {
        fmt_sizepct(a, sizeof(a), c->threshold_low);
        fmt_sizepct(b, sizeof(b), c->threshold_high);
        snprintf(why[KEYIDX(VM_THRESHOLD_LOW)], XENSHAPE__SCHEMA_WHY_MAX,
                 "threshold-low %s is above threshold-high %s", a, b);
        c->threshold_low = o->threshold_low;
        rejected++;
    }
    if (threshold_bad(c) &&
        !sizepct_eq(c->threshold_high, o->threshold_high)) {
        fmt_sizepct(a, sizeof(a), c->threshold_high);
        fmt_sizepct(b, sizeof(b), c->threshold_low);
        snprintf(why[KEYIDX(VM_THRESHOLD_HIGH)], XENSHAPE__SCHEMA_WHY_MAX,
                 "threshold-high %s is below threshold-low %s", a, b);
        c->threshold_high = o->threshold_high;
        rejected++;
    }
    if (threshold_bad(c))
        c->threshold_low = c->threshold_high;
    return rejected;
}

static void host_set(void *pol, const xenshape__schema_key *k,
                     const xenshape__schema_val *v)
{
    xenshape__hostpolicy *p = pol;
    size_t len;

    switch (k->id) {
    case XENSHAPE__KEY_HOST_RESERVED: p->reserved_kib = v->u; break;
    case XENSHAPE__KEY_HOST_INTERVAL_MS: p->interval_ms = (unsigned)v->u; break;
    case XENSHAPE__KEY_HOST_STORE_PATH:
        len = v->u < sizeof(p->store_path) ? (size_t)v->u
                                           : sizeof(p->store_path) - 1;
        memcpy(p->store_path, v->s, len);
        p->store_path[len] = '\0';
        break;
    case XENSHAPE__KEY_HOST_STORE_SIZE: p->store_size_kib = v->u; break;
    case XENSHAPE__KEY_HOST_SHRINK_RATE: p->shrink_rate = sizepct_of(v); break;
    case XENSHAPE__KEY_HOST_HEADROOM: p->headroom = sizepct_of(v); break;
    case XENSHAPE__KEY_HOST_HYSTERESIS_S:
        p->hysteresis_s = (unsigned)v->u;
        break;
    default:
        break;
    }
}

static bool host_get(const void *pol, const xenshape__schema_key *k,
                     xenshape__schema_val *v)
{
    const xenshape__hostpolicy *p = pol;

    switch (k->id) {
    case XENSHAPE__KEY_HOST_RESERVED: v->u = p->reserved_kib; break;
    case XENSHAPE__KEY_HOST_INTERVAL_MS: v->u = p->interval_ms; break;
    case XENSHAPE__KEY_HOST_STORE_PATH:
        v->s = p->store_path;
        v->u = strnlen(p->store_path, sizeof(p->store_path));
        break;
    case XENSHAPE__KEY_HOST_STORE_SIZE: v->u = p->store_size_kib; break;
    case XENSHAPE__KEY_HOST_SHRINK_RATE:
        *v = val_of_sizepct(p->shrink_rate);
        break;
    case XENSHAPE__KEY_HOST_HEADROOM: *v = val_of_sizepct(p->headroom); break;
    case XENSHAPE__KEY_HOST_HYSTERESIS_S: v->u = p->hysteresis_s; break;
    default:
        return false;
    }
    return true;
}

/* apply() marks the keys of a batch in a bitmap of this size. */
_Static_assert(XENSHAPE__SCHEMA_NR_VM <= 64 && XENSHAPE__SCHEMA_NR_HOST <= 64,
               "more keys in a scope than apply() can mark");

/* What apply needs to know about one policy struct. */
struct policy_ops {
    enum xenshape__schema_scope scope;
    unsigned nkeys;
    size_t values_size;   /* bytes before the reasons: the values */
    void (*set)(void *pol, const xenshape__schema_key *k,
                const xenshape__schema_val *v);
    bool (*get)(const void *pol, const xenshape__schema_key *k,
                xenshape__schema_val *v);
    unsigned (*cross)(void *cand, const void *old,
                      char (*why)[XENSHAPE__SCHEMA_WHY_MAX]);
};

static const struct policy_ops vm_ops = {
    .scope = XENSHAPE__SCOPE_VM,
    .nkeys = XENSHAPE__SCHEMA_NR_VM,
    .values_size = offsetof(xenshape__dompolicy, why),
    .set = vm_set,
    .get = vm_get,
    .cross = vm_cross,
};

static const struct policy_ops host_ops = {
    .scope = XENSHAPE__SCOPE_HOST,
    .nkeys = XENSHAPE__SCHEMA_NR_HOST,
    .values_size = offsetof(xenshape__hostpolicy, why),
    .set = host_set,
    .get = host_get,
    .cross = NULL,
};

/* Append "; " and text to buf (n bytes), as far as it fits. */
static void append(char *buf, size_t n, const char *text)
{
    size_t o = strnlen(buf, n);

    if (o + 1 >= n)
        return;
    snprintf(buf + o, n - o, "%s%s", o ? "; " : "", text);
}

static void set_default(const struct policy_ops *ops, void *pol,
                        const xenshape__schema_key *k)
{
    xenshape__schema_val v;

    /* The schema's defaults parse: check_schema proves it. */
    if (k->def && !xenshape__schema_parse(k, k->def, strlen(k->def), &v,
                                          NULL, 0))
        ops->set(pol, k, &v);
}

/* A key of the table in another scope than expected, for the reason. */
static const xenshape__schema_key *lookup_elsewhere(const char *name)
{
    unsigned i;

    for (i = 0; name && i < XENSHAPE__SCHEMA_NR_KEYS; i++)
        if (name_is(&xenshape__schema_keys[i], name))
            return &xenshape__schema_keys[i];
    return NULL;
}

static unsigned apply(const struct policy_ops *ops, void *pol,
                      char (*why)[XENSHAPE__SCHEMA_WHY_MAX], char *unknown,
                      const xenshape__schema_kv *kv, unsigned n,
                      unsigned flags)
{
    union {
        xenshape__dompolicy vm;
        xenshape__hostpolicy host;
    } cand;
    bool seen[64] = { false };
    char unk[XENSHAPE__SCHEMA_WHY_MAX] = "";
    /* Room for the key's name before the reason. */
    char reason[XENSHAPE__SCHEMA_WHY_MAX - 48], q[QUOTE_MAX], msg[96];
    unsigned i, rejected = 0;

    memcpy(&cand, pol, ops->values_size);
    for (i = 0; kv && i < n; i++) {
        const xenshape__schema_key *k =
            xenshape__schema_lookup(ops->scope, kv[i].key);
        const xenshape__schema_key *other;
        xenshape__schema_val v;

        if (!k) {
            rejected++;
            quote(q, sizeof(q), kv[i].key ? kv[i].key : "",
                  kv[i].key ? strnlen(kv[i].key, 64) : 0);
            other = lookup_elsewhere(kv[i].key);
            if (other && other->writer == XENSHAPE__WRITER_DAEMON)
                snprintf(msg, sizeof(msg),
                         "unknown key %s (a status key, written by "
                         "xenshaped)", q);
            else
                snprintf(msg, sizeof(msg), "unknown key %s", q);
            append(unk, sizeof(unk), msg);
            continue;
        }
        if (k->index < XENSHAPE__ARRAY_SIZE(seen))
            seen[k->index] = true;
        if (!kv[i].value) {
            set_default(ops, &cand, k);
            why[k->index][0] = '\0';
            continue;
        }
        if (xenshape__schema_parse(k, kv[i].value, kv[i].len, &v, reason,
                                   sizeof(reason))) {
            rejected++;
            snprintf(why[k->index], XENSHAPE__SCHEMA_WHY_MAX, "%s: %s",
                     k->name, reason);
            continue;
        }
        ops->set(&cand, k, &v);
        why[k->index][0] = '\0';
    }
    if (flags & XENSHAPE__APPLY_FULL) {
        for (i = 0; i < XENSHAPE__SCHEMA_NR_KEYS; i++) {
            const xenshape__schema_key *k = &xenshape__schema_keys[i];

            if (k->scope != ops->scope ||
                (k->index < XENSHAPE__ARRAY_SIZE(seen) && seen[k->index]))
                continue;
            set_default(ops, &cand, k);
            why[k->index][0] = '\0';
        }
    }
    if (ops->cross)
        rejected += ops->cross(&cand, pol, why);
    memcpy(pol, &cand, ops->values_size);
    if (unk[0])
        snprintf(unknown, XENSHAPE__SCHEMA_WHY_MAX, "%s", unk);
    else if (flags & XENSHAPE__APPLY_FULL)
        unknown[0] = '\0';
    return rejected;
}

static void error_text(const struct policy_ops *ops,
                       const char (*why)[XENSHAPE__SCHEMA_WHY_MAX],
                       const char *unknown, char *buf, size_t n)
{
    unsigned i;

    if (!buf || !n)
        return;
    buf[0] = '\0';
    for (i = 0; i < ops->nkeys; i++)
        if (why[i][0])
            append(buf, n, why[i]);
    if (unknown[0])
        append(buf, n, unknown);
}

static int get_text(const struct policy_ops *ops, const void *pol,
                    enum xenshape__key id, char *buf, size_t n)
{
    const xenshape__schema_key *k;
    xenshape__schema_val v = { .pct = false, .u = 0, .s = NULL };

    if ((unsigned)id >= XENSHAPE__KEY_NR)
        return XENSHAPE_EINVAL;
    k = &xenshape__schema_keys[id];
    if (k->scope != ops->scope || !ops->get(pol, k, &v))
        return XENSHAPE_EINVAL;
    return xenshape__schema_format(k, &v, buf, n);
}

void xenshape__dompolicy_init(xenshape__dompolicy *p)
{
    memset(p, 0, sizeof(*p));
    apply(&vm_ops, p, p->why, p->unknown, NULL, 0, XENSHAPE__APPLY_FULL);
}

void xenshape__hostpolicy_init(xenshape__hostpolicy *p)
{
    memset(p, 0, sizeof(*p));
    apply(&host_ops, p, p->why, p->unknown, NULL, 0, XENSHAPE__APPLY_FULL);
}

unsigned xenshape__dompolicy_apply(xenshape__dompolicy *p,
                                   const xenshape__schema_kv *kv,
                                   unsigned n, unsigned flags)
{
    return apply(&vm_ops, p, p->why, p->unknown, kv, n, flags);
}

unsigned xenshape__hostpolicy_apply(xenshape__hostpolicy *p,
                                    const xenshape__schema_kv *kv,
                                    unsigned n, unsigned flags)
{
    return apply(&host_ops, p, p->why, p->unknown, kv, n, flags);
}

void xenshape__dompolicy_error(const xenshape__dompolicy *p, char *buf,
                               size_t n)
{
    error_text(&vm_ops, p->why, p->unknown, buf, n);
}

void xenshape__hostpolicy_error(const xenshape__hostpolicy *p, char *buf,
                                size_t n)
{
    error_text(&host_ops, p->why, p->unknown, buf, n);
}

int xenshape__dompolicy_get(const xenshape__dompolicy *p,
                            enum xenshape__key id, char *buf, size_t n)
{
    return get_text(&vm_ops, p, id, buf, n);
}

int xenshape__hostpolicy_get(const xenshape__hostpolicy *p,
                             enum xenshape__key id, char *buf, size_t n)
{
    return get_text(&host_ops, p, id, buf, n);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
