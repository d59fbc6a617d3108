/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h> /* getrandom */
#include <time.h>
#include <unistd.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "internal.h"

_Noreturn void libocid_die(const char *msg)
{
        /* One write, and no stdio: it may allocate. */
        char buf[256] = "ocid: fatal: ";
        size_t len = strlen(buf), n = strlen(msg);

        if (n > sizeof(buf) - len - 1)
                n = sizeof(buf) - len - 1;
        memcpy(buf + len, msg, n);
        len += n;
        buf[len++] = '\n';
        (void) !write(STDERR_FILENO, buf, len);
        abort();
}

static void *check_alloc(void *p)
{
        if (!p)
                libocid_die("out of memory");
        return p;
}

/* malloc(0) may return NULL; an allocator that aborts on NULL must not ask
 * for zero bytes. */
OCID_EXPORT void *xmalloc(size_t size)
{
        return check_alloc(malloc(size ? size : 1));
}

OCID_EXPORT void *xzalloc(size_t size)
{
        return check_alloc(calloc(1, size ? size : 1));
}

OCID_EXPORT void *xcalloc(size_t n, size_t size)
{
        if (n == 0 || size == 0)
                n = size = 1;
        return check_alloc(calloc(n, size));
}

OCID_EXPORT void *xrealloc(void *p, size_t size)
{
        return check_alloc(realloc(p, size ? size : 1));
}

OCID_EXPORT void *xreallocarray(void *p, size_t n, size_t size)
{
        size_t total;

        if (__builtin_mul_overflow(n, size, &total))
                libocid_die("out of memory (allocation size overflows)");
        return xrealloc(p, total);
}

OCID_EXPORT char *xstrdup(const char *s)
{
        return s ? check_alloc(strdup(s)) : NULL;
}

OCID_EXPORT char *xstrndup(const char *s, size_t n)
{
        return s ? check_alloc(strndup(s, n)) : NULL;
}

OCID_EXPORT char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                libocid_die("out of memory");
        return s;
}

OCID_EXPORT const char *ocid_startswith(const char *s, const char *prefix)
{
        size_t n = strlen(prefix);

        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

OCID_EXPORT bool ocid_endswith(const char *s, const char *suffix)
{
        size_t ls = strlen(s), lx = strlen(suffix);

        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* Accepted: an optional '-' then decimal digits, nothing else. */
OCID_EXPORT int ocid_parse_int64(const char *s, int64_t *ret)
{
        long long v;
        char *end;

        if (!s || !all_digits(s[0] == '-' ? s + 1 : s))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = (int64_t) v;
        return 0;
}

/* Accepted: decimal digits only (no sign: strtoull would wrap "-1"). */
OCID_EXPORT int ocid_parse_uint64(const char *s, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        if (!s || !all_digits(s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

OCID_EXPORT size_t ocid_strv_length(char *const *v)
{
        size_t n = 0;

        if (v)
                while (v[n])
                        n++;
        return n;
}

OCID_EXPORT char **ocid_strv_copy(const char *const *v)
{
        size_t n = 0;
        char **c;

        if (!v)
                return NULL;
        while (v[n])
                n++;
        c = xcalloc(n + 1, sizeof(*c));
        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(v[i]);
        return c;
}

OCID_EXPORT void ocid_strv_push(char ***v, const char *s)
{
        size_t n = ocid_strv_length(*v);
        char **nv;

        nv = xreallocarray(*v, n + 2, sizeof(*nv));
        nv[n] = xstrdup(s);
        nv[n + 1] = NULL;
        *v = nv;
}

OCID_EXPORT bool ocid_strv_contains(char *const *v, const char *s)
{
        if (!v)
                return false;
        for (; *v; v++)
                if (streq(*v, s))
                        return true;
        return false;
}

OCID_EXPORT void ocid_strv_free(char **v)
{
        ocid_strvfreep(&v);
}

static int64_t now_ns(clockid_t clk)
{
        struct timespec ts;

        if (clock_gettime(clk, &ts) < 0)
                libocid_die("clock_gettime failed");
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

OCID_EXPORT int64_t ocid_now_monotonic_ns(void)
{
        return now_ns(CLOCK_MONOTONIC);
}

OCID_EXPORT int64_t ocid_now_realtime_ns(void)
{
        return now_ns(CLOCK_REALTIME);
}

OCID_EXPORT int ocid_random_id(char ret[65], struct ocid_error **err)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char buf[32];
        size_t got = 0;

        while (got < sizeof(buf)) {
                ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ocid_error_set(err, errno, "getrandom");
                }
                got += (size_t) n;
        }
        for (size_t i = 0; i < sizeof(buf); i++) {
                ret[2 * i] = hex[buf[i] >> 4];
                ret[2 * i + 1] = hex[buf[i] & 0xf];
        }
        ret[64] = '\0';
        return 0;
}
