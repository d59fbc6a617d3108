/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatch to the storage module. */

#include <errno.h>
#include <string.h>

#include <ocid/error.h>
#include <ocid/module.h>
#include <ocid/util.h>

#include "module-loader.h"
#include "storage.h"

int storage_status(struct ocid_module *m, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        int r;

        r = module_check_callable(m, OCID_MODULE_KIND_STORAGE, "status", err);
        if (r < 0)
                return r;
        return module_status(m, ret_reason, ret_message, err);
}

static int storage_unsupported(const struct ocid_module *m, const char *op, struct ocid_error **err)
{
        return ocid_error_msg(err, EOPNOTSUPP, "module '%s' does not support %s", m->name, op);
}

/* Checks m and fetches ops->member into fn; returns from the calling
 * wrapper on failure. */
#define STORAGE_OP_GET(m, member, fn, err)                                            \
        do {                                                                          \
                int _r = module_check_callable((m), OCID_MODULE_KIND_STORAGE, #member, (err)); \
                if (_r < 0)                                                           \
                        return _r;                                                    \
                (fn) = MODULE_OP((m), struct ocid_storage_ops, member);               \
                if (!(fn))                                                            \
                        return storage_unsupported((m), #member, (err));              \
        } while (0)

/* An id the caller must give; the module checks its form. */
static int storage_need_id(const char *op, const char *what, const char *id, struct ocid_error **err)
{
        if (!id || !*id)
                return ocid_error_msg(err, EINVAL, "%s: no %s ID", op, what);
        return 0;
}

int storage_layer_create(struct ocid_module *m, const char *id, const char *parent, int tar_fd,
                         uint64_t *ret_size, struct ocid_error **err)
{
        int (*fn)(void *, const char *, const char *, int, uint64_t *, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        uint64_t size = 0;
        int r;

        STORAGE_OP_GET(m, layer_create, fn, err);
        r = storage_need_id("layer_create", "layer", id, err);
        if (r < 0)
                return r;
        if (parent && !*parent)
                return ocid_error_msg(err, EINVAL, "layer_create: empty parent layer ID");
        if (tar_fd < 0)
                return ocid_error_msg(err, EBADF, "layer_create: no tar stream");
        r = fn(m->state, id, parent, tar_fd, &size, &e);
        if (r < 0)
                return module_op_failed(m, "layer_create", r, &e, err);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int storage_layer_remove(struct ocid_module *m, const char *id, struct ocid_error **err)
{
        int (*fn)(void *, const char *, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        STORAGE_OP_GET(m, layer_remove, fn, err);
        r = storage_need_id("layer_remove", "layer", id, err);
        if (r < 0)
                return r;
        r = fn(m->state, id, &e);
        if (r < 0)
                return module_op_failed(m, "layer_remove", r, &e, err);
        return 0;
}

int storage_layer_exists(struct ocid_module *m, const char *id, struct ocid_error **err)
{
        int (*fn)(void *, const char *);
        int r;

        STORAGE_OP_GET(m, layer_exists, fn, err);
        r = storage_need_id("layer_exists", "layer", id, err);
        if (r < 0)
                return r;
        return fn(m->state, id) > 0 ? 1 : 0;
}

int storage_rootfs_create(struct ocid_module *m, const char *id, const char *top, struct ocid_error **err)
{
        int (*fn)(void *, const char *, const char *, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        STORAGE_OP_GET(m, rootfs_create, fn, err);
        r = storage_need_id("rootfs_create", "rootfs", id, err);
        if (r < 0)
                return r;
        if (top && !*top)
                return ocid_error_msg(err, EINVAL, "rootfs_create: empty layer ID");
        r = fn(m->state, id, top, &e);
        if (r < 0)
                return module_op_failed(m, "rootfs_create", r, &e, err);
        return 0;
}

int storage_rootfs_mount(struct ocid_module *m, const char *id, char **ret_path, struct ocid_error **err)
{
        int (*fn)(void *, const char *, char **, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        STORAGE_OP_GET(m, rootfs_mount, fn, err);
        r = storage_need_id("rootfs_mount", "rootfs", id, err);
        if (r < 0)
                return r;
        r = fn(m->state, id, &path, &e);
        if (r < 0)
                return module_op_failed(m, "rootfs_mount", r, &e, err);
        if (!path || path[0] != '/')
                return ocid_error_msg(err, EIO, "module '%s': rootfs_mount: '%s' gave no absolute path",
                                      m->name, id);
        *ret_path = TAKE_PTR(path);
        return 0;
}

int storage_rootfs_unmount(struct ocid_module *m, const char *id, struct ocid_error **err)
{
        int (*fn)(void *, const char *, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        STORAGE_OP_GET(m, rootfs_unmount, fn, err);
        r = storage_need_id("rootfs_unmount", "rootfs", id, err);
        if (r < 0)
                return r;
        r = fn(m->state, id, &e);
        if (r < 0)
                return module_op_failed(m, "rootfs_unmount", r, &e, err);
        return 0;
}

int storage_rootfs_remove(struct ocid_module *m, const char *id, struct ocid_error **err)
{
        int (*fn)(void *, const char *, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        int r;

        STORAGE_OP_GET(m, rootfs_remove, fn, err);
        r = storage_need_id("rootfs_remove", "rootfs", id, err);
        if (r < 0)
                return r;
        r = fn(m->state, id, &e);
        if (r < 0)
                return module_op_failed(m, "rootfs_remove", r, &e, err);
        return 0;
}

int storage_usage(struct ocid_module *m, struct ocid_storage_usage *ret, struct ocid_error **err)
{
        int (*fn)(void *, struct ocid_storage_usage *, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_storage_usage u = { 0 };
        int r;

        memset(ret, 0, sizeof(*ret));
        STORAGE_OP_GET(m, usage, fn, err);
        r = fn(m->state, &u, &e);
        if (r < 0)
                return module_op_failed(m, "usage", r, &e, err);
        *ret = u;
        return 0;
}

int storage_rootfs_usage(struct ocid_module *m, const char *id, struct ocid_storage_usage *ret,
                         struct ocid_error **err)
{
        int (*fn)(void *, const char *, struct ocid_storage_usage *, struct ocid_error **);
        _cleanup_error_ struct ocid_error *e = NULL;
        struct ocid_storage_usage u = { 0 };
        int r;

        memset(ret, 0, sizeof(*ret));
        STORAGE_OP_GET(m, rootfs_usage, fn, err);
        r = storage_need_id("rootfs_usage", "rootfs", id, err);
        if (r < 0)
                return r;
        r = fn(m->state, id, &u, &e);
        if (r < 0)
                return module_op_failed(m, "rootfs_usage", r, &e, err);
        *ret = u;
        return 0;
}
