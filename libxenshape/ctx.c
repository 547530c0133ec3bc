/*
 * ctx.c - the lifecycle of a xenshape context: new, set options, open,
 * free.  Opening connects to the hypervisor backend, opens (and if need be
 * recovers) the page store and starts the page-in thread.  The records the
 * store recovers are kept as orphans until their domain is attached, when
 * the engine checks each against the hypervisor.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pager/pager.h"

#define DEFAULT_SIM_SOCKET "/run/xenshape/simhost.sock"
#define DEFAULT_STATE_DIR "/var/lib/xenshape"

int xenshape_ctx_new(xenshape_ctx **ctx_r, xentoollog_logger *lg)
{
    xenshape_ctx *ctx = NULL;
    int rc;

    if (!ctx_r)
        return XENSHAPE_EINVAL;
    xenshape__fault_from_env();
    ctx = xenshape__calloc(1, sizeof(*ctx));
    if (!ctx) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    ctx->lg = lg;
    ctx->epfd = ctx->ctl_fd = ctx->want_run_fd = -1;
    ctx->backend = xenshape__strdup("xen");
    ctx->sim_socket = xenshape__strdup(DEFAULT_SIM_SOCKET);
    ctx->state_dir = xenshape__strdup(DEFAULT_STATE_DIR);
    ctx->observe_modes = XENSHAPE_OBSERVE_LOGDIRTY;
    if (!ctx->backend || !ctx->sim_socket || !ctx->state_dir) {
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    *ctx_r = ctx;
    ctx = NULL;
    rc = 0;
 out:
    xenshape_ctx_free(ctx);
    return rc;
}

/* Replace an owned string option, keeping the old one on failure. */
static int set_string(xenshape_ctx *ctx, char **field, const char *value)
{
    char *copy;

    if (!ctx || !value)
        return XENSHAPE_EINVAL;
    if (ctx->opened)
        return XENSHAPE_ESTATE;
    copy = xenshape__strdup(value);
    if (!copy)
        return XENSHAPE_ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

int xenshape_ctx_set_backend(xenshape_ctx *ctx, const char *name)
{
    if (name && !xenshape__hv_lookup(name)) {
        XSLOG(ctx ? ctx->lg : NULL, ERROR, -1,
              "unknown hypervisor backend '%s'", name);
        return XENSHAPE_EINVAL;
    }
    return set_string(ctx, &ctx->backend, name);
}

int xenshape_ctx_set_sim_socket(xenshape_ctx *ctx, const char *path)
{
    return set_string(ctx, &ctx->sim_socket, path);
}

int xenshape_ctx_set_state_dir(xenshape_ctx *ctx, const char *path)
{
    return set_string(ctx, &ctx->state_dir, path);
}

int xenshape_ctx_set_observe(xenshape_ctx *ctx, unsigned modes)
{
    if (!ctx || ctx->opened ||
        (modes & ~(XENSHAPE_OBSERVE_N2RWX | XENSHAPE_OBSERVE_LOGDIRTY)))
        return XENSHAPE_EINVAL;
    ctx->observe_modes = modes;
    return 0;
}

int xenshape_ctx_set_store(xenshape_ctx *ctx, const char *path,
                           uint64_t size_bytes)
{
    int rc = set_string(ctx, &ctx->store_path, path);

    if (!rc)
        ctx->store_size = size_bytes;
    return rc;
}

int xenshape__ctx_set_sim_host(xenshape_ctx *ctx,
                               struct xenshape__sim_host *h)
{
    if (!ctx || ctx->opened)
        return XENSHAPE_ESTATE;
    ctx->sim_host = h;
    return 0;
}

/* keep_orphan()'s argument: the context, and whether a record could not
 * be tracked for want of memory. */
struct orphan_walk {
    xenshape_ctx *ctx;
    bool nomem;
};

static bool keep_orphan(void *arg, uint32_t domid, uint32_t dom_tag,
                        uint64_t gfn, xenshape__store_rec rec)
{
    struct orphan_walk *w = arg;
    xenshape_ctx *ctx = w->ctx;
    xenshape__orphan *o;

    if (ctx->nr_orphans == ctx->cap_orphans) {
        size_t cap = ctx->cap_orphans ? ctx->cap_orphans * 2 : 1024;
        xenshape__orphan *n = xenshape__realloc(ctx->orphans,
                                                cap * sizeof(*n));

        /* Without memory we cannot track it: let the store keep the
         * record, and fail the open.  Going on would report the frame
         * lost at attach; the next open finds the record again. */
        if (!n) {
            w->nomem = true;
            return true;
        }
        ctx->orphans = n;
        ctx->cap_orphans = cap;
    }
    o = &ctx->orphans[ctx->nr_orphans++];
    o->domid = domid;
    o->dom_tag = dom_tag;
    o->gfn = gfn;
    o->rec = rec;
    return true;
}

int xenshape_ctx_open(xenshape_ctx *ctx)
{
    xenshape__hv_params hp;
    xenshape__store_params sp;
    struct orphan_walk ow = { .ctx = ctx };
    int rc, r;

    if (!ctx)
        return XENSHAPE_EINVAL;
    if (ctx->opened)
        return XENSHAPE_ESTATE;
    if (!ctx->store_path) {
        XSLOG(ctx->lg, ERROR, -1, "no page store configured");
        return XENSHAPE_EINVAL;
    }

    memset(&hp, 0, sizeof(hp));
    hp.sim_socket = ctx->sim_socket;
    hp.sim_host = ctx->sim_host;
    r = xenshape__hv_open(&ctx->hv, ctx->backend, &hp, ctx->lg);
    if (r < 0) {
        XSLOG(ctx->lg, ERROR, -r, "cannot open hypervisor backend '%s'",
              ctx->backend);
        rc = xenshape__rc_from_errno(r);
        goto out;
    }

    memset(&sp, 0, sizeof(sp));
    sp.path = ctx->store_path;
    sp.size_bytes = ctx->store_size;
    rc = xenshape__store_open(&ctx->store, &sp, ctx->lg);
    if (rc)
        goto out;
    rc = xenshape__store_recover(ctx->store, keep_orphan, &ow);
    if (rc)
        goto out;
    if (ow.nomem) {
        XSLOG(ctx->lg, ERROR, ENOMEM, "cannot track the frames the store "
              "holds from an earlier run");
        rc = XENSHAPE_ENOMEM;
        goto out;
    }
    if (ctx->nr_orphans)
        XSLOG(ctx->lg, INFO, -1,
              "store holds %zu frames from an earlier run", ctx->nr_orphans);

    rc = xenshape__pager_start(ctx);
    if (rc)
        goto out;
    ctx->opened = true;
    rc = 0;
 out:
    return rc;
}

void xenshape_ctx_free(xenshape_ctx *ctx)
{
    if (!ctx)
        return;
    xenshape__pager_stop(ctx);
    xenshape__store_close(ctx->store);
    xenshape__hv_close(ctx->hv);
    free(ctx->orphans);
    free(ctx->backend);
    free(ctx->sim_socket);
    free(ctx->store_path);
    free(ctx->state_dir);
    free(ctx);
}
