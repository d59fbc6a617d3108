/* SPDX-License-Identifier: Apache-2.0 */
/* storage-overlay: every layer unpacked once into its own directory, with
 * OCI whiteouts turned into overlay whiteouts; a container's root file
 * system is an overlay mount of its layer chain with its own upper and work
 * directories. Layout and crash safety: ../storage-common/sc-store.h, plus
 *   layers/<id>/diff/        the layer's own changes (an overlay lower dir)
 *   l/<link>                 -> ../layers/<id>/diff, a short name per layer
 *                            so that long chains fit in the mount options
 *   rootfs/<id>/upper, work, merged
 *   empty/                   the lower dir of a rootfs without layers */

#define OCID_LOG_CATEGORY "storage-overlay"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h> /* unshare(CLONE_FS) */
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h> /* uname(): the kernel release names its module directory */
#include <unistd.h>

#include <ocid/archive.h>
#include <ocid/fs.h>
#include <ocid/host.h>
#include <ocid/json.h>
#include <ocid/module.h>
#include <ocid/setting.h>
#include <ocid/util.h>

#include "../storage-common/sc-store.h"

#define OVL_DIFF   "diff"
#define OVL_LINKS  "l"
#define OVL_EMPTY  "empty"
#define OVL_UPPER  "upper"
#define OVL_WORK   "work"
#define OVL_MERGED "merged"
/* Hex digits of a layer's short link name. */
#define OVL_LINK_LEN 12
/* The kernel's limit on stacked lower layers (OVL_MAX_STACK). */
#define OVL_MAX_LAYERS 500

struct ovl_state {
        struct sc_store store;
};

static void ovl_state_free(struct ovl_state *s)
{
        if (!s)
                return;
        sc_store_close(&s->store);
        free(s);
}
OCID_DEFINE_CLEANUP_FUNC(struct ovl_state *, ovl_state_free)

/* No settings yet: any key in modules.storage-overlay is an error. */
static const char *const ovl_keys[] = { NULL };

static int ovl_check(const config_setting_t *cfg, struct ocid_error **err)
{
        return ocid_setting_check_keys(cfg, ovl_keys, err);
}

/* Removes the links of l/ whose layer is gone: a crash between making the
 * link and committing the layer, or between removing both. */
static void ovl_clean_links(struct ovl_state *s)
{
        _cleanup_close_ int fd = openat(s->store.dfd, OVL_LINKS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d)
                return;
        fd = -1;
        while ((de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 && errno == ENOENT) {
                        ocid_log(OCID_LOG_DEBUG, "removing dangling link '%s/%s/%s'", s->store.dir, OVL_LINKS,
                                 de->d_name);
                        (void) unlinkat(dirfd(d), de->d_name, 0);
                }
        }
}

static int ovl_init(const config_setting_t *cfg, void **ret_state, struct ocid_error **err)
{
        _cleanup_(ovl_state_freep) struct ovl_state *s = NULL;
        static const char *const dirs[] = { OVL_LINKS, OVL_EMPTY };
        int r;

        r = ovl_check(cfg, err);
        if (r < 0)
                return r;
        s = xzalloc(sizeof(*s));
        r = sc_store_open(&s->store, "storage-overlay", err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdirat(s->store.dfd, dirs[i], streq(dirs[i], OVL_EMPTY) ? 0755 : 0700) < 0 &&
                    errno != EEXIST)
                        return ocid_error_set(err, errno, "create '%s/%s'", s->store.dir, dirs[i]);
        ovl_clean_links(s);
        *ret_state = TAKE_PTR(s);
        return 0;
}

static void ovl_fini(void *state)
{
        ovl_state_free(state);
}

/* True when some line of `text` has `word` as its last tab- or
 * space-separated field (the format of /proc/filesystems). */
static bool ovl_lines_end_with(const char *text, const char *word)
{
        size_t n = strlen(word);

        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);

                if (len >= n && memcmp(line + len - n, word, n) == 0 &&
                    (len == n || line[len - n - 1] == '\t' || line[len - n - 1] == ' '))
                        return true;
                line = end ? end + 1 : NULL;
        }
        return false;
}

