/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the storage module: readiness against the test modules, and
 * every storage op against a module defined in this program (wrapped as the
 * loader would have loaded it), which records its calls and fails on
 * demand. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../test-common.h"
#include "../modules/module-test.h"

#include "storage.h"

static int setup(void **state)
{
        setenv("OCID_MODULE_DIR", test_env_dir("OCID_TEST_MODULE_DIR"), 1);
        return 0;
}

static void test_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-storage", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        int r;

        r = storage_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 1);
        assert_null(reason);
        assert_null(message);
}

static void test_not_ready(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m =
                test_module_start("fake-storage", "modules: { fake-storage: { ready = false; }; };");
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *reason = NULL, *message = NULL;
        int r;

        r = storage_status(m, &reason, &message, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_string_equal(reason, "FakeNotReady");
        assert_string_equal(message, "fake-storage is configured not ready");
}

static void test_wrong_kind(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-network", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *reason = NULL, *message = NULL;
        uint64_t size = 7;
        int r;

        r = storage_status(m, &reason, &message, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a storage module");
        ocid_error_clear(&e);
        r = storage_status(NULL, &reason, &message, &e);
        assert_error(r, e, EINVAL, "status: no module");
        assert_null(reason);
        assert_null(message);
        ocid_error_clear(&e);

        r = storage_layer_create(m, "l1", NULL, 0, &size, &e);
        assert_error(r, e, EINVAL, "module 'fake-network' is a network module, not a storage module");
        assert_int_equal(size, 7);
        ocid_error_clear(&e);
        r = storage_rootfs_remove(NULL, "c1", &e);
        assert_error(r, e, EINVAL, "rootfs_remove: no module");
}

/* The test module, with every storage op. */

struct rec {
        char *calls;            /* "op(args) " appended per call */
        int fail;               /* the next op fails with this errno */
        int mount_no_path;      /* rootfs_mount succeeds without a path */
};

static struct rec rec;

/* Appends "op(a,b) ", "op(a) " (b NULL) or "op() " (a NULL too); a
 * NULL-valued argument is given as "-". */
static void rec_call(const char *op, const char *a, const char *b)
{
        char *all;

        if (b)
                all = xasprintf("%s%s(%s,%s) ", rec.calls ? rec.calls : "", op, a, b);
        else
                all = xasprintf("%s%s(%s) ", rec.calls ? rec.calls : "", op, a ? a : "");
        free(rec.calls);
        rec.calls = all;
}

static int rec_result(struct ocid_error **err)
{
        int code = rec.fail;

        rec.fail = 0;
        if (!code)
                return 0;
        return ocid_error_msg(err, code, "the test asked for errno %d", code);
}

static int t_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        *ret_state = &rec;
        return 0;
}

static int t_layer_create(void *state, const char *id, const char *parent, int tar_fd,
                          uint64_t *ret_size, struct ocid_error **err)
{
        assert_ptr_equal(state, &rec);
        assert_int_equal(tar_fd, 5);
        rec_call("layer_create", id, parent ? parent : "-");
        *ret_size = 4096;
        return rec_result(err);
}

static int t_layer_remove(void *state, const char *id, struct ocid_error **err)
{
        rec_call("layer_remove", id, NULL);
        return rec_result(err);
}

static int t_layer_exists(void *state, const char *id)
{
        rec_call("layer_exists", id, NULL);
        return streq(id, "present") ? 1 : 0;
}

static int t_rootfs_create(void *state, const char *id, const char *top, struct ocid_error **err)
{
        rec_call("rootfs_create", id, top ? top : "-");
        return rec_result(err);
}

static int t_rootfs_mount(void *state, const char *id, char **ret_path, struct ocid_error **err)
{
        int r;

        rec_call("rootfs_mount", id, NULL);
        r = rec_result(err);
        if (r < 0)
                return r;
        if (!rec.mount_no_path)
                *ret_path = xasprintf("/storage/rootfs/%s/merged", id);
        return 0;
}

static int t_rootfs_unmount(void *state, const char *id, struct ocid_error **err)
{
        rec_call("rootfs_unmount", id, NULL);
        return rec_result(err);
}

static int t_rootfs_remove(void *state, const char *id, struct ocid_error **err)
{
        rec_call("rootfs_remove", id, NULL);
        return rec_result(err);
}

static int t_usage(void *state, struct ocid_storage_usage *ret, struct ocid_error **err)
{
        rec_call("usage", NULL, NULL);
        ret->bytes = 1000;
        ret->inodes = 10;
        ret->mountpoint = "/storage";
        return rec_result(err);
}

static int t_rootfs_usage(void *state, const char *id, struct ocid_storage_usage *ret,
                          struct ocid_error **err)
{
        rec_call("rootfs_usage", id, NULL);
        ret->bytes = 20;
        ret->inodes = 2;
        return rec_result(err);
}

static const struct ocid_storage_ops t_ops = {
        .base = { .init = t_init },
        .layer_create = t_layer_create,
        .layer_remove = t_layer_remove,
        .layer_exists = t_layer_exists,
        .rootfs_create = t_rootfs_create,
        .rootfs_mount = t_rootfs_mount,
        .rootfs_unmount = t_rootfs_unmount,
        .rootfs_remove = t_rootfs_remove,
        .usage = t_usage,
        .rootfs_usage = t_rootfs_usage,
};

OCID_MODULE_DEFINE(test_storage, "test-storage", OCID_MODULE_KIND_STORAGE, &t_ops);

/* Without ops beyond the base: as a module built before they existed
 * (ops_size short) and as one that leaves them NULL. */
static const struct ocid_storage_ops t_base_only = { .base = { .init = t_init } };
static struct ocid_module_info t_old_info;
static struct ocid_module_info t_null_info;

static struct ocid_module *t_start(const struct ocid_module_info *info)
{
        struct ocid_module *m = test_module_linked(info);
        struct ocid_error *e = NULL;
        int r;

        r = module_init(m, NULL, &e);
        assert_no_error(r, e);
        return m;
}

static int rec_reset(void **state)
{
        free(rec.calls);
        memset(&rec, 0, sizeof(rec));
        return 0;
}

static void test_ops_pass_through(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = t_start(&test_storage_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *path = NULL;
        struct ocid_storage_usage u;
        uint64_t size = 0;
        int r;

        r = storage_layer_create(m, "l2", "l1", 5, &size, &e);
        assert_no_error(r, e);
        assert_int_equal(r, 0);
        assert_int_equal(size, 4096);
        r = storage_layer_create(m, "l1", NULL, 5, NULL, &e);
        assert_no_error(r, e);
        assert_int_equal(storage_layer_exists(m, "present", &e), 1);
        assert_int_equal(storage_layer_exists(m, "absent", &e), 0);
        assert_null(e);
        r = storage_rootfs_create(m, "c1", "l2", &e);
        assert_no_error(r, e);
        r = storage_rootfs_create(m, "c2", NULL, &e);
        assert_no_error(r, e);
        r = storage_rootfs_mount(m, "c1", &path, &e);
        assert_no_error(r, e);
        assert_string_equal(path, "/storage/rootfs/c1/merged");
        r = storage_rootfs_unmount(m, "c1", &e);
        assert_no_error(r, e);
        r = storage_usage(m, &u, &e);
        assert_no_error(r, e);
        assert_int_equal(u.bytes, 1000);
        assert_int_equal(u.inodes, 10);
        assert_string_equal(u.mountpoint, "/storage");
        r = storage_rootfs_usage(m, "c1", &u, &e);
        assert_no_error(r, e);
        assert_int_equal(u.bytes, 20);
        assert_int_equal(u.inodes, 2);
        assert_null(u.mountpoint);
        r = storage_rootfs_remove(m, "c1", &e);
        assert_no_error(r, e);
        r = storage_layer_remove(m, "l2", &e);
        assert_no_error(r, e);
        assert_string_equal(rec.calls,
                            "layer_create(l2,l1) layer_create(l1,-) layer_exists(present) "
                            "layer_exists(absent) rootfs_create(c1,l2) rootfs_create(c2,-) "
                            "rootfs_mount(c1) rootfs_unmount(c1) usage() rootfs_usage(c1) "
                            "rootfs_remove(c1) layer_remove(l2) ");
}

/* A failing op's error is prefixed with the module and the op, and its
 * code is kept; outputs stay untouched. */
static void test_ops_fail(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = t_start(&test_storage_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *path = NULL;
        struct ocid_storage_usage u = { 1, 1, "x" };
        uint64_t size = 3;
        int r;

        rec.fail = EEXIST;
        r = storage_layer_create(m, "l1", NULL, 5, &size, &e);
        assert_error(r, e, EEXIST, "module 'test-storage': layer_create: the test asked for errno 17");
        assert_int_equal(size, 3);
        ocid_error_clear(&e);

        rec.fail = EBUSY;
        r = storage_layer_remove(m, "l1", &e);
        assert_error(r, e, EBUSY, "module 'test-storage': layer_remove: the test asked for errno 16");
        ocid_error_clear(&e);

        rec.fail = ENOENT;
        r = storage_rootfs_create(m, "c1", "l9", &e);
        assert_error(r, e, ENOENT, "module 'test-storage': rootfs_create: ");
        ocid_error_clear(&e);

        rec.fail = EPERM;
        r = storage_rootfs_mount(m, "c1", &path, &e);
        assert_error(r, e, EPERM, "module 'test-storage': rootfs_mount: ");
        assert_null(path);
        ocid_error_clear(&e);

        rec.fail = EBUSY;
        r = storage_rootfs_unmount(m, "c1", &e);
        assert_error(r, e, EBUSY, "module 'test-storage': rootfs_unmount: ");
        ocid_error_clear(&e);

        rec.fail = ENOENT;
        r = storage_rootfs_remove(m, "c1", &e);
        assert_error(r, e, ENOENT, "module 'test-storage': rootfs_remove: ");
        ocid_error_clear(&e);

        rec.fail = EIO;
        r = storage_usage(m, &u, &e);
        assert_error(r, e, EIO, "module 'test-storage': usage: ");
        assert_int_equal(u.bytes, 0);
        assert_null(u.mountpoint);
        ocid_error_clear(&e);

        rec.fail = ENOENT;
        r = storage_rootfs_usage(m, "c1", &u, &e);
        assert_error(r, e, ENOENT, "module 'test-storage': rootfs_usage: ");
        assert_int_equal(u.bytes, 0);
}

/* A module bug: success from rootfs_mount without a path. */
static void test_mount_without_path(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = t_start(&test_storage_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *path = NULL;
        int r;

        rec.mount_no_path = 1;
        r = storage_rootfs_mount(m, "c1", &path, &e);
        assert_error(r, e, EIO, "module 'test-storage': rootfs_mount: 'c1' gave no absolute path");
        assert_null(path);
}

/* IDs are required; the module is not called without one. */
static void test_missing_ids(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = t_start(&test_storage_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *path = NULL;
        struct ocid_storage_usage u;
        int r;

        r = storage_layer_create(m, NULL, NULL, 5, NULL, &e);
        assert_error(r, e, EINVAL, "layer_create: no layer ID");
        ocid_error_clear(&e);
        r = storage_layer_create(m, "l1", "", 5, NULL, &e);
        assert_error(r, e, EINVAL, "layer_create: empty parent layer ID");
        ocid_error_clear(&e);
        r = storage_layer_create(m, "l1", NULL, -1, NULL, &e);
        assert_error(r, e, EBADF, "layer_create: no tar stream");
        ocid_error_clear(&e);
        r = storage_layer_remove(m, "", &e);
        assert_error(r, e, EINVAL, "layer_remove: no layer ID");
        ocid_error_clear(&e);
        r = storage_layer_exists(m, NULL, &e);
        assert_error(r, e, EINVAL, "layer_exists: no layer ID");
        ocid_error_clear(&e);
        r = storage_rootfs_create(m, NULL, "l1", &e);
        assert_error(r, e, EINVAL, "rootfs_create: no rootfs ID");
        ocid_error_clear(&e);
        r = storage_rootfs_create(m, "c1", "", &e);
        assert_error(r, e, EINVAL, "rootfs_create: empty layer ID");
        ocid_error_clear(&e);
        r = storage_rootfs_mount(m, "", &path, &e);
        assert_error(r, e, EINVAL, "rootfs_mount: no rootfs ID");
        ocid_error_clear(&e);
        r = storage_rootfs_unmount(m, NULL, &e);
        assert_error(r, e, EINVAL, "rootfs_unmount: no rootfs ID");
        ocid_error_clear(&e);
        r = storage_rootfs_remove(m, NULL, &e);
        assert_error(r, e, EINVAL, "rootfs_remove: no rootfs ID");
        ocid_error_clear(&e);
        r = storage_rootfs_usage(m, NULL, &u, &e);
        assert_error(r, e, EINVAL, "rootfs_usage: no rootfs ID");
        assert_null(rec.calls);
}

/* Every op of a module without them is "not supported", whether the
 * module's table has the members (NULL) or predates them (short). */
static void check_unsupported(const struct ocid_module_info *info)
{
        _cleanup_(module_finip) struct ocid_module *m = t_start(info);
        _cleanup_error_ struct ocid_error *e = NULL;
        char *path = NULL;
        struct ocid_storage_usage u;
        uint64_t size = 0;
        int r;

#define UNSUPPORTED(call, op)                                                          \
        do {                                                                           \
                r = (call);                                                            \
                assert_error(r, e, EOPNOTSUPP, "module 'test-storage' does not support " op); \
                assert_string_equal(e->message, "module 'test-storage' does not support " op); \
                ocid_error_clear(&e);                                                  \
        } while (0)

        UNSUPPORTED(storage_layer_create(m, "l1", NULL, 5, &size, &e), "layer_create");
        UNSUPPORTED(storage_layer_remove(m, "l1", &e), "layer_remove");
        UNSUPPORTED(storage_layer_exists(m, "l1", &e), "layer_exists");
        UNSUPPORTED(storage_rootfs_create(m, "c1", NULL, &e), "rootfs_create");
        UNSUPPORTED(storage_rootfs_mount(m, "c1", &path, &e), "rootfs_mount");
        UNSUPPORTED(storage_rootfs_unmount(m, "c1", &e), "rootfs_unmount");
        UNSUPPORTED(storage_rootfs_remove(m, "c1", &e), "rootfs_remove");
        UNSUPPORTED(storage_usage(m, &u, &e), "usage");
        UNSUPPORTED(storage_rootfs_usage(m, "c1", &u, &e), "rootfs_usage");
#undef UNSUPPORTED
        assert_null(rec.calls);
}

static void test_unsupported(void **state)
{
        t_null_info = test_storage_LTX_ocid_module_info;
        t_null_info.ops = &t_base_only;
        check_unsupported(&t_null_info);

        t_old_info = test_storage_LTX_ocid_module_info;
        t_old_info.ops_size = sizeof(struct ocid_module_ops);
        check_unsupported(&t_old_info);
}

/* The test modules leave every storage op NULL. */
static void test_fake_module_unsupported(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_start("fake-storage", NULL);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = storage_rootfs_create(m, "c1", NULL, &e);
        assert_error(r, e, EOPNOTSUPP, "module 'fake-storage' does not support rootfs_create");
}

/* Not initialised: refused before the module runs. */
static void test_not_initialised(void **state)
{
        _cleanup_(module_finip) struct ocid_module *m = test_module_linked(&test_storage_LTX_ocid_module_info);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        r = storage_layer_remove(m, "l1", &e);
        assert_error(r, e, EINVAL, "module 'test-storage': layer_remove: not initialised");
        assert_null(rec.calls);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready),
                cmocka_unit_test(test_not_ready),
                cmocka_unit_test(test_wrong_kind),
                cmocka_unit_test_setup_teardown(test_ops_pass_through, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_ops_fail, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_mount_without_path, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_missing_ids, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_unsupported, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_fake_module_unsupported, rec_reset, rec_reset),
                cmocka_unit_test_setup_teardown(test_not_initialised, rec_reset, rec_reset),
        };

        cmocka_set_message_output(CM_OUTPUT_TAP);
        return cmocka_run_group_tests(tests, setup, NULL);
}
