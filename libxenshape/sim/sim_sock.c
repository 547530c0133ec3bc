/*
 * sim_sock.c - the simulated host's control socket: a SOCK_SEQPACKET unix
 * socket carrying one text request per packet and one text reply, with
 * file descriptors (the host's and the domains' memfds, a domain's
 * eventfd) passed by SCM_RIGHTS.  docs/simhost.md is the reference for
 * the requests.
 *
 * The socket is how another process finds the host, the way Dom0 opens
 * /dev/xen/privcmd: after HELLO and OPEN a pager's hypercalls run on the
 * shared memory without talking to the host at all.  The connection
 * stays open for the pager's lifetime so that the host learns when it
 * dies (the kernel closes the socket) and can drop its foreign mappings
 * and its event-channel binding, as Linux and Xen would.
 *
 * One thread per connection, so a slow request (CREATE of a big guest, a
 * TOUCH that blocks on a paged frame) holds up only its own client.
 *
 * KV* requests go to the host's xenstore (sim_kv.c), which keeps one
 * client per connection: its identity (KVOPEN), watches and
 * transactions, gone with the connection.  A connection that sends
 * KVEVENTS stops taking requests and from then on carries another
 * connection's watch events, so that a client has a descriptor to poll.
 */

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "private.h"
#include "sim/sim_host.h"
#include "sim/sim_kv.h"

/* A KVWRITE of the longest path and the largest value must fit. */
#define REQ_MAX   XENSHAPE__SIM_KV_MSG_MAX
#define REPLY_MAX XENSHAPE__SIM_KV_MSG_MAX
#define MAX_FDS   4

struct xenshape__sim_conn {
    struct xenshape__sim_conn *next;
    xenshape__sim_host *h;
    int fd;
    int client;                      /* after HELLO, else -1 */
    pid_t pid;
    pthread_t th;
    _Atomic bool done;
    struct xenshape__sim_kv_client *kv;  /* after its first KV request */
};

/* ---- errno names --------------------------------------------------------- */

#define ERRNO_NAMES(X) \
    X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(E2BIG) X(EBADF)        \
    X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(EBUSY) X(EEXIST) X(ENODEV) \
    X(EINVAL) X(EMFILE) X(ENOSPC) X(ENOSYS) X(ENAMETOOLONG) X(EPROTO)    \
    X(EOVERFLOW) X(EMSGSIZE) X(EOPNOTSUPP) X(EADDRINUSE) X(ECONNRESET)   \
    X(ECONNREFUSED) X(ESHUTDOWN) X(ETIMEDOUT) X(ECANCELED) X(EXDEV)      \
    X(EMLINK) X(ENOTCONN)

static const struct {
    int value;
    const char *name;
} errno_names[] = {
#define ERRNO_ENTRY(e) { e, #e },
    ERRNO_NAMES(ERRNO_ENTRY)
#undef ERRNO_ENTRY
};

const char *xenshape__sim_errno_name(int err)
{
    size_t i;

    if (err < 0)
        err = -err;
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(errno_names); i++)
        if (errno_names[i].value == err)
            return errno_names[i].name;
    return "EIO";
}

int xenshape__sim_errno_value(const char *name)
{
    size_t i;

    for (i = 0; i < XENSHAPE__ARRAY_SIZE(errno_names); i++)
        if (!strcmp(errno_names[i].name, name))
            return errno_names[i].value;
    return 0;
}

/* ---- message transport ----------------------------------------------------- */