/* The kernel mounts overlay when it is registered (/proc/filesystems) or
 * when it can load it on the first mount (built in, or a module listed in
 * the kernel's module directory). Returns 1 or 0 with *ret_why. */
static int ovl_kernel_support(char **ret_why)
{
        static const char *const lists[] = { "modules.builtin", "modules.dep" };
        _cleanup_error_ struct ocid_error *e = NULL;
        _cleanup_free_ char *fs = NULL;
        struct utsname u;

        if (ocid_read_file("/proc/filesystems", 1 << 20, &fs, NULL, &e) < 0) {
                *ret_why = xasprintf("cannot tell whether the kernel supports overlay: %s",
                                     ocid_error_message(&e));
                return 0;
        }
        if (ovl_lines_end_with(fs, "overlay"))
                return 1;
        if (uname(&u) == 0)
                for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                        _cleanup_free_ char *path = xasprintf("/lib/modules/%s/%s", u.release, lists[i]);
                        _cleanup_free_ char *text = NULL;

                        if (ocid_read_file(path, 64 << 20, &text, NULL, &e) < 0) {
                                ocid_error_clear(&e);
                                continue;
                        }
                        if (strstr(text, "/overlay.ko"))
                                return 1;
                }
        *ret_why = xstrdup("the kernel does not support overlay: it is not in /proc/filesystems "
                           "and no overlay kernel module is available");
        return 0;
}

