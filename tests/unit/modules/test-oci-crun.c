/* SPDX-License-Identifier: Apache-2.0 */
/* oci-crun, loaded from the build tree: handler readiness against scripts
 * standing in for the runtime binary, and against the real crun when the
 * host has it; as root, containers with the real crun and conmon.
 *
 * crun refuses a cgroup v1 host that also mounts cgroup v2 at
 * /sys/fs/cgroup/unified (hybrid mode). As root, this program therefore
 * moves into a private mount namespace and unmounts that there, as an
 * operator runs ocid with crun on such a host (docs/modules.md). */

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h> /* MS_REC, MS_PRIVATE, MNT_DETACH */
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h> /* CGROUP2_SUPER_MAGIC */

#include "../test-common.h"
#include "module-test.h"
#include "oci-test.h"

/* The real binary, where Debian's package puts it. */
static void test_real_binary(void **state)
{
        struct oci_fixture *f = *state;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *bins;

        if (access("/usr/bin/crun", X_OK) < 0) {
                print_message("# skipped: no /usr/bin/crun\n");
                return;
        }
        assert_int_equal(oci_status(f, "/usr/bin/crun", NULL), 1);
        o = oci_info(f);
        assert_true(json_object_object_get_ex(o, "binaries", &bins));
        assert_contains(ocid_json_get_string(json_object_array_get_idx(bins, 0), "version"), "crun version");
}

/* A private mount namespace without the hybrid cgroup v2 mount; on failure
 * the container tests skip, saying why. */
static void crun_private_cgroups(void)
{
        struct statfs sfs;

        if (geteuid() != 0)
                return;
        if (unshare(CLONE_NEWNS) < 0) {
                oci_rt_unavailable = "cannot unshare the mount namespace";
                return;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                oci_rt_unavailable = "cannot make the mounts private";
                return;
        }
        if (statfs("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC &&
            umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0)
                oci_rt_unavailable = "cannot unmount /sys/fs/cgroup/unified";
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                OCI_TESTS,
                cmocka_unit_test_setup_teardown(test_real_binary, oci_setup, oci_teardown),
                OCI_RT_TESTS,
        };

        oci_module_name = "oci-crun";
        oci_runtime_path = "/usr/bin/crun";
        crun_private_cgroups();
        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
