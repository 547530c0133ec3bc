/*
 * check_select.c - page selection (libxenshape/select): every policy
 * driven the way the paging engine drives it, with the engine's
 * misbehaviours included (failed evictions, evictions it chose itself,
 * pinned frames), checked for the invariants the engine relies on; aging;
 * Belady's optimum and LRU on reference strings counted by hand; the trace
 * reader; and the observation model of real Xen.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "select/replay.h"

/* ---- a small deterministic generator ------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(uint64_t n)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return n ? z % n : z;
}

static const char *policy_at(int i)
{
    return xenshape__policy_names()[i];
}

static int nr_policies(void)
{
    int n = 0;

    while (xenshape__policy_names()[n])
        n++;
    return n;
}

/* ---- a miniature engine -------------------------------------------- */

/* check's ck_assert records every passing check through a pipe; the hot
 * paths below test plainly and fail through ck_abort_msg. */
#define REQUIRE(cond, ...)                                                 \
    do {                                                                   \
        if (!(cond))                                                       \
            ck_abort_msg(__VA_ARGS__);                                     \
    } while (0)

typedef struct drv {
    xenshape__policy *p;
    uint64_t nr, cap, nres, faults, chosen;
    uint8_t *res;
    uint8_t *pinned;
    unsigned batch;                  /* victims asked for at a time */
    bool fail_some;                  /* leave every third victim resident */
    unsigned calls;
} drv;

static bool drv_ok(void *arg, uint64_t gfn)
{
    drv *d = arg;

    REQUIRE(gfn < d->nr, "filter asked about gfn %llu, out of range",
            (unsigned long long)gfn);
    REQUIRE(d->res[gfn], "filter asked about gfn %llu, not resident",
            (unsigned long long)gfn);
    return !d->pinned[gfn];
}

static void drv_init(drv *d, const char *policy, uint64_t nr, uint64_t cap,
                     unsigned flags)
{
    memset(d, 0, sizeof(*d));
    d->nr = nr;
    d->cap = cap;
    d->batch = 1;
    d->res = calloc(nr, 1);
    d->pinned = calloc(nr, 1);
    ck_assert_ptr_nonnull(d->res);
    ck_assert_ptr_nonnull(d->pinned);
    ck_assert_int_eq(xenshape__policy_new(&d->p, policy, nr, 7, flags), 0);
    ck_assert_str_eq(xenshape__policy_name(d->p), policy);
}

static void drv_free(drv *d)
{
    xenshape__policy_free(d->p);
    free(d->res);
    free(d->pinned);
}

static void drv_evict(drv *d, uint64_t g)
{
    d->res[g] = 0;
    d->nres--;
    xenshape__policy_evicted(d->p, g);
}

/* Make room for one more frame, checking every victim proposed. */
static void drv_make_room(drv *d)
{
    uint64_t out[64];
    unsigned n, i, j;

    while (d->nres >= d->cap) {
        n = xenshape__policy_choose(d->p, drv_ok, d, out, d->batch);
        REQUIRE(n >= 1, "no victim among %llu resident frames",
                (unsigned long long)d->nres);
        REQUIRE(n <= d->batch, "%u victims for %u asked", n, d->batch);
        for (i = 0; i < n; i++) {
            REQUIRE(out[i] < d->nr, "victim %llu out of range",
                    (unsigned long long)out[i]);
            REQUIRE(d->res[out[i]], "victim %llu is not resident",
                    (unsigned long long)out[i]);
            REQUIRE(!d->pinned[out[i]], "victim %llu is pinned",
                    (unsigned long long)out[i]);
            for (j = 0; j < i; j++)
                REQUIRE(out[i] != out[j], "victim %llu twice",
                        (unsigned long long)out[i]);
        }
        d->chosen += n;
        for (i = 0; i < n && d->nres >= d->cap - (d->batch > 1 ? 2 : 0);
             i++) {
            if (d->fail_some && ++d->calls % 3 == 0) {
                /* The guest touched it after nomination: still in RAM. */
                xenshape__policy_access(d->p, out[i]);
                continue;
            }
            drv_evict(d, out[i]);
        }
    }
}

