/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <ocid/util.h>

#include "server/grpc.h"

static const char *const status_names[_GRPC_STATUS_MAX] = {
        [GRPC_STATUS_OK] = "OK",
        [GRPC_STATUS_CANCELLED] = "CANCELLED",
        [GRPC_STATUS_UNKNOWN] = "UNKNOWN",
        [GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
        [GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
        [GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
        [GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
        [GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
        [GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
        [GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
        [GRPC_STATUS_ABORTED] = "ABORTED",
        [GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
        [GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
        [GRPC_STATUS_INTERNAL] = "INTERNAL",
        [GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
        [GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
        [GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *grpc_status_to_string(int status)
{
        if (status < 0 || status >= _GRPC_STATUS_MAX)
                return "UNKNOWN_STATUS";
        return status_names[status];
}

int grpc_status_from_errno(int code)
{
        switch (code) {
        case 0:
                return GRPC_STATUS_OK;
        case ENOENT:
                return GRPC_STATUS_NOT_FOUND;
        case EINVAL:
        case ENOTUNIQ:          /* an ambiguous ID prefix */
        case ENAMETOOLONG:
                return GRPC_STATUS_INVALID_ARGUMENT;
        case EEXIST:
                return GRPC_STATUS_ALREADY_EXISTS;
        case EOPNOTSUPP:        /* == ENOTSUP on Linux */
        case ENOSYS:
                return GRPC_STATUS_UNIMPLEMENTED;
        case ETIMEDOUT:
                return GRPC_STATUS_DEADLINE_EXCEEDED;
        case EPERM:
        case EACCES:
                return GRPC_STATUS_PERMISSION_DENIED;
        case EBUSY:
        case ELOOP:             /* a symlink loop or a refused link in an image */
                return GRPC_STATUS_FAILED_PRECONDITION;
        case ENOSPC:
        case EMSGSIZE:
        case ENOMEM:
        case EDQUOT:
                return GRPC_STATUS_RESOURCE_EXHAUSTED;
        case ECANCELED:
                return GRPC_STATUS_CANCELLED;
        case ERANGE:
                return GRPC_STATUS_OUT_OF_RANGE;
        case EAGAIN:
                return GRPC_STATUS_UNAVAILABLE;
        case EPROTO:
                return GRPC_STATUS_INTERNAL;
        default:
                return GRPC_STATUS_UNKNOWN;
        }
}

int grpc_timeout_parse(const char *s, int64_t *ret_ns)
{
        uint64_t value = 0, unit_ns;
        size_t n = 0;

        if (!s)
                return -EINVAL;
        while (s[n] >= '0' && s[n] <= '9') {
                if (n == 8)
                        return -EINVAL;
                value = value * 10 + (uint64_t) (s[n] - '0');
                n++;
        }
        if (n == 0 || s[n] == '\0' || s[n + 1] != '\0')
                return -EINVAL;

        switch (s[n]) {
        case 'H': unit_ns = UINT64_C(3600000000000); break;
        case 'M': unit_ns = UINT64_C(60000000000); break;
        case 'S': unit_ns = UINT64_C(1000000000); break;
        case 'm': unit_ns = UINT64_C(1000000); break;
        case 'u': unit_ns = UINT64_C(1000); break;
        case 'n': unit_ns = 1; break;
        default:
                return -EINVAL;
        }

        /* value < 10^8 and unit_ns < 3.7 * 10^12, so the product fits in 64
         * unsigned bits; only the conversion to int64 can overflow. */
        value *= unit_ns;
        *ret_ns = value > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) value;
        return 0;
}

static bool percent_unreserved(unsigned char c)
{
        return c >= 0x20 && c <= 0x7e && c != '%';
}

char *grpc_percent_encode(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t len = 0;
        char *out, *p;

        for (const unsigned char *i = (const unsigned char *) s; *i; i++)
                len += percent_unreserved(*i) ? 1 : 3;
        out = p = xmalloc(len + 1);
        for (const unsigned char *i = (const unsigned char *) s; *i; i++) {
                if (percent_unreserved(*i)) {
                        *p++ = (char) *i;
                } else {
                        *p++ = '%';
                        *p++ = hex[*i >> 4];
                        *p++ = hex[*i & 0xf];
                }
        }
        *p = '\0';
        return out;
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

char *grpc_percent_decode(const char *s)
{
        char *out = xmalloc(strlen(s) + 1), *p = out;

        for (size_t i = 0; s[i]; i++) {
                if (s[i] == '%' && s[i + 1] && s[i + 2]) {
                        int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);

                        if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
                                *p++ = (char) (hi << 4 | lo);
                                i += 2;
                                continue;
                        }
                }
                *p++ = s[i];
        }
        *p = '\0';
        return out;
}
