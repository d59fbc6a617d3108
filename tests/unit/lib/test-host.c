/* SPDX-License-Identifier: Apache-2.0 */
#include "lib-test.h"

#include <ocid/host.h>

static void test_defaults_then_set(void **state)
{
        char root[] = "/tmp/r1", runroot[] = "/tmp/rr1";
        const char *before;

        assert_string_equal(ocid_host_root(), "/var/lib/ocid");
        assert_string_equal(ocid_host_runroot(), "/run/ocid");

        ocid_host_set_paths(root, runroot);
        /* copies: changing the caller's buffers changes nothing */
        root[5] = 'X';
        runroot[5] = 'X';
        assert_string_equal(ocid_host_root(), "/tmp/r1");
        assert_string_equal(ocid_host_runroot(), "/tmp/rr1");

        /* NULL leaves a path as it is; an earlier pointer stays valid */
        before = ocid_host_root();
        ocid_host_set_paths("/tmp/r2", NULL);
        assert_string_equal(ocid_host_root(), "/tmp/r2");
        assert_string_equal(ocid_host_runroot(), "/tmp/rr1");
        assert_string_equal(before, "/tmp/r1");
}

OCID_TEST_MAIN(cmocka_unit_test(test_defaults_then_set))
