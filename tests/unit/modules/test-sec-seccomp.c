/* SPDX-License-Identifier: Apache-2.0 */
/* sec-seccomp, loaded from the build tree: ready, and its report of the
 * kernel's seccomp support agrees with /proc/self/status. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/json.h>

#include "security.h"

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
                cmocka_unit_test(test_no_settings),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