static void drv_ref(drv *d, uint64_t g)
{
    if (d->res[g]) {
        xenshape__policy_access(d->p, g);
        return;
    }
    d->faults++;
    drv_make_room(d);
    d->res[g] = 1;
    d->nres++;
    xenshape__policy_admit(d->p, g);
    REQUIRE(d->nres <= d->cap, "over capacity");
}

static bool any_ok(void *arg, uint64_t gfn)
{
    return true;
}

static uint64_t drv_count(const drv *d, uint64_t lo, uint64_t hi)
{
    uint64_t g, n = 0;

    for (g = lo; g < hi; g++)
        n += d->res[g];
    return n;
}

/* ---- registry ------------------------------------------------------- */

START_TEST(test_registry)
{
    const char *const *n = xenshape__policy_names();
    const char *want[] = { "default", "lfu", "lru", "clock", "random" };
    xenshape__policy *p = NULL;
    unsigned i;

    for (i = 0; i < XENSHAPE__ARRAY_SIZE(want); i++) {
        const struct xenshape__policy_ops *ops;

        ck_assert_ptr_nonnull(n[i]);
        ck_assert_str_eq(n[i], want[i]);
        ops = xenshape__policy_lookup(want[i]);
        ck_assert_ptr_nonnull(ops);
        ck_assert_str_eq(ops->name, want[i]);
        ck_assert_ptr_nonnull(ops->summary);
        /* The budget the issue sets: at most 16 bytes per frame. */
        ck_assert_uint_le(ops->meta_bytes_per_frame, 16);
        ck_assert_uint_ge(ops->meta_bytes_per_frame, 1);
    }
    ck_assert_ptr_null(n[XENSHAPE__ARRAY_SIZE(want)]);
    ck_assert_ptr_null(xenshape__policy_lookup("belady"));
    ck_assert_ptr_null(xenshape__policy_lookup(NULL));
    ck_assert_int_eq(xenshape__policy_new(&p, "belady", 10, 0, 0),
                     XENSHAPE_ENOENT);
    ck_assert_int_eq(xenshape__policy_new(&p, NULL, 10, 0, 0), 0);
    ck_assert_str_eq(xenshape__policy_name(p), "default");
    xenshape__policy_free(p);
    xenshape__policy_free(NULL);
}
END_TEST

START_TEST(test_bad_sizes)
{
    xenshape__policy *p = NULL;
    const char *name = policy_at(_i);

    ck_assert_int_eq(xenshape__policy_new(&p, name, 0, 0, 0),
                     XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__policy_new(&p, name,
                                          XENSHAPE__POLICY_MAX_FRAMES + 1,
                                          0, 0), XENSHAPE_EINVAL);
    ck_assert_ptr_null(p);
    /* One frame works. */
    ck_assert_int_eq(xenshape__policy_new(&p, name, 1, 0, 0), 0);
    xenshape__policy_admit(p, 0);
    xenshape__policy_admit(p, 5);            /* out of range: ignored */
    xenshape__policy_access(p, 7);
    xenshape__policy_evicted(p, 9);
    xenshape__policy_free(p);
}
END_TEST

/* Every allocation site of init fails cleanly with ENOMEM. */
START_TEST(test_oom)
{
    const char *name = policy_at(_i);
    xenshape__policy *p = NULL;
    unsigned long nth;
    int rc;

    for (nth = 1; nth < 32; nth++) {
        ck_assert_int_eq(xenshape_fault_set("alloc", nth, ENOMEM, false), 0);
        p = NULL;
        rc = xenshape__policy_new(&p, name, 1000, 0, 0);
        xenshape_fault_clear_all();
        if (rc == 0) {
            xenshape__policy_free(p);
            break;
        }
        ck_assert_int_eq(rc, XENSHAPE_ENOMEM);
        ck_assert_ptr_null(p);
    }
    ck_assert_uint_lt(nth, 32);
    ck_assert_uint_gt(nth, 1);
}
END_TEST

/* ---- invariants under an engine that misbehaves ---------------------- */