static int send_msg(int sock, const char *text, const int *fds,
                    unsigned nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov = { (void *)text, strlen(text) };
    struct msghdr mh;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds) {
        struct cmsghdr *c;

        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* Receive one packet into buf (NUL-terminated); descriptors into fds. */
static ssize_t recv_msg(int sock, char *buf, size_t len, int *fds,
                        unsigned *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov = { buf, len - 1 };
    struct msghdr mh;
    struct cmsghdr *c;
    unsigned got = 0, want = nfds ? *nfds : 0;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    buf[n] = '\0';
    for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        size_t i, k;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < k; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (got < want)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    if (nfds)
        *nfds = got;
    return n;
}

int xenshape__sim_sock_connect(const char *path, int *fd_r)
{
    struct sockaddr_un sa;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    *fd_r = fd;
    return 0;
}

int xenshape__sim_sock_call(int sock, const char *req, char *reply,
                            size_t len, int *fds, unsigned *nfds)
{
    char *buf;
    ssize_t n;
    int r;

    if (strlen(req) >= REQ_MAX)
        return -EMSGSIZE;
    buf = xenshape__malloc(REPLY_MAX);
    if (!buf)
        return -ENOMEM;
    r = send_msg(sock, req, NULL, 0);
    if (r)
        goto out;
    n = recv_msg(sock, buf, REPLY_MAX, fds, nfds);
    if (n < 0) {
        r = (int)n;
        goto out;
    }
    if (n == 0) {
        r = -ECONNRESET;
        goto out;
    }
    if (reply && len)
        snprintf(reply, len, "%s", buf);
    r = 0;
 out:
    free(buf);
    return r;
}

int xenshape__sim_ctl(const char *socket_path, const char *request,
                      char *reply, size_t reply_len)
{
    char buf[REPLY_MAX];
    char name[32];
    int sock = -1, r, e;

    if (reply && reply_len)
        reply[0] = '\0';
    r = xenshape__sim_sock_connect(socket_path, &sock);
    if (r)
        goto out;
    r = xenshape__sim_sock_call(sock, request, buf, sizeof(buf), NULL, NULL);
    if (r)
        goto out;
    if (reply && reply_len)
        snprintf(reply, reply_len, "%s", buf);
    if (!strncmp(buf, "OK", 2) && (!buf[2] || isspace((unsigned char)buf[2]))) {
        r = 0;
    } else if (sscanf(buf, "ERR %31s", name) == 1 &&
               (e = xenshape__sim_errno_value(name))) {
        r = -e;
    } else {
        r = -EPROTO;
    }
 out:
    if (sock >= 0)
        close(sock);
    return r;
}

/* ---- request handlers ------------------------------------------------------ */

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;

    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno || *end ? -EINVAL : 0;
}

static int parse_domid(const char *s, uint32_t *domid)
{
    uint64_t v;

    if (parse_u64(s, &v) || v > 0x7fef)
        return -EINVAL;
    *domid = (uint32_t)v;
    return 0;
}

static int fail(char *reply, size_t len, int r, const char *what)
{
    snprintf(reply, len, "ERR %s %s%s%s", xenshape__sim_errno_name(r),
             what ? what : "", what ? ": " : "", strerror(r < 0 ? -r : r));
    return r;
}

static int do_create(xenshape__sim_host *h, char **argv, int argc,
                     char *reply, size_t len)
{
    xenshape__sim_dom_params p;
    uint64_t v;
    uint32_t domid;
    int i, r;

    memset(&p, 0, sizeof(p));
    p.vcpus = 1;
    p.seed = 1;
    for (i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (!eq)
            return fail(reply, len, -EINVAL, argv[i]);
        *eq++ = '\0';
        if (!strcmp(argv[i], "name")) {
            p.name = eq;
        } else if (!strcmp(argv[i], "workload")) {
            p.workload = eq;
        } else if (!strcmp(argv[i], "frames")) {
            if (parse_u64(eq, &p.frames))
                return fail(reply, len, -EINVAL, "frames");
        } else if (!strcmp(argv[i], "vcpus")) {
            if (parse_u64(eq, &v) || v > XENSHAPE__SIM_MAX_VCPUS)
                return fail(reply, len, -EINVAL, "vcpus");
            p.vcpus = (unsigned)v;
        } else if (!strcmp(argv[i], "seed")) {
            if (parse_u64(eq, &p.seed))
                return fail(reply, len, -EINVAL, "seed");
        } else {
            return fail(reply, len, -EINVAL, argv[i]);
        }
    }
    if (!p.frames)
        return fail(reply, len, -EINVAL, "frames= is required");
    r = xenshape__sim_dom_create(h, &p, &domid);
    if (r)
        return fail(reply, len, r, "create");
    snprintf(reply, len, "OK domid=%u", domid);
    return 0;
}

static int do_pause(xenshape__sim_host *h, uint32_t domid, bool pause)
{
    struct xenshape__sim_dom *d;
    int r;

    d = xenshape__sim_dom_get(h, domid);
    if (!d)
        return -ESRCH;
    r = pause ? xenshape__sim_op_pause(&d->v) : xenshape__sim_op_unpause(&d->v);
    xenshape__sim_dom_put(d);
    return r;
}

/*
 * Handle one request.  argv is the request split at blanks (modified in
 * place).  fds/nfds: descriptors to send with the reply.
 */
