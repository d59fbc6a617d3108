/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the network module, against the test modules: the results
 * of a status op are normalised and a failing op's error is forwarded. */

#include <errno.h>
#include <stdlib.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include "network.h"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static void test_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        assert_null(reason);
        assert_null(message);
}

static void test_not_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-network", "modules: { fake-network: { ready = false; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "FakeNotReady");
        assert_string_equal(message, "fake-network is configured not ready");
}

/* A module that says "not ready" without why still gives the caller a
 * reason and a message. */
static void test_not_ready_quietly(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-network", "modules: { fake-network: { ready = false; quiet = true; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "NotReady");
        assert_string_equal(message, "module 'fake-network' is not ready");
}

static void test_status_fails(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-network", "modules: { fake-network: { status_fails = true; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_error(r, e, EHOSTDOWN, "module 'fake-network': status: the fake backend is down");
        assert_null(reason);
        assert_null(message);

        /* The caller may pass no error at all. */
        r = network_status(m, &reason, &message, NULL);
        assert_int_equal(r, -EHOSTDOWN);
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-storage", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = network_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-storage' is a storage module, not a network module");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready),
                cmocka_unit_test(test_not_ready),
                cmocka_unit_test(test_not_ready_quietly),
                cmocka_unit_test(test_status_fails),
                cmocka_unit_test(test_wrong_kind),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