static void invariants(const char *name, unsigned flags)
{
    drv d;
    uint64_t i, g, nr = 3000, cap = 200;

    rng_state = 42;
    drv_init(&d, name, nr, cap, flags);
    d.batch = 8;
    d.fail_some = true;
    /* Pinned frames among the hot ones, which will be resident. */
    for (g = 0; g < 40; g += 4)
        d.pinned[g] = 1;
    for (i = 0; i < 60000; i++) {
        uint64_t r = rnd(100);

        if (r < 60)
            g = rnd(150);                    /* hot */
        else if (r < 90)
            g = 150 + rnd(nr - 150);         /* cold */
        else
            g = 1000 + (i % 1200);           /* a scan */
        drv_ref(&d, g);
        REQUIRE(d.nres <= cap, "over capacity");
        if (i % 97 == 0) {
            /* The engine evicts a frame the policy did not choose (a
             * frame it recovered from the store, say). */
            g = rnd(nr);
            if (d.res[g] && !d.pinned[g])
                drv_evict(&d, g);
        }
        if (i % 89 == 0) {
            /* Contract edges: admit of a resident frame, access and
             * evicted of frames that are not resident. */
            g = rnd(nr);
            if (d.res[g])
                xenshape__policy_admit(d.p, g);
            else {
                xenshape__policy_access(d.p, g);
                xenshape__policy_evicted(d.p, g);
            }
        }
    }
    ck_assert_uint_gt(d.faults, 1000);
    ck_assert_uint_gt(d.chosen, 1000);
    /* The pinned frames, hot, never left. */
    for (g = 0; g < 40; g += 4)
        if (d.res[g])
            ck_assert(d.pinned[g]);
    drv_free(&d);
}

START_TEST(test_invariants)
{
    invariants(policy_at(_i), 0);
}
END_TEST

START_TEST(test_invariants_sampled)
{
    invariants(policy_at(_i), XENSHAPE__POLICY_SAMPLED);
}
END_TEST

/* Asking for every resident frame, with some pinned, gives each acceptable
 * frame once, and nothing when all are pinned. */
START_TEST(test_choose_all)
{
    drv d;
    uint64_t out[128], g;
    uint8_t seen[100];
    unsigned n, i;

    drv_init(&d, policy_at(_i), 100, 100, 0);
    for (g = 0; g < 100; g++)
        drv_ref(&d, g);
    for (g = 0; g < 100; g += 3)
        d.pinned[g] = 1;
    n = xenshape__policy_choose(d.p, drv_ok, &d, out, 128);
    ck_assert_uint_eq(n, 100 - 34);
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < n; i++) {
        ck_assert(!d.pinned[out[i]]);
        ck_assert(!seen[out[i]]);
        seen[out[i]] = 1;
    }
    memset(d.pinned, 1, 100);
    ck_assert_uint_eq(xenshape__policy_choose(d.p, drv_ok, &d, out, 128), 0);
    drv_free(&d);
}
END_TEST

/* Attach time: every frame resident from init, in O(nr). */
START_TEST(test_all_resident)
{
    const char *name = policy_at(_i);
    drv d;
    uint64_t out[16];
    unsigned n, i;

    memset(&d, 0, sizeof(d));
    d.nr = 1000;
    d.batch = 1;
    d.res = malloc(1000);
    d.pinned = calloc(1000, 1);
    memset(d.res, 1, 1000);
    d.nres = 1000;
    ck_assert_int_eq(xenshape__policy_new(&d.p, name, 1000, 3,
                                          XENSHAPE__POLICY_ALL_RESIDENT), 0);
    n = xenshape__policy_choose(d.p, drv_ok, &d, out, 16);
    ck_assert_uint_eq(n, 16);
    /* With nothing known, the upper half of the gfn space goes first. */
    if (strcmp(name, "random"))
        ck_assert_uint_eq(out[0], 500);
    for (i = 0; i < n; i++)
        drv_evict(&d, out[i]);
    /* Then it works as usual. */
    d.cap = 900;
    for (i = 0; i < 5000; i++)
        drv_ref(&d, rnd(1000));
    drv_free(&d);
}
END_TEST

/*
 * Aging: a hot set that stops being used makes way for a new one.  RAM
 * holds one of the two sets plus a little, not both, so the old set has to
 * go.  Plain LFU is the exception by design (its counts never age): the
 * test pins that behaviour down too, since it is what the LFU reference
 * point is for.
 */
