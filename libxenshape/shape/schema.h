/*
 * schema.h - the xenstore keys of xenshape, typed: where each key lives,
 * how its text is parsed and checked, and the two policy structs the
 * shaping engine (shape.h) reads: one per VM and one for the host.
 *
 * The keys are declared once, in xenstore-schema/xenshape.schema.  The
 * build generates from it the X-macros in gen/schema_keys.h (included
 * here: scope and key ids) and the table xenshape__schema_keys[] in
 * gen/schema_table.c (types, ranges, defaults, who writes).  A policy key
 * added to the schema without teaching schema.c where it goes in a policy
 * struct fails tests/check_schema, which round-trips every generated
 * valid value through apply and get.
 *
 * What the daemon does with it, on every watch event of a VM's policy
 * directory: read the directory (in one transaction, retried on EAGAIN),
 * hand every (name, value) pair to xenshape__dompolicy_apply() with
 * XENSHAPE__APPLY_FULL, write xenshape__dompolicy_error() to the status
 * key "error" and xenshape__dompolicy_get() of every key to the read-only
 * mirror (scope vmview).  A value that fails to parse, is out of range or
 * breaks a constraint between keys is rejected: the key keeps its last
 * valid value and the reason stays recorded until a valid value (or the
 * removal of the node) replaces it.  Host policy goes the same way.
 *
 * Nothing here allocates, prints or fails on hostile input: values are
 * bounded (a xenstore node holds at most 2048 bytes), every number is
 * checked for overflow, and anything after a number is rejected.
 */

#ifndef XENSHAPE_SCHEMA_H
#define XENSHAPE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen/schema_keys.h"

/* Where keys live: the roots of the schema's "root" records. */
enum xenshape__schema_scope {
    XENSHAPE__SCOPE_NONE = -1,
#define XENSHAPE__SCOPE_ENUM(id, name, path, perms, mirror, desc) \
    XENSHAPE__SCOPE_##id,
    XENSHAPE__SCHEMA_SCOPES(XENSHAPE__SCOPE_ENUM)
#undef XENSHAPE__SCOPE_ENUM
    XENSHAPE__SCOPE_NR
};

/* Every key, e.g. XENSHAPE__KEY_VM_MIN_STARTING, the index of its row in
 * xenshape__schema_keys[]. */
enum xenshape__key {
#define XENSHAPE__KEY_ENUM(id, scope, index, name) XENSHAPE__KEY_##id,
    XENSHAPE__SCHEMA_KEYS(XENSHAPE__KEY_ENUM)
#undef XENSHAPE__KEY_ENUM
    XENSHAPE__KEY_NR
};

enum xenshape__schema_type {
    XENSHAPE__TYPE_INT,      /* decimal, unsigned */
    XENSHAPE__TYPE_BOOL,     /* 0 1 false true no yes */
    XENSHAPE__TYPE_SIZE,     /* KiB, or with suffix K M G T */
    XENSHAPE__TYPE_PERCENT,  /* 0..100, optional % */
    XENSHAPE__TYPE_SIZEPCT,  /* "70%" or a size */
    XENSHAPE__TYPE_ENUM,     /* one word of a list */
    XENSHAPE__TYPE_STRING,   /* printable ASCII */
    XENSHAPE__TYPE_PATH,     /* absolute, printable ASCII */
};

enum xenshape__schema_writer {
    XENSHAPE__WRITER_DOM0,   /* Dom0 tools and cloud control */
    XENSHAPE__WRITER_DAEMON, /* xenshaped only */
};

typedef struct xenshape__schema_key {
    enum xenshape__key id;
    enum xenshape__schema_scope scope;
    unsigned index;                  /* position within its scope */
    const char *name;                /* path below the scope's root */
    enum xenshape__schema_type type;
    /* int, percent: the value; size, sizepct: the size in KiB; bool,
     * enum: 0..words-1; string, path: the length in bytes.  max is
     * UINT64_MAX when the schema gives no upper bound. */
    uint64_t min, max;
    unsigned pct_min, pct_max;       /* sizepct: the percent range */
    const char *range;               /* as the schema writes it */
    const char *const *enums;        /* enum: NULL-terminated words */
    const char *def;                 /* default as text; NULL: none */
    enum xenshape__schema_writer writer;
    const char *desc;
} xenshape__schema_key;

/* The table, generated; row i has id i. */
extern const xenshape__schema_key
    xenshape__schema_keys[XENSHAPE__SCHEMA_NR_KEYS];

