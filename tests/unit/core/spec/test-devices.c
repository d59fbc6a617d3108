/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "../../test-common.h"
#include "spec-test.h"

#include <json-c/json.h>

#include <ocid/cleanup.h>
#include <ocid/error.h>
#include <ocid/json.h>
#include <ocid/util.h>

#include "spec/devices.h"

#define J(o) json_object_to_json_string_ext((o), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static struct json_object *find_path(struct json_object *devices, const char *path)
{
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                struct json_object *d = json_object_array_get_idx(devices, i);
                if (streq(ocid_json_get_string(d, "path"), path))
                        return d;
        }
        return NULL;
}

static void test_permissions(void **state)
{
        const char *good[] = { "", "r", "w", "m", "rw", "rwm", "mwr", "wm" };
        const char *bad[] = { "x", "rr", "rwmr", "rw ", "a", "RWM" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_int_equal(devices_permissions_check(good[i], NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_error_ struct ocid_error *err = NULL;
                assert_int_equal(devices_permissions_check(bad[i], &err), -EINVAL);
        }
}

static void test_defaults(void **state)
{
        _cleanup_json_ struct json_object *devices = json_object_new_array(), *rules = json_object_new_array();

        devices_add_defaults(devices, rules);
        assert_int_equal(json_object_array_length(devices), 6);
        assert_string_equal(J(json_object_array_get_idx(devices, 0)),
                            "{\"path\":\"/dev/null\",\"type\":\"c\",\"major\":1,\"minor\":3,\"fileMode\":438,\"uid\":0,\"gid\":0}");
        assert_non_null(find_path(devices, "/dev/zero"));
        assert_non_null(find_path(devices, "/dev/full"));
        assert_non_null(find_path(devices, "/dev/random"));
        assert_non_null(find_path(devices, "/dev/urandom"));
        assert_non_null(find_path(devices, "/dev/tty"));
        assert_null(find_path(devices, "/dev/mem"));
        assert_string_equal(J(rules),
                            "[{\"allow\":false,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":7,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":8,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":9,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":0,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":2,\"access\":\"rwm\"},"
                            "{\"allow\":true,\"type\":\"c\",\"major\":136,\"access\":\"rwm\"}]");
}

static void test_cri_device(void **state)
{
        _cleanup_json_ struct json_object *devices = json_object_new_array(), *rules = json_object_new_array();
        Runtime__V1__Device d = RUNTIME__V1__DEVICE__INIT;
        struct json_object *e, *last;
        struct stat st;

        assert_int_equal(stat("/dev/null", &st), 0);
        devices_add_defaults(devices, rules);
        d.container_path = "/dev/mynull";
        d.host_path = "/dev/null";
        d.permissions = "rw";
        assert_int_equal(devices_add_cri(&d, 0, devices, rules, NULL), 0);
        e = find_path(devices, "/dev/mynull");
        assert_non_null(e);
        assert_string_equal(ocid_json_get_string(e, "type"), "c");
        assert_int_equal(ocid_json_get_int64(e, "major", -1), major(st.st_rdev));
        assert_int_equal(ocid_json_get_int64(e, "minor", -1), minor(st.st_rdev));
        last = json_object_array_get_idx(rules, json_object_array_length(rules) - 1);
        assert_string_equal(J(last), "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"}");

        /* empty permissions mean rwm; the same container path replaces the node */
        d.container_path = "/dev/zero";
        d.permissions = "";
        assert_int_equal(devices_add_cri(&d, 1, devices, rules, NULL), 0);
        assert_int_equal(json_object_array_length(devices), 7);
        e = find_path(devices, "/dev/zero");
        assert_int_equal(ocid_json_get_int64(e, "minor", -1), 3);
        last = json_object_array_get_idx(rules, json_object_array_length(rules) - 1);
        assert_string_equal(ocid_json_get_string(last, "access"), "rwm");
}

static void test_cri_device_refused(void **state)
{
        _cleanup_json_ struct json_object *devices = json_object_new_array(), *rules = json_object_new_array();
        Runtime__V1__Device d = RUNTIME__V1__DEVICE__INIT;
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *dir = scratch_dir();
        _cleanup_free_ char *file = xasprintf("%s/regular", dir);

        put_file(dir, "regular", "not a device");
        d.container_path = "/dev/x";
        d.host_path = file;
        assert_int_equal(devices_add_cri(&d, 2, devices, rules, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "container config: devices[2].host_path: '"));
        assert_non_null(strstr(ocid_error_message(&err), "is not a character or block device"));
        ocid_error_clear(&err);
        d.host_path = dir;
        assert_int_equal(devices_add_cri(&d, 2, devices, rules, &err), -EINVAL);
        ocid_error_clear(&err);
        d.host_path = "/dev/does-not-exist-here";
        assert_int_equal(devices_add_cri(&d, 2, devices, rules, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "does not exist on the host"));
        ocid_error_clear(&err);
        d.host_path = "/dev/null";
        d.permissions = "rwx";
        assert_int_equal(devices_add_cri(&d, 2, devices, rules, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "devices[2]: permissions 'rwx'"));
        ocid_error_clear(&err);
        d.permissions = "r";
        d.container_path = "dev/x";
        assert_int_equal(devices_add_cri(&d, 2, devices, rules, &err), -EINVAL);
        assert_non_null(strstr(ocid_error_message(&err), "devices[2].container_path: path 'dev/x' is not absolute"));
        ocid_error_clear(&err);
        d.container_path = "/dev/x";
        d.host_path = "null";
        assert_int_equal(devices_add_cri(&d, 2, devices, rules, &err), -EINVAL);
        assert_int_equal(json_object_array_length(devices), 0);
        assert_int_equal(json_object_array_length(rules), 0);
        scratch_remove(TAKE_PTR(dir));
}

static void test_host_devices(void **state)
{
        _cleanup_json_ struct json_object *devices = json_object_new_array(), *rules = json_object_new_array();
        struct json_object *null;

        assert_int_equal(devices_add_host("/dev", devices, rules, NULL), 0);
        null = find_path(devices, "/dev/null");
        assert_non_null(null);
        assert_int_equal(ocid_json_get_int64(null, "major", -1), 1);
        assert_int_equal(ocid_json_get_int64(null, "minor", -1), 3);
        assert_null(find_path(devices, "/dev/ptmx"));
        assert_null(find_path(devices, "/dev/console"));
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                const char *p = ocid_json_get_string(json_object_array_get_idx(devices, i), "path");
                assert_null(ocid_startswith(p, "/dev/pts/"));
                assert_null(ocid_startswith(p, "/dev/shm/"));
        }
        assert_string_equal(J(rules), "[{\"allow\":true,\"access\":\"rwm\"}]");
}

static void test_host_devices_elsewhere(void **state)
{
        _cleanup_json_ struct json_object *devices = json_object_new_array(), *rules = json_object_new_array();
        _cleanup_error_ struct ocid_error *err = NULL;
        _cleanup_free_ char *dir = scratch_dir();
        _cleanup_free_ char *missing = xasprintf("%s/missing", dir);

        /* no device nodes in a plain directory (a non-root test cannot mknod) */
        put_file(dir, "sub/file", "x");
        put_symlink(dir, "null", "/dev/null");
        assert_int_equal(devices_add_host(dir, devices, rules, NULL), 0);
        assert_int_equal(json_object_array_length(devices), 0);
        assert_int_equal(json_object_array_length(rules), 1);
        assert_int_equal(devices_add_host(missing, devices, rules, &err), -ENOENT);
        scratch_remove(TAKE_PTR(dir));
}

OCID_TEST_MAIN(cmocka_unit_test(test_permissions),
               cmocka_unit_test(test_defaults),
               cmocka_unit_test(test_cri_device),
               cmocka_unit_test(test_cri_device_refused),
               cmocka_unit_test(test_host_devices),
               cmocka_unit_test(test_host_devices_elsewhere))