static void aging(const char *name, unsigned flags)
{
    drv d;
    uint64_t round, g, old_left, new_in;

    rng_state = 9;
    drv_init(&d, name, 1000, 60, flags);
    for (round = 0; round < 300; round++) {
        for (g = 0; g < 50; g++)
            drv_ref(&d, g);                       /* old hot set */
        drv_ref(&d, 200 + rnd(800));              /* noise */
        drv_ref(&d, 200 + rnd(800));
    }
    ck_assert_uint_ge(drv_count(&d, 0, 50), 45);
    for (round = 0; round < 300; round++) {
        for (g = 100; g < 150; g++)
            drv_ref(&d, g);                       /* new hot set */
        drv_ref(&d, 200 + rnd(800));
        drv_ref(&d, 200 + rnd(800));
    }
    old_left = drv_count(&d, 0, 50);
    new_in = drv_count(&d, 100, 150);
    if (!strcmp(name, "lfu")) {
        ck_assert_uint_ge(old_left, 45);
        ck_assert_uint_le(new_in, 15);
    } else {
        ck_assert_msg(old_left <= 5, "%s kept %llu old hot frames", name,
                      (unsigned long long)old_left);
        ck_assert_msg(new_in >= 45, "%s has %llu of 50 new hot frames",
                      name, (unsigned long long)new_in);
    }
    drv_free(&d);
}

START_TEST(test_aging)
{
    aging(policy_at(_i), 0);
}
END_TEST

START_TEST(test_aging_sampled)
{
    /* Under sampling the policy sees every fault but only some hits:
     * feed it one access in four. */
    const char *name = policy_at(_i);
    drv d;
    uint64_t round, g, i = 0;

    rng_state = 11;
    drv_init(&d, name, 1000, 60, XENSHAPE__POLICY_SAMPLED);
    for (round = 0; round < 300; round++)
        for (g = 0; g < 52; g++) {
            uint64_t x = g < 50 ? g : 200 + rnd(800);

            if (d.res[x] && (i++ % 4))
                continue;
            drv_ref(&d, x);
        }
    for (round = 0; round < 300; round++)
        for (g = 0; g < 52; g++) {
            uint64_t x = g < 50 ? 100 + g : 200 + rnd(800);

            if (d.res[x] && (i++ % 4))
                continue;
            drv_ref(&d, x);
        }
    if (strcmp(name, "lfu")) {
        ck_assert_uint_le(drv_count(&d, 0, 50), 5);
        ck_assert_uint_ge(drv_count(&d, 100, 150), 45);
    }
    drv_free(&d);
}
END_TEST

/* A loop one frame larger than RAM: LRU faults on every reference, the
 * default keeps most of the loop (LIRS's reason to exist). */
START_TEST(test_loop_resistance)
{
    drv lru, def;
    uint64_t i;

    drv_init(&lru, "lru", 200, 100, 0);
    drv_init(&def, "default", 200, 100, 0);
    for (i = 0; i < 101 * 50; i++) {
        drv_ref(&lru, i % 101);
        drv_ref(&def, i % 101);
    }
    ck_assert_uint_eq(lru.faults, 101 * 50);
    ck_assert_uint_lt(def.faults, 101 * 50 / 5);
    drv_free(&lru);
    drv_free(&def);
}
END_TEST

/* The default's frequency filter on promotion: frames that are hot all
 * the time stay resident while cold frames arrive in bursts of two close
 * references, each burst short enough to qualify for the LIR set by
 * recency alone (without the filter, 39 of the 48 stay).  The miniature
 * engine checks capacity and the filter on every call, with one of the
 * cold frames pinned. */
