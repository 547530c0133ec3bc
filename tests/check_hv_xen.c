/*
 * check_hv_xen.c - tests of the real-Xen backend (libxenshape/hv/hv_xen.c)
 * that need no hypervisor.
 *
 * On a build machine there is no /dev/xen: these tests prove that open
 * fails there with a negative errno, a plain message and no leaked file
 * descriptor or stray output; that every op is safe on a NULL handle;
 * that the ops table is complete; and that the pure helpers (domain info,
 * vm_event responses, ring draining, log-dirty bitmaps) do exactly what
 * Xen 4.17 needs, using an in-memory ring as Xen's front end.  Where
 * /dev/xen/privcmd exists (a real Dom0) the assertions that need its
 * absence are skipped.  Everything that needs a booted Xen is left to the
 * QEMU lane (docs/hv-xen.md).
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>

#include "private.h"
#include "hv/hv.h"
#include "hv/hv_xen_priv.h"

#define OPS (&xenshape__hv_xen_ops)

static bool have_privcmd(void)
{
    return access("/dev/xen/privcmd", F_OK) == 0;
}

/* A logger that keeps every message, so tests can read what was said. */
struct capture {
    xentoollog_logger vtable;        /* first: the library sees this */
    char text[16384];
    size_t len;
    unsigned count;
};

static void capture_vmessage(xentoollog_logger *lg, xentoollog_level level,
                             int errnoval, const char *context,
                             const char *format, va_list al)
{
    struct capture *c = (struct capture *)lg;
    int n;

    c->count++;
    if (c->len >= sizeof(c->text) - 1)
        return;
    n = vsnprintf(c->text + c->len, sizeof(c->text) - c->len, format, al);
    if (n < 0)
        return;
    c->len += (size_t)n;
    if (c->len >= sizeof(c->text) - 1) {
        c->len = sizeof(c->text) - 1;
        return;
    }
    c->text[c->len++] = '\n';
    c->text[c->len] = '\0';
}

static void capture_init(struct capture *c)
{
    memset(c, 0, sizeof(*c));
    c->vtable.vmessage = capture_vmessage;
}

static unsigned count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    unsigned n = 0;

    ck_assert_ptr_nonnull(dir);
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

/* ---- the ops table --------------------------------------------------- */

START_TEST(test_ops_table)
{
    ck_assert_uint_eq(OPS->version, XENSHAPE__HV_OPS_VERSION);
    ck_assert_str_eq(OPS->name, "xen");
    ck_assert_ptr_nonnull(OPS->open);
    ck_assert_ptr_nonnull(OPS->close);
    ck_assert_ptr_nonnull(OPS->domain_list);
    ck_assert_ptr_nonnull(OPS->host_info);
    ck_assert_ptr_nonnull(OPS->paging_enable);
    ck_assert_ptr_nonnull(OPS->paging_reattach);
    ck_assert_ptr_nonnull(OPS->ring_close);
    ck_assert_ptr_nonnull(OPS->paging_disable);
    ck_assert_ptr_nonnull(OPS->ring_page);
    ck_assert_ptr_nonnull(OPS->evtchn_fd);
    ck_assert_ptr_nonnull(OPS->evtchn_ack);
    ck_assert_ptr_nonnull(OPS->evtchn_notify);
    ck_assert_ptr_nonnull(OPS->nominate);
    ck_assert_ptr_nonnull(OPS->evict);
    ck_assert_ptr_nonnull(OPS->load);
    ck_assert_ptr_nonnull(OPS->map);
    ck_assert_ptr_nonnull(OPS->unmap);
    ck_assert_ptr_nonnull(OPS->pause);
    ck_assert_ptr_nonnull(OPS->unpause);
    /* Optional in hv.h, but this backend implements all of them. */
    ck_assert_ptr_nonnull(OPS->access_enable);
    ck_assert_ptr_nonnull(OPS->access_disable);
    ck_assert_ptr_nonnull(OPS->access_arm);
    ck_assert_ptr_nonnull(OPS->access_read);
    ck_assert_ptr_nonnull(OPS->dirty_read);
}
END_TEST

/* ---- open without Xen ------------------------------------------------ */

