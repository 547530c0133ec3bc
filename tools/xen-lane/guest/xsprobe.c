/*
 * xsprobe.c - what a guest can do to xenshape's xenstore keys, tried from
 * inside the real-Xen lane's PVH guest (built with gcc -static by
 * tools/xen-lane/run.sh; not part of the normal build).
 *
 * A guest talks to xenstored through /dev/xen/xenbus, with the wire
 * protocol of xen/io/xs_wire.h: a 16-byte header (type, request id,
 * transaction id, length) and a payload.  That is all a hostile guest
 * kernel has too, so what xenstored refuses here it refuses to anyone in
 * the guest.  Each attempt prints one line on the console:
 *
 *     xsprobe op=read|write|dir path=P result=ok|EACCES|ENOENT|...
 *
 * and the lane's Dom0 script (dom0/scenarios.sh) compares them with what
 * the schema's permissions promise: a guest never writes policy, its own
 * or another VM's, not even with crafted values (a domid or a path where a
 * number belongs, an oversized value), never writes its status, never
 * reads another domain's status, never lists the policy tree; it may read
 * its own status.
 *
 * Configuration from the kernel command line (init's environment):
 * XSPROBE_OTHER=<domid> of another guest whose status to try, and
 * XSPROBE_OTHER_VM=<uuid> of that guest, whose policy to try.  It runs
 * before memverify when MEMVERIFY_XSPROBE=1 (memverify.c execs it).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* xs_wire.h, the few parts needed. */
enum { XS_DIRECTORY = 1, XS_READ = 2, XS_WRITE = 11, XS_ERROR = 16 };

struct xsd_sockmsg {
    uint32_t type;
    uint32_t req_id;
    uint32_t tx_id;
    uint32_t len;
};

#define PAYLOAD_MAX 4096

static int xs_fd = -1;
static uint32_t next_req = 1;

/* One request and its reply.  Returns 0 and the reply payload in out
 * (NUL-terminated), or the error name xenstored sent in err. */
static int xs_call(uint32_t type, const void *payload, uint32_t len,
                   char *out, size_t outlen, char *err, size_t errlen)
{
    struct xsd_sockmsg h = { type, next_req++, 0, len };
    char buf[sizeof(h) + PAYLOAD_MAX];
    ssize_t n;

    if (len > PAYLOAD_MAX) {
        snprintf(err, errlen, "E2BIG");
        return -1;
    }
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), payload, len);
    if (write(xs_fd, buf, sizeof(h) + len) != (ssize_t)(sizeof(h) + len)) {
        snprintf(err, errlen, "write:%s", strerror(errno));
        return -1;
    }
    /* The device hands out whole replies: header, then payload. */
    n = read(xs_fd, &h, sizeof(h));
    if (n != (ssize_t)sizeof(h) || h.len > PAYLOAD_MAX) {
        snprintf(err, errlen, "read:%s", n < 0 ? strerror(errno) : "short");
        return -1;
    }
    n = read(xs_fd, buf, h.len);
    if (n != (ssize_t)h.len) {
        snprintf(err, errlen, "read:short");
        return -1;
    }
    buf[h.len] = '\0';
    if (h.type == XS_ERROR) {
        snprintf(err, errlen, "%s", buf);
        return -1;
    }
    snprintf(out, outlen, "%s", buf);
    return 0;
}

static int xs_read(const char *path, char *out, size_t outlen, char *err,
                   size_t errlen)
{
    return xs_call(XS_READ, path, strlen(path) + 1, out, outlen, err,
                   errlen);
}

static void probe(const char *op, const char *path, const char *value)
{
    char payload[PAYLOAD_MAX], out[PAYLOAD_MAX], err[64];
    uint32_t len;
    int r;

    if (!strcmp(op, "write")) {
        len = (uint32_t)snprintf(payload, sizeof(payload), "%s", path) + 1;
        memcpy(payload + len, value, strlen(value));
        len += strlen(value);
        r = xs_call(XS_WRITE, payload, len, out, sizeof(out), err,
                    sizeof(err));
    } else if (!strcmp(op, "dir")) {
        r = xs_call(XS_DIRECTORY, path, strlen(path) + 1, out, sizeof(out),
                    err, sizeof(err));
    } else {
        r = xs_read(path, out, sizeof(out), err, sizeof(err));
    }
    printf("xsprobe op=%s path=%s result=%s\n", op, path, r ? err : "ok");
    fflush(stdout);
}