START_TEST(test_burst_filter)
{
    drv d;
    uint64_t round, g, x, hot_left, tot = 0;

    rng_state = 13;
    drv_init(&d, "default", 2000, 64, 0);
    d.pinned[1500] = 1;
    for (round = 0; round < 400; round++) {
        for (g = 0; g < 48; g++)
            drv_ref(&d, g);                       /* hot set */
        for (g = 0; g < 24; g++) {
            x = 100 + rnd(1900);                  /* a cold burst */
            drv_ref(&d, x);
            drv_ref(&d, x);
        }
        if (round >= 200)
            tot += drv_count(&d, 0, 48);
    }
    hot_left = drv_count(&d, 0, 48);
    ck_assert_msg(hot_left >= 46, "default kept %llu of 48 hot frames",
                  (unsigned long long)hot_left);
    ck_assert_msg(tot >= 200 * 46, "hot frames resident on average %.1f",
                  tot / 200.0);
    drv_free(&d);
}
END_TEST

/* ---- OPT and LRU by hand --------------------------------------------- */

static xenshape__trace *parse_ok(const char *text)
{
    xenshape__trace *t = NULL;
    xenshape__trace_error err;
    int rc;

    rc = xenshape__trace_parse(text, strlen(text), &t, &err);
    ck_assert_msg(rc == 0, "parse: line %llu: %s",
                  (unsigned long long)err.line, err.what);
    return t;
}

static uint64_t replay_faults(const xenshape__trace *t, const char *policy,
                              uint64_t frames,
                              enum xenshape__observe_mode mode)
{
    xenshape__replay_params prm;
    xenshape__replay_stats st;

    xenshape__replay_params_default(&prm);
    prm.policy = policy;
    prm.frames = frames;
    prm.observe = mode;
    ck_assert_int_eq(xenshape__replay_run(t, &prm, &st), 0);
    ck_assert_uint_eq(st.refs, t->nr_refs);
    ck_assert_uint_eq(st.meta_bytes_per_frame,
                      xenshape__policy_lookup(policy)->meta_bytes_per_frame);
    return st.faults;
}

static uint64_t opt(const xenshape__trace *t, uint64_t frames)
{
    uint64_t f;

    ck_assert_int_eq(xenshape__opt_faults(t, frames, &f), 0);
    return f;
}

START_TEST(test_belady_string)
{
    /* 1 2 3 4 1 2 5 1 2 3 4 5, the textbook string.  By hand:
     * OPT: 7 faults with 3 frames, 6 with 4.  LRU: 10 and 8. */
    xenshape__trace *t = parse_ok("R 1\nR 2\nR 3\nR 4\nR 1\nR 2\nR 5\n"
                                  "R 1\nR 2\nR 3\nR 4\nR 5\n");

    ck_assert_uint_eq(t->nr_refs, 12);
    ck_assert_uint_eq(t->nr_pages, 5);
    ck_assert_uint_eq(opt(t, 3), 7);
    ck_assert_uint_eq(opt(t, 4), 6);
    ck_assert_uint_eq(opt(t, 5), 5);
    ck_assert_uint_eq(opt(t, 100), 5);
    ck_assert_uint_eq(opt(t, 1), 12);
    ck_assert_uint_eq(replay_faults(t, "lru", 3, XENSHAPE__OBSERVE_ALL), 10);
    ck_assert_uint_eq(replay_faults(t, "lru", 4, XENSHAPE__OBSERVE_ALL), 8);
    ck_assert_uint_eq(replay_faults(t, "lru", 5, XENSHAPE__OBSERVE_ALL), 5);
    xenshape__trace_free(t);
}
END_TEST

START_TEST(test_loop_string)
{
    /* Pages 1..5 four times over, 4 frames.  LRU: every reference faults
     * (20).  OPT, by hand: 5 cold faults, then one each at references 9,
     * 13 and 17 (it evicts the page needed furthest ahead): 8. */
    char text[256] = "";
    xenshape__trace *t;
    unsigned i;

    for (i = 0; i < 20; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text),
                 "R %x\n", i % 5 + 1);
    t = parse_ok(text);
    ck_assert_uint_eq(opt(t, 4), 8);
    ck_assert_uint_eq(replay_faults(t, "lru", 4, XENSHAPE__OBSERVE_ALL), 20);
    ck_assert_uint_eq(replay_faults(t, "clock", 4, XENSHAPE__OBSERVE_ALL),
                      20);
    xenshape__trace_free(t);
}
END_TEST

