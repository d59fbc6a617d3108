/* SPDX-License-Identifier: Apache-2.0 */
/* storage-overlay: its directory and settings through the built module;
 * overlay detection through the module's source linked into this program,
 * with ocid_read_file() mocked (-Wl,--wrap) to play /proc/filesystems and
 * the kernel's module lists. */

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test-common.h"
#include "module-test.h"

#include <ocid/host.h>
#include <ocid/json.h>

#include "storage.h"

extern const struct ocid_module_info storage_overlay_LTX_ocid_module_info;

/* The mock: when active, /proc/filesystems reads as mock_filesystems (or
 * fails with EACCES when NULL) and /lib/modules/<release>/modules.dep as
 * mock_modules_dep (or ENOENT when NULL); everything else is real. */
static bool mock_active;
static const char *mock_filesystems;
static const char *mock_modules_dep;

int __real_ocid_read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct ocid_error **err);
int __wrap_ocid_read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct ocid_error **err);

int __wrap_ocid_read_file(const char *path, size_t max, char **ret, size_t *ret_len, struct ocid_error **err)
{
        if (!mock_active)
                return __real_ocid_read_file(path, max, ret, ret_len, err);
        if (streq(path, "/proc/filesystems")) {
                if (!mock_filesystems)
                        return ocid_error_set(err, EACCES, "open '%s'", path);
                *ret = xstrdup(mock_filesystems);
                return 0;
        }
        if (ocid_startswith(path, "/lib/modules/")) {
                if (!mock_modules_dep || !ocid_endswith(path, "/modules.dep"))
                        return ocid_error_set(err, ENOENT, "open '%s'", path);
                *ret = xstrdup(mock_modules_dep);
                return 0;
        }
        return __real_ocid_read_file(path, max, ret, ret_len, err);
}

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

static int mock_reset(void **state)
{
        mock_active = false;
        mock_filesystems = NULL;
        mock_modules_dep = NULL;
        return 0;
}

/* The built module: its directory, 0700, below the host root. */
static void test_built_module(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("storage-overlay", NULL);
        _cleanup_free_ char *dir = ocid_path_join(tmp, "storage-overlay"), *json = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct stat st;
        int r;

        assert_string_equal(m->path + strlen(m->path) - strlen("/storage-overlay.so"), "/storage-overlay.so");
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        r = module_info(m, &json, &e);
        assert_no_error(r, e);
        o = json_tokener_parse(json);
        assert_string_equal(ocid_json_get_string(o, "dir"), dir);
}

static void test_no_settings(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        config_t cfg;
        const config_setting_t *s = test_config_parse(&cfg, "modules: { storage-overlay: { x = 1; }; };",
                                                      "modules.storage-overlay");
        int r;

        r = module_load(NULL, "storage-overlay", OCID_MODULE_KIND_STORAGE, &m, &e);
        assert_no_error(r, e);
        r = module_init(m, s, &e);
        assert_error(r, e, EINVAL, "module 'storage-overlay': init: ");
        assert_contains(e->message, "modules.storage-overlay.x: unknown key");
        config_destroy(&cfg);
}

/* Status of the linked copy under the mock. */
static int linked_status(char **ret_reason, char **ret_message)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_linked(&storage_overlay_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = module_init(m, NULL, &e);
        assert_no_error(r, e);
        mock_active = true;
        r = storage_status(m, ret_reason, ret_message, &e);
        mock_active = false;
        assert_no_error(r, e);
        return r;
}

static void test_registered(void **state)
{
        char *reason = NULL, *message = NULL;

        mock_filesystems = "nodev\tsysfs\nnodev\tproc\n\text4\nnodev\toverlay\n";
        assert_int_equal(linked_status(&reason, &message), 1);
        assert_null(reason);
        assert_null(message);
}

static void test_unsupported(void **state)
{
        _cleanup_free_ char *reason = NULL, *message = NULL;

        /* Only a whole field counts. */
        mock_filesystems = "nodev\tsysfs\n\text4\nnodev\tnotoverlay\nnodev\toverlayx\n";
        assert_int_equal(linked_status(&reason, &message), 0);
        assert_string_equal(reason, "OverlayUnsupported");
        assert_string_equal(message, "the kernel does not support overlay: it is not in /proc/filesystems "
                                     "and no overlay kernel module is available");
}

/* Not registered yet, but the kernel loads its module on the first mount. */
static void test_loadable_module(void **state)
{
        char *reason = NULL, *message = NULL;

        mock_filesystems = "nodev\tsysfs\n\text4\n";
        mock_modules_dep = "kernel/fs/fuse/fuse.ko.xz:\nkernel/fs/overlayfs/overlay.ko.xz:\n";
        assert_int_equal(linked_status(&reason, &message), 1);
        assert_null(reason);
}

static void test_unreadable(void **state)
{
        _cleanup_free_ char *reason = NULL, *message = NULL;

        mock_filesystems = NULL;
        assert_int_equal(linked_status(&reason, &message), 0);
        assert_string_equal(reason, "OverlayUnsupported");
        assert_contains(message, "cannot tell whether the kernel supports overlay: open '/proc/filesystems'");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_built_module, mock_reset),
                cmocka_unit_test_setup(test_no_settings, mock_reset),
                cmocka_unit_test_setup(test_registered, mock_reset),
                cmocka_unit_test_setup(test_unsupported, mock_reset),
                cmocka_unit_test_setup(test_loadable_module, mock_reset),
                cmocka_unit_test_setup(test_unreadable, mock_reset),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, teardown);
}