typedef struct xenshape__schema_scope_info {
    const char *name;                /* "vm" */
    const char *path;                /* "/xenshape/vm/<uuid>" */
    const char *perms;               /* "n0", "n0,r<domid>" */
    enum xenshape__schema_scope mirror_of; /* NONE, or the mirrored scope */
    const char *desc;
} xenshape__schema_scope_info;

extern const xenshape__schema_scope_info
    xenshape__schema_scopes[XENSHAPE__SCOPE_NR];

/* A xenstore node holds at most this many bytes. */
#define XENSHAPE__SCHEMA_VALUE_MAX 2048
/* Room for one reason, NUL included. */
#define XENSHAPE__SCHEMA_WHY_MAX 160
/* Room for a store path, NUL included (the schema allows 1023 bytes). */
#define XENSHAPE__SCHEMA_PATH_MAX 1024

/* A parsed value; which member counts depends on the key's type. */
typedef struct xenshape__schema_val {
    bool pct;        /* sizepct: u is a percent (else KiB) */
    /* int, percent: the number; size, sizepct: KiB or percent; bool: 0
     * or 1; enum: index of the word; string, path: length of s. */
    uint64_t u;
    const char *s;   /* string, path: the input text, not NUL-terminated */
} xenshape__schema_val;

/* The key called name in scope; NULL if there is none.  name is the path
 * below the scope's root ("meter/page-ins"). */
const xenshape__schema_key *
xenshape__schema_lookup(enum xenshape__schema_scope scope, const char *name);

/*
 * Parse len bytes of s (need not be NUL-terminated; may hold anything)
 * as a value of key k.  0 and *v_r, or XENSHAPE_EINVAL and the reason in
 * why (always NUL-terminated when whylen > 0), for example
 * "out of range 1..1000: 1001" or "not a number: \"12abc\"".  The range
 * is checked too.  why may be NULL.
 */
int xenshape__schema_parse(const xenshape__schema_key *k, const char *s,
                           size_t len, xenshape__schema_val *v_r,
                           char *why, size_t whylen);

/* The canonical text of a value of key k, which parses back to it: sizes
 * with the largest exact suffix ("512M"), percents with "%".
 * XENSHAPE_EINVAL if buf (n bytes) is too small. */
int xenshape__schema_format(const xenshape__schema_key *k,
                            const xenshape__schema_val *v, char *buf,
                            size_t n);

/* A size in KiB as text with the largest exact suffix: "512M", "3T",
 * "1000" (KiB).  Truncated to n bytes. */
void xenshape__schema_fmt_size(char *buf, size_t n, uint64_t kib);

/*
 * The full path of a key: the scope's root with <uuid> or <domid>
 * replaced by id, then "/" and key (key NULL: the root itself).  id must
 * be a UUID (36 characters, hex digits and dashes) for <uuid> and a
 * decimal domid for <domid>, so no id can escape its directory.
 * XENSHAPE_EINVAL if it is not, or if buf (n bytes) is too small.
 */
int xenshape__schema_path(char *buf, size_t n,
                          enum xenshape__schema_scope scope, const char *id,
                          const char *key);

/* One xenstore permission entry, as struct xs_permissions. */
typedef struct xenshape__schema_perm {
    uint32_t id;
    unsigned perms;                  /* XS_PERM_*: 0 none, 1 read, 2 write */
} xenshape__schema_perm;

/* The permissions the daemon sets on the nodes of a scope, the first
 * entry being the owner and the default for everyone else, with <domid>
 * replaced by domid.  Up to max entries; *nr_r: how many.
 * XENSHAPE_EINVAL if max is too small. */
int xenshape__schema_perms(enum xenshape__schema_scope scope,
                           uint32_t domid, xenshape__schema_perm *perms,
                           unsigned max, unsigned *nr_r);

/* ---- policy ------------------------------------------------------------ */

/* A size or a percentage, as the sizepct keys hold them. */
typedef struct xenshape__sizepct {
    bool pct;                        /* v is a percent, else KiB */
    uint64_t v;
} xenshape__sizepct;

enum xenshape__threshold_mode {
    XENSHAPE__THRESHOLD_STATIC,      /* as written */
    XENSHAPE__THRESHOLD_DYNAMIC,     /* against RAM + host free RAM */
};

enum xenshape__hibernate_mode {
    XENSHAPE__HIBERNATE_PAUSE,       /* pause; page out as needed */
    XENSHAPE__HIBERNATE_STORE,       /* pause; page everything out */
};