START_TEST(test_open_without_xen)
{
    struct capture c;
    xenshape__hv *hv = (xenshape__hv *)&c; /* a sentinel, never written */
    unsigned fds, i;
    int r;

    if (have_privcmd()) {
        /* A real Dom0: open may work; it must then close cleanly. */
        xenshape__hv *real = NULL;

        capture_init(&c);
        r = OPS->open(&real, NULL, &c.vtable);
        if (r == 0)
            OPS->close(real);
        else
            ck_assert_int_lt(r, 0);
        return;
    }

    capture_init(&c);
    r = OPS->open(&hv, NULL, &c.vtable);
    ck_assert_int_eq(r, -ENOENT);
    ck_assert_ptr_eq(hv, (xenshape__hv *)&c);
    ck_assert_msg(strstr(c.text, "not running on Xen: cannot open "
                                 "/dev/xen/privcmd"),
                  "no plain message; logged: %s", c.text);

    /* Repeated failures leave nothing open behind. */
    fds = count_fds();
    for (i = 0; i < 64; i++) {
        capture_init(&c);
        ck_assert_int_eq(OPS->open(&hv, NULL, &c.vtable), -ENOENT);
    }
    ck_assert_uint_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_open_without_logger_is_silent)
{
    xenshape__hv *hv = NULL;
    char buf[512];
    FILE *tmp;
    int saved, r;
    size_t n;

    if (have_privcmd())
        return;
    /* libxc prints to stderr when it has no logger; we must not. */
    tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
    r = OPS->open(&hv, NULL, NULL);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);

    ck_assert_int_eq(r, -ENOENT);
    ck_assert_ptr_null(hv);
    rewind(tmp);
    n = fread(buf, 1, sizeof(buf) - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    ck_assert_msg(n == 0, "open printed to stderr: %s", buf);
}
END_TEST

START_TEST(test_open_out_of_memory)
{
    struct capture c;
    xenshape__hv *hv = NULL;

    capture_init(&c);
    ck_assert_int_eq(xenshape_fault_set("alloc", 1, ENOMEM, false), 0);
    ck_assert_int_eq(OPS->open(&hv, NULL, &c.vtable), -ENOMEM);
    ck_assert_uint_eq(xenshape_fault_hits("alloc"), 1);
    xenshape_fault_clear_all();
    ck_assert_ptr_null(hv);
}
END_TEST

START_TEST(test_open_bad_args)
{
    ck_assert_int_eq(OPS->open(NULL, NULL, NULL), -EINVAL);
}
END_TEST

/* ---- NULL handles ---------------------------------------------------- */

START_TEST(test_null_handles)
{
    xenshape__hv_dominfo info;
    xenshape__hv_dom *d = NULL;
    uint64_t a = 0, b = 0, gfn = 1, bm[2] = { 0 };
    uint32_t port = 0;
    int err = 0;

    OPS->close(NULL);
    OPS->ring_close(NULL);
    ck_assert_int_eq(OPS->domain_list(NULL, &info, 1), -EINVAL);
    ck_assert_int_eq(OPS->host_info(NULL, &a, &b), -EINVAL);
    ck_assert_int_eq(OPS->paging_enable(NULL, 1, &d, &port), -EINVAL);
    ck_assert_int_eq(OPS->paging_reattach(NULL, 1, 5, &d), -EINVAL);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(OPS->paging_disable(NULL, 1), -EINVAL);
    ck_assert_ptr_null(OPS->ring_page(NULL));
    ck_assert_int_eq(OPS->evtchn_fd(NULL), -EINVAL);
    ck_assert_int_eq(OPS->evtchn_ack(NULL), -EINVAL);
    ck_assert_int_eq(OPS->evtchn_notify(NULL), -EINVAL);
    ck_assert_int_eq(OPS->nominate(NULL, 1, gfn), -EINVAL);
    ck_assert_int_eq(OPS->evict(NULL, 1, gfn), -EINVAL);
    ck_assert_int_eq(OPS->load(NULL, 1, gfn, NULL), -EINVAL);
    errno = 0;
    ck_assert_ptr_null(OPS->map(NULL, 1, PROT_READ, &gfn, 1, &err));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(OPS->unmap(NULL, &a, 1), -EINVAL);
    ck_assert_int_eq(OPS->pause(NULL, 1), -EINVAL);
    ck_assert_int_eq(OPS->unpause(NULL, 1), -EINVAL);
    ck_assert_int_eq(OPS->access_enable(NULL, 1,
                                        XENSHAPE__HV_ACCESS_N2RWX), -EINVAL);
    ck_assert_int_eq(OPS->access_disable(NULL, 1), -EINVAL);
    ck_assert_int_eq(OPS->access_arm(NULL, 1, &gfn, 1), -EINVAL);
    ck_assert_int_eq(OPS->access_read(NULL, 1, &a, 1), -EINVAL);
    ck_assert_int_eq(OPS->dirty_read(NULL, 1, bm, 64, false), -EINVAL);
    xenshape__hv_xen_set_hide_ring(NULL, true);
    ck_assert(!xenshape__hv_xen_hide_ring(NULL));
}
END_TEST