static void handle(struct xenshape__sim_conn *c, char **argv, int argc,
                   char *reply, size_t len, int *fds, unsigned *nfds,
                   struct xenshape__sim_kv_client **events_r)
{
    xenshape__sim_host *h = c->h;
    const char *cmd = argv[0];
    uint32_t domid = 0;
    uint64_t a, b;
    int r;

    static const char *const with_domid[] = {
        "OPEN", "DESTROY", "WORKLOAD", "STATS", "VERIFY", "BALLOON",
        "TOUCH", "PAUSE", "UNPAUSE",
    };
    size_t i;

    *nfds = 0;
    if (!strncasecmp(cmd, "KV", 2)) {
        xenshape__sim_kv_handle(h->kv, &c->kv, events_r, argv, argc, reply,
                                len);
        return;
    }
    for (i = 0; i < XENSHAPE__ARRAY_SIZE(with_domid); i++)
        if (!strcasecmp(cmd, with_domid[i]))
            break;
    if (i < XENSHAPE__ARRAY_SIZE(with_domid) &&
        (argc < 2 || parse_domid(argv[1], &domid))) {
        fail(reply, len, -EINVAL, "expected a domid");
        return;
    }

    if (!strcasecmp(cmd, "HELLO")) {
        if (c->client < 0) {
            r = xenshape__sim_host_client_attach(h, c->pid, &c->client);
            if (r) {
                fail(reply, len, r, "too many clients");
                return;
            }
        }
        r = xenshape__sim_host_dup_fd(h);
        if (r < 0) {
            fail(reply, len, r, "dup");
            return;
        }
        fds[0] = r;
        *nfds = 1;
        snprintf(reply, len, "OK version=%u client=%d total_frames=%llu",
                 XENSHAPE__SIM_SHM_VERSION, c->client,
                 (unsigned long long)h->hdr->total_frames);
    } else if (!strcasecmp(cmd, "OPEN")) {
        r = xenshape__sim_host_open_dom(h, domid, &fds[0], &fds[1]);
        if (r) {
            fail(reply, len, r, "open");
            return;
        }
        *nfds = 2;
        snprintf(reply, len, "OK domid=%u", domid);
    } else if (!strcasecmp(cmd, "CREATE")) {
        do_create(h, argv, argc, reply, len);
    } else if (!strcasecmp(cmd, "DESTROY")) {
        r = xenshape__sim_dom_destroy(h, domid);
        if (r)
            fail(reply, len, r, "destroy");
        else
            snprintf(reply, len, "OK");
    } else if (!strcasecmp(cmd, "WORKLOAD")) {
        r = argc == 3 ? xenshape__sim_dom_workload(h, domid, argv[2])
                      : -EINVAL;
        if (r)
            fail(reply, len, r, "workload");
        else
            snprintf(reply, len, "OK");
    } else if (!strcasecmp(cmd, "STATS")) {
        r = xenshape__sim_dom_stats_text(h, domid, reply + 3, len - 3);
        if (r)
            fail(reply, len, r, "stats");
        else
            memcpy(reply, "OK ", 3);
    } else if (!strcasecmp(cmd, "VERIFY")) {
        xenshape__sim_verify v;

        r = xenshape__sim_dom_verify(h, domid, &v);
        if (r)
            fail(reply, len, r, "verify");
        else
            snprintf(reply, len, "OK checked=%llu wrong=%llu paged=%llu",
                     (unsigned long long)v.checked,
                     (unsigned long long)v.wrong,
                     (unsigned long long)v.paged);
    } else if (!strcasecmp(cmd, "LIST")) {
        r = xenshape__sim_host_list_text(h, reply + 3, len - 3);
        if (r)
            fail(reply, len, r, "list");
        else
            memcpy(reply, "OK ", 3);
    } else if (!strcasecmp(cmd, "HOST")) {
        unsigned n = 0;

        for (i = 0; i < XENSHAPE__SIM_MAX_DOMS; i++)
            if (atomic_load(&h->hdr->dir[i].state) ==
                XENSHAPE__SIM_DIR_LIVE)
                n++;
        snprintf(reply, len, "OK total_frames=%llu free_frames=%llu "
                 "domains=%u",
                 (unsigned long long)h->hdr->total_frames,
                 (unsigned long long)xenshape__sim_free_frames(h->hdr), n);
    } else if (!strcasecmp(cmd, "BALLOON")) {
        a = 0;
        r = argc >= 3 && argc <= 4 && !parse_u64(argv[2], &b) &&
            (argc == 3 || !parse_u64(argv[3], &a)) ? 0 : -EINVAL;
        if (!r)
            r = xenshape__sim_dom_balloon(h, domid, (unsigned)a, b);
        if (r)
            fail(reply, len, r, "balloon");
        else
            snprintf(reply, len, "OK");
    } else if (!strcasecmp(cmd, "TOUCH")) {
        bool w = argc == 5 && (argv[4][0] == 'W' || argv[4][0] == 'w');

        r = argc >= 4 && argc <= 5 && !parse_u64(argv[2], &a) &&
            !parse_u64(argv[3], &b) ? 0 : -EINVAL;
        if (!r)
            r = xenshape__sim_dom_touch(h, domid, (unsigned)a, b, w);
        if (r)
            fail(reply, len, r, "touch");
        else
            snprintf(reply, len, "OK");
    } else if (!strcasecmp(cmd, "PAUSE") || !strcasecmp(cmd, "UNPAUSE")) {
        r = do_pause(h, domid, !strcasecmp(cmd, "PAUSE"));
        if (r)
            fail(reply, len, r, cmd);
        else
            snprintf(reply, len, "OK");
    } else if (!strcasecmp(cmd, "SHUTDOWN")) {
        /* Requested by conn_main() once this reply is sent: the host's
         * owner tears down every connection as soon as it sees it. */
        snprintf(reply, len, "OK");
    } else {
        snprintf(reply, len, "ERR EINVAL unknown request '%s'", cmd);
    }
}

