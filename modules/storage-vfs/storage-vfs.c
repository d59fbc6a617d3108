/* SPDX-License-Identifier: Apache-2.0 */
/* storage-vfs: container root filesystems as plain copies of their layers;
 * slow but works on any filesystem and kernel. This minor implements the
 * module's life and its readiness; the storage ops come with later ABI
 * minors. */

#define OCID_LOG_CATEGORY "storage-vfs"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <ocid/fs.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

struct vfs_state {
        char *dir;      /* <root>/storage-vfs */
};

static void vfs_state_free(struct vfs_state *s)
{
        if (!s)
                return;
        free(s->dir);
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
        s->dir = ocid_path_join(ocid_host_root(), "storage-vfs");
        r = ocid_mkdir_p(s->dir, 0700, err);
        if (r < 0)
                return r;
        if (chmod(s->dir, 0700) < 0)
                return ocid_error_set(err, errno, "chmod '%s'", s->dir);
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

        if (stat(s->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                *ret_reason = xstrdup("StorageDirMissing");
                *ret_message = xasprintf("storage directory '%s' is missing", s->dir);
                return 0;
        }
        return 1;
}

static int vfs_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct vfs_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();

        json_object_object_add(o, "dir", json_object_new_string(s->dir));
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static const struct ocid_storage_ops vfs_ops = {
        .base = {
                .init = vfs_init,
                .fini = vfs_fini,
                .check = vfs_check,
                .status = vfs_status,
                .info = vfs_info,
        },
};

OCID_MODULE_DEFINE(storage_vfs, "storage-vfs", OCID_MODULE_KIND_STORAGE, &vfs_ops);
