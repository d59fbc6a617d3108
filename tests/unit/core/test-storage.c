/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the storage module, against the test modules. */

#include <errno.h>
#include <stdlib.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include "storage.h"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static void test_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-storage", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = storage_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        assert_null(reason);
        assert_null(message);
}

static void test_not_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-storage", "modules: { fake-storage: { ready = false; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = storage_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "FakeNotReady");
        assert_string_equal(message, "fake-storage is configured not ready");
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = storage_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a storage module");
        ocid_error_clear(&e);
        r = storage_status(NULL, &reason, &message, &e);
        assert_error(r, e, EINVAL, "status: no module");
        assert_null(reason);
        assert_null(message);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready),
                cmocka_unit_test(test_not_ready),
                cmocka_unit_test(test_wrong_kind),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
