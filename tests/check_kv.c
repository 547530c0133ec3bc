/*
 * check_kv.c - the simulated host's xenstore (sim/sim_kv.c) through the
 * "sim" kv backend (kv/kv_sim.c) and the kv wrappers (kv/kv.c), as the
 * daemon's shaping code uses them: reads, writes, removals and listings;
 * xenstored's permissions (a guest can neither write policy nor read
 * another domain's status, Dom0 can do anything, inheritance and
 * ownership); watches (the first event at once, changes below, removals
 * above and below, unwatch, permission filtering, @introduceDomain and
 * @releaseDomain); transactions (isolation, EAGAIN on conflict, the
 * wrappers' retry); the quotas; the text encoding of the protocol; the
 * libxl layout a domain's creation writes and its destruction removes;
 * and the fault-injection seam of every kv.* site.
 *
 * Each test gets a host in this process serving a socket in a scratch
 * directory, with two idle guests, a Dom0 handle and one handle per
 * guest.  A guest's view is what the store gives a connection opened
 * with ",domid=N".  That an event did NOT come is shown without waiting
 * for a time: a watcher's events arrive in order, so once an event
 * caused later has arrived, an earlier one would have been first.
 */

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "private.h"
#include "kv/kv.h"
#include "sim/sim.h"
#include "sim/sim_host.h"
#include "sim/sim_kv.h"

#define NO_TXN XENSHAPE__KV_NO_TXN
#define EVENT_MS 5000

static xenshape__sim_host *host;
static char dir[256], sock[300];
static uint32_t d1, d2;
static char uuid1[37], uuid2[37];
static xenshape__kv_handle *dom0, *g1, *g2;

/* ---- fixture ----------------------------------------------------------- */

static uint32_t mkdom(const char *name)
{
    xenshape__sim_dom_params p;
    uint32_t domid = 0;

    memset(&p, 0, sizeof(p));
    p.name = name;
    p.frames = 64;
    p.vcpus = 1;
    p.workload = "idle";
    p.seed = 1;
    ck_assert_int_eq(xenshape__sim_dom_create(host, &p, &domid), 0);
    return domid;
}

static void uuid_of(uint32_t domid, char out[37])
{
    struct xenshape__sim_dom *d = xenshape__sim_dom_get(host, domid);
    const uint8_t *u;

    ck_assert_ptr_nonnull(d);
    u = d->v.de->uuid;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    xenshape__sim_dom_put(d);
}

static xenshape__kv_handle *open_as(uint32_t domid)
{
    xenshape__kv_handle *h = NULL;
    char arg[340];

    if (domid)
        snprintf(arg, sizeof(arg), "%s,domid=%u", sock, domid);
    else
        snprintf(arg, sizeof(arg), "%s", sock);
    ck_assert_int_eq(xenshape__kv_open(&h, "sim", arg, tu_logger()), 0);
    return h;
}

static void setup(void)
{
    tu_mkdtemp(dir, "kv");
    snprintf(sock, sizeof(sock), "%s/s.sock", dir);
    ck_assert_int_eq(xenshape__sim_host_new(&host, 4096), 0);
    ck_assert_int_eq(xenshape__sim_host_listen(host, sock), 0);
    d1 = mkdom("g1");
    d2 = mkdom("g2");
    uuid_of(d1, uuid1);
    uuid_of(d2, uuid2);
    dom0 = open_as(0);
    g1 = open_as(d1);
    g2 = open_as(d2);
}

static void teardown(void)
{
    xenshape_fault_clear_all();
    xenshape__kv_close(dom0);
    xenshape__kv_close(g1);
    xenshape__kv_close(g2);
    dom0 = g1 = g2 = NULL;
    xenshape__sim_host_free(host);
    host = NULL;
    tu_rmtree(dir);
}

/* ---- helpers ----------------------------------------------------------- */

static int put(xenshape__kv_handle *h, const char *path, const char *val)
{
    return xenshape__kv_write_str(h, NO_TXN, path, val);
}

/* The value at path (static buffer), or NULL with *r_out the error. */
static const char *get(xenshape__kv_handle *h, xenshape__kv_txn t,
                       const char *path, int *r_out)
{
    static char buf[XENSHAPE__KV_VALUE_MAX + 1];
    char *val = NULL;
    size_t len = 0;
    int r;

    r = xenshape__kv_read(h, t, path, &val, &len);
    if (r_out)
        *r_out = r;
    if (r)
        return NULL;
    ck_assert_uint_le(len, XENSHAPE__KV_VALUE_MAX);
    memcpy(buf, val, len + 1);
    free(val);
    return buf;
}

static int rd(xenshape__kv_handle *h, const char *path)
{
    int r;

    get(h, NO_TXN, path, &r);
    return r;
}

static void assert_val(xenshape__kv_handle *h, const char *path,
                       const char *want)
{
    int r = 0;
    const char *v = get(h, NO_TXN, path, &r);

    ck_assert_msg(v, "%s: %s", path, strerror(-r));
    ck_assert_str_eq(v, want);
}

/* Permissions as text, xenstore-chmod style: "n0 r5". */
static const char *perms_text(xenshape__kv_handle *h, const char *path)
{
    static char buf[256];
    xenshape__kv_perm *p = NULL;
    unsigned n = 0, i;
    size_t used = 0;

    ck_assert_int_eq(xenshape__kv_get_perms(h, NO_TXN, path, &p, &n), 0);
    buf[0] = '\0';
    for (i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%c%u",
                                 i ? " " : "", "nrwb"[p[i].perms & 3],
                                 p[i].domid);
    free(p);
    return buf;
}

