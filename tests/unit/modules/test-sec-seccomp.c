/* SPDX-License-Identifier: Apache-2.0 */
/* sec-seccomp: the built module is ready and its report of the kernel's
 * seccomp support agrees with /proc/self/status; the module's source is
 * also linked into this program with prctl() mocked (-Wl,--wrap) to prove
 * the kernels without seccomp or without filter mode. */

#include <errno.h>
#include <json-c/json.h>
#include <linux/prctl.h> /* PR_GET_SECCOMP, PR_SET_SECCOMP */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/json.h>

#include "security.h"

extern const struct ocid_module_info sec_seccomp_LTX_ocid_module_info;

/* The mock: when active, PR_GET_SECCOMP and PR_SET_SECCOMP fail with
 * mock_get_errno and mock_set_errno; everything else is real. */
static bool mock_active;
static int mock_get_errno, mock_set_errno;

int __real_prctl(int option, ...);
int __wrap_prctl(int option, ...);

int __wrap_prctl(int option, ...)
{
        unsigned long a[4];
        va_list ap;

        va_start(ap, option);
        for (size_t i = 0; i < ELEMENTSOF(a); i++)
                a[i] = va_arg(ap, unsigned long);
        va_end(ap);
        if (mock_active && option == PR_GET_SECCOMP && mock_get_errno) {
                errno = mock_get_errno;
                return -1;
        }
        if (mock_active && option == PR_SET_SECCOMP) {
                errno = mock_set_errno;
                return -1;
        }
        return __real_prctl(option, a[0], a[1], a[2], a[3]);
}

static struct json_object *linked_info(int get_errno, int set_errno)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_linked(&sec_seccomp_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL, *reason = NULL, *message = NULL;
        struct json_object *o;
        int r;

        mock_active = true;
        mock_get_errno = get_errno;
        mock_set_errno = set_errno;
        r = module_init(m, NULL, &e);
        mock_active = false;
        assert_no_error(r, e);

        r = security_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        return o;
}

static void expect_support(int get_errno, int set_errno, bool supported, const char *reason)
{
        _cleanup_json_ struct json_object *o = linked_info(get_errno, set_errno);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "kernel_support", &v));
        assert_int_equal(json_object_get_boolean(v), supported);
        if (reason)
                assert_string_equal(ocid_json_get_string(o, "reason"), reason);
        else
                assert_false(json_object_object_get_ex(o, "reason", NULL));
}

static void test_kernels(void **state)
{
        /* Filter mode present: a NULL program is EFAULT, or EACCES without
         * no_new_privs. */
        expect_support(0, EFAULT, true, NULL);
        expect_support(0, EACCES, true, NULL);
        expect_support(0, EINVAL, false, "the kernel has no seccomp filter mode (CONFIG_SECCOMP_FILTER)");
        expect_support(EINVAL, EINVAL, false, "the kernel is built without seccomp (CONFIG_SECCOMP)");
}

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

static void test_status_and_info(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("sec-seccomp", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL, *json = NULL, *status = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int r, kernel;

        r = security_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "kernel_support", &v));
        assert_true(json_object_is_type(v, json_type_boolean));
        kernel = json_object_get_boolean(v);
        assert_true(json_object_object_get_ex(o, "libseccomp", &v));
        assert_non_null(json_object_get_string(v));

        /* A kernel with seccomp shows a "Seccomp:" line for every task. */
        r = ocid_read_file("/proc/self/status", 1 << 20, &status, NULL, &e);
        assert_no_error(r, e);
        if (strstr(status, "\nSeccomp:"))
                assert_true(kernel);
        else {
                assert_false(kernel);
                assert_true(json_object_object_get_ex(o, "reason", &v));
        }
}

static void test_no_settings(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        config_t cfg;
        const config_setting_t *s = test_config_parse(&cfg, "modules: { sec-seccomp: { profile = \"x\"; }; };",
                                                      "modules.sec-seccomp");
        int r;

        r = module_load(NULL, "sec-seccomp", OCID_MODULE_KIND_SECURITY, &m, &e);
        assert_no_error(r, e);
        r = module_check(m, s, &e);
        assert_error(r, e, EINVAL, "module 'sec-seccomp': check: ");
        assert_contains(e->message, "modules.sec-seccomp.profile: unknown key");
        config_destroy(&cfg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_and_info),
                cmocka_unit_test(test_kernels),
                cmocka_unit_test(test_no_settings),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
