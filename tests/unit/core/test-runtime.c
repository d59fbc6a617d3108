/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to runtime modules, against the test runtime module (ready when
 * the handler's binary is executable). */

#include <errno.h>
#include <stdlib.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include "modules.h"
#include "runtime.h"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static struct modules_handler handler(struct ocid_module *m, const char *path)
{
        struct modules_handler h = {
                .h = { .size = sizeof(h.h), .name = "fake", .path = path },
                .module = m,
        };

        return h;
}

static void test_handler_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        struct modules_handler h = handler(m, "/bin/sh");
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        assert_null(reason);
        assert_null(message);

        r = runtime_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
}

static void test_handler_not_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        struct modules_handler h = handler(m, "/nonexistent/runtime");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "FakeBinaryMissing");
        assert_string_equal(message, "handler 'fake': '/nonexistent/runtime' is not executable");
}

static void test_handler_error(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-runtime", NULL);
        struct modules_handler h = handler(m, NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-runtime': handler_status: handler 'fake' has no path");
        assert_null(reason);
        assert_null(message);
        ocid_error_clear(&e);

        r = runtime_handler_status(NULL, &reason, &message, &e);
        assert_error(r, e, EINVAL, "no runtime handler");
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        struct modules_handler h = handler(m, "/bin/sh");
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = runtime_handler_status(&h, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a runtime module");
        ocid_error_clear(&e);
        r = runtime_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a runtime module");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_handler_ready),
                cmocka_unit_test(test_handler_not_ready),
                cmocka_unit_test(test_handler_error),
                cmocka_unit_test(test_wrong_kind),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
