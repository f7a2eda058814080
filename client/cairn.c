/*
 * cairn.c -- libcairn's library-wide entry points: version and errors.
 */
#include "cairn/cairn.h"

#include "common/err.h"

/* The public codes are the internal ones; keep them from drifting apart. */
_Static_assert((int)CAIRN_ERR_CORRUPT == (int)CAIRN_ECORRUPT, "code drift");
_Static_assert((int)CAIRN_ERR_NOT_FOUND == (int)CAIRN_ENOTFOUND, "code drift");
_Static_assert((int)CAIRN_ERR_TOO_BIG == (int)CAIRN_ETOOBIG, "code drift");
_Static_assert((int)CAIRN_ERR_UNAVAILABLE == (int)CAIRN_EUNAVAILABLE,
               "code drift");
_Static_assert((int)CAIRN_ERR_OVERLOADED == (int)CAIRN_EOVERLOADED,
               "code drift");
_Static_assert((int)CAIRN_ERR_TIMEOUT == (int)CAIRN_ETIMEOUT, "code drift");
_Static_assert((int)CAIRN_ERR_NO_KEYSPACE == (int)CAIRN_ENOKEYSPACE,
               "code drift");
_Static_assert((int)CAIRN_ERR_NO_TABLE == (int)CAIRN_ENOTABLE, "code drift");
_Static_assert((int)CAIRN_ERR_CLOSED == (int)CAIRN_ECLOSED, "code drift");
_Static_assert((int)CAIRN_ERR_PROTOCOL == (int)CAIRN_EPROTO, "code drift");
_Static_assert((int)CAIRN_ERR_READ_ONLY == (int)CAIRN_EREADONLY, "code drift");
_Static_assert((int)CAIRN_ERR_EXISTS == (int)CAIRN_EEXISTS, "code drift");
_Static_assert((int)CAIRN_ERR_INVALID == (int)-EINVAL, "code drift");
_Static_assert((int)CAIRN_ERR_NO_MEMORY == (int)-ENOMEM, "code drift");
_Static_assert((int)CAIRN_ERR_AGAIN == (int)-EAGAIN, "code drift");
_Static_assert((int)CAIRN_ERR_UNREACHABLE == (int)-EHOSTUNREACH, "code drift");

#define CAIRN_STR2(x) #x
#define CAIRN_STR(x)  CAIRN_STR2(x)

const char *cairn_version(void)
{
    return CAIRN_STR(CAIRN_VERSION_MAJOR) "." CAIRN_STR(
        CAIRN_VERSION_MINOR) "." CAIRN_STR(CAIRN_VERSION_PATCH);
}

const char *cairn_strerror(int code)
{
    /* The one client-only code; common/ has no name for it. */
    if (code == CAIRN_ERR_UNREACHABLE)
        return "unreachable";
    return err_name(code);
}

const char *cairn_last_error(void)
{
    return err_msg();
}
