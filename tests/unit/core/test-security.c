/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to security modules, against the test modules: the test
 * security module has no status op, which is "not supported". */

#include <errno.h>
#include <stdlib.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include "security.h"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static void test_not_supported(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-security", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = security_status(m, &reason, &message, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-security' does not support status");
        assert_null(reason);
        assert_null(message);
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = security_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-runtime' is a runtime module, not a security module");
}

static void test_not_initialised(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = module_load(NULL, "fake-security", 0, &m, &e);
        assert_no_error(r, e);
        r = security_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-security': status: not initialised");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_supported),
                cmocka_unit_test(test_wrong_kind),
                cmocka_unit_test(test_not_initialised),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
