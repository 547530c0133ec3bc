/*
 * trace.c - the reference-trace reader behind the replay tools: text lines
 * "R <hex page>" / "W <hex page>" in, dense frame numbers out.
 *
 * Built for speed, because the replay tool must handle more than ten
 * million references a second on one core: big reads, a hand-written
 * line parser with a table for hex digits, and an open-addressing hash
 * from page key to frame number.  Decompression is gzip's, in a process
 * of its own that feeds a pipe, so it runs on another core.
 */

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"
#include "select/replay.h"

#define READ_CHUNK (1u << 20)
/* A line longer than this cannot be a valid reference. */
#define MAX_LINE 256u

typedef struct parser {
    xenshape__trace *t;
    uint64_t cap_refs;
    uint64_t line;
    /* page key -> frame number + 1 (0: empty slot) */
    uint64_t *keys;
    uint32_t *vals;
    uint64_t mask;
    unsigned shift;
    xenshape__trace_error *err;
} parser;

static const int8_t hexval[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
    ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int fail(parser *ps, const char *what)
{
    if (ps->err) {
        ps->err->line = ps->line;
        snprintf(ps->err->what, sizeof(ps->err->what), "%s", what);
    }
    return XENSHAPE_EFORMAT;
}

static int map_grow(parser *ps)
{
    uint64_t ocap = ps->mask + 1, ncap = ocap * 2, i, h;
    uint64_t *nk = NULL;
    uint32_t *nv = NULL;
    int rc;

    nk = xenshape__malloc(ncap * sizeof(*nk));
    nv = xenshape__calloc(ncap, sizeof(*nv));
    if (!nk || !nv) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (i = 0; i < ocap; i++) {
        if (!ps->vals[i])
            continue;
        h = (ps->keys[i] * 0x9e3779b97f4a7c15ull) >> (ps->shift - 1);
        while (nv[h])
            h = (h + 1) & (ncap - 1);
        nk[h] = ps->keys[i];
        nv[h] = ps->vals[i];
    }
    free(ps->keys);
    free(ps->vals);
    ps->keys = nk;
    ps->vals = nv;
    nk = NULL;
    nv = NULL;
    ps->mask = ncap - 1;
    ps->shift--;
    rc = 0;
 out:
    free(nk);
    free(nv);
    return rc;
}

static int add_ref(parser *ps, uint64_t key, bool write)
{
    xenshape__trace *t = ps->t;
    uint64_t h = (key * 0x9e3779b97f4a7c15ull) >> ps->shift;
    uint32_t id;
    int rc;

    for (;;) {
        uint32_t v = ps->vals[h];

        if (!v)
            break;
        if (ps->keys[h] == key) {
            id = v - 1;
            goto found;
        }
        h = (h + 1) & ps->mask;
    }
    if (t->nr_pages >= XENSHAPE__POLICY_MAX_FRAMES) {
        if (ps->err) {
            ps->err->line = ps->line;
            snprintf(ps->err->what, sizeof(ps->err->what),
                     "more than %llu distinct pages",
                     (unsigned long long)XENSHAPE__POLICY_MAX_FRAMES);
        }
        return XENSHAPE_EINVAL;
    }
    id = t->nr_pages++;
    ps->keys[h] = key;
    ps->vals[h] = id + 1;
    /* Keep the table at most half full. */
    if ((uint64_t)t->nr_pages * 2 > ps->mask) {
        rc = map_grow(ps);
        if (rc)
            return rc;
    }
 found:
    if (t->nr_refs == ps->cap_refs) {
        uint64_t ncap = ps->cap_refs * 2;
        uint32_t *nr = xenshape__realloc(t->refs, ncap * sizeof(*nr));

        if (!nr)
            return XENSHAPE_ENOMEM;
        t->refs = nr;
        if (t->writes) {
            uint64_t *nw = xenshape__realloc(t->writes, ncap / 8);

            if (!nw)
                return XENSHAPE_ENOMEM;
            memset((char *)nw + ps->cap_refs / 8, 0, ps->cap_refs / 8);
            t->writes = nw;
        }
        ps->cap_refs = ncap;
    }
    if (write) {
        if (!t->writes) {
            t->writes = xenshape__calloc(ps->cap_refs / 64,
                                         sizeof(uint64_t));
            if (!t->writes)
                return XENSHAPE_ENOMEM;
        }
        t->writes[t->nr_refs >> 6] |= 1ull << (t->nr_refs & 63);
    }
    t->refs[t->nr_refs++] = id;
    return 0;
}

/* Parse one line, [p, e) without its newline. */
static int parse_line(parser *ps, const char *p, const char *e)
{
    const unsigned char *s = (const unsigned char *)p;
    const unsigned char *end = (const unsigned char *)e;
    uint64_t key = 0;
    unsigned digits = 0;
    bool write;
    int8_t v;

    ps->line++;
    if (s == end || (*s != 'R' && *s != 'W'))
        return fail(ps, s == end ? "empty line" :
                    "line does not start with R or W");
    write = *s == 'W';
    s++;
    if (s == end || (*s != ' ' && *s != '\t'))
        return fail(ps, "expected a blank after R/W");
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    while (s < end && (v = hexval[*s])) {
        if (++digits > 16)
            return fail(ps, "page number longer than 16 hex digits");
        key = (key << 4) | (uint64_t)(v - 1);
        s++;
    }
    if (!digits)
        return fail(ps, "missing or non-hexadecimal page number");
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    if (s != end)
        return fail(ps, "unexpected text after the page number");
    return add_ref(ps, key, write);
}

/* Parse the complete lines in buf; *used_r: bytes consumed.  With final,
 * a last line without newline counts too. */
static int parse_buf(parser *ps, const char *buf, size_t len, bool final,
                     size_t *used_r)
{
    const char *p = buf, *end = buf + len, *nl;
    int rc;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            if (!final)
                break;
            nl = end;
        }
        rc = parse_line(ps, p, nl);
        if (rc)
            return rc;
        p = nl < end ? nl + 1 : end;
    }
    *used_r = (size_t)(p - buf);
    return 0;
}

