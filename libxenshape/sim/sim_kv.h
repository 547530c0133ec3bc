/*
 * sim_kv.h - the simulated host's xenstore (sim_kv.c), as the host's own
 * files see it: the store itself, the per-connection clients the control
 * socket (sim_sock.c) creates for KV* requests, the hooks domain
 * creation and destruction call (sim_host.c), and the text encoding the
 * requests use for paths, values and tokens, which the client side
 * (kv/kv_sim.c) shares.
 *
 * Semantics follow C xenstored 4.17 where it matters to xenshape:
 * permissions (owner first, Dom0 bypasses), watches (fire at once, then
 * at or below the path, filtered by read permission), transactions
 * (EAGAIN on conflict) and the quotas of the reference's section 7.
 * docs/simhost.md describes the requests and what differs.
 */

#ifndef XENSHAPE_SIM_KV_H
#define XENSHAPE_SIM_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xentoollog.h>

#include "kv/kv.h"

/* Largest request and reply packet on the control socket: a KVWRITE of
 * a longest path and a largest value, both escaped, fits. */
#define XENSHAPE__SIM_KV_MSG_MAX 16384

/* Quotas for domains other than Dom0 (C xenstored's defaults). */
#define XENSHAPE__SIM_KV_NODES_PER_DOM 1000
#define XENSHAPE__SIM_KV_WATCHES       128
#define XENSHAPE__SIM_KV_TXNS          10
#define XENSHAPE__SIM_KV_PERMS         5
/* Events queued for one client before the oldest are dropped. */
#define XENSHAPE__SIM_KV_EVENTS_MAX    4096

struct xenshape__sim_kv;
struct xenshape__sim_kv_client;

int xenshape__sim_kv_new(struct xenshape__sim_kv **kv_r,
                         xentoollog_logger *lg);
void xenshape__sim_kv_free(struct xenshape__sim_kv *kv);   /* NULL ok */
void xenshape__sim_kv_set_logger(struct xenshape__sim_kv *kv,
                                 xentoollog_logger *lg);

/* What the toolstack writes when a domain is built (libxl's layout:
 * /local/domain/<domid> and /vm/<uuid>), and @introduceDomain; at
 * destruction, their removal and @releaseDomain.  Failures are logged
 * and otherwise ignored: a domain exists whatever its xenstore says. */
void xenshape__sim_kv_dom_created(struct xenshape__sim_kv *kv,
                                  uint32_t domid, const char *name,
                                  const uint8_t uuid[16], uint64_t frames);
void xenshape__sim_kv_dom_destroyed(struct xenshape__sim_kv *kv,
                                    uint32_t domid);

/*
 * Handle one KV* request (argv as split at blanks) of a connection.
 * *cl is the connection's client, created at its first KV request (as
 * Dom0 unless KVOPEN said otherwise).  After KVEVENTS, *events_r holds
 * the client whose watch events this connection now carries: the caller
 * sends the reply, then calls xenshape__sim_kv_events_serve().
 */
void xenshape__sim_kv_handle(struct xenshape__sim_kv *kv,
                             struct xenshape__sim_kv_client **cl,
                             struct xenshape__sim_kv_client **events_r,
                             char **argv, int argc, char *reply, size_t len);
/* The connection ended: its watches and transactions go. NULL ok. */
void xenshape__sim_kv_client_close(struct xenshape__sim_kv_client *cl);
/* Push cl's events as "EVENT <path> <token>" packets on sock until the
 * peer hangs up, the socket is shut down or cl's connection closes;
 * then drop the reference KVEVENTS took. */
void xenshape__sim_kv_events_serve(struct xenshape__sim_kv_client *cl,
                                   int sock);

/*
 * The escaping of paths, values and tokens in requests and replies:
 * bytes other than [A-Za-z0-9/_@.:,=+~-] become %XX; the empty string is
 * a lone "%".  encode: the length written (NUL-terminated), or -EMSGSIZE.
 * decode: an allocated, NUL-terminated copy; -EINVAL for bad escapes.
 */
int xenshape__sim_kv_encode(char *dst, size_t dstlen, const void *src,
                            size_t len);
int xenshape__sim_kv_decode(const char *src, char **dst_r, size_t *len_r);

#endif /* XENSHAPE_SIM_KV_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
