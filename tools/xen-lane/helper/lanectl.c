/*
 * lanectl.c - the real-Xen lane's view of a domain from the hypervisor,
 * independent of libxenshape: what Xen itself says, so the lane can hold
 * the daemon's own counters against it.  Built by tools/xen-lane/run.sh
 * against Debian's libxenctrl and run in the lane's Dom0; it is not part
 * of the normal build and not an operator tool.
 *
 *   lanectl info DOMID
 *       one line from XEN_DOMCTL_getdomaininfo:
 *       "domid=D tot=N max=N paged=N flags=0xF dying=0|1 shutdown=0|1
 *        reason=R crashed=0|1 paused=0|1 hap=0|1"
 *       (crashed is shutdown with reason SHUTDOWN_crash).
 *   lanectl probe DOMID
 *       whether mem_paging is enabled on the domain, found the only way
 *       4.17 allows: with the domain paused, try to enable it.  EBUSY
 *       means a ring is registered ("probe enabled=1"); success means it
 *       was not, and the ring is disabled again at once ("probe
 *       enabled=0"); any other error is printed as its errno name
 *       ("probe error=ENOSYS", the stock hypervisor's answer).
 *   lanectl observe DOMID
 *       whether access observation is left switched on, probed the same
 *       way with the domain paused: log-dirty (enabling it fails with
 *       EINVAL while it is on) and the monitor ring (EBUSY while one is
 *       registered); whatever the probe switched on is switched off
 *       again.  "observe logdirty=0|1|error=E monitor=0|1|error=E".
 *
 * Exit status: 0 when the line was printed, 1 on a failed hypercall
 * before that, 2 on bad usage.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>

static const char *errname(int e)
{
    switch (e) {
    case EBUSY: return "EBUSY";
    case ENOSYS: return "ENOSYS";
    case ENODEV: return "ENODEV";
    case EXDEV: return "EXDEV";
    case EMLINK: return "EMLINK";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ESRCH: return "ESRCH";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    default: return "other";
    }
}

static int get_info(xc_interface *xch, uint32_t domid,
                    xc_domaininfo_t *info_r)
{
    int r;

    r = xc_domain_getinfolist(xch, domid, 1, info_r);
    if (r != 1 || info_r->domain != domid) {
        fprintf(stderr, "lanectl: no domain %u\n", domid);
        return -1;
    }
    return 0;
}

static int cmd_info(xc_interface *xch, uint32_t domid)
{
    xc_domaininfo_t info;
    unsigned flags, shutdown, reason;

    if (get_info(xch, domid, &info))
        return 1;
    flags = info.flags;
    shutdown = !!(flags & XEN_DOMINF_shutdown);
    reason = (flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
    printf("domid=%u tot=%" PRIu64 " max=%" PRIu64 " paged=%" PRIu64
           " flags=0x%x dying=%d shutdown=%u reason=%u crashed=%d"
           " paused=%d hap=%d\n", domid, (uint64_t)info.tot_pages,
           (uint64_t)info.max_pages, (uint64_t)info.paged_pages, flags,
           !!(flags & XEN_DOMINF_dying), shutdown, reason,
           shutdown && reason == SHUTDOWN_crash,
           !!(flags & XEN_DOMINF_paused), !!(flags & XEN_DOMINF_hap));
    return 0;
}

static int cmd_probe(xc_interface *xch, uint32_t domid)
{
    uint32_t port = 0;
    int r, e, rc = 1;

    if (xc_domain_pause(xch, domid)) {
        fprintf(stderr, "lanectl: pause %u: %s\n", domid, strerror(errno));
        return 1;
    }
    r = xc_mem_paging_enable(xch, domid, &port);
    e = errno;
    if (!r) {
        if (xc_mem_paging_disable(xch, domid)) {
            fprintf(stderr, "lanectl: disable after probe: %s\n",
                    strerror(errno));
            goto out;
        }
        printf("probe enabled=0\n");
    } else if (e == EBUSY) {
        printf("probe enabled=1\n");
    } else {
        printf("probe error=%s\n", errname(e));
    }
    rc = 0;
 out:
    xc_domain_unpause(xch, domid);
    return rc;
}

static int cmd_observe(xc_interface *xch, uint32_t domid)
{
    uint32_t port = 0;
    void *ring;
    int r, e, rc = 1;

    if (xc_domain_pause(xch, domid)) {
        fprintf(stderr, "lanectl: pause %u: %s\n", domid, strerror(errno));
        return 1;
    }
    r = xc_shadow_control(xch, domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
                          NULL, 0);
    e = errno;
    if (r == 0) {
        if (xc_shadow_control(xch, domid, XEN_DOMCTL_SHADOW_OP_OFF,
                              NULL, 0)) {
            fprintf(stderr, "lanectl: log-dirty off after probe: %s\n",
                    strerror(errno));
            goto out;
        }
        printf("observe logdirty=0");
    } else if (e == EINVAL) {
        printf("observe logdirty=1");
    } else {
        printf("observe logdirty=error=%s", errname(e));
    }
    ring = xc_monitor_enable(xch, domid, &port);
    e = errno;
    if (ring) {
        munmap(ring, XC_PAGE_SIZE);
        if (xc_monitor_disable(xch, domid)) {
            fprintf(stderr, "\nlanectl: monitor off after probe: %s\n",
                    strerror(errno));
            goto out;
        }
        printf(" monitor=0\n");
    } else if (e == EBUSY) {
        printf(" monitor=1\n");
    } else {
        printf(" monitor=error=%s\n", errname(e));
    }
    rc = 0;
 out:
    xc_domain_unpause(xch, domid);
    return rc;
}

int main(int argc, char **argv)
{
    xc_interface *xch;
    unsigned long domid;
    char *end;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: lanectl info|probe|observe DOMID\n");
        return 2;
    }
    domid = strtoul(argv[2], &end, 10);
    if (*end || end == argv[2] || domid >= DOMID_FIRST_RESERVED) {
        fprintf(stderr, "lanectl: bad domid '%s'\n", argv[2]);
        return 2;
    }
    xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        fprintf(stderr, "lanectl: cannot open libxenctrl: %s\n",
                strerror(errno));
        return 1;
    }
    if (!strcmp(argv[1], "info")) {
        rc = cmd_info(xch, (uint32_t)domid);
    } else if (!strcmp(argv[1], "probe")) {
        rc = cmd_probe(xch, (uint32_t)domid);
    } else if (!strcmp(argv[1], "observe")) {
        rc = cmd_observe(xch, (uint32_t)domid);
    } else {
        fprintf(stderr, "usage: lanectl info|probe|observe DOMID\n");
        rc = 2;
    }
    xc_interface_close(xch);
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-file-style: "BSD"
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