static int set_perms_text(xenshape__kv_handle *h, xenshape__kv_txn t,
                          const char *path, const char *text)
{
    xenshape__kv_perm p[16];
    const char *s = text;
    unsigned n = 0;

    while (*s) {
        char *end;

        ck_assert(n < 16);
        p[n].perms = (unsigned)(strchr("nrwb", *s) - "nrwb");
        p[n].domid = (uint32_t)strtoul(s + 1, &end, 10);
        n++;
        s = end + strspn(end, " ");
    }
    return xenshape__kv_set_perms(h, t, path, p, n);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 +
        (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The next event of h, waiting for it by polling the watch descriptor
 * (so that descriptor is proven pollable too).  false if none came. */
static bool next_event(xenshape__kv_handle *h, char **path, char **token)
{
    struct timespec t0;
    int r;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pf = { xenshape__kv_watch_fd(h), POLLIN, 0 };

        r = xenshape__kv_read_watch(h, path, token);
        if (r == 0)
            return true;
        ck_assert_int_eq(r, -EAGAIN);
        if (elapsed_ms(&t0) > EVENT_MS)
            return false;
        ck_assert_int_ge(pf.fd, 0);
        poll(&pf, 1, 100);
    }
}

static void expect_event(xenshape__kv_handle *h, const char *path,
                         const char *token)
{
    char *p = NULL, *t = NULL;

    ck_assert_msg(next_event(h, &p, &t), "no event %s %s", path, token);
    ck_assert_msg(!strcmp(p, path) && !strcmp(t, token),
                  "event %s %s, expected %s %s", p, t, path, token);
    free(p);
    free(t);
}

/* Everything h was sent before now has arrived once the event that a
 * write of sentinel (a path h watches with token "sync") causes is the
 * next one. */
static void expect_nothing_before(xenshape__kv_handle *h,
                                  xenshape__kv_handle *writer,
                                  const char *sentinel)
{
    ck_assert_int_eq(put(writer, sentinel, "x"), 0);
    expect_event(h, sentinel, "sync");
}

/* ---- encoding --------------------------------------------------------- */

static const struct {
    const char *in;
    size_t len;
    const char *enc;
} enc_cases[] = {
    { "", 0, "%" },
    { "/local/domain/7/xenshape/state", 30,
      "/local/domain/7/xenshape/state" },
    { "a b", 3, "a%20b" },
    { "100%", 4, "100%25" },
    { "x\0y", 3, "x%00y" },
    { "\xff\x80\n", 3, "%FF%80%0A" },
    { "A-z_0.9:,=+~@", 13, "A-z_0.9:,=+~@" },
    { "%", 1, "%25" },
};

START_TEST(encode_round_trip)
{
    char buf[64], *dec = NULL;
    size_t len = 99;
    int w;

    w = xenshape__sim_kv_encode(buf, sizeof(buf), enc_cases[_i].in,
                                enc_cases[_i].len);
    ck_assert_int_eq(w, (int)strlen(enc_cases[_i].enc));
    ck_assert_str_eq(buf, enc_cases[_i].enc);
    ck_assert_int_eq(xenshape__sim_kv_decode(buf, &dec, &len), 0);
    ck_assert_uint_eq(len, enc_cases[_i].len);
    ck_assert(!memcmp(dec, enc_cases[_i].in, len));
    ck_assert_int_eq(dec[len], '\0');
    free(dec);
    /* Exactly enough room, and one byte less. */
    ck_assert_int_eq(xenshape__sim_kv_encode(buf, (size_t)w + 1,
                                             enc_cases[_i].in,
                                             enc_cases[_i].len), w);
    ck_assert_int_eq(xenshape__sim_kv_encode(buf, (size_t)w,
                                             enc_cases[_i].in,
                                             enc_cases[_i].len), -EMSGSIZE);
}
END_TEST

START_TEST(encode_every_byte)
{
    unsigned char all[256];
    char buf[3 * 256 + 1], *dec = NULL;
    size_t len = 0;
    unsigned i;

    for (i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    ck_assert_int_gt(xenshape__sim_kv_encode(buf, sizeof(buf), all, 256), 0);
    ck_assert_ptr_null(strchr(buf, ' '));
    ck_assert_int_eq(xenshape__sim_kv_decode(buf, &dec, &len), 0);
    ck_assert_uint_eq(len, 256);
    ck_assert(!memcmp(dec, all, 256));
    free(dec);
    /* Escapes of plain bytes, and lower-case hex, decode too. */
    ck_assert_int_eq(xenshape__sim_kv_decode("%41%2fb%ff", &dec, &len), 0);
    ck_assert_uint_eq(len, 4);
    ck_assert(!memcmp(dec, "A/b\xff", 4));
    free(dec);
}
END_TEST

static const char *const bad_encodings[] = {
    "", "%4", "%G0", "a%", "ab%zz", "%%", "%%41", "a b", "a\tb", "\x80",
    "sp ace", "x%4",
};

START_TEST(decode_bad_escape)
{
    char *dec = (char *)0x1;
    size_t len = 77;

    ck_assert_int_eq(xenshape__sim_kv_decode(bad_encodings[_i], &dec, &len),
                     -EINVAL);
    /* Out-parameters untouched on failure. */
    ck_assert_ptr_eq(dec, (char *)0x1);
    ck_assert_uint_eq(len, 77);
}
END_TEST

/* ---- nodes -------------------------------------------------------------- */

START_TEST(read_write_rm_dir)
{
    static const char bin[] = "a\0b\xff";
    char **names = NULL, *val = NULL;
    unsigned n = 0;
    size_t len = 0;
    int r;

    ck_assert_int_eq(rd(dom0, "/t/a"), -ENOENT);
    ck_assert_int_eq(put(dom0, "/t/a/b/c", "deep"), 0);
    assert_val(dom0, "/t/a/b/c", "deep");
    /* Parents were created, holding nothing. */
    assert_val(dom0, "/t/a/b", "");
    ck_assert_int_eq(put(dom0, "/t/a/b", "mid"), 0);
    assert_val(dom0, "/t/a/b", "mid");
    assert_val(dom0, "/t/a/b/c", "deep");
    ck_assert_int_eq(put(dom0, "/t/z", ""), 0);
    ck_assert_int_eq(put(dom0, "/t/m", "2"), 0);
    ck_assert_int_eq(xenshape__kv_directory(dom0, NO_TXN, "/t", &names, &n),
                     0);
    /* In creation order, as xenstored lists them. */
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(names[0], "a");
    ck_assert_str_eq(names[1], "z");
    ck_assert_str_eq(names[2], "m");
    ck_assert_ptr_null(names[3]);
    xenshape__kv_free_list(names);
    ck_assert_int_eq(xenshape__kv_directory(dom0, NO_TXN, "/t/z", &names,
                                            &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(names[0]);
    xenshape__kv_free_list(names);

    /* Any byte, NUL included, and the largest value. */
    ck_assert_int_eq(xenshape__kv_write(dom0, NO_TXN, "/t/bin", bin, 4), 0);
    ck_assert_int_eq(xenshape__kv_read(dom0, NO_TXN, "/t/bin", &val, &len),
                     0);
    ck_assert_uint_eq(len, 4);
    ck_assert(!memcmp(val, bin, 4));
    free(val);
    {
        char big[XENSHAPE__KV_VALUE_MAX + 1];

        memset(big, '%', sizeof(big));
        ck_assert_int_eq(xenshape__kv_write(dom0, NO_TXN, "/t/big", big,
                                            XENSHAPE__KV_VALUE_MAX), 0);
        ck_assert_int_eq(xenshape__kv_read(dom0, NO_TXN, "/t/big", &val,
                                           &len), 0);
        ck_assert_uint_eq(len, XENSHAPE__KV_VALUE_MAX);
        ck_assert(!memcmp(val, big, len));
        free(val);
        ck_assert_int_eq(xenshape__kv_write(dom0, NO_TXN, "/t/big", big,
                                            sizeof(big)), -E2BIG);
    }

    /* A removal takes the subtree; absent is fine. */
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, "/t/a"), 0);
    ck_assert_int_eq(rd(dom0, "/t/a/b/c"), -ENOENT);
    ck_assert_int_eq(rd(dom0, "/t/a"), -ENOENT);
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, "/t/a"), 0);
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, "/no/such/thing"), 0);
    ck_assert_int_eq(xenshape__kv_directory(dom0, NO_TXN, "/t/a", &names,
                                            &n), -ENOENT);
    get(dom0, NO_TXN, "/t/m", &r);
    ck_assert_int_eq(r, 0);
}
END_TEST

static const char *const bad_paths[] = {
    "/a//b", "/a/", "/a.b", "/a b", "/a\tb", "/caf\xc3\xa9", "@x",
};

START_TEST(invalid_paths)
{
    ck_assert_int_eq(put(dom0, bad_paths[_i], "v"), -EINVAL);
    ck_assert_int_eq(rd(dom0, bad_paths[_i]), -EINVAL);
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, bad_paths[_i]), -EINVAL);
}
END_TEST