static int parser_init(parser *ps, xenshape__trace_error *err)
{
    memset(ps, 0, sizeof(*ps));
    ps->err = err;
    if (err) {
        err->line = 0;
        err->what[0] = 0;
    }
    ps->t = xenshape__calloc(1, sizeof(*ps->t));
    ps->cap_refs = 1u << 16;
    ps->mask = (1u << 16) - 1;
    ps->shift = 64 - 16;
    if (!ps->t)
        return XENSHAPE_ENOMEM;
    ps->t->refs = xenshape__malloc(ps->cap_refs * sizeof(uint32_t));
    ps->keys = xenshape__malloc((ps->mask + 1) * sizeof(*ps->keys));
    ps->vals = xenshape__calloc(ps->mask + 1, sizeof(*ps->vals));
    if (!ps->t->refs || !ps->keys || !ps->vals)
        return XENSHAPE_ENOMEM;
    return 0;
}

static int parser_finish(parser *ps, int rc, xenshape__trace **t_r)
{
    free(ps->keys);
    free(ps->vals);
    if (!rc && !ps->t->nr_refs) {
        if (ps->err) {
            ps->err->line = 0;
            snprintf(ps->err->what, sizeof(ps->err->what),
                     "no references in the trace");
        }
        rc = XENSHAPE_EFORMAT;
    }
    if (rc) {
        xenshape__trace_free(ps->t);
        return rc;
    }
    *t_r = ps->t;
    return 0;
}