static void *conn_main(void *arg)
{
    struct xenshape__sim_conn *c = arg;
    struct xenshape__sim_kv_client *events = NULL;
    char *req = NULL, *reply = NULL;

    req = xenshape__malloc(REQ_MAX + 1);
    reply = xenshape__malloc(REPLY_MAX);
    while (req && reply && !events) {
        char *argv[64], *save = NULL, *tok, logreq[96];
        int fds[MAX_FDS], argc = 0;
        unsigned nfds = 0, i;
        ssize_t n;

        n = recv_msg(c->fd, req, REQ_MAX + 1, NULL, NULL);
        if (n <= 0)
            break;
        snprintf(logreq, sizeof(logreq), "%s", req);
        for (tok = strtok_r(req, " \t\r\n", &save);
             tok && argc < (int)XENSHAPE__ARRAY_SIZE(argv);
             tok = strtok_r(NULL, " \t\r\n", &save))
            argv[argc++] = tok;
        if (!argc) {
            snprintf(reply, REPLY_MAX, "ERR EINVAL empty request");
        } else if (tok) {
            /* Words past argv would be dropped silently otherwise. */
            snprintf(reply, REPLY_MAX, "ERR E2BIG more than %zu words",
                     XENSHAPE__ARRAY_SIZE(argv));
        } else {
            bool quiet = !strcasecmp(argv[0], "STATS") ||
                !strcasecmp(argv[0], "HOST") || !strcasecmp(argv[0], "LIST");
            /* xenstore traffic is steady and mostly reads: debug only. */
            bool kv = !strncasecmp(argv[0], "KV", 2);

            handle(c, argv, argc, reply, REPLY_MAX, fds, &nfds, &events);
            /* Polling requests are logged only when they fail. */
            if (kv)
                XSLOG(c->h->lg, DEBUG, -1, "client pid %d: %s -> %.200s",
                      (int)c->pid, logreq, reply);
            else if (!quiet || strncmp(reply, "OK", 2))
                XSLOG(c->h->lg, INFO, -1, "client pid %d: %s -> %.200s",
                      (int)c->pid, logreq, reply);
        }
        send_msg(c->fd, reply, fds, nfds);
        for (i = 0; i < nfds; i++)
            close(fds[i]);
        if (argc && !strcasecmp(argv[0], "SHUTDOWN"))
            xenshape__sim_host_request_shutdown(c->h);
    }
    free(req);
    free(reply);
    /* KVEVENTS: this connection now carries another one's events, until
     * either ends or the host stops. */
    if (events)
        xenshape__sim_kv_events_serve(events, c->fd);
    xenshape__sim_kv_client_close(c->kv);
    c->kv = NULL;
    /* The process went away or closed the socket: whatever it mapped and
     * bound goes with it. */
    if (c->client >= 0) {
        XSLOG(c->h->lg, INFO, -1, "client pid %d gone: releasing its "
              "mappings and event channels", (int)c->pid);
        xenshape__sim_host_client_detach(c->h, c->client);
    }
    pthread_mutex_lock(&c->h->conn_lock);
    close(c->fd);
    c->fd = -1;
    pthread_mutex_unlock(&c->h->conn_lock);
    atomic_store(&c->done, true);
    return NULL;
}