START_TEST(relative_paths_and_root)
{
    char path[64];

    /* A guest's relative paths are under its home. */
    ck_assert_int_eq(put(g1, "data/x", "1"), 0);
    snprintf(path, sizeof(path), "/local/domain/%u/data/x", d1);
    assert_val(dom0, path, "1");
    assert_val(g1, "data/x", "1");
    assert_val(g1, "name", "g1");
    /* Dom0's home is /local/domain/0. */
    assert_val(dom0, "name", "Domain-0");
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, "/"), -EINVAL);
}
END_TEST

/* Raw requests on the socket: the protocol's own errors. */
START_TEST(protocol_errors)
{
    char reply[XENSHAPE__SIM_KV_MSG_MAX], *req;
    size_t used;
    unsigned i;

    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVREAD 0 /none", reply,
                                       sizeof(reply)), -ENOENT);
    ck_assert(!strncmp(reply, "ERR ENOENT ", 11));
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVFROB 0 /x", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVWRITE 0 /x", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVREAD 0 /a%zz", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVREAD 77 /x", reply,
                                       sizeof(reply)), -ENOENT);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVOPEN 999", reply,
                                       sizeof(reply)), -ESRCH);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVEVENTS 99999", reply,
                                       sizeof(reply)), -ENOENT);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVTXEND 0 commit", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVSETPERMS 0 /x q0", reply,
                                       sizeof(reply)), -EINVAL);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVWRITE 0 /p v", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVREAD 0 /p", reply,
                                       sizeof(reply)), 0);
    ck_assert_str_eq(reply, "OK v");
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVWRITE 0 /p %", reply,
                                       sizeof(reply)), 0);
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVREAD 0 /p", reply,
                                       sizeof(reply)), 0);
    ck_assert_str_eq(reply, "OK %");
    ck_assert_int_eq(xenshape__sim_ctl(sock, "KVGETPERMS 0 /p", reply,
                                       sizeof(reply)), 0);
    ck_assert_str_eq(reply, "OK n0");

    /* The store refuses a value over 2048 bytes even when a client's
     * own check is bypassed. */
    req = malloc(XENSHAPE__SIM_KV_MSG_MAX);
    ck_assert_ptr_nonnull(req);
    used = (size_t)snprintf(req, XENSHAPE__SIM_KV_MSG_MAX, "KVWRITE 0 /p ");
    memset(req + used, 'v', XENSHAPE__KV_VALUE_MAX + 1);
    req[used + XENSHAPE__KV_VALUE_MAX + 1] = '\0';
    ck_assert_int_eq(xenshape__sim_ctl(sock, req, reply, sizeof(reply)),
                     -E2BIG);
    free(req);

    /* A listing that does not fit a reply is E2BIG, as xenstored's past
     * its payload. */
    for (i = 0; i < 40; i++) {
        char path[600];

        snprintf(path, sizeof(path), "/wide/%0500u", i);
        ck_assert_int_eq(put(dom0, path, ""), 0);
    }
    {
        char **names = NULL;
        unsigned n = 0;

        ck_assert_int_eq(xenshape__kv_directory(dom0, NO_TXN, "/wide",
                                                &names, &n), -E2BIG);
    }
}
END_TEST

/* ---- permissions ------------------------------------------------------- */

enum pop { P_READ, P_WRITE, P_RM, P_DIR, P_GETPERMS, P_SETPERMS };

/* Who: 0 Dom0, 1 and 2 the guests.  In paths and perms, "D1" and "D2"
 * stand for the guests' domids and "U1" for the first one's UUID. */
static const struct {
    unsigned who;
    enum pop op;
    const char *path;
    const char *arg;                 /* a value, or perms */
    int want;
} perm_cases[] = {
    /* Policy is Dom0's: a guest can neither write nor read it, and
     * cannot even learn which keys exist. */
    { 1, P_WRITE, "/xenshape/vm/U1/priority", "1000", -EACCES },
    { 1, P_WRITE, "/xenshape/vm/U1/pin", "1", -EACCES },
    { 1, P_READ, "/xenshape/vm/U1/priority", NULL, -EACCES },
    { 1, P_READ, "/xenshape/vm/U1/nothing", NULL, -EACCES },
    { 1, P_DIR, "/xenshape/vm", NULL, -EACCES },
    { 1, P_RM, "/xenshape/vm/U1", NULL, -EACCES },
    { 1, P_WRITE, "/xenshape/host/reserved", "0", -EACCES },
    { 0, P_WRITE, "/xenshape/vm/U1/priority", "900", 0 },
    { 0, P_READ, "/xenshape/vm/U1/priority", NULL, 0 },
    /* Status: the guest reads its own, never writes it; nobody else. */
    { 1, P_READ, "/local/domain/D1/xenshape/state", NULL, 0 },
    { 1, P_DIR, "/local/domain/D1/xenshape", NULL, 0 },
    { 1, P_WRITE, "/local/domain/D1/xenshape/state", "pinned", -EACCES },
    { 1, P_RM, "/local/domain/D1/xenshape/state", NULL, -EACCES },
    { 1, P_READ, "/local/domain/D1/xenshape/absent", NULL, -ENOENT },
    { 2, P_READ, "/local/domain/D1/xenshape/state", NULL, -EACCES },
    { 2, P_READ, "/local/domain/D1/xenshape/absent", NULL, -EACCES },
    { 2, P_GETPERMS, "/local/domain/D1/xenshape/state", NULL, -EACCES },
    { 0, P_READ, "/local/domain/D1/xenshape/state", NULL, 0 },
    { 0, P_WRITE, "/local/domain/D1/xenshape/state", "running", 0 },
    /* The home, as libxl makes it. */
    { 1, P_READ, "/local/domain/D1/name", NULL, 0 },
    { 2, P_READ, "/local/domain/D1/name", NULL, -EACCES },
    { 1, P_WRITE, "/local/domain/D1/name", "evil", -EACCES },
    { 1, P_WRITE, "/local/domain/D1/newkey", "x", -EACCES },
    { 1, P_RM, "/local/domain/D1/absent", NULL, -EACCES },
    { 1, P_WRITE, "/local/domain/D1/data/x", "1", 0 },
    { 1, P_WRITE, "/local/domain/D1/control/shutdown", "poweroff", 0 },
    { 1, P_RM, "/local/domain/D1/data/absent", NULL, 0 },
    { 2, P_WRITE, "/local/domain/D1/data/x", "1", -EACCES },
    { 2, P_READ, "/local/domain/D1/data", NULL, -EACCES },
    { 1, P_READ, "/vm/U1/uuid", NULL, 0 },
    { 2, P_READ, "/vm/U1/uuid", NULL, -EACCES },
    { 1, P_WRITE, "/vm/U1/name", "x", -EACCES },
    { 1, P_READ, "/libxl", NULL, -EACCES },
    { 1, P_WRITE, "/elsewhere", "x", -EACCES },
    /* Only the owner (or Dom0) sets permissions; only Dom0 changes
     * the owner; a guest gets at most five entries. */
    { 1, P_SETPERMS, "/local/domain/D1/data", "nD1 rD2", 0 },
    { 1, P_SETPERMS, "/local/domain/D1/data", "n0", -EPERM },
    { 1, P_SETPERMS, "/local/domain/D1/data", "nD2", -EPERM },
    { 1, P_SETPERMS, "/local/domain/D1/name", "nD1", -EACCES },
    { 1, P_SETPERMS, "/local/domain/D1/xenshape/state", "n0 bD1", -EACCES },
    { 1, P_SETPERMS, "/local/domain/D1/data", "nD1 r1 r2 r3 r4", 0 },
    { 1, P_SETPERMS, "/local/domain/D1/data", "nD1 r1 r2 r3 r4 r5",
      -ENOSPC },
    { 0, P_SETPERMS, "/local/domain/D1/data", "n0 r1 r2 r3 r4 r5 r6 r7", 0 },
    { 0, P_SETPERMS, "/local/domain/D1/data", "nD2", 0 },
    { 2, P_GETPERMS, "/local/domain/D1/data", NULL, -EACCES },
    { 1, P_GETPERMS, "/local/domain/D1/data", NULL, 0 },
    { 1, P_GETPERMS, "/local/domain/D1/control/shutdown", NULL, 0 },
};

