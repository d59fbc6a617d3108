/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

static void test_set_appends_strerror(void **state)
{
        struct ocid_error *err = NULL;

        assert_int_equal(ocid_error_set(&err, ENOENT, "open '%s'", "x"), -ENOENT);
        assert_non_null(err);
        assert_int_equal(err->code, ENOENT);
        assert_err(err, ENOENT, "open 'x': No such file or directory");
        assert_null(err);
}

static void test_msg_is_verbatim(void **state)
{
        struct ocid_error *err = NULL;

        assert_int_equal(ocid_error_msg(&err, EINVAL, "unknown key '%s'", "k"), -EINVAL);
        assert_err(err, EINVAL, "unknown key 'k'");
}

static int call_setv(struct ocid_error **err, int code, int with, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int call_setv(struct ocid_error **err, int code, int with, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = ocid_error_setv(err, code, with, fmt, ap);
        va_end(ap);
        return r;
}

static void test_setv(void **state)
{
        struct ocid_error *err = NULL;

        assert_int_equal(call_setv(&err, EACCES, 1, "a %d", 1), -EACCES);
        assert_err(err, EACCES, "a 1: Permission denied");
        assert_int_equal(call_setv(&err, EACCES, 0, "b %s", "c"), -EACCES);
        assert_err(err, EACCES, "b c");
}

static void test_prefix(void **state)
{
        struct ocid_error *err = NULL;

        (void) ocid_error_set(&err, EPERM, "mount '%s'", "/y");
        assert_int_equal(ocid_error_prefix(&err, "create sandbox '%s'", "x"), -EPERM);
        assert_int_equal(ocid_error_prefix(&err, "run"), -EPERM);
        assert_err(err, EPERM, "run: create sandbox 'x': mount '/y': Operation not permitted");
}

static void test_null_err_drops(void **state)
{
        assert_int_equal(ocid_error_set(NULL, ENOENT, "x"), -ENOENT);
        /* the chain set -> prefix keeps the code without an error object */
        assert_int_equal(ocid_error_prefix(NULL, "y"), -ENOENT);
        assert_int_equal(ocid_error_msg(NULL, EBUSY, "x"), -EBUSY);
        assert_int_equal(ocid_error_prefix(NULL, "y"), -EBUSY);
}

static void test_code_and_message_when_unset(void **state)
{
        struct ocid_error *err = NULL;

        assert_int_equal(ocid_error_code(NULL), 0);
        assert_int_equal(ocid_error_code(&err), 0);
        assert_string_equal(ocid_error_message(NULL), "");
        assert_string_equal(ocid_error_message(&err), "");
        ocid_error_clear(&err);
        ocid_error_clear(NULL);
        assert_null(ocid_error_free(NULL));
}

static void test_free_and_cleanup(void **state)
{
        struct ocid_error *e = NULL;

        (void) ocid_error_set(&e, EIO, "x");
        assert_null(ocid_error_free(e));
        {
                _cleanup_error_ struct ocid_error *scoped = NULL;
                (void) ocid_error_msg(&scoped, EIO, "freed at scope end");
                assert_non_null(scoped);
        }
}

static void set_twice(void)
{
        struct ocid_error *err = NULL;

        (void) ocid_error_set(&err, EIO, "first");
        (void) ocid_error_set(&err, EIO, "second");
}

static void set_code_zero(void)
{
        struct ocid_error *err = NULL;

        (void) ocid_error_msg(&err, 0, "no code");
}

static void prefix_unset(void)
{
        struct ocid_error *err = NULL;

        (void) ocid_error_prefix(&err, "nothing to prefix");
}

static void test_asserts(void **state)
{
#ifdef NDEBUG
        skip();
#else
        assert_aborts(set_twice);
        assert_aborts(set_code_zero);
        assert_aborts(prefix_unset);
#endif
}

OCID_TEST_MAIN(cmocka_unit_test(test_set_appends_strerror), cmocka_unit_test(test_msg_is_verbatim),
               cmocka_unit_test(test_setv), cmocka_unit_test(test_prefix), cmocka_unit_test(test_null_err_drops),
               cmocka_unit_test(test_code_and_message_when_unset), cmocka_unit_test(test_free_and_cleanup),
               cmocka_unit_test(test_asserts))
