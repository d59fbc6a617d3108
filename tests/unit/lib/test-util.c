/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <stdint.h>
#include <time.h>

static void test_alloc(void **state)
{
        _cleanup_free_ char *a = xmalloc(0), *b = xzalloc(64), *c = NULL, *d = NULL;
        int *v = xcalloc(16, sizeof(int));

        assert_non_null(a);
        for (int i = 0; i < 64; i++)
                assert_int_equal(b[i], 0);
        for (int i = 0; i < 16; i++)
                assert_int_equal(v[i], 0);
        v = xrealloc(v, 1024 * sizeof(int));
        v[1023] = 7;
        v = xreallocarray(v, 2048, sizeof(int));
        assert_int_equal(v[1023], 7);
        free(v);
        free(xcalloc(0, 0));
        free(xrealloc(NULL, 0));

        assert_null(xstrdup(NULL));
        assert_null(xstrndup(NULL, 3));
        c = xstrdup("hello");
        assert_string_equal(c, "hello");
        d = xstrndup("hello", 3);
        assert_string_equal(d, "hel");
        free(d);
        d = xasprintf("%s-%d", "x", 42);
        assert_string_equal(d, "x-42");
}

static void overflow_reallocarray(void)
{
        (void) xreallocarray(NULL, SIZE_MAX / 2, 3);
}

static void huge_malloc(void)
{
        (void) xmalloc(SIZE_MAX - 4096);
}

static void test_alloc_aborts(void **state)
{
        assert_aborts(overflow_reallocarray);
        assert_aborts(huge_malloc);
}

static void test_oom_message(void **state)
{
        int fds[2], status;
        char buf[256] = { 0 };
        pid_t pid;

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[1], STDERR_FILENO);
                huge_malloc();
                _exit(0);
        }
        close(fds[1]);
        assert_true(read(fds[0], buf, sizeof(buf) - 1) > 0);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_non_null(strstr(buf, "out of memory"));
}

static void test_strings(void **state)
{
        assert_true(streq("a", "a"));
        assert_false(streq("a", "b"));
        assert_true(streq_ptr(NULL, NULL));
        assert_false(streq_ptr("a", NULL));
        assert_false(streq_ptr(NULL, "a"));
        assert_true(streq_ptr("a", "a"));

        assert_string_equal(ocid_startswith("runtime.v1", "runtime."), "v1");
        assert_string_equal(ocid_startswith("abc", ""), "abc");
        assert_string_equal(ocid_startswith("abc", "abc"), "");
        assert_null(ocid_startswith("ab", "abc"));
        assert_null(ocid_startswith("xbc", "a"));

        assert_true(ocid_endswith("crio.conf", ".conf"));
        assert_true(ocid_endswith("x", ""));
        assert_true(ocid_endswith(".conf", ".conf"));
        assert_false(ocid_endswith("conf", ".conf"));
        assert_false(ocid_endswith("crio.confx", ".conf"));
        assert_int_equal(ELEMENTSOF((int[5]){ 0 }), 5);
}