static void expand(const char *in, char *out, size_t len)
{
    size_t o = 0;

    for (; *in && o + 40 < len; in++) {
        if (in[0] == 'D' && (in[1] == '1' || in[1] == '2')) {
            o += (size_t)snprintf(out + o, len - o, "%u",
                                  in[1] == '1' ? d1 : d2);
            in++;
        } else if (in[0] == 'U' && in[1] == '1') {
            o += (size_t)snprintf(out + o, len - o, "%s", uuid1);
            in++;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* What the daemon would have written: policy, and a domain's status
 * with its permissions. */
static void write_policy_and_status(void)
{
    char path[160], status[64];

    snprintf(path, sizeof(path), "/xenshape/vm/%s/priority", uuid1);
    ck_assert_int_eq(put(dom0, path, "800"), 0);
    ck_assert_int_eq(put(dom0, "/xenshape/host/reserved", "64M"), 0);
    snprintf(status, sizeof(status), "/local/domain/%u/xenshape", d1);
    snprintf(path, sizeof(path), "%s/state", status);
    ck_assert_int_eq(put(dom0, path, "running"), 0);
    snprintf(path, sizeof(path), "n0 r%u", d1);
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, status, path), 0);
    snprintf(path, sizeof(path), "%s/state", status);
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, path, perms_text(dom0,
                                                                   status)),
                     0);
}

START_TEST(permissions)
{
    xenshape__kv_handle *who[3] = { dom0, g1, g2 };
    xenshape__kv_handle *h = who[perm_cases[_i].who];
    char path[256], arg[128];
    char **names = NULL;
    xenshape__kv_perm *p = NULL;
    unsigned n = 0;
    int r = 0;

    write_policy_and_status();
    expand(perm_cases[_i].path, path, sizeof(path));
    if (perm_cases[_i].arg)
        expand(perm_cases[_i].arg, arg, sizeof(arg));
    switch (perm_cases[_i].op) {
    case P_READ:
        r = rd(h, path);
        break;
    case P_WRITE:
        r = put(h, path, arg);
        break;
    case P_RM:
        r = xenshape__kv_rm(h, NO_TXN, path);
        break;
    case P_DIR:
        r = xenshape__kv_directory(h, NO_TXN, path, &names, &n);
        xenshape__kv_free_list(names);
        break;
    case P_GETPERMS:
        r = xenshape__kv_get_perms(h, NO_TXN, path, &p, &n);
        free(p);
        break;
    case P_SETPERMS:
        r = set_perms_text(h, NO_TXN, path, arg);
        break;
    }
    ck_assert_msg(r == perm_cases[_i].want, "domain %u: op %d on %s: %s, "
                  "expected %s", perm_cases[_i].who, perm_cases[_i].op,
                  path, strerror(-r), strerror(-perm_cases[_i].want));
    /* A refused change changed nothing. */
    if (r && perm_cases[_i].op == P_WRITE && rd(dom0, path) == 0)
        ck_assert_str_ne(get(dom0, NO_TXN, path, NULL), arg);
}
END_TEST

START_TEST(inheritance_and_ownership)
{
    char home[64], path[128], want[64];

    /* Created by Dom0: the parent's permissions, owner and all. */
    ck_assert_int_eq(put(dom0, "/a", ""), 0);
    snprintf(want, sizeof(want), "n0 r%u", d1);
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, "/a", want), 0);
    ck_assert_int_eq(put(dom0, "/a/b/c", "1"), 0);
    ck_assert_str_eq(perms_text(dom0, "/a/b"), want);
    ck_assert_str_eq(perms_text(dom0, "/a/b/c"), want);
    ck_assert_int_eq(rd(g1, "/a/b/c"), 0);
    ck_assert_int_eq(rd(g2, "/a/b/c"), -EACCES);

    /* Created by a guest: inherited, but the guest owns them. */
    snprintf(want, sizeof(want), "n0 b%u", d1);
    ck_assert_int_eq(put(dom0, "/shared", ""), 0);
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, "/shared", want), 0);
    ck_assert_int_eq(put(g1, "/shared/x/y", "mine"), 0);
    snprintf(want, sizeof(want), "n%u b%u", d1, d1);
    ck_assert_str_eq(perms_text(dom0, "/shared/x"), want);
    ck_assert_str_eq(perms_text(dom0, "/shared/x/y"), want);
    /* As owner it may now hide them from Dom0's other guests. */
    snprintf(want, sizeof(want), "n%u", d1);
    ck_assert_int_eq(set_perms_text(g1, NO_TXN, "/shared/x/y", want), 0);
    ck_assert_int_eq(rd(g2, "/shared/x/y"), -EACCES);
    ck_assert_int_eq(rd(dom0, "/shared/x/y"), 0);

    /* The home's special nodes, as libxl gives them. */
    snprintf(home, sizeof(home), "/local/domain/%u", d1);
    snprintf(want, sizeof(want), "n0 r%u", d1);
    ck_assert_str_eq(perms_text(dom0, home), want);
    snprintf(path, sizeof(path), "%s/memory", home);
    ck_assert_str_eq(perms_text(dom0, path), want);
    snprintf(path, sizeof(path), "%s/control/shutdown", home);
    snprintf(want, sizeof(want), "n%u", d1);
    ck_assert_str_eq(perms_text(dom0, path), want);
    snprintf(path, sizeof(path), "%s/device/suspend/event-channel", home);
    ck_assert_str_eq(perms_text(dom0, path), want);
}
END_TEST

/* ---- watches ----------------------------------------------------------- */

