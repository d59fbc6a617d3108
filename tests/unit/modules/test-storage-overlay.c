/* SPDX-License-Identifier: Apache-2.0 */
/* storage-overlay: its directory and settings through the built module;
 * overlay detection through the module's source linked into this program,
 * with ocid_read_file() mocked (-Wl,--wrap) to play /proc/filesystems and
 * the kernel's module lists; layers, overlay mounts of root file systems,
 * references, crash leftovers and usage through the built module on the
 * real file system (root only: whiteouts are device nodes, opaque
 * directories trusted.* attributes, and mounting needs CAP_SYS_ADMIN). */

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
#include "storage-test.h"
#include "../../../modules/storage-common/sc-store.h"

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

static const struct st_kind ovl_kind = { "storage-overlay", "upper", true };

/* The cases need root; without it they are skipped, never failed. */
#define NEED_ROOT()                                                            \
        do {                                                                   \
                if (geteuid() != 0) {                                          \
                        print_message("needs root: whiteouts, trusted.* and mounts\n"); \
                        skip();                                                \
                }                                                              \
        } while (0)

static void test_view(void **state)
{
        NEED_ROOT();
        st_case_view(&ovl_kind);
}

static void test_sharing(void **state)
{
        NEED_ROOT();
        st_case_sharing(&ovl_kind);
}

static void test_errors(void **state)
{
        NEED_ROOT();
        st_case_errors(&ovl_kind);
}

static void test_leftovers(void **state)
{
        _cleanup_free_ char *store = st_store(&ovl_kind), *links = NULL, *dangling = NULL;
        struct stat st;

        NEED_ROOT();
        st_case_leftovers(&ovl_kind);
        /* a link whose layer never got committed */
        st_stop();
        links = ocid_path_join(store, "l");
        dangling = ocid_path_join(links, "0123456789ab");
        assert_int_equal(symlink("../layers/" "0000000000000000000000000000000000000000000000000000000000000042/diff",
                                 dangling), 0);
        st_start(ovl_kind.name);
        assert_int_equal(lstat(dangling, &st), -1);
        assert_int_equal(errno, ENOENT);
}

static void test_concurrent(void **state)
{
        NEED_ROOT();
        st_case_concurrent(&ovl_kind);
}

static void test_usage(void **state)
{
        NEED_ROOT();
        st_case_usage(&ovl_kind);
}

static void test_empty_rootfs(void **state)
{
        NEED_ROOT();
        st_case_empty_rootfs(&ovl_kind);
}

/* Far more layers than fit in one page of mount options by full path. */
static void test_long_chain(void **state)
{
        NEED_ROOT();
        st_case_long_chain(&ovl_kind, 150);
}

/* A layer holds only its own changes, whiteouts as overlay whiteouts, and
 * a short link in l/ that its metadata names. */
static void test_layer_layout(void **state)
{
        struct ocid_module *m;
        _cleanup_free_ char *store = st_store(&ovl_kind), *l1 = st_id(1), *l2 = st_id(2), *l3 = st_id(3);
        _cleanup_free_ char *diff = NULL, *opq = NULL, *meta_path = NULL, *link = NULL, *target = NULL;
        _cleanup_json_ struct json_object *meta = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        struct stat st;
        char value[8], buf[256];
        ssize_t n;

        NEED_ROOT();
        m = st_start(ovl_kind.name);
        st_chain(m);
        diff = xasprintf("%s/layers/%s/diff", store, l2);
        assert_list(diff, "", "etc gone opq two");
        st = st_lstat(diff, "gone");
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(0, 0));
        opq = ocid_path_join(diff, "opq");
        assert_int_equal(lgetxattr(opq, "trusted.overlay.opaque", value, sizeof(value)), 1);
        assert_int_equal(value[0], 'y');
        assert_list(diff, "opq", "new");

        meta_path = xasprintf("%s/layers/%s/meta.json", store, l2);
        assert_int_equal(ocid_json_read_file(meta_path, 65536, &meta, &e), 0);
        assert_string_equal(ocid_json_get_string(meta, "id"), l2);
        assert_string_equal(ocid_json_get_string(meta, "parent"), l1);
        assert_int_equal(ocid_json_get_int64(meta, "size", -1), ST_SIZE2);
        assert_int_equal(strlen(ocid_json_get_string(meta, "link")), 12);
        link = xasprintf("%s/l/%s", store, ocid_json_get_string(meta, "link"));
        n = readlink(link, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        target = xasprintf("../layers/%s/diff", l2);
        assert_string_equal(buf, target);

        /* removed with its layer */
        assert_int_equal(storage_layer_remove(m, l3, &e), 0);
        assert_int_equal(storage_layer_remove(m, l2, &e), 0);
        assert_int_equal(lstat(link, &st), -1);
        assert_int_equal(errno, ENOENT);
}

/* A link removed by hand is made again at mount. */
static void test_link_repaired(void **state)
{
        struct ocid_module *m;
        _cleanup_free_ char *store = st_store(&ovl_kind), *l1 = st_id(1), *links = NULL, *path = NULL;
        _cleanup_error_ struct ocid_error *e = NULL;
        static const struct tentry t[] = { { T_FILE, "f", "f", 0, 0, 0, NULL, NULL, 0, 0 } };

        NEED_ROOT();
        m = st_start(ovl_kind.name);
        st_layer(m, 1, 0, t, ST_N(t));
        links = ocid_path_join(store, "l");
        assert_int_equal(ocid_rm_rf(links, &e), 0);
        assert_int_equal(mkdir(links, 0700), 0);
        assert_int_equal(storage_rootfs_create(m, "c", l1, &e), 0);
        path = st_mount(m, "c");
        assert_file(path, "f", "f");
        assert_int_equal(storage_rootfs_remove(m, "c", &e), 0);
}

/* The mount point of a path from mountinfo text: the longest mount point
 * containing it, the later of equal ones, escapes decoded. */
static void test_mountinfo_lookup(void **state)
{
        static const char info[] =
                "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
                "27 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n"
                "30 27 253:1 / /var rw - ext4 /dev/vdb rw\n"
                "31 30 253:2 / /var/lib rw - ext4 /dev/vdc rw\n"
                "32 30 253:3 / /var/lib2 rw - ext4 /dev/vdd rw\n"
                "33 27 0:40 / /with\\040space rw - tmpfs tmpfs rw\n"
                "34 31 0:41 / /var/lib rw - tmpfs tmpfs rw\n";
        char *m;

        m = sc_mountinfo_lookup(info, "/var/lib/ocid/storage-overlay");
        assert_string_equal(m, "/var/lib");
        free(m);
        m = sc_mountinfo_lookup(info, "/var/lib2x/a");
        assert_string_equal(m, "/var");
        free(m);
        m = sc_mountinfo_lookup(info, "/var/lib2");
        assert_string_equal(m, "/var/lib2");
        free(m);
        m = sc_mountinfo_lookup(info, "/with space/x");
        assert_string_equal(m, "/with space");
        free(m);
        m = sc_mountinfo_lookup(info, "/srv");
        assert_string_equal(m, "/");
        free(m);
        assert_null(sc_mountinfo_lookup("", "/srv"));
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
                cmocka_unit_test(test_mountinfo_lookup),
                cmocka_unit_test_setup_teardown(test_view, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_sharing, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_errors, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_leftovers, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_concurrent, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_usage, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_empty_rootfs, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_long_chain, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_layer_layout, st_setup, st_teardown),
                cmocka_unit_test_setup_teardown(test_link_repaired, st_setup, st_teardown),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, teardown);
}