/* OPT against a brute-force Belady on random strings. */
static uint64_t brute_opt(const xenshape__trace *t, uint64_t frames)
{
    uint8_t *res = calloc(t->nr_pages, 1);
    uint64_t i, j, nres = 0, faults = 0, best, best_next, nx;
    uint32_t p;

    for (i = 0; i < t->nr_refs; i++) {
        if (res[t->refs[i]])
            continue;
        faults++;
        if (nres == frames) {
            best = 0;
            best_next = 0;
            for (p = 0; p < t->nr_pages; p++) {
                if (!res[p])
                    continue;
                nx = t->nr_refs;
                for (j = i + 1; j < t->nr_refs; j++)
                    if (t->refs[j] == p) {
                        nx = j;
                        break;
                    }
                if (nx >= best_next) {
                    best_next = nx;
                    best = p;
                }
            }
            res[best] = 0;
            nres--;
        }
        res[t->refs[i]] = 1;
        nres++;
    }
    free(res);
    return faults;
}

START_TEST(test_opt_brute)
{
    char *text = malloc(2000 * 12);
    xenshape__trace *t;
    unsigned k, i, fr;

    rng_state = 5;
    for (k = 0; k < 10; k++) {
        text[0] = 0;
        for (i = 0; i < 2000; i++)
            sprintf(text + strlen(text), "R %llx\n",
                    (unsigned long long)(rnd(3) ? rnd(20) : rnd(200)));
        t = parse_ok(text);
        for (fr = 1; fr <= 64; fr *= 4) {
            uint64_t o = opt(t, fr);

            ck_assert_uint_eq(o, brute_opt(t, fr));
            /* No policy beats it. */
            ck_assert_uint_ge(replay_faults(t, "default", fr,
                                            XENSHAPE__OBSERVE_ALL), o);
            ck_assert_uint_ge(replay_faults(t, "lru", fr,
                                            XENSHAPE__OBSERVE_XEN), o);
        }
        xenshape__trace_free(t);
    }
    free(text);
}
END_TEST

/* ---- the trace reader -------------------------------------------------- */

START_TEST(test_trace_parse)
{
    xenshape__trace *t;

    /* Blanks, tabs, 0x, upper case, CRLF, no final newline. */
    t = parse_ok("R 1fFf\nW\t0x10\r\nR   1FFF  \nR 10\nW ffffffffffffffff");
    ck_assert_uint_eq(t->nr_refs, 5);
    ck_assert_uint_eq(t->nr_pages, 3);
    ck_assert_uint_eq(t->refs[0], 0);
    ck_assert_uint_eq(t->refs[1], 1);
    ck_assert_uint_eq(t->refs[2], 0);
    ck_assert_uint_eq(t->refs[3], 1);
    ck_assert_uint_eq(t->refs[4], 2);
    ck_assert_ptr_nonnull(t->writes);
    ck_assert_uint_eq(t->writes[0], 0x12);
    xenshape__trace_free(t);
    /* All reads: no write bitmap. */
    t = parse_ok("R 0\n");
    ck_assert_ptr_null(t->writes);
    xenshape__trace_free(t);
}
END_TEST

static void parse_bad(const char *text, uint64_t line, const char *what)
{
    xenshape__trace *t = NULL;
    xenshape__trace_error err;

    ck_assert_int_eq(xenshape__trace_parse(text, strlen(text), &t, &err),
                     XENSHAPE_EFORMAT);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(err.line, line);
    ck_assert_msg(strstr(err.what, what), "'%s' lacks '%s'", err.what,
                  what);
}

START_TEST(test_trace_errors)
{
    parse_bad("R 1\nX 2\n", 2, "R or W");
    parse_bad("R 1\nR\n", 2, "blank");
    parse_bad("R 1\nR 2\nR zz\n", 3, "page number");
    parse_bad("R 12345678901234567\n", 1, "16 hex digits");
    parse_bad("R 12 x\n", 1, "after the page number");
    parse_bad("R 1\n\nR 2\n", 2, "empty line");
    parse_bad("", 0, "no references");
}
END_TEST

START_TEST(test_trace_load_errors)
{
    xenshape__trace *t = NULL;
    xenshape__trace_error err;

    ck_assert_int_eq(xenshape__trace_load("/nonexistent/trace.gz", &t, &err),
                     XENSHAPE_ENOENT);
    ck_assert_ptr_null(t);
    ck_assert(strstr(err.what, "cannot open"));
}
END_TEST