START_TEST(watch_fires_at_once_and_below)
{
    char *p = NULL, *t = NULL;

    ck_assert_int_eq(xenshape__kv_watch(dom0, "/sync", "sync"), 0);
    expect_event(dom0, "/sync", "sync");
    ck_assert_int_eq(xenshape__kv_watch(dom0, "/w", "tok"), 0);
    expect_event(dom0, "/w", "tok");
    ck_assert_int_eq(xenshape__kv_watch(dom0, "/w", "tok"), -EEXIST);
    ck_assert_int_eq(put(dom0, "/w/a/b", "1"), 0);
    expect_event(dom0, "/w/a/b", "tok");
    ck_assert_int_eq(put(dom0, "/w", "top"), 0);
    expect_event(dom0, "/w", "tok");
    /* Outside the path: nothing; nor for a sibling with its prefix. */
    ck_assert_int_eq(put(dom0, "/other", "1"), 0);
    ck_assert_int_eq(put(dom0, "/wx", "1"), 0);
    expect_nothing_before(dom0, dom0, "/sync");
    /* Permissions changes count as changes. */
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, "/w/a", "n0 r1"), 0);
    expect_event(dom0, "/w/a", "tok");

    /* A watch below a removed node hears of it with its own path. */
    ck_assert_int_eq(xenshape__kv_watch(dom0, "/w/a/b/c/d", "deep"), 0);
    expect_event(dom0, "/w/a/b/c/d", "deep");
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, "/w/a"), 0);
    ck_assert(next_event(dom0, &p, &t));
    ck_assert_msg((!strcmp(p, "/w/a") && !strcmp(t, "tok")) ||
                  (!strcmp(p, "/w/a/b/c/d") && !strcmp(t, "deep")),
                  "%s %s", p, t);
    free(p);
    free(t);
    ck_assert(next_event(dom0, &p, &t));
    ck_assert_msg((!strcmp(p, "/w/a") && !strcmp(t, "tok")) ||
                  (!strcmp(p, "/w/a/b/c/d") && !strcmp(t, "deep")),
                  "%s %s", p, t);
    free(p);
    free(t);
    expect_nothing_before(dom0, dom0, "/sync");

    /* Unwatched: not one more event, even one already queued. */
    ck_assert_int_eq(put(dom0, "/w/queued", "1"), 0);
    ck_assert_int_eq(xenshape__kv_unwatch(dom0, "/w", "tok"), 0);
    ck_assert_int_eq(xenshape__kv_unwatch(dom0, "/w", "tok"), -ENOENT);
    ck_assert_int_eq(put(dom0, "/w/after", "1"), 0);
    expect_nothing_before(dom0, dom0, "/sync");
    ck_assert_int_eq(xenshape__kv_read_watch(dom0, &p, &t), -EAGAIN);
}
END_TEST

START_TEST(watch_filtered_by_read_permission)
{
    char sync[64], other[96], own[64];

    snprintf(sync, sizeof(sync), "/local/domain/%u/data/sync", d1);
    snprintf(other, sizeof(other), "/local/domain/%u", d2);
    snprintf(own, sizeof(own), "/local/domain/%u/data", d1);
    ck_assert_int_eq(xenshape__kv_watch(g1, sync, "sync"), 0);
    expect_event(g1, sync, "sync");
    /* A guest may watch what it cannot read: the first event tells it
     * nothing it did not say itself, and no change ever comes. */
    ck_assert_int_eq(xenshape__kv_watch(g1, other, "spy"), 0);
    expect_event(g1, other, "spy");
    ck_assert_int_eq(xenshape__kv_watch(g1, "/xenshape", "policy"), 0);
    expect_event(g1, "/xenshape", "policy");
    ck_assert_int_eq(put(dom0, "/xenshape/vm/x/priority", "1"), 0);
    snprintf(other, sizeof(other), "/local/domain/%u/name", d2);
    ck_assert_int_eq(put(dom0, other, "renamed"), 0);
    snprintf(other, sizeof(other), "/local/domain/%u/data/secret", d2);
    ck_assert_int_eq(put(g2, other, "s"), 0);
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, "/xenshape/vm/x"), 0);
    expect_nothing_before(g1, dom0, sync);
    /* Once readable, changes come. */
    ck_assert_int_eq(xenshape__kv_watch(g1, own, "own"), 0);
    expect_event(g1, own, "own");
    snprintf(other, sizeof(other), "%s/x", own);
    ck_assert_int_eq(put(dom0, other, "1"), 0);
    expect_event(g1, other, "own");
    /* Relative watches hear relative paths. */
    ck_assert_int_eq(xenshape__kv_watch(g1, "control", "rel"), 0);
    expect_event(g1, "control", "rel");
    ck_assert_int_eq(put(g1, "control/shutdown", "reboot"), 0);
    expect_event(g1, "control/shutdown", "rel");
}
END_TEST

START_TEST(watch_quota)
{
    char path[64];
    unsigned i;

    for (i = 0; i < XENSHAPE__SIM_KV_WATCHES; i++) {
        snprintf(path, sizeof(path), "/q/%u", i);
        ck_assert_int_eq(xenshape__kv_watch(g1, path, "t"), 0);
    }
    ck_assert_int_eq(xenshape__kv_watch(g1, "/q/more", "t"), -E2BIG);
    /* The quota is the domain's, across its connections. */
    {
        xenshape__kv_handle *again = open_as(d1);

        ck_assert_int_eq(xenshape__kv_watch(again, "/q/more", "t"), -E2BIG);
        xenshape__kv_close(again);
    }
    ck_assert_int_eq(xenshape__kv_unwatch(g1, "/q/0", "t"), 0);
    ck_assert_int_eq(xenshape__kv_watch(g1, "/q/more", "t"), 0);
    /* Dom0 has none. */
    for (i = 0; i < XENSHAPE__SIM_KV_WATCHES + 10; i++) {
        snprintf(path, sizeof(path), "/q/%u", i);
        ck_assert_int_eq(xenshape__kv_watch(dom0, path, "t"), 0);
    }
}
END_TEST

START_TEST(introduce_and_release)
{
    char home[64], path[128], vm[64], u[37];
    uint32_t d3;

    ck_assert_int_eq(xenshape__kv_watch(dom0, "/sync", "sync"), 0);
    expect_event(dom0, "/sync", "sync");
    ck_assert_int_eq(xenshape__kv_watch(dom0, "@introduceDomain", "in"), 0);
    expect_event(dom0, "@introduceDomain", "in");
    ck_assert_int_eq(xenshape__kv_watch(dom0, "@releaseDomain", "out"), 0);
    expect_event(dom0, "@releaseDomain", "out");
    ck_assert_int_eq(xenshape__kv_watch(g1, "@releaseDomain", "out"), 0);
    expect_event(g1, "@releaseDomain", "out");

    d3 = mkdom("third");
    expect_event(dom0, "@introduceDomain", "in");
    uuid_of(d3, u);
    /* libxl's layout, as the toolstack wrote it. */
    snprintf(home, sizeof(home), "/local/domain/%u", d3);
    snprintf(vm, sizeof(vm), "/vm/%s", u);
    snprintf(path, sizeof(path), "%s/vm", home);
    assert_val(dom0, path, vm);
    snprintf(path, sizeof(path), "%s/name", home);
    assert_val(dom0, path, "third");
    snprintf(path, sizeof(path), "%s/domid", home);
    snprintf(u, sizeof(u), "%u", d3);
    assert_val(dom0, path, u);
    snprintf(path, sizeof(path), "%s/memory/target", home);
    assert_val(dom0, path, "256");
    snprintf(path, sizeof(path), "%s/memory/static-max", home);
    assert_val(dom0, path, "256");
    snprintf(path, sizeof(path), "%s/uuid", vm);
    assert_val(dom0, path, vm + 4);
    snprintf(path, sizeof(path), "%s/name", vm);
    assert_val(dom0, path, "third");
    snprintf(u, sizeof(u), "n0 r%u", d3);
    ck_assert_str_eq(perms_text(dom0, vm), u);

    /* What it owned outside its home passes to Dom0; its entries go. */
    snprintf(u, sizeof(u), "n%u r%u", d3, d1);
    ck_assert_int_eq(put(dom0, "/left", "x"), 0);
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, "/left", u), 0);
    snprintf(u, sizeof(u), "n0 r%u r%u", d3, d1);
    ck_assert_int_eq(put(dom0, "/granted", "x"), 0);
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, "/granted", u), 0);

    ck_assert_int_eq(xenshape__sim_dom_destroy(host, d3), 0);
    expect_event(dom0, "@releaseDomain", "out");
    ck_assert_int_eq(rd(dom0, home), -ENOENT);
    ck_assert_int_eq(rd(dom0, vm), -ENOENT);
    snprintf(u, sizeof(u), "n0 r%u", d1);
    ck_assert_str_eq(perms_text(dom0, "/left"), u);
    ck_assert_str_eq(perms_text(dom0, "/granted"), u);
    /* A guest does not see @releaseDomain unless Dom0 lets it. */
    snprintf(path, sizeof(path), "/local/domain/%u/data/sync", d1);
    ck_assert_int_eq(xenshape__kv_watch(g1, path, "sync"), 0);
    expect_event(g1, path, "sync");
    expect_nothing_before(g1, dom0, path);
    snprintf(u, sizeof(u), "n0 r%u", d1);
    ck_assert_int_eq(set_perms_text(g1, NO_TXN, "@releaseDomain", u),
                     -EACCES);
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, "@releaseDomain", u), 0);
    ck_assert_str_eq(perms_text(g1, "@releaseDomain"), u);
    d3 = mkdom("fourth");
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, d3), 0);
    expect_event(g1, "@releaseDomain", "out");
    ck_assert_int_eq(set_perms_text(dom0, NO_TXN, "@nosuch", "n0"), -ENOENT);
}
END_TEST