int xenshape__trace_read_fd(int fd, xenshape__trace **t_r,
                            xenshape__trace_error *err)
{
    parser ps;
    char *buf = NULL;
    size_t have = 0, used;
    ssize_t r;
    int rc;

    rc = parser_init(&ps, err);
    if (rc)
        goto out;
    buf = xenshape__malloc(READ_CHUNK + MAX_LINE);
    if (!buf) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    for (;;) {
        r = read(fd, buf + have, READ_CHUNK + MAX_LINE - have);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (err) {
                err->line = 0;
                snprintf(err->what, sizeof(err->what), "read: %s",
                         strerror(errno));
            }
            rc = XENSHAPE_EIO;
            goto out;
        }
        have += (size_t)r;
        rc = parse_buf(&ps, buf, have, r == 0, &used);
        if (rc)
            goto out;
        if (r == 0)
            break;
        memmove(buf, buf + used, have - used);
        have -= used;
        if (have >= MAX_LINE) {
            ps.line++;
            rc = fail(&ps, "line too long");
            goto out;
        }
    }
    rc = 0;
 out:
    free(buf);
    return parser_finish(&ps, rc, t_r);
}

int xenshape__trace_parse(const char *text, uint64_t len,
                          xenshape__trace **t_r,
                          xenshape__trace_error *err)
{
    parser ps;
    size_t used;
    int rc;

    rc = parser_init(&ps, err);
    if (!rc)
        rc = parse_buf(&ps, text, (size_t)len, true, &used);
    return parser_finish(&ps, rc, t_r);
}

static void set_err(xenshape__trace_error *err, const char *what,
                    const char *detail)
{
    if (!err)
        return;
    err->line = 0;
    snprintf(err->what, sizeof(err->what), "%s%s%s", what,
             detail ? ": " : "", detail ? detail : "");
}

int xenshape__trace_load(const char *path, xenshape__trace **t_r,
                         xenshape__trace_error *err)
{
    posix_spawn_file_actions_t fa;
    char *const argv[] = { (char *)"gzip", (char *)"-dc", NULL };
    unsigned char magic[2];
    int fd = -1, pfd[2] = { -1, -1 }, status, r, rc;
    bool fa_init = false;
    pid_t pid = -1;
    ssize_t n;

    if (err) {
        err->line = 0;
        err->what[0] = 0;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, "cannot open the trace", strerror(errno));
        rc = errno == ENOENT ? XENSHAPE_ENOENT : XENSHAPE_EIO;
        goto out;
    }
    n = pread(fd, magic, 2, 0);
    if (n < 0) {
        set_err(err, "cannot read the trace", strerror(errno));
        rc = XENSHAPE_EIO;
        goto out;
    }
    if (n < 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        rc = xenshape__trace_read_fd(fd, t_r, err);
        goto out;
    }

    /* gzip reads the file on its stdin and writes the text to our pipe;
     * its complaints are replaced by our own message. */
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        set_err(err, "pipe", strerror(errno));
        rc = XENSHAPE_EIO;
        goto out;
    }
    /* A bigger pipe means fewer wake-ups between gzip and us (best
     * effort: the default 64 KiB works too). */
    (void)fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20);
    r = posix_spawn_file_actions_init(&fa);
    if (r) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    fa_init = true;
    if (posix_spawn_file_actions_adddup2(&fa, fd, 0) ||
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1) ||
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    r = posix_spawnp(&pid, "gzip", &fa, NULL, argv, environ);
    if (r) {
        pid = -1;
        set_err(err, "cannot run gzip", strerror(r));
        rc = XENSHAPE_EIO;
        goto out;
    }
    close(pfd[1]);
    pfd[1] = -1;
    rc = xenshape__trace_read_fd(pfd[0], t_r, err);
    /* On an error gzip may still be writing: closing the pipe ends it. */
    close(pfd[0]);
    pfd[0] = -1;
    if (rc)
        kill(pid, SIGTERM);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        set_err(err, "gzip cannot decompress it (corrupt or truncated)",
                NULL);
        xenshape__trace_free(*t_r);
        *t_r = NULL;
        rc = XENSHAPE_EFORMAT;
    }
 out:
    if (pid > 0) {
        kill(pid, SIGTERM);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (fd >= 0)
        close(fd);
    return rc;
}

void xenshape__trace_free(xenshape__trace *t)
{
    if (!t)
        return;
    free(t->refs);
    free(t->writes);
    free(t);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