/* ---- domain info ----------------------------------------------------- */

START_TEST(test_dominfo)
{
    xc_domaininfo_t info;
    xenshape__hv_dominfo out;
    unsigned i;

    memset(&info, 0, sizeof(info));
    info.domain = 7;
    info.flags = XEN_DOMINF_paused | XEN_DOMINF_hap | XEN_DOMINF_shutdown |
                 (SHUTDOWN_crash << XEN_DOMINF_shutdownshift);
    info.tot_pages = 1000;
    info.max_pages = 2000;
    info.paged_pages = 300;
    info.max_vcpu_id = 3;
    for (i = 0; i < sizeof(info.handle); i++)
        info.handle[i] = (uint8_t)(0xa0 + i);

    memset(&out, 0xff, sizeof(out));
    xenshape__hv_xen_dominfo(&info, &out);
    ck_assert_uint_eq(out.domid, 7);
    ck_assert_uint_eq(out.nr_vcpus, 4);
    ck_assert_uint_eq(out.tot_pages, 1000);
    ck_assert_uint_eq(out.max_pages, 2000);
    ck_assert_uint_eq(out.paged_pages, 300);
    ck_assert_uint_eq(out.max_gpfn, 0);
    ck_assert(out.paused);
    ck_assert(out.hap);
    ck_assert(out.crashed);
    ck_assert(!out.dying);
    ck_assert_mem_eq(out.handle, info.handle, 16);

    /* A clean poweroff is a shutdown, not a crash. */
    info.flags = XEN_DOMINF_shutdown | XEN_DOMINF_dying |
                 (SHUTDOWN_poweroff << XEN_DOMINF_shutdownshift);
    xenshape__hv_xen_dominfo(&info, &out);
    ck_assert(!out.crashed);
    ck_assert(out.dying);
    ck_assert(!out.paused);
    ck_assert(!out.hap);

    /* The crash code means nothing until the domain has shut down. */
    info.flags = SHUTDOWN_crash << XEN_DOMINF_shutdownshift;
    xenshape__hv_xen_dominfo(&info, &out);
    ck_assert(!out.crashed);

    /* A domain with no vCPUs reports ~0 as its highest vCPU id. */
    info.max_vcpu_id = XEN_INVALID_MAX_VCPU_ID;
    xenshape__hv_xen_dominfo(&info, &out);
    ck_assert_uint_eq(out.nr_vcpus, 0);
}
END_TEST

/* ---- vm_event responses and ring draining ----------------------------- */

START_TEST(test_response)
{
    vm_event_request_t req;
    vm_event_response_t rsp;

    memset(&req, 0xa5, sizeof(req));
    req.version = 3; /* whatever the request says, we answer with ours */
    req.reason = VM_EVENT_REASON_MEM_ACCESS;
    req.vcpu_id = 5;
    req.flags = VM_EVENT_FLAG_VCPU_PAUSED | VM_EVENT_FLAG_FOREIGN;
    req.u.mem_access.gfn = 0x1234;
    xenshape__hv_xen_response(&req, &rsp);
    ck_assert_uint_eq(rsp.version, VM_EVENT_INTERFACE_VERSION);
    ck_assert_uint_eq(rsp.vcpu_id, 5);
    ck_assert_uint_eq(rsp.reason, VM_EVENT_REASON_MEM_ACCESS);
    ck_assert_uint_eq(rsp.flags, VM_EVENT_FLAG_VCPU_PAUSED);
    ck_assert_uint_eq(rsp.u.mem_access.gfn, 0x1234);
    ck_assert_uint_eq(rsp.u.mem_access.flags, 0);
    ck_assert_uint_eq(rsp.altp2m_idx, 0);

    /* No VCPU_PAUSED in the request: none in the response. */
    req.flags = 0;
    xenshape__hv_xen_response(&req, &rsp);
    ck_assert_uint_eq(rsp.flags, 0);
}
END_TEST

