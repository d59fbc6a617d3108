/* SPDX-License-Identifier: Apache-2.0 */
/* sec-apparmor: the module's source is linked into this program with
 * aa_is_enabled() mocked (-Wl,--wrap), to prove both an enabled and a
 * disabled host; the built module runs against the real host. */

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/json.h>

#include "security.h"

extern const struct ocid_module_info sec_apparmor_LTX_ocid_module_info;

/* The mock: when active, aa_is_enabled() returns mock_ret with errno set to
 * mock_errno; otherwise the real one runs. */
static bool mock_active;
static int mock_ret, mock_errno;

int __real_aa_is_enabled(void);
int __wrap_aa_is_enabled(void);

int __wrap_aa_is_enabled(void)
{
        if (!mock_active)
                return __real_aa_is_enabled();
        errno = mock_errno;
        return mock_ret;
}

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        return 0;
}

/* Starts the linked copy with the mock set, and returns its info. */
static struct json_object *linked_info(int ret, int errnum)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_linked(&sec_apparmor_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL, *reason = NULL, *message = NULL;
        struct json_object *o;
        int r;

        mock_active = true;
        mock_ret = ret;
        mock_errno = errnum;
        r = module_init(m, NULL, &e);
        mock_active = false;
        assert_no_error(r, e);

        /* Absent or present, the module is ready. */
        r = security_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_non_null(o);
        return o;
}

static void expect_disabled(int errnum, const char *reason)
{
        _cleanup_json_ struct json_object *o = linked_info(0, errnum);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_false(json_object_get_boolean(v));
        assert_string_equal(ocid_json_get_string(o, "reason"), reason);
}

static void test_enabled(void **state)
{
        _cleanup_json_ struct json_object *o = linked_info(1, 0);
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_true(json_object_get_boolean(v));
        assert_false(json_object_object_get_ex(o, "reason", NULL));
}

static void test_disabled(void **state)
{
        expect_disabled(ENOSYS, "AppArmor is not available on this system");
        expect_disabled(ECANCELED, "AppArmor is available but was disabled at boot");
        expect_disabled(ENOENT, "AppArmor is available but its interface (securityfs) is not mounted");
        expect_disabled(EACCES, "not permitted to determine whether AppArmor is enabled");
        expect_disabled(ENOMEM, "AppArmor is not enabled: Cannot allocate memory");
}

/* The built module on this host: whatever the host has, a consistent
 * report and no failure. */
static void test_built_module(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("sec-apparmor", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *json = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        int r;

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_true(json_object_object_get_ex(o, "enabled", &v));
        assert_int_equal(json_object_get_boolean(v), __real_aa_is_enabled() == 1);
        if (!json_object_get_boolean(v))
                assert_non_null(ocid_json_get_string(o, "reason"));
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