START_TEST(destroyed_domain_loses_its_connection)
{
    xenshape__kv_handle *h = NULL;
    char arg[340];

    ck_assert_int_eq(put(g2, "data/x", "1"), 0);
    ck_assert_int_eq(xenshape__sim_dom_destroy(host, d2), 0);
    ck_assert_int_eq(put(g2, "data/x", "2"), -ENOTCONN);
    ck_assert_int_eq(rd(g2, "name"), -ENOTCONN);
    /* And no connection can claim to be it, or any domain that is not. */
    snprintf(arg, sizeof(arg), "%s,domid=%u", sock, d2);
    ck_assert_int_ne(xenshape__kv_open(&h, "sim", arg, tu_logger()), 0);
    ck_assert_ptr_null(h);
    snprintf(arg, sizeof(arg), "%s,domid=500", sock);
    ck_assert_int_ne(xenshape__kv_open(&h, "sim", arg, tu_logger()), 0);
    snprintf(arg, sizeof(arg), "%s,domid=x", sock);
    ck_assert_int_eq(xenshape__kv_open(&h, "sim", arg, tu_logger()),
                     XENSHAPE_EINVAL);
    ck_assert_int_eq(xenshape__kv_open(&h, "nosuch", sock, tu_logger()),
                     XENSHAPE_EINVAL);
    ck_assert_ptr_null(h);
}
END_TEST

/* ---- transactions -------------------------------------------------------- */

START_TEST(transaction_isolation_and_abort)
{
    xenshape__kv_txn t, u;
    int r;

    ck_assert_int_eq(put(dom0, "/t/a", "1"), 0);
    ck_assert_int_eq(xenshape__kv_watch(dom0, "/t", "tok"), 0);
    expect_event(dom0, "/t", "tok");
    ck_assert_int_eq(xenshape__kv_txn_start(dom0, &t), 0);
    ck_assert_uint_ne(t, NO_TXN);
    ck_assert_int_eq(xenshape__kv_write_str(dom0, t, "/t/b", "2"), 0);
    ck_assert_str_eq(get(dom0, t, "/t/b", NULL), "2");
    ck_assert_int_eq(rd(dom0, "/t/b"), -ENOENT);
    ck_assert_int_eq(xenshape__kv_rm(dom0, t, "/t/a"), 0);
    get(dom0, t, "/t/a", &r);
    ck_assert_int_eq(r, -ENOENT);
    assert_val(dom0, "/t/a", "1");
    ck_assert_int_eq(xenshape__kv_txn_end(dom0, t, true), 0);
    ck_assert_int_eq(rd(dom0, "/t/b"), -ENOENT);
    assert_val(dom0, "/t/a", "1");
    /* An ended transaction is gone. */
    ck_assert_int_eq(xenshape__kv_txn_end(dom0, t, false), -ENOENT);
    get(dom0, t, "/t/a", &r);
    ck_assert_int_eq(r, -ENOENT);

    /* Committed: all at once, with the events then, not before. */
    ck_assert_int_eq(xenshape__kv_txn_start(dom0, &t), 0);
    ck_assert_int_eq(xenshape__kv_txn_start(dom0, &u), 0);
    ck_assert_uint_ne(t, u);
    ck_assert_int_eq(xenshape__kv_write_str(dom0, t, "/t/c", "3"), 0);
    ck_assert_int_eq(set_perms_text(dom0, t, "/t/c", "n0 r1"), 0);
    /* A change of a node t did not look at does not conflict (a new
     * child of /t would: t's creation of /t/c depends on /t's list). */
    ck_assert_int_eq(put(dom0, "/t/a", "changed"), 0);
    expect_event(dom0, "/t/a", "tok");
    ck_assert_int_eq(xenshape__kv_txn_end(dom0, t, false), 0);
    expect_event(dom0, "/t/c", "tok");
    expect_event(dom0, "/t/c", "tok");
    assert_val(dom0, "/t/c", "3");
    ck_assert_str_eq(perms_text(dom0, "/t/c"), "n0 r1");
    /* u saw the store as it was when it started. */
    get(dom0, u, "/t/c", &r);
    ck_assert_int_eq(r, -ENOENT);
    ck_assert_int_eq(xenshape__kv_txn_end(dom0, u, false), -EAGAIN);
}
END_TEST

/* What a transaction looked at changed under it: EAGAIN, none of it. */
static const struct {
    const char *looked_at;           /* read (or listed, for "dir:") */
    const char *changed;             /* then written outside */
    bool conflict;
} conflict_cases[] = {
    { "/t/a", "/t/a", true },
    { "/t/absent", "/t/absent", true },       /* created meanwhile */
    { "dir:/t", "/t/new", true },             /* a child appeared */
    { "/t/a", "/t/other", false },
    { "/t/a", "/u", false },
    { "/t/a/deeper", "/t/a", false },         /* /t/a/deeper: absent */
};

START_TEST(transaction_conflict)
{
    const char *look = conflict_cases[_i].looked_at;
    xenshape__kv_txn t;
    int r;

    ck_assert_int_eq(put(dom0, "/t/a", "1"), 0);
    ck_assert_int_eq(put(dom0, "/t/other", "1"), 0);
    ck_assert_int_eq(xenshape__kv_txn_start(dom0, &t), 0);
    if (!strncmp(look, "dir:", 4)) {
        char **names = NULL;
        unsigned n = 0;

        ck_assert_int_eq(xenshape__kv_directory(dom0, t, look + 4, &names,
                                                &n), 0);
        xenshape__kv_free_list(names);
    } else {
        get(dom0, t, look, &r);
    }
    ck_assert_int_eq(xenshape__kv_write_str(dom0, t, "/t/result", "done"), 0);
    ck_assert_int_eq(put(dom0, conflict_cases[_i].changed, "2"), 0);
    r = xenshape__kv_txn_end(dom0, t, false);
    if (conflict_cases[_i].conflict) {
        ck_assert_int_eq(r, -EAGAIN);
        ck_assert_int_eq(rd(dom0, "/t/result"), -ENOENT);
    } else {
        ck_assert_int_eq(r, 0);
        assert_val(dom0, "/t/result", "done");
    }
}
END_TEST

struct retry {
    xenshape__kv_handle *other;
    unsigned calls, conflicts;       /* conflicts: of the first calls */
};

