/* SPDX-License-Identifier: Apache-2.0 */
/* storage-vfs: every layer a full copy of its parent with its own changes
 * applied, every container root file system a full copy of its top layer.
 * Slow and large, but it works on any file system and kernel, without
 * mounts. Layout and crash safety: ../storage-common/sc-store.h; content:
 * layers/<id>/root/ and rootfs/<id>/root/. */

#define OCID_LOG_CATEGORY "storage-vfs"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ocid/archive.h>
#include <ocid/fs.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#include "../storage-common/sc-store.h"
#include "vfs-copy.h"

#define VFS_ROOT "root"

struct vfs_state {
        struct sc_store store;
};

static void vfs_state_free(struct vfs_state *s)
{
        if (!s)
                return;
        sc_store_close(&s->store);
        free(s);
}
OCID_DEFINE_CLEANUP_FUNC(struct vfs_state *, vfs_state_free)

/* No settings yet: any key in modules.storage-vfs is an error. */
static const char *const vfs_keys[] = { NULL };

static int vfs_check(const config_setting_t *cfg, struct ocid_error **err)
{
        return ocid_setting_check_keys(cfg, vfs_keys, err);
}

static int vfs_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        _cleanup_(vfs_state_freep) struct vfs_state *s = NULL;
        int r;

        r = vfs_check(cfg, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        r = sc_store_open(&s->store, "storage-vfs", err);
        if (r < 0)
                return r;
        *ret_state = TAKE_PTR(s);
        return 0;
}

static void vfs_fini(void *state)
{
        vfs_state_free(state);
}

static int vfs_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        struct vfs_state *s = state;
        struct stat st;

        if (stat(s->store.dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                *ret_reason = xstrdup("StorageDirMissing");
                *ret_message = xasprintf("storage directory '%s' is missing", s->store.dir);
                return 0;
        }
        return 1;
}

static int vfs_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct vfs_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();

        json_object_object_add(o, "dir", json_object_new_string(s->store.dir));
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

/* Makes <t>/root: a copy of <area>/<from>/root, or an empty directory. */
static int vfs_fill_root(struct vfs_state *s, struct sc_txn *t, const char *from, struct ocid_error **err)
{
        _cleanup_close_ int dst = -1, src = -1;
        int r;

        if (mkdirat(t->tmp_fd, VFS_ROOT, 0755) < 0)
                return ocid_error_set(err, errno, "create '%s/%s'", t->tmp_path, VFS_ROOT);
        dst = openat(t->tmp_fd, VFS_ROOT, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0)
                return ocid_error_set(err, errno, "open '%s/%s'", t->tmp_path, VFS_ROOT);
        if (from) {
                _cleanup_free_ char *rel = xasprintf("%s/%s/%s", SC_LAYERS, from, VFS_ROOT);
                _cleanup_free_ char *what = xasprintf("layer '%s'", from);

                src = openat(s->store.dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (src < 0)
                        return ocid_error_set(err, errno, "open '%s/%s'", s->store.dir, rel);
                r = vfs_copy_tree(src, dst, what, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int vfs_layer_create(void *state, const char *id, const char *parent, int tar_fd,
                            uint64_t *ret_size, struct ocid_error **err)
{
        struct vfs_state *s = state;
        _cleanup_free_ char *root = NULL;
        struct ocid_archive_stats stats;
        struct sc_txn t;
        int r;

        r = sc_layer_begin(&s->store, id, parent, &t, err);
        if (r < 0)
                return r;
        r = vfs_fill_root(s, &t, parent, err);
        if (r >= 0) {
                root = ocid_path_join(t.tmp_path, VFS_ROOT);
                r = ocid_archive_extract(tar_fd, root, OCID_ARCHIVE_WHITEOUT_APPLY, &stats, err);
        }
        if (r >= 0)
                r = sc_drain(tar_fd, err);
        if (r < 0) {
                sc_abort(&s->store, &t);
                return r;
        }
        json_object_object_add(t.meta, "size", json_object_new_int64((int64_t) stats.bytes));
        r = sc_commit(&s->store, &t, err);
        if (r < 0)
                return r;
        *ret_size = stats.bytes;
        return 0;
}

static int vfs_layer_remove(void *state, const char *id, struct ocid_error **err)
{
        struct vfs_state *s = state;

        return sc_layer_remove(&s->store, id, NULL, err);
}

static int vfs_layer_exists(void *state, const char *id)
{
        struct vfs_state *s = state;

        return sc_layer_exists(&s->store, id);
}

static int vfs_rootfs_create(void *state, const char *id, const char *top, struct ocid_error **err)
{
        struct vfs_state *s = state;
        struct sc_txn t;
        int r;

        r = sc_rootfs_begin(&s->store, id, top, &t, err);
        if (r < 0)
                return r;
        r = vfs_fill_root(s, &t, top, err);
        if (r < 0) {
                sc_abort(&s->store, &t);
                return r;
        }
        return sc_commit(&s->store, &t, err);
}

/* Nothing to mount: the copy is the root directory. */
static int vfs_rootfs_mount(void *state, const char *id, char **ret_path, struct ocid_error **err)
{
        struct vfs_state *s = state;
        int r;

        r = sc_rootfs_id_check(id, err);
        if (r < 0)
                return r;
        if (!sc_rootfs_exists(&s->store, id))
                return ocid_error_msg(err, ENOENT, "rootfs '%s' does not exist", id);
        *ret_path = xasprintf("%s/%s/%s/%s", s->store.dir, SC_ROOTFS, id, VFS_ROOT);
        return 0;
}

static int vfs_rootfs_unmount(void *state, const char *id, struct ocid_error **err)
{
        struct vfs_state *s = state;
        int r;

        r = sc_rootfs_id_check(id, err);
        if (r < 0)
                return r;
        if (!sc_rootfs_exists(&s->store, id))
                return ocid_error_msg(err, ENOENT, "rootfs '%s' does not exist", id);
        return 0;
}

static int vfs_rootfs_remove(void *state, const char *id, struct ocid_error **err)
{
        struct vfs_state *s = state;

        return sc_rootfs_remove(&s->store, id, err);
}

static int vfs_usage(void *state, struct ocid_storage_usage *ret, struct ocid_error **err)
{
        struct vfs_state *s = state;

        return sc_usage(&s->store, ret, err);
}

/* The whole copy is writable. */
static int vfs_rootfs_usage(void *state, const char *id, struct ocid_storage_usage *ret,
                            struct ocid_error **err)
{
        struct vfs_state *s = state;

        return sc_rootfs_usage(&s->store, id, VFS_ROOT, ret, err);
}

static const struct ocid_storage_ops vfs_ops = {
        .base = {
                .init = vfs_init,
                .fini = vfs_fini,
                .check = vfs_check,
                .status = vfs_status,
                .info = vfs_info,
        },
        .layer_create = vfs_layer_create,
        .layer_remove = vfs_layer_remove,
        .layer_exists = vfs_layer_exists,
        .rootfs_create = vfs_rootfs_create,
        .rootfs_mount = vfs_rootfs_mount,
        .rootfs_unmount = vfs_rootfs_unmount,
        .rootfs_remove = vfs_rootfs_remove,
        .usage = vfs_usage,
        .rootfs_usage = vfs_rootfs_usage,
};

OCID_MODULE_DEFINE(storage_vfs, "storage-vfs", OCID_MODULE_KIND_STORAGE, &vfs_ops);