/* One input of an apply: a node of a policy directory. */
typedef struct xenshape__schema_kv {
    const char *key;                 /* path below the scope's root */
    const char *value;               /* NULL: the node is gone (default) */
    size_t len;                      /* bytes of value */
} xenshape__schema_kv;

/* The batch is the whole directory: keys it lacks return to their
 * defaults, and the unknown keys of earlier batches are forgotten. */
#define XENSHAPE__APPLY_FULL 0x1u

/* The policy of one VM, in force.  Sizes in KiB (the engine converts to
 * frames).  Meaning of each field: the schema, or docs/xenstore-paths.md. */
typedef struct xenshape__dompolicy {
    unsigned priority;               /* 1..1000 */
    bool soaker;
    bool pin;
    enum xenshape__threshold_mode threshold_mode;
    xenshape__sizepct threshold_high; /* percent of presented, or KiB */
    xenshape__sizepct threshold_low;
    uint64_t rate_kib;               /* per second, at priority 1000 */
    uint64_t burst_kib;
    uint64_t min_operating_kib;
    uint64_t min_starting_kib;       /* >= min_operating_kib, always */
    enum xenshape__hibernate_mode hibernate;
    bool hibernate_now;              /* hibernation asked for (CLI) */

    /* Why the last value written to each key was rejected; "" when it was
     * accepted.  unknown: the unknown keys of the last batch with any. */
    char why[XENSHAPE__SCHEMA_NR_VM][XENSHAPE__SCHEMA_WHY_MAX];
    char unknown[XENSHAPE__SCHEMA_WHY_MAX];
} xenshape__dompolicy;

/* The host's policy, in force. */
typedef struct xenshape__hostpolicy {
    uint64_t reserved_kib;           /* for Dom0 and Xen */
    unsigned interval_ms;
    char store_path[XENSHAPE__SCHEMA_PATH_MAX];
    uint64_t store_size_kib;         /* 0: keep the file's size */
    xenshape__sizepct shrink_rate;   /* per second: KiB, or % of presented */
    xenshape__sizepct headroom;      /* KiB, or % of usage */
    unsigned hysteresis_s;

    char why[XENSHAPE__SCHEMA_NR_HOST][XENSHAPE__SCHEMA_WHY_MAX];
    char unknown[XENSHAPE__SCHEMA_WHY_MAX];
} xenshape__hostpolicy;

/* Every key at its default, no reasons recorded. */
void xenshape__dompolicy_init(xenshape__dompolicy *p);
void xenshape__hostpolicy_init(xenshape__hostpolicy *p);

/*
 * Apply n (key, value) pairs, in order, as one change: each value is
 * parsed and range-checked, then the constraints between keys are
 * checked on the result (min-starting >= min-operating; threshold-low <=
 * threshold-high when both are sizes or both percents; a value of this
 * batch that breaks one is rejected, an older one stays).  A rejected
 * value leaves the key at its last valid value and records the reason;
 * an accepted value, or a NULL value (node removed: the default), clears
 * it.  flags: 0 or XENSHAPE__APPLY_FULL.  Returns how many pairs were
 * rejected (unknown keys included); never fails.
 */
unsigned xenshape__dompolicy_apply(xenshape__dompolicy *p,
                                   const xenshape__schema_kv *kv,
                                   unsigned n, unsigned flags);
unsigned xenshape__hostpolicy_apply(xenshape__hostpolicy *p,
                                    const xenshape__schema_kv *kv,
                                    unsigned n, unsigned flags);

/* Every recorded reason, in key order, joined with "; " ("" if none):
 * what the status key "error" shows.  Truncated to n bytes (n > 0). */
void xenshape__dompolicy_error(const xenshape__dompolicy *p, char *buf,
                               size_t n);
void xenshape__hostpolicy_error(const xenshape__hostpolicy *p, char *buf,
                                size_t n);

/* The value in force of key id (a key of the vm, respectively host,
 * scope) as canonical text, for the read-only mirror.  XENSHAPE_EINVAL:
 * not a key of that scope, or buf too small. */
int xenshape__dompolicy_get(const xenshape__dompolicy *p,
                            enum xenshape__key id, char *buf, size_t n);
int xenshape__hostpolicy_get(const xenshape__hostpolicy *p,
                             enum xenshape__key id, char *buf, size_t n);

#endif /* XENSHAPE_SCHEMA_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
