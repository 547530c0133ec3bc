/*
 * kv_sim.c - the xenstore backend for the simulated host: its store
 * (sim/sim_kv.c) reached through the host's control socket, the way the
 * hv_sim backend reaches its hypervisor.  The argument is the socket's
 * path, optionally followed by ",domid=N" to speak as domain N rather
 * than Dom0: the store then applies N's permissions and quotas, which is
 * how tests show that a guest can neither write policy nor read another
 * domain's status.
 *
 * A handle holds two connections.  The first carries requests and their
 * replies (KVOPEN first, which names the store's client and its domain).
 * The second is turned, by KVEVENTS, into a stream of that client's watch
 * events, one "EVENT <path> <token>" packet each: it is the descriptor
 * callers poll, and read_watch takes packets off it without blocking.
 * Requests and replies escape paths, values and tokens as sim_kv.h says,
 * so a value may hold any byte.
 *
 * Errors are the store's errno, negated, as kv.h promises (the reply's
 * "ERR <NAME>"); a dead host shows as the socket's own error
 * (-ECONNRESET, -EPIPE) and a reply that makes no sense as -EPROTO.
 * Like libxenstore opened with XS_UNWATCH_FILTER, no event of a watch
 * comes out of read_watch once unwatch has returned: the host drops what
 * it still queued, and events already on the socket are filtered here
 * against the watches this handle holds.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"
#include "kv/kv.h"
#include "sim/sim_host.h"
#include "sim/sim_kv.h"

#define MSG_MAX XENSHAPE__SIM_KV_MSG_MAX

struct kwatch {
    struct kwatch *next;
    char *path, *token;
};

struct xenshape__kv {
    int sock;                        /* requests */
    int evsock;                      /* watch events */
    uint32_t domid;
    xentoollog_logger *lg;
    struct kwatch *watches;
    char *req, *reply;               /* MSG_MAX each */
};

/* ---- requests ------------------------------------------------------------ */

/* Append " " and the encoding of len bytes of s to kv->req. */
static int add_arg(xenshape__kv *kv, size_t *used, const void *s, size_t len)
{
    int w;

    if (*used + 2 > MSG_MAX)
        return -EMSGSIZE;
    kv->req[(*used)++] = ' ';
    w = xenshape__sim_kv_encode(kv->req + *used, MSG_MAX - *used, s, len);
    if (w < 0)
        return w;
    *used += (size_t)w;
    return 0;
}

static int add_str(xenshape__kv *kv, size_t *used, const char *s)
{
    return add_arg(kv, used, s, strlen(s));
}

/* Start a request: its name and, for most, the transaction. */
static size_t begin(xenshape__kv *kv, const char *name, bool with_txn,
                    xenshape__kv_txn t)
{
    return (size_t)(with_txn ? snprintf(kv->req, MSG_MAX, "%s %u", name, t)
                             : snprintf(kv->req, MSG_MAX, "%s", name));
}

/* Send kv->req on sock; 0 with *payload_r pointing after "OK " (or at
 * ""), inside kv->reply, or -errno. */
static int call_on(xenshape__kv *kv, int sock, char **payload_r)
{
    char name[32];
    int r, e;

    r = xenshape__sim_sock_call(sock, kv->req, kv->reply, MSG_MAX, NULL,
                                NULL);
    if (r)
        return r;
    if (!strncmp(kv->reply, "OK", 2) &&
        (!kv->reply[2] || kv->reply[2] == ' ')) {
        if (payload_r)
            *payload_r = kv->reply[2] ? kv->reply + 3 : kv->reply + 2;
        return 0;
    }
    if (sscanf(kv->reply, "ERR %31s", name) == 1 &&
        (e = xenshape__sim_errno_value(name)))
        return -e;
    return -EPROTO;
}

static int call(xenshape__kv *kv, char **payload_r)
{
    return call_on(kv, kv->sock, payload_r);
}

/* The words of a payload, one at a time: *p is advanced past it. */
static char *next_word(char **p, size_t *len_r)
{
    char *s = *p + strspn(*p, " ");
    size_t n = strcspn(s, " ");

    if (!n)
        return NULL;
    *p = s + n;
    *len_r = n;
    return s;
}

/* Decode one word (n bytes at w, inside the reply) into an allocated
 * string: -ENOMEM, or -EPROTO for a word the host cannot have meant. */
static int word_decode(char *w, size_t n, char **out_r, size_t *len_r)
{
    char c = w[n];
    int r;

    w[n] = '\0';
    r = xenshape__sim_kv_decode(w, out_r, len_r);
    w[n] = c;
    return r == -ENOMEM ? r : r ? -EPROTO : 0;
}