/* ---- the observation model --------------------------------------------- */

START_TEST(test_observe_model)
{
    xenshape__observe_params prm;
    xenshape__observe *o = NULL;
    uint64_t gfns[64], g;
    uint8_t armed_seen[256];
    uint32_t n, i, turns;

    xenshape__observe_params_default(&prm);
    ck_assert_uint_eq(prm.arm_div, XENSHAPE__OBSERVE_ARM_DIV);
    prm.arm_div = 8;
    prm.arm_max = 100;
    ck_assert_int_eq(xenshape__observe_new(&o, 256, &prm, 0), 0);
    ck_assert_uint_eq(xenshape__observe_budget(o), 1);
    ck_assert_uint_eq(xenshape__observe_pick(o, NULL, NULL, gfns, 8), 0);
    for (g = 0; g < 256; g += 2)
        xenshape__observe_admit(o, g);
    ck_assert_uint_eq(xenshape__observe_nr_resident(o), 128);
    ck_assert_uint_eq(xenshape__observe_budget(o), 16);

    /* The walk arms resident frames only, each once until seen, and gets
     * round all of them. */
    memset(armed_seen, 0, sizeof(armed_seen));
    for (turns = 0; turns < 8; turns++) {
        n = xenshape__observe_pick(o, NULL, NULL, gfns, 16);
        ck_assert_uint_eq(n, 16);
        for (i = 0; i < n; i++) {
            ck_assert(gfns[i] % 2 == 0);
            ck_assert(!armed_seen[gfns[i]]);
            armed_seen[gfns[i]] = 1;
            ck_assert(xenshape__observe_armed(o, gfns[i]));
        }
    }
    /* Everything resident is armed: nothing more to arm. */
    ck_assert_uint_eq(xenshape__observe_pick(o, NULL, NULL, gfns, 16), 0);

    /* An event passes on once; evicting loses the arming. */
    ck_assert(xenshape__observe_seen(o, 10));
    ck_assert(!xenshape__observe_seen(o, 10));
    ck_assert(!xenshape__observe_seen(o, 11));   /* never resident */
    xenshape__observe_evicted(o, 12);
    ck_assert(!xenshape__observe_armed(o, 12));
    ck_assert(!xenshape__observe_seen(o, 12));
    xenshape__observe_disarm(o, 14);
    ck_assert(!xenshape__observe_armed(o, 14));
    /* 10 and 14 can be armed again; 12 is gone. */
    n = xenshape__observe_pick(o, NULL, NULL, gfns, 16);
    ck_assert_uint_eq(n, 2);
    ck_assert(gfns[0] == 10 || gfns[0] == 14);
    ck_assert(gfns[1] == 10 || gfns[1] == 14);
    xenshape__observe_free(o);
    xenshape__observe_free(NULL);

    prm.arm_div = 0;
    ck_assert_int_eq(xenshape__observe_new(&o, 10, &prm, 0),
                     XENSHAPE_EINVAL);
}
END_TEST

START_TEST(test_observe_dirty)
{
    xenshape__observe *o = NULL;
    xenshape__policy *p = NULL;
    uint64_t bm[2] = { 0, 0 }, out[4];
    unsigned i;

    ck_assert_int_eq(xenshape__observe_new(&o, 100, NULL, 0), 0);
    ck_assert_int_eq(xenshape__policy_new(&p, "lru", 100, 0, 0), 0);
    for (i = 0; i < 4; i++) {
        xenshape__observe_admit(o, 60 + i);
        xenshape__policy_admit(p, 60 + i);
    }
    /* Written: 61 and 63 (resident), 70 (not resident), 99 (not). */
    bm[0] = 1ull << 61 | 1ull << 63;
    bm[1] = 1ull << (70 - 64) | 1ull << (99 - 64);
    ck_assert_uint_eq(xenshape__observe_dirty(o, bm, 100, p), 2);
    /* LRU heard 61 then 63: the least recently used are 60, 62. */
    ck_assert_uint_eq(xenshape__policy_choose(p, any_ok, NULL, out, 4), 4);
    ck_assert_uint_eq(out[0], 60);
    ck_assert_uint_eq(out[1], 62);
    ck_assert_uint_eq(out[2], 61);
    ck_assert_uint_eq(out[3], 63);
    xenshape__policy_free(p);
    xenshape__observe_free(o);
}
END_TEST

