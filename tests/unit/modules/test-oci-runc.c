/* SPDX-License-Identifier: Apache-2.0 */
/* oci-runc, loaded from the build tree: handler readiness against scripts
 * standing in for the runtime binary, and against the real runc when the
 * host has it. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test-common.h"
#include "module-test.h"
#include "oci-test.h"

/* The real binary, where Debian's package puts it. */
static void test_real_binary(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *bins;

        if (access("/usr/sbin/runc", X_OK) < 0) {
                print_message("# skipped: no /usr/sbin/runc\n");
                return;
        }
        assert_int_equal(oci_status(f, "/usr/sbin/runc", NULL), 1);
        o = oci_info(f);
        assert_true(json_object_object_get_ex(o, "binaries", &bins));
        assert_contains(ocid_json_get_string(json_object_array_get_idx(bins, 0), "version"), "runc version");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                OCI_TESTS,
                cmocka_unit_test_setup_teardown(test_real_binary, oci_setup, oci_teardown),
                OCI_RT_TESTS,
        };

        oci_module_name = "oci-runc";
        oci_runtime_path = "/usr/sbin/runc";
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