/* ---- open and close ------------------------------------------------------ */

static void ks_close(xenshape__kv *kv);

/* "PATH" or "PATH,domid=N" into an allocated path and a domid. */
static int parse_arg(const char *arg, char **path_r, uint32_t *domid_r)
{
    const char *comma = strrchr(arg, ',');
    unsigned long v = 0;
    char *end;

    if (comma && !strncmp(comma + 1, "domid=", 6)) {
        const char *num = comma + 7;

        errno = 0;
        v = isdigit((unsigned char)*num) ? strtoul(num, &end, 10) : 0;
        if (!isdigit((unsigned char)*num) || errno || *end || v >= 0x7ff0)
            return -EINVAL;
    } else {
        comma = arg + strlen(arg);
    }
    if (comma == arg)
        return -EINVAL;
    *path_r = xenshape__malloc((size_t)(comma - arg) + 1);
    if (!*path_r)
        return -ENOMEM;
    memcpy(*path_r, arg, (size_t)(comma - arg));
    (*path_r)[comma - arg] = '\0';
    *domid_r = (uint32_t)v;
    return 0;
}

static int ks_open(xenshape__kv **kv_r, const char *arg,
                   xentoollog_logger *lg)
{
    xenshape__kv *kv = NULL;
    char *path = NULL, *p = NULL;
    const char *id = NULL;
    int r;

    if (!arg) {
        XSLOG(lg, ERROR, -1, "sim xenstore: no socket given");
        return -EINVAL;
    }
    kv = xenshape__calloc(1, sizeof(*kv));
    if (!kv)
        return -ENOMEM;
    kv->sock = kv->evsock = -1;
    kv->lg = lg;
    kv->req = xenshape__malloc(MSG_MAX);
    kv->reply = xenshape__malloc(MSG_MAX);
    if (!kv->req || !kv->reply) {
        r = -ENOMEM;
        goto out;
    }
    r = parse_arg(arg, &path, &kv->domid);
    if (r) {
        XSLOG(lg, ERROR, -r, "sim xenstore: bad argument '%s' (want "
              "PATH or PATH,domid=N)", arg);
        goto out;
    }
    r = xenshape__sim_sock_connect(path, &kv->sock);
    if (!r) {
        snprintf(kv->req, MSG_MAX, "KVOPEN %u", kv->domid);
        r = call(kv, &p);
    }
    if (!r && (!(id = strstr(p, "client=")) ||
               !isdigit((unsigned char)id[7])))
        r = -EPROTO;
    if (r) {
        XSLOG(lg, ERROR, -r, "sim xenstore: cannot open the store of the "
              "simulated host at %s as domain %u", path, kv->domid);
        goto out;
    }
    /* The second connection becomes this client's event stream. */
    snprintf(kv->req, MSG_MAX, "KVEVENTS %.*s", (int)strspn(id + 7,
             "0123456789"), id + 7);
    r = xenshape__sim_sock_connect(path, &kv->evsock);
    if (!r)
        r = call_on(kv, kv->evsock, NULL);
    if (r) {
        XSLOG(lg, ERROR, -r, "sim xenstore: cannot open the watch event "
              "connection to %s", path);
        goto out;
    }
    *kv_r = kv;
    kv = NULL;
    r = 0;
 out:
    free(path);
    ks_close(kv);
    return r;
}

static void ks_close(xenshape__kv *kv)
{
    struct kwatch *w;

    if (!kv)
        return;
    if (kv->sock >= 0)
        close(kv->sock);
    if (kv->evsock >= 0)
        close(kv->evsock);
    while ((w = kv->watches)) {
        kv->watches = w->next;
        free(w->path);
        free(w->token);
        free(w);
    }
    free(kv->req);
    free(kv->reply);
    free(kv);
}

/* ---- transactions and nodes ---------------------------------------------- */

static int ks_txn_start(xenshape__kv *kv, xenshape__kv_txn *t_r)
{
    char *p;
    unsigned long v;
    char *end;
    int r;

    if (!kv)
        return -EBADF;
    begin(kv, "KVTXSTART", false, 0);
    r = call(kv, &p);
    if (r)
        return r;
    errno = 0;
    v = strtoul(p, &end, 10);
    if (errno || end == p || *end || v == XENSHAPE__KV_NO_TXN ||
        v > UINT32_MAX)
        return -EPROTO;
    *t_r = (xenshape__kv_txn)v;
    return 0;
}

