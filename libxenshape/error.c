/*
 * error.c - text and names for libxenshape's error codes, generated from
 * the one list in xenshape.h, and the mapping from raw errno values.
 */

#include <errno.h>

#include "private.h"

const char *xenshape_strerror(int rc)
{
    switch (rc) {
#define XENSHAPE__ERRTEXT(name, value, text) case (value): return (text);
    XENSHAPE_ERRORS(XENSHAPE__ERRTEXT)
#undef XENSHAPE__ERRTEXT
    }
    return "unknown error";
}

const char *xenshape_errname(int rc)
{
    switch (rc) {
#define XENSHAPE__ERRNAME(name, value, text) \
    case (value): return "XENSHAPE_" #name;
    XENSHAPE_ERRORS(XENSHAPE__ERRNAME)
#undef XENSHAPE__ERRNAME
    }
    return "XENSHAPE_E?";
}

/*
 * Raw failures are mapped once, at the edge where they happen, so that
 * callers of the public interface only ever see XENSHAPE_E* codes.
 */
int xenshape__rc_from_errno(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:         return XENSHAPE_OK;
    case EINVAL:    return XENSHAPE_EINVAL;
    case ENOMEM:    return XENSHAPE_ENOMEM;
    case ENOSYS:    return XENSHAPE_ENOSYS;
    case ESRCH:     return XENSHAPE_ESRCH;
    case EBUSY:     return XENSHAPE_EBUSY;
    case EIO:       return XENSHAPE_EIO;
    case ENOSPC:    return XENSHAPE_ENOSPC;
    case ENOENT:    return XENSHAPE_ENOENT;
    case EAGAIN:    return XENSHAPE_EAGAIN;
    case EPERM:
    case EACCES:    return XENSHAPE_EPERM;
    case ETIMEDOUT: return XENSHAPE_ETIMEDOUT;
    default:        return XENSHAPE_EHV;
    }
}
