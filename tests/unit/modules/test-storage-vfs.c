/* SPDX-License-Identifier: Apache-2.0 */
/* storage-vfs, loaded from the build tree: its directory below the host
 * root, readiness and settings. */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/host.h>
#include <ocid/json.h>

#include "storage.h"

static char *tmp;

static int setup(void **state)
{
        (void) test_env_dir("OCID_MODULE_DIR");
        tmp = test_tmpdir_new();
        ocid_host_set_paths(tmp, tmp);
        return 0;
}

static int teardown(void **state)
{
        test_tmpdir_free(tmp);
        return 0;
}

static void test_dir_and_status(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("storage-vfs", NULL);
        _cleanup_free_ char *dir = ocid_path_join(tmp, "storage-vfs"), *json = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL, *needle = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct stat st;
        int r;

        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);

        r = storage_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);

        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_string_equal(ocid_json_get_string(o, "dir"), dir);

        /* Its directory gone, it is not ready and says so. */
        assert_int_equal(rmdir(dir), 0);
        r = storage_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "StorageDirMissing");
        needle = xasprintf("storage directory '%s' is missing", dir);
        assert_string_equal(message, needle);
}

/* An existing directory with a looser mode is tightened. */
static void test_existing_dir(void **state)
{
        _cleanup_free_ char *dir = ocid_path_join(tmp, "storage-vfs");
        struct ocid_module *m;
        struct stat st;

        (void) rmdir(dir);
        assert_int_equal(mkdir(dir, 0755), 0);
        m = test_module_start("storage-vfs", NULL);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        module_fini(m);
}

static void test_no_settings(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        config_t cfg;
        const config_setting_t *s = test_config_parse(&cfg, "modules: { storage-vfs: { size = 3; }; };",
                                                      "modules.storage-vfs");
        int r;

        r = module_load(NULL, "storage-vfs", OCID_MODULE_KIND_STORAGE, &m, &e);
        assert_no_error(r, e);
        r = module_check(m, s, &e);
        assert_error(r, e, EINVAL, "modules.storage-vfs.size: unknown key");
        ocid_error_clear(&e);
        r = module_init(m, s, &e);
        assert_error(r, e, EINVAL, "module 'storage-vfs': init: ");
        assert_contains(e->message, "modules.storage-vfs.size: unknown key");
        config_destroy(&cfg);
}

/* A root it cannot create is an init error naming the path. */
static void test_unwritable_root(void **state)
{
        _cleanup_free_ char *file = ocid_path_join(tmp, "file");
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        test_write_file(tmp, "file", "x");
        ocid_host_set_paths(file, NULL);
        r = module_load(NULL, "storage-vfs", OCID_MODULE_KIND_STORAGE, &m, &e);
        assert_no_error(r, e);
        r = module_init(m, NULL, &e);
        ocid_host_set_paths(tmp, NULL);
        assert_int_equal(r, -ENOTDIR);
        assert_contains(e->message, "module 'storage-vfs': init: ");
        assert_contains(e->message, file);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dir_and_status),
                cmocka_unit_test(test_existing_dir),
                cmocka_unit_test(test_no_settings),
                cmocka_unit_test(test_unwritable_root),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, teardown);
}
