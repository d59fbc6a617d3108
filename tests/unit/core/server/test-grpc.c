/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <ocid/cleanup.h>
#include <ocid/util.h>

#include "../../test-common.h"
#include "server/grpc.h"

static void test_status_names(void **state)
{
        assert_string_equal(grpc_status_to_string(GRPC_STATUS_OK), "OK");
        assert_string_equal(grpc_status_to_string(GRPC_STATUS_UNIMPLEMENTED), "UNIMPLEMENTED");
        assert_string_equal(grpc_status_to_string(GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
        assert_string_equal(grpc_status_to_string(17), "UNKNOWN_STATUS");
        assert_string_equal(grpc_status_to_string(-1), "UNKNOWN_STATUS");
        for (int i = 0; i < _GRPC_STATUS_MAX; i++)
                assert_non_null(grpc_status_to_string(i));
}

static void test_errno_mapping(void **state)
{
        static const struct {
                int code, status;
        } table[] = {
                { 0, GRPC_STATUS_OK },
                { ENOENT, GRPC_STATUS_NOT_FOUND },
                { EINVAL, GRPC_STATUS_INVALID_ARGUMENT },
                { ENOTUNIQ, GRPC_STATUS_INVALID_ARGUMENT },
                { ENAMETOOLONG, GRPC_STATUS_INVALID_ARGUMENT },
                { EEXIST, GRPC_STATUS_ALREADY_EXISTS },
                { EOPNOTSUPP, GRPC_STATUS_UNIMPLEMENTED },
                { ENOTSUP, GRPC_STATUS_UNIMPLEMENTED },
                { ENOSYS, GRPC_STATUS_UNIMPLEMENTED },
                { ETIMEDOUT, GRPC_STATUS_DEADLINE_EXCEEDED },
                { EPERM, GRPC_STATUS_PERMISSION_DENIED },
                { EACCES, GRPC_STATUS_PERMISSION_DENIED },
                { EBUSY, GRPC_STATUS_FAILED_PRECONDITION },
                { ELOOP, GRPC_STATUS_FAILED_PRECONDITION },
                { ENOSPC, GRPC_STATUS_RESOURCE_EXHAUSTED },
                { EMSGSIZE, GRPC_STATUS_RESOURCE_EXHAUSTED },
                { ENOMEM, GRPC_STATUS_RESOURCE_EXHAUSTED },
                { EDQUOT, GRPC_STATUS_RESOURCE_EXHAUSTED },
                { ECANCELED, GRPC_STATUS_CANCELLED },
                { ERANGE, GRPC_STATUS_OUT_OF_RANGE },
                { EAGAIN, GRPC_STATUS_UNAVAILABLE },
                { EPROTO, GRPC_STATUS_INTERNAL },
                { EIO, GRPC_STATUS_UNKNOWN },
                { EXDEV, GRPC_STATUS_UNKNOWN },
                { 9999, GRPC_STATUS_UNKNOWN },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                int got = grpc_status_from_errno(table[i].code);

                if (got != table[i].status)
                        fail_msg("errno %d (%s): got %s, want %s", table[i].code, strerror(table[i].code),
                                 grpc_status_to_string(got), grpc_status_to_string(table[i].status));
        }
}

static void test_timeout_units(void **state)
{
        static const struct {
                const char *s;
                int64_t ns;
        } table[] = {
                { "1n", 1 },
                { "7u", 7000 },
                { "100m", 100000000 },
                { "5S", 5000000000 },
                { "2M", 120000000000 },
                { "1H", 3600000000000 },
                { "0m", 0 },
                { "00000001S", 1000000000 },
                { "99999999n", 99999999 },
                { "99999999S", INT64_C(99999999000000000) },
                /* 99999999 hours is about 3.6e20 ns: saturated, not wrapped. */
                { "99999999H", INT64_MAX },
                { "99999999M", INT64_C(5999999940000000000) },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                int64_t ns = -1;

                if (grpc_timeout_parse(table[i].s, &ns) < 0)
                        fail_msg("'%s' rejected", table[i].s);
                if (ns != table[i].ns)
                        fail_msg("'%s': got %" PRId64 ", want %" PRId64, table[i].s, ns, table[i].ns);
        }
}

static void test_timeout_malformed(void **state)
{
        static const char *const bad[] = {
                "", "S", "m", "10", "10s", "10h", "10x", "1.5S", "-1S", "+1S", " 1S", "1S ", "1 S",
                "123456789S", "1SS", "1Sm", "0x10S", "１S", "1\tS",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int64_t ns = 42;

                if (grpc_timeout_parse(bad[i], &ns) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
                assert_int_equal(ns, 42);
        }
        assert_int_equal(grpc_timeout_parse(NULL, &(int64_t) { 0 }), -EINVAL);
}

static void check_encode(const char *in, const char *want)
{
        _cleanup_free_ char *enc = grpc_percent_encode(in);
        _cleanup_free_ char *dec = grpc_percent_decode(enc);

        assert_string_equal(enc, want);
        assert_string_equal(dec, in);
}

static void test_percent_encoding(void **state)
{
        check_encode("", "");
        check_encode("plain text, with: punctuation!", "plain text, with: punctuation!");
        check_encode("100%", "100%25");
        check_encode("line\nbreak\ttab", "line%0Abreak%09tab");
        check_encode("caf\xc3\xa9", "caf%C3%A9");
        check_encode("\x7f~ ", "%7F~ ");
        check_encode("%%", "%25%25");
}

static void test_percent_decode_lenient(void **state)
{
        static const struct {
                const char *in, *out;
        } table[] = {
                { "%", "%" },
                { "%4", "%4" },
                { "%zz", "%zz" },
                { "a%2", "a%2" },
                { "%41%42", "AB" },
                { "%e2%9c%93", "\xe2\x9c\x93" },
                { "%00x", "%00x" },     /* a NUL cannot be represented: kept as is */
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *dec = grpc_percent_decode(table[i].in);

                assert_string_equal(dec, table[i].out);
        }
}

OCID_TEST_MAIN(cmocka_unit_test(test_status_names),
               cmocka_unit_test(test_errno_mapping),
               cmocka_unit_test(test_timeout_units),
               cmocka_unit_test(test_timeout_malformed),
               cmocka_unit_test(test_percent_encoding),
               cmocka_unit_test(test_percent_decode_lenient))
