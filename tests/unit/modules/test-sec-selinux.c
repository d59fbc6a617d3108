/* SPDX-License-Identifier: Apache-2.0 */
/* sec-selinux: the module's source is linked into this program with
 * is_selinux_enabled() and security_getenforce() mocked (-Wl,--wrap), to
 * prove enforcing, permissive and disabled hosts; the built module runs
 * against the real host. */

#include <errno.h>
#include <json-c/json.h>
#include <selinux/selinux.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/json.h>

#include "security.h"

extern const struct ocid_module_info sec_selinux_LTX_ocid_module_info;

/* The mocks: when active, they return mock_enabled and mock_enforce. */
static bool mock_active;
static int mock_enabled, mock_enforce;

int __real_is_selinux_enabled(void);
int __wrap_is_selinux_enabled(void);
int __real_security_getenforce(void);
int __wrap_security_getenforce(void);

int __wrap_is_selinux_enabled(void)
{
        if (!mock_active)
                return __real_is_selinux_enabled();
        if (mock_enabled < 0)
                errno = EIO;
        return mock_enabled;
}

int __wrap_security_getenforce(void)
{
        if (!mock_active)
                return __real_security_getenforce();
        return mock_enforce;
}

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

static struct json_object *linked_info(int enabled, int enforce)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_linked(&sec_selinux_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL, *reason = NULL, *message = NULL;
        struct json_object *o;
        int r;

        mock_active = true;
        mock_enabled = enabled;
        mock_enforce = enforce;
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

static void expect_enabled(int enforce, const char *mode)
{
        _cleanup_json_ struct json_object *o = linked_info(1, enforce);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_true(json_object_get_boolean(v));
        assert_string_equal(ocid_json_get_string(o, "mode"), mode);
        assert_false(json_object_object_get_ex(o, "reason", NULL));
}

static void test_enabled(void **state)
{
        expect_enabled(1, "enforcing");
        expect_enabled(0, "permissive");
        expect_enabled(-1, "unknown");
}

static void test_disabled(void **state)
{
        _cleanup_json_ struct json_object *o = linked_info(0, 0);
        _cleanup_json_ struct json_object *failed = linked_info(-1, 0);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_false(json_object_get_boolean(v));
        assert_string_equal(ocid_json_get_string(o, "reason"),
                            "SELinux is disabled or not supported by the kernel");
        assert_false(json_object_object_get_ex(o, "mode", NULL));

        assert_string_equal(ocid_json_get_string(failed, "reason"),
                            "cannot determine whether SELinux is enabled: Input/output error");
}

static void test_built_module(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("sec-selinux", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int r;

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_int_equal(json_object_get_boolean(v), __real_is_selinux_enabled() == 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_enabled),
                cmocka_unit_test(test_disabled),
                cmocka_unit_test(test_built_module),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
