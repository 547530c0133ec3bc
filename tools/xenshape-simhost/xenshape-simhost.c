/*
 * xenshape-simhost - the simulated Xen host as a process of its own.
 *
 *   xenshape-simhost [--socket PATH] [--host-mib N | --host-frames N]
 *                    [--foreground]
 *       Runs a host with N MiB (or N frames) of guest RAM and serves its
 *       control socket until a SHUTDOWN request, SIGTERM or SIGINT.  Guests
 *       are created over the socket (CREATE); pagers attach to them through
 *       the "sim" backend of libxenshape.  The host never daemonizes (it is
 *       always in the foreground: --foreground is accepted and changes
 *       nothing) and keeps no pidfile; it logs to stderr.
 *
 *   xenshape-simhost ctl --socket PATH REQUEST...
 *       Sends one request (the words joined by blanks) and prints the
 *       reply.  Exit status 0 for "OK ...", 1 for "ERR ...", 2 for a usage
 *       or connection error.
 *
 *   xenshape-simhost kv-read|kv-write|kv-rm|kv-ls --socket PATH
 *                    [--domid N] ARGS...
 *       The host's xenstore, as xenstore-read, -write, -rm and -ls would
 *       use a real one: through libxenshape's "sim" kv backend, as Dom0 or
 *       (--domid) as a guest.  kv-write takes PATH VALUE pairs and writes
 *       them in one transaction, as cloud control would write a policy.
 *       Exit status 0, 1 if the store refused, 2 for a usage or connection
 *       error.
 *
 * docs/simhost.md describes the requests and what the host models.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xenshape.h>
#include <xentoollog.h>

#include "kv/kv.h"
#include "sim/sim.h"

#define PROG "xenshape-simhost"
#define DEFAULT_SOCKET "/run/xenshape/simhost.sock"
#define DEFAULT_MIB 1024

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [--socket PATH] [--host-mib N | --host-frames N]"
            " [--foreground]\n"
            "       " PROG " ctl --socket PATH REQUEST...\n"
            "\n"
            "Runs a simulated Xen host serving PATH (default %s) with N MiB\n"
            "of guest RAM (default %d MiB), or sends one request to one.\n"
            "Requests: HELLO, OPEN, CREATE name=.. frames=.. vcpus=..\n"
            "workload=.. seed=.., DESTROY, WORKLOAD, STATS, VERIFY, LIST,\n"
            "HOST, BALLOON, TOUCH, PAUSE, UNPAUSE, SHUTDOWN, KV* (see\n"
            "docs/simhost.md).\n"
            "       " PROG " kv-read [--socket PATH] [--domid N] PATH...\n"
            "       " PROG " kv-write [--socket PATH] [--domid N] PATH VALUE"
            "...\n"
            "       " PROG " kv-rm [--socket PATH] [--domid N] PATH...\n"
            "       " PROG " kv-ls [--socket PATH] [--domid N] PATH\n"
            "The host's xenstore, as Dom0 or as domain N.\n",
            DEFAULT_SOCKET, DEFAULT_MIB);
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    va_list ap;

    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s " PROG "[%d]: ", stamp, (int)getpid());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int parse_count(const char *opt, const char *s, uint64_t max,
                       uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v == 0 || v > max) {
        fprintf(stderr, PROG ": bad value '%s' for %s (a number from 1 to "
                "%llu)\n", s, opt, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

/* mkdir -p of the socket's directory, so the default path just works. */
static void make_parent(const char *path)
{
    char dir[PATH_MAX], *p;

    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return;
    p = strrchr(dir, '/');
    if (!p || p == dir)
        return;
    *p = '\0';
    for (p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
}

static int main_ctl(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *sock = DEFAULT_SOCKET;
    char req[4096], reply[16384];
    size_t used = 0;
    int c, i, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, PROG " ctl: missing REQUEST\n");
        usage(stderr);
        return 2;
    }
    req[0] = '\0';
    for (i = optind; i < argc; i++) {
        int n = snprintf(req + used, sizeof(req) - used, "%s%s",
                         i > optind ? " " : "", argv[i]);

        if (n < 0 || (size_t)n >= sizeof(req) - used) {
            fprintf(stderr, PROG " ctl: request too long\n");
            return 2;
        }
        used += (size_t)n;
    }
    r = xenshape__sim_ctl(sock, req, reply, sizeof(reply));
    if (!reply[0]) {
        fprintf(stderr, PROG " ctl: cannot talk to the host at %s: %s\n",
                sock, strerror(r < 0 ? -r : EIO));
        return 2;
    }
    printf("%s\n", reply);
    return r ? 1 : 0;
}