static int ovl_status(void *state, char **ret_reason, char **ret_message, struct ocid_error **err)
{
        struct ovl_state *s = state;
        char *why = NULL;
        struct stat st;

        if (stat(s->store.dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                *ret_reason = xstrdup("StorageDirMissing");
                *ret_message = xasprintf("storage directory '%s' is missing", s->store.dir);
                return 0;
        }
        if (!ovl_kernel_support(&why)) {
                *ret_reason = xstrdup("OverlayUnsupported");
                *ret_message = why;
                return 0;
        }
        return 1;
}

static int ovl_info(void *state, char **ret_json, struct ocid_error **err)
{
        struct ovl_state *s = state;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *why = NULL;
        int supported = ovl_kernel_support(&why);

        json_object_object_add(o, "dir", json_object_new_string(s->store.dir));
        json_object_object_add(o, "kernel_support", json_object_new_boolean(supported));
        *ret_json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

/* ---- layers ------------------------------------------------------------------------ */

/* Makes l/<new name> -> ../layers/<id>/diff; the name in *ret. */
static int ovl_link_create(struct ovl_state *s, const char *id, char **ret, struct ocid_error **err)
{
        _cleanup_free_ char *target = xasprintf("../%s/%s/%s", SC_LAYERS, id, OVL_DIFF);

        for (int attempt = 0; attempt < 8; attempt++) {
                _cleanup_free_ char *rel = NULL;
                char rnd[65];
                int r;

                r = ocid_random_id(rnd, err);
                if (r < 0)
                        return r;
                rnd[OVL_LINK_LEN] = '\0';
                rel = xasprintf("%s/%s", OVL_LINKS, rnd);
                if (symlinkat(target, s->store.dfd, rel) == 0) {
                        *ret = xstrdup(rnd);
                        return 0;
                }
                if (errno != EEXIST)
                        return ocid_error_set(err, errno, "create '%s/%s'", s->store.dir, rel);
        }
        return ocid_error_msg(err, EEXIST, "no free link name in '%s/%s'", s->store.dir, OVL_LINKS);
}

static void ovl_link_remove(struct ovl_state *s, const char *link)
{
        _cleanup_free_ char *rel = NULL;

        if (!link || ocid_path_component_check(link, NULL) < 0)
                return;
        rel = xasprintf("%s/%s", OVL_LINKS, link);
        (void) unlinkat(s->store.dfd, rel, 0);
}

static int ovl_layer_create(void *state, const char *id, const char *parent, int tar_fd,
                            uint64_t *ret_size, struct ocid_error **err)
{
        struct ovl_state *s = state;
        _cleanup_free_ char *diff = NULL, *link = NULL;
        struct ocid_archive_stats stats;
        struct sc_txn t;
        int r;

        r = sc_layer_begin(&s->store, id, parent, &t, err);
        if (r < 0)
                return r;
        diff = ocid_path_join(t.tmp_path, OVL_DIFF);
        if (mkdirat(t.tmp_fd, OVL_DIFF, 0755) < 0)
                r = ocid_error_set(err, errno, "create '%s'", diff);
        if (r >= 0)
                r = ocid_archive_extract(tar_fd, diff, OCID_ARCHIVE_WHITEOUT_OVERLAY, &stats, err);
        if (r >= 0)
                r = sc_drain(tar_fd, err);
        /* The link dangles until the commit's rename; a crash in between
         * leaves a dangling link, which init removes. */
        if (r >= 0)
                r = ovl_link_create(s, id, &link, err);
        if (r < 0) {
                sc_abort(&s->store, &t);
                return r;
        }
        json_object_object_add(t.meta, "size", json_object_new_int64((int64_t) stats.bytes));
        json_object_object_add(t.meta, "link", json_object_new_string(link));
        r = sc_commit(&s->store, &t, err);
        if (r < 0) {
                ovl_link_remove(s, link);
                return r;
        }
        *ret_size = stats.bytes;
        return 0;
}

static int ovl_layer_remove(void *state, const char *id, struct ocid_error **err)
{
        struct ovl_state *s = state;
        _cleanup_json_ struct json_object *meta = NULL;
        int r;

        r = sc_layer_remove(&s->store, id, &meta, err);
        if (r < 0)
                return r;
        ovl_link_remove(s, ocid_json_get_string(meta, "link"));
        return 0;
}

static int ovl_layer_exists(void *state, const char *id)
{
        struct ovl_state *s = state;

        return sc_layer_exists(&s->store, id);
}

/* ---- root file systems ------------------------------------------------------------ */

static int ovl_rootfs_create(void *state, const char *id, const char *top, struct ocid_error **err)
{
        static const struct { const char *name; mode_t mode; } dirs[] = {
                { OVL_UPPER, 0755 }, { OVL_WORK, 0700 }, { OVL_MERGED, 0755 },
        };
        struct ovl_state *s = state;
        struct sc_txn t;
        int r = 0;

        r = sc_rootfs_begin(&s->store, id, top, &t, err);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(dirs); i++)
                if (mkdirat(t.tmp_fd, dirs[i].name, dirs[i].mode) < 0)
                        r = ocid_error_set(err, errno, "create '%s/%s'", t.tmp_path, dirs[i].name);
        if (r >= 0 && top) {
                /* The root of the merged tree takes its owner and mode
                 * from the upper dir: give it the top layer's. */
                _cleanup_free_ char *rel = xasprintf("%s/%s/%s", SC_LAYERS, top, OVL_DIFF);
                struct stat st;

                if (fstatat(s->store.dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = ocid_error_set(err, errno, "stat '%s/%s'", s->store.dir, rel);
                else if (fchownat(t.tmp_fd, OVL_UPPER, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
                         (geteuid() == 0 || errno != EPERM))
                        r = ocid_error_set(err, errno, "set the owner of '%s/%s'", t.tmp_path, OVL_UPPER);
                else if (fchmodat(t.tmp_fd, OVL_UPPER, st.st_mode & 07777, 0) < 0)
                        r = ocid_error_set(err, errno, "set the mode of '%s/%s'", t.tmp_path, OVL_UPPER);
        }
        if (r < 0) {
                sc_abort(&s->store, &t);
                return r;
        }
        return sc_commit(&s->store, &t, err);
}

/* 1 when rootfs/<id>/merged is a mount point, else 0. */
static int ovl_is_mounted(struct ovl_state *s, const char *id)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s", SC_ROOTFS, id);
        _cleanup_free_ char *merged = xasprintf("%s/%s", dir, OVL_MERGED);
        struct statx a, b;

        if (statx(s->store.dfd, merged, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &a) < 0 ||
            statx(s->store.dfd, dir, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &b) < 0)
                return 0;
        if ((a.stx_mask & STATX_MNT_ID) && (b.stx_mask & STATX_MNT_ID))
                return a.stx_mnt_id != b.stx_mnt_id;
        if (a.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
                return (a.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
        return a.stx_dev_major != b.stx_dev_major || a.stx_dev_minor != b.stx_dev_minor;
}

/* The lowerdir option's value for a rootfs on `top`: the chain's links,
 * top first, relative to the store directory. Missing links are made
 * again. */
static int ovl_lowerdir(struct ovl_state *s, const char *top, char **ret, struct ocid_error **err)
{
        _cleanup_free_ char *out = NULL;
        _cleanup_free_ char *cur = xstrdup(top);
        size_t len = 0, n = 0;

        if (!top) {
                *ret = xstrdup(OVL_EMPTY);
                return 0;
        }
        while (cur) {
                _cleanup_json_ struct json_object *meta = NULL;
                _cleanup_free_ char *rel = NULL, *target = NULL;
                const char *link, *parent;
                struct stat st;
                int r;

                if (++n > OVL_MAX_LAYERS)
                        return ocid_error_msg(err, ELOOP, "layer '%s': the chain is longer than %d layers", top,
                                              OVL_MAX_LAYERS);
                r = sc_layer_meta(&s->store, cur, &meta, err);
                if (r < 0)
                        return r;
                link = ocid_json_get_string(meta, "link");
                if (!link || strlen(link) != OVL_LINK_LEN || ocid_path_component_check(link, NULL) < 0)
                        return ocid_error_msg(err, EBADMSG, "layer '%s': metadata without a valid link", cur);
                rel = xasprintf("%s/%s", OVL_LINKS, link);
                if (fstatat(s->store.dfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT)
                                return ocid_error_set(err, errno, "stat '%s/%s'", s->store.dir, rel);
                        target = xasprintf("../%s/%s/%s", SC_LAYERS, cur, OVL_DIFF);
                        if (symlinkat(target, s->store.dfd, rel) < 0 && errno != EEXIST)
                                return ocid_error_set(err, errno, "create '%s/%s'", s->store.dir, rel);
                }
                out = xrealloc(out, len + strlen(rel) + 2);
                if (len)
                        out[len++] = ':';
                memcpy(out + len, rel, strlen(rel) + 1);
                len += strlen(rel);
                parent = ocid_json_get_string(meta, "parent");
                free(cur);
                cur = xstrdup(parent);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

struct ovl_mount_job {
        int dfd;
        const char *target;
        const char *data;
        int error;
};

/* Runs on a thread of its own: unsharing the file system attributes gives
 * it a working directory of its own, the store directory, so that the
 * mount options name the layers by short relative paths (the kernel takes
 * at most one page of options). The other threads' directory is untouched. */
static void *ovl_mount_thread(void *arg)
{
        struct ovl_mount_job *job = arg;

        job->error = 0;
        if (unshare(CLONE_FS) < 0 || fchdir(job->dfd) < 0 ||
            mount("overlay", job->target, "overlay", 0, job->data) < 0)
                job->error = errno;
        return NULL;
}

static int ovl_rootfs_mount(void *state, const char *id, char **ret_path, struct ocid_error **err)
{
        struct ovl_state *s = state;
        _cleanup_json_ struct json_object *meta = NULL;
        _cleanup_free_ char *path = NULL, *lower = NULL, *data = NULL, *target = NULL;
        struct ovl_mount_job job;
        long page = sysconf(_SC_PAGESIZE);
        pthread_t thread;
        int r;

        r = sc_rootfs_meta(&s->store, id, &meta, err);
        if (r < 0)
                return r;
        path = xasprintf("%s/%s/%s/%s", s->store.dir, SC_ROOTFS, id, OVL_MERGED);
        if (ovl_is_mounted(s, id)) {
                *ret_path = TAKE_PTR(path);
                return 0;
        }
        r = ovl_lowerdir(s, ocid_json_get_string(meta, "top"), &lower, err);
        if (r < 0)
                return r;
        /* index=off: a layer may be a lower dir of many mounts at once, and
         * the inode index would tie it to the first upper dir. Older
         * kernels without the option have no index either. */
        data = xasprintf("lowerdir=%s,upperdir=%s/%s/%s,workdir=%s/%s/%s%s", lower, SC_ROOTFS, id, OVL_UPPER,
                         SC_ROOTFS, id, OVL_WORK,
                         access("/sys/module/overlay/parameters/index", F_OK) == 0 ? ",index=off" : "");
        if (strlen(data) >= (size_t) (page > 0 ? page : 4096))
                return ocid_error_msg(err, E2BIG, "rootfs '%s': the layer chain is too long for one overlay mount "
                                      "(%zu bytes of mount options)", id, strlen(data));
        target = xasprintf("%s/%s/%s", SC_ROOTFS, id, OVL_MERGED);
        job = (struct ovl_mount_job) { .dfd = s->store.dfd, .target = target, .data = data, .error = 0 };
        r = pthread_create(&thread, NULL, ovl_mount_thread, &job);
        if (r != 0)
                return ocid_error_set(err, r, "start a thread to mount '%s'", path);
        (void) pthread_join(thread, NULL);
        if (job.error)
                return ocid_error_set(err, job.error, "mount overlay on '%s'", path);
        ocid_log(OCID_LOG_DEBUG, "mounted '%s' (%s)", path, data);
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* Unmounts merged until it is no mount point: normally, then lazily when
 * the mount is busy (the container's processes are gone, but something
 * still holds it). */
static int ovl_unmount(struct ovl_state *s, const char *id, struct ocid_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/%s/%s/%s", s->store.dir, SC_ROOTFS, id, OVL_MERGED);

        for (int i = 0; i < 16 && ovl_is_mounted(s, id); i++) {
                if (umount2(path, UMOUNT_NOFOLLOW) == 0)
                        continue;
                if (errno == EINVAL)
                        return 0;
                if (errno != EBUSY)
                        return ocid_error_set(err, errno, "unmount '%s'", path);
                ocid_log(OCID_LOG_DEBUG, "'%s' is busy, detaching it", path);
                if (umount2(path, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
                        return ocid_error_set(err, errno, "unmount '%s'", path);
        }
        if (ovl_is_mounted(s, id))
                return ocid_error_msg(err, EBUSY, "unmount '%s': still mounted", path);
        return 0;
}

static int ovl_rootfs_unmount(void *state, const char *id, struct ocid_error **err)
{
        struct ovl_state *s = state;
        int r;

        r = sc_rootfs_id_check(id, err);
        if (r < 0)
                return r;
        if (!sc_rootfs_exists(&s->store, id))
                return ocid_error_msg(err, ENOENT, "rootfs '%s' does not exist", id);
        return ovl_unmount(s, id, err);
}

static int ovl_rootfs_remove(void *state, const char *id, struct ocid_error **err)
{
        struct ovl_state *s = state;
        int r;

        r = sc_rootfs_id_check(id, err);
        if (r < 0)
                return r;
        if (!sc_rootfs_exists(&s->store, id))
                return ocid_error_msg(err, ENOENT, "rootfs '%s' does not exist", id);
        r = ovl_unmount(s, id, err);
        if (r < 0)
                return r;
        return sc_rootfs_remove(&s->store, id, err);
}

static int ovl_usage(void *state, struct ocid_storage_usage *ret, struct ocid_error **err)
{
        struct ovl_state *s = state;

        return sc_usage(&s->store, ret, err);
}

static int ovl_rootfs_usage(void *state, const char *id, struct ocid_storage_usage *ret,
                            struct ocid_error **err)
{
        struct ovl_state *s = state;

        return sc_rootfs_usage(&s->store, id, OVL_UPPER, ret, err);
}

static const struct ocid_storage_ops ovl_ops = {
        .base = {
                .init = ovl_init,
                .fini = ovl_fini,
                .check = ovl_check,
                .status = ovl_status,
                .info = ovl_info,
        },
        .layer_create = ovl_layer_create,
        .layer_remove = ovl_layer_remove,
        .layer_exists = ovl_layer_exists,
        .rootfs_create = ovl_rootfs_create,
        .rootfs_mount = ovl_rootfs_mount,
        .rootfs_unmount = ovl_rootfs_unmount,
        .rootfs_remove = ovl_rootfs_remove,
        .usage = ovl_usage,
        .rootfs_usage = ovl_rootfs_usage,
};

OCID_MODULE_DEFINE(storage_overlay, "storage-overlay", OCID_MODULE_KIND_STORAGE, &ovl_ops);