static int ks_txn_end(xenshape__kv *kv, xenshape__kv_txn t, bool abort)
{
    size_t used;

    if (!kv)
        return -EBADF;
    used = begin(kv, "KVTXEND", true, t);
    snprintf(kv->req + used, MSG_MAX - used, " %s",
             abort ? "abort" : "commit");
    return call(kv, NULL);
}

static int ks_read(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                   char **val_r, size_t *len_r)
{
    size_t used, n, len = 0;
    char *val = NULL, *p, *w;
    int r;

    if (!kv)
        return -EBADF;
    used = begin(kv, "KVREAD", true, t);
    r = add_str(kv, &used, path);
    if (!r)
        r = call(kv, &p);
    if (r)
        return r;
    w = next_word(&p, &n);
    if (!w)
        return -EPROTO;
    r = word_decode(w, n, &val, &len);
    if (r)
        return r;
    *val_r = val;
    if (len_r)
        *len_r = len;
    return 0;
}

static int ks_write(xenshape__kv *kv, xenshape__kv_txn t, const char *path,
                    const void *val, size_t len)
{
    size_t used;
    int r;

    if (!kv)
        return -EBADF;
    if (len > XENSHAPE__KV_VALUE_MAX)
        return -E2BIG;
    used = begin(kv, "KVWRITE", true, t);
    r = add_str(kv, &used, path);
    if (!r)
        r = add_arg(kv, &used, val, len);
    return r ? r : call(kv, NULL);
}

static int ks_rm(xenshape__kv *kv, xenshape__kv_txn t, const char *path)
{
    size_t used;
    int r;

    if (!kv)
        return -EBADF;
    used = begin(kv, "KVRM", true, t);
    r = add_str(kv, &used, path);
    return r ? r : call(kv, NULL);
}

static int ks_directory(xenshape__kv *kv, xenshape__kv_txn t,
                        const char *path, char ***names_r, unsigned *n_r)
{
    char **names = NULL, *p, *w;
    unsigned long count;
    unsigned i;
    size_t used, n;
    char *end;
    int r;

    if (!kv)
        return -EBADF;
    used = begin(kv, "KVDIR", true, t);
    r = add_str(kv, &used, path);
    if (!r)
        r = call(kv, &p);
    if (r)
        return r;
    errno = 0;
    count = strtoul(p, &end, 10);
    if (errno || end == p || (*end && *end != ' ') || count > MSG_MAX)
        return -EPROTO;
    p = end;
    names = xenshape__calloc(count + 1, sizeof(*names));
    if (!names)
        return -ENOMEM;
    for (i = 0; i < count; i++) {
        w = next_word(&p, &n);
        r = w ? word_decode(w, n, &names[i], NULL) : -EPROTO;
        if (r)
            goto out;
    }
    if (next_word(&p, &n)) {
        r = -EPROTO;
        goto out;
    }
    *names_r = names;
    *n_r = (unsigned)count;
    names = NULL;
    r = 0;
 out:
    xenshape__kv_free_list(names);
    return r;
}

static int ks_set_perms(xenshape__kv *kv, xenshape__kv_txn t,
                        const char *path, const xenshape__kv_perm *perms,
                        unsigned n)
{
    static const char letters[] = "nrwb";
    size_t used;
    unsigned i;
    int r;

    if (!kv)
        return -EBADF;
    if (!n)
        return -EINVAL;
    used = begin(kv, "KVSETPERMS", true, t);
    r = add_str(kv, &used, path);
    for (i = 0; !r && i < n; i++) {
        int w = snprintf(kv->req + used, MSG_MAX - used, " %c%" PRIu32,
                         letters[perms[i].perms & 3], perms[i].domid);

        if (w < 0 || (size_t)w >= MSG_MAX - used)
            r = -EMSGSIZE;
        else
            used += (size_t)w;
    }
    return r ? r : call(kv, NULL);
}

static int ks_get_perms(xenshape__kv *kv, xenshape__kv_txn t,
                        const char *path, xenshape__kv_perm **perms_r,
                        unsigned *n_r)
{
    static const char letters[] = "nrwb";
    xenshape__kv_perm *perms = NULL;
    char *p, *w;
    const char *l;
    unsigned count = 0, i;
    size_t used, n;
    int r;

    if (!kv)
        return -EBADF;
    used = begin(kv, "KVGETPERMS", true, t);
    r = add_str(kv, &used, path);
    if (!r)
        r = call(kv, &p);
    if (r)
        return r;
    for (w = p; next_word(&w, &n);)
        count++;
    if (!count)
        return -EPROTO;
    perms = xenshape__calloc(count, sizeof(*perms));
    if (!perms)
        return -ENOMEM;
    for (i = 0; i < count; i++) {
        unsigned long v;
        char *end;

        w = next_word(&p, &n);
        l = strchr(letters, w[0]);
        errno = 0;
        v = isdigit((unsigned char)w[1]) ? strtoul(w + 1, &end, 10) : 0;
        if (!l || !isdigit((unsigned char)w[1]) || errno ||
            end != w + n || v > UINT32_MAX) {
            free(perms);
            return -EPROTO;
        }
        perms[i].domid = (uint32_t)v;
        perms[i].perms = (unsigned)(l - letters);
    }
    *perms_r = perms;
    *n_r = count;
    return 0;
}