/* ---- the host's xenstore ------------------------------------------------ */

struct kv_pairs {
    char **args;
    int n;
};

static int kv_write_txn(xenshape__kv_handle *h, xenshape__kv_txn t,
                        void *arg)
{
    struct kv_pairs *p = arg;
    int i, r;

    for (i = 0; i + 1 < p->n; i += 2) {
        r = xenshape__kv_write_str(h, t, p->args[i], p->args[i + 1]);
        if (r < 0) {
            fprintf(stderr, PROG " kv-write: %s: %s\n", p->args[i],
                    strerror(-r));
            return r;
        }
    }
    return 0;
}

static int kv_rm_txn(xenshape__kv_handle *h, xenshape__kv_txn t, void *arg)
{
    struct kv_pairs *p = arg;
    int i, r;

    for (i = 0; i < p->n; i++) {
        r = xenshape__kv_rm(h, t, p->args[i]);
        if (r < 0) {
            fprintf(stderr, PROG " kv-rm: %s: %s\n", p->args[i],
                    strerror(-r));
            return r;
        }
    }
    return 0;
}

static int kv_read(xenshape__kv_handle *h, char **args, int n)
{
    char *val = NULL;
    size_t len = 0;
    int i, r;

    for (i = 0; i < n; i++) {
        r = xenshape__kv_read(h, XENSHAPE__KV_NO_TXN, args[i], &val, &len);
        if (r < 0) {
            fprintf(stderr, PROG " kv-read: %s: %s\n", args[i],
                    strerror(-r));
            return 1;
        }
        fwrite(val, 1, len, stdout);
        putchar('\n');
        free(val);
    }
    return 0;
}

static int kv_write(xenshape__kv_handle *h, char **args, int n)
{
    struct kv_pairs p = { args, n };

    if (n % 2) {
        fprintf(stderr, PROG " kv-write: want PATH VALUE pairs\n");
        return 2;
    }
    return xenshape__kv_transact(h, kv_write_txn, &p) < 0 ? 1 : 0;
}

static int kv_rm(xenshape__kv_handle *h, char **args, int n)
{
    struct kv_pairs p = { args, n };

    return xenshape__kv_transact(h, kv_rm_txn, &p) < 0 ? 1 : 0;
}

static int kv_ls(xenshape__kv_handle *h, char **args, int n)
{
    char **names = NULL;
    unsigned nr = 0, i;
    int r;

    if (n != 1) {
        fprintf(stderr, PROG " kv-ls: want one PATH\n");
        return 2;
    }
    r = xenshape__kv_directory(h, XENSHAPE__KV_NO_TXN, args[0], &names,
                               &nr);
    if (r < 0) {
        fprintf(stderr, PROG " kv-ls: %s: %s\n", args[0], strerror(-r));
        return 1;
    }
    for (i = 0; i < nr; i++)
        printf("%s\n", names[i]);
    xenshape__kv_free_list(names);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(xenshape__kv_handle *h, char **args, int n);
} kv_cmds[] = {
    { "kv-read", kv_read },
    { "kv-write", kv_write },
    { "kv-rm", kv_rm },
    { "kv-ls", kv_ls },
};