/* Xen's side of a ring, on an ordinary page. */
struct test_ring {
    vm_event_sring_t *sring;
    vm_event_front_ring_t front;
    vm_event_back_ring_t back;
};

static void ring_setup(struct test_ring *t)
{
    void *page = NULL;

    ck_assert_int_eq(posix_memalign(&page, XC_PAGE_SIZE, XC_PAGE_SIZE), 0);
    memset(page, 0, XC_PAGE_SIZE);
    t->sring = page;
    SHARED_RING_INIT(t->sring);
    FRONT_RING_INIT(&t->front, t->sring, XC_PAGE_SIZE);
    BACK_RING_INIT(&t->back, t->sring, XC_PAGE_SIZE);
    ck_assert_uint_eq(RING_SIZE(&t->back), 8);
}

static void ring_put(struct test_ring *t, uint32_t reason, uint32_t vcpu,
                     uint32_t flags, uint64_t gfn)
{
    vm_event_request_t *req;

    ck_assert(!RING_FULL(&t->front));
    req = RING_GET_REQUEST(&t->front, t->front.req_prod_pvt);
    memset(req, 0, sizeof(*req));
    req->version = VM_EVENT_INTERFACE_VERSION;
    req->reason = reason;
    req->vcpu_id = vcpu;
    req->flags = flags;
    if (reason == VM_EVENT_REASON_MEM_ACCESS)
        req->u.mem_access.gfn = gfn;
    else
        req->u.mem_paging.gfn = gfn;
    t->front.req_prod_pvt++;
    RING_PUSH_REQUESTS(&t->front);
}

static vm_event_response_t ring_take(struct test_ring *t)
{
    vm_event_response_t rsp;

    ck_assert(RING_HAS_UNCONSUMED_RESPONSES(&t->front));
    rsp = *RING_GET_RESPONSE(&t->front, t->front.rsp_cons);
    t->front.rsp_cons++;
    return rsp;
}

START_TEST(test_drain_answers_every_request)
{
    struct test_ring t;
    vm_event_response_t rsp;
    uint64_t gfns[16];
    unsigned nrsp = 99;
    int n;

    ring_setup(&t);
    ring_put(&t, VM_EVENT_REASON_MEM_ACCESS, 0, 0, 0x10);
    ring_put(&t, VM_EVENT_REASON_MEM_ACCESS, 1, VM_EVENT_FLAG_VCPU_PAUSED,
             0x11);
    ring_put(&t, VM_EVENT_REASON_MEM_PAGING, 2, VM_EVENT_FLAG_FOREIGN, 0x12);
    ring_put(&t, VM_EVENT_REASON_MEM_ACCESS, 3, 0, 0x13);

    n = xenshape__hv_xen_drain(&t.back, gfns, 16, &nrsp);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(nrsp, 4);
    ck_assert_uint_eq(gfns[0], 0x10);
    ck_assert_uint_eq(gfns[1], 0x11);
    ck_assert_uint_eq(gfns[2], 0x13);
    ck_assert_uint_eq(t.sring->rsp_prod, 4);

    rsp = ring_take(&t);
    ck_assert_uint_eq(rsp.version, VM_EVENT_INTERFACE_VERSION);
    ck_assert_uint_eq(rsp.vcpu_id, 0);
    ck_assert_uint_eq(rsp.flags, 0);
    rsp = ring_take(&t);
    ck_assert_uint_eq(rsp.vcpu_id, 1);
    ck_assert_uint_eq(rsp.flags, VM_EVENT_FLAG_VCPU_PAUSED);
    rsp = ring_take(&t);
    ck_assert_uint_eq(rsp.vcpu_id, 2);
    ck_assert_uint_eq(rsp.reason, VM_EVENT_REASON_MEM_PAGING);
    ck_assert_uint_eq(rsp.version, VM_EVENT_INTERFACE_VERSION);
    ck_assert_uint_eq(rsp.flags, 0);
    rsp = ring_take(&t);
    ck_assert_uint_eq(rsp.vcpu_id, 3);
    ck_assert(!RING_HAS_UNCONSUMED_RESPONSES(&t.front));

    /* An empty ring: nothing consumed, nothing answered. */
    n = xenshape__hv_xen_drain(&t.back, gfns, 16, &nrsp);
    ck_assert_int_eq(n, 0);
    ck_assert_uint_eq(nrsp, 0);
    ck_assert_uint_eq(t.sring->rsp_prod, 4);
    free(t.sring);
}
END_TEST