/* Join connections that ended.  conn_lock held. */
static void reap(xenshape__sim_host *h)
{
    struct xenshape__sim_conn **pp = &h->conns, *c;

    while ((c = *pp)) {
        if (atomic_load(&c->done)) {
            *pp = c->next;
            pthread_join(c->th, NULL);
            free(c);
        } else {
            pp = &c->next;
        }
    }
}

static void *listener_main(void *arg)
{
    xenshape__sim_host *h = arg;

    for (;;) {
        struct pollfd pf[2] = { { h->listen_fd, POLLIN, 0 },
                                { h->wake_fd, POLLIN, 0 } };
        struct xenshape__sim_conn *c;
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        int fd;

        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents || atomic_load(&h->stopping))
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        c = xenshape__calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->h = h;
        c->fd = fd;
        c->client = -1;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
            c->pid = cred.pid;
        pthread_mutex_lock(&h->conn_lock);
        reap(h);
        if (pthread_create(&c->th, NULL, conn_main, c)) {
            pthread_mutex_unlock(&h->conn_lock);
            close(fd);
            free(c);
            continue;
        }
        c->next = h->conns;
        h->conns = c;
        pthread_mutex_unlock(&h->conn_lock);
    }
    return NULL;
}

int xenshape__sim_host_listen(xenshape__sim_host *h, const char *path)
{
    struct sockaddr_un sa;
    int fd = -1, probe = -1, r;
    bool bound = false;

    if (h->listening)
        return -EBUSY;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EADDRINUSE) {
            r = -errno;
            goto out;
        }
        /* A socket file nobody listens on is left over: replace it. */
        r = xenshape__sim_sock_connect(path, &probe);
        if (r != -ECONNREFUSED) {
            r = -EADDRINUSE;
            goto out;
        }
        unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            r = -errno;
            goto out;
        }
    }
    bound = true;
    if (listen(fd, 64) < 0) {
        r = -errno;
        goto out;
    }
    h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    h->sock_path = xenshape__strdup(path);
    if (h->wake_fd < 0 || !h->sock_path) {
        r = h->wake_fd < 0 ? -errno : -ENOMEM;
        goto out;
    }
    h->listen_fd = fd;
    r = -pthread_create(&h->listener, NULL, listener_main, h);
    if (r) {
        h->listen_fd = -1;
        goto out;
    }
    fd = -1;
    h->listening = true;
    r = 0;
 out:
    if (r && bound)
        unlink(path);
    if (r && h->wake_fd >= 0) {
        close(h->wake_fd);
        h->wake_fd = -1;
    }
    if (r) {
        free(h->sock_path);
        h->sock_path = NULL;
    }
    if (probe >= 0)
        close(probe);
    if (fd >= 0)
        close(fd);
    return r;
}

void xenshape__sim_sock_stop(xenshape__sim_host *h)
{
    struct xenshape__sim_conn *c;
    uint64_t one = 1;
    ssize_t n;

    if (!h->listening)
        return;
    n = write(h->wake_fd, &one, sizeof(one));
    (void)n;
    pthread_join(h->listener, NULL);
    close(h->listen_fd);
    h->listen_fd = -1;
    unlink(h->sock_path);
    pthread_mutex_lock(&h->conn_lock);
    for (c = h->conns; c; c = c->next)
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&h->conn_lock);
}

void xenshape__sim_sock_join(xenshape__sim_host *h)
{
    struct xenshape__sim_conn *c, *next;

    if (!h->listening)
        return;
    pthread_mutex_lock(&h->conn_lock);
    c = h->conns;
    h->conns = NULL;
    pthread_mutex_unlock(&h->conn_lock);
    for (; c; c = next) {
        next = c->next;
        pthread_join(c->th, NULL);
        free(c);
    }
    close(h->wake_fd);
    h->wake_fd = -1;
    free(h->sock_path);
    h->sock_path = NULL;
    h->listening = false;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
