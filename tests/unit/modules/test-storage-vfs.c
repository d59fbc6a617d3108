/* SPDX-License-Identifier: Apache-2.0 */
/* storage-vfs, loaded from the build tree: its directory below the host
 * root, readiness and settings; layers as full copies, root file systems,
 * references, crash leftovers and usage on the real file system (the
 * shared cases of storage-test.h). */

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
#include "storage-test.h"

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
        assert_int_equal(ocid_rm_rf(dir, &e), 0);
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

        assert_int_equal(ocid_rm_rf(dir, NULL), 0);
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

static const struct st_kind vfs_kind = { "storage-vfs", "root", false };

static void test_view(void **state)
{
        st_case_view(&vfs_kind);
}

static void test_sharing(void **state)
{
        st_case_sharing(&vfs_kind);
}

static void test_errors(void **state)
{
        st_case_errors(&vfs_kind);
}

static void test_leftovers(void **state)
{
        st_case_leftovers(&vfs_kind);
}

static void test_concurrent(void **state)
{
        st_case_concurrent(&vfs_kind);
}

static void test_usage(void **state)
{
        st_case_usage(&vfs_kind);
}

static void test_empty_rootfs(void **state)
{
        st_case_empty_rootfs(&vfs_kind);
}

static void test_long_chain(void **state)
{
        st_case_long_chain(&vfs_kind, 25);
}

/* Each layer is a full copy: its parents' tree with its own changes. */
static void test_layers_are_copies(void **state)
{
        struct ocid_module *m = st_start("storage-vfs");
        _cleanup_free_ char *l1 = st_id(1), *l2 = st_id(2), *l3 = st_id(3);
        _cleanup_free_ char *r1 = NULL, *r2 = NULL, *r3 = NULL, *store = st_store(&vfs_kind);
        struct stat a, b;

        st_chain(m);
        r1 = xasprintf("%s/layers/%s/root", store, l1);
        r2 = xasprintf("%s/layers/%s/root", store, l2);
        r3 = xasprintf("%s/layers/%s/root", store, l3);
        st_check_view3(r3);
        assert_file(r1, "gone", "gone");
        assert_file(r2, "del/x", "x");
        assert_absent(r2, "gone");
        assert_list(r2, "opq", "new");
        /* copies, not links between layers */
        a = st_lstat(r1, "bin/sh");
        b = st_lstat(r3, "bin/sh");
        assert_true(a.st_ino != b.st_ino);
        /* directory times survive the copy */
        assert_int_equal(st_lstat(r3, "usr").st_mtim.tv_sec, 1600000000);
        assert_int_equal(st_lstat(r3, "home/user").st_mtim.tv_sec, 1600000000);
}

/* A tree deeper than the walk keeps fds open for, with a hardlink pair
 * across the depth, copies whole. */
static void test_deep_tree(void **state)
{
        struct ocid_module *m = st_start("storage-vfs");
        _cleanup_free_ char *deep = xstrdup("a"), *file = NULL, *top = st_id(2), *path = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct stat a, b;

        for (int i = 1; i < 120; i++) {
                char *d = xasprintf("%s/%c", deep, 'a' + i % 26);

                free(deep);
                deep = d;
        }
        file = xasprintf("%s/file", deep);
        {
                struct tentry t1[] = {
                        { T_FILE, file, "bottom", 0, 0, 0, NULL, NULL, 0, 0 },
                        { T_HARDLINK, "top-link", file, 0, 0, 0, NULL, NULL, 0, 0 },
                        { T_FILE, "z", "z", 0, 0, 0, NULL, NULL, 0, 0 },
                };
                struct tentry t2[] = {
                        { T_FILE, "second", "2", 0, 0, 0, NULL, NULL, 0, 0 },
                };

                st_layer(m, 1, 0, t1, ST_N(t1));
                st_layer(m, 2, 1, t2, ST_N(t2));
        }
        assert_int_equal(storage_rootfs_create(m, "deep", top, &e), 0);
        path = st_mount(m, "deep");
        assert_file(path, file, "bottom");
        assert_file(path, "top-link", "bottom");
        assert_file(path, "z", "z");
        assert_file(path, "second", "2");
        a = st_lstat(path, file);
        b = st_lstat(path, "top-link");
        assert_int_equal(a.st_ino, b.st_ino);
        assert_int_equal(a.st_nlink, 2);
        assert_int_equal(storage_rootfs_remove(m, "deep", &e), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dir_and_status),
                cmocka_unit_test(test_existing_dir),
                cmocka_unit_test(test_no_settings),
                cmocka_unit_test(test_unwritable_root),
                cmocka_unit_test_setup_teardown(test_view, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_sharing, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_errors, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_leftovers, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_concurrent, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_usage, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_empty_rootfs, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_long_chain, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_layers_are_copies, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_deep_tree, st_setup, st_teardown),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, teardown);
}