static void test_parse_int64(void **state)
{
        int64_t v = 99;

        assert_int_equal(ocid_parse_int64("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(ocid_parse_int64("-17", &v), 0);
        assert_int_equal(v, -17);
        assert_int_equal(ocid_parse_int64("9223372036854775807", &v), 0);
        assert_true(v == INT64_MAX);
        assert_int_equal(ocid_parse_int64("-9223372036854775808", &v), 0);
        assert_true(v == INT64_MIN);
        assert_int_equal(ocid_parse_int64("007", &v), 0);
        assert_int_equal(v, 7);

        v = 99;
        assert_int_equal(ocid_parse_int64("9223372036854775808", &v), -ERANGE);
        assert_int_equal(ocid_parse_int64("-9223372036854775809", &v), -ERANGE);
        assert_int_equal(ocid_parse_int64("99999999999999999999999", &v), -ERANGE);
        assert_int_equal(ocid_parse_int64("", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64(NULL, &v), -EINVAL);
        assert_int_equal(ocid_parse_int64(" 1", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("\t1", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("1 ", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("1x", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("0x10", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("-", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("+1", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("--1", &v), -EINVAL);
        assert_int_equal(ocid_parse_int64("1.5", &v), -EINVAL);
        assert_int_equal(v, 99); /* untouched on failure */
}

static void test_parse_uint64(void **state)
{
        uint64_t v = 99;

        assert_int_equal(ocid_parse_uint64("0", &v), 0);
        assert_true(v == 0);
        assert_int_equal(ocid_parse_uint64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);

        v = 99;
        assert_int_equal(ocid_parse_uint64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(ocid_parse_uint64("-1", &v), -EINVAL);
        assert_int_equal(ocid_parse_uint64("-0", &v), -EINVAL);
        assert_int_equal(ocid_parse_uint64("+1", &v), -EINVAL);
        assert_int_equal(ocid_parse_uint64("", &v), -EINVAL);
        assert_int_equal(ocid_parse_uint64(NULL, &v), -EINVAL);
        assert_int_equal(ocid_parse_uint64(" 5", &v), -EINVAL);
        assert_int_equal(ocid_parse_uint64("5\n", &v), -EINVAL);
        assert_int_equal(ocid_parse_uint64("12ab", &v), -EINVAL);
        assert_true(v == 99);
}

static void test_strv(void **state)
{
        _cleanup_strv_ char **v = NULL;
        _cleanup_strv_ char **c = NULL;
        const char *lit[] = { "x", "y", NULL };

        assert_int_equal(ocid_strv_length(NULL), 0);
        assert_false(ocid_strv_contains(NULL, "a"));
        assert_null(ocid_strv_copy(NULL));

        ocid_strv_push(&v, "a");
        ocid_strv_push(&v, "b");
        ocid_strv_push(&v, "");
        assert_int_equal(ocid_strv_length(v), 3);
        assert_string_equal(v[0], "a");
        assert_string_equal(v[1], "b");
        assert_string_equal(v[2], "");
        assert_null(v[3]);
        assert_true(ocid_strv_contains(v, "b"));
        assert_true(ocid_strv_contains(v, ""));
        assert_false(ocid_strv_contains(v, "c"));

        c = ocid_strv_copy(lit);
        assert_int_equal(ocid_strv_length(c), 2);
        assert_string_equal(c[1], "y");
        assert_ptr_not_equal(c[0], lit[0]);

        {
                const char *none[] = { NULL };
                char **e = ocid_strv_copy(none);
                assert_non_null(e);
                assert_null(e[0]);
                ocid_strv_free(e);
        }
        ocid_strv_free(NULL);
}

static void test_clocks(void **state)
{
        int64_t a = ocid_now_monotonic_ns(), b;
        struct timespec ts = { 0, 2000000 };
        int64_t rt = ocid_now_realtime_ns();
        time_t now = time(NULL);

        nanosleep(&ts, NULL);
        b = ocid_now_monotonic_ns();
        assert_true(b - a >= 2000000);
        assert_true(rt / 1000000000 >= now - 2 && rt / 1000000000 <= now + 2);
}

static void test_random_id(void **state)
{
        char a[65], b[65];
        struct ocid_error *err = NULL;

        memset(a, 'Z', sizeof(a));
        assert_int_equal(ocid_random_id(a, &err), 0);
        assert_null(err);
        assert_int_equal(ocid_random_id(b, &err), 0);
        assert_int_equal(strlen(a), 64);
        assert_int_equal(strspn(a, "0123456789abcdef"), 64);
        assert_string_not_equal(a, b);
}

OCID_TEST_MAIN(cmocka_unit_test(test_alloc), cmocka_unit_test(test_alloc_aborts), cmocka_unit_test(test_oom_message),
               cmocka_unit_test(test_strings), cmocka_unit_test(test_parse_int64),
               cmocka_unit_test(test_parse_uint64), cmocka_unit_test(test_strv), cmocka_unit_test(test_clocks),
               cmocka_unit_test(test_random_id))