/* ---- watches ------------------------------------------------------------- */

static int ks_watch(xenshape__kv *kv, const char *path, const char *token)
{
    struct kwatch *w = NULL;
    size_t used;
    int r;

    if (!kv)
        return -EBADF;
    /* Ready to filter before the first event can arrive. */
    w = xenshape__calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->path = xenshape__strdup(path);
    w->token = xenshape__strdup(token);
    if (!w->path || !w->token) {
        r = -ENOMEM;
        goto out;
    }
    used = begin(kv, "KVWATCH", false, 0);
    r = add_str(kv, &used, path);
    if (!r)
        r = add_str(kv, &used, token);
    if (!r)
        r = call(kv, NULL);
    if (r)
        goto out;
    w->next = kv->watches;
    kv->watches = w;
    w = NULL;
 out:
    if (w) {
        free(w->path);
        free(w->token);
        free(w);
    }
    return r;
}

static int ks_unwatch(xenshape__kv *kv, const char *path, const char *token)
{
    struct kwatch **pp, *w;
    size_t used;
    int r;

    if (!kv)
        return -EBADF;
    used = begin(kv, "KVUNWATCH", false, 0);
    r = add_str(kv, &used, path);
    if (!r)
        r = add_str(kv, &used, token);
    if (!r)
        r = call(kv, NULL);
    /* Forgotten here whatever the host said: what the caller wants is
     * no more of its events. */
    for (pp = &kv->watches; (w = *pp); pp = &w->next)
        if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
            *pp = w->next;
            free(w->path);
            free(w->token);
            free(w);
            break;
        }
    return r;
}

static int ks_watch_fd(xenshape__kv *kv)
{
    return kv ? kv->evsock : -EBADF;
}

/* Does a watch this handle holds still want an event (path, token)? */
static bool wanted(const xenshape__kv *kv, const char *path,
                   const char *token)
{
    const struct kwatch *w;

    for (w = kv->watches; w; w = w->next) {
        size_t n = strlen(w->path);

        if (strcmp(w->token, token))
            continue;
        if (!strcmp(w->path, path) ||
            (w->path[0] != '@' && !strncmp(path, w->path, n) &&
             (path[n] == '/' || !strcmp(w->path, "/"))))
            return true;
    }
    return false;
}

static int ks_read_watch(xenshape__kv *kv, char **path_r, char **token_r)
{
    char *path = NULL, *token = NULL, *p, *w;
    size_t n;
    ssize_t got;
    int r;

    if (!kv)
        return -EBADF;
    for (;;) {
        do {
            got = recv(kv->evsock, kv->reply, MSG_MAX - 1, MSG_DONTWAIT);
        } while (got < 0 && errno == EINTR);
        if (got < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        /* The host closed the stream: it is gone. */
        if (got == 0)
            return -ECONNRESET;
        kv->reply[got] = '\0';
        if (strncmp(kv->reply, "EVENT ", 6))
            return -EPROTO;
        p = kv->reply + 6;
        w = next_word(&p, &n);
        r = w ? word_decode(w, n, &path, NULL) : -EPROTO;
        if (!r) {
            w = next_word(&p, &n);
            r = w ? word_decode(w, n, &token, NULL) : -EPROTO;
        }
        if (r)
            goto out;
        if (wanted(kv, path, token))
            break;
        free(path);
        free(token);
        path = token = NULL;
    }
    *path_r = path;
    *token_r = token;
    path = token = NULL;
    r = 0;
 out:
    free(path);
    free(token);
    return r;
}

const struct xenshape__kv_ops xenshape__kv_sim_ops = {
    .name = "sim",
    .open = ks_open,
    .close = ks_close,
    .txn_start = ks_txn_start,
    .txn_end = ks_txn_end,
    .read = ks_read,
    .write = ks_write,
    .rm = ks_rm,
    .directory = ks_directory,
    .set_perms = ks_set_perms,
    .get_perms = ks_get_perms,
    .watch = ks_watch,
    .unwatch = ks_unwatch,
    .watch_fd = ks_watch_fd,
    .read_watch = ks_read_watch,
};

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