/* Reads a key, then (while conflicts last) has another connection change
 * it, then writes what it read plus one. */
static int retry_fn(xenshape__kv_handle *h, xenshape__kv_txn t, void *arg)
{
    struct retry *rt = arg;
    const char *v;
    char buf[32];
    int r;

    rt->calls++;
    v = get(h, t, "/count", &r);
    if (r)
        return r;
    snprintf(buf, sizeof(buf), "%d", atoi(v) + 1);
    if (rt->calls <= rt->conflicts)
        ck_assert_int_eq(put(rt->other, "/count", "10"), 0);
    return xenshape__kv_write_str(h, t, "/count", buf);
}

START_TEST(transact_retries)
{
    struct retry rt = { NULL, 0, 2 };
    xenshape__kv_handle *other = open_as(0);

    rt.other = other;
    ck_assert_int_eq(put(dom0, "/count", "0"), 0);
    ck_assert_int_eq(xenshape__kv_transact(dom0, retry_fn, &rt), 0);
    ck_assert_uint_eq(rt.calls, 3);
    assert_val(dom0, "/count", "11");
    /* Conflicting for ever: EAGAIN after the last try. */
    rt.calls = 0;
    rt.conflicts = 1000;
    ck_assert_int_eq(xenshape__kv_transact(dom0, retry_fn, &rt), -EAGAIN);
    ck_assert_uint_eq(rt.calls, XENSHAPE__KV_TXN_TRIES);
    assert_val(dom0, "/count", "10");
    xenshape__kv_close(other);
}
END_TEST

START_TEST(transaction_quota)
{
    xenshape__kv_txn t[XENSHAPE__SIM_KV_TXNS + 1];
    unsigned i;

    for (i = 0; i < XENSHAPE__SIM_KV_TXNS; i++)
        ck_assert_int_eq(xenshape__kv_txn_start(g1, &t[i]), 0);
    ck_assert_int_eq(xenshape__kv_txn_start(g1, &t[i]), -ENOSPC);
    ck_assert_int_eq(xenshape__kv_txn_end(g1, t[0], true), 0);
    ck_assert_int_eq(xenshape__kv_txn_start(g1, &t[0]), 0);
    for (i = 0; i < XENSHAPE__SIM_KV_TXNS + 1; i++)
        ck_assert_int_eq(xenshape__kv_txn_start(dom0, &t[i]), 0);
}
END_TEST

/* ---- node quota ---------------------------------------------------------- */

/* Nodes owned by domid under path, path included. */
static unsigned owned_below(const char *path, uint32_t domid)
{
    xenshape__kv_perm *p = NULL;
    char **names = NULL, child[XENSHAPE__KV_PATH_MAX];
    unsigned n = 0, np = 0, i, count;

    ck_assert_int_eq(xenshape__kv_get_perms(dom0, NO_TXN, path, &p, &np), 0);
    count = p[0].domid == domid;
    free(p);
    ck_assert_int_eq(xenshape__kv_directory(dom0, NO_TXN, path, &names, &n),
                     0);
    for (i = 0; i < n; i++) {
        snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "",
                 names[i]);
        count += owned_below(child, domid);
    }
    xenshape__kv_free_list(names);
    return count;
}

START_TEST(node_quota)
{
    xenshape__kv_txn t;
    char path[64];
    unsigned i, written = 0;
    int r = 0;

    for (i = 0; i < 2 * XENSHAPE__SIM_KV_NODES_PER_DOM; i++) {
        snprintf(path, sizeof(path), "data/n%u", i);
        r = put(g1, path, "x");
        if (r)
            break;
        written++;
    }
    ck_assert_int_eq(r, -ENOSPC);
    /* Exactly the quota: what libxl gave it plus what it wrote. */
    ck_assert_uint_eq(owned_below("/", d1), XENSHAPE__SIM_KV_NODES_PER_DOM);
    ck_assert_uint_gt(written, XENSHAPE__SIM_KV_NODES_PER_DOM - 20);
    /* Writing existing nodes costs nothing; Dom0 is exempt, even when
     * the nodes it creates are the guest's. */
    ck_assert_int_eq(put(g1, "data/n0", "again"), 0);
    ck_assert_int_eq(put(g1, "data/a/b", "x"), -ENOSPC);
    snprintf(path, sizeof(path), "/local/domain/%u/data/by-dom0", d1);
    ck_assert_int_eq(put(dom0, path, "x"), 0);
    ck_assert_uint_eq(owned_below("/", d1),
                      XENSHAPE__SIM_KV_NODES_PER_DOM + 1);
    ck_assert_int_eq(xenshape__kv_rm(dom0, NO_TXN, path), 0);
    /* A transaction is held to it as well, at the op and at commit. */
    ck_assert_int_eq(xenshape__kv_txn_start(g1, &t), 0);
    ck_assert_int_eq(xenshape__kv_write_str(g1, t, "data/more", "x"),
                     -ENOSPC);
    ck_assert_int_eq(xenshape__kv_rm(g1, t, "data/n1"), 0);
    ck_assert_int_eq(xenshape__kv_write_str(g1, t, "data/more", "x"), 0);
    ck_assert_int_eq(xenshape__kv_txn_end(g1, t, false), 0);
    ck_assert_int_eq(rd(g1, "data/n1"), -ENOENT);
    ck_assert_int_eq(put(g1, "data/more2", "x"), -ENOSPC);
    ck_assert_int_eq(xenshape__kv_rm(g1, NO_TXN, "data/n2"), 0);
    ck_assert_int_eq(put(g1, "data/more2", "x"), 0);
    ck_assert_uint_eq(owned_below("/", d1), XENSHAPE__SIM_KV_NODES_PER_DOM);
}
END_TEST

/* ---- fault injection ------------------------------------------------------ */

static const struct {
    const char *site;
    int err;
} fault_cases[] = {
    { "kv.read", EACCES },
    { "kv.write", ENOSPC },
    { "kv.rm", EACCES },
    { "kv.directory", ENOENT },
    { "kv.set_perms", EPERM },
    { "kv.get_perms", EACCES },
    { "kv.watch", E2BIG },
    { "kv.unwatch", ENOENT },
    { "kv.txn_start", ENOSPC },
    { "kv.txn_end", EAGAIN },
    { "kv.read_watch", EIO },
    { "kv.open", ECONNREFUSED },
};

/* Each kv.* site fails the call with the armed errno and leaves the
 * store as if the call had not been made; the next call works. */