static int main_kv(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "domid", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    xenshape__kv_handle *h = NULL;
    const char *sock = DEFAULT_SOCKET;
    char arg[PATH_MAX + 32];
    uint64_t domid = 0;
    bool guest = false;
    size_t k;
    int c, r;

    for (k = 0; k < sizeof(kv_cmds) / sizeof(kv_cmds[0]); k++)
        if (!strcmp(argv[0], kv_cmds[k].name))
            break;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+s:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'd':
            if (parse_count("--domid", optarg, 0x7fef, &domid))
                return 2;
            guest = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, PROG " %s: missing PATH\n", argv[0]);
        usage(stderr);
        return 2;
    }
    if (guest)
        snprintf(arg, sizeof(arg), "%s,domid=%llu", sock,
                 (unsigned long long)domid);
    else
        snprintf(arg, sizeof(arg), "%s", sock);
    r = xenshape__kv_open(&h, "sim", arg, NULL);
    if (r) {
        fprintf(stderr, PROG " %s: cannot open the xenstore of the host at "
                "%s%s: %s\n", argv[0], sock, guest ? " as a guest" : "",
                xenshape_strerror(r));
        return 2;
    }
    r = kv_cmds[k].fn(h, argv + optind, argc - optind);
    xenshape__kv_close(h);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "host-mib", required_argument, NULL, 'm' },
        { "host-frames", required_argument, NULL, 'f' },
        { "foreground", no_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    xentoollog_logger_stdiostream *lg = NULL;
    xenshape__sim_host *h = NULL;
    const char *sock = DEFAULT_SOCKET;
    uint64_t frames = (uint64_t)DEFAULT_MIB * 256, v;
    bool have_size = false;
    struct timespec tick = { 0, 200 * 1000 * 1000 };
    sigset_t set;
    int c, r, sig = 0;

    if (argc > 1 && !strcmp(argv[1], "ctl"))
        return main_ctl(argc - 1, argv + 1);
    if (argc > 1 && !strncmp(argv[1], "kv-", 3)) {
        size_t k;

        for (k = 0; k < sizeof(kv_cmds) / sizeof(kv_cmds[0]); k++)
            if (!strcmp(argv[1], kv_cmds[k].name))
                return main_kv(argc - 1, argv + 1);
        fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    while ((c = getopt_long(argc, argv, "s:m:f:Fh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock = optarg;
            break;
        case 'm':
        case 'f':
            if (have_size) {
                fprintf(stderr, PROG ": give only one of --host-mib and "
                        "--host-frames\n");
                return 2;
            }
            if (parse_count(c == 'm' ? "--host-mib" : "--host-frames",
                            optarg, c == 'm' ? (1ull << 28) : (1ull << 36),
                            &v))
                return 2;
            frames = c == 'm' ? v * 256 : v;
            have_size = true;
            break;
        case 'F':
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    /* Signals are taken synchronously by the main thread; every thread
     * the host starts inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    r = xenshape__sim_host_new(&h, frames);
    if (r) {
        logmsg("cannot create a host of %llu frames: %s",
               (unsigned long long)frames, strerror(-r));
        return 1;
    }
    lg = xtl_createlogger_stdiostream(stderr, XTL_INFO,
                                      XTL_STDIOSTREAM_SHOW_DATE |
                                      XTL_STDIOSTREAM_HIDE_PROGRESS);
    xenshape__sim_host_set_logger(h, (xentoollog_logger *)lg);
    make_parent(sock);
    r = xenshape__sim_host_listen(h, sock);
    if (r) {
        logmsg("cannot serve %s: %s", sock, strerror(-r));
        xenshape__sim_host_free(h);
        if (lg)
            xtl_logger_destroy((xentoollog_logger *)lg);
        return 1;
    }
    logmsg("host of %llu frames (%llu MiB) serving %s",
           (unsigned long long)frames, (unsigned long long)(frames / 256),
           sock);
    for (;;) {
        sig = sigtimedwait(&set, NULL, &tick);
        if (sig > 0 && sig != SIGHUP)
            break;
        if (xenshape__sim_host_wait_shutdown(h, 0)) {
            sig = 0;
            break;
        }
    }
    if (sig > 0)
        logmsg("%s: shutting down", strsignal(sig));
    else
        logmsg("SHUTDOWN requested: shutting down");
    xenshape__sim_host_free(h);
    if (lg)
        xtl_logger_destroy((xentoollog_logger *)lg);
    logmsg("stopped");
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