START_TEST(test_drain_stops_at_max)
{
    struct test_ring t;
    uint64_t gfns[8];
    unsigned nrsp, i;
    int n;

    ring_setup(&t);
    for (i = 0; i < 8; i++)
        ring_put(&t, VM_EVENT_REASON_MEM_ACCESS, i, 0, 0x100 + i);
    ck_assert(RING_FULL(&t.front));

    n = xenshape__hv_xen_drain(&t.back, gfns, 3, &nrsp);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(nrsp, 3);
    ck_assert_uint_eq(t.back.req_cons, 3);
    ck_assert_uint_eq(gfns[2], 0x102);

    /* Xen's front end gets its three slots back and can queue more. */
    for (i = 0; i < 3; i++)
        (void)ring_take(&t);
    ring_put(&t, VM_EVENT_REASON_MEM_ACCESS, 0, 0, 0x200);

    n = xenshape__hv_xen_drain(&t.back, gfns, 8, &nrsp);
    ck_assert_int_eq(n, 6);
    ck_assert_uint_eq(nrsp, 6);
    ck_assert_uint_eq(gfns[0], 0x103);
    ck_assert_uint_eq(gfns[5], 0x200);
    ck_assert_uint_eq(t.sring->rsp_prod, 9);

    /* max 0 consumes nothing. */
    ring_put(&t, VM_EVENT_REASON_MEM_ACCESS, 0, 0, 0x300);
    n = xenshape__hv_xen_drain(&t.back, gfns, 0, &nrsp);
    ck_assert_int_eq(n, 0);
    ck_assert_uint_eq(nrsp, 0);
    ck_assert_uint_eq(t.back.req_cons, 9);
    free(t.sring);
}
END_TEST

START_TEST(test_drain_refuses_corrupt_ring)
{
    struct test_ring t;
    uint64_t gfns[8];
    unsigned nrsp = 99;

    ring_setup(&t);
    t.sring->req_prod = 9; /* more requests than the ring has slots */
    ck_assert_int_eq(xenshape__hv_xen_drain(&t.back, gfns, 8, &nrsp), -EIO);
    ck_assert_uint_eq(nrsp, 0);
    ck_assert_uint_eq(t.back.req_cons, 0);
    ck_assert_uint_eq(t.sring->rsp_prod, 0);
    free(t.sring);
}
END_TEST

/* ---- log-dirty bitmaps ----------------------------------------------- */

static bool bit_of_bytes(const uint8_t *b, uint64_t i)
{
    return (b[i / 8] >> (i % 8)) & 1;
}

static bool bit_of_words(const uint64_t *w, uint64_t i)
{
    return (w[i / 64] >> (i % 64)) & 1;
}