START_TEST(injected_failures)
{
    const char *site = fault_cases[_i].site;
    int e = -fault_cases[_i].err, r = 0, rt;
    xenshape__kv_perm perm = { 0, XENSHAPE__KV_PERM_READ }, *p = NULL;
    char **names = NULL, *path = NULL, *token = NULL;
    xenshape__kv_handle *h = NULL;
    xenshape__kv_txn t = 0;
    unsigned n = 0;

    ck_assert_int_eq(put(dom0, "/f/a", "1"), 0);
    ck_assert_int_eq(xenshape__kv_watch(dom0, "/f", "tok"), 0);
    expect_event(dom0, "/f", "tok");
    if (!strcmp(site, "kv.txn_end")) {
        ck_assert_int_eq(xenshape__kv_txn_start(dom0, &t), 0);
        ck_assert_int_eq(xenshape__kv_write_str(dom0, t, "/f/t", "1"), 0);
    }
    if (!strcmp(site, "kv.read_watch"))
        ck_assert_int_eq(put(dom0, "/f/ev", "1"), 0);
    ck_assert_int_eq(xenshape_fault_set(site, 1, fault_cases[_i].err,
                                        false), 0);
    for (rt = 0; rt < 2; rt++) {
        if (!strcmp(site, "kv.read"))
            r = rd(dom0, "/f/a");
        else if (!strcmp(site, "kv.write"))
            r = put(dom0, "/f/w", "1");
        else if (!strcmp(site, "kv.rm"))
            r = xenshape__kv_rm(dom0, NO_TXN, "/f/a");
        else if (!strcmp(site, "kv.directory"))
            r = xenshape__kv_directory(dom0, NO_TXN, "/f", &names, &n);
        else if (!strcmp(site, "kv.set_perms"))
            r = xenshape__kv_set_perms(dom0, NO_TXN, "/f/a", &perm, 1);
        else if (!strcmp(site, "kv.get_perms"))
            r = xenshape__kv_get_perms(dom0, NO_TXN, "/f/a", &p, &n);
        else if (!strcmp(site, "kv.watch"))
            r = xenshape__kv_watch(dom0, "/g", "g");
        else if (!strcmp(site, "kv.unwatch"))
            r = xenshape__kv_unwatch(dom0, "/f", "tok");
        else if (!strcmp(site, "kv.txn_start"))
            r = xenshape__kv_txn_start(dom0, &t);
        else if (!strcmp(site, "kv.txn_end"))
            r = xenshape__kv_txn_end(dom0, t, false);
        else if (!strcmp(site, "kv.read_watch"))
            r = rt == 0 ? xenshape__kv_read_watch(dom0, &path, &token) :
                next_event(dom0, &path, &token) ? 0 : -ETIMEDOUT;
        else if (!strcmp(site, "kv.open"))
            r = xenshape__kv_open(&h, "sim", sock, tu_logger());
        if (rt == 0) {
            /* The failure, as the backend would report it. */
            if (!strcmp(site, "kv.open"))
                ck_assert_int_eq(r, xenshape__rc_from_errno(e));
            else
                ck_assert_int_eq(r, e);
            ck_assert_uint_eq(xenshape_fault_hits(site), 1);
            ck_assert_ptr_null(h);
            /* Nothing happened. */
            assert_val(dom0, "/f/a", "1");
            ck_assert_int_eq(rd(dom0, "/f/w"), -ENOENT);
            ck_assert_str_eq(perms_text(dom0, "/f/a"), "n0");
            if (!strcmp(site, "kv.txn_end")) {
                /* Ended for real, discarded: as after a conflict. */
                ck_assert_int_eq(rd(dom0, "/f/t"), -ENOENT);
                ck_assert_int_eq(xenshape__kv_txn_end(dom0, t, false),
                                 -ENOENT);
                ck_assert_int_eq(xenshape__kv_txn_start(dom0, &t), 0);
                ck_assert_int_eq(xenshape__kv_write_str(dom0, t, "/f/t",
                                                        "1"), 0);
            }
            if (!strcmp(site, "kv.watch"))
                ck_assert_int_eq(xenshape__kv_unwatch(dom0, "/g", "g"),
                                 -ENOENT);
            if (!strcmp(site, "kv.unwatch")) {
                ck_assert_int_eq(put(dom0, "/f/still", "1"), 0);
                expect_event(dom0, "/f/still", "tok");
            }
        } else {
            ck_assert_int_eq(r, 0);
        }
        if (!strcmp(site, "kv.directory") && !r)
            xenshape__kv_free_list(names);
        if (!strcmp(site, "kv.get_perms") && !r)
            free(p);
        free(path);
        free(token);
        path = token = NULL;
        names = NULL;
        p = NULL;
    }
    xenshape__kv_close(h);
}
END_TEST

/* xenshape__kv_transact treats an injected EAGAIN at commit as a
 * conflict: one more try, and the change is made once. */
static int incr_fn(xenshape__kv_handle *h, xenshape__kv_txn t, void *arg)
{
    unsigned *calls = arg;
    const char *v;
    char buf[16];
    int r;

    (*calls)++;
    v = get(h, t, "/n", &r);
    snprintf(buf, sizeof(buf), "%d", r ? 1 : atoi(v) + 1);
    return xenshape__kv_write_str(h, t, "/n", buf);
}

START_TEST(transact_with_injected_conflict)
{
    unsigned calls = 0;

    ck_assert_int_eq(xenshape_fault_set("kv.txn_end", 1, EAGAIN, false), 0);
    ck_assert_int_eq(xenshape__kv_transact(dom0, incr_fn, &calls), 0);
    ck_assert_uint_eq(calls, 2);
    ck_assert_uint_eq(xenshape_fault_hits("kv.txn_end"), 1);
    assert_val(dom0, "/n", "1");
    /* Persistent: gives up after the last try, having changed nothing. */
    calls = 0;
    ck_assert_int_eq(xenshape_fault_set("kv.txn_end", 1, EAGAIN, true), 0);
    ck_assert_int_eq(xenshape__kv_transact(dom0, incr_fn, &calls), -EAGAIN);
    ck_assert_uint_eq(calls, XENSHAPE__KV_TXN_TRIES);
    xenshape_fault_clear_all();
    assert_val(dom0, "/n", "1");
    /* An injected failure of an op inside aborts and is returned. */
    ck_assert_int_eq(xenshape_fault_set("kv.write", 1, EACCES, false), 0);
    calls = 0;
    ck_assert_int_eq(xenshape__kv_transact(dom0, incr_fn, &calls), -EACCES);
    ck_assert_uint_eq(calls, 1);
    assert_val(dom0, "/n", "1");
}
END_TEST

static Suite *kv_suite(void)
{
    Suite *s = suite_create("kv");
    TCase *tc;

    tc = tcase_create("encoding");
    tcase_add_loop_test(tc, encode_round_trip, 0,
                        (int)XENSHAPE__ARRAY_SIZE(enc_cases));
    tcase_add_test(tc, encode_every_byte);
    tcase_add_loop_test(tc, decode_bad_escape, 0,
                        (int)XENSHAPE__ARRAY_SIZE(bad_encodings));
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, read_write_rm_dir);
    tcase_add_loop_test(tc, invalid_paths, 0,
                        (int)XENSHAPE__ARRAY_SIZE(bad_paths));
    tcase_add_test(tc, relative_paths_and_root);
    tcase_add_test(tc, protocol_errors);
    tcase_add_loop_test(tc, permissions, 0,
                        (int)XENSHAPE__ARRAY_SIZE(perm_cases));
    tcase_add_test(tc, inheritance_and_ownership);
    tcase_add_test(tc, watch_fires_at_once_and_below);
    tcase_add_test(tc, watch_filtered_by_read_permission);
    tcase_add_test(tc, watch_quota);
    tcase_add_test(tc, introduce_and_release);
    tcase_add_test(tc, destroyed_domain_loses_its_connection);
    tcase_add_test(tc, transaction_isolation_and_abort);
    tcase_add_loop_test(tc, transaction_conflict, 0,
                        (int)XENSHAPE__ARRAY_SIZE(conflict_cases));
    tcase_add_test(tc, transact_retries);
    tcase_add_test(tc, transaction_quota);
    tcase_add_test(tc, node_quota);
    tcase_add_loop_test(tc, injected_failures, 0,
                        (int)XENSHAPE__ARRAY_SIZE(fault_cases));
    tcase_add_test(tc, transact_with_injected_conflict);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kv_suite());
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