START_TEST(test_observe_cap)
{
    xenshape__observe *o = NULL;

    ck_assert_int_eq(xenshape__observe_new(&o, 1 << 22, NULL,
                                           XENSHAPE__POLICY_ALL_RESIDENT), 0);
    ck_assert_uint_eq(xenshape__observe_budget(o), XENSHAPE__OBSERVE_ARM_MAX);
    xenshape__observe_free(o);
}
END_TEST

/* The replay's xen mode sees far fewer accesses than all mode, and the
 * same faults for a policy that ignores accesses. */
START_TEST(test_replay_observe_xen)
{
    xenshape__replay_params prm;
    xenshape__replay_stats all, xen;
    char *text = malloc(20000 * 8);
    xenshape__trace *t;
    unsigned i;

    rng_state = 3;
    text[0] = 0;
    for (i = 0; i < 20000; i++)
        sprintf(text + strlen(text), "R %llx\n",
                (unsigned long long)(rnd(4) ? rnd(50) : rnd(2000)));
    t = parse_ok(text);
    xenshape__replay_params_default(&prm);
    prm.frames = 100;
    prm.policy = "lru";
    ck_assert_int_eq(xenshape__replay_run(t, &prm, &all), 0);
    prm.observe = XENSHAPE__OBSERVE_XEN;
    ck_assert_int_eq(xenshape__replay_run(t, &prm, &xen), 0);
    ck_assert_uint_eq(all.accesses, all.refs - all.faults);
    ck_assert_uint_gt(xen.epochs, 0);
    ck_assert_uint_gt(xen.armed, 0);
    ck_assert_uint_le(xen.accesses, xen.armed);
    ck_assert_uint_lt(xen.accesses * 4, all.accesses);
    prm.policy = "random";
    ck_assert_int_eq(xenshape__replay_run(t, &prm, &xen), 0);
    prm.observe = XENSHAPE__OBSERVE_ALL;
    ck_assert_int_eq(xenshape__replay_run(t, &prm, &all), 0);
    ck_assert_uint_eq(xen.faults, all.faults);
    prm.frames = 0;
    ck_assert_int_eq(xenshape__replay_run(t, &prm, &all), XENSHAPE_EINVAL);
    prm.frames = 10;
    prm.policy = "belady";
    ck_assert_int_eq(xenshape__replay_run(t, &prm, &all), XENSHAPE_ENOENT);
    xenshape__trace_free(t);
    free(text);
}
END_TEST

static Suite *select_suite(void)
{
    Suite *s = suite_create("select");
    TCase *tc;
    int np = nr_policies();

    tc = tcase_create("policies");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_registry);
    tcase_add_loop_test(tc, test_bad_sizes, 0, np);
    tcase_add_loop_test(tc, test_oom, 0, np);
    tcase_add_loop_test(tc, test_invariants, 0, np);
    tcase_add_loop_test(tc, test_invariants_sampled, 0, np);
    tcase_add_loop_test(tc, test_choose_all, 0, np);
    tcase_add_loop_test(tc, test_all_resident, 0, np);
    tcase_add_loop_test(tc, test_aging, 0, np);
    tcase_add_loop_test(tc, test_aging_sampled, 0, np);
    tcase_add_test(tc, test_loop_resistance);
    tcase_add_test(tc, test_burst_filter);
    suite_add_tcase(s, tc);

    tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_belady_string);
    tcase_add_test(tc, test_loop_string);
    tcase_add_test(tc, test_opt_brute);
    tcase_add_test(tc, test_trace_parse);
    tcase_add_test(tc, test_trace_errors);
    tcase_add_test(tc, test_trace_load_errors);
    tcase_add_test(tc, test_observe_model);
    tcase_add_test(tc, test_observe_dirty);
    tcase_add_test(tc, test_observe_cap);
    tcase_add_test(tc, test_replay_observe_xen);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(select_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
