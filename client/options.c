/*
 * options.c -- client options: contact points and consistency names.
 *
 * Contact points are resolved once, when the client starts, on the
 * caller's thread (getaddrinfo may block; the I/O thread never calls it).
 */
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "client/internal.h"
#include "common/err.h"
#include "common/mem.h"

/* Most contact points one client takes; more is surely a mistake. */
#define MAX_CONTACTS 64

void cairn_options_init(cairn_options_t *o)
{
    memset(o, 0, sizeof(*o));
}

static const char *const cl_names[] = {
    "DEFAULT", "ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL",
};

int cairn_consistency_parse(const char *name, cairn_consistency_t *out)
{
    for (size_t i = 0; name && i < sizeof(cl_names) / sizeof(*cl_names); i++) {
        if (strcasecmp(name, cl_names[i]) == 0) {
            *out = (cairn_consistency_t)i;
            return 0;
        }
    }
    return err_set(CAIRN_ERR_INVALID,
                   "unknown consistency level '%s' (any, one, two, three, "
                   "quorum, all)",
                   name ? name : "");
}

const char *cairn_consistency_name(cairn_consistency_t cl)
{
    if ((unsigned)cl >= sizeof(cl_names) / sizeof(*cl_names))
        return "UNKNOWN";
    return cl_names[cl];
}

static int parse_port(const char *s, size_t len, uint16_t *port)
{
    unsigned long v = 0;

    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int cairn__split_hostport(const char *s, size_t len, char *host, size_t hostcap,
                          uint16_t *port)
{
    const char *colon = NULL, *hs = s, *he;

    *port = CAIRN_DEFAULT_PORT;
    if (len > 0 && s[0] == '[') {
        /* "[v6addr]" or "[v6addr]:port" */
        const char *close = memchr(s, ']', len);

        if (!close)
            goto bad;
        hs = s + 1;
        he = close;
        if (close + 1 < s + len) {
            if (close[1] != ':')
                goto bad;
            colon = close + 1;
        }
    } else {
        colon = memrchr(s, ':', len);
        he = colon ? colon : s + len;
        if (colon && memchr(s, ':', (size_t)(colon - s)))
            goto bad; /* a bare IPv6 address needs brackets */
    }
    if (he == hs || (size_t)(he - hs) >= hostcap)
        goto bad;
    if (colon && parse_port(colon + 1, (size_t)(s + len - colon - 1), port))
        goto bad;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    return 0;
bad:
    return err_set(CAIRN_ERR_INVALID,
                   "bad contact point '%.*s' (want host:port)", (int)len, s);
}

static int resolve(const char *host, uint16_t port, struct cairn__addr *a)
{
    struct addrinfo hints = {0}, *res = NULL;
    char ports[8];
    int rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ports, sizeof(ports), "%u", port);
    rc = getaddrinfo(host, ports, &hints, &res);
    if (rc != 0 || !res)
        return err_set(CAIRN_ERR_INVALID, "cannot resolve host '%s': %s", host,
                       gai_strerror(rc));
    memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int cairn__parse_contacts(const char *s, struct cairn__addr **out, size_t *n)
{
    struct cairn__addr *v;
    size_t cnt = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (!s || !*s)
        return err_set(CAIRN_ERR_INVALID, "no contact points given");
    v = mem_calloc(MEM_CLIENT, MAX_CONTACTS, sizeof(*v));
    if (!v)
        return err_set(CAIRN_ERR_NO_MEMORY, "out of memory");
    while (*s && rc == 0) {
        size_t len = strcspn(s, ",");
        char host[256];
        uint16_t port;

        if (cnt == MAX_CONTACTS)
            rc = err_set(CAIRN_ERR_INVALID, "over %d contact points",
                         MAX_CONTACTS);
        else
            rc = cairn__split_hostport(s, len, host, sizeof(host), &port);
        if (rc == 0)
            rc = resolve(host, port, &v[cnt]);
        if (rc == 0)
            snprintf(v[cnt++].name, sizeof(v->name), "%.*s", (int)len, s);
        s += len;
        if (*s == ',' && *++s == '\0')
            rc = err_set(CAIRN_ERR_INVALID, "empty contact point");
    }
    if (rc < 0) {
        mem_free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}
