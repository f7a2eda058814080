/*
 * err.c -- per-thread recorded error detail (see err.h).
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_MSG_MAX 512

static _Thread_local char err_buf[ERR_MSG_MAX];
static _Thread_local int err_last;

int err_set(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
    va_end(ap);
    err_last = code;
    return code;
}

const char *err_msg(void)
{
    return err_buf;
}

int err_code(void)
{
    return err_last;
}

void err_clear(void)
{
    err_buf[0] = '\0';
    err_last = 0;
}

const char *err_name(int code)
{
    switch (code) {
    case CAIRN_OK:
        return "ok";
    case CAIRN_ECORRUPT:
        return "corrupt";
    case CAIRN_ENOTFOUND:
        return "not_found";
    case CAIRN_ETOOBIG:
        return "too_big";
    case CAIRN_EUNAVAILABLE:
        return "unavailable";
    case CAIRN_EOVERLOADED:
        return "overloaded";
    case CAIRN_ETIMEOUT:
        return "timeout";
    case CAIRN_ENOKEYSPACE:
        return "unknown_keyspace";
    case CAIRN_ENOTABLE:
        return "unknown_table";
    case CAIRN_ECLOSED:
        return "closed";
    case CAIRN_EPROTO:
        return "protocol";
    case CAIRN_EREADONLY:
        return "read_only";
    case CAIRN_EEXISTS:
        return "exists";
    case -EINVAL:
        return "invalid_argument";
    case -ENOMEM:
        return "out_of_memory";
    case -EIO:
        return "io_error";
    case -ENOSPC:
        return "no_space";
    case -ENOENT:
        return "no_such_file";
    case -EAGAIN:
        return "try_again";
    case -ETIMEDOUT:
        return "timed_out";
    case -ECONNREFUSED:
        return "connection_refused";
    default:
        return "error";
    }
}