START_TEST(test_bitmap_copy)
{
    static const uint64_t sizes[] = { 1, 7, 8, 9, 63, 64, 65, 100, 129, 500 };
    uint8_t src[80];
    uint64_t dst[10];
    unsigned s, i;

    for (i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 37 + 11);

    for (s = 0; s < XENSHAPE__ARRAY_SIZE(sizes); s++) {
        uint64_t nr = sizes[s], src_bits;

        /* Xen covered all nr gfns. */
        memset(dst, 0xff, sizeof(dst));
        xenshape__hv_xen_bitmap_copy(dst, nr, src, nr);
        for (i = 0; i < nr; i++)
            ck_assert_msg(bit_of_words(dst, i) == bit_of_bytes(src, i),
                          "nr %u bit %u", (unsigned)nr, i);
        for (; i < ((nr + 63) / 64) * 64; i++)
            ck_assert_msg(!bit_of_words(dst, i), "nr %u tail bit %u set",
                          (unsigned)nr, i);
        ck_assert_uint_eq(dst[(nr + 63) / 64], UINT64_MAX); /* untouched */

        /* Xen covered fewer (a smaller p2m): the rest reads clean. */
        src_bits = nr / 2;
        memset(dst, 0xff, sizeof(dst));
        xenshape__hv_xen_bitmap_copy(dst, nr, src, src_bits);
        for (i = 0; i < nr; i++)
            ck_assert_msg(bit_of_words(dst, i) ==
                          (i < src_bits && bit_of_bytes(src, i)),
                          "nr %u short bit %u", (unsigned)nr, i);
    }
}
END_TEST

/* ---- messages and knobs ---------------------------------------------- */

START_TEST(test_enable_hints)
{
    ck_assert_ptr_nonnull(strstr(xenshape__hv_xen_enable_hint(ENOSYS),
                                 "CONFIG_UNSUPPORTED=y CONFIG_MEM_PAGING=y"));
    ck_assert_ptr_nonnull(strstr(xenshape__hv_xen_enable_hint(EBUSY),
                                 "re-attach"));
    ck_assert_ptr_nonnull(strstr(xenshape__hv_xen_enable_hint(EXDEV),
                                 "populate-on-demand"));
    ck_assert_ptr_nonnull(strstr(xenshape__hv_xen_enable_hint(ENODEV),
                                 "HAP"));
    ck_assert_ptr_nonnull(strstr(xenshape__hv_xen_enable_hint(EMLINK),
                                 "passthrough"));
    ck_assert_ptr_nonnull(xenshape__hv_xen_enable_hint(12345));
}
END_TEST

START_TEST(test_hide_ring_env)
{
    unsetenv(XENSHAPE__HV_XEN_HIDE_RING_ENV);
    ck_assert(!xenshape__hv_xen_hide_ring_from_env());
    setenv(XENSHAPE__HV_XEN_HIDE_RING_ENV, "1", 1);
    ck_assert(xenshape__hv_xen_hide_ring_from_env());
    setenv(XENSHAPE__HV_XEN_HIDE_RING_ENV, "Yes", 1);
    ck_assert(xenshape__hv_xen_hide_ring_from_env());
    setenv(XENSHAPE__HV_XEN_HIDE_RING_ENV, "0", 1);
    ck_assert(!xenshape__hv_xen_hide_ring_from_env());
    setenv(XENSHAPE__HV_XEN_HIDE_RING_ENV, "", 1);
    ck_assert(!xenshape__hv_xen_hide_ring_from_env());
    unsetenv(XENSHAPE__HV_XEN_HIDE_RING_ENV);
}
END_TEST

static Suite *hv_xen_suite(void)
{
    Suite *s = suite_create("hv_xen");
    TCase *tc;

    tc = tcase_create("table");
    tcase_add_test(tc, test_ops_table);
    tcase_add_test(tc, test_null_handles);
    suite_add_tcase(s, tc);

    tc = tcase_create("open");
    tcase_add_test(tc, test_open_without_xen);
    tcase_add_test(tc, test_open_without_logger_is_silent);
    tcase_add_test(tc, test_open_out_of_memory);
    tcase_add_test(tc, test_open_bad_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_test(tc, test_dominfo);
    tcase_add_test(tc, test_response);
    tcase_add_test(tc, test_drain_answers_every_request);
    tcase_add_test(tc, test_drain_stops_at_max);
    tcase_add_test(tc, test_drain_refuses_corrupt_ring);
    tcase_add_test(tc, test_bitmap_copy);
    tcase_add_test(tc, test_enable_hints);
    tcase_add_test(tc, test_hide_ring_env);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hv_xen_suite());
    int failed;

    if (have_privcmd())
        fprintf(stderr, "check_hv_xen: /dev/xen/privcmd exists; skipping "
                "the assertions that need its absence\n");
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