int main(void)
{
    char domid[32], vm[256], err[64], path[512];
    int i;
    const char *other = getenv("XSPROBE_OTHER");
    const char *other_vm = getenv("XSPROBE_OTHER_VM");

    xs_fd = open("/dev/xen/xenbus", O_RDWR);
    if (xs_fd < 0) {
        printf("xsprobe error=open:/dev/xen/xenbus:%s\n", strerror(errno));
        return 1;
    }
    /* Relative paths resolve under our own /local/domain/<domid>. */
    if (xs_read("domid", domid, sizeof(domid), err, sizeof(err)) ||
        xs_read("vm", vm, sizeof(vm), err, sizeof(err))) {
        printf("xsprobe error=%s reading domid and vm\n", err);
        return 1;
    }
    printf("xsprobe domid=%s vm=%s\n", domid, vm);

    /* The daemon writes our status within an interval or two of seeing
     * the domain; the probes below only mean something once it has (a
     * read of a node not there yet says ENOENT, not what the permissions
     * allow).  Wait for it, two minutes at most, then probe whatever is
     * there. */
    snprintf(path, sizeof(path), "/local/domain/%s/xenshape/state", domid);
    for (i = 0; i < 240; i++) {
        char out[PAYLOAD_MAX];

        if (!xs_read(path, out, sizeof(out), err, sizeof(err)))
            break;
        usleep(500000);
    }
    printf("xsprobe status_wait_ms=%d\n", i * 500);

    /* Our own policy, by UUID (vm is "/vm/<uuid>"). */
    if (!strncmp(vm, "/vm/", 4)) {
        snprintf(path, sizeof(path), "/xenshape/vm/%s/priority", vm + 4);
        probe("write", path, "1000");
        snprintf(path, sizeof(path), "/xenshape/vm/%s/pin", vm + 4);
        probe("write", path, "1");
        snprintf(path, sizeof(path), "/xenshape/vm/%s/priority", vm + 4);
        probe("read", path, NULL);
    }
    /* Crafted values in our own policy: a domid and a path where a
     * number belongs, and a value larger than any key of ours takes.
     * xenstored must refuse them before xenshaped could read them. */
    if (!strncmp(vm, "/vm/", 4)) {
        static char big[3000];

        snprintf(path, sizeof(path), "/xenshape/vm/%s/priority", vm + 4);
        if (other && *other) {
            char val[64];

            snprintf(val, sizeof(val), "%s", other);
            probe("write", path, val);
            snprintf(val, sizeof(val), "/local/domain/%s/xenshape/state",
                     other);
            probe("write", path, val);
        }
        memset(big, '9', sizeof(big) - 1);
        probe("write", path, big);
    }
    /* Another VM's policy, by its UUID (which a guest could learn). */
    if (other_vm && *other_vm) {
        snprintf(path, sizeof(path), "/xenshape/vm/%s/pin", other_vm);
        probe("write", path, "0");
        snprintf(path, sizeof(path), "/xenshape/vm/%s/priority", other_vm);
        probe("write", path, "1");
    }
    /* Every VM's policy, and the host's. */
    probe("dir", "/xenshape/vm", NULL);
    probe("write", "/xenshape/host/reserved", "0");
    /* Our own status: readable, not writable (both the node and a new
     * one beside it). */
    snprintf(path, sizeof(path), "/local/domain/%s/xenshape/state", domid);
    probe("read", path, NULL);
    probe("write", path, "pinned");
    snprintf(path, sizeof(path), "/local/domain/%s/xenshape/policy/pin",
             domid);
    probe("write", path, "1");
    /* Another domain's status. */
    if (other && *other) {
        snprintf(path, sizeof(path), "/local/domain/%s/xenshape/state",
                 other);
        probe("read", path, NULL);
        snprintf(path, sizeof(path), "/local/domain/%s/xenshape/decision",
                 other);
        probe("write", path, "x");
    }
    printf("xsprobe done\n");
    fflush(stdout);
    close(xs_fd);
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
