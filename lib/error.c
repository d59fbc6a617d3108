/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/util.h>

#include "internal.h"

/* With err == NULL an error is dropped, but ocid_error_prefix() still has to
 * return its code: the last dropped code is remembered per thread. */
static __thread int dropped_code;

static int normalize_code(int code)
{
        assert(code > 0);
        if (code > 0)
                return code;
        /* Release builds: never turn a failure into success. */
        return code < 0 ? -code : EIO;
}

OCID_EXPORT int ocid_error_setv(struct ocid_error **err, int code, int with_strerror, const char *fmt,
                                va_list ap)
{
        struct ocid_error *e;
        char *msg;

        code = normalize_code(code);
        if (!err) {
                dropped_code = code;
                return -code;
        }
        assert(*err == NULL);
        if (*err) /* release builds: keep the first error, do not leak */
                return -(*err)->code;

        if (vasprintf(&msg, fmt, ap) < 0)
                libocid_die("out of memory");
        if (with_strerror) {
                char buf[256];
                char *full = xasprintf("%s: %s", msg, strerror_r(code, buf, sizeof(buf)));
                free(msg);
                msg = full;
        }
        e = xmalloc(sizeof(*e));
        e->code = code;
        e->message = msg;
        *err = e;
        return -code;
}

OCID_EXPORT int ocid_error_set(struct ocid_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = ocid_error_setv(err, code, 1, fmt, ap);
        va_end(ap);
        return r;
}

OCID_EXPORT int ocid_error_msg(struct ocid_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = ocid_error_setv(err, code, 0, fmt, ap);
        va_end(ap);
        return r;
}

OCID_EXPORT int ocid_error_prefix(struct ocid_error **err, const char *fmt, ...)
{
        va_list ap;
        char *prefix, *full;

        if (!err)
                return dropped_code > 0 ? -dropped_code : -EIO;
        assert(*err != NULL);
        if (!*err)
                return -EIO;

        va_start(ap, fmt);
        if (vasprintf(&prefix, fmt, ap) < 0)
                libocid_die("out of memory");
        va_end(ap);
        full = xasprintf("%s: %s", prefix, (*err)->message);
        free(prefix);
        free((*err)->message);
        (*err)->message = full;
        return -(*err)->code;
}

OCID_EXPORT int ocid_error_code(struct ocid_error *const *err)
{
        return (err && *err) ? (*err)->code : 0;
}

OCID_EXPORT const char *ocid_error_message(struct ocid_error *const *err)
{
        return (err && *err && (*err)->message) ? (*err)->message : "";
}

OCID_EXPORT void ocid_error_clear(struct ocid_error **err)
{
        if (err)
                *err = ocid_error_free(*err);
}

OCID_EXPORT struct ocid_error *ocid_error_free(struct ocid_error *e)
{
        if (e) {
                free(e->message);
                free(e);
        }
        return NULL;
}
